//! What the AVX2 kernels (`bytes_avx2`, `halves_avx2`) share: the walk along a lag's runs, a
//! vector at a time with one more for a run's ragged end, and the loads and end masks.

use std::arch::x86_64::*;
use std::ops::Range;

use super::kernels::{Pixel, Runs};
use crate::engine::LagSum;

/// Sums that a kernel adds a vector at a time.
pub trait Vectors {
    /// Values per vector.
    const LANES: usize;

    /// Adds the vector of values from `i`; of a run's last vector, `last` says how many of its
    /// last values the whole vectors before it did not add.
    ///
    /// # Safety
    /// The kernel's instruction set; the vector lies within the slices summed.
    unsafe fn add(&mut self, i: usize, last: Option<usize>);

    /// Adds the values of a run shorter than a vector.
    fn short(&mut self, run: Range<usize>);
}

/// Adds every pair of `runs` to `sums`: each run's whole vectors, then a vector that ends
/// where the run ends, less what they added; a run shorter than a vector as it is. Inlined
/// into the kernel, so the vector code is compiled with the kernel's instruction set.
///
/// # Safety
/// The kernel's instruction set; the runs lie within the slices summed.
#[inline(always)]
pub unsafe fn walk<V: Vectors>(sums: &mut V, runs: Runs) {
    for t in 0..runs.count {
        let (first, end) = (t * runs.stride, t * runs.stride + runs.len);
        if runs.len < V::LANES {
            sums.short(first..end);
            continue;
        }
        let whole = end - runs.len % V::LANES;
        for i in (first..whole).step_by(V::LANES) {
            // SAFETY: the vector lies within the run, which lies within every slice.
            unsafe { sums.add(i, None) };
        }
        if whole < end {
            // SAFETY: as above; the run is at least a vector long.
            unsafe { sums.add(end - V::LANES, Some(end - whole)) };
        }
    }
}

/// The pairs of two equal slices that both masks mark (all of them without masks) and
/// Σ (a[i] − b[i])² over them, in the portable loops: for runs shorter than a vector.
pub fn portable_sum<P: Pixel>(a: &[P], b: &[P], masks: Option<(&[u8], &[u8])>) -> LagSum {
    match masks {
        None => LagSum {
            pairs: a.len() as u64,
            sum_sq: P::sq_diff_sum(a, b),
        },
        Some((m, w)) => P::masked_sum(a, b, m, w),
    }
}

/// The 0/1 bytes of the 32 pairs from `i` that both masks mark, less those before a run's last
/// `last` values (see [`Vectors::add`]), added to the pair counts in `counts`' byte lanes.
///
/// # Safety
/// The 32 bytes from `i` lie within both masks.
#[inline]
#[target_feature(enable = "avx2")]
pub unsafe fn marked(
    (m, w): (&[u8], &[u8]),
    i: usize,
    last: Option<usize>,
    counts: &mut __m256i,
) -> __m256i {
    // SAFETY: in bounds, as the caller promises.
    let mut both = unsafe { _mm256_and_si256(load_256(m, i), load_256(w, i)) };
    if let Some(t) = last {
        both = _mm256_and_si256(both, tail_256(t));
    }
    *counts = _mm256_add_epi8(*counts, both);
    both
}

/// 32 zero bytes then 32 of 0xFF: an end mask is a load from it.
const EDGE: [u8; 64] = {
    let mut edge = [0; 64];
    let mut i = 32;
    while i < 64 {
        edge[i] = 0xFF;
        i += 1;
    }
    edge
};

/// 0xFF in the last `t` of 32 bytes (t < 32), 0x00 before.
#[inline]
#[target_feature(enable = "avx2")]
pub fn tail_256(t: usize) -> __m256i {
    assert!(t < 32);
    // SAFETY: the 32 bytes from t lie within EDGE.
    unsafe { _mm256_loadu_si256(EDGE.as_ptr().add(t).cast()) }
}

/// The 32 bytes of `v`'s values from `at`.
///
/// # Safety
/// They lie within `v`.
#[inline]
#[target_feature(enable = "avx2")]
pub unsafe fn load_256<T>(v: &[T], at: usize) -> __m256i {
    debug_assert!(at * size_of::<T>() + 32 <= size_of_val(v));
    // SAFETY: in bounds, as the caller promises; unaligned loads are allowed.
    unsafe { _mm256_loadu_si256(v.as_ptr().add(at).cast()) }
}
