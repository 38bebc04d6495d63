//! `mpirun -n P gradflow reproduce`: the claims × seeds of [`crate::claims::reproduce`] spread
//! over the ranks, the outputs written by rank 0 exactly as one process writes them.
//!
//! * **Assignment.** The runs (seed s, claim k) are ordered by decreasing estimated cost
//!   ([`cost`]; ties in (seed, claim) order) and dealt longest first to the least-loaded rank
//!   (ties to the lowest rank) — a deterministic function of the claims, the seeds and P
//!   ([`assign`]).
//! * **Runs.** Each rank runs its share with [`crate::claims::run_claim`] — the seed of a run
//!   is a function of the root seed and the claim id only, so a run gives the same numbers on
//!   whichever rank it runs.
//! * **Gather.** Each rank encodes its results ([`super::wire`]: every f64 exact, NaN and
//!   infinities included) and every rank receives every rank's ([`Communicator::all_gather_bytes`]),
//!   so every rank returns the same reports (and the job the same exit code on every rank).
//! * **Outputs.** Rank 0 alone writes, after the gather: the claim folders (tables, figures),
//!   `summary.json` and `index.html` per seed, `seeds.json` / `seeds.csv` over several seeds,
//!   and the results table on stdout, through the same functions as the single-process run
//!   ([`crate::claims::write_claim`], [`crate::claims::write_seed`],
//!   [`crate::claims::finish`]): the files are those of one process, byte for byte, except
//!   `index.html`'s date line (and its thread count where the ranks' differ from one
//!   process's). Nothing is written before every rank has finished its share, so a run that a
//!   failure ends (any rank's error aborts the job: `MPI_Abort`) leaves no output.

use super::{wire, Communicator};
use crate::claims::{self, ClaimResult, Options, Progress, Report};
use crate::commands::Cancel;
use crate::error::{Error, Result};

/// Relative cost of each claim's run: wall seconds of its quick setting (normal run and
/// controls) in one `reproduce --quick` on the 2-core development machine under load; a claim
/// not listed counts as 10. Only the order and rough ratios matter: they balance the ranks'
/// shares (the full setting's costs are roughly proportional).
const COSTS: &[(&str, f64)] = &[
    ("optimizers", 13.8),
    ("narrow-vs-wide", 72.3),
    ("deep-linear", 7.7),
    ("matrix-completion", 51.8),
    ("connectivity", 46.3),
    ("teacher-student", 57.1),
    ("ntk-linear-rate", 26.6),
    ("ntk-concentration", 0.2),
    ("ntk-positive", 0.1),
    ("ntk-generalization", 17.0),
    ("spectral-bias", 8.5),
    ("kernel-vs-network", 16.1),
    ("averaged-sgd", 117.1),
    ("lazy-vs-rich", 40.1),
    ("meanfield-limit", 16.0),
    ("meanfield-langevin", 92.0),
    ("wasserstein-flow", 9.0),
    ("implicit-bias", 13.5),
    ("smoothing", 3.8),
    ("langevin-stationary", 29.9),
    ("infinite-langevin", 15.4),
    ("low-noise-classification", 96.3),
    ("sgld-excess-risk", 30.9),
];

/// The estimated cost of claim `id`'s run ([`COSTS`]).
pub fn cost(id: &str) -> f64 {
    COSTS
        .iter()
        .find(|(c, _)| *c == id)
        .map_or(10.0, |&(_, seconds)| seconds)
}

/// The rank that runs each task, for tasks t = s·costs.len() + k (seed s, claim k of cost
/// `costs[k]`) over `seeds` seeds and `ranks` ranks: tasks by decreasing cost (ties in task
/// order), each to the rank with the least cost so far (ties to the lowest rank).
pub fn assign(costs: &[f64], seeds: usize, ranks: usize) -> Vec<usize> {
    let ranks = ranks.max(1);
    let tasks = costs.len() * seeds;
    let mut order: Vec<usize> = (0..tasks).collect();
    order.sort_by(|&a, &b| {
        costs[b % costs.len()]
            .total_cmp(&costs[a % costs.len()])
            .then(a.cmp(&b))
    });
    let mut load = vec![0.0_f64; ranks];
    let mut owner = vec![0; tasks];
    for t in order {
        let q = (0..ranks)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        owner[t] = q;
        load[q] += costs[t % costs.len()];
    }
    owner
}

/// One rank's results, as sent to the others.
#[derive(serde::Serialize, serde::Deserialize)]
struct Share {
    /// The runs, in the order they ran.
    runs: Vec<Run>,
}

/// One run: its task number (see [`assign`]) and its result.
#[derive(serde::Serialize, serde::Deserialize)]
struct Run {
    task: usize,
    result: ClaimResult,
}

