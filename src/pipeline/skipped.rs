//! Inputs that get no rows, and why: not DICOM image files, or images of a scan type that
//! `--scans` leaves out. The manifest lists each with its reason; the summary counts them.

use super::FileReport;
use crate::cohort::manifest::SkipNote;
use crate::scan::Recognised;
use crate::walk::Skip;

/// An input that has no rows, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The input's `path`.
    pub path: String,
    pub why: SkipReason,
    /// SHA-256 of the input's bytes as looked at; empty when they could not be read.
    pub sha256: String,
}

/// Why an input has no rows.
#[derive(Debug, Clone, PartialEq)]
pub enum SkipReason {
    /// Not a DICOM image file at all.
    NotImage(Skip),
    /// An image of a scan type that `--scans` does not score.
    Scan(Recognised),
}

impl Skipped {
    /// What the manifest records of it.
    pub fn note(&self) -> SkipNote {
        SkipNote {
            reason: self.why.describe(),
            scan: match &self.why {
                SkipReason::Scan(r) => Some(r.scan.to_string()),
                SkipReason::NotImage(_) => None,
            },
            sha256: self.sha256.clone(),
        }
    }
}

impl SkipReason {
    /// The reason as the manifest gives it.
    pub fn describe(&self) -> String {
        match self {
            SkipReason::NotImage(Skip::NoPreamble) => "not a DICOM file (no DICM preamble)".into(),
            SkipReason::NotImage(Skip::Dicomdir) => "a DICOMDIR (an index, no image)".into(),
            SkipReason::NotImage(Skip::NotAFile) => {
                "not a regular file (a FIFO, socket or device)".into()
            }
            SkipReason::Scan(r) => {
                format!("scan type {} ({:?}) is not in --scans", r.scan, r.protocol)
            }
        }
    }
}

impl From<Skipped> for FileReport {
    fn from(skipped: Skipped) -> FileReport {
        FileReport {
            skipped: Some(skipped),
            ..FileReport::default()
        }
    }
}
