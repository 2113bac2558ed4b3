//! The pipeline with engines that fail: a panic, and a device that is lost.

use super::*;
use crate::engine::{cpu, Engine, Variogram};
use crate::fit::FitRange;
use crate::phantom::{write_dicom, Phantom, Spec, Style, Syntax};
use crate::region::Patch;

/// An engine with a bug: it panics on every frame.
struct Broken;

impl Engine for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }

    fn variograms(&self, _: &decode::Frame, _: &[Patch], _: usize) -> FileResult<Vec<Variogram>> {
        panic!("index out of bounds in the kernel")
    }
}

/// An engine whose device is lost on frames `rows` tall; the CPU's sums otherwise.
struct LostOn {
    rows: usize,
}

impl Engine for LostOn {
    fn name(&self) -> &'static str {
        "lost"
    }

    fn variograms(&self, f: &decode::Frame, p: &[Patch], lag: usize) -> FileResult<Vec<Variogram>> {
        if f.rows == self.rows {
            return Err(FileError::DeviceLost("device lost".into()));
        }
        Ok(p.iter().map(|p| cpu::sums(f, p, lag)).collect())
    }
}

fn settings() -> Settings {
    Settings {
        max_lag: 4,
        fit: FitSpec::Lags(FitRange::new(1, 4, 4).unwrap()),
        spacing: None,
        jobs: 2,
        extremes: Extremes::Keep,
        sidecar: None,
        max_pixels: DEFAULT_MAX_PIXELS,
        pseudonym: None,
        hook: None,
        file_timeout: None,
        scans: crate::scan::Selection::default_types(),
        locate: false,
    }
}

/// A phantom file `rows` tall.
fn phantom(dir: &std::path::Path, name: &str, rows: usize) -> Input {
    let path = dir.join(name);
    let spec = Spec {
        rows,
        cols: 32,
        hurst: 0.5,
        bits_stored: 12,
        signed: false,
        style: Style::Raw,
        seed: 1,
    };
    write_dicom(
        &path,
        &[Phantom::generate(spec).unwrap()],
        Syntax::ExplicitLe,
    )
    .unwrap();
    Input::new(path)
}

#[test]
fn a_panic_while_processing_a_file_becomes_its_error_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = phantom(dir.path(), "a.dcm", 32);
    let report = process(&input, &Broken, &settings());
    assert_eq!(report.rows.len(), 1);
    match &report.rows[0].outcome {
        Outcome::Error(e) => assert!(e.contains("index out of bounds in the kernel"), "{e}"),
        other => panic!("expected an error row, got {other:?}"),
    }
}

/// Issue 14 (6e): after a device error every later frame became an error row.
#[test]
fn a_lost_device_stops_the_run_before_the_input_it_failed_on() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<Input> = (0..6)
        .map(|i| {
            phantom(
                dir.path(),
                &format!("{i}.dcm"),
                if i == 3 { 40 } else { 32 },
            )
        })
        .collect();
    let mut written = Vec::new();
    let outcome = run(
        inputs,
        Arc::new(LostOn { rows: 40 }),
        Arc::new(settings()),
        |r| {
            written.push(r.rows[0].path.clone());
            Ok(())
        },
    );
    let e = outcome.unwrap_err().to_string();
    assert!(e.contains("stopped before"), "{e}");
    assert!(
        e.contains("3.dcm (the GPU failed and computes nothing more: device lost)"),
        "{e}"
    );
    assert!(e.contains("carry on with --resume"), "{e}");
    let names: Vec<&str> = written.iter().map(|p| &p[p.len() - 5..]).collect();
    assert_eq!(names, ["0.dcm", "1.dcm", "2.dcm"]);
}
