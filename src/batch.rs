//! The per-file pipeline: read → decode → regions → sums → fit → rows, for one input, and the
//! run that puts every input of a cohort through it on the ordered pool of [`schedule`].
//!
//! [`schedule`]: crate::schedule

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cohort::{self, pseudonym::Pseudonymizer};
use crate::decode::{self, DicomFile, Meta};
use crate::engine::Engine;
use crate::engine::Variogram;
use crate::error::{Error, Result};
use crate::fit::{self, FitSpec};
use crate::picture::{self, qc};
use crate::region::sidecar::{Entry, Sidecar};
use crate::region::{self, Extremes, Patch, Shape};
use crate::schedule::{self, Job, Pool};
use crate::walk::{self, Input, Skip};
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
    /// `--qc`: draw a QC sheet of every frame.
    pub qc: bool,
    /// `--file-timeout`: an input still being processed after this is an error row.
    pub file_timeout: Option<Duration>,
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
    /// Set when the file was not processed at all (not an image file).
    pub skipped: Option<Skip>,
    /// QC sheets (`--qc`), one per frame that decoded.
    pub pictures: Vec<Picture>,
    /// Set when the engine can compute nothing more (a lost GPU): the run stops before this
    /// input, whose rows are not written, so `--resume` carries on from it.
    pub fatal: Option<String>,
}

/// A frame's QC sheet, drawn by a worker, written by the sink with the file's rows.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Where it goes, relative to the QC folder.
    pub name: PathBuf,
    /// The PNG, or why it could not be drawn (the rows stand either way).
    pub png: std::result::Result<Vec<u8>, String>,
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
    let bytes = match input.read(settings.max_file_bytes()) {
        Ok(b) => b,
        Err(e) => return file_error(input, engine, Meta::default(), e),
    };
    let digest = Meta {
        sha256: cohort::sha256(&bytes),
        ..Meta::default()
    };
    let mut file = match decode::parse(&bytes, settings.max_file_bytes()) {
        Ok(f) => f,
        Err(e) => return file_error(input, engine, digest, e),
    };
    drop(bytes);
    file.meta.sha256 = digest.sha256;
    if let Some(p) = &settings.pseudonym {
        file.meta.patient_id = p.pseudonym(&file.meta.patient_id);
    }
    if let Some(mm) = settings.spacing {
        file.meta.pixel_spacing = Some((mm, mm));
        file.meta.spacing_source = "flag";
    }
    let geometry = match file
        .geometry()
        .and_then(|g| within_cap(g, settings.max_pixels))
    {
        Ok(g) => g,
        Err(e) => return file_error(input, engine, file.meta.clone(), e),
    };
    let regions = match &settings.sidecar {
        Some(sidecar) => sidecar.regions(&input.display(), &file.meta.sop_instance_uid),
        None => Vec::new(),
    };
    let mut report = FileReport::default();
    for index in 0..geometry.frames {
        let frame_regions: Vec<&Entry> = regions
            .iter()
            .copied()
            .filter(|e| e.frame == index + 1)
            .collect();
        let scorer = FrameScorer {
            input,
            file: &file,
            index,
            engine,
            settings,
        };
        scorer.score(&geometry, &frame_regions, &mut report);
    }
    for e in regions.iter().filter(|e| e.frame > geometry.frames) {
        let why = Error::Region(format!(
            "{}: frame {} does not exist; the file has {}",
            e.place, e.frame, geometry.frames
        ));
        report.rows.push(ResultRow {
            frame: Some(e.frame),
            roi: e.label.clone(),
            ..file_row(input, engine, &file.meta, why)
        });
    }
    report
}

/// An input's SOP Instance UID, read as the pipeline reads the file; `None` when it cannot be.
pub fn sop_instance_uid(input: &Input, settings: &Settings) -> Option<String> {
    let bytes = input.read(settings.max_file_bytes()).ok()?;
    let file = decode::parse(&bytes, settings.max_file_bytes()).ok()?;
    Some(file.meta.sop_instance_uid)
}

