//! MIME decoding: a raw message (RFC 5322) into an [`Incoming`]: its header fields, the
//! reader's text (the body chosen, format=flowed unwrapped, then extracted) and its [`Kind`].
//!
//! Decoding (charsets, transfer encodings, RFC 2047 headers) is mail-parser's; this module adds
//! format=flowed unwrapping and the choice of body, and hands the decoded message to
//! [`super::classify`]. It must not depend on the store, the sources or the importer: it turns
//! bytes into a value and acts on nothing.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use super::classify::{Kind, classify};
use super::extract::{html_reply_text, reply_text};
use super::html_text::html_to_text;

/// A parsed incoming mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incoming {
    /// Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References ids, without angle brackets.
    pub references: Vec<String>,
    /// Sender address, lowercased.
    pub from_address: Option<String>,
    /// Sender display name, if any.
    pub from_name: Option<String>,
    /// Recipient addresses, lowercased.
    pub to: Vec<String>,
    /// Decoded subject; empty when there is none.
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    /// What the reader wrote: the body without quotes, reply headers and signatures.
    pub text: String,
    /// The body as text before extraction (quotes and signatures still in), for the editor to
    /// compare with `text`.
    #[serde(default)]
    pub original: String,
    pub kind: Kind,
    /// What shows that the From address is really the sender's: a DKIM, SPF or DMARC pass
    /// for its domain in an `Authentication-Results` field of the editor's own server
    /// ([`Context::authserv_id`]), as "dkim=pass by mx.example.com".
    pub sender_verified: Option<String>,
}

/// What parsing needs to know about the newsletter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// First word of the subject of the List-Unsubscribe mailto
    /// (`mailto:EDITOR?subject=unsubscribe%20TOKEN`): the constant of the side that makes the
    /// link, passed in by the importer ([`super::import::parse_context`]).
    pub unsubscribe_prefix: String,
    /// The authserv-id of the editor's own mail server: its `Authentication-Results` fields
    /// are the only ones believed.
    pub authserv_id: Option<String>,
}

/// Why a message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the message is empty")]
    Empty,
    #[error("the message has no header fields: not an email message")]
    NoHeaders,
}

/// Parses a raw RFC 5322 message: headers, the reader's text and the kind of mail.
///
/// Never panics on any input; a message without headers is an error.
pub fn parse(raw: &[u8], ctx: &Context) -> Result<Incoming, ParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let raw = terminated(raw);
    let msg = MessageParser::default()
        .parse(raw.as_ref())
        .ok_or(ParseError::NoHeaders)?;
    if !has_real_header(&msg) {
        return Err(ParseError::NoHeaders);
    }
    let subject = msg.subject().unwrap_or("").trim().to_string();
    let from = msg.from().and_then(|a| a.first());
    let from_address = from
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty());
    let from_name = from
        .and_then(|a| a.name())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let in_reply_to = id_list(msg.in_reply_to());
    let references = id_list(msg.references());
    let kind = classify(&msg, &subject, from_address.as_deref(), ctx);
    let sender_verified = sender_verified(&msg, from_address.as_deref(), ctx);
    let body = body(&msg);
    let original = match &body {
        Body::Plain(text) => text.clone(),
        Body::Html(html) => html_to_text(html).text,
    };
    Ok(Incoming {
        message_id: msg
            .message_id()
            .map(strip_brackets)
            .filter(|s| !s.is_empty()),
        in_reply_to,
        references,
        from_address,
        from_name,
        to: recipients(&msg),
        date: msg.date().and_then(to_utc),
        original,
        text: reader_text(body),
        subject,
        kind,
        sender_verified,
    })
}

/// The evidence, if any, that the editor's own server verified the From domain.
fn sender_verified(msg: &Message, from: Option<&str>, ctx: &Context) -> Option<String> {
    let authserv_id = ctx.authserv_id.as_deref()?;
    let domain = from?.rsplit_once('@')?.1;
    let fields: Vec<String> = header_values(msg, "Authentication-Results").collect();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    super::auth_results::vouches_for(&fields, authserv_id, domain).map(|e| e.to_string())
}

