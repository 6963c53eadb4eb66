//! Deciding a request against the policies that apply to it, as the IAM User Guide's
//! "Policy evaluation logic" and "Cross-account policy evaluation logic" describe:
//!
//! 0. `sts:GetCallerIdentity` needs no permission: an IAM principal may always call it;
//! 1. write actions on resources AWS owns (AWS managed policies, IAM Identity Center's
//!    reserved roles, `alias/aws/*` KMS aliases) are denied whatever the policies say;
//! 2. an applicable `Deny` anywhere is an explicit deny (a VPC endpoint policy included);
//! 3. SCPs (principal side) need an `Allow` at every level; RCPs (resource side) only deny,
//!    as `RCPFullAWSAccess` is attached at every level and cannot be detached; a VPC
//!    endpoint policy, when the request goes through one, must allow;
//! 4. in the same account, a resource-based policy can grant on its own, depending on the
//!    principal it names (user or session: directly; role ARN: still bounded by the
//!    permissions boundary and session policy; account: only delegates), except that role
//!    trust and KMS key policies must always allow (which of those applies is inferred
//!    from the action and resource unless the set declares it);
//! 5. otherwise identity policies must allow, and the boundary and session policy (when
//!    present) must allow too;
//! 6. across accounts both sides must allow: the caller's (identity, boundary, session,
//!    SCPs) and the resource's (resource policy, RCPs).
//!
//! The result is data: a [`Decision`] and the [`Reason`]s behind it.

use std::fmt;

use crate::compile::{CompiledPolicy, Grant};
use crate::policy::{Effect, Policy};
use crate::request::{Caller, Request};

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// The decision's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "Allow",
            Decision::ExplicitDeny => "ExplicitDeny",
            Decision::ImplicitDeny => "ImplicitDeny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which policy of a [`PolicySet`] a reason refers to, by position in the order added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyId {
    /// The n-th identity policy.
    Identity(usize),
    /// The resource-based policy (or trust policy, or key policy).
    Resource,
    /// The permissions boundary.
    Boundary,
    /// The n-th session policy.
    Session(usize),
    /// SCP `index` at organization level `level` (0 = root).
    Scp { level: usize, index: usize },
    /// RCP `index` at organization level `level` (0 = root).
    Rcp { level: usize, index: usize },
    /// The policy of the VPC endpoint the request goes through.
    VpcEndpoint,
}

/// A kind of policy that must contribute an `Allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Identity,
    Resource,
    Boundary,
    Session,
    /// SCPs at organization level n (0 = root).
    Scp(usize),
    /// RCPs at organization level n (0 = root).
    Rcp(usize),
    /// The VPC endpoint policy.
    VpcEndpoint,
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A statement that decided: every applicable `Deny` of an explicit deny, or an `Allow`
    /// of each kind of policy that had to allow.
    Statement {
        policy: PolicyId,
        /// Index of the statement in its policy.
        statement: usize,
        effect: Effect,
    },
    /// A kind of policy that had to allow and did not.
    NoAllow(Layer),
    /// The account's root user, which identity policies do not restrict.
    RootUser,
    /// An action that needs no permission (`sts:GetCallerIdentity`): allowed to every IAM
    /// principal even under an explicit deny.
    NoPermissionRequired,
    /// A write action on a resource AWS owns, which no customer policy can allow.
    AwsOwnedResource,
}

/// A decision and its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub decided_by: Vec<Reason>,
}

/// What kind of resource-based policy applies to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResourcePolicyKind {
    /// A resource policy that grants on its own within the account (S3, SQS, ...).
    #[default]
    Resource,
    /// A role trust policy: must always allow, even within the account.
    Trust,
    /// A KMS key policy: must always allow, even within the account.
    KeyPolicy,
}

