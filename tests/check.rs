//! End-to-end tests of `dispatch check` against links served on loopback.

mod common;

use common::cli::{config, fails, newsletter, ok, stderr, stdout, write_issue};
use common::web::TestServer;

const FILE: &str = "v1n2-checks.md";

/// An issue whose body starts on file line 9 (8 lines of front matter and fences).
fn issue(body: &str) -> String {
    format!(
        "---\nvolume: 1\nnumber: 2\ntitle: Checking week\ndate: 2030-03-04\npreheader: What the checker found.\nquestion: What do you check before you ship?\n---\n{body}"
    )
}

/// Links of every kind, each on a known file line (given in the comments).
fn troubled_body(server: &TestServer) -> String {
    format!(
        "Hi reader,\n\
         \n\
         A [page that works]({ok}).\n\
         A [broken link]({broken}), and the same [again]({broken}).\n\
         A [moved page]({moved}) and one [moved for now]({for_now}).\n\
         A [failing server]({failing}).\n\
         \n\
         ![]({image})\n\
         \n\
         ![A chart]({image})\n",
        ok = server.url("/ok"),
        broken = server.url("/broken"),
        moved = server.url("/moved"),
        for_now = server.url("/for-now"),
        failing = server.url("/failing"),
        image = server.url("/image.png"),
    )
    // Lines: 9 "Hi reader", 11 ok, 12 broken ×2, 13 moved + for-now, 14 failing, 16 image
    // without alt, 18 image with alt.
}

#[test]
fn reports_broken_links_redirects_and_images_by_file_and_line() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&[]));
    write_issue(&dir, FILE, &issue(&troubled_body(&server)));

    let out = fails(&dir, &["check", "v1n2"]);
    let report = stdout(&out);
    let at = |line: u32| format!("issues/{FILE}:{line}: ");
    for expected in [
        format!(
            "{}broken link: {} answers HTTP 404 Not Found",
            at(12),
            server.url("/broken")
        ),
        format!(
            "{}broken link: {} answers HTTP 500 Internal Server Error",
            at(14),
            server.url("/failing")
        ),
        format!(
            "{}the link {} has moved: it redirects permanently to {}",
            at(13),
            server.url("/moved"),
            server.url("/ok")
        ),
        format!(
            "{}the link {} redirects to {}",
            at(13),
            server.url("/for-now"),
            server.url("/other")
        ),
        format!(
            "{}the image {} has no alt text",
            at(16),
            server.url("/image.png")
        ),
    ] {
        assert!(report.contains(&expected), "{expected}\nnot in:\n{report}");
    }
    // The same broken link twice on one line is reported for each place.
    assert_eq!(report.matches("answers HTTP 404").count(), 2, "{report}");
    assert!(
        !report.contains(&format!("{} ", server.url("/ok"))),
        "a working link reported:\n{report}"
    );

    // Grouped by severity: errors, then warnings, then notes.
    let (errors, warnings, notes) = (
        report.find("\nerrors:\n").expect("errors group"),
        report.find("\nwarnings:\n").expect("warnings group"),
        report.find("\nnotes:\n").expect("notes group"),
    );
    assert!(errors < warnings && warnings < notes, "{report}");
    assert!(
        report.starts_with(&format!(
            "V1N2 (issues/{FILE}): 3 errors, 2 warnings, 1 note; 6 links checked"
        )),
        "{report}"
    );
    assert!(
        stderr(&out).contains("error: V1N2 has 3 errors: fix them before sending"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn passes_a_clean_issue() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&[]));
    let body = format!(
        "Hi reader,\n\nA [page]({}) and [another]({}), [a section](#top) and [mail](mailto:ed@news.example.com).\n\n![The bench at dawn]({})\n",
        server.url("/ok"),
        server.url("/other"),
        server.url("/image.png")
    );
    write_issue(&dir, FILE, &issue(&body));
    let out = ok(&dir, &["check", "1.2"]);
    let report = stdout(&out);
    assert!(report.starts_with(&format!("V1N2 (issues/{FILE}): 0 errors, 0 warnings, 0 notes; 3 links checked; the email's HTML is ")), "{report}");
    assert_eq!(report.lines().count(), 1, "{report}");
    assert_eq!(server.requests(), 3, "one request per distinct link");
}

