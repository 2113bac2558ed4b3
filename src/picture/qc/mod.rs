//! `--qc DIR`: one PNG per frame — the image with its regions outlined and labelled, beside
//! the log-log variogram with the fitted lags, the fitted line, TBS and R².
//!
//! The sheet is drawn from what the results rows say (the sums, the fit) and from the stored
//! pixels, never from the engine, so both engines give the same bytes. Pixels are shown as
//! stored, enlarged or reduced by nearest neighbour, so what is seen is what was summed.

mod sheets;

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
    pub curves: Vec<Curve>,
    pub max_lag: usize,
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

/// The frame windowed to 8 bits, extremes tinted, scaled by nearest neighbour to fit its panel.
fn shown_image(sheet: &Sheet) -> RgbImage {
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
    let mut counts = vec![0u64; 1 << 16];
    for &p in pixels {
        counts[usize::from(p)] += 1;
    }
    let n = pixels.len() as u64;
    let tail = (n as f64 * WINDOW_TAIL) as u64;
    let at_rank = |rank: u64| {
        let mut seen = 0;
        counts
            .iter()
            .position(|&c| {
                seen += c;
                seen > rank
            })
            .unwrap_or(0) as u64
    };
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

/// Outlines a region on the shown image and labels it at its top left corner.
fn draw_outline(
    image: &DrawingArea<BitMapBackend, Shift>,
    outline: &Outline,
    scale: f64,
) -> Drawn<()> {
    let at = |x: f64, y: f64| ((x * scale).round() as i32, (y * scale).round() as i32);
    let stroke = outline.colour.stroke_width(2);
    let corner = match &outline.shape {
        Shape::WholeFrame => return Ok(()),
        Shape::Rect {
            x,
            y,
            width,
            height,
        } => {
            let (x, y) = (*x as f64, *y as f64);
            image
                .draw(&Rectangle::new(
                    [at(x, y), at(x + *width as f64, y + *height as f64)],
                    stroke,
                ))
                .map_err(drawing)?;
            (x, y)
        }
        Shape::Polygon(vertices) => {
            let mut path: Vec<_> = vertices.iter().map(|&(x, y)| at(x, y)).collect();
            path.extend(path.first().copied());
            image
                .draw(&PathElement::new(path, stroke))
                .map_err(drawing)?;
            vertices
                .iter()
                .fold((f64::MAX, f64::MAX), |(a, b), &(x, y)| (a.min(x), b.min(y)))
        }
        Shape::Mask { rows, cols, inside } => {
            // The mask's own size: one of the wrong size is an error row, still drawn (clipped).
            let edge = mask_edge(inside.as_bytes(), *rows, *cols);
            for &(x, y) in &edge {
                let (x, y) = (x as f64, y as f64);
                image
                    .draw(&Rectangle::new(
                        [at(x, y), at(x + 1.0, y + 1.0)],
                        outline.colour.filled(),
                    ))
                    .map_err(drawing)?;
            }
            edge.first()
                .map_or((0.0, 0.0), |&(x, y)| (x as f64, y as f64))
        }
    };
    label(
        image,
        &outline.label,
        at(corner.0, corner.1),
        outline.colour,
    )
}

/// A label in the region's colour on a dark plate, so it reads on any gray level.
fn label(
    root: &DrawingArea<BitMapBackend, Shift>,
    text: &str,
    (x, y): (i32, i32),
    colour: RGBColor,
) -> Drawn<()> {
    let style = (FONT, 15, FontStyle::Bold).into_font().color(&colour);
    let (w, h) = root.estimate_text_size(text, &style).map_err(drawing)?;
    let (x, y) = (x + 3, y + 3);
    root.draw(&Rectangle::new(
        [(x - 2, y - 1), (x + w as i32 + 2, y + h as i32 + 1)],
        BLACK.mix(0.7).filled(),
    ))
    .map_err(drawing)?;
    root.draw(&Text::new(text.to_string(), (x, y), style))
        .map_err(drawing)
}

/// The pixels of a mask that are inside with a neighbour (or the image edge) outside, in row
/// order: the outline a reader expects.
fn mask_edge(bytes: &[u8], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    let inside = |x: isize, y: isize| {
        x >= 0
            && y >= 0
            && (x as usize) < cols
            && (y as usize) < rows
            && bytes[y as usize * cols + x as usize] != 0
    };
    (0..rows)
        .flat_map(|y| (0..cols).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (x, y) = (x as isize, y as isize);
            inside(x, y)
                && !(inside(x - 1, y) && inside(x + 1, y) && inside(x, y - 1) && inside(x, y + 1))
        })
        .collect()
}

/// ln V against ln k: every lag's point (filled when it entered the fit) and the fitted line.
fn variogram_chart(area: &DrawingArea<BitMapBackend, Shift>, sheet: &Sheet) -> Drawn<()> {
    let values = sheet
        .curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (1.0, 10.0) };
    // Head room above the points for the legend: the top third of the plot.
    let top = hi * (hi / lo).max(2.0).powf(0.5);
    let lags = 0.8..sheet.max_lag.max(2) as f64 * 1.25;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Variogram (log–log): filled points are the fitted lags",
            (FONT, 16),
        )
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(lags.log_scale(), (lo / 1.3..top).log_scale())
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("lag k (pixels)")
        .y_desc("V(k), mean squared difference")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&|v| readable(*v))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(drawing)?;
    for curve in &sheet.curves {
        let fitted: &[usize] = curve.fit.as_ref().map_or(&[], |f| &f.lags);
        let colour = curve.colour;
        chart
            .draw_series(curve.points.iter().map(|&(k, v)| {
                let style = if fitted.contains(&k) {
                    colour.filled()
                } else {
                    colour.stroke_width(1)
                };
                Circle::new((k as f64, v), 4, style)
            }))
            .map_err(drawing)?;
        let line = match &curve.fit {
            Ok(f) => fitted_line(f),
            Err(_) => Vec::new(),
        };
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))
            .map_err(drawing)?
            .label(curve.legend())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(drawing)
}

/// An axis number as a reader writes it: 250, 3.5, 0.042, 1.2e6.
fn readable(v: f64) -> String {
    match v.abs() {
        0.0 => "0".into(),
        a if !(1e-3..1e5).contains(&a) => format!("{v:.1e}"),
        a if a >= 10.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.3}"),
    }
}

/// The fitted line V = e^intercept · k^TBS across the fitted lags (straight on log-log axes).
fn fitted_line(f: &Fit) -> Vec<(f64, f64)> {
    let ends = [f.lags.first(), f.lags.last()];
    ends.iter()
        .flatten()
        .map(|&&k| {
            let k = k as f64;
            (k, (f.intercept + f.tbs * k.ln()).exp())
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
