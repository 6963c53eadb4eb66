//! Notifications: who must hear about which audit event.
//!
//! Each transition's events are mapped here to notifications, which the store writes to its
//! outbox in the same transaction as the events themselves, so a committed event cannot lose
//! its alert. A worker (in the server) delivers them with retries.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::events::AccountChange;
use crate::audit::{AuditEvent, Severity};
use crate::model::{GroupName, Username};
use crate::request::{AccessRequest, ReviewOutcome, Status};

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The members of these approver groups.
    Approvers(Vec<GroupName>),
    /// One person.
    User(Username),
    /// The security team's alert channels (every configured channel).
    SecurityTeam,
}

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The index, within its commit, of the audit entry it announces.
    pub audit_index: usize,
    /// A stable name for templates and routing (e.g. `approval_needed`).
    pub kind: String,
    /// How loudly to announce it.
    pub severity: Severity,
    /// Who to tell.
    pub audience: Vec<Audience>,
    /// A one-line summary.
    pub subject: String,
}

/// An outbox row as the delivery worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The outbox row id.
    pub id: i64,
    /// The audit record the message announces.
    pub audit_seq: u64,
    /// When it was written.
    pub created_at: OffsetDateTime,
    /// The message.
    pub notification: Notification,
    /// The announced audit record's canonical JSON body.
    pub event_body: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The channels (by [`crate::delivery::Channel::name`]) that already took it.
    pub done_channels: Vec<String>,
    /// The last delivery error, if an attempt failed.
    pub last_error: Option<String>,
}

/// A message with how its delivery ended so far (the break-glass log's "which alerts went
/// out, where and when").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentNotification {
    /// The message, with the channels that took it, its attempts and its last error.
    pub message: OutboxMessage,
    /// When every channel had taken it.
    pub delivered_at: Option<OffsetDateTime>,
    /// When it was given up on.
    pub dead_at: Option<OffsetDateTime>,
}

/// A message not yet delivered nor dead-lettered, with when the worker tries it next: the
/// notifications page's "pending" (no attempt yet) and "retrying" (an attempt failed) rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The message, with its attempts so far and last error.
    pub message: OutboxMessage,
    /// When its next delivery attempt is due.
    pub next_attempt_at: OffsetDateTime,
}

