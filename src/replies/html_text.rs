//! The HTML-to-text step: the text of an HTML-only mail body, without the quoted message and
//! signatures that mail clients mark in their markup, rendered with html2text without
//! wrapping. The plain-text quote and signature rules ([`super::extract`]) run on its result.
//!
//! It must not depend on MIME decoding, classification, the store or the importer. Mail
//! bodies are untrusted input: the size and nesting limits below keep it linear in time and
//! bounded in memory.

use std::cell::RefCell;
use std::rc::Rc;

use html2text::render::{TaggedLine, TextDecorator};

use super::extract::opens_forward;
use super::html_tags::{Tag, is_void, scan_tags};

/// Text of an HTML-only mail body, without the quoted message and signatures that mail
/// clients mark in their markup (Gmail, Outlook, Thunderbird, Apple Mail, Yahoo, Proton Mail).
///
/// The marked parts are removed with a tag scanner first; the rest is rendered with html2text
/// without wrapping, links written as "text <url>".
///
/// Linear in time and bounded in memory on any input: a body over [`MAX_HTML_BYTES`] is cut
/// there, and elements nested deeper than [`MAX_HTML_DEPTH`] lose their tags (not their text)
/// before html5ever sees them, whose tree building checks the stack of open elements for every
/// tag. What was cut or flattened is said in [`HtmlText::notes`].
pub fn html_to_text(html: &str) -> HtmlText {
    convert(html, true)
}

/// Text of the whole HTML body, marked quotes included (as "> " lines): what the plain-text
/// rules look at when removing the marked parts left nothing, so that a reply that is only a
/// quote or a forward keeps that text, as its plain-text twin does.
pub fn html_to_text_unmarked(html: &str) -> HtmlText {
    convert(html, false)
}

fn convert(html: &str, remove_marked: bool) -> HtmlText {
    let (html, cut) = cap_size(html);
    let (kept, kept_to_end) = strip_marked_parts(html, remove_marked);
    let (flat, flattened) = limit_depth(&kept);
    let mut notes = Vec::new();
    if flattened {
        notes.push(format!(
            "[…markup nested deeper than {MAX_HTML_DEPTH} levels was flattened]"
        ));
    }
    // A cut inside a quote that is removed anyway loses nothing the reader wrote.
    if cut && kept_to_end {
        notes.push(format!(
            "[…the rest of this message was cut: over {} MB of HTML]",
            MAX_HTML_BYTES / (1024 * 1024)
        ));
    }
    HtmlText {
        text: render_html(&flat),
        notes,
    }
}

/// An HTML body as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    pub text: String,
    /// One line for each limit that changed the result, to be shown after the text.
    pub notes: Vec<String>,
}

impl HtmlText {
    /// The text followed by its notes, a blank line between them.
    pub fn with_notes(self) -> String {
        if self.notes.is_empty() {
            return self.text;
        }
        let mut parts = vec![self.text];
        parts.extend(self.notes);
        parts.join("\n\n").trim_start().to_string()
    }
}

/// Whether a body that is not a whole message is HTML: it opens with a doctype, a comment or
/// an HTML element ("<html>", "<div …>", "<p>"), not with text or a "<https://…>" link.
pub fn looks_like_html(body: &str) -> bool {
    let t = body.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let head = t.get(..t.len().min(16)).unwrap_or(t).to_ascii_lowercase();
    if head.starts_with("<!doctype") || head.starts_with("<!--") {
        return true;
    }
    let head = t
        .get(..t.floor_char_boundary(t.len().min(4096)))
        .unwrap_or("");
    scan_tags(head).first().is_some_and(|tag| {
        let after_name = head
            .get(1 + tag.name.len()..)
            .and_then(|r| r.chars().next());
        tag.start == 0
            && HTML_OPENERS.contains(&tag.name.as_str())
            && after_name.is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
    })
}

/// Elements an HTML mail body starts with.
const HTML_OPENERS: &[&str] = &[
    "html",
    "head",
    "body",
    "meta",
    "style",
    "title",
    "div",
    "p",
    "span",
    "table",
    "blockquote",
    "br",
    "a",
    "b",
    "i",
    "u",
    "em",
    "strong",
    "font",
    "pre",
    "center",
    "section",
    "article",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "img",
    "o:p",
    "base",
];

/// What a removed quote leaves: a paragraph of one quote mark, which the plain-text rules drop
/// as a quoted line. The reader's text around it is then set off by a blank line and a reply
/// header above it is recognised as one, as in the plain-text twin where the quote stood.
const QUOTE_PLACEHOLDER: &str = "<p>&gt;</p>";

/// Quote containers handled as [`Mark::Container`] before the rest are removed whole: each
/// costs a scan of its content, so pathological nesting stays linear.
const MAX_CONTAINERS: usize = 64;

/// HTML beyond this many bytes is not read. A reply's own text is a few kilobytes, and one
/// that quotes a whole issue stays near Gmail's 102 KB clip; converting costs up to about 250
/// bytes of memory per byte of HTML (a table row of many cells, `bench/replies-html.sh`).
pub const MAX_HTML_BYTES: usize = 1024 * 1024;

/// Elements nested deeper than this keep their text but lose their tags. Mail clients' markup
/// stays under 50 levels; html5ever's cost per tag grows with the depth.
pub const MAX_HTML_DEPTH: usize = 256;

