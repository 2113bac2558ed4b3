//! The `tbs-batch` binary: parse, run, report. All the work is in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Mesa's Vulkan device-select layer prints errors on headless nodes without a desktop
    // session; the adapter is chosen by the engine anyway. Set before any thread starts.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    let cli = tbs_batch::cli::Cli::parse();
    match tbs_batch::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tbs-batch: {:#}", anyhow::Error::from(e));
            ExitCode::from(2)
        }
    }
}
