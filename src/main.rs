//! The `gradflow` command line: parses, calls the library, writes. See the README for the
//! contract (exit codes: 0 ok, 1 a check failed or a run diverged, 2 bad input).

use clap::{Parser, Subcommand};
use gradflow::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gradflow",
    version,
    about = "Optimization theory of deep learning: train in the NTK, mean-field and Langevin regimes and check the theorems"
)]
struct Cli {
    /// Worker threads (results do not depend on it); default: all cores.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the claims of the source document and check them against their predictions.
    Reproduce {
        /// The quick setting (minutes instead of hours).
        #[arg(long)]
        quick: bool,
        /// Only these claim ids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Output folder.
        #[arg(long, default_value = "gradflow-out")]
        out: PathBuf,
        /// Root seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// List the claims, one line each.
    List,
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
        if threads == 0 {
            return Err(Error::invalid("--threads", "expected at least 1 thread"));
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
            match outcome {
                Ok(o) => {
                    if json {
                        println!("{}", o.summary);
                    }
                    if !quiet {
                        for (k, t) in o.trials.iter().enumerate() {
                            let last = t.table.rows.last().cloned().unwrap_or_default();
                            let loss = t.table.column("train_loss").and_then(|c| c.last().copied());
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
        Command::Reproduce {
            quick,
            only,
            out,
            seed,
        } => {
            let options = gradflow::claims::Options {
                quick,
                only,
                out,
                seed,
                quiet,
            };
            let report = gradflow::claims::reproduce(&options)?;
            Ok(if report.all_passed() { 0 } else { 1 })
        }
    }
}
