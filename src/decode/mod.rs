//! Stage 2: one DICOM file → identifying fields and frames of stored integers.
//!
//! This is the only module that touches the dicom crates on the reading side; everything after it
//! sees the project's own [`Meta`] and [`Frame`]. The whole file is read into memory first and
//! its element lengths are checked against the bytes actually present (`guard`), so a header
//! that lies about a length becomes an error row instead of a huge allocation.

mod codestream;
mod element;
mod guard;
mod histogram;
mod meta;
mod rle;
mod samples;
mod un_sequence;

pub use histogram::Histogram;
pub use meta::{body_mass_index, Meta, SPACING_SOURCES};

use meta::text;
pub use samples::SampleLayout;

use std::io::Cursor;
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;

use crate::error::{one_line, FileError, FileResult};

/// The largest frame accepted, in pixels. A header may claim up to 65535 × 65535; decoding that
/// would take 8 GiB for one frame, far beyond any DXA image (a few megapixels).
pub const MAX_FRAME_PIXELS: u64 = 64 * 1024 * 1024;

/// One frame's stored values, row-major, signed values in offset binary (see [`SampleLayout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u16>,
}

impl Frame {
    /// Builds a frame, checking that the pixel count matches the shape.
    pub fn new(rows: usize, cols: usize, pixels: Vec<u16>) -> FileResult<Self> {
        if rows.checked_mul(cols) != Some(pixels.len()) {
            return Err(FileError::PixelData(format!(
                "{} pixels do not make a {rows} × {cols} frame",
                pixels.len()
            )));
        }
        Ok(Frame { rows, cols, pixels })
    }
}

/// The validated shape of a file's image: what every frame must decode to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub rows: u32,
    pub cols: u32,
    pub frames: u32,
    pub layout: SampleLayout,
}

impl Geometry {
    /// Stored pixels of all frames together: what decoding them all would hold.
    pub fn pixels(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols) * u64::from(self.frames)
    }
}

/// A parsed DICOM file, ready to hand out its frames one at a time.
pub struct DicomFile {
    obj: DefaultDicomObject,
    pub meta: Meta,
}

/// Reads and parses one file, allowing a deflated data set to inflate to `max_inflated` bytes.
pub fn open(path: &Path, max_inflated: u64) -> FileResult<DicomFile> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, max_inflated)
}

/// Parses a whole file held in memory (preamble included).
pub fn parse(bytes: &[u8], max_inflated: u64) -> FileResult<DicomFile> {
    let cuts = guard::check(bytes, max_inflated)?;
    let parsed = without(bytes, &cuts);
    let mut obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(Cursor::new(&parsed[..]))
        .map_err(|e| FileError::Malformed(error_chain(&e)))?;
    fill_sample_defaults(&mut obj);
    let meta = meta::read(&obj);
    Ok(DicomFile { obj, meta })
}

/// The bytes with the ranges `cuts` (in order, disjoint) left out; borrowed when there are none.
fn without<'b>(bytes: &'b [u8], cuts: &[std::ops::Range<usize>]) -> std::borrow::Cow<'b, [u8]> {
    if cuts.is_empty() {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut kept = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for cut in cuts {
        kept.extend_from_slice(&bytes[from..cut.start]);
        from = cut.end;
    }
    kept.extend_from_slice(&bytes[from..]);
    std::borrow::Cow::Owned(kept)
}

