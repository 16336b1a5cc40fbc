//! Markdown to HTML.

use pulldown_cmark::{Event, Options, Parser, Tag};

use super::css::Stylesheet;

#[derive(Debug, Clone, Default)]
pub struct Outline {
    pub images_without_alt: Vec<(usize, String)>,
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

pub fn outline(md: &str) -> Outline {
    let mut o = Outline::default();
    for e in parser(md) {
        if let Event::Start(Tag::Link { dest_url, .. }) = e {
            o.links.push((0, dest_url.to_string()));
        }
    }
    o
}
