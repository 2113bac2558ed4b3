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
        let grade = Grade::of(frame, no_data, inverted);
        let mut work = Work::blank(
            frame.rows / block,
            frame.cols / block,
            block,
            block as f64 * spacing_mm,
        );
        match block {
            1 => work.fill::<1>(frame, no_data, &grade),
            2 => work.fill::<2>(frame, no_data, &grade),
            3 => work.fill::<3>(frame, no_data, &grade),
            _ => work.fill::<MOST_BLOCK>(frame, no_data, &grade),
        }
        work
    }

    /// Fills each block of `B × B` stored pixels with its graded mean, with AVX2 where the CPU
    /// has it (whatever the kernels' tier: integer sums and the same float operations per
    /// block, so every tier fills the same values).
    fn fill<const B: usize>(&mut self, frame: &Frame, no_data: (u16, u16), grade: &Grade) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been seen to run AVX2.
            return unsafe { self.fill_avx2::<B>(frame, no_data, grade) };
        }
        self.fill_portable::<B>(frame, no_data, grade);
    }

    /// [`Work::fill_portable`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn fill_avx2<const B: usize>(
        &mut self,
        frame: &Frame,
        no_data: (u16, u16),
        grade: &Grade,
    ) {
        self.fill_portable::<B>(frame, no_data, grade);
    }

    /// The pixels of each band of `B` rows summed into their block's column (the block's
    /// width known at compile time, so it vectorises), then the column graded. At most 4 × 4
    /// values of 16 bits: u32.
    #[inline(always)]
    fn fill_portable<const B: usize>(&mut self, frame: &Frame, no_data: (u16, u16), grade: &Grade) {
        let (lo, hi) = no_data;
        let needed = (B * B).div_ceil(2) as f32;
        let (mut sums, mut counts) = (vec![0u32; self.cols], vec![0u32; self.cols]);
        let bands = frame.pixels.chunks_exact(frame.cols.max(1) * B);
        for (r, band) in bands.take(self.rows).enumerate() {
            sums.fill(0);
            counts.fill(0);
            for line in band.chunks_exact(frame.cols) {
                let (blocks, _) = line.as_chunks::<B>();
                for ((s, n), pixels) in sums.iter_mut().zip(counts.iter_mut()).zip(blocks) {
                    for &p in pixels {
                        let data = u32::from(p != lo && p != hi);
                        *s += u32::from(p) * data;
                        *n += data;
                    }
                }
            }
            for (v, (&s, &n)) in self.row_mut(r).iter_mut().zip(sums.iter().zip(&counts)) {
                let n = n as f32;
                let graded = grade.offset + grade.factor * (s as f32 / n.max(1.0));
                *v = if n >= needed { graded } else { f32::NAN };
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
        if !(-1.0..self.cols as f64).contains(&c) || !(-1.0..self.rows as f64).contains(&r) {
            return f32::NAN;
        }
        let (ax, ay) = ((fx - c) as f32, (fy - r) as f32);
        let stride = self.cols + 2;
        let at = (r as isize + 1) as usize * stride + (c as isize + 1) as usize;
        let (top, bottom) = (
            &self.values[at..at + 2],
            &self.values[at + stride..at + stride + 2],
        );
        let top = top[0] * (1.0 - ax) + top[1] * ax;
        let bottom = bottom[0] * (1.0 - ax) + bottom[1] * ax;
        top * (1.0 - ay) + bottom * ay
    }

    /// The share of row `r`'s blocks that hold data.
    pub fn row_coverage(&self, r: usize) -> f64 {
        self.row(r).iter().filter(|v| !v.is_nan()).count() as f64 / self.cols.max(1) as f64
    }
}

/// `x.floor()` without the library call baseline x86-64 makes of it: the locator samples the
/// image tens of thousands of times a frame.
fn floor(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t > x {
        t - 1.0
    } else {
        t
    }
}

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
