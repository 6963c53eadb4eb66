//! Eligibility and approval rules, in Cedar.
//!
//! Who may request which role in which account for how long, who may approve, activate
//! break-glass, revoke, review and administer: all of it is policy, evaluated by the
//! `cedar-policy` engine over entities built from the catalog. Policies come from the
//! catalog's playbooks (see [`generate`]) plus optional hand-written Cedar. Every decision
//! says which policies decided it.
//!
//! The invariants that hold whatever the policies say (no self-approval, approvals bound to
//! a digest, distinct approvers) are enforced in code by the request state machine, not here.

mod entities;
mod generate;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::model::{AccountId, Catalog, IncidentId, PlaybookId, RoleArn, Username};

/// The Cedar schema every policy is validated against.
pub const SCHEMA: &str = include_str!("schema.cedarschema");

/// What a principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Ask for access through a playbook.
    Request,
    /// Approve someone else's request.
    Approve,
    /// Take access at once, without approvers, in an emergency.
    ActivateBreakGlass,
    /// End access early.
    Revoke,
    /// Sign off the post-incident review of a break-glass use.
    Review,
    /// Change the broker's configuration or act on every grant of a role.
    Administer,
}

impl Action {
    /// The Cedar action id.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Approve => "approve",
            Self::ActivateBreakGlass => "activate_break_glass",
            Self::Revoke => "revoke",
            Self::Review => "review",
            Self::Administer => "administer",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exact request a decision is about: it becomes the Cedar context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// Who asked for the access (for `request` and `activate_break_glass`, the principal).
    pub requester: Username,
    /// The role copy asked for.
    pub role_arn: RoleArn,
    /// The account it lives in.
    pub account: AccountId,
    /// How long the access lasts in total.
    pub duration: Duration,
    /// The incident it serves.
    pub incident: IncidentId,
    /// Whether the principal passed an MFA step-up for this action.
    pub mfa: bool,
    /// Whether this is an emergency (break-glass) activation.
    pub break_glass: bool,
}

/// The resource of an `administer` decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminResource {
    /// A playbook.
    Playbook(PlaybookId),
    /// A deployed role, by ARN.
    Role(RoleArn),
    /// An account.
    Account(AccountId),
}

/// A policy that took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PolicyRef {
    /// The policy's id (its `@id` annotation, or `<source>#<index>`).
    pub id: String,
    /// Its `@description` annotation, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A decision and why it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// The permits that allowed it, or the forbids that denied it (empty: no policy applied).
    pub policies: Vec<PolicyRef>,
    /// Policies that failed to evaluate (they count as not applying).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Decision {
    /// The id of [`Decision::administrator`]'s policy.
    pub const ADMINISTRATOR: &'static str = "broker-administrator";

    /// Allowed because a broker administrator acts (ending access; see `Command::Revoke`).
    pub fn administrator() -> Self {
        Self {
            allowed: true,
            policies: vec![PolicyRef {
                id: Self::ADMINISTRATOR.to_owned(),
                description: Some("a broker administrator may end any access".to_owned()),
            }],
            errors: Vec::new(),
        }
    }

    fn deny(reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            policies: Vec::new(),
            errors: vec![reason.into()],
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self
            .policies
            .iter()
            .map(|p| match &p.description {
                Some(d) => format!("`{}` ({d})", p.id),
                None => format!("`{}`", p.id),
            })
            .collect();
        match (self.allowed, ids.is_empty()) {
            (true, _) => write!(f, "permitted by {}", ids.join(", "))?,
            (false, false) => write!(f, "forbidden by {}", ids.join(", "))?,
            (false, true) => f.write_str("no policy permits it")?,
        }
        if !self.errors.is_empty() {
            write!(f, " (errors: {})", self.errors.join("; "))?;
        }
        Ok(())
    }
}

/// Hand-written Cedar policies and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// A name for error messages and policy ids (e.g. the file name).
    pub name: String,
    /// The Cedar text.
    pub text: String,
}

/// One problem in a policy source, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The source's name (`generated` for policies built from the catalog).
    pub source: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.source, self.message),
            _ => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// Why the rules could not be built; every problem found is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} in the Cedar rules: {}", plural(.problems.len()), list(.problems))]
