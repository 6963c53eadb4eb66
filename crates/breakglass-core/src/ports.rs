//! The ports: how the pure domain reaches time, identifiers, durable storage and the
//! notification topic.
//!
//! Adapters implement these traits elsewhere (`breakglass-store` for [`Store`], the server for
//! the system clock and random ids, `breakglass-aws` for [`TopicPublisher`]). [`ManualClock`] and [`SequentialIds`] are deterministic
//! implementations for tests and simulations.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use time::{Duration, OffsetDateTime};

use crate::accounts::{
    AuthWrite, CeremonyRecord, InvitationRecord, PasskeyRecord, SecondFactorFailures, TokenHolder,
    TokenRecord, UserRecord,
};
use crate::audit::{AuditEntry, ChainHead, StoredAuditRow};
use crate::model::{GrantId, IdError, RequestId, RoleArn, Username};
use crate::outbox::{Notification, OutboxMessage, QueuedMessage};
use crate::request::AccessRequest;
use crate::revocation::RevocationEntry;
use crate::session::{RequestFilter, Session, SessionQuery, SessionSummary};

/// The time source. Nothing in the domain reads the wall clock; it asks this.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// Mints identifiers for new requests and grants.
pub trait IdSource: Send + Sync {
    /// A fresh, never-reused request id.
    fn request_id(&self) -> RequestId;
    /// A fresh, never-reused grant id (it becomes the STS role session name).
    fn grant_id(&self) -> GrantId;
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: OffsetDateTime) {
        match self.0.lock() {
            Ok(mut g) => *g = t,
            Err(poisoned) => *poisoned.into_inner() = t,
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        match self.0.lock() {
            Ok(mut g) => *g += d,
            Err(poisoned) => *poisoned.into_inner() += d,
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        match self.0.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

/// Ids `<prefix>r-000001`, `<prefix>g-000001`, ... in order.
#[derive(Debug)]
pub struct SequentialIds {
    prefix: String,
    next: AtomicU64,
}

impl SequentialIds {
    /// A generator whose ids start with `prefix` (at most 32 characters of `[\w+=,.@-]`).
    pub fn new(prefix: impl Into<String>) -> Result<Self, IdError> {
        let prefix = prefix.into();
        // The longest id this generator can mint must be valid for both kinds.
        let longest = format!("{prefix}r-{}", u64::MAX);
        RequestId::new(longest.clone())?;
        GrantId::new(longest)?;
        Ok(Self {
            prefix,
            next: AtomicU64::new(1),
        })
    }

    fn next(&self, kind: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}{kind}-{n:06}", self.prefix)
    }
}

impl IdSource for SequentialIds {
    #[expect(
        clippy::expect_used,
        reason = "the prefix was validated in `new` with the longest possible suffix"
    )]
    fn request_id(&self) -> RequestId {
        RequestId::new(self.next("r")).expect("validated prefix")
    }

    #[expect(
        clippy::expect_used,
        reason = "the prefix was validated in `new` with the longest possible suffix"
    )]
    fn grant_id(&self) -> GrantId {
        GrantId::new(self.next("g")).expect("validated prefix")
    }
}

impl<T: IdSource + ?Sized> IdSource for std::sync::Arc<T> {
    fn request_id(&self) -> RequestId {
        (**self).request_id()
    }
    fn grant_id(&self) -> GrantId {
        (**self).grant_id()
    }
}

/// A value and the row version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version: 1 after insertion, +1 per transition.
    pub version: u64,
}

/// A request as a listing returns it: the columns a read rule needs first, and the stored
/// document undecoded, for a caller that passes documents on as they are. The document is
/// the request exactly as this build serializes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRequest {
    /// The request id.
    pub id: String,
    /// Its row version.
    pub version: u64,
    /// The name of its status (`Status::name`).
    pub status: String,
    /// Who asked.
    pub requester: String,
    /// The request as JSON (an object).
    pub doc: String,
}

impl ListedRequest {
    /// The request, decoded.
    pub fn decode(&self) -> Result<Versioned<AccessRequest>, StoreError> {
        let value: AccessRequest = serde_json::from_str(&self.doc).map_err(|e| {
            StoreError::Corrupt(format!("request `{}` does not decode: {e}", self.id))
        })?;
        Ok(Versioned {
            value,
            version: self.version,
        })
    }
}

