//! Markdown to HTML: a plain body for the web archive and a fully inlined one for email.
//!
//! The email body is styled while it is written, from the event stream, so no HTML is ever
//! parsed back. Elements get the stylesheet's rule for their tag (see [`Stylesheet`]); a few
//! are looked up with a class, and keep that class so the head's `@media` rules reach them:
//! `code.code-block` (code inside `pre`), `sup.footnote-reference`,
//! `div.footnote-definition` and `sup.footnote-definition-label`.

use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{
    Alignment, CowStr, Event, HeadingLevel, LinkType, OffsetIter, Options, Parser, Tag, TagEnd,
    html,
};

use super::css::Stylesheet;

/// Tables, strikethrough, footnotes and smart punctuation; heading attributes stay off so
/// `# Title {#id}` reads as text.
pub const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_FOOTNOTES)
    .union(Options::ENABLE_SMART_PUNCTUATION);

/// The Markdown parser with the options every rendering uses.
///
/// Smart punctuation in this raw parser also applies inside bare URLs written as text
/// (`https://example.com/a--b` would gain an en dash); [`events`] undoes that, and every
/// rendering here goes through it.
pub fn parser(md: &str) -> Parser<'_> {
    Parser::new_ext(md, OPTIONS)
}

/// The events of [`parser`] with their source ranges, with smart punctuation reverted
/// inside bare URLs so they stay usable.
pub fn events(md: &str) -> Events<'_> {
    Events {
        inner: parser(md).into_offset_iter(),
        md,
        urls: bare_url_spans(md),
    }
}

/// Iterator returned by [`events`].
pub struct Events<'a> {
    inner: OffsetIter<'a>,
    md: &'a str,
    /// Sorted, non-overlapping byte ranges of bare URLs in the source.
    urls: Vec<Range<usize>>,
}

impl<'a> Iterator for Events<'a> {
    type Item = (Event<'a>, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let (event, range) = self.inner.next()?;
        if let Event::Text(text) = &event
            && is_smart_replacement(text)
            && in_spans(&self.urls, range.start)
            && let Some(source) = self.md.get(range.clone())
        {
            return Some((Event::Text(CowStr::Borrowed(source)), range));
        }
        Some((event, range))
    }
}

/// The events for rendering, without source ranges. When no bare URL could have been
/// touched by smart punctuation (the usual case: URLs sit in link destinations, which it
/// never touches) this is the parser itself, skipping the cost of tracking offsets.
pub(super) fn event_stream(md: &str) -> EventStream<'_> {
    let urls = bare_url_spans(md);
    let touched = urls.iter().any(|span| {
        let url = &md.as_bytes()[span.clone()];
        url.contains(&b'\'')
            || url.contains(&b'"')
            || url.windows(2).any(|w| w == b"--" || w == b"..")
    });
    if touched {
        EventStream::Guarded(Events {
            inner: parser(md).into_offset_iter(),
            md,
            urls,
        })
    } else {
        EventStream::Plain(parser(md))
    }
}

/// Iterator returned by [`event_stream`].
pub(super) enum EventStream<'a> {
    Plain(Parser<'a>),
    Guarded(Events<'a>),
}

impl<'a> Iterator for EventStream<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        match self {
            EventStream::Plain(parser) => parser.next(),
            EventStream::Guarded(events) => events.next().map(|(event, _)| event),
        }
    }
}

/// Smart punctuation comes out as a separate text event holding only the replacement.
fn is_smart_replacement(text: &str) -> bool {
    matches!(
        text,
        "\u{2013}" | "\u{2014}" | "\u{2026}" | "\u{2018}" | "\u{2019}" | "\u{201c}" | "\u{201d}"
    )
}

fn in_spans(spans: &[Range<usize>], pos: usize) -> bool {
    let i = spans.partition_point(|s| s.start <= pos);
    i > 0 && spans[i - 1].contains(&pos)
}

