//! The conformance case format (DESIGN §4.1) and its runner: a request, the policies that
//! apply to it, and optionally the expected decision. The corpus under `tests/corpus` and
//! `breakglass policy eval --case` both use it.
//!
//! A case file holds one case, an array of cases, or `{"source": URL, "topic": ..., "cases":
//! [...]}` naming the AWS documentation page the cases derive from. Reasons in the output are
//! JSON pointers into the case (`/identityPolicies/0/Statement/2`), so a reader can find the
//! statement that decided.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::eval::{Decision, Layer, PolicyId, PolicySet, Reason, ResourcePolicyKind};
use crate::json::Pointer;
use crate::parse::parse_value;
use crate::policy::{Effect, Policy};
use crate::policy_type::PolicyType;
use crate::request::{CallerKind, ContextValue, Request, parse_caller};

/// One conformance case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    /// A unique, descriptive name.
    pub name: String,
    /// Why the expected decision is right, when it is not obvious.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The request.
    pub request: CaseRequest,
    /// The caller's identity policies.
    #[serde(default)]
    pub identity_policies: Vec<Value>,
    /// The resource-based policy (or role trust policy, or key policy).
    #[serde(default)]
    pub resource_policy: Option<Value>,
    /// What the resource policy is: `resource`, `trust` or `kms`. When absent it is
    /// inferred from the request: `trust` for `sts:AssumeRole*` (and `sts:TagSession`,
    /// `sts:SetSourceIdentity`, `sts:SetContext`) on a role ARN, `kms` for a `kms:` action
    /// on a key ARN, `resource` otherwise. A role or key without a policy in the case has
    /// none that allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_type: Option<ResourcePolicyType>,
    /// The policy of the VPC endpoint the request goes through, if any: it must allow, and
    /// its denies apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_policy: Option<Value>,
    /// The caller's permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<Value>,
    /// The session policy.
    #[serde(default)]
    pub session_policy: Option<Value>,
    /// SCPs by organization level, root first: `[[root policies], [ou policies], [account policies]]`.
    #[serde(default)]
    pub scps: Vec<Vec<Value>>,
    /// RCPs by organization level, root first.
    #[serde(default)]
    pub rcps: Vec<Vec<Value>>,
    /// The expected outcome; a case without one is evaluated and reported only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

/// The kind of resource-based policy in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourcePolicyType {
    Resource,
    Trust,
    Kms,
}

/// How to read the principal string when it is ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrincipalType {
    #[serde(rename = "AWS")]
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

/// The request of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseRequest {
    /// `service:Action`.
    pub action: String,
    /// The resource ARN (default `*`).
    #[serde(default = "star")]
    pub resource: String,
    /// The caller's ARN (or account id, service principal); absent for anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// How to read `principal` when it could be several things.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<PrincipalType>,
    /// The account owning the resource (default: the caller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_account: Option<String>,
    /// Condition keys: a string (or number, boolean) for one value, an array for several.
    #[serde(default)]
    pub context: serde_json::Map<String, Value>,
    /// Whether to add the keys AWS derives from the caller (`aws:PrincipalArn`, ...) when the
    /// context does not set them (default true).
    #[serde(default = "yes")]
    pub derive_context: bool,
}

fn star() -> String {
    "*".into()
}

fn yes() -> bool {
    true
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expected {
    /// The decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The pointers of the reasons, in any order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Vec<String>>,
    /// For cases whose policies must be rejected: text the error must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
}

/// A reason in a case outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseReason {
    /// Pointer into the case: the deciding statement, or the policies that lacked an Allow.
    pub pointer: String,
    /// `Allow` or `Deny` for statements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<&'static str>,
    /// The statement's `Sid`, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// True when the pointer names policies that had to allow and did not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub missing_allow: bool,
}

/// The result of running one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseOutcome {
    pub name: String,
    /// The decision; absent when the case could not be evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    pub decided_by: Vec<CaseReason>,
    /// Why the case could not be evaluated (an invalid policy or principal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the outcome matches `expected`; absent when nothing was expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// What differs from the expectation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<String>,
}

/// A case file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFile {
    /// The AWS documentation page the cases derive from.
    pub source: Option<String>,
    /// The topic.
    pub topic: Option<String>,
    /// The cases, each with the pointer of its place in the file.
    pub cases: Vec<(Pointer, Case)>,
}

/// A case file that cannot be read as cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseFileError {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{pointer}: {message}")]
    Case { pointer: String, message: String },
    #[error("expected a case object, an array of cases, or {{\"source\", \"cases\"}}")]
    Shape,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapper {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    cases: Vec<Value>,
}

