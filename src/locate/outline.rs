//! Each vertebra's outline: from the midline of the disc above to that of the disc below,
//! across the body's width as measured near its endplates (clear of the transverse processes),
//! each disc line square to the spine where it crosses it — as BMD analysis boxes are drawn.

use super::levels::smooth;
use super::midline::{polynomial, Midline};
use super::work::Work;

/// A vertebra as located, in work coordinates.
#[derive(Debug, Clone)]
pub(super) struct Body {
    /// Top-left, top-right, bottom-right, bottom-left.
    pub corners: [(f64, f64); 4],
    /// Half the body's width, work pixels, and how far its centre lay off the midline.
    pub half_width: f64,
    pub off_centre: f64,
}

/// Where a body's width is read: these shares of its disc-to-disc height, near the lower
/// endplate, below the transverse processes (which leave the upper half).
const WIDTH_ROWS: (f64, f64) = (0.66, 0.82);

/// How far across the profile reaches, mm.
const REACH_MM: f64 = 45.0;

/// The bodies between consecutive discs (rows of the midline, top to bottom): each a rectangle
/// along the spine's axis through the bodies' measured centres, its ends square to that axis
/// where it meets the discs, across its measured width.
pub(super) fn bodies(work: &Work, line: &Midline, discs: &[f64]) -> Vec<Body> {
    let measured: Vec<((f64, f64), Edges)> = discs
        .windows(2)
        .map(|d| {
            let height = d[1] - d[0];
            let band = |&(a, b): &(f64, f64)| {
                let (from, to) = (d[0] + a * height, d[0] + b * height);
                let y = (from + to) / 2.0;
                let e = edges(work, line, from, to);
                ((line.x(y) + e.centre, y), e)
            };
            band(&WIDTH_ROWS)
        })
        .collect();
    let centres: Vec<(f64, f64)> = measured.iter().map(|(c, _)| *c).collect();
    let axis = Axis::through(&centres);
    measured
        .iter()
        .zip(discs.windows(2))
        .map(|((centre, e), d)| {
            let (ax, ay) = axis.direction((d[0] + d[1]) / 2.0);
            // Read along rows; square to the axis it is narrower by cos θ = ay.
            let half_width = e.half * ay;
            let on_axis = |y: f64| (centre.0 + (y - centre.1) * ax / ay, y);
            let (t, b) = (on_axis(d[0]), on_axis(d[1]));
            let (nx, ny) = (ay * half_width, -ax * half_width);
            Body {
                corners: [
                    (t.0 - nx, t.1 - ny),
                    (t.0 + nx, t.1 + ny),
                    (b.0 + nx, b.1 + ny),
                    (b.0 - nx, b.1 - ny),
                ],
                half_width,
                off_centre: e.centre,
            }
        })
        .collect()
}

/// The spine's axis through the bodies' centres: x as a quadratic in y (a line through fewer
/// than three), least squares.
struct Axis {
    /// dx/dy = b + 2c·(y − y0).
    b: f64,
    c: f64,
    y0: f64,
}

impl Axis {
    fn through(points: &[(f64, f64)]) -> Axis {
        let n = points.len().max(1) as f64;
        let y0 = points.iter().map(|p| p.1).sum::<f64>() / n;
        let centred: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (y - y0, x)).collect();
        let degree = points.len().clamp(1, 3) - 1;
        let k = polynomial(&centred, degree).unwrap_or_default();
        Axis {
            b: k.get(1).copied().unwrap_or(0.0),
            c: k.get(2).copied().unwrap_or(0.0),
            y0,
        }
    }

    /// The unit vector down the axis at row y.
    fn direction(&self, y: f64) -> (f64, f64) {
        let slope = self.b + 2.0 * self.c * (y - self.y0);
        let n = (1.0 + slope * slope).sqrt();
        (slope / n, 1.0 / n)
    }
}

/// A body's edges across the spine: its centre's offset from the midline and half its width.
struct Edges {
    centre: f64,
    half: f64,
}

