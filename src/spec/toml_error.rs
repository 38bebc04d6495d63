//! TOML errors that point at the key, not at its table.
//!
//! The model, data and target tables are internally tagged enums (`kind = "…"`): serde reads
//! such a table whole before choosing the variant, and a type error inside it reaches the TOML
//! parser without the key's position, so `toml` points at the table's header (`[model]`) or at
//! the inline table. The message names the offending value (`invalid type: string "abc",
//! expected i64`); [`locate`] finds the key of that table holding exactly that value and
//! reports its line and column.

use std::ops::Range;

/// The message of a TOML error on `text`: with the line, column and key of the offending
/// value when the parser's position is a table header or inline table and the value can be
/// found in it; else the parser's own message.
pub(crate) fn describe(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    match error.span().and_then(|span| locate(text, span, message)) {
        Some((line, column, key)) => {
            format!("TOML error at line {line}, column {column} (key `{key}`): {message}")
        }
        None => error.to_string().trim_end().to_string(),
    }
}

/// The literal a serde "invalid type / value" message quotes, as it is written in TOML:
/// `string "abc"` → `"abc"`, ``floating point `1.5` `` → `1.5`, `` integer `3` `` → `3`,
/// `` boolean `true` `` → `true`.
fn quoted_value(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    if let Some(s) = rest.strip_prefix("string \"") {
        let end = s.find("\", expected")?;
        return Some(format!("\"{}\"", &s[..end]));
    }
    let start = rest.find('`')? + 1;
    let end = start + rest[start..].find('`')?;
    Some(rest[start..end].to_string())
}

/// (line, column, key) of the first `key = VALUE` inside the table at `span` whose value is
/// the one the message quotes (1-based line and column).
fn locate(text: &str, span: Range<usize>, message: &str) -> Option<(usize, usize, String)> {
    let value = quoted_value(message)?;
    let at = text.get(span.clone())?;
    // The region of the table: a header runs to the next header, an inline table is its span.
    let region = if at.trim_start().starts_with('[') {
        let body = span.end;
        let next = text[body..]
            .match_indices("\n[")
            .next()
            .map_or(text.len(), |(k, _)| body + k);
        body..next
    } else {
        span
    };
    let chunk = &text[region.clone()];
    let mut search = 0;
    while let Some(k) = chunk[search..].find(value.as_str()) {
        let pos = search + k;
        search = pos + value.len();
        // The value must end there (not the start of a longer literal) and follow `key =`.
        let after = chunk[search..].chars().next();
        if after.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_') {
            continue;
        }
        let before = chunk[..pos].trim_end();
        let Some(before) = before.strip_suffix('=') else {
            continue;
        };
        let key_text = before.trim_end();
        let key_start = key_text
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '"'))
            .map_or(0, |k| k + 1);
        let key = &key_text[key_start..];
        if key.is_empty() {
            continue;
        }
        let absolute = region.start + key_start;
        let line = text[..absolute].matches('\n').count() + 1;
        let column = absolute - text[..absolute].rfind('\n').map_or(0, |k| k + 1) + 1;
        return Some((line, column, key.trim_matches('"').to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quoted_value_is_found_under_its_table() {
        let text = "seed = 1\n[model]\nkind = \"two_layer\"\nactivation = \"relu\"\nwidth = \"abc\"\n[train]\nsteps = 5\n";
        let header = text.find("[model]").unwrap();
        let (line, column, key) = locate(
            text,
            header..header + 7,
            "invalid type: string \"abc\", expected i64",
        )
        .unwrap();
        assert_eq!((line, column, key.as_str()), (5, 1, "width"));
        let inline = "target = { kind = \"harmonic\", degree = 1.5 }\n";
        let span = inline.find('{').unwrap()..inline.len() - 1;
        let (line, column, key) = locate(
            inline,
            span,
            "invalid type: floating point `1.5`, expected i64",
        )
        .unwrap();
        assert_eq!((line, column, key.as_str()), (1, 31, "degree"));
        // `1.5` must not match inside `11.5`.
        let other = "[data]\nstd = 11.5\nn = 1.5\n";
        let (line, _, key) = locate(
            other,
            0..6,
            "invalid type: floating point `1.5`, expected i64",
        )
        .unwrap();
        assert_eq!((line, key.as_str()), (3, "n"));
    }
}
