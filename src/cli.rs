//! The command line: flags, their validation, and the wiring of a run.
//!
//! Arguments are parsed in two steps, as in ripgrep: clap reads the raw flags, then [`run`]
//! checks them once, up front, into a [`job::Config`] that the library runs. Nothing here
//! decides a number or writes a results file.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::bench;
use crate::cohort::manifest::Manifest;
use crate::cohort::merge;
use crate::cohort::pseudonym::Pseudonymizer;
use crate::cohort::shard::Shard;
use crate::cohort::{lock, same_file};
use crate::engine::Choice;
use crate::error::{Error, Result};
use crate::fit::{FitRange, FitSpec};
use crate::job;
use crate::phantom::spine::{self, Spine, SpineSpec};
use crate::phantom::{self, Phantom, Spec, Style, Syntax};
use crate::picture::report::{self, Cohort};
use crate::pipeline::{Settings, DEFAULT_FILE_TIMEOUT, DEFAULT_MAX_PIXELS};
use crate::region::sidecar::Sidecar;
use crate::region::Extremes;

/// The largest lag accepted: far beyond the fit range of any published TBS definition.
pub const MAX_LAG_LIMIT: usize = 256;

/// Trabecular Bone Score (variogram slope) of DXA DICOM images, in batch.
///
/// Walks the given files and directories, computes each frame's gray-level variogram with exact
/// integer sums, fits the log-log slope near the origin and streams one CSV row per frame.
#[derive(Debug, Parser)]
#[command(name = "tbs-batch", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write phantom DICOM files with known texture (fractional Brownian surfaces).
    Phantom(PhantomArgs),
    /// Write synthetic AP-spine images (L1-L4 of known textures) and their region sidecar.
    Spine(SpineArgs),
    /// Time both engines end to end on a generated cohort and print a table.
    Bench(BenchArgs),
    /// Merge shard results into one file in walk order; report missing and duplicated inputs.
    Merge(MergeArgs),
}

/// Flags of `tbs-batch merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results files of the shards (each with its manifest beside it, where there is one).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the merged results here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the merged cohort's HTML report (as `--report` of a run) from the merged file.
    #[arg(long, value_name = "FILE", requires = "output")]
    pub report: Option<PathBuf>,
}

/// Flags of `tbs-batch spine`.
#[derive(Debug, Args)]
pub struct SpineArgs {
    /// Directory to write into (created if missing): spine-SEED.dcm files and rois.csv.
    pub out: PathBuf,
    /// Hurst exponents of L1, L2, L3, L4's texture.
    #[arg(long = "hurst", value_delimiter = ',', num_args = 1, default_values_t = [0.25, 0.4, 0.55, 0.7])]
    pub hurst: Vec<f64>,
    #[arg(long, default_value_t = 480)]
    pub rows: usize,
    #[arg(long, default_value_t = 320)]
    pub cols: usize,
    /// Random seeds, one file per seed.
    #[arg(long = "seed", value_delimiter = ',', default_values_t = [1])]
    pub seeds: Vec<u64>,
}

