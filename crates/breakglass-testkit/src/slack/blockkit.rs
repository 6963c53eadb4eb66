//! Block Kit, checked against the limits Slack's reference pages document. The OpenAPI
//! document types `blocks` and `view` as strings of JSON and says nothing of what they hold,
//! so their contents are checked here: block and element types, text lengths, ids and the
//! modal's fields. Each limit names the page it comes from.
//!
//! Two rules are the testkit's, stricter than Slack's pages, because the broker depends on
//! them: an `action_id` is unique within the whole message or view (Slack asks it only
//! within its block, but the broker routes a click by `action_id` alone), and an input block
//! carries its own `block_id` and its element an `action_id` (Slack would generate them, and
//! the broker could not find the submitted value under a generated key).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

// https://docs.slack.dev/reference/block-kit/blocks: "You can include up to 50 blocks in
// each message, and 100 blocks in modals or Home tabs."
const MESSAGE_BLOCKS: usize = 50;
const MODAL_BLOCKS: usize = 100;
const BLOCKS_PAGE: &str = "https://docs.slack.dev/reference/block-kit/blocks";

// https://docs.slack.dev/reference/block-kit/blocks/section-block: text 1 to 3000
// characters; at most 10 fields of at most 2000 characters each.
const SECTION_TEXT: usize = 3000;
const SECTION_FIELDS: usize = 10;
const SECTION_FIELD_TEXT: usize = 2000;
const SECTION_PAGE: &str = "https://docs.slack.dev/reference/block-kit/blocks/section-block";

// https://api.slack.com/reference/block-kit/composition-objects#text: any text object's text
// is 1 to 3000 characters (the limit of a context block's texts).
const TEXT_OBJECT: usize = 3000;
const TEXT_PAGE: &str = "https://api.slack.com/reference/block-kit/composition-objects#text";

// https://docs.slack.dev/reference/block-kit/blocks/header-block: plain_text of at most 150
// characters; every block's `block_id` at most 255 characters and unique in its message.
const HEADER_TEXT: usize = 150;
const BLOCK_ID: usize = 255;
const HEADER_PAGE: &str = "https://docs.slack.dev/reference/block-kit/blocks/header-block";

// https://docs.slack.dev/reference/block-kit/blocks/input-block: a plain_text label and hint
// of at most 2000 characters each, and an element.
const INPUT_LABEL: usize = 2000;
const INPUT_HINT: usize = 2000;
const INPUT_PAGE: &str = "https://docs.slack.dev/reference/block-kit/blocks/input-block";

// https://docs.slack.dev/reference/block-kit/block-elements/button-element: plain_text of at
// most 75 characters, `action_id` at most 255, `url` at most 3000, `value` at most 2000,
// `style` `primary` or `danger`.
const BUTTON_TEXT: usize = 75;
const ACTION_ID: usize = 255;
const BUTTON_URL: usize = 3000;
const BUTTON_VALUE: usize = 2000;
const BUTTON_STYLES: &[&str] = &["primary", "danger"];
const BUTTON_PAGE: &str =
    "https://docs.slack.dev/reference/block-kit/block-elements/button-element";

// https://docs.slack.dev/reference/views/modal-views: `type` modal; `title`, `submit` and
// `close` plain_text of at most 24 characters (`submit` required when there is an input
// block); `callback_id` at most 255; `private_metadata` at most 3000.
const MODAL_TITLE: usize = 24;
const MODAL_BUTTON: usize = 24;
const CALLBACK_ID: usize = 255;
const PRIVATE_METADATA: usize = 3000;
const MODAL_PAGE: &str = "https://docs.slack.dev/reference/views/modal-views";

/// The block types of Slack's block reference ([`BLOCKS_PAGE`]) a broker may send; anything
/// else is a typo Slack would refuse.
const BLOCK_TYPES: &[&str] = &[
    "actions",
    "context",
    "context_actions",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "table",
    "video",
];

/// Checks the `blocks` of a `chat.postMessage` or `chat.update`, pushing one sentence per
/// problem onto `out`.
pub(crate) fn check_message(blocks: &Value, out: &mut Vec<String>) {
    Walk::new(out).blocks("blocks", blocks, MESSAGE_BLOCKS);
}

