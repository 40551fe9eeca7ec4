//! Escaping of untrusted text (process names, command lines, host names) for every context the page puts it in.
//!
//! Nothing from the samples is ever written raw: HTML text and attribute values (also inside inline SVG, which the
//! HTML parser reads with the same rules) go through [`html`], and data for the script goes through [`json_for_script`]
//! so that it can sit inside `<script type="application/json">` without ending it.

use std::fmt::Write as _;

/// Escapes text for HTML text content and for double- or single-quoted attribute values (also in inline SVG).
///
/// Control characters other than tab and newline are replaced by U+FFFD so that the page stays well-formed.
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_html(&mut out, s);
    out
}

/// Appends `s` escaped like [`html`].
pub(crate) fn push_html(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Makes serialized JSON safe inside a `<script>` element: `<`, `>` and `&` become `\u003c`, `\u003e` and
/// `\u0026` (so neither `</script>` nor `<!--` can appear), and U+2028/U+2029 are escaped too. JSON strings keep
/// their meaning; outside strings JSON never contains these characters.
pub(crate) fn json_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Shortens `s` to at most `max` characters, ending with an ellipsis when it was cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('\u{2026}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#""><img src=x onerror=alert(1)>"#),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            html("<script>a&b</script>'"),
            "&lt;script&gt;a&amp;b&lt;/script&gt;&#39;"
        );
        assert_eq!(html("nul\0bell\x07"), "nul\u{FFFD}bell\u{FFFD}");
        assert_eq!(html("tab\tnl\n"), "tab\tnl\n");
    }

    #[test]
    fn json_cannot_close_the_script() {
        let json = serde_json::to_string("</script><!-- & \u{2028}").unwrap_or_default();
        let safe = json_for_script(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        assert!(!safe.contains('\u{2028}'));
        let back: String = serde_json::from_str(&safe).unwrap_or_default();
        assert_eq!(back, "</script><!-- & \u{2028}");
    }

    #[test]
    fn truncates_on_characters() {
        assert_eq!(truncate_chars("abcdef", 6), "abcdef");
        assert_eq!(truncate_chars("abcdefg", 6), "abcde\u{2026}");
        assert_eq!(truncate_chars("ääääääää", 4), "äää\u{2026}");
    }
}
