//! What a request really allows, on its page (the approve page): the use case's effective
//! permissions (`App::permissions`: role ∩ boundary ∩ session policy over the action
//! catalog) as counts per service and access level, every permissions-management and
//! high-risk action, and, when the requester narrowed the playbook's session policy, what
//! the playbook would allow that this request does not.

use breakglass_core::app::Caller;
use breakglass_core::model::RequestId;
use breakglass_core::permissions::EffectivePermissions;
use maud::{Markup, html};

use super::layout;
use crate::app::AppState;

/// The most actions listed under each heading; the rest are counted.
const LISTED: usize = 200;

/// The section for request `id` as `caller` sees it (a short note when the broker cannot
/// compute it).
pub(super) async fn section(s: &AppState, caller: &Caller, id: &RequestId) -> Markup {
    let body = match s.app.permissions(caller, id).await {
        Ok(p) => render(&p),
        Err(e) => html! {
            p #permissions-unavailable { "What this request allows cannot be shown: " (layout::message(&e.to_string())) }
        },
    };
    html! {
        section #permissions aria-labelledby="permissions-heading" {
            h2 #permissions-heading { "What this request allows" }
            (body)
        }
    }
}

fn actions(id: &str, names: &[String]) -> Markup {
    html! {
        ul.actions id=(id) {
            @for a in names.iter().take(LISTED) { li { code { (a) } } }
            @if names.len() > LISTED { li { "… and " (names.len() - LISTED) " more" } }
        }
    }
}

fn render(p: &EffectivePermissions) -> Markup {
    let a = &p.allows;
    let rows = html! {
        @for s in &a.services {
            tr {
                td data-label="Service" { code { (s.service) } }
                td data-label="List" { (s.list) }
                td data-label="Read" { (s.read) }
                td data-label="Write" { (s.write) }
                td data-label="Permissions management" { (s.permissions_management) }
                td data-label="Tagging" { (s.tagging) }
            }
        }
    };
    html! {
        @if p.narrowed {
            p #narrowed .narrowed { strong { "Narrowed by the requester." }
                " The playbook's session policy allows " (p.playbook_total.unwrap_or(0))
                " actions through this role; this request allows " (a.total) "." }
        }
        p #permissions-summary { "This request " (p.summary()) "." }
        @if !a.assumed_allow_all.is_empty() {
            p.note { "An upper bound: these policies' documents were not at hand and are taken to allow everything: "
                (a.assumed_allow_all.join(", ")) "." }
        }
        (layout::table("permissions-services", "Allowed actions per service and access level",
            &["Service", "List", "Read", "Write", "Permissions management", "Tagging"], rows,
            a.services.is_empty().then_some("This request allows no action.")))
        @if !a.notable.is_empty() {
            h3 { "Permissions-management and high-risk actions" }
            ul #permissions-notable .actions {
                @for n in &a.notable {
                    li { code { (n.action) } " — " (n.why)
                        @if n.restricted { " (only on some resources or under conditions)" } }
                }
            }
        }
        @if p.narrowed {
            h3 { "What the playbook allows that this request does not" }
            @if p.removed.is_empty() {
                p #permissions-removed { "No action is removed entirely." }
            } @else {
                details open {
                    summary { (p.removed.len()) " actions removed" }
                    (actions("permissions-removed", &p.removed))
                }
            }
            @if !p.restricted.is_empty() {
                details {
                    summary { (p.restricted.len()) " actions now only on some resources or under conditions" }
                    (actions("permissions-restricted", &p.restricted))
                }
            }
        }
    }
}
