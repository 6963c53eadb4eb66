//! What CloudTrail showed: a grant's timeline on its request page (every call its
//! credentials made, filterable, with a chart of calls over time and the alert rules' hits),
//! and the unbrokered-use page (administrators): each critical finding, what it was, who,
//! when, how many events, and the retroactive break-glass record it opened.

use axum::extract::State;
use axum::response::Response;
use breakglass_core::activity::{Finding, StoredEvent};
use breakglass_core::app::{GrantActivity, LeastPrivilege};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout;
use super::signin::Session;
use super::{Failure, OrPage, St};

/// The timeline's filters, from the request page's query string.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ActivityFilter {
    /// Only calls to this service (`s3`, or `s3.amazonaws.com`).
    #[serde(default)]
    pub service: Option<String>,
    /// Only calls whose action contains this text (any case).
    #[serde(default)]
    pub action: Option<String>,
    /// Only failed calls (`errors=1`).
    #[serde(default)]
    pub errors: Option<String>,
}

impl ActivityFilter {
    fn admits(&self, e: &StoredEvent) -> bool {
        let service = self.service.as_deref().filter(|s| !s.is_empty());
        let action = self.action.as_deref().filter(|s| !s.is_empty());
        service.is_none_or(|s| {
            e.event.service == s || e.event.service.strip_suffix(".amazonaws.com") == Some(s)
        }) && action.is_none_or(|a| e.event.action.to_lowercase().contains(&a.to_lowercase()))
            && (self
                .errors
                .as_deref()
                .is_none_or(|x| x.is_empty() || x == "0")
                || e.event.error.is_some())
    }

    fn active(&self) -> bool {
        [&self.service, &self.action, &self.errors]
            .iter()
            .any(|v| v.as_deref().is_some_and(|s| !s.is_empty() && s != "0"))
    }
}

fn event_rows(events: &[&StoredEvent]) -> Markup {
    html! {
        @for e in events {
            @let ev = &e.event;
            tr class=(if ev.error.is_some() { "failed" } else { "" }) data-event-id=(ev.event_id) {
                td data-label="Time" { (layout::time(ev.at)) }
                td data-label="Service" { (ev.service.strip_suffix(".amazonaws.com").unwrap_or(&ev.service)) }
                td data-label="Action" { code { (ev.action) } }
                td.summary data-label="Resource" { (ev.resource.as_deref().unwrap_or("")) }
                td data-label="Error" { (ev.error.as_deref().unwrap_or("")) }
                td data-label="Source IP" { (ev.source_ip.as_deref().unwrap_or("")) }
                td.summary data-label="User agent" { (ev.user_agent.as_deref().unwrap_or("")) }
            }
        }
    }
}

/// What the grant used of its playbook, and the policy its calls needed, offered as a
/// suggestion for the playbook.
fn least_privilege(lp: &LeastPrivilege, playbook: &str) -> Markup {
    html! {
        section #least-privilege aria-label="Least privilege" {
            h3 { "Least privilege" }
            p #used-of-allowed { "This grant used " strong { (lp.used) } " of the " strong { (lp.allowed) }
                " actions its playbook " code { (playbook) } " allowed." }
            @if !lp.not_allowed.is_empty() {
                p.hint { "Also tried, outside the playbook: "
                    @for a in &lp.not_allowed { code { (a) } " " } }
            }
            details {
                summary { "Suggested session policy for " code { (playbook) } ", from what this grant did"
                    @if !lp.usable { " (over the size limit or with lint errors: review before use)" } }
                pre.policy { (lp.policy) }
            }
        }
    }
}

