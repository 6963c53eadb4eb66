//! The door's limits, tried as an attacker would: sign-in limits behind a trusted proxy and
//! from a spoofing peer, backoff that delays without locking out, a valid second factor
//! that gets an approver past a distributed guesser, second-factor backoff that survives a
//! restart and alerts on lockouts in a row, and the JSON API's transport rules.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use breakglass_core::accounts::LOCKOUTS_ALERT;
use breakglass_core::model::Username;
use breakglass_core::outbox::Audience;
use breakglass_core::ports::{AuthStore, Clock, Store};
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::{AuthError, TOTP_FAILURES, totp};
use breakglass_server::console::ConsoleSettings;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use time::Duration;
use tower::ServiceExt as _;

use crate::api::{Api, api, api_with};
use crate::auth::{Fixture, code, fixture, postgres_fixture};

const PASSWORD: &str = "correct horse battery";

fn behind(proxies: &[&str]) -> ConsoleSettings {
    ConsoleSettings {
        trusted_proxies: breakglass_server::app::TrustedProxies::new(
            proxies.iter().map(|p| p.parse().unwrap()),
        ),
        ..ConsoleSettings::default()
    }
}

/// `POST /api/v1/login` as `username` from TCP peer `peer`, with `X-Forwarded-For` if given.
async fn login_from(
    api: &Api,
    peer: &str,
    forwarded: Option<&str>,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/login")
        .header("content-type", "application/json");
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req
        .body(Body::from(
            json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let (status, _, body) = send(api, req).await;
    (status, body)
}

async fn send(api: &Api, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let resp = api.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, value)
}

#[tokio::test]
async fn behind_a_trusted_proxy_twenty_bad_logins_from_one_client_do_not_stop_another() {
    let api = api_with(behind(&["10.0.0.1/32"])).await;
    for name in ["carol", "dave"] {
        api.auth
            .add_user(name, PASSWORD, false, None)
            .await
            .unwrap();
    }
    // One client behind the proxy guesses twenty names; the proxy appends its address.
    for i in 0..Limits::default().per_address {
        let (s, v) = login_from(
            &api,
            "10.0.0.1",
            Some("198.51.100.1, 203.0.113.5"),
            &format!("mallory{i}"),
            "not the password",
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    }
    // That client now waits, even with a right password...
    let (s, v) = login_from(&api, "10.0.0.1", Some("203.0.113.5"), "dave", PASSWORD).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited");
    // ...but another client behind the same proxy signs in.
    let (s, v) = login_from(&api, "10.0.0.1", Some("203.0.113.6"), "carol", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn an_x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    for settings in [behind(&["10.0.0.1/32"]), ConsoleSettings::default()] {
        let api = api_with(settings).await;
        api.auth
            .add_user("carol", PASSWORD, false, None)
            .await
            .unwrap();
        // A guesser not behind the proxy makes up a new client address for each guess.
        for i in 0..Limits::default().per_address {
            let (s, v) = login_from(
                &api,
                "198.51.100.7",
                Some(&format!("203.0.113.{i}")),
                &format!("mallory{i}"),
                "not the password",
            )
            .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        }
        // The peer is what is limited.
        let (s, v) = login_from(
            &api,
            "198.51.100.7",
            Some("203.0.113.99"),
            "carol",
            PASSWORD,
        )
        .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
        let (s, v) = login_from(&api, "198.51.100.8", None, "carol", PASSWORD).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
}

/// Adds `name` with a TOTP authenticator; returns its base32 seed.
async fn enrolled(f: &Fixture, name: &str) -> String {
    f.auth.add_user(name, PASSWORD, false, None).await.unwrap();
    let (secret, _) = crate::support::enrol(&f.auth, &f.clock, name).await;
    secret.expose().to_owned()
}

fn now_code(f: &Fixture, seed: &str) -> String {
    code(seed, f.clock.now().unix_timestamp())
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn fifty_five_bad_logins_over_eleven_addresses_do_not_stop_an_approver_with_a_valid_code() {
    let f = fixture().await;
    let seed = enrolled(&f, "bob").await;
    for a in 0..11 {
        for _ in 0..5 {
            let err = f
                .auth
                .login_with_totp(
                    "bob",
                    "not the password",
                    None,
                    &format!("198.51.100.{a}"),
                    "cli",
                    None,
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, AuthError::BadCredentials | AuthError::RateLimited(_)),
                "{err}"
            );
        }
    }
    // Bob's own address: his password alone waits for the per-user limit...
    let err = f
        .auth
        .login_with_totp("bob", PASSWORD, None, "10.0.0.7", "cli", None)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::RateLimited(_)), "{err}");
    assert!(err.to_string().contains("current code"), "{err}");
    // ...a wrong code does not get him past it (and counts as a wrong code)...
    let good = now_code(&f, &seed);
    let err = f
        .auth
        .login_with_totp(
            "bob",
            PASSWORD,
            Some(&wrong(&good)),
            "10.0.0.7",
            "cli",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::RateLimited(_)), "{err}");
    let run = f
        .store
        .second_factor_failures("bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.failures, 1);
    // ...but his password with a valid code signs him in, and the right code ends the run.
    let token = f
        .auth
        .login_with_totp("bob", PASSWORD, Some(&good), "10.0.0.7", "cli", None)
        .await
        .unwrap();
    assert_eq!(
        f.auth
            .authenticate(token.secret.expose())
            .await
            .unwrap()
            .username
            .as_str(),
        "bob"
    );
    assert_eq!(f.store.second_factor_failures("bob").await.unwrap(), None);
    // A guesser with a made-up code learns nothing about the password: the code is checked
    // first, and the password not at all.
    let err = f
        .auth
        .login_with_totp(
            "bob",
            "not the password",
            Some("000000"),
            "198.51.100.99",
            "cli",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::RateLimited(_)), "{err}");
}

#[tokio::test]
async fn fifty_five_bad_console_logins_over_eleven_addresses_do_not_stop_an_approver() {
    use crate::console::{Browser, server};
    let s = server(behind(&["127.0.0.1/32"])).await;
    let seed = s.user("bob", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.get("/console/login").await.csrf();
    for a in 0..11 {
        let forwarded = format!("198.51.100.{a}");
        for _ in 0..5 {
            let r = b
                .post_with(
                    "/console/login",
                    &[
                        ("csrf", &csrf),
                        ("username", "bob"),
                        ("password", "not the password"),
                    ],
                    &[("x-forwarded-for", &forwarded)],
                )
                .await;
            assert!(
                [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(&r.status),
                "{}",
                r.body
            );
        }
    }
    // Bob's own address: his password alone waits for the per-user limit...
    let own = [("x-forwarded-for", "10.0.0.7")];
    let r = b
        .post_with(
            "/console/login",
            &[("csrf", &csrf), ("username", "bob"), ("password", PASSWORD)],
            &own,
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // ...and with a current code he is in (the clock has not moved: the limit still holds).
    let seed = totp::base32_decode(&seed).unwrap();
    let code = totp::code_at(
        &seed,
        totp::step_of(s.clock.now().unix_timestamp()),
        totp::DIGITS,
    );
    let r = b
        .post_with(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "bob"),
                ("password", PASSWORD),
                ("totp", &code),
            ],
            &own,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.set_cookies().iter().any(|c| c.starts_with("bg_session=")));
}

#[tokio::test]
async fn backoff_grows_and_a_rightful_sign_in_is_delayed_never_refused_for_good() {
    let f = fixture().await;
    f.auth
        .add_user("carol", PASSWORD, false, None)
        .await
        .unwrap();
    let free = Limits::default().per_user_and_address;
    for _ in 0..free {
        let err = f
            .auth
            .login_with_totp("carol", "not the password", None, "10.0.0.1", "cli", None)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::BadCredentials), "{err}");
    }
    let mut waits = Vec::new();
    for _ in 0..4 {
        let err = f
            .auth
            .login_with_totp("carol", PASSWORD, None, "10.0.0.1", "cli", None)
            .await
            .unwrap_err();
        let AuthError::RateLimited(until) = err else {
            panic!("{err}")
        };
        waits.push((until - f.clock.now()).whole_seconds());
        f.clock.set(until);
        let err = f
            .auth
            .login_with_totp("carol", "not the password", None, "10.0.0.1", "cli", None)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::BadCredentials), "{err}");
    }
    assert_eq!(waits, [1, 2, 4, 8]);
    // The right password, once the wait is over, gets in.
    let AuthError::RateLimited(until) = f
        .auth
        .login_with_totp("carol", PASSWORD, None, "10.0.0.1", "cli", None)
        .await
        .unwrap_err()
    else {
        panic!("not rate limited")
    };
    assert_eq!((until - f.clock.now()).whole_seconds(), 16);
    f.clock.set(until);
    f.auth
        .login_with_totp("carol", PASSWORD, None, "10.0.0.1", "cli", None)
        .await
        .unwrap();
}

