//! Asking for access: the request form and break-glass activation (warning,
//! acknowledgement, TOTP step-up). A refused submission comes back filled in, with the
//! reason.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use breakglass_core::app::Ask;
use breakglass_core::model::Catalog;
use maud::{Markup, html};
use serde::Deserialize;
use time::Duration;

use super::St;
use super::layout::{self, Viewer, csrf_field};
use super::signin::{Posted, Session};
use crate::app::{AppError, AppState, step_up};

/// What the request form holds (kept on a refusal so nothing is typed twice).
#[derive(Debug, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    incident_id: String,
    #[serde(default)]
    playbook: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    duration_minutes: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
    #[serde(default)]
    acknowledge: Option<String>,
}

impl RequestForm {
    fn duration(&self) -> Result<Duration, AppError> {
        let text = self.duration_minutes.trim();
        match text.parse::<i64>() {
            Ok(m) if (1..=24 * 60).contains(&m) => Ok(Duration::minutes(m)),
            _ => Err(AppError::bad_request(format!(
                "the duration `{text}` is not a whole number of minutes between 1 and 1440"
            ))),
        }
    }

    fn ask(&self) -> Result<Ask<'_>, AppError> {
        Ok(Ask {
            playbook: self.playbook.trim(),
            role: self.role.trim(),
            account: self.account.trim(),
            duration: self.duration()?,
            incident: self.incident_id.trim(),
            justification: self.justification.trim(),
        })
    }
}

fn options(values: &[(String, String)], selected: &str) -> Markup {
    html! {
        @for (value, label) in values {
            option value=(value) selected[value == selected] { (label) }
        }
    }
}

/// The playbook, role and account choices of the catalog (break-glass playbooks only when
/// `break_glass`).
fn choices(c: &Catalog, break_glass: bool) -> [Vec<(String, String)>; 3] {
    let playbooks: Vec<_> = c
        .playbooks
        .iter()
        .filter(|p| !break_glass || p.break_glass)
        .collect();
    let mut roles: Vec<(String, String)> = Vec::new();
    for p in &playbooks {
        for r in &p.roles {
            let r = r.to_string();
            if !roles.iter().any(|(v, _)| *v == r) {
                roles.push((r.clone(), r));
            }
        }
    }
    let accounts = c
        .accounts
        .iter()
        .map(|a| (a.id.to_string(), format!("{} ({})", a.name, a.id)))
        .collect();
    let playbooks = playbooks
        .iter()
        .map(|p| {
            let max = layout::duration(p.max_duration);
            (
                p.id.to_string(),
                format!("{} — {} (up to {max})", p.id, p.title),
            )
        })
        .collect();
    [playbooks, roles, accounts]
}

fn request_fields(c: &Catalog, f: &RequestForm, break_glass: bool) -> Markup {
    let [playbooks, roles, accounts] = choices(c, break_glass);
    let first = |list: &[(String, String)], chosen: &str| {
        if chosen.is_empty() {
            list.first().map(|(v, _)| v.clone()).unwrap_or_default()
        } else {
            chosen.to_owned()
        }
    };
    let playbook = first(&playbooks, &f.playbook);
    let role = first(&roles, &f.role);
    let account = first(&accounts, &f.account);
    let minutes = if f.duration_minutes.is_empty() {
        "60"
    } else {
        f.duration_minutes.as_str()
    };
    html! {
        label for="incident_id" { "Incident id" }
        input #incident_id type="text" name="incident_id" value=(f.incident_id)
            required placeholder="INC-2024-001" autocapitalize="characters";
        label for="playbook" { "Playbook" }
        select #playbook name="playbook" required { (options(&playbooks, &playbook)) }
        label for="role" { "Role" }
        select #role name="role" required { (options(&roles, &role)) }
        label for="account" { "Account" }
        select #account name="account" required { (options(&accounts, &account)) }
        label for="duration_minutes" { "Duration (minutes)" }
        input #duration_minutes type="number" name="duration_minutes" min="1" max="1440"
            value=(minutes) required inputmode="numeric";
        label for="justification" { "Justification" }
        textarea #justification name="justification" rows="3" required { (f.justification) }
    }
}

