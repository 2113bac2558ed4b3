//! The library's two kinds of error, kept apart so that neither can be mistaken for the other.
//!
//! A [`FileError`] says why one input, frame or region has no score: it becomes one line in the
//! `error` column of a results row and the run goes on. A [`RunError`] says why the run cannot
//! go on (exit 2): a flag, an output that cannot be written, a GPU that is lost. Nothing turns
//! one into the other implicitly; where a per-file failure must stop a run, the code says so.

use std::path::PathBuf;

/// Why one input, frame or region has no score. Each message names the offending value.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a DICOM file: {0}")]
    NotDicom(String),
    #[error("malformed DICOM: {0}")]
    Malformed(String),
    #[error("unsupported image: {0}")]
    Unsupported(String),
    #[error("pixel data: {0}")]
    PixelData(String),
    #[error("region: {0}")]
    Region(String),
    #[error("automatic L1-L4: {0}")]
    Locate(String),
    #[error("cannot fit the variogram: {0}")]
    Fit(String),
    #[error("input changed during the run: {0}")]
    Changed(String),
    #[error("archive: {0}")]
    Archive(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("the GPU failed and computes nothing more: {0}")]
    DeviceLost(String),
    #[error("picture: {0}")]
    Picture(String),
    #[error("internal error while processing this file: {0}")]
    Panic(String),
    #[error("timed out: {0}")]
    TimedOut(String),
}

impl FileError {
    /// The message as it goes into a CSV cell: one line, whatever the underlying error said.
    pub fn one_line(&self) -> String {
        one_line(&self.to_string())
    }

    /// Whether no later input could be computed either, so the run must stop rather than write
    /// an error row for every input left.
    pub fn stops_the_run(&self) -> bool {
        matches!(self, FileError::DeviceLost(_))
    }
}

/// Why the run cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid settings: {0}")]
    Config(String),
    #[error("cannot write output: {0}")]
    Output(String),
    #[error("incomplete: {0}")]
    Incomplete(String),
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("picture: {0}")]
    Picture(String),
    #[error("bench: {0}")]
    Bench(String),
    #[error("stopped before {input} ({why}); carry on with --resume")]
    Stopped { input: String, why: String },
    #[error("stalled: {0}")]
    Stalled(String),
}

impl From<csv::Error> for RunError {
    fn from(e: csv::Error) -> Self {
        RunError::Output(e.to_string())
    }
}

/// Text on one line: runs of whitespace, newlines included, become one space. Header text and
/// error messages land in CSV cells and summary lines this way.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A result whose failure is one input's.
pub type FileResult<T> = std::result::Result<T, FileError>;

/// A result whose failure stops the run.
pub type Result<T, E = RunError> = std::result::Result<T, E>;
