//! Mathematics without TeX: the TeX fragments that claim statements and figure labels may
//! contain (`M^{-1/2}`, `e^{βΔL}`, `K_{W₀}`, `\frac{a}{b}`, `\alpha`), and their plain-text
//! forms (`T^(−β/2)`, `y_(t+1)`, `k^−β`, `max_t`), rewritten in one place for every output:
//! - [`svg`]: SVG text content — Unicode superscript and subscript characters where every
//!   character has one, else a smaller `<tspan>` raised or lowered by `dy` (which every SVG
//!   renderer honours), the rest of the text shifted back;
//! - [`html`]: `<sup>` / `<sub>`, escaped;
//! - [`plain`]: Unicode characters only (`^(…)` / `_(…)` where a character has none), for a
//!   terminal and for measuring widths.
//!
//! A subscript follows a symbol, a closing bracket or an operator name (`λ_min`, `‖x‖_F`,
//! `max_t`, `argmin_ρ`), never another word: `train_loss` stays as it is.

/// Output flavour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Html,
    Svg,
}

/// Words that take a subscript although they are longer than one letter (`max_t`, `min_π`).
const OPERATORS: [&str; 9] = [
    "max", "min", "argmax", "argmin", "sup", "inf", "lim", "sum", "log",
];

/// Font size of a script `<tspan>` relative to its text, and its baseline shifts in the
/// script's own em: down for a subscript, up for a superscript.
const SCRIPT_SIZE: f64 = 0.7;
const SUB_DY: f64 = 0.3;
const SUP_DY: f64 = -0.5;

/// Unicode superscript of one character, if there is one.
pub(crate) fn superscript(c: char) -> Option<char> {
    Some(match c {
        '0' => '⁰',
        '1' => '¹',
        '2' => '²',
        '3' => '³',
        '4' => '⁴',
        '5' => '⁵',
        '6' => '⁶',
        '7' => '⁷',
        '8' => '⁸',
        '9' => '⁹',
        '-' | '−' => '⁻',
        '+' => '⁺',
        '=' => '⁼',
        '(' => '⁽',
        ')' => '⁾',
        'n' => 'ⁿ',
        'i' => 'ⁱ',
        'T' => 'ᵀ',
        't' => 'ᵗ',
        'p' => 'ᵖ',
        'k' => 'ᵏ',
        'd' => 'ᵈ',
        'c' => 'ᶜ',
        'm' => 'ᵐ',
        'r' => 'ʳ',
        'x' => 'ˣ',
        'β' => 'ᵝ',
        'γ' => 'ᵞ',
        _ => return None,
    })
}

/// Unicode subscript of one character, if there is one.
fn subscript(c: char) -> Option<char> {
    Some(match c {
        '0' => '₀',
        '1' => '₁',
        '2' => '₂',
        '3' => '₃',
        '4' => '₄',
        '5' => '₅',
        '6' => '₆',
        '7' => '₇',
        '8' => '₈',
        '9' => '₉',
        '-' | '−' => '₋',
        '+' => '₊',
        '=' => '₌',
        '(' => '₍',
        ')' => '₎',
        'i' => 'ᵢ',
        'j' => 'ⱼ',
        'k' => 'ₖ',
        't' => 'ₜ',
        'n' => 'ₙ',
        'm' => 'ₘ',
        'r' => 'ᵣ',
        's' => 'ₛ',
        'p' => 'ₚ',
        'x' => 'ₓ',
        'e' => 'ₑ',
        'a' => 'ₐ',
        'o' => 'ₒ',
        _ => return None,
    })
}

/// The Unicode symbol of a TeX command (without its backslash), if known.
fn command(name: &str) -> Option<&'static str> {
    Some(match name {
        "alpha" => "α",
        "beta" => "β",
        "gamma" => "γ",
        "delta" => "δ",
        "epsilon" | "varepsilon" => "ε",
        "eta" => "η",
        "theta" => "θ",
        "kappa" => "κ",
        "lambda" => "λ",
        "mu" => "μ",
        "nu" => "ν",
        "xi" => "ξ",
        "pi" => "π",
        "rho" => "ρ",
        "sigma" => "σ",
        "tau" => "τ",
        "phi" | "varphi" => "φ",
        "chi" => "χ",
        "psi" => "ψ",
        "omega" => "ω",
        "Gamma" => "Γ",
        "Delta" => "Δ",
        "Theta" => "Θ",
        "Lambda" => "Λ",
        "Sigma" => "Σ",
        "Phi" => "Φ",
        "Omega" => "Ω",
        "le" | "leq" => "≤",
        "ge" | "geq" => "≥",
        "approx" => "≈",
        "sim" => "∼",
        "ne" | "neq" => "≠",
        "cdot" => "·",
        "times" => "×",
        "infty" => "∞",
        "to" | "rightarrow" => "→",
        "in" => "∈",
        "sum" => "Σ",
        "prod" => "Π",
        "int" => "∫",
        "nabla" => "∇",
        "partial" => "∂",
        "langle" => "⟨",
        "rangle" => "⟩",
        "|" => "‖",
        "propto" => "∝",
        "pm" => "±",
        "log" => "log",
        "exp" => "exp",
        "min" => "min",
        "max" => "max",
        "sqrt" => "√",
        _ => return None,
    })
}

