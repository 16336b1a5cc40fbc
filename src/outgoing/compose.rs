//! The MIME message a subscriber receives: multipart/alternative, text/plain then text/html,
//! both UTF-8 and quoted-printable. Written by hand so that the rendered issue is shared by
//! every recipient and only the personal parts are substituted.

use std::fmt::Write as _;

use crate::outgoing::unsubscribe::Links;

/// Stands for the personal unsubscribe URL in the rendered issue until a recipient is known.
pub const UNSUBSCRIBE_MARK: &str = "https://unsubscribe.invalid/DISPATCH-PERSONAL-LINK";

/// The parts of a message shared by every recipient of an issue.
#[derive(Debug, Clone)]
pub struct Shared {
    pub from: String,
    pub reply_to: String,
    pub subject: String,
    pub list_id: String,
    pub text: String,
    pub html: String,
    /// A boundary that cannot occur in quoted-printable output (which escapes every `=`).
    pub boundary: String,
}

/// What changes per recipient.
#[derive(Debug, Clone)]
pub struct Personal<'a> {
    pub to: &'a str,
    pub message_id: &'a str,
    /// RFC 2822 date.
    pub date: &'a str,
    /// The recipient's unsubscribe links: both go in List-Unsubscribe, the footer shows one.
    pub unsubscribe: &'a Links,
}

impl Shared {
    /// The complete message for one recipient, CRLF line ends.
    pub fn message(&self, p: &Personal<'_>) -> Vec<u8> {
        self.prepare().message(p)
    }

    /// Encodes the bodies once, for a message sent to many recipients.
    pub fn prepare(&self) -> Prepared {
        Prepared {
            from: self.from.clone(),
            reply_to: self.reply_to.clone(),
            subject: encode_word(&self.subject),
            list_id: self.list_id.clone(),
            boundary: self.boundary.clone(),
            parts: [
                ("plain", encode_pieces(&self.text)),
                ("html", encode_pieces(&self.html)),
            ],
        }
    }
}

/// The length of a body encoded in `pieces` as sent to a recipient whose unsubscribe link is as
/// long as [`UNSUBSCRIBE_MARK`]: the pieces, the encoded link between each two, and the soft
/// line breaks around it.
pub(crate) fn pieces_len(pieces: &[String]) -> usize {
    let mut link = String::new();
    quoted_printable(UNSUBSCRIBE_MARK, &mut link);
    let joins = pieces.len().saturating_sub(1);
    pieces.iter().map(String::len).sum::<usize>() + joins * (link.len() + 2 * "=\r\n".len())
}

/// A body quoted-printable encoded in pieces, split where the personal unsubscribe link goes.
pub(crate) fn encode_pieces(body: &str) -> Vec<String> {
    body.split(UNSUBSCRIBE_MARK)
        .map(|piece| {
            let mut encoded = String::with_capacity(piece.len() * 11 / 10);
            quoted_printable(piece, &mut encoded);
            encoded
        })
        .collect()
}

/// An issue's message with both bodies already quoted-printable encoded, split where the
/// personal unsubscribe link goes: a recipient's copy is the shared pieces and one short
/// encode of their link, joined by soft line breaks (`=` CRLF, which decoders remove), so
/// nothing long is encoded again per recipient.
#[derive(Debug, Clone)]
pub struct Prepared {
    from: String,
    reply_to: String,
    /// Already RFC 2047 encoded.
    subject: String,
    list_id: String,
    boundary: String,
    parts: [(&'static str, Vec<String>); 2],
}

impl Prepared {
    /// The size of the HTML part's body as sent ([`crate::preflight::html_part_len`]), from the
    /// pieces already encoded.
    pub fn html_part_len(&self) -> usize {
        pieces_len(&self.parts[1].1)
    }

    /// The complete message for one recipient, CRLF line ends.
    pub fn message(&self, p: &Personal<'_>) -> Vec<u8> {
        let body_len: usize = self
            .parts
            .iter()
            .flat_map(|(_, pieces)| pieces)
            .map(String::len)
            .sum();
        let mut out = String::with_capacity(body_len + 4096);
        header(&mut out, "From", &self.from);
        header(&mut out, "To", p.to);
        header(&mut out, "Reply-To", &self.reply_to);
        header(&mut out, "Subject", &self.subject);
        header(&mut out, "Date", p.date);
        header(&mut out, "Message-ID", &format!("<{}>", p.message_id));
        header(&mut out, "MIME-Version", "1.0");
        header(&mut out, "List-Id", &self.list_id);
        let mut unsubscribe = format!("<{}>", p.unsubscribe.mailto);
        if let Some(https) = &p.unsubscribe.https {
            let _ = write!(unsubscribe, ", <{https}>");
        }
        header(&mut out, "List-Unsubscribe", &unsubscribe);
        if p.unsubscribe.https.is_some() {
            header(
                &mut out,
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click",
            );
        }
        header(
            &mut out,
            "Content-Type",
            &format!("multipart/alternative; boundary=\"{}\"", self.boundary),
        );
        out.push_str("\r\n");
        let mut link = String::new();
        quoted_printable(p.unsubscribe.footer(), &mut link);
        for (kind, pieces) in &self.parts {
            let _ = write!(
                out,
                "--{}\r\nContent-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
                self.boundary
            );
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    out.push_str("=\r\n");
                    out.push_str(&link);
                    out.push_str("=\r\n");
                }
                out.push_str(piece);
            }
            out.push_str("\r\n");
        }
        let _ = write!(out, "--{}--\r\n", self.boundary);
        out.into_bytes()
    }
}

