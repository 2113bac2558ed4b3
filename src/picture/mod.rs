//! Pictures for people: a QC sheet per frame ([`qc`]) and the cohort report ([`report`]).
//!
//! Both draw with plotters. Text uses DejaVu Sans from the `dejavu` crate, registered once, so a
//! picture looks the same on every machine and needs no system fonts; drawing never depends on
//! the engine, so either engine's results give the same bytes.

pub mod qc;
pub mod report;

use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor};

/// A drawing, or why it could not be drawn: the sheet's caller makes that a warning, the
/// report's a run error.
pub type Drawn<T> = std::result::Result<T, String>;

/// The font family every picture names.
pub const FONT: &str = "sans-serif";

/// Region colours, in sidecar order: distinct on gray images and on white.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(230, 25, 75),
    RGBColor(245, 130, 48),
    RGBColor(60, 180, 75),
    RGBColor(0, 130, 200),
    RGBColor(145, 30, 180),
    RGBColor(240, 50, 230),
    RGBColor(70, 200, 200),
    RGBColor(170, 110, 40),
];

/// The colour of the pooled `L1-L4` curve, which has no outline of its own.
pub const POOLED: RGBColor = RGBColor(0, 0, 0);

/// Registers the bundled font for plotters; every drawing function calls this first.
pub fn fonts() -> Drawn<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the bundled font cannot be read".into())
    }
}

/// A plotters failure as our error: drawing into memory fails only on a font problem.
pub fn drawing<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Encodes 8-bit RGB pixels as PNG, at zlib level 1: on a sheet of image texture that is half
/// the size of the encoder's `Fast` mode in about the same time, and a quarter larger than
/// `Best` in a small fraction of its time (BENCHMARKS.md).
pub fn png(width: u32, height: u32, rgb: &[u8]) -> Drawn<Vec<u8>> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Level(1), FilterType::Adaptive)
        .write_image(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| format!("PNG encoding: {e}"))?;
    Ok(out)
}

/// Cuts a one-line text to `max` characters, with an ellipsis, so a long path or error message
/// cannot run off a picture.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_short_text_and_marks_cut_text() {
        assert_eq!(clip("L1", 10), "L1");
        assert_eq!(clip("abcdefghijkl", 5), "abcd…");
        assert_eq!(clip("abcdefghijkl", 5).chars().count(), 5);
    }

    #[test]
    fn png_round_trips_its_pixels() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let bytes = png(4, 3, &rgb).unwrap();
        let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (4, 3));
        assert_eq!(back.into_raw(), rgb);
    }
}
