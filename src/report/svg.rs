//! Drawing a [`Figure`] as a standalone SVG document.
//!
//! Layout rules, in one place: the canvas is 800 px wide (shown at that size on the page, so
//! every font is at least 14 px as displayed); margins are measured from the labels they hold
//! ([`super::text::text_width`]); ticks come from [`super::ticks`]; the legend goes in the
//! emptiest corner of the plot area (upper right, upper left, lower right, lower left: the one
//! farthest from every drawn point and line, the earlier one when several are clear by 40 px)
//! provided it stays 8 px clear of them, else outside the plot area, right of it or, when it
//! is wide, below it. Lines are clipped to the plot area, so nothing is drawn over the axes.
//! The drawn series are grouped as `<g class="data">` and the legend as `<g class="legend">`,
//! so that a test can read back what the figure shows ([`super::inspect`]). Labels are set by
//! [`super::typography::svg`].

use super::text::text_width;
use super::ticks::{ticks, Room, Tick};
use super::typography::{svg as svg_text, unescaped};
use super::{Figure, Scale, Style};
use std::fmt::Write as _;

/// Canvas width in px.
pub const WIDTH: f64 = 800.0;
/// Canvas height in px (without a legend below the plot).
pub const HEIGHT: f64 = 500.0;
/// Tick labels.
const FONT_TICK: f64 = 15.0;
/// Axis labels.
const FONT_LABEL: f64 = 16.0;
/// Title.
const FONT_TITLE: f64 = 17.0;
/// Legend entries.
const FONT_LEGEND: f64 = 15.0;
/// Legend swatch length.
const SWATCH: f64 = 30.0;

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// How one series is drawn: colour, dash pattern and marker.
#[derive(Clone, Debug)]
struct Pen {
    colour: &'static str,
    dash: Option<&'static str>,
    width: f64,
    marker: Option<usize>,
}

/// A series ready to draw: its pen, legend label and kept points.
pub(super) struct Drawn {
    pen: Pen,
    label: String,
    points: Vec<(f64, f64)>,
}

/// Assigns pens: measured series take palette colours (and marker shapes) in order; a lone
/// prediction is near-black dashed, several take the palette dashed; references are grey dots.
pub(super) fn pens(figure: &Figure, kept: Vec<Vec<(f64, f64)>>) -> Vec<Drawn> {
    let predictions = figure
        .series
        .iter()
        .filter(|s| s.style == Style::Prediction)
        .count();
    let mut colour = 0;
    let mut marker = 0;
    let mut drawn = Vec::new();
    for (s, points) in figure.series.iter().zip(kept) {
        let pen = match s.style {
            Style::Line | Style::Markers => {
                colour += 1;
                let m = (s.style == Style::Markers).then(|| {
                    marker += 1;
                    marker - 1
                });
                Pen {
                    colour: PALETTE[(colour - 1) % PALETTE.len()],
                    dash: None,
                    width: 2.0,
                    marker: m,
                }
            }
            Style::Prediction => Pen {
                colour: if predictions == 1 {
                    "#222222"
                } else {
                    colour += 1;
                    PALETTE[(colour - 1) % PALETTE.len()]
                },
                dash: Some("9 5"),
                width: 2.0,
                marker: None,
            },
            Style::Reference => Pen {
                colour: "#666666",
                dash: Some("2 4"),
                width: 1.6,
                marker: None,
            },
        };
        drawn.push(Drawn {
            pen,
            label: s.label.clone(),
            points,
        });
    }
    drawn
}

/// Pixel mapping of one axis.
#[derive(Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    scale: Scale,
    start: f64,
    end: f64,
}

impl Axis {
    fn px(&self, v: f64) -> f64 {
        let f = match self.scale {
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
            Scale::Log => (v / self.lo).log10() / (self.hi / self.lo).log10(),
        };
        self.start + f * (self.end - self.start)
    }
}

/// A rectangle in px.
#[derive(Clone, Copy, Debug)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn contains(&self, (x, y): (f64, f64), pad: f64) -> bool {
        x >= self.x0 - pad && x <= self.x1 + pad && y >= self.y0 - pad && y <= self.y1 + pad
    }
}

