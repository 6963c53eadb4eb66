//! The route handlers: authenticate, parse, call the access or auth service, render JSON.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breakglass_core::audit::{ChainVerifier, jsonl_line};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::cloud::Cloud;
use breakglass_core::model::{RequestId, RoleArn, Username};
use breakglass_core::ports::{Store, StoreError, Versioned};
use breakglass_core::request::{AccessRequest, NewRequest, ReviewOutcome};
use breakglass_core::session::RequestFilter;
use breakglass_store::ListedRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use super::ops::{self, id, unavailable};
use super::{AppError, AppState};
use crate::auth::Principal;

type St<K> = State<Arc<AppState<K>>>;
type ApiResult = Result<Response, AppError>;

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

async fn principal<K: Cloud>(
    state: &AppState<K>,
    headers: &HeaderMap,
) -> Result<Principal, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            AppError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "missing `Authorization: Bearer` API token; run `breakglass login`",
            )
        })?;
    Ok(state.auth.authenticate(token.trim()).await?)
}

fn request_json(v: &Versioned<AccessRequest>) -> Value {
    let mut doc = serde_json::to_value(&v.value).unwrap_or(Value::Null);
    if let Some(o) = doc.as_object_mut() {
        o.insert("version".into(), json!(v.version));
        o.insert("status_name".into(), json!(v.value.status.name()));
    }
    doc
}

/// A request as the API shows it (what [`request_json`] builds), serialized straight from
/// the request: listings and outcomes are the hot responses, and building a JSON tree first
/// costs an allocation per field.
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

fn outcome(o: breakglass_core::broker::Outcome) -> ApiResult {
    let v = Versioned {
        value: o.request,
        version: o.version,
    };
    Ok(Json(RequestView::new(&v)).into_response())
}

pub async fn not_found() -> AppError {
    AppError::not_found("no such route; see /openapi.json")
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz<K: Cloud>(State(s): St<K>) -> ApiResult {
    match s.access.broker().store().audit_head().await {
        Ok(_) => Ok(Json(json!({"status": "ready"})).into_response()),
        Err(e) => Err(AppError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            &e,
        )),
    }
}

pub async fn metrics<K: Cloud>(State(s): St<K>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

pub async fn openapi<K: Cloud + 'static>() -> Json<Value> {
    Json(super::openapi_document::<K>())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
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

pub async fn login<K: Cloud>(State(s): St<K>, req: Request) -> ApiResult {
    let address = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
    let body = axum::body::to_bytes(req.into_body(), super::MAX_BODY)
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body exceeds {} bytes", super::MAX_BODY),
            )
        })?;
    let b: LoginBody = parse(&body)?;
    let token = s
        .auth
        .login(
            &b.username,
            &b.password,
            &address,
            b.token_name.as_deref().unwrap_or("cli"),
            ops::ttl(b.ttl_hours)?,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(token_json(&token))).into_response())
}

pub async fn me<K: Cloud>(State(s): St<K>, headers: HeaderMap) -> ApiResult {
    let p = principal(&s, &headers).await?;
    Ok(Json(json!({"username": p.username, "admin": p.admin, "token": p.token})).into_response())
}

pub async fn users<K: Cloud>(State(s): St<K>, headers: HeaderMap) -> ApiResult {
    let p = principal(&s, &headers).await?;
    ops::require_admin(&p)?;
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
struct AddUserBody {
    username: String,
    password: String,
    #[serde(default)]
    admin: bool,
}

pub async fn add_user<K: Cloud>(State(s): St<K>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = principal(&s, &headers).await?;
    ops::require_admin(&p)?;
    let b: AddUserBody = parse(&body)?;
    let u = s
        .auth
        .add_user(&b.username, &b.password, b.admin, Some(&p.username))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"username": u.username, "admin": u.admin})),
    )
        .into_response())
}

