//! Stage 3: the set of pixels a score is computed over.
//!
//! A pair of pixels counts for a region only when both lie inside it. Until region sidecars are
//! read, every frame has exactly one region, the whole frame, labelled `image`.

/// A region of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Every pixel of the frame.
    WholeFrame,
}

impl Region {
    /// The results' `roi` column.
    pub fn label(&self) -> &'static str {
        match self {
            Region::WholeFrame => "image",
        }
    }
}

/// The regions to score in a frame.
pub fn regions_for_frame() -> Vec<Region> {
    vec![Region::WholeFrame]
}
