//! Stage 3: the set of pixels a score is computed over.
//!
//! A pair of pixels counts for a region only when both lie inside it. A frame is scored over the
//! regions its sidecar lines give (see [`sidecar`]), else over the whole frame, labelled `image`.
//! Every region becomes a [`Patch`]: its bounding box in the frame and, unless every pixel of the
//! box counts, a mask of those inside. The engines sum a frame's patches, so they share all of
//! this.

pub mod sidecar;

use std::borrow::Cow;

use crate::decode::Frame;
use crate::error::{FileError, FileResult};

/// The shape of a region, in image coordinates: pixel (column x, row y) covers
/// [x, x + 1) × [y, y + 1) and is inside a polygon when its centre is.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Every pixel of the frame.
    WholeFrame,
    /// `width` × `height` pixels from column `x`, row `y` (zero-based).
    Rect {
        x: usize,
        y: usize,
        width: usize,
        height: usize,
    },
    /// Vertices (x, y); the edge from the last back to the first closes it. Even-odd filling.
    Polygon(Vec<(f64, f64)>),
    /// A mask image of `rows` × `cols` pixels.
    Mask {
        rows: usize,
        cols: usize,
        inside: Inside,
    },
}

/// Which pixels of a box count: one byte per pixel, row by row, 1 inside and 0 outside. Every
/// byte is 0 or 1 by construction, so the kernels may multiply by it: a mask image's 255 can
/// never reach a kernel as a factor of 255.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inside(Vec<u8>);

impl Inside {
    /// Nonzero bytes are inside.
    pub fn from_nonzero(mut bytes: Vec<u8>) -> Self {
        for b in &mut bytes {
            *b = u8::from(*b != 0);
        }
        Inside(bytes)
    }

    /// `pixels` pixels, all inside.
    pub fn all(pixels: usize) -> Self {
        Inside(vec![1; pixels])
    }

    /// The 0/1 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Pixels inside.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|&m| u64::from(m)).sum()
    }

    /// Takes out the pixels whose value is `lo` or `hi`; `pixels` are the box's, in order.
    fn exclude_values(&mut self, pixels: &[u16], (lo, hi): (u16, u16)) {
        // Branch-free, so it vectorises: a pixel inside and extreme is taken out.
        for (m, &p) in self.0.iter_mut().zip(pixels) {
            *m &= u8::from(p != lo && p != hi);
        }
    }
}

/// Where a frame's regions came from: the `roi_source` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoiSource {
    /// Lines of the `--roi` sidecar.
    Sidecar,
    /// Located on the image (`--roi auto`).
    Auto,
    /// None were given: the whole frame is the region.
    Image,
}

impl RoiSource {
    pub fn name(self) -> &'static str {
        match self {
            RoiSource::Sidecar => "sidecar",
            RoiSource::Auto => "auto",
            RoiSource::Image => "image",
        }
    }
}

/// Which stored values are left out of every region (`--extremes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extremes {
    /// Leave out the frame's minimum and maximum stored values when bits stored ≤ 8.
    Auto,
    /// Always leave them out.
    Exclude,
    /// Never.
    Keep,
}

impl Extremes {
    /// Whether a frame of this depth loses its extreme values.
    pub fn excludes(self, bits_stored: u16) -> bool {
        match self {
            Extremes::Auto => bits_stored <= 8,
            Extremes::Exclude => true,
            Extremes::Keep => false,
        }
    }
}

/// A region as the engines take it: its bounding box within the frame and which pixels of the
/// box are inside. It holds no pixels, so the many regions of one frame share the frame's, and
/// the GPU uploads a frame once however many regions it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The box's first frame row and column.
    pub top: usize,
    pub left: usize,
    /// The box's size.
    pub rows: usize,
    pub cols: usize,
    /// Which pixels of the box are inside.
    pub kept: Kept,
    /// Pixels of the region left out because they hold an extreme value.
    pub excluded: u64,
}

/// Which pixels of a patch's box are inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// Every pixel.
    All,
    /// Those the mask marks: the shape's, with any left-out values already taken out.
    Marked(Inside),
    /// Every pixel but those holding either value: a box whose only exclusions are the frame's
    /// extremes (a whole frame, a rectangle). The engine that reads it decides how, from the
    /// pixels in its own width: the CPU engine moves a byte frame's two values to 255 and
    /// tells them by value, reading no mask; otherwise a mask is built from the narrowed
    /// pixels, which costs a fraction of building it here from 16-bit values.
    Except(u16, u16),
}

