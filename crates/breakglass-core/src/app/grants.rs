//! The grant use cases: minting a grant's credentials, and cutting sessions off.
//!
//! They join the broker (state and audit) to the [`Cloud`] port (STS and IAM):
//!
//! - [`App::credentials`] mints credentials on demand for the requester of a live grant,
//!   with the domain's issuance parameters, and records only the access key id and the
//!   SHA-256 of the session token. A grant that is no longer active never mints again.
//!   Anyone else asking is refused, and the refusal is audited (`action_refused`); someone
//!   who may not even read the request is told it does not exist.
//! - [`App::revoke`] commits the revocation first (so minting stops at once), then adds
//!   the grant to its role's revocation entries and rewrites the role's
//!   `BreakglassRevocations` policy, which denies the grant's live sessions and nothing else.
//! - [`App::revoke_all`] revokes every live grant of a role, then reads the clock and
//!   writes `AWSRevokeOlderSessions` with that cutoff, and audits it.
//! - [`App::sync_role`] rewrites one role's policy from the stored entries, pruning those
//!   whose sessions have ended; the worker runs it for every role, so a policy write that
//!   failed is retried and the 10,240-character inline quota is not filled by old entries.
//!
//! The revocation entries live in the store, so a restart loses nothing. The policy
//! rewrite is read-compare-write-verify under the role's lease in the store, so the API and
//! the worker (or two replicas) never interleave on one role and lose an entry (see
//! [`App::sync_role`]).

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use super::{App, Caller, CutOffTarget, Error};
use crate::audit::events::{RevocationFailed, RoleSessionsRevoked};
use crate::audit::{Actor, AuditEntry, AuditEvent};
use crate::broker::{BrokerError, Outcome};
use crate::canonical::Sha256Digest;
use crate::cloud::{Cloud, CloudError, IssuedCredentials, Secret};
use crate::issuance;
use crate::model::{GrantId, RequestId, RequestKind, RoleArn, Username};
use crate::outbox::notifications;
use crate::ports::{AccessStore, Clock, Commit, IdSource, StepUp, Store};
use crate::request::AccessRequest;
use crate::revocation::{self, REVOCATIONS_POLICY, REVOKE_OLDER_SESSIONS_POLICY, RevocationEntry};
use crate::rules::Action;
use crate::session::RequestFilter;

/// How long after a revoked grant's last credentials expire its entry is kept: a console
/// sign-in token stays usable for 15 minutes and the console session then runs for its full
/// duration, so a console session can outlast the credentials it was made from by that
/// much; plus 5 minutes in case STS's clock runs ahead of the broker's.
pub const ENTRY_MARGIN: Duration = Duration::minutes(20);

/// How long a session another session chained into can last: STS caps role chaining at one
/// hour (DESIGN §4). Once the deny is in force a revoked session cannot chain again, so every
/// session descended from it was issued before the revocation and is over this long after
/// it: a revoked grant's entry (and with it the responder's place in the organisation SCP)
/// is kept at least that long, or a chained session issued just before a late revocation
/// would outlive the SCP that denies it.
pub const CHAINED_SESSION_LIMIT: Duration = Duration::hours(1);

/// How many requests one pass of [`App::reconcile`] or [`App::revoke_all`] reads (the
/// store's cap).
const RECONCILE_LIMIT: u32 = 1_000;

/// The prefix of the lease one writer of a role's revocation policy holds (the role's ARN
/// follows).
pub const ROLE_SYNC_LEASE_PREFIX: &str = "revocations:";

/// The lease the one writer of the organisation's revoked-responders policy holds (a role
/// ARN never follows the prefix alone, so it cannot collide with a role's lease).
pub const ORGANIZATION_SYNC_LEASE: &str = "revocations:organization";

/// How long a role's sync lease lasts: longer than one read-write-verify takes, short enough
/// that a writer that died is replaced by the worker soon after.
const ROLE_SYNC_LEASE: Duration = Duration::seconds(60);

/// How many times one writer rewrites a role while entries keep arriving before it leaves
/// the rest to the next holder.
const MAX_SYNC_ROUNDS: usize = 16;

/// The purpose a step-up for the first credentials of grant `request` is checked for.
pub fn credentials_purpose(request: &RequestId) -> String {
    format!("mint the first credentials of {request}")
}

/// The purpose an administrator's step-up for revoking every session of `role` is checked
/// for.
pub fn revoke_all_purpose(role: &RoleArn) -> String {
    format!("revoke every session of {role}")
}

/// The longest console session the federation endpoint grants.
const MAX_CONSOLE_SESSION: Duration = Duration::hours(12);

/// A committed revocation and what was done to its live sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The broker's outcome (the request is now revoked).
    pub outcome: Outcome,
    /// The entry added to the role's `BreakglassRevocations` policy; `None` when the grant
    /// never minted credentials (or was never activated), so no session exists to deny.
    pub entry: Option<RevocationEntry>,
}