/// Byte ranges of things that look like URLs (`scheme://…`, `www.…`, `mailto:…`), ended at
/// whitespace or `<` and stripped of trailing punctuation the way GFM autolinks are.
fn bare_url_spans(md: &str) -> Vec<Range<usize>> {
    let bytes = md.as_bytes();
    // Every URL form has a `:` or a `.` at a known place; both are found with memchr.
    let mut starts: Vec<usize> = md
        .match_indices(':')
        .chain(md.match_indices('.'))
        .filter_map(|(i, _)| match bytes[i] {
            b':' if bytes[i + 1..].starts_with(b"//") => {
                let scheme = bytes[..i]
                    .iter()
                    .rev()
                    .take_while(|b| b.is_ascii_alphanumeric() || b"+.-".contains(b))
                    .count();
                (scheme > 0).then(|| i - scheme)
            }
            b':' if bytes[..i].ends_with(b"mailto") => Some(i - 6),
            b'.' if bytes[..i].ends_with(b"www") => Some(i - 3),
            _ => None,
        })
        .collect();
    starts.sort_unstable();
    let mut spans: Vec<Range<usize>> = Vec::with_capacity(starts.len());
    for start in starts {
        if spans.last().is_some_and(|last| last.end > start) {
            continue;
        }
        let len = bytes[start..]
            .iter()
            .take_while(|b| !b.is_ascii_whitespace() && **b != b'<')
            .count();
        let mut end = start + len;
        while end > start && b"?!.,:*_~'\")".contains(&bytes[end - 1]) {
            end -= 1;
        }
        spans.push(start..end);
    }
    spans
}

/// The web archive's HTML: what pulldown-cmark writes, with our options.
pub fn to_web_html(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + md.len() / 2);
    html::push_html(&mut out, event_stream(md));
    out
}

/// The email body: every element carries its stylesheet rule in a `style` attribute.
pub fn to_email_html(md: &str, css: &Stylesheet) -> String {
    email_html_from_events(event_stream(md), css, md.len())
}

/// The three renderings of one issue's Markdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub web_html: String,
    pub email_html: String,
    pub text: String,
}

/// [`to_web_html`], [`to_email_html`] and [`to_plain_text`](super::text::to_plain_text) at
/// once, parsing the Markdown a single time: parsing is the larger part of each.
pub fn render_all(md: &str, css: &Stylesheet, text_width: usize) -> Rendered {
    let parsed: Vec<Event<'_>> = event_stream(md).collect();
    let mut web_html = String::with_capacity(md.len() + md.len() / 2);
    html::push_html(&mut web_html, parsed.iter().cloned());
    Rendered {
        web_html,
        email_html: email_html_from_events(parsed.iter().cloned(), css, md.len()),
        text: super::text::plain_text_from_events(parsed.into_iter(), text_width, md.len()),
    }
}

fn email_html_from_events<'a>(
    events: impl Iterator<Item = Event<'a>>,
    css: &Stylesheet,
    md_len: usize,
) -> String {
    let styles = EmailStyles::new(css);
    let mut writer = EmailWriter {
        out: String::with_capacity(md_len * 4),
        styles: &styles,
        in_head: false,
        alignments: Vec::new(),
        cell: 0,
        footnotes: HashMap::new(),
        pending_label: None,
        in_metadata: false,
    };
    writer.run(events);
    writer.out
}

/// What [`outline`] reports about an issue, for checks and defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// (line, src) of each image with an empty or missing alt text.
    pub images_without_alt: Vec<(usize, String)>,
    /// (line, url) of each link in order; email autolinks come as `mailto:` URLs.
    pub links: Vec<(usize, String)>,
    /// Plain text of the first top-level paragraph that has any: a default preheader.
    pub first_paragraph_text: String,
}

/// Lists images without alt text and links, with 1-based line numbers in `md`.
pub fn outline(md: &str) -> Outline {
    let lines = LineIndex::new(md);
    let mut outline = Outline::default();
    let mut depth = 0usize;
    let mut image: Option<(usize, String, String)> = None;
    let mut paragraph: Option<String> = None;
    for (event, range) in events(md) {
        // Depth counts open tags: a top-level paragraph starts at depth 0 and ends back at 0.
        let at_top = depth == 0;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Start(Tag::Image { dest_url, .. }) => {
                image = Some((
                    lines.line_of(range.start),
                    dest_url.into_string(),
                    String::new(),
                ));
            }
            Event::End(TagEnd::Image) => {
                if let Some((line, src, alt)) = image.take()
                    && alt.trim().is_empty()
                {
                    outline.images_without_alt.push((line, src));
                }
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => {
                let url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.into_string(),
                };
                outline.links.push((lines.line_of(range.start), url));
            }
            Event::Start(Tag::Paragraph) if at_top && outline.first_paragraph_text.is_empty() => {
                paragraph = Some(String::new());
            }
            Event::End(TagEnd::Paragraph) if depth == 0 => {
                if let Some(text) = paragraph.take() {
                    outline.first_paragraph_text = collapse_spaces(&text);
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, _, alt)) = &mut image {
                    alt.push_str(&text);
                } else if let Some(p) = &mut paragraph {
                    p.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(p) = &mut paragraph {
                    p.push(' ');
                }
            }
            _ => {}
        }
    }
    outline
}

