//! The m-spacing entropy estimator against closed forms.

use gradflow::meanfield::spacing_entropy;
use gradflow::rng::Seed;

/// Against the closed forms H(N(μ, s²)) = ½ log(2πe s²) and H(U[a, b]) = log(b − a), on
/// 20 000 samples (the estimator's standard deviation there is ≈ 0.005).
#[test]
fn matches_the_gaussian_and_uniform_closed_forms() {
    let mut rng = Seed(7).stream("entropy test", 0);
    let s = 0.3;
    let normal: Vec<f64> = (0..20_000).map(|_| 1.0 + s * rng.normal()).collect();
    let exact = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * s * s).ln();
    let got = spacing_entropy(&normal).unwrap();
    assert!((got - exact).abs() < 0.02, "{got} vs {exact}");
    let uniform: Vec<f64> = (0..20_000).map(|_| -1.0 + 3.0 * rng.uniform()).collect();
    let got = spacing_entropy(&uniform).unwrap();
    assert!((got - 3f64.ln()).abs() < 0.02, "{got} vs {}", 3f64.ln());
}

/// Bad samples are errors, not NaN or −∞.
#[test]
fn rejects_ties_and_short_samples() {
    assert!(spacing_entropy(&[1.0]).is_err());
    assert!(spacing_entropy(&[2.0; 50]).is_err());
    assert!(spacing_entropy(&[0.0, f64::NAN, 1.0]).is_err());
}
