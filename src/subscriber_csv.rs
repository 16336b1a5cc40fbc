//! Subscriber lists as CSV: reading the exports of common mailing-list services, writing our
//! own (which reads back in).
//!
//! Columns are found by their header, compared without case, spaces, `-`, `_` and `.`, so
//! `Email Address`, `E-mail` and `email` all name the address column.

use std::io::Write;

use crate::store::subscribers::{NewSubscriber, Status, Subscriber};

const EMAIL_HEADERS: &[&str] = &["email", "emailaddress", "mail", "subscriberemail"];
const NAME_HEADERS: &[&str] = &["name", "fullname", "displayname", "subscribername"];
const FIRST_NAME_HEADERS: &[&str] = &["firstname", "fname", "givenname", "first"];
const LAST_NAME_HEADERS: &[&str] = &["lastname", "lname", "surname", "familyname", "last"];
const STATUS_HEADERS: &[&str] = &["status", "subscriberstatus", "subscriptionstatus"];

/// The whole file is unusable (as opposed to one bad row).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error(
        "{file}:1: no email column among the headers ({found}); name it email, Email Address or E-mail"
    )]
    NoEmailColumn { file: String, found: String },
    #[error("{file} is empty: its first line names the columns, e.g. email,name")]
    Empty { file: String },
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
}

/// A row that was not imported, by line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Copy)]
struct Columns {
    email: usize,
    name: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    status: Option<usize>,
}

/// The rows of a subscriber CSV, each a subscriber to import or a bad row.
pub struct Rows<'a> {
    data: &'a [u8],
    records: csv::StringRecordsIntoIter<&'a [u8]>,
    columns: Columns,
    file: String,
    failed: bool,
}

/// Reads the header row of `data` and returns the rows after it.
pub fn read<'a>(file: &str, data: &'a [u8]) -> Result<Rows<'a>, CsvError> {
    let after_bom = data.strip_prefix("\u{feff}".as_bytes()).unwrap_or(data);
    if after_bom.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvError::Empty {
            file: file.to_string(),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(data))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let headers = reader.headers().map_err(|e| CsvError::Unreadable {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    let normalized: Vec<String> = headers.iter().map(normalize_header).collect();
    let find = |names: &[&str]| normalized.iter().position(|h| names.contains(&h.as_str()));
    let email = find(EMAIL_HEADERS).ok_or_else(|| CsvError::NoEmailColumn {
        file: file.to_string(),
        found: headers.iter().collect::<Vec<_>>().join(", "),
    })?;
    let columns = Columns {
        email,
        name: find(NAME_HEADERS),
        first: find(FIRST_NAME_HEADERS),
        last: find(LAST_NAME_HEADERS),
        status: find(STATUS_HEADERS),
    };
    Ok(Rows {
        data,
        records: reader.into_records(),
        columns,
        file: file.to_string(),
        failed: false,
    })
}

impl Iterator for Rows<'_> {
    type Item = Result<Result<NewSubscriber, BadRow>, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.records.next()? {
            Ok(record) => {
                let line = record.position().map_or(0, |p| line_of(self.data, p));
                Some(Ok(
                    parse_record(&record, self.columns).map_err(|message| BadRow { line, message })
                ))
            }
            Err(e) => match (e.kind(), e.position()) {
                // A broken record (say, not UTF-8) spoils that row only.
                (csv::ErrorKind::Utf8 { .. }, Some(pos)) => Some(Ok(Err(BadRow {
                    line: line_of(self.data, pos),
                    message: "not valid UTF-8 text: save the file as UTF-8".to_string(),
                }))),
                _ => {
                    self.failed = true;
                    Some(Err(CsvError::Unreadable {
                        file: self.file.clone(),
                        message: e.to_string(),
                    }))
                }
            },
        }
    }
}

