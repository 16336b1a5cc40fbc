//! `dispatch check`: the preflight of one issue before it is sent.
//!
//! The issue is rendered by [`crate::build::render_one`], the code `build` and `send` use, so
//! what is checked is what subscribers would get. Everything but the links is checked without
//! the network.

mod active;

use std::path::{Path, PathBuf};

use crate::config::{Config, find_key_line};
use crate::issue::Issue;
use crate::links::check::{
    CheckOptions, LinkReport, Outcome, check_client, check_links, checkable_url,
};
use crate::newsletter::Newsletter;
use crate::outgoing::compose::UNSUBSCRIBE_MARK;
use crate::render::{RenderedIssue, Templates};
use crate::store::Store;

/// How serious a finding is; `Error` stops the issue from being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// Where a finding is: a file, and a line when there is one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub path: PathBuf,
    pub line: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub place: Option<Place>,
    pub message: String,
}

impl Finding {
    fn new(severity: Severity, place: Option<Place>, message: String) -> Self {
        Finding {
            severity,
            place,
            message,
        }
    }
}

/// Orders findings by severity, then by file and line; equal places keep their order.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| (a.severity, &a.place).cmp(&(b.severity, &b.place)));
}

/// One issue, rendered and ready to be checked.
pub struct Preflight {
    pub issue: Issue,
    pub rendered: RenderedIssue,
    /// Every image of the issue: (Markdown line, src).
    images: Vec<(usize, String)>,
    /// The approved replies to the previous issue, which this one publishes.
    replies: Vec<crate::store::replies::Published>,
    config: Config,
    config_path: PathBuf,
    config_source: String,
    templates_dir: PathBuf,
}

impl Preflight {
    /// Loads and renders the issue named `name` (V5N2, v5n2 or 5.2).
    pub fn prepare(newsletter: &Newsletter, name: &str) -> anyhow::Result<Preflight> {
        let issues = newsletter.load_issues()?;
        let issue = issues.find(name)?;
        let templates = Templates::load(&newsletter.templates_dir())?;
        let store = Store::open_existing_read_only(&newsletter.database_path())?;
        let rendered =
            crate::build::render_one(newsletter, &templates, &issues, store.as_ref(), issue)?;
        let config_path = newsletter.dir.join("config.yaml");
        let replies = match (&store, issues.previous(issue.id)) {
            (Some(store), Some(previous)) => store.approved_replies(previous.id)?,
            _ => Vec::new(),
        };
        Ok(Preflight {
            images: images(&issue.body),
            replies,
            issue: issue.clone(),
            rendered,
            config: newsletter.config.clone(),
            config_source: std::fs::read_to_string(&config_path).unwrap_or_default(),
            config_path,
            templates_dir: newsletter.templates_dir(),
        })
    }

