use std::path::Path;

use dispatch::issue::{file_name, new_issue_text};
use dispatch::newsletter::Newsletter;

pub fn run(dir: &Path, volume: Option<u32>, title: Option<&str>) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let issues = newsletter.load_issues()?;
    let id = issues.next_id(volume)?;
    let title = title.unwrap_or("Untitled");
    let path = newsletter.issues_dir().join(file_name(id, title));
    if path.exists() {
        anyhow::bail!("{} already exists", path.display());
    }
    let today = chrono::Local::now().date_naive();
    let text = new_issue_text(id, today, "Hi friend,").replacen(
        "title: Untitled",
        &format!("title: {}", yaml_string(title)),
        1,
    );
    dispatch::fsutil::write_atomic(&path, text.as_bytes())?;
    println!("{id}: {}", super::display_path(dir, &path));
    Ok(())
}

/// A title as a YAML scalar, quoted when plain style would change its meaning.
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "~"
        );
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
