//! `dispatch build`: every output of the selected issues, plus the archive and the feed.
//!
//! Everything is rendered in memory first; files are written only when all of it succeeded,
//! each atomically.

use std::path::PathBuf;

use crate::issue::{Issue, IssueId, Issues};
use crate::mail::compose;
use crate::newsletter::Newsletter;
use crate::render::{self, Neighbours, RenderedIssue, Templates};
use crate::store::Store;
use crate::store::replies::Published;

/// A problem worth telling the editor that does not stop the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub issues_built: usize,
    pub files_written: Vec<PathBuf>,
    pub warnings: Vec<Warning>,
}

/// The placeholder recipient of the `.eml` that `build` writes.
pub const PREVIEW_RECIPIENT: &str = "Subscriber <subscriber@example.com>";

/// Builds `selected` (every issue when empty).
pub fn build(newsletter: &Newsletter, selected: &[IssueId]) -> anyhow::Result<Report> {
    let issues = newsletter.load_issues()?;
    let templates = Templates::load(&newsletter.templates_dir())?;
    let store = Store::open_existing_read_only(&newsletter.database_path())?;
    let chosen: Vec<&Issue> = if selected.is_empty() {
        issues.iter().collect()
    } else {
        selected
            .iter()
            .map(|id| {
                issues
                    .get(*id)
                    .ok_or_else(|| anyhow::anyhow!("there is no issue {id} in the issues folder"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let replies = approved_replies(store.as_ref(), &issues, &chosen)?;
    let rendered = render_all(newsletter, &templates, &issues, &chosen, &replies)?;
    let index = render::render_index(&newsletter.config, &templates, &issues)?;
    let feed = render::render_feed(&newsletter.config, &templates, &issues)?;

    let mut report = Report::default();
    let out = newsletter.output_dir();
    for (issue, r) in chosen.iter().zip(&rendered) {
        check_issue(issue, r, &mut report.warnings);
        let slug = issue.id.slug();
        let eml = preview_message(newsletter, issue, r);
        let html = r
            .email_html
            .replace(compose::UNSUBSCRIBE_MARK, &preview_unsubscribe(newsletter));
        let text = r
            .email_text
            .replace(compose::UNSUBSCRIBE_MARK, &preview_unsubscribe(newsletter));
        write(
            &mut report,
            out.join("email").join(format!("{slug}.html")),
            html.as_bytes(),
        )?;
        write(
            &mut report,
            out.join("email").join(format!("{slug}.txt")),
            text.as_bytes(),
        )?;
        write(
            &mut report,
            out.join("email").join(format!("{slug}.eml")),
            &eml,
        )?;
        write(
            &mut report,
            out.join("web").join(&slug).join("index.html"),
            r.web_html.as_bytes(),
        )?;
    }
    write(
        &mut report,
        out.join("web").join("index.html"),
        index.as_bytes(),
    )?;
    write(
        &mut report,
        out.join("web").join("feed.xml"),
        feed.as_bytes(),
    )?;
    write(
        &mut report,
        out.join("web").join("style.css"),
        templates.web_css.as_bytes(),
    )?;
    report.issues_built = chosen.len();
    Ok(report)
}

fn write(report: &mut Report, path: PathBuf, contents: &[u8]) -> anyhow::Result<()> {
    crate::fsutil::write_atomic(&path, contents)?;
    report.files_written.push(path);
    Ok(())
}

/// The approved replies each chosen issue publishes: those to the issue before it.
fn approved_replies(
    store: Option<&Store>,
    issues: &Issues,
    chosen: &[&Issue],
) -> anyhow::Result<Vec<Vec<Published>>> {
    chosen
        .iter()
        .map(|issue| replies_published_in(store, issues, issue))
        .collect()
}

/// The approved replies `issue` publishes: those to the issue before it.
fn replies_published_in(
    store: Option<&Store>,
    issues: &Issues,
    issue: &Issue,
) -> anyhow::Result<Vec<Published>> {
    match (store, issues.previous(issue.id)) {
        (Some(store), Some(previous)) => store.approved_replies(previous.id),
        _ => Ok(Vec::new()),
    }
}

fn neighbours<'a>(issues: &'a Issues, issue: &Issue, replies: Vec<Published>) -> Neighbours<'a> {
    Neighbours {
        previous: issues.previous(issue.id),
        replies,
        older: issues.previous(issue.id),
        newer: issues.next(issue.id),
    }
}

/// Renders one issue exactly as `build` does, with the approved replies it publishes: what
/// `send` mails is what `build` showed.
pub fn render_one(
    newsletter: &Newsletter,
    templates: &Templates,
    issues: &Issues,
    store: Option<&Store>,
    issue: &Issue,
) -> anyhow::Result<RenderedIssue> {
    let replies = replies_published_in(store, issues, issue)?;
    render::render_issue(
        &newsletter.config,
        templates,
        issue,
        &neighbours(issues, issue, replies),
    )
}

/// Renders the chosen issues on every core; the result keeps their order.
fn render_all(
    newsletter: &Newsletter,
    templates: &Templates,
    issues: &Issues,
    chosen: &[&Issue],
    replies: &[Vec<Published>],
) -> anyhow::Result<Vec<RenderedIssue>> {
    let render_one = |(issue, replies): (&&Issue, &Vec<Published>)| {
        let around = neighbours(issues, issue, replies.clone());
        render::render_issue(&newsletter.config, templates, issue, &around)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = chosen.len().div_ceil(threads).max(1);
    let pairs: Vec<_> = chosen.iter().zip(replies).collect();
    let results: Vec<anyhow::Result<Vec<RenderedIssue>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().copied().map(render_one).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("rendering failed")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(chosen.len());
    for part in results {
        all.extend(part?);
    }
    Ok(all)
}

fn check_issue(issue: &Issue, r: &RenderedIssue, warnings: &mut Vec<Warning>) {
    let mut encoded = String::new();
    compose::quoted_printable(&r.email_html, &mut encoded);
    if encoded.len() > render::GMAIL_CLIP_WARN_BYTES {
        warnings.push(Warning {
            message: format!(
                "{}: {}: the email's HTML part is {} bytes encoded; Gmail clips messages above about 102 KB",
                issue.path.display(),
                issue.id,
                encoded.len()
            ),
        });
    }
    for (line, src) in &r.outline.images_without_alt {
        warnings.push(Warning {
            message: format!(
                "{}:{}: the image {src} has no alt text; readers whose mail client blocks images see nothing",
                issue.path.display(),
                line + issue.body_line_offset
            ),
        });
    }
}

fn preview_unsubscribe(newsletter: &Newsletter) -> String {
    match &newsletter.config.newsletter.unsubscribe_url {
        Some(url) => format!("{}/PREVIEW", url.trim_end_matches('/')),
        None => format!(
            "mailto:{}?subject=unsubscribe",
            newsletter.config.reply_to()
        ),
    }
}

/// The `.eml` a subscriber would receive, addressed to a placeholder and dated on the issue's
/// date so that building twice gives the same bytes.
fn preview_message(newsletter: &Newsletter, issue: &Issue, r: &RenderedIssue) -> Vec<u8> {
    let shared = shared_message(newsletter, issue, r);
    let domain = sender_domain(newsletter);
    let message_id = format!("{}.preview@{domain}", issue.id.slug());
    let date = issue
        .date
        .and_hms_opt(9, 0, 0)
        .map(|d| d.and_utc().to_rfc2822())
        .unwrap_or_default();
    let link = preview_unsubscribe(newsletter);
    let mailto = format!(
        "mailto:{}?subject=unsubscribe",
        newsletter.config.reply_to()
    );
    let https = newsletter
        .config
        .newsletter
        .unsubscribe_url
        .as_ref()
        .map(|_| link.clone());
    shared.message(&compose::Personal {
        to: PREVIEW_RECIPIENT,
        message_id: &message_id,
        date: &date,
        unsubscribe_link: &link,
        unsubscribe_mailto: &mailto,
        unsubscribe_https: https.as_deref(),
    })
}

/// The domain of the From address, for Message-IDs and List-Id.
pub fn sender_domain(newsletter: &Newsletter) -> String {
    crate::address::Mailbox::parse(&newsletter.config.newsletter.from)
        .ok()
        .and_then(|m| m.email.rsplit_once('@').map(|(_, d)| d.to_string()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The parts of an issue's message every recipient shares.
pub fn shared_message(
    newsletter: &Newsletter,
    issue: &Issue,
    r: &RenderedIssue,
) -> compose::Shared {
    let config = &newsletter.config;
    let from = crate::address::Mailbox::parse(&config.newsletter.from)
        .map(|m| header_mailbox(m.name.as_deref(), &m.email))
        .unwrap_or_else(|_| config.newsletter.from.clone());
    let list_slug: String = config
        .newsletter
        .title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    compose::Shared {
        from,
        reply_to: config.reply_to(),
        subject: r.subject.clone(),
        list_id: format!(
            "{} <{}.{}>",
            compose::encode_word(&quote_name(&config.newsletter.title)),
            if list_slug.is_empty() {
                "newsletter"
            } else {
                &list_slug
            },
            sender_domain(newsletter)
        ),
        text: r.email_text.clone(),
        html: r.email_html.clone(),
        boundary: format!("=_dispatch_{}", issue.id.slug()),
    }
}

/// `Name <address>` for a From or To header, the name encoded when it is not plain ASCII.
pub fn header_mailbox(name: Option<&str>, email: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{} <{email}>", compose::encode_word(&quote_name(name))),
        None => email.to_string(),
    }
}

/// A display name as a quoted string when it has characters that need quoting.
fn quote_name(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
    if clean.is_ascii() && clean.chars().any(|c| "()<>[]:;@,.".contains(c)) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}
