use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use dispatch::issue::{file_name, new_issue_text};
use dispatch::newsletter::Newsletter;

pub fn run(dir: &Path, volume: Option<u32>, title: Option<&str>) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let issues = newsletter.load_issues()?;
    let id = issues.next_id(volume)?;
    let today = chrono::Local::now().date_naive();
    let title = match title {
        Some(title) => Some(title.trim().to_string()),
        None => ask_title(id)?,
    }
    .filter(|t| !t.is_empty());
    // Without a title the file is named after the day; the front matter keeps a placeholder.
    let name = match &title {
        Some(title) => file_name(id, title),
        None => file_name(id, &today.format("%Y-%m-%d").to_string()),
    };
    let path = newsletter.issues_dir().join(name);
    let shown = super::display_path(dir, &path);
    if path.exists() {
        anyhow::bail!("{shown} already exists: give the new issue another --title");
    }
    let mut text = new_issue_text(id, today, "Hi friend,");
    if let Some(title) = &title {
        text = text.replacen(
            &format!("title: {}", dispatch::issue::PLACEHOLDER_TITLE),
            &format!("title: {}", yaml_string(title)),
            1,
        );
    }
    dispatch::fsutil::write_atomic(&path, text.as_bytes())?;
    println!("created {id} in {shown}");
    let dir_flag = match dir.as_os_str().to_str() {
        Some(".") => String::new(),
        _ => format!("--dir {} ", dir.display()),
    };
    println!(
        "next: {}write it, then preview it with `dispatch {dir_flag}serve` and check it with `dispatch {dir_flag}check {}`",
        if title.is_none() {
            "set its title and "
        } else {
            ""
        },
        id.slug()
    );
    Ok(())
}

/// Asks for the title on a terminal; `None` when there is none to ask on, or no answer.
fn ask_title(id: dispatch::issue::IssueId) -> anyhow::Result<Option<String>> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(None);
    }
    eprint!("title of {id} (empty to name the file after today): ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(Some(answer.trim().to_string()))
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
