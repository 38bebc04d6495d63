//! Mean-field dynamics of two-layer networks: particles, particle gradient descent with time
//! rescaled by M, mean-field Langevin dynamics, and the observables of the flow.
//!
//! The mean-field net f_ρ(x) = ∫ a η(wᵀx + b) dρ(a, w, b) with M particles of weight 1/M is
//! [`crate::nn::TwoLayer`] at γ = 1, α = 1: f(x) = (1/M) Σ_j a_j η(w_jᵀx + b_j). Particle j is the
//! row θ_j = (w_j, b_j, a_j) of [`particles`]. For a loss L(ρ) = (1/n) Σ_i ℓ(y_i, f_ρ(x_i)) the
//! Wasserstein gradient flow moves each particle with the velocity
//! v_t(θ) = −∇_θ (δL/δρ)(θ) = −(1/n) Σ_i ∇_θ(a η(wᵀx_i + b)) ℓ'(y_i, f(x_i)) (SPEC §4), and since
//! ∂L/∂θ_j = v(θ_j)/M for the flat parameters, the particle step is
//! θ_j ← θ_j − η (M ∂L/∂θ_j + λ θ_j) + √(2η/β_t) ξ_j  ([`ParticleStep`]):
//! time rescaled by M so that the M → ∞ limit exists, an L2 term λ and, for β < ∞, the noise of
//! mean-field Langevin dynamics on F(ρ) = L(ρ) + (λ/2)∫‖θ‖² dρ + β^{-1} ∫ ρ log ρ.
//!
//! Observables: W2(ρ_t, ρ_0) and W2(ρ_t, ρ_ref) between particle clouds (exact up to
//! [`EXACT_LIMIT`] particles, Sinkhorn beyond), the Benamou–Brenier action of the particle path
//! against W2² of its end points, the normalised margin of Chizat & Bach (the spread of f_t
//! across seeds is [`crate::stats::spread`]).

mod entropy;
mod langevin_grid;

pub use entropy::spacing_entropy;
pub use langevin_grid::MeanFieldGrid;

use crate::data::Dataset;
use crate::error::{check_non_negative, check_positive, Error, Result};
use crate::linalg::Matrix;
use crate::nn::{Activation, Loss, Model};
use crate::optim::{LangevinNoise, Schedule, State, StepContext, Transform};
use crate::train::{Observer, Snapshot};
use crate::transport::{self, GroundCost, Measure};

/// Up to this many particles the observers use exact OT; beyond, a Sinkhorn run of bounded
/// cost, rounded to a feasible plan (see [`transport::bounded`]).
pub const EXACT_LIMIT: usize = transport::bounded::EXACT_LIMIT;

/// The particle step of mean-field gradient descent / Langevin dynamics (see the module docs):
/// v ← −η_t (M g + λ θ) + √(2η_t T_t) ξ with T_t = `temperature(t)` / β.
///
/// Read from a spec (`kind = "mean_field"`): `lr`, and optionally `l2` (default 0),
/// `inverse_temperature` and `anneal`; M is not a setting but the model's width, filled in when
/// the chain is built for a model.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticleStep {
    /// η_t, the time step of the M → ∞ flow.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
    /// M, the number of particles (the factor that rescales time).
    #[serde(skip)]
    pub width: usize,
    /// λ, the L2 term of F (λ θ_j added to each particle's velocity).
    #[serde(default)]
    pub l2: f64,
    /// β: `None` for noiseless particle gradient descent.
    #[serde(default)]
    pub inverse_temperature: Option<f64>,
    /// Annealing: the temperature at step t is `anneal(t)` / β (default constant 1), e.g.
    /// `{ kind = "inverse_power", a = 1.0, b = 1.0, c = 0.5 }`.
    #[serde(default, deserialize_with = "Schedule::optional_number_or_table")]
    pub anneal: Option<Schedule>,
}

