//! `--qc DIR`: one PNG per frame — the image with its regions outlined and labelled, beside
//! the log-log variogram with the fitted lags, the fitted line, TBS and R².
//!
//! The sheet is drawn from what the results rows say (the sums, the fit) and from the stored
//! pixels, never from the engine, so both engines give the same bytes. Pixels are shown as
//! stored, enlarged or reduced by nearest neighbour, so what is seen is what was summed.

mod chart;
mod outline;
mod pixels;
mod sheets;

pub use pixels::display_levels;
pub use sheets::Sheets;

use std::path::{Component, Path, PathBuf};

use image::{imageops, Rgb, RgbImage};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{clip, drawing, fonts, png, Drawn, FONT};
use crate::decode::Frame;
use crate::engine::Variogram;
use crate::error::{FileError, FileResult};
use crate::fit::{self, Fit, FitRange};
use crate::region::Shape;
use chart::variogram_chart;
use outline::{draw_guide, draw_outline};
use pixels::shown_image;

/// The sheet's size in pixels.
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 640;
/// Where the image panel starts, and the largest the image is drawn.
const IMAGE_AT: (i32, i32) = (16, 76);
const IMAGE_BOX: (u32, u32) = (576, 528);
/// Where the variogram panel starts.
const CHART_LEFT: i32 = 612;
/// The share of pixels below and above the display window: a robust window that outliers and
/// background cannot stretch.
const WINDOW_TAIL: f64 = 0.005;
/// Excluded extreme values (`--extremes`) are shown in this colour, so the left-out pixels show.
const EXCLUDED: Rgb<u8> = Rgb([30, 70, 140]);

/// Everything one frame's sheet shows.
pub struct Sheet<'a> {
    /// The input and frame, e.g. `scans/a.dcm — frame 1 of 2`.
    pub title: String,
    /// Scanner, size, spacing and depth, one line.
    pub facts: String,
    pub frame: &'a Frame,
    /// MONOCHROME1: low values are shown bright, as a viewer would.
    pub inverted: bool,
    /// The frame's extreme values when `--extremes` left them out.
    pub excluded: Option<(u16, u16)>,
    /// The regions drawn on the image, in the colours of their curves.
    pub outlines: Vec<Outline>,
    /// Lines that show how automatic regions were found: disc midlines, the crests' level.
    pub guides: Vec<Guide>,
    pub curves: Vec<Curve>,
    pub max_lag: usize,
}

/// A straight line drawn on the image, from and to (x, y) in image coordinates, with an
/// optional label at its right end.
pub struct Guide {
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub colour: RGBColor,
    pub label: Option<String>,
}

/// A region drawn on the image.
pub struct Outline {
    pub label: String,
    pub shape: Shape,
    pub colour: RGBColor,
}

/// A region's variogram and what its row says.
pub struct Curve {
    pub label: String,
    pub colour: RGBColor,
    /// (lag, V(k)) for every lag with pairs and V > 0, pooled over both directions.
    pub points: Vec<(usize, f64)>,
    /// The fit, or the row's error.
    pub fit: std::result::Result<Fit, String>,
}

impl Curve {
    /// The curve of a region's sums (none when the region failed before it was summed).
    pub fn new(
        label: &str,
        colour: RGBColor,
        variogram: Option<&Variogram>,
        fit: std::result::Result<Fit, String>,
    ) -> Self {
        let points = variogram
            .map(|vg| {
                let all = FitRange {
                    from: 1,
                    to: vg.max_lag(),
                };
                fit::variogram_values(vg, all)
                    .into_iter()
                    .filter_map(|(k, v)| v.filter(|v| *v > 0.0).map(|v| (k, v)))
                    .collect()
            })
            .unwrap_or_default();
        Curve {
            label: label.to_string(),
            colour,
            points,
            fit,
        }
    }

    fn legend(&self) -> String {
        match &self.fit {
            Ok(f) => format!("{}: TBS {:.4}, R² {:.4}", self.label, f.tbs, f.r2),
            Err(e) => format!("{}: {}", self.label, clip(e, 48)),
        }
    }
}

/// Where a frame's sheet goes under the QC folder: the input's path, made relative, with the
/// frame number added, so `scans/a.dcm` frame 1 is `scans/a.dcm.frame-1.png`. `..` becomes
/// `up`, so no sheet can land outside the folder.
pub fn file_name(input: &str, frame: u32) -> PathBuf {
    let mut name = PathBuf::new();
    for part in Path::new(input).components() {
        match part {
            Component::Normal(p) => name.push(p),
            Component::ParentDir => name.push("up"),
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
        }
    }
    let file = name
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    name.set_file_name(format!("{file}.frame-{frame}.png"));
    name
}

