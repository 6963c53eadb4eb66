//! How loudly a refused break-glass attempt is announced.
//!
//! Every refused attempt is audited, but a critical page to the whole security team is
//! something any signed-in user could otherwise send at will. So a refusal alerts only when
//! it comes from a responder (anyone else's is audited only: they could never have
//! activated anything), and at most once per [`ALERT_WINDOW`] per user; the refusals in
//! between are folded into the next alert, which says how many there were.
//!
//! The fold is kept in memory, per process: a restart or another replica may send one more
//! alert, never fewer than one per window for a user who keeps trying. Bounded: at most
//! [`MAX_TRACKED`] users are tracked; past that, users whose window has passed are
//! forgotten first, then the longest-quiet.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use crate::model::Username;

/// The shortest time between two alerts for one user's refused break-glass attempts.
pub const ALERT_WINDOW: Duration = Duration::minutes(10);

/// Users whose alerts are tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// What to do with one refused attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// Alert, saying how many attempts since the previous alert were folded into this one.
    Alert {
        /// Refused attempts audited without an alert since the previous alert.
        folded: u64,
        /// When the previous alert was sent (`None`: none is remembered).
        since: Option<OffsetDateTime>,
    },
    /// Audit only: an alert for this user went out less than [`ALERT_WINDOW`] ago.
    Fold,
}

/// The alerts sent for refused break-glass attempts, per user.
#[derive(Debug, Default)]
pub struct RefusalAlerts {
    by_user: HashMap<Username, Sent>,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    at: OffsetDateTime,
    folded: u64,
}

impl RefusalAlerts {
    /// Notes a refused attempt by `user` at `now` and says whether it alerts.
    pub fn note(&mut self, user: &Username, now: OffsetDateTime) -> Announce {
        if let Some(sent) = self.by_user.get_mut(user) {
            if now - sent.at < ALERT_WINDOW {
                sent.folded = sent.folded.saturating_add(1);
                return Announce::Fold;
            }
            let announce = Announce::Alert {
                folded: sent.folded,
                since: Some(sent.at),
            };
            *sent = Sent { at: now, folded: 0 };
            return announce;
        }
        if self.by_user.len() >= MAX_TRACKED {
            self.by_user.retain(|_, s| now - s.at < ALERT_WINDOW);
        }
        if self.by_user.len() >= MAX_TRACKED
            && let Some(oldest) = self
                .by_user
                .iter()
                .min_by_key(|(_, s)| s.at)
                .map(|(u, _)| u.clone())
        {
            self.by_user.remove(&oldest);
        }
        self.by_user
            .insert(user.clone(), Sent { at: now, folded: 0 });
        Announce::Alert {
            folded: 0,
            since: None,
        }
    }

    /// Users tracked now.
    pub fn tracked(&self) -> usize {
        self.by_user.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: &str) -> Username {
        Username::new(n).unwrap()
    }

    #[test]
    fn a_flood_of_refusals_alerts_once_per_window_with_the_count() {
        let mut a = RefusalAlerts::default();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let u = user("mallory");
        assert_eq!(
            a.note(&u, t0),
            Announce::Alert {
                folded: 0,
                since: None
            }
        );
        for i in 1..=500 {
            assert_eq!(a.note(&u, t0 + Duration::seconds(i)), Announce::Fold);
        }
        // Another user is not held back by mallory's flood.
        assert!(matches!(a.note(&user("carol"), t0), Announce::Alert { .. }));
        assert_eq!(
            a.note(&u, t0 + ALERT_WINDOW),
            Announce::Alert {
                folded: 500,
                since: Some(t0)
            }
        );
        assert_eq!(a.note(&u, t0 + ALERT_WINDOW), Announce::Fold);
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut a = RefusalAlerts::default();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        for i in 0..(MAX_TRACKED + 50) {
            let at = t0 + Duration::milliseconds(i64::try_from(i).unwrap());
            a.note(&user(&format!("u{i}")), at);
        }
        assert_eq!(a.tracked(), MAX_TRACKED);
    }
}
