//! Durable storage for the broker: SQLite as the embedded default and PostgreSQL for
//! replicated deployments, behind one trait.
//!
//! [`SqlStore::open`] picks the backend from the URL, applies that backend's versioned
//! migrations and returns a value implementing [`breakglass_core::ports::Store`]. Every
//! commit writes the request row (guarded by its row version), the audit records (sealed onto
//! the chain head, which is locked for the duration) and the outbox rows in one transaction.
//! On SQLite, concurrent writes share transactions through group commit ([`group`]): each
//! in its own savepoint, one durable `COMMIT` for the batch.
//!
//! Architecture invariant: only this crate knows SQL. Every state change and its audit
//! record commit in one transaction, or neither does.

mod access;
mod activity;
mod auth;
mod backend;
mod codec;
mod group;
mod open;
mod plan;
mod query;
mod read;

use breakglass_core::audit::{ChainHead, ChainKey, StoredAuditRow};
use breakglass_core::model::RoleArn;
use breakglass_core::model::{GrantId, RequestId};
use breakglass_core::outbox::{OutboxMessage, QueuedMessage};
use breakglass_core::ports::{
    AccessStore, AuthStore, Commit, Committed, OutboxSettle, Store, StoreError, Versioned,
};
use breakglass_core::request::AccessRequest;
use breakglass_core::revocation::RevocationEntry;
use breakglass_core::session::{RequestFilter, Session, SessionQuery, SessionSummary};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use group::BoxFuture;
use read::ReadConn as _;

pub use auth::{
    AuthWrite, CeremonyRecord, InvitationRecord, PasskeyRecord, SecondFactorFailures, TokenHolder,
    TokenRecord, UserRecord,
};
pub use codec::ListedRequest;
pub use group::GroupCommitStats;
pub use open::{Backend, OpenError, OpenOptions, redact_url};

/// The SQLite backend.
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    readers: read::Readers,
    // SQLite has one writer at a time: this process's writes go through one writer task,
    // which commits them in batches (group commit). The busy timeout covers other processes.
    writer: group::Writer,
    /// The key audit records are sealed with.
    chain_key: Option<ChainKey>,
}

impl SqliteStore {
    const LOCK_HEAD: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1";
    // SQLite has one writer at a time: the claim's transaction is the lock.
    const CLAIM_LOCK: &'static str = "";

    /// A connection to read on.
    async fn reader(&self) -> Result<read::Reader, StoreError> {
        self.readers.acquire().await
    }

    /// Runs `job` in a write transaction (shared with other jobs, in its own savepoint) and
    /// returns its result once that transaction is durably committed. An `Err` from the job
    /// undoes the job's writes and nothing else.
    async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
                &'c mut plan::TxState,
            ) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.writer.write(job).await
    }

    /// As [`SqliteStore::write`], for a job that writes only through
    /// [`SqliteStore::run_steps`], which then opens the job's savepoint in the same round
    /// trip as its statements.
    async fn write_steps<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
                &'c mut plan::TxState,
            ) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.writer.write_steps(job).await
    }

    /// Runs `steps` in one round trip to the connection's thread: one SQL text, statement
    /// after statement, stopping at the first error, and opening the job's savepoint first
    /// if it is still to be opened. A step that had to change a row and changed none fails
    /// the write with its error (the job's savepoint undoes the rest).
    async fn run_steps(
        conn: &mut SqliteConnection,
        state: &mut plan::TxState,
        steps: Vec<plan::Step>,
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt as _;
        use sqlx::Executor as _;
        if steps.is_empty() {
            return Ok(());
        }
        // The savepoint's own result comes first and is not a step's.
        let mut sql = String::new();
        if state.savepoint_pending {
            sql.push_str("SAVEPOINT job;\n");
        }
        sql.push_str(&plan::combined_sql(&steps));
        let mut query = sqlx::query(&sql);
        let mut expected = Vec::with_capacity(steps.len());
        for step in steps {
            query = backend::bind_owned!(query, step.binds);
            expected.push((step.what, step.unchanged));
        }
        let mut changed = Vec::with_capacity(expected.len());
        let mut results = conn.fetch_many(query);
        loop {
            match results.try_next().await {
                Ok(Some(sqlx::Either::Left(_))) if state.savepoint_pending => {
                    state.savepoint_pending = false;
                }
                Ok(Some(sqlx::Either::Left(done))) => changed.push(done.rows_affected()),
                Ok(Some(sqlx::Either::Right(_))) => {}
                Ok(None) => break,
                Err(e) if state.savepoint_pending => {
                    return Err(StoreError::Unavailable(format!(
                        "SQLite could not open the write's savepoint: {e}"
                    )));
                }
                Err(e) => {
                    // The statement that failed is the first without a result.
                    let what = expected
                        .get(changed.len())
                        .map_or("a write", |(what, _)| what.as_str());
                    return Err(codec::db_error(e, what));
                }
            }
        }
        drop(results);
        if changed.len() != expected.len() {
            return Err(StoreError::Unavailable(format!(
                "SQLite ran {} of the {} statements of a write",
                changed.len(),
                expected.len()
            )));
        }
        for ((_, unchanged), n) in expected.into_iter().zip(changed) {
            if let Some(error) = unchanged
                && n != 1
            {
                return Err(error);
            }
        }
        Ok(())
    }
}

