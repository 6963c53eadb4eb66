//! Linking a Slack account: the console half of `/breakglass link`. Slack vouched for the
//! Slack account when it made the code; here the broker user, signed in, sees which Slack
//! account the code is for and confirms. Nothing is linked by opening the page: only the
//! confirming post (with the session's CSRF token) links, and the code then stops working.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use breakglass_core::chat::{ChatPlatform, LinkOf};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, csrf_field};
use super::passkeys::{answer, code_required, offers_code, parse_answer, step_up_fields};
use super::signin::{NoFields, Posted, Session};
use super::{Failure, OrPage, St};
use crate::app::{AppError, AppState};

/// `GET /console/chat/link/{code}`: what the code would link, and the confirm button.
pub async fn confirm_page(
    State(s): St,
    Path(code): Path<String>,
    session: Session,
) -> Result<Response, Failure> {
    let viewer = session.viewer();
    let pending = s.auth.chat_link_pending(&code).await.or_page(&viewer)?;
    let purpose = crate::app::AuthService::chat_link_purpose(&pending);
    let body = html! {
        h1 { "Link a Slack account" }
        p {
            "Link Slack user " code { (pending.chat_user) } " in workspace " code { (pending.team) }
            " to your breakglass account " strong { (session.principal.username) } "?"
        }
        p {
            "Once linked, that Slack account may request access and approve or deny requests as you. "
            "Each approval still asks for your own second factor. Confirm only if you just ran "
            code { "/breakglass link" } " in Slack yourself: someone who sends you this link wants their Slack account to act as you."
        }
        form.stack method="post" action={ "/console/chat/link/" (code) } {
            (csrf_field(&session.csrf))
            @if offers_code(&s, &session.principal) {
                label for="totp" { "Your TOTP code" }
                input #totp name="totp" inputmode="numeric" autocomplete="one-time-code"
                    required[code_required(&s, &session.principal)];
            }
            (step_up_fields(&s, &session.principal, &purpose))
            button type="submit" { "Link this Slack account" }
        }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Link Slack", Some(&viewer), body),
    ))
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
}

/// `POST /console/chat/link/{code}`: links it (once), after the step-up.
pub async fn confirm(
    State(s): St,
    Path(code): Path<String>,
    Posted { session, form }: Posted<LinkForm>,
) -> Result<Response, Failure> {
    let viewer = session.viewer();
    let passkey = parse_answer(&form.passkey).or_page(&viewer)?;
    let linked = s
        .auth
        .chat_link(
            &session.principal,
            &code,
            answer(&form.totp, passkey.as_ref()),
        )
        .await
        .or_page(&viewer)?;
    let body = html! {
        h1 { "Slack account linked" }
        p role="status" {
            "Slack user " code { (linked.chat_user) } " now acts as " strong { (session.principal.username) }
            " in breakglass. The security team was told."
        }
        p { a href="/console" { "Back to the dashboard" } }
    };
    Ok(layout::respond(
        StatusCode::OK,
        layout::page("Slack linked", Some(&viewer), body),
    ))
}

/// The account page's Slack section: the linked Slack account and the button that unlinks
/// it; nothing when the Slack app is not configured.
pub async fn section(s: &AppState, session: &Session) -> Result<Markup, AppError> {
    if s.slack.is_none() {
        return Ok(html! {});
    }
    let me = session.principal.username.as_str();
    let link = s.auth.linked(ChatPlatform::Slack, LinkOf::User(me)).await?;
    Ok(html! {
        section {
            h2 { "Slack" }
            @if let Some(l) = link {
                p {
                    "Slack user " code { (l.chat_user) } " (workspace " code { (l.team) } ") acts as you, linked "
                    (layout::time(l.linked_at)) "."
                }
                form.stack method="post" action="/console/account/slack/unlink" {
                    (csrf_field(&session.csrf))
                    button.secondary type="submit" { "Unlink this Slack account" }
                }
            } @else {
                p { "No Slack account is linked. Run " code { "/breakglass link" } " in Slack to link yours." }
            }
        }
    })
}

/// `POST /console/account/slack/unlink`.
pub async fn unlink(
    State(s): St,
    Posted { session, .. }: Posted<NoFields>,
) -> Result<Response, Failure> {
    let viewer = session.viewer();
    s.auth
        .chat_unlink(&session.principal, ChatPlatform::Slack)
        .await
        .or_page(&viewer)?;
    Ok(layout::redirect("/console/account?slack=unlinked"))
}
