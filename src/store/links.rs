//! Links taken from the editor's feeds into an issue, so that none is offered twice.

use rusqlite::params;

use super::Store;
use crate::issue::IssueId;
use crate::links::UsedLinks;
use crate::links::feeds::FeedEntry;

impl Store {
    /// The ids and URLs of every link used so far.
    pub fn used_links(&self) -> anyhow::Result<UsedLinks> {
        let mut stmt = self.conn.prepare_cached("SELECT id, url FROM links")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let (ids, urls): (Vec<String>, Vec<String>) =
            rows.collect::<Result<Vec<_>, _>>()?.into_iter().unzip();
        Ok(UsedLinks::new(ids, urls))
    }

    /// Records `entries` as used in `issue`, all of them or none.
    ///
    /// `write` runs inside the transaction, after the rows are in and before the commit: the
    /// links count as used only when it succeeded (it writes the issue file), and the file is
    /// not written when the rows could not be stored.
    pub fn record_used_links(
        &mut self,
        entries: &[FeedEntry],
        issue: IssueId,
        write: impl FnOnce() -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO links (id, url, title, source, used_in, used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
            )?;
            let now = super::now();
            for e in entries {
                insert.execute(params![e.id, e.url, e.title, e.source, issue.slug(), now])?;
            }
        }
        write()?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, url: &str) -> FeedEntry {
        FeedEntry {
            id: id.to_string(),
            title: format!("Title {id}"),
            url: url.to_string(),
            summary: None,
            published: None,
            source: "Feed".to_string(),
        }
    }

    #[test]
    fn recorded_links_are_used_by_id_and_url() {
        let mut store = Store::open_in_memory().unwrap();
        let entries = [
            entry("a", "https://x.example/a"),
            entry("b", "https://x.example/b"),
        ];
        store
            .record_used_links(&entries, IssueId::new(1, 2), || Ok(()))
            .unwrap();
        let used = store.used_links().unwrap();
        assert!(used.contains(&entry("a", "https://elsewhere.example/")));
        assert!(used.contains(&entry("other", "https://x.example/b")));
        assert!(!used.contains(&entry("c", "https://x.example/c")));
        let used_in: String = store
            .conn
            .query_row("SELECT used_in FROM links WHERE id = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(used_in, "v1n2");
    }

    #[test]
    fn nothing_is_recorded_when_the_write_fails() {
        let mut store = Store::open_in_memory().unwrap();
        let result = store.record_used_links(
            &[entry("a", "https://x.example/a")],
            IssueId::new(1, 2),
            || anyhow::bail!("disk full"),
        );
        assert!(result.is_err());
        assert!(
            !store
                .used_links()
                .unwrap()
                .contains(&entry("a", "https://x.example/a"))
        );
    }
}
