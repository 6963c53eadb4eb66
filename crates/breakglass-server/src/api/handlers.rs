//! The route handlers. Each translates: the extractors authenticate the caller and parse
//! the body and path, one call to a use case (`breakglass_core::app`) or to authentication
//! decides, and the result is rendered as JSON. No rule lives here.

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breakglass_api::{
    AcceptInvitationBody, AccountChangedView, AddUserBody, AmendBody, ApproveBody, AuditEntryView,
    AuditQuery, AuditRecords, AuditVerify, ConfirmBody, ConsoleBody, ConsoleUrl, CreateBody,
    Credentials, CredentialsBody, EnrollBody, ExtendBody, Health, InvitationAccepted, ListQuery,
    LoginBody, Me, NewToken, NewUser, OfferTarget, PasskeyAdded, PasskeyAnswer, PasskeyChallenge,
    PasskeyChallengeBody, PasskeyEnrollBody, PasskeyList, PasskeyRegisterBody, PasskeySignInBody,
    PasskeySignInFinishBody, PasskeyView, PasswordBody, PlaybookList, PlaybookOffer, ReasonBody,
    RequestView, ReviewBody, RevokeAllBody, Revoked, RevokedAll, RevokedToken, StepUpBody,
    TokenBody, TokenList, TokenView, TotpEnrolment, UserList, UserView,
};
use breakglass_core::app::{Amendment, Approving, Ask, AuditVerification, Walk, WalkError};
use breakglass_core::audit::events::AccountChange;
use breakglass_core::audit::jsonl_line;
use breakglass_core::broker::Outcome;
use breakglass_core::model::{GrantId, RequestId, RoleArn, Username};
use breakglass_core::ports::{ListedRequest, StoreError};
use breakglass_core::session::RequestFilter;
use serde_json::Value;
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::app::extract::{Admin, Body, ClientAddr, Enrolling, PathId};
use crate::app::step_up;
use crate::app::{AppError, AppState};
use crate::auth::{Answer, Principal, token_ttl};

type St = State<Arc<AppState>>;
type ApiResult = Result<Response, AppError>;

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn outcome(o: Outcome) -> ApiResult {
    Ok(Json(RequestView::new(&o.request, o.version)).into_response())
}

fn created(o: Outcome) -> ApiResult {
    let mut r = outcome(o)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

pub async fn not_found() -> AppError {
    AppError::not_found("no such route; see /openapi.json")
}

pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

pub async fn readyz(State(s): St) -> ApiResult {
    s.app.ready().await?;
    let ready = Health {
        status: "ready".to_owned(),
    };
    Ok(Json(ready).into_response())
}

pub async fn metrics(State(s): St) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

pub async fn openapi() -> Json<Value> {
    Json(super::openapi_document())
}

pub(super) fn new_token(t: &crate::auth::NewToken) -> NewToken {
    NewToken {
        token: t.secret.expose().to_owned(),
        id: t.record.id.clone(),
        name: t.record.name.clone(),
        expires_at: rfc3339(t.record.expires_at),
    }
}

pub async fn login(State(s): St, client: ClientAddr, Body(b): Body<LoginBody>) -> ApiResult {
    let address = client.to_string();
    let name = b.token_name.as_deref().unwrap_or("cli");
    let ttl = token_ttl(b.ttl_hours)?;
    let token = s
        .auth
        .login_with_totp(
            &b.username,
            &b.password,
            b.totp.as_deref(),
            &address,
            name,
            ttl,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(new_token(&token))).into_response())
}

pub async fn me(Enrolling(p): Enrolling) -> Json<Me> {
    Json(Me {
        username: p.username.to_string(),
        admin: p.admin,
        token: p.token,
        second_factor: p.second_factor,
    })
}

pub async fn users(State(s): St, _: Admin) -> ApiResult {
    let users = s
        .auth
        .users()
        .await?
        .into_iter()
        .map(|u| UserView {
            totp_enrolled: u.totp_seed.is_some(),
            disabled: u.disabled_at.is_some(),
            created_at: rfc3339(u.created_at),
            username: u.username,
            admin: u.admin,
        })
        .collect();
    Ok(Json(UserList { users }).into_response())
}

