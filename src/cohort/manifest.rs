//! The manifest beside a results file: what was run, how, on what, and every input's SHA-256.
//!
//! It is written at the end of every run that writes `-o FILE`, as `FILE.manifest.json`, from the
//! results file itself, so a resumed run's manifest covers the rows of every attempt. The hashes
//! in it are those of the bytes each row was computed from (the `sha256` column), not of the
//! files as they are when the manifest is written. `merge` reads the walk positions and the shard
//! from it to restore walk order and to find inputs that no shard reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::shard::Shard;
use super::{sha256_file, ResultsReader};
use crate::error::{Error, Result};
use crate::walk::{self, Input};

/// The manifest file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub version: String,
    /// When the manifest was written, UTC, RFC 3339.
    pub written: String,
    /// How the run was made; its fields sit at the top level of the file.
    #[serde(flatten)]
    pub run: RunFacts,
    /// The results file's name and SHA-256 when the manifest was written.
    pub results: FileDigest,
    /// This shard's inputs, in walk order.
    pub inputs: Vec<InputEntry>,
}

/// Everything that changes a number in the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    pub max_lag: usize,
    /// The fit range, e.g. `lags 1..=4` or `mm 0.5..2`.
    pub fit: String,
    pub extremes: String,
    /// `--spacing`, when given.
    pub spacing_mm: Option<f64>,
    /// The `--roi` sidecar, when given.
    pub roi: Option<FileDigest>,
    pub pseudonymized: bool,
    pub max_pixels: u64,
}

/// A file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDigest {
    pub file: String,
    pub sha256: String,
}

impl FileDigest {
    pub fn of(path: &Path) -> Result<FileDigest> {
        Ok(FileDigest {
            file: path.to_string_lossy().into_owned(),
            sha256: sha256_file(path)?,
        })
    }
}

/// One input of the shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputEntry {
    /// 0-based position in the whole walk.
    pub position: usize,
    pub path: String,
    /// `ok` (every row scored), `error` (some row is an error), `skipped` (not a DICOM image
    /// file: no rows), or `missing` (no rows, and the run did not reach it).
    pub status: String,
    pub rows: usize,
    /// Of the bytes analysed (from the rows), or of the file now for a skipped one; empty when
    /// the file could not be read.
    pub sha256: String,
}

/// What the run knows that the results file does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFacts {
    /// The command line, as given.
    pub command: Vec<String>,
    pub parameters: Parameters,
    /// `cpu` or `gpu`.
    pub engine: String,
    /// The engine and what it ran on (the adapter, its driver), as the summary line gives it.
    pub adapter: String,
    pub shard: Shard,
    /// Inputs in the whole walk, all shards together.
    pub walk_inputs: usize,
}

impl Manifest {
    /// Builds the manifest of `results`, whose shard's inputs are `inputs` (walk position, input).
    pub fn build(results: &Path, inputs: &[(usize, &Input)], run: RunFacts) -> Result<Manifest> {
        // One summary per input, not its rows, so memory grows only with the manifest itself.
        let reader = ResultsReader::open(results)?;
        let column = |name: &str| reader.header.iter().position(|h| h == name);
        let (status, digest) = (column("status"), column("sha256"));
        let field = |i: Option<usize>, r: &csv::StringRecord| {
            i.and_then(|i| r.get(i)).unwrap_or_default().to_string()
        };
        let mut done: HashMap<String, (&str, usize, String)> = HashMap::new();
        for group in reader {
            let group = group?;
            let failed = group.rows.iter().any(|r| field(status, r) != "ok");
            let summary = (
                if failed { "error" } else { "ok" },
                group.rows.len(),
                field(digest, &group.rows[0]),
            );
            done.insert(group.path, summary);
        }
        let entries = inputs
            .iter()
            .map(|&(position, input)| {
                let path = input.display();
                let entry = |status: &str, rows, sha256| InputEntry {
                    position,
                    path: path.clone(),
                    status: status.into(),
                    rows,
                    sha256,
                };
                match done.remove(&path) {
                    Some((status, rows, sha)) => entry(status, rows, sha),
                    None => match walk::classify(&input.path) {
                        Ok(Some(_)) => {
                            let sha = sha256_file(&input.path).unwrap_or_default();
                            entry("skipped", 0, sha)
                        }
                        _ => entry("missing", 0, String::new()),
                    },
                }
            })
            .collect();
        Ok(Manifest {
            tool: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            written: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            run,
            results: FileDigest::of(results)?,
            inputs: entries,
        })
    }

    /// Where the manifest of a results file lives.
    pub fn path_for(results: &Path) -> PathBuf {
        let mut name = results.as_os_str().to_owned();
        name.push(".manifest.json");
        PathBuf::from(name)
    }

    /// Writes the manifest beside `results`, whole or not at all (a temporary file renamed).
    pub fn write(&self, results: &Path) -> Result<PathBuf> {
        let path = Self::path_for(results);
        let temporary = path.with_extension("json.partial");
        let output = |e: String| Error::Output(format!("{}: {e}", path.display()));
        let text = serde_json::to_string_pretty(self).map_err(|e| output(e.to_string()))?;
        std::fs::write(&temporary, text + "\n").map_err(|e| output(e.to_string()))?;
        std::fs::rename(&temporary, &path).map_err(|e| output(e.to_string()))?;
        Ok(path)
    }

    /// Reads the manifest beside `results`, if there is one.
    pub fn read_for(results: &Path) -> Result<Option<Manifest>> {
        let path = Self::path_for(results);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Config(format!("{}: not a manifest: {e}", path.display())))
    }
}
