//! Activation functions η with their derivatives η'.

use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_2_SQRT_PI, SQRT_2};

/// An activation function η: R → R, applied elementwise.
///
/// Written in specs and on the command line as `relu`, `leaky_relu(α)`, `abs`, `ab_relu(a, b)`,
/// `sigmoid`, `tanh`, `erf`, `erf(a, b, c)`, `sigmoid_like`, `softplus`, `gelu`, `quadratic`,
/// `monomial(k)` or `identity` (neural-tangents' `stax` names).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// η(u) = max(u, 0); η'(u) = 1\[u > 0\] (the derivative at the kink is taken as 0).
    Relu,
    /// η(u) = a·min(u, 0) + b·max(u, 0) (`stax.ABRelu`): leaky ReLU is (α, 1), |u| is (−1, 1);
    /// η'(u) = b for u > 0, a otherwise.
    AbRelu {
        /// Slope for u < 0.
        a: f64,
        /// Slope for u > 0.
        b: f64,
    },
    /// η(u) = 1 / (1 + e^{−u}); η' = η(1 − η).
    Sigmoid,
    /// η(u) = tanh u; η' = 1 − tanh² u.
    Tanh,
    /// η(u) = a·erf(b·u) + c (`stax.Erf`); η'(u) = a·b·(2/√π) e^{−b²u²}. Plain `erf` is
    /// (1, 1, 0); `sigmoid_like` is (1/2, 1/2.4020563531719796, 1/2), neural-tangents' erf
    /// approximation of the logistic function.
    Erf {
        /// Output scale a.
        a: f64,
        /// Input scale b.
        b: f64,
        /// Offset c.
        c: f64,
    },
    /// η(u) = log(1 + e^u); η' = sigmoid(u).
    Softplus,
    /// η(u) = u Φ(u) with Φ the standard normal CDF (exact GELU); η' = Φ(u) + u φ(u).
    Gelu,
    /// η(u) = u^k (`stax.Monomial`); η' = k u^{k−1}. `quadratic` is k = 2.
    Monomial(u32),
    /// η(u) = u; η' = 1 (linear networks).
    Identity,
}

/// The input scale of `sigmoid_like`: erf(u / 2.4020563531719796) approximates tanh(u / 2).
const SIGMOID_LIKE_SCALE: f64 = 1.0 / 2.402_056_353_171_979_6;

impl Activation {
    /// erf u.
    pub const ERF: Activation = Activation::Erf {
        a: 1.0,
        b: 1.0,
        c: 0.0,
    };
    /// (1 + erf(u / 2.4020563531719796)) / 2, an erf approximation of the logistic function.
    pub const SIGMOID_LIKE: Activation = Activation::Erf {
        a: 0.5,
        b: SIGMOID_LIKE_SCALE,
        c: 0.5,
    };
    /// u².
    pub const QUADRATIC: Activation = Activation::Monomial(2);
    /// |u|.
    pub const ABS: Activation = Activation::AbRelu { a: -1.0, b: 1.0 };

    /// Leaky ReLU max(u, 0) + α min(u, 0).
    pub const fn leaky_relu(alpha: f64) -> Activation {
        Activation::AbRelu { a: alpha, b: 1.0 }
    }

