//! The web console's flows in headless Chromium, against the real `breakglass serve` on
//! moto (issue 7's acceptance). Four people, each in a browser of their own:
//!
//! alice signs in (password + TOTP) and asks for access for an incident → bob signs in and
//! approves with a TOTP code, after a forged and a missing CSRF token and pages of other
//! origins that auto-submit the approval were all refused → alice activates, reads and copies
//! the `credential_process` line (which is run to prove it) → dana, an admin, revokes it on
//! the sessions page → alice's page shows `revoked` → alice's break-glass activation shows
//! its warning and is refused without and with a wrong TOTP (nothing activated), then
//! activates with a valid one → carol and bob, with JavaScript off, go through request,
//! approval, activation and revocation on plain forms (bob's approvals list, with JavaScript,
//! shows carol's request as it arrives) → the remaining pages are toured, and a page of
//! another origin posting carol's credentials to the sign-in form leaves dana signed in as
//! herself.
//!
//! Every page gets the accessibility checks (labels, one `<h1>`, `<main>`, no horizontal
//! scroll and its main actions on screen at 375 px, nothing logged as an error by the page)
//! and screenshots in `<target>/test-output/screenshots/NN-name.png`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::driver::{Chromedriver, Shots};
use super::site::Site;
use super::steps::{
    api_status, choose_playbook, emergency_requests, fill_break_glass, follow_auto_submit,
    refused_login, see_status, set_field, sign_in, start_watching, submit,
};
use crate::support::{ACCOUNT, Authenticator, BIN, Broker, PASSWORD, client, ok};