/// Draws the sheet and encodes it as PNG.
pub fn render(sheet: &Sheet) -> FileResult<Vec<u8>> {
    draw(sheet).map_err(FileError::Picture)
}

fn draw(sheet: &Sheet) -> Drawn<Vec<u8>> {
    fonts()?;
    let mut canvas = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]));
    let shown = shown_image(sheet);
    let place = Placement {
        left: IMAGE_AT.0 + (IMAGE_BOX.0 - shown.width()) as i32 / 2,
        top: IMAGE_AT.1,
        scale: f64::from(shown.width()) / sheet.frame.cols.max(1) as f64,
    };
    imageops::replace(
        &mut canvas,
        &shown,
        i64::from(place.left),
        i64::from(place.top),
    );
    {
        let root = BitMapBackend::with_buffer(&mut canvas, (WIDTH, HEIGHT)).into_drawing_area();
        header(&root, sheet)?;
        // Outlines are drawn on the image's own area, which clips a region that lies partly
        // outside the image (an error row) to the image's edge.
        let image = root
            .clone()
            .shrink((place.left, place.top), shown.dimensions());
        for guide in &sheet.guides {
            draw_guide(&image, guide, place.scale)?;
        }
        for outline in &sheet.outlines {
            draw_outline(&image, outline, place.scale)?;
        }
        if sheet.excluded.is_some() {
            let note = (FONT, 13).into_font().color(&RGBColor(
                EXCLUDED.0[0],
                EXCLUDED.0[1],
                EXCLUDED.0[2],
            ));
            let y = place.top + shown.height() as i32 + 6;
            root.draw(&Text::new(
                "Blue: left out, the frame's extreme values (--extremes)",
                (IMAGE_AT.0, y),
                note,
            ))
            .map_err(drawing)?;
        }
        let (_, right) = root.split_horizontally(CHART_LEFT);
        let (_, chart) = right.split_vertically(IMAGE_AT.1 - 12);
        variogram_chart(&chart, sheet)?;
        root.present().map_err(drawing)?;
    }
    png(WIDTH, HEIGHT, &canvas)
}

fn header(root: &DrawingArea<BitMapBackend, Shift>, sheet: &Sheet) -> Drawn<()> {
    let title = (FONT, 20, FontStyle::Bold).into_font().color(&BLACK);
    root.draw(&Text::new(clip(&sheet.title, 100), (16, 12), title))
        .map_err(drawing)?;
    let facts = (FONT, 15).into_font().color(&RGBColor(60, 60, 60));
    root.draw(&Text::new(clip(&sheet.facts, 140), (16, 42), facts))
        .map_err(drawing)
}

/// Where the shown image lies on the sheet, and its pixels per stored pixel.
struct Placement {
    left: i32,
    top: i32,
    scale: f64,
}

#[cfg(test)]
mod tests {
    use super::chart::readable;
    use super::outline::mask_edge;
    use super::*;

    #[test]
    fn sheet_names_follow_the_input_path_and_stay_inside_the_folder() {
        assert_eq!(
            file_name("scans/site-a/x.dcm", 2),
            PathBuf::from("scans/site-a/x.dcm.frame-2.png")
        );
        assert_eq!(
            file_name("/data/x.dcm", 1),
            PathBuf::from("data/x.dcm.frame-1.png")
        );
        assert_eq!(
            file_name("../other/./x", 1),
            PathBuf::from("up/other/x.frame-1.png")
        );
    }

    #[test]
    fn the_display_window_clips_the_tails_and_keeps_order() {
        // 1000 pixels: 0..=999; the window is the 0.5th to 99.5th percentile (5 to 994).
        let pixels: Vec<u16> = (0..1000).collect();
        let levels = display_levels(&pixels, false);
        assert_eq!(levels[0], 0);
        assert_eq!(levels[5], 0);
        assert_eq!(levels[999], 255);
        assert_eq!(levels[994], 255);
        assert!(levels.windows(2).all(|w| w[0] <= w[1]));
        assert!(levels[500] > 120 && levels[500] < 135);
        let inverted = display_levels(&pixels, true);
        assert_eq!(inverted[0], 255);
        assert_eq!(inverted[999], 0);
        // A flat frame is one gray level, not a division by zero.
        assert_eq!(display_levels(&[7; 10], false), vec![0; 10]);
    }

