//! A DICOM RLE Lossless encoder (PS3.5 Annex G), so phantoms can be written in that syntax.
//!
//! Each frame becomes one fragment: a 64-byte header listing the segment offsets, then one
//! PackBits-compressed segment per byte plane, most significant plane first, with every row
//! encoded on its own as the standard requires.

/// Encodes one frame of little-endian samples (`bytes_per_sample` 1 or 2) of `cols` per row.
pub fn encode_frame(samples: &[u8], bytes_per_sample: usize, cols: usize) -> Vec<u8> {
    let segments: Vec<Vec<u8>> = (0..bytes_per_sample)
        .rev()
        .map(|plane| {
            let bytes: Vec<u8> = samples
                .chunks_exact(bytes_per_sample)
                .map(|s| s[plane])
                .collect();
            let mut segment: Vec<u8> = bytes.chunks(cols.max(1)).flat_map(pack_bits).collect();
            if segment.len() % 2 == 1 {
                segment.push(0);
            }
            segment
        })
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    let mut offset = 64u32;
    for i in 0..15 {
        let value = segments.get(i).map_or(0, |_| offset);
        out.extend_from_slice(&value.to_le_bytes());
        if let Some(s) = segments.get(i) {
            offset += s.len() as u32;
        }
    }
    for s in segments {
        out.extend_from_slice(&s);
    }
    out
}

/// PackBits: a header byte n ≥ 0 copies the next n + 1 bytes; 1 − n for negative n repeats the
/// next byte.
fn pack_bits(row: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + row.len() / 64 + 2);
    let mut i = 0;
    while i < row.len() {
        let run = row[i..]
            .iter()
            .take(128)
            .take_while(|&&b| b == row[i])
            .count();
        if run >= 2 {
            out.push((257 - run) as u8);
            out.push(row[i]);
            i += run;
            continue;
        }
        let mut j = i + 1;
        while j < row.len() && j - i < 128 && !(j + 1 < row.len() && row[j] == row[j + 1]) {
            j += 1;
        }
        out.push((j - i - 1) as u8);
        out.extend_from_slice(&row[i..j]);
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoder side of PackBits, to check the encoder round-trips.
    fn unpack(mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some((&n, rest)) = data.split_first() {
            let n = n as i8;
            if n >= 0 {
                let len = n as usize + 1;
                if rest.len() < len {
                    break; // the even-length pad byte
                }
                out.extend_from_slice(&rest[..len]);
                data = &rest[len..];
            } else if n != -128 {
                out.extend(std::iter::repeat_n(rest[0], (1 - n as isize) as usize));
                data = &rest[1..];
            } else {
                data = rest;
            }
        }
        out
    }

    #[test]
    fn pack_bits_round_trips_runs_literals_and_long_rows() {
        let mut row = vec![1u8, 2, 3, 3, 3, 3, 4, 5, 5];
        row.extend(std::iter::repeat_n(9u8, 300));
        row.extend((0..=255u8).cycle().take(400));
        assert_eq!(unpack(&pack_bits(&row)), row);
    }

    #[test]
    fn the_header_points_at_each_plane() {
        let samples = [0x34u8, 0x12, 0x78, 0x56];
        let frag = encode_frame(&samples, 2, 2);
        assert_eq!(u32::from_le_bytes(frag[0..4].try_into().unwrap()), 2);
        let first = u32::from_le_bytes(frag[4..8].try_into().unwrap()) as usize;
        let second = u32::from_le_bytes(frag[8..12].try_into().unwrap()) as usize;
        assert_eq!(first, 64);
        assert_eq!(&unpack(&frag[first..second])[..2], &[0x12, 0x56]);
        assert_eq!(&unpack(&frag[second..])[..2], &[0x34, 0x78]);
    }
}
