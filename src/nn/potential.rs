//! Potentials U: ℝ^d → ℝ for studying Langevin dynamics directly, as a model of the training
//! engine: the parameters are the positions of C independent chains θ_1, …, θ_C ∈ ℝ^d and the
//! output is Σ_c U(θ_c) whatever the input, so that with the linear loss (ℓ = y f, y = 1) the
//! objective is Σ_c U(θ_c), its gradient is ∇U(θ_c) chain by chain, and gradient Langevin
//! dynamics θ ← θ − η∇L + √(2η/β)ξ runs the C chains independently in one loop.

use crate::error::{check_positive, Error, Result};
use crate::linalg::Matrix;
use crate::nn::{Cache, Model, ParamBlock};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// A landscape U and its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Landscape {
    /// U(x) = (k/2)‖x‖² (any dimension).
    Quadratic {
        /// k > 0.
        k: f64,
    },
    /// U(x) = h (x² − 1)² + t x in 1-D: minima near ±1, barrier height h at 0 (t = 0).
    DoubleWell {
        /// h > 0.
        height: f64,
        /// The tilt t (0: symmetric).
        #[serde(default)]
        tilt: f64,
    },
    /// U(x) = x²/(2 s²) + h (1 − cos 2πx) in 1-D: local minima near the integers, the global
    /// one at 0.
    MultiWell {
        /// h > 0, the depth of the ripples.
        depth: f64,
        /// s > 0, the width of the confining parabola.
        scale: f64,
    },
    /// Rastrigin: U(x) = Σ_i [x_i² + A (1 − cos 2π x_i)] (any dimension); global minimum 0 at 0.
    Rastrigin {
        /// A > 0.
        amplitude: f64,
    },
    /// A sharp and a flat well in 1-D: U(x) = −exp(−x²/(2a²)) − d·exp(−(x − c)²/(2b²)), the
    /// sharp one (curvature ≈ 1/a²) at 0, the flat one (curvature ≈ d/b²) at c; with d < 1 the
    /// sharp one is the global minimum.
    SharpFlat {
        /// a > 0, the width of the sharp well.
        sharp_width: f64,
        /// b > 0, the width of the flat well.
        flat_width: f64,
        /// d > 0, the depth of the flat well.
        flat_depth: f64,
        /// c, its position.
        separation: f64,
    },
    /// The Müller–Brown surface in 2-D, U = s Σ_{k=1}^4 A_k exp(a_k (x − x_k)² + b_k (x − x_k)(y −
    /// y_k) + c_k (y − y_k)²) with the standard constants (Müller & Brown 1979), scaled by s.
    MullerBrown {
        /// s > 0 (e.g. 0.1 for barriers of order 10).
        scale: f64,
    },
}

const MB_A: [f64; 4] = [-200.0, -100.0, -170.0, 15.0];
const MB_LA: [f64; 4] = [-1.0, -1.0, -6.5, 0.7];
const MB_LB: [f64; 4] = [0.0, 0.0, 11.0, 0.6];
const MB_LC: [f64; 4] = [-10.0, -10.0, -6.5, 0.7];
const MB_X: [f64; 4] = [1.0, 0.0, -0.5, -1.0];
const MB_Y: [f64; 4] = [0.0, 0.5, 1.5, 1.0];

impl Landscape {
    /// The dimension the landscape requires (`None`: any).
    pub fn required_dim(&self) -> Option<usize> {
        match self {
            Landscape::DoubleWell { .. }
            | Landscape::MultiWell { .. }
            | Landscape::SharpFlat { .. } => Some(1),
            Landscape::MullerBrown { .. } => Some(2),
            Landscape::Quadratic { .. } | Landscape::Rastrigin { .. } => None,
        }
    }

