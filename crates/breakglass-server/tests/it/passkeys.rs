//! Passkeys through the API, tried as an attacker would: a passkey answer is bound to one
//! user, one purpose and one use; a playbook that asks for a passkey takes nothing else; a
//! password alone never signs in a passkey holder; a reset removes the passkeys too. The
//! ceremonies themselves (a real authenticator's signatures) run in Chromium with its
//! virtual authenticator, in the command-line crate's browser tests.

use axum::http::StatusCode;
use breakglass_core::accounts::{AuthWrite, CeremonyRecord, PasskeyRecord};
use breakglass_core::audit::events::AccountChange;
use breakglass_core::audit::{Actor, AuditEntry};
use breakglass_core::ports::{AuthStore, Clock};
use serde_json::{Value, json};
use time::Duration;

use crate::api::{Api, api, api_with_config, code_of};

const PASSWORD: &str = "correct horse battery";

/// Passkeys on (the browser sees the console at `http://localhost:8470`), and a playbook
/// and a break-glass playbook whose step-ups take a passkey only.
const PASSKEYS: &str = r#"
[auth.passkeys]
origin = "http://localhost:8470"

[playbooks.investigate-by-passkey]
title = "Investigate (approved with a passkey only)"
roles = ["SecurityAnalyst"]
session_policy = { template = "read_only_investigation" }
max_duration = "4h"
approval = { required = 1, from_groups = ["ir-leads"] }
eligible_groups = ["responders"]
step_up = "passkey"

[playbooks.emergency-by-passkey]
title = "Emergency administration, passkey only"
roles = ["SecurityBreakGlass"]
session_policy = { template = "emergency_admin" }
max_duration = "1h"
approval = { required = 2, from_groups = ["responders"] }
break_glass = true
eligible_groups = ["ir-leads"]
step_up = "passkey"

[playbooks.investigate-stepped]
title = "Investigate, with a step-up for the first credentials"
roles = ["SecurityAnalyst"]
session_policy = { template = "read_only_investigation" }
max_duration = "4h"
approval = { required = 1, from_groups = ["ir-leads"] }
eligible_groups = ["responders"]
mint_step_up = true
"#;

fn ask(playbook: &str, role: &str) -> Value {
    json!({
        "playbook": playbook, "role": role, "account": "222222222222",
        "duration_seconds": 1800, "incident": "INC-9", "justification": "leaked key"
    })
}

async fn count(api: &Api, kind: &str) -> usize {
    api.audit_kinds()
        .await
        .iter()
        .filter(|k| *k == kind)
        .count()
}

/// Stores a passkey for `who` as enrolment would (the credential is not a real one: the
/// tests here stop before a signature is checked).
async fn give_passkey(api: &Api, who: &str) {
    let now = api.clock.now();
    api.store
        .auth_commit(
            vec![AuthWrite::InsertPasskey(PasskeyRecord {
                id: format!("cred-{who}"),
                username: who.to_owned(),
                name: "laptop".to_owned(),
                credential: "{}".to_owned(),
                created_at: now,
                last_used_at: None,
            })],
            vec![entry(api)],
        )
        .await
        .unwrap();
}

fn entry(api: &Api) -> AuditEntry {
    AuditEntry {
        at: api.clock.now(),
        actor: Actor::System,
        request_version: None,
        event: breakglass_core::audit::events::AccountChanged {
            username: breakglass_core::model::Username::new("alice").unwrap(),
            change: AccountChange::EnrolmentStarted,
        }
        .into(),
    }
}

/// Stores a ceremony of `who` for `purpose` (as a challenge would), expiring in five minutes.
async fn ceremony(api: &Api, id: &str, who: &str, purpose: &str) {
    let now = api.clock.now();
    api.store
        .auth_commit(
            vec![AuthWrite::InsertCeremony {
                ceremony: CeremonyRecord {
                    id: id.to_owned(),
                    username: who.to_owned(),
                    purpose: purpose.to_owned(),
                    state: "{}".to_owned(),
                    expires_at: now + Duration::minutes(5),
                },
                now,
            }],
            vec![entry(api)],
        )
        .await
        .unwrap();
}