pub async fn tokens<K: Cloud>(State(s): St<K>, headers: HeaderMap) -> ApiResult {
    let p = principal(&s, &headers).await?;
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
struct TokenBody {
    name: String,
    #[serde(default)]
    ttl_hours: Option<i64>,
}

pub async fn create_token<K: Cloud>(State(s): St<K>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: TokenBody = parse(&body)?;
    let t = s
        .auth
        .create_token(&p, &b.name, ops::ttl(b.ttl_hours)?)
        .await?;
    Ok((StatusCode::CREATED, Json(token_json(&t))).into_response())
}

pub async fn revoke_token<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
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

pub async fn enroll_totp<K: Cloud>(State(s): St<K>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: EnrollBody = if body.is_empty() {
        EnrollBody::default()
    } else {
        parse(&body)?
    };
    let e = s
        .auth
        .enroll_totp(&p.username, b.current_code.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"secret": e.secret.expose(), "otpauth_uri": e.uri.expose()})),
    )
        .into_response())
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

pub async fn list_requests<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let filter = RequestFilter {
        statuses: q
            .status
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        requester: q
            .requester
            .map(|r| id("requester", &r, Username::new))
            .transpose()?,
        limit: Some(q.limit.unwrap_or(100).min(1000)),
        ..RequestFilter::default()
    };
    let list = ops::readable_listing(&s, &p, &filter).await?;
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
    let fields = row
        .doc
        .strip_prefix('{')
        .and_then(|d| d.strip_suffix('}'))
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| {
            unavailable(StoreError::Corrupt(format!(
                "request `{}` is not stored as a JSON object",
                row.id
            )))
        })?;
    out.push(b'{');
    out.extend_from_slice(fields.as_bytes());
    out.extend_from_slice(b",\"version\":");
    let corrupt = |e: serde_json::Error| unavailable(StoreError::Corrupt(e.to_string()));
    serde_json::to_writer(&mut *out, &row.version).map_err(corrupt)?;
    out.extend_from_slice(b",\"status_name\":");
    serde_json::to_writer(&mut *out, &row.status).map_err(corrupt)?;
    out.push(b'}');
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    playbook: String,
    role: String,
    account: String,
    duration_seconds: i64,
    incident: String,
    justification: String,
    #[serde(default)]
    totp: Option<String>,
}

fn new_request(p: &Principal, b: &CreateBody) -> Result<NewRequest, AppError> {
    ops::new_request(
        p,
        &ops::Ask {
            playbook: &b.playbook,
            role: &b.role,
            account: &b.account,
            duration: Duration::seconds(b.duration_seconds),
            incident: &b.incident,
            justification: &b.justification,
        },
    )
}

pub async fn create_request<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: CreateBody = parse(&body)?;
    let o = s.access.broker().submit(new_request(&p, &b)?).await?;
    let mut r = outcome(o)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

pub async fn get_request<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let rid = id("request id", &rid, RequestId::new)?;
    let v = ops::readable_request(&s, &p, &rid).await?;
    Ok(Json(RequestView::new(&v)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    digest: String,
    totp: String,
    #[serde(default)]
    comment: String,
}

pub async fn approve<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: ApproveBody = parse(&body)?;
    let rid = id("request id", &rid, RequestId::new)?;
    let digest = Sha256Digest::from_hex(&b.digest)
        .map_err(|e| AppError::bad_request(format!("invalid digest: {e}")))?;
    outcome(ops::approve(&s, &p, &rid, digest, &b.totp, b.comment).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

pub async fn deny<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: ReasonBody = parse(&body)?;
    let rid = id("request id", &rid, RequestId::new)?;
    outcome(s.access.broker().deny(&rid, p.username, b.reason).await?)
}

pub async fn cancel<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: ReasonBody = parse(&body)?;
    let rid = id("request id", &rid, RequestId::new)?;
    outcome(s.access.broker().cancel(&rid, p.username, b.reason).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    add_seconds: i64,
    justification: String,
}

pub async fn extend<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: ExtendBody = parse(&body)?;
    let rid = id("request id", &rid, RequestId::new)?;
    outcome(
        s.access
            .broker()
            .request_extension(
                &rid,
                p.username,
                Duration::seconds(b.add_seconds),
                b.justification,
            )
            .await?,
    )
}

pub async fn activate<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let rid = id("request id", &rid, RequestId::new)?;
    outcome(s.access.broker().activate(&rid, p.username).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    outcome: ReviewOutcome,
    #[serde(default)]
    notes: String,
}

pub async fn review<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: ReviewBody = parse(&body)?;
    let rid = id("request id", &rid, RequestId::new)?;
    outcome(
        s.access
            .broker()
            .review(&rid, p.username, b.outcome, b.notes)
            .await?,
    )
}

