//! Reading back what a rendered figure shows: the legend's box and the marks of the data, from
//! the `<g class="legend">` and `<g class="data">` groups that [`super::svg`] writes. With
//! [`legend_over_data`] a test checks, on the SVG files themselves, that no legend hides a
//! point or a line.

/// An axis-aligned box in the SVG's user units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
}

impl Bounds {
    /// True when `p` lies inside the box shrunk by `margin` on every side.
    pub fn holds(&self, p: (f64, f64), margin: f64) -> bool {
        p.0 > self.x0 + margin
            && p.0 < self.x1 - margin
            && p.1 > self.y0 + margin
            && p.1 < self.y1 - margin
    }
}

/// The content of the first `<g class="NAME">…</g>` of `svg` (the groups hold no nested
/// groups).
fn group<'a>(svg: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<g class=\"{name}\">");
    let start = svg.find(&open)? + open.len();
    let end = svg[start..].find("</g>")?;
    Some(&svg[start..start + end])
}

/// The numeric value of attribute `name` in one tag's attribute text.
fn number(tag: &str, name: &str) -> Option<f64> {
    let key = format!(" {name}=\"");
    let k = tag.find(&key)? + key.len();
    tag[k..k + tag[k..].find('"')?].parse().ok()
}

/// The tags of `kind` (`circle`, `rect`, `path`) in `text`, as their attribute text.
fn tags<'a>(text: &'a str, kind: &str) -> Vec<&'a str> {
    let open = format!("<{kind} ");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(k) = rest.find(&open) {
        let tail = &rest[k..];
        let end = tail.find('>').unwrap_or(tail.len());
        found.push(&tail[..end]);
        rest = &tail[end..];
    }
    found
}

/// The legend's box, when the figure has a legend.
pub fn legend_box(svg: &str) -> Option<Bounds> {
    let rect = *tags(group(svg, "legend")?, "rect").first()?;
    let (x, y) = (number(rect, "x")?, number(rect, "y")?);
    let (w, h) = (number(rect, "width")?, number(rect, "height")?);
    Some(Bounds {
        x0: x,
        y0: y,
        x1: x + w,
        y1: y + h,
    })
}

/// Points covering every mark of the data: each marker's extreme points and centre, and
/// points every 2 px along each line (the absolute `M`/`L`/`Z` paths that [`super::svg`]
/// writes).
pub fn data_points(svg: &str) -> Vec<(f64, f64)> {
    let Some(data) = group(svg, "data") else {
        return Vec::new();
    };
    let mut pts = Vec::new();
    for c in tags(data, "circle") {
        if let (Some(x), Some(y), Some(r)) = (number(c, "cx"), number(c, "cy"), number(c, "r")) {
            pts.extend([(x, y), (x - r, y), (x + r, y), (x, y - r), (x, y + r)]);
        }
    }
    for r in tags(data, "rect") {
        if let (Some(x), Some(y), Some(w), Some(h)) = (
            number(r, "x"),
            number(r, "y"),
            number(r, "width"),
            number(r, "height"),
        ) {
            pts.extend([
                (x, y),
                (x + w, y),
                (x, y + h),
                (x + w, y + h),
                (x + w / 2.0, y + h / 2.0),
            ]);
        }
    }
    for p in tags(data, "path") {
        let Some(k) = p.find(" d=\"") else { continue };
        let d = &p[k + 4..];
        let d = &d[..d.find('"').unwrap_or(d.len())];
        let mut last: Option<(f64, f64)> = None;
        let mut first: Option<(f64, f64)> = None;
        let mut k = 0;
        let bytes: Vec<char> = d.chars().collect();
        while k < bytes.len() {
            let op = bytes[k];
            k += 1;
            let mut take = || {
                let start = k;
                while k < bytes.len() && !matches!(bytes[k], 'M' | 'L' | 'Z') {
                    k += 1;
                }
                let v: Vec<f64> = bytes[start..k]
                    .iter()
                    .collect::<String>()
                    .split([' ', ','])
                    .filter_map(|s| s.parse().ok())
                    .collect();
                (v.len() == 2).then(|| (v[0], v[1]))
            };
            let to = match op {
                'M' => {
                    let p = take();
                    first = p;
                    last = p;
                    if let Some(p) = p {
                        pts.push(p);
                    }
                    continue;
                }
                'L' => take(),
                'Z' => first,
                _ => None,
            };
            if let (Some(a), Some(b)) = (last, to) {
                let n = ((b.0 - a.0).hypot(b.1 - a.1) / 2.0).ceil().max(1.0) as usize;
                for j in 1..=n.min(5000) {
                    let t = j as f64 / n as f64;
                    pts.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
            last = to.or(last);
        }
    }
    pts
}

/// The data points that lie inside the legend's box (more than 0.5 px inside): empty when
/// the legend hides nothing, or the figure has no legend.
pub fn legend_over_data(svg: &str) -> Vec<(f64, f64)> {
    let Some(b) = legend_box(svg) else {
        return Vec::new();
    };
    data_points(svg)
        .into_iter()
        .filter(|&p| b.holds(p, 0.5))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIGURE: &str = r##"<svg><g class="data"><circle cx="100.0" cy="50.0" r="4.5"/>
        <rect x="10" y="10" width="8" height="8"/>
        <path d="M0.0 200.0L300.0 200.0" fill="none"/>
        <path d="M50.0 300.0L55.0 290.0L60.0 300.0Z" fill="#000"/></g>
        <g class="legend"><rect x="LX" y="LY" width="40" height="20"/><text>a</text></g></svg>"##;

    fn figure(x: f64, y: f64) -> String {
        FIGURE
            .replace("LX", &x.to_string())
            .replace("LY", &y.to_string())
    }

    #[test]
    fn a_legend_over_a_marker_or_a_line_is_found() {
        // Clear of everything.
        assert!(legend_over_data(&figure(200.0, 20.0)).is_empty());
        // Over the circle's rim only (its centre is outside the box).
        assert!(!legend_over_data(&figure(102.0, 40.0)).is_empty());
        // Over the square marker.
        assert!(!legend_over_data(&figure(0.0, 0.0)).is_empty());
        // Across the line, between its two end points.
        assert!(!legend_over_data(&figure(120.0, 190.0)).is_empty());
        // Over the triangle marker.
        assert!(!legend_over_data(&figure(40.0, 290.0)).is_empty());
        assert_eq!(
            legend_box(&figure(1.0, 2.0)),
            Some(Bounds {
                x0: 1.0,
                y0: 2.0,
                x1: 41.0,
                y1: 22.0
            })
        );
    }
}
