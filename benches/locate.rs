//! How well `--roi auto` finds L1–L4: generated AP spines of many shapes, sizes and exports,
//! located and compared with their true outlines — labels, overlap (IoU), the pooled TBS
//! against the true outlines', the failures by cause, and what locating costs.
//!
//! `cargo bench --bench locate` runs 500 spines (`TBS_LOCATE_SPINES` for another count) and
//! prints the tables for BENCHMARKS.md; `cargo test --benches` runs six small ones.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tbs_batch::decode::Frame;
use tbs_batch::engine::{self, Choice, Engine};
use tbs_batch::fit::{FitRange, FitSpec};
use tbs_batch::phantom::anatomy::Export;
use tbs_batch::phantom::{write_anatomies, AnatomySet};
use tbs_batch::pipeline::{self, FileReport, Settings, DEFAULT_MAX_PIXELS};
use tbs_batch::region::sidecar::{LineShape, Sidecar};
use tbs_batch::region::{Extremes, Kept, Patch, Shape};
use tbs_batch::scan::Selection;
use tbs_batch::walk;
use tbs_batch::write::Outcome;

/// One kind of export: rows, columns, spacing (mm), how stored.
struct Kind {
    name: &'static str,
    rows: usize,
    cols: usize,
    spacing_mm: f64,
    export: Export,
}

const KINDS: [Kind; 5] = [
    Kind {
        name: "iDXA display 780×716 0.25 mm",
        rows: 780,
        cols: 716,
        spacing_mm: 0.25,
        export: Export::Display,
    },
    Kind {
        name: "iDXA raw 16-bit 780×716 0.25 mm",
        rows: 780,
        cols: 716,
        spacing_mm: 0.25,
        export: Export::Raw(16),
    },
    Kind {
        name: "Hologic-like raw 12-bit 700×560 0.30 mm",
        rows: 700,
        cols: 560,
        spacing_mm: 0.30,
        export: Export::Raw(12),
    },
    Kind {
        name: "display 900×760 0.22 mm",
        rows: 900,
        cols: 760,
        spacing_mm: 0.22,
        export: Export::Display,
    },
    Kind {
        name: "display 600×470 0.33 mm",
        rows: 600,
        cols: 470,
        spacing_mm: 0.33,
        export: Export::Display,
    },
];

