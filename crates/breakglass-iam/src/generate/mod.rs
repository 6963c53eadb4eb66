//! Least privilege from real use: the session policy a session's API calls needed.
//!
//! [`generate`] takes the calls ([`UsedCall`], from CloudTrail records or a stored timeline)
//! and, optionally, the playbook's session policy, and returns the policy that allows
//! exactly the actions used ([`Generated`]):
//! - each call is mapped to its IAM actions through the action catalog and the documented
//!   exceptions table ([`mapping`]); calls that need no action and calls that map to nothing
//!   are listed with the reason, never dropped silently; calls that authorization refused
//!   are listed and never added;
//! - resources are narrowed to the ARNs the calls named where the catalog's ARN formats for
//!   the action allow it ([`resources`]), otherwise `*`;
//! - with a playbook policy, an action is granted only on what the playbook's `Allow`
//!   statement for it covers, under that statement's conditions, and the playbook's `Deny`
//!   statements that apply are kept: the result never allows what the playbook does not. An
//!   action the playbook does not allow is reported, not added;
//! - the result is measured against the session-policy limit (2,048 characters) and, when
//!   over, made coarser step by step (resources to `*`, then action wildcards admitting only
//!   List/Read actions, then any action wildcard), each step recorded, every catalog action
//!   it admits beyond those used listed; then linted.

mod call;
pub mod mapping;
mod resources;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

pub use call::UsedCall;
pub use mapping::{AppliedException, Mapping};

use crate::catalog::{AccessLevel, Catalog};
use crate::compile::{CompiledPolicy, Cover};
use crate::error::PolicyErrors;
use crate::lint::{self, Finding};
use crate::pattern::Glob;
use crate::policy::{Effect, Policy};
use crate::policy_type::PolicyType;
use crate::size::{self, Limit, Size, TooLarge};

/// Why no policy could be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error("the playbook's session policy is not a valid session policy: {0}")]
    InvalidPlaybook(PolicyErrors),
    #[error("the action catalog is empty: load iam-data's `data` directory")]
    EmptyCatalog,
    #[error("the generated policy does not parse (a bug): {0}")]
    Internal(PolicyErrors),
}

/// One action the session used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsedAction {
    /// `service:Action` as the catalog spells it.
    pub action: String,
    /// How many calls needed it.
    pub calls: u64,
    /// The ARNs the calls named that the action can be narrowed to (empty: `*`).
    pub resources: Vec<String>,
    /// The events (`source:name`) that needed it.
    pub events: Vec<String>,
}

/// Calls of one event that were not turned into an action, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftOut {
    pub event_source: String,
    pub event_name: String,
    pub calls: u64,
    pub reason: String,
}

/// An action the session used that the playbook's policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutsidePlaybook {
    pub action: String,
    /// The resource it was used on (`*` when unknown).
    pub resource: String,
    pub reason: String,
}

/// "This grant used N of the M actions its playbook allowed".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsedOfAllowed {
    /// N: used actions the playbook allows.
    pub used: usize,
    /// M: actions the playbook allows.
    pub allowed: usize,
    /// Used actions the playbook does not allow.
    pub not_allowed: Vec<String>,
}

/// The generated policy and everything said about it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generated {
    /// The policy document (statements in a fixed order, actions sorted).
    pub policy: Value,
    /// The actions used, sorted.
    pub used: Vec<UsedAction>,
    /// Calls that need no IAM action (sign-ins, service events, `GetCallerIdentity`).
    pub no_action: Vec<LeftOut>,
    /// Calls that map to no catalog action.
    pub unmapped: Vec<LeftOut>,
    /// Calls authorization refused: attempted, not done, so not added.
    pub denied: Vec<LeftOut>,
    /// Used actions the playbook's policy does not allow: reported, not added.
    pub outside_playbook: Vec<OutsidePlaybook>,
    /// The exceptions of the table that decided some mapping.
    pub exceptions: Vec<AppliedException>,
    /// What was made coarser to fit the size limit, in order (empty: nothing).
    pub coarsened: Vec<String>,
    /// Catalog actions the policy allows that were not used (from coarsening wildcards).
    pub beyond_use: Vec<String>,
    /// The size of the compact document against the limit (the session-policy limit unless
    /// [`Options`] say otherwise).
    #[serde(serialize_with = "size_text")]
    pub size: Result<Size, TooLarge>,
    /// Lint findings (against the catalog).
    pub findings: Vec<Finding>,
}

