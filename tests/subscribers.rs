//! End-to-end tests of `dispatch subscribers …` on temporary newsletter folders.

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::{RunToEnd as _, command};
use serde_json::Value;

const CONFIG: &str = "newsletter:\n  title: The Test List\n  url: https://list.example.org/\n  from: \"Ed <ed@example.org>\"\n";

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    dir
}

fn dispatch(dir: &Path, args: &[&str]) -> Output {
    command(None, args).current_dir(dir).run()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = dispatch(dir, args);
    assert!(
        out.status.success(),
        "dispatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; returns (stdout, stderr).
fn fails(dir: &Path, args: &[&str]) -> (String, String) {
    let out = dispatch(dir, args);
    assert!(!out.status.success(), "dispatch {args:?} succeeded");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn list(dir: &Path) -> Vec<Value> {
    let out = ok(dir, &["subscribers", "list", "--json"]);
    match serde_json::from_str(&out).unwrap() {
        Value::Array(items) => items,
        other => panic!("not an array: {other}"),
    }
}

fn find<'a>(items: &'a [Value], email: &str) -> &'a Value {
    items
        .iter()
        .find(|s| s["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in {items:?}"))
}

#[test]
fn add_refuses_duplicates_in_any_case_and_invalid_addresses() {
    let dir = folder();
    let d = dir.path();
    ok(
        d,
        &[
            "subscribers",
            "add",
            "Ann.Lee@Example.ORG",
            "--name",
            "Ann Lee",
        ],
    );
    let (_, err) = fails(d, &["subscribers", "add", "ann.lee@example.org"]);
    assert!(err.contains("already on the list"), "{err}");
    let (_, err) = fails(d, &["subscribers", "add", "not an address"]);
    assert!(err.contains("not a valid email address"), "{err}");
    let (_, err) = fails(d, &["subscribers", "add", "a@nodot"]);
    assert!(err.contains("not a valid email address"), "{err}");

    let items = list(d);
    assert_eq!(items.len(), 1);
    let ann = &items[0];
    assert_eq!(ann["email"], "Ann.Lee@example.org", "domain lowercased");
    assert_eq!(ann["name"], "Ann Lee");
    assert_eq!(ann["status"], "active");
    assert_eq!(
        ok(d, &["subscribers", "count"]).trim(),
        "1 active, 0 unsubscribed, 0 bounced"
    );
}

const EXPORT: &str = "\u{feff}Email Address,First Name,Last Name,MEMBER_RATING\n\
bob@example.org,Bob,Brown,2\n\
not-an-address,X,Y,1\n\
Carol@Example.org,,,1\n\
\n\
,No,Address,1\n\
dave@example.org,Dave,,3\n\
bob@example.org,Robert,Brown,2\n";

#[test]
fn import_reports_bad_rows_by_line_and_imports_the_rest_once() {
    let dir = folder();
    let d = dir.path();
    std::fs::write(d.join("members.csv"), EXPORT).unwrap();
    let (out, err) = fails(d, &["subscribers", "import", "members.csv"]);
    assert!(
        err.contains("members.csv:3: `not-an-address` is not a valid email address"),
        "{err}"
    );
    assert!(err.contains("members.csv:6: no email address"), "{err}");
    assert!(
        err.contains("2 rows of members.csv could not be imported"),
        "{err}"
    );
    assert!(out.contains("3 added"), "{out}");

    let items = list(d);
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        find(&items, "bob@example.org")["name"],
        "Bob Brown",
        "first row wins"
    );
    assert_eq!(find(&items, "Carol@example.org")["name"], Value::Null);
    assert_eq!(find(&items, "dave@example.org")["name"], "Dave");

    // Importing again changes nothing.
    let (out, _) = fails(d, &["subscribers", "import", "members.csv"]);
    assert!(out.contains("0 added"), "{out}");
    assert_eq!(list(d), items);
}

#[test]
fn unsubscribed_and_bounced_addresses_stay_so_on_reimport() {
    let dir = folder();
    let d = dir.path();
    std::fs::write(
        d.join("a.csv"),
        "email,name\nann@example.org,Ann\nbea@example.org,\n",
    )
    .unwrap();
    ok(d, &["subscribers", "import", "a.csv"]);
    let out = ok(d, &["subscribers", "unsubscribe", "ANN@example.org"]);
    assert!(out.contains("unsubscribed ann@example.org"), "{out}");
    std::fs::write(
        d.join("b.csv"),
        "E-mail,Name,Status\nann@example.org,Ann,subscribed\nbea@example.org,Bea,active\ncid@example.org,Cid,bounced\n",
    )
    .unwrap();
    let out = ok(d, &["subscribers", "import", "b.csv"]);
    assert!(out.contains("1 added, 1 name filled in"), "{out}");
    let items = list(d);
    assert_eq!(find(&items, "ann@example.org")["status"], "unsubscribed");
    assert_eq!(find(&items, "bea@example.org")["name"], "Bea");
    assert_eq!(find(&items, "cid@example.org")["status"], "bounced");

    ok(d, &["subscribers", "import", "a.csv"]);
    let again = list(d);
    assert_eq!(find(&again, "ann@example.org")["status"], "unsubscribed");
    assert_eq!(find(&again, "cid@example.org")["status"], "bounced");
    assert_eq!(
        ok(d, &["subscribers", "count"]).trim(),
        "1 active, 1 unsubscribed, 1 bounced"
    );
}

