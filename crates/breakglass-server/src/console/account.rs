//! My account (API tokens, TOTP enrolment) and the admin's user list.
//!
//! A new token and a TOTP seed are secrets: they appear once, on the response to the post
//! that created them, and never on any later page (the store keeps only a hash and a
//! sealed seed).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Viewer, csrf_field};
use super::signin::{NoFields, Posted, Session};
use super::{Failure, OrPage, St, qr};
use crate::app::extract::ClientAddr;
use crate::app::{AppError, AppState};
use crate::auth::MAX_TOKEN_TTL;
use crate::auth::token_ttl;

/// What to show once at the top of the account page.
enum Fresh {
    Nothing,
    Token { name: String, secret: String },
    Totp { secret: String, uri: String },
    Error(AppError),
}

async fn account_page(s: &AppState, session: &Session, fresh: Fresh) -> Result<Response, Failure> {
    let v = session.viewer();
    let me = &session.principal.username;
    let tokens = s.auth.tokens(me).await.or_page(&v)?;
    let enrolled = s.auth.totp_enrolled(me).await.or_page(&v)?;
    let now = s.app.now();
    let status = match &fresh {
        Fresh::Error(e) => e.status,
        _ => StatusCode::OK,
    };
    let top: Markup = match &fresh {
        Fresh::Nothing => html! {},
        Fresh::Error(e) => layout::alert(&e.message),
        Fresh::Token { name, secret } => html! {
            div.secret role="status" {
                p { "Your new token " strong { (name) } " is below. Copy it now: it is shown only this once." }
                div.copy-line {
                    code #new-token { (secret) }
                    button #copy-new-token type="button" data-copy="new-token" { "Copy" }
                }
            }
        },
        Fresh::Totp { secret, uri } => html! {
            div.secret role="status" {
                p { "Scan this code with your authenticator app, or enter the key by hand. It is shown only this once." }
                @if let Some(svg) = qr::svg(uri, "QR code of your new TOTP authenticator") { (svg) }
                p { "Key: " code #totp-secret { (secret) } }
                p { "URI: " code #otpauth-uri { (uri) } }
            }
        },
    };
    let rows = html! {
        @for t in &tokens {
            @let live = t.revoked_at.is_none() && t.expires_at > now;
            tr {
                td { (t.name) @if t.id == session.principal.token { " (this session)" } }
                td { code { (t.id) } }
                td { (layout::time(t.created_at)) }
                td { (layout::time(t.expires_at)) }
                td {
                    @if let Some(at) = t.revoked_at { "revoked " (layout::time(at)) }
                    @else if !live { "expired" }
                    @else {
                        form.inline method="post" action={ "/console/account/tokens/" (t.id) "/revoke" } {
                            (csrf_field(&v.csrf))
                            button.danger type="submit" aria-label={ "Revoke token " (t.name) } { "Revoke" }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        (top)
        h2 { "API tokens" }
        p { "For the command line (" code { "breakglass login" } " makes one too). A token is shown once, when it is created. "
            "It cannot outlive this session (until " (layout::time(session.principal.expires_at)) ") unless you enter your password." }
        (layout::table("tokens", "Your API tokens", &["Name", "Id", "Created", "Expires", ""], rows,
            tokens.is_empty().then_some("No tokens.")))
        form.stack method="post" action="/console/account/tokens" {
            (csrf_field(&v.csrf))
            label for="token-name" { "Token name" }
            input #token-name type="text" name="name" required maxlength="100" placeholder="laptop";
            label for="token-ttl" { "Lifetime (hours, up to " (MAX_TOKEN_TTL.whole_hours()) ")" }
            input #token-ttl type="number" name="ttl_hours" min="1" max=(MAX_TOKEN_TTL.whole_hours()) inputmode="numeric"
                placeholder="until this session ends";
            label for="token-password" { "Password (only for a token that outlives this session)" }
            input #token-password type="password" name="password" autocomplete="current-password";
            button type="submit" { "Create token" }
        }
        h2 { "Two-factor authentication" }
        @if enrolled {
            p #totp-status { "A TOTP authenticator is enrolled. To move to a new device, enter a current code from the old one." }
            form.stack method="post" action="/console/account/totp" {
                (csrf_field(&v.csrf))
                label for="current_code" { "Current TOTP code" }
                input #current_code type="text" name="current_code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" required autocomplete="one-time-code";
                button type="submit" { "Replace authenticator" }
            }
        } @else {
            p #totp-status { "No authenticator is enrolled: approvals and break-glass need one." }
            form method="post" action="/console/account/totp" {
                (csrf_field(&v.csrf))
                button type="submit" { "Enrol authenticator" }
            }
        }
    };
    Ok(layout::respond(
        status,
        layout::page("My account", Some(&v), body),
    ))
}

/// `GET /console/account`.
pub async fn page(State(s): St, session: Session) -> Result<Response, Failure> {
    account_page(&s, &session, Fresh::Nothing).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ttl_hours: String,
    #[serde(default)]
    password: String,
}

/// `POST /console/account/tokens`: creates a token and shows it once. Without a password
/// it is minted from the session and cannot outlive it; with the password it is a fresh
/// sign-in (checked, rate-limited and audited as `breakglass login` is).
pub async fn create_token(
    State(s): St,
    client: ClientAddr,
    Posted { session, form }: Posted<TokenForm>,
) -> Result<Response, Failure> {
    let ttl = match form.ttl_hours.trim() {
        "" => Ok(None),
        h => h
            .parse::<i64>()
            .map_err(|_| {
                AppError::bad_request(format!("the lifetime `{h}` is not a whole number of hours"))
            })
            .and_then(|h| token_ttl(Some(h)).map_err(AppError::from)),
    };
    let fresh = match ttl {
        Err(e) => Fresh::Error(e),
        Ok(ttl) => match if form.password.is_empty() {
            s.auth
                .create_token(&session.principal, &form.name, ttl)
                .await
        } else {
            let address = client.to_string();
            s.auth
                .login(
                    session.principal.username.as_str(),
                    &form.password,
                    &address,
                    &form.name,
                    ttl,
                )
                .await
        } {
            Ok(t) => Fresh::Token {
                name: t.record.name.clone(),
                secret: t.secret.expose().to_owned(),
            },
            Err(e) => Fresh::Error(e.into()),
        },
    };
    account_page(&s, &session, fresh).await
}

/// `POST /console/account/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(s): St,
    Path(token): Path<String>,
    Posted { session, .. }: Posted<NoFields>,
) -> Result<Response, Failure> {
    let me = &session.principal.username;
    match s.auth.revoke_token(me, &token, me).await {
        Ok(()) if token == session.principal.token => Ok(layout::redirect("/console/login")),
        Ok(()) => Ok(layout::redirect("/console/account")),
        Err(e) => account_page(&s, &session, Fresh::Error(e.into())).await,
    }
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    current_code: Option<String>,
}

/// `POST /console/account/totp`: enrols (or, with a current code, replaces) the
/// authenticator and shows the seed and its QR code once.
pub async fn enroll_totp(
    State(s): St,
    Posted { session, form }: Posted<EnrolForm>,
) -> Result<Response, Failure> {
    let code = form
        .current_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let fresh = match s.auth.enroll_totp(&session.principal.username, code).await {
        Ok(e) => Fresh::Totp {
            secret: e.secret.expose().to_owned(),
            uri: e.uri.expose().to_owned(),
        },
        Err(e) => Fresh::Error(e.into()),
    };
    account_page(&s, &session, fresh).await
}

fn admin_only(session: &Session, v: &Viewer) -> Result<(), Failure> {
    session
        .principal
        .caller()
        .require_admin()
        .map_err(AppError::from)
        .or_page(v)
}

async fn users_page(
    s: &AppState,
    session: &Session,
    notice: Option<Result<String, AppError>>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    admin_only(session, &v)?;
    let users = s.auth.users().await.or_page(&v)?;
    let rows = html! {
        @for u in &users {
            tr {
                td { (u.username) }
                td { @if u.admin { "yes" } @else { "no" } }
                td { @if u.totp_seed.is_some() { "enrolled" } @else { "not enrolled" } }
                td { (layout::time(u.created_at)) }
            }
        }
    };
    let status = match &notice {
        Some(Err(e)) => e.status,
        _ => StatusCode::OK,
    };
    let body = html! {
        @match &notice {
            Some(Ok(m)) => { p.ok role="status" { (m) } }
            Some(Err(e)) => { (layout::alert(&e.message)) }
            None => {}
        }
        (layout::table("users", "Local users", &["Username", "Admin", "TOTP", "Created"], rows,
            users.is_empty().then_some("No users.")))
        h2 { "Add a user" }
        p { "The username must match a responder of the config for the user to request or approve access." }
        form.stack method="post" action="/console/admin/users" {
            (csrf_field(&v.csrf))
            label for="new-username" { "Username" }
            input #new-username type="text" name="username" required autocapitalize="none";
            label for="new-password" { "Initial password" }
            input #new-password type="password" name="password" required autocomplete="new-password";
            div.check {
                input #new-admin type="checkbox" name="admin" value="yes";
                label for="new-admin" { "Administrator" }
            }
            button type="submit" { "Add user" }
        }
    };
    Ok(layout::respond(
        status,
        layout::page("Users", Some(&v), body),
    ))
}

/// `GET /console/admin/users` (admins).
pub async fn users(State(s): St, session: Session) -> Result<Response, Failure> {
    users_page(&s, &session, None).await
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    admin: Option<String>,
}

/// `POST /console/admin/users` (admins).
pub async fn add_user(
    State(s): St,
    Posted { session, form }: Posted<UserForm>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    admin_only(&session, &v)?;
    let admin = form.admin.as_deref().is_some_and(|a| !a.is_empty());
    let notice = match s
        .auth
        .add_user(
            form.username.trim(),
            &form.password,
            admin,
            Some(&session.principal.username),
        )
        .await
    {
        Ok(u) => Ok(format!("User `{}` added.", u.username)),
        Err(e) => Err(e.into()),
    };
    users_page(&s, &session, Some(notice)).await
}
