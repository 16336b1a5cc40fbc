//! Reply headers: the line a mail client writes above the quoted message ("On … wrote:",
//! "Le … a écrit :", "Am … schrieb:"), also when wrapped over up to three lines, and the
//! quoted header blocks of Outlook ("From: … Sent: … To: … Subject: …"), in the languages of
//! common mail clients (the words are in [`super::languages`]).
//!
//! [`super::extract`] cuts the reply there. Line-based string code on a decoded body: it must
//! not depend on MIME decoding, classification, the store or the importer.

use super::extract::{followed_by_quote, is_blank, is_quoted};
use super::languages::all;

/// Lines longer than this are never taken for a reply header: headers are short, and skipping
/// huge lines keeps the scan cheap on pathological input.
const MAX_HEADER_LINE: usize = 1_000;

/// A reply header ("On … wrote:") spans at most this many lines when a client wraps it.
const MAX_HEADER_LINES: usize = 3;

/// Which field of a quoted header block a line names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderKey {
    From,
    Other(&'static str),
}

/// The header field a line starts with, if any ("From: …", "*Sent:* …", "Objet\u{a0}: …").
fn header_key(line: &str) -> Option<HeaderKey> {
    let t = line.trim().trim_start_matches('*');
    let colon = t.find([':', '：'])?;
    let key = t[..colon].trim_matches(|c: char| c.is_whitespace() || c == '*');
    if key.chars().count() > 20 {
        return None;
    }
    let key = key.to_lowercase();
    if all(|l| l.from).any(|k| k == key) {
        return Some(HeaderKey::From);
    }
    all(|l| l.fields).find(|k| *k == key).map(HeaderKey::Other)
}

/// A line that is a header field of a quoted or forwarded message ("From: …", "Objet : …").
pub(super) fn is_header_field(line: &str) -> bool {
    header_key(line).is_some()
}

/// Lines of a header block looked at (blank lines between fields not counted).
const MAX_BLOCK_LINES: usize = 8;

/// Blank lines that may stand between two fields of one header block.
const MAX_FIELD_GAP: usize = 2;

/// A quoted header block ("From: … / Sent: … / To: … / Subject: …") starting at line `i`: a
/// run of lines, starting with a field, holding a sender field and at least three distinct
/// fields. Three fields keep a reader's own "From: Paris / To: Rome" out. Some clients set
/// every field off by a blank line (Outlook, once its HTML became text): there a blank line
/// only ends the block when the next non-blank line is not a field, once a field above names
/// an address, so that a reader's own "From: Paris", "To: Rome", "Date: 5 May" set apart by
/// blank lines stays theirs.
pub(super) fn is_header_block(lines: &[&str], i: usize) -> bool {
    if header_key(lines[i]).is_none() {
        return false;
    }
    let mut keys: Vec<HeaderKey> = Vec::new();
    let mut k = i;
    let mut seen = 0;
    let mut addressed = false;
    while k < lines.len() && seen < MAX_BLOCK_LINES {
        if is_blank(lines[k]) {
            if !addressed {
                break;
            }
            let next = (k..lines.len())
                .take(MAX_FIELD_GAP + 1)
                .find(|&n| !is_blank(lines[n]));
            match next {
                Some(n) if header_key(lines[n]).is_some() => k = n,
                _ => break,
            }
        }
        addressed |= lines[k].contains('@');
        if let Some(key) = header_key(lines[k])
            && !keys.contains(&key)
        {
            keys.push(key);
        }
        seen += 1;
        k += 1;
    }
    keys.contains(&HeaderKey::From) && keys.len() >= 3
}

/// How a reply header ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderEnd {
    /// "… wrote:" (or the verb without colon)
    Verb { colon: bool },
    /// "… schrieb Name:" — the verb before the sender's name, as in German or Dutch.
    VerbThenName,
    /// "…, "Name" <name@example.com>:" — the date-and-address form of some clients.
    AddressColon,
}

/// Words after the verb in a "… schrieb Name:" header: the sender's name is short.
const MAX_NAME_WORDS: usize = 6;

/// Words after the verb in a "Name schreef op di 4 mrt. 2025 om 07:15:" header, where the
/// date follows the verb behind an opening word ("am", "op", "den"): a date with a time.
const MAX_DATE_WORDS: usize = 12;

/// If line `j` ends a reply header, the index of the header's first line.
pub(super) fn reply_header_ending_at(lines: &[&str], j: usize) -> Option<usize> {
    let end_line = clean_header_line(lines[j]);
    if is_dated_address_line(&end_line) && followed_by_quote(lines, j + 1) {
        return Some(j);
    }
    if end_line.len() > MAX_HEADER_LINE || !may_end_header(&end_line) {
        return None;
    }
    let start = header_start(lines, j);
    let joined = lines[start..=j]
        .iter()
        .map(|l| clean_header_line(l))
        .collect::<Vec<_>>()
        .join(" ");
    let ending = header_ending(&joined)?;
    is_reply_header(&joined, ending).then_some(start)
}

/// A line of only a numeric date (year first: "2024/3/5", "2024-03-05 14:22 GMT+01:00") and
/// the sender: "Name <address>" without "wrote" or a colon, or, after a date with a time, a
/// name and a colon, as some clients write above the quote. Only a header when quoted lines
/// follow.
fn is_dated_address_line(line: &str) -> bool {
    let Some(first) = line.split_whitespace().next() else {
        return false;
    };
    let parts: Vec<&str> = first.split(['/', '-', '.']).collect();
    let numeric_date = parts.len() == 3
        && parts[0].len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit()));
    let sender_end = (line.ends_with('>') && has_bracketed_address(line))
        || (line.ends_with([':', '：']) && has_time(line));
    numeric_date && line.len() <= MAX_HEADER_LINE && sender_end
}