/// Clips the segment p–q to `r` (Liang–Barsky); None when it misses.
fn clip(p: (f64, f64), q: (f64, f64), r: Rect) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (num, den) in [
        (p.0 - r.x0, -dx),
        (r.x1 - p.0, dx),
        (p.1 - r.y0, -dy),
        (r.y1 - p.1, dy),
    ] {
        if den == 0.0 {
            if num < 0.0 {
                return None;
            }
        } else {
            let t = num / den;
            if den < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then_some((
        (p.0 + t0 * dx, p.1 + t0 * dy),
        (p.0 + t1 * dx, p.1 + t1 * dy),
    ))
}

fn esc(s: &str) -> String {
    svg_text(s)
}

/// The words of a label with TeX fragments: split at spaces outside `{…}` groups and outside
/// the `(…)` of a script (`e^(−β ΔV)` stays one word).
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut open: Vec<char> = Vec::new();
    let (mut start, mut prev) = (0, ' ');
    for (k, c) in text.char_indices() {
        match c {
            '{' => open.push('}'),
            '(' if !open.is_empty() || matches!(prev, '^' | '_') => open.push(')'),
            '}' | ')' if open.last() == Some(&c) => {
                open.pop();
            }
            ' ' if open.is_empty() => {
                words.push(&text[start..k]);
                start = k + 1;
            }
            _ => {}
        }
        prev = c;
    }
    words.push(&text[start..]);
    words
}

/// Splits `text` (with its TeX fragments) into lines no wider than `width` at `font` px, as
/// typeset.
fn wrap(text: &str, font: f64, width: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in words(text) {
        match lines.last_mut() {
            Some(line) if text_width(&unescaped(&format!("{line} {word}")), font) <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A marker shape (circle, square, triangle, diamond) centred at (x, y).
fn marker(out: &mut String, shape: usize, (x, y): (f64, f64), colour: &str) {
    let style = format!("fill=\"{colour}\" stroke=\"#ffffff\" stroke-width=\"0.8\"");
    let _ = match shape % 4 {
        0 => write!(
            out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\" {style}/>"
        ),
        1 => write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" {style}/>",
            x - 4.0,
            y - 4.0
        ),
        2 => write!(
            out,
            "<path d=\"M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z\" {style}/>",
            y - 5.5,
            x + 5.0,
            y + 3.5,
            x - 5.0,
            y + 3.5
        ),
        _ => write!(
            out,
            "<path d=\"M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z\" {style}/>",
            y - 5.5,
            x + 5.5,
            y + 5.5,
            x - 5.5
        ),
    };
}

/// A line through pixel points, clipped to `r`.
fn polyline(out: &mut String, pts: &[(f64, f64)], r: Rect, pen: &Pen) {
    let mut d = String::new();
    let mut last: Option<(f64, f64)> = None;
    for w in pts.windows(2) {
        if let Some((a, b)) = clip(w[0], w[1], r) {
            if last.is_none_or(|l| (l.0 - a.0).abs() > 1e-6 || (l.1 - a.1).abs() > 1e-6) {
                let _ = write!(d, "M{:.1} {:.1}", a.0, a.1);
            }
            let _ = write!(d, "L{:.1} {:.1}", b.0, b.1);
            last = Some(b);
        }
    }
    if !d.is_empty() {
        let dash = pen
            .dash
            .map_or(String::new(), |p| format!(" stroke-dasharray=\"{p}\""));
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{dash} stroke-linejoin=\"round\"/>",
            pen.colour, pen.width
        );
    }
}

/// Points along the drawn series (segments sampled every 3 px), for legend placement.
fn footprint(series: &[Drawn], x: Axis, y: Axis) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for s in series {
        let px: Vec<(f64, f64)> = s.points.iter().map(|&(a, b)| (x.px(a), y.px(b))).collect();
        pts.extend(px.iter().copied());
        if s.pen.marker.is_none() {
            for w in px.windows(2) {
                let n = ((w[1].0 - w[0].0).hypot(w[1].1 - w[0].1) / 3.0).ceil() as usize;
                for k in 1..n.min(2000) {
                    let t = k as f64 / n as f64;
                    pts.push((
                        w[0].0 + t * (w[1].0 - w[0].0),
                        w[0].1 + t * (w[1].1 - w[0].1),
                    ));
                }
            }
        }
    }
    pts
}

/// Gap between an inside legend and the plot's frame, px.
const LEGEND_INSET: f64 = 8.0;
/// The least distance, px, between an inside legend and any drawn point or line (a marker's
/// radius is 5.5 px).
const LEGEND_CLEARANCE: f64 = 8.0;
/// Clearance beyond which corners count as equally empty (the earlier one is then taken).
const LEGEND_ENOUGH: f64 = 40.0;