/// What [`App::reconcile`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Revoked requests whose missing entries were restored.
    pub restored: Vec<RequestId>,
    /// Revoked requests whose entries could not be restored, with why.
    pub failed: Vec<(RequestId, String)>,
}

/// What revoking every session of a role did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedAll {
    /// The role.
    pub role_arn: RoleArn,
    /// Sessions whose token was issued before this were denied.
    pub cutoff: OffsetDateTime,
    /// Live grants of the role that were revoked on the way.
    pub revoked: Vec<RequestId>,
    /// Live grants that could not be revoked (they could mint again), or whose own entry
    /// could not be written (the worker retries it), with why. The cutoff denies their
    /// sessions all the same.
    pub failed: Vec<(RequestId, String)>,
    /// The audit sequence number of the `role_sessions_revoked` record.
    pub audit_seq: Option<u64>,
}

/// What rewriting one role's revocation policy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSync {
    /// The role.
    pub role_arn: RoleArn,
    /// Entries still denied.
    pub entries: usize,
    /// Entries pruned because their sessions have ended.
    pub pruned: usize,
    /// Whether the policy on the role changed (written or deleted).
    pub changed: bool,
    /// Another writer held the role and writes it instead (it cannot stop without taking in
    /// every entry added before it stops); the counts are then zero.
    pub deferred: bool,
}

/// What rewriting the organisation's revoked-responders policy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationSync {
    /// Responders the policy denies.
    pub responders: usize,
    /// Whether the policy's content changed.
    pub changed: bool,
    /// Another writer held the policy and writes it instead.
    pub deferred: bool,
}

/// Which policy a cut-off failed to write: the role's own deny, or the organisation's
/// revoked-responders policy (each audited, paged and listed as its own target).
#[derive(Debug)]
enum CutOffFailure {
    /// The role's entry or deny policy.
    Role(Error),
    /// The organisation policy, after the role's deny held.
    Organization(Error),
}

impl CutOffFailure {
    fn into_error(self) -> Error {
        match self {
            Self::Role(e) | Self::Organization(e) => e,
        }
    }
}

impl<E: Into<Error>> From<E> for CutOffFailure {
    fn from(e: E) -> Self {
        Self::Role(e.into())
    }
}

/// A mint [`App::authorize_mint`] allowed: the `AssumeRole` to make, the grant's end, and
/// the step-up to spend with the issuance record, if the mint needed one.
struct Mint {
    params: crate::cloud::IssueRequest,
    end: Option<OffsetDateTime>,
    step_up: Option<StepUp>,
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// The request holding grant `grant`.
    pub async fn grant_request(&self, grant: &GrantId) -> Result<RequestId, Error> {
        match self.store().get_by_grant(grant).await? {
            Some(v) => Ok(v.value.id),
            None => Err(Error::NotFound(format!("no grant `{grant}`"))),
        }
    }

    /// The request holding grant `grant`, if `caller` may read it; a grant that does not
    /// exist and one the caller may not see are the same answer, so grant ids leak nothing.
    pub async fn grant(
        &self,
        caller: &Caller,
        grant: &GrantId,
    ) -> Result<crate::ports::Versioned<AccessRequest>, Error> {
        self.store()
            .get_by_grant(grant)
            .await?
            .filter(|v| super::requests::may_read(&self.rules(), caller, &v.value))
            .ok_or_else(|| Error::NotFound(format!("no grant `{grant}`")))
    }

    /// Mints credentials for the grant of request `request`, for its requester `caller`.
    /// Refused unless the grant is active and before its end; the session lasts the grant's
    /// remaining time (less a clock allowance), clamped to the role's maximum by the adapter.
    ///
    /// The first credentials of a break-glass grant need a fresh step-up: the activation's
    /// own covers them for the settings' `step_up_window` ([`App::needs_mint_step_up`]);
    /// after that `step_up` must be one the caller
    /// gave for exactly this mint ([`credentials_purpose`]), and it is spent with the
    /// issuance record. A token stolen after the emergency began cannot mint on its own.
    pub async fn credentials(
        &self,
        caller: &Caller,
        request: &RequestId,
        step_up: Option<StepUp>,
    ) -> Result<IssuedCredentials, Error> {
        let mint = self.authorize_mint(caller, request, step_up).await?;
        self.mint(caller, request, mint).await
    }

