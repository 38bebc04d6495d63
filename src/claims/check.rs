//! Checks: a measured quantity against a theorem's prediction, with a stated tolerance, the
//! basis of the prediction, and the negative control that must make it fail (the check
//! contract of SPEC §6).

use crate::data::io::Table;
use crate::report::Figure;
use crate::stats::LinearFit;
use serde::Serialize;

/// How a measurement is compared with a prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// |measured − predicted| ≤ tolerance.
    Within,
    /// measured ≤ predicted + tolerance.
    AtMost,
    /// measured ≥ predicted − tolerance.
    AtLeast,
}

impl Relation {
    /// The symbol shown in tables: ≈, ≤ or ≥.
    pub fn symbol(self) -> &'static str {
        match self {
            Relation::Within => "≈",
            Relation::AtMost => "≤",
            Relation::AtLeast => "≥",
        }
    }
}

/// Where a check's prediction comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// A rate, exponent or constant the theorem states.
    Theorem,
    /// An independent computation of the same quantity (a kernel's eigenvalues, an exact
    /// stationary law, a convex optimum …).
    ClosedForm,
    /// A threshold the theorem gives no constant for: allowed only where no sharper statement
    /// exists, and labelled as such.
    Empirical,
}

impl Basis {
    /// The label shown in tables.
    pub fn label(self) -> &'static str {
        match self {
            Basis::Theorem => "theorem",
            Basis::ClosedForm => "closed form",
            Basis::Empirical => "empirical",
        }
    }
}

/// A negative control of a claim: a setting that breaks one hypothesis of the theorem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Control {
    /// Stable name (`summary.json`, `Check::control`).
    #[serde(deserialize_with = "crate::distributed::wire::static_str")]
    pub name: crate::distributed::wire::Name,
    /// Which hypothesis it breaks, and how.
    #[serde(deserialize_with = "crate::distributed::wire::static_str")]
    pub breaks: crate::distributed::wire::Name,
}

/// What the check's own control did to it (filled in by `reproduce`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ControlResult {
    /// The measurement under the control (NaN when the control run did not produce the check).
    pub measured: f64,
    /// Its distance from the prediction in units of the tolerance (see [`Check::distance`]).
    pub distance: f64,
    /// Whether the comparison passed under the control (it must not).
    pub passed: bool,
}

/// The verdict of a check under the contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum Verdict {
    /// The comparison passed, and (where it ran) the control failed it.
    Pass,
    /// The comparison failed.
    Fail,
    /// The comparison passed, but so did its control: the check did not show it can fail.
    ControlPassed,
    /// The check breaks the contract (no basis, no control, no positive tolerance, a fitted
    /// value with a standard error above the tolerance).
    Contract(String),
}

impl Verdict {
    /// The word shown in tables.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::ControlPassed => "WEAK",
            Verdict::Contract(_) => "CONTRACT",
        }
    }
}

/// One check of a claim.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Check {
    /// What is measured.
    pub name: String,
    /// The measured value.
    pub measured: f64,
    /// The predicted value (or bound).
    pub predicted: f64,
    /// The tolerance of the comparison (> 0; justified by the seed-to-seed spread).
    pub tolerance: f64,
    /// The comparison.
    pub relation: Relation,
    /// The comparison's outcome (false for a NaN measurement).
    pub passed: bool,
    /// Where the prediction comes from.
    pub basis: Option<Basis>,
    /// The name of the claim's control under which this check must fail.
    #[serde(
        default,
        deserialize_with = "crate::distributed::wire::optional_static_str"
    )]
    pub control: Option<crate::distributed::wire::Name>,
    /// The standard error of a fitted measurement (a slope, a rate).
    pub std_error: Option<f64>,
    /// Points of that fit.
    pub fit_points: Option<usize>,
    /// What the control did (after `reproduce` ran it).
    pub control_result: Option<ControlResult>,
}

