//! Sign-in through a real OpenID provider (the certified `oidc-provider` package, started by
//! `breakglass_testkit::oidc`): the console's authorization code flow with PKCE and the CLI's
//! device grant, each driven through the provider's own pages by a cookie-keeping HTTP
//! client, ending on the broker with a session or a token, or a refusal that is audited.
//!
//! Skipped with a printed reason when Node.js or the npm package is missing, unless
//! `BREAKGLASS_REQUIRE_OIDC=1`.

use std::sync::Arc;

use breakglass_config::{OIDC_CALLBACK_PATH, OidcConfig, OidcSubject};
use breakglass_core::ports::Clock as _;
use breakglass_server::auth::oidc::OidcProvider;
use breakglass_server::console::ConsoleSettings;
use breakglass_testkit::oidc::agent::{Agent, Answer};
use breakglass_testkit::oidc::{self, CLIENT_ID, CLIENT_SECRET};
use reqwest::StatusCode;

use super::console::{Server, server_with};
use super::support::audit_count;

/// The broker and the provider, running.
struct Sso {
    server: Server,
    provider: oidc::OidcProvider,
    oidc: Arc<OidcProvider>,
}

/// Starts the broker (example config: alice in `ir-leads` and `responders`, carol in
/// `responders`) with `[auth.oidc]` pointing at a fresh provider; `None` when the provider
/// cannot run here (the reason is printed).
async fn sso() -> Option<Sso> {
    let mut provider = None;
    let mut sso_provider = None;
    let server = server_with(ConsoleSettings::default(), |base, clock, responders| {
        let redirect = format!("{base}{OIDC_CALLBACK_PATH}");
        let started = oidc::OidcProvider::start(std::slice::from_ref(&redirect))?;
        let config = OidcConfig {
            issuer: started.issuer(),
            client_id: CLIENT_ID.to_owned(),
            client_secret_env: "UNUSED_IN_TESTS".to_owned(),
            scopes: ["openid", "email", "profile", "groups"]
                .map(str::to_owned)
                .to_vec(),
            groups_claim: Some("groups".to_owned()),
            subject: OidcSubject::Email,
            redirect_url: redirect,
        };
        provider = Some(started);
        let oidc = Arc::new(OidcProvider::new(
            config,
            CLIENT_SECRET.to_owned(),
            responders,
            clock,
        ));
        sso_provider = Some(Arc::clone(&oidc));
        Some(oidc)
    })
    .await;
    Some(Sso {
        server,
        provider: provider?,
        oidc: sso_provider?,
    })
}

/// The console sign-in of `login` up to the broker's callback; returns the callback's answer.
async fn console_sign_in(sso: &Sso, agent: &mut Agent, login: &str) -> Answer {
    let base = &sso.server.base;
    let page = agent.get(&format!("{base}/console/login")).await.unwrap();
    assert!(
        page.body.contains("href=\"/console/login/sso\""),
        "the sign-in page offers SSO: {}",
        page.body
    );
    let start = agent
        .get(&format!("{base}/console/login/sso"))
        .await
        .unwrap();
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let to_provider = start.location.clone().unwrap();
    assert!(
        to_provider.starts_with(&sso.provider.issuer()),
        "{to_provider}"
    );
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
    ] {
        assert!(to_provider.contains(part), "{part} in {to_provider}");
    }
    let flow_cookie = start
        .set_cookies
        .iter()
        .find(|c| c.starts_with("bg_oidc="))
        .expect("the flow cookie");
    assert!(
        flow_cookie.contains("HttpOnly") && flow_cookie.contains("SameSite=Lax"),
        "{flow_cookie}"
    );
    let callback = format!("{base}{OIDC_CALLBACK_PATH}");
    let back = agent
        .through_the_provider(&to_provider, login, &callback)
        .await
        .unwrap();
    agent.get(&back).await.unwrap()
}

#[tokio::test]
async fn a_responder_signs_in_to_the_console_through_the_provider() {
    let Some(sso) = sso().await else { return };
    let mut agent = Agent::new();
    let done = console_sign_in(&sso, &mut agent, "alice").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.set_cookies
            .iter()
            .any(|c| c.starts_with("bg_session=bgt_")),
        "{:?}",
        done.set_cookies
    );
    let dashboard = agent
        .get(&format!("{}/console", sso.server.base))
        .await
        .unwrap();
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert!(dashboard.body.contains("alice"), "{}", dashboard.body);
    assert_eq!(
        audit_count(&sso.server.store, "sso_signed_in", None).await,
        1
    );
    // The local row exists now, with a password nobody knows.
    let users = sso.server.auth.users().await.unwrap();
    assert!(users.iter().any(|u| u.username == "alice"));
    assert!(
        !sso.provider.log().contains(CLIENT_SECRET),
        "the provider logged nothing secret of ours"
    );
}

