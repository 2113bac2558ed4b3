//! The CPU engine's sums against hand-worked cases and the plain reference, on every tier.

use super::kernels::{OnLevel, Pixel, Runs, CHUNK};
use super::*;
use crate::engine::LagSum;
use crate::region::{self, Inside};

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
    // Values up to 16 bits, spread below 2^15 (the 16-bit kernel's narrow case) from 0 and
    // from 30000, and at 12 bits.
    for (modulus, base) in [(65521, 0), (32749, 0), (32749, 30000), (4093, 0)] {
        let f = frame(61, 333, |r, c| {
            ((r * 7919 + c * 104729) % modulus + base) as u16
        });
        let (lo, hi) = region::extremes(&f);
        let shape = Shape {
            rows: 61,
            cols: 333,
            max_lag: 20,
            spread: hi - lo,
        };
        let bytes: Vec<u8> = f.pixels.iter().map(|&p| p as u8).collect();
        let mask: Vec<u8> = (0..f.pixels.len()).map(|i| u8::from(i % 7 != 3)).collect();
        for tier in Tier::available() {
            for marks in [Marks::All, Marks::Mask(&mask), Marks::NotLeftOut] {
                assert_eq!(
                    block_sums(tier, &f.pixels, marks, shape, 0..61),
                    block_sums_portable(Level::Portable, &f.pixels, marks, shape, 0..61),
                    "{tier}, values below {modulus}, {marks:?}"
                );
                let shape = Shape {
                    spread: 255,
                    ..shape
                };
                assert_eq!(
                    block_sums(tier, &bytes, marks, shape, 0..61),
                    block_sums_portable(Level::Portable, &bytes, marks, shape, 0..61),
                    "{tier}, {marks:?}"
                );
            }
        }
    }
}

#[test]
fn masked_sums_count_only_pairs_with_both_pixels_inside() {
    // Worst-case values so a lost carry shows; a mask that cuts pairs in both directions.
    let f = frame(40, 70, |r, c| if (r + c) % 2 == 0 { 0 } else { 65535 });
    let inside = (0..40 * 70).map(|i| u8::from((i * 31) % 11 > 2)).collect();
    let patch = Patch {
        kept: Kept::Marked(Inside::from_nonzero(inside)),
        ..Patch::whole(&f)
    };
    let vg = sums(&f, &patch, 9);
    assert_eq!(vg, reference(&f, &patch, 9));
    assert!(vg.horizontal[0].pairs < 40 * 69, "the mask removed pairs");
    let all = Patch {
        kept: Kept::Marked(Inside::all(40 * 70)),
        ..Patch::whole(&f)
    };
    assert_eq!(
        sums(&f, &all, 9),
        whole_frame(&f, 9),
        "an all-inside mask changes nothing"
    );
}

#[test]
fn the_inside_columns_of_a_band_span_every_rows_first_to_last_inside_pixel() {
    let cols = 21;
    let mut mask = vec![0u8; 4 * cols];
    assert_eq!(inside_columns(&mask, 0, cols, 0..4), 0..0, "nothing inside");
    mask[cols + 17] = 1; // row 1
    assert_eq!(inside_columns(&mask, 0, cols, 0..4), 17..18);
    mask[3 * cols + 2] = 1; // row 3
    mask[3 * cols + 9] = 1;
    assert_eq!(inside_columns(&mask, 0, cols, 0..4), 2..18);
    assert_eq!(
        inside_columns(&mask, 0, cols, 2..4),
        2..10,
        "only the rows asked for"
    );
    mask[20] = 1; // row 0, the last column
    mask[0] = 1;
    assert_eq!(inside_columns(&mask, 0, cols, 0..4), 0..21);
    // Pixels whose left-out values were moved to 255: the columns holding any other value.
    let mut pixels = vec![u8::LEFT_OUT; 2 * cols];
    pixels[cols + 4] = 0;
    pixels[9] = 17;
    assert_eq!(inside_columns(&pixels, u8::LEFT_OUT, cols, 0..2), 4..10);
    for n in 0..40 {
        for at in 0..n {
            let mut bytes = vec![0u8; n];
            bytes[at] = 1;
            assert_eq!(
                (first_set(&bytes, 0), last_set(&bytes, 0)),
                (Some(at), Some(at))
            );
            bytes[n - 1] = 1;
            bytes[0] = 1;
            assert_eq!(
                (first_set(&bytes, 0), last_set(&bytes, 0)),
                (Some(0), Some(n - 1))
            );
        }
        assert_eq!(
            (first_set(&vec![0; n], 0), last_set(&vec![0; n], 0)),
            (None, None)
        );
    }
}

