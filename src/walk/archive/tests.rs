use std::io::Write;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::*;

/// Writes a zip of `(name, bytes)` members, deflated.
fn archive(path: &Path, members: &[(&str, &[u8])]) {
    let mut zip = ZipWriter::new(File::create(path).unwrap());
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn members_are_listed_sorted_without_directories_and_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("visit.zip");
    archive(
        &path,
        &[("b/two.dcm", b"second"), ("a.dcm", b"first"), ("b/", b"")],
    );
    assert_eq!(members(&path).unwrap(), ["a.dcm", "b/two.dcm"]);
    assert_eq!(read_member(&path, "b/two.dcm", 100).unwrap(), b"second");
    let e = read_member(&path, "c.dcm", 100).unwrap_err().to_string();
    assert!(e.starts_with("archive: c.dcm:"), "{e}");
}

#[test]
fn a_corrupt_or_empty_archive_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.zip");
    std::fs::write(&path, b"PK\x03\x04 this is not really a zip").unwrap();
    let e = unreadable(&path).to_string();
    assert!(e.contains("not a readable zip archive"), "{e}");
    let empty = dir.path().join("empty.zip");
    archive(&empty, &[]);
    assert!(unreadable(&empty).to_string().contains("holds no files"));
}

#[test]
fn members_over_the_cap_or_of_a_bomb_ratio_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.zip");
    let zeros = vec![0u8; 8 << 20];
    archive(&path, &[("zeros.dcm", &zeros), ("small.dcm", &[7u8; 1000])]);
    let e = read_member(&path, "zeros.dcm", 64 << 20)
        .unwrap_err()
        .to_string();
    assert!(e.contains("a ratio only a zip bomb has"), "{e}");
    let e = read_member(&path, "zeros.dcm", 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("too large: zeros.dcm inflates to 8388608 bytes"),
        "{e}"
    );
    // Small members compress as they like: inflating them costs nothing.
    assert_eq!(
        read_member(&path, "small.dcm", 1 << 20).unwrap().len(),
        1000
    );
}

#[test]
fn an_archive_inside_an_archive_is_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("inner.zip");
    archive(&inner, &[("a.dcm", b"x")]);
    let inner_bytes = std::fs::read(&inner).unwrap();
    let outer = dir.path().join("outer.zip");
    archive(
        &outer,
        &[("inner.zip", &inner_bytes), ("disguised.dcm", &inner_bytes)],
    );
    for member in ["inner.zip", "disguised.dcm"] {
        let e = read_member(&outer, member, 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("an archive inside an archive is not opened"),
            "{e}"
        );
    }
}

#[test]
fn a_member_path_splits_only_at_an_archive_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.zip");
    archive(&path, &[("a.dcm", b"x")]);
    let given = PathBuf::from(format!("{}!/a.dcm", path.display()));
    assert_eq!(split(&given), Some((path.clone(), "a.dcm".into())));
    assert_eq!(split(&dir.path().join("none.zip!/a.dcm")), None);
    assert_eq!(split(&PathBuf::from(format!("{}!/", path.display()))), None);
}
