//! The image as the locator reads it: stored values graded to 0 (dark, no bone) … 1 (densest
//! bone) whatever the bit depth, photometric or windowing, averaged into blocks of about half a
//! millimetre, with the frame's fill and clipped values marked as no data.

use crate::decode::{Frame, Histogram};

/// The work image: `rows × cols` blocks of `block × block` stored pixels, each `mm` wide.
pub(super) struct Work {
    pub rows: usize,
    pub cols: usize,
    /// Stored pixels per block side.
    pub block: usize,
    /// A block's side in mm.
    pub mm: f64,
    /// Graded values, row by row, inside a border one block wide of NaN (so a sample at the
    /// edge needs no bounds of its own); NaN where the block holds mostly no data.
    values: Vec<f32>,
}

/// The block side aimed at, in mm: fine enough to place a disc within a pixel, coarse enough
/// that noise averages out.
const BLOCK_MM: f64 = 0.5;

/// Fine blocks per coarse block side: the coarse image's blocks are about 1 mm.
pub(super) const COARSE: usize = 2;

/// The largest block side: pixels finer than 0.125 mm make a work image finer than 0.5 mm.
const MOST_BLOCK: usize = 4;

impl Work {
    /// Grades and blocks `frame`, whose pixels are `spacing_mm` wide and whose smallest and
    /// largest stored values are `no_data`; `inverted` for MONOCHROME1.
    pub fn new(frame: &Frame, no_data: (u16, u16), spacing_mm: f64, inverted: bool) -> Work {
        let block = ((BLOCK_MM / spacing_mm).round() as usize).clamp(1, MOST_BLOCK);
        let mut work = Work::blank(
            frame.rows / block,
            frame.cols / block,
            block,
            block as f64 * spacing_mm,
        );
        match block {
            1 => work.fill::<1>(frame, no_data),
            2 => work.fill::<2>(frame, no_data),
            3 => work.fill::<3>(frame, no_data),
            _ => work.fill::<MOST_BLOCK>(frame, no_data),
        }
        // Graded afterwards, in place: the same float operations as grading each mean.
        let grade = Grade::of(frame, no_data, inverted);
        for v in &mut work.values {
            *v = grade.offset + grade.factor * *v;
        }
        work
    }

    /// Fills each block of `B × B` stored pixels with their mean, in stored units. A band's
    /// columns are summed in 16 bits where `B` of the largest value fit (display and 12-bit
    /// exports), twice as many to a vector as in 32.
    fn fill<const B: usize>(&mut self, frame: &Frame, no_data: (u16, u16)) {
        if u32::from(no_data.1) * B as u32 <= u32::from(u16::MAX) {
            self.fill_summing::<B, u16>(frame, no_data);
        } else {
            self.fill_summing::<B, u32>(frame, no_data);
        }
    }

