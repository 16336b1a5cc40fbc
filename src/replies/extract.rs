//! Reader-text extraction: what a reader wrote in a reply, without the quoted message, the
//! client's reply header, forwarded blocks, signatures and legal footers.
//!
//! Plain text goes through [`reply_text`]; HTML-only mail goes through [`html_to_text`] first,
//! which drops the parts that mail clients mark in their markup, then renders the rest as text.
//!
//! Everything here is line- and tag-based string code. Mail bodies are untrusted input: every
//! scan is linear or bounded, and strings are only sliced at positions found in them.

use std::cell::RefCell;
use std::rc::Rc;

use html2text::render::{TaggedLine, TextDecorator};

/// Lines longer than this are never taken for a reply header: headers are short, and skipping
/// huge lines keeps the scan cheap on pathological input.
const MAX_HEADER_LINE: usize = 1_000;

/// A reply header ("On … wrote:") spans at most this many lines when a client wraps it.
const MAX_HEADER_LINES: usize = 3;

/// Quoted lines at least this long were probably wrapped by the quoting client, so an unquoted
/// line squeezed between two quoted lines is the wrapped tail of a quote, not the reader's text.
const WRAPPED_QUOTE_LEN: usize = 60;

/// The reader's own text in a plain-text reply body.
///
/// Removes quoted lines, reply headers in common languages (also when wrapped over up to three
/// lines), Outlook-style header blocks, "Original Message" and forwarding separators, signatures
/// and device footers ("Sent from my iPhone", "Get Outlook for iOS"), confidentiality footers and
/// trailing blank lines. Paragraph breaks, lists and indentation of the reader's text stay.
pub fn reply_text(body: &str) -> String {
    let text = normalize_newlines(body);
    let lines: Vec<&str> = text.split('\n').collect();
    let fenced = fenced_lines(&lines);
    let mut dropped = vec![false; lines.len()];
    let cut = find_cut(&lines, &fenced, &mut dropped);
    mark_quoted(&lines[..cut], &fenced[..cut], &mut dropped[..cut]);
    let mut kept = join_segments(&lines[..cut], &dropped[..cut]);
    if cut < lines.len() {
        strip_trailing_separators(&mut kept);
    }
    kept.join("\n").trim().to_string()
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

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_blank(line: &str) -> bool {
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
            || is_underscore_rule(line)
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
            } else {
                return start;
            }
        }
        seen_text |= !is_blank(line);
        i += 1;
    }
    lines.len()
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

/// Whether the next non-blank line from `from` on is quoted.
fn followed_by_quote(lines: &[&str], from: usize) -> bool {
    lines
        .iter()
        .skip(from)
        .find(|l| !is_blank(l))
        .is_some_and(|l| is_quoted(l))
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

/// Separator lines ("=====", "-----") and blank lines left at the end once the quoted part
/// below them is gone.
fn strip_trailing_separators(lines: &mut Vec<&str>) {
    while let Some(last) = lines.last() {
        if is_blank(last) || is_rule(last) {
            lines.pop();
        } else {
            break;
        }
    }
}

/// A line made only of rule characters, at least two of them.
fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.chars().count() >= 2 && t.chars().all(|c| "-_=*~—–".contains(c))
}

/// "-- " (RFC 3676), a bare "--", or a line of em/en dashes that some clients put above the
/// signature. Longer runs of ASCII hyphens are Markdown rules or table lines, not delimiters.
fn is_signature_delimiter(line: &str) -> bool {
    let t = line.trim_end();
    t == "--" || (!t.is_empty() && t.chars().all(|c| c == '—' || c == '–'))
}

/// Words that appear inside the dashed separators clients put above a quoted or forwarded
/// message ("-----Original Message-----", "---------- Forwarded message ---------").
const SEPARATOR_WORDS: &[&str] = &[
    "original",
    "forward",
    "message",
    "nachricht",
    "besked",
    "meddelande",
    "melding",
    "mensaje",
    "messaggio",
    "mensagem",
    "bericht",
    "wiadomo",
    "сообщение",
    "viesti",
    "origine",
    "weitergeleitet",
    "reenviado",
    "inoltrato",
    "doorgestuurd",
    "videresendt",
    "vidarebefordrat",
    "wrote",
    "schrieb",
    "écrit",
    "escribió",
    "原始邮件",
    "原始郵件",
    "転送",
];

/// A line like "-----Original Message-----": at least three dashes on both sides of a few
/// words naming a previous or forwarded message.
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
    !core.is_empty() && SEPARATOR_WORDS.iter().any(|w| core.contains(w))
}

/// "________________________________": Outlook's line above the quoted header block, and the
/// line above mailing-list footers.
fn is_underscore_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 2 && t.chars().all(|c| c == '_')
}

const FORWARD_INTROS: &[&str] = &[
    "begin forwarded message",
    "forwarded message:",
    "début du message réexpédié",
    "début du message transféré",
    "anfang der weitergeleiteten nachricht",
    "inicio del mensaje reenviado",
    "inizio messaggio inoltrato",
    "begin doorgestuurd bericht",
    "início da mensagem reencaminhada",
    "vidarebefordrat meddelande",
];

