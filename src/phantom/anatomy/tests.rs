use super::*;

fn generate(export: Export, seed: u64) -> Anatomy {
    Anatomy::generate(AnatomySpec {
        rows: 540,
        cols: 400,
        spacing_mm: 0.35,
        export,
        seed,
    })
    .unwrap()
}

/// The mean stored value of the pixels whose centres lie within `(u0..u1, v0..v1)` of a
/// vertebra's outline, in the outline's own proportions (0..1 across and down).
fn mean_within(a: &Anatomy, k: usize, (u0, u1): (f64, f64), (v0, v1): (f64, f64)) -> f64 {
    let q = &a.vertebrae[k];
    let cols = a.phantom.spec.cols;
    let (mut sum, mut n) = (0.0, 0.0);
    for i in 0..=20 {
        for j in 0..=20 {
            let (u, v) = (
                u0 + (u1 - u0) * i as f64 / 20.0,
                v0 + (v1 - v0) * j as f64 / 20.0,
            );
            let top = (
                q[0].0 + (q[1].0 - q[0].0) * u,
                q[0].1 + (q[1].1 - q[0].1) * u,
            );
            let bottom = (
                q[3].0 + (q[2].0 - q[3].0) * u,
                q[3].1 + (q[2].1 - q[3].1) * u,
            );
            let (x, y) = (
                top.0 + (bottom.0 - top.0) * v,
                top.1 + (bottom.1 - top.1) * v,
            );
            sum += f64::from(a.phantom.values[y as usize * cols + x as usize]);
            n += 1.0;
        }
    }
    sum / n
}

#[test]
fn outlines_run_down_the_image_in_order_within_it() {
    for seed in 0..2 {
        let a = generate(Export::Display, seed);
        let centres: Vec<(f64, f64)> = a
            .vertebrae
            .iter()
            .map(|q| {
                let n = q.len() as f64;
                (
                    q.iter().map(|p| p.0).sum::<f64>() / n,
                    q.iter().map(|p| p.1).sum::<f64>() / n,
                )
            })
            .collect();
        for q in &a.vertebrae {
            assert_eq!(q.len(), 4);
            assert!(q
                .iter()
                .all(|&(x, y)| (0.0..400.0).contains(&x) && (0.0..540.0).contains(&y)));
        }
        for pair in centres.windows(2) {
            // One vertebra and disc: 33–41 mm, 94–118 rows at 0.35 mm.
            let step = pair[1].1 - pair[0].1;
            assert!((94.0..118.0).contains(&step), "seed {seed}: {step}");
        }
        assert!(
            a.crest_row > centres[3].1,
            "seed {seed}: crests below L4's centre"
        );
        assert!(a.tilt_deg.abs() <= 10.0 && a.curve_mm.abs() <= 8.0);
    }
}

#[test]
fn bodies_are_brighter_than_the_discs_between_them() {
    let seed = 5;
    let a = generate(Export::Display, seed);
    for (k, label) in LUMBAR.iter().enumerate() {
        let body = mean_within(&a, k, (0.3, 0.7), (0.35, 0.65));
        // The outline's top and bottom 4 % are the halves of the discs.
        let disc = mean_within(&a, k, (0.3, 0.7), (0.0, 0.03));
        assert!(
            body > disc + 20.0,
            "seed {seed} {label}: body {body}, disc {disc}"
        );
    }
}

#[test]
fn exports_are_display_or_raw_and_seeded() {
    let display = generate(Export::Display, 3);
    let v = &display.phantom.values;
    assert!(v.contains(&0) && v.contains(&252));
    assert!(v
        .iter()
        .all(|&p| p == 252 || (p % 2 == 0 && (0..=250).contains(&p))));
    assert_eq!(generate(Export::Display, 3).phantom.values, *v);
    let raw = generate(Export::Raw(12), 3);
    assert_eq!(raw.phantom.spec.bits_stored, 12);
    assert!(raw.phantom.values.iter().all(|&p| (0..4096).contains(&p)));
    assert_eq!(
        raw.vertebrae, display.vertebrae,
        "the export does not move the anatomy"
    );
    let small = Anatomy::generate(AnatomySpec {
        rows: 400,
        cols: 300,
        spacing_mm: 0.25,
        export: Export::Display,
        seed: 1,
    });
    assert!(small.unwrap_err().to_string().contains("too small"));
}
