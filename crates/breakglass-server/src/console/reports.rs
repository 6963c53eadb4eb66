//! The reports in the console (administrators): the access review, the break-glass usage
//! log and the session summary of a period, read through the same use cases as
//! `breakglass report`, shown as a page, or downloaded as the self-contained HTML document
//! or as JSON. The incident-response documentation is generated from the config, which the
//! console does not read: `breakglass report ir-docs` makes it.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use breakglass_core::app::ReviewOptions;
use breakglass_core::model::IncidentId;
use breakglass_core::report::{Period, Tabular, parse_time};
use maud::html;
use serde::Deserialize;

use super::layout;
use super::signin::Session;
use super::{Failure, OrPage, St};
use crate::app::AppError;

/// The period (`from`, `to`: RFC 3339 or dates), one incident for the session summary,
/// and `download=html|json` for the file instead of the page.
#[derive(Debug, Deserialize)]
pub struct Asked {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    incident: Option<String>,
    #[serde(default)]
    download: Option<String>,
}

/// The reports the console makes: path, title.
const REPORTS: [(&str, &str); 3] = [
    ("access-review", "Access review"),
    ("break-glass-log", "Break-glass usage log"),
    ("sessions", "Session summary"),
];

/// `GET /console/reports`.
pub async fn index(session: Session) -> Response {
    let v = session.viewer();
    let body = html! {
        section #now .now {
            p { "The reports auditors ask for, over the last 30 days unless you choose a period. Each can be downloaded as a self-contained HTML document that prints well, or as JSON (its schema: " code { "breakglass report schema NAME" } "). The incident-response access documentation comes from the config: " code { "breakglass report ir-docs -c breakglass.toml" } "." }
        }
        ul #report-list {
            @for (path, title) in REPORTS {
                li { a href={ "/console/reports/" (path) } { (title) } }
            }
        }
    };
    layout::ok("Reports", &v, body)
}

fn period(asked: &Asked) -> Result<Option<Period>, AppError> {
    let (Some(from), Some(to)) = (&asked.from, &asked.to) else {
        if asked.from.is_some() || asked.to.is_some() {
            return Err(AppError::bad_request(
                "give both `from` and `to` (RFC 3339 or dates), or neither for the last 30 days",
            ));
        }
        return Ok(None);
    };
    let from = parse_time(from, false).map_err(AppError::bad_request)?;
    let to = parse_time(to, true).map_err(AppError::bad_request)?;
    Period::new(from, to)
        .map(Some)
        .map_err(AppError::bad_request)
}

/// The page, or the download, of `report`.
fn respond<R: Tabular + serde::Serialize>(
    v: &layout::Viewer,
    name: &str,
    asked: &Asked,
    report: &R,
    generated_at: time::OffsetDateTime,
) -> Result<Response, Failure> {
    match asked.download.as_deref() {
        Some("html") => Ok((
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.html\""),
                ),
            ],
            crate::report::document(report, generated_at),
        )
            .into_response()),
        Some("json") => {
            let body = serde_json::to_string_pretty(report)
                .map_err(|e| Failure::new(v, AppError::bad_request(e.to_string())))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}.json\""),
                    ),
                ],
                body,
            )
                .into_response())
        }
        Some(other) => Err(Failure::new(
            v,
            AppError::bad_request(format!("download `{other}`: choose `html` or `json`")),
        )),
        None => {
            let body = html! {
                section #now .now {
                    p {
                        a href={ "?download=html" } { "Download (HTML)" } " · "
                        a href={ "?download=json" } { "Download (JSON)" }
                    }
                }
                (crate::report::body(report))
            };
            Ok(layout::ok(report.kind().title(), v, body))
        }
    }
}

/// `GET /console/reports/{name}`.
pub async fn report(
    State(s): St,
    session: Session,
    Path(name): Path<String>,
    Query(asked): Query<Asked>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let caller = session.principal.caller();
    let period = period(&asked).or_page(&v)?;
    let now = s.app.now();
    match name.as_str() {
        "access-review" => {
            let options = ReviewOptions {
                period,
                unused_days: 90,
                ..ReviewOptions::default()
            };
            let r = s.app.access_review(&caller, &options).await.or_page(&v)?;
            respond(&v, &name, &asked, &r, now)
        }
        "break-glass-log" => {
            let r = s.app.break_glass_log(&caller, period).await.or_page(&v)?;
            respond(&v, &name, &asked, &r, now)
        }
        "sessions" => {
            let incident = asked
                .incident
                .as_deref()
                .filter(|i| !i.is_empty())
                .map(IncidentId::new)
                .transpose()
                .map_err(|e| AppError::bad_request(format!("incident: {e}")))
                .or_page(&v)?;
            let r = s
                .app
                .session_report(&caller, period, incident.as_ref())
                .await
                .or_page(&v)?;
            respond(&v, &name, &asked, &r, now)
        }
        other => Err(Failure::new(
            &v,
            AppError::not_found(format!(
                "no report `{other}`: access-review, break-glass-log or sessions"
            )),
        )),
    }
}
