//! Regions from a `--roi` sidecar: one row per region, the pooled L1-L4 row, and the errors that
//! name the sidecar line.

use std::collections::HashMap;
use std::path::Path;

use tbs_batch::phantom::Syntax;

use crate::independent;
use crate::util::{parse_csv, phantom_file, results, run, s, spec, vertebrae_fixture};

/// The variogram file as (roi, direction, lag) → (pairs, sum_sq).
fn sums(path: &Path) -> HashMap<(String, String, u32), (u64, u64)> {
    let (_, rows) = parse_csv(&std::fs::read(path).unwrap());
    rows.into_iter()
        .map(|r| {
            (
                (
                    r["roi"].clone(),
                    r["direction"].clone(),
                    r["lag"].parse().unwrap(),
                ),
                (r["pairs"].parse().unwrap(), r["sum_sq"].parse().unwrap()),
            )
        })
        .collect()
}

#[test]
fn each_vertebra_gets_a_row_and_l1_l4_pools_their_sums() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, sidecar) = vertebrae_fixture(dir.path());
    let vg = dir.path().join("vg.csv");
    let rows = results(&[
        "--cpu",
        s(&scans),
        "--roi",
        s(&sidecar),
        "--variogram",
        s(&vg),
    ]);
    let rois: Vec<&str> = rows.iter().map(|r| r["roi"].as_str()).collect();
    assert_eq!(rois, ["L1", "L2", "L3", "L4", "L1-L4"]);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        assert!(r["excluded_pixels"].parse::<u64>().is_ok(), "{r:?}");
    }
    let pooled = &rows[4];
    assert_eq!(pooled["vertebrae"], "L1;L2;L3;L4");
    let slopes: Vec<f64> = rows[..4]
        .iter()
        .map(|r| r["tbs"].parse().unwrap())
        .collect();
    let mean: f64 = pooled["mean_vertebra_tbs"].parse().unwrap();
    assert!((mean - slopes.iter().sum::<f64>() / 4.0).abs() < 1e-12);

    let sums = sums(&vg);
    for dir in ["h", "v"] {
        for lag in 1..=16 {
            let part = |roi: &str| sums[&(roi.to_string(), dir.to_string(), lag)];
            let total = ["L1", "L2", "L3", "L4"]
                .map(part)
                .into_iter()
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            assert_eq!(part("L1-L4"), total, "{dir} lag {lag}");
        }
    }
    // L1 is a 40 × 16 rectangle and L2 the polygon of one: without excluded pixels inside
    // them, horizontal lag 1 has (width − 1) × height pairs.
    if rows[0]["excluded_pixels"] == "0" {
        assert_eq!(sums[&("L1".into(), "h".into(), 1)].0, 39 * 16);
    }
    if rows[1]["excluded_pixels"] == "0" {
        assert_eq!(sums[&("L2".into(), "h".into(), 1)].0, 43 * 20);
    }
}

#[test]
fn an_independent_implementation_reproduces_the_region_sums() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, sidecar) = vertebrae_fixture(dir.path());
    for extremes in ["auto", "keep"] {
        independent::check_run(&scans, &["--extremes", extremes], Some(&sidecar));
    }
}

#[test]
fn extremes_of_8_bit_frames_are_left_out_by_default_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = vertebrae_fixture(dir.path());
    let auto = results(&["--cpu", s(&scans)]);
    let keep = results(&["--cpu", s(&scans), "--extremes", "keep"]);
    let excluded: u64 = auto[0]["excluded_pixels"].parse().unwrap();
    assert!(excluded > 0, "the display phantom has background and fill");
    assert_eq!(keep[0]["excluded_pixels"], "0");
    assert_ne!(auto[0]["tbs"], keep[0]["tbs"]);

    let raw = tempfile::tempdir().unwrap();
    phantom_file(raw.path(), "a.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    let deep = results(&["--cpu", s(raw.path())]);
    assert_eq!(
        deep[0]["excluded_pixels"], "0",
        "auto keeps 12-bit extremes"
    );
    let forced = results(&["--cpu", s(raw.path()), "--extremes", "exclude"]);
    assert!(forced[0]["excluded_pixels"].parse::<u64>().unwrap() >= 2);
}

