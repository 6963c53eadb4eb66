//! SQLite's read connections, kept by the store itself rather than by a sqlx pool.
//!
//! Each SQLite connection lives on a thread of its own, and every command to it is a round
//! trip between threads. A sqlx pool adds two to each read: it pings the connection when
//! handing it out and again when taking it back. On a loaded broker these hand-offs cost as
//! much as the reads, and a connection whose return ping is still queued is out of use. An
//! SQLite connection in this process does not drop like a network connection, so the store
//! hands its readers out without pings: a read is one round trip.
//!
//! A reader is given back when its guard drops, even if the read future was cancelled: the
//! connection's thread runs commands in order, so the next read waits for the cancelled one
//! to stop. A reader whose thread has failed is dropped instead and a new one is opened (for a
//! database file; an in-memory database lives in its one connection, which is never
//! replaced).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use breakglass_core::ports::StoreError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection a read ran on: maps the read's error, and for SQLite drops a connection
/// whose thread failed.
pub(crate) trait ReadConn {
    /// The store's error for `e`, from reading `what`.
    fn failed(&mut self, e: sqlx::Error, what: &str) -> StoreError;
}

impl ReadConn for sqlx::pool::PoolConnection<sqlx::Postgres> {
    fn failed(&mut self, e: sqlx::Error, what: &str) -> StoreError {
        // The pool tests a PostgreSQL connection when it takes it back.
        crate::codec::db_error(e, what)
    }
}

/// SQLite's readers: at most `size` connections, each used by one read at a time.
#[derive(Debug, Clone)]
pub(crate) struct Readers {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// How to open another reader, or `None` for an in-memory database.
    connect: Option<SqliteConnectOptions>,
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Arc<Semaphore>,
    size: u32,
    wait: Duration,
}

impl Readers {
    /// Readers for a database file opened with `connect`, up to `size` at once, `first`
    /// among them; a read waits at most `wait` for one.
    pub(crate) fn file(
        connect: SqliteConnectOptions,
        first: SqliteConnection,
        size: u32,
        wait: Duration,
    ) -> Self {
        Self::new(Some(connect), first, size, wait)
    }

    /// The one reader of an in-memory database (`conn` holds the database).
    pub(crate) fn memory(conn: SqliteConnection, wait: Duration) -> Self {
        Self::new(None, conn, 1, wait)
    }

    fn new(
        connect: Option<SqliteConnectOptions>,
        first: SqliteConnection,
        size: u32,
        wait: Duration,
    ) -> Self {
        let size = size.max(1);
        Self {
            shared: Arc::new(Shared {
                connect,
                idle: Mutex::new(vec![first]),
                permits: Arc::new(Semaphore::new(size as usize)),
                size,
                wait,
            }),
        }
    }

    /// How to open a connection of the database's own, or `None` for an in-memory database
    /// (another connection would open another database).
    pub(crate) fn connect_options(&self) -> Option<&SqliteConnectOptions> {
        self.shared.connect.as_ref()
    }

    /// A reader, once one is free.
    pub(crate) async fn acquire(&self) -> Result<Reader, StoreError> {
        let permit = tokio::time::timeout(
            self.shared.wait,
            Arc::clone(&self.shared.permits).acquire_owned(),
        )
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "no SQLite connection came free within {:?}",
                self.shared.wait
            ))
        })?
        .map_err(|_| StoreError::Unavailable("the store is closed".to_owned()))?;
        let idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match (idle, &self.shared.connect) {
            (Some(conn), _) => conn,
            (None, Some(connect)) => connect.connect().await.map_err(|e| {
                StoreError::Unavailable(format!("cannot open an SQLite connection: {e}"))
            })?,
            (None, None) => {
                return Err(StoreError::Unavailable(
                    "the in-memory database's connection has failed".to_owned(),
                ));
            }
        };
        Ok(Reader {
            conn: Some(conn),
            keep: true,
            shared: Arc::clone(&self.shared),
            _permit: permit,
        })
    }

    /// Waits for the readers in use to come back, then closes them all; reads after this
    /// fail.
    pub(crate) async fn close(&self) {
        let Ok(all) = self.shared.permits.acquire_many(self.shared.size).await else {
            return;
        };
        self.shared.permits.close();
        drop(all);
        let conns = std::mem::take(
            &mut *self
                .shared
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for conn in conns {
            let _ = conn.close().await;
        }
    }
}

