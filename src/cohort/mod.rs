//! Cohort runs that survive: resuming a killed run, slicing a cohort into shards and merging
//! them back, and the manifest that tells a receiving site what exactly was analysed.
//!
//! These work on the results files themselves — a prefix of rows in walk order, one input's rows
//! together — so a run never needs state beyond the files a user can see.

pub mod lock;
pub mod manifest;
pub mod merge;
pub mod pseudonym;
pub mod resume;
pub mod shard;

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Result, RunError};

/// One input's rows in a results file.
#[derive(Debug, Clone)]
pub struct InputRows {
    pub path: String,
    pub rows: Vec<csv::StringRecord>,
}

/// A results file read back one input at a time, so that a cohort's file need not fit in memory.
pub struct ResultsReader {
    pub header: csv::StringRecord,
    records: csv::StringRecordsIntoIter<std::fs::File>,
    next: Option<csv::StringRecord>,
    path: std::path::PathBuf,
}

impl ResultsReader {
    pub fn open(path: &Path) -> Result<ResultsReader> {
        let mut reader = csv::Reader::from_path(path).map_err(|e| bad(path, e))?;
        let header = reader.headers().map_err(|e| bad(path, e))?.clone();
        Ok(ResultsReader {
            header,
            records: reader.into_records(),
            next: None,
            path: path.to_path_buf(),
        })
    }

    fn record(&mut self) -> Result<Option<csv::StringRecord>> {
        match self.next.take() {
            Some(r) => Ok(Some(r)),
            None => self
                .records
                .next()
                .transpose()
                .map_err(|e| bad(&self.path, e)),
        }
    }
}

impl Iterator for ResultsReader {
    type Item = Result<InputRows>;

    /// The next input's rows: the run of rows with the same path.
    fn next(&mut self) -> Option<Result<InputRows>> {
        let first = match self.record() {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let path = first.get(0).unwrap_or_default().to_string();
        let mut rows = vec![first];
        loop {
            match self.record() {
                Ok(Some(r)) if r.get(0) == Some(path.as_str()) => rows.push(r),
                Ok(other) => {
                    self.next = other;
                    return Some(Ok(InputRows { path, rows }));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

fn bad(path: &Path, e: csv::Error) -> RunError {
    RunError::Config(format!("cannot read {}: {e}", path.display()))
}

/// Whether two paths name one file (the second need not exist yet).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes in memory, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a file, streamed, in hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_memory_and_of_a_file_agree_with_the_standard() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256(b"abc"), abc);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("abc");
        std::fs::write(&file, "abc").unwrap();
        assert_eq!(sha256_file(&file).unwrap(), abc);
    }
}