/// Distance from `p` to the rectangle `r` (0 inside).
fn distance(r: &Rect, p: (f64, f64)) -> f64 {
    let dx = (r.x0 - p.0).max(p.0 - r.x1).max(0.0);
    let dy = (r.y0 - p.1).max(p.1 - r.y1).max(0.0);
    dx.hypot(dy)
}

/// The emptiest of the candidate corners (top-left points of a `w` × `h` legend): the one
/// farthest from every point of `footprint`, counting any clearance above
/// [`LEGEND_ENOUGH`] as equal (then the earlier corner wins); None when every corner comes
/// within [`LEGEND_CLEARANCE`] of a point (the legend then goes outside the plot area).
fn emptiest(corners: &[(f64, f64)], w: f64, h: f64, footprint: &[(f64, f64)]) -> Option<Rect> {
    let mut best: Option<(f64, Rect)> = None;
    for &(x0, y0) in corners {
        let r = Rect {
            x0,
            y0,
            x1: x0 + w,
            y1: y0 + h,
        };
        let clearance = footprint
            .iter()
            .map(|&p| distance(&r, p))
            .fold(LEGEND_ENOUGH, f64::min);
        if clearance >= LEGEND_CLEARANCE && best.is_none_or(|(c, _)| clearance > c) {
            best = Some((clearance, r));
        }
    }
    best.map(|(_, r)| r)
}

/// Where the legend goes.
enum Placement {
    Inside(Rect),
    Right,
    Below,
}

