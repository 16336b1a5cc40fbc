//! Classification: what kind of mail an incoming message is (bounce, auto-reply, unsubscribe
//! request, reply, other), decided from its decoded header fields and parts, and the issue a
//! subject names ("V5N2").
//!
//! The rules for each kind live beside this file: [`super::dsn`] (bounces), `auto_reply`,
//! `unsubscribe_request`. This file holds their order and the reply subject prefixes. It must
//! not depend on the store, the sources or the importer, nor on the reader's text
//! (extraction): it only reads header fields and MIME parts.

use mail_parser::Message;
use serde::{Deserialize, Serialize};

use super::auto_reply::is_auto_reply;
use super::dsn::{BouncedRecipient, bounce, returned_message_id};
use super::message::Context;
use super::unsubscribe_request::unsubscribe_token;

/// What kind of mail this is, decided in this order: bounce, auto-reply, unsubscribe request,
/// reply, other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// A reader's reply to an issue.
    Reply,
    /// Out-of-office and other automatic answers.
    AutoReply,
    /// A delivery failure report.
    Bounce {
        recipients: Vec<BouncedRecipient>,
        /// The Message-ID of the message it returns (from its text/rfc822-headers or
        /// message/rfc822 part), without angle brackets.
        returned_message_id: Option<String>,
    },
    /// A request sent through the List-Unsubscribe mailto link.
    Unsubscribe {
        token: Option<String>,
    },
    Other,
}

/// The kind of `msg`: the first rule that matches, in the order of [`Kind`].
pub(super) fn classify(msg: &Message, subject: &str, from: Option<&str>, ctx: &Context) -> Kind {
    if let Some(recipients) = bounce(msg, subject, from) {
        return Kind::Bounce {
            recipients,
            returned_message_id: returned_message_id(msg),
        };
    }
    if is_auto_reply(msg, subject) {
        return Kind::AutoReply;
    }
    if let Some(token) = unsubscribe_token(subject, &ctx.unsubscribe_prefix) {
        return Kind::Unsubscribe { token };
    }
    let threaded = !msg.in_reply_to().is_empty() || !msg.references().is_empty();
    if threaded || reply_prefix(subject).is_some() {
        return Kind::Reply;
    }
    Kind::Other
}

/// Reply prefixes: "Re:", "AW:", "SV:", "Antw:", "R:", "Réf:", "RIF:", "VS:", "Odp:", also with
/// a counter ("Re[2]:") or a space before the colon ("Re :").
pub(super) const REPLY_PREFIXES: &[&str] = &[
    "re", "aw", "sv", "antw", "antwort", "r", "réf", "ref", "rif", "vs", "odp", "ynt", "atb",
    "res", "回复", "答复", "回覆",
];

/// The subject after a reply prefix, if it starts with one.
fn reply_prefix(subject: &str) -> Option<&str> {
    strip_prefix_word(subject, REPLY_PREFIXES)
}

/// `subject` without a leading "WORD:" (or "WORD[n]:", "WORD (n):", "WORD :") where WORD is one
/// of `words`, compared case-insensitively.
pub(super) fn strip_prefix_word<'a>(subject: &'a str, words: &[&str]) -> Option<&'a str> {
    let s = subject.trim_start();
    let colon = s.find([':', '：'])?;
    let head = s[..colon].trim();
    let word_part = head.split(['[', '(']).next().unwrap_or("");
    let counter_ok = head[word_part.len()..]
        .chars()
        .all(|c| c.is_ascii_digit() || "[]() ".contains(c));
    // "Réf." is written with a period.
    let word = word_part.trim().trim_end_matches('.').to_lowercase();
    let sep_len = s[colon..].chars().next().map_or(1, char::len_utf8);
    (words.contains(&word.as_str()) && counter_ok).then(|| &s[colon + sep_len..])
}

/// The issue named in a subject as "V5N2" (volume 5, number 2): case-insensitive, as a word of
/// its own ("[V5N2]" and "V5N2:" count, "XV5N2" does not).
pub fn subject_issue(subject: &str) -> Option<(u32, u32)> {
    let chars: Vec<char> = subject.chars().collect();
    (0..chars.len()).find_map(|i| issue_at(&chars, i))
}

