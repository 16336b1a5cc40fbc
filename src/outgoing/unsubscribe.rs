//! The unsubscribe links every email carries, made in one place: the https one-click link under
//! `newsletter.unsubscribe_url` (RFC 8058), which `dispatch serve` answers, and the mailto link
//! whose subject `replies import` understands. `send`, `build`'s previews and the server's
//! route all come from here, so a URL that config accepts always makes links the server routes.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::config::Config;

/// What the List-Unsubscribe mailto puts in front of the token in the subject; `replies import`
/// reads requests by it.
pub const UNSUBSCRIBE_PREFIX: &str = "unsubscribe";

/// Where links go when `newsletter.unsubscribe_url` is a site root: the other paths there are
/// the archive's.
const ROOT_PATH: &str = "/unsubscribe";

/// The paths `dispatch serve` answers itself, which an unsubscribe path must not take over.
const RESERVED: &[&str] = &["/email", "/__dispatch"];

/// What a mailto address must not carry as is (RFC 6068 §2).
const MAILTO_ESCAPED: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The https one-click endpoint: `https://host[:port]/path/TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host[:port]/path`, without a trailing `/`.
    base: String,
    /// `/path`: never empty, no trailing `/`.
    path: String,
}

impl Endpoint {
    /// The endpoint of a newsletter: `newsletter.unsubscribe_url`, else `{host.url}unsubscribe`
    /// when a `host:` section says `dispatch host` runs; `None` without either.
    pub fn of(config: &Config) -> Option<Endpoint> {
        match &config.newsletter.unsubscribe_url {
            Some(url) => Endpoint::parse(url).ok(),
            None => Endpoint::on_host(&config.host_url()?),
        }
    }

    /// Where `dispatch host` at `host_url` (validated by config) answers one-click requests.
    fn on_host(host_url: &str) -> Option<Endpoint> {
        let url = url::Url::parse(host_url).ok()?;
        let path = format!("{}{ROOT_PATH}", url.path().trim_end_matches('/'));
        Some(Endpoint {
            base: format!("{}{path}", url.origin().ascii_serialization()),
            path,
        })
    }

    /// Reads `newsletter.unsubscribe_url`; the error says, in the user's words, what is wrong.
    pub fn parse(input: &str) -> Result<Endpoint, String> {
        let url =
            url::Url::parse(input.trim()).map_err(|e| format!("`{input}` is not a URL: {e}"))?;
        if url.scheme() != "https" {
            return Err(format!(
                "`{input}` must be an https URL: mail clients make one-click unsubscribe requests over HTTPS only (RFC 8058)"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{input}` must not carry a user name or password"));
        }
        if url.query().is_some() {
            return Err(format!(
                "`{input}` must not have a query (`?…`): the token is added to the path, and `dispatch serve` answers the path alone"
            ));
        }
        if url.fragment().is_some() {
            return Err(format!(
                "`{input}` must not have a fragment (`#…`): browsers never send it to the server"
            ));
        }
        let path = url.path().trim_end_matches('/');
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        };
        if !path.split('/').skip(1).all(segment_ok) {
            return Err(format!(
                "`{input}`: the path may hold only letters, digits, `-`, `.`, `_`, `~` and single `/`s"
            ));
        }
        let path = if path.is_empty() { ROOT_PATH } else { path };
        if RESERVED.contains(&path) {
            return Err(format!(
                "`{input}`: `dispatch serve` shows previews under {path}; choose another path, such as {ROOT_PATH}"
            ));
        }
        let origin = url.origin().ascii_serialization();
        Ok(Endpoint {
            base: format!("{origin}{path}"),
            path: path.to_string(),
        })
    }

    /// The one-click link of one token.
    pub fn link(&self, token: &str) -> String {
        format!("{}/{token}", self.base)
    }

    /// The route `dispatch serve` answers, in axum's syntax: `/path/{token}`.
    pub fn route(&self) -> String {
        format!("{}/{{token}}", self.path)
    }
}

/// The route `dispatch host` answers at its root, whatever `newsletter.unsubscribe_url` says.
pub const HOST_ROUTE: &str = "/unsubscribe/{token}";

