//! Unsubscribe requests by mail: a subject that starts with the word of the List-Unsubscribe
//! mailto link (after any reply or forward prefixes), and the token that follows it.
//!
//! The word itself comes in through [`super::message::Context`]; it is defined where the link
//! is made, and is not repeated here. Acting on a request (checking the token, the sender, the
//! own server's verdict) is the importer's; this file must not depend on the store or the
//! importer.

use super::classify::{REPLY_PREFIXES, strip_prefix_word};

/// Forward prefixes, stripped before looking for the unsubscribe word.
const FORWARD_PREFIXES: &[&str] = &["fwd", "fw", "wg", "tr", "rv", "i", "doorst", "vb", "enc"];

/// The token of an unsubscribe request: Some(token) when the subject (after any reply or
/// forward prefixes) starts with the unsubscribe word, the token being the next word if it has
/// the token syntax ([A-Za-z0-9_-]+).
pub(super) fn unsubscribe_token(subject: &str, prefix: &str) -> Option<Option<String>> {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return None;
    }
    let mut s = subject.trim();
    while let Some(rest) =
        strip_prefix_word(s, REPLY_PREFIXES).or_else(|| strip_prefix_word(s, FORWARD_PREFIXES))
    {
        s = rest.trim_start();
    }
    let after = strip_prefix_ci(s, prefix)?;
    // A client that did not decode the mailto subject leaves "%20" between the words.
    let rest = match after.strip_prefix("%20") {
        Some(r) => r,
        None if after.is_empty() || after.starts_with(|c: char| c.is_whitespace() || c == ':') => {
            after
        }
        None => return None,
    };
    let token = rest
        .trim_start_matches(|c: char| c.is_whitespace() || c == ':')
        .split_whitespace()
        .next()
        .filter(|w| is_token(w))
        .map(str::to_string);
    Some(token)
}

fn is_token(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `s` without `prefix`, compared case-insensitively character by character.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let mut rest = s;
    for p in prefix.chars() {
        let c = rest.chars().next()?;
        if !c.to_lowercase().eq(p.to_lowercase()) {
            return None;
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use crate::replies::classify::Kind;
    use crate::replies::import::parse_context;
    use crate::replies::message::Context;
    use crate::replies::message::tests::kind_of_subject;

    #[test]
    fn classifies_unsubscribe_requests() {
        let ctx = parse_context(None);
        let token = |t: &str| Kind::Unsubscribe {
            token: Some(t.to_string()),
        };
        assert_eq!(
            kind_of_subject("unsubscribe aB3_x-9", &ctx),
            token("aB3_x-9")
        );
        assert_eq!(
            kind_of_subject("Unsubscribe aB3_x-9", &ctx),
            token("aB3_x-9")
        );
        assert_eq!(
            kind_of_subject("Re: UNSUBSCRIBE tok123", &ctx),
            token("tok123")
        );
        assert_eq!(
            kind_of_subject("Fwd: unsubscribe tok123", &ctx),
            token("tok123")
        );
        assert_eq!(
            kind_of_subject("unsubscribe%20tok123", &ctx),
            token("tok123")
        );
        assert_eq!(
            kind_of_subject("unsubscribe", &ctx),
            Kind::Unsubscribe { token: None }
        );
        // Only a word with the token syntax is taken for the token.
        assert_eq!(
            kind_of_subject("unsubscribe me!", &ctx),
            Kind::Unsubscribe { token: None }
        );
        assert_eq!(
            kind_of_subject("unsubscribe: tok123", &ctx),
            token("tok123")
        );
        assert_eq!(
            kind_of_subject("unsubscribed by mistake", &ctx),
            Kind::Other
        );
        assert_eq!(kind_of_subject("Please unsubscribe me", &ctx), Kind::Other);
    }

    #[test]
    fn unsubscribe_word_is_configurable() {
        let ctx = Context {
            unsubscribe_prefix: "désinscription".to_string(),
            ..parse_context(None)
        };
        assert_eq!(
            kind_of_subject("Désinscription tok_1", &ctx),
            Kind::Unsubscribe {
                token: Some("tok_1".into())
            }
        );
        assert_eq!(kind_of_subject("unsubscribe tok_1", &ctx), Kind::Other);
        let none = Context {
            unsubscribe_prefix: String::new(),
            ..parse_context(None)
        };
        assert_eq!(kind_of_subject("unsubscribe tok_1", &none), Kind::Other);
    }
}
