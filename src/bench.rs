//! `tbs-batch bench`: both engines end to end on a generated cohort, side by side, so a user can
//! choose `--gpu` or `--cpu` for their node with figures from that node.
//!
//! The cohort is written to a temporary directory (a few distinct phantoms, copied to the
//! requested number of files), then each engine runs the whole pipeline on it — walk, read,
//! decode, sums, fit, CSV — exactly as the main job does, writing into a discarding sink.

mod record;

pub use record::{Format, Record};

use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::gpu::{GpuEngine, Want};
use crate::engine::{self, Choice, Engine};
use crate::error::{one_line, Result, RunError};
use crate::fit::{FitRange, FitSpec};
use crate::phantom::{self, Phantom, Spec, Style, Syntax};
use crate::pipeline::DEFAULT_MAX_PIXELS;
use crate::pipeline::{self, peak_resident_bytes, reset_peak_resident, Settings};
use crate::region::Extremes;
use crate::scan::Selection;
use crate::walk;
use crate::write::ResultsWriter;
use std::sync::Arc;

/// Distinct phantoms in a cohort; the rest are copies. Synthesis is far slower than scoring.
const DISTINCT: usize = 8;

/// The cohort and settings to measure.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Cohort {
    pub files: usize,
    pub rows: usize,
    pub cols: usize,
    /// 8: display-processed like the GE iDXA CR export; otherwise raw phantoms of this depth.
    pub bits: u16,
    pub max_lag: usize,
    pub jobs: usize,
}

/// One engine's figures.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub engine: String,
    pub images: usize,
    pub pair_evaluations: u64,
    pub elapsed: Duration,
    /// Opening the engine (adapter, device, shader compilation); not part of `elapsed`.
    pub startup: Duration,
    pub peak_bytes: Option<u64>,
    /// Ran on a software adapter: a check of the shader, not GPU speed.
    pub software: bool,
}

