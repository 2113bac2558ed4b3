//! What the report gathers from the cohort's rows, as the library types them: per region its
//! scores, fit qualities and the rows to look at first; per scanner its scores; the failures.
//!
//! A run's rows arrive as [`ResultRow`]s; an earlier attempt's (`--resume`) or a merged
//! cohort's are read from the results file once, into the same [`Reported`] shape, so the
//! statistics are computed from one kind of value whichever way the rows came.

use crate::locate;
use std::collections::BTreeMap;
use std::path::Path;

use crate::cohort::ResultsReader;
use crate::error::{Result, RunError};
use crate::write::{Outcome, ResultRow};

/// Failures listed one by one; beyond this the page counts them and points to the CSV.
pub(super) const FAILURES_LISTED: usize = 1000;
/// Rows listed per reason in "Rows to check".
pub(super) const MARKED: usize = 5;

/// What the report takes from one results row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reported<'a> {
    pub path: &'a str,
    pub frame: Option<u32>,
    pub roi: &'a str,
    /// The score and its fit's R² (absent only in a hand-edited file), or the row's error.
    pub outcome: std::result::Result<(f64, Option<f64>), &'a str>,
    pub manufacturer: &'a str,
    pub model: &'a str,
    /// The scan type (`ap-spine`, `unknown`…); empty when the input was never read that far.
    pub scan: &'a str,
    /// `roi_quality`: how sure an automatic location is.
    pub quality: Option<f64>,
}

impl<'a> From<&'a ResultRow> for Reported<'a> {
    fn from(row: &'a ResultRow) -> Self {
        let outcome = match &row.outcome {
            Outcome::Ok(f) if f.tbs.is_finite() => {
                Ok((f.tbs, Some(f.r2).filter(|r| r.is_finite())))
            }
            Outcome::Ok(_) => Err(""),
            Outcome::Error(e) => Err(e.as_str()),
        };
        Reported {
            path: &row.path,
            frame: row.frame,
            roi: &row.roi,
            outcome,
            manufacturer: &row.meta.manufacturer,
            model: &row.meta.model,
            scan: row.meta.scan.as_ref().map_or("", |s| s.scan.name()),
            quality: row.region.quality,
        }
    }
}

/// The cohort's statistics, a few numbers per row, never the whole row.
#[derive(Debug, Default)]
pub struct Cohort {
    /// Per region label: its scores and fit qualities.
    pub(super) labels: BTreeMap<String, Scores>,
    /// Per (region label, "manufacturer model"): the scores.
    pub(super) scanners: BTreeMap<(String, String), Vec<f64>>,
    pub(super) failures: Vec<Failure>,
    pub(super) error_rows: usize,
    /// Inputs seen, and those with an error row.
    pub(super) inputs: usize,
    pub(super) inputs_failed: usize,
    /// Inputs with rows, by scan type.
    pub(super) scans: BTreeMap<String, usize>,
    /// Frames whose L1–L4 were located (`--roi auto`).
    pub(super) located: Located,
    last_path: Option<String>,
    last_failed: bool,
}

/// The automatically located frames: how many, how many flagged, the least sure.
#[derive(Debug, Default)]
pub(super) struct Located {
    pub frames: usize,
    pub flagged: usize,
    /// (quality, path, frame), least first, at most [`LEAST_SURE`].
    pub least_sure: Vec<(f64, String, Option<u32>)>,
}

/// Located frames listed for review.
pub(super) const LEAST_SURE: usize = 10;

