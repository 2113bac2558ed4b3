//! A run you can trust: one set of parameters per results file, one writer per output, and no
//! input that can hang the run (issue 14). Each scenario ends with exit 2 and untouched files,
//! or with exactly one row set per input.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tbs_batch::phantom::{write_dicom, Phantom, Syntax};

use crate::cohort::{binary, complete, read, sized_cohort};
use crate::util::{parse_csv, phantom_file, run, s, spec};

/// The manifest beside a results file.
fn manifest(results: &Path) -> PathBuf {
    PathBuf::from(format!("{}.manifest.json", s(results)))
}

/// The bytes of each file, `None` for one that does not exist.
fn snapshot(files: &[&Path]) -> Vec<Option<Vec<u8>>> {
    files.iter().map(|f| std::fs::read(f).ok()).collect()
}

#[test]
fn a_killed_run_resumed_with_other_flags_is_refused_and_its_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    sized_cohort(&scans, 40, 256);
    let changed: [&[&str]; 4] = [
        &["--max-lag", "8", "--fit-to", "8"],
        &["--extremes", "keep"],
        &["--shard", "1/2"],
        &["--fit-from", "2"],
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut refused = 0;
    for round in 0..12 {
        let out = dir.path().join(format!("out-{round}.csv"));
        let vg = dir.path().join(format!("vg-{round}.csv"));
        let base = [
            "--cpu",
            "-j",
            "1",
            s(&scans),
            "-o",
            s(&out),
            "--variogram",
            s(&vg),
        ];
        let mut child = binary().args(base).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(5..120)));
        let _ = child.kill(); // SIGKILL, or nothing if it already ended
        child.wait().unwrap();
        let files = [out.as_path(), vg.as_path(), &manifest(&out)];
        let before = snapshot(&files);
        let has_rows = before[0]
            .as_ref()
            .is_some_and(|b| !parse_csv(b).1.is_empty());
        let flags = changed[round % changed.len()];
        let again = run(&[&base[..], &["--resume"], flags].concat());
        if has_rows {
            assert_eq!(again.status.code(), Some(2), "round {round}: {again:?}");
            let said = String::from_utf8_lossy(&again.stderr);
            assert!(said.contains("was started with other settings"), "{said}");
            assert!(snapshot(&files) == before, "round {round}: files changed");
            refused += 1;
        }
        // With the flags it was started with, it carries on to the clean run.
        complete(&[&base[..], &["--resume"]].concat());
    }
    assert!(
        refused >= 6,
        "only {refused} rounds were killed with rows written"
    );
}

#[test]
fn resume_refuses_rows_that_no_manifest_accounts_for() {
    let dir = tempfile::tempdir().unwrap();
    let scan = phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let out = dir.path().join("out.csv");
    complete(&["--cpu", s(&scan), "-o", s(&out)]);
    std::fs::remove_file(manifest(&out)).unwrap();
    let before = read(&out);
    let again = run(&["--cpu", s(&scan), "-o", s(&out), "--resume"]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("has rows but no manifest"));
    assert!(read(&out) == before);
}

#[test]
fn merge_refuses_shards_made_with_other_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    sized_cohort(&scans, 6, 48);
    let shard = |i: usize| dir.path().join(format!("shard{i}.csv"));
    complete(&["--cpu", s(&scans), "--shard", "0/2", "-o", s(&shard(0))]);
    let one = shard(1);
    complete(&[
        "--cpu",
        s(&scans),
        "--shard",
        "1/2",
        "--max-lag",
        "8",
        "-o",
        s(&one),
    ]);
    let merged = dir.path().join("all.csv");
    let out = run(&["merge", s(&shard(0)), s(&shard(1)), "-o", s(&merged)]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("max_lag 16, now 8"), "{said}");
    assert!(
        !merged.exists() || read(&merged).is_empty(),
        "nothing merged"
    );
}

#[test]
fn merge_reports_a_shard_whose_run_never_ended() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    sized_cohort(&scans, 6, 48);
    let shard = |i: usize| dir.path().join(format!("shard{i}.csv"));
    for i in 0..2 {
        let slice = format!("{i}/2");
        complete(&["--cpu", s(&scans), "--shard", &slice, "-o", s(&shard(i))]);
    }
    // As a run killed after its last row leaves it: the manifest it wrote when it started.
    let text = std::fs::read_to_string(manifest(&shard(1))).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["state"] = "running".into();
    std::fs::write(manifest(&shard(1)), m.to_string()).unwrap();
    let out = run(&["merge", s(&shard(0)), s(&shard(1))]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("shard1.csv: its run did not end"), "{said}");
}

/// Takes the exclusive lock a run takes, as a second run would see it.
fn hold_lock(path: &Path) -> File {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.lock().unwrap();
    file
}

