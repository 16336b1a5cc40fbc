//! `dispatch check ISSUE`: the preflight report, grouped by severity.

use std::path::Path;

use crate::cli::CheckArgs;
use dispatch::check::{self, Finding, Preflight, Severity};
use dispatch::newsletter::Newsletter;

pub fn run(dir: &Path, args: &CheckArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let (preflight, mut findings) = offline(&newsletter, &args.issue)?;
    let links = if args.offline {
        "links not checked (--offline)".to_string()
    } else {
        findings.extend(runtime.block_on(preflight.link_findings(args.http.timeout))?);
        let n = preflight.web_targets().len();
        format!("{n} link{} checked", if n == 1 { "" } else { "s" })
    };
    check::sort(&mut findings);
    let issue = &preflight.issue;
    println!(
        "{} ({}): {}; {links}; the email's HTML is {} bytes as sent",
        issue.id,
        super::display_path(dir, &issue.path),
        counts(&findings),
        preflight.encoded_html_bytes()
    );
    print_groups(dir, &findings);
    let errors = count(&findings, Severity::Error);
    if errors > 0 {
        anyhow::bail!(
            "{} has {errors} error{}: fix {} before sending",
            issue.id,
            if errors == 1 { "" } else { "s" },
            if errors == 1 { "it" } else { "them" }
        );
    }
    Ok(())
}

/// The preflight that needs no network, findings sorted: what `check --offline` reports and
/// what `send` runs before mailing.
pub fn offline(newsletter: &Newsletter, issue: &str) -> anyhow::Result<(Preflight, Vec<Finding>)> {
    let preflight = Preflight::prepare(newsletter, issue)?;
    let mut findings = preflight.offline_findings();
    check::sort(&mut findings);
    Ok((preflight, findings))
}

/// One finding on one line: `issues/v1n2.md:12: message`.
pub fn line(dir: &Path, finding: &Finding) -> String {
    match &finding.place {
        Some(place) => format!("{}: {}", check::display_place(dir, place), finding.message),
        None => finding.message.clone(),
    }
}

pub fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

pub fn counts(findings: &[Finding]) -> String {
    [
        (Severity::Error, "error"),
        (Severity::Warning, "warning"),
        (Severity::Note, "note"),
    ]
    .iter()
    .map(|(severity, name)| {
        let n = count(findings, *severity);
        format!("{n} {name}{}", super::plural(n))
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// `errors:`, `warnings:`, `notes:`, each followed by its findings; empty groups are left out.
fn print_groups(dir: &Path, findings: &[Finding]) {
    for (severity, heading) in [
        (Severity::Error, "errors"),
        (Severity::Warning, "warnings"),
        (Severity::Note, "notes"),
    ] {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        println!("\n{heading}:");
        for finding in group {
            println!("  {}", line(dir, finding));
        }
    }
}
