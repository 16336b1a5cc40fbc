//! `dispatch replies review` in a pseudo-terminal: the real binary reads keys and draws its
//! screen on a pty, as over ssh; each step waits for the text it expects on the screen.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::cli::{RunToEnd as _, command, command_under, signal_pid};
use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect as _, Session};
use serde_json::Value;

/// How long one screen may take to appear (a debug binary on a busy machine).
const SCREEN_TIMEOUT: Duration = Duration::from_secs(30);

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// A reply as a mail client sends it: the reader's words above a quote of the issue.
fn reply(from: &str, issue: &str, date: &str, id: &str, words: &str) -> Vec<u8> {
    crlf(&format!(
        "From: {from}
To: editor@example.test
Subject: Re: The Test Dispatch {issue}
Date: {date}
Message-ID: <{id}@mail.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

{words}

On Fri, 1 Mar 2024 at 09:00, Robin Field <editor@example.test> wrote:
> Which estimate of yours was furthest off?
"
    ))
}

/// A newsletter folder whose store holds `messages` as pending replies, imported from an
/// mbox file the way an editor would.
fn folder(messages: &[Vec<u8>]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "newsletter:\n  title: T\n  url: https://t.example/\n  from: editor@example.test\n",
    )
    .unwrap();
    let mut mbox = Vec::new();
    for message in messages {
        mbox.extend_from_slice(b"From sender@example.org Mon Mar  4 10:00:00 2024\n");
        mbox.extend_from_slice(message);
        mbox.extend_from_slice(b"\n");
    }
    let path = dir.path().join("replies.mbox");
    std::fs::write(&path, mbox).unwrap();
    let out = command(
        Some(dir.path()),
        &["replies", "import", "--mbox", path.to_str().unwrap()],
    )
    .run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn replies_json(dir: &Path) -> Vec<Value> {
    let out = command(Some(dir), &["replies", "list", "--json"]).run();
    assert!(out.status.success());
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// `dispatch replies review ARGS…` started on a pseudo-terminal.
fn review(dir: &Path, args: &[&str], setup: impl FnOnce(&mut Command)) -> OsSession {
    let mut cmd = command(Some(dir), &[&["replies", "review"], args].concat());
    setup(&mut cmd);
    let mut session = Session::spawn(cmd).expect("dispatch starts on a pty");
    session.set_expect_timeout(Some(SCREEN_TIMEOUT));
    session
}

/// `dispatch replies review` on a pseudo-terminal of `cols` × `rows`, started once that size
/// is set (the pty's own default is set first, while the process starts).
fn sized(dir: &Path, cols: u16, rows: u16) -> OsSession {
    let mut session = Session::spawn(command_under(
        &format!("until [ \"$(stty size)\" = '{rows} {cols}' ]; do sleep 0.01; done"),
        Some(dir),
        &["replies", "review"],
    ))
    .expect("dispatch starts on a pty");
    session.set_expect_timeout(Some(SCREEN_TIMEOUT));
    session
        .get_process_mut()
        .set_window_size(cols, rows)
        .unwrap();
    session
}

/// Waits until `text` is on the screen (in what the program wrote since the last wait).
fn sees(session: &mut OsSession, text: &str) -> String {
    match session.expect(text) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(err) => panic!("waiting for {text:?} on the screen: {err}"),
    }
}

fn press(session: &mut OsSession, keys: &str) {
    session.send(keys).expect("keys reach the pty");
}

/// Reads the screen to its end and returns the exit status.
fn ends(session: &mut OsSession) -> (String, i32) {
    let rest = session.expect(Eof).expect("the program ends");
    let rest = String::from_utf8_lossy(rest.as_bytes()).into_owned();
    match session.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => (rest, code),
        other => panic!("dispatch did not exit normally: {other:?}"),
    }
}

fn three_replies() -> tempfile::TempDir {
    folder(&[
        reply(
            "Ann Lecture <ann@example.org>",
            "V1N1",
            "Tue, 05 Mar 2024 10:00:00 +0000",
            "ann",
            "Ann on the first issue: my estimate was off by a year.",
        ),
        reply(
            "Bob Flow <bob@example.org>",
            "V1N1",
            "Wed, 06 Mar 2024 10:00:00 +0000",
            "bob",
            "Bob on the first issue: two weeks, they said.",
        ),
        reply(
            "Carol Ray <carol@example.org>",
            "V1N2",
            "Mon, 18 Mar 2024 10:00:00 +0000",
            "carol",
            "Carol on the second issue: estimates are wishes.",
        ),
    ])
}

