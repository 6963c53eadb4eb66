//! Every console page on a phone first (issue 19), in headless Chromium against the real
//! `breakglass serve` on moto: the login page, alice's dashboard, request form, approved,
//! active and active break-glass requests, break-glass form, account page and a page that
//! does not exist; bob's dashboard (leading with the request waiting for him), approvals,
//! pending, denied and revoked requests, sessions and reviews; dana's audit log,
//! notifications, drills and a report.
//!
//! At 1280 px and at 375 px each page must not overflow horizontally (the document no wider
//! than the window, no rendered element wider than it or sticking out of it) and must show
//! its state and its primary action within the first screen. Both sizes are screenshot
//! into `<target>/test-output/screenshots/every-page/NN-page-WIDTH.png`.

use std::time::Instant;

use serde_json::{Value, json};

use super::driver::{Chromedriver, Shots};
use super::page::{Browser, DESKTOP, PHONE, assert_no_problems};
use super::steps::{choose_playbook, fill_break_glass, sign_in, submit};
use crate::support::{Authenticator, Broker, ask_investigate as ask, client, ok};

const A11Y_JS: &str = include_str!("a11y.js");
const FIRST_SCREEN_JS: &str = include_str!("first_screen.js");

/// dana: an administrator (the audit log and the notifications).
const DANA: &str = "[responders.dana]\nname = \"Dana Okafor\"\nemail = \"dana@example.com\"\ngroups = [\"ir-leads\"]\n";

/// Page `name` as shown in `b` at both sizes: labelled controls, one `<h1>`, nothing
/// logged as an error, then at 1280 and at 375 px no horizontal overflow and `first` (the
/// page's state and primary action) within the first screen, with a screenshot of each.
pub(super) async fn fits(b: &Browser<'_>, name: &str, first: &[&str]) {
    let url = b.url().await;
    let a11y = b.js(A11Y_JS, vec![]).await;
    assert_no_problems(&b.who, name, &url, "accessibility", &a11y);
    // Only the page that does not exist may have failed to load (with its 404).
    let refused = (name == "not-found").then_some(404);
    b.assert_clean_log(name, refused).await;
    for (size, label) in [(DESKTOP, "1280"), (PHONE, "375")] {
        b.resize(size).await;
        let found = b.js(FIRST_SCREEN_JS, vec![json!(first)]).await;
        b.shot(&format!("{name}-{label}")).await;
        assert_no_problems(
            &b.who,
            name,
            &url,
            &format!(
                "first-screen ({}x{} window)",
                found["width"], found["height"]
            ),
            &found["problems"],
        );
    }
    b.resize(DESKTOP).await;
}

