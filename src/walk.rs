//! Stage 1: turn the command-line paths into the ordered list of inputs.
//!
//! The walk's order is the output's order, so it must not depend on the file system's directory
//! order: every directory is listed and sorted by name before descending. Directories reached
//! twice (a symlink loop, or the same tree given twice) are walked once.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{FileError, FileResult};

/// One file to process, named as the walk found it (this string is the results' `path` column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    /// Its size and modification time when walked; `None` when it could not be read then.
    pub seen: Option<Stamp>,
}

/// What tells a file's contents changed without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
    /// A regular file (not a FIFO, socket or device).
    pub regular: bool,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Stamp> {
        let m = fs::metadata(path)?;
        Ok(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            regular: m.is_file(),
        })
    }
}

impl Input {
    /// An input as found now.
    pub fn new(path: PathBuf) -> Input {
        let seen = Stamp::of(&path).ok();
        Input { path, seen }
    }

    /// The `path` column: the path as given or walked, lossily converted for non-UTF-8 names.
    pub fn display(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// The whole file. A file over `max_bytes` is refused before any of it is read, so a huge
    /// file costs no memory; one whose size or time differs from the walk's, or changes while it
    /// is read, is refused, since its rows would describe contents nobody can point to.
    pub fn read(&self, max_bytes: u64) -> FileResult<Vec<u8>> {
        let io = |source| FileError::Io {
            path: self.path.clone(),
            source,
        };
        let before = Stamp::of(&self.path).map_err(io)?;
        if !before.regular {
            return Err(FileError::Changed(format!(
                "{} is no longer a regular file",
                self.display()
            )));
        }
        if self.seen.is_some_and(|seen| seen != before) {
            return Err(FileError::Changed(format!(
                "{} changed after the run listed it ({} bytes then, {} now)",
                self.display(),
                self.seen.map_or(0, |s| s.len),
                before.len
            )));
        }
        if before.len > max_bytes {
            return Err(FileError::TooLarge(format!(
                "{} is {} bytes; the limit (from --max-pixels) is {max_bytes}",
                self.display(),
                before.len
            )));
        }
        let mut bytes = Vec::with_capacity(before.len as usize);
        fs::File::open(&self.path)
            .and_then(|f| f.take(max_bytes + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        let after = Stamp::of(&self.path).map_err(io)?;
        if after != before || bytes.len() as u64 != before.len {
            return Err(FileError::Changed(format!(
                "{} changed while it was read",
                self.display()
            )));
        }
        Ok(bytes)
    }
}

/// Lists every file under `roots` in a deterministic depth-first order.
///
/// A root that does not exist is still listed, so that it gets an error row instead of silently
/// vanishing from a cohort.
pub fn walk(roots: &[PathBuf]) -> Vec<Input> {
    let mut seen_dirs = HashSet::new();
    let mut out = Vec::new();
    for root in roots {
        if root.is_dir() {
            walk_dir(root, &mut seen_dirs, &mut out);
        } else {
            out.push(Input::new(root.clone()));
        }
    }
    out
}

fn walk_dir(dir: &Path, seen: &mut HashSet<PathBuf>, out: &mut Vec<Input>) {
    // Canonical paths identify a directory however it was reached, which breaks symlink loops.
    let Ok(canonical) = fs::canonicalize(dir) else {
        out.push(Input::new(dir.to_path_buf()));
        return;
    };
    if !seen.insert(canonical) {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        out.push(Input::new(dir.to_path_buf()));
        return;
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        if child.is_dir() {
            walk_dir(&child, seen, out);
        } else {
            out.push(Input::new(child));
        }
    }
}

/// Why an input is skipped rather than processed: it is not a DICOM image file at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No 128-byte preamble followed by `DICM`: a text file, a raw dataset, a thumbnail.
    NoPreamble,
    /// A media directory (DICOMDIR), which indexes images but holds none.
    Dicomdir,
    /// Not a regular file: a FIFO, socket or device (itself or behind a symlink). Opening one
    /// can block forever, so it never is.
    NotAFile,
}

/// The SOP Class UID of a DICOMDIR; it sits in the file meta group near the start of the file.
const MEDIA_DIRECTORY_UID: &[u8] = b"1.2.840.10008.1.3.10\0";

/// Looks at the first bytes of a file to decide whether it is a DICOM image file to process.
///
/// Returns `Ok(None)` for a file to process. Read errors are returned so that an unreadable file
/// becomes an error row rather than a silent skip.
pub fn classify(path: &Path) -> std::io::Result<Option<Skip>> {
    if !fs::metadata(path)?.is_file() {
        return Ok(Some(Skip::NotAFile));
    }
    if path
        .file_name()
        .is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"))
    {
        return Ok(Some(Skip::Dicomdir));
    }
    let mut head = Vec::with_capacity(1024);
    fs::File::open(path)?.take(1024).read_to_end(&mut head)?;
    if head.len() < 132 || &head[128..132] != b"DICM" {
        return Ok(Some(Skip::NoPreamble));
    }
    let meta = &head[132..];
    if meta
        .windows(MEDIA_DIRECTORY_UID.len())
        .any(|w| w == MEDIA_DIRECTORY_UID)
    {
        return Ok(Some(Skip::Dicomdir));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_changed_or_vanished_after_the_walk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.dcm");
        fs::write(&path, b"first contents").unwrap();
        let input = Input::new(path.clone());
        assert_eq!(input.read(1 << 20).unwrap(), b"first contents");
        fs::write(&path, b"second, longer contents").unwrap();
        let e = input.read(1 << 20).unwrap_err().to_string();
        assert!(e.contains("changed after the run listed it"), "{e}");
        fs::remove_file(&path).unwrap();
        let e = input.read(1 << 20).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.dcm");
        fs::write(&path, vec![0u8; 4096]).unwrap();
        let e = Input::new(path).read(4095).unwrap_err().to_string();
        assert!(e.contains("4096 bytes; the limit"), "{e}");
    }
}