/// The line a record starts on. The csv crate places a record after blank lines at the first
/// blank line; the editor looks for the line with the text.
fn line_of(data: &[u8], pos: &csv::Position) -> u64 {
    let start = usize::try_from(pos.byte()).unwrap_or(usize::MAX);
    let blank = data
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    pos.line() + blank as u64
}

fn parse_record(record: &csv::StringRecord, c: Columns) -> Result<NewSubscriber, String> {
    let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).filter(|s| !s.is_empty());
    let raw = cell(Some(c.email)).ok_or("no email address in this row")?;
    let email = crate::address::normalize(raw).map_err(|e| e.to_string())?;
    let name = cell(c.name).map(str::to_string).or_else(|| {
        let full = [cell(c.first), cell(c.last)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!full.is_empty()).then_some(full)
    });
    let name = name
        .map(|n| crate::address::subscriber_name(&n))
        .transpose()?
        .flatten();
    let status = cell(c.status).map(parse_status).transpose()?.flatten();
    Ok(NewSubscriber {
        email,
        name,
        status,
    })
}

/// The statuses other services export, mapped to ours. `None` means "no opinion" (active
/// unless the address is already on the list). Unconfirmed or pending addresses are refused:
/// they never agreed to receive the newsletter.
/// Every status value `import` accepts, for its messages.
const ACCEPTED_STATUSES: &str = "active, subscribed, confirmed or enabled (imported as active); unsubscribed, unsubscribe, optedout or opted out (imported as unsubscribed); bounced, bounce or cleaned (imported as bounced)";

fn parse_status(value: &str) -> Result<Option<Status>, String> {
    let shown = crate::address::escape_controls(value);
    match value.to_lowercase().as_str() {
        "active" | "subscribed" | "confirmed" | "enabled" => Ok(None),
        "unsubscribed" | "unsubscribe" | "optedout" | "opted out" => Ok(Some(Status::Unsubscribed)),
        "bounced" | "cleaned" | "bounce" => Ok(Some(Status::Bounced)),
        "pending" | "unconfirmed" | "not confirmed" => Err(format!(
            "status `{shown}`: this person never confirmed the subscription, so the row is not imported (only confirmed subscribers are)"
        )),
        _ => Err(format!(
            "status `{shown}` is not one dispatch knows: write {ACCEPTED_STATUSES}"
        )),
    }
}

