//! The preflight rules, in one place: what `build` warns about, what `check` reports and what
//! config load refuses. One measure of the email's size with its thresholds, and one table of
//! the subject's placeholders (the same table fills the subject and refuses unknown names).

use crate::config::Config;
use crate::issue::{Issue, IssueId};
use crate::outgoing::compose;

/// Gmail clips a message whose HTML is larger than about 102 KB, hiding the rest (the
/// unsubscribe link included) behind "View entire message".
pub const GMAIL_CLIP_BYTES: usize = 102_000;

/// `build` and `check` warn from here on: a few more paragraphs or replies would reach the
/// clipping size.
pub const GMAIL_CLIP_WARN_BYTES: usize = 90_000;

/// Inbox lists cut subjects at about this many characters.
pub const SUBJECT_WARN_CHARS: usize = 78;

/// The size of an email's HTML part as sent (its encoded body, what Gmail's clipping counts),
/// for a recipient whose unsubscribe link is as long as [`compose::UNSUBSCRIBE_MARK`]. Measured on the
/// part itself, whatever the text of the issue holds.
pub fn html_part_len(html: &str) -> usize {
    compose::pieces_len(&compose::encode_pieces(html))
}

/// What `build` and `check` say about an image without alt text, in the same words.
pub fn missing_alt_text(src: &str) -> String {
    format!(
        "the image {src} has no alt text: readers whose mail client blocks images, and screen readers, get nothing"
    )
}

/// What `build` and `check` say about an email whose HTML part is `bytes` long as sent
/// ([`html_part_len`]): nothing up to [`GMAIL_CLIP_WARN_BYTES`], else the message and whether
/// Gmail clips it.
pub fn gmail_clipping(bytes: usize) -> Option<(bool, String)> {
    (bytes > GMAIL_CLIP_WARN_BYTES).then(|| {
        (
            bytes > GMAIL_CLIP_BYTES,
            format!(
                "the email's HTML is {bytes} bytes as sent; Gmail clips messages above about {GMAIL_CLIP_BYTES} bytes, hiding the rest and the unsubscribe link"
            ),
        )
    })
}

/// What a subject placeholder stands for.
type Fill = fn(&Config, &Issue) -> String;

/// The placeholders `newsletter.subject` may use, and what each stands for.
const SUBJECT_PLACEHOLDERS: &[(&str, Fill)] = &[
    ("title", |_, issue| issue.title.clone()),
    ("newsletter", |config, _| config.newsletter.title.clone()),
    ("issue", |_, issue| issue.id.to_string()),
    ("volume", |_, issue| issue.id.volume.to_string()),
    ("number", |_, issue| issue.id.number.to_string()),
];

/// The `{name}`s of a subject template, in order: (byte range of `{name}`, name). Braces around
/// anything but letters, digits and `_` are text.
fn placeholders(template: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = template[from..].find('{').map(|i| from + i) {
        let Some(close) = template[open + 1..].find('}').map(|i| open + 1 + i) else {
            break;
        };
        let name = &template[open + 1..close];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            found.push((open..close + 1, name));
        }
        from = close + 1;
    }
    found
}

/// The subject line of `issue`: `newsletter.subject` with its placeholders filled in.
pub fn subject(config: &Config, issue: &Issue) -> String {
    let template = &config.newsletter.subject;
    let mut out = String::with_capacity(template.len() + issue.title.len());
    let mut last = 0;
    for (range, name) in placeholders(template) {
        if let Some((_, value)) = SUBJECT_PLACEHOLDERS.iter().find(|(n, _)| *n == name) {
            out.push_str(&template[last..range.start]);
            out.push_str(&value(config, issue));
            last = range.end;
        }
    }
    out.push_str(&template[last..]);
    out
}

