//! Reply-text extraction against the public reply-body corpora in `tests/data/reply-bodies`.
//!
//! Each `NAME.txt` (or `NAME.html`) input has a hand-written `NAME.expected` beside it: the
//! text the reader wrote. In `html`, each HTML reply has its plain-text twin beside it, and both
//! must extract to the same text. Extraction, comparison and the diff are those of `bench/replies-score`
//! (`dispatch::replies::score`). The test prints a diff for every mismatch and the exact-match
//! ratio per corpus. It fails when a case outside `KNOWN_MISMATCHES` does not match, and when a case in that list
//! matches now (remove it from the list), so no new mismatch hides behind a good ratio.

use std::path::Path;

use dispatch::replies::extract_text;
use dispatch::replies::score::{canonical, corpus_cases, diff, score_corpus};

/// The cases (`CORPUS/NAME`, the input's file name without `.txt`; `.html` stays) whose extraction does not
/// match its expected text today. Empty: every case matches.
const KNOWN_MISMATCHES: &[&str] = &[];

/// A case's name in `KNOWN_MISMATCHES`: `CORPUS/NAME` for the input `NAME.txt`.
fn case_name(corpus: &str, file: &str) -> String {
    format!("{corpus}/{}", file.strip_suffix(".txt").unwrap_or(file))
}

/// Runs one corpus through the scorer `bench/replies-score` uses; returns the names
/// (`CORPUS/NAME`) of the cases that do not match and of all its cases.
fn run_corpus(name: &str) -> (Vec<String>, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reply-bodies")
        .join(name);
    let cases = corpus_cases(&dir).unwrap_or_else(|e| panic!("{e:#}"));
    let score = score_corpus(&dir).unwrap_or_else(|e| panic!("{e:#}"));
    let mut mismatched = Vec::new();
    for miss in &score.misses {
        println!(
            "MISMATCH {name}/{}:\n{}",
            miss.name,
            diff(&miss.expected, &miss.got)
        );
        mismatched.push(case_name(name, &miss.name));
    }
    println!(
        "{name}: {} of {} exact ({:.1} %)",
        score.matched(),
        score.total,
        score.percent()
    );
    let names = cases.iter().map(|c| case_name(name, &c.name)).collect();
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

const CORPORA: &[&str] = &["github", "crisp", "kinds", "languages", "html"];

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

/// Every HTML reply of the `html` corpus and its plain-text twin extract to the same text.
#[test]
fn html_replies_and_their_text_twins_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reply-bodies/html");
    let cases = corpus_cases(&dir).unwrap_or_else(|e| panic!("{e:#}"));
    let html: Vec<_> = cases.iter().filter(|c| c.name.ends_with(".html")).collect();
    assert!(html.len() >= 10, "only {} HTML cases", html.len());
    let mut disagree = Vec::new();
    for case in html {
        let twin = case.input.with_extension("txt");
        assert!(
            twin.is_file(),
            "{}: no plain-text twin",
            case.input.display()
        );
        let extract = |path: &Path| {
            let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            canonical(&extract_text(&raw).unwrap_or_else(|e| panic!("{e:#}")))
        };
        let (from_html, from_text) = (extract(&case.input), extract(&twin));
        if from_html != from_text {
            disagree.push(format!(
                "{}: HTML (-) and text (+) differ:\n{}",
                case.name,
                diff(&from_html, &from_text)
            ));
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
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

/// Writes `files` (relative path, content) under a fresh temporary folder.
fn corpus(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

const REPLY: &str = "Count me in!\r\n\r\nOn Mon, 1 Jun 2026 at 09:00, Ed <ed@example.org> wrote:\r\n> Who is coming?\r\n";

#[test]
fn scorer_reads_emails_and_trimmed_folders() {
    let message = format!(
        "From: Ann <ann@example.org>\r\nTo: ed@example.org\r\nSubject: Re: V1N1\r\n\r\n{REPLY}"
    );
    let dir = corpus(&[
        ("emails/whole", &message),
        ("trimmed/whole", "Count me in!   \r\n\r\n"),
        ("emails/bare", REPLY),
        ("trimmed/bare", "Not what she wrote"),
    ]);
    let score = score_corpus(dir.path()).expect("score");
    assert_eq!((score.matched(), score.total), (1, 2));
    let misses: Vec<&str> = score.misses.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(misses, ["bare"]);
    assert_eq!(score.misses[0].got, "Count me in!");
    assert_eq!(score.misses[0].expected, "Not what she wrote");
    assert!(
        diff(&score.misses[0].expected, &score.misses[0].got).contains("  + Count me in!"),
        "{}",
        diff(&score.misses[0].expected, &score.misses[0].got)
    );
}

#[test]
fn scorer_reads_txt_and_expected_side_by_side() {
    let dir = corpus(&[
        ("a.txt", REPLY),
        ("a.expected", "Count me in!\n"),
        ("b.txt", REPLY),
        ("b.expected", "Count me in!\n\n> Who is coming?"),
        (
            "c.html",
            "<div>Count me in!</div><blockquote type=cite>Who is coming?</blockquote>",
        ),
        ("c.expected", "Count me in!"),
        ("SOURCE.txt", "where the corpus comes from"),
        ("LICENSE", "not a case"),
    ]);
    let score = score_corpus(dir.path()).expect("score");
    assert_eq!((score.matched(), score.total), (2, 3));
    let misses: Vec<&str> = score.misses.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(misses, ["b.txt"]);
}

#[test]
fn scorer_names_an_input_without_expected_text() {
    let dir = corpus(&[("emails/lonely", REPLY), ("trimmed/other", "x")]);
    let err = format!(
        "{:#}",
        score_corpus(dir.path()).expect_err("no expected text")
    );
    assert!(
        err.contains("emails/lonely") && err.contains("trimmed/lonely"),
        "{err}"
    );
    let empty = corpus(&[("notes.md", "nothing here")]);
    let err = format!("{:#}", score_corpus(empty.path()).expect_err("no cases"));
    assert!(err.contains("no cases"), "{err}");
}
