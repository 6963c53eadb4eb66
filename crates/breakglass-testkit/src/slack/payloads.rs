//! The bodies Slack POSTs to an app, built as Slack's reference pages show them: a button
//! click (`block_actions`,
//! <https://api.slack.com/reference/interaction-payloads/block-actions>), a modal submission
//! (`view_submission`, <https://api.slack.com/reference/interaction-payloads/views>), both
//! sent as a form with one field, `payload`, holding the JSON; and a slash command
//! (<https://api.slack.com/interactivity/slash-commands>), sent as plain form fields. Sign
//! them with [`super::signed_headers`].
//!
//! Where the payload holds something Slack knows and the test does not (a generated
//! `block_id`, the click's `action_ts`, the submission's `trigger_id`), a fixed value derived
//! from the inputs stands in, so the same inputs always give the same bytes.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::receiver::SlackMessage;
use super::{APP_ID, BOT_ID, TEAM_DOMAIN, VERIFICATION_TOKEN};

/// A click on a button of a message the app posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockAction {
    /// The workspace (`team.id`).
    pub team: String,
    /// The user who clicked (`user.id`).
    pub user: String,
    /// The trigger the click hands the app, e.g. from [`super::SlackApi::trigger_id`].
    pub trigger_id: String,
    /// The button's `action_id`.
    pub action_id: String,
    /// The button's `value`.
    pub value: String,
    /// The channel of the message clicked.
    pub channel: String,
    /// The `ts` of the message clicked.
    pub message_ts: String,
    /// Where the app may answer the click.
    pub response_url: String,
}

/// A submission of a modal the app opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewSubmission {
    /// The workspace (`team.id`).
    pub team: String,
    /// The user who submitted (`user.id`).
    pub user: String,
    /// The view's `callback_id`.
    pub callback_id: String,
    /// The view's `private_metadata`.
    pub private_metadata: String,
    /// `view.state.values`: `(block_id, action_id, element state)`, where the state is e.g.
    /// `{"type":"plain_text_input","value":"123456"}` or
    /// `{"type":"static_select","selected_option":{"value":"x"}}`.
    pub values: Vec<(String, String, Value)>,
}

/// A slash command typed by a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlashCommand {
    /// The workspace (`team_id`).
    pub team: String,
    /// The user who typed it (`user_id`; `user_name` repeats it: the testkit knows no
    /// handles).
    pub user: String,
    /// The command, with its slash (`/breakglass`).
    pub command: String,
    /// Everything after the command.
    pub text: String,
    /// The trigger the command hands the app.
    pub trigger_id: String,
    /// Where the app may answer the command.
    pub response_url: String,
}

/// Why a payload cannot be built from what the app posted or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The message has no button with that `action_id`, so no user could click it.
    #[error("message `{ts}` in `{channel}` has no button with action_id `{action_id}`")]
    NoSuchAction {
        /// The `action_id` asked for.
        action_id: String,
        /// The message's channel.
        channel: String,
        /// The message's `ts`.
        ts: String,
    },
    /// What was given as the opened view is not a JSON object.
    #[error("the opened view is not a JSON object: `{0}`")]
    NotAView(String),
    /// The view has no input with that `block_id` and `action_id`.
    #[error("view `{callback_id}` has no element `{block_id}`/`{action_id}` to submit a value for")]
    NoSuchInput {
        /// The view's `callback_id`.
        callback_id: String,
        /// The `block_id` given.
        block_id: String,
        /// The `action_id` given.
        action_id: String,
    },
    /// The state given is not of the element's type.
    #[error(
        "element `{block_id}`/`{action_id}` of view `{callback_id}` is a `{element}`, and the submitted state is a `{given}`"
    )]
    WrongElement {
        /// The view's `callback_id`.
        callback_id: String,
        /// The element's `block_id`.
        block_id: String,
        /// The element's `action_id`.
        action_id: String,
        /// The element's type in the view.
        element: String,
        /// The `type` of the state given.
        given: String,
    },
    /// A required input of the view has no value: Slack's client would not submit it.
    #[error(
        "view `{callback_id}` requires input `{block_id}`/`{action_id}`, and the submission has no value for it"
    )]
    MissingInput {
        /// The view's `callback_id`.
        callback_id: String,
        /// The input's `block_id`.
        block_id: String,
        /// The input's `action_id`.
        action_id: String,
    },
}

/// The first `len` hex digits of SHA-256 of `input`: a stable stand-in for an id Slack
/// would generate.
fn digest_hex(input: &str, len: usize) -> String {
    Sha256::digest(input.as_bytes())
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .take(len)
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect()
}

