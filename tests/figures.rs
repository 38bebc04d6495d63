//! The report as a reader sees it: `reproduce --quick` on a few claims whose figures have
//! awkward ranges (under a decade, a few decades, values near zero), then
//! - every SVG: no two text labels overlap (boxes from font metrics), every label inside the
//!   canvas, fonts of at least 14 px at the displayed size, no literal `_` or `^` (scripts are
//!   typeset), and no legend over a point or a line of the data;
//! - the page: no raw TeX, relations as symbols, short numbers, the header and the citation,
//!   a link to every CSV (which exists), links back to the contents, a print stylesheet;
//! - in headless Chromium when it is installed (`.ci/run` installs it): no console message,
//!   every figure of non-zero size, no overlapping text measured with the browser's own fonts,
//!   and no request at all (the page is one self-contained file).

use gradflow::report::inspect::{data_points, legend_box, legend_over_data};
use gradflow::report::text::{overlapping_text, text_boxes};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const CLAIMS: &str =
    "ntk-positive,ntk-concentration,kernel-vs-network,averaged-sgd,langevin-stationary,smoothing";

/// The quick run shared by the tests of this file: its folder, stdout and stderr (or the folder
/// named by `GRADFLOW_REPORT_DIR`, to check the output of another run, with empty streams).
fn run() -> &'static (PathBuf, String, String) {
    static RUN: OnceLock<(PathBuf, String, String)> = OnceLock::new();
    RUN.get_or_init(|| {
        if let Some(dir) = std::env::var_os("GRADFLOW_REPORT_DIR") {
            return (PathBuf::from(dir), String::new(), String::new());
        }
        let dir = std::env::temp_dir().join(format!("gradflow-figures-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(env!("CARGO_BIN_EXE_gradflow"))
            .args(["reproduce", "--quick", "--only", CLAIMS, "--out"])
            .arg(&dir)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(dir.join("index.html").exists(), "{stderr}");
        (
            dir,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        )
    })
}

fn page() -> &'static Path {
    &run().0
}

#[test]
fn the_results_table_goes_to_stdout_and_progress_to_stderr() {
    let (_, stdout, stderr) = run();
    if std::env::var_os("GRADFLOW_REPORT_DIR").is_some() {
        return;
    }
    assert!(
        stdout.contains("claims passed") && stdout.contains("ntk-positive"),
        "{stdout}"
    );
    assert!(!stderr.contains("claims passed"), "{stderr}");
    assert!(
        stderr.contains("ntk-positive"),
        "progress on stderr: {stderr}"
    );
}

fn svgs(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(svgs(&path));
        } else if path.extension().is_some_and(|e| e == "svg") {
            let text = std::fs::read_to_string(&path).unwrap();
            found.push((path, text));
        }
    }
    found.sort();
    found
}

/// The value of a numeric attribute of the root `<svg>` element.
fn root_attribute(svg: &str, name: &str) -> f64 {
    let head = &svg[..svg.find('>').unwrap()];
    let k = head.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    head[k..k + head[k..].find('"').unwrap()].parse().unwrap()
}

