//! A synthetic AP lumbar spine drawn from anatomy, with its true outlines: the ground truth a
//! vertebra locator is measured against.
//!
//! Everything is laid out in millimetres and drawn at the chosen pixel spacing. The spine runs
//! down the image from T12 (with its ribs leaving obliquely) to L5, along a centreline that
//! may be shifted, tilted and curved (scoliosis); each body is a rounded box whose endplates
//! are brighter than its core, with two pedicle rings in its upper half, a spinous process on
//! the midline and transverse processes reaching sideways; discs between bodies are dark; the
//! iliac crests rise in the lower corners at about the L4/L5 disc. Soft tissue of varying
//! thickness lies under everything. A display export clips the soft tissue's edge to 0 and
//! fills the top and bottom bands with 252, as GE's do; a raw export keeps 12 or 16 bits.
//! Each lumbar vertebra's true outline is the polygon an analyst draws: from the midline of
//! the disc above to that of the disc below, across the body's width, turned with the spine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::spine::normalised;
use super::{fbm_surface, gaussian, Phantom, Spec, Style};
use crate::error::{Result, RunError};

/// The lumbar vertebrae outlined, top to bottom.
pub const LUMBAR: [&str; 4] = ["L1", "L2", "L3", "L4"];

/// How the generated image is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// 8-bit, display-processed: soft tissue's edge clipped to 0, fill bands of 252.
    Display,
    /// Raw attenuation at this many bits stored (12 or 16).
    Raw(u16),
}

/// What to generate. Lengths in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnatomySpec {
    pub rows: usize,
    pub cols: usize,
    /// Pixel spacing, the same both ways (0.2–0.35 mm).
    pub spacing_mm: f64,
    pub export: Export,
    /// Every other choice (position, tilt, curve, heights, texture, noise) is drawn from this.
    pub seed: u64,
}

/// The generated image and what is true about it, in pixel coordinates.
#[derive(Debug, Clone)]
pub struct Anatomy {
    pub phantom: Phantom,
    /// L1..L4's outlines: disc midline to disc midline, across the body, as (x, y) vertices.
    pub vertebrae: [Vec<(f64, f64)>; 4],
    /// The row of the iliac crests' tops, where they are highest.
    pub crest_row: f64,
    /// The spine's tilt from vertical, degrees, and the largest lateral bow of its curve, mm.
    pub tilt_deg: f64,
    pub curve_mm: f64,
}

/// A vertebral body in mm: centre, half width, half height, angle (radians, from the spine's
/// local direction).
#[derive(Debug, Clone, Copy)]
struct Body {
    cx: f64,
    cy: f64,
    half_w: f64,
    half_h: f64,
    angle: f64,
}

/// The drawn parts' bone density, before export: 0 none, about 1 a body's core.
struct Scene {
    bodies: Vec<Body>,
    /// (top, left x, right x) of the crests' arcs, mm.
    crest_top: f64,
    crest_inner: (f64, f64),
    width_mm: f64,
}

impl Anatomy {
    pub fn generate(spec: AnatomySpec) -> Result<Anatomy> {
        check(&spec)?;
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let s = spec.spacing_mm;
        let (width_mm, height_mm) = (spec.cols as f64 * s, spec.rows as f64 * s);
        let tilt_deg = rng.random_range(-10.0..10.0);
        let curve_mm = rng.random_range(-8.0..8.0);
        let scene = Scene::lay_out(&mut rng, width_mm, height_mm, tilt_deg, curve_mm);
        let phantom = scene.draw(&spec, &mut rng);
        let vertebrae = scene
            .outlines()
            .map(|v| v.map(|(x, y)| (x / s, y / s)).to_vec());
        Ok(Anatomy {
            phantom,
            vertebrae,
            crest_row: scene.crest_top / s,
            tilt_deg,
            curve_mm,
        })
    }
}

impl Anatomy {
    /// L1–L4's true outlines as polygon sidecar lines for the image at `path`.
    pub fn sidecar_lines(&self, path: &str) -> String {
        LUMBAR
            .iter()
            .zip(&self.vertebrae)
            .map(|(label, outline)| {
                let points: Vec<String> = outline.iter().map(|(x, y)| format!("{x} {y}")).collect();
                format!("{path},{label},\"{}\"\n", points.join("; "))
            })
            .collect()
    }
}

/// The sidecar's header for [`Anatomy::sidecar_lines`].
pub const SIDECAR_HEADER: &str = "path,roi,polygon\n";

fn check(spec: &AnatomySpec) -> Result<()> {
    if !(0.2..=0.35).contains(&spec.spacing_mm) {
        return Err(RunError::Config(format!(
            "pixel spacing {} mm: generated spines are 0.2–0.35 mm",
            spec.spacing_mm
        )));
    }
    let (w, h) = (
        spec.cols as f64 * spec.spacing_mm,
        spec.rows as f64 * spec.spacing_mm,
    );
    if w < 120.0 || h < 185.0 {
        return Err(RunError::Config(format!(
            "{w:.0} × {h:.0} mm is too small for T12 to the crests (at least 120 × 185 mm)"
        )));
    }
    if let Export::Raw(bits) = spec.export {
        if bits != 12 && bits != 16 {
            return Err(RunError::Config(format!(
                "raw exports are 12 or 16 bits, not {bits}"
            )));
        }
    }
    Ok(())
}

