//! A structural pass over a DICOM file's element headers before the real parser sees it.
//!
//! The parser sizes its buffers from the lengths that headers declare, so a truncated or corrupt
//! file could make it allocate gigabytes for a value that is not there. This pass walks the
//! headers over the bytes actually read and rejects any declared length that runs past the end,
//! so every allocation the parser then makes is bounded by the file's real size.
//!
//! It also finds what mainstream readers skip and this parser cannot: zero padding after the
//! last element, and private sequences stored as VR UN of undefined length (PS3.5 6.2.2), whose
//! content is implicit VR little endian whatever the file's syntax. Both are returned as byte
//! ranges for the parser not to see: the padding is nothing, and a UN sequence is private data
//! no score reads, walked here as the standard says so that its end is known exactly.

use std::ops::Range;

use super::un_sequence;
use crate::error::{Error, Result};

pub(super) const UNDEFINED: u32 = 0xFFFF_FFFF;

/// How the data set after the file meta group is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
}

/// Checks every element header of a whole DICOM file (preamble included) against its length,
/// and returns the byte ranges the parser must not see (padding, UN sequences), in order.
///
/// A deflated data set is inflated here first, to at most `max_inflated` bytes, and its headers
/// checked against the inflated bytes: a few kilobytes of deflate stream can otherwise declare
/// gigabytes the parser would reserve before finding the stream ends.
pub fn check(bytes: &[u8], max_inflated: u64) -> Result<Vec<Range<usize>>> {
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err(Error::NotDicom("no DICM preamble".into()));
    }
    let mut pos = 132;
    let mut ts = String::new();
    let mut declared_end = None;
    // The meta group is always explicit VR little endian, group 0002.
    while pos + 4 <= bytes.len() && read_u16(bytes, pos, false) == 0x0002 {
        let header = read_header(bytes, pos, Encoding::ExplicitLe)?;
        let end = value_end(bytes, &header, bytes.len())?;
        match header.tag {
            (0x0002, 0x0000) if end - header.value_start == 4 => {
                declared_end = Some(end + read_u32(bytes, header.value_start, false) as usize);
            }
            (0x0002, 0x0010) => {
                ts = String::from_utf8_lossy(&bytes[header.value_start..end])
                    .trim_end_matches(['\0', ' '])
                    .to_string();
            }
            _ => {}
        }
        pos = end;
    }
    // The parser ends the group where its length says; the data set must start there too.
    if declared_end.is_some_and(|end| end != pos) {
        return Err(Error::Malformed(format!(
            "the file meta group's length says it ends at byte {}, its elements at byte {pos}",
            declared_end.unwrap_or_default()
        )));
    }
    let encoding = match ts.as_str() {
        "" => {
            return Err(Error::Malformed(
                "file meta group has no Transfer Syntax UID".into(),
            ))
        }
        "1.2.840.10008.1.2" => Encoding::ImplicitLe,
        "1.2.840.10008.1.2.2" => Encoding::ExplicitBe,
        "1.2.840.10008.1.2.1.99" => {
            let inflated = inflate(&bytes[pos..], max_inflated)?;
            // Inside a deflate stream nothing can be cut out for the parser.
            return match check_dataset(&inflated, 0, Encoding::ExplicitLe)?.first() {
                None => Ok(Vec::new()),
                Some(cut) => Err(Error::Unsupported(format!(
                    "a deflated data set holding {}",
                    what_is_cut(&inflated, cut)
                ))),
            };
        }
        _ => Encoding::ExplicitLe,
    };
    check_dataset(bytes, pos, encoding)
}

/// A raw deflate stream (the Deflated Explicit VR Little Endian syntax), inflated.
fn inflate(stream: &[u8], max_inflated: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(stream)
        .take(max_inflated.saturating_add(1))
        .read_to_end(&mut inflated)
        .map_err(|e| Error::Malformed(format!("deflated data set: {e}")))?;
    if inflated.len() as u64 > max_inflated {
        return Err(Error::TooLarge(format!(
            "the deflated data set inflates beyond {max_inflated} bytes"
        )));
    }
    Ok(inflated)
}