/// Reads a case file; the first case that cannot be read fails the whole file.
pub fn parse_case_file(text: &str) -> Result<CaseFile, CaseFileError> {
    let (source, topic, items) = read_items(text)?;
    let cases = items
        .into_iter()
        .map(|(at, _, case)| case.map(|c| (at, c)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CaseFile {
        source,
        topic,
        cases,
    })
}

/// A case file's source, topic and cases, each read on its own (with its name, when it
/// has one).
type Items = (
    Option<String>,
    Option<String>,
    Vec<(Pointer, Option<String>, Result<Case, CaseFileError>)>,
);

/// Reads a case file's items; a case that cannot be read is an error of its own, not of
/// the file.
fn read_items(text: &str) -> Result<Items, CaseFileError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CaseFileError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let root = Pointer::root();
    let (source, topic, items, base) = match value {
        Value::Array(items) => (None, None, items, root),
        Value::Object(ref map) if map.contains_key("cases") => {
            let w: Wrapper = serde_json::from_value(value).map_err(|e| CaseFileError::Case {
                pointer: "/".into(),
                message: e.to_string(),
            })?;
            (w.source, w.topic, w.cases, root.key("cases"))
        }
        Value::Object(_) => {
            let name = case_name(&value);
            let case = read_case(value, &root);
            return Ok((None, None, vec![(root, name, case)]));
        }
        _ => return Err(CaseFileError::Shape),
    };
    let cases = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let at = base.index(i);
            let name = case_name(&v);
            let case = read_case(v, &at);
            (at, name, case)
        })
        .collect();
    Ok((source, topic, cases))
}

fn read_case(value: Value, at: &Pointer) -> Result<Case, CaseFileError> {
    let name = case_name(&value)
        .map(|n| format!(" (`{n}`)"))
        .unwrap_or_default();
    serde_json::from_value(value).map_err(|e| CaseFileError::Case {
        pointer: format!("{}{name}", if at.is_root() { "/" } else { at.as_str() }),
        message: e.to_string(),
    })
}

/// The policies of a case, parsed and located.
struct Parsed {
    identity: Vec<Policy>,
    resource: Option<Policy>,
    vpc_endpoint: Option<Policy>,
    boundary: Option<Policy>,
    session: Option<Policy>,
    scps: Vec<Vec<Policy>>,
    rcps: Vec<Vec<Policy>>,
}

/// Parses every policy of a case; errors are located below `at` (the case's place in its
/// file) and all of them are returned.
fn parse_policies(case: &Case, at: &Pointer) -> Result<Parsed, Vec<String>> {
    let mut errors: Vec<String> = Vec::new();
    let mut one = |value: &Value, ty: PolicyType, ptr: Pointer| match parse_value(value, ty) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.extend(e.under(&ptr.under(at)).iter().map(ToString::to_string));
            None
        }
    };
    let root = Pointer::root();
    let identity: Vec<Option<Policy>> = case
        .identity_policies
        .iter()
        .enumerate()
        .map(|(i, v)| {
            one(
                v,
                PolicyType::Identity,
                root.key("identityPolicies").index(i),
            )
        })
        .collect();
    let resource_type = match resource_kind(case) {
        ResourcePolicyKind::Trust => PolicyType::Trust,
        _ => PolicyType::Resource,
    };
    let resource = case
        .resource_policy
        .as_ref()
        .map(|v| one(v, resource_type, root.key("resourcePolicy")));
    let vpc_endpoint = case
        .vpc_endpoint_policy
        .as_ref()
        .map(|v| one(v, PolicyType::Resource, root.key("vpcEndpointPolicy")));
    let boundary = case
        .permissions_boundary
        .as_ref()
        .map(|v| one(v, PolicyType::Boundary, root.key("permissionsBoundary")));
    let session = case
        .session_policy
        .as_ref()
        .map(|v| one(v, PolicyType::Session, root.key("sessionPolicy")));
    let mut levels =
        |levels: &[Vec<Value>], ty: PolicyType, name: &str| -> Vec<Vec<Option<Policy>>> {
            levels
                .iter()
                .enumerate()
                .map(|(l, policies)| {
                    policies
                        .iter()
                        .enumerate()
                        .map(|(i, v)| one(v, ty, root.key(name).index(l).index(i)))
                        .collect()
                })
                .collect()
        };
    let scps = levels(&case.scps, PolicyType::Scp, "scps");
    let rcps = levels(&case.rcps, PolicyType::Rcp, "rcps");
    if !errors.is_empty() {
        return Err(errors);
    }
    let all = |v: Vec<Option<Policy>>| v.into_iter().flatten().collect::<Vec<_>>();
    Ok(Parsed {
        identity: all(identity),
        resource: resource.flatten(),
        vpc_endpoint: vpc_endpoint.flatten(),
        boundary: boundary.flatten(),
        session: session.flatten(),
        scps: scps.into_iter().map(all).collect(),
        rcps: rcps.into_iter().map(all).collect(),
    })
}