    /// Everything [`App::credentials`] checks before it calls AWS: who may mint (refusals
    /// audited; a caller who may not read the request is told it does not exist), the
    /// step-up the first mint needs, and that the grant can issue now.
    async fn authorize_mint(
        &self,
        caller: &Caller,
        request: &RequestId,
        step_up: Option<StepUp>,
    ) -> Result<Mint, Error> {
        let actor = &caller.username;
        let current = self.broker.get(request).await?;
        let r = &current.value;
        if !super::requests::may_read(&self.rules(), caller, r) {
            // Audited like any other refused mint (the record says whose grant it is), but
            // answered as if the request did not exist: the refusal must not tell someone
            // who may not read the request whose grant it is.
            if let Err(refused) = check_requester(r, actor) {
                self.broker
                    .record_refusal(r, Action::Request, actor.clone(), refused.to_string())
                    .await?;
            }
            return Err(Error::NotFound(format!("no request `{request}`")));
        }
        if r.kind != RequestKind::BreakGlass {
            caller.require_full_access()?;
        }
        if let Err(refused) = check_requester(r, actor) {
            // Recorded before the refusal is returned; if it cannot be recorded, the store's
            // error is returned instead (still a refusal: nothing is minted).
            self.broker
                .record_refusal(r, Action::Request, actor.clone(), refused.to_string())
                .await?;
            return Err(refused);
        }
        let now = self.now();
        let step_up = match r.grant.as_ref() {
            Some(_) if self.needs_mint_step_up(r, now) => {
                let purpose = credentials_purpose(request);
                let Some(s) = step_up else {
                    return Err(Error::StepUpRequired(format!(
                        "the first credentials of request `{request}` need a fresh step-up: give a current TOTP code (field `totp`; `breakglass creds --totp CODE`) or use your passkey in the console"
                    )));
                };
                super::requests::own_step_up(caller, &s, &purpose)?;
                let rules = self.broker.rules();
                if let Err(refused) = crate::request::step_up_factor(
                    &rules,
                    &r.spec.playbook,
                    s.factor(),
                    Action::Request,
                ) {
                    self.broker
                        .record_refusal(r, Action::Request, actor.clone(), refused.to_string())
                        .await?;
                    return Err(BrokerError::from(refused).into());
                }
                Some((s, purpose))
            }
            // No step-up needed: one given anyway is not spent.
            _ => None,
        };
        Ok(Mint {
            params: issuance::issue_request(r, now)?,
            end: r.grant.as_ref().map(|g| g.end),
            step_up: step_up.map(|(s, _)| s),
        })
    }

    /// Mints what [`App::authorize_mint`] allowed and records the issuance (spending the
    /// step-up, if one was needed, in the same commit).
    async fn mint(
        &self,
        caller: &Caller,
        request: &RequestId,
        Mint {
            params,
            end,
            step_up,
        }: Mint,
    ) -> Result<IssuedCredentials, Error> {
        let creds = self.cloud.issue(&params).await?;
        if let Some(end) = end
            && creds.expiration > end
        {
            return Err(Error::OutlivesGrant {
                request: request.clone(),
                expiration: creds.expiration,
                end,
            });
        }
        // If the grant was revoked or ended meanwhile this fails, and the credentials are
        // dropped without ever leaving the broker.
        let token_hash = Sha256Digest::of(creds.session_token.expose().as_bytes());
        let command = crate::request::Command::RecordIssuance {
            access_key_id: creds.access_key_id.clone(),
            session_token_sha256: token_hash,
            expires_at: creds.expiration,
        };
        match step_up {
            None => {
                self.broker.execute(request, command).await?;
            }
            Some(s) => {
                let result = self
                    .broker
                    .execute_stepped(request, command, Some(s.clone()))
                    .await;
                self.spent(caller, &s, result).await?;
            }
        }
        Ok(creds)
    }

    /// Whether minting now from `r`'s grant needs a step-up of its own: the first
    /// credentials of a grant whose playbook asks for it (`mint_step_up`, on by default for
    /// break-glass playbooks). A break-glass activation's own step-up covers them for the
    /// settings' `step_up_window`; an approved grant's activation had none, so its first mint
    /// always needs one.
    pub fn needs_mint_step_up(&self, r: &AccessRequest, now: OffsetDateTime) -> bool {
        let asks = self
            .broker
            .rules()
            .catalog()
            .playbook(&r.spec.playbook)
            .map_or(r.kind == RequestKind::BreakGlass, |p| p.mint_step_up);
        // A drill's session policy allows only harmless reads, and its identity has no second
        // factor: its mints need none.
        r.kind != RequestKind::Drill
            && r.grant.as_ref().is_some_and(|g| {
                asks && g.issued.is_empty()
                    && (r.kind != RequestKind::BreakGlass
                        || now - g.start > self.broker.settings().step_up_window)
            })
    }

