//! Text extents from font metrics, and the text boxes of an SVG document.
//!
//! The figures are laid out without a font engine: the width of a label is estimated from the
//! advance widths of DejaVu Sans (the sans-serif font of most Linux systems, and wider than
//! Arial or Helvetica, so the estimate errs on the wide side), increased by 4 %. The same
//! estimate, applied to any SVG's `<text>` elements, finds labels that overlap
//! ([`overlapping_text`]): the figures' own test, and one a browser can confirm with its real
//! fonts.

/// Advance widths of DejaVu Sans for the printable ASCII characters U+0020 … U+007E, in em.
const ASCII_EM: [f64; 95] = [
    0.3179, 0.400, 0.460, 0.838, 0.636, 0.950, 0.780, 0.275, 0.390, 0.390, 0.500, 0.838, 0.3179,
    0.361, 0.3179, 0.337, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636,
    0.337, 0.337, 0.838, 0.838, 0.838, 0.531, 1.000, 0.684, 0.686, 0.698, 0.770, 0.632, 0.575,
    0.775, 0.752, 0.295, 0.295, 0.656, 0.557, 0.863, 0.748, 0.787, 0.603, 0.787, 0.695, 0.635,
    0.611, 0.732, 0.684, 0.989, 0.685, 0.611, 0.685, 0.390, 0.337, 0.390, 0.838, 0.500, 0.500,
    0.613, 0.635, 0.550, 0.635, 0.615, 0.352, 0.635, 0.634, 0.278, 0.278, 0.579, 0.278, 0.974,
    0.634, 0.612, 0.635, 0.635, 0.411, 0.521, 0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525,
    0.636, 0.337, 0.636, 0.838,
];

/// The advance width of one character in em (DejaVu Sans; an upper estimate outside ASCII).
fn char_em(c: char) -> f64 {
    let u = c as u32;
    if (0x20..0x7f).contains(&u) {
        return ASCII_EM[(u - 0x20) as usize];
    }
    match c {
        '⁰'..='⁹' | '¹' | '²' | '³' | '⁻' | '⁺' | '₀'..='₉' | '₋' => 0.42,
        '−' | '×' | '≤' | '≥' | '≈' | '±' | '∞' | '→' | '∝' | '∑' | '√' => {
            0.838
        }
        '·' | '′' | '‖' | '|' => 0.5,
        'α'..='ω' | 'ϑ' | 'ϕ' | 'ϵ' => 0.64,
        'Α'..='Ω' => 0.78,
        '\u{3000}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}' => 1.0,
        _ => 0.78,
    }
}

/// The estimated width in pixels of `text` set at `size` px (DejaVu Sans advances + 4 %).
pub fn text_width(text: &str, size: f64) -> f64 {
    1.04 * size * text.chars().map(char_em).sum::<f64>()
}

/// The box one `<text>` element occupies, in the SVG's user units.
#[derive(Clone, Debug, PartialEq)]
pub struct TextBox {
    /// The text, entities decoded.
    pub text: String,
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
    /// The font size in px.
    pub size: f64,
}

impl TextBox {
    /// True when the two boxes share an area wider and taller than `slack` px.
    pub fn overlaps(&self, other: &TextBox, slack: f64) -> bool {
        self.x0.max(other.x0) + slack < self.x1.min(other.x1)
            && self.y0.max(other.y0) + slack < self.y1.min(other.y1)
    }
}

/// The value of attribute `name` in the attribute list `attrs` of one tag.
fn attribute<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attrs;
    while let Some(k) = rest.find(name) {
        let before_ok = k == 0 || rest[..k].ends_with(char::is_whitespace);
        let after = &rest[k + name.len()..];
        if before_ok && after.starts_with("=\"") {
            let value = &after[2..];
            return value.find('"').map(|end| &value[..end]);
        }
        rest = &rest[k + name.len()..];
    }
    None
}

/// A length in px: a plain number, `Npx`, or `Nem` relative to `size`.
fn length(text: &str, size: f64) -> Option<f64> {
    let t = text.trim();
    if let Some(em) = t.strip_suffix("em") {
        em.trim().parse::<f64>().ok().map(|v| v * size)
    } else {
        t.trim_end_matches("px").trim().parse().ok()
    }
}

