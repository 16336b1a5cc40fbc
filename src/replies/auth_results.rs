//! `Authentication-Results` header fields (RFC 8601): what the receiving server found when it
//! checked DKIM, SPF and DMARC, and whether that vouches for a message's From domain.
//!
//! Any sender can write such a field, so only the fields of the editor's own server count:
//! those whose authserv-id is the one configured (`imap.authserv_id`), and only from the top
//! of the message, above any field another server added (every server prepends its own, so a
//! field the sender wrote is always below the ones added on the way in). RFC 8601 §5 also asks
//! the server to delete incoming fields that carry its own authserv-id.

/// One `Authentication-Results` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The server that added the field, as written (compare case-insensitively).
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// One `method=result` with its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lowercase method name: "dkim", "spf", "dmarc", …
    pub method: String,
    /// Lowercase result: "pass", "fail", "none", …
    pub result: String,
    /// `ptype.property` (lowercase) and value: `header.d`, `header.i`, `header.from`,
    /// `smtp.mailfrom`, …; `reason` too.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The domain this passing result vouches for, when it passes: the signing domain of DKIM
    /// (`header.d`, else the domain of `header.i`), the envelope sender's domain of SPF
    /// (`smtp.mailfrom`), the From domain of DMARC (`header.from`).
    fn passing_domain(&self) -> Option<&str> {
        if self.result != "pass" {
            return None;
        }
        let value = match self.method.as_str() {
            "dkim" => self
                .property("header.d")
                .or_else(|| self.property("header.i")),
            "spf" => self.property("smtp.mailfrom"),
            "dmarc" => self.property("header.from"),
            _ => None,
        }?;
        let domain = value.rsplit_once('@').map_or(value, |(_, d)| d);
        Some(domain.trim_end_matches('.')).filter(|d| !d.is_empty())
    }
}

/// What vouches for a From domain: the method and the server, as in "dkim=pass (mx.example.com)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub method: String,
    pub authserv_id: String,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=pass by {}", self.method, self.authserv_id)
    }
}

/// Whether the editor's own server (`authserv_id`) found DKIM, SPF or DMARC passing for
/// `from_domain`. `fields` are the values of the message's `Authentication-Results` fields,
/// topmost first; only the run of fields with `authserv_id` at the top counts.
pub fn vouches_for(fields: &[&str], authserv_id: &str, from_domain: &str) -> Option<Evidence> {
    let authserv_id = authserv_id.trim();
    if authserv_id.is_empty() || from_domain.is_empty() {
        return None;
    }
    fields
        .iter()
        .map(|f| parse(f))
        .take_while(|ar| {
            ar.as_ref()
                .is_some_and(|ar| ar.authserv_id.eq_ignore_ascii_case(authserv_id))
        })
        .flatten()
        .flat_map(|ar| ar.results)
        .find(|r| r.passing_domain().is_some_and(|d| aligned(d, from_domain)))
        .map(|r| Evidence {
            method: r.method,
            authserv_id: authserv_id.to_string(),
        })
}

/// The domain that passed is the From domain or a parent of it (DMARC's relaxed alignment,
/// without the public-suffix list: whoever controls a domain controls its subdomains).
fn aligned(passed: &str, from_domain: &str) -> bool {
    let passed = passed.to_ascii_lowercase();
    let from = from_domain.trim_end_matches('.').to_ascii_lowercase();
    // A bare top-level domain vouches for nothing.
    passed.contains('.') && (from == passed || from.ends_with(&format!(".{passed}")))
}

