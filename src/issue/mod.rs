//! The issue model: `issues/*.md` files with YAML front matter, named by volume and number.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::config::YamlError;

/// Volume and number: the pair that names an issue ("V5N2").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssueId {
    pub volume: u32,
    pub number: u32,
}

impl IssueId {
    pub fn new(volume: u32, number: u32) -> IssueId {
        IssueId { volume, number }
    }

    /// `v5n2`: file names and URLs.
    pub fn slug(&self) -> String {
        format!("v{}n{}", self.volume, self.number)
    }
}

impl fmt::Display for IssueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "V{}N{}", self.volume, self.number)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an issue name: write it as V5N2, v5n2 or 5.2")]
pub struct IssueIdError(String);

impl FromStr for IssueId {
    type Err = IssueIdError;

    fn from_str(s: &str) -> Result<IssueId, IssueIdError> {
        let err = || IssueIdError(s.to_string());
        let t = s.trim();
        let (v, n) = if let Some((v, n)) = t.split_once('.') {
            (v, n)
        } else {
            let lower = t.to_ascii_lowercase();
            let rest = lower.strip_prefix('v').ok_or_else(err)?;
            let (v, n) = rest.split_once('n').ok_or_else(err)?;
            return parse_pair(v, n).ok_or_else(err);
        };
        parse_pair(v, n).ok_or_else(err)
    }
}

fn parse_pair(v: &str, n: &str) -> Option<IssueId> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(v) || !digits(n) {
        return None;
    }
    let id = IssueId::new(v.parse().ok()?, n.parse().ok()?);
    (id.volume > 0 && id.number > 0).then_some(id)
}

/// The YAML front matter of an issue file, as the editor writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    volume: u32,
    number: u32,
    title: String,
    /// Checked by [`parse_date`]; text here so that an empty or odd value gets our message.
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    preheader: Option<String>,
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    replies_note: Option<String>,
}

/// One issue: its front matter and Markdown body.
#[derive(Debug, Clone)]
pub struct Issue {
    pub id: IssueId,
    pub title: String,
    pub date: NaiveDate,
    pub preheader: Option<String>,
    pub question: Option<String>,
    /// The editor's own line for the "Just Hit Reply" section when the previous issue's question
    /// has no approved replies; without it the section shows only this issue's question.
    pub replies_note: Option<String>,
    /// The Markdown after the front matter.
    pub body: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Lines before the body (front matter and its fences), to turn body lines into file lines.
    pub body_line_offset: usize,
}

impl Issue {
    /// Parses an issue file's text; errors name the file, the line and the key.
    pub fn parse(path: &Path, source: &str) -> Result<Issue, YamlError> {
        let (yaml, body, yaml_start) = split_front_matter(path, source)?;
        let front: FrontMatter = serde_saphyr::from_str(yaml).map_err(|e| {
            let mut err = YamlError::from_yaml(path, yaml, e, yaml_start as u64);
            // Volume and number are counted from 1, whatever their type allows.
            if matches!(err.key.as_deref(), Some("volume" | "number"))
                && let Some(rest) = err.message.strip_prefix("must be a whole number")
            {
                let not = rest.find(", not").map_or("", |at| &rest[at..]).to_string();
                err.message = format!("{POSITIVE}{not}");
            }
            err
        })?;
        let at_key = |key: &str, message: &str| {
            YamlError::at_key(path, yaml, key, yaml_start as u64, message.to_string())
        };
        if front.volume == 0 {
            return Err(at_key("volume", &format!("{POSITIVE}, not `0`")));
        }
        if front.number == 0 {
            return Err(at_key("number", &format!("{POSITIVE}, not `0`")));
        }
        if front.title.trim().is_empty() {
            return Err(at_key("title", "must not be empty"));
        }
        let date = match front.date.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => parse_date(text),
            _ if crate::config::find_key_line(yaml, "date").is_some() => Err(format!(
                "is empty: write the issue's date as YYYY-MM-DD, e.g. {DATE_EXAMPLE}"
            )),
            _ => Err(format!(
                "is missing: every issue has a date, written YYYY-MM-DD, e.g. {DATE_EXAMPLE}"
            )),
        }
        .map_err(|message| at_key("date", &message))?;
        let body_line_offset = yaml_start + yaml.lines().count() + 1;
        Ok(Issue {
            id: IssueId::new(front.volume, front.number),
            title: front.title.trim().to_string(),
            date,
            preheader: non_empty(front.preheader),
            question: non_empty(front.question),
            replies_note: non_empty(front.replies_note),
            body: body.to_string(),
            path: path.to_path_buf(),
            body_line_offset,
        })
    }

    pub fn load(path: &Path) -> anyhow::Result<Issue> {
        let source = crate::fsutil::read_text(path)?;
        Ok(Issue::parse(path, &source)?)
    }
}