    /// A console sign-in URL for the grant of request `request` (credentials are minted and
    /// recorded as by [`App::credentials`]), landing on `destination`.
    pub async fn console_url(
        &self,
        caller: &Caller,
        request: &RequestId,
        destination: &str,
        step_up: Option<StepUp>,
    ) -> Result<Secret, Error> {
        // Checked before anything is minted: a refused destination leaves no credentials.
        issuance::console_destination(destination).map_err(Error::Invalid)?;
        // Who may mint is settled (and a refusal audited) before the broker reaches out;
        // then no credentials are minted for a sign-in endpoint that cannot be reached.
        let mint = self.authorize_mint(caller, request, step_up).await?;
        self.cloud
            .console_sign_in_reachable()
            .await
            .map_err(|e| match e {
                CloudError::Unavailable(why) => Error::SignInUnreachable(why),
                other => Error::Cloud(other),
            })?;
        let creds = self.mint(caller, request, mint).await?;
        // The console session lasts as long as the credentials, at most 12 hours. Credentials
        // minted at STS's 900-second minimum have a few milliseconds less by now; the
        // federation endpoint's minimum is also 900, so round those up.
        let left = (creds.expiration - self.now()).whole_seconds();
        let left = if (issuance::MIN_SESSION - issuance::SKEW_ALLOWANCE).whole_seconds() <= left
            && left < issuance::MIN_SESSION.whole_seconds()
        {
            issuance::MIN_SESSION.whole_seconds()
        } else {
            left
        };
        let duration = Duration::seconds(left).min(MAX_CONSOLE_SESSION);
        Ok(self
            .cloud
            .console_url(&creds, duration, destination)
            .await?)
    }

    /// Revokes request `request` as `caller`: the revocation is committed (and audited)
    /// first, so the grant never mints again; then, if it minted credentials, its sessions
    /// are added to the role's revocation entries and the role's `BreakglassRevocations`
    /// policy is rewritten to deny them. A broker administrator may end any access whatever
    /// the rules say (audited under that authority); anyone else as the rules allow.
    pub async fn revoke(
        &self,
        caller: &Caller,
        request: &RequestId,
        reason: &str,
    ) -> Result<Revoked, Error> {
        self.request(caller, request).await?;
        let outcome = self
            .broker
            .revoke_as(request, caller.username.clone(), caller.admin, reason)
            .await?;
        match self.cut_off(&outcome.request).await {
            Ok(entry) => Ok(Revoked { outcome, entry }),
            Err(failure) => {
                // Audited and paged at once, against the policy that failed; should even
                // that commit fail, the worker's retry of the stored entry fails the same
                // way and pages.
                let role = &outcome.request.spec.role_arn;
                let e = match failure {
                    CutOffFailure::Role(e) => {
                        let _ = self
                            .revocation_failed(role, Some(request.clone()), 1, &e)
                            .await;
                        e
                    }
                    CutOffFailure::Organization(e) => {
                        let _ = self
                            .organization_policy_failed(1, &e, Some((role, request.clone())))
                            .await;
                        e
                    }
                };
                Err(Error::CutOffIncomplete {
                    request: request.clone(),
                    source: Box::new(e),
                })
            }
        }
    }

    /// Records that cutting role `role`'s sessions off failed (`attempt` in a row), for the
    /// revocation of `request` or for the worker's upkeep of the role: a `revocation_failed`
    /// audit record and, on the 1st, 2nd, 4th, 8th... attempt, a critical alert to the
    /// security team in the same transaction. Until the role's policy next holds, the
    /// failure is also listed by [`App::failed_cut_offs`].
    pub async fn revocation_failed(
        &self,
        role: &RoleArn,
        request: Option<RequestId>,
        attempt: u32,
        problem: &Error,
    ) -> Result<(), Error> {
        self.cut_offs.failed(
            CutOffTarget::Role(role.clone()),
            request.clone(),
            self.now(),
            super::cut_off_summary(problem),
        );
        self.record_revocation_failed(role, request, attempt, problem.to_string())
            .await
    }

    /// Records that rewriting the organisation's revoked-responders policy failed (`attempt`
    /// in a row): listed by [`App::failed_cut_offs`] until it holds, and audited as
    /// `revocation_failed` (paged on the 1st, 2nd, 4th... attempt) against a role whose
    /// revoked responders it leaves undenied elsewhere, the problem naming the policy. With
    /// no revocation entry at all nobody is left undenied, and nothing is audited.
    pub async fn organization_policy_failed(
        &self,
        attempt: u32,
        problem: &Error,
        revoked: Option<(&RoleArn, RequestId)>,
    ) -> Result<(), Error> {
        let request = revoked.as_ref().map(|(_, id)| id.clone());
        self.cut_offs.failed(
            CutOffTarget::Organization,
            request.clone(),
            self.now(),
            super::cut_off_summary(problem),
        );
        let role = match revoked {
            Some((role, _)) => role.clone(),
            None => match self.revocation_roles().await?.into_iter().next() {
                Some(role) => role,
                None => return Ok(()),
            },
        };
        let text = format!(
            "organisation policy `{}`: {problem}",
            revocation::ORGANIZATION_POLICY
        );
        self.record_revocation_failed(&role, request, attempt, text)
            .await
    }

    async fn record_revocation_failed(
        &self,
        role: &RoleArn,
        request: Option<RequestId>,
        attempt: u32,
        problem: String,
    ) -> Result<(), Error> {
        let event = AuditEvent::from(RevocationFailed {
            role_arn: role.clone(),
            request,
            attempt,
            problem,
        });
        self.record_system_event(event).await
    }