pub async fn break_glass<K: Cloud>(State(s): St<K>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: CreateBody = parse(&body)?;
    let new = new_request(&p, &b)?;
    let code = b.totp.as_deref().unwrap_or_default();
    let mut r = outcome(ops::break_glass(&s, &p, new, code).await?)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

pub async fn credentials<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(gid): Path<String>,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let rid = ops::grant_request(&s, &gid).await?;
    let c = s.access.credentials(&rid, &p.username).await?;
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
struct ConsoleBody {
    #[serde(default)]
    destination: Option<String>,
}

pub async fn console<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(gid): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: ConsoleBody = parse(&body)?;
    let rid = ops::grant_request(&s, &gid).await?;
    let dest = b
        .destination
        .unwrap_or_else(|| "https://console.aws.amazon.com/".to_owned());
    let url = s.access.console_url(&rid, &p.username, &dest).await?;
    Ok(Json(json!({"url": url.expose()})).into_response())
}

pub async fn revoke<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(gid): Path<String>,
    body: Bytes,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    let b: ReasonBody = parse(&body)?;
    let rid = ops::grant_request(&s, &gid).await?;
    let r = s
        .access
        .revoke(&rid, p.username, p.admin, &b.reason)
        .await?;
    let mut doc = request_json(&Versioned {
        value: r.outcome.request,
        version: r.outcome.version,
    });
    if let Some(o) = doc.as_object_mut() {
        o.insert("sessions_denied".into(), json!(r.entry.is_some()));
    }
    Ok(Json(doc).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeAllBody {
    role_arn: String,
    reason: String,
}

pub async fn revoke_all<K: Cloud>(State(s): St<K>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = principal(&s, &headers).await?;
    ops::require_admin(&p)?;
    let b: RevokeAllBody = parse(&body)?;
    let role = id("role ARN", &b.role_arn, RoleArn::new)?;
    let r = s.access.revoke_all(&role, p.username, &b.reason).await?;
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

pub async fn audit<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    ops::require_admin(&p)?;
    let rows = s
        .access
        .broker()
        .store()
        .audit_rows(q.after.unwrap_or(0), q.limit.unwrap_or(100).min(1000))
        .await
        .map_err(unavailable)?;
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            json!({"seq": r.seq, "hash": r.hash, "record": body})
        })
        .collect();
    Ok(Json(json!({"records": records})).into_response())
}

pub async fn audit_verify<K: Cloud>(State(s): St<K>, headers: HeaderMap) -> ApiResult {
    let p = principal(&s, &headers).await?;
    ops::require_admin(&p)?;
    Ok(match ops::verify_audit(&s).await? {
        ops::AuditVerification::Verified { records, head } => {
            Json(json!({"ok": true, "records": records, "head": head}))
        }
        ops::AuditVerification::Broken { problem } => {
            Json(json!({"ok": false, "problem": problem}))
        }
    }
    .into_response())
}

pub async fn audit_export<K: Cloud>(
    State(s): St<K>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    let p = principal(&s, &headers).await?;
    ops::require_admin(&p)?;
    let store = s.access.broker().store();
    let mut verifier = ChainVerifier::new();
    let mut out = String::new();
    let mut after = q.after.unwrap_or(0);
    let max = u64::from(q.limit.unwrap_or(100_000).min(100_000));
    let mut n = 0u64;
    // Records are exported only after they verify against their predecessors.
    if after > 0 {
        return Err(AppError::bad_request(
            "`after` is not supported for export: the chain is verified from its start",
        ));
    }
    'outer: loop {
        let rows = store.audit_rows(after, 1000).await.map_err(unavailable)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in &rows {
            let record = verifier.push(row).map_err(|p| {
                AppError::new(StatusCode::CONFLICT, "audit_chain_broken", p.to_string())
            })?;
            let hash = Sha256Digest::from_hex(&row.hash).map_err(|e| {
                AppError::new(StatusCode::CONFLICT, "audit_chain_broken", e.to_string())
            })?;
            let line = jsonl_line(&record, &hash).map_err(|e| {
                AppError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e)
            })?;
            out.push_str(&line);
            out.push('\n');
            n += 1;
            if n >= max {
                break 'outer;
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response())
}