/// Refuses an image that declares more stored pixels than `max_pixels`, before any is decoded.
fn within_cap(g: decode::Geometry, max_pixels: u64) -> Result<decode::Geometry> {
    let pixels = g.pixels();
    if pixels > max_pixels {
        return Err(Error::TooLarge(format!(
            "{} × {} × {} frames = {pixels} pixels; the limit is --max-pixels {max_pixels}",
            g.cols, g.rows, g.frames
        )));
    }
    Ok(g)
}

/// The vertebrae whose sums the pooled `L1-L4` row adds, and the fewest it needs.
const VERTEBRAE: [&str; 4] = ["L1", "L2", "L3", "L4"];
const MIN_VERTEBRAE: usize = 2;

/// Scores the regions of one frame.
struct FrameScorer<'a> {
    input: &'a Input,
    file: &'a DicomFile,
    /// 0-based.
    index: u32,
    engine: &'a dyn Engine,
    settings: &'a Settings,
}

/// One region's sums and fit, kept for pooling.
struct Scored {
    label: String,
    variogram: Variogram,
    excluded: u64,
    tbs: Option<f64>,
}

impl FrameScorer<'_> {
    /// Adds the frame's rows — one per region, then the pooled `L1-L4` row when the regions
    /// name vertebrae — and their sums to the report.
    fn score(&self, geometry: &decode::Geometry, regions: &[&Entry], report: &mut FileReport) {
        let (rows_from, sums_from) = (report.rows.len(), report.variograms.len());
        let frame = match self.file.frame(geometry, self.index) {
            Ok(f) => f,
            Err(e) => {
                report
                    .rows
                    .push(self.row("image", Outcome::Error(e.one_line())));
                return;
            }
        };
        let outside_values = self
            .settings
            .extremes
            .excludes(geometry.layout.bits_stored)
            .then(|| region::extremes(&frame));
        // (label, sidecar line, shape): the sidecar's regions, else the whole frame.
        let shapes: Vec<(String, Option<&str>, Result<Shape>)> = if regions.is_empty() {
            vec![("image".into(), None, Ok(Shape::WholeFrame))]
        } else {
            regions
                .iter()
                .map(|e| (e.label.clone(), Some(e.place.as_str()), e.shape()))
                .collect()
        };
        // Every region is cut first, so the engine sums all of the frame's regions in one call.
        let mut patches = Vec::new();
        let mut labels = Vec::new();
        let mut cuts = Vec::new();
        let mut outlines = Vec::new();
        for (label, place, shape) in shapes {
            if let (true, Ok(shape)) = (self.settings.qc, &shape) {
                outlines.push(qc::Outline {
                    label: label.clone(),
                    shape: shape.clone(),
                    // The region's place among the frame's regions: `labels` gets it below.
                    colour: region_colour(labels.len()),
                });
            }
            // A sidecar line names itself when read; what the image shows wrong is named here.
            let cut = shape.and_then(|s| {
                Patch::cut(&frame, &s, outside_values).map_err(|e| match (place, e) {
                    (Some(p), Error::Region(m)) => Error::Region(format!("{p}: {m}")),
                    (_, e) => e,
                })
            });
            cuts.push(cut.map(|patch| {
                patches.push(patch);
                patches.len() - 1
            }));
            labels.push(label);
        }
        let sums = if patches.is_empty() {
            Ok(Vec::new())
        } else {
            self.engine
                .variograms(&frame, &patches, self.settings.max_lag)
                .map_err(|e| {
                    if e.stops_the_run() {
                        report.fatal.get_or_insert_with(|| e.one_line());
                    }
                    e.one_line()
                })
        };
        let mut scored = Vec::new();
        for (label, cut) in labels.iter().zip(cuts) {
            let outcome = cut.map_err(|e| e.one_line()).and_then(|i| match &sums {
                Ok(all) => Ok((all[i].clone(), patches[i].excluded)),
                Err(e) => Err(e.clone()),
            });
            match outcome {
                Ok((variogram, excluded)) => {
                    let facts = RegionFacts {
                        excluded: Some(excluded),
                        ..RegionFacts::default()
                    };
                    scored.push(self.finish(label.clone(), variogram, facts, report));
                }
                Err(e) => report.rows.push(self.row(label, Outcome::Error(e))),
            }
        }
        self.pool(&labels, &scored, report);
        if self.settings.qc {
            let drawn = Drawn {
                frame: &frame,
                frames: geometry.frames,
                excluded: outside_values,
                outlines,
                labels: &labels,
                since: (rows_from, sums_from),
            };
            self.draw(drawn, report);
        }
    }

    /// Adds the frame's QC sheet, drawn from the rows and sums just added to the report.
    fn draw(&self, d: Drawn, report: &mut FileReport) {
        let (rows_from, sums_from) = d.since;
        let sheet = qc::Sheet {
            title: format!(
                "{} — frame {} of {}",
                self.input.display(),
                self.index + 1,
                d.frames
            ),
            facts: self.facts(),
            frame: d.frame,
            inverted: self.file.meta.monochrome1,
            excluded: d.excluded,
            curves: curves(
                d.labels,
                &report.rows[rows_from..],
                &report.variograms[sums_from..],
            ),
            outlines: d.outlines,
            max_lag: self.settings.max_lag,
        };
        report.pictures.push(Picture {
            name: qc::file_name(&self.input.display(), self.index + 1),
            // A drawing bug costs the sheet, never the frame's rows.
            png: catch_unwind(AssertUnwindSafe(|| qc::render(&sheet)))
                .unwrap_or_else(|_| Err(Error::Picture("drawing the sheet panicked".into())))
                .map_err(|e| e.one_line()),
        });
    }

    /// The sheet's second line: what a reader needs to judge the picture, and nothing that
    /// differs between engines.
    fn facts(&self) -> String {
        let m = &self.file.meta;
        let scanner = format!("{} {}", m.manufacturer, m.model);
        let spacing = m
            .pixel_spacing
            .map_or("no pixel spacing".to_string(), |(r, c)| {
                format!("{r} × {c} mm per pixel ({})", m.spacing_source)
            });
        format!(
            "{} · {} × {} pixels · {spacing} · {} bits stored · fit {} · max lag {}",
            if scanner.trim().is_empty() {
                "unknown scanner"
            } else {
                scanner.trim()
            },
            m.columns.unwrap_or(0),
            m.rows.unwrap_or(0),
            m.bits_stored.unwrap_or(0),
            self.settings.fit,
            self.settings.max_lag
        )
    }

    /// The pooled `L1-L4` row, when any region is a vertebra: the summed sums of the vertebrae
    /// that scored, if there are enough of them.
    fn pool(&self, labels: &[String], scored: &[Scored], report: &mut FileReport) {
        let vertebra = |label: &str| VERTEBRAE.contains(&label);
        if !labels.iter().any(|l| vertebra(l)) {
            return;
        }
        let valid: Vec<&Scored> = scored
            .iter()
            .filter(|s| vertebra(&s.label) && s.tbs.is_some())
            .collect();
        let used: Vec<String> = valid.iter().map(|s| s.label.clone()).collect();
        if valid.len() < MIN_VERTEBRAE {
            let why = format!(
                "L1-L4 pools at least {MIN_VERTEBRAE} vertebrae with a valid score; valid: {}",
                if used.is_empty() {
                    "none".into()
                } else {
                    used.join(", ")
                }
            );
            report.rows.push(self.row("L1-L4", Outcome::Error(why)));
            return;
        }
        let mut variogram = Variogram::zeros(self.settings.max_lag);
        for s in &valid {
            variogram.add(&s.variogram);
        }
        let facts = RegionFacts {
            excluded: Some(valid.iter().map(|s| s.excluded).sum()),
            vertebrae: used,
            mean_vertebra_tbs: Some(
                valid.iter().filter_map(|s| s.tbs).sum::<f64>() / valid.len() as f64,
            ),
        };
        self.finish("L1-L4".into(), variogram, facts, report);
    }

    /// Fits the sums and adds the row and the variogram record.
    fn finish(
        &self,
        label: String,
        variogram: Variogram,
        facts: RegionFacts,
        report: &mut FileReport,
    ) -> Scored {
        let fit = self
            .settings
            .fit
            .lags(self.file.meta.pixel_spacing, self.settings.max_lag)
            .and_then(|range| fit::fit(&variogram, range));
        let tbs = fit.as_ref().ok().map(|f| f.tbs);
        let outcome = match fit {
            Ok(f) => Outcome::Ok(f),
            Err(e) => Outcome::Error(e.one_line()),
        };
        let excluded = facts.excluded.unwrap_or(0);
        report.rows.push(ResultRow {
            region: facts,
            ..self.row(&label, outcome)
        });
        report.variograms.push(VariogramRecord {
            path: self.input.display(),
            frame: self.index + 1,
            roi: label.clone(),
            variogram: variogram.clone(),
        });
        Scored {
            label,
            variogram,
            excluded,
            tbs,
        }
    }

    fn row(&self, roi: &str, outcome: Outcome) -> ResultRow {
        ResultRow {
            path: self.input.display(),
            frame: Some(self.index + 1),
            roi: roi.to_string(),
            outcome,
            region: RegionFacts::default(),
            engine: self.engine.name(),
            meta: self.file.meta.clone(),
        }
    }
}

