//! Quote and signature rules: what a reader wrote in a plain-text reply, without the quoted
//! message, the client's reply header (found by [`super::reply_header`]), forwarded blocks,
//! signatures, device footers and legal footers.
//!
//! HTML-only mail is turned into text by [`super::html_text`] first and then comes here.
//! Everything here is line-based string code on a decoded body: it must not depend on MIME
//! decoding, classification, the store or the importer. Mail bodies are untrusted input: every
//! scan is linear or bounded, and strings are only sliced at positions found in them.

use super::html_text::{HtmlText, html_to_text, html_to_text_unmarked};
use super::languages::all;
use super::reply_header::{is_header_block, is_header_field, reply_header_ending_at};

/// Quoted lines at least this long were probably wrapped by the quoting client, so an unquoted
/// line squeezed between two quoted lines is the wrapped tail of a quote, not the reader's text.
const WRAPPED_QUOTE_LEN: usize = 60;

/// The reader's own text in a plain-text reply body.
///
/// Removes quoted lines, reply headers in common languages (also when wrapped over up to three
/// lines), Outlook-style header blocks, "Original Message" and forwarding separators, signatures
/// and device footers ("Sent from my iPhone", "Get Outlook for iOS"), confidentiality footers and
/// trailing blank lines. Paragraph breaks, lists and indentation of the reader's text stay.
///
/// When cutting would leave nothing, the message is only a forward or only a quote: then the
/// forwarded body (below its header fields), else the quote's text (one level of ">" removed),
/// is what the reader sent, and is kept.
pub fn reply_text(body: &str) -> String {
    let text = normalize_newlines(body);
    let lines: Vec<&str> = text.split('\n').collect();
    let (own, cut) = own_text(&lines);
    if !own.is_empty() {
        return own;
    }
    if cut < lines.len() && starts_forwarded_block(&lines, cut) {
        let body = forwarded_body(&lines[cut + 1..]);
        let (forwarded, _) = own_text(body);
        if !forwarded.is_empty() {
            return forwarded;
        }
    }
    let unquoted: Vec<&str> = lines
        .iter()
        .filter(|l| is_quoted(l))
        .map(|l| {
            let rest = l.trim_start().strip_prefix('>').unwrap_or(l);
            rest.strip_prefix(' ').unwrap_or(rest)
        })
        .collect();
    own_text(&unquoted).0
}

/// The reader's own text in an HTML body: the parts mail clients mark as quote or signature
/// removed ([`html_to_text`]), then the plain-text rules. When that leaves nothing, the reply
/// is only a quote or a forward: the plain-text rules then run on the whole body, marked quotes
/// included, and keep the quoted or forwarded text as they do for a plain-text reply.
pub fn html_reply_text(html: &str) -> HtmlText {
    let marked = html_to_text(html);
    let text = reply_text(&marked.text);
    if !text.is_empty() {
        return HtmlText {
            text,
            notes: marked.notes,
        };
    }
    let whole = html_to_text_unmarked(html);
    HtmlText {
        text: reply_text(&whole.text),
        notes: whole.notes,
    }
}

/// Whether `text` holds a line that opens a forwarded or previous message ("---------- Forwarded
/// message ---------", "Begin forwarded message:", Outlook's underscore rule).
pub(super) fn opens_forward(text: &str) -> bool {
    text.lines()
        .any(|l| is_separator_with_text(l) || is_forward_intro(l) || is_underscore_rule(l))
}

/// The reader's text in `lines` by the quote and signature rules, and the index of the line
/// where the material they did not write starts (`lines.len()` when there is none).
fn own_text(lines: &[&str]) -> (String, usize) {
    let fenced = fenced_lines(lines);
    let mut dropped = vec![false; lines.len()];
    let cut = find_cut(lines, &fenced, &mut dropped);
    mark_quoted(&lines[..cut], &fenced[..cut], &mut dropped[..cut]);
    let mut kept = join_segments(&lines[..cut], &dropped[..cut]);
    strip_trailing_separators(&mut kept);
    (kept.join("\n").trim().to_string(), cut)
}

/// Whether line `i` opens a forwarded or previous message ("Begin forwarded message:", "----
/// Forwarded message ----", an Outlook header block), rather than a signature or footer.
fn starts_forwarded_block(lines: &[&str], i: usize) -> bool {
    is_forward_intro(lines[i])
        || is_separator_with_text(lines[i])
        || is_underscore_rule(lines[i])
        || is_header_block(lines, i)
}

