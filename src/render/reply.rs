//! A reader's reply as HTML: always escaped, paragraphs and line breaks kept, links clickable.

use pulldown_cmark_escape::{escape_href, escape_html};

use super::css::Stylesheet;

/// Renders reply text; with a stylesheet, elements get the email's inline styles.
pub fn to_html(text: &str, css: Option<&Stylesheet>) -> String {
    let p_style = style_attr(css, "p");
    let a_style = style_attr(css, "a");
    let mut out = String::with_capacity(text.len() * 2);
    let normalized = text.replace("\r\n", "\n");
    for paragraph in normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        out.push_str("<p");
        out.push_str(&p_style);
        out.push('>');
        for (i, line) in paragraph.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            linkify(line, &a_style, &mut out);
        }
        out.push_str("</p>\n");
    }
    out
}

/// `text` without the control characters a stranger's mail may carry: whole terminal escape
/// sequences (CSI `ESC [ … m`, OSC `ESC ] … BEL`), which would recolour, clear or retitle a
/// subscriber's terminal mail reader, and every other control (bells, NULs); line breaks and
/// tabs stay.
pub fn without_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            // CSI: parameters, then one final byte in @..~.
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ST (`ESC \`).
            '\u{1b}' if chars.peek() == Some(&']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn style_attr(css: Option<&Stylesheet>, tag: &str) -> String {
    css.and_then(|c| c.style_for(tag, &[]))
        // The stylesheet's declarations are already safe inside a double-quoted attribute.
        .map(|s| format!(" style=\"{s}\""))
        .unwrap_or_default()
}

/// Escapes a line, turning http(s) URLs into links.
fn linkify(line: &str, a_style: &str, out: &mut String) {
    let mut rest = line;
    while let Some(start) = find_url(rest) {
        let _ = escape_html(&mut *out, &rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(tail.len());
        // Trailing punctuation belongs to the sentence, not the URL.
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        out.push_str("<a href=\"");
        let _ = escape_href(&mut *out, url);
        out.push('"');
        out.push_str(a_style);
        out.push_str(" rel=\"nofollow\">");
        let _ = escape_html(&mut *out, url);
        out.push_str("</a>");
        rest = &tail[url.len()..];
    }
    let _ = escape_html(&mut *out, rest);
}

fn find_url(s: &str) -> Option<usize> {
    let http = s.find("http://");
    let https = s.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_and_links_urls() {
        let html = to_html(
            "<script>alert(1)</script> see https://example.com/a?b=1&c=2.\nnext line\n\nsecond \"para\"",
            None,
        );
        assert_eq!(
            html,
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; see <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow\">https://example.com/a?b=1&amp;c=2</a>.<br>\nnext line</p>\n<p>second &quot;para&quot;</p>\n"
        );
    }

    #[test]
    fn control_characters_are_dropped_and_line_breaks_kept() {
        assert_eq!(
            without_controls(
                "Hi \u{1b}[2J\u{1b}]0;title\u{7}there\r\n\tnext\u{0}\u{9b}31m red\u{1b}]2;t\u{1b}\\ ok\u{1b}c!"
            ),
            "Hi there\n\tnext red okc!"
        );
    }

    #[test]
    fn hostile_url_cannot_break_attribute() {
        let html = to_html("https://x.example/\"onmouseover=alert(1)", None);
        assert!(!html.contains("\"onmouseover"), "{html}");
    }

    #[test]
    fn javascript_urls_are_not_links() {
        let html = to_html("javascript:alert(1)", None);
        assert!(!html.contains("<a"), "{html}");
    }
}
