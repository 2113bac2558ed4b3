//! Files that mainstream readers (pydicom, GDCM) read and whose pixels are unambiguous: padding
//! after the frames or after the last element, and private sequences of VR UN with undefined
//! length (PS3.5 6.2.2). Each is scored like its clean twin; what is ambiguous stays an error row.

use std::path::{Path, PathBuf};

use tbs_batch::phantom::Syntax;

use crate::util::{phantom_file, results, s, skip_unless_required, spec};

/// Where the Pixel Data element's header starts in an explicit VR little endian file.
fn pixel_data_at(bytes: &[u8]) -> usize {
    bytes
        .windows(6)
        .rposition(|w| {
            w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'W'] || w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'B']
        })
        .expect("pixel data header present")
}

/// A clean 8-bit explicit VR little endian phantom and a copy of it to edit.
fn twins(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let clean = phantom_file(dir, "clean.dcm", spec(0.5, 8), Syntax::ExplicitLe);
    let bytes = std::fs::read(&clean).unwrap();
    (clean, dir.join("edited.dcm"), bytes)
}

/// Scores both files and asserts the edited one scores exactly like the clean one.
fn scores_like_its_twin(clean: &Path, edited: &Path) {
    let rows = results(&["--cpu", s(clean), s(edited)]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1]["status"], "ok", "{:?}", rows[1]);
    assert_eq!(rows[0]["tbs"], rows[1]["tbs"]);
    assert_eq!(rows[0]["r2"], rows[1]["r2"]);
}

/// Issue 14 (5): Pixel Data longer than its frames need was an error row.
#[test]
fn pixel_data_with_trailing_padding_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, edited, mut bytes) = twins(dir.path());
    let at = pixel_data_at(&bytes);
    let length = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
    bytes[at + 8..at + 12].copy_from_slice(&(length + 64).to_le_bytes());
    bytes.extend([0u8; 64]);
    std::fs::write(&edited, &bytes).unwrap();
    scores_like_its_twin(&clean, &edited);
}

/// Issue 14 (5): zero bytes after the last element, which form no element, were an error row.
#[test]
fn zero_padding_after_the_last_element_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    for (syntax, pad) in [
        (Syntax::ExplicitLe, 1000),
        (Syntax::ImplicitLe, 3),
        (Syntax::ExplicitBe, 16),
    ] {
        let clean = phantom_file(dir.path(), "clean.dcm", spec(0.5, 12), syntax);
        let mut bytes = std::fs::read(&clean).unwrap();
        bytes.extend(vec![0u8; pad]);
        let edited = dir.path().join("edited.dcm");
        std::fs::write(&edited, &bytes).unwrap();
        scores_like_its_twin(&clean, &edited);
    }
}

/// Bytes after the last element that are neither padding nor an element stay an error row.
#[test]
fn trailing_bytes_that_are_not_padding_stay_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, edited, mut bytes) = twins(dir.path());
    bytes.extend((0..40u8).map(|i| i.wrapping_mul(37) | 1));
    std::fs::write(&edited, &bytes).unwrap();
    let rows = results(&["--cpu", s(&edited)]);
    assert_eq!(rows[0]["status"], "error", "{rows:?}");
}

/// An implicit VR little endian item as a UN value holds it: tag, length, content.
fn implicit(group: u16, element: u16, length: u32, content: &[u8]) -> Vec<u8> {
    let mut out = [group.to_le_bytes(), element.to_le_bytes()].concat();
    out.extend(length.to_le_bytes());
    out.extend(content);
    out
}

const UNDEFINED: u32 = u32::MAX;

/// A private element of VR UN and undefined length whose value is a nested implicit VR
/// sequence, as a PACS writes a private sequence it does not know (shaped like pydicom's
/// UN_sequence.dcm): item → Referenced Series Sequence → item → a UID, each of undefined length.
fn un_sequence() -> Vec<u8> {
    let uid = implicit(0x0020, 0x000E, 8, b"1.2.3.4\0");
    let inner_item = [
        implicit(0xFFFE, 0xE000, UNDEFINED, &uid),
        implicit(0xFFFE, 0xE00D, 0, &[]),
    ]
    .concat();
    let series = [
        implicit(0x0008, 0x1115, UNDEFINED, &inner_item),
        implicit(0xFFFE, 0xE0DD, 0, &[]),
    ]
    .concat();
    let item = [
        implicit(0xFFFE, 0xE000, UNDEFINED, &series),
        implicit(0xFFFE, 0xE00D, 0, &[]),
    ]
    .concat();
    let mut element = [0x4453u16.to_le_bytes(), 0x100Cu16.to_le_bytes()].concat();
    element.extend(b"UN\0\0");
    element.extend(UNDEFINED.to_le_bytes());
    element.extend(item);
    element.extend(implicit(0xFFFE, 0xE0DD, 0, &[]));
    element
}

/// Issue 14 (4): the parser read a UN value of undefined length as explicit VR, took item bytes
/// for a 3.6 GB length and reserved it.
#[test]
fn a_un_sequence_of_undefined_length_is_read_as_the_standard_says() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, edited, mut bytes) = twins(dir.path());
    let at = pixel_data_at(&bytes);
    bytes.splice(at..at, un_sequence());
    std::fs::write(&edited, &bytes).unwrap();
    scores_like_its_twin(&clean, &edited);
}

/// The same element, its delimiter missing: refused with a reason, not allocated for.
#[test]
fn a_un_sequence_that_never_ends_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, edited, mut bytes) = twins(dir.path());
    let at = pixel_data_at(&bytes);
    let mut element = un_sequence();
    element.truncate(element.len() - 8);
    bytes.splice(at..at, element);
    std::fs::write(&edited, &bytes).unwrap();
    let rows = results(&["--cpu", s(&edited)]);
    assert_eq!(rows[0]["status"], "error", "{rows:?}");
    assert!(rows[0]["error"].contains("(4453,100C)"), "{rows:?}");
}

/// pydicom's own test files, a public suite of odd and broken DICOM: every file gives rows or
/// a skip, none a caught panic, within bounded memory (UN_sequence.dcm once took 3.6 GB).
#[test]
fn the_public_pydicom_test_files_give_rows_within_bounded_memory() {
    let Some(suite) = pydicom_test_files() else {
        return skip_unless_required(
            "TBS_REQUIRE_INDEPENDENT",
            "public test suite",
            "pydicom is not installed (pip install -r tests/independent/requirements.txt)",
        );
    };
    let out = crate::util::run(&["--cpu", s(&suite)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows = crate::util::parse_csv(&out.stdout).1;
    assert!(rows.len() > 40, "{} rows", rows.len());
    for row in &rows {
        assert!(!row["error"].contains("internal error"), "{row:?}");
    }
    let un = rows
        .iter()
        .find(|r| r["path"].ends_with("UN_sequence.dcm"))
        .expect("the suite holds UN_sequence.dcm");
    assert!(!un["error"].contains("Could not read"), "{un:?}");
    assert!(
        crate::util::peak_mb(&out) < 200,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The folder of test files inside the installed pydicom package, if there is one.
fn pydicom_test_files() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && path.is_dir()).then_some(path)
}
