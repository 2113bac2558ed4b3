//! The 16-bit kernels in AVX2. Where the compiler's loop widens every difference to 32 bits
//! and squares it alone, these square sixteen 16-bit differences with multiply-adds
//! (`vpmaddwd`, which sums them in pairs into i32 lanes). How a difference is taken depends on
//! the frame's spread, the largest difference two of its values can have:
//!
//! - below 2^15 (the 12 to 14 bits of a raw DXA image, or values anywhere whose spread is that
//!   small) every difference is an i16 already, so the wrapping subtraction *is* the signed
//!   difference and one multiply-add squares it: three instructions for sixteen pairs. The
//!   lanes are widened to 64 bits as often as the spread requires, every 2 vectors at 15 bits,
//!   every 128 at 12 or fewer;
//! - up to 2^16 the difference is |a − b| = max − min. Where the differences are all below
//!   2^14 — nearly everywhere in an image, whose texture varies by far less than its range —
//!   one multiply-add squares sixteen into lanes widened every 8 vectors; a step that holds a
//!   larger one is split into bytes, d = 256 h + l, and d² = 65536 h² + 512 h l + l² is three
//!   multiply-adds of values below 2^8, in lanes of their own. One test (`vptest`) a step
//!   chooses, so an image pays for its rare large differences only where they are.
//!
//! A step is two vectors, 32 pairs, so the loop's counting and the test are paid once for
//! both. Masks, pair counts and a run's ragged end are as in the byte kernels (`bytes_avx2`): a
//! mask byte's sign keeps or zeroes a difference (`vpsignw`, on the bytes widened to 16 bits),
//! pairs are counted in byte lanes, and the end is one more step ending where the run ends.
//! Exact: every sum is an integer in a lane that cannot overflow.

use std::arch::x86_64::*;
use std::ops::Range;

use super::avx2::{load_256, marked, portable_sum, tail_256, walk, Vectors};
use super::kernels::Runs;
use crate::engine::LagSum;

/// Values per step: two vectors of sixteen, so a loop's counting and its test for large
/// differences are paid once for both.
const LANES: usize = 32;

/// The most steps summed before the lanes are widened and the pair counts, in u8 lanes that
/// gain at most 1 a step, added up.
const SPAN: usize = 1 << 7;

/// The largest spread whose differences are i16s.
const NARROW: u16 = (1 << 15) - 1;

/// The bits a wide frame's step may use in every difference to be squared whole: below 2^14,
/// a lane gains below 2^30 a step, and [`WIDE_SPAN`] steps stay below 2^32.
const SMALL_BITS: usize = 14;

/// Steps of small differences summed before the lanes are widened.
const WIDE_SPAN: usize = 1 << (30 - 2 * SMALL_BITS);

/// The pairs of `runs` — offsets into `a` and `b` — that both masks mark (every pair without
/// masks; the masks hold 0 or 1), and Σ (a[i] − b[i])² over them, for values no two of which
/// differ by more than `spread`.
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn sum(
    a: &[u16],
    b: &[u16],
    masks: Option<(&[u8], &[u8])>,
    runs: Runs,
    spread: u16,
) -> LagSum {
    runs.assert_within(a, b, masks);
    // SAFETY: AVX2, as the caller promises; the runs lie within every slice.
    unsafe {
        match (spread <= NARROW, masks.is_some()) {
            (true, false) => summed(Sums::<false, false>::new(a, b, masks, spread), runs),
            (true, true) => summed(Sums::<false, true>::new(a, b, masks, spread), runs),
            (false, false) => summed(Sums::<true, false>::new(a, b, masks, spread), runs),
            (false, true) => summed(Sums::<true, true>::new(a, b, masks, spread), runs),
        }
    }
}

/// The body of [`sum`], inlined into it so it is compiled with AVX2.
///
/// # Safety
/// AVX2; the runs lie within every slice.
#[inline(always)]
unsafe fn summed<const WIDE: bool, const MASKED: bool>(
    mut sums: Sums<'_, WIDE, MASKED>,
    runs: Runs,
) -> LagSum {
    // SAFETY: as the caller promises.
    unsafe { walk(&mut sums, runs) };
    sums.total(runs)
}