/// Runs the claims × seeds of `options` over the ranks of `comm` and writes the outputs on
/// rank 0 (module doc); returns one report per seed on every rank. Collective. `cancel` is
/// polled before each of this rank's runs.
pub fn reproduce(
    comm: &dyn Communicator,
    options: &Options,
    cancel: Cancel,
) -> Result<Vec<Report>> {
    options.validate()?;
    // Every rank must run the same request, or the shares would not fit together.
    let request = format!(
        "quick {} only {:?} seeds {:?} out {:?}",
        options.quick, options.only, options.seeds, options.out
    );
    let requests = comm.all_gather_bytes(request.as_bytes());
    if let Some(q) = requests.iter().position(|r| r[..] != *request.as_bytes()) {
        return Err(Error::invalid(
            "mpirun",
            format!(
                "rank {q} was started with other `reproduce` flags than rank {}: every rank \
                 must run the same --quick, --only, --seed(s) and --out",
                comm.rank()
            ),
        ));
    }
    let selected = claims::selected(options);
    let costs: Vec<f64> = selected.iter().map(|c| cost(c.id())).collect();
    let owner = assign(&costs, options.seeds.len(), comm.size());
    let mine: Vec<usize> = (0..owner.len())
        .filter(|&t| owner[t] == comm.rank())
        .collect();
    let progress = Progress::new(mine.len(), options.quiet);
    let mut share = Share { runs: Vec::new() };
    for (i, &task) in mine.iter().enumerate() {
        let (claim, seed) = (&selected[task % selected.len()], task / selected.len());
        let seed = options.seeds[seed];
        let label = claims::run_label(options, claim.id(), seed);
        cancel.check(|| format!("before claim {label}"))?;
        progress.start(i, &label);
        let result = claims::run_claim(claim.as_ref(), options.quick, seed);
        progress.finish(i, &label, result.passed(), result.seconds);
        share.runs.push(Run { task, result });
    }
    progress.done();
    let all = comm.all_gather_bytes(&wire::encode(&share)?);
    let mut results: Vec<Option<ClaimResult>> = vec![None; owner.len()];
    for (q, bytes) in all.iter().enumerate() {
        let share: Share = wire::decode(bytes)?;
        for run in share.runs {
            if owner.get(run.task) != Some(&q) {
                return Err(lost(format!(
                    "rank {q} sent task {}, not its own",
                    run.task
                )));
            }
            results[run.task] = Some(run.result);
        }
    }
    let write = comm.rank() == 0;
    let mut reports = Vec::with_capacity(options.seeds.len());
    let mut results = results.into_iter();
    for &seed in &options.seeds {
        let out = claims::seed_folder(options, seed);
        if write {
            std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        }
        let mut done = Vec::with_capacity(selected.len());
        for claim in &selected {
            let mut result = results
                .next()
                .flatten()
                .ok_or_else(|| lost(format!("no rank sent claim {} at seed {seed}", claim.id())))?;
            if write {
                claims::write_claim(&out, &mut result)?;
            }
            done.push(result);
        }
        let report = Report { seed, claims: done };
        if write {
            claims::write_seed(&out, &report, options)?;
        }
        reports.push(report);
    }
    if write {
        claims::finish(options, &reports)?;
    }
    Ok(reports)
}

/// The error of a gather that did not bring back every run.
fn lost(message: String) -> Error {
    Error::Format {
        path: "(results gathered from the ranks)".into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::Local;

    /// Every task gets exactly one rank; the loads differ by at most the largest cost (the
    /// greedy bound); one rank takes everything; the assignment is a pure function.
    #[test]
    fn tasks_are_dealt_once_and_balanced() {
        let costs = [14.0, 3.0, 7.5, 1.0, 9.0];
        for ranks in 1..=4 {
            for seeds in 1..=3 {
                let owner = assign(&costs, seeds, ranks);
                assert_eq!(owner.len(), costs.len() * seeds);
                assert!(owner.iter().all(|&q| q < ranks));
                let mut load = vec![0.0; ranks];
                for (t, &q) in owner.iter().enumerate() {
                    load[q] += costs[t % costs.len()];
                }
                let (lo, hi) = load
                    .iter()
                    .fold((f64::INFINITY, 0.0_f64), |(l, h), &x| (l.min(x), h.max(x)));
                assert!(hi - lo <= 14.0, "{load:?}");
                assert_eq!(owner, assign(&costs, seeds, ranks));
            }
        }
        assert_eq!(assign(&costs, 2, 1), vec![0; 10]);
        // The two costliest go to different ranks.
        let owner = assign(&costs, 1, 2);
        assert_ne!(owner[0], owner[4]);
        assert!(COSTS.iter().all(|&(id, _)| claims::selected(&Options {
            only: vec![id.into()],
            ..Options::default()
        })
        .len()
            == 1));
    }

    /// On one rank, the outputs are those of the single-process run (summary.json and the
    /// claim's CSV files equal byte for byte), and the reports carry the same checks.
    #[test]
    fn one_rank_writes_what_one_process_writes() {
        let base = std::env::temp_dir().join(format!("gradflow-dist-rep-{}", std::process::id()));
        let options = |dir: &str| Options {
            quick: true,
            only: vec!["ntk-positive".into()],
            out: base.join(dir),
            quiet: true,
            ..Options::default()
        };
        let single = claims::reproduce(&options("single")).unwrap();
        let spread = reproduce(&Local, &options("local"), Cancel::NEVER).unwrap();
        let read = |dir: &str, file: &str| std::fs::read(base.join(dir).join(file)).unwrap();
        assert_eq!(
            read("single", "summary.json"),
            read("local", "summary.json")
        );
        let csvs = std::fs::read_dir(base.join("single/ntk-positive")).unwrap();
        let mut compared = 0;
        for entry in csvs {
            let name = entry.unwrap().file_name();
            let name = name.to_string_lossy();
            let file = format!("ntk-positive/{name}");
            assert_eq!(read("single", &file), read("local", &file), "{file}");
            compared += 1;
        }
        assert!(compared > 0);
        assert_eq!(single.len(), spread.len());
        assert_eq!(single[0].all_passed(), spread[0].all_passed());
        let _ = std::fs::remove_dir_all(&base);
    }
}
