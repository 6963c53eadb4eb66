//! Local users and personal API tokens: the rows authentication reads and the writes it
//! makes, each committed with its audit records in one transaction.
//!
//! The store never sees a secret: passwords arrive as argon2id PHC strings, TOTP seeds as
//! AEAD ciphertexts and API tokens as their SHA-256. Deciding whether a password or a code
//! is right is the server's job; this module only keeps the rows and makes the one-time
//! checks atomic (a TOTP step is accepted at most once per user).
//!
//! Each user's run of wrong second-factor codes is kept in `second_factor_failures`
//! (migration `0006`): replaced, guarded by the count it was computed from, by each wrong
//! code; deleted by each right code spent, in the transaction that spends it.

pub use breakglass_core::accounts::{
    AuthWrite, CeremonyRecord, InvitationRecord, PasskeyRecord, SecondFactorFailures, TokenHolder,
    TokenRecord, UserRecord,
};

pub(crate) const SELECT_USER: &str = "SELECT username, password_hash, admin, totp_seed, totp_last_step, totp_pending, created_at, disabled_at, EXISTS (SELECT 1 FROM passkeys p WHERE p.username = users.username) AS has_passkeys FROM users WHERE username = $1";
pub(crate) const SELECT_USERS: &str = "SELECT username, password_hash, admin, totp_seed, totp_last_step, totp_pending, created_at, disabled_at, EXISTS (SELECT 1 FROM passkeys p WHERE p.username = users.username) AS has_passkeys FROM users ORDER BY username";
pub(crate) const SELECT_TOKEN_HOLDER: &str = "SELECT t.id, t.username, t.name, t.sha256, t.created_at, t.expires_at, t.revoked_at, t.second_factor, t.break_glass_only, u.admin, u.totp_seed, u.totp_last_step, u.disabled_at, EXISTS (SELECT 1 FROM passkeys p WHERE p.username = u.username) AS has_passkeys FROM api_tokens t JOIN users u ON u.username = t.username WHERE t.sha256 = $1";
pub(crate) const SELECT_TOKENS: &str = "SELECT id, username, name, sha256, created_at, expires_at, revoked_at, second_factor, break_glass_only FROM api_tokens WHERE username = $1 ORDER BY created_at DESC, id";
pub(crate) const INSERT_USER: &str = "INSERT INTO users (username, password_hash, admin, totp_seed, totp_last_step, created_at) VALUES ($1, $2, $3, NULL, NULL, $4)";
pub(crate) const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE username = $1";
pub(crate) const SET_TOTP: &str = "UPDATE users SET totp_seed = $2, totp_last_step = NULL, totp_pending = NULL WHERE username = $1";
pub(crate) const SET_PENDING_TOTP: &str = "UPDATE users SET totp_pending = $2 WHERE username = $1";
pub(crate) const CONFIRM_TOTP: &str = "UPDATE users SET totp_seed = totp_pending, totp_last_step = $3, totp_pending = NULL WHERE username = $1 AND totp_pending = $2";
pub(crate) const SET_DISABLED: &str = "UPDATE users SET disabled_at = $2 WHERE username = $1";
// Only for an enabled user: a sign-in racing the account's disabling mints nothing.
pub(crate) const INSERT_TOKEN: &str = "INSERT INTO api_tokens (id, username, name, sha256, created_at, expires_at, revoked_at, second_factor, break_glass_only) SELECT $1, $2, $3, $4, $5, $6, NULL, $7, $8 WHERE EXISTS (SELECT 1 FROM users WHERE username = $2 AND disabled_at IS NULL)";
pub(crate) const REVOKE_TOKEN: &str =
    "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND username = $2 AND revoked_at IS NULL";
pub(crate) const SELECT_INVITATION: &str = "SELECT sha256, username, created_by, created_at, expires_at, used_at FROM invitations WHERE sha256 = $1";
pub(crate) const INSERT_INVITATION: &str = "INSERT INTO invitations (sha256, username, created_by, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, NULL)";
pub(crate) const USE_INVITATION: &str = "UPDATE invitations SET used_at = $3 WHERE sha256 = $1 AND username = $2 AND used_at IS NULL AND expires_at > $3";
pub(crate) const REVOKE_TOKENS: &str =
    "UPDATE api_tokens SET revoked_at = $3 WHERE username = $1 AND revoked_at IS NULL AND id <> $2";