fn new_request_page(
    s: &AppState,
    v: &Viewer,
    f: &RequestForm,
    error: Option<&AppError>,
) -> Response {
    let rules = s.app.rules();
    let body = html! {
        @if let Some(e) = error { (layout::alert(&e.message)) }
        p { "Ask for a role for an incident. Approvers are notified at once; you activate the grant once it is approved." }
        form.stack method="post" action="/console/requests" {
            (csrf_field(&v.csrf))
            (request_fields(rules.catalog(), f, false))
            button type="submit" { "Submit request" }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    layout::respond(status, layout::page("Request access", Some(v), body))
}

/// `GET /console/requests/new`.
pub async fn new_request(State(s): St, session: Session) -> Response {
    new_request_page(&s, &session.viewer(), &RequestForm::default(), None)
}

/// `POST /console/requests`: submits, then 303 to the request.
pub async fn create_request(
    State(s): St,
    Posted { session, form }: Posted<RequestForm>,
) -> Response {
    let v = session.viewer();
    let result = async {
        let caller = session.principal.caller();
        Ok::<_, AppError>(s.app.submit(&caller, &form.ask()?).await?)
    }
    .await;
    match result {
        Ok(o) => layout::redirect(&format!("/console/requests/{}", o.request.id)),
        Err(e) => new_request_page(&s, &v, &form, Some(&e)),
    }
}

fn break_glass_page(
    s: &AppState,
    session: &Session,
    f: &RequestForm,
    error: Option<&AppError>,
) -> Response {
    let v = &session.viewer();
    let p = &session.principal;
    let rules = s.app.rules();
    let body = html! {
        div #break-glass-warning .warning role="alert" {
            strong { "Emergency access." }
            " Break-glass activation grants access at once, without approvers. It pages the whole security team on every channel, is recorded in the audit log, and requires a post-incident review. Use it only when waiting for approval would cause harm."
        }
        @if let Some(e) = error { (layout::alert(&e.message)) }
        form.stack method="post" action="/console/break-glass" {
            (csrf_field(&v.csrf))
            (request_fields(rules.catalog(), f, true))
            div.check {
                input #acknowledge type="checkbox" name="acknowledge" value="yes" required;
                label for="acknowledge" { "I understand that activation pages the security team and requires a post-incident review." }
            }
            @if super::passkeys::offers_code(s, p) {
                label for="totp" { "TOTP code (step-up)" }
                input #totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}"
                    maxlength="6" autocomplete="one-time-code" required[super::passkeys::code_required(s, p)];
                button.danger type="submit" { "Activate break-glass" }
            }
            (super::passkeys::step_up_fields(s, p, s.app.break_glass_purpose()))
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    layout::respond(status, layout::page("Break-glass access", Some(v), body))
}

/// `GET /console/break-glass`.
pub async fn break_glass_form(State(s): St, session: Session) -> Response {
    break_glass_page(&s, &session, &RequestForm::default(), None)
}

/// `POST /console/break-glass`: acknowledgement, TOTP step-up, then immediate activation.
pub async fn break_glass(State(s): St, Posted { session, form }: Posted<RequestForm>) -> Response {
    let result = async {
        if form.acknowledge.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::bad_request(
                "tick the box to confirm that you understand activation pages the security team",
            ));
        }
        let passkey = super::passkeys::parse_answer(&form.passkey)?;
        let answer = super::passkeys::answer(&form.totp, passkey.as_ref());
        step_up::break_glass(&s, &session.principal, &form.ask()?, answer).await
    }
    .await;
    match result {
        Ok(o) => layout::redirect(&format!("/console/requests/{}", o.request.id)),
        Err(e) => break_glass_page(&s, &session, &form, Some(&e)),
    }
}
