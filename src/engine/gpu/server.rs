//! The thread that owns the device: it takes the workers' frames, cuts them into bands, packs
//! as many as fit into one batch, keeps two batches in flight, and answers each frame when all
//! its bands are summed.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::{mpsc, Arc};

use super::device::{Batch, Gpu, Slot, Submitted};
use super::plan::{self, Band};
use super::{Pixels, Request, Upload, SLOTS};
use crate::engine::Variogram;
use crate::error::{FileError, FileResult};

/// A frame whose bands are not all summed yet.
struct Job {
    reply: mpsc::Sender<FileResult<Vec<Variogram>>>,
    /// One per region.
    sums: Vec<Variogram>,
    bands_left: usize,
}

/// One band waiting for a batch.
struct Work {
    job: u64,
    upload: Arc<Upload>,
    max_lag: usize,
    band: Band,
}

impl Work {
    fn words(&self) -> usize {
        let stored = self.upload.stored();
        self.band.words(stored.cols, stored.packing)
    }

    fn tiles(&self) -> usize {
        self.upload.windows.iter().map(|w| self.band.tiles(w)).sum()
    }

    fn mask_words(&self) -> usize {
        let windows = &self.upload.windows;
        windows.iter().map(|w| self.band.mask_words(w)).sum()
    }
}

/// The tiles of one region of one band within a batch.
struct Part {
    job: u64,
    region: usize,
    tiles: Range<usize>,
}

/// A submitted batch.
struct InFlight {
    slot: usize,
    submitted: Submitted,
    parts: Vec<Part>,
    /// The job of each band in the batch.
    bands: Vec<u64>,
    max_lag: usize,
    tile_count: usize,
}

/// The thread that owns the device.
pub(super) struct Server {
    gpu: Gpu,
    slots: Vec<Slot>,
    jobs: HashMap<u64, Job>,
    waiting: VecDeque<Work>,
    next_job: u64,
    /// The packing buffers, reused for every batch.
    batch: Batch,
}

