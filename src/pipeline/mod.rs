//! The per-file pipeline: one input through the stages — read, decode, regions, sums, fit,
//! rows — each a call into the module that owns it, and the run that puts a cohort's inputs
//! through it on the ordered pool of [`schedule`].
//!
//! A new stage is one more call here (or in [`frame`], for one that works on a frame) and a
//! module of its own. What looks at a scored frame without changing its rows, as the QC sheets
//! do, is a [`FrameHook`].
//!
//! [`schedule`]: crate::schedule

mod frame;
mod hook;
mod pool;
mod skipped;
mod summary;

pub use hook::{FrameHook, FrameView, Picture};
pub use skipped::{SkipReason, Skipped};
pub use summary::{peak_resident_bytes, reset_peak_resident, Summary};

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cohort::{self, pseudonym::Pseudonymizer};
use crate::decode::{self, DicomFile, Geometry, Meta};
use crate::engine::Engine;
use crate::error::{FileError, FileResult, Result, RunError};
use crate::fit::FitSpec;
use crate::region::sidecar::{Entry, SavedRegion, Sidecar};
use crate::region::{Extremes, RoiSource};
use crate::scan::{self, ScanType, Selection};
use crate::schedule::{self, Job, Pool};
use crate::walk::{Contents, Input, Skip};
use crate::write::{Outcome, RegionFacts, ResultRow, VariogramRecord};

/// What the variogram and fit are computed with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_lag: usize,
    pub fit: FitSpec,
    /// `--spacing`: the pixel spacing in mm for every image, whatever the header says.
    pub spacing: Option<f64>,
    /// CPU threads; the engine decides how many files that keeps in flight.
    pub jobs: usize,
    /// Which stored values are left out of every region.
    pub extremes: Extremes,
    /// The `--roi` sidecar; without one every frame is scored whole.
    pub sidecar: Option<Arc<Sidecar>>,
    /// The most stored pixels (rows × columns × frames) an image may declare; larger ones, and
    /// files larger than such an image could be, are error rows before anything is allocated.
    pub max_pixels: u64,
    /// `--pseudonymize`: Patient IDs become keyed hashes.
    pub pseudonym: Option<Pseudonymizer>,
    /// What looks at every scored frame (`--qc`: the QC sheets).
    pub hook: Option<Arc<dyn FrameHook>>,
    /// `--file-timeout`: an input still being processed after this is an error row.
    pub file_timeout: Option<Duration>,
    /// `--scans`: the scan types scored; images of other types are skipped.
    pub scans: Selection,
    /// `--roi auto`: AP spines (and unknown scans) without sidecar lines get L1–L4 located.
    pub locate: bool,
}

impl Settings {
    /// The largest file read: an uncompressed image at the pixel cap (two bytes per pixel), with
    /// room for a generous header.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_pixels
            .saturating_mul(2)
            .saturating_add(HEADER_ROOM)
    }
}

/// `--file-timeout` by default. A DXA file takes milliseconds; this is four orders of magnitude
/// more, so only a file that hangs its codec or its storage reaches it.
pub const DEFAULT_FILE_TIMEOUT: Duration = Duration::from_secs(120);

/// `--max-pixels` by default: 2^26 stored pixels (128 MiB at 16 bits), a hundred times the
/// largest DXA image, small enough that every worker holding one stays within a node's memory.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// Bytes allowed beyond the pixels for headers, overlays and private elements.
const HEADER_ROOM: u64 = 64 << 20;

/// Everything one input produced.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub rows: Vec<ResultRow>,
    pub variograms: Vec<VariogramRecord>,
    /// The regions scored, as sidecar lines (`--save-roi`).
    pub regions: Vec<SavedRegion>,
    /// Set when the input was not scored at all, and why.
    pub skipped: Option<Skipped>,
    /// What the frame hook made of each frame that decoded (the QC sheets).
    pub pictures: Vec<Picture>,
    /// Set when the engine can compute nothing more (a lost GPU): the run stops before this
    /// input, whose rows are not written, so `--resume` carries on from it.
    pub fatal: Option<String>,
}

impl FileReport {
    fn failed(&self) -> bool {
        self.rows.iter().any(|r| !r.is_ok())
    }
}

/// One input on its way through the stages, and what it is scored with.
struct Scoring<'a> {
    input: &'a Input,
    engine: &'a dyn Engine,
    settings: &'a Settings,
}

