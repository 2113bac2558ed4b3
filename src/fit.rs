//! Stage 5: the score — the least-squares slope of ln V(k) against ln k.
//!
//! Floating point starts here and only here: V(k) is the pooled mean squared difference, formed
//! once from the exact integer sums, so both engines reach the same bits.

use crate::engine::Variogram;
use crate::error::{FileError, FileResult, Result, RunError};

/// The lags fitted, inclusive, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitRange {
    pub from: usize,
    pub to: usize,
}

impl FitRange {
    /// Checks the range against the lags computed.
    pub fn new(from: usize, to: usize, max_lag: usize) -> Result<Self> {
        if from < 1 || from >= to || to > max_lag {
            return Err(RunError::Config(format!(
                "fit lags {from}..={to} must satisfy 1 <= from < to <= max lag ({max_lag})"
            )));
        }
        Ok(FitRange { from, to })
    }
}

/// The fit range as asked for: in lags, or in millimetres converted per image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FitSpec {
    Lags(FitRange),
    /// From and to, in mm; each image's pixel spacing turns them into whole lags.
    Millimetres(f64, f64),
}

impl std::fmt::Display for FitSpec {
    /// As the manifest records it: `lags 1..=4` or `mm 0.5..=2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitSpec::Lags(r) => write!(f, "lags {}..={}", r.from, r.to),
            FitSpec::Millimetres(a, b) => write!(f, "mm {a}..={b}"),
        }
    }
}

impl FitSpec {
    /// The lags to fit for an image with this (row, column) spacing in mm. Millimetres become
    /// the nearest whole lags at the mean of the two spacings (DXA pixels are square or nearly).
    pub fn lags(&self, spacing: Option<(f64, f64)>, max_lag: usize) -> FileResult<FitRange> {
        let (from_mm, to_mm) = match *self {
            FitSpec::Lags(range) => return Ok(range),
            FitSpec::Millimetres(a, b) => (a, b),
        };
        let Some((row, col)) = spacing else {
            return Err(FileError::Fit(
                "--fit-mm needs the pixel spacing, and this image has none (give --spacing)".into(),
            ));
        };
        let mm = (row + col) / 2.0;
        let lag = |d: f64| (d / mm).round().max(1.0) as usize;
        let (from, to) = (lag(from_mm), lag(to_mm));
        if from >= to || to > max_lag {
            return Err(FileError::Fit(format!(
                "--fit-mm {from_mm} {to_mm} at {mm} mm per pixel is lags {from}..={to}, which \
                 needs two lags within 1..={max_lag} (--max-lag)"
            )));
        }
        Ok(FitRange { from, to })
    }
}

/// A fitted variogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The slope: the score.
    pub tbs: f64,
    pub intercept: f64,
    pub r2: f64,
    /// The lags that entered the fit (those with pairs and V > 0).
    pub lags: Vec<usize>,
}

/// V(k) for each lag in the range, pooled over both directions; `None` where there are no pairs.
pub fn variogram_values(vg: &Variogram, range: FitRange) -> Vec<(usize, Option<f64>)> {
    (range.from..=range.to)
        .map(|k| {
            let s = vg.pooled(k);
            let v = (s.pairs > 0).then(|| s.sum_sq as f64 / s.pairs as f64);
            (k, v)
        })
        .collect()
}

/// Fits ln V(k) = intercept + tbs · ln k over the usable lags of the range.
pub fn fit(vg: &Variogram, range: FitRange) -> FileResult<Fit> {
    let values = variogram_values(vg, range);
    let usable: Vec<(usize, f64)> = values
        .iter()
        .filter_map(|&(k, v)| v.filter(|v| *v > 0.0).map(|v| (k, v)))
        .collect();
    if usable.len() < 2 {
        return Err(FileError::Fit(unusable_reason(&values, range)));
    }
    let points: Vec<(f64, f64)> = usable
        .iter()
        .map(|&(k, v)| ((k as f64).ln(), v.ln()))
        .collect();
    let (tbs, intercept, r2) = least_squares(&points);
    Ok(Fit {
        tbs,
        intercept,
        r2,
        lags: usable.iter().map(|&(k, _)| k).collect(),
    })
}

/// Explains why fewer than two lags are usable.
fn unusable_reason(values: &[(usize, Option<f64>)], range: FitRange) -> String {
    let with_pairs = values.iter().filter(|(_, v)| v.is_some()).count();
    let lags = format!("lags {}..={}", range.from, range.to);
    if with_pairs < 2 {
        format!(
            "region too small: only {with_pairs} of {lags} have pixel pairs (at least 2 are needed)"
        )
    } else {
        format!(
            "flat image: the variogram is 0 at all but {} of {lags} (no texture to fit)",
            values
                .iter()
                .filter(|(_, v)| v.is_some_and(|v| v > 0.0))
                .count()
        )
    }
}

/// Ordinary least squares of y on x: (slope, intercept, R²). R² is 1 when y does not vary.
fn least_squares(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let r2 = if syy == 0.0 {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    (slope, intercept, r2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::LagSum;

    /// A variogram whose pooled V(k) is exactly c · k^slope at the given lags.
    fn power_law(c: f64, slope: f64, max_lag: usize) -> Variogram {
        let mut vg = Variogram::zeros(max_lag);
        for k in 1..=max_lag {
            let pairs = 1_000_000u64;
            let v = c * (k as f64).powf(slope);
            vg.horizontal[k - 1] = LagSum {
                pairs,
                sum_sq: (v * pairs as f64).round() as u64,
            };
        }
        vg
    }

    #[test]
    fn a_power_law_is_recovered() {
        let f = fit(&power_law(50.0, 0.8, 8), FitRange::new(1, 4, 8).unwrap()).unwrap();
        assert!((f.tbs - 0.8).abs() < 1e-6, "{}", f.tbs);
        assert!((f.intercept - 50f64.ln()).abs() < 1e-6);
        assert!((f.r2 - 1.0).abs() < 1e-9);
        assert_eq!(f.lags, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_flat_image_cannot_be_fitted() {
        let mut vg = Variogram::zeros(4);
        for s in vg.horizontal.iter_mut() {
            s.pairs = 10;
        }
        let err = fit(&vg, FitRange::new(1, 4, 4).unwrap()).unwrap_err();
        assert!(err.to_string().contains("flat image"), "{err}");
    }

    #[test]
    fn too_few_pairs_is_a_small_region() {
        let mut vg = Variogram::zeros(4);
        vg.horizontal[0] = LagSum {
            pairs: 1,
            sum_sq: 4,
        };
        let err = fit(&vg, FitRange::new(1, 4, 4).unwrap()).unwrap_err();
        assert!(err.to_string().contains("region too small"), "{err}");
    }

    #[test]
    fn lags_without_pairs_are_left_out() {
        let mut vg = power_law(3.0, 1.2, 4);
        vg.horizontal[3] = LagSum::default();
        let f = fit(&vg, FitRange::new(1, 4, 4).unwrap()).unwrap();
        assert_eq!(f.lags, vec![1, 2, 3]);
        assert!((f.tbs - 1.2).abs() < 1e-6);
    }

    #[test]
    fn bad_ranges_are_rejected() {
        assert!(FitRange::new(0, 4, 16).is_err());
        assert!(FitRange::new(4, 4, 16).is_err());
        assert!(FitRange::new(1, 17, 16).is_err());
    }
}