/// Renders `figure` with its series already filtered and pens assigned.
pub(super) fn render(figure: &Figure, series: &[Drawn], xr: (f64, f64), yr: (f64, f64)) -> String {
    let legend: Vec<&Drawn> = series.iter().filter(|s| !s.label.is_empty()).collect();
    let legend_text_w = legend
        .iter()
        .map(|s| text_width(&unescaped(&s.label), FONT_LEGEND))
        .fold(0.0, f64::max);
    let row = 1.45 * FONT_LEGEND;
    let legend_w = 10.0 + SWATCH + 8.0 + legend_text_w + 10.0;
    let legend_h = 8.0 + row * legend.len() as f64 + 4.0;

    let title_lines = wrap(&figure.title, FONT_TITLE, WIDTH - 40.0);
    let top = 14.0 + 1.35 * FONT_TITLE * title_lines.len() as f64 + 10.0;
    let bottom_axis = 8.0 + 1.2 * FONT_TICK + 10.0 + 1.2 * FONT_LABEL + 8.0;

    let mut placement = Placement::Right;
    let mut layout = None;
    // Try inside first; fall back to outside.
    for attempt in 0..2 {
        let outside = attempt == 1;
        let wide = legend_w > 0.34 * WIDTH;
        let below = outside && wide;
        let height = if below {
            HEIGHT + legend_h + 12.0
        } else {
            HEIGHT
        };
        let plot_bottom = HEIGHT - bottom_axis;
        let yroom = Room {
            length: plot_bottom - top,
            font: FONT_TICK,
            horizontal: false,
        };
        let yt = ticks(yr.0, yr.1, figure.y_scale, yroom);
        let ylab_w = yt
            .iter()
            .filter_map(|t| t.label.as_ref())
            .map(|l| text_width(l, FONT_TICK))
            .fold(0.0, f64::max);
        let left = 10.0 + 1.3 * FONT_LABEL + 8.0 + ylab_w + 10.0;
        let right_reserve = if outside && !wide {
            legend_w + 24.0
        } else {
            0.0
        };
        // Room for half the last x label beyond the plot's right edge.
        let mut right = WIDTH - 24.0 - right_reserve;
        let mut xt = Vec::new();
        for _ in 0..2 {
            let xroom = Room {
                length: right - left,
                font: FONT_TICK,
                horizontal: true,
            };
            xt = ticks(xr.0, xr.1, figure.x_scale, xroom);
            let x_axis = Axis {
                lo: xr.0,
                hi: xr.1,
                scale: figure.x_scale,
                start: left,
                end: right,
            };
            let overhang = xt
                .iter()
                .filter_map(|t| {
                    t.label
                        .as_ref()
                        .map(|l| x_axis.px(t.value) + text_width(l, FONT_TICK) / 2.0)
                })
                .fold(0.0, f64::max);
            let limit = WIDTH - 6.0 - right_reserve;
            if overhang <= limit {
                break;
            }
            right -= overhang - limit;
        }
        let plot = Rect {
            x0: left,
            y0: top,
            x1: right,
            y1: plot_bottom,
        };
        let x = Axis {
            lo: xr.0,
            hi: xr.1,
            scale: figure.x_scale,
            start: left,
            end: right,
        };
        let y = Axis {
            lo: yr.0,
            hi: yr.1,
            scale: figure.y_scale,
            start: plot_bottom,
            end: top,
        };
        if legend.is_empty() {
            layout = Some((plot, x, y, xt, yt, height));
            placement = Placement::Right;
            break;
        }
        if !outside {
            let pts = footprint(series, x, y);
            let corners = [
                (plot.x1 - LEGEND_INSET - legend_w, plot.y0 + LEGEND_INSET),
                (plot.x0 + LEGEND_INSET, plot.y0 + LEGEND_INSET),
                (
                    plot.x1 - LEGEND_INSET - legend_w,
                    plot.y1 - LEGEND_INSET - legend_h,
                ),
                (plot.x0 + LEGEND_INSET, plot.y1 - LEGEND_INSET - legend_h),
            ];
            let fits = legend_w < plot.x1 - plot.x0 - 2.0 * LEGEND_INSET
                && legend_h < plot.y1 - plot.y0 - 2.0 * LEGEND_INSET;
            if let Some(r) = fits
                .then(|| emptiest(&corners, legend_w, legend_h, &pts))
                .flatten()
            {
                placement = Placement::Inside(r);
                layout = Some((plot, x, y, xt, yt, height));
                break;
            }
        } else {
            placement = if below {
                Placement::Below
            } else {
                Placement::Right
            };
            layout = Some((plot, x, y, xt, yt, height));
        }
    }
    let Some((plot, x, y, xt, yt, height)) = layout else {
        return String::new();
    };

    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>"
    );
    for (k, line) in title_lines.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT_TITLE}\" text-anchor=\"middle\">{}</text>",
            WIDTH / 2.0,
            14.0 + FONT_TITLE + 1.35 * FONT_TITLE * k as f64,
            esc(line)
        );
    }
    // Grid at labelled ticks, then the frame.
    let labelled = |t: &&Tick| t.label.is_some();
    for t in xt.iter().filter(labelled) {
        let p = x.px(t.value);
        let _ = write!(
            s,
            "<path d=\"M{p:.1} {:.1}V{:.1}\" stroke=\"#e6e6e6\" stroke-width=\"1\"/>",
            plot.y0, plot.y1
        );
    }
    for t in yt.iter().filter(labelled) {
        let p = y.px(t.value);
        let _ = write!(
            s,
            "<path d=\"M{:.1} {p:.1}H{:.1}\" stroke=\"#e6e6e6\" stroke-width=\"1\"/>",
            plot.x0, plot.x1
        );
    }
    // Ticks and labels.
    for t in &xt {
        let p = x.px(t.value);
        let len = if t.label.is_some() { 6.0 } else { 3.5 };
        let _ = write!(
            s,
            "<path d=\"M{p:.1} {:.1}v{len}\" stroke=\"#444444\" stroke-width=\"1\"/>",
            plot.y1
        );
        if let Some(l) = &t.label {
            let _ = write!(
                s,
                "<text x=\"{p:.1}\" y=\"{:.1}\" font-size=\"{FONT_TICK}\" text-anchor=\"middle\">{}</text>",
                plot.y1 + 8.0 + FONT_TICK,
                xml(l)
            );
        }
    }
    for t in &yt {
        let p = y.px(t.value);
        let len = if t.label.is_some() { 6.0 } else { 3.5 };
        let _ = write!(
            s,
            "<path d=\"M{:.1} {p:.1}h-{len}\" stroke=\"#444444\" stroke-width=\"1\"/>",
            plot.x0
        );
        if let Some(l) = &t.label {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT_TICK}\" text-anchor=\"end\">{}</text>",
                plot.x0 - 9.0,
                p + 0.36 * FONT_TICK,
                xml(l)
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT_LABEL}\" text-anchor=\"middle\">{}</text>",
        (plot.x0 + plot.x1) / 2.0,
        plot.y1 + 8.0 + 1.2 * FONT_TICK + 10.0 + FONT_LABEL,
        esc(&figure.x_label)
    );
    let (yx, yy) = (10.0 + FONT_LABEL, (plot.y0 + plot.y1) / 2.0);
    let _ = write!(
        s,
        "<text x=\"{yx:.1}\" y=\"{yy:.1}\" font-size=\"{FONT_LABEL}\" text-anchor=\"middle\" \
         transform=\"rotate(-90, {yx:.1}, {yy:.1})\">{}</text>",
        esc(&figure.y_label)
    );
    // Series.
    s.push_str("<g class=\"data\">");
    for d in series {
        let px: Vec<(f64, f64)> = d.points.iter().map(|&(a, b)| (x.px(a), y.px(b))).collect();
        match d.pen.marker {
            Some(shape) => {
                for &p in px.iter().filter(|&&p| plot.contains(p, 0.5)) {
                    marker(&mut s, shape, p, d.pen.colour);
                }
            }
            None => polyline(&mut s, &px, plot, &d.pen),
        }
    }
    s.push_str("</g>");
    let _ = write!(
        s,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#444444\" stroke-width=\"1\"/>",
        plot.x0,
        plot.y0,
        plot.x1 - plot.x0,
        plot.y1 - plot.y0
    );
    // Legend.
    if !legend.is_empty() {
        let (lx, ly) = match placement {
            Placement::Inside(r) => (r.x0, r.y0),
            Placement::Right => (plot.x1 + 16.0, plot.y0),
            Placement::Below => (plot.x0, HEIGHT + 4.0),
        };
        let _ = write!(
            s,
            "<g class=\"legend\"><rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"{legend_w:.1}\" height=\"{legend_h:.1}\" \
             fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#999999\" stroke-width=\"1\"/>"
        );
        for (k, d) in legend.iter().enumerate() {
            let cy = ly + 8.0 + row * (k as f64 + 0.5);
            let sx = lx + 10.0;
            match d.pen.marker {
                Some(shape) => marker(&mut s, shape, (sx + SWATCH / 2.0, cy), d.pen.colour),
                None => polyline(
                    &mut s,
                    &[(sx, cy), (sx + SWATCH, cy)],
                    Rect {
                        x0: 0.0,
                        y0: 0.0,
                        x1: WIDTH,
                        y1: height,
                    },
                    &d.pen,
                ),
            }
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT_LEGEND}\">{}</text>",
                sx + SWATCH + 8.0,
                cy + 0.36 * FONT_LEGEND,
                esc(&d.label)
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>\n");
    s
}