    /// The roles that have revocation entries (the worker's upkeep, role by role).
    pub async fn revocation_roles(&self) -> Result<Vec<RoleArn>, Error> {
        let entries = self.store().revocations(None).await?;
        let roles: std::collections::BTreeSet<RoleArn> =
            entries.into_iter().map(|e| e.role_arn).collect();
        Ok(roles.into_iter().collect())
    }

    /// Revokes, as administrator `caller`, every approved or active request of `requester`
    /// (cutting off their live sessions as [`App::revoke`] does): what disabling an account
    /// must do to the AWS access it already holds, since its credentials and console
    /// sessions outlive its broker tokens. Returns the requests revoked and those that could
    /// not be (with why).
    pub async fn revoke_grants_of(
        &self,
        caller: &Caller,
        requester: &Username,
        reason: &str,
    ) -> Result<(Vec<RequestId>, Vec<(RequestId, String)>), Error> {
        caller.require_admin()?;
        let filter = RequestFilter {
            statuses: vec!["approved".to_owned(), "active".to_owned()],
            requester: Some(requester.clone()),
            limit: Some(RECONCILE_LIMIT),
            ..RequestFilter::default()
        };
        let mut revoked = Vec::new();
        let mut failed = Vec::new();
        for r in self.store().requests(&filter).await? {
            let id = r.value.id;
            match self.revoke(caller, &id, reason).await {
                Ok(_) => revoked.push(id),
                Err(e) => failed.push((id, e.to_string())),
            }
        }
        Ok((revoked, failed))
    }

    /// Adds the revocation entry of a revoked request's grant and rewrites its role's policy.
    async fn cut_off(&self, r: &AccessRequest) -> Result<Option<RevocationEntry>, CutOffFailure> {
        let Some(grant) = &r.grant else {
            return Ok(None);
        };
        let Some(last) = grant.issued.iter().map(|s| s.expires_at).max() else {
            return Ok(None);
        };
        let role = &r.spec.role_arn;
        let role_id = self.cloud.role_id(role).await?;
        let chained_end = self.now() + CHAINED_SESSION_LIMIT;
        let entry = RevocationEntry {
            role_arn: role.clone(),
            role_id,
            grant: grant.id.clone(),
            session_end: last.max(chained_end) + ENTRY_MARGIN,
        };
        self.store().add_revocation(&entry).await?;
        self.sync_role(role).await?;
        self.sync_organization()
            .await
            .map_err(CutOffFailure::Organization)?;
        Ok(Some(entry))
    }

    /// Rewrites the organisation's revoked-responders Service Control Policy
    /// (`revocation::ORGANIZATION_POLICY`) from the stored revocation entries: every
    /// responder with a revoked grant whose sessions may still be live is denied by
    /// `aws:SourceIdentity` in every member account. `Ok(None)` when the broker keeps no such
    /// policy (no management account configured). Read back after every write, like a
    /// role's policy.
    ///
    /// Serialized like [`App::sync_role`]: one writer at a time holds
    /// [`ORGANIZATION_SYNC_LEASE`]; after its write it reads the entries again and writes
    /// again if they changed meanwhile, so an entry added while it wrote is not lost. A
    /// caller that finds the lease held gets [`OrganizationSync::deferred`]; the holder
    /// re-reads after writing, and the worker rewrites the policy every pass.
    pub async fn sync_organization(&self) -> Result<Option<OrganizationSync>, Error> {
        if !self.cloud.keeps_organization_policy() {
            return Ok(None);
        }
        let store = self.store();
        let holder = format!("sync-{}", self.broker.ids().request_id());
        let deferred = OrganizationSync {
            responders: 0,
            changed: false,
            deferred: true,
        };
        let mut changed = false;
        for _ in 0..MAX_SYNC_ROUNDS {
            let now = self.now();
            if !store
                .take_lease(ORGANIZATION_SYNC_LEASE, &holder, now, now + ROLE_SYNC_LEASE)
                .await?
            {
                return Ok(Some(deferred));
            }
            let written = self.write_organization_policy().await;
            let (wanted, responders, wrote) = match written {
                Ok(Some(w)) => w,
                Ok(None) => {
                    store
                        .release_lease(ORGANIZATION_SYNC_LEASE, &holder)
                        .await?;
                    return Ok(None);
                }
                Err(e) => {
                    store
                        .release_lease(ORGANIZATION_SYNC_LEASE, &holder)
                        .await?;
                    return Err(e);
                }
            };
            changed |= wrote;
            // Released first, then the entries read again: an entry added before this read
            // is seen here (and written by another round); one added after it finds the lease
            // free and its revoker writes it. Either way none is lost to a deferral.
            store
                .release_lease(ORGANIZATION_SYNC_LEASE, &holder)
                .await?;
            let (now_wanted, _) = self.organization_document().await?;
            if same_json(&now_wanted, &wanted) {
                self.cut_offs.held(&CutOffTarget::Organization);
                return Ok(Some(OrganizationSync {
                    responders,
                    changed,
                    deferred: false,
                }));
            }
        }
        Ok(Some(deferred))
    }