/// What one spine gave.
struct Outcomes {
    kind: usize,
    /// Each vertebra's IoU with its true outline, when located.
    ious: Option<[f64; 4]>,
    quality: Option<f64>,
    /// Why it was not located.
    failure: Option<String>,
    /// Pooled L1-L4 TBS, automatic and true.
    tbs: (Option<f64>, Option<f64>),
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let spines: usize = match std::env::var("TBS_LOCATE_SPINES") {
        Ok(n) => n.parse().expect("TBS_LOCATE_SPINES is a count"),
        Err(_) if full => 500,
        Err(_) => 6,
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let groups = generate(dir.path(), spines);
    eprintln!(
        "{spines} spines generated in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let engine: Arc<dyn Engine> = Arc::from(engine::open(Choice::Cpu).expect("the CPU engine"));
    let mut outcomes = Vec::new();
    let mut times = [Duration::ZERO; 3];
    for (kind, folder) in &groups {
        let truth = Arc::new(Sidecar::load(&folder.join("rois.csv")).expect("true outlines"));
        let (found, t) = score(folder, &engine, *kind, truth);
        outcomes.extend(found);
        for (all, one) in times.iter_mut().zip(t) {
            *all += one;
        }
    }
    report(&outcomes, times, spines);
    assert!(
        outcomes.iter().any(|o| o.ious.is_some()),
        "no spine was located"
    );
}

/// Writes the spines, a folder per kind and batch, in parallel: (kind, folder).
fn generate(root: &Path, spines: usize) -> Vec<(usize, std::path::PathBuf)> {
    const BATCH: usize = 10;
    let batches: Vec<(usize, Vec<u64>)> = (0..spines as u64)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .enumerate()
        .map(|(i, seeds)| (i % KINDS.len(), seeds.iter().map(|s| s + 1).collect()))
        .collect();
    batches
        .into_par_iter()
        .enumerate()
        .map(|(i, (kind, seeds))| {
            let k = &KINDS[kind];
            let out = root.join(format!("batch-{i}"));
            write_anatomies(&AnatomySet {
                out: out.clone(),
                rows: if spines > 6 { k.rows } else { 560 },
                cols: if spines > 6 { k.cols } else { 400 },
                spacing_mm: if spines > 6 { k.spacing_mm } else { 0.34 },
                export: k.export,
                seeds,
            })
            .expect("spines written");
            (kind, out)
        })
        .collect()
}

/// Scores a folder three ways, one file at a time: whole images (a default run), the true
/// outlines, and `--roi auto`. What each spine gave, and the three times.
fn score(
    folder: &Path,
    engine: &Arc<dyn Engine>,
    kind: usize,
    truth: Arc<Sidecar>,
) -> (Vec<Outcomes>, [Duration; 3]) {
    let inputs = walk::walk(&[folder.to_path_buf()]);
    let run = |sidecar: Option<Arc<Sidecar>>, locate: bool| {
        let settings = settings(sidecar, locate);
        let start = Instant::now();
        let reports: Vec<FileReport> = inputs
            .iter()
            .map(|i| pipeline::process(i, engine.as_ref(), &settings))
            .filter(|r| r.skipped.is_none())
            .collect();
        (reports, start.elapsed())
    };
    let (_, whole) = run(None, false);
    let (true_rows, with_truth) = run(Some(Arc::clone(&truth)), false);
    let (auto_rows, auto) = run(None, true);
    let outcomes = auto_rows
        .iter()
        .zip(&true_rows)
        .map(|(a, t)| compare(a, t, kind))
        .collect();
    (outcomes, [whole, with_truth, auto])
}

fn settings(sidecar: Option<Arc<Sidecar>>, locate: bool) -> Settings {
    Settings {
        max_lag: 16,
        fit: FitSpec::Lags(FitRange::new(1, 4, 16).expect("lags 1..4")),
        spacing: None,
        jobs: 1,
        extremes: Extremes::Auto,
        sidecar,
        max_pixels: DEFAULT_MAX_PIXELS,
        pseudonym: None,
        hook: None,
        file_timeout: None,
        scans: Selection::all(),
        locate,
    }
}

/// One spine's automatic rows and regions against its rows over the true outlines.
fn compare(auto: &FileReport, truth: &FileReport, kind: usize) -> Outcomes {
    let pooled = |r: &FileReport| {
        r.rows
            .iter()
            .find(|row| row.roi == "L1-L4")
            .and_then(|row| match &row.outcome {
                Outcome::Ok(f) => Some(f.tbs),
                Outcome::Error(_) => None,
            })
    };
    let first = auto.rows.iter().find(|r| r.roi == "L1");
    let failure = first.and_then(|r| match &r.outcome {
        Outcome::Error(e) if r.region.quality.is_none() => Some(cause(e)),
        _ => None,
    });
    let meta = &truth.rows[0].meta;
    let (rows, cols) = (
        meta.rows.unwrap_or(0) as usize,
        meta.columns.unwrap_or(0) as usize,
    );
    let outline = |r: &FileReport, k: usize| match &r.regions.get(k)?.shape {
        LineShape::Polygon(p) => Some(p.clone()),
        _ => None,
    };
    let ious = (failure.is_none() && auto.regions.len() == 4).then(|| {
        [0, 1, 2, 3].map(|k| match (outline(auto, k), outline(truth, k)) {
            (Some(a), Some(t)) => iou(&a, &t, rows, cols),
            _ => 0.0,
        })
    });
    Outcomes {
        kind,
        ious,
        quality: first.and_then(|r| r.region.quality),
        failure,
        tbs: (pooled(auto), pooled(truth)),
    }
}

/// The step an error row names: the message up to its first colon or parenthesis.
fn cause(e: &str) -> String {
    let e = e.trim_start_matches("automatic L1-L4: ");
    e.split([':', '(']).next().unwrap_or(e).trim().to_string()
}

/// Intersection over union of two polygons, as the engines cut them.
fn iou(a: &[(f64, f64)], b: &[(f64, f64)], rows: usize, cols: usize) -> f64 {
    let frame = Frame::new(rows, cols, vec![0; rows * cols]).expect("a frame");
    let mask = |p: &[(f64, f64)]| {
        let patch = Patch::cut(&frame, &Shape::Polygon(p.to_vec()), None).expect("inside");
        let mut m = vec![false; rows * cols];
        if let Kept::Marked(inside) = &patch.kept {
            for (i, &v) in inside.as_bytes().iter().enumerate() {
                m[(patch.top + i / patch.cols) * cols + patch.left + i % patch.cols] = v == 1;
            }
        }
        m
    };
    let (ma, mb) = (mask(a), mask(b));
    let both = ma.iter().zip(&mb).filter(|(x, y)| **x && **y).count();
    let either = ma.iter().zip(&mb).filter(|(x, y)| **x || **y).count();
    both as f64 / either.max(1) as f64
}

fn report(outcomes: &[Outcomes], [whole, truth, auto]: [Duration; 3], spines: usize) {
    let located: Vec<&Outcomes> = outcomes.iter().filter(|o| o.ious.is_some()).collect();
    let right = |o: &Outcomes| o.ious.is_some_and(|v| v.iter().all(|&x| x > 0.5));
    println!("| kind | spines | located | all four labels right | mean IoU | flagged |");
    println!("|---|---|---|---|---|---|");
    for (k, kind) in KINDS.iter().enumerate() {
        let mine: Vec<&Outcomes> = outcomes.iter().filter(|o| o.kind == k).collect();
        let loc: Vec<&&Outcomes> = mine.iter().filter(|o| o.ious.is_some()).collect();
        let ious: Vec<f64> = loc.iter().flat_map(|o| o.ious.unwrap()).collect();
        println!(
            "| {} | {} | {} | {} | {:.3} | {} |",
            kind.name,
            mine.len(),
            loc.len(),
            mine.iter().filter(|o| right(o)).count(),
            mean(&ious),
            mine.iter()
                .filter(|o| o.quality.is_some_and(|q| q < 0.5))
                .count(),
        );
    }
    let ious: Vec<f64> = located.iter().flat_map(|o| o.ious.unwrap()).collect();
    let labels = outcomes.iter().filter(|o| right(o)).count();
    println!();
    println!(
        "All {spines}: all four labels right on {labels} ({:.1} %); located {}; mean IoU {:.3} (median {:.3}, 5th percentile {:.3}).",
        100.0 * labels as f64 / spines as f64,
        located.len(),
        mean(&ious),
        quantile(&ious, 0.5),
        quantile(&ious, 0.05)
    );
    let deltas: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| match o.tbs {
            (Some(a), Some(t)) => Some((a - t).abs()),
            _ => None,
        })
        .collect();
    println!(
        "|ΔTBS| of L1-L4, automatic vs true outlines, {} spines: median {:.4}, 90th percentile {:.4}, 95th {:.4}, max {:.4}.",
        deltas.len(),
        quantile(&deltas, 0.5),
        quantile(&deltas, 0.9),
        quantile(&deltas, 0.95),
        quantile(&deltas, 1.0)
    );
    let flagged: Vec<&&Outcomes> = located
        .iter()
        .filter(|o| o.quality.is_some_and(|q| q < 0.5))
        .collect();
    let wrong_unflagged = located
        .iter()
        .filter(|o| o.quality.is_some_and(|q| q >= 0.5) && !right(o))
        .count();
    println!(
        "Flagged (roi_quality < 0.5): {}, of which labels wrong: {}; labels wrong but not flagged: {wrong_unflagged}.",
        flagged.len(),
        flagged.iter().filter(|o| !right(o)).count()
    );
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes {
        if let Some(f) = &o.failure {
            *causes.entry(f.as_str()).or_default() += 1;
        }
    }
    println!("Failures by cause: {causes:?}");
    let per = |d: Duration| d.as_secs_f64() * 1e3 / spines as f64;
    println!(
        "Per image, one thread: whole image {:.2} ms, true outlines {:.2} ms, --roi auto {:.2} ms; locating {:.2} ms = {:.2} of a default run's time.",
        per(whole),
        per(truth),
        per(auto),
        per(auto) - per(truth),
        (per(auto) - per(truth)) / per(whole)
    );
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(((s.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}
