//! The effective-permission sweep: every catalog action a [`PolicySet`] lets its principal
//! perform on a resource (or on every resource, `*`), grouped by service and access level,
//! each with the statements that decide it.
//!
//! This is what "what does this grant really allow" needs: the role's identity policies,
//! its permissions boundary, the session policy and the SCPs must each allow, and no deny
//! (RCPs included) may cover the action. It works on the compiled statements rather than
//! on requests, so conditions need no context: an allow under a condition, an allow on only
//! part of the resource, or a deny that may apply under a condition or to part of the
//! resource makes the action [`Access::Restricted`]; an unconditional deny covering the
//! resource removes it. The resource-based policy and the VPC endpoint policy are not part
//! of the sweep: they belong to a resource, not to the principal.

use crate::catalog::{Access, AccessLevel, Catalog};
use crate::compile::{CompiledPolicy, CompiledStatement, Cover};
use crate::eval::{PolicyId, PolicySet, Reason};
use crate::fast_hash::Key;
use crate::pattern::Glob;
use crate::policy::Effect;

/// Every catalog action a policy set allows on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// The resource swept: an ARN, an ARN pattern, or `*` for every resource.
    pub resource: String,
    /// The services with at least one allowed action, by prefix.
    pub services: Vec<ServiceSweep>,
}

/// The allowed actions of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSweep {
    /// The service prefix (lower case).
    pub service: String,
    /// The allowed actions by access level (List, Read, Write, Permissions management,
    /// Tagging; `None` last for actions the catalog gives no level).
    pub levels: Vec<LevelSweep>,
}

/// The allowed actions of one access level of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelSweep {
    /// The level each action is counted under (see [`crate::catalog::AccessLevels::primary`]).
    pub level: Option<AccessLevel>,
    pub actions: Vec<SweptAction>,
}

/// An allowed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptAction {
    /// `service:Action` as the catalog spells it.
    pub action: String,
    /// Allowed outright, or only on part of the resource, under conditions, or unless a
    /// conditional deny applies.
    pub access: Access,
    /// The `Allow` that admits the action in each kind of policy that must allow, then
    /// every deny that may still apply.
    pub decided_by: Vec<Reason>,
}

impl Sweep {
    /// Every allowed action, by service and level.
    pub fn actions(&self) -> impl Iterator<Item = &SweptAction> {
        self.services
            .iter()
            .flat_map(|s| s.levels.iter())
            .flat_map(|l| l.actions.iter())
    }

    /// The number of allowed actions.
    pub fn len(&self) -> usize {
        self.actions().count()
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The number of allowed actions counted under `level`.
    pub fn count(&self, level: AccessLevel) -> usize {
        self.services
            .iter()
            .flat_map(|s| s.levels.iter())
            .filter(|l| l.level == Some(level))
            .map(|l| l.actions.len())
            .sum()
    }
}

/// A statement that could decide, with how much of the resource it covers.
#[derive(Clone, Copy)]
struct Candidate<'a> {
    id: PolicyId,
    statement: &'a CompiledStatement,
    /// Covers all of the resource with no condition.
    certain: bool,
}

/// The policies of one kind that must allow, each with its statements' resource cover.
struct Layer<'a> {
    policies: Vec<(PolicyId, &'a CompiledPolicy, Vec<Cover>)>,
}

impl<'a> Layer<'a> {
    fn new(
        policies: impl Iterator<Item = (PolicyId, &'a CompiledPolicy)>,
        target: &str,
        glob: &Glob,
    ) -> Layer<'a> {
        Layer {
            policies: policies
                .map(|(id, p)| {
                    let covers = p
                        .statements
                        .iter()
                        .map(|s| s.resource_cover(target, glob))
                        .collect();
                    (id, p, covers)
                })
                .collect(),
        }
    }

    /// The allows and denies of this layer that could apply to an action of `service`.
    fn candidates(
        &self,
        service: &Key,
        allows: &mut Vec<Candidate<'a>>,
        denies: &mut Vec<Candidate<'a>>,
    ) {
        for (id, policy, covers) in &self.policies {
            for s in policy.candidates(service) {
                let cover = covers.get(s.index).copied().unwrap_or(Cover::None);
                if cover == Cover::None {
                    continue;
                }
                let c = Candidate {
                    id: *id,
                    statement: s,
                    certain: cover == Cover::All && !s.is_conditional(),
                };
                match s.effect {
                    Effect::Allow => allows.push(c),
                    Effect::Deny => denies.push(c),
                }
            }
        }
    }
}

