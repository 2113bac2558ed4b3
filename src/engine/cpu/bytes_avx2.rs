//! The byte kernels in AVX2, for the AVX2 and AVX-512BW tiers: what the compiler does not find
//! by itself from the portable loops. A byte difference is |a − b| = max − min; widened to 16
//! bits it is squared and summed in pairs by one multiply-add (`vpmaddwd`); a mask is an AND
//! with 0x00 or 0xFF; the pair count is a sum of absolute differences against zero
//! (`vpsadbw`). A slice's ragged end is one more vector, ending where the slice ends, with the
//! bytes already counted masked off. Exact: every sum is an integer in a lane that cannot
//! overflow.

use std::arch::x86_64::*;

use super::kernels::Pixel;
use crate::engine::LagSum;

/// Bytes per vector.
const LANES: usize = 32;

/// Vectors summed in u32 lanes before widening: each lane gains at most 2 × 2 × 255² = 260,100
/// a vector, and 16,384 of them stay below 2^32.
const SPAN: usize = 1 << 14;

/// Σ (a[i] − b[i])² over two equal-length byte slices.
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn sq_diff_sum(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    if n < LANES {
        return u8::sq_diff_sum(&a[..n], &b[..n]);
    }
    let bulk = n - n % LANES;
    let mut total = 0;
    for start in (0..bulk).step_by(LANES * SPAN) {
        let mut acc = _mm256_setzero_si256();
        for i in (start..(start + LANES * SPAN).min(bulk)).step_by(LANES) {
            // SAFETY: i + LANES ≤ bulk ≤ both lengths.
            let (x, y) = unsafe { (load(a, i), load(b, i)) };
            acc = add_squares(acc, difference(x, y));
        }
        total += lane_total(acc);
    }
    // SAFETY: LANES ≤ n, so the last vector lies within both slices.
    let (x, y) = unsafe { (load(a, n - LANES), load(b, n - LANES)) };
    let tail = _mm256_and_si256(difference(x, y), tail_of(n - bulk));
    total + lane_total(add_squares(_mm256_setzero_si256(), tail))
}

/// The pairs (a[i], b[i]) with `in_a[i]` and `in_b[i]` both 1 (the masks hold 0 or 1), and
/// Σ (a[i] − b[i])² over them.
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn masked_sum(a: &[u8], b: &[u8], in_a: &[u8], in_b: &[u8]) -> LagSum {
    let n = a.len().min(b.len()).min(in_a.len()).min(in_b.len());
    if n < LANES {
        return u8::masked_sum(&a[..n], &b[..n], &in_a[..n], &in_b[..n]);
    }
    let bulk = n - n % LANES;
    let zero = _mm256_setzero_si256();
    let (mut total, mut pairs) = (0, zero);
    // The 32 pairs from i, and which of them both masks mark (0x01 or 0x00 per byte).
    // SAFETY: i + LANES ≤ n, every slice's length.
    let at = |i| unsafe {
        let both = _mm256_and_si256(load(in_a, i), load(in_b, i));
        (load(a, i), load(b, i), both)
    };
    for start in (0..bulk).step_by(LANES * SPAN) {
        let mut acc = zero;
        for i in (start..(start + LANES * SPAN).min(bulk)).step_by(LANES) {
            let (x, y, both) = at(i);
            pairs = _mm256_add_epi64(pairs, _mm256_sad_epu8(both, zero));
            acc = add_marked_squares(acc, x, y, both);
        }
        total += lane_total(acc);
    }
    // The ragged end: the last vector's bytes that the whole vectors did not count.
    let (x, y, both) = at(n - LANES);
    let both = _mm256_and_si256(both, tail_of(n - bulk));
    pairs = _mm256_add_epi64(pairs, _mm256_sad_epu8(both, zero));
    total += lane_total(add_marked_squares(zero, x, y, both));
    let mut lanes = [0u64; 4];
    // SAFETY: four u64 fill the 32 bytes stored.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), pairs) };
    LagSum {
        pairs: lanes.iter().sum(),
        sum_sq: total,
    }
}

/// 0xFF in the last `t` bytes of a vector (t < 32), 0x00 before: of the vector that ends a
/// slice, the bytes past the whole vectors before it.
#[inline]
#[target_feature(enable = "avx2")]
fn tail_of(t: usize) -> __m256i {
    const EDGE: [u8; 2 * LANES] = {
        let mut edge = [0; 2 * LANES];
        let mut i = LANES;
        while i < 2 * LANES {
            edge[i] = 0xFF;
            i += 1;
        }
        edge
    };
    // SAFETY: t < LANES, so the 32 bytes from t lie within EDGE.
    unsafe { load(&EDGE, t) }
}

/// 32 bytes of `v` from `at`.
///
/// # Safety
/// `at + 32 ≤ v.len()`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load(v: &[u8], at: usize) -> __m256i {
    debug_assert!(at + LANES <= v.len());
    // SAFETY: in bounds, as the caller promises; unaligned loads are allowed.
    unsafe { _mm256_loadu_si256(v.as_ptr().add(at).cast()) }
}

/// |x − y| per byte.
#[inline]
#[target_feature(enable = "avx2")]
fn difference(x: __m256i, y: __m256i) -> __m256i {
    _mm256_sub_epi8(_mm256_max_epu8(x, y), _mm256_min_epu8(x, y))
}

/// `acc` plus the squares of |x − y| where `both` is 1 (its bytes are 0 or 1).
#[inline]
#[target_feature(enable = "avx2")]
fn add_marked_squares(acc: __m256i, x: __m256i, y: __m256i, both: __m256i) -> __m256i {
    // 1 becomes 0xFF, 0 stays 0x00.
    let keep = _mm256_sub_epi8(_mm256_setzero_si256(), both);
    add_squares(acc, _mm256_and_si256(difference(x, y), keep))
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
