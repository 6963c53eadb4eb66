//! Delivering outbox notifications: the decisions, not the sending.
//!
//! The notifier worker (in the server) claims outbox messages and sends each one to every
//! channel its audience reaches. What this module decides, purely: which channels a message
//! goes to, what each channel receives (webhook JSON, Slack blocks, a Teams Adaptive Card,
//! email text), how the
//! webhook body is signed (HMAC-SHA256 over `timestamp.body`, checked against replay), and
//! when a failed delivery is tried again or given up (dead-lettered).
//!
//! Every message carries an idempotency key (`breakglass-<outbox id>`): delivery is
//! at-least-once, and a receiver that sees the same key twice has seen the same message.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::audit::events::NotificationDeadLettered;
use crate::audit::{Actor, AuditEntry, AuditEvent, Severity};
use crate::canonical::Sha256Digest;
use crate::model::Responder;
use crate::outbox::{Audience, Notification, OutboxMessage};
use crate::ports::Commit;
use crate::present::rfc3339;

mod teams;

pub use teams::{TEAMS_CARD_VERSION, teams_body};

/// A delivery channel, named as the outbox records which ones are done.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Channel {
    /// A generic JSON webhook (the `n`th configured URL), HMAC-signed.
    Webhook {
        /// Its position in the configured list.
        n: usize,
    },
    /// A Slack-compatible incoming webhook.
    Slack,
    /// A Microsoft Teams incoming webhook (a Workflows flow that posts the card it is sent).
    Teams,
    /// The Slack app (Web API): posts and updates the message about each request.
    SlackApp,
    /// The SNS topic.
    Sns,
    /// Email to one address.
    Email {
        /// The recipient.
        to: String,
    },
}

impl Channel {
    /// A stable, human-readable name (`webhook#0`, `slack`, `teams`, `sns`, `email:a@b`).
    pub fn name(&self) -> String {
        match self {
            Channel::Webhook { n } => format!("webhook#{n}"),
            Channel::Slack => "slack".to_owned(),
            Channel::Teams => "teams".to_owned(),
            Channel::SlackApp => "slack-app".to_owned(),
            Channel::Sns => "sns".to_owned(),
            Channel::Email { to } => format!("email:{to}"),
        }
    }
}

/// Which channels are configured, as the router sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channels {
    /// How many generic webhooks.
    pub webhooks: usize,
    /// Whether a Slack webhook is configured.
    pub slack: bool,
    /// Whether a Teams webhook is configured.
    pub teams: bool,
    /// Whether the Slack app is configured.
    pub slack_app: bool,
    /// Whether an SNS topic is configured.
    pub sns: bool,
    /// Whether SMTP is configured.
    pub email: bool,
    /// The security team's addresses (for [`Audience::SecurityTeam`]).
    pub security_team_emails: Vec<String>,
}

/// The channels `audience` reaches. Team channels (webhooks, Slack, Teams, SNS) receive every
/// notification; email goes to the people the audience names: the requester, the members
/// of approver groups (from `responders`), and the security team's addresses.
pub fn route(
    audience: &[Audience],
    channels: &Channels,
    responders: &[Responder],
) -> BTreeSet<Channel> {
    let mut out = BTreeSet::new();
    out.extend((0..channels.webhooks).map(|n| Channel::Webhook { n }));
    if channels.slack {
        out.insert(Channel::Slack);
    }
    if channels.teams {
        out.insert(Channel::Teams);
    }
    if channels.slack_app {
        out.insert(Channel::SlackApp);
    }
    if channels.sns {
        out.insert(Channel::Sns);
    }
    if channels.email {
        for a in audience {
            match a {
                Audience::User(u) => {
                    out.extend(responders.iter().filter(|r| &r.username == u).map(|r| {
                        Channel::Email {
                            to: r.email.clone(),
                        }
                    }));
                }
                Audience::Approvers(groups) => {
                    out.extend(
                        responders
                            .iter()
                            .filter(|r| r.groups.iter().any(|g| groups.contains(g)))
                            .map(|r| Channel::Email {
                                to: r.email.clone(),
                            }),
                    );
                }
                Audience::SecurityTeam => out.extend(
                    channels
                        .security_team_emails
                        .iter()
                        .map(|to| Channel::Email { to: to.clone() }),
                ),
            }
        }
    }
    out
}

