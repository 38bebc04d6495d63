//! Agreement with neural-tangents 0.6.5 (`tests/fixtures/neural_tangents.json`, made by
//! `tests/fixtures/make_nt_fixtures.py` in its pinned environment, x64): ≤ 1e-12 relative off the
//! diagonal; on the diagonal ≤ 1e-7 (neural-tangents computes the ReLU angle there from
//! q₁₂/√(q₁q₂) and carries ~1e-8 round-off, where gradflow sets it to exactly 0).

use gradflow::kernel::Network;
use gradflow::nn::Parameterization;
use serde_json::Value;
mod common;

#[test]
fn analytic_kernels_match_neural_tangents() {
    let fixtures: Value =
        serde_json::from_str(include_str!("fixtures/neural_tangents.json")).unwrap();
    let x1 = common::fixture_matrix(&fixtures["x1"]);
    let x2 = common::fixture_matrix(&fixtures["x2"]);
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
        let (o, d) = common::compare_with_neural_tangents(&same, &cross, case, &label);
        (worst_off, worst_diag) = (worst_off.max(o), worst_diag.max(d));
    }
    eprintln!("worst relative deviation from neural-tangents: off-diagonal {worst_off:.2e}, diagonal {worst_diag:.2e}");
}
