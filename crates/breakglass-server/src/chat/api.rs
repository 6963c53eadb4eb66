//! The Slack Web API methods the broker calls: `chat.postMessage`, `chat.update` and
//! `views.open`, as JSON with the bot token as a bearer token. Errors name the method and
//! Slack's error code, never the token.

use std::time::Duration;

use breakglass_core::cloud::Secret;
use serde_json::{Value, json};

use super::SlackSetupError;

/// `message`'s fields with `extra` added.
fn with(message: &Value, extra: &[(&str, Value)]) -> Value {
    let mut args = message.as_object().cloned().unwrap_or_default();
    for (k, v) in extra {
        args.insert((*k).to_owned(), v.clone());
    }
    Value::Object(args)
}

/// A Web API client.
#[derive(Debug)]
pub struct SlackApi {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

impl SlackApi {
    /// A client for the API at `base` (`https://slack.com/api`) with bot token `token`.
    pub fn new(base: &str, token: Secret) -> Result<Self, SlackSetupError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("breakglass/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SlackSetupError::Http(e.without_url().to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// Calls `method` with `args`; Slack's answer when it says `ok`. `blocks` and `view`
    /// are sent as JSON text, the type the Web API's specification gives them.
    async fn call(&self, method: &str, args: &Value) -> Result<Value, String> {
        let mut args = args.clone();
        for field in ["blocks", "view"] {
            if let Some(v) = args.get_mut(field).filter(|v| !v.is_string()) {
                *v = Value::String(v.to_string());
            }
        }
        let args = &args;
        let response = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(self.token.expose())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(args.to_string())
            .send()
            .await
            .map_err(|e| format!("Slack {method}: {}", e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("Slack {method} answered HTTP {}", status.as_u16()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("Slack {method}: unreadable answer: {}", e.without_url()))?;
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("Slack {method}: the answer is not JSON: {e}"))?;
        if body.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(body)
        } else {
            Err(format!(
                "Slack {method} refused: {}",
                body.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no error given")
            ))
        }
    }

    /// Posts `message` (`text` and `blocks`) to `channel`; the conversation and the `ts`
    /// Slack gave it.
    pub async fn post_message(
        &self,
        channel: &str,
        message: &Value,
    ) -> Result<(String, String), String> {
        let args = with(
            message,
            &[("channel", json!(channel)), ("unfurl_links", json!(false))],
        );
        let answer = self.call("chat.postMessage", &args).await?;
        let conversation = answer
            .get("channel")
            .and_then(Value::as_str)
            .unwrap_or(channel)
            .to_owned();
        let ts = answer
            .get("ts")
            .and_then(Value::as_str)
            .ok_or("Slack chat.postMessage gave no ts")?
            .to_owned();
        Ok((conversation, ts))
    }

    /// Replaces message `ts` in `conversation` with `message`.
    pub async fn update(
        &self,
        conversation: &str,
        ts: &str,
        message: &Value,
    ) -> Result<(), String> {
        let args = with(
            message,
            &[("channel", json!(conversation)), ("ts", json!(ts))],
        );
        self.call("chat.update", &args).await.map(|_| ())
    }

    /// Opens modal `view` for the interaction `trigger_id`.
    pub async fn open_view(&self, trigger_id: &str, view: &Value) -> Result<(), String> {
        self.call(
            "views.open",
            &json!({ "trigger_id": trigger_id, "view": view }),
        )
        .await
        .map(|_| ())
    }
}