/// Byte offset to 1-based line number.
struct LineIndex {
    /// Offsets just past each newline.
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        LineIndex {
            starts: text.match_indices('\n').map(|(i, _)| i + 1).collect(),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) + 1
    }
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------
// Email HTML

/// The styles of every element the email writer emits, looked up once per document.
struct EmailStyles<'s> {
    p: Option<&'s str>,
    headings: [Option<&'s str>; 6],
    a: Option<&'s str>,
    ul: Option<&'s str>,
    ol: Option<&'s str>,
    li: Option<&'s str>,
    blockquote: Option<&'s str>,
    code: Option<&'s str>,
    code_block: Option<&'s str>,
    pre: Option<&'s str>,
    table: Option<&'s str>,
    thead: Option<&'s str>,
    tbody: Option<&'s str>,
    tr: Option<&'s str>,
    /// Header and data cells by alignment: none, left, center, right.
    th: [Option<String>; 4],
    td: [Option<String>; 4],
    img: String,
    hr: Option<&'s str>,
    strong: Option<&'s str>,
    em: Option<&'s str>,
    del: Option<&'s str>,
    sup: Option<&'s str>,
    sub: Option<&'s str>,
    footnote_reference: Option<&'s str>,
    footnote_definition: Option<&'s str>,
    footnote_label: Option<&'s str>,
    dl: Option<&'s str>,
    dt: Option<&'s str>,
    dd: Option<&'s str>,
}

/// Declarations every image gets, after the stylesheet's: images must never overflow a
/// narrow screen, and `display:block` removes the gap some clients leave under them.
const IMG_REQUIRED: &str = "max-width:100%;height:auto;display:block";

impl<'s> EmailStyles<'s> {
    fn new(css: &'s Stylesheet) -> Self {
        let tag = |t: &str| css.style_for(t, &[]);
        EmailStyles {
            p: tag("p"),
            headings: [
                tag("h1"),
                tag("h2"),
                tag("h3"),
                tag("h4"),
                tag("h5"),
                tag("h6"),
            ],
            a: tag("a"),
            ul: tag("ul"),
            ol: tag("ol"),
            li: tag("li"),
            blockquote: tag("blockquote"),
            code: tag("code"),
            code_block: css.style_for("code", &["code-block"]),
            pre: tag("pre"),
            table: tag("table"),
            thead: tag("thead"),
            tbody: tag("tbody"),
            tr: tag("tr"),
            th: aligned_cells(tag("th")),
            td: aligned_cells(tag("td")),
            img: append_style(tag("img"), IMG_REQUIRED),
            hr: tag("hr"),
            strong: tag("strong"),
            em: tag("em"),
            del: tag("del"),
            sup: tag("sup"),
            sub: tag("sub"),
            footnote_reference: css.style_for("sup", &["footnote-reference"]),
            footnote_definition: css.style_for("div", &["footnote-definition"]),
            footnote_label: css.style_for("sup", &["footnote-definition-label"]),
            dl: tag("dl"),
            dt: tag("dt"),
            dd: tag("dd"),
        }
    }

    fn heading(&self, level: HeadingLevel) -> Option<&'s str> {
        self.headings[level as usize - 1]
    }

    fn cell(&self, head: bool, alignment: Option<&Alignment>) -> Option<&str> {
        let i = match alignment {
            Some(Alignment::Left) => 1,
            Some(Alignment::Center) => 2,
            Some(Alignment::Right) => 3,
            Some(Alignment::None) | None => 0,
        };
        if head {
            self.th[i].as_deref()
        } else {
            self.td[i].as_deref()
        }
    }
}

/// A later declaration wins inside a `style` attribute, so appending is enough to override.
fn append_style(base: Option<&str>, extra: &str) -> String {
    match base {
        Some(base) => format!("{base};{extra}"),
        None => extra.to_owned(),
    }
}

fn aligned_cells(base: Option<&str>) -> [Option<String>; 4] {
    [
        base.map(str::to_owned),
        Some(append_style(base, "text-align:left")),
        Some(append_style(base, "text-align:center")),
        Some(append_style(base, "text-align:right")),
    ]
}

fn align_attribute(alignment: Option<&Alignment>) -> &'static str {
    match alignment {
        Some(Alignment::Left) => " align=\"left\"",
        Some(Alignment::Center) => " align=\"center\"",
        Some(Alignment::Right) => " align=\"right\"",
        Some(Alignment::None) | None => "",
    }
}

struct EmailWriter<'s> {
    out: String,
    styles: &'s EmailStyles<'s>,
    /// Inside the header row of a table: cells are `th`.
    in_head: bool,
    alignments: Vec<Alignment>,
    cell: usize,
    /// Footnote numbers by name, in order of first mention.
    footnotes: HashMap<String, usize>,
    /// A footnote number still to be written at the start of its definition's first paragraph.
    pending_label: Option<usize>,
    in_metadata: bool,
}

