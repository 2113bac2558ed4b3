//! The definition of the sums, written as plainly as possible, that the fast kernels are tested
//! against on every tier.

use crate::decode::Frame;
use crate::engine::Variogram;
use crate::region::Patch;

/// The definition, written as plainly as possible: every pixel, every lag, both directions.
pub fn reference(frame: &Frame, patch: &Patch, max_lag: usize) -> Variogram {
    let mut vg = Variogram::zeros(max_lag);
    let at =
        |r: usize, c: usize| i64::from(frame.pixels[(patch.top + r) * frame.cols + patch.left + c]);
    let pixels = patch.pixels(frame);
    let mask = patch.kept.mask(&pixels[..]);
    let inside = |r: usize, c: usize| {
        mask.as_ref()
            .is_none_or(|m| m.as_bytes()[r * patch.cols + c] != 0)
    };
    for r in 0..patch.rows {
        for c in 0..patch.cols {
            for k in 1..=max_lag {
                if c + k < patch.cols && inside(r, c) && inside(r, c + k) {
                    let d = at(r, c) - at(r, c + k);
                    vg.horizontal[k - 1].pairs += 1;
                    vg.horizontal[k - 1].sum_sq += (d * d) as u64;
                }
                if r + k < patch.rows && inside(r, c) && inside(r + k, c) {
                    let d = at(r, c) - at(r + k, c);
                    vg.vertical[k - 1].pairs += 1;
                    vg.vertical[k - 1].sum_sq += (d * d) as u64;
                }
            }
        }
    }
    vg
}
