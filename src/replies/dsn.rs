//! Bounces: whether a message is a delivery failure report, the recipients it names
//! (the message/delivery-status part of a DSN, RFC 3464) and the Message-ID of the message it
//! returns.
//!
//! Add a bounce format here. This file must not depend on the store or the importer (tying a
//! bounce to a delivery is the importer's), nor on the reader's text.

use mail_parser::{Message, MessagePart, MimeHeaders};
use serde::{Deserialize, Serialize};

use super::message::strip_brackets;

/// One recipient of a delivery status notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BouncedRecipient {
    /// Lowercased address from `Final-Recipient` (or `Original-Recipient`).
    pub address: String,
    /// Lowercased address from `Original-Recipient`, when it differs (the address the sender
    /// used, before forwarding).
    pub original: Option<String>,
    /// Enhanced status code, e.g. "5.1.1"; empty when the report has none.
    pub status: String,
    /// A 5.x.x status: the address will not work on a retry.
    pub permanent: bool,
}

/// Root content type as "type/subtype", lowercase.
fn root_type(msg: &Message) -> String {
    msg.root_part()
        .content_type()
        .map(|ct| {
            format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            )
        })
        .unwrap_or_default()
}

fn report_type(msg: &Message) -> Option<String> {
    msg.root_part()
        .content_type()
        .and_then(|ct| ct.attribute("report-type"))
        .map(|r| r.trim().to_ascii_lowercase())
}

/// Recipients of a bounce, or None when the message is not a bounce.
///
/// A bounce is a multipart/report of type delivery-status, or a message from MAILER-DAEMON or
/// postmaster that carries a delivery-status part or has a delivery-failure subject.
pub(super) fn bounce(
    msg: &Message,
    subject: &str,
    from: Option<&str>,
) -> Option<Vec<BouncedRecipient>> {
    let dsn_parts: Vec<&MessagePart> = msg.parts.iter().filter(|p| is_dsn_part(p)).collect();
    let is_report = root_type(msg) == "multipart/report"
        && report_type(msg).is_some_and(|r| r == "delivery-status");
    let from_daemon = from.is_some_and(is_daemon_address);
    let bounced = is_report
        || (from_daemon && (!dsn_parts.is_empty() || looks_like_failure_subject(subject)));
    if !bounced {
        return None;
    }
    let recipients = dsn_parts
        .iter()
        .flat_map(|p| parse_dsn(&String::from_utf8_lossy(p.contents())))
        .collect();
    Some(recipients)
}

/// The Message-ID of the returned message: a DSN carries its header (text/rfc822-headers,
/// message/global-headers) or the whole message (message/rfc822, message/global).
pub(super) fn returned_message_id(msg: &Message) -> Option<String> {
    msg.parts
        .iter()
        .filter(|p| {
            p.content_type().is_some_and(|ct| {
                let subtype = ct.subtype().unwrap_or("").to_ascii_lowercase();
                matches!(
                    (ct.ctype().to_ascii_lowercase().as_str(), subtype.as_str()),
                    ("text", "rfc822-headers")
                        | (
                            "message",
                            "rfc822-headers" | "global-headers" | "rfc822" | "global"
                        )
                )
            })
        })
        .find_map(|p| {
            let contents = p.contents();
            // The header block is at the start; a whole returned message may be large.
            let head = &contents[..contents.len().min(64 * 1024)];
            header_block_message_id(&String::from_utf8_lossy(head))
        })
}

/// The Message-ID field of a header block (up to the first blank line), without brackets.
fn header_block_message_id(block: &str) -> Option<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in block.lines() {
        if line.trim().is_empty() {
            break;
        }
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => fields.push(line.to_string()),
        }
    }
    fields.iter().find_map(|f| {
        let (name, value) = f.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("message-id")
            .then(|| strip_brackets(value))
            .filter(|id| !id.is_empty())
    })
}

fn is_dsn_part(part: &MessagePart) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("delivery-status")
                    || s.eq_ignore_ascii_case("global-delivery-status")
            })
    })
}

/// MAILER-DAEMON@… or postmaster@…, the senders of delivery reports.
fn is_daemon_address(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or("");
    local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
}

/// Subjects of delivery failure reports from servers that send no DSN part.
fn looks_like_failure_subject(subject: &str) -> bool {
    let s = subject.to_lowercase();
    [
        "undeliver",
        "delivery status notification",
        "delivery failure",
        "mail delivery failed",
        "failure notice",
        "returned mail",
        "delivery has failed",
        "unzustellbar",
        "non remis",
        "non distribuable",
    ]
    .iter()
    .any(|p| s.contains(p))
}

