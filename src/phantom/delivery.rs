//! A generated cohort delivery shaped like UK Biobank's DXA field: one zip per participant
//! visit, each holding the eight GE Lunar iDXA exports of a visit — AP Spine, Left and Right
//! Femur, Left and Right Ortho Knee, LVA, and Total Body twice — told apart only by Protocol
//! Name (Series Description is "DXA Images", Body Part Examined empty), with Exposed Area for
//! spacing and Patient's Size and Weight, and members named by their UIDs as the real ones
//! are. The AP spines are drawn from anatomy (`anatomy`) with their true L1–L4 outlines in
//! `rois.csv`, named by archive member.

use std::io::Write;
use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::anatomy::{self, Anatomy, AnatomySpec, Export};
use super::file::{dicom_bytes, Extra};
use super::spine::{self, Spine, SpineSpec};
use super::{fbm_surface, Phantom, Spec, Style, Syntax};
use crate::error::{Result, RunError};
use crate::walk::archive::SEPARATOR;

/// What `tbs-batch delivery` writes.
#[derive(Debug, Clone)]
pub struct DeliverySet {
    pub out: PathBuf,
    /// One archive per visit.
    pub visits: usize,
    pub seed: u64,
}

/// The scans of one visit: Protocol Name, rows, columns, Exposed Area (width, height) in mm.
/// Sizes and fields as the real exports have them, at about 0.25 mm (2.42 mm for total body).
const SCANS: [(&str, usize, usize, [u16; 2]); 8] = [
    ("AP Spine", 780, 716, [180, 197]),
    ("Left Femur", 600, 520, [130, 150]),
    ("Right Femur", 600, 520, [130, 150]),
    ("Left Ortho Knee", 480, 400, [100, 120]),
    ("Right Ortho Knee", 480, 400, [100, 120]),
    ("LVA", 780, 400, [100, 195]),
    ("Total Body", 800, 250, [605, 1936]),
    ("Total Body", 800, 250, [605, 1936]),
];

/// One archive member: its name and bytes, and for the AP spine its true regions.
struct Member {
    name: String,
    bytes: Vec<u8>,
    spine: Option<Anatomy>,
}

/// Who was scanned at a visit, as the header records it.
struct Participant {
    id: String,
    height_m: f64,
    /// `None` for the visit whose weight was not entered (its BMI is then blank).
    weight_kg: Option<f64>,
}

impl Participant {
    fn of(visit: usize, rng: &mut ChaCha8Rng) -> Participant {
        let height_m = (rng.random_range(1.50..1.92f64) * 100.0).round() / 100.0;
        let bmi = rng.random_range(19.0..34.0);
        let weight = (bmi * height_m * height_m * 10.0f64).round() / 10.0;
        Participant {
            id: format!("{}", 1_000_001 + visit),
            height_m,
            weight_kg: (visit % 3 != 2).then_some(weight),
        }
    }
}

/// Writes the archives and `rois.csv`; returns how many archives.
pub fn write_delivery(set: &DeliverySet) -> Result<usize> {
    let output = |e: String| RunError::Output(format!("{}: {e}", set.out.display()));
    std::fs::create_dir_all(&set.out).map_err(|e| output(e.to_string()))?;
    let mut sidecar = String::from(anatomy::SIDECAR_HEADER);
    for visit in 0..set.visits {
        let mut rng = ChaCha8Rng::seed_from_u64(set.seed.wrapping_add(visit as u64));
        let who = Participant::of(visit, &mut rng);
        let name = format!("{}_20158_2_0.zip", who.id);
        // Drawn in order, generated in parallel: the same seed gives the same archives.
        let draws: Vec<Draw> = SCANS.iter().map(|_| Draw::new(&mut rng)).collect();
        let members = SCANS
            .par_iter()
            .zip(&draws)
            .map(|(scan, draw)| member(scan, &who, draw))
            .collect::<Result<Vec<_>>>()?;
        write_zip(&set.out.join(&name), &members).map_err(output)?;
        for m in &members {
            if let Some(spine) = &m.spine {
                sidecar.push_str(&spine.sidecar_lines(&format!("{name}{SEPARATOR}{}", m.name)));
            }
        }
    }
    std::fs::write(set.out.join("rois.csv"), sidecar).map_err(|e| output(e.to_string()))?;
    Ok(set.visits)
}