impl EmailWriter<'_> {
    fn run<'a>(&mut self, mut events: impl Iterator<Item = Event<'a>>) {
        while let Some(event) = events.next() {
            match event {
                Event::Start(Tag::Image {
                    dest_url, title, ..
                }) => {
                    let alt = plain_text_until_end(&mut events);
                    self.image(&dest_url, &title, &alt);
                }
                Event::Start(tag) => self.start(tag),
                Event::End(tag) => self.end(tag),
                Event::Text(text) if !self.in_metadata => escape_text(&mut self.out, &text),
                Event::Text(_) => {}
                Event::Code(text) => {
                    self.open("code", self.styles.code);
                    escape_text(&mut self.out, &text);
                    self.out.push_str("</code>");
                }
                Event::InlineMath(text) | Event::DisplayMath(text) => {
                    escape_text(&mut self.out, &text)
                }
                // Raw HTML is the editor's own: it goes out as written.
                Event::Html(html) | Event::InlineHtml(html) => self.out.push_str(&html),
                Event::SoftBreak => self.out.push('\n'),
                Event::HardBreak => self.out.push_str("<br />\n"),
                Event::Rule => {
                    self.block_start();
                    self.out.push_str("<hr");
                    self.style_attr(self.styles.hr);
                    self.out.push_str(" />\n");
                }
                Event::FootnoteReference(name) => self.footnote_reference(&name),
                Event::TaskListMarker(done) => {
                    self.out.push_str(if done { "[x] " } else { "[ ] " })
                }
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        // A footnote definition that does not open with a paragraph gets its number first.
        if !matches!(tag, Tag::Paragraph)
            && let Some(n) = self.pending_label.take()
        {
            self.footnote_label(n);
        }
        match tag {
            Tag::Paragraph => {
                self.block_start();
                self.open("p", self.styles.p);
                if let Some(n) = self.pending_label.take() {
                    self.footnote_label(n);
                }
            }
            Tag::Heading { level, .. } => {
                self.block_start();
                self.open(level_tag(level), self.styles.heading(level));
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.open("blockquote", self.styles.blockquote);
                self.out.push('\n');
            }
            Tag::CodeBlock(_) => {
                self.block_start();
                self.open("pre", self.styles.pre);
                self.open_with_class("code", "code-block", self.styles.code_block);
            }
            Tag::HtmlBlock => {}
            Tag::List(start) => self.list_start(start),
            Tag::Item => {
                self.block_start();
                self.open("li", self.styles.li);
            }
            Tag::FootnoteDefinition(name) => self.footnote_definition(&name),
            Tag::DefinitionList => self.block_open("dl", self.styles.dl),
            Tag::DefinitionListTitle => self.block_open("dt", self.styles.dt),
            Tag::DefinitionListDefinition => self.block_open("dd", self.styles.dd),
            Tag::Table(alignments) => {
                self.alignments = alignments;
                self.block_start();
                self.out
                    .push_str("<table cellpadding=\"0\" cellspacing=\"0\"");
                self.style_attr(self.styles.table);
                self.out.push('>');
            }
            Tag::TableHead => {
                self.in_head = true;
                self.cell = 0;
                self.open("thead", self.styles.thead);
                self.open("tr", self.styles.tr);
            }
            Tag::TableRow => {
                self.cell = 0;
                self.open("tr", self.styles.tr);
            }
            Tag::TableCell => self.cell_start(),
            Tag::Emphasis => self.open("em", self.styles.em),
            Tag::Strong => self.open("strong", self.styles.strong),
            Tag::Strikethrough => self.open("del", self.styles.del),
            Tag::Superscript => self.open("sup", self.styles.sup),
            Tag::Subscript => self.open("sub", self.styles.sub),
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => self.link_start(link_type, &dest_url, &title),
            Tag::Image {
                dest_url, title, ..
            } => self.image(&dest_url, &title, ""),
            Tag::MetadataBlock(_) => self.in_metadata = true,
        }
    }

    fn end(&mut self, tag: TagEnd) {
        let close = match tag {
            TagEnd::Paragraph => "</p>\n",
            TagEnd::Heading(level) => {
                self.out.push_str("</");
                self.out.push_str(level_tag(level));
                ">\n"
            }
            TagEnd::BlockQuote(_) => "</blockquote>\n",
            TagEnd::CodeBlock => "</code></pre>\n",
            TagEnd::List(true) => "</ol>\n",
            TagEnd::List(false) => "</ul>\n",
            TagEnd::Item => "</li>\n",
            TagEnd::FootnoteDefinition => {
                self.pending_label = None;
                "</div>\n"
            }
            TagEnd::DefinitionList => "</dl>\n",
            TagEnd::DefinitionListTitle => "</dt>\n",
            TagEnd::DefinitionListDefinition => "</dd>\n",
            TagEnd::Table => "</tbody></table>\n",
            TagEnd::TableHead => {
                self.in_head = false;
                self.out.push_str("</tr></thead>");
                self.open("tbody", self.styles.tbody);
                "\n"
            }
            TagEnd::TableRow => "</tr>\n",
            TagEnd::TableCell => {
                self.cell += 1;
                if self.in_head { "</th>" } else { "</td>" }
            }
            TagEnd::Emphasis => "</em>",
            TagEnd::Strong => "</strong>",
            TagEnd::Strikethrough => "</del>",
            TagEnd::Superscript => "</sup>",
            TagEnd::Subscript => "</sub>",
            TagEnd::Link => "</a>",
            TagEnd::HtmlBlock | TagEnd::Image => "",
            TagEnd::MetadataBlock(_) => {
                self.in_metadata = false;
                ""
            }
        };
        self.out.push_str(close);
    }

    /// Block elements start on a line of their own, which keeps the source readable.
    fn block_start(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn block_open(&mut self, tag: &str, style: Option<&str>) {
        self.block_start();
        self.open(tag, style);
    }

    fn open(&mut self, tag: &str, style: Option<&str>) {
        self.out.push('<');
        self.out.push_str(tag);
        self.style_attr(style);
        self.out.push('>');
    }

    fn open_with_class(&mut self, tag: &str, class: &str, style: Option<&str>) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push_str(" class=\"");
        self.out.push_str(class);
        self.out.push('"');
        self.style_attr(style);
        self.out.push('>');
    }

    /// Stylesheet declarations are attribute-safe already (see the css module).
    fn style_attr(&mut self, style: Option<&str>) {
        if let Some(style) = style {
            self.out.push_str(" style=\"");
            self.out.push_str(style);
            self.out.push('"');
        }
    }

    fn list_start(&mut self, start: Option<u64>) {
        self.block_start();
        match start {
            None => self.open("ul", self.styles.ul),
            Some(1) => self.open("ol", self.styles.ol),
            Some(n) => {
                self.out.push_str("<ol start=\"");
                self.out.push_str(&n.to_string());
                self.out.push('"');
                self.style_attr(self.styles.ol);
                self.out.push('>');
            }
        }
        self.out.push('\n');
    }

    fn cell_start(&mut self) {
        let alignment = self.alignments.get(self.cell);
        self.out.push_str(if self.in_head { "<th" } else { "<td" });
        self.out.push_str(align_attribute(alignment));
        let style = self.styles.cell(self.in_head, alignment);
        if let Some(style) = style {
            self.out.push_str(" style=\"");
            self.out.push_str(style);
            self.out.push('"');
        }
        self.out.push('>');
    }

    fn link_start(&mut self, link_type: LinkType, dest_url: &str, title: &str) {
        self.out.push_str("<a href=\"");
        if link_type == LinkType::Email {
            self.out.push_str("mailto:");
        }
        escape_href(&mut self.out, dest_url);
        self.out.push('"');
        if !title.is_empty() {
            self.out.push_str(" title=\"");
            escape_attr(&mut self.out, title);
            self.out.push('"');
        }
        self.style_attr(self.styles.a);
        self.out.push('>');
    }

    /// Images always get an `alt` (empty when the Markdown has none, so screen readers skip
    /// them rather than reading the file name) and `border="0"` for old Outlook.
    fn image(&mut self, src: &str, title: &str, alt: &str) {
        self.out.push_str("<img src=\"");
        escape_href(&mut self.out, src);
        self.out.push_str("\" alt=\"");
        escape_attr(&mut self.out, alt);
        self.out.push('"');
        if !title.is_empty() {
            self.out.push_str(" title=\"");
            escape_attr(&mut self.out, title);
            self.out.push('"');
        }
        self.out.push_str(" border=\"0\" style=\"");
        self.out.push_str(&self.styles.img);
        self.out.push_str("\" />");
    }

    fn footnote_number(&mut self, name: &str) -> usize {
        let next = self.footnotes.len() + 1;
        *self.footnotes.entry(name.to_owned()).or_insert(next)
    }

    fn footnote_reference(&mut self, name: &str) {
        let n = self.footnote_number(name);
        self.open_with_class("sup", "footnote-reference", self.styles.footnote_reference);
        self.out.push_str("<a href=\"#");
        escape_attr(&mut self.out, name);
        self.out.push('"');
        self.style_attr(self.styles.a);
        self.out.push('>');
        self.out.push_str(&n.to_string());
        self.out.push_str("</a></sup>");
    }

    /// The number goes inside the definition's first paragraph rather than above it.
    fn footnote_definition(&mut self, name: &str) {
        let n = self.footnote_number(name);
        self.block_start();
        self.out
            .push_str("<div class=\"footnote-definition\" id=\"");
        escape_attr(&mut self.out, name);
        self.out.push('"');
        self.style_attr(self.styles.footnote_definition);
        self.out.push('>');
        self.pending_label = Some(n);
    }

    fn footnote_label(&mut self, n: usize) {
        self.open_with_class(
            "sup",
            "footnote-definition-label",
            self.styles.footnote_label,
        );
        self.out.push_str(&n.to_string());
        self.out.push_str("</sup> ");
    }
}

fn level_tag(level: HeadingLevel) -> &'static str {
    match level {
        HeadingLevel::H1 => "h1",
        HeadingLevel::H2 => "h2",
        HeadingLevel::H3 => "h3",
        HeadingLevel::H4 => "h4",
        HeadingLevel::H5 => "h5",
        HeadingLevel::H6 => "h6",
    }
}