impl ResourcePolicyKind {
    /// The kind AWS applies to `action` on `resource`: a role's trust policy for
    /// `sts:AssumeRole*` (and the `sts:TagSession`/`sts:SetSourceIdentity`/`sts:SetContext`
    /// that come with it) on a role ARN, a key policy for a `kms:` action on a key ARN, and
    /// an ordinary resource policy otherwise.
    pub fn infer(action: &str, resource: &str) -> ResourcePolicyKind {
        // Cheap tests first: this runs on every evaluation of a set without a declared kind.
        let Some((service, name)) = action.split_once(':') else {
            return ResourcePolicyKind::Resource;
        };
        let sts = service.eq_ignore_ascii_case("sts");
        if !sts && !service.eq_ignore_ascii_case("kms") {
            return ResourcePolicyKind::Resource;
        }
        let Some(arn) = crate::arn::Arn::parse(resource) else {
            return ResourcePolicyKind::Resource;
        };
        let trust_action = name
            .get(..10)
            .is_some_and(|head| head.eq_ignore_ascii_case("assumerole"))
            || ["tagsession", "setsourceidentity", "setcontext"]
                .iter()
                .any(|a| name.eq_ignore_ascii_case(a));
        if sts && trust_action && arn.service == "iam" && arn.resource.starts_with("role/") {
            return ResourcePolicyKind::Trust;
        }
        if !sts && arn.service == "kms" && arn.resource.starts_with("key/") {
            return ResourcePolicyKind::KeyPolicy;
        }
        ResourcePolicyKind::Resource
    }
}

/// The policies that apply to one caller and one resource, compiled once for many
/// evaluations.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub(crate) identity: Vec<CompiledPolicy>,
    resource: Option<CompiledPolicy>,
    /// The kind of resource policy when declared; otherwise inferred per request. For a
    /// role or KMS key an explicit allow is required even when no policy was given.
    resource_kind: Option<ResourcePolicyKind>,
    vpc_endpoint: Option<CompiledPolicy>,
    pub(crate) boundary: Option<CompiledPolicy>,
    pub(crate) session: Vec<CompiledPolicy>,
    pub(crate) scps: Vec<Vec<CompiledPolicy>>,
    pub(crate) rcps: Vec<Vec<CompiledPolicy>>,
}

/// Builds a [`PolicySet`]; policies are compiled as they are added.
#[derive(Debug, Clone, Default)]
pub struct PolicySetBuilder {
    set: PolicySet,
}

impl PolicySetBuilder {
    /// Adds an identity policy (user, group or role; inline or managed).
    pub fn identity(mut self, policy: &Policy) -> PolicySetBuilder {
        self.set.identity.push(CompiledPolicy::new(policy));
        self
    }

    /// Sets the resource-based policy and declares its kind.
    pub fn resource(mut self, policy: &Policy, kind: ResourcePolicyKind) -> PolicySetBuilder {
        self.set.resource = Some(CompiledPolicy::new(policy));
        self.set.resource_kind = Some(kind);
        self
    }

    /// Sets the resource-based policy, its kind inferred from each request
    /// ([`ResourcePolicyKind::infer`]).
    pub fn resource_policy(mut self, policy: &Policy) -> PolicySetBuilder {
        self.set.resource = Some(CompiledPolicy::new(policy));
        self
    }

    /// Sets the policy of the VPC endpoint the requests go through. It never grants: it
    /// must allow, and its denies apply, like an SCP on the network path.
    pub fn vpc_endpoint(mut self, policy: &Policy) -> PolicySetBuilder {
        self.set.vpc_endpoint = Some(CompiledPolicy::new(policy));
        self
    }

    /// Declares what kind of resource is accessed without giving its policy: for a role
    /// ([`ResourcePolicyKind::Trust`]) or KMS key this means nothing explicitly allows.
    pub fn resource_kind(mut self, kind: ResourcePolicyKind) -> PolicySetBuilder {
        self.set.resource_kind = Some(kind);
        self
    }

    /// Sets the permissions boundary.
    pub fn boundary(mut self, policy: &Policy) -> PolicySetBuilder {
        self.set.boundary = Some(CompiledPolicy::new(policy));
        self
    }

    /// Adds a session policy (inline or managed; several combine as a union).
    pub fn session(mut self, policy: &Policy) -> PolicySetBuilder {
        self.set.session.push(CompiledPolicy::new(policy));
        self
    }