impl Scene {
    /// T12 to L5 down a centreline through the image's middle, the L4/L5 disc near the crests.
    fn lay_out(
        rng: &mut ChaCha8Rng,
        width_mm: f64,
        height_mm: f64,
        tilt_deg: f64,
        curve_mm: f64,
    ) -> Scene {
        let disc = rng.random_range(8.0..11.0);
        // Bodies grow taller down the spine, each level a little off the trend.
        let base = rng.random_range(22.5..26.0);
        let heights: Vec<f64> = (0..6)
            .map(|i| base + 0.6 * i as f64 + rng.random_range(-1.0..1.0))
            .collect();
        let x0 = width_mm / 2.0 + rng.random_range(-10.0..10.0);
        // The L4/L5 disc 18–26 mm above the bottom, so the crests and most of L5 show.
        let l45 = height_mm - rng.random_range(18.0..26.0);
        let tilt = tilt_deg.to_radians();
        let centre_x = |y: f64| {
            let t = (l45 - y) / 160.0;
            x0 + (y - l45) * tilt.tan() + curve_mm * (std::f64::consts::PI * t).sin()
        };
        // Bodies from L5 (index 5) up to T12 (index 0), along the line.
        let mut bodies = vec![
            Body {
                cx: 0.0,
                cy: 0.0,
                half_w: 0.0,
                half_h: 0.0,
                angle: 0.0
            };
            6
        ];
        let mut bottom = l45 + disc / 2.0 + heights[5];
        for i in (0..6).rev() {
            let (top, h) = (bottom - heights[i], heights[i]);
            let cy = top + h / 2.0;
            let slope = (centre_x(cy + 1.0) - centre_x(cy - 1.0)) / 2.0;
            bodies[i] = Body {
                cx: centre_x(cy),
                cy,
                half_w: 19.0 + 1.2 * i as f64 + rng.random_range(-1.5..1.5),
                half_h: h / 2.0,
                angle: -slope.atan(),
            };
            bottom = top - disc;
        }
        let crest_top = l45 + rng.random_range(-8.0..2.0);
        let centre = centre_x(l45);
        Scene {
            bodies,
            crest_top,
            crest_inner: (centre - 30.0, centre + 30.0),
            width_mm,
        }
    }

    /// L1..L4's outlines in mm: the quadrilateral from the disc midline above to the one
    /// below, across the body's width, turned with the body.
    fn outlines(&self) -> [[(f64, f64); 4]; 4] {
        [1, 2, 3, 4].map(|i| {
            let b = self.bodies[i];
            let (above, below) = (self.bodies[i - 1], self.bodies[i + 1]);
            let gap_up = ((b.cy - b.half_h) - (above.cy + above.half_h)) / 2.0;
            let gap_down = ((below.cy - below.half_h) - (b.cy + b.half_h)) / 2.0;
            let (top, bottom) = (-(b.half_h + gap_up), b.half_h + gap_down);
            [
                (-b.half_w, top),
                (b.half_w, top),
                (b.half_w, bottom),
                (-b.half_w, bottom),
            ]
            .map(|(u, v)| b.to_image(u, v))
        })
    }

    /// Bone density at (x, y) mm: bodies (endplates brighter), pedicles, processes, ribs and
    /// the iliac crests.
    fn bone(&self, x: f64, y: f64, texture: f64) -> f64 {
        let mut density: f64 = 0.0;
        for (i, b) in self.bodies.iter().enumerate() {
            let (u, v) = b.to_body(x, y);
            if let Some(d) = b.body_density(u, v) {
                density = density.max(d * (1.0 + 0.25 * texture));
            }
            density = density.max(b.posterior(u, v));
            if i == 0 {
                density = density.max(b.ribs(u, v));
            }
        }
        density.max(self.crest(x, y))
    }

    /// The iliac crests: thick arcs rising in the lower corners to `crest_top`.
    fn crest(&self, x: f64, y: f64) -> f64 {
        let (inner_l, inner_r) = self.crest_inner;
        let side = if x < inner_l {
            inner_l - x
        } else if x > inner_r {
            x - inner_r
        } else {
            return 0.0;
        };
        let top = self.crest_top + 0.004 * (side - 45.0).powi(2);
        let depth = y - top;
        if (0.0..6.0).contains(&depth) {
            0.85
        } else if depth >= 6.0 {
            0.5
        } else {
            0.0
        }
    }