    /// The organisation policy the stored entries call for, and how many responders it
    /// denies: the requester (the sessions' `SourceIdentity`) of every revoked grant whose
    /// entry is still live.
    async fn organization_document(&self) -> Result<(String, usize), Error> {
        let store = self.store();
        let (kept, _) = revocation::prune(store.revocations(None).await?, self.now());
        let mut responders = std::collections::BTreeSet::new();
        let mut seen = std::collections::HashSet::new();
        for entry in kept {
            if !seen.insert(entry.grant.clone()) {
                continue;
            }
            let Some(r) = store.get_by_grant(&entry.grant).await? else {
                return Err(Error::NotFound(format!(
                    "revocation entry for grant `{}` has no request",
                    entry.grant
                )));
            };
            responders.insert(r.value.spec.requester.to_string());
        }
        let doc = revocation::organization_deny_document(responders.iter().map(String::as_str))?;
        Ok((doc, responders.len()))
    }

    /// One read-compute-write-verify of the organisation policy: the document wanted, how
    /// many responders it denies, and whether it was written; `None` when none is kept.
    async fn write_organization_policy(&self) -> Result<Option<(String, usize, bool)>, Error> {
        let Some(current) = self.cloud.organization_policy().await? else {
            return Ok(None);
        };
        let (wanted, responders) = self.organization_document().await?;
        if same_json(&wanted, &current) {
            return Ok(Some((wanted, responders, false)));
        }
        self.cloud.put_organization_policy(&wanted).await?;
        let read_back = self.cloud.organization_policy().await?;
        if !same_policy(Some(wanted.as_str()), read_back.as_deref()) {
            return Err(Error::OrganizationPolicyUnverified);
        }
        Ok(Some((wanted, responders, true)))
    }

    /// Rewrites role `role`'s `BreakglassRevocations` policy from the stored entries: entries
    /// whose sessions have ended are pruned (from the store only after the policy no longer
    /// needs them), and the policy is deleted when none is left. Writes only when the
    /// document on the role differs, and reads it back after every write: a write that did
    /// not hold is an error ([`Error::CutOffUnverified`]).
    ///
    /// One writer per role at a time, across tasks and replicas: the writer holds the role's
    /// lease in the store and gives it up only if no entry was added since it read the
    /// entries (the role's generation, moved in each entry's own transaction); otherwise it
    /// writes again. A caller that finds the lease held returns at once with
    /// [`RoleSync::deferred`]: the holder cannot give the lease up without writing the
    /// caller's entry. So a stale document never overwrites a newer one for good.
    pub async fn sync_role(&self, role: &RoleArn) -> Result<RoleSync, Error> {
        let store = self.store();
        let lease = format!("{ROLE_SYNC_LEASE_PREFIX}{role}");
        let holder = format!("sync-{}", self.broker.ids().request_id());
        for _ in 0..MAX_SYNC_ROUNDS {
            let now = self.now();
            if !store
                .take_lease(&lease, &holder, now, now + ROLE_SYNC_LEASE)
                .await?
            {
                return Ok(RoleSync {
                    role_arn: role.clone(),
                    entries: 0,
                    pruned: 0,
                    changed: false,
                    deferred: true,
                });
            }
            let generation = store.revocation_generation(role).await?;
            let synced = match self.write_role_policy(role).await {
                Ok(synced) => synced,
                Err(e) => {
                    // Give the role up to the next try (worker or another caller) at once.
                    store.release_lease(&lease, &holder).await?;
                    return Err(e);
                }
            };
            if store
                .release_role_sync(&lease, &holder, role, generation)
                .await?
            {
                self.cut_offs.held(&CutOffTarget::Role(role.clone()));
                return Ok(synced);
            }
        }
        // Entries keep arriving: leave the rest to the lease's next holder (the worker's
        // next pass at the latest) rather than hold the role forever.
        store.release_lease(&lease, &holder).await?;
        Ok(RoleSync {
            role_arn: role.clone(),
            entries: 0,
            pruned: 0,
            changed: false,
            deferred: true,
        })
    }

    /// One read-compute-write-verify of role `role`'s policy (see [`App::sync_role`], which
    /// holds the role's lease around it).
    async fn write_role_policy(&self, role: &RoleArn) -> Result<RoleSync, Error> {
        let store = self.store();
        let entries = store.revocations(Some(role)).await?;
        let (kept, gone) = revocation::prune(entries, self.now());
        let name = role.name();
        let wanted = revocation::deny_document(role, &kept)?;
        let current = self.cloud.inline_policy(role, REVOCATIONS_POLICY).await?;
        let same = same_policy(wanted.as_deref(), current.as_deref());
        if !same {
            match &wanted {
                Some(doc) => {
                    let others = self.other_inline_policies(role, REVOCATIONS_POLICY).await?;
                    revocation::check_role_quota(
                        REVOCATIONS_POLICY,
                        name.as_str(),
                        doc,
                        others.iter().map(String::as_str),
                    )?;
                    self.cloud
                        .put_inline_policy(role, REVOCATIONS_POLICY, doc)
                        .await?;
                }
                None => {
                    self.cloud
                        .delete_inline_policy(role, REVOCATIONS_POLICY)
                        .await?;
                }
            }
            let read_back = self.cloud.inline_policy(role, REVOCATIONS_POLICY).await?;
            if !same_policy(wanted.as_deref(), read_back.as_deref()) {
                return Err(Error::CutOffUnverified {
                    role: role.clone(),
                    policy: REVOCATIONS_POLICY,
                });
            }
        }
        store.remove_revocations(&gone).await?;
        Ok(RoleSync {
            role_arn: role.clone(),
            entries: kept.len(),
            pruned: gone.len(),
            changed: !same,
            deferred: false,
        })
    }

