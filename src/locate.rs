//! Stage 3a: L1–L4 found on the image itself (`--roi auto`), for AP spines with no sidecar line.
//!
//! A heuristic on the pixels, not the scanner's BMD analysis. The image is graded (1st–99th
//! percentile to 0–1, MONOCHROME1 inverted) and blocked to about 0.5 mm ([`work`]); the
//! spine's midline is the brightest body-wide band running down it ([`midline`]); down the
//! midline the discs are the dark bands between bodies, and the iliac crests' level is where
//! soft tissue turns to bone in the lower corners ([`levels`]); the disc nearest the crests is
//! L4/L5 and the four above bound L4 … L1, which T12's ribs confirm where visible; each body
//! is outlined disc midline to disc midline across its measured width ([`outline`]).
//!
//! What it finds comes with a quality from 0 to 1, the product of how clear each step was;
//! below [`REVIEW_BELOW`] the frame is flagged for review. Where a step fails — no spine, no
//! crests, fewer than five discs — the frame gets error rows that say which.

mod levels;
mod midline;
mod outline;
mod work;

use crate::decode::Frame;
use levels::{Crests, Labelled, Profile};
use midline::Midline;
use work::{Work, COARSE};

/// The locator's version, recorded in the manifest: a resumed run must locate as the first did.
/// Raised whenever any frame's regions change: 2 when the sampling was made cheaper (profile
/// and rib samples every millimetre, row searches read linearly).
pub const VERSION: &str = "2";

/// The pooled row of the located vertebrae, which carries the frame's quality once.
pub const POOLED: &str = "L1-L4";

/// The vertebrae located, top to bottom.
pub const LABELS: [&str; 4] = ["L1", "L2", "L3", "L4"];

/// A location whose quality is below this is scored but flagged for review.
pub const REVIEW_BELOW: f64 = 0.5;

/// The pixel spacing assumed when the header gives none: GE iDXA's, about 0.25 mm.
pub const ASSUMED_SPACING_MM: f64 = 0.25;

/// L1–L4 as located, in image coordinates (pixel (c, r) covers [c, c + 1) × [r, r + 1)).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// L1..L4's outlines: top-left, top-right, bottom-right, bottom-left.
    pub vertebrae: [Vec<(f64, f64)>; 4],
    /// The five disc midlines bounding them (T12/L1 … L4/L5), each as its two ends.
    pub discs: [((f64, f64), (f64, f64)); 5],
    /// The crests' level as a line across the image, its two ends.
    pub crests: ((f64, f64), (f64, f64)),
    /// 0–1: how clear the discs, their spacing, the crests and the labels were.
    pub quality: f64,
}

impl Location {
    /// Whether the location is below the review threshold.
    pub fn flagged(&self) -> bool {
        self.quality < REVIEW_BELOW
    }
}

/// Finds L1–L4 on `frame`, whose smallest and largest stored values ([`region::extremes`],
/// computed once per frame) are `no_data`: a display export's clipped background and fill.
/// `spacing` is (row, column) mm, `inverted` for MONOCHROME1. `Err` says which step failed.
///
/// [`region::extremes`]: crate::region::extremes
pub fn locate(
    frame: &Frame,
    no_data: (u16, u16),
    spacing: Option<(f64, f64)>,
    inverted: bool,
) -> Result<Location, String> {
    let mm = spacing.map_or(ASSUMED_SPACING_MM, |(r, c)| (r + c) / 2.0);
    let (tall, wide) = (frame.rows as f64 * mm, frame.cols as f64 * mm);
    if tall < 120.0 || wide < 80.0 {
        return Err(format!(
            "the image is {wide:.0} × {tall:.0} mm, too small to hold L1-L4 and the iliac crests"
        ));
    }
    // The searches on a coarse image (about 1 mm), the measurements on the fine one (0.5 mm).
    let work = Work::new(frame, no_data, mm, inverted);
    let coarse = work.coarser();
    let rough = Midline::find(&coarse)
        .filter(|l| l.contrast > MIN_RIDGE)
        .ok_or("no spine found: no body-wide band brighter than beside it runs down the image")?;
    let crests = Crests::find(&coarse, &rough).finer(COARSE);
    let line = rough.finer(COARSE);
    let profile = Profile::along(&work, &line);
    let discs = profile.discs(&work);
    let crest = crests
        .level()
        .ok_or("iliac crests not found: no step from soft tissue to bone in the lower corners")?;
    let labelled = levels::bounding(&discs, crest, &work).map_err(|found| {
        let row = (crest * work.block as f64).round();
        match found {
            0 => format!("no disc near the iliac crests' level (row {row}) to be L4/L5"),
            n => format!(
                "found {n} of the 5 discs bounding L1-L4 above the crests' level (row {row})"
            ),
        }
    })?;
    Ok(outline_all(&work, &line, &crests, &labelled, frame))
}

