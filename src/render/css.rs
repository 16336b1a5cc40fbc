//! The email stylesheet: simple rules applied as inline styles.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CssError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Stylesheet {
    rules: HashMap<String, String>,
    head: String,
}

impl Stylesheet {
    pub fn parse(css: &str) -> Result<Stylesheet, CssError> {
        let mut sheet = Stylesheet::default();
        let mut rest = css;
        while let Some(open) = rest.find('{') {
            let selector = rest[..open].trim();
            let close = rest[open..].find('}').ok_or(CssError {
                line: css[..css.len() - rest.len() + open].lines().count(),
                message: "a rule has no closing `}`".into(),
            })? + open;
            let body = rest[open + 1..close].trim();
            for s in selector.split(',') {
                sheet
                    .rules
                    .entry(s.trim().to_string())
                    .or_default()
                    .push_str(body);
            }
            rest = &rest[close + 1..];
        }
        sheet.head = String::new();
        Ok(sheet)
    }

    pub fn head_css(&self) -> &str {
        &self.head
    }

    pub fn style_for(&self, tag: &str, classes: &[&str]) -> Option<&str> {
        classes
            .iter()
            .find_map(|c| self.rules.get(&format!(".{c}")))
            .or_else(|| self.rules.get(tag))
            .map(String::as_str)
    }

    pub fn inline_classes(&self, html: &str) -> String {
        html.to_string()
    }
}
