//! RLE Lossless fragments checked before the decoder sees them.
//!
//! The RLE decoder trusts a fragment's header: it slices the segment table by the count it
//! declares and copies as many bytes per plane as the image has pixels, whatever a segment
//! decodes to. A fragment that says otherwise panics it. These checks walk the header and each
//! segment's PackBits runs without allocating, and refuse what would mislead it.

/// The RLE Lossless transfer syntax.
pub const TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.5";

/// Bytes of the fragment header: the segment count and 15 offsets.
const HEADER: usize = 64;

/// Checks that `fragment` holds `planes` segments (one per byte of a sample) that each decode
/// to at least `pixels` bytes.
/// The error says what is wrong with the fragment.
pub fn check_fragment(fragment: &[u8], planes: usize, pixels: usize) -> Result<(), String> {
    let bad = |what: String| Err(what);
    if fragment.len() < HEADER {
        return bad(format!("{} bytes, shorter than its header", fragment.len()));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            fragment[4 * i],
            fragment[4 * i + 1],
            fragment[4 * i + 2],
            fragment[4 * i + 3],
        ]) as usize
    };
    let count = word(0);
    if !(planes..=15).contains(&count) {
        return bad(format!("{count} segments; this image needs {planes}"));
    }
    let mut bounds: Vec<usize> = (1..=count).map(word).collect();
    bounds.push(fragment.len());
    for (plane, ends) in bounds.windows(2).take(planes).enumerate() {
        let (start, end) = (ends[0], ends[1]);
        if start < HEADER || start > end || end > fragment.len() {
            return bad(format!(
                "segment {} lies at bytes {start}..{end}",
                plane + 1
            ));
        }
        let decoded = packbits_len(&fragment[start..end]);
        if decoded < pixels {
            return bad(format!(
                "segment {} decodes to {decoded} bytes; the image has {pixels} pixels",
                plane + 1
            ));
        }
    }
    Ok(())
}

/// Bytes a PackBits segment decodes to, counting a literal run cut short by the segment's end
/// as only the bytes present.
fn packbits_len(segment: &[u8]) -> usize {
    let (mut at, mut out) = (0, 0);
    while at < segment.len() {
        let n = segment[at] as i8;
        at += 1;
        match n {
            0..=127 => {
                let run = n as usize + 1;
                out += run.min(segment.len() - at);
                at += run;
            }
            -127..=-1 if at < segment.len() => {
                out += (1 - n as isize) as usize;
                at += 1;
            }
            _ => {} // -128 is a no-op; a repeat without its byte adds nothing
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(segments: &[&[u8]]) -> Vec<u8> {
        let mut out = (segments.len() as u32).to_le_bytes().to_vec();
        let mut offset = HEADER;
        for i in 0..15 {
            let at = segments.get(i).map_or(0, |_| offset as u32);
            out.extend_from_slice(&at.to_le_bytes());
            offset += segments.get(i).map_or(0, |s| s.len());
        }
        segments.iter().for_each(|s| out.extend_from_slice(s));
        out
    }

    #[test]
    fn packbits_runs_are_counted_as_decoded() {
        // A literal of 3, a repeat of 4, a no-op, a literal cut short (2 of 5 present).
        assert_eq!(
            packbits_len(&[2, 1, 2, 3, 0xFD, 9, 0x80, 4, 7, 7]),
            3 + 4 + 2
        );
        assert_eq!(packbits_len(&[0xFD]), 0, "a repeat without its byte");
    }

    #[test]
    fn a_fragment_is_refused_unless_each_plane_decodes_to_the_image() {
        let four = [0xFDu8, 7]; // four 7s
        assert!(check_fragment(&fragment(&[&four, &four]), 2, 4).is_ok());
        let e = check_fragment(&fragment(&[&four]), 2, 4).unwrap_err();
        assert!(e.contains("1 segments; this image needs 2"), "{e}");
        let e = check_fragment(&fragment(&[&four]), 1, 5).unwrap_err();
        assert!(e.contains("decodes to 4 bytes; the image has 5"), "{e}");
        let mut lying = fragment(&[&four]);
        lying[4..8].copy_from_slice(&1000u32.to_le_bytes());
        let e = check_fragment(&lying, 1, 4).unwrap_err();
        assert!(e.contains("segment 1 lies at bytes 1000"), "{e}");
        assert!(
            check_fragment(&[1, 0, 0], 1, 1).is_err(),
            "shorter than a header"
        );
    }
}