/// The request row a commit writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestWrite {
    /// A new request (version 1). Fails with [`StoreError::Duplicate`] if the id exists.
    Insert(AccessRequest),
    /// A transition of a request read at `expected_version`. Fails with
    /// [`StoreError::Conflict`] if someone else changed it since.
    Update {
        request: AccessRequest,
        expected_version: u64,
    },
}

/// Everything one state change writes, committed atomically: the request row, its audit
/// records (sealed into the chain inside the transaction) and its outbox messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The request row, if the change touches one (refusals write audit records only).
    pub write: Option<RequestWrite>,
    /// The audit entries, in order. A commit must carry at least one.
    pub audit: Vec<AuditEntry>,
    /// The notifications to deliver, each pointing at one of `audit` by index.
    pub outbox: Vec<Notification>,
    /// The one-time MFA proof this change spends, if it needed one (an approval, a
    /// break-glass activation): it is marked used in the same transaction, so the code is
    /// consumed exactly when the change it authorised commits.
    pub step_up: Option<StepUp>,
}

/// A second factor a user proved for one action, spent by a [`Commit`] (or an
/// authentication write) in the same transaction as the change it authorises. The store
/// refuses the whole commit with [`StoreError::StepUpUsed`] when the proof was spent already:
/// a TOTP time step at or before the user's last used one, a passkey ceremony already
/// answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    /// Whose authenticator produced the proof.
    pub username: Username,
    /// What the step-up was for (recorded in the `totp_verified` or `passkey_verified` audit
    /// record). A passkey's ceremony was started for exactly this purpose.
    pub purpose: String,
    /// The proof.
    pub proof: Proof,
}

/// What proved a [`StepUp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A TOTP code: the RFC 6238 time step it matched.
    Totp {
        /// The time step.
        step: i64,
    },
    /// A passkey's answer to a one-time WebAuthn ceremony.
    Passkey {
        /// The ceremony answered (deleted when the step-up is spent).
        ceremony: String,
        /// The passkey's credential id (base64url).
        credential_id: String,
        /// The passkey as stored after the assertion (its signature counter advanced), as
        /// the WebAuthn library serialises it. Public key material only.
        credential: String,
    },
}

impl StepUp {
    /// A TOTP step-up of `username` for `purpose` at time step `step`.
    pub fn totp(username: Username, purpose: impl Into<String>, step: i64) -> Self {
        Self {
            username,
            purpose: purpose.into(),
            proof: Proof::Totp { step },
        }
    }

    /// Which kind of factor proved it.
    pub fn factor(&self) -> crate::model::Factor {
        match self.proof {
            Proof::Totp { .. } => crate::model::Factor::Totp,
            Proof::Passkey { .. } => crate::model::Factor::Passkey,
        }
    }

    /// The audit record of spending it: `totp_verified` or `passkey_verified`.
    pub fn verified_event(&self) -> crate::audit::AuditEvent {
        use crate::audit::events::{PasskeyVerified, TotpVerified};
        match &self.proof {
            Proof::Totp { .. } => TotpVerified {
                username: self.username.clone(),
                purpose: self.purpose.clone(),
            }
            .into(),
            Proof::Passkey { credential_id, .. } => PasskeyVerified {
                username: self.username.clone(),
                purpose: self.purpose.clone(),
                credential: credential_id.clone(),
            }
            .into(),
        }
    }

    /// The audit record of finding it already spent (the store refused to spend it again):
    /// `totp_failed` for a code, `passkey_failed` for a passkey's answer.
    pub fn replayed_event(&self) -> crate::audit::AuditEvent {
        replayed_event(&self.username, &self.purpose, self.is_passkey())
    }

    /// Whether a passkey proved it.
    pub fn is_passkey(&self) -> bool {
        matches!(self.proof, Proof::Passkey { .. })
    }
}

/// The audit record of a step-up of `username`'s for `purpose` found already spent: a
/// passkey's answer (`passkey_failed`) or a TOTP code (`totp_failed`).
pub fn replayed_event(
    username: &Username,
    purpose: &str,
    passkey: bool,
) -> crate::audit::AuditEvent {
    use crate::audit::events::{PasskeyFailed, TotpFailed};
    if passkey {
        PasskeyFailed {
            username: username.clone(),
            purpose: purpose.to_owned(),
            reason: "answer already used".to_owned(),
        }
        .into()
    } else {
        TotpFailed {
            username: username.clone(),
            purpose: purpose.to_owned(),
            reason: "code already used".to_owned(),
        }
        .into()
    }
}

