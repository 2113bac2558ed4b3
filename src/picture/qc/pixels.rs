//! The image panel's pixels: the stored frame windowed to gray levels, the left-out extreme
//! values tinted, scaled by nearest neighbour so what is seen is what was summed.

use image::{imageops, Rgb, RgbImage};

use super::{Sheet, EXCLUDED, IMAGE_BOX, WINDOW_TAIL};
use crate::decode::Histogram;

/// The frame windowed to 8 bits, extremes tinted, scaled by nearest neighbour to fit its panel.
pub(super) fn shown_image(sheet: &Sheet) -> RgbImage {
    let f = sheet.frame;
    let levels = display_levels(&f.pixels, sheet.inverted);
    let tinted = RgbImage::from_fn(f.cols as u32, f.rows as u32, |x, y| {
        let i = y as usize * f.cols + x as usize;
        match sheet.excluded {
            Some((lo, hi)) if f.pixels[i] == lo || f.pixels[i] == hi => EXCLUDED,
            _ => Rgb([levels[i]; 3]),
        }
    });
    let scale = (f64::from(IMAGE_BOX.0) / f.cols.max(1) as f64)
        .min(f64::from(IMAGE_BOX.1) / f.rows.max(1) as f64);
    let size = |n: usize| ((n as f64 * scale).round() as u32).max(1);
    let (width, height) = (size(f.cols), size(f.rows));
    // Each shown pixel takes the stored pixel under its centre. (`resize` with its nearest
    // filter gives the same picture through a general resampler, several times slower.)
    RgbImage::from_fn(width, height, |x, y| {
        let u = (x as f32 + 0.5) / width as f32;
        let v = (y as f32 + 0.5) / height as f32;
        imageops::sample_nearest(&tinted, u, v).unwrap_or(EXCLUDED)
    })
}

/// Maps stored values to gray levels through a window from the 0.5th to the 99.5th percentile
/// of the frame's values: integer arithmetic, so the same frame always looks the same.
pub fn display_levels(pixels: &[u16], inverted: bool) -> Vec<u8> {
    let counts = Histogram::of(pixels.iter().copied());
    let n = counts.total();
    let tail = (n as f64 * WINDOW_TAIL) as u64;
    let at_rank = |rank: u64| u64::from(counts.at_rank(rank));
    let lo = at_rank(tail);
    let hi = at_rank(n.saturating_sub(tail + 1)).max(lo + 1);
    pixels
        .iter()
        .map(|&p| {
            let level = ((u64::from(p).clamp(lo, hi) - lo) * 255 + (hi - lo) / 2) / (hi - lo);
            let level = level as u8;
            if inverted {
                255 - level
            } else {
                level
            }
        })
        .collect()
}
