//! The CPU engine: exact pair sums with rayon and integer loops the compiler vectorises.
//!
//! Both directions reduce to one primitive, the sum of squared differences between two equal
//! slices ([`Pixel::sq_diff_sum`], in `kernels`): a row against itself shifted by k
//! (horizontal), or a row against the row k below (vertical). Frames whose values all fit a byte
//! (8-bit exports) are summed as bytes, twice as many per vector as 16-bit values. The loops are
//! compiled once per [`Tier`] — AVX-512BW, AVX2, portable — and run on the one the engine was
//! given. Large frames are cut into row blocks summed in parallel; the [`reference`] loop is
//! the plain definition every tier is tested against.

mod kernels;
mod reference;
mod tier;

pub use kernels::Pixel;
pub use reference::reference;
pub use tier::{Tier, TIER_VARIABLE};

use std::ops::Range;

use rayon::prelude::*;

use super::{Engine, LagSum, Variogram};
use crate::decode::Frame;
use crate::error::FileResult;
use crate::region::{Inside, Patch};
use tier::Level;

/// Pixels per parallel block: below this a frame is summed on the calling thread, since a rayon
/// task would cost more than it saves.
const BLOCK_PIXELS: usize = 1 << 18;

/// The CPU pair-summing engine.
#[derive(Debug, Clone)]
pub struct CpuEngine {
    tier: Tier,
    /// Why the CPU was chosen when a GPU was not ruled out, for the summary line.
    reason: Option<String>,
}

impl Default for CpuEngine {
    /// On the best tier this CPU runs.
    fn default() -> Self {
        CpuEngine::on(Tier::best())
    }
}

impl CpuEngine {
    /// The engine on `tier`.
    pub fn on(tier: Tier) -> Self {
        CpuEngine { tier, reason: None }
    }