fn issue_at(chars: &[char], i: usize) -> Option<(u32, u32)> {
    let boundary_before = i == 0 || !chars[i - 1].is_alphanumeric();
    if !boundary_before || !chars[i].eq_ignore_ascii_case(&'v') {
        return None;
    }
    let (volume, after_volume) = digits_at(chars, i + 1)?;
    if !chars.get(after_volume)?.eq_ignore_ascii_case(&'n') {
        return None;
    }
    let (number, end) = digits_at(chars, after_volume + 1)?;
    let boundary_after = chars.get(end).is_none_or(|c| !c.is_alphanumeric());
    boundary_after.then_some((volume, number))
}

/// The number made of the ASCII digits from `start`, and the index after them.
fn digits_at(chars: &[char], start: usize) -> Option<(u32, usize)> {
    let len = chars
        .iter()
        .skip(start)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if len == 0 {
        return None;
    }
    let text: String = chars[start..start + len].iter().collect();
    text.parse().ok().map(|n| (n, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::import::parse_context;
    use crate::replies::message::tests::{dsn_report, kind_of_subject, mail, parsed};

    #[test]
    fn finds_issue_in_subject() {
        assert_eq!(subject_issue("Re: [Dispatch V5N2] Spring"), Some((5, 2)));
        assert_eq!(subject_issue("re: v12n34: tides"), Some((12, 34)));
        assert_eq!(subject_issue("V1N1"), Some((1, 1)));
        assert_eq!(subject_issue("Issue (V3N10)"), Some((3, 10)));
        assert_eq!(subject_issue("XV5N2 is not one"), None);
        assert_eq!(subject_issue("V5N2b is not one"), None);
        assert_eq!(subject_issue("V5 N2"), None);
        assert_eq!(subject_issue("VN2"), None);
        assert_eq!(subject_issue("V99999999999N1"), None);
        assert_eq!(subject_issue("about V5N2x and V6N3"), Some((6, 3)));
        assert_eq!(subject_issue("Ünïcode V7N8"), Some((7, 8)));
    }

    #[test]
    fn classifies_replies_by_subject_prefix() {
        let ctx = parse_context(None);
        for subject in [
            "Re: Spring issue",
            "RE: Spring issue",
            "AW: Frühlingsausgabe",
            "SV: Vårnummer",
            "Antw: Lentenummer",
            "R: Numero di primavera",
            "Réf. : Numéro",
            "RIF: Numero",
            "Re[2]: Spring issue",
            "Re : Numéro de printemps",
            "VS: Kevätnumero",
        ] {
            assert_eq!(kind_of_subject(subject, &ctx), Kind::Reply, "{subject}");
        }
        for subject in [
            "Spring issue",
            "Regarding the spring issue",
            "Re-run: tests",
        ] {
            assert_eq!(kind_of_subject(subject, &ctx), Kind::Other, "{subject}");
        }
    }

    #[test]
    fn classification_order_is_bounce_auto_unsubscribe_reply() {
        // The DSN also carries Auto-Submitted: the bounce wins.
        assert!(matches!(
            parsed(&dsn_report("MAILER-DAEMON@mx.example.com")).kind,
            Kind::Bounce { .. }
        ));
        // An autoresponder answering the unsubscribe mail is an auto-reply.
        let raw = mail(
            &[
                "From: a@example.org",
                "Subject: Re: unsubscribe tok",
                "Auto-Submitted: auto-replied",
            ],
            b"x\r\n",
        );
        assert_eq!(parsed(&raw).kind, Kind::AutoReply);
        // A threaded unsubscribe request is still an unsubscribe request.
        let raw = mail(
            &[
                "From: a@example.org",
                "Subject: Re: unsubscribe tok",
                "In-Reply-To: <x@y>",
            ],
            b"x\r\n",
        );
        assert_eq!(
            parsed(&raw).kind,
            Kind::Unsubscribe {
                token: Some("tok".into())
            }
        );
    }
}
