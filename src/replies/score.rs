//! Scoring reply extraction against a corpus of messages with the text a reader would sign:
//! exact matches and misses, after the same canonical form everywhere (`bench/replies-score`,
//! `tests/reply_corpus.rs`). Extraction is [`super::extract_text`], the one
//! `dispatch replies extract` and the importer use.
//!
//! Two layouts are read: `emails/X` with `trimmed/X` beside it (any file name `X`; the input
//! is a whole message or a bare body, plain text or HTML), or `NAME.txt` and/or `NAME.html`
//! with `NAME.expected` in one folder (an HTML reply and its plain-text twin share one
//! expected text).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Files of a side-by-side corpus that describe the corpus rather than hold a message body.
const METADATA: &[&str] = &["SOURCE.txt"];

/// Inputs of a side-by-side corpus: plain-text and HTML bodies (or whole messages).
const INPUT_EXTENSIONS: &[&str] = &["txt", "html"];

/// Longest line shown in a diff; some inputs have lines of hundreds of kilobytes.
const DIFF_LINE_MAX: usize = 160;

/// Line endings unified, trailing whitespace removed from each line and from the whole text:
/// the form in which an extraction and its expected text are compared.
pub fn canonical(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// One input of a corpus and the file holding its expected text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The input's file name (`X` in `emails/X`, `NAME.txt` side by side).
    pub name: String,
    pub input: PathBuf,
    pub expected: PathBuf,
}

/// A case whose extraction differs from its expected text (both in canonical form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub name: String,
    pub expected: String,
    pub got: String,
}

/// The outcome of one corpus: how many cases, and the ones that missed, in file-name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    pub total: usize,
    pub misses: Vec<Miss>,
}

impl Score {
    /// Cases whose extraction matched exactly.
    pub fn matched(&self) -> usize {
        self.total - self.misses.len()
    }

    /// Exact matches in percent (100 for an empty corpus).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            return 100.0;
        }
        100.0 * self.matched() as f64 / self.total as f64
    }
}

/// The regular files directly in `dir`, sorted by name.
fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        if path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The cases of the corpus in `dir`, in either layout; an input without its expected text, or
/// a folder in neither layout, is an error naming it.
pub fn corpus_cases(dir: &Path) -> anyhow::Result<Vec<Case>> {
    let emails = dir.join("emails");
    let side_by_side = !emails.is_dir();
    let inputs = if side_by_side {
        files(dir)?
    } else {
        files(&emails)?
    };
    let mut cases = Vec::new();
    for input in inputs {
        let name = file_name(&input);
        let expected = if side_by_side {
            let is_input = input
                .extension()
                .is_some_and(|x| INPUT_EXTENSIONS.iter().any(|e| x == *e));
            if !is_input || METADATA.contains(&name.as_str()) {
                continue;
            }
            input.with_extension("expected")
        } else {
            dir.join("trimmed").join(&name)
        };
        anyhow::ensure!(
            expected.is_file(),
            "{}: no expected text {}",
            input.display(),
            expected.display()
        );
        cases.push(Case {
            name,
            input,
            expected,
        });
    }
    anyhow::ensure!(
        !cases.is_empty() || !side_by_side,
        "{}: no cases (expected emails/X with trimmed/X, or NAME.txt or NAME.html with NAME.expected)",
        dir.display()
    );
    Ok(cases)
}

/// Extracts every case of the corpus in `dir` as `dispatch replies extract` does and compares
/// it with the expected text in canonical form.
pub fn score_corpus(dir: &Path) -> anyhow::Result<Score> {
    let cases = corpus_cases(dir)?;
    let mut misses = Vec::new();
    for case in &cases {
        let raw = fs::read(&case.input)
            .with_context(|| format!("cannot read {}", case.input.display()))?;
        let expected = fs::read(&case.expected)
            .with_context(|| format!("cannot read {}", case.expected.display()))?;
        let expected = canonical(&String::from_utf8_lossy(&expected));
        let got = canonical(
            &super::extract_text(&raw).with_context(|| format!("{}", case.input.display()))?,
        );
        if got != expected {
            misses.push(Miss {
                name: case.name.clone(),
                expected,
                got,
            });
        }
    }
    Ok(Score {
        total: cases.len(),
        misses,
    })
}

fn shorten(line: &str) -> String {
    if line.chars().count() <= DIFF_LINE_MAX {
        return line.to_string();
    }
    let head: String = line.chars().take(DIFF_LINE_MAX).collect();
    format!("{head}… ({} chars)", line.chars().count())
}

/// A line-by-line diff of expected and got (`-` expected only, `+` got only, long lines cut),
/// enough to see where extraction and expectation part ways.
pub fn diff(expected: &str, got: &str) -> String {
    let e: Vec<String> = expected.lines().map(shorten).collect();
    let g: Vec<String> = got.lines().map(shorten).collect();
    let mut out = String::new();
    for i in 0..e.len().max(g.len()) {
        match (e.get(i), g.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("    {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("  - {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("  + {y}\n"));
                }
            }
        }
    }
    out
}
