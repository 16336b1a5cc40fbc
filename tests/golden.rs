//! Golden files: what readers and the editor see, pinned byte for byte.
//!
//! The fixture newsletter `tests/fixtures/golden/` uses every Markdown feature the renderer
//! supports; its readers' replies come in through `dispatch replies import --mbox` and are
//! approved with `dispatch replies approve`, as an editor would. The snapshots live in
//! `tests/snapshots/golden__*.snap`. After an intended change of output, review and accept them
//! with `cargo insta review` (or `INSTA_UPDATE=always cargo test --test golden`, then read the
//! diff in git); see README.md, "Tests and benchmarks".

mod common;

use common::cli::Fixture;

/// The issues of the fixture: V1N1 has no replies yet, V1N2 shows two approved replies to
/// V1N1's question (a third stays pending and must not appear).
const ISSUES: &[&str] = &["v1n1", "v1n2"];

/// Runs the editor's session on a copy of the fixture and returns it with a transcript of
/// every command, what it printed and its exit status when not 0.
fn built() -> (Fixture, String) {
    let fixture = Fixture::copy("golden");
    let mut transcript = String::new();
    for args in [
        &["replies", "import", "--mbox", "replies.mbox"][..],
        &["replies", "list"],
        &["replies", "approve", "1", "--note", "Thanks, Ann!"],
        &["replies", "approve", "2", "--anonymous"],
        &["replies", "show", "1"],
        &["build"],
        &["subscribers", "add", "ann@example.org", "--name", "Ann Lee"],
        &["subscribers", "add", "bob@example.net"],
        &["subscribers", "list"],
        &["subscribers", "count"],
        &["check", "v1n2", "--offline"],
        &["send", "v1n2", "--dry-run"],
    ] {
        let run = fixture.run(args);
        let shown: Vec<String> = args
            .iter()
            .map(|a| match a.contains(' ') {
                true => format!("\"{a}\""),
                false => a.to_string(),
            })
            .collect();
        transcript.push_str(&format!("$ dispatch {}\n", shown.join(" ")));
        transcript.push_str(&run.stdout);
        if !run.stderr.is_empty() {
            transcript.push_str("--- stderr\n");
            transcript.push_str(&run.stderr);
        }
        if run.status != Some(0) {
            transcript.push_str(&format!("--- exit status {:?}\n", run.status));
        }
        transcript.push('\n');
    }
    (fixture, transcript)
}

/// Run times (`in 30ms`, `in 1.2s`) written `in [TIME]`.
const TIME_FILTER: (&str, &str) = (r"in \d+(\.\d+)?(ns|µs|ms|s)\b", "in [TIME]");

/// A message with what may differ between builds of the same content written as a
/// placeholder: `Date:` and `Message-ID:` headers (of the message and of any part) and the
/// MIME boundaries.
fn redact_eml(eml: &str) -> String {
    let mut boundaries = Vec::new();
    let mut rest = eml;
    while let Some(at) = rest.find("boundary=") {
        let value = rest[at + "boundary=".len()..].trim_start_matches('"');
        let end = value
            .find(|c: char| c == '"' || c == ';' || c.is_whitespace())
            .unwrap_or(value.len());
        boundaries.push(value[..end].to_string());
        rest = &value[end..];
    }
    let mut out: String = eml
        .split_inclusive('\n')
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            let eol = &line[line.trim_end_matches(['\r', '\n']).len()..];
            if lower.starts_with("date:") {
                format!("Date: [DATE]{eol}")
            } else if lower.starts_with("message-id:") {
                format!("Message-ID: [MESSAGE-ID]{eol}")
            } else {
                line.to_string()
            }
        })
        .collect();
    // Longest first, so that a boundary that contains another is replaced whole.
    boundaries.sort_by_key(|b| std::cmp::Reverse(b.len()));
    for (i, boundary) in boundaries.iter().enumerate() {
        if !boundary.is_empty() {
            out = out.replace(boundary.as_str(), &format!("[BOUNDARY-{}]", i + 1));
        }
    }
    out
}

#[test]
fn build_output_is_pinned() {
    let (fixture, transcript) = built();
    insta::with_settings!({ filters => vec![TIME_FILTER] }, {
        insta::assert_snapshot!("session", transcript);
    });
    for issue in ISSUES {
        for (name, path) in [
            ("email_html", format!("build/email/{issue}.html")),
            ("email_txt", format!("build/email/{issue}.txt")),
            ("web_page", format!("build/web/{issue}/index.html")),
        ] {
            insta::assert_snapshot!(format!("{issue}_{name}"), fixture.read(&path));
        }
        let eml = fixture.read(&format!("build/email/{issue}.eml"));
        insta::assert_snapshot!(format!("{issue}_eml"), redact_eml(&eml));
    }
    insta::assert_snapshot!("web_index", fixture.read("build/web/index.html"));
    insta::assert_snapshot!("web_feed", fixture.read("build/web/feed.xml"));
}

#[test]
fn eml_redaction_replaces_dates_ids_and_boundaries() {
    let eml = "Date: Tue, 20 Jan 2026 09:00:00 +0000\r\nMessage-ID: <a@b>\r\n\
               Content-Type: multipart/alternative; boundary=\"=_x\"\r\n\r\n--=_x\r\n\
               Content-Type: multipart/related; boundary=inner\r\n\r\n--inner--\r\n--=_x--\r\n";
    assert_eq!(
        redact_eml(eml),
        "Date: [DATE]\r\nMessage-ID: [MESSAGE-ID]\r\n\
         Content-Type: multipart/alternative; boundary=\"[BOUNDARY-2]\"\r\n\r\n--[BOUNDARY-2]\r\n\
         Content-Type: multipart/related; boundary=[BOUNDARY-1]\r\n\r\n--[BOUNDARY-1]--\r\n--[BOUNDARY-2]--\r\n"
    );
}

/// The subcommands listed under `Commands:` in a help text, without `help` itself.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("  "))
        .filter(|line| !line.starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// `dispatch --help` and the `--help` of every subcommand, found by walking the help texts,
/// so a new subcommand gets its snapshot without touching this test.
#[test]
fn help_texts_are_pinned() {
    let fixture = Fixture::copy("golden");
    let mut todo = vec![Vec::<String>::new()];
    let mut seen = Vec::new();
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = fixture.run(&args).ok(&args);
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        let name = std::iter::once("dispatch")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("_");
        insta::assert_snapshot!(format!("help_{name}"), help);
        seen.push(name);
    }
    assert!(
        seen.iter().any(|n| n == "dispatch_replies_approve"),
        "nested subcommands are walked: {seen:?}"
    );
}