#[test]
fn region_problems_are_rows_that_name_the_sidecar_line() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = vertebrae_fixture(dir.path());
    let small = image::GrayImage::new(10, 10);
    small.save(dir.path().join("small.png")).unwrap();
    let sidecar = dir.path().join("bad.csv");
    std::fs::write(
        &sidecar,
        "path,roi,x,y,width,height,mask,frame\n\
         spine.dcm,L1,70,0,20,10,,\n\
         spine.dcm,L2,0,0,10,10,,\n\
         spine.dcm,L3,,,,,small.png,\n\
         spine.dcm,L4,,,,,missing.png,\n\
         spine.dcm,extra,0,0,5,5,,2\n\
         elsewhere.dcm,L1,0,0,5,5,,\n",
    )
    .unwrap();
    let out = run(&["--cpu", s(&scans), "--roi", s(&sidecar)]);
    assert_eq!(out.status.code(), Some(0));
    let (_, rows) = parse_csv(&out.stdout);
    let by_roi: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["roi"].as_str(), r)).collect();
    let error = |roi: &str| by_roi[roi]["error"].clone();
    assert!(
        error("L1").contains(
            "bad.csv line 2: rectangle x=70 y=0 width=20 height=10 lies outside the 80 × 100 image"
        ),
        "{}",
        error("L1")
    );
    assert_eq!(by_roi["L2"]["status"], "ok");
    assert!(
        error("L3").contains("bad.csv line 4: the mask is 10 × 10, the image 80 × 100"),
        "{}",
        error("L3")
    );
    assert!(
        error("L4").contains("bad.csv line 5: cannot read the mask"),
        "{}",
        error("L4")
    );
    assert!(
        error("extra").contains("bad.csv line 6: frame 2 does not exist; the file has 1"),
        "{}",
        error("extra")
    );
    assert!(
        error("L1-L4").contains("at least 2 vertebrae with a valid score; valid: L2"),
        "{}",
        error("L1-L4")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: bad.csv line 7: no input has the path elsewhere.dcm"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_sidecar_stops_the_run_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = vertebrae_fixture(dir.path());
    let sidecar = dir.path().join("typo.csv");
    std::fs::write(&sidecar, "path,roi,polygon\nspine.dcm,L1,\"0 0; 9 9\"\n").unwrap();
    let out_file = dir.path().join("out.csv");
    let out = run(&["--cpu", s(&scans), "--roi", s(&sidecar), "-o", s(&out_file)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("typo.csv line 2: a polygon needs 3 vertices, this has 2"),
        "{stderr}"
    );
    assert!(!out_file.exists());
}

#[test]
fn images_without_sidecar_lines_keep_their_image_row() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, sidecar) = vertebrae_fixture(dir.path());
    phantom_file(&scans, "other.dcm", spec(0.4, 12), Syntax::ExplicitLe);
    let rows = results(&["--cpu", s(&scans), "--roi", s(&sidecar)]);
    let other: Vec<_> = rows
        .iter()
        .filter(|r| r["path"].ends_with("other.dcm"))
        .collect();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0]["roi"], "image");
    assert_eq!(rows.len(), 6);
}

#[test]
fn the_spine_sample_ranks_its_vertebrae_by_h_and_an_independent_check_agrees() {
    let spine = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/spine");
    let roi = spine.join("rois.csv");
    let rows = results(&["--cpu", s(&spine), "--roi", s(&roi)]);
    assert_eq!(rows.len(), 10, "two images, four vertebrae and L1-L4 each");
    let hursts = [0.25, 0.4, 0.55, 0.7];
    for image in rows.chunks(5) {
        let labels: Vec<&str> = image.iter().map(|r| r["roi"].as_str()).collect();
        assert_eq!(labels, ["L1", "L2", "L3", "L4", "L1-L4"]);
        let tbs: Vec<f64> = image.iter().map(|r| r["tbs"].parse().unwrap()).collect();
        assert!(
            tbs[..4].windows(2).all(|w| w[0] < w[1]),
            "rank by H: {tbs:?}"
        );
        for (t, h) in tbs.iter().zip(hursts) {
            assert!((t - 2.0 * h).abs() < 0.25, "{t} near 2H = {}", 2.0 * h);
        }
        assert_eq!(image[4]["vertebrae"], "L1;L2;L3;L4");
    }
    independent::check_run(&spine, &[], Some(&roi));
}