/// Parses one field value: `authserv-id [version] ; method=result prop=value … ; …` or
/// `authserv-id ; none`. Comments in parentheses are dropped, quoted strings unquoted. None
/// when there is no authserv-id.
pub fn parse(value: &str) -> Option<AuthResults> {
    let text = strip_comments(value);
    let mut statements = split_outside_quotes(&text, ';').into_iter();
    let head = statements.next()?;
    let authserv_id = tokens(&head).into_iter().next()?;
    let results = statements
        .filter_map(|s| method_result(&s))
        .filter(|r| r.method != "none")
        .collect();
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// `method[/version]=result [reason=…] [ptype.property=value …]`.
fn method_result(statement: &str) -> Option<MethodResult> {
    let mut pairs = tokens(statement).into_iter();
    let first = pairs.next()?;
    let (method, result) = match first.split_once('=') {
        Some((m, r)) => (m, r.to_string()),
        None if first.eq_ignore_ascii_case("none") => (first.as_str(), String::new()),
        None => return None,
    };
    let method = method.split('/').next().unwrap_or("").trim();
    if method.is_empty() {
        return None;
    }
    let properties = pairs
        .filter_map(|p| {
            let (name, value) = p.split_once('=')?;
            Some((name.to_ascii_lowercase(), unquote(value)))
        })
        .collect();
    Some(MethodResult {
        method: method.to_ascii_lowercase(),
        result: unquote(&result).to_ascii_lowercase(),
        properties,
    })
}

/// Words of a statement, with the spaces around `=`, `.` and `/` removed so that
/// `dkim = pass` and `header . d=x` read as one word each. Quoted strings stay whole.
fn tokens(statement: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut glue = false;
    for c in statement.chars() {
        if quoted {
            current.push(c);
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                glue = false;
                current.push(c);
            }
            '=' | '/' | '.' => {
                // Only a name (before its first '=') continues across spaces: a value such as
                // base64 may end in '='.
                if current.is_empty() && words.last().is_some_and(|w| !w.contains('=')) {
                    current = words.pop().unwrap_or_default();
                }
                glue = !current.contains('=');
                current.push(c);
            }
            c if c.is_whitespace() => {
                if !current.is_empty() && !glue {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => {
                current.push(c);
                glue = false;
            }
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A value without its surrounding double quotes and with backslash escapes resolved.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .map(|v| v.strip_suffix('"').unwrap_or(v))
    else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// `value` without RFC 5322 comments (nested parentheses), outside quoted strings. A comment
/// becomes a space.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `text` split at `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(method: &str, result: &str, props: &[(&str, &str)]) -> MethodResult {
        MethodResult {
            method: method.into(),
            result: result.into(),
            properties: props
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_the_fields_of_common_servers() {
        // Gmail
        let gmail = parse(
            "mx.google.com;\r\n       dkim=pass header.i=@example.org header.b=Ab+C/d= header.s=s1;\r\n       spf=pass (google.com: domain of ann@example.org designates 192.0.2.1 as permitted sender) smtp.mailfrom=ann@example.org;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.org",
        )
        .unwrap();
        assert_eq!(gmail.authserv_id, "mx.google.com");
        assert_eq!(
            gmail.results,
            vec![
                result(
                    "dkim",
                    "pass",
                    &[
                        ("header.i", "@example.org"),
                        ("header.b", "Ab+C/d="),
                        ("header.s", "s1")
                    ]
                ),
                result("spf", "pass", &[("smtp.mailfrom", "ann@example.org")]),
                result("dmarc", "pass", &[("header.from", "example.org")]),
            ]
        );
        // OpenDKIM: a version after the authserv-id, a quoted value, a comment in a result.
        let opendkim = parse(
            "mail.example.com 1; dkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.b=\"a;b\"",
        )
        .unwrap();
        assert_eq!(opendkim.authserv_id, "mail.example.com");
        assert_eq!(
            opendkim.results,
            vec![result(
                "dkim",
                "pass",
                &[
                    ("header.d", "example.org"),
                    ("header.i", "@example.org"),
                    ("header.b", "a;b")
                ]
            )]
        );
        // Spaces around the punctuation, upper case, a method version, "none".
        let spaced = parse("(comment) mx.example.com ; DKIM/1 = Fail reason=\"bad sig\" header . d = example.org ; none").unwrap();
        assert_eq!(
            spaced.results,
            vec![result(
                "dkim",
                "fail",
                &[("reason", "bad sig"), ("header.d", "example.org")]
            )]
        );
        assert_eq!(
            parse("mx.example.com; none").unwrap().results,
            Vec::<MethodResult>::new()
        );
        assert_eq!(parse(""), None);
        assert_eq!(parse(" (only a comment) "), None);
    }

    #[test]
    fn only_the_own_servers_fields_at_the_top_vouch() {
        let own = "mx.example.com";
        let pass = "mx.example.com; dkim=pass header.d=example.org";
        assert!(vouches_for(&[pass], own, "example.org").is_some());
        assert!(
            vouches_for(&[pass], "MX.Example.COM", "news.example.org").is_some(),
            "a parent domain's signature covers a subdomain; ids compare case-insensitively"
        );
        // Another server's field, or a result for another domain, vouches for nothing.
        let theirs = "mx.attacker.example; dkim=pass header.d=example.org";
        assert_eq!(vouches_for(&[theirs], own, "example.org"), None);
        assert_eq!(vouches_for(&[pass], own, "example.net"), None);
        assert_eq!(vouches_for(&[pass], own, "badexample.org"), None);
        // A field below another server's is one the sender could have written.
        assert_eq!(vouches_for(&[theirs, pass], own, "example.org"), None);
        // Several fields of the own server at the top all count.
        let spf = "mx.example.com; spf=pass smtp.mailfrom=bounce@example.org";
        let dkim_fail = "mx.example.com; dkim=fail header.d=example.org";
        assert_eq!(
            vouches_for(&[dkim_fail, spf], own, "example.org"),
            Some(Evidence {
                method: "spf".into(),
                authserv_id: own.into()
            })
        );
        // Failing, neutral or softfail results do not count; nor does no authserv-id.
        for failing in [
            "mx.example.com; dkim=fail header.d=example.org",
            "mx.example.com; spf=softfail smtp.mailfrom=example.org",
            "mx.example.com; spf=pass",
            "mx.example.com; dkim=pass header.d=org",
            "mx.example.com; iprev=pass policy.iprev=192.0.2.1",
        ] {
            assert_eq!(
                vouches_for(&[failing], own, "example.org"),
                None,
                "{failing}"
            );
        }
        assert_eq!(vouches_for(&[pass], "", "example.org"), None);
        assert!(
            vouches_for(
                &["mx.example.com; dmarc=pass header.from=example.org"],
                own,
                "example.org"
            )
            .is_some()
        );
    }
}
