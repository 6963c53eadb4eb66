//! What the Slack app says: the message posted about a request (updated in place as the
//! request moves), the modals its buttons and its slash command open, and how the ids
//! those carry are read back.
//!
//! Block Kit JSON, built purely. Every text a person wrote (a justification, a reason) is
//! escaped for Slack's `mrkdwn` (`&`, `<`, `>`), so it cannot mention `@channel` or forge a
//! link. The approve button carries the request's digest as the message showed it; the
//! approval the modal submits is bound to that digest, so a request changed since the
//! message was posted refuses it.

use serde_json::{Value, json};

use crate::canonical::Sha256Digest;
use crate::model::RequestId;
pub use crate::present::request_url;
use crate::present::{format_duration, rfc3339};
use crate::request::{AccessRequest, RequestKind, Status};
use crate::rules::PolicyRef;

/// The `action_id` of the Approve button.
pub const APPROVE_ACTION: &str = "breakglass_approve";
/// The `action_id` of the Deny button.
pub const DENY_ACTION: &str = "breakglass_deny";
/// The `action_id` of the button that opens the console.
pub const OPEN_ACTION: &str = "breakglass_open";
/// The `callback_id` of the approval modal.
pub const APPROVE_VIEW: &str = "breakglass_approve";
/// The `callback_id` of the denial modal.
pub const DENY_VIEW: &str = "breakglass_deny";
/// The `callback_id` of the request modal.
pub const REQUEST_VIEW: &str = "breakglass_request";
/// The block and action ids of the second-factor code input.
pub const CODE_INPUT: (&str, &str) = ("code", "code");
/// The block and action ids of the denial reason input.
pub const REASON_INPUT: (&str, &str) = ("reason", "reason");

/// Slack's longest section text (Block Kit reference: section block, `text`).
const SECTION_MAX: usize = 3_000;

/// Escapes `text` for Slack's `mrkdwn`: `&`, `<` and `>` become entities, so a person's text
/// cannot mention a channel or a user, or make a link.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A person's `text` on one line, escaped and quoted: a newline or `*bold*` in it cannot
/// add lines that look like the message's own facts.
fn flat(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("`{}`", escape(&one_line).replace('`', "'"))
}

