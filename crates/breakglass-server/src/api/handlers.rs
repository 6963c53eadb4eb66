//! The route handlers. Each translates: the extractors authenticate the caller and parse
//! the body and path, one call to a use case (`breakglass_core::app`) or to authentication
//! decides, and the result is rendered as JSON. No rule lives here.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::ExtensionRejection as ConnectInfoRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use breakglass_core::app::{
    Ask, AuditVerification, Walk, WalkError, approve_purpose, extension_purpose,
};
use breakglass_core::audit::jsonl_line;
use breakglass_core::broker::Outcome;
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::model::{GrantId, RequestId, RoleArn, Username};
use breakglass_core::ports::{ListedRequest, StoreError, Versioned};
use breakglass_core::request::{AccessRequest, ReviewOutcome};
use breakglass_core::session::RequestFilter;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::app::extract::{Admin, Body, PathId};
use crate::app::{AppError, AppState};
use crate::auth::{Principal, token_ttl};

type St = State<Arc<AppState>>;
type ApiResult = Result<Response, AppError>;

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A request as the API shows it: the request, its row version and its status's name.
/// Listings are written from the stored document ([`write_listed`]) to the same shape.
#[derive(Serialize)]
struct RequestView<'a> {
    #[serde(flatten)]
    request: &'a AccessRequest,
    version: u64,
    status_name: &'static str,
}

impl<'a> RequestView<'a> {
    fn new(v: &'a Versioned<AccessRequest>) -> Self {
        Self {
            request: &v.value,
            version: v.version,
            status_name: v.value.status.name(),
        }
    }
}

fn outcome(o: Outcome) -> ApiResult {
    let v = Versioned {
        value: o.request,
        version: o.version,
    };
    Ok(Json(RequestView::new(&v)).into_response())
}

