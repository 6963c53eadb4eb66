//! The store operations, written once and instantiated for each sqlx driver.
//!
//! The SQL is shared (see [`crate::query`]); what differs between SQLite and PostgreSQL is how
//! a write transaction is run and how the chain head is locked, which each backend supplies
//! as `write` (PostgreSQL: one transaction per write; SQLite: group commit) and `LOCK_HEAD`.
//! A write is a job over a connection that is inside a transaction: it commits if the job
//! returns `Ok` and leaves no trace if it returns `Err`. A macro rather than generic code
//! keeps every query concretely typed per driver.

/// Binds a list of dynamic values to a query (an iterator of owned `Bind`s: `.iter().cloned()`
/// for values a caller keeps).
macro_rules! bind_owned {
    ($query:expr, $binds:expr) => {{
        let mut q = $query;
        for b in $binds {
            q = match b {
                $crate::codec::Bind::Text(s) => q.bind(s),
                $crate::codec::Bind::Int(i) => q.bind(i),
                $crate::codec::Bind::Bool(v) => q.bind(v),
                $crate::codec::Bind::OptText(s) => q.bind(s),
                $crate::codec::Bind::OptInt(i) => q.bind(i),
            };
        }
        q
    }};
}

/// Implements the store operations on `$store`, whose `pool` field is a pool of `$db`.
macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn read_request(
                &self,
                column: &str,
                key: &str,
            ) -> Result<Option<breakglass_core::ports::Versioned<breakglass_core::request::AccessRequest>>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let sql = format!("SELECT id, version, doc FROM requests WHERE {column} = $1");
                let mut reader = self.reader().await?;
                let row = sqlx::query(&sql)
                    .bind(key)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, key))?;
                drop(reader);
                let Some(row) = row else { return Ok(None) };
                let id: String = row.try_get("id").map_err(|e| $crate::codec::db_error(e, key))?;
                let version: i64 = row.try_get("version").map_err(|e| $crate::codec::db_error(e, key))?;
                let doc: String = row.try_get("doc").map_err(|e| $crate::codec::db_error(e, key))?;
                $crate::codec::decode_request(&id, version, &doc).map(Some)
            }

            pub(crate) async fn get(
                &self,
                id: &breakglass_core::model::RequestId,
            ) -> Result<Option<breakglass_core::ports::Versioned<breakglass_core::request::AccessRequest>>, breakglass_core::ports::StoreError> {
                self.read_request("id", id.as_str()).await
            }

            pub(crate) async fn get_by_grant(
                &self,
                id: &breakglass_core::model::GrantId,
            ) -> Result<Option<breakglass_core::ports::Versioned<breakglass_core::request::AccessRequest>>, breakglass_core::ports::StoreError> {
                self.read_request("grant_id", id.as_str()).await
            }

            pub(crate) async fn commit(
                &self,
                commit: breakglass_core::ports::Commit,
            ) -> Result<breakglass_core::ports::Committed, breakglass_core::ports::StoreError> {
                let now = $crate::plan::commit_time(&commit)?;
                let prepared = $crate::plan::prepare(commit, now, self.chain_key.clone())?;
                // Its one write goes through `run_steps`, which opens its savepoint on SQLite.
                self.write_steps(move |conn, tx_state| Box::pin(async move { Self::write_in(conn, tx_state, prepared).await }))
                    .await
            }

            /// Writes `prepared` on `conn`, which is inside a write transaction whose chain
            /// head is `tx_state`: the audit records are sealed onto the head (read, and on
            /// PostgreSQL locked, by the transaction's first audit write: every writer queues
            /// there, so the chain never forks and transactions never deadlock), and the
            /// statements sent as the backend sends them best. The head is written back by
            /// whoever commits the transaction.
            async fn write_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                tx_state: &mut $crate::plan::TxState,
                prepared: $crate::plan::Prepared,
            ) -> Result<breakglass_core::ports::Committed, breakglass_core::ports::StoreError> {
                use breakglass_core::audit::ChainHead;
                use breakglass_core::canonical::Sha256Digest;
                use breakglass_core::ports::StoreError;
                use sqlx::Row as _;
                let unavailable = |e: sqlx::Error| StoreError::Unavailable(e.to_string());

                let head = match tx_state.head {
                    Some(head) => head,
                    None => {
                        let head_row = sqlx::query(Self::LOCK_HEAD)
                            .fetch_optional(&mut *conn)
                            .await
                            .map_err(unavailable)?
                            .ok_or_else(|| StoreError::Corrupt("the audit chain head row is missing".to_owned()))?;
                        let head_seq: i64 = head_row.try_get("seq").map_err(unavailable)?;
                        let head_hash: String = head_row.try_get("hash").map_err(unavailable)?;
                        ChainHead {
                            seq: u64::try_from(head_seq)
                                .map_err(|_| StoreError::Corrupt(format!("chain head seq {head_seq}")))?,
                            hash: Sha256Digest::from_hex(&head_hash)
                                .map_err(|e| StoreError::Corrupt(format!("chain head: {e}")))?,
                        }
                    }
                };
                tx_state.head = Some(head);
                let (steps, committed) = prepared.seal(head)?;
                Self::run_steps(conn, tx_state, steps).await?;
                tx_state.head = Some(committed.head);
                tx_state.moved = true;
                Ok(committed)
            }

            /// Writes the chain head back if the transaction on `conn` moved it (once per
            /// transaction, just before its commit).
            pub(crate) async fn write_head(
                conn: &mut <$db as sqlx::Database>::Connection,
                tx_state: &$crate::plan::TxState,
            ) -> Result<(), breakglass_core::ports::StoreError> {
                use breakglass_core::ports::StoreError;
                let Some(head) = tx_state.head.filter(|_| tx_state.moved) else {
                    return Ok(());
                };
                sqlx::query($crate::query::UPDATE_HEAD)
                    .bind(i64::try_from(head.seq).map_err(|_| StoreError::InvalidCommit("seq overflow".to_owned()))?)
                    .bind(head.hash.to_hex())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(())
            }

            pub(crate) async fn due(
                &self,
                now: time::OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<breakglass_core::model::RequestId>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_DUE)
                    .bind(breakglass_core::audit::unix_micros(now))
                    .bind($crate::query::limit(Some(limit)))
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "due requests"))?;
                drop(reader);
                rows.iter()
                    .map(|row| {
                        let id: String = row.try_get("id").map_err(|e| $crate::codec::db_error(e, "due requests"))?;
                        breakglass_core::model::RequestId::new(id.clone()).map_err(|e| {
                            breakglass_core::ports::StoreError::Corrupt(format!("request id `{id}`: {e}"))
                        })
                    })
                    .collect()
            }

            async fn docs(
                &self,
                sql: &str,
                binds: &[$crate::codec::Bind],
            ) -> Result<Vec<breakglass_core::ports::Versioned<breakglass_core::request::AccessRequest>>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let rows = $crate::backend::bind_owned!(sqlx::query(sql), binds.iter().cloned())
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "requests"))?;
                drop(reader);
                rows.iter()
                    .map(|row| {
                        let id: String = row.try_get("id").map_err(|e| $crate::codec::db_error(e, "requests"))?;
                        let version: i64 = row.try_get("version").map_err(|e| $crate::codec::db_error(e, "requests"))?;
                        let doc: String = row.try_get("doc").map_err(|e| $crate::codec::db_error(e, "requests"))?;
                        $crate::codec::decode_request(&id, version, &doc)
                    })
                    .collect()
            }

            pub(crate) async fn requests(
                &self,
                filter: &breakglass_core::session::RequestFilter,
            ) -> Result<Vec<breakglass_core::ports::Versioned<breakglass_core::request::AccessRequest>>, breakglass_core::ports::StoreError> {
                let (sql, binds) = $crate::query::request_listing(filter, "id, version, doc");
                self.docs(&sql, &binds).await
            }

            pub(crate) async fn request_listing(
                &self,
                filter: &breakglass_core::session::RequestFilter,
            ) -> Result<Vec<$crate::codec::ListedRequest>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let what = "requests";
                let (sql, binds) = $crate::query::request_listing(filter, "id, version, status, requester, doc");
                let mut reader = self.reader().await?;
                let rows = $crate::backend::bind_owned!(sqlx::query(&sql), binds)
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, what))?;
                drop(reader);
                rows.into_iter()
                    .map(|row| {
                        let err = |e| $crate::codec::db_error(e, what);
                        let version: i64 = row.try_get("version").map_err(err)?;
                        Ok($crate::codec::ListedRequest {
                            id: row.try_get("id").map_err(err)?,
                            version: u64::try_from(version).map_err(|_| {
                                breakglass_core::ports::StoreError::Corrupt(format!("a request has version {version}"))
                            })?,
                            status: row.try_get("status").map_err(err)?,
                            requester: row.try_get("requester").map_err(err)?,
                            doc: row.try_get("doc").map_err(err)?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn sessions(
                &self,
                query: &breakglass_core::session::SessionQuery,
                now: time::OffsetDateTime,
            ) -> Result<Vec<breakglass_core::session::Session>, breakglass_core::ports::StoreError> {
                let (mut f, _) = $crate::query::sessions(query, now);
                let where_ = f.sql();
                let limit = f.bind($crate::codec::Bind::Int($crate::query::limit(query.limit)));
                let sql = format!("SELECT id, version, doc FROM requests {where_} ORDER BY grant_start DESC, id DESC LIMIT {limit}");
                let docs = self.docs(&sql, &f.binds).await?;
                Ok(docs
                    .iter()
                    .filter_map(|d| breakglass_core::session::Session::from_request(&d.value, now))
                    .collect())
            }

            pub(crate) async fn session_summary(
                &self,
                query: &breakglass_core::session::SessionQuery,
                now: time::OffsetDateTime,
            ) -> Result<breakglass_core::session::SessionSummary, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let (f, now_p) = $crate::query::sessions(query, now);
                let where_ = f.sql();
                let mut summary = breakglass_core::session::SessionSummary::default();
                let groups = [
                    ("status", $crate::query::session_status(&now_p)),
                    ("playbook", "playbook".to_owned()),
                    ("kind", "kind".to_owned()),
                    ("requester", "requester".to_owned()),
                    ("incident", "incident".to_owned()),
                ];
                for (name, expr) in groups {
                    let sql = format!("SELECT {expr} AS k, COUNT(*) AS n FROM requests {where_} GROUP BY {expr}");
                    let mut reader = self.reader().await?;
                    let rows = $crate::backend::bind_owned!(sqlx::query(&sql), f.binds.iter().cloned())
                        .fetch_all(&mut *reader)
                        .await
                        .map_err(|e| reader.failed(e, "session summary"))?;
                    drop(reader);
                    for row in rows {
                        let key: String = row.try_get("k").map_err(|e| $crate::codec::db_error(e, "session summary"))?;
                        let n: i64 = row.try_get("n").map_err(|e| $crate::codec::db_error(e, "session summary"))?;
                        let n = u64::try_from(n).unwrap_or(0);
                        match name {
                            "status" => {
                                summary.total += n;
                                match key.as_str() {
                                    "active" => summary.active += n,
                                    "revoked" => summary.revoked += n,
                                    _ => summary.expired += n,
                                }
                            }
                            "playbook" => { summary.by_playbook.insert(key, n); }
                            "kind" => { summary.by_kind.insert(key, n); }
                            "requester" => { summary.by_requester.insert(key, n); }
                            _ => { summary.by_incident.insert(key, n); }
                        }
                    }
                }
                Ok(summary)
            }

            pub(crate) async fn audit_head(
                &self,
            ) -> Result<Option<breakglass_core::audit::ChainHead>, breakglass_core::ports::StoreError> {
                use breakglass_core::ports::StoreError;
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::query::SELECT_HEAD)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "audit head"))?;
                drop(reader);
                let Some(row) = row else { return Ok(None) };
                let seq: i64 = row.try_get("seq").map_err(|e| $crate::codec::db_error(e, "audit head"))?;
                let hash: String = row.try_get("hash").map_err(|e| $crate::codec::db_error(e, "audit head"))?;
                Ok(Some(breakglass_core::audit::ChainHead {
                    seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("chain head seq {seq}")))?,
                    hash: breakglass_core::canonical::Sha256Digest::from_hex(&hash)
                        .map_err(|e| StoreError::Corrupt(format!("chain head: {e}")))?,
                }))
            }

            pub(crate) async fn audit_rows(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<breakglass_core::audit::StoredAuditRow>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_AUDIT)
                    .bind(after)
                    .bind(i64::from(limit.clamp(1, 10_000)))
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "audit log"))?;
                drop(reader);
                let err = |e| $crate::codec::db_error(e, "audit log");
                rows.iter()
                    .map(|row| {
                        Ok(breakglass_core::audit::StoredAuditRow {
                            seq: row.try_get("seq").map_err(err)?,
                            at_micros: row.try_get("at").map_err(err)?,
                            kind: row.try_get("kind").map_err(err)?,
                            request: row.try_get("request_id").map_err(err)?,
                            actor: row.try_get("actor").map_err(err)?,
                            body: row.try_get("body").map_err(err)?,
                            prev_hash: row.try_get("prev_hash").map_err(err)?,
                            hash: row.try_get("hash").map_err(err)?,
                        })
                    })
                    .collect()
            }

            fn outbox_rows(
                rows: Vec<<$db as sqlx::Database>::Row>,
            ) -> Result<Vec<breakglass_core::outbox::OutboxMessage>, breakglass_core::ports::StoreError> {
                use breakglass_core::ports::StoreError;
                use sqlx::Row as _;
                let err = |e| $crate::codec::db_error(e, "outbox");
                rows.iter()
                    .map(|row| {
                        let id: i64 = row.try_get("id").map_err(err)?;
                        let seq: i64 = row.try_get("audit_seq").map_err(err)?;
                        let created: i64 = row.try_get("created_at").map_err(err)?;
                        let json: String = row.try_get("notification").map_err(err)?;
                        let attempts: i64 = row.try_get("attempts").map_err(err)?;
                        let done: String = row.try_get("delivered_channels").map_err(err)?;
                        Ok(breakglass_core::outbox::OutboxMessage {
                            id,
                            audit_seq: u64::try_from(seq)
                                .map_err(|_| StoreError::Corrupt(format!("outbox {id}: audit seq {seq}")))?,
                            created_at: $crate::codec::time_from_micros(created)?,
                            notification: serde_json::from_str(&json)
                                .map_err(|e| StoreError::Corrupt(format!("outbox {id}: {e}")))?,
                            event_body: row.try_get("body").map_err(err)?,
                            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                            done_channels: serde_json::from_str(&done)
                                .map_err(|e| StoreError::Corrupt(format!("outbox {id} delivered channels: {e}")))?,
                            last_error: row.try_get("last_error").map_err(err)?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn outbox_due(
                &self,
                now: time::OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<breakglass_core::outbox::OutboxMessage>, breakglass_core::ports::StoreError> {
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_OUTBOX_DUE)
                    .bind(breakglass_core::audit::unix_micros(now))
                    .bind($crate::query::limit(Some(limit)))
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "outbox"))?;
                drop(reader);
                Self::outbox_rows(rows)
            }

            pub(crate) async fn outbox_claim(
                &self,
                now: time::OffsetDateTime,
                holder: &str,
                lease_until: time::OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<breakglass_core::outbox::OutboxMessage>, breakglass_core::ports::StoreError> {
                use breakglass_core::audit::unix_micros;
                let holder = holder.to_owned();
                let claim = $crate::query::claim_outbox(Self::CLAIM_LOCK);
                self.write(move |conn, _state| Box::pin(async move {
                    let err = |e| $crate::codec::db_error(e, "outbox claim");
                    sqlx::query(&claim)
                        .bind(&holder)
                        .bind(unix_micros(lease_until))
                        .bind(unix_micros(now))
                        .bind($crate::query::limit(Some(limit)))
                        .execute(&mut *conn)
                        .await
                        .map_err(err)?;
                    let rows = sqlx::query($crate::query::SELECT_OUTBOX_CLAIMED)
                        .bind(&holder)
                        .bind(unix_micros(lease_until))
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(err)?;
                    Self::outbox_rows(rows)
                }))
                .await
            }

            pub(crate) async fn outbox_settle(
                &self,
                id: i64,
                holder: &str,
                settle: breakglass_core::ports::OutboxSettle,
            ) -> Result<bool, breakglass_core::ports::StoreError> {
                use breakglass_core::audit::unix_micros;
                use breakglass_core::ports::OutboxSettle;
                use breakglass_core::ports::StoreError;
                use $crate::codec::Bind;
                let err = |e| $crate::codec::db_error(e, "outbox");
                let channels = |done: &[String]| {
                    serde_json::to_string(done).map_err(|e| StoreError::InvalidCommit(format!("channels: {e}")))
                };
                let clip = |e: &str| -> String { e.chars().take(2_000).collect() };
                let (sql, mut binds, commit) = match settle {
                    OutboxSettle::Delivered { at, done_channels } => (
                        $crate::query::SETTLE_DELIVERED,
                        vec![Bind::Int(unix_micros(at)), Bind::Text(channels(&done_channels)?)],
                        None,
                    ),
                    OutboxSettle::Retry { done_channels, error, retry_at } => (
                        $crate::query::SETTLE_RETRY,
                        vec![
                            Bind::Text(clip(&error)),
                            Bind::Int(unix_micros(retry_at)),
                            Bind::Text(channels(&done_channels)?),
                        ],
                        None,
                    ),
                    OutboxSettle::DeadLetter { done_channels, error, at, commit } => (
                        $crate::query::SETTLE_DEAD,
                        vec![
                            Bind::Text(clip(&error)),
                            Bind::Int(unix_micros(at)),
                            Bind::Text(channels(&done_channels)?),
                        ],
                        Some($crate::plan::prepare(*commit, unix_micros(at), self.chain_key.clone())?),
                    ),
                };
                binds.splice(0..0, [Bind::Int(id), Bind::Text(holder.to_owned())]);
                self.write(move |conn, tx_state| Box::pin(async move {
                    let updated = $crate::backend::bind_owned!(sqlx::query(sql), binds)
                        .execute(&mut *conn)
                        .await
                        .map_err(err)?
                        .rows_affected();
                    // Someone else holds the claim now: nothing was written.
                    if updated != 1 {
                        return Ok(false);
                    }
                    if let Some(prepared) = commit {
                        Self::write_in(conn, tx_state, prepared).await?;
                    }
                    Ok(true)
                }))
                .await
            }

            pub(crate) async fn commit_once(
                &self,
                key: &str,
                commit: breakglass_core::ports::Commit,
            ) -> Result<bool, breakglass_core::ports::StoreError> {
                let now = $crate::plan::commit_time(&commit)?;
                let prepared = $crate::plan::prepare(commit, now, self.chain_key.clone())?;
                let key = key.to_owned();
                self.write(move |conn, tx_state| Box::pin(async move {
                    let inserted = sqlx::query($crate::query::INSERT_REMINDER)
                        .bind(&key)
                        .bind(now)
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| $crate::codec::db_error(e, "reminder"))?
                        .rows_affected();
                    // Already committed once: nothing was written.
                    if inserted != 1 {
                        return Ok(false);
                    }
                    Self::write_in(conn, tx_state, prepared).await?;
                    Ok(true)
                }))
                .await
            }

            pub(crate) async fn commit_drill(
                &self,
                run: &breakglass_core::drill::DrillRun,
                commit: breakglass_core::ports::Commit,
            ) -> Result<breakglass_core::ports::Committed, breakglass_core::ports::StoreError> {
                let now = $crate::plan::commit_time(&commit)?;
                let prepared = $crate::plan::prepare(commit, now, self.chain_key.clone())?;
                let doc = serde_json::to_string(run).map_err(|e| {
                    breakglass_core::ports::StoreError::InvalidCommit(format!("drill run: {e}"))
                })?;
                let id = run.id.clone();
                let started = breakglass_core::audit::unix_micros(run.started_at);
                let finished = breakglass_core::audit::unix_micros(run.finished_at);
                let trigger = serde_json::to_value(run.trigger)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let passed = i64::from(run.passed());
                self.write(move |conn, tx_state| Box::pin(async move {
                    sqlx::query($crate::query::INSERT_DRILL_RUN)
                        .bind(&id)
                        .bind(started)
                        .bind(finished)
                        .bind(&trigger)
                        .bind(passed)
                        .bind(&doc)
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| $crate::codec::db_error(e, "drill run"))?;
                    Self::write_in(conn, tx_state, prepared).await
                }))
                .await
            }

            pub(crate) async fn commit_game_day(
                &self,
                day: &breakglass_core::game_day::GameDay,
                commit: breakglass_core::ports::Commit,
            ) -> Result<breakglass_core::ports::Committed, breakglass_core::ports::StoreError> {
                let now = $crate::plan::commit_time(&commit)?;
                let prepared = $crate::plan::prepare(commit, now, self.chain_key.clone())?;
                let doc = serde_json::to_string(day).map_err(|e| {
                    breakglass_core::ports::StoreError::InvalidCommit(format!("game day: {e}"))
                })?;
                let incident = day.incident.to_string();
                let started = breakglass_core::audit::unix_micros(day.started_at);
                self.write(move |conn, tx_state| Box::pin(async move {
                    sqlx::query($crate::query::UPSERT_GAME_DAY)
                        .bind(&incident)
                        .bind(started)
                        .bind(&doc)
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| $crate::codec::db_error(e, "game day"))?;
                    Self::write_in(conn, tx_state, prepared).await
                }))
                .await
            }

            pub(crate) async fn game_day(
                &self,
                incident: &breakglass_core::model::IncidentId,
            ) -> Result<Option<breakglass_core::game_day::GameDay>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::query::SELECT_GAME_DAY)
                    .bind(incident.as_str())
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "game day"))?;
                drop(reader);
                row.map(|row| {
                    let doc: String = row
                        .try_get("doc")
                        .map_err(|e| $crate::codec::db_error(e, "game day"))?;
                    serde_json::from_str(&doc).map_err(|e| {
                        breakglass_core::ports::StoreError::Corrupt(format!("game day: {e}"))
                    })
                })
                .transpose()
            }

            pub(crate) async fn drill_runs(
                &self,
                limit: u32,
            ) -> Result<Vec<breakglass_core::drill::DrillRun>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_DRILL_RUNS)
                    .bind($crate::query::limit(Some(limit)))
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "drill runs"))?;
                drop(reader);
                rows.iter()
                    .map(|row| {
                        let doc: String = row
                            .try_get("doc")
                            .map_err(|e| $crate::codec::db_error(e, "drill runs"))?;
                        serde_json::from_str(&doc).map_err(|e| {
                            breakglass_core::ports::StoreError::Corrupt(format!("drill run: {e}"))
                        })
                    })
                    .collect()
            }

            pub(crate) async fn outbox_undelivered(
                &self,
                limit: u32,
            ) -> Result<Vec<breakglass_core::outbox::QueuedMessage>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_OUTBOX_UNDELIVERED)
                    .bind($crate::query::limit(Some(limit)))
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "outbox"))?;
                drop(reader);
                let next: Vec<i64> = rows
                    .iter()
                    .map(|row| row.try_get("next_attempt_at"))
                    .collect::<Result<_, _>>()
                    .map_err(|e| $crate::codec::db_error(e, "outbox"))?;
                Self::outbox_rows(rows)?
                    .into_iter()
                    .zip(next)
                    .map(|(message, at)| {
                        Ok(breakglass_core::outbox::QueuedMessage {
                            message,
                            next_attempt_at: $crate::codec::time_from_micros(at)?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn outbox_dead_letters(
                &self,
                limit: u32,
            ) -> Result<Vec<breakglass_core::outbox::OutboxMessage>, breakglass_core::ports::StoreError> {
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_OUTBOX_DEAD)
                    .bind($crate::query::limit(Some(limit)))
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "outbox"))?;
                drop(reader);
                Self::outbox_rows(rows)
            }

            pub(crate) async fn request_notifications(
                &self,
                request: &breakglass_core::model::RequestId,
            ) -> Result<Vec<breakglass_core::outbox::SentNotification>, breakglass_core::ports::StoreError> {
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_REQUEST_NOTIFICATIONS)
                    .bind(request.as_str())
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "outbox"))?;
                drop(reader);
                Self::sent_rows(rows)
            }

            pub(crate) async fn record_notifications(
                &self,
                seq: u64,
            ) -> Result<Vec<breakglass_core::outbox::SentNotification>, breakglass_core::ports::StoreError> {
                let seq = i64::try_from(seq).map_err(|_| {
                    breakglass_core::ports::StoreError::InvalidCommit(format!("audit record #{seq} is out of range"))
                })?;
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::query::SELECT_RECORD_NOTIFICATIONS)
                    .bind(seq)
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "outbox"))?;
                drop(reader);
                Self::sent_rows(rows)
            }

            /// Outbox rows with how their delivery ended so far.
            fn sent_rows(
                rows: Vec<<$db as sqlx::Database>::Row>,
            ) -> Result<Vec<breakglass_core::outbox::SentNotification>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let err = |e| $crate::codec::db_error(e, "outbox");
                let ends: Vec<(Option<i64>, Option<i64>)> = rows
                    .iter()
                    .map(|row| Ok((row.try_get("delivered_at")?, row.try_get("dead_at")?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(err)?;
                let at = |t: Option<i64>| t.map($crate::codec::time_from_micros).transpose();
                Self::outbox_rows(rows)?
                    .into_iter()
                    .zip(ends)
                    .map(|(message, (delivered, dead))| {
                        Ok(breakglass_core::outbox::SentNotification {
                            message,
                            delivered_at: at(delivered)?,
                            dead_at: at(dead)?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn chat_messages(
                &self,
                request: &breakglass_core::model::RequestId,
            ) -> Result<Vec<breakglass_core::chat::ChatMessageRef>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::auth::SELECT_CHAT_MESSAGES)
                    .bind(request.as_str())
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "chat messages"))?;
                drop(reader);
                let err = |e| $crate::codec::db_error(e, "chat messages");
                rows.iter()
                    .map(|row| {
                        Ok(breakglass_core::chat::ChatMessageRef {
                            channel: row.try_get("channel").map_err(err)?,
                            conversation: row.try_get("conversation").map_err(err)?,
                            ts: row.try_get("ts").map_err(err)?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn put_chat_message(
                &self,
                request: &breakglass_core::model::RequestId,
                message: &breakglass_core::chat::ChatMessageRef,
            ) -> Result<(), breakglass_core::ports::StoreError> {
                let (request, channel, conversation, ts) = (
                    request.to_string(),
                    message.channel.clone(),
                    message.conversation.clone(),
                    message.ts.clone(),
                );
                self.write(move |conn, _tx_state| {
                    Box::pin(async move {
                        sqlx::query($crate::auth::INSERT_CHAT_MESSAGE)
                            .bind(&request)
                            .bind(&channel)
                            .bind(&conversation)
                            .bind(&ts)
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::codec::db_error(e, "chat messages"))?;
                        Ok(())
                    })
                })
                .await
            }
        }
    };
}

pub(crate) use {bind_owned, store_impl};
