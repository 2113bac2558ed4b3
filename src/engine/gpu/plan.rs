//! How frames are cut to fit the device: bands of rows, the tiles of each region in a band, and
//! batches of tiles.
//!
//! Nothing here touches wgpu, so the arithmetic that decides what the shader sees is tested on
//! any machine. A frame is uploaded once for all of its regions ([`Window`]s); each region's
//! tiles read the frame's rows at its own columns. A frame too large for one batch is cut into
//! bands of whole rows; each band also carries the `max_lag` rows below it, so its vertical pairs
//! reach their partners, but counts only the pairs that start in its own rows. Every pair is
//! therefore counted exactly once.

use std::ops::Range;

use bytemuck::{Pod, Zeroable};

use crate::error::{FileError, FileResult};

/// Pixels one workgroup sums at one lag: 64 per invocation, enough work per workgroup to hide
/// the reduction, few enough that a DXA image spreads over many workgroups.
pub const TILE_PIXELS: usize = 256 * 64;

/// How a frame's stored values are packed into the shader's 32-bit words, the first value in the
/// lowest bits. A frame whose values all fit a byte travels as bytes: half the upload, and half
/// the words each workgroup reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Two 16-bit values a word.
    Halves,
    /// Four 8-bit values a word.
    Bytes,
}

impl Packing {
    /// Values per word.
    pub fn per_word(self) -> usize {
        match self {
            Packing::Halves => 2,
            Packing::Bytes => 4,
        }
    }

    /// The tile's `pixel_shift`: log2 of the values per word.
    fn shift(self) -> u32 {
        self.per_word().trailing_zeros()
    }
}

/// What one batch may hold. Set from the adapter's limits when the engine opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Packed pixel words (two or four pixels each) in one batch.
    pub pixel_words: usize,
    /// Mask words (32 pixels each) in one batch.
    pub mask_words: usize,
    /// Tiles in one batch: workgroups along the dispatch's x dimension.
    pub tiles: usize,
    /// Per-workgroup partial sums in one batch: tiles × 2 × max_lag.
    pub partials: usize,
}

impl Capacity {
    /// The most tiles one batch can hold at `max_lag`.
    pub fn tiles_at(&self, max_lag: usize) -> usize {
        self.tiles.min(self.partials / (2 * max_lag))
    }
}

/// A region's bounding box in the uploaded rows, and whether only some of its pixels count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub top: usize,
    pub left: usize,
    pub rows: usize,
    pub cols: usize,
    pub masked: bool,
}

impl Window {
    /// The window's rows that lie in `rows`.
    fn rows_in(&self, rows: Range<usize>) -> Range<usize> {
        let start = rows.start.max(self.top);
        start..rows.end.min(self.top + self.rows).max(start)
    }
}

/// A run of whole rows of one frame, as uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// First frame row uploaded.
    pub first_row: usize,
    /// Rows uploaded: the counted rows and up to `max_lag` rows below them.
    pub rows: usize,
    /// Rows whose pairs this band counts (the first `counted` of its rows).
    pub counted: usize,
}

impl Band {
    fn uploaded(&self) -> Range<usize> {
        self.first_row..self.first_row + self.rows
    }

    fn counting(&self) -> Range<usize> {
        self.first_row..self.first_row + self.counted
    }

    /// Packed words of this band's pixels, rounded up to whole words.
    pub fn words(&self, cols: usize, packing: Packing) -> usize {
        (self.rows * cols).div_ceil(packing.per_word())
    }

    /// The rows of a window whose mask bits this band carries: those uploaded.
    pub fn mask_rows(&self, w: &Window) -> Range<usize> {
        w.rows_in(self.uploaded())
    }

    /// Mask words of one window in this band: its uploaded rows, from a fresh word; none when
    /// the window is not masked or has no tiles here.
    pub fn mask_words(&self, w: &Window) -> usize {
        if w.masked && self.tiles(w) > 0 {
            (self.mask_rows(w).len() * w.cols).div_ceil(32)
        } else {
            0
        }
    }

