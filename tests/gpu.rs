//! The GPU engine against the CPU engine, sum for sum.
//!
//! These run the real shader on whatever adapter wgpu finds, a software Vulkan (Mesa's lavapipe)
//! included. Without an adapter they report that they were skipped, unless `TBS_REQUIRE_GPU=1`,
//! which turns a missing adapter into a failure so CI cannot pass without checking the shader.

use std::path::Path;
use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tbs_batch::decode::Frame;
use tbs_batch::engine::cpu::{self, whole_frame};
use tbs_batch::engine::gpu::{GpuEngine, Want};
use tbs_batch::engine::Engine;
use tbs_batch::phantom::{Phantom, Syntax};
use tbs_batch::region::{self, Inside, Kept, Patch, Shape};

use tbs_batch::picture::qc;

use crate::util::{
    parse_csv, phantom_file, random_frame, run, s, skip_unless_required, spec, vertebrae_fixture,
};

/// The shared engine on the best adapter, or `None` (and a note on stderr) when there is none.
fn gpu() -> Option<&'static GpuEngine> {
    static ENGINE: OnceLock<Option<GpuEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| open(None)).as_ref()
}

/// An engine whose batches hold at most 64 KiB of pixels, so frames are cut into bands.
fn small_batches() -> Option<&'static GpuEngine> {
    static ENGINE: OnceLock<Option<GpuEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| open(Some(64 << 10))).as_ref()
}

fn open(slot_bytes: Option<u64>) -> Option<GpuEngine> {
    let engine = GpuEngine::open_with(Want::Any, slot_bytes).expect("an adapter that exists opens");
    if engine.is_none() {
        skip_unless_required(
            "TBS_REQUIRE_GPU",
            "gpu tests",
            "wgpu found no adapter (install mesa-vulkan-drivers)",
        );
    }
    engine
}

/// Asserts the GPU's sums equal the CPU's for every lag and direction.
fn assert_same(engine: &GpuEngine, frame: &Frame, max_lag: usize, what: &str) {
    assert_same_patches(engine, frame, &[Patch::whole(frame)], max_lag, what);
}

/// Asserts the GPU's sums of all of a frame's patches, in one call, equal the CPU's.
fn assert_same_patches(
    engine: &GpuEngine,
    frame: &Frame,
    patches: &[Patch],
    max_lag: usize,
    what: &str,
) {
    let gpu = engine
        .variograms(frame, patches, max_lag)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(gpu.len(), patches.len(), "{what}");
    for (i, (g, p)) in gpu.iter().zip(patches).enumerate() {
        let c = cpu::sums(frame, p, max_lag);
        assert_eq!(*g, c, "{what}, region {i}, max lag {max_lag}");
    }
}

/// The frame with a random mask, about `inside` of its pixels in.
fn masked(frame: &Frame, rng: &mut ChaCha8Rng, inside: f64) -> Patch {
    let mask = (0..frame.pixels.len())
        .map(|_| u8::from(rng.random_bool(inside)))
        .collect();
    Patch {
        kept: Kept::Marked(Inside::from_nonzero(mask)),
        ..Patch::whole(frame)
    }
}

#[test]
fn masked_regions_sum_like_the_cpu() {
    let Some(engine) = gpu() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for (rows, cols, max) in [
        (64, 48, 255),
        (33, 97, u16::MAX),
        (1, 40, 4095),
        (300, 5, 255),
    ] {
        let f = random_frame(&mut rng, rows, cols, max);
        for inside in [0.0, 0.5, 0.97, 1.0] {
            let p = masked(&f, &mut rng, inside);
            let what = format!("{rows}×{cols} {inside} inside");
            assert_same_patches(engine, &f, &[p], 16, &what);
        }
    }
    let checker = Frame::new(
        40,
        40,
        (0..1600).map(|i| [0, u16::MAX][(i / 40 + i) % 2]).collect(),
    )
    .unwrap();
    let p = masked(&checker, &mut rng, 0.9);
    assert_same_patches(engine, &checker, &[p], 8, "0/65535 checkerboard, masked");
}

