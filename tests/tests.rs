//! All integration tests, built as one test binary.

mod bad_files;
mod cli;
mod independent;
mod kernel;
mod phantoms;
mod syntaxes;
mod util;