/// Issue 14 (6c): Bits Stored was read in two places with different fallbacks, so an 8-bit
/// file without it kept its extremes under `--extremes auto`.
#[test]
fn an_8_bit_file_without_bits_stored_loses_its_extremes_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = vertebrae_fixture(dir.path());
    let with = results(&["--cpu", s(&scans)]);
    crate::util::edit_dicom(&scans.join("spine.dcm"), |o| {
        o.remove_element(dicom_dictionary_std::tags::BITS_STORED);
        o.remove_element(dicom_dictionary_std::tags::HIGH_BIT);
    });
    let without = results(&["--cpu", s(&scans)]);
    assert_eq!(without[0]["status"], "ok", "{without:?}");
    assert_eq!(without[0]["bits_stored"], "8", "Bits Allocated stands in");
    assert_eq!(without[0]["excluded_pixels"], with[0]["excluded_pixels"]);
    assert_eq!(without[0]["tbs"], with[0]["tbs"]);
}

/// Issue 14 (6b): a path line and a SOP Instance UID line, or two path suffixes, could both give
/// one frame an `L1`, which the `L1-L4` row pooled twice.
#[test]
fn two_lines_giving_one_frame_the_same_label_stop_the_run_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, _) = vertebrae_fixture(dir.path());
    let uid = results(&["--cpu", s(&scans)])[0]["sop_instance_uid"].clone();
    let cases = [
        (
            "path,roi,x,y,width,height\n\
             spine.dcm,L1,20,4,40,16\n\
             scans/spine.dcm,L1,20,26,40,16\n"
                .to_string(),
            "rois.csv line 2 and rois.csv line 3 both give",
        ),
        (
            format!(
                "path,sop_instance_uid,roi,x,y,width,height\n\
                 spine.dcm,,L2,20,26,40,16\n\
                 ,{uid},L1,20,4,40,16\n\
                 ,{uid},L2,20,50,40,16\n"
            ),
            "rois.csv line 2 and rois.csv line 4 both give",
        ),
    ];
    for (text, want) in cases {
        let sidecar = dir.path().join("rois.csv");
        std::fs::write(&sidecar, text).unwrap();
        let out_file = dir.path().join("out.csv");
        let out = run(&["--cpu", s(&scans), "--roi", s(&sidecar), "-o", s(&out_file)]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{stderr}");
        assert!(stderr.contains("spine.dcm frame 1 a region"), "{stderr}");
        assert!(!out_file.exists(), "nothing written");
    }
}

#[test]
fn saved_regions_read_back_to_the_same_rows_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, sidecar) = vertebrae_fixture(dir.path());
    // A region outside its image and a frame the file lacks: error rows, saved and read back too.
    let mut text = std::fs::read_to_string(&sidecar).unwrap();
    text.push_str("scans/spine.dcm,L5,70,90,40,40,,\n");
    let body: String = text.lines().skip(1).map(|l| format!("{l},\n")).collect();
    let text = format!(
        "path,roi,x,y,width,height,polygon,mask,frame\n{body}scans/spine.dcm,extra,0,0,4,4,,,3\n"
    );
    std::fs::write(&sidecar, text).unwrap();
    let saved = dir.path().join("saved.csv");
    let first = dir.path().join("first.csv");
    let args = |roi: &Path, out: &Path| {
        vec![
            "--cpu".to_string(),
            s(&scans).into(),
            "datasets/spine".into(),
            "--roi".into(),
            s(roi).into(),
            "-o".into(),
            s(out).into(),
        ]
    };
    let mut with_save = args(&sidecar, &first);
    with_save.extend(["--save-roi".into(), s(&saved).into()]);
    let out = run(&with_save.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (header, lines) = parse_csv(&std::fs::read(&saved).unwrap());
    assert_eq!(
        header,
        ["path", "frame", "roi", "x", "y", "width", "height", "polygon", "mask"]
    );
    let labels: Vec<&str> = lines.iter().map(|l| l["roi"].as_str()).collect();
    assert_eq!(labels, ["L1", "L2", "L3", "L4", "L5", "extra"]);
    assert!(Path::new(&lines[3]["mask"]).is_absolute(), "{:?}", lines[3]);
    assert_eq!(lines[2]["polygon"], "16 52; 60 50; 66 70; 20 72");
    let rows = parse_csv(&std::fs::read(&first).unwrap()).1;
    let sources: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["roi"].as_str(), r["roi_source"].as_str()))
        .collect();
    assert!(sources.contains(&("L1-L4", "sidecar")) && sources.contains(&("extra", "sidecar")));
    assert!(
        sources.contains(&("image", "image")),
        "the spines without lines: {sources:?}"
    );
    // The saved sidecar, used from another folder (the mask by its absolute path), gives the
    // same results, byte for byte but for the sidecar line an error row names.
    let second = dir.path().join("second.csv");
    let moved = dir.path().join("elsewhere").join("saved.csv");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::copy(&saved, &moved).unwrap();
    let again = args(&moved, &second);
    let out = run(&again.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (one, two) = (
        std::fs::read_to_string(&first).unwrap(),
        std::fs::read_to_string(&second)
            .unwrap()
            .replace("saved.csv line", "rois.csv line"),
    );
    for (a, b) in one.lines().zip(two.lines()) {
        assert_eq!(a, b);
    }
    assert_eq!(one, two);
}

