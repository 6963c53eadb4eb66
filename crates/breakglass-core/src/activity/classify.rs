//! One event against what is known of the grants: which grant made it, or which unbrokered
//! use it is. See the module above for the rules.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use super::{
    CHAIN_MARGIN, FindingDraft, FindingKind, Link, LinkedBy, Observed, Principal, SIGN_IN_SKEW,
    Watch, role_key,
};
use crate::model::{Catalog, GrantId, RequestId};

/// A grant (or a retroactive break-glass record) as the linker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownGrant {
    pub request: RequestId,
    pub grant: GrantId,
    /// The role its sessions are of.
    pub role_arn: String,
    /// The responder: the `SourceIdentity` of its sessions.
    pub requester: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    /// The access keys STS issued to it (recorded at issuance).
    pub keys: Vec<String>,
    /// For a retroactive break-glass record: the IAM user whose sign-in opened it.
    pub break_glass_user: Option<String>,
}

/// What the linker knows: the catalog's roles, what the broker watches for, and the grants
/// that events may belong to (loaded by the application for each batch).
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// `(account, role name)` of every brokered role → whether it is a break-glass role.
    roles: HashMap<(String, String), bool>,
    watch: Watch,
    grants: HashMap<String, KnownGrant>,
    keys: HashMap<String, String>,
    by_responder: HashMap<String, Vec<String>>,
    by_user: HashMap<String, Vec<String>>,
    /// Break-glass IAM users that may sign in (`<responder><suffix>`), lowercased.
    break_glass_users: HashSet<String>,
    /// The responders' usernames (their sessions' source identity).
    responders: HashSet<String>,
    /// Retroactive records whose review is done: closed to later events.
    reviewed: HashSet<RequestId>,
}

/// What [`classify`] decided for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The grant that made it.
    pub link: Option<Link>,
    /// An access key that now belongs to the linked grant (a session chained from it).
    pub learned_key: Option<String>,
    /// Unbrokered use.
    pub finding: Option<FindingDraft>,
}

impl Known {
    /// Knows the catalog's roles and responders and `watch`, and no grant yet.
    pub fn new(catalog: &Catalog, watch: Watch) -> Self {
        let roles = catalog
            .roles
            .iter()
            .map(|r| {
                (
                    (r.account.as_str().to_owned(), r.name.as_str().to_owned()),
                    r.break_glass,
                )
            })
            .collect();
        let break_glass_users = catalog
            .responders
            .iter()
            .filter(|r| r.break_glass_user)
            .map(|r| {
                format!("{}{}", r.username.as_str(), watch.break_glass_user_suffix).to_lowercase()
            })
            .collect();
        let responders = catalog
            .responders
            .iter()
            .map(|r| r.username.as_str().to_owned())
            .collect();
        Known {
            roles,
            watch,
            break_glass_users,
            responders,
            ..Known::default()
        }
    }

    /// Closes retroactive record `record`, reviewed: no later event joins it or its
    /// finding, so nothing done after a review escapes one (see [`Known::is_reviewed`]).
    pub fn add_reviewed(&mut self, record: RequestId) {
        self.reviewed.insert(record);
    }

    /// Whether retroactive record `record` was reviewed.
    pub fn is_reviewed(&self, record: &RequestId) -> bool {
        self.reviewed.contains(record)
    }

    /// Adds a grant (or retroactive record) events may belong to.
    pub fn add_grant(&mut self, grant: KnownGrant) {
        let id = grant.grant.as_str().to_owned();
        for key in &grant.keys {
            self.keys.insert(key.clone(), id.clone());
        }
        self.by_responder
            .entry(grant.requester.clone())
            .or_default()
            .push(id.clone());
        if let Some(user) = &grant.break_glass_user {
            self.by_user
                .entry(user.to_lowercase())
                .or_default()
                .push(id.clone());
        }
        self.grants.insert(id, grant);
    }

    /// Records that `key` belongs to grant `grant` (a chained session's).
    pub fn add_key(&mut self, key: &str, grant: &GrantId) {
        self.keys.insert(key.to_owned(), grant.as_str().to_owned());
    }

