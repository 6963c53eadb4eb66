//! The console's page frame and small rendering helpers.
//!
//! Pages are built with `maud`, which escapes every interpolated value; nothing here
//! formats untrusted text into HTML by hand. Every page has one `<h1>`, a `<nav>` and a
//! `<main>`, loads only `/console/static/app.css` and `/console/static/app.js` (the CSP
//! allows nothing inline), and works without JavaScript.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use time::{Duration, OffsetDateTime};

use crate::app::AppError;

/// Who is looking at a page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The username.
    pub username: String,
    /// May manage users and see every session.
    pub admin: bool,
    /// The CSRF token for this viewer's forms.
    pub csrf: String,
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

fn nav(viewer: Option<&Viewer>) -> Markup {
    html! {
        nav aria-label="Main" {
            a.brand href="/console" { "breakglass" }
            @if let Some(v) = viewer {
                ul {
                    li { a href="/console" { "Dashboard" } }
                    li { a href="/console/requests/new" { "Request access" } }
                    li { a href="/console/approvals" { "Approvals" } }
                    li { a href="/console/sessions" { "Sessions" } }
                    li { a.danger href="/console/break-glass" { "Break-glass" } }
                    li { a href="/console/reviews" { "Reviews" } }
                    li { a href="/console/account" { "Account" } }
                    @if v.admin {
                        li { a href="/console/audit" { "Audit" } }
                        li { a href="/console/admin/users" { "Users" } }
                        li { a href="/console/notifications" { "Notifications" } }
                        li { a href="/console/drills" { "Drills" } }
                        li { a href="/console/findings" { "Unbrokered use" } }
                        li { a href="/console/reports" { "Reports" } }
                    }
                }
                form.logout method="post" action="/console/logout" {
                    (csrf_field(&v.csrf))
                    span.who { (v.username) }
                    " "
                    button type="submit" { "Sign out" }
                }
            } @else {
                ul { li { a href="/console/login" { "Sign in" } } }
            }
        }
    }
}

/// A whole page: the frame around `body`, with `title` as its only `<h1>`.
pub fn page(title: &str, viewer: Option<&Viewer>, body: Markup) -> Markup {
    page_with_head(title, viewer, html! {}, body)
}