/// The random choices of one scan.
struct Draw {
    seed: u64,
    hursts: [f64; 4],
    name: u64,
}

impl Draw {
    fn new(rng: &mut ChaCha8Rng) -> Draw {
        Draw {
            seed: rng.random(),
            hursts: [0.0; 4].map(|_: f64| rng.random_range(0.30..0.60)),
            name: rng.random(),
        }
    }
}

/// One scan of a visit as its export.
fn member(
    &(protocol, rows, cols, area): &(&str, usize, usize, [u16; 2]),
    who: &Participant,
    &Draw { seed, hursts, name }: &Draw,
) -> Result<Member> {
    let (phantom, spine) = match protocol {
        "AP Spine" => {
            let spine = Anatomy::generate(AnatomySpec {
                rows,
                cols,
                spacing_mm: f64::from(area[0]) / cols as f64,
                export: Export::Display,
                seed,
            })?;
            (spine.phantom.clone(), Some(spine))
        }
        "LVA" => {
            let spine = Spine::generate(SpineSpec {
                rows,
                cols,
                hursts,
                seed,
            })?;
            (spine.phantom, None)
        }
        _ => (shaped(rows, cols, seed, shape_of(protocol))?, None),
    };
    let bytes = dicom_bytes(
        std::slice::from_ref(&phantom),
        Syntax::ImplicitLe,
        &header(protocol, area, who),
    )?;
    Ok(Member {
        name: format!("2.25.{name}.dcm"),
        bytes,
        spine,
    })
}

/// The header a GE Lunar iDXA display export carries besides its image.
fn header(protocol: &str, area: [u16; 2], who: &Participant) -> Vec<Extra> {
    let text = |tag, vr, value: &str| DataElement::new(tag, vr, PrimitiveValue::from(value));
    let mut extra = vec![
        text(tags::MANUFACTURER, VR::LO, "GE Healthcare"),
        text(tags::MANUFACTURER_MODEL_NAME, VR::LO, "Lunar iDXA"),
        text(tags::PROTOCOL_NAME, VR::LO, protocol),
        text(tags::SERIES_DESCRIPTION, VR::LO, "DXA Images"),
        text(tags::PATIENT_ID, VR::LO, &who.id),
        text(tags::PATIENT_SIZE, VR::DS, &who.height_m.to_string()),
        DataElement::new(
            tags::EXPOSED_AREA,
            VR::US,
            PrimitiveValue::U16(area.to_vec().into()),
        ),
    ];
    if let Some(w) = who.weight_kg {
        extra.push(text(tags::PATIENT_WEIGHT, VR::DS, &w.to_string()));
    }
    extra
}

/// Where a body part's bone and soft tissue lie, in coordinates 0..1 across and down.
type Shape = fn(f64, f64) -> Tissue;

/// What a pixel of a shaped scan shows.
enum Tissue {
    Air,
    Soft,
    Bone,
}

fn shape_of(protocol: &str) -> Shape {
    match protocol {
        "Left Femur" | "Right Femur" => femur,
        "Left Ortho Knee" | "Right Ortho Knee" => knee,
        _ => total_body,
    }
}

/// A proximal femur: the head up left, the neck, the shaft running down.
fn femur(x: f64, y: f64) -> Tissue {
    let head = (x - 0.38).powi(2) + (y - 0.25).powi(2) < 0.12f64.powi(2);
    let neck = distance_to_segment((x, y), (0.38, 0.25), (0.58, 0.45)) < 0.07;
    let shaft = (x - (0.58 - 0.05 * (y - 0.45))).abs() < 0.1 && y > 0.4;
    let soft = (x - 0.5).abs() < 0.42;
    tissue(head || neck || shaft, soft)
}