    /// Tiles of one window in this band.
    pub fn tiles(&self, w: &Window) -> usize {
        w.rows_in(self.counting())
            .len()
            .div_ceil(rows_per_tile(w.cols))
    }

    /// Whether this band, with all of `windows`, fits an empty batch.
    fn fits(&self, frame: Stored, windows: &[Window], max_lag: usize, cap: &Capacity) -> bool {
        let masks: usize = windows.iter().map(|w| self.mask_words(w)).sum();
        let tiles: usize = windows.iter().map(|w| self.tiles(w)).sum();
        self.words(frame.cols, frame.packing) <= cap.pixel_words
            && masks <= cap.mask_words
            && tiles <= cap.tiles_at(max_lag)
    }
}

/// Rows per tile: whole rows, about [`TILE_PIXELS`] pixels.
pub fn rows_per_tile(cols: usize) -> usize {
    (TILE_PIXELS / cols.max(1)).max(1)
}

/// The uploaded rows of a frame: their size and how their values are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub rows: usize,
    pub cols: usize,
    pub packing: Packing,
}

/// Cuts a frame's uploaded rows holding `windows` into bands that each fit an empty batch: as
/// few as possible, all but the last counting the same number of rows.
pub fn bands(
    frame: Stored,
    windows: &[Window],
    max_lag: usize,
    cap: &Capacity,
) -> FileResult<Vec<Band>> {
    let Stored { rows, cols, .. } = frame;
    let cut = |step: usize| -> Vec<Band> {
        (0..rows)
            .step_by(step.max(1))
            .map(|first_row| {
                let counted = step.min(rows - first_row);
                Band {
                    first_row,
                    rows: (counted + max_lag).min(rows - first_row),
                    counted,
                }
            })
            .collect()
    };
    let all_fit = |step: usize| {
        cut(step)
            .iter()
            .all(|b| b.fits(frame, windows, max_lag, cap))
    };
    if all_fit(rows) {
        return Ok(cut(rows));
    }
    // Taller bands cost more, so the tallest that fits is found by bisection: `fits` holds a
    // step known to fit (0 when none is yet), `fails` one known not to.
    let (mut fits, mut fails) = (0, rows);
    while fails - fits > 1 {
        let mid = (fits + fails) / 2;
        if all_fit(mid) {
            fits = mid;
        } else {
            fails = mid;
        }
    }
    if fits == 0 {
        return Err(FileError::Gpu(format!(
            "a {rows} × {cols} frame at lag {max_lag} does not fit this adapter's buffers"
        )));
    }
    Ok(cut(fits))
}

/// One tile as the shader reads it (`Tile` in `shaders/variogram.wgsl`): rows of one window in
/// one band.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct TileDesc {
    /// Word of the band's first pixel in the batch.
    pub word_offset: u32,
    /// Pixels per band row: the frame's width.
    pub stride: u32,
    /// The window's first column and width.
    pub left: u32,
    pub cols: u32,
    /// The tile counts pairs starting in band rows [first_row, first_row + row_count).
    pub first_row: u32,
    pub row_count: u32,
    /// Band row after the window's last uploaded row: vertical partners lie above it.
    pub rows_end: u32,
    /// Mask bit of the tile's first pixel (row `first_row`, column `left`); mask rows are
    /// `cols` bits apart.
    pub mask_base: u32,
    /// 1 when only pairs of pixels whose mask bits are set count, else 0.
    pub masked: u32,
    /// log2 of the band's values per word: 1 for 16-bit halves, 2 for bytes.
    pub pixel_shift: u32,
}

/// Where one window's pixels and mask bits sit in a batch.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    /// Word of the band's first pixel.
    pub word_offset: usize,
    /// Bit of the window's first uploaded row's first pixel.
    pub mask_offset: usize,
    /// How the band's values are packed.
    pub packing: Packing,
}