fn size_text<S: serde::Serializer>(size: &Result<Size, TooLarge>, s: S) -> Result<S::Ok, S::Error> {
    match size {
        Ok(size) => s.serialize_str(&size.to_string()),
        Err(e) => s.serialize_str(&e.to_string()),
    }
}

impl Generated {
    /// The policy as compact JSON: what STS is given and what the limit counts.
    pub fn compact(&self) -> String {
        self.policy.to_string()
    }

    /// The policy as indented JSON.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.policy).unwrap_or_else(|_| self.compact())
    }

    /// N of M: how many of the actions `allowed` names (a playbook's, from
    /// [`playbook_actions`] or a [`crate::sweep::Sweep`]) were used.
    pub fn used_of_allowed<'a>(&self, allowed: impl IntoIterator<Item = &'a str>) -> UsedOfAllowed {
        let allowed: BTreeSet<String> = allowed.into_iter().map(str::to_lowercase).collect();
        let mut used = 0;
        let mut not_allowed = Vec::new();
        for a in &self.used {
            if allowed.contains(&a.action.to_lowercase()) {
                used += 1;
            } else {
                not_allowed.push(a.action.clone());
            }
        }
        UsedOfAllowed {
            used,
            allowed: allowed.len(),
            not_allowed,
        }
    }

    /// Whether the policy fits the session-policy limit.
    pub fn fits(&self) -> bool {
        self.size.is_ok()
    }

    /// Whether lint found an error.
    pub fn has_lint_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == lint::Severity::Error)
    }
}

/// The catalog actions a playbook's session policy allows (M of "N of M").
pub fn playbook_actions(catalog: &Catalog, playbook: &Policy) -> Vec<String> {
    catalog
        .allowed_actions(playbook)
        .into_iter()
        .map(|a| a.action)
        .collect()
}

/// What the playbook says about one action on one resource.
enum PlaybookGrant {
    /// Allowed by the statement at this index; the resources to grant (the call's ARN, or
    /// the statement's own resources when the call's resource is unknown and the statement
    /// covers only part of `*`) and whether they are a `NotResource`.
    Allowed {
        statement: usize,
        resources: Vec<String>,
        negated: bool,
    },
    /// Not allowed, and why.
    Refused(String),
}

struct Playbook<'p> {
    policy: &'p Policy,
    compiled: CompiledPolicy,
}

impl Playbook<'_> {
    fn grant(&self, action: &str, resource: &str) -> PlaybookGrant {
        let lower = action.to_lowercase();
        let glob = Glob::new(resource);
        for s in &self.compiled.statements {
            if s.effect == Effect::Deny
                && !s.is_conditional()
                && s.action_matches(&lower)
                && s.resource_cover(resource, &glob) == Cover::All
            {
                let at = self
                    .policy
                    .statements
                    .get(s.index)
                    .map_or_else(String::new, |st| st.pointer.as_str().to_owned());
                return PlaybookGrant::Refused(format!("the playbook's policy denies it ({at})"));
            }
        }
        for s in &self.compiled.statements {
            if s.effect != Effect::Allow || !s.action_matches(&lower) {
                continue;
            }
            match s.resource_cover(resource, &glob) {
                Cover::All => {
                    return PlaybookGrant::Allowed {
                        statement: s.index,
                        resources: vec![resource.to_owned()],
                        negated: false,
                    };
                }
                Cover::Part if resource == "*" => {
                    let Some(block) = self
                        .policy
                        .statements
                        .get(s.index)
                        .and_then(|st| st.resource.as_ref())
                    else {
                        continue;
                    };
                    return PlaybookGrant::Allowed {
                        statement: s.index,
                        resources: block.values.values.iter().map(|v| v.to_string()).collect(),
                        negated: block.negated,
                    };
                }
                _ => {}
            }
        }
        PlaybookGrant::Refused(if resource == "*" {
            "the playbook's policy does not allow it".to_owned()
        } else {
            format!("the playbook's policy does not allow it on `{resource}`")
        })
    }

    /// The `Condition` of statement `index`, as JSON (`None` without conditions).
    fn condition(&self, index: usize) -> Option<Value> {
        let statement = self.policy.statements.get(index)?;
        statement.to_json().get("Condition").cloned()
    }

    /// Whether any `Deny` statement could apply to `action_lower`.
    fn may_deny(&self, action_lower: &str) -> bool {
        self.compiled
            .statements
            .iter()
            .any(|s| s.effect == Effect::Deny && s.action_matches(action_lower))
    }
}

