//! Real exports as they arrive (issue 16): a delivery of zips holding seven kinds of scan,
//! told apart by Protocol Name, with Exposed Area for spacing and Patient's Size and Weight.
//! Only the AP spines are scored by default; every skipped image is accounted for; archive
//! members resume, shard, merge and take regions exactly as files do.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tbs_batch::phantom::Syntax;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::cohort::{complete, read};
use crate::util::{edit_dicom, parse_csv, phantom_file, results, run, s, spec};

const DELIVERY: &str = "datasets/delivery";

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn manifest(results: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{}.manifest.json", s(results))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The member's bytes, read with the zip crate independently of the tool.
fn member_bytes(path: &str) -> Vec<u8> {
    let (archive, member) = path.split_once("!/").unwrap();
    let mut zip = ZipArchive::new(File::open(archive).unwrap()).unwrap();
    let mut bytes = Vec::new();
    zip.by_name(member)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

#[test]
fn a_delivery_scores_only_its_ap_spines_with_spacing_and_bmi_and_accounts_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tbs.csv");
    let done = run(&["--cpu", DELIVERY, "-o", s(&out)]);
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    let summary = String::from_utf8_lossy(&done.stderr);
    assert!(
        summary.contains("3 files ok, 0 failed, 1 skipped (not DICOM images), 21 skipped by --scans (3 lateral-spine, 6 hip, 6 knee, 6 total-body)"),
        "{summary}"
    );
    let rows = parse_csv(&read(&out)).1;
    assert_eq!(rows.len(), 3);
    let bmis: Vec<&str> = rows.iter().map(|r| r["bmi"].as_str()).collect();
    for row in &rows {
        assert_eq!(
            (row["status"].as_str(), row["scan"].as_str()),
            ("ok", "ap-spine")
        );
        assert_eq!(row["protocol"], "AP Spine");
        assert!(row["path"].starts_with("datasets/delivery/") && row["path"].contains(".zip!/"));
        assert_eq!(row["spacing_source"], "ExposedArea");
        let spacing: (f64, f64) = (
            row["pixel_spacing_row_mm"].parse().unwrap(),
            row["pixel_spacing_col_mm"].parse().unwrap(),
        );
        assert_eq!(spacing, (197.0 / 780.0, 180.0 / 716.0));
        assert_eq!(row["sha256"], hex(&member_bytes(&row["path"])));
    }
    // The third visit's weight was not entered: its BMI is blank, the others plausible.
    assert_eq!(bmis[2], "");
    for bmi in &bmis[..2] {
        let bmi: f64 = bmi.parse().unwrap();
        assert!((15.0..40.0).contains(&bmi), "{bmi}");
    }
    let m = manifest(&out);
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 25);
    let mut by_status: HashMap<&str, usize> = HashMap::new();
    for input in inputs {
        *by_status
            .entry(input["status"].as_str().unwrap())
            .or_default() += 1;
        if input["status"] == "skipped" && input["scan"].is_string() {
            let reason = input["reason"].as_str().unwrap();
            assert!(reason.contains("is not in --scans"), "{reason}");
            let path = input["path"].as_str().unwrap();
            assert_eq!(input["sha256"], hex(&member_bytes(path)).as_str());
        }
    }
    assert_eq!(by_status, HashMap::from([("ok", 3), ("skipped", 22)]));
    let archives = m["archives"].as_array().unwrap();
    assert_eq!(archives.len(), 3);
    for a in archives {
        let file = a["file"].as_str().unwrap();
        assert_eq!(a["sha256"], hex(&read(Path::new(file))).as_str());
    }
}

#[test]
fn scans_chooses_what_is_scored() {
    let count = |args: &[&str]| {
        let mut n: HashMap<String, usize> = HashMap::new();
        for row in results(args) {
            assert_eq!(row["status"], "ok", "{row:?}");
            *n.entry(row["scan"].clone()).or_default() += 1;
        }
        n
    };
    let all = count(&["--cpu", "--scans", "all", DELIVERY]);
    let expected = [
        ("ap-spine", 3),
        ("lateral-spine", 3),
        ("hip", 6),
        ("knee", 6),
        ("total-body", 6),
    ];
    assert_eq!(all, expected.map(|(k, v)| (k.to_string(), v)).into());
    let hips = count(&["--cpu", "--scans", "hip,knee", DELIVERY]);
    assert_eq!(
        hips,
        [("hip".to_string(), 6), ("knee".to_string(), 6)].into()
    );
    let bad = run(&["--cpu", "--scans", "femur", DELIVERY]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scan type \"femur\""));
}

