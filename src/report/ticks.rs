//! Axis ticks and their labels.
//!
//! Linear axes: multiples of a step 1, 2 or 5 × 10ᵏ, as many as the labels leave room for,
//! at least two; values are k × step, so the tick at zero reads "0" (never −5.6e-17).
//! Logarithmic axes spanning two decades or more: a tick and a label "10ⁿ" per decade (every
//! second, fifth … decade labelled when they do not fit), unlabelled minor ticks at
//! 2 … 9 × 10ⁿ where there is room. Under two decades: labels at 1, 2, 5 × 10ⁿ, or at every
//! integer multiple of 10ⁿ, or at linear steps when the range holds too few of those, so that
//! every axis shows at least two labelled ticks whatever its range.

use super::text::text_width;
use super::Scale;

/// One tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Position in data units.
    pub value: f64,
    /// The label (minor ticks have none).
    pub label: Option<String>,
}

/// Where the labels of an axis go, for the test of whether they fit.
#[derive(Clone, Copy, Debug)]
pub struct Room {
    /// Axis length in px.
    pub length: f64,
    /// Font size of the labels in px.
    pub font: f64,
    /// Horizontal axis (labels side by side) or vertical (labels stacked).
    pub horizontal: bool,
}

/// Unicode superscript digits of an integer exponent.
pub fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| super::typography::superscript(c).unwrap_or(c))
        .collect()
}

/// `v` with `decimals` digits after the point, a true minus sign, "0" for zero.
fn decimal(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v);
    let s = if s
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_string()
    } else {
        s
    };
    s.replace('-', "−")
}

/// Labels of values that are all multiples of `step`: plain decimals for magnitudes in
/// [10⁻³, 10⁵), otherwise m × 10ᵉ with one exponent per label.
pub fn labels(values: &[f64], step: f64) -> Vec<String> {
    let top = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let step_exp = step.log10().floor() as i32;
    let plain = top < 1e5 && step >= 1e-4 && (top >= 1e-3 || top == 0.0);
    values
        .iter()
        .map(|&v| {
            if v == 0.0 {
                "0".to_string()
            } else if plain {
                decimal(v, (-step_exp).max(0) as usize)
            } else {
                let e = v.abs().log10().floor() as i32;
                let m = v / 10f64.powi(e);
                let digits = (e - step_exp).max(0) as usize;
                let m = decimal(m, digits);
                if m == "1" {
                    format!("10{}", superscript(e))
                } else if m == "−1" {
                    format!("−10{}", superscript(e))
                } else {
                    format!("{m}×10{}", superscript(e))
                }
            }
        })
        .collect()
}

/// The smallest 1, 2 or 5 × 10ᵏ at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= raw * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

/// Position of `v` along the axis as a fraction of its length.
fn fraction(v: f64, lo: f64, hi: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Linear => (v - lo) / (hi - lo),
        Scale::Log => (v / lo).log10() / (hi / lo).log10(),
    }
}

/// True when consecutive labelled ticks leave room between their labels.
fn fits(ticks: &[Tick], lo: f64, hi: f64, scale: Scale, room: Room) -> bool {
    let labelled: Vec<(f64, f64)> = ticks
        .iter()
        .filter_map(|t| {
            t.label.as_ref().map(|l| {
                let extent = if room.horizontal {
                    text_width(l, room.font) + 0.8 * room.font
                } else {
                    2.0 * room.font
                };
                (fraction(t.value, lo, hi, scale) * room.length, extent)
            })
        })
        .collect();
    labelled
        .windows(2)
        .all(|w| (w[1].0 - w[0].0).abs() >= (w[0].1 + w[1].1) / 2.0)
}

/// Linear ticks at multiples of a nice step, the most that fit (at least two labels).
fn linear_ticks(lo: f64, hi: f64, scale: Scale, room: Room) -> Vec<Tick> {
    let mut best = Vec::new();
    for target in [10.0, 8.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0] {
        let step = nice_step((hi - lo) / target);
        let (k0, k1) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
        if k1 < k0 || k1 - k0 > 1000 {
            continue;
        }
        let values: Vec<f64> = (k0..=k1).map(|k| k as f64 * step).collect();
        let ticks: Vec<Tick> = values
            .iter()
            .zip(labels(&values, step))
            .map(|(&value, l)| Tick {
                value,
                label: Some(l),
            })
            .collect();
        if ticks.len() >= 2 && fits(&ticks, lo, hi, scale, room) {
            return ticks;
        }
        if best.is_empty() || ticks.len() >= 2 {
            best = ticks;
        }
    }
    // Not even two labels fit: keep the ends only.
    if best.len() > 2 {
        let last = best.len() - 1;
        best = vec![best[0].clone(), best[last].clone()];
    }
    best
}

/// The ticks of an axis over [lo, hi] (lo < hi; both positive on a log axis).
pub fn ticks(lo: f64, hi: f64, scale: Scale, room: Room) -> Vec<Tick> {
    match scale {
        Scale::Linear => linear_ticks(lo, hi, scale, room),
        Scale::Log => log_ticks(lo, hi, room),
    }
}

fn in_range(v: f64, lo: f64, hi: f64) -> bool {
    v >= lo * (1.0 - 1e-12) && v <= hi * (1.0 + 1e-12)
}