/// The tiles of one window in a band of a frame `stride` pixels wide.
pub fn tiles(band: &Band, stride: usize, w: &Window, at: Placed) -> impl Iterator<Item = TileDesc> {
    let per_tile = rows_per_tile(w.cols);
    let counted = w.rows_in(band.counting());
    let first_mask_row = band.mask_rows(w).start;
    let rows_end = (w.top + w.rows)
        .min(band.first_row + band.rows)
        .saturating_sub(band.first_row);
    let band_start = band.first_row;
    let w = *w;
    counted.clone().step_by(per_tile).map(move |row| TileDesc {
        word_offset: at.word_offset as u32,
        stride: stride as u32,
        left: w.left as u32,
        cols: w.cols as u32,
        first_row: (row - band_start) as u32,
        row_count: per_tile.min(counted.end - row) as u32,
        rows_end: rows_end as u32,
        mask_base: (at.mask_offset + (row - first_mask_row) * w.cols) as u32,
        masked: u32::from(w.masked),
        pixel_shift: at.packing.shift(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOMY: Capacity = Capacity {
        pixel_words: 1 << 24,
        mask_words: 1 << 22,
        tiles: 65535,
        partials: 1 << 20,
    };

    fn halves(rows: usize, cols: usize) -> Stored {
        Stored {
            rows,
            cols,
            packing: Packing::Halves,
        }
    }

    fn whole(rows: usize, cols: usize) -> Window {
        Window {
            top: 0,
            left: 0,
            rows,
            cols,
            masked: false,
        }
    }

    #[test]
    fn a_frame_that_fits_is_one_band() {
        let b = bands(halves(716, 780), &[whole(716, 780)], 16, &ROOMY).unwrap();
        assert_eq!(
            b,
            vec![Band {
                first_row: 0,
                rows: 716,
                counted: 716
            }]
        );
    }

    #[test]
    fn bands_count_every_row_once_and_reach_max_lag_rows_below() {
        let cap = Capacity {
            pixel_words: 5000,
            ..ROOMY
        };
        let (rows, cols, lag) = (1000, 99, 7);
        let b = bands(halves(rows, cols), &[whole(rows, cols)], lag, &cap).unwrap();
        assert!(b.len() > 1);
        let mut next = 0;
        for band in &b {
            assert_eq!(band.first_row, next);
            assert!(band.words(cols, Packing::Halves) <= cap.pixel_words);
            let below = rows - band.first_row - band.counted;
            assert_eq!(band.rows - band.counted, below.min(lag));
            next += band.counted;
        }
        assert_eq!(next, rows);
    }

    #[test]
    fn bytes_take_half_the_words_so_a_frame_needs_half_the_bands() {
        let (rows, cols, lag) = (1000, 99, 7);
        let cap = Capacity {
            pixel_words: 5000,
            ..ROOMY
        };
        let w = [whole(rows, cols)];
        let wide = bands(halves(rows, cols), &w, lag, &cap).unwrap();
        let bytes = Stored {
            packing: Packing::Bytes,
            ..halves(rows, cols)
        };
        let narrow = bands(bytes, &w, lag, &cap).unwrap();
        // 5000 words hold 101 rows of halves, 202 of bytes, less the lag's rows below.
        assert_eq!((wide[0].counted, narrow[0].counted), (101 - lag, 202 - lag));
        assert!(narrow.iter().all(|b| b.words(cols, Packing::Bytes) <= 5000));
        assert_eq!(narrow.iter().map(|b| b.counted).sum::<usize>(), rows);
        let band = Band {
            first_row: 0,
            rows: 3,
            counted: 3,
        };
        assert_eq!(
            (
                band.words(5, Packing::Halves),
                band.words(5, Packing::Bytes)
            ),
            (8, 4)
        );
    }

    #[test]
    fn tiles_cover_a_windows_counted_rows_exactly() {
        let band = Band {
            first_row: 40,
            rows: 60,
            counted: 50,
        };
        let cols = TILE_PIXELS / 8 + 1; // 7 rows per tile
        let w = Window {
            top: 30,
            left: 3,
            rows: 45,
            cols,
            masked: true,
        };
        let at = Placed {
            word_offset: 12,
            mask_offset: 64,
            packing: Packing::Halves,
        };
        let t: Vec<_> = tiles(&band, cols + 10, &w, at).collect();
        // The window's rows 40..75 are counted here: 35 rows, in band rows 0..35.
        assert_eq!(t.len(), band.tiles(&w));
        assert_eq!(t.iter().map(|t| t.row_count).sum::<u32>(), 35);
        assert_eq!((t[0].first_row, t[1].first_row), (0, 7));
        assert!(t
            .iter()
            .all(|t| t.stride == cols as u32 + 10 && t.left == 3));
        assert!(t.iter().all(|t| t.word_offset == 12 && t.rows_end == 35));
        assert!(t.iter().all(|t| t.pixel_shift == 1), "two values a word");
        // The band carries the window's mask from frame row 40: tile 1 starts 7 mask rows on.
        assert_eq!(band.mask_rows(&w), 40..75);
        assert_eq!(t[1].mask_base as usize, 64 + 7 * cols);
    }

    #[test]
    fn a_band_counts_only_the_windows_rows_it_owns() {
        let band = Band {
            first_row: 0,
            rows: 13,
            counted: 10,
        };
        let below = Window {
            top: 11,
            left: 0,
            rows: 5,
            cols: 4,
            masked: true,
        };
        assert_eq!(
            band.tiles(&below),
            0,
            "its rows start below the counted rows"
        );
        assert_eq!(band.mask_words(&below), 0, "no tiles, no mask bits");
        let straddling = Window { top: 8, ..below };
        assert_eq!(band.tiles(&straddling), 1);
        let t: Vec<_> = tiles(
            &band,
            4,
            &straddling,
            Placed {
                word_offset: 0,
                mask_offset: 0,
                packing: Packing::Bytes,
            },
        )
        .collect();
        assert_eq!((t[0].first_row, t[0].row_count, t[0].rows_end), (8, 2, 13));
        assert_eq!(t[0].pixel_shift, 2, "four values a word");
    }

    #[test]
    fn the_tile_budget_shrinks_with_the_lag_and_splits_bands() {
        let cap = Capacity {
            partials: 2 * 16 * 10,
            ..ROOMY
        };
        assert_eq!(cap.tiles_at(16), 10);
        let cols = TILE_PIXELS; // one row per tile
        let w = [whole(25, cols)];
        let b = bands(halves(25, cols), &w, 16, &cap).unwrap();
        assert!(b.iter().all(|band| band.tiles(&w[0]) <= 10));
        assert_eq!(b.iter().map(|band| band.counted).sum::<usize>(), 25);
    }

    #[test]
    fn many_masked_regions_split_a_frame_by_their_mask_bits() {
        let (rows, cols) = (64, 64);
        let masked = Window {
            masked: true,
            ..whole(rows, cols)
        };
        let cap = Capacity {
            mask_words: 2 * rows * cols / 32, // room for two whole-frame masks
            ..ROOMY
        };
        let two = bands(halves(rows, cols), &[masked; 2], 4, &cap).unwrap();
        assert_eq!(two.len(), 1);
        let four = bands(halves(rows, cols), &[masked; 4], 4, &cap).unwrap();
        assert!(four.len() > 1);
        for band in &four {
            let words: usize = [masked; 4].iter().map(|w| band.mask_words(w)).sum();
            assert!(words <= cap.mask_words);
        }
    }

    #[test]
    fn a_row_too_wide_for_the_buffers_is_an_error() {
        let cap = Capacity {
            pixel_words: 100,
            ..ROOMY
        };
        let e = bands(halves(10, 50), &[whole(10, 50)], 4, &cap).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
    }
}
