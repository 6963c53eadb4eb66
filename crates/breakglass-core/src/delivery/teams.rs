//! The Microsoft Teams body: a notification as an Adaptive Card, the way a Teams Workflows
//! incoming webhook ("Post to a channel when a webhook request is received") takes it.
//!
//! The card says what happened (the subject as its title, loud for critical alerts), the
//! event's key facts, where it sits in the audit log, and has one button: to the console page
//! of the request the event is about, where an approver approves, or to the console itself.
//!
//! Teams renders a subset of markdown in a `TextBlock` and in a fact's title and value
//! (bold, italic, lists, `[title](url)` links). Text from the event — a justification, a
//! reason, a name typed at a sign-in — is made inert before it goes into the card, so what
//! a requester writes is shown as written and cannot become a link.

use serde_json::{Value, json};

use super::{idempotency_key, record};
use crate::audit::Severity;
use crate::model::RequestId;
use crate::outbox::OutboxMessage;
use crate::present::{format_duration, request_url, rfc3339};

/// The Adaptive Card schema version the cards declare. Teams renders cards up to version
/// 1.5 ("Teams is also limited to version 1.5", Microsoft Copilot Studio, "Adaptive Cards
/// overview",
/// <https://learn.microsoft.com/en-us/microsoft-copilot-studio/guidance/adaptive-cards-overview>);
/// a client older than the declared version shows `fallbackText` instead.
pub const TEAMS_CARD_VERSION: &str = "1.5";

/// The notification kinds that ask the people they reach to approve something: their button
/// says so.
const APPROVAL_KINDS: &[&str] = &["approval_needed", "extension_approval_needed"];

/// The longest text one fact, the title or the fallback text carries, in characters. A Teams
/// message holds about 28 KB; a runaway justification must not make the post fail.
const MAX_TEXT: usize = 1_000;

/// How a fact's value is shown.
#[derive(Clone, Copy)]
enum Shown {
    /// As the text it is (a string, or a number's digits).
    Text,
    /// A number of seconds, as hours and minutes.
    Seconds,
    /// A list of names, comma-separated.
    List,
}

/// The event fields a card shows, in order, with their titles. A field the event does not
/// carry (or carries empty) is left out, so each kind shows what it has: a request needing
/// approval its requester, role, account, incident, justification and duration; a denial
/// who denied and why; a dead letter the channels that failed.
const FACTS: &[(&str, &str, Shown)] = &[
    ("request", "Request", Shown::Text),
    ("grant", "Grant", Shown::Text),
    ("requester", "Requester", Shown::Text),
    ("username", "User", Shown::Text),
    ("playbook", "Playbook", Shown::Text),
    ("role_arn", "Role", Shown::Text),
    ("account", "Account", Shown::Text),
    ("incident", "Incident", Shown::Text),
    ("duration_seconds", "Duration", Shown::Seconds),
    ("add_seconds", "Extension", Shown::Seconds),
    ("justification", "Justification", Shown::Text),
    ("allows", "Allows", Shown::Text),
    ("approvers", "Approved by", Shown::List),
    ("by", "By", Shown::Text),
    ("reviewer", "Reviewer", Shown::Text),
    ("outcome", "Outcome", Shown::Text),
    ("reason", "Reason", Shown::Text),
    ("notes", "Notes", Shown::Text),
    ("change", "Change", Shown::Text),
    ("name", "Passkey", Shown::Text),
    ("subject", "Subject", Shown::Text),
    ("email", "Email", Shown::Text),
    ("issuer", "Identity provider", Shown::Text),
    ("address", "From", Shown::Text),
    ("pending_until", "Decide by", Shown::Text),
    ("activate_by", "Activate by", Shown::Text),
    ("end", "Ends", Shown::Text),
    ("new_end", "Now ends", Shown::Text),
    ("cutoff", "Sessions issued before", Shown::Text),
    ("due", "Review due", Shown::Text),
    ("until", "Locked until", Shown::Text),
    ("attempt", "Attempt", Shown::Text),
    ("problem", "Problem", Shown::Text),
    ("location", "Anchors", Shown::Text),
    ("failed_channels", "Failed channels", Shown::List),
    ("attempts", "Attempts", Shown::Text),
    ("error", "Last error", Shown::Text),
];

