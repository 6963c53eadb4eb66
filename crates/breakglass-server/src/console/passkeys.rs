//! Passkeys in the console: enrolling one on the account page, answering a step-up with one
//! (every form that asks for a TOTP code offers "Use passkey" to a user who has one), and
//! signing in with one after the password.
//!
//! The browser half is `static/app.js`: it fetches a challenge from these handlers (form
//! posts with the session's CSRF token, answered in JSON), hands it to
//! `navigator.credentials`, and posts the answer back in the form's hidden `passkey` field.
//! Which action an answer authorises is fixed when its challenge is made (the form's
//! `data-passkey-purpose`, the same text the action checks), so an answer obtained for one
//! form is refused by every other.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use breakglass_api::{PasskeyAnswer, PasskeyChallenge};
use maud::{Markup, html};
use serde::Deserialize;
use time::Duration;

use super::St;
use super::layout::{self, csrf_field};
use super::signin::{self, Posted, SESSION_HOURS, Session, TOKEN_NAME};
use crate::app::extract::ClientAddr;
use crate::app::{AppError, AppState};
use crate::auth::{Answer, Challenge, Principal};

/// The hidden field and the "Use passkey" button of a step-up form whose answer authorises
/// `purpose`; nothing when passkeys are off or the user has none. The script shows the
/// button (it does nothing without it).
pub fn step_up_fields(s: &AppState, principal: &Principal, purpose: &str) -> Markup {
    if !(s.auth.passkeys_on() && principal.passkeys) {
        return html! {};
    }
    html! {
        input type="hidden" name="passkey" value="";
        button.secondary type="button" data-passkey-purpose=(purpose) hidden { "Use passkey" }
        p.passkey-status role="status" {}
    }
}

/// Whether a TOTP code field must be filled: not for a user who can answer with a passkey.
pub fn code_required(s: &AppState, principal: &Principal) -> bool {
    !(s.auth.passkeys_on() && principal.passkeys)
}

/// Whether a step-up form shows the TOTP code field: for a user with an authenticator, and
/// for one who has no passkey to answer with (they are told to enrol).
pub fn offers_code(s: &AppState, principal: &Principal) -> bool {
    principal.has_totp() || code_required(s, principal)
}

/// The passkey answer a form's hidden `passkey` field carries, if any.
pub fn parse_answer(text: &str) -> Result<Option<PasskeyAnswer>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|e| {
        AppError::bad_request(format!(
            "the passkey answer (field `passkey`) is malformed: {e}; try the passkey again"
        ))
    })
}

/// The step-up a form carries: its passkey answer when it has one, else its code.
pub fn answer<'a>(code: &'a str, passkey: Option<&'a PasskeyAnswer>) -> Answer<'a> {
    Answer::of(code.trim(), passkey)
}