/// Writes a header, folding at spaces so lines stay under 78 characters where possible.
fn header(out: &mut String, name: &str, value: &str) {
    let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    out.push_str(name);
    out.push(':');
    let mut line_len = name.len() + 1;
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 && line_len + 1 + word.len() > 76 {
            out.push_str("\r\n");
            line_len = 0;
        }
        out.push(' ');
        out.push_str(word);
        line_len += 1 + word.len();
    }
    out.push_str("\r\n");
}

/// RFC 2047 encoded words (UTF-8, base64) for a header value with non-ASCII characters.
pub fn encode_word(value: &str) -> String {
    use base64::Engine as _;
    if value.is_ascii() {
        return value.to_string();
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        // 45 bytes of UTF-8 encode to 60 base64 characters: each word stays under 75.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?utf-8?b?{}?=", engine.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?utf-8?b?{}?=", engine.encode(&chunk)));
    }
    words.join(" ")
}

/// Quoted-printable (RFC 2045) with CRLF line ends and soft breaks before 76 characters.
pub fn quoted_printable(text: &str, out: &mut String) {
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.reserve(text.len() + text.len() / 8);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            bytes.extend_from_slice(b"\r\n");
        }
        encode_line(
            line.strip_suffix('\r').unwrap_or(line).as_bytes(),
            &mut bytes,
        );
    }
    // Every byte written is ASCII.
    *out = String::from_utf8(bytes).unwrap_or_default();
}

/// Whether a byte may stand for itself inside a line.
const fn literal_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 33;
    while b < 127 {
        table[b] = b != b'=' as usize;
        b += 1;
    }
    table[b' ' as usize] = true;
    table[b'\t' as usize] = true;
    table
}

const LITERAL: [bool; 256] = literal_table();