    /// The bounding box of the sheet's pixels of `colour` left of the chart.
    fn painted(png: &[u8], colour: RGBColor) -> Option<(u32, u32, u32, u32)> {
        let sheet = image::load_from_memory(png).unwrap().to_rgb8();
        let want = Rgb([colour.0, colour.1, colour.2]);
        sheet
            .enumerate_pixels()
            .filter(|(x, y, p)| *x < CHART_LEFT as u32 && *y > 70 && **p == want)
            .fold(None, |b, (x, y, _)| match b {
                None => Some((x, y, x, y)),
                Some((a, c, d, e)) => Some((a.min(x), c.min(y), d.max(x), e.max(y))),
            })
    }

    #[test]
    fn regions_are_outlined_where_they_lie_on_the_image() {
        // 80 columns × 100 rows: shown 5.28 times enlarged (528 / 100), 422 wide, centred.
        let pixels = (0..8000u16).map(|i| i % 80 + i / 80).collect();
        let frame = Frame::new(100, 80, pixels).unwrap();
        let square: Vec<u8> = (0..8000)
            .map(|i| u8::from((50..70).contains(&(i / 80)) && (10..30).contains(&(i % 80))))
            .collect();
        let (rect, mask) = (super::super::PALETTE[0], super::super::PALETTE[3]);
        let sheet = Sheet {
            title: "t".into(),
            facts: "f".into(),
            frame: &frame,
            inverted: false,
            excluded: None,
            guides: Vec::new(),
            outlines: vec![
                Outline {
                    label: "L1".into(),
                    shape: Shape::Rect {
                        x: 20,
                        y: 4,
                        width: 40,
                        height: 16,
                    },
                    colour: rect,
                },
                Outline {
                    label: "L4".into(),
                    shape: Shape::Mask {
                        rows: 100,
                        cols: 80,
                        inside: crate::region::Inside::from_nonzero(square),
                    },
                    colour: mask,
                },
            ],
            curves: Vec::new(),
            max_lag: 8,
        };
        let png = render(&sheet).unwrap();
        let (left, top, s) = (16 + (576 - 422) / 2, 76, 5.28);
        let at = |x: f64, y: f64| (left + (x * s).round() as u32, top + (y * s).round() as u32);
        let near = |got: (u32, u32, u32, u32), from: (u32, u32), to: (u32, u32)| {
            let close = |a: u32, b: u32| a.abs_diff(b) <= 2;
            assert!(
                close(got.0, from.0)
                    && close(got.1, from.1)
                    && close(got.2, to.0)
                    && close(got.3, to.1),
                "painted {got:?}, expected {from:?} to {to:?}"
            );
        };
        near(painted(&png, rect).unwrap(), at(20.0, 4.0), at(60.0, 20.0));
        // A rectangle reaching beyond the image (an error row) is cut at the image's edge.
        let wide = super::super::PALETTE[5];
        let beyond = Outline {
            label: "L5".into(),
            shape: Shape::Rect {
                x: 30,
                y: 80,
                width: 500,
                height: 10,
            },
            colour: wide,
        };
        let sheet = Sheet {
            outlines: vec![beyond],
            guides: Vec::new(),
            ..sheet
        };
        // The image's last column is at left + 421; a 2-pixel stroke may reach 2 beyond.
        let right_edge = left + 423;
        let cut = painted(&render(&sheet).unwrap(), wide).unwrap();
        assert!(
            cut.2 <= right_edge,
            "painted to x = {}, the image ends at {right_edge}",
            cut.2
        );
        assert!(cut.2 + 3 >= right_edge, "drawn up to the image's edge");
        // A mask's outline is its edge pixels: columns 10..30, rows 50..70.
        near(painted(&png, mask).unwrap(), at(10.0, 50.0), at(30.0, 70.0));
    }

    #[test]
    fn axis_numbers_read_as_written() {
        let shown: Vec<String> = [0.0, 250.0, 3.5, 0.042, 1.2e6].map(readable).into();
        assert_eq!(shown, ["0", "250", "3.5", "0.042", "1.2e6"]);
    }

    #[test]
    fn a_mask_outline_is_its_boundary_pixels() {
        // A 3 × 3 square inside a 5 × 5 mask: its 8 border pixels, not its centre.
        let bytes: Vec<u8> = (0..25)
            .map(|i| u8::from((1..4).contains(&(i % 5)) && (1..4).contains(&(i / 5))))
            .collect();
        let edge = mask_edge(&bytes, 5, 5);
        assert_eq!(edge.len(), 8);
        assert!(!edge.contains(&(2, 2)));
        assert_eq!(edge[0], (1, 1));
    }
}
