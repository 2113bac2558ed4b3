//! The `--roi FILE` sidecar: a CSV naming regions of images.
//!
//! Columns (header names, any order): `path` or `sop_instance_uid` to say which image; `roi`, the
//! label; optional `frame` (default 1); and one shape — `x,y,width,height`, `polygon`
//! (`"x y; x y; …"`) or `mask` (a PNG of the image's size, relative paths from the sidecar's
//! folder). The whole file is checked before the run starts, so a typo stops the run with the
//! line that has it instead of costing a cohort's worth of error rows. Problems that need the
//! image (a region outside it, a mask of the wrong size) become that region's error row.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::{Inside, Shape};
use crate::error::{FileError, FileResult, Result, RunError};

/// Which image a line is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Path(String),
    Uid(String),
}

/// A shape as written in the sidecar; masks are read when their image is scored.
#[derive(Debug, Clone, PartialEq)]
enum Spec {
    Shape(Shape),
    MaskFile(PathBuf),
}

/// One line of the sidecar.
#[derive(Debug)]
pub struct Entry {
    /// "rois.csv line 7", for messages.
    pub place: String,
    pub frame: u32,
    pub label: String,
    key: Key,
    spec: Spec,
    used: AtomicBool,
}

impl Entry {
    /// The region's shape, reading the mask image if it is one.
    pub fn shape(&self) -> FileResult<Shape> {
        match &self.spec {
            Spec::Shape(s) => Ok(s.clone()),
            Spec::MaskFile(path) => {
                read_mask(path).map_err(|e| FileError::Region(format!("{}: {e}", self.place)))
            }
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

fn check_header(name: &str, column: &HashMap<&str, usize>) -> Result<()> {
    let has = |c: &str| column.contains_key(c);
    let missing = if !has("path") && !has("sop_instance_uid") {
        Some("a path or sop_instance_uid column")
    } else if !has("roi") {
        Some("a roi column")
    } else if !(has("polygon")
        || has("mask")
        || ["x", "y", "width", "height"].iter().all(|c| has(c)))
    {
        Some("x,y,width,height, polygon or mask columns")
    } else {
        None
    };
    match missing {
        Some(what) => Err(RunError::Config(format!("{name}: the header needs {what}"))),
        None => Ok(()),
    }
}

/// One record into an entry; the error is the reason, without the place.
fn parse_line(
    field: &dyn Fn(&str) -> String,
    folder: &Path,
    place: &str,
) -> std::result::Result<Entry, String> {
    let key = match (field("path"), field("sop_instance_uid")) {
        (path, uid) if path.is_empty() && uid.is_empty() => {
            return Err("give a path or a sop_instance_uid".into())
        }
        (path, uid) if path.is_empty() => Key::Uid(uid),
        (path, _) => Key::Path(path),
    };
    let label = field("roi");
    if label.is_empty() {
        return Err("the roi label is empty".into());
    }
    let frame = match field("frame").as_str() {
        "" => 1,
        f => f
            .parse::<u32>()
            .ok()
            .filter(|&f| f >= 1)
            .ok_or(format!("frame {f:?} is not a number from 1"))?,
    };
    let rect = ["x", "y", "width", "height"].map(field);
    let rect = [&*rect[0], &*rect[1], &*rect[2], &*rect[3]];
    let given = [
        rect.iter().any(|v| !v.is_empty()),
        !field("polygon").is_empty(),
        !field("mask").is_empty(),
    ];
    if given.iter().filter(|&&g| g).count() != 1 {
        return Err("give exactly one shape: x,y,width,height, polygon or mask".into());
    }
    let spec = if given[0] {
        Spec::Shape(parse_rect(rect)?)
    } else if given[1] {
        Spec::Shape(parse_polygon(&field("polygon"))?)
    } else {
        Spec::MaskFile(folder.join(field("mask")))
    };
    Ok(Entry {
        place: place.to_string(),
        frame,
        label,
        key,
        spec,
        used: AtomicBool::new(false),
    })
}

fn parse_rect(values: [&str; 4]) -> std::result::Result<Shape, String> {
    let names = ["x", "y", "width", "height"];
    let mut n = [0usize; 4];
    for i in 0..4 {
        n[i] = values[i].parse().map_err(|_| {
            format!(
                "{} {:?} is not a whole number of pixels",
                names[i], values[i]
            )
        })?;
    }
    if n[2] == 0 || n[3] == 0 {
        return Err(format!("the rectangle is empty ({} × {})", n[2], n[3]));
    }
    Ok(Shape::Rect {
        x: n[0],
        y: n[1],
        width: n[2],
        height: n[3],
    })
}

fn parse_polygon(text: &str) -> std::result::Result<Shape, String> {
    let vertices = text
        .split(';')
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            let xy: Vec<f64> = v
                .split_whitespace()
                .map(|n| n.parse::<f64>().ok().filter(|f| f.is_finite()))
                .collect::<Option<_>>()
                .ok_or(format!("polygon vertex {:?} is not two numbers", v.trim()))?;
            match xy[..] {
                [x, y] => Ok((x, y)),
                _ => Err(format!("polygon vertex {:?} is not two numbers", v.trim())),
            }
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    if vertices.len() < 3 {
        return Err(format!(
            "a polygon needs 3 vertices, this has {}",
            vertices.len()
        ));
    }
    let twice_area: f64 = vertices
        .iter()
        .zip(vertices.iter().cycle().skip(1))
        .map(|((x0, y0), (x1, y1))| x0 * y1 - x1 * y0)
        .sum();
    if twice_area == 0.0 {
        return Err("the polygon has no area".into());
    }
    Ok(Shape::Polygon(vertices))
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

fn read_mask(path: &Path) -> std::result::Result<Shape, String> {
    let image = image::open(path)
        .map_err(|e| format!("cannot read the mask {}: {e}", path.display()))?
        .into_luma16();
    let (cols, rows) = (image.width() as usize, image.height() as usize);
    let inside = Inside::from_nonzero(image.pixels().map(|p| u8::from(p.0[0] != 0)).collect());
    Ok(Shape::Mask { rows, cols, inside })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Sidecar> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rois.csv");
        std::fs::write(&path, text).unwrap();
        Sidecar::load(&path)
    }

    #[test]
    fn reads_rectangles_polygons_and_masks() {
        let s = load(
            "path,roi,x,y,width,height,polygon,mask,frame\n\
             a/b.dcm,L1,1,2,3,4,,,\n\
             /abs/c.dcm,L2,,,,,\"0 0; 4 0; 0 4\",,2\n\
             b.dcm,L3,,,,,,m.png,\n",
        )
        .unwrap();
        let b = s.regions("scans/a/b.dcm", "");
        assert_eq!(b.len(), 2, "a/b.dcm and b.dcm both end scans/a/b.dcm");
        assert_eq!(b[0].label, "L1");
        assert_eq!(
            b[0].shape().unwrap(),
            Shape::Rect {
                x: 1,
                y: 2,
                width: 3,
                height: 4
            }
        );
        let c = s.regions("/abs/c.dcm", "");
        assert_eq!(c[0].frame, 2);
        assert!(matches!(c[0].shape().unwrap(), Shape::Polygon(v) if v.len() == 3));
        assert!(
            s.regions("/other/c.dcm", "").is_empty(),
            "absolute paths match whole"
        );
        let e = b[1].shape().unwrap_err().to_string();
        assert!(e.contains("rois.csv line 4: cannot read the mask"), "{e}");
        assert!(s.unmatched().is_empty());
    }

    #[test]
    fn matches_by_uid_and_reports_lines_that_matched_nothing() {
        let s = load("sop_instance_uid,roi,x,y,width,height\n1.2.3,L1,0,0,2,2\n9.9,L2,0,0,2,2\n")
            .unwrap();
        assert_eq!(s.regions("any.dcm", "1.2.3").len(), 1);
        assert_eq!(
            s.unmatched(),
            vec!["rois.csv line 3: no input has SOP Instance UID 9.9"]
        );
    }

    #[test]
    fn bad_lines_are_refused_with_their_line() {
        let cases = [
            (
                "path,roi,polygon\na.dcm,L1,\"0 0; 1 1\"\n",
                "line 2: a polygon needs 3 vertices",
            ),
            (
                "path,roi,polygon\na.dcm,L1,\"0 0; 1 x; 2 2\"\n",
                "line 2: polygon vertex \"1 x\"",
            ),
            (
                "path,roi,polygon\na.dcm,L1,\"0 0; 1 1; 2 2\"\n",
                "line 2: the polygon has no area",
            ),
            (
                "path,roi,x,y,width,height\na.dcm,L1,0,0,0,3\n",
                "line 2: the rectangle is empty",
            ),
            (
                "path,roi,x,y,width,height\na.dcm,L1,0,-1,2,3\n",
                "line 2: y \"-1\" is not",
            ),
            (
                "path,roi,x,y,width,height\n,L1,0,0,2,3\n",
                "line 2: give a path or a sop",
            ),
            (
                "path,roi,x,y,width,height,mask\na,L1,0,0,2,3,m.png\n",
                "give exactly one shape",
            ),
            (
                "path,x,y,width,height\na,0,0,2,3\n",
                "the header needs a roi column",
            ),
            (
                "path,roi,x,y,width,height,frame\na,L1,0,0,2,3,0\n",
                "frame \"0\" is not",
            ),
            (
                "path,roi,x,y,width,height\na,L1,0,0,2,3\na,L1,1,1,2,2\n",
                "line 3: repeats region L1",
            ),
        ];
        for (text, want) in cases {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    /// Issue 14 (6b): two lines could both give one frame an `L1`, which `L1-L4` pooled twice.
    #[test]
    fn two_lines_giving_one_frame_the_same_label_are_refused_naming_both() {
        let s = load(
            "path,sop_instance_uid,roi,x,y,width,height,frame\n\
             a/b.dcm,,L1,0,0,2,2,\n\
             b.dcm,,L2,0,0,2,2,\n\
             b.dcm,,L1,1,1,2,2,2\n\
             ,1.2.3,L2,0,0,2,2,\n",
        )
        .unwrap();
        let uid = |uid: &'static str| move |_: usize| Some(uid.to_string());
        // L1 of frame 1 and L1 of frame 2 differ; L2 by path and by UID collide.
        let e = s
            .check_inputs(&["scans/a/b.dcm".into()], uid("1.2.3"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "rois.csv line 3 and rois.csv line 5 both give scans/a/b.dcm frame 1 a region L2"
            ),
            "{e}"
        );
        assert!(s
            .check_inputs(&["scans/a/b.dcm".into()], uid("9.9"))
            .is_ok());
        let suffixes =
            load("path,roi,x,y,width,height\na/b.dcm,L1,0,0,2,2\nb.dcm,L1,0,0,3,3\n").unwrap();
        let e = suffixes
            .check_inputs(&["x/a/b.dcm".into(), "x/c/b.dcm".into()], |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2 and rois.csv line 3 both give x/a/b.dcm frame 1 a region L1"),
            "{e}"
        );
        assert!(suffixes
            .check_inputs(&["x/c/b.dcm".into()], |_| None)
            .is_ok());
    }
}