/// The slices summed (with their masks when `MASKED`); running sums in u32 lanes of the
/// squares, the steps added to them since they were last widened and how many they may take;
/// when `WIDE`, the bits that make a difference too large to square whole, running sums of l²,
/// h l and h² of the steps split into bytes, and how many there were since those were widened;
/// the widened sum of squares in u64 lanes; the pairs counted in u8 lanes since they were last
/// added up, in u64 lanes; and the sums of short runs. Whether there are masks is a parameter,
/// not a test per step, so each loop is compiled without the other's branch.
struct Sums<'s, const WIDE: bool, const MASKED: bool> {
    a: &'s [u16],
    b: &'s [u16],
    masks: Option<(&'s [u8], &'s [u8])>,
    acc: __m256i,
    steps: usize,
    span: usize,
    large: __m256i,
    low: __m256i,
    cross: __m256i,
    high: __m256i,
    split: usize,
    wide: __m256i,
    counts: __m256i,
    pairs: __m256i,
    short: LagSum,
}

impl<'s, const WIDE: bool, const MASKED: bool> Sums<'s, WIDE, MASKED> {
    /// Sums for values that differ by at most `spread`. Narrow, a lane gains below
    /// 4 · 2^(2 · bits) a step, bits the width of the spread, so 2^(30 − 2 · bits) steps stay
    /// below 2^32; wide, [`WIDE_SPAN`] steps of small differences do, and each lane of the
    /// split sums gains at most 4 · 255² a step, so [`SPAN`] split steps do.
    fn new(a: &'s [u16], b: &'s [u16], masks: Option<(&'s [u8], &'s [u8])>, spread: u16) -> Self {
        let bits = 16 - spread.leading_zeros() as usize;
        debug_assert_eq!((WIDE, MASKED), (spread > NARROW, masks.is_some()));
        // SAFETY: AVX, which AVX2 implies.
        let zero = unsafe { _mm256_setzero_si256() };
        Sums {
            a,
            b,
            masks,
            acc: zero,
            steps: 0,
            span: match WIDE {
                false => SPAN.min(1 << (30 - 2 * bits.max(1))),
                true => WIDE_SPAN,
            },
            // SAFETY: as above.
            large: unsafe { _mm256_set1_epi16(!((1 << SMALL_BITS) - 1) as i16) },
            low: zero,
            cross: zero,
            high: zero,
            split: 0,
            wide: zero,
            counts: zero,
            pairs: zero,
            short: LagSum::default(),
        }
    }

    /// Moves the u32 sums of squares and the u8 pair counts into the u64 ones, and starts a
    /// span.
    #[inline(always)]
    fn add_up(&mut self) {
        // SAFETY: AVX2, which every caller of the kernels here has.
        unsafe {
            self.wide = _mm256_add_epi64(self.wide, widened(self.acc));
            let counted = _mm256_sad_epu8(self.counts, _mm256_setzero_si256());
            self.pairs = _mm256_add_epi64(self.pairs, counted);
            (self.acc, self.counts) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            self.steps = 0;
        }
    }

    /// Moves the split sums, l² + 512 h l + 65536 h², into the u64 ones.
    #[inline(always)]
    fn add_up_split(&mut self) {
        // SAFETY: AVX2, which every caller of the kernels here has.
        unsafe {
            let squares = _mm256_add_epi64(
                widened(self.low),
                _mm256_add_epi64(
                    _mm256_slli_epi64(widened(self.cross), 9),
                    _mm256_slli_epi64(widened(self.high), 16),
                ),
            );
            self.wide = _mm256_add_epi64(self.wide, squares);
            let zero = _mm256_setzero_si256();
            (self.low, self.cross, self.high, self.split) = (zero, zero, zero, 0);
        }
    }

    /// Adds a step's two vectors of differences, 0 where a pair does not count: squared whole
    /// when they are small enough, else split into bytes.
    #[inline(always)]
    fn square(&mut self, d: __m256i, e: __m256i) {
        // SAFETY: AVX2, which every caller of the kernels here has.
        unsafe {
            let either = _mm256_or_si256(d, e);
            if !WIDE || _mm256_testz_si256(either, self.large) == 1 {
                let squares = _mm256_add_epi32(_mm256_madd_epi16(d, d), _mm256_madd_epi16(e, e));
                self.acc = _mm256_add_epi32(self.acc, squares);
            } else {
                self.square_split(d);
                self.square_split(e);
                self.split += 1;
                if self.split == SPAN {
                    self.add_up_split();
                }
            }
            self.steps += 1;
            if self.steps == self.span {
                self.add_up();
            }
        }
    }

