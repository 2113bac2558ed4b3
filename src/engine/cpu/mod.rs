//! The CPU engine: exact pair sums with rayon and integer loops the compiler vectorises.
//!
//! Both directions reduce to one primitive, the sum of squared differences between two equal
//! slices (`Pixel::sq_diff_sum`, in `kernels`): a row against itself shifted by k
//! (horizontal), or rows against the rows k below (vertical). A lag over a band of rows is one
//! call ([`kernels::Runs`]), so a row pays no call's fixed cost per lag. Frames whose values all
//! fit a byte (8-bit exports) are summed as bytes, twice as many per vector as 16-bit values.
//! The loops are compiled once per instruction set — AVX-512BW, AVX2, portable — and run on
//! the one the engine's [`Tier`] names; on the x86 tiers the sums are written by hand where the
//! compiler's own vectorising fell short: bytes in `bytes_avx2` and `bytes_avx512` (the latter
//! with VNNI where the tier has it), 16-bit values in `halves_avx2` on every x86 tier, with
//! what the AVX2 ones share in `avx2`. Which pixels count is [`kernels::Marks`]: all, a mask's,
//! or — a byte frame's extremes left out, the default run's case — all but those holding 255,
//! where the left-out values are moved so the kernels tell them by value and read no mask.
//! Where not all count, a band of rows is summed only over the columns that hold a pixel that
//! does. Large frames are cut into row blocks summed in parallel; the [`reference`] loop is the
//! plain definition every tier is tested against.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod bytes_avx2;
#[cfg(target_arch = "x86_64")]
mod bytes_avx512;
#[cfg(target_arch = "x86_64")]
mod halves_avx2;
mod kernels;
mod reference;
mod tier;

use kernels::{Marks, OnLevel, Pixel, Runs};
pub use reference::reference;
pub use tier::{Tier, TIER_VARIABLE};

use std::ops::Range;

use rayon::prelude::*;

use super::{narrow, Engine, Narrowed, Variogram};
use crate::decode::Frame;
use crate::error::FileResult;
use crate::region::{Kept, Patch};
use tier::Level;

/// Pixels per parallel block: below this a frame is summed on the calling thread, since a rayon
/// task would cost more than it saves.
const BLOCK_PIXELS: usize = 1 << 18;

/// The CPU pair-summing engine.
#[derive(Debug, Clone)]
pub struct CpuEngine {
    tier: Tier,
    /// Why the CPU was chosen when a GPU was not ruled out, for the summary line.
    reason: Option<String>,
}

impl Default for CpuEngine {
    /// On the best tier this CPU runs.
    fn default() -> Self {
        CpuEngine::on(Tier::best())
    }
}

impl CpuEngine {
    /// The engine on `tier`.
    pub fn on(tier: Tier) -> Self {
        CpuEngine { tier, reason: None }
    }

    /// The engine standing in for a GPU, for `reason`.
    pub fn because(self, reason: &str) -> Self {
        CpuEngine {
            reason: Some(reason.to_string()),
            ..self
        }
    }
}

impl Engine for CpuEngine {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn describe(&self) -> String {
        match &self.reason {
            Some(r) => format!("cpu ({r})"),
            None => "cpu".into(),
        }
    }

    fn variograms(
        &self,
        frame: &Frame,
        patches: &[Patch],
        max_lag: usize,
    ) -> FileResult<Vec<Variogram>> {
        Ok(patches
            .iter()
            .map(|p| sums_on(self.tier, frame, p, max_lag))
            .collect())
    }
}

/// Pair sums over every pixel of the frame, on the best tier.
pub fn whole_frame(frame: &Frame, max_lag: usize) -> Variogram {
    sums(frame, &Patch::whole(frame), max_lag)
}

/// Pair sums over the pairs of a frame's patch whose two pixels are both inside, on the best
/// tier.
pub fn sums(frame: &Frame, patch: &Patch, max_lag: usize) -> Variogram {
    sums_on(Tier::best(), frame, patch, max_lag)
}

