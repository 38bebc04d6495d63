//! Outputs of `reproduce`: per-claim CSV folders, `summary.json`, a self-contained
//! `index.html`, and the terminal table.

use super::reproduce::{seed_rows, ClaimResult, Options, Report};
use super::{Check, ClaimOutcome};
use crate::error::{Error, Result};
use crate::report::page::{sig4, Provenance, STYLE};
use crate::report::typography;
use crate::spec::write_json;
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// Writes `OUT/ID/NAME.csv` for every table and `OUT/ID/NAME.svg` for every figure of the
/// claim; returns the rendered figures.
pub fn write_claim_folder(out: &Path, id: &str, outcome: &ClaimOutcome) -> Result<Vec<String>> {
    let dir = out.join(id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    for (name, table) in &outcome.tables {
        table.write(&dir.join(format!("{name}.csv")))?;
    }
    let mut rendered = Vec::new();
    for figure in &outcome.figures {
        let svg = figure.svg()?;
        crate::data::io::write_atomic(&dir.join(format!("{}.svg", figure.name)), svg.as_bytes())?;
        rendered.push(svg);
    }
    Ok(rendered)
}

/// A check as `summary.json` shows it: its fields, its verdict under the contract, and its
/// separation (distances from the prediction in tolerance units, ≤ 1 passes).
fn check_json(c: &Check) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    v["verdict"] = serde_json::to_value(c.verdict()).unwrap_or_default();
    v["separation"] = json!({
        "normal": finite_or_null(c.distance()),
        "control": c.control_result.map(|r| finite_or_null(r.distance)),
    });
    v
}

fn finite_or_null(x: f64) -> serde_json::Value {
    if x.is_finite() {
        json!(x)
    } else {
        serde_json::Value::Null
    }
}

fn claim_json(c: &ClaimResult) -> serde_json::Value {
    let controls: Vec<serde_json::Value> = c
        .controls
        .iter()
        .map(|r| match &r.outcome {
            Ok(o) => json!({
                "name": r.control.name,
                "breaks": r.control.breaks,
                "checks": o.checks.iter().map(|k| json!({
                    "name": k.name,
                    "measured": finite_or_null(k.measured),
                    "passed": k.passed,
                    "must_fail": c.outcome.as_ref().ok().is_some_and(|n| n.checks.iter()
                        .any(|m| m.name == k.name && m.control == Some(r.control.name))),
                })).collect::<Vec<_>>(),
            }),
            Err(m) => json!({"name": r.control.name, "breaks": r.control.breaks, "error": m}),
        })
        .collect();
    match &c.outcome {
        Ok(o) => json!({
            "id": c.id,
            "title": c.title,
            "passed": c.passed(),
            "checks": o.checks.iter().map(check_json).collect::<Vec<_>>(),
            "controls": controls,
            "files": o.tables.iter().map(|(n, _)| format!("{}/{n}.csv", c.id))
                .chain(o.figures.iter().map(|f| format!("{}/{}.svg", c.id, f.name)))
                .collect::<Vec<_>>(),
        }),
        Err(message) => json!({
            "id": c.id,
            "title": c.title,
            "passed": false,
            "error": message,
            "checks": [],
            "controls": controls,
        }),
    }
}

/// `OUT/summary.json`: every claim with its checks and controls (no timings, so that equal
/// seeds give equal files).
pub fn write_summary(out: &Path, report: &Report, options: &Options) -> Result<()> {
    write_json(
        &out.join("summary.json"),
        &json!({
            "quick": options.quick,
            "seed": report.seed,
            "passed": report.all_passed(),
            "claims": report.claims.iter().map(claim_json).collect::<Vec<_>>(),
        }),
    )
}