/// The lines of a forwarded message below its opening line: without the header fields
/// ("From: …", "Subject: …") and blank lines at the top.
fn forwarded_body<'s, 'a>(lines: &'s [&'a str]) -> &'s [&'a str] {
    let mut i = 0;
    while i < lines.len() && (is_blank(lines[i]) || is_header_field(lines[i])) {
        i += 1;
    }
    &lines[i..]
}

/// CRLF and lone CR become LF, so every later step sees one kind of line break.
fn normalize_newlines(body: &str) -> String {
    body.replace("\r\n", "\n").replace('\r', "\n")
}

/// Marks the lines inside Markdown code fences: code may contain "--" or "Sent from" lines
/// that are not markers, so fenced lines are never cut or dropped.
fn fenced_lines(lines: &[&str]) -> Vec<bool> {
    let mut inside = false;
    lines
        .iter()
        .map(|line| {
            let t = line.trim_start();
            if t.starts_with("```") || t.starts_with("~~~") {
                inside = !inside;
                return true;
            }
            inside
        })
        .collect()
}

pub(super) fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

pub(super) fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Index of the first line that starts material the reader did not write (everything from there
/// on is dropped). Reply headers directly followed by quoted lines are not a cut: the reader may
/// answer below the quote, so those headers are only marked in `dropped`.
fn find_cut(lines: &[&str], fenced: &[bool], dropped: &mut [bool]) -> usize {
    let mut seen_text = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let quoted = is_quoted(line) && !closes_wrapped_address(lines, i);
        if fenced[i] || quoted || dropped[i] {
            i += 1;
            continue;
        }
        if is_signature_delimiter(line)
            || is_separator_with_text(line)
            || (is_underscore_rule(line) && !is_rule_in_own_text(lines, fenced, i))
            || is_forward_intro(line)
            || is_device_signature(line)
            || is_header_block(lines, i)
            || (seen_text && starts_legal_footer(lines, i))
        {
            return i;
        }
        if let Some(start) = reply_header_ending_at(lines, i) {
            if followed_by_quote(lines, i + 1) {
                dropped[start..=i].iter_mut().for_each(|d| *d = true);
                mark_pipe_quote(lines, i + 1, dropped);
            } else {
                return start;
            }
        }
        seen_text |= !is_blank(line);
        i += 1;
    }
    lines.len()
}

/// Whether the underscore rule at line `i` is one the reader drew between two parts of their
/// own text, rather than the line above a previous message or a list footer: the text below it
/// does not open a run of header fields, and further down, before any quote or other mark of where the
/// reader's text ends, a reply header ("On … wrote:") opens the previous message. The scan
/// stops at the next underscore rule, so each line is looked at for one rule at most.
fn is_rule_in_own_text(lines: &[&str], fenced: &[bool], i: usize) -> bool {
    let Some(next) = (i + 1..lines.len()).find(|&k| !is_blank(lines[k])) else {
        return false;
    };
    if looks_like_field(lines[next])
        && lines[next + 1..]
            .iter()
            .take(3)
            .find(|l| !is_blank(l))
            .is_some_and(|l| looks_like_field(l))
    {
        return false;
    }
    for k in next..lines.len() {
        let line = lines[k];
        if fenced[k] || is_blank(line) {
            continue;
        }
        if reply_header_ending_at(lines, k).is_some() {
            return true;
        }
        if is_quoted(line)
            || is_signature_delimiter(line)
            || is_separator_with_text(line)
            || is_underscore_rule(line)
            || is_forward_intro(line)
            || is_device_signature(line)
            || is_header_block(lines, k)
        {
            return false;
        }
    }
    false
}

/// A line shaped like a header field in any language: a key of at most three words, without
/// digits, then a colon ("From: …", "Kimden: …", "Reply to: …"). Prose has such lines too
/// ("About the map: …"); a header block is several of them in a row.
fn looks_like_field(line: &str) -> bool {
    let t = line.trim().trim_start_matches('*');
    let Some(colon) = t.find([':', '：']) else {
        return false;
    };
    let key = t[..colon].trim_matches(|c: char| c.is_whitespace() || c == '*');
    !key.is_empty()
        && key.chars().count() <= 25
        && key.split_whitespace().count() <= 3
        && !key.chars().any(|c| c.is_ascii_digit())
}

/// A line like ">:" that only closes an address wrapped from the line above ("… <name@example.com"
/// then ">:"): the end of a reply header, not a quoted line.
fn closes_wrapped_address(lines: &[&str], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).and_then(|p| lines.get(p)) else {
        return false;
    };
    lines[i].trim().starts_with(">:")
        && !is_quoted(prev)
        && prev.matches('<').count() > prev.matches('>').count()
}