#[test]
fn offline_makes_no_request() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&[]));
    write_issue(&dir, FILE, &issue(&troubled_body(&server)));
    let out = ok(&dir, &["check", "V1N2", "--offline"]);
    let report = stdout(&out);
    assert!(report.contains("links not checked (--offline)"), "{report}");
    assert!(
        report.contains(&format!("issues/{FILE}:16: the image")),
        "{report}"
    );
    assert!(!report.contains("broken"), "{report}");
    assert_eq!(server.requests(), 0, "--offline made HTTP requests");
}

#[test]
fn unreachable_links_are_errors_with_their_reason() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let body = format!("[Nobody home](http://127.0.0.1:{port}/) and [relative](../v1n1/).\n");
    write_issue(&dir, FILE, &issue(&body));
    let report = stdout(&fails(&dir, &["check", "v1n2"]));
    assert!(report.contains(&format!("issues/{FILE}:9: broken link: http://127.0.0.1:{port}/ cannot be reached: connection refused")), "{report}");
    assert!(
        report.contains(&format!("issues/{FILE}:9: the link `../v1n1/` is relative")),
        "{report}"
    );
}

#[test]
fn reports_what_would_go_wrong_in_the_inbox() {
    let (_tmp, dir) = newsletter(
        &config(&[])
            .replace("  reply_to: ed@news.example.com\n", "")
            .replace(
                "Ed Itor <ed@news.example.com>",
                "News <no-reply@news.example.com>",
            )
            .replace(
                "  unsubscribe_url: https://news.example.com/unsubscribe\n",
                "  subject: \"{title}, dear reader: {issue}\"\n",
            ),
    );
    let long_title = "A title long enough that the inbox list will cut it somewhere in the middle";
    let big = paragraphs(1500);
    let text = issue(&format!(
        "Hi {{{{ first_name }}}},\n\nWrite `{{{{ name }}}}` in a template.\n\n{big}"
    ))
    .replace("title: Checking week", &format!("title: {long_title}"))
    .replace("preheader: What the checker found.\n", "");
    write_issue(&dir, FILE, &text);
    // A plain-text template without the unsubscribe link.
    let txt = dir.join("templates/email.txt");
    let template = std::fs::read_to_string(&txt).unwrap();
    std::fs::write(
        &txt,
        template.replace("Unsubscribe: {{ unsubscribe_url }}\n", ""),
    )
    .unwrap();

    let out = fails(&dir, &["check", "v1n2", "--offline"]);
    let report = stdout(&out);
    for expected in [
        format!("issues/{FILE}: the email's HTML is "),
        "Gmail clips messages above about 102000 bytes".to_string(),
        format!("issues/{FILE}: the subject is 94 characters long"),
        "config.yaml:4: the issue asks “What do you check before you ship?” but replies go to no-reply@news.example.com".to_string(),
        // No preheader line: the body starts on line 8.
        format!("issues/{FILE}:8: unresolved template variable `{{{{ first_name }}}}` in the email's HTML"),
        "templates/email.txt: the email's plain text has no unsubscribe link".to_string(),
        "config.yaml:1: no newsletter.unsubscribe_url".to_string(),
        format!("issues/{FILE}: no preheader"),
    ] {
        assert!(report.contains(&expected), "{expected}\nnot in:\n{report}");
    }
    // Template syntax shown as code is the editor's subject, not a leftover.
    assert!(!report.contains("{{ name }}"), "{report}");
    assert!(
        !report.contains("email's HTML has no unsubscribe link"),
        "{report}"
    );
    let errors = report.split("\nwarnings:").next().unwrap();
    assert!(
        errors.contains("Gmail clips"),
        "the size is an error:\n{report}"
    );
}