/// Says what a range [`check_dataset`] cuts out holds, for a message.
fn what_is_cut(bytes: &[u8], cut: &Range<usize>) -> String {
    if bytes[cut.clone()].iter().all(|&b| b == 0) {
        "padding after its last element".into()
    } else {
        "a sequence of VR UN with undefined length".into()
    }
}

/// A container the walk is inside, as the parser's state has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A sequence: only items and, for an undefined length, its delimiter may follow.
    Sequence { end: Option<usize> },
    /// An item of a sequence: a data set, ended by its length or its delimiter.
    Item { end: Option<usize> },
    /// Encapsulated pixel data: fragments (items of bytes) until the sequence delimiter.
    Fragments,
}

impl Open {
    fn end(self) -> Option<usize> {
        match self {
            Open::Sequence { end } | Open::Item { end } => end,
            Open::Fragments => None,
        }
    }
}

/// Walks every header the parser will read, as the parser reads them: a data set's elements,
/// into sequences item by item and into items as data sets, past the fragments of encapsulated
/// pixel data. What the standard's structure does not allow where it stands — an item outside a
/// sequence, an element where an item belongs, a delimiter closing nothing open, a value running
/// past the container it is in — is refused, since the parser's reading of it is its own and
/// could be anything. Returns the ranges to cut (see [`check`]).
fn check_dataset(bytes: &[u8], mut pos: usize, encoding: Encoding) -> Result<Vec<Range<usize>>> {
    let mut cuts = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    loop {
        // Containers of defined length close where their length says.
        while let Some(end) = open.last().and_then(|o| o.end()) {
            if end != pos {
                break;
            }
            open.pop();
        }
        if open.iter().any(|o| o.end().is_some_and(|end| end <= pos)) {
            return Err(Error::Malformed(format!(
                "an item or sequence open at byte {pos} runs past the end of the one of defined \
                 length around it"
            )));
        }
        if pos >= bytes.len() {
            break; // the parser takes the end of the file as the end of what is open
        }
        if open.is_empty() && is_padding(&bytes[pos..]) {
            cuts.push(pos..bytes.len());
            break;
        }
        let header = read_header(bytes, pos, encoding)?;
        let limit = open
            .iter()
            .rev()
            .find_map(|o| o.end())
            .unwrap_or(bytes.len());
        pos = match open.last().copied() {
            Some(Open::Sequence { end }) => in_sequence(bytes, &header, end, limit, &mut open)?,
            Some(Open::Fragments) => in_fragments(bytes, &header, limit, &mut open)?,
            Some(Open::Item { .. }) | None => {
                let step = in_data_set(bytes, &header, limit, encoding, &mut open)?;
                if let Step::Cut(end) = step {
                    // Cutting bytes from inside a container of defined length would break
                    // that length.
                    if open.iter().any(|o| o.end().is_some()) {
                        return Err(Error::Unsupported(format!(
                            "element {} of VR UN with undefined length inside a sequence of \
                             defined length",
                            name(header.tag)
                        )));
                    }
                    cuts.push(pos..end);
                }
                step.next()
            }
        };
    }
    Ok(cuts)
}

/// Where the walk goes after a data set element.
enum Step {
    To(usize),
    /// Past an element the parser must not see, which ends there.
    Cut(usize),
}

impl Step {
    fn next(&self) -> usize {
        match *self {
            Step::To(p) | Step::Cut(p) => p,
        }
    }
}

/// An element header inside a sequence: an item, or the sequence's delimiter.
fn in_sequence(
    bytes: &[u8],
    header: &Header,
    end: Option<usize>,
    limit: usize,
    open: &mut Vec<Open>,
) -> Result<usize> {
    match (header.tag, header.length) {
        (ITEM, UNDEFINED) => open.push(Open::Item { end: None }),
        (ITEM, _) => open.push(Open::Item {
            end: Some(value_end(bytes, header, limit)?),
        }),
        (SEQUENCE_END, 0) if end.is_none() => {
            open.pop();
        }
        (tag, length) => return Err(misplaced(tag, length, "an item of a sequence")),
    }
    Ok(header.value_start)
}

