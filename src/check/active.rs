//! Active content in the email: `<script>` elements, and links or sources whose scheme runs
//! code or carries a whole document (`javascript:`, `vbscript:`, `data:`). Mail clients strip
//! or block them, spam filters hold them against the sender, and the web archive would run
//! them. Found by tokenizing the rendered HTML, so entities, letter case and raw HTML in the
//! issue hide nothing.

use std::cell::RefCell;

use html5ever::tokenizer::{StartTag, TagToken, Token, TokenSink, TokenSinkResult};

/// Schemes that run code or embed a document instead of pointing at one.
const SCHEMES: &[&str] = &["javascript:", "vbscript:", "data:"];

/// Attributes whose value is a URL that a browser follows or loads.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "background",
    "poster",
    "cite",
    "data",
    "lowsrc",
    "dynsrc",
];

/// One piece of active content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Active {
    Script,
    /// A URL attribute with one of [`SCHEMES`]: the element, the attribute and its value.
    Url {
        element: String,
        attribute: String,
        value: String,
    },
}

impl Active {
    /// An image that is only a `data:` picture: shown by few mail clients, harmful in none.
    pub fn is_data_image(&self) -> bool {
        matches!(self, Active::Url { element, attribute, value }
            if element == "img" && attribute == "src" && scheme(value) == Some("data:"))
    }
}

/// The scheme of `value` among [`SCHEMES`], read as a browser does: surrounding spaces and
/// control characters, tabs and newlines anywhere, and letter case do not count.
fn scheme(value: &str) -> Option<&'static str> {
    let squashed: String = value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    SCHEMES.iter().copied().find(|s| squashed.starts_with(s))
}

#[derive(Default)]
struct Sink {
    found: RefCell<Vec<Active>>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let TagToken(tag) = token
            && tag.kind == StartTag
        {
            let mut found = self.found.borrow_mut();
            if &*tag.name == "script" {
                found.push(Active::Script);
            }
            for attr in &tag.attrs {
                let name = &*attr.name.local;
                let values: Vec<&str> = if name == "srcset" {
                    attr.value.split(',').collect()
                } else if URL_ATTRIBUTES.contains(&name) {
                    vec![&attr.value]
                } else {
                    Vec::new()
                };
                for value in values {
                    if scheme(value).is_some() {
                        found.push(Active::Url {
                            element: tag.name.to_string(),
                            attribute: name.to_string(),
                            value: value.trim().to_string(),
                        });
                    }
                }
            }
        }
        TokenSinkResult::Continue
    }
}

/// Every piece of active content in `html`, in document order.
pub fn find(html: &str) -> Vec<Active> {
    crate::html::tokenize(html, Sink::default()).found.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(element: &str, attribute: &str, value: &str) -> Active {
        Active::Url {
            element: element.into(),
            attribute: attribute.into(),
            value: value.into(),
        }
    }

    #[test]
    fn scripts_and_active_schemes_are_found_however_written() {
        // A srcset is split at its commas: a data: candidate is found by its start.
        let html = r#"<p><a href="https://example.org/">fine</a>
<a href="javascript:alert(1)">x</a> <A HREF=" JaVa&#x09;ScRiPt:alert(2)">y</A>
<a href="&#106;avascript:alert(3)">z</a> <img src="data:image/png;base64,AAAA" alt="">
<form action="vbscript:msgbox(1)"></form> <img srcset="a.png 1x, data:image/png;base64,BB 2x">
<SCRIPT>alert(4)</SCRIPT> <img alt="data: the numbers" src="https://example.org/c.png"></p>"#;
        assert_eq!(
            find(html),
            vec![
                url("a", "href", "javascript:alert(1)"),
                url("a", "href", "JaVa\tScRiPt:alert(2)"),
                url("a", "href", "javascript:alert(3)"),
                url("img", "src", "data:image/png;base64,AAAA"),
                url("form", "action", "vbscript:msgbox(1)"),
                url("img", "srcset", "data:image/png;base64"),
                Active::Script,
            ]
        );
        assert!(find(html)[3].is_data_image());
        assert!(!find(html)[0].is_data_image());
    }
}