/// `html` cut to [`MAX_HTML_BYTES`] (at a character boundary, before a tag cut in half), and
/// whether it was cut.
fn cap_size(html: &str) -> (&str, bool) {
    if html.len() <= MAX_HTML_BYTES {
        return (html, false);
    }
    let end = html.floor_char_boundary(MAX_HTML_BYTES);
    let head = &html[..end];
    let end = match (head.rfind('<'), head.rfind('>')) {
        (Some(open), close) if close.is_none_or(|c| c < open) => open,
        _ => end,
    };
    (&html[..end], true)
}

/// Elements whose end tag may be left out: html5ever closes them when the next one opens, so
/// they never pile up on its stack and are not counted.
const OPTIONAL_END: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "rt",
    "rp", "colgroup",
];

/// `html` with the tags of elements nested deeper than [`MAX_HTML_DEPTH`] removed (their text
/// stays), and whether any were. The nesting is followed with a stack of open element names
/// that an end tag pops down to its element, as a browser does; a start tag beyond the limit
/// and the end tag that closes it are dropped.
fn limit_depth(html: &str) -> (String, bool) {
    let mut open: Vec<&str> = Vec::new();
    let mut dropped: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    let mut flattened = false;
    let tags = scan_tags(html);
    for tag in &tags {
        let name = tag.name.as_str();
        if tag.self_closing || is_void(name) || OPTIONAL_END.contains(&name) {
            continue;
        }
        let keep = if !tag.closing {
            let room = open.len() < MAX_HTML_DEPTH;
            if room {
                open.push(name);
            } else {
                *dropped.entry(name).or_default() += 1;
            }
            room
        } else if let Some(n) = dropped.get_mut(name).filter(|n| **n > 0) {
            *n -= 1;
            false
        } else {
            if let Some(at) = open.iter().rposition(|o| *o == name) {
                open.truncate(at);
            }
            true
        };
        if !keep {
            flattened = true;
            out.push_str(html.get(pos..tag.start).unwrap_or(""));
            pos = tag.stop;
        }
    }
    out.push_str(html.get(pos..).unwrap_or(""));
    (out, flattened)
}

/// What to do with an element that a mail client marked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Remove the element with its content.
    Element,
    /// Remove the element and everything after it.
    Rest,
    /// A client's quote container (Gmail's `div.gmail_quote`, Proton's, Fastmail's): the
    /// attribution line and the first quote in it go; what follows the quote inside the
    /// container is the reader's inline answer and stays. A container without a quote, or one
    /// that opens a forward, goes whole.
    Container,
}

/// The client markers. A generic `<blockquote>` is handled separately: it is only removed when
/// the reader's text comes before it.
///
/// - Gmail: `div.gmail_quote` (with `gmail_attr`, the attribution) around
///   `blockquote.gmail_quote`; `gmail_signature`. Older Gmail wraps both in `gmail_extra`,
///   which needs no rule of its own.
/// - Outlook desktop: the header block in a div with a thin top border; Outlook web:
///   `#appendonsend`, `#divRplyFwdMsg`; Outlook for Mac and mobile: `#OLK_SRC_BODY_SECTION`,
///   `#mail-editor-reference-message-container`. All put the original message after the
///   header, so the rest of the document goes; so does Zimbra's `hr#zwchr`.
/// - Apple Mail: `blockquote type=cite` (attribution inside), `#AppleOriginalContents`,
///   `#AppleMailSignature`.
/// - Thunderbird: `div.moz-cite-prefix` (the attribution) and `blockquote type=cite`,
///   `moz-signature`.
/// - Yahoo: `yahoo_quoted`, also with a `ydp…` prefix (`ydp5e1fyahoo_quoted`).
/// - Proton Mail: `protonmail_quote`, `protonmail_signature_block`.
/// - Fastmail: `div#qt` / `div.qt` around the quote, `blockquote#qt`.
/// - GMX and WEB.DE: `div name=quote` below the quoted header block.
fn marker(tag: &Tag) -> Option<Mark> {
    if tag.closing {
        return None;
    }
    let is = |name: &str| tag.name == name;
    let rest = tag.has_id("divRplyFwdMsg")
        || tag.has_id("appendonsend")
        || tag.has_id("stopSpelling")
        || tag.has_id("OLK_SRC_BODY_SECTION")
        || tag.has_id("mail-editor-reference-message-container")
        || (is("hr") && tag.has_id("zwchr"))
        || (is("div") && is_outlook_header_border(tag));
    if rest {
        return Some(Mark::Rest);
    }
    let container = !is("blockquote")
        && (tag.has_class("gmail_quote")
            || tag.has_class("protonmail_quote")
            || tag.has_id("qt")
            || tag.has_class("qt"));
    if container {
        return Some(Mark::Container);
    }
    let element = is_cited_quote(tag)
        || tag.has_class("gmail_signature")
        || tag.has_class("gmail_signature_prefix")
        || tag.attr("data-smartmail") == Some("gmail_signature")
        || tag.has_class("moz-cite-prefix")
        || tag.has_class("moz-signature")
        || tag.has_id("AppleMailSignature")
        || tag.has_id("AppleOriginalContents")
        || class_ends_with(tag, "yahoo_quoted")
        || (is("div")
            && tag
                .attr("name")
                .is_some_and(|n| n.eq_ignore_ascii_case("quote")))
        || tag.has_class("protonmail_signature_block");
    element.then_some(Mark::Element)
}