#[tokio::test]
async fn a_callback_replayed_with_its_cookie_is_refused() {
    let Some(sso) = sso().await else { return };
    let mut agent = Agent::new();
    let base = &sso.server.base;
    let start = agent
        .get(&format!("{base}/console/login/sso"))
        .await
        .unwrap();
    let flow = agent.cookies.get("bg_oidc").unwrap().clone();
    let callback = format!("{base}{OIDC_CALLBACK_PATH}");
    let back = agent
        .through_the_provider(&start.location.unwrap(), "alice", &callback)
        .await
        .unwrap();
    assert_eq!(agent.get(&back).await.unwrap().status, StatusCode::OK);
    // The same answer and cookie once more, as an attacker who copied both would send them.
    agent.cookies.insert("bg_oidc".to_owned(), flow);
    let again = agent.get(&back).await.unwrap();
    assert_ne!(again.status, StatusCode::OK, "{}", again.body);
    assert!(
        !again
            .set_cookies
            .iter()
            .any(|c| c.starts_with("bg_session=bgt_"))
    );
    assert!(
        again.body.contains("start a new sign-in") || again.body.contains("Try signing in"),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn a_callback_without_the_flow_cookie_is_refused() {
    let Some(sso) = sso().await else { return };
    let mut agent = Agent::new();
    let base = &sso.server.base;
    let start = agent
        .get(&format!("{base}/console/login/sso"))
        .await
        .unwrap();
    agent.cookies.remove("bg_oidc");
    let callback = format!("{base}{OIDC_CALLBACK_PATH}");
    let back = agent
        .through_the_provider(&start.location.unwrap(), "alice", &callback)
        .await
        .unwrap();
    let done = agent.get(&back).await.unwrap();
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{}", done.body);
    assert!(
        done.body.contains("not started from this browser"),
        "{}",
        done.body
    );
}

#[tokio::test]
async fn someone_the_broker_does_not_know_is_refused_and_audited() {
    let Some(sso) = sso().await else { return };
    let mut agent = Agent::new();
    let done = console_sign_in(&sso, &mut agent, "mallory").await;
    assert_eq!(done.status, StatusCode::FORBIDDEN, "{}", done.body);
    assert!(
        done.body.contains("mallory@elsewhere.example")
            && done.body.contains("is not the email of any responder"),
        "{}",
        done.body
    );
    assert!(
        !done
            .set_cookies
            .iter()
            .any(|c| c.starts_with("bg_session=bgt_"))
    );
    assert_eq!(
        audit_count(&sso.server.store, "sso_sign_in_refused", None).await,
        1
    );
}

#[tokio::test]
async fn a_responder_outside_their_groups_at_the_provider_is_refused() {
    let Some(sso) = sso().await else { return };
    let mut agent = Agent::new();
    // The provider puts carol in `ir-leads`; the broker's config has her in `responders`.
    let done = console_sign_in(&sso, &mut agent, "carol").await;
    assert_eq!(done.status, StatusCode::FORBIDDEN, "{}", done.body);
    assert!(
        done.body.contains("(<code>responders</code>)"),
        "{}",
        done.body
    );
    assert_eq!(
        audit_count(&sso.server.store, "sso_sign_in_refused", None).await,
        1
    );
}

/// Drives the provider's device pages for the started sign-in as `login`.
async fn approve_device(agent: &mut Agent, start: &serde_json::Value, login: &str) {
    let page = start["verification_uri_complete"].as_str().unwrap();
    let end = agent
        .through_the_provider(page, login, "http://never.example")
        .await
        .unwrap();
    assert!(end.contains("Sign-in Success"), "{end}");
}

#[tokio::test]
async fn the_cli_device_grant_yields_a_broker_token() {
    let Some(sso) = sso().await else { return };
    let base = sso.server.base.clone();
    let mut cli = Agent::new();
    let started = cli
        .post_json(
            &format!("{base}/api/v1/login/sso/device"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let start: serde_json::Value = serde_json::from_str(&started.body).unwrap();
    assert!(start["user_code"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(
        start["verification_uri"]
            .as_str()
            .unwrap()
            .starts_with(&sso.provider.issuer())
    );
    let handle = serde_json::json!({"handle": start["handle"]});
    let poll = format!("{base}/api/v1/login/sso/token");
    let pending = cli.post_json(&poll, &handle).await.unwrap();
    assert_eq!(pending.status, StatusCode::OK, "{}", pending.body);
    let pending: serde_json::Value = serde_json::from_str(&pending.body).unwrap();
    assert_eq!(pending["status"], "pending", "{pending}");
    assert!(pending["interval"].as_u64().unwrap() >= 1);

    let mut person = Agent::new();
    approve_device(&mut person, &start, "alice").await;

    // The provider may ask for slower polling after the first poll: wait as told.
    let mut answer = serde_json::Value::Null;
    for _ in 0..5 {
        let interval = pending["interval"].as_u64().unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        let polled = cli.post_json(&poll, &handle).await.unwrap();
        assert_eq!(polled.status, StatusCode::OK, "{}", polled.body);
        answer = serde_json::from_str(&polled.body).unwrap();
        if answer["status"] == "signed_in" {
            break;
        }
    }
    assert_eq!(answer["status"], "signed_in", "{answer}");
    let token = answer["token"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("bgt_"));
    let me = sso.server.auth.authenticate(&token).await.unwrap();
    assert_eq!(me.username.as_str(), "alice");
    assert!(me.second_factor, "the provider vouched for the sign-in");
    assert!(me.expires_at - sso.server.clock.now() <= time::Duration::hours(12));
    // The handle is spent at the provider: it yields no second token.
    let again = cli.post_json(&poll, &handle).await.unwrap();
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
}

#[tokio::test]
async fn a_forged_device_handle_is_refused() {
    let Some(sso) = sso().await else { return };
    let mut cli = Agent::new();
    let answer = cli
        .post_json(
            &format!("{}/api/v1/login/sso/token", sso.server.base),
            &serde_json::json!({"handle": "00112233445566778899aabbccddeeff00112233445566778899"}),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert!(answer.body.contains("sso_failed"), "{}", answer.body);
}

#[tokio::test]
async fn the_provider_is_read_again_after_an_hour_and_kept_while_it_is_down() {
    let Some(sso) = sso().await else { return };
    let first = sso.oidc.get().await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &sso.oidc.get().await.unwrap()),
        "cached"
    );
    let start = sso.server.clock.now();
    sso.server
        .clock
        .advance(breakglass_server::auth::oidc::REFRESH_AFTER + time::Duration::minutes(1));
    let second = sso.oidc.get().await.unwrap();
    assert!(!Arc::ptr_eq(&first, &second), "read again after an hour");
    // Back to the provider's time (its tokens are checked against the broker's clock): the
    // refreshed client signs people in.
    sso.server.clock.set(start);
    let mut agent = Agent::new();
    let done = console_sign_in(&sso, &mut agent, "alice").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // The provider goes away: an hour later the last client read stays in use.
    let Sso {
        server,
        provider,
        oidc,
    } = sso;
    drop(provider);
    server
        .clock
        .advance(breakglass_server::auth::oidc::REFRESH_AFTER * 2);
    let kept = oidc.get().await.unwrap();
    assert!(
        Arc::ptr_eq(&kept, &second),
        "kept while the provider is down"
    );
}

#[tokio::test]
async fn a_sign_in_cancelled_at_the_provider_says_so_and_a_forged_error_shows_no_text() {
    let Some(sso) = sso().await else { return };
    let base = &sso.server.base;
    let callback = format!("{base}{OIDC_CALLBACK_PATH}");
    let mut agent = Agent::new();
    let start = agent
        .get(&format!("{base}/console/login/sso"))
        .await
        .unwrap();
    // To the provider's sign-in page, where the person cancels.
    let mut page = agent.get(&start.location.unwrap()).await.unwrap();
    while let Some(next) = page.location.clone() {
        page = agent.get(&next).await.unwrap();
    }
    let abort = regex::Regex::new(r#"href="([^"]*abort[^"]*)""#)
        .unwrap()
        .captures(&page.body)
        .unwrap_or_else(|| panic!("no way to cancel on {}", page.body))[1]
        .replace("&amp;", "&");
    let abort = reqwest::Url::parse(&sso.provider.issuer())
        .unwrap()
        .join(&abort)
        .unwrap();
    let mut back = agent.get(abort.as_str()).await.unwrap().location.unwrap();
    while !back.starts_with(&callback) {
        back = agent.get(&back).await.unwrap().location.unwrap();
    }
    let done = agent.get(&back).await.unwrap();
    assert_eq!(done.status, StatusCode::UNAUTHORIZED, "{}", done.body);
    assert!(
        done.body.contains(
            "did not sign you in: <code>access_denied</code> (End-User aborted interaction)"
        ),
        "{}",
        done.body
    );
    // The same answer forged into a link for someone with no sign-in under way: the code
    // only, none of the link's text.
    let mut stranger = Agent::new();
    let forged = stranger
        .get(&format!(
            "{callback}?error=access_denied%3Cb%3E&error_description=Call%20the%20helpdesk%20at%20555"
        ))
        .await
        .unwrap();
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(
        forged.body.contains("<code>access_deniedb</code>"),
        "{}",
        forged.body
    );
    assert!(!forged.body.contains("helpdesk"), "{}", forged.body);
}