/// As [`sums`], on `tier`.
pub fn sums_on(tier: Tier, frame: &Frame, patch: &Patch, max_lag: usize) -> Variogram {
    let pixels = patch.pixels(frame);
    let narrowed = narrow(&pixels);
    let shape = Shape {
        rows: patch.rows,
        cols: patch.cols,
        max_lag,
        spread: match narrowed {
            Narrowed::Bytes { .. } => u16::from(u8::MAX),
            Narrowed::Halves { spread } => spread,
        },
    };
    match narrowed {
        Narrowed::Bytes { mut bytes, largest } => match patch.kept {
            Kept::Except(lo, hi) if leave_out(&mut bytes, largest, (lo, hi)) => {
                parallel_sums(tier, &bytes, Marks::NotLeftOut, shape)
            }
            ref kept => kept_sums(tier, &bytes, kept, shape),
        },
        Narrowed::Halves { .. } => kept_sums(tier, &pixels, &patch.kept, shape),
    }
}

/// Moves the bytes holding either of `values` (`Kept::Except`'s, a frame's extremes) to 255, so
/// that the kernels tell them by value instead of reading a mask: true when that is sound,
/// because no pixel holds 255 but those moved there. A region's extremes are its frame's, so
/// it always is on a run; otherwise the bytes are left alone and a mask is made.
fn leave_out(bytes: &mut [u8], largest: u8, values: (u16, u16)) -> bool {
    let (lo, hi) = (u8::try_from(values.0), u8::try_from(values.1));
    let sound = largest < u8::LEFT_OUT || lo == Ok(u8::LEFT_OUT) || hi == Ok(u8::LEFT_OUT);
    let (Ok(lo), Ok(hi)) = (lo.or(hi), hi.or(lo)) else {
        return false;
    };
    if sound {
        // Branch-free, so it vectorises.
        for b in bytes.iter_mut() {
            *b = if *b == lo || *b == hi {
                u8::LEFT_OUT
            } else {
                *b
            };
        }
    }
    sound
}

/// The sums of the pairs whose two pixels `kept` keeps, its mask made from the pixels in the
/// width they are summed in.
fn kept_sums<P: OnLevel + PartialEq + TryFrom<u16>>(
    tier: Tier,
    pixels: &[P],
    kept: &Kept,
    shape: Shape,
) -> Variogram {
    let inside = kept.mask(pixels);
    let marks = inside
        .as_deref()
        .map_or(Marks::All, |m| Marks::Mask(m.as_bytes()));
    parallel_sums(tier, pixels, marks, shape)
}

/// A frame's size, the lags summed, and the largest difference two of its values can have,
/// which bounds the squares.
#[derive(Debug, Clone, Copy)]
struct Shape {
    rows: usize,
    cols: usize,
    max_lag: usize,
    spread: u16,
}

fn parallel_sums<P: OnLevel>(tier: Tier, pixels: &[P], marks: Marks, shape: Shape) -> Variogram {
    let block_rows = (BLOCK_PIXELS / shape.cols.max(1)).max(1);
    let blocks = shape.rows.div_ceil(block_rows);
    if blocks <= 1 {
        return block_sums(tier, pixels, marks, shape, 0..shape.rows);
    }
    (0..blocks)
        .into_par_iter()
        .map(|b| {
            let end = ((b + 1) * block_rows).min(shape.rows);
            block_sums(tier, pixels, marks, shape, b * block_rows..end)
        })
        .reduce(
            || Variogram::zeros(shape.max_lag),
            |mut total, part| {
                total.add(&part);
                total
            },
        )
}

/// Sums of the pairs whose first pixel lies in `rows`, with `tier`'s instructions.
fn block_sums<P: OnLevel>(
    tier: Tier,
    pixels: &[P],
    marks: Marks,
    shape: Shape,
    rows: Range<usize>,
) -> Variogram {
    match tier.level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a Tier exists only for a level this CPU runs (Tier::available).
        level @ (Level::Avx512Bw | Level::Avx512Vnni) => unsafe {
            block_sums_avx512(level, pixels, marks, shape, rows)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { block_sums_avx2(Level::Avx2, pixels, marks, shape, rows) },
        _ => block_sums_portable(Level::Portable, pixels, marks, shape, rows),
    }
}

/// The row loops compiled for one instruction set: the portable body inlined into a function
/// with that target feature, so the compiler vectorises it for those registers. `level` picks
/// the hand-written kernels within it.
macro_rules! compiled_for {
    ($name:ident, $feature:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        unsafe fn $name<P: OnLevel>(
            level: Level,
            pixels: &[P],
            marks: Marks,
            shape: Shape,
            rows: Range<usize>,
        ) -> Variogram {
            block_sums_portable(level, pixels, marks, shape, rows)
        }
    };
}

compiled_for!(block_sums_avx512, "avx512bw");
compiled_for!(block_sums_avx2, "avx2");

