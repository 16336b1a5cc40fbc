//! The email stylesheet: a small subset of CSS that gets inlined into `style` attributes.
//!
//! Email clients (Gmail above all) drop or ignore `<style>` elements in many situations, so
//! every rule that can be expressed per element is copied into that element's `style`
//! attribute. Supported selectors are `tag`, `.class`, `tag.class` (and compounds such as
//! `.a.b`), in comma-separated lists. At-rules (`@media …`, `@font-face`, …) cannot be
//! inlined; they are kept verbatim for a `<style>` element in the head ([`Stylesheet::head_css`]).
//!
//! Cascade: a rule with more classes wins, then one with a tag (`tag.class` > `.class` >
//! `tag`); for equal specificity the later rule wins; `!important` beats a plain declaration.
//! Combined declarations come out compact (`prop:value;prop:value`) and already escaped for a
//! double-quoted HTML attribute, because Gmail clips messages over ~102 KB and every byte of
//! an inlined style is repeated on every element.
//!
//! The file is tokenized by `cssparser` (Servo's); the cascade and the inliner are ours.
//! `css-inline` does both, but it parses a whole document into a DOM and serialises it
//! again, so it cannot inline into a Tera template (tags inside attributes and between
//! elements) nor answer the Markdown renderer's per-element [`Stylesheet::style_for`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use cssparser::{ParseError, ParseErrorKind, SourcePosition, Token};

/// A syntax error in the stylesheet, with the 1-based line where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CssError {
    pub line: usize,
    pub message: String,
}

/// A parsed email stylesheet. Cheap to query from many threads at once. The default is
/// the empty stylesheet.
#[derive(Debug, Clone, Default)]
pub struct Stylesheet {
    rules: Vec<Rule>,
    /// Combined declarations for each tag named in a selector, with no class: the hot path
    /// of Markdown rendering, so computed once at parse time.
    tag_styles: HashMap<String, String>,
    /// Every class named in a selector; classes outside this set cannot change a style.
    known_classes: HashSet<String>,
    head_css: String,
    /// Combined declarations for (tag, class set) pairs, computed on first use.
    memo: Memo,
}

#[derive(Debug, Clone)]
struct Rule {
    tag: Option<String>,
    classes: Vec<String>,
    /// Position of the rule in the file: the tie-breaker for equal specificity.
    order: usize,
    declarations: Vec<Declaration>,
}

#[derive(Debug, Clone)]
struct Declaration {
    property: String,
    /// Normalised value, escaped for a double-quoted attribute.
    value: String,
    important: bool,
}

impl Rule {
    fn matches(&self, tag: &str, classes: &[&str]) -> bool {
        self.tag.as_deref().is_none_or(|t| t == tag)
            && self.classes.iter().all(|c| classes.contains(&c.as_str()))
    }

    fn specificity(&self) -> (usize, usize, usize) {
        (
            self.classes.len(),
            usize::from(self.tag.is_some()),
            self.order,
        )
    }
}

impl Stylesheet {
    /// Parses the stylesheet. Errors name the line of the offending rule or declaration.
    pub fn parse(css: &str) -> Result<Stylesheet, CssError> {
        let parsed = Parser::new(css).run()?;
        let mut tags: Vec<&str> = parsed
            .rules
            .iter()
            .filter_map(|r| r.tag.as_deref())
            .collect();
        tags.sort_unstable();
        tags.dedup();
        let tag_styles = tags
            .into_iter()
            .filter_map(|tag| Some((tag.to_owned(), combine(&parsed.rules, tag, &[])?)))
            .collect();
        let known_classes = parsed
            .rules
            .iter()
            .flat_map(|r| r.classes.iter().cloned())
            .collect();
        Ok(Stylesheet {
            rules: parsed.rules,
            tag_styles,
            known_classes,
            head_css: parsed.head_css,
            memo: Memo::default(),
        })
    }

    /// The at-rules (`@media` blocks and the like), verbatim, for a `<style>` element.
    pub fn head_css(&self) -> &str {
        &self.head_css
    }

    /// The combined declarations for an element, ready to go inside `style="…"`, or `None`
    /// when no rule applies. `tag` is lower case; classes may come in any order.
    pub fn style_for(&self, tag: &str, classes: &[&str]) -> Option<&str> {
        let mut relevant: Vec<&str> = classes
            .iter()
            .copied()
            .filter(|c| self.known_classes.contains(*c))
            .collect();
        if relevant.is_empty() {
            return self.tag_styles.get(tag).map(String::as_str);
        }
        relevant.sort_unstable();
        relevant.dedup();
        let key = memo_key(tag, &relevant);
        self.memo
            .get_or_insert(key, || combine(&self.rules, tag, &relevant))
    }