/// Stands for the token in `build`'s previews: it unsubscribes nobody.
pub const PREVIEW_TOKEN: &str = "PREVIEW";

/// How a newsletter's emails let readers go: made once, then asked for each token.
#[derive(Debug, Clone)]
pub struct Unsubscribe {
    endpoint: Option<Endpoint>,
    /// The mailto link without a token.
    mailto: String,
}

impl Unsubscribe {
    pub fn of(config: &Config) -> Unsubscribe {
        let reply_to = config.reply_to();
        let address = crate::address::Mailbox::parse(&reply_to).map_or(reply_to, |m| m.email);
        Unsubscribe {
            endpoint: Endpoint::of(config),
            mailto: format!(
                "mailto:{}?subject={UNSUBSCRIBE_PREFIX}",
                utf8_percent_encode(&address, MAILTO_ESCAPED)
            ),
        }
    }

    /// The links of one subscriber's token; `None` for a preview, whose mailto link asks by
    /// the sender's address alone.
    pub fn links(&self, token: Option<&str>) -> Links {
        Links {
            mailto: match token {
                Some(token) => format!("{}%20{token}", self.mailto),
                None => self.mailto.clone(),
            },
            https: self
                .endpoint
                .as_ref()
                .map(|e| e.link(token.unwrap_or(PREVIEW_TOKEN))),
        }
    }
}

/// The unsubscribe links of one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// `mailto:REPLY_TO?subject=unsubscribe%20TOKEN`.
    pub mailto: String,
    /// The one-click link, when the newsletter has an endpoint.
    pub https: Option<String>,
}

