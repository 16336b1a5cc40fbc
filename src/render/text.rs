//! Markdown to the plain-text alternative of an issue, written straight from the Markdown
//! events so that it reads like a classic plain-text newsletter:
//!
//! - H1 and H2 are underlined with `=` and `-` to the heading's width; H3 and below are set
//!   in capitals. Every block is separated by one blank line.
//! - Paragraphs are wrapped at `width` columns on spaces (and between CJK characters).
//!   URLs, inline code and words longer than the line are never broken: they overflow.
//!   Widths are display columns (`unicode-width`): CJK and emoji count two, an emoji
//!   sequence (skin tone, ZWJ family) counts as one glyph, combining marks none.
//! - Lists use `  • ` and `  1. ` with hanging indents; nested lists indent further.
//!   Block quotes prefix every line with `> ` per level. Code blocks are indented four
//!   spaces and never wrapped.
//! - Emphasis and strong emphasis become plain text; strikethrough keeps `~~` around the
//!   text, since dropping it would change the meaning. Inline code is written bare.
//! - Links become `text [1]` with a `Links:` list at the end (one number per URL); a link
//!   whose text is its URL is written once, as the URL. Images become `[Image: alt]`.
//! - Footnotes are marked with superscript numbers (`¹`, distinct from link numbers) and
//!   listed under `Notes:` before the links.
//! - Tables become aligned columns under a dashed rule; a table too wide for the line
//!   falls back to one `cell | cell` line per row.
//! - Raw HTML is reduced to its text by html5ever's tokenizer, with `<br>`, `<img alt>` and
//!   `<a href>` understood, every HTML5 entity decoded, and `<script>`/`<style>` dropped.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    CharacterTokens, EndTag, StartTag, TagToken, Token, TokenSink, TokenSinkResult,
};

use pulldown_cmark::{Alignment, Event, HeadingLevel, LinkType, Tag, TagEnd};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::markdown::event_stream;

/// Wraps plain text (not Markdown) at `width` characters on spaces, keeping its line breaks;
/// a word longer than the width (a URL) stays whole on its own line.
pub fn wrap_words(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width.max(1));
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let mut column = 0;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let len = word.chars().count();
            if column > 0 && column + 1 + len > width {
                out.push('\n');
                column = 0;
            } else if column > 0 {
                out.push(' ');
                column += 1;
            }
            out.push_str(word);
            column += len;
        }
    }
    out
}

/// Renders Markdown as wrapped plain text; `width` 0 means no wrapping. The result has no
/// trailing newline, so a template line holding it keeps its own spacing.
pub fn to_plain_text(md: &str, width: usize) -> String {
    plain_text_from_events(event_stream(md), width, md.len())
}

/// [`to_plain_text`] from already parsed events (see `markdown::render_all`).
/// `capacity` is a guess at the output size: the Markdown's length does well.
pub(super) fn plain_text_from_events<'a>(
    events: impl Iterator<Item = Event<'a>>,
    width: usize,
    capacity: usize,
) -> String {
    let mut writer = TextWriter::new(width, capacity);
    let mut events = events.peekable();
    while let Some(event) = events.next() {
        if let Event::Start(Tag::Item) = event {
            // Items of a loose list open with a paragraph; tight ones with their text.
            let loose = matches!(events.peek(), Some(Event::Start(Tag::Paragraph)));
            writer.item_start(loose);
        } else {
            writer.event(event);
        }
    }
    writer.finish()
}

// ---------------------------------------------------------------------------------------
// Inline text and wrapping

/// How a segment attaches to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// Part of the same unbreakable run.
    Glue,
    /// A line may break here; nothing is written if it does not.
    Break,
    /// A space, or a line break.
    Space,
    /// A forced line break.
    Line,
}

/// An unbreakable run of text: `buf[start..end]` of its [`Inline`].
#[derive(Debug, Clone, Copy)]
struct Seg {
    start: usize,
    end: usize,
    width: usize,
    join: Join,
}

/// The inline content of one block, as segments to wrap. All text lives in one buffer,
/// reused from block to block, so wrapping allocates nothing per word.
#[derive(Debug)]
struct Inline {
    buf: String,
    segs: Vec<Seg>,
    /// How the next segment attaches.
    pending: Join,
}

impl Default for Inline {
    fn default() -> Self {
        Inline {
            buf: String::new(),
            segs: Vec::new(),
            pending: Join::Glue,
        }
    }
}

