//! Each kind of broken input gives one error row with a clear reason; the rest of the batch
//! succeeds and the run exits 0.

use std::path::Path;

use dicom_dictionary_std::tags;
use tbs_batch::phantom::{write_dicom, Phantom, Syntax};

use crate::util::{
    edit_dicom, lie_about_pixel_length, phantom_file, results, run, s, set_cs, set_us, spec,
    truncate,
};

/// Writes every broken kind into `dir`, returning (file name, expected words of its error).
fn broken_cohort(dir: &Path) -> Vec<(&'static str, &'static str)> {
    let good = |name| phantom_file(dir, name, spec(0.5, 12), Syntax::ExplicitLe);
    let truncated = good("truncated.dcm");
    let len = std::fs::metadata(&truncated).unwrap().len() as usize;
    truncate(&truncated, len * 3 / 5);
    edit_dicom(&good("colour.dcm"), |o| {
        set_us(o, tags::SAMPLES_PER_PIXEL, 3);
        set_cs(o, tags::PHOTOMETRIC_INTERPRETATION, "RGB");
    });
    edit_dicom(&good("palette.dcm"), |o| {
        set_cs(o, tags::PHOTOMETRIC_INTERPRETATION, "PALETTE COLOR")
    });
    edit_dicom(&good("no-pixels.dcm"), |o| {
        o.remove_element(tags::PIXEL_DATA);
    });
    edit_dicom(&good("bits32.dcm"), |o| {
        set_us(o, tags::BITS_ALLOCATED, 32);
        set_us(o, tags::BITS_STORED, 32);
        set_us(o, tags::HIGH_BIT, 31);
    });
    edit_dicom(&good("rows-lie.dcm"), |o| set_us(o, tags::ROWS, 128));
    lie_about_pixel_length(&good("length-lie.dcm"), 0x7FFF_FFF0);
    let mut garbage = vec![0u8; 128];
    garbage.extend_from_slice(b"DICM");
    garbage.extend((0..2000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    std::fs::write(dir.join("garbage.dcm"), garbage).unwrap();
    let flat = Phantom {
        values: vec![100; 64 * 48],
        ..Phantom::generate(spec(0.5, 12)).unwrap()
    };
    write_dicom(&dir.join("flat.dcm"), &[flat], Syntax::ExplicitLe).unwrap();
    let tiny = crate::util::spec(0.5, 12);
    phantom_file(
        dir,
        "tiny.dcm",
        tbs_batch::phantom::Spec {
            rows: 1,
            cols: 1,
            ..tiny
        },
        Syntax::ExplicitLe,
    );
    vec![
        ("truncated.dcm", "truncated"),
        ("colour.dcm", "colour image"),
        ("palette.dcm", "palette colour"),
        ("no-pixels.dcm", "no Pixel Data"),
        ("bits32.dcm", "Bits Allocated is 32"),
        ("rows-lie.dcm", "Pixel Data holds"),
        ("length-lie.dcm", "declares 2147483632 bytes"),
        ("garbage.dcm", "malformed DICOM"),
        ("flat.dcm", "flat image"),
        ("tiny.dcm", "region too small"),
    ]
}

#[test]
fn every_broken_file_is_one_error_row_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_cohort(dir.path());
    phantom_file(dir.path(), "good-a.dcm", spec(0.4, 12), Syntax::ExplicitLe);
    phantom_file(dir.path(), "good-b.dcm", spec(0.6, 16), Syntax::Rle);
    std::fs::write(dir.path().join("notes.txt"), "not an image\n").unwrap();
    std::fs::write(dir.path().join("empty.dcm"), b"").unwrap();
    let mut dicomdir = vec![0u8; 128];
    dicomdir.extend_from_slice(b"DICM");
    std::fs::write(dir.path().join("DICOMDIR"), dicomdir).unwrap();

    let rows = results(&["--cpu", s(dir.path())]);
    assert_eq!(rows.len(), broken.len() + 2, "{rows:#?}");
    for (name, words) in &broken {
        let mine: Vec<_> = rows.iter().filter(|r| r["path"].ends_with(name)).collect();
        assert_eq!(mine.len(), 1, "{name}: {mine:#?}");
        assert_eq!(mine[0]["status"], "error", "{name}");
        assert!(
            mine[0]["error"].contains(words),
            "{name}: {}",
            mine[0]["error"]
        );
        assert!(!mine[0]["error"].contains('\n'));
    }
    for name in ["good-a.dcm", "good-b.dcm"] {
        let row = rows.iter().find(|r| r["path"].ends_with(name)).unwrap();
        assert_eq!(row["status"], "ok", "{row:?}");
    }
    let out = run(&["--cpu", s(dir.path())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 files ok, 10 failed, 3 skipped"),
        "{stderr}"
    );
}

#[test]
fn a_length_that_lies_is_refused_before_any_allocation() {
    // 3.9 GiB declared in a file of a few kilobytes: the guard must refuse it, not the allocator.
    let dir = tempfile::tempdir().unwrap();
    let path = phantom_file(dir.path(), "lie.dcm", spec(0.5, 8), Syntax::ExplicitLe);
    lie_about_pixel_length(&path, 0xFFFF_FFF0);
    let rows = results(&[s(&path)]);
    assert!(rows[0]["error"].contains("declares"), "{:?}", rows[0]);
}

#[test]
fn the_fuzz_regression_corpus_gives_rows_not_panics() {
    // tests/fuzz-corpus: the fuzzer's seeds and every input it ever found a problem with
    // (fuzz/README.md). Each must be a row or a skip, and no row may be a caught panic.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let files = std::fs::read_dir(&corpus).unwrap().count();
    assert!(files >= 20, "{files} corpus files");
    let out = run(&["--cpu", s(&corpus)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows = crate::util::parse_csv(&out.stdout).1;
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(!row["error"].contains("internal error"), "{row:?}");
    }
    // found-deflate-declares-3gb.dcm: 1.7 KB of deflate stream once made the parser reserve
    // 3.3 GB before it found the stream cut short.
    let deflate = rows
        .iter()
        .find(|r| r["path"].ends_with("found-deflate-declares-3gb.dcm"))
        .unwrap();
    assert!(
        deflate["error"].contains("deflated data set"),
        "{deflate:?}"
    );
    let peak_mb = crate::util::peak_mb(&out);
    assert!(peak_mb < 200, "peak memory {peak_mb} MB on the corpus");
}
