//! The CPU engine against the plain reference loop, and the score's invariances.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tbs_batch::decode::Frame;
use tbs_batch::engine::cpu::{self, reference, whole_frame, Tier};
use tbs_batch::fit::{fit, FitRange};
use tbs_batch::region::{Inside, Kept, Patch};

use crate::util::random_frame;

fn map(frame: &Frame, f: impl Fn(usize, usize) -> u16, rows: usize, cols: usize) -> Frame {
    let pixels = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
    Frame::new(rows, cols, pixels).unwrap_or_else(|_| frame.clone())
}

fn tbs(frame: &Frame) -> f64 {
    let range = FitRange::new(1, 4, 16).unwrap();
    fit(&whole_frame(frame, 16), range).unwrap().tbs
}

#[test]
fn every_cpu_tier_equals_the_reference_on_random_images_and_masks_of_odd_sizes() {
    let tiers = Tier::available();
    eprintln!("CPU tiers checked: {tiers:?}");
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    for tier in tiers {
        for (rows, cols) in [
            (1, 1),
            (1, 37),
            (37, 1),
            (3, 5),
            (17, 31),
            (64, 65),
            (129, 7),
            (5, 300),
        ] {
            for max in [1u16, 255, 4095, u16::MAX] {
                let f = random_frame(&mut rng, rows, cols, max);
                let mask: Vec<u8> = (0..rows * cols)
                    .map(|_| u8::from(rng.random_bool(0.8)))
                    .collect();
                let masked = Patch {
                    kept: Kept::Marked(Inside::from_nonzero(mask)),
                    ..Patch::whole(&f)
                };
                for patch in [Patch::whole(&f), masked] {
                    for max_lag in [1, 4, 16, 40] {
                        assert_eq!(
                            cpu::sums_on(tier, &f, &patch, max_lag),
                            reference(&f, &patch, max_lag),
                            "{tier}: {rows}×{cols}, max {max}, lags {max_lag}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn alternating_extremes_sum_exactly() {
    // 0 and 65535 alternating: every odd-lag horizontal pair is a full-range difference.
    let f = Frame::new(
        3,
        9,
        (0..27)
            .map(|i| if i % 2 == 0 { 0 } else { u16::MAX })
            .collect(),
    )
    .unwrap();
    assert_eq!(whole_frame(&f, 8), reference(&f, &Patch::whole(&f), 8));
    let d2 = 65535u64 * 65535;
    assert_eq!(whole_frame(&f, 1).horizontal[0].sum_sq, 3 * 8 * d2);
}

#[test]
fn affine_gray_level_maps_leave_the_slope_unchanged() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let f = random_frame(&mut rng, 40, 50, 1000);
    let base = tbs(&f);
    for (a, b) in [(1u16, 0u16), (3, 7), (60, 1000)] {
        let g = Frame::new(
            f.rows,
            f.cols,
            f.pixels.iter().map(|&v| v * a + b).collect(),
        )
        .unwrap();
        assert!((tbs(&g) - base).abs() < 1e-12, "a={a} b={b}");
    }
    // A negative map (inversion) is affine too.
    let inv = Frame::new(f.rows, f.cols, f.pixels.iter().map(|&v| 1000 - v).collect()).unwrap();
    assert!((tbs(&inv) - base).abs() < 1e-12);
}

#[test]
fn transposition_and_rotation_leave_the_slope_unchanged() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let f = random_frame(&mut rng, 33, 47, 4095);
    let at = |r: usize, c: usize| f.pixels[r * f.cols + c];
    let transposed = map(&f, |r, c| at(c, r), f.cols, f.rows);
    let rotated = map(&f, |r, c| at(f.rows - 1 - c, r), f.cols, f.rows);
    let base = whole_frame(&f, 16);
    for g in [&transposed, &rotated] {
        let vg = whole_frame(g, 16);
        // The directions swap; the pooled sums, and so the slope, do not change.
        assert_eq!(vg.horizontal, base.vertical);
        assert_eq!(vg.vertical, base.horizontal);
        assert_eq!(tbs(g), tbs(&f));
    }
}

/// Issue 14 (6d): a mask whose "inside" bytes are 255 rather than 1 (as a PNG mask read
/// straight would be) must mean the same as a 0/1 mask to every kernel.
#[test]
fn a_mask_of_255s_means_what_a_mask_of_1s_means() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let f = random_frame(&mut rng, 23, 41, u16::from(u8::MAX));
    let bits: Vec<bool> = (0..23 * 41).map(|i| (i * 37) % 5 != 0).collect();
    let mask = |inside: u8| Patch {
        kept: Kept::Marked(Inside::from_nonzero(
            bits.iter().map(|&b| inside * u8::from(b)).collect(),
        )),
        ..Patch::whole(&f)
    };
    let (ones, full) = (mask(1), mask(255));
    let expect = reference(&f, &ones, 6);
    assert_eq!(cpu::sums(&f, &full, 6), expect);
    assert_eq!(reference(&f, &full, 6), expect);
    assert!(
        expect.horizontal[0].pairs < 23 * 40,
        "the mask removed pairs"
    );
}
