//! `tbs-batch merge A.csv B.csv …`: shard results back into one file in walk order.
//!
//! With every file's manifest at hand, rows are ordered by the walk positions the manifests
//! record — exactly the order of an unsharded run — and any input that no file accounts for is
//! reported: a shard whose file was not given, or an input its run never reached. Without
//! manifests, rows are ordered by path, which is the walk's order for a single directory, and
//! only duplicates can be checked. An input in more than one file keeps the first file's rows.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::{lock, InputRows, ResultsReader};
use crate::error::{Result, RunError};

/// What a merge found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub inputs: usize,
    pub rows: usize,
    /// One line per input found in more than one file.
    pub duplicated: Vec<String>,
    /// One line per input, or shard, that no file accounts for.
    pub missing: Vec<String>,
    /// What could not be checked.
    pub warnings: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.duplicated.is_empty() && self.missing.is_empty()
    }
}

/// One input's rows and where they came from.
struct Found {
    position: Option<usize>,
    rows: InputRows,
}

/// Merges `files` into `out`.
pub fn merge(files: &[PathBuf], out: impl Write) -> Result<Report> {
    let mut report = Report::default();
    let mut header: Option<csv::StringRecord> = None;
    let mut manifests = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    let mut first_file: HashMap<String, usize> = HashMap::new();
    for path in files {
        lock::not_being_written(path)?;
    }
    for (file, path) in files.iter().enumerate() {
        let reader = ResultsReader::open(path)?;
        let this_header = reader.header.clone();
        match &header {
            Some(h) if *h != this_header => {
                return Err(RunError::Config(format!(
                    "{} has other columns than {}; merge files of one version",
                    path.display(),
                    files[0].display()
                )))
            }
            _ => header = Some(this_header),
        }
        let manifest = Manifest::read_for(path)?;
        if manifest.is_none() {
            report.warnings.push(format!(
                "{} has no manifest: rows ordered by path, missing inputs not checked",
                path.display()
            ));
        }
        let positions: HashMap<&str, usize> = manifest
            .iter()
            .flat_map(|m| m.inputs.iter().map(|i| (i.path.as_str(), i.position)))
            .collect();
        for rows in reader {
            let rows = rows?;
            if let Some(&earlier) = first_file.get(&rows.path) {
                report.duplicated.push(format!(
                    "{}: in {} and {}; kept the rows of {}",
                    rows.path,
                    files[earlier].display(),
                    path.display(),
                    files[earlier].display()
                ));
                continue;
            }
            first_file.insert(rows.path.clone(), file);
            let position = positions.get(rows.path.as_str()).copied();
            found.push(Found { position, rows });
        }
        manifests.push(manifest);
    }
    if manifests.iter().all(Option::is_some) && found.iter().all(|f| f.position.is_some()) {
        found.sort_by_key(|f| f.position);
    } else {
        found.sort_by(|a, b| Path::new(&a.rows.path).cmp(Path::new(&b.rows.path)));
    }
    let present: Vec<Option<&Manifest>> = manifests.iter().map(Option::as_ref).collect();
    report.missing = missing(files, &present, &first_file)?;
    let mut csv = csv::Writer::from_writer(out);
    if let Some(h) = &header {
        csv.write_record(h)?;
    }
    for f in &found {
        for row in &f.rows.rows {
            csv.write_record(row)?;
        }
        report.rows += f.rows.rows.len();
    }
    csv.flush()
        .map_err(|e| RunError::Output(format!("merge: {e}")))?;
    report.inputs = found.len();
    Ok(report)
}

/// Inputs the manifests list that no file has rows for, and shards no file was given for.
fn missing(
    files: &[PathBuf],
    manifests: &[Option<&Manifest>],
    with_rows: &HashMap<String, usize>,
) -> Result<Vec<String>> {
    let known: Vec<&Manifest> = manifests.iter().flatten().copied().collect();
    let Some(first) = known.first() else {
        return Ok(Vec::new());
    };
    let (count, walk_inputs) = (first.run.shard.count, first.run.walk_inputs);
    if let Some(m) = known
        .iter()
        .find(|m| m.run.shard.count != count || m.run.walk_inputs != walk_inputs)
    {
        return Err(RunError::Config(format!(
            "the files come from different runs: shard {} of {} inputs and shard {} of {}",
            first.run.shard, first.run.walk_inputs, m.run.shard, m.run.walk_inputs
        )));
    }
    // Shards may run on different engines (the sums are the same), not with other parameters.
    let named: Vec<(&Manifest, &PathBuf)> = manifests
        .iter()
        .zip(files)
        .filter_map(|(m, f)| m.map(|m| (m, f)))
        .collect();
    for (m, file) in &named[1..] {
        let differences = named[0].0.run.parameters.differences(&m.run.parameters);
        if !differences.is_empty() {
            return Err(RunError::Config(format!(
                "{} was made with other settings than {} ({}); merge shards of one run",
                file.display(),
                named[0].1.display(),
                differences.join("; ")
            )));
        }
    }
    let mut lines = Vec::new();
    for (m, file) in &named {
        if !m.is_complete() {
            lines.push(format!(
                "{}: its run did not end (its manifest still says running); resume it",
                file.display()
            ));
        }
    }
    let shards: BTreeSet<usize> = known.iter().map(|m| m.run.shard.index).collect();
    for index in (0..count).filter(|i| !shards.contains(i)) {
        let inputs = (index..walk_inputs).step_by(count).count();
        if inputs > 0 && manifests.iter().all(Option::is_some) {
            lines.push(format!(
                "shard {index}/{count}: no file given ({inputs} inputs)"
            ));
        }
    }
    for (m, file) in manifests.iter().zip(files) {
        let Some(m) = m else { continue };
        for input in &m.inputs {
            let expected = input.rows > 0 || matches!(input.status.as_str(), "missing" | "pending");
            if expected && !with_rows.contains_key(&input.path) {
                lines.push(format!(
                    "{}: listed by {}'s manifest ({}), but no file has its rows",
                    input.path,
                    file.display(),
                    input.status
                ));
            }
        }
    }
    Ok(lines)
}