/// The PostgreSQL backend.
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
    /// The key audit records are sealed with.
    chain_key: Option<ChainKey>,
}

impl PgStore {
    const LOCK_HEAD: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
    // Replicas claiming at once skip each other's rows instead of queueing on them.
    const CLAIM_LOCK: &'static str = "FOR UPDATE SKIP LOCKED";

    /// A connection to read on.
    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, StoreError> {
        self.pool
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Runs `job` in its own transaction: committed if it returns `Ok`, rolled back if not.
    /// The chain head the job moved is written back before the commit.
    async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut PgConnection,
                &'c mut plan::TxState,
            ) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let unavailable = |e: sqlx::Error| StoreError::Unavailable(e.to_string());
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let mut tx_state = plan::TxState::default();
        match job(&mut tx, &mut tx_state).await {
            Ok(v) => {
                Self::write_head(&mut tx, &tx_state).await?;
                tx.commit().await.map_err(unavailable)?;
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// The same as [`PgStore::write`]: each write is its own transaction.
    async fn write_steps<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut PgConnection,
                &'c mut plan::TxState,
            ) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.write(job).await
    }

    /// Runs `steps` one statement after another (PostgreSQL prepares one statement at a
    /// time). A step that had to change a row and changed none fails the write with its
    /// error.
    async fn run_steps(
        conn: &mut PgConnection,
        _state: &mut plan::TxState,
        steps: Vec<plan::Step>,
    ) -> Result<(), StoreError> {
        for step in steps {
            let mut query = sqlx::query(step.sql);
            query = backend::bind_owned!(query, step.binds);
            let done = query
                .execute(&mut *conn)
                .await
                .map_err(|e| codec::db_error(e, &step.what))?;
            if let Some(error) = step.unchanged
                && done.rows_affected() != 1
            {
                return Err(error);
            }
        }
        Ok(())
    }
}

backend::store_impl!(SqliteStore, Sqlite);
backend::store_impl!(PgStore, Postgres);
auth::auth_impl!(SqliteStore, Sqlite);
auth::auth_impl!(PgStore, Postgres);
access::access_impl!(SqliteStore, Sqlite);
access::access_impl!(PgStore, Postgres);
activity::activity_impl!(SqliteStore, Sqlite);
activity::activity_impl!(PgStore, Postgres);

/// A store on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match &$self.inner {
            Inner::Sqlite($s) => $call,
            Inner::Postgres($s) => $call,
        }
    };
}

