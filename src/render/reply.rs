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
/// subscriber's terminal mail reader, every other control (bells, NULs, C1), and the
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which
/// make text read in another order than it is written; line breaks and tabs stay. A sequence
/// ends where its syntax does, and at the latest at the end of the line, so a stray escape
/// never takes the reader's words with it.
pub fn without_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            // CSI: parameter and intermediate bytes (0x20–0x3F), then one final byte (@..~).
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                while chars.next_if(|c| (' '..='?').contains(c)).is_some() {}
                chars.next_if(|c| ('@'..='~').contains(c));
            }
            // OSC: up to BEL or ST (`ESC \\`), within the line.
            '\u{1b}' if chars.peek() == Some(&']') => {
                while let Some(c) = chars.next_if(|&c| c != '\n') {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            c if is_hidden_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// A reader's name on one line: line breaks and tabs become spaces, the rest as
/// [`without_controls`].
pub fn name_line(name: &str) -> String {
    without_controls(name)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_hidden_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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
            "Hi there\n\tnext31m red okc!"
        );
        // A stray escape takes nothing but itself, at most its line; C1 bytes (a
        // windows-1252 text read as Latin-1) drop alone; bidi overrides go.
        assert_eq!(
            without_controls("a\u{1b}[ é stays\nb\u{1b}]0;lost\nc keeps ›\u{9b}› more"),
            "aé stays\nb\nc keeps ›› more"
        );
        assert_eq!(
            without_controls("https://evil.example/\u{202e}moc.elgoog \u{2067}x\u{2069}"),
            "https://evil.example/moc.elgoog x"
        );
        assert_eq!(
            name_line("Ann\n\nVisit \u{1b}[1mevil.example\t "),
            "Ann Visit evil.example"
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
