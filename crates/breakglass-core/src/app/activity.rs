//! Watching every session: CloudTrail events tied to the grants that made them, unbrokered
//! use found, audited and alerted, and break-glass IAM user sign-ins turned into
//! retroactive break-glass records (see [`crate::activity`]).

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{App, Caller, Error};
use crate::activity::{
    Cursor, FINDING_WINDOW, Finding, FindingDraft, FindingKind, Held, Ingested, Known, KnownGrant,
    Observed, StoredEvent, TIMELINE_PAGE, Watch, classify, sign_in_joins,
};
use crate::audit::events::UnbrokeredUseDetected;
use crate::audit::{Actor, AuditEvent};
use crate::cloud::Cloud;
use crate::model::{GrantId, IncidentId, RequestId, Username};
use crate::ports::{AccessStore, ActivityCommit, Clock, IdSource, Store};
use crate::request::{AccessRequest, Retroactive};
use crate::session::SessionQuery;

/// The most findings a listing returns.
pub const FINDINGS_PAGE: u32 = 500;

/// How far in the future an event's time may be (clock skew) before it is refused.
const FUTURE_SKEW: time::Duration = time::Duration::minutes(15);

/// The longest text of one CloudTrail field put into a retroactive record.
const FIELD_CHARS: usize = 128;

fn clip(text: &str) -> String {
    text.chars().take(FIELD_CHARS).collect()
}

/// A grant's activity: what its credentials did, as CloudTrail showed it.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct GrantActivity {
    pub request: RequestId,
    /// The events, oldest first.
    pub events: Vec<StoredEvent>,
    /// Whether there were more than were returned.
    pub truncated: bool,
}

impl GrantActivity {
    /// The events the built-in alert rules matched.
    pub fn rule_findings(&self) -> impl Iterator<Item = &StoredEvent> {
        self.events.iter().filter(|e| !e.event.rules.is_empty())
    }
}