    /// One of each kind, with parameters away from the defaults, for tests and listings.
    pub const ALL: [Activation; 14] = [
        Activation::Relu,
        Activation::leaky_relu(0.1),
        Activation::ABS,
        Activation::AbRelu { a: -0.5, b: 2.0 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::ERF,
        Activation::Erf {
            a: 0.7,
            b: 1.3,
            c: 0.2,
        },
        Activation::SIGMOID_LIKE,
        Activation::Softplus,
        Activation::Gelu,
        Activation::QUADRATIC,
        Activation::Monomial(3),
        Activation::Identity,
    ];

    /// η(u).
    #[inline]
    pub fn value(self, u: f64) -> f64 {
        match self {
            Activation::Relu => u.max(0.0),
            Activation::AbRelu { a, b } => a * u.min(0.0) + b * u.max(0.0),
            Activation::Sigmoid => sigmoid(u),
            Activation::Tanh => u.tanh(),
            Activation::Erf { a, b, c } => a * libm::erf(b * u) + c,
            Activation::Softplus => softplus(u),
            Activation::Gelu => u * normal_cdf(u),
            Activation::Monomial(k) => u.powi(k as i32),
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
            Activation::AbRelu { a, b } => {
                if u > 0.0 {
                    b
                } else {
                    a
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
            Activation::Erf { a, b, .. } => a * b * FRAC_2_SQRT_PI * (-b * b * u * u).exp(),
            Activation::Softplus => sigmoid(u),
            Activation::Gelu => normal_cdf(u) + u * normal_pdf(u),
            Activation::Monomial(0) => 0.0,
            Activation::Monomial(k) => k as f64 * u.powi(k as i32 - 1),
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

    /// v_i ← η(v_i) in place (parallel over fixed chunks; ReLU vectorised).
    pub fn apply_in_place(self, v: &mut [f64]) {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 14;
        if self != Activation::Identity {
            v.par_chunks_mut(CHUNK)
                .for_each(|c| self.apply_in_place_sequential(c));
        }
    }

    /// v_i ← η(v_i) in place on the calling thread (ReLU vectorised).
    pub fn apply_in_place_sequential(self, v: &mut [f64]) {
        match self {
            Activation::Identity => {}
            Activation::Relu => v.iter_mut().for_each(|u| *u = u.max(0.0)),
            act => v.iter_mut().for_each(|u| *u = act.value(*u)),
        }
    }

    /// (η'(u) for u ≤ 0, η'(u) for u > 0) for the piecewise-linear activations whose derivative
    /// takes one value on each side of 0 (ReLU and the a/b-ReLU family), `None` otherwise.
    pub fn sign_slopes(self) -> Option<(f64, f64)> {
        match self {
            Activation::Relu => Some((0.0, 1.0)),
            Activation::AbRelu { a, b } => Some((a, b)),
            _ => None,
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
    /// ReLU 1\[v > 0\], sigmoid v(1 − v), tanh 1 − v², identity 1. Others: NaN.
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
        match self {
            Activation::Relu => true,
            Activation::AbRelu { a, b } => a != b,
            _ => false,
        }
    }

    /// Checks the parameters: finite slopes and scales.
    pub fn validate(self) -> Result<(), String> {
        let finite = match self {
            Activation::AbRelu { a, b } => a.is_finite() && b.is_finite(),
            Activation::Erf { a, b, c } => a.is_finite() && b.is_finite() && c.is_finite(),
            _ => true,
        };
        if finite {
            Ok(())
        } else {
            Err("its parameters must be finite numbers".to_string())
        }
    }

    /// The name used in specs and on the command line (the inverse of `parse`).
    pub fn name(self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Activation::Relu => write!(f, "relu"),
            act if act == Activation::ABS => write!(f, "abs"),
            Activation::AbRelu { a, b: 1.0 } => write!(f, "leaky_relu({a:?})"),
            Activation::AbRelu { a, b } => write!(f, "ab_relu({a:?}, {b:?})"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            act if act == Activation::ERF => write!(f, "erf"),
            act if act == Activation::SIGMOID_LIKE => write!(f, "sigmoid_like"),
            Activation::Erf { a, b, c } => write!(f, "erf({a:?}, {b:?}, {c:?})"),
            Activation::Softplus => write!(f, "softplus"),
            Activation::Gelu => write!(f, "gelu"),
            Activation::Monomial(2) => write!(f, "quadratic"),
            Activation::Monomial(k) => write!(f, "monomial({k})"),
            Activation::Identity => write!(f, "identity"),
        }
    }
}

const NAMES: &str = "relu, leaky_relu(α), abs, ab_relu(a, b), sigmoid, tanh, erf, erf(a, b, c), \
                     sigmoid_like, softplus, gelu, quadratic, monomial(k), identity";

impl std::str::FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let unknown = || format!("unknown activation '{s}', expected one of {NAMES}");
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let (head, args) = match compact.split_once('(') {
            Some((head, rest)) => {
                let inner = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("activation '{s}': missing ')'"))?;
                let args = inner
                    .split(',')
                    .map(|a| {
                        a.parse::<f64>()
                            .map_err(|_| format!("activation '{s}': '{a}' is not a number"))
                    })
                    .collect::<Result<Vec<f64>, String>>()?;
                (head.to_string(), Some(args))
            }
            None => (compact, None),
        };
        let arity = |n: usize, args: &[f64]| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "activation '{s}': expected {n} parameter(s), got {}",
                    args.len()
                ))
            }
        };
        let act = match (head.as_str(), args) {
            ("relu", None) => Activation::Relu,
            ("abs", None) => Activation::ABS,
            ("leaky_relu", Some(p)) => {
                arity(1, &p)?;
                Activation::leaky_relu(p[0])
            }
            ("ab_relu", Some(p)) => {
                arity(2, &p)?;
                Activation::AbRelu { a: p[0], b: p[1] }
            }
            ("sigmoid", None) => Activation::Sigmoid,
            ("tanh", None) => Activation::Tanh,
            ("erf", None) => Activation::ERF,
            ("erf", Some(p)) => {
                arity(3, &p)?;
                Activation::Erf {
                    a: p[0],
                    b: p[1],
                    c: p[2],
                }
            }
            ("sigmoid_like", None) => Activation::SIGMOID_LIKE,
            ("softplus", None) => Activation::Softplus,
            ("gelu", None) => Activation::Gelu,
            ("quadratic", None) => Activation::QUADRATIC,
            ("monomial", Some(p)) => {
                arity(1, &p)?;
                let k = p[0];
                if !((0.0..=64.0).contains(&k) && k.fract() == 0.0) {
                    return Err(format!(
                        "activation '{s}': the degree must be an integer in 0..=64"
                    ));
                }
                match k as u32 {
                    1 => Activation::Identity,
                    k => Activation::Monomial(k),
                }
            }
            ("identity", None) => Activation::Identity,
            _ => return Err(unknown()),
        };
        act.validate()
            .map_err(|e| format!("activation '{s}': {e}"))?;
        // One function, one variant: ab_relu(0, 1) and leaky_relu(0) are ReLU, which has the
        // models' fast paths (as monomial(1) is the identity).
        Ok(match act {
            Activation::AbRelu { a, b } if a == 0.0 && b == 1.0 => Activation::Relu,
            act => act,
        })
    }
}