/// The balanced `open … close` group at the start of `s` (its content and the rest), if `s`
/// starts with `open`.
fn balanced(s: &str, open: char, close: char) -> Option<(&str, &str)> {
    if !s.starts_with(open) {
        return None;
    }
    let mut depth = 0;
    for (k, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some((&s[1..k], &s[k + 1..]));
            }
        }
    }
    None
}

/// The balanced `{…}` group at the start of `s` (its content and the rest), if `s` starts
/// with `{`.
fn group(s: &str) -> Option<(&str, &str)> {
    balanced(s, '{', '}')
}

/// The balanced `(…)` group at the start of `s` (its content and the rest), if `s` starts
/// with `(` (the plain-text form of a script group: `T^(−β/2)`, `y_(t+1)`).
fn paren_group(s: &str) -> Option<(&str, &str)> {
    balanced(s, '(', ')')
}

fn escape_char(c: char, out: &mut String, mode: Mode) {
    match (c, mode) {
        ('&', _) => out.push_str("&amp;"),
        ('<', _) => out.push_str("&lt;"),
        ('>', _) => out.push_str("&gt;"),
        ('"', Mode::Html) => out.push_str("&quot;"),
        _ => out.push(c),
    }
}

/// A superscript or subscript: tags in HTML; Unicode characters in plain text and SVG when
/// every character has one, else `^(…)` / `_(…)` in plain text and a shifted `<tspan>` in SVG.
/// Returns the shift (in em of the surrounding text) that the text after it must undo, if any.
fn script(content: &str, up: bool, mode: Mode, out: &mut String) -> Option<f64> {
    let inner = convert(content, mode);
    if mode == Mode::Html {
        let tag = if up { "sup" } else { "sub" };
        out.push_str(&format!("<{tag}>{inner}</{tag}>"));
        return None;
    }
    let map = if up { superscript } else { subscript };
    if let Some(s) = inner.chars().map(map).collect::<Option<String>>() {
        out.push_str(&s);
        return None;
    }
    if mode == Mode::Svg {
        let dy = if up { SUP_DY } else { SUB_DY };
        out.push_str(&format!(
            "<tspan font-size=\"{}%\" dy=\"{dy}em\">{inner}</tspan>",
            SCRIPT_SIZE * 100.0
        ));
        return Some(-dy * SCRIPT_SIZE);
    }
    out.push(if up { '^' } else { '_' });
    if inner.chars().count() == 1 {
        out.push_str(&inner);
    } else {
        out.push('(');
        out.push_str(&inner);
        out.push(')');
    }
    None
}

/// The length of the script written without braces at the start of `after` (the text after
/// `^` or `_`): a run of ASCII letters and digits (x^2, w^T, λ_min, p_ij), one symbol, or
/// either after a sign (k^−β, 10^-3); 0 when none follows.
fn bare_script(after: &str) -> usize {
    let mut chars = after.char_indices();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    let (start, n) = if matches!(first, '-' | '−' | '+') {
        match chars.next() {
            Some((k, n)) => (k, n),
            None => return 0,
        }
    } else {
        (0, first)
    };
    if !(n.is_alphanumeric() || matches!(n, '*' | '∞' | '⊥' | '′')) {
        return 0;
    }
    let rest = &after[start..];
    start
        + if n.is_ascii_alphanumeric() {
            rest.char_indices()
                .find(|(_, ch)| !ch.is_ascii_alphanumeric())
                .map_or(rest.len(), |(k, _)| k)
        } else {
            n.len_utf8()
        }
}