impl Transform for ParticleStep {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_non_negative(&format!("{at}.l2"), self.l2)?;
        if let Some(beta) = self.inverse_temperature {
            check_positive(&format!("{at}.inverse_temperature"), beta)?;
        }
        if let Some(a) = &self.anneal {
            a.validate(&format!("{at}.anneal"))?;
        }
        if self.width == 0 {
            return Err(Error::invalid(
                format!("{at}.width"),
                "expected ≥ 1 particle",
            ));
        }
        Ok(())
    }
    fn update(&self, v: &mut [f64], _state: &mut State, params: &[f64], ctx: &StepContext) {
        let lr = self.lr.at(ctx.step);
        let m = self.width as f64;
        v.iter_mut()
            .zip(params)
            .for_each(|(g, &p)| *g = -lr * (m * *g + self.l2 * p));
        if let Some(beta) = self.inverse_temperature {
            let temperature = self.anneal.as_ref().map_or(1.0, |s| s.at(ctx.step)) / beta;
            LangevinNoise::add_noise(v, (2.0 * lr * temperature).sqrt(), ctx);
        }
    }
}

/// Where the particle coordinates live in a model's flat parameters: the blocks `W` (M × d),
/// optional `b` (M) and `a` (M) of [`crate::nn::TwoLayer`] and [`crate::nn::InfiniteWidth`].
#[derive(Clone, Debug, PartialEq)]
pub struct ParticleLayout {
    /// M.
    pub width: usize,
    /// d.
    pub input_dim: usize,
    w: usize,
    b: Option<usize>,
    a: usize,
    /// The model's parameter count.
    params: usize,
}

impl ParticleLayout {
    /// The layout of `model`, or an error naming the model if it is not a two-layer net.
    pub fn of(model: &dyn Model) -> Result<ParticleLayout> {
        let blocks = model.layout();
        let find = |name: &str| blocks.iter().find(|b| b.name == name);
        match (find("W"), find("a")) {
            (Some(w), Some(a)) if w.shape.len() == 2 => Ok(ParticleLayout {
                width: w.shape[0],
                input_dim: w.shape[1],
                w: w.offset,
                b: find("b").map(|b| b.offset),
                a: a.offset,
                params: model.num_params(),
            }),
            _ => Err(Error::invalid(
                "model",
                format!(
                    "mean-field particles need a two-layer model (blocks W and a), not {}",
                    model.describe()
                ),
            )),
        }
    }

    /// Coordinates per particle: d (+1 with biases) + 1.
    pub fn particle_dim(&self) -> usize {
        self.input_dim + usize::from(self.b.is_some()) + 1
    }

    /// Err unless `params` is a parameter vector of the layout's model.
    fn check_params(&self, what: &str, params: &[f64]) -> Result<()> {
        if params.len() != self.params {
            return Err(Error::shape(
                what,
                format!(
                    "{} parameters for a two-layer model with {}",
                    params.len(),
                    self.params
                ),
            ));
        }
        Ok(())
    }
}

/// The particles θ_j = (w_j, b_j, a_j) as the rows of an M × (d [+1] + 1) matrix.
pub fn particles(layout: &ParticleLayout, params: &[f64]) -> Result<Matrix> {
    layout.check_params("particles", params)?;
    let (m, d) = (layout.width, layout.input_dim);
    let k = layout.particle_dim();
    let mut out = Matrix::zeros(m, k);
    for j in 0..m {
        let row = out.row_mut(j);
        row[..d].copy_from_slice(&params[layout.w + j * d..layout.w + (j + 1) * d]);
        if let Some(b) = layout.b {
            row[d] = params[b + j];
        }
        row[k - 1] = params[layout.a + j];
    }
    Ok(out)
}

/// Writes the particles of a matrix (rows θ_j = (w_j, b_j, a_j), as [`particles`] returns them)
/// back into a parameter vector of the same layout.
pub fn set_particles(layout: &ParticleLayout, cloud: &Matrix, params: &mut [f64]) -> Result<()> {
    layout.check_params("set_particles", params)?;
    if (cloud.rows, cloud.cols) != (layout.width, layout.particle_dim()) {
        return Err(Error::shape(
            "set_particles",
            format!(
                "a cloud of {}×{} for {} particles of dimension {}",
                cloud.rows,
                cloud.cols,
                layout.width,
                layout.particle_dim()
            ),
        ));
    }
    let d = layout.input_dim;
    for j in 0..layout.width {
        let row = cloud.row(j);
        params[layout.w + j * d..layout.w + (j + 1) * d].copy_from_slice(&row[..d]);
        if let Some(b) = layout.b {
            params[b + j] = row[d];
        }
        params[layout.a + j] = row[row.len() - 1];
    }
    Ok(())
}