#[test]
fn a_second_writer_of_any_output_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scan = phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let (out, vg) = (dir.path().join("out.csv"), dir.path().join("vg.csv"));
    let args = ["--cpu", s(&scan), "-o", s(&out), "--variogram", s(&vg)];
    complete(&args);
    let files = [out.as_path(), vg.as_path(), &manifest(&out)];
    let before = snapshot(&files);
    for held in [&out, &vg] {
        let lock = hold_lock(held);
        for resume in [&[][..], &["--resume"]] {
            let second = run(&[&args[..], resume].concat());
            assert_eq!(second.status.code(), Some(2), "{second:?}");
            let said = String::from_utf8_lossy(&second.stderr);
            let name = format!("{} is being written by another tbs-batch run", s(held));
            assert!(said.contains(&name), "{said}");
            assert!(snapshot(&files) == before, "a refused run changed a file");
        }
        drop(lock);
    }
    // merge -o is a writer too, and merge will not read a file a run is still writing.
    let merged = dir.path().join("all.csv");
    let lock = hold_lock(&merged);
    let second = run(&["merge", s(&out), "-o", s(&merged)]);
    assert_eq!(second.status.code(), Some(2), "{second:?}");
    drop(lock);
    let lock = hold_lock(&out);
    let reading = run(&["merge", s(&out)]);
    assert!(String::from_utf8_lossy(&reading.stderr).contains("still being written"));
    drop(lock);
    complete(&["merge", s(&out), "-o", s(&merged)]);
    assert!(read(&merged) == read(&out));
}

#[test]
fn two_runs_started_at_once_on_one_output_leave_one_row_set_per_input() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    sized_cohort(&scans, 40, 256);
    let clean = dir.path().join("clean.csv");
    complete(&["--cpu", "-j", "1", s(&scans), "-o", s(&clean)]);
    let out = dir.path().join("out.csv");
    let mut overlapped = false;
    for _ in 0..5 {
        let args = ["--cpu", "-j", "1", s(&scans), "-o", s(&out)];
        let runs: Vec<_> = (0..2)
            .map(|_| binary().args(args).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        let codes: Vec<Option<i32>> = runs
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().status.code())
            .collect();
        assert!(codes.contains(&Some(0)), "{codes:?}");
        overlapped |= codes.contains(&Some(2));
        assert!(read(&out) == read(&clean), "rows mixed: {codes:?}");
    }
    assert!(overlapped, "the two runs never overlapped");
}

/// Runs the binary, failing the test instead of hanging when it does not end in `limit`.
fn run_within(args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = binary()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn fifos_sockets_and_devices_are_skipped_without_being_opened() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    phantom_file(&scans, "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let fifo = scans.join("b-fifo.dcm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let _socket = std::os::unix::net::UnixListener::bind(scans.join("c-socket.dcm")).unwrap();
    std::os::unix::fs::symlink(&fifo, scans.join("d-link-to-fifo.dcm")).unwrap();
    std::os::unix::fs::symlink("/dev/null", scans.join("e-null.dcm")).unwrap();
    let out = dir.path().join("out.csv");
    let done = run_within(
        &["--cpu", s(&scans), "-o", s(&out)],
        Duration::from_secs(60),
    );
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    let said = String::from_utf8_lossy(&done.stderr);
    assert!(said.contains("1 files ok, 0 failed, 4 skipped"), "{said}");
    let text = std::fs::read_to_string(manifest(&out)).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let skipped = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "skipped")
        .count();
    assert_eq!(skipped, 4, "{text}");
}

/// A one-frame 16-bit file of `side` × `side` pixels with a cheap texture (no synthesis).
fn large_file(dir: &Path, name: &str, side: usize) -> PathBuf {
    let small = Phantom::generate(spec(0.5, 16)).unwrap();
    let phantom = Phantom {
        spec: tbs_batch::phantom::Spec {
            rows: side,
            cols: side,
            ..small.spec
        },
        values: (0..side * side)
            .map(|i| ((i * 2654435761) % 65521) as i32)
            .collect(),
    };
    let path = dir.join(name);
    write_dicom(&path, &[phantom], Syntax::ExplicitLe).unwrap();
    path
}

#[test]
fn an_input_still_running_after_the_file_timeout_is_an_error_row_and_the_rest_follow() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    phantom_file(&scans, "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    large_file(&scans, "b-large.dcm", 2048);
    phantom_file(&scans, "c.dcm", spec(0.4, 12), Syntax::ExplicitLe);
    // The large file needs about 10^9 pair evaluations at lag 128: far more than 100 ms.
    let args = [
        "--cpu",
        "-j",
        "2",
        s(&scans),
        "--max-lag",
        "128",
        "--file-timeout",
        "100ms",
    ];
    let done = run_within(&args, Duration::from_secs(120));
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    let (_, rows) = parse_csv(&done.stdout);
    let paths: Vec<&str> = rows
        .iter()
        .map(|r| r["path"].rsplit('/').next().unwrap())
        .collect();
    assert_eq!(paths, ["a.dcm", "b-large.dcm", "c.dcm"]);
    assert_eq!(rows[0]["status"], "ok");
    assert!(
        rows[1]["error"].contains("timed out: still being processed after 100ms (--file-timeout)"),
        "{:?}",
        rows[1]
    );
    assert_eq!(rows[2]["status"], "ok");
}

#[test]
fn the_file_timeout_takes_seconds_or_durations_and_refuses_nonsense() {
    let dir = tempfile::tempdir().unwrap();
    let scan = phantom_file(dir.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    for ok in ["30", "0.5", "2m", "0"] {
        let out = run(&["--cpu", s(&scan), "--file-timeout", ok]);
        assert_eq!(out.status.code(), Some(0), "{ok}: {out:?}");
    }
    for bad in ["-1", "soon", "NaN"] {
        let flag = format!("--file-timeout={bad}");
        let out = run(&["--cpu", s(&scan), &flag]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--file-timeout"));
    }
}