/// [`page`] with extra elements in `<head>`.
pub fn page_with_head(title: &str, viewer: Option<&Viewer>, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · breakglass" }
                // No favicon request (and no 404 in the browser's console).
                link rel="icon" href="data:,";
                (head)
                link rel="stylesheet" href="/console/static/app.css";
                script src="/console/static/app.js" defer {}
            }
            body {
                header { (nav(viewer)) }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// `markup` as an HTML response with `status`.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A 200 page.
pub fn ok(title: &str, viewer: &Viewer, body: Markup) -> Response {
    respond(StatusCode::OK, page(title, Some(viewer), body))
}

/// The alert paragraph that carries an error message (see [`message`]).
pub fn alert(text: &str) -> Markup {
    html! { p role="alert" class="error" { (message(text)) } }
}

/// The confirmation banner shown after an action succeeded.
pub fn flash(text: &str) -> Markup {
    html! { p #flash .flash role="status" { (text) } }
}

/// A message from the layers below, as a person reads it: durations written in seconds
/// (`14400 seconds`) in the config's units (`4h`), and the user input the messages quote
/// in Markdown backticks (`` `SecurityAdmin` ``) as code, without the backticks.
pub fn message(text: &str) -> Markup {
    let text = human_seconds(text);
    let parts: Vec<&str> = text.split('`').collect();
    // An unpaired backtick quotes nothing: drop it and show the text plain.
    let paired = parts.len() % 2 == 1;
    html! {
        @for (i, part) in parts.iter().enumerate() {
            @if paired && i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

/// `text` with every `N seconds` (or `N second`) written as a duration (`4h`, `1h30m`).
fn human_seconds(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let digits_len = from
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from.len());
        let (digits, after) = from.split_at(digits_len);
        let unit = [" seconds", " second"]
            .into_iter()
            .find(|u| after.starts_with(u));
        // A number glued to a word before it (`r-1`, `v2`) is not a count of seconds.
        let glued = before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        match (unit, digits.parse::<i64>()) {
            (Some(unit), Ok(n)) if !glued => {
                out.push_str(&breakglass_config::format_duration(Duration::seconds(n)));
                rest = after.get(unit.len()..).unwrap_or_default();
            }
            _ => {
                out.push_str(digits);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An account as people know it: its name and id (`production (222222222222)`), or the
/// id alone when the catalog does not name it.
pub fn account(
    catalog: &breakglass_core::model::Catalog,
    id: &breakglass_core::model::AccountId,
) -> String {
    catalog
        .accounts
        .iter()
        .find(|a| &a.id == id)
        .map_or_else(|| id.to_string(), |a| format!("{} ({})", a.name, a.id))
}

/// The flag every listed break-glass grant or request carries.
pub fn break_glass_badge() -> Markup {
    html! { span.badge-danger.break-glass-flag { "break-glass" } }
}

/// A request's kind when it is not a standard one (the break-glass badge, or the drill's),
/// and the game-day badge when it was filed under a game day's incident id.
pub fn kind_badge(
    kind: breakglass_core::request::RequestKind,
    incident: &breakglass_core::model::IncidentId,
) -> Markup {
    use breakglass_core::request::RequestKind;
    let kind = match kind {
        RequestKind::Standard => html! {},
        RequestKind::BreakGlass => html! { " " (break_glass_badge()) },
        RequestKind::Drill => html! { " " span.badge.drill-flag { "drill" } },
    };
    html! {
        (kind)
        @if breakglass_core::game_day::is_game_day(incident) {
            " " span.badge.drill-flag { "game day (drill)" }
        }
    }
}

/// An error page with the error's status and message.
pub fn error_page(viewer: Option<&Viewer>, e: &AppError) -> Response {
    let title = if e.status == StatusCode::FORBIDDEN {
        "Not allowed"
    } else if e.status == StatusCode::NOT_FOUND {
        "Not found"
    } else if e.status == StatusCode::UNAUTHORIZED {
        "Sign in again"
    } else {
        "Something went wrong"
    };
    let body = html! {
        (alert(&e.message))
        p { a href="/console" { "Back to the dashboard" } }
        @if e.status == StatusCode::UNAUTHORIZED {
            p { a href="/console/login" { "Sign in" } }
        }
    };
    respond(e.status, page(title, viewer, body))
}

/// The request page's address after action `done` (post/redirect/get: the page shows its
/// confirmation banner for that fixed code).
pub fn done_at(rid: &str, done: &str) -> String {
    format!("/console/requests/{rid}?done={done}")
}

/// A 303 See Other to `location`.
pub fn redirect(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A time as `2026-11-21 07:40:05 UTC`.
pub fn time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A time as RFC 3339 (for `<time datetime>` and scripts).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A duration in the config's units, to the minute: `4h`, `1h30m`, `45m` (`30s` under a
/// minute; `0s` when negative).
pub fn duration(d: Duration) -> String {
    let secs = d.whole_seconds().max(0);
    if secs < 60 {
        return format!("{secs}s");
    }
    breakglass_config::format_duration(Duration::minutes(secs / 60))
}

/// Whether `c` would change how the text around it reads without being seen
/// ([`breakglass_core::present::is_hidden`]: the "Trojan Source" characters among them,
/// which can make a justification read backwards); a line break or tab is kept.
fn hidden(c: char) -> bool {
    c != '\n' && c != '\t' && breakglass_core::present::is_hidden(c)
}

/// Free text someone typed (a justification, a reason, notes, a comment), with every
/// character [`hidden`] would hide shown as a visible `[U+202E]` instead, so the approver
/// reads what was written, not what it was made to look like.
pub fn text(s: &str) -> Markup {
    if !s.contains(hidden) {
        return html! { (s) };
    }
    let mut plain = String::new();
    let mut parts: Vec<(String, Option<char>)> = Vec::new();
    for c in s.chars() {
        if hidden(c) {
            parts.push((std::mem::take(&mut plain), Some(c)));
        } else {
            plain.push(c);
        }
    }
    parts.push((plain, None));
    html! {
        @for (before, c) in &parts {
            (before)
            @if let Some(c) = c {
                span.escaped title="a hidden character, shown escaped" { "[U+" (format!("{:04X}", u32::from(*c))) "]" }
            }
        }
    }
}

/// A status badge (`pending`, `active`, ...).
pub fn status(name: &str) -> Markup {
    html! { span class={ "status status-" (name) } { (name) } }
}

/// A table; below 48rem (app.css) its rows become stacked cards, each cell labelled by its
/// `data-label` (the rows give every cell the name of its column).
pub fn table(id: &str, caption: &str, head: &[&str], rows: Markup, empty: Option<&str>) -> Markup {
    html! {
        div.table-wrap {
            table id=(id) {
                caption { (caption) }
                thead { tr { @for h in head { th scope="col" { (h) } } } }
                tbody {
                    (rows)
                    @if let Some(e) = empty {
                        tr.empty { td colspan=(head.len()) { (e) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_is_escaped() {
        let p = page(
            "<b>t</b>",
            None,
            html! { p { ("<script>alert(1)</script>") } },
        );
        let s = p.into_string();
        assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!s.contains("<script>alert"));
        assert!(s.contains("&lt;b&gt;t&lt;/b&gt;"));
    }

    #[test]
    fn hidden_characters_in_free_text_are_shown_escaped() {
        // "Trojan Source": the override makes the rest read right to left.
        let s = text("approve \u{202E}kcab\u{2066}x\u{200B}y\u{0007}z\u{1b}[31m").into_string();
        for c in ['\u{202E}', '\u{2066}', '\u{200B}', '\u{0007}', '\u{1b}'] {
            assert!(!s.contains(c), "{c:?} left raw in {s}");
        }
        for e in ["[U+202E]", "[U+2066]", "[U+200B]", "[U+0007]", "[U+001B]"] {
            assert!(s.contains(e), "{e} missing from {s}");
        }
        assert!(s.starts_with("approve "));
        // Ordinary text, other scripts and line breaks are left alone.
        assert_eq!(text("café: 東京\nok").into_string(), "café: 東京\nok");
        assert_eq!(text("<b>").into_string(), "&lt;b&gt;");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::seconds(7500)), "2h5m");
        assert_eq!(duration(Duration::hours(4)), "4h");
        assert_eq!(duration(Duration::seconds(125)), "2m");
        assert_eq!(duration(Duration::seconds(45)), "45s");
        assert_eq!(duration(Duration::seconds(-5)), "0s");
    }

    #[test]
    fn messages_show_human_durations_and_no_backticks() {
        let m = message(
            "the duration of 18000 seconds exceeds playbook `investigate`'s maximum of 14400 seconds",
        )
        .into_string();
        assert_eq!(
            m,
            "the duration of 5h exceeds playbook <code>investigate</code>'s maximum of 4h"
        );
        // Ids with digits, a lone second and an unpaired backtick.
        assert_eq!(
            message("request r-1 waits 1 second; `x").into_string(),
            "request r-1 waits 1s; x"
        );
        assert_eq!(message("5400 seconds").into_string(), "1h30m");
    }
}
