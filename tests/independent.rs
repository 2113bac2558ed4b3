//! The sums, reproduced by an independent implementation: pydicom decodes, numpy sums
//! (`tests/independent/variogram.py`). Skipped with a message where Python or its packages are
//! missing; `TBS_REQUIRE_INDEPENDENT=1` (set in CI) makes that a failure.

use std::path::Path;
use std::process::Command;

use tbs_batch::phantom::{Spec, Syntax};

use crate::util::{phantom_file, results, s, skip_unless_required, spec};

fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import pydicom, numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn check(dir: &Path) {
    check_run(dir, &[], None);
}

/// Runs `tbs-batch --cpu dir` with `args` (and `--roi`), then the independent script on its
/// variogram and results files; every sum must match.
pub fn check_run(dir: &Path, args: &[&str], roi: Option<&Path>) {
    if !python_ready() {
        skip_unless_required(
            "TBS_REQUIRE_INDEPENDENT",
            "independent check",
            "python3 with pydicom and numpy not found \
             (pip install -r tests/independent/requirements.txt)",
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let vg = work.path().join("variogram.csv");
    let res = work.path().join("results.csv");
    let mut tool = vec!["--cpu", s(dir), "--variogram", s(&vg), "-o", s(&res)];
    tool.extend(args);
    let mut script_args = vec![s(&vg), "--results", s(&res)];
    if let Some(roi) = roi {
        tool.extend(["--roi", s(roi)]);
        script_args.extend(["--roi", s(roi)]);
    }
    if let Some(i) = args.iter().position(|a| *a == "--extremes") {
        script_args.extend(["--extremes", args[i + 1]]);
    }
    results(&tool);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/variogram.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(&script_args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
}

#[test]
fn an_independent_implementation_reproduces_every_sum() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    phantom_file(d, "u8.dcm", spec(0.3, 8), Syntax::ImplicitLe);
    phantom_file(d, "u12.dcm", spec(0.5, 12), Syntax::ExplicitLe);
    phantom_file(
        d,
        "s12.dcm",
        Spec {
            signed: true,
            ..spec(0.6, 12)
        },
        Syntax::ExplicitBe,
    );
    phantom_file(
        d,
        "s16.dcm",
        Spec {
            signed: true,
            ..spec(0.7, 16)
        },
        Syntax::Deflated,
    );
    phantom_file(
        d,
        "odd.dcm",
        Spec {
            rows: 13,
            cols: 3,
            ..spec(0.5, 16)
        },
        Syntax::ExplicitLe,
    );
    check(d);
}

#[test]
fn an_independent_implementation_reproduces_the_sample_cohort() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample");
    let dir = tempfile::tempdir().unwrap();
    // The sample's readable images, without the deliberately broken ones.
    for site in ["site-a", "site-b"] {
        for entry in std::fs::read_dir(sample.join(site)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    check(dir.path());
}

#[test]
fn an_independent_implementation_reproduces_the_jpeg_and_jpeg_2000_fixtures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syntaxes");
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "jpeg-lossless-sv1.dcm",
        "jpeg-lossless-p14.dcm",
        "j2k-lossless.dcm",
        "j2k.dcm",
    ] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    check(dir.path());
}
