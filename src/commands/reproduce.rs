//! `gradflow reproduce`: the claims of the source document run and checked against their
//! predictions ([`crate::claims::reproduce`]); the result is a folder of reports.

use crate::claims::Report;
use crate::error::Result;

/// The settings of `gradflow reproduce` — the library's [`crate::claims::Options`]:
/// `--quick`, `--only`, `--out`, the seeds (`--seed` or `--seeds`, parsed by
/// [`crate::claims::parse_seeds`]), `--quiet`, `--negative-control`.
pub use crate::claims::Options as Request;

/// Runs the selected claims for every seed (the request checked first: known claim ids, at
/// least one seed) and writes their folders under `out`; one report per seed.
pub fn run(request: &Request) -> Result<Vec<Report>> {
    crate::claims::reproduce(request)
}

/// Whether every check of every claim passed for every seed (the CLI exits 0, else 1).
pub fn all_passed(reports: &[Report]) -> bool {
    reports.iter().all(Report::all_passed)
}
