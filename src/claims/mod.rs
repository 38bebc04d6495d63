//! The claims of the source document, each a checked experiment (SPEC §6).
//!
//! A claim runs fixed experiments through the same library calls a user makes (most build a
//! [`crate::spec::Spec`] and call [`crate::spec::run`]), then compares measured quantities with
//! the theorem's prediction in [`Check`]s that can fail. [`reproduce`] runs a selection and
//! writes `summary.json`, one folder of CSV files per claim, and `index.html`.

mod averaged_sgd;
mod check;
mod connectivity;
mod deep_linear;
mod implicit_bias;
mod infinite_langevin;
mod kernel_vs_network;
mod langevin_stationary;
mod lazy_vs_rich;
mod low_noise;
mod matrix_completion;
mod meanfield_limit;
mod narrow_vs_wide;
mod ntk_concentration;
mod ntk_generalization;
mod ntk_linear_rate;
mod ntk_positive;
mod optimizers;
mod report;
mod smoothing;
mod spectral_bias;
mod teacher_student;
mod wasserstein_flow;

pub use check::{Check, ClaimOutcome, Relation};

use crate::error::{Error, Result};
use crate::rng::Seed;
use std::path::PathBuf;
use std::time::Instant;

/// What a claim's run knows.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// The quick setting (the README's main job) instead of the full one.
    pub quick: bool,
    /// The claim's seed.
    pub seed: Seed,
    /// Run the claim's documented negative control instead: a deliberately broken setting under
    /// which its checks must fail (tests use it to show that every check can fail).
    pub negative_control: bool,
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
    /// Runs the experiments and the checks.
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
        Box::new(averaged_sgd::AveragedSgd),
        Box::new(lazy_vs_rich::LazyVsRich),
        Box::new(meanfield_limit::MeanFieldLimit),
        Box::new(wasserstein_flow::WassersteinFlow),
        Box::new(implicit_bias::ImplicitBias),
        Box::new(smoothing::GraduatedOptimisation),
        Box::new(langevin_stationary::LangevinStationary),
        Box::new(infinite_langevin::InfiniteLangevin),
        Box::new(low_noise::LowNoiseClassification),
    ]
}

/// Least-squares slope of y against x.
pub(crate) fn slope_of(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / x.iter().map(|a| (a - mx).powi(2)).sum::<f64>()
}

/// The mean-field regression setting shared by `meanfield-limit` and `connectivity`: n = 20
/// points on S² with a degree-2 zonal-harmonic target (and 30 test points), a tanh two-layer net
/// in the mean-field scaling γ = 1 with a_j ~ N(0, 1), trained by the particle step η = 0.5;
/// `trials` independent initialisations.
pub(crate) fn mean_field_regression(
    seed: u64,
    width: usize,
    trials: usize,
    steps: u64,
) -> Result<crate::spec::Spec> {
    let text = format!(
        r#"
seed = {seed}
trials = {trials}
[data]
kind = "sphere"
n = 20
n_test = 30
dim = 3
target = {{ kind = "harmonic", degree = 2 }}
[model]
kind = "two_layer"
width = {width}
activation = "tanh"
gamma = 1.0
output_init = {{ kind = "gaussian", std = 1.0 }}
[[optimizer]]
kind = "mean_field"
lr = 0.5
[train]
steps = {steps}
record_every = {steps}
"#
    );
    crate::spec::Spec::from_toml(&text, std::path::Path::new("<mean-field regression>"))
}

/// Options of `gradflow reproduce`.
#[derive(Clone, Debug)]
pub struct Options {
    /// Quick setting.
    pub quick: bool,
    /// Only these ids (all when empty).
    pub only: Vec<String>,
    /// Output folder.
    pub out: PathBuf,
    /// Root seed.
    pub seed: u64,
    /// No progress output.
    pub quiet: bool,
    /// Run the negative controls instead (see [`Context::negative_control`]).
    pub negative_control: bool,
}

/// The result of a claim run, for the summary.
#[derive(Clone, Debug)]
pub struct ClaimResult {
    /// Id.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Statement.
    pub statement: &'static str,
    /// Setup.
    pub setup: &'static str,
    /// The outcome (an error message when the run itself failed).
    pub outcome: std::result::Result<ClaimOutcome, String>,
    /// Wall-clock seconds (reported on the terminal only, never in summary.json).
    pub seconds: f64,
    /// The rendered SVG figures (as written to the claim's folder).
    pub svgs: Vec<String>,
}

