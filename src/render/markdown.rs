//! Markdown to HTML.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::css::Stylesheet;

#[derive(Debug, Clone, Default)]
pub struct Outline {
    pub images_without_alt: Vec<(usize, String)>,
    /// Every link: (Markdown line, destination).
    pub links: Vec<(usize, String)>,
    pub first_paragraph_text: String,
}

pub fn parser(md: &str) -> Parser<'_> {
    Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
}

pub fn to_web_html(md: &str) -> String {
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser(md));
    out
}

pub fn to_email_html(md: &str, _css: &Stylesheet) -> String {
    to_web_html(md)
}

/// What the checks need to know of an issue's Markdown, with 1-based Markdown line numbers
/// (add [`crate::issue::Issue::body_line_offset`] for file lines).
pub fn outline(md: &str) -> Outline {
    let lines = LineIndex::new(md);
    let mut o = Outline::default();
    // The alt text of the image being read: (line, src, text so far).
    let mut image: Option<(usize, String, String)> = None;
    let mut paragraph = ParagraphText::default();
    for (event, range) in parser(md).into_offset_iter() {
        let line = lines.line_of(range.start);
        paragraph.feed(&event);
        match event {
            Event::Start(Tag::Link { dest_url, .. }) => o.links.push((line, dest_url.to_string())),
            Event::Start(Tag::Image { dest_url, .. }) => {
                image = Some((line, dest_url.to_string(), String::new()));
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, _, alt)) = image.as_mut() {
                    alt.push_str(&text);
                }
            }
            Event::End(TagEnd::Image) => {
                if let Some((line, src, alt)) = image.take()
                    && alt.trim().is_empty()
                {
                    o.images_without_alt.push((line, src));
                }
            }
            _ => {}
        }
    }
    o.first_paragraph_text = paragraph.text;
    o
}

/// Collects the text of the first top-level paragraph.
#[derive(Default)]
struct ParagraphText {
    text: String,
    depth: usize,
    inside: bool,
    done: bool,
}

impl ParagraphText {
    fn feed(&mut self, event: &Event<'_>) {
        if self.done {
            return;
        }
        match event {
            Event::Start(Tag::Paragraph) if self.depth == 0 => self.inside = true,
            Event::End(TagEnd::Paragraph) if self.inside => {
                self.inside = false;
                self.done = !self.text.trim().is_empty();
            }
            // Quotes and lists are not the opening words of an issue.
            Event::Start(Tag::BlockQuote(_) | Tag::List(_)) => self.depth += 1,
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_)) => {
                self.depth = self.depth.saturating_sub(1)
            }
            Event::Text(t) | Event::Code(t) if self.inside => self.text.push_str(t),
            Event::SoftBreak | Event::HardBreak if self.inside => self.text.push(' '),
            _ => {}
        }
    }
}

/// Byte offsets to 1-based line numbers.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let breaks = text.match_indices('\n').map(|(i, _)| i + 1);
        LineIndex {
            starts: std::iter::once(0).chain(breaks).collect(),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_has_lines_links_images_and_first_paragraph() {
        let md = "> a quote first\n\nHello *there*\nfriend.\n\n[one](https://a.example/1)\n\n\
                  ![](https://a.example/x.png) ![A chart](https://a.example/c.png)\n\n\
                  Text with [two](https://a.example/2)\nand [one](https://a.example/1) again.\n";
        let o = outline(md);
        assert_eq!(o.first_paragraph_text, "Hello there friend.");
        assert_eq!(
            o.links,
            [
                (6, "https://a.example/1".to_string()),
                (10, "https://a.example/2".to_string()),
                (11, "https://a.example/1".to_string()),
            ]
        );
        assert_eq!(
            o.images_without_alt,
            [(8, "https://a.example/x.png".to_string())]
        );
    }
}