    /// The image: soft tissue, bone with its texture, noise, exported.
    fn draw(&self, spec: &AnatomySpec, rng: &mut ChaCha8Rng) -> Phantom {
        let (rows, cols, s) = (spec.rows, spec.cols, spec.spacing_mm);
        let hurst = rng.random_range(0.3..0.6);
        let texture = normalised(fbm_surface(rows, cols, hurst, rng.random()));
        let tissue = normalised(fbm_surface(rows, cols, 0.95, rng.random()));
        let noise = rng.random_range(0.005..0.02);
        // The waist is narrower than the pelvis: soft tissue widens toward the crests.
        let waist = self.width_mm * rng.random_range(0.3..0.4);
        // Soft tissue as thick as a lean or an obese abdomen makes it.
        let thickness = rng.random_range(0.18..0.34);
        let height_mm = rows as f64 * s;
        let half_tissue = |y: f64| waist + 0.3 * self.width_mm * (y / height_mm).powi(3);
        let centre = self.bodies[3].cx;
        let mut noise_rng = ChaCha8Rng::seed_from_u64(rng.random());
        let values = (0..rows * cols)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                let (x, y) = ((c as f64 + 0.5) * s, (r as f64 + 0.5) * s);
                let soft = (x - centre).abs() < half_tissue(y);
                let attenuation = if soft {
                    thickness + 0.03 * tissue[i]
                } else {
                    0.0
                } + 0.55 * self.bone(x, y, texture[i])
                    + noise * gaussian(&mut noise_rng);
                export(spec, r, soft, attenuation)
            })
            .collect();
        let (bits_stored, style) = match spec.export {
            Export::Display => (8, Style::Display),
            Export::Raw(bits) => (bits, Style::Raw),
        };
        Phantom {
            spec: Spec {
                rows,
                cols,
                hurst,
                bits_stored,
                signed: false,
                style,
                seed: spec.seed,
            },
            values,
        }
    }
}

/// A stored value: display levels 2..=250 in even steps with the edges clipped, or raw counts.
fn export(spec: &AnatomySpec, row: usize, soft: bool, attenuation: f64) -> i32 {
    match spec.export {
        Export::Display => {
            // Off-scan fill: a band above and below.
            let (above, below) = (spec.rows / 50, spec.rows / 50);
            if row < above || row >= spec.rows - below {
                252
            } else if !soft {
                0
            } else {
                super::spine::level(attenuation)
            }
        }
        Export::Raw(bits) => {
            let max = f64::from((1u32 << bits) - 1);
            (attenuation.clamp(0.0, 1.2) / 1.2 * max).round() as i32
        }
    }
}

impl Body {
    /// Image mm → the body's own frame (u across, v down, from its centre).
    fn to_body(self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let (sin, cos) = self.angle.sin_cos();
        (dx * cos + dy * sin, -dx * sin + dy * cos)
    }

    /// The body's frame → image mm.
    fn to_image(self, u: f64, v: f64) -> (f64, f64) {
        let (sin, cos) = self.angle.sin_cos();
        (self.cx + u * cos - v * sin, self.cy + u * sin + v * cos)
    }

    /// Inside the rounded body: its density, higher within 2 mm of an endplate.
    fn body_density(&self, u: f64, v: f64) -> Option<f64> {
        // Waisted: the body narrows by 8 % at mid-height, as lumbar bodies do.
        let waist = self.half_w * (1.0 - 0.08 * (1.0 - (v / self.half_h).powi(2)));
        let r = 4.0;
        let (du, dv) = (
            (u.abs() - (waist - r)).max(0.0),
            (v.abs() - (self.half_h - r)).max(0.0),
        );
        if u.abs() > waist || v.abs() > self.half_h || du * du + dv * dv > r * r {
            return None;
        }
        let endplate = self.half_h - v.abs() < 2.0;
        Some(if endplate { 1.0 } else { 0.8 })
    }

    /// Pedicle rings, the spinous process and the transverse processes, behind the body.
    fn posterior(&self, u: f64, v: f64) -> f64 {
        let mut d: f64 = 0.0;
        for side in [-1.0, 1.0] {
            let (pu, pv) = (u - side * 0.55 * self.half_w, v + 0.45 * self.half_h);
            let ring = ((pu / 5.0).powi(2) + (pv / 6.5).powi(2)).sqrt();
            if (0.7..1.0).contains(&ring) {
                d = d.max(0.95);
            }
            let transverse = (v + 0.35 * self.half_h).abs() < 3.5
                && (u * side) > self.half_w * 0.8
                && (u * side) < self.half_w + 14.0;
            if transverse {
                d = d.max(0.6);
            }
        }
        // The spinous process: a teardrop on the midline, lower half, often saturated.
        let (su, sv) = (u, v - 0.35 * self.half_h);
        let width = 4.0 * (1.0 - (sv / (0.7 * self.half_h)).powi(2)).max(0.0).sqrt();
        if su.abs() < width && sv.abs() < 0.7 * self.half_h {
            d = d.max(1.15);
        }
        d
    }

    /// T12's ribs: bands leaving the body sideways and downward.
    fn ribs(&self, u: f64, v: f64) -> f64 {
        let reach = u.abs() - self.half_w;
        if !(0.0..60.0).contains(&reach) {
            return 0.0;
        }
        let centre = -0.2 * self.half_h + 0.45 * reach;
        if (v - centre).abs() < 4.5 {
            0.55
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests;