impl ClaimResult {
    /// True when the run succeeded and every check passed.
    pub fn passed(&self) -> bool {
        match &self.outcome {
            Ok(o) => o.checks.iter().all(|c| c.passed),
            Err(_) => false,
        }
    }
}

/// Everything `reproduce` did.
#[derive(Clone, Debug)]
pub struct Report {
    /// Per claim.
    pub claims: Vec<ClaimResult>,
}

impl Report {
    /// True when every check of every claim passed.
    pub fn all_passed(&self) -> bool {
        self.claims.iter().all(ClaimResult::passed)
    }
}

/// Progress on stderr: a bar when stderr is a terminal, one plain line per claim otherwise,
/// nothing with `--quiet`.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    quiet: bool,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Progress {
        use std::io::IsTerminal;
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Progress { bar, total, quiet }
    }

    fn start(&self, k: usize, id: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(id.to_string()),
            None if !self.quiet => eprintln!("[{}/{}] {id} …", k + 1, self.total),
            None => {}
        }
    }

    fn finish(&self, k: usize, id: &str, passed: bool, seconds: f64) {
        let verdict = if passed { "PASS" } else { "FAIL" };
        match &self.bar {
            Some(bar) => {
                bar.println(format!("{verdict} {id} ({seconds:.1} s)"));
                bar.set_position(k as u64 + 1);
            }
            None if !self.quiet => eprintln!("      {verdict} in {seconds:.1} s"),
            None => {}
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs the selected claims and writes their outputs (see the module doc).
pub fn reproduce(options: &Options) -> Result<Report> {
    let all = registry();
    for id in &options.only {
        if !all.iter().any(|c| c.id() == id) {
            let ids: Vec<_> = all.iter().map(|c| c.id()).collect();
            return Err(Error::invalid(
                "--only",
                format!("unknown claim '{id}'; known claims: {}", ids.join(", ")),
            ));
        }
    }
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let selected: Vec<&Box<dyn Claim>> = all
        .iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|o| o == c.id()))
        .collect();
    let root = Seed(options.seed);
    let mut results = Vec::new();
    let progress = Progress::new(selected.len(), options.quiet);
    for (k, claim) in selected.iter().enumerate() {
        progress.start(k, claim.id());
        let ctx = Context {
            quick: options.quick,
            seed: root.child(claim.id(), 0),
            negative_control: options.negative_control,
        };
        let started = Instant::now();
        let outcome = claim.run(&ctx).map_err(|e| e.to_string());
        let mut result = ClaimResult {
            id: claim.id(),
            title: claim.title(),
            statement: claim.statement(),
            setup: claim.setup(),
            outcome,
            seconds: started.elapsed().as_secs_f64(),
            svgs: Vec::new(),
        };
        if let Ok(o) = &result.outcome {
            result.svgs = report::write_claim_folder(&options.out, claim.id(), o)?;
        }
        progress.finish(k, claim.id(), result.passed(), result.seconds);
        results.push(result);
    }
    progress.done();
    let report = Report { claims: results };
    report::write_summary(&options.out, &report, options)?;
    report::write_html(&options.out, &report, options)?;
    if !options.quiet {
        eprint!("{}", report::terminal_table(&report));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every claim passes in its quick setting and fails under its negative control: each check
    /// can fail.
    #[test]
    fn every_claim_passes_and_its_negative_control_fails() {
        for claim in registry() {
            let ctx = Context {
                quick: true,
                seed: Seed(0).child(claim.id(), 0),
                negative_control: false,
            };
            let good = claim.run(&ctx).unwrap();
            assert!(
                good.checks.iter().all(|c| c.passed),
                "{}: {:?}",
                claim.id(),
                good.checks
            );
            let broken = claim.run(&Context {
                negative_control: true,
                ..ctx
            });
            if let Ok(o) = &broken {
                for c in o.checks.iter().filter(|c| !c.passed) {
                    eprintln!(
                        "{} negative control: {} = {:.3e} fails",
                        claim.id(),
                        c.name,
                        c.measured
                    );
                }
            }
            match broken {
                Ok(o) => assert!(
                    o.checks.iter().any(|c| !c.passed),
                    "{}: the negative control passed: {:?}",
                    claim.id(),
                    o.checks
                ),
                Err(e) => panic!("{}: the negative control did not run: {e}", claim.id()),
            }
        }
    }
}
