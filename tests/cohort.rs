//! Cohort runs: killed and resumed, sharded and merged, pseudonymized, with a manifest — each
//! must leave exactly the rows of one clean run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use hmac::{Hmac, Mac};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use tbs_batch::phantom::Syntax;

use crate::util::{parse_csv, phantom_file, run, s, spec, truncate};

/// A small cohort in nested directories: multi-frame files (several rows per input), a broken
/// file (an error row), and a text file (skipped, no rows).
pub fn cohort(dir: &Path, files: usize) {
    sized_cohort(dir, files, 48);
}

/// As [`cohort`], with scans `cols` wide.
pub fn sized_cohort(dir: &Path, files: usize, cols: usize) {
    for i in 0..files {
        let sub = dir.join(format!("site{}", i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        let spec = tbs_batch::phantom::Spec {
            seed: i as u64,
            rows: cols * 5 / 6 + i % 7,
            cols,
            ..spec(0.2 + 0.05 * (i % 10) as f64, 12)
        };
        phantom_file(&sub, &format!("scan{i:03}.dcm"), spec, Syntax::ExplicitLe);
    }
    let two_frames = dir.join("site0/multi.dcm");
    let frames: Vec<_> = (0..2)
        .map(|i| {
            tbs_batch::phantom::Phantom::generate(tbs_batch::phantom::Spec {
                seed: 90 + i,
                ..spec(0.5, 16)
            })
            .unwrap()
        })
        .collect();
    tbs_batch::phantom::write_dicom(&two_frames, &frames, Syntax::ExplicitLe).unwrap();
    let broken = phantom_file(dir, "broken.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    truncate(&broken, 500);
    std::fs::write(dir.join("notes.txt"), "not an image\n").unwrap();
}

pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tbs-batch"))
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs to completion, asserting success.
pub fn complete(args: &[&str]) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
}

#[test]
fn resuming_a_file_cut_at_any_byte_gives_the_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    cohort(&scans, 6);
    let (full, full_vg) = (dir.path().join("full.csv"), dir.path().join("full-vg.csv"));
    complete(&[
        "--cpu",
        s(&scans),
        "-o",
        s(&full),
        "--variogram",
        s(&full_vg),
    ]);
    let (expect, expect_vg) = (read(&full), read(&full_vg));
    assert!(parse_csv(&expect).1.len() >= 8);
    let (out, vg) = (dir.path().join("out.csv"), dir.path().join("vg.csv"));
    // Every cut of the results file, torn lines and a torn header included; the variogram file
    // is written ahead of the results, so it is left whole for the repair to cut back.
    for cut in (0..expect.len()).step_by(23).chain([expect.len()]) {
        std::fs::write(&out, &expect[..cut]).unwrap();
        std::fs::write(&vg, &expect_vg).unwrap();
        let args = ["--cpu", s(&scans), "-o", s(&out), "--variogram", s(&vg)];
        complete(&[&args[..], &["--resume"]].concat());
        assert!(read(&out) == expect, "results after a cut at byte {cut}");
        assert!(
            read(&vg) == expect_vg,
            "variogram after a cut at byte {cut}"
        );
    }
}

#[test]
fn killed_at_random_moments_and_resumed_ends_with_the_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    sized_cohort(&scans, 40, 256);
    let full = dir.path().join("full.csv");
    let started = Instant::now();
    complete(&["--cpu", "-j", "1", s(&scans), "-o", s(&full)]);
    // Kills land at random moments within the clean run's span, however fast the build.
    let span = started.elapsed();
    let expect = read(&full);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for round in 0..3 {
        let (mut kills, mut restarts) = (0, 0);
        for attempt in 0.. {
            assert!(attempt < 500, "round {round}: never finished");
            let out = dir.path().join(format!("killed-{round}-{restarts}.csv"));
            let mut child = binary()
                .args(["--cpu", "-j", "1", s(&scans), "-o", s(&out), "--resume"])
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(span.mul_f64(rng.random_range(0.05..1.0)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                continue;
            }
            let status = child.wait().unwrap();
            assert!(status.success(), "round {round}: {status}");
            if kills > 0 {
                assert!(read(&out) == expect, "round {round}, after {kills} kills");
                break;
            }
            // It finished before any kill landed, which proves nothing: begin the round again.
            restarts += 1;
        }
    }
}

/// Runs `scans` as shards 0/3, 1/3 and 2/3 into `dir`; returns where shard i's results are.
fn three_shards(dir: &Path, scans: &Path) -> impl Fn(usize) -> PathBuf {
    let dir = dir.to_path_buf();
    let shard = move |i: usize| dir.join(format!("shard{i}.csv"));
    for i in 0..3 {
        let (slice, out) = (format!("{i}/3"), shard(i));
        complete(&["--cpu", s(scans), "--shard", &slice, "-o", s(&out)]);
    }
    shard
}

#[test]
fn shards_merged_equal_the_unsharded_run_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    cohort(&scans, 10);
    let all = dir.path().join("all.csv");
    complete(&["--cpu", s(&scans), "-o", s(&all)]);
    let shard = three_shards(dir.path(), &scans);
    let merged = run(&["merge", s(&shard(2)), s(&shard(0)), s(&shard(1))]);
    assert_eq!(merged.status.code(), Some(0), "{merged:?}");
    assert!(
        merged.stdout == read(&all),
        "merged shards differ from the unsharded run"
    );
    let said = String::from_utf8_lossy(&merged.stderr);
    assert!(said.contains("0 duplicated, 0 missing"), "{said}");

    // A job array's task picks its shard from Slurm's variables (tasks numbered from 1 here).
    let slurm = dir.path().join("slurm.csv");
    let out = binary()
        .args(["--cpu", s(&scans), "-o", s(&slurm)])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(read(&slurm) == read(&shard(1)));
}

