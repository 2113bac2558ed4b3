//! The guard on small hand-made files: each rule, and each fuzz finding it came from.

use super::*;
use crate::decode::element::has_long_length;

/// An explicit VR little endian element with a short or long length.
fn element(group: u16, elem: u16, vr: &[u8; 2], value: &[u8], length: Option<u32>) -> Vec<u8> {
    let mut out = [group.to_le_bytes(), elem.to_le_bytes()].concat();
    out.extend_from_slice(vr);
    let length = length.unwrap_or(value.len() as u32);
    if has_long_length(*vr) {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&length.to_le_bytes());
    } else {
        out.extend_from_slice(&(length as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// A file of explicit VR little endian holding `dataset`.
fn file(dataset: &[u8]) -> Vec<u8> {
    let mut out = vec![0; 128];
    out.extend_from_slice(b"DICM");
    out.extend(element(2, 0x10, b"UI", b"1.2.840.10008.1.2.1\0", None));
    out.extend_from_slice(dataset);
    out
}

fn item(content: &[u8]) -> Vec<u8> {
    let mut out = [0xFFFEu16.to_le_bytes(), 0xE000u16.to_le_bytes()].concat();
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(content);
    out
}

#[test]
fn lengths_inside_a_sequence_of_defined_length_are_checked() {
    let fine = element(0x10, 0x10, b"PN", b"DOE^J ", None);
    let lying = element(0x10, 0x10, b"OB", b"ab", Some(1 << 30));
    for (inner, ok) in [(fine, true), (lying, false)] {
        let items = item(&inner);
        let sq = element(0x8, 0x1140, b"SQ", &items, None);
        assert_eq!(check(&file(&sq), 1 << 20).is_ok(), ok);
    }
}

#[test]
fn only_sequences_and_pixel_data_may_have_an_undefined_length() {
    let undefined = element(0x7F00, 0x10, b"OB", &[], Some(UNDEFINED));
    let e = check(&file(&undefined), 1 << 20).unwrap_err().to_string();
    assert!(
        e.contains("(7F00,0010) of VR OB has an undefined length"),
        "{e}"
    );
    // Encapsulated pixel data: fragments are skipped, not read as headers.
    let mut pixels = element(0x7FE0, 0x10, b"OB", &[], Some(UNDEFINED));
    pixels.extend(item(&[]));
    pixels.extend(item(&[
        0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]));
    pixels.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    assert!(check(&file(&pixels), 1 << 20).is_ok());
}

#[test]
fn unknown_vrs_and_ragged_binary_values_are_refused() {
    let unknown = element(0x10, 0x20, b"\0\0", &[0; 4], None);
    assert!(check(&file(&unknown), 1 << 20).is_err());
    let ragged = element(0x28, 0x102, b"FL", &[15, 0], None);
    let e = check(&file(&ragged), 1 << 20).unwrap_err().to_string();
    assert!(e.contains("not a multiple of 4"), "{e}");
}

/// An implicit VR little endian header and content, as a UN sequence holds them.
fn implicit(tag: (u16, u16), length: u32, content: &[u8]) -> Vec<u8> {
    let mut out = [tag.0.to_le_bytes(), tag.1.to_le_bytes()].concat();
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(content);
    out
}

/// A UN element of undefined length holding one item of undefined length with one element.
fn un_sequence() -> Vec<u8> {
    let content = [
        implicit(ITEM, UNDEFINED, &implicit((0x20, 0xE), 4, b"1.2\0")),
        implicit(ITEM_END, 0, &[]),
        implicit(SEQUENCE_END, 0, &[]),
    ]
    .concat();
    element(0x4453, 0x100C, b"UN", &content, Some(UNDEFINED))
}

#[test]
fn a_un_sequence_of_undefined_length_is_walked_as_implicit_vr_and_cut_out() {
    let after = element(0x10, 0x10, b"PN", b"DOE^J ", None);
    let bytes = file(&[un_sequence(), after.clone()].concat());
    let start = bytes.len() - after.len() - un_sequence().len();
    let cuts = check(&bytes, 1 << 20).unwrap();
    assert_eq!(cuts, vec![start..start + un_sequence().len()]);
    // Inside a sequence of defined length a cut would break that length: refused.
    let sq = element(0x8, 0x1140, b"SQ", &item(&un_sequence()), None);
    let e = check(&file(&sq), 1 << 20).unwrap_err().to_string();
    assert!(e.contains("(4453,100C) of VR UN"), "{e}");
    // An item inside that declares more than the file holds is refused, not skipped.
    let mut lying = un_sequence();
    let at = lying.len() - 8 - 8 - 4 - 4;
    lying[at..at + 4].copy_from_slice(&(1u32 << 30).to_le_bytes());
    let e = check(&file(&lying), 1 << 20).unwrap_err().to_string();
    assert!(e.contains("past the end of the file"), "{e}");
}

/// Fuzz finding: after a sequence delimiter inside an item, an item the walk went into as a
/// data set and the parser read as bytes. Structure the standard does not allow is refused,
/// wherever it stands; what it allows is walked as the parser reads it.
#[test]
fn structure_the_standard_does_not_allow_is_refused() {
    let leaf = element(0x10, 0x10, b"PN", b"DOE^J ", None);
    let undefined_sq = |content: &[u8]| {
        let mut sq = element(0x8, 0x1140, b"SQ", &[], Some(UNDEFINED));
        sq.extend_from_slice(content);
        sq
    };
    let item_undefined = |content: &[u8]| {
        [
            implicit(ITEM, UNDEFINED, content),
            implicit(ITEM_END, 0, &[]),
        ]
        .concat()
    };
    let end = implicit(SEQUENCE_END, 0, &[]);
    let good = undefined_sq(&[item_undefined(&leaf), item(&leaf), end.clone()].concat());
    assert!(check(&file(&good), 1 << 20).is_ok());
    let refused = [
        (
            item(&leaf),
            "an item (FFFE,E000) where a data set element belongs",
        ),
        (
            undefined_sq(&[leaf.clone(), end.clone()].concat()),
            "element (0010,0010) where an item",
        ),
        (
            undefined_sq(
                &[implicit(
                    ITEM,
                    UNDEFINED,
                    &[leaf.clone(), end.clone()].concat(),
                )]
                .concat(),
            ),
            "a sequence delimiter (FFFE,E0DD) where a data set element belongs",
        ),
        (
            [
                element(0x8, 0x1140, b"SQ", &implicit(ITEM, UNDEFINED, &leaf), None),
                leaf.clone(),
            ]
            .concat(),
            "runs past the end of the one of defined length",
        ),
        (
            [
                element(
                    0x8,
                    0x1140,
                    b"SQ",
                    &item(&[leaf.clone(), leaf.clone()].concat())[..20],
                    None,
                ),
                leaf.clone(),
                leaf.clone(),
            ]
            .concat(),
            "past the end of the item or sequence it is in",
        ),
    ];
    for (dataset, want) in refused {
        let e = check(&file(&dataset), 1 << 20).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

/// Fuzz finding: in implicit VR, an unknown element of defined length whose value starts
/// like an item. The walk went into it as a sequence, where a length inside carried it past
/// the next element; the parser reads such a value as bytes and then that element, which
/// declared 2.9 GB.
#[test]
fn an_unknown_implicit_element_is_passed_as_bytes_whatever_it_holds() {
    let mut out = vec![0; 128];
    out.extend_from_slice(b"DICM");
    out.extend(element(2, 0x10, b"UI", b"1.2.840.10008.1.2\0", None));
    let looks_like_an_item = implicit(ITEM, 1 << 30, &[0; 8]);
    out.extend(implicit((0xFAFE, 0x200D), 16, &looks_like_an_item));
    let fine = check(&out, 1 << 20);
    assert!(fine.is_ok(), "{fine:?}");
    out.extend(implicit((0x6C4F, 0x73A5), 0xB0B1_C1BD, &[0; 4]));
    let e = check(&out, 1 << 20).unwrap_err().to_string();
    assert!(e.contains("(6C4F,73A5) declares 2964439485 bytes"), "{e}");
}

/// Fuzz finding: a sequence delimiter at the top level declaring 822 MB, which the parser
/// reserved.
#[test]
fn a_delimiter_that_declares_a_value_is_refused() {
    let last = element(0x10, 0x10, b"PN", b"DOE^J ", None);
    for tag in [SEQUENCE_END, ITEM_END] {
        let delimiter = implicit(tag, 0x3100_0001, &[]);
        let e = check(&file(&[last.clone(), delimiter].concat()), 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(e.contains("declares a value of 822083585 bytes"), "{e}");
    }
}

#[test]
fn zero_padding_after_the_last_element_is_cut_and_other_bytes_are_not() {
    let last = element(0x10, 0x10, b"PN", b"DOE^J ", None);
    let bytes = file(&[last.clone(), vec![0; 100]].concat());
    assert_eq!(
        check(&bytes, 1 << 20).unwrap(),
        vec![bytes.len() - 100..bytes.len()]
    );
    let short = file(&[last.clone(), vec![7; 5]].concat());
    assert_eq!(check(&short, 1 << 20).unwrap().len(), 1);
    let garbage = file(&[last, vec![0, 0, 0, 0, 9, 9, 9, 9, 9, 9]].concat());
    assert!(check(&garbage, 1 << 20).is_err());
}

/// Fuzz finding: Pixel Data of VR SQ and undefined length. The parser reads it as a sequence
/// (VR SQ comes first), the walk took it for fragments and skipped an item the parser read as a
/// data set, in which a length of 3.7 GB hid.
#[test]
fn pixel_data_of_vr_sq_is_walked_as_a_sequence() {
    let lying = element(0x10, 0x10, b"OB", b"ab", Some(0xE000_FFFE));
    let mut pixels = element(0x7FE0, 0x10, b"SQ", &[], Some(UNDEFINED));
    pixels.extend(item(&lying));
    pixels.extend(implicit(SEQUENCE_END, 0, &[]));
    let e = check(&file(&pixels), 1 << 20).unwrap_err().to_string();
    assert!(e.contains("(0010,0010) declares 3758161918 bytes"), "{e}");
}
