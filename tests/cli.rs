//! The binary end to end: columns, order, flags and exit codes.

use std::path::Path;

use tbs_batch::phantom::Syntax;
use tbs_batch::write::{RESULT_COLUMNS, VARIOGRAM_COLUMNS};

use crate::util::{parse_csv, phantom_file, results, run, s, spec};

/// A nested cohort of `n` phantoms in mixed syntaxes.
fn cohort(dir: &Path, n: usize) {
    let syntaxes = [
        Syntax::ImplicitLe,
        Syntax::ExplicitLe,
        Syntax::Rle,
        Syntax::JpegLs,
    ];
    for i in 0..n {
        let sub = dir.join(format!("site{}", i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        let spec = tbs_batch::phantom::Spec {
            seed: i as u64,
            ..spec(0.3 + 0.05 * i as f64, 12)
        };
        phantom_file(
            &sub,
            &format!("scan{i:02}.dcm"),
            spec,
            syntaxes[i % syntaxes.len()],
        );
    }
}

#[test]
fn results_have_the_documented_columns_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let out = run(&["--cpu", s(dir.path())]);
    assert_eq!(out.status.code(), Some(0));
    let (header, rows) = parse_csv(&out.stdout);
    assert_eq!(header, RESULT_COLUMNS);
    for required in [
        "path",
        "frame",
        "roi",
        "status",
        "error",
        "tbs",
        "intercept",
        "r2",
        "engine",
    ] {
        assert!(header.iter().any(|h| h == required), "{required}");
    }
    let row = &rows[0];
    assert_eq!(row["path"], s(&path));
    assert_eq!((row["frame"].as_str(), row["roi"].as_str()), ("1", "image"));
    assert_eq!(
        (row["status"].as_str(), row["engine"].as_str()),
        ("ok", "cpu")
    );
    assert_eq!(row["fit_lags"], "1;2;3;4");
    assert_eq!(
        (row["rows"].as_str(), row["columns"].as_str()),
        ("64", "48")
    );
    assert_eq!(row["bits_stored"], "12");
    assert_eq!(row["pixel_spacing_row_mm"], "0.1");
    assert!(row["sop_instance_uid"].starts_with("2.25."));
    let tbs: f64 = row["tbs"].parse().unwrap();
    let r2: f64 = row["r2"].parse().unwrap();
    assert!(tbs > 0.5 && tbs < 1.5 && r2 > 0.9, "{row:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 files ok, 0 failed, 0 skipped"),
        "{stderr}"
    );
}

#[test]
fn the_variogram_file_has_one_row_per_direction_and_lag() {
    let dir = tempfile::tempdir().unwrap();
    cohort(dir.path(), 3);
    let vg = dir.path().join("vg.csv");
    results(&[
        "--cpu",
        s(dir.path()),
        "--variogram",
        s(&vg),
        "--max-lag",
        "5",
    ]);
    let (header, rows) = parse_csv(&std::fs::read(&vg).unwrap());
    assert_eq!(header, VARIOGRAM_COLUMNS);
    assert_eq!(rows.len(), 3 * 2 * 5);
    let first = &rows[0];
    assert_eq!(
        (first["direction"].as_str(), first["lag"].as_str()),
        ("h", "1")
    );
    // 64 rows × 47 horizontal pairs at lag 1.
    assert_eq!(first["pairs"], (64 * 47).to_string());
}

#[test]
fn output_order_is_the_walk_order_whatever_the_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    cohort(dir.path(), 14);
    let one = run(&["--cpu", "-j", "1", s(dir.path())]);
    let many = run(&["--cpu", "-j", "6", s(dir.path())]);
    assert_eq!(one.stdout, many.stdout);
    let (_, rows) = parse_csv(&one.stdout);
    let paths: Vec<&str> = rows.iter().map(|r| r["path"].as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(paths.len(), 14);
}

