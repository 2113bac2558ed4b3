//! Down the midline: the dark disc bands between the brighter bodies, the iliac crests' level in
//! the lower corners, and which five discs bound L1–L4 — the one nearest the crests is L4/L5,
//! the four above it bound L4, L3, L2 and L1.

use super::midline::Midline;
use super::work::Work;

/// A disc found along the midline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Disc {
    /// The row of the disc's middle on the midline, work pixels (sub-pixel).
    pub y: f64,
    /// How much darker than the bodies either side, graded units.
    pub depth: f64,
}

/// The profile down the spine: for each row of the midline, the mean of two strips across it
/// beside the midline, clear of the spinous process and inside any body.
pub(super) struct Profile {
    pub first_row: usize,
    pub values: Vec<f64>,
}

/// The strips' distance from the midline, mm, and how far apart their samples are.
const STRIP_MM: (f64, f64) = (5.0, 14.0);
const STRIP_STEP_MM: f64 = 1.0;

impl Profile {
    pub fn along(work: &Work, line: &Midline) -> Profile {
        let (near, far) = (work.px(STRIP_MM.0), work.px(STRIP_MM.1));
        let step = work.px(STRIP_STEP_MM).max(1.0);
        let raw: Vec<f64> = (line.first_row..=line.last_row)
            .map(|r| {
                let y = r as f64 + 0.5;
                let across = line.across(y);
                let (mut sum, mut n) = (0.0, 0);
                let mut t = near;
                while t <= far {
                    for d in [-t, t] {
                        let (x, y) = across.point(d);
                        let v = work.at(x, y);
                        if !v.is_nan() {
                            sum += f64::from(v);
                            n += 1;
                        }
                    }
                    t += step;
                }
                if n == 0 {
                    f64::NAN
                } else {
                    sum / f64::from(n)
                }
            })
            .collect();
        Profile {
            first_row: line.first_row,
            values: smooth(&raw, work.px(1.5)),
        }
    }

    /// The smoothed profile at sample `i`.
    fn at(&self, i: usize) -> f64 {
        self.values[i]
    }

    /// Every dark band: a minimum over ±12 mm, with its depth below the brighter of the lower
    /// of the two maxima within 25 mm either side, and its middle at half that depth.
    pub fn discs(&self, work: &Work) -> Vec<Disc> {
        let v = &self.values;
        let (window, reach) = (work.px(12.0) as usize, work.px(25.0) as usize);
        let edge = work.px(4.0) as usize;
        let mut found = Vec::new();
        for i in edge..v.len().saturating_sub(edge) {
            let lo = i.saturating_sub(window);
            let hi = (i + window + 1).min(v.len());
            if v[i].is_nan() || v[lo..hi].iter().any(|&w| w < v[i]) {
                continue;
            }
            let left = max_of(&v[i.saturating_sub(reach)..=i]);
            let right = max_of(&v[i..(i + reach + 1).min(v.len())]);
            // A band near the end of the image, with less than a body beyond it, is measured
            // against the side that has one.
            let depth = match (i < reach, i + reach >= v.len()) {
                (true, false) => right,
                (false, true) => left,
                _ => left.min(right),
            } - v[i];
            if depth > 0.0 {
                found.push(Disc {
                    y: self.first_row as f64 + self.middle(i, v[i] + depth / 2.0),
                    depth,
                });
            }
        }
        found
    }

    /// Where the band around minimum `i` crosses `level` on either side, midway, + 0.5 for the
    /// row's centre.
    fn middle(&self, i: usize, level: f64) -> f64 {
        let crossing = |step: isize| {
            let mut j = i as isize;
            loop {
                let k = j + step;
                if k < 0 || k as usize >= self.values.len() || self.values[k as usize].is_nan() {
                    return j as f64;
                }
                let (a, b) = (self.at(j as usize), self.at(k as usize));
                if b >= level {
                    let f = if b > a { (level - a) / (b - a) } else { 0.0 };
                    return j as f64 + f * step as f64;
                }
                j = k;
            }
        };
        (crossing(-1) + crossing(1)) / 2.0 + 0.5
    }
}