impl Kept {
    /// The box's 0/1 mask, `None` when every pixel is inside. Left-out values are tested here,
    /// on the box's `pixels` in the width the kernels read them (a value that width cannot hold
    /// is held by no pixel), so the test runs on bytes for an 8-bit frame.
    pub fn mask<P>(&self, pixels: &[P]) -> Option<Cow<'_, Inside>>
    where
        P: Copy + PartialEq + TryFrom<u16>,
    {
        match self {
            Kept::All => None,
            Kept::Marked(m) => Some(Cow::Borrowed(m)),
            &Kept::Except(lo, hi) => {
                let (lo, hi) = (P::try_from(lo).ok(), P::try_from(hi).ok());
                let (lo, hi) = (lo.or(hi)?, hi.or(lo)?);
                let inside = pixels.iter().map(|&p| u8::from(p != lo && p != hi));
                Some(Cow::Owned(Inside(inside.collect())))
            }
        }
    }
}

impl Patch {
    /// The whole frame, every pixel inside.
    pub fn whole(frame: &Frame) -> Self {
        Patch {
            top: 0,
            left: 0,
            rows: frame.rows,
            cols: frame.cols,
            kept: Kept::All,
            excluded: 0,
        }
    }

    /// Cuts `shape` out of `frame`; pixels holding either value of `outside_values` (the
    /// frame's [`extremes`], when they are left out) are outside whatever the shape says.
    pub fn cut(
        frame: &Frame,
        shape: &Shape,
        outside_values: Option<(u16, u16)>,
    ) -> FileResult<Self> {
        let (top, left, rows, cols) = bounds(shape, frame)?;
        let mut patch = Patch {
            top,
            left,
            rows,
            cols,
            kept: Kept::All,
            excluded: 0,
        };
        let mask = mask_of(shape, top, left, rows, cols);
        patch.kept = match (mask, outside_values) {
            (None, None) => Kept::All,
            (Some(mask), None) => Kept::Marked(mask),
            (None, Some((lo, hi))) => {
                patch.excluded = count_of(&patch.pixels(frame), lo, hi);
                Kept::Except(lo, hi)
            }
            (Some(mut mask), Some(values)) => {
                let before = mask.count();
                mask.exclude_values(&patch.pixels(frame), values);
                patch.excluded = before - mask.count();
                Kept::Marked(mask)
            }
        };
        if patch.excluded == 0 && matches!(patch.kept, Kept::Except(..)) {
            // No pixel holds either value: the plain kernel, which reads no mask, sums the same.
            patch.kept = Kept::All;
        }
        Ok(patch)
    }

    /// The box's pixels, row by row: borrowed when its rows are whole frame rows, else copied.
    pub fn pixels<'f>(&self, frame: &'f Frame) -> Cow<'f, [u16]> {
        let start = self.top * frame.cols;
        if self.cols == frame.cols {
            return Cow::Borrowed(&frame.pixels[start..start + self.rows * self.cols]);
        }
        let box_rows = frame.pixels[start..]
            .chunks(frame.cols.max(1))
            .take(self.rows);
        Cow::Owned(
            box_rows
                .flat_map(|r| &r[self.left..self.left + self.cols])
                .copied()
                .collect(),
        )
    }
}

/// Pixels holding `lo` or `hi`, counted in 16-bit lanes, as wide as the pixels, a chunk of
/// at most 2^16 − 1 at a time so a lane cannot overflow.
fn count_of(pixels: &[u16], lo: u16, hi: u16) -> u64 {
    pixels
        .chunks(usize::from(u16::MAX))
        .map(|c| {
            c.iter()
                .map(|&p| u16::from((p == lo) | (p == hi)))
                .sum::<u16>()
        })
        .map(u64::from)
        .sum()
}

/// A frame's smallest and largest stored value: once per frame, however many regions it has.
pub fn extremes(frame: &Frame) -> (u16, u16) {
    smallest_and_largest(&frame.pixels)
}

/// The smallest and largest of `pixels`; (65535, 0) when there are none.
pub fn smallest_and_largest(pixels: &[u16]) -> (u16, u16) {
    pixels
        .iter()
        .fold((u16::MAX, 0), |(lo, hi), &p| (lo.min(p), hi.max(p)))
}