#[tokio::test]
async fn second_factor_backoff_survives_a_restart() {
    survives_a_restart(fixture().await).await;
}

#[tokio::test]
async fn second_factor_backoff_survives_a_restart_on_postgres() {
    if let Some(f) = postgres_fixture().await {
        survives_a_restart(f).await;
    }
}

async fn survives_a_restart(f: Fixture) {
    let seed = enrolled(&f, "alice").await;
    let alice = Username::new("alice").unwrap();
    let good = now_code(&f, &seed);
    for _ in 0..TOTP_FAILURES {
        let err = f.auth.verify_totp(&alice, &wrong(&good), "approve").await;
        assert!(matches!(err, Err(AuthError::BadTotp)), "{err:?}");
    }
    // A new process over the same store: still locked, for 30 s.
    let restarted = f.restart();
    let err = restarted.verify_totp(&alice, &good, "approve").await;
    let Err(AuthError::TotpLocked(until)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(until - f.clock.now(), Duration::seconds(30));
    // The next wrong code doubles the lock, and another restart keeps it.
    f.clock.set(until);
    let err = restarted
        .verify_totp(&alice, &wrong(&now_code(&f, &seed)), "approve")
        .await;
    assert!(matches!(err, Err(AuthError::BadTotp)), "{err:?}");
    let err = f.restart().verify_totp(&alice, &good, "approve").await;
    let Err(AuthError::TotpLocked(until)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(until - f.clock.now(), Duration::seconds(60));
    // Once it is over, a right code works and ends the run.
    f.clock.set(until);
    f.restart()
        .verify_totp(&alice, &now_code(&f, &seed), "approve")
        .await
        .unwrap();
    assert_eq!(f.store.second_factor_failures("alice").await.unwrap(), None);
}

#[tokio::test]
async fn lockouts_in_a_row_alert_the_security_team_in_the_same_transaction() {
    let f = fixture().await;
    let seed = enrolled(&f, "alice").await;
    let alice = Username::new("alice").unwrap();
    let lockouts = LOCKOUTS_ALERT + 1;
    for _ in 0..(TOTP_FAILURES - 1 + lockouts) {
        let bad = wrong(&now_code(&f, &seed));
        let err = f.auth.verify_totp(&alice, &bad, "approve").await;
        assert!(matches!(err, Err(AuthError::BadTotp)), "{err:?}");
        if let Some(until) = f
            .store
            .second_factor_failures("alice")
            .await
            .unwrap()
            .and_then(|r| r.locked_until)
        {
            f.clock.set(until);
        }
    }
    let rows = f.store.audit_rows(0, 1000).await.unwrap();
    let locked: Vec<u64> = rows
        .iter()
        .filter(|r| r.kind == "second_factor_locked_out")
        .map(|r| u64::try_from(r.seq).unwrap())
        .collect();
    assert_eq!(locked.len(), usize::try_from(lockouts).unwrap());
    // Only the lockouts from the alerting one on reach the security team, each with the
    // audit record written in its own transaction.
    let far = f.clock.now() + Duration::days(1);
    let alerts: Vec<_> = f
        .store
        .outbox_due(far, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.notification.kind == "second_factor_locked_out")
        .collect();
    let alerted: Vec<u64> = alerts.iter().map(|m| m.audit_seq).collect();
    let first = usize::try_from(LOCKOUTS_ALERT - 1).unwrap();
    assert_eq!(alerted, locked[first..]);
    for m in &alerts {
        assert_eq!(m.notification.audience, [Audience::SecurityTeam]);
        assert!(m.notification.subject.contains("alice"), "{m:?}");
    }
    // A right code ends the run: the next wrong code starts from scratch.
    let until = f
        .store
        .second_factor_failures("alice")
        .await
        .unwrap()
        .unwrap()
        .locked_until
        .unwrap();
    f.clock.set(until);
    f.auth
        .verify_totp(&alice, &now_code(&f, &seed), "approve")
        .await
        .unwrap();
    f.clock.advance(Duration::seconds(30));
    let err = f
        .auth
        .verify_totp(&alice, &wrong(&now_code(&f, &seed)), "approve")
        .await;
    assert!(matches!(err, Err(AuthError::BadTotp)), "{err:?}");
    let run = f
        .store
        .second_factor_failures("alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((run.failures, run.locked_until), (1, None));
}

/// A raw API request: no content type unless given.
fn raw(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(if body.is_empty() {
        Body::empty()
    } else {
        Body::from(body.to_owned())
    })
    .unwrap()
}

#[tokio::test]
async fn the_json_api_refuses_other_bodies_and_foreign_origins() {
    let api = api().await;
    api.auth
        .add_user("carol", PASSWORD, false, None)
        .await
        .unwrap();
    let body = json!({"username": "carol", "password": PASSWORD}).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let req = raw(
            "POST",
            "/api/v1/login",
            &[("content-type", content_type)],
            &body,
        );
        let (s, _, v) = send(&api, req).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}: {v}");
        assert_eq!(v["error"]["code"], "unsupported_media_type");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    // A body without a content type is refused too.
    let (s, _, _) = send(&api, raw("POST", "/api/v1/login", &[], &body)).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // JSON, with or without a charset, is taken.
    let req = raw(
        "POST",
        "/api/v1/login",
        &[("content-type", "application/json; charset=utf-8")],
        &body,
    );
    let (s, _, v) = send(&api, req).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    // A post without a body needs no content type (as some CLI calls send none): it reaches
    // its handler (which asks for the password carol's enrolment needs).
    let req = raw(
        "POST",
        "/api/v1/totp/enroll",
        &[("authorization", &bearer)],
        "",
    );
    let (s, _, v) = send(&api, req).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("bad_request")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("password"),
        "{v}"
    );
    // A foreign Origin is refused, whatever the body; the broker's own is not.
    for origin in [
        "https://evil.example",
        "null",
        "http://localhost.evil.example",
    ] {
        let req = raw(
            "GET",
            "/api/v1/me",
            &[
                ("authorization", &bearer),
                ("origin", origin),
                ("host", "localhost:8470"),
            ],
            "",
        );
        let (s, _, v) = send(&api, req).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{origin}: {v}");
        assert_eq!(v["error"]["code"], "forbidden_origin");
    }
    let req = raw(
        "GET",
        "/api/v1/me",
        &[
            ("authorization", &bearer),
            ("origin", "http://localhost:8470"),
            ("host", "localhost:8470"),
        ],
        "",
    );
    let (s, _, v) = send(&api, req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The console's forms are not the API's business.
    let req = raw(
        "POST",
        "/console/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        "username=carol",
    );
    let (s, _, _) = send(&api, req).await;
    assert_ne!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn every_response_is_sent_with_no_store() {
    let api = api().await;
    api.auth
        .add_user("carol", PASSWORD, false, None)
        .await
        .unwrap();
    let login = json!({"username": "carol", "password": PASSWORD}).to_string();
    let json = [("content-type", "application/json")];
    let requests = [
        raw("GET", "/healthz", &[], ""),
        raw("GET", "/openapi.json", &[], ""),
        raw("GET", "/metrics", &[], ""),
        raw("GET", "/api/v1/me", &[], ""),
        raw("POST", "/api/v1/login", &json, &login),
        raw(
            "POST",
            "/api/v1/login",
            &[("content-type", "text/plain")],
            &login,
        ),
        raw("GET", "/api/v1/nope", &[], ""),
        raw("GET", "/console/login", &[], ""),
        raw("GET", "/", &[], ""),
    ];
    for req in requests {
        let path = req.uri().to_string();
        let (s, headers, _) = send(&api, req).await;
        assert_eq!(
            headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path} ({s})"
        );
    }
}
