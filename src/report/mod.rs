//! Figures as data, rendered to standalone SVG without a font engine: text is written as SVG
//! `<text>` in a sans-serif family, so a browser sets it, and laid out from font metrics.
//!
//! A [`Figure`] holds named series of (x, y) points, axis labels and scales, and reference
//! lines of a predicted slope; [`Figure::svg`] draws it. Non-finite points, and non-positive
//! ones on a log axis, are left out (a series that is a power law or an exponential belongs on
//! log axes). The rules a figure follows (ticks, legend placement, fonts, TeX in labels) live
//! in this module's files: [`ticks`], [`svg`], [`text`], [`typography`]; [`inspect`] reads a
//! rendered figure back for tests; [`run`] plots the metrics of `gradflow run`. This module knows nothing of models or claims.

pub mod inspect;
pub mod page;
pub mod run;
pub mod svg;
pub mod text;
pub mod ticks;
pub mod typography;

use crate::data::io::Table;
use crate::error::{Error, Result};
use serde::Serialize;

/// An axis scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic.
    Log,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// A solid line through the points (a measured curve).
    Line,
    /// Circles at the points (measurements, e.g. one per setting).
    Markers,
    /// A dashed black-ish line (a prediction or reference).
    Prediction,
    /// A dotted grey guide line (a predicted slope, see [`Figure::reference_slope`]).
    Reference,
}

/// Where a reference line of given slope passes.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// Through this point (data units).
    Point(f64, f64),
    /// Through the series with this label, in the least-squares sense: the intercept is the
    /// mean of Y − slope·X over its points, in the plotted coordinates (log₁₀ on log axes).
    Series(String),
}

/// A straight line of given slope in the plotted coordinates: on log–log axes the power law
/// y ∝ x^slope, on a log y axis over a linear x the exponential y ∝ 10^(slope·x), on linear
/// axes y = a + slope·x.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Reference {
    /// Legend label.
    pub label: String,
    /// The slope (d log₁₀ y / d log₁₀ x on log–log axes).
    pub slope: f64,
    /// Where it passes.
    pub anchor: Anchor,
}

/// One curve or point set.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Series {
    /// Legend label (none drawn when empty).
    pub label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// The drawing style.
    pub style: Style,
}