/// Flags of the main job.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// DICOM files or directories (walked recursively, in sorted order).
    pub paths: Vec<PathBuf>,
    /// Compute on the CPU; never initialises a GPU. [default: a hardware GPU if there is one,
    /// else the CPU]
    #[arg(long, conflicts_with = "gpu")]
    pub cpu: bool,
    /// Compute on the GPU, a software adapter such as lavapipe included; fails when wgpu finds
    /// no adapter at all.
    #[arg(long)]
    pub gpu: bool,
    /// Write the results CSV here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the raw variogram sums, one row per path, frame, roi, direction and lag.
    #[arg(long, value_name = "FILE")]
    pub variogram: Option<PathBuf>,
    /// Largest lag computed.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_lag: usize,
    /// First lag of the fit.
    #[arg(long, default_value_t = 1, value_name = "A")]
    pub fit_from: usize,
    /// Last lag of the fit.
    #[arg(long, default_value_t = 4, value_name = "B")]
    pub fit_to: usize,
    /// Worker threads [default: the number of CPUs].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The fit range in millimetres, converted to whole lags for each image from its pixel
    /// spacing (instead of --fit-from/--fit-to).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["fit_from", "fit_to"])]
    pub fit_mm: Option<Vec<f64>>,
    /// Pixel spacing in mm for every image, supplying or overriding the header's.
    #[arg(long, value_name = "MM")]
    pub spacing: Option<f64>,
    /// Regions to score (rectangles, polygons, masks), one CSV line each; see the README.
    #[arg(long, value_name = "FILE")]
    pub roi: Option<PathBuf>,
    /// Leave pixels at the frame's minimum and maximum stored value out of every region:
    /// `auto` does for 8-bit (display-processed) images, whose extremes are background and
    /// saturated fill, and not for deeper ones.
    #[arg(long, value_enum, default_value_t = Extremes::Auto)]
    pub extremes: Extremes,
    /// Carry on the -o file (and --variogram file) of a run that was killed: inputs already in
    /// it are skipped, a partly written last input is redone, the rest appended.
    #[arg(long, requires = "output")]
    pub resume: bool,
    /// Process only slice I of N (0-based) of the walked inputs, e.g. 3/8 [default: from
    /// SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT when set, else everything].
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Largest image accepted, in stored pixels (rows × columns × frames); larger images, and
    /// files too large to hold one, are error rows, read no further.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Replace Patient ID with HMAC-SHA-256 under the key in this file (keep it at the site).
    #[arg(long, value_name = "KEY_FILE")]
    pub pseudonymize: Option<PathBuf>,
    /// Draw a QC sheet (PNG) of every frame into this folder: the image with its regions
    /// outlined, beside the log-log variogram with the fitted line, TBS and R².
    #[arg(long, value_name = "DIR")]
    pub qc: Option<PathBuf>,
    /// Write a self-contained HTML report of the cohort: the TBS and R² distributions, TBS by
    /// scanner, the failures with their reasons, and the run's parameters and timing.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// An input still being processed after this long becomes an error row saying so, and the
    /// run goes on: seconds (`90`) or a duration (`2m`); 0 for no limit. [default: 120]
    #[arg(long, value_name = "SECS")]
    pub file_timeout: Option<String>,
}

/// Flags of `tbs-batch phantom`.
#[derive(Debug, Args)]
pub struct PhantomArgs {
    /// Directory to write into (created if missing).
    pub out: PathBuf,
    /// Hurst exponents, one file per value (the expected score is near 2H).
    #[arg(long = "hurst", value_delimiter = ',', default_values_t = [0.25, 0.5, 0.75])]
    pub hurst: Vec<f64>,
    /// Transfer syntaxes, one file per value.
    #[arg(long = "syntax", value_enum, value_delimiter = ',', default_values_t = [Syntax::ExplicitLe])]
    pub syntax: Vec<Syntax>,
    #[arg(long, default_value_t = 256)]
    pub rows: usize,
    #[arg(long, default_value_t = 256)]
    pub cols: usize,
    /// Bits stored (2..=16).
    #[arg(long, default_value_t = 12)]
    pub bits: u16,
    /// Signed pixels (Pixel Representation 1).
    #[arg(long)]
    pub signed: bool,
    /// Shape the image like a display-processed 8-bit CR export (implies --bits 8).
    #[arg(long)]
    pub display: bool,
    /// Frames per file.
    #[arg(long, default_value_t = 1)]
    pub frames: usize,
    /// Random seed; the same seed gives the same pixels.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Flags of `tbs-batch bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Files in the generated cohort.
    #[arg(long, default_value_t = 500)]
    pub files: usize,
    #[arg(long, default_value_t = 716)]
    pub rows: usize,
    #[arg(long, default_value_t = 780)]
    pub cols: usize,
    /// Bits stored; 8 makes display-processed files like the GE iDXA CR export.
    #[arg(long, default_value_t = 8)]
    pub bits: u16,
    /// Largest lag computed.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_lag: usize,
    /// CPU threads [default: the number of CPUs].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Runs what the command line asks for.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Phantom(args)) => write_phantoms(&args),
        Some(Command::Spine(args)) => write_spines(&args),
        Some(Command::Bench(args)) => run_bench(&args),
        Some(Command::Merge(args)) => run_merge(&args),
        None => run_batch(&cli.run),
    }
}