impl Server {
    pub(super) fn new(gpu: Gpu) -> Self {
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
    pub(super) fn serve(mut self, requests: mpsc::Receiver<Request>) {
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

    /// Cuts a frame into bands and queues those that hold tiles.
    fn accept(&mut self, r: Request) {
        let u = &r.upload;
        let bands = match plan::bands(u.stored(), &u.windows, r.max_lag, &self.gpu.capacity) {
            Ok(b) => b,
            Err(e) => {
                let _ = r.reply.send(Err(e));
                return;
            }
        };
        let sums = vec![Variogram::zeros(r.max_lag); u.windows.len()];
        let work: Vec<Work> = bands
            .into_iter()
            .map(|band| Work {
                job: self.next_job,
                upload: Arc::clone(&r.upload),
                max_lag: r.max_lag,
                band,
            })
            .filter(|w| w.tiles() > 0)
            .collect();
        if work.is_empty() {
            let _ = r.reply.send(Ok(sums)); // every region too small for a pair
            return;
        }
        self.jobs.insert(
            self.next_job,
            Job {
                reply: r.reply,
                sums,
                bands_left: work.len(),
            },
        );
        self.next_job += 1;
        self.waiting.extend(work);
    }

    /// Packs waiting bands of one lag setting into `slot` until it is full, and submits them.
    fn submit(&mut self, slot: usize) -> InFlight {
        let cap = self.gpu.capacity;
        let max_lag = self.waiting.front().map_or(1, |w| w.max_lag);
        let b = &mut self.batch;
        b.words.clear();
        b.inside.clear();
        b.tiles.clear();
        let (mut parts, mut bands) = (Vec::new(), Vec::new());
        while let Some(work) = self.waiting.front() {
            let fits = work.max_lag == max_lag
                && b.words.len() + work.words() <= cap.pixel_words
                && b.inside.len() + work.mask_words() <= cap.mask_words
                && b.tiles.len() + work.tiles() <= cap.tiles_at(max_lag);
            if !fits {
                break;
            }
            let Some(work) = self.waiting.pop_front() else {
                break;
            };
            if self.jobs.contains_key(&work.job) {
                pack(b, &work, &mut parts);
                bands.push(work.job);
            } // else its frame already failed
        }
        let submitted = self.gpu.submit(&self.slots[slot], b, max_lag);
        let tile_count = b.tiles.len();
        InFlight {
            slot,
            submitted,
            parts,
            bands,
            max_lag,
            tile_count,
        }
    }

    /// Waits for a batch, adds its partial sums to their frames, and answers finished frames.
    fn finish(&mut self, batch: InFlight) {
        let partials = match self.gpu.finish(&self.slots[batch.slot], batch.submitted) {
            Ok(p) => p,
            Err(e) => {
                let why = match e {
                    FileError::DeviceLost(why) => why,
                    other => other.one_line(),
                };
                for part in &batch.parts {
                    if let Some(job) = self.jobs.remove(&part.job) {
                        let _ = job.reply.send(Err(FileError::DeviceLost(why.clone())));
                    }
                }
                return;
            }
        };
        for part in &batch.parts {
            if let Some(job) = self.jobs.get_mut(&part.job) {
                let sums = &mut job.sums[part.region];
                add_partials(
                    sums,
                    &partials,
                    &part.tiles,
                    batch.tile_count,
                    batch.max_lag,
                );
            }
        }
        for job_id in batch.bands {
            let Some(job) = self.jobs.get_mut(&job_id) else {
                continue;
            };
            job.bands_left -= 1;
            if job.bands_left == 0 {
                if let Some(job) = self.jobs.remove(&job_id) {
                    let _ = job.reply.send(Ok(job.sums));
                }
            }
        }
    }
}

/// Appends a band's pixels, two or four per word with the first in the lowest bits, padded to
/// a word; then for each region with tiles in the band, its mask bits (if masked) from a fresh
/// word and its tiles, recording which tiles are whose in `parts`.
fn pack(batch: &mut Batch, work: &Work, parts: &mut Vec<Part>) {
    let (u, band) = (&*work.upload, &work.band);
    let word_offset = batch.words.len();
    let values = band.first_row * u.cols..(band.first_row + band.rows) * u.cols;
    match &u.pixels {
        Pixels::Halves(p) => pack_words(&mut batch.words, &p[values]),
        Pixels::Bytes(p) => pack_words(&mut batch.words, &p[values]),
    }
    for (region, (w, mask)) in u.windows.iter().zip(&u.masks).enumerate() {
        if band.tiles(w) == 0 {
            continue;
        }
        let mask_offset = batch.inside.len() * 32;
        if let Some(mask) = mask {
            let rows = band.mask_rows(w);
            let bytes =
                &mask.as_bytes()[(rows.start - w.top) * w.cols..(rows.end - w.top) * w.cols];
            pack_bits(&mut batch.inside, bytes);
            debug_assert_eq!(
                batch.inside.len() * 32 - mask_offset,
                band.mask_words(w) * 32
            );
        }
        let first = batch.tiles.len();
        let at = plan::Placed {
            word_offset,
            mask_offset,
            packing: u.stored().packing,
        };
        batch.tiles.extend(plan::tiles(band, u.cols, w, at));
        parts.push(Part {
            job: work.job,
            region,
            tiles: first..batch.tiles.len(),
        });
    }
}

/// Appends `values` to `words` as many to a word as fit, the first in the lowest bits, the last
/// word padded with zeros. The values' little-endian bytes are copied into the words' bytes and
/// each word read back as little-endian, so this is a copy on the server thread, which packs
/// every frame the device sums, and is right on either byte order.
fn pack_words<P: Pixel>(words: &mut Vec<u32>, values: &[P]) {
    let start = words.len();
    words.resize(start + (values.len() * P::BYTES).div_ceil(4), 0);
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words[start..]);
    for (slot, v) in bytes.chunks_exact_mut(P::BYTES).zip(values) {
        slot.copy_from_slice(v.to_le().as_ref());
    }
    for word in &mut words[start..] {
        *word = u32::from_le(*word);
    }
}

/// Appends a mask's 0/1 bytes to `words` as bits, 32 a word, the first in bit 0, the last word
/// padded with zeros. Eight bytes become eight bits in one multiply: bit i of the product's top
/// byte receives only byte i's 0/1 (bit 8i of the input, moved to bit 56 + i), and no carry
/// from the terms below reaches it. The server thread packs every frame's mask, so a loop over
/// bits (twenty times slower) would bound the device's rate.
fn pack_bits(words: &mut Vec<u32>, mask: &[u8]) {
    let word_of = |bytes: &[u8; 32]| {
        let eight = |i: usize| {
            let lanes = u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap_or_default());
            (lanes.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
        };
        eight(0) | eight(1) << 8 | eight(2) << 16 | eight(3) << 24
    };
    let whole = mask.chunks_exact(32);
    let rest = whole.remainder();
    words.extend(whole.map(|c| word_of(c.try_into().unwrap_or(&[0; 32]))));
    if !rest.is_empty() {
        let mut last = [0; 32];
        last[..rest.len()].copy_from_slice(rest);
        words.push(word_of(&last));
    }
}

/// A stored value as the pixel buffer holds it.
trait Pixel: Copy {
    const BYTES: usize;
    type Le: AsRef<[u8]>;
    fn to_le(self) -> Self::Le;
}

impl Pixel for u8 {
    const BYTES: usize = 1;
    type Le = [u8; 1];
    fn to_le(self) -> [u8; 1] {
        [self]
    }
}

impl Pixel for u16 {
    const BYTES: usize = 2;
    type Le = [u8; 2];
    fn to_le(self) -> [u8; 2] {
        self.to_le_bytes()
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
    use super::plan::Window;
    use super::*;
    use crate::region::Inside;

    fn work(upload: Upload, band: Band) -> Work {
        Work {
            job: 0,
            upload: Arc::new(upload),
            max_lag: 1,
            band,
        }
    }

    #[test]
    fn bands_pack_two_pixels_per_word_low_half_first_and_pad_odd_counts() {
        let upload = Upload {
            pixels: Pixels::Halves((1..=15).collect()),
            rows: 3,
            cols: 5,
            windows: vec![Window {
                top: 0,
                left: 0,
                rows: 3,
                cols: 5,
                masked: false,
            }],
            masks: vec![None],
        };
        let band = Band {
            first_row: 1,
            rows: 1,
            counted: 1,
        };
        let mut batch = Batch {
            words: vec![7],
            ..Batch::default()
        };
        let mut parts = Vec::new();
        pack(&mut batch, &work(upload, band), &mut parts);
        assert_eq!(batch.words, vec![7, 6 | 7 << 16, 8 | 9 << 16, 10]);
        assert!(batch.inside.is_empty(), "no mask, no mask words");
        assert_eq!(batch.tiles[0].word_offset, 1);
        assert_eq!((parts.len(), parts[0].tiles.clone()), (1, 0..1));
    }

    #[test]
    fn byte_bands_pack_four_pixels_per_word_lowest_first_and_pad_the_last() {
        let upload = Upload {
            pixels: Pixels::Bytes((1..=21).collect()),
            rows: 3,
            cols: 7,
            windows: vec![Window {
                top: 0,
                left: 0,
                rows: 3,
                cols: 7,
                masked: false,
            }],
            masks: vec![None],
        };
        // Rows 1..3: pixels 8..=21, fourteen bytes in four words.
        let band = Band {
            first_row: 1,
            rows: 2,
            counted: 2,
        };
        let mut batch = Batch {
            words: vec![7],
            ..Batch::default()
        };
        pack(&mut batch, &work(upload, band), &mut Vec::new());
        let word = |b: [u32; 4]| b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24;
        assert_eq!(
            batch.words,
            vec![
                7,
                word([8, 9, 10, 11]),
                word([12, 13, 14, 15]),
                word([16, 17, 18, 19]),
                word([20, 21, 0, 0]),
            ]
        );
        assert_eq!(batch.tiles[0].word_offset, 1);
        assert_eq!(batch.tiles[0].pixel_shift, 2);
    }

    #[test]
    fn mask_bits_pack_32_a_word_first_in_bit_0_at_any_length() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for n in [0usize, 1, 7, 8, 9, 31, 32, 33, 63, 100, 1000] {
            let mask: Vec<u8> = (0..n).map(|_| u8::from(rng.random_bool(0.5))).collect();
            let mut expected = vec![0u32; n.div_ceil(32)];
            for (i, &m) in mask.iter().enumerate() {
                expected[i / 32] |= u32::from(m) << (i % 32);
            }
            let mut words = vec![9];
            pack_bits(&mut words, &mask);
            assert_eq!(words[0], 9, "appended after what was there");
            assert_eq!(words[1..], expected, "{n} bits");
        }
    }

