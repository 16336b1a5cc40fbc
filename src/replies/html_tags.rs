//! The HTML tag scanner of the reply extractor: the tags of a document in order, with their
//! lowercase names and attributes, skipping comments and the content of raw-text elements.
//! [`super::html_text`] uses it to find the elements mail clients mark as quote or signature
//! and to follow the nesting depth; the text itself is html2text's.
//!
//! Plain string code that must not depend on anything else in the crate. Malformed markup
//! never stops the scan, and every step is linear in the input.
//!
//! Why ours and not html5ever's tokenizer (which `render::text` and `check` use): the
//! extractor cuts marked quotes and signatures out of the source by byte range (`start`,
//! `stop`), and html5ever's tokenizer reports tags with line numbers only. The way to drop this
//! scanner is to work on one html5ever tree instead (detach the marked elements, then let
//! html2text render that tree), guarded by the reply corpora and `bench/replies-html.sh`.

/// One tag found by the scanner.
pub(super) struct Tag {
    /// Lowercase element name.
    pub(super) name: String,
    pub(super) closing: bool,
    pub(super) self_closing: bool,
    /// Lowercase attribute names with their values.
    pub(super) attrs: Vec<(String, String)>,
    /// Byte offset of '<'.
    pub(super) start: usize,
    /// Byte offset just past '>'.
    pub(super) stop: usize,
}

impl Tag {
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x.eq_ignore_ascii_case(class)))
    }

    pub(super) fn has_id(&self, id: &str) -> bool {
        self.attr("id").is_some_and(|v| v.eq_ignore_ascii_case(id))
    }
}

/// Elements whose content is raw text: a '<' inside them does not start a tag.
const RAW_TEXT_ELEMENTS: &[&str] = &["script", "style", "textarea", "title"];

/// All tags of `html`, in order. Comments, doctypes and processing instructions are skipped,
/// and so is the content of raw-text elements. Malformed markup never stops the scan: a stray
/// '<' is text, and an unterminated tag ends the document.
pub(super) fn scan_tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(off) = html.get(i..).and_then(|rest| rest.find('<')) {
        let start = i + off;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            i = rest.find("-->").map_or(html.len(), |e| start + e + 3);
            continue;
        }
        let next = bytes.get(start + 1).copied().unwrap_or(b' ');
        if next == b'!' || next == b'?' {
            i = rest.find('>').map_or(html.len(), |e| start + e + 1);
            continue;
        }
        let closing = next == b'/';
        let name_from = start + 1 + usize::from(closing);
        let name_len = html[name_from..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b':' || *b == b'-')
            .count();
        if name_len == 0 || !bytes[name_from].is_ascii_alphabetic() {
            i = start + 1;
            continue;
        }
        let name = html[name_from..name_from + name_len].to_ascii_lowercase();
        let attrs_from = name_from + name_len;
        let Some(close) = find_tag_end(&html[attrs_from..]) else {
            break;
        };
        let attr_text = &html[attrs_from..attrs_from + close];
        let stop = attrs_from + close + 1;
        let raw = !closing && RAW_TEXT_ELEMENTS.contains(&name.as_str());
        tags.push(Tag {
            self_closing: attr_text.trim_end().ends_with('/'),
            attrs: if closing {
                Vec::new()
            } else {
                parse_attrs(attr_text)
            },
            name,
            closing,
            start,
            stop,
        });
        i = if raw {
            skip_raw_text(html, stop, &tags)
        } else {
            stop
        };
    }
    tags
}

/// Offset of the '>' that ends a tag, ignoring '>' inside quoted attribute values.
fn find_tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Where the content of the raw-text element just opened ends (at its closing tag).
fn skip_raw_text(html: &str, from: usize, tags: &[Tag]) -> usize {
    let Some(name) = tags.last().map(|t| t.name.as_str()) else {
        return from;
    };
    let needle = format!("</{name}");
    let rest = html.get(from..).unwrap_or("");
    find_ascii_ci(rest, &needle).map_or(html.len(), |p| from + p)
}

/// Case-insensitive search for an ASCII needle.
fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Attributes of a tag: `name`, `name=value`, `name="value"`, `name='value'`.
fn parse_attrs(text: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        if c.is_whitespace() || c == '/' {
            chars.next();
            continue;
        }
        let mut name = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == '/' {
                break;
            }
            name.push(c.to_ascii_lowercase());
            chars.next();
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek().is_some_and(|(_, c)| *c == '=') {
            chars.next();
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                chars.next();
            }
            match chars.peek().map(|(_, c)| *c) {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    for (_, c) in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some(&(_, c)) = chars.peek() {
                        if c.is_whitespace() {
                            break;
                        }
                        value.push(c);
                        chars.next();
                    }
                }
            }
        }
        if !name.is_empty() {
            attrs.push((name, value));
        }
    }
    attrs
}

pub(super) fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
    )
}
