//! The image panel's overlays: each region's outline in its colour, and its label.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Guide, Outline};
use crate::picture::{drawing, Drawn, FONT};
use crate::region::Shape;

/// Outlines a region on the shown image and labels it at its top left corner.
pub(super) fn draw_outline(
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

/// A guide line, one pixel wide, labelled at its right end.
pub(super) fn draw_guide(
    image: &DrawingArea<BitMapBackend, Shift>,
    guide: &Guide,
    scale: f64,
) -> Drawn<()> {
    let at = |(x, y): (f64, f64)| ((x * scale).round() as i32, (y * scale).round() as i32);
    let (from, to) = (at(guide.from), at(guide.to));
    image
        .draw(&PathElement::new(
            vec![from, to],
            guide.colour.stroke_width(1),
        ))
        .map_err(drawing)?;
    match &guide.label {
        Some(text) => {
            let style = (FONT, 13).into_font().color(&guide.colour);
            image
                .draw(&Text::new(text.clone(), (to.0 - 60, to.1 - 16), style))
                .map_err(drawing)
        }
        None => Ok(()),
    }
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
pub(super) fn mask_edge(bytes: &[u8], rows: usize, cols: usize) -> Vec<(usize, usize)> {
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
