//! Fixtures for the integration tests: phantom files, broken files, and running the binary.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dicom_core::{DataElement, PrimitiveValue, VR};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tbs_batch::decode::Frame;
use tbs_batch::phantom::{write_dicom, Phantom, Spec, Style, Syntax};

/// A frame of uniformly random values in 0..=max.
pub fn random_frame(rng: &mut ChaCha8Rng, rows: usize, cols: usize, max: u16) -> Frame {
    let pixels = (0..rows * cols)
        .map(|_| rng.random_range(0..=max))
        .collect();
    Frame::new(rows, cols, pixels).unwrap()
}

/// A small raw phantom spec; tests override what they need.
pub fn spec(hurst: f64, bits: u16) -> Spec {
    Spec {
        rows: 64,
        cols: 48,
        hurst,
        bits_stored: bits,
        signed: false,
        style: Style::Raw,
        seed: 11,
    }
}

/// Writes a one-frame phantom file and returns its path.
pub fn phantom_file(dir: &Path, name: &str, spec: Spec, syntax: Syntax) -> PathBuf {
    let path = dir.join(name);
    let phantom = Phantom::generate(spec).expect("valid spec");
    write_dicom(&path, &[phantom], syntax).expect("phantom written");
    path
}

/// Rewrites a DICOM file after applying `edit` to its data set.
pub fn edit_dicom(path: &Path, edit: impl FnOnce(&mut dicom_object::DefaultDicomObject)) {
    let mut obj = dicom_object::open_file(path).expect("fixture opens");
    edit(&mut obj);
    obj.write_to_file(path).expect("fixture rewritten");
}

/// Sets an unsigned short attribute.
pub fn set_us(obj: &mut dicom_object::DefaultDicomObject, tag: dicom_core::Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

/// Sets a code string attribute.
pub fn set_cs(obj: &mut dicom_object::DefaultDicomObject, tag: dicom_core::Tag, value: &str) {
    obj.put(DataElement::new(tag, VR::CS, PrimitiveValue::from(value)));
}

/// Replaces the 4-byte length of the Pixel Data element with `length`, leaving the bytes alone:
/// a header that lies about how much data follows.
pub fn lie_about_pixel_length(path: &Path, length: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    // Explicit VR little endian: tag (E07F 1000), VR "OW"/"OB", 2 reserved bytes, then the length.
    let at = bytes
        .windows(6)
        .rposition(|w| {
            w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'W'] || w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'B']
        })
        .expect("pixel data header present");
    bytes[at + 8..at + 12].copy_from_slice(&length.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// Keeps only the first `keep` bytes of a file.
pub fn truncate(path: &Path, keep: usize) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..keep]).unwrap();
}

/// Skips a test whose tool is missing, with a note straight to the terminal (the harness
/// would swallow eprintln! from a passing test) — or fails it when `require` is set to 1, as CI
/// does, so a check cannot pass by not running.
pub fn skip_unless_required(require: &str, what: &str, missing: &str) {
    assert!(
        std::env::var(require).as_deref() != Ok("1"),
        "{require}=1 but {missing}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "{what} SKIPPED: {missing} (set {require}=1 to fail instead)"
    );
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tbs-batch"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// The peak memory a run's summary line reports, in MB.
pub fn peak_mb(out: &Output) -> u64 {
    let summary = String::from_utf8_lossy(&out.stderr);
    summary
        .split("peak memory ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in: {summary}"))
}

/// Parses CSV text with a header into rows of column → value.
pub fn parse_csv(text: &[u8]) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(text);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

/// Runs the binary on `args` and returns its results rows, asserting exit status 0.
pub fn results(args: &[&str]) -> Vec<HashMap<String, String>> {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_csv(&out.stdout).1
}

/// A path as the binary will print it.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// An 8-bit display-style phantom with a sidecar naming four vertebrae, one of each shape: L1 a
/// rectangle, L2 the polygon of a rectangle's corners, L3 a slanted quadrilateral, L4 a PNG
/// mask (an ellipse). Returns (folder, sidecar).
pub fn vertebrae_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let scans = dir.join("scans");
    std::fs::create_dir_all(&scans).unwrap();
    let spec = Spec {
        rows: 100,
        cols: 80,
        style: Style::Display,
        ..spec(0.5, 8)
    };
    phantom_file(&scans, "spine.dcm", spec, Syntax::ImplicitLe);
    let mask = image::GrayImage::from_fn(80, 100, |x, y| {
        let (dx, dy) = ((x as f64 - 40.0) / 22.0, (y as f64 - 84.0) / 9.0);
        image::Luma([if dx * dx + dy * dy < 1.0 { 255 } else { 0 }])
    });
    mask.save(dir.join("l4.png")).unwrap();
    let sidecar = dir.join("rois.csv");
    std::fs::write(
        &sidecar,
        "path,roi,x,y,width,height,polygon,mask\n\
         scans/spine.dcm,L1,20,4,40,16,,\n\
         scans/spine.dcm,L2,,,,,\"18 26; 62 26; 62 46; 18 46\",\n\
         scans/spine.dcm,L3,,,,,\"16 52; 60 50; 66 70; 20 72\",\n\
         scans/spine.dcm,L4,,,,,,l4.png\n",
    )
    .unwrap();
    (scans, sidecar)
}