#[test]
fn export_round_trips_into_a_new_folder() {
    let dir = folder();
    let d = dir.path();
    ok(
        d,
        &[
            "subscribers",
            "add",
            "ann@example.org",
            "--name",
            "Lee, Ann",
        ],
    );
    ok(d, &["subscribers", "add", "bob@example.org"]);
    ok(d, &["subscribers", "unsubscribe", "bob@example.org"]);

    let out = ok(d, &["subscribers", "export", "list.csv"]);
    assert!(out.contains("exported 2 subscribers"), "{out}");
    let file = std::fs::read_to_string(d.join("list.csv")).unwrap();
    assert_eq!(
        ok(d, &["subscribers", "export"]),
        file,
        "stdout is the same CSV"
    );
    assert!(file.starts_with("email,name,status,created_at\n"), "{file}");
    assert!(
        file.contains("ann@example.org,\"Lee, Ann\",active,"),
        "{file}"
    );

    let other = folder();
    std::fs::copy(d.join("list.csv"), other.path().join("list.csv")).unwrap();
    ok(other.path(), &["subscribers", "import", "list.csv"]);
    let strip = |items: Vec<Value>| -> Vec<(Value, Value, Value)> {
        items
            .into_iter()
            .map(|s| (s["email"].clone(), s["name"].clone(), s["status"].clone()))
            .collect()
    };
    assert_eq!(strip(list(other.path())), strip(list(d)));
}

#[test]
fn list_remove_and_count() {
    let dir = folder();
    let d = dir.path();
    assert_eq!(ok(d, &["subscribers", "list", "--json"]).trim(), "[]");
    // An empty list says so on stderr; stdout stays empty for scripts.
    let out = dispatch(d, &["subscribers", "list"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(
            "there are no subscribers yet: add one with `dispatch subscribers add EMAIL`"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(
        d,
        &["subscribers", "add", "ann@example.org", "--name", "Ann"],
    );
    ok(d, &["subscribers", "add", "bob@example.org"]);
    assert_eq!(
        ok(d, &["subscribers", "list"]),
        "ann@example.org\tAnn\tactive\nbob@example.org\t\tactive\n"
    );
    let out = ok(d, &["subscribers", "remove", "Bob@example.org"]);
    assert!(out.contains("removed bob@example.org"), "{out}");
    let (_, err) = fails(d, &["subscribers", "remove", "bob@example.org"]);
    assert!(
        err.contains(
            "bob@example.org is not on the list (`dispatch subscribers list` shows who is)"
        ),
        "{err}"
    );
    let (_, err) = fails(d, &["subscribers", "unsubscribe", "zed@example.org"]);
    assert!(err.contains("not on the list"), "{err}");
    assert_eq!(
        ok(d, &["subscribers", "count"]).trim(),
        "1 active, 0 unsubscribed, 0 bounced"
    );
    let out = ok(d, &["subscribers", "export", "one.csv"]);
    assert!(out.starts_with("exported 1 subscriber to "), "{out}");
    // Adding back a removed address is allowed; re-subscribing an unsubscribed one is not.
    ok(d, &["subscribers", "add", "bob@example.org"]);
    ok(d, &["subscribers", "unsubscribe", "bob@example.org"]);
    let (_, err) = fails(d, &["subscribers", "add", "bob@example.org"]);
    assert!(err.contains("remove it first"), "{err}");
}

/// `show` finds a subscriber by address (any case) or number and prints status, dates and
/// the personal unsubscribe links, which the server would accept for them.
#[test]
fn show_prints_one_subscriber_with_their_unsubscribe_links() {
    let dir = folder();
    let d = dir.path();
    let config = format!("{CONFIG}  unsubscribe_url: https://list.example.org/unsubscribe\n");
    std::fs::write(d.join("config.yaml"), config).unwrap();
    ok(
        d,
        &["subscribers", "add", "ann@example.org", "--name", "Ann"],
    );
    ok(d, &["subscribers", "add", "bob@example.org"]);
    ok(d, &["subscribers", "unsubscribe", "bob@example.org"]);

    let ann = ok(d, &["subscribers", "show", "ANN@example.org"]);
    let field = |text: &str, label: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"))
    };
    assert_eq!(field(&ann, "email "), "ann@example.org");
    assert_eq!(field(&ann, "name "), "Ann");
    assert_eq!(field(&ann, "number "), "1");
    assert_eq!(field(&ann, "status "), "active");
    assert_eq!(field(&ann, "delivered "), "no issue yet");
    assert_eq!(field(&ann, "source "), "command line");
    let consent = field(&ann, "consent ");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&consent).is_ok(),
        "{consent}"
    );
    let added = field(&ann, "added ");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&added).is_ok(),
        "{added}"
    );
    let link = field(&ann, "unsubscribe link ");
    let token = link
        .strip_prefix("https://list.example.org/unsubscribe/")
        .unwrap_or_else(|| panic!("{link}"));
    let store = dispatch::store::Store::open(&d.join("subscribers.db")).unwrap();
    assert_eq!(
        dispatch::outgoing::token::verify_unsubscribe_token(&store.secret().unwrap(), token),
        Some(1),
        "the link unsubscribes Ann"
    );
    assert_eq!(
        field(&ann, "unsubscribe mail "),
        format!("mailto:ed@example.org?subject=unsubscribe%20{token}")
    );

    let bob = ok(d, &["subscribers", "show", "2"]);
    assert_eq!(field(&bob, "email "), "bob@example.org");
    assert_eq!(field(&bob, "name "), "(none)");
    assert_eq!(field(&bob, "status "), "unsubscribed");
    assert!(bob.contains("\nstatus since "), "{bob}");

    let (out, err) = fails(d, &["subscribers", "show", "zed@example.org"]);
    assert!(out.is_empty());
    assert!(
        err.contains(
            "zed@example.org is not on the list (`dispatch subscribers list` shows who is)"
        ),
        "{err}"
    );
    let (_, err) = fails(d, &["subscribers", "show", "7"]);
    assert!(err.contains("7 is not on the list"), "{err}");
}