impl Located {
    /// Counts a frame by its pooled row.
    fn add(&mut self, row: &Reported, quality: f64) {
        self.frames += 1;
        self.flagged += usize::from(quality < locate::REVIEW_BELOW);
        let at = self.least_sure.partition_point(|m| m.0 <= quality);
        if at < LEAST_SURE {
            self.least_sure
                .insert(at, (quality, row.path.to_string(), row.frame));
            self.least_sure.truncate(LEAST_SURE);
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Scores {
    pub tbs: Vec<f64>,
    pub r2: Vec<f64>,
    pub errors: usize,
    /// The rows a reader should look at first, each list bounded.
    pub lowest_r2: Vec<Mark>,
    pub lowest_tbs: Vec<Mark>,
    pub highest_tbs: Vec<Mark>,
}

/// A scored row worth a look.
#[derive(Debug, Clone)]
pub(super) struct Mark {
    pub path: String,
    pub frame: Option<u32>,
    pub tbs: f64,
    /// NaN when the row had none.
    pub r2: f64,
}

impl Scores {
    fn mark(&mut self, mark: Mark) {
        keep_least(&mut self.lowest_r2, mark.clone(), |m| m.r2);
        keep_least(&mut self.lowest_tbs, mark.clone(), |m| m.tbs);
        keep_least(&mut self.highest_tbs, mark, |m| -m.tbs);
    }
}

/// Keeps the [`MARKED`] marks with the least key, in order; among equals, the first seen.
pub(super) fn keep_least(list: &mut Vec<Mark>, mark: Mark, key: impl Fn(&Mark) -> f64) {
    // total_cmp: a missing R² (NaN) sorts last and keeps the order.
    let at = list.partition_point(|m| key(m).total_cmp(&key(&mark)).is_le());
    if at < MARKED {
        list.insert(at, mark);
        list.truncate(MARKED);
    }
}

#[derive(Debug)]
pub(super) struct Failure {
    pub path: String,
    pub frame: Option<u32>,
    pub roi: String,
    pub error: String,
}

impl Cohort {
    /// Adds one row.
    pub fn add(&mut self, row: &Reported) {
        if self.last_path.as_deref() != Some(row.path) {
            self.inputs += 1;
            *self.scans.entry(row.scan.to_string()).or_default() += 1;
            self.last_path = Some(row.path.to_string());
            self.last_failed = false;
        }
        if let (locate::POOLED, Some(q)) = (row.roi, row.quality) {
            self.located.add(row, q);
        }
        let scores = self.labels.entry(row.roi.to_string()).or_default();
        match row.outcome {
            Ok((tbs, r2)) => {
                scores.tbs.push(tbs);
                scores.r2.extend(r2);
                scores.mark(Mark {
                    path: row.path.to_string(),
                    frame: row.frame,
                    tbs,
                    r2: r2.unwrap_or(f64::NAN),
                });
                let scanner = format!("{} {}", row.manufacturer, row.model);
                self.scanners
                    .entry((row.roi.to_string(), scanner.trim().to_string()))
                    .or_default()
                    .push(tbs);
            }
            Err(error) => {
                scores.errors += 1;
                self.error_rows += 1;
                if !self.last_failed {
                    self.inputs_failed += 1;
                    self.last_failed = true;
                }
                if self.failures.len() < FAILURES_LISTED {
                    self.failures.push(Failure {
                        path: row.path.to_string(),
                        frame: row.frame,
                        roi: row.roi.to_string(),
                        error: error.to_string(),
                    });
                }
            }
        }
    }

    /// Adds a run's rows as they are written.
    pub fn add_rows(&mut self, rows: &[ResultRow]) {
        for row in rows {
            self.add(&Reported::from(row));
        }
    }

    /// Adds every row of a results file (a resumed run's earlier rows, a merged cohort).
    pub fn add_file(&mut self, results: &Path) -> Result<()> {
        let reader = ResultsReader::open(results)?;
        let columns = Columns::find(reader.header.iter())?;
        for input in reader {
            for record in input?.rows {
                self.add(&columns.read(&record));
            }
        }
        Ok(())
    }

    /// The label whose scores the charts show: the pooled `L1-L4` score when the cohort has
    /// one, else the whole-image score, else the most often scored region.
    pub(super) fn headline(&self) -> Option<&str> {
        let scored = |l: &str| self.labels.get(l).is_some_and(|s| !s.tbs.is_empty());
        ["L1-L4", "image"]
            .into_iter()
            .find(|l| scored(l))
            .or_else(|| {
                self.labels
                    .iter()
                    .filter(|(_, s)| !s.tbs.is_empty())
                    .max_by_key(|(_, s)| s.tbs.len())
                    .map(|(l, _)| l.as_str())
            })
    }
}

/// Where each needed column is in a results file's rows.
pub(super) struct Columns {
    path: usize,
    frame: usize,
    roi: usize,
    status: usize,
    error: usize,
    tbs: usize,
    r2: usize,
    manufacturer: usize,
    model: usize,
    /// Absent from files made before scan types were told apart.
    scan: Option<usize>,
    /// Absent from files made before regions were located.
    quality: Option<usize>,
}

impl Columns {
    /// Finds the columns by name, so a file with columns added later still reads.
    pub(super) fn find<'a>(header: impl IntoIterator<Item = &'a str>) -> Result<Columns> {
        let names: Vec<&str> = header.into_iter().collect();
        let at = |name: &str| {
            names.iter().position(|n| *n == name).ok_or_else(|| {
                RunError::Config(format!("results have no `{name}` column for the report"))
            })
        };
        Ok(Columns {
            path: at("path")?,
            frame: at("frame")?,
            roi: at("roi")?,
            status: at("status")?,
            error: at("error")?,
            tbs: at("tbs")?,
            r2: at("r2")?,
            manufacturer: at("manufacturer")?,
            model: at("model")?,
            scan: at("scan").ok(),
            quality: at("roi_quality").ok(),
        })
    }

    /// One record, typed: a row is scored when its status is `ok` and its TBS a number.
    pub(super) fn read<'r>(&self, record: &'r csv::StringRecord) -> Reported<'r> {
        let cell = |i: usize| record.get(i).unwrap_or("");
        let number = |i: usize| cell(i).parse::<f64>().ok().filter(|v| v.is_finite());
        let outcome = match (cell(self.status), number(self.tbs)) {
            ("ok", Some(tbs)) => Ok((tbs, number(self.r2))),
            _ => Err(cell(self.error)),
        };
        Reported {
            path: cell(self.path),
            frame: cell(self.frame).parse().ok(),
            roi: cell(self.roi),
            outcome,
            manufacturer: cell(self.manufacturer),
            model: cell(self.model),
            scan: self.scan.map_or("", cell),
            quality: self.quality.and_then(number),
        }
    }
}

/// Values sorted once, for all their statistics.
pub(super) struct Sample(pub Vec<f64>);

impl Sample {
    pub fn of(values: &[f64]) -> Sample {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Sample(sorted)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn mean(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.iter().sum::<f64>() / self.0.len() as f64)
    }

    /// The sample standard deviation (n − 1).
    pub fn sd(&self) -> Option<f64> {
        let m = self.mean()?;
        (self.0.len() > 1).then(|| {
            let ss: f64 = self.0.iter().map(|v| (v - m) * (v - m)).sum();
            (ss / (self.0.len() - 1) as f64).sqrt()
        })
    }

    /// The q-quantile by linear interpolation between order statistics (R's default, type 7).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let sorted = &self.0;
        let h = (sorted.len().checked_sub(1)?) as f64 * q;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
    }

    /// The range a chart shows: the values' range, widened a little, never empty.
    pub fn span(&self) -> (f64, f64) {
        let lo = self.quantile(0.0).unwrap_or(0.0);
        let hi = self.quantile(1.0).unwrap_or(1.0);
        let pad = ((hi - lo) * 0.04).max(0.01);
        (lo - pad, hi + pad)
    }
}
