//! End-to-end tests of bad input and of what `build`, `init`, `new` and the subscriber commands
//! leave on disk: dates, oversized and non-UTF-8 files, interrupted builds, deleted issues,
//! file modes, Gmail clipping, damaged databases and subscriber names.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::cli::{dispatch, fails, files_under, init, ok, stderr, stdout, write_issue};

fn issue(volume: u32, number: u32, date: &str, body: &str) -> String {
    format!("---\nvolume: {volume}\nnumber: {number}\ntitle: Issue {number}\n{date}\n---\n{body}\n")
}

fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".dispatch-"))
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `dispatch ARGS…` under `umask`; `args` include `--dir` or `init DIR` as needed.
fn with_umask(umask: &str, args: &[&str]) -> Output {
    let out = common::cli::RunToEnd::run(&mut common::cli::command_under(
        &format!("umask {umask}"),
        None,
        args,
    ));
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

#[test]
fn dates_a_header_cannot_carry_two_digit_years_and_empty_dates_are_errors_in_build_and_check() {
    for (date, expected) in [
        ("date: +10000-01-01", "is not a date"),
        ("date: -0001-01-01", "is not a date"),
        ("date: 26-12-02", "four-digit year"),
        ("date: 1066-10-14", "out of range"),
        ("date:", "is empty"),
    ] {
        let (_tmp, dir) = init();
        write_issue(&dir, "v1n2.md", &issue(1, 2, date, "Hi"));
        for args in [&["build"][..], &["check", "--offline", "v1n2"][..]] {
            let err = stderr(&fails(&dir, args));
            assert!(
                err.contains("v1n2.md:5: `date`") && err.contains(expected),
                "{date} {args:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
        assert!(!dir.join("build").exists(), "{date}: something was written");
    }
}

#[test]
fn non_utf8_and_oversized_files_are_errors_naming_the_file() {
    let (_tmp, dir) = init();
    let path = dir.join("issues/v1n2.md");
    let mut text = issue(1, 2, "date: 2030-01-02", "Hi").into_bytes();
    text.extend_from_slice(b"caf\xe9\n");
    std::fs::write(&path, &text).unwrap();
    let err = stderr(&fails(&dir, &["build"]));
    assert!(err.contains("v1n2.md:8: column 4 is not UTF-8"), "{err}");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(5 * 1024 * 1024 + 1)
        .unwrap();
    let err = stderr(&fails(&dir, &["build"]));
    assert!(err.contains("v1n2.md is larger than 5 MB"), "{err}");
    std::fs::remove_file(&path).unwrap();
    let config = dir.join("config.yaml");
    let mut bytes = std::fs::read(&config).unwrap();
    let bad_line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
    bytes.extend_from_slice(b"# \xff\n");
    std::fs::write(&config, &bytes).unwrap();
    let err = stderr(&fails(&dir, &["build"]));
    assert!(
        err.contains(&format!("config.yaml:{bad_line}: column 3 is not UTF-8")),
        "{err}"
    );
    bytes.truncate(bytes.len() - 4);
    std::fs::write(&config, bytes).unwrap();
    std::fs::write(dir.join("templates/email.txt"), b"{{ title }}\n\x80\n").unwrap();
    let err = stderr(&fails(&dir, &["build"]));
    assert!(err.contains("email.txt:2: column 1 is not UTF-8"), "{err}");
}

#[test]
fn new_after_the_largest_number_is_an_error() {
    let (_tmp, dir) = init();
    write_issue(
        &dir,
        "v1nmax.md",
        &issue(1, u32::MAX, "date: 2030-01-02", "Hi"),
    );
    let err = stderr(&fails(&dir, &["new"]));
    assert!(err.contains("largest issue number (4294967295)"), "{err}");
    assert_eq!(std::fs::read_dir(dir.join("issues")).unwrap().count(), 2);
    assert!(stdout(&ok(&dir, &["new", "--volume", "2"])).starts_with("created V2N1 "));
}

#[test]
fn leftovers_of_an_interrupted_build_and_outputs_of_deleted_issues_are_removed() {
    let (_tmp, dir) = init();
    write_issue(&dir, "v1n2.md", &issue(1, 2, "date: 2030-01-02", "Two"));
    ok(&dir, &["build"]);
    let build = dir.join("build");
    // What a build killed half-way leaves: temporary files in the staging folder, and (from
    // versions that staged beside the pages) temporary files among the pages.
    std::fs::create_dir_all(build.join(".staging")).unwrap();
    for leftover in [
        ".staging/.dispatch-a1",
        "email/.dispatch-b2",
        "web/.dispatch-c3",
        "web/v1n1/.dispatch-d4",
    ] {
        std::fs::write(build.join(leftover), "half a page").unwrap();
    }
    std::fs::write(build.join("web/robots.txt"), "kept").unwrap();
    let out = stdout(&ok(&dir, &["build"]));
    assert!(out.contains("3 stale removed"), "{out}");
    assert!(!build.join(".staging").exists());
    assert_eq!(temporary_files(&build), Vec::<PathBuf>::new());

    std::fs::remove_file(dir.join("issues/v1n2.md")).unwrap();
    ok(&dir, &["build", "v1n1"]);
    assert!(
        build.join("email/v1n2.eml").exists(),
        "a partial build removes nothing"
    );
    let out = stdout(&ok(&dir, &["build"]));
    assert!(out.contains("4 stale removed"), "{out}");
    for gone in [
        "email/v1n2.html",
        "email/v1n2.txt",
        "email/v1n2.eml",
        "web/v1n2",
    ] {
        assert!(!build.join(gone).exists(), "{gone} is left");
    }
    assert!(build.join("web/v1n1/index.html").exists());
    assert!(build.join("web/robots.txt").exists());
    let index = std::fs::read_to_string(build.join("web/index.html")).unwrap();
    assert!(!index.contains("v1n2"), "{index}");
}

/// A real build of many issues killed with SIGKILL while it stages its files: the next build
/// clears what it left and brings every page up to date.
#[test]
fn a_killed_build_is_repaired_by_the_next() {
    use notify::Watcher as _;
    let (_tmp, dir) = init();
    let issues = 400;
    for n in 2..=issues {
        let body = format!(
            "Issue {n}.\n\n{}",
            "A paragraph of the archive. ".repeat(40)
        );
        write_issue(
            &dir,
            &format!("v1n{n}.md"),
            &issue(1, n, "date: 2030-01-02", &body),
        );
    }
    let build = dir.join("build");
    std::fs::create_dir_all(&build).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.kind.is_create()
        {
            let _ = tx.send(event.paths);
        }
    })
    .unwrap();
    watcher
        .watch(&build, notify::RecursiveMode::Recursive)
        .unwrap();
    let mut child = common::cli::spawn(&mut common::cli::command(Some(&dir), &["build"]));
    let staging = build.join(".staging");
    let mut staged = 0;
    while staged < 50 {
        let paths = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the build stages files");
        staged += paths.iter().filter(|p| p.starts_with(&staging)).count();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(watcher);
    assert!(
        !temporary_files(&staging).is_empty(),
        "the build was killed while staging"
    );

    ok(&dir, &["build"]);
    assert!(!staging.exists());
    assert_eq!(temporary_files(&build), Vec::<PathBuf>::new());
    let pages = files_under(&build.join("email")).len() + files_under(&build.join("web")).len();
    assert_eq!(pages, issues as usize * 4 + 3, "every page of every issue");
    let again = stdout(&ok(&dir, &["build"]));
    assert!(again.contains("(0 files changed)"), "{again}");
}

#[test]
fn written_files_honour_the_umask_and_personal_data_is_the_owners_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("news");
    let d = dir.to_str().unwrap();
    with_umask("022", &["init", d]);
    with_umask("022", &["--dir", d, "new", "--title", "Second"]);
    with_umask("022", &["--dir", d, "build"]);
    for file in files_under(&dir) {
        assert_eq!(mode(&file), 0o644, "{}", file.display());
    }
    assert_eq!(mode(&dir.join("build/web/v1n1")), 0o755);

    // A page an older dispatch wrote 0600 is opened up even when its content is unchanged.
    let page = dir.join("build/web/v1n1/index.html");
    std::fs::set_permissions(&page, std::fs::Permissions::from_mode(0o600)).unwrap();
    with_umask("027", &["--dir", d, "build"]);
    assert_eq!(mode(&page), 0o640);

    with_umask(
        "022",
        &["--dir", d, "subscribers", "add", "ann@example.org"],
    );
    let export = dir.join("export.csv");
    with_umask(
        "022",
        &[
            "--dir",
            d,
            "subscribers",
            "export",
            export.to_str().unwrap(),
        ],
    );
    for private in ["subscribers.db", "subscribers.db-wal", "export.csv"] {
        let path = dir.join(private);
        if path.exists() || private != "subscribers.db-wal" {
            assert_eq!(mode(&path), 0o600, "{private}");
        }
    }
}

#[test]
fn gmail_clipping_is_measured_on_the_html_part_whatever_the_text_says() {
    let (_tmp, dir) = init();
    let body = format!(
        "Content-Type: text/html\n\n{}\n\nContent-Type: text/html\n",
        "A long paragraph of words. ".repeat(4_000)
    );
    write_issue(&dir, "v1n2.md", &issue(1, 2, "date: 2030-01-02", &body));
    let err = stderr(&ok(&dir, &["build"]));
    assert!(
        err.contains("v1n2.md: V1N2: the email's HTML is") && err.contains("Gmail clips"),
        "{err}"
    );
    let built: usize = err
        .split("HTML is ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(built > 102_000, "{built}");
    let out = dispatch(&dir, &["check", "--offline", "v1n2"]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains(&format!(
            "the email's HTML is {built} bytes as sent; Gmail clips"
        )),
        "build and check measure alike: {all}"
    );
}

#[test]
fn an_empty_or_damaged_database_is_an_error_never_a_new_secret() {
    let (_tmp, dir) = init();
    let db = dir.join("subscribers.db");
    std::fs::write(&db, b"").unwrap();
    for args in [
        &["subscribers", "count"][..],
        &["subscribers", "add", "ann@example.org"][..],
        &["build"][..],
    ] {
        let err = stderr(&fails(&dir, args));
        assert!(
            err.contains("subscribers.db is empty (0 bytes)"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left as it was");
    std::fs::write(&db, "email\nann@example.org\n").unwrap();
    let err = stderr(&fails(&dir, &["subscribers", "count"]));
    assert!(
        err.contains("subscribers.db is not an SQLite database"),
        "{err}"
    );
}

#[test]
fn names_with_control_characters_are_refused_and_listed_escaped() {
    let (_tmp, dir) = init();
    let err = stderr(&fails(
        &dir,
        &[
            "subscribers",
            "add",
            "ann@example.org",
            "--name",
            "Ann\nBcc: x",
        ],
    ));
    assert!(err.contains("control character"), "{err}");
    let csv = dir.join("list.csv");
    std::fs::write(
        &csv,
        "email,name\nbob@example.org,\"Bob\u{1b}[2J\"\ncy@example.org,Cy \"Q\" Lee\n",
    )
    .unwrap();
    let out = dispatch(&dir, &["subscribers", "import", csv.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(err.contains("list.csv:2: the name"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    // A name an older version stored with control characters is shown escaped.
    // The store keeps a name as it is given (the import checks it first).
    let mut store = dispatch::store::Store::open(&dir.join("subscribers.db")).unwrap();
    store.remove_subscriber("cy@example.org").unwrap();
    store
        .add_subscriber("cy@example.org", Some("Cy\u{1b}[31m\nLee"))
        .unwrap();
    drop(store);
    let list = stdout(&ok(&dir, &["subscribers", "list"]));
    assert_eq!(
        list, "cy@example.org\tCy\\u{1b}[31m\\nLee\tactive\n",
        "{list:?}"
    );
}

/// `init` takes its folder as an argument: a `--dir` before or after it is a usage error (exit
/// 2), never silently ignored, and nothing is created.
#[test]
fn init_refuses_a_dir_beside_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    for args in [
        vec!["--dir", a, "init", b],
        vec!["init", "--dir", a, b],
        vec!["init", "--dir", a],
    ] {
        let out = common::cli::output(&mut common::cli::command(None, &args), b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("`init` takes the new folder as its argument, not --dir"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
            "{args:?}"
        );
    }
}

#[test]
fn a_missing_config_section_is_told_alike_by_every_command_that_needs_one() {
    let (_tmp, dir) = init();
    for (args, section) in [
        (&["send", "v1n1"][..], "smtp"),
        (&["replies", "import"][..], "imap"),
        (&["host"][..], "host"),
    ] {
        let err = stderr(&fails(&dir, args));
        assert!(
            err.contains(&format!(
                "config.yaml has no `{section}:` section: add one with "
            )),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("(the README's “Config reference” lists every key)"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn an_empty_csv_file_is_called_empty() {
    let (_tmp, dir) = init();
    let list = dir.join("list.csv");
    std::fs::write(&list, "\n").unwrap();
    let err = stderr(&fails(
        &dir,
        &["subscribers", "import", list.to_str().unwrap()],
    ));
    assert!(
        err.contains("list.csv is empty: its first line names the columns"),
        "{err}"
    );
}

/// The README's list of what `dispatch init` writes names every file it writes.
#[test]
fn the_readme_names_every_file_init_writes() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("`dispatch init DIR` writes")
        .expect("the README's list of init's files");
    // The indented block under that line, up to the next paragraph.
    let list: String = readme[start..]
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(list.contains("config.yaml"), "{list}");
    // The names the list gives, `confirm.html/.txt` read as confirm.html and confirm.txt.
    let mut named = std::collections::HashSet::new();
    for token in list.split(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        let mut parts = token.split("/.");
        let Some(first) = parts.next().filter(|f| f.contains('.')) else {
            continue;
        };
        let stem = first.rsplit_once('.').map_or(first, |(stem, _)| stem);
        named.insert(first.to_string());
        for ext in parts {
            named.insert(format!("{stem}.{ext}"));
        }
    }
    let (_tmp, dir) = init();
    for path in files_under(&dir) {
        let relative = path.strip_prefix(&dir).unwrap().to_str().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            named.contains(relative) || named.contains(name),
            "README does not list {relative} among init's files:\n{list}"
        );
    }
}