fn challenge_json(c: Challenge) -> Response {
    (
        StatusCode::CREATED,
        Json(PasskeyChallenge {
            ceremony: c.ceremony,
            public_key: c.options,
        }),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct ChallengeForm {
    #[serde(default)]
    purpose: String,
}

/// `POST /console/passkeys/challenge`: a challenge for one step-up (JSON).
pub async fn challenge(
    State(s): St,
    Posted { session, form }: Posted<ChallengeForm>,
) -> Result<Response, AppError> {
    Ok(challenge_json(
        s.auth
            .start_passkey_step_up(&session.principal, &form.purpose)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct EnrolStartForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
}

/// `POST /console/account/passkeys/start`: the creation challenge of a new passkey, once
/// the password is given again (JSON).
pub async fn enrol_start(
    State(s): St,
    client: ClientAddr,
    Posted { session, form }: Posted<EnrolStartForm>,
) -> Result<Response, AppError> {
    let address = client.to_string();
    let passkey = parse_answer(&form.passkey)?;
    Ok(challenge_json(
        s.auth
            .start_passkey_enrolment(
                &session.principal,
                &form.password,
                Some(answer(&form.totp, passkey.as_ref())),
                &address,
            )
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    credential: String,
}

/// `POST /console/account/passkeys`: stores the new passkey (JSON: where to go next). A
/// first second factor replaces the session with one that passed it.
pub async fn enrol(
    State(s): St,
    headers: HeaderMap,
    Posted { session, form }: Posted<EnrolForm>,
) -> Result<Response, AppError> {
    let credential: serde_json::Value = serde_json::from_str(&form.credential).map_err(|e| {
        AppError::bad_request(format!(
            "the passkey's answer (field `credential`) is malformed: {e}"
        ))
    })?;
    let (_, token) = s
        .auth
        .finish_passkey_enrolment(&session.principal, &form.ceremony, &form.name, &credential)
        .await?;
    let mut r =
        Json(serde_json::json!({"redirect": "/console/account?passkey=enrolled"})).into_response();
    if let Some(token) = token {
        signin::set_session(&mut r, token.secret.expose(), s.console.secure(&headers));
    }
    Ok(r)
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
}

/// `POST /console/account/passkeys/{id}/remove`: removes a passkey, with a step-up.
pub async fn remove(
    State(s): St,
    Path(id): Path<String>,
    Posted { session, form }: Posted<RemoveForm>,
) -> Result<Response, super::Failure> {
    let result = async {
        let passkey = parse_answer(&form.passkey)?;
        s.auth
            .remove_passkey(
                &session.principal,
                &id,
                answer(&form.totp, passkey.as_ref()),
            )
            .await?;
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(layout::redirect("/console/account?passkey=removed")),
        Err(e) => Err(super::Failure::new(&session.viewer(), e)),
    }
}

/// The account page's passkey section.
pub async fn section(s: &AppState, session: &Session) -> Result<Markup, AppError> {
    if !s.auth.passkeys_on() {
        return Ok(html! {});
    }
    let p = &session.principal;
    let keys = s.auth.passkeys(&p.username).await?;
    let csrf = &session.csrf;
    let rows = html! {
        @for k in &keys {
            tr {
                td data-label="Name" { (k.name) }
                td data-label="Enrolled" { (layout::time(k.created_at)) }
                td data-label="Last used" { @if let Some(at) = k.last_used_at { (layout::time(at)) } @else { "never" } }
                td data-label="Remove" {
                    form.stack method="post" action={ "/console/account/passkeys/" (k.id) "/remove" } {
                        (csrf_field(csrf))
                        @if p.has_totp() {
                            label for={ "remove-totp-" (k.id) } { "TOTP code" }
                            input id={ "remove-totp-" (k.id) } type="text" name="totp" inputmode="numeric"
                                pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code";
                            button.danger type="submit" aria-label={ "Remove passkey " (k.name) } { "Remove" }
                        }
                        (step_up_fields(s, p, &crate::auth::passkey::remove_purpose(&k.id)))
                    }
                }
            }
        }
    };
    Ok(html! {
        h2 #passkeys { "Passkeys" }
        p { "A passkey (a security key, or your device's screen lock) answers a step-up with one touch, and cannot be phished: it only answers this site. Some playbooks take nothing else." }
        (layout::table("passkey-list", "Your passkeys", &["Name", "Enrolled", "Last used", ""], rows,
            keys.is_empty().then_some("No passkeys.")))
        // A user with a second factor proves it too: a code, or (with no code given) one of
        // their passkeys, asked for by the script before the new one is created.
        form #passkey-enrol .stack method="post" action="/console/account/passkeys"
            data-step-up-purpose=[p.passkeys.then_some(crate::auth::passkey::ADD_PURPOSE)] {
            (csrf_field(csrf))
            label for="passkey-name" { "Name for the new passkey" }
            input #passkey-name type="text" name="name" maxlength="100" placeholder="laptop" required;
            label for="passkey-password" { "Your password" }
            input #passkey-password type="password" name="password" autocomplete="current-password" required;
            @if p.has_totp() {
                label for="passkey-totp" { "TOTP code" @if p.passkeys { " (or leave empty to confirm with a passkey you have)" } }
                input #passkey-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}"
                    maxlength="6" autocomplete="one-time-code" required[!p.passkeys];
            }
            button #passkey-enrol-button type="button" hidden { "Add a passkey" }
            p.passkey-status role="status" {}
            noscript { p { "Adding a passkey needs JavaScript: the browser's passkey prompt is opened by a script." } }
        }
    })
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    next: Option<String>,
}

/// The page that asks for the passkey once the password was right.
pub fn sign_in_page(csrf: &str, next: &str, c: &Challenge) -> Markup {
    layout::page(
        "Sign in with your passkey",
        None,
        html! {
            p { "Your password is right. Now confirm with your passkey." }
            form #passkey-sign-in .stack method="post" action="/console/login/passkey"
                data-options=(c.options.to_string()) {
                (csrf_field(csrf))
                input type="hidden" name="next" value=(next);
                input type="hidden" name="ceremony" value=(c.ceremony);
                input type="hidden" name="credential" value="";
                button #passkey-sign-in-button type="button" hidden { "Use passkey" }
                p.passkey-status role="status" {}
                noscript { p { "Signing in with a passkey needs JavaScript." } }
            }
            p { a href="/console/login" { "Start again" } }
        },
    )
}

/// `POST /console/login/passkey`: the passkey's answer to the sign-in challenge; on success
/// the session cookie is set.
pub async fn sign_in(State(s): St, client: ClientAddr, req: Request) -> Response {
    let address = client.to_string();
    let (headers, f, _) = match signin::login_form::<SignInForm>(&s, req).await {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let next = signin::safe_next(f.next.as_deref());
    let credential = match serde_json::from_str(&f.credential) {
        Ok(c) => c,
        Err(e) => {
            return layout::error_page(
                None,
                &AppError::bad_request(format!(
                    "the passkey's answer is malformed: {e}; sign in again"
                )),
            );
        }
    };
    let answer = PasskeyAnswer {
        ceremony: f.ceremony,
        credential,
    };
    match s
        .auth
        .finish_passkey_sign_in(
            &answer,
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
        Err(e) => layout::error_page(None, &e.into()),
    }
}
