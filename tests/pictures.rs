//! `--qc` sheets and the `--report` page, as a user gets them: files on disk, the page rendered
//! by a real browser (Debian's chromium) into a screenshot that must show the charts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use tbs_batch::phantom::{write_dicom, Phantom, Syntax};

use crate::util::{
    edit_dicom, parse_csv, phantom_file, run, s, skip_unless_required, spec, truncate,
    vertebrae_fixture,
};

/// A cohort with two scanner models, a two-frame file, a spine with regions, and a broken file.
/// Returns (scans folder, region sidecar).
fn cohort(dir: &Path) -> (PathBuf, PathBuf) {
    let (scans, sidecar) = vertebrae_fixture(dir);
    std::fs::create_dir_all(scans.join("site")).unwrap();
    for i in 0..4 {
        let path = phantom_file(
            &scans,
            &format!("site/scan{i}.dcm"),
            tbs_batch::phantom::Spec {
                seed: i,
                ..spec(0.3 + 0.1 * i as f64, 12)
            },
            Syntax::ExplicitLe,
        );
        if i % 2 == 1 {
            edit_dicom(&path, |obj| {
                let model = PrimitiveValue::from("Densitometer 2");
                obj.put(DataElement::new(
                    tags::MANUFACTURER_MODEL_NAME,
                    VR::LO,
                    model,
                ));
            });
        }
    }
    let frames: Vec<Phantom> = (0..2)
        .map(|i| {
            Phantom::generate(tbs_batch::phantom::Spec {
                seed: 40 + i,
                ..spec(0.5, 16)
            })
            .unwrap()
        })
        .collect();
    write_dicom(&scans.join("multi.dcm"), &frames, Syntax::ExplicitLe).unwrap();
    let broken = phantom_file(&scans, "broken.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    truncate(&broken, 500);
    (scans, sidecar)
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found
}

fn ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn qc_draws_one_sheet_per_decoded_frame_named_after_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, sidecar) = cohort(dir.path());
    let qc = dir.path().join("qc");
    let with_qc = run(&["--cpu", s(&scans), "--roi", s(&sidecar), "--qc", s(&qc)]);
    ok(&with_qc);
    let without = run(&["--cpu", s(&scans), "--roi", s(&sidecar)]);
    assert_eq!(with_qc.stdout, without.stdout, "--qc changes no number");
    let mut expect: BTreeSet<PathBuf> = (0..4)
        .map(|i| format!("site/scan{i}.dcm.frame-1.png"))
        .chain(["multi.dcm.frame-1.png", "multi.dcm.frame-2.png"].map(String::from))
        .chain(["spine.dcm.frame-1.png".to_string()])
        .map(|name| scans.join(name))
        .collect();
    // The sheets mirror the input paths under the QC folder (absolute paths lose their root).
    expect = expect
        .into_iter()
        .map(|p| p.strip_prefix("/").unwrap_or(&p).to_path_buf())
        .collect();
    assert_eq!(files(&qc), expect, "no sheet for the broken file");
    for name in &expect {
        let sheet = image::open(qc.join(name)).unwrap().to_rgb8();
        assert_eq!(sheet.dimensions(), (1200, 640));
        let grays: BTreeSet<u8> = sheet
            .pixels()
            .filter(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2])
            .map(|p| p.0[0])
            .collect();
        assert!(grays.len() > 100, "{name:?} shows the image's gray levels");
    }
}

#[test]
fn a_qc_folder_that_cannot_be_made_stops_the_run_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = cohort(dir.path());
    let blocker = dir.path().join("in-the-way");
    std::fs::write(&blocker, "a file, not a folder").unwrap();
    let out = dir.path().join("out.csv");
    let result = run(&[s(&scans), "-o", s(&out), "--qc", s(&blocker)]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("cannot create"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_resumed_run_reports_the_rows_of_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, sidecar) = cohort(dir.path());
    let (whole, resumed) = (dir.path().join("whole.csv"), dir.path().join("resumed.csv"));
    let (page_whole, page_resumed) = (dir.path().join("whole.html"), dir.path().join("r.html"));
    let args = |out: &Path, page: &Path| {
        vec![
            "--cpu".to_string(),
            s(&scans).into(),
            "--roi".into(),
            s(&sidecar).into(),
            "-o".into(),
            s(out).into(),
            "--report".into(),
            s(page).into(),
        ]
    };
    fn argv(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    ok(&run(&argv(&args(&whole, &page_whole))));
    // A run killed after its first inputs: the file holds a prefix of the rows, and the
    // manifest the run wrote when it started.
    let text = std::fs::read_to_string(&whole).unwrap();
    let prefix: Vec<&str> = text.lines().take(4).collect();
    std::fs::write(&resumed, prefix.join("\n") + "\n").unwrap();
    let manifest = |csv: &Path| PathBuf::from(format!("{}.manifest.json", s(csv)));
    std::fs::copy(manifest(&whole), manifest(&resumed)).unwrap();
    let mut again = args(&resumed, &page_resumed);
    again.push("--resume".into());
    ok(&run(&argv(&again)));
    let (a, b) = (cohort_part(&page_whole), cohort_part(&page_resumed));
    assert!(
        a.contains("7 inputs with rows: 6 fully scored, 1 with an error row"),
        "{a}"
    );
    assert_eq!(a, b, "the resumed report covers every row");
}

/// The page up to its "Run" section: everything it says about the cohort.
fn cohort_part(page: &Path) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    html.split("<h2>Run</h2>").next().unwrap().to_string()
}