/// The mean profile along image rows `from..to`, centred on the midline, and where it falls
/// a third of the way from the level beside the body to the body's own (its median), on each
/// side. Along rows rather than square to the midline, so an error in the midline's slope
/// cannot tip the profile into a transverse process.
fn edges(work: &Work, line: &Midline, from: f64, to: f64) -> Edges {
    let reach = work.px(REACH_MM).round() as isize;
    let rows = from.floor() as isize..=to.ceil() as isize;
    let mut profile = vec![0.0; (2 * reach + 1) as usize];
    for r in rows.clone() {
        let (centre, row) = (line.x(r as f64 + 0.5), work.on_row(r));
        for (p, t) in profile.iter_mut().zip(-reach..) {
            let v = row.at(centre + t as f64);
            // Without data beside the body is the dark clipped background.
            *p += if v.is_nan() { 0.0 } else { f64::from(v) };
        }
    }
    let n = rows.count().max(1) as f64;
    for p in &mut profile {
        *p /= n;
    }
    let profile = smooth(&profile, work.px(0.6));
    let value = |t: isize| profile[(t + reach) as usize];
    let core = work.px(12.0) as isize;
    let mut middle: Vec<f64> = (-core..=core).map(value).collect();
    middle.sort_by(f64::total_cmp);
    let body_level = middle[middle.len() / 2];
    let inner = work.px(3.0) as isize;
    let side = |sign: isize| {
        let beside = work.px(38.0) as isize;
        let level =
            (beside..=reach).map(|t| value(sign * t)).sum::<f64>() / (reach - beside + 1) as f64;
        let edge = level + EDGE_SHARE * (body_level - level);
        let mut t = inner;
        while t < reach && value(sign * t) >= edge {
            t += 1;
        }
        // The steepest fall near that crossing is the edge, whatever the levels; the box
        // reaches on to its foot, where the fall is nearly done, so it holds the whole body.
        let (from, to) = (
            (t - work.px(3.0) as isize).max(inner),
            (t + work.px(1.5) as isize).min(reach - 2),
        );
        let fall = |t: isize| value(sign * t) - value(sign * (t + 1));
        let steepest = (from..=to)
            .max_by(|&a, &b| fall(a).total_cmp(&fall(b)))
            .unwrap_or(t);
        let foot = level + FOOT_SHARE * (value(sign * steepest) - level);
        // Never further than a blurred edge's foot can be: whatever lies beyond is not body.
        let limit = (steepest + work.px(FOOT_MM).ceil() as isize).min(reach);
        let mut t = steepest + 1;
        while t < limit && value(sign * t) > foot {
            t += 1;
        }
        let (a, b) = (value(sign * (t - 1)), value(sign * t));
        let f = if a > b {
            ((a - foot) / (a - b)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        sign as f64 * ((t - 1) as f64 + f + 0.5)
    };
    let (left, right) = (side(-1), side(1));
    Edges {
        centre: (left + right) / 2.0,
        half: (right - left) / 2.0,
    }
}

/// How near the level beside the body its edge's foot is: a tenth of the fall left; and the
/// farthest, mm, it may lie beyond the steepest fall.
const FOOT_SHARE: f64 = 0.1;
const FOOT_MM: f64 = 2.0;

/// Where between the level beside a body and its own its edge is read: low, because a body's
/// density varies across it more than the step at its edge blurs.
const EDGE_SHARE: f64 = 0.35;

/// Whether ribs leave the vertebra above L1 (T12) rather than L1: the mean level in bands
/// beside each body's middle half. `None` when T12 is not in the image.
pub(super) fn ribs_at_t12(
    work: &Work,
    line: &Midline,
    t12_l1: f64,
    l1_l2: f64,
    half_width: f64,
) -> Option<bool> {
    let pitch = l1_l2 - t12_l1;
    let t12_mid = t12_l1 - pitch / 2.0;
    if t12_mid - pitch / 4.0 < line.first_row as f64 {
        return None;
    }
    // Sampled every millimetre: a mean level, not an edge.
    let step = work.px(1.0).max(1.0);
    let beside = |mid: f64| {
        let (near, far) = (half_width + work.px(8.0), half_width + work.px(35.0));
        let (mut sum, mut n) = (0.0, 0);
        let mut y = mid - pitch / 4.0;
        while y <= mid + pitch / 4.0 {
            let across = line.across(y);
            let mut t = near;
            while t <= far {
                for d in [-t, t] {
                    let (x, y) = across.point(d);
                    let v = work.at(x, y);
                    sum += if v.is_nan() { 0.0 } else { f64::from(v) };
                    n += 1;
                }
                t += step;
            }
            y += step;
        }
        sum / f64::from(n.max(1))
    };
    let l1_mid = (t12_l1 + l1_l2) / 2.0;
    Some(beside(t12_mid) - beside(l1_mid) > 0.03)
}