impl Check {
    /// Compares `measured` with `predicted` under `relation` and `tolerance`; the basis and the
    /// control are added with [`Check::basis`] and [`Check::control`].
    pub fn new(
        name: impl Into<String>,
        measured: f64,
        relation: Relation,
        predicted: f64,
        tolerance: f64,
    ) -> Check {
        let passed = match relation {
            Relation::Within => (measured - predicted).abs() <= tolerance,
            Relation::AtMost => measured <= predicted + tolerance,
            Relation::AtLeast => measured >= predicted - tolerance,
        };
        Check {
            name: name.into(),
            measured,
            predicted,
            tolerance,
            relation,
            passed,
            basis: None,
            control: None,
            std_error: None,
            fit_points: None,
            control_result: None,
        }
    }

    /// A theorem that every one of `runs` runs succeeds (deterministically: no spread to
    /// measure): the fraction of successes `fraction` ≥ 1 with a tolerance of half a run, 0.5/runs,
    /// so that a single failing run fails the check.
    pub fn every_run(name: impl Into<String>, fraction: f64, runs: usize) -> Check {
        Check::new(name, fraction, Relation::AtLeast, 1.0, 0.5 / runs as f64)
    }

    /// Sets where the prediction comes from.
    pub fn basis(mut self, basis: Basis) -> Check {
        self.basis = Some(basis);
        self
    }

    /// Names the control (of this claim's [`super::Claim::controls`]) that must fail the check.
    pub fn control(mut self, control: &'static str) -> Check {
        self.control = Some(control);
        self
    }

    /// Records that the measurement is a fitted slope or rate with this fit's standard error.
    pub fn fit(mut self, fit: &LinearFit) -> Check {
        self.std_error = Some(fit.slope_std_error);
        self.fit_points = Some(fit.points);
        self
    }

    /// Records a standard error of the measurement obtained otherwise (Monte Carlo, a
    /// transformed fit).
    pub fn std_error(mut self, std_error: f64) -> Check {
        self.std_error = Some(std_error);
        self
    }

    /// The signed distance of `measured` from the prediction in units of the tolerance, ≤ 1
    /// exactly when the comparison passes: |m − p|/tol (within), (m − p)/tol (at most),
    /// (p − m)/tol (at least). NaN for a NaN measurement.
    pub fn distance_of(&self, measured: f64) -> f64 {
        let d = match self.relation {
            Relation::Within => (measured - self.predicted).abs(),
            Relation::AtMost => measured - self.predicted,
            Relation::AtLeast => self.predicted - measured,
        };
        d / self.tolerance
    }

    /// [`Check::distance_of`] the measurement.
    pub fn distance(&self) -> f64 {
        self.distance_of(self.measured)
    }

    /// The contract's rules this check breaks (empty when it keeps them all): a basis, a
    /// control, a finite tolerance > 0, at least 5 points and a standard error no larger than
    /// the tolerance for a fitted measurement.
    pub fn contract_violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.basis.is_none() {
            v.push("no basis".to_string());
        }
        if self.control.is_none() {
            v.push("no control".to_string());
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            v.push(format!("tolerance {} is not > 0", self.tolerance));
        }
        if let Some(se) = self.std_error {
            if se.is_nan() || se > self.tolerance {
                v.push(format!(
                    "standard error {se:.3e} above the tolerance {:.3e}",
                    self.tolerance
                ));
            }
        }
        if let Some(points) = self.fit_points {
            if points < 5 {
                v.push(format!("a fit through {points} < 5 points"));
            }
        }
        v
    }

    /// The verdict: the comparison, the contract, and (once run) the control.
    pub fn verdict(&self) -> Verdict {
        let broken = self.contract_violations();
        if !broken.is_empty() {
            return Verdict::Contract(broken.join("; "));
        }
        if !self.passed {
            return Verdict::Fail;
        }
        match self.control_result {
            Some(c) if c.passed => Verdict::ControlPassed,
            _ => Verdict::Pass,
        }
    }
}

/// What a claim produced: its checks and the data behind them.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct ClaimOutcome {
    /// The checks.
    pub checks: Vec<Check>,
    /// Named tables, written as `NAME.csv` in the claim's folder.
    pub tables: Vec<(String, Table)>,
    /// Figures, written as `NAME.svg` in the claim's folder and inlined in `index.html`.
    pub figures: Vec<Figure>,
}

