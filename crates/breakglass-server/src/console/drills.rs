//! The drills page: whether the latest drill passed, each path's time to access and time to
//! revoke, every step with its findings, and the history of earlier runs (administrators).

use axum::extract::{Query, State};
use axum::response::Response;
use breakglass_core::drill::{DrillRun, Outcome, Step};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout;
use super::signin::Session;
use super::{Failure, OrPage, St};

/// How many runs the history shows.
const HISTORY: u32 = 50;

/// `?run=dr-…` shows that run instead of the latest.
#[derive(Debug, Deserialize)]
pub struct Which {
    run: Option<String>,
}

fn outcome(o: Outcome) -> Markup {
    match o {
        Outcome::Passed => html! { span.status.status-active { "passed" } },
        Outcome::Failed => html! { span.status.status-denied { "failed" } },
        Outcome::Skipped => html! { span.status { "skipped" } },
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |ms| format!("{:.1} s", ms as f64 / 1000.0),
    )
}

fn steps_table(id: &str, caption: &str, steps: &[&Step]) -> Markup {
    let rows = html! {
        @for s in steps {
            tr class=(if s.outcome == Outcome::Failed { "failed" } else { "" }) {
                td data-label="Step" { (s.name) }
                td data-label="Where" {
                    (s.playbook.as_deref().unwrap_or("")) " "
                    (s.role.as_deref().unwrap_or("")) " "
                    (s.account.as_deref().unwrap_or("")) " "
                    (s.region.as_deref().unwrap_or(""))
                }
                td data-label="Outcome" { (outcome(s.outcome)) }
                td data-label="Took" { (s.millis) " ms" }
                td.summary data-label="Findings" {
                    @for f in &s.findings { (layout::text(&f.message)) br; }
                }
            }
        }
    };
    layout::table(
        id,
        caption,
        &["Step", "Where", "Outcome", "Took", "Findings"],
        rows,
        steps.is_empty().then_some("No step of this kind ran."),
    )
}

fn run_detail(run: &DrillRun) -> Markup {
    let failed = run.steps().filter(|s| s.outcome == Outcome::Failed).count();
    let paths = html! {
        @for p in &run.paths {
            tr {
                td data-label="Playbook" { (p.target.playbook.as_str()) }
                td data-label="Role" { (p.target.role.as_str()) }
                td data-label="Account" { (p.target.account.as_str()) }
                td data-label="Outcome" { (outcome(if p.passed() { Outcome::Passed } else { Outcome::Failed })) }
                td data-label="Time to access" { (ms(p.time_to_access_ms)) }
                td data-label="Time to revoke" { (ms(p.time_to_revoke_ms)) }
                td data-label="Request" {
                    @if let Some(r) = &p.request { a href={ "/console/requests/" (r) } { (r) } }
                }
            }
        }
    };
    let preflight: Vec<&Step> = run.preflight.iter().collect();
    let walked: Vec<&Step> = run.paths.iter().flat_map(|p| p.steps.iter()).collect();
    let checks: Vec<&Step> = run.checks.iter().collect();
    html! {
        section #now .now {
            @if failed == 0 {
                p { strong { "Drill " (run.id) " passed" } " on " (layout::time(run.finished_at))
                    ": every path, alert and check worked (" (run.steps().count()) " steps)." }
            } @else {
                p { strong { "Drill " (run.id) " failed" } " on " (layout::time(run.finished_at))
                    ": " (failed) " of " (run.steps().count()) " steps failed. Fix each finding below, then run "
                    code { "breakglass drill" } " again." }
            }
            p { "Incident " code { (run.incident) } ", " (run.trigger.describe()) "." }
        }
        h2 { "Paths" }
        (layout::table("drill-paths", "Each playbook, role and account walked end to end",
            &["Playbook", "Role", "Account", "Outcome", "Time to access", "Time to revoke", "Request"],
            paths, run.paths.is_empty().then_some("No path was walked.")))
        h2 { "Preflight checks" }
        (steps_table("drill-preflight", "Checks that need no grant", &preflight))
        h2 { "Path steps" }
        (steps_table("drill-steps", "Every step of every path", &walked))
        h2 { "Alerts and audit chain" }
        (steps_table("drill-checks", "The security team's channels and the audit chain", &checks))
    }
}

/// `GET /console/drills`.
pub async fn page(
    State(s): St,
    session: Session,
    Query(which): Query<Which>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let caller = session.principal.caller();
    let runs = s.app.drill_runs(&caller, HISTORY).await.or_page(&v)?;
    let shown = match &which.run {
        Some(id) => runs.iter().find(|r| &r.id == id),
        None => runs.first(),
    };
    let history = html! {
        @for r in &runs {
            tr {
                td data-label="Run" { a href={ "/console/drills?run=" (r.id) } { (r.id) } }
                td data-label="Finished" { (layout::time(r.finished_at)) }
                td data-label="Started by" { (r.trigger.describe()) }
                td data-label="Outcome" { (outcome(if r.passed() { Outcome::Passed } else { Outcome::Failed })) }
                td.summary data-label="First finding" {
                    (layout::text(r.findings().next().map_or("", |f| f.message.as_str())))
                }
            }
        }
    };
    let oldest_first: Vec<DrillRun> = runs.iter().rev().cloned().collect();
    let chart = crate::report::drill_times_svg(&oldest_first);
    let body = html! {
        @match shown {
            Some(run) => (run_detail(run)),
            None => section #now .now { p { "No drill has run yet. Run " code { "breakglass drill" }
                ", or set " code { "[drills] every" } " in the config for " code { "serve" } " to drill on a schedule." } },
        }
        @if let Some(svg) = chart {
            h2 { "Time to access across drills" }
            figure.report-chart {
                (maud::PreEscaped(svg))
                figcaption { "Each playbook's slowest path from request to first successful call, per drill" }
            }
        }
        h2 { "History" }
        (layout::table("drill-history", "Drill runs, newest first",
            &["Run", "Finished", "Started by", "Outcome", "First finding"], history,
            runs.is_empty().then_some("No drill has run yet.")))
    };
    Ok(layout::ok("Drills", &v, body))
}
