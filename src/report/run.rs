//! Figures and a small page for the output folder of `gradflow run`: every metric of
//! `metrics.csv` against the step, grouped by what it measures (losses; gradient norm; the
//! distance travelled from the initialisation; kernel diagnostics; Wasserstein and transport
//! observables of particles; distances to a Gibbs law; any other column on its own), one line
//! per trial, into `NAME.svg` files and `report.html` beside the metrics.

use super::page::{sig4, Provenance, STYLE};
use super::{Figure, Scale};
use crate::data::io::{write_atomic, Table};
use crate::error::Result;
use std::fmt::Write as _;
use std::path::Path;

/// The metric groups: file stem, title, vertical-axis label, and the columns (by exact name or
/// by prefix when ending in `*`).
const GROUPS: [(&str, &str, &str, &[&str]); 7] = [
    (
        "loss",
        "training and test loss",
        "loss",
        &["train_loss", "test_loss"],
    ),
    ("gradient", "gradient norm", "‖∇L(θ)‖", &["grad_norm"]),
    (
        "movement",
        "distance travelled from the initialisation",
        "‖θ − θ₀‖",
        &["param_distance"],
    ),
    (
        "movement-relative",
        "relative distance travelled from the initialisation",
        "‖θ − θ₀‖ / ‖θ₀‖",
        &["param_distance_relative"],
    ),
    (
        "kernel",
        "kernel diagnostics",
        "value",
        &["kernel_*", "lambda_*", "ntk_*"],
    ),
    (
        "particles",
        "particle observables (Wasserstein distances and transport)",
        "value",
        &["w2_*", "displacement_sq", "action"],
    ),
    (
        "gibbs",
        "distance to the Gibbs law",
        "value",
        &["tv_gibbs", "kl_gibbs"],
    ),
];

/// Columns never plotted: the row keys.
const KEYS: [&str; 2] = ["trial", "step"];

/// Trials drawn per figure (the rest stay in the CSV).
const MAX_TRIALS: usize = 8;

fn matches(column: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => column.starts_with(prefix),
        None => column == pattern,
    }
}

/// The figures of a metrics table (columns `trial`, `step` and the metrics).
pub fn figures(metrics: &Table) -> Result<Vec<Figure>> {
    let trial = metrics.column("trial")?;
    let step = metrics.column("step")?;
    let mut trials: Vec<f64> = trial.clone();
    trials.dedup();
    trials.sort_by(f64::total_cmp);
    trials.dedup();
    let shown = &trials[..trials.len().min(MAX_TRIALS)];
    let mut groups: Vec<(String, String, String, Vec<String>)> = Vec::new();
    let mut used: Vec<&str> = KEYS.to_vec();
    for (stem, title, label, patterns) in GROUPS {
        let cols: Vec<String> = metrics
            .columns
            .iter()
            .filter(|c| !used.contains(&c.as_str()) && patterns.iter().any(|p| matches(c, p)))
            .cloned()
            .collect();
        used.extend(
            metrics
                .columns
                .iter()
                .filter(|c| cols.contains(c))
                .map(String::as_str),
        );
        if !cols.is_empty() {
            groups.push((stem.into(), title.into(), label.into(), cols));
        }
    }
    for c in &metrics.columns {
        if !used.contains(&c.as_str()) {
            groups.push((c.clone(), c.clone(), c.clone(), vec![c.clone()]));
        }
    }
    let mut out = Vec::new();
    for (stem, title, label, cols) in groups {
        let mut series = Vec::new();
        for c in &cols {
            let values = metrics.column(c)?;
            for &t in shown {
                let pts: Vec<(f64, f64)> = (0..values.len())
                    .filter(|&i| trial[i] == t && values[i].is_finite())
                    .map(|i| (step[i], values[i]))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                let name = match (cols.len() > 1, shown.len() > 1) {
                    (true, true) => format!("{c}, trial {t}"),
                    (true, false) => c.clone(),
                    (false, true) => format!("trial {t}"),
                    // One line still says which metric it is (the loss group's title names
                    // the test loss too, which a spec without test data has not).
                    (false, false) => c.clone(),
                };
                series.push((name, pts));
            }
        }
        if series.is_empty() {
            continue;
        }
        let ys: Vec<f64> = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .collect();
        let (lo, hi) = ys
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let y_scale = if lo > 0.0 && hi / lo > 30.0 {
            Scale::Log
        } else {
            Scale::Linear
        };
        let mut f = Figure::new(&stem, &title)
            .x("step", Scale::Linear)
            .y(&label, y_scale);
        for (name, pts) in series {
            f = f.line(&name, pts);
        }
        out.push(f);
    }
    Ok(out)
}