fn convert(text: &str, mode: Mode) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        match c {
            '^' | '_' => {
                let up = c == '^';
                // A subscript follows a one-letter symbol, a closing bracket or an operator
                // name (λ_min, ‖x‖_F, max_t), never a word: train_loss stays as it is.
                let word: String = out
                    .chars()
                    .rev()
                    .take_while(|ch| ch.is_ascii_alphanumeric())
                    .collect::<Vec<char>>()
                    .into_iter()
                    .rev()
                    .collect();
                let script_ok =
                    up || word.chars().count() <= 1 || OPERATORS.contains(&word.as_str());
                let len = bare_script(after);
                let shift = if let Some((content, tail)) = group(after) {
                    rest = tail;
                    script(content, up, mode, &mut out)
                } else if let Some((content, tail)) = paren_group(after).filter(|_| script_ok) {
                    rest = tail;
                    script(content, up, mode, &mut out)
                } else if script_ok && len > 0 {
                    let run = &after[..len];
                    rest = &after[len..];
                    let map = if up { superscript } else { subscript };
                    if mode == Mode::Plain
                        && run.chars().count() > 1
                        && run.chars().any(|ch| map(ch).is_none())
                    {
                        // No Unicode form: leave it as written (K_W0).
                        out.push(c);
                        out.push_str(run);
                        None
                    } else {
                        script(run, up, mode, &mut out)
                    }
                } else {
                    escape_char(c, &mut out, mode);
                    rest = after;
                    None
                };
                if let Some(back) = shift.filter(|_| !rest.is_empty()) {
                    // The rest of the text goes back to the baseline.
                    out.push_str(&format!("<tspan dy=\"{back:.2}em\">"));
                    out.push_str(&convert(rest, mode));
                    out.push_str("</tspan>");
                    return out;
                }
            }
            '`' if mode == Mode::Html && after.contains('`') => {
                // `code`, as Markdown writes it.
                let end = after.find('`').unwrap_or(after.len());
                out.push_str("<code>");
                for ch in after[..end].chars() {
                    escape_char(ch, &mut out, mode);
                }
                out.push_str("</code>");
                rest = &after[(end + 1).min(after.len())..];
            }
            '\\' => {
                let name_len = after
                    .char_indices()
                    .find(|(_, ch)| !ch.is_ascii_alphabetic())
                    .map_or(after.len(), |(k, _)| k);
                let (name, tail) = if name_len == 0 {
                    after.split_at(after.chars().next().map_or(0, char::len_utf8))
                } else {
                    after.split_at(name_len)
                };
                if name == "frac" {
                    if let Some((a, t1)) = group(tail) {
                        if let Some((b, t2)) = group(t1) {
                            let (a, b) = (convert(a, mode), convert(b, mode));
                            let wrap = |s: String| {
                                if s.chars().count() > 1 {
                                    format!("({s})")
                                } else {
                                    s
                                }
                            };
                            out.push_str(&wrap(a));
                            out.push('/');
                            out.push_str(&wrap(b));
                            rest = t2;
                            continue;
                        }
                    }
                }
                if matches!(
                    name,
                    "mathbb" | "mathrm" | "mathbf" | "text" | "operatorname"
                ) {
                    if let Some((inner, t)) = group(tail) {
                        let inner = if name == "mathbb" {
                            inner
                                .replace('R', "ℝ")
                                .replace('N', "ℕ")
                                .replace('E', "𝔼")
                                .replace('Z', "ℤ")
                        } else {
                            inner.to_string()
                        };
                        out.push_str(&convert(&inner, mode));
                        rest = t;
                        continue;
                    }
                }
                match command(name) {
                    Some(sym) => {
                        out.push_str(sym);
                        if name == "sqrt" {
                            if let Some((inner, t)) = group(tail) {
                                out.push('(');
                                out.push_str(&convert(inner, mode));
                                out.push(')');
                                rest = t;
                                continue;
                            }
                        }
                        rest = tail;
                    }
                    None => {
                        escape_char('\\', &mut out, mode);
                        rest = after;
                    }
                }
            }
            _ => {
                escape_char(c, &mut out, mode);
                rest = after;
            }
        }
    }
    out
}

/// `text` with its TeX fragments as Unicode typography, XML-escaped (for widths and
/// terminals: scripts without Unicode characters stay `^(…)` / `_(…)`).
pub fn plain(text: &str) -> String {
    convert(text, Mode::Plain)
}

/// `text` with its TeX fragments as the content of an SVG `<text>` element: Unicode
/// typography, and `<tspan>` scripts where a character has no Unicode form, escaped.
pub fn svg(text: &str) -> String {
    convert(text, Mode::Svg)
}

/// `text` with its TeX fragments as HTML (`<sup>`, `<sub>`, Unicode symbols), escaped.
pub fn html(text: &str) -> String {
    convert(text, Mode::Html)
}

