//! `dispatch links`: the feeds' new entries, printed or appended to an issue.

use std::path::Path;

use anyhow::Context as _;

use super::plural;
use crate::cli::LinksArgs;
use dispatch::issue::Issue;
use dispatch::links::feeds::{self, FeedEntry, FeedFailure};
use dispatch::links::{self, UsedLinks};
use dispatch::newsletter::Newsletter;
use dispatch::store::Store;
use dispatch::store::links::NewLink;

pub fn run(dir: &Path, args: &LinksArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let urls = &newsletter.config.feeds;
    if urls.is_empty() {
        let hint = format!(
            "no feeds are configured: list their URLs under `feeds:` in {}",
            dir.join("config.yaml").display()
        );
        // Listing finds nothing new (an empty list for --json); appending has nothing to add.
        if args.into.is_some() {
            anyhow::bail!(hint);
        }
        eprintln!("{hint}");
        return if args.json { print_json(&[]) } else { Ok(()) };
    }
    // Resolved before any fetching, so a mistyped issue fails at once.
    let target = match &args.into {
        Some(name) => Some(newsletter.load_issues()?.find(name)?.clone()),
        None => None,
    };
    let (entries, failures) = fetch(urls, args, runtime)?;
    report_failures(&failures);
    if failures.len() == urls.len() {
        match urls.len() {
            1 => anyhow::bail!("the feed could not be read (reason above)"),
            n => anyhow::bail!("none of the {n} feeds could be read (reasons above)"),
        }
    }
    let fresh = links::unused(entries, &used_links(&newsletter)?);
    eprintln!("{}", summary(fresh.len(), urls.len(), failures.len()));
    match target {
        Some(issue) => append_to_issue(dir, &newsletter, &issue, &fresh),
        None if args.json => print_json(&fresh),
        None => {
            print!("{}", feeds::to_markdown(&fresh));
            Ok(())
        }
    }
}

fn fetch(
    urls: &[String],
    args: &LinksArgs,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<(Vec<FeedEntry>, Vec<FeedFailure>)> {
    let client = feeds::client(args.http.timeout)?;
    let since = args
        .since
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    Ok(runtime.block_on(feeds::fetch_feeds(&client, urls, since, args.http.timeout)))
}

fn report_failures(failures: &[FeedFailure]) {
    for failure in failures {
        eprintln!("warning: {}: {}", failure.url, failure.reason);
    }
}

/// Reading needs no database: without one, nothing has been used yet.
fn used_links(newsletter: &Newsletter) -> anyhow::Result<UsedLinks> {
    match Store::open_existing_read_only(&newsletter.database_path())? {
        Some(store) => Ok(UsedLinks::from_rows(store.used_links()?)),
        None => Ok(UsedLinks::default()),
    }
}

fn summary(fresh: usize, feeds: usize, failed: usize) -> String {
    let mut line = format!(
        "{fresh} new link{} from {} of {feeds} feed{}",
        plural(fresh),
        feeds - failed,
        plural(feeds)
    );
    if failed > 0 {
        line.push_str(&format!(" ({failed} failed)"));
    }
    line
}

fn print_json(entries: &[FeedEntry]) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(entries)?);
    Ok(())
}

/// Appends the entries to the issue's file and records them as used, both or neither.
fn append_to_issue(
    dir: &Path,
    newsletter: &Newsletter,
    issue: &Issue,
    entries: &[FeedEntry],
) -> anyhow::Result<()> {
    let shown = super::display_path(dir, &issue.path);
    if entries.is_empty() {
        println!("{shown} is unchanged: there are no new links");
        return Ok(());
    }
    let mut store = Store::open(&newsletter.database_path())?;
    let used: Vec<NewLink<'_>> = entries.iter().map(FeedEntry::as_new_link).collect();
    store.record_used_links(&used, issue.id, || {
        // Read again now: the editor may have saved the file since it was loaded.
        let source = std::fs::read_to_string(&issue.path)
            .with_context(|| format!("cannot read {}", issue.path.display()))?;
        let current = Issue::parse(&issue.path, &source)?;
        let updated = links::append_section(&source, &current.body, &feeds::to_markdown(entries));
        dispatch::fsutil::write_atomic(&issue.path, updated.as_bytes())
    })?;
    println!(
        "added {} link{} to {shown} under `{}`",
        entries.len(),
        plural(entries.len()),
        links::SECTION_HEADING
    );
    Ok(())
}