/// dana: an administrator and an incident-response lead (leads may revoke what their
/// playbooks granted).
const DANA: &str = "[responders.dana]\nname = \"Dana Okafor\"\nemail = \"dana@example.com\"\ngroups = [\"ir-leads\"]\n";
const INCIDENT: &str = "INC-2042";
const WHY: &str = "Impossible-travel console logins for the payments deploy user";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_request_approve_copy_revoke_and_break_glass_in_chromium() {
    let started = Instant::now();
    let Some(driver) = Chromedriver::start() else {
        return;
    };
    let users = [
        ("alice", false),
        ("bob", false),
        ("carol", false),
        ("dana", true),
    ];
    let Some(broker) = Broker::start(DANA, &users) else {
        return;
    };
    let url = broker.url.clone();
    let (alice, bob, carol, dana) = (
        broker.user("alice"),
        broker.user("bob"),
        broker.user("carol"),
        broker.user("dana"),
    );
    let mut alice_totp = Authenticator::of(alice);
    let mut bob_totp = Authenticator::of(bob);
    let mut dana_totp = Authenticator::of(dana);
    let mut carol_totp = Authenticator::of(carol);
    let shots = Shots::new("screenshots");
    let ready = started.elapsed();

    // alice: a wrong code is refused, then she signs in.
    let Some(a) = driver.browser("alice", &shots).await else {
        return;
    };
    refused_login(&a, &url, &alice_totp.wrong()).await;
    sign_in(&a, &url, "alice", &alice_totp.code()).await;
    assert!(a.has("#my-requests").await && a.has("#my-grants").await);
    // The session cookie: HttpOnly (no script reads it), SameSite=Strict, for the whole
    // console; not Secure over plain http.
    assert_eq!(
        a.cookie("bg_session").await,
        (true, false, "Strict".to_owned(), "/".to_owned()),
        "bg_session as stored: (HttpOnly, Secure, SameSite, Path)"
    );
    let scripts_see = a.js("return document.cookie;", vec![]).await;
    assert!(
        !scripts_see
            .as_str()
            .unwrap_or_default()
            .contains("bg_session"),
        "document.cookie shows the session: {scripts_see}"
    );
    a.page("dashboard", &["a[href$='/console/requests/new']"])
        .await;

    // alice asks for access.
    a.click_and_wait("a[href$='/console/requests/new']").await;
    a.page("request-new", &[&submit("form:has([name=justification])")])
        .await;
    choose_playbook(&a, "investigate").await;
    a.fill("[name=incident_id]", INCIDENT).await;
    set_field(&a, "[name=account]", ACCOUNT).await;
    set_field(&a, "[name=role]", "SecurityAnalyst").await;
    a.fill("[name=duration_minutes]", "60").await;
    a.fill("[name=justification]", WHY).await;
    a.click_and_wait(&submit("form:has([name=justification])"))
        .await;
    let request_url = a.url().await;
    let id = request_url
        .rsplit_once("/console/requests/")
        .map(|(_, id)| {
            id.split('?')
                .next()
                .unwrap_or(id)
                .trim_end_matches('/')
                .to_owned()
        })
        .unwrap_or_else(|| panic!("submitting the request should show it, not {request_url}"));
    // The page confirms the submission (its address carries `?done=submitted`).
    assert_eq!(
        a.text("#flash").await,
        "Request submitted: the approvers have been notified."
    );
    let request_url = format!("{url}/console/requests/{id}");
    assert_eq!(a.text("#request-status").await, "pending");
    let shown = a.body_text().await;
    for want in [INCIDENT, WHY, "SecurityAnalyst", "investigate"] {
        assert!(
            shown.contains(want),
            "the request page lacks `{want}`:\n{shown}"
        );
    }
    assert_eq!(api_status(alice, &id), "pending");
    a.page("request-pending", &[]).await;
    // Watch for live updates from here on: a reload drops this flag.
    let live_before_approval = start_watching(&a).await;

    // bob signs in in his own browser and finds the request waiting for him.
    let Some(b) = driver.browser("bob", &shots).await else {
        return;
    };
    sign_in(&b, &url, "bob", &bob_totp.code()).await;
    b.goto(&format!("{url}/console/approvals")).await;
    let pending = b.text("#pending-approvals").await;
    assert!(
        pending.contains(&id),
        "{id} not in the pending list: {pending}"
    );
    b.page(
        "approvals",
        // The Review button itself, not just the row's link, must be on a phone's screen.
        &[&format!(
            "#pending-approvals a.button[href$='/console/requests/{id}']"
        )],
    )
    .await;
    b.goto(&request_url).await;
    b.page(
        "approve",
        &[&submit("#approve-form"), &submit("#deny-form")],
    )
    .await;

    // CSRF: the approval form posted with a forged token, then with none, is refused with
    // 403 and approves nothing, even with a valid TOTP code.
    for (case, script) in [
        (
            "forged",
            "document.querySelector('#approve-form [name=csrf]').value = 'forged-token';",
        ),
        (
            "missing",
            "document.querySelector('#approve-form [name=csrf]').remove();",
        ),
    ] {
        b.goto(&request_url).await;
        b.js(script, vec![]).await;
        b.fill("#approve-form [name=totp]", &bob_totp.peek()).await;
        b.click_and_wait(&submit("#approve-form")).await;
        assert_eq!(
            b.status().await,
            403,
            "an approval with a {case} CSRF token:\n{}",
            b.body_text().await
        );
        b.assert_clean_log(&format!("csrf-{case}"), Some(403)).await;
        b.shot(&format!("approve-csrf-{case}-refused")).await;
        assert_eq!(api_status(alice, &id), "pending", "{case} CSRF token");
    }

    // A page of another origin (same site: the session cookie goes along) and of another
    // site (`localhost`: SameSite=Strict keeps the cookie back) auto-submit the approval
    // form with a valid code: neither approves.
    let attack = Site::serve(format!(
        "<!doctype html><html lang=en><title>Quarterly report</title><h1>Loading…</h1>\
         <form method=post action=\"{url}/console/requests/{id}/approve\">\
         <input name=totp value=\"{}\"><input name=comment value=ok></form>\
         <script>document.forms[0].submit()</script>",
        bob_totp.peek()
    ));
    for (case, host) in [("cross-origin", "127.0.0.1"), ("cross-site", "localhost")] {
        let status = follow_auto_submit(&b, &attack.url(host), &url).await;
        println!("{case} approval: HTTP {status} at {}", b.url().await);
        if case == "cross-origin" {
            // Same site, so the session cookie went along: the Origin/CSRF checks refuse it.
            assert_eq!(status, 403, "{case} approval:\n{}", b.body_text().await);
        }
        b.drain_log().await;
        b.shot(&format!("approve-{case}-refused")).await;
        assert_eq!(api_status(alice, &id), "pending", "after the {case} post");
    }
    drop(attack);

    // bob approves for real.
    b.goto(&request_url).await;
    b.fill("#approve-form [name=totp]", &bob_totp.code()).await;
    if b.has("#approve-form [name=comment]").await {
        b.fill(
            "#approve-form [name=comment]",
            "Confirmed on the bridge call",
        )
        .await;
    }
    b.click_and_wait(&submit("#approve-form")).await;
    assert_eq!(b.text("#request-status").await, "approved");
    assert_eq!(api_status(alice, &id), "approved");
    b.page("approved-by-bob", &[]).await;

    // alice sees it approved, activates, and gets the credential_process line.
    let approval_seen = see_status(&a, &request_url, "approved").await;
    a.page("request-approved", &[&submit("#activate-form")])
        .await;
    a.click_and_wait(&submit("#activate-form")).await;
    assert_eq!(a.text("#request-status").await, "active");
    assert_eq!(api_status(alice, &id), "active");
    let left = a.text("#time-left").await;
    assert!(!left.is_empty(), "#time-left is empty");
    let open_console = a
        .js(
            "return [...document.querySelectorAll('a, button, input[type=submit]')]
                 .some(e => (e.textContent || e.value || '').includes('Open AWS console'));",
            vec![],
        )
        .await;
    assert_eq!(open_console, json!(true), "no `Open AWS console` action");
    a.page(
        "grant-active",
        &[
            "#copy-credential-process",
            &submit("#revoke-form"),
            "#credential-process",
        ],
    )
    .await;

    let line = a.text("#credential-process").await;
    let command = line
        .strip_prefix("credential_process = ")
        .unwrap_or_else(|| panic!("not a credential_process line: `{line}`"));
    let argv: Vec<&str> = command.split_whitespace().collect();
    let grant = argv
        .iter()
        .position(|a| *a == "--grant")
        .and_then(|i| argv.get(i + 1))
        .unwrap_or_else(|| panic!("no `--grant G` in `{line}`"));
    assert_eq!(argv.first(), Some(&"breakglass"), "{line}");
    // The line works as printed: run it as the AWS CLI would, as alice.
    let creds = client(&alice.session, argv.get(1..).unwrap());
    let creds: Value = serde_json::from_str(&ok(&creds))
        .unwrap_or_else(|e| panic!("`{line}` did not print credential_process JSON: {e}"));
    assert_eq!(creds["Version"], 1, "{creds}");
    assert!(creds["AccessKeyId"].as_str().is_some_and(|k| !k.is_empty()));
    println!(
        "credential_process line: {line} (runs: {BIN} {})",
        argv.get(1..).unwrap().join(" ")
    );

    // Copy: the button runs without a script error; the clipboard is read back when
    // headless Chromium lets the page read it.
    a.drain_log().await;
    let permission = a.grant("clipboard-read").await;
    let _ = a.grant("clipboard-write").await;
    a.js(
        "document.getElementById('copy-credential-process').scrollIntoView();",
        vec![],
    )
    .await;
    a.click("#copy-credential-process").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.assert_clean_log("copy", None).await;
    let clip = a
        .js_async(
            "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(t => done({text: t}), e => done({error: String(e)}));",
            vec![],
        )
        .await;
    let copied = match clip["text"].as_str() {
        Some(text) => {
            assert_eq!(text.trim(), line, "the clipboard after Copy");
            "the clipboard holds the line".to_owned()
        }
        None => format!(
            "clipboard not readable here ({}; permission: {permission:?}); the button ran without error",
            clip["error"]
        ),
    };
    println!("copy: {copied}");
    a.shot("grant-copied").await;

    // The dashboard lists the grant among alice's active grants.
    a.goto(&format!("{url}/console")).await;
    let grants = a.text("#my-grants").await;
    assert!(grants.contains(grant), "#my-grants lacks {grant}: {grants}");
    a.page(
        "dashboard-with-grant",
        &[&format!("#my-grants a[href*='{id}']")],
    )
    .await;
    a.goto(&request_url).await;
    let live_before_revocation = start_watching(&a).await;

    // dana, an admin, revokes it from the sessions page.
    let Some(d) = driver.browser("dana", &shots).await else {
        return;
    };
    sign_in(&d, &url, "dana", &dana_totp.code()).await;
    d.goto(&format!("{url}/console/sessions")).await;
    // The revoke form of this grant: one posting to a `…/revoke` URL naming the request or
    // the grant, or sitting in the row that names them.
    let found = d
        .js(
            "const [id, grant] = arguments;
             const f = [...document.forms].find(f => {
               const action = f.getAttribute('action') || '';
               if (!action.endsWith('/revoke')) return false;
               const row = f.closest('tr, li, article, section') || f;
               return [id, grant].some(x => action.includes(x) || row.textContent.includes(x));
             });
             if (f) f.setAttribute('data-test-target', 'revoke');
             return f ? f.getAttribute('action') : null;",
            vec![json!(id), json!(grant)],
        )
        .await;
    assert!(
        found.is_string(),
        "the sessions page has no revoke form for {id} / {grant}:\n{}",
        d.body_text().await
    );
    let revoke = "form[data-test-target=revoke]".to_owned();
    let revoke_button = submit(&revoke);
    // The Revoke button and its reason field themselves must be on a phone's screen.
    let reason = format!("{revoke} [name=reason]");
    d.page("sessions", &[revoke_button.as_str(), reason.as_str()])
        .await;
    d.fill(&format!("{revoke} [name=reason]"), "Incident contained")
        .await;
    d.click_and_wait(&revoke_button).await;
    assert_eq!(api_status(alice, &id), "revoked");
    d.page("revoked-by-dana", &[]).await;

    let revocation_seen = see_status(&a, &request_url, "revoked").await;
    a.page("request-revoked", &[]).await;

    // Break-glass: the warning, then no code and a wrong code are refused and activate
    // nothing; a valid code activates.
    a.goto(&format!("{url}/console/break-glass")).await;
    let warning = a.text("#break-glass-warning[role=alert]").await;
    assert!(!warning.is_empty(), "the break-glass warning is empty");
    a.page(
        "break-glass",
        &[
            "#break-glass-warning",
            &submit("form:has([name=acknowledge])"),
        ],
    )
    .await;
    for (case, code) in [
        ("no-totp", String::new()),
        ("wrong-totp", alice_totp.wrong()),
    ] {
        fill_break_glass(&a, &url, &code).await;
        a.click_and_wait(&submit("form:has([name=acknowledge])"))
            .await;
        let status = a.status().await;
        assert!(
            a.has("[role=alert].error, .error[role=alert]").await,
            "break-glass with {case}: no error shown (HTTP {status}) at {}:\n{}",
            a.url().await,
            a.body_text().await
        );
        assert!(
            !a.url().await.contains("/console/requests/"),
            "break-glass with {case} went to {}",
            a.url().await
        );
        assert!(
            emergency_requests(alice).is_empty(),
            "break-glass with {case} activated: {:?}",
            emergency_requests(alice)
        );
        let refused = u16::try_from(status).ok().filter(|s| *s >= 400);
        a.page_allowing(&format!("break-glass-{case}-refused"), &[], refused)
            .await;
    }
    fill_break_glass(&a, &url, &alice_totp.code()).await;
    a.click_and_wait(&submit("form:has([name=acknowledge])"))
        .await;
    assert_eq!(
        a.text("#request-status").await,
        "active",
        "{}",
        a.url().await
    );
    let emergency = emergency_requests(alice);
    assert!(
        matches!(emergency.as_slice(), [(_, _, s)] if s == "active"),
        "{emergency:?}"
    );
    a.page("break-glass-active", &[]).await;
    a.goto(&format!("{url}/console/account")).await;
    a.page("account", &[]).await;
    a.close().await;

    // Without JavaScript the core actions are plain forms: carol signs in and asks, bob
    // approves, carol follows the Refresh link, activates, finds the credential_process line
    // and revokes.
    let Some(n) = driver.browser_without_js("carol (no JS)", &shots).await else {
        return;
    };
    sign_in(&n, &url, "carol", &carol_totp.code()).await;
    n.goto(&format!("{url}/console/requests/new")).await;
    choose_playbook(&n, "investigate").await;
    n.fill("[name=incident_id]", "INC-2044").await;
    set_field(&n, "[name=account]", ACCOUNT).await;
    set_field(&n, "[name=role]", "SecurityAnalyst").await;
    n.fill("[name=duration_minutes]", "30").await;
    n.fill(
        "[name=justification]",
        "Checking the WAF logs of the login API",
    )
    .await;
    // bob watches his (now empty) approvals list while carol submits.
    b.goto(&format!("{url}/console/approvals")).await;
    let live_approvals = start_watching(&b).await;
    n.click_and_wait(&submit("form:has([name=justification])"))
        .await;
    let nojs_url = n.url().await;
    let nojs_id = nojs_url
        .rsplit_once("/console/requests/")
        .map(|(_, id)| {
            id.split('?')
                .next()
                .unwrap_or(id)
                .trim_end_matches('/')
                .to_owned()
        })
        .unwrap_or_else(|| {
            panic!("without JS, submitting should show the request, not {nojs_url}")
        });
    let nojs_url = format!("{url}/console/requests/{nojs_id}");
    let listed = Instant::now();
    let approvals_seen = loop {
        let now = b
            .js(
                "const l = document.getElementById('pending-approvals');
                 return [l ? l.textContent : '', window.__bgWatching === true];",
                vec![],
            )
            .await;
        if now[0].as_str().unwrap_or_default().contains(&nojs_id) {
            break if now[1].as_bool() == Some(true) {
                "updated in place by server-sent events"
            } else {
                "reloaded itself"
            };
        }
        if listed.elapsed() > Duration::from_secs(10) {
            break "not updated within 10 s (a reload shows it)";
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    b.shot("approvals-live").await;
    assert_eq!(n.text("#request-status").await, "pending");
    n.page("nojs-request-pending", &[]).await;

    // bob's session (his sign-in is done: the no-JS sign-in is carol's) in a browser
    // without JavaScript, so his next TOTP code is not more than a step away.
    let Some(m) = driver.browser_without_js("bob (no JS)", &shots).await else {
        return;
    };
    m.goto(&format!("{url}/console/login")).await;
    m.take_cookie(&b, "bg_session").await;
    b.close().await;
    m.goto(&nojs_url).await;
    m.fill("#approve-form [name=totp]", &bob_totp.code()).await;
    m.click_and_wait(&submit("#approve-form")).await;
    assert_eq!(m.text("#request-status").await, "approved");
    m.page("nojs-approved", &[]).await;
    m.close().await;

    n.follow_link("Refresh").await;
    assert_eq!(n.text("#request-status").await, "approved");
    n.click_and_wait(&submit("#activate-form")).await;
    assert_eq!(n.text("#request-status").await, "active");
    assert!(
        n.text("#credential-process")
            .await
            .starts_with("credential_process = breakglass creds --grant "),
        "without JS"
    );
    n.page("nojs-grant-active", &[&submit("#revoke-form")])
        .await;
    n.fill("#revoke-form [name=reason]", "Done with the WAF logs")
        .await;
    n.click_and_wait(&submit("#revoke-form")).await;
    assert_eq!(api_status(carol, &nojs_id), "revoked");
    n.goto(&nojs_url).await;
    assert_eq!(n.text("#request-status").await, "revoked");
    n.page("nojs-revoked", &[]).await;
    n.close().await;

    // The other pages, as the admin.
    for (path, name, must) in [
        ("/console/approvals", "approvals-empty", "h1"),
        ("/console/audit", "audit", "#audit-verification"),
        ("/console/reviews", "reviews", "main"),
        ("/console/admin/users", "admin-users", "main"),
        (
            "/console/notifications",
            "notifications",
            "#notification-summary",
        ),
    ] {
        d.goto(&format!("{url}{path}")).await;
        assert_eq!(d.status().await, 200, "{path}:\n{}", d.body_text().await);
        d.page(name, &[must]).await;
    }
    d.goto(&format!("{url}/console/audit")).await;
    let verified = d.text("#audit-verification").await;
    assert!(
        verified.contains("verified") && !verified.contains("BROKEN"),
        "audit verification: {verified}"
    );

    // Login CSRF: a page of another origin posting carol's valid credentials to the sign-in
    // form cannot switch dana's browser to carol's session.
    let login_attack = Site::serve(format!(
        "<!doctype html><html lang=en><title>Survey</title><h1>Loading…</h1>\
         <form method=post action=\"{url}/console/login\">\
         <input name=username value=carol><input name=password value=\"{PASSWORD}\">\
         <input name=totp value=\"{}\"></form>\
         <script>document.forms[0].submit()</script>",
        carol_totp.peek()
    ));
    let status = follow_auto_submit(&d, &login_attack.url("127.0.0.1"), &url).await;
    d.drain_log().await;
    d.shot("login-cross-origin-refused").await;
    assert_eq!(
        status,
        403,
        "a cross-origin sign-in:\n{}",
        d.body_text().await
    );
    d.goto(&format!("{url}/console")).await;
    let nav = d.text("nav").await;
    assert!(
        nav.contains("dana") && !nav.contains("carol"),
        "after the cross-origin sign-in the console shows: {nav}"
    );
    d.close().await;

    let written = shots.written();
    println!(
        "approval seen by the requester: {approval_seen} (event stream connected before: {live_before_approval})"
    );
    println!(
        "a new request on the approver's list: {approvals_seen} (event stream connected before: {live_approvals})"
    );
    println!(
        "revocation seen by the requester: {revocation_seen} (event stream connected before: {live_before_revocation})"
    );
    println!(
        "browser test: {} screenshots, {:.1} s in all ({:.1} s to start moto, the broker and chromedriver)",
        written.len(),
        started.elapsed().as_secs_f64(),
        ready.as_secs_f64()
    );
}
