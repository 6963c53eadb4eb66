//! Operations shared by the JSON handlers and the web console, so both surfaces apply the
//! same rules: the TOTP step-up before an approval or a break-glass activation, finding a
//! grant's request, listing requests, verifying the audit chain.

use axum::http::StatusCode;
use breakglass_core::audit::ChainVerifier;
use breakglass_core::broker::{BrokerError, Outcome};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::cloud::Cloud;
use breakglass_core::model::{
    AccountId, GrantId, IdError, IncidentId, PlaybookId, RequestId, RoleName,
};
use breakglass_core::ports::{Store, StoreError, Versioned};
use breakglass_core::request::{AccessRequest, NewRequest};
use breakglass_core::rules::{Action, Rules};
use breakglass_core::session::RequestFilter;
use breakglass_store::ListedRequest;
use time::Duration;

use super::{AppError, AppState};
use crate::auth::{MAX_TOKEN_TTL, Principal};

/// A store failure as the client sees it: unavailable, with a correlation id.
pub fn unavailable(e: StoreError) -> AppError {
    AppError::internal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &e)
}

/// Parses an id of `kind` (named in the error).
pub fn id<T>(
    kind: &str,
    value: &str,
    make: impl FnOnce(String) -> Result<T, IdError>,
) -> Result<T, AppError> {
    make(value.to_owned()).map_err(|e| AppError::bad_request(format!("invalid {kind}: {e}")))
}

/// A token lifetime in hours, range-checked before it becomes a `Duration` (which would
/// overflow on absurd values).
pub fn ttl(hours: Option<i64>) -> Result<Option<Duration>, AppError> {
    match hours {
        None => Ok(None),
        Some(h) if (1..=MAX_TOKEN_TTL.whole_hours()).contains(&h) => Ok(Some(Duration::hours(h))),
        Some(h) => Err(AppError::bad_request(format!(
            "`ttl_hours` is {h}; a token lives 1 to {} hours ({} days)",
            MAX_TOKEN_TTL.whole_hours(),
            MAX_TOKEN_TTL.whole_days()
        ))),
    }
}

/// What a requester asks for, as text from a form or a JSON body.
pub struct Ask<'a> {
    /// The playbook id.
    pub playbook: &'a str,
    /// The role name.
    pub role: &'a str,
    /// The account id.
    pub account: &'a str,
    /// The total duration.
    pub duration: Duration,
    /// The incident id.
    pub incident: &'a str,
    /// Why.
    pub justification: &'a str,
}

/// The request `p` asks for with `ask`, every id validated.
pub fn new_request(p: &Principal, ask: &Ask<'_>) -> Result<NewRequest, AppError> {
    Ok(NewRequest {
        requester: p.username.clone(),
        playbook: id("playbook", ask.playbook, PlaybookId::new)?,
        role: id("role", ask.role, RoleName::new)?,
        account: id("account", ask.account, AccountId::new)?,
        duration: ask.duration,
        incident: id("incident", ask.incident, IncidentId::new)?,
        justification: ask.justification.to_owned(),
    })
}