#[test]
fn row_blocks_in_parallel_match_the_reference() {
    // Tall enough to be split into several blocks, with block edges inside the lag window.
    let cols = 37;
    let rows = BLOCK_PIXELS / cols * 3 + 5;
    let f = frame(rows, cols, |r, c| ((r * 7919 + c * 104729) % 65521) as u16);
    assert_eq!(whole_frame(&f, 5), reference(&f, &Patch::whole(&f), 5));
}

#[test]
fn every_tier_equals_the_reference_on_random_frames_masks_and_extremes() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
    for case in 0..96 {
        // Odd sizes either side of a vector's width, lags past the frame.
        let (rows, cols) = (rng.random_range(1..40), rng.random_range(1..150));
        let max_lag = rng.random_range(1..cols.max(rows) + 6);
        // Bytes, 16 bits, and spreads the 16-bit kernel takes whole (below 2^15), from 0 and
        // from an offset; heavy in the extremes, as display and raw exports are.
        let pixels = match case % 6 {
            // An image's texture over the whole 16-bit range: differences mostly below the
            // wide kernel's 2^14, some far above.
            5 => smooth_wide(&mut rng, rows * cols),
            kind => {
                let (base, top) =
                    [(0, 255), (0, 65535), (0, 4095), (0, 32767), (30000, 62767)][kind];
                (0..rows * cols)
                    .map(|_| match rng.random_range(0..4) {
                        0 => base,
                        1 => top,
                        _ => rng.random_range(base..=top),
                    })
                    .collect()
            }
        };
        let f = Frame::new(rows, cols, pixels).unwrap();
        let density = rng.random_range(0.0..1.0);
        let inside = (0..rows * cols)
            .map(|_| u8::from(rng.random_bool(density)))
            .collect();
        let masked = Patch {
            kept: Kept::Marked(Inside::from_nonzero(inside)),
            ..Patch::whole(&f)
        };
        // The frame's extremes left out, and two values of which one may be past the pixels'
        // width (a byte frame's 300): no pixel holds it.
        let (lo, hi) = region::extremes(&f);
        let extremes = Patch::cut(&f, &crate::region::Shape::WholeFrame, Some((lo, hi)));
        let values = Patch {
            kept: Kept::Except(
                rng.random_range(lo..=hi),
                rng.random_range(lo..=hi)
                    .saturating_add(rng.random_range(0..50)),
            ),
            ..Patch::whole(&f)
        };
        // A blob with holes, as a body in its background or a polygon in its box: rows whose
        // inside columns differ, rows with none, a lag's partner outside the columns.
        let (cy, cx) = (
            rng.random_range(0.0..rows as f64),
            rng.random_range(0.0..cols as f64),
        );
        let (ry, rx) = (
            rng.random_range(0.5..rows as f64),
            rng.random_range(0.5..cols as f64),
        );
        let blob = (0..rows * cols)
            .map(|i| {
                let (y, x) = (((i / cols) as f64 - cy) / ry, ((i % cols) as f64 - cx) / rx);
                u8::from(y * y + x * x < 1.0 && rng.random_bool(0.9))
            })
            .collect();
        let blob = Patch {
            kept: Kept::Marked(Inside::from_nonzero(blob)),
            ..Patch::whole(&f)
        };
        for patch in [Patch::whole(&f), masked, extremes.unwrap(), values, blob] {
            let expect = reference(&f, &patch, max_lag);
            for tier in Tier::available() {
                let got = sums_on(tier, &f, &patch, max_lag);
                assert_eq!(
                    got, expect,
                    "case {case} ({rows}×{cols}, lag {max_lag}) on {tier}"
                );
            }
        }
    }
}

/// `n` values that wander over the whole 16-bit range in steps of up to 2000, with a jump
/// anywhere one time in 64: a wide frame whose differences are mostly small.
fn smooth_wide(rng: &mut impl rand::Rng, n: usize) -> Vec<u16> {
    let mut v: i32 = rng.random_range(0..=65535);
    (0..n)
        .map(|_| {
            v = match rng.random_range(0..64) {
                0 => rng.random_range(0..=65535),
                _ => (v + rng.random_range(-2000..=2000)).clamp(0, 65535),
            };
            v as u16
        })
        .collect()
}

