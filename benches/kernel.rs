//! The pair-sum kernel of each engine, in pair evaluations per second.
//!
//! One pair evaluation is one (a − b)² added to a lag's sum; a frame of R × C pixels at max lag L
//! evaluates about 2·R·C·L pairs. The CPU kernel runs on one thread, so its figure is per core.
//! The GPU kernel is fed several frames at once, as the batch's workers feed it, so its figure
//! includes packing, upload and read-back. Without an adapter the GPU group is skipped.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use tbs_batch::decode::Frame;
use tbs_batch::engine::cpu::{sums, whole_frame};
use tbs_batch::engine::gpu::{quiet_device_select, GpuEngine, Want};
use tbs_batch::engine::Engine;
use tbs_batch::phantom::{Phantom, Spec, Style};
use tbs_batch::region::{extremes, Kept, Patch};

/// Frames in flight per GPU iteration.
const GPU_FRAMES: usize = 8;

/// The sizes of the issue: a small raw image, the iDXA CR export, a large research image in the
/// 14 bits of a raw scanner's values and in all 16.
fn frames() -> Vec<(&'static str, Frame)> {
    [
        ("256x256_12bit", 256, 256, 12, Style::Raw),
        ("780x716_8bit", 716, 780, 8, Style::Display),
        ("1024x2048_14bit", 2048, 1024, 14, Style::Raw),
        ("1024x2048_16bit", 2048, 1024, 16, Style::Raw),
    ]
    .into_iter()
    .map(|(label, rows, cols, bits_stored, style)| {
        let spec = Spec {
            rows,
            cols,
            hurst: 0.5,
            bits_stored,
            signed: false,
            style,
            seed: 1,
        };
        (
            label,
            Phantom::generate(spec).expect("valid phantom").frame(),
        )
    })
    .collect()
}

fn pair_evaluations(f: &Frame, max_lag: usize) -> u64 {
    let vg = whole_frame(f, max_lag);
    vg.horizontal
        .iter()
        .chain(&vg.vertical)
        .map(|s| s.pairs)
        .sum()
}

fn cpu(c: &mut Criterion) {
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let mut group = c.benchmark_group("kernel_cpu_one_core");
    for (label, f) in frames() {
        for max_lag in [8, 16, 32] {
            group.throughput(Throughput::Elements(pair_evaluations(&f, max_lag)));
            group.bench_with_input(BenchmarkId::new(label, max_lag), &max_lag, |b, &lag| {
                b.iter(|| one_core.install(|| whole_frame(&f, lag)))
            });
        }
    }
    // What a default run sums: the display frame with its extremes (clipped background and
    // fill) left out, the mask made from the pixels in the engine as a run makes it. Every
    // candidate pair is evaluated, so the figure counts them.
    let (_, display) = frames().swap_remove(1);
    let (lo, hi) = extremes(&display);
    let masked = Patch {
        kept: Kept::Except(lo, hi),
        ..Patch::whole(&display)
    };
    for max_lag in [8, 16, 32] {
        group.throughput(Throughput::Elements(pair_evaluations(&display, max_lag)));
        let id = BenchmarkId::new("780x716_8bit_extremes_masked", max_lag);
        group.bench_with_input(id, &max_lag, |b, &lag| {
            b.iter(|| one_core.install(|| sums(&display, &masked, lag)))
        });
    }
    group.finish();
}

fn gpu(c: &mut Criterion) {
    let Some(engine) = GpuEngine::open(Want::Any).expect("an adapter that exists opens") else {
        eprintln!("kernel_gpu skipped: wgpu found no adapter");
        return;
    };
    eprintln!("kernel_gpu on {}", engine.describe());
    let mut group = c.benchmark_group("kernel_gpu");
    group.sample_size(10);
    for (label, f) in frames() {
        for max_lag in [8, 16, 32] {
            let pairs = pair_evaluations(&f, max_lag) * GPU_FRAMES as u64;
            group.throughput(Throughput::Elements(pairs));
            group.bench_with_input(BenchmarkId::new(label, max_lag), &max_lag, |b, &lag| {
                b.iter(|| {
                    std::thread::scope(|s| {
                        for _ in 0..GPU_FRAMES {
                            s.spawn(|| engine.variogram(&f, &Patch::whole(&f), lag));
                        }
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, cpu, gpu);
fn main() {
    // Before criterion or rayon start any thread.
    quiet_device_select();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
