//! `dispatch replies` against a real Dovecot (and Postfix) on loopback: import over IMAP,
//! STARTTLS and IMAPS, classification and its effects, incremental reads, UIDVALIDITY changes,
//! moderation, and the published "Just Hit Reply" section.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use std::process::Command;

use async_imap::Session;
use common::cli::{RunToEnd as _, command};
use common::mailstack::{MailStack, PASSWORD, mailstack, unique_user};
use dispatch::issue::IssueId;
use dispatch::store::Store;
use dispatch::store::replies::Filter;
use dispatch::store::sends::SentDelivery;
use futures::TryStreamExt as _;
use serde_json::Value;
use tokio::net::TcpStream;

const PASSWORD_ENV: &str = "DISPATCH_TEST_IMAP_PASSWORD";

// ---------------------------------------------------------------------------------------------
// A small IMAP client for putting mail into a mailbox and looking at it afterwards.

struct Imap {
    runtime: tokio::runtime::Runtime,
    session: Session<TcpStream>,
}

impl Imap {
    fn login(stack: &MailStack, user: &str) -> Imap {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let session = runtime.block_on(async {
            let tcp = TcpStream::connect(("127.0.0.1", stack.imap_port))
                .await
                .unwrap();
            let mut client = async_imap::Client::new(tcp);
            client.read_response().await.unwrap().unwrap();
            client.login(user, PASSWORD).await.map_err(|e| e.0).unwrap()
        });
        Imap { runtime, session }
    }

    fn append(&mut self, mailbox: &str, messages: &[Vec<u8>]) {
        let session = &mut self.session;
        self.runtime.block_on(async {
            for message in messages {
                session.append(mailbox, None, None, message).await.unwrap();
            }
        });
    }

    fn create(&mut self, mailbox: &str) {
        self.runtime.block_on(self.session.create(mailbox)).unwrap();
    }

    fn delete(&mut self, mailbox: &str) {
        self.runtime.block_on(self.session.delete(mailbox)).unwrap();
    }

    /// The flags of every message, read without changing any (EXAMINE).
    fn flags(&mut self, mailbox: &str) -> Vec<Vec<String>> {
        let session = &mut self.session;
        self.runtime.block_on(async {
            let status = session.examine(mailbox).await.unwrap();
            if status.exists == 0 {
                return Vec::new();
            }
            let fetched: Vec<_> = session
                .fetch("1:*", "FLAGS")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            fetched
                .iter()
                .map(|f| f.flags().map(|flag| format!("{flag:?}")).collect())
                .collect()
        })
    }
}

// ---------------------------------------------------------------------------------------------
// A newsletter folder whose `imap:` points at the test server.

struct Folder {
    dir: tempfile::TempDir,
}

