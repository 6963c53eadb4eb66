//! The Web API methods the broker calls, read from the verbatim subset of Slack's OpenAPI 2
//! document (`tests/specs/slack_web_api_subset.json`), and the check of one call's arguments
//! against them: every argument is one the method lists, every required one is there, and
//! each has the listed type.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// The subset of `web-api/slack_web_openapi_v2.json` (slackapi/slack-api-specs) the receiver
/// serves; its `x-source` names the commit.
pub(crate) const SUBSET: &str = include_str!("../../tests/specs/slack_web_api_subset.json");

/// Why the subset cannot be read (it is compiled in, so only an edit of the file can cause
/// this; a unit test reads it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpecError {
    /// The file is not JSON.
    #[error("the Slack spec subset is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A part the receiver needs is missing or of the wrong shape.
    #[error("the Slack spec subset has no usable `{0}`")]
    Shape(String),
}

/// Where an argument came from: form fields and the query string carry text, a JSON body
/// carries JSON values, and the two are type-checked differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A form field or query parameter: always a string.
    Text,
    /// A member of a JSON body.
    Json,
}

/// An OpenAPI 2 primitive type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `integer`.
    Integer,
    /// `number`.
    Number,
}

/// One parameter of a method.
#[derive(Debug)]
pub(crate) struct Param {
    /// Its name.
    pub(crate) name: String,
    /// Whether the spec marks it `required`.
    pub(crate) required: bool,
    /// Its type.
    pub(crate) kind: Kind,
    /// Whether its string holds JSON: the spec types `blocks`, `attachments` and `view` as
    /// strings and says so in their descriptions ("A JSON-based array of structured blocks,
    /// presented as a URL-encoded string", "This must be a JSON-encoded string").
    pub(crate) json: bool,
}

/// One method (`chat.postMessage`, …) of the subset.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The HTTP verb the spec declares (`get` or `post`).
    pub(crate) verb: String,
    /// The body types it declares (`consumes`).
    pub(crate) consumes: Vec<String>,
    /// Its parameters, `token` included.
    pub(crate) params: Vec<Param>,
}

/// The methods of the subset, by name without the leading slash.
#[derive(Debug)]
pub(crate) struct Spec {
    operations: BTreeMap<String, Operation>,
}

fn shape(what: &str) -> SpecError {
    SpecError::Shape(what.to_owned())
}

fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>, SpecError> {
    value
        .and_then(Value::as_array)
        .ok_or_else(|| shape(what))?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| shape(what)))
        .collect()
}

fn param(value: &Value, path: &str) -> Result<Param, SpecError> {
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| shape(&format!("{path}.name")))?;
    let kind = match value.get("type").and_then(Value::as_str) {
        Some("string") => Kind::String,
        Some("boolean") => Kind::Boolean,
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        _ => return Err(shape(&format!("{path}.type"))),
    };
    let description = value
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Param {
        name: name.to_owned(),
        required: value.get("required").and_then(Value::as_bool) == Some(true),
        kind,
        json: kind == Kind::String
            && (description.contains("JSON-based array") || description.contains("JSON-encoded")),
    })
}

impl Spec {
    /// Reads the compiled-in subset.
    pub(crate) fn load() -> Result<Self, SpecError> {
        Self::parse(SUBSET)
    }

    /// Reads a subset of Slack's OpenAPI 2 document.
    pub(crate) fn parse(text: &str) -> Result<Self, SpecError> {
        let doc: Value = serde_json::from_str(text)?;
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| shape("paths"))?;
        let mut operations = BTreeMap::new();
        for (path, item) in paths {
            let name = path
                .strip_prefix('/')
                .ok_or_else(|| shape(&format!("paths.{path}")))?;
            let (verb, op) = item
                .as_object()
                .and_then(|item| item.iter().next())
                .ok_or_else(|| shape(&format!("paths.{path}")))?;
            let at = format!("paths.{path}.{verb}");
            let consumes = strings(op.get("consumes"), &format!("{at}.consumes"))?;
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .ok_or_else(|| shape(&format!("{at}.parameters")))?
                .iter()
                .enumerate()
                .map(|(i, p)| param(p, &format!("{at}.parameters[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            operations.insert(
                name.to_owned(),
                Operation {
                    verb: verb.clone(),
                    consumes,
                    params,
                },
            );
        }
        Ok(Self { operations })
    }

    /// The method named `name` (`chat.postMessage`), if the subset has it.
    pub(crate) fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }
}

fn is_bool_text(text: &str) -> bool {
    matches!(text, "true" | "false" | "1" | "0")
}