    /// Everything that needs no network.
    pub fn offline_findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        findings.extend(self.unlinkable_targets());
        findings.extend(self.active_content());
        findings.extend(self.images_without_alt());
        findings.extend(self.size());
        findings.extend(self.subject());
        findings.extend(self.reply_address());
        findings.extend(self.template_leftovers());
        findings.extend(self.unsubscribe_link());
        findings.extend(self.preheader());
        findings.extend(self.missing_replies());
        findings
    }

    /// The size of the email's HTML part as it is sent (quoted-printable), which is what
    /// Gmail measures.
    pub fn encoded_html_bytes(&self) -> usize {
        crate::preflight::html_part_len(&self.rendered.email_html)
    }

    /// The distinct web addresses of the issue's links and images, the ones worth a request.
    pub fn web_targets(&self) -> Vec<String> {
        let mut urls: Vec<String> = self
            .targets()
            .filter(|t| checkable_url(t.url).is_ok())
            .map(|t| t.url.to_string())
            .collect();
        let mut seen = std::collections::HashSet::new();
        urls.retain(|u| seen.insert(u.clone()));
        urls
    }

    /// Checks every link and image over HTTP.
    pub async fn link_findings(
        &self,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Vec<Finding>> {
        let client = check_client(timeout)?;
        let opts = CheckOptions {
            timeout,
            ..CheckOptions::default()
        };
        let reports = check_links(&client, &self.web_targets(), &opts).await;
        Ok(self.findings_for(&reports))
    }

    /// Turns link reports into findings, one per place the link appears.
    pub fn findings_for(&self, reports: &[LinkReport]) -> Vec<Finding> {
        let mut findings = Vec::new();
        for target in self.targets() {
            let Some(report) = reports.iter().find(|r| r.url == target.url) else {
                continue;
            };
            if let Some((severity, message)) = describe_outcome(&target, &report.outcome) {
                findings.push(Finding::new(
                    severity,
                    Some(self.body_place(target.line)),
                    message,
                ));
            }
        }
        findings
    }

    /// Links and images in the order of the Markdown.
    fn targets(&self) -> impl Iterator<Item = Target<'_>> {
        let outline = &self.rendered.outline;
        let links = outline.links.iter().map(|(line, url)| Target {
            kind: "link",
            line: *line,
            url,
        });
        let images = self.images.iter().map(|(line, url)| Target {
            kind: "image",
            line: *line,
            url,
        });
        links.chain(images)
    }

    fn body_place(&self, markdown_line: usize) -> Place {
        Place {
            path: self.issue.path.clone(),
            line: Some(markdown_line + self.issue.body_line_offset),
        }
    }

    /// A line of the issue file (counted from the top of the file, front matter included).
    fn issue_line(&self, line: usize) -> Place {
        Place {
            path: self.issue.path.clone(),
            line: Some(line),
        }
    }

    fn issue_place(&self) -> Place {
        Place {
            path: self.issue.path.clone(),
            line: None,
        }
    }

    fn config_place(&self, key: &str) -> Place {
        Place {
            path: self.config_path.clone(),
            line: find_key_line(&self.config_source, key).map(|l| l as usize),
        }
    }

    fn template_place(&self, name: &str) -> Place {
        Place {
            path: self.templates_dir.join(name),
            line: None,
        }
    }

    /// Links that cannot work in an email whatever the network says: relative ones, and
    /// addresses that do not parse.
    fn unlinkable_targets(&self) -> Vec<Finding> {
        self.targets()
            .filter(|t| !t.url.starts_with('#'))
            .filter_map(|t| {
                let outcome = checkable_url(t.url).err()?;
                let (severity, message) = match outcome {
                    Outcome::Skipped { reason } if reason == "relative URL" => (
                        Severity::Warning,
                        format!(
                            "the {} `{}` is relative: it goes nowhere in an email; write the full https:// address",
                            t.kind, t.url
                        ),
                    ),
                    Outcome::Failed { reason } => {
                        (Severity::Error, format!("the {} `{}`: {reason}", t.kind, t.url))
                    }
                    _ => return None,
                };
                Some(Finding::new(severity, Some(self.body_place(t.line)), message))
            })
            .collect()
    }

    /// Scripts, and links or images whose scheme runs code or carries a document, anywhere in
    /// the email: in the Markdown, in raw HTML or in the template.
    fn active_content(&self) -> Vec<Finding> {
        let source = std::fs::read_to_string(&self.issue.path).unwrap_or_default();
        let template = std::fs::read_to_string(self.templates_dir.join("email.html"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut findings = Vec::new();
        for found in active::find(&self.rendered.email_html) {
            let (needle, severity, message) = match &found {
                active::Active::Script => (
                    "<script".to_string(),
                    Severity::Error,
                    "a <script> element: mail clients remove it, spam filters hold it against the sender, and the web archive would run it".to_string(),
                ),
                active::Active::Url { value, .. } if found.is_data_image() => (
                    value.clone(),
                    Severity::Warning,
                    format!(
                        "the image `{}` is a data: URL: most mail clients do not show it; host the image and link it with https://",
                        shorten(value, 60)
                    ),
                ),
                active::Active::Url {
                    element,
                    attribute,
                    value,
                } => (
                    value.clone(),
                    Severity::Error,
                    format!(
                        "`{}` (in <{element} {attribute}>) runs code or carries a document instead of pointing at a page: mail clients block it and spam filters hold it against the sender; link an https:// address",
                        shorten(value, 60)
                    ),
                ),
            };
            let needle = needle.to_ascii_lowercase();
            let line = source
                .lines()
                .position(|l| l.to_ascii_lowercase().contains(&needle));
            let place = match line {
                Some(i) => self.issue_line(i + 1),
                None if template.contains(&needle) => self.template_place("email.html"),
                None => self.issue_place(),
            };
            let finding = Finding::new(severity, Some(place), message);
            if !findings.contains(&finding) {
                findings.push(finding);
            }
        }
        findings
    }

    fn images_without_alt(&self) -> Vec<Finding> {
        self.rendered
            .outline
            .images_without_alt
            .iter()
            .map(|(line, src)| {
                Finding::new(
                    Severity::Warning,
                    Some(self.body_place(*line)),
                    crate::preflight::missing_alt_text(src),
                )
            })
            .collect()
    }

    fn size(&self) -> Option<Finding> {
        let (clipped, message) = crate::preflight::gmail_clipping(self.encoded_html_bytes())?;
        let severity = if clipped {
            Severity::Error
        } else {
            Severity::Warning
        };
        Some(Finding::new(severity, Some(self.issue_place()), message))
    }

    fn subject(&self) -> Vec<Finding> {
        let subject = &self.rendered.subject;
        let mut findings = Vec::new();
        // Unknown placeholders never get here: config load refuses them.
        if let Some(message) = crate::preflight::subject_without_issue(subject, self.issue.id) {
            let place = Some(self.config_place("newsletter.subject"));
            findings.push(Finding::new(Severity::Warning, place, message));
        }
        if let Some(message) = crate::preflight::placeholder_title(&self.issue.title) {
            findings.push(Finding::new(
                Severity::Warning,
                Some(self.issue_place()),
                message,
            ));
        }
        if let Some(message) = crate::preflight::subject_too_long(subject) {
            findings.push(Finding::new(
                Severity::Warning,
                Some(self.issue_place()),
                message,
            ));
        }
        findings
    }

    fn reply_address(&self) -> Option<Finding> {
        let address = self.config.reply_to();
        if !is_noreply(&address) {
            return None;
        }
        let key = if self.config.newsletter.reply_to.is_some() {
            "newsletter.reply_to"
        } else {
            "newsletter.from"
        };
        let place = Some(self.config_place(key));
        let finding = match &self.issue.question {
            Some(question) => Finding::new(
                Severity::Error,
                place,
                format!(
                    "the issue asks “{question}” but replies go to {address}, which nobody reads: set newsletter.reply_to to the editor's address"
                ),
            ),
            None => Finding::new(
                Severity::Warning,
                place,
                format!(
                    "replies go to {address}, which nobody reads, while the email invites readers to hit reply: set newsletter.reply_to"
                ),
            ),
        };
        Some(finding)
    }

    /// Approved replies the email leaves out: a template (copied into the folder by an
    /// earlier `init`) that shows replies only under a question drops those to an issue that
    /// asked none. A reply counts as shown in a part when the start of its text is there
    /// (escaped, in the HTML).
    fn missing_replies(&self) -> Vec<Finding> {
        let text = collapse(&self.rendered.email_text);
        let html = collapse(&self.rendered.email_html);
        self.replies
            .iter()
            .filter_map(|reply| {
                let start = collapse(&crate::render::reply::without_controls(&reply.text));
                let start: String = start.chars().take(40).collect();
                let mut escaped = String::new();
                pulldown_cmark_escape::escape_html(&mut escaped, &start).ok()?;
                let template = if !text.contains(&start) {
                    "email.txt"
                } else if !html.contains(&escaped) {
                    "email.html"
                } else {
                    return None;
                };
                Some((reply, template))
            })
            .map(|(reply, template)| {
                Finding::new(
                    Severity::Warning,
                    Some(self.template_place(template)),
                    format!(
                        "approved reply #{} ({}) is not in the email: a template that shows replies only after `previous_question` leaves out replies to an issue that asked none (the default templates show them under “Last time, some of you wrote back.”)",
                        reply.id,
                        crate::address::escape_controls(&reply.name)
                    ),
                )
            })
            .collect()
    }

    /// Template syntax left in what subscribers would read.
    fn template_leftovers(&self) -> Vec<Finding> {
        let code = code_texts(&self.issue.body);
        let html = strip_elements(
            &self.rendered.email_html,
            &["style", "script", "pre", "code"],
        );
        let text = remove_all(&self.rendered.email_text, &code);
        let source = std::fs::read_to_string(&self.issue.path).unwrap_or_default();
        let mut findings = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (part, template, leftovers) in [
            ("HTML", "email.html", leftover_markers(&html)),
            ("text", "email.txt", leftover_markers(&text)),
        ] {
            for snippet in leftovers {
                if !seen.insert(snippet.clone()) {
                    continue;
                }
                // The editor's own text is found in the issue file; anything else came from
                // a template.
                let place = match line_containing(&source, &snippet) {
                    Some(line) => self.issue_line(line),
                    None => self.template_place(template),
                };
                findings.push(Finding::new(
                    Severity::Error,
                    Some(place),
                    format!(
                        "unresolved template variable `{snippet}` in the email's {part}: dispatch does not fill it in"
                    ),
                ));
            }
        }
        findings
    }

    fn unsubscribe_link(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (part, template, rendered) in [
            ("HTML", "email.html", &self.rendered.email_html),
            ("plain text", "email.txt", &self.rendered.email_text),
        ] {
            if !rendered.contains(UNSUBSCRIBE_MARK) {
                findings.push(Finding::new(
                    Severity::Error,
                    Some(self.template_place(template)),
                    format!(
                        "the email's {part} has no unsubscribe link: put {{{{ unsubscribe_url }}}} in the template"
                    ),
                ));
            }
        }
        // With a host: section and no unsubscribe_url, the links point at `dispatch host`.
        if self.config.newsletter.unsubscribe_url.is_none() && self.config.host_url().is_none() {
            findings.push(Finding::new(
                Severity::Note,
                Some(self.config_place("newsletter")),
                "no newsletter.unsubscribe_url and no host: section: readers unsubscribe by email only, without one-click unsubscribe (RFC 8058), which Gmail and Yahoo expect of bulk senders (docs/hosting.md runs the host that answers it)".to_string(),
            ));
        }
        findings
    }

    fn preheader(&self) -> Option<Finding> {
        self.issue.preheader.is_none().then(|| {
            Finding::new(
                Severity::Note,
                Some(self.issue_place()),
                "no preheader: the inbox preview shows the start of the first paragraph"
                    .to_string(),
            )
        })
    }
}

/// A link or an image of the issue.
struct Target<'a> {
    kind: &'static str,
    line: usize,
    url: &'a str,
}

