//! Links taken from the editor's feeds into an issue, so that none is offered twice.

use rusqlite::params;

use super::Store;
use crate::issue::IssueId;

/// A link used in an issue, as far as telling it again needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedLink {
    pub id: String,
    pub url: String,
}

/// A link about to be used in an issue.
#[derive(Debug, Clone, Copy)]
pub struct NewLink<'a> {
    pub id: &'a str,
    pub url: &'a str,
    pub title: &'a str,
    /// The feed it came from.
    pub source: &'a str,
}

impl Store {
    /// The id and URL of every link used so far.
    pub fn used_links(&self) -> anyhow::Result<Vec<UsedLink>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, url FROM links")?;
        let rows = stmt.query_map([], |r| {
            Ok(UsedLink {
                id: r.get(0)?,
                url: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records `links` as used in `issue`, all of them or none.
    ///
    /// `write` runs inside the transaction, after the rows are in and before the commit: the
    /// links count as used only when it succeeded (it writes the issue file), and the file is
    /// not written when the rows could not be stored.
    pub fn record_used_links(
        &mut self,
        links: &[NewLink<'_>],
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
            for l in links {
                insert.execute(params![l.id, l.url, l.title, l.source, issue.slug(), now])?;
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

    fn link<'a>(id: &'a str, url: &'a str) -> NewLink<'a> {
        NewLink {
            id,
            url,
            title: "Title",
            source: "Feed",
        }
    }

    fn used(id: &str, url: &str) -> UsedLink {
        UsedLink {
            id: id.to_string(),
            url: url.to_string(),
        }
    }

    #[test]
    fn recorded_links_are_used_once_by_id() {
        let mut store = Store::open_in_memory().unwrap();
        let links = [
            link("a", "https://x.example/a"),
            link("b", "https://x.example/b"),
        ];
        store
            .record_used_links(&links, IssueId::new(1, 2), || Ok(()))
            .unwrap();
        store
            .record_used_links(
                &[link("a", "https://x.example/new")],
                IssueId::new(1, 3),
                || Ok(()),
            )
            .unwrap();
        let mut rows = store.used_links().unwrap();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(
            rows,
            [
                used("a", "https://x.example/a"),
                used("b", "https://x.example/b")
            ]
        );
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
            &[link("a", "https://x.example/a")],
            IssueId::new(1, 2),
            || anyhow::bail!("disk full"),
        );
        assert!(result.is_err());
        assert!(store.used_links().unwrap().is_empty());
    }
}
