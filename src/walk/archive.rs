//! Zip archives as inputs: each member is an input of its own, read straight from the archive
//! into memory (nothing is extracted to disk), named `ARCHIVE!/MEMBER`.
//!
//! Deliveries come as zips (UK Biobank's: one per participant visit). The archive is untrusted
//! like any file: a member's declared and actual size obey the same cap as a file's, a member
//! that inflates past what any image compresses to (a zip bomb) is refused before it is
//! inflated, an archive inside an archive is not opened, and a corrupt archive or member is an
//! error row.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::error::{FileError, FileResult};

/// Between the archive's path and the member's name in an input's path: `visit.zip!/ap.dcm`.
pub const SEPARATOR: &str = "!/";

/// DICOM images deflate 2–20:1; deflate itself cannot pass about 1030:1. A member declaring
/// more than this, once it is large enough to matter, is a bomb.
const MAX_RATIO: u64 = 200;

/// Members smaller than this are read whatever their ratio: inflating them costs nothing.
const RATIO_FLOOR: u64 = 1 << 20;

/// Whether a path names a zip archive (by its extension, as deliveries name them).
pub fn is_archive(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Splits an input path given as `ARCHIVE!/MEMBER` when ARCHIVE is an archive file.
pub fn split(path: &Path) -> Option<(PathBuf, String)> {
    let text = path.to_str()?;
    let (archive, member) = text.split_once(SEPARATOR)?;
    let archive = PathBuf::from(archive);
    (is_archive(&archive) && archive.is_file() && !member.is_empty())
        .then(|| (archive, member.to_string()))
}

/// The archive's member files by name, sorted (directories left out, a name listed twice
/// once); the reason when the archive cannot be read.
pub fn members(path: &Path) -> Result<Vec<String>, String> {
    let archive = open(path)?;
    let mut names: Vec<String> = archive
        .file_names()
        .collect::<zip::result::ZipResult<Vec<_>>>()
        .map_err(|e| format!("a member's name cannot be read: {e}"))?
        .into_iter()
        .filter(|n| !n.ends_with('/'))
        .map(|n| n.into_owned())
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err("the archive holds no files".into());
    }
    Ok(names)
}

/// Why a path that is an archive is an input of its own rather than its members: it cannot be
/// read, or holds nothing.
pub fn unreadable(path: &Path) -> FileError {
    let why = members(path).err().unwrap_or_else(|| "not read".into());
    FileError::Archive(format!("{}: {why}", path.display()))
}

/// Reads one member whole, refusing it unread when it declares more than `max_bytes`, a ratio
/// only a bomb has, or is an archive itself; and refusing it when it inflates to other than
/// the size it declared.
pub fn read_member(path: &Path, member: &str, max_bytes: u64) -> FileResult<Vec<u8>> {
    let named = |why: String| FileError::Archive(format!("{member}: {why}"));
    if is_archive(Path::new(member)) {
        return Err(nested());
    }
    let mut archive =
        open(path).map_err(|why| FileError::Archive(format!("{}: {why}", path.display())))?;
    let mut file = archive.by_name(member).map_err(|e| named(e.to_string()))?;
    let (size, packed) = (file.size(), file.compressed_size());
    if size > max_bytes {
        return Err(FileError::TooLarge(format!(
            "{member} inflates to {size} bytes; the limit (from --max-pixels) is {max_bytes}"
        )));
    }
    if size > RATIO_FLOOR && size > packed.saturating_mul(MAX_RATIO) {
        return Err(named(format!(
            "declares {size} bytes from {packed} compressed ({}:1), a ratio only a zip bomb has",
            size / packed.max(1)
        )));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.by_ref()
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| named(format!("cannot inflate: {e}")))?;
    if bytes.len() as u64 != size {
        return Err(named(format!(
            "inflates to {} bytes, not the {size} it declares",
            bytes.len()
        )));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(nested());
    }
    Ok(bytes)
}

fn nested() -> FileError {
    FileError::Archive(
        "an archive inside an archive is not opened; extract it and give its folder".into(),
    )
}

fn open(path: &Path) -> Result<ZipArchive<File>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    ZipArchive::new(file).map_err(|e| format!("not a readable zip archive: {e}"))
}

#[cfg(test)]
mod tests;
