//! Escaping of untrusted text (queries, answers, error messages, names) for every output
//! format. Everything a bot or a user can influence passes through one of these functions.

use std::fmt::Write as _;

/// `true` for the bidirectional-override and isolate controls (U+202A–U+202E,
/// U+2066–U+2069), which can make text read differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `true` for characters that must be shown as a visible escape: control characters
/// (other than newline and tab), bidi controls, zero-width and direction marks, and the
/// non-characters XML forbids.
fn needs_visible_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{200B}'
                ..='\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

/// Replaces invisible or dangerous characters with a visible `\u{XXXX}` escape, so a
/// reader sees exactly what the bot sent. Newlines and tabs are kept; CR LF and lone CR
/// become newlines.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            // CR LF and a lone CR are line breaks; a bare CR would overwrite a terminal line.
            if chars.peek() != Some(&'\n') {
                out.push('\n');
            }
        } else if needs_visible_escape(c) {
            let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut chars = s.char_indices();
    match chars.nth(max) {
        None => s.to_owned(),
        Some((idx, _)) => {
            let mut t = s[..idx].to_owned();
            t.pop();
            t.push('…');
            t
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values (and inline SVG).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in visible(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for XML 1.0 content and attribute values: markup characters become
/// entities, characters XML forbids (NUL and other controls, U+FFFE, U+FFFF) become
/// visible escapes, and newlines and tabs become character references so attribute
/// values keep them.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in visible(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for Markdown (GitHub-flavoured), safe inside a table cell: Markdown
/// punctuation is backslash-escaped, `<`, `>` and `&` become entities, `@` mentions are
/// broken with a zero-width space, and newlines become `<br>`.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in visible(s).chars() {
        match c {
            // With `[` and `]` escaped no link can form, so `(` and `)` stay readable.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space after `@` stops GitHub from notifying a user or team.
            '@' => out.push_str("@&#8203;"),
            '\n' => out.push_str("<br>"),
            '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Makes text safe for a terminal: no escape sequences or other controls reach it
/// (they become visible escapes), and newlines and tabs become spaces.
pub fn terminal(s: &str) -> String {
    visible(s)
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str) -> String, input: &str, expected: &str) {
        assert_eq!(f(input), expected, "input {input:?}");
    }

    #[test]
    fn visible_escapes_bidi_nul_and_escape_sequences() {
        check(visible, "a\u{202E}b", "a\\u{202E}b");
        check(visible, "\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}");
        check(visible, "nul\0", "nul\\u{0000}");
        check(visible, "\u{1b}[31mred", "\\u{001B}[31mred");
        check(visible, "line\nnext\ttab", "line\nnext\ttab");
        check(visible, "emoji 🚀 ok", "emoji 🚀 ok");
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        check(
            html,
            r#"<img src=x onerror="alert('x')">&"#,
            "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;",
        );
        check(html, "</script>\u{202E}", "&lt;/script&gt;\\u{202E}");
    }

    #[test]
    fn xml_has_no_illegal_characters() {
        let out = xml("a\0b\u{1}c\u{FFFE}<d>\"'&\n");
        assert_eq!(
            out,
            "a\\u{0000}b\\u{0001}c\\u{FFFE}&lt;d&gt;&quot;&apos;&amp;&#10;"
        );
        assert!(out.chars().all(|c| !c.is_control()));
    }

    #[test]
    fn markdown_cells_cannot_break_tables_or_mention() {
        check(markdown, "a|b", "a\\|b");
        check(markdown, "`code` *b* _i_", "\\`code\\` \\*b\\* \\_i\\_");
        check(markdown, "[x](javascript:y)", "\\[x\\](javascript:y)");
        check(markdown, "<script>", "&lt;script&gt;");
        check(markdown, "hi @everyone", "hi @&#8203;everyone");
        check(markdown, "one\r\ntwo", "one<br>two");
        check(markdown, "\u{202E}", "\\\\u{202E}");
    }

    #[test]
    fn terminal_text_has_no_escape_sequences() {
        let out = terminal("\u{1b}]0;title\u{7}\nnext");
        assert!(!out.contains('\u{1b}'));
        assert!(!out.contains('\n'));
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