    /// Adds the SCPs attached at the next organization level, from the root down to the
    /// account.
    pub fn scp_level<'a>(
        mut self,
        policies: impl IntoIterator<Item = &'a Policy>,
    ) -> PolicySetBuilder {
        self.set
            .scps
            .push(policies.into_iter().map(CompiledPolicy::new).collect());
        self
    }

    /// Adds the RCPs attached at the next organization level, from the root down to the
    /// account.
    pub fn rcp_level<'a>(
        mut self,
        policies: impl IntoIterator<Item = &'a Policy>,
    ) -> PolicySetBuilder {
        self.set
            .rcps
            .push(policies.into_iter().map(CompiledPolicy::new).collect());
        self
    }

    /// The compiled set.
    pub fn build(self) -> PolicySet {
        self.set
    }
}

/// What scanning one kind of policy found.
#[derive(Debug, Default)]
struct Found {
    /// The first applicable `Allow`.
    allow: Option<(PolicyId, usize)>,
}

impl PolicySet {
    /// Starts building a set.
    pub fn builder() -> PolicySetBuilder {
        PolicySetBuilder::default()
    }

    /// Decides `req`.
    pub fn evaluate(&self, req: &Request) -> Evaluation {
        let caller = &req.caller;
        let iam_caller = caller.account().is_some();
        if iam_caller && req.action_lower == "sts:getcalleridentity" {
            return allow(vec![Reason::NoPermissionRequired]);
        }
        if crate::owned::is_aws_owned_write(&req.action_lower, &req.resource) {
            return Evaluation {
                decision: Decision::ExplicitDeny,
                decided_by: vec![Reason::AwsOwnedResource],
            };
        }
        let mut denies: Vec<Reason> = Vec::new();

        // Principal side: identity, boundary, session, SCPs apply to IAM principals only.
        let identity = if iam_caller {
            self.scan_all(
                self.identity
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (PolicyId::Identity(i), p)),
                req,
                &mut denies,
            )
        } else {
            Found::default()
        };
        let boundary = match (&self.boundary, iam_caller) {
            (Some(b), true) => {
                Some(self.scan_all(std::iter::once((PolicyId::Boundary, b)), req, &mut denies))
            }
            _ => None,
        };
        let session_applies = caller.is_session();
        let session = if session_applies && !self.session.is_empty() {
            Some(
                self.scan_all(
                    self.session
                        .iter()
                        .enumerate()
                        .map(|(i, p)| (PolicyId::Session(i), p)),
                    req,
                    &mut denies,
                ),
            )
        } else {
            None
        };
        let scps: Vec<Found> = if iam_caller {
            self.scan_levels(
                &self.scps,
                |level, index| PolicyId::Scp { level, index },
                req,
                &mut denies,
            )
        } else {
            Vec::new()
        };
        // Resource side: RCPs apply to every caller.
        let rcps = self.scan_levels(
            &self.rcps,
            |level, index| PolicyId::Rcp { level, index },
            req,
            &mut denies,
        );
        let resource = self.scan_resource(req, &mut denies);
        let endpoint = self
            .vpc_endpoint
            .as_ref()
            .map(|p| self.scan_endpoint(p, req, &mut denies));

        if !denies.is_empty() {
            return Evaluation {
                decision: Decision::ExplicitDeny,
                decided_by: denies,
            };
        }

        // RCPs never leave a level without an allow: `RCPFullAWSAccess` is attached at
        // every level and cannot be detached, so a level listing only custom (deny) RCPs
        // allows as if it were there.
        let mut missing: Vec<Reason> = Vec::new();
        if endpoint.as_ref().is_some_and(|e| e.allow.is_none()) {
            missing.push(Reason::NoAllow(Layer::VpcEndpoint));
        }
        for (level, found) in scps.iter().enumerate() {
            if found.allow.is_none() {
                missing.push(Reason::NoAllow(Layer::Scp(level)));
            }
        }
        if !missing.is_empty() {
            return implicit(missing);
        }

        let root = matches!(caller, Caller::Root { .. });
        let identity_ok = root || identity.allow.is_some();
        let boundary_ok = boundary.as_ref().is_none_or(|b| b.allow.is_some());
        // A role session without a session policy keeps its role's permissions; a
        // federated-user session without one has none.
        let session_ok = match (&session, caller) {
            (Some(s), _) => s.allow.is_some(),
            (None, Caller::FederatedUser { .. }) => false,
            (None, _) => true,
        };
        let resource_grant = resource.as_ref().map(|(grant, _)| *grant);