fn max_of(v: &[f64]) -> f64 {
    v.iter()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Gaussian smoothing of width `sigma` samples; NaN samples are left out of every mean (and
/// stay NaN).
pub(super) fn smooth(v: &[f64], sigma: f64) -> Vec<f64> {
    smooth_columns(v, 1, sigma)
}

/// [`smooth`] down each column of a grid `width` wide stored row by row: the taps are whole
/// rows apart, so the columns are summed side by side. Values and weights of samples with
/// data are summed tap by tap over the whole grid, so the loops have no branches.
fn smooth_columns(v: &[f64], width: usize, sigma: f64) -> Vec<f64> {
    let reach = reach(sigma) * width;
    // The samples with data and their weights, zero beyond the ends and where NaN.
    let (mut values, mut data) = (
        vec![0.0; v.len() + 2 * reach],
        vec![0.0; v.len() + 2 * reach],
    );
    let padded = values[reach..].iter_mut().zip(&mut data[reach..]);
    for ((value, weight), &x) in padded.zip(v).filter(|(_, x)| !x.is_nan()) {
        (*value, *weight) = (x, 1.0);
    }
    let taps: Vec<(usize, f64)> = (0..=2 * reach)
        .step_by(width.max(1))
        .map(|k| {
            let d = (k as f64 - reach as f64) / width.max(1) as f64;
            (k, (-(d * d) / (2.0 * sigma * sigma)).exp())
        })
        .collect();
    let (mut sum, mut total) = (vec![0.0; v.len()], vec![0.0; v.len()]);
    for &(k, w) in &taps {
        let read = values[k..].iter().zip(&data[k..]);
        for ((s, t), (&x, &n)) in sum.iter_mut().zip(total.iter_mut()).zip(read) {
            *s += w * x;
            *t += w * n;
        }
    }
    v.iter()
        .zip(sum.iter().zip(&total))
        .map(|(&x, (&s, &t))| {
            if x.is_nan() || t == 0.0 {
                f64::NAN
            } else {
                s / t
            }
        })
        .collect()
}

/// How many samples either side a smoothing of width `sigma` reads.
fn reach(sigma: f64) -> usize {
    (3.0 * sigma).ceil() as usize
}

/// The iliac crests' level: on each side, in bands 35–85 mm from the midline, the row where
/// going down the image soft tissue turns to bone (the largest step up in the lower part of
/// the spine's rows), taken where it is highest. `None` for a side with no such step.
pub(super) struct Crests {
    pub left: Option<f64>,
    pub right: Option<f64>,
}

impl Crests {
    pub fn find(work: &Work, line: &Midline) -> Crests {
        let side = |sign: f64| crest_side(work, line, sign);
        Crests {
            left: side(-1.0),
            right: side(1.0),
        }
    }

    /// The same rows in the coordinates of an image `k` times finer.
    pub fn finer(self, k: usize) -> Crests {
        let scale = |r: Option<f64>| r.map(|r| (r + 0.5) * k as f64);
        Crests {
            left: scale(self.left),
            right: scale(self.right),
        }
    }

    /// The crests' level: both sides' mean, or the one side found.
    pub fn level(&self) -> Option<f64> {
        match (self.left, self.right) {
            (Some(a), Some(b)) => Some((a + b) / 2.0),
            (a, b) => a.or(b),
        }
    }
}

/// Bands from the midline searched for the crests, mm.
const CREST_BAND_MM: (f64, f64) = (35.0, 85.0);

/// The smallest step, graded units, that counts as bone beginning.
const CREST_STEP: f64 = 0.08;

fn crest_side(work: &Work, line: &Midline, sign: f64) -> Option<f64> {
    let (near, far) = (work.px(CREST_BAND_MM.0), work.px(CREST_BAND_MM.1));
    let offsets: Vec<f64> = std::iter::successors(Some(near), |t| Some(t + 2.0))
        .take_while(|&t| t <= far)
        .collect();
    let window = work.px(5.0).max(2.0) as usize;
    let sigma = work.px(1.5);
    // The search runs over the lower 65 % of the spine's rows; the rows above it that its
    // first window and that window's smoothing read are sampled too, the rest are not.
    let from = ((line.last_row + 1 - line.first_row) * 35 / 100).max(window);
    let skipped = from.saturating_sub(window + reach(sigma));
    let first = line.first_row + skipped;
    // Row by row, the samples at every offset: each column of the grid is one band.
    let mut grid = Vec::with_capacity((line.last_row + 1 - first) * offsets.len());
    for r in first..=line.last_row {
        let (centre, row) = (line.x(r as f64 + 0.5), work.on_row(r as isize));
        grid.extend(offsets.iter().map(|t| f64::from(row.at(centre + sign * t))));
    }
    let grid = smooth_columns(&grid, offsets.len(), sigma);
    let mut found: Vec<f64> = (0..offsets.len())
        .filter_map(|k| {
            let column: Vec<f64> = grid
                .iter()
                .skip(k)
                .step_by(offsets.len())
                .copied()
                .collect();
            largest_step(&column, from - skipped, window).map(|i| (first + i) as f64)
        })
        .collect();
    if found.len() * 4 < offsets.len() {
        return None;
    }
    found.sort_by(f64::total_cmp);
    Some(found[found.len() / 4])
}

/// The sample at or after `from` where the mean of the `window` samples from it most exceeds
/// the mean of the `window` before it, by more than [`CREST_STEP`]; windows holding a NaN are
/// passed over. Prefix sums, so each sample costs the same whatever the window.
fn largest_step(column: &[f64], from: usize, window: usize) -> Option<usize> {
    let mut sums = Vec::with_capacity(column.len() + 1);
    let mut gaps = Vec::with_capacity(column.len() + 1);
    let (mut sum, mut gap) = (0.0, 0u32);
    sums.push(sum);
    gaps.push(gap);
    for &v in column {
        sum += if v.is_nan() { 0.0 } else { v };
        gap += u32::from(v.is_nan());
        sums.push(sum);
        gaps.push(gap);
    }
    let w = window as f64;
    let mut best: Option<(f64, usize)> = None;
    for i in from.max(window)..column.len().saturating_sub(window) {
        if gaps[i + window] != gaps[i - window] {
            continue;
        }
        let step = ((sums[i + window] - sums[i]) - (sums[i] - sums[i - window])) / w;
        if step > CREST_STEP && best.is_none_or(|(s, _)| step > s) {
            best = Some((step, i));
        }
    }
    best.map(|(_, i)| i)
}

/// The five discs bounding L1–L4, top (T12/L1) to bottom (L4/L5): L4/L5 is the disc nearest
/// the crests' level, each one above is the deepest within a quarter of the spine's pitch of
/// where it should be. Also the pitch. `Err` with how many were found.
pub(super) fn bounding(discs: &[Disc], crest: f64, work: &Work) -> Result<Labelled, usize> {
    let pitch = pitch(discs, work);
    let strong = strong(discs);
    let anchor = strong
        .iter()
        .copied()
        .filter(|d| (d.y - crest).abs() < 0.6 * pitch)
        .min_by(|a, b| (a.y - crest).abs().total_cmp(&(b.y - crest).abs()))
        .ok_or(0usize)?;
    let mut chain = vec![anchor];
    while chain.len() < 5 {
        let last = chain[chain.len() - 1];
        let next = strong
            .iter()
            .copied()
            .filter(|d| {
                let gap = last.y - d.y;
                gap > 0.72 * pitch && gap < 1.3 * pitch
            })
            .max_by(|a, b| a.depth.total_cmp(&b.depth));
        match next {
            Some(d) => chain.push(d),
            None => return Err(chain.len()),
        }
    }
    chain.reverse();
    Ok(Labelled {
        discs: [chain[0], chain[1], chain[2], chain[3], chain[4]],
        pitch,
        crest_offset: (anchor.y - crest) / pitch,
    })
}

/// The five discs, top to bottom, and what the labelling rests on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Labelled {
    pub discs: [Disc; 5],
    /// The spine's pitch (one body and disc), work pixels.
    pub pitch: f64,
    /// How far the L4/L5 disc lies from the crests' level, in pitches.
    pub crest_offset: f64,
}

/// The bands deep enough to be discs: at least a quarter of the typical deep band's depth.
fn strong(discs: &[Disc]) -> Vec<Disc> {
    let mut depths: Vec<f64> = discs.iter().map(|d| d.depth).collect();
    depths.sort_by(|a, b| b.total_cmp(a));
    let typical = depths.get(depths.len().min(5) / 2).copied().unwrap_or(0.0);
    discs
        .iter()
        .copied()
        .filter(|d| d.depth >= typical / 4.0)
        .collect()
}

/// The median gap between neighbouring deep bands that is a plausible pitch (25–55 mm), else
/// 38 mm.
fn pitch(discs: &[Disc], work: &Work) -> f64 {
    let strong = strong(discs);
    let (lo, hi) = (work.px(25.0), work.px(55.0));
    let mut gaps: Vec<f64> = strong
        .windows(2)
        .map(|w| w[1].y - w[0].y)
        .filter(|g| (lo..hi).contains(g))
        .collect();
    gaps.sort_by(f64::total_cmp);
    gaps.get(gaps.len() / 2).copied().unwrap_or(work.px(38.0))
}
