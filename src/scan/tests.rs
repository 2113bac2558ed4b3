use super::*;

fn protocol(name: &str) -> HeaderTexts {
    HeaderTexts {
        protocol_name: name.into(),
        series_description: "DXA Images".into(),
        ..HeaderTexts::default()
    }
}

#[test]
fn ge_lunar_encore_protocol_names_map_to_their_scans() {
    let cases = [
        ("AP Spine", ScanType::ApSpine),
        ("Left Femur", ScanType::Hip),
        ("Right Femur", ScanType::Hip),
        ("DualFemur", ScanType::Hip),
        ("Left Ortho Knee", ScanType::Knee),
        ("Right Ortho Knee", ScanType::Knee),
        ("LVA", ScanType::LateralSpine),
        ("Total Body", ScanType::TotalBody),
        ("Left Forearm", ScanType::Forearm),
        ("Lateral Spine", ScanType::LateralSpine),
    ];
    for (name, scan) in cases {
        let r = recognise(&protocol(name));
        assert_eq!((r.scan, r.protocol.as_str()), (scan, name), "{name}");
    }
}

#[test]
fn hologic_descriptions_and_body_parts_map_too() {
    let series = |text: &str| HeaderTexts {
        series_description: text.into(),
        ..HeaderTexts::default()
    };
    let cases = [
        ("L1-L4", ScanType::ApSpine),
        ("Lumbar Spine", ScanType::ApSpine),
        ("Left Hip", ScanType::Hip),
        ("Dual Hip", ScanType::Hip),
        ("Whole Body", ScanType::TotalBody),
        ("IVA-HD", ScanType::LateralSpine),
        ("Forearm (Radius)", ScanType::Forearm),
        ("Hand", ScanType::Other),
    ];
    for (text, scan) in cases {
        assert_eq!(recognise(&series(text)).scan, scan, "{text}");
    }
    let part = |p: &str, view: &str| HeaderTexts {
        body_part: p.into(),
        view_position: view.into(),
        ..HeaderTexts::default()
    };
    assert_eq!(recognise(&part("LSPINE", "AP")).scan, ScanType::ApSpine);
    assert_eq!(
        recognise(&part("LSPINE", "LL")).scan,
        ScanType::LateralSpine
    );
    assert_eq!(recognise(&part("WHOLEBODY", "")).scan, ScanType::TotalBody);
    assert_eq!(recognise(&part("TSPINE", "")).scan, ScanType::Other);
}

#[test]
fn the_protocol_is_trusted_before_the_other_fields() {
    let texts = HeaderTexts {
        protocol_name: "Left Femur".into(),
        series_description: "Spine".into(),
        body_part: "LSPINE".into(),
        ..HeaderTexts::default()
    };
    assert_eq!(recognise(&texts).scan, ScanType::Hip);
    // A protocol no rule knows leaves the decision to the next field.
    let texts = HeaderTexts {
        protocol_name: "Research 7".into(),
        body_part: "SPINE".into(),
        ..HeaderTexts::default()
    };
    let r = recognise(&texts);
    assert_eq!((r.scan, r.protocol.as_str()), (ScanType::ApSpine, "SPINE"));
}

#[test]
fn a_header_naming_no_scan_is_unknown_and_says_what_it_had() {
    let r = recognise(&HeaderTexts::default());
    assert_eq!((r.scan, r.protocol.as_str()), (ScanType::Unknown, ""));
    let r = recognise(&protocol("Research 7"));
    assert_eq!(
        (r.scan, r.protocol.as_str()),
        (ScanType::Unknown, "Research 7")
    );
    // Words, not substrings: "Bilateral" is not "lateral", "Shipment" not "hip".
    assert_eq!(
        recognise(&protocol("Bilateral Shipment")).scan,
        ScanType::Unknown
    );
}

#[test]
fn scans_lists_parse_and_refuse_unknown_names() {
    let default = Selection::default_types();
    assert!(default.scores(ScanType::ApSpine) && default.scores(ScanType::Unknown));
    assert!(!default.scores(ScanType::Hip));
    assert_eq!(default.to_string(), "ap-spine,unknown");
    let all = Selection::parse("all").unwrap();
    assert!(ScanType::ALL.iter().all(|t| all.scores(*t)));
    let some = Selection::parse("hip, ap-spine,hip").unwrap();
    assert_eq!(some.to_string(), "ap-spine,hip");
    let e = Selection::parse("ap-spine,femur").unwrap_err();
    assert!(e.contains("\"femur\"") && e.contains("total-body"), "{e}");
    assert!(Selection::parse(" , ").is_err());
}
