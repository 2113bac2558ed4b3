//! What `tbs-batch phantom` and `tbs-batch spine` write: a folder of test images, one file per
//! Hurst exponent and transfer syntax, or one spine per seed with its region sidecar.

use std::path::PathBuf;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

use super::anatomy::{self, Anatomy, AnatomySpec, Export};
use super::file::dicom_bytes;
use super::spine::{self, Spine, SpineSpec};
use super::{write_dicom, Phantom, Spec, Style, Syntax};
use crate::error::{Result, RunError};

/// Phantoms of known texture.
#[derive(Debug, Clone)]
pub struct PhantomSet {
    pub out: PathBuf,
    /// One file per exponent and syntax.
    pub hursts: Vec<f64>,
    pub syntaxes: Vec<Syntax>,
    pub rows: usize,
    pub cols: usize,
    pub bits: u16,
    pub signed: bool,
    /// Shaped like a display-processed 8-bit CR export (8 bits whatever `bits` says).
    pub display: bool,
    pub frames: usize,
    pub seed: u64,
}

/// Synthetic AP spines with their sidecar.
#[derive(Debug, Clone)]
pub struct SpineSet {
    pub out: PathBuf,
    /// L1, L2, L3 and L4's texture.
    pub hursts: [f64; 4],
    pub rows: usize,
    pub cols: usize,
    /// One file per seed.
    pub seeds: Vec<u64>,
}

/// Writes the phantoms; returns how many files.
pub fn write_phantoms(set: &PhantomSet) -> Result<usize> {
    std::fs::create_dir_all(&set.out)
        .map_err(|e| RunError::Output(format!("cannot create {}: {e}", set.out.display())))?;
    let bits = if set.display { 8 } else { set.bits };
    let style = if set.display {
        Style::Display
    } else {
        Style::Raw
    };
    let mut written = 0;
    for &hurst in &set.hursts {
        let frames = (0..set.frames.max(1))
            .map(|i| {
                Phantom::generate(Spec {
                    rows: set.rows,
                    cols: set.cols,
                    hurst,
                    bits_stored: bits,
                    signed: set.signed,
                    style,
                    seed: set.seed.wrapping_add(i as u64),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for &syntax in &set.syntaxes {
            let name = format!(
                "fbm-h{hurst:.2}-{bits}bit{}{}-{}.dcm",
                if set.signed { "-signed" } else { "" },
                if set.display { "-display" } else { "" },
                syntax.slug()
            );
            write_dicom(&set.out.join(name), &frames, syntax)?;
            written += 1;
        }
    }
    Ok(written)
}

/// Writes the spines and `rois.csv`; returns how many spines.
pub fn write_spines(set: &SpineSet) -> Result<usize> {
    let output = |e: std::io::Error| RunError::Output(format!("{}: {e}", set.out.display()));
    std::fs::create_dir_all(&set.out).map_err(output)?;
    let mut sidecar = String::from(spine::SIDECAR_HEADER);
    for &seed in &set.seeds {
        let image = Spine::generate(SpineSpec {
            rows: set.rows,
            cols: set.cols,
            hursts: set.hursts,
            seed,
        })?;
        let name = format!("spine-{seed}.dcm");
        write_dicom(
            &set.out.join(&name),
            std::slice::from_ref(&image.phantom),
            Syntax::ImplicitLe,
        )?;
        sidecar.push_str(&image.sidecar_lines(&name));
    }
    std::fs::write(set.out.join("rois.csv"), sidecar).map_err(output)?;
    Ok(set.seeds.len())
}

/// Anatomical AP spines with their true outlines.
#[derive(Debug, Clone)]
pub struct AnatomySet {
    pub out: PathBuf,
    pub rows: usize,
    pub cols: usize,
    pub spacing_mm: f64,
    pub export: Export,
    /// One file per seed.
    pub seeds: Vec<u64>,
}

/// Writes the spines, `rois.csv` (L1–L4's true outlines as polygons) and `truth.csv` (each
/// image's crest row, tilt and curve); returns how many spines.
pub fn write_anatomies(set: &AnatomySet) -> Result<usize> {
    let output = |e: std::io::Error| RunError::Output(format!("{}: {e}", set.out.display()));
    std::fs::create_dir_all(&set.out).map_err(output)?;
    let mut sidecar = String::from(anatomy::SIDECAR_HEADER);
    let mut truth = String::from("path,crest_row,tilt_deg,curve_mm\n");
    for &seed in &set.seeds {
        let spine = Anatomy::generate(AnatomySpec {
            rows: set.rows,
            cols: set.cols,
            spacing_mm: set.spacing_mm,
            export: set.export,
            seed,
        })?;
        let name = format!("anatomy-{seed}.dcm");
        let bytes = dicom_bytes(
            std::slice::from_ref(&spine.phantom),
            Syntax::ImplicitLe,
            &header_elements(set),
        )?;
        std::fs::write(set.out.join(&name), bytes).map_err(output)?;
        sidecar.push_str(&spine.sidecar_lines(&name));
        truth.push_str(&format!(
            "{name},{},{},{}\n",
            spine.crest_row, spine.tilt_deg, spine.curve_mm
        ));
    }
    std::fs::write(set.out.join("rois.csv"), sidecar).map_err(output)?;
    std::fs::write(set.out.join("truth.csv"), truth).map_err(output)?;
    Ok(set.seeds.len())
}

/// What the export says of itself: an AP spine, and its spacing — a display export by its
/// Exposed Area, as GE's do; a raw one by Pixel Spacing.
fn header_elements(set: &AnatomySet) -> Vec<super::file::Extra> {
    let mm = set.spacing_mm;
    let protocol = DataElement::new(
        tags::PROTOCOL_NAME,
        VR::LO,
        PrimitiveValue::from("AP Spine"),
    );
    let spacing = match set.export {
        Export::Display => {
            let area = [set.cols, set.rows].map(|n| (n as f64 * mm).round() as u16);
            vec![DataElement::new(
                tags::EXPOSED_AREA,
                VR::US,
                PrimitiveValue::U16(area.to_vec().into()),
            )]
        }
        Export::Raw(_) => vec![DataElement::new(
            tags::PIXEL_SPACING,
            VR::DS,
            PrimitiveValue::from(format!("{mm}\\{mm}").as_str()),
        )],
    };
    [vec![protocol], spacing].concat()
}
