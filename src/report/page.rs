//! What every HTML page of gradflow shares: the stylesheet (screen and print), the header
//! naming the software, commit, seeds, threads and date, the citation of the source lecture,
//! and numbers in four significant digits.

use std::fmt::Write as _;

/// The stylesheet of every page: readable widths, figures at their drawn size (800 px, so the
/// figures' fonts of 14 px and more are shown at that size or larger), and a print layout
/// (no navigation links, figures kept whole on a page).
pub const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;max-width:66em;\
margin:2em auto;padding:0 1em;line-height:1.45;color:#111}\
h1{font-size:1.7em}h2{margin-top:2.2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.2em .4em;\
vertical-align:top}th{background:#f3f3f3;text-align:left}td.num{text-align:right;\
font-variant-numeric:tabular-nums;white-space:nowrap}td.name{min-width:16em}\
.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}\
figure{margin:1.2em 0}figure svg{max-width:100%;height:auto;display:block}\
figcaption{font-size:.95em;color:#333;margin-top:.3em}\
header.meta{background:#f7f7f7;border:1px solid #ddd;padding:.6em 1em}\
header.meta dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.3em 0}\
header.meta dt{font-weight:bold}header.meta dd{margin:0}\
a.top{font-size:.85em;float:right;font-weight:normal}\
@media print{body{max-width:none;margin:0;font-size:10.5pt}a.top,nav{display:none}\
figure,table{break-inside:avoid}h2{break-before:page;border:none}\
a{color:inherit;text-decoration:none}}";

/// The source lecture, as its title page gives it (no author is named there), its Japanese
/// names translated (a page must not depend on a CJK font being installed).
pub const CITATION: &str = "Lecture slides on the optimization theory of deep learning, \
Combinatorial Optimization Seminar 2020 (COSS2020), 6 August 2020; Department of Mathematical \
Informatics, Graduate School of Information Science and Technology, The University of Tokyo, \
and RIKEN AIP.";

/// The git commit gradflow was built from, when the build could ask git.
pub fn commit() -> Option<&'static str> {
    option_env!("GRADFLOW_GIT_COMMIT")
}

/// The current date and time in UTC, `YYYY-MM-DD HH:MM UTC` (from the system clock;
/// days to civil date by Hinnant's algorithm).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// `x` with four significant digits: plain decimals for magnitudes in [10⁻³, 10⁵) with
/// trailing zeros dropped, m × 10ᵉ otherwise; "0" for zero, "—" for NaN, "∞" for infinities.
pub fn sig4(x: f64) -> String {
    if x.is_nan() {
        return "—".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    // Round to four significant digits first, so that 99995 becomes 1.000 × 10⁵.
    let e = x.abs().log10().floor() as i32;
    let rounded: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    let e = if rounded.abs() >= 10f64.powi(e + 1) {
        e + 1
    } else {
        e
    };
    let text = if (1e-3..1e5).contains(&rounded.abs()) {
        trim(format!("{:.*}", (3 - e).max(0) as usize, rounded))
    } else {
        let m = rounded / 10f64.powi(e);
        format!(
            "{}×10{}",
            trim(format!("{m:.3}")),
            super::ticks::superscript(e)
        )
    };
    text.replace('-', "−")
}

/// Who made a page and how: shown in its header.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// The root seed(s).
    pub seeds: Vec<u64>,
    /// Worker threads.
    pub threads: usize,
    /// Further lines (label, HTML value).
    pub extra: Vec<(String, String)>,
}

impl Provenance {
    /// The header: version, commit (when known), seeds, threads, date, extra lines and the
    /// citation of the source lecture.
    pub fn header_html(&self) -> String {
        let mut h = String::from("<header class=\"meta\"><dl>");
        let mut row = |k: &str, v: &str| {
            let _ = write!(h, "<dt>{k}</dt><dd>{v}</dd>");
        };
        row("gradflow", env!("CARGO_PKG_VERSION"));
        row(
            "commit",
            &commit().map_or("unknown (built outside git)".to_string(), |c| {
                format!("<code>{c}</code>")
            }),
        );
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        row(
            if self.seeds.len() == 1 {
                "seed"
            } else {
                "seeds"
            },
            &seeds.join(", "),
        );
        row("threads", &self.threads.to_string());
        row("date", &now_utc());
        for (k, v) in &self.extra {
            row(k, v);
        }
        row("source", CITATION);
        h.push_str("</dl></header>");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits() {
        assert_eq!(sig4(0.01), "0.01");
        assert_eq!(sig4(1.234567), "1.235");
        assert_eq!(sig4(-0.5), "−0.5");
        assert_eq!(sig4(0.0), "0");
        assert_eq!(sig4(12_346.0), "12350");
        assert_eq!(sig4(99_999.0), "1×10⁵");
        assert_eq!(sig4(1.23456e-7), "1.235×10⁻⁷");
        assert_eq!(sig4(2.0e12), "2×10¹²");
        assert_eq!(sig4(f64::NAN), "—");
    }

    #[test]
    fn dates_are_civil() {
        let d = now_utc();
        assert_eq!(d.len(), "2026-12-06 17:32 UTC".len(), "{d}");
        assert!(d.starts_with("20") && d.ends_with("UTC"));
    }
}