fn answer(ceremony: &str) -> Value {
    json!({"ceremony": ceremony, "credential": {"id": "x", "rawId": "x", "type": "public-key",
        "response": {"authenticatorData": "", "clientDataJSON": "", "signature": ""}}})
}

#[tokio::test]
async fn passkeys_are_refused_clearly_where_they_are_not_configured() {
    let api = api().await;
    let (token, _) = api.user("alice", false).await;
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/challenge",
            Some(&token),
            Some(json!({"purpose": "break-glass"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{r}");
    assert_eq!(code_of(&r), "passkeys_not_configured");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[auth.passkeys]")
    );
}

#[tokio::test]
async fn enrolling_a_passkey_needs_the_password_and_a_full_session() {
    let api = api_with_config(PASSKEYS).await;
    let (token, seed) = api.user("alice", false).await;
    let enrol = |password: &str| json!({"password": password});
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/enroll",
            Some(&token),
            Some(enrol("")),
        )
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::BAD_REQUEST, "bad_request"),
        "{r}"
    );
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/enroll",
            Some(&token),
            Some(enrol("wrong password!!")),
        )
        .await;
    assert_eq!(code_of(&r), "bad_credentials", "{s} {r}");

    // A token minted without a second factor (a user with none yet) may enrol its first
    // one, but not add one beside an enrolled authenticator.
    api.auth
        .add_user("dave", PASSWORD, false, None)
        .await
        .unwrap();
    let (_, v) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(json!({"username": "dave", "password": PASSWORD})),
        )
        .await;
    let dave = v["token"].as_str().unwrap().to_owned();
    give_passkey(&api, "dave").await;
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/enroll",
            Some(&dave),
            Some(enrol(PASSWORD)),
        )
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::FORBIDDEN, "second_factor_required"),
        "{r}"
    );

    // A full session and the password are not enough beside an enrolled authenticator:
    // whoever stole the session and phished the password must not add their own passkey.
    // The authenticator answers too, once.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/enroll",
            Some(&token),
            Some(enrol(PASSWORD)),
        )
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::BAD_REQUEST, "bad_request"),
        "{r}"
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("current_code"),
        "{r}"
    );
    let with_code = |code: &str| json!({"password": PASSWORD, "current_code": code});
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/enroll",
            Some(&token),
            Some(with_code("000000")),
        )
        .await;
    assert_eq!(code_of(&r), "totp_invalid", "{s} {r}");
    assert_eq!(count(&api, "passkey_challenged").await, 0);

    // With all three: a creation challenge for this broker and this user, audited.
    let code = api.code(&seed);
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/enroll",
            Some(&token),
            Some(with_code(&code)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert!(r["ceremony"].as_str().is_some_and(|c| c.len() >= 32), "{r}");
    assert_eq!(r["publicKey"]["rp"]["id"], "localhost", "{r}");
    assert_eq!(r["publicKey"]["user"]["name"], "alice", "{r}");
    assert!(
        r["publicKey"]["challenge"]
            .as_str()
            .is_some_and(|c| c.len() >= 32)
    );
    assert_eq!(count(&api, "passkey_challenged").await, 1);
    // The code was spent with the challenge: it does not start a second one.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/enroll",
            Some(&token),
            Some(with_code(&code)),
        )
        .await;
    assert_eq!(code_of(&r), "totp_invalid", "{s} {r}");
    assert_eq!(count(&api, "passkey_challenged").await, 1);
}

