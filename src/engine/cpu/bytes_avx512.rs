//! The byte kernels in AVX-512BW, for the AVX-512 tiers: 64 bytes a vector, and the mask in a
//! mask register. Which bytes of a vector count — both pixels marked, and within the slice —
//! is one 64-bit mask: two masks' bytes are tested together in one instruction (`vptestmb`),
//! the difference of the pairs outside is zeroed as it is taken (a zero-masked subtract), and
//! the pairs are counted by a population count of the mask, outside the vector units. The end
//! of a slice is a masked load, which reads no byte past it. Squares are widened to 16 bits
//! and summed in pairs by `vpmaddwd`, or on the VNNI tier multiplied and added into the sums
//! in one instruction (`vpdpwssd`). Exact: every sum is an integer in a lane that cannot
//! overflow.

use std::arch::x86_64::*;

use crate::engine::LagSum;

/// Bytes per vector.
const LANES: usize = 64;

/// Vectors summed in u32 lanes before widening: each lane gains at most 2 × 2 × 255² = 260,100
/// a vector, and 16,384 of them stay below 2^32.
const SPAN: usize = 1 << 14;

/// Σ (a[i] − b[i])² over two equal-length byte slices, with `vpmaddwd`.
///
/// # Safety
/// The CPU must run AVX-512BW.
#[target_feature(enable = "avx512bw,popcnt")]
pub unsafe fn sq_diff_sum(a: &[u8], b: &[u8]) -> u64 {
    // SAFETY: AVX-512BW, as the caller promises.
    unsafe { summed::<false>(a, b, None) }.sum_sq
}

/// The pairs (a[i], b[i]) with `in_a[i]` and `in_b[i]` both nonzero, and Σ (a[i] − b[i])²
/// over them, with `vpmaddwd`.
///
/// # Safety
/// The CPU must run AVX-512BW.
#[target_feature(enable = "avx512bw,popcnt")]
pub unsafe fn masked_sum(a: &[u8], b: &[u8], in_a: &[u8], in_b: &[u8]) -> LagSum {
    // SAFETY: as above.
    unsafe { summed::<false>(a, b, Some((in_a, in_b))) }
}

/// As [`sq_diff_sum`], with `vpdpwssd`.
///
/// # Safety
/// The CPU must run AVX-512BW and AVX-512 VNNI.
#[target_feature(enable = "avx512bw,avx512vnni,popcnt")]
pub unsafe fn sq_diff_sum_vnni(a: &[u8], b: &[u8]) -> u64 {
    // SAFETY: both, as the caller promises.
    unsafe { summed::<true>(a, b, None) }.sum_sq
}

/// As [`masked_sum`], with `vpdpwssd`.
///
/// # Safety
/// The CPU must run AVX-512BW and AVX-512 VNNI.
#[target_feature(enable = "avx512bw,avx512vnni,popcnt")]
pub unsafe fn masked_sum_vnni(a: &[u8], b: &[u8], in_a: &[u8], in_b: &[u8]) -> LagSum {
    // SAFETY: as above.
    unsafe { summed::<true>(a, b, Some((in_a, in_b))) }
}

/// The pairs (a[i], b[i]) both masks mark (every pair without masks), and Σ (a[i] − b[i])²
/// over them. Inlined into the four functions above, so it is compiled with their features.
///
/// # Safety
/// The CPU must run AVX-512BW, and AVX-512 VNNI when `VNNI`.
#[inline(always)]
unsafe fn summed<const VNNI: bool>(a: &[u8], b: &[u8], masks: Option<(&[u8], &[u8])>) -> LagSum {
    let n = masks.map_or(a.len().min(b.len()), |(m, w)| {
        a.len().min(b.len()).min(m.len()).min(w.len())
    });
    // The bytes of the 64 from i that count, of those in `within`.
    // SAFETY: every load is masked by `within`, which holds only bytes below n, and a masked
    // load reads no byte outside its mask.
    let kept = |i: usize, within: __mmask64| unsafe {
        let (x, y) = (load(a, i, within), load(b, i, within));
        let keep = match masks {
            None => within,
            Some((m, w)) => {
                _mm512_mask_test_epi8_mask(within, load(m, i, within), load(w, i, within))
            }
        };
        let d = _mm512_maskz_sub_epi8(keep, _mm512_max_epu8(x, y), _mm512_min_epu8(x, y));
        (d, keep)
    };
    let (mut total, mut pairs) = (0u64, 0u64);
    let bulk = n - n % LANES;
    for start in (0..bulk).step_by(LANES * SPAN) {
        let mut acc = _mm512_setzero_si512();
        for i in (start..(start + LANES * SPAN).min(bulk)).step_by(LANES) {
            let (d, keep) = kept(i, u64::MAX);
            // SAFETY: the caller promises the features `add_squares` is compiled for.
            acc = unsafe { add_squares::<VNNI>(acc, d) };
            pairs += u64::from(keep.count_ones());
        }
        // SAFETY: AVX-512F, which AVX-512BW implies.
        total += unsafe { lane_total(acc) };
    }
    if bulk < n {
        // The ragged end: the bytes past the whole vectors.
        let (d, keep) = kept(bulk, (1 << (n - bulk)) - 1);
        // SAFETY: as above.
        total += unsafe { lane_total(add_squares::<VNNI>(_mm512_setzero_si512(), d)) };
        pairs += u64::from(keep.count_ones());
    }
    LagSum {
        pairs: if masks.is_some() { pairs } else { n as u64 },
        sum_sq: total,
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
