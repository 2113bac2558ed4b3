//! The variogram panel: ln V against ln k for every region, the fitted lags filled, the
//! fitted line, and a legend with each region's TBS and R² or its row's error.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Sheet;
use crate::fit::Fit;
use crate::picture::{drawing, Drawn, FONT};

/// ln V against ln k: every lag's point (filled when it entered the fit) and the fitted line.
pub(super) fn variogram_chart(
    area: &DrawingArea<BitMapBackend, Shift>,
    sheet: &Sheet,
) -> Drawn<()> {
    let values = sheet
        .curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (1.0, 10.0) };
    // Head room above the points for the legend: the top third of the plot.
    let top = hi * (hi / lo).max(2.0).powf(0.5);
    let lags = 0.8..sheet.max_lag.max(2) as f64 * 1.25;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Variogram (log–log): filled points are the fitted lags",
            (FONT, 16),
        )
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(lags.log_scale(), (lo / 1.3..top).log_scale())
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("lag k (pixels)")
        .y_desc("V(k), mean squared difference")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&|v| readable(*v))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(drawing)?;
    for curve in &sheet.curves {
        let fitted: &[usize] = curve.fit.as_ref().map_or(&[], |f| &f.lags);
        let colour = curve.colour;
        chart
            .draw_series(curve.points.iter().map(|&(k, v)| {
                let style = if fitted.contains(&k) {
                    colour.filled()
                } else {
                    colour.stroke_width(1)
                };
                Circle::new((k as f64, v), 4, style)
            }))
            .map_err(drawing)?;
        let line = match &curve.fit {
            Ok(f) => fitted_line(f),
            Err(_) => Vec::new(),
        };
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))
            .map_err(drawing)?
            .label(curve.legend())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(drawing)
}

/// An axis number as a reader writes it: 250, 3.5, 0.042, 1.2e6.
pub(super) fn readable(v: f64) -> String {
    match v.abs() {
        0.0 => "0".into(),
        a if !(1e-3..1e5).contains(&a) => format!("{v:.1e}"),
        a if a >= 10.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.3}"),
    }
}

/// The fitted line V = e^intercept · k^TBS across the fitted lags (straight on log-log axes).
fn fitted_line(f: &Fit) -> Vec<(f64, f64)> {
    let ends = [f.lags.first(), f.lags.last()];
    ends.iter()
        .flatten()
        .map(|&&k| {
            let k = k as f64;
            (k, (f.intercept + f.tbs * k.ln()).exp())
        })
        .collect()
}
