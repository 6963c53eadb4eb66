//! The linker itself: activity grouped by access key or tuple while events stream in, and
//! the links resolved once every `AssumeRole` has been seen.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{
    CallStats, ConsoleSwitch, Issue, LinkStats, LinkedBy, MAX_DISTINCT, MAX_TIMELINE,
    SessionReport, SessionSummary, TimelineEntry, TimelineFilter,
};
use crate::event::Event;
use crate::time::epoch_seconds;

/// (role ARN lowercased, session name, creation second).
type Tuple = (String, String, i64);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ActivityKey {
    AccessKey(String),
    Tuple(Tuple),
}

#[derive(Debug, Clone, Default)]
struct Activity {
    tuple: Option<Tuple>,
    role_arn: Option<String>,
    session_name: Option<String>,
    access_key: Option<String>,
    source_identity: Option<String>,
    events: u64,
    errors: u64,
    first: Option<(i64, String)>,
    last: Option<(i64, String)>,
    ips: BTreeSet<String>,
    agents: BTreeSet<String>,
    truncated: bool,
    calls: BTreeMap<String, CallStats>,
    timeline: Vec<TimelineEntry>,
}

fn earlier(a: &mut Option<(i64, String)>, b: Option<(i64, String)>) {
    if let Some(b) = b
        && a.as_ref().is_none_or(|a| b < *a)
    {
        *a = Some(b);
    }
}

fn later(a: &mut Option<(i64, String)>, b: Option<(i64, String)>) {
    if let Some(b) = b
        && a.as_ref().is_none_or(|a| b > *a)
    {
        *a = Some(b);
    }
}

fn insert_capped(set: &mut BTreeSet<String>, value: Option<String>, truncated: &mut bool) {
    if let Some(v) = value {
        if set.len() < MAX_DISTINCT || set.contains(&v) {
            set.insert(v);
        } else {
            *truncated = true;
        }
    }
}

impl Activity {
    fn merge(&mut self, other: Activity) {
        self.tuple = self.tuple.take().or(other.tuple);
        self.role_arn = self.role_arn.take().or(other.role_arn);
        self.session_name = self.session_name.take().or(other.session_name);
        self.access_key = self.access_key.take().or(other.access_key);
        self.source_identity = self.source_identity.take().or(other.source_identity);
        self.events += other.events;
        self.errors += other.errors;
        earlier(&mut self.first, other.first);
        later(&mut self.last, other.last);
        self.truncated |= other.truncated;
        for ip in other.ips {
            insert_capped(&mut self.ips, Some(ip), &mut self.truncated);
        }
        for ua in other.agents {
            insert_capped(&mut self.agents, Some(ua), &mut self.truncated);
        }
        for (k, v) in other.calls {
            let c = self.calls.entry(k).or_default();
            c.count += v.count;
            c.errors += v.errors;
        }
        let room = MAX_TIMELINE.saturating_sub(self.timeline.len());
        self.timeline.extend(other.timeline.into_iter().take(room));
    }
}

#[derive(Debug, Clone)]
struct Switch {
    shared_event_id: String,
    time: String,
    from: Option<String>,
}

/// Collects issues and activity; resolve with [`Linker::finish`].
#[derive(Debug, Default)]
pub struct Linker {
    filter: TimelineFilter,
    issued: HashMap<String, Issue>,
    activity: HashMap<ActivityKey, Activity>,
    switches: Vec<Switch>,
    denied: u64,
    /// Events taken in through [`Linker::observe`], which numbers them in arrival order.
    observed: u64,
}

fn s(event: &Event<'_>, path: &[&str]) -> Option<String> {
    event.str(path).map(|c| c.into_owned())
}