    /// The engine standing in for a GPU, for `reason`.
    pub fn because(self, reason: &str) -> Self {
        CpuEngine {
            reason: Some(reason.to_string()),
            ..self
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

    fn variograms(
        &self,
        frame: &Frame,
        patches: &[Patch],
        max_lag: usize,
    ) -> FileResult<Vec<Variogram>> {
        Ok(patches
            .iter()
            .map(|p| sums_on(self.tier, frame, p, max_lag))
            .collect())
    }
}

/// Pair sums over every pixel of the frame, on the best tier.
pub fn whole_frame(frame: &Frame, max_lag: usize) -> Variogram {
    sums(frame, &Patch::whole(frame), max_lag)
}

/// Pair sums over the pairs of a frame's patch whose two pixels are both inside, on the best
/// tier.
pub fn sums(frame: &Frame, patch: &Patch, max_lag: usize) -> Variogram {
    sums_on(Tier::best(), frame, patch, max_lag)
}

/// As [`sums`], on `tier`.
pub fn sums_on(tier: Tier, frame: &Frame, patch: &Patch, max_lag: usize) -> Variogram {
    let shape = Shape {
        rows: patch.rows,
        cols: patch.cols,
        max_lag,
    };
    let inside = patch.inside.as_ref().map(Inside::as_bytes);
    let pixels = patch.pixels(frame);
    match narrow(&pixels) {
        Some(bytes) => parallel_sums(tier, &bytes, inside, shape),
        None => parallel_sums(tier, &pixels, inside, shape),
    }
}

/// The pixels as bytes when every value fits one. Both passes are branch-free so they vectorise;
/// an early-exit test would not, and would cost a third of an 8-bit frame's time.
fn narrow(pixels: &[u16]) -> Option<Vec<u8>> {
    let max = pixels.iter().fold(0, |m, &p| m.max(p));
    (max <= u16::from(u8::MAX)).then(|| pixels.iter().map(|&p| p as u8).collect())
}

/// A frame's size and the lags summed.
#[derive(Debug, Clone, Copy)]
struct Shape {
    rows: usize,
    cols: usize,
    max_lag: usize,
}

fn parallel_sums<P: Pixel>(
    tier: Tier,
    pixels: &[P],
    inside: Option<&[u8]>,
    shape: Shape,
) -> Variogram {
    let block_rows = (BLOCK_PIXELS / shape.cols.max(1)).max(1);
    let blocks = shape.rows.div_ceil(block_rows);
    if blocks <= 1 {
        return block_sums(tier, pixels, inside, shape, 0..shape.rows);
    }
    (0..blocks)
        .into_par_iter()
        .map(|b| {
            let end = ((b + 1) * block_rows).min(shape.rows);
            block_sums(tier, pixels, inside, shape, b * block_rows..end)
        })
        .reduce(
            || Variogram::zeros(shape.max_lag),
            |mut total, part| {
                total.add(&part);
                total
            },
        )
}

/// Sums of the pairs whose first pixel lies in `rows`, with `tier`'s instructions.
fn block_sums<P: Pixel>(
    tier: Tier,
    pixels: &[P],
    inside: Option<&[u8]>,
    shape: Shape,
    rows: Range<usize>,
) -> Variogram {
    match tier.level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a Tier exists only for a level this CPU runs (Tier::available).
        Level::Avx512Bw => unsafe { block_sums_avx512(pixels, inside, shape, rows) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { block_sums_avx2(pixels, inside, shape, rows) },
        _ => block_sums_portable(pixels, inside, shape, rows),
    }
}

/// The row loops compiled for one instruction set: the portable body inlined into a function
/// with that target feature, so the compiler vectorises it for those registers.
macro_rules! compiled_for {
    ($name:ident, $feature:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        unsafe fn $name<P: Pixel>(
            pixels: &[P],
            inside: Option<&[u8]>,
            shape: Shape,
            rows: Range<usize>,
        ) -> Variogram {
            block_sums_portable(pixels, inside, shape, rows)
        }
    };
}

compiled_for!(block_sums_avx512, "avx512bw");
compiled_for!(block_sums_avx2, "avx2");

/// The row loops, inlined into each instruction-set variant above so each is compiled for it.
#[inline(always)]
fn block_sums_portable<P: Pixel>(
    pixels: &[P],
    inside: Option<&[u8]>,
    shape: Shape,
    rows: Range<usize>,
) -> Variogram {
    let Shape {
        rows: height,
        cols,
        max_lag,
    } = shape;
    let span = |r: usize| r * cols..(r + 1) * cols;
    let mut vg = Variogram::zeros(max_lag);
    for r in rows {
        let row = span(r);
        for k in 1..=max_lag.min(cols.saturating_sub(1)) {
            let (a, b) = (row.start..row.end - k, row.start + k..row.end);
            vg.horizontal[k - 1] += pair_sum(pixels, inside, a, b);
        }
        for k in 1..=max_lag.min(height - 1 - r) {
            vg.vertical[k - 1] += pair_sum(pixels, inside, row.clone(), span(r + k));
        }
    }
    vg
}

/// Σ over the pairs (pixels[a][i], pixels[b][i]): all of them, or those whose two pixels are
/// inside. A function rather than a closure so that `inline(always)` puts it, and the loops it
/// calls, inside each instruction-set variant.
#[inline(always)]
fn pair_sum<P: Pixel>(
    pixels: &[P],
    inside: Option<&[u8]>,
    a: Range<usize>,
    b: Range<usize>,
) -> LagSum {
    match inside {
        None => LagSum {
            pairs: a.len() as u64,
            sum_sq: P::sq_diff_sum(&pixels[a], &pixels[b]),
        },
        Some(m) => P::masked_sum(&pixels[a.clone()], &pixels[b.clone()], &m[a], &m[b]),
    }
}

#[cfg(test)]
mod tests {
    use super::kernels::CHUNK;
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
        assert_eq!(vg, reference(&f, &Patch::whole(&f), 4));
        assert_eq!(vg.vertical[0].pairs, 0);
        assert_eq!(vg.horizontal[2].pairs, 0);
    }

    #[test]
    fn long_rows_of_extremes_cross_the_chunk_boundary_exactly() {
        let n = 3 * CHUNK + 17;
        let wide: Vec<u16> = (0..n)
            .map(|i| if i % 7 == 0 { 3 } else { u16::MAX })
            .collect();
        let narrow: Vec<u8> = (0..n)
            .map(|i| if i % 5 == 0 { 1 } else { u8::MAX })
            .collect();
        let exact = |a: &[i64], b: &[i64]| -> u64 {
            a.iter()
                .zip(b)
                .map(|(x, y)| ((x - y) * (x - y)) as u64)
                .sum()
        };
        let widen16 = |v: &[u16]| v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>();
        let widen8 = |v: &[u8]| v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>();
        let zeros16 = vec![0u16; n];
        let zeros8 = vec![0u8; n];
        assert_eq!(
            u16::sq_diff_sum(&wide, &zeros16),
            exact(&widen16(&wide), &widen16(&zeros16))
        );
        assert_eq!(
            u8::sq_diff_sum(&narrow, &zeros8),
            exact(&widen8(&narrow), &widen8(&zeros8))
        );
        assert!(u16::sq_diff_sum(&wide, &zeros16) > u64::from(u32::MAX));
        // The byte path's own masked loop against the 16-bit one, past a u32 in total.
        let mask: Vec<u8> = (0..n).map(|i| u8::from(i % 11 != 4)).collect();
        let ones = vec![1u8; n];
        let narrow16: Vec<u16> = narrow.iter().map(|&x| u16::from(x)).collect();
        let bytes = u8::masked_sum(&narrow, &zeros8, &mask, &ones);
        assert_eq!(bytes, u16::masked_sum(&narrow16, &zeros16, &mask, &ones));
        assert!(bytes.sum_sq > u64::from(u32::MAX));
        assert_eq!(bytes.pairs, mask.iter().map(|&m| u64::from(m)).sum::<u64>());
    }

    #[test]
    fn every_tier_this_cpu_runs_equals_the_portable_build() {
        let f = frame(61, 333, |r, c| ((r * 7919 + c * 104729) % 65521) as u16);
        let shape = Shape {
            rows: 61,
            cols: 333,
            max_lag: 20,
        };
        let bytes: Vec<u8> = f.pixels.iter().map(|&p| p as u8).collect();
        let mask: Vec<u8> = (0..f.pixels.len()).map(|i| u8::from(i % 7 != 3)).collect();
        for tier in Tier::available() {
            for inside in [None, Some(&mask[..])] {
                assert_eq!(
                    block_sums(tier, &f.pixels, inside, shape, 0..61),
                    block_sums_portable(&f.pixels, inside, shape, 0..61),
                    "{tier}"
                );
                assert_eq!(
                    block_sums(tier, &bytes, inside, shape, 0..61),
                    block_sums_portable(&bytes, inside, shape, 0..61),
                    "{tier}"
                );
            }
        }
    }

    #[test]
    fn masked_sums_count_only_pairs_with_both_pixels_inside() {
        // Worst-case values so a lost carry shows; a mask that cuts pairs in both directions.
        let f = frame(40, 70, |r, c| if (r + c) % 2 == 0 { 0 } else { 65535 });
        let inside = (0..40 * 70).map(|i| u8::from((i * 31) % 11 > 2)).collect();
        let patch = Patch {
            inside: Some(Inside::from_nonzero(inside)),
            ..Patch::whole(&f)
        };
        let vg = sums(&f, &patch, 9);
        assert_eq!(vg, reference(&f, &patch, 9));
        assert!(vg.horizontal[0].pairs < 40 * 69, "the mask removed pairs");
        let all = Patch {
            inside: Some(Inside::all(40 * 70)),
            ..Patch::whole(&f)
        };
        assert_eq!(
            sums(&f, &all, 9),
            whole_frame(&f, 9),
            "an all-inside mask changes nothing"
        );
    }

    #[test]
    fn row_blocks_in_parallel_match_the_reference() {
        // Tall enough to be split into several blocks, with block edges inside the lag window.
        let cols = 37;
        let rows = BLOCK_PIXELS / cols * 3 + 5;
        let f = frame(rows, cols, |r, c| ((r * 7919 + c * 104729) % 65521) as u16);
        assert_eq!(whole_frame(&f, 5), reference(&f, &Patch::whole(&f), 5));
    }
}
