//! Outputs of `reproduce`: per-claim CSV folders, `summary.json`, a self-contained
//! `index.html`, and the terminal table.

use super::{ClaimOutcome, Options, Report};
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

/// `OUT/summary.json`: every claim with its checks (no timings, so that equal seeds give
/// equal files).
pub fn write_summary(out: &Path, report: &Report, options: &Options) -> Result<()> {
    let claims: Vec<serde_json::Value> = report
        .claims
        .iter()
        .map(|c| match &c.outcome {
            Ok(o) => json!({
                "id": c.id,
                "title": c.title,
                "passed": c.passed(),
                "checks": o.checks,
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
            }),
        })
        .collect();
    write_json(
        &out.join("summary.json"),
        &json!({
            "quick": options.quick,
            "seed": options.seed,
            "negative_control": options.negative_control,
            "passed": report.all_passed(),
            "claims": claims,
        }),
    )
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
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em}}\
         .pass{{color:#070}}.fail{{color:#b00}}</style></head><body>\
         <h1>gradflow reproduce</h1><p>setting: {}, seed {}</p><h2>Contents</h2><ul>",
        if options.quick { "quick" } else { "full" },
        options.seed
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
                h.push_str("<table><tr><th>check</th><th>measured</th><th>relation</th><th>predicted</th><th>tolerance</th><th>verdict</th></tr>");
                for k in &o.checks {
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{:.6e}</td><td>{:?}</td><td>{:.6e}</td><td>{:.3e}</td><td class=\"{}\">{}</td></tr>",
                        escape(&k.name),
                        k.measured,
                        k.relation,
                        k.predicted,
                        k.tolerance,
                        if k.passed { "pass" } else { "fail" },
                        if k.passed { "PASS" } else { "FAIL" }
                    );
                }
                h.push_str("</table>");
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

/// The terminal table: claim, check, measured, predicted, tolerance, verdict.
pub fn terminal_table(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<20} {:<44} {:>12} {:>3} {:>12} {:>10}  verdict",
        "claim", "check", "measured", "", "predicted", "tolerance"
    );
    for c in &report.claims {
        match &c.outcome {
            Ok(o) => {
                for k in &o.checks {
                    let rel = match k.relation {
                        super::Relation::Within => "≈",
                        super::Relation::AtMost => "≤",
                        super::Relation::AtLeast => "≥",
                    };
                    let _ = writeln!(
                        s,
                        "{:<20} {:<44} {:>12.4e} {:>3} {:>12.4e} {:>10.2e}  {}",
                        c.id,
                        k.name,
                        k.measured,
                        rel,
                        k.predicted,
                        k.tolerance,
                        if k.passed { "PASS" } else { "FAIL" }
                    );
                }
            }
            Err(m) => {
                let _ = writeln!(s, "{:<20} run failed: {m}", c.id);
            }
        }
    }
    let passed = report.claims.iter().filter(|c| c.passed()).count();
    let _ = writeln!(s, "{passed} of {} claims passed", report.claims.len());
    s
}
