//! End-to-end tests of `dispatch links` against feeds served on loopback.

mod common;

use common::cli::{config, dispatch, fails, newsletter, ok, stderr, stdout, write_issue};
use common::web::TestServer;

const GOOD_TITLES: [&str; 6] = [
    "Pairing across time zones",
    "Release trains & why they run late",
    "hostile",
    "Notes from the retro",
    "Small pull requests",
    "On estimates",
];

/// Three good feeds (RSS 2.0, Atom, JSON Feed) and three bad ones.
fn feeds(server: &TestServer) -> Vec<String> {
    [
        "/rss.xml",
        "/malformed.xml",
        "/atom.xml",
        "/missing.xml",
        "/feed.json",
        "/slow.xml",
    ]
    .iter()
    .map(|path| server.url(path))
    .collect()
}

const ISSUE: &str = "---\nvolume: 1\nnumber: 2\ntitle: Links week\ndate: 2030-03-04\npreheader: Links.\n---\nHi reader,\n\nHere is what I read.\n";

#[test]
fn prints_the_entries_of_every_good_feed_and_reports_each_bad_one() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&feeds(&server)));
    let out = ok(&dir, &["links"]);
    let (list, errors) = (stdout(&out), stderr(&out));

    let items: Vec<&str> = list.lines().collect();
    assert_eq!(items.len(), GOOD_TITLES.len(), "{list}");
    assert!(items.iter().all(|l| l.starts_with("- [")), "{list}");
    assert!(list.contains(
        "- [Pairing across time zones](https://links.example/pairing) — Notes on rss-1. (Bench Links)"
    ));
    assert!(list.contains(
        "- [Notes from the retro](https://journal.example/retro) — What the team kept and what it dropped. (Workshop Journal)"
    ));
    assert!(list.contains("- [On estimates](https://reading.example/estimates)"));
    // Feed text cannot inject markup or links into the list.
    assert!(
        list.contains("\\<script\\>alert\\(1\\)\\</script\\>"),
        "{list}"
    );
    assert!(!list.contains("<script>"), "{list}");

    for (path, reason) in [
        ("/malformed.xml", "not a feed: "),
        ("/missing.xml", "HTTP 404 Not Found"),
        ("/slow.xml", "timed out after 500ms"),
    ] {
        let expected = format!("warning: {}: {reason}", server.url(path));
        assert!(errors.contains(&expected), "{expected}\nnot in:\n{errors}");
    }
    assert!(
        errors.contains("6 new links from 3 of 6 feeds (3 failed)"),
        "{errors}"
    );
}

#[test]
fn json_lists_the_same_entries() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&feeds(&server)));
    let out = ok(&dir, &["links", "--json"]);
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("a JSON array");
    let titles: Vec<&str> = entries.iter().filter_map(|e| e["title"].as_str()).collect();
    assert_eq!(titles.len(), GOOD_TITLES.len(), "{titles:?}");
    for title in GOOD_TITLES {
        assert!(
            titles.iter().any(|t| t.contains(title)),
            "{title} in {titles:?}"
        );
    }
    let retro = entries
        .iter()
        .find(|e| e["id"] == "urn:journal:1")
        .expect("the Atom entry");
    assert_eq!(retro["url"], "https://journal.example/retro");
    assert_eq!(retro["source"], "Workshop Journal");
    assert_eq!(retro["published"], "2030-02-20T00:00:00Z");
}

/// With nothing new, --json still prints a JSON array: `[]`.
#[test]
fn json_without_new_links_is_an_empty_array() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&[server.url("/rss.xml")]));
    write_issue(&dir, "v1n2-links.md", ISSUE);
    ok(&dir, &["links", "--into", "v1n2"]);
    let out = ok(&dir, &["links", "--json"]);
    assert_eq!(stdout(&out), "[]\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 new links from 1 of 1 feed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn since_drops_older_entries() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&[server.url("/rss.xml"), server.url("/atom.xml")]));
    let list = stdout(&ok(&dir, &["links", "--since", "2030-02-15"]));
    assert!(list.contains("Pairing across time zones"), "{list}");
    assert!(list.contains("Notes from the retro"), "{list}");
    assert!(!list.contains("Release trains"), "{list}");
    assert!(!list.contains("Small pull requests"), "{list}");
}

