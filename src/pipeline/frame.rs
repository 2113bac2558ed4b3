//! One frame through its steps: decode it, cut its regions, sum them all in one engine call,
//! fit each, pool the vertebrae, and show the frame to the hook.

use super::pool::{self, Scored};
use super::{FileReport, FrameView, Scoring};
use crate::decode::{DicomFile, Frame, Geometry};
use crate::engine::Variogram;
use crate::error::{FileError, FileResult};
use crate::fit;
use crate::locate::{self, Location};
use crate::region::sidecar::{Entry, LineShape, SavedRegion};
use crate::region::{self, Patch, RoiSource, Shape};
use crate::write::{Outcome, RegionFacts, ResultRow, VariogramRecord};

/// A frame of a file being scored.
struct At<'a> {
    scoring: &'a Scoring<'a>,
    file: &'a DicomFile,
    /// 0-based.
    index: u32,
    source: RoiSource,
    /// The quality of the frame's automatic regions.
    quality: Option<f64>,
}

/// One of the frame's regions as the sidecar gives it, or the whole frame.
pub(super) struct Region<'e> {
    pub label: String,
    /// The sidecar line, for messages.
    pub place: Option<&'e str>,
    pub shape: FileResult<Shape>,
}

/// Adds the frame's rows — one per region, then the pooled `L1-L4` row when the regions name
/// vertebrae — their sums, and what the hook made of the frame, to the report.
pub(super) fn score(
    scoring: &Scoring,
    file: &DicomFile,
    geometry: &Geometry,
    index: u32,
    entries: &[&Entry],
    report: &mut FileReport,
) {
    let auto = entries.is_empty() && scoring.locates(&file.meta);
    let source = match (entries.is_empty(), auto) {
        (false, _) => RoiSource::Sidecar,
        (true, true) => RoiSource::Auto,
        (true, false) => RoiSource::Image,
    };
    let mut at = At {
        scoring,
        file,
        index,
        source,
        quality: None,
    };
    let (rows_from, sums_from) = (report.rows.len(), report.variograms.len());
    let frame = match file.frame(geometry, index) {
        Ok(f) => f,
        Err(e) => {
            report
                .rows
                .push(at.row("image", Outcome::Error(e.one_line())));
            return;
        }
    };
    // One pass for the frame's extremes, whether they are left out, located around, or both.
    let extremes = (auto
        || scoring
            .settings
            .extremes
            .excludes(geometry.layout.bits_stored))
    .then(|| region::extremes(&frame));
    let excluded_values = extremes.filter(|_| {
        scoring
            .settings
            .extremes
            .excludes(geometry.layout.bits_stored)
    });
    let meta = &file.meta;
    let located = extremes
        .filter(|_| auto)
        .map(|no_data| locate::locate(&frame, no_data, meta.pixel_spacing, meta.monochrome1));
    let regions = match &located {
        None => regions(entries),
        Some(Ok(found)) => {
            at.quality = Some(found.quality);
            at.keep(found, report)
        }
        Some(Err(why)) => {
            at.unlocated(why, report);
            Vec::new()
        }
    };
    if !regions.is_empty() {
        let cuts = cut(&frame, &regions, excluded_values);
        let sums = at.sum(&frame, &cuts, report);
        let scored = at.fit_each(&regions, &cuts, &sums, report);
        at.pool(&regions, &scored, report);
    }
    if let Some(hook) = &scoring.settings.hook {
        let view = FrameView {
            input: scoring.input.display(),
            index: index + 1,
            frames: geometry.frames,
            meta: &file.meta,
            frame: &frame,
            excluded_values,
            regions: regions
                .iter()
                .map(|r| (r.label.as_str(), r.shape.as_ref().ok()))
                .collect(),
            location: located.as_ref().and_then(|l| l.as_ref().ok()),
            rows: &report.rows[rows_from..],
            variograms: &report.variograms[sums_from..],
            fit: &scoring.settings.fit,
            max_lag: scoring.settings.max_lag,
        };
        let picture = hook.look(&view);
        report.pictures.extend(picture);
    }
}

/// The sidecar's regions of the frame, else the whole frame.
fn regions<'e>(entries: &[&'e Entry]) -> Vec<Region<'e>> {
    if entries.is_empty() {
        return vec![Region {
            label: "image".into(),
            place: None,
            shape: Ok(Shape::WholeFrame),
        }];
    }
    entries
        .iter()
        .map(|e| Region {
            label: e.label.clone(),
            place: Some(e.place.as_str()),
            shape: e.shape(),
        })
        .collect()
}

/// Every region cut out of the frame first, so the engine sums them all in one call: the
/// patches, and for each region the index of its patch or why it has none.
struct Cuts {
    patches: Vec<Patch>,
    of_region: Vec<std::result::Result<usize, String>>,
}

fn cut(frame: &Frame, regions: &[Region], excluded_values: Option<(u16, u16)>) -> Cuts {
    let mut cuts = Cuts {
        patches: Vec::new(),
        of_region: Vec::new(),
    };
    for r in regions {
        let patch = match &r.shape {
            // A sidecar line names itself when read; what the image shows wrong is named here.
            Ok(shape) => {
                Patch::cut(frame, shape, excluded_values).map_err(|e| match (r.place, e) {
                    (Some(p), FileError::Region(m)) => {
                        FileError::Region(format!("{p}: {m}")).one_line()
                    }
                    (_, e) => e.one_line(),
                })
            }
            Err(e) => Err(e.one_line()),
        };
        cuts.of_region.push(patch.map(|patch| {
            cuts.patches.push(patch);
            cuts.patches.len() - 1
        }));
    }
    cuts
}