/// The body to POST to a Teams Workflows webhook: a `message` whose one attachment is the
/// notification's Adaptive Card (version [`TEAMS_CARD_VERSION`]). The button opens
/// `{console_url}/console/requests/{id}` when the event names a request ("Review and
/// approve" when approval is asked for, "Open in breakglass" otherwise), else the console.
pub fn teams_body(message: &OutboxMessage, console_url: &str) -> String {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card(message, console_url),
        }],
    })
    .to_string()
}

/// The Adaptive Card of `message`.
fn card(message: &OutboxMessage, console_url: &str) -> Value {
    let n = &message.notification;
    let (_, event) = record(message);
    let title = inert(&n.subject);
    let mut heading = json!({
        "type": "TextBlock",
        "text": title,
        "style": "heading",
        "size": "medium",
        "weight": "bolder",
        "wrap": true,
    });
    let color = match n.severity {
        Severity::Critical => Some("attention"),
        Severity::Notice => Some("warning"),
        Severity::Info => None,
    };
    if let (Some(color), Some(h)) = (color, heading.as_object_mut()) {
        h.insert("color".to_owned(), json!(color));
    }
    let mut body = vec![heading];
    let facts = facts(&event);
    if !facts.is_empty() {
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    body.push(json!({
        "type": "TextBlock",
        "text": format!(
            "{} · severity {} · audit #{} · {} · {}",
            inert(&n.kind),
            n.severity.as_str(),
            message.audit_seq,
            rfc3339(message.created_at),
            idempotency_key(message),
        ),
        "isSubtle": true,
        "size": "small",
        "spacing": "medium",
        "wrap": true,
    }));
    let button = if APPROVAL_KINDS.contains(&n.kind.as_str()) {
        json!({
            "type": "Action.OpenUrl",
            "title": "Review and approve",
            "url": link(console_url, &event),
            "style": "positive",
        })
    } else {
        json!({
            "type": "Action.OpenUrl",
            "title": "Open in breakglass",
            "url": link(console_url, &event),
        })
    };
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": TEAMS_CARD_VERSION,
        "fallbackText": title,
        "body": body,
        "actions": [button],
    })
}

/// The facts of `event` that [`FACTS`] names, each made inert.
fn facts(event: &Value) -> Vec<Value> {
    FACTS
        .iter()
        .filter_map(|(key, title, shown)| {
            let value = match (event.get(key)?, shown) {
                (Value::Null | Value::Bool(_), _) => return None,
                (Value::Number(s), Shown::Seconds) => {
                    format_duration(time::Duration::seconds(s.as_i64()?))
                }
                (Value::Array(items), Shown::List) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                (Value::String(s), _) => s.clone(),
                (Value::Number(v), _) => v.to_string(),
                _ => return None,
            };
            let value = inert(&value);
            (!value.trim().is_empty()).then(|| json!({ "title": title, "value": value }))
        })
        .collect()
}

/// Where the button goes: the console page of the request `event` names (checked to be a
/// request id, so nothing else ends up in the path), else the console.
fn link(console_url: &str, event: &Value) -> String {
    let base = console_url.trim_end_matches('/');
    match event
        .get("request")
        .and_then(Value::as_str)
        .and_then(|r| RequestId::new(r).ok())
    {
        Some(id) => request_url(base, &id),
        None => format!("{base}/console"),
    }
}

/// A zero-width space: invisible, and no markdown parser reads it as punctuation or space.
const ZWSP: char = '\u{200B}';

