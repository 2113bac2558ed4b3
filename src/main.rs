//! The `tbs-batch` binary: parse, run, report. All the work is in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tbs_batch::engine::gpu::quiet_device_select();
    let cli = tbs_batch::cli::Cli::parse();
    match tbs_batch::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // 1: a merge that could not account for every input; 2: a usage or fatal error.
            let code = if matches!(e, tbs_batch::Error::Incomplete(_)) {
                1
            } else {
                2
            };
            eprintln!("tbs-batch: {:#}", anyhow::Error::from(e));
            ExitCode::from(code)
        }
    }
}
