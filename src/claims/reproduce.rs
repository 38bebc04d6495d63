//! `gradflow reproduce`: runs each selected claim in its normal setting and under each of its
//! negative controls, for one or several seeds, attaches to every check what its own control
//! did, and writes the outputs (see [`super::report`]). The results table goes to stdout,
//! progress to stderr.

use super::{registry, report, Claim, ClaimOutcome, Context, Control, Verdict};
use crate::commands::Cancel;
use crate::error::{Error, Result};
use crate::rng::Seed;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `gradflow reproduce`.
#[derive(Clone, Debug)]
pub struct Options {
    /// Quick setting.
    pub quick: bool,
    /// Only these ids (all when empty).
    pub only: Vec<String>,
    /// Output folder.
    pub out: PathBuf,
    /// Root seeds: one gives the outputs in `out`, several one folder `out/seed-N` each plus a
    /// table over seeds.
    pub seeds: Vec<u64>,
    /// No progress output.
    pub quiet: bool,
    /// Show, per claim, each control with the checks it ran and their verdicts on the terminal
    /// (the controls run and are written to `summary.json` in every case).
    pub negative_control: bool,
}

impl Default for Options {
    /// The CLI's defaults: the full setting, every claim, `gradflow-out`, seed 0, progress
    /// shown, controls not listed.
    fn default() -> Options {
        Options {
            quick: false,
            only: Vec::new(),
            out: PathBuf::from("gradflow-out"),
            seeds: vec![0],
            quiet: false,
            negative_control: false,
        }
    }
}

impl Options {
    /// Checks that every id of `only` names a claim (the error lists the known ones) and
    /// that there is at least one seed.
    pub fn validate(&self) -> Result<()> {
        let all = registry();
        for id in &self.only {
            if !all.iter().any(|c| c.id() == id) {
                let ids: Vec<_> = all.iter().map(|c| c.id()).collect();
                return Err(Error::invalid(
                    "--only",
                    format!("unknown claim '{id}'; known claims: {}", ids.join(", ")),
                ));
            }
        }
        if self.seeds.is_empty() {
            return Err(Error::invalid("--seeds", "no seed given"));
        }
        Ok(())
    }
}

/// One run of a claim under one of its controls.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ControlRun {
    /// The control.
    pub control: Control,
    /// Its outcome (an error message when the run itself failed).
    pub outcome: std::result::Result<ClaimOutcome, String>,
}

/// The result of a claim run, for the summary.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ClaimResult {
    /// Id.
    #[serde(deserialize_with = "crate::distributed::wire::static_str")]
    pub id: crate::distributed::wire::Name,
    /// Title.
    #[serde(deserialize_with = "crate::distributed::wire::static_str")]
    pub title: crate::distributed::wire::Name,
    /// Statement.
    #[serde(deserialize_with = "crate::distributed::wire::static_str")]
    pub statement: crate::distributed::wire::Name,
    /// Setup.
    #[serde(deserialize_with = "crate::distributed::wire::static_str")]
    pub setup: crate::distributed::wire::Name,
    /// The normal setting's outcome, each check with its control's result attached.
    pub outcome: std::result::Result<ClaimOutcome, String>,
    /// The runs under each control.
    pub controls: Vec<ControlRun>,
    /// Wall-clock seconds of all the runs (reported on the terminal only, never in files).
    pub seconds: f64,
    /// The rendered SVG figures (as written to the claim's folder).
    pub svgs: Vec<String>,
}

impl ClaimResult {
    /// True when the run succeeded and every check's verdict is [`Verdict::Pass`]: the
    /// comparison passed, the check keeps the contract, and its own control failed it.
    pub fn passed(&self) -> bool {
        match &self.outcome {
            Ok(o) => o.checks.iter().all(|c| c.verdict() == Verdict::Pass),
            Err(_) => false,
        }
    }
}