impl DicomFile {
    /// Validates the image attributes against what TBS needs and what the data can hold.
    pub fn geometry(&self) -> FileResult<Geometry> {
        let obj = &self.obj;
        if obj.get(tags::PIXEL_DATA).is_none() {
            return Err(FileError::PixelData(
                "no Pixel Data element (7FE0,0010): the file holds no image".into(),
            ));
        }
        let samples = uint(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        let photometric = text(obj, tags::PHOTOMETRIC_INTERPRETATION);
        if samples != 1 {
            return Err(FileError::Unsupported(format!(
                "colour image ({samples} samples per pixel, {photometric}): TBS needs a grayscale image"
            )));
        }
        if photometric == "PALETTE COLOR" {
            return Err(FileError::Unsupported(
                "palette colour image: TBS needs a grayscale image".into(),
            ));
        }
        let rows = required_uint(obj, tags::ROWS, "Rows")?;
        let cols = required_uint(obj, tags::COLUMNS, "Columns")?;
        let frames = uint(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1);
        if rows == 0 || cols == 0 || frames == 0 {
            return Err(FileError::PixelData(format!(
                "empty image: {rows} rows × {cols} columns × {frames} frames"
            )));
        }
        if u64::from(rows) * u64::from(cols) > MAX_FRAME_PIXELS {
            return Err(FileError::Unsupported(format!(
                "frame of {rows} × {cols} pixels exceeds the limit of {MAX_FRAME_PIXELS} pixels"
            )));
        }
        let bits_allocated = required_uint(obj, tags::BITS_ALLOCATED, "Bits Allocated")?;
        let bits_stored = required_uint(obj, tags::BITS_STORED, "Bits Stored")?;
        let layout = SampleLayout {
            bits_allocated: narrow(bits_allocated, "Bits Allocated")?,
            bits_stored: narrow(bits_stored, "Bits Stored")?,
            high_bit: narrow(required_uint(obj, tags::HIGH_BIT, "High Bit")?, "High Bit")?,
            signed: uint(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1,
        };
        layout.validate()?;
        let geometry = Geometry {
            rows,
            cols,
            frames,
            layout,
        };
        self.check_native_length(&geometry)?;
        Ok(geometry)
    }

    /// For uncompressed data, the bytes must hold the frames the header's shape says: fewer means
    /// the header lies about Rows, Columns, frames or bit depth, and no frame can be trusted.
    fn check_native_length(&self, g: &Geometry) -> FileResult<()> {
        let Some(element) = self.obj.get(tags::PIXEL_DATA) else {
            return Ok(());
        };
        let dicom_core::DicomValue::Primitive(value) = element.value() else {
            return Ok(());
        };
        let pixels = u64::from(g.rows) * u64::from(g.cols) * u64::from(g.frames);
        let expected = match g.layout.bits_allocated {
            1 => pixels.div_ceil(8),
            ba => pixels * u64::from(ba / 8),
        };
        let actual = value.to_bytes().len() as u64;
        // Less than a frame beyond the frames is padding, which mainstream readers ignore too; a
        // whole frame more says the header's shape is wrong.
        let frame_bytes = expected / u64::from(g.frames);
        if actual < expected || actual - expected >= frame_bytes.max(2) {
            return Err(FileError::PixelData(format!(
                "Pixel Data holds {actual} bytes but {} rows × {} columns × {} frames at {} bits needs {expected}",
                g.rows, g.cols, g.frames, g.layout.bits_allocated
            )));
        }
        Ok(())
    }

    /// Decodes frame `index` (0-based) to stored values.
    pub fn frame(&self, g: &Geometry, index: u32) -> FileResult<Frame> {
        let count = g.rows as usize * g.cols as usize;
        self.check_fragments(g, index)
            .map_err(|e| FileError::PixelData(format!("frame {}: {e}", index + 1)))?;
        let decoded = self.obj.decode_pixel_data_frame(index).map_err(|e| {
            FileError::PixelData(format!("frame {}: {}", index + 1, error_chain(&e)))
        })?;
        let pixels = g.layout.extract(decoded.data(), count)?;
        Frame::new(g.rows as usize, g.cols as usize, pixels)
    }

    /// Checks what the decoders would trust in compressed pixel data: an RLE frame's segment
    /// table, and the size each codestream declares, which must be the image's.
    fn check_fragments(&self, g: &Geometry, index: u32) -> std::result::Result<(), String> {
        let fragments = match self
            .obj
            .get(tags::PIXEL_DATA)
            .map(|e| e.value().fragments())
        {
            Some(Some(f)) => f,
            _ => return Ok(()),
        };
        let count = g.rows as usize * g.cols as usize;
        if self.meta.transfer_syntax == rle::TRANSFER_SYNTAX {
            let planes = usize::from(g.layout.bits_allocated.div_ceil(8));
            return match fragments.get(index as usize) {
                Some(f) => {
                    rle::check_fragment(f, planes, count).map_err(|e| format!("RLE fragment: {e}"))
                }
                None => Ok(()),
            };
        }
        // When frames and fragments pair up, the frame's fragment holds its codestream, whose
        // size a decoder would read, so it must be readable here too; otherwise a frame spans
        // fragments and every one that starts a codestream is checked.
        let own = match fragments.len() {
            1 => fragments.get(..1),
            n if n == g.frames as usize => fragments.get(index as usize..=index as usize),
            _ => None,
        };
        let sizes = own
            .unwrap_or(fragments)
            .iter()
            .map(|f| codestream::declared_size(f));
        for size in sizes {
            match size {
                Some((rows, cols, 1)) if (rows, cols) == (g.rows, g.cols) => {}
                Some((rows, cols, components)) => {
                    return Err(format!(
                        "the compressed stream declares {cols} × {rows} pixels of {components} \
                         samples; the header, {} × {} of 1 (columns × rows)",
                        g.cols, g.rows
                    ))
                }
                None if own.is_some() => {
                    return Err("the compressed stream's frame header cannot be read".into())
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// Bits Stored and High Bit are required, but some exports leave them out; every allocated bit
/// is then stored, the highest last, as mainstream readers assume. Written into the object
/// itself, so that the decoder, the geometry, the results row and `--extremes` read one value.
fn fill_sample_defaults(obj: &mut DefaultDicomObject) {
    let put = |obj: &mut DefaultDicomObject, tag, value: u32| {
        if let Ok(value) = u16::try_from(value) {
            obj.put(dicom_object::mem::InMemElement::new(
                tag,
                dicom_core::VR::US,
                dicom_core::PrimitiveValue::from(value),
            ));
        }
    };
    if uint(obj, tags::BITS_STORED).is_none() {
        if let Some(allocated) = uint(obj, tags::BITS_ALLOCATED) {
            put(obj, tags::BITS_STORED, allocated);
        }
    }
    if uint(obj, tags::HIGH_BIT).is_none() {
        if let Some(stored) = uint(obj, tags::BITS_STORED).filter(|&b| b > 0) {
            put(obj, tags::HIGH_BIT, stored - 1);
        }
    }
}

pub(crate) fn uint(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<u32> {
    obj.get(tag).and_then(|e| e.to_int::<u32>().ok())
}

fn required_uint(obj: &DefaultDicomObject, tag: dicom_core::Tag, name: &str) -> FileResult<u32> {
    uint(obj, tag).ok_or_else(|| FileError::PixelData(format!("{name} is missing or not a number")))
}

fn narrow(value: u32, name: &str) -> FileResult<u16> {
    u16::try_from(value).map_err(|_| FileError::Unsupported(format!("{name} is {value}")))
}

/// Flattens an error and its sources into one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    one_line(&text)
}