    /// Rewrites every role that has revocation entries (see [`App::sync_role`]). A role
    /// that fails does not stop the others; its error is returned beside them.
    pub async fn sync_all(&self) -> Result<Vec<Result<RoleSync, (RoleArn, String)>>, Error> {
        let entries = self.store().revocations(None).await?;
        let roles: BTreeMap<RoleArn, ()> = entries.into_iter().map(|e| (e.role_arn, ())).collect();
        let mut out = Vec::with_capacity(roles.len());
        for role in roles.into_keys() {
            out.push(
                self.sync_role(&role)
                    .await
                    .map_err(|e| (role.clone(), e.to_string())),
            );
        }
        Ok(out)
    }

    /// Restores the revocation entries of revoked grants whose sessions may still be live
    /// but which have no entry: the broker stopped between committing a revocation and
    /// recording its entry, or the entry could not be written then (e.g. the role could not
    /// be read); a request that still fails is audited as `revocation_failed`. One request
    /// that fails does not stop the others: returns the requests whose entries were restored (their
    /// roles' policies rewritten) and those that failed, with why.
    pub async fn reconcile(&self) -> Result<Reconciled, Error> {
        let store = self.store();
        let have: std::collections::HashSet<_> = store
            .revocations(None)
            .await?
            .into_iter()
            .map(|e| (e.role_arn, e.grant))
            .collect();
        let filter = RequestFilter {
            statuses: vec!["revoked".to_owned()],
            limit: Some(RECONCILE_LIMIT),
            ..RequestFilter::default()
        };
        let now = self.now();
        let mut restored = Vec::new();
        let mut failed = Vec::new();
        for r in store.requests(&filter).await? {
            let r = r.value;
            let Some(grant) = &r.grant else { continue };
            let Some(last) = grant.issued.iter().map(|s| s.expires_at).max() else {
                continue;
            };
            if last + ENTRY_MARGIN <= now
                || have.contains(&(r.spec.role_arn.clone(), grant.id.clone()))
            {
                continue;
            }
            match self.cut_off(&r).await {
                Ok(_) => restored.push(r.id),
                Err(failure) => {
                    // Still failing: audited against the policy that failed, and paged on
                    // the 1st, 2nd, 4th... failure in a row of it (the count the failed
                    // cut-offs keep).
                    let role = &r.spec.role_arn;
                    let e = match failure {
                        CutOffFailure::Role(e) => {
                            let target = CutOffTarget::Role(role.clone());
                            let attempt = self.cut_offs.attempts(&target).saturating_add(1);
                            let _ = self
                                .revocation_failed(role, Some(r.id.clone()), attempt, &e)
                                .await;
                            e
                        }
                        CutOffFailure::Organization(e) => {
                            let target = CutOffTarget::Organization;
                            let attempt = self.cut_offs.attempts(&target).saturating_add(1);
                            let _ = self
                                .organization_policy_failed(attempt, &e, Some((role, r.id.clone())))
                                .await;
                            e
                        }
                    };
                    failed.push((r.id, e.to_string()));
                }
            }
        }
        Ok(Reconciled { restored, failed })
    }