/// The notifications for the events of one transition of `request` (its state after the
/// transition).
pub fn notifications(request: Option<&AccessRequest>, events: &[AuditEvent]) -> Vec<Notification> {
    let approvers = request
        .map(|r| r.approver_groups.clone())
        .unwrap_or_default();
    let requester = request.map(|r| r.spec.requester.clone());
    let mut out = Vec::new();
    // A drill request's events concern drill identities only: nobody is told (the drill
    // proves the channels with one alert of its own, `drill_alert`).
    if request.is_some_and(|r| r.kind == crate::request::RequestKind::Drill) {
        return out;
    }
    for (index, event) in events.iter().enumerate() {
        let mut push = |kind: &str, audience: Vec<Audience>, subject: String| {
            out.push(Notification {
                audit_index: index,
                kind: kind.to_owned(),
                severity: event.severity(),
                audience,
                subject,
            });
        };
        let to_requester = || {
            requester
                .clone()
                .map(Audience::User)
                .into_iter()
                .collect::<Vec<_>>()
        };
        match event {
            AuditEvent::RequestSubmitted(e)
                if request.is_some_and(|r| r.status == Status::Pending) =>
            {
                push(
                    "approval_needed",
                    vec![Audience::Approvers(approvers.clone())],
                    match &e.allows {
                        Some(allows) => format!(
                            "{} requests {} in {} for incident {}; it {allows}",
                            e.requester, e.role_arn, e.account, e.incident
                        ),
                        None => format!(
                            "{} requests {} in {} for incident {}{}",
                            e.requester,
                            e.role_arn,
                            e.account,
                            e.incident,
                            if e.session_policy.is_some() {
                                " (session policy narrowed by the requester)"
                            } else {
                                ""
                            }
                        ),
                    },
                );
            }
            AuditEvent::RequestApproved(e) => push(
                "request_approved",
                to_requester(),
                format!("request {} approved", e.request),
            ),
            AuditEvent::RequestDenied(e) => push(
                "request_denied",
                to_requester(),
                format!("request {} denied by {}", e.request, e.by),
            ),
            AuditEvent::RequestTimedOut(e) => push(
                "request_timed_out",
                to_requester(),
                format!("request {} timed out without a decision", e.request),
            ),
            AuditEvent::BreakGlassActivated(e) => push(
                "break_glass_activated",
                vec![
                    Audience::SecurityTeam,
                    Audience::Approvers(approvers.clone()),
                ],
                format!(
                    "BREAK-GLASS: {} activated {} in {} for incident {}",
                    e.requester, e.role_arn, e.account, e.incident
                ),
            ),
            AuditEvent::ActionRefused(e) if e.break_glass => push(
                "break_glass_refused",
                vec![Audience::SecurityTeam],
                format!("refused break-glass attempt: {}", e.reason),
            ),
            AuditEvent::ExtensionRequested(e)
                if request
                    .and_then(|r| r.grant.as_ref())
                    .is_some_and(|g| g.pending_extension.is_some()) =>
            {
                push(
                    "extension_approval_needed",
                    vec![Audience::Approvers(approvers.clone())],
                    format!(
                        "extension of grant {} by {} seconds needs approval",
                        e.grant, e.add_seconds
                    ),
                );
            }
            AuditEvent::GrantExtended(e) => push(
                "grant_extended",
                to_requester(),
                format!("grant {} now ends at {}", e.grant, e.new_end),
            ),
            AuditEvent::GrantRevoked(e) => {
                let mut audience = to_requester();
                audience.push(Audience::SecurityTeam);
                push(
                    "access_revoked",
                    audience,
                    format!("access of request {} revoked by {}", e.request, e.by),
                );
                if request.is_some_and(|r| r.review == Some(crate::request::Review::Required)) {
                    push(
                        "review_required",
                        vec![Audience::Approvers(approvers.clone())],
                        format!(
                            "break-glass use {} revoked: post-incident review required",
                            e.request
                        ),
                    );
                }
            }
            // Every failure is audited; the team is paged on the first of a run and then on
            // the 2nd, 4th, 8th... so a cut-off retried with backoff stays loud without
            // flooding the channels.
            AuditEvent::RevocationFailed(e) if e.attempt.is_power_of_two() => push(
                "revocation_failed",
                vec![Audience::SecurityTeam],
                format!(
                    "CUT-OFF FAILED: sessions of {}{} are still live (attempt {}): {}",
                    e.role_arn,
                    e.request
                        .as_ref()
                        .map(|r| format!(" (request {r})"))
                        .unwrap_or_default(),
                    e.attempt,
                    e.problem
                ),
            ),
            AuditEvent::GameDayStarted(e) => push(
                "game_day_started",
                vec![Audience::SecurityTeam],
                format!(
                    "[GAME DAY] {} opened game day {}: {}. Requests under this incident id are a drill",
                    e.by, e.incident, e.scenario
                ),
            ),
            AuditEvent::GameDayFinished(e) => push(
                "game_day_finished",
                vec![Audience::SecurityTeam],
                format!(
                    "[GAME DAY] {} finished game day {}: {} requests, {} did not reach access",
                    e.by, e.incident, e.requests, e.failed
                ),
            ),
            AuditEvent::UnbrokeredUseDetected(e) if e.alerts() => {
                push("unbrokered_use", vec![Audience::SecurityTeam], {
                    let mut text = match &e.record {
                        Some(record) => format!(
                            "CRITICAL: {} at {} (CloudTrail event {}); retroactive break-glass record {record} needs a post-incident review",
                            e.summary, e.event_time, e.event_id
                        ),
                        None => format!(
                            "CRITICAL: {} at {} (CloudTrail event {}); no grant explains it",
                            e.summary, e.event_time, e.event_id
                        ),
                    };
                    if e.in_the_hour > crate::activity::ALERTS_PER_HOUR {
                        text.push_str(&format!(
                            ". {} unbrokered-use findings began in the last hour: past {} only every doubling is alerted, all are on the findings page",
                            e.in_the_hour,
                            crate::activity::ALERTS_PER_HOUR
                        ));
                    }
                    text
                })
            }
            AuditEvent::DrillAlertSent(e) => push(
                "drill_alert",
                vec![Audience::SecurityTeam],
                format!(
                    "DRILL (no action needed): {} {} is proving that this channel delivers",
                    e.what, e.run
                ),
            ),
            AuditEvent::DrillCompleted(e) if e.alerted => push(
                "drill_failed",
                vec![Audience::SecurityTeam],
                format!(
                    "DRILL FAILED: {} of {} steps of drill {} failed: {}",
                    e.failed,
                    e.steps,
                    e.run,
                    e.findings
                        .first()
                        .map_or("see the drill page", String::as_str)
                ),
            ),
            AuditEvent::RoleSessionsRevoked(e) => push(
                "role_sessions_revoked",
                vec![Audience::SecurityTeam],
                format!(
                    "every session of {} issued before {} revoked by {}",
                    e.role_arn, e.cutoff, e.by
                ),
            ),
            AuditEvent::GrantExpired(e)
                if request.is_some_and(|r| r.review == Some(crate::request::Review::Required)) =>
            {
                push(
                    "review_required",
                    vec![Audience::Approvers(approvers.clone())],
                    format!(
                        "break-glass use {} ended: post-incident review required",
                        e.request
                    ),
                );
            }
            AuditEvent::GrantExpiring(e) => push(
                "grant_expiring",
                to_requester(),
                format!(
                    "grant {} of request {} ends at {}: extend it or finish up",
                    e.grant, e.request, e.end
                ),
            ),
            AuditEvent::ReviewOverdue(e) => push(
                "review_overdue",
                vec![
                    Audience::Approvers(approvers.clone()),
                    Audience::SecurityTeam,
                ],
                format!(
                    "post-incident review of break-glass use {} by {} is overdue since {}",
                    e.request, e.requester, e.due
                ),
            ),
            AuditEvent::TotpEnrolled(e) => push(
                "authenticator_enrolled",
                vec![Audience::SecurityTeam],
                format!(
                    "account `{}`: a TOTP authenticator was enrolled (every earlier session ended)",
                    e.username
                ),
            ),
            AuditEvent::PasskeyEnrolled(e) => push(
                "authenticator_enrolled",
                vec![Audience::SecurityTeam],
                format!(
                    "account `{}`: a passkey (\"{}\") was enrolled",
                    e.username, e.name
                ),
            ),
            AuditEvent::PasskeyRemoved(e) => push(
                "account_changed",
                vec![Audience::SecurityTeam],
                format!("account `{}`: a passkey was removed", e.username),
            ),
            AuditEvent::AuditChainTampered(e) => push(
                "audit_chain_tampered",
                vec![Audience::SecurityTeam],
                format!(
                    "AUDIT LOG TAMPERED: {} (anchors in {}); anchoring has stopped. Run `breakglass audit verify --anchor-bucket` and investigate who can write the broker's database.",
                    e.problem, e.location
                ),
            ),
            AuditEvent::LocalSignIn(e) => push(
                "local_sign_in",
                vec![Audience::SecurityTeam],
                format!(
                    "`{}` signed in with a local account from {}{}: the identity provider was not used",
                    e.username,
                    e.address,
                    if e.break_glass_only {
                        " (break-glass, review and revoke only)"
                    } else {
                        ""
                    }
                ),
            ),
            AuditEvent::AccountChanged(e) => push(
                "account_changed",
                vec![Audience::SecurityTeam],
                format!(
                    "account `{}`: {}",
                    e.username,
                    match e.change {
                        AccountChange::Disabled => "disabled",
                        AccountChange::Enabled => "enabled again",
                        AccountChange::TokensRevoked => "every token and console session revoked",
                        AccountChange::SecondFactorReset => "second factors reset",
                        AccountChange::PasswordChanged => "password changed",
                        AccountChange::EnrolmentStarted =>
                            "a new TOTP authenticator is being enrolled",
                        AccountChange::Invited => "invited (a one-time link to set the password)",
                        AccountChange::InvitationAccepted => "invitation used: password set",
                    }
                ),
            ),
            // The identity provider vouched for someone the broker refuses: a person outside
            // the responders, or a disabled account, trying the SSO door.
            AuditEvent::SsoSignInRefused(e) => push(
                "sso_sign_in_refused",
                vec![Audience::SecurityTeam],
                format!(
                    "SSO sign-in of `{}` ({}) from {} refused: {}",
                    e.subject,
                    e.email.as_deref().unwrap_or("no email"),
                    e.address,
                    e.reason
                ),
            ),
            AuditEvent::ReviewCompleted(e) if e.outcome == ReviewOutcome::Inappropriate => push(
                "review_flagged",
                vec![Audience::SecurityTeam],
                format!(
                    "review of break-glass use {} found it inappropriate",
                    e.request
                ),
            ),
            AuditEvent::SecondFactorLockedOut(e)
                if e.lockouts >= crate::accounts::LOCKOUTS_ALERT =>
            {
                push(
                    "second_factor_locked_out",
                    vec![Audience::SecurityTeam],
                    format!(
                        "{} wrong second-factor codes in a row for {}: locked until {} ({} lockouts in a row)",
                        e.failures, e.username, e.until, e.lockouts
                    ),
                );
            }
            AuditEvent::ChatLinked(e) => push(
                "account_changed",
                vec![Audience::SecurityTeam, Audience::User(e.username.clone())],
                format!(
                    "account `{}`: {} user {} (workspace {}) linked; it may now approve and request from {} with this account's second factor",
                    e.username, e.platform, e.chat_user, e.team, e.platform
                ),
            ),
            AuditEvent::ChatUnlinked(e) => push(
                "account_changed",
                vec![Audience::SecurityTeam],
                format!(
                    "account `{}`: {} user {} (workspace {}) unlinked",
                    e.username, e.platform, e.chat_user, e.team
                ),
            ),
            // Changes that reach nobody by mail, but that a chat message about the request
            // shows (who approved so far, the grant's end, a new digest, a withdrawal): only
            // chat channels take these (`delivery::route_message`).
            AuditEvent::ApprovalRecorded(_)
            | AuditEvent::RequestAmended(_)
            | AuditEvent::RequestCancelled(_)
            | AuditEvent::GrantActivated(_)
            | AuditEvent::ExtensionApprovalRecorded(_) => push(
                CHAT_UPDATE_KIND,
                Vec::new(),
                format!(
                    "request {} changed",
                    event.request().map_or("?", |r| r.as_str())
                ),
            ),
            _ => {}
        }
    }
    // A game day's requests are real, but a drill: every message about them says so.
    if request.is_some_and(|r| crate::game_day::is_game_day(&r.spec.incident)) {
        for n in &mut out {
            n.subject = format!("[GAME DAY] {}", n.subject);
        }
    }
    out
}

/// The kind of a notification only chat channels take: a change the message posted about a
/// request must show.
pub const CHAT_UPDATE_KIND: &str = "chat_update";
