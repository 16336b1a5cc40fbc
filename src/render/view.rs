//! The borrowed view structs the templates receive.

use serde::Serialize;

use super::Templates;
use super::markdown::{self, Outline};
use crate::config::Config;
use crate::issue::{Issue, Issues};
use crate::store::replies::Published;

/// Invisible characters after the preheader keep mail clients from filling the inbox preview
/// with the start of the body.
pub const PREHEADER_PADDING: &str = "&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;";

#[derive(Serialize)]
pub struct NewsletterView<'a> {
    pub title: &'a str,
    pub tagline: Option<&'a str>,
    pub url: String,
    pub reply_to: String,
    pub author: String,
    /// Where the signup form posts (`{host.url}subscribe`), when a host is configured.
    pub subscribe_url: Option<String>,
}

impl<'a> NewsletterView<'a> {
    pub fn new(config: &'a Config) -> Self {
        let n = &config.newsletter;
        let from = crate::address::Mailbox::parse(&n.from).ok();
        NewsletterView {
            title: &n.title,
            tagline: n.tagline.as_deref().filter(|t| !t.trim().is_empty()),
            url: config.base_url(),
            reply_to: config.reply_to(),
            author: from.and_then(|m| m.name).unwrap_or_else(|| n.title.clone()),
            subscribe_url: config.host_url().map(|url| format!("{url}subscribe")),
        }
    }
}

/// `14 May 2019`.
pub fn long_date(date: chrono::NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// The inbox preview: the front matter's preheader, or the start of the first paragraph.
pub fn preheader(issue: &Issue, outline: &Outline) -> String {
    if let Some(p) = &issue.preheader {
        return p.clone();
    }
    let text = outline.first_paragraph_text.trim();
    if text.chars().count() <= 140 {
        return text.to_string();
    }
    let cut: String = text.chars().take(140).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{cut}…")
}

#[derive(Serialize)]
pub struct IssueView<'a> {
    pub name: String,
    pub slug: String,
    pub volume: u32,
    pub number: u32,
    pub title: &'a str,
    pub date: String,
    pub date_long: String,
    pub subject: String,
    pub preheader: String,
    pub question: Option<&'a str>,
    pub replies_note: Option<&'a str>,
    pub url: String,
    pub body_email: String,
    pub body_web: String,
    pub body_text: String,
}

impl<'a> IssueView<'a> {
    pub fn full(
        config: &Config,
        issue: &'a Issue,
        templates: &Templates,
        outline: &Outline,
    ) -> Self {
        let bodies = markdown::render_all(&issue.body, &templates.css, super::TEXT_WIDTH);
        IssueView {
            name: issue.id.to_string(),
            slug: issue.id.slug(),
            volume: issue.id.volume,
            number: issue.id.number,
            title: &issue.title,
            date: issue.date.to_string(),
            date_long: long_date(issue.date),
            subject: crate::preflight::subject(config, issue),
            preheader: preheader(issue, outline),
            question: issue.question.as_deref(),
            replies_note: issue.replies_note.as_deref(),
            url: issue_url(config, issue),
            body_email: bodies.email_html,
            body_web: bodies.web_html,
            body_text: bodies.text,
        }
    }
}

pub fn issue_url(config: &Config, issue: &Issue) -> String {
    format!("{}{}/", config.base_url(), issue.id.slug())
}

#[derive(Serialize)]
pub struct ReplyView {
    pub name: String,
    pub text: String,
    pub email_html: String,
    pub web_html: String,
    pub note: Option<String>,
}

impl ReplyView {
    pub fn new(reply: &Published, css: &super::css::Stylesheet) -> Self {
        let text = super::reply::without_controls(&reply.text);
        ReplyView {
            name: super::reply::name_line(&reply.name),
            email_html: super::reply::to_html(&text, Some(css)),
            web_html: super::reply::to_html(&text, None),
            text,
            note: reply.note.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct IssueLink<'a> {
    pub name: String,
    pub slug: String,
    pub title: &'a str,
}

impl<'a> IssueLink<'a> {
    pub fn new(issue: &'a Issue) -> Self {
        IssueLink {
            name: issue.id.to_string(),
            slug: issue.id.slug(),
            title: &issue.title,
        }
    }
}

#[derive(Serialize)]
pub struct PageView<'a> {
    pub newsletter: &'a NewsletterView<'a>,
    pub issue: &'a IssueView<'a>,
    pub previous_question: Option<&'a str>,
    pub replies: &'a [ReplyView],
    pub unsubscribe_url: &'a str,
    pub head_css: &'a str,
    pub preheader_padding: &'a str,
    pub older: Option<IssueLink<'a>>,
    pub newer: Option<IssueLink<'a>>,
}

#[derive(Serialize)]
pub struct ArchiveEntry<'a> {
    pub name: String,
    pub slug: String,
    pub title: &'a str,
    pub date: String,
    pub date_long: String,
    pub preheader: Option<&'a str>,
}