/// Permutes the neurons of `other` to match those of `reference` as closely as possible: the
/// permutation σ minimising Σ_j ‖θ_j^{ref} − θ_{σ(j)}^{other}‖² (an assignment problem, solved
/// exactly as optimal transport between the two uniform particle clouds). The result computes
/// the same function as `other` (a two-layer net is invariant under permuting its neurons), and
/// the straight path from `reference` to it is the natural path between the two solutions.
pub fn align_neurons(
    layout: &ParticleLayout,
    reference: &[f64],
    other: &[f64],
) -> Result<Vec<f64>> {
    let x = particles(layout, reference)?;
    let y = particles(layout, other)?;
    let mu = Measure::uniform("reference neurons", x.clone())?;
    let nu = Measure::uniform("other neurons", y.clone())?;
    let c = transport::cost_matrix(&mu.points, &nu.points, GroundCost::SqEuclidean)?;
    let solution = transport::exact::solve(&mu.weights, &nu.weights, &c)?;
    let sigma = solution.assignment().ok_or_else(|| Error::Numerical {
        routine: "align_neurons".into(),
        message: "the optimal plan is not a permutation".into(),
    })?;
    let permuted = y.select_rows(&sigma);
    let mut out = other.to_vec();
    set_particles(layout, &permuted, &mut out)?;
    Ok(out)
}

/// W2² between two particle clouds of uniform weight: exact (network simplex) up to
/// [`EXACT_LIMIT`] particles, else the cost of a feasible coupling from a Sinkhorn run of
/// bounded cost ([`transport::bounded::w2_squared`], whose bracket also gives the accuracy).
pub fn w2_squared(x: &Matrix, y: &Matrix) -> Result<f64> {
    Ok(transport::bounded::w2_squared(x, y)?.upper)
}

/// The mean-field velocity field of SPEC §4 at every particle, computed directly from its
/// formula: v(θ_j) = −(1/n) Σ_i ∇_θ(a_j η(w_jᵀx_i + b_j)) ℓ'(y_i, f(x_i)), with f the
/// mean-field net (1/M) Σ_j a_j η(w_jᵀx + b_j). Rows as in [`particles`]. (The training engine's
/// particle step uses −M ∇_θ L instead; `tests/meanfield.rs` checks that they agree.)
pub fn velocity(
    layout: &ParticleLayout,
    params: &[f64],
    activation: Activation,
    loss: Loss,
    data: &Dataset,
) -> Result<Matrix> {
    let (m, d, n) = (layout.width, layout.input_dim, data.len());
    if data.input_dim() != d || data.output_dim() != 1 {
        return Err(Error::shape(
            "velocity",
            format!(
                "data with {} inputs and {} outputs for a net on {d} inputs with one output",
                data.input_dim(),
                data.output_dim()
            ),
        ));
    }
    let k = layout.particle_dim();
    let theta = particles(layout, params)?;
    let pre = |j: usize, x: &[f64]| {
        let row = theta.row(j);
        let b = layout.b.map_or(0.0, |_| row[d]);
        row[..d].iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + b
    };
    let mut v = Matrix::zeros(m, k);
    for i in 0..n {
        let x = data.x.row(i);
        let f: f64 = (0..m)
            .map(|j| theta.get(j, k - 1) * activation.value(pre(j, x)))
            .sum::<f64>()
            / m as f64;
        let dl = loss.derivative(data.y.get(i, 0), f) / n as f64;
        for j in 0..m {
            let u = pre(j, x);
            let a = theta.get(j, k - 1);
            let row = v.row_mut(j);
            let dw = a * activation.derivative(u) * dl;
            for (r, xc) in row[..d].iter_mut().zip(x) {
                *r -= dw * xc;
            }
            if layout.b.is_some() {
                row[d] -= dw;
            }
            row[k - 1] -= activation.value(u) * dl;
        }
    }
    Ok(v)
}

