//! One element header of a DICOM data set, read as the parser reads it: its tag, the VR the
//! parser gives it, its length, and where its value ends. The [`guard`](super::guard) walks
//! a file with these.

use crate::error::{FileError, FileResult};

/// An undefined length (sequences, items, encapsulated pixel data).
pub(super) const UNDEFINED: u32 = 0xFFFF_FFFF;

/// How the data set after the file meta group is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
}

pub(super) const ITEM: (u16, u16) = (0xFFFE, 0xE000);
pub(super) const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
pub(super) const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
pub(super) const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

pub(super) struct Header {
    pub tag: (u16, u16),
    pub vr: [u8; 2],
    pub length: u32,
    pub value_start: usize,
}

pub(super) fn read_header(bytes: &[u8], pos: usize, encoding: Encoding) -> FileResult<Header> {
    let big = encoding == Encoding::ExplicitBe;
    let need = |n: usize| -> FileResult<()> {
        if pos + n > bytes.len() {
            Err(truncated(pos, n, bytes.len() - pos))
        } else {
            Ok(())
        }
    };
    need(8)?;
    let tag = (read_u16(bytes, pos, big), read_u16(bytes, pos + 2, big));
    // Items and delimiters never carry a VR; implicit VR elements have the dictionary's.
    if tag.0 == 0xFFFE || encoding == Encoding::ImplicitLe {
        return Ok(Header {
            tag,
            vr: implicit_vr(tag),
            length: read_u32(bytes, pos + 4, big),
            value_start: pos + 8,
        });
    }
    let vr = [bytes[pos + 4], bytes[pos + 5]];
    // The parser reads an unknown VR's length as a long one, so the two would part ways.
    if !KNOWN_VRS.contains(&&vr) {
        return Err(FileError::Malformed(format!(
            "element ({:04X},{:04X}) at byte {pos} has no valid VR ({:?})",
            tag.0,
            tag.1,
            String::from_utf8_lossy(&vr)
        )));
    }
    if has_long_length(vr) {
        need(12)?;
        Ok(Header {
            tag,
            vr,
            length: read_u32(bytes, pos + 8, big),
            value_start: pos + 12,
        })
    } else {
        Ok(Header {
            tag,
            vr,
            length: u32::from(read_u16(bytes, pos + 6, big)),
            value_start: pos + 8,
        })
    }
}

/// The VR the parser gives an implicit VR element: group lengths are UL, Pixel Data and overlay
/// data OW, others the standard dictionary's (an ambiguous entry resolved as the parser
/// resolves it), else none (`"  "`: unknown to both, read as bytes).
pub(super) fn implicit_vr(tag: (u16, u16)) -> [u8; 2] {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    if tag.0 == 0xFFFE {
        return *b"  ";
    }
    if tag.1 == 0x0000 {
        return *b"UL";
    }
    if tag == PIXEL_DATA || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) {
        return *b"OW";
    }
    dicom_dictionary_std::StandardDataDictionary
        .by_tag(dicom_core::Tag(tag.0, tag.1))
        .map_or(*b"  ", |entry| entry.vr().relaxed().to_bytes())
}

/// Every value representation of the standard (PS3.5 6.2).
const KNOWN_VRS: [&[u8; 2]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];

pub(super) fn has_long_length(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// Bytes per value of the binary VRs whose values have a fixed size.
pub(super) fn value_size(vr: [u8; 2]) -> usize {
    match &vr {
        b"US" | b"SS" | b"OW" => 2,
        b"UL" | b"SL" | b"FL" | b"AT" | b"OF" | b"OL" => 4,
        b"FD" | b"OD" | b"SV" | b"UV" | b"OV" => 8,
        _ => 1,
    }
}

/// Where an element's value ends, which must be within `limit`: the end of the file, or of the
/// innermost container of defined length.
pub(super) fn value_end(bytes: &[u8], header: &Header, limit: usize) -> FileResult<usize> {
    let len = header.length as usize;
    // The parser reads such values whole, past a length that is not a multiple of their size,
    // and then takes value bytes for headers: a length there could be anything.
    let size = value_size(header.vr);
    if !len.is_multiple_of(size) {
        return Err(FileError::Malformed(format!(
            "element ({:04X},{:04X}) of VR {} has {len} bytes, not a multiple of {size}",
            header.tag.0,
            header.tag.1,
            String::from_utf8_lossy(&header.vr)
        )));
    }
    let remaining = bytes.len() - header.value_start;
    if len > remaining {
        return Err(FileError::Malformed(format!(
            "element ({:04X},{:04X}) declares {len} bytes but only {remaining} remain: truncated or corrupt file",
            header.tag.0, header.tag.1
        )));
    }
    let end = header.value_start + len;
    if end > limit {
        return Err(FileError::Malformed(format!(
            "element {} declares {len} bytes, past the end of the item or sequence it is in",
            name(header.tag)
        )));
    }
    Ok(end)
}

pub(super) fn truncated(pos: usize, need: usize, have: usize) -> FileError {
    FileError::Malformed(format!(
        "element header at byte {pos} needs {need} bytes but only {have} remain: truncated file"
    ))
}

pub(super) fn read_u16(b: &[u8], pos: usize, big: bool) -> u16 {
    let pair = [b[pos], b[pos + 1]];
    if big {
        u16::from_be_bytes(pair)
    } else {
        u16::from_le_bytes(pair)
    }
}

pub(super) fn read_u32(b: &[u8], pos: usize, big: bool) -> u32 {
    let quad = [b[pos], b[pos + 1], b[pos + 2], b[pos + 3]];
    if big {
        u32::from_be_bytes(quad)
    } else {
        u32::from_le_bytes(quad)
    }
}

/// `(GGGG,EEEE)`.
pub(super) fn name((group, element): (u16, u16)) -> String {
    format!("({group:04X},{element:04X})")
}