/// A candidate header line without surrounding blanks and without the dashes Zoho puts around
/// its header ("---- On … wrote ----").
fn clean_header_line(line: &str) -> String {
    line.trim()
        .trim_matches('-')
        .trim()
        .trim_start_matches('*')
        .to_string()
}

/// Split of a header into its text and whether it ends with a colon.
fn without_colon(text: &str) -> (String, bool) {
    let lower = text.trim_end().to_lowercase();
    match lower.strip_suffix([':', '：']) {
        Some(b) => (b.trim_end().to_string(), true),
        None => (lower, false),
    }
}

/// Cheap test on a header's last line: it ends with a colon or with a header verb.
fn may_end_header(line: &str) -> bool {
    let (body, colon) = without_colon(line);
    colon || all(|l| l.verbs).any(|v| ends_with_word(&body, v))
}

fn header_ending(text: &str) -> Option<HeaderEnd> {
    let (body, colon) = without_colon(text);
    if all(|l| l.verbs).any(|v| ends_with_word(&body, v)) {
        return Some(HeaderEnd::Verb { colon });
    }
    if !colon {
        return None;
    }
    let address_end = body.ends_with('>')
        || body.ends_with(')')
        || body
            .rsplit(char::is_whitespace)
            .next()
            .is_some_and(|w| w.contains('@'));
    if address_end {
        return Some(HeaderEnd::AddressColon);
    }
    let verb_then_name = all(|l| l.verbs).any(|v| {
        word_positions(&body, v).any(|end| {
            let after = &body[end..];
            let words = after.split_whitespace().count();
            words <= MAX_NAME_WORDS
                || (words <= MAX_DATE_WORDS
                    && starts_with_opener(after.trim_start())
                    && has_time(after))
        })
    });
    verb_then_name.then_some(HeaderEnd::VerbThenName)
}

/// `text` ends with `word`, and the character before it is not a letter.
fn ends_with_word(text: &str, word: &str) -> bool {
    text.strip_suffix(word)
        .is_some_and(|rest| rest.chars().next_back().is_none_or(|c| !c.is_alphabetic()))
}

/// Byte offsets just past each occurrence of `word` in `text` as a whole word.
fn word_positions<'t>(text: &'t str, word: &'t str) -> impl Iterator<Item = usize> + 't {
    text.match_indices(word).filter_map(move |(at, w)| {
        let before_ok = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphabetic());
        let end = at + w.len();
        let after_ok = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphabetic());
        (before_ok && after_ok).then_some(end)
    })
}

/// First line of a header whose last line is `j`. A last line that carries the date (or the
/// opening word) is the whole header; otherwise the header was wrapped, and it starts at the
/// earliest of the two lines above that opens like a header, else at the nearest with a date.
fn header_start(lines: &[&str], j: usize) -> usize {
    let last = clean_header_line(lines[j]);
    if has_date_digits(&last) || starts_with_opener(&last) {
        return j;
    }
    let above: Vec<usize> = (j.saturating_sub(MAX_HEADER_LINES - 1)..j)
        .rev()
        .take_while(|&k| !is_blank(lines[k]) && !is_quoted(lines[k]))
        .collect();
    let opener = above
        .iter()
        .rev()
        .find(|&&k| starts_with_opener(&clean_header_line(lines[k])));
    let dated = above
        .iter()
        .find(|&&k| has_date_digits(&clean_header_line(lines[k])));
    opener.or(dated).copied().unwrap_or(j)
}

fn starts_with_opener(line: &str) -> bool {
    let lower = line.to_lowercase();
    all(|l| l.openers).any(|o| {
        lower
            .strip_prefix(o)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_whitespace() || c == ','))
    })
}

/// Digits outside e-mail addresses: a date or time, not the numbers in "user123@host".
fn has_date_digits(text: &str) -> bool {
    text.split_whitespace()
        .filter(|w| !w.contains('@'))
        .any(|w| w.chars().any(|c| c.is_ascii_digit()))
}

/// A clock time ("9:00", "17.50") somewhere in the text.
fn has_time(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(4).enumerate().any(|(i, w)| {
        let before_ok = i == 0 || !chars[i - 1].is_ascii_digit();
        let after_ok = chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
        before_ok
            && after_ok
            && w[0].is_ascii_digit()
            && (w[1] == ':' || w[1] == '.')
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    }) || chars.windows(5).any(|w| {
        w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && (w[2] == ':' || w[2] == '.')
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
    })
}

/// Whether the joined lines form a reply header with the given ending. Besides the ending, a
/// header names a date, and a time, an address or an opening word ("On …") confirm it — so that
/// a reader's "In 2019 the author wrote:" is not taken for one.
fn is_reply_header(text: &str, ending: HeaderEnd) -> bool {
    if text.chars().count() > 400 {
        return false;
    }
    let dated = has_date_digits(text);
    let opener = starts_with_opener(text);
    let confirmed = has_time(text) || opener || text.contains('@');
    match ending {
        HeaderEnd::Verb { colon: true } => (dated && confirmed) || has_bracketed_address(text),
        HeaderEnd::Verb { colon: false } => dated && opener,
        HeaderEnd::VerbThenName => dated && (opener || has_time(text)),
        HeaderEnd::AddressColon => dated && text.contains('@'),
    }
}

/// "<someone@example.com>" (also HTML-escaped as "&lt;…&gt;").
fn has_bracketed_address(text: &str) -> bool {
    let t = text.replace("&lt;", "<").replace("&gt;", ">");
    t.split('<').skip(1).any(|rest| {
        rest.split('>')
            .next()
            .is_some_and(|inner| inner.contains('@'))
    })
}
