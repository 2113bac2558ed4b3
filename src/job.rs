//! The main job: a checked [`Config`] in, a cohort's results files out.
//!
//! This owns what a run writes and the promises about it: the walk sliced to this run's shard,
//! the outputs locked for one writer ([`lock`]), the manifest written before the first row and
//! completed after the last, the `--resume` check that refuses to mix two sets of parameters in
//! one file, the sink that writes each input's rows whole and in walk order, and the report.
//! The command line only builds the [`Config`].
//!
//! [`lock`]: crate::cohort::lock

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bench;
use crate::cohort::manifest::{FileDigest, Manifest, Parameters, RunFacts};
use crate::cohort::resume;
use crate::cohort::shard::Shard;
use crate::engine::{self, Choice, Engine};
use crate::error::{Result, RunError};
use crate::locate;
use crate::phantom::{self, AnatomySet, DeliverySet, PhantomSet, SpineSet};
use crate::picture::qc;
use crate::picture::report::{self, Cohort};
use crate::pipeline::{self, Settings, Summary};
use crate::walk::{self, Input};

mod merge;
mod outputs;

use outputs::{Outputs, Sink};

pub use merge::MergeConfig;

/// What the command line asks for, every flag already checked.
#[derive(Debug)]
pub enum Task {
    /// The main job.
    Run(Box<Config>),
    Merge(MergeConfig),
    Phantoms(PhantomSet),
    Spines(SpineSet),
    Delivery(DeliverySet),
    Anatomies(AnatomySet),
    Bench(bench::Cohort, bench::Format),
}

/// Carries out a task.
pub fn execute(task: Task) -> Result<()> {
    match task {
        Task::Run(config) => run(*config),
        Task::Merge(config) => merge::run(config),
        Task::Phantoms(set) => wrote(phantom::write_phantoms(&set), "phantom files", &set.out),
        Task::Spines(set) => wrote(
            phantom::write_spines(&set),
            "spine images and rois.csv",
            &set.out,
        ),
        Task::Anatomies(set) => wrote(
            phantom::write_anatomies(&set),
            "spines, rois.csv and truth.csv",
            &set.out,
        ),
        Task::Delivery(set) => wrote(
            phantom::write_delivery(&set),
            "visit archives and rois.csv",
            &set.out,
        ),
        Task::Bench(cohort, format) => {
            eprintln!(
                "tbs-batch bench: generating {} files and running both engines…",
                cohort.files
            );
            let tier = crate::engine::cpu::Tier::from_env()?.to_string();
            print!("{}", bench::run(cohort)?.render(format, &tier)?);
            Ok(())
        }
    }
}

/// Says what a generator wrote, or passes on why it could not.
fn wrote(written: Result<usize>, what: &str, folder: &Path) -> Result<()> {
    eprintln!(
        "tbs-batch: wrote {} {what} to {}",
        written?,
        folder.display()
    );
    Ok(())
}

/// A run of the main job, every flag already checked.
#[derive(Debug)]
pub struct Config {
    pub paths: Vec<PathBuf>,
    pub engine: Choice,
    pub settings: Settings,
    /// `-o`: the results file; standard output without it.
    pub output: Option<PathBuf>,
    pub variogram: Option<PathBuf>,
    /// `--save-roi`: every region used, written as a sidecar.
    pub save_roi: Option<PathBuf>,
    pub resume: bool,
    pub shard: Shard,
    /// The `--roi` sidecar's file, for the manifest.
    pub roi: Option<PathBuf>,
    pub qc: Option<PathBuf>,
    pub report: Option<PathBuf>,
    /// The command line, for the manifest.
    pub command: Vec<String>,
}