    /// The grant with this id.
    pub fn grant(&self, id: &str) -> Option<&KnownGrant> {
        self.grants.get(id)
    }

    /// The grant an access key belongs to.
    pub fn grant_of_key(&self, key: &str) -> Option<&KnownGrant> {
        self.keys.get(key).and_then(|id| self.grants.get(id))
    }

    /// Whether `arn` (a role or assumed-role ARN, any path) is a brokered role.
    pub fn brokered(&self, arn: &str) -> bool {
        role_key(arn).is_some_and(|(a, n)| self.roles.contains_key(&(a.to_owned(), n.to_owned())))
    }

    /// Whether `arn` is a break-glass role of the catalog.
    fn break_glass_role(&self, arn: &str) -> bool {
        role_key(arn).is_some_and(|(a, n)| {
            self.roles
                .get(&(a.to_owned(), n.to_owned()))
                .copied()
                .unwrap_or(false)
        })
    }

    /// Whether `name` is a break-glass IAM user: a configured one, or any name with the
    /// break-glass suffix (a user someone created by hand is the emergency path too).
    pub fn is_break_glass_user(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        let suffix = self.watch.break_glass_user_suffix.to_lowercase();
        self.break_glass_users.contains(&lower) || (!suffix.is_empty() && lower.ends_with(&suffix))
    }

    /// The retroactive record open for break-glass user `user` at `at`.
    pub fn record_of(&self, user: &str, at: OffsetDateTime) -> Option<&KnownGrant> {
        self.by_user
            .get(&user.to_lowercase())?
            .iter()
            .filter_map(|id| self.grants.get(id))
            .filter(|g| {
                at.checked_add(SIGN_IN_SKEW)
                    .is_some_and(|late| g.start <= late)
                    && at <= g.end
            })
            .max_by_key(|g| g.start)
    }

    /// The retroactive record a sign-in of break-glass user `user` at `at` belongs to: the
    /// earliest opened no sooner than [`SIGN_IN_SKEW`] before it (by the role switch or
    /// calls of the session it began, which another account's trail delivered first). An
    /// older record is an earlier use's: the sign-in is a new one.
    pub fn record_begun_since(&self, user: &str, at: OffsetDateTime) -> Option<&KnownGrant> {
        let since = at.checked_sub(SIGN_IN_SKEW)?;
        self.by_user
            .get(&user.to_lowercase())?
            .iter()
            .filter_map(|id| self.grants.get(id))
            .filter(|g| g.start >= since)
            .min_by_key(|g| g.start)
    }

    /// The keys of the findings of the break-glass users `events` name (as the caller, the
    /// user a console role switch came from, or a role session's name): the findings whose
    /// retroactive records their events may join. Looked up by key, so no number of other
    /// findings can crowd them out.
    pub fn break_glass_keys(&self, events: &[Observed]) -> Vec<String> {
        let mut users = std::collections::BTreeSet::new();
        for e in events {
            let p = &e.principal;
            let names = [
                p.user_name.as_deref(),
                p.arn.as_deref().and_then(user_of),
                e.switch_from.as_deref().and_then(user_of),
                p.session_name.as_deref(),
            ];
            for name in names.into_iter().flatten() {
                if self.is_break_glass_user(name) {
                    users.insert(break_glass_key(name));
                    if let Some(key) = p.long_term_key() {
                        users.insert(long_term_key_finding(name, key));
                    }
                }
            }
        }
        users.into_iter().collect()
    }

