//! The `gradflow` command line: parses, calls the library, writes. See the README for the
//! contract (exit codes: 0 ok, 1 a check failed or a run diverged, 2 bad input, 3 a numerical
//! failure: a singular kernel, a Sinkhorn run that did not converge).

use clap::{Parser, Subcommand};
use gradflow::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: gradflow::alloc::Allocator = gradflow::alloc::Allocator;

#[derive(Parser)]
#[command(
    name = "gradflow",
    version,
    about = "Optimization theory of deep learning: train in the NTK, mean-field and Langevin regimes and check the theorems"
)]
struct Cli {
    /// Worker threads: 1 to 16 per core (at least 256 allowed); results do not depend on it;
    /// default: all cores.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// The architecture flags shared by `kernel` and `predict`.
#[derive(clap::Args, Clone)]
struct KernelArgs {
    /// Hidden (Dense + activation) layers before the final Dense(1); 1 = two-layer net.
    #[arg(long)]
    depth: usize,
    /// Activation: relu, leaky_relu(α), abs, ab_relu(a, b), erf, erf(a, b, c), sigmoid_like,
    /// tanh, sigmoid, softplus, gelu, quadratic, monomial(k), identity.
    #[arg(long, default_value = "relu")]
    activation: String,
    /// σ_w.
    #[arg(long, default_value_t = 1.0)]
    w_std: f64,
    /// σ_b (no bias when absent).
    #[arg(long)]
    b_std: Option<f64>,
    /// ntk or standard.
    #[arg(long, default_value = "ntk")]
    parameterization: gradflow::nn::Parameterization,
    /// Hidden width (used by the standard parameterization's NTK only).
    #[arg(long, default_value_t = 512)]
    width: usize,
    /// ntk or nngp.
    #[arg(long, default_value = "ntk")]
    kind: gradflow::kernel::Kind,
    /// Gauss–Hermite points per axis for activations without a closed form (1 to 1000).
    #[arg(long, default_value_t = 48)]
    quadrature_degree: usize,
}

impl KernelArgs {
    fn network(&self) -> Result<(gradflow::kernel::Network, gradflow::kernel::Kind), Error> {
        let activation = self
            .activation
            .parse()
            .map_err(|m: String| Error::invalid("--activation", m))?;
        let network = gradflow::kernel::Network {
            depth: self.depth,
            activation,
            w_std: self.w_std,
            b_std: self.b_std,
            parameterization: self.parameterization,
            width: self.width,
            quadrature_degree: self.quadrature_degree,
        };
        network.validate()?;
        Ok((network, self.kind))
    }
}

fn read_finite(path: &std::path::Path, what: &str) -> Result<gradflow::Matrix, Error> {
    let m = gradflow::data::io::read_npy_matrix(path)?;
    gradflow::error::check_finite(&format!("{what} ({})", path.display()), &m.data, m.cols)?;
    Ok(m)
}

/// The settings of `gradflow ot` (the library's [`gradflow::transport::Settings`]).
#[derive(clap::Args)]
struct OtSettings {
    /// Solver: exact (network simplex), sinkhorn (log-domain, at --reg), sliced (over
    /// --projections directions) or 1d (exact on the line).
    #[arg(long, default_value = "exact")]
    method: gradflow::transport::Method,
    /// Order p of W_p (cost ‖x − y‖^p).
    #[arg(long, default_value_t = 2.0)]
    p: f64,
    /// Entropic regularisation ε > 0 (required with --method sinkhorn).
    #[arg(long, required_if_eq("method", "sinkhorn"))]
    reg: Option<f64>,
    /// Sinkhorn: stop when both marginals of the plan are within TOL (Euclidean norm).
    #[arg(long, default_value_t = 1e-9)]
    tol: f64,
    /// Sinkhorn: at most this many iterations at the final ε; a run that stops here without
    /// reaching --tol exits 3.
    #[arg(long, default_value_t = 100_000)]
    max_iter: usize,
    /// Sinkhorn: ε-scaling factor θ ∈ (0, 1) (default: automatic).
    #[arg(long)]
    eps_scaling: Option<f64>,
    /// Sinkhorn: never store the cost matrix (recompute it each iteration).
    #[arg(long)]
    online: bool,
    /// Sinkhorn: also compute the debiased Sinkhorn divergence.
    #[arg(long)]
    divergence: bool,
    /// Sliced: number of projections.
    #[arg(long, default_value_t = 100)]
    projections: usize,
    /// Sliced: seed of the projections.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl OtSettings {
    fn settings(&self, plan: bool) -> gradflow::transport::Settings {
        gradflow::transport::Settings {
            method: self.method,
            p: self.p,
            reg: self.reg,
            tol: self.tol,
            max_iter: self.max_iter,
            eps_scaling: self.eps_scaling,
            online: self.online,
            divergence: self.divergence,
            projections: self.projections,
            seed: self.seed,
            plan,
        }
    }
}

/// Exit code of a numerical failure: a result computed but not trustworthy (a Sinkhorn run
/// that did not converge or overflowed, a numerically singular kernel).
const EXIT_NUMERICAL: u8 = 3;

#[derive(Subcommand)]
enum Command {
    /// Run the claims of the source document and check them against their predictions.
    #[command(allow_negative_numbers = true)]
    Reproduce {
        /// The quick setting: fewer widths, seeds and steps (about a minute on two cores; the
        /// full setting takes a few minutes).
        #[arg(long)]
        quick: bool,
        /// Only these claim ids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Output folder.
        #[arg(long, default_value = "gradflow-out")]
        out: PathBuf,
        /// Root seed.
        #[arg(long, default_value_t = 0, conflicts_with = "seeds")]
        seed: u64,
        /// Several root seeds (e.g. 0-9 or 0,3,5-7): one output folder per seed and a table
        /// over seeds (seeds.json, seeds.csv).
        #[arg(long)]
        seeds: Option<String>,
        /// Also list, per claim, each negative control (a setting that breaks a hypothesis of
        /// the theorem) with the checks it ran and their verdicts. The controls always run:
        /// every check must fail under its own.
        #[arg(long)]
        negative_control: bool,
    },
    /// List the claims, one line each.
    List,
    /// The infinite-width NTK or NNGP kernel of a fully connected net between input sets.
    #[command(allow_negative_numbers = true)]
    Kernel {
        /// Inputs (n × d NPY).
        #[arg(long)]
        x: PathBuf,
        /// Second inputs (m × d); default: x itself.
        #[arg(long)]
        x2: Option<PathBuf>,
        #[command(flatten)]
        net: KernelArgs,
        /// Output NPY (n × m).
        #[arg(long)]
        out: PathBuf,
        /// Rows computed per block (memory bound for streaming large kernels).
        #[arg(long, default_value_t = 1024)]
        block_rows: usize,
        /// Print a JSON summary on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Predictions of the infinitely wide net trained by gradient flow (or at t = ∞).
    #[command(allow_negative_numbers = true)]
    Predict {
        /// Training inputs.
        #[arg(long)]
        x_train: PathBuf,
        /// Training targets (n or n × k).
        #[arg(long)]
        y_train: PathBuf,
        /// Test inputs.
        #[arg(long)]
        x_test: PathBuf,
        /// Times, comma-separated; `inf` for t = ∞.
        #[arg(long, value_delimiter = ',', default_value = "inf")]
        time: Vec<String>,
        #[command(flatten)]
        net: KernelArgs,
        /// η.
        #[arg(long, default_value_t = 1.0)]
        learning_rate: f64,
        /// Diagonal regularisation r (relative to tr(Θ)/n unless --diag-reg-absolute).
        #[arg(long, default_value_t = 0.0)]
        diag_reg: f64,
        /// Make --diag-reg absolute.
        #[arg(long)]
        diag_reg_absolute: bool,
        /// Finite times by `eigen` (full eigendecomposition), `krylov` (Lanczos
        /// matrix-function–vector products) or `auto` (krylov for n ≥ 400 and ≤ 8 outputs).
        #[arg(long, default_value = "auto")]
        solver: gradflow::kernel::dynamics::Solver,
        /// Initial outputs on the training inputs (default 0; give --f0-test with it).
        #[arg(long, requires = "f0_test")]
        f0_train: Option<PathBuf>,
        /// Initial outputs on the test inputs (default 0; give --f0-train with it).
        #[arg(long, requires = "f0_train")]
        f0_test: Option<PathBuf>,
        /// Also write the training predictions (times × n × k).
        #[arg(long)]
        out_train: Option<PathBuf>,
        /// Test predictions (times × n_test × k).
        #[arg(long)]
        out: PathBuf,
        /// Print a JSON summary on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Wasserstein distance between two point clouds (exact, Sinkhorn, sliced or 1-D).
    #[command(allow_negative_numbers = true)]
    Ot {
        /// Source points (n × d NPY).
        #[arg(long)]
        x: PathBuf,
        /// Target points (m × d NPY).
        #[arg(long)]
        y: PathBuf,
        /// Source weights (n; default uniform; normalised to sum 1).
        #[arg(long)]
        wx: Option<PathBuf>,
        /// Target weights (m; default uniform; normalised to sum 1).
        #[arg(long)]
        wy: Option<PathBuf>,
        #[command(flatten)]
        settings: OtSettings,
        /// Write the dense plan (n × m NPY) here.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run one experiment spec (TOML); writes metrics.csv, summary.json and params.npy.
    Run {
        /// The spec file.
        spec: PathBuf,
        /// Output folder (default: the spec's name without extension, in the current folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue each trial from its checkpoint in the output folder.
        #[arg(long)]
        resume: bool,
        /// Print the summary as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // SIGINT / SIGTERM remove every temporary file before exiting with 130 / 143.
    if let Err(e) = gradflow::signals::install() {
        eprintln!("warning: signal handling not installed: {e}");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn execute(cli: Cli) -> Result<u8, Error> {
    if let Some(threads) = cli.threads {
        // More threads than this only cost their start-up (seconds per thousand here).
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let most = (16 * cores).max(256);
        if !(1..=most).contains(&threads) {
            return Err(Error::invalid(
                "--threads",
                format!("expected 1 to {most} threads (16 per core, at least 256), got {threads}"),
            ));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| Error::invalid("--threads", e.to_string()))?;
    }
    let quiet = cli.quiet;
    match cli.command {
        Command::List => {
            for claim in gradflow::claims::registry() {
                println!("{:<26} {}", claim.id(), claim.title());
            }
            Ok(0)
        }
        Command::Run {
            spec,
            out,
            resume,
            json,
        } => {
            let parsed = gradflow::spec::Spec::load(&spec)?;
            let out = out.unwrap_or_else(|| {
                PathBuf::from(
                    spec.file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "run".into()),
                )
            });
            let started = std::time::Instant::now();
            let outcome = gradflow::spec::run(
                &parsed,
                &gradflow::spec::base_dir(&spec),
                Some(&out),
                resume,
            );
            if outcome.is_ok() || matches!(outcome, Err(Error::Diverged { .. })) {
                gradflow::report::run::write_run_report(&out)?;
            }
            match outcome {
                Ok(o) => {
                    if json {
                        println!("{}", o.summary);
                    }
                    if !quiet {
                        for (k, t) in o.trials.iter().enumerate() {
                            let last = t.table.rows.last().cloned().unwrap_or_default();
                            let loss = t
                                .table
                                .column("train_loss")
                                .ok()
                                .and_then(|c| c.last().copied());
                            eprintln!(
                                "trial {k}: step {} train_loss {:.6e}",
                                last.first().copied().unwrap_or(0.0),
                                loss.unwrap_or(f64::NAN)
                            );
                        }
                        eprintln!(
                            "wrote {} in {:.2} s",
                            out.display(),
                            started.elapsed().as_secs_f64()
                        );
                    }
                    Ok(0)
                }
                Err(e @ Error::Diverged { .. }) => {
                    if !quiet {
                        eprintln!(
                            "the metrics recorded before the divergence are in {}",
                            out.display()
                        );
                    }
                    Err(e)
                }
                Err(e) => Err(e),
            }
        }
        Command::Ot {
            x,
            y,
            wx,
            wy,
            settings,
            plan,
            json,
        } => {
            let mu = gradflow::transport::Measure::read(&x, wx.as_deref(), "--x", "--wx")?;
            let nu = gradflow::transport::Measure::read(&y, wy.as_deref(), "--y", "--wy")?;
            let started = std::time::Instant::now();
            let mut report =
                gradflow::transport::solve(&mu, &nu, &settings.settings(plan.is_some()))?;
            let failure = report.failure();
            if let (Some(path), Some(p), None) = (&plan, report.plan.take(), &failure) {
                gradflow::data::io::write_npy_matrix(path, &p)?;
            }
            if json {
                let text = serde_json::to_string(&report)
                    .map_err(|e| Error::invalid("--json", e.to_string()))?;
                println!("{text}");
            }
            if let Some(message) = failure {
                eprintln!("warning: {message}");
                return Ok(EXIT_NUMERICAL);
            }
            if !quiet {
                let p = report.p;
                eprintln!(
                    "W_{p} = {} (W_{p}^{p} = {}) by {} in {:.3} s",
                    report.distance,
                    report.cost,
                    report.method,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(0)
        }
        Command::Kernel {
            x,
            x2,
            net,
            out,
            block_rows,
            json,
        } => {
            let (network, kind) = net.network()?;
            let x1 = read_finite(&x, "--x")?;
            network.check_inputs(&format!("--x ({})", x.display()), &x1)?;
            let x2m = x2.as_ref().map(|p| read_finite(p, "--x2")).transpose()?;
            if let (Some(m), Some(p)) = (&x2m, &x2) {
                network.check_inputs(&format!("--x2 ({})", p.display()), m)?;
            }
            let (rows, cols) = gradflow::kernel::analytic::stream_to_npy(
                &network,
                kind,
                &x1,
                x2m.as_ref(),
                block_rows,
                &out,
            )?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"out": out, "shape": [rows, cols], "kind": kind,
                        "depth": network.depth, "activation": network.activation})
                );
            }
            if !quiet {
                eprintln!("wrote {} ({rows} × {cols})", out.display());
            }
            Ok(0)
        }
        Command::Predict {
            x_train,
            y_train,
            x_test,
            time,
            net,
            learning_rate,
            diag_reg,
            diag_reg_absolute,
            solver,
            f0_train,
            f0_test,
            out_train,
            out,
            json,
        } => {
            let (network, kind) = net.network()?;
            let times = gradflow::kernel::dynamics::parse_times("--time", &time)?;
            let xtr = read_finite(&x_train, "--x-train")?;
            let ytr = read_finite(&y_train, "--y-train")?;
            let xte = read_finite(&x_test, "--x-test")?;
            network.check_inputs(&format!("--x-train ({})", x_train.display()), &xtr)?;
            network.check_inputs(&format!("--x-test ({})", x_test.display()), &xte)?;
            let f0 = match (f0_train, f0_test) {
                (Some(a), Some(b)) => Some((
                    read_finite(&a, "--f0-train")?,
                    read_finite(&b, "--f0-test")?,
                )),
                _ => None, // clap requires both or neither
            };
            let settings = gradflow::kernel::dynamics::FlowSettings {
                learning_rate,
                diag_reg,
                diag_reg_absolute,
                solver,
            };
            let pred = gradflow::kernel::dynamics::predict(
                &network,
                kind,
                &xtr,
                &ytr,
                &xte,
                f0.as_ref().map(|(a, b)| (a, b)),
                &times,
                &settings,
            )?;
            let stack = |ms: &[gradflow::Matrix]| -> (Vec<usize>, Vec<f64>) {
                let (r, c) = ms.first().map_or((0, 0), |m| (m.rows, m.cols));
                (
                    vec![ms.len(), r, c],
                    ms.iter().flat_map(|m| m.data.iter().copied()).collect(),
                )
            };
            let (shape, data) = stack(&pred.test);
            gradflow::data::io::write_atomic(&out, &gradflow::data::io::npy_bytes(&shape, &data))?;
            if let Some(p) = &out_train {
                let (s, d) = stack(&pred.train);
                gradflow::data::io::write_atomic(p, &gradflow::data::io::npy_bytes(&s, &d))?;
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({"out": out, "shape": shape, "kind": kind,
                        "times": time, "n_train": xtr.rows, "solver": pred.solver,
                        "krylov_steps": pred.krylov_steps})
                );
            }
            if !quiet {
                eprintln!("wrote {} {:?}", out.display(), shape);
            }
            Ok(0)
        }
        Command::Reproduce {
            quick,
            only,
            out,
            seed,
            seeds,
            negative_control,
        } => {
            let seeds = match seeds {
                Some(text) => gradflow::claims::parse_seeds(&text)?,
                None => vec![seed],
            };
            let options = gradflow::claims::Options {
                quick,
                only,
                out,
                seeds,
                quiet,
                negative_control,
            };
            let reports = gradflow::claims::reproduce(&options)?;
            Ok(if reports.iter().all(|r| r.all_passed()) {
                0
            } else {
                1
            })
        }
    }
}
