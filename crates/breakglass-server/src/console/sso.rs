//! Signing in to the console through the identity provider (`[auth.oidc]`): the
//! authorization code flow with PKCE, state and nonce ([`crate::auth::oidc`]).
//!
//! `GET /console/login/sso` sends the browser to the provider and sets `bg_oidc`, the sealed
//! flow state, scoped to the callback path and `SameSite=Lax` (the provider's redirect back
//! is a cross-site navigation, on which a `Strict` cookie is not sent). `GET
//! /console/oidc/callback` checks it, completes the flow and sets the same `bg_session`
//! cookie as the password sign-in. Because a `Strict` session cookie is not sent either on
//! the rest of a redirect chain that began on the provider's site, the callback answers with
//! a page that moves on to the console from this site.

use axum::extract::{Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use breakglass_config::OIDC_CALLBACK_PATH;
use maud::{Markup, html};
use serde::Deserialize;

use super::St;
use super::layout;
use super::signin::{SESSION_COOKIE, SESSION_HOURS, TOKEN_NAME, cookie, set_cookie};
use crate::app::AppError;
use crate::auth::oidc::{CONSOLE_FLOW_TTL, Flow};

/// The cookie holding a console SSO flow's sealed state.
pub const FLOW_COOKIE: &str = "bg_oidc";

fn flow_cookie(value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{FLOW_COOKIE}={value}; Path={OIDC_CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn not_configured() -> AppError {
    AppError::not_found(
        "this broker has no identity provider configured (`[auth.oidc]`): sign in with your broker username and password",
    )
}

/// A sign-in problem on a page that offers both ways in again.
fn failed(message: &str, status: StatusCode) -> Response {
    layout::respond(
        status,
        layout::page(
            "Sign-in failed",
            None,
            html! {
                (layout::alert(message))
                p { a href="/console/login/sso" { "Try signing in with SSO again" } }
                p { a href="/console/login" { "Sign in with a broker username and password" } }
            },
        ),
    )
}

/// `GET /console/login/sso`: off to the identity provider.
pub async fn start(axum::extract::State(s): St, headers: HeaderMap) -> Response {
    let Some(provider) = &s.oidc else {
        return layout::error_page(None, &not_configured());
    };
    let oidc = match provider.get().await {
        Ok(oidc) => oidc,
        Err(e) => return failed(&e.to_string(), StatusCode::BAD_GATEWAY),
    };
    let started = match oidc.start(s.auth.seal_key()) {
        Ok(started) => started,
        Err(e) => return failed(&e.to_string(), StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut r = layout::redirect(&started.url);
    if let Some(c) = flow_cookie(
        &started.cookie,
        CONSOLE_FLOW_TTL.whole_seconds(),
        s.console.secure(&headers),
    ) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

fn continue_page() -> Markup {
    layout::page_with_head(
        "Signed in",
        None,
        html! { meta http-equiv="refresh" content="0; url=/console"; },
        html! {
            p { "Signed in. " a href="/console" { "Continue to the console" } }
        },
    )
}

/// `GET /console/oidc/callback`: the provider's answer.
pub async fn callback(
    axum::extract::State(s): St,
    Query(q): Query<Callback>,
    client: crate::app::extract::ClientAddr,
    req: Request,
) -> Response {
    let Some(provider) = &s.oidc else {
        return layout::error_page(None, &not_configured());
    };
    let address = client.to_string();
    let headers = req.headers();
    let secure = s.console.secure(headers);
    // Whatever happens next, the flow's state is used up.
    let clear = flow_cookie("", 0, secure);
    let respond = |mut r: Response| {
        if let Some(c) = clear.clone() {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        r
    };
    if let Some(error) = &q.error {
        // Anyone can link here with any text: the error code is shown only if it is one (an
        // OAuth error code's characters), its description only to a browser with a sign-in
        // under way, and neither can carry markup (the page escapes everything).
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        let detail = q
            .error_description
            .as_deref()
            .filter(|_| cookie(headers, FLOW_COOKIE).is_some())
            .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        return respond(failed(
            &format!("the identity provider did not sign you in: `{code}`{detail}"),
            StatusCode::UNAUTHORIZED,
        ));
    }
    let (Some(code), Some(state)) = (q.code.as_deref(), q.state.as_deref()) else {
        return respond(failed(
            "the identity provider's answer has no code or state",
            StatusCode::BAD_REQUEST,
        ));
    };
    let Some(flow) = cookie(headers, FLOW_COOKIE) else {
        return respond(failed(
            "this sign-in was not started from this browser, or took too long (its cookie is gone)",
            StatusCode::BAD_REQUEST,
        ));
    };
    let oidc = match provider.get().await {
        Ok(oidc) => oidc,
        Err(e) => return respond(failed(&e.to_string(), StatusCode::BAD_GATEWAY)),
    };
    let identity = match oidc.finish(s.auth.seal_key(), flow, state, code).await {
        Ok(identity) => identity,
        Err(e) => return respond(failed(&e.to_string(), StatusCode::UNAUTHORIZED)),
    };
    let mapped = oidc.map(&identity);
    match s
        .auth
        .sso_sign_in(&identity, mapped, Flow::Console, Some(TOKEN_NAME), &address)
        .await
    {
        Ok(token) => {
            let mut r = respond(layout::respond(StatusCode::OK, continue_page()));
            if let Some(c) = set_cookie(
                SESSION_COOKIE,
                token.secret.expose(),
                SESSION_HOURS * 3600,
                secure,
            ) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Err(e) => {
            let app: AppError = e.into();
            if app.status.is_server_error() {
                return respond(layout::error_page(None, &app));
            }
            respond(failed(&app.message, app.status))
        }
    }
}
