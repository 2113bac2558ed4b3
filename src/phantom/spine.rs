//! A synthetic AP lumbar-spine image: four vertebral bodies, each with its own known texture,
//! discs between them, a pelvis-like ring below, soft tissue around, and the display export's
//! zero background and saturated fill. It comes with the rectangles of its region sidecar, so a
//! per-vertebra score can be checked against the H each body was made with.

use super::{fbm_surface, Phantom, Spec, Style};
use crate::error::{Result, RunError};

/// Labels of the bodies, top to bottom.
pub const VERTEBRAE: [&str; 4] = ["L1", "L2", "L3", "L4"];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpineSpec {
    pub rows: usize,
    pub cols: usize,
    /// H of L1..L4's texture.
    pub hursts: [f64; 4],
    pub seed: u64,
}

/// A region rectangle: left column, top row, width, height.
pub type Rect = (usize, usize, usize, usize);

/// The image and, for each vertebra, a rectangle inside its body.
#[derive(Debug, Clone)]
pub struct Spine {
    pub phantom: Phantom,
    pub regions: [Rect; 4],
}

/// Display levels: texture maps to 2..=250 in even steps, like the export.
const LEVELS: f64 = 124.0;
pub(super) const BACKGROUND: i32 = 0;
pub(super) const FILL: i32 = 252;

impl Spine {
    pub fn generate(spec: SpineSpec) -> Result<Self> {
        let SpineSpec {
            rows,
            cols,
            hursts,
            seed,
        } = spec;
        if rows < 160 || cols < 120 {
            return Err(RunError::Config(format!(
                "a spine phantom needs at least 160 rows × 120 columns, not {rows} × {cols}"
            )));
        }
        if let Some(h) = hursts.iter().find(|h| !(0.0 < **h && **h <= 1.0)) {
            return Err(RunError::Config(format!(
                "Hurst exponent {h} must be in (0, 1]"
            )));
        }
        let layout = Layout::new(rows, cols);
        let tissue = normalised(fbm_surface(rows, cols, 0.9, seed));
        let pelvis = normalised(fbm_surface(rows, cols, 0.5, seed + 5));
        // Each body's texture is made at the body's own size and normalised there, so every
        // body spans the same gray levels whatever its H.
        let bodies: Vec<(Vec<f64>, usize, usize, usize)> = (0..4)
            .map(|i| {
                let (left, top, w, h) = layout.bodies[i];
                let (w, h) = (w.ceil() as usize + 1, h.ceil() as usize + 1);
                let surface = normalised(fbm_surface(h, w, hursts[i], seed + 1 + i as u64));
                (surface, left.floor() as usize, top.floor() as usize, w)
            })
            .collect();
        let body = |k: usize, r: usize, c: usize| {
            let (surface, left, top, w) = &bodies[k];
            surface[(r - top) * w + (c - left)]
        };
        let values = (0..rows * cols)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                match layout.part(r, c) {
                    Part::Background => BACKGROUND,
                    Part::Fill => FILL,
                    Part::Tissue => level(0.25 + 0.03 * tissue[i]),
                    Part::Body(k) => level(0.5 + 0.15 * body(k, r, c)),
                    Part::Pelvis => level(0.5 + 0.06 * pelvis[i]),
                }
            })
            .collect();
        let phantom = Phantom {
            spec: Spec {
                rows,
                cols,
                hurst: hursts.iter().sum::<f64>() / 4.0,
                bits_stored: 8,
                signed: false,
                style: Style::Display,
                seed,
            },
            values,
        };
        Ok(Spine {
            phantom,
            regions: layout.regions(),
        })
    }

    /// The sidecar lines (no header) naming this image's vertebrae by `path`.
    pub fn sidecar_lines(&self, path: &str) -> String {
        VERTEBRAE
            .iter()
            .zip(&self.regions)
            .map(|(label, (x, y, w, h))| format!("{path},{label},{x},{y},{w},{h}\n"))
            .collect()
    }
}

/// The sidecar's header for [`Spine::sidecar_lines`].
pub const SIDECAR_HEADER: &str = "path,roi,x,y,width,height\n";

/// A texture value around 0..1 as a display level, 2..=250, even.
pub(super) fn level(v: f64) -> i32 {
    2 * ((v * LEVELS).round() as i32 + 1).clamp(1, 125)
}

