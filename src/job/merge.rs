//! `tbs-batch merge`: shard results into one file in walk order, its report, and what could not
//! be accounted for. The merging itself is [`cohort::merge`](crate::cohort::merge)'s.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::NOT_AN_IMAGE;
use crate::cohort::manifest::Manifest;
use crate::cohort::{lock, merge};
use crate::error::{Result, RunError};
use crate::picture::report::{self, Cohort};

/// A merge, its flags checked.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    /// The shards' results files, each with its manifest beside it where there is one.
    pub files: Vec<PathBuf>,
    /// The merged file; standard output without it. Never one of `files`.
    pub output: Option<PathBuf>,
    /// The merged cohort's report (needs `output`).
    pub report: Option<PathBuf>,
}

/// Merges, reports what was missing or doubled, and fails (`Incomplete`) when the merged file
/// is not the whole cohort.
pub fn run(config: MergeConfig) -> Result<()> {
    let out = open_output(config.output.as_ref())?;
    let found = merge::merge(&config.files, out)?;
    for line in &found.warnings {
        eprintln!("tbs-batch merge: warning: {line}");
    }
    for line in found.duplicated.iter().chain(&found.missing) {
        eprintln!("tbs-batch merge: {line}");
    }
    let summary = format!(
        "{} files, {} inputs, {} rows; {} duplicated, {} missing",
        config.files.len(),
        found.inputs,
        found.rows,
        found.duplicated.len(),
        found.missing.len()
    );
    eprintln!("tbs-batch merge: {summary}");
    if let (Some(page), Some(merged)) = (&config.report, &config.output) {
        let mut cohort = Cohort::default();
        cohort.add_file(merged)?;
        // The shards share their parameters (merge refuses any that differ); the first
        // shard's manifest names them and the engine.
        let first = match config.files.first() {
            Some(f) => Manifest::read_for(f)?,
            None => None,
        };
        let facts = report::Run {
            skipped: skipped_in(&config.files)?,
            ..report::Run::new(
                first.as_ref().map(|m| &m.run.parameters),
                first
                    .as_ref()
                    .map_or("unknown (no manifest)".into(), |m| m.run.adapter.clone()),
                format!("merged: {summary}"),
            )
        };
        report::write(page, &cohort, &facts)?;
    }
    if found.is_clean() {
        Ok(())
    } else {
        Err(RunError::Incomplete(
            "the merged file is not the whole cohort (see above)".into(),
        ))
    }
}

/// The shards' skipped inputs by why, as their manifests list them.
fn skipped_in(files: &[PathBuf]) -> Result<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    for file in files {
        let Some(manifest) = Manifest::read_for(file)? else {
            continue;
        };
        for input in manifest.inputs.iter().filter(|i| i.status == "skipped") {
            let why = input.scan.clone().unwrap_or_else(|| NOT_AN_IMAGE.into());
            *out.entry(why).or_default() += 1;
        }
    }
    Ok(out)
}

/// `merge -o FILE`, locked for this writer and emptied; else standard output.
fn open_output(path: Option<&PathBuf>) -> Result<Box<dyn Write>> {
    let Some(path) = path else {
        return Ok(Box::new(BufWriter::new(io::stdout().lock())));
    };
    let file = lock::writer(path)?;
    file.set_len(0)
        .map_err(|e| RunError::Output(format!("cannot empty {}: {e}", path.display())))?;
    Ok(Box::new(BufWriter::new(file)))
}
