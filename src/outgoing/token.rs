//! Unsubscribe and confirmation tokens: unguessable, verifiable without a lookup table, and not
//! revealing the address. A token is the subscriber id and an HMAC-SHA256 of its purpose and the
//! id under the database's secret.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const MAC_LEN: usize = 16;

fn mac(secret: &[u8], purpose: &str, id: i64) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.update(&id.to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// The unsubscribe token of a subscriber.
pub fn unsubscribe_token(secret: &[u8], subscriber_id: i64) -> String {
    token(secret, "unsubscribe", subscriber_id)
}

/// The subscriber id a token was made for, when it was made under this secret.
pub fn verify_unsubscribe_token(secret: &[u8], token: &str) -> Option<i64> {
    verify(secret, "unsubscribe", token)
}

/// The token of the confirmation link a signup gets: made for another purpose than the
/// unsubscribe token, so neither can stand for the other.
pub fn confirm_token(secret: &[u8], subscriber_id: i64) -> String {
    token(secret, "confirm", subscriber_id)
}

/// The subscriber id a confirmation token was made for, when it was made under this secret.
pub fn verify_confirm_token(secret: &[u8], token: &str) -> Option<i64> {
    verify(secret, "confirm", token)
}

fn token(secret: &[u8], purpose: &str, subscriber_id: i64) -> String {
    let mut bytes = subscriber_id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&mac(secret, purpose, subscriber_id)[..MAC_LEN]);
    ENGINE.encode(bytes)
}

/// Whether `token` has a token's form (base64url of an id and a MAC), checked without the
/// secret: what is not cannot be one, and needs no database opened to say so.
pub fn is_token_shaped(token: &str) -> bool {
    let token = token.trim();
    // 24 bytes are 32 base64 characters.
    token.len() == 32 && ENGINE.decode(token).is_ok_and(|b| b.len() == 8 + MAC_LEN)
}

fn verify(secret: &[u8], purpose: &str, token: &str) -> Option<i64> {
    let bytes = ENGINE.decode(token.trim()).ok()?;
    if bytes.len() != 8 + MAC_LEN {
        return None;
    }
    let id = i64::from_be_bytes(bytes[..8].try_into().ok()?);
    let expected = mac(secret, purpose, id);
    // Constant-time comparison: a forged token learns nothing from timing.
    let diff = expected[..MAC_LEN]
        .iter()
        .zip(&bytes[8..])
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    (diff == 0).then_some(id)
}

/// A short stable tag for Message-IDs: unique per (issue, subscriber), the same on every retry.
pub fn message_tag(secret: &[u8], issue_slug: &str, subscriber_id: i64) -> String {
    ENGINE.encode(&mac(secret, issue_slug, subscriber_id)[..9])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_forgeries_fail() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let token = unsubscribe_token(secret, 42);
        assert_eq!(verify_unsubscribe_token(secret, &token), Some(42));
        assert_eq!(verify_unsubscribe_token(b"another secret", &token), None);
        let forged = unsubscribe_token(b"another secret", 42);
        assert_eq!(verify_unsubscribe_token(secret, &forged), None);
        assert_eq!(verify_unsubscribe_token(secret, "garbage"), None);
        assert!(is_token_shaped(&token) && is_token_shaped(&forged));
        assert!(!is_token_shaped("garbage") && !is_token_shaped(&format!("{token}AA")));
        assert!(!token.contains('@'));
    }

    #[test]
    fn an_unsubscribe_token_cannot_confirm_nor_the_reverse() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let confirm = confirm_token(secret, 7);
        assert_eq!(verify_confirm_token(secret, &confirm), Some(7));
        assert_eq!(verify_unsubscribe_token(secret, &confirm), None);
        assert_eq!(
            verify_confirm_token(secret, &unsubscribe_token(secret, 7)),
            None
        );
    }

    #[test]
    fn message_tags_are_stable_and_distinct() {
        let s = b"k";
        assert_eq!(message_tag(s, "v1n1", 1), message_tag(s, "v1n1", 1));
        assert_ne!(message_tag(s, "v1n1", 1), message_tag(s, "v1n1", 2));
        assert_ne!(message_tag(s, "v1n1", 1), message_tag(s, "v1n2", 1));
    }
}
