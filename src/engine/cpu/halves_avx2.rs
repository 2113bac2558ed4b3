//! The 16-bit kernels in AVX2. Where the compiler's loop widens every difference to 32 bits
//! and squares it alone, these square sixteen 16-bit differences with multiply-adds
//! (`vpmaddwd`, which sums them in pairs into i32 lanes). Below 2^15 (the 12 to 14 bits of a
//! raw DXA image) a difference is a non-negative i16 and one multiply-add squares it; the lanes
//! are widened to 64 bits as often as the frame's largest value requires, every 2 vectors at
//! 15 bits, every 128 at 12 or fewer. Up to 2^16 a difference d is split into its bytes,
//! d = 256 h + l, and d² = 65536 h² + 512 h l + l² is three multiply-adds of values below 2^8.
//! Masks, pair counts and a run's ragged end are as in the byte kernels (`bytes_avx2`): a mask
//! byte's sign keeps or zeroes a difference (`vpsignw`, on the bytes widened to 16 bits), pairs
//! are counted in byte lanes, and the end is one more vector ending where the run ends. Exact:
//! every sum is an integer in a lane that cannot overflow.

use std::arch::x86_64::*;
use std::ops::Range;

use super::avx2::{load_128, load_256, portable_sum, tail_128, walk, Vectors};
use super::kernels::Runs;
use crate::engine::LagSum;

/// Values per vector.
const LANES: usize = 16;

/// The most vectors summed before the lanes are widened and the pair counts, in u8 lanes
/// that gain at most 1 a vector, added up.
const SPAN: usize = 1 << 7;

/// The largest value whose differences one multiply-add squares.
const NARROW: u16 = (1 << 15) - 1;

/// The pairs of `runs` — offsets into `a` and `b` — that both masks mark (every pair without
/// masks; the masks hold 0 or 1), and Σ (a[i] − b[i])² over them, for values at most
/// `largest`.
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn sum(
    a: &[u16],
    b: &[u16],
    masks: Option<(&[u8], &[u8])>,
    runs: Runs,
    largest: u16,
) -> LagSum {
    runs.assert_within(a, b, masks);
    // SAFETY: AVX2, as the caller promises; the runs lie within every slice.
    unsafe {
        match largest <= NARROW {
            true => summed(Sums::<false>::new(a, b, masks, largest), runs),
            false => summed(Sums::<true>::new(a, b, masks, largest), runs),
        }
    }
}

/// The body of [`sum`], inlined into it so it is compiled with AVX2.
///
/// # Safety
/// AVX2; the runs lie within every slice.
#[inline(always)]
unsafe fn summed<const SPLIT: bool>(mut sums: Sums<'_, SPLIT>, runs: Runs) -> LagSum {
    // SAFETY: as the caller promises.
    unsafe { walk(&mut sums, runs) };
    sums.total(runs)
}

/// The slices summed; running sums in u32 lanes — of the squares, or when `SPLIT` of l², h l
/// and h² of the differences' bytes — the vectors added to them since they were last widened
/// and how many they may take; the widened sum of squares in u64 lanes; the pairs counted in
/// u8 lanes since they were last added up, in u64 lanes; and the sums of short runs.
struct Sums<'s, const SPLIT: bool> {
    a: &'s [u16],
    b: &'s [u16],
    masks: Option<(&'s [u8], &'s [u8])>,
    acc: __m256i,
    cross: __m256i,
    high: __m256i,
    vectors: usize,
    span: usize,
    wide: __m256i,
    counts: __m128i,
    pairs: __m128i,
    short: LagSum,
}

impl<'s, const SPLIT: bool> Sums<'s, SPLIT> {
    /// Sums for values of at most `bits` bits, the width of `largest`. Squared whole, a lane
    /// gains below 2 · 2^(2 · bits) a vector, so 2^(31 − 2 · bits) vectors stay below 2^32;
    /// split, each lane gains at most 2 · 255² a vector, and [`SPAN`] vectors stay below it.
    fn new(a: &'s [u16], b: &'s [u16], masks: Option<(&'s [u8], &'s [u8])>, largest: u16) -> Self {
        let bits = 16 - largest.leading_zeros() as usize;
        debug_assert_eq!(SPLIT, largest > NARROW);
        // SAFETY: AVX, which AVX2 implies.
        let (zero, zero_128) = unsafe { (_mm256_setzero_si256(), _mm_setzero_si128()) };
        Sums {
            a,
            b,
            masks,
            acc: zero,
            cross: zero,
            high: zero,
            vectors: 0,
            span: match SPLIT {
                false => SPAN.min(1 << (31 - 2 * bits)),
                true => SPAN,
            },
            wide: zero,
            counts: zero_128,
            pairs: zero_128,
            short: LagSum::default(),
        }
    }

