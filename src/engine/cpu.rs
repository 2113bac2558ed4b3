//! The CPU engine: exact pair sums with rayon and integer loops the compiler vectorises.
//!
//! Both directions reduce to one primitive, the sum of squared differences between two equal
//! slices ([`sq_diff_sum`]): a row against itself shifted by k (horizontal), or a row against the
//! row k below (vertical). Large frames are cut into row blocks summed in parallel; the
//! [`reference`] loop beside it is the plain definition that the fast path is tested against.

use std::ops::Range;

use rayon::prelude::*;

use super::{Engine, LagSum, Variogram};
use crate::decode::Frame;
use crate::error::Result;
use crate::region::Region;

/// Pixels per parallel block: below this a frame is summed on the calling thread, since a rayon
/// task would cost more than it saves.
const BLOCK_PIXELS: usize = 1 << 18;

/// The CPU pair-summing engine.
#[derive(Debug, Default, Clone)]
pub struct CpuEngine {
    /// Why the CPU was chosen when a GPU was not ruled out, for the summary line.
    reason: Option<String>,
}

impl CpuEngine {
    /// The CPU engine standing in for a GPU, for `reason`.
    pub fn because(reason: &str) -> Self {
        CpuEngine {
            reason: Some(reason.to_string()),
        }
    }
}

impl Engine for CpuEngine {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn describe(&self) -> String {
        match &self.reason {
            Some(r) => format!("cpu ({r})"),
            None => "cpu".into(),
        }
    }

    fn variogram(&self, frame: &Frame, region: &Region, max_lag: usize) -> Result<Variogram> {
        match region {
            Region::WholeFrame => Ok(whole_frame(frame, max_lag)),
        }
    }
}

/// Pair sums over every pixel of the frame.
pub fn whole_frame(frame: &Frame, max_lag: usize) -> Variogram {
    let block_rows = (BLOCK_PIXELS / frame.cols.max(1)).max(1);
    let blocks = frame.rows.div_ceil(block_rows);
    if blocks <= 1 {
        return block_sums(frame, 0..frame.rows, max_lag);
    }
    (0..blocks)
        .into_par_iter()
        .map(|b| {
            let end = ((b + 1) * block_rows).min(frame.rows);
            block_sums(frame, b * block_rows..end, max_lag)
        })
        .reduce(
            || Variogram::zeros(max_lag),
            |mut total, part| {
                total.add(&part);
                total
            },
        )
}

/// Sums of the pairs whose first pixel (left or upper) lies in `rows`.
fn block_sums(frame: &Frame, rows: Range<usize>, max_lag: usize) -> Variogram {
    let cols = frame.cols;
    let row_at = |r: usize| &frame.pixels[r * cols..(r + 1) * cols];
    let mut vg = Variogram::zeros(max_lag);
    for r in rows {
        let row = row_at(r);
        for k in 1..=max_lag.min(cols.saturating_sub(1)) {
            vg.horizontal[k - 1] += LagSum {
                pairs: (cols - k) as u64,
                sum_sq: sq_diff_sum(&row[..cols - k], &row[k..]),
            };
        }
        for k in 1..=max_lag.min(frame.rows - 1 - r) {
            vg.vertical[k - 1] += LagSum {
                pairs: cols as u64,
                sum_sq: sq_diff_sum(row, row_at(r + k)),
            };
        }
    }
    vg
}

/// Σ (a[i] − b[i])² over two equal-length slices, exact.
///
/// A squared difference of two 16-bit values is below 2^32, so it is formed in `u32` and widened
/// once; the loop has no branches and vectorises.
#[inline]
pub fn sq_diff_sum(a: &[u16], b: &[u16]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = u32::from(x.abs_diff(y));
            u64::from(d * d)
        })
        .sum()
}

