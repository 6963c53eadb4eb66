//! The Slack app end to end: the broker posts to a local receiver that plays Slack's Web
//! API and checks every call against Slack's published specification, and the tests send
//! the broker interactions and slash commands signed exactly as Slack signs them.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use breakglass_core::model::{RequestId, Username};
use breakglass_core::ports::Store as _;
use breakglass_server::notifier::{ChatChannel, Notifier, NotifierSettings};
use breakglass_server::slack::deliver::SlackChannel;
use breakglass_testkit::slack::{
    self as kit, BlockAction, SlackApi as Receiver, SlashCommand, ViewSubmission,
};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::api::{Api, SLACK_SECRET, SLACK_TOKEN, api_with_config};

const TEAM: &str = "T0TEST";

struct Slack {
    api: Api,
    receiver: Receiver,
}

async fn slack() -> Slack {
    slack_with("").await
}

/// The API over the example config with `extra` and the `[slack]` section appended, its Slack
/// app calling a fresh receiver.
async fn slack_with(extra: &str) -> Slack {
    let receiver = Receiver::start(SLACK_TOKEN).await;
    let extra = format!(
        r#"
{extra}

[slack]
team_id = "{TEAM}"
approvals_channel = "C0APPROVALS"
security_channel = "C0SECURITY"
api_url = "{}"
"#,
        receiver.url()
    );
    let api = api_with_config(&extra).await;
    Slack { api, receiver }
}

impl Slack {
    /// POSTs `body` to `path` signed at `at` (Unix seconds) with `secret`.
    async fn post_signed(
        &self,
        path: &str,
        body: &str,
        at: i64,
        secret: &str,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method("POST").uri(path);
        for (name, value) in kit::signed_headers(secret, at, body) {
            req = req.header(name, value);
        }
        let resp = self
            .api
            .router
            .clone()
            .oneshot(req.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    async fn post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let now = self.api.clock.now_unix();
        self.post_signed(path, body, now, SLACK_SECRET).await
    }

    async fn command(&self, user: &str, text: &str) -> (StatusCode, Value) {
        let body = kit::slash_command(&SlashCommand {
            team: TEAM.into(),
            user: user.into(),
            command: "/breakglass".into(),
            text: text.into(),
            trigger_id: self.receiver.trigger_id(),
            response_url: "https://hooks.slack.com/commands/T0TEST/1/x".into(),
        });
        self.post("/slack/commands", &body).await
    }

    /// Links Slack user `slack_user` to broker user `token`'s holder, the way a person does:
    /// `/breakglass link` in Slack, then the confirmation signed in.
    async fn link(&self, slack_user: &str, token: &str, seed: &str) {
        let (s, v) = self.command(slack_user, "link").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let text = v["text"].as_str().unwrap();
        let code = text
            .split("/console/chat/link/")
            .nth(1)
            .and_then(|rest| rest.split('|').next())
            .unwrap();
        let p = self.api.auth.authenticate(token).await.unwrap();
        let totp = self.api.code(seed);
        self.api
            .auth
            .chat_link(&p, code, breakglass_server::auth::Answer::Totp(&totp))
            .await
            .unwrap();
        // The link spent this time step of the user's authenticator.
        self.api.clock.advance(time::Duration::seconds(30));
    }

    /// One pass of the notification worker with the Slack app as its chat channel, which
    /// must deliver everything.
    async fn deliver(&self) {
        let report = self.pass().await;
        assert_eq!(report.retried + report.dead_lettered, 0, "{report:?}");
    }

    /// One pass of the notification worker with the Slack app as its chat channel.
    async fn pass(&self) -> breakglass_server::notifier::PassReport {
        let channel: Arc<dyn ChatChannel> = Arc::new(SlackChannel::new(
            Arc::clone(&self.api.app),
            Arc::clone(&self.api.auth),
            Arc::clone(self.api.slack.as_ref().unwrap()),
        ));
        let mut settings = NotifierSettings::new("http://127.0.0.1:8080");
        settings.chat = Some(channel);
        let n = Notifier::new(
            self.api.store.clone(),
            Arc::clone(&self.api.clock),
            settings,
            Vec::new(),
            "test-notifier",
        )
        .unwrap();
        n.run_once().await.unwrap()
    }

    fn click(&self, user: &str, action_id: &str, value: &str) -> String {
        kit::block_actions(&BlockAction {
            team: TEAM.into(),
            user: user.into(),
            trigger_id: self.receiver.trigger_id(),
            action_id: action_id.into(),
            value: value.into(),
            channel: "C0APPROVALS".into(),
            message_ts: "1.0".into(),
            response_url: "https://hooks.slack.com/actions/T0TEST/1/x".into(),
        })
    }

    /// The approval modal's submission by `user` with `code`, for the view last opened.
    fn approve_with(&self, user: &str, code: &str) -> String {
        let view = self.receiver.views().last().cloned().unwrap();
        kit::view_submission(&ViewSubmission {
            team: TEAM.into(),
            user: user.into(),
            callback_id: view["callback_id"].as_str().unwrap().into(),
            private_metadata: view["private_metadata"].as_str().unwrap().into(),
            values: vec![(
                "code".into(),
                "code".into(),
                json!({ "type": "plain_text_input", "value": code }),
            )],
        })
    }

    async fn request(&self, id: &str) -> breakglass_core::request::AccessRequest {
        self.api
            .store
            .get(&RequestId::new(id).unwrap())
            .await
            .unwrap()
            .unwrap()
            .value
    }

    async fn count(&self, kind: &str) -> usize {
        self.api
            .audit_kinds()
            .await
            .iter()
            .filter(|k| *k == kind)
            .count()
    }

    /// The Approve button's value on the message posted about the request.
    fn approve_value(&self) -> String {
        let messages = self.receiver.messages();
        let m = messages
            .iter()
            .find(|m| m.channel == "C0APPROVALS")
            .unwrap();
        let buttons = m
            .blocks
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "actions")
            .unwrap();
        buttons["elements"][0]["value"].as_str().unwrap().to_owned()
    }
}

