//! The one entry point of the transport solvers: [`solve`] takes two measures and a
//! [`Settings`] (the method by name, as `gradflow ot --method` spells it, and its knobs) and
//! returns a serializable [`Report`] — W_p^p (`cost`), W_p (`distance`), what the method knows
//! (dual value, pivots, assignment, Sinkhorn's iterations and marginal error) and, on request,
//! the dense plan. A Sinkhorn run that did not reach its tolerance, or whose plan overflowed,
//! is still reported (`converged: false`, the plan's real marginal error); [`Report::failure`]
//! says so in words, and the CLI turns it into a warning and its own exit code.

use super::{check_same_dim, cost_matrix, exact, one_d, sinkhorn, sliced, GroundCost, Measure};
use crate::commands::Cancel;
use crate::error::{check_positive, Error, Result};
use crate::linalg::Matrix;
use serde::Serialize;

/// Which solver computes W_p; parsed from, printed and serialized as the names `exact`,
/// `sinkhorn`, `sliced`, `1d` (one table: [`Method::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The exact discrete problem (network simplex).
    Exact,
    /// Entropic transport at regularisation ε (log-domain Sinkhorn); the value is ⟨C, P_ε⟩.
    Sinkhorn,
    /// Sliced W_p over seeded directions.
    Sliced,
    /// The exact 1-D solver (points must be one-dimensional).
    OneD,
}

impl Method {
    /// Every method, in the order the help lists them.
    pub const ALL: [Method; 4] = [
        Method::Exact,
        Method::Sinkhorn,
        Method::Sliced,
        Method::OneD,
    ];

    /// The name of the method (as the flag spells it).
    pub fn name(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Sinkhorn => "sinkhorn",
            Method::Sliced => "sliced",
            Method::OneD => "1d",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Method, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
                format!("expected one of {}, got '{s}'", names.join(", "))
            })
    }
}

/// Everything that determines a transport computation besides the two measures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// The solver.
    pub method: Method,
    /// Order p ≥ 1 of W_p (ground cost ‖x − y‖^p).
    pub p: f64,
    /// Sinkhorn: ε > 0 (required by [`Method::Sinkhorn`], ignored otherwise).
    pub reg: Option<f64>,
    /// Sinkhorn: stop when ‖Pᵀ1 − b‖₂ < tol.
    pub tol: f64,
    /// Sinkhorn: at most this many iterations at the final ε.
    pub max_iter: usize,
    /// Sinkhorn: ε-scaling factor θ ∈ (0, 1); `None` = automatic (see [`sinkhorn::Options`]).
    pub eps_scaling: Option<f64>,
    /// Sinkhorn: never store the cost matrix.
    pub online: bool,
    /// Sinkhorn: also the debiased divergence S_ε.
    pub divergence: bool,
    /// Sliced: number of projections.
    pub projections: usize,
    /// Sliced: seed of the directions.
    pub seed: u64,
    /// Return the dense n × m plan.
    pub plan: bool,
}

impl Default for Settings {
    /// Exact W_2, no plan; Sinkhorn's tolerance 1e-9 and 100 000 iterations; 100 projections.
    fn default() -> Settings {
        Settings {
            method: Method::Exact,
            p: 2.0,
            reg: None,
            tol: 1e-9,
            max_iter: 100_000,
            eps_scaling: None,
            online: false,
            divergence: false,
            projections: 100,
            seed: 0,
            plan: false,
        }
    }
}

impl Settings {
    /// The settings of `method` at order p, the rest default.
    pub fn new(method: Method, p: f64) -> Settings {
        Settings {
            method,
            p,
            ..Settings::default()
        }
    }

    /// Checks the settings against each other (p ≥ 1, ε > 0 where Sinkhorn needs it, a plan
    /// only from a method that has one, …).
    pub fn validate(&self) -> Result<()> {
        GroundCost::for_order(self.p)?;
        if self.plan && self.method == Method::Sliced {
            return Err(Error::invalid(
                "plan",
                "the sliced distance has no transport plan",
            ));
        }
        if self.method == Method::Sinkhorn {
            let reg = self
                .reg
                .ok_or_else(|| Error::invalid("reg (ε)", "--method sinkhorn needs --reg ε > 0"))?;
            check_positive("reg (ε)", reg)?;
            check_positive("tol", self.tol)?;
            if self.max_iter == 0 {
                return Err(Error::invalid("max_iter", "expected at least 1 iteration"));
            }
            if self.plan && self.online {
                return Err(Error::invalid(
                    "plan",
                    "--online never forms the n × m plan",
                ));
            }
        }
        if self.method == Method::Sliced && self.projections == 0 {
            return Err(Error::invalid("projections", "expected at least 1"));
        }
        Ok(())
    }

