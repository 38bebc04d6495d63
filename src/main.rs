//! The `gradflow` command line: parses, calls the library's commands ([`gradflow::commands`]),
//! writes and prints. See the README for the contract (exit codes: 0 ok, 1 a check failed or a
//! run diverged, 2 bad input, 3 a numerical failure: a singular kernel, a Sinkhorn run that did
//! not converge).

use clap::{Parser, Subcommand};
use gradflow::commands::{self, args, Cancel};
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
        commands::threads::install("--threads", threads)?;
    }
    let quiet = cli.quiet;
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
            match commands::run::run(&request) {
                Ok(o) => {
                    if a.json {
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
            let mut output = commands::ot::run(&request, &mu, &nu)?;
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
            let request = a.request()?;
            let (x, x2) = a.inputs()?;
            let shape = commands::kernel::save(&request, &x, x2.as_ref(), &a.out, Cancel::NEVER)?;
            if a.json {
                println!("{}", commands::kernel::summary(&request, &a.out, shape));
            }
            if !quiet {
                eprintln!("wrote {} ({} × {})", a.out.display(), shape.0, shape.1);
            }
            Ok(0)
        }
        Command::Predict(a) => {
            let request = a.request()?;
            let (x_train, y_train, x_test, f0) = a.inputs()?;
            let f0 = f0
                .as_ref()
                .map(|(train, test)| commands::predict::Initial { train, test });
            let predictions =
                commands::predict::run(&request, &x_train, &y_train, &x_test, f0, Cancel::NEVER)?;
            let shape = commands::predict::save(&predictions, &a.out, a.out_train.as_deref())?;
            if a.json {
                let n_train = x_train.matrix.rows;
                let summary = commands::predict::summary(
                    &request,
                    &predictions,
                    &a.out,
                    &shape,
                    &a.time,
                    n_train,
                );
                println!("{summary}");
            }
            if !quiet {
                eprintln!("wrote {} {:?}", a.out.display(), shape);
            }
            Ok(0)
        }
        Command::Reproduce(a) => {
            let reports = commands::reproduce::run(&a.request(quiet)?)?;
            Ok(if commands::reproduce::all_passed(&reports) {
                0
            } else {
                1
            })
        }
    }
}