impl Param {
    /// The argument's value as the receiver keeps it (JSON strings parsed), or why it does
    /// not have the spec's type.
    fn accept(&self, value: Value, source: Source) -> Result<Value, String> {
        let name = &self.name;
        match (self.kind, source, value) {
            (Kind::String, _, Value::String(text)) if self.json => serde_json::from_str(&text)
                .map_err(|e| format!("`{name}` must hold JSON (the spec: a JSON-encoded string), and does not: {e}")),
            // A JSON body carries the structure itself: Slack's JSON calls send `blocks` as
            // an array and `view` as an object rather than as a string of JSON.
            (Kind::String, Source::Json, value @ (Value::Array(_) | Value::Object(_)))
                if self.json =>
            {
                Ok(value)
            }
            (Kind::String, _, value @ Value::String(_)) => Ok(value),
            (Kind::Boolean, Source::Text, Value::String(text)) if is_bool_text(&text) => {
                Ok(Value::String(text))
            }
            (Kind::Boolean, Source::Json, value @ Value::Bool(_)) => Ok(value),
            (Kind::Integer, Source::Text, Value::String(text)) if text.parse::<i64>().is_ok() => {
                Ok(Value::String(text))
            }
            (Kind::Integer, Source::Json, value) if value.is_i64() || value.is_u64() => Ok(value),
            (Kind::Number, Source::Text, Value::String(text))
                if text.parse::<f64>().is_ok_and(f64::is_finite) =>
            {
                Ok(Value::String(text))
            }
            (Kind::Number, Source::Json, value @ Value::Number(_)) => Ok(value),
            (kind, _, value) => Err(format!(
                "`{name}` must be of type {} (the spec), but is `{value}`",
                kind.name()
            )),
        }
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Number => "number",
        }
    }
}

impl Operation {
    /// Checks `args` (without `token`, which the receiver checks as authentication) against
    /// the method's parameters, pushing one sentence per problem onto `out`, and returns
    /// them as an object: JSON-holding strings parsed, everything else as sent.
    pub(crate) fn check(
        &self,
        args: Vec<(String, Value, Source)>,
        out: &mut Vec<String>,
    ) -> Map<String, Value> {
        let mut kept = Map::new();
        let mut given = BTreeSet::new();
        for (name, value, source) in args {
            if !given.insert(name.clone()) {
                out.push(format!("`{name}` is given more than once"));
                continue;
            }
            let Some(param) = self.params.iter().find(|p| p.name == name) else {
                let known: Vec<&str> = self
                    .params
                    .iter()
                    .map(|p| p.name.as_str())
                    .filter(|n| *n != "token")
                    .collect();
                out.push(format!(
                    "unknown parameter `{name}`; the spec lists {}",
                    known.join(", ")
                ));
                continue;
            };
            match param.accept(value, source) {
                Ok(value) => {
                    kept.insert(name, value);
                }
                Err(why) => out.push(why),
            }
        }
        for param in &self.params {
            // A value that failed its type check is given, and was reported already.
            if param.required && param.name != "token" && !given.contains(&param.name) {
                out.push(format!("missing required parameter `{}`", param.name));
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_subset_reads_and_has_the_four_methods() {
        let spec = Spec::load().unwrap();
        for name in [
            "chat.postMessage",
            "chat.update",
            "views.open",
            "users.info",
        ] {
            assert!(spec.operation(name).is_some(), "{name}");
        }
        let post = spec.operation("chat.postMessage").unwrap();
        assert_eq!(post.verb, "post");
        let blocks = post.params.iter().find(|p| p.name == "blocks").unwrap();
        assert!(blocks.json && !blocks.required);
        let channel = post.params.iter().find(|p| p.name == "channel").unwrap();
        assert!(channel.required && !channel.json);
        let users = spec.operation("users.info").unwrap();
        assert_eq!(users.consumes, ["application/x-www-form-urlencoded"]);
        let view = spec.operation("views.open").unwrap();
        assert!(view.params.iter().any(|p| p.name == "view" && p.json));
    }

    #[test]
    fn types_are_checked_by_where_the_argument_came_from() {
        let spec = Spec::load().unwrap();
        let post = spec.operation("chat.postMessage").unwrap();
        let mut out = Vec::new();
        let kept = post.check(
            vec![
                ("channel".into(), json!("C1"), Source::Json),
                ("mrkdwn".into(), json!(true), Source::Json),
                ("unfurl_links".into(), json!("true"), Source::Json),
                ("blocks".into(), json!([{"type": "divider"}]), Source::Json),
            ],
            &mut out,
        );
        assert_eq!(
            out,
            ["`unfurl_links` must be of type boolean (the spec), but is `\"true\"`"]
        );
        assert_eq!(kept["blocks"], json!([{"type": "divider"}]));

        let mut out = Vec::new();
        let kept = post.check(
            vec![
                ("channel".into(), json!("C1"), Source::Text),
                ("unfurl_links".into(), json!("true"), Source::Text),
                (
                    "blocks".into(),
                    json!("[{\"type\":\"divider\"}]"),
                    Source::Text,
                ),
                ("link_names".into(), json!("yes"), Source::Text),
            ],
            &mut out,
        );
        assert_eq!(
            out,
            ["`link_names` must be of type boolean (the spec), but is `\"yes\"`"]
        );
        assert_eq!(kept["blocks"], json!([{"type": "divider"}]));
    }

    #[test]
    fn unknown_duplicate_and_missing_arguments_are_named() {
        let spec = Spec::load().unwrap();
        let update = spec.operation("chat.update").unwrap();
        let mut out = Vec::new();
        update.check(
            vec![
                ("channel".into(), json!("C1"), Source::Text),
                ("channel".into(), json!("C2"), Source::Text),
                ("colour".into(), json!("red"), Source::Text),
            ],
            &mut out,
        );
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], "`channel` is given more than once");
        assert!(
            out[1].starts_with("unknown parameter `colour`; the spec lists blocks, attachments")
        );
        assert_eq!(out[2], "missing required parameter `ts`");
    }
}