impl SqlStore {
    /// Opens the store at `url` for the broker: creates a SQLite file if missing and brings
    /// the schema up to date. `url` is `sqlite://PATH`, `sqlite::memory:`, a plain file path,
    /// or `postgres://...`.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        Self::open_with(url, OpenOptions::default()).await
    }

    /// Opens an existing store without creating or migrating anything (for `audit verify`
    /// and other read-mostly tools); fails if its schema is not the one this build expects.
    pub async fn open_existing(url: &str) -> Result<Self, OpenError> {
        Self::open_with(
            url,
            OpenOptions {
                create: false,
                migrate: false,
                ..OpenOptions::default()
            },
        )
        .await
    }

    /// Opens the store at `url` with explicit options.
    pub async fn open_with(url: &str, options: OpenOptions) -> Result<Self, OpenError> {
        let inner = match open::backend(url)? {
            Backend::Sqlite => {
                let readers = open::sqlite(url, &options).await?;
                let writer =
                    group::Writer::spawn(readers.clone()).map_err(|e| OpenError::Connect {
                        backend: Backend::Sqlite,
                        url: url.to_owned(),
                        detail: format!("cannot start the writer thread: {e}"),
                    })?;
                Inner::Sqlite(SqliteStore {
                    readers,
                    writer,
                    chain_key: None,
                })
            }
            Backend::Postgres => Inner::Postgres(PgStore {
                pool: open::postgres(url, &options).await?,
                chain_key: None,
            }),
        };
        Ok(Self { inner })
    }

    /// Seals every audit record this store appends with `key` (HMAC-SHA256), from now on.
    #[must_use]
    pub fn with_chain_key(mut self, key: ChainKey) -> Self {
        match &mut self.inner {
            Inner::Sqlite(s) => s.chain_key = Some(key),
            Inner::Postgres(s) => s.chain_key = Some(key),
        }
        self
    }

    /// How SQLite's group commit has batched writes so far (`None` on PostgreSQL, where
    /// each write is its own transaction).
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        match &self.inner {
            Inner::Sqlite(s) => Some(s.writer.stats()),
            Inner::Postgres(_) => None,
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection (waiting for checked-out ones to come back).
    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(s) => s.readers.close().await,
            Inner::Postgres(s) => s.pool.close().await,
        }
    }
}

impl Store for SqlStore {
    async fn get(&self, id: &RequestId) -> Result<Option<Versioned<AccessRequest>>, StoreError> {
        dispatch!(self, s => s.get(id).await)
    }

    async fn get_by_grant(
        &self,
        id: &GrantId,
    ) -> Result<Option<Versioned<AccessRequest>>, StoreError> {
        dispatch!(self, s => s.get_by_grant(id).await)
    }

