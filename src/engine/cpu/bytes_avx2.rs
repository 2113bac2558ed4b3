//! The byte kernels in AVX2, for the AVX2 tier: what the compiler does not find by itself from
//! the portable loops. A byte difference is |a − b| = max − min; widened to 16 bits it is
//! squared and summed in pairs by one multiply-add (`vpmaddwd`). Which pairs count is told
//! three ways, each a loop of its own:
//!
//! - every pair;
//! - a mask's: the two pixels' 0/1 bytes are ANDed, a difference is kept or zeroed by that
//!   byte's sign (`vpsignb`: x where the byte is 1, 0 where it is 0), and the pairs are
//!   counted in byte lanes;
//! - all but those with a pixel holding 255, where a byte frame's left-out values were moved:
//!   such a pair's max is 255, so one compare of the max already taken finds it, the
//!   difference is cleared where it holds, and the pairs left out are counted in byte lanes.
//!   No mask is read: two streams, not four.
//!
//! Counts are added up (`vpsadbw`) every 128 vectors, before a lane can overflow. A lag over a
//! band of rows is one call; a run's ragged end is one more vector, ending where the run ends,
//! with the bytes already counted masked off. Exact: every sum is an integer in a lane that
//! cannot overflow.

use std::arch::x86_64::*;
use std::ops::Range;

use super::avx2::{load_256, marked, portable_sum, tail_256, walk, Vectors};
use super::kernels::{Counted, Pixel, Runs};
use crate::engine::LagSum;

/// Bytes per vector.
const LANES: usize = 32;

/// Vectors whose pairs are counted in u8 lanes before they are added up: each lane gains at
/// most 1 a vector, and 128 stay below 256. A power of two, so the test is one AND.
const COUNT_SPAN: usize = 1 << 7;

/// Vectors summed in u32 lanes before widening, a whole number of count spans: each lane gains
/// at most 2 × 2 × 255² = 260,100 a vector, and 16,384 of them stay below 2^32.
const SPAN: usize = 1 << 14;

/// The loops: every pair, a mask's, or all but those with a pixel holding 255.
const ALL: u8 = 0;
const MASKED: u8 = 1;
const NOT_LEFT_OUT: u8 = 2;

/// The pairs of `runs` — offsets into `a` and `b` — that `counted` counts (a mask holds 0 or
/// 1), and Σ (a[i] − b[i])² over them.
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn sum(a: &[u8], b: &[u8], counted: Counted, runs: Runs) -> LagSum {
    runs.assert_within(a, b, counted.masks());
    // SAFETY: AVX2, as the caller promises; the runs lie within every slice.
    unsafe {
        match counted {
            Counted::All => summed(Sums::<ALL>::new(a, b, None), runs),
            Counted::Masked(m, w) => summed(Sums::<MASKED>::new(a, b, Some((m, w))), runs),
            Counted::NotLeftOut => summed(Sums::<NOT_LEFT_OUT>::new(a, b, None), runs),
        }
    }
}

/// The body of [`sum`], inlined into it so it is compiled with AVX2.
///
/// # Safety
/// AVX2; the runs lie within every slice.
#[inline(always)]
unsafe fn summed<const MODE: u8>(mut sums: Sums<'_, MODE>, runs: Runs) -> LagSum {
    // SAFETY: as the caller promises.
    unsafe { walk(&mut sums, runs) };
    sums.total(runs)
}

/// The slices summed, and the masks when `MODE` is [`MASKED`]; a running sum of squares, the
/// vectors added to it since it was last widened, the widened total; the pairs counted (left
/// out, when `MODE` is [`NOT_LEFT_OUT`]) in u8 lanes since they were last added up, in u64
/// lanes; and the sums of short runs.
struct Sums<'s, const MODE: u8> {
    a: &'s [u8],
    b: &'s [u8],
    masks: Option<(&'s [u8], &'s [u8])>,
    acc: __m256i,
    vectors: usize,
    total: u64,
    counts: __m256i,
    pairs: __m256i,
    short: LagSum,
}

impl<'s, const MODE: u8> Sums<'s, MODE> {
    fn new(a: &'s [u8], b: &'s [u8], masks: Option<(&'s [u8], &'s [u8])>) -> Self {
        // SAFETY: AVX, which AVX2 implies.
        let zero = unsafe { _mm256_setzero_si256() };
        Sums {
            a,
            b,
            masks,
            acc: zero,
            vectors: 0,
            total: 0,
            counts: zero,
            pairs: zero,
            short: LagSum::default(),
        }
    }

