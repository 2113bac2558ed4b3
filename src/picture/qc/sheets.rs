//! The QC sheets as the pipeline's frame hook: each scored frame's sheet, built from what its
//! rows say, drawn on the worker that scored it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use plotters::style::RGBColor;

use super::{file_name, render, Curve, Guide, Outline, Sheet};
use crate::error::FileError;
use crate::picture::{PALETTE, POOLED};
use crate::pipeline::{FrameHook, FrameView, Picture};
use crate::write::Outcome;

/// `--qc`: a sheet of every frame.
#[derive(Debug, Default)]
pub struct Sheets;

impl FrameHook for Sheets {
    fn look(&self, view: &FrameView) -> Option<Picture> {
        let sheet = Sheet {
            title: title(view),
            facts: facts(view),
            frame: view.frame,
            inverted: view.meta.monochrome1,
            excluded: view.excluded_values,
            curves: curves(view),
            outlines: outlines(view),
            guides: guides(view),
            max_lag: view.max_lag,
        };
        Some(Picture {
            name: file_name(&view.input, view.index),
            // A drawing bug costs the sheet, never the frame's rows.
            png: catch_unwind(AssertUnwindSafe(|| render(&sheet)))
                .unwrap_or_else(|_| Err(FileError::Picture("drawing the sheet panicked".into())))
                .map_err(|e| e.one_line()),
        })
    }
}

/// The input and frame, after how sure an automatic location is (first, so a long path cannot
/// hide it).
fn title(view: &FrameView) -> String {
    let frame = format!("{} — frame {} of {}", view.input, view.index, view.frames);
    match view.location {
        Some(l) if l.flagged() => format!("REVIEW: auto L1-L4 quality {:.2} · {frame}", l.quality),
        Some(l) => format!("auto L1-L4 quality {:.2} · {frame}", l.quality),
        None => frame,
    }
}

/// The disc midlines and the crests' level of an automatic location.
fn guides(view: &FrameView) -> Vec<Guide> {
    let Some(location) = view.location else {
        return Vec::new();
    };
    let disc = |&(from, to): &((f64, f64), (f64, f64))| Guide {
        from,
        to,
        colour: DISC,
        label: None,
    };
    let (from, to) = location.crests;
    let crests = Guide {
        from,
        to,
        colour: CREST,
        label: Some("crests".into()),
    };
    location.discs.iter().map(disc).chain([crests]).collect()
}

/// Disc midlines in white, the crests' level in yellow: apart from every region's colour.
const DISC: RGBColor = RGBColor(255, 255, 255);
const CREST: RGBColor = RGBColor(255, 220, 0);

/// The sheet's second line: what a reader needs to judge the picture, and nothing that differs
/// between engines.
fn facts(view: &FrameView) -> String {
    let m = view.meta;
    let scanner = format!("{} {}", m.manufacturer, m.model);
    let spacing = m
        .pixel_spacing
        .map_or("no pixel spacing".to_string(), |(r, c)| {
            format!("{r:.3} × {c:.3} mm/px ({})", m.spacing_source)
        });
    let scan = match &m.scan {
        Some(s) if s.protocol.is_empty() => s.scan.to_string(),
        Some(s) => format!("{} ({})", s.scan, s.protocol),
        None => "scan not read".into(),
    };
    format!(
        "{scan} · {} · {} × {} px · {spacing} · {} bits · fit {} · max lag {}",
        if scanner.trim().is_empty() {
            "unknown scanner"
        } else {
            scanner.trim()
        },
        m.columns.unwrap_or(0),
        m.rows.unwrap_or(0),
        m.bits_stored.unwrap_or(0),
        view.fit,
        view.max_lag
    )
}

/// The colour of the frame's `i`-th region on its sheet, outline and curve alike.
fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Every region whose shape could be read, in the colour of its place among the frame's regions
/// (counting those that could not, so a legend's error keeps its colour).
fn outlines(view: &FrameView) -> Vec<Outline> {
    view.regions
        .iter()
        .enumerate()
        .filter_map(|(i, (label, shape))| {
            shape.map(|shape| Outline {
                label: label.to_string(),
                shape: shape.clone(),
                colour: colour(i),
            })
        })
        .collect()
}

/// One curve per row of the frame, in its region's colour; the pooled row, which is no region
/// of its own, in black.
fn curves(view: &FrameView) -> Vec<Curve> {
    view.rows
        .iter()
        .map(|row| {
            let colour = view
                .regions
                .iter()
                .position(|(label, _)| *label == row.roi)
                .map_or(POOLED, colour);
            let variogram = view
                .variograms
                .iter()
                .find(|v| v.roi == row.roi)
                .map(|v| &v.variogram);
            let fit = match &row.outcome {
                Outcome::Ok(f) => Ok(f.clone()),
                Outcome::Error(e) => Err(e.clone()),
            };
            Curve::new(&row.roi, colour, variogram, fit)
        })
        .collect()
}
