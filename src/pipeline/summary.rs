//! The run's closing summary line: inputs and rows by outcome, time, rate and peak memory.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{FileReport, SkipReason};
use crate::locate;
use crate::region::RoiSource;
use crate::scan::ScanType;

/// Counts for the closing summary line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub files_ok: usize,
    pub files_failed: usize,
    /// Inputs that are not DICOM image files.
    pub skipped: usize,
    /// Images left out by `--scans`, by scan type.
    pub skipped_scans: BTreeMap<ScanType, usize>,
    pub rows_ok: usize,
    pub rows_failed: usize,
    /// `--roi auto`: frames whose L1–L4 were located, how many of them below the review
    /// threshold, and frames where they could not be.
    pub located: usize,
    pub flagged: usize,
    pub unlocated: usize,
    pub elapsed: Duration,
    /// The process's peak resident memory, where the system reports it.
    pub peak_bytes: Option<u64>,
}

impl Summary {
    pub(super) fn add(&mut self, report: &FileReport) {
        if let Some(skipped) = &report.skipped {
            match &skipped.why {
                SkipReason::NotImage(_) => self.skipped += 1,
                SkipReason::Scan(r) => *self.skipped_scans.entry(r.scan).or_default() += 1,
            }
        } else if report.failed() {
            self.files_failed += 1;
        } else {
            self.files_ok += 1;
        }
        // A frame's automatic regions show on its first vertebra's row.
        for row in report
            .rows
            .iter()
            .filter(|r| r.roi == locate::LABELS[0] && r.region.source == Some(RoiSource::Auto))
        {
            match row.region.quality {
                Some(q) => {
                    self.located += 1;
                    self.flagged += usize::from(q < locate::REVIEW_BELOW);
                }
                None => self.unlocated += 1,
            }
        }
        let ok = report.rows.iter().filter(|r| r.is_ok()).count();
        self.rows_ok += ok;
        self.rows_failed += report.rows.len() - ok;
    }

    /// Frames scored per second of wall time.
    pub fn images_per_second(&self) -> f64 {
        (self.rows_ok + self.rows_failed) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} files ok, {} failed, {} skipped (not DICOM images)",
            self.files_ok, self.files_failed, self.skipped,
        )?;
        if !self.skipped_scans.is_empty() {
            let total: usize = self.skipped_scans.values().sum();
            let each: Vec<String> = self
                .skipped_scans
                .iter()
                .map(|(scan, n)| format!("{n} {scan}"))
                .collect();
            write!(f, ", {total} skipped by --scans ({})", each.join(", "))?;
        }
        if self.located + self.unlocated > 0 {
            write!(
                f,
                "; L1-L4 located on {} frames ({} below roi_quality {}: review them), not found on {}",
                self.located,
                self.flagged,
                locate::REVIEW_BELOW,
                self.unlocated
            )?;
        }
        write!(
            f,
            "; {} rows ok, {} error rows; {:.2} s, {:.1} images/s",
            self.rows_ok,
            self.rows_failed,
            self.elapsed.as_secs_f64(),
            self.images_per_second()
        )?;
        match self.peak_bytes {
            Some(b) => write!(f, "; peak memory {} MB", b >> 20),
            None => Ok(()),
        }
    }
}

/// Peak resident memory of this process so far (Linux: `VmHWM`); `None` elsewhere.
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Restarts the peak-memory count from the current size (Linux), so a measurement covers only
/// what follows. Where that is not possible the peak stays the whole process's.
pub fn reset_peak_resident() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
