//! What the pictures cost: one QC sheet of an iDXA-sized frame, and the report of a 50,000-row
//! cohort.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tbs_batch::decode::Frame;
use tbs_batch::engine::cpu::whole_frame;
use tbs_batch::fit::{fit, FitRange};
use tbs_batch::phantom::{Phantom, Spec, Style};
use tbs_batch::picture::qc::{self, Curve, Sheet};
use tbs_batch::picture::report::{self, Cohort, Reported, Run};
use tbs_batch::picture::PALETTE;

/// A 780 × 716 8-bit display-style frame, as the GE iDXA CR export.
fn idxa_frame() -> Frame {
    let spec = Spec {
        rows: 716,
        cols: 780,
        hurst: 0.5,
        bits_stored: 8,
        signed: false,
        style: Style::Display,
        seed: 1,
    };
    let phantom = Phantom::generate(spec).expect("a valid spec");
    let pixels = phantom.values.iter().map(|&v| v as u16).collect();
    Frame::new(716, 780, pixels).expect("a whole frame")
}

fn sheet(c: &mut Criterion) {
    let frame = idxa_frame();
    let variogram = whole_frame(&frame, 16);
    let fitted = fit(&variogram, FitRange::new(1, 4, 16).unwrap()).map_err(|e| e.one_line());
    let sheet = Sheet {
        title: "scans/a.dcm — frame 1 of 1".into(),
        facts: "GE Lunar iDXA · 780 × 716 pixels".into(),
        frame: &frame,
        inverted: false,
        excluded: Some(tbs_batch::region::extremes(&frame)),
        guides: Vec::new(),
        outlines: Vec::new(),
        curves: vec![Curve::new("image", PALETTE[0], Some(&variogram), fitted)],
        max_lag: 16,
    };
    let mut group = c.benchmark_group("qc_sheet");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    group.bench_function("idxa_780x716", |b| {
        b.iter(|| qc::render(&sheet).expect("drawn"))
    });
    group.finish();
}

fn cohort_report(c: &mut Criterion) {
    let mut cohort = Cohort::default();
    for i in 0..50_000u32 {
        let path = format!("site{}/scan{i}.dcm", i % 7);
        let model = format!("model {}", i % 3);
        let tbs = 0.8 + f64::from(i % 1000) / 2000.0;
        let r2 = 0.95 + f64::from(i % 50) / 1000.0;
        cohort.add(&Reported {
            path: &path,
            frame: Some(1),
            roi: "image",
            outcome: if i % 97 == 0 {
                Err("pixel data: truncated")
            } else {
                Ok((tbs, Some(r2)))
            },
            manufacturer: ["GE", "Hologic"][i as usize % 2],
            model: &model,
            scan: "ap-spine",
            quality: None,
        });
    }
    let facts = Run::default();
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.throughput(Throughput::Elements(50_000));
    group.bench_function("rows_50000", |b| {
        b.iter(|| report::render(&cohort, &facts).expect("rendered"))
    });
    group.finish();
}

criterion_group!(benches, sheet, cohort_report);
criterion_main!(benches);