    fn sinkhorn_options(&self) -> Result<sinkhorn::Options> {
        let reg = self
            .reg
            .ok_or_else(|| Error::invalid("reg (ε)", "--method sinkhorn needs --reg ε > 0"))?;
        let mut opts = sinkhorn::Options::new(reg)?;
        opts.tol = self.tol;
        opts.max_iter = self.max_iter;
        opts.eps_scaling = self.eps_scaling;
        Ok(opts)
    }
}

/// What [`solve`] found. Fields a method does not produce are `None` (and absent from JSON).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The solver.
    pub method: Method,
    /// Order p.
    pub p: f64,
    /// Number of source points.
    pub n: usize,
    /// Number of target points.
    pub m: usize,
    /// Dimension of the points.
    pub dim: usize,
    /// W_p^p: the transport value of the cost ‖x − y‖^p (Sinkhorn: ⟨C, P_ε⟩; sliced: SW_p^p).
    pub cost: f64,
    /// W_p = cost^{1/p}.
    pub distance: f64,
    /// Exact: Σ a_i f_i + Σ b_j g_j of the dual potentials (= cost at optimality).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_value: Option<f64>,
    /// Exact: network-simplex pivots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pivots: Option<usize>,
    /// Exact, uniform clouds of equal size: σ with x_i ↦ y_σ(i).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Vec<usize>>,
    /// Sliced: number of projections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projections: Option<usize>,
    /// Sinkhorn: ε.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reg: Option<f64>,
    /// Sinkhorn: OT_ε = ⟨C, P_ε⟩ + ε KL(P_ε ‖ a ⊗ b).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entropic: Option<f64>,
    /// Sinkhorn: iterations (all ε-scaling stages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// Sinkhorn: the marginal error of the returned plan (see
    /// [`sinkhorn::SinkhornSolution::marginal_error`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marginal_error: Option<f64>,
    /// Sinkhorn: the tolerance asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
    /// Sinkhorn: whether the plan meets the tolerance with finite values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converged: Option<bool>,
    /// Sinkhorn: the debiased divergence S_ε, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<f64>,
    /// The dense n × m plan, when asked (never serialized).
    #[serde(skip)]
    pub plan: Option<Matrix>,
}

impl Report {
    /// The report of `settings`' method between n and m points of dimension `dim` with
    /// transport value `cost` (W_p^p); the method's own fields empty.
    fn new(settings: &Settings, (n, m, dim): (usize, usize, usize), cost: f64) -> Report {
        let w = super::Wasserstein::from_cost(cost, settings.p);
        Report {
            method: settings.method,
            p: settings.p,
            n,
            m,
            dim,
            cost: w.cost,
            distance: w.distance,
            dual_value: None,
            pivots: None,
            assignment: None,
            projections: None,
            reg: None,
            entropic: None,
            iterations: None,
            marginal_error: None,
            tol: None,
            converged: None,
            divergence: None,
            plan: None,
        }
    }

    /// The report of an exact solution (the plan when `settings.plan`).
    fn exact(
        settings: &Settings,
        shape: (usize, usize, usize),
        sol: &exact::ExactSolution,
    ) -> Report {
        let mut r = Report::new(settings, shape, sol.cost);
        r.dual_value = Some(sol.dual_value);
        r.pivots = Some(sol.pivots);
        r.assignment = sol.assignment();
        r.plan = settings.plan.then(|| sol.plan.to_dense());
        r
    }

    /// The report of a Sinkhorn solution under `opts` (without its plan): converged when the
    /// solver says so with finite values, [`Report::failure`] otherwise.
    fn sinkhorn(
        settings: &Settings,
        shape: (usize, usize, usize),
        opts: &sinkhorn::Options,
        sol: &sinkhorn::SinkhornSolution,
    ) -> Report {
        let mut r = Report::new(settings, shape, sol.cost);
        r.reg = Some(opts.reg);
        r.entropic = Some(sol.entropic);
        r.iterations = Some(sol.iterations);
        r.marginal_error = Some(sol.marginal_error);
        r.tol = Some(opts.tol);
        r.converged = Some(sol.converged && sol.cost.is_finite() && sol.entropic.is_finite());
        r
    }

    /// `Some(message)` when the value cannot be trusted: a Sinkhorn run that did not reach its
    /// tolerance or whose plan or value is not finite. The message names the marginal error,
    /// the tolerance and the iterations, and what to change.
    pub fn failure(&self) -> Option<String> {
        if self.converged != Some(false) {
            return None;
        }
        let err = self.marginal_error.unwrap_or(f64::NAN);
        let tol = self.tol.unwrap_or(f64::NAN);
        let its = self.iterations.unwrap_or(0);
        Some(if !(err.is_finite() && self.cost.is_finite()) {
            format!(
                "Sinkhorn overflowed at ε = {}: the plan's marginal error is {err:e} and the \
                 cost {} (ε is below what f64 resolves for these costs); use a larger --reg \
                 or --method exact",
                self.reg.unwrap_or(f64::NAN),
                self.cost
            )
        } else {
            format!(
                "Sinkhorn did not converge: marginal error {err:.3e} ≥ --tol {tol:e} after \
                 {its} iterations; raise --max-iter, raise --reg or loosen --tol"
            )
        })
    }
}