#[test]
fn the_largest_squares_past_the_kernels_lane_spans_and_a_ragged_end_sum_exactly_on_every_tier() {
    // Bytes: at the largest difference (every pair of a 255 left out by value), either side of
    // a signed byte's range (127, 128), and 127 with 255 one 64-byte step in 37.
    for top in [255, 127, 128] {
        largest_squares_sum_exactly(255, |v| v as u8, |_| top);
    }
    largest_squares_sum_exactly(
        255,
        |v| v as u8,
        |i| match (i / 64) % 37 {
            0 => 255,
            _ => 127,
        },
    );
    // 16-bit values at the bounds of the 16-bit kernel's spans (15 bits widen every 2
    // vectors, 12 every 128) and past what it squares whole (16 bits).
    for top in [32767, 4095, 65535] {
        largest_squares_sum_exactly(top, |v| v, |_| top);
    }
    // A wide frame's: every vector at the largest difference it squares whole (8 vectors a
    // span), just past it (every vector split), and a split vector one in 37.
    largest_squares_sum_exactly(65535, |v| v, |_| (1 << 14) - 1);
    largest_squares_sum_exactly(65535, |v| v, |_| 1 << 14);
    largest_squares_sum_exactly(
        65535,
        |v| v,
        |i| match (i / 16) % 37 {
            0 => 65535,
            _ => (1 << 14) - 1,
        },
    );
}

/// Pairs whose differences are `difference(i)`, at most `spread`, so lanes fill as fast as
/// they can, over more vectors than any tier sums before widening (2^14 of 64 bytes) and an
/// end shorter than a vector.
fn largest_squares_sum_exactly<P: OnLevel>(
    spread: u16,
    width: impl Fn(u16) -> P,
    difference: impl Fn(usize) -> u16,
) {
    let n = 2 * 64 * (1 << 14) + 45;
    let a: Vec<u16> = (0..n)
        .map(|i| if i % 2 == 0 { difference(i) } else { 0 })
        .collect();
    let b: Vec<u16> = a
        .iter()
        .enumerate()
        .map(|(i, &x)| difference(i) - x)
        .collect();
    let mask: Vec<u8> = (0..n).map(|i| u8::from(i % 5 != 1)).collect();
    let ones = vec![1u8; n];
    let square = |i: usize| u64::from(difference(i)).pow(2);
    assert!((0..n).map(square).sum::<u64>() > u64::from(u32::MAX));
    // The first n values against the next n: as one run, and as runs of 999 (a row's ragged
    // end each) whose vectors together pass the span.
    let values = [a, b].concat();
    let pixels: Vec<P> = values.iter().map(|&v| width(v)).collect();
    // Values at the width's largest are left out under Marks::NotLeftOut.
    let left_out = |i: usize| values[i].max(values[i + n]) == P::LEFT_OUT.into() as u16;
    let inside = [mask, ones.clone()].concat();
    let every_inside = [ones.clone(), ones].concat();
    let one = Runs {
        a: 0,
        b: n,
        len: n,
        stride: 0,
        count: 1,
    };
    let rows = Runs {
        len: 999,
        stride: 1000,
        count: n / 1000,
        ..one
    };
    for runs in [one, rows] {
        let first = || (0..runs.count).flat_map(|t| runs.nth(t).0);
        let all: u64 = first().map(square).sum();
        let every = LagSum {
            pairs: first().count() as u64,
            sum_sq: all,
        };
        let marked = first().filter(|&i| inside[i] == 1);
        let expect = LagSum {
            pairs: marked.clone().count() as u64,
            sum_sq: marked.map(square).sum(),
        };
        let kept = first().filter(|&i| !left_out(i));
        let not_left_out = LagSum {
            pairs: kept.clone().count() as u64,
            sum_sq: kept.map(square).sum(),
        };
        for tier in Tier::available() {
            let level = tier.level();
            let sum = |marks| P::runs_sum_on(level, &pixels, marks, runs, spread);
            assert_eq!(sum(Marks::All), every, "{tier}, spread {spread}");
            assert_eq!(sum(Marks::Mask(&inside)), expect, "{tier}, spread {spread}");
            // Every pair marked, so every count lane fills as fast as it can.
            assert_eq!(
                sum(Marks::Mask(&every_inside)),
                every,
                "{tier}, spread {spread}, every pair inside"
            );
            assert_eq!(
                sum(Marks::NotLeftOut),
                not_left_out,
                "{tier}, spread {spread}, the largest value left out"
            );
        }
    }
}