/// A knee: the femur's condyles above, the tibia's plateau below, the joint space between.
fn knee(x: f64, y: f64) -> Tissue {
    let femur = ((x - 0.5) / 0.3).powi(2) + ((y - 0.3) / 0.25).powi(2) < 1.0 && y < 0.47;
    let tibia = (x - 0.5).abs() < 0.28 - 0.1 * (y - 0.52).max(0.0) && y > 0.52;
    tissue(femur || tibia, (x - 0.5).abs() < 0.42)
}

/// A whole body: head, trunk with the spine and pelvis, legs.
fn total_body(x: f64, y: f64) -> Tissue {
    let head = ((x - 0.5) / 0.16).powi(2) + ((y - 0.07) / 0.06).powi(2) < 1.0;
    let trunk = (x - 0.5).abs() < 0.34 && (0.13..0.5).contains(&y);
    let legs = (x - 0.5).abs() > 0.03 && (x - 0.5).abs() < 0.3 && (0.5..0.97).contains(&y);
    let spine = (x - 0.5).abs() < 0.04 && (0.13..0.45).contains(&y);
    let pelvis = (x - 0.5).abs() < 0.25 && (0.43..0.5).contains(&y);
    let femurs = ((x - 0.5).abs() - 0.16).abs() < 0.04 && (0.5..0.95).contains(&y);
    let skull = head && ((x - 0.5) / 0.16).powi(2) + ((y - 0.07) / 0.06).powi(2) > 0.6;
    tissue(spine || pelvis || femurs || skull, head || trunk || legs)
}

fn tissue(bone: bool, soft: bool) -> Tissue {
    match (bone, soft) {
        (true, _) => Tissue::Bone,
        (false, true) => Tissue::Soft,
        _ => Tissue::Air,
    }
}

fn distance_to_segment((x, y): (f64, f64), (ax, ay): (f64, f64), (bx, by): (f64, f64)) -> f64 {
    let (dx, dy) = (bx - ax, by - ay);
    let t = (((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((x - ax - t * dx).powi(2) + (y - ay - t * dy).powi(2)).sqrt()
}

/// A display export of `shape`: textured bone and soft tissue on a zero background, with the
/// saturated fill bands at top and bottom the exports have.
fn shaped(rows: usize, cols: usize, seed: u64, shape: Shape) -> Result<Phantom> {
    let bone = spine::normalised(fbm_surface(rows, cols, 0.45, seed));
    let soft = spine::normalised(fbm_surface(rows, cols, 0.9, seed + 1));
    let band = rows / 25;
    let values = (0..rows * cols)
        .map(|i| {
            let (r, c) = (i / cols, i % cols);
            if r < band || r >= rows - band {
                return spine::FILL;
            }
            let (x, y) = (
                (c as f64 + 0.5) / cols as f64,
                (r as f64 + 0.5) / rows as f64,
            );
            match shape(x, y) {
                Tissue::Air => spine::BACKGROUND,
                Tissue::Soft => spine::level(0.25 + 0.03 * soft[i]),
                Tissue::Bone => spine::level(0.55 + 0.12 * bone[i]),
            }
        })
        .collect();
    Ok(Phantom {
        spec: Spec {
            rows,
            cols,
            hurst: 0.45,
            bits_stored: 8,
            signed: false,
            style: Style::Display,
            seed,
        },
        values,
    })
}

fn write_zip(path: &Path, members: &[Member]) -> std::result::Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut zip = ZipWriter::new(file);
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for m in members {
        zip.start_file(m.name.as_str(), options)
            .map_err(|e| e.to_string())?;
        zip.write_all(&m.bytes).map_err(|e| e.to_string())?;
    }
    zip.finish().map(drop).map_err(|e| e.to_string())
}