    /// Checks the constants.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Landscape::Quadratic { k } => check_positive("potential.k", k),
            Landscape::DoubleWell { height, tilt } => {
                check_positive("potential.height", height)?;
                if !tilt.is_finite() {
                    return Err(Error::invalid("potential.tilt", "expected a finite number"));
                }
                Ok(())
            }
            Landscape::MultiWell { depth, scale } => {
                check_positive("potential.depth", depth)?;
                check_positive("potential.scale", scale)
            }
            Landscape::Rastrigin { amplitude } => check_positive("potential.amplitude", amplitude),
            Landscape::SharpFlat {
                sharp_width,
                flat_width,
                flat_depth,
                separation,
            } => {
                check_positive("potential.sharp_width", sharp_width)?;
                check_positive("potential.flat_width", flat_width)?;
                check_positive("potential.flat_depth", flat_depth)?;
                if !separation.is_finite() {
                    return Err(Error::invalid(
                        "potential.separation",
                        "expected a finite number",
                    ));
                }
                Ok(())
            }
            Landscape::MullerBrown { scale } => check_positive("potential.scale", scale),
        }
    }

    /// U(x).
    pub fn value(&self, x: &[f64]) -> f64 {
        use std::f64::consts::TAU;
        match *self {
            Landscape::Quadratic { k } => 0.5 * k * x.iter().map(|v| v * v).sum::<f64>(),
            Landscape::DoubleWell { height, tilt } => {
                let q = x[0] * x[0] - 1.0;
                height * q * q + tilt * x[0]
            }
            Landscape::MultiWell { depth, scale } => {
                x[0] * x[0] / (2.0 * scale * scale) + depth * (1.0 - (TAU * x[0]).cos())
            }
            Landscape::Rastrigin { amplitude } => x
                .iter()
                .map(|v| v * v + amplitude * (1.0 - (TAU * v).cos()))
                .sum(),
            Landscape::SharpFlat { .. } => {
                let [_, _, d, _, sharp, flat] = self.sharp_flat_terms(x[0]);
                -sharp - d * flat
            }
            Landscape::MullerBrown { scale } => {
                (0..4)
                    .map(|k| {
                        let (dx, dy) = (x[0] - MB_X[k], x[1] - MB_Y[k]);
                        MB_A[k]
                            * (MB_LA[k] * dx * dx + MB_LB[k] * dx * dy + MB_LC[k] * dy * dy).exp()
                    })
                    .sum::<f64>()
                    * scale
            }
        }
    }

    /// For [`Landscape::SharpFlat`] at x: [a, b, d, u = x − c, e^{−x²/(2a²)}, e^{−u²/(2b²)}]
    /// (zeros for the other landscapes).
    fn sharp_flat_terms(&self, x: f64) -> [f64; 6] {
        let Landscape::SharpFlat {
            sharp_width: a,
            flat_width: b,
            flat_depth: d,
            separation: c,
        } = *self
        else {
            return [0.0; 6];
        };
        let u = x - c;
        let (sharp, flat) = (
            (-x * x / (2.0 * a * a)).exp(),
            (-u * u / (2.0 * b * b)).exp(),
        );
        [a, b, d, u, sharp, flat]
    }

    /// ∇U(x), written into `out`.
    pub fn gradient(&self, x: &[f64], out: &mut [f64]) {
        use std::f64::consts::TAU;
        match *self {
            Landscape::Quadratic { k } => {
                out.iter_mut().zip(x).for_each(|(o, v)| *o = k * v);
            }
            Landscape::DoubleWell { height, tilt } => {
                out[0] = 4.0 * height * x[0] * (x[0] * x[0] - 1.0) + tilt;
            }
            Landscape::MultiWell { depth, scale } => {
                out[0] = x[0] / (scale * scale) + depth * TAU * (TAU * x[0]).sin();
            }
            Landscape::Rastrigin { amplitude } => {
                out.iter_mut()
                    .zip(x)
                    .for_each(|(o, v)| *o = 2.0 * v + amplitude * TAU * (TAU * v).sin());
            }
            Landscape::SharpFlat { .. } => {
                let [a, b, d, u, sharp, flat] = self.sharp_flat_terms(x[0]);
                out[0] = x[0] / (a * a) * sharp + d * u / (b * b) * flat;
            }
            Landscape::MullerBrown { scale } => {
                out[0] = 0.0;
                out[1] = 0.0;
                for k in 0..4 {
                    let (dx, dy) = (x[0] - MB_X[k], x[1] - MB_Y[k]);
                    let e = MB_A[k]
                        * (MB_LA[k] * dx * dx + MB_LB[k] * dx * dy + MB_LC[k] * dy * dy).exp();
                    out[0] += scale * e * (2.0 * MB_LA[k] * dx + MB_LB[k] * dy);
                    out[1] += scale * e * (MB_LB[k] * dx + 2.0 * MB_LC[k] * dy);
                }
            }
        }
    }
}

/// C independent chains on a landscape (see the module docs): parameters θ ∈ ℝ^{C·d}, chain c
/// at θ[c·d .. (c+1)·d]; output Σ_c U(θ_c) for every input row (inputs are ignored; the data
/// set only supplies y = 1 for the linear loss).
#[derive(Clone, Debug, PartialEq)]
pub struct Potential {
    /// U.
    pub landscape: Landscape,
    /// d.
    pub dim: usize,
    /// C.
    pub chains: usize,
    /// Every chain starts at `start` …
    pub start: Vec<f64>,
    /// … plus N(0, init_std² I).
    pub init_std: f64,
}

impl Potential {
    /// C chains of dimension d started at `start` (+ N(0, init_std²)), checked.
    pub fn new(
        landscape: Landscape,
        dim: usize,
        chains: usize,
        start: Vec<f64>,
        init_std: f64,
    ) -> Result<Potential> {
        landscape.validate()?;
        if dim == 0 || chains == 0 {
            return Err(Error::invalid(
                "dim / chains",
                "expected dim ≥ 1 and chains ≥ 1",
            ));
        }
        if let Some(d) = landscape.required_dim() {
            if d != dim {
                return Err(Error::invalid(
                    "dim",
                    format!("this potential is {d}-dimensional, got dim = {dim}"),
                ));
            }
        }
        check_start(&start, dim)?;
        crate::error::check_non_negative("init_std", init_std)?;
        Ok(Potential {
            landscape,
            dim,
            chains,
            start,
            init_std,
        })
    }