/// What a link's outcome means for the editor; `None` when all is well or it was not checked.
fn describe_outcome(target: &Target<'_>, outcome: &Outcome) -> Option<(Severity, String)> {
    let (kind, url) = (target.kind, target.url);
    match outcome {
        Outcome::Ok { .. } | Outcome::Skipped { .. } => None,
        Outcome::Broken { status } => Some((
            Severity::Error,
            format!("broken {kind}: {url} answers HTTP {}", status_text(*status)),
        )),
        Outcome::Failed { reason } => Some((
            Severity::Error,
            format!("broken {kind}: {url} cannot be reached: {reason}"),
        )),
        Outcome::Redirected {
            final_url,
            permanent: true,
            ..
        } => Some((
            Severity::Warning,
            format!(
                "the {kind} {url} has moved: it redirects permanently to {final_url}; link that instead"
            ),
        )),
        Outcome::Redirected { final_url, .. } => Some((
            Severity::Note,
            format!("the {kind} {url} redirects to {final_url}"),
        )),
    }
}

fn status_text(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// Whether an address is one nobody reads: noreply@, no-reply@, do_not_reply@ and the like.
pub fn is_noreply(address: &str) -> bool {
    let email = crate::address::Mailbox::parse(address)
        .map(|m| m.email)
        .unwrap_or_else(|_| address.to_string());
    let local = email.rsplit_once('@').map_or(email.as_str(), |(l, _)| l);
    let squashed: String = local
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    squashed.contains("noreply") || squashed.contains("donotreply")
}

/// Pieces of template syntax (`{{ … }}`, `{% … %}`, or a stray `}}` / `%}`) in `text`, as
/// short snippets in order of appearance.
fn leftover_markers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some((at, marker)) = first_marker(rest) {
            let end = match marker {
                "{{" | "{%" => {
                    let close = if marker == "{{" { "}}" } else { "%}" };
                    rest[at + 2..]
                        .find(close)
                        .map_or(rest.len(), |c| at + 2 + c + 2)
                }
                _ => at + 2,
            };
            let start = if matches!(marker, "}}" | "%}") {
                start_of_word(rest, at)
            } else {
                at
            };
            let snippet = shorten(rest[start..end].trim(), 60);
            if !found.contains(&snippet) {
                found.push(snippet);
            }
            rest = &rest[end..];
        }
    }
    found
}

