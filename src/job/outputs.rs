//! A run's output files: locked for this run, emptied or (with `--resume`) cut back to the
//! inputs done, and the sink that writes each input's report to them whole — QC sheets, sums,
//! regions, then the rows that record the input as done.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::Config;
use crate::cohort::manifest::SkipNote;
use crate::cohort::resume::{self, Done};
use crate::cohort::{self, lock};
use crate::error::{Result, RunError};
use crate::picture::report::Cohort;
use crate::pipeline::{FileReport, Picture};
use crate::region::sidecar::SavedRegion;
use crate::write::{CsvWriter, Records, ResultsWriter, VariogramRecord, RESULT_COLUMNS};

/// A file written beside the results, one input's records at a time.
pub(super) type SideFile<R> = CsvWriter<BufWriter<File>, R>;

/// The run's output files, locked, then emptied or, with `--resume`, repaired.
pub(super) struct Outputs {
    pub results: ResultsWriter<Box<dyn Write>>,
    pub variogram: Option<SideFile<VariogramRecord>>,
    pub regions: Option<SideFile<SavedRegion>>,
    pub done: Done,
}

impl Outputs {
    pub fn open(config: &Config) -> Result<Outputs> {
        distinct(config)?;
        // Every lock is taken before any file is changed, so a refused run changes none.
        let results = config.output.as_deref().map(lock::writer).transpose()?;
        let variogram = locked(config.variogram.as_ref())?;
        let regions = locked(config.save_roi.as_ref())?;
        let done = match (&config.output, &results, config.resume) {
            (Some(out), _, true) => resume::repair_results(out, &RESULT_COLUMNS)?,
            (Some(out), Some(file), false) => {
                empty(file, out)?;
                Done::default()
            }
            _ => Done::default(),
        };
        let resumed = config.resume.then_some(&done);
        let results: Box<dyn Write> = match results {
            Some(file) => Box::new(BufWriter::new(file)),
            None => Box::new(BufWriter::new(io::stdout().lock())),
        };
        Ok(Outputs {
            results: ResultsWriter::new(results, !done.has_header)?,
            variogram: variogram.map(|f| side_file(f, resumed)).transpose()?,
            regions: regions.map(|f| side_file(f, resumed)).transpose()?,
            done,
        })
    }
}

/// Refuses two outputs that are one file, and `--save-roi` naming the `--roi` it reads.
fn distinct(config: &Config) -> Result<()> {
    let named = [
        ("-o", &config.output),
        ("--variogram", &config.variogram),
        ("--save-roi", &config.save_roi),
        ("--roi", &config.roi),
    ];
    for (i, (a, first)) in named.iter().enumerate() {
        for (b, second) in &named[i + 1..] {
            if let (Some(x), Some(y)) = (first, second) {
                if cohort::same_file(x, y) {
                    return Err(RunError::Config(format!(
                        "{a} and {b} both name {}",
                        x.display()
                    )));
                }
            }
        }
    }
    Ok(())
}

fn locked(path: Option<&PathBuf>) -> Result<Option<(File, PathBuf)>> {
    path.map(|p| lock::writer(p).map(|f| (f, p.clone())))
        .transpose()
}

/// A side file opened for writing: cut back to the inputs `resumed` holds, or emptied.
fn side_file<R: Records>(
    (file, path): (File, PathBuf),
    resumed: Option<&Done>,
) -> Result<SideFile<R>> {
    let has_header = match resumed {
        Some(done) => resume::repair_table(&path, R::HEADER, R::NAME, done)?,
        None => {
            empty(&file, &path)?;
            false
        }
    };
    CsvWriter::new(BufWriter::new(file), !has_header)
}

fn empty(file: &File, path: &Path) -> Result<()> {
    file.set_len(0)
        .map_err(|e| RunError::Output(format!("cannot empty {}: {e}", path.display())))
}

/// Writes each input's report: its QC sheets, its sums, then its rows (the record that the
/// input is done), and adds the rows to the report.
pub(super) struct Sink<'a> {
    pub results: ResultsWriter<Box<dyn Write>>,
    pub variogram: Option<SideFile<VariogramRecord>>,
    /// `--save-roi`: every region used, as sidecar lines.
    pub regions: Option<SideFile<SavedRegion>>,
    pub qc: Option<&'a Path>,
    pub cohort: Option<&'a mut Cohort>,
    /// QC sheets that could not be drawn (each warned about).
    pub undrawn: usize,
    /// The inputs skipped, by path, for the manifest.
    pub skipped: HashMap<String, SkipNote>,
}

impl Sink<'_> {
    pub fn write(&mut self, report: &FileReport) -> Result<()> {
        if let Some(dir) = self.qc {
            self.undrawn += write_pictures(dir, &report.pictures)?;
        }
        if let Some(v) = self.variogram.as_mut() {
            v.write_file(&report.variograms)?;
        }
        if let Some(r) = self.regions.as_mut() {
            r.write_file(&report.regions)?;
        }
        if let Some(s) = &report.skipped {
            self.skipped.insert(s.path.clone(), s.note());
        }
        self.results.write_file(&report.rows)?;
        if let Some(c) = self.cohort.as_deref_mut() {
            c.add_rows(&report.rows);
        }
        Ok(())
    }

    /// Lets go of the files (each input's rows are flushed as written), and of their locks;
    /// returns the count of undrawn sheets and the inputs skipped.
    pub fn close(self) -> (usize, HashMap<String, SkipNote>) {
        drop((self.results, self.variogram, self.regions));
        (self.undrawn, self.skipped)
    }
}

/// Writes a file's QC sheets under `dir`; returns how many could not be drawn (each is warned
/// about). A sheet that cannot be written stops the run, as a results row that cannot would.
fn write_pictures(dir: &Path, pictures: &[Picture]) -> Result<usize> {
    let mut undrawn = 0;
    for picture in pictures {
        let path = dir.join(&picture.name);
        match &picture.png {
            Ok(png) => {
                let written = path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&path, png));
                written.map_err(|e| {
                    RunError::Output(format!("cannot write {}: {e}", path.display()))
                })?;
            }
            Err(e) => {
                eprintln!("tbs-batch: warning: QC sheet {}: {e}", path.display());
                undrawn += 1;
            }
        }
    }
    Ok(undrawn)
}
