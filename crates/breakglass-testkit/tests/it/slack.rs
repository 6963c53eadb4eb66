//! The Slack receiver over real HTTP: what it accepts, records and refuses, and the signed
//! payloads built from what it recorded.

use breakglass_testkit::slack::{
    BlockAction, SlackApi, TEAM_ID, block_actions, block_actions_from, sign, signed_headers,
    view_from,
};
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-test-token";

/// A call as the broker makes it: a JSON body with the bot token as a bearer header.
async fn json_call(slack: &SlackApi, method: &str, token: Option<&str>, body: &Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/{method}", slack.url()))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// A form-encoded call, the token as a bearer header.
async fn form_call(slack: &SlackApi, method: &str, fields: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/{method}", slack.url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(serde_urlencoded::to_string(fields).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

fn approval_blocks() -> Value {
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "*alice* asks for `admin`"}},
        {"type": "actions", "block_id": "decide", "elements": [
            {"type": "button", "action_id": "approve", "style": "primary", "value": "g-1",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "deny", "style": "danger", "value": "g-1",
             "text": {"type": "plain_text", "text": "Deny"}}
        ]}
    ])
}

fn otp_modal(title: &str) -> Value {
    json!({
        "type": "modal", "callback_id": "approve", "private_metadata": "g-1",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Approve"},
        "blocks": [{"type": "input", "block_id": "otp",
                    "label": {"type": "plain_text", "text": "One-time code"},
                    "element": {"type": "plain_text_input", "action_id": "code"}}]
    })
}

#[tokio::test]
async fn valid_calls_are_answered_like_slack_and_recorded() {
    let slack = SlackApi::start(TOKEN).await;
    assert!(slack.url().starts_with("http://127.0.0.1:") && slack.url().ends_with("/api"));

    let posted = json_call(
        &slack,
        "chat.postMessage",
        Some(TOKEN),
        &json!({"channel": "C0APPROVE", "text": "alice asks for admin", "blocks": approval_blocks()}),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    assert_eq!(posted["channel"], "C0APPROVE");
    let ts = posted["ts"].as_str().unwrap().to_owned();
    assert_eq!(ts.len(), "1700000000.000100".len());
    assert_eq!(posted["message"]["ts"], ts.as_str());
    assert_eq!(posted["message"]["blocks"], approval_blocks());

    // The same kind of update, form-encoded: blocks travel as a string of JSON.
    let decided =
        json!([{"type": "section", "text": {"type": "mrkdwn", "text": "Approved by bob"}}]);
    let updated = form_call(
        &slack,
        "chat.update",
        &[
            ("channel", "C0APPROVE"),
            ("ts", &ts),
            ("text", "approved"),
            ("blocks", &decided.to_string()),
        ],
    )
    .await;
    assert_eq!(updated["ok"], true, "{updated}");
    assert_eq!(updated["channel"], "C0APPROVE");
    assert_eq!(updated["ts"], ts.as_str());
    assert_eq!(updated["text"], "approved");

    let opened = json_call(
        &slack,
        "views.open",
        Some(TOKEN),
        &json!({"trigger_id": slack.trigger_id(), "view": otp_modal("Approve request")}),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    let view_id = opened["view"]["id"].as_str().unwrap();
    assert!(view_id.starts_with('V'));
    assert_eq!(opened["view"]["callback_id"], "approve");

    slack.add_user("U0BOB", "bob");
    let user = form_call(&slack, "users.info", &[("user", "U0BOB")]).await;
    assert_eq!(user["ok"], true, "{user}");
    assert_eq!(user["user"]["id"], "U0BOB");
    assert_eq!(user["user"]["name"], "bob");
    assert_eq!(user["user"]["deleted"], false);
    // users.info is a GET in the spec: a query string with the token works too.
    let url = format!("{}/users.info?token={TOKEN}&user=U0BOB", slack.url());
    let by_get: Value =
        serde_json::from_str(&reqwest::get(url).await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(by_get["user"]["name"], "bob", "{by_get}");
    let stranger = form_call(&slack, "users.info", &[("user", "U0NOBODY")]).await;
    assert_eq!(stranger["error"], "user_not_found");

    assert_eq!(slack.violations(), Vec::<String>::new());
    let calls = slack.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "chat.postMessage",
            "chat.update",
            "views.open",
            "users.info",
            "users.info",
            "users.info"
        ]
    );
    assert_eq!(calls[1].args["blocks"], decided, "form blocks are parsed");
    assert!(
        calls[4].args.get("token").is_none(),
        "the token is not kept"
    );

    let messages = slack.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "approved");
    assert_eq!(messages[0].blocks, decided);
    assert_eq!(messages[0].updates, 1);
    assert_eq!(slack.views().len(), 1);
    assert_eq!(slack.views()[0]["id"], view_id);
}

