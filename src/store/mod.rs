//! SQLite: subscribers, deliveries, replies, mailbox state and used links.
//!
//! One file per newsletter (`subscribers.db`), WAL, foreign keys on, schema versioned by
//! `PRAGMA user_version`. Every change runs in a transaction, and every transaction takes the
//! write lock when it begins (`BEGIN IMMEDIATE`, set once per connection): a transaction that
//! read first and asked for the lock later would fail with "database is locked" when another
//! process (a running send) committed in between, whatever the busy timeout. Waiting for the
//! lock up front lets the busy timeout do its work.
//!
//! Every SQL statement of dispatch is written here, and the connection never leaves: callers
//! get rows of the store's own types (one file per table family), and a caller that needs
//! several statements in one transaction (the importer's batch, the send writer's batches)
//! runs them through [`Store::batch`] and the functions that take a [`Batch`]. The store
//! depends on no other room but `issue` (for [`IssueId`](crate::issue::IssueId)): `links`
//! and `render` read its rows and convert them where they keep their own types, never the
//! reverse.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

pub mod inbound;
pub mod links;
pub mod mail_queue;
pub mod replies;
pub mod sends;
pub mod subscribers;

/// The schema, one entry per version; a database at version N runs entries N.. in order.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE subscribers (
        id              INTEGER PRIMARY KEY,
        email           TEXT NOT NULL,
        email_key       TEXT NOT NULL UNIQUE,
        name            TEXT,
        status          TEXT NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'unsubscribed', 'bounced')),
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE TABLE sends (
        volume      INTEGER NOT NULL,
        number      INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (volume, number)
    );
    CREATE TABLE deliveries (
        volume          INTEGER NOT NULL,
        number          INTEGER NOT NULL,
        subscriber_id   INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        email           TEXT NOT NULL,
        message_id      TEXT NOT NULL UNIQUE,
        state           TEXT NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error      TEXT,
        updated_at      TEXT NOT NULL,
        PRIMARY KEY (volume, number, subscriber_id),
        FOREIGN KEY (volume, number) REFERENCES sends(volume, number)
    );
    CREATE INDEX deliveries_state ON deliveries(volume, number, state);
    CREATE TABLE replies (
        id             INTEGER PRIMARY KEY,
        message_id     TEXT NOT NULL UNIQUE,
        volume         INTEGER,
        number         INTEGER,
        subscriber_id  INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
        from_address   TEXT NOT NULL,
        from_name      TEXT,
        subject        TEXT NOT NULL,
        received_at    TEXT,
        text           TEXT NOT NULL,
        status         TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'approved', 'rejected')),
        note           TEXT,
        anonymous      INTEGER NOT NULL DEFAULT 0,
        display_name   TEXT,
        imported_at    TEXT NOT NULL
    );
    CREATE INDEX replies_issue ON replies(volume, number, status);
    CREATE TABLE inbound (
        message_id  TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE mailboxes (
        name         TEXT PRIMARY KEY,
        uidvalidity  INTEGER NOT NULL,
        last_uid     INTEGER NOT NULL
    );
    CREATE TABLE links (
        id        TEXT PRIMARY KEY,
        url       TEXT NOT NULL,
        title     TEXT NOT NULL,
        source    TEXT NOT NULL,
        used_in   TEXT NOT NULL,
        used_at   TEXT NOT NULL
    );
    "#,
    // 2: a send changes every delivery's state twice (sending, then sent); an index on the
    // state was rewritten each time and cost about 12% of send throughput (bench/send.sh).
    // Counting one issue's deliveries by state walks its primary-key range instead.
    r#"
    DROP INDEX deliveries_state;
    "#,
    // 3: unsubscribe requests by mail that carry no valid token and no proof of the sender:
    // they wait for the editor (`dispatch replies unsubscribes`).
    r#"
    CREATE TABLE unsubscribe_requests (
        id            INTEGER PRIMARY KEY,
        message_id    TEXT NOT NULL UNIQUE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        from_address  TEXT NOT NULL,
        subject       TEXT NOT NULL,
        received_at   TEXT,
        reason        TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'confirmed', 'dismissed')),
        imported_at   TEXT NOT NULL
    );
    "#,
    // 4: a delivery whose message may have reached the subscriber although it was not
    // acknowledged (no answer to its end, or in flight when a run stopped): a possible double.
    r#"
    ALTER TABLE deliveries ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: readers sign up on `dispatch host`: a `pending` status (the CHECK constraint widens,
    // which SQLite does by rebuilding the table with the same ids; foreign keys are off while
    // migrating), how and when consent was given, the status a re-signup returns to if it is
    // never confirmed, and the queue of confirmation and welcome mails.
    r#"
    CREATE TABLE subscribers_new (
        id              INTEGER PRIMARY KEY,
        email           TEXT NOT NULL,
        email_key       TEXT NOT NULL UNIQUE,
        name            TEXT,
        status          TEXT NOT NULL DEFAULT 'active'
                        CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        source          TEXT CHECK (source IN ('form', 'import', 'command line')),
        consent_at      TEXT,
        confirmed_at    TEXT,
        status_before   TEXT CHECK (status_before IN ('unsubscribed', 'bounced'))
    );
    INSERT INTO subscribers_new (id, email, email_key, name, status, created_at, updated_at)
        SELECT id, email, email_key, name, status, created_at, updated_at FROM subscribers;
    DROP TABLE subscribers;
    ALTER TABLE subscribers_new RENAME TO subscribers;
    CREATE TABLE mail_queue (
        id            INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        kind          TEXT NOT NULL CHECK (kind IN ('confirm', 'welcome')),
        state         TEXT NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'sent', 'failed', 'cancelled')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        due_at        TEXT NOT NULL,
        last_error    TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX mail_queue_due ON mail_queue(state, due_at);
    CREATE INDEX mail_queue_subscriber ON mail_queue(subscriber_id, kind, created_at);
    "#,
    // 6: the message a reply was extracted from, as plain text (capped by the importer), for
    // the editor to compare in `dispatch replies review`; NULL for replies imported before.
    r#"
    ALTER TABLE replies ADD COLUMN original TEXT;
    "#,
    // 7: subscriber ids are never handed out twice (AUTOINCREMENT). Tokens carry the id: with
    // ids reused, the confirmation link of an expired signup, or the unsubscribe link of a
    // removed subscriber, would act on whoever got the id next. Rebuilt as in 5, same ids.
    r#"
    CREATE TABLE subscribers_new (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        email           TEXT NOT NULL,
        email_key       TEXT NOT NULL UNIQUE,
        name            TEXT,
        status          TEXT NOT NULL DEFAULT 'active'
                        CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        source          TEXT CHECK (source IN ('form', 'import', 'command line')),
        consent_at      TEXT,
        confirmed_at    TEXT,
        status_before   TEXT CHECK (status_before IN ('unsubscribed', 'bounced'))
    );
    INSERT INTO subscribers_new (id, email, email_key, name, status, created_at, updated_at,
                                 source, consent_at, confirmed_at, status_before)
        SELECT id, email, email_key, name, status, created_at, updated_at,
               source, consent_at, confirmed_at, status_before FROM subscribers;
    DROP TABLE subscribers;
    ALTER TABLE subscribers_new RENAME TO subscribers;
    "#,
];