pub async fn add_user(
    State(s): St,
    Admin(p): Admin,
    headers: HeaderMap,
    Body(b): Body<AddUserBody>,
) -> ApiResult {
    let i = s
        .auth
        .invite(&p, &b.username, b.admin, Answer::Totp(&b.totp))
        .await?;
    let body = NewUser {
        invitation_url: invitation_url(&s, &headers, &i),
        expires_at: rfc3339(i.expires_at),
        username: i.username.to_string(),
        admin: i.admin,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn accept_invitation(State(s): St, Body(b): Body<AcceptInvitationBody>) -> ApiResult {
    let who = s.auth.accept_invitation(&b.invitation, &b.password).await?;
    Ok(Json(InvitationAccepted {
        username: who.to_string(),
    })
    .into_response())
}

fn invitation_url(s: &AppState, headers: &HeaderMap, i: &crate::auth::Invitation) -> String {
    format!(
        "{}/console/invitations/{}",
        s.console.server_url(headers),
        i.secret.expose()
    )
}

async fn administer(
    s: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    user: &str,
    change: AccountChange,
    b: &StepUpBody,
) -> ApiResult {
    let answer = Answer::of(&b.totp, b.passkey.as_ref());
    let done = step_up::administer(s, p, user, change, answer).await?;
    Ok(Json(AccountChangedView {
        username: user.to_owned(),
        change: change.as_str().to_owned(),
        invitation_url: done
            .invitation
            .as_ref()
            .map(|i| invitation_url(s, headers, i)),
        revoked: done.revoked.iter().map(ToString::to_string).collect(),
    })
    .into_response())
}

pub async fn disable_user(
    State(s): St,
    Admin(p): Admin,
    headers: HeaderMap,
    Path(user): Path<String>,
    Body(b): Body<StepUpBody>,
) -> ApiResult {
    administer(&s, &p, &headers, &user, AccountChange::Disabled, &b).await
}

pub async fn enable_user(
    State(s): St,
    Admin(p): Admin,
    headers: HeaderMap,
    Path(user): Path<String>,
    Body(b): Body<StepUpBody>,
) -> ApiResult {
    administer(&s, &p, &headers, &user, AccountChange::Enabled, &b).await
}

pub async fn revoke_user_tokens(
    State(s): St,
    Admin(p): Admin,
    headers: HeaderMap,
    Path(user): Path<String>,
    Body(b): Body<StepUpBody>,
) -> ApiResult {
    administer(&s, &p, &headers, &user, AccountChange::TokensRevoked, &b).await
}

pub async fn reset_second_factor(
    State(s): St,
    Admin(p): Admin,
    headers: HeaderMap,
    Path(user): Path<String>,
    Body(b): Body<StepUpBody>,
) -> ApiResult {
    administer(
        &s,
        &p,
        &headers,
        &user,
        AccountChange::SecondFactorReset,
        &b,
    )
    .await
}

pub async fn change_password(
    State(s): St,
    p: Principal,
    client: ClientAddr,
    Body(b): Body<PasswordBody>,
) -> ApiResult {
    let address = client.to_string();
    s.auth
        .change_password(
            &p,
            &b.old_password,
            &b.new_password,
            Answer::of(&b.totp, b.passkey.as_ref()),
            &address,
        )
        .await?;
    Ok(Json(AccountChangedView {
        username: p.username.to_string(),
        change: AccountChange::PasswordChanged.as_str().to_owned(),
        invitation_url: None,
        revoked: Vec::new(),
    })
    .into_response())
}

pub async fn tokens(State(s): St, Enrolling(p): Enrolling) -> ApiResult {
    let tokens = s
        .auth
        .tokens(&p.username)
        .await?
        .into_iter()
        .map(|t| TokenView {
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
            revoked_at: t.revoked_at.map(rfc3339),
            id: t.id,
            name: t.name,
        })
        .collect();
    Ok(Json(TokenList { tokens }).into_response())
}

pub async fn create_token(State(s): St, p: Principal, Body(b): Body<TokenBody>) -> ApiResult {
    let ttl = token_ttl(b.ttl_hours)?;
    let t = s.auth.create_token(&p, &b.name, ttl).await?;
    Ok((StatusCode::CREATED, Json(new_token(&t))).into_response())
}

pub async fn revoke_token(
    State(s): St,
    Enrolling(p): Enrolling,
    Path(token): Path<String>,
) -> ApiResult {
    s.auth
        .revoke_token(&p.username, &token, &p.username)
        .await?;
    Ok(Json(RevokedToken { revoked: token }).into_response())
}

pub async fn enroll_totp(
    State(s): St,
    Enrolling(p): Enrolling,
    client: ClientAddr,
    Body(b): Body<EnrollBody>,
) -> ApiResult {
    let address = client.to_string();
    let e = s
        .auth
        .enroll_totp(
            &p,
            b.password.as_deref(),
            current_answer(b.current_code.as_deref(), b.passkey.as_ref()),
            &address,
        )
        .await?;
    let body = TotpEnrolment {
        secret: e.secret.expose().to_owned(),
        otpauth_uri: e.uri.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn confirm_totp(
    State(s): St,
    Enrolling(p): Enrolling,
    Body(b): Body<ConfirmBody>,
) -> ApiResult {
    let name = b.token_name.as_deref().unwrap_or("cli");
    let token = s.auth.confirm_totp(&p, &b.code, name).await?;
    Ok((StatusCode::CREATED, Json(new_token(&token))).into_response())
}

/// The step-up an enrolment body carries, if any.
fn current_answer<'a>(
    code: Option<&'a str>,
    passkey: Option<&'a PasskeyAnswer>,
) -> Option<Answer<'a>> {
    match (code, passkey) {
        (_, Some(p)) => Some(Answer::Passkey(p)),
        (Some(c), None) => Some(Answer::Totp(c)),
        (None, None) => None,
    }
}

fn challenge(c: crate::auth::Challenge) -> Response {
    (
        StatusCode::CREATED,
        Json(PasskeyChallenge {
            ceremony: c.ceremony,
            public_key: c.options,
        }),
    )
        .into_response()
}

async fn passkey_list(s: &AppState, who: &Username) -> Result<PasskeyList, AppError> {
    let passkeys = s
        .auth
        .passkeys(who)
        .await?
        .into_iter()
        .map(|k| PasskeyView {
            id: k.id,
            name: k.name,
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
        })
        .collect();
    Ok(PasskeyList { passkeys })
}

pub async fn passkeys(State(s): St, Enrolling(p): Enrolling) -> ApiResult {
    Ok(Json(passkey_list(&s, &p.username).await?).into_response())
}

pub async fn start_passkey_enrolment(
    State(s): St,
    Enrolling(p): Enrolling,
    client: ClientAddr,
    Body(b): Body<PasskeyEnrollBody>,
) -> ApiResult {
    let address = client.to_string();
    Ok(challenge(
        s.auth
            .start_passkey_enrolment(
                &p,
                &b.password,
                current_answer(b.current_code.as_deref(), b.passkey.as_ref()),
                &address,
            )
            .await?,
    ))
}

pub async fn finish_passkey_enrolment(
    State(s): St,
    Enrolling(p): Enrolling,
    Body(b): Body<PasskeyRegisterBody>,
) -> ApiResult {
    let (k, token) = s
        .auth
        .finish_passkey_enrolment(&p, &b.ceremony, &b.name, &b.credential)
        .await?;
    let body = PasskeyAdded {
        passkey: PasskeyView {
            id: k.id,
            name: k.name,
            created_at: rfc3339(k.created_at),
            last_used_at: None,
        },
        token: token.as_ref().map(new_token),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn remove_passkey(
    State(s): St,
    p: Principal,
    Path(id): Path<String>,
    Body(b): Body<StepUpBody>,
) -> ApiResult {
    s.auth
        .remove_passkey(&p, &id, Answer::of(&b.totp, b.passkey.as_ref()))
        .await?;
    Ok(Json(passkey_list(&s, &p.username).await?).into_response())
}

pub async fn passkey_challenge(
    State(s): St,
    p: Principal,
    Body(b): Body<PasskeyChallengeBody>,
) -> ApiResult {
    Ok(challenge(
        s.auth.start_passkey_step_up(&p, &b.purpose).await?,
    ))
}

pub async fn start_passkey_sign_in(
    State(s): St,
    client: ClientAddr,
    Body(b): Body<PasskeySignInBody>,
) -> ApiResult {
    let address = client.to_string();
    Ok(challenge(
        s.auth
            .start_passkey_sign_in(&b.username, &b.password, &address)
            .await?,
    ))
}

pub async fn finish_passkey_sign_in(
    State(s): St,
    client: ClientAddr,
    Body(b): Body<PasskeySignInFinishBody>,
) -> ApiResult {
    let address = client.to_string();
    let name = b.token_name.as_deref().unwrap_or("cli");
    let ttl = token_ttl(b.ttl_hours)?;
    let answer = PasskeyAnswer {
        ceremony: b.ceremony,
        credential: b.credential,
    };
    let token = s
        .auth
        .finish_passkey_sign_in(&answer, &address, name, ttl)
        .await?;
    Ok((StatusCode::CREATED, Json(new_token(&token))).into_response())
}

/// `GET /api/v1/playbooks`: what the caller may ask for (`App::playbooks`), on the wire.
pub async fn playbooks(State(s): St, p: Principal) -> Json<PlaybookList> {
    let playbooks = s
        .app
        .playbooks(&p.caller())
        .into_iter()
        .map(|o| PlaybookOffer {
            id: o.playbook.id.to_string(),
            title: o.playbook.title,
            max_duration_seconds: o.playbook.max_duration.whole_seconds(),
            required_approvals: o.playbook.approval.required,
            approver_groups: o
                .playbook
                .approval
                .from_groups
                .iter()
                .map(ToString::to_string)
                .collect(),
            step_up: o.playbook.step_up,
            targets: o
                .targets
                .into_iter()
                .map(|t| OfferTarget {
                    role: t.role.to_string(),
                    account_id: t.account.to_string(),
                    account_name: t.account_name,
                    request_max_seconds: t.request.map(|d| d.whole_seconds()),
                    break_glass_max_seconds: t.break_glass.map(|d| d.whole_seconds()),
                })
                .collect(),
        })
        .collect();
    Json(PlaybookList { playbooks })
}

pub async fn list_requests(State(s): St, p: Principal, Query(q): Query<ListQuery>) -> ApiResult {
    let requester = match q.requester {
        Some(r) => Some(
            Username::new(r)
                .map_err(|e| AppError::bad_request(format!("invalid requester: {e}")))?,
        ),
        None => None,
    };
    let filter = RequestFilter {
        statuses: q
            .status
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        requester,
        limit: Some(q.limit.unwrap_or(100).min(1000)),
        ..RequestFilter::default()
    };
    let list = s.app.listing(&p.caller(), &filter).await?;
    let mut body = Vec::with_capacity(list.iter().map(|r| r.doc.len() + 48).sum::<usize>() + 16);
    body.extend_from_slice(b"{\"requests\":[");
    for (i, row) in list.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        write_listed(&mut body, row)?;
    }
    body.extend_from_slice(b"]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Writes `row` as the API shows a request (what [`RequestView`] serializes) without
/// decoding it: its stored document, which is the request as this build serializes it, with
/// `version` and `status_name` added at the end.
fn write_listed(out: &mut Vec<u8>, row: &ListedRequest) -> Result<(), AppError> {
    let corrupt = |m: String| AppError::unavailable(&StoreError::Corrupt(m));
    let fields = row
        .doc
        .strip_prefix('{')
        .and_then(|d| d.strip_suffix('}'))
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| {
            corrupt(format!(
                "request `{}` is not stored as a JSON object",
                row.id
            ))
        })?;
    out.push(b'{');
    out.extend_from_slice(fields.as_bytes());
    out.extend_from_slice(b",\"version\":");
    serde_json::to_writer(&mut *out, &row.version).map_err(|e| corrupt(e.to_string()))?;
    out.extend_from_slice(b",\"status_name\":");
    serde_json::to_writer(&mut *out, &row.status).map_err(|e| corrupt(e.to_string()))?;
    out.push(b'}');
    Ok(())
}

fn ask(b: &CreateBody) -> Ask<'_> {
    Ask {
        playbook: &b.playbook,
        role: &b.role,
        account: &b.account,
        duration: Duration::seconds(b.duration_seconds),
        incident: &b.incident,
        justification: &b.justification,
    }
}

pub async fn create_request(State(s): St, p: Principal, Body(b): Body<CreateBody>) -> ApiResult {
    let narrowed = b.session_policy.as_deref();
    created(
        s.app
            .submit_narrowed(&p.caller(), &ask(&b), narrowed)
            .await?,
    )
}

pub async fn amend(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<AmendBody>,
) -> ApiResult {
    let change = Amendment {
        duration: b.duration_seconds.map(Duration::seconds),
        incident: b.incident,
        justification: b.justification,
        session_policy: b.session_policy,
    };
    outcome(s.app.amend(&p.caller(), &rid, change).await?)
}

pub async fn permissions(State(s): St, p: Principal, PathId(rid): PathId<RequestId>) -> ApiResult {
    Ok(Json(s.app.permissions(&p.caller(), &rid).await?).into_response())
}

pub async fn get_request(State(s): St, p: Principal, PathId(rid): PathId<RequestId>) -> ApiResult {
    let v = s.app.request(&p.caller(), &rid).await?;
    Ok(Json(RequestView::new(&v.value, v.version)).into_response())
}

pub async fn get_grant(State(s): St, p: Principal, PathId(gid): PathId<GrantId>) -> ApiResult {
    let v = s.app.grant(&p.caller(), &gid).await?;
    Ok(Json(RequestView::new(&v.value, v.version)).into_response())
}

pub async fn approve(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ApproveBody>,
) -> ApiResult {
    let subject = Approving::Request;
    let answer = Answer::of(&b.totp, b.passkey.as_ref());
    outcome(step_up::approve(&s, &p, &rid, subject, &b.digest, answer, b.comment).await?)
}

pub async fn approve_extension(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ApproveBody>,
) -> ApiResult {
    let subject = Approving::Extension;
    let answer = Answer::of(&b.totp, b.passkey.as_ref());
    outcome(step_up::approve(&s, &p, &rid, subject, &b.digest, answer, b.comment).await?)
}

pub async fn deny(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ReasonBody>,
) -> ApiResult {
    outcome(s.app.deny(&p.caller(), &rid, &b.reason).await?)
}

pub async fn deny_extension(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ReasonBody>,
) -> ApiResult {
    outcome(s.app.deny_extension(&p.caller(), &rid, &b.reason).await?)
}

pub async fn cancel(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ReasonBody>,
) -> ApiResult {
    outcome(s.app.cancel(&p.caller(), &rid, &b.reason).await?)
}

pub async fn extend(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ExtendBody>,
) -> ApiResult {
    let add = Duration::seconds(b.add_seconds);
    outcome(
        s.app
            .extend(&p.caller(), &rid, add, &b.justification)
            .await?,
    )
}

pub async fn activate(State(s): St, p: Principal, PathId(rid): PathId<RequestId>) -> ApiResult {
    outcome(s.app.activate(&p.caller(), &rid).await?)
}

pub async fn review(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ReviewBody>,
) -> ApiResult {
    let answer = Answer::of(&b.totp, b.passkey.as_ref());
    outcome(step_up::review(&s, &p, &rid, b.outcome, &b.notes, answer).await?)
}

pub async fn break_glass(State(s): St, p: Principal, Body(b): Body<CreateBody>) -> ApiResult {
    let answer = Answer::of(b.totp.as_deref().unwrap_or_default(), b.passkey.as_ref());
    created(step_up::break_glass(&s, &p, &ask(&b), answer).await?)
}

pub async fn credentials(
    State(s): St,
    p: Principal,
    PathId(gid): PathId<GrantId>,
    Body(b): Body<CredentialsBody>,
) -> ApiResult {
    let rid = s.app.grant_request(&gid).await?;
    let answer = Answer::of(b.totp.as_deref().unwrap_or_default(), b.passkey.as_ref());
    let c = step_up::credentials(&s, &p, &rid, answer).await?;
    // The AWS CLI's `credential_process` format.
    Ok(Json(Credentials {
        version: 1,
        secret_access_key: c.secret_access_key.expose().to_owned(),
        session_token: c.session_token.expose().to_owned(),
        expiration: rfc3339(c.expiration),
        access_key_id: c.access_key_id,
    })
    .into_response())
}

pub async fn console(
    State(s): St,
    p: Principal,
    PathId(gid): PathId<GrantId>,
    Body(b): Body<ConsoleBody>,
) -> ApiResult {
    let rid = s.app.grant_request(&gid).await?;
    let dest = b
        .destination
        .as_deref()
        .unwrap_or("https://console.aws.amazon.com/");
    let answer = Answer::of(b.totp.as_deref().unwrap_or_default(), b.passkey.as_ref());
    let url = step_up::console_url(&s, &p, &rid, dest, answer).await?;
    let url = ConsoleUrl {
        url: url.expose().to_owned(),
    };
    Ok(Json(url).into_response())
}

pub async fn revoke(
    State(s): St,
    p: Principal,
    PathId(gid): PathId<GrantId>,
    Body(b): Body<ReasonBody>,
) -> ApiResult {
    let rid = s.app.grant_request(&gid).await?;
    let r = s.app.revoke(&p.caller(), &rid, &b.reason).await?;
    Ok(Json(Revoked {
        view: RequestView::new(&r.outcome.request, r.outcome.version),
        sessions_denied: r.entry.is_some(),
    })
    .into_response())
}

pub async fn revoke_all(State(s): St, p: Principal, Body(b): Body<RevokeAllBody>) -> ApiResult {
    let role = RoleArn::new(b.role_arn)
        .map_err(|e| AppError::bad_request(format!("invalid role ARN: {e}")))?;
    let answer = Answer::of(&b.totp, b.passkey.as_ref());
    let r = step_up::revoke_all(&s, &p, &role, &b.reason, answer).await?;
    if !r.failed.is_empty() {
        // The reasons may carry store internals: logged under the correlation id only.
        let detail: Vec<String> = r
            .failed
            .iter()
            .map(|(id, e)| format!("{id}: {e}"))
            .collect();
        let ids: Vec<&str> = r.failed.iter().map(|(id, _)| id.as_str()).collect();
        let mut e = AppError::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "revoke_incomplete",
            &detail.join("; "),
        );
        e.message = format!(
            "sessions of `{}` issued before {} are cut off, but {} of its grants could not be revoked and may still mint credentials ({}); run the revoke-all again; {}",
            r.role_arn,
            rfc3339(r.cutoff),
            ids.len(),
            ids.join(", "),
            e.message
        );
        return Err(e);
    }
    Ok(Json(RevokedAll {
        role_arn: r.role_arn.to_string(),
        cutoff: rfc3339(r.cutoff),
        revoked: r.revoked.iter().map(ToString::to_string).collect(),
    })
    .into_response())
}

pub async fn audit(State(s): St, p: Principal, Query(q): Query<AuditQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(100).min(1000);
    let rows = s
        .app
        .audit_page(&p.caller(), q.after.unwrap_or(0), limit)
        .await?;
    let records = rows
        .into_iter()
        .map(|r| AuditEntryView {
            record: serde_json::from_str(&r.body).unwrap_or(Value::Null),
            seq: r.seq,
            hash: r.hash,
        })
        .collect();
    Ok(Json(AuditRecords { records }).into_response())
}

pub async fn request_activity(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
) -> ApiResult {
    Ok(Json(s.app.grant_activity(&p.caller(), &rid).await?).into_response())
}

pub async fn findings(State(s): St, p: Principal) -> ApiResult {
    let limit = breakglass_core::app::FINDINGS_PAGE;
    Ok(Json(s.app.unbrokered_use(&p.caller(), limit).await?).into_response())
}

pub async fn start_game_day(
    State(s): St,
    p: Principal,
    Body(b): Body<breakglass_api::body::StartGameDayBody>,
) -> ApiResult {
    let day = s.app.start_game_day(&p.caller(), &b.scenario).await?;
    Ok((StatusCode::CREATED, Json(day)).into_response())
}

pub async fn finish_game_day(State(s): St, p: Principal, Path(id): Path<String>) -> ApiResult {
    Ok(Json(s.app.finish_game_day(&p.caller(), &id).await?).into_response())
}

pub async fn audit_verify(State(s): St, p: Principal) -> ApiResult {
    Ok(Json(match s.app.verify_audit(&p.caller()).await? {
        AuditVerification::Verified { records, head } => AuditVerify::verified(records, head),
        AuditVerification::Broken { problem } => AuditVerify::broken(problem),
    })
    .into_response())
}

pub async fn audit_export(State(s): St, p: Principal, Query(q): Query<AuditQuery>) -> ApiResult {
    // Records are exported only after they verify against their predecessors.
    if q.after.unwrap_or(0) > 0 {
        return Err(AppError::bad_request(
            "`after` is not supported for export: the chain is verified from its start",
        ));
    }
    let max = u64::from(q.limit.unwrap_or(100_000).min(100_000));
    let mut out = String::new();
    let mut n = 0u64;
    let walked = s
        .app
        .export_audit(&p.caller(), |record, hash| {
            let line = jsonl_line(record, hash).map_err(|e| {
                AppError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e)
            })?;
            out.push_str(&line);
            out.push('\n');
            n += 1;
            Ok::<_, AppError>(if n >= max {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })
        .await;
    match walked {
        Ok(Walk::Intact { .. } | Walk::Stopped { .. }) => {}
        Ok(Walk::Broken(problem)) => {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "audit_chain_broken",
                problem,
            ));
        }
        Ok(Walk::NeedsKey(seq)) => {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "audit_chain_broken",
                format!("record #{seq} is keyed but this broker holds no audit key"),
            ));
        }
        Err(WalkError::Store(e)) => return Err(AppError::unavailable(&e)),
        Err(WalkError::Consumer(e)) => return Err(e),
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response())
}