    /// Moves the u8 pair counts into the u64 ones.
    #[inline(always)]
    fn add_up_counts(&mut self) {
        // SAFETY: AVX2, which every caller of the kernels here has.
        unsafe {
            let zero = _mm256_setzero_si256();
            let counted = _mm256_sad_epu8(self.counts, zero);
            (self.pairs, self.counts) = (_mm256_add_epi64(self.pairs, counted), zero);
        }
    }

    /// Moves the u32 sums of squares into the total, and starts a span.
    #[inline(always)]
    fn add_up_squares(&mut self) {
        // SAFETY: AVX2, which every caller of the kernels here has.
        unsafe {
            self.total += lane_total(self.acc);
            (self.acc, self.vectors) = (_mm256_setzero_si256(), 0);
        }
    }

    /// The sums of every run: the pairs counted where there were masks, every pair less those
    /// left out where values were, else every pair.
    #[inline(always)]
    fn total(mut self, runs: Runs) -> LagSum {
        self.add_up_counts();
        self.add_up_squares();
        let mut lanes = [0u64; 4];
        // SAFETY: AVX, which AVX2 implies; four u64 fill the 32 bytes stored.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), self.pairs) };
        let (counted, every) = (lanes.iter().sum::<u64>(), (runs.count * runs.len) as u64);
        LagSum {
            pairs: match MODE {
                MASKED => counted + self.short.pairs,
                // Runs are all short (summed by the portable loop) or none is.
                NOT_LEFT_OUT if runs.len < LANES => self.short.pairs,
                NOT_LEFT_OUT => every - counted,
                _ => every,
            },
            sum_sq: self.total + self.short.sum_sq,
        }
    }
}

impl<const MODE: u8> Vectors for Sums<'_, MODE> {
    const LANES: usize = LANES;

    /// Adds the pairs of the 32 from `i` that count, less those before a run's last `last`
    /// bytes. A method rather than a closure, so that inlined into a function with AVX2 it is
    /// compiled with it.
    #[inline(always)]
    unsafe fn add(&mut self, i: usize, last: Option<usize>) {
        // SAFETY: in bounds, as the caller promises; AVX2, as the caller promises.
        unsafe {
            let (x, y) = (load_256(self.a, i), load_256(self.b, i));
            let (high, low) = (_mm256_max_epu8(x, y), _mm256_min_epu8(x, y));
            let d = _mm256_sub_epi8(high, low);
            let d = match (MODE, last) {
                (MASKED, last) => {
                    let masks = self.masks.unwrap_or_default();
                    _mm256_sign_epi8(d, marked(masks, i, last, &mut self.counts))
                }
                (NOT_LEFT_OUT, last) => {
                    // 0xFF where a pixel is left out, only among the bytes this vector adds.
                    let mut out = _mm256_cmpeq_epi8(high, _mm256_set1_epi8(-1));
                    let mut d = _mm256_andnot_si256(out, d);
                    if let Some(t) = last {
                        let tail = tail_256(t);
                        (out, d) = (_mm256_and_si256(out, tail), _mm256_and_si256(d, tail));
                    }
                    self.counts = _mm256_sub_epi8(self.counts, out);
                    d
                }
                (_, None) => d,
                (_, Some(t)) => _mm256_and_si256(d, tail_256(t)),
            };
            self.acc = add_squares(self.acc, d);
            self.vectors += 1;
            if self.vectors.is_multiple_of(COUNT_SPAN) {
                if MODE != ALL {
                    self.add_up_counts();
                }
                if self.vectors == SPAN {
                    self.add_up_squares();
                }
            }
        }
    }

    fn short(&mut self, run: Range<usize>) {
        let (a, b) = (&self.a[run.clone()], &self.b[run.clone()]);
        self.short += match MODE {
            MASKED => {
                let (m, w) = self.masks.unwrap_or_default();
                portable_sum(a, b, Some((&m[run.clone()], &w[run])))
            }
            NOT_LEFT_OUT => u8::left_out_sum(a, b),
            _ => portable_sum(a, b, None),
        };
    }
}

/// `acc` plus the squares of the bytes of `d`, widened to 16 bits and summed in pairs.
#[inline]
#[target_feature(enable = "avx2")]
fn add_squares(acc: __m256i, d: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    let (low, high) = (_mm256_unpacklo_epi8(d, zero), _mm256_unpackhi_epi8(d, zero));
    let acc = _mm256_add_epi32(acc, _mm256_madd_epi16(low, low));
    _mm256_add_epi32(acc, _mm256_madd_epi16(high, high))
}

/// The eight u32 lanes of `acc`, summed.
#[inline]
#[target_feature(enable = "avx2")]
fn lane_total(acc: __m256i) -> u64 {
    let mut lanes = [0u32; 8];
    // SAFETY: eight u32 fill the 32 bytes stored.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
    lanes.iter().map(|&l| u64::from(l)).sum()
}
