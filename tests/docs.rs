//! The documentation's links hold: every relative link in README.md, ARCHITECTURE.md and
//! docs/*.md names a file of the repository, and every `docs/….md` that the code names (in an
//! error text, a help text, a comment) exists, so that a message pointing the user to a page
//! never points at nothing.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Markdown files whose links are checked.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs folder")
        .map(|e| e.expect("a docs entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The targets of the inline links `[text](target)` of a Markdown text, outside code blocks.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    targets
}

/// Every `docs/NAME.md` in a text.
fn doc_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("docs/") {
        let tail = &rest[at..];
        let name_len = tail["docs/".len()..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len() - "docs/".len());
        let path = tail[..="docs/".len() + name_len - 1].trim_end_matches('.');
        if path.ends_with(".md") {
            paths.push(path.to_string());
        }
        rest = &tail["docs/".len()..];
    }
    paths
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn relative_links_of_the_docs_name_real_files() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or("");
            checked += 1;
            if !page.parent().unwrap().join(file).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(checked >= 3, "only {checked} relative links found");
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

#[test]
fn doc_pages_the_code_names_exist() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.push(root().join("README.md"));
    let mut missing = Vec::new();
    let mut named = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable file");
        for path in doc_paths(&text) {
            named += 1;
            if !root().join(&path).is_file() {
                missing.push(format!("{}: {path}", file.display()));
            }
        }
    }
    assert!(named >= 2, "only {named} doc paths found");
    assert!(
        missing.is_empty(),
        "named but missing:\n{}",
        missing.join("\n")
    );
}

#[test]
fn doc_paths_and_links_are_found() {
    assert_eq!(
        doc_paths("see docs/hosting.md. Or docs/replies.md, not docs/ or docs/x.txt"),
        ["docs/hosting.md", "docs/replies.md"]
    );
    assert_eq!(
        link_targets("[a](docs/a.md) and [b](https://x/) \n```\n[c](no.md)\n```\n"),
        ["docs/a.md", "https://x/"]
    );
}