/// `OUT/seeds.json` and `OUT/seeds.csv`: per check, the measurement at every seed, its
/// summary, pass counts, the worst normal and closest control distance, and the tolerance
/// against three seed-to-seed standard deviations.
pub fn write_seed_table(out: &Path, reports: &[Report], options: &Options) -> Result<()> {
    let rows = seed_rows(reports);
    write_json(
        &out.join("seeds.json"),
        &json!({
            "quick": options.quick,
            "seeds": reports.iter().map(|r| r.seed).collect::<Vec<_>>(),
            "passed": reports.iter().all(Report::all_passed),
            "checks": rows,
        }),
    )?;
    let mut csv = String::from(
        "claim,check,basis,predicted,tolerance,control,min,median,max,std,passes,control_failures,verdicts_pass,seeds,worst_distance,closest_control_distance,tolerance_over_3_std\n",
    );
    for r in &rows {
        let s = r.summary;
        let _ = writeln!(
            csv,
            "{},\"{}\",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.claim,
            r.check.replace('"', "\"\""),
            r.basis.map_or("", |b| b.label()),
            r.predicted,
            r.tolerance,
            r.control.unwrap_or(""),
            s.map_or(f64::NAN, |s| s.min),
            s.map_or(f64::NAN, |s| s.median),
            s.map_or(f64::NAN, |s| s.max),
            s.map_or(f64::NAN, |s| s.std),
            r.passes,
            r.control_failures,
            r.verdicts_pass,
            r.seeds,
            r.worst_distance,
            r.closest_control_distance,
            r.tolerance_over_3_std
        );
    }
    crate::data::io::write_atomic(&out.join("seeds.csv"), csv.as_bytes())
}

/// The terminal table over seeds: per check min / median / max, passes and control failures.
pub fn terminal_seed_table(reports: &[Report]) -> String {
    let rows = seed_rows(reports);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<20} {:<50} {:>11} {:>11} {:>11} {:>3} {:>11} {:>9} {:>7} {:>7}",
        "claim", "check", "min", "median", "max", "", "predicted", "tolerance", "pass", "ctrl✗"
    );
    for r in &rows {
        let (lo, med, hi) = r
            .summary
            .map_or((f64::NAN, f64::NAN, f64::NAN), |s| (s.min, s.median, s.max));
        let _ = writeln!(
            s,
            "{:<20} {:<50} {:>11.4e} {:>11.4e} {:>11.4e} {:>3} {:>11.4e} {:>9.2e} {:>4}/{:<2} {:>4}/{:<2}",
            r.claim,
            r.check,
            lo,
            med,
            hi,
            r.relation.symbol(),
            r.predicted,
            r.tolerance,
            r.verdicts_pass,
            r.seeds,
            r.control_failures,
            r.seeds
        );
    }
    let ok = reports.iter().filter(|r| r.all_passed()).count();
    let _ = writeln!(
        s,
        "{ok} of {} seeds passed every check (pass: comparison passed, contract kept and control failed; ctrl✗: the check's own control failed it)",
        reports.len()
    );
    s
}

/// The references a statement cites, in the order it cites them: every author list followed
/// by a year ("Du, Zhai, Poczós, Singh 2019", "Jacot et al. 2018", "Bach & Moulines 2013,
/// Thm 1"), read from the statement's text so that a claim needs no second list.
pub fn references(statement: &str) -> Vec<String> {
    let tokens: Vec<&str> = statement.split_whitespace().collect();
    let is_year = |t: &str| {
        let d: String = t.chars().take_while(char::is_ascii_digit).collect();
        d.len() == 4
            && (d.starts_with("19") || d.starts_with("20"))
            && !t[4..].starts_with(|c: char| c.is_ascii_digit() || c == '.' && t.len() > 5)
    };
    let mut found: Vec<String> = Vec::new();
    for (k, t) in tokens.iter().enumerate() {
        if !is_year(t) {
            continue;
        }
        let mut names: Vec<String> = Vec::new();
        for prev in tokens[..k].iter().rev() {
            if prev.ends_with(';') || prev.ends_with(':') || prev.ends_with(')') {
                break;
            }
            let bare = prev.trim_start_matches('(');
            let joins = ["&", "and", "et", "al.", "de", "van", "der", "von"];
            let capital = bare.chars().next().is_some_and(char::is_uppercase)
                && bare.chars().filter(|c| c.is_alphabetic()).count() >= 2;
            if !(capital || joins.contains(&bare)) {
                break;
            }
            names.push(bare.to_string());
            if prev.starts_with('(') {
                break;
            }
        }
        while names
            .last()
            .is_some_and(|n| ["&", "and", "et", "al."].contains(&n.as_str()))
        {
            names.pop();
        }
        if !names
            .iter()
            .any(|n| n.chars().next().is_some_and(char::is_uppercase))
        {
            continue;
        }
        names.reverse();
        let year: String = t.chars().take(4).collect();
        let mut cite = format!("{} {year}", names.join(" "));
        // A theorem, lemma … number right after the year.
        if t[4..].starts_with(',') {
            if let (Some(kind), Some(num)) = (tokens.get(k + 1), tokens.get(k + 2)) {
                let kinds = [
                    "Thm",
                    "Theorem",
                    "Lemma",
                    "Prop.",
                    "Proposition",
                    "Cor.",
                    "Corollary",
                    "Section",
                    "§",
                ];
                if kinds.contains(kind) {
                    let num = num.trim_end_matches([';', ')', ',', '.']);
                    cite = format!("{cite}, {kind} {num}");
                }
            }
        }
        if !found.contains(&cite) {
            found.push(cite);
        }
    }
    found
}

