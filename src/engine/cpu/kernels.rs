//! The pair-summing loops themselves, one body per pixel width: Σ (a − b)² over two equal
//! slices, with or without a 0/1 mask, exact in 32-bit lanes that the compiler vectorises.

use std::ops::Range;

use super::tier::Level;
use crate::engine::LagSum;

/// Which pixels of a frame, or of a box of it, count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marks<'m> {
    /// Every pixel.
    All,
    /// Those whose byte in the 0/1 mask is 1.
    Mask(&'m [u8]),
    /// Every pixel but those holding the width's largest value ([`Pixel::LEFT_OUT`]), where a
    /// byte frame's left-out values were moved: the kernels tell them by value, next to the
    /// difference they take anyway, instead of reading a mask beside the pixels.
    NotLeftOut,
}

/// Which pairs of one kernel call count: [`Marks`], a mask cut at the two starts of the runs.
#[derive(Debug, Clone, Copy)]
pub enum Counted<'m> {
    All,
    Masked(&'m [u8], &'m [u8]),
    NotLeftOut,
}

impl<'m> Marks<'m> {
    /// As the pairs of `runs` see them.
    pub fn at(self, runs: &Runs) -> Counted<'m> {
        match self {
            Marks::All => Counted::All,
            Marks::Mask(m) => Counted::Masked(&m[runs.a..], &m[runs.b..]),
            Marks::NotLeftOut => Counted::NotLeftOut,
        }
    }
}

impl<'m> Counted<'m> {
    /// The masks, where there are some.
    pub fn masks(self) -> Option<(&'m [u8], &'m [u8])> {
        match self {
            Counted::Masked(m, w) => Some((m, w)),
            _ => None,
        }
    }
}

/// A stored value as the kernel reads it: a byte when the whole frame fits one, else 16 bits.
pub trait Pixel: Copy + Send + Sync + Ord + Into<u32> {
    /// The value of pixels left out under [`Marks::NotLeftOut`]: the width's largest.
    const LEFT_OUT: Self;

    /// Σ (a[i] − b[i])² over two equal-length slices, exact.
    fn sq_diff_sum(a: &[Self], b: &[Self]) -> u64;

    /// The pairs (a[i], b[i]) with `in_a[i]` and `in_b[i]` both 1, and Σ (a[i] − b[i])² over
    /// them.
    #[inline(always)]
    fn masked_sum(a: &[Self], b: &[Self], in_a: &[u8], in_b: &[u8]) -> LagSum {
        let (in_a, in_b) = (&in_a[..a.len()], &in_b[..a.len()]);
        kept_sum(a, b, |i, _, _| u32::from(in_a[i] & in_b[i]))
    }

    /// The pairs neither of whose values is [`Pixel::LEFT_OUT`], and Σ (a[i] − b[i])² over
    /// them.
    #[inline(always)]
    fn left_out_sum(a: &[Self], b: &[Self]) -> LagSum {
        kept_sum(a, b, |_, x, y| u32::from(x.max(y) != Self::LEFT_OUT))
    }
}