#[test]
fn archive_members_take_regions_resume_shard_and_merge_as_files_do() {
    let dir = tempfile::tempdir().unwrap();
    let roi = format!("{DELIVERY}/rois.csv");
    let clean = dir.path().join("clean.csv");
    let qc = dir.path().join("qc");
    complete(&[
        "--cpu",
        DELIVERY,
        "--roi",
        &roi,
        "--qc",
        s(&qc),
        "-o",
        s(&clean),
    ]);
    let rows = parse_csv(&read(&clean)).1;
    let labels: Vec<&str> = rows.iter().map(|r| r["roi"].as_str()).collect();
    assert_eq!(labels, ["L1", "L2", "L3", "L4", "L1-L4"].repeat(3));
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    for row in rows.iter().filter(|r| r["roi"] == "L1") {
        let sheet = qc.join(format!("{}.frame-1.png", row["path"]));
        assert!(sheet.is_file(), "{}", sheet.display());
    }
    // A run killed in the second spine's rows, resumed: the first is done, the second redone.
    let resumed = dir.path().join("resumed.csv");
    let text = String::from_utf8(read(&clean)).unwrap();
    let cut: String = text.lines().take(8).map(|l| format!("{l}\n")).collect();
    std::fs::write(&resumed, cut).unwrap();
    std::fs::copy(
        format!("{}.manifest.json", s(&clean)),
        format!("{}.manifest.json", s(&resumed)),
    )
    .unwrap();
    let out = run(&[
        "--cpu",
        DELIVERY,
        "--roi",
        &roi,
        "-o",
        s(&resumed),
        "--resume",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("inputs already done (--resume)"));
    assert_eq!(read(&resumed), read(&clean));
    // Shards, merged in either order.
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| {
            let shard = dir.path().join(format!("shard-{i}.csv"));
            let flag = format!("{i}/3");
            complete(&[
                "--cpu",
                DELIVERY,
                "--roi",
                &roi,
                "--shard",
                &flag,
                "-o",
                s(&shard),
            ]);
            shard
        })
        .collect();
    let merged = dir.path().join("merged.csv");
    complete(&[
        "merge",
        s(&shards[2]),
        s(&shards[0]),
        s(&shards[1]),
        "-o",
        s(&merged),
    ]);
    assert_eq!(read(&merged), read(&clean));
}

/// Writes a zip of `(name, bytes)` members.
fn zip(path: &Path, members: &[(&str, &[u8])]) {
    let mut zip = ZipWriter::new(File::create(path).unwrap());
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn a_bad_archive_or_member_is_an_error_row_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    let good = read(&phantom_file(
        dir.path(),
        "good.dcm",
        spec(0.5, 12),
        Syntax::ExplicitLe,
    ));
    let inner = dir.path().join("inner.zip");
    zip(&inner, &[("a.dcm", &good)]);
    let bomb = vec![0u8; 16 << 20];
    zip(
        &scans.join("a.zip"),
        &[
            ("1-good.dcm", &good),
            ("2-nested.zip", &read(&inner)),
            ("3-bomb.dcm", &bomb),
            ("4-notes.txt", b"not an image"),
        ],
    );
    std::fs::write(scans.join("b.zip"), b"PK\x03\x04 not really an archive").unwrap();
    zip(&scans.join("c.zip"), &[]);
    let rows = results(&["--cpu", s(&scans)]);
    let found: Vec<(String, &str, &str)> = rows
        .iter()
        .map(|r| {
            let name = r["path"].rsplit('/').next().unwrap().to_string();
            (name, r["status"].as_str(), r["error"].as_str())
        })
        .collect();
    assert_eq!(found.len(), 5, "{found:?}");
    assert_eq!((found[0].0.as_str(), found[0].1), ("1-good.dcm", "ok"));
    let expect = [
        ("2-nested.zip", "an archive inside an archive is not opened"),
        ("3-bomb.dcm", "a ratio only a zip bomb has"),
        ("b.zip", "not a readable zip archive"),
        ("c.zip", "the archive holds no files"),
    ];
    for ((name, status, error), (want, why)) in found[1..].iter().zip(expect) {
        assert_eq!((name.as_str(), *status), (want, "error"));
        assert!(error.contains(why), "{name}: {error}");
    }
    // The pixel cap holds for members as for files.
    let capped = results(&[
        "--cpu",
        "--max-pixels",
        "1000",
        &format!("{}!/1-good.dcm", s(&scans.join("a.zip"))),
    ]);
    assert_eq!(capped.len(), 1);
    assert!(
        capped[0]["error"].starts_with("too large: 48 × 64 × 1 frames"),
        "{:?}",
        capped[0]
    );
}

