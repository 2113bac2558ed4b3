//! The whole pipeline of each engine — walk, read, decode, sums, fit, CSV — on a generated
//! cohort of iDXA-like 780 × 716 8-bit CR files, in files per second on all cores.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use tbs_batch::bench::{measure, write_cohort, Cohort};
use tbs_batch::engine::gpu::{quiet_device_select, GpuEngine, Want};
use tbs_batch::engine::{self, Choice, Engine};

const FILES: usize = 64;

fn pipeline(c: &mut Criterion) {
    let cohort = Cohort {
        files: FILES,
        rows: 716,
        cols: 780,
        bits: 8,
        max_lag: 16,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_cohort(dir.path(), &cohort).expect("cohort written");
    let run = |engine: &Arc<dyn Engine>| {
        measure(&cohort, dir.path(), Arc::clone(engine), Duration::ZERO).expect("every file scored")
    };

    let mut group = c.benchmark_group("pipeline_idxa");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FILES as u64));
    let cpu: Arc<dyn Engine> = Arc::from(engine::open(Choice::Cpu).expect("the CPU engine"));
    group.bench_function("cpu", |b| b.iter(|| run(&cpu)));
    match GpuEngine::open(Want::Any).expect("an adapter that exists opens") {
        Some(gpu) => {
            eprintln!("pipeline gpu on {}", gpu.describe());
            let gpu: Arc<dyn Engine> = Arc::new(gpu);
            group.bench_function("gpu", |b| b.iter(|| run(&gpu)));
        }
        None => eprintln!("pipeline gpu skipped: wgpu found no adapter"),
    }
    group.finish();
}

criterion_group!(benches, pipeline);
fn main() {
    // Before criterion or rayon start any thread.
    quiet_device_select();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