/// Per-recipient fields of a message/delivery-status body (RFC 3464): groups of fields
/// separated by blank lines; the first group is about the message, the others about one
/// recipient each. Recipients that were delivered, relayed or expanded are not failures.
fn parse_dsn(body: &str) -> Vec<BouncedRecipient> {
    let body = body.replace("\r\n", "\n");
    let mut out = Vec::new();
    for group in body.split("\n\n") {
        let fields = dsn_fields(group);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let original = get("Original-Recipient")
            .map(dsn_address)
            .filter(|a| !a.is_empty());
        let Some(address) = get("Final-Recipient")
            .map(dsn_address)
            .filter(|a| !a.is_empty())
            .or_else(|| original.clone())
        else {
            continue;
        };
        let original = original.filter(|o| *o != address);
        let action = get("Action").unwrap_or("").to_ascii_lowercase();
        if ["delivered", "relayed", "expanded"].contains(&action.as_str()) {
            continue;
        }
        let status = get("Status")
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("")
            .to_string();
        let permanent = if status.is_empty() {
            action == "failed"
        } else {
            status.starts_with('5')
        };
        out.push(BouncedRecipient {
            address,
            original,
            status,
            permanent,
        });
    }
    out
}

/// "Name: value" fields of one DSN group, continuation lines unfolded.
fn dsn_fields(group: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in group.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

/// "rfc822; Someone@Example.com" → "someone@example.com".
fn dsn_address(value: &str) -> String {
    let addr = value.split_once(';').map_or(value, |(_, a)| a);
    strip_brackets(addr).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::classify::Kind;
    use crate::replies::message::tests::{dsn_report, mail, parsed};

    #[test]
    fn classifies_delivery_status_reports_as_bounces() {
        let m = parsed(&dsn_report(
            "MAILER-DAEMON@mx.example.com (Mail Delivery System)",
        ));
        assert_eq!(
            m.kind,
            Kind::Bounce {
                recipients: vec![
                    BouncedRecipient {
                        address: "gone@example.net".into(),
                        original: None,
                        status: "5.1.1".into(),
                        permanent: true,
                    },
                    BouncedRecipient {
                        address: "full@example.org".into(),
                        original: None,
                        status: "4.2.2".into(),
                        permanent: false,
                    },
                ],
                returned_message_id: Some("v5n2.7.abc@news.example.com".into()),
            }
        );
        assert!(m.text.starts_with("This is the mail system"));
    }

    #[test]
    fn classifies_daemon_mail_with_a_dsn_part_as_bounce() {
        let body = "--m\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--m\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822;<nobody@example.net>\r\nAction: failed\r\nStatus: 5.2.1\r\n\r\n--m--\r\n";
        let raw = mail(
            &[
                "From: postmaster@example.net",
                "Subject: Notification",
                "Content-Type: multipart/mixed; boundary=m",
            ],
            body.as_bytes(),
        );
        let Kind::Bounce { recipients, .. } = parsed(&raw).kind else {
            panic!("not a bounce");
        };
        assert_eq!(recipients.len(), 1);
        assert_eq!(recipients[0].address, "nobody@example.net");
        assert!(recipients[0].permanent);
    }

    #[test]
    fn classifies_daemon_failure_without_dsn_as_bounce_without_recipients() {
        let raw = mail(
            &["From: MAILER-DAEMON@example.net", "Subject: failure notice"],
            b"Sorry, I wasn't able to deliver your message.\r\n",
        );
        assert_eq!(
            parsed(&raw).kind,
            Kind::Bounce {
                recipients: vec![],
                returned_message_id: None
            }
        );
    }

    #[test]
    fn a_bounce_returning_the_whole_message_names_its_message_id_and_original_recipient() {
        let body = "--m\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; ann@forward.example\r\nOriginal-Recipient: rfc822; Ann@Example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: editor@news.example.com\r\nMessage-ID: <v1n2.3.xyz@news.example.com>\r\nSubject: V1N2\r\n\r\nThe issue.\r\n--m--\r\n";
        let raw = mail(
            &[
                "From: MAILER-DAEMON@mx.example.net",
                "Content-Type: multipart/report; report-type=delivery-status; boundary=m",
            ],
            body.as_bytes(),
        );
        assert_eq!(
            parsed(&raw).kind,
            Kind::Bounce {
                recipients: vec![BouncedRecipient {
                    address: "ann@forward.example".into(),
                    original: Some("ann@example.org".into()),
                    status: "5.1.1".into(),
                    permanent: true,
                }],
                returned_message_id: Some("v1n2.3.xyz@news.example.com".into()),
            }
        );
    }

    #[test]
    fn postmaster_writing_normally_is_no_bounce() {
        let raw = mail(
            &["From: postmaster@example.net", "Subject: Re: your issue"],
            b"Thanks, we whitelisted you.\r\n",
        );
        assert_eq!(parsed(&raw).kind, Kind::Reply);
    }
}
