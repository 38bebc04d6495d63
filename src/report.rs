//! Figures as data, rendered to standalone SVG by plotters (no fonts are loaded: text is
//! written as SVG `<text>` in a generic sans-serif family, so a browser renders it).
//!
//! A [`Figure`] holds named series of (x, y) points, axis labels and scales; [`Figure::svg`]
//! draws it. Non-finite points, and non-positive ones on a log axis, are left out (a series
//! that is a power law or an exponential belongs on log axes). This module knows nothing of
//! models or claims.

use crate::error::{Error, Result};
use plotters::prelude::*;
use serde::Serialize;

/// An axis scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic.
    Log,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// A solid line through the points (a measured curve).
    Line,
    /// Circles at the points (measurements, e.g. one per setting).
    Markers,
    /// A dashed black-ish line (a prediction or reference).
    Prediction,
}

/// One curve or point set.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    /// Legend label (none drawn when empty).
    pub label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// The drawing style.
    pub style: Style,
}

/// A two-dimensional plot.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// File stem (`NAME.svg`).
    pub name: String,
    /// Caption.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Horizontal scale.
    pub x_scale: Scale,
    /// Vertical scale.
    pub y_scale: Scale,
    /// The series, drawn in order.
    pub series: Vec<Series>,
}

impl Figure {
    /// An empty figure with linear axes.
    pub fn new(name: &str, title: &str) -> Figure {
        Figure {
            name: name.into(),
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            series: Vec::new(),
        }
    }

    /// Sets the horizontal axis.
    pub fn x(mut self, label: &str, scale: Scale) -> Figure {
        self.x_label = label.into();
        self.x_scale = scale;
        self
    }

    /// Sets the vertical axis.
    pub fn y(mut self, label: &str, scale: Scale) -> Figure {
        self.y_label = label.into();
        self.y_scale = scale;
        self
    }