/// Everything `reproduce` did for one root seed.
#[derive(Clone, Debug)]
pub struct Report {
    /// The root seed.
    pub seed: u64,
    /// Per claim.
    pub claims: Vec<ClaimResult>,
}

impl Report {
    /// True when every check of every claim passed under the contract.
    pub fn all_passed(&self) -> bool {
        self.claims.iter().all(ClaimResult::passed)
    }
}

/// The seed a claim runs with under root seed `root`: one stream per claim id, so that claims
/// do not share random numbers and adding a claim changes no other.
pub fn claim_seed(root: u64, id: &str) -> Seed {
    Seed(root).child(id, 0)
}

/// Runs `claim` at root seed `root` in its normal setting and under each of its controls, and
/// attaches to every normal check the result of the control it names.
pub fn run_claim(claim: &dyn Claim, quick: bool, root: u64) -> ClaimResult {
    let started = Instant::now();
    let ctx = Context {
        quick,
        seed: claim_seed(root, claim.id()),
        control: None,
    };
    let mut outcome = claim.run(&ctx).map_err(|e| e.to_string());
    let controls: Vec<ControlRun> = claim
        .controls()
        .iter()
        .map(|&control| ControlRun {
            control,
            outcome: claim
                .run(&Context {
                    control: Some(control.name),
                    ..ctx
                })
                .map_err(|e| e.to_string()),
        })
        .collect();
    if let Ok(o) = &mut outcome {
        let runs: Vec<_> = controls
            .iter()
            .map(|r| (r.control.name, r.outcome.clone()))
            .collect();
        o.attach_controls(&runs);
        for check in &mut o.checks {
            if let Some(name) = check.control {
                if !claim.controls().iter().any(|c| c.name == name) {
                    // A control the claim does not declare never ran: the check is weak.
                    check.control_result = None;
                    check.control = None;
                }
            }
        }
    }
    ClaimResult {
        id: claim.id(),
        title: claim.title(),
        statement: claim.statement(),
        setup: claim.setup(),
        outcome,
        controls,
        seconds: started.elapsed().as_secs_f64(),
        svgs: Vec::new(),
    }
}

/// Parses a seed list: comma-separated seeds and inclusive ranges, e.g. `0-9` or `0,3,5-7`.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>> {
    let bad = || {
        Error::invalid(
            "--seeds",
            format!("expected seeds and ranges such as 0-9 or 0,3,5-7, got '{text}'"),
        )
    };
    let mut seeds = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u64>(), b.trim().parse::<u64>()),
            None => (part.parse::<u64>(), part.parse::<u64>()),
        };
        let (lo, hi) = (lo.map_err(|_| bad())?, hi.map_err(|_| bad())?);
        if lo > hi || hi - lo >= 10_000 {
            return Err(bad());
        }
        for s in lo..=hi {
            if !seeds.contains(&s) {
                seeds.push(s);
            }
        }
    }
    if seeds.is_empty() || seeds.len() > 10_000 {
        return Err(bad());
    }
    Ok(seeds)
}

/// Progress on stderr: a bar when stderr is a terminal, one plain line per claim otherwise,
/// nothing with `--quiet`.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    quiet: bool,
}

impl Progress {
    /// Progress over `total` runs (nothing shown when `quiet`).
    pub(crate) fn new(total: usize, quiet: bool) -> Progress {
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

    /// Run `k` (from 0) starts.
    pub(crate) fn start(&self, k: usize, label: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(label.to_string()),
            None if !self.quiet => eprintln!("[{}/{}] {label} …", k + 1, self.total),
            None => {}
        }
    }

    /// Run `k` ended.
    pub(crate) fn finish(&self, k: usize, label: &str, passed: bool, seconds: f64) {
        let verdict = if passed { "PASS" } else { "FAIL" };
        match &self.bar {
            Some(bar) => {
                bar.println(format!("{verdict} {label} ({seconds:.1} s)"));
                bar.set_position(k as u64 + 1);
            }
            None if !self.quiet => eprintln!("      {verdict} in {seconds:.1} s"),
            None => {}
        }
    }

