//! Email addresses: validation and the "Name <address>" form.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{input}` is not a valid email address: {reason}")]
pub struct AddressError {
    pub input: String,
    pub reason: &'static str,
}

/// A display name and an address, as in `From: "Editor Name" <editor@example.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub email: String,
}

impl Mailbox {
    pub fn parse(input: &str) -> Result<Mailbox, AddressError> {
        let input = input.trim();
        match (input.rfind('<'), input.ends_with('>')) {
            (Some(open), true) => {
                let name = unquote(input[..open].trim());
                let email = normalize(&input[open + 1..input.len() - 1])?;
                Ok(Mailbox {
                    name: (!name.trim().is_empty()).then(|| name.trim().to_string()),
                    email,
                })
            }
            _ => Ok(Mailbox {
                name: None,
                email: normalize(input)?,
            }),
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "\"{}\" <{}>", escape_quoted(name), self.email),
            None => write!(f, "{}", self.email),
        }
    }
}

/// The text of a display name written as a quoted string (`"Ann \"Annie\" Lee"`), or the
/// name as it is.
fn unquote(name: &str) -> String {
    let Some(inner) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) else {
        return name.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

fn escape_quoted(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"")
}

/// An ASCII display name as RFC 5322 writes it in a header: as it is when it is words of
/// atom characters, else a quoted string with `"` and `\` escaped (never dropped).
pub fn phrase(name: &str) -> String {
    let atoms = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
    if atoms {
        name.to_string()
    } else {
        format!("\"{}\"", escape_quoted(name))
    }
}

/// A subscriber's name as given to `subscribers add` or in an imported file: trimmed, `None`
/// when empty, an error when it holds control characters (line breaks, tabs, escapes), which
/// would break headers and lists.
pub fn subscriber_name(name: &str) -> Result<Option<String>, String> {
    let name = name.trim();
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the name “{}” has a control character ({}): names are one line of text",
            escape_controls(name),
            c.escape_unicode()
        ));
    }
    Ok((!name.is_empty()).then(|| name.to_string()))
}

