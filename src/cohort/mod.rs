//! Cohort runs that survive: resuming a killed run, slicing a cohort into shards and merging
//! them back, and the manifest that tells a receiving site what exactly was analysed.
//!
//! These work on the results files themselves — a prefix of rows in walk order, one input's rows
//! together — so a run never needs state beyond the files a user can see.

pub mod manifest;
pub mod merge;
pub mod pseudonym;
pub mod resume;
pub mod shard;

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One input's rows in a results file.
#[derive(Debug, Clone)]
pub struct InputRows {
    pub path: String,
    pub rows: Vec<csv::StringRecord>,
}

/// A results file read back: its header and its rows grouped by input, in file order.
pub fn read_results(path: &Path) -> Result<(csv::StringRecord, Vec<InputRows>)> {
    let bad = |e: csv::Error| Error::Config(format!("cannot read {}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(bad)?;
    let header = reader.headers().map_err(bad)?.clone();
    let mut inputs: Vec<InputRows> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad)?;
        let name = record.get(0).unwrap_or_default();
        match inputs.last_mut() {
            Some(last) if last.path == name => last.rows.push(record),
            _ => inputs.push(InputRows {
                path: name.to_string(),
                rows: vec![record],
            }),
        }
    }
    Ok((header, inputs))
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
    let io = |source| Error::Io {
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