impl PolicySet {
    /// Sweeps `catalog`: every action the set's principal side (identity policies,
    /// permissions boundary, session policies, SCPs; RCP denies) allows on `resource` (an
    /// ARN, an ARN pattern, or `*` for every resource). See the module documentation for
    /// what counts as restricted.
    pub fn sweep(&self, catalog: &Catalog, resource: &str) -> Sweep {
        let glob = Glob::new(resource);
        let mut layers: Vec<Layer<'_>> = Vec::new();
        layers.push(Layer::new(
            self.identity
                .iter()
                .enumerate()
                .map(|(i, p)| (PolicyId::Identity(i), p)),
            resource,
            &glob,
        ));
        if let Some(b) = &self.boundary {
            layers.push(Layer::new(
                std::iter::once((PolicyId::Boundary, b)),
                resource,
                &glob,
            ));
        }
        if !self.session.is_empty() {
            layers.push(Layer::new(
                self.session
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (PolicyId::Session(i), p)),
                resource,
                &glob,
            ));
        }
        for (level, policies) in self.scps.iter().enumerate() {
            layers.push(Layer::new(
                policies
                    .iter()
                    .enumerate()
                    .map(|(index, p)| (PolicyId::Scp { level, index }, p)),
                resource,
                &glob,
            ));
        }
        // RCPs only deny (RCPFullAWSAccess is everywhere): their denies count, their
        // allows are not required.
        let rcps = Layer::new(
            self.rcps.iter().enumerate().flat_map(|(level, policies)| {
                policies
                    .iter()
                    .enumerate()
                    .map(move |(index, p)| (PolicyId::Rcp { level, index }, p))
            }),
            resource,
            &glob,
        );

        let mut services = Vec::new();
        let mut allows: Vec<Vec<Candidate<'_>>> = layers.iter().map(|_| Vec::new()).collect();
        let mut denies: Vec<Candidate<'_>> = Vec::new();
        let mut scratch: Vec<Candidate<'_>> = Vec::new();
        for (prefix, service) in catalog.services() {
            let key = Key::new(prefix);
            denies.clear();
            for (layer, found) in layers.iter().zip(allows.iter_mut()) {
                found.clear();
                layer.candidates(&key, found, &mut denies);
            }
            rcps.candidates(&key, &mut scratch, &mut denies);
            scratch.clear();
            if allows.iter().any(Vec::is_empty) {
                continue;
            }
            let mut by_level: Vec<LevelSweep> = Vec::new();
            for (info, lower) in service.actions().iter().zip(&service.lower_names) {
                let Some(swept) = decide(lower, &allows, &denies) else {
                    continue;
                };
                let level = info.access.primary();
                let action = SweptAction {
                    action: format!("{prefix}:{}", info.name),
                    access: swept.0,
                    decided_by: swept.1,
                };
                match by_level.iter_mut().find(|l| l.level == level) {
                    Some(l) => l.actions.push(action),
                    None => by_level.push(LevelSweep {
                        level,
                        actions: vec![action],
                    }),
                }
            }
            if by_level.is_empty() {
                continue;
            }
            by_level.sort_by_key(|l| (l.level.is_none(), l.level));
            services.push(ServiceSweep {
                service: prefix.to_owned(),
                levels: by_level,
            });
        }
        Sweep {
            resource: resource.to_owned(),
            services,
        }
    }
}

