//! The issue as mailed: rendered once, personalised per recipient.

use anyhow::Context as _;
use lettre::Address;

use crate::build;
use crate::issue::{Issue, IssueId, Issues};
use crate::newsletter::Newsletter;
use crate::outgoing::headers;
use crate::outgoing::unsubscribe::Unsubscribe;
use crate::outgoing::{compose, token};
use crate::render::Templates;
use crate::store::Store;
use crate::store::sends::Pending;

/// Stands for the token in the unsubscribe link of a `--test` copy: nobody is unsubscribed by
/// clicking it.
pub const TEST_TOKEN: &str = "TEST";

pub struct Message {
    pub issue: IssueId,
    pub title: String,
    shared: compose::Prepared,
    from: Address,
    unsubscribe: Unsubscribe,
    secret: Vec<u8>,
    domain: String,
}

impl Message {
    /// Renders `issue` exactly as `build` does (with the approved replies it publishes).
    pub fn prepare(
        newsletter: &Newsletter,
        issues: &Issues,
        store: &Store,
        issue: &Issue,
    ) -> anyhow::Result<Message> {
        let templates = Templates::load(&newsletter.templates_dir())?;
        let rendered = build::render_one(newsletter, &templates, issues, Some(store), issue)?;
        let shared = headers::shared_message(newsletter, issue, &rendered).prepare();
        let config = &newsletter.config;
        let from = crate::address::Mailbox::parse(&config.newsletter.from)?.email;
        let from = crate::address::ascii_domain(&from)?
            .parse::<Address>()
            .context("newsletter.from cannot be used as an SMTP sender")?;
        Ok(Message {
            issue: issue.id,
            title: issue.title.clone(),
            shared,
            from,
            unsubscribe: Unsubscribe::of(config),
            secret: store.secret()?,
            domain: headers::sender_domain(newsletter),
        })
    }

    /// The envelope sender.
    pub fn from(&self) -> &Address {
        &self.from
    }

    /// The Message-ID (without angle brackets) of the issue to one subscriber: the same on
    /// every retry, unique per issue and subscriber.
    pub fn message_id(&self, subscriber_id: i64) -> String {
        let slug = self.issue.slug();
        let tag = token::message_tag(&self.secret, &slug, subscriber_id);
        format!("{slug}.{subscriber_id}.{tag}@{}", self.domain)
    }

    /// The complete message for one delivery.
    pub fn for_delivery(&self, delivery: &Pending) -> Vec<u8> {
        let token = token::unsubscribe_token(&self.secret, delivery.subscriber_id);
        let email = crate::address::ascii_domain(&delivery.email);
        let email = email.as_deref().unwrap_or(&delivery.email);
        let to = headers::header_mailbox(delivery.name.as_deref(), email);
        self.personal(&to, &delivery.message_id, &token)
    }

    /// A `--test` copy: its own Message-ID, and an unsubscribe link that unsubscribes nobody.
    pub fn for_test(&self, to: &str) -> Vec<u8> {
        let nonce: u64 = rand::random();
        let message_id = format!("{}.test.{nonce:016x}@{}", self.issue.slug(), self.domain);
        self.personal(to, &message_id, TEST_TOKEN)
    }

    fn personal(&self, to: &str, message_id: &str, token: &str) -> Vec<u8> {
        let links = self.unsubscribe.links(Some(token));
        let date = chrono::Utc::now().to_rfc2822();
        self.shared.message(&compose::Personal {
            to,
            message_id,
            date: &date,
            unsubscribe: &links,
        })
    }
}
