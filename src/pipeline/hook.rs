//! What looks at each scored frame without changing its rows: the QC sheets (`--qc`). The
//! pipeline shows every frame that decoded to the hook, after its rows are made; what the hook
//! makes is written with the file's rows.

use std::path::PathBuf;

use crate::decode::{Frame, Meta};
use crate::fit::FitSpec;
use crate::locate::Location;
use crate::region::Shape;
use crate::write::{ResultRow, VariogramRecord};

/// Something that looks at every scored frame, on the worker that scored it.
pub trait FrameHook: Send + Sync + std::fmt::Debug {
    /// What it makes of the frame, if anything.
    fn look(&self, frame: &FrameView) -> Option<Picture>;
}

/// A scored frame as a hook sees it: its pixels and regions, and the rows and sums just made.
pub struct FrameView<'a> {
    /// The input's `path`.
    pub input: String,
    /// 1-based.
    pub index: u32,
    pub frames: u32,
    pub meta: &'a Meta,
    pub frame: &'a Frame,
    /// The frame's minimum and maximum stored value, when they were left out of every region.
    pub excluded_values: Option<(u16, u16)>,
    /// Each region's label and, when it could be read, its shape, in sidecar order.
    pub regions: Vec<(&'a str, Option<&'a Shape>)>,
    /// What `--roi auto` found on the frame: the disc lines and the crests' level.
    pub location: Option<&'a Location>,
    /// The frame's rows, the pooled row included, and their sums.
    pub rows: &'a [ResultRow],
    pub variograms: &'a [VariogramRecord],
    pub fit: &'a FitSpec,
    pub max_lag: usize,
}

/// A file a hook made of a frame, written by the sink with the file's rows.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Where it goes, relative to the hook's folder.
    pub name: PathBuf,
    /// The bytes, or why they could not be made (the rows stand either way).
    pub png: Result<Vec<u8>, String>,
}
