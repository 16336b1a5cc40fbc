//! `dispatch check ISSUE`: the preflight report, grouped by severity.

use std::path::Path;

use crate::cli::CheckArgs;
use dispatch::check::{self, Finding, Preflight, Severity};
use dispatch::newsletter::Newsletter;

pub fn run(dir: &Path, args: &CheckArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let preflight = Preflight::prepare(&newsletter, &args.issue)?;
    let mut findings = preflight.offline_findings();
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

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

fn counts(findings: &[Finding]) -> String {
    [
        (Severity::Error, "error"),
        (Severity::Warning, "warning"),
        (Severity::Note, "note"),
    ]
    .iter()
    .map(|(severity, name)| {
        let n = count(findings, *severity);
        format!("{n} {name}{}", if n == 1 { "" } else { "s" })
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
            match &finding.place {
                Some(place) => println!(
                    "  {}: {}",
                    check::display_place(dir, place),
                    finding.message
                ),
                None => println!("  {}", finding.message),
            }
        }
    }
}