/// Decodes the five XML entities and numeric character references, and drops nested tags.
fn decode(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(k) = rest.find(['&', '<']) {
        out.push_str(&rest[..k]);
        rest = &rest[k..];
        if rest.starts_with('<') {
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&rest[..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The boxes of every non-empty `<text>` element of an SVG document, from their `x`, `y`,
/// `dy`, `font-size`, `text-anchor` and a `rotate(±90 | 270, cx, cy)` transform, with the
/// widths of [`text_width`]; the box spans 0.8 em above the baseline and 0.22 em below it.
pub fn text_boxes(svg: &str) -> Vec<TextBox> {
    let mut boxes = Vec::new();
    let mut rest = svg;
    while let Some(k) = rest.find("<text") {
        rest = &rest[k + 5..];
        let Some(close) = rest.find('>') else { break };
        let attrs = &rest[..close];
        let Some(end) = rest.find("</text>") else {
            break;
        };
        let text = decode(&rest[close + 1..end]).trim().to_string();
        rest = &rest[end..];
        if text.trim().is_empty() {
            continue;
        }
        let size = attribute(attrs, "font-size")
            .and_then(|s| length(s, 16.0))
            .unwrap_or(16.0);
        let num = |name| attribute(attrs, name).and_then(|s| length(s, size));
        let x = num("x").unwrap_or(0.0);
        let y = num("y").unwrap_or(0.0) + num("dy").unwrap_or(0.0);
        let w = text_width(&text, size);
        let x0 = match attribute(attrs, "text-anchor") {
            Some("middle") => x - w / 2.0,
            Some("end") => x - w,
            _ => x,
        };
        let (mut b0, mut b1) = ((x0, y - 0.8 * size), (x0 + w, y + 0.22 * size));
        if let Some(angle) = attribute(attrs, "transform").and_then(rotation) {
            let (a, cx, cy) = angle;
            let turn = |(px, py): (f64, f64)| {
                let (dx, dy) = (px - cx, py - cy);
                let (s, c) = a.to_radians().sin_cos();
                (cx + c * dx - s * dy, cy + s * dx + c * dy)
            };
            let (p, q) = (turn(b0), turn(b1));
            b0 = (p.0.min(q.0), p.1.min(q.1));
            b1 = (p.0.max(q.0), p.1.max(q.1));
        }
        boxes.push(TextBox {
            text,
            x0: b0.0,
            y0: b0.1,
            x1: b1.0,
            y1: b1.1,
            size,
        });
    }
    boxes
}

/// The angle and centre of a `rotate(a, cx, cy)` (or `rotate(a cx cy)`) transform.
fn rotation(transform: &str) -> Option<(f64, f64, f64)> {
    let inner = transform
        .trim()
        .strip_prefix("rotate(")?
        .strip_suffix(')')?;
    let v: Vec<f64> = inner
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    match v.as_slice() {
        [a] => Some((*a, 0.0, 0.0)),
        [a, cx, cy] => Some((*a, *cx, *cy)),
        _ => None,
    }
}

/// Every pair of `<text>` elements of `svg` whose boxes overlap by more than 1 px.
pub fn overlapping_text(svg: &str) -> Vec<(TextBox, TextBox)> {
    let boxes = text_boxes(svg);
    let mut pairs = Vec::new();
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            if a.overlaps(b, 1.0) {
                pairs.push((a.clone(), b.clone()));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_font() {
        // "0.5" at 10 px: 0.636 + 0.318 + 0.636 em, plus 4 %.
        assert!((text_width("0.5", 10.0) - 1.04 * 15.899).abs() < 1e-9);
        assert!(text_width("mmm", 14.0) > text_width("iii", 14.0) * 3.0);
    }

    #[test]
    fn boxes_honour_anchor_offset_and_rotation() {
        let svg = r#"<svg><text x="100" y="50" font-size="10" text-anchor="end">0.5</text>
            <text x="20" y="200" dy="0.76em" font-size="10" text-anchor="middle" transform="rotate(270, 20, 200)">ab &amp; c</text>
            <text x="0" y="0"> </text></svg>"#;
        let b = text_boxes(svg);
        assert_eq!(b.len(), 2);
        assert!((b[0].x1 - 100.0).abs() < 1e-9 && (b[0].x0 - (100.0 - 1.04 * 15.899)).abs() < 1e-9);
        assert_eq!(b[1].text, "ab & c");
        // Rotated: tall and narrow, centred on x = 20 + 7.6 after the turn.
        assert!(b[1].y1 - b[1].y0 > b[1].x1 - b[1].x0);
    }

    #[test]
    fn overlaps_are_found() {
        let svg = r#"<text x="10" y="20" font-size="14">600</text><text x="30" y="20" font-size="14">700</text>
            <text x="200" y="20" font-size="14">800</text>"#;
        let pairs = overlapping_text(svg);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            (pairs[0].0.text.as_str(), pairs[0].1.text.as_str()),
            ("600", "700")
        );
    }
}