/// An element header among pixel data fragments: a fragment, or the delimiter.
fn in_fragments(
    bytes: &[u8],
    header: &Header,
    limit: usize,
    open: &mut Vec<Open>,
) -> Result<usize> {
    match (header.tag, header.length) {
        (ITEM, length) if length != UNDEFINED => value_end(bytes, header, limit),
        (SEQUENCE_END, 0) => {
            open.pop();
            Ok(header.value_start)
        }
        (tag, length) => Err(misplaced(tag, length, "a pixel data fragment")),
    }
}

/// An element header in a data set (the file's, or an item's).
fn in_data_set(
    bytes: &[u8],
    header: &Header,
    limit: usize,
    encoding: Encoding,
    open: &mut Vec<Open>,
) -> Result<Step> {
    let sequence = header.vr == *b"SQ" || (header.vr == *b"  " && encoding == Encoding::ImplicitLe);
    let step = match (header.tag, header.length) {
        (ITEM_END, 0) if matches!(open.last(), Some(Open::Item { end: None })) => {
            open.pop();
            Step::To(header.value_start)
        }
        // The parser passes a stray item delimiter at the top level.
        (ITEM_END, 0) if open.is_empty() => Step::To(header.value_start),
        (tag @ (0xFFFE, _), length) => return Err(misplaced(tag, length, "a data set element")),
        (PIXEL_DATA, UNDEFINED) => {
            open.push(Open::Fragments);
            Step::To(header.value_start)
        }
        // Its content is implicit VR whatever the file's encoding, which the parser would read
        // in the file's: it is walked so, and cut out.
        (_, UNDEFINED) if header.vr == *b"UN" => Step::Cut(un_sequence_end(bytes, header)?),
        (_, UNDEFINED) if sequence => {
            open.push(Open::Sequence { end: None });
            Step::To(header.value_start)
        }
        (tag, UNDEFINED) => {
            return Err(Error::Malformed(format!(
                "element {} of VR {} has an undefined length, which only sequences and pixel \
                 data may have",
                name(tag),
                String::from_utf8_lossy(&header.vr)
            )))
        }
        // A sequence of defined length, read item by item. In implicit VR that is one the
        // dictionary calls a sequence: the parser reads an unknown element of defined length as
        // bytes, whatever they look like, and so does this walk.
        _ if header.vr == *b"SQ" => {
            let end = value_end(bytes, header, limit)?;
            open.push(Open::Sequence { end: Some(end) });
            Step::To(header.value_start)
        }
        _ => Step::To(value_end(bytes, header, limit)?),
    };
    Ok(step)
}

/// A tag where the structure does not allow it.
fn misplaced(tag: (u16, u16), length: u32, expected: &str) -> Error {
    let what = match tag {
        ITEM => "an item",
        ITEM_END | SEQUENCE_END if length != 0 => {
            // A delimiter has no value (PS3.5 7.5); the parser would read the length it declares.
            return Error::Malformed(format!(
                "delimiter {} declares a value of {length} bytes",
                name(tag)
            ));
        }
        ITEM_END => "an item delimiter",
        SEQUENCE_END => "a sequence delimiter",
        (0xFFFE, element) => {
            return Error::Malformed(format!(
                "(FFFE,{element:04X}) is neither an item nor a delimiter"
            ))
        }
        _ => "element",
    };
    Error::Malformed(format!("{what} {} where {expected} belongs", name(tag)))
}

/// `(GGGG,EEEE)`.
fn name((group, element): (u16, u16)) -> String {
    format!("({group:04X},{element:04X})")
}

/// Trailing bytes that form no element: zeros (padding to a block size), or fewer than an
/// element header needs. A real element never starts with tag (0000,0000).
fn is_padding(rest: &[u8]) -> bool {
    rest.len() < 8 || (rest[..4] == [0; 4] && rest.iter().all(|&b| b == 0))
}

