//! The claims of the source document, each a checked experiment (SPEC §6).
//!
//! A claim runs fixed experiments through the same library calls a user makes (most build a
//! [`crate::spec::Spec`] and call [`crate::spec::run`]), then compares measured quantities with
//! the theorem's prediction in [`Check`]s that can fail. [`reproduce`] runs a selection and
//! writes `summary.json`, one folder of CSV files per claim, and `index.html`.

mod averaged_sgd;
mod check;
mod cnn_kernel_vs_network;
mod common;
mod connectivity;
mod deep_linear;
mod implicit_bias;
mod infinite_langevin;
mod infinite_langevin_gap;
mod kernel_vs_network;
mod langevin_free_energy;
mod langevin_stationary;
mod lazy_vs_rich;
mod low_noise;
mod matrix_completion;
mod meanfield_langevin;
mod meanfield_limit;
mod narrow_vs_wide;
mod ntk_concentration;
mod ntk_generalization;
mod ntk_linear_rate;
mod ntk_positive;
mod optimizers;
mod report;
mod reproduce;
mod sgld_excess_risk;
mod smoothing;
mod spectral_bias;
mod teacher_student;
mod wasserstein_flow;

pub use check::{Basis, Check, ClaimOutcome, Control, ControlResult, Relation, Verdict};
pub(crate) use reproduce::Progress;
pub use reproduce::{
    claim_seed, finish, parse_seeds, reproduce, reproduce_with, run_claim, run_label, seed_folder,
    seed_rows, selected, write_claim, write_seed, ClaimResult, ControlRun, Options, Report,
    SeedRow,
};

use crate::error::Result;
use crate::rng::Seed;

/// What a claim's run knows.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// The quick setting (the README's main job) instead of the full one.
    pub quick: bool,
    /// The claim's seed.
    pub seed: Seed,
    /// Run this negative control of the claim (one of [`Claim::controls`]) instead of the
    /// normal setting: a setting that breaks a hypothesis of the theorem, under which the checks
    /// that name it must fail.
    pub control: Option<&'static str>,
}

impl Context {
    /// True when the run is the claim's control `name`.
    pub fn under(&self, name: &str) -> bool {
        self.control == Some(name)
    }
}

/// One result of the document, reproduced.
pub trait Claim: Sync {
    /// The stable id (`gradflow reproduce --only ID`).
    fn id(&self) -> &'static str;
    /// One line.
    fn title(&self) -> &'static str;
    /// The statement from the document and the formula it tests.
    fn statement(&self) -> &'static str;
    /// The setup, in words (quick and full settings).
    fn setup(&self) -> &'static str;
    /// The negative controls: each breaks one hypothesis of the theorem, and every check names
    /// the one under which it must fail.
    fn controls(&self) -> &'static [Control];
    /// Runs the experiments and the checks (under `ctx.control` when it is set).
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome>;
}

/// Every claim, in the order of SPEC §6.
pub fn registry() -> Vec<Box<dyn Claim>> {
    vec![
        Box::new(optimizers::Optimizers),
        Box::new(narrow_vs_wide::NarrowVsWide),
        Box::new(deep_linear::DeepLinearMinima),
        Box::new(matrix_completion::MatrixCompletion),
        Box::new(connectivity::Connectivity),
        Box::new(teacher_student::TeacherStudent),
        Box::new(ntk_linear_rate::NtkLinearRate),
        Box::new(ntk_concentration::NtkConcentration),
        Box::new(ntk_positive::NtkPositive),
        Box::new(ntk_generalization::NtkGeneralization),
        Box::new(spectral_bias::SpectralBias),
        Box::new(kernel_vs_network::KernelVsNetwork),
        Box::new(cnn_kernel_vs_network::CnnKernelVsNetwork),
        Box::new(averaged_sgd::AveragedSgd),
        Box::new(lazy_vs_rich::LazyVsRich),
        Box::new(meanfield_limit::MeanFieldLimit),
        Box::new(meanfield_langevin::MeanFieldLangevin),
        Box::new(wasserstein_flow::WassersteinFlow),
        Box::new(implicit_bias::ImplicitBias),
        Box::new(smoothing::GraduatedOptimisation),
        Box::new(langevin_stationary::LangevinStationary),
        Box::new(infinite_langevin::InfiniteLangevin),
        Box::new(low_noise::LowNoiseClassification),
        Box::new(sgld_excess_risk::SgldExcessRisk),
    ]
}