#[tokio::test]
async fn a_message_to_a_user_lands_in_the_direct_message_channel() {
    let slack = SlackApi::start(TOKEN).await;
    let posted = form_call(
        &slack,
        "chat.postMessage",
        &[("channel", "U0BOB"), ("text", "hi")],
    )
    .await;
    assert_eq!(posted["channel"], "D0BOB", "{posted}");
    let ts = posted["ts"].as_str().unwrap();
    let by_user = form_call(
        &slack,
        "chat.update",
        &[("channel", "U0BOB"), ("ts", ts), ("text", "x")],
    )
    .await;
    assert_eq!(by_user["error"], "channel_not_found");
    let by_dm = form_call(
        &slack,
        "chat.update",
        &[("channel", "D0BOB"), ("ts", ts), ("text", "x")],
    )
    .await;
    assert_eq!(by_dm["ok"], true);
    let never = form_call(
        &slack,
        "chat.update",
        &[("channel", "C0X"), ("ts", "1.2"), ("text", "x")],
    )
    .await;
    assert_eq!(never["error"], "message_not_found");
    let named = form_call(
        &slack,
        "chat.postMessage",
        &[("channel", "#general"), ("text", "x")],
    )
    .await;
    assert_eq!(named["error"], "channel_not_found");
    assert_eq!(slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn arguments_outside_the_spec_are_refused_and_recorded() {
    let slack = SlackApi::start(TOKEN).await;
    let unknown = json_call(
        &slack,
        "chat.postMessage",
        Some(TOKEN),
        &json!({"channel": "C0APPROVE", "text": "x", "colour": "red"}),
    )
    .await;
    assert_eq!(unknown["error"], "invalid_arguments");
    let missing = form_call(
        &slack,
        "chat.update",
        &[("channel", "C0APPROVE"), ("text", "x")],
    )
    .await;
    assert_eq!(missing["error"], "invalid_arguments");
    let wrong_type = form_call(
        &slack,
        "chat.postMessage",
        &[
            ("channel", "C0APPROVE"),
            ("text", "x"),
            ("unfurl_links", "yes"),
        ],
    )
    .await;
    assert_eq!(wrong_type["error"], "invalid_arguments");
    let json_users = json_call(&slack, "users.info", Some(TOKEN), &json!({"user": "U0BOB"})).await;
    assert_eq!(json_users["error"], "invalid_post_type");
    let no_method = json_call(&slack, "chat.postMessagee", Some(TOKEN), &json!({})).await;
    assert_eq!(no_method["error"], "unknown_method");

    let violations = slack.violations();
    assert_eq!(violations.len(), 5, "{violations:#?}");
    assert!(violations[0].starts_with("chat.postMessage: unknown parameter `colour`"));
    assert_eq!(
        violations[1],
        "chat.update: missing required parameter `ts`"
    );
    assert_eq!(
        violations[2],
        "chat.postMessage: `unfurl_links` must be of type boolean (the spec), but is `\"yes\"`"
    );
    assert!(violations[3].starts_with("users.info: a body of type `application/json"));
    assert_eq!(
        violations[4],
        "chat.postMessagee: no such method in the spec subset"
    );
    assert!(slack.messages().is_empty());
}

#[tokio::test]
async fn a_wrong_token_is_invalid_auth_and_a_missing_one_a_violation() {
    let slack = SlackApi::start(TOKEN).await;
    let body = json!({"channel": "C0APPROVE", "text": "x"});
    let wrong = json_call(&slack, "chat.postMessage", Some("xoxb-other"), &body).await;
    assert_eq!(wrong, json!({"ok": false, "error": "invalid_auth"}));
    assert_eq!(
        slack.violations(),
        Vec::<String>::new(),
        "a wrong token is no malformed call"
    );
    let none = json_call(&slack, "chat.postMessage", None, &body).await;
    assert_eq!(none["error"], "not_authed");
    let in_body = json_call(
        &slack,
        "chat.postMessage",
        None,
        &json!({"channel": "C0APPROVE", "text": "x", "token": TOKEN}),
    )
    .await;
    assert_eq!(
        in_body["error"], "not_authed",
        "a JSON call's token goes in the header"
    );
    assert_eq!(slack.violations().len(), 3, "{:#?}", slack.violations());
    assert!(slack.messages().is_empty());
}

#[tokio::test]
async fn a_trigger_opens_one_view_within_three_seconds() {
    let slack = SlackApi::start(TOKEN).await;
    let trigger = slack.trigger_id();
    let open = |trigger: String| {
        let slack = &slack;
        async move {
            json_call(
                slack,
                "views.open",
                Some(TOKEN),
                &json!({"trigger_id": trigger, "view": otp_modal("Approve")}),
            )
            .await
        }
    };
    assert_eq!(open(trigger.clone()).await["ok"], true);
    let reused = open(trigger).await;
    assert_eq!(reused["error"], "invalid_trigger_id", "{reused}");
    let expired = open(slack.expired_trigger_id()).await;
    assert_eq!(expired["error"], "invalid_trigger_id", "{expired}");
    let invented = open("1.2.3".to_owned()).await;
    assert_eq!(invented["error"], "invalid_trigger_id");
    assert_eq!(slack.views().len(), 1);
    assert_eq!(slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn block_kit_limits_are_enforced() {
    let slack = SlackApi::start(TOKEN).await;
    let long_title = json_call(
        &slack,
        "views.open",
        Some(TOKEN),
        &json!({"trigger_id": slack.trigger_id(), "view": otp_modal("A title far beyond 24 chars")}),
    )
    .await;
    assert_eq!(long_title["error"], "invalid_arguments", "{long_title}");
    let blocks = vec![json!({"type": "divider"}); 51];
    let too_many = json_call(
        &slack,
        "chat.postMessage",
        Some(TOKEN),
        &json!({"channel": "C0APPROVE", "text": "x", "blocks": blocks}),
    )
    .await;
    assert_eq!(too_many["error"], "invalid_blocks", "{too_many}");
    let no_text = json_call(
        &slack,
        "chat.postMessage",
        Some(TOKEN),
        &json!({"channel": "C0APPROVE", "blocks": approval_blocks()}),
    )
    .await;
    assert_eq!(no_text["ok"], true, "Slack posts it, with a warning");

    let violations = slack.violations();
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert!(
        violations[0].starts_with(
            "views.open: `view.title.text` has 27 characters; Slack allows at most 24"
        ),
        "{violations:#?}"
    );
    assert!(
        violations[1]
            .starts_with("chat.postMessage: `blocks` has 51 blocks; Slack allows at most 50")
    );
    assert!(violations[2].starts_with("chat.postMessage: `blocks` without `text`"));
    assert!(slack.views().is_empty());
}

#[tokio::test]
async fn a_down_slack_answers_503_and_comes_back() {
    let slack = SlackApi::start(TOKEN).await;
    slack.set_down(true);
    let response = reqwest::Client::new()
        .post(format!("{}/chat.postMessage", slack.url()))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .body(json!({"channel": "C0APPROVE", "text": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        slack.calls().is_empty(),
        "a call to a down Slack is not recorded"
    );
    slack.set_down(false);
    let posted = json_call(
        &slack,
        "chat.postMessage",
        Some(TOKEN),
        &json!({"channel": "C0APPROVE", "text": "x"}),
    )
    .await;
    assert_eq!(posted["ok"], true);
    assert_eq!(slack.calls().len(), 1);
}

/// The header value of `name` in Slack's signed headers.
fn header<'h>(headers: &'h [(&'static str, String); 3], name: &str) -> &'h str {
    headers.iter().find(|(n, _)| *n == name).unwrap().1.as_str()
}

#[tokio::test]
async fn payloads_built_from_what_the_broker_sent_are_signed_like_slacks() {
    let slack = SlackApi::start(TOKEN).await;
    json_call(
        &slack,
        "chat.postMessage",
        Some(TOKEN),
        &json!({"channel": "C0APPROVE", "text": "alice asks for admin", "blocks": approval_blocks()}),
    )
    .await;
    let message = &slack.messages()[0];
    let trigger = slack.trigger_id();
    let click = block_actions_from(
        message,
        "approve",
        "U0BOB",
        TEAM_ID,
        &trigger,
        "http://127.0.0.1:9/r",
    )
    .unwrap();
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&click).unwrap();
    let payload: Value = serde_json::from_str(&fields[0].1).unwrap();
    assert_eq!(payload["actions"][0]["block_id"], "decide");
    assert_eq!(payload["actions"][0]["value"], "g-1");
    assert_eq!(payload["container"]["message_ts"], message.ts.as_str());

    // The broker, handed the click, opens its modal with the click's trigger.
    let opened = json_call(
        &slack,
        "views.open",
        Some(TOKEN),
        &json!({"trigger_id": payload["trigger_id"], "view": otp_modal("Approve")}),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    let submission = view_from(
        &slack.views()[0],
        "U0BOB",
        TEAM_ID,
        vec![(
            "otp".into(),
            "code".into(),
            json!({"type": "plain_text_input", "value": "123456"}),
        )],
    )
    .unwrap();

    let secret = "signing-secret";
    for body in [&click, &submission] {
        let headers = signed_headers(secret, 1_700_000_500, body);
        assert_eq!(
            header(&headers, "Content-Type"),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(header(&headers, "X-Slack-Request-Timestamp"), "1700000500");
        assert_eq!(
            header(&headers, "X-Slack-Signature"),
            sign(secret, 1_700_000_500, body)
        );
    }
    // The struct form gives a payload of the same shape.
    let plain = block_actions(&BlockAction {
        team: TEAM_ID.into(),
        user: "U0BOB".into(),
        trigger_id: trigger,
        action_id: "approve".into(),
        value: "g-1".into(),
        channel: message.channel.clone(),
        message_ts: message.ts.clone(),
        response_url: "http://127.0.0.1:9/r".into(),
    });
    assert!(plain.starts_with("payload=%7B"));
    assert_eq!(slack.violations(), Vec::<String>::new());
}
