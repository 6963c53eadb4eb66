//! Console sessions and CSRF protection.
//!
//! A session is a short-lived API token minted by [`crate::auth::Auth`] at sign-in and kept
//! only in the `bg_session` cookie (`HttpOnly; SameSite=Strict`, `Secure` over TLS), so
//! the console authenticates exactly as the API does and signing out revokes the token.
//!
//! Every form carries a CSRF token: for a session, the HMAC-SHA256 (key derived from the
//! sealing key, so every replica agrees) of the session token's SHA-256; before sign-in, the
//! HMAC of a random value also held in the `bg_csrf` cookie (a signed double-submit). Both
//! are checked in constant time by `ring::hmac::verify`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breakglass_core::canonical::Sha256Digest;
use ring::hmac;
use serde::de::DeserializeOwned;

use super::layout::{self, Viewer};
use crate::app::{AppError, AppState, MAX_BODY};
use crate::auth::Principal;

/// The session cookie.
pub const SESSION_COOKIE: &str = "bg_session";
/// The pre-session CSRF cookie of the sign-in form.
pub const LOGIN_CSRF_COOKIE: &str = "bg_csrf";
/// How long a console session lasts.
pub const SESSION_HOURS: i64 = 12;
/// The name of the API token a console sign-in mints.
pub const TOKEN_NAME: &str = "web console";

/// The value of cookie `name` in `headers`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` when `secure`,
/// lasting `max_age` seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn session_message(token: &str) -> String {
    format!("session:{}", Sha256Digest::of(token.as_bytes()).to_hex())
}

fn login_message(nonce: &str) -> String {
    format!("pre-session:{nonce}")
}

/// The CSRF token of the session holding `token`.
pub fn session_csrf(key: &hmac::Key, token: &str) -> String {
    crate::hex::encode(hmac::sign(key, session_message(token).as_bytes()).as_ref())
}

/// The CSRF token of the sign-in form for the `bg_csrf` cookie value `nonce`.
pub fn login_csrf(key: &hmac::Key, nonce: &str) -> String {
    crate::hex::encode(hmac::sign(key, login_message(nonce).as_bytes()).as_ref())
}

fn verify(key: &hmac::Key, message: &str, given: &str) -> bool {
    // A tag is 32 bytes: anything much longer is not worth decoding.
    (given.len() <= 128)
        .then(|| crate::hex::decode(given))
        .flatten()
        .is_some_and(|tag| hmac::verify(key, message.as_bytes(), &tag).is_ok())
}

/// Whether `given` is the CSRF token of the session holding `token`.
pub fn verify_session_csrf(key: &hmac::Key, token: &str, given: &str) -> bool {
    verify(key, &session_message(token), given)
}

/// Whether `given` is the sign-in CSRF token for the cookie value `nonce`.
pub fn verify_login_csrf(key: &hmac::Key, nonce: &str, given: &str) -> bool {
    verify(key, &login_message(nonce), given)
}

/// A signed-in console user. Its `Debug` shows neither the session token nor the CSRF
/// token.
#[derive(Clone)]
pub struct Session {
    /// Who, as the API sees them.
    pub principal: Principal,
    /// The CSRF token to put in this session's forms.
    pub csrf: String,
    /// The session token (kept to check CSRF tokens; never rendered).
    token: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("principal", &self.principal)
            .field("csrf", &"[redacted]")
            .field("token", &"[redacted]")
            .finish()
    }
}

impl Session {
    /// Who the live-update stream is for: it re-authenticates with the session's token.
    pub fn subscriber(&self) -> crate::app::live::Subscriber {
        crate::app::live::Subscriber {
            token: self.token.clone(),
            username: self.principal.username.clone(),
        }
    }

    /// What the layout needs to know about the viewer.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            username: self.principal.username.to_string(),
            admin: self.principal.admin,
            csrf: self.csrf.clone(),
        }
    }
}

/// Why a console request was turned away before its handler ran.
#[derive(Debug)]
pub enum Refusal {
    /// No or an expired session on a page: sign in, then come back.
    SignIn {
        /// Where to come back to.
        next: String,
    },
    /// Go elsewhere first (a session without a second factor goes to enrol one).
    Redirect(String),
    /// A refusal shown as an error page to a visitor without a valid session (no session
    /// on a POST, the store unavailable).
    Page(AppError),
    /// A refusal shown as an error page to a signed-in viewer (bad CSRF token, bad form):
    /// the page has the signed-in navigation, built from the session alone.
    Signed(Viewer, AppError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { next } => {
                layout::redirect(&format!("/console/login?next={}", percent_encode(&next)))
            }
            Self::Redirect(to) => layout::redirect(&to),
            Self::Page(e) => layout::error_page(None, &e),
            Self::Signed(viewer, e) => layout::error_page(Some(&viewer), &e),
        }
    }
}

/// Percent-encodes everything but unreserved characters (for a query value).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local console path that is safe to redirect to after sign-in (no scheme, no host, no
/// protocol-relative `//` or backslash tricks); anything else becomes `/console`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("://")
                && !n.chars().any(char::is_control)
                && n.len() <= 512 =>
        {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let refuse = || {
            if parts.method == Method::GET || parts.method == Method::HEAD {
                Refusal::SignIn {
                    next: parts
                        .uri
                        .path_and_query()
                        .map_or("/console", |p| p.as_str())
                        .to_owned(),
                }
            } else {
                Refusal::Page(AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "your console session has ended: sign in again",
                ))
            }
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(refuse());
        };
        let principal = match state.auth.authenticate(token).await {
            Ok(p) => p,
            Err(crate::auth::AuthError::Store(e)) => {
                return Err(Refusal::Page(AppError::unavailable(&e)));
            }
            Err(_) => return Err(refuse()),
        };
        // A session signed in without a second factor may only enrol one (and sign out).
        let path = parts.uri.path();
        let enrolling = path == "/console/account"
            || path.starts_with("/console/account/totp")
            || path.starts_with("/console/account/passkeys")
            || path == "/console/logout";
        if !principal.second_factor && !enrolling {
            return Err(
                if parts.method == Method::GET || parts.method == Method::HEAD {
                    Refusal::Redirect("/console/account".to_owned())
                } else {
                    let viewer = Viewer {
                        username: principal.username.to_string(),
                        admin: principal.admin,
                        csrf: session_csrf(&state.console.csrf_key, token),
                    };
                    Refusal::Signed(
                        viewer,
                        crate::auth::AuthError::EnrolFirst(principal.username.to_string()).into(),
                    )
                },
            );
        }
        Ok(Self {
            csrf: session_csrf(&state.console.csrf_key, token),
            principal,
            token: token.to_owned(),
        })
    }
}

