//! The `gradflow` command line: parses, calls the library's commands ([`gradflow::commands`]),
//! writes and prints. See the README for the contract (exit codes: 0 ok, 1 a check failed or a
//! run diverged, 2 bad input, 3 a numerical failure: a singular kernel, a Sinkhorn run that did
//! not converge).

use clap::{Parser, Subcommand};
use gradflow::commands::{self, args, Cancel};
use gradflow::distributed::Communicator;
use gradflow::error::Error;
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

/// Exit code of a numerical failure: a result computed but not trustworthy (a Sinkhorn run
/// that did not converge or overflowed, a numerically singular kernel).
const EXIT_NUMERICAL: u8 = 3;

#[derive(Subcommand)]
enum Command {
    /// Run the claims of the source document and check them against their predictions.
    #[command(allow_negative_numbers = true)]
    Reproduce(args::ReproduceArgs),
    /// List the claims, one line each.
    List,
    /// The infinite-width NTK or NNGP kernel of a fully connected net between input sets.
    #[command(allow_negative_numbers = true)]
    Kernel(args::KernelArgs),
    /// Predictions of the infinitely wide net trained by gradient flow (or at t = ∞).
    #[command(allow_negative_numbers = true)]
    Predict(args::PredictArgs),
    /// Wasserstein distance between two point clouds (exact, Sinkhorn, sliced or 1-D).
    #[command(allow_negative_numbers = true)]
    Ot(args::OtArgs),
    /// Run one experiment spec (TOML); writes metrics.csv, summary.json and params.npy.
    Run(args::RunArgs),
}

impl Command {
    /// The command's name on the command line.
    fn name(&self) -> &'static str {
        match self {
            Command::Reproduce(_) => "reproduce",
            Command::List => "list",
            Command::Kernel(_) => "kernel",
            Command::Predict(_) => "predict",
            Command::Ot(_) => "ot",
            Command::Run(_) => "run",
        }
    }
}