    /// The grant ids worth loading for `events`: their session names.
    pub fn wanted(events: &[Observed]) -> Vec<String> {
        let mut names: Vec<String> = events
            .iter()
            .flat_map(|e| {
                [
                    e.principal.session_name.clone(),
                    e.assumed.as_ref().map(|a| a.session_name.clone()),
                ]
            })
            .flatten()
            .filter(|n| GrantId::new(n.clone()).is_ok())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether `e` can matter at all, judged on the catalog and the watch alone (before any
    /// grant is loaded): a call of a brokered role's session, a session carrying a
    /// responder's source identity (chained from a grant), an `AssumeRole` of a brokered
    /// role, by the broker's principal or from such a session, a role switch or sign-in into
    /// a brokered role, or anything a break-glass IAM user does. The adapter drops the rest
    /// (most of an organisation's trail) before it reaches the store.
    pub fn relevant(&self, e: &Observed) -> bool {
        let p = &e.principal;
        if p.kind == "IAMUser"
            && p.user_name
                .as_deref()
                .or_else(|| p.arn.as_deref().and_then(user_of))
                .is_some_and(|u| self.is_break_glass_user(u))
        {
            return true;
        }
        if e.switch_from
            .as_deref()
            .and_then(user_of)
            .is_some_and(|u| self.is_break_glass_user(u))
        {
            return true;
        }
        let responder = p
            .source_identity
            .as_deref()
            .is_some_and(|s| self.responders.contains(s));
        let role_brokered = p
            .role_arn
            .as_deref()
            .or(p.arn.as_deref())
            .is_some_and(|r| self.brokered(r));
        let assumes = e.assumed.as_ref().is_some_and(|a| {
            self.brokered(&a.role_arn)
                || a.source_identity
                    .as_deref()
                    .is_some_and(|s| self.responders.contains(s))
        });
        role_brokered || responder || assumes || self.by_principal(p)
    }

    /// Whether the caller is the broker's own principal.
    fn by_principal(&self, p: &Principal) -> bool {
        let Some(principal) = self.watch.principal.as_deref().and_then(role_key) else {
            return false;
        };
        [p.role_arn.as_deref(), p.arn.as_deref()]
            .into_iter()
            .flatten()
            .any(|arn| role_key(arn) == Some(principal))
    }

    fn own_role(&self, arn: &str) -> bool {
        role_key(arn).is_some_and(|(_, name)| self.watch.own_roles.iter().any(|r| r == name))
    }

    /// The grant whose credentials `p` holds, at `at`.
    fn link_principal(
        &self,
        p: &Principal,
        at: OffsetDateTime,
        from_console: bool,
    ) -> Option<Link> {
        if p.kind != "AssumedRole" {
            return None;
        }
        let role = p.role_arn.as_deref().or(p.arn.as_deref())?;
        let live = |g: &KnownGrant| {
            g.start
                .checked_sub(time::Duration::minutes(5))
                .is_none_or(|s| s <= at)
                && g.end.checked_add(CHAIN_MARGIN).is_some_and(|e| at <= e)
        };
        let link = |g: &KnownGrant, by| Link {
            request: g.request.clone(),
            grant: g.grant.clone(),
            by,
        };
        if let Some(g) = p.session_name.as_deref().and_then(|n| self.grant(n))
            && same_role(&g.role_arn, role)
            && live(g)
            && (p
                .access_key_id
                .as_deref()
                .is_some_and(|k| self.keys.get(k).is_some_and(|id| id == g.grant.as_str()))
                // A console session (the federation URL) carries the console's key, and
                // some calls none: then the responder's source identity, which only the
                // broker sets on the grant's session, must be there too.
                || ((from_console || p.access_key_id.is_none())
                    && p.source_identity.as_deref() == Some(g.requester.as_str())))
        {
            return Some(link(g, LinkedBy::SessionName));
        }
        if let Some(g) = p
            .access_key_id
            .as_deref()
            .and_then(|k| self.grant_of_key(k))
        {
            return Some(link(g, LinkedBy::AccessKey));
        }
        // A break-glass user's role switch: the session is named after the user.
        if let Some(g) = p
            .session_name
            .as_deref()
            .filter(|n| self.is_break_glass_user(n))
            .filter(|_| self.break_glass_role(role))
            .and_then(|n| self.record_of(n, at))
        {
            return Some(link(g, LinkedBy::BreakGlassUser));
        }
        // The source identity links sessions chained into roles the broker does not broker;
        // a brokered role's session must be the grant's own (by name or key), else anyone
        // who set a responder's name as source identity would hide in their timeline.
        if !self.brokered(role)
            && let Some(who) = p.source_identity.as_deref()
        {
            let mut live_grants = self
                .by_responder
                .get(who)
                .into_iter()
                .flatten()
                .filter_map(|id| self.grants.get(id))
                .filter(|g| g.break_glass_user.is_none() && live(g));
            if let (Some(g), None) = (live_grants.next(), live_grants.next()) {
                return Some(link(g, LinkedBy::SourceIdentity));
            }
        }
        None
    }
}

/// Whether two role (or assumed-role) ARNs name the same role.
fn same_role(a: &str, b: &str) -> bool {
    matches!((role_key(a), role_key(b)), (Some(x), Some(y)) if x == y)
}

fn draft(
    kind: FindingKind,
    role: Option<&str>,
    actor: &str,
    session: Option<&str>,
) -> FindingDraft {
    let role_part = role
        .and_then(role_key)
        .map(|(a, n)| format!("{a}/{n}"))
        .unwrap_or_default();
    FindingDraft {
        kind,
        key: format!("{}:{role_part}:{}", kind.as_str(), session.unwrap_or(actor)),
        role: role.map(str::to_owned),
        actor: actor.to_owned(),
        session: session.map(str::to_owned),
        break_glass_user: None,
    }
}

/// The key of break-glass user `user`'s findings: the user, not the account (its sign-in
/// and the role switches it makes land in different accounts' trails, and are one use of
/// the emergency path).
fn break_glass_key(user: &str) -> String {
    format!(
        "{}:{}",
        FindingKind::BreakGlassUser.as_str(),
        user.to_lowercase()
    )
}

/// The key of the finding of break-glass user `user`'s calls with long-term access key `key`.
fn long_term_key_finding(user: &str, key: &str) -> String {
    format!("{}:key:{key}", break_glass_key(user))
}

fn break_glass_draft(user: &str) -> FindingDraft {
    FindingDraft {
        kind: FindingKind::BreakGlassUser,
        key: break_glass_key(user),
        role: None,
        actor: user.to_owned(),
        session: None,
        break_glass_user: Some(user.to_owned()),
    }
}

/// The user name at the end of an IAM user ARN (`arn:aws:iam::1:user/path/name`).
fn user_of(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    resource.strip_prefix("user/")?.rsplit('/').next()
}

/// Which grant made `e`, or which unbrokered use it is.
pub fn classify(e: &Observed, known: &Known) -> Verdict {
    let p = &e.principal;
    let actor = p
        .arn
        .clone()
        .or_else(|| p.user_name.clone())
        .unwrap_or_else(|| p.kind.clone());

    // The emergency path: anything a break-glass IAM user does. A successful sign-in is a
    // use of its own, owing its own review: it belongs to a record opened around it (by its
    // own role switch, delivered first from another account's trail), never to an older
    // one, which may have been reviewed already (nor does it join an older finding: see
    // `sign_in_joins`).
    if p.kind == "IAMUser"
        && let Some(user) = p
            .user_name
            .as_deref()
            .or_else(|| p.arn.as_deref().and_then(user_of))
        && known.is_break_glass_user(user)
    {
        // A call made with one of the user's long-term access keys (`AKIA…`) is no part of
        // a console sign-in, whose calls carry the session's temporary `ASIA…` key: a key
        // made during an emergency use and kept is a way back in after its review. Such a
        // call is a use of its own, never on a record's timeline, one finding per key.
        if let Some(key) = p.long_term_key() {
            let mut draft = break_glass_draft(user);
            draft.key = long_term_key_finding(user, key);
            draft.session = Some(key.to_owned());
            return Verdict {
                finding: Some(draft),
                ..Verdict::default()
            };
        }
        let record = if e.console_login {
            known.record_begun_since(user, e.at)
        } else {
            known.record_of(user, e.at)
        };
        return match record {
            Some(g) => Verdict {
                link: Some(Link {
                    request: g.request.clone(),
                    grant: g.grant.clone(),
                    by: LinkedBy::BreakGlassUser,
                }),
                ..Verdict::default()
            },
            None => Verdict {
                finding: Some(break_glass_draft(user)),
                ..Verdict::default()
            },
        };
    }

    // A console role switch: the caller is the session switched to, `SwitchFrom` the user.
    if e.service == "signin.amazonaws.com" && e.action == "SwitchRole" {
        let from_user = e.switch_from.as_deref().and_then(user_of);
        if let Some(user) = from_user.filter(|u| known.is_break_glass_user(u)) {
            return match known.record_of(user, e.at) {
                Some(g) => Verdict {
                    link: Some(Link {
                        request: g.request.clone(),
                        grant: g.grant.clone(),
                        by: LinkedBy::BreakGlassUser,
                    }),
                    ..Verdict::default()
                },
                None => Verdict {
                    finding: Some(break_glass_draft(user)),
                    ..Verdict::default()
                },
            };
        }
        let role = p.role_arn.as_deref().or(p.arn.as_deref());
        if let Some(link) = known.link_principal(p, e.at, e.from_console) {
            return Verdict {
                link: Some(link),
                ..Verdict::default()
            };
        }
        if let Some(role) = role.filter(|r| known.brokered(r)) {
            let who = e.switch_from.as_deref().unwrap_or(&actor);
            return Verdict {
                finding: Some(draft(
                    FindingKind::UnbrokeredSwitchRole,
                    Some(role),
                    who,
                    p.session_name.as_deref(),
                )),
                ..Verdict::default()
            };
        }
        return Verdict::default();
    }

    if let Some(a) = &e.assumed {
        // The grant's own session, opened by the broker with a key it recorded (when it
        // recorded any yet): more sessions under a grant's name are no grant's.
        if let Some(g) = known.grant(&a.session_name)
            && same_role(&g.role_arn, &a.role_arn)
            && (known.watch.principal.is_none() || known.by_principal(p))
            && (g.keys.is_empty() || a.access_key_id.as_ref().is_some_and(|k| g.keys.contains(k)))
            && g.start
                .checked_sub(time::Duration::minutes(5))
                .is_none_or(|s| s <= e.at)
            && e.at <= g.end
        {
            return Verdict {
                link: Some(Link {
                    request: g.request.clone(),
                    grant: g.grant.clone(),
                    by: LinkedBy::SessionName,
                }),
                learned_key: a.access_key_id.clone(),
                finding: None,
            };
        }
        // A session chained from a grant's: the new key belongs to that grant. Not from a
        // caller known only by its source identity into a brokered role: that would let
        // anyone who set a responder's name reach a brokered role inside their timeline.
        if let Some(link) = known.link_principal(p, e.at, e.from_console)
            && !(link.by == LinkedBy::SourceIdentity && known.brokered(&a.role_arn))
        {
            return Verdict {
                link: Some(link),
                learned_key: a.access_key_id.clone(),
                finding: None,
            };
        }
        if known.by_principal(p) && !known.own_role(&a.role_arn) {
            return Verdict {
                finding: Some(draft(
                    FindingKind::BrokerPrincipal,
                    Some(&a.role_arn),
                    &actor,
                    Some(&a.session_name),
                )),
                ..Verdict::default()
            };
        }
        if known.brokered(&a.role_arn) {
            return Verdict {
                finding: Some(draft(
                    FindingKind::UnbrokeredAssumeRole,
                    Some(&a.role_arn),
                    &actor,
                    Some(&a.session_name),
                )),
                ..Verdict::default()
            };
        }
        return Verdict::default();
    }

    if let Some(link) = known.link_principal(p, e.at, e.from_console) {
        return Verdict {
            link: Some(link),
            ..Verdict::default()
        };
    }
    if p.kind == "AssumedRole"
        && let Some(role) = p
            .role_arn
            .as_deref()
            .or(p.arn.as_deref())
            .filter(|r| known.brokered(r))
    {
        let kind = if e.console_login {
            FindingKind::UnbrokeredConsoleSignIn
        } else {
            FindingKind::UnbrokeredSession
        };
        let session = p.session_name.as_deref().or(p.access_key_id.as_deref());
        return Verdict {
            finding: Some(draft(kind, Some(role), &actor, session)),
            ..Verdict::default()
        };
    }
    Verdict::default()
}
