//! The command line: clap reads the raw flags (`args`), then [`configure`] checks every one of
//! them once, up front, with a clear message, and turns them into the [`Task`] the library
//! carries out. Nothing here decides a number or writes a file.

mod args;

pub use args::{
    AnatomyArgs, BenchArgs, BenchFormat, Cli, Command, DeliveryArgs, ExtremesArg, MergeArgs,
    PhantomArgs, RunArgs, SpineArgs, SyntaxArg,
};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::bench;
use crate::cohort::pseudonym::Pseudonymizer;
use crate::cohort::same_file;
use crate::cohort::shard::Shard;
use crate::engine::Choice;
use crate::error::{Result, RunError};
use crate::fit::{FitRange, FitSpec};
use crate::job::{Config, MergeConfig, Task};
use crate::phantom::anatomy::Export;
use crate::phantom::{AnatomySet, DeliverySet, PhantomSet, SpineSet};
use crate::pipeline::{Settings, DEFAULT_FILE_TIMEOUT};
use crate::region::sidecar::Sidecar;
use crate::scan::Selection;

/// The largest lag accepted: far beyond the fit range of any published TBS definition.
pub const MAX_LAG_LIMIT: usize = 256;

/// The task the command line asks for, every flag checked.
pub fn configure(cli: Cli) -> Result<Task> {
    match cli.command {
        Some(Command::Phantom(args)) => Ok(Task::Phantoms(phantoms(args))),
        Some(Command::Spine(args)) => spines(args).map(Task::Spines),
        Some(Command::Delivery(args)) => Ok(Task::Delivery(delivery(args))),
        Some(Command::Anatomy(args)) => anatomies(args).map(Task::Anatomies),
        Some(Command::Bench(args)) => {
            let format = match args.format {
                BenchFormat::Table => bench::Format::Table,
                BenchFormat::Json => bench::Format::Json,
                BenchFormat::Csv => bench::Format::Csv,
            };
            bench(&args).map(|cohort| Task::Bench(cohort, format))
        }
        Some(Command::Merge(args)) => merge(args).map(Task::Merge),
        None => run(&cli.run).map(|c| Task::Run(Box::new(c))),
    }
}

/// The main job's flags.
fn run(args: &RunArgs) -> Result<Config> {
    if args.paths.is_empty() {
        return Err(RunError::Config(
            "no input: give DICOM files or directories".into(),
        ));
    }
    check_max_lag(args.max_lag)?;
    let roi = Roi::parse(&args.roi)?;
    let settings = Settings {
        max_lag: args.max_lag,
        fit: fit_spec(args)?,
        spacing: check_spacing(args.spacing)?,
        jobs: threads(args.jobs)?,
        extremes: args.extremes.into(),
        sidecar: roi
            .file
            .as_deref()
            .map(Sidecar::load)
            .transpose()?
            .map(Arc::new),
        max_pixels: args.max_pixels,
        pseudonym: args
            .pseudonymize
            .as_deref()
            .map(Pseudonymizer::load)
            .transpose()?,
        hook: None,
        file_timeout: file_timeout(args.file_timeout.as_deref())?,
        scans: Selection::parse(&args.scans)
            .map_err(|e| RunError::Config(format!("--scans {}: {e}", args.scans)))?,
        locate: roi.auto,
    };
    let engine = match (args.cpu, args.gpu) {
        (true, _) => Choice::Cpu,
        (_, true) => Choice::Gpu,
        _ => Choice::Auto,
    };
    Ok(Config {
        paths: args.paths.clone(),
        engine,
        settings,
        output: args.output.clone(),
        variogram: args.variogram.clone(),
        save_roi: args.save_roi.clone(),
        resume: args.resume,
        shard: Shard::choose(args.shard, |k| std::env::var(k).ok())?,
        roi: roi.file,
        qc: args.qc.clone(),
        report: args.report.clone(),
        command: std::env::args().collect(),
    })
}

/// What the `--roi` flags ask for: at most one sidecar, and whether to locate the rest.
struct Roi {
    file: Option<PathBuf>,
    auto: bool,
}

impl Roi {
    fn parse(values: &[String]) -> Result<Roi> {
        let mut roi = Roi {
            file: None,
            auto: false,
        };
        for v in values {
            if v == "auto" {
                roi.auto = true;
            } else if let Some(first) = &roi.file {
                return Err(RunError::Config(format!(
                    "--roi {v}: one sidecar per run (already --roi {}); join them into one file",
                    first.display()
                )));
            } else {
                roi.file = Some(PathBuf::from(v));
            }
        }
        Ok(roi)
    }
}