/// What a frame's QC sheet is drawn from besides its rows.
struct Drawn<'a> {
    frame: &'a decode::Frame,
    frames: u32,
    excluded: Option<(u16, u16)>,
    outlines: Vec<qc::Outline>,
    /// The frame's region labels, in sidecar order: they choose the colours.
    labels: &'a [String],
    /// Where the frame's rows and sums start in the report.
    since: (usize, usize),
}

/// The colour of the frame's `i`-th region on its sheet, outline and curve alike.
fn region_colour(i: usize) -> plotters::style::RGBColor {
    picture::PALETTE[i % picture::PALETTE.len()]
}

/// One curve per row of the frame, in its region's colour (kept when its shape failed, so the
/// legend's error matches); the pooled row, which is no region of its own, in black.
fn curves(labels: &[String], rows: &[ResultRow], sums: &[VariogramRecord]) -> Vec<qc::Curve> {
    rows.iter()
        .map(|row| {
            let colour = labels
                .iter()
                .position(|l| *l == row.roi)
                .map_or(picture::POOLED, region_colour);
            let variogram = sums.iter().find(|v| v.roi == row.roi).map(|v| &v.variogram);
            let fit = match &row.outcome {
                Outcome::Ok(f) => Ok(f.clone()),
                Outcome::Error(e) => Err(e.clone()),
            };
            qc::Curve::new(&row.roi, colour, variogram, fit)
        })
        .collect()
}