/// One group of the policy: the actions granted on the same resources under the same
/// conditions. Keys are JSON text so groups sort and compare deterministically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    /// The `Condition` as compact JSON, empty without one.
    condition: String,
    negated: bool,
    resources: Vec<String>,
}

/// Action entries of a group: exact actions, or `service:Prefix*` wildcards.
type Groups = BTreeMap<GroupKey, BTreeSet<String>>;

/// Per action: its uses across calls.
#[derive(Default)]
struct Use {
    calls: u64,
    arns: BTreeSet<String>,
    /// Some call named no ARN the action can be narrowed to.
    unknown: bool,
    events: BTreeSet<String>,
}

/// What kind of policy to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How the result is linted: [`PolicyType::Session`] for a grant's session policy,
    /// [`PolicyType::Identity`] for an IAM user's own policy.
    pub policy_type: PolicyType,
    /// The size limit the result must fit.
    pub limit: Limit,
}

impl Default for Options {
    /// A session policy within `AssumeRole`'s 2,048 characters.
    fn default() -> Options {
        Options {
            policy_type: PolicyType::Session,
            limit: Limit::SessionPolicy,
        }
    }
}

impl Options {
    /// An IAM user's customer managed policy (6,144 characters, whitespace not counted).
    pub fn identity() -> Options {
        Options {
            policy_type: PolicyType::Identity,
            limit: Limit::ManagedPolicy,
        }
    }
}

/// Generates the session policy `calls` needed, within `playbook` (a session policy's JSON
/// text) when given. See the module documentation.
pub fn generate(
    catalog: &Catalog,
    calls: &[UsedCall],
    playbook: Option<&str>,
) -> Result<Generated, GenerateError> {
    generate_with(catalog, calls, playbook, Options::default())
}