/// Whether the next non-blank line from `from` on is quoted, with ">" or with "|".
pub(super) fn followed_by_quote(lines: &[&str], from: usize) -> bool {
    lines
        .iter()
        .skip(from)
        .find(|l| !is_blank(l))
        .is_some_and(|l| is_quoted(l) || is_pipe_quoted(l))
}

/// A line quoted with "|" instead of ">", as some clients quote under a reply header. A
/// Markdown table row ("| a | b |") ends with "|" too, and is not one.
fn is_pipe_quoted(line: &str) -> bool {
    line.trim_start()
        .strip_prefix('|')
        .is_some_and(|rest| !rest.trim_end().ends_with('|'))
}

/// Drops the "|"-quoted lines of the block starting at `from` (right under a reply header),
/// up to the first line that is neither blank nor quoted that way.
fn mark_pipe_quote(lines: &[&str], from: usize, dropped: &mut [bool]) {
    for k in from..lines.len() {
        if is_pipe_quoted(lines[k]) {
            dropped[k] = true;
        } else if !is_blank(lines[k]) {
            break;
        }
    }
}

/// Drops quoted lines, and unquoted lines that are only the wrapped tail of a long quoted line
/// (a line squeezed between two quoted lines, right after a long one).
fn mark_quoted(lines: &[&str], fenced: &[bool], dropped: &mut [bool]) {
    for (i, line) in lines.iter().enumerate() {
        if !fenced[i] && is_quoted(line) {
            dropped[i] = true;
        }
    }
    for i in 1..lines.len().saturating_sub(1) {
        let squeezed = !fenced[i]
            && !is_blank(lines[i])
            && is_quoted(lines[i - 1])
            && is_quoted(lines[i + 1])
            && lines[i - 1].trim_end().chars().count() >= WRAPPED_QUOTE_LEN;
        if squeezed {
            dropped[i] = true;
        }
    }
}

/// Kept lines, grouped into the runs between dropped blocks. Where a dropped block was set off
/// by blank lines, the runs around it are separated by exactly one blank line (removing a quote
/// never leaves a pile of empty lines); where it was not, the runs simply follow each other.
/// Blank lines inside a run (the reader's own layout) stay as written.
fn join_segments<'a>(lines: &[&'a str], dropped: &[bool]) -> Vec<&'a str> {
    let mut segments: Vec<Vec<&'a str>> = vec![Vec::new()];
    for (line, &drop) in lines.iter().zip(dropped) {
        if drop {
            if segments.last().is_some_and(|s| !s.is_empty()) {
                segments.push(Vec::new());
            }
        } else if let Some(seg) = segments.last_mut() {
            seg.push(line.trim_end());
        }
    }
    let mut out: Vec<&'a str> = Vec::new();
    let mut blank_before = false;
    for seg in segments {
        let trimmed = trim_blank_lines(&seg);
        let blank_at_start = seg.first().is_some_and(|l| is_blank(l));
        let blank_at_end = seg.last().is_some_and(|l| is_blank(l));
        if trimmed.is_empty() {
            blank_before |= !seg.is_empty();
            continue;
        }
        if !out.is_empty() && (blank_before || blank_at_start) {
            out.push("");
        }
        out.extend_from_slice(trimmed);
        blank_before = blank_at_end;
    }
    out
}

fn trim_blank_lines<'s, 'a>(lines: &'s [&'a str]) -> &'s [&'a str] {
    let start = lines
        .iter()
        .position(|l| !is_blank(l))
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !is_blank(l))
        .map_or(start, |e| e + 1);
    &lines[start..end.max(start)]
}

/// Lines at the end of the reply made only of delimiter characters ("--", "=====", "~~~~~",
/// "####", "++++") or of invisible characters some clients append (U+1427 after a Gmail
/// signature, zero-width spaces), and blank lines: left over once the quoted part below them
/// is gone, or closing the message. Such lines followed by text stay.
fn strip_trailing_separators(lines: &mut Vec<&str>) {
    while let Some(last) = lines.last() {
        if is_blank(last) || is_rule(last) || is_invisible(last) {
            lines.pop();
        } else {
            break;
        }
    }
}

/// A line made only of rule characters, at least two of them.
fn is_rule(line: &str) -> bool {
    let t = line.trim_matches(|c: char| c.is_whitespace() || is_invisible_char(c));
    t.chars().count() >= 2 && t.chars().all(|c| "-_=*~#+—–".contains(c))
}

/// Characters that show nothing: zero-width spaces and joiners, the byte-order mark, and the
/// U+1427 mark Gmail puts under signatures.
fn is_invisible_char(c: char) -> bool {
    matches!(
        c,
        '\u{1427}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
    )
}