fn file_error(input: &Input, engine: &dyn Engine, meta: Meta, e: Error) -> FileReport {
    FileReport {
        rows: vec![file_row(input, engine, &meta, e)],
        ..FileReport::default()
    }
}

/// The error row of a file that failed before any frame.
fn file_row(input: &Input, engine: &dyn Engine, meta: &Meta, e: Error) -> ResultRow {
    ResultRow {
        path: input.display(),
        frame: None,
        roi: "image".into(),
        outcome: Outcome::Error(e.one_line()),
        region: RegionFacts::default(),
        engine: engine.name(),
        meta: meta.clone(),
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
        let why = Error::TimedOut(format!(
            "still being processed after {} (--file-timeout); the run went on without it",
            humantime::format_duration(limit)
        ));
        file_error(input, self.engine.as_ref(), Meta::default(), why)
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
            return Err(Error::Stopped { input, why });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{cpu, Engine};
    use crate::fit::FitRange;
    use crate::phantom::{write_dicom, Phantom, Spec, Style, Syntax};
    use crate::region::Patch;

    /// An engine with a bug: it panics on every frame.
    struct Broken;

    impl Engine for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }

        fn variograms(&self, _: &decode::Frame, _: &[Patch], _: usize) -> Result<Vec<Variogram>> {
            panic!("index out of bounds in the kernel")
        }
    }

    /// An engine whose device is lost on frames `rows` tall; the CPU's sums otherwise.
    struct LostOn {
        rows: usize,
    }

    impl Engine for LostOn {
        fn name(&self) -> &'static str {
            "lost"
        }

        fn variograms(&self, f: &decode::Frame, p: &[Patch], lag: usize) -> Result<Vec<Variogram>> {
            if f.rows == self.rows {
                return Err(Error::DeviceLost("device lost".into()));
            }
            Ok(p.iter().map(|p| cpu::sums(f, p, lag)).collect())
        }
    }

    fn settings() -> Settings {
        Settings {
            max_lag: 4,
            fit: FitSpec::Lags(FitRange::new(1, 4, 4).unwrap()),
            spacing: None,
            jobs: 2,
            extremes: Extremes::Keep,
            sidecar: None,
            max_pixels: DEFAULT_MAX_PIXELS,
            pseudonym: None,
            qc: false,
            file_timeout: None,
        }
    }

    /// A phantom file `rows` tall.
    fn phantom(dir: &std::path::Path, name: &str, rows: usize) -> Input {
        let path = dir.join(name);
        let spec = Spec {
            rows,
            cols: 32,
            hurst: 0.5,
            bits_stored: 12,
            signed: false,
            style: Style::Raw,
            seed: 1,
        };
        write_dicom(
            &path,
            &[Phantom::generate(spec).unwrap()],
            Syntax::ExplicitLe,
        )
        .unwrap();
        Input::new(path)
    }

    #[test]
    fn a_panic_while_processing_a_file_becomes_its_error_row() {
        let dir = tempfile::tempdir().unwrap();
        let input = phantom(dir.path(), "a.dcm", 32);
        let report = process(&input, &Broken, &settings());
        assert_eq!(report.rows.len(), 1);
        match &report.rows[0].outcome {
            Outcome::Error(e) => assert!(e.contains("index out of bounds in the kernel"), "{e}"),
            other => panic!("expected an error row, got {other:?}"),
        }
    }

    /// Issue 14 (6e): after a device error every later frame became an error row.
    #[test]
    fn a_lost_device_stops_the_run_before_the_input_it_failed_on() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Input> = (0..6)
            .map(|i| {
                phantom(
                    dir.path(),
                    &format!("{i}.dcm"),
                    if i == 3 { 40 } else { 32 },
                )
            })
            .collect();
        let mut written = Vec::new();
        let outcome = run(
            inputs,
            Arc::new(LostOn { rows: 40 }),
            Arc::new(settings()),
            |r| {
                written.push(r.rows[0].path.clone());
                Ok(())
            },
        );
        let e = outcome.unwrap_err().to_string();
        assert!(e.contains("stopped before"), "{e}");
        assert!(
            e.contains("3.dcm (the GPU failed and computes nothing more: device lost)"),
            "{e}"
        );
        assert!(e.contains("carry on with --resume"), "{e}");
        let names: Vec<&str> = written.iter().map(|p| &p[p.len() - 5..]).collect();
        assert_eq!(names, ["0.dcm", "1.dcm", "2.dcm"]);
    }
}
