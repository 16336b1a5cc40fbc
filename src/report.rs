//! How the library tells the user what it is doing without printing: progress, warnings and
//! notices go to a [`Reporter`] that the binary renders (a bar on a terminal, lines
//! otherwise). The wire-level conversation goes to `tracing` (see `dispatch -v`).

use std::time::Duration;

/// How far a run of countable work is (a send's messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What runs, e.g. the issue `V1N2`.
    pub label: String,
    /// What this run has to do.
    pub total: u64,
    pub sent: u64,
    pub failed: u64,
    /// Deferred and not (yet) sent: waiting for a retry or left for the next run.
    pub deferred: u64,
    pub elapsed: Duration,
}

impl Progress {
    pub fn done(&self) -> u64 {
        self.sent + self.failed
    }

    /// Done per second so far.
    pub fn rate(&self) -> f64 {
        self.done() as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// What the library reports while it works. Every method may be called from any thread.
pub trait Reporter: Send + Sync {
    /// Where a run stands; called a few times a second while it runs.
    fn progress(&self, progress: &Progress);
    /// The run that reported progress is over.
    fn progress_done(&self);
    /// Something went wrong but the work goes on (a failed rebuild, a failed request).
    fn error(&self, message: &str);
    /// Something the user should know about the run (an interruption, a rebuild).
    fn notice(&self, message: &str);
}

/// A count of work whose total may be learnt on the way (messages read by `replies import`).
pub trait Count: Sync {
    /// How many there are in all.
    fn set_length(&self, total: u64);
    /// `n` more are done.
    fn inc(&self, n: u64);
}

impl Count for Silent {
    fn set_length(&self, _: u64) {}
    fn inc(&self, _: u64) {}
}

/// Reports nothing: for tests and for callers that show no progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn progress(&self, _: &Progress) {}
    fn progress_done(&self) {}
    fn error(&self, _: &str) {}
    fn notice(&self, _: &str) {}
}

/// Longest line of a logged exchange; a message's whole text is cut to this many bytes.
const LONGEST_LINE: usize = 2000;

/// Replaces what must never reach a log in one line of the SMTP, IMAP or HTTP exchange:
/// SMTP AUTH payloads (PLAIN's initial response, LOGIN's base64 answers), the IMAP LOGIN
/// password, and unsubscribe tokens in URLs (`/unsubscribe/TOKEN`,
/// `subject=unsubscribe%20TOKEN`). A line longer than [`LONGEST_LINE`] is cut.
pub fn redact(line: &str) -> String {
    let mut out = cut(&headers_only(line));
    for marker in [
        "AUTH PLAIN ",
        "AUTH LOGIN ",
        "/unsubscribe/",
        "/confirm/",
        "unsubscribe%20",
    ] {
        out = redact_after(&out, marker, |rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=-_.~".contains(c)))
                .unwrap_or(rest.len());
            // A server's list of mechanisms (`250-AUTH PLAIN LOGIN`) is no secret.
            let mechanism = marker.starts_with("AUTH")
                && rest[..end]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
            (end > 0 && !mechanism).then_some(0..end)
        });
    }
    out = redact_after(&out, "LOGIN ", login_password);
    redact_sasl_answer(&out)
}

