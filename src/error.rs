//! The library's error type.
//!
//! Every per-file failure is one of these variants and ends up as one line in the `error` column
//! of a results row, so each message is a single line that names the offending value.

use std::path::PathBuf;

/// What can go wrong while turning one input into results rows, or while setting up a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    #[error("cannot fit the variogram: {0}")]
    Fit(String),
    #[error("invalid settings: {0}")]
    Config(String),
    #[error("cannot write output: {0}")]
    Output(String),
    #[error("input changed during the run: {0}")]
    Changed(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("incomplete: {0}")]
    Incomplete(String),
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("picture: {0}")]
    Picture(String),
    #[error("bench: {0}")]
    Bench(String),
    #[error("internal error while processing this file: {0}")]
    Panic(String),
    #[error("timed out: {0}")]
    TimedOut(String),
    #[error("the GPU failed and computes nothing more: {0}")]
    DeviceLost(String),
    #[error("stopped before {input} ({why}); carry on with --resume")]
    Stopped { input: String, why: String },
    #[error("stalled: {0}")]
    Stalled(String),
}

impl Error {
    /// Whether no later input could be computed either, so the run must stop rather than write
    /// an error row for every input left.
    pub fn stops_the_run(&self) -> bool {
        matches!(self, Error::DeviceLost(_))
    }

    /// The message as it goes into a CSV cell: one line, whatever the underlying error said.
    pub fn one_line(&self) -> String {
        let text = self.to_string();
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

impl From<csv::Error> for Error {
    fn from(e: csv::Error) -> Self {
        Error::Output(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
