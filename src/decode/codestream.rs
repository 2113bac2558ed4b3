//! The image size a compressed frame declares inside its own codestream.
//!
//! JPEG, JPEG-LS and JPEG 2000 decoders size their buffers from the codestream's header, not
//! from the DICOM Rows and Columns, and the decoders in use copy their output into a buffer of
//! the DICOM size without checking. A codestream that declares another size can therefore make
//! them allocate what it likes or write past the buffer; reading the declared size first (a few
//! header bytes, no allocation) lets such a frame be refused instead.

/// (rows, columns, components) declared by a JPEG-family or JPEG 2000 codestream starting at
/// `data[0]`; `None` when `data` does not start with one or its header cannot be read.
pub fn declared_size(data: &[u8]) -> Option<(u32, u32, u32)> {
    match data.get(..2)? {
        [0xFF, 0xD8] => jpeg(data),
        [0xFF, 0x4F] => jpeg2000(data),
        _ => None,
    }
}

fn be16(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 2)?;
    Some(u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Walks JPEG marker segments to the first start-of-frame (SOF0–SOF15 but DHT, JPG and DAC;
/// SOF55 for JPEG-LS), before any scan, resynchronising on the next marker where a segment's
/// length is wrong, as decoders do.
fn jpeg(data: &[u8]) -> Option<(u32, u32, u32)> {
    let mut at = 2;
    loop {
        // Decoders skip bytes between segments to the next marker; so does this.
        if *data.get(at)? != 0xFF {
            at += 1;
            continue;
        }
        let marker = *data.get(at + 1)?;
        match marker {
            0xFF => at += 1, // fill byte
            0x01 | 0xD0..=0xD7 => at += 2,
            0xC0..=0xCF | 0xF7 if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let rows = be16(data, at + 5)?;
                let cols = be16(data, at + 7)?;
                return Some((rows, cols, u32::from(*data.get(at + 9)?)));
            }
            0xDA | 0xD9 => return None, // a scan or the end before any frame header
            _ => at += 2 + be16(data, at + 2)? as usize,
        }
    }
}

/// The SIZ segment, which must follow the start of codestream: image extent less its offset.
fn jpeg2000(data: &[u8]) -> Option<(u32, u32, u32)> {
    if data.get(2..4)? != [0xFF, 0x51] {
        return None;
    }
    let cols = be32(data, 8)?.checked_sub(be32(data, 16)?)?;
    let rows = be32(data, 12)?.checked_sub(be32(data, 20)?)?;
    Some((rows, cols, be16(data, 40)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_frame_header_gives_its_size_after_other_segments() {
        // SOI, an APP0 of 4 bytes, fill, SOF1: precision 12, 300 rows, 200 columns, 1 component.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xFF, 0xC1, 0x00, 0x0B, 12, 0x01,
            0x2C, 0x00, 0xC8, 0x01,
        ];
        assert_eq!(declared_size(&jpeg), Some((300, 200, 1)));
        assert_eq!(declared_size(&jpeg[..14]), None, "cut inside the header");
        let mut huffman_first = jpeg;
        huffman_first[3] = 0xC4; // a DHT segment is not a frame header
        assert_eq!(declared_size(&huffman_first), Some((300, 200, 1)));
        assert_eq!(declared_size(&[0x00, 0x01, 0x02]), None);
        let mut short_app0 = jpeg;
        short_app0[5] = 0x02; // its length now ends inside its data; the SOF is found anyway
        assert_eq!(declared_size(&short_app0), Some((300, 200, 1)));
    }

    #[test]
    fn a_jpeg2000_siz_gives_the_extent_less_the_offset() {
        let mut j2k = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00];
        for v in [210u32, 110, 10, 10, 200, 100, 0, 0] {
            j2k.extend_from_slice(&v.to_be_bytes());
        }
        j2k.extend_from_slice(&1u16.to_be_bytes());
        assert_eq!(declared_size(&j2k), Some((100, 200, 1)));
    }
}
