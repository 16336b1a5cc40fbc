//! Double opt-in: `POST /subscribe` stores the address as pending and queues its confirmation
//! mail; `GET /confirm/TOKEN` shows a page with one button and changes nothing (link scanners
//! fetch every URL of a mail); its `POST` makes the subscriber active.
//!
//! The answer to a signup is the same page whatever the address's state, so the form cannot be
//! used to learn who is on the list. A filled honeypot gets that page too, and nothing is done.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::Host;
use super::client::client_addr;
use super::queue::with_store;
use crate::store::mail_queue::{Confirmation, Signup};
use crate::store::subscribers::Status;

/// The most a signup body may hold: three short fields fit many times over.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The form's fields.
pub const EMAIL: &str = "email";
pub const NAME: &str = "name";
/// The longest name the form takes, in characters (the form's `maxlength`; a browser enforces
/// it, a script need not).
pub const NAME_LIMIT: usize = 100;
/// Hidden from people; a bot that fills every field fills it.
pub const HONEYPOT: &str = "website";

/// A signup as the form sent it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Form {
    email: String,
    name: String,
    honeypot: String,
}

fn parse_form(body: &[u8]) -> Form {
    let mut form = Form::default();
    for (key, value) in form_urlencoded::parse(body) {
        let field = match key.as_ref() {
            EMAIL => &mut form.email,
            NAME => &mut form.name,
            HONEYPOT => &mut form.honeypot,
            _ => continue,
        };
        *field = value.into_owned();
    }
    form
}

/// The answer to every accepted signup.
fn check_inbox(host: &Host) -> Response {
    host.mails.page(
        StatusCode::OK,
        "Check your inbox",
        "If this address can receive the newsletter, a message is on its way to it: open the link inside to confirm your subscription. Nothing is sent until you do.",
        "",
    )
}

fn failure(host: &Host, what: &str, e: &anyhow::Error) -> Response {
    host.reporter.error(&format!("{what}: {e:#}"));
    host.mails.page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Nothing was changed. Please try again in a moment.",
        "",
    )
}

pub async fn subscribe(
    State(host): State<Arc<Host>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = client_addr(peer.ip(), &headers, &host.trusted_proxies);
    if !host.limiter.allow(client) {
        return host.mails.page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many signups",
            "Too many signups came from your network in the last hour. Please try again later.",
            "",
        );
    }
    let form = parse_form(&body);
    if !form.honeypot.trim().is_empty() {
        return check_inbox(&host);
    }
    let Ok(email) = crate::address::normalize(&form.email) else {
        return host.mails.page(
            StatusCode::BAD_REQUEST,
            "That is not an email address",
            "Please go back and check the address: it should look like name@example.org. Nothing was sent.",
            "",
        );
    };
    let name = crate::address::subscriber_name(&form.name)
        .ok()
        .filter(|name| {
            name.as_ref()
                .is_none_or(|n| n.chars().count() <= NAME_LIMIT)
        });
    let Some(name) = name else {
        return host.mails.page(
            StatusCode::BAD_REQUEST,
            "That name cannot be used",
            "Please go back and write your name in at most 100 characters, on one line, or leave it empty. Nothing was sent.",
            "",
        );
    };
    let per_day = host.confirmations_per_day;
    let signed = with_store(&host.store, move |s| {
        s.signup(&email, name.as_deref(), per_day)
    })
    .await;
    match signed {
        Ok(Signup::Queued { .. }) => {
            host.wake.notify_one();
            check_inbox(&host)
        }
        Ok(Signup::AlreadyActive | Signup::TooMany) => check_inbox(&host),
        Err(e) => failure(&host, "signup", &e),
    }
}

fn invalid_link(host: &Host) -> Response {
    host.mails.page(
        StatusCode::NOT_FOUND,
        "This confirmation link is not valid",
        "Nothing was changed. If you copied the link from the email, check that it is complete.",
        "",
    )
}

fn subscribed(host: &Host) -> Response {
    host.mails.page(
        StatusCode::OK,
        "You are subscribed",
        "Thank you for confirming: the next issue will come to your inbox.",
        "",
    )
}

fn expired(host: &Host) -> Response {
    host.mails.page(
        StatusCode::GONE,
        "This confirmation link has expired",
        "Nothing was changed. To subscribe, please sign up again.",
        "",
    )
}

/// The button posts to the page's own address.
const CONFIRM_FORM: &str =
    "<form method=\"post\"><button type=\"submit\">Confirm my subscription</button></form>";

pub async fn confirm_page(State(host): State<Arc<Host>>, Path(token): Path<String>) -> Response {
    let Some(id) = crate::outgoing::token::verify_confirm_token(&host.secret, &token) else {
        return invalid_link(&host);
    };
    match with_store(&host.store, move |s| s.subscriber_status(id)).await {
        Ok(Some(Status::Pending)) => host.mails.page(
            StatusCode::OK,
            "Confirm your subscription",
            "Press the button to start receiving the newsletter.",
            CONFIRM_FORM,
        ),
        Ok(Some(Status::Active)) => subscribed(&host),
        Ok(_) => expired(&host),
        Err(e) => failure(&host, "confirmation", &e),
    }
}

pub async fn confirm(State(host): State<Arc<Host>>, Path(token): Path<String>) -> Response {
    let Some(id) = crate::outgoing::token::verify_confirm_token(&host.secret, &token) else {
        return invalid_link(&host);
    };
    let welcome = host.welcome;
    match with_store(&host.store, move |s| s.confirm_signup(id, welcome)).await {
        Ok(Confirmation::Confirmed) => {
            host.wake.notify_one();
            subscribed(&host)
        }
        Ok(Confirmation::AlreadyActive) => subscribed(&host),
        Ok(Confirmation::NotPending) => expired(&host),
        Err(e) => failure(&host, "confirmation", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_fields() {
        assert_eq!(
            parse_form(b"email=ann%40example.org&name=Ann+Lee&website=&other=x"),
            Form {
                email: "ann@example.org".into(),
                name: "Ann Lee".into(),
                honeypot: String::new(),
            }
        );
        assert_eq!(parse_form(b"website=spam").honeypot, "spam");
    }
}
