//! `--resume`: carry on a results file that a killed run left behind.
//!
//! Rows reach the file in walk order, one input's rows together, and the variogram file is
//! written before the results file for each input. So what a kill leaves is a prefix of what a
//! whole run writes, cut anywhere — even inside a line. Every input but the last one named in
//! the results file is therefore complete; the last may have lost rows and is dropped, with any
//! torn line, and computed again. The variogram file is cut back to the same inputs.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::Path;

use crate::error::{Result, RunError};

/// What an earlier run left: the inputs it finished, and whether its files already have headers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Done {
    /// The `path` of every input whose rows are all in the results file.
    pub paths: HashSet<String>,
    /// Whether the results file keeps its header (so appends must not write another).
    pub has_header: bool,
}

/// Whether `results` holds a complete row besides its header. Reads only.
pub fn has_rows(results: &Path) -> Result<bool> {
    match read_if_exists(results)? {
        Some(bytes) => Ok(records(&bytes, results)?.len() > 1),
        None => Ok(false),
    }
}

/// Cuts `results` back to its complete inputs and says which they are. A file that does not
/// exist, or holds less than its header, is a fresh start.
pub fn repair_results(results: &Path, header: &[&str]) -> Result<Done> {
    let Some(records) = read_table(results, header, "results")? else {
        return Ok(Done::default());
    };
    let rows = &records[1..];
    // The last input named may be incomplete: everything from its first row goes.
    let keep = match rows.last() {
        Some(last) => {
            let last_path = &last.fields[0];
            let start = rows
                .iter()
                .rposition(|r| r.fields[0] != *last_path)
                .map_or(0, |i| i + 1);
            rows[start].offset
        }
        None => records[0].end,
    };
    truncate(results, keep)?;
    let kept = rows.iter().take_while(|r| r.offset < keep);
    Ok(Done {
        paths: kept.map(|r| r.fields[0].clone()).collect(),
        has_header: true,
    })
}

/// Cuts a file written beside the results (the variogram, the saved regions: records whose
/// first column is the input's path) back to the records of the inputs in `done`; returns
/// whether it keeps its header.
pub fn repair_table(file: &Path, header: &[&str], what: &str, done: &Done) -> Result<bool> {
    let Some(records) = read_table(file, header, what)? else {
        return Ok(false);
    };
    let keep = records[1..]
        .iter()
        .find(|r| !done.paths.contains(&r.fields[0]))
        .map_or(records.last().map_or(0, |r| r.end), |r| r.offset);
    truncate(file, keep)?;
    Ok(true)
}

/// The complete records of a CSV file that starts with `header`, header first. `None` for a
/// fresh start: no file, or one holding less than its header (then emptied). A file that starts
/// otherwise is refused, and left alone.
fn read_table(path: &Path, header: &[&str], what: &str) -> Result<Option<Vec<Record>>> {
    let Some(bytes) = read_if_exists(path)? else {
        return Ok(None);
    };
    let records = records(&bytes, path)?;
    match records.first() {
        None => {
            truncate(path, 0)?;
            Ok(None)
        }
        Some(first) if first.fields != header => Err(RunError::Config(format!(
            "--resume: {} does not start with this version's {what} header; \
             write to a new file instead",
            path.display()
        ))),
        Some(_) => Ok(Some(records)),
    }
}

/// One complete CSV record and where it lies in the file.
struct Record {
    fields: Vec<String>,
    offset: u64,
    end: u64,
}

/// The file's complete records: a last line without its newline, or with too few fields, was
/// torn by the kill and is left out.
fn records(bytes: &[u8], path: &Path) -> Result<Vec<Record>> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => &bytes[..=i],
        None => &[][..],
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(complete);
    let mut out: Vec<Record> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let offset = reader.position().byte();
        let more = reader.read_record(&mut record).map_err(|e| {
            RunError::Config(format!("--resume: cannot read {}: {e}", path.display()))
        })?;
        if !more {
            break;
        }
        let fields: Vec<String> = record.iter().map(str::to_string).collect();
        let end = reader.position().byte();
        if out.first().is_some_and(|h| h.fields.len() != fields.len()) {
            break; // a record cut short, only ever the last one
        }
        out.push(Record {
            fields,
            offset,
            end,
        });
    }
    Ok(out)
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RunError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .map_err(|e| RunError::Output(format!("cannot repair {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[&str] = &["path", "frame", "x"];

    fn repaired(text: &str) -> (Done, String) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        std::fs::write(&file, text).unwrap();
        let done = repair_results(&file, HEADER).unwrap();
        (done, std::fs::read_to_string(&file).unwrap())
    }

    #[test]
    fn the_last_input_and_a_torn_line_are_dropped() {
        let full = "path,frame,x\na,1,1\na,2,2\nb,1,3\nb,2,4\n";
        let (done, text) = repaired(full);
        assert_eq!(text, "path,frame,x\na,1,1\na,2,2\n");
        assert_eq!(done.paths, HashSet::from(["a".to_string()]));
        let (done, text) = repaired("path,frame,x\na,1,1\na,2,2\nb,1,3\nb,2");
        assert_eq!(text, "path,frame,x\na,1,1\na,2,2\n");
        assert!(done.has_header && done.paths.len() == 1);
    }

    #[test]
    fn a_torn_header_or_empty_file_starts_afresh() {
        for text in ["", "path,fr", "path,frame,x\n"] {
            let (done, left) = repaired(text);
            assert!(done.paths.is_empty(), "{text:?}");
            assert_eq!(done.has_header, !left.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn a_file_of_another_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        std::fs::write(&file, "name,score\nx,1\n").unwrap();
        let e = repair_results(&file, HEADER).unwrap_err().to_string();
        assert!(e.contains("results header"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "name,score\nx,1\n");
    }

    #[test]
    fn the_variogram_file_keeps_only_the_finished_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vg.csv");
        std::fs::write(&file, "path,frame,x\na,1,1\nb,1,2\nc,1,3\nc,1,").unwrap();
        let done = Done {
            paths: HashSet::from(["a".into(), "b".into()]),
            has_header: true,
        };
        assert!(repair_table(&file, HEADER, "variogram", &done).unwrap());
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, "path,frame,x\na,1,1\nb,1,2\n");
    }
}
