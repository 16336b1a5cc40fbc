//! End-to-end tests of `dispatch init`, `new` and `build` on temporary newsletter folders.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{dispatch, init, stderr, stdout, write_issue};

/// Runs dispatch, insists that it succeeds, and returns its standard output.
fn ok(dir: &Path, args: &[&str]) -> String {
    stdout(&common::cli::ok(dir, args))
}

/// Runs dispatch, insists that it fails, and returns its standard error.
fn fails(dir: &Path, args: &[&str]) -> String {
    stderr(&common::cli::fails(dir, args))
}

const ISSUE_2: &str = r#"---
volume: 1
number: 2
title: Tables & "quotes"
date: 2030-03-04
preheader: A preheader for the inbox.
question: What did you build this week?
---
Hi reader,

A paragraph with `inline code` and a [link](https://example.org/a?b=1&c=2).

- one
  - nested
- two

> A quote.

![A chart of builds per week](https://example.org/chart.png)

| a | b |
|---|---|
| 1 | 2 |
"#;

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn output_files(dir: &Path) -> Vec<PathBuf> {
    common::cli::files_under(&dir.join("build"))
}

#[test]
fn init_new_build_writes_every_output() {
    let (_tmp, dir) = init();
    let out = ok(&dir, &["new", "--title", "Second: the sequel"]);
    assert!(
        out.starts_with("created V1N2 in issues/v1n2-second-the-sequel.md\nnext: write it, then preview it with `dispatch --dir "),
        "the file and the next step: {out}"
    );
    assert!(
        out.contains("serve` and check it with `dispatch --dir "),
        "{out}"
    );
    assert!(out.trim_end().ends_with("check v1n2`"), "{out}");
    let created = std::fs::read_dir(dir.join("issues")).unwrap().count();
    assert_eq!(created, 2);
    // Overwrite the new issue with known content.
    for e in std::fs::read_dir(dir.join("issues")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("v1n2") {
            std::fs::write(&p, ISSUE_2).unwrap();
        }
    }
    ok(&dir, &["build"]);
    for rel in [
        "build/email/v1n1.html",
        "build/email/v1n1.txt",
        "build/email/v1n1.eml",
        "build/email/v1n2.html",
        "build/web/v1n1/index.html",
        "build/web/v1n2/index.html",
        "build/web/index.html",
        "build/web/feed.xml",
    ] {
        assert!(dir.join(rel).is_file(), "{rel} missing");
    }
    assert!(ok(&dir, &["new", "--volume", "2"]).starts_with("created V2N1 in "));
}

/// Without --title and without a terminal to ask on, the file is named after the day and the
/// next step says to set the title.
#[test]
fn new_without_a_title_names_the_file_after_the_day() {
    let (_tmp, dir) = init();
    let today = chrono::Local::now().date_naive().format("%Y-%m-%d");
    let out = ok(&dir, &["new"]);
    let file = format!("issues/v1n2-{today}.md");
    assert!(
        out.starts_with(&format!("created V1N2 in {file}\n")),
        "{out}"
    );
    assert!(out.contains("next: set its title and write it"), "{out}");
    let text = read(&dir, &file);
    assert!(text.contains("title: Untitled\n"), "{text}");
    assert!(!out.contains("untitled"), "{out}");
    // The placeholder is a warning of the preflight until the title is set.
    let report = ok(&dir, &["check", "v1n2", "--offline"]);
    assert!(
        report.contains(&format!(
            "{file}: the title is still “Untitled”, the placeholder `dispatch new` writes"
        )),
        "{report}"
    );
}

#[test]
fn email_html_is_self_contained_and_inlined() {
    let (_tmp, dir) = init();
    write_issue(&dir, "v1n2.md", ISSUE_2);
    ok(&dir, &["build", "v1n2"]);
    let html = read(&dir, "build/email/v1n2.html");
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("<link rel=\"stylesheet\""),
        "no external stylesheet"
    );
    assert!(html.contains("name=\"color-scheme\""));
    assert!(html.contains("A preheader for the inbox."));
    assert!(
        html.contains("display:none") || html.contains("display: none"),
        "hidden preheader"
    );
    assert!(html.contains("alt=\"A chart of builds per week\""));
    // Styles are inlined on the Markdown body's elements.
    for tag in [
        "<p style=\"",
        "<blockquote style=\"",
        "<table",
        "<code style=\"",
    ] {
        assert!(html.contains(tag), "{tag} not styled");
    }
    assert!(
        html.contains("max-width:600px")
            || html.contains("max-width: 600px")
            || html.contains("width=\"600\"")
    );
    assert!(
        html.contains("This is Volume 1, Number 2 of My Newsletter."),
        "colophon"
    );
    assert!(html.contains("What did you build this week?"), "question");
    assert!(html.contains("Just hit reply"));
    assert!(
        html.contains("Tables &amp; &quot;quotes&quot;")
            || html.contains("Tables &amp; \"quotes\"")
    );
    let mut encoded = String::new();
    dispatch::outgoing::compose::quoted_printable(&html, &mut encoded);
    assert!(encoded.len() < 100_000);
}

#[test]
fn plain_text_is_readable() {
    let (_tmp, dir) = init();
    write_issue(&dir, "v1n2.md", ISSUE_2);
    ok(&dir, &["build", "1.2"]);
    let text = read(&dir, "build/email/v1n2.txt");
    assert!(
        !text.contains('<') || !text.contains("</"),
        "no HTML left: {text}"
    );
    assert!(
        text.contains("Tables & \"quotes\". My Newsletter V1N2"),
        "{text}"
    );
    assert!(text.contains("https://example.org/a?b=1&c=2"), "{text}");
    assert!(text.contains("nested"), "{text}");
    assert!(
        text.contains("This is Volume 1, Number 2 of My Newsletter."),
        "{text}"
    );
    assert!(
        text.contains("What did you build this week? Just hit reply"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
}

/// The three outputs of one built issue: email HTML, plain text, web page.
fn built(dir: &Path, slug: &str) -> [String; 3] {
    [
        read(dir, &format!("build/email/{slug}.html")),
        read(dir, &format!("build/email/{slug}.txt")),
        read(dir, &format!("build/web/{slug}/index.html")),
    ]
}

#[test]
fn without_approved_replies_the_section_shows_only_the_question() {
    let (_tmp, dir) = init();
    write_issue(&dir, "v1n2.md", ISSUE_2);
    ok(&dir, &["build", "1.2"]);
    for out in built(&dir, "v1n2") {
        assert!(!out.contains("Last time I asked"), "{out}");
        assert!(!out.contains("Nobody has answered"), "{out}");
        assert!(
            !out.contains("What would you like to read about here?"),
            "{out}"
        );
        assert!(
            out.contains("What did you build this week? Just hit reply"),
            "{out}"
        );
    }
}

#[test]
fn the_replies_note_stands_in_for_missing_replies_escaped_in_html() {
    let (_tmp, dir) = init();
    let note = r#"replies_note: 'Your answers to <b>"what to read"</b> & more: next time.'"#;
    let issue = ISSUE_2.replacen("question:", &format!("{note}\nquestion:"), 1);
    write_issue(&dir, "v1n2.md", &issue);
    ok(&dir, &["build", "1.2"]);
    let [email, text, web] = built(&dir, "v1n2");
    for html in [&email, &web] {
        assert!(
            html.contains(
                "Your answers to &lt;b&gt;&quot;what to read&quot;&lt;/b&gt; &amp; more: next time."
            ),
            "{html}"
        );
        assert!(!html.contains("<b>\"what"), "{html}");
        assert!(!html.contains("Last time I asked"), "{html}");
    }
    assert!(
        text.contains("Your answers to <b>\"what to read\"</b> & more: next time."),
        "{text}"
    );
    assert!(!text.contains("Last time I asked"), "{text}");
    let wrong = ISSUE_2.replacen("question:", "replies_note: [a, b]\nquestion:", 1);
    write_issue(&dir, "v1n2.md", &wrong);
    let err = fails(&dir, &["build", "1.2"]);
    assert!(
        err.contains("v1n2.md:7") && err.contains("replies_note"),
        "{err}"
    );
}

#[test]
fn eml_is_a_complete_multipart_message() {
    let (_tmp, dir) = init();
    write_issue(&dir, "v1n2.md", ISSUE_2);
    ok(&dir, &["build", "V1N2"]);
    let eml = read(&dir, "build/email/v1n2.eml");
    for header in [
        "From: ",
        "To: ",
        "Reply-To: ",
        "Subject: ",
        "Date: ",
        "Message-ID: <",
        "MIME-Version: 1.0",
        "List-Unsubscribe: <mailto:",
        "List-Id: ",
    ] {
        assert!(
            eml.contains(&format!("\r\n{header}")) || eml.starts_with(header),
            "{header} missing"
        );
    }
    let plain = eml.find("Content-Type: text/plain; charset=utf-8").unwrap();
    let html = eml.find("Content-Type: text/html; charset=utf-8").unwrap();
    assert!(plain < html, "text/plain comes first");
    assert!(eml.contains("multipart/alternative"));
}

#[test]
fn atom_feed_parses_and_archive_is_newest_first() {
    let (_tmp, dir) = init();
    write_issue(&dir, "v1n2.md", ISSUE_2);
    write_issue(
        &dir,
        "v2n1.md",
        &ISSUE_2
            .replace("volume: 1\nnumber: 2", "volume: 2\nnumber: 1")
            .replace("Tables", "Later"),
    );
    ok(&dir, &["build"]);
    let feed = read(&dir, "build/web/feed.xml");
    let parsed = feed_rs::parser::parse(feed.as_bytes()).expect("the feed parses");
    assert_eq!(parsed.entries.len(), 3);
    let first = parsed.entries[0].title.as_ref().unwrap().content.clone();
    assert!(first.starts_with("V2N1"), "{first}");
    assert_eq!(
        parsed.entries[0].links[0].href,
        "https://newsletter.example.com/v2n1/"
    );
    let index = read(&dir, "build/web/index.html");
    let v2 = index.find("Volume 2").unwrap();
    let v1 = index.find("Volume 1").unwrap();
    assert!(v2 < v1, "newest volume first");
    let page = read(&dir, "build/web/v1n2/index.html");
    assert!(
        page.contains("<link rel=\"canonical\" href=\"https://newsletter.example.com/v1n2/\">")
    );
}

#[test]
fn building_twice_gives_identical_files() {
    let (_tmp, dir) = init();
    write_issue(&dir, "v1n2.md", ISSUE_2);
    ok(&dir, &["build"]);
    let first: Vec<(PathBuf, Vec<u8>)> = output_files(&dir)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    std::fs::remove_dir_all(dir.join("build")).unwrap();
    ok(&dir, &["build"]);
    let second: Vec<(PathBuf, Vec<u8>)> = output_files(&dir)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    assert_eq!(first.len(), second.len());
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.0, b.0);
        assert!(a.1 == b.1, "{} differs between builds", a.0.display());
    }
}

/// Each broken input names the file, the line and the key, exits non-zero and writes nothing.
#[test]
fn broken_inputs_fail_and_write_nothing() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "unknown field",
            "v1n2.md",
            "---\nvolume: 1\nnumber: 2\ntitle: T\ndate: 2030-01-01\nauthor: me\n---\nx\n",
            "v1n2.md:6: `author`",
        ),
        (
            "wrong type",
            "v1n2.md",
            "---\nvolume: one\nnumber: 2\ntitle: T\ndate: 2030-01-01\n---\nx\n",
            "v1n2.md:2: `volume`: must be a positive whole number, such as 1, not `one`",
        ),
        (
            "missing field",
            "v1n2.md",
            "---\nvolume: 1\nnumber: 2\ndate: 2030-01-01\n---\nx\n",
            "`title`: is required and missing",
        ),
        (
            "broken yaml",
            "v1n2.md",
            "---\nvolume: 1\nnumber: 2\ntitle: [open\ndate: 2030-01-01\n---\nx\n",
            "v1n2.md:",
        ),
        (
            "bad date",
            "v1n2.md",
            "---\nvolume: 1\nnumber: 2\ntitle: T\ndate: soon\n---\nx\n",
            "v1n2.md:5",
        ),
        (
            "duplicate",
            "zz-copy.md",
            "---\nvolume: 1\nnumber: 1\ntitle: Copy\ndate: 2030-01-01\n---\nx\n",
            "zz-copy.md:3: `number`: V1N1 is already used by",
        ),
        ("no front matter", "v1n2.md", "just text\n", "v1n2.md:1"),
    ];
    for (what, file, text, expected) in cases {
        let (_tmp, dir) = init();
        write_issue(&dir, file, text);
        let err = fails(&dir, &["build"]);
        assert!(
            err.contains(expected),
            "{what}: expected `{expected}` in: {err}"
        );
        assert!(!dir.join("build").exists(), "{what}: something was written");
    }
}

