//! Reply-text extraction against the public reply-body corpora in `tests/data/reply-bodies`.
//!
//! Each `NAME.txt` input has a hand-written `NAME.expected` beside it: the text the reader
//! wrote. The test prints a diff for every mismatch and the exact-match ratio per corpus, and
//! fails below 95 % on any corpus.

use std::fs;
use std::path::{Path, PathBuf};

use dispatch::mail::extract::reply_text;

const MIN_RATIO: f64 = 0.95;

/// Line endings unified, trailing whitespace removed from each line and from the whole text.
fn canonical(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Files of a corpus folder that describe the corpus rather than hold a message body.
const METADATA: &[&str] = &["SOURCE.txt"];

/// Every input `*.txt` of a corpus with its `*.expected`; an input without one fails the test.
fn cases(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut inputs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !METADATA.iter().any(|m| n == *m))
        })
        .collect();
    inputs.sort();
    inputs
        .into_iter()
        .map(|input| {
            let expected = input.with_extension("expected");
            assert!(
                expected.is_file(),
                "no expected text for {}",
                input.display()
            );
            (input, expected)
        })
        .collect()
}

/// Longest line shown in a diff; some inputs have lines of hundreds of kilobytes.
const DIFF_LINE_MAX: usize = 160;

fn shorten(line: &str) -> String {
    if line.chars().count() <= DIFF_LINE_MAX {
        return line.to_string();
    }
    let head: String = line.chars().take(DIFF_LINE_MAX).collect();
    format!("{head}… ({} chars)", line.chars().count())
}

/// A line-by-line diff, enough to see where extraction and expectation part ways.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<String> = expected.lines().map(shorten).collect();
    let a: Vec<String> = actual.lines().map(shorten).collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
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

/// Runs one corpus; returns (exact matches, total).
fn run_corpus(name: &str) -> (usize, usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reply-bodies")
        .join(name);
    let cases = cases(&dir);
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    let mut matched = 0;
    for (input, expected) in &cases {
        let raw = fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let body = String::from_utf8_lossy(&raw);
        let want = canonical(&fs::read_to_string(expected).unwrap_or_default());
        let got = canonical(&reply_text(&body));
        if got == want {
            matched += 1;
        } else {
            println!(
                "MISMATCH {name}/{}:\n{}",
                input.display(),
                diff(&want, &got)
            );
        }
    }
    let total = cases.len();
    println!(
        "{name}: {matched}/{total} exact ({:.1} %)",
        100.0 * matched as f64 / total as f64
    );
    (matched, total)
}

#[test]
fn reply_corpora_match_expected_text() {
    let mut failures = Vec::new();
    let (mut all_matched, mut all_total) = (0, 0);
    for corpus in ["github", "crisp"] {
        let (matched, total) = run_corpus(corpus);
        all_matched += matched;
        all_total += total;
        if (matched as f64) < MIN_RATIO * total as f64 {
            failures.push(format!("{corpus}: {matched}/{total}"));
        }
    }
    println!(
        "overall: {all_matched}/{all_total} exact ({:.1} %)",
        100.0 * all_matched as f64 / all_total as f64
    );
    assert!(failures.is_empty(), "below {MIN_RATIO}: {failures:?}");
}
