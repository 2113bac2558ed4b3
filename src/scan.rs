//! Stage 3: what kind of scan an image is, from the text in its header.
//!
//! A delivery mixes AP spines with femurs, knees, lateral spines and total bodies, and a texture
//! score means something only on the spine it was defined for. The scanner says which scan it
//! made only in free text — GE Lunar enCORE in Protocol Name ("AP Spine", "Left Femur", "LVA"),
//! Hologic in Series Description or Protocol Name ("L1-L4", "Left Hip", "Whole Body") — and
//! sometimes in Body Part Examined's defined terms (LSPINE, HIP, WHOLEBODY). [`RULES`] is the one
//! table that maps those texts to a [`ScanType`]; the fields are read in [`FIELDS`]' order and
//! the first that a rule recognises decides. An image whose header names no scan (phantoms,
//! anonymised research exports, "DXA Images") is [`ScanType::Unknown`].

use std::fmt;

/// The kinds of scan the tool tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ScanType {
    ApSpine,
    LateralSpine,
    Hip,
    Forearm,
    Knee,
    TotalBody,
    /// A body part the header names that is none of the above (hand, skull, thoracic spine).
    Other,
    /// The header names no scan.
    #[default]
    Unknown,
}

impl ScanType {
    /// Every type, in the order summaries list them.
    pub const ALL: [ScanType; 8] = [
        ScanType::ApSpine,
        ScanType::LateralSpine,
        ScanType::Hip,
        ScanType::Forearm,
        ScanType::Knee,
        ScanType::TotalBody,
        ScanType::Other,
        ScanType::Unknown,
    ];

    /// The name in the `scan` column and in `--scans`.
    pub fn name(self) -> &'static str {
        match self {
            ScanType::ApSpine => "ap-spine",
            ScanType::LateralSpine => "lateral-spine",
            ScanType::Hip => "hip",
            ScanType::Forearm => "forearm",
            ScanType::Knee => "knee",
            ScanType::TotalBody => "total-body",
            ScanType::Other => "other",
            ScanType::Unknown => "unknown",
        }
    }

    /// The type a name stands for.
    pub fn parse(name: &str) -> Option<ScanType> {
        ScanType::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for ScanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The header texts a scan type is read from, as the file holds them (one line each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderTexts {
    /// Protocol Name (0018,1030).
    pub protocol_name: String,
    /// Series Description (0008,103E).
    pub series_description: String,
    /// Performed Procedure Step Description (0040,0254).
    pub procedure_step: String,
    /// Body Part Examined (0018,0015).
    pub body_part: String,
    /// View Position (0018,5101): `AP`, `PA`, `LL`, `RL`, `LATERAL`…
    pub view_position: String,
}

/// A header field: its name, and where [`HeaderTexts`] holds it.
pub type Field = (&'static str, fn(&HeaderTexts) -> &str);

/// The fields read, in the order they are trusted: the scanner's protocol first.
pub const FIELDS: [Field; 4] = [
    ("Protocol Name", |t| &t.protocol_name),
    ("Series Description", |t| &t.series_description),
    ("Performed Procedure Step Description", |t| {
        &t.procedure_step
    }),
    ("Body Part Examined", |t| &t.body_part),
];

/// What a scan was recognised as, and the text it was decided from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recognised {
    pub scan: ScanType,
    /// The header text that decided (for `unknown`, the first non-empty one, if any).
    pub protocol: String,
}

/// One rule: every word present (whole words, case ignored) makes the text this type.
pub struct Rule {
    pub words: &'static [&'static str],
    pub scan: ScanType,
}

const fn rule(words: &'static [&'static str], scan: ScanType) -> Rule {
    Rule { words, scan }
}