        let chain_reasons = |with_identity: bool, with_resource: bool| {
            let mut out = Vec::new();
            if with_identity {
                if root {
                    out.push(Reason::RootUser);
                }
                push_allow(&mut out, identity.allow);
            }
            if let Some(b) = &boundary {
                push_allow(&mut out, b.allow);
            }
            if let Some(s) = &session {
                push_allow(&mut out, s.allow);
            }
            if with_resource && let Some((_, at)) = resource {
                push_allow(&mut out, Some(at));
            }
            for found in scps.iter().chain(rcps.iter()).chain(endpoint.iter()) {
                push_allow(&mut out, found.allow);
            }
            out
        };

        let principal_side_blockers = |with_identity: bool| {
            let mut out = Vec::new();
            if with_identity && !identity_ok {
                out.push(Reason::NoAllow(Layer::Identity));
            }
            if !boundary_ok {
                out.push(Reason::NoAllow(Layer::Boundary));
            }
            if !session_ok {
                out.push(Reason::NoAllow(Layer::Session));
            }
            out
        };

        if !iam_caller {
            // Anonymous callers and service/federated principals have no identity policies:
            // only a resource-based policy can let them in.
            return if resource_grant.is_some() {
                allow(chain_reasons(false, true))
            } else {
                implicit(vec![Reason::NoAllow(Layer::Resource)])
            };
        }

        if req.is_cross_account() {
            let principal_ok = identity_ok && boundary_ok && session_ok;
            let resource_ok = resource_grant.is_some();
            if principal_ok && resource_ok {
                return allow(chain_reasons(true, true));
            }
            let mut blockers = principal_side_blockers(true);
            if !resource_ok {
                blockers.push(Reason::NoAllow(Layer::Resource));
            }
            return implicit(blockers);
        }

        let kind = self
            .resource_kind
            .unwrap_or_else(|| ResourcePolicyKind::infer(&req.action, &req.resource));
        let explicit_required = matches!(
            kind,
            ResourcePolicyKind::Trust | ResourcePolicyKind::KeyPolicy
        );
        if explicit_required && resource_grant.is_none() {
            return implicit(vec![Reason::NoAllow(Layer::Resource)]);
        }
        match resource_grant {
            Some(Grant::Direct) => {
                // Granted to the caller itself: not limited by implicit denies in identity
                // policies, the boundary or the session policy.
                let mut out = Vec::new();
                if let Some((_, at)) = resource {
                    push_allow(&mut out, Some(at));
                }
                for found in scps.iter().chain(rcps.iter()).chain(endpoint.iter()) {
                    push_allow(&mut out, found.allow);
                }
                return allow(out);
            }
            Some(Grant::Role) if boundary_ok && session_ok => {
                return allow(chain_reasons(false, true));
            }
            _ => {}
        }
        if identity_ok && boundary_ok && session_ok {
            return allow(chain_reasons(true, explicit_required));
        }
        // A grant to the role ARN stands in for identity policies; then only the boundary
        // or session policy can be what blocked.
        implicit(principal_side_blockers(resource_grant != Some(Grant::Role)))
    }

    /// Scans policies of one kind: records applicable denies, returns the first allow.
    fn scan_all<'a>(
        &self,
        policies: impl Iterator<Item = (PolicyId, &'a CompiledPolicy)>,
        req: &Request,
        denies: &mut Vec<Reason>,
    ) -> Found {
        let mut found = Found::default();
        for (id, policy) in policies {
            for s in policy.candidates(&req.service) {
                match s.effect {
                    Effect::Allow if found.allow.is_some() => {}
                    Effect::Allow => {
                        if s.applies(req) {
                            found.allow = Some((id, s.index));
                        }
                    }
                    Effect::Deny => {
                        if s.applies(req) {
                            denies.push(Reason::Statement {
                                policy: id,
                                statement: s.index,
                                effect: Effect::Deny,
                            });
                        }
                    }
                }
            }
        }
        found
    }

    /// Scans organization policies level by level (root first).
    fn scan_levels(
        &self,
        levels: &[Vec<CompiledPolicy>],
        id: fn(usize, usize) -> PolicyId,
        req: &Request,
        denies: &mut Vec<Reason>,
    ) -> Vec<Found> {
        levels
            .iter()
            .enumerate()
            .map(|(level, policies)| {
                let ids = policies
                    .iter()
                    .enumerate()
                    .map(|(index, p)| (id(level, index), p));
                self.scan_all(ids, req, denies)
            })
            .collect()
    }

    /// Scans the resource-based policy: records denies that name the caller, returns the
    /// strongest grant among the allows that name it.
    fn scan_resource(
        &self,
        req: &Request,
        denies: &mut Vec<Reason>,
    ) -> Option<(Grant, (PolicyId, usize))> {
        let policy = self.resource.as_ref()?;
        let bounded = self.boundary.is_some()
            && matches!(req.caller, Caller::User { .. } | Caller::RoleSession { .. });
        let mut best: Option<(Grant, (PolicyId, usize))> = None;
        for s in policy.candidates(&req.service) {
            let Some(grant) = s.grant_for(&req.caller, bounded) else {
                continue;
            };
            if s.effect == Effect::Allow && best.is_some_and(|(g, _)| g >= grant) {
                continue;
            }
            if !s.applies(req) {
                continue;
            }
            match s.effect {
                Effect::Deny => denies.push(Reason::Statement {
                    policy: PolicyId::Resource,
                    statement: s.index,
                    effect: Effect::Deny,
                }),
                Effect::Allow => best = Some((grant, (PolicyId::Resource, s.index))),
            }
        }
        best
    }
}