/// The channels `notification` goes to: [`route`] for its audience, except that a
/// [`crate::outbox::CHAT_UPDATE_KIND`] notification (a change only a chat message about the
/// request shows) goes to the Slack app alone.
pub fn route_message(
    notification: &Notification,
    channels: &Channels,
    responders: &[Responder],
) -> BTreeSet<Channel> {
    let mut out = route(&notification.audience, channels, responders);
    if notification.kind == crate::outbox::CHAT_UPDATE_KIND {
        out.retain(|c| *c == Channel::SlackApp);
    }
    out
}

/// When to try again, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a delivery is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// The delay after the first failure; it doubles after each one.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::seconds(15),
            max_delay: Duration::hours(1),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(OffsetDateTime),
    /// Give up: dead-letter the delivery.
    DeadLetter,
}

impl RetryPolicy {
    /// The decision after attempt number `attempts` (1 for the first) failed at `now`.
    /// `jitter` in `[0, 1)` spreads retries of many messages: the delay is scaled by
    /// `1 + jitter / 2` (values outside the range are clamped).
    pub fn after_failure(&self, attempts: u32, now: OffsetDateTime, jitter: f64) -> AfterFailure {
        if attempts >= self.max_attempts.max(1) {
            return AfterFailure::DeadLetter;
        }
        let doublings = attempts.saturating_sub(1).min(30);
        let base = self.base_delay.whole_milliseconds().max(1);
        let raw = base.saturating_mul(1_i128 << doublings);
        let capped = raw.min(self.max_delay.whole_milliseconds().max(1));
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 0.999_999)
        } else {
            0.0
        };
        // Milliseconds fit an f64 exactly far beyond any sane max_delay.
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            reason = "delays are at most hours, far inside f64's exact integer range"
        )]
        let delay_ms = (capped as f64 * (1.0 + jitter / 2.0)) as i64;
        AfterFailure::RetryAt(now + Duration::milliseconds(delay_ms))
    }
}

/// What dead-lettering `message` writes: an audit record naming the channels that never
/// took it, and a critical alert to the security team (delivered on whichever channels
/// still work). An alert about a dead letter is itself never re-alerted, so a channel that
/// is down for good cannot cause a loop.
pub fn dead_letter_commit(
    message: &OutboxMessage,
    failed_channels: Vec<String>,
    error: &str,
    at: OffsetDateTime,
) -> Commit {
    let event = AuditEvent::NotificationDeadLettered(NotificationDeadLettered {
        outbox_id: message.id,
        kind: message.notification.kind.clone(),
        audit_seq: message.audit_seq,
        failed_channels: failed_channels.clone(),
        attempts: message.attempts.saturating_add(1),
        error: error.to_owned(),
    });
    let outbox = if message.notification.kind == DEAD_LETTER_KIND {
        Vec::new()
    } else {
        vec![Notification {
            audit_index: 0,
            kind: DEAD_LETTER_KIND.to_owned(),
            severity: Severity::Critical,
            audience: vec![Audience::SecurityTeam],
            subject: format!(
                "notification `{}` (audit #{}) could not be delivered to {}: dead-lettered",
                message.notification.kind,
                message.audit_seq,
                failed_channels.join(", ")
            ),
        }]
    };
    Commit {
        write: None,
        audit: vec![AuditEntry {
            at,
            actor: Actor::System,
            request_version: None,
            event,
        }],
        outbox,
        step_up: None,
    }
}

/// The kind of the alert announcing a dead letter.
pub const DEAD_LETTER_KIND: &str = "delivery_dead_lettered";

/// The idempotency key of an outbox message.
pub fn idempotency_key(message: &OutboxMessage) -> String {
    format!("breakglass-{}", message.id)
}