impl TryFrom<String> for Activation {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Activation> for String {
    fn from(a: Activation) -> String {
        a.to_string()
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
        assert!((Activation::ERF.value(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
        assert_eq!("tanh".parse::<Activation>(), Ok(Activation::Tanh));
        assert!("tahn".parse::<Activation>().is_err());
        assert_eq!(Activation::ABS.value(-2.5), 2.5);
        assert_eq!(Activation::leaky_relu(0.1).value(-2.0), -0.2);
        let e = Activation::Erf {
            a: 2.0,
            b: 0.5,
            c: 1.0,
        };
        assert!((e.value(2.0) - (2.0 * 0.842_700_792_949_714_9 + 1.0)).abs() < 1e-15);
        assert_eq!(Activation::Monomial(3).value(-2.0), -8.0);
        // tanh(u/2) ≈ 2·sigmoid_like(u) − 1 to within 0.02 (neural-tangents' approximation).
        for &u in &[-3.0, -1.0, 0.5, 2.0] {
            let s = Activation::SIGMOID_LIKE.value(u);
            assert!((2.0 * s - 1.0 - (u / 2.0).tanh()).abs() < 0.02, "{u}");
        }
    }

    #[test]
    fn names_round_trip_and_bad_names_are_named() {
        for act in Activation::ALL {
            assert_eq!(act.name().parse::<Activation>(), Ok(act), "{act}");
        }
        assert_eq!("leaky_relu(0.01)".parse(), Ok(Activation::leaky_relu(0.01)));
        assert_eq!("erf(1, 1, 0)".parse(), Ok(Activation::ERF));
        assert_eq!("monomial(1)".parse(), Ok(Activation::Identity));
        assert_eq!("monomial(2)".parse(), Ok(Activation::QUADRATIC));
        assert_eq!("leaky_relu(0)".parse(), Ok(Activation::Relu));
        assert_eq!("ab_relu(0, 1)".parse(), Ok(Activation::Relu));
        for bad in [
            "erf(1, 2)",
            "monomial(2.5)",
            "monomial(-1)",
            "leaky_relu(x)",
            "leaky_relu(0.1",
            "ab_relu(inf, 1)",
            "relu(1)",
        ] {
            let err = bad.parse::<Activation>().unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
        let toml: toml::Value = toml::from_str("a = 'erf(0.5, 2, 0)'").unwrap();
        let act: Activation = toml["a"].clone().try_into().unwrap();
        assert_eq!(
            act,
            Activation::Erf {
                a: 0.5,
                b: 2.0,
                c: 0.0
            }
        );
    }
}
