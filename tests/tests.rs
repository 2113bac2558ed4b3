//! All integration tests, built as one test binary.

mod bad_files;
mod cli;
mod cohort;
mod deliveries;
mod gpu;
mod independent;
mod kernel;
mod locate;
mod phantoms;
mod pictures;
mod readers;
mod regions;
mod runs;
mod syntaxes;
mod util;