/// Computes the report of one input. Never panics outward: a panic becomes an error row.
pub fn process(input: &Input, engine: &dyn Engine, settings: &Settings) -> FileReport {
    let scoring = Scoring {
        input,
        engine,
        settings,
    };
    catch_unwind(AssertUnwindSafe(|| scoring.file())).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        scoring.failed(&Meta::default(), FileError::Panic(what))
    })
}

impl<'a> Scoring<'a> {
    /// The stages, in order.
    fn file(&self) -> FileReport {
        let mut file = match self.open() {
            Ok(Opened::Skipped(skipped)) => return skipped.into(),
            Ok(Opened::File(file)) => file,
            Err((sha256, e)) => {
                let digest = Meta {
                    sha256,
                    ..Meta::default()
                };
                return self.failed(&digest, e);
            }
        };
        if let Some(skipped) = self.scan(&mut file) {
            return skipped.into();
        }
        let geometry = match file
            .geometry()
            .and_then(|g| within_cap(g, self.settings.max_pixels))
        {
            Ok(g) => g,
            Err(e) => return self.failed(&file.meta, e),
        };
        let regions = self.regions(&file);
        let path = self.input.display();
        let mut report = FileReport {
            regions: regions.iter().map(|e| e.saved(&path)).collect(),
            ..FileReport::default()
        };
        for index in 0..geometry.frames {
            let mine: Vec<&Entry> = regions
                .iter()
                .copied()
                .filter(|e| e.frame == index + 1)
                .collect();
            frame::score(self, &file, &geometry, index, &mine, &mut report);
        }
        self.frames_missing(&file, &geometry, &regions, &mut report);
        report
    }

    /// Read and decode: the file's header and frames, its identifying fields as the run
    /// reports them. A failure says the SHA-256 of the bytes read, when they were.
    fn open(&self) -> std::result::Result<Opened, (String, FileError)> {
        let (input, settings) = (self.input, self.settings);
        let contents = input
            .contents(settings.max_file_bytes())
            .map_err(|e| (String::new(), e))?;
        let bytes = match contents {
            Contents::Dicom(bytes) => bytes,
            Contents::Skipped(skip, bytes) => {
                let sha256 = match (bytes, skip) {
                    (Some(b), _) => cohort::sha256(&b),
                    (None, Skip::NotAFile) => String::new(),
                    (None, _) => cohort::sha256_file(&input.path).unwrap_or_default(),
                };
                let why = SkipReason::NotImage(skip);
                let path = input.display();
                return Ok(Opened::Skipped(Skipped { path, why, sha256 }));
            }
        };
        let sha256 = cohort::sha256(&bytes);
        let mut file =
            decode::parse(&bytes, settings.max_file_bytes()).map_err(|e| (sha256.clone(), e))?;
        file.meta.sha256 = sha256;
        if let Some(p) = &settings.pseudonym {
            file.meta.patient_id = p.pseudonym(&file.meta.patient_id);
        }
        if let Some(mm) = settings.spacing {
            file.meta.pixel_spacing = Some((mm, mm));
            file.meta.spacing_source = "flag";
        }
        Ok(Opened::File(Box::new(file)))
    }

    /// Recognises the scan; an image of a type `--scans` leaves out is skipped.
    fn scan(&self, file: &mut DicomFile) -> Option<Skipped> {
        let recognised = scan::recognise(&file.meta.texts);
        file.meta.scan = Some(recognised.clone());
        (!self.settings.scans.scores(recognised.scan)).then(|| Skipped {
            path: self.input.display(),
            why: SkipReason::Scan(recognised),
            sha256: file.meta.sha256.clone(),
        })
    }

    /// Whether a frame of this file with no sidecar line has its L1–L4 located: with
    /// `--roi auto`, for AP spines and images whose header names no scan.
    fn locates(&self, meta: &Meta) -> bool {
        let spine = meta
            .scan
            .as_ref()
            .is_none_or(|r| matches!(r.scan, ScanType::ApSpine | ScanType::Unknown));
        self.settings.locate && spine
    }

