use std::path::Path;

use dispatch::issue::IssueId;
use dispatch::newsletter::Newsletter;

pub fn run(dir: &Path, names: &[String]) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let selected: Vec<IssueId> = names
        .iter()
        .map(|n| n.parse::<IssueId>())
        .collect::<Result<_, _>>()?;
    let started = std::time::Instant::now();
    let report = dispatch::build::build(&newsletter, &selected)?;
    for warning in &report.warnings {
        eprintln!("warning: {}", warning.message);
    }
    let removed = match report.files_removed {
        0 => String::new(),
        n => format!(", {n} stale removed"),
    };
    println!(
        "built {} issue{} into {} ({} files changed{removed}) in {:.0?}",
        report.issues_built,
        if report.issues_built == 1 { "" } else { "s" },
        super::display_path(dir, &newsletter.output_dir()),
        report.files_changed,
        started.elapsed()
    );
    Ok(())
}
