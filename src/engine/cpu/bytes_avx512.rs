//! The byte kernels in AVX-512BW, for the AVX-512 tiers: 64 bytes a vector, and the mask in a
//! mask register. Which bytes of a vector count — both pixels marked, or neither holding 255
//! where a frame's left-out values were moved, and within the slice — is one 64-bit mask: two
//! masks' bytes are tested together in one instruction (`vptestmb`), or the pair's max against
//! 255 in one compare, without reading a mask (`vpcmpnequb`); the difference of the pairs
//! outside is zeroed as it is taken (a zero-masked subtract), and the pairs are counted by a
//! population count of the mask, outside the vector units. The end of a slice is a masked
//! load, which reads no byte past it. Squares are widened to 16 bits and summed in pairs by
//! `vpmaddwd`, or on the VNNI tier multiplied and added into the sums in one instruction
//! (`vpdpwssd`). Exact: every sum is an integer in a lane that cannot overflow.

use std::arch::x86_64::*;

use super::kernels::{Counted, Runs};
use super::tier::Level;
use crate::engine::LagSum;

/// Bytes per vector.
const LANES: usize = 64;

/// Vectors summed in u32 lanes before widening: each lane gains at most 2 × 2 × 255² = 260,100
/// a vector, and 16,384 of them stay below 2^32.
const SPAN: usize = 1 << 14;

/// The pairs of `runs` — offsets into `a` and `b` — that `counted` counts, and Σ (a[i] − b[i])²
/// over them, on `level`'s instructions.
///
/// # Safety
/// `level` must be an AVX-512 tier this CPU runs.
pub unsafe fn sum(level: Level, a: &[u8], b: &[u8], counted: Counted, runs: Runs) -> LagSum {
    runs.assert_within(a, b, counted.masks());
    // SAFETY: the features, as the caller promises; the runs lie within every slice.
    unsafe {
        match level {
            Level::Avx512Vnni => sum_vnni(a, b, counted, runs),
            _ => sum_bw(a, b, counted, runs),
        }
    }
}

/// [`sum`] with `vpmaddwd`.
#[target_feature(enable = "avx512bw,popcnt")]
unsafe fn sum_bw(a: &[u8], b: &[u8], counted: Counted, runs: Runs) -> LagSum {
    // SAFETY: AVX-512BW, as `sum`'s caller promises, and the runs lie within every slice.
    unsafe { summed::<false>(a, b, counted, runs) }
}

/// [`sum`] with `vpdpwssd`.
#[target_feature(enable = "avx512bw,avx512vnni,popcnt")]
unsafe fn sum_vnni(a: &[u8], b: &[u8], counted: Counted, runs: Runs) -> LagSum {
    // SAFETY: both features, as `sum`'s caller promises, and the runs lie within every slice.
    unsafe { summed::<true>(a, b, counted, runs) }
}

/// The body of [`sum`], inlined into the two functions above so it is compiled with their
/// features. A running sum is widened every [`SPAN`] vectors, across runs, so short runs cost
/// no reduction each.
///
/// # Safety
/// AVX-512BW, and AVX-512 VNNI when `VNNI`; the runs lie within every slice.
#[inline(always)]
unsafe fn summed<const VNNI: bool>(a: &[u8], b: &[u8], counted: Counted, runs: Runs) -> LagSum {
    let mut sums = Sums::default();
    for t in 0..runs.count {
        let (first, end) = (t * runs.stride, t * runs.stride + runs.len);
        let whole = end - runs.len % LANES;
        for i in (first..whole).step_by(LANES) {
            // SAFETY: the features, as the caller promises; the vector lies within the run.
            unsafe { sums.add::<VNNI>(a, b, counted, i, u64::MAX) };
        }
        if whole < end {
            // The run's ragged end: the bytes past its whole vectors.
            // SAFETY: as above; the mask marks only the run's bytes.
            unsafe { sums.add::<VNNI>(a, b, counted, whole, (1 << (end - whole)) - 1) };
        }
    }
    let (acc, mut total, pairs) = (sums.acc, sums.total, sums.pairs);
    // SAFETY: AVX-512F, which AVX-512BW implies.
    total += unsafe { lane_total(acc) };
    LagSum {
        pairs: match counted {
            Counted::All => (runs.count * runs.len) as u64,
            _ => pairs,
        },
        sum_sq: total,
    }
}