/// The event's time as text: `eventTime`, or `@timestamp` when `eventTime` is unusable.
fn time_text(event: &Event<'_>) -> Option<String> {
    event.time_text().map(|c| c.into_owned())
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

impl Linker {
    /// A linker that keeps timelines for the sessions `filter` admits (none if it is empty).
    pub fn new(filter: TimelineFilter) -> Linker {
        Linker {
            filter,
            ..Linker::default()
        }
    }

    /// Takes in one event; events taken in this way are ordered as they arrive.
    pub fn observe(&mut self, event: &Event<'_>) {
        let position = self.observed;
        self.observed += 1;
        self.observe_at(event, position);
    }

    /// Takes in one event at `position` in the input: timeline entries with the same time
    /// keep the order of their positions. Parallel callers number events across inputs
    /// (e.g. input index and record index) so merged timelines keep the input's order.
    pub fn observe_at(&mut self, event: &Event<'_>, position: u64) {
        // Most events are neither sessions nor issues: two substring checks rule them out.
        let raw = event.raw();
        let finder = |needle: &[u8]| memchr::memmem::find(raw, needle).is_some();
        if !finder(b"AssumedRole") && !finder(b"AssumeRole") && !finder(b"SwitchRole") {
            return;
        }
        let name = s(event, &["eventName"]).unwrap_or_default();
        let source = s(event, &["eventSource"]).unwrap_or_default();
        if source == "sts.amazonaws.com" && name.starts_with("AssumeRole") {
            self.observe_assume_role(event, &name);
        }
        if source == "signin.amazonaws.com"
            && name == "SwitchRole"
            && let Some(shared) = s(event, &["sharedEventID"])
        {
            self.switches.push(Switch {
                shared_event_id: shared,
                time: time_text(event).unwrap_or_default(),
                from: s(event, &["additionalEventData", "SwitchFrom"]),
            });
        }
        if event.str(&["userIdentity", "type"]).as_deref() == Some("AssumedRole") {
            self.observe_session_event(event, &source, &name, position);
        }
    }

    fn observe_assume_role(&mut self, event: &Event<'_>, name: &str) {
        let key = non_empty(s(
            event,
            &["responseElements", "credentials", "accessKeyId"],
        ));
        let Some(access_key_id) = key else {
            if event.get(&["errorCode"]).is_some() {
                self.denied += 1;
            }
            return;
        };
        let issued_by = s(event, &["userIdentity", "arn"])
            .or_else(|| s(event, &["userIdentity", "invokedBy"]))
            .or_else(|| s(event, &["userIdentity", "type"]))
            .unwrap_or_else(|| "unknown".to_owned());
        let issue = Issue {
            event_id: s(event, &["eventID"]),
            event_name: name.to_owned(),
            event_time: time_text(event).unwrap_or_default(),
            role_arn: s(event, &["requestParameters", "roleArn"]).unwrap_or_default(),
            role_session_name: s(event, &["requestParameters", "roleSessionName"])
                .unwrap_or_default(),
            access_key_id: access_key_id.clone(),
            source_identity: s(event, &["requestParameters", "sourceIdentity"])
                .or_else(|| s(event, &["responseElements", "sourceIdentity"])),
            issued_by,
            source_ip_address: s(event, &["sourceIPAddress"]),
            shared_event_id: s(event, &["sharedEventID"]),
            identical_tuples: 0,
        };
        self.issued.entry(access_key_id).or_insert(issue);
    }

    fn observe_session_event(
        &mut self,
        event: &Event<'_>,
        source: &str,
        name: &str,
        position: u64,
    ) {
        let issuer = s(
            event,
            &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
        );
        let session_name = s(event, &["userIdentity", "principalId"])
            .and_then(|p| p.split_once(':').map(|(_, n)| n.to_owned()));
        let created = event
            .str(&[
                "userIdentity",
                "sessionContext",
                "attributes",
                "creationDate",
            ])
            .and_then(|c| epoch_seconds(c.as_bytes()));
        let tuple = match (&issuer, &session_name, created) {
            (Some(i), Some(n), Some(c)) => Some((i.to_ascii_lowercase(), n.clone(), c)),
            _ => None,
        };
        let access_key = non_empty(s(event, &["userIdentity", "accessKeyId"]));
        let key = match (&access_key, &tuple) {
            (Some(k), _) => ActivityKey::AccessKey(k.clone()),
            (None, Some(t)) => ActivityKey::Tuple(t.clone()),
            (None, None) => {
                // Unlinkable: count it under a key that never links.
                ActivityKey::Tuple((
                    issuer.clone().unwrap_or_default(),
                    session_name.clone().unwrap_or_default(),
                    i64::MIN,
                ))
            }
        };
        let identity = s(event, &["userIdentity", "sessionContext", "sourceIdentity"]);
        let time = time_text(event);
        let epoch = time.as_ref().and_then(|t| epoch_seconds(t.as_bytes()));
        let when = time
            .as_ref()
            .map(|t| (epoch.unwrap_or(i64::MIN), t.clone()));
        let error = s(event, &["errorCode"]);
        let ip = s(event, &["sourceIPAddress"]);
        let keep_timeline = !self.filter.is_empty()
            && self.filter.admits(
                session_name.as_deref(),
                identity.as_deref(),
                access_key
                    .as_slice()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice(),
            );
        let a = self.activity.entry(key).or_default();
        a.tuple = a.tuple.take().or(tuple);
        a.role_arn = a.role_arn.take().or(issuer);
        a.session_name = a.session_name.take().or(session_name);
        a.access_key = a.access_key.take().or(access_key);
        a.source_identity = a.source_identity.take().or(identity);
        a.events += 1;
        if error.is_some() {
            a.errors += 1;
        }
        earlier(&mut a.first, when.clone());
        later(&mut a.last, when);
        insert_capped(&mut a.ips, ip.clone(), &mut a.truncated);
        insert_capped(&mut a.agents, s(event, &["userAgent"]), &mut a.truncated);
        let call = a.calls.entry(format!("{source}:{name}")).or_default();
        call.count += 1;
        if error.is_some() {
            call.errors += 1;
        }
        if keep_timeline && a.timeline.len() < MAX_TIMELINE {
            let s3 = source == "s3.amazonaws.com";
            let param = |key: &str| {
                s3.then(|| non_empty(s(event, &["requestParameters", key])))
                    .flatten()
            };
            a.timeline.push(TimelineEntry {
                event_time: time.unwrap_or_default(),
                event_source: source.to_owned(),
                event_name: name.to_owned(),
                error_code: error,
                source_ip_address: ip,
                event_id: s(event, &["eventID"]),
                bucket_name: param("bucketName"),
                key: param("key"),
                order: (epoch.unwrap_or(i64::MAX), position),
            });
        }
    }

    /// Adds another linker's observations (from another thread or input).
    pub fn merge(&mut self, other: Linker) {
        for (k, v) in other.issued {
            self.issued.entry(k).or_insert(v);
        }
        for (k, v) in other.activity {
            match self.activity.get_mut(&k) {
                Some(a) => a.merge(v),
                None => {
                    self.activity.insert(k, v);
                }
            }
        }
        self.switches.extend(other.switches);
        self.denied += other.denied;
        self.observed += other.observed;
    }

    /// Resolves every link and summarises each session, sorted by start time.
    pub fn finish(self) -> SessionReport {
        let mut stats = LinkStats {
            assume_role_events: self.issued.len() as u64,
            denied_assume_role_events: self.denied,
            ..LinkStats::default()
        };
        // Issues by tuple, candidates in event-id order so ties resolve the same every run.
        // Values are (event id, access key).
        let mut by_tuple: BTreeMap<Tuple, Vec<(Option<String>, String)>> = BTreeMap::new();
        for issue in self.issued.values() {
            if let Some(t) = epoch_seconds(issue.event_time.as_bytes()) {
                by_tuple
                    .entry((
                        issue.role_arn.to_ascii_lowercase(),
                        issue.role_session_name.clone(),
                        t,
                    ))
                    .or_default()
                    .push((issue.event_id.clone(), issue.access_key_id.clone()));
            }
        }
        for list in by_tuple.values_mut() {
            list.sort();
        }
        let mut by_identity: HashMap<(String, String), Vec<String>> = HashMap::new();
        for issue in self.issued.values() {
            if let Some(id) = &issue.source_identity {
                by_identity
                    .entry((issue.role_arn.to_ascii_lowercase(), id.clone()))
                    .or_default()
                    .push(issue.access_key_id.clone());
            }
        }

        // Group activity under the access key of the issue it links to.
        let mut linked: BTreeMap<String, (Activity, BTreeMap<String, u64>)> = BTreeMap::new();
        let mut orphans: BTreeMap<ActivityKey, Activity> = BTreeMap::new();
        let mut activity: Vec<(ActivityKey, Activity)> = self.activity.into_iter().collect();
        activity.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, act) in activity {
            stats.role_session_events += act.events;
            let by_key = match &key {
                ActivityKey::AccessKey(k) if self.issued.contains_key(k) => Some(k.clone()),
                _ => None,
            };
            let by_tuple_link = || {
                act.tuple
                    .as_ref()
                    .and_then(|t| by_tuple.get(t))
                    .and_then(|c| c.first())
                    .map(|(_, key)| key.clone())
            };
            let by_identity_link = || {
                let (Some(role), Some(id)) = (&act.role_arn, &act.source_identity) else {
                    return None;
                };
                match by_identity.get(&(role.to_ascii_lowercase(), id.clone())) {
                    Some(list) if list.len() == 1 => list.first().cloned(),
                    _ => None,
                }
            };
            let (target, how) = if let Some(k) = by_key {
                (Some(k), LinkedBy::AccessKey)
            } else if let Some(k) = by_tuple_link() {
                (Some(k), LinkedBy::Tuple)
            } else if let Some(k) = by_identity_link() {
                (Some(k), LinkedBy::SourceIdentity)
            } else {
                (None, LinkedBy::AccessKey)
            };
            let Some(target) = target else {
                stats.unlinked += act.events;
                match orphans.get_mut(&key) {
                    Some(a) => a.merge(act),
                    None => {
                        orphans.insert(key, act);
                    }
                }
                continue;
            };
            let label = match how {
                LinkedBy::AccessKey => {
                    stats.linked_by_access_key += act.events;
                    "accessKey"
                }
                LinkedBy::Tuple => {
                    stats.linked_by_tuple += act.events;
                    "tuple"
                }
                LinkedBy::SourceIdentity => {
                    stats.linked_by_source_identity += act.events;
                    "sourceIdentity"
                }
            };
            let events = act.events;
            let entry = linked.entry(target).or_default();
            entry.0.merge(act);
            *entry.1.entry(label.to_owned()).or_default() += events;
        }

        let switches: HashMap<&str, &Switch> = self
            .switches
            .iter()
            .map(|s| (s.shared_event_id.as_str(), s))
            .collect();
        let mut sessions = Vec::new();
        for (key, mut issue) in self.issued {
            if let Some(t) = epoch_seconds(issue.event_time.as_bytes()) {
                let tuple = (
                    issue.role_arn.to_ascii_lowercase(),
                    issue.role_session_name.clone(),
                    t,
                );
                issue.identical_tuples = by_tuple
                    .get(&tuple)
                    .map_or(0, |c| c.len().saturating_sub(1));
            }
            let console_switch = issue
                .shared_event_id
                .as_deref()
                .and_then(|id| switches.get(id))
                .map(|s| ConsoleSwitch {
                    event_time: s.time.clone(),
                    switch_from: s.from.clone(),
                    shared_event_id: s.shared_event_id.clone(),
                });
            if console_switch.is_some() {
                stats.console_switches += 1;
            }
            let (act, linked_by) = linked.remove(&key).unwrap_or_default();
            let mut keys = vec![issue.access_key_id.clone()];
            if let Some(k) = &act.access_key
                && !keys.contains(k)
            {
                keys.push(k.clone());
            }
            sessions.push(summary(
                Some(issue.clone()),
                console_switch,
                act,
                linked_by,
                keys,
                &issue,
            ));
        }
        for (_, act) in orphans {
            let keys: Vec<String> = act.access_key.iter().cloned().collect();
            sessions.push(orphan_summary(act, keys));
        }
        sessions.sort_by(|a, b| {
            (a.started.as_deref(), a.access_key_ids.first())
                .cmp(&(b.started.as_deref(), b.access_key_ids.first()))
        });
        let filter = &self.filter;
        for s in &mut sessions {
            let keys: Vec<&str> = s.access_key_ids.iter().map(String::as_str).collect();
            if filter.is_empty()
                || !filter.admits(
                    s.role_session_name.as_deref(),
                    s.source_identity.as_deref(),
                    &keys,
                )
            {
                s.timeline.clear();
            } else {
                s.timeline.sort_by_key(|t| t.order);
            }
        }
        SessionReport { sessions, stats }
    }
}

