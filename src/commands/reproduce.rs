//! `gradflow reproduce`: the claims of the source document run and checked against their
//! predictions ([`crate::claims::reproduce`]); the result is a folder of reports.

use super::Cancel;
use crate::claims::Report;
use crate::error::Result;

/// The settings of `gradflow reproduce` — the library's [`crate::claims::Options`]:
/// `--quick`, `--only`, `--out`, the seeds (`--seed` or `--seeds`, parsed by
/// [`crate::claims::parse_seeds`]), `--quiet`, `--negative-control`.
pub use crate::claims::Options as Request;

/// Runs the selected claims for every seed (the request checked first: known claim ids, at
/// least one seed) and writes their folders under `out`; one report per seed. `cancel` is
/// polled before every claim ([`crate::claims::reproduce_with`]; a claim itself runs to its
/// end).
pub fn run(request: &Request, cancel: Cancel) -> Result<Vec<Report>> {
    crate::claims::reproduce_with(request, cancel)
}

/// Whether every check of every claim passed for every seed (the CLI exits 0, else 1).
pub fn all_passed(reports: &[Report]) -> bool {
    reports.iter().all(Report::all_passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_the_flag() {
        let request = Request {
            only: vec!["ntk-positive".into(), "no-such-claim".into()],
            ..Request::default()
        };
        let e = run(&request, Cancel::NEVER).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid --only: unknown claim 'no-such-claim'"),
            "{e}"
        );
        assert!(e.contains("ntk-positive"), "the known ids are listed: {e}");
        let request = Request {
            seeds: Vec::new(),
            ..Request::default()
        };
        assert!(request
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("invalid --seeds:"));
        assert!(Request::default().validate().is_ok());
        assert!(all_passed(&[]));
    }

    #[test]
    fn a_fired_hook_stops_before_the_first_claim() {
        let out = std::env::temp_dir().join(format!("gradflow-cmd-rep-{}", std::process::id()));
        let request = Request {
            only: vec!["ntk-positive".into()],
            out: out.clone(),
            quiet: true,
            ..Request::default()
        };
        let e = run(&request, Cancel::new(&|| true)).unwrap_err();
        assert_eq!(e.to_string(), "interrupted before claim ntk-positive");
        assert!(!out.join("summary.json").exists());
        let _ = std::fs::remove_dir_all(&out);
    }
}
