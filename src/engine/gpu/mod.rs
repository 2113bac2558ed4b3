//! The GPU engine: the same exact sums as the CPU engine, from `shaders/variogram.wgsl`.
//!
//! The pipeline's worker threads decode files as usual and hand each frame to [`GpuEngine`], which
//! queues it for the one thread that owns the device (`server`). It packs whatever frames are
//! waiting into one batch (many images per dispatch), submits it, and packs the next into the
//! second slot while the first computes; each worker blocks only on its own frame's sums, so
//! decoding, upload, compute and read-back overlap. The queue is bounded by the number of
//! workers, since each waits for its answer before decoding more.

mod device;
pub mod plan;
mod server;

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use device::Gpu;
pub use device::{quiet_device_select, Want};
use plan::{Packing, Stored, Window};
use server::Server;

use super::{narrow, Engine, Narrowed, Variogram};
use crate::decode::Frame;
use crate::error::{FileError, FileResult, Result, RunError};
use crate::region::{Inside, Kept, Patch};

/// Batches in flight at once: one computing while the next is packed and uploaded.
const SLOTS: usize = 2;

/// The GPU pair-summing engine: a handle to the server thread that owns the device.
pub struct GpuEngine {
    requests: Option<mpsc::SyncSender<Request>>,
    server: Option<JoinHandle<()>>,
    description: String,
    software: bool,
}

impl GpuEngine {
    /// Opens the best adapter that `want` allows; `Ok(None)` when wgpu finds none.
    pub fn open(want: Want) -> Result<Option<GpuEngine>> {
        Self::open_with(want, None)
    }

    /// As [`GpuEngine::open`], with at most `slot_bytes` of pixels per batch. Small batches cut
    /// frames into bands; the tests use this to exercise that path on small images.
    pub fn open_with(want: Want, slot_bytes: Option<u64>) -> Result<Option<GpuEngine>> {
        // A broken driver can panic inside wgpu; that is a failure to open, not a crash.
        let gpu = catch_unwind(AssertUnwindSafe(|| {
            device::find_adapter(want)
                .map(|a| Gpu::open(&a, slot_bytes))
                .transpose()
        }))
        .unwrap_or_else(|_| Err(RunError::Gpu("the GPU driver failed while opening".into())))?;
        let Some(gpu) = gpu else { return Ok(None) };
        let description = gpu.describe();
        let software = gpu.info.device_type == wgpu::DeviceType::Cpu;
        let (tx, rx) = mpsc::sync_channel(256);
        let server = std::thread::Builder::new()
            .name("tbs-gpu".into())
            .spawn(move || Server::new(gpu).serve(rx))
            .map_err(|e| RunError::Gpu(format!("cannot start the GPU thread: {e}")))?;
        Ok(Some(GpuEngine {
            requests: Some(tx),
            server: Some(server),
            description,
            software,
        }))
    }

    /// Whether the adapter is a software renderer (such as lavapipe) rather than a GPU.
    pub fn is_software(&self) -> bool {
        self.software
    }
}

impl Engine for GpuEngine {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn describe(&self) -> String {
        format!("gpu: {}", self.description)
    }

    /// Workers waiting on the device use no CPU, so twice as many keep both decode and the
    /// device busy.
    fn workers(&self, jobs: usize) -> usize {
        2 * jobs
    }

    /// Sends the frame's rows that hold the patches to the device once, for all of them.
    fn variograms(
        &self,
        frame: &Frame,
        patches: &[Patch],
        max_lag: usize,
    ) -> FileResult<Vec<Variogram>> {
        let stopped = || FileError::DeviceLost("the GPU engine's thread has stopped".into());
        let (Some(first), Some(end)) = (
            patches.iter().map(|p| p.top).min(),
            patches.iter().map(|p| p.top + p.rows).max(),
        ) else {
            return Ok(Vec::new());
        };
        let rows = &frame.pixels[first * frame.cols..end * frame.cols];
        let upload = Upload {
            pixels: match narrow(rows) {
                Narrowed::Bytes { bytes, .. } => Pixels::Bytes(bytes),
                Narrowed::Halves { .. } => Pixels::Halves(rows.to_vec()),
            },
            rows: end - first,
            cols: frame.cols,
            windows: patches
                .iter()
                .map(|p| Window {
                    top: p.top - first,
                    left: p.left,
                    rows: p.rows,
                    cols: p.cols,
                    masked: p.kept != Kept::All,
                })
                .collect(),
            masks: patches
                .iter()
                .map(|p| p.kept.mask(&p.pixels(frame)[..]).map(Cow::into_owned))
                .collect(),
        };
        let (reply, answer) = mpsc::channel();
        let request = Request {
            upload: Arc::new(upload),
            max_lag,
            reply,
        };
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(request).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Drop for GpuEngine {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

/// What the device is sent for one frame: the rows that hold its regions, once, and the regions
/// in those rows.
struct Upload {
    pixels: Pixels,
    rows: usize,
    cols: usize,
    windows: Vec<Window>,
    /// Each window's mask, one byte per pixel of its box; `None` where every pixel counts.
    masks: Vec<Option<Inside>>,
}

impl Upload {
    /// The uploaded rows as the planner sees them.
    fn stored(&self) -> Stored {
        Stored {
            rows: self.rows,
            cols: self.cols,
            packing: match self.pixels {
                Pixels::Halves(_) => Packing::Halves,
                Pixels::Bytes(_) => Packing::Bytes,
            },
        }
    }
}

/// A frame's uploaded values, in the narrowest width that holds them all.
enum Pixels {
    Halves(Vec<u16>),
    Bytes(Vec<u8>),
}

/// One frame's regions to sum, and where to send their sums.
struct Request {
    upload: Arc<Upload>,
    max_lag: usize,
    reply: mpsc::Sender<FileResult<Vec<Variogram>>>,
}