/// Apple Mail's "Begin forwarded message:" and its translations.
fn is_forward_intro(line: &str) -> bool {
    let t = line.trim().to_lowercase();
    FORWARD_INTROS.iter().any(|p| t.starts_with(p))
}

/// Openings of the footers that mail apps append ("Sent from my iPhone", "Get Outlook for
/// iOS", and their translations).
const DEVICE_PREFIXES: &[&str] = &[
    "sent from ",
    "sent via ",
    "sent with ",
    "sent using ",
    "get outlook for ",
    "download outlook for ",
    "gesendet von ",
    "gesendet mit ",
    "von meinem ",
    "outlook für ",
    "envoyé de ",
    "envoyé depuis ",
    "envoyé à partir de ",
    "envoyé avec ",
    "obtenir outlook pour ",
    "télécharger outlook pour ",
    "enviado desde ",
    "enviado de ",
    "enviado do ",
    "enviado con ",
    "obtener outlook para ",
    "inviato da ",
    "inviato con ",
    "verzonden met ",
    "verzonden vanaf ",
    "verstuurd vanaf ",
    "verstuurd met ",
    "skickat från ",
    "sendt fra ",
    "lähetetty ",
    "wysłane z ",
    "отправлено с ",
    "отправлено из ",
];

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
    DEVICE_PREFIXES.iter().any(|p| lower.starts_with(p))
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

/// Which field of a quoted header block a line names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderKey {
    From,
    Other(&'static str),
}

/// The sender field of quoted header blocks, in the languages of common mail clients.
const FROM_KEYS: &[&str] = &[
    "from",
    "de",
    "von",
    "van",
    "da",
    "från",
    "fra",
    "od",
    "от",
    "lähettäjä",
    "feladó",
    "expéditeur",
    "remitente",
    "mittente",
    "afzender",
    "avsändare",
    "发件人",
    "寄件者",
    "差出人",
];

/// The other fields of quoted header blocks (date, recipients, subject).
const OTHER_KEYS: &[&str] = &[
    "sent",
    "date",
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "envoyé",
    "envoyé le",
    "à",
    "a",
    "objet",
    "sujet",
    "copie à",
    "message du",
    "gesendet",
    "an",
    "betreff",
    "datum",
    "kopie",
    "verzonden",
    "aan",
    "onderwerp",
    "inviato",
    "oggetto",
    "data",
    "enviado",
    "enviada",
    "para",
    "assunto",
    "asunto",
    "fecha",
    "skickat",
    "till",
    "ämne",
    "sendt",
    "til",
    "emne",
    "dato",
    "lähetetty",
    "vastaanottaja",
    "aihe",
    "päivämäärä",
    "wysłano",
    "wysłane",
    "do",
    "temat",
    "отправлено",
    "кому",
    "тема",
    "дата",
    "elküldve",
    "címzett",
    "tárgy",
    "dátum",
    "发送时间",
    "收件人",
    "主题",
    "日期",
    "送信日時",
    "宛先",
    "件名",
    "日付",
];

/// The header field a line starts with, if any ("From: …", "*Sent:* …", "Objet\u{a0}: …").
fn header_key(line: &str) -> Option<HeaderKey> {
    let t = line.trim().trim_start_matches('*');
    let colon = t.find([':', '：'])?;
    let key = t[..colon].trim_matches(|c: char| c.is_whitespace() || c == '*');
    if key.chars().count() > 20 {
        return None;
    }
    let key = key.to_lowercase();
    if FROM_KEYS.contains(&key.as_str()) {
        return Some(HeaderKey::From);
    }
    OTHER_KEYS
        .iter()
        .find(|k| **k == key)
        .map(|k| HeaderKey::Other(k))
}

/// A quoted header block ("From: … / Sent: … / To: … / Subject: …") starting at line `i`: a
/// run of non-blank lines, starting with a field, holding a sender field and at least three
/// distinct fields. Three fields keep a reader's own "From: Paris / To: Rome" out.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    if header_key(lines[i]).is_none() {
        return false;
    }
    let mut keys: Vec<HeaderKey> = Vec::new();
    for line in lines.iter().skip(i).take(8) {
        if is_blank(line) {
            break;
        }
        if let Some(k) = header_key(line)
            && !keys.contains(&k)
        {
            keys.push(k);
        }
    }
    keys.contains(&HeaderKey::From) && keys.len() >= 3
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

/// Verbs that end reply headers ("… wrote:", "… a écrit :", "… schrieb:").
const HEADER_VERBS: &[&str] = &[
    "wrote",
    "writes",
    "a écrit",
    "schrieb",
    "geschrieben",
    "escribió",
    "escribio",
    "schreef",
    "ha scritto",
    "scrisse",
    "escreveu",
    "skrev",
    "kirjoitti",
    "napisał",
    "napisała",
    "napisał(a)",
    "napsal",
    "napsala",
    "napísal",
    "napisao",
    "írta",
    "написал",
    "написала",
    "написал(а)",
    "a scris",
    "yazdı",
    "έγραψε",
    "kirjutas",
    "rašė",
    "写道",
    "寫道",
    "のメッセージ",
];

