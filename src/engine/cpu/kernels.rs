//! The pair-summing loops themselves, one body per pixel width: Σ (a − b)² over two equal
//! slices, with or without a 0/1 mask, exact in 32-bit lanes that the compiler vectorises.

use super::tier::Level;
use crate::engine::LagSum;

/// A stored value as the kernel reads it: a byte when the whole frame fits one, else 16 bits.
pub trait Pixel: Copy + Send + Sync + Into<u32> {
    /// Σ (a[i] − b[i])² over two equal-length slices, exact.
    fn sq_diff_sum(a: &[Self], b: &[Self]) -> u64;

    /// The pairs (a[i], b[i]) with `in_a[i]` and `in_b[i]` both 1, and Σ (a[i] − b[i])² over
    /// them. Branch-free (a square times 0 or 1), so it vectorises like the unmasked sum; the
    /// square's halves are summed apart as for 16-bit pixels, so one body serves both widths.
    #[inline(always)]
    fn masked_sum(a: &[Self], b: &[Self], in_a: &[u8], in_b: &[u8]) -> LagSum {
        let mut total = LagSum::default();
        for (((a, b), in_a), in_b) in a
            .chunks(CHUNK)
            .zip(b.chunks(CHUNK))
            .zip(in_a.chunks(CHUNK))
            .zip(in_b.chunks(CHUNK))
        {
            let (mut low, mut high, mut pairs) = (0u32, 0u32, 0u32);
            for (((&x, &y), &in_a), &in_b) in a.iter().zip(b).zip(in_a).zip(in_b) {
                let both = u32::from(in_a & in_b);
                let (x, y): (u32, u32) = (x.into(), y.into());
                let sq = x.abs_diff(y).pow(2) * both;
                low += sq & 0xffff;
                high += sq >> 16;
                pairs += both;
            }
            total += LagSum {
                pairs: u64::from(pairs),
                sum_sq: u64::from(low) + (u64::from(high) << 16),
            };
        }
        total
    }
}

/// The same sums on `level`'s instructions: the hand-written byte kernels where there are
/// some, else the portable loops compiled for the caller's target.
pub trait OnLevel: Pixel {
    #[inline(always)]
    fn sq_diff_sum_on(_level: Level, a: &[Self], b: &[Self]) -> u64 {
        Self::sq_diff_sum(a, b)
    }

    #[inline(always)]
    fn masked_sum_on(_level: Level, a: &[Self], b: &[Self], in_a: &[u8], in_b: &[u8]) -> LagSum {
        Self::masked_sum(a, b, in_a, in_b)
    }
}

impl OnLevel for u16 {}

impl OnLevel for u8 {
    #[inline(always)]
    fn sq_diff_sum_on(level: Level, a: &[u8], b: &[u8]) -> u64 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is that of a Tier, which exists only for what this CPU runs.
        unsafe {
            use super::{bytes_avx2, bytes_avx512};
            match level {
                Level::Avx512Vnni => return bytes_avx512::sq_diff_sum_vnni(a, b),
                Level::Avx512Bw => return bytes_avx512::sq_diff_sum(a, b),
                Level::Avx2 => return bytes_avx2::sq_diff_sum(a, b),
                Level::Portable => {}
            }
        }
        u8::sq_diff_sum(a, b)
    }

    #[inline(always)]
    fn masked_sum_on(level: Level, a: &[u8], b: &[u8], in_a: &[u8], in_b: &[u8]) -> LagSum {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        unsafe {
            use super::{bytes_avx2, bytes_avx512};
            match level {
                Level::Avx512Vnni => return bytes_avx512::masked_sum_vnni(a, b, in_a, in_b),
                Level::Avx512Bw => return bytes_avx512::masked_sum(a, b, in_a, in_b),
                Level::Avx2 => return bytes_avx2::masked_sum(a, b, in_a, in_b),
                Level::Portable => {}
            }
        }
        u8::masked_sum(a, b, in_a, in_b)
    }
}

/// Elements summed in `u32` lanes before widening to `u64`: the most that cannot overflow.
pub const CHUNK: usize = 1 << 16;

impl Pixel for u8 {
    /// A squared byte difference is below 2^16, so 2^16 of them fit a `u32` lane: the loop stays
    /// in 32-bit lanes, which vectorise four times wider than 64-bit ones.
    #[inline(always)]
    fn sq_diff_sum(a: &[u8], b: &[u8]) -> u64 {
        by_chunks(a, b, |a, b| {
            let chunk: u32 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| {
                    let d = u32::from(x.abs_diff(y));
                    d * d
                })
                .sum();
            u64::from(chunk)
        })
    }

    /// As for the unmasked sum, one `u32` lane per square; the mask zeroes the difference while
    /// it is still a byte, so the widening and squaring are the unmasked loop's.
    #[inline(always)]
    fn masked_sum(a: &[u8], b: &[u8], in_a: &[u8], in_b: &[u8]) -> LagSum {
        let mut total = LagSum::default();
        for (start, end) in (0..a.len())
            .step_by(CHUNK)
            .map(|s| (s, (s + CHUNK).min(a.len())))
        {
            let (a, b) = (&a[start..end], &b[start..end]);
            let (in_a, in_b) = (&in_a[start..end], &in_b[start..end]);
            let (mut sum, mut pairs) = (0u32, 0u32);
            let n = a.len();
            let (b, in_a, in_b) = (&b[..n], &in_a[..n], &in_b[..n]);
            for i in 0..n {
                let both = in_a[i] & in_b[i];
                // 0 or the difference: an AND with 0x00 or 0xFF (there is no byte multiply).
                let d = u32::from(a[i].abs_diff(b[i]) & both.wrapping_neg());
                sum += d * d;
                pairs += u32::from(both);
            }
            total += LagSum {
                pairs: u64::from(pairs),
                sum_sq: u64::from(sum),
            };
        }
        total
    }
}

impl Pixel for u16 {
    /// A squared 16-bit difference fits a `u32` but two may not. Its low and high halves are
    /// summed apart, each below 2^16, so the loop stays in 32-bit lanes for 2^16 elements.
    #[inline(always)]
    fn sq_diff_sum(a: &[u16], b: &[u16]) -> u64 {
        by_chunks(a, b, |a, b| {
            let (mut low, mut high) = (0u32, 0u32);
            for (&x, &y) in a.iter().zip(b) {
                let d = u32::from(x.abs_diff(y));
                let sq = d * d;
                low += sq & 0xffff;
                high += sq >> 16;
            }
            u64::from(low) + (u64::from(high) << 16)
        })
    }
}

/// Σ of `chunk_sum` over matching `CHUNK`-long pieces of two equal-length slices.
#[inline(always)]
fn by_chunks<P>(a: &[P], b: &[P], chunk_sum: impl Fn(&[P], &[P]) -> u64) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    a.chunks(CHUNK)
        .zip(b.chunks(CHUNK))
        .map(|(a, b)| chunk_sum(a, b))
        .sum()
}