    /// Every run ended.
    pub(crate) fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs the selected claims for every seed and writes their outputs (see the module doc);
/// returns one report per seed.
pub fn reproduce(options: &Options) -> Result<Vec<Report>> {
    reproduce_with(options, Cancel::NEVER)
}

/// The claims `options` selects (all when `only` is empty), in the registry's order.
pub fn selected(options: &Options) -> Vec<Box<dyn Claim>> {
    registry()
        .into_iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|o| o == c.id()))
        .collect()
}

/// The folder of root seed `seed`'s outputs: `out` itself for one seed, `out/seed-N` for
/// several.
pub fn seed_folder(options: &Options, seed: u64) -> PathBuf {
    if options.seeds.len() > 1 {
        options.out.join(format!("seed-{seed}"))
    } else {
        options.out.clone()
    }
}

/// How progress lines name a claim's run: its id, and the seed when there are several.
pub fn run_label(options: &Options, id: &str, seed: u64) -> String {
    if options.seeds.len() > 1 {
        format!("{id} (seed {seed})")
    } else {
        id.to_string()
    }
}

/// Writes the claim's folder under `out` (tables and figures, [`report::write_claim_folder`])
/// and keeps the rendered figures in `result.svgs`; nothing for a run that failed.
pub fn write_claim(out: &std::path::Path, result: &mut ClaimResult) -> Result<()> {
    if let Ok(o) = &result.outcome {
        result.svgs = report::write_claim_folder(out, result.id, o)?;
    }
    Ok(())
}

/// Writes one seed's `summary.json` and `index.html` into `out`.
pub fn write_seed(out: &std::path::Path, report: &Report, options: &Options) -> Result<()> {
    report::write_summary(out, report, options)?;
    report::write_html(out, report, options)
}

/// What follows the last seed: `seeds.json` and `seeds.csv` when there are several seeds, and
/// the results table on stdout (the command's output, so that `> results.txt` keeps it;
/// progress goes to stderr and `--quiet` silences only that).
pub fn finish(options: &Options, reports: &[Report]) -> Result<()> {
    if options.seeds.len() > 1 {
        report::write_seed_table(&options.out, reports, options)?;
        print!("{}", report::terminal_seed_table(reports));
    } else {
        for r in reports {
            print!("{}", report::terminal_table(r, options.negative_control));
        }
    }
    Ok(())
}

/// [`reproduce`], polling `cancel` before every claim of every seed and, through
/// [`crate::commands::interrupt::watch`], inside the claims (every sweep cell, every training
/// step): once it fires it stops with [`Error::Interrupted`] within a fraction of a second (the
/// folders of the claims already finished stay; the interrupted claim's folder and the summary
/// of the interrupted seed are not written).
pub fn reproduce_with(options: &Options, cancel: Cancel) -> Result<Vec<Report>> {
    // The claims' own loops (sweep cells, training steps) are handed no hook: `watch` makes
    // them honour this one too, so that a running claim stops within a fraction of a second.
    crate::commands::interrupt::watch(cancel, || reproduce_watched(options, cancel))
}

fn reproduce_watched(options: &Options, cancel: Cancel) -> Result<Vec<Report>> {
    options.validate()?;
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let selected = selected(options);
    let progress = Progress::new(selected.len() * options.seeds.len(), options.quiet);
    let mut reports = Vec::new();
    for (s, &seed) in options.seeds.iter().enumerate() {
        let out = seed_folder(options, seed);
        std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        let mut results = Vec::new();
        for (k, claim) in selected.iter().enumerate() {
            let label = run_label(options, claim.id(), seed);
            let step = s * selected.len() + k;
            cancel.check(|| format!("before claim {label}"))?;
            progress.start(step, &label);
            let mut result = run_claim(claim.as_ref(), options.quick, seed);
            // Interrupted inside the claim: its result is not a finding (nor written).
            cancel.check(|| format!("in claim {label}"))?;
            write_claim(&out, &mut result)?;
            progress.finish(step, &label, result.passed(), result.seconds);
            results.push(result);
        }
        let report = Report {
            seed,
            claims: results,
        };
        write_seed(&out, &report, options)?;
        reports.push(report);
    }
    progress.done();
    finish(options, &reports)?;
    Ok(reports)
}