/// Words that open reply headers in common languages ("On", "Le", "Am", "El", "Op", "Il", "In
/// data", "Em", "Den", "W dniu", "Dnia").
const HEADER_OPENERS: &[&str] = &[
    "on", "le", "am", "el", "op", "il", "in data", "em", "den", "på", "w dniu", "dnia", "dne", "在",
];

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

/// If line `j` ends a reply header, the index of the header's first line.
fn reply_header_ending_at(lines: &[&str], j: usize) -> Option<usize> {
    let end_line = clean_header_line(lines[j]);
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
    colon || HEADER_VERBS.iter().any(|v| ends_with_word(&body, v))
}

fn header_ending(text: &str) -> Option<HeaderEnd> {
    let (body, colon) = without_colon(text);
    if HEADER_VERBS.iter().any(|v| ends_with_word(&body, v)) {
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
    let verb_then_name = HEADER_VERBS.iter().any(|v| {
        word_positions(&body, v).any(|end| body[end..].split_whitespace().count() <= MAX_NAME_WORDS)
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
    HEADER_OPENERS.iter().any(|o| {
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

// ---------------------------------------------------------------------------------------------
// HTML

/// Text of an HTML-only mail body, without the quoted message and signatures that mail
/// clients mark in their markup (Gmail, Outlook, Thunderbird, Apple Mail, Yahoo, Proton Mail).
///
/// The marked parts are removed with a tag scanner first; the rest is rendered with html2text
/// without wrapping, links written as "text <url>".
///
/// Linear in time and bounded in memory on any input: a body over [`MAX_HTML_BYTES`] is cut
/// there, and elements nested deeper than [`MAX_HTML_DEPTH`] lose their tags (not their text)
/// before html5ever sees them, whose tree building checks the stack of open elements for every
/// tag. What was cut or flattened is said in [`HtmlText::notes`].
pub fn html_to_text(html: &str) -> HtmlText {
    let (html, cut) = cap_size(html);
    let (kept, kept_to_end) = strip_marked_parts(html);
    let (flat, flattened) = limit_depth(&kept);
    let mut notes = Vec::new();
    if flattened {
        notes.push(format!(
            "[…markup nested deeper than {MAX_HTML_DEPTH} levels was flattened]"
        ));
    }
    // A cut inside a quote that is removed anyway loses nothing the reader wrote.
    if cut && kept_to_end {
        notes.push(format!(
            "[…the rest of this message was cut: over {} MB of HTML]",
            MAX_HTML_BYTES / (1024 * 1024)
        ));
    }
    HtmlText {
        text: render_html(&flat),
        notes,
    }
}

/// An HTML body as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    pub text: String,
    /// One line for each limit that changed the result, to be shown after the text.
    pub notes: Vec<String>,
}

/// HTML beyond this many bytes is not read. A reply's own text is a few kilobytes, and one
/// that quotes a whole issue stays near Gmail's 102 KB clip; converting costs up to about 250
/// bytes of memory per byte of HTML (a table row of many cells, `bench/replies-html.sh`).
pub const MAX_HTML_BYTES: usize = 1024 * 1024;

/// Elements nested deeper than this keep their text but lose their tags. Mail clients' markup
/// stays under 50 levels; html5ever's cost per tag grows with the depth.
pub const MAX_HTML_DEPTH: usize = 256;

/// `html` cut to [`MAX_HTML_BYTES`] (at a character boundary, before a tag cut in half), and
/// whether it was cut.
fn cap_size(html: &str) -> (&str, bool) {
    if html.len() <= MAX_HTML_BYTES {
        return (html, false);
    }
    let end = html.floor_char_boundary(MAX_HTML_BYTES);
    let head = &html[..end];
    let end = match (head.rfind('<'), head.rfind('>')) {
        (Some(open), close) if close.is_none_or(|c| c < open) => open,
        _ => end,
    };
    (&html[..end], true)
}

/// Elements whose end tag may be left out: html5ever closes them when the next one opens, so
/// they never pile up on its stack and are not counted.
const OPTIONAL_END: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "rt",
    "rp", "colgroup",
];

/// `html` with the tags of elements nested deeper than [`MAX_HTML_DEPTH`] removed (their text
/// stays), and whether any were. The nesting is followed with a stack of open element names
/// that an end tag pops down to its element, as a browser does; a start tag beyond the limit
/// and the end tag that closes it are dropped.
fn limit_depth(html: &str) -> (String, bool) {
    let mut open: Vec<&str> = Vec::new();
    let mut dropped: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    let mut flattened = false;
    let tags = scan_tags(html);
    for tag in &tags {
        let name = tag.name.as_str();
        if tag.self_closing || is_void(name) || OPTIONAL_END.contains(&name) {
            continue;
        }
        let keep = if !tag.closing {
            let room = open.len() < MAX_HTML_DEPTH;
            if room {
                open.push(name);
            } else {
                *dropped.entry(name).or_default() += 1;
            }
            room
        } else if let Some(n) = dropped.get_mut(name).filter(|n| **n > 0) {
            *n -= 1;
            false
        } else {
            if let Some(at) = open.iter().rposition(|o| *o == name) {
                open.truncate(at);
            }
            true
        };
        if !keep {
            flattened = true;
            out.push_str(html.get(pos..tag.start).unwrap_or(""));
            pos = tag.stop;
        }
    }
    out.push_str(html.get(pos..).unwrap_or(""));
    (out, flattened)
}

/// One tag found by the scanner.
struct Tag {
    /// Lowercase element name.
    name: String,
    closing: bool,
    self_closing: bool,
    /// Lowercase attribute names with their values.
    attrs: Vec<(String, String)>,
    /// Byte offset of '<'.
    start: usize,
    /// Byte offset just past '>'.
    stop: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x.eq_ignore_ascii_case(class)))
    }

    fn has_id(&self, id: &str) -> bool {
        self.attr("id").is_some_and(|v| v.eq_ignore_ascii_case(id))
    }
}

/// Elements whose content is raw text: a '<' inside them does not start a tag.
const RAW_TEXT_ELEMENTS: &[&str] = &["script", "style", "textarea", "title"];

/// All tags of `html`, in order. Comments, doctypes and processing instructions are skipped,
/// and so is the content of raw-text elements. Malformed markup never stops the scan: a stray
/// '<' is text, and an unterminated tag ends the document.
fn scan_tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(off) = html.get(i..).and_then(|rest| rest.find('<')) {
        let start = i + off;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            i = rest.find("-->").map_or(html.len(), |e| start + e + 3);
            continue;
        }
        let next = bytes.get(start + 1).copied().unwrap_or(b' ');
        if next == b'!' || next == b'?' {
            i = rest.find('>').map_or(html.len(), |e| start + e + 1);
            continue;
        }
        let closing = next == b'/';
        let name_from = start + 1 + usize::from(closing);
        let name_len = html[name_from..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b':' || *b == b'-')
            .count();
        if name_len == 0 || !bytes[name_from].is_ascii_alphabetic() {
            i = start + 1;
            continue;
        }
        let name = html[name_from..name_from + name_len].to_ascii_lowercase();
        let attrs_from = name_from + name_len;
        let Some(close) = find_tag_end(&html[attrs_from..]) else {
            break;
        };
        let attr_text = &html[attrs_from..attrs_from + close];
        let stop = attrs_from + close + 1;
        let raw = !closing && RAW_TEXT_ELEMENTS.contains(&name.as_str());
        tags.push(Tag {
            self_closing: attr_text.trim_end().ends_with('/'),
            attrs: if closing {
                Vec::new()
            } else {
                parse_attrs(attr_text)
            },
            name,
            closing,
            start,
            stop,
        });
        i = if raw {
            skip_raw_text(html, stop, &tags)
        } else {
            stop
        };
    }
    tags
}