/// The pairs (a[i], b[i]) for which `kept` is 1 (it is 0 for the others), and Σ (a[i] − b[i])²
/// over them. Branch-free (a square times 0 or 1), so it vectorises like the unmasked sum; the
/// square's halves are summed apart as for 16-bit pixels, so one body serves both widths.
#[inline(always)]
fn kept_sum<P: Pixel>(a: &[P], b: &[P], kept: impl Fn(usize, P, P) -> u32) -> LagSum {
    let b = &b[..a.len()];
    let mut total = LagSum::default();
    for start in (0..a.len()).step_by(CHUNK) {
        let (mut low, mut high, mut pairs) = (0u32, 0u32, 0u32);
        for i in start..(start + CHUNK).min(a.len()) {
            let both = kept(i, a[i], b[i]);
            let (x, y): (u32, u32) = (a[i].into(), b[i].into());
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

/// Pairs a fixed distance apart along `count` equal runs of a frame's pixels: the t-th run's
/// pairs are (pixels[a + t·stride + i], pixels[b + t·stride + i]) for i < len. A lag over a
/// band of rows is one call, however many rows.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    pub a: usize,
    pub b: usize,
    pub len: usize,
    pub stride: usize,
    pub count: usize,
}

impl Runs {
    /// The t-th run's two ranges.
    #[inline(always)]
    pub fn nth(&self, t: usize) -> (Range<usize>, Range<usize>) {
        let (a, b) = (self.a + t * self.stride, self.b + t * self.stride);
        (a..a + self.len, b..b + self.len)
    }

    /// The same runs as offsets from their own starts, for slices that begin at `a` and `b`.
    pub fn at_starts(self) -> Self {
        Runs { a: 0, b: 0, ..self }
    }

    /// Panics unless the runs, as offsets into `a` and `b` (and the masks, when there are
    /// some), lie within them: the hand-written kernels read them unchecked.
    pub fn assert_within<P>(&self, a: &[P], b: &[P], masks: Option<(&[u8], &[u8])>) {
        let end = self.end();
        assert!(
            end <= a.len().min(b.len()) && masks.is_none_or(|(m, w)| end <= m.len().min(w.len())),
            "the runs lie within the pixels and masks"
        );
    }

    /// One past the last index the runs read; 0 when they read none.
    fn end(&self) -> usize {
        match (self.count, self.len) {
            (0, _) | (_, 0) => 0,
            (count, len) => self.a.max(self.b) + (count - 1) * self.stride + len,
        }
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

    /// Σ over the pairs of `runs` whose two pixels `marks` counts, of pixels no two of which
    /// differ by more than `spread`; run by run unless a hand-written kernel takes them.
    #[inline(always)]
    fn runs_sum_on(
        level: Level,
        pixels: &[Self],
        marks: Marks,
        runs: Runs,
        _spread: u16,
    ) -> LagSum {
        run_by_run(level, pixels, marks, runs)
    }

    /// The pixels as bytes, when they are bytes.
    fn bytes(pixels: &[Self]) -> Option<&[u8]>;
}

/// Σ over the pairs of `runs` whose two pixels `marks` counts, one slice kernel call per run.
#[inline(always)]
fn run_by_run<P: OnLevel>(level: Level, pixels: &[P], marks: Marks, runs: Runs) -> LagSum {
    let mut total = LagSum::default();
    for t in 0..runs.count {
        let (a, b) = runs.nth(t);
        let (x, y) = (&pixels[a.clone()], &pixels[b.clone()]);
        total += match marks {
            Marks::All => LagSum {
                pairs: a.len() as u64,
                sum_sq: P::sq_diff_sum_on(level, x, y),
            },
            Marks::Mask(m) => P::masked_sum_on(level, x, y, &m[a], &m[b]),
            Marks::NotLeftOut => P::left_out_sum(x, y),
        };
    }
    total
}

/// 16-bit values have a hand-written AVX2 kernel, which the AVX-512 tiers run too, for every
/// pixel or a mask's; the portable tier, and values left out by value (which no run makes of
/// 16-bit pixels), sum them run by run with the loops below.
impl OnLevel for u16 {
    #[inline(always)]
    fn runs_sum_on(level: Level, pixels: &[u16], marks: Marks, runs: Runs, spread: u16) -> LagSum {
        #[cfg(target_arch = "x86_64")]
        if level >= Level::Avx2 && marks != Marks::NotLeftOut {
            let (x, y) = (&pixels[runs.a..], &pixels[runs.b..]);
            let masks = marks.at(&runs).masks();
            // SAFETY: `level` is that of a Tier, which exists only for what this CPU runs, and
            // every tier from AVX2 up has AVX2.
            return unsafe { super::halves_avx2::sum(x, y, masks, runs.at_starts(), spread) };
        }
        run_by_run(level, pixels, marks, runs)
    }

    fn bytes(_pixels: &[u16]) -> Option<&[u8]> {
        None
    }
}

/// Bytes have hand-written kernels on the x86 tiers, which take a lag's runs whole; the
/// portable tier sums them run by run with the loops below.
impl OnLevel for u8 {
    #[inline(always)]
    fn runs_sum_on(level: Level, pixels: &[u8], marks: Marks, runs: Runs, _spread: u16) -> LagSum {
        #[cfg(target_arch = "x86_64")]
        if level >= Level::Avx2 {
            let (x, y) = (&pixels[runs.a..], &pixels[runs.b..]);
            let counted = marks.at(&runs);
            // SAFETY: `level` is that of a Tier, which exists only for what this CPU runs.
            return unsafe {
                match level {
                    Level::Avx2 => super::bytes_avx2::sum(x, y, counted, runs.at_starts()),
                    _ => super::bytes_avx512::sum(level, x, y, counted, runs.at_starts()),
                }
            };
        }
        run_by_run(level, pixels, marks, runs)
    }

    fn bytes(pixels: &[u8]) -> Option<&[u8]> {
        Some(pixels)
    }
}

/// Elements summed in `u32` lanes before widening to `u64`: the most that cannot overflow.
pub const CHUNK: usize = 1 << 16;

impl Pixel for u8 {
    const LEFT_OUT: u8 = u8::MAX;

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
    const LEFT_OUT: u16 = u16::MAX;

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