/// The message with a final line break: mail-parser drops a last header field that is not
/// terminated, which matters for truncated messages.
fn terminated(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.ends_with(b"\n") {
        Cow::Borrowed(raw)
    } else {
        let mut owned = raw.to_vec();
        owned.extend_from_slice(b"\r\n");
        Cow::Owned(owned)
    }
}

/// At least one "Name: value" field. mail-parser also takes a first line without a colon for
/// a field name, which would let any text pass for a message.
fn has_real_header(msg: &Message) -> bool {
    let raw = msg.raw_message();
    msg.headers().iter().any(|h| {
        let name_ok = !h.name().is_empty()
            && h.name()
                .bytes()
                .all(|b| (33..=126).contains(&b) && b != b':');
        let colon = raw
            .get(h.offset_field() as usize..h.offset_start() as usize)
            .is_some_and(|field| field.contains(&b':'));
        name_ok && colon
    })
}

pub(super) fn strip_brackets(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// Message ids of In-Reply-To / References, in order, without brackets.
fn id_list(value: &HeaderValue) -> Vec<String> {
    value
        .as_text_list()
        .unwrap_or_default()
        .iter()
        .flat_map(|v| v.split_whitespace())
        .map(strip_brackets)
        .filter(|s| !s.is_empty())
        .collect()
}

fn recipients(msg: &Message) -> Vec<String> {
    msg.to()
        .map(|to| {
            to.iter()
                .filter_map(|a| a.address())
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The Date header in UTC; None for dates mail-parser could not make sense of.
fn to_utc(date: &mail_parser::DateTime) -> Option<DateTime<Utc>> {
    if !date.is_valid() {
        return None;
    }
    DateTime::from_timestamp(date.to_timestamp(), 0)
}

// ---------------------------------------------------------------------------------------------
// Body

/// What the reader wrote, followed by a line for each limit that cut the body.
fn reader_text(body: Body<'_>) -> String {
    match body {
        Body::Plain(text) => reply_text(&text),
        Body::Html(html) => html_reply_text(html).with_notes(),
    }
}

/// The body a reply's text is taken from.
enum Body<'m> {
    /// The text/plain parts, format=flowed unwrapped.
    Plain(String),
    /// The HTML part, when there is no plain text.
    Html(&'m str),
}

/// The text/plain parts when there are any (format=flowed unwrapped), else the HTML part.
fn body<'m>(msg: &'m Message) -> Body<'m> {
    let (text_body, html_body) = if msg.text_body.is_empty() && msg.html_body.is_empty() {
        let inline = inline_text_parts(msg);
        (inline.clone(), inline)
    } else {
        (msg.text_body.clone(), msg.html_body.clone())
    };
    let plain: Vec<String> = text_body
        .iter()
        .filter_map(|&id| msg.parts.get(id as usize))
        .filter_map(plain_text)
        .collect();
    // Some clients send an empty plain alternative next to the real HTML body.
    if plain.iter().any(|t| !t.trim().is_empty()) {
        return Body::Plain(plain.join("\n"));
    }
    html_body
        .iter()
        .filter_map(|&id| msg.parts.get(id as usize))
        .find_map(|part| match &part.body {
            PartType::Html(html) => Some(Body::Html(html.as_ref())),
            // Outside a body mail-parser keeps text/html as text.
            PartType::Text(html) if part.is_content_type("text", "html") => {
                Some(Body::Html(html.as_ref()))
            }
            _ => None,
        })
        .unwrap_or(Body::Plain(String::new()))
}

/// The text and HTML parts that are not attachments. mail-parser names no body part when a
/// multipart's closing boundary is missing (a truncated or sloppy message), though it parsed
/// the parts.
fn inline_text_parts(msg: &Message) -> Vec<u32> {
    (0..msg.parts.len())
        .filter(|&i| {
            let part = &msg.parts[i];
            matches!(part.body, PartType::Text(_) | PartType::Html(_))
                && !part.is_content_type("text", "rfc822-headers")
                && part
                    .content_disposition()
                    .is_none_or(|d| !d.ctype().eq_ignore_ascii_case("attachment"))
        })
        .filter_map(|i| u32::try_from(i).ok())
        .collect()
}

/// Text of a text/plain part (mail-parser also lists HTML and other text parts among the
/// text bodies when a message has no plain alternative).
fn plain_text(part: &MessagePart) -> Option<String> {
    let PartType::Text(text) = &part.body else {
        return None;
    };
    let ct = part.content_type();
    let is_plain = ct.is_none_or(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
    });
    if !is_plain {
        return None;
    }
    let flowed = ct
        .and_then(|ct| ct.attribute("format"))
        .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
    if !flowed {
        return Some(text.to_string());
    }
    let delsp = ct
        .and_then(|ct| ct.attribute("delsp"))
        .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
    Some(unflow(text, delsp))
}

/// Undoes format=flowed (RFC 3676): a line ending in a space continues on the next line of the
/// same quote depth. Space-stuffing is removed; with delsp=yes the trailing space itself was
/// added by the sender and goes too. Runs before quote detection so that quoted paragraphs are
/// whole lines again.
fn unflow(text: &str, delsp: bool) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut continues = false;
    for line in text.split('\n') {
        let depth = line.chars().take_while(|&c| c == '>').count();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        // The signature separator "-- " is never a soft break.
        let soft = content.ends_with(' ') && content != "-- ";
        let piece = if soft && delsp {
            &content[..content.len() - 1]
        } else {
            content
        };
        match out.last_mut() {
            Some((d, joined)) if continues && *d == depth => joined.push_str(piece),
            _ => out.push((depth, piece.to_string())),
        }
        continues = soft;
    }
    out.into_iter()
        .map(|(depth, l)| {
            if depth == 0 {
                l
            } else {
                format!("{} {l}", ">".repeat(depth))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// message so that fields mail-parser does not know come through as written.
pub(super) fn header(msg: &Message, name: &str) -> Option<String> {
    header_values(msg, name).next()
}

/// Values of every field with this name, topmost first, unfolded and trimmed.
pub(super) fn header_values<'m>(
    msg: &'m Message,
    name: &'m str,
) -> impl Iterator<Item = String> + 'm {
    msg.headers()
        .iter()
        .filter(move |h| h.name().eq_ignore_ascii_case(name))
        .filter_map(|h| {
            msg.raw_message()
                .get(h.offset_start() as usize..h.offset_end() as usize)
        })
        .map(|raw| {
            String::from_utf8_lossy(raw)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::replies::import::parse_context;

    /// A raw message from header lines and a body, with CRLF line breaks as on the wire.
    pub(crate) fn mail(headers: &[&str], body: &[u8]) -> Vec<u8> {
        let mut raw = headers.join("\r\n").into_bytes();
        raw.extend_from_slice(b"\r\n\r\n");
        raw.extend_from_slice(body);
        raw
    }

    pub(crate) fn parsed(raw: &[u8]) -> Incoming {
        parse(raw, &parse_context(None)).expect("sample message parses")
    }

    /// A reply as a reader's mail client sends it.
    fn reader_reply() -> Vec<u8> {
        mail(
            &[
                "Return-Path: <ann@example.org>",
                "Message-ID: <CAB1234.5678@mail.example.org>",
                "In-Reply-To: <v5n2.issue@news.example.com>",
                "References: <v5n1.issue@news.example.com>\r\n <v5n2.issue@news.example.com>",
                "From: \"Ann Reader\" <Ann.Reader@Example.ORG>",
                "To: Editor <Editor@News.Example.com>, other@example.net",
                "Subject: Re: [Dispatch V5N2] Spring issue",
                "Date: Tue, 07 Jan 2025 10:15:00 +0100",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=UTF-8",
                "Content-Transfer-Encoding: 8bit",
            ],
            "Loved the piece on tides.\r\n\r\nOn Mon, Jan 6, 2025 at 9:00 AM Editor <editor@news.example.com> wrote:\r\n> Spring issue\r\n> is here.\r\n"
                .as_bytes(),
        )
    }

    #[test]
    fn reads_headers_of_a_reply() {
        let m = parsed(&reader_reply());
        assert_eq!(
            m.message_id.as_deref(),
            Some("CAB1234.5678@mail.example.org")
        );
        assert_eq!(m.in_reply_to, vec!["v5n2.issue@news.example.com"]);
        assert_eq!(
            m.references,
            vec!["v5n1.issue@news.example.com", "v5n2.issue@news.example.com"]
        );
        assert_eq!(m.from_address.as_deref(), Some("ann.reader@example.org"));
        assert_eq!(m.from_name.as_deref(), Some("Ann Reader"));
        assert_eq!(m.to, vec!["editor@news.example.com", "other@example.net"]);
        assert_eq!(m.subject, "Re: [Dispatch V5N2] Spring issue");
        let date = m.date.expect("date parsed");
        assert_eq!(date.to_rfc3339(), "2025-01-07T09:15:00+00:00");
        assert_eq!(m.text, "Loved the piece on tides.");
        assert_eq!(m.kind, Kind::Reply);
    }

    #[test]
    fn decodes_charsets() {
        let cases: &[(&str, &str, &[u8], &str)] = &[
            (
                "utf-8",
                "8bit",
                "Grüße, ça va ? Привет".as_bytes(),
                "Grüße, ça va ? Привет",
            ),
            (
                "iso-8859-1",
                "8bit",
                b"Gr\xfc\xdfe aus K\xf6ln, caf\xe9",
                "Grüße aus Köln, café",
            ),
            (
                "ISO-8859-2",
                "8bit",
                b"Za\xbf\xf3\xb3\xe6 g\xea\xb6l\xb1 ja\xbc\xf1",
                "Zażółć gęślą jaźń",
            ),
            (
                "iso-8859-15",
                "8bit",
                b"Prix: 5 \xa4 net, \xbduvre",
                "Prix: 5 € net, œuvre",
            ),
            (
                "windows-1250",
                "8bit",
                b"Za\xbf\xf3\xb3\xe6 g\xea\x9cl\xb9 ja\x9f\xf1",
                "Zażółć gęślą jaźń",
            ),
            (
                "windows-1252",
                "8bit",
                b"Smart \x93quotes\x94 \x96 and \x80",
                "Smart “quotes” – and €",
            ),
            (
                "koi8-r",
                "8bit",
                b"\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2",
                "Привет, мир",
            ),
            (
                "Shift_JIS",
                "8bit",
                b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\x81A\x8c\xb3\x8bC\x82\xc5\x82\xb7",
                "こんにちは、元気です",
            ),
            (
                "ISO-2022-JP",
                "7bit",
                b"\x1b$B$3$s$K$A$O!\x22855$$G$9\x1b(B",
                "こんにちは、元気です",
            ),
        ];
        for (charset, cte, body, want) in cases {
            let ct = format!("Content-Type: text/plain; charset=\"{charset}\"");
            let cte = format!("Content-Transfer-Encoding: {cte}");
            let raw = mail(&["From: a@example.org", "Subject: Re: x", &ct, &cte], body);
            assert_eq!(parsed(&raw).text, *want, "charset {charset}");
        }
    }

    #[test]
    fn decodes_quoted_printable_with_soft_breaks() {
        let raw = mail(
            &[
                "From: a@example.org",
                "Content-Type: text/plain; charset=iso-8859-1",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            b"Gr=FC=DFe aus K=F6ln, caf=E9 =\r\nund noch mehr.\r\n\r\nAm 06.01.2025 um 09:00 schrieb Editor <ed@example.com>:\r\n> Ausgabe\r\n",
        );
        assert_eq!(parsed(&raw).text, "Grüße aus Köln, café und noch mehr.");
    }

    #[test]
    fn decodes_base64() {
        let raw = mail(
            &[
                "From: a@example.org",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: base64",
            ],
            b"Q2VjaSBlc3QgdW5lIHLDqXBvbnNlLgpNZXJjaSBiZWF1Y291cCAh\r\n",
        );
        assert_eq!(parsed(&raw).text, "Ceci est une réponse.\nMerci beaucoup !");
    }

    #[test]
    fn decodes_base64_in_a_legacy_charset() {
        let raw = mail(
            &[
                "From: a@example.org",
                "Content-Type: text/plain; charset=koi8-r",
                "Content-Transfer-Encoding: base64",
            ],
            b"8NLJ18XU\r\n",
        );
        assert_eq!(parsed(&raw).text, "Привет");
    }

    #[test]
    fn decodes_encoded_word_headers() {
        let raw = mail(
            &[
                "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>",
                "Subject: =?UTF-8?B?UmU6IEdyw7zDn2UgYXVzIEvDtmxu?=",
                "Content-Type: text/plain; charset=utf-8",
            ],
            b"Danke!\r\n",
        );
        let m = parsed(&raw);
        assert_eq!(m.from_name.as_deref(), Some("Jörg Müller"));
        assert_eq!(m.subject, "Re: Grüße aus Köln");
        assert_eq!(m.kind, Kind::Reply);
    }

    #[test]
    fn unflows_format_flowed_before_quote_detection() {
        // The reply header is soft-broken: only unflowing makes it one line again.
        let body = "This is a long paragraph that the client \r\nbroke into two lines.\r\n\r\nOn Mon, Jan 6, 2025 at 9:00 AM Editor Name \r\n<editor@news.example.com> wrote:\r\n> quoted text that was \r\n> also flowed\r\n\r\n-- \r\nAnn\r\n";
        let raw = mail(
            &[
                "From: a@example.org",
                "In-Reply-To: <x@y>",
                "Content-Type: text/plain; charset=utf-8; format=flowed",
            ],
            body.as_bytes(),
        );
        assert_eq!(
            parsed(&raw).text,
            "This is a long paragraph that the client broke into two lines."
        );
    }

    #[test]
    fn unflows_with_delsp() {
        // With delsp=yes the space before a soft break was inserted by the sender's client
        // and goes away on unwrapping.
        let body = "Lange Wör \r\nter werden ge \r\ntrennt.\r\n";
        let raw = mail(
            &[
                "From: a@example.org",
                "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes",
            ],
            body.as_bytes(),
        );
        assert_eq!(parsed(&raw).text, "Lange Wörter werden getrennt.");
    }

    #[test]
    fn unflow_keeps_hard_breaks_signature_and_quote_depth() {
        let text = "one \ntwo\n>quoted \n>line\n>> deeper\n -stuffed\n-- \nsig";
        assert_eq!(
            unflow(text, false),
            "one two\n> quoted line\n>> deeper\n-stuffed\n-- \nsig"
        );
    }

    #[test]
    fn prefers_text_plain_over_html() {
        let body = "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain answer.\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML answer.</p>\r\n--b1--\r\n";
        let raw = mail(
            &[
                "From: a@example.org",
                "MIME-Version: 1.0",
                "Content-Type: multipart/alternative; boundary=\"b1\"",
            ],
            body.as_bytes(),
        );
        assert_eq!(parsed(&raw).text, "Plain answer.");
    }

    #[test]
    fn converts_html_only_mail() {
        let body = "<html><body><div dir=\"ltr\">Great issue, see <a href=\"https://example.org/tides\">my notes</a>.</div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Jan 6, 2025 at 9:00 AM Editor &lt;ed@example.com&gt; wrote:</div><blockquote class=\"gmail_quote\">Spring issue</blockquote></div></body></html>";
        let raw = mail(
            &[
                "From: a@example.org",
                "Content-Type: text/html; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
            ],
            body.as_bytes(),
        );
        assert_eq!(
            parsed(&raw).text,
            "Great issue, see my notes <https://example.org/tides>."
        );
    }

    /// A delivery status notification as Postfix sends it.
    pub(crate) fn dsn_report(from: &str) -> Vec<u8> {
        let body = "--dsn1\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This is the mail system at host mx.example.com.\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
--dsn1\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.com\r\n\
Arrival-Date: Tue,  7 Jan 2025 10:15:00 +0100 (CET)\r\n\
\r\n\
Final-Recipient: rfc822; Gone@Example.net\r\n\
Original-Recipient: rfc822;gone@example.net\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected:\r\n\
    User unknown in virtual mailbox table\r\n\
\r\n\
Final-Recipient: rfc822; full@example.org\r\n\
Action: delayed\r\n\
Status: 4.2.2 (mailbox full)\r\n\
\r\n\
--dsn1\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: editor@news.example.com\r\n\
Message-ID:\r\n\
\x20<v5n2.7.abc@news.example.com>\r\n\
Subject: [Dispatch V5N2] Spring issue\r\n\
--dsn1--\r\n";
        let from_header = format!("From: {from}");
        mail(
            &[
                &from_header,
                "Subject: Undelivered Mail Returned to Sender",
                "Auto-Submitted: auto-replied",
                "MIME-Version: 1.0",
                "Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn1\"",
            ],
            body.as_bytes(),
        )
    }

    #[test]
    fn the_sender_is_verified_only_by_the_own_servers_results() {
        let raw = mail(
            &[
                "Authentication-Results: mx.example.com;",
                "  spf=pass smtp.mailfrom=ann@example.org",
                "From: Ann <ann@example.org>",
                "Subject: unsubscribe",
            ],
            b"x\r\n",
        );
        let own = Context {
            authserv_id: Some("mx.example.com".into()),
            ..parse_context(None)
        };
        assert_eq!(
            parse(&raw, &own).unwrap().sender_verified.as_deref(),
            Some("spf=pass by mx.example.com")
        );
        assert_eq!(parsed(&raw).sender_verified, None, "no authserv-id set");
        let other = Context {
            authserv_id: Some("mx.other.example".into()),
            ..parse_context(None)
        };
        assert_eq!(parse(&raw, &other).unwrap().sender_verified, None);
    }

    pub(crate) fn kind_of_subject(subject: &str, ctx: &Context) -> Kind {
        let raw = mail(
            &["From: a@example.org", &format!("Subject: {subject}")],
            b"x\r\n",
        );
        parse(&raw, ctx).expect("parses").kind
    }

    #[test]
    fn missing_headers_are_none_or_empty() {
        let raw = mail(&["X-Note: nothing else"], b"Body\r\n");
        let m = parsed(&raw);
        assert_eq!(m.message_id, None);
        assert_eq!(m.from_address, None);
        assert_eq!(m.from_name, None);
        assert!(m.to.is_empty() && m.in_reply_to.is_empty() && m.references.is_empty());
        assert_eq!(m.subject, "");
        assert_eq!(m.date, None);
        assert_eq!(m.kind, Kind::Other);
        assert_eq!(m.text, "Body");
    }

    #[test]
    fn rejects_input_without_headers() {
        let ctx = parse_context(None);
        assert_eq!(parse(b"", &ctx), Err(ParseError::Empty));
        assert_eq!(parse(b" \r\n\r\n", &ctx), Err(ParseError::Empty));
        assert_eq!(parse(b"hello world", &ctx), Err(ParseError::NoHeaders));
        assert_eq!(parse(b"\x00\xff\xfe\x01", &ctx), Err(ParseError::NoHeaders));
        assert_eq!(
            parse(b"just text\r\n\r\nmore: text", &ctx),
            Err(ParseError::NoHeaders)
        );
    }

    #[test]
    fn a_truncated_header_still_counts() {
        assert_eq!(parsed(b"Subject: Re: hi").subject, "Re: hi");
    }

    #[test]
    fn a_multipart_without_its_closing_boundary_still_yields_its_text() {
        for (part_type, body, text) in [
            (
                "text/plain; charset=utf-8",
                "Hello there, a single part.\r\nSecond line.\r\n",
                "Hello there, a single part.\nSecond line.",
            ),
            ("text/plain", "No final line break", "No final line break"),
            ("text/html", "<p>Hello <b>HTML</b>.</p>\r\n", "Hello HTML."),
        ] {
            for multipart in ["mixed", "alternative", "related"] {
                let raw = mail(
                    &[
                        "From: a@example.org",
                        "Subject: Re: Spring issue",
                        "MIME-Version: 1.0",
                        &format!("Content-Type: multipart/{multipart}; boundary=\"b1\""),
                    ],
                    format!("--b1\r\nContent-Type: {part_type}\r\n\r\n{body}").as_bytes(),
                );
                assert_eq!(
                    parsed(&raw).text,
                    text,
                    "multipart/{multipart}, {part_type}"
                );
            }
        }
        // An attachment is still not the reader's text.
        let raw = mail(
            &[
                "From: a@example.org",
                "Content-Type: multipart/mixed; boundary=b1",
            ],
            b"--b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached\r\n",
        );
        assert_eq!(parsed(&raw).text, "");
    }

    #[test]
    fn falls_back_to_html_when_the_plain_part_is_empty() {
        let body = "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML answer.</p>\r\n--b1--\r\n";
        let raw = mail(
            &[
                "From: a@example.org",
                "Content-Type: multipart/alternative; boundary=b1",
            ],
            body.as_bytes(),
        );
        assert_eq!(parsed(&raw).text, "HTML answer.");
    }

    fn samples() -> Vec<Vec<u8>> {
        vec![
            reader_reply(),
            mail(
                &[
                    "From: a@example.org",
                    "Content-Type: text/html; charset=iso-8859-1",
                    "Content-Transfer-Encoding: quoted-printable",
                ],
                b"<div>Caf=E9 <a href=3D\"https://example.org\">link</a></div><div class=3D\"gmail_quote\">On x wrote:<blockquote>q</blockquote></div>\r\n",
            ),
            dsn_report("MAILER-DAEMON@mx.example.com"),
            mail(
                &[
                    "From: =?UTF-8?Q?Ann_=C3=A9?= <a@example.org>",
                    "Subject: =?UTF-8?B?UmU6IEdyw7zDn2U=?=",
                    "Content-Type: multipart/alternative; boundary=\"b\"",
                ],
                b"--b\r\nContent-Type: text/plain; format=flowed; delsp=yes\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe =\r\nsoft \r\nline\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGRpdj5oaTwvZGl2Pg==\r\n--b--\r\n",
            ),
        ]
    }

    #[test]
    fn truncated_messages_never_panic() {
        let ctx = parse_context(None);
        for sample in samples() {
            for end in 0..=sample.len() {
                let _ = parse(&sample[..end], &ctx);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let ctx = parse_context(None);
        // A fixed linear congruential generator: reproducible noise without a dependency.
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        };
        let alphabet = b"abc:<>=?\r\n -;\"/@QB_\xc3\xa9\xff0123";
        for round in 0..400 {
            let len = (round * 7) % 300;
            let noise: Vec<u8> = (0..len)
                .map(|_| {
                    let b = next();
                    if round % 2 == 0 {
                        b
                    } else {
                        alphabet[b as usize % alphabet.len()]
                    }
                })
                .collect();
            let _ = parse(&noise, &ctx);
            // Noise after real headers exercises the body decoders too.
            let all = samples();
            let mut with_headers = all[round % all.len()].clone();
            let cut = with_headers.len() * (round % 10) / 10;
            with_headers.truncate(cut);
            with_headers.extend_from_slice(&noise);
            let _ = parse(&with_headers, &ctx);
        }
    }
}