#[test]
fn broken_config_fails_and_writes_nothing() {
    let cases: &[(&str, &str)] = &[
        (
            "  colour: blue\n",
            "config.yaml:6: `newsletter.colour`: is not a setting here",
        ),
        (
            "smtp:\n  host: h\n  port: lots\n",
            "`smtp.port`: must be a whole number from 0 to 65535, not `lots`",
        ),
    ];
    for (extra, expected) in cases {
        let (_tmp, dir) = init();
        let mut config = read(&dir, "config.yaml");
        let insert_at = config.find("  from:").unwrap();
        let end = config[insert_at..].find('\n').unwrap() + insert_at + 1;
        if extra.starts_with("  ") {
            config.insert_str(end, extra);
        } else {
            config.push_str(extra);
        }
        std::fs::write(dir.join("config.yaml"), config).unwrap();
        let err = fails(&dir, &["build"]);
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
        assert!(!dir.join("build").exists());
    }
    let (_tmp, dir) = init();
    std::fs::write(dir.join("config.yaml"), "newsletter: [\n").unwrap();
    let err = fails(&dir, &["build"]);
    assert!(err.contains("config.yaml:"), "{err}");
}

#[test]
fn unknown_issue_and_bad_names_are_errors() {
    let (_tmp, dir) = init();
    assert!(fails(&dir, &["build", "V9N9"]).contains("there is no issue V9N9"));
    assert!(fails(&dir, &["build", "nine"]).contains("write it as V5N2, v5n2 or 5.2"));
    assert!(!dir.join("build").exists());
}

