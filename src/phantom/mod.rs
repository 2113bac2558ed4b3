//! Phantoms with known texture: fractional Brownian surfaces of chosen Hurst exponent H.
//!
//! The variogram of fractional Brownian motion grows as k^(2H), so a phantom's score should land
//! near 2H. Surfaces are made by spectral synthesis (Gaussian noise shaped by |f|^-(H+1), then an
//! inverse FFT) on a grid twice the image size, cropped, so the FFT's wrap-around stays outside
//! the image. Everything is seeded: the same settings always give the same pixels.

pub mod anatomy;
mod delivery;
mod file;
mod rle;
mod sets;
pub mod spine;

pub use delivery::{write_delivery, DeliverySet};
pub use file::{write_dicom, Syntax};
pub use sets::{write_anatomies, write_phantoms, write_spines, AnatomySet, PhantomSet, SpineSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use crate::decode::Frame;
use crate::error::{Result, RunError};

/// How the surface is turned into stored values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The full range of the bit depth (a raw research export).
    Raw,
    /// Shaped like a display-processed 8-bit CR export: 125 even texture levels 2..=250, a zero
    /// background margin left and right, a saturated 252 fill band at top and bottom.
    Display,
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub rows: usize,
    pub cols: usize,
    pub hurst: f64,
    pub bits_stored: u16,
    pub signed: bool,
    pub style: Style,
    pub seed: u64,
}

/// A generated image: stored values as signed integers, exactly what goes into the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Phantom {
    pub spec: Spec,
    pub values: Vec<i32>,
}

impl Phantom {
    /// Generates the phantom described by `spec`.
    pub fn generate(spec: Spec) -> Result<Self> {
        validate(&spec)?;
        let surface = fbm_surface(spec.rows, spec.cols, spec.hurst, spec.seed);
        let values = match spec.style {
            Style::Raw => quantize(&surface, range(spec.bits_stored, spec.signed)),
            Style::Display => display_export(&surface, spec.rows, spec.cols),
        };
        Ok(Phantom { spec, values })
    }

    /// The frame the decoder should produce from this phantom's file (offset binary if signed).
    pub fn frame(&self) -> Frame {
        let offset = if self.spec.signed { 32768 } else { 0 };
        let pixels = self.values.iter().map(|&v| (v + offset) as u16).collect();
        Frame {
            rows: self.spec.rows,
            cols: self.spec.cols,
            pixels,
        }
    }
}

fn validate(spec: &Spec) -> Result<()> {
    if !(0.0..=1.0).contains(&spec.hurst) || spec.hurst == 0.0 {
        return Err(RunError::Config(format!(
            "Hurst exponent {} must be in (0, 1]",
            spec.hurst
        )));
    }
    if !(2..=16).contains(&spec.bits_stored) {
        return Err(RunError::Config(format!(
            "bits stored {} must be 2..=16",
            spec.bits_stored
        )));
    }
    if spec.rows == 0 || spec.cols == 0 || spec.rows > 8192 || spec.cols > 8192 {
        return Err(RunError::Config(format!(
            "size {} × {} must be 1..=8192 each way",
            spec.rows, spec.cols
        )));
    }
    if spec.style == Style::Display && (spec.bits_stored != 8 || spec.signed) {
        return Err(RunError::Config(
            "the display style is an unsigned 8-bit export".into(),
        ));
    }
    Ok(())
}

/// The stored-value range of a bit depth.
fn range(bits: u16, signed: bool) -> (i32, i32) {
    if signed {
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    } else {
        (0, (1 << bits) - 1)
    }
}

/// A zero-mean fBm-like surface, row-major `rows × cols`.
pub fn fbm_surface(rows: usize, cols: usize, hurst: f64, seed: u64) -> Vec<f64> {
    let (n, m) = (
        (2 * rows).next_power_of_two(),
        (2 * cols).next_power_of_two(),
    );
    // The spectrum depends on |fx| and |fy| only: one quadrant, in parallel; the random draws
    // in order, so the surface is the same on any core count.
    let (qn, qm) = (n / 2 + 1, m / 2 + 1);
    let quadrant: Vec<f64> = (0..qn * qm)
        .into_par_iter()
        .map(|i| {
            let (fy, fx) = (frequency(i / qm, n), frequency(i % qm, m));
            aliased_power(fx, fy, hurst).sqrt()
        })
        .collect();
    let folded = |i: usize, len: usize| if i <= len / 2 { i } else { len - i };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut grid: Vec<Complex<f64>> = (0..n * m)
        .map(|i| {
            let a = quadrant[folded(i / m, n) * qm + folded(i % m, m)];
            Complex::new(gaussian(&mut rng), gaussian(&mut rng)) * a
        })
        .collect();
    inverse_fft_2d(&mut grid, (n, m), rows, cols)
}

/// Periodic images of the spectrum summed into each bin. Sampling folds the continuous spectrum
/// |f|^-(2H+2) onto the grid; leaving the folded terms out starves the shortest lags of variance
/// and steepens the slope, most for small H.
const ALIASES: i32 = 3;

