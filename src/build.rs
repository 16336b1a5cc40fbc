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
    let email = out.join("email");
    let web = out.join("web");
    let unsubscribe = preview_unsubscribe(newsletter);
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::with_capacity(chosen.len() * 4 + 3);
    for (issue, r) in chosen.iter().zip(rendered) {
        let slug = issue.id.slug();
        let eml = preview_message(newsletter, issue, &r);
        check_issue(issue, &r, html_part_len(&eml), &mut report.warnings);
        let html = r
            .email_html
            .replace(compose::UNSUBSCRIBE_MARK, &unsubscribe);
        let text = r
            .email_text
            .replace(compose::UNSUBSCRIBE_MARK, &unsubscribe);
        files.push((email.join(format!("{slug}.html")), html.into_bytes()));
        files.push((email.join(format!("{slug}.txt")), text.into_bytes()));
        files.push((email.join(format!("{slug}.eml")), eml));
        files.push((web.join(&slug).join("index.html"), r.web_html.into_bytes()));
    }
    files.push((web.join("index.html"), index.into_bytes()));
    files.push((web.join("feed.xml"), feed.into_bytes()));
    files.push((
        web.join("style.css"),
        templates.web_css.clone().into_bytes(),
    ));
    crate::fsutil::write_all_atomic(&files)?;
    report.files_written = files.into_iter().map(|(p, _)| p).collect();
    report.issues_built = chosen.len();
    Ok(report)
}

/// The approved replies each chosen issue publishes: those to the issue before it.
fn approved_replies(
    store: Option<&Store>,
    issues: &Issues,
    chosen: &[&Issue],
) -> anyhow::Result<Vec<Vec<Published>>> {
    chosen
        .iter()
        .map(|issue| match (store, issues.previous(issue.id)) {
            (Some(store), Some(previous)) => store.approved_replies(previous.id),
            _ => Ok(Vec::new()),
        })
        .collect()
}

/// Renders the chosen issues on every core; the result keeps their order.
fn render_all(
    newsletter: &Newsletter,
    templates: &Templates,
    issues: &Issues,
    chosen: &[&Issue],
    replies: &[Vec<Published>],
) -> anyhow::Result<Vec<RenderedIssue>> {
    let ordered: Vec<&Issue> = issues.iter().collect();
    let position = |id: IssueId| ordered.binary_search_by_key(&id, |i| i.id).ok();
    let render_one = |(issue, replies): (&&Issue, &Vec<Published>)| {
        let at = position(issue.id);
        let around = Neighbours {
            previous: issues.previous(issue.id),
            replies: replies.clone(),
            older: at.and_then(|p| p.checked_sub(1)).map(|p| ordered[p]),
            newer: at.and_then(|p| ordered.get(p + 1).copied()),
        };
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

/// The encoded size of the message's HTML part: from its part header to the closing boundary
/// (the HTML is the last part).
fn html_part_len(eml: &[u8]) -> usize {
    let marker = b"Content-Type: text/html";
    eml.windows(marker.len())
        .rposition(|w| w == marker)
        .map_or(eml.len(), |start| eml.len() - start)
}

fn check_issue(issue: &Issue, r: &RenderedIssue, encoded_html: usize, warnings: &mut Vec<Warning>) {
    if encoded_html > render::GMAIL_CLIP_WARN_BYTES {
        warnings.push(Warning {
            message: format!(
                "{}: {}: the email's HTML part is {} bytes encoded; Gmail clips messages above about 102 KB",
                issue.path.display(),
                issue.id,
                encoded_html
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
        .map(|m| match m.name {
            Some(name) => format!("{} <{}>", compose::encode_word(&quote_name(&name)), m.email),
            None => m.email,
        })
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

/// A display name as a quoted string when it has characters that need quoting.
fn quote_name(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
    if clean.is_ascii() && clean.chars().any(|c| "()<>[]:;@,.".contains(c)) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}