    async fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        dispatch!(self, s => s.commit(commit).await)
    }

    async fn due(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<RequestId>, StoreError> {
        dispatch!(self, s => s.due(now, limit).await)
    }

    async fn requests(
        &self,
        filter: &RequestFilter,
    ) -> Result<Vec<Versioned<AccessRequest>>, StoreError> {
        dispatch!(self, s => s.requests(filter).await)
    }

    async fn request_listing(
        &self,
        filter: &RequestFilter,
    ) -> Result<Vec<ListedRequest>, StoreError> {
        dispatch!(self, s => s.request_listing(filter).await)
    }

    async fn sessions(
        &self,
        query: &SessionQuery,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, StoreError> {
        dispatch!(self, s => s.sessions(query, now).await)
    }

    async fn session_summary(
        &self,
        query: &SessionQuery,
        now: OffsetDateTime,
    ) -> Result<SessionSummary, StoreError> {
        dispatch!(self, s => s.session_summary(query, now).await)
    }

    fn chain_key(&self) -> Option<ChainKey> {
        dispatch!(self, s => s.chain_key.clone())
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>, StoreError> {
        dispatch!(self, s => s.audit_head().await)
    }

    async fn audit_rows(&self, after: i64, limit: u32) -> Result<Vec<StoredAuditRow>, StoreError> {
        dispatch!(self, s => s.audit_rows(after, limit).await)
    }

    async fn outbox_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        dispatch!(self, s => s.outbox_due(now, limit).await)
    }

    async fn outbox_claim(
        &self,
        now: OffsetDateTime,
        holder: &str,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        dispatch!(self, s => s.outbox_claim(now, holder, lease_until, limit).await)
    }

    async fn outbox_settle(
        &self,
        id: i64,
        holder: &str,
        settle: OutboxSettle,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_settle(id, holder, settle).await)
    }

    async fn commit_once(&self, key: &str, commit: Commit) -> Result<bool, StoreError> {
        dispatch!(self, s => s.commit_once(key, commit).await)
    }

    async fn commit_drill(
        &self,
        run: &breakglass_core::drill::DrillRun,
        commit: Commit,
    ) -> Result<Committed, StoreError> {
        dispatch!(self, s => s.commit_drill(run, commit).await)
    }

    async fn commit_game_day(
        &self,
        day: &breakglass_core::game_day::GameDay,
        commit: Commit,
    ) -> Result<Committed, StoreError> {
        dispatch!(self, s => s.commit_game_day(day, commit).await)
    }

    async fn game_day(
        &self,
        incident: &breakglass_core::model::IncidentId,
    ) -> Result<Option<breakglass_core::game_day::GameDay>, StoreError> {
        dispatch!(self, s => s.game_day(incident).await)
    }

    async fn drill_runs(
        &self,
        limit: u32,
    ) -> Result<Vec<breakglass_core::drill::DrillRun>, StoreError> {
        dispatch!(self, s => s.drill_runs(limit).await)
    }

    async fn outbox_undelivered(&self, limit: u32) -> Result<Vec<QueuedMessage>, StoreError> {
        dispatch!(self, s => s.outbox_undelivered(limit).await)
    }

    async fn outbox_dead_letters(&self, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        dispatch!(self, s => s.outbox_dead_letters(limit).await)
    }

    async fn record_notifications(
        &self,
        seq: u64,
    ) -> Result<Vec<breakglass_core::outbox::SentNotification>, StoreError> {
        dispatch!(self, s => s.record_notifications(seq).await)
    }

    async fn request_notifications(
        &self,
        request: &breakglass_core::model::RequestId,
    ) -> Result<Vec<breakglass_core::outbox::SentNotification>, StoreError> {
        dispatch!(self, s => s.request_notifications(request).await)
    }

    async fn chat_messages(
        &self,
        request: &RequestId,
    ) -> Result<Vec<breakglass_core::chat::ChatMessageRef>, StoreError> {
        dispatch!(self, s => s.chat_messages(request).await)
    }

    async fn put_chat_message(
        &self,
        request: &RequestId,
        message: &breakglass_core::chat::ChatMessageRef,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_chat_message(request, message).await)
    }
}