#[test]
fn a_member_given_by_its_path_is_one_input() {
    let first = results(&["--cpu", "--scans", "all", DELIVERY]);
    let path = &first[4]["path"];
    let one = results(&["--cpu", "--scans", "all", path]);
    assert_eq!(one.len(), 1);
    assert_eq!((&one[0]["path"], &one[0]["tbs"]), (path, &first[4]["tbs"]));
}

#[test]
fn pixel_spacing_wins_over_exposed_area_which_makes_fit_mm_work() {
    let dir = tempfile::tempdir().unwrap();
    let raw = phantom_file(dir.path(), "raw.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let mut display = spec(0.5, 8);
    display.style = tbs_batch::phantom::Style::Display;
    let export = phantom_file(dir.path(), "export.dcm", display, Syntax::ExplicitLe);
    for path in [&raw, &export] {
        edit_dicom(path, |obj| {
            obj.put(dicom_core::DataElement::new(
                dicom_dictionary_std::tags::EXPOSED_AREA,
                dicom_core::VR::US,
                dicom_core::PrimitiveValue::U16(vec![64, 32].into()),
            ));
        });
    }
    let args = ["--cpu", "--max-lag", "24", "--fit-mm", "0.5", "2"];
    let rows = results(&[&args[..], &[s(&raw), s(&export)]].concat());
    assert_eq!(rows[0]["spacing_source"], "PixelSpacing");
    assert_eq!(rows[1]["spacing_source"], "ExposedArea");
    let (r, c) = (display.rows as f64, display.cols as f64);
    assert_eq!(rows[1]["pixel_spacing_row_mm"], (32.0 / r).to_string());
    assert_eq!(rows[1]["pixel_spacing_col_mm"], (64.0 / c).to_string());
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{rows:?}");
}

#[test]
fn the_report_counts_inputs_by_scan_type_and_what_was_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    let out = dir.path().join("tbs.csv");
    complete(&["--cpu", DELIVERY, "-o", s(&out), "--report", s(&page)]);
    let html = std::fs::read_to_string(&page).unwrap();
    for (scan, scored, skipped) in [
        ("ap-spine", 3, 0),
        ("hip", 0, 6),
        ("total-body", 0, 6),
        ("not a DICOM image", 0, 1),
    ] {
        let row = format!(
            "<tr><td>{scan}</td><td class=\"n\">{scored}</td><td class=\"n\">{skipped}</td></tr>"
        );
        assert!(html.contains(&row), "{row}");
    }
    // Merged shards report the same counts, from their manifests.
    let shards: Vec<PathBuf> = (0..2)
        .map(|i| {
            let shard = dir.path().join(format!("s{i}.csv"));
            complete(&[
                "--cpu",
                DELIVERY,
                "--shard",
                &format!("{i}/2"),
                "-o",
                s(&shard),
            ]);
            shard
        })
        .collect();
    let merged_page = dir.path().join("m.html");
    let merged = dir.path().join("m.csv");
    complete(&[
        "merge",
        s(&shards[0]),
        s(&shards[1]),
        "-o",
        s(&merged),
        "--report",
        s(&merged_page),
    ]);
    let merged_html = std::fs::read_to_string(&merged_page).unwrap();
    let table = |h: &str| {
        h[h.find("<h2>Scan types").unwrap()..h.find("<h2>Scores by region").unwrap()].to_string()
    };
    assert_eq!(table(&merged_html), table(&html));
}

#[test]
fn resuming_with_other_scan_types_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tbs.csv");
    complete(&["--cpu", DELIVERY, "-o", s(&out)]);
    let before = read(&out);
    let refused = run(&[
        "--cpu",
        DELIVERY,
        "-o",
        s(&out),
        "--resume",
        "--scans",
        "all",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--scans ap-spine,unknown, now all"), "{why}");
    assert_eq!(read(&out), before);
}
