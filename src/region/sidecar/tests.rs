use super::*;

fn load(text: &str) -> Result<Sidecar> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rois.csv");
    std::fs::write(&path, text).unwrap();
    Sidecar::load(&path)
}

#[test]
fn reads_rectangles_polygons_and_masks() {
    let s = load(
        "path,roi,x,y,width,height,polygon,mask,frame\n\
         a/b.dcm,L1,1,2,3,4,,,\n\
         /abs/c.dcm,L2,,,,,\"0 0; 4 0; 0 4\",,2\n\
         b.dcm,L3,,,,,,m.png,\n",
    )
    .unwrap();
    let b = s.regions("scans/a/b.dcm", "");
    assert_eq!(b.len(), 2, "a/b.dcm and b.dcm both end scans/a/b.dcm");
    assert_eq!(b[0].label, "L1");
    assert_eq!(
        b[0].shape().unwrap(),
        Shape::Rect {
            x: 1,
            y: 2,
            width: 3,
            height: 4
        }
    );
    let c = s.regions("/abs/c.dcm", "");
    assert_eq!(c[0].frame, 2);
    assert!(matches!(c[0].shape().unwrap(), Shape::Polygon(v) if v.len() == 3));
    assert!(
        s.regions("/other/c.dcm", "").is_empty(),
        "absolute paths match whole"
    );
    let e = b[1].shape().unwrap_err().to_string();
    assert!(e.contains("rois.csv line 4: cannot read the mask"), "{e}");
    assert!(s.unmatched().is_empty());
}

#[test]
fn matches_by_uid_and_reports_lines_that_matched_nothing() {
    let s =
        load("sop_instance_uid,roi,x,y,width,height\n1.2.3,L1,0,0,2,2\n9.9,L2,0,0,2,2\n").unwrap();
    assert_eq!(s.regions("any.dcm", "1.2.3").len(), 1);
    assert_eq!(
        s.unmatched(),
        vec!["rois.csv line 3: no input has SOP Instance UID 9.9"]
    );
}

#[test]
fn bad_lines_are_refused_with_their_line() {
    let cases = [
        (
            "path,roi,polygon\na.dcm,L1,\"0 0; 1 1\"\n",
            "line 2: a polygon needs 3 vertices",
        ),
        (
            "path,roi,polygon\na.dcm,L1,\"0 0; 1 x; 2 2\"\n",
            "line 2: polygon vertex \"1 x\"",
        ),
        (
            "path,roi,polygon\na.dcm,L1,\"0 0; 1 1; 2 2\"\n",
            "line 2: the polygon has no area",
        ),
        (
            "path,roi,x,y,width,height\na.dcm,L1,0,0,0,3\n",
            "line 2: the rectangle is empty",
        ),
        (
            "path,roi,x,y,width,height\na.dcm,L1,0,-1,2,3\n",
            "line 2: y \"-1\" is not",
        ),
        (
            "path,roi,x,y,width,height\n,L1,0,0,2,3\n",
            "line 2: give a path or a sop",
        ),
        (
            "path,roi,x,y,width,height,mask\na,L1,0,0,2,3,m.png\n",
            "give exactly one shape",
        ),
        (
            "path,x,y,width,height\na,0,0,2,3\n",
            "the header needs a roi column",
        ),
        (
            "path,roi,x,y,width,height,frame\na,L1,0,0,2,3,0\n",
            "frame \"0\" is not",
        ),
        (
            "path,roi,x,y,width,height\na,L1,0,0,2,3\na,L1,1,1,2,2\n",
            "line 3: repeats region L1",
        ),
    ];
    for (text, want) in cases {
        let e = load(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

/// Issue 14 (6b): two lines could both give one frame an `L1`, which `L1-L4` pooled twice.
#[test]
fn two_lines_giving_one_frame_the_same_label_are_refused_naming_both() {
    let s = load(
        "path,sop_instance_uid,roi,x,y,width,height,frame\n\
         a/b.dcm,,L1,0,0,2,2,\n\
         b.dcm,,L2,0,0,2,2,\n\
         b.dcm,,L1,1,1,2,2,2\n\
         ,1.2.3,L2,0,0,2,2,\n",
    )
    .unwrap();
    let uid = |uid: &'static str| move |_: usize| Some(uid.to_string());
    // L1 of frame 1 and L1 of frame 2 differ; L2 by path and by UID collide.
    let e = s
        .check_inputs(&["scans/a/b.dcm".into()], uid("1.2.3"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "rois.csv line 3 and rois.csv line 5 both give scans/a/b.dcm frame 1 a region L2"
        ),
        "{e}"
    );
    assert!(s
        .check_inputs(&["scans/a/b.dcm".into()], uid("9.9"))
        .is_ok());
    let suffixes =
        load("path,roi,x,y,width,height\na/b.dcm,L1,0,0,2,2\nb.dcm,L1,0,0,3,3\n").unwrap();
    let e = suffixes
        .check_inputs(&["x/a/b.dcm".into(), "x/c/b.dcm".into()], |_| None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2 and rois.csv line 3 both give x/a/b.dcm frame 1 a region L1"),
        "{e}"
    );
    assert!(suffixes
        .check_inputs(&["x/c/b.dcm".into()], |_| None)
        .is_ok());
}