impl AuthStore for SqlStore {
    /// The local user `username`.
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        dispatch!(self, s => s.user(username).await)
    }

    /// Every local user, by name.
    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        dispatch!(self, s => s.users().await)
    }

    /// The API token whose SHA-256 is `sha256` (hex), revoked or not, with whether its user
    /// is an administrator (`None` if there is no such token or user).
    async fn token_holder(&self, sha256: &str) -> Result<Option<TokenHolder>, StoreError> {
        dispatch!(self, s => s.token_holder(sha256).await)
    }

    /// The API tokens of `username`, newest first.
    async fn tokens(&self, username: &str) -> Result<Vec<TokenRecord>, StoreError> {
        dispatch!(self, s => s.tokens(username).await)
    }

    /// The invitation whose secret's SHA-256 is `sha256`.
    async fn invitation(&self, sha256: &str) -> Result<Option<InvitationRecord>, StoreError> {
        dispatch!(self, s => s.invitation(sha256).await)
    }

    /// The run of wrong second-factor codes of `username`, if one is stored.
    async fn second_factor_failures(
        &self,
        username: &str,
    ) -> Result<Option<SecondFactorFailures>, StoreError> {
        dispatch!(self, s => s.second_factor_failures(username).await)
    }

    /// The passkeys of `username`, oldest first.
    async fn passkeys(&self, username: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
        dispatch!(self, s => s.passkeys(username).await)
    }

    /// The WebAuthn ceremony `id` (`None` once answered).
    async fn ceremony(&self, id: &str) -> Result<Option<CeremonyRecord>, StoreError> {
        dispatch!(self, s => s.ceremony(id).await)
    }

    async fn chat_links(
        &self,
        platform: &str,
    ) -> Result<Vec<breakglass_core::chat::ChatLinkRecord>, StoreError> {
        dispatch!(self, s => s.chat_links(platform).await)
    }

    async fn chat_link(
        &self,
        platform: &str,
        of: breakglass_core::chat::LinkOf<'_>,
    ) -> Result<Option<breakglass_core::chat::ChatLinkRecord>, StoreError> {
        dispatch!(self, s => s.chat_link(platform, of).await)
    }

    async fn chat_link_code(
        &self,
        sha256: &str,
    ) -> Result<Option<breakglass_core::chat::ChatLinkCode>, StoreError> {
        dispatch!(self, s => s.chat_link_code(sha256).await)
    }

    async fn remember_chat_delivery(
        &self,
        key: &str,
        expires_at: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.remember_chat_delivery(key, expires_at, now).await)
    }

    /// Applies authentication changes and appends their audit records in one transaction
    /// (`audit` must not be empty: an unaudited authentication change is refused), with the
    /// notifications the records map to.
    async fn auth_commit(
        &self,
        writes: Vec<AuthWrite>,
        audit: Vec<breakglass_core::audit::AuditEntry>,
    ) -> Result<Committed, StoreError> {
        dispatch!(self, s => s.auth_commit(writes, audit).await)
    }
}

impl AccessStore for SqlStore {
    async fn add_revocation(&self, entry: &RevocationEntry) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_revocation(entry).await)
    }

    async fn revocations(
        &self,
        role: Option<&RoleArn>,
    ) -> Result<Vec<RevocationEntry>, StoreError> {
        dispatch!(self, s => s.revocations(role).await)
    }

    async fn remove_revocations(&self, entries: &[RevocationEntry]) -> Result<(), StoreError> {
        dispatch!(self, s => s.remove_revocations(entries).await)
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.take_lease(name, holder, now, until).await)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.release_lease(name, holder).await)
    }

    async fn revocation_generation(&self, role: &RoleArn) -> Result<u64, StoreError> {
        dispatch!(self, s => s.revocation_generation(role).await)
    }

    async fn release_role_sync(
        &self,
        name: &str,
        holder: &str,
        role: &RoleArn,
        generation: u64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.release_role_sync(name, holder, role, generation).await)
    }

    async fn commit_activity(
        &self,
        batch: breakglass_core::ports::ActivityCommit,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.commit_activity(batch).await)
    }

    async fn activity_cursors(&self) -> Result<Vec<breakglass_core::activity::Cursor>, StoreError> {
        dispatch!(self, s => s.activity_cursors().await)
    }

    async fn stored_event_ids(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.stored_event_ids(ids).await)
    }

    async fn learned_keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, breakglass_core::model::RequestId)>, StoreError> {
        dispatch!(self, s => s.learned_keys(keys).await)
    }

    async fn request_activity(
        &self,
        request: &breakglass_core::model::RequestId,
        limit: u32,
    ) -> Result<Vec<breakglass_core::activity::StoredEvent>, StoreError> {
        dispatch!(self, s => s.request_activity(request, limit).await)
    }

    async fn findings(
        &self,
        keys: Option<&[String]>,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<breakglass_core::activity::Finding>, StoreError> {
        dispatch!(self, s => s.findings(keys, since, limit).await)
    }

    async fn prune_activity(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_activity(before).await)
    }
}