/// Collects the text of the events up to the end of the current tag (an image's alt text).
fn plain_text_until_end<'a>(events: &mut impl Iterator<Item = Event<'a>>) -> String {
    let mut text = String::new();
    let mut nesting = 0usize;
    for event in events.by_ref() {
        match event {
            Event::Start(_) => nesting += 1,
            Event::End(_) if nesting == 0 => break,
            Event::End(_) => nesting -= 1,
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                text.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            _ => {}
        }
    }
    text
}

// ---------------------------------------------------------------------------------------
// Escaping, with the same rules as pulldown-cmark's own HTML writer (its escape functions
// are not part of its public API).

/// Text content: `&`, `<` and `>`.
fn escape_text(out: &mut String, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        _ => None,
    });
}

/// Quoted attribute values: text escapes plus both quotes.
fn escape_attr(out: &mut String, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&#39;"),
        _ => None,
    });
}

fn escape_with(out: &mut String, s: &str, escape: impl Fn(u8) -> Option<&'static str>) {
    let mut copied = 0;
    for (i, b) in s.bytes().enumerate() {
        if let Some(replacement) = escape(b) {
            out.push_str(&s[copied..i]);
            out.push_str(replacement);
            copied = i + 1;
        }
    }
    out.push_str(&s[copied..]);
}