    /// [`Work::fill_portable`], with AVX2 where the CPU has it, whatever the kernels' tier:
    /// integer sums and the same float operations per block, so every tier fills the same
    /// values.
    fn fill_summing<const B: usize, S: ColumnSum>(&mut self, frame: &Frame, no_data: (u16, u16)) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been seen to run AVX2.
            return unsafe { self.fill_avx2::<B, S>(frame, no_data) };
        }
        self.fill_portable::<B, S>(frame, no_data);
    }

    /// [`Work::fill_portable`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn fill_avx2<const B: usize, S: ColumnSum>(
        &mut self,
        frame: &Frame,
        no_data: (u16, u16),
    ) {
        self.fill_portable::<B, S>(frame, no_data);
    }

    /// Each band of `B` lines summed column by column into `S`, pixels with data and their
    /// count (a plain element-wise loop, which vectorises), then each block's `B` columns
    /// added in u32 (at most 4 × 4 values of 16 bits).
    #[inline(always)]
    fn fill_portable<const B: usize, S: ColumnSum>(&mut self, frame: &Frame, no_data: (u16, u16)) {
        let (lo, hi) = no_data;
        let needed = (B * B).div_ceil(2) as f32;
        let width = self.cols * B;
        let (mut sums, mut counts) = (vec![S::default(); width], vec![S::default(); width]);
        let bands = frame.pixels.chunks_exact(frame.cols.max(1) * B);
        for (r, band) in bands.take(self.rows).enumerate() {
            sums.fill(S::default());
            counts.fill(S::default());
            for line in band.chunks_exact(frame.cols) {
                for ((s, n), &p) in sums.iter_mut().zip(counts.iter_mut()).zip(&line[..width]) {
                    let data = S::from(p != lo && p != hi);
                    *s += S::from(p) * data;
                    *n += data;
                }
            }
            let blocks = sums
                .as_chunks::<B>()
                .0
                .iter()
                .zip(counts.as_chunks::<B>().0);
            for (v, (s, n)) in self.row_mut(r).iter_mut().zip(blocks) {
                let total = |b: &[S; B]| b.iter().map(|&x| x.into()).sum::<u32>();
                let (s, n) = (total(s), total(n) as f32);
                let mean = s as f32 / n.max(1.0);
                *v = if n >= needed { mean } else { f32::NAN };
            }
        }
    }

    /// An image of no data, to be filled.
    fn blank(rows: usize, cols: usize, block: usize, mm: f64) -> Work {
        Work {
            rows,
            cols,
            block,
            mm,
            values: vec![f32::NAN; (rows + 2) * (cols + 2)],
        }
    }

    /// Row `r`'s blocks, without the border.
    pub fn row(&self, r: usize) -> &[f32] {
        let from = (r + 1) * (self.cols + 2) + 1;
        &self.values[from..from + self.cols]
    }

    fn row_mut(&mut self, r: usize) -> &mut [f32] {
        let from = (r + 1) * (self.cols + 2) + 1;
        &mut self.values[from..from + self.cols]
    }

    /// This image averaged over [`COARSE`] × [`COARSE`] of its blocks: the coarse image the
    /// searches run on. A coarse block holds data when at least half its blocks do.
    pub fn coarser(&self) -> Work {
        const K: usize = COARSE;
        let mut coarse = Work::blank(
            self.rows / K,
            self.cols / K,
            self.block * K,
            self.mm * K as f64,
        );
        let (mut sums, mut counts) = (vec![0.0f32; coarse.cols], vec![0u32; coarse.cols]);
        for r in 0..coarse.rows {
            sums.fill(0.0);
            counts.fill(0);
            for i in 0..K {
                let (row, _) = self.row(r * K + i).as_chunks::<K>();
                for ((s, n), blocks) in sums.iter_mut().zip(counts.iter_mut()).zip(row) {
                    for &v in blocks {
                        let data = !v.is_nan();
                        *s += if data { v } else { 0.0 };
                        *n += u32::from(data);
                    }
                }
            }
            for (v, (&s, &n)) in coarse.row_mut(r).iter_mut().zip(sums.iter().zip(&counts)) {
                let mean = s / n.max(1) as f32;
                *v = if 2 * n as usize >= K * K {
                    mean
                } else {
                    f32::NAN
                };
            }
        }
        coarse
    }

    /// Millimetres as work pixels.
    pub fn px(&self, mm: f64) -> f64 {
        mm / self.mm
    }

    /// Bilinear value at continuous work coordinates (x, y): block (r, c) covers
    /// [c, c + 1) × [r, r + 1), its value sits at its centre. NaN where a neighbour has none.
    pub fn at(&self, x: f64, y: f64) -> f32 {
        let (fx, fy) = (x - 0.5, y - 0.5);
        let (c, r) = (floor(fx), floor(fy));
        // The four neighbours, the border's NaN included, are blocks -1 ..= rows (cols).
        if !(-1..self.cols as i64).contains(&c) || !(-1..self.rows as i64).contains(&r) {
            return f32::NAN;
        }
        let (ax, ay) = ((fx - c as f64) as f32, (fy - r as f64) as f32);
        let stride = self.cols + 2;
        let at = (r + 1) as usize * stride + (c + 1) as usize;
        let (top, bottom) = (
            &self.values[at..at + 2],
            &self.values[at + stride..at + stride + 2],
        );
        let top = top[0] * (1.0 - ax) + top[1] * ax;
        let bottom = bottom[0] * (1.0 - ax) + bottom[1] * ax;
        top * (1.0 - ay) + bottom * ay
    }

    /// Row `r`'s centre line (y = r + 0.5), where bilinear sampling is linear along the row:
    /// the searches that run along rows read it at a fraction of [`Work::at`]'s cost. Rows
    /// outside the image hold no data.
    pub fn on_row(&self, r: isize) -> OnRow<'_> {
        let stride = self.cols + 2;
        let from = if (0..self.rows as isize).contains(&r) {
            (r as usize + 1) * stride
        } else {
            0
        };
        OnRow {
            values: &self.values[from..from + stride],
        }
    }

    /// The share of row `r`'s blocks that hold data.
    pub fn row_coverage(&self, r: usize) -> f64 {
        self.row(r).iter().filter(|v| !v.is_nan()).count() as f64 / self.cols.max(1) as f64
    }
}