/// A blockquote a client marked as the quoted message: `type=cite` (Apple Mail, Thunderbird,
/// Proton, Fastmail), Gmail's and Proton's classes, Fastmail's `id=qt`.
fn is_cited_quote(tag: &Tag) -> bool {
    tag.name == "blockquote"
        && (tag
            .attr("type")
            .is_some_and(|t| t.eq_ignore_ascii_case("cite"))
            || tag.has_class("gmail_quote")
            || tag.has_class("protonmail_quote")
            || tag.attr("id").is_some_and(|id| id.starts_with("qt")))
}

/// A class of `tag` ends with `suffix` (Yahoo prefixes its classes with a random `ydp…`).
fn class_ends_with(tag: &Tag, suffix: &str) -> bool {
    tag.attr("class").is_some_and(|c| {
        c.split_whitespace()
            .any(|x| x.to_ascii_lowercase().ends_with(suffix))
    })
}

/// Outlook desktop puts the quoted header ("From: … Sent: …") in a div with a thin top border.
fn is_outlook_header_border(tag: &Tag) -> bool {
    let style = tag.attr("style").unwrap_or("").to_ascii_lowercase();
    style.split(';').any(|decl| {
        let Some((property, value)) = decl.split_once(':') else {
            return false;
        };
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        property.trim() == "border-top"
            && value.contains("solid")
            && OUTLOOK_RULE_COLOURS.iter().any(|c| value.contains(c))
    })
}

/// Colours of the thin rule Outlook draws above a quoted header block, in either notation.
const OUTLOOK_RULE_COLOURS: &[&str] =
    &["#e1e1e1", "#b5c4df", "rgb(225,225,225)", "rgb(181,196,223)"];

/// End (byte offset past the closing tag) of the element opened by `tags[i]`; the end of the
/// document when it is never closed.
fn element_end(tags: &[Tag], i: usize, doc_len: usize) -> usize {
    let open = &tags[i];
    if open.self_closing || is_void(&open.name) {
        return open.stop;
    }
    let mut depth = 0usize;
    for t in &tags[i..] {
        if t.name != open.name {
            continue;
        }
        if !t.closing {
            if !t.self_closing {
                depth += 1;
            }
        } else {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return t.stop;
            }
        }
    }
    doc_len
}

/// Visible text between two tags: anything but whitespace and non-breaking spaces.
fn has_visible_text(fragment: &str) -> bool {
    fragment
        .replace("&nbsp;", " ")
        .replace("&#160;", " ")
        .chars()
        .any(|c| !c.is_whitespace())
}

/// `html` without the parts mail clients mark as quote or signature (when `remove_marked`),
/// with Outlook's `MsoNormal` paragraphs as plain lines, and whether its end was kept (not
/// inside a removed part).
///
/// Outlook writes each line of the reader's text as a `<p class=MsoNormal>` without margins, and
/// an empty one between paragraphs: rendered as paragraphs they would double every line break,
/// so they become `<div>`s, and the HTML reply reads like its plain-text twin.
fn strip_marked_parts(html: &str, remove_marked: bool) -> (String, bool) {
    let tags = scan_tags(html);
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    let mut cut = html.len();
    let mut skip_until = 0;
    let mut seen_text = false;
    let mut in_head = false;
    let mut prev_stop = 0;
    let mut last_hr: Option<(usize, usize)> = None;
    let mut in_mso_paragraph = false;
    let mut containers = 0;
    for (i, tag) in tags.iter().enumerate() {
        if tag.start < skip_until {
            continue;
        }
        let between = html.get(prev_stop..tag.start).unwrap_or("");
        if !in_head && has_visible_text(between) {
            seen_text = true;
            last_hr = None;
        }
        prev_stop = tag.stop;
        match (tag.name.as_str(), tag.closing) {
            ("head", closing) => in_head = !closing,
            ("img", false) if !in_head => seen_text = true,
            ("p", false) => {
                in_mso_paragraph = tag.has_class("MsoNormal");
                if in_mso_paragraph {
                    edits.push((tag.start, tag.stop, "<div>"));
                }
            }
            ("p", true) if in_mso_paragraph => {
                in_mso_paragraph = false;
                edits.push((tag.start, tag.stop, "</div>"));
            }
            _ => {}
        }
        let mark = marker(tag).filter(|_| remove_marked).or_else(|| {
            (remove_marked && tag.name == "blockquote" && !tag.closing && seen_text)
                .then_some(Mark::Element)
        });
        match mark {
            Some(Mark::Rest) => {
                cut = last_hr.map_or(tag.start, |(hr_start, _)| hr_start);
                break;
            }
            Some(Mark::Container) => {
                containers += 1;
                let end = element_end(&tags, i, html.len());
                let quote_end = (containers <= MAX_CONTAINERS)
                    .then(|| first_quote_in(html, &tags, i, end))
                    .flatten();
                let removed_end = quote_end.unwrap_or(end);
                edits.push((tag.start, removed_end, QUOTE_PLACEHOLDER));
                skip_until = removed_end;
                prev_stop = removed_end;
            }
            Some(Mark::Element) => {
                let end = element_end(&tags, i, html.len());
                let quote = is_cited_quote(tag) || tag.name == "blockquote";
                edits.push((tag.start, end, if quote { QUOTE_PLACEHOLDER } else { "" }));
                skip_until = end;
                prev_stop = end;
            }
            None if tag.name == "hr" && !tag.closing => last_hr = Some((tag.start, tag.stop)),
            None => {}
        }
    }
    let kept_to_end = cut == html.len()
        && edits
            .iter()
            .rfind(|(_, _, with)| !with.starts_with("<div>") && !with.starts_with("</div>"))
            .is_none_or(|(_, end, _)| *end < html.len());
    let mut out = String::with_capacity(cut);
    let mut pos = 0;
    for (start, end, with) in edits {
        if start >= cut {
            break;
        }
        out.push_str(html.get(pos..start).unwrap_or(""));
        out.push_str(with);
        pos = end.min(cut);
    }
    out.push_str(html.get(pos..cut).unwrap_or(""));
    (out, kept_to_end)
}