    /// Inlines the stylesheet into an HTML template: every element outside `<head>` with a
    /// class or a styled tag gets the combined declarations merged into its `style`
    /// attribute (an existing inline style wins: it goes last). `class` attributes stay,
    /// so the head's `@media` rules can still reach the elements. Comments, `<style>`,
    /// `<script>` and Tera/Jinja tags (`{{ }}`, `{% %}`, `{# #}`) pass through untouched.
    pub fn inline_classes(&self, html: &str) -> String {
        Inliner {
            sheet: self,
            html,
            out: String::with_capacity(html.len() * 2),
            copied: 0,
        }
        .run()
    }
}

/// Folds the matching rules in cascade order into one declaration string.
fn combine(rules: &[Rule], tag: &str, classes: &[&str]) -> Option<String> {
    let mut matched: Vec<&Rule> = rules.iter().filter(|r| r.matches(tag, classes)).collect();
    matched.sort_by_key(|r| r.specificity());
    let mut folded: Vec<&Declaration> = Vec::new();
    for declaration in matched.iter().flat_map(|r| r.declarations.iter()) {
        if let Some(i) = folded
            .iter()
            .position(|d| d.property == declaration.property)
        {
            if folded[i].important && !declaration.important {
                continue;
            }
            // Remove and append rather than replace in place: a later shorthand must keep
            // coming after the longhands it resets, as it does in the real cascade.
            folded.remove(i);
        }
        folded.push(declaration);
    }
    if folded.is_empty() {
        return None;
    }
    let mut style = String::new();
    for (i, d) in folded.iter().enumerate() {
        if i > 0 {
            style.push(';');
        }
        style.push_str(&d.property);
        style.push(':');
        style.push_str(&d.value);
    }
    Some(style)
}

fn memo_key(tag: &str, classes: &[&str]) -> String {
    let mut key = String::from(tag);
    for class in classes {
        key.push('.');
        key.push_str(class);
    }
    key
}

/// An append-only cache that hands out `&str`s living as long as the stylesheet, shared
/// between threads without locks: each bucket is a chain of nodes set once through
/// `OnceLock`, so an entry never moves once inserted.
#[derive(Debug, Clone)]
struct Memo {
    buckets: Box<[OnceLock<Box<MemoNode>>]>,
}

#[derive(Debug, Clone)]
struct MemoNode {
    key: String,
    value: Option<String>,
    next: OnceLock<Box<MemoNode>>,
}

const MEMO_BUCKETS: usize = 64;