/// The announced audit record, and the event inside it.
fn record(message: &OutboxMessage) -> (Value, Value) {
    let record: Value = serde_json::from_str(&message.event_body).unwrap_or(Value::Null);
    let event = record.get("event").cloned().unwrap_or(Value::Null);
    (record, event)
}

/// The generic webhook's JSON body: the notification, the event, who caused it, and the
/// whole audit record (with its chain hash, so a receiver can match it to the log).
pub fn webhook_body(message: &OutboxMessage, console_url: &str) -> String {
    let (record, event) = record(message);
    json!({
        "id": idempotency_key(message),
        "kind": message.notification.kind,
        "severity": message.notification.severity.as_str(),
        "subject": message.notification.subject,
        "audit_seq": message.audit_seq,
        "created_at": rfc3339(message.created_at),
        "console_url": console_url,
        "actor": record.get("actor").cloned().unwrap_or(Value::Null),
        "event": event,
        "audit_record": record,
    })
    .to_string()
}

/// A Slack incoming-webhook body: the subject, the event's key facts, and a button that
/// opens the console.
pub fn slack_body(message: &OutboxMessage, console_url: &str) -> String {
    let n = &message.notification;
    let icon = match n.severity {
        Severity::Critical => ":rotating_light:",
        Severity::Notice => ":warning:",
        Severity::Info => ":information_source:",
    };
    let text = format!("{icon} *{}*", crate::chat::slack::escape(&n.subject));
    json!({
        "text": format!("{icon} {}", n.subject),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": text } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": format!(
                "`{}` · severity {} · audit #{} · {}",
                n.kind, n.severity.as_str(), message.audit_seq, rfc3339(message.created_at)
            ) } ] },
            { "type": "actions", "elements": [ {
                "type": "button",
                "text": { "type": "plain_text", "text": "Open in breakglass" },
                "url": console_url,
                "style": if n.severity == Severity::Critical { "danger" } else { "primary" },
            } ] },
        ],
    })
    .to_string()
}

/// An email's subject and plain-text body.
pub fn email(message: &OutboxMessage, console_url: &str) -> (String, String) {
    let n = &message.notification;
    let prefix = if n.severity == Severity::Critical {
        "[breakglass ALERT]"
    } else {
        "[breakglass]"
    };
    let subject = format!("{prefix} {}", n.subject);
    let event = serde_json::to_string_pretty(&record(message).1)
        .unwrap_or_else(|_| message.event_body.clone());
    let body = format!(
        "{}\n\nKind: {}\nSeverity: {}\nAudit record: #{}\nAt: {}\nOpen the console: {}\n\nThe audit event:\n{}\n\nMessage id (idempotency key): {}\n",
        n.subject,
        n.kind,
        n.severity.as_str(),
        message.audit_seq,
        rfc3339(message.created_at),
        console_url,
        event,
        idempotency_key(message),
    );
    (subject, body)
}

/// The name of the signature header the webhook carries.
pub const SIGNATURE_HEADER: &str = "Breakglass-Signature";

/// The signature header value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn sign(secret: &[u8], timestamp: i64, body: &str) -> String {
    let tag: [u8; 32] = signed(secret, timestamp, body)
        .finalize()
        .into_bytes()
        .into();
    // A 256-bit tag, printed the way the project prints 256-bit hashes.
    format!(
        "t={timestamp},v1={}",
        Sha256Digest::from_bytes(tag).to_hex()
    )
}

