//! Activation functions η with their derivatives η'.

use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_2_SQRT_PI, SQRT_2};

/// An activation function η: R → R, applied elementwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// η(u) = max(u, 0); η'(u) = 1[u > 0] (the derivative at the kink is taken as 0).
    Relu,
    /// η(u) = 1 / (1 + e^{−u}); η' = η(1 − η).
    Sigmoid,
    /// η(u) = tanh u; η' = 1 − tanh² u.
    Tanh,
    /// η(u) = erf u; η'(u) = (2/√π) e^{−u²}.
    Erf,
    /// η(u) = log(1 + e^u); η' = sigmoid(u).
    Softplus,
    /// η(u) = u Φ(u) with Φ the standard normal CDF (exact GELU); η' = Φ(u) + u φ(u).
    Gelu,
    /// η(u) = u²; η' = 2u.
    Quadratic,
    /// η(u) = u; η' = 1 (linear networks).
    Identity,
}

impl Activation {
    /// Every activation, for tests and listings.
    pub const ALL: [Activation; 8] = [
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Erf,
        Activation::Softplus,
        Activation::Gelu,
        Activation::Quadratic,
        Activation::Identity,
    ];

    /// η(u).
    #[inline]
    pub fn value(self, u: f64) -> f64 {
        match self {
            Activation::Relu => u.max(0.0),
            Activation::Sigmoid => sigmoid(u),
            Activation::Tanh => u.tanh(),
            Activation::Erf => libm::erf(u),
            Activation::Softplus => softplus(u),
            Activation::Gelu => u * normal_cdf(u),
            Activation::Quadratic => u * u,
            Activation::Identity => u,
        }
    }

    /// η'(u).
    #[inline]
    pub fn derivative(self, u: f64) -> f64 {
        match self {
            Activation::Relu => {
                if u > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => {
                let s = sigmoid(u);
                s * (1.0 - s)
            }
            Activation::Tanh => {
                let t = u.tanh();
                1.0 - t * t
            }
            Activation::Erf => FRAC_2_SQRT_PI * (-u * u).exp(),
            Activation::Softplus => sigmoid(u),
            Activation::Gelu => normal_cdf(u) + u * normal_pdf(u),
            Activation::Quadratic => 2.0 * u,
            Activation::Identity => 1.0,
        }
    }

    /// dst_i = η(src_i) for whole arrays (parallel over fixed chunks, so thread-count
    /// independent; ReLU gets a branch-free specialised loop).
    pub fn apply(self, src: &[f64], dst: &mut [f64]) {
        match self {
            Activation::Relu => crate::nn::model::map_into(src, dst, |u| u.max(0.0)),
            Activation::Identity => dst.copy_from_slice(src),
            act => crate::nn::model::map_into(src, dst, |u| act.value(u)),
        }
    }

    /// True when η'(u) is a function of η(u) alone ([`Activation::derivative_from_value`]):
    /// the passes then keep only the activations, not the pre-activations.
    pub fn derivative_from_value_exists(self) -> bool {
        matches!(
            self,
            Activation::Relu | Activation::Sigmoid | Activation::Tanh | Activation::Identity
        )
    }

    /// η'(u) computed from v = η(u), for the activations where that is possible:
    /// ReLU 1[v > 0], sigmoid v(1 − v), tanh 1 − v², identity 1. Others: NaN.
    #[inline]
    pub fn derivative_from_value(self, v: f64) -> f64 {
        match self {
            Activation::Relu => {
                if v > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => v * (1.0 - v),
            Activation::Tanh => 1.0 - v * v,
            Activation::Identity => 1.0,
            _ => f64::NAN,
        }
    }

    /// True when the activation has a kink (finite-difference checks avoid it).
    pub fn has_kink(self) -> bool {
        matches!(self, Activation::Relu)
    }

    /// The name used in specs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Erf => "erf",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
            Activation::Quadratic => "quadratic",
            Activation::Identity => "identity",
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Activation::ALL
            .iter()
            .copied()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Activation::ALL.iter().map(|a| a.name()).collect();
                format!(
                    "unknown activation '{s}', expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The logistic function 1 / (1 + e^{−u}), stable for large |u|.
#[inline]
pub fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^u), stable for large |u|.
#[inline]
pub fn softplus(u: f64) -> f64 {
    if u > 0.0 {
        u + (-u).exp().ln_1p()
    } else {
        u.exp().ln_1p()
    }
}

/// Standard normal CDF Φ(u) = (1 + erf(u/√2)) / 2.
#[inline]
pub fn normal_cdf(u: f64) -> f64 {
    0.5 * libm::erfc(-u / SQRT_2)
}

/// Standard normal density φ(u) = e^{−u²/2} / √(2π).
#[inline]
pub fn normal_pdf(u: f64) -> f64 {
    (-0.5 * u * u).exp() * (0.5 * FRAC_2_SQRT_PI / SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_central_differences() {
        for act in Activation::ALL {
            for &u in &[-2.3, -0.7, 0.4, 1.9] {
                let h = 1e-6;
                let fd = (act.value(u + h) - act.value(u - h)) / (2.0 * h);
                let d = act.derivative(u);
                assert!(
                    (fd - d).abs() < 1e-8 * (1.0 + d.abs()),
                    "{act:?} at {u}: {fd} vs {d}"
                );
            }
        }
    }

    #[test]
    fn derivative_from_value_agrees_with_derivative() {
        for act in Activation::ALL
            .into_iter()
            .filter(|a| a.derivative_from_value_exists())
        {
            for &u in &[-2.0, -0.3, 0.7, 3.0] {
                let d = act.derivative_from_value(act.value(u));
                assert!((d - act.derivative(u)).abs() < 1e-15, "{act:?} at {u}");
            }
        }
    }

    #[test]
    fn closed_form_values() {
        assert_eq!(Activation::Relu.value(-1.0), 0.0);
        assert!((Activation::Gelu.value(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((softplus(800.0) - 800.0).abs() < 1e-12);
        assert!((softplus(-800.0)).abs() < 1e-300);
        assert!((Activation::Erf.value(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
        assert_eq!("tanh".parse::<Activation>(), Ok(Activation::Tanh));
        assert!("tahn".parse::<Activation>().is_err());
    }
}
