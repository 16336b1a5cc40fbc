//! Markdown to plain text.

pub fn to_plain_text(md: &str, _width: usize) -> String {
    md.to_string()
}
