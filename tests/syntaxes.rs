//! One phantom in every transfer syntax decodes to identical stored values.

use std::path::Path;

use tbs_batch::decode::{self, Frame};
use tbs_batch::phantom::{write_dicom, Phantom, Spec, Syntax};
use tbs_batch::pipeline::DEFAULT_MAX_PIXELS;

use crate::util::spec;

fn decode_all(path: &Path) -> Vec<Frame> {
    let file = decode::open(path, DEFAULT_MAX_PIXELS * 2)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let g = file
        .geometry()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (0..g.frames)
        .map(|i| {
            file.frame(&g, i)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

fn round_trip(spec: Spec, frames: usize, syntaxes: &[Syntax]) {
    let dir = tempfile::tempdir().unwrap();
    let phantoms: Vec<Phantom> = (0..frames)
        .map(|i| {
            Phantom::generate(Spec {
                seed: spec.seed + i as u64,
                ..spec
            })
            .unwrap()
        })
        .collect();
    let expected: Vec<Frame> = phantoms.iter().map(Phantom::frame).collect();
    for &syntax in syntaxes {
        let path = dir.path().join(format!("{}.dcm", syntax.slug()));
        write_dicom(&path, &phantoms, syntax).unwrap();
        let got = decode_all(&path);
        if syntax.is_lossless() {
            assert_eq!(
                got, expected,
                "{} bits, signed {}, {:?}",
                spec.bits_stored, spec.signed, syntax
            );
        } else {
            let error: f64 = got[0]
                .pixels
                .iter()
                .zip(&expected[0].pixels)
                .map(|(&a, &b)| f64::from(a.abs_diff(b)))
                .sum::<f64>()
                / got[0].pixels.len() as f64;
            assert!(error < 6.0, "{syntax:?} mean absolute error {error}");
        }
    }
}

fn lossless() -> Vec<Syntax> {
    Syntax::ALL
        .into_iter()
        .filter(|s| s.is_lossless())
        .collect()
}

#[test]
fn eight_bit_phantom_is_identical_in_every_syntax() {
    round_trip(spec(0.5, 8), 1, &Syntax::ALL);
}

#[test]
fn twelve_bit_phantom_is_identical_in_every_lossless_syntax() {
    round_trip(spec(0.5, 12), 1, &lossless());
}

#[test]
fn signed_sixteen_bit_phantom_is_identical_in_every_lossless_syntax() {
    round_trip(
        Spec {
            signed: true,
            ..spec(0.7, 16)
        },
        1,
        &lossless(),
    );
}

#[test]
fn signed_twelve_bit_multiframe_phantom_is_identical_in_every_lossless_syntax() {
    round_trip(
        Spec {
            signed: true,
            ..spec(0.4, 12)
        },
        3,
        &lossless(),
    );
}

#[test]
fn two_bit_deep_and_odd_sized_images_round_trip() {
    // JPEG-LS is left out at 2 bits: its encoder needs at least 4 (the decoder is not the limit).
    let without_jpeg_ls: Vec<Syntax> = lossless()
        .into_iter()
        .filter(|s| *s != Syntax::JpegLs)
        .collect();
    round_trip(
        Spec {
            rows: 7,
            cols: 13,
            ..spec(0.5, 2)
        },
        1,
        &without_jpeg_ls,
    );
    round_trip(
        Spec {
            rows: 1,
            cols: 31,
            ..spec(0.5, 16)
        },
        2,
        &lossless(),
    );
}

/// The committed fixtures in the JPEG syntaxes the phantom writer cannot encode.
fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/syntaxes")
        .join(name)
}

#[test]
fn jpeg_lossless_and_jpeg_2000_fixtures_equal_their_reference() {
    let reference = decode_all(&fixture("reference-12bit.dcm"));
    for name in [
        "jpeg-lossless-sv1.dcm",
        "jpeg-lossless-p14.dcm",
        "j2k-lossless.dcm",
        "j2k.dcm",
    ] {
        assert_eq!(decode_all(&fixture(name)), reference, "{name}");
    }
}

#[test]
fn jpeg_extended_8_bit_decodes_close_to_its_reference() {
    let reference = decode_all(&fixture("reference-8bit.dcm"));
    let got = decode_all(&fixture("jpeg-extended-8bit.dcm"));
    let worst = got[0]
        .pixels
        .iter()
        .zip(&reference[0].pixels)
        .map(|(&a, &b)| a.abs_diff(b))
        .max();
    assert!(worst.is_some_and(|w| w <= 8), "{worst:?}");
}

#[test]
fn jpeg_extended_12_bit_is_a_clear_error_row() {
    let rows = crate::util::results(&[crate::util::s(&fixture("jpeg-extended-12bit.dcm"))]);
    assert_eq!(rows[0]["status"], "error");
    assert!(
        rows[0]["error"].contains("SamplePrecision(12)"),
        "{:?}",
        rows[0]
    );
}
