//! My account (API tokens, TOTP enrolment, password) and the admin's user list, with what
//! an administrator does about a compromised account (disable, enable, revoke its tokens,
//! reset its second factor; each with the administrator's own TOTP step-up).
//!
//! A new token and a TOTP seed are secrets: they appear once, on the response to the post
//! that created them, and never on any later page (the store keeps only a hash and a
//! sealed seed).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use breakglass_core::audit::events::AccountChange;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Viewer, csrf_field};
use super::signin::{NoFields, Posted, Session, TOKEN_NAME};
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
    Done(String),
    Error(AppError),
}

async fn account_page(s: &AppState, session: &Session, fresh: Fresh) -> Result<Response, Failure> {
    let v = session.viewer();
    let me = &session.principal.username;
    let tokens = s.auth.tokens(me).await.or_page(&v)?;
    let enrolled = s.auth.totp_enrolled(me).await.or_page(&v)?;
    let passkeys = super::passkeys::section(s, session).await.or_page(&v)?;
    let slack = super::chat::section(s, session).await.or_page(&v)?;
    let now = s.app.now();
    let status = match &fresh {
        Fresh::Error(e) => e.status,
        _ => StatusCode::OK,
    };
    let top: Markup = match &fresh {
        Fresh::Nothing => html! {},
        Fresh::Done(m) => html! { p.ok role="status" { (layout::message(m)) } },
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
                p { "Then enter the code it shows to finish: until you do, nothing changes." }
                form.stack method="post" action="/console/account/totp/confirm" {
                    (csrf_field(&v.csrf))
                    label for="confirm_code" { "Code from the new authenticator" }
                    input #confirm_code type="text" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" required autocomplete="one-time-code";
                    button type="submit" { "Confirm authenticator" }
                }
            }
        },
    };
    let second_factor = session.principal.second_factor;
    let rows = html! {
        @for t in &tokens {
            @let live = t.revoked_at.is_none() && t.expires_at > now;
            tr {
                td data-label="Name" { (t.name) @if t.id == session.principal.token { " (this session)" } }
                td data-label="Id" { code { (t.id) } }
                td data-label="Created" { (layout::time(t.created_at)) }
                td data-label="Expires" { (layout::time(t.expires_at)) }
                td data-label="State" {
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
    let live_tokens = tokens
        .iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at > now)
        .count();
    let body = html! {
        (top)
        p #account-summary .now {
            "Signed in as " strong { (v.username) } @if v.admin { " (administrator)" } "; "
            @if second_factor { "second factor enrolled" } @else { strong { "no second factor yet: enrol one below" } }
            "; " (live_tokens) " live API " (if live_tokens == 1 { "token" } else { "tokens" }) "."
        }
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
            label for="token-totp" { "TOTP code (with the password)" }
            input #token-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code";
            button type="submit" { "Create token" }
        }
        h2 { "Two-factor authentication" }
        @if enrolled {
            p #totp-status { "A TOTP authenticator is enrolled. To move to a new device, enter your password and a current code from the old one; every other session of yours ends when the new one is confirmed." }
            form.stack method="post" action="/console/account/totp" {
                (csrf_field(&v.csrf))
                label for="replace-password" { "Your password" }
                input #replace-password type="password" name="password" required autocomplete="current-password";
                label for="current_code" { "Current TOTP code" }
                input #current_code type="text" name="current_code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" required autocomplete="one-time-code";
                button type="submit" { "Replace authenticator" }
            }
        } @else {
            p #totp-status { "No authenticator is enrolled yet: enrol one to use the broker (until then this account can only enrol)." }
            form.stack method="post" action="/console/account/totp" {
                (csrf_field(&v.csrf))
                label for="enrol-password" { "Your password" }
                input #enrol-password type="password" name="password" required autocomplete="current-password";
                button type="submit" { "Enrol authenticator" }
            }
        }
        (passkeys)
            (slack)
        @if second_factor {
            h2 { "Password" }
            p { "Changing it signs out every other session and token of yours." }
            form.stack method="post" action="/console/account/password" {
                (csrf_field(&v.csrf))
                label for="old-password" { "Current password" }
                input #old-password type="password" name="old_password" required autocomplete="current-password";
                label for="new-password" { "New password (at least 12 characters)" }
                input #new-password type="password" name="new_password" required minlength="12" autocomplete="new-password";
                @if super::passkeys::offers_code(s, &session.principal) {
                    label for="password-totp" { "TOTP code" }
                    input #password-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
                        required[super::passkeys::code_required(s, &session.principal)] autocomplete="one-time-code";
                    button type="submit" { "Change password" }
                }
                (super::passkeys::step_up_fields(s, &session.principal, "change password"))
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
    #[serde(default)]
    totp: String,
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
                .login_with_totp(
                    session.principal.username.as_str(),
                    &form.password,
                    Some(form.totp.as_str()),
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
    #[serde(default)]
    password: Option<String>,
}

/// `POST /console/account/totp`: starts enrolling (with the password) or replacing (with
/// a current code) the authenticator, and shows the seed and its QR code once, with the
/// form that confirms it.
pub async fn enroll_totp(
    State(s): St,
    client: ClientAddr,
    Posted { session, form }: Posted<EnrolForm>,
) -> Result<Response, Failure> {
    let code = form
        .current_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let enrolled = s
        .auth
        .enroll_totp(
            &session.principal,
            form.password.as_deref(),
            code.map(crate::auth::Answer::Totp),
            &client.to_string(),
        )
        .await;
    let fresh = match enrolled {
        Ok(e) => Fresh::Totp {
            secret: e.secret.expose().to_owned(),
            uri: e.uri.expose().to_owned(),
        },
        Err(e) => Fresh::Error(e.into()),
    };
    account_page(&s, &session, fresh).await
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
}

/// `POST /console/account/totp/confirm`: confirms the new authenticator with a code from
/// it; the session continues on a new token that passed it (the old one is revoked if it
/// had not).
pub async fn confirm_totp(
    State(s): St,
    headers: HeaderMap,
    Posted { session, form }: Posted<ConfirmForm>,
) -> Result<Response, Failure> {
    match s
        .auth
        .confirm_totp(&session.principal, form.code.trim(), TOKEN_NAME)
        .await
    {
        Ok(token) => {
            let mut r = layout::redirect("/console/account");
            super::signin::set_session(&mut r, token.secret.expose(), s.console.secure(&headers));
            Ok(r)
        }
        Err(e) => account_page(&s, &session, Fresh::Error(e.into())).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
}

/// `POST /console/account/password`: changes the password (old password and a TOTP code);
/// every other session and token of the user is revoked.
pub async fn change_password(
    State(s): St,
    client: ClientAddr,
    Posted { session, form }: Posted<PasswordForm>,
) -> Result<Response, Failure> {
    let changed = match super::passkeys::parse_answer(&form.passkey) {
        Ok(passkey) => s
            .auth
            .change_password(
                &session.principal,
                &form.old_password,
                &form.new_password,
                super::passkeys::answer(&form.totp, passkey.as_ref()),
                &client.to_string(),
            )
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    let fresh = match changed {
        Ok(()) => Fresh::Done(
            "Password changed; every other session and token of yours was signed out.".to_owned(),
        ),
        Err(e) => Fresh::Error(e),
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
    invited_page(s, session, notice, None).await
}

async fn invited_page(
    s: &AppState,
    session: &Session,
    notice: Option<Result<String, AppError>>,
    invited: Option<(String, String)>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    admin_only(session, &v)?;
    let users = s.auth.users().await.or_page(&v)?;
    let me = session.principal.username.as_str();
    let rows = html! {
        @for u in &users {
            tr {
                td data-label="User" { (u.username) }
                td data-label="Admin" { @if u.admin { "yes" } @else { "no" } }
                td data-label="TOTP" { @if u.totp_seed.is_some() { "enrolled" } @else { "not enrolled" } }
                td data-label="State" { @if let Some(at) = u.disabled_at { strong { "disabled" } " " (layout::time(at)) } @else { "active" } }
                td data-label="Created" { (layout::time(u.created_at)) }
                td data-label="Change" {
                    form.inline method="post" action={ "/console/admin/users/" (u.username) } {
                        (csrf_field(&v.csrf))
                        label.visually-hidden for={ "totp-" (u.username) } { "Your TOTP code" }
                        input id={ "totp-" (u.username) } type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" required
                            autocomplete="one-time-code" placeholder="TOTP code" size="8";
                        @if u.disabled_at.is_some() {
                            button type="submit" name="action" value="enable" { "Enable" }
                        } @else if u.username != me {
                            button.danger type="submit" name="action" value="disable" { "Disable" }
                        }
                        button.danger type="submit" name="action" value="revoke-tokens" { "Sign out everywhere" }
                        @if u.username != me && u.totp_seed.is_some() {
                            button.danger type="submit" name="action" value="reset-second-factor" { "Reset second factor" }
                        }
                    }
                }
            }
        }
    };
    let status = match &notice {
        Some(Err(e)) => e.status,
        _ => StatusCode::OK,
    };
    let body = html! {
        @if let Some((name, link)) = &invited {
            div.secret role="status" {
                p { "Send this link to " strong { (name) } " (and to no one else): it sets their password once, and it is shown only now." }
                div.copy-line {
                    code #invitation-link { (link) }
                    button #copy-invitation type="button" data-copy="invitation-link" { "Copy" }
                }
            }
        }
        @match &notice {
            Some(Ok(m)) => { p.ok role="status" { (layout::message(m)) } }
            Some(Err(e)) => { (layout::alert(&e.message)) }
            None => {}
        }
        (layout::table("users", "Local users", &["Username", "Admin", "TOTP", "Status", "Created", "Actions (with your TOTP code)"], rows,
            users.is_empty().then_some("No users.")))
        h2 { "Invite a user" }
        p { "The username must match a responder of the config for the user to request or approve access. "
            "You get a one-time link (valid " (crate::auth::INVITATION_TTL.whole_hours()) " hours) through which they set their own password." }
        form.stack method="post" action="/console/admin/users" {
            (csrf_field(&v.csrf))
            label for="new-username" { "Username" }
            input #new-username type="text" name="username" required autocapitalize="none";
            label for="invite-totp" { "Your TOTP code" }
            input #invite-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" required autocomplete="one-time-code";
            div.check {
                input #new-admin type="checkbox" name="admin" value="yes";
                label for="new-admin" { "Administrator" }
            }
            button type="submit" { "Invite user" }
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
    admin: Option<String>,
    #[serde(default)]
    totp: String,
}

/// `POST /console/admin/users` (admins): creates the user with a one-time invitation link,
/// shown once.
pub async fn add_user(
    State(s): St,
    headers: HeaderMap,
    Posted { session, form }: Posted<UserForm>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    admin_only(&session, &v)?;
    let admin = form.admin.as_deref().is_some_and(|a| !a.is_empty());
    match s
        .auth
        .invite(
            &session.principal,
            form.username.trim(),
            admin,
            crate::auth::Answer::Totp(form.totp.trim()),
        )
        .await
    {
        Ok(i) => {
            let link = format!(
                "{}/console/invitations/{}",
                s.console.server_url(&headers),
                i.secret.expose()
            );
            let notice = Ok(format!("User `{}` invited.", i.username));
            invited_page(
                &s,
                &session,
                Some(notice),
                Some((i.username.to_string(), link)),
            )
            .await
        }
        Err(e) => users_page(&s, &session, Some(Err(e.into()))).await,
    }
}

#[derive(Deserialize)]
pub struct AdministerForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
}

/// `POST /console/admin/users/{name}` (admins): disables, enables, signs out everywhere or
/// resets the second factor of a user, with the administrator's TOTP code.
pub async fn administer(
    State(s): St,
    headers: HeaderMap,
    Path(user): Path<String>,
    Posted { session, form }: Posted<AdministerForm>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    admin_only(&session, &v)?;
    let change = match form.action.as_str() {
        "disable" => AccountChange::Disabled,
        "enable" => AccountChange::Enabled,
        "revoke-tokens" => AccountChange::TokensRevoked,
        "reset-second-factor" => AccountChange::SecondFactorReset,
        other => {
            let e = AppError::bad_request(format!(
                "unknown action `{other}`: disable, enable, revoke-tokens or reset-second-factor"
            ));
            return users_page(&s, &session, Some(Err(e))).await;
        }
    };
    let passkey = match super::passkeys::parse_answer(&form.passkey) {
        Ok(p) => p,
        Err(e) => return users_page(&s, &session, Some(Err(e))).await,
    };
    let answer = super::passkeys::answer(&form.totp, passkey.as_ref());
    match crate::app::step_up::administer(&s, &session.principal, &user, change, answer).await {
        Ok(done) => {
            let mut notice = format!("User `{user}`: {}.", change.as_str().replace('_', " "));
            if !done.revoked.is_empty() {
                let ids: Vec<String> = done.revoked.iter().map(ToString::to_string).collect();
                notice.push_str(&format!(" Revoked: {}.", ids.join(", ")));
            }
            let link = done.invitation.map(|i| {
                (
                    user.clone(),
                    format!(
                        "{}/console/invitations/{}",
                        s.console.server_url(&headers),
                        i.secret.expose()
                    ),
                )
            });
            invited_page(&s, &session, Some(Ok(notice)), link).await
        }
        Err(e) => users_page(&s, &session, Some(Err(e))).await,
    }
}
