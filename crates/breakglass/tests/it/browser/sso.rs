//! Signing in to the console through the organisation's identity provider, in headless
//! Chromium: the real `breakglass serve` with `[auth.oidc]` pointing at the test OpenID
//! provider (the certified `oidc-provider` package), whose own sign-in and consent pages the
//! person goes through. alice lands on her dashboard as the responder the config makes her
//! (her playbooks offered); carol, whom the provider puts in none of her broker groups, is
//! refused with what to do next.

use std::time::{Duration, Instant};

use breakglass_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider};

use super::driver::{Chromedriver, Shots};
use super::page::Browser;
use crate::support::{Broker, free_port};

/// From the broker's sign-in page through the provider's pages as `login`, until the browser
/// is back on the broker and has settled (the callback page moves on to the console).
pub(super) async fn sign_in_with_sso(b: &Browser<'_>, url: &str, login: &str) {
    b.goto(&format!("{url}/console/login")).await;
    b.click_and_wait("#sso").await;
    // The provider's sign-in page: any password passes there.
    b.fill("[name=login]", login).await;
    b.fill("[name=password]", "provider password").await;
    b.click_and_wait("button[type=submit]").await;
    // Its consent page.
    b.click_and_wait("button[type=submit]").await;
    // Back on the broker: the callback, then (on success) the console.
    let started = Instant::now();
    loop {
        let now = b.url().await;
        let settled = now.starts_with(url)
            && !now.contains("/console/oidc/callback")
            && b.js("return document.readyState;", vec![]).await == "complete";
        if settled
            || (now.contains("/console/oidc/callback") && !b.has("meta[http-equiv=refresh]").await)
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{login}: still at {now} after signing in at the provider:\n{}",
            b.body_text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_signs_in_through_the_identity_provider_in_chromium() {
    let Some(driver) = Chromedriver::start() else {
        return;
    };
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let Some(provider) = OidcProvider::start(&[format!("{url}/console/oidc/callback")]) else {
        return;
    };
    let extra = format!(
        "[auth.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"profile\", \"groups\"]\ngroups_claim = \"groups\"\n",
        provider.issuer()
    );
    let Some(_broker) = Broker::start_at(
        port,
        &extra,
        &[],
        &[("BREAKGLASS_OIDC_CLIENT_SECRET", CLIENT_SECRET)],
    ) else {
        return;
    };
    let shots = Shots::new("screenshots-sso");

    let Some(a) = driver.browser("alice", &shots).await else {
        return;
    };
    a.goto(&format!("{url}/console/login")).await;
    a.page("login-with-sso", &["#sso"]).await;
    sign_in_with_sso(&a, &url, "alice").await;
    let now = a.url().await;
    assert!(
        now.trim_end_matches('/').ends_with("/console"),
        "alice should land on the dashboard, not {now}:\n{}",
        a.body_text().await
    );
    assert!(a.has("#my-requests").await, "{}", a.body_text().await);
    assert!(a.body_text().await.contains("alice"));
    // The session is the password sign-in's: HttpOnly, SameSite=Strict, for the console.
    assert_eq!(
        a.cookie("bg_session").await,
        (true, false, "Strict".to_owned(), "/".to_owned())
    );
    // The provider's pages are not the console's: only the console's log must be clean.
    let _ = a.drain_log().await;
    a.page("sso-dashboard", &["a[href$='/console/requests/new']"])
        .await;
    // Mapped to the responder the config makes her: her playbooks are on offer.
    a.click_and_wait("a[href$='/console/requests/new']").await;
    let offered = a.body_text().await;
    assert!(offered.contains("investigate"), "{offered}");
    a.close().await;

    // carol: the provider has her in `ir-leads` only, the config in `responders` only.
    let Some(c) = driver.browser("carol", &shots).await else {
        return;
    };
    sign_in_with_sso(&c, &url, "carol").await;
    let refused = c.body_text().await;
    assert!(
        refused.contains("does not put you in any of your broker groups")
            && refused.contains("groups (responders)")
            && !refused.contains('`'),
        "{refused}"
    );
    let _ = c.drain_log().await;
    c.page_allowing("sso-refused", &[], Some(403)).await;
    assert!(c.has("a[href='/console/login/sso']").await);
    c.close().await;
}