/// What volume and number must be.
const POSITIVE: &str = "must be a positive whole number, such as 1";

/// The years an issue's date may have. The email's Date header carries four-digit years only,
/// and a year before 1900 is a typo rather than an old issue.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

const DATE_EXAMPLE: &str = "2026-12-02";

/// A front-matter date: exactly `YYYY-MM-DD`, a real day, its year in [`DATE_YEARS`]. A two-digit
/// year (`26-12-02`) is refused rather than read as the year 26.
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    use chrono::Datelike as _;
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let shown = text.escape_debug();
    if !shaped {
        return Err(format!(
            "`{shown}` is not a date: write it as YYYY-MM-DD with a four-digit year from {} to {}, e.g. {DATE_EXAMPLE}",
            DATE_YEARS.start(),
            DATE_YEARS.end()
        ));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{shown}` is not a day of the calendar"))?;
    if !DATE_YEARS.contains(&date.year()) {
        return Err(format!(
            "the year {} is out of range: dispatch takes years from {} to {}",
            date.year(),
            DATE_YEARS.start(),
            DATE_YEARS.end()
        ));
    }
    Ok(date)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Splits `---\nyaml\n---\nbody`; returns the YAML, the body and the file line (0-based count of
/// lines before the YAML) where the YAML starts.
fn split_front_matter<'a>(
    path: &Path,
    source: &'a str,
) -> Result<(&'a str, &'a str, usize), YamlError> {
    let missing = |message: &str| YamlError {
        file: path.to_path_buf(),
        line: Some(1),
        key: None,
        message: message.to_string(),
    };
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let rest = source
        .strip_prefix("---\n")
        .or_else(|| source.strip_prefix("---\r\n"))
        .ok_or_else(|| missing("an issue starts with a `---` line, then its front matter (volume, number, title, date), then `---`"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Ok((yaml, body, 1));
        }
        offset += line.len();
    }
    Err(missing("the front matter has no closing `---` line"))
}

/// All issues of a newsletter folder, ordered by volume and number.
#[derive(Debug, Default)]
pub struct Issues {
    by_id: BTreeMap<IssueId, Issue>,
}

impl Issues {
    /// Loads every `*.md` file of `dir`; stops at the first bad file or duplicate name.
    pub fn load(dir: &Path) -> anyhow::Result<Issues> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the issues folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md") && p.is_file())
            .collect();
        paths.sort();
        let mut issues = Issues::default();
        for path in paths {
            issues.insert(Issue::load(&path)?)?;
        }
        Ok(issues)
    }

    pub fn insert(&mut self, issue: Issue) -> anyhow::Result<()> {
        if let Some(other) = self.by_id.get(&issue.id) {
            let line = crate::config::find_key_line(
                &std::fs::read_to_string(&issue.path).unwrap_or_default(),
                "number",
            );
            anyhow::bail!(
                "{}:{}: `number`: {} is already used by {}; every issue needs its own volume and number",
                issue.path.display(),
                line.unwrap_or(1),
                issue.id,
                other.path.display()
            );
        }
        self.by_id.insert(issue.id, issue);
        Ok(())
    }

    pub fn get(&self, id: IssueId) -> Option<&Issue> {
        self.by_id.get(&id)
    }

    /// Looks an issue up by the name the editor typed.
    pub fn find(&self, name: &str) -> anyhow::Result<&Issue> {
        let id: IssueId = name.parse()?;
        self.get(id)
            .with_context(|| format!("there is no issue {id} in the issues folder"))
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Issue> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn latest(&self) -> Option<&Issue> {
        self.by_id.values().next_back()
    }

    /// The issue just before `id` in order, whose question and replies `id` publishes.
    pub fn previous(&self, id: IssueId) -> Option<&Issue> {
        self.by_id.range(..id).next_back().map(|(_, i)| i)
    }

    /// The issue just after `id` in order.
    pub fn next(&self, id: IssueId) -> Option<&Issue> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.by_id
            .range((Excluded(id), Unbounded))
            .next()
            .map(|(_, i)| i)
    }

    /// The id the next issue gets: the next number in the latest volume, or number 1 of
    /// `volume` when a new volume is asked for. An error when the number would pass the
    /// largest one an issue can have.
    pub fn next_id(&self, volume: Option<u32>) -> anyhow::Result<IssueId> {
        let (volume, last) = match (volume, self.latest().map(|i| i.id)) {
            (Some(v), _) => {
                let last_in_volume = self
                    .by_id
                    .keys()
                    .filter(|id| id.volume == v)
                    .map(|id| id.number)
                    .max();
                (v, last_in_volume.unwrap_or(0))
            }
            (None, Some(id)) => (id.volume, id.number),
            (None, None) => (1, 0),
        };
        let number = last.checked_add(1).with_context(|| {
            format!(
                "volume {volume} has reached the largest issue number ({last}): start a new volume with --volume"
            )
        })?;
        Ok(IssueId::new(volume, number))
    }
}

/// A file name for a new issue: `v5n2-why-we-build.md`.
pub fn file_name(id: IssueId, title: &str) -> String {
    let mut slug = String::new();
    for word in title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
    {
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_lowercase());
    }
    if slug.is_empty() {
        format!("{}.md", id.slug())
    } else {
        format!("{}-{slug}.md", id.slug())
    }
}

/// The title `dispatch new` writes when it is given none; the preflight warns while it stays.
pub const PLACEHOLDER_TITLE: &str = "Untitled";

/// The text of a new issue file with its front matter filled in (the title is
/// [`PLACEHOLDER_TITLE`]).
pub fn new_issue_text(id: IssueId, date: NaiveDate, greeting: &str) -> String {
    format!(
        "---\nvolume: {}\nnumber: {}\ntitle: {PLACEHOLDER_TITLE}\ndate: {}\npreheader: \nquestion: \n---\n{greeting}\n\n",
        id.volume,
        id.number,
        date.format("%Y-%m-%d")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Issue, YamlError> {
        Issue::parse(Path::new("issues/x.md"), s)
    }

    const GOOD: &str = "---\nvolume: 5\nnumber: 2\ntitle: Why\ndate: 2019-05-14\nquestion: What now?\n---\nHi there\n";

    #[test]
    fn issue_names() {
        for s in ["V5N2", "v5n2", "5.2", " v5N2 "] {
            assert_eq!(s.parse::<IssueId>().unwrap(), IssueId::new(5, 2), "{s}");
        }
        for s in ["5", "V5", "v0n1", "5.x", "n2", "v5n", "-1.2", "V5N2x"] {
            assert!(s.parse::<IssueId>().is_err(), "{s} accepted");
        }
        assert_eq!(IssueId::new(5, 2).to_string(), "V5N2");
        assert_eq!(IssueId::new(5, 2).slug(), "v5n2");
    }

    #[test]
    fn parses_front_matter() {
        let i = parse(GOOD).unwrap();
        assert_eq!(i.id, IssueId::new(5, 2));
        assert_eq!(i.question.as_deref(), Some("What now?"));
        assert_eq!(i.body, "Hi there\n");
        assert_eq!(i.body_line_offset, 7);
    }

    #[test]
    fn unknown_field_names_file_line_key() {
        let e = parse("---\nvolume: 5\nnumber: 2\ntitle: Why\ndate: 2019-05-14\nauthor: me\n---\n")
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("author"), "{e}");
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.to_string().starts_with("issues/x.md:6"), "{e}");
    }

    #[test]
    fn wrong_type_and_missing_field() {
        let e =
            parse("---\nvolume: five\nnumber: 2\ntitle: Why\ndate: 2019-05-14\n---\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert_eq!(e.key.as_deref(), Some("volume"), "{e}");
        let e = parse("---\nvolume: 5\nnumber: 2\ndate: 2019-05-14\n---\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("title"), "{e}");
        let e = parse("---\nvolume: 0\nnumber: 2\ntitle: T\ndate: 2019-05-14\n---\n").unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("volume"), Some(2)), "{e}");
    }

    #[test]
    fn front_matter_errors_are_in_the_editors_words() {
        let front = |lines: &str| parse(&format!("---\n{lines}\n---\nHi\n")).unwrap_err();
        for (lines, line, key, message) in [
            (
                "volume: -1\nnumber: 2\ntitle: T\ndate: 2019-05-14",
                2,
                "volume",
                "must be a positive whole number, such as 1, not `-1`",
            ),
            (
                "volume: 1\nnumber: 0\ntitle: T\ndate: 2019-05-14",
                3,
                "number",
                "must be a positive whole number, such as 1, not `0`",
            ),
            (
                "volume: 1\nnumber: 2\ntitle:\ndate: 2019-05-14",
                4,
                "title",
                "must not be empty",
            ),
            (
                "volume: 1\nnumber: 2\ntitle: T\ndate: 99999-01-01",
                5,
                "date",
                "`99999-01-01` is not a date: write it as YYYY-MM-DD",
            ),
            (
                "volume: 1\nnumber: 2\ntitle: T",
                0,
                "date",
                "is missing: every issue has a date",
            ),
            (
                "volume: 1\nnumber: 2\ntitle: T\ndate: 2019-05-14\nquestion: [a",
                6,
                "question",
                "must be text, not `[a` (put text that starts with [ or { in quotes)",
            ),
            (
                "volume: 1\nnumber: 2\ntitle: T\ndate: 2019-05-14\nquestion:\n  - a",
                7,
                "question",
                "must be text, not a list",
            ),
            (
                "volume: 1\nnumber: 2\ntitle: T\ndate: 2019-05-14\nauthor: me",
                6,
                "author",
                "is not a setting here; the settings here are `volume`, `number`",
            ),
        ] {
            let e = front(lines);
            let shown = e.to_string();
            assert_eq!(e.key.as_deref(), Some(key), "{shown}");
            if line > 0 {
                assert_eq!(e.line, Some(line), "{shown}");
                let start = format!("issues/x.md:{line}: `{key}`: {message}");
                assert!(shown.starts_with(&start), "{shown}");
            } else {
                assert!(shown.contains(&format!("`{key}`: {message}")), "{shown}");
            }
            for developer_words in [
                "invalid u32",
                "deserialize",
                "Option<",
                "input is out of range",
            ] {
                assert!(!shown.contains(developer_words), "{shown}");
            }
        }
    }

    #[test]
    fn replies_note_is_an_optional_string() {
        assert_eq!(parse(GOOD).unwrap().replies_note, None);
        let with = |line: &str| {
            parse(&format!(
                "---\nvolume: 5\nnumber: 2\ntitle: T\ndate: 2019-05-14\n{line}\n---\n"
            ))
        };
        let i = with("replies_note: No answers yet, write in!").unwrap();
        assert_eq!(i.replies_note.as_deref(), Some("No answers yet, write in!"));
        assert_eq!(with("replies_note: ' '").unwrap().replies_note, None);
        for wrong in ["replies_note: [a, b]", "replies_note: {a: b}"] {
            let e = with(wrong).unwrap_err();
            assert_eq!(
                (e.key.as_deref(), e.line),
                (Some("replies_note"), Some(6)),
                "{wrong}: {e}"
            );
        }
    }

    #[test]
    fn bad_date_and_broken_yaml() {
        let e = parse("---\nvolume: 5\nnumber: 2\ntitle: T\ndate: someday\n---\n").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        let e = parse("---\nvolume: 5\nnumber: 2\ntitle: [a\ndate: 2019-05-14\n---\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
        assert!(parse("no front matter").is_err());
        assert!(parse("---\nvolume: 5\n").is_err());
    }

    #[test]
    fn dates_out_of_range_two_digit_or_empty_name_line_and_key() {
        let with_date =
            |d: &str| parse(&format!("---\nvolume: 5\nnumber: 2\ntitle: T\n{d}\n---\n"));
        for (line, expected) in [
            ("date: +10000-01-01", "is not a date"),
            ("date: -0001-01-01", "is not a date"),
            ("date: 26-12-02", "four-digit year"),
            ("date: 1899-12-31", "the year 1899 is out of range"),
            ("date: 2026-02-30", "not a day of the calendar"),
            ("date:", "is empty"),
            ("date: ''", "is empty"),
            ("date: 2026-1-2", "YYYY-MM-DD"),
        ] {
            let e = with_date(line).unwrap_err();
            assert_eq!(
                (e.key.as_deref(), e.line),
                (Some("date"), Some(5)),
                "{line}: {e}"
            );
            assert!(e.to_string().contains(expected), "{line}: {e}");
        }
        let e = parse("---\nvolume: 5\nnumber: 2\ntitle: T\n---\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("date"), "{e}");
        assert!(e.to_string().contains("is missing"), "{e}");
        for ok in [
            "date: 1900-01-01",
            "date: 9999-12-31",
            "date: \"2026-12-02\"",
        ] {
            assert!(with_date(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn next_ids() {
        let mut issues = Issues::default();
        assert_eq!(issues.next_id(None).unwrap(), IssueId::new(1, 1));
        issues.insert(parse(GOOD).unwrap()).unwrap();
        assert_eq!(issues.next_id(None).unwrap(), IssueId::new(5, 3));
        assert_eq!(issues.next_id(Some(6)).unwrap(), IssueId::new(6, 1));
        let last = format!(
            "---\nvolume: 5\nnumber: {}\ntitle: T\ndate: 2019-05-14\n---\n",
            u32::MAX
        );
        issues.insert(parse(&last).unwrap()).unwrap();
        let err = issues.next_id(None).unwrap_err().to_string();
        assert!(err.contains("largest issue number (4294967295)"), "{err}");
        assert!(issues.next_id(Some(5)).is_err());
        assert_eq!(issues.next_id(Some(6)).unwrap(), IssueId::new(6, 1));
        assert!(issues.insert(parse(GOOD).unwrap()).is_err());
    }

    #[test]
    fn file_names() {
        assert_eq!(
            file_name(IssueId::new(5, 2), "Why we're building!"),
            "v5n2-why-we-re-building.md"
        );
        assert_eq!(file_name(IssueId::new(1, 1), "?"), "v1n1.md");
    }
}
