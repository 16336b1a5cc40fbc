//! Scores reply extraction against corpora: `NAME: M of N exact (P %)` per corpus, then each
//! miss by file name (with `--diff`, expected against got). A corpus is a folder of
//! `emails/X` with `trimmed/X` beside it, or of `NAME.txt` / `NAME.html` with `NAME.expected`. Run by
//! `bench/replies-score`.

use std::path::PathBuf;
use std::process::ExitCode;

use dispatch::replies::score::{diff, score_corpus};

const USAGE: &str = "usage: bench/replies-score [--diff] CORPUS_DIR...";

fn main() -> ExitCode {
    let mut show_diff = false;
    let mut dirs = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--diff") => show_diff = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => dirs.push(PathBuf::from(arg)),
        }
    }
    if dirs.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for dir in &dirs {
        let name = dir.file_name().unwrap_or(dir.as_os_str()).to_string_lossy();
        match score_corpus(dir) {
            Ok(score) => {
                println!(
                    "{name}: {} of {} exact ({:.1} %)",
                    score.matched(),
                    score.total,
                    score.percent()
                );
                for miss in &score.misses {
                    println!("  miss: {}", miss.name);
                    if show_diff {
                        print!("{}", diff(&miss.expected, &miss.got));
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