/// A running sum of squares, the vectors added to it since it was last widened, the widened
/// total and the pairs counted.
struct Sums {
    acc: __m512i,
    vectors: usize,
    total: u64,
    pairs: u64,
}

impl Default for Sums {
    fn default() -> Self {
        Sums {
            // SAFETY: AVX-512F, which every AVX-512 tier has.
            acc: unsafe { _mm512_setzero_si512() },
            vectors: 0,
            total: 0,
            pairs: 0,
        }
    }
}

impl Sums {
    /// Adds the pairs of the 64 from `i` that `within` marks and `counted` counts. A method
    /// rather than a closure, so that inlined into a function with the AVX-512 features it is
    /// compiled with them.
    ///
    /// # Safety
    /// AVX-512BW, and VNNI when `VNNI`; every byte `within` marks lies inside every slice.
    #[inline(always)]
    unsafe fn add<const VNNI: bool>(
        &mut self,
        a: &[u8],
        b: &[u8],
        counted: Counted,
        i: usize,
        within: __mmask64,
    ) {
        // SAFETY: a masked load reads only the bytes its mask marks, which the caller promises
        // lie inside the slices; the features, as the caller promises.
        unsafe {
            let (x, y) = (load(a, i, within), load(b, i, within));
            let high = _mm512_max_epu8(x, y);
            let keep = match counted {
                Counted::All => within,
                Counted::Masked(m, w) => {
                    _mm512_mask_test_epi8_mask(within, load(m, i, within), load(w, i, within))
                }
                // A pair with a pixel at 255, where left-out values were moved, has it as max.
                Counted::NotLeftOut => {
                    _mm512_mask_cmpneq_epu8_mask(within, high, _mm512_set1_epi8(-1))
                }
            };
            let d = _mm512_maskz_sub_epi8(keep, high, _mm512_min_epu8(x, y));
            self.acc = add_squares::<VNNI>(self.acc, d);
            self.pairs += u64::from(keep.count_ones());
            self.vectors += 1;
            if self.vectors == SPAN {
                self.total += lane_total(self.acc);
                (self.acc, self.vectors) = (_mm512_setzero_si512(), 0);
            }
        }
    }
}

/// The bytes of `v` from `at` that `within` marks, zero elsewhere.
///
/// # Safety
/// AVX-512BW; every byte `within` marks lies inside `v`.
#[inline(always)]
unsafe fn load(v: &[u8], at: usize, within: __mmask64) -> __m512i {
    // SAFETY: a masked load touches only the bytes its mask marks, which the caller promises
    // lie inside `v`.
    unsafe { _mm512_maskz_loadu_epi8(within, v.as_ptr().wrapping_add(at).cast()) }
}

/// `acc` plus the squares of the bytes of `d`, widened to 16 bits and summed in pairs.
///
/// # Safety
/// AVX-512BW, and AVX-512 VNNI when `VNNI`.
#[inline(always)]
unsafe fn add_squares<const VNNI: bool>(acc: __m512i, d: __m512i) -> __m512i {
    let zero = _mm512_setzero_si512();
    let (low, high) = (_mm512_unpacklo_epi8(d, zero), _mm512_unpackhi_epi8(d, zero));
    if VNNI {
        // Signed 16-bit products of values below 256 are the unsigned ones, and the
        // accumulation wraps as an unsigned add does.
        // SAFETY: VNNI, as the caller promises.
        unsafe { _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(acc, low, low), high, high) }
    } else {
        let acc = _mm512_add_epi32(acc, _mm512_madd_epi16(low, low));
        _mm512_add_epi32(acc, _mm512_madd_epi16(high, high))
    }
}

/// The sixteen u32 lanes of `acc`, summed.
///
/// # Safety
/// AVX-512F.
#[inline(always)]
unsafe fn lane_total(acc: __m512i) -> u64 {
    let mut lanes = [0u32; 16];
    // SAFETY: sixteen u32 fill the 64 bytes stored.
    unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), acc) };
    lanes.iter().map(|&l| u64::from(l)).sum()
}
