//! The headers of an issue's message: From, To, List-Id and Message-ID domain, the parts every
//! recipient shares, and the preview `.eml` that `build` writes.

use crate::issue::Issue;
use crate::newsletter::Newsletter;
use crate::outgoing::compose;
use crate::outgoing::unsubscribe::{Links, Unsubscribe};
use crate::render::RenderedIssue;

/// The placeholder recipient of the `.eml` that `build` writes.
pub const PREVIEW_RECIPIENT: &str = "Subscriber <subscriber@example.com>";

/// The unsubscribe links of a preview, which unsubscribe nobody.
pub fn preview_unsubscribe(newsletter: &Newsletter) -> Links {
    Unsubscribe::of(&newsletter.config).links(None)
}

/// The `.eml` a subscriber would receive, addressed to a placeholder and dated on the issue's
/// date so that building twice gives the same bytes.
pub fn preview_message(newsletter: &Newsletter, issue: &Issue, r: &RenderedIssue) -> Preview {
    let prepared = shared_message(newsletter, issue, r).prepare();
    let domain = sender_domain(newsletter);
    let message_id = format!("{}.preview@{domain}", issue.id.slug());
    let date = issue
        .date
        .and_hms_opt(9, 0, 0)
        .map(|d| d.and_utc().to_rfc2822())
        .unwrap_or_default();
    Preview {
        eml: prepared.message(&compose::Personal {
            to: PREVIEW_RECIPIENT,
            message_id: &message_id,
            date: &date,
            unsubscribe: &preview_unsubscribe(newsletter),
        }),
        html_part_len: prepared.html_part_len(),
    }
}

/// The preview `.eml` of an issue, and the size of its HTML part as sent (measured on the
/// encoding the message already made).
pub struct Preview {
    pub eml: Vec<u8>,
    pub html_part_len: usize,
}

/// The domain of the From address, for Message-IDs and List-Id.
pub fn sender_domain(newsletter: &Newsletter) -> String {
    crate::address::Mailbox::parse(&newsletter.config.newsletter.from)
        .ok()
        .and_then(|m| m.email.rsplit_once('@').map(|(_, d)| d.to_string()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The parts of an issue's message every recipient shares.
pub fn shared_message(
    newsletter: &Newsletter,
    issue: &Issue,
    r: &RenderedIssue,
) -> compose::Shared {
    compose::Shared {
        from: from_header(newsletter),
        reply_to: newsletter.config.reply_to(),
        subject: r.subject.clone(),
        list_id: list_id(newsletter),
        text: r.email_text.clone(),
        html: r.email_html.clone(),
        boundary: format!("=_dispatch_{}", issue.id.slug()),
    }
}

/// The From header of every message of the newsletter.
pub fn from_header(newsletter: &Newsletter) -> String {
    let from = &newsletter.config.newsletter.from;
    crate::address::Mailbox::parse(from)
        .map(|m| header_mailbox(m.name.as_deref(), &m.email))
        .unwrap_or_else(|_| from.clone())
}

/// The List-Id of the newsletter: its title and `slug.domain-of-from`.
pub fn list_id(newsletter: &Newsletter) -> String {
    let title = &newsletter.config.newsletter.title;
    let list_slug: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!(
        "{} <{}.{}>",
        quote_name(title),
        if list_slug.is_empty() {
            "newsletter"
        } else {
            &list_slug
        },
        sender_domain(newsletter)
    )
}

/// `Name <address>` for a From or To header, the name encoded when it is not plain ASCII.
pub fn header_mailbox(name: Option<&str>, email: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{} <{email}>", quote_name(name)),
        None => email.to_string(),
    }
}

/// A display name for a header: RFC 2047 encoded words when it is not plain ASCII (they carry
/// quotes as they are), else an RFC 5322 phrase, quoted and escaped when needed. Control
/// characters (refused in new names, possible in old ones) are left out.
fn quote_name(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    if name.is_ascii() {
        crate::address::phrase(&name)
    } else {
        compose::encode_word(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The display name a mail reader shows for a From header we wrote.
    fn shown_name(header: &str) -> String {
        let raw = format!("From: {header}\r\nSubject: x\r\n\r\nbody\r\n");
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        let from = message.from().unwrap().first().unwrap();
        from.name().unwrap().to_string()
    }

    #[test]
    fn quotes_in_display_names_survive_a_mail_reader() {
        for name in [
            r#"Ann "Annie" Lee"#,
            r#"Back\slash "Q""#,
            "Lee, Ann",
            "Zoë \"Zo\" Ünal",
            "Plain Name",
            "Tab\tand\u{1b} escape",
        ] {
            let header = header_mailbox(Some(name), "ann@example.org");
            assert!(header.ends_with(" <ann@example.org>"), "{header}");
            let expected: String = name.chars().filter(|c| !c.is_control()).collect();
            assert_eq!(shown_name(&header), expected, "{header}");
        }
        assert_eq!(
            header_mailbox(Some(r#"Ann "Annie" Lee"#), "a@example.org"),
            r#""Ann \"Annie\" Lee" <a@example.org>"#
        );
    }
}