/// A reader in use: a connection, given back when dropped.
#[derive(Debug)]
pub(crate) struct Reader {
    conn: Option<SqliteConnection>,
    keep: bool,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl ReadConn for Reader {
    fn failed(&mut self, e: sqlx::Error, what: &str) -> StoreError {
        // The connection's thread is gone (or its channel broke): open another next time.
        // An in-memory database has no other, so its connection stays whatever happened.
        if self.shared.connect.is_some()
            && matches!(
                e,
                sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) | sqlx::Error::Protocol(_)
            )
        {
            self.keep = false;
        }
        crate::codec::db_error(e, what)
    }
}

impl Deref for Reader {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        // Present from creation until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Given back before the permit is released (fields drop after this), so the next
        // read finds it; after `close`, it is dropped with the reader.
        if let Some(conn) = self.conn.take()
            && self.keep
            && !self.shared.permits.is_closed()
        {
            self.shared
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests fail loudly"
    )]

    use super::*;
    use crate::open::{OpenOptions, sqlite};

    async fn file_readers(dir: &tempfile::TempDir) -> Readers {
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        sqlite(&url, &OpenOptions::default()).await.unwrap()
    }

    async fn one(reader: &mut Reader) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut **reader)
            .await
            .map_err(|e| reader.failed(e, "one"))
    }

    fn idle(readers: &Readers) -> usize {
        readers.shared.idle.lock().unwrap().len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_is_given_back_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let readers = file_readers(&dir).await;
        assert_eq!(idle(&readers), 1, "the connection that migrated");
        for _ in 0..3 {
            let mut reader = readers.acquire().await.unwrap();
            assert_eq!(idle(&readers), 0);
            assert_eq!(one(&mut reader).await.unwrap(), 1);
            drop(reader);
            assert_eq!(idle(&readers), 1, "given back, no other opened");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_read_leaves_its_reader_usable() {
        let dir = tempfile::tempdir().unwrap();
        let readers = file_readers(&dir).await;
        let mut reader = readers.acquire().await.unwrap();
        // A read that takes seconds, dropped after a millisecond.
        let slow = sqlx::query_scalar::<_, i64>(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000000) SELECT COUNT(*) FROM n",
        )
        .fetch_one(&mut *reader);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(1), slow)
                .await
                .is_err()
        );
        drop(reader);
        let mut reader = readers.acquire().await.unwrap();
        assert_eq!(one(&mut reader).await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_whose_thread_failed_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let readers = file_readers(&dir).await;
        let mut reader = readers.acquire().await.unwrap();
        let e = reader.failed(sqlx::Error::WorkerCrashed, "one");
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        drop(reader);
        assert_eq!(idle(&readers), 0, "the failed connection is not given back");
        let mut reader = readers.acquire().await.unwrap();
        assert_eq!(one(&mut reader).await.unwrap(), 1, "a new connection");
        // A database error says nothing about the connection: it is kept.
        let e = sqlx::query("SELECT * FROM no_such_table")
            .execute(&mut *reader)
            .await
            .unwrap_err();
        let _ = reader.failed(e, "no_such_table");
        drop(reader);
        assert_eq!(idle(&readers), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_waits_for_readers_in_use_and_later_reads_fail() {
        let dir = tempfile::tempdir().unwrap();
        let readers = file_readers(&dir).await;
        let reader = readers.acquire().await.unwrap();
        let closing = tokio::spawn({
            let readers = readers.clone();
            async move { readers.close().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!closing.is_finished(), "close waits for the reader in use");
        drop(reader);
        tokio::time::timeout(std::time::Duration::from_secs(5), closing)
            .await
            .expect("closed once the reader came back")
            .unwrap();
        assert_eq!(idle(&readers), 0);
        match readers.acquire().await {
            Err(StoreError::Unavailable(m)) => assert!(m.contains("closed"), "{m}"),
            other => panic!("a read after close: {other:?}"),
        }
    }
}
