//! What a responder may ask for: every deployed role copy of every playbook, each checked
//! by the very admission checks a submission and a break-glass activation make (the catalog,
//! the Cedar rules, the quorum), so the answer cannot drift from what `submit` accepts.

use time::Duration;

use super::create::{check_break_glass, check_submit};
use super::transition::{Env, NewRequest};
use crate::model::{AccountId, IncidentId, Playbook, RoleName, Username};

/// The incident an offer is checked for: the rules see this in `context.incident`, so a
/// hand-written policy that looks at the incident decides offers as it would a request
/// without a meaningful incident id.
const OFFER_INCIDENT: &str = "-";

/// One playbook and what of it a responder may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The playbook.
    pub playbook: Playbook,
    /// The role copies of it the responder may request or activate, in catalog order.
    pub targets: Vec<Target>,
}

/// One role copy of a playbook and how long the responder may have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The role.
    pub role: RoleName,
    /// The account of this copy.
    pub account: AccountId,
    /// The account's name in the catalog (when the catalog lists the account).
    pub account_name: Option<String>,
    /// The longest grant the responder may request for approval (`None`: may not).
    pub request: Option<Duration>,
    /// The longest grant the responder may activate as break-glass with a step-up (`None`:
    /// may not).
    pub break_glass: Option<Duration>,
}

/// The longest duration between the settings' minimum and `max` that `allowed` accepts,
/// whole minutes apart (`max` itself first, the common case): the rules may narrow a
/// playbook's maximum, and are assumed to accept any shorter duration than one they accept.
fn longest(min: Duration, max: Duration, allowed: impl Fn(Duration) -> bool) -> Option<Duration> {
    if allowed(max) {
        return Some(max);
    }
    if min > max || !allowed(min) {
        return None;
    }
    // Invariant: `allowed(low)`, and nothing at `high` or above was found allowed.
    let (mut low, mut high) = (min.whole_minutes(), max.whole_minutes());
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if allowed(Duration::minutes(mid)) {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(Duration::minutes(low).max(min))
}

/// What `requester` may ask for, per playbook (playbooks with nothing to offer are left
/// out), as of `env`.
pub fn offers(requester: &Username, env: &Env<'_>) -> Vec<Offer> {
    let Ok(incident) = IncidentId::new(OFFER_INCIDENT.to_owned()) else {
        return Vec::new();
    };
    let catalog = env.rules.catalog();
    let min = env.settings.min_duration;
    let mut out = Vec::new();
    for playbook in &catalog.playbooks {
        let mut targets = Vec::new();
        for role in catalog
            .roles
            .iter()
            .filter(|r| playbook.roles.contains(&r.name))
        {
            let ask = |duration: Duration| NewRequest {
                requester: requester.clone(),
                playbook: playbook.id.clone(),
                role: role.name.clone(),
                account: role.account.clone(),
                duration,
                incident: incident.clone(),
                justification: "what may I ask for".to_owned(),
            };
            let max = playbook.max_duration;
            let request = longest(min, max, |d| check_submit(&ask(d), env).is_ok());
            let break_glass = longest(min, max, |d| check_break_glass(&ask(d), env).is_ok());
            if request.is_none() && break_glass.is_none() {
                continue;
            }
            targets.push(Target {
                role: role.name.clone(),
                account: role.account.clone(),
                account_name: catalog
                    .accounts
                    .iter()
                    .find(|a| a.id == role.account)
                    .map(|a| a.name.clone()),
                request,
                break_glass,
            });
        }
        if !targets.is_empty() {
            out.push(Offer {
                playbook: playbook.clone(),
                targets,
            });
        }
    }
    out
}

/// The playbooks `approver` may approve a request of, in catalog order: for each role copy
/// it grants, the rules are asked exactly as an approval asks them, for a request by each
/// other responder (an approver never approves their own), and a playbook is listed when
/// any such request is one they may approve.
pub fn approvable(approver: &Username, env: &Env<'_>) -> Vec<crate::model::PlaybookId> {
    let Ok(incident) = IncidentId::new(OFFER_INCIDENT.to_owned()) else {
        return Vec::new();
    };
    let catalog = env.rules.catalog();
    let mut out = Vec::new();
    for playbook in &catalog.playbooks {
        let allowed = catalog.grantable(playbook).any(|role| {
            catalog
                .responders
                .iter()
                .filter(|r| &r.username != approver)
                .any(|requester| {
                    let ask = crate::rules::Ask {
                        requester: requester.username.clone(),
                        role_arn: role.arn.clone(),
                        account: role.account.clone(),
                        duration: playbook.max_duration,
                        incident: incident.clone(),
                        mfa: false,
                        break_glass: false,
                    };
                    env.rules
                        .decide(approver, crate::rules::Action::Approve, &playbook.id, &ask)
                        .allowed
                })
        });
        if allowed {
            out.push(playbook.id.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_allowed_duration_is_found_to_the_minute() {
        let (min, max) = (Duration::minutes(15), Duration::hours(4));
        assert_eq!(longest(min, max, |_| true), Some(max));
        assert_eq!(longest(min, max, |_| false), None);
        let cap = Duration::minutes(97);
        assert_eq!(longest(min, max, |d| d <= cap), Some(cap));
        assert_eq!(longest(min, max, |d| d <= Duration::minutes(15)), Some(min));
    }
}
