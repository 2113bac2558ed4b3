//! Writes phantoms as DICOM files in a chosen transfer syntax.
//!
//! Native syntaxes and deflate are written by dicom-object itself; RLE by this crate's encoder;
//! JPEG-LS and JPEG baseline by dicom-pixeldata's encoders. Every file carries the identifying
//! fields a real export would (SOP Instance UID, dates, manufacturer) so the whole pipeline, CSV
//! columns included, is exercised.

use std::path::Path;

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use dicom_pixeldata::Transcode;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::{rle, Phantom, Style};
use crate::error::{Result, RunError};

/// The transfer syntaxes phantoms can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
    Deflated,
    Rle,
    JpegLs,
    JpegBaseline,
}

impl Syntax {
    /// Every syntax, in a stable order.
    pub const ALL: [Syntax; 7] = [
        Syntax::ImplicitLe,
        Syntax::ExplicitLe,
        Syntax::ExplicitBe,
        Syntax::Deflated,
        Syntax::Rle,
        Syntax::JpegLs,
        Syntax::JpegBaseline,
    ];

    /// The Transfer Syntax UID.
    pub fn uid(self) -> &'static str {
        match self {
            Syntax::ImplicitLe => uids::IMPLICIT_VR_LITTLE_ENDIAN,
            Syntax::ExplicitLe => uids::EXPLICIT_VR_LITTLE_ENDIAN,
            Syntax::ExplicitBe => "1.2.840.10008.1.2.2", // retired, but still met in archives
            Syntax::Deflated => uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
            Syntax::Rle => uids::RLE_LOSSLESS,
            Syntax::JpegLs => uids::JPEGLS_LOSSLESS,
            Syntax::JpegBaseline => uids::JPEG_BASELINE8_BIT,
        }
    }

    /// A short name for file names.
    pub fn slug(self) -> &'static str {
        match self {
            Syntax::ImplicitLe => "implicit-le",
            Syntax::ExplicitLe => "explicit-le",
            Syntax::ExplicitBe => "explicit-be",
            Syntax::Deflated => "deflated",
            Syntax::Rle => "rle",
            Syntax::JpegLs => "jpeg-ls",
            Syntax::JpegBaseline => "jpeg-baseline",
        }
    }

    /// Whether the pixels survive the round trip exactly.
    pub fn is_lossless(self) -> bool {
        self != Syntax::JpegBaseline
    }
}

/// A header element a generated file carries besides the image module (a protocol name, an
/// exposed area), replacing the default one of its tag.
pub type Extra = DataElement<InMemDicomObject>;

/// Writes `frames` (all of one spec) as one DICOM file.
pub fn write_dicom(path: &Path, frames: &[Phantom], syntax: Syntax) -> Result<()> {
    build(frames, syntax, &[])?
        .write_to_file(path)
        .map_err(|e| RunError::Output(format!("cannot write {}: {e}", path.display())))
}

/// The bytes of the DICOM file [`write_dicom`] would write, with `extra` elements in its header.
pub fn dicom_bytes(frames: &[Phantom], syntax: Syntax, extra: &[Extra]) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    build(frames, syntax, extra)?
        .write_all(&mut bytes)
        .map_err(|e| RunError::Output(format!("cannot encode a DICOM file: {e}")))?;
    Ok(bytes)
}

fn build(
    frames: &[Phantom],
    syntax: Syntax,
    extra: &[Extra],
) -> Result<dicom_object::FileDicomObject<InMemDicomObject>> {
    let first = frames
        .first()
        .ok_or_else(|| RunError::Config("a phantom file needs at least one frame".into()))?;
    if frames
        .iter()
        .any(|f| f.spec.rows != first.spec.rows || f.spec.cols != first.spec.cols)
    {
        return Err(RunError::Config(
            "all frames of a file must have one size".into(),
        ));
    }
    if syntax == Syntax::JpegBaseline && (first.spec.bits_stored != 8 || first.spec.signed) {
        return Err(RunError::Config(
            "JPEG baseline holds unsigned 8-bit images only".into(),
        ));
    }
    if syntax == Syntax::JpegLs && first.spec.bits_stored < 4 {
        // The JPEG-LS encoder derives its error bound from bits_stored − 4.
        return Err(RunError::Config(
            "JPEG-LS phantoms need at least 4 bits stored".into(),
        ));
    }
    let uid = instance_uid(frames, syntax, extra);
    let mut obj = header(first, frames.len(), &uid);
    for element in extra {
        obj.put(element.clone());
    }
    let bytes_per_sample = if first.spec.bits_stored > 8 { 2 } else { 1 };
    let samples: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| sample_bytes(f, bytes_per_sample))
        .collect();
    let native_ts = match syntax {
        Syntax::JpegLs | Syntax::JpegBaseline => Syntax::ExplicitLe,
        other => other,
    };
    if syntax == Syntax::Rle {
        let fragments: Vec<Vec<u8>> = samples
            .iter()
            .map(|s| rle::encode_frame(s, bytes_per_sample, first.spec.cols))
            .collect();
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PixelFragmentSequence::new(Vec::<u32>::new(), fragments),
        ));
    } else {
        obj.put(native_pixel_data(samples.concat(), bytes_per_sample));
    }
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class(first))
        .media_storage_sop_instance_uid(uid.as_str())
        .transfer_syntax(native_ts.uid())
        .implementation_class_uid("2.25.302675138121460911542364521386950624771")
        .implementation_version_name("TBS_BATCH")
        .build()
        .map_err(|e| RunError::Output(e.to_string()))?;
    let mut file = obj.with_exact_meta(meta);
    if native_ts != syntax {
        let ts = TransferSyntaxRegistry
            .get(syntax.uid())
            .ok_or_else(|| RunError::Output(format!("no encoder for {}", syntax.slug())))?;
        file.transcode(ts)
            .map_err(|e| RunError::Output(format!("{} encoding failed: {e}", syntax.slug())))?;
    }
    Ok(file)
}

