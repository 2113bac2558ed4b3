//! `--report FILE.html`: the cohort at a glance — the TBS distribution, TBS by scanner, the R²
//! distribution, the failures with their reasons, and how the run was made.
//!
//! The page is one file with everything inline (charts as SVG, style in the head, no scripts,
//! no fonts or images fetched), so it can be mailed, archived, or opened on an offline node.
//! It is built from the rows of every attempt ([`stats`]), so a resumed run's report covers them
//! all; [`sections`] writes the page's parts and [`charts`] draws its SVGs.

mod charts;
mod sections;
mod stats;

pub use stats::{Cohort, Reported};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::fonts;
use crate::cohort::manifest::Parameters;
use crate::error::{Result, RunError};
use sections::{
    distributions, failures, regions_table, run_section, scans_table, to_check, to_review,
};

/// How the run was made, for the page's last section.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub command: String,
    /// (name, value), as the manifest records them.
    pub parameters: Vec<(String, String)>,
    pub engine: String,
    /// The closing summary line: counts, time, rate, memory.
    pub summary: String,
    /// When the report was written, RFC 3339.
    pub written: String,
    /// The `--qc` folder as seen from the report's folder, when the run drew sheets: rows to
    /// check link to theirs.
    pub qc: Option<PathBuf>,
    /// Inputs that have no rows, by why: a scan type `--scans` left out, or `not an image`.
    pub skipped: BTreeMap<String, usize>,
}

impl Run {
    /// The facts of this process's run: its command line, the time now, and the parameters
    /// as the manifest records them.
    pub fn new(parameters: Option<&Parameters>, engine: String, summary: String) -> Run {
        let parameters = match parameters.map(serde_json::to_value) {
            Some(Ok(serde_json::Value::Object(map))) => map
                .into_iter()
                .map(|(name, value)| {
                    let value = match value {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => "–".into(),
                        other => other.to_string(),
                    };
                    (name, value)
                })
                .collect(),
            _ => Vec::new(),
        };
        Run {
            command: std::env::args().collect::<Vec<_>>().join(" "),
            parameters,
            engine,
            summary,
            written: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            qc: None,
            skipped: BTreeMap::new(),
        }
    }
}

/// Renders the page and writes it to `path`.
pub fn write(path: &Path, cohort: &Cohort, run: &Run) -> Result<()> {
    let page = render(cohort, run)?;
    std::fs::write(path, page)
        .map_err(|e| RunError::Output(format!("cannot write {}: {e}", path.display())))
}

/// The whole page.
pub fn render(cohort: &Cohort, run: &Run) -> Result<String> {
    fonts().map_err(RunError::Picture)?;
    let mut page = String::new();
    page.push_str(HEAD);
    let ok: usize = cohort.labels.values().map(|s| s.tbs.len()).sum();
    let _ = write!(
        page,
        "<h1>TBS cohort report</h1>\n<p class=\"lead\">{} inputs with rows: {} fully scored, \
         {} with an error row. {ok} scores, {} error rows. Engine: {}.</p>\n",
        cohort.inputs,
        cohort.inputs - cohort.inputs_failed,
        cohort.inputs_failed,
        cohort.error_rows,
        escape(&run.engine),
    );
    match cohort.headline() {
        Some(label) => {
            distributions(&mut page, cohort, label).map_err(RunError::Picture)?;
            to_check(&mut page, &cohort.labels[label], label, run.qc.as_deref());
        }
        None => page.push_str("<h2>TBS distribution</h2>\n<p>No row has a score.</p>\n"),
    }
    to_review(&mut page, cohort, run.qc.as_deref());
    scans_table(&mut page, cohort, &run.skipped);
    regions_table(&mut page, cohort);
    failures(&mut page, cohort);
    run_section(&mut page, run);
    page.push_str("</body>\n</html>\n");
    Ok(page)
}

const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>TBS cohort report</title>\n<style>\n\
body{font-family:sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}\n\
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}\n\
.lead{font-size:1.1em}table{border-collapse:collapse;margin:.6em 0}\n\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\n\
td.n{text-align:right;font-variant-numeric:tabular-nums}\n\
.error{color:#a00;word-break:break-word}code{background:#f4f4f4;padding:0 .2em}\n\
svg{display:block;margin:.5em 0}\n</style>\n</head>\n<body>\n";

/// Text made safe for HTML: paths and error messages are the inputs' own words.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
