//! The page's sections: the distributions, the rows to check, inputs by scan type, scores by
//! region, the failures, and how the run was made.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::charts::{boxes, histogram};
use super::stats::{Cohort, Sample, Scores, MARKED};
use super::{escape, Run};
use crate::locate;
use crate::picture::{qc, Drawn, PALETTE};
use crate::scan::ScanType;

/// The TBS histogram, TBS by scanner, and the R² histogram, of the headline label's rows.
pub(super) fn distributions(page: &mut String, cohort: &Cohort, label: &str) -> Drawn<()> {
    let scores = &cohort.labels[label];
    let (tbs, r2) = (Sample::of(&scores.tbs), Sample::of(&scores.r2));
    let _ = write!(
        page,
        "<h2>TBS distribution</h2>\n<p>Region <code>{}</code>, n = {}: mean {}, SD {}, \
         median {} (IQR {} to {}).</p>\n",
        escape(label),
        tbs.len(),
        fixed(tbs.mean()),
        fixed(tbs.sd()),
        fixed(tbs.quantile(0.5)),
        fixed(tbs.quantile(0.25)),
        fixed(tbs.quantile(0.75)),
    );
    page.push_str(&histogram(
        &tbs,
        "TBS (variogram slope)",
        PALETTE[3],
        f64::MAX,
    )?);
    let groups: Vec<(&str, Sample)> = cohort
        .scanners
        .iter()
        .filter(|((l, _), _)| l == label)
        .map(|((_, s), v)| (s.as_str(), Sample::of(v)))
        .collect();
    let _ = write!(
        page,
        "<h2>TBS by scanner</h2>\n<p>Region <code>{}</code>, by manufacturer and model. Boxes \
         span the quartiles, the bar is the median, whiskers reach the lowest and highest score. \
         Compare scores within one scanner model and export setting.</p>\n",
        escape(label)
    );
    page.push_str(&boxes(&groups)?);
    page.push_str("<table>\n<tr><th>Scanner</th><th>n</th><th>mean</th><th>SD</th><th>median</th><th>Q1</th><th>Q3</th><th>min</th><th>max</th></tr>\n");
    for (scanner, sample) in &groups {
        let name = if scanner.is_empty() {
            "(not recorded)"
        } else {
            scanner
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td>{}</tr>",
            escape(name),
            stats_cells(sample)
        );
    }
    page.push_str("</table>\n");
    let _ = write!(
        page,
        "<h2>Fit quality (R²)</h2>\n<p>Region <code>{}</code>: R² of the log-log fit. Lowest {}, \
         median {}; {} below 0.95.</p>\n",
        escape(label),
        fixed(r2.quantile(0.0)),
        fixed(r2.quantile(0.5)),
        scores.r2.iter().filter(|r| **r < 0.95).count(),
    );
    page.push_str(&histogram(&r2, "R² of the fit", PALETTE[2], 1.0)?);
    Ok(())
}

/// The rows with the poorest fits and the most extreme scores, linked to their QC sheets.
pub(super) fn to_check(page: &mut String, scores: &Scores, label: &str, qc: Option<&Path>) {
    let _ = writeln!(
        page,
        "<h2>Rows to check</h2>\n<p>Region <code>{}</code>: the {MARKED} poorest fits and the \
         {MARKED} lowest and highest scores{}.</p>\n<table>\n<tr><th>Why</th><th>Input</th>\
         <th>Frame</th><th>TBS</th><th>R²</th><th>QC sheet</th></tr>",
        escape(label),
        if qc.is_some() {
            ", each with its QC sheet"
        } else {
            " (run with --qc to draw their QC sheets)"
        }
    );
    let lists = [
        ("lowest R²", &scores.lowest_r2),
        ("lowest TBS", &scores.lowest_tbs),
        ("highest TBS", &scores.highest_tbs),
    ];
    for (why, marks) in lists {
        for m in marks {
            let sheet = match (qc, m.frame) {
                (Some(dir), Some(frame)) => {
                    let href = dir.join(qc::file_name(&m.path, frame));
                    format!("<a href=\"{}\">sheet</a>", url_path(&href))
                }
                _ => String::new(),
            };
            let _ = writeln!(
                page,
                "<tr><td>{why}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.4}</td>\
                 <td class=\"n\">{:.4}</td><td>{sheet}</td></tr>",
                escape(&m.path),
                frame_text(m.frame),
                m.tbs,
                m.r2
            );
        }
    }
    page.push_str("</table>\n");
}

/// The automatically located frames: how many were flagged, and the least sure, linked to
/// their sheets, for a person to check first. Nothing when no frame was located.
pub(super) fn to_review(page: &mut String, cohort: &Cohort, qc: Option<&Path>) {
    let located = &cohort.located;
    if located.frames == 0 {
        return;
    }
    let _ = writeln!(
        page,
        "<h2>Lowest roi_quality</h2>\n<p>L1-L4 located on {} frames (--roi auto); {} below \
         roi_quality {} are flagged for review. The {} least sure:</p>\n<table>\n\
         <tr><th>roi_quality</th><th>Input</th><th>Frame</th><th>QC sheet</th></tr>",
        located.frames,
        located.flagged,
        locate::REVIEW_BELOW,
        located.least_sure.len()
    );
    for (quality, path, frame) in &located.least_sure {
        let sheet = match (qc, frame) {
            (Some(dir), Some(frame)) => {
                let href = dir.join(qc::file_name(path, *frame));
                format!("<a href=\"{}\">sheet</a>", url_path(&href))
            }
            _ => String::new(),
        };
        let _ = writeln!(
            page,
            "<tr><td class=\"n\">{quality:.3}</td><td>{}</td><td class=\"n\">{}</td><td>{sheet}</td></tr>",
            escape(path),
            frame_text(*frame)
        );
    }
    page.push_str("</table>\n");
}

