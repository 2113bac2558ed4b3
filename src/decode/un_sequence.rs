//! The value of a VR UN element of undefined length: an implicit VR little endian sequence,
//! whatever the file's own syntax (PS3.5 6.2.2), walked to find where it ends.
//!
//! The parser would read it in the file's syntax and lose its place, so the guard leaves the
//! whole element out of what the parser sees; this walk only has to find its end exactly and
//! refuse any length that runs past the file. Its content is private data no score reads.

use super::element::{read_u16, read_u32, ITEM, ITEM_END, SEQUENCE_END, UNDEFINED};

/// Nesting deeper than this inside a UN sequence is refused rather than walked.
const MAX_DEPTH: usize = 32;

/// Where the sequence whose items start at `pos` ends: just after its delimiter.
pub fn end(bytes: &[u8], pos: usize) -> Result<usize, String> {
    sequence_end(bytes, pos, 0)
}

/// The end of an implicit VR sequence's items, from `pos` to just after its delimiter.
fn sequence_end(bytes: &[u8], mut pos: usize, depth: usize) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(format!("its sequences nest deeper than {MAX_DEPTH}"));
    }
    loop {
        let (tag, length, start) = implicit_header(bytes, pos)?;
        pos = match (tag, length) {
            (SEQUENCE_END, _) => return Ok(start),
            (ITEM, UNDEFINED) => item_end(bytes, start, depth + 1)?,
            (ITEM, length) => defined_end(bytes, tag, length, start)?,
            ((g, e), _) => return Err(format!("({g:04X},{e:04X}) where an item was expected")),
        };
    }
}

/// The end of an implicit VR item of undefined length, just after its delimiter.
fn item_end(bytes: &[u8], mut pos: usize, depth: usize) -> Result<usize, String> {
    loop {
        let (tag, length, start) = implicit_header(bytes, pos)?;
        pos = match (tag, length) {
            (ITEM_END, _) => return Ok(start),
            (_, UNDEFINED) => sequence_end(bytes, start, depth + 1)?,
            _ => defined_end(bytes, tag, length, start)?,
        };
    }
}

/// An implicit VR little endian header at `pos`: tag, length, where the value starts.
fn implicit_header(bytes: &[u8], pos: usize) -> Result<((u16, u16), u32, usize), String> {
    if pos + 8 > bytes.len() {
        return Err("it runs past the end of the file without its delimiter".into());
    }
    let tag = (read_u16(bytes, pos, false), read_u16(bytes, pos + 2, false));
    Ok((tag, read_u32(bytes, pos + 4, false), pos + 8))
}

fn defined_end(
    bytes: &[u8],
    (group, element): (u16, u16),
    length: u32,
    start: usize,
) -> Result<usize, String> {
    let end = start + length as usize;
    if end > bytes.len() {
        return Err(format!(
            "({group:04X},{element:04X}) inside it declares {length} bytes past the end of the file"
        ));
    }
    Ok(end)
}