impl Inline {
    fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.segs.clear();
        self.pending = Join::Glue;
    }

    fn text(&self, seg: &Seg) -> &str {
        &self.buf[seg.start..seg.end]
    }

    /// Appends to the last segment, or to a new one when the pending join allows a break.
    fn append(&mut self, text: &str, width: usize) {
        let join = match self.pending {
            Join::Glue if !self.segs.is_empty() => None,
            Join::Glue => Some(Join::Break),
            other => Some(other),
        };
        if let Some(join) = join {
            let at = self.buf.len();
            self.segs.push(Seg {
                start: at,
                end: at,
                width: 0,
                join,
            });
        }
        self.pending = Join::Glue;
        self.buf.push_str(text);
        if let Some(last) = self.segs.last_mut() {
            last.end = self.buf.len();
            last.width += width;
        }
    }

    /// Text that may wrap at whitespace and between CJK characters.
    fn push_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let (c, len) = match bytes[i] {
                b if b.is_ascii() => (char::from(b), 1),
                _ => text[i..]
                    .chars()
                    .next()
                    .map_or((' ', 1), |c| (c, c.len_utf8())),
            };
            if is_breaking_space(c) {
                if self.pending != Join::Line {
                    self.pending = Join::Space;
                }
                i += len;
                continue;
            }
            let start = i;
            let mut ascii = true;
            while i < bytes.len() {
                let b = bytes[i];
                if b.is_ascii() {
                    if b.is_ascii_whitespace() {
                        break;
                    }
                    i += 1;
                } else {
                    let c = text[i..].chars().next().unwrap_or(' ');
                    if is_breaking_space(c) {
                        break;
                    }
                    ascii = false;
                    i += c.len_utf8();
                }
            }
            if ascii {
                self.push_ascii_word(&text[start..i]);
            } else {
                self.push_word(&text[start..i]);
            }
        }
    }

    /// The common case: one run, with no CJK inside.
    fn push_ascii_word(&mut self, word: &str) {
        if self.pending == Join::Break && word.starts_with(no_break_before) {
            self.pending = Join::Glue;
        }
        self.append(word, word.len());
    }

    fn push_word(&mut self, word: &str) {
        // Runs between CJK characters are measured whole, so that an emoji sequence (a skin
        // tone, a ZWJ family, a presentation selector) counts as the one glyph it draws.
        let mut run = String::new();
        for c in word.chars() {
            if is_breakable_wide(c) {
                self.push_run(&mut run);
                self.push_wide(c);
                continue;
            }
            if run.is_empty() && self.pending == Join::Break && no_break_before(c) {
                self.pending = Join::Glue;
            }
            // A no-break space holds words together but reads as a plain space.
            run.push(if is_non_breaking_space(c) { ' ' } else { c });
        }
        self.push_run(&mut run);
    }

    fn push_run(&mut self, run: &mut String) {
        if !run.is_empty() {
            self.append(run, str_width(run));
            run.clear();
        }
    }

    /// A CJK character: a line may break before and after it, except around punctuation.
    fn push_wide(&mut self, c: char) {
        let after_opening = self.buf.chars().next_back().is_some_and(is_opening);
        if matches!(self.pending, Join::Glue | Join::Break) && (no_break_before(c) || after_opening)
        {
            self.pending = Join::Glue;
        } else if self.pending == Join::Glue {
            self.pending = Join::Break;
        }
        self.append(c.encode_utf8(&mut [0; 4]), c.width().unwrap_or(0));
        self.pending = Join::Break;
    }

    /// Text that must never be broken (inline code, URLs).
    fn push_atom(&mut self, text: &str) {
        if self.pending == Join::Break {
            self.pending = Join::Glue;
        }
        self.append(text, str_width(text));
    }

    /// Text attached to what precedes it, whatever the spacing: a link or note number.
    fn glue(&mut self, text: &str) {
        let pending = std::mem::replace(&mut self.pending, Join::Glue);
        self.append(text, str_width(text));
        if pending != Join::Glue {
            self.pending = pending;
        }
    }

    fn hard_break(&mut self) {
        if !self.segs.is_empty() {
            self.pending = Join::Line;
        }
    }

    /// Greedy wrapping at `avail` columns; calls `emit` with each line.
    /// `line` is scratch space, reused between calls.
    fn wrap(&self, avail: usize, line: &mut String, mut emit: impl FnMut(&str)) {
        line.clear();
        let mut used = 0;
        for seg in &self.segs {
            if used > 0 || seg.join == Join::Line {
                let space = usize::from(seg.join == Join::Space);
                let fits = used + space + seg.width <= avail;
                if seg.join == Join::Line || !fits {
                    emit(line);
                    line.clear();
                    used = 0;
                } else if space == 1 {
                    line.push(' ');
                    used += 1;
                }
            }
            line.push_str(self.text(seg));
            used += seg.width;
        }
        if !line.is_empty() {
            emit(line);
        }
    }

    /// Everything on one line (table cells): breaks become spaces.
    fn single_line(&self) -> String {
        let mut line = String::with_capacity(self.buf.len() + self.segs.len());
        for (i, seg) in self.segs.iter().enumerate() {
            if i > 0 && matches!(seg.join, Join::Space | Join::Line) {
                line.push(' ');
            }
            line.push_str(self.text(seg));
        }
        line
    }
}