/// A form body with one field, `payload`, as Slack sends interaction payloads.
fn payload_form(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap_or_default()
}

fn user_object(user: &str, team: &str) -> Value {
    json!({"id": user, "username": user, "name": user, "team_id": team})
}

/// The JSON of a `block_actions` payload for a click on `button` (its `action_id`,
/// `value` and `text`) in block `block_id` of `message`.
fn block_actions_json(p: &BlockAction, block_id: &str, message: Value, button: &Value) -> Value {
    let mut action = Map::new();
    action.insert("action_id".into(), json!(p.action_id));
    action.insert("block_id".into(), json!(block_id));
    if let Some(text) = button.get("text") {
        action.insert("text".into(), text.clone());
    }
    action.insert("value".into(), json!(p.value));
    action.insert("type".into(), json!("button"));
    action.insert(
        "action_ts".into(),
        json!(format!("{}.000200", seconds(&p.message_ts) + 60)),
    );
    let channel_name = if p.channel.starts_with('D') {
        "directmessage"
    } else {
        "breakglass-approvals"
    };
    json!({
        "type": "block_actions",
        "user": user_object(&p.user, &p.team),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": p.message_ts,
            "channel_id": p.channel,
            "is_ephemeral": false
        },
        "trigger_id": p.trigger_id,
        "team": {"id": p.team, "domain": TEAM_DOMAIN},
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": {"id": p.channel, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": p.response_url,
        "actions": [action]
    })
}

/// The whole seconds of a Slack `ts` (`1700000001.000100` → 1700000001), 0 if it has none.
fn seconds(ts: &str) -> u64 {
    ts.split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The body Slack POSTs when a user clicks the button `p.action_id` of message
/// `p.message_ts`: `payload=<block_actions JSON>`. The payload's `block_id` is a stand-in
/// (the struct does not carry one); [`block_actions_from`] takes the real one, and the
/// button's text and value, from a message the receiver recorded.
pub fn block_actions(p: &BlockAction) -> String {
    let block_id = digest_hex(&p.action_id, 5);
    let message = json!({"type": "message", "ts": p.message_ts});
    payload_form(&block_actions_json(p, &block_id, message, &Value::Null))
}

/// The `(block_id, element)` of the button `action_id` in `blocks`, looking in `actions`
/// blocks and section accessories as Slack renders them.
fn find_button<'v>(blocks: &'v Value, action_id: &str) -> Option<(Option<&'v str>, &'v Value)> {
    blocks.as_array()?.iter().find_map(|block| {
        let block_id = block.get("block_id").and_then(Value::as_str);
        let elements = block.get("elements").and_then(Value::as_array);
        let candidates = elements.into_iter().flatten().chain(block.get("accessory"));
        candidates
            .filter(|e| e.get("type").and_then(Value::as_str) == Some("button"))
            .find(|e| e.get("action_id").and_then(Value::as_str) == Some(action_id))
            .map(|e| (block_id, e))
    })
}

/// The body Slack POSTs when `user` of `team` clicks the button `action_id` of `message`
/// (as [`super::SlackApi::messages`] holds it after the app posted or updated it): the
/// button's own `block_id`, `value` and text, and the message in full, as a user can only
/// click what the app actually sent.
pub fn block_actions_from(
    message: &SlackMessage,
    action_id: &str,
    user: &str,
    team: &str,
    trigger_id: &str,
    response_url: &str,
) -> Result<String, PayloadError> {
    let (block_id, button) =
        find_button(&message.blocks, action_id).ok_or_else(|| PayloadError::NoSuchAction {
            action_id: action_id.to_owned(),
            channel: message.channel.clone(),
            ts: message.ts.clone(),
        })?;
    let p = BlockAction {
        team: team.to_owned(),
        user: user.to_owned(),
        trigger_id: trigger_id.to_owned(),
        action_id: action_id.to_owned(),
        value: button
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        channel: message.channel.clone(),
        message_ts: message.ts.clone(),
        response_url: response_url.to_owned(),
    };
    let block_id = block_id.map_or_else(|| digest_hex(action_id, 5), str::to_owned);
    let full = json!({
        "type": "message",
        "subtype": "bot_message",
        "text": message.text,
        "ts": message.ts,
        "bot_id": BOT_ID,
        "blocks": message.blocks
    });
    Ok(payload_form(&block_actions_json(
        &p, &block_id, full, button,
    )))
}

