//! The run: every input through decode → region → engine → fit, in parallel, delivered in walk
//! order.
//!
//! Worker threads claim inputs in order and send each file's finished report to the calling
//! thread, which puts them back in walk order before handing them to the sink. A worker never
//! runs more than a fixed window ahead of the oldest unfinished file, so memory stays bounded
//! however large the cohort; the cost of the ordering guarantee is that one slow file can briefly
//! stall the others at the window's edge.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::decode::{self, DicomFile, Meta};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::fit::{self, FitRange};
use crate::region;
use crate::walk::{self, Input, Skip};
use crate::write::{Outcome, ResultRow, VariogramRecord};

/// What the variogram and fit are computed with.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub max_lag: usize,
    pub fit: FitRange,
    /// CPU threads; the engine decides how many files that keeps in flight.
    pub jobs: usize,
}

/// Everything one input produced.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub rows: Vec<ResultRow>,
    pub variograms: Vec<VariogramRecord>,
    /// Set when the file was not processed at all (not an image file).
    pub skipped: Option<Skip>,
}

impl FileReport {
    fn failed(&self) -> bool {
        self.rows.iter().any(|r| !r.is_ok())
    }
}

/// Computes the report of one input. Never panics outward: a panic becomes an error row.
pub fn process(input: &Input, engine: &dyn Engine, settings: &Settings) -> FileReport {
    catch_unwind(AssertUnwindSafe(|| {
        process_unguarded(input, engine, settings)
    }))
    .unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        file_error(input, engine, Meta::default(), Error::Panic(what))
    })
}

fn process_unguarded(input: &Input, engine: &dyn Engine, settings: &Settings) -> FileReport {
    match walk::classify(&input.path) {
        Ok(Some(skip)) => {
            return FileReport {
                skipped: Some(skip),
                ..FileReport::default()
            }
        }
        Ok(None) => {}
        Err(source) => {
            let e = Error::Io {
                path: input.path.clone(),
                source,
            };
            return file_error(input, engine, Meta::default(), e);
        }
    }
    let file = match decode::open(&input.path) {
        Ok(f) => f,
        Err(e) => return file_error(input, engine, Meta::default(), e),
    };
    let geometry = match file.geometry() {
        Ok(g) => g,
        Err(e) => return file_error(input, engine, file.meta.clone(), e),
    };
    let mut report = FileReport::default();
    for index in 0..geometry.frames {
        score_frame(
            input,
            &file,
            &geometry,
            index,
            engine,
            settings,
            &mut report,
        );
    }
    report
}

/// Adds one frame's rows (one per region) and sums to the report.
fn score_frame(
    input: &Input,
    file: &DicomFile,
    geometry: &decode::Geometry,
    index: u32,
    engine: &dyn Engine,
    settings: &Settings,
    report: &mut FileReport,
) {
    let row = |roi: &str, outcome| ResultRow {
        path: input.display(),
        frame: Some(index + 1),
        roi: roi.to_string(),
        outcome,
        engine: engine.name(),
        meta: file.meta.clone(),
    };
    let frame = match file.frame(geometry, index) {
        Ok(f) => f,
        Err(e) => {
            report.rows.push(row("image", Outcome::Error(e.one_line())));
            return;
        }
    };
    for region in region::regions_for_frame() {
        let variogram = match engine.variogram(&frame, &region, settings.max_lag) {
            Ok(v) => v,
            Err(e) => {
                report
                    .rows
                    .push(row(region.label(), Outcome::Error(e.one_line())));
                continue;
            }
        };
        let outcome = match fit::fit(&variogram, settings.fit) {
            Ok(f) => Outcome::Ok(f),
            Err(e) => Outcome::Error(e.one_line()),
        };
        report.rows.push(row(region.label(), outcome));
        report.variograms.push(VariogramRecord {
            path: input.display(),
            frame: index + 1,
            roi: region.label().to_string(),
            variogram,
        });
    }
}

fn file_error(input: &Input, engine: &dyn Engine, meta: Meta, e: Error) -> FileReport {
    FileReport {
        rows: vec![ResultRow {
            path: input.display(),
            frame: None,
            roi: "image".into(),
            outcome: Outcome::Error(e.one_line()),
            engine: engine.name(),
            meta,
        }],
        ..FileReport::default()
    }
}

/// Counts for the closing summary line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub files_ok: usize,
    pub files_failed: usize,
    pub skipped: usize,
    pub rows_ok: usize,
    pub rows_failed: usize,
    pub elapsed: Duration,
    /// The process's peak resident memory, where the system reports it.
    pub peak_bytes: Option<u64>,
}

