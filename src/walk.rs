//! Stage 1: turn the command-line paths into the ordered list of inputs.
//!
//! The walk's order is the output's order, so it must not depend on the file system's directory
//! order: every directory is listed and sorted by name before descending. Directories reached
//! twice (a symlink loop, or the same tree given twice) are walked once. A zip archive, given or
//! found, stands for its members, each an input ([`archive`]).

pub mod archive;

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{FileError, FileResult};

/// One file or archive member to process, named as the walk found it (its [`Input::display`] is
/// the results' `path` column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file, or for a member the archive holding it.
    pub path: PathBuf,
    /// The member's name inside the archive at `path`.
    pub member: Option<String>,
    /// The file's (or archive's) size and modification time when walked; `None` when it could
    /// not be read then.
    pub seen: Option<Stamp>,
}

/// What an input holds, once looked at.
pub enum Contents {
    /// A DICOM file's bytes, to parse.
    Dicom(Vec<u8>),
    /// Something else, not processed; with its bytes when they were read to tell.
    Skipped(Skip, Option<Vec<u8>>),
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
        Input {
            path,
            member: None,
            seen,
        }
    }

    /// A member of the archive at `path`, as the archive is now.
    pub fn member(path: PathBuf, member: String) -> Input {
        Input {
            member: Some(member),
            ..Input::new(path)
        }
    }

    /// The `path` column: the path as given or walked, lossily converted for non-UTF-8 names;
    /// `ARCHIVE!/MEMBER` for an archive's member.
    pub fn display(&self) -> String {
        let path = self.path.to_string_lossy();
        match &self.member {
            Some(m) => format!("{path}{}{m}", archive::SEPARATOR),
            None => path.into_owned(),
        }
    }

    /// Looks at the input and reads it when it is a DICOM file. A FIFO or device is never
    /// opened; a file's first bytes decide before the rest is read; an archive's member is read
    /// whole (it cannot be read in part), and an archive that stands for itself, rather than
    /// its members, is one that cannot be read.
    pub fn contents(&self, max_bytes: u64) -> FileResult<Contents> {
        if self.member.is_some() {
            let bytes = self.read(max_bytes)?;
            let name = self.member.as_deref().unwrap_or_default();
            return Ok(match classify_head(Path::new(name), &bytes) {
                Some(skip) => Contents::Skipped(skip, Some(bytes)),
                None => Contents::Dicom(bytes),
            });
        }
        let io = |source| FileError::Io {
            path: self.path.clone(),
            source,
        };
        if archive::is_archive(&self.path) && self.path.is_file() {
            return Err(archive::unreadable(&self.path));
        }
        match classify(&self.path).map_err(io)? {
            Some(skip) => Ok(Contents::Skipped(skip, None)),
            None => self.read(max_bytes).map(Contents::Dicom),
        }
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
        if let Some(member) = &self.member {
            let bytes = archive::read_member(&self.path, member, max_bytes)?;
            return self.unchanged_since(before).map(|()| bytes);
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
        if bytes.len() as u64 != before.len {
            return Err(self.changed_while_read());
        }
        self.unchanged_since(before).map(|()| bytes)
    }

    fn unchanged_since(&self, before: Stamp) -> FileResult<()> {
        match Stamp::of(&self.path) {
            Ok(after) if after == before => Ok(()),
            Ok(_) => Err(self.changed_while_read()),
            Err(source) => Err(FileError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn changed_while_read(&self) -> FileError {
        FileError::Changed(format!("{} changed while it was read", self.display()))
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
        } else if let (false, Some((archive, member))) = (root.exists(), archive::split(root)) {
            out.push(Input::member(archive, member));
        } else {
            push_file(root.clone(), &mut out);
        }
    }
    out
}

/// A file found: itself, or an archive's members in name order.
fn push_file(path: PathBuf, out: &mut Vec<Input>) {
    if archive::is_archive(&path) && path.is_file() {
        if let Ok(members) = archive::members(&path) {
            out.extend(members.into_iter().map(|m| Input::member(path.clone(), m)));
            return;
        }
    }
    out.push(Input::new(path));
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
            push_file(child, out);
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
    let mut head = Vec::with_capacity(1024);
    fs::File::open(path)?.take(1024).read_to_end(&mut head)?;
    Ok(classify_head(path, &head))
}

/// Decides from a file's name and first bytes (at least its first kilobyte, when it has one)
/// whether it is a DICOM image file.
fn classify_head(name: &Path, head: &[u8]) -> Option<Skip> {
    if name
        .file_name()
        .is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"))
    {
        return Some(Skip::Dicomdir);
    }
    if head.len() < 132 || &head[128..132] != b"DICM" {
        return Some(Skip::NoPreamble);
    }
    let meta = &head[132..head.len().min(1024)];
    meta.windows(MEDIA_DIRECTORY_UID.len())
        .any(|w| w == MEDIA_DIRECTORY_UID)
        .then_some(Skip::Dicomdir)
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
