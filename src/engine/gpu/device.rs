//! The wgpu side of the GPU engine: choosing an adapter, opening it once, and running one batch
//! of tiles through `shaders/variogram.wgsl`.
//!
//! Buffers are created once per [`Slot`] at the batch capacity and reused for every batch; two
//! slots let the host pack and upload one batch while the device computes the other.

use std::sync::{mpsc, Arc, Mutex};

use wgpu::util::DeviceExt;

use super::plan::{Capacity, TileDesc};
use crate::error::{FileError, FileResult, Result, RunError};

/// Pixel bytes per batch at most: large enough that the per-submission cost vanishes beside the
/// work (about 60 iDXA frames), small enough that two slots stay modest on any card.
const SLOT_BYTES: u64 = 64 << 20;
/// Per-workgroup partial sums per batch at most (16 bytes each).
const SLOT_PARTIALS: u64 = 1 << 20;
/// Matches `@workgroup_size` and the workgroup arrays of the shader.
const WORKGROUP: u32 = 256;
/// The storage buffers the shader binds (pixels, tiles, partials, mask bits).
const STORAGE_BUFFERS: u32 = 4;

/// Which adapters may run the shader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Hardware only: anything but a CPU (software) adapter.
    Hardware,
    /// Any adapter, a software Vulkan such as lavapipe included.
    Any,
}

/// The opened device, its compiled pipeline and what one batch may hold.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    pub info: wgpu::AdapterInfo,
    pub capacity: Capacity,
    /// The first error the device reported outside any call that could return it.
    failure: Arc<Mutex<Option<String>>>,
}