/// Display columns of a string in a monospace font (Unicode's East Asian Width, with emoji
/// sequences as one glyph): CJK and emoji count two, combining marks none.
fn str_width(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.width()
}

/// CJK scripts, which have no spaces: a line may break between two of their characters.
fn is_cjk(cp: u32) -> bool {
    matches!(cp,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

fn is_non_breaking_space(c: char) -> bool {
    matches!(c, '\u{a0}' | '\u{202f}' | '\u{2007}')
}

fn is_breaking_space(c: char) -> bool {
    c.is_whitespace() && !is_non_breaking_space(c)
}

/// CJK text has no spaces: a line may break between any two of these characters.
fn is_breakable_wide(c: char) -> bool {
    is_cjk(u32::from(c))
}

fn no_break_before(c: char) -> bool {
    "、。，．：；！？）」』】〉》〕］｝・ー々).,;:!?%]}’”".contains(c)
}

fn is_opening(c: char) -> bool {
    "（「『【〈《〔［｛([{‘“".contains(c)
}

fn superscript(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .bytes()
        .map(|b| DIGITS[usize::from(b - b'0')])
        .collect()
}

// ---------------------------------------------------------------------------------------
// Blocks

#[derive(Debug)]
enum Container {
    Quote,
    /// A list item or a footnote: `marker` on its first line, `indent` spaces on the rest.
    Item {
        marker: String,
        indent: usize,
        used: bool,
    },
}

#[derive(Debug)]
struct List {
    next: Option<u64>,
    tight: bool,
}

#[derive(Debug)]
struct LinkFrame {
    url: String,
    text: String,
    /// An autolink: its text is the URL, written once and never broken.
    verbatim: bool,
}

#[derive(Debug, Default)]
struct Table {
    alignments: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    head_rows: usize,
}

/// What a footnote definition sets aside while it renders into its own buffer.
#[derive(Debug)]
struct Saved {
    out: String,
    containers: Vec<Container>,
    lists: Vec<List>,
    needs_blank: bool,
    number: usize,
}

struct TextWriter {
    width: usize,
    out: String,
    /// Scratch space for wrapping.
    line: String,
    containers: Vec<Container>,
    lists: Vec<List>,
    inline: Inline,
    /// A blank line goes before the next block.
    needs_blank: bool,
    heading: Option<HeadingLevel>,
    code: Option<String>,
    html_block: Option<String>,
    image_alt: Option<String>,
    link_frames: Vec<LinkFrame>,
    links: Vec<String>,
    link_numbers: HashMap<String, usize>,
    table: Option<Table>,
    footnote_numbers: HashMap<String, usize>,
    notes: Vec<(usize, String)>,
    saved: Vec<Saved>,
    in_metadata: bool,
}

impl TextWriter {
    fn new(width: usize, capacity: usize) -> Self {
        TextWriter {
            width: if width == 0 { usize::MAX } else { width },
            out: String::with_capacity(capacity + capacity / 4),
            line: String::new(),
            containers: Vec::new(),
            lists: Vec::new(),
            inline: Inline::default(),
            needs_blank: false,
            heading: None,
            code: None,
            html_block: None,
            image_alt: None,
            link_frames: Vec::new(),
            links: Vec::new(),
            link_numbers: HashMap::new(),
            table: None,
            footnote_numbers: HashMap::new(),
            notes: Vec::new(),
            saved: Vec::new(),
            in_metadata: false,
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) | Event::InlineMath(code) | Event::DisplayMath(code) => {
                self.code_span(&code)
            }
            Event::Html(html) => {
                if let Some(block) = &mut self.html_block {
                    block.push_str(&html);
                }
            }
            Event::InlineHtml(html) => self.html(&html, false),
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.inline.hard_break(),
            Event::Rule => self.rule(),
            Event::FootnoteReference(name) => {
                let n = self.footnote_number(&name);
                self.inline.glue(&superscript(n));
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::DefinitionListTitle | Tag::DefinitionListDefinition => {
                self.flush()
            }
            Tag::Heading { level, .. } => {
                self.flush();
                self.heading = Some(level);
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.start_block();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.code = Some(String::new());
            }
            Tag::HtmlBlock => {
                self.flush();
                self.html_block = Some(String::new());
            }
            Tag::List(start) => self.list_start(start),
            // The event loop hands items to `item_start` itself, after peeking at the next event.
            Tag::Item => self.item_start(false),
            Tag::FootnoteDefinition(name) => self.footnote_start(&name),
            Tag::Table(alignments) => {
                self.flush();
                self.table = Some(Table {
                    alignments,
                    ..Table::default()
                });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.rows.push(Vec::new());
                }
            }
            Tag::Strikethrough => self.text("~~"),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let verbatim = matches!(link_type, LinkType::Autolink | LinkType::Email);
                self.link_frames.push(LinkFrame {
                    url: dest_url.into_string(),
                    text: String::new(),
                    verbatim,
                });
            }
            Tag::Image { .. } => self.image_alt = Some(String::new()),
            Tag::MetadataBlock(_) => self.in_metadata = true,
            Tag::TableCell
            | Tag::DefinitionList
            | Tag::Emphasis
            | Tag::Strong
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::DefinitionListTitle | TagEnd::DefinitionListDefinition => {
                self.flush()
            }
            TagEnd::Heading(level) => self.heading_end(level),
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.containers.pop();
                self.needs_blank = true;
            }
            TagEnd::CodeBlock => self.code_block_end(),
            TagEnd::HtmlBlock => {
                let html = self.html_block.take().unwrap_or_default();
                self.html(&html, true);
                self.flush();
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.needs_blank = true;
            }
            TagEnd::Item => self.item_end(),
            TagEnd::FootnoteDefinition => self.footnote_end(),
            TagEnd::Table => self.table_end(),
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.head_rows = table.rows.len();
                }
            }
            TagEnd::TableCell => {
                let cell = self.inline.single_line();
                self.inline.clear();
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::Strikethrough => self.text("~~"),
            TagEnd::Link => self.link_end(),
            TagEnd::Image => {
                let alt = self.image_alt.take().unwrap_or_default();
                self.image(alt.trim());
            }
            TagEnd::MetadataBlock(_) => self.in_metadata = false,
            TagEnd::TableRow
            | TagEnd::DefinitionList
            | TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Superscript
            | TagEnd::Subscript => {}
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_metadata {
            return;
        }
        if let Some(code) = &mut self.code {
            code.push_str(text);
            return;
        }
        if let Some(alt) = &mut self.image_alt {
            alt.push_str(text);
            return;
        }
        let verbatim = match self.link_frames.last_mut() {
            Some(frame) => {
                frame.text.push_str(text);
                frame.verbatim
            }
            None => false,
        };
        if verbatim {
            self.inline.push_atom(text);
        } else if self.heading.is_some_and(|l| l >= HeadingLevel::H3) {
            self.inline.push_text(&text.to_uppercase());
        } else {
            self.inline.push_text(text);
        }
    }

    fn code_span(&mut self, code: &str) {
        if let Some(alt) = &mut self.image_alt {
            alt.push_str(code);
            return;
        }
        if let Some(frame) = self.link_frames.last_mut() {
            frame.text.push_str(code);
        }
        self.inline.push_atom(code);
    }

    fn image(&mut self, alt: &str) {
        if alt.is_empty() {
            self.inline.push_text("[Image]");
        } else {
            self.inline.push_text("[Image: ");
            self.inline.push_text(alt);
            self.inline.push_text("]");
        }
    }

    fn link_end(&mut self) {
        let Some(frame) = self.link_frames.pop() else {
            return;
        };
        if frame.verbatim || frame.url.is_empty() || frame.text.trim() == frame.url {
            return;
        }
        let n = self.link_number(frame.url);
        self.inline.glue(&format!(" [{n}]"));
    }

    fn link_number(&mut self, url: String) -> usize {
        if let Some(&n) = self.link_numbers.get(&url) {
            return n;
        }
        self.links.push(url.clone());
        self.link_numbers.insert(url, self.links.len());
        self.links.len()
    }

    fn footnote_number(&mut self, name: &str) -> usize {
        let next = self.footnote_numbers.len() + 1;
        *self.footnote_numbers.entry(name.to_owned()).or_insert(next)
    }

    // --- output lines ---

    /// Columns left for text inside the current containers.
    fn avail(&self) -> usize {
        let used: usize = self
            .containers
            .iter()
            .map(|c| match c {
                Container::Quote => 2,
                Container::Item { indent, .. } => *indent,
            })
            .sum();
        self.width.saturating_sub(used).max(1)
    }

    /// Writes one line under the current containers; the first line of an item shows its
    /// marker, later ones the hanging indent.
    fn write_line(&mut self, content: &str) {
        let start = self.out.len();
        for container in &mut self.containers {
            match container {
                Container::Quote => self.out.push_str("> "),
                Container::Item {
                    marker,
                    used: used @ false,
                    ..
                } => {
                    self.out.push_str(marker);
                    *used = true;
                }
                Container::Item { indent, .. } => push_spaces(&mut self.out, *indent),
            }
        }
        self.out.push_str(content);
        let trimmed = self.out[start..].trim_end().len();
        self.out.truncate(start + trimmed);
        self.out.push('\n');
    }

    /// A blank line inside the current containers: `>` inside quotes, empty elsewhere.
    fn write_blank_line(&mut self) {
        let quotes = self
            .containers
            .iter()
            .filter(|c| matches!(c, Container::Quote))
            .count();
        let start = self.out.len();
        for container in &self.containers {
            match container {
                Container::Quote => self.out.push_str("> "),
                Container::Item { indent, .. } => push_spaces(&mut self.out, *indent),
            }
        }
        if quotes == 0 {
            self.out.truncate(start);
        } else {
            let trimmed = self.out[start..].trim_end().len();
            self.out.truncate(start + trimmed);
        }
        self.out.push('\n');
    }

    /// Separates a new block from the previous one.
    fn start_block(&mut self) {
        if self.needs_blank && !self.out.is_empty() {
            self.write_blank_line();
        }
        self.needs_blank = false;
    }

    /// Writes the pending inline text as a wrapped paragraph.
    fn flush(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        self.start_block();
        self.write_inline();
        self.needs_blank = true;
    }

    /// Writes the inline text wrapped to the space left by the containers, and clears it.
    fn write_inline(&mut self) -> usize {
        let inline = std::mem::take(&mut self.inline);
        let mut line = std::mem::take(&mut self.line);
        let mut widest = 0;
        inline.wrap(self.avail(), &mut line, |line| {
            widest = widest.max(str_width(line));
            self.write_line(line);
        });
        self.inline = inline;
        self.line = line;
        self.inline.clear();
        widest
    }

    fn heading_end(&mut self, level: HeadingLevel) {
        self.heading = None;
        if self.inline.is_empty() {
            return;
        }
        self.start_block();
        let width = self.write_inline();
        let underline = match level {
            HeadingLevel::H1 => Some('='),
            HeadingLevel::H2 => Some('-'),
            _ => None,
        };
        if let Some(c) = underline {
            self.write_line(&c.to_string().repeat(width));
        }
        self.needs_blank = true;
    }

    fn code_block_end(&mut self) {
        let code = self.code.take().unwrap_or_default();
        self.start_block();
        for line in code.trim_end_matches('\n').split('\n') {
            self.write_line(&format!("    {line}"));
        }
        self.needs_blank = true;
    }

    fn rule(&mut self) {
        self.flush();
        self.start_block();
        let width = if self.width == usize::MAX {
            72
        } else {
            self.avail()
        };
        self.write_line(&"-".repeat(width));
        self.needs_blank = true;
    }

    // --- lists and footnotes ---

    fn list_start(&mut self, start: Option<u64>) {
        self.flush();
        let in_tight_item = matches!(self.containers.last(), Some(Container::Item { .. }))
            && self.lists.last().is_some_and(|l| l.tight);
        if in_tight_item {
            // A nested list in a tight item follows its text directly.
            self.needs_blank = false;
        } else {
            self.start_block();
        }
        self.lists.push(List {
            next: start,
            tight: true,
        });
    }

    fn item_start(&mut self, loose: bool) {
        self.flush();
        let marker = match self.lists.last_mut() {
            Some(List {
                next: Some(n),
                tight,
            }) => {
                *tight = !loose;
                let marker = format!("  {n}. ");
                *n += 1;
                marker
            }
            Some(List { next: None, tight }) => {
                *tight = !loose;
                "  • ".to_owned()
            }
            None => "  • ".to_owned(),
        };
        if !loose {
            self.needs_blank = false;
        }
        let indent = str_width(&marker);
        self.containers.push(Container::Item {
            marker,
            indent,
            used: false,
        });
    }

    fn item_end(&mut self) {
        self.flush();
        // An empty item still shows its marker.
        if let Some(Container::Item { used: false, .. }) = self.containers.last() {
            self.start_block();
            self.write_line("");
        }
        self.containers.pop();
        self.needs_blank = true;
    }

    /// A footnote renders into its own buffer, later listed under "Notes:".
    fn footnote_start(&mut self, name: &str) {
        self.flush();
        let number = self.footnote_number(name);
        let marker = format!("{} ", superscript(number));
        let indent = str_width(&marker);
        self.saved.push(Saved {
            out: std::mem::take(&mut self.out),
            containers: std::mem::replace(
                &mut self.containers,
                vec![Container::Item {
                    marker,
                    indent,
                    used: false,
                }],
            ),
            lists: std::mem::take(&mut self.lists),
            needs_blank: std::mem::take(&mut self.needs_blank),
            number,
        });
    }

    fn footnote_end(&mut self) {
        self.flush();
        let Some(saved) = self.saved.pop() else {
            return;
        };
        let note = std::mem::replace(&mut self.out, saved.out);
        self.containers = saved.containers;
        self.lists = saved.lists;
        self.needs_blank = saved.needs_blank;
        self.notes.push((saved.number, note));
    }

    // --- tables ---

    fn table_end(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        self.start_block();
        let columns = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(str_width(cell));
            }
        }
        let total = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
        if total <= self.avail() {
            self.table_columns(&table, &widths);
        } else {
            self.table_rows(&table);
        }
        self.needs_blank = true;
    }

    fn table_columns(&mut self, table: &Table, widths: &[usize]) {
        for (r, row) in table.rows.iter().enumerate() {
            let cells: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, &w)| {
                    let cell = row.get(i).map_or("", String::as_str);
                    pad(
                        cell,
                        w,
                        table.alignments.get(i).copied().unwrap_or(Alignment::None),
                    )
                })
                .collect();
            self.write_line(&cells.join("  "));
            if r + 1 == table.head_rows {
                let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
                self.write_line(&rule.join("  "));
            }
        }
    }

    /// Too wide for columns: one `cell | cell` line per row, wrapped with a hanging indent.
    fn table_rows(&mut self, table: &Table) {
        self.containers.push(Container::Item {
            marker: String::new(),
            indent: 2,
            used: false,
        });
        for row in &table.rows {
            self.inline.push_text(&row.join(" | "));
            self.write_inline();
            if let Some(Container::Item { used, .. }) = self.containers.last_mut() {
                *used = false;
            }
        }
        self.containers.pop();
    }

    // --- raw HTML ---

    /// Reduces raw HTML to text with html5ever's tokenizer (entities decoded as a browser
    /// does; comments, doctypes and the content of `<script>` and `<style>` dropped). In an
    /// HTML block, block-level tags end paragraphs.
    fn html(&mut self, html: &str, block: bool) {
        for piece in html_pieces(html) {
            match piece {
                HtmlPiece::Text(text) => self.text(&text),
                HtmlPiece::Tag(tag) => self.html_tag(&tag, block),
            }
        }
    }

    fn html_tag(&mut self, tag: &html5ever::tokenizer::Tag, block: bool) {
        let closing = tag.kind == EndTag;
        let attr = |name: &str| {
            tag.attrs
                .iter()
                .find(|a| &*a.name.local == name)
                .map(|a| a.value.to_string())
        };
        match &*tag.name {
            "br" => self.inline.hard_break(),
            "img" if !closing => {
                let alt = attr("alt").map(|a| a.trim().to_owned()).unwrap_or_default();
                self.image(&alt);
            }
            "a" if closing => self.link_end(),
            "a" => {
                self.link_frames.push(LinkFrame {
                    url: attr("href").unwrap_or_default(),
                    text: String::new(),
                    verbatim: false,
                });
            }
            "td" | "th" => self.text(" "),
            name if block && is_block_tag(name) => self.flush(),
            name if is_block_tag(name) => self.text(" "),
            _ => {}
        }
    }

    // --- the end ---

    fn finish(mut self) -> String {
        self.flush();
        if !self.notes.is_empty() {
            self.needs_blank = true;
            self.start_block();
            self.out.push_str("Notes:\n");
            self.notes.sort_by_key(|(n, _)| *n);
            for (_, note) in &self.notes {
                self.out.push_str(note);
            }
        }
        if !self.links.is_empty() {
            self.needs_blank = true;
            self.start_block();
            self.out.push_str("Links:\n");
            for (i, url) in self.links.iter().enumerate() {
                self.out.push_str(&format!("[{}] {url}\n", i + 1));
            }
        }
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out
    }
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn pad(cell: &str, width: usize, alignment: Alignment) -> String {
    let gap = width.saturating_sub(str_width(cell));
    let (left, right) = match alignment {
        Alignment::Right => (gap, 0),
        Alignment::Center => (gap / 2, gap - gap / 2),
        Alignment::Left | Alignment::None => (0, gap),
    };
    let mut out = String::with_capacity(cell.len() + gap);
    push_spaces(&mut out, left);
    out.push_str(cell);
    push_spaces(&mut out, right);
    out
}

