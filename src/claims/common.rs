//! Pieces the claims share: the predicted slope or rate drawn through a figure's data with a
//! legend that states it ("predicted slope −½"), the label of a fitted slope, and plain
//! gradient descent as an optimizer.

use crate::nn::Landscape;
use crate::optim::{Optimizer, Sgd};
use crate::report::Figure;
use crate::stats::LinearFit;

/// A slope or rate as a legend writes it: Unicode minus, halves, thirds and quarters as
/// vulgar fractions (−½, 1¼), integers without decimals, anything else with up to three
/// significant decimals.
pub(crate) fn slope_text(s: f64) -> String {
    let sign = if s < 0.0 { "−" } else { "" };
    let a = s.abs();
    let whole = a.trunc();
    let fraction = [
        (0.25, "¼"),
        (1.0 / 3.0, "⅓"),
        (0.5, "½"),
        (2.0 / 3.0, "⅔"),
        (0.75, "¾"),
    ]
    .iter()
    .find(|(f, _)| (a - whole - f).abs() < 1e-9)
    .map(|(_, t)| *t);
    match fraction {
        _ if a == whole => format!("{sign}{whole}"),
        Some(t) if whole == 0.0 => format!("{sign}{t}"),
        Some(t) => format!("{sign}{whole}{t}"),
        None => {
            let text = format!("{a:.3}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            format!("{sign}{text}")
        }
    }
}

/// The prediction of a slope or rate drawn through a figure's data, with a legend that states
/// it ("predicted slope −½ (note)"), chained like [`Figure`]'s own builders.
pub(crate) trait Predicted {
    /// Adds the line of the predicted slope `slope` (on log–log axes: y ∝ x^slope) through the
    /// series labelled `series` (only its intercept is fitted, so the line shows how far the
    /// data follow the prediction); `note` (when not empty) follows the slope in the legend.
    fn predicted_slope(self, slope: f64, series: &str, note: &str) -> Self;

    /// Adds the line of the predicted exponential rate `rate` (y ∝ e^(−rate·x)) through the
    /// point `through` (data units), on a log y axis over a linear x axis: there the plotted
    /// slope is d log₁₀ y / dx = −rate / ln 10. A rate holds on a window of the data only
    /// (after a first phase, above round-off), so the line passes through a point of that
    /// window (e.g. the fit's value at its centre), not through the whole series.
    fn predicted_rate_at(self, rate: f64, through: (f64, f64), note: &str) -> Self;
}

impl Predicted for Figure {
    fn predicted_slope(self, slope: f64, series: &str, note: &str) -> Figure {
        let label = with_note(format!("predicted slope {}", slope_text(slope)), note);
        self.reference_slope_on(&label, slope, series)
    }

    fn predicted_rate_at(self, rate: f64, through: (f64, f64), note: &str) -> Figure {
        let label = with_note(format!("predicted rate {}", slope_text(rate)), note);
        self.reference_slope(&label, -rate / std::f64::consts::LN_10, through)
    }
}

/// `label (note)`, or `label` when the note is empty.
fn with_note(label: String, note: &str) -> String {
    if note.is_empty() {
        label
    } else {
        format!("{label} ({note})")
    }
}

/// The legend of a least-squares slope: "fitted slope −0.473 ± 0.025 (k points)" (Unicode
/// minus).
pub(crate) fn fitted_slope_label(fit: &LinearFit) -> String {
    let slope = format!("{:.3}", fit.slope).replace('-', "−");
    format!(
        "fitted slope {slope} ± {:.3} ({} points)",
        fit.slope_std_error, fit.points
    )
}

/// The power law e^intercept · x^slope of a log-log fit ([`crate::stats::fit_log_log`], natural
/// logarithms) at the abscissae `xs` (sorted and deduplicated), for drawing the fit.
pub(crate) fn fitted_power_law(xs: &[f64], fit: &LinearFit) -> Vec<(f64, f64)> {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    xs.into_iter().map(|x| (x, fit.at(x.ln()).exp())).collect()
}

/// Plain (full-batch or stochastic) gradient descent θ ← θ − η∇L with step `lr`.
pub(crate) fn gradient_descent(lr: f64) -> Optimizer {
    Optimizer::chain(vec![Box::new(Sgd { lr: lr.into() })])
}

/// The library's tilted double well U(x) = (x² − 1)² + t·x ([`Landscape::DoubleWell`], height
/// 1) and its derivative U′(x) = 4x(x² − 1) + t, as functions of a scalar.
pub(crate) fn double_well(tilt: f64) -> (impl Fn(f64) -> f64, impl Fn(f64) -> f64) {
    let well = Landscape::DoubleWell { height: 1.0, tilt };
    (
        move |x: f64| well.value(&[x]),
        move |x: f64| {
            let mut g = [0.0];
            well.gradient(&[x], &mut g);
            g[0]
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_read_as_a_legend_writes_them() {
        assert_eq!(slope_text(-0.5), "−½");
        assert_eq!(slope_text(0.0), "0");
        assert_eq!(slope_text(-0.0), "0");
        assert_eq!(slope_text(1.0), "1");
        assert_eq!(slope_text(-2.0), "−2");
        assert_eq!(slope_text(1.25), "1¼");
        assert_eq!(slope_text(-1.0 / 3.0), "−⅓");
        assert_eq!(slope_text(0.1234), "0.123");
        assert_eq!(slope_text(-0.7), "−0.7");
    }

    #[test]
    fn the_double_well_is_its_formula() {
        let (u, du) = double_well(0.3);
        for x in [-1.3, -0.2, 0.0, 0.7, 1.1] {
            let q: f64 = x * x - 1.0;
            assert_eq!(u(x), q * q + 0.3 * x);
            assert_eq!(du(x), 4.0 * x * q + 0.3);
            // U′ against a central difference of U.
            let h = 1e-5;
            assert!((du(x) - (u(x + h) - u(x - h)) / (2.0 * h)).abs() < 1e-8);
        }
    }

    #[test]
    fn a_predicted_rate_is_drawn_as_its_base_10_slope() {
        let f = Figure::new("f", "t").predicted_rate_at(2.0, (1.0, 3.0), "");
        let r = &f.references[0];
        assert_eq!(r.label, "predicted rate 2");
        // e^(−2t) = 10^(−2t / ln 10).
        assert!((r.slope + 2.0 / std::f64::consts::LN_10).abs() < 1e-15);
        let g = Figure::new("g", "t").predicted_slope(-0.5, "data", "K_∞");
        assert_eq!(g.references[0].label, "predicted slope −½ (K_∞)");
        assert_eq!(g.references[0].slope, -0.5);
    }
}
