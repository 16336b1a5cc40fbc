//! One-click unsubscribe (RFC 8058): `POST {prefix}/TOKEN` with `List-Unsubscribe=One-Click`
//! unsubscribes at once, without cookies or confirmation; `GET` shows a page whose button does
//! the same. A token that does not verify changes nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest as _, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::{Preview, html_page};
use crate::store::Store;
use crate::store::subscribers::{self, Status};

enum Outcome {
    Unsubscribed,
    AlreadyGone,
    Invalid,
}

/// Applies (or, with `apply` false, only checks) an unsubscribe token. The database is opened
/// once, writable: reading the secret may have to create it.
fn resolve(db: &std::path::Path, token: &str, apply: bool) -> anyhow::Result<Outcome> {
    if !db.exists() {
        return Ok(Outcome::Invalid);
    }
    let store = Store::open(db)?;
    let Some(id) = crate::outgoing::token::verify_unsubscribe_token(&store.secret()?, token) else {
        return Ok(Outcome::Invalid);
    };
    let status: Option<String> = rusqlite::OptionalExtension::optional(store.conn.query_row(
        "SELECT status FROM subscribers WHERE id = ?1",
        [id],
        |r| r.get(0),
    ))?;
    match status.as_deref() {
        None => Ok(Outcome::Invalid),
        Some("active") => {
            if apply {
                subscribers::deactivate(&store.conn, id, Status::Unsubscribed)?;
            }
            Ok(Outcome::Unsubscribed)
        }
        Some(_) => Ok(Outcome::AlreadyGone),
    }
}

async fn run(p: &Preview, token: String, apply: bool) -> anyhow::Result<Outcome> {
    let db = p.database.clone();
    tokio::task::spawn_blocking(move || resolve(&db, &token, apply)).await?
}

fn invalid() -> Response {
    html_page(
        StatusCode::NOT_FOUND,
        "This unsubscribe link is not valid",
        "Nothing was changed. If you copied the link from an email, check that it is complete, or reply to the newsletter and ask to be removed.",
        "",
    )
}

fn failure(e: anyhow::Error) -> Response {
    eprintln!("error: unsubscribe: {e:#}");
    html_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Nothing was changed. Please try again in a moment.",
        "",
    )
}

pub async fn page(State(p): State<Arc<Preview>>, Path(token): Path<String>) -> Response {
    match run(&p, token, false).await {
        Ok(Outcome::Invalid) => invalid(),
        Ok(Outcome::AlreadyGone) => html_page(
            StatusCode::OK,
            "You are unsubscribed",
            "This address gets no more issues.",
            "",
        ),
        Ok(Outcome::Unsubscribed) => confirm_page(),
        Err(e) => failure(e),
    }
}

/// The button posts the same body a mail client's one-click request does.
const FORM: &str = "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>";

fn confirm_page() -> Response {
    html_page(
        StatusCode::OK,
        "Unsubscribe",
        "Press the button to stop receiving this newsletter.",
        FORM,
    )
}

/// The most a one-click request body may hold: the one field it needs fits many times over.
pub const BODY_LIMIT: usize = 16 * 1024;

const FIELD: &str = "List-Unsubscribe";
const VALUE: &str = "One-Click";

/// Whether the body carries `List-Unsubscribe=One-Click` in either encoding RFC 8058 §3.1
/// allows: `multipart/form-data` (which it says mail receivers SHOULD send) or
/// `application/x-www-form-urlencoded` (also assumed when no type is given). The body is read
/// within the route's body limit.
async fn is_one_click(request: Request) -> bool {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if multipart {
        let Ok(mut form) = Multipart::from_request(request, &()).await else {
            return false;
        };
        while let Ok(Some(field)) = form.next_field().await {
            if field.name() == Some(FIELD) {
                return field.text().await.is_ok_and(|v| v.trim() == VALUE);
            }
        }
        false
    } else {
        let Ok(body) = Bytes::from_request(request, &()).await else {
            return false;
        };
        form_urlencoded::parse(&body).any(|(k, v)| k == FIELD && v.trim() == VALUE)
    }
}

pub async fn one_click(
    State(p): State<Arc<Preview>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    if !is_one_click(request).await {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Not an unsubscribe request",
            "The request must carry List-Unsubscribe=One-Click. Nothing was changed.",
            "",
        );
    }
    match run(&p, token, true).await {
        Ok(Outcome::Invalid) => invalid(),
        Ok(_) => html_page(
            StatusCode::OK,
            "You are unsubscribed",
            "This address gets no more issues.",
            "",
        ),
        Err(e) => failure(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_without_a_secret_yet_refuses_tokens_without_failing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("subscribers.db");
        let store = Store::open(&db).unwrap();
        store
            .conn
            .execute("DELETE FROM meta WHERE key = 'secret'", [])
            .unwrap();
        drop(store);
        assert!(matches!(
            resolve(&db, "forged", true).unwrap(),
            Outcome::Invalid
        ));
    }
}
