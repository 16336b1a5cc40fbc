//! The library is quiet: below `src/cmd`, `src/cli.rs` and `src/main.rs` nothing prints, exits
//! or builds its own tokio runtime (the binary makes one and passes it down).

use std::path::{Path, PathBuf};

/// What only the binary may do, as it appears in code (not in a string).
const BINARY_ONLY: [&str; 8] = [
    "println!(",
    "print!(",
    "eprintln!(",
    "eprint!(",
    "process::exit(",
    "runtime::Builder",
    "Runtime::new(",
    "indicatif::",
];

fn library_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("cmd") {
                library_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.ends_with("main.rs")
            && !path.ends_with("cli.rs")
        {
            out.push(path);
        }
    }
}

/// `needle` at `at` in `line` is code: preceded by no identifier character and outside a
/// string literal (an even number of unescaped quotes before it).
fn in_code(line: &str, at: usize) -> bool {
    let before = &line[..at];
    let quotes = before.matches('"').count() - before.matches("\\\"").count();
    let joined = before
        .chars()
        .last()
        .is_some_and(|c| c.is_alphanumeric() || c == '_');
    quotes.is_multiple_of(2) && !joined
}

#[test]
fn the_library_neither_prints_nor_exits_nor_makes_a_runtime() {
    let mut files = Vec::new();
    library_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for needle in BINARY_ONLY {
                if line.match_indices(needle).any(|(at, _)| in_code(line, at)) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "printing, exiting or a runtime below cmd:\n{}",
        found.join("\n")
    );
}