fn is_block_tag(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "table"
            | "tr"
            | "blockquote"
            | "pre"
            | "hr"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "figure"
            | "figcaption"
            | "center"
            | "dl"
            | "dt"
            | "dd"
            | "aside"
            | "nav"
            | "main"
    )
}

/// A piece of raw HTML that the plain text keeps: text (runs joined) or a tag.
enum HtmlPiece {
    Text(String),
    Tag(html5ever::tokenizer::Tag),
}

/// Collects the text and tags of an HTML fragment, skipping what a reader never sees.
#[derive(Default)]
struct HtmlSink {
    pieces: RefCell<Vec<HtmlPiece>>,
    /// Inside `<script>` or `<style>`: their text is code, not prose.
    in_raw: Cell<bool>,
}

impl TokenSink for HtmlSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut pieces = self.pieces.borrow_mut();
        match token {
            CharacterTokens(text) if !self.in_raw.get() => match pieces.last_mut() {
                Some(HtmlPiece::Text(last)) => last.push_str(&text),
                _ => pieces.push(HtmlPiece::Text(text.to_string())),
            },
            TagToken(tag) => {
                let raw = matches!(&*tag.name, "script" | "style");
                if raw && tag.kind == StartTag {
                    self.in_raw.set(true);
                    return TokenSinkResult::RawData(if &*tag.name == "script" {
                        RawKind::ScriptData
                    } else {
                        RawKind::Rawtext
                    });
                }
                if raw {
                    self.in_raw.set(false);
                } else {
                    pieces.push(HtmlPiece::Tag(tag));
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn html_pieces(html: &str) -> Vec<HtmlPiece> {
    crate::html::tokenize(html, HtmlSink::default())
        .pieces
        .take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_plain_words_and_keeps_long_ones() {
        assert_eq!(wrap_words("aa bb cc dd", 5), "aa bb\ncc dd");
        assert_eq!(
            wrap_words("see https://example.org/a/very/long/url now", 10),
            "see\nhttps://example.org/a/very/long/url\nnow"
        );
        assert_eq!(wrap_words("one\ntwo three", 20), "one\ntwo three");
    }

    fn text(md: &str) -> String {
        to_plain_text(md, 40)
    }

    #[test]
    fn headings() {
        assert_eq!(
            text("# Big news\n\n## Part one\n\n### Small print\n\nBody."),
            "Big news\n========\n\nPart one\n--------\n\nSMALL PRINT\n\nBody."
        );
    }

    #[test]
    fn long_heading_underline_matches_widest_line() {
        assert_eq!(
            text("## A heading long enough to wrap onto a second line"),
            "A heading long enough to wrap onto a\nsecond line\n------------------------------------"
        );
    }

    #[test]
    fn paragraphs_wrap_on_word_boundaries() {
        assert_eq!(
            text("The quick brown fox jumps over the lazy dog and keeps on running.\n\nNext."),
            "The quick brown fox jumps over the lazy\ndog and keeps on running.\n\nNext."
        );
    }

    #[test]
    fn emphasis_is_plain_and_strikethrough_kept() {
        assert_eq!(text("*Very* **bold** ~~old~~ new"), "Very bold ~~old~~ new");
    }

    #[test]
    fn links_become_numbered_references() {
        assert_eq!(
            text(
                "See [the docs](https://a.example/docs), [again](https://a.example/docs) and [more](https://b.example)."
            ),
            "See the docs [1], again [1] and\nmore [2].\n\nLinks:\n[1] https://a.example/docs\n[2] https://b.example"
        );
    }

    #[test]
    fn links_whose_text_is_the_url_are_written_once() {
        assert_eq!(
            text("<https://a.example/x> <me@a.example> [https://b.example](https://b.example)"),
            "https://a.example/x me@a.example\nhttps://b.example"
        );
    }

    #[test]
    fn nested_lists_hang_their_indent() {
        assert_eq!(
            text(
                "- one item long enough to wrap around the line\n  - nested item that also wraps around\n- two"
            ),
            "  • one item long enough to wrap around\n    the line\n      • nested item that also wraps\n        around\n  • two"
        );
    }

    #[test]
    fn ordered_lists_start_at_n() {
        assert_eq!(
            text("Steps:\n\n7. seven\n8. eight"),
            "Steps:\n\n  7. seven\n  8. eight"
        );
    }

    #[test]
    fn loose_lists_keep_blank_lines() {
        assert_eq!(
            text("- a\n\n- b\n\n  more b"),
            "  • a\n\n  • b\n\n    more b"
        );
    }

    #[test]
    fn blockquote_with_list_inside() {
        assert_eq!(
            text("Before.\n\n> Quote:\n>\n> - x\n> - y\n>\n> > deeper\n\nAfter."),
            "Before.\n\n> Quote:\n>\n>   • x\n>   • y\n>\n> > deeper\n\nAfter."
        );
    }

    #[test]
    fn inline_code_is_never_broken() {
        assert_eq!(
            text("Run the command `cargo build --release --locked` now."),
            "Run the command\ncargo build --release --locked now."
        );
    }

    #[test]
    fn code_blocks_are_indented_and_not_wrapped() {
        assert_eq!(
            text(
                "Code:\n\n```rust\nfn main() { println!(\"a very long line that is not wrapped\"); }\n\n// end\n```"
            ),
            "Code:\n\n    fn main() { println!(\"a very long line that is not wrapped\"); }\n\n    // end"
        );
    }

    #[test]
    fn tables_align_columns() {
        assert_eq!(
            text(
                "| Name | Qty | Note |\n|:--|--:|:-:|\n| Apples | 3 | ok |\n| Kiwis | 12 | fine |"
            ),
            "Name    Qty  Note\n------  ---  ----\nApples    3   ok\nKiwis    12  fine"
        );
    }

    #[test]
    fn wide_tables_fall_back_to_rows() {
        assert_eq!(
            text(
                "| Name | Description |\n|---|---|\n| Apples | Crisp and sweet, picked in the autumn from old trees |"
            ),
            "Name | Description\nApples | Crisp and sweet, picked in\n  the autumn from old trees"
        );
    }

    #[test]
    fn images_show_their_alt() {
        assert_eq!(
            text("![A red *fox*](fox.png) ![](x.png)"),
            "[Image: A red fox] [Image]"
        );
    }

    #[test]
    fn footnotes_are_listed_after_the_text() {
        assert_eq!(
            text(
                "Claim[^src] and [a link](https://l.example).\n\n[^src]: From [the source](https://s.example), a note long enough to wrap."
            ),
            "Claim¹ and a link [1].\n\nNotes:\n¹ From the source [2], a note long\n  enough to wrap.\n\nLinks:\n[1] https://l.example\n[2] https://s.example"
        );
    }

    #[test]
    fn horizontal_rule() {
        assert_eq!(
            text("a\n\n***\n\nb"),
            format!("a\n\n{}\n\nb", "-".repeat(40))
        );
    }

    #[test]
    fn raw_html_entities_and_scripts_read_as_a_browser_does() {
        // Every HTML5 named entity is decoded, in text and in attributes; a script's text,
        // whatever it holds, is not prose.
        assert_eq!(
            text(
                "<p>Caf&eacute; &hearts; <a href=\"https://x.example/?a=1&amp;b=2\" title=\"a > b\">menu</a></p><SCRIPT>if (a < b) { x = '<a href=y>' }</SCRIPT>\n"
            ),
            "Café ♥ menu [1]\n\nLinks:\n[1] https://x.example/?a=1&b=2"
        );
    }

    #[test]
    fn raw_html_is_reduced_to_text() {
        assert_eq!(
            text(
                "<div class=\"x\">\n<p>Hello &amp; <b>welcome</b> &mdash; <a href=\"https://h.example\">home</a></p>\n<p>Bye&nbsp;now<br>ok <img src=\"a.png\" alt=\"Logo\"></p><!-- hidden --><style>p{}</style>\n</div>\n\nInline <span>tags</span> go<br/>away."
            ),
            "Hello & welcome — home [1]\n\nBye now\nok [Image: Logo]\n\nInline tags go\naway.\n\nLinks:\n[1] https://h.example"
        );
    }

    #[test]
    fn smart_quotes_and_dashes() {
        assert_eq!(
            text("\"Don't\" -- they said --- 'no'..."),
            "“Don’t” – they said — ‘no’…"
        );
    }

    #[test]
    fn long_urls_are_not_wrapped() {
        assert_eq!(
            text("Read https://example.com/a/very/long/path/that/goes/on--and/on?q=it's now."),
            "Read\nhttps://example.com/a/very/long/path/that/goes/on--and/on?q=it's\nnow."
        );
    }

    #[test]
    fn cjk_wraps_between_characters_and_counts_double_width() {
        assert_eq!(
            to_plain_text(
                "日本語のテキストは、スペースがなくても折り返せます。🎉 Emoji ok",
                20
            ),
            "日本語のテキストは、\nスペースがなくても折\nり返せます。🎉 Emoji\nok"
        );
    }

    #[test]
    fn emoji_sequences_and_combining_marks_pad_by_display_width() {
        // A thumbs-up with a skin tone, a ZWJ family and a heart with its emoji selector are
        // one glyph of two columns each; the Devanagari anusvara takes none.
        assert_eq!(
            text("| a | n |\n|---|---|\n| 👍🏽 | 1 |\n| 👩‍👩‍👧 | 2 |\n| कं | 3 |\n| ❤️x | 4 |"),
            "a    n\n---  -\n👍🏽   1\n👩‍👩‍👧   2\nकं    3\n❤️x  4"
        );
    }

    #[test]
    fn cjk_table_pads_by_display_width() {
        assert_eq!(
            text("| 名前 | n |\n|---|---|\n| 日本 | 1 |\n| ab | 2 |"),
            "名前  n\n----  -\n日本  1\nab    2"
        );
    }

    #[test]
    fn hard_breaks_and_width_zero() {
        assert_eq!(
            to_plain_text("one  \ntwo three four five six seven eight nine ten", 0),
            "one\ntwo three four five six seven eight nine ten"
        );
    }

    #[test]
    fn empty_input() {
        assert_eq!(to_plain_text("", 72), "");
    }
}