#[test]
fn fit_and_lag_flags_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let rows = results(&[
        "--max-lag",
        "8",
        "--fit-from",
        "2",
        "--fit-to",
        "6",
        s(dir.path()),
    ]);
    assert_eq!(rows[0]["fit_lags"], "2;3;4;5;6");
}

#[test]
fn output_file_receives_the_results() {
    let dir = tempfile::tempdir().unwrap();
    phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let out_csv = dir.path().join("out.csv");
    let out = run(&[s(&dir.path().join("a.dcm")), "-o", s(&out_csv)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let (_, rows) = parse_csv(&std::fs::read(&out_csv).unwrap());
    assert_eq!(rows.len(), 1);
}

#[test]
fn usage_errors_exit_2_with_one_clear_line() {
    for args in [
        vec![],
        vec!["--fit-from", "4", "--fit-to", "2", "x"],
        vec!["--max-lag", "0", "x"],
        vec!["--no-such-flag", "x"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn a_missing_input_is_an_error_row_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.dcm");
    let rows = results(&[s(&missing)]);
    assert_eq!(rows[0]["status"], "error");
    assert!(rows[0]["error"].contains("cannot read"), "{:?}", rows[0]);
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_walked_once() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    phantom_file(&sub, "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    std::os::unix::fs::symlink(dir.path(), sub.join("loop")).unwrap();
    let rows = results(&[s(dir.path())]);
    assert_eq!(rows.len(), 1);
}

#[test]
fn the_phantom_command_writes_files_the_batch_scores() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "phantom",
        s(dir.path()),
        "--hurst",
        "0.3,0.8",
        "--rows",
        "96",
        "--cols",
        "64",
        "--syntax",
        "rle,deflated",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = results(&[s(dir.path())]);
    assert_eq!(rows.len(), 4);
    let tbs = |name: &str| -> f64 {
        rows.iter().find(|r| r["path"].ends_with(name)).unwrap()["tbs"]
            .parse()
            .unwrap()
    };
    assert!(tbs("fbm-h0.30-12bit-rle.dcm") < tbs("fbm-h0.80-12bit-rle.dcm"));
    assert_eq!(
        tbs("fbm-h0.30-12bit-rle.dcm"),
        tbs("fbm-h0.30-12bit-deflated.dcm")
    );
}

#[test]
fn bench_prints_both_engines_side_by_side() {
    let out = run(&[
        "bench",
        "--files",
        "5",
        "--rows",
        "64",
        "--cols",
        "48",
        "--max-lag",
        "4",
        "-j",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.starts_with("5 files of 64 × 48 8-bit (iDXA-like CR), lags 1..=4, 2 CPU threads"),
        "{table}"
    );
    let cpu = table
        .lines()
        .find(|l| l.starts_with("cpu "))
        .expect("a cpu row");
    let figures: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    assert!(figures.iter().all(|&f| f > 0.0), "images/s, pairs/s: {cpu}");
    assert!(cpu.ends_with("cpu"), "names the engine: {cpu}");
    assert!(
        table.lines().any(|l| l.starts_with("gpu ")),
        "a gpu row, measured or saying why not: {table}"
    );
}

#[test]
fn bench_writes_a_record_per_engine_for_ci_to_keep() {
    let out = run(&[
        "bench",
        "--files",
        "3",
        "--rows",
        "40",
        "--cols",
        "32",
        "--max-lag",
        "3",
        "-j",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = &records[0];
    assert_eq!(
        (cpu["engine"].as_str(), cpu["files"].as_u64()),
        (Some("cpu"), Some(3))
    );
    assert!(cpu["images_per_second"].as_f64().unwrap() > 0.0, "{cpu}");
    assert!(
        cpu["pair_evaluations_per_second"].as_f64().unwrap() > 0.0,
        "{cpu}"
    );
    assert!(!cpu["cpu_tier"].as_str().unwrap().is_empty(), "{cpu}");
    let gpu = &records[1];
    assert_eq!(gpu["engine"], "gpu");
    // Measured, or saying why not.
    assert!(
        gpu["images_per_second"].is_f64() || gpu["not_measured"].is_string(),
        "{gpu}"
    );
}

#[test]
fn bench_refuses_an_empty_cohort() {
    let out = run(&["bench", "--files", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--files must be at least 1"));
}

#[test]
fn fit_mm_becomes_lags_per_image_and_rows_say_where_the_spacing_came_from() {
    let dir = tempfile::tempdir().unwrap();
    // Raw phantoms carry Pixel Spacing 0.1 mm; display ones none, like the iDXA export.
    phantom_file(dir.path(), "a_raw.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let imager = phantom_file(
        dir.path(),
        "b_imager.dcm",
        spec(0.5, 12),
        Syntax::ExplicitLe,
    );
    crate::util::edit_dicom(&imager, |obj| {
        obj.remove_element(dicom_dictionary_std::tags::PIXEL_SPACING);
        obj.put(dicom_core::DataElement::new(
            dicom_dictionary_std::tags::IMAGER_PIXEL_SPACING,
            dicom_core::VR::DS,
            dicom_core::PrimitiveValue::from("0.2\\0.2"),
        ));
    });
    let display = tbs_batch::phantom::Spec {
        style: tbs_batch::phantom::Style::Display,
        ..spec(0.5, 8)
    };
    phantom_file(dir.path(), "c_display.dcm", display, Syntax::ImplicitLe);

    let rows = results(&["--cpu", s(dir.path()), "--fit-mm", "0.2", "0.6"]);
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["spacing_source"].as_str(),
                r["status"].as_str(),
                r["fit_lags"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("PixelSpacing", "ok", "2;3;4;5;6"),
            ("ImagerPixelSpacing", "ok", "1;2;3"),
            ("none", "error", ""),
        ]
    );
    assert!(
        rows[2]["error"].contains("--fit-mm needs the pixel spacing"),
        "{:?}",
        rows[2]
    );

    let rows = results(&[
        "--cpu",
        s(dir.path()),
        "--fit-mm",
        "0.5",
        "1.5",
        "--spacing",
        "0.25",
    ]);
    for r in &rows {
        assert_eq!(
            (r["spacing_source"].as_str(), r["fit_lags"].as_str()),
            ("flag", "2;3;4;5;6")
        );
        assert_eq!(r["pixel_spacing_row_mm"], "0.25");
    }
    let too_far = results(&[
        "--cpu",
        s(dir.path()),
        "--fit-mm",
        "0.1",
        "5",
        "--max-lag",
        "16",
    ]);
    assert!(
        too_far[0]["error"].contains("lags 1..=50"),
        "{:?}",
        too_far[0]
    );

    let both = run(&[
        "--cpu",
        s(dir.path()),
        "--fit-mm",
        "1",
        "2",
        "--fit-to",
        "3",
    ]);
    assert_eq!(both.status.code(), Some(2));
    let bad = run(&["--cpu", s(dir.path()), "--spacing", "0"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn tbs_cpu_tier_lowers_the_kernels_tier_and_the_rows_stay_the_same() {
    let dir = tempfile::tempdir().unwrap();
    cohort(dir.path(), 3);
    let with = |tier: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tbs-batch"));
        command.args(["--cpu", s(dir.path())]);
        if let Some(t) = tier {
            command.env("TBS_CPU_TIER", t);
        }
        command.output().unwrap()
    };
    let best = with(None);
    assert_eq!(best.status.code(), Some(0));
    for tier in tbs_batch::engine::cpu::Tier::available() {
        let lowered = with(Some(&tier.to_string()));
        assert_eq!(lowered.status.code(), Some(0), "{tier}");
        assert!(lowered.stdout == best.stdout, "{tier}: other rows");
    }
    let bad = with(Some("sse9"));
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("TBS_CPU_TIER=sse9"));
}
