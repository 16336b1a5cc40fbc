//! The host's own templates: its pages (`notice.html`: answers, the confirmation button, the
//! 404 page, in the archive's style) and the mails it sends (`confirm.*`, `welcome.*`), each
//! the folder's `templates/` file or the embedded default. Mails go out as the issues do: the
//! newsletter's From, Reply-To, List-Id and unsubscribe links, through `outgoing::compose`.

use std::path::Path;

use anyhow::Context as _;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::Serialize;

use crate::newsletter::Newsletter;
use crate::outgoing::compose::{self, UNSUBSCRIBE_MARK};
use crate::outgoing::unsubscribe::Unsubscribe;
use crate::outgoing::{headers, token};
use crate::render::view::NewsletterView;
use crate::store::mail_queue::{MailKind, QueuedMail};

const TEMPLATES: [&str; 5] = [
    "notice.html",
    "confirm.html",
    "confirm.txt",
    "welcome.html",
    "welcome.txt",
];

/// What the host renders and mails, made once at start.
pub struct Mails {
    tera: tera::Tera,
    config: crate::config::Config,
    host_url: String,
    pending_days: u32,
    from_header: String,
    reply_to: String,
    list_id: String,
    domain: String,
    unsubscribe: Unsubscribe,
    secret: Vec<u8>,
}

#[derive(Serialize)]
struct NoticeView<'a> {
    newsletter: &'a NewsletterView<'a>,
    host_url: &'a str,
    title: &'a str,
    text: &'a str,
    /// Our own markup (a button's form), never a reader's text.
    form: &'a str,
}

#[derive(Serialize)]
struct ConfirmView<'a> {
    newsletter: &'a NewsletterView<'a>,
    email: &'a str,
    name: Option<&'a str>,
    confirm_url: &'a str,
    pending_days: u32,
    unsubscribe_url: &'a str,
}

#[derive(Serialize)]
struct WelcomeView<'a> {
    newsletter: &'a NewsletterView<'a>,
    email: &'a str,
    name: Option<&'a str>,
    latest: Option<LatestView>,
    unsubscribe_url: &'a str,
}

#[derive(Serialize)]
struct LatestView {
    name: String,
    title: String,
    url: String,
}

/// A mail ready for SMTP.
pub struct Outgoing {
    pub to: String,
    pub bytes: Vec<u8>,
}