impl PolicySet {
    /// Scans the VPC endpoint policy: records the denies that name the caller, returns the
    /// first allow that does.
    fn scan_endpoint(
        &self,
        policy: &CompiledPolicy,
        req: &Request,
        denies: &mut Vec<Reason>,
    ) -> Found {
        let mut found = Found::default();
        for s in policy.candidates(&req.service) {
            if s.effect == Effect::Allow && found.allow.is_some() {
                continue;
            }
            if s.grant_for(&req.caller, false).is_none() || !s.applies(req) {
                continue;
            }
            match s.effect {
                Effect::Deny => denies.push(Reason::Statement {
                    policy: PolicyId::VpcEndpoint,
                    statement: s.index,
                    effect: Effect::Deny,
                }),
                Effect::Allow => found.allow = Some((PolicyId::VpcEndpoint, s.index)),
            }
        }
        found
    }
}

fn push_allow(out: &mut Vec<Reason>, allow: Option<(PolicyId, usize)>) {
    if let Some((policy, statement)) = allow {
        out.push(Reason::Statement {
            policy,
            statement,
            effect: Effect::Allow,
        });
    }
}

fn allow(decided_by: Vec<Reason>) -> Evaluation {
    Evaluation {
        decision: Decision::Allow,
        decided_by,
    }
}

fn implicit(decided_by: Vec<Reason>) -> Evaluation {
    Evaluation {
        decision: Decision::ImplicitDeny,
        decided_by,
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyId::Identity(i) => write!(f, "identity policy {i}"),
            PolicyId::Resource => f.write_str("resource policy"),
            PolicyId::Boundary => f.write_str("permissions boundary"),
            PolicyId::Session(i) => write!(f, "session policy {i}"),
            PolicyId::Scp { level, index } => write!(f, "SCP {index} at level {level}"),
            PolicyId::Rcp { level, index } => write!(f, "RCP {index} at level {level}"),
            PolicyId::VpcEndpoint => f.write_str("VPC endpoint policy"),
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Identity => f.write_str("identity policies"),
            Layer::Resource => f.write_str("resource policy"),
            Layer::Boundary => f.write_str("permissions boundary"),
            Layer::Session => f.write_str("session policy"),
            Layer::Scp(level) => write!(f, "SCPs at level {level}"),
            Layer::Rcp(level) => write!(f, "RCPs at level {level}"),
            Layer::VpcEndpoint => f.write_str("VPC endpoint policy"),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Statement {
                policy,
                statement,
                effect,
            } => write!(f, "{effect:?} in statement {statement} of {policy}"),
            Reason::NoAllow(layer) => write!(f, "no Allow in the {layer}"),
            Reason::RootUser => f.write_str("the root user is not limited by identity policies"),
            Reason::NoPermissionRequired => {
                f.write_str("the action needs no permission and cannot be denied")
            }
            Reason::AwsOwnedResource => f.write_str(
                "the resource is owned by AWS: no customer policy can allow changing it",
            ),
        }
    }
}
