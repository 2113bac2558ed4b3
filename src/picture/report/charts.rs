//! The page's charts, drawn as inline SVG: histograms and per-scanner box plots.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::stats::Sample;
use crate::picture::{clip, drawing, Drawn, FONT, PALETTE};

/// Chart size in CSS pixels.
const CHART: (u32, u32) = (760, 320);

/// An SVG histogram: about √n bins (5 to 40) across the values' range, up to `most` at most.
pub(super) fn histogram(values: &Sample, what: &str, colour: RGBColor, most: f64) -> Drawn<String> {
    let (lo, hi) = values.span();
    let hi = hi.min(most);
    let bins = ((values.len() as f64).sqrt().ceil() as usize).clamp(5, 40);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u32; bins];
    for v in &values.0 {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1);
    svg(CHART, |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, 0..top + top / 10 + 1)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc(what)
            .y_desc("rows")
            .light_line_style(TRANSPARENT)
            .label_style((FONT, 13))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new(
                    [(x0 + width * 0.04, 0), (x0 + width * 0.96, c)],
                    colour.filled(),
                )
            }))
            .map_err(drawing)?;
        Ok(())
    })
}

/// An SVG box plot, one row per scanner: quartile box, median bar, whiskers to min and max.
pub(super) fn boxes(groups: &[(&str, Sample)]) -> Drawn<String> {
    let all: Vec<f64> = groups.iter().flat_map(|g| g.1 .0.iter().copied()).collect();
    let (lo, hi) = Sample::of(&all).span();
    let names: Vec<String> = groups
        .iter()
        .map(|(s, v)| format!("{} (n={})", clip(s, 34), v.len()))
        .collect();
    let height = 60 + 36 * groups.len() as u32;
    svg((CHART.0, height.max(120)), |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(270)
            .build_cartesian_2d(lo..hi, -0.5..groups.len() as f64 - 0.5)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc("TBS")
            .light_line_style(TRANSPARENT)
            .disable_y_mesh()
            .y_labels(0)
            .label_style((FONT, 13))
            .draw()
            .map_err(drawing)?;
        for (i, (_, sample)) in groups.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let q = |p: f64| sample.quantile(p).unwrap_or(0.0);
            let y = i as f64;
            let (whiskers, body) = (colour.stroke_width(2), colour.mix(0.35).filled());
            chart
                .draw_series([
                    PathElement::new([(q(0.0), y), (q(1.0), y)], whiskers),
                    PathElement::new(
                        [(q(0.5), y - 0.3), (q(0.5), y + 0.3)],
                        BLACK.stroke_width(2),
                    ),
                ])
                .map_err(drawing)?;
            chart
                .draw_series([
                    Rectangle::new([(q(0.25), y - 0.3), (q(0.75), y + 0.3)], body),
                    Rectangle::new([(q(0.25), y - 0.3), (q(0.75), y + 0.3)], whiskers),
                ])
                .map_err(drawing)?;
            let (px, py) = chart.backend_coord(&(lo, y));
            let style = (FONT, 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            area.draw(&Text::new(names[i].clone(), (px - 8, py), style))
                .map_err(drawing)?;
        }
        Ok(())
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws onto a white SVG of `size` and returns its markup.
fn svg(size: (u32, u32), draw: impl FnOnce(&Area) -> Drawn<()>) -> Drawn<String> {
    let mut markup = String::new();
    {
        let area = SVGBackend::with_string(&mut markup, size).into_drawing_area();
        area.fill(&WHITE).map_err(drawing)?;
        draw(&area)?;
        area.present().map_err(drawing)?;
    }
    Ok(markup + "\n")
}