/// The encoded HTML size `check` reports in its summary line.
fn html_bytes(report: &str) -> usize {
    report
        .split("the email's HTML is ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size in {report}"))
}

fn paragraphs(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "Paragraph {i} adds some weight to this issue, enough to near Gmail's limit.\n\n"
            )
        })
        .collect()
}

#[test]
fn an_email_near_the_clipping_size_is_a_warning() {
    let (_tmp, dir) = newsletter(&config(&[]));
    // Measured rather than assumed, so the test holds whatever the templates add.
    let size_with = |n: usize| {
        write_issue(&dir, FILE, &issue(&paragraphs(n)));
        html_bytes(&stdout(&ok(&dir, &["check", "v1n2", "--offline"])))
    };
    let (small, large) = (size_with(100), size_with(200));
    let per_paragraph = (large - small) / 100;
    let target = 96_000;
    let n = 100 + (target - small) / per_paragraph;

    write_issue(&dir, FILE, &issue(&paragraphs(n)));
    let report = stdout(&ok(&dir, &["check", "v1n2", "--offline"]));
    let bytes = html_bytes(&report);
    assert!(
        (90_000..=102_000).contains(&bytes),
        "{bytes} bytes with {n} paragraphs"
    );
    assert!(report.contains("0 errors, 1 warning"), "{report}");
    assert!(
        report.contains("Gmail clips messages above about 102000 bytes"),
        "{report}"
    );
}

#[test]
fn scripts_and_javascript_vbscript_and_data_links_are_flagged() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let body = "Hi reader,\n\
                \n\
                A [prize](javascript:alert(document.cookie)) for you.\n\
                A <a href=\"VBScript:MsgBox(1)\">raw link</a>.\n\
                A [document](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==).\n\
                \n\
                <script>alert(1)</script>\n\
                \n\
                ![A dot](data:image/png;base64,iVBORw0KGgo=)\n";
    // Lines: 11 javascript:, 12 vbscript:, 13 data: link, 15 script, 17 data: image.
    write_issue(&dir, FILE, &issue(body));
    let out = fails(&dir, &["check", "v1n2", "--offline"]);
    let report = stdout(&out);
    let (errors, warnings) = report
        .split_once("\nwarnings:")
        .expect("errors, then warnings");
    let at = |line: u32| format!("issues/{FILE}:{line}: ");
    for expected in [
        format!(
            "{}`javascript:alert(document.cookie)` (in <a href>) runs code",
            at(11)
        ),
        format!("{}`VBScript:MsgBox(1)` (in <a href>) runs code", at(12)),
        format!("{}`data:text/html;base64,", at(13)),
        format!("{}a <script> element", at(15)),
    ] {
        assert!(errors.contains(&expected), "{expected}\nnot in:\n{report}");
    }
    let data_image = format!("{}the image `data:image/png;base64,", at(17));
    assert!(warnings.contains(&data_image), "{report}");
}

#[test]
fn an_unknown_subject_placeholder_is_refused_at_load_naming_its_line() {
    let (_tmp, dir) = newsletter(&config(&[]).replace(
        "  unsubscribe_url: https://news.example.com/unsubscribe\n",
        "  subject: \"{title}, dear {first_name}: {issue}\"\n",
    ));
    write_issue(&dir, FILE, &issue("Hello."));
    for args in [
        &["check", "v1n2", "--offline"][..],
        &["build"],
        &["send", "v1n2", "--dry-run"],
    ] {
        let err = stderr(&fails(&dir, args));
        assert!(
            err.contains("config.yaml:6")
                && err.contains("newsletter.subject")
                && err.contains("`{first_name}` is not a placeholder dispatch knows: the subject can use {title}, {newsletter}, {issue}, {volume}, {number}"),
            "{args:?}: {err}"
        );
    }
}