#[derive(Debug, thiserror::Error)]
#[error(
    "{path} has schema version {found}, newer than this dispatch knows ({known}): upgrade dispatch"
)]
pub struct NewerSchema {
    pub path: String,
    pub found: i64,
    pub known: i64,
}

/// An open newsletter database.
pub struct Store {
    conn: Connection,
}

/// The store inside one write transaction (see [`Store::batch`]): the typed statements a
/// caller runs together, all committed or none. Made by the store alone; it never hands out
/// the connection.
pub struct Batch<'a> {
    conn: &'a Connection,
}

impl Store {
    /// Opens (creating on first use, readable by its owner alone) the database and brings its
    /// schema up to date. An empty or damaged file is an error, never replaced by a new
    /// database: that would make a new secret and break every unsubscribe link already sent.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let created = !refuse_damaged(path)?;
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        if created {
            // Before the WAL and shared-memory files exist: SQLite gives them this mode too.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| damaged(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::setup(conn, &path.display().to_string())
    }

    /// Opens an existing database for reading only, or `None` when there is none yet: building
    /// an issue must not create the database.
    pub fn open_existing_read_only(path: &Path) -> anyhow::Result<Option<Store>> {
        if !refuse_damaged(path)? {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| damaged(path, e))?;
        if version != MIGRATIONS.len() as i64 {
            // An older schema gets migrated by the next command that writes; a newer is refused.
            drop(conn);
            return Store::open(path).map(Some);
        }
        Ok(Some(Store { conn }))
    }

    /// A private in-memory database with the real schema, for tests.
    pub fn open_in_memory() -> anyhow::Result<Store> {
        Self::setup(Connection::open_in_memory()?, ":memory:")
    }

    fn setup(mut conn: Connection, name: &str) -> anyhow::Result<Store> {
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, name)?;
        Ok(Store { conn })
    }

    /// Runs `f` in one write transaction that holds the write lock from its start, and commits
    /// when `f` returns `Ok`; an error rolls every statement of `f` back.
    pub fn batch<T>(
        &mut self,
        f: impl FnOnce(&Batch<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let tx = self.conn.transaction()?;
        let value = f(&Batch { conn: &tx })?;
        tx.commit()?;
        Ok(value)
    }

    /// The store's own statements that run alone (each its own transaction) through the
    /// functions written for a batch.
    fn single(&self) -> Batch<'_> {
        Batch { conn: &self.conn }
    }

    /// A value of the `meta` table, created with `init` the first time it is asked for.
    pub fn meta_or_init(&self, key: &str, init: impl FnOnce() -> String) -> anyhow::Result<String> {
        let found: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        if let Some(value) = found {
            return Ok(value);
        }
        let value = init();
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?)
    }

    /// The secret under which unsubscribe tokens are made; generated once per database.
    pub fn secret(&self) -> anyhow::Result<Vec<u8>> {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let encoded = self.meta_or_init("secret", || {
            let bytes: [u8; 32] = rand::random();
            engine.encode(bytes)
        })?;
        engine
            .decode(encoded)
            .context("the database's secret is damaged")
    }
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether the database file exists (`false`: it will be created); an error when it exists
/// but is empty or not an SQLite database.
fn refuse_damaged(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open the database {}", path.display()));
        }
    };
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    file.take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut header)
        .with_context(|| format!("cannot read the database {}", path.display()))?;
    if header.is_empty() {
        anyhow::bail!(
            "the database {} is empty (0 bytes): restore it from a backup; delete it only if this newsletter never had subscribers, since a new database gets a new secret and breaks every unsubscribe link already sent",
            path.display()
        );
    }
    if header != SQLITE_HEADER {
        anyhow::bail!(
            "{} is not an SQLite database (damaged, or another file under its name): restore it from a backup",
            path.display()
        );
    }
    Ok(true)
}

