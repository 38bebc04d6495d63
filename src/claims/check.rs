//! Checks: a measured quantity against a theorem's prediction, with a stated tolerance.

use crate::data::io::Table;
use crate::report::Figure;
use serde::Serialize;

/// How a measurement is compared with a prediction.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// |measured − predicted| ≤ tolerance.
    Within,
    /// measured ≤ predicted + tolerance.
    AtMost,
    /// measured ≥ predicted − tolerance.
    AtLeast,
}

/// One check of a claim.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What is measured.
    pub name: String,
    /// The measured value.
    pub measured: f64,
    /// The predicted value (or bound).
    pub predicted: f64,
    /// The tolerance of the comparison.
    pub tolerance: f64,
    /// The comparison.
    pub relation: Relation,
    /// The verdict (false for a NaN measurement).
    pub passed: bool,
}

impl Check {
    /// Compares `measured` with `predicted` under `relation` and `tolerance`.
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
        }
    }
}

/// What a claim produced: its checks and the data behind them.
#[derive(Clone, Debug, Default)]
pub struct ClaimOutcome {
    /// The checks.
    pub checks: Vec<Check>,
    /// Named tables, written as `NAME.csv` in the claim's folder.
    pub tables: Vec<(String, Table)>,
    /// Figures, written as `NAME.svg` in the claim's folder and inlined in `index.html`.
    pub figures: Vec<Figure>,
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
}
