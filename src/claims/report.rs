//! Outputs of `reproduce`: per-claim CSV folders, `summary.json`, a self-contained
//! `index.html`, and the terminal table.

use super::reproduce::{seed_rows, ClaimResult, Options, Report};
use super::{Check, ClaimOutcome};
use crate::error::{Error, Result};
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

/// A distance in tolerance units for the page: two decimals in the usual range, three
/// significant digits in scientific notation beyond it (a control can miss by 10¹²).
fn short(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-2..1e4).contains(&x.abs()) {
        format!("{x:.2e}")
    } else {
        format!("{x:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `OUT/index.html`: a self-contained page (no scripts, fonts or images fetched) with a table
/// of contents and, per claim, the statement, the setup and the checks.
pub fn write_html(out: &Path, report: &Report, options: &Options) -> Result<()> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gradflow reproduce</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em}}td.name{{min-width:18em}}\
         .pass{{color:#070}}.fail{{color:#b00}}</style></head><body>\
         <h1>gradflow reproduce</h1><p>setting: {}, seed {}. Each check names its basis \
         (theorem, closed form, or an empirical threshold) and its own negative control, a \
         setting that breaks a hypothesis of the theorem; the distance is the deviation from \
         the prediction in units of the tolerance (≤ 1 passes), for the normal run and for the \
         control, which must exceed 1. A check passes only when its control fails it.</p>\
         <h2>Contents</h2><ul>",
        if options.quick { "quick" } else { "full" },
        report.seed
    );
    for c in &report.claims {
        let _ = write!(
            h,
            "<li><a href=\"#{id}\">{id}</a> — {t} <span class=\"{cls}\">{v}</span></li>",
            id = c.id,
            t = escape(c.title),
            cls = if c.passed() { "pass" } else { "fail" },
            v = if c.passed() { "PASS" } else { "FAIL" }
        );
    }
    h.push_str("</ul>");
    for c in &report.claims {
        let _ = write!(
            h,
            "<h2 id=\"{id}\">{id}: {t}</h2><p>{s}</p><p><em>Setup.</em> {u}</p>",
            id = c.id,
            t = escape(c.title),
            s = escape(c.statement),
            u = escape(c.setup)
        );
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
                        "<tr><td class=\"name\">{}</td><td>{:.4e}</td><td>{}</td><td>{:.4e}</td><td>{:.2e}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4e}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                        escape(&k.name),
                        k.measured,
                        k.relation.symbol(),
                        k.predicted,
                        k.tolerance,
                        k.basis.map_or("—", |b| b.label()),
                        short(k.distance()),
                        k.control.unwrap_or("—"),
                        cm,
                        short(cd),
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
                        escape(r.control.breaks)
                    );
                }
                h.push_str("</ul>");
                for (f, svg) in o.figures.iter().zip(&c.svgs) {
                    // Inline SVG in HTML needs no namespace declaration (and the page then
                    // names no URL at all).
                    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
                    let _ = write!(
                        h,
                        "<figure>{svg}<figcaption>{} (<code>{}/{}.svg</code>)</figcaption></figure>",
                        escape(&f.title),
                        c.id,
                        f.name
                    );
                }
                h.push_str("<p>Data: ");
                for (n, _) in &o.tables {
                    let _ = write!(h, "<code>{}/{n}.csv</code> ", c.id);
                }
                h.push_str("</p>");
            }
            Err(m) => {
                let _ = write!(h, "<p class=\"fail\">the run failed: {}</p>", escape(m));
            }
        }
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
