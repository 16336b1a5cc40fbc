//! Readers' replies as stored and moderated.

use rusqlite::params;

use super::Store;
use crate::issue::IssueId;

/// An approved reply, ready to publish in the issue after the one it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub id: i64,
    /// The name shown ("A reader" when anonymous or unknown).
    pub name: String,
    pub text: String,
    pub note: Option<String>,
}

impl Store {
    /// The approved replies to `issue`, oldest first (then by id, so the order never changes).
    pub fn approved_replies(&self, issue: IssueId) -> anyhow::Result<Vec<Published>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, anonymous, display_name, from_name, text, note FROM replies
             WHERE volume = ?1 AND number = ?2 AND status = 'approved'
             ORDER BY received_at, id",
        )?;
        let rows = stmt.query_map(params![issue.volume, issue.number], |r| {
            let anonymous: bool = r.get(1)?;
            let display: Option<String> = r.get(2)?;
            let from_name: Option<String> = r.get(3)?;
            let name = if anonymous {
                None
            } else {
                display.or(from_name).filter(|n| !n.trim().is_empty())
            };
            Ok(Published {
                id: r.get(0)?,
                name: name.unwrap_or_else(|| "A reader".to_string()),
                text: r.get(4)?,
                note: r
                    .get::<_, Option<String>>(5)?
                    .filter(|n| !n.trim().is_empty()),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
