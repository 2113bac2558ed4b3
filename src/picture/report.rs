//! `--report FILE.html`: the cohort at a glance — the TBS distribution, TBS by scanner, the R²
//! distribution, the failures with their reasons, and how the run was made.
//!
//! The page is one file with everything inline (charts as SVG, style in the head, no scripts,
//! no fonts or images fetched), so it can be mailed, archived, or opened on an offline node.
//! It is built from results rows as the CSV holds them, so a resumed run's report covers the
//! rows of every attempt.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{drawing, fonts, qc, Drawn, FONT, PALETTE};
use crate::cohort::manifest::Parameters;
use crate::cohort::ResultsReader;
use crate::error::{Result, RunError};
use crate::write::{ResultRow, RESULT_COLUMNS};

/// Failures listed one by one; beyond this the page counts them and points to the CSV.
const FAILURES_LISTED: usize = 1000;
/// Chart size in CSS pixels.
const CHART: (u32, u32) = (760, 320);

/// What the report gathers from the results rows: a few numbers per row, never the whole row.
#[derive(Debug, Default)]
pub struct Cohort {
    /// Per region label: its scores and fit qualities.
    labels: BTreeMap<String, Scores>,
    /// Per (region label, "manufacturer model"): the scores.
    scanners: BTreeMap<(String, String), Vec<f64>>,
    failures: Vec<Failure>,
    error_rows: usize,
    /// Inputs seen, and those with an error row.
    inputs: usize,
    inputs_failed: usize,
    last_path: Option<String>,
    last_failed: bool,
}

#[derive(Debug, Default)]
struct Scores {
    tbs: Vec<f64>,
    r2: Vec<f64>,
    errors: usize,
    /// The rows a reader should look at first, each list bounded.
    lowest_r2: Vec<Mark>,
    lowest_tbs: Vec<Mark>,
    highest_tbs: Vec<Mark>,
}

/// A scored row worth a look.
#[derive(Debug, Clone)]
struct Mark {
    path: String,
    frame: String,
    tbs: f64,
    r2: f64,
}

/// Rows listed per reason in "Rows to check".
const MARKED: usize = 5;

impl Scores {
    fn mark(&mut self, mark: Mark) {
        keep_least(&mut self.lowest_r2, mark.clone(), |m| m.r2);
        keep_least(&mut self.lowest_tbs, mark.clone(), |m| m.tbs);
        keep_least(&mut self.highest_tbs, mark, |m| -m.tbs);
    }
}

/// Keeps the [`MARKED`] marks with the least key, in order; among equals, the first seen.
fn keep_least(list: &mut Vec<Mark>, mark: Mark, key: impl Fn(&Mark) -> f64) {
    // total_cmp: a missing R² (NaN, from a hand-edited file) sorts last and keeps the order.
    let at = list.partition_point(|m| key(m).total_cmp(&key(&mark)).is_le());
    if at < MARKED {
        list.insert(at, mark);
        list.truncate(MARKED);
    }
}

#[derive(Debug)]
struct Failure {
    path: String,
    frame: String,
    roi: String,
    error: String,
}

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
}

/// Where each needed column is in a results row.
pub struct Columns {
    path: usize,
    frame: usize,
    roi: usize,
    status: usize,
    error: usize,
    tbs: usize,
    r2: usize,
    manufacturer: usize,
    model: usize,
}

impl Columns {
    /// Finds the columns by name, so a file with columns added later still reads.
    pub fn find<'a>(header: impl IntoIterator<Item = &'a str>) -> Result<Columns> {
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
        })
    }
}