#[test]
fn masked_frames_cut_into_bands_keep_their_mask_bits_aligned() {
    let Some(engine) = small_batches() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    // Odd widths put band starts at odd pixels and mask words at any bit.
    let frames: Vec<Frame> = [(301, 301), (999, 77)]
        .into_iter()
        .map(|(r, c)| random_frame(&mut rng, r, c, u16::MAX))
        .collect();
    std::thread::scope(|scope| {
        for (i, f) in frames.iter().enumerate() {
            let p = masked(f, &mut ChaCha8Rng::seed_from_u64(i as u64), 0.8);
            let what = format!("frame {i} in bands");
            scope.spawn(move || assert_same_patches(engine, f, &[p], 20, &what));
        }
    });
}

/// Regions of every kind on one frame: overlapping rectangles, a polygon, a mask, a region too
/// thin for any pair, and the whole frame with its extremes left out.
fn many_regions(frame: &Frame, rng: &mut ChaCha8Rng) -> Vec<Patch> {
    let (rows, cols) = (frame.rows, frame.cols);
    let rect = |x, y, width, height| Shape::Rect {
        x,
        y,
        width,
        height,
    };
    let mask = Shape::Mask {
        rows,
        cols,
        inside: Inside::from_nonzero(
            (0..rows * cols)
                .map(|_| u8::from(rng.random_bool(0.7)))
                .collect(),
        ),
    };
    let (w, h) = (cols as f64, rows as f64);
    let polygon = Shape::Polygon(vec![(0.5, 1.0), (w - 3.0, 2.5), (w / 2.0, h - 1.5)]);
    let cut = |s: &Shape, extremes| Patch::cut(frame, s, extremes).unwrap();
    vec![
        cut(&rect(1, 2, cols / 2, rows / 3), None),
        cut(&rect(cols / 4, rows / 4, cols / 2, rows / 2), None),
        cut(&polygon, None),
        cut(&mask, None),
        cut(&rect(cols - 1, 0, 1, 1), None),
        cut(&Shape::WholeFrame, Some(region::extremes(frame))),
        cut(&mask, Some(region::extremes(frame))),
    ]
}

#[test]
fn many_regions_of_one_frame_in_one_call_sum_like_the_cpu() {
    let Some(engine) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    for (rows, cols, max) in [(90, 71, 255), (64, 200, u16::MAX), (33, 33, 4095)] {
        let f = random_frame(&mut rng, rows, cols, max);
        let patches = many_regions(&f, &mut rng);
        assert_same_patches(engine, &f, &patches, 12, &format!("{rows}×{cols}"));
    }
}

#[test]
fn many_regions_of_a_frame_cut_into_bands_sum_like_the_cpu() {
    let Some(engine) = small_batches() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(24);
    // Several whole-frame masks exceed a small batch's mask bits as well as its pixels.
    for (rows, cols) in [(301, 299), (700, 61)] {
        let f = random_frame(&mut rng, rows, cols, u16::MAX);
        let patches = many_regions(&f, &mut rng);
        assert_same_patches(engine, &f, &patches, 17, &format!("{rows}×{cols} in bands"));
    }
}

#[test]
fn gpu_and_cpu_give_identical_region_files() {
    if gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (scans, sidecar) = vertebrae_fixture(dir.path());
    let run_with = |engine: &str| {
        let vg = dir.path().join(format!("vg-{engine}.csv"));
        let out = run(&[
            engine,
            s(&scans),
            "--roi",
            s(&sidecar),
            "--variogram",
            s(&vg),
        ]);
        assert_eq!(out.status.code(), Some(0), "{engine}: {out:?}");
        std::fs::read(vg).unwrap()
    };
    let (g, c) = (run_with("--gpu"), run_with("--cpu"));
    assert!(String::from_utf8_lossy(&g).contains(",L1-L4,"));
    assert!(g == c, "variogram files with regions differ");
}

#[test]
fn every_bit_depth_sums_like_the_cpu() {
    let Some(engine) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for bits in 1..=16u32 {
        let f = random_frame(&mut rng, 61, 47, ((1u32 << bits) - 1) as u16);
        assert_same(engine, &f, 16, &format!("random {bits}-bit"));
    }
    for bits in [2, 8, 12, 16] {
        for signed in [false, true] {
            let p = Phantom::generate(tbs_batch::phantom::Spec {
                signed,
                ..spec(0.4, bits)
            })
            .unwrap();
            assert_same(
                engine,
                &p.frame(),
                16,
                &format!("phantom {bits}-bit signed={signed}"),
            );
        }
    }
}