/// [`generate`] for another kind of policy (an IAM user's: [`Options::identity`]).
pub fn generate_with(
    catalog: &Catalog,
    calls: &[UsedCall],
    playbook: Option<&str>,
    options: Options,
) -> Result<Generated, GenerateError> {
    if catalog.is_empty() {
        return Err(GenerateError::EmptyCatalog);
    }
    let playbook_policy = playbook
        .map(|text| crate::parse(text, PolicyType::Session))
        .transpose()
        .map_err(GenerateError::InvalidPlaybook)?;
    let playbook = playbook_policy.as_ref().map(|policy| Playbook {
        policy,
        compiled: CompiledPolicy::new(policy),
    });

    let mut uses: BTreeMap<String, Use> = BTreeMap::new();
    let mut no_action: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    let mut unmapped: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    let mut denied: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    let mut exceptions: BTreeSet<AppliedException> = BTreeSet::new();
    let count =
        |map: &mut BTreeMap<(String, String), (u64, String)>, call: &UsedCall, reason: String| {
            map.entry((call.event_source.clone(), call.event_name.clone()))
                .or_insert((0, reason))
                .0 += 1;
        };
    for call in calls {
        if call.was_denied() {
            let code = call.error_code.clone().unwrap_or_default();
            count(
                &mut denied,
                call,
                format!("refused by authorization ({code}): attempted, not done, so not added"),
            );
            continue;
        }
        match mapping::map(catalog, call) {
            Mapping::NoAction { reason, exception } => {
                exceptions.insert(exception);
                count(&mut no_action, call, reason);
            }
            Mapping::Unknown { reason } => count(&mut unmapped, call, reason),
            Mapping::Actions { actions, exception } => {
                exceptions.extend(exception);
                for action in actions {
                    let narrowed = resources::narrow(catalog, &action, &call.resources);
                    let u = uses.entry(action).or_default();
                    u.calls += 1;
                    u.events
                        .insert(format!("{}:{}", call.event_source, call.event_name));
                    if narrowed.is_empty() {
                        u.unknown = true;
                    }
                    u.arns.extend(narrowed);
                }
            }
        }
    }
    let left_out = |map: BTreeMap<(String, String), (u64, String)>| -> Vec<LeftOut> {
        map.into_iter()
            .map(|((event_source, event_name), (calls, reason))| LeftOut {
                event_source,
                event_name,
                calls,
                reason,
            })
            .collect()
    };
    let used: Vec<UsedAction> = uses
        .iter()
        .map(|(action, u)| UsedAction {
            action: action.clone(),
            calls: u.calls,
            resources: if u.unknown {
                Vec::new()
            } else {
                u.arns.iter().cloned().collect()
            },
            events: u.events.iter().cloned().collect(),
        })
        .collect();

    let (narrow_groups, outside) = group(&uses, playbook.as_ref(), true);
    let mut groups = narrow_groups;
    let mut coarsened = Vec::new();
    let mut beyond_use: BTreeSet<String> = BTreeSet::new();
    let denies = playbook
        .as_ref()
        .map(|p| kept_denies(p, &uses))
        .unwrap_or_default();
    let measure = |groups: &Groups| {
        size::check(
            "the generated policy",
            &document(groups, &denies).to_string(),
            options.limit,
        )
    };
    if measure(&groups).is_err() {
        let (wide, _) = group(&uses, playbook.as_ref(), false);
        if wide != groups {
            groups = wide;
            coarsened.push(
                "resources: every action granted on `*` (or the playbook's resources) instead of the ARNs its calls named"
                    .to_owned(),
            );
        }
    }
    for any_level in [false, true] {
        if measure(&groups).is_ok() {
            break;
        }
        wildcards(
            catalog,
            playbook.as_ref(),
            &uses,
            &mut groups,
            any_level,
            &measure,
            &mut coarsened,
            &mut beyond_use,
        );
    }
    let policy = document(&groups, &denies);
    let parsed =
        crate::parse_value(&policy, options.policy_type).map_err(GenerateError::Internal)?;
    let findings = lint::lint(&parsed, options.policy_type, Some(catalog));
    let size = measure(&groups);
    let mut outside: Vec<OutsidePlaybook> = outside;
    outside.sort_by(|a, b| (&a.action, &a.resource).cmp(&(&b.action, &b.resource)));
    Ok(Generated {
        policy,
        used,
        no_action: left_out(no_action),
        unmapped: left_out(unmapped),
        denied: left_out(denied),
        outside_playbook: outside,
        exceptions: exceptions.into_iter().collect(),
        coarsened,
        beyond_use: beyond_use.into_iter().collect(),
        size,
        findings,
    })
}