/// Observables of the particle flow, as metrics columns:
/// * `w2_sq_init` — W2²(ρ_t, ρ_0) between the particle clouds;
/// * `displacement_sq` — (1/M) Σ_j ‖θ_j(t) − θ_j(0)‖² (the cost of the identity coupling, ≥ W2²);
/// * `action` — K Σ_k (1/M) Σ_j ‖θ_j(t_{k+1}) − θ_j(t_k)‖² over the K recorded intervals so far:
///   the Benamou–Brenier action T ∫_0^T ‖v_t‖²_{L²(ρ_t)} dt of the recorded path (the time step
///   cancels), which bounds W2²(ρ_0, ρ_t) from above by Cauchy–Schwarz, with equality only for
///   constant-speed geodesics;
/// * `w2_sq_ref` — W2²(ρ_t, ρ_ref) when a reference cloud is given;
/// * `normalized_margin` — min_i y_i f(x_i) / ((1/M) Σ_j ‖θ_j‖²) on the given set (Chizat & Bach
///   2020; for a 2-homogeneous net it is scale-invariant), when classification data is given.
pub struct ParticleObserver {
    layout: ParticleLayout,
    reference: Option<Matrix>,
    margin_data: Option<Dataset>,
    initial: Option<Matrix>,
    previous: Option<Matrix>,
    energy: f64,
    intervals: usize,
    snapshots: Option<Vec<Matrix>>,
}

impl ParticleObserver {
    /// Observes the particles of `model` (a two-layer net).
    pub fn new(model: &dyn Model) -> Result<ParticleObserver> {
        Ok(ParticleObserver {
            layout: ParticleLayout::of(model)?,
            reference: None,
            margin_data: None,
            initial: None,
            previous: None,
            energy: 0.0,
            intervals: 0,
            snapshots: None,
        })
    }

    /// Also keeps the particle cloud of every recorded step (see [`ParticleObserver::snapshots`]).
    pub fn with_snapshots(mut self) -> ParticleObserver {
        self.snapshots = Some(Vec::new());
        self
    }

    /// The particle clouds of the recorded steps, in order (empty unless
    /// [`ParticleObserver::with_snapshots`]).
    pub fn snapshots(&self) -> &[Matrix] {
        self.snapshots.as_deref().unwrap_or(&[])
    }

    /// Also records W2²(ρ_t, ρ_ref) against these particles (rows as in [`particles`]).
    pub fn with_reference(mut self, reference: Matrix) -> Result<ParticleObserver> {
        if reference.cols != self.layout.particle_dim() {
            return Err(Error::shape(
                "reference particles",
                format!(
                    "{} coordinates, the model's particles have {}",
                    reference.cols,
                    self.layout.particle_dim()
                ),
            ));
        }
        self.reference = Some(reference);
        Ok(self)
    }

    /// Also records the normalised margin on `data` (labels ±1).
    pub fn with_margin(mut self, data: Dataset) -> ParticleObserver {
        self.margin_data = Some(data);
        self
    }
}

impl Observer for ParticleObserver {
    fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = vec![
            "w2_sq_init".into(),
            "displacement_sq".into(),
            "action".into(),
        ];
        if self.layout.width > EXACT_LIMIT {
            // The certified accuracy of w2_sq_init beyond the exact solver's size.
            c.push("w2_sq_init_gap".into());
        }
        if self.reference.is_some() {
            c.push("w2_sq_ref".into());
        }
        if self.margin_data.is_some() {
            c.push("normalized_margin".into());
        }
        c
    }

    fn observe(&mut self, s: &Snapshot<'_>) -> Result<Vec<f64>> {
        let now = particles(&self.layout, s.params)?;
        let m = now.rows as f64;
        if self.initial.is_none() {
            self.initial = Some(particles(&self.layout, s.initial)?);
        }
        let initial = self.initial.as_ref().expect("set above");
        let mean_sq =
            |a: &Matrix, b: &Matrix| crate::linalg::distance(&a.data, &b.data).powi(2) / m;
        if let Some(prev) = &self.previous {
            self.energy += mean_sq(&now, prev);
            self.intervals += 1;
        }
        let w2 = transport::bounded::w2_squared(&now, initial)?;
        let mut row = vec![
            w2.upper,
            mean_sq(&now, initial),
            self.intervals as f64 * self.energy,
        ];
        if self.layout.width > EXACT_LIMIT {
            row.push(w2.gap());
        }
        if let Some(r) = &self.reference {
            row.push(w2_squared(&now, r)?);
        }
        if let Some(data) = &self.margin_data {
            let f = s.objective.model.predict(s.params, &data.x)?;
            let margin = (0..data.len())
                .map(|i| data.y.get(i, 0) * f.get(i, 0))
                .fold(f64::INFINITY, f64::min);
            let norm_sq = now.data.iter().map(|v| v * v).sum::<f64>() / m;
            row.push(margin / norm_sq);
        }
        if let Some(snaps) = self.snapshots.as_mut() {
            snaps.push(now.clone());
        }
        self.previous = Some(now);
        Ok(row)
    }
}