fn normalize_header(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Spreadsheets in many locales save with `;` or tabs: the header line tells which.
fn sniff_delimiter(data: &[u8]) -> u8 {
    let first_line = data.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |d: u8| first_line.iter().filter(|b| **b == d).count();
    [b';', b'\t']
        .into_iter()
        .filter(|d| count(*d) > count(b','))
        .max_by_key(|d| count(*d))
        .unwrap_or(b',')
}

/// Writes the list as CSV with the columns `email,name,status,created_at`.
pub fn write_header(out: &mut csv::Writer<impl Write>) -> csv::Result<()> {
    out.write_record(["email", "name", "status", "created_at"])
}

pub fn write_row(out: &mut csv::Writer<impl Write>, s: &Subscriber) -> csv::Result<()> {
    out.write_record([
        s.email.as_str(),
        s.name.as_deref().unwrap_or(""),
        s.status.as_str(),
        s.created_at.as_str(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(data: &str) -> Vec<Result<NewSubscriber, BadRow>> {
        read("list.csv", data.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn reads_mailchimp_style_headers() {
        let rows = parse(
            "\u{feff}Email Address,First Name,Last Name,MEMBER_RATING\nann@example.org,Ann,Lee,2\nbob@example.org,,,1\n",
        );
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.email, "ann@example.org");
        assert_eq!(first.name.as_deref(), Some("Ann Lee"));
        assert_eq!(rows[1].as_ref().unwrap().name, None);
    }

    #[test]
    fn header_matching_ignores_case_spaces_and_dashes() {
        for header in ["E-mail", "EMAIL", " e mail ", "email_address"] {
            let rows = parse(&format!("{header},FNAME,LNAME\nx@example.org,X,Y\n"));
            assert_eq!(
                rows[0].as_ref().unwrap().name.as_deref(),
                Some("X Y"),
                "{header}"
            );
        }
    }

    #[test]
    fn bad_rows_are_reported_by_line() {
        let rows =
            parse("email,name\ngood@example.org,G\nnot-an-address,N\n\n,empty\nok@example.org,\n");
        let bad: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].line, 3);
        assert!(
            bad[0].message.contains("not-an-address"),
            "{}",
            bad[0].message
        );
        assert_eq!(bad[1].line, 5);
        assert_eq!(rows.iter().filter(|r| r.is_ok()).count(), 2);
    }

    #[test]
    fn quoted_fields_keep_commas_and_line_numbers_follow_newlines() {
        let rows = parse(
            "email,name\n\"a@example.org\",\"Lee, Ann\"\n\"b@example.org\",\"two\nlines\"\nbad,x\n",
        );
        assert_eq!(rows[0].as_ref().unwrap().name.as_deref(), Some("Lee, Ann"));
        let two_lines = rows[1].as_ref().unwrap_err();
        assert_eq!(two_lines.line, 3);
        assert!(
            two_lines.message.contains("control character"),
            "{}",
            two_lines.message
        );
        assert_eq!(rows[2].as_ref().unwrap_err().line, 5);
    }

    #[test]
    fn a_status_that_is_not_imported_says_why_and_lists_every_accepted_one() {
        let pending = parse_status("Pending").unwrap_err();
        assert!(pending.contains("never confirmed"), "{pending}");
        assert!(pending.contains("not imported"), "{pending}");
        let unknown = parse_status("vip").unwrap_err();
        for accepted in [
            "active",
            "subscribed",
            "confirmed",
            "enabled",
            "unsubscribed",
            "unsubscribe",
            "optedout",
            "opted out",
            "bounced",
            "bounce",
            "cleaned",
        ] {
            assert!(unknown.contains(accepted), "{accepted}: {unknown}");
            assert!(parse_status(accepted).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn semicolons_and_statuses() {
        let rows =
            parse("Email;Name;Status\na@example.org;A;unsubscribed\nb@example.org;B;pending\n");
        assert_eq!(rows[0].as_ref().unwrap().status, Some(Status::Unsubscribed));
        assert!(rows[1].as_ref().unwrap_err().message.contains("pending"));
    }

    #[test]
    fn an_empty_file_is_called_empty() {
        for data in [&b""[..], b"\n\n", b"  \r\n", b"\xef\xbb\xbf\r\n"] {
            let err = read("list.csv", data).err().unwrap();
            assert_eq!(
                err.to_string(),
                "list.csv is empty: its first line names the columns, e.g. email,name"
            );
        }
    }

    #[test]
    fn missing_email_column_is_an_error() {
        let err = read("list.csv", b"name,phone\nA,1\n").err().unwrap();
        assert!(
            err.to_string().starts_with("list.csv:1: no email column"),
            "{err}"
        );
    }

    #[test]
    fn export_reads_back() {
        let mut out = csv::Writer::from_writer(Vec::new());
        write_header(&mut out).unwrap();
        write_row(
            &mut out,
            &Subscriber {
                id: 1,
                email: "a@example.org".into(),
                name: Some("Lee, Ann".into()),
                status: Status::Bounced,
                created_at: "2030-01-01T00:00:00Z".into(),
                source: None,
                consent_at: None,
                confirmed_at: None,
            },
        )
        .unwrap();
        let data = out.into_inner().unwrap();
        let rows: Vec<_> = read("x.csv", &data).unwrap().map(Result::unwrap).collect();
        let row = rows[0].as_ref().unwrap();
        assert_eq!(row.name.as_deref(), Some("Lee, Ann"));
        assert_eq!(row.status, Some(Status::Bounced));
    }
}
