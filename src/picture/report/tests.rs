//! The report's statistics and page on small hand-made cohorts.

use std::path::Path;

use super::sections::url_path;
use super::stats::{keep_least, Columns, Mark, Sample};
use super::*;
use crate::write::RESULT_COLUMNS;

/// A row of frame 1: scored `tbs` with R² 0.99, or an error when `tbs` is `None`.
fn row<'a>(
    path: &'a str,
    roi: &'a str,
    tbs: Option<f64>,
    scanner: (&'a str, &'a str),
) -> Reported<'a> {
    Reported {
        path,
        frame: Some(1),
        roi,
        outcome: tbs
            .map(|t| (t, Some(0.99)))
            .ok_or("pixel data: <truncated> & gone"),
        manufacturer: scanner.0,
        model: scanner.1,
        scan: "ap-spine",
        quality: None,
    }
}

fn cohort(rows: &[Reported]) -> Cohort {
    let mut c = Cohort::default();
    for r in rows {
        c.add(r);
    }
    c
}

#[test]
fn a_results_file_record_reads_as_the_typed_row_it_was_written_from() {
    let cells = |status: &str, tbs: &str, r2: &str| -> csv::StringRecord {
        RESULT_COLUMNS
            .iter()
            .map(|c| match *c {
                "path" => "a.dcm",
                "frame" => "2",
                "roi" => "L1",
                "status" => status,
                "error" => "fit: too few lags",
                "tbs" => tbs,
                "r2" => r2,
                "manufacturer" => "GE",
                "model" => "iDXA",
                _ => "",
            })
            .collect()
    };
    let columns = Columns::find(RESULT_COLUMNS.iter().copied()).unwrap();
    let ok = cells("ok", "1.0794019724786212", "0.99");
    let read = columns.read(&ok);
    assert_eq!(read.outcome, Ok((1.0794019724786212, Some(0.99))));
    assert_eq!((read.path, read.frame, read.roi), ("a.dcm", Some(2), "L1"));
    assert_eq!((read.manufacturer, read.model), ("GE", "iDXA"));
    let failed = cells("error", "", "");
    assert_eq!(columns.read(&failed).outcome, Err("fit: too few lags"));
    let no_r2 = cells("ok", "1.5", "");
    assert_eq!(columns.read(&no_r2).outcome, Ok((1.5, None)));
}

#[test]
fn rows_to_check_keep_the_least_few_in_order() {
    let mut list = Vec::new();
    for (i, r2) in [0.9, 0.99, 0.5, 0.95, 0.7, 0.99, 0.6, 0.5]
        .into_iter()
        .enumerate()
    {
        let mark = Mark {
            path: format!("{i}.dcm"),
            frame: Some(1),
            tbs: 1.0,
            r2,
        };
        keep_least(&mut list, mark, |m| m.r2);
    }
    let kept: Vec<&str> = list.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(kept, ["2.dcm", "7.dcm", "6.dcm", "4.dcm", "0.dcm"]);
}

#[test]
fn a_cohort_without_scores_or_with_one_still_makes_a_page() {
    let empty = render(&Cohort::default(), &Run::default()).unwrap();
    assert!(empty.contains("No row has a score."));
    assert!(empty.contains("0 error rows from 0 inputs"));
    let failed = cohort(&[row("a.dcm", "image", None, ("GE", "iDXA"))]);
    let page = render(&failed, &Run::default()).unwrap();
    assert!(page.contains("No row has a score.") && page.contains("a.dcm"));
    let one = cohort(&[row("a.dcm", "image", Some(1.25), ("GE", "iDXA"))]);
    let page = render(&one, &Run::default()).unwrap();
    assert!(
        page.contains("n = 1: mean 1.2500, SD –, median 1.2500"),
        "{page}"
    );
    assert_eq!(page.matches("<svg").count(), 3);
}

#[test]
fn links_survive_awkward_file_names() {
    let link = url_path(Path::new("qc/site a/#3?.dcm.frame-1.png"));
    assert_eq!(link, "qc/site%20a/%233%3F.dcm.frame-1.png");
}

#[test]
fn quantiles_and_spread_follow_the_usual_definitions() {
    let v = [4.0, 1.0, 3.0, 2.0];
    let v = Sample::of(&v);
    assert_eq!(v.quantile(0.5), Some(2.5));
    assert_eq!(v.quantile(0.25), Some(1.75));
    assert_eq!(v.quantile(1.0), Some(4.0));
    assert_eq!(v.mean(), Some(2.5));
    assert!((v.sd().unwrap() - 1.2909944487358056).abs() < 1e-12);
    assert_eq!(Sample::of(&[1.0]).sd(), None);
    assert_eq!(Sample::of(&[]).quantile(0.5), None);
}

#[test]
fn the_pooled_score_is_the_headline_when_there_is_one() {
    let ge = ("GE", "iDXA");
    let c = cohort(&[
        row("a.dcm", "L1", Some(1.1), ge),
        row("a.dcm", "L1-L4", Some(1.2), ge),
        row("b.dcm", "image", Some(0.9), ge),
    ]);
    assert_eq!(c.headline(), Some("L1-L4"));
    let c = cohort(&[row("b.dcm", "image", Some(0.9), ge)]);
    assert_eq!(c.headline(), Some("image"));
    let c = cohort(&[row("b.dcm", "image", None, ge)]);
    assert_eq!(c.headline(), None);
}

#[test]
fn inputs_scanners_and_failures_are_counted_and_escaped() {
    let (ge, holo) = (("GE", "iDXA"), ("Hologic", "Horizon A"));
    let c = cohort(&[
        row("a.dcm", "image", Some(1.0), ge),
        row("b.dcm", "image", Some(1.2), holo),
        row("b.dcm", "image", None, holo),
        row("c<x>.dcm", "image", None, ge),
        row("d.dcm", "image", Some(1.4), ge),
    ]);
    assert_eq!((c.inputs, c.inputs_failed, c.error_rows), (4, 2, 2));
    let ge_scores = &c.scanners[&("image".to_string(), "GE iDXA".to_string())];
    assert_eq!(ge_scores, &vec![1.0, 1.4]);
    let page = render(&c, &Run::default()).unwrap();
    assert!(page.contains("c&lt;x&gt;.dcm"), "paths are escaped");
    assert!(page.contains("pixel data: &lt;truncated&gt; &amp; gone"));
    assert!(
        page.contains("Hologic Horizon A (n=1)"),
        "a box per scanner"
    );
    assert_eq!(page.matches("<svg").count(), 3, "TBS, scanners, R²");
    assert!(
        !page.contains("<script") && !page.contains("src="),
        "self-contained"
    );
}