    /// Moves the u32 sums (l² + 512 h l + 65536 h² when split; h and h l are zero otherwise)
    /// and the u8 pair counts into the u64 ones, and starts a span.
    #[inline(always)]
    fn add_up(&mut self) {
        // SAFETY: AVX2, which every caller of the kernels here has.
        unsafe {
            let squares = _mm256_add_epi64(
                widened(self.acc),
                _mm256_add_epi64(
                    _mm256_slli_epi64(widened(self.cross), 9),
                    _mm256_slli_epi64(widened(self.high), 16),
                ),
            );
            self.wide = _mm256_add_epi64(self.wide, squares);
            let counted = _mm_sad_epu8(self.counts, _mm_setzero_si128());
            self.pairs = _mm_add_epi64(self.pairs, counted);
            let zero = _mm256_setzero_si256();
            (self.acc, self.cross, self.high) = (zero, zero, zero);
            (self.counts, self.vectors) = (_mm_setzero_si128(), 0);
        }
    }

    /// The sums of every run: the pairs counted where there were masks, else all of them.
    #[inline(always)]
    fn total(mut self, runs: Runs) -> LagSum {
        self.add_up();
        let (mut pairs, mut wide) = ([0u64; 2], [0u64; 4]);
        // SAFETY: SSE2 and AVX, which AVX2 implies; the arrays fill the bytes stored.
        unsafe {
            _mm_storeu_si128(pairs.as_mut_ptr().cast(), self.pairs);
            _mm256_storeu_si256(wide.as_mut_ptr().cast(), self.wide);
        }
        LagSum {
            pairs: match self.masks {
                Some(_) => pairs.iter().sum::<u64>() + self.short.pairs,
                None => (runs.count * runs.len) as u64,
            },
            sum_sq: wide.iter().sum::<u64>() + self.short.sum_sq,
        }
    }
}

impl<const SPLIT: bool> Vectors for Sums<'_, SPLIT> {
    const LANES: usize = LANES;

    /// Adds the pairs of the 16 from `i` that both masks mark, less those before a run's last
    /// `last` values. A method rather than a closure, so that inlined into a function with
    /// AVX2 it is compiled with it.
    #[inline(always)]
    unsafe fn add(&mut self, i: usize, last: Option<usize>) {
        // SAFETY: in bounds, as the caller promises; AVX2, as the caller promises.
        unsafe {
            let (x, y) = (load_256(self.a, i), load_256(self.b, i));
            let d = _mm256_sub_epi16(_mm256_max_epu16(x, y), _mm256_min_epu16(x, y));
            let d = match (self.masks, last) {
                (None, None) => d,
                (None, Some(t)) => _mm256_and_si256(d, _mm256_cvtepi8_epi16(tail_128(t))),
                (Some((m, w)), last) => {
                    let mut both = _mm_and_si128(load_128(m, i), load_128(w, i));
                    if let Some(t) = last {
                        both = _mm_and_si128(both, tail_128(t));
                    }
                    self.counts = _mm_add_epi8(self.counts, both);
                    _mm256_sign_epi16(d, _mm256_cvtepu8_epi16(both))
                }
            };
            if SPLIT {
                let low = _mm256_and_si256(d, _mm256_set1_epi16(0xFF));
                let high = _mm256_srli_epi16(d, 8);
                self.acc = _mm256_add_epi32(self.acc, _mm256_madd_epi16(low, low));
                self.cross = _mm256_add_epi32(self.cross, _mm256_madd_epi16(low, high));
                self.high = _mm256_add_epi32(self.high, _mm256_madd_epi16(high, high));
            } else {
                self.acc = _mm256_add_epi32(self.acc, _mm256_madd_epi16(d, d));
            }
            self.vectors += 1;
            if self.vectors == self.span {
                self.add_up();
            }
        }
    }

    fn short(&mut self, run: Range<usize>) {
        let masks = self.masks.map(|(m, w)| (&m[run.clone()], &w[run.clone()]));
        self.short += portable_sum(&self.a[run.clone()], &self.b[run], masks);
    }
}

/// The eight u32 lanes of `v` summed in pairs into four u64 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn widened(v: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    _mm256_add_epi64(
        _mm256_unpacklo_epi32(v, zero),
        _mm256_unpackhi_epi32(v, zero),
    )
}
