//! The CLI's flags of each command (clap) and their conversion into the command's request:
//! defaults come from the requests' [`Default`]s, checks from their `validate()`.

use super::{conv, kernel, predict, reproduce, run, Input};
use crate::error::{Error, Result};
use crate::kernel::conv::Images;
use std::path::PathBuf;

/// The architecture flags shared by `kernel` and `predict`.
#[derive(clap::Args, Clone, Debug)]
pub struct NetworkArgs {
    /// Hidden (Dense + activation) layers before the final Dense(1); 1 = two-layer net.
    #[arg(long, required_unless_present = "net")]
    pub depth: Option<usize>,
    /// A network as `[[layer]]` tables (conv, avg_pool, global_avg_pool, flatten, dense,
    /// activations; neural-tangents' argument names) instead of the dense-only flags; inputs
    /// (n, d), (n, L, C) or (n, H, W, C).
    #[arg(long, conflicts_with_all = ["depth", "b_std"])]
    pub net: Option<PathBuf>,
    /// Activation: relu, leaky_relu(α), abs, ab_relu(a, b), erf, erf(a, b, c), sigmoid_like,
    /// tanh, sigmoid, softplus, gelu, quadratic, monomial(k), identity.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// σ_w.
    #[arg(long, default_value_t = kernel::default_network().w_std)]
    pub w_std: f64,
    /// σ_b (no bias when absent).
    #[arg(long)]
    pub b_std: Option<f64>,
    /// ntk or standard.
    #[arg(long, default_value = "ntk")]
    pub parameterization: crate::nn::Parameterization,
    /// Hidden width (used by the standard parameterization's NTK only).
    #[arg(long, default_value_t = kernel::default_network().width)]
    pub width: usize,
    /// ntk or nngp.
    #[arg(long, default_value = "ntk")]
    pub kind: crate::kernel::Kind,
    /// Gauss–Hermite points per axis for activations without a closed form (1 to 1000).
    #[arg(long, default_value_t = kernel::default_network().quadrature_degree)]
    pub quadrature_degree: usize,
}

impl NetworkArgs {
    /// The `--net` request (the NET.toml file read and parsed), `None` without `--net`.
    pub fn conv(&self) -> Result<Option<super::conv::Request>> {
        self.net
            .as_deref()
            .map(|path| super::conv::Request::read(path, self.kind))
            .transpose()
    }