/// `text` made inert for the markdown Teams renders, looking the same: a zero-width space
/// after each character that can open a link or an autolink (`[`, `]`, `<`, `>`), code or an
/// escape (`` ` ``, `\`), or a doubled emphasis marker (`*`, `~`, and `_` unless inside a
/// word, where markdown ignores it), and before a line-start marker (`-`, `+`, `#`, `>`, `|`,
/// `1.`) at the start; line breaks become spaces, other control and bidirectional-override
/// characters are dropped, and the text is cut at [`MAX_TEXT`] characters.
///
/// `[x](https://evil)` so becomes `[`·`x]`·`(https://evil)` (· the zero-width space): a
/// link needs its `](` adjacent and an autolink its `<` next to the scheme, so no parser
/// takes either for one, and no list, heading or quote can start. A lone `*` or `~` pair may
/// still italicise or strike a run (the zero-width space is not whitespace to markdown),
/// which changes how the text looks, never where it points. Backslash escapes are no answer:
/// they are not part of the subset Teams documents, and a client that does not honour them
/// would show the backslashes and still draw the link.
fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    if starts_a_block(text) {
        out.push(ZWSP);
    }
    let mut prev: Option<char> = None;
    let mut chars = text.chars().take(MAX_TEXT).peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match c {
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            '[' | ']' | '<' | '>' | '*' | '~' | '`' | '\\' => {
                out.push(c);
                out.push(ZWSP);
            }
            '_' if !(prev.is_some_and(char::is_alphanumeric)
                && next.is_some_and(char::is_alphanumeric)) =>
            {
                out.push(c);
                out.push(ZWSP);
            }
            c => out.push(c),
        }
        prev = Some(c);
    }
    if text.chars().nth(MAX_TEXT).is_some() {
        out.push('…');
    }
    out
}