impl ClaimOutcome {
    /// Fills each check's [`ControlResult`] from the runs of the claim's controls: the check of
    /// the same name in the run of the control it names (NaN and "passed" when that run failed
    /// or lacks the check, so that a control that cannot produce the check never counts).
    pub fn attach_controls(&mut self, runs: &[(&'static str, Result<ClaimOutcome, String>)]) {
        for check in &mut self.checks {
            let Some(control) = check.control else {
                continue;
            };
            let found = runs
                .iter()
                .find(|(name, _)| *name == control)
                .and_then(|(_, run)| run.as_ref().ok())
                .and_then(|o| o.checks.iter().find(|c| c.name == check.name));
            check.control_result = Some(match found {
                Some(c) => ControlResult {
                    measured: c.measured,
                    distance: check.distance_of(c.measured),
                    passed: c.passed,
                },
                None => ControlResult {
                    measured: f64::NAN,
                    distance: f64::NAN,
                    passed: true,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_can_fail() {
        assert!(Check::new("x", 1.0, Relation::Within, 1.05, 0.1).passed);
        assert!(!Check::new("x", 1.0, Relation::Within, 1.2, 0.1).passed);
        assert!(Check::new("x", 0.5, Relation::AtMost, 0.4, 0.1).passed);
        assert!(!Check::new("x", 0.6, Relation::AtMost, 0.4, 0.1).passed);
        assert!(!Check::new("x", 0.2, Relation::AtLeast, 0.4, 0.1).passed);
        assert!(!Check::new("x", f64::NAN, Relation::AtLeast, 0.4, 0.1).passed);
    }

    /// The distance is ≤ 1 exactly when the comparison passes, for every relation.
    #[test]
    fn distance_agrees_with_the_verdict() {
        for relation in [Relation::Within, Relation::AtMost, Relation::AtLeast] {
            for m in [-1.0, 0.3, 0.45, 0.5, 0.55, 0.7, 2.0] {
                let c = Check::new("x", m, relation, 0.5, 0.2);
                assert_eq!(c.passed, c.distance() <= 1.0, "{relation:?} {m}");
            }
        }
    }

    #[test]
    fn the_contract_is_enforced() {
        let c = Check::new("x", 1.0, Relation::Within, 1.0, 0.1);
        assert!(matches!(c.verdict(), Verdict::Contract(_)));
        let c = c.basis(Basis::Theorem).control("c");
        assert_eq!(c.verdict(), Verdict::Pass);
        let fit = crate::stats::fit_linear(&[1.0, 2.0, 3.0], &[1.0, 2.1, 2.9]).unwrap();
        let few = c.clone().fit(&fit);
        assert!(matches!(few.verdict(), Verdict::Contract(w) if w.contains("5 points")));
        let zero = Check::new("x", 1.0, Relation::AtLeast, 1.0, 0.0)
            .basis(Basis::Empirical)
            .control("c");
        assert!(matches!(zero.verdict(), Verdict::Contract(_)));
        let wide = c.clone().std_error(0.2);
        assert!(matches!(wide.verdict(), Verdict::Contract(_)));
    }

    #[test]
    fn a_control_that_passes_makes_the_check_weak() {
        let good = Check::new("x", 1.0, Relation::Within, 1.0, 0.1)
            .basis(Basis::Theorem)
            .control("c");
        let mut outcome = ClaimOutcome {
            checks: vec![good.clone()],
            ..Default::default()
        };
        let control_run = |m: f64| ClaimOutcome {
            checks: vec![Check::new("x", m, Relation::Within, 1.0, 0.1)],
            ..Default::default()
        };
        outcome.attach_controls(&[("c", Ok(control_run(1.5)))]);
        let r = outcome.checks[0].control_result.unwrap();
        assert!(!r.passed && (r.distance - 5.0).abs() < 1e-12);
        assert_eq!(outcome.checks[0].verdict(), Verdict::Pass);
        outcome.attach_controls(&[("c", Ok(control_run(1.05)))]);
        assert_eq!(outcome.checks[0].verdict(), Verdict::ControlPassed);
        outcome.attach_controls(&[("other", Ok(control_run(1.5)))]);
        assert_eq!(outcome.checks[0].verdict(), Verdict::ControlPassed);
        outcome.attach_controls(&[("c", Err("boom".into()))]);
        assert_eq!(outcome.checks[0].verdict(), Verdict::ControlPassed);
    }
}
