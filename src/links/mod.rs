//! Links: the editor's feeds, and checking the links of an issue.

pub mod check;
pub mod feeds;

use std::collections::HashSet;

use feeds::FeedEntry;

use crate::store::links::{NewLink, UsedLink};

/// Logs an HTTP request and its answer for `dispatch -v` (tokens in URLs redacted).
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let Some(shown) = request.try_clone().and_then(|r| r.build().ok()) else {
        return request.send().await;
    };
    let target = crate::report::redact(shown.url().as_str());
    tracing::debug!("> {} {target}", shown.method());
    let response = request.send().await;
    match &response {
        Ok(r) => tracing::debug!(
            "< {} {target} ({})",
            r.status(),
            r.headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no content type")
        ),
        Err(e) => tracing::debug!("< {target}: {e}"),
    }
    response
}

/// The heading under which `dispatch links --into` appends entries.
pub const SECTION_HEADING: &str = "## Links";

/// The ids and URLs of the links already used in an issue.
#[derive(Debug, Default, Clone)]
pub struct UsedLinks {
    ids: HashSet<String>,
    urls: HashSet<String>,
}

impl UsedLinks {
    pub fn new(
        ids: impl IntoIterator<Item = String>,
        urls: impl IntoIterator<Item = String>,
    ) -> Self {
        UsedLinks {
            ids: ids.into_iter().collect(),
            urls: urls.into_iter().collect(),
        }
    }

    /// The links the store records as used.
    pub fn from_rows(rows: Vec<UsedLink>) -> Self {
        let (ids, urls) = rows.into_iter().map(|r| (r.id, r.url)).unzip();
        UsedLinks { ids, urls }
    }

    /// Matching by id and by URL both: a feed may change an entry's id (a re-published
    /// post), and two feeds may carry the same link under different ids.
    pub fn contains(&self, entry: &FeedEntry) -> bool {
        self.ids.contains(&entry.id) || self.urls.contains(&entry.url)
    }

    fn insert(&mut self, entry: &FeedEntry) {
        self.ids.insert(entry.id.clone());
        self.urls.insert(entry.url.clone());
    }
}

impl FeedEntry {
    /// The entry as the store records a used link.
    pub fn as_new_link(&self) -> NewLink<'_> {
        NewLink {
            id: &self.id,
            url: &self.url,
            title: &self.title,
            source: &self.source,
        }
    }
}

/// The entries not used before, each offered once even when several feeds carry it; the
/// first occurrence wins, so the order of `entries` is kept.
pub fn unused(entries: Vec<FeedEntry>, used: &UsedLinks) -> Vec<FeedEntry> {
    let mut seen = UsedLinks::default();
    entries
        .into_iter()
        .filter(|entry| {
            let fresh = !used.contains(entry) && !seen.contains(entry);
            seen.insert(entry);
            fresh
        })
        .collect()
}

/// `source` (an issue file) with `list` (Markdown list items) appended under
/// [`SECTION_HEADING`]: added to that section when it already ends the file, so repeated runs
/// grow one section. `body` is the issue's Markdown after its front matter.
pub fn append_section(source: &str, body: &str, list: &str) -> String {
    let newline = if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut out = source.trim_end().to_string();
    out.push_str(newline);
    out.push_str(newline);
    if last_heading(body).as_deref() != Some(SECTION_HEADING) {
        out.push_str(SECTION_HEADING);
        out.push_str(newline);
        out.push_str(newline);
    }
    for line in list.lines() {
        out.push_str(line);
        out.push_str(newline);
    }
    out
}

/// The last heading of a Markdown text as `## Text`, as Markdown sees it (not lines in code
/// blocks that happen to start with `#`).
fn last_heading(md: &str) -> Option<String> {
    use pulldown_cmark::{Event, Tag, TagEnd};
    let mut last = None;
    let mut current: Option<(usize, String)> = None;
    for event in crate::render::markdown::parser(md) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((level as usize, String::new()))
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, heading)) = current.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                last = current
                    .take()
                    .map(|(level, text)| format!("{} {}", "#".repeat(level), text.trim()));
            }
            _ => {}
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, url: &str) -> FeedEntry {
        FeedEntry {
            id: id.to_string(),
            title: id.to_string(),
            url: url.to_string(),
            summary: None,
            published: None,
            source: "Feed".to_string(),
        }
    }

    #[test]
    fn used_entries_are_dropped_by_id_and_by_url() {
        let used = UsedLinks::new(["a".to_string()], ["https://x.example/b".to_string()]);
        let entries = vec![
            entry("a", "https://x.example/new-address-of-a"),
            entry("b2", "https://x.example/b"),
            entry("c", "https://x.example/c"),
            entry("c-again", "https://x.example/c"),
            entry("c", "https://y.example/c"),
            entry("d", "https://x.example/d"),
        ];
        let ids: Vec<String> = unused(entries, &used).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["c", "d"]);
    }

    const ISSUE: &str = "---\nvolume: 1\nnumber: 1\ntitle: T\ndate: 2030-01-01\n---\nHello.\n\n";

    #[test]
    fn appends_a_links_section_once() {
        let first = append_section(ISSUE, "Hello.\n\n", "- [a](https://a)\n");
        assert_eq!(
            first,
            "---\nvolume: 1\nnumber: 1\ntitle: T\ndate: 2030-01-01\n---\nHello.\n\n## Links\n\n- [a](https://a)\n"
        );
        let body = first.split("---\n").nth(2).unwrap();
        let second = append_section(&first, body, "- [b](https://b)\n");
        assert!(
            second.ends_with("## Links\n\n- [a](https://a)\n\n- [b](https://b)\n"),
            "{second}"
        );
    }

    #[test]
    fn a_links_heading_followed_by_another_section_gets_a_new_one() {
        let body = "## Links\n\n- old\n\n## Colophon\n\n```\n## Links\n```\n";
        let out = append_section(body, body, "- new\n");
        assert!(out.ends_with("```\n\n## Links\n\n- new\n"), "{out}");
    }

    #[test]
    fn keeps_crlf_line_ends() {
        let out = append_section("Hello.\r\n", "Hello.\r\n", "- [a](https://a)\n");
        assert_eq!(out, "Hello.\r\n\r\n## Links\r\n\r\n- [a](https://a)\r\n");
    }
}
