//! The header fields a results row reports: identity, shape, pixel spacing (from whichever
//! element a scanner fills), the texts the scan type is read from, and the BMI.

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use super::uint;
use crate::error::one_line;
use crate::scan::{HeaderTexts, Recognised};

/// The identifying fields copied into every results row of a file. Missing fields are empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    pub sop_instance_uid: String,
    pub study_date: String,
    pub manufacturer: String,
    pub model: String,
    pub modality: String,
    pub transfer_syntax: String,
    pub rows: Option<u32>,
    pub columns: Option<u32>,
    pub bits_stored: Option<u16>,
    pub signed: Option<bool>,
    /// (row spacing, column spacing) in mm, from the first element of [`SPACING_SOURCES`] the
    /// file has.
    pub pixel_spacing: Option<(f64, f64)>,
    /// Where `pixel_spacing` came from: `PixelSpacing`, `ImagerPixelSpacing`, `ExposedArea`,
    /// `flag` (`--spacing`), or `none`.
    pub spacing_source: &'static str,
    /// Patient ID (0010,0020), or its keyed hash under `--pseudonymize`.
    pub patient_id: String,
    /// SHA-256 of the file's bytes as read, in lowercase hex: what exactly was analysed.
    pub sha256: String,
    /// Photometric Interpretation MONOCHROME1: low values are displayed bright. Only pictures
    /// use it; the score is invariant to the gray-level direction.
    pub monochrome1: bool,
    /// The texts the scan type is read from.
    pub texts: HeaderTexts,
    /// The scan type, once the scan stage has read it (`None` for a file that failed before).
    pub scan: Option<Recognised>,
    /// Body-mass index from Patient's Size and Weight at the scan; `None` when either is
    /// missing or the pair is implausible.
    pub bmi: Option<f64>,
}

/// Where pixel spacing is read from, best first. Exposed Area is last: it is the detector's
/// field, not a calibration, but it is all GE's display exports carry.
pub const SPACING_SOURCES: [&str; 3] = ["PixelSpacing", "ImagerPixelSpacing", "ExposedArea"];

pub(super) fn read(obj: &DefaultDicomObject) -> Meta {
    let spacings = [
        spacing(obj, tags::PIXEL_SPACING),
        spacing(obj, tags::IMAGER_PIXEL_SPACING),
        exposed_area_spacing(obj),
    ];
    let (pixel_spacing, spacing_source) = spacings
        .iter()
        .zip(SPACING_SOURCES)
        .find_map(|(s, source)| s.map(|s| (Some(s), source)))
        .unwrap_or((None, "none"));
    Meta {
        sop_instance_uid: text(obj, tags::SOP_INSTANCE_UID),
        study_date: text(obj, tags::STUDY_DATE),
        manufacturer: text(obj, tags::MANUFACTURER),
        model: text(obj, tags::MANUFACTURER_MODEL_NAME),
        modality: text(obj, tags::MODALITY),
        transfer_syntax: obj
            .meta()
            .transfer_syntax()
            .trim_end_matches(['\0', ' '])
            .to_string(),
        rows: uint(obj, tags::ROWS),
        columns: uint(obj, tags::COLUMNS),
        bits_stored: uint(obj, tags::BITS_STORED).and_then(|b| u16::try_from(b).ok()),
        signed: uint(obj, tags::PIXEL_REPRESENTATION).map(|r| r == 1),
        pixel_spacing,
        spacing_source,
        patient_id: text(obj, tags::PATIENT_ID),
        sha256: String::new(),
        monochrome1: text(obj, tags::PHOTOMETRIC_INTERPRETATION) == "MONOCHROME1",
        texts: HeaderTexts {
            protocol_name: text(obj, tags::PROTOCOL_NAME),
            series_description: text(obj, tags::SERIES_DESCRIPTION),
            procedure_step: text(obj, tags::PERFORMED_PROCEDURE_STEP_DESCRIPTION),
            body_part: text(obj, tags::BODY_PART_EXAMINED),
            view_position: text(obj, tags::VIEW_POSITION),
        },
        scan: None,
        bmi: body_mass_index(
            float(obj, tags::PATIENT_SIZE),
            float(obj, tags::PATIENT_WEIGHT),
        ),
    }
}

/// A text element on one line, padding removed; empty when absent.
pub(super) fn text(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| one_line(s.trim_end_matches(['\0', ' '])))
        .unwrap_or_default()
}

fn float(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<f64> {
    obj.get(tag)?.to_float64().ok().filter(|v| v.is_finite())
}

fn spacing(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<(f64, f64)> {
    let values = obj.get(tag)?.to_multi_float64().ok()?;
    match values.as_slice() {
        [row, col, ..] if *row > 0.0 && *col > 0.0 => Some((*row, *col)),
        _ => None,
    }
}

/// Spacing from Exposed Area (0040,0303): the exposed field in mm divided by the image's size.
/// GE writes it width first (UK Biobank's 716-column, 780-row AP spines say [180, 197]), so the
/// first value goes with the columns. A round field (one value) gives nothing.
fn exposed_area_spacing(obj: &DefaultDicomObject) -> Option<(f64, f64)> {
    let area = obj.get(tags::EXPOSED_AREA)?.to_multi_float64().ok()?;
    let (rows, cols) = (uint(obj, tags::ROWS)?, uint(obj, tags::COLUMNS)?);
    match area.as_slice() {
        [width, height] if *width > 0.0 && *height > 0.0 && rows > 0 && cols > 0 => {
            Some((height / f64::from(rows), width / f64::from(cols)))
        }
        _ => None,
    }
}

/// Heights (m) and weights (kg) outside these are typing errors (a height in cm, a weight in
/// g) or placeholders, not people; the BMI is then left blank rather than guessed.
const PLAUSIBLE_HEIGHT_M: std::ops::RangeInclusive<f64> = 0.5..=2.5;
const PLAUSIBLE_WEIGHT_KG: std::ops::RangeInclusive<f64> = 10.0..=350.0;
const PLAUSIBLE_BMI: std::ops::RangeInclusive<f64> = 8.0..=100.0;

/// Weight / height², to two decimals (the precision the inputs are recorded to).
pub fn body_mass_index(height_m: Option<f64>, weight_kg: Option<f64>) -> Option<f64> {
    let (h, w) = (height_m?, weight_kg?);
    if !PLAUSIBLE_HEIGHT_M.contains(&h) || !PLAUSIBLE_WEIGHT_KG.contains(&w) {
        return None;
    }
    let bmi = w / (h * h);
    PLAUSIBLE_BMI
        .contains(&bmi)
        .then(|| (bmi * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmi_is_weight_over_height_squared_or_blank_when_implausible() {
        assert_eq!(body_mass_index(Some(1.75), Some(70.0)), Some(22.86));
        assert_eq!(
            body_mass_index(Some(175.0), Some(70.0)),
            None,
            "height in cm"
        );
        assert_eq!(body_mass_index(Some(1.75), Some(0.0)), None);
        assert_eq!(body_mass_index(None, Some(70.0)), None);
        assert_eq!(body_mass_index(Some(1.75), None), None);
        assert_eq!(body_mass_index(Some(0.6), Some(300.0)), None, "BMI 833");
    }
}