/// A non-empty line of only invisible characters and whitespace.
fn is_invisible(line: &str) -> bool {
    line.chars().any(is_invisible_char)
        && line
            .chars()
            .all(|c| c.is_whitespace() || is_invisible_char(c))
}

/// "-- " (RFC 3676), a bare "--", or a line of em/en dashes that some clients put above the
/// signature. Longer runs of ASCII hyphens are Markdown rules or table lines, not delimiters.
fn is_signature_delimiter(line: &str) -> bool {
    let t = line.trim_end();
    t == "--" || (!t.is_empty() && t.chars().all(|c| c == '—' || c == '–'))
}

/// A line like "-----Original Message-----" or "---------- Weitergeleitete Nachricht ---------":
/// at least three dashes on both sides of a few words naming a previous or forwarded message
/// (the separator words of [`super::languages`], or an attribution verb as in Zoho's "---- On
/// … wrote ----").
fn is_separator_with_text(line: &str) -> bool {
    let t = line.trim();
    let inner = t.trim_start_matches('-');
    let lead = t.len() - inner.len();
    let core = inner.trim_end_matches('-');
    let trail = inner.len() - core.len();
    if lead < 3 || trail < 3 {
        return false;
    }
    let core = core.trim().to_lowercase();
    !core.is_empty()
        && (all(|l| l.separators).any(|w| core.contains(w))
            || all(|l| l.verbs).any(|w| core.contains(w)))
}

/// "________________________________": Outlook's line above the quoted header block, and the
/// line above mailing-list footers.
fn is_underscore_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 2 && t.chars().all(|c| c == '_')
}

/// Apple Mail's "Begin forwarded message:" and its translations: the whole line, up to a colon.
fn is_forward_intro(line: &str) -> bool {
    let t = line.trim().to_lowercase();
    all(|l| l.forward_intros).any(|p| {
        t.strip_prefix(p).is_some_and(|rest| {
            rest.trim_matches(|c: char| c.is_whitespace() || c == ':' || c == '：')
                .is_empty()
        })
    })
}

/// A short, punctuation-free line such as "Sent from my iPhone" or "Gesendet von Outlook für
/// Android<https://…>". A sentence that merely starts the same way ("Sent from my desk, which
/// …") has punctuation or runs longer, and stays.
fn is_device_signature(line: &str) -> bool {
    let without_links = strip_angle_links(line.trim());
    let t = without_links.trim().trim_end_matches('.');
    let lower = t.to_lowercase();
    if lower.ends_with("から送信") || lower.starts_with("从我的") || lower.starts_with("發自我的")
    {
        return t.chars().count() <= 40;
    }
    all(|l| l.device_footers).any(|p| lower.starts_with(p))
        && t.split_whitespace().count() <= 9
        && !t.contains([',', ';', '!', '?', ':', '.'])
}

/// Removes "<…>" parts (links that clients append to footers).
fn strip_angle_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut depth = 0usize;
    for c in line.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Paragraph openings of confidentiality footers.
const FOOTER_OPENINGS: &[&str] = &[
    "this e-mail",
    "this email",
    "this message",
    "this communication",
    "the information contained",
    "the information in this",
    "the content of this",
    "confidentiality notice",
    "confidential",
    "disclaimer",
    "ce message",
    "ce courriel",
    "ce courrier",
    "le présent message",
    "diese e-mail",
    "diese nachricht",
    "diese mail",
    "le informazioni contenute",
    "questo messaggio",
    "este mensaje",
    "este correo",
    "esta mensagem",
    "este e-mail",
    "dit bericht",
    "deze e-mail",
    "deze mail",
    "denna e-post",
    "detta meddelande",
    "denne e-mail",
    "denne meldingen",
    "ta wiadomość",
];

/// Words that make such a paragraph a confidentiality footer.
const FOOTER_WORDS: &[&str] = &[
    "confidential",
    "privileged",
    "intended recipient",
    "confidentiel",
    "destinataire",
    "vertraulich",
    "riservat",
    "confidencial",
    "vertrouwelijk",
    "konfidentiell",
    "fortrolig",
    "poufn",
];