/// Approves request `rid` as `p` after a TOTP step-up (`code`), bound to `digest`, the
/// version `p` reviewed. The code is checked first and spent in the approval's own commit:
/// one write transaction, and a refused approval leaves the code unused. A code spent by a
/// concurrent step-up is audited as a replay.
pub async fn approve<K: Cloud>(
    s: &AppState<K>,
    p: &Principal,
    rid: &RequestId,
    digest: Sha256Digest,
    code: &str,
    comment: String,
) -> Result<Outcome, AppError> {
    let purpose = format!("approve {rid}");
    let step_up = s.auth.check_totp_for(p, code, &purpose).await?;
    match s
        .access
        .broker()
        .approve_stepped(rid, p.username.clone(), digest, comment, step_up)
        .await
    {
        Ok(o) => Ok(o),
        Err(BrokerError::Store(StoreError::StepUpUsed(_))) => {
            Err(s.auth.replayed(&p.username, &purpose).await.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Activates emergency access for `new` after a TOTP step-up (`code`). A failed step-up is
/// still an attempt: the broker records it as a refused break-glass (and alerts), and the
/// caller gets the step-up's error. A valid code is spent in the activation's own commit.
pub async fn break_glass<K: Cloud>(
    s: &AppState<K>,
    p: &Principal,
    new: NewRequest,
    code: &str,
) -> Result<Outcome, AppError> {
    let purpose = "break-glass";
    let mut mfa = s.auth.check_totp_for(p, code, purpose).await;
    let broker = s.access.broker();
    let mut result = broker
        .activate_break_glass_stepped(new.clone(), mfa.as_ref().ok().cloned())
        .await;
    if let Err(BrokerError::Store(StoreError::StepUpUsed(_))) = &result {
        // The code was spent by a concurrent step-up: audited as a replay, and the attempt
        // goes on as one without MFA, like any other failed step-up.
        mfa = Err(s.auth.replayed(&p.username, purpose).await);
        result = broker.activate_break_glass_stepped(new, None).await;
    }
    match result {
        Ok(o) => Ok(o),
        Err(e) => match mfa {
            Err(m) => Err(m.into()),
            Ok(_) => Err(e.into()),
        },
    }
}

/// The request holding grant `gid`.
pub async fn grant_request<K: Cloud>(s: &AppState<K>, gid: &str) -> Result<RequestId, AppError> {
    let gid = id("grant id", gid, GrantId::new)?;
    match s.access.broker().store().get_by_grant(&gid).await {
        Ok(Some(v)) => Ok(v.value.id),
        Ok(None) => Err(AppError::not_found(format!("no grant `{gid}`"))),
        Err(e) => Err(unavailable(e)),
    }
}

/// Refuses anyone but an administrator.
pub fn require_admin(p: &Principal) -> Result<(), AppError> {
    if p.admin {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "`{}` is not an administrator",
            p.username
        )))
    }
}

/// Whether `p` may see request `r`: an administrator, its requester, whoever acted on it,
/// and whoever the rules let approve, revoke or review it. Others are told it does not
/// exist, so request ids do not leak who asked for what.
pub fn may_read(rules: &Rules, p: &Principal, r: &AccessRequest) -> bool {
    p.admin
        || r.spec.requester == p.username
        || r.approvals.iter().any(|a| a.approver == p.username)
        || [Action::Approve, Action::Revoke, Action::Review]
            .into_iter()
            .any(|a| r.decision_for(rules, &p.username, a).allowed)
}

/// Request `rid` if `p` may see it ([`may_read`]); otherwise not found.
pub async fn readable_request<K: Cloud>(
    s: &AppState<K>,
    p: &Principal,
    rid: &RequestId,
) -> Result<Versioned<AccessRequest>, AppError> {
    let v = s.access.broker().get(rid).await?;
    if may_read(&s.access.broker().rules(), p, &v.value) {
        Ok(v)
    } else {
        Err(AppError::not_found(format!("no request `{rid}`")))
    }
}

/// The requests matching `filter` that `p` may see, newest first, as stored. Most listings
/// are of a caller's own requests (or by an administrator): those are not decoded; the rest
/// are, for the rules to decide.
pub async fn readable_listing<K: Cloud>(
    s: &AppState<K>,
    p: &Principal,
    filter: &RequestFilter,
) -> Result<Vec<ListedRequest>, AppError> {
    let rules = s.access.broker().rules();
    let listed = s
        .access
        .broker()
        .store()
        .request_listing(filter)
        .await
        .map_err(unavailable)?;
    let mut readable = Vec::with_capacity(listed.len());
    for row in listed {
        // `may_read`'s first two tests, on the listing's columns; the rest need the request.
        if p.admin
            || row.requester == p.username.as_str()
            || may_read(&rules, p, &row.decode().map_err(unavailable)?.value)
        {
            readable.push(row);
        }
    }
    Ok(readable)
}

/// Requests matching `filter`, newest first.
pub async fn requests<K: Cloud>(
    s: &AppState<K>,
    filter: &RequestFilter,
) -> Result<Vec<Versioned<AccessRequest>>, AppError> {
    s.access
        .broker()
        .store()
        .requests(filter)
        .await
        .map_err(unavailable)
}

/// The result of verifying the audit chain from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerification {
    /// Every record links to its predecessor and the stored head matches.
    Verified {
        /// How many records.
        records: u64,
        /// The head hash, hex.
        head: String,
    },
    /// The chain is broken: what was found.
    Broken {
        /// The problem.
        problem: String,
    },
}

/// Verifies the whole audit chain, page by page, in constant memory.
pub async fn verify_audit<K: Cloud>(s: &AppState<K>) -> Result<AuditVerification, AppError> {
    let store = s.access.broker().store();
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, 1000).await.map_err(unavailable)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in &rows {
            if let Err(problem) = verifier.push(row) {
                return Ok(AuditVerification::Broken {
                    problem: problem.to_string(),
                });
            }
        }
    }
    let head = store.audit_head().await.map_err(unavailable)?;
    Ok(match verifier.finish(head) {
        Ok(v) => AuditVerification::Verified {
            records: v.records,
            head: v.head.hash.to_hex(),
        },
        Err(problem) => AuditVerification::Broken {
            problem: problem.to_string(),
        },
    })
}