/// `--file-timeout`: seconds (`90`, `0.5`) or a duration (`2m`, `500ms`); 0 means no limit.
fn file_timeout(text: Option<&str>) -> Result<Option<Duration>> {
    let Some(text) = text else {
        return Ok(Some(DEFAULT_FILE_TIMEOUT));
    };
    let limit = match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => {
            return Err(RunError::Config(format!(
                "--file-timeout {text}: not a duration"
            )))
        }
        Err(_) => humantime::parse_duration(text.trim())
            .map_err(|e| RunError::Config(format!("--file-timeout {text}: {e}")))?,
    };
    Ok((!limit.is_zero()).then_some(limit))
}

fn merge(args: MergeArgs) -> Result<MergeConfig> {
    if let Some(out) = &args.output {
        if let Some(input) = args.files.iter().find(|f| same_file(f, out)) {
            return Err(RunError::Config(format!(
                "merge -o {} would overwrite its input {}",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(MergeConfig {
        files: args.files,
        output: args.output,
        report: args.report,
    })
}

fn fit_spec(args: &RunArgs) -> Result<FitSpec> {
    match args.fit_mm.as_deref() {
        Some(&[a, b]) if a > 0.0 && a < b && b.is_finite() => Ok(FitSpec::Millimetres(a, b)),
        Some(mm) => Err(RunError::Config(format!(
            "--fit-mm {mm:?} must be two distances in mm, 0 < A < B"
        ))),
        None => Ok(FitSpec::Lags(FitRange::new(
            args.fit_from,
            args.fit_to,
            args.max_lag,
        )?)),
    }
}

fn check_spacing(spacing: Option<f64>) -> Result<Option<f64>> {
    match spacing {
        Some(mm) if !(mm > 0.0 && mm.is_finite()) => Err(RunError::Config(format!(
            "--spacing {mm} must be a positive number of mm"
        ))),
        s => Ok(s),
    }
}

fn check_max_lag(max_lag: usize) -> Result<()> {
    if (1..=MAX_LAG_LIMIT).contains(&max_lag) {
        Ok(())
    } else {
        Err(RunError::Config(format!(
            "--max-lag {max_lag} must be 1..={MAX_LAG_LIMIT}"
        )))
    }
}

/// The worker threads to use: `-j`, else every CPU.
fn threads(jobs: Option<usize>) -> Result<usize> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err(RunError::Config("--jobs must be at least 1".into()));
    }
    Ok(jobs)
}

fn bench(args: &BenchArgs) -> Result<bench::Cohort> {
    check_max_lag(args.max_lag)?;
    if args.files == 0 {
        return Err(RunError::Config("--files must be at least 1".into()));
    }
    Ok(bench::Cohort {
        files: args.files,
        rows: args.rows,
        cols: args.cols,
        bits: args.bits,
        max_lag: args.max_lag,
        jobs: threads(args.jobs)?,
    })
}

fn anatomies(args: AnatomyArgs) -> Result<AnatomySet> {
    let export = match args.bits {
        8 => Export::Display,
        12 | 16 => Export::Raw(args.bits),
        bits => {
            return Err(RunError::Config(format!(
                "--bits {bits}: 8 (a display export), 12 or 16 (raw)"
            )))
        }
    };
    Ok(AnatomySet {
        out: args.out,
        rows: args.rows,
        cols: args.cols,
        spacing_mm: args.spacing,
        export,
        seeds: args.seeds,
    })
}

fn delivery(args: DeliveryArgs) -> DeliverySet {
    DeliverySet {
        out: args.out,
        visits: args.visits,
        seed: args.seed,
    }
}

fn spines(args: SpineArgs) -> Result<SpineSet> {
    let hursts: [f64; 4] = args.hurst.as_slice().try_into().map_err(|_| {
        RunError::Config(format!(
            "--hurst needs four values (L1,L2,L3,L4), not {}",
            args.hurst.len()
        ))
    })?;
    Ok(SpineSet {
        out: args.out,
        hursts,
        rows: args.rows,
        cols: args.cols,
        seeds: args.seeds,
    })
}

fn phantoms(args: PhantomArgs) -> PhantomSet {
    PhantomSet {
        out: args.out,
        hursts: args.hurst,
        syntaxes: args.syntax.into_iter().map(Into::into).collect(),
        rows: args.rows,
        cols: args.cols,
        bits: args.bits,
        signed: args.signed,
        display: args.display,
        frames: args.frames,
        seed: args.seed,
    }
}
