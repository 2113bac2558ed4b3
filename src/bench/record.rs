//! The bench's figures as records a CI pipeline keeps and compares: one per engine, in JSON or
//! CSV, with what a comparison needs to know it compares like with like (version, CPU tier,
//! adapter, whether the adapter is software, the cohort).

use serde::Serialize;

use super::{Cohort, Measurement, Report};
use crate::error::{Result, RunError};

/// How `tbs-batch bench` prints its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The table for a person.
    Table,
    /// An array of [`Record`]s.
    Json,
    /// A header and a row per [`Record`].
    Csv,
}

/// One engine's figures. An engine that could not be measured has no figures and says why.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub engine: &'static str,
    pub version: &'static str,
    /// The CPU kernels' tier (`TBS_CPU_TIER` or the best this CPU runs).
    pub cpu_tier: String,
    /// The engine as the summary line names it: for the GPU, its adapter.
    pub adapter: String,
    pub software: bool,
    pub images_per_second: Option<f64>,
    pub pair_evaluations_per_second: Option<f64>,
    pub peak_bytes: Option<u64>,
    pub startup_seconds: Option<f64>,
    pub not_measured: Option<String>,
    #[serde(flatten)]
    pub cohort: Cohort,
}

impl Report {
    /// The CPU's record, then the GPU's.
    pub fn records(&self, cpu_tier: &str) -> Vec<Record> {
        let record = |engine, m: Option<&Measurement>, why: Option<&String>| Record {
            engine,
            version: env!("CARGO_PKG_VERSION"),
            cpu_tier: cpu_tier.to_string(),
            adapter: m.map_or(String::new(), |m| m.engine.clone()),
            software: m.is_some_and(|m| m.software),
            images_per_second: m.map(Measurement::images_per_second),
            pair_evaluations_per_second: m.map(Measurement::pairs_per_second),
            peak_bytes: m.and_then(|m| m.peak_bytes),
            startup_seconds: m.map(|m| m.startup.as_secs_f64()),
            not_measured: why.cloned(),
            cohort: self.cohort,
        };
        vec![
            record("cpu", Some(&self.cpu), None),
            match &self.gpu {
                Ok(m) => record("gpu", Some(m), None),
                Err(why) => record("gpu", None, Some(why)),
            },
        ]
    }

    /// The report in `format`, as printed.
    pub fn render(&self, format: Format, cpu_tier: &str) -> Result<String> {
        let broken = |e: &dyn std::fmt::Display| RunError::Output(format!("bench records: {e}"));
        match format {
            Format::Table => Ok(self.to_string()),
            Format::Json => serde_json::to_string_pretty(&self.records(cpu_tier))
                .map(|json| json + "\n")
                .map_err(|e| broken(&e)),
            Format::Csv => {
                let mut out = csv::Writer::from_writer(Vec::new());
                out.write_record(COLUMNS).map_err(|e| broken(&e))?;
                for record in self.records(cpu_tier) {
                    let fields = serde_json::to_value(record).map_err(|e| broken(&e))?;
                    let row = COLUMNS.iter().map(|c| cell(&fields[c]));
                    out.write_record(row).map_err(|e| broken(&e))?;
                }
                let bytes = out.into_inner().map_err(|e| broken(&e))?;
                String::from_utf8(bytes).map_err(|e| broken(&e))
            }
        }
    }
}

/// The CSV's columns, in order: a [`Record`]'s fields as its JSON names them (a test keeps
/// the two the same).
const COLUMNS: [&str; 16] = [
    "engine",
    "version",
    "cpu_tier",
    "adapter",
    "software",
    "images_per_second",
    "pair_evaluations_per_second",
    "peak_bytes",
    "startup_seconds",
    "not_measured",
    "files",
    "rows",
    "cols",
    "bits",
    "max_lag",
    "jobs",
];

/// A JSON value as a CSV cell: null empty, text as it is, the rest as JSON writes it.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cohort, Measurement, Report};
    use super::*;
    use std::time::Duration;

    fn report() -> Report {
        let cohort = Cohort {
            files: 4,
            rows: 10,
            cols: 12,
            bits: 8,
            max_lag: 3,
            jobs: 2,
        };
        let cpu = Measurement {
            engine: "cpu".into(),
            images: 4,
            pair_evaluations: 8_000,
            elapsed: Duration::from_secs(2),
            startup: Duration::ZERO,
            peak_bytes: Some(1 << 20),
            software: false,
        };
        Report {
            cohort,
            cpu,
            gpu: Err("wgpu found no adapter, none".into()),
        }
    }

    #[test]
    fn json_and_csv_hold_one_record_per_engine_with_its_figures_or_why_not() {
        let json: serde_json::Value =
            serde_json::from_str(&report().render(Format::Json, "avx2").unwrap()).unwrap();
        let cpu = &json[0];
        assert_eq!(cpu["engine"], "cpu");
        assert_eq!(cpu["cpu_tier"], "avx2");
        assert_eq!(cpu["images_per_second"], 2.0);
        assert_eq!(cpu["pair_evaluations_per_second"], 4000.0);
        assert_eq!(cpu["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(json[1]["engine"], "gpu");
        assert!(json[1]["images_per_second"].is_null());
        assert_eq!(json[1]["not_measured"], "wgpu found no adapter, none");
        let mut keys: Vec<&str> = json[0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut columns = COLUMNS.to_vec();
        keys.sort();
        columns.sort();
        assert_eq!(keys, columns, "the CSV has a column for every field");
        let csv = report().render(Format::Csv, "avx2").unwrap();
        let mut rows = csv::Reader::from_reader(csv.as_bytes());
        let header = rows.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        let field = |row: &csv::StringRecord, name: &str| {
            row[header.iter().position(|h| h == name).unwrap()].to_string()
        };
        assert_eq!(field(&rows[0], "images_per_second"), "2.0");
        assert_eq!(
            field(&rows[1], "not_measured"),
            "wgpu found no adapter, none"
        );
    }
}