fn first_marker(text: &str) -> Option<(usize, &'static str)> {
    ["{{", "{%", "}}", "%}"]
        .into_iter()
        .filter_map(|m| text.find(m).map(|at| (at, m)))
        .min_by_key(|(at, _)| *at)
}

/// Where the word before a stray closer starts, so the snippet shows what it closes.
fn start_of_word(text: &str, at: usize) -> usize {
    text[..at]
        .trim_end()
        .rfind(char::is_whitespace)
        .map_or(0, |i| i + 1)
}

/// `text` with every run of whitespace made one space, as wrapping may have moved it.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

/// Every image of the Markdown: (1-based line, src).
fn images(md: &str) -> Vec<(usize, String)> {
    use pulldown_cmark::{Event, Tag};
    crate::render::markdown::parser(md)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Image { dest_url, .. }) => {
                let line = md[..range.start].matches('\n').count() + 1;
                Some((line, dest_url.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The contents of the Markdown's code spans and code block lines: template syntax there
/// is the editor's subject, not a leftover.
fn code_texts(md: &str) -> Vec<String> {
    use pulldown_cmark::{CodeBlockKind, Event, Tag, TagEnd};
    let mut code = Vec::new();
    let mut in_block = false;
    for event in crate::render::markdown::parser(md) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_) | CodeBlockKind::Indented)) => {
                in_block = true
            }
            Event::End(TagEnd::CodeBlock) => in_block = false,
            Event::Code(text) => code.push(text.to_string()),
            Event::Text(text) if in_block => code.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            ),
            _ => {}
        }
    }
    code
}

