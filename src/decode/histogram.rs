//! How many times each stored value occurs: the percentiles that the QC sheet's display window
//! and the locator's grading are read from, found by rank rather than by sorting.

/// Counts of stored values in a range, in bins of a power-of-two width (1 for an exact count).
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    /// The range's first value and log2 of a bin's width.
    low: u16,
    shift: u32,
}

impl Histogram {
    /// Counts `values` exactly, each of the 2^16 stored values in its own bin.
    pub fn of(values: impl IntoIterator<Item = u16>) -> Histogram {
        Histogram::within(values, 0, u16::MAX, 1 << 16)
    }

    /// Counts the `values` from `low` to `high` (the rest are left out) in at most `most_bins`
    /// bins: a rank then finds its value to within a bin's width, and a table sized to the
    /// range costs little to clear and to scan, where 2^16 bins would cost more than counting.
    pub fn within(
        values: impl IntoIterator<Item = u16>,
        low: u16,
        high: u16,
        most_bins: usize,
    ) -> Histogram {
        let span = (u32::from(high) + 1).saturating_sub(u32::from(low));
        let mut shift = 0;
        while span.div_ceil(1 << shift) as usize > most_bins.max(1) {
            shift += 1;
        }
        let mut counts = vec![0u64; span.div_ceil(1 << shift) as usize];
        let mut total = 0;
        for v in values {
            if (low..=high).contains(&v) {
                counts[usize::from(v - low) >> shift] += 1;
                total += 1;
            }
        }
        Histogram {
            counts,
            total,
            low,
            shift,
        }
    }

    /// Leaves every occurrence of `value`, and of the values sharing its bin, out.
    pub fn without(mut self, value: u16) -> Histogram {
        if let Some(slot) = value
            .checked_sub(self.low)
            .and_then(|v| self.counts.get_mut(usize::from(v) >> self.shift))
        {
            self.total -= *slot;
            *slot = 0;
        }
        self
    }

    /// Values counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value at `rank` (0-based) in sorted order, the lowest of its bin; 0 when there are
    /// not that many.
    pub fn at_rank(&self, rank: u64) -> u16 {
        let mut seen = 0;
        self.counts
            .iter()
            .position(|&c| {
                seen += c;
                seen > rank
            })
            .map_or(0, |bin| self.low + ((bin as u16) << self.shift))
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

    #[test]
    fn a_range_in_bins_counts_only_its_values_and_ranks_to_a_bins_width() {
        // 1000..=1999 in at most 100 bins: bins 16 wide (1000 / 8 would need 125).
        let h = Histogram::within(0..u16::MAX, 1000, 1999, 100);
        assert_eq!(h.total(), 1000);
        assert_eq!(h.at_rank(0), 1000);
        assert_eq!(h.at_rank(999), 1000 + 62 * 16);
        assert_eq!(h.at_rank(500), 1000 + 496);
        assert_eq!(h.at_rank(1000), 0);
        // Removing a value empties its whole bin; values outside the range change nothing.
        let h = h.without(1001).without(50);
        assert_eq!((h.total(), h.at_rank(0)), (984, 1016));
        // An empty range counts nothing.
        let none = Histogram::within([3, 4], 5, 4, 10);
        assert_eq!((none.total(), none.at_rank(0)), (0, 0));
    }
}
