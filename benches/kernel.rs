//! The CPU pair-sum kernel, in pair evaluations per second.
//!
//! One pair evaluation is one (a − b)² added to a lag's sum; a frame of R × C pixels at max lag L
//! evaluates about 2·R·C·L pairs.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tbs_batch::engine::cpu::whole_frame;
use tbs_batch::phantom::{Phantom, Spec, Style};

fn frame(rows: usize, cols: usize, bits: u16) -> tbs_batch::decode::Frame {
    Phantom::generate(Spec {
        rows,
        cols,
        hurst: 0.5,
        bits_stored: bits,
        signed: false,
        style: Style::Raw,
        seed: 1,
    })
    .expect("valid phantom")
    .frame()
}

fn pair_evaluations(f: &tbs_batch::decode::Frame, max_lag: usize) -> u64 {
    let vg = whole_frame(f, max_lag);
    vg.horizontal
        .iter()
        .chain(&vg.vertical)
        .map(|s| s.pairs)
        .sum()
}

fn kernel(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu_kernel");
    for (label, rows, cols, bits) in [("256x256", 256, 256, 12), ("780x716_8bit", 716, 780, 8)] {
        let f = frame(rows, cols, bits);
        for max_lag in [8, 16, 32] {
            group.throughput(Throughput::Elements(pair_evaluations(&f, max_lag)));
            group.bench_with_input(BenchmarkId::new(label, max_lag), &max_lag, |b, &lag| {
                b.iter(|| whole_frame(&f, lag))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, kernel);
criterion_main!(benches);