    /// Adds a series.
    pub fn series(
        mut self,
        label: &str,
        style: Style,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Figure {
        self.series.push(Series {
            label: label.into(),
            points: points.into_iter().collect(),
            style,
        });
        self
    }

    /// Adds a solid line.
    pub fn line(self, label: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Figure {
        self.series(label, Style::Line, points)
    }

    /// Adds markers.
    pub fn markers(self, label: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Figure {
        self.series(label, Style::Markers, points)
    }

    /// Adds a dashed prediction.
    pub fn prediction(self, label: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Figure {
        self.series(label, Style::Prediction, points)
    }

    fn kept(&self, s: &Series) -> Vec<(f64, f64)> {
        let ok = |v: f64, scale: Scale| v.is_finite() && (scale == Scale::Linear || v > 0.0);
        s.points
            .iter()
            .copied()
            .filter(|&(x, y)| ok(x, self.x_scale) && ok(y, self.y_scale))
            .collect()
    }

    /// Renders the figure as a standalone SVG document (640 × 420).
    pub fn svg(&self) -> Result<String> {
        let kept: Vec<Vec<(f64, f64)>> = self.series.iter().map(|s| self.kept(s)).collect();
        let all: Vec<(f64, f64)> = kept.iter().flatten().copied().collect();
        let xr = range(all.iter().map(|p| p.0), self.x_scale);
        let yr = range(all.iter().map(|p| p.1), self.y_scale);
        let mut out = String::new();
        let fail = |e: &dyn std::fmt::Display| {
            Error::invalid(format!("figure {}", self.name), e.to_string())
        };
        {
            let root = SVGBackend::with_string(&mut out, (640, 420)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| fail(&e))?;
            let mut chart = ChartBuilder::on(&root);
            chart
                .caption(&self.title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(72);
            macro_rules! draw {
                ($chart:expr) => {{
                    let mut c = $chart.map_err(|e| fail(&e))?;
                    c.configure_mesh()
                        .x_desc(self.x_label.as_str())
                        .y_desc(self.y_label.as_str())
                        .x_label_formatter(&|v| tick(*v))
                        .y_label_formatter(&|v| tick(*v))
                        .draw()
                        .map_err(|e| fail(&e))?;
                    let mut legend = false;
                    for (k, (s, pts)) in self.series.iter().zip(&kept).enumerate() {
                        let colour = if s.style == Style::Prediction {
                            RGBColor(40, 40, 40)
                        } else {
                            palette(k)
                        };
                        let anno = match s.style {
                            Style::Line => c
                                .draw_series(LineSeries::new(
                                    pts.iter().copied(),
                                    colour.stroke_width(2),
                                ))
                                .map_err(|e| fail(&e))?,
                            Style::Prediction => c
                                .draw_series(DashedLineSeries::new(
                                    pts.iter().copied(),
                                    6,
                                    4,
                                    colour.stroke_width(2),
                                ))
                                .map_err(|e| fail(&e))?,
                            Style::Markers => c
                                .draw_series(
                                    pts.iter().map(|&p| Circle::new(p, 4, colour.filled())),
                                )
                                .map_err(|e| fail(&e))?,
                        };
                        if !s.label.is_empty() {
                            legend = true;
                            let style = s.style;
                            anno.label(s.label.as_str()).legend(move |(x, y)| {
                                if style == Style::Markers {
                                    PathElement::new(vec![(x + 10, y)], colour.stroke_width(6))
                                } else {
                                    PathElement::new(
                                        vec![(x, y), (x + 20, y)],
                                        colour.stroke_width(2),
                                    )
                                }
                            });
                        }
                    }
                    if legend {
                        c.configure_series_labels()
                            .position(SeriesLabelPosition::UpperRight)
                            .background_style(WHITE.mix(0.85))
                            .border_style(BLACK.mix(0.4))
                            .draw()
                            .map_err(|e| fail(&e))?;
                    }
                }};
            }
            match (self.x_scale, self.y_scale) {
                (Scale::Linear, Scale::Linear) => draw!(chart.build_cartesian_2d(xr, yr)),
                (Scale::Log, Scale::Linear) => {
                    draw!(chart.build_cartesian_2d(xr.log_scale(), yr))
                }
                (Scale::Linear, Scale::Log) => {
                    draw!(chart.build_cartesian_2d(xr, yr.log_scale()))
                }
                (Scale::Log, Scale::Log) => {
                    draw!(chart.build_cartesian_2d(xr.log_scale(), yr.log_scale()))
                }
            }
            root.present().map_err(|e| fail(&e))?;
        }
        Ok(out)
    }
}

/// The plotted range of some values: their extent with 5 % padding (a factor on log axes),
/// widened when degenerate or empty.
fn range(values: impl Iterator<Item = f64>, scale: Scale) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return if scale == Scale::Log {
            0.1..10.0
        } else {
            0.0..1.0
        };
    }
    match scale {
        Scale::Linear => {
            let pad = if hi > lo {
                0.05 * (hi - lo)
            } else {
                0.5 * lo.abs().max(1e-12)
            };
            (lo - pad)..(hi + pad)
        }
        Scale::Log => {
            let f = if hi > lo { (hi / lo).powf(0.05) } else { 2.0 };
            (lo / f)..(hi * f)
        }
    }
}

/// Tick labels: plain decimals in [1e-3, 1e4), scientific otherwise.
fn tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&a) {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

fn palette(k: usize) -> RGBColor {
    const COLOURS: [(u8, u8, u8); 8] = [
        (31, 119, 180),
        (214, 39, 40),
        (44, 160, 44),
        (255, 127, 14),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (23, 190, 207),
    ];
    let (r, g, b) = COLOURS[k % COLOURS.len()];
    RGBColor(r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_renders_its_labels_series_and_legend() {
        let f = Figure::new("decay", "error against width")
            .x("width M", Scale::Log)
            .y("‖K − K∞‖ & error", Scale::Log)
            .markers("measured", [(64.0, 0.5), (256.0, 0.25), (0.0, 1.0)])
            .prediction("M^{-1/2}", [(64.0, 0.5), (256.0, 0.25)]);
        let svg = f.svg().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("width M") && svg.contains("error against width"));
        // Escaped text, two markers (the point at x = 0 is dropped on the log axis).
        assert!(svg.contains("&amp;"));
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        // The prediction is dashed: several short segments in its colour; both legend labels.
        assert!(svg.matches("stroke=\"#282828\"").count() > 5);
        assert!(svg.contains("measured") && svg.contains("M^{-1/2}"));
    }

    #[test]
    fn empty_and_degenerate_figures_still_render() {
        assert!(Figure::new("e", "empty").svg().is_ok());
        let f = Figure::new("d", "one point")
            .x("x", Scale::Log)
            .y("y", Scale::Linear)
            .line("c", [(1.0, 2.0)]);
        assert!(f.svg().is_ok());
        assert_eq!(range([1.0].into_iter(), Scale::Log), 0.5..2.0);
        assert_eq!(range([3.0, 1.0].into_iter(), Scale::Linear), 0.9..3.1);
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(100.0), "100");
        assert_eq!(tick(1e-5), "1.0e-5");
    }
}