/// Reads `DIR/metrics.csv` (and `DIR/summary.json` when present), writes one SVG per figure
/// and `DIR/report.html`; returns the file names written.
pub fn write_run_report(dir: &Path) -> Result<Vec<String>> {
    let metrics = Table::read(&dir.join("metrics.csv"))?;
    let summary: Option<serde_json::Value> = std::fs::read(dir.join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let figures = figures(&metrics)?;
    let mut written = Vec::new();
    let mut body = String::new();
    for f in &figures {
        let svg = f.svg()?;
        let file = format!("{}.svg", f.name);
        write_atomic(&dir.join(&file), svg.as_bytes())?;
        let inline = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
        let _ = write!(
            body,
            "<figure>{inline}<figcaption>{} (<a href=\"{file}\">{file}</a>)</figcaption></figure>",
            super::typography::html(&f.title)
        );
        written.push(file);
    }
    let name = summary
        .as_ref()
        .and_then(|s| s["name"].as_str())
        .unwrap_or("gradflow run")
        .to_string();
    let seed = summary.as_ref().and_then(|s| s["seed"].as_u64());
    let threads = summary
        .as_ref()
        .and_then(|s| s["environment"]["threads"].as_u64())
        .map_or(rayon::current_num_threads(), |t| t as usize);
    let provenance = Provenance {
        seeds: seed.into_iter().collect(),
        threads,
        extra: vec![(
            "data".into(),
            "<a href=\"metrics.csv\">metrics.csv</a>, <a href=\"summary.json\">summary.json</a>"
                .into(),
        )],
    };
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1>{}",
        provenance.header_html(),
        t = super::typography::html(&name)
    );
    // The last recorded row of each trial.
    let trial = metrics.column("trial")?;
    h.push_str("<h2>Final metrics</h2><table><tr>");
    for c in &metrics.columns {
        let _ = write!(h, "<th>{}</th>", super::typography::html(c));
    }
    h.push_str("</tr>");
    for (i, row) in metrics.rows.iter().enumerate() {
        if trial.get(i + 1) != Some(&trial[i]) {
            h.push_str("<tr>");
            for v in row {
                let _ = write!(h, "<td class=\"num\">{}</td>", sig4(*v));
            }
            h.push_str("</tr>");
        }
    }
    h.push_str("</table>");
    h.push_str(&body);
    h.push_str("</body></html>\n");
    write_atomic(&dir.join("report.html"), h.as_bytes())?;
    written.push("report.html".into());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_grouped_by_meaning() {
        let mut t = Table::new(&[
            "trial",
            "step",
            "train_loss",
            "grad_norm",
            "test_loss",
            "kernel_movement",
            "w2_sq_init",
            "mystery",
        ]);
        for trial in 0..2 {
            for step in 0..5 {
                let s = step as f64;
                t.push(vec![
                    trial as f64,
                    s,
                    1.0 / (1.0 + s),
                    0.1,
                    2.0,
                    s,
                    s * s,
                    -s,
                ]);
            }
        }
        let f = figures(&t).unwrap();
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["loss", "gradient", "kernel", "particles", "mystery"]
        );
        // Two columns × two trials in the loss figure, labelled by both.
        assert_eq!(f[0].series.len(), 4);
        assert_eq!(f[0].series[3].label, "test_loss, trial 1");
        // One column of one trial: the line is still named.
        let mut one = Table::new(&["trial", "step", "train_loss"]);
        one.push(vec![0.0, 0.0, 1.0]);
        one.push(vec![0.0, 1.0, 0.5]);
        assert_eq!(figures(&one).unwrap()[0].series[0].label, "train_loss");
        let missing = Table::new(&["step", "train_loss"]);
        assert!(figures(&missing).unwrap_err().to_string().contains("trial"));
    }
}