/// Checks the `view` of a `views.open`: a modal, its fields and its blocks.
pub(crate) fn check_modal(view: &Value, out: &mut Vec<String>) {
    let mut walk = Walk::new(out);
    let Some(view) = view.as_object() else {
        walk.fail("view", format!("must be a JSON object, and is `{view}`"));
        return;
    };
    if view.get("type").and_then(Value::as_str) != Some("modal") {
        walk.fail(
            "view.type",
            format!(
                "must be `modal` ({MODAL_PAGE}), and is {}",
                shown(view.get("type"))
            ),
        );
    }
    match view.get("title") {
        Some(title) => walk.text("view.title", title, Plain::Only, MODAL_TITLE, MODAL_PAGE),
        None => walk.fail("view.title", format!("is required ({MODAL_PAGE})")),
    }
    for button in ["submit", "close"] {
        if let Some(text) = view.get(button) {
            let path = format!("view.{button}");
            walk.text(&path, text, Plain::Only, MODAL_BUTTON, MODAL_PAGE);
        }
    }
    walk.string("view", view, "callback_id", CALLBACK_ID, MODAL_PAGE);
    walk.string(
        "view",
        view,
        "private_metadata",
        PRIVATE_METADATA,
        MODAL_PAGE,
    );
    match view.get("blocks") {
        Some(blocks) => walk.blocks("view.blocks", blocks, MODAL_BLOCKS),
        None => walk.fail("view.blocks", format!("is required ({MODAL_PAGE})")),
    }
    let has_input = view
        .get("blocks")
        .and_then(Value::as_array)
        .is_some_and(|b| {
            b.iter()
                .any(|b| b.get("type") == Some(&Value::from("input")))
        });
    if has_input && !view.contains_key("submit") {
        walk.fail(
            "view.submit",
            format!("is required when the view has an input block ({MODAL_PAGE})"),
        );
    }
}

/// Whether a text object must be `plain_text` or may also be `mrkdwn`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plain {
    Only,
    OrMrkdwn,
}

/// One walk over a message's or a view's blocks: the problems found, and the ids seen so
/// far (with where), which must not repeat.
struct Walk<'a> {
    out: &'a mut Vec<String>,
    action_ids: BTreeMap<String, String>,
    block_ids: BTreeMap<String, String>,
}

/// A value as a message quotes it: its JSON in backticks, or `absent`.
fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_owned(), |v| format!("`{v}`"))
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

impl<'a> Walk<'a> {
    fn new(out: &'a mut Vec<String>) -> Self {
        Self {
            out,
            action_ids: BTreeMap::new(),
            block_ids: BTreeMap::new(),
        }
    }

    fn fail(&mut self, path: &str, what: String) {
        self.out.push(format!("`{path}` {what}"));
    }

    /// A string member `key` of `object` at `path`, if present: a string of at most `max`
    /// characters.
    fn string(
        &mut self,
        path: &str,
        object: &Map<String, Value>,
        key: &str,
        max: usize,
        page: &str,
    ) -> Option<String> {
        let value = object.get(key)?;
        let path = format!("{path}.{key}");
        let Some(text) = value.as_str() else {
            self.fail(&path, format!("must be a string, and is `{value}`"));
            return None;
        };
        if chars(text) > max {
            self.fail(
                &path,
                format!(
                    "has {} characters; Slack allows at most {max} ({page})",
                    chars(text)
                ),
            );
        }
        Some(text.to_owned())
    }

    /// A text object: `{"type": "plain_text"|"mrkdwn", "text": …}` with 1 to `max`
    /// characters of text.
    fn text(&mut self, path: &str, value: &Value, plain: Plain, max: usize, page: &str) {
        let Some(object) = value.as_object() else {
            self.fail(path, format!("must be a text object, and is `{value}`"));
            return;
        };
        match object.get("type").and_then(Value::as_str) {
            Some("plain_text") => {}
            Some("mrkdwn") if plain == Plain::OrMrkdwn => {}
            _ => {
                let allowed = match plain {
                    Plain::Only => "`plain_text`",
                    Plain::OrMrkdwn => "`plain_text` or `mrkdwn`",
                };
                self.fail(
                    &format!("{path}.type"),
                    format!(
                        "must be {allowed} ({page}), and is {}",
                        shown(object.get("type"))
                    ),
                );
            }
        }
        match self.string(path, object, "text", max, page) {
            Some(text) if text.is_empty() => {
                self.fail(
                    &format!("{path}.text"),
                    format!("must not be empty ({page})"),
                );
            }
            Some(_) => {}
            None if !object.contains_key("text") => {
                self.fail(&format!("{path}.text"), format!("is required ({page})"));
            }
            None => {}
        }
    }

