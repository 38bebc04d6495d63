//! Learning-rate schedules η_t (t = 0, 1, … is the step index).

use crate::error::{check_non_negative, check_positive, Error, Result};
use serde::{Deserialize, Deserializer, Serialize};

/// A learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Schedule {
    /// η_t = value.
    Constant {
        /// η.
        value: f64,
    },
    /// η_t = initial · factor^{⌊t / every⌋}.
    Step {
        /// η₀.
        initial: f64,
        /// Multiplier applied every `every` steps.
        factor: f64,
        /// Period in steps.
        every: u64,
    },
    /// η_t = a (b + t)^{−c} (Robbins–Monro; c = 1/2 or 1 in the averaged-SGD analyses).
    InversePower {
        /// a.
        a: f64,
        /// b.
        b: f64,
        /// c.
        c: f64,
    },
    /// η_t = final + (initial − final)(1 + cos(π min(t, total)/total))/2.
    Cosine {
        /// η₀.
        initial: f64,
        /// η at and after step `total`.
        #[serde(rename = "final")]
        final_value: f64,
        /// Length of the cosine period in steps.
        total: u64,
    },
}

impl From<f64> for Schedule {
    fn from(value: f64) -> Schedule {
        Schedule::Constant { value }
    }
}

impl Schedule {
    /// Reads a schedule written as a number (a constant) or as a schedule table: the form of
    /// every learning rate in a spec (`lr = 0.1` or `lr = { kind = "cosine", .. }`).
    pub fn number_or_table<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Schedule, D::Error> {
        use serde::de::Error as _;
        match toml::Value::deserialize(d)? {
            toml::Value::Float(v) => Ok(v.into()),
            toml::Value::Integer(v) => Ok((v as f64).into()),
            toml::Value::Table(t) => {
                Schedule::deserialize(toml::Value::Table(t)).map_err(D::Error::custom)
            }
            other => Err(D::Error::custom(format!(
                "expected a number or a schedule table, got {}",
                other.type_str()
            ))),
        }
    }

    /// [`Schedule::number_or_table`] for an optional setting (with `#[serde(default)]`).
    pub fn optional_number_or_table<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<Schedule>, D::Error> {
        Schedule::number_or_table(d).map(Some)
    }

    /// η_t.
    pub fn at(&self, t: u64) -> f64 {
        match *self {
            Schedule::Constant { value } => value,
            Schedule::Step {
                initial,
                factor,
                every,
            } => initial * factor.powi((t / every.max(1)) as i32),
            Schedule::InversePower { a, b, c } => a * (b + t as f64).powf(-c),
            Schedule::Cosine {
                initial,
                final_value,
                total,
            } => {
                let frac = (t.min(total) as f64) / (total.max(1) as f64);
                final_value
                    + (initial - final_value) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
            }
        }
    }

    /// Checks that every η_t is positive and finite (`field` names the setting in errors).
    pub fn validate(&self, field: &str) -> Result<()> {
        self.check(field, false)
    }

    /// Checks that every value is finite and ≥ 0: for a quantity that may decrease to, or be,
    /// zero (a smoothing radius δ_t annealed to 0). Growth settings keep their rules.
    pub fn validate_non_negative(&self, field: &str) -> Result<()> {
        self.check(field, true)
    }

    fn check(&self, field: &str, zero_allowed: bool) -> Result<()> {
        let level = |name: &str, v: f64| {
            if zero_allowed {
                check_non_negative(name, v)
            } else {
                check_positive(name, v)
            }
        };
        match *self {
            Schedule::Constant { value } => level(field, value),
            Schedule::Step {
                initial,
                factor,
                every,
            } => {
                level(field, initial)?;
                check_positive(&format!("{field}.factor"), factor)?;
                at_least_one(&format!("{field}.every"), every)
            }
            Schedule::InversePower { a, b, c } => {
                level(field, a)?;
                check_positive(&format!("{field}.b"), b)?;
                check_non_negative(&format!("{field}.c"), c)
            }
            Schedule::Cosine {
                initial,
                final_value,
                total,
            } => {
                level(field, initial)?;
                level(&format!("{field}.final"), final_value)?;
                at_least_one(&format!("{field}.total"), total)
            }
        }
    }
}

/// A count setting (steps between decays, a horizon) must be ≥ 1.
fn at_least_one(field: &str, value: u64) -> Result<()> {
    if value == 0 {
        return Err(Error::invalid(field, "expected ≥ 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(Schedule::from(0.3).at(99), 0.3);
        let s = Schedule::Step {
            initial: 1.0,
            factor: 0.5,
            every: 10,
        };
        assert_eq!(
            (s.at(0), s.at(9), s.at(10), s.at(25)),
            (1.0, 1.0, 0.5, 0.25)
        );
        let p = Schedule::InversePower {
            a: 2.0,
            b: 1.0,
            c: 0.5,
        };
        assert!((p.at(3) - 2.0 / 2.0).abs() < 1e-15);
        let c = Schedule::Cosine {
            initial: 1.0,
            final_value: 0.0,
            total: 100,
        };
        assert!((c.at(0) - 1.0).abs() < 1e-15);
        assert!((c.at(50) - 0.5).abs() < 1e-15);
        assert!(c.at(100).abs() < 1e-15 && c.at(200).abs() < 1e-15);
        assert!(Schedule::from(-1.0).validate("lr").is_err());
        assert!(Schedule::from(0.0).validate("lr").is_err());
        assert!(Schedule::from(0.0).validate_non_negative("delta").is_ok());
        assert!(Schedule::from(-1e-9)
            .validate_non_negative("delta")
            .is_err());
        let to_zero = Schedule::Cosine {
            initial: 3.0,
            final_value: 0.0,
            total: 10,
        };
        assert!(to_zero.validate("lr").is_err() && to_zero.validate_non_negative("delta").is_ok());
    }
}