    /// The positions as a C × d matrix.
    pub fn positions(&self, params: &[f64]) -> Matrix {
        Matrix {
            rows: self.chains,
            cols: self.dim,
            data: params.to_vec(),
        }
    }

    /// The data set the training loop needs: one input (ignored) with target y = 1.
    pub fn unit_data() -> Result<crate::data::Dataset> {
        crate::data::Dataset::new(
            "potential",
            Matrix::zeros(1, 1),
            Matrix::from_vec(1, 1, vec![1.0])?,
        )
    }
}

impl Model for Potential {
    fn describe(&self) -> String {
        format!(
            "potential({:?}, d={}, chains={})",
            self.landscape, self.dim, self.chains
        )
    }

    fn input_dim(&self) -> usize {
        1
    }

    fn layout(&self) -> Vec<ParamBlock> {
        chain_layout(self.chains, self.dim)
    }

    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let mut p = Vec::with_capacity(self.chains * self.dim);
        for _ in 0..self.chains {
            for &s in &self.start {
                p.push(
                    s + if self.init_std > 0.0 {
                        self.init_std * rng.normal()
                    } else {
                        0.0
                    },
                );
            }
        }
        p
    }

    fn forward(&self, params: &[f64], x: &Matrix, _cache: &mut Cache, out: &mut Matrix) {
        chain_sum(self.dim, params, x, out, |c| self.landscape.value(c));
    }

    fn backward(&self, params: &[f64], _: &Matrix, _: &mut Cache, d_out: &Matrix, g: &mut [f64]) {
        chain_sum_gradient(self.dim, params, d_out, g, |c, gc| {
            self.landscape.gradient(c, gc)
        });
    }
}

/// The layout of C chains of dimension d: one trainable block `positions`, C × d.
pub fn chain_layout(chains: usize, dim: usize) -> Vec<ParamBlock> {
    ParamBlock::whole("positions", vec![chains, dim])
}

/// Checks a chain's start: `dim` finite coordinates (the error names `start`).
pub fn check_start(start: &[f64], dim: usize) -> Result<()> {
    if start.len() != dim || start.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "start",
            format!("expected {dim} finite coordinates, got {start:?}"),
        ));
    }
    Ok(())
}

/// The forward pass of chains on a landscape U (the module docs): Σ_c U(θ_c), with
/// `value(θ_c)` = U(θ_c) and θ_c the chunks of `dim` parameters, in every row of `out`
/// (x.rows × 1; the inputs are ignored).
pub fn chain_sum(
    dim: usize,
    params: &[f64],
    x: &Matrix,
    out: &mut Matrix,
    value: impl Fn(&[f64]) -> f64,
) {
    let total: f64 = params.chunks(dim).map(value).sum();
    out.resize(x.rows, 1);
    out.data.fill(total);
}

/// The backward pass of [`chain_sum`]: ∂/∂θ_c of Σ_i d_out_i Σ_c U(θ_c) = (Σ_i d_out_i) ∇U(θ_c),
/// with `gradient(θ_c, g)` writing ∇U(θ_c) into g.
pub fn chain_sum_gradient(
    dim: usize,
    params: &[f64],
    d_out: &Matrix,
    grad: &mut [f64],
    gradient: impl Fn(&[f64], &mut [f64]),
) {
    let weight: f64 = d_out.data.iter().sum();
    for (c, g) in params.chunks(dim).zip(grad.chunks_mut(dim)) {
        gradient(c, g);
        g.iter_mut().for_each(|v| *v *= weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    /// Every landscape's gradient against central finite differences at random points.
    #[test]
    fn landscape_gradients_match_finite_differences() {
        let landscapes = [
            (Landscape::Quadratic { k: 1.7 }, 3),
            (
                Landscape::DoubleWell {
                    height: 1.3,
                    tilt: 0.3,
                },
                1,
            ),
            (
                Landscape::MultiWell {
                    depth: 1.0,
                    scale: 2.0,
                },
                1,
            ),
            (Landscape::Rastrigin { amplitude: 2.0 }, 2),
            (Landscape::MullerBrown { scale: 0.1 }, 2),
            (
                Landscape::SharpFlat {
                    sharp_width: 0.2,
                    flat_width: 1.0,
                    flat_depth: 0.8,
                    separation: 2.0,
                },
                1,
            ),
        ];
        let mut rng = Seed(5).stream("points", 0);
        for (u, d) in landscapes {
            u.validate().unwrap();
            for _ in 0..20 {
                let mut x = vec![0.0; d];
                rng.fill_normal(&mut x, 1.0);
                let mut g = vec![0.0; d];
                u.gradient(&x, &mut g);
                for i in 0..d {
                    let h = 1e-6;
                    let (mut p, mut m) = (x.clone(), x.clone());
                    p[i] += h;
                    m[i] -= h;
                    let fd = (u.value(&p) - u.value(&m)) / (2.0 * h);
                    assert!(
                        (fd - g[i]).abs() <= 1e-6 * (1.0 + g[i].abs()),
                        "{u:?} at {x:?}: {} vs {fd}",
                        g[i]
                    );
                }
            }
        }
    }
}