#[test]
fn merge_reports_a_missing_shard_and_a_duplicated_input() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    cohort(&scans, 6);
    let shard = three_shards(dir.path(), &scans);
    let missing = run(&["merge", s(&shard(0)), s(&shard(2))]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("shard 1/3: no file given"), "{said}");

    let copy = dir.path().join("again.csv");
    std::fs::copy(shard(0), &copy).unwrap();
    std::fs::copy(
        dir.path().join("shard0.csv.manifest.json"),
        dir.path().join("again.csv.manifest.json"),
    )
    .unwrap();
    let twice = run(&["merge", s(&shard(0)), s(&shard(1)), s(&shard(2)), s(&copy)]);
    assert_eq!(twice.status.code(), Some(1), "{twice:?}");
    let said = String::from_utf8_lossy(&twice.stderr);
    assert!(said.contains("kept the rows of"), "{said}");
    let (_, rows) = parse_csv(&twice.stdout);
    let (_, once) = parse_csv(&read(&shard(0)));
    let shard0_path = &once[0]["path"];
    let n = rows.iter().filter(|r| &r["path"] == shard0_path).count();
    assert_eq!(n, once.iter().filter(|r| &r["path"] == shard0_path).count());
}

#[test]
fn the_manifest_names_every_input_with_the_sha256_of_what_was_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    cohort(&scans, 3);
    let out = dir.path().join("out.csv");
    complete(&["--cpu", s(&scans), "-o", s(&out), "--max-lag", "8"]);
    let text = std::fs::read_to_string(dir.path().join("out.csv.manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(manifest["tool"], "tbs-batch");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["engine"], "cpu");
    assert_eq!(manifest["parameters"]["max_lag"], 8);
    assert_eq!(manifest["parameters"]["fit"], "lags 1..=4");
    assert_eq!(manifest["shard"]["count"], 1);
    let inputs = manifest["inputs"].as_array().unwrap();
    assert_eq!(
        inputs.len(),
        6,
        "3 scans, the two-frame file, broken, notes: {text}"
    );
    for input in inputs {
        let path = PathBuf::from(input["path"].as_str().unwrap());
        let hash = format!("{:x}", Sha256::digest(read(&path)));
        assert_eq!(input["sha256"], hash.as_str(), "{path:?}");
    }
    let status = |name: &str| {
        let i = inputs
            .iter()
            .find(|i| i["path"].as_str().unwrap().ends_with(name))
            .unwrap();
        (
            i["status"].as_str().unwrap().to_string(),
            i["rows"].as_u64().unwrap(),
        )
    };
    assert_eq!(status("notes.txt"), ("skipped".into(), 0));
    assert_eq!(status("broken.dcm"), ("error".into(), 1));
    assert_eq!(status("multi.dcm"), ("ok".into(), 2));
    let (_, rows) = parse_csv(&read(&out));
    let results_hash = format!("{:x}", Sha256::digest(read(&out)));
    assert_eq!(manifest["results"]["sha256"], results_hash.as_str());
    assert!(rows.iter().all(|r| r["sha256"].len() == 64), "{rows:?}");
}

#[test]
fn pseudonymized_patient_ids_are_keyed_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let scan = phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let key_file = dir.path().join("key");
    let key = b"0123456789abcdef-site-secret";
    std::fs::write(&key_file, key).unwrap();
    let plain = parse_csv(&run(&["--cpu", s(&scan)]).stdout).1;
    assert_eq!(plain[0]["patient_id"], "PHANTOM-H0.50");
    let out = run(&["--cpu", s(&scan), "--pseudonymize", s(&key_file)]);
    let rows = parse_csv(&out.stdout).1;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(b"PHANTOM-H0.50");
    let expect: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(rows[0]["patient_id"], expect);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("PHANTOM-H"));
    std::fs::write(&key_file, "short").unwrap();
    let refused = run(&["--cpu", s(&scan), "--pseudonymize", s(&key_file)]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn an_image_over_the_pixel_cap_is_an_error_row_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let big = tbs_batch::phantom::Spec {
        rows: 100,
        cols: 100,
        ..spec(0.5, 12)
    };
    phantom_file(dir.path(), "big.dcm", big, Syntax::ExplicitLe);
    phantom_file(dir.path(), "small.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let rows = parse_csv(&run(&["--cpu", s(dir.path()), "--max-pixels", "5000"]).stdout).1;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["status"], "error");
    assert!(rows[0]["error"].contains("10000 pixels"), "{:?}", rows[0]);
    assert_eq!(rows[1]["status"], "ok");
}

#[test]
fn resume_refuses_a_file_made_with_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let scan = phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let out = dir.path().join("out.csv");
    complete(&["--cpu", s(&scan), "-o", s(&out)]);
    let before = read(&out);
    let other = run(&[
        "--cpu",
        s(&scan),
        "-o",
        s(&out),
        "--resume",
        "--max-lag",
        "8",
    ]);
    assert_eq!(other.status.code(), Some(2), "{other:?}");
    assert!(String::from_utf8_lossy(&other.stderr).contains("other settings"));
    assert!(read(&out) == before, "the file is left alone");
}