/// The row loops, inlined into each instruction-set variant above so each is compiled for it.
#[inline(always)]
fn block_sums_portable<P: OnLevel>(
    level: Level,
    pixels: &[P],
    marks: Marks,
    shape: Shape,
    rows: Range<usize>,
) -> Variogram {
    let Shape {
        rows: height,
        cols,
        max_lag,
        spread,
    } = shape;
    let mut vg = Variogram::zeros(max_lag);
    // A band of rows at a time, one kernel call per lag: on rows a few hundred pixels wide, a
    // call per row spent much of its time on the call's fixed cost.
    let band_rows = (BAND_PIXELS / cols.max(1)).max(1);
    for first in rows.clone().step_by(band_rows) {
        let end = (first + band_rows).min(rows.end);
        let span = match marks {
            Marks::All => 0..cols,
            Marks::Mask(m) => inside_columns(m, 0, cols, first..end),
            Marks::NotLeftOut => P::bytes(pixels).map_or(0..cols, |b| {
                inside_columns(b, u8::LEFT_OUT, cols, first..end)
            }),
        };
        let at = first * cols + span.start;
        for k in 1..=max_lag.min(span.len().saturating_sub(1)) {
            // Each row of the band against itself shifted by k.
            let runs = Runs {
                a: at,
                b: at + k,
                len: span.len() - k,
                stride: cols,
                count: end - first,
            };
            vg.horizontal[k - 1] += P::runs_sum_on(level, pixels, marks, runs, spread);
        }
        if span.is_empty() {
            continue;
        }
        for k in 1..=max_lag.min(height - 1 - first) {
            // The rows of the band that have a row k below, against those rows: as one run
            // when whole rows are read.
            let count = end.min(height - k) - first;
            let runs = match span.len() == cols {
                true => Runs {
                    a: at,
                    b: at + k * cols,
                    len: count * cols,
                    stride: 0,
                    count: 1,
                },
                false => Runs {
                    a: at,
                    b: at + k * cols,
                    len: span.len(),
                    stride: cols,
                    count,
                },
            };
            vg.vertical[k - 1] += P::runs_sum_on(level, pixels, marks, runs, spread);
        }
    }
    vg
}

/// The columns of `rows` that hold an inside pixel — a byte other than `outside`, in a 0/1 mask
/// or in pixels whose left-out values were moved to 255 — as one range for them all: a pair
/// whose first pixel lies outside it counts nothing, so the kernels need not read it. A
/// display export's background, left out with its extremes, lies mostly at the sides, and a
/// polygon leaves its box's corners out, so this skips much of what a mask would only zero.
/// Each row is searched only outside the columns already found, so the search reads about
/// what it skips, eight bytes at a time.
#[inline(always)]
fn inside_columns(bytes: &[u8], outside: u8, cols: usize, rows: Range<usize>) -> Range<usize> {
    let (mut start, mut end) = (cols, 0);
    for row in bytes[rows.start * cols..rows.end * cols].chunks_exact(cols) {
        if let Some(first) = first_set(&row[..start], outside) {
            start = first;
        }
        let from = end.max(start);
        if let Some(last) = last_set(&row[from..], outside) {
            end = from + last + 1;
        }
    }
    start.min(end)..end
}

/// The index of the first byte other than `outside`.
#[inline(always)]
fn first_set(bytes: &[u8], outside: u8) -> Option<usize> {
    let words = bytes.chunks_exact(8);
    let tail = bytes.len() - words.remainder().len();
    match words.clone().position(|w| w != [outside; 8]) {
        Some(w) => bytes[8 * w..]
            .iter()
            .position(|&m| m != outside)
            .map(|i| 8 * w + i),
        None => bytes[tail..]
            .iter()
            .position(|&m| m != outside)
            .map(|i| tail + i),
    }
}

/// The index of the last byte other than `outside`.
#[inline(always)]
fn last_set(bytes: &[u8], outside: u8) -> Option<usize> {
    let words = bytes.rchunks_exact(8);
    let head = words.remainder().len();
    match words.clone().position(|w| w != [outside; 8]) {
        Some(w) => {
            let end = bytes.len() - 8 * w;
            bytes[..end].iter().rposition(|&m| m != outside)
        }
        None => bytes[..head].iter().rposition(|&m| m != outside),
    }
}

/// Pixels per band of rows summed lag by lag: enough that a kernel call's fixed cost is small
/// beside its loop, few enough that the band and the rows below it stay in cache.
const BAND_PIXELS: usize = 1 << 14;

#[cfg(test)]
mod tests;
