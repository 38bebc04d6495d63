//! Agreement with neural-tangents 0.6.5 (`tests/fixtures/neural_tangents.json`, made by
//! `tests/fixtures/make_nt_fixtures.py` in its pinned environment, x64): ≤ 1e-12 relative off the
//! diagonal; on the diagonal ≤ 1e-7 (neural-tangents computes the ReLU angle there from
//! q₁₂/√(q₁q₂) and carries ~1e-8 round-off, where gradflow sets it to exactly 0).

use gradflow::kernel::Network;
use gradflow::linalg::Matrix;
use gradflow::nn::Parameterization;
use serde_json::Value;

fn matrix(v: &Value) -> Matrix {
    let rows = v.as_array().unwrap();
    let data: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    Matrix::from_vec(rows.len(), data.len() / rows.len(), data).unwrap()
}

fn compare(ours: &Matrix, theirs: &Matrix, same_set: bool, label: &str) -> (f64, f64) {
    let scale = theirs.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (mut off, mut diag) = (0.0f64, 0.0f64);
    for i in 0..theirs.rows {
        for j in 0..theirs.cols {
            let (a, b) = (ours.get(i, j), theirs.get(i, j));
            let rel = (a - b).abs() / b.abs().max(1e-6 * scale);
            if same_set && i == j {
                diag = diag.max(rel);
            } else {
                off = off.max(rel);
            }
        }
    }
    assert!(off <= 1e-12, "{label}: off-diagonal relative error {off:e}");
    assert!(diag <= 1e-7, "{label}: diagonal relative error {diag:e}");
    (off, diag)
}

#[test]
fn analytic_kernels_match_neural_tangents() {
    let fixtures: Value =
        serde_json::from_str(include_str!("fixtures/neural_tangents.json")).unwrap();
    let x1 = matrix(&fixtures["x1"]);
    let x2 = matrix(&fixtures["x2"]);
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 72,
        "nine activations × depth × parameterization × bias"
    );
    let (mut worst_off, mut worst_diag) = (0.0f64, 0.0f64);
    for case in cases {
        let net = Network {
            depth: case["depth"].as_u64().unwrap() as usize,
            activation: case["activation"].as_str().unwrap().parse().unwrap(),
            w_std: case["w_std"].as_f64().unwrap(),
            b_std: case["b_std"].as_f64(),
            parameterization: match case["parameterization"].as_str().unwrap() {
                "ntk" => Parameterization::Ntk,
                _ => Parameterization::Standard,
            },
            width: case["width"].as_u64().unwrap() as usize,
            quadrature_degree: 48,
        };
        let label = format!(
            "{} depth {} {} b_std {:?}",
            case["activation"], net.depth, case["parameterization"], net.b_std
        );
        let same = net.kernels(&x1, None).unwrap();
        let cross = net.kernels(&x1, Some(&x2)).unwrap();
        for (ours, key, same_set) in [
            (&same.nngp, "nngp", true),
            (&same.ntk, "ntk", true),
            (&cross.nngp, "nngp_cross", false),
            (&cross.ntk, "ntk_cross", false),
        ] {
            let (o, d) = compare(
                ours,
                &matrix(&case[key]),
                same_set,
                &format!("{label} {key}"),
            );
            worst_off = worst_off.max(o);
            worst_diag = worst_diag.max(d);
        }
    }
    eprintln!("worst relative deviation from neural-tangents: off-diagonal {worst_off:.2e}, diagonal {worst_diag:.2e}");
}