#[test]
fn approve_note_edit_anonymous_quit_then_resume_skip_and_reject() {
    let dir = three_replies();
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'Bob, as edited by the editor.\\n' > \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut s = review(dir.path(), &[], |cmd| {
        cmd.env("VISUAL", &editor);
    });
    // The newest issue first.
    sees(&mut s, "Reply 1 of 3");
    sees(&mut s, "Carol Ray <carol@example.org>");
    sees(&mut s, "Issue:     V1N2");
    sees(&mut s, "Received:  2024-03-18 10:00 UTC");
    sees(&mut s, "Carol on the second issue");
    press(&mut s, "o");
    sees(&mut s, "The original message");
    sees(&mut s, "> Which estimate of yours was furthest off?");
    press(&mut s, "o");
    sees(&mut s, "The reader's text");
    press(&mut s, "?");
    sees(&mut s, "approve anonymously");
    press(&mut s, "x");
    sees(&mut s, "Reply 1 of 3");
    press(&mut s, "n");
    sees(&mut s, "Note (Enter saves");
    press(&mut s, "Thanks, Carol.\r");
    sees(&mut s, "Note:      Thanks, Carol.");
    press(&mut s, "a");
    // Then the oldest reply of the issue before.
    sees(&mut s, "Reply 2 of 3");
    sees(&mut s, "Ann on the first issue");
    sees(&mut s, "reply #3 approved");
    press(&mut s, "A");
    sees(&mut s, "Reply 3 of 3");
    sees(&mut s, "Bob on the first issue");
    // Undo: Ann's reply comes back, pending again, and is decided anew.
    press(&mut s, "u");
    sees(&mut s, "Reply 2 of 3");
    sees(&mut s, "Ann on the first issue");
    sees(
        &mut s,
        "reply #1 is pending again (approved anonymously taken back)",
    );
    assert_eq!(
        replies_json(dir.path())
            .iter()
            .find(|r| r["id"] == 1)
            .unwrap()["status"],
        "pending"
    );
    press(&mut s, "A");
    sees(&mut s, "Reply 3 of 3");
    sees(&mut s, "Bob on the first issue");
    press(&mut s, "e");
    sees(&mut s, "Bob, as edited by the editor.");
    sees(&mut s, "text saved");
    press(&mut s, "q");
    let (rest, code) = ends(&mut s);
    assert_eq!(code, 0, "{rest}");
    assert!(
        rest.contains("approved 2, rejected 0, skipped 0, left 1"),
        "{rest}"
    );

    let replies = replies_json(dir.path());
    let by_id = |id: i64| replies.iter().find(|r| r["id"] == id).unwrap().clone();
    let (ann, bob, carol) = (by_id(1), by_id(2), by_id(3));
    assert_eq!(carol["status"], "approved");
    assert_eq!(carol["published_as"], "Carol Ray");
    assert_eq!(carol["note"], "Thanks, Carol.");
    assert_eq!(ann["status"], "approved");
    assert_eq!(ann["published_as"], "A reader");
    assert_eq!(bob["status"], "pending");
    assert_eq!(bob["text"], "Bob, as edited by the editor.");

    // The next run resumes at the reply left; a skipped reply comes back the run after.
    let mut s = review(dir.path(), &[], |_| {});
    sees(&mut s, "Reply 1 of 1");
    sees(&mut s, "Bob, as edited by the editor.");
    press(&mut s, "s");
    sees(&mut s, "That was the last pending reply.");
    press(&mut s, "q");
    let (rest, code) = ends(&mut s);
    assert_eq!(code, 0, "{rest}");
    assert!(
        rest.contains("approved 0, rejected 0, skipped 1, left 0"),
        "{rest}"
    );
    let mut s = review(dir.path(), &["v1n1"], |_| {});
    sees(&mut s, "Reply 1 of 1");
    sees(&mut s, "Bob Flow <bob@example.org>");
    press(&mut s, "r");
    // After the last reply, its decision can still be taken back.
    sees(&mut s, "That was the last pending reply.");
    sees(&mut s, "reply #2 rejected");
    press(&mut s, "u");
    sees(&mut s, "Reply 1 of 1");
    sees(&mut s, "reply #2 is pending again (rejected taken back)");
    assert_eq!(by_id_status(dir.path(), 2), "pending");
    press(&mut s, "r");
    sees(&mut s, "That was the last pending reply.");
    press(&mut s, "x");
    let (rest, code) = ends(&mut s);
    assert_eq!(code, 0, "{rest}");
    assert!(
        rest.contains("approved 0, rejected 1, skipped 0, left 0"),
        "{rest}"
    );
    assert_eq!(by_id_status(dir.path(), 2), "rejected");

    let mut s = review(dir.path(), &[], |_| {});
    let (rest, code) = ends(&mut s);
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("no pending replies"), "{rest}");
}