/// The request page's activity section.
pub fn timeline(
    rid: &str,
    activity: &GrantActivity,
    filter: &ActivityFilter,
    lp: Option<(&LeastPrivilege, &str)>,
) -> Markup {
    let shown: Vec<&StoredEvent> = activity
        .events
        .iter()
        .filter(|e| filter.admits(e))
        .collect();
    let chart = crate::report::calls_svg(&shown);
    let hits: Vec<&StoredEvent> = activity.rule_findings().collect();
    let services: std::collections::BTreeSet<&str> = activity
        .events
        .iter()
        .map(|e| {
            e.event
                .service
                .strip_suffix(".amazonaws.com")
                .unwrap_or(&e.event.service)
        })
        .collect();
    let empty = if activity.events.is_empty() {
        "CloudTrail has shown no call of this grant's credentials yet (events reach the broker a few minutes after they happen)."
    } else {
        "No call matches these filters."
    };
    html! {
        section #activity aria-label="Activity" {
            h2 { "Activity" }
            p.hint { (activity.events.len()) " calls seen in CloudTrail"
                @if activity.truncated { " (the first " (activity.events.len()) " are shown)" }
                @if filter.active() { "; " (shown.len()) " match the filters" } "." }
            form.filters method="get" action={ "/console/requests/" (rid) } {
                label { "Service "
                    select name="service" {
                        option value="" { "any" }
                        @for s in &services {
                            option value=(s) selected[filter.service.as_deref() == Some(*s)] { (s) }
                        }
                    }
                }
                " "
                label { "Action " input type="text" name="action" value=(filter.action.as_deref().unwrap_or("")) size="16"; }
                " "
                label { input type="checkbox" name="errors" value="1" checked[filter.errors.as_deref() == Some("1")]; " failed only" }
                " "
                button type="submit" { "Filter" }
            }
            @if let Some(svg) = chart {
                figure.report-chart #activity-chart {
                    (maud::PreEscaped(svg))
                    figcaption { "Calls over time (failed calls separately)" }
                }
            }
            @if let Some((lp, playbook)) = lp { (least_privilege(lp, playbook)) }
            @if !hits.is_empty() {
                h3 { "Alert rules that matched" }
                ul #rule-findings {
                    @for e in &hits {
                        li { (layout::time(e.event.at)) " " code { (e.event.action) } ": " (e.event.rules.join(", ")) }
                    }
                }
            }
            (layout::table("timeline", "Calls made with this grant's credentials, oldest first",
                &["Time", "Service", "Action", "Resource", "Error", "Source IP", "User agent"],
                event_rows(&shown), shown.is_empty().then_some(empty)))
        }
    }
}

/// `GET /console/findings`: unbrokered use (administrators).
pub async fn findings(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let list = s
        .app
        .unbrokered_use(
            &session.principal.caller(),
            breakglass_core::app::FINDINGS_PAGE,
        )
        .await
        .or_page(&v)?;
    let rows = html! {
        @for f in &list { (finding_row(f)) }
    };
    let body = html! {
        p.hint { "Uses of a brokered role, a break-glass role or the broker's own principal that no grant explains, "
            "and every sign-in of a break-glass IAM user. Each is audited and alerted once; later events of the same use join it." }
        (layout::table("findings", "Unbrokered use, newest first",
            &["Seen", "What", "Role", "Who", "Events", "Record"], rows,
            list.is_empty().then_some("No unbrokered use has been seen.")))
    };
    Ok(layout::ok("Unbrokered use", &v, body))
}

fn finding_row(f: &Finding) -> Markup {
    html! {
        tr.failed data-finding=(f.id) {
            td data-label="Seen" { (layout::time(f.first_seen))
                @if f.last_seen != f.first_seen { " – " (layout::time(f.last_seen)) } }
            td data-label="What" { span.status.status-denied { "critical" } " " (f.kind.title()) }
            td.summary data-label="Role" { (f.role.as_deref().unwrap_or("")) }
            td.summary data-label="Who" { (f.actor)
                @if let Some(s) = &f.session { " (session " code { (s) } ")" } }
            td data-label="Events" { (f.events) }
            td data-label="Record" {
                @if let Some(r) = &f.record {
                    a href={ "/console/requests/" (r) } { (r) } " (review required)"
                }
            }
        }
    }
}