/// `text` with every email address in it (a server's `550 <ann@example.org>: unknown user`)
/// replaced by `[address]`, for lines of a log that must not name readers.
pub fn without_addresses(text: &str) -> String {
    let local = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let domain = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        let after = &rest[at + 1..];
        let start = before
            .char_indices()
            .rev()
            .take_while(|&(_, c)| local(c))
            .last()
            .map_or(at, |(i, _)| i);
        let host = after.find(|c: char| !domain(c)).unwrap_or(after.len());
        let host_name = after[..host].trim_end_matches('.');
        if start < at && host_name.contains('.') {
            out.push_str(&before[..start]);
            out.push_str("[address]");
            rest = &after[host_name.len()..];
        } else {
            out.push_str(&rest[..=at]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Where the password is in what follows an IMAP `LOGIN `: after the user name (an atom or a
/// quoted string, quotes possibly escaped as in a Debug form) up to the end of the command.
fn login_password(rest: &str) -> Option<std::ops::Range<usize>> {
    let quote = ["\\\"", "\""].into_iter().find(|q| rest.starts_with(q));
    let user_end = match quote {
        Some(q) => q.len() + rest[q.len()..].find(q)? + q.len(),
        None => rest.find(' ')?,
    };
    let start = user_end + rest[user_end..].find(|c: char| c != ' ')?;
    let tail = &rest[start..];
    let end = ["\")", "\\r\\n", "\r\n", "<CRLF>"]
        .iter()
        .filter_map(|stop| tail.find(stop))
        .min()
        .unwrap_or(tail.len());
    (end > 0).then_some(start..start + end)
}

/// A message lettre wrote (headers, a blank line, the body) keeps its headers only: the body
/// is the reader's personal copy, its links broken across quoted-printable lines.
fn headers_only(line: &str) -> String {
    let Some(at) = line.find("Wrote: ") else {
        return line.to_string();
    };
    match line[at..].find("<CRLF><CRLF>") {
        Some(blank) => {
            let blank = at + blank + "<CRLF><CRLF>".len();
            let body = line[blank..].trim_end_matches('\n');
            let end = &line[blank + body.len()..];
            format!("{}[body of {} bytes]{end}", &line[..blank], body.len())
        }
        None => line.to_string(),
    }
}

/// Cuts `line` to [`LONGEST_LINE`] bytes (on a character boundary), saying how long it was.
fn cut(line: &str) -> String {
    if line.len() <= LONGEST_LINE {
        return line.to_string();
    }
    let mut end = LONGEST_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes in all]", &line[..end], line.len())
}

/// Replaces, after each `marker`, the range that `span` finds in the text following it with
/// `[redacted]`.
fn redact_after(
    line: &str,
    marker: &str,
    span: impl Fn(&str) -> Option<std::ops::Range<usize>>,
) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(marker) {
        let start = at + marker.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(range) = span(rest) {
            out.push_str(&rest[..range.start]);
            out.push_str("[redacted]");
            rest = &rest[range.end..];
        }
    }
    out.push_str(rest);
    out
}

/// lettre logs a command it wrote as `Wrote: TEXT<CRLF>`; AUTH LOGIN's answers (user name and
/// password) are a bare base64 word, unlike any SMTP command but the few without arguments.
fn redact_sasl_answer(line: &str) -> String {
    const BARE: [&str; 7] = ["DATA", "QUIT", "RSET", "NOOP", "STARTTLS", "EHLO", "HELO"];
    let Some(at) = line.find("Wrote: ") else {
        return line.to_string();
    };
    let start = at + "Wrote: ".len();
    let word = line[start..].trim_end().trim_end_matches("<CRLF>");
    let base64 = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    if base64 && !BARE.contains(&word) {
        format!(
            "{}[redacted]{}",
            &line[..start],
            &line[start + word.len()..]
        )
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_left_out() {
        assert_eq!(
            without_addresses(
                "550 5.1.1 <ann.o'neil+news@mail.example.org>: Recipient address rejected"
            ),
            "550 5.1.1 <[address]>: Recipient address rejected"
        );
        assert_eq!(
            without_addresses("to bob@example.org. and zoë@exämple.de, not @here or a@b"),
            "to [address]. and [address], not @here or a@b"
        );
    }

    #[test]
    fn smtp_auth_payloads_are_redacted() {
        assert_eq!(
            redact("DEBUG lettre: Wrote: AUTH PLAIN AHVAZXhhbXBsZS50ZXN0AHNlY3JldA==<CRLF>"),
            "DEBUG lettre: Wrote: AUTH PLAIN [redacted]<CRLF>"
        );
        assert_eq!(
            redact("DEBUG lettre: Wrote: c2VjcmV0<CRLF>\n"),
            "DEBUG lettre: Wrote: [redacted]<CRLF>\n"
        );
        for kept in [
            "Wrote: QUIT<CRLF>",
            "Wrote: DATA<CRLF>",
            "Wrote: AUTH LOGIN<CRLF>",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }

    #[test]
    fn the_imap_login_password_is_redacted() {
        assert_eq!(
            redact(
                r#"TRACE async_imap: encode: input: Some("A1"), Ok("LOGIN \"ann@example.test\" \"s3 cret\"")"#
            ),
            r#"TRACE async_imap: encode: input: Some("A1"), Ok("LOGIN \"ann@example.test\" [redacted]")"#
        );
        assert_eq!(
            redact("C: A1 LOGIN ann secret\r\n"),
            "C: A1 LOGIN ann [redacted]\r\n"
        );
    }

    #[test]
    fn unsubscribe_tokens_are_redacted() {
        assert_eq!(
            redact(
                "List-Unsubscribe: <https://x.example/unsubscribe/TEST>, <mailto:ed@x.example?subject=unsubscribe%20AbC-12_x>"
            ),
            "List-Unsubscribe: <https://x.example/unsubscribe/[redacted]>, <mailto:ed@x.example?subject=unsubscribe%20[redacted]>"
        );
    }

    #[test]
    fn a_written_message_keeps_its_headers_only() {
        assert_eq!(
            redact("Wrote: Subject: Hi<CRLF><CRLF>Dear Ann,<CRLF>bye<CRLF>.<CRLF>\n"),
            "Wrote: Subject: Hi<CRLF><CRLF>[body of 31 bytes]\n"
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let line = "é".repeat(LONGEST_LINE);
        let cut = redact(&line);
        assert!(cut.ends_with(&format!("… [{} bytes in all]", line.len())));
        assert!(cut.len() < LONGEST_LINE + 30);
    }
}