/// Decides one action: `None` when some layer does not allow it or an unconditional deny
/// covers the resource.
fn decide(
    lower: &str,
    allows: &[Vec<Candidate<'_>>],
    denies: &[Candidate<'_>],
) -> Option<(Access, Vec<Reason>)> {
    let mut certain = true;
    let mut reasons = Vec::with_capacity(allows.len());
    for layer in allows {
        // The first certain allow, else the first that may allow.
        let mut best: Option<&Candidate<'_>> = None;
        for c in layer {
            if !c.statement.action_matches(lower) {
                continue;
            }
            if c.certain {
                best = Some(c);
                break;
            }
            best = best.or(Some(c));
        }
        let c = best?;
        certain &= c.certain;
        reasons.push(statement_reason(c, Effect::Allow));
    }
    for d in denies {
        if !d.statement.action_matches(lower) {
            continue;
        }
        if d.certain {
            return None;
        }
        certain = false;
        reasons.push(statement_reason(d, Effect::Deny));
    }
    let access = if certain {
        Access::Unconditional
    } else {
        Access::Restricted
    };
    Some((access, reasons))
}

fn statement_reason(c: &Candidate<'_>, effect: Effect) -> Reason {
    Reason::Statement {
        policy: c.id,
        statement: c.statement.index,
        effect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PolicyType, parse};

    const S3: &str = r#"{
      "getobject": {"name": "GetObject", "accessLevel": "Read"},
      "putobject": {"name": "PutObject", "accessLevel": "Write"},
      "listbucket": {"name": "ListBucket", "accessLevel": "List"},
      "putbucketpolicy": {"name": "PutBucketPolicy", "accessLevel": "Permissions management, Write"},
      "tagresource": {"name": "TagResource", "accessLevel": "Tagging, Write"}
    }"#;
    const EC2: &str = r#"{"stopinstances": {"name": "StopInstances", "accessLevel": "Write"}}"#;

    fn catalog() -> Catalog {
        let mut c = Catalog::new();
        c.add_service("s3", S3).unwrap();
        c.add_service("ec2", EC2).unwrap();
        c
    }

    fn policy(text: &str, ty: PolicyType) -> crate::Policy {
        parse(text, ty).unwrap()
    }

    fn names(sweep: &Sweep) -> Vec<(&str, Access)> {
        sweep
            .actions()
            .map(|a| (a.action.as_str(), a.access))
            .collect()
    }

    #[test]
    fn intersects_layers_and_names_the_deciding_statements() {
        let identity = policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:*","Resource":"*"},
                {"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
            PolicyType::Identity,
        );
        let boundary = policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["s3:Get*","s3:Put*","s3:List*"],"Resource":"*"},
                {"Effect":"Deny","Action":"s3:PutBucketPolicy","Resource":"*"}]}"#,
            PolicyType::Boundary,
        );
        let session = policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::evidence/*"},
                {"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},
                {"Effect":"Allow","Action":"s3:PutBucketPolicy","Resource":"*"},
                {"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
            PolicyType::Session,
        );
        let set = PolicySet::builder()
            .identity(&identity)
            .boundary(&boundary)
            .session(&session)
            .build();
        let sweep = set.sweep(&catalog(), "*");
        // ec2 is outside the boundary; PutBucketPolicy is denied outright; GetObject may be
        // denied (MFA); PutObject only on part of `*`; ListBucket under a condition.
        assert_eq!(
            names(&sweep),
            [
                ("s3:ListBucket", Access::Restricted),
                ("s3:GetObject", Access::Restricted),
                ("s3:PutObject", Access::Restricted),
            ]
        );
        let get = sweep
            .actions()
            .find(|a| a.action == "s3:GetObject")
            .unwrap();
        let st = |policy, statement, effect| Reason::Statement {
            policy,
            statement,
            effect,
        };
        assert_eq!(
            get.decided_by,
            [
                st(PolicyId::Identity(0), 0, Effect::Allow),
                st(PolicyId::Boundary, 0, Effect::Allow),
                st(PolicyId::Session(0), 0, Effect::Allow),
                st(PolicyId::Session(0), 4, Effect::Deny),
            ]
        );
        assert_eq!(sweep.count(AccessLevel::Read), 1);
        assert_eq!(sweep.count(AccessLevel::PermissionsManagement), 0);

        // On the evidence bucket PutObject is allowed outright.
        let on_bucket = set.sweep(&catalog(), "arn:aws:s3:::evidence/case-1/*");
        assert!(
            names(&on_bucket).contains(&("s3:PutObject", Access::Unconditional)),
            "{:?}",
            names(&on_bucket)
        );
    }

    #[test]
    fn groups_by_service_and_most_specific_level() {
        let admin = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyType::Identity,
        );
        let sweep = PolicySet::builder()
            .identity(&admin)
            .build()
            .sweep(&catalog(), "*");
        let shape: Vec<(&str, Vec<Option<AccessLevel>>)> = sweep
            .services
            .iter()
            .map(|s| {
                (
                    s.service.as_str(),
                    s.levels.iter().map(|l| l.level).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("ec2", vec![Some(AccessLevel::Write)]),
                (
                    "s3",
                    vec![
                        Some(AccessLevel::List),
                        Some(AccessLevel::Read),
                        Some(AccessLevel::Write),
                        Some(AccessLevel::PermissionsManagement),
                        Some(AccessLevel::Tagging),
                    ]
                ),
            ]
        );
        assert_eq!(sweep.len(), 6);
        assert!(sweep.actions().all(|a| a.access == Access::Unconditional));
    }

    #[test]
    fn rcp_denies_and_scp_levels_count() {
        let admin = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyType::Identity,
        );
        let scp = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
            PolicyType::Scp,
        );
        let rcp = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:Put*","Resource":"*"}}"#,
            PolicyType::Rcp,
        );
        let sweep = PolicySet::builder()
            .identity(&admin)
            .scp_level([&scp])
            .rcp_level([&rcp])
            .build()
            .sweep(&catalog(), "*");
        assert_eq!(
            names(&sweep),
            [
                ("s3:ListBucket", Access::Unconditional),
                ("s3:GetObject", Access::Unconditional),
                ("s3:TagResource", Access::Unconditional),
            ]
        );
    }
}