/// One check over several seeds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SeedRow {
    /// Claim id.
    pub claim: &'static str,
    /// Check name.
    pub check: String,
    /// The basis of the prediction (from the first seed that ran the check).
    pub basis: Option<super::Basis>,
    /// The relation.
    pub relation: super::Relation,
    /// The prediction.
    pub predicted: f64,
    /// The tolerance.
    pub tolerance: f64,
    /// The control that must fail it.
    pub control: Option<&'static str>,
    /// The measurement at each seed (NaN where the run failed or lacked the check), in the
    /// order of the seeds.
    pub measured: Vec<f64>,
    /// Summary of the finite measurements (None when there are none).
    pub summary: Option<crate::stats::Summary>,
    /// Seeds at which the comparison passed.
    pub passes: usize,
    /// Seeds at which the check's own control failed it.
    pub control_failures: usize,
    /// Seeds whose verdict was [`Verdict::Pass`].
    pub verdicts_pass: usize,
    /// The largest distance of the normal run from the prediction (tolerance units).
    pub worst_distance: f64,
    /// The smallest distance of the control's run from the prediction (tolerance units).
    pub closest_control_distance: f64,
    /// tolerance / (3 × seed-to-seed standard deviation): ≥ 1 when the tolerance covers three
    /// standard deviations of the measurement.
    pub tolerance_over_3_std: f64,
    /// Number of seeds.
    pub seeds: usize,
}

/// The checks of several seeds' reports, one row per (claim, check) in the first report's
/// order (a check missing at some seed counts as failed there).
pub fn seed_rows(reports: &[Report]) -> Vec<SeedRow> {
    let mut rows: Vec<SeedRow> = Vec::new();
    for (s, report) in reports.iter().enumerate() {
        for claim in &report.claims {
            let Ok(o) = &claim.outcome else { continue };
            for c in &o.checks {
                let k = match rows
                    .iter()
                    .position(|r| r.claim == claim.id && r.check == c.name)
                {
                    Some(k) => k,
                    None => {
                        rows.push(SeedRow {
                            claim: claim.id,
                            check: c.name.clone(),
                            basis: c.basis,
                            relation: c.relation,
                            predicted: c.predicted,
                            tolerance: c.tolerance,
                            control: c.control,
                            measured: vec![f64::NAN; reports.len()],
                            summary: None,
                            passes: 0,
                            control_failures: 0,
                            verdicts_pass: 0,
                            worst_distance: f64::NEG_INFINITY,
                            closest_control_distance: f64::INFINITY,
                            tolerance_over_3_std: f64::NAN,
                            seeds: reports.len(),
                        });
                        rows.len() - 1
                    }
                };
                let row = &mut rows[k];
                row.measured[s] = c.measured;
                row.passes += usize::from(c.passed);
                row.verdicts_pass += usize::from(c.verdict() == Verdict::Pass);
                row.worst_distance = row.worst_distance.max(c.distance());
                if let Some(r) = c.control_result {
                    row.control_failures += usize::from(!r.passed);
                    row.closest_control_distance = row.closest_control_distance.min(r.distance);
                }
            }
        }
    }
    for row in &mut rows {
        let finite: Vec<f64> = row
            .measured
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        row.summary = crate::stats::summarize(&finite).ok();
        if let Some(s) = row.summary {
            row.tolerance_over_3_std = row.tolerance / (3.0 * s.std);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lists_parse() {
        assert_eq!(parse_seeds("0-3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_seeds("5, 1-2,5").unwrap(), vec![5, 1, 2]);
        for bad in ["", "a", "3-1", "1-", "-1", "0-99999"] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
    }
}
