//! The `--roi FILE` sidecar: a CSV naming regions of images.
//!
//! Columns (header names, any order): `path` or `sop_instance_uid` to say which image; `roi`, the
//! label; optional `frame` (default 1); and one shape — `x,y,width,height`, `polygon`
//! (`"x y; x y; …"`) or `mask` (a PNG of the image's size, relative paths from the sidecar's
//! folder). The whole file is checked before the run starts, so a typo stops the run with the
//! line that has it instead of costing a cohort's worth of error rows. Problems that need the
//! image (a region outside it, a mask of the wrong size) become that region's error row.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

mod line;

pub use line::{LineShape, SavedRegion, SAVED_COLUMNS};

use super::Shape;
use crate::error::{FileError, FileResult, Result, RunError};
use line::{check_header, parse_line};

/// Which image a line is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Path(String),
    Uid(String),
}

/// One line of the sidecar.
#[derive(Debug)]
pub struct Entry {
    /// "rois.csv line 7", for messages.
    pub place: String,
    pub frame: u32,
    pub label: String,
    key: Key,
    spec: LineShape,
    used: AtomicBool,
}

impl Entry {
    /// The region's shape, reading the mask image if it is one.
    pub fn shape(&self) -> FileResult<Shape> {
        self.spec
            .read()
            .map_err(|e| FileError::Region(format!("{}: {e}", self.place)))
    }

    /// The line as `--save-roi` writes it for the input at `path`.
    pub fn saved(&self, path: &str) -> SavedRegion {
        SavedRegion {
            path: path.to_string(),
            frame: self.frame,
            roi: self.label.clone(),
            shape: self.spec.clone(),
        }
    }
}

/// The parsed sidecar, indexed so that finding an input's lines costs the same however many
/// lines and inputs there are.
#[derive(Debug)]
pub struct Sidecar {
    entries: Vec<Entry>,
    /// The path lines, by the file name their path ends with.
    by_name: HashMap<String, Vec<usize>>,
    /// The UID lines, by UID.
    by_uid: HashMap<String, Vec<usize>>,
}

impl Sidecar {
    /// Reads and checks the whole sidecar.
    pub fn load(path: &Path) -> Result<Self> {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let folder = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| RunError::Config(format!("--roi {}: {e}", path.display())))?;
        let header = reader
            .headers()
            .map_err(|e| RunError::Config(format!("{name}: {e}")))?
            .clone();
        let column: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h, i)).collect();
        check_header(&name, &column)?;
        let mut entries: Vec<Entry> = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| RunError::Config(format!("{name}: {e}")))?;
            let line = record.position().map_or(0, |p| p.line());
            let place = format!("{name} line {line}");
            let field = |c: &str| {
                column
                    .get(c)
                    .and_then(|&i| record.get(i))
                    .unwrap_or("")
                    .to_string()
            };
            let entry = parse_line(&field, &folder, &place)
                .map_err(|why| RunError::Config(format!("{place}: {why}")))?;
            if let Some(first) = entries
                .iter()
                .find(|e| (&e.key, e.frame, &e.label) == (&entry.key, entry.frame, &entry.label))
            {
                return Err(RunError::Config(format!(
                    "{place}: repeats region {} of the same image and frame ({})",
                    entry.label, first.place
                )));
            }
            entries.push(entry);
        }
        let (mut by_name, mut by_uid) = (HashMap::new(), HashMap::new());
        for (i, e) in entries.iter().enumerate() {
            let (index, key) = match &e.key {
                Key::Path(p) => (&mut by_name, file_name(p)),
                Key::Uid(u) => (&mut by_uid, u.clone()),
            };
            index.entry(key).or_insert_with(Vec::new).push(i);
        }
        Ok(Sidecar {
            entries,
            by_name,
            by_uid,
        })
    }

    /// The lines about the image at `path` (as the walk found it) with this SOP Instance UID,
    /// in sidecar order.
    pub fn regions(&self, path: &str, uid: &str) -> Vec<&Entry> {
        let mut lines = self.path_lines(path);
        if !uid.is_empty() {
            lines.extend(self.by_uid.get(uid).into_iter().flatten());
        }
        lines.sort_unstable();
        let matching: Vec<&Entry> = lines.into_iter().map(|i| &self.entries[i]).collect();
        for e in &matching {
            e.used.store(true, Ordering::Relaxed);
        }
        matching
    }

    /// The path lines that name `path`.
    fn path_lines(&self, path: &str) -> Vec<usize> {
        let candidates = self.by_name.get(&file_name(path)).into_iter().flatten();
        candidates
            .filter(|&&i| matches!(&self.entries[i].key, Key::Path(p) if matches_path(p, path)))
            .copied()
            .collect()
    }

    /// Refuses two lines that give one frame of one input the same region label — two path
    /// suffixes, or a path and a SOP Instance UID — before the run writes anything: the region
    /// would be scored twice and pooled twice into `L1-L4`. `uid_of(i)` reads input `i`'s SOP
    /// Instance UID, and is called only for inputs a path line names when there are UID lines.
    pub fn check_inputs(
        &self,
        paths: &[String],
        uid_of: impl Fn(usize) -> Option<String> + Sync,
    ) -> Result<()> {
        let conflict = paths.par_iter().enumerate().find_map_first(|(i, path)| {
            let mut lines = self.path_lines(path);
            if lines.is_empty() {
                return None; // UID lines alone cannot collide: load refused repeats
            }
            if !self.by_uid.is_empty() {
                let uid = uid_of(i).unwrap_or_default();
                lines.extend(self.by_uid.get(&uid).into_iter().flatten());
            }
            self.repeat(&mut lines, path)
        });
        conflict.map_or(Ok(()), Err)
    }

    /// The first two of `lines` that give one frame the same label, as an error.
    fn repeat(&self, lines: &mut [usize], path: &str) -> Option<RunError> {
        lines.sort_unstable();
        let mut seen: HashMap<(u32, &str), &Entry> = HashMap::new();
        for &i in lines.iter() {
            let e = &self.entries[i];
            if let Some(first) = seen.insert((e.frame, e.label.as_str()), e) {
                return Some(RunError::Config(format!(
                    "{} and {} both give {path} frame {} a region {}: keep one",
                    first.place, e.place, e.frame, e.label
                )));
            }
        }
        None
    }

    /// One line per sidecar line that matched no input, for the end of the run.
    pub fn unmatched(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| !e.used.load(Ordering::Relaxed))
            .map(|e| match &e.key {
                Key::Path(p) => format!("{}: no input has the path {p}", e.place),
                Key::Uid(u) => format!("{}: no input has SOP Instance UID {u}", e.place),
            })
            .collect()
    }
}

/// The last component of a path, by which path lines are indexed; empty when it has none.
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A sidecar path names an input when equal to the path the walk found, or, when relative, when
/// it is the input path's last components.
fn matches_path(sidecar: &str, input: &str) -> bool {
    let wanted = Path::new(sidecar.strip_prefix("./").unwrap_or(sidecar));
    sidecar == input || (wanted.is_relative() && Path::new(input).ends_with(wanted))
}

#[cfg(test)]
mod tests;