/// The bounding box (top, left, rows, cols) of a shape, which must lie inside the frame.
fn bounds(shape: &Shape, frame: &Frame) -> FileResult<(usize, usize, usize, usize)> {
    let outside = |what: String| {
        FileError::Region(format!(
            "{what} lies outside the {} × {} image (columns × rows)",
            frame.cols, frame.rows
        ))
    };
    match shape {
        Shape::WholeFrame => Ok((0, 0, frame.rows, frame.cols)),
        Shape::Rect {
            x,
            y,
            width,
            height,
        } => {
            let fits = x.checked_add(*width).is_some_and(|r| r <= frame.cols)
                && y.checked_add(*height).is_some_and(|b| b <= frame.rows);
            if !fits {
                return Err(outside(format!(
                    "rectangle x={x} y={y} width={width} height={height}"
                )));
            }
            Ok((*y, *x, *height, *width))
        }
        Shape::Polygon(vertices) => {
            let (cols, rows) = (frame.cols as f64, frame.rows as f64);
            if let Some((x, y)) = vertices
                .iter()
                .find(|(x, y)| !(0.0..=cols).contains(x) || !(0.0..=rows).contains(y))
            {
                return Err(outside(format!("polygon vertex ({x} {y})")));
            }
            let (min_x, max_x, min_y, max_y) = vertices.iter().fold(
                (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
                |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
            );
            // Pixels whose centres can be inside: centre c + 0.5 within [min, max].
            let first = |lo: f64| (lo - 0.5).ceil().max(0.0) as usize;
            let last = |hi: f64, n: usize| ((hi - 0.5).floor() as usize + 1).min(n);
            let (left, right) = (first(min_x), last(max_x, frame.cols));
            let (top, bottom) = (first(min_y), last(max_y, frame.rows));
            Ok((
                top,
                left,
                bottom.saturating_sub(top),
                right.saturating_sub(left),
            ))
        }
        Shape::Mask { rows, cols, .. } => {
            if (*rows, *cols) != (frame.rows, frame.cols) {
                return Err(FileError::Region(format!(
                    "the mask is {cols} × {rows}, the image {} × {} (columns × rows)",
                    frame.cols, frame.rows
                )));
            }
            Ok((0, 0, frame.rows, frame.cols))
        }
    }
}

/// Which pixels of the bounding box are inside; `None` when all are.
fn mask_of(shape: &Shape, top: usize, left: usize, rows: usize, cols: usize) -> Option<Inside> {
    match shape {
        Shape::WholeFrame | Shape::Rect { .. } => None,
        Shape::Mask { inside, .. } => Some(inside.clone()),
        Shape::Polygon(vertices) => {
            let mut mask = vec![0u8; rows * cols];
            for (r, line) in mask.chunks_mut(cols.max(1)).enumerate() {
                let cy = (top + r) as f64 + 0.5;
                fill_scanline(vertices, cy, left, line);
            }
            Some(Inside(mask))
        }
    }
}

/// Marks the pixels of one row whose centres lie inside the polygon (even-odd rule): between
/// the 1st and 2nd crossing of the row's centre line with an edge, the 3rd and 4th, and so on.
fn fill_scanline(vertices: &[(f64, f64)], cy: f64, left: usize, line: &mut [u8]) {
    let mut crossings: Vec<f64> = vertices
        .iter()
        .zip(vertices.iter().cycle().skip(1))
        .filter(|((_, y0), (_, y1))| (*y0 <= cy) != (*y1 <= cy))
        .map(|((x0, y0), (x1, y1))| x0 + (cy - y0) * (x1 - x0) / (y1 - y0))
        .collect();
    crossings.sort_by(f64::total_cmp);
    for span in crossings.chunks_exact(2) {
        for (c, m) in line.iter_mut().enumerate() {
            let cx = (left + c) as f64 + 0.5;
            if cx >= span[0] && cx < span[1] {
                *m = 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: usize, cols: usize) -> Frame {
        let pixels = (0..rows * cols).map(|i| i as u16).collect();
        Frame::new(rows, cols, pixels).unwrap()
    }

    fn inside(p: &Patch) -> Vec<u8> {
        match &p.kept {
            Kept::All => vec![1; p.rows * p.cols],
            Kept::Marked(m) => m.as_bytes().to_vec(),
            Kept::Except(..) => panic!("a test patch without values left out"),
        }
    }

    #[test]
    fn a_rectangle_is_its_box_without_a_mask() {
        let f = frame(5, 6);
        let rect = Shape::Rect {
            x: 1,
            y: 2,
            width: 3,
            height: 2,
        };
        let p = Patch::cut(&f, &rect, None).unwrap();
        assert_eq!((p.rows, p.cols), (2, 3));
        assert_eq!(&p.pixels(&f)[..], &[13, 14, 15, 19, 20, 21]);
        assert_eq!(p.kept, Kept::All);
    }

    #[test]
    fn a_rectangle_equals_the_polygon_of_its_corners() {
        let f = frame(7, 9);
        let rect = Shape::Rect {
            x: 2,
            y: 1,
            width: 4,
            height: 5,
        };
        let poly = Shape::Polygon(vec![(2.0, 1.0), (6.0, 1.0), (6.0, 6.0), (2.0, 6.0)]);
        let (a, b) = (
            Patch::cut(&f, &rect, None).unwrap(),
            Patch::cut(&f, &poly, None).unwrap(),
        );
        assert_eq!(
            (a.top, a.left, a.rows, a.cols),
            (b.top, b.left, b.rows, b.cols)
        );
        assert_eq!(inside(&a), inside(&b));
    }

    #[test]
    fn a_triangle_takes_the_pixels_whose_centres_are_inside() {
        // Right triangle (0,0), (4,0), (0,4): centre (c + .5, r + .5) inside when c + r + 1 < 4.
        let f = frame(4, 4);
        let p = Patch::cut(
            &f,
            &Shape::Polygon(vec![(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)]),
            None,
        )
        .unwrap();
        let expect: Vec<u8> = (0..16).map(|i| u8::from(i / 4 + i % 4 + 1 < 4)).collect();
        assert_eq!((p.rows, p.cols), (4, 4));
        assert_eq!(inside(&p), expect);
    }

    #[test]
    fn shapes_outside_the_image_are_refused() {
        let f = frame(4, 4);
        let rect = Shape::Rect {
            x: 2,
            y: 0,
            width: 3,
            height: 1,
        };
        let e = Patch::cut(&f, &rect, None).unwrap_err().to_string();
        assert!(e.contains("outside the 4 × 4 image"), "{e}");
        let poly = Shape::Polygon(vec![(0.0, 0.0), (5.0, 0.0), (0.0, 3.0)]);
        assert!(Patch::cut(&f, &poly, None).is_err());
        let small = Shape::Mask {
            rows: 4,
            cols: 3,
            inside: Inside::all(12),
        };
        let e = Patch::cut(&f, &small, None).unwrap_err().to_string();
        assert!(e.contains("the mask is 3 × 4, the image 4 × 4"), "{e}");
    }

    #[test]
    fn extremes_are_left_out_and_counted() {
        let f = Frame::new(2, 3, vec![0, 5, 252, 7, 0, 9]).unwrap();
        let p = Patch::cut(&f, &Shape::WholeFrame, Some(extremes(&f))).unwrap();
        assert_eq!(p.kept, Kept::Except(0, 252));
        let mask = Inside(vec![0, 1, 0, 1, 0, 1]);
        assert_eq!(p.kept.mask(&f.pixels).as_deref(), Some(&mask));
        let bytes: Vec<u8> = f.pixels.iter().map(|&v| v as u8).collect();
        assert_eq!(p.kept.mask(&bytes).as_deref(), Some(&mask));
        // A value bytes cannot hold is held by no byte.
        let above = Kept::Except(0, 300).mask(&bytes).unwrap();
        assert_eq!(above.as_bytes(), [0, 1, 1, 1, 0, 1]);
        assert_eq!(Kept::Except(256, 300).mask(&bytes), None);
        assert_eq!(p.excluded, 3);
        // Inside a polygon they are taken out of its mask, and counted among its pixels only.
        let triangle = Shape::Polygon(vec![(0.0, 0.0), (3.0, 0.0), (0.0, 2.0)]);
        let p = Patch::cut(&f, &triangle, Some(extremes(&f))).unwrap();
        assert_eq!(p.kept, Kept::Marked(Inside(vec![0, 1, 0, 1, 0, 0])));
        assert_eq!(p.excluded, 1);
        // A box holding neither value needs no test at all.
        let rect = Shape::Rect {
            x: 1,
            y: 0,
            width: 2,
            height: 1,
        };
        let p = Patch::cut(&f, &rect, Some((0, 9))).unwrap();
        assert_eq!((p.kept, p.excluded), (Kept::All, 0));
        assert!(Extremes::Auto.excludes(8) && !Extremes::Auto.excludes(12));
    }
}