#[test]
fn into_appends_once_and_the_next_run_offers_only_new_links() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&feeds(&server)));
    let path = write_issue(&dir, "v1n2-links-week.md", ISSUE);

    let out = ok(&dir, &["links", "--into", "V1N2"]);
    assert!(
        stdout(&out).contains("added 6 links to issues/v1n2-links-week.md under `## Links`"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(ISSUE), "the issue's text is kept: {text}");
    assert!(
        text.contains("\n\n## Links\n\n- [Pairing across time zones]"),
        "{text}"
    );
    assert_eq!(text.matches("\n- [").count(), 6, "{text}");

    // Nothing old comes back.
    let again = ok(&dir, &["links"]);
    assert_eq!(stdout(&again), "", "old links offered again");
    assert!(stderr(&again).contains("0 new links"), "{}", stderr(&again));
    let unchanged = ok(&dir, &["links", "--into", "1.2"]);
    assert!(
        stdout(&unchanged).contains("unchanged"),
        "{}",
        stdout(&unchanged)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // A new entry shows up; a re-published one (new id, same URL) does not.
    server.add_rss_item(
        "Fresh from the bench",
        "rss-9",
        "https://links.example/fresh",
    );
    server.add_rss_item(
        "Pairing, again",
        "rss-1-republished",
        "https://links.example/pairing",
    );
    let list = stdout(&ok(&dir, &["links"]));
    assert_eq!(
        list,
        "- [Fresh from the bench](https://links.example/fresh) — Notes on rss-9. (Bench Links)\n"
    );

    // Appended to the same section, and the issue still builds with the feed text escaped.
    ok(&dir, &["links", "--into", "v1n2"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("## Links").count(), 1, "{text}");
    assert!(text.ends_with("- [Fresh from the bench](https://links.example/fresh) — Notes on rss-9. (Bench Links)\n"), "{text}");
    ok(&dir, &["build", "v1n2"]);
    let page = std::fs::read_to_string(dir.join("build/web/v1n2/index.html")).unwrap();
    assert!(page.contains("Fresh from the bench"));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; hostile"),
        "{page}"
    );
    assert!(
        !page.contains("<script>alert"),
        "feed text reached the page unescaped"
    );
    assert!(!page.contains("href=\"javascript:"), "a feed forged a link");
}

#[test]
fn into_an_unknown_issue_fails_before_fetching() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&feeds(&server)));
    let out = fails(&dir, &["links", "--into", "v9n9"]);
    assert!(
        stderr(&out).contains("there is no issue V9N9"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn fails_when_every_feed_fails_or_none_is_configured() {
    let server = TestServer::start();
    let bad = [server.url("/missing.xml"), server.url("/malformed.xml")];
    let (_tmp, dir) = newsletter(&config(&bad));
    let out = fails(&dir, &["links"]);
    assert_eq!(stdout(&out), "");
    let errors = stderr(&out);
    assert!(
        errors.contains(&format!("warning: {}: HTTP 404 Not Found", bad[0])),
        "{errors}"
    );
    assert!(
        errors.contains("error: none of the 2 feeds could be read"),
        "{errors}"
    );

    let (_tmp, dir) = newsletter(&config(&[]));
    let out = fails(&dir, &["links", "--into", "v1n1"]);
    assert!(
        stderr(&out).contains("no feeds are configured"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn without_feeds_the_list_is_empty_and_says_why() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let out = dispatch(&dir, &["links"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("no feeds are configured"),
        "{}",
        stderr(&out)
    );
    let out = dispatch(&dir, &["links", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[]");
    assert!(
        stderr(&out).contains("no feeds are configured"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn timeout_can_be_given_on_the_command_line() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&[server.url("/slow.xml"), server.url("/atom.xml")]));
    let out = dispatch(&dir, &["links", "--timeout", "200ms"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timed out after 200ms"),
        "{}",
        stderr(&out)
    );
}

/// Template syntax in a feed's text reaches the issue as text a reader sees, never as a tag:
/// `check` finds no leftover template syntax and the built email and page carry none.
#[test]
fn template_tags_in_feed_text_never_reach_a_template() {
    let server = TestServer::start();
    let (_tmp, dir) = newsletter(&config(&[server.url("/rss.xml")]));
    let path = write_issue(&dir, "v1n2-links-week.md", ISSUE);
    server.add_rss_item(
        "Tera tips: {{ unsubscribe_url }} and {% include \"secrets\" %}",
        "rss-tera",
        "https://links.example/tera?page={{page}}",
    );
    ok(&dir, &["links", "--into", "v1n2"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Tera tips"), "{text}");
    for tag in ["{{", "{%", "%}", "}}"] {
        assert!(!text.contains(tag), "{tag} written into the issue:\n{text}");
    }

    let report = stdout(&ok(&dir, &["check", "v1n2", "--offline"]));
    assert!(!report.contains("template"), "{report}");
    ok(&dir, &["build", "v1n2"]);
    for built in [
        "build/email/v1n2.html",
        "build/email/v1n2.txt",
        "build/web/v1n2/index.html",
    ] {
        let out = std::fs::read_to_string(dir.join(built)).unwrap();
        let words = out.replace('\u{2060}', "");
        assert!(
            words.contains("Tera tips: {{ unsubscribe_url }} and {% include"),
            "{built}: the reader sees the text:\n{out}"
        );
        for tag in ["{{", "{%"] {
            assert!(!out.contains(tag), "{built} carries {tag}:\n{out}");
        }
    }
}
