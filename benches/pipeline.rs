//! The whole pipeline of each engine — walk, read, decode, sums, fit, CSV — on a generated
//! cohort of iDXA-like 780 × 716 8-bit CR files, in files per second on all cores.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tbs_batch::batch::{self, Settings};
use tbs_batch::bench::{write_cohort, Cohort};
use tbs_batch::engine::gpu::{GpuEngine, Want};
use tbs_batch::engine::{self, Choice, Engine};
use tbs_batch::fit::FitRange;
use tbs_batch::walk;
use tbs_batch::write::ResultsWriter;

const FILES: usize = 64;

fn pipeline(c: &mut Criterion) {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cohort = Cohort {
        files: FILES,
        rows: 716,
        cols: 780,
        bits: 8,
        max_lag: 16,
        jobs,
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_cohort(dir.path(), &cohort).expect("cohort written");
    let inputs = walk::walk(&[dir.path().to_path_buf()]);
    let settings = Settings {
        max_lag: 16,
        fit: FitRange::new(1, 4, 16).expect("valid fit range"),
        jobs,
    };
    let run = |engine: &dyn Engine| {
        let mut sink = ResultsWriter::new(std::io::sink()).expect("sink");
        batch::run(&inputs, engine, &settings, |r| sink.write_file(&r.rows)).expect("run")
    };

    let mut group = c.benchmark_group("pipeline_idxa");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FILES as u64));
    let cpu = engine::open(Choice::Cpu).expect("the CPU engine");
    group.bench_function("cpu", |b| b.iter(|| run(cpu.as_ref())));
    match GpuEngine::open(Want::Any).expect("an adapter that exists opens") {
        Some(gpu) => {
            eprintln!("pipeline gpu on {}", gpu.describe());
            group.bench_function("gpu", |b| b.iter(|| run(&gpu)));
        }
        None => eprintln!("pipeline gpu skipped: wgpu found no adapter"),
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