/// `text` cut to at most `max` characters (an ellipsis marks a cut).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Where the request stands, in one line (for the message's status block).
pub fn status_line(r: &AccessRequest) -> String {
    let approvers = r.current_approvers();
    let by = if approvers.is_empty() {
        String::new()
    } else {
        format!(
            " by {}",
            approvers
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match &r.status {
        Status::Pending => format!(
            ":hourglass: *Waiting for approval*: {} of {} approvals{by}; times out at {}",
            approvers.len(),
            r.required_approvals,
            rfc3339(r.pending_until)
        ),
        Status::Approved { at, activate_by } => format!(
            ":white_check_mark: *Approved*{by} at {}; the requester may activate until {}",
            rfc3339(*at),
            rfc3339(*activate_by)
        ),
        Status::Active => match &r.grant {
            Some(g) => format!(
                ":large_green_circle: *Active* until {} (grant `{}`){by}",
                rfc3339(g.end),
                g.id
            ),
            None => ":large_green_circle: *Active*".to_owned(),
        },
        Status::Expired { at } => format!(":white_circle: *Expired* at {}", rfc3339(*at)),
        Status::Revoked { at, by, reason } => format!(
            ":no_entry: *Revoked* by `{by}` at {}: {}",
            rfc3339(*at),
            escape(reason)
        ),
        Status::Denied { at, by, reason } => format!(
            ":x: *Denied* by `{by}` at {}: {}",
            rfc3339(*at),
            escape(reason)
        ),
        Status::Cancelled { at, by, reason } => format!(
            ":heavy_minus_sign: *Withdrawn* by `{by}` at {}: {}",
            rfc3339(*at),
            escape(reason)
        ),
        Status::TimedOut { at } => format!(
            ":alarm_clock: *Timed out* at {}: nobody decided in time",
            rfc3339(*at)
        ),
    }
}

/// The facts an approver decides on, as `mrkdwn`: who, which role in which account, the
/// incident, the justification, the duration, and the rule that lets the requester ask.
fn facts(r: &AccessRequest, allowed_by: &[PolicyRef]) -> String {
    let rule = if allowed_by.is_empty() {
        "no policy recorded".to_owned()
    } else {
        allowed_by
            .iter()
            .map(|p| match &p.description {
                Some(d) => format!("`{}` ({})", p.id, escape(d)),
                None => format!("`{}`", p.id),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "*Requester:* `{}`\n*Role:* `{}` in account `{}`\n*Playbook:* `{}`{}\n*Incident:* `{}`\n*Duration:* {}\n*Allowed by:* {}\n*Justification:* {}",
        r.spec.requester,
        r.spec.role_arn,
        r.spec.account,
        r.spec.playbook,
        if r.spec.narrowed {
            " (session policy narrowed by the requester: see the console for what it allows)"
        } else {
            ""
        },
        r.spec.incident,
        format_duration(r.spec.duration),
        rule,
        flat(&r.spec.justification),
    );
    clip(&text, SECTION_MAX)
}

/// The value the Approve button carries: the request id and the digest the message shows.
pub fn approve_value(r: &AccessRequest) -> String {
    format!("{} {}", r.id, r.digest.to_hex())
}

/// Reads an Approve (or Deny) button's value back: the request id and the digest shown.
pub fn parse_value(value: &str) -> Result<(RequestId, Sha256Digest), String> {
    let (id, digest) = value.split_once(' ').ok_or_else(|| {
        format!(
            "button value `{}` is not `<request id> <digest>`",
            clip(value, 80)
        )
    })?;
    let id = RequestId::new(id.to_owned()).map_err(|e| format!("invalid request id: {e}"))?;
    let digest = Sha256Digest::from_hex(digest).map_err(|e| format!("invalid digest: {e}"))?;
    Ok((id, digest))
}

/// The message about request `r`: its facts, where it stands, its digest, and while it is
/// pending, the Approve and Deny buttons (bound to the digest shown); always a button to the
/// console. `allowed_by` is the rule that let the requester ask. Returns the body fields
/// `text` (the notification's fallback) and `blocks`.
pub fn request_message(r: &AccessRequest, allowed_by: &[PolicyRef], console_url: &str) -> Value {
    let break_glass = r.kind == RequestKind::BreakGlass;
    let title = if break_glass {
        format!(
            ":rotating_light: BREAK-GLASS: {} activated {} in {}",
            r.spec.requester, r.spec.role, r.spec.account
        )
    } else {
        format!(
            "{} requests {} in {}",
            r.spec.requester, r.spec.role, r.spec.account
        )
    };
    // A game day's requests are real, but a drill: the message says so first.
    let title = if crate::game_day::is_game_day(&r.spec.incident) {
        format!("[GAME DAY] {title}")
    } else {
        title
    };
    let mut actions = Vec::new();
    if r.status == Status::Pending {
        actions.push(json!({
            "type": "button",
            "action_id": APPROVE_ACTION,
            "text": { "type": "plain_text", "text": "Approve" },
            "style": "primary",
            "value": approve_value(r),
        }));
        actions.push(json!({
            "type": "button",
            "action_id": DENY_ACTION,
            "text": { "type": "plain_text", "text": "Deny" },
            "style": "danger",
            "value": approve_value(r),
        }));
    }
    actions.push(json!({
        "type": "button",
        "action_id": OPEN_ACTION,
        "text": { "type": "plain_text", "text": "Open in breakglass" },
        "url": request_url(console_url, &r.id),
    }));
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": clip(&title, 150) } }),
    ];
    if break_glass {
        // Highest priority: everyone present in the (security) channel is notified.
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text":
            "<!here> *Emergency access was taken without approvers.* It needs a post-incident review." } }));
    }
    blocks.extend([
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": facts(r, allowed_by), "verbatim": true } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": clip(&status_line(r), SECTION_MAX) } }),
        json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": format!(
            "request `{}` · digest `{}`", r.id, r.digest.to_hex()
        ) } ] }),
        json!({ "type": "actions", "block_id": "request", "elements": actions }),
    ]);
    json!({
        "text": clip(&title, 150),
        "blocks": blocks,
    })
}

/// What the approval modal carries through Slack and back.
pub fn approve_metadata(id: &RequestId, digest: &Sha256Digest) -> String {
    json!({ "request": id, "digest": digest.to_hex() }).to_string()
}

/// Reads a modal's `private_metadata` back.
pub fn parse_metadata(metadata: &str) -> Result<(RequestId, Sha256Digest), String> {
    let v: Value =
        serde_json::from_str(metadata).map_err(|e| format!("invalid private_metadata: {e}"))?;
    let id = v
        .get("request")
        .and_then(Value::as_str)
        .ok_or("private_metadata names no request")?;
    let digest = v
        .get("digest")
        .and_then(Value::as_str)
        .ok_or("private_metadata carries no digest")?;
    parse_value(&format!("{id} {digest}"))
}