trait NowUnix {
    fn now_unix(&self) -> i64;
    fn now_unix_time(&self) -> time::OffsetDateTime;
}

impl NowUnix for Arc<breakglass_core::ports::ManualClock> {
    fn now_unix(&self) -> i64 {
        self.now_unix_time().unix_timestamp()
    }
    fn now_unix_time(&self) -> time::OffsetDateTime {
        use breakglass_core::ports::Clock as _;
        self.now()
    }
}

fn investigate() -> Value {
    json!({
        "playbook": "investigate", "role": "SecurityAnalyst", "account": "222222222222",
        "duration_seconds": 3600, "incident": "INC-9", "justification": "odd <!channel> logins"
    })
}

/// The whole approval: posted, clicked, the modal submitted with the approver's own code,
/// approved by that approver, the message updated; and every way to cheat it refused,
/// audited, and leaving the request as it was.
#[tokio::test]
async fn an_approval_from_slack_keeps_the_step_up_and_the_digest() {
    let t = slack().await;
    let (alice, alice_seed) = t.api.user("alice", false).await;
    let (bob, bob_seed) = t.api.user("bob", false).await;
    t.link("U0ALICE", &alice, &alice_seed).await;
    t.link("U0BOB", &bob, &bob_seed).await;
    let (id, digest) = t.api.submit(&alice, investigate()).await;
    t.deliver().await;
    let value = t.approve_value();
    assert_eq!(value, format!("{id} {digest}"));
    let posted = &t.receiver.messages()[0];
    assert!(
        posted.blocks.to_string().contains("&lt;!channel&gt;"),
        "justification escaped"
    );

    let pending = |r: &breakglass_core::request::AccessRequest| {
        r.status == breakglass_core::request::Status::Pending && r.approvals.is_empty()
    };

    // An unlinked Slack user's click: refused with an explanation, audited.
    let refused = t.count("chat_refused").await;
    let (s, _) = t
        .post(
            "/slack/interactions",
            &t.click("U0EVE", kit_approve(), &value),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        t.receiver
            .views()
            .last()
            .unwrap()
            .to_string()
            .contains("not linked")
    );
    assert_eq!(t.count("chat_refused").await, refused + 1);

    // Bob clicks Approve: the modal shows the digest and asks his code.
    let (s, _) = t
        .post(
            "/slack/interactions",
            &t.click("U0BOB", kit_approve(), &value),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let modal = t.receiver.views().last().cloned().unwrap();
    assert!(modal.to_string().contains(&digest));

    // A wrong code: the modal says so; nothing changes.
    let wrong = t.approve_with("U0BOB", "000000");
    let (s, v) = t.post("/slack/interactions", &wrong).await;
    assert_eq!(
        (s, v["response_action"].as_str()),
        (StatusCode::OK, Some("errors")),
        "{v}"
    );
    assert!(pending(&t.request(&id).await));
    assert_eq!(t.count("chat_refused").await, refused + 2);

    // The same delivery again: a replay, refused before anything is read.
    let (s, _) = t
        .post_signed(
            "/slack/interactions",
            &wrong,
            t.api.clock.now_unix(),
            SLACK_SECRET,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Signed with another secret, or five minutes and more ago.
    let right = t.approve_with("U0BOB", &t.api.code(&bob_seed));
    let (s, _) = t
        .post_signed(
            "/slack/interactions",
            &right,
            t.api.clock.now_unix(),
            "not-the-secret",
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = t
        .post_signed(
            "/slack/interactions",
            &right,
            t.api.clock.now_unix() - 301,
            SLACK_SECRET,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(pending(&t.request(&id).await));
    assert_eq!(t.count("chat_refused").await, refused + 5);

    // The requester approving her own request, with her own right code.
    let (s, _) = t
        .post(
            "/slack/interactions",
            &t.click("U0ALICE", kit_approve(), &value),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let own = t.approve_with("U0ALICE", &t.api.code(&alice_seed));
    let (s, v) = t.post("/slack/interactions", &own).await;
    assert_eq!(v["response_action"], "errors", "{s} {v}");
    assert!(pending(&t.request(&id).await));
    assert_eq!(t.count("chat_refused").await, refused + 6);

    // The request changes after Bob opened the modal: his approval of what he saw is refused.
    let (s, _) = t
        .post(
            "/slack/interactions",
            &t.click("U0BOB", kit_approve(), &value),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let stale = t.approve_with("U0BOB", &t.api.code(&bob_seed));
    t.api
        .broker
        .amend(
            &RequestId::new(id.as_str()).unwrap(),
            Username::new("alice").unwrap(),
            None,
            None,
            Some("odd logins, and a new key".to_owned()),
        )
        .await
        .unwrap();
    let (s, v) = t.post("/slack/interactions", &stale).await;
    assert_eq!(v["response_action"], "errors", "{s} {v}");
    let r = t.request(&id).await;
    assert!(pending(&r));
    assert_eq!(t.count("chat_refused").await, refused + 7);

    // The message now shows the new version; Bob approves that, with his code.
    t.deliver().await;
    let value = t.approve_value();
    assert_eq!(value, format!("{id} {}", r.digest.to_hex()));
    t.api.clock.advance(time::Duration::seconds(30));
    let (s, _) = t
        .post(
            "/slack/interactions",
            &t.click("U0BOB", kit_approve(), &value),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ok = t.approve_with("U0BOB", &t.api.code(&bob_seed));
    let (s, v) = t.post("/slack/interactions", &ok).await;
    assert_eq!(
        (s, &v["response_action"]),
        (StatusCode::OK, &json!("clear")),
        "{v}"
    );
    let r = t.request(&id).await;
    assert!(matches!(
        r.status,
        breakglass_core::request::Status::Approved { .. }
    ));
    assert_eq!(r.current_approvers(), [Username::new("bob").unwrap()]);
    assert_eq!(t.count("chat_action").await, 1);

    // The message is updated in place: approved by Bob, no buttons left.
    t.deliver().await;
    let m = t
        .receiver
        .messages()
        .into_iter()
        .find(|m| m.channel == "C0APPROVALS")
        .unwrap();
    assert!(m.updates >= 2, "{m:?}");
    let text = m.blocks.to_string();
    assert!(
        text.contains("Approved") && text.contains("`bob`"),
        "{text}"
    );
    assert!(!text.contains(kit_approve()), "{text}");
    assert!(
        t.receiver.violations().is_empty(),
        "{:?}",
        t.receiver.violations()
    );
}

fn kit_approve() -> &'static str {
    breakglass_core::chat::slack::APPROVE_ACTION
}

/// `/breakglass request` makes the same request as the API with the same fields.
#[tokio::test]
async fn a_request_from_slack_equals_one_made_through_the_api() {
    let t = slack().await;
    let (alice, alice_seed) = t.api.user("alice", false).await;
    t.link("U0ALICE", &alice, &alice_seed).await;
    let (s, v) = t.command("U0ALICE", "request").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let view = t.receiver.views().last().cloned().unwrap();
    assert_eq!(view["callback_id"], "breakglass_request");
    let field = |name: &str, value: &str| {
        (
            name.to_owned(),
            name.to_owned(),
            json!({ "type": "plain_text_input", "value": value }),
        )
    };
    let submission = kit::view_submission(&ViewSubmission {
        team: TEAM.into(),
        user: "U0ALICE".into(),
        callback_id: "breakglass_request".into(),
        private_metadata: String::new(),
        values: vec![
            (
                "playbook".into(),
                "playbook".into(),
                json!({ "type": "static_select", "selected_option": { "value": "investigate" } }),
            ),
            field("role", "SecurityAnalyst"),
            field("account", "222222222222"),
            field("duration", "1h"),
            field("incident", "INC-9"),
            field("justification", "odd <!channel> logins"),
        ],
    });
    let (s, v) = t.post("/slack/interactions", &submission).await;
    assert_eq!(
        (s, &v["response_action"]),
        (StatusCode::OK, &json!("update")),
        "{v}"
    );
    let (api_id, _) = t.api.submit(&alice, investigate()).await;
    let all = t
        .api
        .store
        .requests(&breakglass_core::session::RequestFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let from_api = all.iter().find(|r| r.value.id.as_str() == api_id).unwrap();
    let from_slack = all.iter().find(|r| r.value.id.as_str() != api_id).unwrap();
    assert_eq!(from_slack.value.spec, from_api.value.spec);
    // The digest covers the request's own id too, so only what was asked is compared.
    assert_eq!(from_slack.value.kind, from_api.value.kind);
    assert_eq!(
        from_slack.value.required_approvals,
        from_api.value.required_approvals
    );
    assert_eq!(
        from_slack.value.approver_groups,
        from_api.value.approver_groups
    );
    assert_eq!(t.count("chat_action").await, 1);
    // `/breakglass status` lists both, and never a credential.
    let (_, v) = t.command("U0ALICE", "status").await;
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains(&api_id) && text.contains(from_slack.value.id.as_str()),
        "{text}"
    );
    assert!(
        t.receiver.violations().is_empty(),
        "{:?}",
        t.receiver.violations()
    );
}

/// A passkey-only playbook's approval from Slack asks no code: the modal links to the
/// console's page of the request, where the passkey step-up happens.
#[tokio::test]
async fn a_passkey_playbook_is_approved_through_the_console() {
    let t = slack_with(
        r#"
[auth.passkeys]
origin = "http://localhost:8080"

[playbooks.investigate-passkey]
title = "Investigate (passkey approvals)"
roles = ["SecurityAnalyst"]
session_policy = { template = "read_only_investigation" }
max_duration = "4h"
approval = { required = 1, from_groups = ["ir-leads"] }
eligible_groups = ["responders"]
step_up = "passkey"
"#,
    )
    .await;
    let (alice, _) = t.api.user("alice", false).await;
    let (bob, bob_seed) = t.api.user("bob", false).await;
    t.link("U0BOB", &bob, &bob_seed).await;
    let mut ask = investigate();
    ask["playbook"] = json!("investigate-passkey");
    let (id, _) = t.api.submit(&alice, ask).await;
    t.deliver().await;
    let value = t.approve_value();
    let (s, _) = t
        .post(
            "/slack/interactions",
            &t.click("U0BOB", kit_approve(), &value),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let modal = t.receiver.views().last().cloned().unwrap();
    let text = modal.to_string();
    assert!(text.contains(&format!("/console/requests/{id}")), "{text}");
    assert!(modal["submit"].is_null(), "no code is asked: {modal}");
    assert!(!text.contains("\"code\""), "{text}");
    // A forged submission of that modal with a TOTP code cannot go around the passkey: the
    // core refuses the factor, the refusal is audited, the request stays pending.
    let refused = t.count("chat_refused").await;
    let forged = kit::view_submission(&ViewSubmission {
        team: TEAM.into(),
        user: "U0BOB".into(),
        callback_id: "breakglass_approve".into(),
        private_metadata: modal["private_metadata"].as_str().unwrap().into(),
        values: vec![(
            "code".into(),
            "code".into(),
            json!({ "type": "plain_text_input", "value": t.api.code(&bob_seed) }),
        )],
    });
    let (s, v) = t.post("/slack/interactions", &forged).await;
    assert_eq!(
        (s, &v["response_action"]),
        (StatusCode::OK, &json!("errors")),
        "{v}"
    );
    assert!(v.to_string().contains("passkey"), "{v}");
    assert_eq!(t.count("chat_refused").await, refused + 1);
    assert!(t.request(&id).await.approvals.is_empty());
    assert!(
        t.receiver.violations().is_empty(),
        "{:?}",
        t.receiver.violations()
    );
}

/// Slack down: the approval message waits in the outbox and is retried, not lost; Slack
/// back: it is posted, once, and later changes update it instead of posting again.
#[tokio::test]
async fn slack_down_then_back_posts_the_message_once() {
    let t = slack().await;
    let (alice, _) = t.api.user("alice", false).await;
    // The sign-up's own notifications (an authenticator enrolled) go first.
    t.deliver().await;
    let (id, _) = t.api.submit(&alice, investigate()).await;
    t.receiver.set_down(true);
    let report = t.pass().await;
    assert_eq!((report.delivered, report.retried), (0, 1), "{report:?}");
    assert!(t.receiver.messages().is_empty());
    // Before its retry time nothing is tried again.
    assert_eq!(t.pass().await.retried, 0);
    t.receiver.set_down(false);
    t.api.clock.advance(time::Duration::minutes(1));
    let report = t.pass().await;
    assert_eq!((report.delivered, report.retried), (1, 0), "{report:?}");
    assert_eq!(t.receiver.messages().len(), 1);
    // A later change updates the message in place.
    t.api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/cancel"),
            Some(&alice),
            Some(json!({ "reason": "false alarm" })),
        )
        .await;
    t.deliver().await;
    let messages = t.receiver.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].updates >= 1);
    assert!(messages[0].blocks.to_string().contains("Withdrawn"));
    assert!(
        t.receiver.violations().is_empty(),
        "{:?}",
        t.receiver.violations()
    );
}

/// A linked Slack account whose broker user was disabled acts as nobody: its click is
/// refused with the reason, and audited.
#[tokio::test]
async fn a_disabled_users_slack_account_is_refused() {
    use breakglass_core::accounts::AuthWrite;
    use breakglass_core::audit::events::{AccountChange, AccountChanged};
    use breakglass_core::audit::{Actor, AuditEntry};
    use breakglass_core::ports::AuthStore as _;
    let t = slack().await;
    let (alice, _) = t.api.user("alice", false).await;
    let (bob, bob_seed) = t.api.user("bob", false).await;
    t.link("U0BOB", &bob, &bob_seed).await;
    let (id, _) = t.api.submit(&alice, investigate()).await;
    t.deliver().await;
    let value = t.approve_value();
    t.api
        .store
        .auth_commit(
            vec![AuthWrite::SetDisabled {
                username: "bob".to_owned(),
                at: Some(t.api.clock.now_unix_time()),
            }],
            vec![AuditEntry {
                at: t.api.clock.now_unix_time(),
                actor: Actor::System,
                request_version: None,
                event: AccountChanged {
                    username: Username::new("bob").unwrap(),
                    change: AccountChange::Disabled,
                }
                .into(),
            }],
        )
        .await
        .unwrap();
    let refused = t.count("chat_refused").await;
    let (s, _) = t
        .post(
            "/slack/interactions",
            &t.click("U0BOB", kit_approve(), &value),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let notice = t.receiver.views().last().cloned().unwrap().to_string();
    assert!(notice.contains("disabled"), "{notice}");
    assert_eq!(t.count("chat_refused").await, refused + 1);
    let (_, v) = t.command("U0BOB", "status").await;
    assert!(v["text"].as_str().unwrap().contains("disabled"), "{v}");
    assert!(t.request(&id).await.approvals.is_empty());
}

/// A break-glass activation is posted to the security channel, notifying everyone there,
/// with no Approve button; its revocation updates that message.
#[tokio::test]
async fn break_glass_goes_to_the_security_channel_at_once() {
    let t = slack().await;
    let (alice, seed) = t.api.user("alice", false).await;
    t.deliver().await;
    let ask = json!({
        "playbook": "emergency", "role": "SecurityBreakGlass", "account": "222222222222",
        "duration_seconds": 3600, "incident": "INC-9", "justification": "console is down",
        "totp": t.api.code(&seed),
    });
    let (s, r) = t
        .api
        .call("POST", "/api/v1/break-glass", Some(&alice), Some(ask))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    t.deliver().await;
    let messages = t.receiver.messages();
    let m = messages
        .iter()
        .find(|m| m.channel.starts_with("C0SECURITY"))
        .unwrap();
    let text = m.blocks.to_string();
    assert!(
        text.contains("<!here>") && text.contains("BREAK-GLASS"),
        "{text}"
    );
    assert!(!text.contains(kit_approve()), "{text}");
    assert!(!messages.iter().any(|m| m.channel == "C0APPROVALS"));
    // Its revocation updates that message in place.
    let grant = r["grant"]["id"].as_str().unwrap();
    let (s, v) = t
        .api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/revoke"),
            Some(&alice),
            Some(json!({ "reason": "contained" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    t.deliver().await;
    let messages = t.receiver.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].updates >= 1);
    assert!(messages[0].blocks.to_string().contains("Revoked"));
    assert!(
        t.receiver.violations().is_empty(),
        "{:?}",
        t.receiver.violations()
    );
}

/// Deny from Slack: only an approver may, with a reason; someone who may not read the
/// request and the requester are refused, audited, and the request stays pending.
#[tokio::test]
async fn a_denial_from_slack_needs_an_approver_and_a_reason() {
    let t = slack().await;
    let (alice, alice_seed) = t.api.user("alice", false).await;
    let (bob, bob_seed) = t.api.user("bob", false).await;
    let (carol, carol_seed) = t.api.user("carol", false).await;
    t.link("U0ALICE", &alice, &alice_seed).await;
    t.link("U0BOB", &bob, &bob_seed).await;
    t.link("U0CAROL", &carol, &carol_seed).await;
    let (id, _) = t.api.submit(&alice, investigate()).await;
    t.deliver().await;
    let value = t.approve_value();
    let deny = breakglass_core::chat::slack::DENY_ACTION;
    let pending = || async {
        let r = t.request(&id).await;
        r.status == breakglass_core::request::Status::Pending
    };
    let submit = |user: &str, reason: &str, metadata: &str| {
        kit::view_submission(&ViewSubmission {
            team: TEAM.into(),
            user: user.into(),
            callback_id: "breakglass_deny".into(),
            private_metadata: metadata.into(),
            values: vec![(
                "reason".into(),
                "reason".into(),
                json!({ "type": "plain_text_input", "value": reason }),
            )],
        })
    };
    // Carol is no approver of it and may not read it: her click opens nothing of it.
    let refused = t.count("chat_refused").await;
    let (s, _) = t
        .post("/slack/interactions", &t.click("U0CAROL", deny, &value))
        .await;
    assert_eq!(s, StatusCode::OK);
    let notice = t.receiver.views().last().cloned().unwrap().to_string();
    assert!(notice.contains("no request"), "{notice}");
    assert!(
        !notice.contains("odd"),
        "the justification is not shown: {notice}"
    );
    assert_eq!(t.count("chat_refused").await, refused + 1);
    // Bob opens the denial; the modal's metadata, submitted by others, is refused.
    let (s, _) = t
        .post("/slack/interactions", &t.click("U0BOB", deny, &value))
        .await;
    assert_eq!(s, StatusCode::OK);
    let modal = t.receiver.views().last().cloned().unwrap();
    assert_eq!(modal["callback_id"], "breakglass_deny");
    let metadata = modal["private_metadata"].as_str().unwrap().to_owned();
    for who in ["U0CAROL", "U0ALICE"] {
        let (s, v) = t
            .post("/slack/interactions", &submit(who, "no", &metadata))
            .await;
        assert_eq!(
            (s, &v["response_action"]),
            (StatusCode::OK, &json!("errors")),
            "{who}: {v}"
        );
        assert!(pending().await, "{who}");
    }
    // Without a reason: refused.
    let (_, v) = t
        .post("/slack/interactions", &submit("U0BOB", " ", &metadata))
        .await;
    assert_eq!(v["response_action"], "errors", "{v}");
    assert!(pending().await);
    assert_eq!(t.count("chat_refused").await, refused + 4);
    // Bob denies with a reason: denied, recorded as from Slack, the message updated.
    let (_, v) = t
        .post(
            "/slack/interactions",
            &submit("U0BOB", "not needed", &metadata),
        )
        .await;
    assert_eq!(v["response_action"], "clear", "{v}");
    assert!(matches!(
        t.request(&id).await.status,
        breakglass_core::request::Status::Denied { .. }
    ));
    assert_eq!(t.count("chat_action").await, 1);
    t.deliver().await;
    let m = t
        .receiver
        .messages()
        .into_iter()
        .find(|m| m.channel == "C0APPROVALS")
        .unwrap();
    assert!(m.blocks.to_string().contains("Denied"), "{m:?}");
    assert!(
        t.receiver.violations().is_empty(),
        "{:?}",
        t.receiver.violations()
    );
}

/// A delivery signed with the app's secret but for another workspace acts as nobody, on a
/// button and on a command.
#[tokio::test]
async fn another_workspace_is_refused() {
    let t = slack().await;
    let (alice, _) = t.api.user("alice", false).await;
    let (bob, bob_seed) = t.api.user("bob", false).await;
    t.link("U0BOB", &bob, &bob_seed).await;
    let (id, _) = t.api.submit(&alice, investigate()).await;
    t.deliver().await;
    let value = t.approve_value();
    let refused = t.count("chat_refused").await;
    let click = kit::block_actions(&BlockAction {
        team: "T0OTHER".into(),
        user: "U0BOB".into(),
        trigger_id: t.receiver.trigger_id(),
        action_id: kit_approve().into(),
        value,
        channel: "C0APPROVALS".into(),
        message_ts: "1.0".into(),
        response_url: "https://hooks.slack.com/actions/T0OTHER/1/x".into(),
    });
    let (s, _) = t.post("/slack/interactions", &click).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let command = kit::slash_command(&SlashCommand {
        team: "T0OTHER".into(),
        user: "U0BOB".into(),
        command: "/breakglass".into(),
        text: "status".into(),
        trigger_id: t.receiver.trigger_id(),
        response_url: "https://hooks.slack.com/commands/T0OTHER/1/x".into(),
    });
    let (s, v) = t.post("/slack/commands", &command).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v["text"].as_str().unwrap().contains("not the broker's"),
        "{v}"
    );
    assert!(!v.to_string().contains(&id), "{v}");
    assert_eq!(t.count("chat_refused").await, refused + 2);
    assert!(t.request(&id).await.approvals.is_empty());
}

/// A playbook that asks for direct messages writes to each linked approver who may approve
/// it, and to nobody else: not the requester, not a responder who is no approver.
#[tokio::test]
async fn direct_messages_go_to_eligible_approvers_only() {
    let t = slack_with("[slack.playbooks.investigate]\ndirect_messages = true\n").await;
    let (alice, alice_seed) = t.api.user("alice", false).await;
    let (bob, bob_seed) = t.api.user("bob", false).await;
    let (carol, carol_seed) = t.api.user("carol", false).await;
    t.link("U0ALICE", &alice, &alice_seed).await;
    t.link("U0BOB", &bob, &bob_seed).await;
    t.link("U0CAROL", &carol, &carol_seed).await;
    t.deliver().await;
    t.api.submit(&alice, investigate()).await;
    t.deliver().await;
    let posts: Vec<String> = t
        .receiver
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage")
        .map(|c| c.args["channel"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(posts, ["C0APPROVALS", "U0BOB"], "{posts:?}");
    assert!(
        t.receiver.violations().is_empty(),
        "{:?}",
        t.receiver.violations()
    );
}
