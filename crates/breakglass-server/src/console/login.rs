//! Signing in and out of the console.

use axum::extract::{Query, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use time::Duration;

use super::St;
use super::layout::{self, csrf_field};
use super::signin::{
    self, LOGIN_CSRF_COOKIE, Posted, SESSION_COOKIE, SESSION_HOURS, TOKEN_NAME, cookie, set_cookie,
};
use crate::app::AppError;
use crate::app::extract::ClientAddr;
use crate::auth::AuthError;
use crate::random::random_hex;

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

fn login_page(csrf: &str, next: &str, username: &str, error: Option<&str>, sso: bool) -> Markup {
    layout::page(
        "Sign in",
        None,
        html! {
            @if let Some(e) = error { (layout::alert(e)) }
            @if sso {
                // A link, not a form: the 303 to the identity provider must not count as a
                // form action (the CSP allows form actions to this site only).
                p { a.button #sso href="/console/login/sso" { "Sign in with SSO" } }
                p { "Or, when the identity provider is down, with a broker account:" }
            }
            form.stack method="post" action="/console/login" {
                (csrf_field(csrf))
                input type="hidden" name="next" value=(next);
                label for="username" { "Username" }
                input #username type="text" name="username" value=(username)
                    autocomplete="username" autocapitalize="none" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password"
                    autocomplete="current-password" required;
                label for="totp" { "TOTP code (leave it empty to confirm with your passkey)" }
                input #totp type="text" name="totp" inputmode="numeric"
                    pattern="[0-9]{6}" autocomplete="one-time-code" maxlength="6";
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// `GET /console/login`: the form, with a fresh pre-session CSRF cookie when none is set.
pub async fn form(
    axum::extract::State(s): St,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = signin::safe_next(q.next.as_deref());
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && s.auth.authenticate(token).await.is_ok()
    {
        return layout::redirect(&next);
    }
    let (nonce, fresh) = match cookie(&headers, LOGIN_CSRF_COOKIE) {
        Some(n) if n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (n.to_owned(), false)
        }
        _ => (random_hex(32), true),
    };
    let csrf = signin::login_csrf(&s.console.csrf_key, &nonce);
    let mut r = layout::respond(
        StatusCode::OK,
        login_page(&csrf, &next, "", None, s.oidc.is_some()),
    );
    if fresh
        && let Some(c) = set_cookie(LOGIN_CSRF_COOKIE, &nonce, 3600, s.console.secure(&headers))
    {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /console/login`: checks the pre-session CSRF token, then password and (when
/// enrolled) TOTP; on success a 12-hour API token goes into the `bg_session` cookie.
pub async fn submit(axum::extract::State(s): St, client: ClientAddr, req: Request) -> Response {
    let address = client.to_string();
    let (headers, f, nonce) = match signin::login_form::<LoginForm>(&s, req).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let nonce = nonce.as_str();
    let next = signin::safe_next(f.next.as_deref());
    let totp = Some(f.totp.as_str()).filter(|t| !t.trim().is_empty());
    match s
        .auth
        .login_with_totp(
            &f.username,
            &f.password,
            totp,
            &address,
            TOKEN_NAME,
            Some(Duration::hours(SESSION_HOURS)),
        )
        .await
    {
        Ok(token) => {
            let mut r = layout::redirect(&next);
            signin::set_session(&mut r, token.secret.expose(), s.console.secure(&headers));
            r
        }
        // The password was right and the second factor is a passkey: ask for it.
        Err(AuthError::PasskeyRequired(_)) if s.auth.passkeys_on() => {
            match s
                .auth
                .start_passkey_sign_in(&f.username, &f.password, &address)
                .await
            {
                Ok(c) => {
                    let csrf = signin::login_csrf(&s.console.csrf_key, nonce);
                    layout::respond(
                        StatusCode::OK,
                        super::passkeys::sign_in_page(&csrf, &next, &c),
                    )
                }
                Err(e) => layout::error_page(None, &e.into()),
            }
        }
        Err(e) => {
            let message = match &e {
                // One message for a wrong password and a wrong code would hide which
                // factor failed, but the step-up lock needs saying; keep both factual.
                AuthError::BadTotp => {
                    "the TOTP code is wrong or was already used; wait for the next code and retry"
                        .to_owned()
                }
                _ => e.to_string(),
            };
            let app: AppError = e.into();
            let status = if app.status.is_server_error() {
                return layout::error_page(None, &app);
            } else if app.status == StatusCode::TOO_MANY_REQUESTS {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let csrf = signin::login_csrf(&s.console.csrf_key, nonce);
            layout::respond(
                status,
                login_page(&csrf, &next, &f.username, Some(&message), s.oidc.is_some()),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// `POST /console/logout`: revokes the session's token and clears the cookie.
pub async fn logout(
    axum::extract::State(s): St,
    headers: HeaderMap,
    posted: Posted<Empty>,
) -> Response {
    let p = &posted.session.principal;
    if let Err(e) = s
        .auth
        .revoke_token(&p.username, &p.token, &p.username)
        .await
    {
        return layout::error_page(Some(&posted.session.viewer()), &e.into());
    }
    let mut r = layout::redirect("/console/login");
    if let Some(c) = set_cookie(SESSION_COOKIE, "", 0, s.console.secure(&headers)) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn invitation_page(secret: &str, username: &str, error: Option<&str>) -> Markup {
    layout::page(
        "Set your password",
        None,
        html! {
            @if let Some(e) = error { (layout::alert(e)) }
            p { "Welcome, " strong { (username) } ". Choose the password you will sign in with; "
                "this link works once. After signing in you will enrol a TOTP authenticator." }
            form.stack method="post" action={ "/console/invitations/" (secret) } {
                label for="new-password" { "New password (at least 12 characters)" }
                input #new-password type="password" name="password" required minlength="12"
                    autocomplete="new-password" autofocus;
                label for="repeat-password" { "The same password again" }
                input #repeat-password type="password" name="repeat" required minlength="12"
                    autocomplete="new-password";
                button type="submit" { "Set password" }
            }
        },
    )
}

/// `GET /console/invitations/{secret}`: the form that sets an invited account's password,
/// if the invitation still works.
pub async fn invitation(
    axum::extract::State(s): St,
    axum::extract::Path(secret): axum::extract::Path<String>,
) -> Response {
    match s.auth.invitation(&secret).await {
        Ok(who) => layout::respond(StatusCode::OK, invitation_page(&secret, who.as_str(), None)),
        Err(e) => layout::error_page(None, &e.into()),
    }
}

#[derive(Deserialize)]
struct InvitationForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat: String,
}

/// `POST /console/invitations/{secret}`: sets the password and uses the invitation up, then
/// sends the user to sign in. No session and no CSRF token: the invitation is the
/// credential, and the console's guard refuses cross-origin posts.
pub async fn accept_invitation(
    axum::extract::State(s): St,
    axum::extract::Path(secret): axum::extract::Path<String>,
    req: Request,
) -> Response {
    let who = match s.auth.invitation(&secret).await {
        Ok(who) => who,
        Err(e) => return layout::error_page(None, &e.into()),
    };
    let form: InvitationForm = match signin::form_body(req)
        .await
        .and_then(|body| signin::parse_form(&body))
    {
        Ok(f) => f,
        Err(e) => return layout::error_page(None, &e),
    };
    if form.password != form.repeat {
        return layout::respond(
            StatusCode::BAD_REQUEST,
            invitation_page(
                &secret,
                who.as_str(),
                Some("the two passwords differ; type the same one twice"),
            ),
        );
    }
    match s.auth.accept_invitation(&secret, &form.password).await {
        Ok(_) => layout::redirect("/console/login?next=/console/account"),
        Err(AuthError::Invalid(m)) => layout::respond(
            StatusCode::BAD_REQUEST,
            invitation_page(&secret, who.as_str(), Some(&m)),
        ),
        Err(e) => layout::error_page(None, &e.into()),
    }
}