/// Offset of the '>' that ends a tag, ignoring '>' inside quoted attribute values.
fn find_tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Where the content of the raw-text element just opened ends (at its closing tag).
fn skip_raw_text(html: &str, from: usize, tags: &[Tag]) -> usize {
    let Some(name) = tags.last().map(|t| t.name.as_str()) else {
        return from;
    };
    let needle = format!("</{name}");
    let rest = html.get(from..).unwrap_or("");
    find_ascii_ci(rest, &needle).map_or(html.len(), |p| from + p)
}

/// Case-insensitive search for an ASCII needle.
fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Attributes of a tag: `name`, `name=value`, `name="value"`, `name='value'`.
fn parse_attrs(text: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        if c.is_whitespace() || c == '/' {
            chars.next();
            continue;
        }
        let mut name = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == '/' {
                break;
            }
            name.push(c.to_ascii_lowercase());
            chars.next();
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek().is_some_and(|(_, c)| *c == '=') {
            chars.next();
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                chars.next();
            }
            match chars.peek().map(|(_, c)| *c) {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    for (_, c) in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some(&(_, c)) = chars.peek() {
                        if c.is_whitespace() {
                            break;
                        }
                        value.push(c);
                        chars.next();
                    }
                }
            }
        }
        if !name.is_empty() {
            attrs.push((name, value));
        }
    }
    attrs
}

/// What to do with an element that a mail client marked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Remove the element with its content.
    Element,
    /// Remove the element and everything after it.
    Rest,
}

/// The client markers. A generic `<blockquote>` is handled separately: it is only removed when
/// the reader's text comes before it.
fn marker(tag: &Tag) -> Option<Mark> {
    if tag.closing {
        return None;
    }
    let is = |name: &str| tag.name == name;
    if tag.has_id("divRplyFwdMsg") || tag.has_id("appendonsend") || tag.has_id("stopSpelling") {
        return Some(Mark::Rest);
    }
    if is("div") && is_outlook_header_border(tag) {
        return Some(Mark::Rest);
    }
    let element = tag.has_class("gmail_quote")
        || tag.has_class("gmail_signature")
        || tag.has_class("gmail_signature_prefix")
        || tag.attr("data-smartmail") == Some("gmail_signature")
        || tag.has_class("moz-cite-prefix")
        || tag.has_class("moz-signature")
        || (is("blockquote")
            && tag
                .attr("type")
                .is_some_and(|t| t.eq_ignore_ascii_case("cite")))
        || tag.has_id("AppleMailSignature")
        || tag.has_class("yahoo_quoted")
        || tag.has_class("protonmail_quote")
        || tag.has_class("protonmail_signature_block");
    element.then_some(Mark::Element)
}