/// The signing key of the webhook receiver at `url`, derived from the broker's webhook key
/// `master`: the hex HMAC-SHA256 of the receiver's URL under a label. Each receiver is
/// given its own key (`breakglass notify webhook-key URL` prints it), so a receiver, which
/// holds only its own, cannot forge messages to the others, and the broker keeps one
/// secret however many receivers there are.
pub fn receiver_key(master: &[u8], url: &str) -> String {
    #[expect(
        clippy::expect_used,
        reason = "HMAC accepts keys of any length; new_from_slice cannot fail"
    )]
    let mut m = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes any key length");
    m.update(b"breakglass webhook receiver key\n");
    m.update(url.as_bytes());
    let tag: [u8; 32] = m.finalize().into_bytes().into();
    Sha256Digest::from_bytes(tag).to_hex()
}

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=...,v1=...`.
    #[error("the {SIGNATURE_HEADER} header is malformed: expected `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    /// The timestamp is too far from now: a replay, or a badly wrong clock.
    #[error("the signature timestamp is {0} seconds away from now, beyond the tolerance")]
    Stale(i64),
    /// The MAC does not match.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a signature header for `body` received at `now`, allowing `tolerance` of clock
/// difference either way. Receivers use this; the comparison is constant-time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &str,
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Sha256Digest::from_hex(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(SignatureError::Malformed);
    };
    let skew = now.unix_timestamp().saturating_sub(t);
    if skew.abs() > tolerance.whole_seconds() {
        return Err(SignatureError::Stale(skew));
    }
    signed(secret, t, body)
        .verify_slice(v1.as_bytes())
        .map_err(|_| SignatureError::Mismatch)
}