impl Default for Memo {
    fn default() -> Self {
        Memo {
            buckets: (0..MEMO_BUCKETS).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl Memo {
    fn get_or_insert(&self, key: String, make: impl FnOnce() -> Option<String>) -> Option<&str> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let mut slot = &self.buckets[(hasher.finish() % MEMO_BUCKETS as u64) as usize];
        let mut make = Some(make);
        let mut pending: Option<Box<MemoNode>> = None;
        loop {
            if let Some(node) = slot.get() {
                if node.key == key {
                    return node.value.as_deref();
                }
                slot = &node.next;
                continue;
            }
            let node = match pending.take() {
                Some(node) => node,
                None => {
                    let value = make.take().and_then(|f| f());
                    Box::new(MemoNode {
                        key: key.clone(),
                        value,
                        next: OnceLock::new(),
                    })
                }
            };
            // Another thread may have filled this slot meanwhile: keep our node and walk on.
            if let Err(node) = slot.set(node) {
                pending = Some(node);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing: cssparser (Servo's tokenizer) reads the tokens, comments, strings and nested
// blocks; what the email can take (simple selectors, `property: value`) is checked here.

struct Parsed {
    rules: Vec<Rule>,
    head_css: String,
}

type Tokens<'i> = cssparser::Parser<'i>;
type Parse<T> = Result<T, ParseError<CssError>>;

struct Parser<'a> {
    src: &'a str,
    rules: Vec<Rule>,
    head_css: String,
    order: usize,
}

/// A declaration block's text, read up to its `}`, with what follows the last `;`.
struct Block {
    declarations: Vec<Declaration>,
    /// The last declaration, left unparsed so that a missing `}` is reported first.
    pending: String,
    pending_start: usize,
    closed: bool,
}

fn opens_block(token: &Token) -> bool {
    matches!(
        token,
        Token::Function(_)
            | Token::ParenthesisBlock
            | Token::SquareBracketBlock
            | Token::CurlyBracketBlock
    )
}

/// The next token, comments and whitespace included, or `None` at the end of the block.
fn next<'i>(tokens: &mut Tokens<'i>) -> Option<Token<'i>> {
    tokens
        .next_including_whitespace_and_comments()
        .ok()
        .cloned()
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            rules: Vec::new(),
            head_css: String::new(),
            order: 0,
        }
    }

    fn run(mut self) -> Result<Parsed, CssError> {
        let mut tokens = Tokens::new(self.src);
        match self.top_level(&mut tokens) {
            Ok(()) => Ok(Parsed {
                rules: self.rules,
                head_css: self.head_css,
            }),
            Err(ParseError {
                kind: ParseErrorKind::Custom(e),
            }) => Err(e),
            Err(_) => Err(self.error_at(tokens.position(), "blocks nested too deeply")),
        }
    }

    fn top_level(&mut self, tokens: &mut Tokens<'a>) -> Parse<()> {
        loop {
            let start = tokens.position();
            let Some(token) = next(tokens) else {
                return Ok(());
            };
            self.check(tokens, start, &token)?;
            match token {
                Token::WhiteSpace(_) | Token::Comment(_) => {}
                Token::AtKeyword(_) => self.at_rule(tokens, start)?,
                Token::CloseCurlyBracket => {
                    return Err(self.fail(start, "unexpected `}` with no open rule"));
                }
                token => self.rule(tokens, start, token)?,
            }
        }
    }

    fn line_of(&self, pos: usize) -> usize {
        self.src.as_bytes()[..pos.min(self.src.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error_at(&self, pos: SourcePosition, message: impl Into<String>) -> CssError {
        CssError {
            line: self.line_of(pos.byte_index()),
            message: message.into(),
        }
    }

    fn fail(&self, pos: SourcePosition, message: impl Into<String>) -> ParseError<CssError> {
        ParseError {
            kind: ParseErrorKind::Custom(self.error_at(pos, message)),
        }
    }

    /// Comments and strings must be closed: the tokenizer forgives it, we do not, since
    /// the rest of the file would silently vanish into them.
    fn check(&self, tokens: &Tokens, start: SourcePosition, token: &Token) -> Parse<()> {
        let text = tokens.slice_from(start);
        match token {
            Token::Comment(_) if text.len() < 4 || !text.ends_with("*/") => {
                Err(self.fail(start, "unclosed comment `/*`"))
            }
            Token::BadString(_) => Err(self.fail(start, "unclosed string")),
            Token::QuotedString(_) if text.len() < 2 || !text.ends_with(&text[..1]) => {
                Err(self.fail(start, "unclosed string"))
            }
            _ => Ok(()),
        }
    }

    /// Walks the block just opened: checks each token and hands it to `each`. Returns
    /// whether the block's closing bracket was found, and where its content ends.
    fn in_block(
        &self,
        tokens: &mut Tokens<'a>,
        mut each: impl FnMut(&mut Tokens<'a>, SourcePosition, Token<'a>) -> Parse<()>,
    ) -> Parse<(bool, SourcePosition)> {
        let mut end = tokens.position();
        tokens.parse_nested_block(|tokens| {
            loop {
                let at = tokens.position();
                let Some(token) = next(tokens) else { break };
                self.check(tokens, at, &token)?;
                each(tokens, at, token)?;
            }
            end = tokens.position();
            Ok(())
        })?;
        Ok((tokens.position() > end, end))
    }

    /// Skips the block just opened (checking what is inside); `false` if it, or a block in
    /// it, is never closed.
    fn skip_block(&self, tokens: &mut Tokens<'a>) -> Parse<bool> {
        let mut inner_closed = true;
        let (closed, _) = self.in_block(tokens, |tokens, _, token| {
            if opens_block(&token) {
                inner_closed &= self.skip_block(tokens)?;
            }
            Ok(())
        })?;
        Ok(closed && inner_closed)
    }

    /// Keeps an at-rule verbatim: a statement up to `;` or a block up to its matching `}`.
    fn at_rule(&mut self, tokens: &mut Tokens<'a>, start: SourcePosition) -> Parse<()> {
        loop {
            let at = tokens.position();
            let Some(token) = next(tokens) else {
                return Err(self.fail(start, "at-rule without `;` or `{…}`"));
            };
            self.check(tokens, at, &token)?;
            match token {
                Token::Semicolon | Token::CloseCurlyBracket => break,
                Token::CurlyBracketBlock => {
                    if !self.skip_block(tokens)? {
                        return Err(self.fail(start, "unclosed `{` in at-rule"));
                    }
                    break;
                }
                token if opens_block(&token) => {
                    self.skip_block(tokens)?;
                }
                _ => {}
            }
        }
        if !self.head_css.is_empty() {
            self.head_css.push('\n');
        }
        self.head_css.push_str(tokens.slice_from(start));
        Ok(())
    }

    /// A style rule whose first token, at `start`, is `first`.
    fn rule(&mut self, tokens: &mut Tokens<'a>, start: SourcePosition, first: Token) -> Parse<()> {
        let no_brace = || self.fail(start, "expected `{` after the selector");
        let mut selectors = String::new();
        let (mut at, mut token) = (start, first);
        let brace = loop {
            match token {
                Token::CurlyBracketBlock => break at,
                Token::Semicolon | Token::CloseCurlyBracket => return Err(no_brace()),
                // A comment separates what it stands between.
                Token::Comment(_) => selectors.push(' '),
                token if opens_block(&token) => {
                    self.skip_block(tokens)?;
                    selectors.push_str(tokens.slice_from(at));
                }
                _ => selectors.push_str(tokens.slice_from(at)),
            }
            at = tokens.position();
            token = next(tokens).ok_or_else(no_brace)?;
            self.check(tokens, at, &token)?;
        };
        let compounds = selectors
            .split(',')
            .map(|s| parse_compound(s.trim()).map_err(|m| self.fail(start, m)))
            .collect::<Result<Vec<_>, _>>()?;
        let block = self.declarations(tokens)?;
        if !block.closed {
            return Err(self.fail(brace, "unclosed `{`: missing `}`"));
        }
        let mut declarations = block.declarations;
        declarations.extend(self.declaration(&block.pending, block.pending_start)?);
        self.order += 1;
        for (tag, classes) in compounds {
            self.rules.push(Rule {
                tag,
                classes,
                order: self.order,
                declarations: declarations.clone(),
            });
        }
        Ok(())
    }

    fn declaration(&self, text: &str, start: usize) -> Parse<Option<Declaration>> {
        parse_declaration(text).map_err(|m| ParseError {
            kind: ParseErrorKind::Custom(CssError {
                line: self.line_of(start),
                message: m,
            }),
        })
    }

    /// Reads `prop: value; …` in the block just opened.
    fn declarations(&self, tokens: &mut Tokens<'a>) -> Parse<Block> {
        let mut declarations = Vec::new();
        let mut pending = String::new();
        let mut pending_start = tokens.position().byte_index();
        let (closed, _) = self.in_block(tokens, |tokens, at, token| {
            match token {
                Token::Semicolon => {
                    declarations.extend(self.declaration(&pending, pending_start)?);
                    pending.clear();
                    pending_start = tokens.position().byte_index();
                }
                Token::Comment(_) => pending.push(' '),
                token => {
                    if pending.trim().is_empty() && !matches!(token, Token::WhiteSpace(_)) {
                        pending_start = at.byte_index();
                    }
                    self.value_text(tokens, at, &token, &mut pending)?;
                }
            }
            Ok(())
        })?;
        Ok(Block {
            declarations,
            pending,
            pending_start,
            closed,
        })
    }

    /// Appends the text of a value's token, with the content of a function or bracket
    /// (comments in it become spaces).
    fn value_text(
        &self,
        tokens: &mut Tokens<'a>,
        at: SourcePosition,
        token: &Token,
        out: &mut String,
    ) -> Parse<()> {
        if matches!(token, Token::CurlyBracketBlock) {
            return Err(self.fail(at, "nested blocks are only allowed inside at-rules"));
        }
        out.push_str(tokens.slice_from(at));
        if !opens_block(token) {
            return Ok(());
        }
        let (_, end) = self.in_block(tokens, |tokens, at, token| match token {
            Token::Comment(_) => {
                out.push(' ');
                Ok(())
            }
            token => self.value_text(tokens, at, &token, out),
        })?;
        // The closing bracket, if there is one.
        out.push_str(tokens.slice_from(end));
        Ok(())
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Parses one compound selector: an optional tag, then any number of `.class`es.
fn parse_compound(selector: &str) -> Result<(Option<String>, Vec<String>), String> {
    if selector.is_empty() {
        return Err("empty selector in a selector list".into());
    }
    let unsupported = || {
        format!(
            "selector `{selector}` cannot be inlined (only `tag`, `.class` and `tag.class`); \
             put it inside an @media block to send it in the <style> element instead"
        )
    };
    let mut parts = selector.split('.');
    let tag = parts.next().unwrap_or_default();
    if !tag.bytes().all(is_ident_byte) || tag.starts_with(|c: char| c.is_ascii_digit() || c == '-')
    {
        return Err(unsupported());
    }
    let mut classes = Vec::new();
    for class in parts {
        if class.is_empty() || !class.bytes().all(is_ident_byte) {
            return Err(unsupported());
        }
        classes.push(class.to_owned());
    }
    let tag = (!tag.is_empty()).then(|| tag.to_ascii_lowercase());
    Ok((tag, classes))
}

/// Parses `prop: value`; blank input (from `;;` or a trailing `;`) yields `None`.
fn parse_declaration(text: &str) -> Result<Option<Declaration>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let Some((property, value)) = text.split_once(':') else {
        return Err(format!("expected `property: value`, found `{text}`"));
    };
    let property = property.trim();
    if property.is_empty() || !property.bytes().all(is_ident_byte) {
        return Err(format!("invalid property name `{property}`"));
    }
    let value = collapse_whitespace(value.trim());
    if value.is_empty() {
        return Err(format!("property `{property}` has no value"));
    }
    let important = value
        .to_ascii_lowercase()
        .replace(' ', "")
        .ends_with("!important");
    Ok(Some(Declaration {
        property: property.to_ascii_lowercase(),
        value: attribute_safe(&value),
        important,
    }))
}

/// Collapses whitespace runs outside string literals into one space.
fn collapse_whitespace(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut quote: Option<char> = None;
    let mut last_space = false;
    for c in value.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
                last_space = false;
            }
            None if c.is_whitespace() => {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
            }
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                out.push(c);
                last_space = false;
            }
        }
    }
    out
}

/// Makes a value safe inside a double-quoted attribute. Double-quoted CSS strings become
/// single-quoted (some webmail sanitisers drop styles containing `&quot;`), and `&`, `<`
/// and any remaining `"` are escaped.
fn attribute_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find('"') {
        out.push_str(&escape_attr_chars(&rest[..start]));
        let body_and_tail = &rest[start + 1..];
        let end = body_and_tail.find('"').unwrap_or(body_and_tail.len());
        let body = &body_and_tail[..end];
        if body.contains('\'') {
            out.push_str("&quot;");
            out.push_str(&escape_attr_chars(body));
            out.push_str("&quot;");
        } else {
            out.push('\'');
            out.push_str(&escape_attr_chars(body));
            out.push('\'');
        }
        rest = body_and_tail.get(end + 1..).unwrap_or("");
    }
    out.push_str(&escape_attr_chars(rest));
    out
}

fn escape_attr_chars(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

// ---------------------------------------------------------------------------------------
// Inlining into a template

struct Inliner<'s, 'h> {
    sheet: &'s Stylesheet,
    html: &'h str,
    out: String,
    /// Everything before this position has been copied to `out`.
    copied: usize,
}

/// A start tag as found in the template, by byte ranges into it.
struct StartTag {
    name: String,
    /// Position of the `>` or `/>` that closes the tag.
    close: usize,
    /// Position just past the tag.
    end: usize,
    class: Option<AttrValue>,
    style: Option<StyleAttr>,
}

#[derive(Clone, Copy)]
struct AttrValue {
    start: usize,
    end: usize,
    quote: Option<u8>,
}

struct StyleAttr {
    /// Range of the whole attribute, name to closing quote.
    start: usize,
    end: usize,
    value: Option<AttrValue>,
}

/// Elements whose content is copied without looking inside.
const OPAQUE: [&str; 5] = ["head", "style", "script", "title", "textarea"];

impl Inliner<'_, '_> {
    fn run(mut self) -> String {
        let bytes = self.html.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            i = match bytes[i] {
                b'{' if matches!(bytes.get(i + 1), Some(b'{' | b'%' | b'#')) => {
                    tera_end(self.html, i)
                }
                b'<' => self.markup(i),
                _ => i + 1,
            };
        }
        self.out.push_str(&self.html[self.copied..]);
        self.out
    }

    /// Handles whatever starts with `<` at `i`; returns the position to continue from.
    fn markup(&mut self, i: usize) -> usize {
        let rest = &self.html[i..];
        let bytes = rest.as_bytes();
        if rest.starts_with("<!--") {
            return rest.find("-->").map_or(self.html.len(), |e| i + e + 3);
        }
        match bytes.get(1) {
            Some(b'!' | b'?' | b'/') => rest.find('>').map_or(self.html.len(), |e| i + e + 1),
            Some(b) if b.is_ascii_alphabetic() => self.start_tag(i),
            _ => i + 1,
        }
    }

    fn start_tag(&mut self, i: usize) -> usize {
        let Some(tag) = parse_start_tag(self.html, i) else {
            // An unterminated tag: leave the rest of the document as it is.
            return self.html.len();
        };
        if OPAQUE.contains(&tag.name.as_str()) {
            return find_ci(self.html, tag.end, &format!("</{}", tag.name))
                .unwrap_or(self.html.len());
        }
        let classes_text = tag
            .class
            .map(|v| without_tera(&self.html[v.start..v.end]))
            .unwrap_or_default();
        let classes: Vec<&str> = classes_text.split_ascii_whitespace().collect();
        if let Some(style) = self.sheet.style_for(&tag.name, &classes) {
            self.out.push_str(&self.html[self.copied..i]);
            self.write_tag(i, &tag, style);
            self.copied = tag.end;
        }
        tag.end
    }

    /// Writes the tag starting at `i` with `style` merged in.
    fn write_tag(&mut self, i: usize, tag: &StartTag, style: &str) {
        let html = self.html;
        match &tag.style {
            None => {
                self.out.push_str(&html[i..tag.close]);
                let spaced = html[..tag.close].ends_with(|c: char| c.is_ascii_whitespace());
                if !spaced {
                    self.out.push(' ');
                }
                self.out.push_str("style=\"");
                self.out.push_str(style);
                self.out.push('"');
                if spaced {
                    self.out.push(' ');
                }
                self.out.push_str(&html[tag.close..tag.end]);
            }
            Some(attr) => {
                self.out.push_str(&html[i..attr.start]);
                let existing = attr.value.map_or("", |v| &html[v.start..v.end]);
                let existing = existing.trim_matches(|c: char| c.is_ascii_whitespace() || c == ';');
                let quote = attr.value.and_then(|v| v.quote).unwrap_or(b'"');
                self.out.push_str("style=");
                self.out.push(char::from(quote));
                if quote == b'\'' {
                    self.out.push_str(&style.replace('\'', "&#39;"));
                } else {
                    self.out.push_str(style);
                }
                if !existing.is_empty() {
                    self.out.push(';');
                    self.out.push_str(existing);
                }
                self.out.push(char::from(quote));
                self.out.push_str(&html[attr.end..tag.end]);
            }
        }
    }
}

/// Position just past the Tera tag (`{{ }}`, `{% %}` or `{# #}`) starting at `start`, skipping
/// string literals inside it; the end of the input if it is never closed.
fn tera_end(html: &str, start: usize) -> usize {
    let bytes = html.as_bytes();
    let close = match bytes.get(start + 1) {
        Some(b'%') => b'%',
        Some(b'#') => b'#',
        _ => b'}',
    };
    let mut i = start + 2;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i = html[i + 1..]
                    .find(char::from(q))
                    .map_or(bytes.len(), |e| i + 1 + e + 1);
            }
            b if b == close && bytes.get(i + 1) == Some(&b'}') => return i + 2,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn is_tera_start(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'{' && matches!(bytes.get(i + 1), Some(b'{' | b'%' | b'#'))
}

/// The text with Tera tags blanked out, so dynamic class names are not looked up.
fn without_tera(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if is_tera_start(bytes, i) {
            out.push_str(&text[copied..i]);
            out.push(' ');
            i = tera_end(text, i);
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Case-insensitive search for an ASCII needle.
fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    hay.as_bytes()
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

/// Parses the start tag at `start` (which holds `<` followed by a letter).
fn parse_start_tag(html: &str, start: usize) -> Option<StartTag> {
    let bytes = html.as_bytes();
    let mut i = start + 1;
    while bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        i += 1;
    }
    let name = html[start + 1..i].to_ascii_lowercase();
    let mut class = None;
    let mut style = None;
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match *bytes.get(i)? {
            b'>' => {
                return Some(StartTag {
                    name,
                    close: i,
                    end: i + 1,
                    class,
                    style,
                });
            }
            b'/' if bytes.get(i + 1) == Some(&b'>') => {
                return Some(StartTag {
                    name,
                    close: i,
                    end: i + 2,
                    class,
                    style,
                });
            }
            _ if is_tera_start(bytes, i) => i = tera_end(html, i),
            b'/' | b'"' | b'\'' | b'=' | b'<' => i += 1,
            _ => {
                let (attr_name, value, end) = parse_attribute(html, i);
                match attr_name.to_ascii_lowercase().as_str() {
                    "class" => class = value,
                    "style" => {
                        style = Some(StyleAttr {
                            start: i,
                            end,
                            value,
                        })
                    }
                    _ => {}
                }
                i = end;
            }
        }
    }
}

/// Parses one attribute at `start`: its name, its value's range, and the position after it.
fn parse_attribute(html: &str, start: usize) -> (&str, Option<AttrValue>, usize) {
    let bytes = html.as_bytes();
    let mut i = start;
    while bytes
        .get(i)
        .is_some_and(|&b| !b.is_ascii_whitespace() && !b"=>/\"'".contains(&b))
    {
        if is_tera_start(bytes, i) {
            i = tera_end(html, i);
        } else {
            i += 1;
        }
    }
    let name = &html[start..i];
    let mut j = i;
    while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    if bytes.get(j) != Some(&b'=') {
        return (name, None, i);
    }
    j += 1;
    while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    match bytes.get(j) {
        Some(&q @ (b'"' | b'\'')) => {
            let mut k = j + 1;
            while k < bytes.len() && bytes[k] != q {
                k = if is_tera_start(bytes, k) {
                    tera_end(html, k)
                } else {
                    k + 1
                };
            }
            let value = AttrValue {
                start: j + 1,
                end: k.min(bytes.len()),
                quote: Some(q),
            };
            (name, Some(value), (k + 1).min(bytes.len()))
        }
        _ => {
            let mut k = j;
            while bytes
                .get(k)
                .is_some_and(|&b| !b.is_ascii_whitespace() && b != b'>')
            {
                k = if is_tera_start(bytes, k) {
                    tera_end(html, k)
                } else {
                    k + 1
                };
            }
            (
                name,
                Some(AttrValue {
                    start: j,
                    end: k,
                    quote: None,
                }),
                k,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(css: &str) -> Stylesheet {
        match Stylesheet::parse(css) {
            Ok(sheet) => sheet,
            Err(e) => panic!("{css:?} should parse: {e}"),
        }
    }

    #[test]
    fn tag_rules_combine_in_order() {
        let s = sheet("p { color: red; margin: 0 }\np { color: blue; }");
        assert_eq!(s.style_for("p", &[]), Some("margin:0;color:blue"));
        assert_eq!(s.style_for("h1", &[]), None);
    }

    #[test]
    fn specificity_beats_source_order() {
        let s = sheet(
            "p.lead { color: green }\n.lead { color: red; font-size: 18px }\np { color: blue; margin: 0 }",
        );
        assert_eq!(
            s.style_for("p", &["lead"]),
            Some("margin:0;font-size:18px;color:green")
        );
        assert_eq!(
            s.style_for("div", &["lead"]),
            Some("color:red;font-size:18px")
        );
        assert_eq!(s.style_for("p", &["other"]), Some("color:blue;margin:0"));
    }

    #[test]
    fn equal_specificity_classes_follow_source_order_not_attribute_order() {
        let s = sheet(".a { color: red }\n.b { color: blue }");
        assert_eq!(s.style_for("p", &["b", "a"]), Some("color:blue"));
        assert_eq!(s.style_for("p", &["a", "b"]), Some("color:blue"));
    }

    #[test]
    fn comma_lists_and_comments() {
        let s = sheet("/* headings */\nh1, h2 /* both */ { font-weight: 700; /* bold */ }");
        assert_eq!(s.style_for("h1", &[]), Some("font-weight:700"));
        assert_eq!(s.style_for("h2", &[]), Some("font-weight:700"));
    }

    #[test]
    fn later_shorthand_moves_after_longhand() {
        let s =
            sheet("td { border: 0; border-left: 4px solid red }\ntd { border: 1px solid #ccc }");
        assert_eq!(
            s.style_for("td", &[]),
            Some("border-left:4px solid red;border:1px solid #ccc")
        );
    }

    #[test]
    fn important_wins_over_later_plain_declaration() {
        let s = sheet("a { color: red !important }\na { color: blue }");
        assert_eq!(s.style_for("a", &[]), Some("color:red !important"));
    }

    #[test]
    fn values_are_attribute_safe_css_tokens() {
        // `/*` in an unquoted url() is part of the URL, not a comment; brackets nest.
        let s = sheet(concat!(
            "body { font-family: \"Segoe UI\", 'Helvetica Neue', Arial;  background: url(a.png?x=1&y=2) }\n",
            "p { background: url(/i/*x*/y.png); width: calc(100% - (2 * 8px)) /* c */; content: \"a;}b\" }",
        ));
        let styles = [s.style_for("body", &[]), s.style_for("p", &[])];
        assert_eq!(
            styles,
            [
                Some(
                    "font-family:'Segoe UI', 'Helvetica Neue', Arial;background:url(a.png?x=1&amp;y=2)"
                ),
                Some("background:url(/i/*x*/y.png);width:calc(100% - (2 * 8px));content:'a;}b'")
            ]
        );
    }

    #[test]
    fn at_rules_go_to_the_head_verbatim() {
        let css = "p { margin: 0 }\n@media (prefers-color-scheme: dark) {\n  .body { background: #111 !important; }\n}\n@import url(x.css);";
        let s = sheet(css);
        assert_eq!(
            s.head_css(),
            "@media (prefers-color-scheme: dark) {\n  .body { background: #111 !important; }\n}\n@import url(x.css);"
        );
        assert_eq!(s.style_for("div", &["body"]), None);
    }

    #[test]
    fn errors_name_the_line() {
        let err = |css: &str| Stylesheet::parse(css).err().map(|e| e.to_string());
        assert_eq!(
            err("p { margin: 0 }\n\nul li { margin: 0 }"),
            Some(
                "line 3: selector `ul li` cannot be inlined (only `tag`, `.class` and `tag.class`); \
                 put it inside an @media block to send it in the <style> element instead"
                    .into()
            )
        );
        assert_eq!(
            err("p {\n  color red;\n}"),
            Some("line 2: expected `property: value`, found `color red`".into())
        );
        assert_eq!(
            err("p {\n  color: red;\n"),
            Some("line 1: unclosed `{`: missing `}`".into())
        );
        assert_eq!(
            err("p { color: red }\n/* open"),
            Some("line 2: unclosed comment `/*`".into())
        );
        assert_eq!(
            err("@media x {\n p { a: b }"),
            Some("line 1: unclosed `{` in at-rule".into())
        );
        assert_eq!(
            err("p { color: }"),
            Some("line 1: property `color` has no value".into())
        );
        assert_eq!(
            err("p {\n  content: \"open\n}"),
            Some("line 2: unclosed string".into())
        );
        assert_eq!(
            err("p { a: b }\n}"),
            Some("line 2: unexpected `}` with no open rule".into())
        );
        assert_eq!(
            err("p {\n  a { b: c }\n}"),
            Some("line 2: nested blocks are only allowed inside at-rules".into())
        );
        assert_eq!(
            err("p { a: b }\n@import url(x.css)"),
            Some("line 2: at-rule without `;` or `{…}`".into())
        );
        assert_eq!(
            err("p { a: b }\n\np, { a: b }"),
            Some("line 3: empty selector in a selector list".into())
        );
        assert_eq!(
            err("p\n{ a: b; co lor: c }"),
            Some("line 2: invalid property name `co lor`".into())
        );
        assert_eq!(
            err("@media x {\n p { a: b }\n .c { d: (e }\n}"),
            Some("line 1: unclosed `{` in at-rule".into())
        );
    }

    #[test]
    fn inlines_classes_and_tags_keeping_existing_style_last() {
        let s = sheet("p { margin: 0 }\n.note { color: red }\np.note { font-size: 14px }");
        let html =
            r#"<div class="note">x</div><p class=note style="color: blue;">y</p><P>z</P><br/>"#;
        assert_eq!(
            s.inline_classes(html),
            r#"<div class="note" style="color:red">x</div><p class=note style="margin:0;color:red;font-size:14px;color: blue">y</p><P style="margin:0">z</P><br/>"#
        );
    }

    #[test]
    fn inlining_leaves_head_comments_and_tera_alone() {
        let s = sheet("a { color: red }\n.x { margin: 0 }\ntitle { color: blue }");
        let html = concat!(
            "<head><title>{{ t }}</title><style>a { color: red }</style></head>\n",
            "<!-- <a class=\"x\"> -->{% if a > b %}<a href=\"{{ url | default(value=\"/\") }}\" class=\"x {{ extra }}\">{{ \"<a>\" }}</a>{% endif %}",
            "<img src={{ src }} class='x' style='border: 0' />"
        );
        let expected = concat!(
            "<head><title>{{ t }}</title><style>a { color: red }</style></head>\n",
            "<!-- <a class=\"x\"> -->{% if a > b %}<a href=\"{{ url | default(value=\"/\") }}\" class=\"x {{ extra }}\" style=\"color:red;margin:0\">{{ \"<a>\" }}</a>{% endif %}",
            "<img src={{ src }} class='x' style='margin:0;border: 0' />"
        );
        assert_eq!(s.inline_classes(html), expected);
    }

    #[test]
    fn memo_is_stable_across_calls() {
        let s = sheet(".a { color: red }\n.b { margin: 0 }");
        let first = s.style_for("td", &["a", "b"]).map(str::to_owned);
        assert_eq!(first.as_deref(), Some("color:red;margin:0"));
        assert_eq!(s.style_for("td", &["b", "a", "b"]), first.as_deref());
        assert_eq!(s.style_for("th", &["a", "b"]), first.as_deref());
    }
}