    /// The sidecar's lines about this file, every frame's.
    fn regions(&self, file: &DicomFile) -> Vec<&'a Entry> {
        match &self.settings.sidecar {
            Some(sidecar) => sidecar.regions(&self.input.display(), &file.meta.sop_instance_uid),
            None => Vec::new(),
        }
    }

    /// An error row for each sidecar line about a frame the file does not have.
    fn frames_missing(
        &self,
        file: &DicomFile,
        geometry: &Geometry,
        regions: &[&Entry],
        report: &mut FileReport,
    ) {
        for e in regions.iter().filter(|e| e.frame > geometry.frames) {
            let why = FileError::Region(format!(
                "{}: frame {} does not exist; the file has {}",
                e.place, e.frame, geometry.frames
            ));
            report.rows.push(ResultRow {
                frame: Some(e.frame),
                roi: e.label.clone(),
                region: RegionFacts {
                    source: Some(RoiSource::Sidecar),
                    ..RegionFacts::default()
                },
                ..self.file_row(&file.meta, why)
            });
        }
    }

    /// The report of a file that failed before any frame.
    fn failed(&self, meta: &Meta, e: FileError) -> FileReport {
        FileReport {
            rows: vec![self.file_row(meta, e)],
            ..FileReport::default()
        }
    }

    /// The error row of a file that failed before any frame.
    fn file_row(&self, meta: &Meta, e: FileError) -> ResultRow {
        ResultRow {
            path: self.input.display(),
            frame: None,
            roi: "image".into(),
            outcome: Outcome::Error(e.one_line()),
            region: RegionFacts::default(),
            engine: self.engine.name(),
            meta: meta.clone(),
        }
    }
}

/// What reading an input gave.
enum Opened {
    File(Box<DicomFile>),
    Skipped(Skipped),
}

/// An input's SOP Instance UID, read as the pipeline reads the file; `None` when it cannot be.
pub fn sop_instance_uid(input: &Input, settings: &Settings) -> Option<String> {
    let bytes = input.read(settings.max_file_bytes()).ok()?;
    let file = decode::parse(&bytes, settings.max_file_bytes()).ok()?;
    Some(file.meta.sop_instance_uid)
}

/// Refuses an image that declares more stored pixels than `max_pixels`, before any is decoded.
fn within_cap(g: Geometry, max_pixels: u64) -> FileResult<Geometry> {
    let pixels = g.pixels();
    if pixels > max_pixels {
        return Err(FileError::TooLarge(format!(
            "{} × {} × {} frames = {pixels} pixels; the limit is --max-pixels {max_pixels}",
            g.cols, g.rows, g.frames
        )));
    }
    Ok(g)
}

/// The pipeline as the pool's job: what it owns lives as long as a worker stuck in a file.
struct FileJob {
    engine: Arc<dyn Engine>,
    settings: Arc<Settings>,
}

impl Job for FileJob {
    type Item = Input;
    type Output = FileReport;

    fn run(&self, input: &Input) -> FileReport {
        process(input, self.engine.as_ref(), &self.settings)
    }

    fn timed_out(&self, input: &Input, limit: Duration) -> FileReport {
        let why = FileError::TimedOut(format!(
            "still being processed after {} (--file-timeout); the run went on without it",
            humantime::format_duration(limit)
        ));
        let scoring = Scoring {
            input,
            engine: self.engine.as_ref(),
            settings: &self.settings,
        };
        scoring.failed(&Meta::default(), why)
    }
}

/// Runs every input and hands each report, in walk order, to `sink`.
///
/// Per-file failures are rows; the run fails only when the sink does (the output cannot be
/// written), when the engine is lost (the input it failed on is not handed on), or when inputs
/// pile up past `--file-timeout`.
pub fn run(
    inputs: Vec<Input>,
    engine: Arc<dyn Engine>,
    settings: Arc<Settings>,
    mut sink: impl FnMut(&FileReport) -> Result<()>,
) -> Result<Summary> {
    let start = Instant::now();
    let pool = Pool {
        workers: engine.workers(settings.jobs.max(1)),
        limit: settings.file_timeout,
    };
    let threads = worker_pool(pool.workers)?;
    let mut summary = Summary::default();
    let job = FileJob { engine, settings };
    schedule::run(job, inputs, pool, &threads, |report, progress| {
        if let Some(why) = report.fatal {
            let input = report
                .rows
                .first()
                .map_or(String::new(), |r| r.path.clone());
            return Err(RunError::Stopped { input, why });
        }
        summary.add(&report);
        progress.note(format!("{} errors", summary.rows_failed));
        sink(&report)
    })?;
    summary.elapsed = start.elapsed();
    summary.peak_bytes = peak_resident_bytes();
    Ok(summary)
}

/// The threads the workers run on. A rayon pool of their own, rather than plain threads, so that
/// a large frame's parallel sums are shared out among the workers by work stealing: an idle
/// worker helps with another's frame, and a busy one is never made to wait on a second pool.
fn worker_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tbs-worker-{i}"))
        .build()
        .map_err(|e| RunError::Config(format!("cannot start {threads} worker threads: {e}")))
}

#[cfg(test)]
mod tests;