impl Links {
    /// The link in the footer: the https one when there is one.
    pub fn footer(&self) -> &str {
        self.https.as_deref().unwrap_or(&self.mailto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn every_accepted_url_gives_a_link_under_its_route() {
        for (url, link, route) in [
            (
                "https://news.example.com",
                "https://news.example.com/unsubscribe/T",
                "/unsubscribe/{token}",
            ),
            (
                "https://news.example.com/",
                "https://news.example.com/unsubscribe/T",
                "/unsubscribe/{token}",
            ),
            ("https://x/u", "https://x/u/T", "/u/{token}"),
            ("https://x/u/", "https://x/u/T", "/u/{token}"),
            (
                "https://X.example:8443/a/b.c~d_e-f/",
                "https://x.example:8443/a/b.c~d_e-f/T",
                "/a/b.c~d_e-f/{token}",
            ),
            (
                "https://x/email/u",
                "https://x/email/u/T",
                "/email/u/{token}",
            ),
        ] {
            let e = endpoint(url);
            assert_eq!(e.link("T"), link, "{url}");
            assert_eq!(e.route(), route, "{url}");
        }
    }

    fn config(newsletter: &str) -> Config {
        let source = format!(
            "newsletter:\n  title: T\n  url: https://x/\n  from: ed@x.example\n{newsletter}"
        );
        Config::parse(std::path::Path::new("config.yaml"), &source).unwrap()
    }

    #[test]
    fn links_of_a_token_and_of_a_preview() {
        let with = Unsubscribe::of(&config(
            "  reply_to: \"Ed Itor <ed+news@x.example>\"\n  unsubscribe_url: https://x/u/\n",
        ));
        let links = with.links(Some("T"));
        assert_eq!(
            links.mailto,
            "mailto:ed+news@x.example?subject=unsubscribe%20T"
        );
        assert_eq!(links.footer(), "https://x/u/T");
        let preview = with.links(None);
        assert_eq!(
            preview.mailto,
            "mailto:ed+news@x.example?subject=unsubscribe"
        );
        assert_eq!(preview.footer(), "https://x/u/PREVIEW");
        let without = Unsubscribe::of(&config("")).links(Some("T"));
        assert_eq!(without.https, None);
        assert_eq!(
            without.footer(),
            "mailto:ed@x.example?subject=unsubscribe%20T"
        );
    }

    #[test]
    fn without_an_unsubscribe_url_the_links_go_to_the_host() {
        for (host, link, route) in [
            (
                "host: {}\n",
                "https://x/unsubscribe/T",
                "/unsubscribe/{token}",
            ),
            (
                "host:\n  url: https://news.example.com/letters/\n",
                "https://news.example.com/letters/unsubscribe/T",
                "/letters/unsubscribe/{token}",
            ),
        ] {
            let config = config(&format!("  reply_to: ed@x.example\n{host}"));
            assert_eq!(
                Unsubscribe::of(&config).links(Some("T")).https.as_deref(),
                Some(link)
            );
            assert_eq!(Endpoint::of(&config).unwrap().route(), route);
        }
        let both = config("  unsubscribe_url: https://u.example/out\nhost: {}\n");
        assert_eq!(
            Endpoint::of(&both).unwrap().link("T"),
            "https://u.example/out/T"
        );
    }

    /// What the server's route hands its handler for a request to `path`.
    async fn token_routed(route: &str, path: &str) -> Option<String> {
        use axum::extract::Path;
        use tower_service::Service as _;
        let mut router = axum::Router::new().route(
            route,
            axum::routing::get(|Path(t): Path<String>| async move { t }),
        );
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.call(request).await.unwrap();
        if !response.status().is_success() {
            return None;
        }
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        Some(String::from_utf8(body.to_vec()).unwrap())
    }

    /// A subscriber's links lead back to that subscriber: the https one through the route
    /// `dispatch serve` answers, the mailto one through the importer's reading of its subject.
    #[tokio::test]
    async fn a_subscribers_links_are_read_back_by_the_server_and_the_importer() {
        let secret = b"the database's secret";
        let subscriber = 42;
        let token = crate::outgoing::token::unsubscribe_token(secret, subscriber);
        for url in [
            "https://x/u/",
            "https://news.example.com",
            "https://x/a/b.c",
        ] {
            let config = config(&format!(
                "  reply_to: \"Ed <ed+news@x.example>\"\n  unsubscribe_url: {url}\n"
            ));
            let links = Unsubscribe::of(&config).links(Some(&token));

            let https = url::Url::parse(links.https.as_deref().unwrap()).unwrap();
            let route = Endpoint::of(&config).unwrap().route();
            let routed = token_routed(&route, https.path()).await;
            let routed = routed.unwrap_or_else(|| panic!("{url}: {} not routed", https.path()));
            assert_eq!(
                crate::outgoing::token::verify_unsubscribe_token(secret, &routed),
                Some(subscriber),
                "{url}"
            );

            let mailto = url::Url::parse(&links.mailto).unwrap();
            let (_, subject) = mailto.query_pairs().find(|(k, _)| k == "subject").unwrap();
            let to = mailto.path();
            let raw = format!(
                "From: reader@example.org\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <r1@example.org>\r\n\r\nplease\r\n"
            );
            let parsed = crate::replies::message::parse(
                raw.as_bytes(),
                &crate::replies::import::parse_context(None),
            )
            .unwrap();
            let crate::replies::classify::Kind::Unsubscribe { token: Some(read) } = parsed.kind
            else {
                panic!("{url}: {subject:?} read as {:?}", parsed.kind);
            };
            assert_eq!(
                crate::outgoing::token::verify_unsubscribe_token(secret, &read),
                Some(subscriber),
                "{url}"
            );
        }
    }

    #[test]
    fn urls_the_server_could_not_answer_are_refused() {
        for (url, says) in [
            ("http://news.example.com/unsubscribe", "https"),
            ("https://x/u?list=1", "query"),
            ("https://x/u?", "query"),
            ("https://x/u#top", "fragment"),
            ("https://ed:pw@x/u", "password"),
            ("https://x/a b", "path"),
            ("https://x/a//b", "path"),
            ("https://x/{token}", "path"),
            ("https://x/email", "previews"),
            ("https://x/__dispatch/", "previews"),
            ("news.example.com/unsubscribe", "not a URL"),
        ] {
            let e = Endpoint::parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
        }
    }
}