fn remove_all(text: &str, pieces: &[String]) -> String {
    pieces.iter().fold(text.to_string(), |acc, piece| {
        acc.replace(piece.as_str(), "")
    })
}

/// `html` without the named elements and their contents (tag names matched case-insensitively).
fn strip_elements(html: &str, tags: &[&str]) -> String {
    tags.iter()
        .fold(html.to_string(), |acc, tag| strip_element(&acc, tag))
}

fn strip_element(html: &str, tag: &str) -> String {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(html.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find(&open) {
        let start = from + found;
        let after_name = lower.as_bytes().get(start + open.len()).copied();
        if !matches!(after_name, Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/')) {
            // `<codex>` is not `<code>`: keep it and look further.
            out.push_str(&html[from..start + open.len()]);
            from = start + open.len();
            continue;
        }
        out.push_str(&html[from..start]);
        from = lower[start..]
            .find(&close)
            .map_or(html.len(), |end| start + end + close.len());
    }
    out.push_str(&html[from..]);
    out
}

/// The 1-based line of `source` where `needle` first appears.
fn line_containing(source: &str, needle: &str) -> Option<usize> {
    let needle = needle.trim_end_matches('…');
    source
        .lines()
        .position(|line| line.contains(needle))
        .map(|i| i + 1)
}

/// Displays a place relative to the newsletter folder: `issues/v1n2.md:12`.
pub fn display_place(dir: &Path, place: &Place) -> String {
    let path = place
        .path
        .strip_prefix(dir)
        .unwrap_or(&place.path)
        .display();
    match place.line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noreply_addresses() {
        for a in [
            "noreply@x.example",
            "no-reply@x.example",
            "No_Reply <do.not.reply@x.example>",
            "DoNotReply@x.example",
            "\"News\" <news-noreply@x.example>",
        ] {
            assert!(is_noreply(a), "{a}");
        }
        for a in [
            "editor@x.example",
            "Reply Desk <reply@x.example>",
            "nora@x.example",
        ] {
            assert!(!is_noreply(a), "{a}");
        }
    }

    #[test]
    fn template_markers_are_found_as_snippets() {
        let text = "Hi {{ first_name }},\nA {% if x %}block{% endif %}\nstray }} here\n100% sure {{ unclosed";
        assert_eq!(
            leftover_markers(text),
            [
                "{{ first_name }}",
                "{% if x %}",
                "{% endif %}",
                "stray }}",
                "{{ unclosed",
            ]
        );
        assert!(leftover_markers("width: 100%; a { b } {c}").is_empty());
    }

    #[test]
    fn code_and_styles_are_not_leftovers() {
        let md =
            "Use `{{ name }}` in templates:\n\n```\n{% for x in y %}\n```\n\nHi {{ reader }}\n";
        let code = code_texts(md);
        assert_eq!(code, ["{{ name }}", "{% for x in y %}"]);
        let text = remove_all(
            "Use {{ name }} in templates:\n{% for x in y %}\nHi {{ reader }}",
            &code,
        );
        assert_eq!(leftover_markers(&text), ["{{ reader }}"]);

        let html = "<style>@media x{.a{width:100%}}</style><p>Hi <code class=\"c\">{{ a }}</code> \
                    <CODE>{% b %}</CODE><pre><code>}}</code></pre><codex>{{ c }}</codex></p>";
        let stripped = strip_elements(html, &["style", "pre", "code"]);
        assert_eq!(stripped, "<p>Hi  <codex>{{ c }}</codex></p>");
    }

    #[test]
    fn images_with_lines() {
        let md = "Hi\n\n![](https://a.example/x.png) ![A chart](https://a.example/c.png)\n\n[link](https://a.example/)\n![b](b.png)\n";
        assert_eq!(
            images(md),
            [
                (3, "https://a.example/x.png".to_string()),
                (3, "https://a.example/c.png".to_string()),
                (6, "b.png".to_string()),
            ]
        );
    }

    #[test]
    fn findings_sort_by_severity_then_place() {
        let place = |line| {
            Some(Place {
                path: PathBuf::from("issues/a.md"),
                line: Some(line),
            })
        };
        let mut findings = vec![
            Finding::new(Severity::Note, None, "n".into()),
            Finding::new(Severity::Error, place(9), "e9".into()),
            Finding::new(Severity::Warning, place(1), "w".into()),
            Finding::new(Severity::Error, place(2), "e2".into()),
        ];
        sort(&mut findings);
        let order: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(order, ["e2", "e9", "w", "n"]);
    }
}
