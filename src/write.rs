//! Stage 6: the CSV files — results (one row per frame and region) and the raw variogram.
//!
//! Rows are flushed as each file completes, so a killed run leaves every finished file on disk.
//! Numbers are written in Rust's shortest round-trip form, so equal values print identically.

use std::io::Write;
use std::marker::PhantomData;

use crate::decode::Meta;
use crate::engine::{Direction, Variogram};
use crate::error::{Result, RunError};
use crate::fit::Fit;
use crate::region::sidecar::{SavedRegion, SAVED_COLUMNS};
use crate::region::RoiSource;

/// One column of the results file: its name, and how a row fills it.
struct Column {
    name: &'static str,
    cell: fn(&ResultRow) -> String,
}

/// The results file's columns, in order: each name beside the cell it heads, so the two cannot
/// drift apart.
const COLUMNS: [Column; 33] = [
    column("path", |r| r.path.clone()),
    column("frame", |r| optional(r.frame)),
    column("roi", |r| r.roi.clone()),
    column("roi_source", |r| {
        optional(r.region.source.map(|s| s.name()))
    }),
    column("roi_quality", |r| optional(r.region.quality)),
    column("status", |r| if r.is_ok() { "ok" } else { "error" }.into()),
    column("error", |r| match &r.outcome {
        Outcome::Ok(_) => String::new(),
        Outcome::Error(e) => e.clone(),
    }),
    column("tbs", |r| fitted(r, |f| f.tbs.to_string())),
    column("intercept", |r| fitted(r, |f| f.intercept.to_string())),
    column("r2", |r| fitted(r, |f| f.r2.to_string())),
    column("fit_lags", |r| {
        fitted(r, |f| {
            let lags: Vec<String> = f.lags.iter().map(|k| k.to_string()).collect();
            lags.join(";")
        })
    }),
    column("excluded_pixels", |r| optional(r.region.excluded)),
    column("vertebrae", |r| r.region.vertebrae.join(";")),
    column("mean_vertebra_tbs", |r| {
        optional(r.region.mean_vertebra_tbs)
    }),
    column("engine", |r| r.engine.to_string()),
    column("patient_id", |r| r.meta.patient_id.clone()),
    column("sop_instance_uid", |r| r.meta.sop_instance_uid.clone()),
    column("study_date", |r| r.meta.study_date.clone()),
    column("manufacturer", |r| r.meta.manufacturer.clone()),
    column("model", |r| r.meta.model.clone()),
    column("modality", |r| r.meta.modality.clone()),
    column("scan", |r| optional(r.meta.scan.as_ref().map(|s| s.scan))),
    column("protocol", |r| {
        r.meta
            .scan
            .as_ref()
            .map_or(String::new(), |s| s.protocol.clone())
    }),
    column("transfer_syntax", |r| r.meta.transfer_syntax.clone()),
    column("rows", |r| optional(r.meta.rows)),
    column("columns", |r| optional(r.meta.columns)),
    column("bits_stored", |r| optional(r.meta.bits_stored)),
    column("signed", |r| optional(r.meta.signed)),
    column("pixel_spacing_row_mm", |r| {
        optional(r.meta.pixel_spacing.map(|s| s.0))
    }),
    column("pixel_spacing_col_mm", |r| {
        optional(r.meta.pixel_spacing.map(|s| s.1))
    }),
    column("spacing_source", |r| r.meta.spacing_source.to_string()),
    column("bmi", |r| optional(r.meta.bmi)),
    column("sha256", |r| r.meta.sha256.clone()),
];

const fn column(name: &'static str, cell: fn(&ResultRow) -> String) -> Column {
    Column { name, cell }
}

/// The results file's column names, in order.
pub const RESULT_COLUMNS: [&str; COLUMNS.len()] = {
    let mut names = [""; COLUMNS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = COLUMNS[i].name;
        i += 1;
    }
    names
};

/// The variogram file's columns, in order.
pub const VARIOGRAM_COLUMNS: [&str; 7] = [
    "path",
    "frame",
    "roi",
    "direction",
    "lag",
    "pairs",
    "sum_sq",
];

/// An optional value's cell: empty when absent.
fn optional(value: Option<impl ToString>) -> String {
    value.map_or(String::new(), |v| v.to_string())
}

/// A cell of the fit: empty for an error row.
fn fitted(row: &ResultRow, cell: impl Fn(&Fit) -> String) -> String {
    match &row.outcome {
        Outcome::Ok(f) => cell(f),
        Outcome::Error(_) => String::new(),
    }
}

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
    /// Where the frame's regions came from; `None` when the file failed before any frame.
    pub source: Option<RoiSource>,
    /// For regions located on the image: the location's quality, 0–1.
    pub quality: Option<f64>,
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
        COLUMNS.iter().map(|c| (c.cell)(self)).collect()
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

/// What a file of the run holds: its header, and the records one item becomes.
pub trait Records {
    const HEADER: &'static [&'static str];
    /// What the file is, for messages.
    const NAME: &'static str;

    fn write<W: Write>(&self, csv: &mut csv::Writer<W>) -> csv::Result<()>;
}

impl Records for ResultRow {
    const HEADER: &'static [&'static str] = &RESULT_COLUMNS;
    const NAME: &'static str = "results";

    fn write<W: Write>(&self, csv: &mut csv::Writer<W>) -> csv::Result<()> {
        csv.write_record(self.fields())
    }
}

impl Records for VariogramRecord {
    const HEADER: &'static [&'static str] = &VARIOGRAM_COLUMNS;
    const NAME: &'static str = "variogram";

    /// Every lag of both directions, `h` then `v`, lag ascending.
    fn write<W: Write>(&self, csv: &mut csv::Writer<W>) -> csv::Result<()> {
        let frame = self.frame.to_string();
        for dir in [Direction::Horizontal, Direction::Vertical] {
            for (i, s) in self.variogram.direction(dir).iter().enumerate() {
                csv.write_record([
                    self.path.as_str(),
                    frame.as_str(),
                    self.roi.as_str(),
                    dir.label(),
                    &(i + 1).to_string(),
                    &s.pairs.to_string(),
                    &s.sum_sq.to_string(),
                ])?;
            }
        }
        Ok(())
    }
}

impl Records for SavedRegion {
    const HEADER: &'static [&'static str] = &SAVED_COLUMNS;
    const NAME: &'static str = "saved regions";

    fn write<W: Write>(&self, csv: &mut csv::Writer<W>) -> csv::Result<()> {
        csv.write_record(self.fields())
    }
}

/// A CSV stream of one kind of record that starts with its header and is flushed after each
/// input's records.
pub struct CsvWriter<W: Write, R: Records> {
    csv: csv::Writer<W>,
    records: PhantomData<R>,
}

/// The results file.
pub type ResultsWriter<W> = CsvWriter<W, ResultRow>;
/// The variogram file.
pub type VariogramWriter<W> = CsvWriter<W, VariogramRecord>;

impl<W: Write, R: Records> CsvWriter<W, R> {
    /// Starts the file, with its header row unless it already has one (an appended file).
    pub fn new(out: W, write_header: bool) -> Result<Self> {
        let mut csv = csv::Writer::from_writer(out);
        if write_header {
            csv.write_record(R::HEADER)?;
        }
        Ok(CsvWriter {
            csv,
            records: PhantomData,
        })
    }

    /// Writes one input's records and flushes them.
    pub fn write_file(&mut self, items: &[R]) -> Result<()> {
        for item in items {
            item.write(&mut self.csv)?;
        }
        self.csv
            .flush()
            .map_err(|e| RunError::Output(e.to_string()))
    }
}