pub struct RulesError {
    /// Every problem found, in source order.
    pub problems: Vec<RuleProblem>,
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

fn list(problems: &[RuleProblem]) -> String {
    let items: Vec<String> = problems.iter().map(ToString::to_string).collect();
    items.join("; ")
}

/// The compiled rules: the catalog, its entities, and every policy, validated.
#[derive(Debug, Clone)]
pub struct Rules {
    catalog: Catalog,
    schema: Schema,
    policies: PolicySet,
    entities: Entities,
    generated: String,
    /// What grants really allow is computed from (none: narrowing is refused).
    permissions: Option<std::sync::Arc<crate::model::PermissionModel>>,
}

pub(super) fn uid(kind: &str, id: &str) -> Result<EntityUid, String> {
    let kind = EntityTypeName::from_str(kind).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(kind, EntityId::new(id)))
}

pub(super) fn long(value: i64) -> RestrictedExpression {
    RestrictedExpression::new_long(value)
}

/// Converts a byte offset into `text` to 1-based line and column.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn locate(source: &str, text: &str, diag: &dyn Diagnostic, message: String) -> RuleProblem {
    let offset = diag
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset());
    let (line, column) = match offset {
        Some(o) => {
            let (l, c) = line_col(text, o);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    RuleProblem {
        source: source.to_owned(),
        line,
        column,
        message,
    }
}

impl Rules {
    /// Builds the rules for `catalog` plus hand-written `extra` policies, validating every
    /// policy against [`SCHEMA`]. All problems are reported together.
    pub fn new(catalog: Catalog, extra: &[PolicySource]) -> Result<Self, RulesError> {
        let mut problems = Vec::new();
        let schema = match Schema::from_cedarschema_str(SCHEMA) {
            Ok((schema, _warnings)) => schema,
            Err(e) => {
                return Err(RulesError {
                    problems: vec![RuleProblem {
                        source: "schema".to_owned(),
                        line: None,
                        column: None,
                        message: e.to_string(),
                    }],
                });
            }
        };
        let generated = generate::policies(&catalog);
        let mut sources: Vec<(String, &str)> = vec![("generated".to_owned(), generated.as_str())];
        sources.extend(extra.iter().map(|s| (s.name.clone(), s.text.as_str())));

        let mut policies = PolicySet::new();
        // Which source each policy came from, so validation errors point into the right text.
        let mut origin: HashMap<PolicyId, usize> = HashMap::new();
        for (index, (name, text)) in sources.iter().enumerate() {
            let parsed = match PolicySet::from_str(text) {
                Ok(p) => p,
                Err(errors) => {
                    for e in errors.iter() {
                        problems.push(locate(name, text, e, e.to_string()));
                    }
                    continue;
                }
            };
            for (n, policy) in parsed.policies().enumerate() {
                let id = policy
                    .annotation("id")
                    .map_or_else(|| format!("{name}#{n}"), str::to_owned);
                let policy = policy.new_id(PolicyId::new(&id));
                if let Err(e) = policies.add(policy) {
                    problems.push(RuleProblem {
                        source: name.clone(),
                        line: None,
                        column: None,
                        message: format!("policy id `{id}` is used twice: {e}"),
                    });
                    continue;
                }
                origin.insert(PolicyId::new(&id), index);
            }
        }

        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        for e in validation.validation_errors() {
            let (name, text) = origin
                .get(e.policy_id())
                .and_then(|i| sources.get(*i))
                .map_or(("policies", ""), |(n, t)| (n.as_str(), *t));
            problems.push(locate(
                name,
                text,
                e,
                format!("policy `{}`: {e}", e.policy_id()),
            ));
        }

        let entities = match entities::build(&catalog, &schema) {
            Ok(e) => Some(e),
            Err(message) => {
                problems.push(RuleProblem {
                    source: "catalog".to_owned(),
                    line: None,
                    column: None,
                    message,
                });
                None
            }
        };
        match entities {
            Some(entities) if problems.is_empty() => Ok(Self {
                catalog,
                schema,
                policies,
                entities,
                generated,
                permissions: None,
            }),
            _ => Err(RulesError { problems }),
        }
    }

    /// The catalog the rules were built from.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// These rules with `model`: the action catalog and role policies a narrowed session
    /// policy is checked with and effective permissions are computed from.
    #[must_use]
    pub fn with_permissions(
        mut self,
        model: std::sync::Arc<crate::model::PermissionModel>,
    ) -> Self {
        self.permissions = Some(model);
        self
    }

    /// The action catalog and role policies, when the broker was given them.
    pub fn permissions(&self) -> Option<&crate::model::PermissionModel> {
        self.permissions.as_deref()
    }

    /// The Cedar text generated from the catalog's playbooks (for display and review).
    pub fn generated_policies(&self) -> &str {
        &self.generated
    }

    /// May `principal` perform `action` on `playbook` for the request described by `ask`?
    pub fn decide(
        &self,
        principal: &Username,
        action: Action,
        playbook: &PlaybookId,
        ask: &Ask,
    ) -> Decision {
        if action == Action::Administer {
            return self.administer(principal, &AdminResource::Playbook(playbook.clone()));
        }
        let context = match ask_context(ask) {
            Ok(c) => c,
            Err(e) => return Decision::deny(e),
        };
        let resource = match uid("Playbook", playbook.as_str()) {
            Ok(r) => r,
            Err(e) => return Decision::deny(e),
        };
        self.evaluate(principal, action, resource, context)
    }

    /// May `principal` administer `resource`? Only hand-written policies grant this.
    pub fn administer(&self, principal: &Username, resource: &AdminResource) -> Decision {
        let resource = match resource {
            AdminResource::Playbook(p) => uid("Playbook", p.as_str()),
            AdminResource::Role(r) => uid("Role", r.as_str()),
            AdminResource::Account(a) => uid("Account", a.as_str()),
        };
        match resource {
            Ok(r) => self.evaluate(principal, Action::Administer, r, Context::empty()),
            Err(e) => Decision::deny(e),
        }
    }

    fn evaluate(
        &self,
        principal: &Username,
        action: Action,
        resource: EntityUid,
        context: Context,
    ) -> Decision {
        let (principal, action_uid) = match (
            uid("User", principal.as_str()),
            uid("Action", action.as_str()),
        ) {
            (Ok(p), Ok(a)) => (p, a),
            (Err(e), _) | (_, Err(e)) => return Decision::deny(e),
        };
        let request =
            match Request::new(principal, action_uid, resource, context, Some(&self.schema)) {
                Ok(r) => r,
                Err(e) => return Decision::deny(format!("malformed authorization request: {e}")),
            };
        let response = Authorizer::new().is_authorized(&request, &self.policies, &self.entities);
        let mut policies: Vec<PolicyRef> = response
            .diagnostics()
            .reason()
            .map(|id| PolicyRef {
                id: id.to_string(),
                description: self
                    .policies
                    .annotation(id, "description")
                    .map(str::to_owned),
            })
            .collect();
        policies.sort_by(|a, b| a.id.cmp(&b.id));
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        errors.sort();
        Decision {
            allowed: response.decision() == CedarDecision::Allow,
            policies,
            errors,
        }
    }
}

fn ask_context(ask: &Ask) -> Result<Context, String> {
    let pairs = [
        (
            "requester",
            RestrictedExpression::new_entity_uid(uid("User", ask.requester.as_str())?),
        ),
        (
            "role",
            RestrictedExpression::new_entity_uid(uid("Role", ask.role_arn.as_str())?),
        ),
        (
            "account",
            RestrictedExpression::new_entity_uid(uid("Account", ask.account.as_str())?),
        ),
        ("duration_seconds", long(ask.duration.whole_seconds())),
        (
            "incident",
            RestrictedExpression::new_string(ask.incident.to_string()),
        ),
        ("mfa", RestrictedExpression::new_bool(ask.mfa)),
        (
            "break_glass",
            RestrictedExpression::new_bool(ask.break_glass),
        ),
    ];
    Context::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)))
        .map_err(|e| e.to_string())
}