fn sop_class(p: &Phantom) -> &'static str {
    match p.spec.style {
        Style::Display => uids::COMPUTED_RADIOGRAPHY_IMAGE_STORAGE,
        Style::Raw => uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
    }
}

/// The image module and identifying fields.
fn header(p: &Phantom, frames: usize, uid: &str) -> InMemDicomObject {
    let s = &p.spec;
    let bits_allocated: u16 = if s.bits_stored > 8 { 16 } else { 8 };
    let text = |tag, vr, value: &str| DataElement::new(tag, vr, PrimitiveValue::from(value));
    let us = |tag, value: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(value));
    let mut obj = InMemDicomObject::new_empty();
    obj.put(text(tags::SOP_CLASS_UID, VR::UI, sop_class(p)));
    obj.put(text(tags::SOP_INSTANCE_UID, VR::UI, uid));
    obj.put(text(tags::STUDY_DATE, VR::DA, "20260101"));
    obj.put(text(
        tags::PATIENT_ID,
        VR::LO,
        &format!("PHANTOM-H{:.2}", s.hurst),
    ));
    obj.put(text(tags::MANUFACTURER, VR::LO, "tbs-batch phantom"));
    let (modality, model) = match s.style {
        Style::Display => ("CR", "display-processed CR export"),
        Style::Raw => ("OT", "fractional Brownian surface"),
    };
    obj.put(text(tags::MODALITY, VR::CS, modality));
    obj.put(text(tags::MANUFACTURER_MODEL_NAME, VR::LO, model));
    obj.put(us(tags::SAMPLES_PER_PIXEL, 1));
    obj.put(text(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    ));
    obj.put(us(tags::ROWS, s.rows as u16));
    obj.put(us(tags::COLUMNS, s.cols as u16));
    obj.put(us(tags::BITS_ALLOCATED, bits_allocated));
    obj.put(us(tags::BITS_STORED, s.bits_stored));
    obj.put(us(tags::HIGH_BIT, s.bits_stored - 1));
    obj.put(us(tags::PIXEL_REPRESENTATION, u16::from(s.signed)));
    if frames > 1 {
        obj.put(text(tags::NUMBER_OF_FRAMES, VR::IS, &frames.to_string()));
    }
    if s.style == Style::Raw {
        // A research export with calibrated spacing; the display style has none, like the real one.
        obj.put(text(tags::PIXEL_SPACING, VR::DS, "0.1\\0.1"));
    }
    obj
}

/// Little-endian sample containers; signed values as two's complement, sign-extended.
fn sample_bytes(p: &Phantom, bytes_per_sample: usize) -> Vec<u8> {
    if bytes_per_sample == 1 {
        p.values.iter().map(|&v| v as i8 as u8).collect()
    } else {
        p.values
            .iter()
            .flat_map(|&v| (v as i16).to_le_bytes())
            .collect()
    }
}

/// Native Pixel Data as OB bytes or OW words (words so that big-endian files are byte-swapped).
fn native_pixel_data(bytes: Vec<u8>, bytes_per_sample: usize) -> DataElement<InMemDicomObject> {
    if bytes_per_sample == 1 {
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(bytes.into()))
    } else {
        let words: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(words.into()))
    }
}

/// A deterministic UID under the 2.25 (integer) root, from what the file contains.
fn instance_uid(frames: &[Phantom], syntax: Syntax, extra: &[Extra]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(syntax.slug().as_bytes());
    for f in frames {
        feed(format!("{:?}", f.spec).as_bytes());
    }
    for e in extra {
        feed(format!("{:?}", e).as_bytes());
    }
    format!("2.25.{hash}")
}