/// `view.state.values` from `(block_id, action_id, state)` triples.
fn state_values(values: &[(String, String, Value)]) -> Value {
    let mut out = Map::new();
    for (block_id, action_id, state) in values {
        let block = out
            .entry(block_id.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(block) = block.as_object_mut() {
            block.insert(action_id.clone(), state.clone());
        }
    }
    Value::Object(out)
}

/// The JSON of a `view_submission` payload for `p`, the view being `base` (a view the app
/// opened) or, without one, a bare modal with `p`'s ids.
fn submission_json(p: &ViewSubmission, base: Option<&Map<String, Value>>) -> Value {
    let mut view = base.cloned().unwrap_or_else(|| {
        let id = format!("V{}", digest_hex(&p.callback_id, 8).to_uppercase());
        let mut view = Map::new();
        view.insert("id".into(), json!(id));
        view.insert("type".into(), json!("modal"));
        view.insert("blocks".into(), json!([]));
        view.insert("root_view_id".into(), json!(id));
        view.insert("app_id".into(), json!(APP_ID));
        view.insert("bot_id".into(), json!(BOT_ID));
        view
    });
    view.insert("team_id".into(), json!(p.team));
    view.insert("callback_id".into(), json!(p.callback_id));
    view.insert("private_metadata".into(), json!(p.private_metadata));
    view.insert("state".into(), json!({"values": state_values(&p.values)}));
    view.entry("hash")
        .or_insert_with(|| json!(format!("1700000000.{}", digest_hex(&p.callback_id, 8))));
    let trigger = format!(
        "1700000300.1.{}",
        digest_hex(&format!("{}/{}", p.callback_id, p.user), 32)
    );
    json!({
        "type": "view_submission",
        "team": {"id": p.team, "domain": TEAM_DOMAIN},
        "user": user_object(&p.user, &p.team),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": false,
        "enterprise": null
    })
}

/// The body Slack POSTs when `p.user` submits the modal `p.callback_id`:
/// `payload=<view_submission JSON>`. [`view_from`] builds one from the view the app opened.
pub fn view_submission(p: &ViewSubmission) -> String {
    payload_form(&submission_json(p, None))
}

/// The input elements of a view: `(block_id, action_id, element type, optional)`.
fn inputs(view: &Map<String, Value>) -> Vec<(String, String, String, bool)> {
    let blocks = view.get("blocks").and_then(Value::as_array);
    blocks
        .into_iter()
        .flatten()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("input"))
        .filter_map(|b| {
            let element = b.get("element")?;
            Some((
                b.get("block_id")?.as_str()?.to_owned(),
                element.get("action_id")?.as_str()?.to_owned(),
                element.get("type")?.as_str()?.to_owned(),
                b.get("optional").and_then(Value::as_bool) == Some(true),
            ))
        })
        .collect()
}

/// The state Slack submits for an input left empty: the element's type and a `null` value.
fn empty_state(element: &str) -> Value {
    match element {
        "plain_text_input" => json!({"type": element, "value": null}),
        "static_select" | "external_select" => json!({"type": element, "selected_option": null}),
        _ => json!({"type": element}),
    }
}

