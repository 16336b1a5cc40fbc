//! One-click unsubscribe (RFC 8058): `POST {prefix}/TOKEN` with `List-Unsubscribe=One-Click`
//! unsubscribes at once, without cookies or confirmation; `GET` shows a page whose button does
//! the same. A token that does not verify changes nothing. `dispatch serve` and `dispatch host`
//! both answer it through [`router`], each drawing the pages in its own style.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use crate::report::Reporter;
use crate::store::Store;
use crate::store::subscribers::Status;

/// Draws a page: its status, title and text (escaped), then markup of ours (the button's form).
pub type DrawPage = Arc<dyn Fn(StatusCode, &str, &str, &str) -> Response + Send + Sync>;

/// What the route's handlers share.
pub struct OneClick {
    database: PathBuf,
    reporter: Arc<dyn Reporter>,
    page: DrawPage,
}

/// The one-click route at each of `routes` (axum paths ending in `{token}`), answering from the
/// database at `database`.
pub fn router<S: Clone + Send + Sync + 'static>(
    routes: &[String],
    database: PathBuf,
    reporter: Arc<dyn Reporter>,
    page: DrawPage,
) -> Router<S> {
    let state = Arc::new(OneClick {
        database,
        reporter,
        page,
    });
    let mut router = Router::new();
    for route in routes {
        router = router.route(
            route,
            get(self::page)
                .post(one_click)
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        );
    }
    router.with_state(state)
}

enum Outcome {
    Unsubscribed,
    AlreadyGone,
    Invalid,
}

/// Applies (or, with `apply` false, only checks) an unsubscribe token. The database is opened
/// once, writable: reading the secret may have to create it.
fn resolve(db: &std::path::Path, token: &str, apply: bool) -> anyhow::Result<Outcome> {
    if !crate::outgoing::token::is_token_shaped(token) || !db.exists() {
        return Ok(Outcome::Invalid);
    }
    let mut store = Store::open(db)?;
    let Some(id) = crate::outgoing::token::verify_unsubscribe_token(&store.secret()?, token) else {
        return Ok(Outcome::Invalid);
    };
    match store.subscriber_status(id)? {
        None => Ok(Outcome::Invalid),
        Some(Status::Active) => {
            if apply {
                store.deactivate_subscriber(id, Status::Unsubscribed)?;
            }
            Ok(Outcome::Unsubscribed)
        }
        // The unsubscribe link of a confirmation mail: the signup is withdrawn.
        Some(Status::Pending) => {
            if apply {
                store.cancel_signup(id)?;
            }
            Ok(Outcome::Unsubscribed)
        }
        Some(_) => Ok(Outcome::AlreadyGone),
    }
}

async fn run(p: &OneClick, token: String, apply: bool) -> anyhow::Result<Outcome> {
    let db = p.database.clone();
    tokio::task::spawn_blocking(move || resolve(&db, &token, apply)).await?
}

fn invalid(p: &OneClick) -> Response {
    (p.page)(
        StatusCode::NOT_FOUND,
        "This unsubscribe link is not valid",
        "Nothing was changed. If you copied the link from an email, check that it is complete, or reply to the newsletter and ask to be removed.",
        "",
    )
}

fn failure(p: &OneClick, e: anyhow::Error) -> Response {
    p.reporter.error(&format!("unsubscribe: {e:#}"));
    (p.page)(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Nothing was changed. Please try again in a moment.",
        "",
    )
}

async fn page(State(p): State<Arc<OneClick>>, Path(token): Path<String>) -> Response {
    match run(&p, token, false).await {
        Ok(Outcome::Invalid) => invalid(&p),
        Ok(Outcome::AlreadyGone) => (p.page)(
            StatusCode::OK,
            "You are unsubscribed",
            "This address gets no more issues.",
            "",
        ),
        Ok(Outcome::Unsubscribed) => confirm_page(&p),
        Err(e) => failure(&p, e),
    }
}

/// The button posts the same body a mail client's one-click request does.
const FORM: &str = "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>";

fn confirm_page(p: &OneClick) -> Response {
    (p.page)(
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

async fn one_click(
    State(p): State<Arc<OneClick>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    if !is_one_click(request).await {
        return (p.page)(
            StatusCode::BAD_REQUEST,
            "Not an unsubscribe request",
            "The request must carry List-Unsubscribe=One-Click. Nothing was changed.",
            "",
        );
    }
    match run(&p, token, true).await {
        Ok(Outcome::Invalid) => invalid(&p),
        Ok(_) => (p.page)(
            StatusCode::OK,
            "You are unsubscribed",
            "This address gets no more issues.",
            "",
        ),
        Err(e) => failure(&p, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_without_a_secret_yet_refuses_tokens_without_failing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("subscribers.db");
        // Opening makes no secret: the first reader of it does.
        drop(Store::open(&db).unwrap());
        assert!(matches!(
            resolve(&db, "forged", true).unwrap(),
            Outcome::Invalid
        ));
    }
}