#[test]
fn saved_regions_resume_with_the_run_and_never_overwrite_the_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let roi = "datasets/delivery/rois.csv";
    let (clean, clean_saved) = (
        dir.path().join("clean.csv"),
        dir.path().join("clean-roi.csv"),
    );
    let run_to = |out: &Path, saved: &Path, resume: bool| {
        let mut args = vec![
            "--cpu",
            "datasets/delivery",
            "--roi",
            roi,
            "-o",
            s(out),
            "--save-roi",
            s(saved),
        ];
        if resume {
            args.push("--resume");
        }
        run(&args)
    };
    assert_eq!(run_to(&clean, &clean_saved, false).status.code(), Some(0));
    // Killed in the second spine: its rows and regions half written.
    let (cut, cut_saved) = (dir.path().join("cut.csv"), dir.path().join("cut-roi.csv"));
    let keep = |from: &Path, to: &Path, lines: usize| {
        let text = std::fs::read_to_string(from).unwrap();
        let kept: String = text.lines().take(lines).map(|l| format!("{l}\n")).collect();
        std::fs::write(to, kept).unwrap();
    };
    keep(&clean, &cut, 8);
    keep(&clean_saved, &cut_saved, 7);
    std::fs::copy(
        format!("{}.manifest.json", s(&clean)),
        format!("{}.manifest.json", s(&cut)),
    )
    .unwrap();
    assert_eq!(run_to(&cut, &cut_saved, true).status.code(), Some(0));
    assert_eq!(std::fs::read(&cut).unwrap(), std::fs::read(&clean).unwrap());
    assert_eq!(
        std::fs::read(&cut_saved).unwrap(),
        std::fs::read(&clean_saved).unwrap()
    );
    // --save-roi naming the --roi file is refused before anything is written.
    let before = std::fs::read(roi).unwrap();
    let out = run(&[
        "--cpu",
        "datasets/delivery",
        "--roi",
        roi,
        "--save-roi",
        roi,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--save-roi and --roi both name"));
    assert_eq!(std::fs::read(roi).unwrap(), before);
}

#[test]
fn anatomical_spines_come_with_true_outlines_that_score() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("spines");
    let made = run(&[
        "anatomy",
        s(&out),
        "--rows",
        "540",
        "--cols",
        "400",
        "--spacing",
        "0.35",
    ]);
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    let roi = out.join("rois.csv");
    let rows = results(&["--cpu", s(&out), "--roi", s(&roi)]);
    let labels: Vec<&str> = rows.iter().map(|r| r["roi"].as_str()).collect();
    assert_eq!(labels, ["L1", "L2", "L3", "L4", "L1-L4"]);
    for r in &rows {
        assert_eq!(
            (r["status"].as_str(), r["roi_source"].as_str()),
            ("ok", "sidecar")
        );
        assert_eq!(
            (r["scan"].as_str(), r["spacing_source"].as_str()),
            ("ap-spine", "ExposedArea")
        );
    }
    let truth = std::fs::read_to_string(out.join("truth.csv")).unwrap();
    assert!(
        truth.starts_with("path,crest_row,tilt_deg,curve_mm\nanatomy-1.dcm,"),
        "{truth}"
    );
}