/// The definition, written as plainly as possible: every pixel, every lag, both directions.
pub fn reference(frame: &Frame, max_lag: usize) -> Variogram {
    let mut vg = Variogram::zeros(max_lag);
    let at = |r: usize, c: usize| i64::from(frame.pixels[r * frame.cols + c]);
    for r in 0..frame.rows {
        for c in 0..frame.cols {
            for k in 1..=max_lag {
                if c + k < frame.cols {
                    let d = at(r, c) - at(r, c + k);
                    vg.horizontal[k - 1].pairs += 1;
                    vg.horizontal[k - 1].sum_sq += (d * d) as u64;
                }
                if r + k < frame.rows {
                    let d = at(r, c) - at(r + k, c);
                    vg.vertical[k - 1].pairs += 1;
                    vg.vertical[k - 1].sum_sq += (d * d) as u64;
                }
            }
        }
    }
    vg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: usize, cols: usize, f: impl Fn(usize, usize) -> u16) -> Frame {
        let pixels = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
        Frame::new(rows, cols, pixels).unwrap()
    }

    #[test]
    fn a_horizontal_ramp_has_k_squared_differences_across_and_none_down() {
        let f = frame(3, 5, |_, c| c as u16);
        let vg = whole_frame(&f, 2);
        // Lag 1: 3 rows × 4 pairs, each (1)²; lag 2: 3 × 3 pairs, each (2)².
        assert_eq!(
            vg.horizontal[0],
            LagSum {
                pairs: 12,
                sum_sq: 12
            }
        );
        assert_eq!(
            vg.horizontal[1],
            LagSum {
                pairs: 9,
                sum_sq: 36
            }
        );
        assert_eq!(
            vg.vertical[0],
            LagSum {
                pairs: 10,
                sum_sq: 0
            }
        );
        assert_eq!(
            vg.vertical[1],
            LagSum {
                pairs: 5,
                sum_sq: 0
            }
        );
    }

    #[test]
    fn a_checkerboard_differs_at_odd_lags_only() {
        let f = frame(4, 4, |r, c| if (r + c) % 2 == 0 { 0 } else { 10 });
        let vg = whole_frame(&f, 3);
        assert_eq!(
            vg.horizontal[0],
            LagSum {
                pairs: 12,
                sum_sq: 1200
            }
        );
        assert_eq!(
            vg.horizontal[1],
            LagSum {
                pairs: 8,
                sum_sq: 0
            }
        );
        assert_eq!(
            vg.horizontal[2],
            LagSum {
                pairs: 4,
                sum_sq: 400
            }
        );
        assert_eq!(vg.vertical, vg.horizontal);
    }

    #[test]
    fn a_single_bright_pixel_is_counted_once_per_neighbour() {
        // 5 × 5 zeros with 100 at the centre: at lag 1 it has two horizontal and two vertical
        // neighbours; at lag 2 also two each; at lag 3 none (the frame is 5 wide).
        let f = frame(5, 5, |r, c| if (r, c) == (2, 2) { 100 } else { 0 });
        let vg = whole_frame(&f, 3);
        for k in 0..2 {
            assert_eq!(vg.horizontal[k].sum_sq, 2 * 100 * 100);
            assert_eq!(vg.vertical[k].sum_sq, 2 * 100 * 100);
        }
        assert_eq!(
            vg.horizontal[2],
            LagSum {
                pairs: 10,
                sum_sq: 0
            }
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let f = frame(2, 2, |r, c| if (r + c) % 2 == 0 { 0 } else { u16::MAX });
        let vg = whole_frame(&f, 1);
        let d2 = u64::from(u16::MAX) * u64::from(u16::MAX);
        assert_eq!(
            vg.horizontal[0],
            LagSum {
                pairs: 2,
                sum_sq: 2 * d2
            }
        );
    }

    #[test]
    fn lags_longer_than_the_frame_have_no_pairs() {
        let f = frame(1, 3, |_, c| c as u16);
        let vg = whole_frame(&f, 4);
        assert_eq!(vg, reference(&f, 4));
        assert_eq!(vg.vertical[0].pairs, 0);
        assert_eq!(vg.horizontal[2].pairs, 0);
    }

    #[test]
    fn row_blocks_in_parallel_match_the_reference() {
        // Tall enough to be split into several blocks, with block edges inside the lag window.
        let cols = 37;
        let rows = BLOCK_PIXELS / cols * 3 + 5;
        let f = frame(rows, cols, |r, c| ((r * 7919 + c * 104729) % 65521) as u16);
        assert_eq!(whole_frame(&f, 5), reference(&f, 5));
    }
}