impl Mails {
    /// Loads the templates of `newsletter` (a template error names its file) under the
    /// database's `secret`.
    pub fn load(newsletter: &Newsletter, secret: Vec<u8>) -> anyhow::Result<Mails> {
        let dir = newsletter.templates_dir();
        let mut tera = crate::render::new_tera();
        for name in TEMPLATES {
            let source = crate::render::template_source(&dir, name)?;
            tera.add_raw_template(name, &source).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {}",
                    dir.join(name).display(),
                    crate::render::tera_message(&e)
                )
            })?;
        }
        let config = newsletter.config.clone();
        let host = config.host.clone().unwrap_or_else(default_host);
        Ok(Mails {
            tera,
            host_url: config.host_url().unwrap_or_else(|| config.base_url()),
            pending_days: host.pending_days,
            from_header: headers::from_header(newsletter),
            reply_to: config.reply_to(),
            list_id: headers::list_id(newsletter),
            domain: headers::sender_domain(newsletter),
            unsubscribe: Unsubscribe::of(&config),
            config,
            secret,
        })
    }

    /// A page in the archive's style: `title` and `text` escaped, `form` our own markup.
    pub fn page(&self, status: StatusCode, title: &str, text: &str, form: &str) -> Response {
        let newsletter = NewsletterView::new(&self.config);
        let view = NoticeView {
            newsletter: &newsletter,
            host_url: &self.host_url,
            title,
            text,
            form,
        };
        let body = match render(&self.tera, "notice.html", &view) {
            Ok(body) => body,
            // Checked at start (see `check`): only a template depending on odd input fails here.
            Err(e) => {
                tracing::error!("notice.html: {e:#}");
                return (status, format!("{title}\n\n{text}\n")).into_response();
            }
        };
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }

    /// Renders every template once with sample values, so a template error stops the host at
    /// start rather than a reader's signup.
    pub fn check(&self) -> anyhow::Result<()> {
        let newsletter = NewsletterView::new(&self.config);
        render(
            &self.tera,
            "notice.html",
            &NoticeView {
                newsletter: &newsletter,
                host_url: &self.host_url,
                title: "t",
                text: "t",
                form: "",
            },
        )?;
        self.bodies(MailKind::Confirm, "reader@example.org", Some("R"), 1, None)?;
        self.bodies(
            MailKind::Welcome,
            "reader@example.org",
            Some("R"),
            1,
            Some(LatestView {
                name: "V1N1".into(),
                title: "t".into(),
                url: "https://example.org/v1n1/".into(),
            }),
        )?;
        Ok(())
    }

    /// The confirmation link of a subscriber.
    pub fn confirm_url(&self, subscriber_id: i64) -> String {
        format!(
            "{}confirm/{}",
            self.host_url,
            token::confirm_token(&self.secret, subscriber_id)
        )
    }

    /// The text and HTML bodies and the subject of a mail.
    fn bodies(
        &self,
        kind: MailKind,
        email: &str,
        name: Option<&str>,
        subscriber_id: i64,
        latest: Option<LatestView>,
    ) -> anyhow::Result<(String, String, String)> {
        let newsletter = NewsletterView::new(&self.config);
        let title = &self.config.newsletter.title;
        Ok(match kind {
            MailKind::Confirm => {
                let confirm_url = self.confirm_url(subscriber_id);
                let view = ConfirmView {
                    newsletter: &newsletter,
                    email,
                    name,
                    confirm_url: &confirm_url,
                    pending_days: self.pending_days,
                    unsubscribe_url: UNSUBSCRIBE_MARK,
                };
                (
                    format!("Confirm your subscription to {title}"),
                    render(&self.tera, "confirm.txt", &view)?,
                    render(&self.tera, "confirm.html", &view)?,
                )
            }
            MailKind::Welcome => {
                let view = WelcomeView {
                    newsletter: &newsletter,
                    email,
                    name,
                    latest,
                    unsubscribe_url: UNSUBSCRIBE_MARK,
                };
                (
                    format!("Welcome to {title}"),
                    render(&self.tera, "welcome.txt", &view)?,
                    render(&self.tera, "welcome.html", &view)?,
                )
            }
        })
    }

    /// The complete message of a queued mail; `issues_dir` gives the welcome its latest issue.
    pub fn message(&self, mail: &QueuedMail, issues_dir: &Path) -> anyhow::Result<Outgoing> {
        let s = &mail.subscriber;
        let latest = match mail.kind {
            MailKind::Welcome => latest_issue(&self.config, issues_dir),
            MailKind::Confirm => None,
        };
        let (subject, text, html) =
            self.bodies(mail.kind, &s.email, s.name.as_deref(), s.id, latest)?;
        let shared = compose::Shared {
            from: self.from_header.clone(),
            reply_to: self.reply_to.clone(),
            subject,
            list_id: self.list_id.clone(),
            text,
            html,
            boundary: format!("=_dispatch_{}", mail.kind.as_str()),
        };
        let email = crate::address::ascii_domain(&s.email)?;
        // A confirmation goes to an address nobody has vouched for yet: it does not carry the
        // name a stranger typed into the form beside it.
        let name = match mail.kind {
            MailKind::Confirm => None,
            MailKind::Welcome => s.name.as_deref(),
        };
        let to = headers::header_mailbox(name, &email);
        let tag = token::message_tag(&self.secret, mail.kind.as_str(), mail.id);
        let message_id = format!("{}.{}.{tag}@{}", mail.kind.as_str(), mail.id, self.domain);
        let unsubscribe_token = token::unsubscribe_token(&self.secret, s.id);
        let bytes = shared.message(&compose::Personal {
            to: &to,
            message_id: &message_id,
            date: &chrono::Utc::now().to_rfc2822(),
            unsubscribe: &self.unsubscribe.links(Some(&unsubscribe_token)),
        });
        Ok(Outgoing {
            to: s.email.clone(),
            bytes,
        })
    }
}

/// `host:` as an empty section says.
fn default_host() -> crate::config::Host {
    serde_saphyr::from_str("{}").expect("every key of host: has a default")
}

fn render<T: Serialize>(tera: &tera::Tera, name: &str, view: &T) -> anyhow::Result<String> {
    let context = tera::Context::from_serialize(view)
        .map_err(|e| anyhow::anyhow!("template {name}: {}", crate::render::tera_message(&e)))?;
    tera.render(name, &context)
        .map_err(|e| anyhow::anyhow!("template {name}: {}", crate::render::tera_message(&e)))
}

/// The newest issue and its page on the web; `None` when the issues cannot be read (the
/// welcome goes out without the link rather than not at all).
fn latest_issue(config: &crate::config::Config, issues_dir: &Path) -> Option<LatestView> {
    let issues = crate::issue::Issues::load(issues_dir)
        .with_context(|| format!("reading {}", issues_dir.display()))
        .inspect_err(|e| tracing::warn!("welcome without the latest issue: {e:#}"))
        .ok()?;
    let issue = issues.latest()?;
    Some(LatestView {
        name: issue.id.to_string(),
        title: issue.title.clone(),
        url: format!("{}{}/", config.base_url(), issue.id.slug()),
    })
}