    /// The architecture (the activation parsed, errors naming `--activation`; then checked) and
    /// the kernel.
    pub fn network(&self) -> Result<(crate::kernel::analytic::Network, crate::kernel::Kind)> {
        let activation = self
            .activation
            .parse()
            .map_err(|m: String| Error::invalid("--activation", m))?;
        let depth = self
            .depth
            .ok_or_else(|| Error::invalid("--depth", "required (or --net NET.toml)"))?;
        let network = crate::kernel::analytic::Network {
            depth,
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

/// `gradflow kernel`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct KernelArgs {
    /// Inputs (n × d NPY).
    #[arg(long)]
    pub x: PathBuf,
    /// Second inputs (m × d); default: x itself.
    #[arg(long)]
    pub x2: Option<PathBuf>,
    #[command(flatten)]
    pub net: NetworkArgs,
    /// Output NPY (n × m).
    #[arg(long)]
    pub out: PathBuf,
    /// Rows computed per block (memory bound for streaming large kernels).
    #[arg(long, default_value_t = kernel::Request::default().block_rows)]
    pub block_rows: usize,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

impl KernelArgs {
    /// The request, checked.
    pub fn request(&self) -> Result<kernel::Request> {
        let (network, kind) = self.net.network()?;
        let request = kernel::Request {
            network,
            kind,
            block_rows: self.block_rows,
        };
        request.validate()?;
        Ok(request)
    }

    /// `--x` and `--x2` read from their files.
    pub fn inputs(&self) -> Result<(Input, Option<Input>)> {
        let x = Input::read(&self.x, "--x")?;
        let x2 = self
            .x2
            .as_ref()
            .map(|p| Input::read(p, "--x2"))
            .transpose()?;
        Ok((x, x2))
    }
}

/// `gradflow predict`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct PredictArgs {
    /// Training inputs.
    #[arg(long)]
    pub x_train: PathBuf,
    /// Training targets (n or n × k).
    #[arg(long)]
    pub y_train: PathBuf,
    /// Test inputs.
    #[arg(long)]
    pub x_test: PathBuf,
    /// Times, comma-separated; `inf` for t = ∞.
    #[arg(long, value_delimiter = ',', default_value = "inf")]
    pub time: Vec<String>,
    #[command(flatten)]
    pub net: NetworkArgs,
    /// η.
    #[arg(long, default_value_t = predict::Request::default().flow.learning_rate)]
    pub learning_rate: f64,
    /// Diagonal regularisation r (relative to tr(Θ)/n unless --diag-reg-absolute).
    #[arg(long, default_value_t = predict::Request::default().flow.diag_reg)]
    pub diag_reg: f64,
    /// Make --diag-reg absolute.
    #[arg(long)]
    pub diag_reg_absolute: bool,
    /// Finite times by `eigen` (full eigendecomposition), `krylov` (Lanczos
    /// matrix-function–vector products) or `auto` (krylov for n ≥ 400 and ≤ 8 outputs).
    #[arg(long, default_value = "auto")]
    pub solver: crate::kernel::dynamics::Solver,
    /// Initial outputs on the training inputs (default 0; give --f0-test with it).
    #[arg(long, requires = "f0_test")]
    pub f0_train: Option<PathBuf>,
    /// Initial outputs on the test inputs (default 0; give --f0-train with it).
    #[arg(long, requires = "f0_train")]
    pub f0_test: Option<PathBuf>,
    /// Also write the training predictions (times × n × k).
    #[arg(long)]
    pub out_train: Option<PathBuf>,
    /// Test predictions (times × n_test × k).
    #[arg(long)]
    pub out: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cg: CgArgs,
}

/// `gradflow predict`'s flags of the distributed route (t = ∞ by preconditioned CG, finite
/// times by Lanczos, [`crate::distributed::krr`]; the route of every `predict` under `mpirun`).
#[derive(clap::Args, Clone, Debug)]
pub struct CgArgs {
    /// The distributed route: t = ∞ by Nyström-preconditioned conjugate gradients instead of
    /// Cholesky (needs --diag-reg > 0), finite times by Lanczos over the same row-distributed
    /// product (always on under mpirun).
    #[arg(long)]
    pub pcg: bool,
    /// Never store the kernel: recompute its rows, --block-rows at a time, in every CG
    /// product (implies --pcg).
    #[arg(long)]
    pub matrix_free: bool,
    /// Nyström landmarks (rank) of the CG preconditioner.
    #[arg(long, default_value_t = crate::distributed::krr::Settings::default().preconditioner_rank)]
    pub pcg_rank: usize,
    /// CG stops at relative residual ‖r‖/‖y‖ ≤ this.
    #[arg(long, default_value_t = crate::distributed::pcg::Settings::default().tolerance)]
    pub pcg_tol: f64,
    /// The most CG iterations (exit 3 beyond).
    #[arg(long, default_value_t = crate::distributed::pcg::Settings::default().max_iterations)]
    pub pcg_max_iter: usize,
    /// Kernel rows computed at a time by the CG route (matrix-free tiles, test rows).
    #[arg(long, default_value_t = crate::distributed::krr::Settings::default().block_rows)]
    pub block_rows: usize,
}

impl CgArgs {
    /// The CG route's settings, when it is asked for (`--pcg`, `--matrix-free`) or `always`
    /// (under mpirun); checked (errors name the flags).
    pub fn settings(&self, always: bool) -> Result<Option<crate::distributed::krr::Settings>> {
        if !(always || self.pcg || self.matrix_free) {
            return Ok(None);
        }
        let settings = crate::distributed::krr::Settings {
            preconditioner_rank: self.pcg_rank,
            matrix_free: self.matrix_free,
            block_rows: self.block_rows,
            cg: crate::distributed::pcg::Settings {
                tolerance: self.pcg_tol,
                max_iterations: self.pcg_max_iter,
            },
        };
        settings.cg.validate()?;
        if self.pcg_rank == 0 {
            return Err(Error::invalid("--pcg-rank", "expected ≥ 1 landmark"));
        }
        if self.block_rows == 0 {
            return Err(Error::invalid("--block-rows", "expected ≥ 1 row per block"));
        }
        Ok(Some(settings))
    }
}

/// The inputs of `predict` read from their files: x_train, y_train, x_test and the optional
/// initial outputs (train, test).
pub type PredictInputs = (Input, Input, Input, Option<(Input, Input)>);

/// The inputs of `predict --net` read from their files: the training and test images (with
/// the NET.toml's input shape), y_train and the optional initial outputs (train, test).
pub type ConvPredictInputs = (Images, Input, Images, Option<(Input, Input)>);

impl PredictArgs {
    /// The times (parsed; errors name `--time`) and the flow settings, checked.
    pub fn flow(&self) -> Result<(Vec<f64>, crate::kernel::dynamics::FlowSettings)> {
        let times = crate::kernel::dynamics::parse_times("--time", &self.time)?;
        crate::kernel::dynamics::check_times(&times)?;
        let flow = crate::kernel::dynamics::FlowSettings {
            learning_rate: self.learning_rate,
            diag_reg: self.diag_reg,
            diag_reg_absolute: self.diag_reg_absolute,
            solver: self.solver,
        };
        flow.validate()?;
        Ok((times, flow))
    }

    /// The request (times parsed; errors name `--time`), checked.
    pub fn request(&self) -> Result<predict::Request> {
        let (network, kind) = self.net.network()?;
        let (times, flow) = self.flow()?;
        let request = predict::Request {
            network,
            kind,
            times,
            flow,
        };
        request.validate()?;
        Ok(request)
    }

    /// The inputs read from their files.
    pub fn inputs(&self) -> Result<PredictInputs> {
        Ok((
            Input::read(&self.x_train, "--x-train")?,
            Input::read(&self.y_train, "--y-train")?,
            Input::read(&self.x_test, "--x-test")?,
            self.initial()?,
        ))
    }

    /// The inputs of `--net` read from their files (images: see [`conv::read_images`]).
    pub fn conv_inputs(&self) -> Result<ConvPredictInputs> {
        Ok((
            conv::read_images(&self.x_train, "--x-train")?,
            Input::read(&self.y_train, "--y-train")?,
            conv::read_images(&self.x_test, "--x-test")?,
            self.initial()?,
        ))
    }

    /// `--f0-train` and `--f0-test` read from their files (clap requires both or neither).
    fn initial(&self) -> Result<Option<(Input, Input)>> {
        Ok(match (&self.f0_train, &self.f0_test) {
            (Some(a), Some(b)) => {
                Some((Input::read(a, "--f0-train")?, Input::read(b, "--f0-test")?))
            }
            _ => None,
        })
    }
}

/// `gradflow ot`'s flags (the library's [`crate::transport::Settings`]).
#[derive(clap::Args, Clone, Debug)]
pub struct OtArgs {
    /// Source points (n × d NPY).
    #[arg(long)]
    pub x: PathBuf,
    /// Target points (m × d NPY).
    #[arg(long)]
    pub y: PathBuf,
    /// Source weights (n; default uniform; normalised to sum 1).
    #[arg(long)]
    pub wx: Option<PathBuf>,
    /// Target weights (m; default uniform; normalised to sum 1).
    #[arg(long)]
    pub wy: Option<PathBuf>,
    /// Solver: exact (network simplex), sinkhorn (log-domain, at --reg), sliced (over
    /// --projections directions) or 1d (exact on the line).
    #[arg(long, default_value = "exact")]
    pub method: crate::transport::Method,
    /// Order p of W_p (cost ‖x − y‖^p).
    #[arg(long, default_value_t = crate::transport::Settings::default().p)]
    pub p: f64,
    /// Entropic regularisation ε > 0 (required with --method sinkhorn).
    #[arg(long, required_if_eq("method", "sinkhorn"))]
    pub reg: Option<f64>,
    /// Sinkhorn: stop when both marginals of the plan are within TOL (Euclidean norm).
    #[arg(long, default_value_t = crate::transport::Settings::default().tol)]
    pub tol: f64,
    /// Sinkhorn: at most this many iterations at the final ε; a run that stops here without
    /// reaching --tol exits 3.
    #[arg(long, default_value_t = crate::transport::Settings::default().max_iter)]
    pub max_iter: usize,
    /// Sinkhorn: ε-scaling factor θ ∈ (0, 1) (default: automatic).
    #[arg(long)]
    pub eps_scaling: Option<f64>,
    /// Sinkhorn: never store the cost matrix (recompute it each iteration).
    #[arg(long)]
    pub online: bool,
    /// Sinkhorn: also compute the debiased Sinkhorn divergence.
    #[arg(long)]
    pub divergence: bool,
    /// Sliced: number of projections.
    #[arg(long, default_value_t = crate::transport::Settings::default().projections)]
    pub projections: usize,
    /// Sliced: seed of the projections.
    #[arg(long, default_value_t = crate::transport::Settings::default().seed)]
    pub seed: u64,
    /// Write the dense plan (n × m NPY) here.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl OtArgs {
    /// The settings (a plan asked by `--plan`); checked by [`super::ot::run`].
    pub fn request(&self) -> super::ot::Request {
        crate::transport::Settings {
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
            plan: self.plan.is_some(),
        }
    }

    /// The two measures read from their files (errors name the file and the flag).
    pub fn measures(&self) -> Result<(crate::transport::Measure, crate::transport::Measure)> {
        use crate::transport::Measure;
        Ok((
            Measure::read(&self.x, self.wx.as_deref(), "--x", "--wx")?,
            Measure::read(&self.y, self.wy.as_deref(), "--y", "--wy")?,
        ))
    }
}

/// `gradflow run`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// The spec file.
    pub spec: PathBuf,
    /// Output folder (default: the spec's name without extension, in the current folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue each trial from its checkpoint in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl RunArgs {
    /// The request: the spec read and parsed, the output folder resolved.
    pub fn request(&self) -> Result<run::Request> {
        run::Request::from_file(&self.spec, self.out.clone(), self.resume)
    }
}

/// `gradflow reproduce`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct ReproduceArgs {
    /// The quick setting: fewer widths, seeds and steps (about a minute on two cores; the
    /// full setting takes a few minutes).
    #[arg(long)]
    pub quick: bool,
    /// Only these claim ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Output folder.
    #[arg(long, default_value = "gradflow-out")]
    pub out: PathBuf,
    /// Root seed.
    #[arg(long, default_value_t = 0, conflicts_with = "seeds")]
    pub seed: u64,
    /// Several root seeds (e.g. 0-9 or 0,3,5-7): one output folder per seed and a table
    /// over seeds (seeds.json, seeds.csv).
    #[arg(long)]
    pub seeds: Option<String>,
    /// Also list, per claim, each negative control (a setting that breaks a hypothesis of
    /// the theorem) with the checks it ran and their verdicts. The controls always run:
    /// every check must fail under its own.
    #[arg(long)]
    pub negative_control: bool,
}

impl ReproduceArgs {
    /// The request (`--seeds` parsed; `quiet` from the global flag), checked.
    pub fn request(&self, quiet: bool) -> Result<reproduce::Request> {
        let seeds = match &self.seeds {
            Some(text) => crate::claims::parse_seeds(text)?,
            None => vec![self.seed],
        };
        let request = reproduce::Request {
            quick: self.quick,
            only: self.only.clone(),
            out: self.out.clone(),
            seeds,
            quiet,
            negative_control: self.negative_control,
        };
        request.validate()?;
        Ok(request)
    }
}