/// URLs: bytes outside the URL-safe set are percent-encoded; `&` and `'` become entities.
fn escape_href(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut copied = 0;
    for (i, b) in s.bytes().enumerate() {
        if is_href_safe(b) {
            continue;
        }
        // Every byte of a multi-byte character is escaped, so `copied` only lands
        // between characters when a safe byte follows.
        if copied < i {
            out.push_str(&s[copied..i]);
        }
        match b {
            b'&' => out.push_str("&amp;"),
            b'\'' => out.push_str("&#x27;"),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xF)]));
            }
        }
        copied = i + 1;
    }
    out.push_str(&s[copied..]);
}

fn is_href_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%()*+,-./:;=?@^_~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSS: &str = "
        p { margin: 0 0 16px }
        h1 { font-size: 28px }
        h2 { font-size: 22px }
        a { color: #c2410c }
        strong { font-weight: 700 }
        em { font-style: italic }
        del { color: gray }
        ul, ol { padding-left: 24px }
        li { margin: 0 0 6px }
        blockquote { border-left: 4px solid #c2410c }
        code { background: #eee }
        code.code-block { background: none }
        pre { padding: 12px }
        table { border-collapse: collapse }
        th { font-weight: 700 }
        td { border-bottom: 1px solid #ddd }
        img { width: 100% }
        hr { border-top: 1px solid #ddd }
        sup.footnote-reference { font-size: 12px }
        .footnote-definition { color: gray }
    ";

    fn email(md: &str) -> String {
        match Stylesheet::parse(CSS) {
            Ok(css) => to_email_html(md, &css),
            Err(e) => panic!("test stylesheet: {e}"),
        }
    }

    #[test]
    fn web_html_is_plain() {
        assert_eq!(
            to_web_html("# Hi\n\nSome *text* -- \"here\"."),
            "<h1>Hi</h1>\n<p>Some <em>text</em> – “here”.</p>\n"
        );
    }

    #[test]
    fn heading_attributes_stay_text() {
        assert_eq!(
            to_web_html("## Title {#custom}"),
            "<h2>Title {#custom}</h2>\n"
        );
    }

    #[test]
    fn email_headings() {
        assert_eq!(
            email("# Title\n\n## Part\n\n### Small"),
            "<h1 style=\"font-size:28px\">Title</h1>\n<h2 style=\"font-size:22px\">Part</h2>\n<h3>Small</h3>\n"
        );
    }

    #[test]
    fn email_emphasis() {
        assert_eq!(
            email("*a* **b** ~~c~~"),
            "<p style=\"margin:0 0 16px\"><em style=\"font-style:italic\">a</em> \
             <strong style=\"font-weight:700\">b</strong> <del style=\"color:gray\">c</del></p>\n"
        );
    }

    #[test]
    fn email_links_are_escaped() {
        assert_eq!(
            email("[it's \"here\"](https://example.com/?a=1&b=it's \"T & C\")"),
            "<p style=\"margin:0 0 16px\"><a href=\"https://example.com/?a=1&amp;b=it&#x27;s\" title=\"T &amp; C\" \
             style=\"color:#c2410c\">it’s “here”</a></p>\n"
        );
    }

    #[test]
    fn email_autolinks() {
        assert_eq!(
            email("<https://example.com/a--b> <me@example.com>"),
            "<p style=\"margin:0 0 16px\"><a href=\"https://example.com/a--b\" style=\"color:#c2410c\">https://example.com/a--b</a> \
             <a href=\"mailto:me@example.com\" style=\"color:#c2410c\">me@example.com</a></p>\n"
        );
    }

    #[test]
    fn email_nested_lists() {
        assert_eq!(
            email("- a\n  - b\n- c"),
            "<ul style=\"padding-left:24px\">\n<li style=\"margin:0 0 6px\">a\n<ul style=\"padding-left:24px\">\n\
             <li style=\"margin:0 0 6px\">b</li>\n</ul>\n</li>\n<li style=\"margin:0 0 6px\">c</li>\n</ul>\n"
        );
    }

    #[test]
    fn email_ordered_list_keeps_its_start() {
        assert_eq!(
            email("3. three\n4. four"),
            "<ol start=\"3\" style=\"padding-left:24px\">\n<li style=\"margin:0 0 6px\">three</li>\n\
             <li style=\"margin:0 0 6px\">four</li>\n</ol>\n"
        );
    }

    #[test]
    fn email_blockquote_with_list() {
        assert_eq!(
            email("> Note:\n>\n> - one"),
            "<blockquote style=\"border-left:4px solid #c2410c\">\n<p style=\"margin:0 0 16px\">Note:</p>\n\
             <ul style=\"padding-left:24px\">\n<li style=\"margin:0 0 6px\">one</li>\n</ul>\n</blockquote>\n"
        );
    }

    #[test]
    fn email_inline_code_is_escaped_and_not_smartened() {
        assert_eq!(
            email("Run `a<b && \"c\" -- d`."),
            "<p style=\"margin:0 0 16px\">Run <code style=\"background:#eee\">a&lt;b &amp;&amp; \"c\" -- d</code>.</p>\n"
        );
    }

    #[test]
    fn email_code_block_uses_the_code_block_class() {
        assert_eq!(
            email("```rust\nlet x = \"a\" < 'b';\n```"),
            "<pre style=\"padding:12px\"><code class=\"code-block\" style=\"background:none\">\
             let x = \"a\" &lt; 'b';\n</code></pre>\n"
        );
    }

    #[test]
    fn email_table_with_alignment() {
        assert_eq!(
            email("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |"),
            "<table cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse\"><thead><tr>\
             <th align=\"left\" style=\"font-weight:700;text-align:left\">a</th>\
             <th align=\"center\" style=\"font-weight:700;text-align:center\">b</th>\
             <th align=\"right\" style=\"font-weight:700;text-align:right\">c</th></tr></thead><tbody>\n\
             <tr><td align=\"left\" style=\"border-bottom:1px solid #ddd;text-align:left\">1</td>\
             <td align=\"center\" style=\"border-bottom:1px solid #ddd;text-align:center\">2</td>\
             <td align=\"right\" style=\"border-bottom:1px solid #ddd;text-align:right\">3</td></tr>\n</tbody></table>\n"
        );
    }

    #[test]
    fn email_table_without_alignment() {
        assert_eq!(
            email("| a |\n|---|\n| 1 |"),
            "<table cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse\"><thead><tr>\
             <th style=\"font-weight:700\">a</th></tr></thead><tbody>\n\
             <tr><td style=\"border-bottom:1px solid #ddd\">1</td></tr>\n</tbody></table>\n"
        );
    }

    #[test]
    fn email_images_always_have_alt() {
        assert_eq!(
            email("![Fish & chips < 3](cat.png \"Title\") ![](dog.png)"),
            "<p style=\"margin:0 0 16px\"><img src=\"cat.png\" alt=\"Fish &amp; chips &lt; 3\" title=\"Title\" border=\"0\" \
             style=\"width:100%;max-width:100%;height:auto;display:block\" /> \
             <img src=\"dog.png\" alt=\"\" border=\"0\" style=\"width:100%;max-width:100%;height:auto;display:block\" /></p>\n"
        );
    }

    #[test]
    fn email_footnotes() {
        assert_eq!(
            email("Text[^a].\n\n[^a]: The *note*."),
            "<p style=\"margin:0 0 16px\">Text<sup class=\"footnote-reference\" style=\"font-size:12px\">\
             <a href=\"#a\" style=\"color:#c2410c\">1</a></sup>.</p>\n\
             <div class=\"footnote-definition\" id=\"a\" style=\"color:gray\">\n<p style=\"margin:0 0 16px\">\
             <sup class=\"footnote-definition-label\">1</sup> The <em style=\"font-style:italic\">note</em>.</p>\n</div>\n"
        );
    }

    #[test]
    fn email_rule() {
        assert_eq!(
            email("a\n\n---\n\nb"),
            "<p style=\"margin:0 0 16px\">a</p>\n<hr style=\"border-top:1px solid #ddd\" />\n<p style=\"margin:0 0 16px\">b</p>\n"
        );
    }

    #[test]
    fn email_raw_html_passes_through() {
        assert_eq!(
            email("<div align=\"center\">Hi &amp; bye</div>\n\nA <b>bold</b> move."),
            "<div align=\"center\">Hi &amp; bye</div>\n<p style=\"margin:0 0 16px\">A <b>bold</b> move.</p>\n"
        );
    }

    #[test]
    fn smart_punctuation_spares_urls_and_code() {
        assert_eq!(
            email("\"Don't\" -- see https://example.com/a--b/it's...x... and `--`."),
            "<p style=\"margin:0 0 16px\">“Don’t” – see https://example.com/a--b/it's...x… and \
             <code style=\"background:#eee\">--</code>.</p>\n"
        );
    }

    #[test]
    fn email_non_ascii_urls_are_percent_encoded() {
        assert_eq!(
            email("[x](https://例え.jp/ü?q=a b)"),
            "<p style=\"margin:0 0 16px\">[x](https://例え.jp/ü?q=a b)</p>\n"
        );
        assert_eq!(
            email("[x](<https://例え.jp/ü?q=a b>)"),
            "<p style=\"margin:0 0 16px\"><a href=\"https://%E4%BE%8B%E3%81%88.jp/%C3%BC?q=a%20b\" \
             style=\"color:#c2410c\">x</a></p>\n"
        );
    }

    #[test]
    fn email_text_is_escaped() {
        assert_eq!(
            email("1 < 2 & 3 > 2"),
            "<p style=\"margin:0 0 16px\">1 &lt; 2 &amp; 3 &gt; 2</p>\n"
        );
    }

    #[test]
    fn email_cjk_and_emoji() {
        assert_eq!(
            email("日本語のテキスト 🎉 ok"),
            "<p style=\"margin:0 0 16px\">日本語のテキスト 🎉 ok</p>\n"
        );
    }

    #[test]
    fn email_without_rules_has_no_style_attributes() {
        let css = Stylesheet::parse("").ok();
        let html = css.map(|css| to_email_html("Hi *there*", &css));
        assert_eq!(html.as_deref(), Some("<p>Hi <em>there</em></p>\n"));
    }

    #[test]
    fn outline_reports_lines() {
        let md = "# Title\n\n![](a.png) ![ok](b.png)\n\nFirst *real* paragraph,\nwith [a link](https://x.org/1).\n\n\
                  Second <https://x.org/2> and <me@x.org>.\n\n![  ](c.png)\n";
        assert_eq!(
            outline(md),
            Outline {
                images_without_alt: vec![(3, "a.png".into()), (10, "c.png".into())],
                links: vec![
                    (6, "https://x.org/1".into()),
                    (8, "https://x.org/2".into()),
                    (8, "mailto:me@x.org".into())
                ],
                first_paragraph_text: "First real paragraph, with a link.".into(),
            }
        );
    }

    #[test]
    fn outline_first_paragraph_skips_nested_ones() {
        let md = "> quoted\n\n- item\n\n  para in item\n\nTop `level`.";
        assert_eq!(outline(md).first_paragraph_text, "Top level.");
    }
}