#[derive(Clone, Copy)]
enum Connection<'a> {
    Plain,
    Starttls(&'a Path),
    Imaps(Option<&'a Path>),
}

impl Folder {
    fn new(stack: &MailStack, editor: &str, mailbox: &str, connection: Connection<'_>) -> Folder {
        let dir = tempfile::tempdir().unwrap();
        let (port, security, ca) = match connection {
            Connection::Plain => (stack.imap_port, "none", None),
            Connection::Starttls(ca) => (stack.imap_port, "starttls", Some(ca)),
            Connection::Imaps(ca) => (stack.imaps_port, "tls", ca),
        };
        let ca_line = ca.map_or(String::new(), |p| format!("  ca_file: {}\n", p.display()));
        let config = format!(
            "newsletter:\n  title: The Test Dispatch\n  url: https://news.example.test/\n  from: \"Robin Field <{editor}>\"\n  reply_to: {editor}\nimap:\n  host: 127.0.0.1\n  port: {port}\n  security: {security}\n  username: {editor}\n  password_env: {PASSWORD_ENV}\n  mailbox: {mailbox}\n{ca_line}"
        );
        std::fs::write(dir.path().join("config.yaml"), config).unwrap();
        std::fs::create_dir(dir.path().join("issues")).unwrap();
        std::fs::write(
            dir.path().join("issues/v1n1-hello.md"),
            "---\nvolume: 1\nnumber: 1\ntitle: Hello, workbench\ndate: 2024-03-01\nquestion: What was the most pointless argument you had lately?\n---\nHi friend,\n\nThe first issue.\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("issues/v1n2-estimates.md"),
            "---\nvolume: 1\nnumber: 2\ntitle: Estimates\ndate: 2024-03-15\nquestion: Which estimate of yours was furthest off?\n---\nHi friend,\n\nThe second issue.\n",
        )
        .unwrap();
        Folder { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn dispatch(&self, args: &[&str]) -> Command {
        let mut cmd = command(Some(self.path()), args);
        cmd.env(PASSWORD_ENV, PASSWORD);
        cmd
    }

    /// Runs a command that must succeed; returns its standard output.
    fn run(&self, args: &[&str]) -> String {
        let out = self.dispatch(args).run();
        assert!(
            out.status.success(),
            "dispatch {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn store(&self) -> Store {
        Store::open(&self.path().join("subscribers.db")).unwrap()
    }

    fn add_subscriber(&self, email: &str, name: &str) -> i64 {
        self.store().add_subscriber(email, Some(name)).unwrap()
    }

    fn status_of(&self, subscriber: i64) -> String {
        self.store()
            .subscriber_status(subscriber)
            .unwrap()
            .unwrap()
            .to_string()
    }

    /// Records a send of `issue` started at `started_at` and a delivery to each subscriber, as
    /// `dispatch send` does; returns the Message-IDs (without brackets), one per subscriber.
    fn record_send(&self, issue: (u32, u32), started_at: &str, subscribers: &[i64]) -> Vec<String> {
        let mut store = self.store();
        let secret = store.secret().unwrap();
        let slug = format!("v{}n{}", issue.0, issue.1);
        let message_ids: Vec<String> = subscribers
            .iter()
            .map(|id| {
                let tag = dispatch::outgoing::token::message_tag(&secret, &slug, *id);
                format!("{slug}.{id}.{tag}@example.test")
            })
            .collect();
        let sent: Vec<SentDelivery<'_>> = subscribers
            .iter()
            .zip(&message_ids)
            .map(|(id, message_id)| SentDelivery {
                subscriber_id: *id,
                message_id,
            })
            .collect();
        store
            .record_sent(IssueId::new(issue.0, issue.1), started_at, &sent)
            .unwrap();
        message_ids
    }

    fn replies_json(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["replies", "list", "--json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn inbound_kinds(&self) -> Vec<(String, i64)> {
        self.store()
            .inbound_kinds()
            .unwrap()
            .into_iter()
            .map(|k| (k.kind, k.count))
            .collect()
    }
}

/// CRLF line ends, as mail travels.
fn crlf(text: &str) -> Vec<u8> {
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Realistic messages of each kind.

struct People<'a> {
    editor: &'a str,
    ann: &'a str,
    bob: &'a str,
    dave: &'a str,
}

fn plain_latin1_reply(p: &People<'_>, in_reply_to: &str) -> Vec<u8> {
    crlf(&format!(
        "Return-Path: <{ann}>
From: Ann Lecture <{ann}>
To: Robin Field <{editor}>
Subject: Re: Hello, workbench. The Test Dispatch V1N1
Date: Tue, 05 Mar 2024 10:00:00 +0100
Message-ID: <ann-latin1-1@mail.example.org>
In-Reply-To: <{in_reply_to}>
References: <{in_reply_to}>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 meetings are where I argue most: tabs versus spaces, na=EFvely.
=46rankly, I lost.

On Fri, 1 Mar 2024 at 09:00, Robin Field <{editor}> wrote:
> What was the most pointless argument you had lately?
> Just hit reply and we'll share next time.

--=20
Ann Lecture
Head of Things, Example Org
",
        ann = p.ann,
        editor = p.editor,
    ))
}

fn flowed_reply(p: &People<'_>) -> Vec<u8> {
    crlf(&format!(
        "From: Bob Flow <{bob}>
To: {editor}
Subject: Re: [The Test Dispatch] V1N1
Date: Wed, 06 Mar 2024 08:30:00 +0000
Message-ID: <bob-flowed-1@mail.example.net>
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Whether a meeting that could have been an email should have been a 
chat message instead. We argued for an hour, and nobody won.

Bob

On 01/03/2024 09:00, Robin Field wrote:
> What was the most pointless argument you had lately?
",
        bob = p.bob,
        editor = p.editor,
    ))
}

/// An HTML-only Gmail reply to a forwarded copy: neither our Message-ID nor the issue in the
/// subject, so only its date ties it to an issue.
fn gmail_html_reply(p: &People<'_>) -> Vec<u8> {
    crlf(&format!(
        "From: Grace Hopper-Fan <grace@gmail.example>
To: {editor}
Subject: Re: Fwd: worth reading
Date: Thu, 7 Mar 2024 18:04:11 +0100
Message-ID: <CAGmail123456@mail.gmail.example>
In-Reply-To: <forwarded-by-a-friend@mail.example.com>
MIME-Version: 1.0
Content-Type: text/html; charset=\"UTF-8\"
Content-Transfer-Encoding: quoted-printable

<div dir=3D\"ltr\">A friend forwarded this. The argument I lose every week: =
whether the build is <b>flaky</b> or the test is.<div><br></div><div>Grace</d=
iv></div><br><div class=3D\"gmail_quote\"><div dir=3D\"ltr\" class=3D\"gmail_a=
ttr\">On Thu, Mar 7, 2024 at 5:00 PM Friend &lt;friend@example.com&gt; wrote=
:<br></div><blockquote class=3D\"gmail_quote\" style=3D\"margin:0px 0px 0px 0=
.8ex\"><div dir=3D\"ltr\">QUOTED-GMAIL-ORIGINAL</div></blockquote></div>
",
        editor = p.editor,
    ))
}

fn outlook_reply(p: &People<'_>) -> Vec<u8> {
    crlf(&format!(
        "From: \"Carol Outlook\" <carol.other@corp.example>
To: \"{editor}\" <{editor}>
Subject: RE: Hello, workbench. The Test Dispatch V1N1
Date: Fri, 8 Mar 2024 11:12:13 +0000
Message-ID: <DB9PR01MB0001@outlook.example>
Thread-Index: AQHaabcdefg==
X-MS-Has-Attach:
MIME-Version: 1.0
Content-Type: text/plain; charset=\"us-ascii\"
Content-Transfer-Encoding: 7bit

Ours was about the colour of the staging server's dashboard.

From: Robin Field <{editor}>
Sent: Friday, March 1, 2024 9:00 AM
To: Carol Outlook <carol.other@corp.example>
Subject: Hello, workbench. The Test Dispatch V1N1

QUOTED-OUTLOOK-ORIGINAL
",
        editor = p.editor,
    ))
}

fn hostile_reply(p: &People<'_>) -> Vec<u8> {
    crlf(&format!(
        "From: Mallory Markup <mallory@attacker.example>
To: {editor}
Subject: Re: The Test Dispatch V1N1
Date: Sat, 9 Mar 2024 12:00:00 +0000
Message-ID: <hostile-1@attacker.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Nice issue <script>alert('owned')</script> and <img src=x onerror=alert(1)> too.
See https://example.org/a?b=1&c=2 for more.
",
        editor = p.editor,
    ))
}

fn out_of_office(p: &People<'_>) -> Vec<u8> {
    crlf(&format!(
        "From: Dave Away <{dave}>
To: {editor}
Subject: Automatic reply: Hello, workbench. The Test Dispatch V1N1
Date: Fri, 1 Mar 2024 09:01:00 +0000
Message-ID: <ooo-1@mail.example.org>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday with limited access to email.
",
        dave = p.dave,
        editor = p.editor,
    ))
}

/// A Postfix delivery status report: `recipient` failed permanently, and the report returns
/// `returned_headers`.
fn dsn_bounce(editor: &str, recipient: &str, returned_headers: &str, id: &str) -> Vec<u8> {
    crlf(&format!(
        "Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.example.test>
To: {editor}
Subject: Undelivered Mail Returned to Sender
Date: Fri, 1 Mar 2024 09:02:00 +0000
Message-ID: <{id}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary=\"B0UNDARY\"

This is a MIME-encapsulated message.

--B0UNDARY
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host mx.example.test said: 550 5.1.1 User unknown

--B0UNDARY
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
Arrival-Date: Fri,  1 Mar 2024 09:01:59 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

--B0UNDARY
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{returned_headers}

--B0UNDARY--
",
    ))
}

fn unsubscribe_request(p: &People<'_>, from: &str, token: &str, id: &str) -> Vec<u8> {
    crlf(&format!(
        "From: {from}
To: {editor}
Subject: unsubscribe {token}
Date: Sun, 10 Mar 2024 07:00:00 +0000
Message-ID: <{id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This message was sent by the unsubscribe link of the list.
",
        editor = p.editor,
    ))
}

/// Someone else's newsletter, without a Message-ID: recorded as other mail under a synthetic
/// one.
fn other_newsletter(p: &People<'_>) -> Vec<u8> {
    crlf(&format!(
        "From: Weekly Widgets <news@widgets.example>
To: {editor}
Subject: Widgets weekly #42
Date: Mon, 11 Mar 2024 06:00:00 +0000
List-Id: Weekly Widgets <weekly.widgets.example>
List-Unsubscribe: <mailto:leave@widgets.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This week in widgets: nothing new.
",
        editor = p.editor,
    ))
}

// ---------------------------------------------------------------------------------------------

/// Every kind of mail in one INBOX: classification, effects, ties, a fast no-op re-import, a
/// Maildir import of the same mail that finds nothing new, and the mailbox left untouched.
#[test]
fn import_classifies_every_kind_and_leaves_the_mailbox_untouched() {
    let stack = &mailstack();
    let editor = unique_user("editor");
    let (ann, bob, carol, dave, erin) = (
        unique_user("ann"),
        unique_user("bob"),
        unique_user("carol"),
        unique_user("dave"),
        unique_user("erin"),
    );
    let folder = Folder::new(stack, &editor, "INBOX", Connection::Plain);
    let ann_id = folder.add_subscriber(&ann, "Ann Lecture");
    let bob_id = folder.add_subscriber(&bob, "Bob Flow");
    let carol_id = folder.add_subscriber(&carol, "Carol");
    let dave_id = folder.add_subscriber(&dave, "Dave");
    let erin_id = folder.add_subscriber(&erin, "Erin");
    let sent = folder.record_send(
        (1, 1),
        "2024-03-01T09:00:00Z",
        &[ann_id, bob_id, carol_id, dave_id, erin_id],
    );
    folder.record_send((1, 2), "2024-03-15T09:00:00Z", &[]);

    let secret = folder.store().secret().unwrap();
    let dave_token = dispatch::outgoing::token::unsubscribe_token(&secret, dave_id);
    let forged_for_erin = dispatch::outgoing::token::unsubscribe_token(b"not the secret", erin_id);
    let people = People {
        editor: &editor,
        ann: &ann,
        bob: &bob,
        dave: &dave,
    };
    let messages = vec![
        plain_latin1_reply(&people, &sent[0]),
        flowed_reply(&people),
        gmail_html_reply(&people),
        outlook_reply(&people),
        hostile_reply(&people),
        out_of_office(&people),
        dsn_bounce(
            &editor,
            &carol,
            &format!(
                "From: Robin Field <{editor}>\nTo: {carol}\nSubject: Hello, workbench. The Test Dispatch V1N1\nMessage-ID: <{}>",
                sent[2]
            ),
            "bounce-1@mx.example.test",
        ),
        unsubscribe_request(&people, &dave, &dave_token, "unsub-dave@example.test"),
        unsubscribe_request(
            &people,
            "prankster@attacker.example",
            &forged_for_erin,
            "unsub-forged@attacker.example",
        ),
        other_newsletter(&people),
    ];
    let mut imap = Imap::login(stack, &editor);
    imap.append("INBOX", &messages);
    let flags_before = imap.flags("INBOX");
    assert_eq!(flags_before.len(), messages.len());

    let out = folder.run(&["replies", "import"]);
    assert!(out.contains("10 new messages (0 imported before)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("replies") && l.contains(" 5")),
        "{out}"
    );
    assert!(
        out.contains("1 hard, 0 soft; 1 subscriber marked bounced"),
        "{out}"
    );
    assert!(out.contains("1 subscriber unsubscribed"), "{out}");

    assert_eq!(
        folder.inbound_kinds(),
        vec![
            ("auto-reply".to_string(), 1),
            ("bounce".to_string(), 1),
            ("other".to_string(), 1),
            ("reply".to_string(), 5),
            ("unsubscribe".to_string(), 2),
        ]
    );
    assert_eq!(folder.status_of(carol_id), "bounced");
    assert_eq!(folder.status_of(dave_id), "unsubscribed");
    assert_eq!(
        folder.status_of(erin_id),
        "active",
        "a forged token unsubscribes nobody"
    );
    assert_eq!(folder.status_of(ann_id), "active");

    let replies = folder.replies_json(&[]);
    assert_eq!(replies.len(), 5, "{replies:#?}");
    let by_from = |from: &str| {
        replies
            .iter()
            .find(|r| r["from"] == from)
            .unwrap_or_else(|| panic!("no reply from {from}: {replies:#?}"))
    };
    let ann_reply = by_from(&ann);
    assert_eq!(ann_reply["issue"], "V1N1");
    assert_eq!(ann_reply["status"], "pending");
    assert_eq!(ann_reply["name"], "Ann Lecture");
    assert_eq!(
        ann_reply["text"],
        "Café meetings are where I argue most: tabs versus spaces, naïvely.\nFrankly, I lost."
    );
    let bob_reply = by_from(&bob);
    assert_eq!(bob_reply["issue"], "V1N1", "tied by the subject");
    let bob_text = bob_reply["text"].as_str().unwrap();
    assert!(
        bob_text.starts_with("Whether a meeting that could have been an email should have been a chat message instead."),
        "format=flowed is joined: {bob_text:?}"
    );
    assert!(!bob_text.contains("most pointless"), "{bob_text:?}");
    let grace = by_from("grace@gmail.example");
    assert_eq!(grace["issue"], "V1N1", "tied by date");
    let grace_text = grace["text"].as_str().unwrap();
    assert!(
        grace_text.contains("whether the build is flaky or the test is"),
        "{grace_text:?}"
    );
    assert!(
        !grace_text.contains("QUOTED-GMAIL-ORIGINAL"),
        "{grace_text:?}"
    );
    let carol_reply = by_from("carol.other@corp.example");
    assert_eq!(
        carol_reply["text"],
        "Ours was about the colour of the staging server's dashboard."
    );
    let hostile = by_from("mallory@attacker.example");
    assert!(hostile["text"].as_str().unwrap().contains("<script>"));

    // The subscriber is known by the Message-ID we sent, or by address.
    let store = folder.store();
    let replies = store.replies(&Filter::default()).unwrap();
    let subscriber_of = |from: &str| -> Option<i64> {
        replies
            .iter()
            .find(|r| r.from_address == from)
            .expect("a reply from this address")
            .subscriber_id
    };
    assert_eq!(subscriber_of(&ann), Some(ann_id));
    assert_eq!(subscriber_of(&bob), Some(bob_id));
    assert_eq!(subscriber_of("grace@gmail.example"), None);

    // Again: nothing new, and quickly (no FETCH when UIDNEXT says there is nothing).
    let started = Instant::now();
    let again = folder.run(&["replies", "import"]);
    let elapsed = started.elapsed();
    assert!(
        again.contains("0 new messages (10 imported before)"),
        "the count is the one mbox and Maildir give: {again}"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "re-import took {elapsed:?}"
    );

    // The same mail read from the Maildir on disk is recognised by Message-ID (the one without
    // a Message-ID by its bytes).
    let maildir = stack.user_maildir(&editor);
    let out = folder.run(&["replies", "import", "--maildir", maildir.to_str().unwrap()]);
    assert!(out.contains("0 new messages (10 imported before)"), "{out}");
    assert_eq!(folder.replies_json(&[]).len(), 5);

    // Never a flag set, never a message moved or deleted.
    assert_eq!(imap.flags("INBOX"), flags_before);
    assert!(
        flags_before.iter().flatten().all(|f| !f.contains("Seen")),
        "{flags_before:?}"
    );
}

/// New mail after an import is all that the next import reads; a UIDVALIDITY change makes it
/// read the mailbox again without storing anything twice.
#[test]
fn reads_only_new_mail_and_survives_a_uidvalidity_change() {
    let stack = &mailstack();
    let editor = unique_user("editor-uv");
    let ann = unique_user("ann-uv");
    let folder = Folder::new(stack, &editor, "Replies", Connection::Plain);
    let people = People {
        editor: &editor,
        ann: &ann,
        bob: &unique_user("bob-uv"),
        dave: &unique_user("dave-uv"),
    };
    let mut imap = Imap::login(stack, &editor);
    imap.create("Replies");
    let first = vec![
        plain_latin1_reply(&people, "elsewhere@example.org"),
        flowed_reply(&people),
    ];
    imap.append("Replies", &first);
    let out = folder.run(&["replies", "import"]);
    assert!(out.contains("2 new messages"), "{out}");

    imap.append("Replies", &[hostile_reply(&people)]);
    let out = folder.run(&["replies", "import"]);
    assert!(out.contains("1 new message (2 imported before)"), "{out}");

    let key = format!("imap://{editor}@127.0.0.1:{}/Replies", stack.imap_port);
    let before = folder.store().mailbox_state(&key).unwrap().unwrap();
    assert_eq!(before.last_uid, 3);

    // Deleting and creating the mailbox again gives it a new UIDVALIDITY.
    imap.delete("Replies");
    imap.create("Replies");
    imap.append(
        "Replies",
        &[
            first[0].clone(),
            first[1].clone(),
            hostile_reply(&people),
            outlook_reply(&people),
        ],
    );
    let out = folder.run(&["replies", "import"]);
    assert!(out.contains("UIDVALIDITY changed"), "{out}");
    assert!(out.contains("1 new message (3 imported before)"), "{out}");
    let after = folder.store().mailbox_state(&key).unwrap().unwrap();
    assert_ne!(after.uidvalidity, before.uidvalidity);
    assert_eq!(after.last_uid, 4);
    assert_eq!(folder.replies_json(&[]).len(), 4, "no reply stored twice");
}

#[test]
fn imports_over_starttls_and_imaps_with_the_servers_certificate() {
    let stack = &mailstack();
    let editor = unique_user("editor-tls");
    let people = People {
        editor: &editor,
        ann: &unique_user("ann-tls"),
        bob: &unique_user("bob-tls"),
        dave: &unique_user("dave-tls"),
    };
    Imap::login(stack, &editor).append("INBOX", &[flowed_reply(&people)]);

    let untrusted = Folder::new(stack, &editor, "INBOX", Connection::Imaps(None));
    let out = untrusted.dispatch(&["replies", "import"]).run();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not trusted"), "{err}");
    assert!(err.contains("imap.ca_file"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");

    let imaps = Folder::new(
        stack,
        &editor,
        "INBOX",
        Connection::Imaps(Some(&stack.ca_file)),
    );
    let out = imaps.run(&["replies", "import"]);
    assert!(out.contains("1 new message"), "{out}");

    let starttls = Folder::new(
        stack,
        &editor,
        "INBOX",
        Connection::Starttls(&stack.ca_file),
    );
    let out = starttls.run(&["replies", "import"]);
    assert!(out.contains("1 new message"), "{out}");
}

#[test]
fn verbose_shows_the_imap_exchange_without_the_password() {
    let stack = &mailstack();
    let editor = unique_user("editor-verbose");
    let people = People {
        editor: &editor,
        ann: &unique_user("ann-verbose"),
        bob: &unique_user("bob-verbose"),
        dave: &unique_user("dave-verbose"),
    };
    Imap::login(stack, &editor).append("INBOX", &[flowed_reply(&people)]);
    let folder = Folder::new(
        stack,
        &editor,
        "INBOX",
        Connection::Starttls(&stack.ca_file),
    );
    let out = folder
        .dispatch(&["-v", "replies", "import"])
        .env_remove("RUST_LOG")
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for step in [
        r#"Ok("STARTTLS")"#,
        &format!(r#"Ok("LOGIN \"{editor}\" [redacted]")"#),
        r#"Ok("EXAMINE \"INBOX\"")"#,
        "UID FETCH 1:1",
    ] {
        assert!(err.contains(step), "{step:?} missing from:\n{err}");
    }
    assert!(!err.contains(PASSWORD), "{err}");
}

#[test]
fn clear_errors_for_login_mailbox_and_password() {
    let stack = &mailstack();
    let editor = unique_user("editor-err");
    let folder = Folder::new(stack, &editor, "Nowhere", Connection::Plain);

    let out = folder
        .dispatch(&["replies", "import"])
        .env_remove(PASSWORD_ENV)
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(PASSWORD_ENV) && err.contains("not set"),
        "{err}"
    );

    let out = folder
        .dispatch(&["replies", "import"])
        .env(PASSWORD_ENV, "wrong-password")
        .run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the login"), "{err}");
    assert!(
        !err.contains("wrong-password"),
        "the password is never printed: {err}"
    );

    let out = folder.dispatch(&["replies", "import"]).run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"Nowhere\" cannot be opened"), "{err}");
    assert!(err.contains("imap.mailbox"), "{err}");
}

#[test]
fn moderation_commands() {
    let folder_dir = tempfile::tempdir().unwrap();
    let stack_free = Folder { dir: folder_dir };
    std::fs::write(
        stack_free.path().join("config.yaml"),
        "newsletter:\n  title: T\n  url: https://t.example/\n  from: editor@example.test\n",
    )
    .unwrap();
    let mbox = stack_free.path().join("replies.mbox");
    let people = People {
        editor: "editor@example.test",
        ann: "ann@example.org",
        bob: "bob@example.org",
        dave: "dave@example.org",
    };
    let mut data = Vec::new();
    for message in [
        plain_latin1_reply(&people, "x@example.org"),
        flowed_reply(&people),
        outlook_reply(&people),
    ] {
        data.extend_from_slice(b"From sender@example.org Mon Mar  4 10:00:00 2024\n");
        data.extend_from_slice(&message);
        data.extend_from_slice(b"\n");
    }
    std::fs::write(&mbox, &data).unwrap();
    let out = stack_free.run(&["replies", "import", "--mbox", mbox.to_str().unwrap()]);
    assert!(out.contains("3 new messages"), "{out}");
    let out = stack_free.run(&["replies", "import", "--mbox", mbox.to_str().unwrap()]);
    assert!(out.contains("0 new messages (3 imported before)"), "{out}");

    let table = stack_free.run(&["replies", "list"]);
    assert!(table.starts_with("   ID  ISSUE"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");

    let out = stack_free
        .dispatch(&["replies", "approve", "1", "99"])
        .run();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("there is no reply #99: nothing was changed")
    );
    assert!(
        stack_free
            .replies_json(&["--status", "approved"])
            .is_empty()
    );

    stack_free.run(&["replies", "approve", "1", "2", "--note", "Thanks, both."]);
    stack_free.run(&["replies", "approve", "3", "--anonymous"]);
    stack_free.run(&["replies", "reject", "2"]);
    let approved = stack_free.replies_json(&["--status", "approved", "--issue", "v1n1"]);
    let ids: Vec<i64> = approved.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![1, 3]);
    assert_eq!(approved[0]["note"], "Thanks, both.");
    assert!(
        approved[0]["original"]
            .as_str()
            .is_some_and(|o| o.len() >= approved[0]["text"].as_str().unwrap().len()),
        "the message before extraction: {}",
        approved[0]
    );
    assert_eq!(approved[1]["published_as"], "A reader");

    let shown = stack_free.run(&["replies", "show", "1"]);
    assert!(
        shown.contains("from:      Ann Lecture <ann@example.org>"),
        "{shown}"
    );
    assert!(shown.contains("Café meetings"), "{shown}");
    let out = stack_free.dispatch(&["replies", "show", "99"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("error: there is no reply #99 (`dispatch replies list` shows them)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `edit` through a scripted editor; an emptied text changes nothing.
    let editor = stack_free.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'Edited by the editor.\\n' > \"$1\"\n",
    )
    .unwrap();
    let emptier = stack_free.path().join("emptier.sh");
    std::fs::write(&emptier, "#!/bin/sh\n: > \"$1\"\n").unwrap();
    for script in [&editor, &emptier] {
        std::fs::set_permissions(script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let out = stack_free
        .dispatch(&["replies", "edit", "1"])
        .env("VISUAL", &emptier)
        .run();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("left unchanged"));
    assert!(
        stack_free
            .run(&["replies", "show", "1"])
            .contains("Café meetings")
    );
    let out = stack_free
        .dispatch(&["replies", "edit", "1"])
        .env("VISUAL", &editor)
        .run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stack_free
            .run(&["replies", "show", "1"])
            .contains("Edited by the editor.")
    );
}

#[test]
fn extract_prints_the_readers_text_outside_a_folder() {
    let people = People {
        editor: "editor@example.test",
        ann: "ann@example.org",
        bob: "bob@example.org",
        dave: "dave@example.org",
    };
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("reply.eml");
    std::fs::write(&message, plain_latin1_reply(&people, "x@example.org")).unwrap();
    let out = command(None, &["replies", "extract"])
        .current_dir(dir.path())
        .arg(&message)
        .run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Café meetings are where I argue most: tabs versus spaces, naïvely.\nFrankly, I lost.\n"
    );

    let body = "Thanks: count me in.\n\nOn Mon, 4 Mar 2024 at 09:00, Robin Field <editor@example.test> wrote:\n> Who is coming?\n\n-- \nAnn\n";
    let out = command(None, &["replies", "extract", "-"])
        .current_dir(dir.path())
        .run_with(body.as_bytes());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Thanks: count me in.\n"
    );

    // A bare HTML body: the client's quote markup goes, then the text rules.
    let html = "<div dir=\"ltr\">Thanks: count me in.<div><br></div><div>Ann</div></div><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, 4 Mar 2024 at 09:00, Robin Field &lt;editor@example.test&gt; wrote:</div><blockquote class=\"gmail_quote\">Who is coming?</blockquote></div>";
    let out = command(None, &["replies", "extract", "-"])
        .current_dir(dir.path())
        .run_with(html.as_bytes());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Thanks: count me in.\n\nAnn\n"
    );
}

/// An empty input has no reply in it: an error naming it, not an empty line.
#[test]
fn extract_of_an_empty_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.eml");
    std::fs::write(&empty, "\n \n").unwrap();
    let out = command(None, &["replies", "extract"]).arg(&empty).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("error: {} is empty:", empty.display())),
        "{err}"
    );
    let out = command(None, &["replies", "extract", "-"]).run_with(b"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: standard input is empty:"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// End to end: build, deliver through Postfix, reply, import, approve, build the next issue.

/// The built `.eml` of an issue as `send` would mail it to one subscriber.
fn personalised(eml: &[u8], to: &str, message_id: &str) -> Vec<u8> {
    let text = String::from_utf8(eml.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head: Vec<String> = head
        .split("\r\n")
        .map(|line| {
            if line.starts_with("To:") {
                format!("To: {to}")
            } else if line.starts_with("Message-ID:") {
                format!("Message-ID: <{message_id}>")
            } else {
                line.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
}

fn smtp_deliver(stack: &MailStack, from: &str, to: &str, message: &[u8]) {
    use lettre::Transport as _;
    let transport = lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(stack.smtp_port)
        .build();
    let envelope =
        lettre::address::Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()])
            .unwrap();
    transport.send_raw(&envelope, message).unwrap();
}

/// A header of a raw message (unfolded).
fn header_of(raw: &str, name: &str) -> String {
    let head = raw.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} header in:\n{head}"))
        .trim()
        .to_string()
}

fn read_built(folder: &Folder, relative: &str) -> String {
    std::fs::read_to_string(folder.path().join(relative)).unwrap()
}

#[test]
fn a_reply_to_a_delivered_issue_is_published_in_the_next_one() {
    let stack = &mailstack();
    let editor = unique_user("editor-e2e");
    let reader = unique_user("reader-e2e");
    let folder = Folder::new(
        stack,
        &editor,
        "INBOX",
        Connection::Starttls(&stack.ca_file),
    );
    let reader_id = folder.add_subscriber(&reader, "Rea Der");
    folder.run(&["build"]);
    let message_id = folder.record_send((1, 1), "2024-03-01T09:00:00Z", &[reader_id])[0].clone();

    // The issue reaches the reader through Postfix and Dovecot.
    let eml = std::fs::read(folder.path().join("build/email/v1n1.eml")).unwrap();
    smtp_deliver(
        stack,
        &editor,
        &reader,
        &personalised(&eml, &reader, &message_id),
    );
    let delivered = stack.wait_for_messages(&reader, 1, Duration::from_secs(20));
    let received = String::from_utf8(std::fs::read(&delivered[0]).unwrap()).unwrap();
    assert_eq!(
        header_of(&received, "Message-ID"),
        format!("<{message_id}>")
    );
    let subject = header_of(&received, "Subject");

    // The reader answers that message from their mail client.
    let reply = crlf(&format!(
        "From: Rea Der <{reader}>
To: {editor}
Subject: Re: {subject}
Date: Tue, 05 Mar 2024 10:00:00 +0000
Message-ID: <reply-from-reader@example.test>
In-Reply-To: <{message_id}>
References: <{message_id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

The most pointless one: whether our wiki needs a page about the wiki.
We wrote the page.

Also see https://example.org/wiki?page=wiki&lang=en for the result.

On Fri, 1 Mar 2024 at 09:00, Robin Field <{editor}> wrote:
> QUOTED-ISSUE-TEXT Hi friend,
> The first issue.

--
Rea Der
Sent from my phone
"
    ));
    let people = People {
        editor: &editor,
        ann: &reader,
        bob: &unique_user("bob-e2e"),
        dave: &reader,
    };
    let mut hostile = String::from_utf8(hostile_reply(&people)).unwrap();
    hostile = hostile.replace(
        "Subject: Re: The Test Dispatch V1N1",
        &format!("Subject: Re: {subject}"),
    );
    let mut imap = Imap::login(stack, &editor);
    imap.append(
        "INBOX",
        &[reply, out_of_office(&people), hostile.into_bytes()],
    );

    let out = folder.run(&["replies", "import"]);
    assert!(out.contains("3 new messages"), "{out}");
    let replies = folder.replies_json(&["--issue", "V1N1"]);
    assert_eq!(replies.len(), 2, "{replies:#?}");
    let ids: Vec<String> = replies.iter().map(|r| r["id"].to_string()).collect();
    let mut approve = vec!["replies", "approve"];
    approve.extend(ids.iter().map(String::as_str));
    approve.extend([
        "--note",
        "Thanks! The wiki page about the wiki is now my favourite.",
    ]);
    folder.run(&approve);

    folder.run(&["build"]);
    let html = read_built(&folder, "build/email/v1n2.html");
    let text = read_built(&folder, "build/email/v1n2.txt");
    let page = read_built(&folder, "build/web/v1n2/index.html");

    for (name, out) in [("email HTML", &html), ("web page", &page)] {
        assert!(
            out.contains("Last time I asked, &ldquo;What was the most pointless argument you had lately?&rdquo;")
                || out.contains("Last time I asked, “What was the most pointless argument you had lately?”"),
            "{name}: {out}"
        );
        assert!(out.contains("Rea Der responds:"), "{name}");
        assert!(out.contains("Mallory Markup responds:"), "{name}");
        assert!(
            out.contains("whether our wiki needs a page about the wiki."),
            "{name}"
        );
        assert!(
            out.contains("<a href=\"https://example.org/wiki?page=wiki&amp;lang=en\""),
            "{name}: links are clickable"
        );
        assert!(
            out.contains("The wiki page about the wiki is now my favourite."),
            "{name}"
        );
        assert!(
            out.contains("&lt;script&gt;"),
            "{name}: markup is shown as text"
        );
        assert!(!out.contains("<script>alert"), "{name}: no live script");
        assert!(!out.contains("<img src=x"), "{name}: no live image");
        assert!(
            out.contains("Which estimate of yours was furthest off?"),
            "{name}"
        );
    }
    // The plain text is wrapped at 72 columns: compare its words.
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("Last time I asked, “What was the most pointless argument you had lately?”"),
        "{text}"
    );
    assert!(text.contains("Rea Der responds:"), "{text}");
    assert!(text.contains("We wrote the page."), "{text}");
    assert!(
        words.contains("Which estimate of yours was furthest off? Just hit reply"),
        "{text}"
    );
    for out in [&html, &text, &page] {
        assert!(!out.contains("QUOTED-ISSUE-TEXT"), "quoted text is gone");
        assert!(!out.contains("Sent from my phone"), "the signature is gone");
        assert!(!out.contains("out of the office"), "no automatic reply");
    }
    // The reader's reply (sent first) comes before the later one, every build.
    let first = html.find("Rea Der responds:").unwrap();
    let second = html.find("Mallory Markup responds:").unwrap();
    assert!(first < second);
}

/// The header block of a raw message, without the blank line that ends it.
fn header_block(raw: &str) -> String {
    raw.lines()
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A bounce acts only on the delivery it returns: `send` mails Frank, a report returning that
/// copy bounces him; reports for Erin (never mailed), one returning a made-up Message-ID and
/// one returning Frank's copy, change nothing and are listed. An unsubscribe request without a
/// token waits for the editor unless the editor's own server (imap.authserv_id) verified the
/// sender.
#[test]
fn only_bounces_of_our_deliveries_act_and_unverified_unsubscribes_wait() {
    let stack = &mailstack();
    let editor = unique_user("editor-forged");
    let folder = Folder::new(stack, &editor, "INBOX", Connection::Plain);
    let config = folder.path().join("config.yaml");
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str(&format!(
        "  authserv_id: mx.example.test\nsmtp:\n  host: 127.0.0.1\n  port: {}\n  security: none\n",
        stack.smtp_port
    ));
    std::fs::write(&config, yaml).unwrap();
    let frank = unique_user("frank");
    let frank_id = folder.add_subscriber(&frank, "Frank");
    folder.run(&["send", "v1n1", "--yes"]);
    let copy = stack.wait_for_messages(&frank, 1, Duration::from_secs(20));
    let franks_copy = header_block(&String::from_utf8_lossy(&std::fs::read(&copy[0]).unwrap()));
    assert!(franks_copy.contains("Message-ID: <v1n1."), "{franks_copy}");

    let (erin, gail, hal, ivy) = (
        unique_user("erin"),
        unique_user("gail"),
        unique_user("hal"),
        unique_user("ivy"),
    );
    let erin_id = folder.add_subscriber(&erin, "Erin");
    let gail_id = folder.add_subscriber(&gail, "Gail");
    let hal_id = folder.add_subscriber(&hal, "Hal");
    let ivy_id = folder.add_subscriber(&ivy, "Ivy");
    let own = "Authentication-Results: mx.example.test; dkim=pass header.d=example.test";
    let theirs = "Authentication-Results: mx.attacker.example; spf=pass smtp.mailfrom=example.test";
    let people = People {
        editor: &editor,
        ann: &erin,
        bob: &erin,
        dave: &erin,
    };
    let with_header = |header: &str, message: Vec<u8>| {
        let mut out = format!("{header}\r\n").into_bytes();
        out.extend(message);
        out
    };
    let messages = vec![
        dsn_bounce(&editor, &frank, &franks_copy, "real@mx.example.test"),
        dsn_bounce(
            &editor,
            &erin,
            "From: x@example.test\nMessage-ID: <v1n1.9.made-up@example.test>",
            "forged-1@attacker.example",
        ),
        dsn_bounce(&editor, &erin, &franks_copy, "forged-2@attacker.example"),
        unsubscribe_request(&people, &gail, "", "unsub-gail@example.test"),
        with_header(
            own,
            unsubscribe_request(&people, &hal, "", "unsub-hal@example.test"),
        ),
        with_header(
            theirs,
            with_header(
                own,
                unsubscribe_request(&people, &ivy, "", "unsub-ivy@example.test"),
            ),
        ),
    ];
    Imap::login(stack, &editor).append("INBOX", &messages);

    let out = folder.run(&["replies", "import"]);
    assert!(
        out.contains("1 subscriber marked bounced; 2 not tied to a delivery"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "UID 2: a bounce for {erin} returns <v1n1.9.made-up@example.test>, not a message dispatch sent"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "UID 3: a bounce for {erin} returns the copy sent to {frank}"
        )),
        "{out}"
    );
    assert!(
        out.contains("1 subscriber unsubscribed; 2 wait for you"),
        "{out}"
    );
    assert_eq!(folder.status_of(frank_id), "bounced");
    assert_eq!(folder.status_of(erin_id), "active");
    assert_eq!(folder.status_of(hal_id), "unsubscribed");
    assert_eq!(folder.status_of(gail_id), "active");
    assert_eq!(folder.status_of(ivy_id), "active");

    let waiting = folder.run(&["replies", "unsubscribes"]);
    let id_of = |address: &str| -> String {
        waiting
            .lines()
            .find(|l| l.contains(address))
            .unwrap_or_else(|| panic!("{address} not listed:\n{waiting}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let (gail_request, _ivy_request) = (id_of(&gail), id_of(&ivy));
    let out = folder.run(&["replies", "confirm-unsubscribe", &gail_request]);
    assert!(out.contains(&format!("{gail} unsubscribed")), "{out}");
    assert_eq!(folder.status_of(gail_id), "unsubscribed");
    assert_eq!(folder.status_of(ivy_id), "active");
    let left = folder.run(&["replies", "unsubscribes"]);
    assert!(!left.contains(&gail) && left.contains(&ivy), "{left}");
}

#[test]
fn a_strangers_escape_sequences_never_reach_the_editors_terminal() {
    let folder = Folder {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(
        folder.path().join("config.yaml"),
        "newsletter:\n  title: T\n  url: https://t.example/\n  from: editor@example.test\n",
    )
    .unwrap();
    let message = crlf(
        "From: \"Eve \u{1b}[31mRed\" <eve@attacker.example>
To: editor@example.test
Subject: Re: T V1N1 \u{1b}]0;retitled\u{7}
Date: Sat, 9 Mar 2024 12:00:00 +0000
Message-ID: <escape-1@attacker.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Plain words \u{1b}[2J\u{1b}[Hthen \u{202e}reversed\u{202c} text.

On Fri, 8 Mar 2024 at 09:00, T <editor@example.test> wrote:
> The question of the week.
",
    );
    let mbox = folder.path().join("replies.mbox");
    let mut data = b"From eve@attacker.example Mon Mar  4 10:00:00 2024\n".to_vec();
    data.extend_from_slice(&message);
    std::fs::write(&mbox, &data).unwrap();
    folder.run(&["replies", "import", "--mbox", mbox.to_str().unwrap()]);
    let list = folder.run(&["replies", "list"]);
    let shown = folder.run(&["replies", "show", "1"]);
    let original = folder.run(&["replies", "show", "1", "--original"]);
    for out in [&list, &shown, &original] {
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\u{202e}', '\u{202c}']),
            "a control character reached the terminal: {out:?}"
        );
        assert!(out.contains("Plain words \\u{1b}[2J\\u{1b}[Hthen"), "{out}");
    }
    assert!(
        shown.contains("from:      Eve \\u{1b}[31mRed <eve@attacker.example>"),
        "{shown}"
    );
    assert!(
        shown.contains("subject:   Re: T V1N1 \\u{1b}]0;retitled\\u{7}"),
        "{shown}"
    );
    assert!(!shown.contains("question of the week"), "{shown}");
    assert!(
        original.contains("> The question of the week."),
        "{original}"
    );

    // Published, the text and name keep their words and lose the sequences, in the HTML and
    // in the plain text a subscriber may read in a terminal mail reader.
    std::fs::create_dir(folder.path().join("issues")).unwrap();
    // The reply came on 9 March: between the two issues.
    for (number, day) in [(1, "01"), (2, "20")] {
        std::fs::write(
            folder.path().join(format!("issues/v1n{number}.md")),
            format!("---\nvolume: 1\nnumber: {number}\ntitle: Issue {number}\ndate: 2024-03-{day}\n---\nBody.\n"),
        )
        .unwrap();
    }
    folder.run(&["replies", "approve", "1"]);
    folder.run(&["build", "v1n2"]);
    for file in [
        "build/email/v1n2.txt",
        "build/email/v1n2.html",
        "build/web/v1n2/index.html",
    ] {
        let built = std::fs::read_to_string(folder.path().join(file)).unwrap();
        assert!(built.contains("Plain words then"), "{file}: {built}");
        assert!(built.contains("Eve Red"), "{file}: {built}");
        assert!(!built.contains(['\u{1b}', '\u{7}']), "{file}: {built:?}");
    }
}