    fn blocks(&mut self, path: &str, blocks: &Value, max: usize) {
        let Some(list) = blocks.as_array() else {
            self.fail(
                path,
                format!("must be a JSON array of blocks, and is `{blocks}`"),
            );
            return;
        };
        if list.len() > max {
            self.fail(
                path,
                format!(
                    "has {} blocks; Slack allows at most {max} here ({BLOCKS_PAGE})",
                    list.len()
                ),
            );
        }
        for (i, block) in list.iter().enumerate() {
            self.block(&format!("{path}[{i}]"), block);
        }
    }

    fn block(&mut self, path: &str, value: &Value) {
        let Some(block) = value.as_object() else {
            self.fail(path, format!("must be a block object, and is `{value}`"));
            return;
        };
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !BLOCK_TYPES.contains(&kind) {
            self.fail(
                &format!("{path}.type"),
                format!(
                    "is {}, not a block type of {BLOCKS_PAGE} ({})",
                    shown(block.get("type")),
                    BLOCK_TYPES.join(", ")
                ),
            );
            return;
        }
        if let Some(id) = self.string(path, block, "block_id", BLOCK_ID, HEADER_PAGE) {
            let here = format!("{path}.block_id");
            if let Some(first) = self.block_ids.insert(id.clone(), here.clone()) {
                self.fail(
                    &here,
                    format!("repeats `{id}` of `{first}`; a block_id is unique in its message ({HEADER_PAGE})"),
                );
            }
        }
        match kind {
            "section" => self.section(path, block),
            "header" => match block.get("text") {
                Some(text) => {
                    let path = format!("{path}.text");
                    self.text(&path, text, Plain::Only, HEADER_TEXT, HEADER_PAGE);
                }
                None => self.fail(
                    &format!("{path}.text"),
                    format!("is required ({HEADER_PAGE})"),
                ),
            },
            "actions" => self.elements(path, block),
            "context" => self.context(path, block),
            "input" => self.input(path, block),
            _ => {}
        }
    }

    fn section(&mut self, path: &str, block: &Map<String, Value>) {
        if let Some(text) = block.get("text") {
            let path = format!("{path}.text");
            self.text(&path, text, Plain::OrMrkdwn, SECTION_TEXT, SECTION_PAGE);
        }
        match block.get("fields").map(|f| (f, f.as_array())) {
            Some((_, Some(fields))) => {
                if fields.len() > SECTION_FIELDS {
                    self.fail(
                        &format!("{path}.fields"),
                        format!(
                            "has {} items; Slack allows at most {SECTION_FIELDS} ({SECTION_PAGE})",
                            fields.len()
                        ),
                    );
                }
                for (i, field) in fields.iter().enumerate() {
                    let path = format!("{path}.fields[{i}]");
                    self.text(
                        &path,
                        field,
                        Plain::OrMrkdwn,
                        SECTION_FIELD_TEXT,
                        SECTION_PAGE,
                    );
                }
            }
            Some((fields, None)) => self.fail(
                &format!("{path}.fields"),
                format!("must be an array of text objects, and is `{fields}`"),
            ),
            None if !block.contains_key("text") => self.fail(
                path,
                format!("is a section with neither `text` nor `fields` ({SECTION_PAGE})"),
            ),
            None => {}
        }
        if let Some(accessory) = block.get("accessory") {
            self.element(&format!("{path}.accessory"), accessory, false);
        }
    }

    fn elements(&mut self, path: &str, block: &Map<String, Value>) {
        match block.get("elements").and_then(Value::as_array) {
            Some(elements) => {
                for (i, element) in elements.iter().enumerate() {
                    self.element(&format!("{path}.elements[{i}]"), element, false);
                }
            }
            None => self.fail(
                &format!("{path}.elements"),
                format!("is required: an array of interactive elements ({BLOCKS_PAGE})"),
            ),
        }
    }

    fn context(&mut self, path: &str, block: &Map<String, Value>) {
        let Some(elements) = block.get("elements").and_then(Value::as_array) else {
            self.fail(
                &format!("{path}.elements"),
                format!("is required: an array of text and image elements ({BLOCKS_PAGE})"),
            );
            return;
        };
        for (i, element) in elements.iter().enumerate() {
            let kind = element.get("type").and_then(Value::as_str);
            if kind != Some("image") {
                let path = format!("{path}.elements[{i}]");
                self.text(&path, element, Plain::OrMrkdwn, TEXT_OBJECT, TEXT_PAGE);
            }
        }
    }