pub(crate) const SELECT_SECOND_FACTOR_FAILURES: &str = "SELECT username, failures, last_failure_at, locked_until FROM second_factor_failures WHERE username = $1";
/// Stores a run of wrong codes where none is stored or the stored one still has `$5` failures.
pub(crate) const RECORD_SECOND_FACTOR_FAILURE: &str = "INSERT INTO second_factor_failures (username, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until WHERE second_factor_failures.failures = $5";

pub(crate) const SELECT_PASSKEYS: &str = "SELECT id, username, name, credential, created_at, last_used_at FROM passkeys WHERE username = $1 ORDER BY created_at, id";
pub(crate) const INSERT_PASSKEY: &str = "INSERT INTO passkeys (id, username, name, credential, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, NULL)";
pub(crate) const DELETE_PASSKEY: &str = "DELETE FROM passkeys WHERE username = $1 AND id = $2";
pub(crate) const DELETE_PASSKEYS: &str = "DELETE FROM passkeys WHERE username = $1";
pub(crate) const SELECT_CEREMONY: &str =
    "SELECT id, username, purpose, state, expires_at FROM webauthn_ceremonies WHERE id = $1";
pub(crate) const INSERT_CEREMONY: &str = "INSERT INTO webauthn_ceremonies (id, username, purpose, state, expires_at) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const FORGET_CEREMONIES: &str = "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1";

pub(crate) const SELECT_CHAT_LINKS: &str = "SELECT c.platform, c.team, c.chat_user, c.username, c.linked_at, u.disabled_at IS NULL AS enabled FROM chat_links c JOIN users u ON u.username = c.username WHERE c.platform = $1 ORDER BY c.team, c.chat_user";
pub(crate) const SELECT_CHAT_LINK_OF_ACCOUNT: &str = "SELECT c.platform, c.team, c.chat_user, c.username, c.linked_at, u.disabled_at IS NULL AS enabled FROM chat_links c JOIN users u ON u.username = c.username WHERE c.platform = $1 AND c.team = $2 AND c.chat_user = $3";
pub(crate) const SELECT_CHAT_LINK_OF_USER: &str = "SELECT c.platform, c.team, c.chat_user, c.username, c.linked_at, u.disabled_at IS NULL AS enabled FROM chat_links c JOIN users u ON u.username = c.username WHERE c.platform = $1 AND c.username = $2";
pub(crate) const SELECT_CHAT_LINK_CODE: &str =
    "SELECT sha256, platform, team, chat_user, expires_at FROM chat_link_codes WHERE sha256 = $1";
pub(crate) const FORGET_CHAT_LINK_CODES: &str =
    "DELETE FROM chat_link_codes WHERE expires_at <= $1";
pub(crate) const INSERT_CHAT_LINK_CODE: &str = "INSERT INTO chat_link_codes (sha256, platform, team, chat_user, expires_at) VALUES ($1, $2, $3, $4, $5)";
/// Takes an unexpired code (`$2`: now), returning whose it was.
pub(crate) const TAKE_CHAT_LINK_CODE: &str = "DELETE FROM chat_link_codes WHERE sha256 = $1 AND expires_at > $2 RETURNING platform, team, chat_user";
/// Links only an enabled user, and never over an existing link of the chat account or the user.
pub(crate) const INSERT_CHAT_LINK: &str = "INSERT INTO chat_links (platform, team, chat_user, username, linked_at) SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE username = $4 AND disabled_at IS NULL) ON CONFLICT DO NOTHING";
pub(crate) const DELETE_CHAT_LINKS_OF_USER: &str = "DELETE FROM chat_links WHERE username = $1";
pub(crate) const DELETE_CHAT_LINK: &str =
    "DELETE FROM chat_links WHERE platform = $1 AND username = $2";
