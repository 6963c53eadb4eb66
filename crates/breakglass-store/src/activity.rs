//! What the broker read from CloudTrail ([`breakglass_core::ports::AccessStore`]'s activity
//! half): the events it kept (linked to a grant or part of a finding, one row per `eventID`),
//! the access keys of sessions chained from grants, the unbrokered-use findings and the
//! cursor of each source. A batch is written in one transaction with the audit records of
//! its findings, so a failure stores nothing and leaves the cursors where they were; a batch
//! read under the `activity` lease is written only while its reader still holds the lease.

pub(crate) const INSERT_EVENT: &str = "INSERT INTO activity_events (event_id, request_id, finding_id, at, doc) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (event_id) DO NOTHING";
pub(crate) const SELECT_EVENT_ID: &str = "SELECT event_id FROM activity_events WHERE event_id = $1";
pub(crate) const SELECT_REQUEST_EVENTS: &str =
    "SELECT doc FROM activity_events WHERE request_id = $1 ORDER BY at, event_id LIMIT $2";
pub(crate) const UPSERT_KEY: &str = "INSERT INTO activity_keys (access_key_id, request_id) VALUES ($1, $2) \
     ON CONFLICT (access_key_id) DO NOTHING";
pub(crate) const SELECT_KEY: &str =
    "SELECT access_key_id, request_id FROM activity_keys WHERE access_key_id = $1";
pub(crate) const UPSERT_FINDING: &str = "INSERT INTO activity_findings (id, key, kind, first_seen, last_seen, doc) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, doc = excluded.doc";
pub(crate) const SELECT_FINDINGS_SINCE: &str =
    "SELECT doc FROM activity_findings WHERE last_seen >= $1 ORDER BY first_seen DESC, id LIMIT $2";
pub(crate) const SELECT_FINDING_BY_KEY: &str = "SELECT doc FROM activity_findings WHERE key = $1 AND last_seen >= $2 ORDER BY last_seen DESC LIMIT $3";
pub(crate) const UPSERT_CURSOR: &str = "INSERT INTO activity_cursors (source, position) VALUES ($1, $2) \
     ON CONFLICT (source) DO UPDATE SET position = excluded.position";
/// Touches the lease row if `holder` still holds it: one row updated means the lease is
/// held, and the row stays locked until the batch commits, so a replica taking the lease
/// over waits for this commit and cannot slip in between the check and it.
pub(crate) const CHECK_LEASE: &str =
    "UPDATE job_leases SET until = until WHERE name = $1 AND holder = $2 AND until >= $3";
pub(crate) const SELECT_CURSORS: &str =
    "SELECT source, position FROM activity_cursors ORDER BY source";
pub(crate) const DELETE_EVENTS_BEFORE: &str = "DELETE FROM activity_events WHERE at < $1";
pub(crate) const DELETE_FINDINGS_BEFORE: &str =
    "DELETE FROM activity_findings WHERE last_seen < $1";

