//! `dispatch build`: every output of the selected issues, plus the archive and the feed.
//!
//! Every file is first written to a staging folder inside the output folder, and renamed into
//! place only when all of them were written. A build killed half-way leaves temporary files in
//! the staging folder (and, if killed while renaming, some pages new and the rest old); the next
//! build empties the staging folder first, and rewrites every page that differs.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::fsutil::{Staged, Staging};
use crate::issue::{Issue, IssueId, Issues};
use crate::newsletter::Newsletter;
use crate::outgoing::compose;
use crate::outgoing::headers::{preview_message, preview_unsubscribe};
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
    /// Files whose content changed (unchanged files are left alone).
    pub files_changed: usize,
    /// Files removed by a full build: those of issues no longer in the issues folder, and
    /// temporary files older versions left beside the pages.
    pub files_removed: usize,
    pub warnings: Vec<Warning>,
}

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
    let staging = Staging::open(&newsletter.output_dir())?;
    let out = Output::create(newsletter, &chosen)?;
    let (mut staged, warnings) = render_and_stage(
        newsletter, &templates, &issues, &chosen, &replies, &out, &staging,
    )?;
    let index = render::render_index(&newsletter.config, &templates, &issues)?;
    let feed = render::render_feed(&newsletter.config, &templates, &issues)?;
    staged.stage(out.web.join("index.html"), index.as_bytes())?;
    staged.stage(out.web.join("feed.xml"), feed.as_bytes())?;
    staged.stage(out.web.join("style.css"), templates.web_css.as_bytes())?;
    let files_changed = staged.len();
    staged.commit()?;
    let files_removed = if selected.is_empty() {
        remove_stale(&out, &issues)?
    } else {
        0
    };
    Ok(Report {
        issues_built: chosen.len(),
        files_changed,
        files_removed,
        warnings,
    })
}

/// The output folders, created before anything is staged in them.
struct Output {
    email: PathBuf,
    web: PathBuf,
    /// The footer's unsubscribe link in the previews.
    unsubscribe: String,
}

