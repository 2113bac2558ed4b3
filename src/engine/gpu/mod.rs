//! The GPU engine: the same exact sums as the CPU engine, from `shaders/variogram.wgsl`.
//!
//! The batch's worker threads decode files as usual and hand each frame to [`GpuEngine`], which
//! queues it for one server thread that owns the device. The server packs whatever frames are
//! waiting into one batch (many images per dispatch), submits it, and packs the next into the
//! second slot while the first computes; each worker blocks only on its own frame's sums, so
//! decoding, upload, compute and read-back overlap. The queue is bounded by the number of
//! workers, since each waits for its answer before decoding more.

mod device;
pub mod plan;

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

pub use device::{quiet_device_select, Want};
use device::{Batch, Gpu, Slot, Submitted};
use plan::Band;

use super::{Engine, Variogram};
use crate::error::{Error, Result};
use crate::region::Patch;

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
        .unwrap_or_else(|_| Err(Error::Gpu("the GPU driver failed while opening".into())))?;
        let Some(gpu) = gpu else { return Ok(None) };
        let description = gpu.describe();
        let software = gpu.info.device_type == wgpu::DeviceType::Cpu;
        let (tx, rx) = mpsc::sync_channel(256);
        let server = std::thread::Builder::new()
            .name("tbs-gpu".into())
            .spawn(move || Server::new(gpu).serve(rx))
            .map_err(|e| Error::Gpu(format!("cannot start the GPU thread: {e}")))?;
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

    /// Sums one patch on the device.
    fn sums(&self, patch: &Patch, max_lag: usize) -> Result<Variogram> {
        let stopped = || Error::Gpu("the GPU engine has stopped".into());
        let (reply, answer) = mpsc::channel();
        let request = Request {
            pixels: Arc::new(patch.pixels.to_vec()),
            inside: patch.inside.clone().map(Arc::new),
            rows: patch.rows,
            cols: patch.cols,
            max_lag,
            reply,
        };
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(request).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
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

    fn variogram(&self, patch: &Patch, max_lag: usize) -> Result<Variogram> {
        self.sums(patch, max_lag)
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

/// One patch to sum, and where to send its sums.
struct Request {
    pixels: Arc<Vec<u16>>,
    inside: Option<Arc<Vec<u8>>>,
    rows: usize,
    cols: usize,
    max_lag: usize,
    reply: mpsc::Sender<Result<Variogram>>,
}

/// A frame whose bands are not all summed yet.
struct Job {
    reply: mpsc::Sender<Result<Variogram>>,
    sums: Variogram,
    bands_left: usize,
}

/// One band waiting for a batch.
struct Work {
    job: u64,
    pixels: Arc<Vec<u16>>,
    inside: Option<Arc<Vec<u8>>>,
    cols: usize,
    max_lag: usize,
    band: Band,
}

/// The tiles of one band within a batch.
struct Part {
    job: u64,
    tiles: Range<usize>,
}

/// A submitted batch.
struct InFlight {
    slot: usize,
    submitted: Submitted,
    parts: Vec<Part>,
    max_lag: usize,
    tile_count: usize,
}

/// The thread that owns the device.
struct Server {
    gpu: Gpu,
    slots: Vec<Slot>,
    jobs: HashMap<u64, Job>,
    waiting: VecDeque<Work>,
    next_job: u64,
    /// The packing buffers, reused for every batch.
    batch: Batch,
}

impl Server {
    fn new(gpu: Gpu) -> Self {
        let slots = (0..SLOTS).map(|_| gpu.slot()).collect();
        Server {
            gpu,
            slots,
            jobs: HashMap::new(),
            waiting: VecDeque::new(),
            next_job: 0,
            batch: Batch::default(),
        }
    }

    /// Runs until every engine handle is gone and every accepted frame is answered.
    fn serve(mut self, requests: mpsc::Receiver<Request>) {
        let mut in_flight = VecDeque::new();
        let mut free: Vec<usize> = (0..self.slots.len()).collect();
        let mut open = true;
        loop {
            if open {
                open =
                    self.take_requests(&requests, self.waiting.is_empty() && in_flight.is_empty());
            }
            if !self.waiting.is_empty() && !free.is_empty() {
                let slot = free.pop().unwrap_or_default();
                in_flight.push_back(self.submit(slot));
            } else if let Some(batch) = in_flight.pop_front() {
                free.push(batch.slot);
                self.finish(batch);
            } else if !open {
                break;
            }
        }
    }

    /// Accepts every request already queued, first waiting for one if `block`. False once the
    /// engine is dropped.
    fn take_requests(&mut self, requests: &mpsc::Receiver<Request>, block: bool) -> bool {
        if block {
            match requests.recv() {
                Ok(r) => self.accept(r),
                Err(_) => return false,
            }
        }
        loop {
            match requests.try_recv() {
                Ok(r) => self.accept(r),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Cuts a frame into bands and queues them.
    fn accept(&mut self, r: Request) {
        let bands = match plan::bands(r.rows, r.cols, r.max_lag, &self.gpu.capacity) {
            Ok(b) => b,
            Err(e) => {
                let _ = r.reply.send(Err(e));
                return;
            }
        };
        let job = self.next_job;
        self.next_job += 1;
        self.jobs.insert(
            job,
            Job {
                reply: r.reply,
                sums: Variogram::zeros(r.max_lag),
                bands_left: bands.len(),
            },
        );
        self.waiting.extend(bands.into_iter().map(|band| Work {
            job,
            pixels: Arc::clone(&r.pixels),
            inside: r.inside.clone(),
            cols: r.cols,
            max_lag: r.max_lag,
            band,
        }));
    }

    /// Packs waiting bands of one lag setting into `slot` until it is full, and submits them.
    fn submit(&mut self, slot: usize) -> InFlight {
        let cap = self.gpu.capacity;
        let max_lag = self.waiting.front().map_or(1, |w| w.max_lag);
        let b = &mut self.batch;
        b.words.clear();
        b.inside.clear();
        b.tiles.clear();
        let mut parts = Vec::new();
        while let Some(work) = self.waiting.front() {
            let fits = work.max_lag == max_lag
                && b.words.len() + work.band.words(work.cols) <= cap.pixel_words
                && b.tiles.len() + work.band.tiles(work.cols) <= cap.tiles_at(max_lag);
            if !fits {
                break;
            }
            let Some(work) = self.waiting.pop_front() else {
                break;
            };
            if !self.jobs.contains_key(&work.job) {
                continue; // its frame already failed
            }
            let start = b.tiles.len();
            let masked = work.inside.is_some();
            b.tiles
                .extend(plan::tiles(&work.band, work.cols, b.words.len(), masked));
            pack(b, &work);
            parts.push(Part {
                job: work.job,
                tiles: start..b.tiles.len(),
            });
        }
        let submitted = self.gpu.submit(&self.slots[slot], b, max_lag);
        let tile_count = b.tiles.len();
        InFlight {
            slot,
            submitted,
            parts,
            max_lag,
            tile_count,
        }
    }

    /// Waits for a batch, adds its partial sums to their frames, and answers finished frames.
    fn finish(&mut self, batch: InFlight) {
        let partials = match self.gpu.finish(&self.slots[batch.slot], batch.submitted) {
            Ok(p) => p,
            Err(e) => {
                let message = e.to_string();
                for part in &batch.parts {
                    if let Some(job) = self.jobs.remove(&part.job) {
                        let _ = job.reply.send(Err(Error::Gpu(message.clone())));
                    }
                }
                return;
            }
        };
        for part in batch.parts {
            let Some(job) = self.jobs.get_mut(&part.job) else {
                continue;
            };
            add_partials(
                &mut job.sums,
                &partials,
                &part.tiles,
                batch.tile_count,
                batch.max_lag,
            );
            job.bands_left -= 1;
            if job.bands_left == 0 {
                if let Some(job) = self.jobs.remove(&part.job) {
                    let _ = job.reply.send(Ok(job.sums));
                }
            }
        }
    }
}

/// Appends a band's pixels, two per word with the first in the low half, padded to a word; and,
/// when the band is masked, its mask bits at the same pixel indices.
fn pack(batch: &mut Batch, work: &Work) {
    let start = work.band.first_row * work.cols;
    let range = start..start + work.band.rows * work.cols;
    let first_pixel = batch.words.len() * 2;
    batch
        .words
        .extend(work.pixels[range.clone()].chunks(2).map(|pair| {
            let high = pair.get(1).copied().unwrap_or(0);
            u32::from(pair[0]) | u32::from(high) << 16
        }));
    if let Some(inside) = &work.inside {
        batch
            .inside
            .resize(device::mask_words(batch.words.len()), 0);
        for (i, &m) in inside[range].iter().enumerate() {
            let bit = first_pixel + i;
            batch.inside[bit / 32] |= u32::from(m != 0) << (bit % 32);
        }
    }
}

/// Adds the workgroup partials of one band's tiles into a frame's sums.
fn add_partials(
    sums: &mut Variogram,
    partials: &[[u32; 3]],
    tiles: &Range<usize>,
    tile_count: usize,
    max_lag: usize,
) {
    for combo in 0..2 * max_lag {
        let row = &partials[combo * tile_count..][tiles.clone()];
        let lag = if combo < max_lag {
            &mut sums.horizontal[combo]
        } else {
            &mut sums.vertical[combo - max_lag]
        };
        for &[lo, hi, pairs] in row {
            lag.sum_sq += u64::from(hi) << 32 | u64::from(lo);
            lag.pairs += u64::from(pairs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_pack_two_pixels_per_word_low_half_first_and_pad_odd_counts() {
        let work = Work {
            job: 0,
            pixels: Arc::new((1..=15).collect()),
            inside: None,
            cols: 5,
            max_lag: 1,
            band: Band {
                first_row: 1,
                rows: 1,
                counted: 1,
            },
        };
        let mut batch = Batch {
            words: vec![7],
            ..Batch::default()
        };
        pack(&mut batch, &work);
        assert_eq!(batch.words, vec![7, 6 | 7 << 16, 8 | 9 << 16, 10]);
        assert!(batch.inside.is_empty(), "no mask, no mask words");
    }

    #[test]
    fn mask_bits_sit_at_their_pixels_index_in_the_batch() {
        let inside = (0..40).map(|i| u8::from(i % 3 == 0)).collect();
        let work = Work {
            job: 0,
            pixels: Arc::new(vec![0; 40]),
            inside: Some(Arc::new(inside)),
            cols: 20,
            max_lag: 1,
            band: Band {
                first_row: 0,
                rows: 2,
                counted: 1,
            },
        };
        let mut batch = Batch {
            words: vec![0; 3],
            ..Batch::default()
        };
        pack(&mut batch, &work);
        // The band's pixels start at pixel 6 (word 3); pixel i of the band is bit 6 + i.
        for i in 0..40 {
            let bit = 6 + i;
            let set = batch.inside[bit / 32] >> (bit % 32) & 1;
            assert_eq!(set, u32::from(i % 3 == 0), "pixel {i}");
        }
        assert_eq!(batch.inside.len(), device::mask_words(batch.words.len()));
    }

    #[test]
    fn partials_join_their_high_and_low_words_per_lag_and_direction() {
        // Two lags, three tiles in the batch, the band owning tiles 1..3.
        let mut partials = vec![[0, 0, 0]; 2 * 2 * 3];
        partials[1] = [u32::MAX, 1, 10]; // horizontal lag 1, tile 1
        partials[2] = [1, 0, 5]; // horizontal lag 1, tile 2: carries into the high word
        partials[3 * 3 + 2] = [4, 2, 1]; // vertical lag 2, tile 2
        partials[3 * 3] = [99, 99, 99]; // tile 0 belongs to another band
        let mut sums = Variogram::zeros(2);
        add_partials(&mut sums, &partials, &(1..3), 3, 2);
        assert_eq!(sums.horizontal[0].sum_sq, 1 << 33);
        assert_eq!(sums.horizontal[0].pairs, 15);
        assert_eq!(sums.vertical[1].sum_sq, (2 << 32) + 4);
        assert_eq!(sums.vertical[1].pairs, 1);
        assert_eq!(sums.vertical[0].pairs, 0);
    }
}
