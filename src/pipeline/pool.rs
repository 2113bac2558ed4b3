//! The pooled `L1-L4` row: the vertebrae's sums added, as clinical TBS pools L1–L4.
//!
//! Pairs are counted within each vertebra and the sums added, so no pair crosses from one
//! vertebra into another; the pooled sums are fitted like any region's.

use crate::engine::Variogram;
use crate::write::RegionFacts;

/// One region's sums and fit, kept for pooling.
pub(super) struct Scored {
    pub label: String,
    pub variogram: Variogram,
    pub excluded: u64,
    pub tbs: Option<f64>,
}

/// The pooled row's label.
pub const LABEL: &str = crate::locate::POOLED;

/// The vertebrae whose sums the pooled row adds, and the fewest it needs.
const VERTEBRAE: [&str; 4] = ["L1", "L2", "L3", "L4"];
const MIN_VERTEBRAE: usize = 2;

/// `None` when no region is a vertebra; else the pooled sums and their row's facts, or why there
/// are too few valid vertebrae to pool.
pub(super) fn vertebrae(
    labels: &[&str],
    scored: &[Scored],
    max_lag: usize,
) -> Option<Result<(Variogram, RegionFacts), String>> {
    let vertebra = |label: &str| VERTEBRAE.contains(&label);
    if !labels.iter().any(|l| vertebra(l)) {
        return None;
    }
    let valid: Vec<&Scored> = scored
        .iter()
        .filter(|s| vertebra(&s.label) && s.tbs.is_some())
        .collect();
    let used: Vec<String> = valid.iter().map(|s| s.label.clone()).collect();
    if valid.len() < MIN_VERTEBRAE {
        return Some(Err(format!(
            "{LABEL} pools at least {MIN_VERTEBRAE} vertebrae with a valid score; valid: {}",
            if used.is_empty() {
                "none".into()
            } else {
                used.join(", ")
            }
        )));
    }
    let mut variogram = Variogram::zeros(max_lag);
    for s in &valid {
        variogram.add(&s.variogram);
    }
    let facts = RegionFacts {
        excluded: Some(valid.iter().map(|s| s.excluded).sum()),
        vertebrae: used,
        mean_vertebra_tbs: Some(
            valid.iter().filter_map(|s| s.tbs).sum::<f64>() / valid.len() as f64,
        ),
        source: None,
        quality: None,
    };
    Some(Ok((variogram, facts)))
}