/// Whether `text` opens with what markdown reads as a block marker at a line's start: a
/// bullet, heading, quote or table rule, or an ordered-list number (`1.`, `2)`).
fn starts_a_block(text: &str) -> bool {
    let t = text.trim_start();
    if t.starts_with(['-', '+', '#', '>', '|', '=']) {
        return true;
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && t.get(digits..)
            .is_some_and(|rest| rest.starts_with(['.', ')']))
}

/// The bidirectional formatting characters (embeddings, overrides, isolates) that can make
/// text read in another order than it is stored.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::outbox::{Audience, Notification};

    fn message(kind: &str, severity: Severity, subject: &str, event: Value) -> OutboxMessage {
        OutboxMessage {
            id: 42,
            audit_seq: 7,
            created_at: datetime!(2026-11-21 05:00 UTC),
            notification: Notification {
                audit_index: 0,
                kind: kind.into(),
                severity,
                audience: vec![Audience::SecurityTeam],
                subject: subject.into(),
            },
            event_body: json!({ "seq": 7, "actor": "system", "event": event }).to_string(),
            attempts: 0,
            done_channels: vec![],
            last_error: None,
        }
    }

    fn card_of(m: &OutboxMessage) -> Value {
        let body: Value = serde_json::from_str(&teams_body(m, "https://bg.example.com/")).unwrap();
        assert_eq!(body["type"], "message");
        let attachment = &body["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert!(attachment["contentUrl"].is_null());
        attachment["content"].clone()
    }

    fn fact(card: &Value, title: &str) -> Option<String> {
        card["body"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "FactSet")
            .flat_map(|b| b["facts"].as_array().unwrap().clone())
            .find(|f| f["title"] == title)
            .map(|f| f["value"].as_str().unwrap().to_owned())
    }

    #[test]
    fn an_approval_card_links_to_the_request_and_says_approve() {
        let m = message(
            "approval_needed",
            Severity::Info,
            "alice requests arn:aws:iam::111111111111:role/SecurityAnalyst",
            json!({
                "type": "request_submitted", "request": "r-1", "requester": "alice",
                "role_arn": "arn:aws:iam::111111111111:role/Security_Analyst",
                "account": "111111111111", "incident": "INC-7", "duration_seconds": 5400,
                "justification": "GuardDuty finding", "required_approvals": 2,
            }),
        );
        let c = card_of(&m);
        assert_eq!(c["type"], "AdaptiveCard");
        assert_eq!(c["version"], "1.5");
        assert_eq!(c["actions"][0]["type"], "Action.OpenUrl");
        assert_eq!(c["actions"][0]["title"], "Review and approve");
        assert_eq!(
            c["actions"][0]["url"],
            "https://bg.example.com/console/requests/r-1"
        );
        assert!(c["body"][0].get("color").is_none(), "info is not coloured");
        assert_eq!(fact(&c, "Requester").as_deref(), Some("alice"));
        assert_eq!(fact(&c, "Duration").as_deref(), Some("1h30m"));
        assert_eq!(fact(&c, "Incident").as_deref(), Some("INC-7"));
        // Identifiers keep their underscores as typed (copyable into a terminal).
        assert_eq!(
            fact(&c, "Role").as_deref(),
            Some("arn:aws:iam::111111111111:role/Security_Analyst")
        );
        assert_eq!(fact(&c, "Grant"), None, "absent fields are left out");
        let context = c["body"][2]["text"].as_str().unwrap();
        assert!(context.contains("audit #7"), "{context}");
        assert!(context.contains("breakglass-42"), "{context}");
    }

    #[test]
    fn a_critical_card_is_loud_and_an_event_without_a_request_opens_the_console() {
        let m = message(
            "audit_chain_tampered",
            Severity::Critical,
            "AUDIT LOG TAMPERED",
            json!({ "type": "audit_chain_tampered", "location": "s3://b/p", "problem": "gone" }),
        );
        let c = card_of(&m);
        assert_eq!(c["body"][0]["color"], "attention");
        assert_eq!(c["actions"][0]["title"], "Open in breakglass");
        assert_eq!(c["actions"][0]["url"], "https://bg.example.com/console");
        // Not a request id: never put into the path.
        let odd = message(
            "request_denied",
            Severity::Notice,
            "denied",
            json!({ "type": "request_denied", "request": "../admin?x=1" }),
        );
        assert_eq!(
            card_of(&odd)["actions"][0]["url"],
            "https://bg.example.com/console"
        );
    }

    #[test]
    fn a_requester_cannot_inject_a_link_or_formatting() {
        let m = message(
            "approval_needed",
            Severity::Info,
            "alice requests [this](https://evil.example)",
            json!({
                "type": "request_submitted", "request": "r-1",
                "justification": "[Approve here](https://evil.example/approve) **now**\n- item <https://evil.example> \u{202E}gnp.exe",
            }),
        );
        let c = card_of(&m);
        let j = fact(&c, "Justification").unwrap();
        assert!(!j.contains("]("), "{j:?}");
        assert!(!j.contains("**"), "{j:?}");
        assert!(!j.contains("<https"), "{j:?}");
        assert!(!j.contains('\n') && !j.contains('\u{202E}'), "{j:?}");
        // Invisible separators only: the text reads as written.
        assert_eq!(
            j.replace(ZWSP, ""),
            "[Approve here](https://evil.example/approve) **now** - item <https://evil.example> gnp.exe"
        );
        let title = c["body"][0]["text"].as_str().unwrap();
        assert!(!title.contains("]("), "{title:?}");
        assert_eq!(c["fallbackText"], title);
    }

    #[test]
    fn inert_text_breaks_every_markdown_construct_teams_renders() {
        for (raw, broken) in [
            ("[a](b)", "]("),
            ("**bold**", "**"),
            ("_it_", "_i"),
            ("~~gone~~", "~~"),
            ("`code`", "`c"),
            ("<https://x>", "<h"),
        ] {
            assert!(!inert(raw).contains(broken), "{raw} -> {:?}", inert(raw));
        }
        for list in ["- a", "1. a", "2) a", "# a", "> a", "+ a"] {
            assert!(inert(list).starts_with(ZWSP), "{list}");
        }
        for plain in ["INC-7", "snake_case_name", "2024-001", "alice@example.com"] {
            assert_eq!(inert(plain), plain);
        }
        let long = "x".repeat(MAX_TEXT + 10);
        assert_eq!(inert(&long).chars().count(), MAX_TEXT + 1);
    }
}