/// Without `unsubscribe_url` but with a `host:` section, the unsubscribe links point at
/// `dispatch host`, which answers one-click: no note that readers can only unsubscribe by email.
#[test]
fn a_host_section_answers_one_click_unsubscribe() {
    let without_url = config(&[]).replace(
        "  unsubscribe_url: https://news.example.com/unsubscribe\n",
        "",
    );
    let (_tmp, dir) = newsletter(&without_url);
    write_issue(&dir, FILE, &issue("Hi reader.\n"));
    let report = stdout(&ok(&dir, &["check", "V1N2", "--offline"]));
    assert!(
        report.contains("no newsletter.unsubscribe_url and no host: section"),
        "{report}"
    );

    let (_tmp, dir) = newsletter(&format!("{without_url}host: {{}}\n"));
    write_issue(&dir, FILE, &issue("Hi reader.\n"));
    let report = stdout(&ok(&dir, &["check", "V1N2", "--offline"]));
    assert!(!report.contains("unsubscribe_url"), "{report}");
}

/// Replies to an issue that asked no question are published all the same; a template copied
/// by an earlier `init` that shows them only under a question is caught by `check`.
#[test]
fn replies_to_an_issue_without_a_question_are_published_and_checked_for() {
    use dispatch::issue::IssueId;
    use dispatch::store::replies::{Approval, Filter, NewReply, insert_reply};

    let (_tmp, dir) = newsletter(&config(&[]));
    for old in std::fs::read_dir(dir.join("issues")).unwrap() {
        std::fs::remove_file(old.unwrap().path()).unwrap();
    }
    write_issue(
        &dir,
        "v1n1.md",
        "---\nvolume: 1\nnumber: 1\ntitle: No question\ndate: 2030-03-01\n---\nJust news.\n",
    );
    write_issue(&dir, FILE, &issue("Hi reader.\n"));
    let mut store = dispatch::store::Store::open(&dir.join("subscribers.db")).unwrap();
    let reply = NewReply {
        message_id: "r1@example.test",
        issue: Some(IssueId::new(1, 1)),
        subscriber_id: None,
        from_address: "pat@example.test",
        from_name: Some("Pat"),
        subject: "Re: No question",
        received_at: None,
        text: "Thanks for the news about the harbour.",
        original: None,
    };
    store.batch(|b| Ok(insert_reply(b, &reply)?)).unwrap();
    let id = store.replies(&Filter::default()).unwrap()[0].id;
    store.approve_replies(&[id], &Approval::default()).unwrap();
    drop(store);

    ok(&dir, &["build", "v1n2"]);
    for file in [
        "build/email/v1n2.txt",
        "build/email/v1n2.html",
        "build/web/v1n2/index.html",
    ] {
        let built = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            built.contains("Last time, some of you wrote back."),
            "{file}: {built}"
        );
        assert!(
            built.contains("Thanks for the news about the harbour."),
            "{file}: {built}"
        );
        assert!(!built.contains("Last time I asked"), "{file}: {built}");
    }
    let out = ok(&dir, &["check", "v1n2", "--offline"]);
    assert!(
        !stdout(&out).contains("is not in the email"),
        "{}",
        stdout(&out)
    );

    // The condition of earlier default templates, in the text part, then in the HTML part.
    for name in ["email.txt", "email.html"] {
        let template = dir.join("templates").join(name);
        let text = std::fs::read_to_string(&template).unwrap();
        let older = text.replacen(
            "{% if replies | length > 0 %}",
            "{% if previous_question and replies | length > 0 %}",
            1,
        );
        assert_ne!(older, text, "{name}: the template's condition was found");
        std::fs::write(&template, older).unwrap();
        let out = ok(&dir, &["check", "v1n2", "--offline"]);
        assert!(
            stdout(&out).contains(&format!(
                "templates/{name}: approved reply #{id} (Pat) is not in the email"
            )),
            "{}",
            stdout(&out)
        );
        std::fs::write(&template, text).unwrap();
    }
}