/// The body Slack POSTs when `user` of `team` submits `opened` (a view as
/// [`super::SlackApi::views`] holds it) with `values`: the view's own id, `callback_id`,
/// `private_metadata` and blocks, so a test submits exactly what the app asked. Each value
/// must name an input of the view and match its element's type; every required input must
/// have a value, and empty optional ones are sent as Slack sends them (`null`).
pub fn view_from(
    opened: &Value,
    user: &str,
    team: &str,
    values: Vec<(String, String, Value)>,
) -> Result<String, PayloadError> {
    let view = opened
        .as_object()
        .ok_or_else(|| PayloadError::NotAView(opened.to_string()))?;
    let text = |key: &str| {
        view.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let callback_id = text("callback_id");
    let inputs = inputs(view);
    for (block_id, action_id, state) in &values {
        let Some((_, _, element, _)) = inputs
            .iter()
            .find(|(b, a, _, _)| b == block_id && a == action_id)
        else {
            return Err(PayloadError::NoSuchInput {
                callback_id,
                block_id: block_id.clone(),
                action_id: action_id.clone(),
            });
        };
        let given = state
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if given != element {
            return Err(PayloadError::WrongElement {
                callback_id,
                block_id: block_id.clone(),
                action_id: action_id.clone(),
                element: element.clone(),
                given: given.to_owned(),
            });
        }
    }
    let mut all = values;
    for (block_id, action_id, element, optional) in inputs {
        if all
            .iter()
            .any(|(b, a, _)| *b == block_id && *a == action_id)
        {
            continue;
        }
        if !optional {
            return Err(PayloadError::MissingInput {
                callback_id,
                block_id,
                action_id,
            });
        }
        all.push((block_id, action_id, empty_state(&element)));
    }
    let p = ViewSubmission {
        team: team.to_owned(),
        user: user.to_owned(),
        callback_id,
        private_metadata: text("private_metadata"),
        values: all,
    };
    Ok(payload_form(&submission_json(&p, Some(view))))
}

/// The body Slack POSTs when `p.user` types `p.command p.text`: the form fields `token,
/// team_id, team_domain, channel_id, channel_name, user_id, user_name, command, text,
/// api_app_id, response_url, trigger_id`, encoded as Slack encodes them. The command is
/// typed in channel `C0BRKGLS1` (`breakglass`).
pub fn slash_command(p: &SlashCommand) -> String {
    let fields = [
        ("token", VERIFICATION_TOKEN),
        ("team_id", p.team.as_str()),
        ("team_domain", TEAM_DOMAIN),
        ("channel_id", "C0BRKGLS1"),
        ("channel_name", "breakglass"),
        ("user_id", p.user.as_str()),
        ("user_name", p.user.as_str()),
        ("command", p.command.as_str()),
        ("text", p.text.as_str()),
        ("api_app_id", APP_ID),
        ("response_url", p.response_url.as_str()),
        ("trigger_id", p.trigger_id.as_str()),
    ];
    serde_urlencoded::to_string(fields).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON inside a `payload=` form body.
    fn payload(body: &str) -> Value {
        let fields: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap();
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields[0].0, "payload");
        serde_json::from_str(&fields[0].1).unwrap()
    }

    fn click() -> BlockAction {
        BlockAction {
            team: "T0BRKGLS1".into(),
            user: "U0BOB".into(),
            trigger_id: "1.2.abc".into(),
            action_id: "approve".into(),
            value: "g-1".into(),
            channel: "C0APPROVE".into(),
            message_ts: "1700000001.000100".into(),
            response_url: "http://127.0.0.1:1/respond".into(),
        }
    }

    #[test]
    fn a_click_is_a_block_actions_payload_as_slack_documents_it() {
        let p = payload(&block_actions(&click()));
        assert_eq!(p["type"], "block_actions");
        assert_eq!(p["team"]["id"], "T0BRKGLS1");
        assert_eq!(p["user"]["id"], "U0BOB");
        assert_eq!(p["user"]["username"], "U0BOB");
        assert_eq!(p["user"]["team_id"], "T0BRKGLS1");
        assert_eq!(p["api_app_id"], APP_ID);
        assert_eq!(p["trigger_id"], "1.2.abc");
        assert_eq!(p["container"]["type"], "message");
        assert_eq!(p["container"]["channel_id"], "C0APPROVE");
        assert_eq!(p["container"]["message_ts"], "1700000001.000100");
        assert_eq!(p["channel"]["id"], "C0APPROVE");
        assert_eq!(p["message"]["ts"], "1700000001.000100");
        assert_eq!(p["response_url"], "http://127.0.0.1:1/respond");
        let action = &p["actions"][0];
        assert_eq!(action["action_id"], "approve");
        assert_eq!(action["value"], "g-1");
        assert_eq!(action["type"], "button");
        assert_eq!(action["action_ts"], "1700000061.000200");
        assert_eq!(action["block_id"].as_str().unwrap().len(), 5);
        assert_eq!(
            block_actions(&click()),
            block_actions(&click()),
            "stable bytes"
        );
    }

    fn posted() -> SlackMessage {
        SlackMessage {
            channel: "C0APPROVE".into(),
            ts: "1700000001.000100".into(),
            text: "alice asks for admin".into(),
            blocks: json!([{"type": "actions", "block_id": "decide", "elements": [
                {"type": "button", "action_id": "approve", "value": "g-7",
                 "text": {"type": "plain_text", "text": "Approve"}}]}]),
            updates: 0,
        }
    }

    #[test]
    fn a_click_on_a_posted_message_takes_the_buttons_own_ids() {
        let body = block_actions_from(
            &posted(),
            "approve",
            "U0BOB",
            "T0BRKGLS1",
            "1.2.x",
            "http://r",
        )
        .unwrap();
        let p = payload(&body);
        assert_eq!(p["actions"][0]["block_id"], "decide");
        assert_eq!(p["actions"][0]["value"], "g-7");
        assert_eq!(p["actions"][0]["text"]["text"], "Approve");
        assert_eq!(p["message"]["text"], "alice asks for admin");
        assert_eq!(
            block_actions_from(&posted(), "deny", "U0BOB", "T0BRKGLS1", "1.2.x", "http://r"),
            Err(PayloadError::NoSuchAction {
                action_id: "deny".into(),
                channel: "C0APPROVE".into(),
                ts: "1700000001.000100".into()
            })
        );
    }

    fn opened() -> Value {
        json!({"id": "V00000001", "type": "modal", "callback_id": "approve",
               "private_metadata": "g-7", "title": {"type": "plain_text", "text": "Approve"},
               "blocks": [
                 {"type": "input", "block_id": "otp", "label": {"type": "plain_text", "text": "Code"},
                  "element": {"type": "plain_text_input", "action_id": "code"}},
                 {"type": "input", "block_id": "note", "optional": true,
                  "label": {"type": "plain_text", "text": "Note"},
                  "element": {"type": "plain_text_input", "action_id": "text"}}]})
    }

    #[test]
    fn a_submission_of_an_opened_view_carries_its_ids_and_state() {
        let code = json!({"type": "plain_text_input", "value": "123456"});
        let body = view_from(
            &opened(),
            "U0BOB",
            "T0BRKGLS1",
            vec![("otp".into(), "code".into(), code.clone())],
        )
        .unwrap();
        let p = payload(&body);
        assert_eq!(p["type"], "view_submission");
        assert_eq!(p["team"]["id"], "T0BRKGLS1");
        assert_eq!(p["user"]["id"], "U0BOB");
        assert_eq!(p["api_app_id"], APP_ID);
        assert_eq!(p["view"]["id"], "V00000001");
        assert_eq!(p["view"]["type"], "modal");
        assert_eq!(p["view"]["callback_id"], "approve");
        assert_eq!(p["view"]["private_metadata"], "g-7");
        assert_eq!(p["view"]["state"]["values"]["otp"]["code"], code);
        assert_eq!(
            p["view"]["state"]["values"]["note"]["text"],
            json!({"type": "plain_text_input", "value": null})
        );
        assert!(p["trigger_id"].is_string());
    }

    #[test]
    fn a_submission_must_match_the_views_inputs() {
        let state = json!({"type": "plain_text_input", "value": "1"});
        let submit = |values: Vec<(String, String, Value)>| {
            view_from(&opened(), "U0BOB", "T0BRKGLS1", values).unwrap_err()
        };
        assert!(matches!(
            submit(vec![("otp".into(), "pin".into(), state.clone())]),
            PayloadError::NoSuchInput { .. }
        ));
        let select = json!({"type": "static_select", "selected_option": {"value": "x"}});
        assert_eq!(
            submit(vec![("otp".into(), "code".into(), select)]).to_string(),
            "element `otp`/`code` of view `approve` is a `plain_text_input`, and the submitted state is a `static_select`"
        );
        assert!(matches!(
            submit(vec![("note".into(), "text".into(), state)]),
            PayloadError::MissingInput { .. }
        ));
        assert!(matches!(
            view_from(&json!([]), "U", "T", vec![]),
            Err(PayloadError::NotAView(_))
        ));
    }

    #[test]
    fn a_bare_submission_has_the_given_ids() {
        let body = view_submission(&ViewSubmission {
            team: "T0BRKGLS1".into(),
            user: "U0BOB".into(),
            callback_id: "approve".into(),
            private_metadata: "g-7".into(),
            values: vec![(
                "otp".into(),
                "code".into(),
                json!({"type": "plain_text_input", "value": "42"}),
            )],
        });
        let p = payload(&body);
        assert_eq!(p["view"]["callback_id"], "approve");
        assert_eq!(p["view"]["private_metadata"], "g-7");
        assert_eq!(p["view"]["state"]["values"]["otp"]["code"]["value"], "42");
        assert!(p["view"]["id"].as_str().unwrap().starts_with('V'));
    }

    #[test]
    fn a_slash_command_is_the_documented_form_fields_in_order() {
        let body = slash_command(&SlashCommand {
            team: "T0BRKGLS1".into(),
            user: "U0BOB".into(),
            command: "/breakglass".into(),
            text: "approve g-7 now".into(),
            trigger_id: "1.2.abc".into(),
            response_url: "https://hooks.slack.com/commands/T0BRKGLS1/1/x".into(),
        });
        let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "token",
                "team_id",
                "team_domain",
                "channel_id",
                "channel_name",
                "user_id",
                "user_name",
                "command",
                "text",
                "api_app_id",
                "response_url",
                "trigger_id"
            ]
        );
        assert!(
            body.contains("&command=%2Fbreakglass&text=approve+g-7+now&"),
            "{body}"
        );
        assert!(body.contains("response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F"));
    }
}