#[test]
fn init_refuses_a_non_empty_folder() {
    let (_tmp, dir) = init();
    let out = common::cli::RunToEnd::run(common::cli::command(None, &["init"]).arg(&dir));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
}

#[test]
fn not_a_newsletter_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(tmp.path(), &["build"]);
    assert!(err.contains("has no config.yaml"), "{err}");
}

#[test]
fn the_example_newsletter_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["issues", "templates"] {
        std::fs::create_dir_all(tmp.path().join(sub)).unwrap();
        for e in std::fs::read_dir(root.join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, tmp.path().join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(root.join("config.yaml"), tmp.path().join("config.yaml")).unwrap();
    let out = dispatch(tmp.path(), &["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "warnings: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = std::fs::read_dir(tmp.path().join("issues"))
        .unwrap()
        .count();
    assert!(ids >= 4);
    for e in std::fs::read_dir(tmp.path().join("build/email")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "html") {
            let html = std::fs::read_to_string(&p).unwrap();
            let mut encoded = String::new();
            dispatch::outgoing::compose::quoted_printable(&html, &mut encoded);
            assert!(
                encoded.len() < 100_000,
                "{} is {} bytes encoded",
                p.display(),
                encoded.len()
            );
        }
    }
}

/// On a terminal, `new` without --title asks for one. The terminal is a pseudo-terminal made by
/// `script` (util-linux), fed the answer on its standard input.
#[test]
fn new_asks_for_the_title_on_a_terminal() {
    let (_tmp, dir) = init();
    let line = format!("'{}' --dir '{}' new", common::cli::BIN, dir.display());
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    let out = common::cli::output(&mut script, b"Asked on a terminal\n");
    let said = stdout(&out);
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    assert!(
        said.contains("title of V1N2 (empty to name the file after today): "),
        "{said}"
    );
    assert!(
        said.contains("created V1N2 in issues/v1n2-asked-on-a-terminal.md"),
        "{said}"
    );
    let text = read(&dir, "issues/v1n2-asked-on-a-terminal.md");
    assert!(text.contains("title: Asked on a terminal\n"), "{text}");
}

/// `init` names what it wrote and the next step, and every file it names exists.
#[test]
fn init_names_its_files_and_the_next_step() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("news");
    let out = common::cli::output(common::cli::command(None, &["init"]).arg(&dir), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    let mut lines = said.lines();
    let created = lines.next().unwrap_or_default();
    assert!(
        created.ends_with(
            ": config.yaml, .gitignore, templates/ and the first issue, issues/v1n1-hello-world.md"
        ),
        "{said}"
    );
    for name in [
        "config.yaml",
        ".gitignore",
        "templates",
        "issues/v1n1-hello-world.md",
    ] {
        assert!(dir.join(name).exists(), "{name} is named but missing");
    }
    let next = lines.next().unwrap_or_default();
    assert!(
        next.starts_with("next: set newsletter.title, url and from in ")
            && next.contains(&format!("`dispatch --dir {} build`", dir.display())),
        "{said}"
    );
}

/// The exit statuses the README documents: 0 success, 1 an error, 2 a usage error (clap's
/// convention). 130 and 143, a send or import stopped by a signal, are tested in send.rs and
/// signals.rs.
#[test]
fn exit_status_is_0_on_success_1_on_an_error_and_2_on_a_usage_error() {
    let (_tmp, dir) = init();
    assert_eq!(dispatch(&dir, &["build"]).status.code(), Some(0));
    assert_eq!(dispatch(&dir, &["build", "V9N9"]).status.code(), Some(1));
    for usage in [
        &["build", "--no-such-option"][..],
        &["no-such-command"],
        &["new", "--volume", "0"],
        &["new", "--volume", "one"],
        &["send"],
    ] {
        let out = dispatch(&dir, usage);
        assert_eq!(out.status.code(), Some(2), "{usage:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: "),
            "{usage:?}: {}",
            stderr(&out)
        );
    }
}

/// An error whose message already says its cause prints it once, not again as "caused by".
#[test]
fn an_error_says_its_cause_once() {
    let (_tmp, dir) = init();
    let mut config = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    config.push_str("smtp:\n  host: 127.0.0.1\n  port: 25\n  ca_file: missing.pem\n");
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    let out = dispatch(&dir, &["send", "v1n1", "--test", "ann@example.org"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: smtp.ca_file: cannot read the CA certificate"),
        "{err}"
    );
    assert_eq!(err.matches("missing.pem").count(), 1, "{err}");
}

/// The signup form appears on every page and the archive once a `host:` section exists, posts
/// to the host's `subscribe`, and follows the folder's own `templates/signup.html`.
#[test]
fn the_signup_form_comes_with_a_host_and_can_be_restyled() {
    let (_tmp, dir) = init();
    let pages = ["build/web/index.html", "build/web/v1n1/index.html"];
    ok(&dir, &["build"]);
    for page in pages {
        assert!(!read(&dir, page).contains("<form"), "{page} has a form");
    }
    let config = read(&dir, "config.yaml");
    std::fs::write(
        dir.join("config.yaml"),
        format!("{config}\nhost:\n  url: https://news.example.com/letters\n"),
    )
    .unwrap();
    ok(&dir, &["build"]);
    for page in pages {
        let html = read(&dir, page);
        assert_eq!(html.matches("<form").count(), 1, "{page}: {html}");
        for part in [
            r#"<form class="signup" method="post" action="https://news.example.com/letters/subscribe">"#,
            r#"type="email" name="email" required"#,
            r#"name="name""#,
            r#"<p class="signup-trap" aria-hidden="true">"#,
            r#"name="website" value="" tabindex="-1" autocomplete="off""#,
            r#"<button type="submit">"#,
        ] {
            assert!(html.contains(part), "{page} lacks {part}: {html}");
        }
        assert!(!html.contains("<script"), "{page} needs no script");
    }
    assert!(read(&dir, "build/web/style.css").contains(".signup-trap { position: absolute"));
    std::fs::write(
        dir.join("templates/signup.html"),
        "<form class=\"mine\" action=\"{{ newsletter.subscribe_url }}\"></form>",
    )
    .unwrap();
    ok(&dir, &["build"]);
    for page in pages {
        let html = read(&dir, page);
        assert!(
            html.contains(
                r#"<form class="mine" action="https://news.example.com/letters/subscribe">"#
            ),
            "{page}: {html}"
        );
    }
}