/// A two-dimensional plot.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
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
    /// Reference lines of predicted slopes, drawn after the series.
    pub references: Vec<Reference>,
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
            references: Vec::new(),
        }
    }

    /// Sets the file stem and the caption.
    pub fn named(mut self, name: &str, title: &str) -> Figure {
        self.name = name.into();
        self.title = title.into();
        self
    }

    /// A figure of the columns `y_columns` of `table` against its column `x_column`, one solid
    /// line per column, labelled by the column's name; the horizontal axis is labelled
    /// `x_column`, the file stem is the y columns joined by `-`. An unknown column is an error
    /// naming it and the table's columns.
    pub fn from_table(table: &Table, x_column: &str, y_columns: &[&str]) -> Result<Figure> {
        let mut f = Figure::new(
            &y_columns.join("-"),
            &format!("{} against {x_column}", y_columns.join(", ")),
        )
        .x(x_column, Scale::Linear);
        if y_columns.len() == 1 {
            f.y_label = y_columns[0].to_string();
        }
        for y in y_columns {
            f = f.table_series(table, x_column, y, y, Style::Line)?;
        }
        Ok(f)
    }

    /// Adds the column `y_column` of `table` against `x_column` as a series (checked columns:
    /// an unknown name is an error listing the table's columns).
    pub fn table_series(
        self,
        table: &Table,
        x_column: &str,
        y_column: &str,
        label: &str,
        style: Style,
    ) -> Result<Figure> {
        let x = table.column(x_column)?;
        let y = table.column(y_column)?;
        Ok(self.series(label, style, x.into_iter().zip(y)))
    }

    /// Adds a reference line of slope `slope` (in the plotted coordinates, see [`Reference`])
    /// through the point `through`, across the whole horizontal range.
    pub fn reference_slope(mut self, label: &str, slope: f64, through: (f64, f64)) -> Figure {
        self.references.push(Reference {
            label: label.into(),
            slope,
            anchor: Anchor::Point(through.0, through.1),
        });
        self
    }

    /// Adds a reference line of slope `slope` fitted through the series labelled `series`
    /// (only its intercept is fitted: the line shows how far the data follow the prediction).
    pub fn reference_slope_on(mut self, label: &str, slope: f64, series: &str) -> Figure {
        self.references.push(Reference {
            label: label.into(),
            slope,
            anchor: Anchor::Series(series.into()),
        });
        self
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

    /// Adds a dashed horizontal prediction: the level y = `y` drawn from x = `x.0` to `x.1`.
    pub fn hline(self, label: &str, y: f64, x: (f64, f64)) -> Figure {
        self.prediction(label, [(x.0, y), (x.1, y)])
    }

    /// Adds a dashed vertical prediction: the threshold x = `x` drawn from y = `y.0` to `y.1`.
    pub fn vline(self, label: &str, x: f64, y: (f64, f64)) -> Figure {
        self.prediction(label, [(x, y.0), (x, y.1)])
    }

    fn kept(&self, s: &Series) -> Vec<(f64, f64)> {
        let ok = |v: f64, scale: Scale| v.is_finite() && (scale == Scale::Linear || v > 0.0);
        s.points
            .iter()
            .copied()
            .filter(|&(x, y)| ok(x, self.x_scale) && ok(y, self.y_scale))
            .collect()
    }

    /// The plotted coordinate of a value: itself, or its log₁₀ on a log axis.
    fn coordinate(v: f64, scale: Scale) -> f64 {
        match scale {
            Scale::Linear => v,
            Scale::Log => v.log10(),
        }
    }

    /// The points of a reference line across the horizontal range `xr` (None when its anchor
    /// names no series with points, or the slope is not finite).
    fn reference_points(
        &self,
        r: &Reference,
        kept: &[Vec<(f64, f64)>],
        xr: (f64, f64),
    ) -> Option<Vec<(f64, f64)>> {
        let (xs, ys) = (self.x_scale, self.y_scale);
        let intercept = match &r.anchor {
            Anchor::Point(x, y) => {
                let p = (Self::coordinate(*x, xs), Self::coordinate(*y, ys));
                p.1 - r.slope * p.0
            }
            Anchor::Series(label) => {
                let k = self.series.iter().position(|s| &s.label == label)?;
                let pts = &kept[k];
                if pts.is_empty() {
                    return None;
                }
                pts.iter()
                    .map(|&(x, y)| Self::coordinate(y, ys) - r.slope * Self::coordinate(x, xs))
                    .sum::<f64>()
                    / pts.len() as f64
            }
        };
        if !(intercept.is_finite() && r.slope.is_finite()) {
            return None;
        }
        let (a, b) = (Self::coordinate(xr.0, xs), Self::coordinate(xr.1, xs));
        let back = |v: f64, scale: Scale| match scale {
            Scale::Linear => v,
            Scale::Log => 10f64.powf(v),
        };
        Some(
            (0..=64)
                .map(|k| {
                    let u = a + (b - a) * k as f64 / 64.0;
                    (back(u, xs), back(intercept + r.slope * u, ys))
                })
                .filter(|p| {
                    p.0.is_finite() && p.1.is_finite() && (ys == Scale::Linear || p.1 > 0.0)
                })
                .collect(),
        )
    }

    /// Renders the figure as a standalone SVG document, 800 px wide (see [`svg`] for the
    /// layout rules).
    pub fn svg(&self) -> Result<String> {
        let kept: Vec<Vec<(f64, f64)>> = self.series.iter().map(|s| self.kept(s)).collect();
        let all: Vec<(f64, f64)> = kept.iter().flatten().copied().collect();
        let xr = range(all.iter().map(|p| p.0), self.x_scale);
        let yr = range(all.iter().map(|p| p.1), self.y_scale);
        let (xr, yr) = ((xr.start, xr.end), (yr.start, yr.end));
        let mut figure = self.clone();
        let mut points = kept.clone();
        for r in &self.references {
            let pts = self.reference_points(r, &kept, xr).ok_or_else(|| {
                Error::invalid(
                    format!("figure {}", self.name),
                    format!("reference line '{}' has no series to pass through", r.label),
                )
            })?;
            figure.series.push(Series {
                label: r.label.clone(),
                points: pts.clone(),
                style: Style::Reference,
            });
            points.push(pts);
        }
        let drawn = svg::pens(&figure, points);
        Ok(svg::render(&figure, &drawn, xr, yr))
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

#[cfg(test)]
mod tests;