/// `text` with control characters shown as escapes (`\n`, `\u{1b}`), for a terminal. The
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) count as
/// controls: they would make a line read in another order than it is written.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let control =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if control(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// Validates an address and returns it with the domain lowercased (the local part is kept:
/// uniqueness is checked case-insensitively by the store).
pub fn normalize(input: &str) -> Result<String, AddressError> {
    let err = |reason| AddressError {
        input: input.to_string(),
        reason,
    };
    let email = input.trim();
    if email.len() > 254 {
        return Err(err("longer than 254 characters"));
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(|| err("it has no @"))?;
    if local.is_empty() {
        return Err(err("it has nothing before @"));
    }
    if local.len() > 64 {
        return Err(err("the part before @ is longer than 64 characters"));
    }
    if domain.trim().is_empty() {
        return Err(err("it has no domain after @"));
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(err("the part before @ has characters mail servers refuse"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(err(
            "the domain after @ has no dot (an address is written name@example.org)",
        ));
    }
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let ascii = idna::domain_to_ascii(domain).ok().filter(|_| domain_ok);
    let Some(ascii) = ascii else {
        return Err(err(
            "the domain after @ is not a host name (letters, digits and hyphens, parts separated by dots)",
        ));
    };
    // The domain as IDNA maps it (`ＥXAMPLE.org`, with a fullwidth letter, is example.org):
    // one spelling per domain that mail reaches, so that one address cannot sign up as many.
    // An ASCII domain keeps its spelling (lowercased), as earlier versions stored it.
    let (canonical, mapped) = idna::domain_to_unicode(&ascii);
    let domain = if domain.is_ascii() || mapped.is_err() {
        domain.to_lowercase()
    } else {
        canonical
    };
    Ok(format!("{local}@{domain}"))
}

/// The address as it goes on the wire: a non-ASCII domain in its ASCII form (IDNA, "punycode":
/// `bücher.de` is `xn--bcher-kva.de`), which every server takes. The local part stays as it
/// is (see [`needs_smtputf8`]).
pub fn ascii_domain(email: &str) -> Result<String, AddressError> {
    let err = |reason| AddressError {
        input: email.to_string(),
        reason,
    };
    let (local, domain) = email.rsplit_once('@').ok_or_else(|| err("it has no @"))?;
    let domain = idna::domain_to_ascii(domain)
        .map_err(|_| err("the domain cannot be written in ASCII (IDNA)"))?;
    Ok(format!("{local}@{domain}"))
}

/// Whether the part before the @ has non-ASCII characters: such an address can be delivered
/// only through servers that offer SMTPUTF8 (RFC 6531), end to end.
pub fn needs_smtputf8(email: &str) -> bool {
    email
        .rsplit_once('@')
        .is_some_and(|(local, _)| !local.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_and_address() {
        let m = Mailbox::parse("\"Ed Itor\" <Ed@Example.COM>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Ed Itor"));
        assert_eq!(m.email, "Ed@example.com");
        assert_eq!(m.to_string(), "\"Ed Itor\" <Ed@example.com>");
    }

    #[test]
    fn quotes_in_names_are_kept_escaped() {
        let m = Mailbox::parse(r#""Ann \"Annie\" Lee" <ann@example.org>"#).unwrap();
        assert_eq!(m.name.as_deref(), Some(r#"Ann "Annie" Lee"#));
        assert_eq!(m.to_string(), r#""Ann \"Annie\" Lee" <ann@example.org>"#);
        assert_eq!(phrase("Ann Lee"), "Ann Lee");
        assert_eq!(phrase(r#"Ann "A\L" Lee"#), r#""Ann \"A\\L\" Lee""#);
        assert_eq!(phrase("Lee, Ann"), r#""Lee, Ann""#);
    }

    #[test]
    fn names_with_control_characters_are_refused_and_shown_escaped() {
        assert_eq!(subscriber_name("  Ann  "), Ok(Some("Ann".into())));
        assert_eq!(subscriber_name(" "), Ok(None));
        for bad in ["Ann\nBcc: x", "Ann\u{1b}[31m", "A\tB", "A\u{7f}"] {
            let err = subscriber_name(bad).unwrap_err();
            assert!(err.contains("control character"), "{err}");
            assert!(!err.chars().any(char::is_control), "{err:?}");
        }
        assert_eq!(escape_controls("Ann\u{1b}[31m\n"), "Ann\\u{1b}[31m\\n");
        assert_eq!(escape_controls("Zoë"), "Zoë");
        assert_eq!(
            escape_controls("txt.\u{202e}exe \u{2067}שלום\u{2069}"),
            "txt.\\u{202e}exe \\u{2067}שלום\\u{2069}"
        );
    }

    #[test]
    fn bare_address() {
        assert_eq!(Mailbox::parse("a.b+c@x.org").unwrap().email, "a.b+c@x.org");
    }

    #[test]
    fn non_ascii_domains_go_out_in_ascii() {
        let email = normalize("Ana@Bücher.Example").unwrap();
        assert_eq!(email, "Ana@bücher.example");
        // Fullwidth letters and other spellings IDNA maps to the same domain are one domain.
        assert_eq!(normalize("ann@ｅxample.ＯＲＧ").unwrap(), "ann@example.org");
        assert_eq!(
            normalize("ann@XN--bcher-kva.de").unwrap(),
            "ann@xn--bcher-kva.de"
        );
        assert_eq!(ascii_domain(&email).unwrap(), "Ana@xn--bcher-kva.example");
        assert_eq!(ascii_domain("a@x.org").unwrap(), "a@x.org");
        assert!(!needs_smtputf8(&email));
        assert!(needs_smtputf8("jürgen@example.org"));
    }

    #[test]
    fn each_bad_address_is_told_what_is_wrong_with_it() {
        for (bad, reason) in [
            ("bogus@", "it has no domain after @"),
            ("bogus", "it has no @"),
            ("@example.org", "it has nothing before @"),
            ("ann@example", "the domain after @ has no dot"),
            ("ann@-x.org", "the domain after @ is not a host name"),
        ] {
            let err = normalize(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("`{bad}` is not a valid email address: {reason}")),
                "{err}"
            );
        }
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "plain",
            "@x.org",
            "a@",
            "a@x",
            "a b@x.org",
            "a..b@x.org",
            "a@-x.org",
            "a@x..org",
        ] {
            assert!(normalize(bad).is_err(), "{bad} accepted");
        }
    }
}