/// The kind of resource policy a case declares.
fn declared_kind(case: &Case) -> Option<ResourcePolicyKind> {
    case.resource_policy_type.map(|t| match t {
        ResourcePolicyType::Resource => ResourcePolicyKind::Resource,
        ResourcePolicyType::Trust => ResourcePolicyKind::Trust,
        ResourcePolicyType::Kms => ResourcePolicyKind::KeyPolicy,
    })
}

/// The kind of resource policy of a case: declared, or inferred from its request.
fn resource_kind(case: &Case) -> ResourcePolicyKind {
    declared_kind(case)
        .unwrap_or_else(|| ResourcePolicyKind::infer(&case.request.action, &case.request.resource))
}

fn build_request(r: &CaseRequest) -> Result<Request, String> {
    let caller = match &r.principal {
        None => crate::request::Caller::Anonymous,
        Some(p) => {
            let kind = r.principal_type.map(|k| match k {
                PrincipalType::Aws => CallerKind::Aws,
                PrincipalType::Service => CallerKind::Service,
                PrincipalType::Federated => CallerKind::Federated,
                PrincipalType::CanonicalUser => CallerKind::CanonicalUser,
            });
            parse_caller(p, kind).map_err(|e| format!("/request/principal: {e}"))?
        }
    };
    let mut req = Request::new(caller, &r.action, &r.resource);
    if let Some(account) = &r.resource_account {
        req = req.with_resource_account(account);
    }
    for (key, value) in &r.context {
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let bad = || {
            format!(
                "/request/context/{key}: expected a string, number, boolean or an array of them"
            )
        };
        match value {
            Value::Null => {}
            Value::Array(items) => {
                let values = items
                    .iter()
                    .map(scalar)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?;
                req.insert_context(key, ContextValue::many(values));
            }
            other => req.insert_context(key, ContextValue::one(scalar(other).ok_or_else(bad)?)),
        }
    }
    if r.derive_context {
        req.derive_principal_keys();
    }
    Ok(req)
}

/// Runs one case located at `at` in its file.
pub fn run_case(case: &Case, at: &Pointer) -> CaseOutcome {
    let mut outcome = CaseOutcome {
        name: case.name.clone(),
        decision: None,
        decided_by: Vec::new(),
        error: None,
        passed: None,
        mismatch: None,
    };
    let prepared = build_request(&case.request)
        .map_err(|e| vec![format!("{}{e}", at.as_str())])
        .and_then(|req| parse_policies(case, at).map(|p| (req, p)));
    let (req, parsed) = match prepared {
        Ok(ok) => ok,
        Err(errors) => {
            let error = errors.join("; ");
            if let Some(expected) = &case.expected {
                let passed = expected
                    .invalid
                    .as_ref()
                    .is_some_and(|want| error.contains(want.as_str()));
                outcome.passed = Some(passed);
                if !passed {
                    outcome.mismatch = Some(match &expected.invalid {
                        Some(want) => format!("expected an error containing `{want}`"),
                        None => "expected the case to evaluate".into(),
                    });
                }
            }
            outcome.error = Some(error);
            return outcome;
        }
    };

    let mut builder = PolicySet::builder();
    for p in &parsed.identity {
        builder = builder.identity(p);
    }
    builder = match (&parsed.resource, declared_kind(case)) {
        (Some(p), Some(kind)) => builder.resource(p, kind),
        (Some(p), None) => builder.resource_policy(p),
        (None, Some(kind)) => builder.resource_kind(kind),
        (None, None) => builder,
    };
    if let Some(p) = &parsed.vpc_endpoint {
        builder = builder.vpc_endpoint(p);
    }
    if let Some(p) = &parsed.boundary {
        builder = builder.boundary(p);
    }
    if let Some(p) = &parsed.session {
        builder = builder.session(p);
    }
    for level in &parsed.scps {
        builder = builder.scp_level(level);
    }
    for level in &parsed.rcps {
        builder = builder.rcp_level(level);
    }
    let evaluation = builder.build().evaluate(&req);
    outcome.decision = Some(evaluation.decision);
    outcome.decided_by = evaluation
        .decided_by
        .iter()
        .map(|r| case_reason(r, &parsed))
        .collect();

    if let Some(expected) = &case.expected {
        let mut problems = Vec::new();
        if expected.invalid.is_some() {
            problems.push("expected the policies to be rejected".to_owned());
        }
        if let Some(want) = expected.decision
            && want != evaluation.decision
        {
            problems.push(format!("expected {want}, got {}", evaluation.decision));
        }
        if let Some(want) = &expected.decided_by {
            let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
            let mut got: Vec<&str> = outcome
                .decided_by
                .iter()
                .map(|r| r.pointer.as_str())
                .collect();
            want.sort_unstable();
            got.sort_unstable();
            if want != got {
                problems.push(format!("expected decidedBy {want:?}, got {got:?}"));
            }
        }
        outcome.passed = Some(problems.is_empty());
        if !problems.is_empty() {
            outcome.mismatch = Some(problems.join("; "));
        }
    }
    outcome
}