impl Summary {
    fn add(&mut self, report: &FileReport) {
        if report.skipped.is_some() {
            self.skipped += 1;
        } else if report.failed() {
            self.files_failed += 1;
        } else {
            self.files_ok += 1;
        }
        let ok = report.rows.iter().filter(|r| r.is_ok()).count();
        self.rows_ok += ok;
        self.rows_failed += report.rows.len() - ok;
    }

    /// Frames scored per second of wall time.
    pub fn images_per_second(&self) -> f64 {
        (self.rows_ok + self.rows_failed) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} files ok, {} failed, {} skipped (not DICOM images); {} rows ok, {} error rows; {:.2} s, {:.1} images/s",
            self.files_ok,
            self.files_failed,
            self.skipped,
            self.rows_ok,
            self.rows_failed,
            self.elapsed.as_secs_f64(),
            self.images_per_second()
        )?;
        match self.peak_bytes {
            Some(b) => write!(f, "; peak memory {} MB", b >> 20),
            None => Ok(()),
        }
    }
}

/// Runs every input and hands each report, in walk order, to `sink`.
///
/// Only the sink can fail the run (the output cannot be written); per-file failures are rows.
pub fn run(
    inputs: &[Input],
    engine: &dyn Engine,
    settings: &Settings,
    mut sink: impl FnMut(&FileReport) -> Result<()>,
) -> Result<Summary> {
    let start = Instant::now();
    let progress = progress_bar(inputs.len());
    let jobs = engine.workers(settings.jobs.max(1));
    let window = jobs * 4;
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    // The number of reports delivered so far; workers wait on it to stay within the window.
    let delivered = (Mutex::new(0usize), Condvar::new());
    let mut summary = Summary::default();
    let mut outcome = Ok(());
    let pool = worker_pool(jobs)?;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, FileReport)>();
        let (next, abort, delivered) = (&next, &abort, &delivered);
        // Every pool thread runs one claim-process-send loop; `tx` drops when all have ended.
        scope.spawn(move || {
            pool.broadcast(|_| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= inputs.len() || !wait_for_window(delivered, abort, i, window) {
                    break;
                }
                if tx.send((i, process(&inputs[i], engine, settings))).is_err() {
                    break;
                }
            })
        });
        let mut pending = BTreeMap::new();
        let mut expect = 0;
        for (i, report) in rx {
            pending.insert(i, report);
            while let Some(report) = pending.remove(&expect) {
                summary.add(&report);
                progress.inc(1);
                progress.set_message(format!("{} errors", summary.rows_failed));
                if let Err(e) = sink(&report) {
                    outcome = Err(e);
                    abort.store(true, Ordering::Relaxed);
                }
                expect += 1;
                *delivered.0.lock().unwrap_or_else(|p| p.into_inner()) = expect;
                delivered.1.notify_all();
            }
            if abort.load(Ordering::Relaxed) {
                break;
            }
        }
        // Wake any worker still waiting so the scope can end.
        abort.store(true, Ordering::Relaxed);
        delivered.1.notify_all();
    });
    progress.finish_and_clear();
    summary.elapsed = start.elapsed();
    summary.peak_bytes = peak_resident_bytes();
    outcome.map(|()| summary)
}

/// The threads the workers run on. A rayon pool of their own, rather than plain threads, so that
/// a large frame's parallel sums are shared out among the workers by work stealing: an idle
/// worker helps with another's frame, and a busy one is never made to wait on a second pool.
fn worker_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tbs-worker-{i}"))
        .build()
        .map_err(|e| Error::Config(format!("cannot start {threads} worker threads: {e}")))
}

/// Peak resident memory of this process so far (Linux: `VmHWM`); `None` elsewhere.
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Restarts the peak-memory count from the current size (Linux), so a measurement covers only
/// what follows. Where that is not possible the peak stays the whole process's.
pub fn reset_peak_resident() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Blocks until input `i` is within `window` of the oldest undelivered one; false on abort.
fn wait_for_window(
    delivered: &(Mutex<usize>, Condvar),
    abort: &AtomicBool,
    i: usize,
    window: usize,
) -> bool {
    let mut done = delivered.0.lock().unwrap_or_else(|p| p.into_inner());
    while i >= *done + window && !abort.load(Ordering::Relaxed) {
        done = delivered.1.wait(done).unwrap_or_else(|p| p.into_inner());
    }
    !abort.load(Ordering::Relaxed)
}

/// Files done/total, rate, ETA and errors so far; drawn only when stderr is a terminal.
fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{bar:30} {pos}/{len} files  {rate}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1} files/s", state.per_sec());
                },
            );
    bar.set_style(style);
    bar
}