/// The approval modal for request `r` as the message showed it (`digest`): the facts, the
/// digest the approval will be bound to, and the TOTP code input. For a playbook whose
/// approvals need a passkey (`passkey_url` given), no code is asked: the modal links to the
/// console's page of the request, where the passkey step-up happens.
pub fn approve_modal(
    r: &AccessRequest,
    digest: &Sha256Digest,
    allowed_by: &[PolicyRef],
    passkey_url: Option<&str>,
) -> Value {
    let mut blocks = vec![
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": facts(r, allowed_by), "verbatim": true } }),
        json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": format!(
            "You approve exactly this version of request `{}`: digest `{}`. If the request changes, this approval is refused.",
            r.id, digest.to_hex()
        ) } ] }),
    ];
    let mut submit = Value::Null;
    match passkey_url {
        Some(url) => blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!(
                "This playbook's approvals need a passkey, which only the broker's console can ask for. <{url}|Open the request in the console> to approve it there."
            ) },
        })),
        None => {
            blocks.push(json!({
                "type": "input",
                "block_id": CODE_INPUT.0,
                "label": { "type": "plain_text", "text": "Your breakglass TOTP code" },
                "element": {
                    "type": "plain_text_input",
                    "action_id": CODE_INPUT.1,
                    "min_length": 6,
                    "max_length": 8,
                    "placeholder": { "type": "plain_text", "text": "123456" },
                },
            }));
            submit = json!({ "type": "plain_text", "text": "Approve" });
        }
    }
    let mut view = json!({
        "type": "modal",
        "callback_id": APPROVE_VIEW,
        "private_metadata": approve_metadata(&r.id, digest),
        "title": { "type": "plain_text", "text": "Approve access" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": blocks,
    });
    if let (Some(v), false) = (view.as_object_mut(), submit.is_null()) {
        v.insert("submit".to_owned(), submit);
    }
    view
}

/// The denial modal for request `r`: asks for the reason.
pub fn deny_modal(r: &AccessRequest, digest: &Sha256Digest) -> Value {
    json!({
        "type": "modal",
        "callback_id": DENY_VIEW,
        "private_metadata": approve_metadata(&r.id, digest),
        "title": { "type": "plain_text", "text": "Deny access" },
        "submit": { "type": "plain_text", "text": "Deny" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": format!(
                "Deny request `{}` by `{}` for `{}`?", r.id, r.spec.requester, r.spec.role_arn
            ) } },
            { "type": "input", "block_id": REASON_INPUT.0,
              "label": { "type": "plain_text", "text": "Reason (the requester sees it)" },
              "element": { "type": "plain_text_input", "action_id": REASON_INPUT.1,
                           "multiline": true, "max_length": 1000 } },
        ],
    })
}

/// The request modal of `/breakglass request`: the playbooks `offers` names (id, title), then
/// the role, the account, the duration, the incident and the justification.
pub fn request_modal(offers: &[(String, String)]) -> Value {
    let options: Vec<Value> = offers
        .iter()
        .take(100)
        .map(|(id, title)| {
            json!({
                "text": { "type": "plain_text", "text": clip(&format!("{title} ({id})"), 75) },
                "value": id,
            })
        })
        .collect();
    let text = |id: &str, label: &str, hint: &str, multiline: bool| {
        json!({
            "type": "input",
            "block_id": id,
            "label": { "type": "plain_text", "text": label },
            "hint": { "type": "plain_text", "text": hint },
            "element": { "type": "plain_text_input", "action_id": id, "multiline": multiline },
        })
    };
    json!({
        "type": "modal",
        "callback_id": REQUEST_VIEW,
        "title": { "type": "plain_text", "text": "Request access" },
        "submit": { "type": "plain_text", "text": "Submit" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            { "type": "input", "block_id": "playbook",
              "label": { "type": "plain_text", "text": "Playbook" },
              "element": { "type": "static_select", "action_id": "playbook", "options": options } },
            text("role", "Role", "The role name, e.g. SecurityAnalyst", false),
            text("account", "Account", "The account's name or 12-digit id", false),
            text("duration", "Duration", "e.g. 1h, 30m, 1h30m", false),
            text("incident", "Incident", "The incident id, e.g. INC-1234", false),
            text("justification", "Justification", "Why you need this access", true),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_defuses_mentions_and_links() {
        assert_eq!(
            escape("<!channel> <https://evil|click> & co"),
            "&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co"
        );
    }

    #[test]
    fn button_values_and_metadata_round_trip_and_refuse_junk() {
        let id = RequestId::new("r-1".to_owned()).unwrap();
        let digest = Sha256Digest::from_bytes([7; 32]);
        let (i, d) = parse_metadata(&approve_metadata(&id, &digest)).unwrap();
        assert_eq!((i, d), (id.clone(), digest));
        let (i, d) = parse_value(&format!("{id} {}", digest.to_hex())).unwrap();
        assert_eq!((i, d), (id, digest));
        assert!(parse_value("r-1").is_err());
        assert!(parse_value("r-1 nothex").is_err());
        assert!(parse_metadata("{}").is_err());
        assert!(parse_metadata("not json").is_err());
    }

    #[test]
    fn long_text_is_clipped_to_slack_limits() {
        let long = "x".repeat(5_000);
        let c = clip(&long, SECTION_MAX);
        assert_eq!(c.chars().count(), SECTION_MAX);
        assert!(c.ends_with('…'));
    }
}