fn encode_line(line: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const MAX: usize = 75;
    // Trailing white space would be stripped in transit, and a line-initial dot is doubled by
    // SMTP: encode both.
    let plain = |i: usize, width: usize| {
        let b = line[i];
        LITERAL[b as usize]
            && !((b == b' ' || b == b'\t') && i + 1 == line.len())
            && !(b == b'.' && width == 0)
    };
    let mut width = 0;
    let mut i = 0;
    while i < line.len() {
        if plain(i, width) {
            if width == MAX {
                out.extend_from_slice(b"=\r\n");
                width = 0;
                continue;
            }
            // Copy the whole run of plain bytes that fits on this line at once.
            let limit = line.len().min(i + MAX - width);
            let mut end = i + 1;
            while end < limit && plain(end, 1) {
                end += 1;
            }
            out.extend_from_slice(&line[i..end]);
            width += end - i;
            i = end;
        } else {
            if width + 3 > MAX {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            let b = line[i];
            out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            width += 3;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_qp(s: &str) -> String {
        let joined = s.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap().replace("\r\n", "\n")
    }

    #[test]
    fn quoted_printable_round_trips_and_keeps_lines_short() {
        let text = format!("Grüße = café 😀 {}\n.dot\ntrailing \nend", "x".repeat(200));
        let mut out = String::new();
        quoted_printable(&text, &mut out);
        assert!(out.lines().all(|l| l.len() <= 76), "{out}");
        assert!(!out.contains(" \r\n"), "trailing space must be encoded");
        assert_eq!(decode_qp(&out), text);
    }

    #[test]
    fn quoted_printable_round_trips_random_text() {
        let alphabet: Vec<char> = "ab .\t=é😀\n-xyz".chars().collect();
        for seed in 0..300u64 {
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let len = (seed as usize * 7) % 400;
            let text: String = (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(state >> 33) as usize % alphabet.len()]
                })
                .collect();
            let mut out = String::new();
            quoted_printable(&text, &mut out);
            for line in out.split("\r\n") {
                assert!(line.len() <= 76, "{line:?}");
                assert!(!line.starts_with('.'), "{line:?}");
                assert!(!line.ends_with(' ') && !line.ends_with('\t'), "{line:?}");
            }
            assert_eq!(decode_qp(&out), text, "seed {seed}");
        }
    }

    #[test]
    fn message_has_headers_and_personal_link() {
        let shared = Shared {
            from: "\"Ed\" <ed@example.com>".into(),
            reply_to: "ed@example.com".into(),
            subject: "Ça va. The Example V1N2".into(),
            list_id: "\"The Example\" <the-example.example.com>".into(),
            text: format!("Hello\nUnsubscribe: {UNSUBSCRIBE_MARK}\n"),
            html: format!("<a href=\"{UNSUBSCRIBE_MARK}\">Unsubscribe</a>"),
            boundary: "=_b".into(),
        };
        let msg = shared.message(&Personal {
            to: "reader@example.org",
            message_id: "v1n2.1.x@example.com",
            date: "Tue, 1 Jan 2030 00:00:00 +0000",
            unsubscribe: &Links {
                mailto: "mailto:ed@example.com?subject=unsubscribe%20TOKEN".into(),
                https: Some("https://u.example.com/TOKEN".into()),
            },
        });
        let msg = String::from_utf8(msg).unwrap();
        assert!(msg.contains("Subject: =?utf-8?b?"));
        assert!(msg.contains("Message-ID: <v1n2.1.x@example.com>\r\n"));
        assert!(msg.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        assert!(!msg.contains(UNSUBSCRIBE_MARK));
        assert!(msg.contains("u.example.com/TOKEN"));
        assert!(msg.ends_with("--=_b--\r\n"));
    }

    /// The body of each part, decoded.
    fn decoded_parts(msg: &str, boundary: &str) -> Vec<String> {
        msg.split(&format!("--{boundary}"))
            .skip(1)
            .filter_map(|part| part.split_once("\r\n\r\n"))
            .map(|(_, body)| decode_qp(body.strip_suffix("\r\n").unwrap_or(body)))
            .collect()
    }

    #[test]
    fn html_part_len_is_the_html_part_of_the_message_whatever_the_text_says() {
        let html = format!(
            "<p>Content-Type: text/html; charset=utf-8</p>{}<a href=\"{UNSUBSCRIBE_MARK}\">x</a>{}",
            "é long line ".repeat(400),
            "<p>Content-Type: text/html</p>".repeat(3)
        );
        let shared = Shared {
            from: "ed@example.com".into(),
            reply_to: "ed@example.com".into(),
            subject: "S".into(),
            list_id: "<l.example.com>".into(),
            text: "Content-Type: text/html\n".into(),
            html: html.clone(),
            boundary: "=_b".into(),
        };
        let msg = String::from_utf8(shared.message(&Personal {
            to: "r@example.org",
            message_id: "m@example.com",
            date: "Tue, 1 Jan 2030 00:00:00 +0000",
            unsubscribe: &Links {
                mailto: UNSUBSCRIBE_MARK.into(),
                https: None,
            },
        }))
        .unwrap();
        let html_part = msg.split("--=_b").nth(2).unwrap();
        let (_, body) = html_part.split_once("\r\n\r\n").unwrap();
        let body = body.strip_suffix("\r\n").unwrap();
        assert_eq!(crate::preflight::html_part_len(&html), body.len());
    }

    #[test]
    fn prepared_bodies_decode_to_the_personal_text() {
        let text = format!(
            "{UNSUBSCRIBE_MARK} first\nA long line {} then {UNSUBSCRIBE_MARK}\n.dot\nend {UNSUBSCRIBE_MARK}",
            "word ".repeat(30)
        );
        let html = format!(
            "<p>{}</p><a href=\"{UNSUBSCRIBE_MARK}\">x</a> ",
            "é".repeat(50)
        );
        let shared = Shared {
            from: "ed@example.com".into(),
            reply_to: "ed@example.com".into(),
            subject: "S".into(),
            list_id: "<l.example.com>".into(),
            text: text.clone(),
            html: html.clone(),
            boundary: "=_b".into(),
        };
        let link = format!("https://u.example.com/{}", "T".repeat(80));
        let msg = shared.prepare().message(&Personal {
            to: "r@example.org",
            message_id: "m@example.com",
            date: "Tue, 1 Jan 2030 00:00:00 +0000",
            unsubscribe: &Links {
                mailto: link.clone(),
                https: None,
            },
        });
        let msg = String::from_utf8(msg).unwrap();
        let (_, body) = msg.split_once("\r\n\r\n").unwrap();
        assert!(body.lines().all(|l| l.len() <= 78), "{msg}");
        let parts = decoded_parts(&msg, "=_b");
        assert_eq!(parts[0], text.replace(UNSUBSCRIBE_MARK, &link));
        assert_eq!(parts[1], html.replace(UNSUBSCRIBE_MARK, &link));
    }
}