impl Cohort {
    /// Adds one results row (its cells in the order `columns` was found in).
    pub fn add<S: AsRef<str>>(&mut self, columns: &Columns, row: &[S]) {
        let cell = |i: usize| row.get(i).map_or("", |s| s.as_ref());
        let path = cell(columns.path);
        if self.last_path.as_deref() != Some(path) {
            self.inputs += 1;
            self.last_path = Some(path.to_string());
            self.last_failed = false;
        }
        let label = cell(columns.roi).to_string();
        let scores = self.labels.entry(label.clone()).or_default();
        let number = |i: usize| cell(i).parse::<f64>().ok().filter(|v| v.is_finite());
        match (cell(columns.status), number(columns.tbs)) {
            ("ok", Some(tbs)) => {
                scores.tbs.push(tbs);
                let r2 = number(columns.r2);
                scores.r2.extend(r2);
                scores.mark(Mark {
                    path: path.to_string(),
                    frame: cell(columns.frame).to_string(),
                    tbs,
                    r2: r2.unwrap_or(f64::NAN),
                });
                let scanner = format!("{} {}", cell(columns.manufacturer), cell(columns.model));
                self.scanners
                    .entry((label, scanner.trim().to_string()))
                    .or_default()
                    .push(tbs);
            }
            _ => {
                scores.errors += 1;
                self.error_rows += 1;
                if !self.last_failed {
                    self.inputs_failed += 1;
                    self.last_failed = true;
                }
                if self.failures.len() < FAILURES_LISTED {
                    self.failures.push(Failure {
                        path: path.to_string(),
                        frame: cell(columns.frame).to_string(),
                        roi: label,
                        error: cell(columns.error).to_string(),
                    });
                }
            }
        }
    }

    /// The label whose scores the charts show: the pooled `L1-L4` score when the cohort has
    /// one, else the whole-image score, else the most often scored region.
    fn headline(&self) -> Option<&str> {
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

impl Cohort {
    /// Adds a run's rows as they are written.
    pub fn add_rows(&mut self, rows: &[ResultRow]) {
        let Ok(columns) = Columns::find(RESULT_COLUMNS.iter().copied()) else {
            return;
        };
        for row in rows {
            self.add(&columns, &row.fields());
        }
    }

    /// Adds every row of a results file (a resumed run's earlier rows, a merged cohort).
    pub fn add_file(&mut self, results: &Path) -> Result<()> {
        let reader = ResultsReader::open(results)?;
        let columns = Columns::find(reader.header.iter())?;
        for input in reader {
            for row in input?.rows {
                self.add(&columns, &row.iter().collect::<Vec<_>>());
            }
        }
        Ok(())
    }
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

/// The TBS histogram, TBS by scanner, and the R² histogram, of the headline label's rows.
fn distributions(page: &mut String, cohort: &Cohort, label: &str) -> Drawn<()> {
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
fn to_check(page: &mut String, scores: &Scores, label: &str, qc: Option<&Path>) {
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
            let sheet = match (qc, m.frame.parse::<u32>()) {
                (Some(dir), Ok(frame)) => {
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
                escape(&m.frame),
                m.tbs,
                m.r2
            );
        }
    }
    page.push_str("</table>\n");
}

/// A relative file path as a URL path: every byte but unreserved ones and `/` percent-encoded,
/// so spaces, `#` and `?` in scan names cannot break the link.
fn url_path(path: &Path) -> String {
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
fn regions_table(page: &mut String, cohort: &Cohort) {
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

fn failures(page: &mut String, cohort: &Cohort) {
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
            escape(&f.frame),
            escape(&f.roi),
            escape(&f.error)
        );
    }
    page.push_str("</table>\n");
}

fn run_section(page: &mut String, run: &Run) {
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

fn fixed(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.4}"))
}

/// Values sorted once, for all their statistics.
struct Sample(Vec<f64>);

impl Sample {
    fn of(values: &[f64]) -> Sample {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Sample(sorted)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn mean(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.iter().sum::<f64>() / self.0.len() as f64)
    }

    /// The sample standard deviation (n − 1).
    fn sd(&self) -> Option<f64> {
        let m = self.mean()?;
        (self.0.len() > 1).then(|| {
            let ss: f64 = self.0.iter().map(|v| (v - m) * (v - m)).sum();
            (ss / (self.0.len() - 1) as f64).sqrt()
        })
    }

    /// The q-quantile by linear interpolation between order statistics (R's default, type 7).
    fn quantile(&self, q: f64) -> Option<f64> {
        let sorted = &self.0;
        let h = (sorted.len().checked_sub(1)?) as f64 * q;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
    }

    /// The range a chart shows: the values' range, widened a little, never empty.
    fn span(&self) -> (f64, f64) {
        let lo = self.quantile(0.0).unwrap_or(0.0);
        let hi = self.quantile(1.0).unwrap_or(1.0);
        let pad = ((hi - lo) * 0.04).max(0.01);
        (lo - pad, hi + pad)
    }
}

/// An SVG histogram: about √n bins (5 to 40) across the values' range, up to `most` at most.
fn histogram(values: &Sample, what: &str, colour: RGBColor, most: f64) -> Drawn<String> {
    let (lo, hi) = values.span();
    let hi = hi.min(most);
    let bins = ((values.len() as f64).sqrt().ceil() as usize).clamp(5, 40);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u32; bins];
    for v in &values.0 {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1);
    svg(CHART, |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, 0..top + top / 10 + 1)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc(what)
            .y_desc("rows")
            .light_line_style(TRANSPARENT)
            .label_style((FONT, 13))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new(
                    [(x0 + width * 0.04, 0), (x0 + width * 0.96, c)],
                    colour.filled(),
                )
            }))
            .map_err(drawing)?;
        Ok(())
    })
}