/// A relative file path as a URL path: every byte but unreserved ones and `/` percent-encoded,
/// so spaces, `#` and `?` in scan names cannot break the link.
pub(super) fn url_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Every region label with its counts and summary statistics.
/// Inputs by scan type: those scored and those `--scans` left out, and the other skipped.
pub(super) fn scans_table(page: &mut String, cohort: &Cohort, skipped: &BTreeMap<String, usize>) {
    let mut types: Vec<&str> = ScanType::ALL.iter().map(|t| t.name()).collect();
    let extra = cohort
        .scans
        .keys()
        .chain(skipped.keys())
        .map(String::as_str);
    for name in extra {
        if !types.contains(&name) {
            types.push(name);
        }
    }
    page.push_str(
        "<h2>Scan types</h2>\n<p>Inputs by the scan type read from their headers: scored (with \
         rows in the results) and skipped (no rows; the manifest lists each with its reason).\
         </p>\n<table>\n<tr><th>scan</th><th>scored</th><th>skipped</th></tr>\n",
    );
    for name in types {
        let (scored, left) = (cohort.scans.get(name), skipped.get(name));
        if scored.is_none() && left.is_none() {
            continue;
        }
        let shown = if name.is_empty() {
            "(file not read)"
        } else {
            name
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(shown),
            scored.unwrap_or(&0),
            left.unwrap_or(&0)
        );
    }
    page.push_str("</table>\n");
}

pub(super) fn regions_table(page: &mut String, cohort: &Cohort) {
    page.push_str("<h2>Scores by region</h2>\n<table>\n<tr><th>Region</th><th>errors</th><th>n</th><th>mean</th><th>SD</th><th>median</th><th>Q1</th><th>Q3</th><th>min</th><th>max</th></tr>\n");
    for (label, s) in &cohort.labels {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td>{}</tr>",
            escape(label),
            s.errors,
            stats_cells(&Sample::of(&s.tbs))
        );
    }
    page.push_str("</table>\n");
}

pub(super) fn failures(page: &mut String, cohort: &Cohort) {
    let _ = writeln!(
        page,
        "<h2>Failures</h2>\n<p>{} error rows from {} inputs; every other row of those inputs \
         still has its score.</p>",
        cohort.error_rows, cohort.inputs_failed
    );
    if cohort.failures.is_empty() {
        return;
    }
    if cohort.error_rows > cohort.failures.len() {
        let _ = writeln!(
            page,
            "<p>The first {} are listed; the results CSV holds them all (<code>status</code> = \
             <code>error</code>).</p>",
            cohort.failures.len()
        );
    }
    page.push_str("<table>\n<tr><th>Input</th><th>Frame</th><th>Region</th><th>Reason</th></tr>\n");
    for f in &cohort.failures {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"error\">{}</td></tr>",
            escape(&f.path),
            frame_text(f.frame),
            escape(&f.roi),
            escape(&f.error)
        );
    }
    page.push_str("</table>\n");
}

pub(super) fn run_section(page: &mut String, run: &Run) {
    let _ = write!(
        page,
        "<h2>Run</h2>\n<table>\n<tr><th>Written</th><td>{}</td></tr>\n\
         <tr><th>Tool</th><td>tbs-batch {}</td></tr>\n<tr><th>Engine</th><td>{}</td></tr>\n\
         <tr><th>Timing</th><td>{}</td></tr>\n<tr><th>Command</th><td><code>{}</code></td></tr>\n",
        escape(&run.written),
        env!("CARGO_PKG_VERSION"),
        escape(&run.engine),
        escape(&run.summary),
        escape(&run.command),
    );
    for (name, value) in &run.parameters {
        let _ = writeln!(
            page,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    }
    page.push_str("</table>\n");
}

/// n, mean, SD, median, quartiles and range as table cells.
fn stats_cells(sample: &Sample) -> String {
    let mut cells = format!("<td class=\"n\">{}</td>", sample.len());
    let numbers = [
        sample.mean(),
        sample.sd(),
        sample.quantile(0.5),
        sample.quantile(0.25),
        sample.quantile(0.75),
        sample.quantile(0.0),
        sample.quantile(1.0),
    ];
    for v in numbers {
        let _ = write!(cells, "<td class=\"n\">{}</td>", fixed(v));
    }
    cells
}

/// A frame number as the CSV writes it: empty for a file that failed before any frame.
fn frame_text(frame: Option<u32>) -> String {
    frame.map_or(String::new(), |f| f.to_string())
}

fn fixed(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.4}"))
}
