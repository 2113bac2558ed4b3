//! The byte kernels in AVX2, for the AVX2 and AVX-512BW tiers: what the compiler does not find
//! by itself from the portable loops. A byte difference is |a − b| = max − min; widened to 16
//! bits it is squared and summed in pairs by one multiply-add (`vpmaddwd`); a mask is an AND
//! with 0x00 or 0xFF; the pair count is a sum of absolute differences against zero
//! (`vpsadbw`). Exact: every sum is an integer in a lane that cannot overflow.

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
    total + u8::sq_diff_sum(&a[bulk..n], &b[bulk..n])
}

/// The pairs (a[i], b[i]) with `in_a[i]` and `in_b[i]` both 1 (the masks hold 0 or 1), and
/// Σ (a[i] − b[i])² over them.
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn masked_sum(a: &[u8], b: &[u8], in_a: &[u8], in_b: &[u8]) -> LagSum {
    let n = a.len().min(b.len()).min(in_a.len()).min(in_b.len());
    let bulk = n - n % LANES;
    let zero = _mm256_setzero_si256();
    let (mut total, mut pairs) = (0, zero);
    for start in (0..bulk).step_by(LANES * SPAN) {
        let mut acc = zero;
        for i in (start..(start + LANES * SPAN).min(bulk)).step_by(LANES) {
            // SAFETY: i + LANES ≤ bulk ≤ every length.
            let (x, y, m) = unsafe { (load(a, i), load(b, i), load(in_a, i)) };
            let both = _mm256_and_si256(m, unsafe { load(in_b, i) });
            let kept = _mm256_and_si256(difference(x, y), _mm256_sub_epi8(zero, both));
            acc = add_squares(acc, kept);
            pairs = _mm256_add_epi64(pairs, _mm256_sad_epu8(both, zero));
        }
        total += lane_total(acc);
    }
    let mut lanes = [0u64; 4];
    // SAFETY: four u64 fill the 32 bytes stored.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), pairs) };
    let bulk_sums = LagSum {
        pairs: lanes.iter().sum(),
        sum_sq: total,
    };
    let mut rest = u8::masked_sum(&a[bulk..n], &b[bulk..n], &in_a[bulk..n], &in_b[bulk..n]);
    rest += bulk_sums;
    rest
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_squares_past_a_span_and_a_ragged_tail_sum_exactly() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        // Every difference 255, so every u32 lane fills as fast as it can, over two spans
        // and a tail shorter than a vector.
        let n = 2 * LANES * SPAN + 45;
        let a: Vec<u8> = (0..n).map(|i| if i % 2 == 0 { 255 } else { 0 }).collect();
        let b: Vec<u8> = a.iter().map(|&x| 255 - x).collect();
        let mask: Vec<u8> = (0..n).map(|i| u8::from(i % 5 != 1)).collect();
        let ones = vec![1u8; n];
        let square = 255u64 * 255;
        // SAFETY: AVX2 was just seen on this CPU.
        let (plain, masked) = unsafe { (sq_diff_sum(&a, &b), masked_sum(&a, &b, &mask, &ones)) };
        assert_eq!(plain, n as u64 * square);
        let inside = mask.iter().filter(|&&m| m == 1).count() as u64;
        assert_eq!(
            masked,
            LagSum {
                pairs: inside,
                sum_sq: inside * square
            }
        );
        assert!(plain > u64::from(u32::MAX));
    }
}