/// The position (in document order) of the first element matching each of `css`.
async fn order(b: &Browser<'_>, css: &[&str]) -> Vec<i64> {
    let v = b
        .js(
            "const all = [...document.querySelectorAll('*')];
             return arguments[0].map(s => all.indexOf(document.querySelector(s)));",
            vec![json!(css)],
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_fits_a_phone_and_leads_with_its_action_in_chromium() {
    let started = Instant::now();
    let Some(driver) = Chromedriver::start() else {
        return;
    };
    let users = [("alice", false), ("bob", false), ("dana", true)];
    let Some(broker) = Broker::start(DANA, &users) else {
        return;
    };
    let url = broker.url.clone();
    let (alice, bob, dana) = (
        broker.user("alice"),
        broker.user("bob"),
        broker.user("dana"),
    );
    let mut alice_totp = Authenticator::of(alice);
    let mut bob_totp = Authenticator::of(bob);
    let mut dana_totp = Authenticator::of(dana);
    let shots = Shots::new("screenshots/every-page");

    // A request in each state, on the command line: pending, approved, active, denied, and
    // one to revoke in the browser.
    let pending = ask(alice, "INC-1901");
    let approved = ask(alice, "INC-1902");
    let active = ask(alice, "INC-1903");
    let denied = ask(alice, "INC-1904");
    let revoked = ask(alice, "INC-1905");
    for id in [&approved, &active, &revoked] {
        ok(&client(
            &bob.session,
            &["approve", id, "--totp", &bob_totp.code()],
        ));
    }
    for id in [&active, &revoked] {
        ok(&client(&alice.session, &["activate", id]));
    }
    ok(&client(
        &bob.session,
        &["deny", &denied, "--reason", "Use the read-only dashboard"],
    ));

    // Signed out: the login page.
    let Some(x) = driver.browser("visitor", &shots).await else {
        return;
    };
    x.goto(&format!("{url}/console/login")).await;
    fits(
        &x,
        "login",
        &[
            "h1",
            "[name=username]",
            &submit("form:has([name=password])"),
        ],
    )
    .await;
    x.close().await;

    // alice, the requester.
    let Some(a) = driver.browser("alice", &shots).await else {
        return;
    };
    sign_in(&a, &url, "alice", &alice_totp.code()).await;
    fits(&a, "dashboard", &["#now", "#request-access"]).await;
    a.goto(&format!("{url}/console/requests/new")).await;
    // Choosing a playbook (app.js submits the choice) offers only its roles.
    let roles = || async {
        a.js(
            "return [...document.querySelectorAll('#role option')].map(o => o.value);",
            vec![],
        )
        .await
    };
    choose_playbook(&a, "investigate").await;
    assert_eq!(
        roles().await,
        json!(["SecurityAnalyst"]),
        "investigate's roles"
    );
    fits(&a, "request-new", &["#request-intro", "#playbook", "#role"]).await;
    choose_playbook(&a, "contain").await;
    assert_eq!(
        roles().await,
        json!(["SecurityBreakGlass"]),
        "contain's roles"
    );
    a.goto(&format!("{url}/console/requests/{approved}")).await;
    fits(
        &a,
        "request-approved",
        &["#request-status", &submit("#activate-form")],
    )
    .await;
    a.goto(&format!("{url}/console/requests/{active}")).await;
    fits(
        &a,
        "request-active",
        &["#request-status", "#time-left", &submit("#console-form")],
    )
    .await;
    let left = order(
        &a,
        &[
            "#time-left",
            "#console-form",
            "#revoke-form",
            "#session-policy",
        ],
    )
    .await;
    assert!(
        left[0] < left[2] && left[1] < left[2] && left[2] < left[3],
        "time left and the console come before Revoke, Revoke before the policy: {left:?}"
    );
    fill_break_glass(&a, &url, &alice_totp.code()).await;
    a.click_and_wait(&submit("form:has([name=acknowledge])"))
        .await;
    assert_eq!(
        a.text("#request-status").await,
        "active",
        "{}",
        a.url().await
    );
    let break_glass_url = a.url().await;
    let break_glass = break_glass_url
        .rsplit_once("/console/requests/")
        .and_then(|(_, rest)| rest.split('?').next())
        .unwrap()
        .to_owned();
    assert_eq!(
        a.text("#flash").await,
        "Break-glass access activated: the security team has been paged."
    );
    assert_eq!(
        a.text("#approvals").await,
        "break-glass: no approval needed"
    );
    fits(
        &a,
        "request-active-break-glass",
        &[
            "#flash",
            "#request-status",
            ".break-glass-flag",
            "#time-left",
            "#console-form",
        ],
    )
    .await;
    a.goto(&format!("{url}/console/break-glass")).await;
    fits(
        &a,
        "break-glass",
        &["#break-glass-warning", "#playbook", "#role"],
    )
    .await;
    a.goto(&format!("{url}/console/account")).await;
    fits(&a, "account", &["#account-summary"]).await;
    a.goto(&format!("{url}/console/no-such-page")).await;
    assert_eq!(a.status().await, 404);
    fits(
        &a,
        "not-found",
        &["[role=alert]", "main a[href='/console']"],
    )
    .await;
    a.close().await;

    // bob, an incident-response lead and approver.
    let Some(b) = driver.browser("bob", &shots).await else {
        return;
    };
    sign_in(&b, &url, "bob", &bob_totp.code()).await;
    assert_eq!(
        b.text("#waiting-summary").await,
        "1 request waits for your approval."
    );
    let lead = order(&b, &["#waiting-for-you", "#my-grants", "#my-requests"]).await;
    assert!(lead[0] < lead[1] && lead[0] < lead[2], "{lead:?}");
    assert!(b.text("#waiting-for-you").await.contains(&pending));
    // alice's live break-glass session is on bob's dashboard, flagged.
    assert!(
        b.has(&format!(
            "#live-break-glass tr.break-glass[data-request='{break_glass}'] .break-glass-flag"
        ))
        .await,
        "{}",
        b.body_text().await
    );
    fits(
        &b,
        "dashboard-approver",
        &["#waiting-summary", "#waiting-for-you a.button.review"],
    )
    .await;
    b.goto(&format!("{url}/console/approvals")).await;
    fits(&b, "approvals", &["#pending-approvals a.button.review"]).await;
    b.goto(&format!("{url}/console/requests/{pending}")).await;
    fits(
        &b,
        "request-pending",
        &["#request-status", &submit("#approve-form")],
    )
    .await;
    b.goto(&format!("{url}/console/requests/{denied}")).await;
    assert!(b.text("#decided").await.starts_with("Denied by bob"));
    fits(&b, "request-denied", &["#request-status", "#decided"]).await;
    b.goto(&format!("{url}/console/sessions")).await;
    let row = b
        .text(&format!(
            "#active-sessions tr[data-request='{break_glass}']"
        ))
        .await;
    assert!(
        row.contains("break-glass") && row.contains("alice") && row.contains("INC-2043"),
        "alice's live break-glass session, flagged, on bob's sessions page: {row}"
    );
    fits(
        &b,
        "sessions",
        &["#sessions-summary", "#active-sessions form.revoke button"],
    )
    .await;
    b.goto(&format!("{url}/console/requests/{revoked}")).await;
    b.fill(
        "#revoke-form [name=reason]",
        "Contained; access no longer needed",
    )
    .await;
    b.click_and_wait(&submit("#revoke-form")).await;
    assert_eq!(b.text("#request-status").await, "revoked");
    assert_eq!(
        b.text("#flash").await,
        "You revoked this grant: its sessions are cut off."
    );
    assert!(b.text("#decided").await.starts_with("Revoked by bob"));
    fits(
        &b,
        "request-revoked",
        &["#flash", "#request-status", "#decided"],
    )
    .await;
    // The break-glass use ends, and bob is asked to review it.
    b.goto(&break_glass_url).await;
    b.fill("#revoke-form [name=reason]", "Incident contained")
        .await;
    b.click_and_wait(&submit("#revoke-form")).await;
    b.goto(&format!("{url}/console/reviews")).await;
    let checked = b
        .js(
            "return document.querySelectorAll('[name=outcome]:checked, option[selected]').length;",
            vec![],
        )
        .await;
    assert_eq!(checked, json!(0), "no review outcome is preselected");
    fits(
        &b,
        "reviews",
        &["#reviews-summary", &format!("#outcome-{break_glass}")],
    )
    .await;
    b.close().await;

    // dana, the administrator.
    let Some(d) = driver.browser("dana", &shots).await else {
        return;
    };
    sign_in(&d, &url, "dana", &dana_totp.code()).await;
    d.goto(&format!("{url}/console/audit")).await;
    fits(&d, "audit", &["#audit-verification", "#audit-log caption"]).await;
    d.goto(&format!("{url}/console/notifications")).await;
    let summary = d.text("#notification-summary").await;
    assert!(
        summary.contains("pending,") && summary.contains("dead-lettered"),
        "{summary}"
    );
    fits(&d, "notifications", &["#notification-summary"]).await;
    d.goto(&format!("{url}/console/drills")).await;
    let now = d.text("#now").await;
    assert!(now.contains("No drill has run yet"), "{now}");
    fits(&d, "drills", &["#now", "#drill-history caption"]).await;
    d.goto(&format!("{url}/console/reports/sessions")).await;
    fits(&d, "reports", &["#now", "h1"]).await;
    d.close().await;

    let written = shots.written();
    let pages: Vec<Value> = written
        .iter()
        .map(|p| json!(p.display().to_string()))
        .collect();
    assert_eq!(pages.len(), 2 * 20, "{pages:?}");
    println!(
        "every page at 1280 and 375 px: {} screenshots in {:.1} s",
        written.len(),
        started.elapsed().as_secs_f64()
    );
}
