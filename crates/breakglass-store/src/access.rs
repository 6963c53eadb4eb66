//! Revocation entries, their per-role generations and job leases
//! ([`breakglass_core::ports::AccessStore`]), written once and instantiated per driver like
//! the request store.
//!
//! A lease is taken with one `INSERT … ON CONFLICT DO UPDATE … WHERE` statement: it inserts
//! the row, or takes it over when the holder is the caller or its lease ran out, and
//! otherwise changes nothing. The affected-row count says who holds it, so two replicas
//! racing for the same lease cannot both win, on SQLite or PostgreSQL.

/// Adds revocation entries, replaces the session end of an existing one.
pub(crate) const UPSERT_REVOCATION: &str = "INSERT INTO revocations (role_arn, grant_id, role_id, session_end) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (role_arn, grant_id) DO UPDATE SET role_id = excluded.role_id, \
     session_end = CASE WHEN excluded.session_end > revocations.session_end THEN excluded.session_end ELSE revocations.session_end END";

pub(crate) const SELECT_REVOCATIONS: &str =
    "SELECT role_arn, grant_id, role_id, session_end FROM revocations ORDER BY role_arn, grant_id";

pub(crate) const SELECT_ROLE_REVOCATIONS: &str = "SELECT role_arn, grant_id, role_id, session_end FROM revocations WHERE role_arn = $1 ORDER BY grant_id";

/// Deletes an entry only if its session end is still the one read (a later revocation of
/// the same grant with a later end is kept).
pub(crate) const DELETE_REVOCATION: &str =
    "DELETE FROM revocations WHERE role_arn = $1 AND grant_id = $2 AND session_end <= $3";

pub(crate) const TAKE_LEASE: &str = "INSERT INTO job_leases (name, holder, until) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
     WHERE job_leases.holder = excluded.holder OR job_leases.until < $4";

pub(crate) const RELEASE_LEASE: &str = "DELETE FROM job_leases WHERE name = $1 AND holder = $2";

/// Moves a role's generation, in the transaction that adds its entry.
pub(crate) const BUMP_GENERATION: &str = "INSERT INTO revocation_generations (role_arn, generation) VALUES ($1, 1) \
     ON CONFLICT (role_arn) DO UPDATE SET generation = revocation_generations.generation + 1";

pub(crate) const SELECT_GENERATION: &str =
    "SELECT generation FROM revocation_generations WHERE role_arn = $1";

/// Gives a role's sync lease up only if its generation is still the one read: one
/// statement, so no entry can be added between the check and the release.
pub(crate) const RELEASE_ROLE_SYNC: &str = "DELETE FROM job_leases WHERE name = $1 AND holder = $2 \
     AND COALESCE((SELECT generation FROM revocation_generations WHERE role_arn = $3), 0) = $4";