pub(crate) const FORGET_CHAT_DELIVERIES: &str =
    "DELETE FROM chat_deliveries WHERE expires_at <= $1";
pub(crate) const INSERT_CHAT_DELIVERY: &str =
    "INSERT INTO chat_deliveries (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
pub(crate) const SELECT_CHAT_MESSAGES: &str =
    "SELECT channel, conversation, ts FROM chat_messages WHERE request_id = $1 ORDER BY channel";
pub(crate) const INSERT_CHAT_MESSAGE: &str = "INSERT INTO chat_messages (request_id, channel, conversation, ts) VALUES ($1, $2, $3, $4) ON CONFLICT (request_id, channel) DO NOTHING";

/// Implements the authentication operations on `$store`, whose `pool` is a pool of `$db`.
macro_rules! auth_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            fn user_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<$crate::auth::UserRecord, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let err = |e| $crate::codec::db_error(e, "users");
                Ok($crate::auth::UserRecord {
                    username: row.try_get("username").map_err(err)?,
                    password_hash: row.try_get("password_hash").map_err(err)?,
                    admin: row.try_get("admin").map_err(err)?,
                    totp_seed: row.try_get("totp_seed").map_err(err)?,
                    totp_last_step: row.try_get("totp_last_step").map_err(err)?,
                    totp_pending: row.try_get("totp_pending").map_err(err)?,
                    created_at: $crate::codec::time_from_micros(
                        row.try_get("created_at").map_err(err)?,
                    )?,
                    disabled_at: row
                        .try_get::<Option<i64>, _>("disabled_at")
                        .map_err(err)?
                        .map($crate::codec::time_from_micros)
                        .transpose()?,
                    passkeys: row.try_get("has_passkeys").map_err(err)?,
                })
            }

            fn token_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<$crate::auth::TokenRecord, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let err = |e| $crate::codec::db_error(e, "api tokens");
                let revoked: Option<i64> = row.try_get("revoked_at").map_err(err)?;
                Ok($crate::auth::TokenRecord {
                    id: row.try_get("id").map_err(err)?,
                    username: row.try_get("username").map_err(err)?,
                    name: row.try_get("name").map_err(err)?,
                    sha256: row.try_get("sha256").map_err(err)?,
                    created_at: $crate::codec::time_from_micros(
                        row.try_get("created_at").map_err(err)?,
                    )?,
                    expires_at: $crate::codec::time_from_micros(
                        row.try_get("expires_at").map_err(err)?,
                    )?,
                    revoked_at: revoked.map($crate::codec::time_from_micros).transpose()?,
                    second_factor: row.try_get("second_factor").map_err(err)?,
                    break_glass_only: row.try_get("break_glass_only").map_err(err)?,
                })
            }

            pub(crate) async fn user(
                &self,
                username: &str,
            ) -> Result<Option<$crate::auth::UserRecord>, breakglass_core::ports::StoreError> {
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::auth::SELECT_USER)
                    .bind(username)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "users"))?;
                drop(reader);
                row.as_ref().map(Self::user_row).transpose()
            }

            pub(crate) async fn users(
                &self,
            ) -> Result<Vec<$crate::auth::UserRecord>, breakglass_core::ports::StoreError> {
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::auth::SELECT_USERS)
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "users"))?;
                drop(reader);
                rows.iter().map(Self::user_row).collect()
            }

            pub(crate) async fn token_holder(
                &self,
                sha256: &str,
            ) -> Result<Option<$crate::auth::TokenHolder>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::auth::SELECT_TOKEN_HOLDER)
                    .bind(sha256)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "api tokens"))?;
                drop(reader);
                let Some(row) = row else { return Ok(None) };
                let err = |e| $crate::codec::db_error(e, "users");
                Ok(Some($crate::auth::TokenHolder {
                    token: Self::token_row(&row)?,
                    admin: row.try_get("admin").map_err(err)?,
                    totp_seed: row.try_get("totp_seed").map_err(err)?,
                    totp_last_step: row.try_get("totp_last_step").map_err(err)?,
                    passkeys: row.try_get("has_passkeys").map_err(err)?,
                    disabled: row
                        .try_get::<Option<i64>, _>("disabled_at")
                        .map_err(err)?
                        .is_some(),
                }))
            }

            pub(crate) async fn tokens(
                &self,
                username: &str,
            ) -> Result<Vec<$crate::auth::TokenRecord>, breakglass_core::ports::StoreError> {
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::auth::SELECT_TOKENS)
                    .bind(username)
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "api tokens"))?;
                drop(reader);
                rows.iter().map(Self::token_row).collect()
            }

            pub(crate) async fn invitation(
                &self,
                sha256: &str,
            ) -> Result<Option<$crate::auth::InvitationRecord>, breakglass_core::ports::StoreError>
            {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::auth::SELECT_INVITATION)
                    .bind(sha256)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "invitations"))?;
                drop(reader);
                let Some(row) = row else { return Ok(None) };
                let err = |e| $crate::codec::db_error(e, "invitations");
                let used: Option<i64> = row.try_get("used_at").map_err(err)?;
                Ok(Some($crate::auth::InvitationRecord {
                    sha256: row.try_get("sha256").map_err(err)?,
                    username: row.try_get("username").map_err(err)?,
                    created_by: row.try_get("created_by").map_err(err)?,
                    created_at: $crate::codec::time_from_micros(
                        row.try_get("created_at").map_err(err)?,
                    )?,
                    expires_at: $crate::codec::time_from_micros(
                        row.try_get("expires_at").map_err(err)?,
                    )?,
                    used_at: used.map($crate::codec::time_from_micros).transpose()?,
                }))
            }

            pub(crate) async fn second_factor_failures(
                &self,
                username: &str,
            ) -> Result<
                Option<$crate::auth::SecondFactorFailures>,
                breakglass_core::ports::StoreError,
            > {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::auth::SELECT_SECOND_FACTOR_FAILURES)
                    .bind(username)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "second-factor failures"))?;
                drop(reader);
                let Some(row) = row else { return Ok(None) };
                let err = |e| $crate::codec::db_error(e, "second-factor failures");
                let failures: i64 = row.try_get("failures").map_err(err)?;
                let locked: Option<i64> = row.try_get("locked_until").map_err(err)?;
                Ok(Some($crate::auth::SecondFactorFailures {
                    username: row.try_get("username").map_err(err)?,
                    failures: u32::try_from(failures).map_err(|_| {
                        breakglass_core::ports::StoreError::Corrupt(format!(
                            "second-factor failures of `{username}`: {failures}"
                        ))
                    })?,
                    last_failure_at: $crate::codec::time_from_micros(
                        row.try_get("last_failure_at").map_err(err)?,
                    )?,
                    locked_until: locked.map($crate::codec::time_from_micros).transpose()?,
                }))
            }

            pub(crate) async fn passkeys(
                &self,
                username: &str,
            ) -> Result<Vec<$crate::auth::PasskeyRecord>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::auth::SELECT_PASSKEYS)
                    .bind(username)
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "passkeys"))?;
                drop(reader);
                let err = |e| $crate::codec::db_error(e, "passkeys");
                rows.iter()
                    .map(|row| {
                        let used: Option<i64> = row.try_get("last_used_at").map_err(err)?;
                        Ok($crate::auth::PasskeyRecord {
                            id: row.try_get("id").map_err(err)?,
                            username: row.try_get("username").map_err(err)?,
                            name: row.try_get("name").map_err(err)?,
                            credential: row.try_get("credential").map_err(err)?,
                            created_at: $crate::codec::time_from_micros(
                                row.try_get("created_at").map_err(err)?,
                            )?,
                            last_used_at: used.map($crate::codec::time_from_micros).transpose()?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn ceremony(
                &self,
                id: &str,
            ) -> Result<Option<$crate::auth::CeremonyRecord>, breakglass_core::ports::StoreError>
            {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::auth::SELECT_CEREMONY)
                    .bind(id)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "webauthn ceremonies"))?;
                drop(reader);
                let Some(row) = row else { return Ok(None) };
                let err = |e| $crate::codec::db_error(e, "webauthn ceremonies");
                Ok(Some($crate::auth::CeremonyRecord {
                    id: row.try_get("id").map_err(err)?,
                    username: row.try_get("username").map_err(err)?,
                    purpose: row.try_get("purpose").map_err(err)?,
                    state: row.try_get("state").map_err(err)?,
                    expires_at: $crate::codec::time_from_micros(
                        row.try_get("expires_at").map_err(err)?,
                    )?,
                }))
            }

            fn chat_link_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<breakglass_core::chat::ChatLinkRecord, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let err = |e| $crate::codec::db_error(e, "chat links");
                Ok(breakglass_core::chat::ChatLinkRecord {
                    platform: row.try_get("platform").map_err(err)?,
                    team: row.try_get("team").map_err(err)?,
                    chat_user: row.try_get("chat_user").map_err(err)?,
                    username: row.try_get("username").map_err(err)?,
                    linked_at: $crate::codec::time_from_micros(
                        row.try_get("linked_at").map_err(err)?,
                    )?,
                    enabled: row.try_get("enabled").map_err(err)?,
                })
            }

            pub(crate) async fn chat_links(
                &self,
                platform: &str,
            ) -> Result<Vec<breakglass_core::chat::ChatLinkRecord>, breakglass_core::ports::StoreError> {
                let mut reader = self.reader().await?;
                let rows = sqlx::query($crate::auth::SELECT_CHAT_LINKS)
                    .bind(platform)
                    .fetch_all(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "chat links"))?;
                drop(reader);
                rows.iter().map(Self::chat_link_row).collect()
            }

            pub(crate) async fn chat_link(
                &self,
                platform: &str,
                of: breakglass_core::chat::LinkOf<'_>,
            ) -> Result<Option<breakglass_core::chat::ChatLinkRecord>, breakglass_core::ports::StoreError> {
                use breakglass_core::chat::LinkOf;
                let mut reader = self.reader().await?;
                let query = match of {
                    LinkOf::Account { team, chat_user } => {
                        sqlx::query($crate::auth::SELECT_CHAT_LINK_OF_ACCOUNT)
                            .bind(platform)
                            .bind(team)
                            .bind(chat_user)
                    }
                    LinkOf::User(username) => sqlx::query($crate::auth::SELECT_CHAT_LINK_OF_USER)
                        .bind(platform)
                        .bind(username),
                };
                let row = query
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "chat links"))?;
                drop(reader);
                row.as_ref().map(Self::chat_link_row).transpose()
            }

            pub(crate) async fn chat_link_code(
                &self,
                sha256: &str,
            ) -> Result<Option<breakglass_core::chat::ChatLinkCode>, breakglass_core::ports::StoreError> {
                use sqlx::Row as _;
                let mut reader = self.reader().await?;
                let row = sqlx::query($crate::auth::SELECT_CHAT_LINK_CODE)
                    .bind(sha256)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(|e| reader.failed(e, "chat link codes"))?;
                drop(reader);
                let Some(row) = row else { return Ok(None) };
                let err = |e| $crate::codec::db_error(e, "chat link codes");
                Ok(Some(breakglass_core::chat::ChatLinkCode {
                    sha256: row.try_get("sha256").map_err(err)?,
                    platform: row.try_get("platform").map_err(err)?,
                    team: row.try_get("team").map_err(err)?,
                    chat_user: row.try_get("chat_user").map_err(err)?,
                    expires_at: $crate::codec::time_from_micros(
                        row.try_get("expires_at").map_err(err)?,
                    )?,
                }))
            }

            pub(crate) async fn remember_chat_delivery(
                &self,
                key: &str,
                expires_at: time::OffsetDateTime,
                now: time::OffsetDateTime,
            ) -> Result<bool, breakglass_core::ports::StoreError> {
                use breakglass_core::audit::unix_micros;
                let key = key.to_owned();
                let (expires_at, now) = (unix_micros(expires_at), unix_micros(now));
                self.write(move |conn, _tx_state| {
                    Box::pin(async move {
                        let err = |e| $crate::codec::db_error(e, "chat deliveries");
                        sqlx::query($crate::auth::FORGET_CHAT_DELIVERIES)
                            .bind(now)
                            .execute(&mut *conn)
                            .await
                            .map_err(err)?;
                        let done = sqlx::query($crate::auth::INSERT_CHAT_DELIVERY)
                            .bind(&key)
                            .bind(expires_at)
                            .execute(&mut *conn)
                            .await
                            .map_err(err)?;
                        Ok(done.rows_affected() == 1)
                    })
                })
                .await
            }

            pub(crate) async fn auth_commit(
                &self,
                writes: Vec<$crate::auth::AuthWrite>,
                audit: Vec<breakglass_core::audit::AuditEntry>,
            ) -> Result<breakglass_core::ports::Committed, breakglass_core::ports::StoreError> {
                use breakglass_core::audit::unix_micros;
                use breakglass_core::ports::{Commit, StoreError};
                let Some(first) = audit.first() else {
                    return Err(StoreError::InvalidCommit(
                        "an authentication change needs an audit record".to_owned(),
                    ));
                };
                let now = unix_micros(first.at);
                // Who must hear about these changes (e.g. the security team about a disabled
                // account), written to the outbox in the same transaction.
                let events: Vec<_> = audit.iter().map(|e| e.event.clone()).collect();
                let outbox = breakglass_core::outbox::notifications(None, &events);
                // The audit records go first: they lock the chain head, the order every
                // writer takes its locks in.
                let commit = Commit {
                    write: None,
                    audit,
                    outbox,
                    step_up: None,
                };
                let prepared = $crate::plan::prepare(commit, now, self.chain_key.clone())?;
                self.write(move |conn, tx_state| {
                    Box::pin(async move {
                        let committed = Self::write_in(conn, tx_state, prepared).await?;
                        Self::auth_writes(conn, &writes).await?;
                        Ok(committed)
                    })
                })
                .await
            }

            async fn auth_writes(
                conn: &mut <$db as sqlx::Database>::Connection,
                writes: &[$crate::auth::AuthWrite],
            ) -> Result<(), breakglass_core::ports::StoreError> {
                use breakglass_core::audit::unix_micros;
                use breakglass_core::ports::StoreError;
                use $crate::auth::AuthWrite;
                for w in writes {
                    match w {
                        AuthWrite::InsertUser {
                            username,
                            password_hash,
                            admin,
                            created_at,
                        } => {
                            sqlx::query($crate::auth::INSERT_USER)
                                .bind(username)
                                .bind(password_hash)
                                .bind(*admin)
                                .bind(unix_micros(*created_at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| {
                                    $crate::codec::db_error(e, &format!("user `{username}`"))
                                })?;
                        }
                        AuthWrite::SetPassword {
                            username,
                            password_hash,
                        } => {
                            let done = sqlx::query($crate::auth::SET_PASSWORD)
                                .bind(username)
                                .bind(password_hash)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "users"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "no user `{username}`"
                                )));
                            }
                        }
                        AuthWrite::SetTotp { username, seed } => {
                            let done = sqlx::query($crate::auth::SET_TOTP)
                                .bind(username)
                                .bind(seed.clone())
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "users"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "no user `{username}`"
                                )));
                            }
                        }
                        AuthWrite::SetPendingTotp { username, seed } => {
                            let done = sqlx::query($crate::auth::SET_PENDING_TOTP)
                                .bind(username)
                                .bind(seed.clone())
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "users"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "no user `{username}`"
                                )));
                            }
                        }
                        AuthWrite::ConfirmTotp {
                            username,
                            seed,
                            step,
                        } => {
                            let done = sqlx::query($crate::auth::CONFIRM_TOTP)
                                .bind(username)
                                .bind(seed)
                                .bind(*step)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "users"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "`{username}` has no such enrolment waiting; start again with `breakglass totp enroll`"
                                )));
                            }
                        }
                        AuthWrite::SetDisabled { username, at } => {
                            let done = sqlx::query($crate::auth::SET_DISABLED)
                                .bind(username)
                                .bind(at.map(unix_micros))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "users"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "no user `{username}`"
                                )));
                            }
                        }
                        AuthWrite::RevokeTokens {
                            username,
                            except,
                            at,
                        } => {
                            sqlx::query($crate::auth::REVOKE_TOKENS)
                                .bind(username)
                                .bind(except.clone().unwrap_or_default())
                                .bind(unix_micros(*at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "api tokens"))?;
                            sqlx::query($crate::auth::DELETE_CHAT_LINKS_OF_USER)
                                .bind(username)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "chat links"))?;
                        }
                        AuthWrite::InsertInvitation(i) => {
                            sqlx::query($crate::auth::INSERT_INVITATION)
                                .bind(&i.sha256)
                                .bind(&i.username)
                                .bind(&i.created_by)
                                .bind(unix_micros(i.created_at))
                                .bind(unix_micros(i.expires_at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "invitations"))?;
                        }
                        AuthWrite::UseInvitation {
                            sha256,
                            username,
                            at,
                        } => {
                            let done = sqlx::query($crate::auth::USE_INVITATION)
                                .bind(sha256)
                                .bind(username)
                                .bind(unix_micros(*at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "invitations"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(
                                    "the invitation was already used or has expired; ask an administrator for a new one"
                                        .to_owned(),
                                ));
                            }
                        }
                        AuthWrite::UseTotpStep { username, step } => {
                            let done = sqlx::query($crate::query::USE_TOTP_STEP)
                                .bind(username)
                                .bind(*step)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "users"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::StepUpUsed(username.clone()));
                            }
                            sqlx::query($crate::query::CLEAR_SECOND_FACTOR_FAILURES)
                                .bind(username)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| {
                                    $crate::codec::db_error(e, "second-factor failures")
                                })?;
                        }
                        AuthWrite::RecordSecondFactorFailure { run, previous } => {
                            let done = sqlx::query($crate::auth::RECORD_SECOND_FACTOR_FAILURE)
                                .bind(&run.username)
                                .bind(i64::from(run.failures))
                                .bind(unix_micros(run.last_failure_at))
                                .bind(run.locked_until.map(unix_micros))
                                .bind(i64::from(*previous))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| {
                                    $crate::codec::db_error(e, "second-factor failures")
                                })?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "the second-factor failures of `{}` changed concurrently",
                                    run.username
                                )));
                            }
                        }
                        AuthWrite::InsertToken(t) => {
                            let done = sqlx::query($crate::auth::INSERT_TOKEN)
                                .bind(&t.id)
                                .bind(&t.username)
                                .bind(&t.name)
                                .bind(&t.sha256)
                                .bind(unix_micros(t.created_at))
                                .bind(unix_micros(t.expires_at))
                                .bind(t.second_factor)
                                .bind(t.break_glass_only)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| {
                                    $crate::codec::db_error(e, &format!("token `{}`", t.id))
                                })?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "`{}` is disabled or gone: no token is minted",
                                    t.username
                                )));
                            }
                        }
                        AuthWrite::InsertCeremony { ceremony: c, now } => {
                            sqlx::query($crate::auth::FORGET_CEREMONIES)
                                .bind(unix_micros(*now))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "webauthn ceremonies"))?;
                            sqlx::query($crate::auth::INSERT_CEREMONY)
                                .bind(&c.id)
                                .bind(&c.username)
                                .bind(&c.purpose)
                                .bind(&c.state)
                                .bind(unix_micros(c.expires_at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "webauthn ceremonies"))?;
                        }
                        AuthWrite::TakeCeremony {
                            ceremony,
                            username,
                            purpose,
                            at,
                        } => {
                            let done = sqlx::query($crate::query::TAKE_CEREMONY)
                                .bind(ceremony)
                                .bind(username)
                                .bind(purpose)
                                .bind(unix_micros(*at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "webauthn ceremonies"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::StepUpUsed(username.clone()));
                            }
                        }
                        AuthWrite::InsertPasskey(p) => {
                            sqlx::query($crate::auth::INSERT_PASSKEY)
                                .bind(&p.id)
                                .bind(&p.username)
                                .bind(&p.name)
                                .bind(&p.credential)
                                .bind(unix_micros(p.created_at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "passkey"))?;
                        }
                        AuthWrite::UsePasskey {
                            id,
                            username,
                            credential,
                            at,
                        } => {
                            let done = sqlx::query($crate::query::USE_PASSKEY)
                                .bind(id)
                                .bind(username)
                                .bind(credential)
                                .bind(unix_micros(*at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "passkeys"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "`{username}` has no passkey `{id}` any more"
                                )));
                            }
                            sqlx::query($crate::query::CLEAR_SECOND_FACTOR_FAILURES)
                                .bind(username)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| {
                                    $crate::codec::db_error(e, "second-factor failures")
                                })?;
                        }
                        AuthWrite::DeletePasskeys { username, id } => {
                            let done = match id {
                                Some(id) => sqlx::query($crate::auth::DELETE_PASSKEY)
                                    .bind(username)
                                    .bind(id)
                                    .execute(&mut *conn)
                                    .await,
                                None => sqlx::query($crate::auth::DELETE_PASSKEYS)
                                    .bind(username)
                                    .execute(&mut *conn)
                                    .await,
                            }
                            .map_err(|e| $crate::codec::db_error(e, "passkeys"))?;
                            if id.is_some() && done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "`{username}` has no passkey `{}`",
                                    id.as_deref().unwrap_or_default()
                                )));
                            }
                        }
                        AuthWrite::InsertChatLinkCode { code, now } => {
                            let err = |e| $crate::codec::db_error(e, "chat link codes");
                            sqlx::query($crate::auth::FORGET_CHAT_LINK_CODES)
                                .bind(unix_micros(*now))
                                .execute(&mut *conn)
                                .await
                                .map_err(err)?;
                            sqlx::query($crate::auth::INSERT_CHAT_LINK_CODE)
                                .bind(&code.sha256)
                                .bind(&code.platform)
                                .bind(&code.team)
                                .bind(&code.chat_user)
                                .bind(unix_micros(code.expires_at))
                                .execute(&mut *conn)
                                .await
                                .map_err(err)?;
                        }
                        AuthWrite::LinkChat {
                            sha256,
                            username,
                            at,
                        } => {
                            use sqlx::Row as _;
                            let err = |e| $crate::codec::db_error(e, "chat links");
                            let Some(row) = sqlx::query($crate::auth::TAKE_CHAT_LINK_CODE)
                                .bind(sha256)
                                .bind(unix_micros(*at))
                                .fetch_optional(&mut *conn)
                                .await
                                .map_err(err)?
                            else {
                                return Err(StoreError::InvalidCommit(
                                    "the link code is unknown, used already or expired: ask for a new one with `/breakglass link`".to_owned(),
                                ));
                            };
                            let platform: String = row.try_get("platform").map_err(err)?;
                            let team: String = row.try_get("team").map_err(err)?;
                            let chat_user: String = row.try_get("chat_user").map_err(err)?;
                            let done = sqlx::query($crate::auth::INSERT_CHAT_LINK)
                                .bind(&platform)
                                .bind(&team)
                                .bind(&chat_user)
                                .bind(username)
                                .bind(unix_micros(*at))
                                .execute(&mut *conn)
                                .await
                                .map_err(err)?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "`{username}` is not an enabled user, or this {platform} account or `{username}` is linked already: unlink it first on the account page"
                                )));
                            }
                        }
                        AuthWrite::UnlinkChat { platform, username } => {
                            let done = sqlx::query($crate::auth::DELETE_CHAT_LINK)
                                .bind(platform)
                                .bind(username)
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "chat links"))?;
                            if done.rows_affected() == 0 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "`{username}` has no {platform} account linked"
                                )));
                            }
                        }
                        AuthWrite::RevokeToken { id, username, at } => {
                            let done = sqlx::query($crate::auth::REVOKE_TOKEN)
                                .bind(id)
                                .bind(username)
                                .bind(unix_micros(*at))
                                .execute(&mut *conn)
                                .await
                                .map_err(|e| $crate::codec::db_error(e, "api tokens"))?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::InvalidCommit(format!(
                                    "`{username}` has no active token `{id}`"
                                )));
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    };
}

pub(crate) use auth_impl;