/// A finding id: stable for its key and first event, so a batch read twice (after a failed
/// commit) opens the same finding.
fn finding_id(key: &str, first_event: &str) -> String {
    let digest = Sha256::digest(format!("{key}\n{first_event}").as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("uf-{hex}")
}

fn known_grant(r: &AccessRequest, break_glass_user: Option<String>) -> Option<KnownGrant> {
    let grant = r.grant.as_ref()?;
    // A revoked grant ended when it was revoked, not at its planned end (a retroactive
    // record is closed at once but covers the console session it stands for).
    let end = match &r.status {
        crate::request::Status::Revoked { at, .. } => grant.end.min(*at),
        _ => grant.end,
    };
    Some(KnownGrant {
        request: r.id.clone(),
        grant: grant.id.clone(),
        role_arn: r.spec.role_arn.as_str().to_owned(),
        requester: r.spec.requester.as_str().to_owned(),
        start: grant.start,
        end,
        keys: grant
            .issued
            .iter()
            .map(|i| i.access_key_id.clone())
            .collect(),
        break_glass_user,
    })
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// Takes in one batch of CloudTrail events read from a source, with where the source
    /// now stands: each event is tied to its grant or found to be unbrokered use, and all of
    /// it (events, findings with their audit records and alerts, retroactive records,
    /// cursors) is stored in one transaction. Events already stored are dropped on their
    /// `eventID`. Run by one replica at a time (the `activity` lease): with `held`, the
    /// batch is stored only if this replica still holds that lease when it commits (else
    /// nothing is, and the error is [`crate::ports::StoreError::LeaseLost`]).
    pub async fn record_activity(
        &self,
        watch: &Watch,
        held: Option<&Held>,
        events: Vec<Observed>,
        cursors: Vec<Cursor>,
    ) -> Result<Ingested, Error> {
        let mut done = Ingested {
            events: events.len() as u64,
            ..Ingested::default()
        };
        let mut seen = HashSet::new();
        let mut events: Vec<Observed> = events
            .into_iter()
            .map(Observed::printable)
            .filter(|e| seen.insert(e.event_id.clone()))
            .collect();
        let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
        let stored: HashSet<String> = self
            .store()
            .stored_event_ids(&ids)
            .await?
            .into_iter()
            .collect();
        events.retain(|e| !stored.contains(&e.event_id));
        done.duplicates = done.events - events.len() as u64;
        // CloudTrail does not deliver the future: an event timed later than a few minutes
        // from now is forged (or a clock is wrong), and would hold findings open forever.
        let horizon = self.now() + FUTURE_SKEW;
        let before = events.len();
        events.retain(|e| e.at <= horizon);
        done.rejected = (before - events.len()) as u64;
        events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.event_id.cmp(&b.event_id)));

        let mut known = self.known(watch, &events).await?;
        let mut batch = ActivityCommit {
            cursors,
            lease: held.map(|h| (h.clone(), self.now())),
            ..ActivityCommit::default()
        };
        // Findings touched by this batch, by key: loaded open ones and new ones.
        let mut open: HashMap<String, Finding> = HashMap::new();
        let mut touched: HashSet<String> = HashSet::new();
        let mut replaced: Vec<Finding> = Vec::new();
        // Findings begun in the last hour: read from the store on the batch's first new
        // one, then counted here.
        let mut begun: Option<u32> = None;
        for event in events {
            let verdict = classify(&event, &known);
            if let (Some(link), Some(key)) = (&verdict.link, &verdict.learned_key) {
                known.add_key(key, &link.grant);
                batch.keys.push((key.clone(), link.request.clone()));
            }
            if verdict.link.is_some() {
                done.linked += 1;
                batch.events.push(StoredEvent {
                    event,
                    link: verdict.link,
                    finding: None,
                });
                continue;
            }
            let Some(draft) = verdict.finding else {
                continue;
            };
            // Was the finding open under this key changed earlier in this batch?
            let was_touched = !touched.insert(draft.key.clone());
            let sign_in = draft.kind == FindingKind::BreakGlassUser && event.console_login;
            // The event that opens a retroactive record is the first on its timeline.
            let mut opened: Option<crate::activity::Link> = None;
            // Nothing joins a finding whose record was reviewed; a sign-in joins only the
            // use it began.
            let joined = self
                .open_finding(&mut open, &draft.key, event.at)
                .await?
                .filter(|f| f.record.as_ref().is_none_or(|r| !known.is_reviewed(r)))
                .filter(|f| !sign_in || sign_in_joins(f, event.at));
            let finding = match joined {
                Some(f) => {
                    done.joined += 1;
                    f.events += 1;
                    f.last_seen = f.last_seen.max(event.at);
                    if f.sample.len() < Finding::KEPT {
                        f.sample.push(event.clone());
                    }
                    f.id.clone()
                }
                None => {
                    done.findings += 1;
                    let before = match begun {
                        Some(n) => n,
                        None => self.findings_begun_in_the_hour().await?,
                    };
                    let in_the_hour = before.saturating_add(1);
                    begun = Some(in_the_hour);
                    let mut f = self.new_finding(&draft, &event);
                    if draft.kind == FindingKind::BreakGlassUser
                        && let Some((commit, record)) = self
                            .retroactive(watch, &draft, &event, &f, in_the_hour)
                            .await?
                    {
                        done.records += 1;
                        f.record = Some(record.id.clone());
                        opened = record.grant.as_ref().map(|g| crate::activity::Link {
                            request: record.id.clone(),
                            grant: g.id.clone(),
                            by: crate::activity::LinkedBy::BreakGlassUser,
                        });
                        if f.record_takes_links()
                            && let Some(g) = known_grant(&record, draft.break_glass_user.clone())
                        {
                            known.add_grant(g);
                        }
                        batch.commits.push(commit);
                    } else {
                        batch.commits.push(self.one_record(
                            Actor::System,
                            AuditEvent::from(detected(&f, &event, in_the_hour)),
                        ));
                    }
                    let id = f.id.clone();
                    // A sign-in that is a new use replaces the older finding open under its
                    // key, which still has to be stored if this batch changed it.
                    if let Some(older) = open.insert(draft.key.clone(), f)
                        && was_touched
                    {
                        replaced.push(older);
                    }
                    id
                }
            };
            batch.events.push(StoredEvent {
                event,
                link: opened,
                finding: Some(finding),
            });
        }
        batch.findings = open
            .into_iter()
            .filter(|(key, _)| touched.contains(key))
            .map(|(_, f)| f)
            .chain(replaced)
            .collect();
        if batch.events.is_empty() && batch.commits.is_empty() && batch.cursors.is_empty() {
            return Ok(done);
        }
        self.store().commit_activity(batch).await?;
        Ok(done)
    }

    /// How many findings began in the hour up to now (at least: a listing holds at most
    /// [`FINDINGS_PAGE`], the newest first).
    async fn findings_begun_in_the_hour(&self) -> Result<u32, Error> {
        let since = self.now().checked_sub(time::Duration::hours(1));
        let recent = self
            .store()
            .findings(None, since, FINDINGS_PAGE)
            .await?
            .iter()
            .filter(|f| since.is_none_or(|s| f.first_seen >= s))
            .count();
        Ok(u32::try_from(recent).unwrap_or(u32::MAX))
    }

    /// The finding with `key` still open at `at` (loaded once per batch), if any.
    async fn open_finding<'a>(
        &self,
        open: &'a mut HashMap<String, Finding>,
        key: &str,
        at: OffsetDateTime,
    ) -> Result<Option<&'a mut Finding>, Error> {
        if !open.contains_key(key) {
            let keys = [key.to_owned()];
            let found = self
                .store()
                .findings(Some(&keys), at.checked_sub(FINDING_WINDOW), 1)
                .await?;
            if let Some(f) = found.into_iter().next() {
                open.insert(key.to_owned(), f);
            }
        }
        Ok(open.get_mut(key).filter(|f| {
            f.last_seen
                .checked_add(FINDING_WINDOW)
                .is_none_or(|until| until >= at)
        }))
    }

    fn new_finding(&self, draft: &FindingDraft, event: &Observed) -> Finding {
        Finding {
            id: finding_id(&draft.key, &event.event_id),
            kind: draft.kind,
            key: draft.key.clone(),
            severity: "critical".to_owned(),
            role: draft.role.clone(),
            actor: draft.actor.clone(),
            session: draft.session.clone(),
            account: event.account.clone(),
            first_seen: event.at,
            last_seen: event.at,
            events: 1,
            sample: vec![event.clone()],
            record: None,
        }
    }

    /// The retroactive break-glass record a break-glass user's sign-in opens, with its
    /// commit; `None` when the catalog has no break-glass playbook and role to file it
    /// under (the finding is still recorded and alerted).
    async fn retroactive(
        &self,
        watch: &Watch,
        draft: &FindingDraft,
        event: &Observed,
        finding: &Finding,
        in_the_hour: u32,
    ) -> Result<Option<(crate::ports::Commit, AccessRequest)>, Error> {
        let rules = self.rules();
        let catalog = rules.catalog();
        let Some(user) = draft.break_glass_user.as_deref() else {
            return Ok(None);
        };
        let Some(playbook) = catalog.playbooks.iter().find(|p| p.break_glass) else {
            return Ok(None);
        };
        let roles: Vec<_> = catalog
            .grantable(playbook)
            .filter(|r| r.break_glass)
            .collect();
        let role = roles
            .iter()
            .find(|r| event.account.as_deref() == Some(r.account.as_str()))
            .or_else(|| roles.first());
        let Some(role) = role else {
            return Ok(None);
        };
        let suffix = &watch.break_glass_user_suffix;
        // Only a responder the config gives a break-glass user is named; a `*-BREAK-GLASS`
        // user made by hand belongs to nobody the broker knows.
        let requester = catalog
            .responders
            .iter()
            .filter(|r| r.break_glass_user)
            .find(|r| format!("{}{suffix}", r.username).eq_ignore_ascii_case(user))
            .map(|r| r.username.clone())
            .unwrap_or_else(|| Username::from_trusted("unknown-responder".to_owned()));
        let id = self.broker.fresh_request_id();
        let mut detected = detected(finding, event, in_the_hour);
        detected.record = Some(id.clone());
        let (how, after) = match event.principal.long_term_key() {
            Some(key) => (
                format!("called AWS with its long-term access key {}", clip(key)),
                "The broker cannot disable this key; review what it did, and delete the key",
            ),
            None => (
                "signed in to AWS".to_owned(),
                "The broker could not end this console session; review what it did",
            ),
        };
        let what = format!(
            "Retroactive record: IAM user {} {how} at {} from {} (CloudTrail event {}) without the broker. {after}.",
            clip(user),
            event.at,
            clip(event.source_ip.as_deref().unwrap_or("an unknown address")),
            clip(&event.event_id)
        );
        let incident = IncidentId::new(format!("RETRO-{}", finding.id))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let (commit, record) = self.broker.retroactive_commit(
            id,
            Retroactive {
                requester,
                playbook,
                role,
                signed_in: event.at,
                incident,
                what,
                event: AuditEvent::from(detected),
            },
        )?;
        Ok(Some((commit, record)))
    }

    /// What the linker needs for `events`: the grants their session names name, the grants
    /// of keys learned earlier, the responders' grants live around them, and the open
    /// retroactive records.
    async fn known(&self, watch: &Watch, events: &[Observed]) -> Result<Known, Error> {
        let rules = self.rules();
        let mut known = Known::new(rules.catalog(), watch.clone());
        let mut requests: HashMap<RequestId, AccessRequest> = HashMap::new();
        for name in Known::wanted(events) {
            let Ok(grant) = GrantId::new(name) else {
                continue;
            };
            if let Some(v) = self.store().get_by_grant(&grant).await? {
                requests.insert(v.value.id.clone(), v.value);
            }
        }
        let keys: Vec<String> = events
            .iter()
            .filter_map(|e| e.principal.access_key_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let learned = self.store().learned_keys(&keys).await?;
        for (_, request) in &learned {
            if !requests.contains_key(request)
                && let Some(v) = self.store().get(request).await?
            {
                requests.insert(request.clone(), v.value);
            }
        }
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            let identities: HashSet<&str> = events
                .iter()
                .filter_map(|e| e.principal.source_identity.as_deref())
                .collect();
            for who in identities {
                let Ok(requester) = Username::new(who) else {
                    continue;
                };
                let query = SessionQuery {
                    requester: Some(requester),
                    from: first
                        .at
                        .checked_sub(crate::activity::CHAIN_MARGIN + time::Duration::hours(12)),
                    to: Some(last.at),
                    include_drills: true,
                    limit: Some(100),
                    ..SessionQuery::default()
                };
                for s in self.store().sessions(&query, self.now()).await? {
                    if !requests.contains_key(&s.request)
                        && let Some(v) = self.store().get(&s.request).await?
                    {
                        requests.insert(s.request.clone(), v.value);
                    }
                }
            }
            // Open records of the break-glass users these events name: their later events
            // and role switches join them.
            let keys = known.break_glass_keys(events);
            let open = if keys.is_empty() {
                Vec::new()
            } else {
                self.store()
                    .findings(
                        Some(&keys),
                        first.at.checked_sub(FINDING_WINDOW),
                        FINDINGS_PAGE,
                    )
                    .await?
            };
            for f in open
                .into_iter()
                .filter(|f| f.kind == FindingKind::BreakGlassUser)
            {
                let Some(record) = &f.record else { continue };
                let Some(v) = self.store().get(record).await? else {
                    continue;
                };
                requests.remove(record);
                if matches!(
                    v.value.review,
                    Some(crate::request::Review::Completed { .. })
                ) {
                    known.add_reviewed(record.clone());
                } else if f.record_takes_links()
                    && let Some(g) = known_grant(&v.value, Some(f.actor.clone()))
                {
                    known.add_grant(g);
                }
            }
        }
        for r in requests.values() {
            if let Some(g) = known_grant(r, None) {
                known.add_grant(g);
            }
        }
        for (key, request) in learned {
            if let Some(g) = requests.get(&request).and_then(|r| r.grant.as_ref()) {
                known.add_key(&key, &g.id);
            }
        }
        Ok(known)
    }

    /// What request `id`'s grant did, oldest first, if `caller` may read the request.
    pub async fn grant_activity(
        &self,
        caller: &Caller,
        id: &RequestId,
    ) -> Result<GrantActivity, Error> {
        let request = self.request(caller, id).await?;
        self.activity_of(request.value.id).await
    }

    /// The recorded activity of `request`, which the caller has been allowed to read.
    async fn activity_of(&self, request: RequestId) -> Result<GrantActivity, Error> {
        let mut events = self
            .store()
            .request_activity(&request, TIMELINE_PAGE + 1)
            .await?;
        let truncated = events.len() > TIMELINE_PAGE as usize;
        events.truncate(TIMELINE_PAGE as usize);
        Ok(GrantActivity {
            request,
            events,
            truncated,
        })
    }

    /// Unbrokered use found in CloudTrail, newest first (administrators only).
    pub async fn unbrokered_use(&self, caller: &Caller, limit: u32) -> Result<Vec<Finding>, Error> {
        caller.require_admin()?;
        Ok(self
            .store()
            .findings(None, None, limit.min(FINDINGS_PAGE))
            .await?)
    }

    /// Where each CloudTrail source stands.
    pub async fn activity_cursors(&self) -> Result<Vec<Cursor>, Error> {
        Ok(self.store().activity_cursors().await?)
    }

    /// Forgets events and findings older than `keep` (the configured retention).
    pub async fn prune_activity(&self, keep: time::Duration) -> Result<u64, Error> {
        Ok(self.store().prune_activity(self.now() - keep).await?)
    }
}

