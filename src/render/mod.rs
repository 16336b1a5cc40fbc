//! Issues to email HTML, plain text and web pages, through the newsletter's Tera templates.
//!
//! The email template is styled once per build (its classes inlined from `email.css`); the
//! Markdown body is styled as it is rendered. Nothing re-parses finished HTML.

pub mod css;
pub mod markdown;
pub mod reply;
pub mod text;
pub mod view;

use std::path::Path;

use anyhow::Context as _;

use crate::config::Config;
use crate::issue::{Issue, Issues};
use crate::store::replies::Published;

/// The default templates, embedded so `dispatch init` can write them and a folder may omit any.
pub const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    ("email.html", include_str!("../../templates/email.html")),
    ("email.txt", include_str!("../../templates/email.txt")),
    ("email.css", include_str!("../../templates/email.css")),
    ("page.html", include_str!("../../templates/page.html")),
    ("index.html", include_str!("../../templates/index.html")),
    ("signup.html", include_str!("../../templates/signup.html")),
    ("feed.xml", include_str!("../../templates/feed.xml")),
    ("style.css", include_str!("../../templates/style.css")),
    ("notice.html", include_str!("../../templates/notice.html")),
    ("confirm.html", include_str!("../../templates/confirm.html")),
    ("confirm.txt", include_str!("../../templates/confirm.txt")),
    ("welcome.html", include_str!("../../templates/welcome.html")),
    ("welcome.txt", include_str!("../../templates/welcome.txt")),
];

/// Width of the plain-text alternative.
pub const TEXT_WIDTH: usize = 72;

/// The loaded templates of a newsletter folder.
pub struct Templates {
    tera: tera::Tera,
    pub css: css::Stylesheet,
    /// The web stylesheet, copied beside the pages.
    pub web_css: String,
}

pub(crate) fn template_source(dir: &Path, name: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    if path.exists() {
        return crate::fsutil::read_text(&path);
    }
    DEFAULT_TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s.to_string())
        .with_context(|| format!("no template {name}"))
}

impl Templates {
    /// Loads `dir/*` over the defaults; a file the folder lacks falls back to the default.
    pub fn load(dir: &Path) -> anyhow::Result<Templates> {
        let css_source = template_source(dir, "email.css")?;
        let css = css::Stylesheet::parse(&css_source)
            .with_context(|| format!("in {}", dir.join("email.css").display()))?;
        let mut tera = new_tera();
        // signup.html first: page.html and index.html include it.
        for name in [
            "signup.html",
            "email.html",
            "email.txt",
            "page.html",
            "index.html",
            "feed.xml",
        ] {
            let mut source = template_source(dir, name)?;
            if name == "email.html" {
                source = css.inline_classes(&source);
            }
            tera.add_raw_template(name, &source).map_err(|e| {
                anyhow::anyhow!("{}: {}", dir.join(name).display(), tera_message(&e))
            })?;
        }
        Ok(Templates {
            tera,
            css,
            web_css: template_source(dir, "style.css")?,
        })
    }

    fn render<T: serde::Serialize>(&self, name: &str, view: &T) -> anyhow::Result<String> {
        let context = tera::Context::from_serialize(view)
            .map_err(|e| anyhow::anyhow!("template {name}: {}", tera_message(&e)))?;
        self.tera
            .render(name, &context)
            .map_err(|e| anyhow::anyhow!("template {name}: {}", tera_message(&e)))
    }
}

/// A Tera that escapes `.html` and `.xml` templates and knows our filters (`wrap`).
pub(crate) fn new_tera() -> tera::Tera {
    let mut tera = tera::Tera::new();
    tera.autoescape_on([".html", ".xml"]);
    tera.register_filter(
        "wrap",
        |text: &str, kwargs: tera::Kwargs, _: &tera::State| -> tera::TeraResult<String> {
            let width = kwargs.get::<i64>("width")?.unwrap_or(TEXT_WIDTH as i64);
            Ok(text::wrap_words(
                text,
                usize::try_from(width).unwrap_or(TEXT_WIDTH),
            ))
        },
    );
    tera
}

/// Tera's errors keep the useful part in their source chain.
pub(crate) fn tera_message(e: &tera::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// One issue, rendered. The email parts hold [`crate::outgoing::compose::UNSUBSCRIBE_MARK`]
/// where each recipient's own unsubscribe link goes.
#[derive(Debug, Clone)]
pub struct RenderedIssue {
    pub subject: String,
    pub email_html: String,
    pub email_text: String,
    pub web_html: String,
    pub outline: markdown::Outline,
}

/// What an issue needs from around it: the previous issue's question and its approved replies.
#[derive(Debug, Default, Clone)]
pub struct Neighbours<'a> {
    pub previous: Option<&'a Issue>,
    pub replies: Vec<Published>,
    pub older: Option<&'a Issue>,
    pub newer: Option<&'a Issue>,
}

/// Renders every output of one issue.
pub fn render_issue(
    config: &Config,
    templates: &Templates,
    issue: &Issue,
    around: &Neighbours<'_>,
) -> anyhow::Result<RenderedIssue> {
    let outline = markdown::outline(&issue.body);
    let newsletter = view::NewsletterView::new(config);
    let issue_view = view::IssueView::full(config, issue, templates, &outline);
    let replies: Vec<view::ReplyView> = around
        .replies
        .iter()
        .map(|r| view::ReplyView::new(r, &templates.css))
        .collect();
    let page = view::PageView {
        newsletter: &newsletter,
        issue: &issue_view,
        previous_question: around.previous.and_then(|p| p.question.as_deref()),
        replies: &replies,
        unsubscribe_url: crate::outgoing::compose::UNSUBSCRIBE_MARK,
        head_css: templates.css.head_css(),
        preheader_padding: view::PREHEADER_PADDING,
        older: around.older.map(view::IssueLink::new),
        newer: around.newer.map(view::IssueLink::new),
    };
    Ok(RenderedIssue {
        subject: issue_view.subject.clone(),
        email_html: templates.render("email.html", &page)?,
        email_text: templates.render("email.txt", &page)?,
        web_html: templates.render("page.html", &page)?,
        outline,
    })
}

/// The archive page, newest first, grouped by volume.
pub fn render_index(
    config: &Config,
    templates: &Templates,
    issues: &Issues,
) -> anyhow::Result<String> {
    let newsletter = view::NewsletterView::new(config);
    let volumes = view::VolumeView::group(issues);
    templates.render(
        "index.html",
        &view::IndexView {
            newsletter: &newsletter,
            volumes,
        },
    )
}

/// How many of the newest issues the Atom feed carries in full.
pub const FEED_ENTRIES: usize = 20;

/// The Atom feed of the newest issues.
pub fn render_feed(
    config: &Config,
    templates: &Templates,
    issues: &Issues,
) -> anyhow::Result<String> {
    let newsletter = view::NewsletterView::new(config);
    let feed_issues: Vec<view::FeedEntryView> = issues
        .iter()
        .rev()
        .take(FEED_ENTRIES)
        .map(|i| view::FeedEntryView::new(config, i))
        .collect();
    let updated = feed_issues
        .first()
        .map(|e| e.timestamp.clone())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string());
    templates.render(
        "feed.xml",
        &view::FeedView {
            newsletter: &newsletter,
            feed_issues,
            updated,
        },
    )
}
