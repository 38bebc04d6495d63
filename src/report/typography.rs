//! Mathematics without TeX: the TeX fragments that claim statements and figure labels may
//! contain (`M^{-1/2}`, `e^{βΔL}`, `K_{W₀}`, `\frac{a}{b}`, `\alpha`) rewritten as Unicode
//! typography, for SVG text ([`plain`]: superscript and subscript characters where every
//! character has one), or as HTML ([`html`]: `<sup>` / `<sub>`, escaped).

/// Output flavour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Html,
}

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

/// The balanced `{…}` group at the start of `s` (its content and the rest), if `s` starts
/// with `{`.
fn group(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with('{') {
        return None;
    }
    let mut depth = 0;
    for (k, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[1..k], &s[k + 1..]));
                }
            }
            _ => {}
        }
    }
    None
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

/// A superscript or subscript: tags in HTML, Unicode characters in plain text when every
/// character has one, else `^(…)` / `_(…)`.
fn script(content: &str, up: bool, mode: Mode, out: &mut String) {
    let inner = convert(content, mode);
    if mode == Mode::Html {
        let tag = if up { "sup" } else { "sub" };
        out.push_str(&format!("<{tag}>{inner}</{tag}>"));
        return;
    }
    let map = if up { superscript } else { subscript };
    match inner.chars().map(map).collect::<Option<String>>() {
        Some(s) => out.push_str(&s),
        None if inner.chars().count() == 1 => {
            out.push(if up { '^' } else { '_' });
            out.push_str(&inner);
        }
        None => {
            out.push(if up { '^' } else { '_' });
            out.push('(');
            out.push_str(&inner);
            out.push(')');
        }
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
                // A subscript follows a one-letter symbol or a closing bracket (λ_min, ‖x‖_F),
                // never a word: train_loss stays as it is.
                let word_before = out
                    .chars()
                    .rev()
                    .take_while(|ch| ch.is_ascii_alphanumeric())
                    .count();
                let script_ok = up || word_before <= 1;
                if let Some((content, tail)) = group(after) {
                    script(content, up, mode, &mut out);
                    rest = tail;
                } else if let Some(n) = after.chars().next().filter(|n| {
                    script_ok && (n.is_alphanumeric() || matches!(n, '*' | '∞' | '⊥' | '′'))
                }) {
                    // A run of ASCII letters and digits (x^2, w^T, λ_min, p_ij), or one symbol.
                    let len = if n.is_ascii_alphanumeric() {
                        after
                            .char_indices()
                            .find(|(_, ch)| !ch.is_ascii_alphanumeric())
                            .map_or(after.len(), |(k, _)| k)
                    } else {
                        n.len_utf8()
                    };
                    let run = &after[..len];
                    let map = if up { superscript } else { subscript };
                    if mode == Mode::Plain
                        && run.chars().count() > 1
                        && run.chars().any(|ch| map(ch).is_none())
                    {
                        // No Unicode form: leave it as written (K_W0).
                        out.push(c);
                        out.push_str(run);
                    } else {
                        script(run, up, mode, &mut out);
                    }
                    rest = &after[len..];
                } else {
                    escape_char(c, &mut out, mode);
                    rest = after;
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

/// `text` with its TeX fragments as Unicode typography, XML-escaped for an SVG `<text>`.
pub fn plain(text: &str) -> String {
    convert(text, Mode::Plain)
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