/// How a claimed outbox message's delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxSettle {
    /// Every channel has it.
    Delivered {
        /// When the last channel took it.
        at: OffsetDateTime,
        /// The channels that took it.
        done_channels: Vec<String>,
    },
    /// Some channels failed: try them again at `retry_at`.
    Retry {
        /// The channels that took it so far (they are not tried again).
        done_channels: Vec<String>,
        /// What went wrong (no secrets).
        error: String,
        /// When to try again.
        retry_at: OffsetDateTime,
    },
    /// Given up: the message is dead-lettered, and `commit` (its audit record and the
    /// alert announcing it) is written in the same transaction.
    DeadLetter {
        /// The channels that took it.
        done_channels: Vec<String>,
        /// The last error.
        error: String,
        /// When.
        at: OffsetDateTime,
        /// The audit record and alert; see [`crate::delivery::dead_letter_commit`].
        commit: Box<Commit>,
    },
}

/// What a commit produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The request's new version, if a request was written.
    pub version: Option<u64>,
    /// The sequence numbers given to the audit entries, in order.
    pub audit_seqs: Vec<u64>,
    /// The chain head after the commit.
    pub head: ChainHead,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the request since it was read; reload and retry.
    #[error("request `{0}` was changed concurrently")]
    Conflict(RequestId),
    /// A request with this id (or a grant with this grant id) already exists.
    #[error("`{0}` already exists")]
    Duplicate(String),
    /// The commit's one-time step-up was already used (a replayed TOTP code), or the user
    /// has no authenticator any more.
    #[error("the TOTP code of `{0}` was already used")]
    StepUpUsed(String),
    /// The commit is malformed (e.g. no audit entry).
    #[error("invalid commit: {0}")]
    InvalidCommit(String),
    /// The store holds something that does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed or could not be reached.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The commit was made under a lease this replica no longer holds (another replica took
    /// it over, or it ran out); nothing was stored.
    #[error("the `{0}` lease is no longer held by this replica; nothing was stored")]
    LeaseLost(String),
}

/// Durable storage for requests, the audit chain and the outbox.
///
/// Implementations commit each [`Commit`] in one transaction: the request row with its
/// version check, every audit record sealed onto the chain head, and the outbox rows. If
/// any part fails, none of it is stored.
pub trait Store: Send + Sync {
    /// The request with this id.
    fn get(
        &self,
        id: &RequestId,
    ) -> impl Future<Output = Result<Option<Versioned<AccessRequest>>, StoreError>> + Send;

    /// The request holding the grant with this id.
    fn get_by_grant(
        &self,
        id: &GrantId,
    ) -> impl Future<Output = Result<Option<Versioned<AccessRequest>>, StoreError>> + Send;

    /// Commits a state change and its audit records and notifications atomically.
    fn commit(&self, commit: Commit) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Requests whose next deadline (timeout, activation window, grant end) is at or before
    /// `now`, oldest deadline first.
    fn due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RequestId>, StoreError>> + Send;

    /// Requests matching `filter`, newest first.
    fn requests(
        &self,
        filter: &RequestFilter,
    ) -> impl Future<Output = Result<Vec<Versioned<AccessRequest>>, StoreError>> + Send;

    /// Requests matching `filter`, newest first, with their documents undecoded (what
    /// [`Store::requests`] returns, for a caller that passes documents on as they are).
    fn request_listing(
        &self,
        filter: &RequestFilter,
    ) -> impl Future<Output = Result<Vec<ListedRequest>, StoreError>> + Send;

