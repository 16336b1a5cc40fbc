//! Reply-text extraction against the public reply-body corpora in `tests/data/reply-bodies`.
//!
//! Each `NAME.txt` input has a hand-written `NAME.expected` beside it: the text the reader
//! wrote. The test prints a diff for every mismatch and the exact-match ratio per corpus. It
//! fails when a case outside `KNOWN_MISMATCHES` does not match, and when a case in that list
//! matches now (remove it from the list), so no new mismatch hides behind a good ratio.

use std::fs;
use std::path::{Path, PathBuf};

use dispatch::replies::extract::reply_text;

/// The cases (`CORPUS/NAME`, the input's file name without `.txt`) whose extraction does not
/// match its expected text today. Empty: every case matches.
const KNOWN_MISMATCHES: &[&str] = &[];

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

/// Runs one corpus; returns the names (`CORPUS/NAME`) of the cases that do not match and of
/// all its cases.
fn run_corpus(name: &str) -> (Vec<String>, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reply-bodies")
        .join(name);
    let cases = cases(&dir);
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    let mut mismatched = Vec::new();
    let mut names = Vec::new();
    for (input, expected) in &cases {
        let stem = input.file_stem().unwrap_or_default().to_string_lossy();
        let case = format!("{name}/{stem}");
        names.push(case.clone());
        let raw = fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let body = String::from_utf8_lossy(&raw);
        let want = canonical(&fs::read_to_string(expected).unwrap_or_default());
        let got = canonical(&reply_text(&body));
        if got != want {
            mismatched.push(case);
            println!(
                "MISMATCH {name}/{}:\n{}",
                input.display(),
                diff(&want, &got)
            );
        }
    }
    let total = cases.len();
    let matched = total - mismatched.len();
    println!(
        "{name}: {matched}/{total} exact ({:.1} %)",
        100.0 * matched as f64 / total as f64
    );
    (mismatched, names)
}

/// What is wrong with a run whose mismatching cases are `mismatched` (of `all` cases), given
/// the known ones: new mismatches, known ones that match now, and listed names that are no
/// case at all. Empty when the run is as expected.
fn surprises(mismatched: &[String], all: &[String], known: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for case in mismatched {
        if !known.contains(&case.as_str()) {
            out.push(format!(
                "{case} does not match its expected text (a new mismatch)"
            ));
        }
    }
    for case in known {
        if !all.iter().any(|c| c == case) {
            out.push(format!(
                "{case} is in KNOWN_MISMATCHES but there is no such case: remove it from the list"
            ));
        } else if !mismatched.iter().any(|c| c == case) {
            out.push(format!(
                "{case} matches now: remove it from KNOWN_MISMATCHES in tests/reply_corpus.rs"
            ));
        }
    }
    out
}

const CORPORA: &[&str] = &["github", "crisp"];

#[test]
fn reply_corpora_match_expected_text() {
    let (mut mismatched, mut all) = (Vec::new(), Vec::new());
    for corpus in CORPORA {
        let (missed, names) = run_corpus(corpus);
        mismatched.extend(missed);
        all.extend(names);
    }
    let all_total = all.len();
    let all_matched = all_total - mismatched.len();
    println!(
        "overall: {all_matched}/{all_total} exact ({:.1} %)",
        100.0 * all_matched as f64 / all_total as f64
    );
    let surprises = surprises(&mismatched, &all, KNOWN_MISMATCHES);
    assert!(surprises.is_empty(), "{}", surprises.join("\n"));
}

#[test]
fn known_mismatches_are_judged_both_ways() {
    let all = ["c/a", "c/b", "c/c"].map(String::from);
    let mismatched = ["c/a".to_string()];
    assert!(surprises(&mismatched, &all, &["c/a"]).is_empty());
    let new = surprises(&mismatched, &all, &[]);
    assert_eq!(new.len(), 1);
    assert!(new[0].contains("c/a does not match"), "{new:?}");
    let fixed = surprises(&mismatched, &all, &["c/a", "c/b"]);
    assert_eq!(fixed.len(), 1);
    assert!(fixed[0].contains("c/b matches now: remove it"), "{fixed:?}");
    let stale = surprises(&mismatched, &all, &["c/a", "c/gone"]);
    assert!(stale[0].contains("no such case"), "{stale:?}");
}