#[derive(Serialize)]
pub struct VolumeView<'a> {
    pub volume: u32,
    pub issues: Vec<ArchiveEntry<'a>>,
}

impl<'a> VolumeView<'a> {
    /// Newest volume first, newest issue first within it.
    pub fn group(issues: &'a Issues) -> Vec<VolumeView<'a>> {
        let mut volumes: Vec<VolumeView<'a>> = Vec::new();
        for issue in issues.iter().rev() {
            let entry = ArchiveEntry {
                name: issue.id.to_string(),
                slug: issue.id.slug(),
                title: &issue.title,
                date: issue.date.to_string(),
                date_long: long_date(issue.date),
                preheader: issue.preheader.as_deref(),
            };
            match volumes.last_mut() {
                Some(v) if v.volume == issue.id.volume => v.issues.push(entry),
                _ => volumes.push(VolumeView {
                    volume: issue.id.volume,
                    issues: vec![entry],
                }),
            }
        }
        volumes
    }
}

#[derive(Serialize)]
pub struct IndexView<'a> {
    pub newsletter: &'a NewsletterView<'a>,
    pub volumes: Vec<VolumeView<'a>>,
}

#[derive(Serialize)]
pub struct FeedEntryView<'a> {
    pub name: String,
    pub title: &'a str,
    pub url: String,
    pub timestamp: String,
    pub preheader: Option<&'a str>,
    pub body_web: String,
}

impl<'a> FeedEntryView<'a> {
    pub fn new(config: &Config, issue: &'a Issue) -> Self {
        FeedEntryView {
            name: issue.id.to_string(),
            title: &issue.title,
            url: issue_url(config, issue),
            timestamp: format!("{}T00:00:00Z", issue.date),
            preheader: issue.preheader.as_deref(),
            body_web: markdown::to_web_html(&issue.body),
        }
    }
}

#[derive(Serialize)]
pub struct FeedView<'a> {
    pub newsletter: &'a NewsletterView<'a>,
    pub feed_issues: Vec<FeedEntryView<'a>>,
    pub updated: String,
}

#[cfg(test)]
mod tests {
    /// The fields of every `#[derive(Serialize)]` struct in `source`, by struct name.
    fn view_structs(source: &str) -> Vec<(String, Vec<String>)> {
        let mut structs = Vec::new();
        let mut lines = source.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "#[derive(Serialize)]" {
                continue;
            }
            let header = lines.next().unwrap();
            let name = header
                .trim()
                .trim_start_matches("pub ")
                .trim_start_matches("struct ")
                .split(['<', ' '])
                .next()
                .unwrap()
                .to_string();
            let fields = lines
                .by_ref()
                .take_while(|l| l.trim() != "}")
                .map(|l| l.trim())
                .filter(|l| !l.starts_with("//") && !l.starts_with('#'))
                .filter_map(|l| l.trim_start_matches("pub ").split_once(':'))
                .map(|(field, _)| field.to_string())
                .collect();
            structs.push((name, fields));
        }
        structs
    }

    /// The variables docs/templates.md lists in the section whose heading names `(`Struct`)`.
    fn documented(doc: &str, name: &str) -> Option<Vec<String>> {
        let marker = format!("(`{name}`)");
        let mut lines = doc.lines();
        lines.find(|l| l.starts_with('#') && l.contains(&marker))?;
        Some(
            lines
                .take_while(|l| !l.starts_with('#'))
                .filter_map(|l| l.strip_prefix("| `")?.split_once('`'))
                .map(|(field, _)| field.to_string())
                .collect(),
        )
    }

    #[test]
    fn docs_templates_md_lists_every_variable_the_templates_receive() {
        let doc = include_str!("../../docs/templates.md");
        // The archive's views and the host's (its pages, confirmation and welcome mails).
        let mut structs = view_structs(include_str!("view.rs"));
        structs.extend(view_structs(include_str!("../host/mail.rs")));
        assert!(structs.len() >= 13, "view structs not found: {structs:?}");
        for (name, fields) in structs {
            let listed = documented(doc, &name)
                .unwrap_or_else(|| panic!("docs/templates.md has no section for `{name}`"));
            for field in &fields {
                assert!(
                    listed.contains(field),
                    "docs/templates.md does not list `{field}` of {name}"
                );
            }
            for variable in &listed {
                assert!(
                    fields.contains(variable),
                    "docs/templates.md lists `{variable}` under {name}, which has no such field"
                );
            }
        }
    }
}