#[tokio::test]
async fn a_passkey_answer_is_bound_to_its_user_its_purpose_and_one_use() {
    let api = api_with_config(PASSKEYS).await;
    let (alice, _) = api.user("alice", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let (id, digest) = api
        .submit(&alice, ask("investigate", "SecurityAnalyst"))
        .await;
    let approve = |ceremony: &str| json!({"digest": digest, "passkey": answer(ceremony)});
    let path = format!("/api/v1/requests/{id}/approve");

    // A ceremony of bob's started for another action (here: break-glass) does not approve.
    ceremony(&api, "c-other-purpose", "bob", "break-glass").await;
    let (s, r) = api
        .call("POST", &path, Some(&bob), Some(approve("c-other-purpose")))
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::FORBIDDEN, "passkey_invalid"),
        "{r}"
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("break-glass")
    );

    // Nor one of another user's, for exactly this approval.
    ceremony(&api, "c-alices", "alice", &format!("approve {id}")).await;
    let (s, r) = api
        .call("POST", &path, Some(&bob), Some(approve("c-alices")))
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::FORBIDDEN, "passkey_invalid"),
        "{r}"
    );

    // Nor an expired one, nor one that does not exist.
    ceremony(&api, "c-old", "bob", &format!("approve {id}")).await;
    api.clock.advance(Duration::minutes(6));
    for c in ["c-old", "c-never-issued"] {
        let (s, r) = api.call("POST", &path, Some(&bob), Some(approve(c))).await;
        assert_eq!(
            (s, code_of(&r)),
            (StatusCode::FORBIDDEN, "passkey_invalid"),
            "{c}: {r}"
        );
    }
    // Every refusal is audited, and the request is still pending.
    assert_eq!(count(&api, "passkey_failed").await, 4);
    let (_, r) = api
        .call("GET", &format!("/api/v1/requests/{id}"), Some(&bob), None)
        .await;
    assert_eq!(r["status_name"], "pending", "{r}");
    // bob's TOTP code still approves: nothing of his was spent.
    let (s, r) = api
        .call(
            "POST",
            &path,
            Some(&bob),
            Some(json!({"digest": digest, "totp": api.code(&bob_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn a_playbook_that_asks_for_a_passkey_refuses_a_totp_code() {
    let api = api_with_config(PASSKEYS).await;
    let (alice, alice_seed) = api.user("alice", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let (id, digest) = api
        .submit(&alice, ask("investigate-by-passkey", "SecurityAnalyst"))
        .await;
    let code = api.code(&bob_seed);
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/approve"),
            Some(&bob),
            Some(json!({"digest": digest, "totp": code})),
        )
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::FORBIDDEN, "passkey_required"),
        "{r}"
    );
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("investigate-by-passkey") && message.contains("passkey"),
        "{message}"
    );
    assert_eq!(count(&api, "action_refused").await, 1);
    // The code was not spent by the refused approval: it still approves an ordinary request.
    let (other, other_digest) = api
        .submit(&alice, ask("investigate", "SecurityAnalyst"))
        .await;
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{other}/approve"),
            Some(&bob),
            Some(json!({"digest": other_digest, "totp": code})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // Break-glass of a passkey-only playbook: a TOTP code is refused, loudly.
    let before = count(&api, "action_refused").await;
    let mut emergency = ask("emergency-by-passkey", "SecurityBreakGlass");
    emergency["totp"] = json!(api.code(&alice_seed));
    let (s, r) = api
        .call("POST", "/api/v1/break-glass", Some(&alice), Some(emergency))
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::FORBIDDEN, "passkey_required"),
        "{r}"
    );
    assert_eq!(count(&api, "action_refused").await, before + 1);
    let (_, list) = api
        .call("GET", "/api/v1/requests", Some(&alice), None)
        .await;
    let active = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spec"]["playbook"] == "emergency-by-passkey")
        .count();
    assert_eq!(active, 0, "no break-glass grant was made: {list}");
}

#[tokio::test]
async fn a_token_cannot_start_the_ceremonies_that_need_the_password() {
    let api = api_with_config(PASSKEYS).await;
    let (alice, _) = api.user("alice", false).await;
    give_passkey(&api, "alice").await;
    // A sign-in or enrolment ceremony answered by the passkey would skip the password:
    // the step-up route does not start them.
    for purpose in ["sign in", "enrol a passkey", " sign in "] {
        let (s, r) = api
            .call(
                "POST",
                "/api/v1/passkeys/challenge",
                Some(&alice),
                Some(json!({"purpose": purpose})),
            )
            .await;
        assert_eq!(
            (s, code_of(&r)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{purpose}: {r}"
        );
    }
    assert_eq!(count(&api, "passkey_challenged").await, 0);
}

#[tokio::test]
async fn a_password_alone_never_signs_in_a_passkey_holder() {
    let api = api_with_config(PASSKEYS).await;
    // dave has a passkey and no TOTP authenticator.
    api.auth
        .add_user("dave", PASSWORD, false, None)
        .await
        .unwrap();
    give_passkey(&api, "dave").await;
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(json!({"username": "dave", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::UNAUTHORIZED, "second_factor_required"),
        "{r}"
    );
    assert!(r["error"]["message"].as_str().unwrap().contains("passkey"));
    // Nor does a sign-in ceremony answered by nothing, or one started for something else.
    ceremony(&api, "c-approve", "dave", "approve r-1").await;
    for c in ["c-approve", "c-unknown"] {
        let (s, r) = api
            .call(
                "POST",
                "/api/v1/login/passkey/finish",
                None,
                Some(answer(c)),
            )
            .await;
        assert_eq!(
            (s, code_of(&r)),
            (StatusCode::FORBIDDEN, "passkey_invalid"),
            "{c}: {r}"
        );
    }
    // The password half of a passkey sign-in is a sign-in like any: a wrong one is refused.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/login/passkey",
            None,
            Some(json!({"username": "dave", "password": "not the password"})),
        )
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::UNAUTHORIZED, "bad_credentials"),
        "{r}"
    );
}

