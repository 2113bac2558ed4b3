//! How many times each stored value occurs: the percentiles that the QC sheet's display window
//! and the locator's grading are read from, found by rank rather than by sorting.

/// Counts of each of the 2^16 stored values.
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    /// Counts `values`.
    pub fn of(values: impl IntoIterator<Item = u16>) -> Histogram {
        let mut counts = vec![0u64; 1 << 16];
        let mut total = 0;
        for v in values {
            counts[usize::from(v)] += 1;
            total += 1;
        }
        Histogram { counts, total }
    }

    /// Leaves every occurrence of `value` out.
    pub fn without(mut self, value: u16) -> Histogram {
        let slot = &mut self.counts[usize::from(value)];
        self.total -= *slot;
        *slot = 0;
        self
    }

    /// Values counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value at `rank` (0-based) in sorted order; 0 when there are not that many.
    pub fn at_rank(&self, rank: u64) -> u16 {
        let mut seen = 0;
        self.counts
            .iter()
            .position(|&c| {
                seen += c;
                seen > rank
            })
            .unwrap_or(0) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_count_repeats_and_skip_what_is_left_out() {
        let h = Histogram::of([5, 1, 5, 9, 0]);
        assert_eq!(h.total(), 5);
        assert_eq!(
            (0..5).map(|r| h.at_rank(r)).collect::<Vec<_>>(),
            [0, 1, 5, 5, 9]
        );
        let h = h.without(5);
        assert_eq!((h.total(), h.at_rank(2)), (3, 9));
        assert_eq!(h.at_rank(3), 0);
    }
}
