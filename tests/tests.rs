//! All integration tests, built as one test binary.

mod bad_files;
mod cli;
mod kernel;
mod phantoms;
mod syntaxes;
mod util;