/// One row's values and its border, sampled along the row.
pub(super) struct OnRow<'w> {
    values: &'w [f32],
}

impl OnRow<'_> {
    /// The value at continuous column x, linear between block centres; NaN where a
    /// neighbour has none.
    pub fn at(&self, x: f64) -> f32 {
        let fx = x - 0.5;
        let c = floor(fx);
        if !(-1..(self.values.len() - 2) as i64).contains(&c) {
            return f32::NAN;
        }
        let ax = (fx - c as f64) as f32;
        let at = (c + 1) as usize;
        self.values[at] * (1.0 - ax) + self.values[at + 1] * ax
    }
}

/// `x.floor()` as an integer, without the library call baseline x86-64 makes of it: the
/// locator samples the image tens of thousands of times a frame. Far outside any image for
/// values beyond i64.
fn floor(x: f64) -> i64 {
    let t = x as i64;
    t - i64::from((t as f64) > x)
}

/// What a band's column sums are held in: u16 or u32.
trait ColumnSum:
    Copy
    + Default
    + From<u16>
    + From<bool>
    + Into<u32>
    + std::ops::AddAssign
    + std::ops::Mul<Output = Self>
{
}

impl ColumnSum for u16 {}
impl ColumnSum for u32 {}

/// How stored values map to graded ones: the 1st and 99th percentiles of the pixels holding
/// data go to 0 and 1 (1 and 0 for MONOCHROME1), so a re-graded image grades the same.
struct Grade {
    /// Graded = offset + factor × stored.
    offset: f32,
    factor: f32,
}

/// The most bins the grading's histogram keeps: percentiles to 1/4096 of the stored range.
const GRADE_BINS: usize = 4096;

/// Every how many rows and columns the grading samples a pixel: a sixteenth of them (some
/// 35,000 in an iDXA export, 350 in each 1 % tail) place the percentiles as well as all.
const GRADE_STEP: usize = 4;

impl Grade {
    /// Percentiles of the pixels other than the `no_data` extremes.
    fn of(frame: &Frame, no_data: (u16, u16), inverted: bool) -> Grade {
        let sample = frame
            .pixels
            .chunks_exact(frame.cols.max(1))
            .step_by(GRADE_STEP)
            .flat_map(|row| row.iter().step_by(GRADE_STEP).copied());
        let (low, high) = (no_data.0.saturating_add(1), no_data.1.saturating_sub(1));
        let histogram = Histogram::within(sample, low, high, GRADE_BINS);
        let quantile = |q: f64| f64::from(histogram.at_rank((q * histogram.total() as f64) as u64));
        let (lo, hi) = (quantile(0.01), quantile(0.99));
        let scale = 1.0 / (hi - lo).max(1.0);
        if inverted {
            Grade {
                offset: (1.0 + lo * scale) as f32,
                factor: -scale as f32,
            }
        } else {
            Grade {
                offset: (-lo * scale) as f32,
                factor: scale as f32,
            }
        }
    }
}