    fn input(&mut self, path: &str, block: &Map<String, Value>) {
        if !block.contains_key("block_id") {
            self.fail(
                &format!("{path}.block_id"),
                "is missing: the broker reads a submitted value by the input's block_id, and \
                 Slack would generate one the broker cannot know"
                    .to_owned(),
            );
        }
        match block.get("label") {
            Some(label) => {
                let path = format!("{path}.label");
                self.text(&path, label, Plain::Only, INPUT_LABEL, INPUT_PAGE);
            }
            None => self.fail(
                &format!("{path}.label"),
                format!("is required ({INPUT_PAGE})"),
            ),
        }
        if let Some(hint) = block.get("hint") {
            self.text(
                &format!("{path}.hint"),
                hint,
                Plain::Only,
                INPUT_HINT,
                INPUT_PAGE,
            );
        }
        match block.get("element") {
            Some(element) => self.element(&format!("{path}.element"), element, true),
            None => self.fail(
                &format!("{path}.element"),
                format!("is required ({INPUT_PAGE})"),
            ),
        }
    }

    /// An interactive element: its `action_id` (required when `needs_action_id`) is at most
    /// 255 characters and unique in the message or view; a button is checked in full.
    fn element(&mut self, path: &str, value: &Value, needs_action_id: bool) {
        let Some(element) = value.as_object() else {
            self.fail(path, format!("must be an element object, and is `{value}`"));
            return;
        };
        let Some(kind) = element.get("type").and_then(Value::as_str) else {
            self.fail(&format!("{path}.type"), "is required".to_owned());
            return;
        };
        match self.string(path, element, "action_id", ACTION_ID, BUTTON_PAGE) {
            Some(id) => {
                let here = format!("{path}.action_id");
                if let Some(first) = self.action_ids.insert(id.clone(), here.clone()) {
                    self.fail(
                        &here,
                        format!(
                            "repeats `{id}` of `{first}`: a click is routed by action_id alone"
                        ),
                    );
                }
            }
            None if needs_action_id && !element.contains_key("action_id") => self.fail(
                &format!("{path}.action_id"),
                "is missing: the broker reads a submitted value by its action_id, and Slack \
                 would generate one the broker cannot know"
                    .to_owned(),
            ),
            None => {}
        }
        if kind != "button" {
            return;
        }
        match element.get("text") {
            Some(text) => {
                let path = format!("{path}.text");
                self.text(&path, text, Plain::Only, BUTTON_TEXT, BUTTON_PAGE);
            }
            None => self.fail(
                &format!("{path}.text"),
                format!("is required ({BUTTON_PAGE})"),
            ),
        }
        self.string(path, element, "value", BUTTON_VALUE, BUTTON_PAGE);
        self.string(path, element, "url", BUTTON_URL, BUTTON_PAGE);
        if let Some(style) = element.get("style")
            && !style.as_str().is_some_and(|s| BUTTON_STYLES.contains(&s))
        {
            self.fail(
                &format!("{path}.style"),
                format!("is `{style}`; Slack knows only `primary` and `danger` ({BUTTON_PAGE})"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(blocks: &Value) -> Vec<String> {
        let mut out = Vec::new();
        check_message(blocks, &mut out);
        out
    }

    fn modal(view: &Value) -> Vec<String> {
        let mut out = Vec::new();
        check_modal(view, &mut out);
        out
    }

    fn button(action_id: &str, text: &str) -> Value {
        json!({"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}})
    }

    #[test]
    fn a_typical_approval_message_passes() {
        let blocks = json!([
            {"type": "header", "text": {"type": "plain_text", "text": "Break-glass request"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*alice* asks for `admin`"},
             "fields": [{"type": "mrkdwn", "text": "*Account*\n123456789012"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "expires in 1h"}]},
            {"type": "divider"},
            {"type": "actions", "block_id": "decide", "elements": [
                {"type": "button", "action_id": "approve", "style": "primary", "value": "g-1",
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": "deny", "style": "danger", "value": "g-1",
                 "text": {"type": "plain_text", "text": "Deny"}}
            ]},
            {"type": "rich_text", "elements": []}
        ]);
        assert_eq!(message(&blocks), Vec::<String>::new());
    }

    #[test]
    fn each_documented_limit_is_enforced_at_its_edge() {
        let text = |n: usize| "x".repeat(n);
        let section = |n| json!([{"type": "section", "text": {"type": "mrkdwn", "text": text(n)}}]);
        assert!(message(&section(3000)).is_empty());
        assert_eq!(message(&section(3001)).len(), 1);
        let header =
            |n| json!([{"type": "header", "text": {"type": "plain_text", "text": text(n)}}]);
        assert!(message(&header(150)).is_empty());
        assert_eq!(message(&header(151)).len(), 1);
        let actions = |b: Value| json!([{"type": "actions", "elements": [b]}]);
        assert!(message(&actions(button("a", &text(75)))).is_empty());
        assert_eq!(message(&actions(button("a", &text(76)))).len(), 1);
        assert_eq!(message(&actions(button(&text(256), "ok"))).len(), 1);
        let mut long_value = button("a", "ok");
        long_value["value"] = json!(text(2001));
        assert_eq!(message(&actions(long_value)).len(), 1);
        let mut long_url = button("a", "ok");
        long_url["url"] = json!(text(3001));
        assert_eq!(message(&actions(long_url)).len(), 1);
        let mut style = button("a", "ok");
        style["style"] = json!("green");
        assert_eq!(message(&actions(style)).len(), 1);
        let divider = json!({"type": "divider"});
        assert!(message(&Value::Array(vec![divider.clone(); 50])).is_empty());
        let out = message(&Value::Array(vec![divider.clone(); 51]));
        assert_eq!(out.len(), 1);
        assert!(
            out[0].contains("has 51 blocks; Slack allows at most 50"),
            "{out:?}"
        );
    }

    #[test]
    fn unknown_blocks_and_repeated_ids_are_named() {
        let out = message(&json!([{"type": "sectoin"}]));
        assert!(
            out[0].starts_with("`blocks[0].type` is `\"sectoin\"`, not a block type"),
            "{out:?}"
        );
        let out = message(&json!([
            {"type": "actions", "elements": [button("approve", "Approve")]},
            {"type": "actions", "elements": [button("approve", "Approve")]}
        ]));
        assert_eq!(
            out,
            [
                "`blocks[1].elements[0].action_id` repeats `approve` of `blocks[0].elements[0].action_id`: a click is routed by action_id alone"
            ]
        );
        let out = message(
            &json!([{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}]),
        );
        assert_eq!(out.len(), 1);
        assert!(message(&json!({"type": "divider"}))[0].contains("must be a JSON array"));
    }

    fn input(block_id: &str) -> Value {
        json!({"type": "input", "block_id": block_id,
               "label": {"type": "plain_text", "text": "Code"},
               "element": {"type": "plain_text_input", "action_id": "code"}})
    }

    #[test]
    fn a_modal_is_checked_field_by_field() {
        let good = json!({"type": "modal", "callback_id": "approve",
            "title": {"type": "plain_text", "text": "Approve request"},
            "submit": {"type": "plain_text", "text": "Approve"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": "g-1", "blocks": [input("otp")]});
        assert_eq!(modal(&good), Vec::<String>::new());

        let mut title = good.clone();
        title["title"]["text"] = json!("x".repeat(25));
        assert_eq!(modal(&title).len(), 1, "{:?}", modal(&title));
        let mut no_submit = good.clone();
        no_submit.as_object_mut().unwrap().remove("submit");
        assert!(modal(&no_submit)[0].starts_with("`view.submit` is required"));
        let mut metadata = good.clone();
        metadata["private_metadata"] = json!("x".repeat(3001));
        assert_eq!(modal(&metadata).len(), 1);
        let mut home = good.clone();
        home["type"] = json!("home");
        assert_eq!(modal(&home).len(), 1);
        let mut mrkdwn_title = good.clone();
        mrkdwn_title["title"]["type"] = json!("mrkdwn");
        assert_eq!(modal(&mrkdwn_title).len(), 1);
        let mut bare = good;
        bare["blocks"] = json!([{"type": "input", "label": {"type": "plain_text", "text": "Code"},
                                 "element": {"type": "plain_text_input"}}]);
        let out = modal(&bare);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].starts_with("`view.blocks[0].block_id` is missing"));
        assert!(out[1].starts_with("`view.blocks[0].element.action_id` is missing"));
        let many = json!({"type": "modal", "title": {"type": "plain_text", "text": "t"},
                          "blocks": vec![json!({"type": "divider"}); 101]});
        assert_eq!(modal(&many).len(), 1);
    }
}