/// Zero mean, unit standard deviation.
pub(super) fn normalised(mut s: Vec<f64>) -> Vec<f64> {
    let n = s.len() as f64;
    let mean = s.iter().sum::<f64>() / n;
    let sd = (s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for v in &mut s {
        *v = (*v - mean) / sd;
    }
    s
}

/// What a pixel shows.
enum Part {
    Background,
    Fill,
    Tissue,
    Body(usize),
    Pelvis,
}

/// Where the anatomy sits, in proportion to the image.
struct Layout {
    rows: f64,
    cols: f64,
    /// Each body's (left, top, width, height), in pixels.
    bodies: [(f64, f64, f64, f64); 4],
}

impl Layout {
    fn new(rows: usize, cols: usize) -> Self {
        let (rows, cols) = (rows as f64, cols as f64);
        let (width, height, gap) = (0.36 * cols, 0.15 * rows, 0.04 * rows);
        let body = |k: usize| {
            let top = 0.06 * rows + k as f64 * (height + gap);
            (0.32 * cols, top, width, height)
        };
        Layout {
            rows,
            cols,
            bodies: [body(0), body(1), body(2), body(3)],
        }
    }

    fn part(&self, r: usize, c: usize) -> Part {
        let (y, x) = (r as f64 + 0.5, c as f64 + 0.5);
        let band = self.rows / 25.0;
        if y < band || y > self.rows - band {
            return Part::Fill;
        }
        if x < 0.12 * self.cols || x > 0.88 * self.cols {
            return Part::Background;
        }
        if let Some(k) = self.bodies.iter().position(|b| inside_rounded(b, x, y)) {
            return Part::Body(k);
        }
        // A ring centred below the image: the iliac crests.
        let (cx, cy) = (0.5 * self.cols, 1.08 * self.rows);
        let ellipse = |a: f64, b: f64| ((x - cx) / a).powi(2) + ((y - cy) / b).powi(2) < 1.0;
        if ellipse(0.4 * self.cols, 0.3 * self.rows) && !ellipse(0.3 * self.cols, 0.22 * self.rows)
        {
            return Part::Pelvis;
        }
        Part::Tissue
    }

    /// A rectangle inside each body, clear of its rounded corners.
    fn regions(&self) -> [Rect; 4] {
        self.bodies.map(|(left, top, w, h)| {
            let (x0, y0) = ((left + 0.15 * w).ceil(), (top + 0.15 * h).ceil());
            let (x1, y1) = ((left + 0.85 * w).floor(), (top + 0.85 * h).floor());
            (
                x0 as usize,
                y0 as usize,
                (x1 - x0) as usize,
                (y1 - y0) as usize,
            )
        })
    }
}

/// Inside a rectangle whose corners are rounded with a radius of a fifth of its width.
fn inside_rounded(&(left, top, w, h): &(f64, f64, f64, f64), x: f64, y: f64) -> bool {
    if x < left || x > left + w || y < top || y > top + h {
        return false;
    }
    let radius = 0.2 * w;
    let dx = (left + radius - x).max(x - (left + w - radius)).max(0.0);
    let dy = (top + radius - y).max(y - (top + h - radius)).max(0.0);
    dx * dx + dy * dy <= radius * radius
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spine() -> Spine {
        Spine::generate(SpineSpec {
            rows: 240,
            cols: 160,
            hursts: [0.3, 0.5, 0.7, 0.9],
            seed: 3,
        })
        .unwrap()
    }

    #[test]
    fn regions_lie_inside_their_bodies_and_hold_texture_only() {
        let s = spine();
        let cols = s.phantom.spec.cols;
        for (x, y, w, h) in s.regions {
            assert!(w > 10 && h > 10);
            for r in y..y + h {
                for c in x..x + w {
                    let v = s.phantom.values[r * cols + c];
                    assert!((2..=250).contains(&v) && v % 2 == 0, "({r}, {c}) = {v}");
                }
            }
        }
    }

    #[test]
    fn the_export_has_background_fill_and_even_levels() {
        let s = spine();
        let v = &s.phantom.values;
        assert!(v.contains(&BACKGROUND) && v.contains(&FILL));
        assert!(v.iter().all(|&p| p == FILL || p % 2 == 0));
        assert_eq!(
            s.sidecar_lines("a.dcm").lines().next(),
            Some(
                format!(
                    "a.dcm,L1,{},{},{},{}",
                    s.regions[0].0, s.regions[0].1, s.regions[0].2, s.regions[0].3
                )
                .as_str()
            )
        );
    }
}