/// Where a UN element of undefined length ends: after the delimiter of the implicit VR little
/// endian sequence its value is.
fn un_sequence_end(bytes: &[u8], header: &Header) -> Result<usize> {
    let (group, element) = header.tag;
    un_sequence::end(bytes, header.value_start).map_err(|why| {
        Error::Malformed(format!(
            "element ({group:04X},{element:04X}) of VR UN with undefined length: {why}"
        ))
    })
}

pub(super) const ITEM: (u16, u16) = (0xFFFE, 0xE000);
pub(super) const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
pub(super) const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

struct Header {
    tag: (u16, u16),
    vr: [u8; 2],
    length: u32,
    value_start: usize,
}

fn read_header(bytes: &[u8], pos: usize, encoding: Encoding) -> Result<Header> {
    let big = encoding == Encoding::ExplicitBe;
    let need = |n: usize| -> Result<()> {
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
        return Err(Error::Malformed(format!(
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
fn implicit_vr(tag: (u16, u16)) -> [u8; 2] {
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

fn has_long_length(vr: [u8; 2]) -> bool {
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
fn value_size(vr: [u8; 2]) -> usize {
    match &vr {
        b"US" | b"SS" | b"OW" => 2,
        b"UL" | b"SL" | b"FL" | b"AT" | b"OF" | b"OL" => 4,
        b"FD" | b"OD" | b"SV" | b"UV" | b"OV" => 8,
        _ => 1,
    }
}

/// Where an element's value ends, which must be within `limit`: the end of the file, or of the
/// innermost container of defined length.
fn value_end(bytes: &[u8], header: &Header, limit: usize) -> Result<usize> {
    let len = header.length as usize;
    // The parser reads such values whole, past a length that is not a multiple of their size,
    // and then takes value bytes for headers: a length there could be anything.
    let size = value_size(header.vr);
    if !len.is_multiple_of(size) {
        return Err(Error::Malformed(format!(
            "element ({:04X},{:04X}) of VR {} has {len} bytes, not a multiple of {size}",
            header.tag.0,
            header.tag.1,
            String::from_utf8_lossy(&header.vr)
        )));
    }
    let remaining = bytes.len() - header.value_start;
    if len > remaining {
        return Err(Error::Malformed(format!(
            "element ({:04X},{:04X}) declares {len} bytes but only {remaining} remain: truncated or corrupt file",
            header.tag.0, header.tag.1
        )));
    }
    let end = header.value_start + len;
    if end > limit {
        return Err(Error::Malformed(format!(
            "element {} declares {len} bytes, past the end of the item or sequence it is in",
            name(header.tag)
        )));
    }
    Ok(end)
}

fn truncated(pos: usize, need: usize, have: usize) -> Error {
    Error::Malformed(format!(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An explicit VR little endian element with a short or long length.
    fn element(group: u16, elem: u16, vr: &[u8; 2], value: &[u8], length: Option<u32>) -> Vec<u8> {
        let mut out = [group.to_le_bytes(), elem.to_le_bytes()].concat();
        out.extend_from_slice(vr);
        let length = length.unwrap_or(value.len() as u32);
        if has_long_length(*vr) {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&length.to_le_bytes());
        } else {
            out.extend_from_slice(&(length as u16).to_le_bytes());
        }
        out.extend_from_slice(value);
        out
    }

    /// A file of explicit VR little endian holding `dataset`.
    fn file(dataset: &[u8]) -> Vec<u8> {
        let mut out = vec![0; 128];
        out.extend_from_slice(b"DICM");
        out.extend(element(2, 0x10, b"UI", b"1.2.840.10008.1.2.1\0", None));
        out.extend_from_slice(dataset);
        out
    }

    fn item(content: &[u8]) -> Vec<u8> {
        let mut out = [0xFFFEu16.to_le_bytes(), 0xE000u16.to_le_bytes()].concat();
        out.extend_from_slice(&(content.len() as u32).to_le_bytes());
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn lengths_inside_a_sequence_of_defined_length_are_checked() {
        let fine = element(0x10, 0x10, b"PN", b"DOE^J ", None);
        let lying = element(0x10, 0x10, b"OB", b"ab", Some(1 << 30));
        for (inner, ok) in [(fine, true), (lying, false)] {
            let items = item(&inner);
            let sq = element(0x8, 0x1140, b"SQ", &items, None);
            assert_eq!(check(&file(&sq), 1 << 20).is_ok(), ok);
        }
    }

    #[test]
    fn only_sequences_and_pixel_data_may_have_an_undefined_length() {
        let undefined = element(0x7F00, 0x10, b"OB", &[], Some(UNDEFINED));
        let e = check(&file(&undefined), 1 << 20).unwrap_err().to_string();
        assert!(
            e.contains("(7F00,0010) of VR OB has an undefined length"),
            "{e}"
        );
        // Encapsulated pixel data: fragments are skipped, not read as headers.
        let mut pixels = element(0x7FE0, 0x10, b"OB", &[], Some(UNDEFINED));
        pixels.extend(item(&[]));
        pixels.extend(item(&[
            0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]));
        pixels.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert!(check(&file(&pixels), 1 << 20).is_ok());
    }

    #[test]
    fn unknown_vrs_and_ragged_binary_values_are_refused() {
        let unknown = element(0x10, 0x20, b"\0\0", &[0; 4], None);
        assert!(check(&file(&unknown), 1 << 20).is_err());
        let ragged = element(0x28, 0x102, b"FL", &[15, 0], None);
        let e = check(&file(&ragged), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("not a multiple of 4"), "{e}");
    }

    /// An implicit VR little endian header and content, as a UN sequence holds them.
    fn implicit(tag: (u16, u16), length: u32, content: &[u8]) -> Vec<u8> {
        let mut out = [tag.0.to_le_bytes(), tag.1.to_le_bytes()].concat();
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(content);
        out
    }

    /// A UN element of undefined length holding one item of undefined length with one element.
    fn un_sequence() -> Vec<u8> {
        let content = [
            implicit(ITEM, UNDEFINED, &implicit((0x20, 0xE), 4, b"1.2\0")),
            implicit(ITEM_END, 0, &[]),
            implicit(SEQUENCE_END, 0, &[]),
        ]
        .concat();
        element(0x4453, 0x100C, b"UN", &content, Some(UNDEFINED))
    }

    #[test]
    fn a_un_sequence_of_undefined_length_is_walked_as_implicit_vr_and_cut_out() {
        let after = element(0x10, 0x10, b"PN", b"DOE^J ", None);
        let bytes = file(&[un_sequence(), after.clone()].concat());
        let start = bytes.len() - after.len() - un_sequence().len();
        let cuts = check(&bytes, 1 << 20).unwrap();
        assert_eq!(cuts, vec![start..start + un_sequence().len()]);
        // Inside a sequence of defined length a cut would break that length: refused.
        let sq = element(0x8, 0x1140, b"SQ", &item(&un_sequence()), None);
        let e = check(&file(&sq), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("(4453,100C) of VR UN"), "{e}");
        // An item inside that declares more than the file holds is refused, not skipped.
        let mut lying = un_sequence();
        let at = lying.len() - 8 - 8 - 4 - 4;
        lying[at..at + 4].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let e = check(&file(&lying), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("past the end of the file"), "{e}");
    }

    /// Fuzz finding: after a sequence delimiter inside an item, an item the walk went into as a
    /// data set and the parser read as bytes. Structure the standard does not allow is refused,
    /// wherever it stands; what it allows is walked as the parser reads it.
    #[test]
    fn structure_the_standard_does_not_allow_is_refused() {
        let leaf = element(0x10, 0x10, b"PN", b"DOE^J ", None);
        let undefined_sq = |content: &[u8]| {
            let mut sq = element(0x8, 0x1140, b"SQ", &[], Some(UNDEFINED));
            sq.extend_from_slice(content);
            sq
        };
        let item_undefined = |content: &[u8]| {
            [
                implicit(ITEM, UNDEFINED, content),
                implicit(ITEM_END, 0, &[]),
            ]
            .concat()
        };
        let end = implicit(SEQUENCE_END, 0, &[]);
        let good = undefined_sq(&[item_undefined(&leaf), item(&leaf), end.clone()].concat());
        assert!(check(&file(&good), 1 << 20).is_ok());
        let refused = [
            (
                item(&leaf),
                "an item (FFFE,E000) where a data set element belongs",
            ),
            (
                undefined_sq(&[leaf.clone(), end.clone()].concat()),
                "element (0010,0010) where an item",
            ),
            (
                undefined_sq(
                    &[implicit(
                        ITEM,
                        UNDEFINED,
                        &[leaf.clone(), end.clone()].concat(),
                    )]
                    .concat(),
                ),
                "a sequence delimiter (FFFE,E0DD) where a data set element belongs",
            ),
            (
                [
                    element(0x8, 0x1140, b"SQ", &implicit(ITEM, UNDEFINED, &leaf), None),
                    leaf.clone(),
                ]
                .concat(),
                "runs past the end of the one of defined length",
            ),
            (
                [
                    element(
                        0x8,
                        0x1140,
                        b"SQ",
                        &item(&[leaf.clone(), leaf.clone()].concat())[..20],
                        None,
                    ),
                    leaf.clone(),
                    leaf.clone(),
                ]
                .concat(),
                "past the end of the item or sequence it is in",
            ),
        ];
        for (dataset, want) in refused {
            let e = check(&file(&dataset), 1 << 20).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    /// Fuzz finding: in implicit VR, an unknown element of defined length whose value starts
    /// like an item. The walk went into it as a sequence, where a length inside carried it past
    /// the next element; the parser reads such a value as bytes and then that element, which
    /// declared 2.9 GB.
    #[test]
    fn an_unknown_implicit_element_is_passed_as_bytes_whatever_it_holds() {
        let mut out = vec![0; 128];
        out.extend_from_slice(b"DICM");
        out.extend(element(2, 0x10, b"UI", b"1.2.840.10008.1.2\0", None));
        let looks_like_an_item = implicit(ITEM, 1 << 30, &[0; 8]);
        out.extend(implicit((0xFAFE, 0x200D), 16, &looks_like_an_item));
        let fine = check(&out, 1 << 20);
        assert!(fine.is_ok(), "{fine:?}");
        out.extend(implicit((0x6C4F, 0x73A5), 0xB0B1_C1BD, &[0; 4]));
        let e = check(&out, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("(6C4F,73A5) declares 2964439485 bytes"), "{e}");
    }

    /// Fuzz finding: a sequence delimiter at the top level declaring 822 MB, which the parser
    /// reserved.
    #[test]
    fn a_delimiter_that_declares_a_value_is_refused() {
        let last = element(0x10, 0x10, b"PN", b"DOE^J ", None);
        for tag in [SEQUENCE_END, ITEM_END] {
            let delimiter = implicit(tag, 0x3100_0001, &[]);
            let e = check(&file(&[last.clone(), delimiter].concat()), 1 << 20)
                .unwrap_err()
                .to_string();
            assert!(e.contains("declares a value of 822083585 bytes"), "{e}");
        }
    }

    #[test]
    fn zero_padding_after_the_last_element_is_cut_and_other_bytes_are_not() {
        let last = element(0x10, 0x10, b"PN", b"DOE^J ", None);
        let bytes = file(&[last.clone(), vec![0; 100]].concat());
        assert_eq!(
            check(&bytes, 1 << 20).unwrap(),
            vec![bytes.len() - 100..bytes.len()]
        );
        let short = file(&[last.clone(), vec![7; 5]].concat());
        assert_eq!(check(&short, 1 << 20).unwrap().len(), 1);
        let garbage = file(&[last, vec![0, 0, 0, 0, 9, 9, 9, 9, 9, 9]].concat());
        assert!(check(&garbage, 1 << 20).is_err());
    }
}