    /// Adds the squares of a vector of differences by their bytes.
    #[inline(always)]
    fn square_split(&mut self, d: __m256i) {
        // SAFETY: AVX2, which every caller of the kernels here has.
        unsafe {
            let low = _mm256_and_si256(d, _mm256_set1_epi16(0xFF));
            let high = _mm256_srli_epi16(d, 8);
            self.low = _mm256_add_epi32(self.low, _mm256_madd_epi16(low, low));
            self.cross = _mm256_add_epi32(self.cross, _mm256_madd_epi16(low, high));
            self.high = _mm256_add_epi32(self.high, _mm256_madd_epi16(high, high));
        }
    }

    /// The sums of every run: the pairs counted where there were masks, else all of them.
    #[inline(always)]
    fn total(mut self, runs: Runs) -> LagSum {
        self.add_up();
        if WIDE {
            self.add_up_split();
        }
        let (mut pairs, mut wide) = ([0u64; 4], [0u64; 4]);
        // SAFETY: AVX, which AVX2 implies; the arrays fill the bytes stored.
        unsafe {
            _mm256_storeu_si256(pairs.as_mut_ptr().cast(), self.pairs);
            _mm256_storeu_si256(wide.as_mut_ptr().cast(), self.wide);
        }
        LagSum {
            pairs: match MASKED {
                true => pairs.iter().sum::<u64>() + self.short.pairs,
                false => (runs.count * runs.len) as u64,
            },
            sum_sq: wide.iter().sum::<u64>() + self.short.sum_sq,
        }
    }
}

impl<const WIDE: bool, const MASKED: bool> Vectors for Sums<'_, WIDE, MASKED> {
    const LANES: usize = LANES;

    /// Adds the pairs of the 32 from `i` that both masks mark, less those before a run's last
    /// `last` values. A method rather than a closure, so that inlined into a function with
    /// AVX2 it is compiled with it.
    #[inline(always)]
    unsafe fn add(&mut self, i: usize, last: Option<usize>) {
        // SAFETY: in bounds, as the caller promises; AVX2, as the caller promises.
        unsafe {
            let d = difference::<WIDE>(load_256(self.a, i), load_256(self.b, i));
            let e = difference::<WIDE>(load_256(self.a, i + 16), load_256(self.b, i + 16));
            // 0xFF (or 1) in the bytes of the pairs that count, 0 elsewhere.
            let keep = match (MASKED, last) {
                (false, None) => return self.square(d, e),
                (false, Some(t)) => tail_256(t),
                (true, last) => marked(self.masks.unwrap_or_default(), i, last, &mut self.counts),
            };
            // A difference is kept or zeroed by the sign of its byte, widened to 16 bits
            // without its sign (0xFF is 255), so a kept difference keeps its own.
            let (first, second) = (
                _mm256_cvtepu8_epi16(_mm256_castsi256_si128(keep)),
                _mm256_cvtepu8_epi16(_mm256_extracti128_si256(keep, 1)),
            );
            self.square(_mm256_sign_epi16(d, first), _mm256_sign_epi16(e, second));
        }
    }

    fn short(&mut self, run: Range<usize>) {
        let masks = self.masks.map(|(m, w)| (&m[run.clone()], &w[run.clone()]));
        self.short += portable_sum(&self.a[run.clone()], &self.b[run], masks);
    }
}

/// Narrow, the wrapped difference, which is the signed one; wide, |x − y|.
#[inline]
#[target_feature(enable = "avx2")]
fn difference<const WIDE: bool>(x: __m256i, y: __m256i) -> __m256i {
    match WIDE {
        false => _mm256_sub_epi16(x, y),
        true => _mm256_sub_epi16(_mm256_max_epu16(x, y), _mm256_min_epu16(x, y)),
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
