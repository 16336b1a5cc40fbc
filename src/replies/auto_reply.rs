//! Auto-replies: out-of-office and other automatic answers, told by the header fields of
//! RFC 3834 and common autoresponders, then by the subjects they use.
//!
//! It must not depend on the store, the importer or the reader's text; it reads header fields
//! and the subject only.

use mail_parser::Message;

use super::message::header;

/// RFC 3834 and the headers that common autoresponders add, then the subjects they use.
pub(super) fn is_auto_reply(msg: &Message, subject: &str) -> bool {
    let auto_submitted = header(msg, "Auto-Submitted").is_some_and(|v| {
        let kind = v
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        !kind.is_empty() && kind != "no"
    });
    let autoreply_header = ["X-Autoreply", "X-Autorespond", "X-Autoresponder"]
        .iter()
        .any(|name| header(msg, name).is_some_and(|v| !v.eq_ignore_ascii_case("no")));
    let precedence = header(msg, "Precedence").is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "auto_reply" | "bulk" | "junk" | "list"
        )
    });
    if auto_submitted || autoreply_header || precedence || is_auto_reply_subject(subject) {
        return true;
    }
    suppress_says_automatic(msg)
}

/// Outlook sets X-Auto-Response-Suppress on ordinary mail too, so "OOF"/"All" there only counts
/// together with a second sign of an automatic message: a null return path, or Exchange's
/// inbox-rule loop marker.
fn suppress_says_automatic(msg: &Message) -> bool {
    let suppress = header(msg, "X-Auto-Response-Suppress").is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("oof") || v.contains("all")
    });
    let null_sender = header(msg, "Return-Path").is_some_and(|v| v.trim() == "<>");
    let rules_loop = header(msg, "X-MS-Exchange-Inbox-Rules-Loop").is_some();
    suppress && (null_sender || rules_loop)
}

/// Subject openings of autoresponders, in the languages of common mail clients.
const AUTO_SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "automated response",
    "abwesenheitsnotiz",
    "automatische antwort",
    "réponse automatique",
    "respuesta automática",
    "respuesta automatica",
    "risposta automatica",
    "resposta automática",
    "automatisch antwoord",
    "autosvar",
    "automatiskt svar",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "автоматический ответ",
    "自動応答",
    "自动回复",
];

/// Short words that are autoresponder subjects only when alone or followed by a colon
/// ("Absence: …", "Auto: …"): as the start of a sentence they are ordinary subjects.
const AUTO_SUBJECT_WORDS: &[&str] = &[
    "auto",
    "absence",
    "absent",
    "fuori sede",
    "afwezig",
    "abwesend",
    "ooo",
    "vacation",
    "frånvaro",
    "fravær",
    "poissa",
];

fn is_auto_reply_subject(subject: &str) -> bool {
    let s = subject
        .trim()
        .trim_start_matches(['[', '('])
        .trim()
        .to_lowercase();
    if AUTO_SUBJECTS.iter().any(|p| s.starts_with(p)) {
        return true;
    }
    AUTO_SUBJECT_WORDS.iter().any(|w| {
        s.strip_prefix(w).is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.is_empty() || rest.starts_with([':', '：', ']', ')'])
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::replies::classify::Kind;
    use crate::replies::message::tests::{mail, parsed};

    #[test]
    fn classifies_auto_replies_by_header() {
        let cases: &[(&str, bool)] = &[
            ("Auto-Submitted: auto-replied", true),
            (
                "Auto-Submitted: auto-generated; owner-email=\"x@example.org\"",
                true,
            ),
            ("Auto-Submitted: no", false),
            ("X-Autoreply: yes", true),
            ("X-Autorespond: vacation", true),
            ("Precedence: bulk", true),
            ("Precedence: auto_reply", true),
            ("Precedence: junk", true),
            ("Precedence: list", true),
            ("Precedence: first-class", false),
            // Outlook puts this on ordinary mail: not enough alone.
            ("X-Auto-Response-Suppress: All", false),
            (
                "X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply",
                false,
            ),
        ];
        for (header, auto) in cases {
            let raw = mail(
                &[
                    "From: a@example.org",
                    "Subject: Re: Spring issue",
                    "In-Reply-To: <x@y>",
                    header,
                ],
                b"Text\r\n",
            );
            let kind = parsed(&raw).kind;
            assert_eq!(kind == Kind::AutoReply, *auto, "{header}: {kind:?}");
        }
    }

    #[test]
    fn suppress_header_counts_with_a_null_sender() {
        let raw = mail(
            &[
                "Return-Path: <>",
                "From: a@example.org",
                "Subject: Re: Spring issue",
                "X-Auto-Response-Suppress: All",
            ],
            b"Text\r\n",
        );
        assert_eq!(parsed(&raw).kind, Kind::AutoReply);
    }

    #[test]
    fn classifies_auto_replies_by_subject() {
        let auto = [
            "Out of Office: Spring issue",
            "Automatic reply: [Dispatch V5N2] Spring issue",
            "Auto: Spring issue",
            "AutoReply: Spring issue",
            "Abwesenheitsnotiz: Spring issue",
            "Réponse automatique : Spring issue",
            "Absence",
            "Absence: du 1er au 15 janvier",
            "Respuesta automática: Spring issue",
            "Fuori sede: Spring issue",
            "Afwezig: Spring issue",
            "Automatisch antwoord: Spring issue",
            "[Out of office] back on Monday",
        ];
        for subject in auto {
            let raw = mail(
                &["From: a@example.org", &format!("Subject: {subject}")],
                b"x\r\n",
            );
            assert_eq!(parsed(&raw).kind, Kind::AutoReply, "{subject}");
        }
        let not_auto = [
            "Re: Out of office etiquette",
            "Absence of evidence",
            "Automation tips",
        ];
        for subject in not_auto {
            let raw = mail(
                &["From: a@example.org", &format!("Subject: {subject}")],
                b"x\r\n",
            );
            assert_ne!(parsed(&raw).kind, Kind::AutoReply, "{subject}");
        }
    }
}