macro_rules! activity_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(crate) async fn commit_activity(
                &self,
                batch: breakglass_core::ports::ActivityCommit,
            ) -> Result<(), breakglass_core::ports::StoreError> {
                use breakglass_core::audit::unix_micros;
                use breakglass_core::ports::StoreError;
                let invalid = |what: &str, e: serde_json::Error| {
                    StoreError::InvalidCommit(format!("{what}: {e}"))
                };
                let mut events = Vec::with_capacity(batch.events.len());
                for e in &batch.events {
                    events.push((
                        e.event.event_id.clone(),
                        e.link.as_ref().map(|l| l.request.as_str().to_owned()),
                        e.finding.clone(),
                        unix_micros(e.event.at),
                        serde_json::to_string(e).map_err(|x| invalid("event", x))?,
                    ));
                }
                let mut findings = Vec::with_capacity(batch.findings.len());
                for f in &batch.findings {
                    findings.push((
                        f.id.clone(),
                        f.key.clone(),
                        f.kind.as_str().to_owned(),
                        unix_micros(f.first_seen),
                        unix_micros(f.last_seen),
                        serde_json::to_string(f).map_err(|x| invalid("finding", x))?,
                    ));
                }
                let keys: Vec<(String, String)> = batch
                    .keys
                    .iter()
                    .map(|(k, r)| (k.clone(), r.as_str().to_owned()))
                    .collect();
                let cursors: Vec<(String, String)> = batch
                    .cursors
                    .iter()
                    .map(|c| (c.source.clone(), c.position.clone()))
                    .collect();
                let lease = batch
                    .lease
                    .map(|(held, at)| (held.job, held.holder, unix_micros(at)));
                let mut prepared = Vec::with_capacity(batch.commits.len());
                for commit in batch.commits {
                    let now = $crate::plan::commit_time(&commit)?;
                    prepared.push($crate::plan::prepare(commit, now, self.chain_key.clone())?);
                }
                self.write(move |conn, tx_state| {
                    Box::pin(async move {
                        let failed = |what: &'static str| {
                            move |e: sqlx::Error| $crate::codec::db_error(e, what)
                        };
                        if let Some((job, holder, at)) = lease {
                            let held = sqlx::query($crate::activity::CHECK_LEASE)
                                .bind(&job)
                                .bind(holder)
                                .bind(at)
                                .execute(&mut *conn)
                                .await
                                .map_err(failed("job lease"))?
                                .rows_affected();
                            if held != 1 {
                                return Err(StoreError::LeaseLost(job));
                            }
                        }
                        for p in prepared {
                            Self::write_in(conn, tx_state, p).await?;
                        }
                        for (id, request, finding, at, doc) in events {
                            sqlx::query($crate::activity::INSERT_EVENT)
                                .bind(id)
                                .bind(request)
                                .bind(finding)
                                .bind(at)
                                .bind(doc)
                                .execute(&mut *conn)
                                .await
                                .map_err(failed("activity event"))?;
                        }
                        for (key, request) in keys {
                            sqlx::query($crate::activity::UPSERT_KEY)
                                .bind(key)
                                .bind(request)
                                .execute(&mut *conn)
                                .await
                                .map_err(failed("activity key"))?;
                        }
                        for (id, key, kind, first, last, doc) in findings {
                            sqlx::query($crate::activity::UPSERT_FINDING)
                                .bind(id)
                                .bind(key)
                                .bind(kind)
                                .bind(first)
                                .bind(last)
                                .bind(doc)
                                .execute(&mut *conn)
                                .await
                                .map_err(failed("finding"))?;
                        }
                        for (source, position) in cursors {
                            sqlx::query($crate::activity::UPSERT_CURSOR)
                                .bind(source)
                                .bind(position)
                                .execute(&mut *conn)
                                .await
                                .map_err(failed("activity cursor"))?;
                        }
                        Ok(())
                    })
                })
                .await
            }

            pub(crate) async fn activity_cursors(
                &self,
            ) -> Result<Vec<breakglass_core::activity::Cursor>, breakglass_core::ports::StoreError>
            {
                use sqlx::Row as _;
                let what = "activity cursors";
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::activity::SELECT_CURSORS)
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, what))?;
                drop(reader);
                rows.iter()
                    .map(|row| {
                        Ok(breakglass_core::activity::Cursor {
                            source: row
                                .try_get("source")
                                .map_err(|e| $crate::codec::db_error(e, what))?,
                            position: row
                                .try_get("position")
                                .map_err(|e| $crate::codec::db_error(e, what))?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn stored_event_ids(
                &self,
                ids: &[String],
            ) -> Result<Vec<String>, breakglass_core::ports::StoreError> {
                let what = "activity events";
                let mut reader = self.reader().await?;
                let mut found = Vec::new();
                for id in ids {
                    let row = sqlx::query($crate::activity::SELECT_EVENT_ID)
                        .bind(id)
                        .fetch_optional(&mut *reader)
                        .await
                        .map_err(|e| reader.failed(e, what))?;
                    if row.is_some() {
                        found.push(id.clone());
                    }
                }
                Ok(found)
            }

            pub(crate) async fn learned_keys(
                &self,
                keys: &[String],
            ) -> Result<
                Vec<(String, breakglass_core::model::RequestId)>,
                breakglass_core::ports::StoreError,
            > {
                use sqlx::Row as _;
                let what = "activity keys";
                let mut reader = self.reader().await?;
                let mut found = Vec::new();
                for key in keys {
                    let row = sqlx::query($crate::activity::SELECT_KEY)
                        .bind(key)
                        .fetch_optional(&mut *reader)
                        .await
                        .map_err(|e| reader.failed(e, what))?;
                    if let Some(row) = row {
                        let request: String = row
                            .try_get("request_id")
                            .map_err(|e| $crate::codec::db_error(e, what))?;
                        let request =
                            breakglass_core::model::RequestId::new(request).map_err(|e| {
                                breakglass_core::ports::StoreError::Corrupt(format!("{what}: {e}"))
                            })?;
                        found.push((key.clone(), request));
                    }
                }
                Ok(found)
            }

            pub(crate) async fn request_activity(
                &self,
                request: &breakglass_core::model::RequestId,
                limit: u32,
            ) -> Result<
                Vec<breakglass_core::activity::StoredEvent>,
                breakglass_core::ports::StoreError,
            > {
                use sqlx::Row as _;
                let what = "activity events";
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::activity::SELECT_REQUEST_EVENTS)
                    .bind(request.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, what))?;
                drop(reader);
                rows.iter()
                    .map(|row| {
                        let doc: String = row
                            .try_get("doc")
                            .map_err(|e| $crate::codec::db_error(e, what))?;
                        serde_json::from_str(&doc).map_err(|e| {
                            breakglass_core::ports::StoreError::Corrupt(format!("{what}: {e}"))
                        })
                    })
                    .collect()
            }

            pub(crate) async fn findings(
                &self,
                keys: Option<&[String]>,
                since: Option<time::OffsetDateTime>,
                limit: u32,
            ) -> Result<Vec<breakglass_core::activity::Finding>, breakglass_core::ports::StoreError>
            {
                use breakglass_core::audit::unix_micros;
                use sqlx::Row as _;
                let what = "findings";
                let since = since.map_or(i64::MIN, unix_micros);
                let limit = i64::from(limit);
                let mut reader = self.reader().await?;
                let mut rows = Vec::new();
                match keys {
                    Some(keys) => {
                        for key in keys {
                            rows.extend(
                                sqlx::query($crate::activity::SELECT_FINDING_BY_KEY)
                                    .bind(key)
                                    .bind(since)
                                    .bind(limit)
                                    .fetch_all(&mut *reader)
                                    .await
                                    .map_err(|e| reader.failed(e, what))?,
                            );
                        }
                    }
                    None => {
                        rows = sqlx::query($crate::activity::SELECT_FINDINGS_SINCE)
                            .bind(since)
                            .bind(limit)
                            .fetch_all(&mut *reader)
                            .await
                            .map_err(|e| reader.failed(e, what))?;
                    }
                }
                drop(reader);
                rows.iter()
                    .map(|row| {
                        let doc: String = row
                            .try_get("doc")
                            .map_err(|e| $crate::codec::db_error(e, what))?;
                        serde_json::from_str(&doc).map_err(|e| {
                            breakglass_core::ports::StoreError::Corrupt(format!("{what}: {e}"))
                        })
                    })
                    .collect()
            }

            pub(crate) async fn prune_activity(
                &self,
                before: time::OffsetDateTime,
            ) -> Result<u64, breakglass_core::ports::StoreError> {
                let before = breakglass_core::audit::unix_micros(before);
                self.write(move |conn, _state| {
                    Box::pin(async move {
                        let mut gone = 0;
                        for sql in [
                            $crate::activity::DELETE_EVENTS_BEFORE,
                            $crate::activity::DELETE_FINDINGS_BEFORE,
                        ] {
                            gone += sqlx::query(sql)
                                .bind(before)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "activity"))?
                                .rows_affected();
                        }
                        Ok(gone)
                    })
                })
                .await
            }
        }
    };
}

pub(crate) use activity_impl;