impl Output {
    fn create(newsletter: &Newsletter, chosen: &[&Issue]) -> anyhow::Result<Output> {
        let out = newsletter.output_dir();
        let output = Output {
            email: out.join("email"),
            web: out.join("web"),
            unsubscribe: preview_unsubscribe(newsletter).footer().to_string(),
        };
        let mut dirs = vec![output.email.clone(), output.web.clone()];
        dirs.extend(chosen.iter().map(|i| output.web.join(i.id.slug())));
        for dir in dirs {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(output)
    }
}

/// Removes what an earlier build wrote for issues no longer in the issues folder, and the
/// temporary files that builds of older dispatch versions left beside the pages when they were
/// interrupted. Only names that `build` writes are touched; returns how many files went.
fn remove_stale(out: &Output, issues: &Issues) -> anyhow::Result<usize> {
    let gone = |slug: &str| {
        slug.parse::<IssueId>()
            .ok()
            .filter(|id| id.slug() == slug)
            .is_some_and(|id| issues.get(id).is_none())
    };
    let temporary = |name: &str| name.starts_with(crate::fsutil::TEMP_PREFIX);
    let mut removed = 0;
    for (path, name) in entries(&out.email)? {
        let slug = name.rsplit_once('.').map_or("", |(slug, _)| slug);
        let ours = name.ends_with(".html") || name.ends_with(".txt") || name.ends_with(".eml");
        if temporary(&name) || (ours && gone(slug)) {
            removed += remove_file(&path)?;
        }
    }
    for (path, name) in entries(&out.web)? {
        if temporary(&name) {
            removed += remove_file(&path)?;
        } else if path.is_dir() && name.starts_with('v') {
            let stale = gone(&name);
            for (file, inner) in entries(&path)? {
                if temporary(&inner) || (stale && inner == "index.html") {
                    removed += remove_file(&file)?;
                }
            }
            if stale {
                // Kept when the editor put other files there.
                let _ = std::fs::remove_dir(&path);
            }
        }
    }
    Ok(removed)
}

/// The entries of `dir` with their names (none when it does not exist).
fn entries(dir: &std::path::Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut found = Vec::new();
    for entry in read {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        found.push((entry.path(), name));
    }
    Ok(found)
}

fn remove_file(path: &std::path::Path) -> anyhow::Result<usize> {
    std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
    Ok(1)
}

/// The approved replies each chosen issue publishes.
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

/// Renders the chosen issues on every core, staging each one's files as soon as it is
/// rendered, so memory stays flat however large the archive.
fn render_and_stage(
    newsletter: &Newsletter,
    templates: &Templates,
    issues: &Issues,
    chosen: &[&Issue],
    replies: &[Vec<Published>],
    out: &Output,
    staging: &Staging,
) -> anyhow::Result<(Staged, Vec<Warning>)> {
    let stage_one =
        |issue: &Issue, replies: &[Published], staged: &mut Staged, warnings: &mut Vec<Warning>| {
            let around = neighbours(issues, issue, replies.to_vec());
            let r = render::render_issue(&newsletter.config, templates, issue, &around)?;
            stage_issue(newsletter, issue, &r, out, staged, warnings)
        };
    // File creation waits on the disk more than on the CPU: a few more threads than cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        * 2;
    let chunk = chosen.len().div_ceil(threads).max(1);
    let pairs: Vec<(&Issue, &[Published])> = chosen
        .iter()
        .copied()
        .zip(replies.iter().map(Vec::as_slice))
        .collect();
    let results: Vec<anyhow::Result<(Staged, Vec<Warning>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut staged = staging.staged();
                    let mut warnings = Vec::new();
                    for (issue, replies) in part {
                        stage_one(issue, replies, &mut staged, &mut warnings)?;
                    }
                    Ok((staged, warnings))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("rendering failed")))
            })
            .collect()
    });
    let mut staged = staging.staged();
    let mut warnings = Vec::new();
    for part in results {
        let (s, w) = part?;
        staged.extend(s);
        warnings.extend(w);
    }
    Ok((staged, warnings))
}

fn stage_issue(
    newsletter: &Newsletter,
    issue: &Issue,
    r: &RenderedIssue,
    out: &Output,
    staged: &mut Staged,
    warnings: &mut Vec<Warning>,
) -> anyhow::Result<()> {
    let slug = issue.id.slug();
    let preview = preview_message(newsletter, issue, r);
    check_issue(issue, r, preview.html_part_len, warnings);
    let html = r
        .email_html
        .replace(compose::UNSUBSCRIBE_MARK, &out.unsubscribe);
    let text = r
        .email_text
        .replace(compose::UNSUBSCRIBE_MARK, &out.unsubscribe);
    staged.stage(out.email.join(format!("{slug}.html")), html.as_bytes())?;
    staged.stage(out.email.join(format!("{slug}.txt")), text.as_bytes())?;
    staged.stage(out.email.join(format!("{slug}.eml")), &preview.eml)?;
    staged.stage(
        out.web.join(&slug).join("index.html"),
        r.web_html.as_bytes(),
    )
}

fn check_issue(
    issue: &Issue,
    r: &RenderedIssue,
    html_part_len: usize,
    warnings: &mut Vec<Warning>,
) {
    if let Some((_, message)) = crate::preflight::gmail_clipping(html_part_len) {
        warnings.push(Warning {
            message: format!("{}: {}: {message}", issue.path.display(), issue.id),
        });
    }
    for (line, src) in &r.outline.images_without_alt {
        warnings.push(Warning {
            message: format!(
                "{}:{}: {}",
                issue.path.display(),
                line + issue.body_line_offset,
                crate::preflight::missing_alt_text(src)
            ),
        });
    }
}