impl At<'_> {
    /// The located vertebrae as the frame's regions, kept for `--save-roi` too.
    fn keep(&self, found: &Location, report: &mut FileReport) -> Vec<Region<'static>> {
        let path = self.scoring.input.display();
        locate::LABELS
            .iter()
            .zip(&found.vertebrae)
            .map(|(label, outline)| {
                report.regions.push(SavedRegion {
                    path: path.clone(),
                    frame: self.index + 1,
                    roi: label.to_string(),
                    shape: LineShape::Polygon(outline.clone()),
                });
                Region {
                    label: label.to_string(),
                    place: None,
                    shape: Ok(Shape::Polygon(outline.clone())),
                }
            })
            .collect()
    }

    /// Error rows for the vertebrae and the pooled row of a frame whose L1–L4 were not found.
    fn unlocated(&self, why: &str, report: &mut FileReport) {
        let e = FileError::Locate(why.to_string()).one_line();
        for label in locate::LABELS.iter().chain([&pool::LABEL]) {
            report.rows.push(self.row(label, Outcome::Error(e.clone())));
        }
    }

    /// The engine's sums of every patch, or why there are none; a lost engine is also marked
    /// on the report, which stops the run.
    fn sum(
        &self,
        frame: &Frame,
        cuts: &Cuts,
        report: &mut FileReport,
    ) -> std::result::Result<Vec<Variogram>, String> {
        if cuts.patches.is_empty() {
            return Ok(Vec::new());
        }
        let max_lag = self.scoring.settings.max_lag;
        self.scoring
            .engine
            .variograms(frame, &cuts.patches, max_lag)
            .map_err(|e| {
                if e.stops_the_run() {
                    report.fatal.get_or_insert_with(|| e.one_line());
                }
                e.one_line()
            })
    }

    /// A row for each region: its fit, or why it has none.
    fn fit_each(
        &self,
        regions: &[Region],
        cuts: &Cuts,
        sums: &std::result::Result<Vec<Variogram>, String>,
        report: &mut FileReport,
    ) -> Vec<Scored> {
        let mut scored = Vec::new();
        for (r, cut) in regions.iter().zip(&cuts.of_region) {
            let summed = cut.clone().and_then(|i| match sums {
                Ok(all) => Ok((all[i].clone(), cuts.patches[i].excluded)),
                Err(e) => Err(e.clone()),
            });
            match summed {
                Ok((variogram, excluded)) => {
                    let facts = RegionFacts {
                        excluded: Some(excluded),
                        ..RegionFacts::default()
                    };
                    scored.push(self.finish(r.label.clone(), variogram, facts, report));
                }
                Err(e) => report.rows.push(self.row(&r.label, Outcome::Error(e))),
            }
        }
        scored
    }

    /// The pooled `L1-L4` row, when any region is a vertebra.
    fn pool(&self, regions: &[Region], scored: &[Scored], report: &mut FileReport) {
        let labels: Vec<&str> = regions.iter().map(|r| r.label.as_str()).collect();
        match pool::vertebrae(&labels, scored, self.scoring.settings.max_lag) {
            None => {}
            Some(Ok((variogram, facts))) => {
                self.finish(pool::LABEL.into(), variogram, facts, report);
            }
            Some(Err(why)) => report.rows.push(self.row(pool::LABEL, Outcome::Error(why))),
        }
    }

    /// Fits the sums and adds the row and the variogram record.
    fn finish(
        &self,
        label: String,
        variogram: Variogram,
        facts: RegionFacts,
        report: &mut FileReport,
    ) -> Scored {
        let settings = self.scoring.settings;
        let fit = settings
            .fit
            .lags(self.file.meta.pixel_spacing, settings.max_lag)
            .and_then(|range| fit::fit(&variogram, range));
        let tbs = fit.as_ref().ok().map(|f| f.tbs);
        let outcome = match fit {
            Ok(f) => Outcome::Ok(f),
            Err(e) => Outcome::Error(e.one_line()),
        };
        let excluded = facts.excluded.unwrap_or(0);
        report.rows.push(ResultRow {
            region: RegionFacts {
                source: Some(self.source),
                quality: self.quality,
                ..facts
            },
            ..self.row(&label, outcome)
        });
        report.variograms.push(VariogramRecord {
            path: self.scoring.input.display(),
            frame: self.index + 1,
            roi: label.clone(),
            variogram: variogram.clone(),
        });
        Scored {
            label,
            variogram,
            excluded,
            tbs,
        }
    }

    fn row(&self, roi: &str, outcome: Outcome) -> ResultRow {
        ResultRow {
            path: self.scoring.input.display(),
            frame: Some(self.index + 1),
            roi: roi.to_string(),
            outcome,
            region: RegionFacts {
                source: Some(self.source),
                quality: self.quality,
                ..RegionFacts::default()
            },
            engine: self.scoring.engine.name(),
            meta: self.file.meta.clone(),
        }
    }
}
