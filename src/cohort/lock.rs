//! One writer per output: an exclusive advisory lock on each file a run writes, held for the
//! whole run.
//!
//! Two runs on one `-o FILE` (a resubmitted job, an array script that forgot its task id) would
//! interleave their rows; the second is refused instead, before it changes a byte. The lock is
//! the operating system's (`flock`), so a killed run's lock goes with it and a requeued run can
//! carry on at once. A results file's manifest is written only by the holder of the results
//! file's lock, so that lock covers it too. Where the file system offers no locks, a run warns
//! once and goes on.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Result, RunError};

/// Opens `path` for writing (created if missing, nothing truncated yet) and takes its lock.
/// Writes go to the end of the file: the caller empties it, or repairs it, first.
pub fn writer(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| RunError::Output(format!("cannot create {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(RunError::Config(format!(
            "{} is being written by another tbs-batch run (it holds the file's lock); \
             wait for it, or write to another file",
            path.display()
        ))),
        Err(TryLockError::Error(e)) => {
            no_locks(path, &e);
            Ok(file)
        }
    }
}

/// Fails when a run holds `path`'s lock: its rows are not all there yet.
pub fn not_being_written(path: &Path) -> Result<()> {
    let Ok(file) = File::open(path) else {
        return Ok(()); // reading it will say what is wrong
    };
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => Err(RunError::Config(format!(
            "{} is still being written by a tbs-batch run; merge it when that run has ended",
            path.display()
        ))),
        Err(TryLockError::Error(e)) => {
            no_locks(path, &e);
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Warns, once per process, that locks cannot be taken here.
fn no_locks(path: &Path, e: &std::io::Error) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "tbs-batch: warning: cannot lock {} ({e}): this file system offers no locks, so \
             nothing stops a second run from writing the same output",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let first = writer(&path).unwrap();
        let e = writer(&path).unwrap_err().to_string();
        assert!(e.contains("out.csv is being written by another"), "{e}");
        let e = not_being_written(&path).unwrap_err().to_string();
        assert!(e.contains("still being written"), "{e}");
        drop(first);
        assert!(writer(&path).is_ok());
        assert!(not_being_written(&path).is_ok());
    }
}
