//! The figure rules, checked on figures with awkward ranges.

use super::text::{overlapping_text, text_boxes};
use super::*;

/// The figures the issue lists as broken, in miniature: log axes over many decades and under
/// one, a range around zero, many series, scatter with predictions.
fn awkward() -> Vec<Figure> {
    let widths: [f64; 7] = [64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0];
    vec![
        Figure::new("decay", "error against width")
            .x("width M", Scale::Log)
            .y("‖K − K∞‖_F", Scale::Log)
            .markers("measured", widths.map(|m| (m, 3.0 / m.sqrt())))
            .prediction("√(S/M)", widths.map(|m| (m, 3.1 / m.sqrt())))
            .markers("M = 0 dropped", [(0.0, 1.0)]),
        Figure::new("gap", "kernel-vs-network gap")
            .x("width", Scale::Log)
            .y("gap", Scale::Log)
            .line("measured", [(600.0, 0.62), (700.0, 0.63), (800.0, 0.64), (1000.0, 0.65)]),
        Figure::new("lambda", "λ_min against n")
            .x("n", Scale::Log)
            .y("λ_min", Scale::Log)
            .markers("λ_min(K∞)", [(6.0e4, 0.0031), (8.0e4, 0.0030), (1.0e5, 0.0029)]),
        Figure::new("zero", "values around zero")
            .x("t", Scale::Linear)
            .y("f", Scale::Linear)
            .line("f", (0..50).map(|k| (k as f64, (k as f64 * 0.2).sin() * 0.3 - 5.6e-17))),
        Figure::new("many", "training loss of six optimizers, long title that has to wrap onto a second line of the canvas")
            .x("step", Scale::Linear)
            .y("loss", Scale::Log)
            .line("SGD", (1..200).map(|t| (t as f64, 1.0 / t as f64)))
            .line("momentum (document's form)", (1..200).map(|t| (t as f64, 0.5 / t as f64)))
            .line("Nesterov", (1..200).map(|t| (t as f64, 0.2 / t as f64)))
            .line("AdaGrad", (1..200).map(|t| (t as f64, (-0.01 * t as f64).exp())))
            .line("RMSprop", (1..200).map(|t| (t as f64, (-0.02 * t as f64).exp())))
            .line("Adam", (1..200).map(|t| (t as f64, (-0.03 * t as f64).exp()))),
        Figure::new("scatter", "averaged iterate against last iterate")
            .x("T", Scale::Log)
            .y("excess risk", Scale::Log)
            .markers("last iterate", [(1e2, 1e-1), (1e3, 2e-2), (1e4, 1e-2), (1e5, 5e-3)])
            .markers("averaged iterate", [(1e2, 1e-1), (1e3, 1e-2), (1e4, 1e-3), (1e5, 1e-4)])
            .reference_slope_on("slope −1", -1.0, "averaged iterate"),
    ]
}

#[test]
fn awkward_figures_have_no_overlapping_text_and_readable_fonts() {
    for f in awkward() {
        let svg = f.svg().unwrap();
        assert!(svg.starts_with("<svg"), "{}", f.name);
        let pairs = overlapping_text(&svg);
        assert!(pairs.is_empty(), "{}: {pairs:?}", f.name);
        let boxes = text_boxes(&svg);
        for b in &boxes {
            assert!(b.size >= 14.0, "{}: {b:?}", f.name);
            assert!(b.x0 >= 0.0 && b.x1 <= svg::WIDTH, "{}: {b:?}", f.name);
        }
        // At least two labelled ticks on each axis: labels other than title, axis labels and
        // legend entries.
        let legend = f.series.iter().filter(|s| !s.label.is_empty()).count() + f.references.len();
        assert!(boxes.len() >= 3 + legend + 4, "{}: {}", f.name, boxes.len());
    }
}

#[test]
fn ticks_read_zero_and_decades_once() {
    let svg = awkward()[3].svg().unwrap();
    let labels: Vec<String> = text_boxes(&svg).into_iter().map(|b| b.text).collect();
    assert!(labels.iter().any(|l| l == "0"), "{labels:?}");
    assert!(labels.iter().all(|l| !l.contains("e-")), "{labels:?}");
    let svg = awkward()[5].svg().unwrap();
    let labels: Vec<String> = text_boxes(&svg).into_iter().map(|b| b.text).collect();
    for decade in ["10²", "10³", "10⁴", "10⁵", "10⁻¹", "10⁻⁴"] {
        assert_eq!(
            labels.iter().filter(|l| *l == decade).count(),
            1,
            "{labels:?}"
        );
    }
    // TeX in labels is typeset.
    let f = Figure::new("t", "M^{−1/2} and e^{βΔL}").x("x_{t+1}", Scale::Linear);
    let svg = f.line("a", [(0.0, 1.0), (1.0, 2.0)]).svg().unwrap();
    assert!(svg.contains("M<tspan") && svg.contains("xₜ₊₁") && !svg.contains('^'));
}