/// The rules, first match wins, so the more specific come first: a "Total Body" is not a spine
/// for mentioning one, an "Ortho Knee" is a knee, "LVA" (GE's lateral vertebral assessment),
/// "IVA"/"VFA" (Hologic's) and "Lateral" spines are not AP ones.
pub const RULES: &[Rule] = &[
    rule(&["total", "body"], ScanType::TotalBody),
    rule(&["whole", "body"], ScanType::TotalBody),
    rule(&["wholebody"], ScanType::TotalBody),
    rule(&["knee"], ScanType::Knee),
    rule(&["forearm"], ScanType::Forearm),
    rule(&["radius"], ScanType::Forearm),
    rule(&["femur"], ScanType::Hip),
    rule(&["dualfemur"], ScanType::Hip),
    rule(&["hip"], ScanType::Hip),
    rule(&["lva"], ScanType::LateralSpine),
    rule(&["iva"], ScanType::LateralSpine),
    rule(&["vfa"], ScanType::LateralSpine),
    rule(&["lateral"], ScanType::LateralSpine),
    rule(&["lat", "spine"], ScanType::LateralSpine),
    rule(&["tspine"], ScanType::Other),
    rule(&["thoracic"], ScanType::Other),
    rule(&["cspine"], ScanType::Other),
    rule(&["spine"], ScanType::ApSpine),
    rule(&["lspine"], ScanType::ApSpine),
    rule(&["lumbar"], ScanType::ApSpine),
    rule(&["l1", "l4"], ScanType::ApSpine),
    rule(&["hand"], ScanType::Other),
    rule(&["wrist"], ScanType::Other),
    rule(&["skull"], ScanType::Other),
    rule(&["chest"], ScanType::Other),
    rule(&["foot"], ScanType::Other),
    rule(&["heel"], ScanType::Other),
];

/// View Positions that make a spine a lateral one.
const LATERAL_VIEWS: [&str; 3] = ["LL", "RL", "LATERAL"];

/// Reads the scan type from an image's header texts.
pub fn recognise(texts: &HeaderTexts) -> Recognised {
    let decided = FIELDS.iter().find_map(|(_, field)| {
        let text = field(texts);
        matching(text).map(|scan| Recognised {
            scan,
            protocol: text.to_string(),
        })
    });
    match decided {
        Some(mut r) => {
            let view = texts.view_position.trim().to_ascii_uppercase();
            if r.scan == ScanType::ApSpine && LATERAL_VIEWS.contains(&view.as_str()) {
                r.scan = ScanType::LateralSpine;
            }
            r
        }
        None => Recognised {
            scan: ScanType::Unknown,
            protocol: FIELDS
                .iter()
                .map(|(_, field)| field(texts))
                .find(|t| !t.is_empty())
                .unwrap_or_default()
                .to_string(),
        },
    }
}

/// The type the first matching rule gives `text`.
fn matching(text: &str) -> Option<ScanType> {
    let words = words(text);
    RULES
        .iter()
        .find(|r| r.words.iter().all(|w| words.contains(&w.to_string())))
        .map(|r| r.scan)
}

/// The text's words, lowercase: runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

/// The scan types `--scans` lets through to be scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection(Vec<ScanType>);

impl Selection {
    /// `--scans` by default: AP spines, and images that name no scan (phantoms, research
    /// exports), which are more likely spines sent for TBS than not.
    pub fn default_types() -> Selection {
        Selection(vec![ScanType::ApSpine, ScanType::Unknown])
    }

    /// Every type.
    pub fn all() -> Selection {
        Selection(ScanType::ALL.to_vec())
    }

    /// Parses `--scans`: a comma-separated list of type names, or `all`.
    pub fn parse(list: &str) -> std::result::Result<Selection, String> {
        if list.trim() == "all" {
            return Ok(Selection::all());
        }
        let mut types = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scan = ScanType::parse(name).ok_or_else(|| {
                let names: Vec<&str> = ScanType::ALL.iter().map(|t| t.name()).collect();
                format!(
                    "unknown scan type {name:?}; use `all` or some of {}",
                    names.join(", ")
                )
            })?;
            if !types.contains(&scan) {
                types.push(scan);
            }
        }
        if types.is_empty() {
            return Err("--scans names no scan type".into());
        }
        types.sort();
        Ok(Selection(types))
    }

    /// Whether images of this type are scored.
    pub fn scores(&self, scan: ScanType) -> bool {
        self.0.contains(&scan)
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == ScanType::ALL.len() {
            return f.write_str("all");
        }
        let names: Vec<&str> = self.0.iter().map(|t| t.name()).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests;