/// The path's least mean contrast, graded units, for it to be a spine.
const MIN_RIDGE: f64 = 0.04;

/// The outlines, disc lines and crest line in image coordinates, and the quality.
fn outline_all(
    work: &Work,
    line: &Midline,
    crests: &Crests,
    labelled: &Labelled,
    frame: &Frame,
) -> Location {
    let d = labelled.discs;
    let rows: Vec<f64> = d.iter().map(|disc| disc.y).collect();
    let bodies = outline::bodies(work, line, &rows);
    let widest = bodies.iter().map(|b| b.half_width).fold(0.0, f64::max);
    let ribs = outline::ribs_at_t12(work, line, d[0].y, d[1].y, bodies[0].half_width);
    let scale = work.block as f64;
    let image = |(x, y): (f64, f64)| {
        (
            (x * scale).clamp(0.0, frame.cols as f64),
            (y * scale).clamp(0.0, frame.rows as f64),
        )
    };
    // A disc's line: the end of the body above it and the body below, averaged, drawn a
    // little wider than the widest body.
    let ends = |i: usize| {
        let above = i
            .checked_sub(1)
            .map(|b| (bodies[b].corners[3], bodies[b].corners[2]));
        let below = bodies.get(i).map(|b| (b.corners[0], b.corners[1]));
        let ((l0, r0), (l1, r1)) = match (above, below) {
            (Some(a), Some(b)) => (a, b),
            (Some(a), None) => (a, a),
            (None, b) => (b.unwrap_or_default(), b.unwrap_or_default()),
        };
        let mid = |a: (f64, f64), b: (f64, f64)| ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let (left, right) = (mid(l0, l1), mid(r0, r1));
        let centre = mid(left, right);
        let stretch = |p: (f64, f64)| {
            let (dx, dy) = (p.0 - centre.0, p.1 - centre.1);
            let reach = widest * 1.3 / (dx * dx + dy * dy).sqrt().max(1e-9);
            image((centre.0 + dx * reach, centre.1 + dy * reach))
        };
        (stretch(left), stretch(right))
    };
    let crest_line = {
        let y = crests.level().unwrap_or(0.0);
        let reach = work.px(85.0);
        (
            image((line.x(y) - reach, crests.left.unwrap_or(y))),
            image((line.x(y) + reach, crests.right.unwrap_or(y))),
        )
    };
    Location {
        vertebrae: [0, 1, 2, 3].map(|i| bodies[i].corners.iter().map(|&p| image(p)).collect()),
        discs: [0, 1, 2, 3, 4].map(ends),
        crests: crest_line,
        quality: quality(work, crests, labelled, &bodies, ribs),
    }
}

/// The product of each step's clarity, to three decimals.
fn quality(
    work: &Work,
    crests: &Crests,
    labelled: &Labelled,
    bodies: &[outline::Body],
    ribs: Option<bool>,
) -> f64 {
    // 1 up to `good`, falling linearly to 0 at `bad`.
    let ramp = |x: f64, good: f64, bad: f64| ((bad - x) / (bad - good)).clamp(0.0, 1.0);
    let depths: Vec<f64> = labelled.discs.iter().map(|d| d.depth).collect();
    let weakest = depths.iter().copied().fold(f64::INFINITY, f64::min);
    let typical = median(depths);
    // The weakest disc at least half as deep as the typical one.
    let discs = (2.0 * weakest / typical.max(1e-9)).clamp(0.0, 1.0);
    let heights: Vec<f64> = labelled.discs.windows(2).map(|w| w[1].y - w[0].y).collect();
    let usual = median(heights.clone());
    let irregular = heights
        .iter()
        .map(|h| (h / usual).ln().abs())
        .fold(0.0, f64::max);
    let spacing = ramp(irregular, 0.12, 0.35);
    let sides = match (crests.left, crests.right) {
        (Some(a), Some(b)) => ramp((a - b).abs() / labelled.pitch, 0.3, 0.8),
        _ => 0.7,
    };
    // L4/L5 within 0.3 pitch of the crests: sure; at 0.6, as near L3/L4 or L5/S1.
    let labels = 0.5 + 0.5 * ramp(labelled.crest_offset.abs(), 0.3, 0.6);
    let rib_check = match ribs {
        Some(true) => 1.0,
        None => 0.85,
        Some(false) => 0.6,
    };
    let shapes = if bodies.iter().all(|b| {
        (work.px(12.0)..work.px(32.0)).contains(&b.half_width) && b.off_centre.abs() < work.px(8.0)
    }) {
        1.0
    } else {
        0.5
    };
    let q = discs * spacing * sides * labels * rib_check * shapes;
    (q * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
