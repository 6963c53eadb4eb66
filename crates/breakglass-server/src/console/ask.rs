//! Asking for access: the request form and break-glass activation (warning,
//! acknowledgement, TOTP step-up). Both pick the playbook first (a GET form, so it works
//! without JavaScript) and then offer only the roles and accounts that playbook can grant.
//! A refused submission comes back filled in, with the reason.

use axum::extract::{Query, State};
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

/// A duration as the console's fields take it: plain minutes (`90`) or the config's units
/// (`90m`, `1h30m`, `4h`).
pub(super) fn duration_field(text: &str) -> Result<Duration, AppError> {
    let text = text.trim();
    let parsed = match text.parse::<i64>() {
        Ok(m) => Some(Duration::minutes(m)),
        Err(_) => breakglass_config::parse_duration(text).ok(),
    };
    match parsed {
        Some(d) if d >= Duration::minutes(1) && d <= Duration::hours(24) => Ok(d),
        _ => Err(AppError::bad_request(format!(
            "the duration `{text}` is not one the console takes: write minutes (`90`) or hours and minutes (`1h30m`), between 1m and 24h"
        ))),
    }
}

impl RequestForm {
    fn ask(&self) -> Result<Ask<'_>, AppError> {
        Ok(Ask {
            playbook: self.playbook.trim(),
            role: self.role.trim(),
            account: self.account.trim(),
            duration: duration_field(&self.duration_minutes)?,
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

/// The playbooks a form offers (break-glass ones only when `break_glass`), as
/// `(id, label)`.
fn playbook_choices(c: &Catalog, break_glass: bool) -> Vec<(String, String)> {
    c.playbooks
        .iter()
        .filter(|p| !break_glass || p.break_glass)
        .map(|p| {
            let max = layout::duration(p.max_duration);
            (
                p.id.to_string(),
                format!("{} — {} (up to {max})", p.id, p.title),
            )
        })
        .collect()
}

/// One option of a select: its value and its label.
type Choice = (String, String);

/// The roles and the accounts playbook `id` can grant ([`Catalog::grantable`]), each once,
/// as `(value, label)`; none for an unknown playbook.
fn grantable(c: &Catalog, id: &str) -> (Vec<Choice>, Vec<Choice>) {
    let (mut roles, mut accounts): (Vec<Choice>, Vec<Choice>) = (Vec::new(), Vec::new());
    let Some(p) = c.playbooks.iter().find(|p| p.id.as_str() == id) else {
        return (roles, accounts);
    };
    for r in c.grantable(p) {
        let role = r.name.to_string();
        if !roles.iter().any(|(v, _)| *v == role) {
            roles.push((role.clone(), role));
        }
        let account = r.account.to_string();
        if !accounts.iter().any(|(v, _)| *v == account) {
            accounts.push((account, layout::account(c, &r.account)));
        }
    }
    (roles, accounts)
}

/// The playbook the form is for: the one chosen, or the first offered.
fn chosen_playbook(playbooks: &[(String, String)], chosen: &str) -> String {
    if playbooks.iter().any(|(v, _)| v == chosen) {
        chosen.to_owned()
    } else {
        playbooks
            .first()
            .map(|(v, _)| v.clone())
            .unwrap_or_default()
    }
}

/// Step one, a form of its own (GET, so it works without JavaScript): the playbook.
/// Choosing one renders the page again with that playbook's roles and accounts only;
/// app.js submits it on change.
fn playbook_form(c: &Catalog, action: &str, break_glass: bool, chosen: &str) -> Markup {
    let playbooks = playbook_choices(c, break_glass);
    html! {
        form #playbook-form .stack method="get" action=(action) {
            label for="playbook" { "Playbook" }
            select #playbook name="playbook" data-autosubmit required { (options(&playbooks, chosen)) }
            button.secondary type="submit" data-autosubmit-button { "Show this playbook's roles" }
        }
    }
}

/// Step two: the request itself, for the chosen playbook (a hidden field), offering only
/// the roles and accounts that playbook can grant.
fn request_fields(c: &Catalog, f: &RequestForm, playbook: &str) -> Markup {
    let (roles, accounts) = grantable(c, playbook);
    let first = |list: &[(String, String)], chosen: &str| {
        if list.iter().any(|(v, _)| v == chosen) {
            chosen.to_owned()
        } else {
            list.first().map(|(v, _)| v.clone()).unwrap_or_default()
        }
    };
    let role = first(&roles, &f.role);
    let account = first(&accounts, &f.account);
    let duration = if f.duration_minutes.is_empty() {
        "1h"
    } else {
        f.duration_minutes.as_str()
    };
    html! {
        input type="hidden" name="playbook" value=(playbook);
        label for="role" { "Role" }
        select #role name="role" required { (options(&roles, &role)) }
        label for="account" { "Account" }
        select #account name="account" required { (options(&accounts, &account)) }
        label for="incident_id" { "Incident id" }
        input #incident_id type="text" name="incident_id" value=(f.incident_id)
            required placeholder="INC-2024-001" autocapitalize="characters";
        label for="duration_minutes" { "Duration (e.g. 90m, 1h30m, or minutes)" }
        input #duration_minutes type="text" name="duration_minutes"
            value=(duration) required autocomplete="off";
        label for="justification" { "Justification" }
        textarea #justification name="justification" rows="3" required { (f.justification) }
    }
}

/// `?playbook=` on the form pages: the playbook chosen in step one.
#[derive(Debug, Default, Deserialize)]
pub struct Chosen {
    #[serde(default)]
    playbook: String,
}

fn new_request_page(
    s: &AppState,
    v: &Viewer,
    f: &RequestForm,
    error: Option<&AppError>,
) -> Response {
    let rules = s.app.rules();
    let c = rules.catalog();
    let playbook = chosen_playbook(&playbook_choices(c, false), &f.playbook);
    let body = html! {
        @if let Some(e) = error { (layout::alert(&e.message)) }
        p #request-intro { "Ask for a role for an incident: choose the playbook, then its role and account. Approvers are notified at once; you activate the grant once it is approved." }
        (playbook_form(c, "/console/requests/new", false, &playbook))
        form #request-form .stack method="post" action="/console/requests" {
            (csrf_field(&v.csrf))
            (request_fields(c, f, &playbook))
            button type="submit" { "Submit request" }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    layout::respond(status, layout::page("Request access", Some(v), body))
}

/// `GET /console/requests/new[?playbook=…]`.
pub async fn new_request(State(s): St, session: Session, Query(q): Query<Chosen>) -> Response {
    let form = RequestForm {
        playbook: q.playbook,
        ..RequestForm::default()
    };
    new_request_page(&s, &session.viewer(), &form, None)
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
        Ok(o) => layout::redirect(&layout::done_at(o.request.id.as_ref(), "submitted")),
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
    let c = rules.catalog();
    let playbook = chosen_playbook(&playbook_choices(c, true), &f.playbook);
    let body = html! {
        div #break-glass-warning .warning role="alert" {
            strong { "Emergency access." }
            " Break-glass activation grants access at once, without approvers. It pages the whole security team on every channel, is recorded in the audit log, and requires a post-incident review. Use it only when waiting for approval would cause harm."
        }
        @if let Some(e) = error { (layout::alert(&e.message)) }
        (playbook_form(c, "/console/break-glass", true, &playbook))
        form #break-glass-form .stack method="post" action="/console/break-glass" {
            (csrf_field(&v.csrf))
            (request_fields(c, f, &playbook))
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

/// `GET /console/break-glass[?playbook=…]`.
pub async fn break_glass_form(State(s): St, session: Session, Query(q): Query<Chosen>) -> Response {
    let form = RequestForm {
        playbook: q.playbook,
        ..RequestForm::default()
    };
    break_glass_page(&s, &session, &form, None)
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
        Ok(o) => layout::redirect(&layout::done_at(o.request.id.as_ref(), "break-glass")),
        Err(e) => break_glass_page(&s, &session, &form, Some(&e)),
    }
}
