//! Steps of the console flows, each as a person does it in the browser (sign in, fill a
//! form whatever control the console chose, wait for a live update, follow a page of another
//! origin), and the API's view of a request for checking what the pages claim.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::page::Browser;
use crate::support::{ACCOUNT, PASSWORD, User, client, ok};

/// The submit button(s) of the form `form` (a `<button>` without a type submits too).
pub fn submit(form: &str) -> String {
    format!("{form} :is(button:not([type]), button[type=submit], input[type=submit])")
}

/// A request's status as the API reports it (read through `user`'s CLI session).
pub fn api_status(user: &User, id: &str) -> String {
    let v: Value =
        serde_json::from_str(&ok(&client(&user.session, &["status", id, "--json"]))).unwrap();
    v["status_name"].as_str().unwrap_or_default().to_owned()
}

/// Every request `user` can list, as `(id, playbook, status)`.
fn api_requests(user: &User) -> Vec<(String, String, String)> {
    let v: Value =
        serde_json::from_str(&ok(&client(&user.session, &["status", "--json"]))).unwrap();
    v["requests"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["spec"]["playbook"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["status_name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Signs `user` in through the login form.
pub async fn sign_in(b: &Browser<'_>, url: &str, user: &str, code: &str) {
    b.goto(&format!("{url}/console/login")).await;
    b.fill("[name=username]", user).await;
    b.fill("[name=password]", PASSWORD).await;
    b.fill("[name=totp]", code).await;
    b.click_and_wait(&submit("form:has([name=password])")).await;
    let now = b.url().await;
    assert!(
        now.trim_end_matches('/').ends_with("/console"),
        "{user}: signing in should land on the dashboard /console, not {now}:\n{}",
        b.body_text().await
    );
}

/// Sets a form field whether the console made it a select or a text input.
pub async fn set_field(b: &Browser<'_>, css: &str, value: &str) {
    let tag = b
        .js(
            "const e = document.querySelector(arguments[0]); return e ? e.tagName : null;",
            vec![json!(css)],
        )
        .await;
    match tag.as_str() {
        Some("SELECT") => b.choose(css, value).await,
        Some(_) => b.fill(css, value).await,
        None => panic!("no field `{css}` on {}", b.url().await),
    }
}

/// Chooses `playbook` on a request form, which then shows that playbook's roles and
/// accounts: with JavaScript choosing submits the playbook form, without it its button does.
pub async fn choose_playbook(b: &Browser<'_>, playbook: &str) {
    let now = b
        .js(
            "const s = document.querySelector('#playbook'); return s ? s.value : null;",
            vec![],
        )
        .await;
    if now.as_str() == Some(playbook) {
        return;
    }
    let auto = b
        .js(
            "const x = document.querySelector('#playbook-form [data-autosubmit-button]');
             return !!x && x.hidden;",
            vec![],
        )
        .await;
    b.js("window.__bgOldPage = true;", vec![]).await;
    b.choose("#playbook", playbook).await;
    if auto == json!(true) {
        b.wait_for_new_page("choosing a playbook").await;
    } else {
        b.click_and_wait("#playbook-form [data-autosubmit-button]")
            .await;
    }
    let shown = b
        .js("return document.querySelector('#playbook').value;", vec![])
        .await;
    assert_eq!(shown, json!(playbook), "{}", b.url().await);
}

/// Marks the page shown in `b` (a reload drops the mark) before someone else acts, and
/// returns whether its live-update stream is connected (app.js sets `data-live`).
pub async fn start_watching(b: &Browser<'_>) -> bool {
    let started = Instant::now();
    loop {
        let live = b
            .js(
                "window.__bgWatching = true;
                 return document.documentElement.getAttribute('data-live') === 'connected';",
                vec![],
            )
            .await;
        if live == json!(true) {
            return true;
        }
        if started.elapsed() > Duration::from_secs(5) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How a page changed after someone else acted: `Some("…")` saying how when `#request-status`
/// became `want` within a few seconds without the test reloading, `None` otherwise.
async fn watch_live(b: &Browser<'_>, want: &str) -> Option<&'static str> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let now = b
            .js(
                "const e = document.getElementById('request-status');
                 return [e ? e.textContent.trim() : null, window.__bgWatching === true];",
                vec![],
            )
            .await;
        if now[0].as_str() == Some(want) {
            return Some(if now[1].as_bool() == Some(true) {
                "updated in place by server-sent events"
            } else {
                "reloaded itself on a server-sent event"
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// Reloads `b` unless the page already shows `want`; returns how it got there.
pub async fn see_status(b: &Browser<'_>, url: &str, want: &str) -> &'static str {
    let how = match watch_live(b, want).await {
        Some(how) => how,
        None => {
            b.goto(url).await;
            "only after a reload (no live update within 10 s)"
        }
    };
    assert_eq!(
        b.text("#request-status").await,
        want,
        "{url}:\n{}",
        b.body_text().await
    );
    how
}

/// Opens the page at `attack` (of another origin), which submits a form to the console at
/// `console` at once; returns the HTTP status the console answered with.
pub async fn follow_auto_submit(b: &Browser<'_>, attack: &str, console: &str) -> u64 {
    b.goto(attack).await;
    let landed = Instant::now();
    while !b.url().await.starts_with(console) {
        assert!(
            landed.elapsed() < Duration::from_secs(10),
            "the page at {attack} did not submit its form: still on {}",
            b.url().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.wait_for_new_page(attack).await;
    b.status().await
}

/// Fills the break-glass form (whatever selects it has) with `totp` as the code.
pub async fn fill_break_glass(b: &Browser<'_>, url: &str, totp: &str) {
    b.goto(&format!("{url}/console/break-glass")).await;
    for (field, value) in [
        ("playbook", "emergency"),
        ("account", ACCOUNT),
        ("role", "SecurityBreakGlass"),
        ("duration_minutes", "30"),
    ] {
        let css = format!("form [name={field}]");
        if b.has(&css).await {
            set_field(b, &css, value).await;
        }
    }
    b.fill("[name=incident_id]", "INC-2043").await;
    b.fill(
        "[name=justification]",
        "Payments API down; the deploy pipeline role is compromised",
    )
    .await;
    b.js(
        "const c = document.querySelector('[name=acknowledge]'); if (!c.checked) c.click();",
        vec![],
    )
    .await;
    // The server must refuse a missing code on its own: the browser's `required` would
    // otherwise stop the form before it is sent.
    b.js(
        "document.querySelector('[name=totp]').removeAttribute('required');",
        vec![],
    )
    .await;
    b.fill("[name=totp]", totp).await;
}

pub fn emergency_requests(user: &User) -> Vec<(String, String, String)> {
    api_requests(user)
        .into_iter()
        .filter(|(_, playbook, _)| playbook == "emergency")
        .collect()
}

/// A wrong TOTP code on the login form: refused with the error in `role=alert`.
pub async fn refused_login(b: &Browser<'_>, url: &str, wrong: &str) {
    b.goto(&format!("{url}/console/login")).await;
    b.page("login", &[&submit("form:has([name=password])")])
        .await;
    b.fill("[name=username]", "alice").await;
    b.fill("[name=password]", PASSWORD).await;
    b.fill("[name=totp]", wrong).await;
    b.click_and_wait(&submit("form:has([name=password])")).await;
    assert!(
        b.has("p[role=alert].error").await,
        "a wrong TOTP code shows no error:\n{}",
        b.body_text().await
    );
    assert!(
        b.url().await.contains("/console/login"),
        "{}",
        b.url().await
    );
    let status = u16::try_from(b.status().await).ok().filter(|s| *s >= 400);
    b.page_allowing("login-refused", &[], status).await;
}