fn summary(
    assume_role: Option<Issue>,
    console_switch: Option<ConsoleSwitch>,
    act: Activity,
    linked_by: BTreeMap<String, u64>,
    access_key_ids: Vec<String>,
    issue: &Issue,
) -> SessionSummary {
    SessionSummary {
        role_arn: Some(issue.role_arn.clone()),
        role_session_name: Some(issue.role_session_name.clone()),
        source_identity: issue.source_identity.clone().or(act.source_identity),
        started: Some(issue.event_time.clone()),
        first_used: act.first.map(|(_, t)| t),
        last_used: act.last.map(|(_, t)| t),
        events: act.events,
        errors: act.errors,
        linked_by,
        source_ip_addresses: act.ips.into_iter().collect(),
        user_agents: act.agents.into_iter().collect(),
        truncated_distinct: act.truncated,
        calls: act.calls,
        timeline: act.timeline,
        access_key_ids,
        assume_role,
        console_switch,
    }
}

fn orphan_summary(act: Activity, access_key_ids: Vec<String>) -> SessionSummary {
    let first = act.first.clone().map(|(_, t)| t);
    SessionSummary {
        assume_role: None,
        console_switch: None,
        role_arn: act.role_arn,
        role_session_name: act.session_name,
        access_key_ids,
        source_identity: act.source_identity,
        started: first.clone(),
        first_used: first,
        last_used: act.last.map(|(_, t)| t),
        events: act.events,
        errors: act.errors,
        linked_by: BTreeMap::new(),
        source_ip_addresses: act.ips.into_iter().collect(),
        user_agents: act.agents.into_iter().collect(),
        truncated_distinct: act.truncated,
        calls: act.calls,
        timeline: act.timeline,
    }
}
