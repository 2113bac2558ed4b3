//! tbs-batch: the Trabecular Bone Score (variogram slope) of DXA images, in batch.
//!
//! The data's journey, one module per stage: [`walk`] lists the inputs (files, and zip archives'
//! members), [`decode`] turns a file into frames of stored integers, [`scan`] tells which kind of
//! scan an image is, [`region`] says which pixels count, [`engine`] sums the pixel
//! pairs exactly, [`fit`] turns the sums into a score, and [`write`] streams the CSV files.
//! [`pipeline`] takes one input through those stages; [`schedule`] runs it over a cohort in
//! parallel and in walk order, knowing nothing of DICOM; [`job`] owns a run's outputs, their
//! locks, the manifest and the report; [`cli`] turns the command line into a job. [`cohort`]
//! resumes, shards, locks and merges runs and writes their manifests; [`picture`] draws the QC
//! sheets and the cohort report; [`phantom`] writes test images of known texture and [`bench`]
//! times the engines on them. ARCHITECTURE.md is the map.

pub mod bench;
pub mod cli;
pub mod cohort;
pub mod decode;
pub mod engine;
pub mod error;
pub mod fit;
pub mod job;
pub mod locate;
pub mod phantom;
pub mod picture;
pub mod pipeline;
pub mod region;
pub mod scan;
pub mod schedule;
pub mod walk;
pub mod write;

pub use error::{FileError, FileResult, Result, RunError};