fn damaged(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    anyhow::Error::new(e).context(format!(
        "the database {} is damaged: restore it from a backup",
        path.display()
    ))
}

fn migrate(conn: &mut Connection, name: &str) -> anyhow::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(NewerSchema {
            path: name.to_string(),
            found: version,
            known,
        }
        .into());
    }
    if version == known {
        return Ok(());
    }
    // A migration may rebuild a table (SQLite's way to change a constraint): with foreign keys
    // on, dropping the old table would delete the rows that refer to it. They are off while
    // migrating (the pragma is ignored inside a transaction, so it is set around them) and
    // checked before each commit.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = run_migrations(conn, name, version);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrated
}

fn run_migrations(conn: &mut Connection, name: &str, version: i64) -> anyhow::Result<()> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        // Another process may have migrated while this one waited for the lock.
        let now_at: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now_at > index as i64 {
            continue;
        }
        let broken_before = broken_references(&tx)?;
        tx.execute_batch(sql)
            .with_context(|| format!("migrating {name} to schema version {}", index + 1))?;
        if broken_references(&tx)? > broken_before {
            anyhow::bail!(
                "migrating {name} to schema version {} would leave rows referring to rows that do not exist; nothing was changed",
                index + 1
            );
        }
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// How many rows refer to a row that does not exist (checked while foreign keys are off).
fn broken_references(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })
}

/// The current time as stored: RFC 3339 in UTC, second precision.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let secret = Store::open(&path).unwrap().secret().unwrap();
        assert_eq!(secret.len(), 32);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.secret().unwrap(), secret, "the secret is kept");
        let v: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn empty_or_foreign_file_is_an_error_naming_it_not_a_new_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.db");
        std::fs::write(&path, b"").unwrap();
        for open in [
            Store::open(&path).err(),
            Store::open_existing_read_only(&path).err(),
        ] {
            let err = format!("{:#}", open.unwrap());
            assert!(err.contains("subscribers.db is empty (0 bytes)"), "{err}");
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left as it was");
        std::fs::write(&path, b"email,name\nann@example.org,Ann\n").unwrap();
        let err = format!("{:#}", Store::open(&path).err().unwrap());
        assert!(
            err.contains("subscribers.db is not an SQLite database"),
            "{err}"
        );
        let good = dir.path().join("good.db");
        Store::open(&good).unwrap().secret().unwrap();
        let mut bytes = std::fs::read(&good).unwrap();
        bytes[16..].iter_mut().for_each(|b| *b = 0xff);
        std::fs::write(&path, &bytes).unwrap();
        let err = format!("{:#}", Store::open(&path).err().unwrap());
        assert!(err.contains("subscribers.db is damaged"), "{err}");
    }

    /// The `.rs` files under `dir`, recursively.
    fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn sql_lives_in_the_store_alone_and_the_store_needs_neither_links_nor_render() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let store = root.join("src/store");
        let mut files = Vec::new();
        sources(&root.join("src"), &mut files);
        sources(&root.join("tests"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            if file.starts_with(&store) {
                for room in ["links", "render"] {
                    let path = format!("crate::{room}");
                    assert!(!text.contains(&path), "{} uses {path}", file.display());
                }
            } else {
                assert!(!text.contains("rusqlite"), "{} writes SQL", file.display());
            }
        }
    }

    #[test]
    fn a_batch_commits_all_its_statements_or_none() {
        use crate::store::inbound::{record, seen};
        let mut store = Store::open_in_memory().unwrap();
        let failed: anyhow::Result<()> = store.batch(|b| {
            record(b, "a@x", "reply")?;
            anyhow::bail!("the second step failed")
        });
        assert!(failed.is_err());
        store
            .batch(|b| {
                assert!(!seen(b, "a@x")?, "rolled back");
                record(b, "b@x", "reply")?;
                Ok(())
            })
            .unwrap();
        assert!(seen(&store.single(), "b@x").unwrap(), "committed");
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        Store::open(&path)
            .unwrap()
            .conn
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.downcast_ref::<NewerSchema>().is_some(), "{err:#}");
    }
}
