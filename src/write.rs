//! Stage 6: the CSV files — results (one row per frame and region) and the raw variogram.
//!
//! Rows are flushed as each file completes, so a killed run leaves every finished file on disk.
//! Numbers are written in Rust's shortest round-trip form, so equal values print identically.

use std::io::Write;

use crate::decode::Meta;
use crate::engine::{Direction, Variogram};
use crate::error::{Result, RunError};
use crate::fit::Fit;

/// The results file's columns, in order.
pub const RESULT_COLUMNS: &[&str] = &[
    "path",
    "frame",
    "roi",
    "status",
    "error",
    "tbs",
    "intercept",
    "r2",
    "fit_lags",
    "excluded_pixels",
    "vertebrae",
    "mean_vertebra_tbs",
    "engine",
    "patient_id",
    "sop_instance_uid",
    "study_date",
    "manufacturer",
    "model",
    "modality",
    "transfer_syntax",
    "rows",
    "columns",
    "bits_stored",
    "signed",
    "pixel_spacing_row_mm",
    "pixel_spacing_col_mm",
    "spacing_source",
    "sha256",
];

/// The variogram file's columns, in order.
pub const VARIOGRAM_COLUMNS: &[&str] = &[
    "path",
    "frame",
    "roi",
    "direction",
    "lag",
    "pairs",
    "sum_sq",
];

/// What one results row reports: a fit, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok(Fit),
    Error(String),
}

/// One results row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub path: String,
    /// 1-based; `None` when the whole file failed before any frame.
    pub frame: Option<u32>,
    pub roi: String,
    pub outcome: Outcome,
    pub region: RegionFacts,
    pub engine: &'static str,
    pub meta: Meta,
}

/// What a row says about its region besides the fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionFacts {
    /// Pixels of the region left out for holding the frame's extreme values; `None` when the
    /// region was never cut out (the file or frame failed first).
    pub excluded: Option<u64>,
    /// For the pooled `L1-L4` row: the vertebrae whose sums were pooled.
    pub vertebrae: Vec<String>,
    /// For the pooled row: the mean of those vertebrae's own slopes.
    pub mean_vertebra_tbs: Option<f64>,
}

impl ResultRow {
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok(_))
    }

    /// The row's cells, in [`RESULT_COLUMNS`] order.
    pub fn fields(&self) -> Vec<String> {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let (status, error, tbs, intercept, r2, lags) = match &self.outcome {
            Outcome::Ok(f) => (
                "ok",
                String::new(),
                f.tbs.to_string(),
                f.intercept.to_string(),
                f.r2.to_string(),
                f.lags
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            Outcome::Error(e) => (
                "error",
                e.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ),
        };
        let m = &self.meta;
        vec![
            self.path.clone(),
            opt(self.frame.map(|f| f.to_string())),
            self.roi.clone(),
            status.to_string(),
            error,
            tbs,
            intercept,
            r2,
            lags,
            opt(self.region.excluded.map(|n| n.to_string())),
            self.region.vertebrae.join(";"),
            opt(self.region.mean_vertebra_tbs.map(|t| t.to_string())),
            self.engine.to_string(),
            m.patient_id.clone(),
            m.sop_instance_uid.clone(),
            m.study_date.clone(),
            m.manufacturer.clone(),
            m.model.clone(),
            m.modality.clone(),
            m.transfer_syntax.clone(),
            opt(m.rows.map(|v| v.to_string())),
            opt(m.columns.map(|v| v.to_string())),
            opt(m.bits_stored.map(|v| v.to_string())),
            opt(m.signed.map(|v| v.to_string())),
            opt(m.pixel_spacing.map(|s| s.0.to_string())),
            opt(m.pixel_spacing.map(|s| s.1.to_string())),
            m.spacing_source.to_string(),
            m.sha256.clone(),
        ]
    }
}

/// A CSV stream that starts with its header and flushes after each file's rows.
struct Table<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> Table<W> {
    /// A table on `out`, starting with the header unless `out` already has one (an appended
    /// file).
    fn new(out: W, header: &[&str], write_header: bool) -> Result<Self> {
        let mut csv = csv::Writer::from_writer(out);
        if write_header {
            csv.write_record(header)?;
        }
        Ok(Table { csv })
    }

    fn flush(&mut self) -> Result<()> {
        self.csv
            .flush()
            .map_err(|e| RunError::Output(e.to_string()))
    }
}

/// Streams results rows.
pub struct ResultsWriter<W: Write>(Table<W>);

impl<W: Write> ResultsWriter<W> {
    /// Starts the file, with its header row unless it already has one.
    pub fn new(out: W, write_header: bool) -> Result<Self> {
        Table::new(out, RESULT_COLUMNS, write_header).map(ResultsWriter)
    }

    /// Writes one file's rows and flushes them.
    pub fn write_file(&mut self, rows: &[ResultRow]) -> Result<()> {
        for row in rows {
            self.0.csv.write_record(row.fields())?;
        }
        self.0.flush()
    }
}

/// One frame and region's sums, as they go to the variogram file.
#[derive(Debug, Clone, PartialEq)]
pub struct VariogramRecord {
    pub path: String,
    pub frame: u32,
    pub roi: String,
    pub variogram: Variogram,
}

/// Streams the raw variogram in long form.
pub struct VariogramWriter<W: Write>(Table<W>);

impl<W: Write> VariogramWriter<W> {
    /// Starts the file, with its header row unless it already has one.
    pub fn new(out: W, write_header: bool) -> Result<Self> {
        Table::new(out, VARIOGRAM_COLUMNS, write_header).map(VariogramWriter)
    }

    /// Writes one file's sums (every frame and region, `h` then `v`, lag ascending) and flushes.
    pub fn write_file(&mut self, records: &[VariogramRecord]) -> Result<()> {
        for rec in records {
            let frame = rec.frame.to_string();
            for dir in [Direction::Horizontal, Direction::Vertical] {
                for (i, s) in rec.variogram.direction(dir).iter().enumerate() {
                    self.0.csv.write_record([
                        rec.path.as_str(),
                        frame.as_str(),
                        rec.roi.as_str(),
                        dir.label(),
                        &(i + 1).to_string(),
                        &s.pairs.to_string(),
                        &s.sum_sq.to_string(),
                    ])?;
                }
            }
        }
        self.0.flush()
    }
}