/// End of the first marked quote inside the container opened by `tags[i]` (ending at `end`),
/// if there is one and the container does not open a forward ("---------- Forwarded message
/// ----------" before the quote: then the quote belongs to the forwarded message).
fn first_quote_in(html: &str, tags: &[Tag], i: usize, end: usize) -> Option<usize> {
    let (q, quote) = tags
        .iter()
        .enumerate()
        .skip(i + 1)
        .take_while(|(_, t)| t.start < end)
        .find(|(_, t)| !t.closing && is_cited_quote(t))?;
    let before = tags_as_line_breaks(html.get(tags[i].stop..quote.start).unwrap_or(""));
    if opens_forward(&before) {
        return None;
    }
    Some(element_end(tags, q, html.len()).min(end))
}

/// Render width: wide enough that html2text never wraps a paragraph or a link.
const RENDER_WIDTH: usize = 100_000;

/// HTML to plain text with html2text: no wrapping, tables flattened without borders, links as
/// "text <url>".
fn render_html(html: &str) -> String {
    let links = Rc::new(RefCell::new(Vec::new()));
    let rendered = html2text::config::with_decorator(LinkDecorator::new(Rc::clone(&links)))
        .raw_mode(true)
        .no_table_borders()
        .no_link_wrapping()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), RENDER_WIDTH);
    let text = match rendered {
        Ok(t) => t,
        // html2text only fails on I/O or impossible widths; fall back to the bare text so a
        // body is never lost.
        Err(_) => strip_tags(html),
    };
    tidy_rendered(&collapse_self_links(&text))
}

/// Text of `html` with every tag turned into a line break: enough to find a line such as
/// "---------- Forwarded message ---------" in a fragment.
fn tags_as_line_breaks(html: &str) -> String {
    let mut out = String::new();
    let mut pos = 0;
    for t in &scan_tags(html) {
        out.push_str(html.get(pos..t.start).unwrap_or(""));
        out.push('\n');
        pos = t.stop;
    }
    out.push_str(html.get(pos..).unwrap_or(""));
    out
}

/// Text of `html` with every tag removed; used only if rendering fails.
fn strip_tags(html: &str) -> String {
    let tags = scan_tags(html);
    let mut out = String::new();
    let mut pos = 0;
    for t in &tags {
        out.push_str(html.get(pos..t.start).unwrap_or(""));
        pos = t.stop;
    }
    out.push_str(html.get(pos..).unwrap_or(""));
    out
}

/// Trailing spaces removed, runs of blank lines reduced to one, surrounding blank lines gone.
fn tidy_rendered(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n").trim().to_string()
}