fn run_batch(args: &RunArgs) -> Result<()> {
    job::run(configure(args)?)
}

/// The flags of the main job, checked once, up front, into its configuration.
fn configure(args: &RunArgs) -> Result<job::Config> {
    if args.paths.is_empty() {
        return Err(Error::Config(
            "no input: give DICOM files or directories".into(),
        ));
    }
    check_max_lag(args.max_lag)?;
    let settings = Settings {
        max_lag: args.max_lag,
        fit: fit_spec(args)?,
        spacing: check_spacing(args.spacing)?,
        jobs: threads(args.jobs)?,
        extremes: args.extremes,
        sidecar: args
            .roi
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
    };
    let engine = match (args.cpu, args.gpu) {
        (true, _) => Choice::Cpu,
        (_, true) => Choice::Gpu,
        _ => Choice::Auto,
    };
    Ok(job::Config {
        paths: args.paths.clone(),
        engine,
        settings,
        output: args.output.clone(),
        variogram: args.variogram.clone(),
        resume: args.resume,
        shard: Shard::choose(args.shard, |k| std::env::var(k).ok())?,
        roi: args.roi.clone(),
        qc: args.qc.clone(),
        report: args.report.clone(),
        command: std::env::args().collect(),
    })
}

/// `--file-timeout`: seconds (`90`, `0.5`) or a duration (`2m`, `500ms`); 0 means no limit.
fn file_timeout(text: Option<&str>) -> Result<Option<Duration>> {
    let Some(text) = text else {
        return Ok(Some(DEFAULT_FILE_TIMEOUT));
    };
    let limit = match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => {
            return Err(Error::Config(format!(
                "--file-timeout {text}: not a duration"
            )))
        }
        Err(_) => humantime::parse_duration(text.trim())
            .map_err(|e| Error::Config(format!("--file-timeout {text}: {e}")))?,
    };
    Ok((!limit.is_zero()).then_some(limit))
}

fn run_merge(args: &MergeArgs) -> Result<()> {
    if let Some(out) = &args.output {
        if let Some(input) = args.files.iter().find(|f| same_file(f, out)) {
            return Err(Error::Config(format!(
                "merge -o {} would overwrite its input {}",
                out.display(),
                input.display()
            )));
        }
    }
    let out = open_output(args.output.as_ref())?;
    let report = merge::merge(&args.files, out)?;
    for line in &report.warnings {
        eprintln!("tbs-batch merge: warning: {line}");
    }
    for line in report.duplicated.iter().chain(&report.missing) {
        eprintln!("tbs-batch merge: {line}");
    }
    let summary = format!(
        "{} files, {} inputs, {} rows; {} duplicated, {} missing",
        args.files.len(),
        report.inputs,
        report.rows,
        report.duplicated.len(),
        report.missing.len()
    );
    eprintln!("tbs-batch merge: {summary}");
    if let (Some(page), Some(merged)) = (&args.report, &args.output) {
        let mut cohort = Cohort::default();
        cohort.add_file(merged)?;
        // The shards share their parameters (a shard run with others is refused on resume);
        // the first shard's manifest names them and the engine.
        let first = match args.files.first() {
            Some(f) => Manifest::read_for(f)?,
            None => None,
        };
        let facts = report::Run::new(
            first.as_ref().map(|m| &m.run.parameters),
            first
                .as_ref()
                .map_or("unknown (no manifest)".into(), |m| m.run.adapter.clone()),
            format!("merged: {summary}"),
        );
        report::write(page, &cohort, &facts)?;
    }
    if report.is_clean() {
        Ok(())
    } else {
        Err(Error::Incomplete(
            "the merged file is not the whole cohort (see above)".into(),
        ))
    }
}