#[test]
fn edge_sizes_sum_like_the_cpu() {
    let Some(engine) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let sizes = [
        (1, 1),
        (1, 1000),
        (1000, 1),
        (2, 2),
        (3, 3),
        (15, 9),
        (17, 31),
        (64, 65),
        (5, 300),
        (300, 257),
    ];
    // 16-bit pixels a pair at a time; bytes four at a time, so widths that leave one to three
    // in a row's last four, and rows that start mid-word.
    for (rows, cols) in sizes {
        for max in [u16::MAX, 255] {
            let f = random_frame(&mut rng, rows, cols, max);
            for max_lag in [1, 16, 40] {
                assert_same(engine, &f, max_lag, &format!("{rows}×{cols} up to {max}"));
            }
        }
    }
    let f = random_frame(&mut rng, 40, 300, 4095);
    assert_same(engine, &f, 256, "40×300 at the largest lag");
}

#[test]
fn alternating_extremes_carry_into_the_high_word() {
    let Some(engine) = gpu() else { return };
    let (rows, cols) = (257, 255);
    let pixels = (0..rows * cols)
        .map(|i| {
            if (i / cols + i % cols) % 2 == 0 {
                0
            } else {
                u16::MAX
            }
        })
        .collect();
    let f = Frame::new(rows, cols, pixels).unwrap();
    assert_same(engine, &f, 16, "0/65535 checkerboard");
    let lag1 = whole_frame(&f, 1).horizontal[0].sum_sq;
    assert!(lag1 > u64::from(u32::MAX), "the check must overflow a u32");
}

#[test]
fn a_batch_mixing_sizes_answers_each_frame_with_its_own_sums() {
    let Some(engine) = gpu() else { return };
    // Many threads at once, as the batch's workers are, so frames of different shapes share
    // dispatches.
    std::thread::scope(|scope| {
        for t in 0..24usize {
            scope.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(100 + t as u64);
                for i in 0..4 {
                    let (rows, cols) = (1 + (t * 37 + i * 11) % 190, 1 + (t * 53 + i * 7) % 210);
                    let f = random_frame(&mut rng, rows, cols, u16::MAX >> (t % 16));
                    assert_same(engine, &f, 16, &format!("thread {t} frame {i}"));
                }
            });
        }
    });
}

#[test]
fn frames_larger_than_a_batch_are_cut_into_bands() {
    let Some(engine) = small_batches() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // 64 KiB of pixels per batch is 32768 16-bit pixels or 65536 bytes: these need several
    // bands each, in either width; odd widths start bands mid-word in the frame.
    for (rows, cols) in [(300, 301), (1000, 77), (97, 700)] {
        for max in [u16::MAX, 255] {
            let f = random_frame(&mut rng, rows, cols, max);
            for max_lag in [1, 16, 40] {
                let what = format!("{rows}×{cols} up to {max} in bands");
                assert_same(engine, &f, max_lag, &what);
            }
        }
    }
}

#[test]
fn a_frame_too_wide_for_the_adapter_is_an_error_and_the_engine_goes_on() {
    let Some(engine) = small_batches() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    // A band at lag 16 is at least 17 rows: 17 rows of 3000 16-bit pixels exceed the 32768
    // that a batch holds, but as bytes they fit its 65536.
    let wide = random_frame(&mut rng, 40, 3000, u16::MAX);
    let e = engine
        .variogram(&wide, &Patch::whole(&wide), 16)
        .unwrap_err();
    assert!(e.to_string().contains("does not fit"), "{e}");
    let f = random_frame(&mut rng, 50, 60, 255);
    assert_same(engine, &f, 16, "after an error");
    let bytes = random_frame(&mut rng, 40, 3000, 255);
    assert_same(engine, &bytes, 16, "as wide, in bytes");
}