impl Measurement {
    pub fn images_per_second(&self) -> f64 {
        self.images as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn pairs_per_second(&self) -> f64 {
        self.pair_evaluations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What the bench found: the CPU's figures, and the GPU's or why there are none.
pub struct Report {
    pub cohort: Cohort,
    pub cpu: Measurement,
    pub gpu: std::result::Result<Measurement, String>,
}

/// Generates the cohort and runs both engines on it.
pub fn run(cohort: Cohort) -> Result<Report> {
    let dir = tempfile::tempdir()
        .map_err(|e| RunError::Output(format!("cannot create a temporary directory: {e}")))?;
    write_cohort(dir.path(), &cohort)?;
    let started = Instant::now();
    let cpu_engine = Arc::from(engine::open(Choice::Cpu)?);
    let cpu = measure(&cohort, dir.path(), cpu_engine, started.elapsed())?;
    let started = Instant::now();
    let gpu = match GpuEngine::open(Want::Any) {
        Ok(Some(gpu)) => {
            let software = gpu.is_software();
            measure(&cohort, dir.path(), Arc::new(gpu), started.elapsed())
                .map(|m| Measurement { software, ..m })
                .map_err(|e| one_line(&e.to_string()))
        }
        Ok(None) => Err("wgpu found no adapter".to_string()),
        Err(e) => Err(one_line(&e.to_string())),
    };
    Ok(Report { cohort, cpu, gpu })
}

/// Writes `c.files` DICOM files into `dir`: a few distinct phantoms, then copies of them.
pub fn write_cohort(dir: &Path, c: &Cohort) -> Result<()> {
    let style = if c.bits == 8 {
        Style::Display
    } else {
        Style::Raw
    };
    let distinct = c.files.clamp(1, DISTINCT);
    let mut originals = Vec::with_capacity(distinct);
    for i in 0..distinct {
        let phantom = Phantom::generate(Spec {
            rows: c.rows,
            cols: c.cols,
            hurst: 0.2 + 0.5 * i as f64 / distinct as f64,
            bits_stored: c.bits,
            signed: false,
            style,
            seed: i as u64 + 1,
        })?;
        let path = dir.join(format!("{i:06}.dcm"));
        phantom::write_dicom(&path, &[phantom], Syntax::ImplicitLe)?;
        originals.push(path);
    }
    for i in distinct..c.files {
        let copy = || -> std::io::Result<()> {
            let folder = dir.join(format!("{:04}", i / 1000));
            std::fs::create_dir_all(&folder)?;
            std::fs::copy(&originals[i % distinct], folder.join(format!("{i:06}.dcm")))?;
            Ok(())
        };
        copy().map_err(|e| RunError::Output(format!("cannot write the bench cohort: {e}")))?;
    }
    Ok(())
}

/// Runs one engine over the cohort in `dir`, as the main job would, and times it.
pub fn measure(
    cohort: &Cohort,
    dir: &Path,
    engine: Arc<dyn Engine>,
    startup: Duration,
) -> Result<Measurement> {
    let settings = Settings {
        max_lag: cohort.max_lag,
        fit: FitSpec::Lags(FitRange::new(1, 4.min(cohort.max_lag), cohort.max_lag)?),
        spacing: None,
        jobs: cohort.jobs,
        // As a default run would: 8-bit cohorts lose their background and fill pixels.
        extremes: Extremes::Auto,
        sidecar: None,
        max_pixels: DEFAULT_MAX_PIXELS,
        pseudonym: None,
        hook: None,
        file_timeout: None,
        scans: Selection::all(),
        locate: false,
    };
    let inputs = walk::walk(&[dir.to_path_buf()]);
    let mut sink = ResultsWriter::new(std::io::sink(), true)?;
    let mut pair_evaluations = 0;
    reset_peak_resident();
    let described = engine.describe();
    let summary = pipeline::run(inputs, engine, Arc::new(settings), |report| {
        pair_evaluations += report
            .variograms
            .iter()
            .flat_map(|v| v.variogram.horizontal.iter().chain(&v.variogram.vertical))
            .map(|s| s.pairs)
            .sum::<u64>();
        sink.write_file(&report.rows)
    })?;
    if summary.rows_ok != cohort.files {
        return Err(RunError::Bench(format!(
            "{} of {} files scored ({} errors)",
            summary.rows_ok, cohort.files, summary.rows_failed
        )));
    }
    Ok(Measurement {
        engine: described,
        images: summary.rows_ok,
        pair_evaluations,
        elapsed: summary.elapsed,
        startup,
        peak_bytes: peak_resident_bytes(),
        software: false,
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.cohort;
        writeln!(
            f,
            "{} files of {} × {} {}-bit{}, lags 1..={}, {} CPU threads",
            c.files,
            c.rows,
            c.cols,
            c.bits,
            if c.bits == 8 { " (iDXA-like CR)" } else { "" },
            c.max_lag,
            c.jobs
        )?;
        writeln!(
            f,
            "{:<6} {:>10} {:>14} {:>12} {:>9} {:>9}  adapter",
            "engine", "images/s", "pairs/s", "peak memory", "startup", "vs cpu"
        )?;
        let base = self.cpu.images_per_second();
        let row = |f: &mut std::fmt::Formatter<'_>, name: &str, m: &Measurement| {
            writeln!(
                f,
                "{:<6} {:>10.1} {:>14.3e} {:>12} {:>8.2}s {:>8.2}×  {}",
                name,
                m.images_per_second(),
                m.pairs_per_second(),
                m.peak_bytes
                    .map_or("n/a".into(), |b| format!("{} MB", b >> 20)),
                m.startup.as_secs_f64(),
                m.images_per_second() / base,
                m.engine
            )
        };
        row(f, "cpu", &self.cpu)?;
        match &self.gpu {
            Ok(m) => {
                row(f, "gpu", m)?;
                if m.software {
                    writeln!(
                        f,
                        "note: the GPU row ran on a software adapter; it checks the shader, \
                         it is not GPU speed"
                    )?;
                }
                Ok(())
            }
            Err(why) => writeln!(f, "gpu    not measured: {why}"),
        }
    }
}