/// The power of sampled fBm at frequency (fx, fy): the continuous spectrum summed over its
/// periodic images. Zero at the origin, where fBm has no defined mean.
fn aliased_power(fx: f64, fy: f64, hurst: f64) -> f64 {
    if fx == 0.0 && fy == 0.0 {
        return 0.0;
    }
    // Summed at |f|, so that ±f give the same bits.
    let (fx, fy) = (fx.abs(), fy.abs());
    let mut total = 0.0;
    for a in -ALIASES..=ALIASES {
        for b in -ALIASES..=ALIASES {
            let (x, y) = (fx + f64::from(a), fy + f64::from(b));
            total += (x * x + y * y).powf(-(hurst + 1.0));
        }
    }
    total
}

/// The signed frequency of FFT bin `i` of `n`, in cycles per sample.
fn frequency(i: usize, n: usize) -> f64 {
    let signed = if i <= n / 2 {
        i as f64
    } else {
        i as f64 - n as f64
    };
    signed / n as f64
}

/// A standard normal deviate (Box–Muller).
pub(super) fn gaussian(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The real part of the 2-D inverse FFT of the `n × m` grid, only its first `rows × cols`
/// (the rest is padding against periodicity): rows transformed in parallel, then only the
/// `cols` columns kept, each on its own.
fn inverse_fft_2d(
    grid: &mut [Complex<f64>],
    (n, m): (usize, usize),
    rows: usize,
    cols: usize,
) -> Vec<f64> {
    let mut planner = FftPlanner::new();
    let row_fft = planner.plan_fft_inverse(m);
    grid.par_chunks_exact_mut(m)
        .for_each(|row| row_fft.process(row));
    let col_fft = planner.plan_fft_inverse(n);
    let columns: Vec<Vec<f64>> = (0..cols)
        .into_par_iter()
        .map(|c| {
            let mut column: Vec<Complex<f64>> = (0..n).map(|r| grid[r * m + c]).collect();
            col_fft.process(&mut column);
            column[..rows].iter().map(|v| v.re).collect()
        })
        .collect();
    (0..rows * cols)
        .map(|i| columns[i % cols][i / cols])
        .collect()
}

/// Maps the surface linearly onto `lo..=hi`, using the central 90 % of the range.
fn quantize(surface: &[f64], (lo, hi): (i32, i32)) -> Vec<i32> {
    let (min, max) = surface
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = (max - min).max(f64::MIN_POSITIVE);
    let width = f64::from(hi - lo);
    surface
        .iter()
        .map(|&v| {
            let t = 0.05 + 0.9 * (v - min) / span;
            (f64::from(lo) + (t * width).round()).clamp(f64::from(lo), f64::from(hi)) as i32
        })
        .collect()
}

/// The display-processed 8-bit layout (see [`Style::Display`]).
fn display_export(surface: &[f64], rows: usize, cols: usize) -> Vec<i32> {
    let levels = quantize(surface, (1, 125));
    let margin = cols / 10;
    let band = rows / 20;
    (0..rows * cols)
        .map(|i| {
            let (r, c) = (i / cols, i % cols);
            if c < margin || c >= cols - margin {
                0
            } else if r < band || r >= rows - band {
                252
            } else {
                2 * levels[i]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hurst: f64) -> Spec {
        Spec {
            rows: 64,
            cols: 48,
            hurst,
            bits_stored: 12,
            signed: false,
            style: Style::Raw,
            seed: 7,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_pixels() {
        assert_eq!(
            Phantom::generate(spec(0.5)).unwrap(),
            Phantom::generate(spec(0.5)).unwrap()
        );
    }

    #[test]
    fn values_stay_in_the_bit_depth() {
        let p = Phantom::generate(Spec {
            signed: true,
            ..spec(0.3)
        })
        .unwrap();
        assert!(p.values.iter().all(|v| (-2048..=2047).contains(v)));
        assert!(p.values.iter().any(|&v| v < 0));
    }

    #[test]
    fn the_display_style_has_127_levels_with_background_and_fill() {
        let p = Phantom::generate(Spec {
            rows: 716,
            cols: 780,
            bits_stored: 8,
            style: Style::Display,
            ..spec(0.5)
        })
        .unwrap();
        let distinct: std::collections::BTreeSet<i32> = p.values.iter().copied().collect();
        assert!(distinct.contains(&0) && distinct.contains(&252));
        assert!(distinct.iter().all(|v| v % 2 == 0 && *v <= 252));
        assert!(
            distinct.len() <= 127 && distinct.len() > 100,
            "{}",
            distinct.len()
        );
    }

    #[test]
    fn impossible_specs_are_refused() {
        assert!(Phantom::generate(Spec {
            hurst: 1.5,
            ..spec(0.5)
        })
        .is_err());
        assert!(Phantom::generate(Spec {
            bits_stored: 20,
            ..spec(0.5)
        })
        .is_err());
    }
}