/// XML-escapes text that is already typography (tick labels).
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emptiest_corner_is_taken() {
        let corners = [(100.0, 0.0), (0.0, 0.0), (100.0, 100.0), (0.0, 100.0)];
        // A point 5 px right of the lower-left corner's box rules it out (under 8 px), one
        // 12 px below the upper-right box leaves it 12 px of room, the others 20 and 30 px.
        let pts = [(55.0, 120.0), (130.0, 62.0), (20.0, 70.0), (130.0, 70.0)];
        let r = emptiest(&corners, 50.0, 50.0, &pts).unwrap();
        assert_eq!((r.x0, r.y0), (100.0, 100.0), "{r:?}");
        // Far from everything: the first corner (upper right) wins the tie.
        let r = emptiest(&corners, 50.0, 50.0, &[(75.0, 75.0)]).unwrap();
        assert_eq!((r.x0, r.y0), (100.0, 0.0));
        // A point within 8 px of every corner: none.
        assert!(emptiest(
            &corners,
            50.0,
            50.0,
            &[(52.0, 52.0), (98.0, 98.0), (52.0, 98.0), (98.0, 52.0)]
        )
        .is_none());
        assert!(emptiest(
            &corners,
            50.0,
            50.0,
            &[
                (75.0, 75.0),
                (60.0, 60.0),
                (90.0, 90.0),
                (60.0, 90.0),
                (90.0, 60.0)
            ]
        )
        .is_some());
    }

    #[test]
    fn titles_wrap_between_words_not_inside_scripts() {
        assert_eq!(
            words("a e^(−β ΔV) K_{W 0} (b c)"),
            ["a", "e^(−β ΔV)", "K_{W 0}", "(b", "c)"]
        );
    }
}
