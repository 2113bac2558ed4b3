//! The manifest beside a results file: what was run, how, on what, and every input's SHA-256.
//!
//! A run that writes `-o FILE` writes `FILE.manifest.json` before its first row, saying how the
//! file is being made (parameters, engine, shard, walk size) and listing its inputs as pending,
//! so that even a killed run leaves the record `--resume` and `merge` check against. At the end
//! it is completed from the results file itself, so a resumed run's manifest covers the rows of
//! every attempt. The hashes in it are those of the bytes each row was computed from (the
//! `sha256` column), not of the files as they are when the manifest is written. `merge` reads
//! the walk positions and the shard from it to restore walk order and to find inputs that no
//! shard reported. Both writes are whole or nothing (a temporary file renamed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::shard::Shard;
use super::{sha256_file, ResultsReader};
use crate::error::{Result, RunError};
use crate::walk::Input;

/// The manifest file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub version: String,
    /// When the manifest was written, UTC, RFC 3339.
    pub written: String,
    /// `running` from the run's start until it ends, then `complete`. A manifest left saying
    /// `running` belongs to a run that was killed.
    #[serde(default = "complete")]
    pub state: String,
    /// How the run was made; its fields sit at the top level of the file.
    #[serde(flatten)]
    pub run: RunFacts,
    /// The results file's name and SHA-256 when the manifest was written.
    pub results: FileDigest,
    /// The zip archives this shard's inputs are members of, with their SHA-256 at the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<FileDigest>,
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
    /// A check value of the `--pseudonymize` key (not the key), so runs under different keys,
    /// whose pseudonyms would not link, are not mixed.
    #[serde(default)]
    pub key_check: Option<String>,
    pub max_pixels: u64,
    /// `--scans`: the scan types scored. Files made before scan types were told apart scored
    /// every image.
    #[serde(default = "every_scan")]
    pub scans: String,
    /// `--roi auto`: the locator's version, whose regions these are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roi_auto: Option<String>,
}

fn every_scan() -> String {
    "all".into()
}

fn complete() -> String {
    COMPLETE.into()
}

const COMPLETE: &str = "complete";
const RUNNING: &str = "running";

impl Parameters {
    /// How `other`'s parameters differ from these, one phrase each: `max_lag 16, now 8`.
    pub fn differences(&self, other: &Parameters) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |name: &str, then: String, now: String| {
            if then != now {
                out.push(format!("{name} {then}, now {now}"));
            }
        };
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "none".into());
        differ(
            "max_lag",
            self.max_lag.to_string(),
            other.max_lag.to_string(),
        );
        differ("fit", self.fit.clone(), other.fit.clone());
        differ("extremes", self.extremes.clone(), other.extremes.clone());
        let spacing = |p: &Parameters| or_none(p.spacing_mm.map(|v| v.to_string()));
        differ("--spacing", spacing(self), spacing(other));
        // The sidecar by its contents: the same file named another way is the same regions.
        let roi = |p: &Parameters| or_none(p.roi.as_ref().map(|d| d.sha256.clone()));
        differ("--roi (SHA-256)", roi(self), roi(other));
        let key = |p: &Parameters| match (&p.key_check, p.pseudonymized) {
            (Some(check), _) => format!("key {check}"),
            (None, pseudonymized) => pseudonymized.to_string(),
        };
        differ("--pseudonymize", key(self), key(other));
        differ("--scans", self.scans.clone(), other.scans.clone());
        let auto = |p: &Parameters| or_none(p.roi_auto.clone());
        differ("--roi auto", auto(self), auto(other));
        differ(
            "max_pixels",
            self.max_pixels.to_string(),
            other.max_pixels.to_string(),
        );
        out
    }
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
    /// file: no rows), `missing` (no rows, and the run did not reach it), or `pending` (the run
    /// is under way, or was killed before it ended).
    pub status: String,
    pub rows: usize,
    /// Of the bytes analysed (from the rows), or looked at for a skipped one; empty when the
    /// input could not be read.
    pub sha256: String,
    /// Why a skipped input was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The scan type of an image skipped by `--scans`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<String>,
}

/// What the run saw of an input it skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct SkipNote {
    pub reason: String,
    pub scan: Option<String>,
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

impl RunFacts {
    /// How a run with `now`'s facts would differ from the one that made this file, one phrase
    /// each; empty when it may carry the file on.
    pub fn differences(&self, now: &RunFacts) -> Vec<String> {
        let mut out = self.parameters.differences(&now.parameters);
        if self.engine != now.engine {
            out.push(format!("engine {}, now {}", self.engine, now.engine));
        }
        if self.shard != now.shard {
            out.push(format!("shard {}, now {}", self.shard, now.shard));
        }
        if self.walk_inputs != now.walk_inputs {
            out.push(format!(
                "{} inputs walked, now {}",
                self.walk_inputs, now.walk_inputs
            ));
        }
        out
    }
}

impl Manifest {
    /// The manifest a run writes before its first row: its facts, and its shard's inputs
    /// (walk position, input), all pending.
    pub fn start(results: &Path, inputs: &[(usize, &Input)], run: RunFacts) -> Manifest {
        let entries = inputs
            .iter()
            .map(|&(position, input)| InputEntry {
                position,
                path: input.display(),
                status: "pending".into(),
                rows: 0,
                sha256: String::new(),
                reason: None,
                scan: None,
            })
            .collect();
        Manifest {
            tool: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            written: now(),
            state: RUNNING.into(),
            run,
            results: FileDigest {
                file: results.to_string_lossy().into_owned(),
                sha256: String::new(),
            },
            archives: Vec::new(),
            inputs: entries,
        }
    }

    /// Whether the run that wrote it ended (rather than being killed).
    pub fn is_complete(&self) -> bool {
        self.state == COMPLETE
    }

    /// Builds the manifest of `results`, whose shard's inputs are `inputs` (walk position,
    /// input), of which the run skipped those in `skipped` (by path).
    pub fn build(
        results: &Path,
        inputs: &[(usize, &Input)],
        skipped: &HashMap<String, SkipNote>,
        run: RunFacts,
    ) -> Result<Manifest> {
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
                    reason: None,
                    scan: None,
                };
                match (done.remove(&path), skipped.get(&path)) {
                    (Some((status, rows, sha)), _) => entry(status, rows, sha),
                    (None, Some(note)) => InputEntry {
                        reason: Some(note.reason.clone()),
                        scan: note.scan.clone(),
                        ..entry("skipped", 0, note.sha256.clone())
                    },
                    (None, None) => entry("missing", 0, String::new()),
                }
            })
            .collect();
        let mut archives: Vec<&Path> = inputs
            .iter()
            .filter(|(_, i)| i.member.is_some())
            .map(|(_, i)| i.path.as_path())
            .collect();
        archives.dedup();
        // An archive gone since its members were read is listed without a hash, not an error:
        // the members' own hashes say what was analysed.
        let archives = archives
            .into_iter()
            .map(|a| FileDigest {
                file: a.to_string_lossy().into_owned(),
                sha256: sha256_file(a).unwrap_or_default(),
            })
            .collect();
        Ok(Manifest {
            tool: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            written: now(),
            state: COMPLETE.into(),
            run,
            results: FileDigest::of(results)?,
            archives,
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
        let output = |e: String| RunError::Output(format!("{}: {e}", path.display()));
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
            Err(source) => return Err(RunError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RunError::Config(format!("{}: not a manifest: {e}", path.display())))
    }
}

/// The time now, UTC, RFC 3339.
fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