/// The adapter wgpu would give us, best first: discrete, integrated, virtual, other, software.
///
/// Backends are Vulkan, Metal and DX12 unless `WGPU_BACKEND` names others.
pub fn find_adapter(want: Want) -> Option<wgpu::Adapter> {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    let backends = wgpu::Backends::PRIMARY.with_env();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..desc });
    let adapters = pollster::block_on(instance.enumerate_adapters(backends));
    adapters
        .into_iter()
        .filter(|a| want == Want::Any || a.get_info().device_type != wgpu::DeviceType::Cpu)
        .min_by_key(|a| rank(a.get_info().device_type))
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Gpu {
    /// Opens `adapter` with all of its limits and compiles the shader. `slot_bytes` caps the
    /// pixel bytes of one batch (`None`: the default).
    pub fn open(adapter: &wgpu::Adapter, slot_bytes: Option<u64>) -> Result<Gpu> {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let capacity = capacity(&limits, slot_bytes.unwrap_or(SLOT_BYTES))?;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("tbs-batch"),
            required_limits: limits,
            ..Default::default()
        }))
        .map_err(|e| RunError::Gpu(format!("cannot open {}: {e}", info.name)))?;
        let failure = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module =
            device.create_shader_module(wgpu::include_wgsl!("../../../shaders/variogram.wgsl"));
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("variogram"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RunError::Gpu(format!(
                "the variogram shader does not build on {}: {}",
                info.name, e
            )));
        }
        Ok(Gpu {
            device,
            queue,
            pipeline,
            info,
            capacity,
            failure,
        })
    }

    /// Adapter, backend and driver, for the run's summary line.
    pub fn describe(&self) -> String {
        let i = &self.info;
        let driver = [i.driver.as_str(), i.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "{} ({:?}, {:?}, driver {driver})",
            i.name, i.device_type, i.backend
        )
    }

    /// Buffers for one batch at full capacity, bound once.
    pub fn slot(&self) -> Slot {
        let cap = self.capacity;
        let storage = |label, size: usize, usage| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let upload = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let params = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: &[0; 16],
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            });
        let pixels = storage("pixels", cap.pixel_words * 4, upload);
        let inside = storage("inside", cap.mask_words.max(1) * 4, upload);
        let tiles = storage("tiles", cap.tiles * size_of::<TileDesc>(), upload);
        let partial_bytes = cap.partials * 16;
        let partials = storage(
            "partials",
            partial_bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let readback = storage(
            "readback",
            partial_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let layout = self.pipeline.get_bind_group_layout(0);
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("variogram"),
            layout: &layout,
            entries: &[&params, &pixels, &tiles, &partials, &inside]
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: b.as_entire_binding(),
                })
                .collect::<Vec<_>>(),
        });
        Slot {
            params,
            pixels,
            inside,
            tiles,
            partials,
            readback,
            bind_group,
        }
    }

    /// Uploads one batch into `slot` and submits its dispatch and read-back copy. Returns at
    /// once; [`Gpu::finish`] waits for the result.
    pub fn submit(&self, slot: &Slot, batch: &Batch, max_lag: usize) -> Submitted {
        let Batch {
            words,
            inside,
            tiles,
        } = batch;
        let combos = 2 * max_lag as u32;
        let tile_count = tiles.len() as u32;
        let params = [max_lag as u32, tile_count, 0, 0];
        self.queue
            .write_buffer(&slot.params, 0, bytemuck::cast_slice(&params));
        self.queue
            .write_buffer(&slot.pixels, 0, bytemuck::cast_slice(words));
        if !inside.is_empty() {
            self.queue
                .write_buffer(&slot.inside, 0, bytemuck::cast_slice(inside));
        }
        self.queue
            .write_buffer(&slot.tiles, 0, bytemuck::cast_slice(tiles));
        let bytes = u64::from(tile_count) * u64::from(combos) * 16;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &slot.bind_group, &[]);
            pass.dispatch_workgroups(tile_count, combos, 1);
        }
        encoder.copy_buffer_to_buffer(&slot.partials, 0, &slot.readback, 0, bytes);
        let index = self.queue.submit([encoder.finish()]);
        Submitted { index, bytes }
    }

    /// Waits for a submitted batch and returns its partials: (sum lo, sum hi, pairs) per
    /// workgroup, at `combo * tile_count + tile`.
    pub fn finish(&self, slot: &Slot, submitted: Submitted) -> FileResult<Vec<[u32; 3]>> {
        if submitted.bytes == 0 {
            return Ok(Vec::new());
        }
        let range = 0..submitted.bytes;
        let (tx, rx) = mpsc::channel();
        slot.readback
            .map_async(wgpu::MapMode::Read, range.clone(), move |r| {
                let _ = tx.send(r);
            });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submitted.index),
                timeout: None,
            })
            .map_err(|e| self.failed(&e.to_string()))?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.failed(&e.to_string())),
            Err(_) => return Err(self.failed("the read-back was never mapped")),
        }
        let partials = {
            let view = slot
                .readback
                .get_mapped_range(range)
                .map_err(|e| self.failed(&e.to_string()))?;
            view.chunks_exact(16)
                .map(|c| {
                    let word = |i: usize| u32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                    [word(0), word(4), word(8)]
                })
                .collect()
        };
        slot.readback.unmap();
        match self.reported() {
            Some(e) => Err(FileError::DeviceLost(e)),
            None => Ok(partials),
        }
    }

    /// The device's own error if it reported one, else `what`: either way the device is not to
    /// be trusted with another batch.
    fn failed(&self, what: &str) -> FileError {
        FileError::DeviceLost(self.reported().unwrap_or_else(|| what.to_string()))
    }

    fn reported(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// One batch's buffers.
pub struct Slot {
    params: wgpu::Buffer,
    pixels: wgpu::Buffer,
    inside: wgpu::Buffer,
    tiles: wgpu::Buffer,
    partials: wgpu::Buffer,
    readback: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// One batch as the host packs it: pixels two per word, the masked regions' bits (empty when no
/// region in the batch is masked), and the tiles.
#[derive(Debug, Default)]
pub struct Batch {
    pub words: Vec<u32>,
    pub inside: Vec<u32>,
    pub tiles: Vec<TileDesc>,
}

/// A batch on its way through the device.
pub struct Submitted {
    index: wgpu::SubmissionIndex,
    bytes: u64,
}

/// What one batch may hold on a device with these limits.
fn capacity(limits: &wgpu::Limits, slot_bytes: u64) -> Result<Capacity> {
    let binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if limits.max_compute_invocations_per_workgroup < WORKGROUP
        || limits.max_compute_workgroup_size_x < WORKGROUP
        || limits.max_compute_workgroup_storage_size < 3 * 4 * WORKGROUP
        || limits.max_storage_buffers_per_shader_stage < STORAGE_BUFFERS
    {
        return Err(RunError::Gpu(format!(
            "the adapter cannot run {WORKGROUP}-wide workgroups with {STORAGE_BUFFERS} storage \
             buffers"
        )));
    }
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Ok(Capacity {
        // Word offsets are u32 in the shader: stay below 2^32 words whatever the adapter allows.
        pixel_words: to_usize(binding.min(slot_bytes).min(u64::from(u32::MAX)) / 4),
        // Four bits per pixel: four whole-frame masks per batch-filling frame; more are banded.
        // Bit indices are u32 too.
        mask_words: to_usize(binding.min(slot_bytes / 4) / 4).min(u32::MAX as usize / 32),
        tiles: to_usize(
            (binding / size_of::<TileDesc>() as u64)
                .min(u64::from(limits.max_compute_workgroups_per_dimension)),
        ),
        partials: to_usize((binding / 16).min(SLOT_PARTIALS)),
    })
}

/// Keeps Mesa's Vulkan device-select layer quiet. On headless nodes without a desktop session it
/// prints errors about `XDG_RUNTIME_DIR` that are not ours; the adapter is chosen by
/// [`find_adapter`] anyway. Changes the environment, so call it before any thread starts.
pub fn quiet_device_select() {
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shader_declares_the_workgroup_size_the_host_sizes_for() {
        let source = include_str!("../../../shaders/variogram.wgsl");
        assert!(source.contains(&format!("const WORKGROUP: u32 = {WORKGROUP}u;")));
        assert!(source.contains(&format!("@workgroup_size({WORKGROUP})")));
        assert_eq!(
            crate::engine::gpu::plan::TILE_PIXELS % WORKGROUP as usize,
            0
        );
    }

    /// Issue 14 (6e): the limits check counted three storage buffers where the shader binds four.
    #[test]
    fn the_limits_check_counts_the_storage_buffers_the_shader_binds() {
        let source = include_str!("../../../shaders/variogram.wgsl");
        let bound = source.matches("var<storage").count() as u32;
        assert_eq!(bound, STORAGE_BUFFERS);
        let short = wgpu::Limits {
            max_storage_buffers_per_shader_stage: STORAGE_BUFFERS - 1,
            ..wgpu::Limits::default()
        };
        let e = capacity(&short, SLOT_BYTES).unwrap_err().to_string();
        assert!(e.contains("4 storage buffers"), "{e}");
        assert!(capacity(&wgpu::Limits::default(), SLOT_BYTES).is_ok());
    }

    /// Issue 14 (6e): after the device is lost, a batch must fail as a lost device (which stops
    /// the run), not as a per-frame error, or every later frame becomes an error row.
    #[test]
    fn a_batch_on_a_lost_device_fails_as_a_lost_device() {
        quiet_device_select();
        let Some(adapter) = find_adapter(Want::Any) else {
            assert!(
                std::env::var("TBS_REQUIRE_GPU").as_deref() != Ok("1"),
                "TBS_REQUIRE_GPU=1 but wgpu found no adapter"
            );
            return;
        };
        let gpu = Gpu::open(&adapter, Some(1 << 16)).unwrap();
        let slot = gpu.slot();
        use crate::engine::gpu::plan::{self, Band, Packing, Placed, Window};
        let (rows, cols) = (8, 16);
        let window = Window {
            top: 0,
            left: 0,
            rows,
            cols,
            masked: false,
        };
        let band = Band {
            first_row: 0,
            rows,
            counted: rows,
        };
        let at = Placed {
            word_offset: 0,
            mask_offset: 0,
            packing: Packing::Halves,
        };
        let batch = Batch {
            words: vec![0x0001_0002; rows * cols / 2],
            inside: Vec::new(),
            tiles: plan::tiles(&band, cols, &window, at).collect(),
        };
        assert!(gpu.finish(&slot, gpu.submit(&slot, &batch, 2)).is_ok());
        gpu.device.destroy();
        let submitted = gpu.submit(&slot, &batch, 2);
        match gpu.finish(&slot, submitted) {
            Err(FileError::DeviceLost(_)) => {}
            other => panic!("expected a lost device, got {other:?}"),
        }
    }
}