/// W_p(μ, ν) and what the method knows, by `settings` (checked first). See the module docs.
pub fn solve(mu: &Measure, nu: &Measure, settings: &Settings) -> Result<Report> {
    solve_with(mu, nu, settings, Cancel::NEVER)
}

/// [`solve`], polling `cancel` in the solvers' loops (the network simplex every few dozen
/// pivots, Sinkhorn every iteration, the sliced estimate every direction; the 1-D solve is
/// one sort, not polled): once it fires the solve stops with
/// [`Error::Interrupted`].
pub fn solve_with(
    mu: &Measure,
    nu: &Measure,
    settings: &Settings,
    cancel: Cancel,
) -> Result<Report> {
    settings.validate()?;
    check_same_dim(mu, nu)?;
    let ground = GroundCost::for_order(settings.p)?;
    let shape = (mu.len(), nu.len(), mu.dim());
    match settings.method {
        Method::Exact => {
            let c = cost_matrix(&mu.points, &nu.points, ground)?;
            let sol = exact::solve_with(&mu.weights, &nu.weights, &c, cancel)?;
            Ok(Report::exact(settings, shape, &sol))
        }
        Method::OneD => {
            let sol = one_d::wasserstein_1d(mu, nu, settings.p)?;
            let mut r = Report::new(settings, shape, sol.cost);
            r.plan = settings.plan.then(|| sol.plan.to_dense());
            Ok(r)
        }
        Method::Sliced => {
            let sol = sliced::sliced_wasserstein_with(
                mu,
                nu,
                settings.p,
                settings.projections,
                crate::Seed(settings.seed),
                cancel,
            )?;
            let mut r = Report::new(settings, shape, sol.cost);
            r.projections = Some(settings.projections);
            Ok(r)
        }
        Method::Sinkhorn => {
            let opts = settings.sinkhorn_options()?;
            let sol = if settings.online {
                sinkhorn::solve_online_with(mu, nu, ground, &opts, cancel)?
            } else {
                let c = cost_matrix(&mu.points, &nu.points, ground)?;
                sinkhorn::solve_with(&mu.weights, &nu.weights, &c, &opts, cancel)?
            };
            let mut r = Report::sinkhorn(settings, shape, &opts, &sol);
            if settings.divergence && r.converged == Some(true) {
                r.divergence = Some(sinkhorn::divergence_with(mu, nu, ground, &opts, cancel)?);
            }
            r.plan = settings.plan.then_some(sol.plan);
            Ok(r)
        }
    }
}

/// What [`solve_costs`] found: the solver's own solution (plan, potentials) beside the
/// report.
#[derive(Clone, Debug)]
pub enum Solution {
    /// The network simplex's plan and dual potentials.
    Exact(exact::ExactSolution),
    /// Sinkhorn's dense plan and potentials.
    Sinkhorn(sinkhorn::SinkhornSolution),
}

/// The exact (`Method::Exact`) or entropic (`Method::Sinkhorn`, dense) problem on a given
/// n × m cost matrix `c` with weights `a`, `b` — POT's `emd` / `sinkhorn` interface, where
/// the costs need not come from points: min_{P ∈ Π(a, b)} ⟨C, P⟩ (+ ε KL(P ‖ a ⊗ b)). The
/// report's `cost` is ⟨C, P⟩ (W_p^p when C_ij = ‖x_i − y_j‖^p) and its `dim` 0; its plan is
/// not filled (it is in the solution). Settings are checked first; the other methods, and
/// `online` or `divergence`, need points (Err naming `method`).
pub fn solve_costs<'a>(
    a: &[f64],
    b: &[f64],
    c: impl Into<crate::linalg::MatrixView<'a>>,
    settings: &Settings,
    cancel: Cancel,
) -> Result<(Solution, Report)> {
    let c = c.into();
    settings.validate()?;
    let shape = (c.rows, c.cols, 0);
    match settings.method {
        Method::Exact => {
            let sol = exact::solve_with(a, b, c, cancel)?;
            let mut report = Report::exact(settings, shape, &sol);
            report.plan = None;
            Ok((Solution::Exact(sol), report))
        }
        Method::Sinkhorn if !(settings.online || settings.divergence) => {
            let opts = settings.sinkhorn_options()?;
            let sol = sinkhorn::solve_with(a, b, c, &opts, cancel)?;
            let report = Report::sinkhorn(settings, shape, &opts, &sol);
            Ok((Solution::Sinkhorn(sol), report))
        }
        method => Err(Error::invalid(
            "method",
            format!(
                "a cost matrix is solved by the exact or the dense Sinkhorn solver, not {method}{}",
                if settings.online || settings.divergence {
                    " with online or divergence (they need the points)"
                } else {
                    ""
                }
            ),
        )),
    }
}