#[tokio::test]
async fn a_second_factor_reset_removes_the_passkeys_and_the_last_factor_stays() {
    let api = api_with_config(PASSKEYS).await;
    let (admin, admin_seed) = api.user("root", true).await;
    let (alice, alice_seed) = api.user("alice", false).await;
    give_passkey(&api, "alice").await;
    // alice cannot remove a passkey without a step-up...
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/cred-alice/remove",
            Some(&alice),
            Some(json!({"totp": ""})),
        )
        .await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::BAD_REQUEST, "totp_missing"),
        "{r}"
    );
    assert_eq!(api.store.passkeys("alice").await.unwrap().len(), 1);
    // ... and removes it with one, since her TOTP authenticator remains.
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/passkeys/cred-alice/remove",
            Some(&alice),
            Some(json!({"totp": api.code(&alice_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["passkeys"], json!([]));
    assert_eq!(count(&api, "passkey_removed").await, 1);

    give_passkey(&api, "alice").await;
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/users/alice/reset-second-factor",
            Some(&admin),
            Some(json!({"totp": api.code(&admin_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(api.store.passkeys("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_playbook_can_ask_for_a_step_up_before_the_first_credentials() {
    let api = api_with_config(PASSKEYS).await;
    let (alice, alice_seed) = api.user("alice", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let mut grants = Vec::new();
    for playbook in ["investigate-stepped", "investigate"] {
        let (id, digest) = api.submit(&alice, ask(playbook, "SecurityAnalyst")).await;
        let (s, r) = api
            .call(
                "POST",
                &format!("/api/v1/requests/{id}/approve"),
                Some(&bob),
                Some(json!({"digest": digest, "totp": api.code(&bob_seed)})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        api.clock.advance(Duration::seconds(30));
        let (s, r) = api
            .call(
                "POST",
                &format!("/api/v1/requests/{id}/activate"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        grants.push(r["grant"]["id"].as_str().unwrap().to_owned());
    }
    // The playbook that asks for it: a stolen session alone mints nothing, even at once.
    let stepped = format!("/api/v1/grants/{}/credentials", grants[0]);
    let (s, r) = api.call("POST", &stepped, Some(&alice), None).await;
    assert_eq!(
        (s, code_of(&r)),
        (StatusCode::FORBIDDEN, "step_up_required"),
        "{r}"
    );
    let (s, r) = api
        .call(
            "POST",
            &stepped,
            Some(&alice),
            Some(json!({"totp": api.code(&alice_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Later mints of that grant, and the ordinary playbook's, need none.
    let (s, r) = api.call("POST", &stepped, Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{}/credentials", grants[1]),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}