/// Adds the session cookie holding `token` (a console sign-in's, lasting
/// [`SESSION_HOURS`]) to `r`.
pub fn set_session(r: &mut Response, token: &str, secure: bool) {
    if let Some(c) = set_cookie(SESSION_COOKIE, token, SESSION_HOURS * 3600, secure) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
}

/// A sign-in form posted before any session exists: its body parsed as `T` once its `csrf`
/// field matched the pre-session cookie, with the headers and that cookie's nonce (for the
/// next page's token). Any refusal is the error page to answer with.
pub async fn login_form<T: DeserializeOwned>(
    state: &AppState,
    req: Request,
) -> Result<(HeaderMap, T, String), Response> {
    let headers = req.headers().clone();
    let body = form_body(req)
        .await
        .map_err(|e| layout::error_page(None, &e))?;
    let nonce = cookie(&headers, LOGIN_CSRF_COOKIE)
        .unwrap_or_default()
        .to_owned();
    let given = csrf_field(&body).unwrap_or_default();
    if nonce.is_empty() || !verify_login_csrf(&state.console.csrf_key, &nonce, &given) {
        return Err(layout::error_page(None, &csrf_refused()));
    }
    let form = parse_form(&body).map_err(|e| layout::error_page(None, &e))?;
    Ok((headers, form, nonce))
}

/// The body of a form that carries nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// A console form post: the signed-in session, and the body parsed as `T` after its `csrf`
/// field was checked against the session. A post without a valid token is refused with 403
/// before `T` is even parsed.
pub struct Posted<T> {
    /// Who posted.
    pub session: Session,
    /// The form.
    pub form: T,
}

/// Reads a capped form body.
pub async fn form_body(req: Request) -> Result<Bytes, AppError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the form exceeds {MAX_BODY} bytes"),
            )
        })
}

/// The `csrf` field of a form body.
pub fn csrf_field(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
}

/// Parses a form body as `T`, naming the problem.
pub fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::bad_request(format!("the form is incomplete or malformed: {e}")))
}

/// The 403 of a missing or wrong CSRF token.
pub fn csrf_refused() -> AppError {
    AppError::forbidden(
        "the form's security token is missing or does not match your session; reload the page and try again",
    )
}

impl<T> FromRequest<Arc<AppState>> for Posted<T>
where
    T: DeserializeOwned,
{
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        // Refusals from here on are shown to the signed-in viewer: the navigation comes from
        // the session (its cookie, checked above), never from the refused form.
        let refused = |e| Refusal::Signed(session.viewer(), e);
        let body = form_body(Request::from_parts(parts, body))
            .await
            .map_err(refused)?;
        let given = csrf_field(&body).unwrap_or_default();
        if !verify_session_csrf(&state.console.csrf_key, &session.token, &given) {
            return Err(refused(csrf_refused()));
        }
        let form = parse_form(&body).map_err(refused)?;
        Ok(Self { session, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_session_in_a_log_shows_no_token() {
        let session = Session {
            principal: Principal {
                username: breakglass_core::model::Username::new("alice").unwrap(),
                admin: false,
                token: "bgt_the_session_token".to_owned(),
                expires_at: time::macros::datetime!(2024-03-01 12:00 UTC),
                second_factor: true,
                break_glass_only: false,
                totp: crate::auth::TotpOnFile::default(),
                passkeys: false,
                via: None,
            },
            csrf: "the_csrf_token".to_owned(),
            token: "bgt_the_session_token".to_owned(),
        };
        let shown = format!("{session:?} {session:#?} {:?}", session.principal);
        assert!(
            shown.contains("alice") && shown.contains("[redacted]"),
            "{shown}"
        );
        assert!(!shown.contains("bgt_the_session_token"), "{shown}");
        assert!(!shown.contains("the_csrf_token"), "{shown}");
    }

    #[test]
    fn session_tokens_verify_only_for_their_session() {
        let k = key();
        let t = session_csrf(&k, "bgt_one");
        assert!(verify_session_csrf(&k, "bgt_one", &t));
        assert!(!verify_session_csrf(&k, "bgt_two", &t));
        assert!(!verify_session_csrf(&k, "bgt_one", ""));
        assert!(!verify_session_csrf(&k, "bgt_one", "zz"));
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another key, another server.....");
        assert!(!verify_session_csrf(&other, "bgt_one", &t));
        // A pre-session token is not a session token.
        assert!(!verify_session_csrf(
            &k,
            "bgt_one",
            &login_csrf(&k, "bgt_one")
        ));
    }

    #[test]
    fn only_local_console_paths_are_followed() {
        assert_eq!(
            safe_next(Some("/console/requests/r-1")),
            "/console/requests/r-1"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/console",
            "/console\\@evil",
            "/other",
            "/console/x://y",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad}");
        }
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; bg_session=bgt_x"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("bgt_x"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
