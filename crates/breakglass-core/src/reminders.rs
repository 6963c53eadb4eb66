//! Reminders: notifications that no transition triggers, only the passing of time.
//!
//! A grant about to end (its requester is told 10 minutes before, once per end time, so an
//! extension earns a new warning) and a break-glass review left undone (its approvers and
//! the security team are told once it is overdue). Each reminder carries a key; the store
//! commits a reminder's audit record and notification only if its key was never used, so a
//! restart or a second replica never sends it twice.

use time::{Duration, OffsetDateTime};

use crate::audit::events::{GrantExpiring, ReviewOverdue};
use crate::audit::{Actor, AuditEntry, AuditEvent};
use crate::outbox::notifications;
use crate::ports::Commit;
use crate::request::{AccessRequest, Review, Status};

/// How long before a grant's end its requester is warned.
pub const EXPIRY_WARNING: Duration = Duration::minutes(10);

/// A reminder to commit once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// Unique per reminder (`grant_expiring:<grant>:<end>`, `review_overdue:<request>`).
    pub key: String,
    /// The audit record and its notification.
    pub commit: Commit,
}

/// The reminders due at `now` for `requests`; a review is overdue `review_due` after the
/// grant ended.
pub fn due(requests: &[AccessRequest], now: OffsetDateTime, review_due: Duration) -> Vec<Reminder> {
    let mut out = Vec::new();
    for r in requests {
        let Some(grant) = &r.grant else { continue };
        if r.status == Status::Active && grant.end > now && grant.end - now <= EXPIRY_WARNING {
            let event = AuditEvent::GrantExpiring(GrantExpiring {
                request: r.id.clone(),
                grant: grant.id.clone(),
                requester: r.spec.requester.clone(),
                end: grant.end,
            });
            out.push(reminder(
                format!("grant_expiring:{}:{}", grant.id, grant.end.unix_timestamp()),
                r,
                event,
                now,
            ));
        }
        let ended = match &r.status {
            Status::Expired { at } | Status::Revoked { at, .. } => Some(*at),
            _ => None,
        };
        if let (Some(ended), Some(Review::Required)) = (ended, &r.review) {
            let due = ended + review_due;
            if now >= due {
                let event = AuditEvent::ReviewOverdue(ReviewOverdue {
                    request: r.id.clone(),
                    requester: r.spec.requester.clone(),
                    ended,
                    due,
                });
                out.push(reminder(format!("review_overdue:{}", r.id), r, event, now));
            }
        }
    }
    out
}

fn reminder(
    key: String,
    request: &AccessRequest,
    event: AuditEvent,
    now: OffsetDateTime,
) -> Reminder {
    let outbox = notifications(Some(request), std::slice::from_ref(&event));
    Reminder {
        key,
        commit: Commit {
            write: None,
            audit: vec![AuditEntry {
                at: now,
                actor: Actor::System,
                request_version: None,
                event,
            }],
            outbox,
            step_up: None,
        },
    }
}