/// Runs the job: every input of this shard, its rows written, the manifest and report after.
pub fn run(mut config: Config) -> Result<()> {
    if config.qc.is_some() {
        config.settings.hook = Some(Arc::new(qc::Sheets));
    }
    // Before any output file is created, so a missing GPU leaves nothing half-written behind.
    let engine: Arc<dyn Engine> = Arc::from(engine::open(config.engine)?);
    let walked = walk::walk(&config.paths);
    let mine: Vec<(usize, &Input)> = walked
        .iter()
        .enumerate()
        .filter(|(p, _)| config.shard.owns(*p))
        .collect();
    let facts = RunFacts {
        command: config.command.clone(),
        parameters: parameters(&config)?,
        engine: engine.name().into(),
        adapter: engine.describe(),
        shard: config.shard,
        walk_inputs: walked.len(),
    };
    if let Some(sidecar) = &config.settings.sidecar {
        let paths: Vec<String> = mine.iter().map(|(_, i)| i.display()).collect();
        sidecar.check_inputs(&paths, |i| {
            pipeline::sop_instance_uid(mine[i].1, &config.settings)
        })?;
    }
    if let (Some(out), true) = (&config.output, config.resume) {
        check_same_run(out, &facts)?;
    }
    if let Some(dir) = &config.qc {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Output(format!("cannot create {}: {e}", dir.display())))?;
    }
    let outputs = Outputs::open(&config)?;
    if let Some(out) = &config.output {
        Manifest::start(out, &mine, facts.clone()).write(out)?;
    }
    // `--report`: the rows as they are written, after those a resumed file already holds.
    let mut cohort = config.report.as_ref().map(|_| Cohort::default());
    if let (Some(c), Some(out), true) = (cohort.as_mut(), &config.output, config.resume) {
        c.add_file(out)?;
    }
    let pending: Vec<Input> = mine
        .iter()
        .filter(|(_, i)| !outputs.done.paths.contains(&i.display()))
        .map(|(_, i)| (*i).clone())
        .collect();
    let resumed = mine.len() - pending.len();
    let mut sink = Sink {
        results: outputs.results,
        variogram: outputs.variogram,
        regions: outputs.regions,
        qc: config.qc.as_deref(),
        cohort: cohort.as_mut(),
        undrawn: 0,
        skipped: HashMap::new(),
    };
    let settings = Arc::new(config.settings);
    let summary = pipeline::run(pending, Arc::clone(&engine), Arc::clone(&settings), |r| {
        sink.write(r)
    })?;
    let (undrawn, skip_notes) = sink.close();
    for line in settings.sidecar.iter().flat_map(|s| s.unmatched()) {
        eprintln!("tbs-batch: warning: {line}");
    }
    let skipped = skipped_by_reason(&summary);
    let mut summary = summary.to_string();
    if resumed > 0 {
        summary.push_str(&format!("; {resumed} inputs already done (--resume)"));
    }
    if config.shard != Shard::ALL {
        let (shard, of) = (config.shard, walked.len());
        summary.push_str(&format!("; shard {shard}: {} of {of} inputs", mine.len()));
    }
    eprintln!("tbs-batch: {summary}; engine {}", engine.describe());
    if undrawn > 0 {
        eprintln!("tbs-batch: warning: {undrawn} QC sheets could not be drawn (see above)");
    }
    if let (Some(c), Some(page)) = (cohort, &config.report) {
        let run = report::Run {
            qc: config
                .qc
                .as_deref()
                .and_then(|dir| relative_link(page, dir)),
            skipped,
            ..report::Run::new(Some(&facts.parameters), engine.describe(), summary)
        };
        report::write(page, &c, &run)?;
    }
    if let Some(out) = &config.output {
        Manifest::build(out, &mine, &skip_notes, facts)?.write(out)?;
    }
    Ok(())
}

/// The report's count of inputs without rows: by scan type for those `--scans` left out.
fn skipped_by_reason(summary: &Summary) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = summary
        .skipped_scans
        .iter()
        .map(|(scan, n)| (scan.to_string(), *n))
        .collect();
    if summary.skipped > 0 {
        out.insert(NOT_AN_IMAGE.into(), summary.skipped);
    }
    out
}

/// How the report names inputs skipped for not being DICOM image files.
pub const NOT_AN_IMAGE: &str = "not a DICOM image";

/// Refuses to resume a file made with other parameters, another engine or shard, or another
/// walk, as its manifest records them: its rows and the new ones would not belong in one file.
/// Reads only, so a refused file is left exactly as it was.
fn check_same_run(out: &Path, now: &RunFacts) -> Result<()> {
    let manifest = Manifest::path_for(out);
    let Some(old) = Manifest::read_for(out)? else {
        if resume::has_rows(out)? {
            return Err(RunError::Config(format!(
                "--resume: {} has rows but no manifest ({}) saying how they were made; \
                 write to a new file",
                out.display(),
                manifest.display()
            )));
        }
        return Ok(());
    };
    let differences = old.run.differences(now);
    if differences.is_empty() {
        return Ok(());
    }
    Err(RunError::Config(format!(
        "--resume: {} was started with other settings ({}: {}); resume with the flags it was \
         started with, or write to a new file",
        out.display(),
        manifest.display(),
        differences.join("; ")
    )))
}

/// What the manifest records of the settings.
fn parameters(config: &Config) -> Result<Parameters> {
    let s = &config.settings;
    Ok(Parameters {
        max_lag: s.max_lag,
        fit: s.fit.to_string(),
        extremes: format!("{:?}", s.extremes).to_lowercase(),
        spacing_mm: s.spacing,
        roi: config.roi.as_deref().map(FileDigest::of).transpose()?,
        pseudonymized: s.pseudonym.is_some(),
        key_check: s.pseudonym.as_ref().map(|p| p.key_check()),
        max_pixels: s.max_pixels,
        scans: s.scans.to_string(),
        roi_auto: s.locate.then(|| locate::VERSION.to_string()),
    })
}

/// The folder `to` as a relative link from the page `from`; `None` when either cannot be
/// resolved (the report then names no sheets).
fn relative_link(from: &Path, to: &Path) -> Option<PathBuf> {
    let page_dir = match from.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (base, target) = (page_dir.canonicalize().ok()?, to.canonicalize().ok()?);
    let common = base
        .components()
        .zip(target.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = base.components().count() - common;
    let mut link: PathBuf = std::iter::repeat_n("..", ups).collect();
    link.extend(target.components().skip(common));
    Some(link)
}