    /// Grants (sessions) matching `query`, with their status at `now`, newest first.
    fn sessions(
        &self,
        query: &SessionQuery,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Session>, StoreError>> + Send;

    /// Counts of the grants matching `query`, by status at `now`, playbook, kind, requester
    /// and incident (the `limit` of the query is ignored).
    fn session_summary(
        &self,
        query: &SessionQuery,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<SessionSummary, StoreError>> + Send;

    /// The stored chain head, if any record was ever appended.
    fn audit_head(&self) -> impl Future<Output = Result<Option<ChainHead>, StoreError>> + Send;

    /// The key this store seals audit records with (`None`: unkeyed, for tools and tests
    /// that hold no key), so the chain it writes can be verified with the same key.
    fn chain_key(&self) -> Option<crate::audit::ChainKey>;

    /// Audit rows with `seq > after`, in sequence order, at most `limit`.
    fn audit_rows(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredAuditRow>, StoreError>> + Send;

    /// Undelivered outbox messages whose next attempt is due at `now`, oldest first.
    fn outbox_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send;

    /// Claims up to `limit` due messages (undelivered, not dead-lettered, next attempt at
    /// or before `now`, not claimed by a live lease) for `holder` until `lease_until`, and
    /// returns them oldest first. Concurrent claimers never get the same message while the
    /// lease holds.
    fn outbox_claim(
        &self,
        now: OffsetDateTime,
        holder: &str,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send;

    /// Records how the delivery of claimed message `id` ended and releases the claim.
    /// Returns `false`, writing nothing, if `holder` no longer holds the claim. A dead
    /// letter's audit record and alert are written in the same transaction.
    fn outbox_settle(
        &self,
        id: i64,
        holder: &str,
        settle: OutboxSettle,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Commits `commit` (a reminder's audit record and notification) unless a commit with
    /// `key` was made before; returns whether it was committed. The key is recorded in the
    /// same transaction.
    fn commit_once(
        &self,
        key: &str,
        commit: Commit,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Messages neither delivered nor dead-lettered (due or waiting for a retry), oldest
    /// first, each with when its next attempt is due.
    fn outbox_undelivered(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<QueuedMessage>, StoreError>> + Send;

    /// Dead-lettered messages, most recent first.
    fn outbox_dead_letters(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send;

    /// Stores drill run `run` and commits `commit` (its `drill_completed` record) in one
    /// transaction.
    fn commit_drill(
        &self,
        run: &crate::drill::DrillRun,
        commit: Commit,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Stores game day `day` (its start, or its finish) and commits `commit` (its audit
    /// record) in one transaction.
    fn commit_game_day(
        &self,
        day: &crate::game_day::GameDay,
        commit: Commit,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// The game day with incident id `incident`, if one was started.
    fn game_day(
        &self,
        incident: &crate::model::IncidentId,
    ) -> impl Future<Output = Result<Option<crate::game_day::GameDay>, StoreError>> + Send;

    /// The latest `limit` drill runs, newest first.
    fn drill_runs(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::drill::DrillRun>, StoreError>> + Send;

    /// The notifications written with audit record `seq`, with how their delivery ended so
    /// far (a drill follows its own alert this way).
    fn record_notifications(
        &self,
        seq: u64,
    ) -> impl Future<Output = Result<Vec<crate::outbox::SentNotification>, StoreError>> + Send;

    /// Every notification written about request `request`, oldest first, with how its
    /// delivery ended so far (the break-glass log's alerts).
    fn request_notifications(
        &self,
        request: &RequestId,
    ) -> impl Future<Output = Result<Vec<crate::outbox::SentNotification>, StoreError>> + Send;

    /// The chat messages posted about request `request`, by conversation.
    fn chat_messages(
        &self,
        request: &RequestId,
    ) -> impl Future<Output = Result<Vec<crate::chat::ChatMessageRef>, StoreError>> + Send;

    /// Records that `message` was posted about `request` (delivery bookkeeping, like an
    /// outbox settlement: what was said is audited with the change that caused it). Recording
    /// the same conversation twice keeps the first message.
    fn put_chat_message(
        &self,
        request: &RequestId,
        message: &crate::chat::ChatMessageRef,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The state the access service and its worker keep beside the requests: revocation entries
/// (which sessions each role's `BreakglassRevocations` policy must deny) and job leases
/// (which replica runs each periodic job). Both survive restarts.
pub trait AccessStore: Send + Sync {
    /// Records that `entry`'s grant is revoked (idempotent: the latest `session_end` wins).
    fn add_revocation(
        &self,
        entry: &RevocationEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The revocation entries of `role`, or of every role when `None`, by role then grant.
    fn revocations(
        &self,
        role: Option<&RoleArn>,
    ) -> impl Future<Output = Result<Vec<RevocationEntry>, StoreError>> + Send;

    /// Deletes these entries (matched by role and grant) once the policy no longer needs them.
    fn remove_revocations(
        &self,
        entries: &[RevocationEntry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes or renews lease `name` for `holder` until `until`, in one atomic statement.
    /// Succeeds when nobody holds it, `holder` already does, or the holder's lease ran out
    /// before `now`; returns whether `holder` now holds it.
    fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives lease `name` up if `holder` holds it (on clean shutdown).
    fn release_lease(
        &self,
        name: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Role `role`'s generation: moved by every [`AccessStore::add_revocation`] of one of its
    /// entries, in the same transaction (0 before the first).
    fn revocation_generation(
        &self,
        role: &RoleArn,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Gives lease `name` up if `holder` holds it and `role`'s generation is still
    /// `generation`, in one atomic statement; returns whether it did (otherwise an entry was
    /// added meanwhile, or the lease was lost, and the lease is left as it is).
    fn release_role_sync(
        &self,
        name: &str,
        holder: &str,
        role: &RoleArn,
        generation: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores one ingested CloudTrail batch in one transaction: its events (an `eventID`
    /// already stored is skipped), the access keys learned for grants, the findings (inserted
    /// or updated by id), each commit (audit records, notifications, a retroactive record)
    /// and the cursors: if anything fails nothing is stored and the cursors stay where they
    /// were, so the batch is read again.
    fn commit_activity(
        &self,
        batch: ActivityCommit,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every CloudTrail cursor.
    fn activity_cursors(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::activity::Cursor>, StoreError>> + Send;

    /// Which of `ids` (event ids) are stored already.
    fn stored_event_ids(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The grants the access keys in `keys` were learned for (chained sessions).
    fn learned_keys(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<(String, RequestId)>, StoreError>> + Send;

    /// The events linked to request `request`, oldest first, at most `limit`.
    fn request_activity(
        &self,
        request: &RequestId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::activity::StoredEvent>, StoreError>> + Send;

    /// Findings, newest first seen first; with `keys`, only those with one of these keys
    /// last seen at or after `since`.
    fn findings(
        &self,
        keys: Option<&[String]>,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::activity::Finding>, StoreError>> + Send;

    /// Deletes events, and findings last seen, before `before`; returns how many rows went.
    fn prune_activity(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// One ingested CloudTrail batch, stored in one transaction (see
/// [`AccessStore::commit_activity`]).
#[derive(Debug, Clone, Default)]
pub struct ActivityCommit {
    /// The events kept: linked to a grant or part of a finding.
    pub events: Vec<crate::activity::StoredEvent>,
    /// Access keys of sessions chained from a grant, with its request.
    pub keys: Vec<(String, RequestId)>,
    /// New and updated findings.
    pub findings: Vec<crate::activity::Finding>,
    /// Audit records of new findings (one commit each; a retroactive record's carries its
    /// request).
    pub commits: Vec<Commit>,
    /// Where each source now stands.
    pub cursors: Vec<crate::activity::Cursor>,
    /// The lease the batch was read under, and when: when set, the batch is stored only if
    /// the holder still holds it then (checked in the batch's transaction), else nothing is
    /// and the commit fails with [`StoreError::LeaseLost`].
    pub lease: Option<(crate::activity::Held, OffsetDateTime)>,
}

/// Where local users and API tokens are kept (see [`crate::accounts`]). Every change is
/// committed with its audit records in one transaction.
pub trait AuthStore: Send + Sync {
    /// The local user `username`.
    fn user(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;

    /// Every local user, by name.
    fn users(&self) -> impl Future<Output = Result<Vec<UserRecord>, StoreError>> + Send;

    /// The API token whose SHA-256 is `sha256` (hex), revoked or not, with its user's
    /// administrator flag and authenticator (`None` if there is no such token or user).
    fn token_holder(
        &self,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<TokenHolder>, StoreError>> + Send;

    /// The API tokens of `username`, newest first.
    fn tokens(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Vec<TokenRecord>, StoreError>> + Send;

    /// The invitation whose secret's SHA-256 is `sha256` (hex), used or not.
    fn invitation(
        &self,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<InvitationRecord>, StoreError>> + Send;

    /// The run of wrong second-factor codes of `username`, if one is stored.
    fn second_factor_failures(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<SecondFactorFailures>, StoreError>> + Send;

    /// The passkeys of `username`, oldest first.
    fn passkeys(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Vec<PasskeyRecord>, StoreError>> + Send;

    /// The WebAuthn ceremony `id`, expired or not (`None` once answered).
    fn ceremony(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<CeremonyRecord>, StoreError>> + Send;

    /// Applies authentication changes and appends their audit records in one transaction
    /// (`audit` must not be empty: an unaudited authentication change is refused), with the
    /// notifications [`crate::outbox::notifications`] maps those records to (a lockout that
    /// alerts the security team, for one).
    fn auth_commit(
        &self,
        writes: Vec<AuthWrite>,
        audit: Vec<AuditEntry>,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Every chat link on `platform`.
    fn chat_links(
        &self,
        platform: &str,
    ) -> impl Future<Output = Result<Vec<crate::chat::ChatLinkRecord>, StoreError>> + Send;

    /// The one link on `platform` that `of` names, if there is one.
    fn chat_link(
        &self,
        platform: &str,
        of: crate::chat::LinkOf<'_>,
    ) -> impl Future<Output = Result<Option<crate::chat::ChatLinkRecord>, StoreError>> + Send;

    /// The chat link waiting for confirmation whose code's SHA-256 is `sha256` (hex), expired
    /// or not (`None` once confirmed).
    fn chat_link_code(
        &self,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<crate::chat::ChatLinkCode>, StoreError>> + Send;

    /// Remembers the signed chat delivery `key` until `expires_at` (forgetting those expired
    /// by `now`): `true` the first time, `false` for a delivery seen before (a replay). The
    /// refusal of a replay is audited by the caller.
    fn remember_chat_delivery(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// One message for a [`TopicPublisher`]: what the SNS channel sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMessage<'a> {
    /// A one-line subject (the adapter cuts it to what the topic accepts).
    pub subject: &'a str,
    /// The body.
    pub body: &'a str,
    /// The message's idempotency key (`breakglass-<outbox id>`).
    pub idempotency_key: &'a str,
    /// The notification's kind (e.g. `approval_needed`).
    pub kind: &'a str,
}

/// What [`TopicPublisher::publish`] returns: the topic's message id, or what went wrong (no
/// secrets).
pub type PublishFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// A notification topic (an SNS topic; breakglass-aws's `sns::SnsPublisher` is the
/// adapter). A trait object, so the notification worker holds one without knowing the SDK.
pub trait TopicPublisher: Send + Sync + std::fmt::Debug {
    /// The topic's ARN.
    fn topic(&self) -> &str;

    /// Publishes `message` to the topic.
    fn publish<'a>(&'a self, message: TopicMessage<'a>) -> PublishFuture<'a>;
}

/// What an [`AnchorStore`] call returns: a value, or what went wrong (no secrets).
pub type AnchorFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Where the audit chain's head is anchored outside the database, out of reach of whoever
/// can write it (an S3 bucket under Object Lock in compliance mode: breakglass-aws's
/// `anchor::S3Anchors` is the adapter). A trait object, so the worker holds one without
/// knowing the SDK.
pub trait AnchorStore: Send + Sync + std::fmt::Debug {
    /// Where the anchors go, for messages (e.g. `s3://bucket/prefix`).
    fn location(&self) -> String;

    /// Writes `anchor`, taken at `at`; it can then no longer be changed or deleted.
    fn put(&self, anchor: crate::audit::Anchor, at: OffsetDateTime) -> AnchorFuture<'_, ()>;

    /// The authentic anchor (made with the chain key) with the highest sequence number, if
    /// any, and what was passed over to find it.
    fn latest(&self) -> AnchorFuture<'_, LatestAnchor>;
}

/// What [`AnchorStore::latest`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatestAnchor {
    /// The latest authentic anchor.
    pub anchor: Option<crate::audit::Anchor>,
    /// Objects passed over on the way, each with why (not made with the chain key, not
    /// locked, unreadable): someone who can write where the anchors are kept put them there.
    pub ignored: Vec<String>,
}
