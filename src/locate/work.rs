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
    /// Graded values, row by row; NaN where the block holds mostly no data.
    values: Vec<f32>,
}

/// The block side aimed at, in mm: fine enough to place a disc within a pixel, coarse enough
/// that noise averages out.
const BLOCK_MM: f64 = 0.5;

impl Work {
    /// Grades and blocks `frame`, whose pixels are `spacing_mm` wide and whose smallest and
    /// largest stored values are `no_data`; `inverted` for MONOCHROME1.
    pub fn new(frame: &Frame, no_data: (u16, u16), spacing_mm: f64, inverted: bool) -> Work {
        let block = ((BLOCK_MM / spacing_mm).round() as usize).max(1);
        let grade = Grade::of(frame, no_data, inverted);
        let (rows, cols) = (frame.rows / block, frame.cols / block);
        let mut values = Vec::with_capacity(rows * cols);
        // Each band of `block` stored rows summed column by column (element-wise, so it
        // vectorises), then the columns summed by block. At most 3 × 3 values of 16 bits: u32.
        let width = cols * block;
        let (mut sums, mut counts) = (vec![0u32; width], vec![0u32; width]);
        let (lo, hi) = grade.no_data;
        let needed = (block * block).div_ceil(2) as u32;
        for band in frame
            .pixels
            .chunks_exact(frame.cols.max(1) * block)
            .take(rows)
        {
            sums.fill(0);
            counts.fill(0);
            for line in band.chunks_exact(frame.cols) {
                for ((s, n), &p) in sums.iter_mut().zip(counts.iter_mut()).zip(&line[..width]) {
                    let data = u32::from(p != lo && p != hi);
                    *s += u32::from(p) * data;
                    *n += data;
                }
            }
            let blocks = sums.chunks_exact(block).zip(counts.chunks_exact(block));
            values.extend(blocks.map(|(s, n)| {
                let (s, n) = (s.iter().sum::<u32>(), n.iter().sum::<u32>());
                if n < needed {
                    f32::NAN
                } else {
                    grade.value(f64::from(s) / f64::from(n))
                }
            }));
        }
        Work {
            rows,
            cols,
            block,
            mm: block as f64 * spacing_mm,
            values,
        }
    }

    /// This image averaged over `k × k` of its blocks: the coarse image the searches run on.
    /// A coarse block holds data when most of its blocks do.
    pub fn coarser(&self, k: usize) -> Work {
        let (rows, cols) = (self.rows / k, self.cols / k);
        let mut values = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                let (mut sum, mut n) = (0.0, 0);
                for i in 0..k {
                    for j in 0..k {
                        let v = self.values[(r * k + i) * self.cols + c * k + j];
                        if !v.is_nan() {
                            sum += v;
                            n += 1;
                        }
                    }
                }
                values.push(if 2 * n < k * k {
                    f32::NAN
                } else {
                    sum / n as f32
                });
            }
        }
        Work {
            rows,
            cols,
            block: self.block * k,
            mm: self.mm * k as f64,
            values,
        }
    }

    /// Millimetres as work pixels.
    pub fn px(&self, mm: f64) -> f64 {
        mm / self.mm
    }

    /// The value of block (row, col), NaN outside or without data.
    pub fn get(&self, row: isize, col: isize) -> f32 {
        if row < 0 || col < 0 || row as usize >= self.rows || col as usize >= self.cols {
            return f32::NAN;
        }
        self.values[row as usize * self.cols + col as usize]
    }

    /// Bilinear value at continuous work coordinates (x, y): block (r, c) covers
    /// [c, c + 1) × [r, r + 1), its value sits at its centre. NaN where a neighbour has none.
    pub fn at(&self, x: f64, y: f64) -> f32 {
        let (fx, fy) = (x - 0.5, y - 0.5);
        let (c, r) = (floor(fx), floor(fy));
        let (ax, ay) = ((fx - c) as f32, (fy - r) as f32);
        let (c, r) = (c as isize, r as isize);
        let top = self.get(r, c) * (1.0 - ax) + self.get(r, c + 1) * ax;
        let bottom = self.get(r + 1, c) * (1.0 - ax) + self.get(r + 1, c + 1) * ax;
        top * (1.0 - ay) + bottom * ay
    }

    /// The share of row `r`'s blocks that hold data.
    pub fn row_coverage(&self, r: usize) -> f64 {
        let row = &self.values[r * self.cols..(r + 1) * self.cols];
        row.iter().filter(|v| !v.is_nan()).count() as f64 / self.cols.max(1) as f64
    }
}

/// `x.floor()` without the library call baseline x86-64 makes of it: the locator samples the
/// image a few hundred thousand times a frame.
fn floor(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t > x {
        t - 1.0
    } else {
        t
    }
}

/// How stored values map to graded ones: the 1st and 99th percentiles of the pixels holding
/// data go to 0 and 1, so a re-graded image grades the same.
struct Grade {
    lo: f64,
    span: f64,
    inverted: bool,
    /// The frame's minimum and maximum: clipped background and fill in a display export.
    no_data: (u16, u16),
}

impl Grade {
    fn of(frame: &Frame, no_data: (u16, u16), inverted: bool) -> Grade {
        // Every fifth pixel places percentiles as well as all of them, at a fifth of the cost.
        let histogram = Histogram::of(frame.pixels.iter().copied().step_by(5))
            .without(no_data.0)
            .without(no_data.1);
        let quantile = |q: f64| f64::from(histogram.at_rank((q * histogram.total() as f64) as u64));
        let (lo, hi) = (quantile(0.01), quantile(0.99));
        Grade {
            lo,
            span: (hi - lo).max(1.0),
            inverted,
            no_data,
        }
    }

    /// A stored value (or a block's mean) graded.
    fn value(&self, stored: f64) -> f32 {
        let graded = (stored - self.lo) / self.span;
        (if self.inverted { 1.0 - graded } else { graded }) as f32
    }
}