fn by_id_status(dir: &Path, id: i64) -> String {
    replies_json(dir).iter().find(|r| r["id"] == id).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn refuses_without_a_terminal_and_points_to_approve_and_reject() {
    let dir = three_replies();
    let out = command(Some(dir.path()), &["replies", "review"]).run();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(err.contains("dispatch replies approve ID"), "{err}");
    assert!(err.contains("dispatch replies reject ID"), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(by_id_status(dir.path(), 1), "pending");
}

#[test]
fn hostile_text_is_shown_escaped_small_screens_page_and_signals_restore_the_terminal() {
    let long: String = (1..=40)
        .map(|i| format!("Line {i} of a long answer."))
        .collect::<Vec<_>>()
        .join("\n");
    let hostile = format!("Look:\u{1b}]0;pwned\u{7} and \u{1b}[2J gone?\n{long}\nThe end.");
    let dir = folder(&[reply(
        "Mallory <mallory@example.org>",
        "V1N1",
        "Tue, 05 Mar 2024 10:00:00 +0000",
        "mallory",
        &hostile,
    )]);

    // A terminal that reports no size is drawn as 80×24; Ctrl-C quits like q, with the
    // summary.
    let mut s = sized(dir.path(), 0, 0);
    sees(&mut s, "Reply 1 of 1");
    let screen = sees(&mut s, "Line 14 of a long answer.");
    assert!(!screen.contains("Line 15 "), "{screen:?}");
    sees(&mut s, "space: more");
    press(&mut s, "\u{3}");
    let (rest, code) = ends(&mut s);
    assert_eq!(code, 0, "{rest}");
    assert!(
        rest.contains("approved 0, rejected 0, skipped 0, left 1"),
        "{rest}"
    );

    // A terminal of eight rows, 40 columns: the header fills the first page, the text follows
    // page by page.
    let mut s = sized(dir.path(), 40, 8);
    sees(&mut s, "Reply 1 of 1");
    let first_page = sees(&mut s, "space: more");
    assert!(!first_page.contains("gone?"), "{first_page:?}");
    press(&mut s, " ");
    let screen = sees(&mut s, "gone?");
    assert!(
        screen.contains("Look:\\u{1b}]0;pwned\\u{7} and \\u{1b}[2J"),
        "{screen:?}"
    );
    assert!(!screen.contains("\u{1b}]0;pwned"), "{screen:?}");
    assert!(!screen.contains("The end."), "{screen:?}");
    for _ in 0..10 {
        press(&mut s, " ");
    }
    sees(&mut s, "The end.");

    // SIGTERM: the decisions so far are kept and the terminal is given back.
    signal_pid(s.get_process().pid().as_raw() as u32, "TERM");
    let (rest, code) = ends(&mut s);
    assert_eq!(code, 1, "{rest}");
    assert!(
        rest.contains("\u{1b}[?1049l"),
        "left the alternate screen: {rest:?}"
    );
    assert!(rest.contains("\u{1b}[?25h"), "cursor shown again: {rest:?}");
    assert!(rest.contains("stopped by SIGTERM"), "{rest}");
    assert!(
        rest.contains("approved 0, rejected 0, skipped 0, left 1"),
        "{rest}"
    );
    assert_eq!(by_id_status(dir.path(), 1), "pending");
}
