//! How frames are cut to fit the device: bands of rows, tiles of a band, and batches of tiles.
//!
//! Nothing here touches wgpu, so the arithmetic that decides what the shader sees is tested on
//! any machine. A frame too large for one batch is cut into bands of whole rows; each band also
//! carries the `max_lag` rows below it, so its vertical pairs reach their partners, but counts
//! only the pairs that start in its own rows. Every pair is therefore counted exactly once.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};

/// Pixels one workgroup sums at one lag: 64 per invocation, enough work per workgroup to hide
/// the reduction, few enough that a DXA image spreads over many workgroups.
pub const TILE_PIXELS: usize = 256 * 64;

/// What one batch may hold. Set from the adapter's limits when the engine opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Packed pixel words (two pixels each) in one batch.
    pub pixel_words: usize,
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
    /// Packed words of this band's pixels, rounded up to whole words.
    pub fn words(&self, cols: usize) -> usize {
        (self.rows * cols).div_ceil(2)
    }

    /// Tiles this band is cut into.
    pub fn tiles(&self, cols: usize) -> usize {
        self.counted.div_ceil(rows_per_tile(cols))
    }
}

/// Rows per tile: whole rows, about [`TILE_PIXELS`] pixels.
pub fn rows_per_tile(cols: usize) -> usize {
    (TILE_PIXELS / cols.max(1)).max(1)
}

/// Cuts a `rows` × `cols` frame into bands that each fit an empty batch.
pub fn bands(rows: usize, cols: usize, max_lag: usize, cap: &Capacity) -> Result<Vec<Band>> {
    let whole = Band {
        first_row: 0,
        rows,
        counted: rows,
    };
    if fits(&whole, cols, max_lag, cap) {
        return Ok(vec![whole]);
    }
    // Counted rows per band: limited by the pixel words (with the lag rows below) and the tiles.
    let by_words = (cap.pixel_words * 2 / cols.max(1)).saturating_sub(max_lag);
    let by_tiles = cap.tiles_at(max_lag) * rows_per_tile(cols);
    let step = by_words.min(by_tiles);
    if step == 0 {
        return Err(Error::Gpu(format!(
            "a {rows} × {cols} frame at lag {max_lag} does not fit this adapter's buffers"
        )));
    }
    Ok((0..rows)
        .step_by(step)
        .map(|first_row| {
            let counted = step.min(rows - first_row);
            Band {
                first_row,
                rows: (counted + max_lag).min(rows - first_row),
                counted,
            }
        })
        .collect())
}

fn fits(band: &Band, cols: usize, max_lag: usize, cap: &Capacity) -> bool {
    band.words(cols) <= cap.pixel_words && band.tiles(cols) <= cap.tiles_at(max_lag)
}

/// One tile as the shader reads it (`Tile` in `shaders/variogram.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct TileDesc {
    pub word_offset: u32,
    pub cols: u32,
    pub band_rows: u32,
    pub first_row: u32,
    pub row_count: u32,
    /// 1 when only pairs of pixels marked inside count (the batch's mask bits), else 0.
    pub masked: u32,
}

/// The tiles of a band whose pixels start at `word_offset`.
pub fn tiles(
    band: &Band,
    cols: usize,
    word_offset: usize,
    masked: bool,
) -> impl Iterator<Item = TileDesc> {
    let per_tile = rows_per_tile(cols);
    let counted = band.counted;
    let (cols, band_rows) = (cols as u32, band.rows as u32);
    (0..counted).step_by(per_tile).map(move |first| TileDesc {
        word_offset: word_offset as u32,
        cols,
        band_rows,
        first_row: first as u32,
        row_count: per_tile.min(counted - first) as u32,
        masked: u32::from(masked),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOMY: Capacity = Capacity {
        pixel_words: 1 << 24,
        tiles: 65535,
        partials: 1 << 20,
    };

    #[test]
    fn a_frame_that_fits_is_one_band() {
        let b = bands(716, 780, 16, &ROOMY).unwrap();
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
        let b = bands(rows, cols, lag, &cap).unwrap();
        assert!(b.len() > 1);
        let mut next = 0;
        for band in &b {
            assert_eq!(band.first_row, next);
            assert!(band.words(cols) <= cap.pixel_words);
            let below = rows - band.first_row - band.counted;
            assert_eq!(band.rows - band.counted, below.min(lag));
            next += band.counted;
        }
        assert_eq!(next, rows);
    }

    #[test]
    fn tiles_cover_the_counted_rows_exactly() {
        let band = Band {
            first_row: 40,
            rows: 60,
            counted: 50,
        };
        let cols = TILE_PIXELS / 8 + 1; // 7 rows per tile
        let t: Vec<_> = tiles(&band, cols, 12, false).collect();
        assert_eq!(t.len(), band.tiles(cols));
        assert_eq!(t.iter().map(|t| t.row_count).sum::<u32>(), 50);
        assert!(t.iter().all(|t| t.band_rows == 60 && t.word_offset == 12));
        assert_eq!(
            t.last().unwrap().first_row + t.last().unwrap().row_count,
            50
        );
    }

    #[test]
    fn the_tile_budget_shrinks_with_the_lag_and_splits_bands() {
        let cap = Capacity {
            partials: 2 * 16 * 10,
            ..ROOMY
        };
        assert_eq!(cap.tiles_at(16), 10);
        let cols = TILE_PIXELS; // one row per tile
        let b = bands(25, cols, 16, &cap).unwrap();
        assert!(b.iter().all(|band| band.tiles(cols) <= 10));
        assert_eq!(b.iter().map(|band| band.counted).sum::<usize>(), 25);
    }

    #[test]
    fn a_row_too_wide_for_the_buffers_is_an_error() {
        let cap = Capacity {
            pixel_words: 100,
            ..ROOMY
        };
        let e = bands(10, 50, 4, &cap).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
    }
}