/// `text` with its TeX fragments as Unicode typography, not escaped (for measuring widths).
pub fn unescaped(text: &str) -> String {
    plain(text)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_become_unicode_or_tags() {
        assert_eq!(plain("M^{-1/2}"), "M^(-1/2)");
        assert_eq!(plain("M^{−1}"), "M⁻¹");
        assert_eq!(plain("x^2 + w^T"), "x² + wᵀ");
        assert_eq!(plain("K_{W₀}"), "K_(W₀)");
        assert_eq!(plain("λ_min and K_W0 and ‖x‖_F"), "λₘᵢₙ and K_W0 and ‖x‖_F");
        assert_eq!(
            html("λ_min, train_loss, x_iᵀx_j, K_∞"),
            "λ<sub>min</sub>, train_loss, x<sub>i</sub>ᵀx<sub>j</sub>, K<sub>∞</sub>"
        );
        assert_eq!(plain("θ_{t+1}"), "θₜ₊₁");
        assert_eq!(
            html("e^{βΔL} & K_{W₀,ij}"),
            "e<sup>βΔL</sup> &amp; K<sub>W₀,ij</sub>"
        );
        assert_eq!(html("_{k ∈ {1,2}}"), "<sub>k ∈ {1,2}</sub>");
        assert_eq!(html("a < b"), "a &lt; b");
        assert_eq!(
            html("`tied-features` (x_i)"),
            "<code>tied-features</code> (x<sub>i</sub>)"
        );
    }

    #[test]
    fn plain_text_scripts_and_operators() {
        // `^(…)` and `_(…)` groups, signed bare scripts, subscripts after operator names.
        assert_eq!(
            html("O(T^(−2rβ/(2rβ+1))) and E[y_(t+1)]"),
            "O(T<sup>−2rβ/(2rβ+1)</sup>) and E[y<sub>t+1</sub>]"
        );
        assert_eq!(html("k^−β, 10^-3"), "k<sup>−β</sup>, 10<sup>-3</sup>");
        assert_eq!(plain("k^−1 e^(−1)"), "k⁻¹ e⁻¹");
        assert_eq!(
            html("max_t ‖x‖, argmin_ρ F, train_loss, f(x) (a)"),
            "max<sub>t</sub> ‖x‖, argmin<sub>ρ</sub> F, train_loss, f(x) (a)"
        );
        // A caret or underscore that starts no script stays.
        assert_eq!(html("a ^ b, x_ y"), "a ^ b, x_ y");
    }

    #[test]
    fn svg_scripts_without_unicode_become_shifted_tspans() {
        // Unicode where every character has a script form.
        assert_eq!(svg("θ_{t+1} and M^{−1}"), "θₜ₊₁ and M⁻¹");
        // Otherwise a smaller tspan, lowered 0.3 of its em = 0.21 em of the text, and the
        // rest of the text raised back by as much.
        assert_eq!(
            svg("k_∞ > 0"),
            "k<tspan font-size=\"70%\" dy=\"0.3em\">∞</tspan><tspan dy=\"-0.21em\"> &gt; 0</tspan>"
        );
        assert_eq!(
            svg("e^(−βΔV)"),
            "e<tspan font-size=\"70%\" dy=\"-0.5em\">−βΔV</tspan>"
        );
        // Nested: the script's own scripts are shifted relative to it.
        assert_eq!(
            svg("K_{W_b}x"),
            "K<tspan font-size=\"70%\" dy=\"0.3em\">W<tspan font-size=\"70%\" dy=\"0.3em\">b</tspan></tspan><tspan dy=\"-0.21em\">x</tspan>"
        );
        // No literal underscore or caret is left of a script, whatever its characters.
        for label in [
            "‖K_W0 − K_∞‖_F",
            "E ½‖θ̄_T − θ*‖²",
            "p_{μ*}",
            "W_b",
            "ρ^τ_t",
            "min_π ‖W‖",
        ] {
            let out = svg(label);
            assert!(!out.contains('_') && !out.contains('^'), "{label}: {out}");
        }
        assert_eq!(svg("train_loss"), "train_loss");
        // The text a browser shows is the label without markup.
        assert_eq!(
            super::super::text::text_boxes(&format!("<text>{}</text>", svg("K_W0 a")))[0].text,
            "KW0 a"
        );
    }

    #[test]
    fn commands_become_symbols() {
        assert_eq!(plain("\\frac{1}{2} \\le \\alpha"), "1/2 ≤ α");
        assert_eq!(
            html("\\sqrt{n} \\cdot \\mathbb{R}^d"),
            "√(n) · ℝ<sup>d</sup>"
        );
        // Unknown commands and lone carets are kept as text.
        assert_eq!(plain("\\foo a ^ b"), "\\foo a ^ b");
    }
}