/// How much of its playbook a grant used, and the session policy its calls needed: the
/// review's "used N of the M actions its playbook allowed" and the suggestion for the
/// playbook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LeastPrivilege {
    /// N: actions used that the playbook allows.
    pub used: usize,
    /// M: actions the playbook's session policy allows (over the action catalog).
    pub allowed: usize,
    /// Actions used that the playbook does not allow (calls that failed or were denied).
    pub not_allowed: Vec<String>,
    /// The generated session policy (indented JSON).
    pub policy: String,
    /// Whether it fits the session-policy limit and lints without error.
    pub usable: bool,
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// What request `id`'s grant used of its playbook, from its recorded activity; `None`
    /// when the broker has no action catalog (`serve --catalog`) or saw no call yet.
    pub async fn least_privilege(
        &self,
        caller: &Caller,
        id: &RequestId,
    ) -> Result<Option<LeastPrivilege>, Error> {
        if self.rules().permissions().is_none() {
            return Ok(None);
        }
        let request = self.request(caller, id).await?.value;
        let activity = self.activity_of(request.id.clone()).await?;
        Ok(self.least_privilege_of(&request, &activity))
    }

    /// [`App::least_privilege`] of a request and its activity the caller has read already
    /// (the request page reads both), without reading them again.
    pub fn least_privilege_of(
        &self,
        request: &AccessRequest,
        activity: &GrantActivity,
    ) -> Option<LeastPrivilege> {
        let rules = self.rules();
        let model = rules.permissions()?;
        if activity.events.is_empty() {
            return None;
        }
        let grant = request.grant.as_ref().map(|g| g.id.as_str());
        let calls: Vec<breakglass_iam::generate::UsedCall> = activity
            .events
            .iter()
            // The broker's AssumeRole that opened the grant is the broker's call, not one
            // the grant's credentials made.
            .filter(|e| {
                e.event
                    .assumed
                    .as_ref()
                    .is_none_or(|a| Some(a.session_name.as_str()) != grant)
            })
            // Only calls made in the grant's role: what chained sessions did in other roles
            // is not what the playbook's policy governs.
            .filter(|e| {
                let role = e.event.principal.role_arn.as_deref();
                role.and_then(crate::activity::role_key)
                    == crate::activity::role_key(request.spec.role_arn.as_str())
            })
            .map(|e| breakglass_iam::generate::UsedCall {
                event_source: e.event.service.clone(),
                event_name: e.event.action.clone(),
                resources: e
                    .event
                    .resource
                    .iter()
                    .filter(|r| r.starts_with("arn:"))
                    .cloned()
                    .collect(),
                region: e.event.region.clone(),
                error_code: e.event.error.clone(),
            })
            .collect();
        let catalog = model.actions();
        // The playbook's own policy (a narrowed request's is narrower): M is what the
        // playbook allows, and the suggestion is for the playbook.
        let playbook = rules
            .catalog()
            .playbook(&request.spec.playbook)
            .map_or(request.spec.session_policy.as_str(), |p| {
                p.session_policy.as_str()
            });
        let Ok(generated) = breakglass_iam::generate::generate(catalog, &calls, Some(playbook))
        else {
            return None;
        };
        let Ok(parsed) = breakglass_iam::parse(playbook, breakglass_iam::PolicyType::Session)
        else {
            return None;
        };
        let allowed = breakglass_iam::generate::playbook_actions(catalog, &parsed);
        let n = generated.used_of_allowed(allowed.iter().map(String::as_str));
        Some(LeastPrivilege {
            used: n.used,
            allowed: n.allowed,
            not_allowed: n.not_allowed,
            policy: generated.pretty(),
            usable: generated.fits() && !generated.has_lint_errors(),
        })
    }
}

/// The audit record of a new finding.
fn detected(f: &Finding, event: &Observed, in_the_hour: u32) -> UnbrokeredUseDetected {
    UnbrokeredUseDetected {
        finding: f.id.clone(),
        kind: f.kind,
        summary: f.summary(),
        role: f.role.clone(),
        actor: f.actor.clone(),
        session: f.session.clone(),
        account: f.account.clone(),
        event_id: event.event_id.clone(),
        event_time: event.at,
        source_ip: event.source_ip.clone(),
        record: None,
        in_the_hour,
    }
}