/// "https://x <https://x>" → "https://x", and "a@b <a@b>" → "a@b": a link whose text already
/// is its target needs no repetition.
fn collapse_self_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(" <") {
        let after = &rest[open + 2..];
        let Some(close) = after.find('>') else {
            break;
        };
        let target = &after[..close];
        let before = &rest[..open];
        let bare = target.strip_prefix("mailto:").unwrap_or(target);
        let redundant = !target.is_empty()
            && (before.ends_with(target)
                || before.ends_with(bare)
                || before.ends_with(target.trim_end_matches('/')));
        out.push_str(before);
        if !redundant {
            out.push_str(&rest[open..open + 2 + close + 1]);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// html2text decorator for reply text: plain text, links as "text <url>", images as their alt
/// text, list items as "- ", quotes as "> " (so that [`super::extract::reply_text`] can drop them).
#[derive(Clone)]
struct LinkDecorator {
    /// Targets of the links being rendered, innermost last. Shared between the decorators of
    /// nested blocks, because a link may open in one block and close in a sub-block.
    open_links: Rc<RefCell<Vec<String>>>,
}

impl LinkDecorator {
    fn new(open_links: Rc<RefCell<Vec<String>>>) -> Self {
        LinkDecorator { open_links }
    }
}

/// Link targets worth showing: web and mail links, not page anchors or scripts.
fn shown_target(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Some(u.to_string())
    } else {
        lower
            .starts_with("mailto:")
            .then(|| {
                u.get(7..)
                    .unwrap_or("")
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .filter(|a| !a.is_empty())
    }
}

impl TextDecorator for LinkDecorator {
    type Annotation = ();

    fn decorate_link_start(&mut self, url: &str) -> (String, Self::Annotation) {
        self.open_links
            .borrow_mut()
            .push(shown_target(url).unwrap_or_default());
        (String::new(), ())
    }

    fn decorate_link_end(&mut self) -> String {
        match self.open_links.borrow_mut().pop() {
            Some(target) if !target.is_empty() => format!(" <{target}>"),
            _ => String::new(),
        }
    }

    fn decorate_em_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_em_end(&self) -> String {
        String::new()
    }

    fn decorate_strong_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_strong_end(&self) -> String {
        String::new()
    }

    fn decorate_strikeout_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }

    fn decorate_code_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_code_end(&self) -> String {
        String::new()
    }

    fn decorate_preformat_first(&self) -> Self::Annotation {}

    fn decorate_preformat_cont(&self) -> Self::Annotation {}

    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, Self::Annotation) {
        (title.to_string(), ())
    }

    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }

    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }

    fn unordered_item_prefix(&self) -> String {
        "- ".to_string()
    }

    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }

    fn make_subblock_decorator(&self) -> Self {
        self.clone()
    }

    fn finalise(&mut self, _urls: Vec<String>) -> Vec<TaggedLine<Self::Annotation>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::extract::tests::noise;
    use crate::replies::extract::{html_reply_text, reply_text};

    /// The text of an HTML body, without the notes.
    fn html_text(html: &str) -> String {
        html_to_text(html).text
    }

    #[test]
    fn html_to_text_never_panics_on_noise() {
        let alphabet = [
            "<",
            ">",
            "/",
            "div",
            " class=\"gmail_quote\"",
            " id=divRplyFwdMsg",
            "blockquote",
            "\"",
            "'",
            "=",
            "!--",
            "-->",
            "text",
            "é",
            "<hr>",
            "<script>",
            "</script>",
            "&nbsp;",
            " type=cite",
            "<a href=\"https://x\">",
            "</a>",
            "<table><tr><td>",
            "\n",
            "<p class=MsoNormal>",
            "</p>",
            " id=qt",
            " name=quote",
            "---------- Forwarded message ---------",
        ];
        for seed in 0..300 {
            let html = noise(seed, (seed as usize * 11) % 300, &alphabet);
            let _ = html_text(&html);
            let _ = html_reply_text(&html);
            let _ = looks_like_html(&html);
        }
    }

    // -- HTML ----------------------------------------------------------------------------------

    fn html_page(body: &str) -> String {
        format!(
            "<html><head><meta charset=\"utf-8\"><style>p {{ margin: 0 }} .gmail_quote {{ }}</style></head><body>{body}</body></html>"
        )
    }

    const HTML_REPLY: &str = "Count me in for the meetup.";

    /// The HTML body of a reply, as the text rules see it after the marked parts are removed.
    fn assert_html_reply(body: &str) {
        let text = html_text(&html_page(body));
        assert_eq!(
            reply_text(&text),
            HTML_REPLY,
            "html:\n{body}\ntext:\n{text}"
        );
    }

    #[test]
    fn html_removes_gmail_quote_and_signature() {
        assert_html_reply(
            "<div dir=\"ltr\">Count me in for the meetup.<br clear=\"all\"><div><br></div><span class=\"gmail_signature_prefix\">-- </span><br><div dir=\"ltr\" class=\"gmail_signature\" data-smartmail=\"gmail_signature\"><div dir=\"ltr\">Ann Reader<div>Tide Club</div></div></div></div><br><div class=\"gmail_quote gmail_quote_container\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, Jan 6, 2025 at 9:00 AM Dispatch &lt;<a href=\"mailto:editor@news.example.com\">editor@news.example.com</a>&gt; wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\"><div dir=\"ltr\">Spring issue</div></blockquote></div>",
        );
        assert_html_reply(
            "<div>Count me in for the meetup.</div><blockquote class=\"gmail_quote\">Spring issue</blockquote>",
        );
    }

    #[test]
    fn html_removes_outlook_web_reply() {
        assert_html_reply(
            "<div style=\"font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;\">Count me in for the meetup.</div><div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" style=\"font-size:11pt\"><b>From:</b> Dispatch &lt;editor@news.example.com&gt;<br><b>Sent:</b> Monday, January 6, 2025 9:00 AM<br><b>To:</b> Ann<br><b>Subject:</b> Spring issue</font><div>&nbsp;</div></div><div>Spring issue body</div>",
        );
        // Without the appendonsend marker, the rule above divRplyFwdMsg goes too.
        assert_html_reply(
            "<div>Count me in for the meetup.</div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> Dispatch</div><div>Spring issue body</div>",
        );
    }

    #[test]
    fn html_removes_outlook_desktop_reply() {
        assert_html_reply(
            "<div class=WordSection1><p class=MsoNormal>Count me in for the meetup.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b><span lang=EN-US>From:</span></b><span lang=EN-US> Dispatch &lt;editor@news.example.com&gt;<br><b>Sent:</b> Monday, January 6, 2025 9:00 AM<br><b>Subject:</b> Spring issue<o:p></o:p></span></p></div></div><p class=MsoNormal>Spring issue body<o:p></o:p></p></div>",
        );
        assert_html_reply(
            "<div class=WordSection1><p class=MsoNormal>Count me in for the meetup.</p><div style=\"border:none; border-top:solid #B5C4DF 1.0pt; padding:3.0pt 0in 0in 0in\"><p><b>From:</b> Dispatch</p></div><p>Spring issue body</p></div>",
        );
    }

    #[test]
    fn html_removes_thunderbird_quote_and_signature() {
        assert_html_reply(
            "<p>Count me in for the meetup.</p><div class=\"moz-cite-prefix\">On 06/01/2025 09:00, Dispatch wrote:<br></div><blockquote type=\"cite\" cite=\"mid:v5n2@news.example.com\"><p>Spring issue</p></blockquote><pre class=\"moz-signature\" cols=\"72\">-- \nAnn Reader</pre>",
        );
    }

    #[test]
    fn html_removes_apple_mail_quote_and_signature() {
        assert_html_reply(
            "<div dir=\"ltr\">Count me in for the meetup.</div><div dir=\"ltr\"><br><div id=\"AppleMailSignature\" dir=\"ltr\">Sent from my iPhone</div><div dir=\"ltr\"><br><blockquote type=\"cite\">On 6 Jan 2025, at 09:00, Dispatch &lt;editor@news.example.com&gt; wrote:<br><br></blockquote></div><blockquote type=\"cite\"><div dir=\"ltr\">Spring issue</div></blockquote></div>",
        );
    }

    #[test]
    fn html_removes_yahoo_and_proton_quotes() {
        assert_html_reply(
            "<div class=\"ydp1\"><div>Count me in for the meetup.</div><div><br></div></div><div id=\"yahoo_quoted_4242\" class=\"yahoo_quoted\"><div style=\"font-size:13px\"><div>On Monday, January 6, 2025, 09:00:00 AM GMT+1, Dispatch &lt;editor@news.example.com&gt; wrote:</div><div><br></div><div>Spring issue</div></div></div>",
        );
        assert_html_reply(
            "<div style=\"font-family: Arial\">Count me in for the meetup.</div><div class=\"protonmail_signature_block\"><div class=\"protonmail_signature_block-proton\">Sent with <a href=\"https://proton.me/\">Proton Mail</a> secure email.</div></div><div class=\"protonmail_quote\">On Monday, January 6th, 2025 at 09:00, Dispatch &lt;editor@news.example.com&gt; wrote:<br><blockquote class=\"protonmail_quote\" type=\"cite\">Spring issue</blockquote><br></div>",
        );
    }

    #[test]
    fn html_removes_outlook_mac_fastmail_and_ydp_yahoo_quotes() {
        assert_html_reply(
            "<p class=MsoNormal>Count me in for the meetup.</p><span id=\"OLK_SRC_BODY_SECTION\"><p class=MsoNormal><b>From: </b>Dispatch &lt;editor@news.example.com&gt;<br><b>Date: </b>Monday, 6 January 2025 at 09:00</p></span><p>Spring issue body</p>",
        );
        assert_html_reply(
            "<div>Count me in for the meetup.</div><div id=\"qt\" style=\"\"><div>On Mon, Jan 6, 2025, at 09:00, Dispatch wrote:</div><blockquote type=\"cite\" id=\"qt-qt\">Spring issue</blockquote></div>",
        );
        assert_html_reply(
            "<div>Count me in for the meetup.</div><div id=\"AppleOriginalContents\"><div>On 6 Jan 2025, at 09:00, Dispatch wrote:</div><div>Spring issue</div></div>",
        );
        assert_html_reply(
            "<div class=\"ydp1a2b yahoo-style-wrap\">Count me in for the meetup.</div><div id=\"ydp9f8eyahoo_quoted_77\" class=\"ydp9f8eyahoo_quoted\"><div>On Monday, January 6, 2025, Dispatch wrote:</div><div>Spring issue</div></div>",
        );
    }

    #[test]
    fn html_removes_outlook_rules_zimbra_and_gmx_quotes() {
        for style in [
            "border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm",
            "border-top: 1pt solid rgb(225, 225, 225); padding: 3pt 0in 0in",
            "BORDER-TOP: #b5c4df 1pt solid; PADDING-TOP: 3pt",
        ] {
            assert_html_reply(&format!(
                "<div>Count me in for the meetup.</div><div style=\"{style}\"><p><b>From:</b> Dispatch</p></div><p>Spring issue body</p>"
            ));
        }
        // Another border is layout, not a quote.
        let html = html_page(
            "<div>Count me in for the meetup.</div><div style=\"border-top: 1px solid #000\">Saturday</div>",
        );
        assert_eq!(
            reply_text(&html_text(&html)),
            "Count me in for the meetup.\nSaturday"
        );
        assert_html_reply(
            "<div>Count me in for the meetup.</div><div id=\"mail-editor-reference-message-container\"><div><b>From: </b>Dispatch</div><div>Spring issue body</div></div>",
        );
        assert_html_reply(
            "<div>Count me in for the meetup.</div><hr id=\"zwchr\"><div><b>From: </b>Dispatch<br><b>Sent: </b>Monday</div><div>Spring issue body</div>",
        );
        assert_html_reply(
            "<div>Count me in for the meetup.</div><div><b>Gesendet:</b> Montag, 06. Januar 2025 um 09:00 Uhr<br><b>Von:</b> Dispatch &lt;editor@news.example.com&gt;<br><b>An:</b> ann@example.org<br><b>Betreff:</b> Frühlingsausgabe</div><div name=\"quote\" style=\"margin:10px 5px 5px 10px; border-left:2px solid #C3D9E5\"><div>Spring issue</div></div>",
        );
    }

    #[test]
    fn html_keeps_answers_between_quotes_in_a_gmail_quote() {
        let html = html_page(
            "<div dir=\"ltr\">Answers below.</div><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Jan 6, 2025 at 9:00 AM Dispatch wrote:</div><blockquote class=\"gmail_quote\">Which day?</blockquote><div>Saturday.</div><blockquote class=\"gmail_quote\">Bringing a friend?</blockquote><div>Yes.</div></div>",
        );
        // Each removed quote leaves a quoted line where it stood, as in the text twin.
        assert_eq!(
            html_text(&html),
            "Answers below.\n\n>\n\nSaturday.\n\n>\n\nYes."
        );
        assert_eq!(
            reply_text(&html_text(&html)),
            "Answers below.\n\nSaturday.\n\nYes."
        );
        // A Gmail forward goes whole, also when the forwarded message holds a quote.
        let html = html_page(
            "<div dir=\"ltr\">Count me in for the meetup.</div><div class=\"gmail_quote\"><div class=\"gmail_attr\">---------- Forwarded message ---------<br>From: Dispatch</div><div>Spring issue</div><blockquote class=\"gmail_quote\">older</blockquote><div>more of the issue</div></div>",
        );
        assert_eq!(reply_text(&html_text(&html)), HTML_REPLY);
    }

    #[test]
    fn outlook_paragraphs_are_lines() {
        let html = html_page(
            "<div class=WordSection1><p class=MsoNormal>Hello,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>first line<o:p></o:p></p><p class=\"MsoNormal\" style=\"margin:0\">second line<o:p></o:p></p><p>A paragraph.</p></div>",
        );
        assert_eq!(
            html_text(&html),
            "Hello,\n\nfirst line\nsecond line\n\nA paragraph."
        );
    }

    #[test]
    fn a_reply_that_is_only_a_quote_or_a_forward_keeps_that_text_in_html_too() {
        let quote = html_page(
            "<div><br></div><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Jan 6, 2025 at 9:00 AM Dispatch &lt;ed@example.com&gt; wrote:</div><blockquote class=\"gmail_quote\"><div>Spring issue</div></blockquote></div>",
        );
        assert_eq!(reply_text(&html_to_text(&quote).text), "");
        assert_eq!(html_reply_text(&quote).text, "Spring issue");
        let forward = html_page(
            "<div class=\"gmail_quote\"><div class=\"gmail_attr\">---------- Forwarded message ---------<br>From: Dispatch &lt;ed@example.com&gt;<br>Subject: Spring<br></div><br><div>Spring issue body</div></div>",
        );
        assert_eq!(html_reply_text(&forward).text, "Spring issue body");
        // Text of the reader wins over the quote.
        let reply = html_page(
            "<div>Yes.</div><div class=\"gmail_quote\"><blockquote class=\"gmail_quote\">Spring issue</blockquote></div>",
        );
        assert_eq!(html_reply_text(&reply).text, "Yes.");
    }

    #[test]
    fn tells_html_bodies_from_text() {
        for html in [
            "<!DOCTYPE html><html><body>x</body></html>",
            "\u{feff}\n  <html>x</html>",
            "<div dir=\"ltr\">Hi</div>",
            "<p>Hi</p>",
            "<!-- generated --><div>x</div>",
            "<META http-equiv=Content-Type content=\"text/html\"><p>x</p>",
        ] {
            assert!(looks_like_html(html), "{html}");
        }
        for text in [
            "Hi Ann, <b> is bold.",
            "<https://example.org/> is the link.",
            "<ann@example.org> wrote this",
            "<a@example.org> wrote this",
            "> quoted\nanswer",
            "",
        ] {
            assert!(!looks_like_html(text), "{text}");
        }
    }

    #[test]
    fn nested_quote_containers_stay_fast() {
        let depth = 20_000;
        let html = format!(
            "<p>Hi.</p>{}{}",
            "<div class=\"gmail_quote\"><blockquote class=\"gmail_quote\">q</blockquote>"
                .repeat(depth),
            "</div>".repeat(depth)
        );
        let start = std::time::Instant::now();
        let (kept, _) = strip_marked_parts(&html, true);
        assert!(kept.starts_with("<p>Hi.</p>"), "{}", &kept[..40]);
        assert!(!kept.contains("blockquote"));
        // Bounded work, not a timing target: a quadratic scan would take minutes here.
        assert!(start.elapsed().as_secs() < 30);
    }

    #[test]
    fn html_removes_a_blockquote_after_the_text_only() {
        assert_html_reply(
            "<p>Count me in for the meetup.</p><blockquote><p>Spring issue</p></blockquote>",
        );
        // A quote before any text of the reader is kept (as "> " lines).
        assert_eq!(
            html_text(&html_page(
                "<blockquote>Meetup on Saturday?</blockquote><p>Yes.</p>"
            )),
            "> Meetup on Saturday?\n\nYes."
        );
    }

    #[test]
    fn html_renders_links_without_wrapping() {
        let long = format!("https://example.org/{}", "segment/".repeat(20));
        let html = html_page(&format!(
            "<p>See <a href=\"{long}\">my notes</a>, <a href=\"https://example.org/x\">https://example.org/x</a> and <a href=\"mailto:ann@example.org?subject=hi\">ann@example.org</a>. <a href=\"#top\">Top</a></p><p>{}</p>",
            "word ".repeat(60).trim_end()
        ));
        let text = html_text(&html);
        assert_eq!(
            text,
            format!(
                "See my notes <{long}>, https://example.org/x and ann@example.org. Top\n\n{}",
                "word ".repeat(60).trim_end()
            )
        );
    }

    #[test]
    fn html_tables_have_no_borders() {
        let text = html_text(&html_page(
            "<p>Times:</p><table border=1><tr><td>Saturday</td><td>10:00</td></tr></table>",
        ));
        assert!(!text.contains(['|', '─', '│', '+']), "{text}");
        assert!(
            text.contains("Saturday") && text.contains("10:00"),
            "{text}"
        );
    }

    #[test]
    fn html_scanner_survives_malformed_markup() {
        assert_html_reply(
            "<div>Count me in for the meetup.<div class=\"gmail_quote\">On … wrote:<blockquote>never closed",
        );
        assert_html_reply(
            "<!-- <div class=\"gmail_quote\"> --><p>Count me in for the meetup.</p><script>var s = '<div class=\"gmail_quote\">';</script>",
        );
        assert_eq!(html_text("1 < 2 and 3 > 2 <"), "1 < 2 and 3 > 2 <");
        assert_eq!(html_text("<div class=\"gmail_quote"), "");
        assert_eq!(html_text(""), "");
        let _ = html_text("<<<>>><a href='x>y'>z</a><div id=divRplyFwdMsg");
    }

    #[test]
    fn deep_nesting_is_flattened_and_keeps_its_text() {
        let depth = 20_000;
        let html = format!(
            "<p>Hi.</p>{}Deep text.{}<p>Bye.</p>",
            "<div><span>".repeat(depth),
            "</span></div>".repeat(depth)
        );
        let (flat, flattened) = limit_depth(&html);
        assert!(flattened);
        assert_eq!(
            flat.matches("<div>").count() + flat.matches("<span>").count(),
            MAX_HTML_DEPTH
        );
        assert_eq!(
            flat.matches("</div>").count() + flat.matches("</span>").count(),
            MAX_HTML_DEPTH
        );
        let converted = html_to_text(&html);
        assert_eq!(converted.text, "Hi.\n\nDeep text.\n\nBye.");
        assert_eq!(
            converted.notes,
            vec![format!(
                "[…markup nested deeper than {MAX_HTML_DEPTH} levels was flattened]"
            )]
        );
        // Ordinary markup, unclosed paragraphs and list items included, is left alone.
        let ordinary = format!("<div><ul>{}</ul></div>", "<li><p>item".repeat(1_000));
        assert_eq!(limit_depth(&ordinary), (ordinary.clone(), false));
    }

    #[test]
    fn a_body_over_the_size_limit_is_cut_with_a_note() {
        let filler = "<p>Filler words for a very long reply.</p>";
        let html = format!(
            "<p>Start.</p>{}<p>END-MARKER</p>",
            filler.repeat(MAX_HTML_BYTES / filler.len() + 10)
        );
        let converted = html_to_text(&html);
        assert!(converted.text.starts_with("Start."));
        assert!(!converted.text.contains("END-MARKER"));
        assert_eq!(
            converted.notes,
            vec!["[…the rest of this message was cut: over 1 MB of HTML]".to_string()]
        );
        // Cut inside a tag: the half tag is dropped, not shown.
        let long = format!(
            "{}<a href=\"https://example.org/\">x</a>",
            "é".repeat(MAX_HTML_BYTES / 2 - 5)
        );
        let (cut, was_cut) = cap_size(&long);
        assert!(was_cut && cut.ends_with('é'), "{}", &cut[cut.len() - 20..]);
        // Cut inside a quote that is removed anyway: nothing of the reader's is lost.
        let quoted = format!(
            "<p>Start.</p><div class=\"gmail_quote\">{}</div>",
            filler.repeat(MAX_HTML_BYTES / filler.len() + 10)
        );
        let converted = html_to_text(&quoted);
        assert_eq!(reply_text(&converted.text), "Start.");
        assert!(converted.notes.is_empty(), "{:?}", converted.notes);
    }

    #[test]
    fn html_then_reply_text_gives_the_reader_text() {
        // HTML without client markup: the plain-text rules still find the header.
        let html = html_page(
            "<p>Count me in for the meetup.</p><p>On Mon, Jan 6, 2025 at 9:00 AM Dispatch &lt;editor@news.example.com&gt; wrote:</p><p>Spring issue</p>",
        );
        assert_eq!(reply_text(&html_text(&html)), HTML_REPLY);
    }
}
