//! Raw decoded sample bytes → the frame's stored integers.
//!
//! Codecs and native data hand over samples in 8- or 16-bit containers; the stored value is the
//! `bits_stored`-wide field that ends at `high_bit`. Signed values are moved to offset binary
//! (value + 32768) so that every frame is `u16`: differences, and therefore every pair sum, are
//! unchanged by that shift, and both engines work on one pixel type.

use crate::error::{FileError, FileResult};

/// How the stored values sit inside their containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleLayout {
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
}

impl SampleLayout {
    /// Bytes one sample occupies in decoded data (1-bit samples arrive unpacked, one per byte).
    pub fn bytes_per_sample(&self) -> usize {
        if self.bits_allocated <= 8 {
            1
        } else {
            2
        }
    }

    /// Checks the layout once per file, so that extraction cannot shift or mask out of range.
    pub fn validate(&self) -> FileResult<()> {
        let SampleLayout {
            bits_allocated: ba,
            bits_stored: bs,
            high_bit: hb,
            ..
        } = *self;
        if !matches!(ba, 1 | 8 | 16) {
            return Err(FileError::Unsupported(format!(
                "Bits Allocated is {ba}: only 1, 8 and 16 are supported (at most 16 bits per pixel)"
            )));
        }
        if bs == 0 || bs > ba {
            return Err(FileError::Unsupported(format!(
                "Bits Stored is {bs} with Bits Allocated {ba}: stored bits must be 1..={ba}"
            )));
        }
        if hb < bs - 1 || hb >= ba {
            return Err(FileError::Unsupported(format!(
                "High Bit is {hb} with Bits Stored {bs} and Bits Allocated {ba}"
            )));
        }
        Ok(())
    }

    /// Extracts `count` stored values from decoded bytes (little-endian containers).
    pub fn extract(&self, data: &[u8], count: usize) -> FileResult<Vec<u16>> {
        let need = count * self.bytes_per_sample();
        if data.len() < need {
            return Err(FileError::PixelData(format!(
                "decoded frame holds {} bytes but Rows × Columns needs {need}",
                data.len()
            )));
        }
        if self.bits_allocated == 1 {
            // The decoder unpacks each bit to 0 or 255; the stored value is the bit itself.
            return Ok(data[..count].iter().map(|&b| u16::from(b != 0)).collect());
        }
        let shift = u32::from(self.high_bit + 1 - self.bits_stored);
        let mask: u32 = (1u32 << self.bits_stored) - 1;
        let sign_bit: u32 = 1u32 << (self.bits_stored - 1);
        let signed = self.signed;
        let convert = move |raw: u32| -> u16 {
            let v = (raw >> shift) & mask;
            if signed {
                // Sign-extend from bits_stored, then move to offset binary.
                let value = v as i32
                    - if v & sign_bit != 0 {
                        (mask + 1) as i32
                    } else {
                        0
                    };
                (value + 32768) as u16
            } else {
                v as u16
            }
        };
        let out = if self.bytes_per_sample() == 1 {
            data[..count]
                .iter()
                .map(|&b| convert(u32::from(b)))
                .collect()
        } else {
            data[..need]
                .chunks_exact(2)
                .map(|c| convert(u32::from(u16::from_le_bytes([c[0], c[1]]))))
                .collect()
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(ba: u16, bs: u16, hb: u16, signed: bool) -> SampleLayout {
        SampleLayout {
            bits_allocated: ba,
            bits_stored: bs,
            high_bit: hb,
            signed,
        }
    }

    #[test]
    fn twelve_bit_signed_values_are_sign_extended_and_offset() {
        // -1 and -2048 in 12 bits, with garbage in the unused top nibble.
        let raw = [0xFFu8, 0xFF, 0x00, 0xF8];
        let v = layout(16, 12, 11, true).extract(&raw, 2).unwrap();
        assert_eq!(v, vec![32767, 32768 - 2048]);
    }

    #[test]
    fn unused_high_bits_are_masked_away() {
        let raw = [0x34u8, 0xF2];
        let v = layout(16, 12, 11, false).extract(&raw, 1).unwrap();
        assert_eq!(v, vec![0x234]);
    }

    #[test]
    fn a_high_bit_below_the_top_shifts_the_field() {
        // 8 stored bits at bits 4..=11.
        let raw = [0xA0u8, 0x0B];
        let v = layout(16, 8, 11, false).extract(&raw, 1).unwrap();
        assert_eq!(v, vec![0xBA]);
    }

    #[test]
    fn short_data_is_an_error_not_a_panic() {
        let err = layout(16, 16, 15, false).extract(&[0u8; 3], 2).unwrap_err();
        assert!(err.to_string().contains("needs 4"));
    }

    #[test]
    fn impossible_layouts_are_rejected() {
        assert!(layout(32, 32, 31, false).validate().is_err());
        assert!(layout(16, 17, 16, false).validate().is_err());
        assert!(layout(16, 12, 15, false).validate().is_ok());
        assert!(layout(16, 12, 10, false).validate().is_err());
    }
}
