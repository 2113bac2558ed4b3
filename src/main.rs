//! The `tbs-batch` binary: parse, configure, run, report. All the work is in the library.

use std::process::ExitCode;

use clap::Parser;
use tbs_batch::{cli, job, RunError};

fn main() -> ExitCode {
    tbs_batch::engine::gpu::quiet_device_select();
    let parsed = cli::Cli::parse();
    match cli::configure(parsed).and_then(job::execute) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // 1: a merge that could not account for every input; 2: a usage or fatal error.
            let code = if matches!(e, RunError::Incomplete(_)) {
                1
            } else {
                2
            };
            eprintln!("tbs-batch: {:#}", anyhow::Error::from(e));
            ExitCode::from(code)
        }
    }
}