fn fit_spec(args: &RunArgs) -> Result<FitSpec> {
    match args.fit_mm.as_deref() {
        Some(&[a, b]) if a > 0.0 && a < b && b.is_finite() => Ok(FitSpec::Millimetres(a, b)),
        Some(mm) => Err(Error::Config(format!(
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
        Some(mm) if !(mm > 0.0 && mm.is_finite()) => Err(Error::Config(format!(
            "--spacing {mm} must be a positive number of mm"
        ))),
        s => Ok(s),
    }
}

fn check_max_lag(max_lag: usize) -> Result<()> {
    if (1..=MAX_LAG_LIMIT).contains(&max_lag) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "--max-lag {max_lag} must be 1..={MAX_LAG_LIMIT}"
        )))
    }
}

/// The worker threads to use: `-j`, else every CPU.
fn threads(jobs: Option<usize>) -> Result<usize> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err(Error::Config("--jobs must be at least 1".into()));
    }
    Ok(jobs)
}

fn run_bench(args: &BenchArgs) -> Result<()> {
    check_max_lag(args.max_lag)?;
    if args.files == 0 {
        return Err(Error::Config("--files must be at least 1".into()));
    }
    eprintln!(
        "tbs-batch bench: generating {} files and running both engines…",
        args.files
    );
    let report = bench::run(bench::Cohort {
        files: args.files,
        rows: args.rows,
        cols: args.cols,
        bits: args.bits,
        max_lag: args.max_lag,
        jobs: threads(args.jobs)?,
    })?;
    print!("{report}");
    Ok(())
}

/// `merge -o FILE`, locked for this writer and emptied; else standard output.
fn open_output(path: Option<&PathBuf>) -> Result<Box<dyn Write>> {
    let Some(path) = path else {
        return Ok(Box::new(BufWriter::new(io::stdout().lock())));
    };
    let file = lock::writer(path)?;
    file.set_len(0)
        .map_err(|e| Error::Output(format!("cannot empty {}: {e}", path.display())))?;
    Ok(Box::new(BufWriter::new(file)))
}

fn write_spines(args: &SpineArgs) -> Result<()> {
    let hursts: [f64; 4] = args.hurst.as_slice().try_into().map_err(|_| {
        Error::Config(format!(
            "--hurst needs four values (L1,L2,L3,L4), not {}",
            args.hurst.len()
        ))
    })?;
    let output = |e: std::io::Error| Error::Output(format!("{}: {e}", args.out.display()));
    std::fs::create_dir_all(&args.out).map_err(output)?;
    let mut sidecar = String::from(spine::SIDECAR_HEADER);
    for &seed in &args.seeds {
        let image = Spine::generate(SpineSpec {
            rows: args.rows,
            cols: args.cols,
            hursts,
            seed,
        })?;
        let name = format!("spine-{seed}.dcm");
        phantom::write_dicom(
            &args.out.join(&name),
            std::slice::from_ref(&image.phantom),
            Syntax::ImplicitLe,
        )?;
        sidecar.push_str(&image.sidecar_lines(&name));
    }
    std::fs::write(args.out.join("rois.csv"), sidecar).map_err(output)?;
    eprintln!(
        "tbs-batch: wrote {} spine images and rois.csv to {}",
        args.seeds.len(),
        args.out.display()
    );
    Ok(())
}

fn write_phantoms(args: &PhantomArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::Output(format!("cannot create {}: {e}", args.out.display())))?;
    let bits = if args.display { 8 } else { args.bits };
    let mut written = 0;
    for &hurst in &args.hurst {
        let frames = (0..args.frames.max(1))
            .map(|i| {
                Phantom::generate(Spec {
                    rows: args.rows,
                    cols: args.cols,
                    hurst,
                    bits_stored: bits,
                    signed: args.signed,
                    style: if args.display {
                        Style::Display
                    } else {
                        Style::Raw
                    },
                    seed: args.seed.wrapping_add(i as u64),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for &syntax in &args.syntax {
            let name = format!(
                "fbm-h{hurst:.2}-{bits}bit{}{}-{}.dcm",
                if args.signed { "-signed" } else { "" },
                if args.display { "-display" } else { "" },
                syntax.slug()
            );
            phantom::write_dicom(&args.out.join(name), &frames, syntax)?;
            written += 1;
        }
    }
    eprintln!(
        "tbs-batch: wrote {written} phantom files to {}",
        args.out.display()
    );
    Ok(())
}
