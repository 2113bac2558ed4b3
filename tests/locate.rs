//! `--roi auto` as a user runs it: L1–L4 located on the delivery's AP spines, written back as a
//! sidecar that reproduces them, mixed with a sidecar's lines, and error rows where there is no
//! spine to find.

use std::collections::HashMap;

use crate::util::{parse_csv, results, run, s};

const DELIVERY: &str = "datasets/delivery";

fn pooled(rows: &[HashMap<String, String>]) -> Vec<(String, f64)> {
    rows.iter()
        .filter(|r| r["roi"] == "L1-L4")
        .map(|r| (r["path"].clone(), r["tbs"].parse().unwrap()))
        .collect()
}

#[test]
fn the_delivery_located_scores_as_its_true_outlines_and_reviews_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (saved, qc, page) = (
        dir.path().join("rois.csv"),
        dir.path().join("qc"),
        dir.path().join("r.html"),
    );
    let done = run(&[
        "--cpu",
        "--roi",
        "auto",
        "--save-roi",
        s(&saved),
        "--qc",
        s(&qc),
        "--report",
        s(&page),
        DELIVERY,
    ]);
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    let summary = String::from_utf8_lossy(&done.stderr);
    assert!(summary.contains("L1-L4 located on 3 frames"), "{summary}");
    let rows = parse_csv(&done.stdout).1;
    assert_eq!(rows.len(), 15);
    for r in &rows {
        assert_eq!(
            (r["roi_source"].as_str(), r["status"].as_str()),
            ("auto", "ok"),
            "{r:?}"
        );
        let q: f64 = r["roi_quality"].parse().unwrap();
        assert!((0.0..=1.0).contains(&q));
    }
    let truth = results(&["--cpu", "--roi", "datasets/delivery/rois.csv", DELIVERY]);
    for ((path, auto), (same, real)) in pooled(&rows).iter().zip(pooled(&truth)) {
        assert_eq!(path, &same);
        assert!((auto - real).abs() < 0.01, "{path}: {auto} vs true {real}");
    }
    let sheets = walk_png(&qc);
    assert_eq!(sheets, 3);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("Lowest roi_quality"),
        "the report lists the frames to review"
    );
    // The saved regions are polygons that score the same rows as a sidecar.
    let again = results(&["--cpu", "--roi", s(&saved), DELIVERY]);
    assert_eq!(again.len(), rows.len());
    for (a, b) in rows.iter().zip(&again) {
        assert_eq!(
            (&a["path"], &a["roi"], &a["tbs"]),
            (&b["path"], &b["roi"], &b["tbs"])
        );
        assert_eq!(
            (b["roi_source"].as_str(), b["roi_quality"].as_str()),
            ("sidecar", "")
        );
    }
}

fn walk_png(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk_png(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "png"))
            }
        })
        .sum()
}

#[test]
fn a_sidecar_with_auto_takes_its_lines_where_it_has_them_and_locates_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let all = std::fs::read_to_string("datasets/delivery/rois.csv").unwrap();
    let mut lines = all.lines();
    let header = lines.next().unwrap();
    let first: Vec<&str> = lines.take(4).collect();
    let member = first[0].split(',').next().unwrap();
    let sidecar = dir.path().join("one.csv");
    // Paths as the run names its inputs: absolute both.
    let delivery = std::fs::canonicalize(DELIVERY).unwrap();
    let lines = format!("{header}\n{}\n", first.join("\n"))
        .replace(member, &format!("{}/{member}", delivery.display()));
    std::fs::write(&sidecar, lines).unwrap();
    let rows = results(&["--cpu", "--roi", s(&sidecar), "--roi", "auto", s(&delivery)]);
    assert_eq!(rows.len(), 15);
    for r in &rows {
        let expected = if r["path"].ends_with(member) {
            "sidecar"
        } else {
            "auto"
        };
        assert_eq!(r["roi_source"], expected, "{}", r["path"]);
    }
    let two = run(&["--roi", s(&sidecar), "--roi", s(&sidecar), DELIVERY]);
    assert_eq!(two.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&two.stderr).contains("one sidecar per run"));
}

#[test]
fn what_holds_no_spine_gets_error_rows_naming_the_step_and_other_scans_stay_whole() {
    let rows = results(&["--cpu", "--roi", "auto", "datasets/sample/site-b"]);
    let located: Vec<_> = rows.iter().filter(|r| r["roi_source"] == "auto").collect();
    assert!(!located.is_empty());
    for r in &located {
        assert_eq!(r["status"], "error");
        assert!(
            r["error"].starts_with("automatic L1-L4: "),
            "{}",
            r["error"]
        );
    }
    let labels: Vec<&str> = located.iter().take(5).map(|r| r["roi"].as_str()).collect();
    assert_eq!(labels, ["L1", "L2", "L3", "L4", "L1-L4"]);
    // Hips and knees are not located: scored whole, as without --roi auto.
    let every = results(&["--cpu", "--roi", "auto", "--scans", "all", DELIVERY]);
    for r in every.iter().filter(|r| r["scan"] != "ap-spine") {
        assert_eq!(
            (r["roi"].as_str(), r["roi_source"].as_str()),
            ("image", "image")
        );
    }
}

#[test]
fn a_run_resumed_without_auto_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tbs.csv");
    assert_eq!(
        run(&["--cpu", "--roi", "auto", DELIVERY, "-o", s(&out)])
            .status
            .code(),
        Some(0)
    );
    let resumed = run(&["--cpu", DELIVERY, "-o", s(&out), "--resume"]);
    assert_eq!(resumed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("--roi auto"));
}