/// The HMAC-SHA256 state over `"<timestamp>.<body>"`, ready to finalize or verify.
fn signed(secret: &[u8], timestamp: i64, body: &str) -> Hmac<Sha256> {
    #[expect(
        clippy::expect_used,
        reason = "HMAC accepts keys of any length; new_from_slice cannot fail"
    )]
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(format!("{timestamp}.").as_bytes());
    m.update(body.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::model::{GroupName, Username};
    use crate::outbox::Notification;

    fn message() -> OutboxMessage {
        OutboxMessage {
            id: 42,
            audit_seq: 7,
            created_at: datetime!(2026-11-21 05:00 UTC),
            notification: Notification {
                audit_index: 0,
                kind: "break_glass_activated".into(),
                severity: Severity::Critical,
                audience: vec![Audience::SecurityTeam],
                subject: "BREAK-GLASS: alice activated <role>".into(),
            },
            event_body: r#"{"seq":7,"actor":"system","event":{"type":"break_glass_activated","requester":"alice"}}"#.into(),
            attempts: 0,
            done_channels: vec![],
            last_error: None,
        }
    }

    fn responder(name: &str, groups: &[&str]) -> Responder {
        Responder {
            username: Username::new(name).unwrap(),
            name: name.into(),
            email: format!("{name}@example.com"),
            emergency_contact: None,
            groups: groups.iter().map(|g| GroupName::new(*g).unwrap()).collect(),
            break_glass_user: false,
        }
    }

    #[test]
    fn signature_round_trips_and_refuses_tampering_and_replay() {
        let now = datetime!(2026-11-21 05:00 UTC);
        let body = webhook_body(&message(), "https://bg.example.com");
        let header = sign(b"s3cret", now.unix_timestamp(), &body);
        let tol = Duration::minutes(5);
        assert_eq!(verify(b"s3cret", &header, &body, now, tol), Ok(()));
        assert_eq!(
            verify(b"other", &header, &body, now, tol),
            Err(SignatureError::Mismatch)
        );
        let tampered = body.replace("alice", "mallory");
        assert_eq!(
            verify(b"s3cret", &header, &tampered, now, tol),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", &header, &body, now + Duration::minutes(6), tol),
            Err(SignatureError::Stale(360))
        );
        assert_eq!(
            verify(b"s3cret", "v1=00", &body, now, tol),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let header = sign(b"Jefe", 0, "what do ya want for nothing?");
        // The signed string is "0." + body, so compare against a MAC of exactly that.
        let mut m = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        m.update(b"0.what do ya want for nothing?");
        let expected = Sha256Digest::from_bytes(m.finalize().into_bytes().into()).to_hex();
        assert_eq!(header, format!("t=0,v1={expected}"));
        let mut m = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            Sha256Digest::from_bytes(m.finalize().into_bytes().into()).to_hex(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn severity_names_are_the_serialized_ones() {
        for s in [Severity::Info, Severity::Notice, Severity::Critical] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    /// What the README promises: by default a message is dead-lettered about 2 to 3 hours
    /// after its first failed attempt, whatever the jitter.
    #[test]
    fn the_default_policy_dead_letters_after_two_to_three_hours() {
        let p = RetryPolicy::default();
        let start = datetime!(2026-11-21 05:00 UTC);
        for jitter in [0.0, 0.999_999] {
            let mut now = start;
            let mut attempts = 1;
            while let AfterFailure::RetryAt(next) = p.after_failure(attempts, now, jitter) {
                now = next;
                attempts += 1;
            }
            assert_eq!(attempts, 10);
            let hours = (now - start).as_seconds_f64() / 3600.0;
            assert!((2.0..3.2).contains(&hours), "jitter {jitter}: {hours} h");
        }
    }

    #[test]
    fn backoff_doubles_caps_and_dead_letters() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::seconds(10),
            max_delay: Duration::seconds(60),
        };
        let now = datetime!(2026-11-21 05:00 UTC);
        let at = |n| match p.after_failure(n, now, 0.0) {
            AfterFailure::RetryAt(t) => Some((t - now).whole_seconds()),
            AfterFailure::DeadLetter => None,
        };
        assert_eq!(
            (1..=5).map(at).collect::<Vec<_>>(),
            vec![Some(10), Some(20), Some(40), Some(60), None]
        );
        assert_eq!(
            p.after_failure(1, now, 0.5),
            AfterFailure::RetryAt(now + Duration::milliseconds(12_500))
        );
        assert_eq!(
            p.after_failure(1, now, f64::NAN),
            AfterFailure::RetryAt(now + Duration::seconds(10))
        );
    }

    #[test]
    fn routing_reaches_team_channels_and_the_right_people() {
        let channels = Channels {
            webhooks: 2,
            slack: true,
            teams: true,
            slack_app: false,
            sns: true,
            email: true,
            security_team_emails: vec!["soc@example.com".into()],
        };
        let people = [
            responder("alice", &["responders"]),
            responder("bob", &["approvers"]),
            responder("carol", &["approvers", "responders"]),
        ];
        let names = |a: &[Audience]| -> Vec<String> {
            route(a, &channels, &people)
                .iter()
                .map(Channel::name)
                .collect()
        };
        assert_eq!(
            names(&[Audience::Approvers(vec![
                GroupName::new("approvers").unwrap()
            ])]),
            vec![
                "webhook#0",
                "webhook#1",
                "slack",
                "teams",
                "sns",
                "email:bob@example.com",
                "email:carol@example.com"
            ]
        );
        assert_eq!(
            names(&[
                Audience::User(Username::new("alice").unwrap()),
                Audience::SecurityTeam
            ]),
            vec![
                "webhook#0",
                "webhook#1",
                "slack",
                "teams",
                "sns",
                "email:alice@example.com",
                "email:soc@example.com"
            ]
        );
        assert!(route(&[Audience::SecurityTeam], &Channels::default(), &people).is_empty());
    }

    #[test]
    fn bodies_carry_the_key_facts() {
        let m = message();
        let w: Value = serde_json::from_str(&webhook_body(&m, "https://bg")).unwrap();
        assert_eq!(w["id"], "breakglass-42");
        assert_eq!(w["kind"], "break_glass_activated");
        assert_eq!(w["severity"], "critical");
        assert_eq!(w["event"]["requester"], "alice");
        let s: Value = serde_json::from_str(&slack_body(&m, "https://bg")).unwrap();
        assert!(
            s["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("&lt;role&gt;")
        );
        assert_eq!(s["blocks"][2]["elements"][0]["url"], "https://bg");
        let (subject, body) = email(&m, "https://bg");
        assert!(subject.starts_with("[breakglass ALERT] BREAK-GLASS"));
        assert!(body.contains("breakglass-42") && body.contains("\"requester\": \"alice\""));
    }
}