/// Outlook desktop puts the quoted header ("From: … Sent: …") in a div with a thin top border.
fn is_outlook_header_border(tag: &Tag) -> bool {
    let style: String = tag
        .attr("style")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    [
        "border-top:solid#e1e1e1",
        "border-top:solid#b5c4df",
        "border-top:solidrgb(225,225,225)",
    ]
    .iter()
    .any(|b| style.contains(b))
}

/// End (byte offset past the closing tag) of the element opened by `tags[i]`; the end of the
/// document when it is never closed.
fn element_end(tags: &[Tag], i: usize, doc_len: usize) -> usize {
    let open = &tags[i];
    if open.self_closing || is_void(&open.name) {
        return open.stop;
    }
    let mut depth = 0usize;
    for t in &tags[i..] {
        if t.name != open.name {
            continue;
        }
        if !t.closing {
            if !t.self_closing {
                depth += 1;
            }
        } else {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return t.stop;
            }
        }
    }
    doc_len
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Visible text between two tags: anything but whitespace and non-breaking spaces.
fn has_visible_text(fragment: &str) -> bool {
    fragment
        .replace("&nbsp;", " ")
        .replace("&#160;", " ")
        .chars()
        .any(|c| !c.is_whitespace())
}

/// `html` without the parts mail clients mark as quote or signature, and whether its end was
/// kept (not inside a removed part).
fn strip_marked_parts(html: &str) -> (String, bool) {
    let tags = scan_tags(html);
    let mut removed: Vec<(usize, usize)> = Vec::new();
    let mut cut = html.len();
    let mut skip_until = 0;
    let mut seen_text = false;
    let mut in_head = false;
    let mut prev_stop = 0;
    let mut last_hr: Option<(usize, usize)> = None;
    for (i, tag) in tags.iter().enumerate() {
        if tag.start < skip_until {
            continue;
        }
        let between = html.get(prev_stop..tag.start).unwrap_or("");
        if !in_head && has_visible_text(between) {
            seen_text = true;
            last_hr = None;
        }
        prev_stop = tag.stop;
        match (tag.name.as_str(), tag.closing) {
            ("head", closing) => in_head = !closing,
            ("img", false) if !in_head => seen_text = true,
            _ => {}
        }
        let mark = marker(tag).or_else(|| {
            (tag.name == "blockquote" && !tag.closing && seen_text).then_some(Mark::Element)
        });
        match mark {
            Some(Mark::Rest) => {
                cut = last_hr.map_or(tag.start, |(hr_start, _)| hr_start);
                break;
            }
            Some(Mark::Element) => {
                let end = element_end(&tags, i, html.len());
                removed.push((tag.start, end));
                skip_until = end;
                prev_stop = end;
            }
            None if tag.name == "hr" && !tag.closing => last_hr = Some((tag.start, tag.stop)),
            None => {}
        }
    }
    let kept_to_end = cut == html.len() && removed.last().is_none_or(|(_, end)| *end < html.len());
    let mut out = String::with_capacity(cut);
    let mut pos = 0;
    for (start, end) in removed {
        if start >= cut {
            break;
        }
        out.push_str(html.get(pos..start).unwrap_or(""));
        pos = end.min(cut);
    }
    out.push_str(html.get(pos..cut).unwrap_or(""));
    (out, kept_to_end)
}

/// Render width: wide enough that html2text never wraps a paragraph or a link.
const RENDER_WIDTH: usize = 100_000;

/// HTML to plain text with html2text: no wrapping, tables flattened without borders, links as
/// "text <url>".
fn render_html(html: &str) -> String {
    let links = Rc::new(RefCell::new(Vec::new()));
    let rendered = html2text::config::with_decorator(LinkDecorator::new(Rc::clone(&links)))
        .raw_mode(true)
        .no_table_borders()
        .no_link_wrapping()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), RENDER_WIDTH);
    let text = match rendered {
        Ok(t) => t,
        // html2text only fails on I/O or impossible widths; fall back to the bare text so a
        // body is never lost.
        Err(_) => strip_tags(html),
    };
    tidy_rendered(&collapse_self_links(&text))
}

/// Text of `html` with every tag removed; used only if rendering fails.
fn strip_tags(html: &str) -> String {
    let tags = scan_tags(html);
    let mut out = String::new();
    let mut pos = 0;
    for t in &tags {
        out.push_str(html.get(pos..t.start).unwrap_or(""));
        pos = t.stop;
    }
    out.push_str(html.get(pos..).unwrap_or(""));
    out
}

/// Trailing spaces removed, runs of blank lines reduced to one, surrounding blank lines gone.
fn tidy_rendered(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n").trim().to_string()
}