/// Implements the access store operations on `$store`, whose `pool` field is a pool of `$db`.
macro_rules! access_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(crate) async fn add_revocation(
                &self,
                entry: &breakglass_core::revocation::RevocationEntry,
            ) -> Result<(), breakglass_core::ports::StoreError> {
                let role_arn = entry.role_arn.as_str().to_owned();
                let grant = entry.grant.as_str().to_owned();
                let role_id = entry.role_id.clone();
                let end = breakglass_core::audit::unix_micros(entry.session_end);
                self.write(move |conn, _state| {
                    Box::pin(async move {
                        sqlx::query($crate::access::UPSERT_REVOCATION)
                            .bind(role_arn.clone())
                            .bind(grant)
                            .bind(role_id)
                            .bind(end)
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::codec::db_error(e, "revocation entry"))?;
                        sqlx::query($crate::access::BUMP_GENERATION)
                            .bind(role_arn)
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::codec::db_error(e, "revocation generation"))?;
                        Ok(())
                    })
                })
                .await
            }

            pub(crate) async fn revocations(
                &self,
                role: Option<&breakglass_core::model::RoleArn>,
            ) -> Result<
                Vec<breakglass_core::revocation::RevocationEntry>,
                breakglass_core::ports::StoreError,
            > {
                use sqlx::Row as _;
                let what = "revocation entries";
                let mut reader = self.reader().await?;
                let rows = match role {
                    Some(r) => {
                        sqlx::query($crate::access::SELECT_ROLE_REVOCATIONS)
                            .bind(r.as_str())
                            .fetch_all(&mut *reader)
                            .await
                    }
                    None => {
                        sqlx::query($crate::access::SELECT_REVOCATIONS)
                            .fetch_all(&mut *reader)
                            .await
                    }
                }
                .map_err(|e| reader.failed(e, what))?;
                drop(reader);
                let corrupt = |e: String| {
                    breakglass_core::ports::StoreError::Corrupt(format!("revocation entry: {e}"))
                };
                rows.iter()
                    .map(|row| {
                        let role_arn: String = row
                            .try_get("role_arn")
                            .map_err(|e| $crate::codec::db_error(e, what))?;
                        let grant: String = row
                            .try_get("grant_id")
                            .map_err(|e| $crate::codec::db_error(e, what))?;
                        let role_id: String = row
                            .try_get("role_id")
                            .map_err(|e| $crate::codec::db_error(e, what))?;
                        let end: i64 = row
                            .try_get("session_end")
                            .map_err(|e| $crate::codec::db_error(e, what))?;
                        Ok(breakglass_core::revocation::RevocationEntry {
                            role_arn: breakglass_core::model::RoleArn::new(role_arn)
                                .map_err(|e| corrupt(e.to_string()))?,
                            grant: breakglass_core::model::GrantId::new(grant)
                                .map_err(|e| corrupt(e.to_string()))?,
                            role_id,
                            session_end: $crate::codec::time_from_micros(end)?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn remove_revocations(
                &self,
                entries: &[breakglass_core::revocation::RevocationEntry],
            ) -> Result<(), breakglass_core::ports::StoreError> {
                let keys: Vec<(String, String, i64)> = entries
                    .iter()
                    .map(|e| {
                        (
                            e.role_arn.as_str().to_owned(),
                            e.grant.as_str().to_owned(),
                            breakglass_core::audit::unix_micros(e.session_end),
                        )
                    })
                    .collect();
                self.write(move |conn, _state| {
                    Box::pin(async move {
                        for (role_arn, grant, end) in keys {
                            sqlx::query($crate::access::DELETE_REVOCATION)
                                .bind(role_arn)
                                .bind(grant)
                                .bind(end)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "revocation entry"))?;
                        }
                        Ok(())
                    })
                })
                .await
            }

            pub(crate) async fn take_lease(
                &self,
                name: &str,
                holder: &str,
                now: time::OffsetDateTime,
                until: time::OffsetDateTime,
            ) -> Result<bool, breakglass_core::ports::StoreError> {
                let (name, holder) = (name.to_owned(), holder.to_owned());
                self.write(move |conn, _state| {
                    Box::pin(async move {
                        let done = sqlx::query($crate::access::TAKE_LEASE)
                            .bind(name)
                            .bind(holder)
                            .bind(breakglass_core::audit::unix_micros(until))
                            .bind(breakglass_core::audit::unix_micros(now))
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::codec::db_error(e, "job lease"))?;
                        Ok(done.rows_affected() == 1)
                    })
                })
                .await
            }

            pub(crate) async fn revocation_generation(
                &self,
                role: &breakglass_core::model::RoleArn,
            ) -> Result<u64, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let what = "revocation generation";
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::access::SELECT_GENERATION)
                    .bind(role.as_str())
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, what))?;
                drop(reader);
                let Some(row) = row else { return Ok(0) };
                let generation: i64 = row
                    .try_get("generation")
                    .map_err(|e| $crate::codec::db_error(e, what))?;
                u64::try_from(generation).map_err(|_| {
                    breakglass_core::ports::StoreError::Corrupt(format!(
                        "revocation generation {generation} of {role}"
                    ))
                })
            }

            pub(crate) async fn release_role_sync(
                &self,
                name: &str,
                holder: &str,
                role: &breakglass_core::model::RoleArn,
                generation: u64,
            ) -> Result<bool, breakglass_core::ports::StoreError> {
                let (name, holder) = (name.to_owned(), holder.to_owned());
                let role = role.as_str().to_owned();
                let generation = i64::try_from(generation).unwrap_or(i64::MAX);
                self.write(move |conn, _state| {
                    Box::pin(async move {
                        let done = sqlx::query($crate::access::RELEASE_ROLE_SYNC)
                            .bind(name)
                            .bind(holder)
                            .bind(role)
                            .bind(generation)
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::codec::db_error(e, "job lease"))?;
                        Ok(done.rows_affected() == 1)
                    })
                })
                .await
            }

            pub(crate) async fn release_lease(
                &self,
                name: &str,
                holder: &str,
            ) -> Result<(), breakglass_core::ports::StoreError> {
                let (name, holder) = (name.to_owned(), holder.to_owned());
                self.write(move |conn, _state| {
                    Box::pin(async move {
                        sqlx::query($crate::access::RELEASE_LEASE)
                            .bind(name)
                            .bind(holder)
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| $crate::codec::db_error(e, "job lease"))?;
                        Ok(())
                    })
                })
                .await
            }
        }
    };
}

pub(crate) use access_impl;