/// Why `newsletter.subject` cannot be used, if it cannot: a `{name}` dispatch does not know
/// would reach subscribers' inboxes as it is.
pub fn subject_template_error(template: &str) -> Option<String> {
    let unknown: Vec<String> = placeholders(template)
        .into_iter()
        .filter(|(_, name)| !SUBJECT_PLACEHOLDERS.iter().any(|(n, _)| n == name))
        .map(|(_, name)| format!("`{{{name}}}`"))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    let known: Vec<String> = SUBJECT_PLACEHOLDERS
        .iter()
        .map(|(n, _)| format!("{{{n}}}"))
        .collect();
    Some(format!(
        "{} {} not a placeholder dispatch knows: the subject can use {}",
        unknown.join(", "),
        if unknown.len() == 1 { "is" } else { "are" },
        known.join(", ")
    ))
}

/// Why a subject that does not name its issue is a problem, if it does not: replies are
/// matched to their issue by it.
pub fn subject_without_issue(subject: &str, issue: IssueId) -> Option<String> {
    let name = issue.to_string();
    (!subject.to_ascii_uppercase().contains(&name)).then(|| {
        format!(
            "the subject “{subject}” does not name the issue ({name}): replies are matched to their issue by it; keep `{{issue}}` in newsletter.subject"
        )
    })
}

/// Why a title is not ready to send, if it is still the one `dispatch new` writes without
/// `--title`.
pub fn placeholder_title(title: &str) -> Option<String> {
    (title.trim() == crate::issue::PLACEHOLDER_TITLE).then(|| {
        format!(
            "the title is still “{}”, the placeholder `dispatch new` writes: set `title:` in the front matter",
            crate::issue::PLACEHOLDER_TITLE
        )
    })
}

/// Why a subject is too long for inbox lists, if it is.
pub fn subject_too_long(subject: &str) -> Option<String> {
    let length = subject.chars().count();
    (length > SUBJECT_WARN_CHARS).then(|| {
        format!(
            "the subject is {length} characters long; inbox lists cut it after about {SUBJECT_WARN_CHARS}: “{subject}”"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_subject_placeholders_are_named() {
        assert_eq!(
            subject_template_error("{title}. {newsletter} {issue}"),
            None
        );
        assert_eq!(
            subject_template_error("{volume}.{number} {not a placeholder} {"),
            None
        );
        let e = subject_template_error("{title} {name} {issue_number} {").unwrap();
        assert!(
            e.starts_with("`{name}`, `{issue_number}` are not a placeholder dispatch knows"),
            "{e}"
        );
        assert!(
            e.ends_with("{title}, {newsletter}, {issue}, {volume}, {number}"),
            "{e}"
        );
    }

    #[test]
    fn subject_rules() {
        let id = IssueId::new(5, 2);
        assert_eq!(subject_without_issue("Notes v5n2", id), None);
        let e = subject_without_issue("Notes", id).unwrap();
        assert!(e.contains("does not name the issue (V5N2)"), "{e}");
        assert_eq!(subject_too_long(&"é".repeat(SUBJECT_WARN_CHARS)), None);
        let e = subject_too_long(&"é".repeat(SUBJECT_WARN_CHARS + 1)).unwrap();
        assert!(e.starts_with("the subject is 79 characters long"), "{e}");
        assert!(placeholder_title("Untitled").is_some());
        assert_eq!(placeholder_title("Untitled thoughts"), None);
    }

    #[test]
    fn placeholders_are_filled_once_and_text_braces_kept() {
        let config = Config::parse(
            std::path::Path::new("config.yaml"),
            "newsletter:\n  title: Notes\n  url: https://x/\n  from: ed@x.example\n  subject: \"{title} {not one} — {newsletter} {issue} ({volume}/{number})\"\n",
        )
        .unwrap();
        let issue = Issue::parse(
            std::path::Path::new("issues/v5n2.md"),
            "---\nvolume: 5\nnumber: 2\ntitle: \"A {newsletter} title\"\ndate: 2030-01-02\n---\nHi.\n",
        )
        .unwrap();
        assert_eq!(
            subject(&config, &issue),
            "A {newsletter} title {not one} — Notes V5N2 (5/2)"
        );
    }
}