/// Groups the used actions by resources and conditions. With `narrow`, an action is granted
/// on the ARNs its calls named (when every call named one); otherwise on `*`, within the
/// playbook's resources.
fn group(
    uses: &BTreeMap<String, Use>,
    playbook: Option<&Playbook<'_>>,
    narrow: bool,
) -> (Groups, Vec<OutsidePlaybook>) {
    // (condition, negated, action) → resources
    let mut per_action: BTreeMap<(String, bool, String), BTreeSet<String>> = BTreeMap::new();
    let mut outside = Vec::new();
    for (action, u) in uses {
        let targets: Vec<String> = if narrow && !u.unknown && !u.arns.is_empty() {
            u.arns
                .iter()
                .map(|a| resources::literal_resource(a))
                .collect()
        } else {
            vec!["*".to_owned()]
        };
        for target in targets {
            match playbook {
                None => {
                    per_action
                        .entry((String::new(), false, action.clone()))
                        .or_default()
                        .insert(target);
                }
                Some(p) => match p.grant(action, &target) {
                    PlaybookGrant::Allowed {
                        statement,
                        resources,
                        negated,
                    } => {
                        let condition = p
                            .condition(statement)
                            .map_or_else(String::new, |c| c.to_string());
                        per_action
                            .entry((condition, negated, action.clone()))
                            .or_default()
                            .extend(resources);
                    }
                    PlaybookGrant::Refused(reason) => outside.push(OutsidePlaybook {
                        action: action.clone(),
                        resource: target,
                        reason,
                    }),
                },
            }
        }
    }
    let mut groups: Groups = BTreeMap::new();
    for ((condition, negated, action), resources) in per_action {
        let mut resources: Vec<String> = resources.into_iter().collect();
        if !negated && resources.iter().any(|r| r == "*") {
            resources = vec!["*".to_owned()];
        }
        groups
            .entry(GroupKey {
                condition,
                negated,
                resources,
            })
            .or_default()
            .insert(action);
    }
    (groups, outside)
}

/// The playbook's `Deny` statements that could apply to a used action, as written.
fn kept_denies(playbook: &Playbook<'_>, uses: &BTreeMap<String, Use>) -> Vec<Value> {
    playbook
        .compiled
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Deny)
        .filter(|s| uses.keys().any(|a| s.action_matches(&a.to_lowercase())))
        .filter_map(|s| playbook.policy.statements.get(s.index))
        .map(|s| s.to_json())
        .collect()
}

/// One value, or an array of several.
fn one_or_many(values: impl IntoIterator<Item = String>) -> Value {
    let mut values: Vec<Value> = values.into_iter().map(Value::String).collect();
    match (values.len(), values.pop()) {
        (1, Some(only)) => only,
        (_, last) => {
            values.extend(last);
            Value::Array(values)
        }
    }
}