fn log_ticks(lo: f64, hi: f64, room: Room) -> Vec<Tick> {
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let decades: Vec<i32> = (d0..=d1)
        .filter(|&d| in_range(10f64.powi(d), lo, hi))
        .collect();
    let decade_px = room.length / (hi / lo).log10();
    let minor = |labelled: &dyn Fn(f64) -> bool| -> Vec<Tick> {
        (d0..=d1)
            .flat_map(|d| (2..10).map(move |m| m as f64 * 10f64.powi(d)))
            .filter(|&v| in_range(v, lo, hi) && !labelled(v))
            .map(|value| Tick { value, label: None })
            .collect()
    };
    if (hi / lo).log10() >= 2.0 && decades.len() >= 2 {
        for every in [1, 2, 3, 5, 10, 20, 50, 100] {
            let mut ticks: Vec<Tick> = decades
                .iter()
                .map(|&d| Tick {
                    value: 10f64.powi(d),
                    label: (d.rem_euclid(every) == 0).then(|| format!("10{}", superscript(d))),
                })
                .collect();
            if ticks.iter().filter(|t| t.label.is_some()).count() >= 2
                && fits(&ticks, lo, hi, Scale::Log, room)
            {
                if decade_px >= 40.0 {
                    ticks.extend(minor(&|_| false));
                }
                ticks.sort_by(|a, b| a.value.total_cmp(&b.value));
                return ticks;
            }
        }
    }
    // Under two decades: 1-2-5, then every integer multiple of a power of ten.
    for multiples in [
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ] {
        let values: Vec<f64> = (d0..=d1)
            .flat_map(|d| multiples.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|&v| in_range(v, lo, hi))
            .collect();
        if values.len() < 3 && !(values.len() == 2 && multiples.len() == 9) {
            continue;
        }
        let texts = log_labels(&values);
        let mut ticks: Vec<Tick> = values
            .iter()
            .zip(texts)
            .map(|(&value, l)| Tick {
                value,
                label: Some(l),
            })
            .collect();
        if fits(&ticks, lo, hi, Scale::Log, room) {
            ticks.extend(minor(&|v| {
                values.iter().any(|&u| (u - v).abs() <= 1e-9 * v.abs())
            }));
            ticks.sort_by(|a, b| a.value.total_cmp(&b.value));
            return ticks;
        }
    }
    linear_ticks(lo, hi, Scale::Log, room)
}

/// Labels of m × 10ⁿ values (m an integer 1 … 9).
fn log_labels(values: &[f64]) -> Vec<String> {
    let plain = values.iter().all(|v| (1e-3..1e5).contains(v));
    values
        .iter()
        .map(|&v| {
            let e = v.log10().floor() as i32;
            let m = (v / 10f64.powi(e)).round();
            if plain {
                decimal(v, (-e).max(0) as usize)
            } else if m == 1.0 {
                format!("10{}", superscript(e))
            } else {
                format!("{m}×10{}", superscript(e))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_are_written_in_superscript_digits() {
        assert_eq!(superscript(-12), "⁻¹²");
        assert_eq!(superscript(305), "³⁰⁵");
        assert_eq!(superscript(0), "⁰");
    }

    fn room() -> Room {
        Room {
            length: 600.0,
            font: 15.0,
            horizontal: true,
        }
    }

    fn labelled(t: &[Tick]) -> Vec<String> {
        t.iter().filter_map(|t| t.label.clone()).collect()
    }

    #[test]
    fn linear_ticks_are_round_and_zero_is_zero() {
        let t = labelled(&ticks(-0.05, 1.05, Scale::Linear, room()));
        assert_eq!(t.first().map(String::as_str), Some("0"));
        assert!(t.contains(&"0.5".to_string()) || t.contains(&"0.4".to_string()));
        // A range straddling zero by a rounding error still labels zero "0".
        let t = labelled(&ticks(-5.6e-17 - 0.3, 0.3, Scale::Linear, room()));
        assert!(t.contains(&"0".to_string()), "{t:?}");
        assert!(t.iter().all(|l| !l.contains('e')), "{t:?}");
        // Tiny and huge values in m × 10ᵉ.
        let t = labelled(&ticks(1.0e-6, 3.0e-6, Scale::Linear, room()));
        assert!(
            t.iter().all(|l| l.contains("×10⁻⁶") || l.starts_with("10")),
            "{t:?}"
        );
        assert!(t.len() >= 2);
    }

    #[test]
    fn log_axes_label_each_decade_once() {
        let t = labelled(&ticks(0.8e-4, 2.0e2, Scale::Log, room()));
        assert_eq!(t, ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹", "10²"]);
        let all = ticks(0.8e-4, 2.0e2, Scale::Log, room());
        assert!(all.len() > t.len(), "minor ticks are drawn");
        // Thirty decades on a short axis: every fifth or so labelled, still distinct.
        let short = Room {
            length: 200.0,
            ..room()
        };
        let t = labelled(&ticks(1e-15, 1e15, Scale::Log, short));
        assert!(t.len() >= 2 && t.len() < 31, "{t:?}");
    }

    #[test]
    fn short_log_ranges_still_get_labels() {
        // 600 … 1000: no decade inside; multiples of 100 labelled.
        let t = labelled(&ticks(580.0, 1050.0, Scale::Log, room()));
        assert!(t.len() >= 3 && t.contains(&"600".to_string()), "{t:?}");
        // 0.61 … 0.65: no integer multiple of 0.1 inside but 0.62 … 0.65 linear steps.
        let t = labelled(&ticks(0.61, 0.655, Scale::Log, room()));
        assert!(t.len() >= 2, "{t:?}");
        // 6e4 … 1.1e5 on a vertical axis.
        let v = Room {
            horizontal: false,
            length: 300.0,
            font: 15.0,
        };
        let t = labelled(&ticks(6.0e4, 1.1e5, Scale::Log, v));
        assert!(t.len() >= 2, "{t:?}");
        assert!(t.iter().all(|l| l.contains("×10⁴") || l == "10⁵"), "{t:?}");
    }
}
