//! Passkeys in headless Chromium, with its virtual authenticator (the WebDriver "Add Virtual
//! Authenticator" command), against the real `breakglass serve` with `[auth.oidc]` pointing
//! at the test OpenID provider and `[auth.passkeys]` at the broker's own origin.
//!
//! alice signs in through the identity provider and asks for access; bob signs in the same
//! way, enrols a passkey on his account page and approves with it. A playbook that asks for a
//! passkey (`step_up = "passkey"`) refuses bob's TOTP code, in the console and in the API,
//! and takes his passkey. Then bob signs in with his password and the passkey.
//!
//! WebAuthn needs a secure context and a domain: the browser talks to `http://localhost`,
//! never to an IP address.

use std::time::{Duration, Instant};

use breakglass_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider};

use super::driver::{Chromedriver, Shots};
use super::page::Browser;
use super::sso::sign_in_with_sso;
use super::steps::{api_status, set_field, submit};
use crate::support::{ACCOUNT, Authenticator, Broker, PASSWORD, client, free_port, ok, refused};

/// A playbook whose approvals take a passkey only.
const PASSKEY_PLAYBOOK: &str = r#"
[playbooks.investigate-by-passkey]
title = "Investigate (approved with a passkey only)"
roles = ["SecurityAnalyst"]
session_policy = { template = "read_only_investigation" }
max_duration = "4h"
approval = { required = 1, from_groups = ["ir-leads"] }
eligible_groups = ["responders"]
step_up = "passkey"
"#;