/// "https://x <https://x>" → "https://x", and "a@b <a@b>" → "a@b": a link whose text already
/// is its target needs no repetition.
fn collapse_self_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(" <") {
        let after = &rest[open + 2..];
        let Some(close) = after.find('>') else {
            break;
        };
        let target = &after[..close];
        let before = &rest[..open];
        let bare = target.strip_prefix("mailto:").unwrap_or(target);
        let redundant = !target.is_empty()
            && (before.ends_with(target)
                || before.ends_with(bare)
                || before.ends_with(target.trim_end_matches('/')));
        out.push_str(before);
        if !redundant {
            out.push_str(&rest[open..open + 2 + close + 1]);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// html2text decorator for reply text: plain text, links as "text <url>", images as their alt
/// text, list items as "- ", quotes as "> " (so that [`reply_text`] can drop them).
#[derive(Clone)]
struct LinkDecorator {
    /// Targets of the links being rendered, innermost last. Shared between the decorators of
    /// nested blocks, because a link may open in one block and close in a sub-block.
    open_links: Rc<RefCell<Vec<String>>>,
}

impl LinkDecorator {
    fn new(open_links: Rc<RefCell<Vec<String>>>) -> Self {
        LinkDecorator { open_links }
    }
}

/// Link targets worth showing: web and mail links, not page anchors or scripts.
fn shown_target(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Some(u.to_string())
    } else {
        lower
            .starts_with("mailto:")
            .then(|| {
                u.get(7..)
                    .unwrap_or("")
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .filter(|a| !a.is_empty())
    }
}

impl TextDecorator for LinkDecorator {
    type Annotation = ();

    fn decorate_link_start(&mut self, url: &str) -> (String, Self::Annotation) {
        self.open_links
            .borrow_mut()
            .push(shown_target(url).unwrap_or_default());
        (String::new(), ())
    }

    fn decorate_link_end(&mut self) -> String {
        match self.open_links.borrow_mut().pop() {
            Some(target) if !target.is_empty() => format!(" <{target}>"),
            _ => String::new(),
        }
    }

    fn decorate_em_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_em_end(&self) -> String {
        String::new()
    }

    fn decorate_strong_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_strong_end(&self) -> String {
        String::new()
    }

    fn decorate_strikeout_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }

    fn decorate_code_start(&self) -> (String, Self::Annotation) {
        (String::new(), ())
    }

    fn decorate_code_end(&self) -> String {
        String::new()
    }

    fn decorate_preformat_first(&self) -> Self::Annotation {}

    fn decorate_preformat_cont(&self) -> Self::Annotation {}

    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, Self::Annotation) {
        (title.to_string(), ())
    }

    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }

    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }

    fn unordered_item_prefix(&self) -> String {
        "- ".to_string()
    }

    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }

    fn make_subblock_decorator(&self) -> Self {
        self.clone()
    }

    fn finalise(&mut self, _urls: Vec<String>) -> Vec<TaggedLine<Self::Annotation>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of an HTML body, without the notes.
    fn html_text(html: &str) -> String {
        html_to_text(html).text
    }

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
        ];
        for header in headers {
            // Followed by a quote, and followed directly by the unquoted message.
            assert_reply(&reply_with(&format!("{header}\n\n> Spring issue\n")));
            assert_reply(&reply_with(&format!("{header}\n\nSpring issue\n")));
        }
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
        ];
        for block in blocks {
            assert_reply(&reply_with(block));
        }
    }

    #[test]
    fn keeps_header_like_lines_of_the_reader() {
        let body = "Travel plan:\nFrom: Paris\nTo: Rome\n\nThe data comes From: our database.";
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
            "iPhoneから送信",
        ];
        for rest in rests {
            assert_reply(&reply_with(rest));
        }
        // A signature right under the text, without a blank line.
        assert_reply(&format!("{REPLY}\n-- \nAnn"));
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
    fn a_reply_that_is_only_quote_or_signature_is_empty() {
        assert_eq!(reply_text(""), "");
        assert_eq!(reply_text("\n\n"), "");
        assert_eq!(
            reply_text("On Mon, Jan 6, 2025 at 9:00 AM Dispatch <ed@example.com> wrote:\n> x\n"),
            ""
        );
        assert_eq!(reply_text("-- \nAnn Reader"), "");
        assert_eq!(reply_text("Sent from my iPhone"), "");
    }

    #[test]
    fn long_lines_are_handled_quickly() {
        let body = format!("{REPLY}\n{}\n{}", ">".repeat(200_000), "x".repeat(200_000));
        assert!(reply_text(&body).ends_with('x'));
    }

    /// Reproducible noise from an alphabet of characters that matter to the scanners.
    fn noise(seed: u64, len: usize, alphabet: &[&str]) -> String {
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

    #[test]
    fn html_to_text_never_panics_on_noise() {
        let alphabet = [
            "<",
            ">",
            "/",
            "div",
            " class=\"gmail_quote\"",
            " id=divRplyFwdMsg",
            "blockquote",
            "\"",
            "'",
            "=",
            "!--",
            "-->",
            "text",
            "é",
            "<hr>",
            "<script>",
            "</script>",
            "&nbsp;",
            " type=cite",
            "<a href=\"https://x\">",
            "</a>",
            "<table><tr><td>",
            "\n",
        ];
        for seed in 0..300 {
            let html = noise(seed, (seed as usize * 11) % 300, &alphabet);
            let _ = html_text(&html);
        }
    }

    // -- HTML ----------------------------------------------------------------------------------

    fn html_page(body: &str) -> String {
        format!(
            "<html><head><meta charset=\"utf-8\"><style>p {{ margin: 0 }} .gmail_quote {{ }}</style></head><body>{body}</body></html>"
        )
    }

    const HTML_REPLY: &str = "Count me in for the meetup.";

    fn assert_html_reply(body: &str) {
        assert_eq!(html_text(&html_page(body)), HTML_REPLY, "html:\n{body}");
    }

    #[test]
    fn html_removes_gmail_quote_and_signature() {
        assert_html_reply(
            "<div dir=\"ltr\">Count me in for the meetup.<br clear=\"all\"><div><br></div><span class=\"gmail_signature_prefix\">-- </span><br><div dir=\"ltr\" class=\"gmail_signature\" data-smartmail=\"gmail_signature\"><div dir=\"ltr\">Ann Reader<div>Tide Club</div></div></div></div><br><div class=\"gmail_quote gmail_quote_container\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon, Jan 6, 2025 at 9:00 AM Dispatch &lt;<a href=\"mailto:editor@news.example.com\">editor@news.example.com</a>&gt; wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\"><div dir=\"ltr\">Spring issue</div></blockquote></div>",
        );
        assert_html_reply(
            "<div>Count me in for the meetup.</div><blockquote class=\"gmail_quote\">Spring issue</blockquote>",
        );
    }

    #[test]
    fn html_removes_outlook_web_reply() {
        assert_html_reply(
            "<div style=\"font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;\">Count me in for the meetup.</div><div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" style=\"font-size:11pt\"><b>From:</b> Dispatch &lt;editor@news.example.com&gt;<br><b>Sent:</b> Monday, January 6, 2025 9:00 AM<br><b>To:</b> Ann<br><b>Subject:</b> Spring issue</font><div>&nbsp;</div></div><div>Spring issue body</div>",
        );
        // Without the appendonsend marker, the rule above divRplyFwdMsg goes too.
        assert_html_reply(
            "<div>Count me in for the meetup.</div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> Dispatch</div><div>Spring issue body</div>",
        );
    }

    #[test]
    fn html_removes_outlook_desktop_reply() {
        assert_html_reply(
            "<div class=WordSection1><p class=MsoNormal>Count me in for the meetup.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b><span lang=EN-US>From:</span></b><span lang=EN-US> Dispatch &lt;editor@news.example.com&gt;<br><b>Sent:</b> Monday, January 6, 2025 9:00 AM<br><b>Subject:</b> Spring issue<o:p></o:p></span></p></div></div><p class=MsoNormal>Spring issue body<o:p></o:p></p></div>",
        );
        assert_html_reply(
            "<div class=WordSection1><p class=MsoNormal>Count me in for the meetup.</p><div style=\"border:none; border-top:solid #B5C4DF 1.0pt; padding:3.0pt 0in 0in 0in\"><p><b>From:</b> Dispatch</p></div><p>Spring issue body</p></div>",
        );
    }

    #[test]
    fn html_removes_thunderbird_quote_and_signature() {
        assert_html_reply(
            "<p>Count me in for the meetup.</p><div class=\"moz-cite-prefix\">On 06/01/2025 09:00, Dispatch wrote:<br></div><blockquote type=\"cite\" cite=\"mid:v5n2@news.example.com\"><p>Spring issue</p></blockquote><pre class=\"moz-signature\" cols=\"72\">-- \nAnn Reader</pre>",
        );
    }

    #[test]
    fn html_removes_apple_mail_quote_and_signature() {
        assert_html_reply(
            "<div dir=\"ltr\">Count me in for the meetup.</div><div dir=\"ltr\"><br><div id=\"AppleMailSignature\" dir=\"ltr\">Sent from my iPhone</div><div dir=\"ltr\"><br><blockquote type=\"cite\">On 6 Jan 2025, at 09:00, Dispatch &lt;editor@news.example.com&gt; wrote:<br><br></blockquote></div><blockquote type=\"cite\"><div dir=\"ltr\">Spring issue</div></blockquote></div>",
        );
    }

    #[test]
    fn html_removes_yahoo_and_proton_quotes() {
        assert_html_reply(
            "<div class=\"ydp1\"><div>Count me in for the meetup.</div><div><br></div></div><div id=\"yahoo_quoted_4242\" class=\"yahoo_quoted\"><div style=\"font-size:13px\"><div>On Monday, January 6, 2025, 09:00:00 AM GMT+1, Dispatch &lt;editor@news.example.com&gt; wrote:</div><div><br></div><div>Spring issue</div></div></div>",
        );
        assert_html_reply(
            "<div style=\"font-family: Arial\">Count me in for the meetup.</div><div class=\"protonmail_signature_block\"><div class=\"protonmail_signature_block-proton\">Sent with <a href=\"https://proton.me/\">Proton Mail</a> secure email.</div></div><div class=\"protonmail_quote\">On Monday, January 6th, 2025 at 09:00, Dispatch &lt;editor@news.example.com&gt; wrote:<br><blockquote class=\"protonmail_quote\" type=\"cite\">Spring issue</blockquote><br></div>",
        );
    }

    #[test]
    fn html_removes_a_blockquote_after_the_text_only() {
        assert_html_reply(
            "<p>Count me in for the meetup.</p><blockquote><p>Spring issue</p></blockquote>",
        );
        // A quote before any text of the reader is kept (as "> " lines).
        assert_eq!(
            html_text(&html_page(
                "<blockquote>Meetup on Saturday?</blockquote><p>Yes.</p>"
            )),
            "> Meetup on Saturday?\n\nYes."
        );
    }

    #[test]
    fn html_renders_links_without_wrapping() {
        let long = format!("https://example.org/{}", "segment/".repeat(20));
        let html = html_page(&format!(
            "<p>See <a href=\"{long}\">my notes</a>, <a href=\"https://example.org/x\">https://example.org/x</a> and <a href=\"mailto:ann@example.org?subject=hi\">ann@example.org</a>. <a href=\"#top\">Top</a></p><p>{}</p>",
            "word ".repeat(60).trim_end()
        ));
        let text = html_text(&html);
        assert_eq!(
            text,
            format!(
                "See my notes <{long}>, https://example.org/x and ann@example.org. Top\n\n{}",
                "word ".repeat(60).trim_end()
            )
        );
    }

    #[test]
    fn html_tables_have_no_borders() {
        let text = html_text(&html_page(
            "<p>Times:</p><table border=1><tr><td>Saturday</td><td>10:00</td></tr></table>",
        ));
        assert!(!text.contains(['|', '─', '│', '+']), "{text}");
        assert!(
            text.contains("Saturday") && text.contains("10:00"),
            "{text}"
        );
    }

    #[test]
    fn html_scanner_survives_malformed_markup() {
        assert_html_reply(
            "<div>Count me in for the meetup.<div class=\"gmail_quote\">On … wrote:<blockquote>never closed",
        );
        assert_html_reply(
            "<!-- <div class=\"gmail_quote\"> --><p>Count me in for the meetup.</p><script>var s = '<div class=\"gmail_quote\">';</script>",
        );
        assert_eq!(html_text("1 < 2 and 3 > 2 <"), "1 < 2 and 3 > 2 <");
        assert_eq!(html_text("<div class=\"gmail_quote"), "");
        assert_eq!(html_text(""), "");
        let _ = html_text("<<<>>><a href='x>y'>z</a><div id=divRplyFwdMsg");
    }

    #[test]
    fn deep_nesting_is_flattened_and_keeps_its_text() {
        let depth = 20_000;
        let html = format!(
            "<p>Hi.</p>{}Deep text.{}<p>Bye.</p>",
            "<div><span>".repeat(depth),
            "</span></div>".repeat(depth)
        );
        let (flat, flattened) = limit_depth(&html);
        assert!(flattened);
        assert_eq!(
            flat.matches("<div>").count() + flat.matches("<span>").count(),
            MAX_HTML_DEPTH
        );
        assert_eq!(
            flat.matches("</div>").count() + flat.matches("</span>").count(),
            MAX_HTML_DEPTH
        );
        let converted = html_to_text(&html);
        assert_eq!(converted.text, "Hi.\n\nDeep text.\n\nBye.");
        assert_eq!(
            converted.notes,
            vec![format!(
                "[…markup nested deeper than {MAX_HTML_DEPTH} levels was flattened]"
            )]
        );
        // Ordinary markup, unclosed paragraphs and list items included, is left alone.
        let ordinary = format!("<div><ul>{}</ul></div>", "<li><p>item".repeat(1_000));
        assert_eq!(limit_depth(&ordinary), (ordinary.clone(), false));
    }

    #[test]
    fn a_body_over_the_size_limit_is_cut_with_a_note() {
        let filler = "<p>Filler words for a very long reply.</p>";
        let html = format!(
            "<p>Start.</p>{}<p>END-MARKER</p>",
            filler.repeat(MAX_HTML_BYTES / filler.len() + 10)
        );
        let converted = html_to_text(&html);
        assert!(converted.text.starts_with("Start."));
        assert!(!converted.text.contains("END-MARKER"));
        assert_eq!(
            converted.notes,
            vec!["[…the rest of this message was cut: over 1 MB of HTML]".to_string()]
        );
        // Cut inside a tag: the half tag is dropped, not shown.
        let long = format!(
            "{}<a href=\"https://example.org/\">x</a>",
            "é".repeat(MAX_HTML_BYTES / 2 - 5)
        );
        let (cut, was_cut) = cap_size(&long);
        assert!(was_cut && cut.ends_with('é'), "{}", &cut[cut.len() - 20..]);
        // Cut inside a quote that is removed anyway: nothing of the reader's is lost.
        let quoted = format!(
            "<p>Start.</p><div class=\"gmail_quote\">{}</div>",
            filler.repeat(MAX_HTML_BYTES / filler.len() + 10)
        );
        let converted = html_to_text(&quoted);
        assert_eq!(converted.text, "Start.");
        assert!(converted.notes.is_empty(), "{:?}", converted.notes);
    }

    #[test]
    fn html_then_reply_text_gives_the_reader_text() {
        // HTML without client markup: the plain-text rules still find the header.
        let html = html_page(
            "<p>Count me in for the meetup.</p><p>On Mon, Jan 6, 2025 at 9:00 AM Dispatch &lt;editor@news.example.com&gt; wrote:</p><p>Spring issue</p>",
        );
        assert_eq!(reply_text(&html_text(&html)), HTML_REPLY);
    }
}