fn main() -> ExitCode {
    gradflow::signals::default_sigpipe();
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
    // Under an MPI launcher (`mpirun -n P gradflow …`, built with `--features mpi`), the ranks
    // of MPI_COMM_WORLD; else one process.
    #[cfg(feature = "mpi")]
    let world = if gradflow::distributed::mpi::launched() {
        gradflow::distributed::mpi::World::initialize()
    } else {
        None
    };
    #[cfg(feature = "mpi")]
    let mpi: Option<&dyn Communicator> = world.as_ref().map(|w| w as &dyn Communicator);
    #[cfg(not(feature = "mpi"))]
    let mpi: Option<&dyn Communicator> = None;
    match execute(cli, mpi) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            match mpi {
                Some(c) if c.size() > 1 => {
                    eprintln!("error (rank {} of {}): {e}", c.rank(), c.size())
                }
                _ => eprintln!("error: {e}"),
            }
            // One rank's failure ends every rank (no rank waits in a collective forever).
            #[cfg(feature = "mpi")]
            if let Some(w) = &world {
                if w.size() > 1 {
                    w.abort(e.exit_code());
                }
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn execute(cli: Cli, mpi: Option<&dyn Communicator>) -> Result<u8, Error> {
    if let Some(threads) = cli.threads {
        commands::threads::install("--threads", threads)?;
    }
    // Ranks other than 0 of an MPI job print nothing but errors.
    let quiet = cli.quiet || mpi.is_some_and(|c| c.rank() > 0);
    commands::check_ranks(cli.command.name(), mpi.map_or(1, |c| c.size()))?;
    match cli.command {
        Command::List => {
            for (id, title) in commands::list::run() {
                println!("{id:<26} {title}");
            }
            Ok(0)
        }
        Command::Run(a) => {
            let request = a.request()?;
            let out = request.out.clone().unwrap_or_default();
            let started = std::time::Instant::now();
            match commands::run::run_on(&request, Cancel::NEVER, mpi) {
                Ok(o) => {
                    if a.json && !quiet_rank(mpi) {
                        println!("{}", o.summary);
                    }
                    if !quiet {
                        for (k, t) in o.trials.iter().enumerate() {
                            let (step, loss) = commands::run::last_step_and_loss(t);
                            eprintln!("trial {k}: step {step} train_loss {loss:.6e}");
                        }
                        let seconds = started.elapsed().as_secs_f64();
                        eprintln!("wrote {} in {seconds:.2} s", out.display());
                    }
                    Ok(0)
                }
                Err(e @ Error::Diverged { .. }) => {
                    if !quiet {
                        let dir = out.display();
                        eprintln!("the metrics recorded before the divergence are in {dir}");
                    }
                    Err(e)
                }
                Err(e) => Err(e),
            }
        }
        Command::Ot(a) => {
            let request = a.request();
            let (mu, nu) = a.measures()?;
            let started = std::time::Instant::now();
            let mut output = commands::ot::run(&request, &mu, &nu, Cancel::NEVER)?;
            if let Some(path) = &a.plan {
                commands::ot::save_plan(&mut output, path)?;
            }
            if a.json {
                println!("{}", commands::ot::summary(&output)?);
            }
            if let Some(message) = &output.failure {
                eprintln!("warning: {message}");
                return Ok(EXIT_NUMERICAL);
            }
            if !quiet {
                let r = &output.report;
                let p = r.p;
                eprintln!(
                    "W_{p} = {} (W_{p}^{p} = {}) by {} in {:.3} s",
                    r.distance,
                    r.cost,
                    r.method,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(0)
        }
        Command::Kernel(a) => {
            let comm = mpi.unwrap_or(&gradflow::distributed::Local);
            if let Some(mut request) = a.net.conv()? {
                request.block_rows = a.block_rows;
                let x = commands::conv::read_images(&a.x, "--x")?;
                let x2 =
                    a.x2.as_ref()
                        .map(|p| commands::conv::read_images(p, "--x2"))
                        .transpose()?;
                let inputs = (&x, x2.as_ref());
                let shape = commands::conv::save(&request, inputs, &a.out, comm, Cancel::NEVER)?;
                if a.json && !quiet_rank(mpi) {
                    println!("{}", commands::conv::summary(&request, &a.out, shape));
                }
                if !quiet {
                    eprintln!("wrote {} ({} × {})", a.out.display(), shape.0, shape.1);
                }
                return Ok(0);
            }
            let request = a.request()?;
            let (x, x2) = a.inputs()?;
            let shape =
                commands::kernel::save(&request, (&x, x2.as_ref()), &a.out, comm, Cancel::NEVER)?;
            if a.json && !quiet_rank(mpi) {
                println!("{}", commands::kernel::summary(&request, &a.out, shape));
            }
            if !quiet {
                eprintln!("wrote {} ({} × {})", a.out.display(), shape.0, shape.1);
            }
            Ok(0)
        }
        Command::Predict(a) => {
            if let Some(request) = a.net.conv()? {
                let (times, flow) = a.flow()?;
                let (x_train, y_train, x_test, f0) = a.conv_inputs()?;
                let data = (&x_train, &y_train, &x_test);
                let f0 = f0.as_ref().map(|(p, q)| (p, q));
                // The conjugate-gradient route: asked for, or always under MPI.
                let (predictions, cg) = match a.cg.settings(mpi.is_some())? {
                    Some(settings) => {
                        let comm = mpi.unwrap_or(&gradflow::distributed::Local);
                        let solution = commands::conv::predict_distributed(
                            comm,
                            &request,
                            &settings,
                            data,
                            f0,
                            &times,
                            &flow,
                            Cancel::NEVER,
                        )?;
                        let cg =
                            gradflow::distributed::krr::summary(&solution, &settings, comm.size());
                        (solution.predictions, Some(cg))
                    }
                    None => (
                        commands::conv::predict(&request, data, f0, &times, &flow)?,
                        None,
                    ),
                };
                if quiet_rank(mpi) {
                    // Rank 0 writes the files and prints.
                    return Ok(0);
                }
                let shape = commands::predict::save(&predictions, &a.out, a.out_train.as_deref())?;
                if a.json {
                    let mut summary = commands::predict::summary(
                        request.kind,
                        Some(&request.path),
                        &predictions,
                        &a.out,
                        &shape,
                        &a.time,
                        x_train.n,
                    );
                    if let Some(cg) = cg {
                        summary["pcg"] = cg;
                    }
                    println!("{summary}");
                }
                if !quiet {
                    eprintln!("wrote {} {:?}", a.out.display(), shape);
                }
                return Ok(0);
            }
            let request = a.request()?;
            let (x_train, y_train, x_test, f0) = a.inputs()?;
            let f0 = f0
                .as_ref()
                .map(|(train, test)| commands::predict::Initial { train, test });
            // The conjugate-gradient route: asked for, or always under MPI.
            let (predictions, cg) = match a.cg.settings(mpi.is_some())? {
                Some(settings) => {
                    let comm = mpi.unwrap_or(&gradflow::distributed::Local);
                    let solution = gradflow::distributed::krr::predict(
                        comm,
                        &request,
                        &settings,
                        &x_train,
                        &y_train,
                        &x_test,
                        f0,
                        Cancel::NEVER,
                    )?;
                    let cg = gradflow::distributed::krr::summary(&solution, &settings, comm.size());
                    (solution.predictions, Some(cg))
                }
                None => (
                    commands::predict::run(
                        &request,
                        &x_train,
                        &y_train,
                        &x_test,
                        f0,
                        Cancel::NEVER,
                    )?,
                    None,
                ),
            };
            if quiet_rank(mpi) {
                // Rank 0 writes the files and prints.
                return Ok(0);
            }
            let shape = commands::predict::save(&predictions, &a.out, a.out_train.as_deref())?;
            if a.json {
                let n_train = x_train.matrix.rows;
                let mut summary = commands::predict::summary(
                    request.kind,
                    None,
                    &predictions,
                    &a.out,
                    &shape,
                    &a.time,
                    n_train,
                );
                if let Some(cg) = cg {
                    summary["pcg"] = cg;
                }
                println!("{summary}");
            }
            if !quiet {
                eprintln!("wrote {} {:?}", a.out.display(), shape);
            }
            Ok(0)
        }
        Command::Reproduce(a) => {
            let request = a.request(quiet)?;
            // Under mpirun the claims × seeds are spread over the ranks; rank 0 writes.
            let reports = match mpi {
                Some(comm) => {
                    gradflow::distributed::reproduce::reproduce(comm, &request, Cancel::NEVER)?
                }
                None => commands::reproduce::run(&request, Cancel::NEVER)?,
            };
            Ok(if commands::reproduce::all_passed(&reports) {
                0
            } else {
                1
            })
        }
    }
}

/// Whether this process is a rank other than 0 of an MPI job (which writes and prints nothing
/// but errors).
fn quiet_rank(mpi: Option<&dyn Communicator>) -> bool {
    mpi.is_some_and(|c| c.rank() > 0)
}