/// Waits until the browser's URL contains `part`.
async fn wait_for_url(b: &Browser<'_>, part: &str) -> String {
    let started = Instant::now();
    loop {
        let now = b.url().await;
        if now.contains(part) {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still at {now}, waiting for `{part}`:\n{}",
            b.body_text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks for `playbook` through the console as the signed-in `b`; returns the request id.
async fn ask(b: &Browser<'_>, url: &str, playbook: &str) -> String {
    // The playbook first: the form then offers that playbook's roles and accounts.
    b.goto(&format!("{url}/console/requests/new?playbook={playbook}"))
        .await;
    set_field(b, "[name=playbook]", playbook).await;
    b.fill("[name=incident_id]", "INC-4242").await;
    set_field(b, "[name=account]", ACCOUNT).await;
    set_field(b, "[name=role]", "SecurityAnalyst").await;
    b.fill("[name=duration_minutes]", "60").await;
    b.fill("[name=justification]", "Tracing the leaked key's calls")
        .await;
    b.click_and_wait(&submit("form:has([name=justification])"))
        .await;
    let now = b.url().await;
    now.rsplit_once("/console/requests/")
        .map(|(_, id)| {
            id.split('?')
                .next()
                .unwrap_or(id)
                .trim_end_matches('/')
                .to_owned()
        })
        .unwrap_or_else(|| panic!("submitting the request should show it, not {now}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_from_the_identity_provider_approves_with_a_passkey_in_chromium() {
    let Some(driver) = Chromedriver::start() else {
        return;
    };
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let callback = format!("{url}/console/oidc/callback");
    let Some(provider) = OidcProvider::start(std::slice::from_ref(&callback)) else {
        return;
    };
    let extra = format!(
        "[auth.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"profile\", \"groups\"]\ngroups_claim = \"groups\"\nredirect_url = \"{callback}\"\n\n[auth.passkeys]\norigin = \"{url}\"\n{PASSKEY_PLAYBOOK}",
        provider.issuer()
    );
    // alice and bob also have local accounts (their break-glass path), with TOTP enrolled.
    let Some(broker) = Broker::start_at(
        port,
        &extra,
        &[("alice", false), ("bob", false)],
        &[("BREAKGLASS_OIDC_CLIENT_SECRET", CLIENT_SECRET)],
    ) else {
        return;
    };
    let shots = Shots::new("screenshots-passkeys");
    let bob_cli = broker.user("bob");
    let mut bob_totp = Authenticator::of(bob_cli);

    // alice, through the identity provider, asks for access twice.
    let Some(a) = driver.browser("alice", &shots).await else {
        return;
    };
    sign_in_with_sso(&a, &url, "alice").await;
    assert!(
        a.url().await.trim_end_matches('/').ends_with("/console"),
        "{}",
        a.body_text().await
    );
    let _ = a.drain_log().await;
    let plain = ask(&a, &url, "investigate").await;
    let strict = ask(&a, &url, "investigate-by-passkey").await;
    assert_eq!(api_status(bob_cli, &plain), "pending");
    assert_eq!(api_status(bob_cli, &strict), "pending");

    // bob, through the identity provider too, with a passkey on his device.
    let Some(b) = driver.browser("bob", &shots).await else {
        return;
    };
    let authenticator = b.add_virtual_authenticator().await;
    sign_in_with_sso(&b, &url, "bob").await;
    let _ = b.drain_log().await;
    b.goto(&format!("{url}/console/account")).await;
    b.page("account-passkeys", &["#passkey-enrol-button"]).await;
    b.fill("#passkey-name", "laptop").await;
    b.fill("#passkey-password", PASSWORD).await;
    // bob has a TOTP authenticator: adding a passkey takes a current code too.
    b.fill("#passkey-totp", &bob_totp.code()).await;
    b.click("#passkey-enrol-button").await;
    wait_for_url(&b, "passkey=enrolled").await;
    let listed = b.text("#passkey-list").await;
    assert!(listed.contains("laptop"), "{listed}");
    let held = b.authenticator_credentials(&authenticator).await;
    assert_eq!(
        held.as_array().map(Vec::len),
        Some(1),
        "the authenticator holds one credential: {held}"
    );
    b.page("account-passkey-enrolled", &[]).await;

    // bob approves alice's request with the passkey.
    b.goto(&format!("{url}/console/requests/{plain}")).await;
    b.page(
        "request-approve-with-passkey",
        &["#approve-form button[data-passkey-purpose]"],
    )
    .await;
    b.click_and_wait("#approve-form button[data-passkey-purpose]")
        .await;
    assert_eq!(
        b.text("#request-status").await,
        "approved",
        "{}",
        b.body_text().await
    );
    assert_eq!(api_status(bob_cli, &plain), "approved");

    // A playbook that takes a passkey only offers no code field, and refuses a TOTP code
    // posted anyway (an old tab, a hand-made form): in the console...
    b.goto(&format!("{url}/console/requests/{strict}")).await;
    assert!(b.has("#passkey-only").await && !b.has("#approve-totp").await);
    b.js(
        "const form = document.getElementById('approve-form');
         const code = document.createElement('input');
         code.name = 'totp';
         code.value = arguments[0];
         form.appendChild(code);
         window.__bgOldPage = true;
         form.submit();",
        vec![serde_json::json!(bob_totp.code())],
    )
    .await;
    b.wait_for_new_page("posting a TOTP approval").await;
    let refusal = b.body_text().await;
    assert!(
        refusal.contains("requires a passkey") && refusal.contains("investigate-by-passkey"),
        "the refusal should say a passkey is needed:\n{refusal}"
    );
    let _ = b.drain_log().await;
    b.page_allowing("approve-refused-totp", &[], Some(403))
        .await;
    assert_eq!(api_status(bob_cli, &strict), "pending");
    // ... and in the API.
    refused(
        &client(
            &bob_cli.session,
            &["approve", &strict, "--totp", &bob_totp.code()],
        ),
        "passkey_required",
    );
    // His passkey does it.
    b.goto(&format!("{url}/console/requests/{strict}")).await;
    b.click_and_wait("#approve-form button[data-passkey-purpose]")
        .await;
    assert_eq!(
        b.text("#request-status").await,
        "approved",
        "{}",
        b.body_text().await
    );
    assert_eq!(api_status(bob_cli, &strict), "approved");

    // Signing in with the password and the passkey (no TOTP code).
    b.goto(&format!("{url}/console/account")).await;
    b.click_and_wait(&submit("form.logout")).await;
    b.goto(&format!("{url}/console/login")).await;
    b.fill("[name=username]", "bob").await;
    b.fill("[name=password]", PASSWORD).await;
    b.click_and_wait(&submit("form:has([name=password])")).await;
    // The refused approval's 403 was logged by an earlier page.
    let _ = b.drain_log().await;
    b.page("sign-in-passkey", &["#passkey-sign-in-button"])
        .await;
    b.click_and_wait("#passkey-sign-in-button").await;
    let now = b.url().await;
    assert!(
        now.trim_end_matches('/').ends_with("/console"),
        "bob should be signed in, not at {now}:\n{}",
        b.body_text().await
    );
    assert!(b.body_text().await.contains("bob"));
    b.close().await;
    a.close().await;

    // Every passkey step is in the audit log.
    let out = std::process::Command::new(crate::support::BIN)
        .args(["audit", "export", "--store", &broker.store])
        .env("BREAKGLASS_TOTP_KEY", crate::support::KEY)
        .output()
        .unwrap();
    let log = ok(&out);
    for kind in ["passkey_enrolled", "passkey_verified", "action_refused"] {
        assert!(log.contains(kind), "no `{kind}` in the audit log");
    }
}