    #[test]
    fn a_frame_is_packed_once_and_each_region_has_its_own_mask_bits() {
        // A 4 × 20 frame; a masked region at columns 3..8 of rows 1..4, and a whole rectangle.
        let masked = Window {
            top: 1,
            left: 3,
            rows: 3,
            cols: 5,
            masked: true,
        };
        let rect = Window {
            top: 0,
            left: 10,
            rows: 2,
            cols: 4,
            masked: false,
        };
        let mask = Inside::from_nonzero((0..15).map(|i| u8::from(i % 3 == 0)).collect());
        let upload = Upload {
            pixels: Pixels::Halves(vec![0; 80]),
            rows: 4,
            cols: 20,
            windows: vec![masked, rect, masked],
            masks: vec![Some(mask.clone()), None, Some(mask)],
        };
        let band = Band {
            first_row: 0,
            rows: 4,
            counted: 4,
        };
        let mut batch = Batch {
            words: vec![0; 3],
            inside: vec![0; 2],
            ..Batch::default()
        };
        let mut parts = Vec::new();
        pack(&mut batch, &work(upload, band), &mut parts);
        assert_eq!(batch.words.len(), 3 + 40, "the frame's pixels once");
        assert_eq!(
            parts.iter().map(|p| p.region).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        // Each masked region's bits start at a fresh word after those already in the batch.
        let bases: Vec<u32> = parts
            .iter()
            .map(|p| batch.tiles[p.tiles.start].mask_base)
            .collect();
        assert_eq!((bases[0], bases[2]), (64, 96));
        for base in [64, 96] {
            for i in 0..15 {
                let bit = base + i;
                let set = batch.inside[bit / 32] >> (bit % 32) & 1;
                assert_eq!(set, u32::from(i % 3 == 0), "bit {i} from {base}");
            }
        }
        assert_eq!(batch.inside.len(), 4);
        let t = &batch.tiles[parts[0].tiles.start];
        assert_eq!(
            (t.stride, t.left, t.cols, t.first_row, t.rows_end),
            (20, 3, 5, 1, 4)
        );
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
