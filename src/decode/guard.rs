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

use super::element::{
    name, read_header, read_u16, read_u32, value_end, Encoding, Header, ITEM, ITEM_END, PIXEL_DATA,
    SEQUENCE_END, UNDEFINED,
};
use super::un_sequence;
use crate::error::{FileError, FileResult};

/// Checks every element header of a whole DICOM file (preamble included) against its length,
/// and returns the byte ranges the parser must not see (padding, UN sequences), in order.
///
/// A deflated data set is inflated here first, to at most `max_inflated` bytes, and its headers
/// checked against the inflated bytes: a few kilobytes of deflate stream can otherwise declare
/// gigabytes the parser would reserve before finding the stream ends.
pub fn check(bytes: &[u8], max_inflated: u64) -> FileResult<Vec<Range<usize>>> {
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err(FileError::NotDicom("no DICM preamble".into()));
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
        return Err(FileError::Malformed(format!(
            "the file meta group's length says it ends at byte {}, its elements at byte {pos}",
            declared_end.unwrap_or_default()
        )));
    }
    let encoding = match ts.as_str() {
        "" => {
            return Err(FileError::Malformed(
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
                Some(cut) => Err(FileError::Unsupported(format!(
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
fn inflate(stream: &[u8], max_inflated: u64) -> FileResult<Vec<u8>> {
    use std::io::Read;
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(stream)
        .take(max_inflated.saturating_add(1))
        .read_to_end(&mut inflated)
        .map_err(|e| FileError::Malformed(format!("deflated data set: {e}")))?;
    if inflated.len() as u64 > max_inflated {
        return Err(FileError::TooLarge(format!(
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
fn check_dataset(
    bytes: &[u8],
    mut pos: usize,
    encoding: Encoding,
) -> FileResult<Vec<Range<usize>>> {
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
            return Err(FileError::Malformed(format!(
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
                        return Err(FileError::Unsupported(format!(
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
) -> FileResult<usize> {
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
) -> FileResult<usize> {
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
) -> FileResult<Step> {
    let sequence = header.vr == *b"SQ" || (header.vr == *b"  " && encoding == Encoding::ImplicitLe);
    let step = match (header.tag, header.length) {
        (ITEM_END, 0) if matches!(open.last(), Some(Open::Item { end: None })) => {
            open.pop();
            Step::To(header.value_start)
        }
        // The parser passes a stray item delimiter at the top level.
        (ITEM_END, 0) if open.is_empty() => Step::To(header.value_start),
        (tag @ (0xFFFE, _), length) => return Err(misplaced(tag, length, "a data set element")),
        // The parser takes VR SQ before anything else, Pixel Data included.
        (_, UNDEFINED) if header.vr == *b"SQ" => {
            open.push(Open::Sequence { end: None });
            Step::To(header.value_start)
        }
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
            return Err(FileError::Malformed(format!(
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
fn misplaced(tag: (u16, u16), length: u32, expected: &str) -> FileError {
    let what = match tag {
        ITEM => "an item",
        ITEM_END | SEQUENCE_END if length != 0 => {
            // A delimiter has no value (PS3.5 7.5); the parser would read the length it declares.
            return FileError::Malformed(format!(
                "delimiter {} declares a value of {length} bytes",
                name(tag)
            ));
        }
        ITEM_END => "an item delimiter",
        SEQUENCE_END => "a sequence delimiter",
        (0xFFFE, element) => {
            return FileError::Malformed(format!(
                "(FFFE,{element:04X}) is neither an item nor a delimiter"
            ))
        }
        _ => "element",
    };
    FileError::Malformed(format!("{what} {} where {expected} belongs", name(tag)))
}

/// Trailing bytes that form no element: zeros (padding to a block size), or fewer than an
/// element header needs. A real element never starts with tag (0000,0000).
fn is_padding(rest: &[u8]) -> bool {
    rest.len() < 8 || (rest[..4] == [0; 4] && rest.iter().all(|&b| b == 0))
}

/// Where a UN element of undefined length ends: after the delimiter of the implicit VR little
/// endian sequence its value is.
fn un_sequence_end(bytes: &[u8], header: &Header) -> FileResult<usize> {
    let (group, element) = header.tag;
    un_sequence::end(bytes, header.value_start).map_err(|why| {
        FileError::Malformed(format!(
            "element ({group:04X},{element:04X}) of VR UN with undefined length: {why}"
        ))
    })
}

#[cfg(test)]
mod tests;