#[test]
fn figure_labels_do_not_overlap_fit_the_canvas_and_are_readable() {
    let figures = svgs(page());
    assert!(figures.len() >= 4, "{figures:?}");
    let mut problems = Vec::new();
    for (path, svg) in &figures {
        let name = path.file_name().unwrap().to_string_lossy();
        for (a, b) in overlapping_text(svg) {
            problems.push(format!("{name}: '{}' overlaps '{}'", a.text, b.text));
        }
        let (w, h) = (root_attribute(svg, "width"), root_attribute(svg, "height"));
        // The page shows a figure at most 960 px wide: wider ones are scaled down.
        let scale = (960.0 / w).min(1.0);
        let boxes = text_boxes(svg);
        assert!(boxes.len() >= 6, "{name}: {} labels", boxes.len());
        for b in boxes {
            if b.size * scale < 14.0 {
                problems.push(format!("{name}: '{}' at {:.1} px", b.text, b.size * scale));
            }
            if b.x0 < -0.5 || b.y0 < -0.5 || b.x1 > w + 0.5 || b.y1 > h + 0.5 {
                problems.push(format!("{name}: '{}' leaves the canvas", b.text));
            }
            if b.text.contains(['_', '^']) {
                problems.push(format!("{name}: '{}' shows a script's TeX", b.text));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every figure of the run (all of them with `GRADFLOW_REPORT_DIR` set to the folder of a
/// full `reproduce --quick`): the legend's box holds no marker and crosses no line.
#[test]
fn no_legend_hides_data() {
    let mut problems = Vec::new();
    let mut legends = 0;
    for (path, svg) in svgs(page()) {
        let name = path.display();
        assert!(!data_points(&svg).is_empty(), "{name}: no data group");
        if let Some(b) = legend_box(&svg) {
            legends += 1;
            let hidden = legend_over_data(&svg);
            if !hidden.is_empty() {
                problems.push(format!(
                    "{name}: the legend {b:?} covers {} data points, e.g. {:?}",
                    hidden.len(),
                    hidden[0]
                ));
            }
        }
    }
    assert!(legends >= 4, "{legends} legends");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_page_speaks_mathematics_and_names_its_provenance() {
    let dir = page();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let body = &html[html.find("<body").unwrap()..];
    for raw in [
        "^{", "_{", "^(", "_(", "\\frac", "\\sqrt", "AtMost", "AtLeast", "Within", "0.000e0",
    ] {
        assert!(!body.contains(raw), "the page shows '{raw}'");
    }
    // Outside the figures, no decimal number with more than four significant digits, and no
    // computer notation such as 1.000000e-2.
    let mut text = String::new();
    let mut rest = body;
    while let Some(k) = rest.find("<svg") {
        text.push_str(&rest[..k]);
        rest = rest[k..].find("</svg>").map_or("", |e| &rest[k + e + 6..]);
    }
    text.push_str(rest);
    let chars: Vec<char> = text.chars().collect();
    let mut k = 0;
    while k < chars.len() {
        let starts = chars[k].is_ascii_digit()
            && (k == 0 || !(chars[k - 1].is_alphanumeric() || chars[k - 1] == '.'));
        if !starts {
            k += 1;
            continue;
        }
        let mut end = k;
        while end < chars.len() && (chars[end].is_ascii_digit() || chars[end] == '.') {
            end += 1;
        }
        // (A sentence may end right after a number.)
        while end > k + 1 && chars[end - 1] == '.' {
            end -= 1;
        }
        let number: String = chars[k..end].iter().collect();
        let next = chars.get(end).copied().unwrap_or(' ');
        let context: String = chars[k.saturating_sub(30)..(end + 30).min(chars.len())]
            .iter()
            .collect();
        if number.contains('.') {
            let significant = number
                .trim_start_matches(['0', '.'])
                .chars()
                .filter(char::is_ascii_digit)
                .count();
            assert!(
                significant <= 4,
                "'{number}' has {significant} digits: {context}"
            );
            assert!(
                !(next == 'e'
                    && chars
                        .get(end + 1)
                        .is_some_and(|c| *c == '-' || c.is_ascii_digit())),
                "computer notation: {context}"
            );
        }
        k = end;
    }
    for needed in [
        env!("CARGO_PKG_VERSION"),
        "seed",
        "threads",
        "COSS2020",
        "6 August 2020",
        "RIKEN AIP",
        "University of Tokyo",
        "@media print",
        "href=\"#contents\"",
    ] {
        assert!(html.contains(needed), "the page lacks '{needed}'");
    }
    assert!(!html.contains("http"), "the page names a URL");
    // Every CSV written is linked, and every link names a file that exists.
    let mut linked = 0;
    for piece in html.split("href=\"").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        if let Some(id) = target.strip_prefix('#') {
            assert!(html.contains(&format!("id=\"{id}\"")), "dangling {target}");
        } else {
            assert!(dir.join(target).exists(), "link to missing {target}");
            linked += usize::from(target.ends_with(".csv"));
        }
    }
    let csvs = walk_count(dir, "csv");
    assert_eq!(linked, csvs, "CSV files linked from the page");
}

fn walk_count(dir: &Path, ext: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                walk_count(&p, ext)
            } else {
                usize::from(p.extension().is_some_and(|e| e == ext))
            }
        })
        .sum()
}

/// Measures the page in the browser: appended to a copy of the page, it writes a JSON verdict
/// into the document, which `--dump-dom` prints.
const PROBE: &str = r#"<script>
(function () {
  var out = {figures: 0, empty: [], overlaps: [], resources: [], external: []};
  var svgs = document.querySelectorAll('svg');
  out.figures = svgs.length;
  svgs.forEach(function (svg, k) {
    var r = svg.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) out.empty.push(k);
    var texts = Array.prototype.slice.call(svg.querySelectorAll('text'))
      .filter(function (t) { return t.textContent.trim().length > 0; })
      .map(function (t) { return {t: t.textContent, b: t.getBoundingClientRect()}; });
    for (var i = 0; i < texts.length; i++) for (var j = i + 1; j < texts.length; j++) {
      var a = texts[i].b, b = texts[j].b;
      var w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      var h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) out.overlaps.push(k + ': ' + texts[i].t + ' / ' + texts[j].t);
    }
  });
  performance.getEntriesByType('resource').forEach(function (e) { out.resources.push(e.name); });
  document.querySelectorAll('[src],[href]').forEach(function (e) {
    var u = e.getAttribute('src') || e.getAttribute('href');
    if (/^[a-z]+:/i.test(u) || u.indexOf('//') === 0) out.external.push(u);
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"#;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn the_page_renders_in_a_browser_without_errors_requests_or_overlaps() {
    let Some(browser) = chromium() else {
        eprintln!("no Chromium: the browser check is skipped (install the chromium package)");
        return;
    };
    let dir = page();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let probed = html.replace("</body>", &format!("{PROBE}</body>"));
    let copy = dir.join("probe.html");
    std::fs::write(&copy, probed).unwrap();
    let profile = dir.join("chromium-profile");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,2200",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", copy.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let json = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let json = json.replace("&quot;", "\"").replace("&amp;", "&");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["figures"].as_u64().unwrap() >= 4, "{v}");
    for key in ["empty", "overlaps", "resources", "external"] {
        assert!(v[key].as_array().unwrap().is_empty(), "{key}: {}", v[key]);
    }
}

#[test]
fn run_plots_its_metrics_into_svg_and_a_page() {
    let dir = std::env::temp_dir().join(format!("gradflow-run-figures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = r#"
seed = 3
trials = 2
[data]
kind = "sphere"
n = 30
n_test = 20
dim = 3
target = { kind = "harmonic", degree = 1 }
[model]
kind = "two_layer"
width = 32
[[optimizer]]
kind = "sgd"
lr = 0.5
[train]
steps = 40
record_every = 5
"#;
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gradflow"))
        .args(["run", "spec.toml", "--out", "out"])
        .current_dir(&dir)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = dir.join("out");
    for f in ["loss.svg", "gradient.svg", "movement.svg", "report.html"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let loss = std::fs::read_to_string(out.join("loss.svg")).unwrap();
    assert!(loss.contains("train_loss, trial 0") && loss.contains("test_loss, trial 1"));
    for (path, svg) in svgs(&out) {
        assert!(overlapping_text(&svg).is_empty(), "{}", path.display());
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("href=\"metrics.csv\"") && !html.contains("http"));
    assert_eq!(html.matches("<svg").count(), svgs(&out).len());
}