fn case_reason(reason: &Reason, parsed: &Parsed) -> CaseReason {
    match reason {
        Reason::Statement {
            policy,
            statement,
            effect,
        } => {
            let (base, policy_ref): (Pointer, Option<&Policy>) = match *policy {
                PolicyId::Identity(i) => (
                    Pointer::root().key("identityPolicies").index(i),
                    parsed.identity.get(i),
                ),
                PolicyId::Resource => (
                    Pointer::root().key("resourcePolicy"),
                    parsed.resource.as_ref(),
                ),
                PolicyId::Boundary => (
                    Pointer::root().key("permissionsBoundary"),
                    parsed.boundary.as_ref(),
                ),
                PolicyId::Session(_) => (
                    Pointer::root().key("sessionPolicy"),
                    parsed.session.as_ref(),
                ),
                PolicyId::Scp { level, index } => (
                    Pointer::root().key("scps").index(level).index(index),
                    parsed.scps.get(level).and_then(|l| l.get(index)),
                ),
                PolicyId::Rcp { level, index } => (
                    Pointer::root().key("rcps").index(level).index(index),
                    parsed.rcps.get(level).and_then(|l| l.get(index)),
                ),
                PolicyId::VpcEndpoint => (
                    Pointer::root().key("vpcEndpointPolicy"),
                    parsed.vpc_endpoint.as_ref(),
                ),
            };
            let s = policy_ref.and_then(|p| p.statements.get(*statement));
            CaseReason {
                pointer: s
                    .map_or_else(|| base.clone(), |s| s.pointer.under(&base))
                    .to_string(),
                effect: Some(match effect {
                    Effect::Allow => "Allow",
                    Effect::Deny => "Deny",
                }),
                sid: s.and_then(|s| s.sid.clone()),
                missing_allow: false,
            }
        }
        Reason::NoAllow(layer) => CaseReason {
            pointer: match layer {
                Layer::Identity => "/identityPolicies".to_owned(),
                Layer::Resource => "/resourcePolicy".to_owned(),
                Layer::Boundary => "/permissionsBoundary".to_owned(),
                Layer::Session => "/sessionPolicy".to_owned(),
                Layer::Scp(l) => format!("/scps/{l}"),
                Layer::Rcp(l) => format!("/rcps/{l}"),
                Layer::VpcEndpoint => "/vpcEndpointPolicy".to_owned(),
            },
            effect: None,
            sid: None,
            missing_allow: true,
        },
        Reason::RootUser => CaseReason {
            pointer: "/request/principal".to_owned(),
            effect: None,
            sid: None,
            missing_allow: false,
        },
        Reason::NoPermissionRequired => CaseReason {
            pointer: "/request/action".to_owned(),
            effect: None,
            sid: None,
            missing_allow: false,
        },
        Reason::AwsOwnedResource => CaseReason {
            pointer: "/request/resource".to_owned(),
            effect: None,
            sid: None,
            missing_allow: false,
        },
    }
}

fn case_name(value: &Value) -> Option<String> {
    value.get("name").and_then(Value::as_str).map(str::to_owned)
}

/// Reads and runs every case of a file. A case that cannot be read (a missing request, an
/// unknown field) gets an outcome with its error, named by its `name` or, lacking one, its
/// pointer; the other cases still run. Only a file that is not JSON, or not a case, an
/// array of cases or `{"cases": [...]}`, is an error.
pub fn run_file(text: &str) -> Result<Vec<CaseOutcome>, CaseFileError> {
    let (_, _, items) = read_items(text)?;
    Ok(items
        .into_iter()
        .map(|(at, name, case)| match case {
            Ok(case) => run_case(&case, &at),
            Err(e) => CaseOutcome {
                name: name.unwrap_or_else(|| at.to_string()),
                decision: None,
                decided_by: Vec::new(),
                error: Some(e.to_string()),
                passed: None,
                mismatch: None,
            },
        })
        .collect())
}