/// An SVG box plot, one row per scanner: quartile box, median bar, whiskers to min and max.
fn boxes(groups: &[(&str, Sample)]) -> Drawn<String> {
    let all: Vec<f64> = groups.iter().flat_map(|g| g.1 .0.iter().copied()).collect();
    let (lo, hi) = Sample::of(&all).span();
    let names: Vec<String> = groups
        .iter()
        .map(|(s, v)| format!("{} (n={})", super::clip(s, 34), v.len()))
        .collect();
    let height = 60 + 36 * groups.len() as u32;
    svg((CHART.0, height.max(120)), |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(270)
            .build_cartesian_2d(lo..hi, -0.5..groups.len() as f64 - 0.5)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc("TBS")
            .light_line_style(TRANSPARENT)
            .disable_y_mesh()
            .y_labels(0)
            .label_style((FONT, 13))
            .draw()
            .map_err(drawing)?;
        for (i, (_, sample)) in groups.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let q = |p: f64| sample.quantile(p).unwrap_or(0.0);
            let y = i as f64;
            let (whiskers, body) = (colour.stroke_width(2), colour.mix(0.35).filled());
            chart
                .draw_series([
                    PathElement::new([(q(0.0), y), (q(1.0), y)], whiskers),
                    PathElement::new(
                        [(q(0.5), y - 0.3), (q(0.5), y + 0.3)],
                        BLACK.stroke_width(2),
                    ),
                ])
                .map_err(drawing)?;
            chart
                .draw_series([
                    Rectangle::new([(q(0.25), y - 0.3), (q(0.75), y + 0.3)], body),
                    Rectangle::new([(q(0.25), y - 0.3), (q(0.75), y + 0.3)], whiskers),
                ])
                .map_err(drawing)?;
            let (px, py) = chart.backend_coord(&(lo, y));
            let style = (FONT, 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            area.draw(&Text::new(names[i].clone(), (px - 8, py), style))
                .map_err(drawing)?;
        }
        Ok(())
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws onto a white SVG of `size` and returns its markup.
fn svg(size: (u32, u32), draw: impl FnOnce(&Area) -> Drawn<()>) -> Drawn<String> {
    let mut markup = String::new();
    {
        let area = SVGBackend::with_string(&mut markup, size).into_drawing_area();
        area.fill(&WHITE).map_err(drawing)?;
        draw(&area)?;
        area.present().map_err(drawing)?;
    }
    Ok(markup + "\n")
}

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
mod tests {
    use super::*;

    fn row(path: &str, roi: &str, status: &str, tbs: &str, scanner: (&str, &str)) -> Vec<String> {
        RESULT_COLUMNS
            .iter()
            .map(|c| match *c {
                "path" => path.to_string(),
                "frame" => "1".into(),
                "roi" => roi.into(),
                "status" => status.into(),
                "error" if status == "error" => "pixel data: <truncated> & gone".into(),
                "tbs" => tbs.into(),
                "r2" if status == "ok" => "0.99".into(),
                "manufacturer" => scanner.0.into(),
                "model" => scanner.1.into(),
                _ => String::new(),
            })
            .collect()
    }

    fn cohort(rows: &[Vec<String>]) -> Cohort {
        let columns = Columns::find(RESULT_COLUMNS.iter().copied()).unwrap();
        let mut c = Cohort::default();
        for r in rows {
            c.add(&columns, r);
        }
        c
    }

    #[test]
    fn rows_to_check_keep_the_least_few_in_order() {
        let mut list = Vec::new();
        for (i, r2) in [0.9, 0.99, 0.5, 0.95, 0.7, 0.99, 0.6, 0.5]
            .into_iter()
            .enumerate()
        {
            let mark = Mark {
                path: format!("{i}.dcm"),
                frame: "1".into(),
                tbs: 1.0,
                r2,
            };
            keep_least(&mut list, mark, |m| m.r2);
        }
        let kept: Vec<&str> = list.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(kept, ["2.dcm", "7.dcm", "6.dcm", "4.dcm", "0.dcm"]);
    }

    #[test]
    fn a_cohort_without_scores_or_with_one_still_makes_a_page() {
        let empty = render(&Cohort::default(), &Run::default()).unwrap();
        assert!(empty.contains("No row has a score."));
        assert!(empty.contains("0 error rows from 0 inputs"));
        let failed = cohort(&[row("a.dcm", "image", "error", "", ("GE", "iDXA"))]);
        let page = render(&failed, &Run::default()).unwrap();
        assert!(page.contains("No row has a score.") && page.contains("a.dcm"));
        let one = cohort(&[row("a.dcm", "image", "ok", "1.25", ("GE", "iDXA"))]);
        let page = render(&one, &Run::default()).unwrap();
        assert!(
            page.contains("n = 1: mean 1.2500, SD –, median 1.2500"),
            "{page}"
        );
        assert_eq!(page.matches("<svg").count(), 3);
    }

    #[test]
    fn links_survive_awkward_file_names() {
        let link = url_path(Path::new("qc/site a/#3?.dcm.frame-1.png"));
        assert_eq!(link, "qc/site%20a/%233%3F.dcm.frame-1.png");
    }

    #[test]
    fn quantiles_and_spread_follow_the_usual_definitions() {
        let v = [4.0, 1.0, 3.0, 2.0];
        let v = Sample::of(&v);
        assert_eq!(v.quantile(0.5), Some(2.5));
        assert_eq!(v.quantile(0.25), Some(1.75));
        assert_eq!(v.quantile(1.0), Some(4.0));
        assert_eq!(v.mean(), Some(2.5));
        assert!((v.sd().unwrap() - 1.2909944487358056).abs() < 1e-12);
        assert_eq!(Sample::of(&[1.0]).sd(), None);
        assert_eq!(Sample::of(&[]).quantile(0.5), None);
    }

    #[test]
    fn the_pooled_score_is_the_headline_when_there_is_one() {
        let ge = ("GE", "iDXA");
        let c = cohort(&[
            row("a.dcm", "L1", "ok", "1.1", ge),
            row("a.dcm", "L1-L4", "ok", "1.2", ge),
            row("b.dcm", "image", "ok", "0.9", ge),
        ]);
        assert_eq!(c.headline(), Some("L1-L4"));
        let c = cohort(&[row("b.dcm", "image", "ok", "0.9", ge)]);
        assert_eq!(c.headline(), Some("image"));
        let c = cohort(&[row("b.dcm", "image", "error", "", ge)]);
        assert_eq!(c.headline(), None);
    }

    #[test]
    fn inputs_scanners_and_failures_are_counted_and_escaped() {
        let (ge, holo) = (("GE", "iDXA"), ("Hologic", "Horizon A"));
        let c = cohort(&[
            row("a.dcm", "image", "ok", "1.0", ge),
            row("b.dcm", "image", "ok", "1.2", holo),
            row("b.dcm", "image", "error", "", holo),
            row("c<x>.dcm", "image", "error", "", ge),
            row("d.dcm", "image", "ok", "1.4", ge),
        ]);
        assert_eq!((c.inputs, c.inputs_failed, c.error_rows), (4, 2, 2));
        let ge_scores = &c.scanners[&("image".to_string(), "GE iDXA".to_string())];
        assert_eq!(ge_scores, &vec![1.0, 1.4]);
        let page = render(&c, &Run::default()).unwrap();
        assert!(page.contains("c&lt;x&gt;.dcm"), "paths are escaped");
        assert!(page.contains("pixel data: &lt;truncated&gt; &amp; gone"));
        assert!(
            page.contains("Hologic Horizon A (n=1)"),
            "a box per scanner"
        );
        assert_eq!(page.matches("<svg").count(), 3, "TBS, scanners, R²");
        assert!(
            !page.contains("<script") && !page.contains("src="),
            "self-contained"
        );
    }
}