/// A cohort of phantoms of several depths, signs and syntaxes, multi-frame included.
fn cohort(dir: &Path) {
    for (i, (bits, signed, syntax)) in [
        (8, false, Syntax::ImplicitLe),
        (12, false, Syntax::Rle),
        (16, true, Syntax::ExplicitBe),
        (10, true, Syntax::Deflated),
        (16, false, Syntax::JpegLs),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = tbs_batch::phantom::Spec {
            signed,
            rows: 100 + i * 13,
            cols: 77 + i * 29,
            ..spec(0.2 + 0.1 * i as f64, bits)
        };
        phantom_file(dir, &format!("p{i}.dcm"), spec, syntax);
    }
}

#[test]
fn gpu_and_cpu_runs_give_identical_files_but_for_the_engine_column() {
    if gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    cohort(dir.path());
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample");
    let run_with = |engine: &str| {
        let vg = dir.path().join(format!("vg-{engine}.csv"));
        let out = run(&[engine, s(&sample), s(dir.path()), "--variogram", s(&vg)]);
        assert_eq!(out.status.code(), Some(0), "{engine}: {out:?}");
        (out, std::fs::read(vg).unwrap())
    };
    let (gpu_out, gpu_vg) = run_with("--gpu");
    let (cpu_out, cpu_vg) = run_with("--cpu");
    assert!(gpu_vg.len() > 1000);
    assert!(gpu_vg == cpu_vg, "variogram files differ");
    let (header, gpu_rows) = parse_csv(&gpu_out.stdout);
    let (_, cpu_rows) = parse_csv(&cpu_out.stdout);
    assert_eq!(gpu_rows.len(), cpu_rows.len());
    assert!(gpu_rows.iter().any(|r| r["status"] == "error"));
    for (g, c) in gpu_rows.iter().zip(&cpu_rows) {
        assert_eq!((g["engine"].as_str(), c["engine"].as_str()), ("gpu", "cpu"));
        for column in header.iter().filter(|h| *h != "engine") {
            assert_eq!(g[column], c[column], "{column} of {}", g["path"]);
        }
    }
    let summary = String::from_utf8_lossy(&gpu_out.stderr);
    assert!(summary.contains("engine gpu: "), "{summary}");
}

#[test]
fn qc_sheets_are_the_same_bytes_from_either_engine() {
    if gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    cohort(dir.path());
    let (scans, sidecar) = vertebrae_fixture(dir.path());
    let sheets = |engine: &str| {
        let qc = dir.path().join(format!("qc{engine}"));
        let out = run(&[engine, s(dir.path()), "--roi", s(&sidecar), "--qc", s(&qc)]);
        assert_eq!(out.status.code(), Some(0), "{engine}: {out:?}");
        let inputs = ["p0", "p1", "p2", "p3", "p4"].map(|p| dir.path().join(format!("{p}.dcm")));
        inputs
            .iter()
            .chain([&scans.join("spine.dcm")])
            .map(|input| std::fs::read(qc.join(qc::file_name(s(input), 1))).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        sheets("--gpu") == sheets("--cpu"),
        "QC sheets differ between engines"
    );
}

/// Runs the binary where the Vulkan loader finds no driver at all.
fn run_without_adapter(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tbs-batch"))
        .args(args)
        .env("WGPU_BACKEND", "vulkan")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .output()
        .expect("binary runs")
}

#[test]
fn without_an_adapter_gpu_exits_2_and_the_default_quietly_uses_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let out_file = dir.path().join("out.csv");

    let forced = run_without_adapter(&["--gpu", s(dir.path()), "-o", s(&out_file)]);
    assert_eq!(forced.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&forced.stderr);
    let ours: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("tbs-batch:"))
        .collect();
    assert_eq!(ours.len(), 1, "{stderr}");
    assert!(ours[0].contains("no adapter"), "{stderr}");
    assert!(
        !out_file.exists(),
        "nothing is written when the engine cannot start"
    );

    let auto = run_without_adapter(&[s(dir.path())]);
    assert_eq!(auto.status.code(), Some(0), "{auto:?}");
    let (_, rows) = parse_csv(&auto.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["engine"].as_str()),
        ("ok", "cpu")
    );
    let summary = String::from_utf8_lossy(&auto.stderr);
    assert!(
        summary.contains("engine cpu (no hardware GPU adapter)"),
        "{summary}"
    );
}