    /// The texts of role `role`'s inline policies other than `except`.
    async fn other_inline_policies(
        &self,
        role: &RoleArn,
        except: &str,
    ) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for policy in self.cloud.inline_policy_names(role).await? {
            if policy == except {
                continue;
            }
            if let Some(text) = self.cloud.inline_policy(role, &policy).await? {
                out.push(text);
            }
        }
        Ok(out)
    }

    /// Cuts off every session of role `role`, brokered or not: every live grant of the role
    /// is revoked first (so none mints again), then the clock is read and
    /// `AWSRevokeOlderSessions` is written with that cutoff, then the action is audited.
    /// An administrator's use case: anyone else is refused; the administrator revokes each
    /// grant as one.
    pub async fn revoke_all(
        &self,
        caller: &Caller,
        role: &RoleArn,
        reason: &str,
        step_up: StepUp,
    ) -> Result<RevokedAll, Error> {
        caller.require_admin()?;
        caller.require_full_access()?;
        // Only a role the broker deploys: `AWSRevokeOlderSessions` on any other role would be
        // the broker writing where it was never meant to (and the revoker role may not).
        if !self.rules().catalog().roles.iter().any(|r| &r.arn == role) {
            return Err(Error::NotFound(format!(
                "role `{role}` is not one of the catalog's roles"
            )));
        }
        let purpose = revoke_all_purpose(role);
        super::requests::own_step_up(caller, &step_up, &purpose)?;
        let actor = caller.username.clone();
        let store = self.store();
        // The administrator's step-up is spent first, on its own: a mass revocation that has
        // begun is not undone when a replayed code is found at its end.
        let spend = Commit {
            write: None,
            audit: vec![AuditEntry {
                at: self.now(),
                actor: Actor::User(actor.clone()),
                request_version: None,
                event: step_up.verified_event(),
            }],
            outbox: Vec::new(),
            step_up: Some(step_up.clone()),
        };
        match store.commit(spend).await {
            Ok(_) => {}
            Err(crate::ports::StoreError::StepUpUsed(_)) => {
                return Err(self.replayed(caller, &step_up).await);
            }
            Err(e) => return Err(e.into()),
        }
        let filter = RequestFilter {
            statuses: vec!["approved".to_owned(), "active".to_owned()],
            role: Some(role.clone()),
            limit: Some(RECONCILE_LIMIT),
            ..RequestFilter::default()
        };
        let mut revoked = Vec::new();
        let mut revoked_requests = Vec::new();
        let mut failed: Vec<(RequestId, String)> = Vec::new();
        // Page by page: each revocation takes its request out of the filter, so the loop
        // ends when a page holds nothing but requests that failed to revoke.
        loop {
            let mut progressed = false;
            for r in store.requests(&filter).await? {
                let r = r.value;
                if &r.spec.role_arn != role
                    || r.status.is_final()
                    || failed.iter().any(|(id, _)| *id == r.id)
                {
                    continue;
                }
                match self
                    .broker
                    .revoke_as(&r.id, actor.clone(), true, reason)
                    .await
                {
                    Ok(outcome) => {
                        revoked.push(r.id);
                        revoked_requests.push(outcome.request);
                    }
                    Err(e) => failed.push((r.id, e.to_string())),
                }
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        // The cutoff is read now, after every grant of the role stopped minting.
        let cutoff = self.now();
        let name = role.name();
        let doc = revocation::revoke_older_sessions_document(cutoff);
        let others = self
            .other_inline_policies(role, REVOKE_OLDER_SESSIONS_POLICY)
            .await?;
        revocation::check_role_quota(
            REVOKE_OLDER_SESSIONS_POLICY,
            name.as_str(),
            &doc,
            others.iter().map(String::as_str),
        )?;
        self.cloud
            .put_inline_policy(role, REVOKE_OLDER_SESSIONS_POLICY, &doc)
            .await?;
        let read_back = self
            .cloud
            .inline_policy(role, REVOKE_OLDER_SESSIONS_POLICY)
            .await?;
        if !same_policy(Some(doc.as_str()), read_back.as_deref()) {
            return Err(Error::CutOffUnverified {
                role: role.clone(),
                policy: REVOKE_OLDER_SESSIONS_POLICY,
            });
        }
        // Each grant ended here also gets its own entry: a console sign-in URL minted
        // before the cutoff opens a session after it, which `aws:TokenIssueTime` does not
        // catch but the grant's `aws:userid` entry does.
        for request in &revoked_requests {
            if let Err(failure) = self.cut_off(request).await {
                failed.push((request.id.clone(), failure.into_error().to_string()));
            }
        }
        let event = AuditEvent::from(RoleSessionsRevoked {
            role_arn: role.clone(),
            cutoff,
            by: actor.clone(),
            reason: reason.to_owned(),
        });
        let outbox = notifications(None, std::slice::from_ref(&event));
        let committed = store
            .commit(Commit {
                write: None,
                audit: vec![AuditEntry {
                    at: cutoff
                        .to_offset(time::UtcOffset::UTC)
                        .truncate_to_microsecond(),
                    actor: Actor::User(actor),
                    request_version: None,
                    event,
                }],
                outbox,
                step_up: None,
            })
            .await?;
        Ok(RevokedAll {
            role_arn: role.clone(),
            cutoff,
            revoked,
            failed,
            audit_seq: committed.audit_seqs.first().copied(),
        })
    }
}

/// Refuses anyone but the requester.
fn check_requester(r: &AccessRequest, actor: &Username) -> Result<(), Error> {
    if &r.spec.requester == actor {
        Ok(())
    } else {
        Err(Error::NotRequester {
            request: r.id.clone(),
            requester: r.spec.requester.clone(),
            actor: actor.clone(),
        })
    }
}

/// Whether a wanted policy and the one found are the same (both absent, or the same JSON).
fn same_policy(wanted: Option<&str>, found: Option<&str>) -> bool {
    match (wanted, found) {
        (Some(w), Some(f)) => same_json(w, f),
        (None, None) => true,
        _ => false,
    }
}

/// Whether two policy texts are the same JSON (IAM may reformat what it stores).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