fn created(o: Outcome) -> ApiResult {
    let mut r = outcome(o)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

pub async fn not_found() -> AppError {
    AppError::not_found("no such route; see /openapi.json")
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(s): St) -> ApiResult {
    s.app.ready().await?;
    Ok(Json(json!({"status": "ready"})).into_response())
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    token_name: Option<String>,
    #[serde(default)]
    ttl_hours: Option<i64>,
}

fn token_json(t: &crate::auth::NewToken) -> Value {
    json!({
        "token": t.secret.expose(),
        "id": t.record.id,
        "name": t.record.name,
        "expires_at": rfc3339(t.record.expires_at),
    })
}

pub async fn login(
    State(s): St,
    peer: Result<ConnectInfo<SocketAddr>, ConnectInfoRejection>,
    Body(b): Body<LoginBody>,
) -> ApiResult {
    let address = peer.map_or_else(|_| "unknown".to_owned(), |c| c.0.ip().to_string());
    let name = b.token_name.as_deref().unwrap_or("cli");
    let ttl = token_ttl(b.ttl_hours)?;
    let token = s
        .auth
        .login(&b.username, &b.password, &address, name, ttl)
        .await?;
    Ok((StatusCode::CREATED, Json(token_json(&token))).into_response())
}

pub async fn me(p: Principal) -> Json<Value> {
    Json(json!({"username": p.username, "admin": p.admin, "token": p.token}))
}

pub async fn users(State(s): St, _: Admin) -> ApiResult {
    let users: Vec<Value> = s
        .auth
        .users()
        .await?
        .iter()
        .map(|u| json!({"username": u.username, "admin": u.admin, "totp_enrolled": u.totp_seed.is_some(), "created_at": rfc3339(u.created_at)}))
        .collect();
    Ok(Json(json!({"users": users})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddUserBody {
    username: String,
    password: String,
    #[serde(default)]
    admin: bool,
}

pub async fn add_user(State(s): St, Admin(p): Admin, Body(b): Body<AddUserBody>) -> ApiResult {
    let u = s
        .auth
        .add_user(&b.username, &b.password, b.admin, Some(&p.username))
        .await?;
    let body = json!({"username": u.username, "admin": u.admin});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn tokens(State(s): St, p: Principal) -> ApiResult {
    let list: Vec<Value> = s
        .auth
        .tokens(&p.username)
        .await?
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "created_at": rfc3339(t.created_at), "expires_at": rfc3339(t.expires_at), "revoked_at": t.revoked_at.map(rfc3339)}))
        .collect();
    Ok(Json(json!({"tokens": list})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    name: String,
    #[serde(default)]
    ttl_hours: Option<i64>,
}

pub async fn create_token(State(s): St, p: Principal, Body(b): Body<TokenBody>) -> ApiResult {
    let ttl = token_ttl(b.ttl_hours)?;
    let t = s.auth.create_token(&p, &b.name, ttl).await?;
    Ok((StatusCode::CREATED, Json(token_json(&t))).into_response())
}

pub async fn revoke_token(State(s): St, p: Principal, Path(token): Path<String>) -> ApiResult {
    s.auth
        .revoke_token(&p.username, &token, &p.username)
        .await?;
    Ok(Json(json!({"revoked": token})).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    /// A current code of the enrolled authenticator, needed to replace it.
    #[serde(default)]
    current_code: Option<String>,
}

pub async fn enroll_totp(State(s): St, p: Principal, Body(b): Body<EnrollBody>) -> ApiResult {
    let e = s
        .auth
        .enroll_totp(&p.username, b.current_code.as_deref())
        .await?;
    let body = json!({"secret": e.secret.expose(), "otpauth_uri": e.uri.expose()});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    requester: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    playbook: String,
    role: String,
    account: String,
    duration_seconds: i64,
    incident: String,
    justification: String,
    #[serde(default)]
    totp: Option<String>,
}

impl CreateBody {
    fn ask(&self) -> Ask<'_> {
        Ask {
            playbook: &self.playbook,
            role: &self.role,
            account: &self.account,
            duration: Duration::seconds(self.duration_seconds),
            incident: &self.incident,
            justification: &self.justification,
        }
    }
}

pub async fn create_request(State(s): St, p: Principal, Body(b): Body<CreateBody>) -> ApiResult {
    created(s.app.submit(&p.caller(), &b.ask()).await?)
}

pub async fn get_request(State(s): St, p: Principal, PathId(rid): PathId<RequestId>) -> ApiResult {
    let v = s.app.request(&p.caller(), &rid).await?;
    Ok(Json(RequestView::new(&v)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    digest: String,
    totp: String,
    #[serde(default)]
    comment: String,
}

fn digest(text: &str) -> Result<Sha256Digest, AppError> {
    Sha256Digest::from_hex(text).map_err(|e| AppError::bad_request(format!("invalid digest: {e}")))
}

pub async fn approve(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ApproveBody>,
) -> ApiResult {
    let digest = digest(&b.digest)?;
    let step_up = s
        .auth
        .check_totp_for(&p, &b.totp, &approve_purpose(&rid))
        .await?;
    outcome(
        s.app
            .approve(&p.caller(), &rid, digest, b.comment, step_up)
            .await?,
    )
}

pub async fn approve_extension(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ApproveBody>,
) -> ApiResult {
    let digest = digest(&b.digest)?;
    let purpose = extension_purpose(&rid);
    let step_up = s.auth.check_totp_for(&p, &b.totp, &purpose).await?;
    let o = s
        .app
        .approve_extension(&p.caller(), &rid, digest, b.comment, step_up)
        .await?;
    outcome(o)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[serde(default)]
    reason: String,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    add_seconds: i64,
    justification: String,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    outcome: ReviewOutcome,
    #[serde(default)]
    notes: String,
}

pub async fn review(
    State(s): St,
    p: Principal,
    PathId(rid): PathId<RequestId>,
    Body(b): Body<ReviewBody>,
) -> ApiResult {
    outcome(s.app.review(&p.caller(), &rid, b.outcome, &b.notes).await?)
}

pub async fn break_glass(State(s): St, p: Principal, Body(b): Body<CreateBody>) -> ApiResult {
    let code = b.totp.as_deref().unwrap_or_default();
    let step_up = s
        .auth
        .check_totp_for(&p, code, s.app.break_glass_purpose())
        .await;
    created(s.app.break_glass(&p.caller(), &b.ask(), step_up).await?)
}

pub async fn credentials(State(s): St, p: Principal, PathId(gid): PathId<GrantId>) -> ApiResult {
    let rid = s.app.grant_request(&gid).await?;
    let c = s.app.credentials(&p.caller(), &rid).await?;
    // The AWS CLI's `credential_process` format.
    Ok(Json(json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key.expose(),
        "SessionToken": c.session_token.expose(),
        "Expiration": rfc3339(c.expiration),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleBody {
    #[serde(default)]
    destination: Option<String>,
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
    let url = s.app.console_url(&p.caller(), &rid, dest).await?;
    Ok(Json(json!({"url": url.expose()})).into_response())
}

pub async fn revoke(
    State(s): St,
    p: Principal,
    PathId(gid): PathId<GrantId>,
    Body(b): Body<ReasonBody>,
) -> ApiResult {
    let rid = s.app.grant_request(&gid).await?;
    let r = s.app.revoke(&p.caller(), &rid, &b.reason).await?;
    let v = Versioned {
        value: r.outcome.request,
        version: r.outcome.version,
    };
    let mut doc = serde_json::to_value(RequestView::new(&v)).unwrap_or(Value::Null);
    if let Some(o) = doc.as_object_mut() {
        o.insert("sessions_denied".into(), json!(r.entry.is_some()));
    }
    Ok(Json(doc).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllBody {
    role_arn: String,
    reason: String,
}

pub async fn revoke_all(State(s): St, p: Principal, Body(b): Body<RevokeAllBody>) -> ApiResult {
    let role = RoleArn::new(b.role_arn)
        .map_err(|e| AppError::bad_request(format!("invalid role ARN: {e}")))?;
    let r = s.app.revoke_all(&p.caller(), &role, &b.reason).await?;
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
    Ok(Json(json!({
        "role_arn": r.role_arn,
        "cutoff": rfc3339(r.cutoff),
        "revoked": r.revoked,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

pub async fn audit(State(s): St, p: Principal, Query(q): Query<AuditQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(100).min(1000);
    let rows = s
        .app
        .audit_page(&p.caller(), q.after.unwrap_or(0), limit)
        .await?;
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            json!({"seq": r.seq, "hash": r.hash, "record": body})
        })
        .collect();
    Ok(Json(json!({"records": records})).into_response())
}

pub async fn audit_verify(State(s): St, p: Principal) -> ApiResult {
    Ok(Json(match s.app.verify_audit(&p.caller()).await? {
        AuditVerification::Verified { records, head } => {
            json!({"ok": true, "records": records, "head": head})
        }
        AuditVerification::Broken { problem } => json!({"ok": false, "problem": problem}),
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
        Err(WalkError::Store(e)) => return Err(AppError::unavailable(&e)),
        Err(WalkError::Consumer(e)) => return Err(e),
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response())
}