/// `OUT/index.html`: a self-contained page (no scripts, fonts or images fetched) with a header
/// naming the software, commit, seed, threads, date and the source lecture; a table of contents;
/// per claim, the statement (TeX typeset as HTML), its references, the setup, the checks, the
/// controls, the figures and links to its CSV files, and a link back to the contents.
pub fn write_html(out: &Path, report: &Report, options: &Options) -> Result<()> {
    let passed = report.claims.iter().filter(|c| c.passed()).count();
    let provenance = Provenance {
        seeds: vec![report.seed],
        threads: rayon::current_num_threads(),
        extra: vec![
            (
                "setting".into(),
                if options.quick { "quick" } else { "full" }.into(),
            ),
            (
                "result".into(),
                format!("{passed} of {} claims passed", report.claims.len()),
            ),
        ],
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>gradflow reproduce</title><style>{STYLE}</style></head><body>\
         <h1>gradflow reproduce: the lecture's claims, checked</h1>{}\
         <p>Each check names its basis (theorem, closed form, or an empirical threshold) and its \
         own negative control, a setting that breaks a hypothesis of the theorem; the distance \
         is the deviation from the prediction in units of the tolerance (≤ 1 passes), for the \
         normal run and for the control, which must exceed 1. A check passes only when its \
         control fails it. Numbers are shown to four significant digits; the CSV files hold \
         them in full.</p><nav id=\"contents\"><h2>Contents</h2><ul>",
        provenance.header_html()
    );
    for c in &report.claims {
        let _ = write!(
            h,
            "<li><a href=\"#{id}\">{id}</a> — {t} <span class=\"{cls}\">{v}</span></li>",
            id = c.id,
            t = typography::html(c.title),
            cls = if c.passed() { "pass" } else { "fail" },
            v = if c.passed() { "PASS" } else { "FAIL" }
        );
    }
    h.push_str("</ul></nav>");
    for c in &report.claims {
        let _ = write!(
            h,
            "<section id=\"{id}\"><h2>{id}: {t} <a class=\"top\" href=\"#contents\">↑ contents</a></h2>\
             <p>{s}</p><p><em>Setup.</em> {u}</p>",
            id = c.id,
            t = typography::html(c.title),
            s = typography::html(c.statement),
            u = typography::html(c.setup)
        );
        let refs = references(c.statement);
        if !refs.is_empty() {
            let _ = write!(
                h,
                "<p><em>References.</em> {}.</p>",
                typography::html(&refs.join("; "))
            );
        }
        match &c.outcome {
            Ok(o) => {
                h.push_str("<table><tr><th>check</th><th>measured</th><th></th><th>predicted</th><th>tolerance</th><th>basis</th><th>distance</th><th>control</th><th>control's value</th><th>control's distance</th><th>verdict</th></tr>");
                for k in &o.checks {
                    let verdict = k.verdict();
                    let (cm, cd) = k
                        .control_result
                        .map_or((f64::NAN, f64::NAN), |r| (r.measured, r.distance));
                    let _ = write!(
                        h,
                        "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td></tr>",
                        typography::html(&k.name),
                        sig4(k.measured),
                        k.relation.symbol(),
                        sig4(k.predicted),
                        sig4(k.tolerance),
                        k.basis.map_or("—", |b| b.label()),
                        sig4(k.distance()),
                        k.control.map_or("—".to_string(), |n| format!("<code>{n}</code>")),
                        sig4(cm),
                        sig4(cd),
                        if verdict == super::Verdict::Pass { "pass" } else { "fail" },
                        verdict.word()
                    );
                }
                h.push_str("</table><p><em>Controls.</em></p><ul>");
                for r in &c.controls {
                    let _ = write!(
                        h,
                        "<li><code>{}</code>: {}</li>",
                        r.control.name,
                        typography::html(r.control.breaks)
                    );
                }
                h.push_str("</ul>");
                for (f, svg) in o.figures.iter().zip(&c.svgs) {
                    // Inline SVG in HTML needs no namespace declaration (and the page then
                    // names no URL at all).
                    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
                    let _ = write!(
                        h,
                        "<figure>{svg}<figcaption>{} (<a href=\"{id}/{n}.svg\">{id}/{n}.svg</a>)</figcaption></figure>",
                        typography::html(&f.title),
                        id = c.id,
                        n = f.name
                    );
                }
                h.push_str("<p><em>Data.</em> ");
                let links: Vec<String> = o
                    .tables
                    .iter()
                    .map(|(n, _)| format!("<a href=\"{id}/{n}.csv\">{id}/{n}.csv</a>", id = c.id))
                    .collect();
                h.push_str(&links.join(", "));
                h.push_str("</p>");
            }
            Err(m) => {
                let _ = write!(
                    h,
                    "<p class=\"fail\">the run failed: {}</p>",
                    typography::html(m)
                );
            }
        }
        h.push_str("</section>");
    }
    h.push_str("</body></html>\n");
    crate::data::io::write_atomic(&out.join("index.html"), h.as_bytes())
}

