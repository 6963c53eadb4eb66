//! The door, tried as an attacker would: a password alone never yields a usable token of
//! an enrolled user, a stolen token cannot enrol its own second factor, an administrator
//! can stop a compromised account at once, and the actions where harm is done (signing off
//! a break-glass review, the first credentials of a break-glass grant) ask for a fresh
//! step-up. Each test would pass an attacker on the code before this change.

use axum::http::StatusCode;
use breakglass_core::ports::{Clock, Store};
use serde_json::{Value, json};
use time::Duration;

use crate::api::{api, code_of};
use crate::support;

const PASSWORD: &str = "correct horse battery";

fn login(name: &str, code: Option<&str>) -> Value {
    let mut body = json!({"username": name, "password": PASSWORD});
    if let Some(c) = code {
        body["totp"] = json!(c);
    }
    body
}

#[tokio::test]
async fn a_password_alone_never_signs_in_an_enrolled_user() {
    let api = api().await;
    let (_, seed) = api.user("alice", false).await;
    let (s, r) = api
        .call("POST", "/api/v1/login", None, Some(login("alice", None)))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{r}");
    assert_eq!(code_of(&r), "second_factor_required", "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("--totp"));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(login("alice", Some("000000"))),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    assert_eq!(code_of(&r), "totp_invalid");
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(login("alice", Some(&api.code(&seed)))),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let token = r["token"].as_str().unwrap();
    let (s, me) = api.call("GET", "/api/v1/me", Some(token), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["second_factor"], true);
}

#[tokio::test]
async fn a_sign_in_lasts_twelve_hours_at_most() {
    let api = api().await;
    let (_, seed) = api.user("alice", false).await;
    let mut body = login("alice", Some(&api.code(&seed)));
    body["ttl_hours"] = json!(13);
    let (s, r) = api.call("POST", "/api/v1/login", None, Some(body)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ttl_hours")
    );
    let mut body = login("alice", Some(&api.code(&seed)));
    body["ttl_hours"] = json!(2160);
    let (s, _) = api.call("POST", "/api/v1/login", None, Some(body)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    api.clock.advance(Duration::seconds(30));
    let mut body = login("alice", Some(&api.code(&seed)));
    body["ttl_hours"] = json!(12);
    let (s, r) = api.call("POST", "/api/v1/login", None, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
}

#[tokio::test]
async fn a_token_without_a_second_factor_may_only_enrol_one_and_needs_the_password_to() {
    let api = api().await;
    api.auth
        .add_user("mallory", PASSWORD, false, None)
        .await
        .unwrap();
    let (s, r) = api
        .call("POST", "/api/v1/login", None, Some(login("mallory", None)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let stolen = r["token"].as_str().unwrap().to_owned();
    // The token does nothing but enrol.
    let (s, me) = api.call("GET", "/api/v1/me", Some(&stolen), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["second_factor"], false);
    for (method, path) in [
        ("GET", "/api/v1/requests"),
        ("POST", "/api/v1/requests"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/tokens"),
    ] {
        let (s, r) = api.call(method, path, Some(&stolen), Some(json!({}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {r}");
        assert_eq!(code_of(&r), "second_factor_required", "{method} {path}");
    }
    // Holding the token is not enough to enrol: the password is asked for, and checked.
    let (s, r) = api
        .call("POST", "/api/v1/totp/enroll", Some(&stolen), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("password"));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/totp/enroll",
            Some(&stolen),
            Some(json!({"password": "not the password"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{r}");
    assert_eq!(code_of(&r), "bad_credentials");
    // With the password, the enrolment waits for a code from the new authenticator: a
    // wrong one changes nothing.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/totp/enroll",
            Some(&stolen),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let seed = r["secret"].as_str().unwrap().to_owned();
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/totp/confirm",
            Some(&stolen),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = api
        .call("POST", "/api/v1/requests", Some(&stolen), Some(json!({})))
        .await;
    assert_eq!(code_of(&r), "second_factor_required", "{s} {r}");
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/totp/confirm",
            Some(&stolen),
            Some(json!({"code": api.code(&seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let full = r["token"].as_str().unwrap().to_owned();
    // The enrol-only token has done its job and is revoked; the new one works.
    let (s, _) = api.call("GET", "/api/v1/me", Some(&stolen), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, r) = api.call("GET", "/api/v1/requests", Some(&full), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let kinds = api.audit_kinds().await;
    assert!(kinds.contains(&"account_changed".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"totp_enrolled".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn a_disabled_users_tokens_stop_at_once_and_every_change_is_audited_and_alerted() {
    let api = api().await;
    let (admin, admin_seed) = api.user("root", true).await;
    let (alice, alice_seed) = api.user("alice", false).await;
    let (s, _) = api
        .call("GET", "/api/v1/requests", Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Not by a non-administrator, nor without the administrator's step-up.
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/users/root/disable",
            Some(&alice),
            Some(json!({"totp": api.code(&alice_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/alice/disable",
            Some(&admin),
            Some(json!({"totp": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(code_of(&r), "totp_missing");
    // Nor one's own account.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/root/disable",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    api.clock.advance(Duration::seconds(30));

    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/alice/disable",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["change"], "disabled");
    let (s, r) = api
        .call("GET", "/api/v1/requests", Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{r}");
    assert_eq!(code_of(&r), "account_disabled");
    // Nor can she sign in again, even with both factors.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(login("alice", Some(&api.code(&alice_seed)))),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{r}");
    assert_eq!(code_of(&r), "account_disabled");
    let (_, users) = api.call("GET", "/api/v1/users", Some(&admin), None).await;
    let listed = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(listed["disabled"], true);

    // Enabled again, she signs in afresh; the old token stays revoked.
    api.clock.advance(Duration::seconds(30));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/alice/enable",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, _) = api
        .call("GET", "/api/v1/requests", Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    api.clock.advance(Duration::seconds(30));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(login("alice", Some(&api.code(&alice_seed)))),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let again = r["token"].as_str().unwrap().to_owned();

    // Signed out everywhere.
    api.clock.advance(Duration::seconds(30));
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/users/alice/revoke-tokens",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api.call("GET", "/api/v1/me", Some(&again), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // A reset second factor: her password stops working too; she gets a new invitation.
    api.clock.advance(Duration::seconds(30));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/alice/reset-second-factor",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["invitation_url"].as_str().is_some(), "{r}");
    let (s, _) = api
        .call("POST", "/api/v1/login", None, Some(login("alice", None)))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Each change is in the audit chain and was written to the outbox for the security
    // team, in the same transaction.
    let rows = api.store.audit_rows(0, 10_000).await.unwrap();
    let changes: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == "account_changed")
        .map(|r| {
            let v: Value = serde_json::from_str(&r.body).unwrap();
            v["event"]["change"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    for change in [
        "disabled",
        "enabled",
        "tokens_revoked",
        "second_factor_reset",
    ] {
        assert!(
            changes.contains(&change.to_owned()),
            "{change}: {changes:?}"
        );
    }
    let outbox = api.store.outbox_due(api.clock.now(), 100).await.unwrap();
    let alerts = outbox
        .iter()
        .filter(|m| m.notification.kind == "account_changed")
        .count();
    assert!(alerts >= 4, "{alerts} account alerts in the outbox");
}

#[tokio::test]
async fn after_a_password_change_the_old_password_fails_and_other_sessions_end() {
    let api = api().await;
    let (token, seed) = api.user("alice", false).await;
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(login("alice", Some(&api.code(&seed)))),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let laptop = r["token"].as_str().unwrap().to_owned();
    api.clock.advance(Duration::seconds(30));
    let change = |old: &str, totp: String| json!({"old_password": old, "new_password": "a brand new passphrase", "totp": totp});
    // The old password and a code are both required.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/password",
            Some(&token),
            Some(change("wrong password!!", api.code(&seed))),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{r}");
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/password",
            Some(&token),
            Some(change(PASSWORD, String::new())),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/password",
            Some(&token),
            Some(change(PASSWORD, api.code(&seed))),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["change"], "password_changed");
    // This session goes on; the other one ended.
    let (s, _) = api.call("GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api.call("GET", "/api/v1/me", Some(&laptop), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    api.clock.advance(Duration::seconds(30));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(login("alice", Some(&api.code(&seed)))),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{r}");
    assert_eq!(code_of(&r), "bad_credentials");
    api.clock.advance(Duration::seconds(30));
    let body =
        json!({"username": "alice", "password": "a brand new passphrase", "totp": api.code(&seed)});
    let (s, r) = api.call("POST", "/api/v1/login", None, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
}

fn emergency() -> Value {
    json!({
        "playbook": "emergency", "role": "SecurityBreakGlass", "account": "222222222222",
        "duration_seconds": 3600, "incident": "INC-9", "justification": "console is down"
    })
}

#[tokio::test]
async fn the_first_credentials_of_a_break_glass_grant_need_a_fresh_step_up() {
    let api = api().await;
    let (alice, seed) = api.user("alice", false).await;
    let mut ask = emergency();
    ask["totp"] = json!(api.code(&seed));
    let (s, r) = api
        .call("POST", "/api/v1/break-glass", Some(&alice), Some(ask))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let grant = r["grant"]["id"].as_str().unwrap().to_owned();
    let creds = format!("/api/v1/grants/{grant}/credentials");

    // Six minutes later the activation's step-up is stale: a token alone mints nothing.
    api.clock.advance(Duration::minutes(6));
    let (s, r) = api.call("POST", &creds, Some(&alice), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    assert_eq!(code_of(&r), "step_up_required", "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("--totp"));
    let console = format!("/api/v1/grants/{grant}/console");
    let (s, r) = api.call("POST", &console, Some(&alice), None).await;
    assert_eq!(code_of(&r), "step_up_required", "{s} {r}");
    let (s, r) = api
        .call(
            "POST",
            &creds,
            Some(&alice),
            Some(json!({"totp": "000000"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    assert_eq!(code_of(&r), "totp_invalid");
    // With one, they are minted, and the code is spent with the issuance.
    let code = api.code(&seed);
    let (s, r) = api
        .call("POST", &creds, Some(&alice), Some(json!({"totp": code})))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["AccessKeyId"].as_str().is_some(), "{r}");
    let verified = api
        .store
        .audit_rows(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "totp_verified" && r.body.contains("mint the first credentials"))
        .count();
    assert_eq!(verified, 1);
    // Later credentials of the same grant need none.
    let (s, r) = api.call("POST", &creds, Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn the_activations_step_up_covers_the_first_credentials_while_fresh() {
    let api = api().await;
    let (alice, seed) = api.user("alice", false).await;
    let mut ask = emergency();
    ask["totp"] = json!(api.code(&seed));
    let (s, r) = api
        .call("POST", "/api/v1/break-glass", Some(&alice), Some(ask))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let grant = r["grant"]["id"].as_str().unwrap().to_owned();
    api.clock.advance(Duration::minutes(4));
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/credentials"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn signing_off_a_break_glass_review_needs_a_step_up() {
    let api = api().await;
    let (alice, alice_seed) = api.user("alice", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let mut ask = emergency();
    ask["totp"] = json!(api.code(&alice_seed));
    let (s, r) = api
        .call("POST", "/api/v1/break-glass", Some(&alice), Some(ask))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let grant = r["grant"]["id"].as_str().unwrap().to_owned();
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/revoke"),
            Some(&alice),
            Some(json!({"reason": "contained"})),
        )
        .await;
    assert!(s.is_success(), "{s} {r}");
    let review = format!("/api/v1/requests/{id}/review");
    // A stolen token alone cannot mark the use appropriate.
    let (s, r) = api
        .call(
            "POST",
            &review,
            Some(&bob),
            Some(json!({"outcome": "appropriate", "notes": "fine"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(code_of(&r), "totp_missing");
    // Nor with a step-up checked for something else.
    let (s, r) = api
        .call(
            "POST",
            &review,
            Some(&bob),
            Some(json!({"outcome": "appropriate", "notes": "fine", "totp": "000000"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    let (s, r) = api
        .call(
            "POST",
            &review,
            Some(&bob),
            Some(json!({"outcome": "appropriate", "notes": "fine", "totp": api.code(&bob_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["review"]["state"], "completed", "{r}");
    assert_eq!(
        support::audit_count(&api.store, "review_completed", Some(&id)).await,
        1
    );
}

#[tokio::test]
async fn an_invitation_sets_the_password_once_and_expires() {
    let api = api().await;
    let (admin, admin_seed) = api.user("root", true).await;
    let (alice, _) = api.user("alice", false).await;
    // Only an administrator invites, and never chooses the password.
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/users",
            Some(&alice),
            Some(json!({"username": "dave", "totp": "123456"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "dave", "password": "chosen by the admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "dave"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "an invitation needs a step-up: {r}"
    );
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "dave", "totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let link = r["invitation_url"].as_str().unwrap();
    let secret = link.rsplit('/').next().unwrap().to_owned();
    assert!(secret.starts_with("bgi_"), "{link}");
    // The store keeps only its hash.
    let hash = breakglass_core::canonical::Sha256Digest::of(secret.as_bytes()).to_hex();
    use breakglass_core::ports::AuthStore as _;
    assert!(api.store.invitation(&hash).await.unwrap().is_some());
    assert!(api.store.invitation(&secret).await.unwrap().is_none());
    // Until it is used, nobody can sign in as dave.
    let (s, _) = api
        .call("POST", "/api/v1/login", None, Some(login("dave", None)))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let accept = |password: &str| json!({"invitation": secret, "password": password});
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(accept("short")),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(accept(PASSWORD)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["username"], "dave");
    // It works once.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(accept("another long password")),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{r}");
    let (s, r) = api
        .call("POST", "/api/v1/login", None, Some(login("dave", None)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, me) = api
        .call(
            "GET",
            "/api/v1/me",
            Some(r["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(me["second_factor"], false, "a new user enrols next");

    // An unused invitation expires.
    api.clock.advance(Duration::seconds(30));
    let code = api.code(&admin_seed);
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "erin", "totp": code})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let late = r["invitation_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    api.clock.advance(Duration::hours(73));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"invitation": late, "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{r}");
    let kinds = api.audit_kinds().await;
    assert!(
        kinds.iter().filter(|k| *k == "account_changed").count() >= 3,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn revoking_every_session_of_a_role_needs_the_administrators_step_up() {
    let api = api().await;
    let (admin, seed) = api.user("root", true).await;
    let role = "arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst";
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/roles/revoke-all",
            Some(&admin),
            Some(json!({"role_arn": role, "reason": "compromised"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(code_of(&r), "totp_missing");
    assert_eq!(
        support::audit_count(&api.store, "role_sessions_revoked", None).await,
        0
    );
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/roles/revoke-all",
            Some(&admin),
            Some(json!({"role_arn": role, "reason": "compromised", "totp": api.code(&seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        support::audit_count(&api.store, "role_sessions_revoked", None).await,
        1
    );
}

#[tokio::test]
async fn a_stolen_session_and_one_code_cannot_swap_in_the_thiefs_authenticator() {
    let api = api().await;
    let (stolen, seed) = api.user("alice", false).await;
    // The thief has her token and one phished code, but not her password.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/totp/enroll",
            Some(&stolen),
            Some(json!({"current_code": api.code(&seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("password"));
    // Alice herself replaces it: every earlier session ends, including a copy of this one.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(login("alice", Some(&api.code(&seed)))),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let laptop = r["token"].as_str().unwrap().to_owned();
    api.clock.advance(Duration::seconds(30));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/totp/enroll",
            Some(&stolen),
            Some(json!({"password": PASSWORD, "current_code": api.code(&seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let new_seed = r["secret"].as_str().unwrap().to_owned();
    api.clock.advance(Duration::seconds(30));
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/totp/confirm",
            Some(&stolen),
            Some(json!({"code": api.code(&new_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    for old in [&stolen, &laptop] {
        let (s, _) = api.call("GET", "/api/v1/me", Some(old), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let outbox = api.store.outbox_due(api.clock.now(), 100).await.unwrap();
    assert!(
        outbox
            .iter()
            .any(|m| m.notification.kind == "authenticator_enrolled"),
        "the security team hears of a new authenticator"
    );
}

#[tokio::test]
async fn a_reset_second_factor_makes_the_old_password_useless_and_invites_again() {
    let api = api().await;
    let (admin, admin_seed) = api.user("root", true).await;
    let (_, _) = api.user("alice", false).await;
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/alice/reset-second-factor",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let link = r["invitation_url"]
        .as_str()
        .expect("a new invitation")
        .to_owned();
    // Whoever knew the old password cannot enrol first.
    let (s, r) = api
        .call("POST", "/api/v1/login", None, Some(login("alice", None)))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{r}");
    let secret = link.rsplit('/').next().unwrap();
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/invitations/accept",
            None,
            Some(json!({"invitation": secret, "password": "her new passphrase"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let body = json!({"username": "alice", "password": "her new passphrase"});
    let (s, r) = api.call("POST", "/api/v1/login", None, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
}

#[tokio::test]
async fn disabling_a_user_cuts_off_the_aws_access_they_hold() {
    let api = api().await;
    let (admin, admin_seed) = api.user("root", true).await;
    let (alice, alice_seed) = api.user("alice", false).await;
    let mut ask = emergency();
    ask["totp"] = json!(api.code(&alice_seed));
    let (s, r) = api
        .call("POST", "/api/v1/break-glass", Some(&alice), Some(ask))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let grant = r["grant"]["id"].as_str().unwrap().to_owned();
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/credentials"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/alice/disable",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["revoked"], json!([id]), "{r}");
    let (s, v) = api
        .call("GET", &format!("/api/v1/requests/{id}"), Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status_name"], "revoked", "{v}");
}

#[tokio::test]
async fn a_right_password_without_the_code_is_recorded() {
    let api = api().await;
    let (_, _) = api.user("alice", false).await;
    let (s, _) = api
        .call("POST", "/api/v1/login", None, Some(login("alice", None)))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let rows = api.store.audit_rows(0, 10_000).await.unwrap();
    assert!(
        rows.iter().any(
            |r| r.kind == "login_failed" && r.body.contains("right password, no second factor")
        ),
        "a sprayer who found the password is seen"
    );
}

#[tokio::test]
async fn with_local_accounts_off_a_password_signs_nobody_in() {
    let api = crate::api::api_with_local(
        breakglass_server::console::ConsoleSettings::default(),
        breakglass_config::LocalAccounts::Off,
        true,
    )
    .await;
    api.auth
        .add_user("alice", PASSWORD, false, None)
        .await
        .unwrap();
    let (s, r) = api
        .call("POST", "/api/v1/login", None, Some(login("alice", None)))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    assert_eq!(code_of(&r), "local_accounts_off");
    assert!(r["error"]["message"].as_str().unwrap().contains("--sso"));
    let rows = api.store.audit_rows(0, 1000).await.unwrap();
    assert!(
        rows.iter()
            .any(|r| r.kind == "login_failed" && r.body.contains("local accounts are off"))
    );
}

#[tokio::test]
async fn a_break_glass_only_local_sign_in_takes_break_glass_reviews_and_revokes_and_nothing_else() {
    let api = crate::api::api_with_local(
        breakglass_server::console::ConsoleSettings::default(),
        breakglass_config::LocalAccounts::BreakGlassOnly,
        true,
    )
    .await;
    let (alice, alice_seed) = api.user("alice", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    // Ordinary requests, approvals and the rest are refused at the use cases.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/requests",
            Some(&alice),
            Some(json!({
                "playbook": "investigate", "role": "SecurityAnalyst", "account": "222222222222",
                "duration_seconds": 3600, "incident": "INC-1", "justification": "routine"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("SSO"),
        "{r}"
    );
    // Nor is an ordinary request offered to such a token: break-glass only.
    let (s, v) = api
        .call("GET", "/api/v1/playbooks", Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let targets: Vec<&serde_json::Value> = v["playbooks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .collect();
    assert!(!targets.is_empty(), "{v}");
    for t in targets {
        assert!(
            t.get("request_max_seconds").is_none(),
            "offered a request: {v}"
        );
        assert!(t["break_glass_max_seconds"].is_i64(), "{v}");
    }
    // Break-glass, its credentials, revocation and the review are open.
    let mut ask = emergency();
    ask["totp"] = json!(api.code(&alice_seed));
    let (s, r) = api
        .call("POST", "/api/v1/break-glass", Some(&alice), Some(ask))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let grant = r["grant"]["id"].as_str().unwrap().to_owned();
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/credentials"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/revoke"),
            Some(&alice),
            Some(json!({"reason": "contained"})),
        )
        .await;
    assert!(s.is_success(), "{s} {r}");
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/review"),
            Some(&bob),
            Some(json!({"outcome": "appropriate", "notes": "fine", "totp": api.code(&bob_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Every local sign-in was audited and sent to the security team.
    let outbox = api.store.outbox_due(api.clock.now(), 100).await.unwrap();
    let alerts = outbox
        .iter()
        .filter(|m| m.notification.kind == "local_sign_in")
        .count();
    assert!(alerts >= 2, "{alerts} local sign-in alerts");
}