#[test]
fn a_merged_cohort_reports_like_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = cohort(dir.path());
    let at = |name: &str| dir.path().join(name);
    let whole = at("whole.html");
    ok(&run(&["--cpu", s(&scans), "--report", s(&whole)]));
    for i in 0..2 {
        let shard = format!("{i}/2");
        let out = at(&format!("shard{i}.csv"));
        ok(&run(&[
            "--cpu",
            s(&scans),
            "--shard",
            &shard,
            "-o",
            s(&out),
        ]));
    }
    let merged = at("merged.html");
    ok(&run(&[
        "merge",
        s(&at("shard1.csv")),
        s(&at("shard0.csv")),
        "-o",
        s(&at("all.csv")),
        "--report",
        s(&merged),
    ]));
    assert_eq!(cohort_part(&whole), cohort_part(&merged));
    let html = std::fs::read_to_string(&merged).unwrap();
    assert!(
        html.contains("merged: 2 files, 7 inputs"),
        "the run section says so"
    );
}

#[test]
fn the_report_is_self_contained_and_renders_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = cohort(dir.path());
    let pages = dir.path().join("pages");
    std::fs::create_dir(&pages).unwrap();
    let page = pages.join("report.html");
    let (out, qc) = (dir.path().join("out.csv"), dir.path().join("qc"));
    let args = [
        s(&scans),
        "-o",
        s(&out),
        "--report",
        s(&page),
        "--qc",
        s(&qc),
    ];
    ok(&run(&args));
    let html = std::fs::read_to_string(&page).unwrap();
    // Rows to check link to their QC sheets, relative to the page.
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(links.len(), 15, "five rows for each of three reasons");
    for link in links {
        assert!(link.starts_with("../qc/"), "{link}");
        assert!(pages.join(link).is_file(), "{link} is a sheet");
    }
    // What the CSV says, the page says: the broken file's reason, both scanner models.
    let (_, rows) = parse_csv(&std::fs::read(&out).unwrap());
    let broken = rows
        .iter()
        .find(|r| r["path"].ends_with("broken.dcm"))
        .expect("the broken file's error row");
    assert_eq!(broken["status"], "error");
    assert!(
        html.contains(&broken["error"]),
        "the page gives the reason: {}",
        broken["error"]
    );
    assert!(html.contains("Densitometer 2 (n=2)"));
    assert!(html.contains("fractional Brownian surface</td><td class=\"n\">4</td>"));
    assert_eq!(html.matches("<svg").count(), 3, "TBS, by scanner, R²");
    for outside in [
        "<script", "<link", "<img", "<iframe", "url(", "@import", "src=",
    ] {
        assert!(
            !html.contains(outside),
            "the page fetches nothing: {outside}"
        );
    }
    let Some(shot) = screenshot(&page, dir.path()) else {
        return;
    };
    let count = |rgb: [u8; 3]| shot.pixels().filter(|p| p.0 == rgb).count();
    let total = (shot.width() * shot.height()) as usize;
    let white = count([255, 255, 255]);
    assert!(
        white < total * 97 / 100,
        "{white} of {total} pixels are white: the page rendered blank"
    );
    // The bars of the TBS and R² histograms, in their colours, drawn by the browser.
    assert!(count([0, 130, 200]) > 2000, "TBS histogram bars");
    assert!(count([60, 180, 75]) > 500, "R² histogram bars");
}

/// Renders `page` in headless chromium and loads the screenshot; `None` (and a note) when there
/// is no chromium, unless `TBS_REQUIRE_BROWSER=1`.
fn screenshot(page: &Path, dir: &Path) -> Option<image::RgbImage> {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
    else {
        skip_unless_required(
            "TBS_REQUIRE_BROWSER",
            "browser test",
            "no chromium (apt-get install chromium)",
        );
        return None;
    };
    let shot = dir.join("shot.png");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,2200",
        ])
        .arg(format!("--user-data-dir={}", dir.join("browser").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(
        image::open(&shot)
            .expect("chromium wrote a screenshot")
            .to_rgb8(),
    )
}

/// Issue 14 (6a): a mask of the wrong size made outlining panic, so the file became one
/// internal-error row and its good regions' rows were lost.
#[test]
fn qc_with_a_mask_of_the_wrong_size_keeps_every_good_row() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = vertebrae_fixture(dir.path());
    image::GrayImage::from_pixel(30, 20, image::Luma([255]))
        .save(dir.path().join("small.png"))
        .unwrap();
    let sidecar = dir.path().join("rois.csv");
    std::fs::write(
        &sidecar,
        "path,roi,x,y,width,height,mask\n\
         spine.dcm,L1,20,4,40,16,\n\
         spine.dcm,L2,20,26,40,16,\n\
         spine.dcm,L3,,,,,small.png\n",
    )
    .unwrap();
    let qc = dir.path().join("qc");
    let out = run(&["--cpu", s(&scans), "--roi", s(&sidecar), "--qc", s(&qc)]);
    ok(&out);
    let (_, rows) = parse_csv(&out.stdout);
    let status: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["roi"].as_str(), r["status"].as_str()))
        .collect();
    assert_eq!(
        status,
        [("L1", "ok"), ("L2", "ok"), ("L3", "error"), ("L1-L4", "ok")],
        "{rows:?}"
    );
    assert!(rows[2]["error"].contains("the mask is 30 × 20"), "{rows:?}");
    assert_eq!(files(&qc).len(), 1, "the frame's sheet is drawn");
}