/// The policy document of `groups` (statements on `*` first, then by resources) followed
/// by the kept denies. A session that used nothing gets a deny of everything.
fn document(groups: &Groups, denies: &[Value]) -> Value {
    let mut entries: Vec<(&GroupKey, &BTreeSet<String>)> = groups.iter().collect();
    let order = |k: &GroupKey| {
        (
            k.resources != ["*"],
            k.negated,
            k.resources.clone(),
            k.condition.clone(),
        )
    };
    entries.sort_by_key(|(a, _)| order(a));
    let mut statements: Vec<Value> = Vec::new();
    for (key, actions) in entries {
        let mut s = serde_json::Map::new();
        s.insert("Effect".into(), json!("Allow"));
        s.insert("Action".into(), one_or_many(actions.iter().cloned()));
        let name = if key.negated {
            "NotResource"
        } else {
            "Resource"
        };
        s.insert(name.into(), one_or_many(key.resources.iter().cloned()));
        if !key.condition.is_empty()
            && let Ok(c) = serde_json::from_str::<Value>(&key.condition)
        {
            s.insert("Condition".into(), c);
        }
        statements.push(Value::Object(s));
    }
    if statements.is_empty() {
        statements
            .push(json!({"Sid": "NothingUsed", "Effect": "Deny", "Action": "*", "Resource": "*"}));
    }
    statements.extend(denies.iter().cloned());
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The word prefixes of an action name: `DescribeVpcAttribute` → `Describe`,
/// `DescribeVpc`.
fn word_prefixes(name: &str) -> Vec<&str> {
    name.char_indices()
        .skip(1)
        .filter(|(_, c)| c.is_ascii_uppercase())
        .filter_map(|(i, _)| name.get(..i))
        .collect()
}

/// A wildcard considered: its score, its group, the pattern, the entries it replaces and the
/// actions it admits beyond them.
type Candidate = (f64, GroupKey, String, Vec<String>, Vec<String>);

/// Replaces groups' actions with `service:Prefix*` wildcards, most characters saved per
/// action admitted beyond use first, until the policy fits or no wildcard is acceptable.
/// Without `any_level`, a wildcard may admit only List and Read actions beyond those used;
/// with a playbook, only actions the playbook allows on the group's resources under the
/// group's conditions, and no action any playbook deny names.
#[allow(
    clippy::too_many_arguments,
    reason = "one step of `generate`, sharing its state"
)]
fn wildcards(
    catalog: &Catalog,
    playbook: Option<&Playbook<'_>>,
    uses: &BTreeMap<String, Use>,
    groups: &mut Groups,
    any_level: bool,
    measure: &dyn Fn(&Groups) -> Result<Size, TooLarge>,
    coarsened: &mut Vec<String>,
    beyond_use: &mut BTreeSet<String>,
) {
    while measure(groups).is_err() {
        // (score, key, pattern, covered entries, extras)
        let mut best: Option<Candidate> = None;
        for (key, entries) in groups.iter() {
            let mut candidates: BTreeSet<(String, String)> = BTreeSet::new();
            for entry in entries {
                let Some((service, name)) = entry.split_once(':') else {
                    continue;
                };
                let name = name.trim_end_matches('*');
                for prefix in word_prefixes(name) {
                    candidates.insert((service.to_owned(), prefix.to_owned()));
                }
            }
            for (service, prefix) in candidates {
                let pattern = format!("{service}:{prefix}*");
                let lower_prefix = pattern.trim_end_matches('*').to_lowercase();
                let covered: Vec<String> = entries
                    .iter()
                    .filter(|e| e.to_lowercase().starts_with(&lower_prefix) && **e != pattern)
                    .cloned()
                    .collect();
                if covered.len() < 2 {
                    continue;
                }
                let saved: usize = covered.iter().map(|c| c.len() + 3).sum::<usize>();
                let cost = pattern.len() + 3;
                if saved <= cost {
                    continue;
                }
                let matching = catalog.matching(&pattern);
                let mut extras = Vec::new();
                let mut acceptable = true;
                for a in &matching {
                    let full = a.full_name();
                    let lower = full.to_lowercase();
                    let used_here = entries.iter().any(|e| e.to_lowercase() == lower)
                        || covered.iter().any(|c| c.to_lowercase() == lower);
                    if used_here {
                        continue;
                    }
                    let level_ok = any_level
                        || matches!(
                            a.info.access.primary(),
                            Some(AccessLevel::List | AccessLevel::Read)
                        );
                    let playbook_ok = playbook.is_none_or(|p| {
                        !p.may_deny(&lower)
                            && key.resources.iter().all(|r| match p.grant(&full, r) {
                                PlaybookGrant::Allowed {
                                    statement,
                                    resources,
                                    negated,
                                } => {
                                    p.condition(statement)
                                        .map_or_else(String::new, |c| c.to_string())
                                        == key.condition
                                        && negated == key.negated
                                        && resources == [r.clone()]
                                }
                                PlaybookGrant::Refused(_) => false,
                            })
                    });
                    if !(level_ok && playbook_ok) {
                        acceptable = false;
                        break;
                    }
                    extras.push(full);
                }
                if !acceptable {
                    continue;
                }
                let score = (saved - cost) as f64 / (1.0 + extras.len() as f64);
                if best.as_ref().is_none_or(|b| score > b.0) {
                    best = Some((score, key.clone(), pattern, covered, extras));
                }
            }
        }
        let Some((_, key, pattern, covered, extras)) = best else {
            return;
        };
        let Some(entries) = groups.get_mut(&key) else {
            return;
        };
        for c in &covered {
            entries.remove(c);
        }
        entries.insert(pattern.clone());
        let levels = if any_level {
            "of any access level"
        } else {
            "all List or Read"
        };
        coarsened.push(format!(
            "`{pattern}` stands for {} used action(s) and allows {} more ({levels})",
            covered.len(),
            extras.len()
        ));
        beyond_use.extend(extras.into_iter().filter(|a| !uses.contains_key(a)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_prefixes_split_on_capitals() {
        assert_eq!(
            word_prefixes("DescribeVpcAttribute"),
            vec!["Describe", "DescribeVpc"]
        );
        assert!(word_prefixes("Decrypt").is_empty());
    }
}
