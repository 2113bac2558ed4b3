//! One line of the sidecar, both ways: read and checked into an [`Entry`], and written back as
//! a [`SavedRegion`] (`--save-roi`), in the form `--roi` reads again exactly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::{Entry, Key};
use crate::error::{Result, RunError};
use crate::region::{Inside, Shape};

/// A region's shape as a line gives it; a mask is a file, read when its image is scored.
#[derive(Debug, Clone, PartialEq)]
pub enum LineShape {
    /// `width` × `height` pixels from column `x`, row `y`.
    Rect {
        x: usize,
        y: usize,
        width: usize,
        height: usize,
    },
    /// Vertices (x, y) in image coordinates.
    Polygon(Vec<(f64, f64)>),
    /// A PNG of the image's size; nonzero is inside.
    Mask(PathBuf),
}

/// The columns `--save-roi` writes: those of a sidecar, every shape's.
pub const SAVED_COLUMNS: [&str; 9] = [
    "path", "frame", "roi", "x", "y", "width", "height", "polygon", "mask",
];

/// A region as a sidecar line: what `--save-roi` writes of every region a run used.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRegion {
    /// The input's `path`, whole, so the line names that input and no other.
    pub path: String,
    pub frame: u32,
    pub roi: String,
    pub shape: LineShape,
}

impl SavedRegion {
    /// The line's cells, in [`SAVED_COLUMNS`] order. Numbers in Rust's shortest round-trip
    /// form, so a polygon's vertices read back to the same values; a mask by its absolute
    /// path, so the line reads the same mask from wherever it is used.
    pub fn fields(&self) -> [String; 9] {
        let mut cells: [String; 9] = Default::default();
        cells[0] = self.path.clone();
        cells[1] = self.frame.to_string();
        cells[2] = self.roi.clone();
        match &self.shape {
            LineShape::Rect {
                x,
                y,
                width,
                height,
            } => {
                for (cell, v) in cells[3..7].iter_mut().zip([x, y, width, height]) {
                    *cell = v.to_string();
                }
            }
            LineShape::Polygon(vertices) => {
                let points: Vec<String> =
                    vertices.iter().map(|(x, y)| format!("{x} {y}")).collect();
                cells[7] = points.join("; ");
            }
            LineShape::Mask(path) => {
                let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                cells[8] = absolute.to_string_lossy().into_owned();
            }
        }
        cells
    }
}

impl LineShape {
    /// The shape the engines cut, reading a mask file.
    pub(super) fn read(&self) -> std::result::Result<Shape, String> {
        Ok(match self {
            &LineShape::Rect {
                x,
                y,
                width,
                height,
            } => Shape::Rect {
                x,
                y,
                width,
                height,
            },
            LineShape::Polygon(v) => Shape::Polygon(v.clone()),
            LineShape::Mask(path) => read_mask(path)?,
        })
    }
}

pub(super) fn check_header(name: &str, column: &HashMap<&str, usize>) -> Result<()> {
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
pub(super) fn parse_line(
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
        parse_rect(rect)?
    } else if given[1] {
        parse_polygon(&field("polygon"))?
    } else {
        LineShape::Mask(folder.join(field("mask")))
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

fn parse_rect(values: [&str; 4]) -> std::result::Result<LineShape, String> {
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
    Ok(LineShape::Rect {
        x: n[0],
        y: n[1],
        width: n[2],
        height: n[3],
    })
}

fn parse_polygon(text: &str) -> std::result::Result<LineShape, String> {
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
    Ok(LineShape::Polygon(vertices))
}

pub(super) fn read_mask(path: &Path) -> std::result::Result<Shape, String> {
    let image = image::open(path)
        .map_err(|e| format!("cannot read the mask {}: {e}", path.display()))?
        .into_luma16();
    let (cols, rows) = (image.width() as usize, image.height() as usize);
    let inside = Inside::from_nonzero(image.pixels().map(|p| u8::from(p.0[0] != 0)).collect());
    Ok(Shape::Mask { rows, cols, inside })
}