/// The terminal table: claim, check, measured, prediction, tolerance, basis, the normal and the
/// control's distance, verdict; with `show_controls`, each control's checks and verdicts too.
pub fn terminal_table(report: &Report, show_controls: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<20} {:<50} {:>11} {:>3} {:>11} {:>9} {:>11} {:>7} {:>7}  verdict",
        "claim", "check", "measured", "", "predicted", "tolerance", "basis", "dist", "ctrl"
    );
    for c in &report.claims {
        match &c.outcome {
            Ok(o) => {
                for k in &o.checks {
                    let _ = writeln!(
                        s,
                        "{:<20} {:<50} {:>11.4e} {:>3} {:>11.4e} {:>9.2e} {:>11} {:>7.2} {:>7.2}  {}",
                        c.id,
                        k.name,
                        k.measured,
                        k.relation.symbol(),
                        k.predicted,
                        k.tolerance,
                        k.basis.map_or("—", |b| b.label()),
                        k.distance(),
                        k.control_result.map_or(f64::NAN, |r| r.distance),
                        k.verdict().word()
                    );
                }
            }
            Err(m) => {
                let _ = writeln!(s, "{:<20} run failed: {m}", c.id);
            }
        }
        if show_controls {
            for r in &c.controls {
                match &r.outcome {
                    Ok(o) => {
                        for k in &o.checks {
                            let _ = writeln!(
                                s,
                                "{:<20}   under {}: {:<40} {:>11.4e}  {}",
                                c.id,
                                r.control.name,
                                k.name,
                                k.measured,
                                if k.passed { "passes" } else { "fails" }
                            );
                        }
                    }
                    Err(m) => {
                        let _ = writeln!(
                            s,
                            "{:<20}   under {}: run failed: {m}",
                            c.id, r.control.name
                        );
                    }
                }
            }
        }
    }
    let passed = report.claims.iter().filter(|c| c.passed()).count();
    let _ = writeln!(
        s,
        "{passed} of {} claims passed (dist: distance from the prediction in tolerance units, ≤ 1 passes; ctrl: the same under the check's own control, > 1 required)",
        report.claims.len()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_from_the_statement() {
        let s = "K (Du, Zhai, Poczós, Singh 2019, the concentration step; Jacot et al. 2018) and \
                 E = σ²d/(2T) (Bach & Moulines 2013, Thm 1; the document's result is Nitanda & \
                 Suzuki 2021, the same scheme), n = 2000 points, K = 2000, (Laplace; Raginsky, \
                 Rakhlin, Telgarsky 2017 use it) and again Jacot et al. 2018.";
        assert_eq!(
            references(s),
            [
                "Du, Zhai, Poczós, Singh 2019",
                "Jacot et al. 2018",
                "Bach & Moulines 2013, Thm 1",
                "Nitanda & Suzuki 2021",
                "Raginsky, Rakhlin, Telgarsky 2017",
            ]
        );
    }
}