/// A confidentiality footer paragraph starting at line `i` ("This e-mail and any attachments
/// are confidential …").
fn starts_legal_footer(lines: &[&str], i: usize) -> bool {
    if i > 0 && !is_blank(lines[i - 1]) {
        return false;
    }
    let paragraph: String = lines
        .iter()
        .skip(i)
        .take_while(|l| !is_blank(l))
        .take(30)
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let paragraph = paragraph.trim_start_matches(|c: char| !c.is_alphanumeric());
    FOOTER_OPENINGS.iter().any(|o| paragraph.starts_with(o))
        && FOOTER_WORDS.iter().any(|w| paragraph.contains(w))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const REPLY: &str = "Thanks for the issue, the tide tables were great.\n\nOne question: will there be a print edition?";

    /// The reader's reply followed by `rest` (quote, header, signature…).
    fn reply_with(rest: &str) -> String {
        format!("{REPLY}\n\n{rest}")
    }

    fn assert_reply(body: &str) {
        assert_eq!(reply_text(body), REPLY, "body:\n{body}");
    }

    #[test]
    fn removes_english_reply_header_and_quote() {
        assert_reply(&reply_with(
            "On Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:\n\n> Spring issue\n> is here.\n",
        ));
    }

    #[test]
    fn removes_reply_headers_wrapped_over_lines() {
        assert_reply(&reply_with(
            "On Mon, Jan 6, 2025 at 9:00 AM Dispatch Editorial Team <\neditor@news.example.com> wrote:\n\n> Spring issue\n",
        ));
        assert_reply(&reply_with(
            "On Mon, Jan 6, 2025 at 9:00 AM, Dispatch\n<editor@news.example.com>\nwrote:\n\n> Spring issue\n",
        ));
        assert_reply(&reply_with(
            "On Jan 6, 2025,\nat 09:00,\nDispatch <editor@news.example.com> wrote:\n\n> Spring issue\n",
        ));
    }

    #[test]
    fn removes_reply_headers_in_other_languages() {
        let headers = [
            "Le lun. 6 janv. 2025 à 09:00, Dispatch <editor@news.example.com> a écrit :",
            "Le lun. 6 janv. 2025 à 09:00, Dispatch <editor@news.example.com>\na écrit :",
            "Am Mo., 6. Jan. 2025 um 09:00 Uhr schrieb Dispatch <editor@news.example.com>:",
            "Am 06.01.2025 um 09:00 schrieb Dispatch:",
            "El lun, 6 ene 2025 a las 9:00, Dispatch (<editor@news.example.com>) escribió:",
            "Op ma 6 jan. 2025 om 09:00 schreef Dispatch <editor@news.example.com>:",
            "Il giorno lun 6 gen 2025 alle ore 09:00 Dispatch <editor@news.example.com> ha scritto:",
            "Em seg., 6 de jan. de 2025 às 09:00, Dispatch <editor@news.example.com> escreveu:",
            "Den mån 6 jan. 2025 kl 09:00 skrev Dispatch <editor@news.example.com>:",
            "man. 6. jan. 2025 kl. 09:00 skrev Dispatch <editor@news.example.com>:",
            "ma 6.1.2025 klo 9.00 Dispatch (editor@news.example.com) kirjoitti:",
            "W dniu 6.01.2025 o 09:00 Dispatch <editor@news.example.com> napisał:",
            "pon., 6 sty 2025 o 09:00 Dispatch <editor@news.example.com> napisał(a):",
            "2025年1月6日(月) 9:00 Dispatch <editor@news.example.com>:",
            "在 2025年1月6日 09:00，Dispatch <editor@news.example.com> 写道：",
            "пн, 6 янв. 2025 г. в 09:00, Dispatch <editor@news.example.com>:",
            "6 января 2025 г., в 09:00, Dispatch <editor@news.example.com> написал:",
            "6 січ. 2025 р. о 09:00 Dispatch <editor@news.example.com> пише:",
            "2025-01-06 09:00 GMT+01:00 Dispatch <editor@news.example.com>:",
            "2025/01/06 9:00、Dispatch <editor@news.example.com>のメール:",
            "2025年1月6日 9:00 Dispatch <editor@news.example.com> が書きました:",
            "Dnia 6.01.2025 o 09:00 Dispatch <editor@news.example.com> pisze:",
            "Dispatch <editor@news.example.com> schrieb am Mo., 6. Jan. 2025, 09:00:",
            "Dispatch <editor@news.example.com> schreef op ma 6 jan. 2025 om 09:00:",
            "Вторник, 6 января 2025, 9:00 +03:00 от Dispatch <editor@news.example.com>:",
            "Dispatch <editor@news.example.com> 於 2025年1月6日 週一 上午9:00寫道：",
        ];
        for header in headers {
            // Followed by a quote, and followed directly by the unquoted message.
            assert_reply(&reply_with(&format!("{header}\n\n> Spring issue\n")));
            assert_reply(&reply_with(&format!("{header}\n\nSpring issue\n")));
        }
    }

    #[test]
    fn removes_a_dated_address_line_above_a_quote() {
        for header in [
            "2025/1/6 Dispatch <editor@news.example.com>",
            "2025-01-06 9:00 GMT+01:00 Dispatch <editor@news.example.com>",
            "2025-01-06 9:00 GMT+01:00 Dispatch Editorial:",
        ] {
            assert_reply(&reply_with(&format!("{header}\n> Spring issue\n")));
            assert_reply(&reply_with(&format!("{header}\n\n> Spring issue\n")));
        }
        // Without a quote below, such a line is the reader's.
        for body in [
            "Contact:\n\n2025/1/6 Dispatch <editor@news.example.com>\n\nSee you.",
            "Plan:\n\n2025-01-06 9:00 meet at the harbour:\n\nbring maps.",
        ] {
            assert_eq!(reply_text(body), body);
        }
    }

    #[test]
    fn removes_a_quote_marked_with_pipes_under_a_reply_header() {
        for header in [
            "2025/1/6 Dispatch <editor@news.example.com>",
            "On Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:",
        ] {
            assert_reply(&reply_with(&format!(
                "{header}\n| Spring issue\n|\n| is here.\n"
            )));
        }
        let body = "On Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:\n| Will you come?\n\nYes, with two friends.";
        assert_eq!(reply_text(body), "Yes, with two friends.");
        // A Markdown table of the reader is no quote.
        let body = "Scores:\n\n| team | points |\n| a | 3 |";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn removes_quoted_lines_and_keeps_inline_answers() {
        let body = "On Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:\n> Will you come to the meetup?\n\nYes, with two friends.\n\n> Which day suits you?\n\nSaturday.\n";
        assert_eq!(reply_text(body), "Yes, with two friends.\n\nSaturday.");
    }

    #[test]
    fn removes_the_wrapped_tail_of_a_long_quoted_line() {
        let body = "Yes.\n\nOn Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:\n> This quoted line is long enough that the quoting client wrapped its last\nwords\n> onto the next line.\n";
        assert_eq!(reply_text(body), "Yes.");
    }

    #[test]
    fn removes_outlook_header_blocks() {
        let blocks = [
            "From: Dispatch <editor@news.example.com>\nSent: Monday, January 6, 2025 9:00 AM\nTo: Ann Reader <ann@example.org>\nSubject: [Dispatch V5N2] Spring issue\n\nSpring issue body",
            "*From:* Dispatch [mailto:editor@news.example.com]\n*Sent:* Monday, January 6, 2025 9:00 AM\n*To:* ann@example.org\n*Subject:* Spring issue\n\nSpring issue body",
            "De : Dispatch <editor@news.example.com>\nEnvoyé : lundi 6 janvier 2025 09:00\nÀ : ann@example.org\nObjet : Numéro de printemps\n\nCorps",
            "De\u{a0}: Dispatch <editor@news.example.com>\n\u{a0}À\u{a0}: ann@example.org\nEnvoyé le : lundi 6 janvier 2025 09:00\nObjet\u{a0}: Numéro",
            "Von: Dispatch <editor@news.example.com>\nGesendet: Montag, 6. Januar 2025 09:00\nAn: ann@example.org\nBetreff: Frühlingsausgabe\n\nText",
            "From: Dispatch\n<editor@news.example.com>\nSent: Monday, January 6, 2025 9:00 AM\nTo: Ann\nSubject: Spring issue",
            "Від: Dispatch <editor@news.example.com>\nНадіслано: 6 січня 2025 р. 9:00\nКому: ann@example.org\nТема: Весняний випуск",
            "От: Dispatch <editor@news.example.com>\nОтправлено: 6 января 2025 г. 9:00\nКому: ann@example.org\nТема: Весенний выпуск",
            "Od: Dispatch <editor@news.example.com>\nWysłano: 6 stycznia 2025 09:00\nDo: ann@example.org\nTemat: Wiosenny numer",
            "发件人: Dispatch <editor@news.example.com>\n发送时间: 2025年1月6日 9:00\n收件人: ann@example.org\n主题: 春季刊",
            "差出人: Dispatch <editor@news.example.com>\n送信日時: 2025年1月6日 9:00\n宛先: ann@example.org\n件名: 春号",
            // Each field set off by a blank line, as Outlook's HTML reads once made text.
            "From: Dispatch <editor@news.example.com>\n\nSent: Monday, January 6, 2025 9:00 AM\n\nTo: ann@example.org\n\nSubject: Spring issue\n\n\nSpring issue body",
            "Van: Dispatch <editor@news.example.com>\n\n\nVerzonden: maandag 6 januari 2025 09:00\n\nAan: ann@example.org\nOnderwerp: Lentenummer",
        ];
        for block in blocks {
            assert_reply(&reply_with(block));
        }
    }

    #[test]
    fn keeps_header_like_lines_of_the_reader() {
        let body = "Travel plan:\nFrom: Paris\nTo: Rome\n\nThe data comes From: our database.";
        assert_eq!(reply_text(body), body);
        let body = "Travel plan:\n\nFrom: Paris\n\nTo: Rome\n\nBack on Monday.";
        assert_eq!(reply_text(body), body);
        // Three fields apart, but none names an address: the reader's, not a client's.
        let body = "Trip:\n\nFrom: Paris\n\nTo: Rome\n\nDate: 5 May\n\nBack Monday.";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn removes_original_and_forwarded_message_separators() {
        let rests = [
            "-----Original Message-----\nFrom: editor@news.example.com\nSent: Monday\n\nBody",
            "----- Original Message -----\nBody",
            "-----Ursprüngliche Nachricht-----\nVon: Dispatch\nBody",
            "-------- Message d'origine --------\nDe : Dispatch\nBody",
            "---------- Forwarded message ---------\nFrom: Dispatch <editor@news.example.com>\nDate: Mon, Jan 6, 2025 at 9:00 AM\nSubject: Spring issue\nTo: <ann@example.org>\n\nBody",
            "Begin forwarded message:\n\nFrom: Dispatch <editor@news.example.com>\nSubject: Spring issue\n\nBody",
            "---- On Mon, 06 Jan 2025 09:00:00 +0100 editor@news.example.com wrote ----\n\nBody",
        ];
        for rest in rests {
            assert_reply(&reply_with(rest));
        }
    }

    #[test]
    fn cuts_at_underscore_rules() {
        assert_reply(&format!(
            "{REPLY}\n________________________________\nFrom: Dispatch <editor@news.example.com>\nSent: Monday\n"
        ));
        assert_reply(&reply_with(
            "_______________________________________________\nDispatch mailing list\nlist@example.org",
        ));
    }

    #[test]
    fn keeps_an_underscore_rule_between_parts_of_the_reply() {
        let own = "The map is fine.\n\n______________________________\n\nAbout the table: one row is missing.\n\nAnn";
        let body = format!(
            "{own}\n\nOn Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:\n> Spring issue\n"
        );
        assert_eq!(reply_text(&body), own);
        // Above a header block, even in a language without a table, the rule still cuts.
        assert_reply(&reply_with(
            "________________________________\nKimden: Dispatch <editor@news.example.com>\nTarih: 6 Ocak 2025\n\nBody\n\nOn Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:\n> older\n",
        ));
        // With no reply header below, what follows the rule is a footer.
        assert_reply(&reply_with(
            "________________________________\nDispatch mailing list\n\n> Spring issue\n",
        ));
    }

    #[test]
    fn removes_signatures() {
        let rests = [
            "-- \nAnn Reader\nTide Club",
            "--\nAnn Reader",
            "—\nAnn Reader\nTide Club",
            "Sent from my iPhone",
            "Sent from my Samsung Galaxy smartphone.",
            "Get Outlook for iOS<https://aka.ms/o0ukef>",
            "Get Outlook for Android",
            "Sent from Mail for Windows",
            "Sent from Yahoo Mail on Android",
            "Gesendet von meinem iPad",
            "Envoyé de mon iPhone",
            "Enviado desde mi iPhone",
            "Inviato da iPhone",
            "Verzonden vanaf mijn iPhone",
            "Verzonden vanuit Mail voor Windows",
            "Hämta Outlook för iOS<https://aka.ms/o0ukef>",
            "Hent Outlook til Android",
            "iPhoneから送信",
            "Надіслано з iPhone",
            "-------- Пересланное сообщение --------\nОт: Dispatch\nBody",
            "-------- Переслане повідомлення --------\nВід: Dispatch\nBody",
        ];
        for rest in rests {
            assert_reply(&reply_with(rest));
        }
        // A signature right under the text, without a blank line.
        assert_reply(&format!("{REPLY}\n-- \nAnn"));
    }

    #[test]
    fn removes_trailing_delimiter_and_invisible_lines() {
        for tail in [
            "--",
            "***",
            "####",
            "~~~~~",
            "======",
            "_______",
            "++++",
            "\u{1427}",
            "\u{200b}",
            "\u{200b} \u{feff}",
        ] {
            assert_reply(&format!("{REPLY}\n\n{tail}\n"));
            assert_reply(&format!("{REPLY}\n{tail}\n\n"));
        }
        // Followed by text, a delimiter line is the reader's layout.
        let body = "First point.\n\n####\n\nSecond point.";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn keeps_sentences_that_only_start_like_signatures() {
        let body = "Sent from my desk, which is easier than my phone.\n\nThe app sent from my iPhone all week.\n\nAnd here is a fix -- not a signature.";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn removes_confidentiality_footers() {
        assert_reply(&reply_with(
            "This e-mail and any attachments may contain confidential and privileged information. If you are not the intended recipient, please notify the sender and delete it.",
        ));
        assert_reply(&reply_with(
            "CONFIDENTIALITY NOTICE: The information in this message is confidential.",
        ));
        // The reader's first paragraph is never taken for a footer.
        let body = "This message is confidential: please do not forward it.";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn normalizes_line_endings_and_trims() {
        let body = "\r\n\r\nThanks for the issue, the tide tables were great.\r\n\r\nOne question: will there be a print edition?\r\n\r\n\r\n";
        assert_reply(body);
        assert_reply(&body.replace("\r\n", "\r"));
    }

    #[test]
    fn keeps_the_readers_layout() {
        let body = "Two points:\n\n- first, the map\n- second, the table\n    indented detail\n\n\nAnd a final paragraph.\n\nOn Mon, Jan 6, 2025 at 9:00 AM Dispatch <editor@news.example.com> wrote:\n> x\n";
        assert_eq!(
            reply_text(body),
            "Two points:\n\n- first, the map\n- second, the table\n    indented detail\n\n\nAnd a final paragraph."
        );
    }

    #[test]
    fn ignores_markers_inside_code_fences() {
        let body = "Here is my script:\n\n```\n--\nSent from my iPhone\n> not a quote\n```\n\nDoes it look right?";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn keeps_a_readers_own_quote_introduction() {
        let body = "In 2019 the author wrote:\n\nthe sea remembers.\n\nI still think so.";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn removes_a_verb_then_name_header_wrapped_over_lines() {
        assert_reply(&reply_with(
            "Am 06.01.2025 um 09:00 schrieb Dispatch Redaktion\nund Team:\n\nFrühlingsausgabe",
        ));
    }

    #[test]
    fn keeps_sentences_starting_with_on() {
        let body = "On the whole I agree.\nOn Monday I will send the photos:\n\nthree of them.";
        assert_eq!(reply_text(body), body);
    }

    #[test]
    fn a_reply_that_is_only_a_quote_or_a_forward_keeps_that_text() {
        assert_eq!(
            reply_text(
                "On Mon, Jan 6, 2025 at 9:00 AM Dispatch <ed@example.com> wrote:\n> x\n>\n> y\n"
            ),
            "x\n\ny"
        );
        assert_eq!(reply_text("> Spring issue\n>> older\n"), "Spring issue");
        assert_eq!(
            reply_text(
                "---------- Forwarded message ---------\nFrom: Dispatch <ed@example.com>\nDate: Mon, Jan 6, 2025\nSubject: Spring\nTo: <ann@example.org>\n\nSpring issue body\n\n-- \nDispatch"
            ),
            "Spring issue body"
        );
        assert_eq!(
            reply_text(
                "Begin forwarded message:\n\nFrom: Dispatch <ed@example.com>\nSubject: Spring\n\nSpring issue body"
            ),
            "Spring issue body"
        );
    }

    #[test]
    fn a_reply_that_is_only_a_signature_is_empty() {
        assert_eq!(reply_text(""), "");
        assert_eq!(reply_text("\n\n"), "");
        assert_eq!(reply_text("-- \nAnn Reader"), "");
        assert_eq!(reply_text("Sent from my iPhone"), "");
    }

    #[test]
    fn long_lines_are_handled_quickly() {
        let body = format!("{REPLY}\n{}\n{}", ">".repeat(200_000), "x".repeat(200_000));
        assert!(reply_text(&body).ends_with('x'));
    }

    /// Reproducible noise from an alphabet of characters that matter to the scanners.
    pub(crate) fn noise(seed: u64, len: usize, alphabet: &[&str]) -> String {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                alphabet[(state >> 33) as usize % alphabet.len()]
            })
            .collect()
    }

    #[test]
    fn reply_text_never_panics_on_noise() {
        let alphabet = [
            "a",
            "On ",
            " wrote:",
            ">",
            ":",
            "-",
            "_",
            "—",
            "\n",
            "\r\n",
            " ",
            "@",
            "<",
            "2025",
            "é",
            "写道",
            "\u{a0}",
            "```",
            "From: ",
            "Sent: ",
            "To: ",
            "Subject: ",
            "9:00",
        ];
        for seed in 0..300 {
            let text = noise(seed, (seed as usize * 13) % 400, &alphabet);
            let _ = reply_text(&text);
            for end in (0..text.len())
                .filter(|&e| text.is_char_boundary(e))
                .step_by(7)
            {
                let _ = reply_text(&text[..end]);
            }
        }
    }
}