#[test]
fn legend_shows_every_style_and_hides_no_data() {
    let f = &awkward()[0];
    let svg = f.svg().unwrap();
    // Markers: two drawn points plus one swatch; the point at M = 0 is dropped on the log axis
    // but its series still has a legend entry with a marker swatch.
    assert_eq!(svg.matches("<circle").count(), 7 + 1, "{svg}");
    assert!(
        svg.matches("<rect x=").count() >= 2,
        "square markers of the second series"
    );
    // The prediction is dashed in the plot and in the legend.
    assert_eq!(svg.matches("stroke-dasharray=\"9 5\"").count(), 2);
    // The legend box contains none of the markers' centres.
    let legend = svg
        .split("<rect x=\"")
        .filter(|r| r.contains("fill-opacity=\"0.9\""))
        .map(|r| {
            let num = |key: &str| -> f64 {
                let k = r.find(key).unwrap() + key.len();
                r[k..k + r[k..].find('"').unwrap()].parse().unwrap()
            };
            let x0: f64 = r[..r.find('"').unwrap()].parse().unwrap();
            (x0, num("y=\""), num("width=\""), num("height=\""))
        })
        .next()
        .unwrap();
    for c in svg.split("<circle cx=\"").skip(1) {
        let cx: f64 = c[..c.find('"').unwrap()].parse().unwrap();
        let k = c.find("cy=\"").unwrap() + 4;
        let cy: f64 = c[k..k + c[k..].find('"').unwrap()].parse().unwrap();
        // (The swatches sit in the legend's first 45 px.)
        let inside = cx > legend.0 + 45.0
            && cx < legend.0 + legend.2
            && cy > legend.1
            && cy < legend.1 + legend.3;
        assert!(
            !inside,
            "a marker at ({cx}, {cy}) under the legend {legend:?}"
        );
    }
}

#[test]
fn no_legend_hides_data() {
    for f in awkward() {
        let svg = f.svg().unwrap();
        assert!(inspect::legend_box(&svg).is_some(), "{}", f.name);
        assert!(!inspect::data_points(&svg).is_empty(), "{}", f.name);
        let hidden = inspect::legend_over_data(&svg);
        assert!(hidden.is_empty(), "{}: {hidden:?}", f.name);
    }
}

#[test]
fn a_crowded_figure_puts_its_legend_outside() {
    // Points everywhere: no corner is free.
    let grid = (0..40).flat_map(|i| (0..40).map(move |j| (i as f64, j as f64)));
    let f = Figure::new("full", "full")
        .x("x", Scale::Linear)
        .y("y", Scale::Linear)
        .markers("everywhere", grid);
    let svg = f.svg().unwrap();
    let legend_x: f64 = {
        let r = svg
            .split("<rect x=\"")
            .find(|r| r.contains("fill-opacity=\"0.9\""))
            .unwrap();
        r[..r.find('"').unwrap()].parse().unwrap()
    };
    let max_cx = svg
        .split("<circle cx=\"")
        .skip(1)
        .map(|c| c[..c.find('"').unwrap()].parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    assert!(
        legend_x > max_cx - 30.0,
        "legend at {legend_x}, points to {max_cx}"
    );
    assert!(overlapping_text(&svg).is_empty());
}

#[test]
fn reference_slopes_follow_the_prediction() {
    let f = Figure::new("r", "r")
        .x("M", Scale::Log)
        .y("movement", Scale::Log)
        .markers("measured", [(10.0, 1.0), (1000.0, 0.1)])
        .reference_slope("slope −1/2", -0.5, (10.0, 1.0));
    let svg = f.svg().unwrap();
    assert!(svg.contains("stroke-dasharray=\"2 4\"") && svg.contains("slope −1/2"));
    // Anchored on a series that does not exist: an error naming the line.
    let bad = Figure::new("r", "r").reference_slope_on("ref", 1.0, "nothing");
    assert!(bad.svg().unwrap_err().to_string().contains("ref"));
}

#[test]
fn figures_from_tables_check_their_columns() {
    let mut t = Table::new(&["step", "train_loss", "test_loss"]);
    t.push(vec![0.0, 1.0, 1.5]);
    t.push(vec![10.0, 0.5, 0.9]);
    let f = Figure::from_table(&t, "step", &["train_loss", "test_loss"]).unwrap();
    assert_eq!(f.series.len(), 2);
    assert_eq!(f.series[1].points, vec![(0.0, 1.5), (10.0, 0.9)]);
    assert_eq!(f.x_label, "step");
    let e = Figure::from_table(&t, "step", &["train_los"]).unwrap_err();
    assert!(e.to_string().contains("train_los"), "{e}");
}

#[test]
fn empty_and_degenerate_figures_still_render() {
    assert!(Figure::new("e", "empty").svg().is_ok());
    let f = Figure::new("d", "one point")
        .x("x", Scale::Log)
        .y("y", Scale::Linear)
        .line("c", [(1.0, 2.0)]);
    let svg = f.svg().unwrap();
    assert!(overlapping_text(&svg).is_empty());
    assert_eq!(range([1.0].into_iter(), Scale::Log), 0.5..2.0);
    assert_eq!(range([3.0, 1.0].into_iter(), Scale::Linear), 0.9..3.1);
}

/// `hline` and `vline` are the two-point dashed predictions they stand for: y constant from
/// x.0 to x.1, or x constant from y.0 to y.1.
#[test]
fn hline_and_vline_are_two_point_predictions() {
    let f = Figure::new("levels", "levels")
        .hline("level", 0.25, (1.0, 8.0))
        .vline("threshold", 3.0, (1e-12, 1.0));
    let [level, threshold] = &f.series[..] else {
        panic!("two series expected, got {}", f.series.len())
    };
    assert_eq!(
        (level.label.as_str(), level.style),
        ("level", Style::Prediction)
    );
    assert_eq!(level.points, [(1.0, 0.25), (8.0, 0.25)]);
    assert_eq!(
        (threshold.label.as_str(), threshold.style),
        ("threshold", Style::Prediction)
    );
    assert_eq!(threshold.points, [(3.0, 1e-12), (3.0, 1.0)]);
}
