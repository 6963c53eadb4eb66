//! Compiling a validated [`Policy`] into the form evaluation runs on: lower-cased action
//! patterns, pre-built wildcard and ARN matchers, condition values already parsed into
//! numbers, dates, IP networks and byte strings. Only the parts that depend on the request
//! (policy variables) are left to fill in per evaluation.

use core::net::IpAddr;

use crate::arn::{Arn, ArnPattern};
use crate::date::{self, Nanos};
use crate::fast_hash::{FastSet, Key, KeyTable};
use crate::operator::{BaseOperator, Family, Operator, SetOperator};
use crate::pattern::{Glob, Template};
use crate::policy::{Effect, Policy, Principal, PrincipalKind, Statement};
use crate::request::{Caller, Context, ContextValue, Request, is_account_id};
use crate::values::{Cidr, decode_base64, parse_bool, parse_ip, parse_number};

/// A policy ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct CompiledPolicy {
    pub(crate) statements: Vec<CompiledStatement>,
    /// Statements whose actions name a service literally, by that service: a request only
    /// looks at the statements of its own service.
    by_service: KeyTable<Vec<usize>>,
    /// Statements that can match any service (`*`, `NotAction`, a wildcard service).
    any_service: Vec<usize>,
}

impl CompiledPolicy {
    pub(crate) fn new(policy: &Policy) -> CompiledPolicy {
        let variables = policy.uses_variables();
        let mut by_service: KeyTable<Vec<usize>> = KeyTable::default();
        let mut any_service = Vec::new();
        for (i, s) in policy.statements.iter().enumerate() {
            match literal_services(s) {
                Some(services) => {
                    for service in services {
                        if let Some(list) = by_service.entry(Key::new(&service), Vec::new)
                            && list.last() != Some(&i)
                        {
                            list.push(i);
                        }
                    }
                }
                None => any_service.push(i),
            }
        }
        CompiledPolicy {
            statements: policy
                .statements
                .iter()
                .enumerate()
                .map(|(i, s)| CompiledStatement::new(i, s, variables))
                .collect(),
            by_service,
            any_service,
        }
    }

    /// The statements that could apply to an action of `service`, in document order.
    pub(crate) fn candidates<'a>(
        &'a self,
        service: &Key,
    ) -> impl Iterator<Item = &'a CompiledStatement> + 'a {
        let named = self.by_service.get(service).map_or(&[][..], Vec::as_slice);
        Merge {
            a: named.iter().peekable(),
            b: self.any_service.iter().peekable(),
        }
        .filter_map(|i| self.statements.get(i))
    }
}

/// The lower-cased services a statement's actions name, or `None` when it could match any
/// service.
fn literal_services(s: &Statement) -> Option<Vec<String>> {
    if s.action.negated {
        return None;
    }
    s.action
        .values
        .values
        .iter()
        .map(|a| {
            let (service, _) = a.split_once(':')?;
            (!service.contains(['*', '?'])).then(|| service.to_lowercase())
        })
        .collect()
}

/// Merges two ascending index lists.
struct Merge<'a> {
    a: std::iter::Peekable<std::slice::Iter<'a, usize>>,
    b: std::iter::Peekable<std::slice::Iter<'a, usize>>,
}

impl Iterator for Merge<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if x <= y => self.a.next().copied(),
            (Some(_), Some(_)) | (None, Some(_)) => self.b.next().copied(),
            (Some(_), None) => self.a.next().copied(),
            (None, None) => None,
        }
    }
}

/// How strongly a resource-policy statement names the caller; decides which implicit
/// denies elsewhere still apply (same-account rules of the evaluation logic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// The caller's account (`111122223333`, `:root`): only delegates to identity policies.
    Account,
    /// The caller's role ARN: still limited by the boundary and the session policy.
    Role,
    /// The caller itself (user, role session, federated user, service) or everyone (`*`).
    Direct,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledStatement {
    pub(crate) index: usize,
    pub(crate) effect: Effect,
    actions: Actions,
    resources: Option<Resources>,
    principals: Option<Principals>,
    conditions: Vec<Condition>,
}

impl CompiledStatement {
    fn new(index: usize, s: &Statement, variables: bool) -> CompiledStatement {
        CompiledStatement {
            index,
            effect: s.effect,
            actions: Actions {
                negated: s.action.negated,
                patterns: s
                    .action
                    .values
                    .values
                    .iter()
                    .map(|a| ActionPattern::new(a))
                    .collect(),
            },
            resources: s.resource.as_ref().map(|r| Resources {
                negated: r.negated,
                patterns: r
                    .values
                    .values
                    .iter()
                    .map(|v| ArnPattern::compile(v, variables).ok())
                    .collect(),
                texts: r.values.values.iter().map(|v| v.as_str().into()).collect(),
            }),
            principals: s.principal.as_ref().map(|p| Principals {
                negated: p.negated,
                patterns: match &p.principal {
                    Principal::Any => vec![PrincipalPattern::Everyone],
                    Principal::Map(entries) => entries
                        .iter()
                        .flat_map(|(kind, list)| {
                            list.values.iter().map(|v| PrincipalPattern::new(*kind, v))
                        })
                        .collect(),
                },
            }),
            conditions: s
                .conditions
                .iter()
                .flat_map(|block| {
                    block.entries.iter().map(|e| {
                        Condition::new(
                            block.operator,
                            &e.key,
                            e.values.iter().map(|v| v.as_text()),
                            variables,
                        )
                    })
                })
                .collect(),
        }
    }

    /// Whether the statement applies to the request, ignoring `Principal`.
    pub(crate) fn applies(&self, req: &Request) -> bool {
        self.actions.matches(&req.action_lower)
            && self
                .resources
                .as_ref()
                .is_none_or(|r| r.matches(&req.resource, &req.context))
            && self.conditions.iter().all(|c| c.holds(&req.context))
    }

    /// For resource-based policies: how the statement's principal names the caller, or
    /// `None` when it does not apply to the caller. Statements without a principal element
    /// apply to everyone (SCPs and identity policies never reach here). `bounded` says the
    /// caller is an IAM user or role session with a permissions boundary.
    pub(crate) fn grant_for(&self, caller: &Caller, bounded: bool) -> Option<Grant> {
        match &self.principals {
            None => Some(Grant::Direct),
            Some(p) => p.grant_for(caller, self.effect, bounded),
        }
    }

    /// Whether the statement's action patterns could match `action_lower` (used to expand a
    /// policy against a catalog).
    pub(crate) fn action_matches(&self, action_lower: &str) -> bool {
        self.actions.matches(action_lower)
    }

    /// Whether the statement has conditions.
    pub(crate) fn is_conditional(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// How much of `target` (a resource ARN or ARN pattern, `*` for every resource) the
    /// statement's `Resource`/`NotResource` covers. `target_glob` is `target` compiled as a
    /// pattern, to find partial overlaps.
    pub(crate) fn resource_cover(&self, target: &str, target_glob: &Glob) -> Cover {
        let Some(r) = &self.resources else {
            return Cover::All;
        };
        let empty = Context::default();
        let covers = r
            .patterns
            .iter()
            .any(|p| p.as_ref().is_some_and(|p| p.matches(target, &empty)));
        // Overlap: the target pattern matches a listed pattern's text, or a listed pattern
        // has variables (resolved only per request).
        let overlaps = || {
            r.texts.iter().zip(&r.patterns).any(|(text, p)| {
                target_glob.matches(text) || p.as_ref().is_some_and(ArnPattern::has_variables)
            })
        };
        match (r.negated, covers) {
            (false, true) => Cover::All,
            (true, true) => Cover::None,
            (false, false) if overlaps() => Cover::Part,
            (true, false) if overlaps() => Cover::Part,
            (false, false) => Cover::None,
            (true, false) => Cover::All,
        }
    }

    /// Whether the statement applies to every resource with no conditions.
    pub(crate) fn is_unconditional(&self) -> bool {
        self.conditions.is_empty()
            && self.principals.is_none()
            && self.resources.as_ref().is_none_or(|r| {
                !r.negated
                    && r.patterns
                        .iter()
                        .any(|p| p.as_ref().is_some_and(ArnPattern::is_any))
            })
    }
}

#[derive(Debug, Clone)]
enum ActionPattern {
    /// A string IAM stores but that names no action (`s3:GetObject,PutObject`).
    Nothing,
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    Glob(Glob),
}

impl ActionPattern {
    fn new(pattern: &str) -> ActionPattern {
        if !crate::parse::well_formed_action(pattern) {
            return ActionPattern::Nothing;
        }
        let lower = pattern.to_lowercase();
        let glob = Glob::new(&lower);
        if glob.is_any() {
            ActionPattern::Any
        } else if glob.literal().is_some() {
            ActionPattern::Exact(lower.into())
        } else if let Some(prefix) = glob.prefix() {
            ActionPattern::Prefix(String::from_utf8_lossy(prefix).into())
        } else {
            ActionPattern::Glob(glob)
        }
    }

    fn matches(&self, action_lower: &str) -> bool {
        match self {
            ActionPattern::Nothing => false,
            ActionPattern::Any => true,
            ActionPattern::Exact(e) => **e == *action_lower,
            ActionPattern::Prefix(p) => action_lower.starts_with(&**p),
            ActionPattern::Glob(g) => g.matches(action_lower),
        }
    }
}

#[derive(Debug, Clone)]
struct Actions {
    negated: bool,
    patterns: Vec<ActionPattern>,
}

impl Actions {
    fn matches(&self, action_lower: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(action_lower)) != self.negated
    }
}

#[derive(Debug, Clone)]
struct Resources {
    negated: bool,
    /// `None` for a pattern that failed to compile (validation prevents it): matches nothing.
    patterns: Vec<Option<ArnPattern>>,
    /// The patterns as written.
    texts: Vec<Box<str>>,
}

/// How much of a resource (pattern) a statement's resource element covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cover {
    /// All of it.
    All,
    /// Some of it, or some of it depending on the request.
    Part,
    /// None of it.
    None,
}

impl Resources {
    fn matches(&self, resource: &str, ctx: &Context) -> bool {
        self.patterns
            .iter()
            .any(|p| p.as_ref().is_some_and(|p| p.matches(resource, ctx)))
            != self.negated
    }
}

/// One value of `Principal`/`NotPrincipal`.
#[derive(Debug, Clone)]
enum PrincipalPattern {
    /// `"*"`, `{"AWS": "*"}`: everyone, anonymous included.
    Everyone,
    /// `{"Service": "*"}` or `{"Federated": "*"}`: every principal of that kind.
    AnyOf(PrincipalKind),
    Account(String),
    User(String),
    Role {
        account: String,
        path: String,
        name: String,
    },
    Session(String),
    FederatedUser(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
    /// A value that names no principal (validation prevents it).
    Nothing,
}

impl PrincipalPattern {
    fn new(kind: PrincipalKind, value: &str) -> PrincipalPattern {
        match (kind, value) {
            (PrincipalKind::Aws, "*") => PrincipalPattern::Everyone,
            (kind, "*") => PrincipalPattern::AnyOf(kind),
            (PrincipalKind::Service, v) => PrincipalPattern::Service(v.to_lowercase()),
            (PrincipalKind::Federated, v) => PrincipalPattern::Federated(v.to_owned()),
            (PrincipalKind::CanonicalUser, v) => PrincipalPattern::CanonicalUser(v.to_owned()),
            (PrincipalKind::Aws, v) if is_account_id(v) => PrincipalPattern::Account(v.to_owned()),
            (PrincipalKind::Aws, v) => match Arn::parse(v) {
                Some(arn) => match (arn.service, arn.resource) {
                    ("iam", "root") => PrincipalPattern::Account(arn.account.to_owned()),
                    ("iam", r) if r.starts_with("user/") => PrincipalPattern::User(v.to_owned()),
                    ("iam", r) if r.starts_with("role/") => {
                        let path_and_name = r.get(4..).unwrap_or("/");
                        let (path, name) = path_and_name
                            .rsplit_once('/')
                            .unwrap_or(("", path_and_name));
                        PrincipalPattern::Role {
                            account: arn.account.to_owned(),
                            path: format!("{path}/"),
                            name: name.to_owned(),
                        }
                    }
                    ("sts", r) if r.starts_with("assumed-role/") => {
                        PrincipalPattern::Session(v.to_owned())
                    }
                    ("sts", r) if r.starts_with("federated-user/") => {
                        PrincipalPattern::FederatedUser(v.to_owned())
                    }
                    _ => PrincipalPattern::Nothing,
                },
                None => PrincipalPattern::Nothing,
            },
        }
    }

    /// Whether this value names `identity`.
    fn names(&self, identity: &Identity<'_>) -> bool {
        use PrincipalPattern as P;
        match (self, identity) {
            (
                P::Everyone,
                Identity::Service(_) | Identity::Federated(_) | Identity::CanonicalUser(_),
            ) => false,
            (P::Everyone, _) => true,
            (P::AnyOf(PrincipalKind::Service), Identity::Service(_)) => true,
            (P::AnyOf(PrincipalKind::Federated), Identity::Federated(_)) => true,
            (P::AnyOf(PrincipalKind::CanonicalUser), Identity::CanonicalUser(_)) => true,
            (P::Account(a), Identity::Account(b)) => a == b,
            (P::User(a), Identity::User(b)) => a == b,
            (P::Session(a), Identity::Session(b)) => a == b,
            (P::FederatedUser(a), Identity::FederatedUser(b)) => a == b,
            (
                P::Role {
                    account,
                    path,
                    name,
                },
                Identity::Role {
                    account: acct,
                    path: role_path,
                    name: role_name,
                },
            ) => account == acct && name == role_name && role_path.is_none_or(|p| p == path),
            (P::Service(a), Identity::Service(b)) => a.eq_ignore_ascii_case(b),
            (P::Federated(a), Identity::Federated(b)) => a == b,
            (P::CanonicalUser(a), Identity::CanonicalUser(b)) => a == b,
            _ => false,
        }
    }
}

/// One of the identities a caller presents: a role session is at once the session, its
/// role and its account.
#[derive(Debug)]
enum Identity<'a> {
    Anonymous,
    Account(&'a str),
    User(&'a str),
    Role {
        account: &'a str,
        path: Option<&'a str>,
        name: &'a str,
    },
    Session(&'a str),
    FederatedUser(&'a str),
    Service(&'a str),
    Federated(&'a str),
    CanonicalUser(&'a str),
}

/// The caller's identities with the grant each would get if named, most specific first.
fn identities(caller: &Caller) -> Vec<(Identity<'_>, Grant)> {
    match caller {
        Caller::Anonymous => vec![(Identity::Anonymous, Grant::Direct)],
        Caller::Root { account, .. } => vec![(Identity::Account(account), Grant::Direct)],
        Caller::User { account, arn, .. } => vec![
            (Identity::User(arn), Grant::Direct),
            (Identity::Account(account), Grant::Account),
        ],
        Caller::RoleSession {
            account,
            arn,
            role_name,
            role_path,
            ..
        } => vec![
            (Identity::Session(arn), Grant::Direct),
            (
                Identity::Role {
                    account,
                    path: role_path.as_deref(),
                    name: role_name,
                },
                Grant::Role,
            ),
            (Identity::Account(account), Grant::Account),
        ],
        Caller::FederatedUser { account, arn } => vec![
            (Identity::FederatedUser(arn), Grant::Direct),
            (Identity::Account(account), Grant::Account),
        ],
        Caller::Service(s) => vec![(Identity::Service(s), Grant::Direct)],
        Caller::Federated(f) => vec![(Identity::Federated(f), Grant::Direct)],
        Caller::CanonicalUser(c) => vec![(Identity::CanonicalUser(c), Grant::Direct)],
    }
}

#[derive(Debug, Clone)]
struct Principals {
    negated: bool,
    patterns: Vec<PrincipalPattern>,
}

impl Principals {
    fn grant_for(&self, caller: &Caller, effect: Effect, bounded: bool) -> Option<Grant> {
        let ids = identities(caller);
        if self.negated {
            let listed = |id: &Identity<'_>| self.patterns.iter().any(|p| p.names(id));
            return match effect {
                // "Allow everyone except the named principals": a caller any of whose
                // identities is listed (the user, its role, its session or its account) is
                // never granted, so naming one of them can only take access away.
                Effect::Allow => (!ids.iter().any(|(id, _)| listed(id))).then_some(Grant::Direct),
                // A `Deny` with `NotPrincipal` always denies an IAM principal that has a
                // permissions boundary, whatever the element lists.
                Effect::Deny if bounded => Some(Grant::Direct),
                // Otherwise it applies unless every identity of the caller is listed: a role
                // session is excluded only when its session, role and account all are.
                Effect::Deny => (!ids.iter().all(|(id, _)| listed(id))).then_some(Grant::Direct),
            };
        }
        ids.iter()
            .filter(|(id, _)| self.patterns.iter().any(|p| p.names(id)))
            .map(|(_, grant)| *grant)
            .max()
    }
}

/// A string condition value.
#[derive(Debug, Clone)]
enum Text {
    /// Compared as is (lower-cased already for `...IgnoreCase`).
    Exact(String),
    /// A `*Like` pattern.
    Glob(Glob),
    /// Has policy variables: resolved per request.
    Template(Template),
}

/// String values: long lists of exact values (a revocation list of session ids) are also
/// kept as a set, so a lookup does not compare against each.
#[derive(Debug, Clone)]
struct Texts {
    items: Vec<Text>,
    exact: Option<FastSet<String>>,
}

/// From how many exact values a set pays off.
const SET_FROM: usize = 8;

#[derive(Debug, Clone)]
enum Values {
    Text(Texts),
    Number(Vec<f64>),
    Date(Vec<Nanos>),
    Bool(Vec<Result<bool, Template>>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<Cidr>),
    Arn(Vec<ArnPattern>),
    Null(Vec<bool>),
}

/// One key of one condition operator.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    operator: Operator,
    key: Key,
    values: Values,
}

impl Condition {
    fn new(
        operator: Operator,
        key: &str,
        values: impl Iterator<Item = String>,
        variables: bool,
    ) -> Condition {
        let base = operator.base;
        let vars = variables && base.takes_variables();
        let like = base.takes_wildcards();
        let ignore_case = matches!(
            base,
            BaseOperator::StringEqualsIgnoreCase | BaseOperator::StringNotEqualsIgnoreCase
        );
        let texts: Vec<String> = values.collect();
        let compiled = match base.family() {
            Family::String => Values::Text(Texts::new(
                texts
                    .iter()
                    .filter_map(|t| {
                        let template = Template::parse(t, vars, like).ok()?;
                        Some(if template.has_variables() {
                            Text::Template(template)
                        } else if like && template.has_wildcards() {
                            Text::Glob(template.to_glob())
                        } else {
                            let plain = template.plain_text().unwrap_or_default();
                            Text::Exact(if ignore_case {
                                plain.to_lowercase()
                            } else {
                                plain
                            })
                        })
                    })
                    .collect(),
            )),
            Family::Numeric => {
                Values::Number(texts.iter().filter_map(|t| parse_number(t)).collect())
            }
            Family::Date => Values::Date(texts.iter().filter_map(|t| date::parse(t)).collect()),
            Family::Bool => Values::Bool(
                texts
                    .iter()
                    .filter_map(|t| match parse_bool(t) {
                        Some(b) => Some(Ok(b)),
                        None if vars => Template::parse(t, true, false).ok().map(Err),
                        None => None,
                    })
                    .collect(),
            ),
            Family::Binary => {
                Values::Binary(texts.iter().filter_map(|t| decode_base64(t)).collect())
            }
            Family::Ip => Values::Ip(texts.iter().filter_map(|t| Cidr::parse(t)).collect()),
            Family::Arn => Values::Arn(
                texts
                    .iter()
                    .filter_map(|t| ArnPattern::compile(t, vars).ok())
                    .collect(),
            ),
            Family::Null => Values::Null(texts.iter().filter_map(|t| parse_bool(t)).collect()),
        };
        Condition {
            operator,
            key: Key::new(key),
            values: compiled,
        }
    }

    /// Whether the condition holds for the request context.
    fn holds(&self, ctx: &Context) -> bool {
        let got = ctx.get(&self.key);
        if let Values::Null(wanted) = &self.values {
            let absent = got.is_none_or(|v| v.values().is_empty());
            return wanted.contains(&absent);
        }
        let negated = self.operator.base.is_negated();
        let Some(value) = got else {
            if self.operator.if_exists {
                return true;
            }
            return match self.operator.set {
                Some(SetOperator::ForAllValues) => true,
                Some(SetOperator::ForAnyValue) => false,
                None => negated,
            };
        };
        let mut values = value.values().iter().enumerate();
        let one = |(i, x): (usize, &String)| {
            self.test(value, i, x, ctx)
                .is_some_and(|positive| positive != negated)
        };
        match self.operator.set {
            Some(SetOperator::ForAllValues) => values.all(one),
            Some(SetOperator::ForAnyValue) => values.any(one),
            // A negated operator requires that no value matches (NOR); a positive one that
            // some value does.
            None if negated => values.all(one),
            None => values.any(one),
        }
    }

    /// Whether context value `x` matches any policy value, by the operator's positive form;
    /// `None` when `x` is not a value of the operator's type (then nothing matches).
    fn test(&self, value: &ContextValue, i: usize, x: &str, ctx: &Context) -> Option<bool> {
        use BaseOperator as B;
        let base = self.operator.base;
        Some(match &self.values {
            Values::Text(policy) => {
                let ignore_case = matches!(
                    base,
                    B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase
                );
                let lowered;
                let x = if ignore_case {
                    lowered = x.to_lowercase();
                    lowered.as_str()
                } else {
                    x
                };
                if let Some(set) = &policy.exact
                    && set.contains(x)
                {
                    return Some(true);
                }
                let skip_exact = policy.exact.is_some();
                policy.items.iter().any(|p| match p {
                    Text::Exact(_) if skip_exact => false,
                    Text::Exact(e) => e == x,
                    Text::Glob(g) => g.matches(x),
                    Text::Template(t) if base.takes_wildcards() => {
                        t.resolve(ctx).is_some_and(|g| g.matches(x))
                    }
                    Text::Template(t) => t.resolve_text(ctx).is_some_and(|s| {
                        if ignore_case {
                            s.to_lowercase() == x
                        } else {
                            s == x
                        }
                    }),
                })
            }
            Values::Number(policy) => {
                let x = parse_number(x)?;
                policy.iter().any(|p| compare(base, x.partial_cmp(p)))
            }
            Values::Date(policy) => {
                let x = value.date(i, x)?;
                policy.iter().any(|p| compare(base, Some(x.cmp(p))))
            }
            Values::Bool(policy) => {
                let x = parse_bool(x)?;
                policy.iter().any(|p| match p {
                    Ok(b) => *b == x,
                    Err(t) => t.resolve_text(ctx).and_then(|s| parse_bool(&s)) == Some(x),
                })
            }
            Values::Binary(policy) => {
                let x = decode_base64(x)?;
                policy.contains(&x)
            }
            Values::Ip(policy) => {
                let x: IpAddr = parse_ip(x)?;
                policy.iter().any(|p| p.contains(&x))
            }
            Values::Arn(policy) => {
                Arn::parse(x)?;
                policy.iter().any(|p| p.matches(x, ctx))
            }
            Values::Null(_) => return None,
        })
    }
}

impl Texts {
    fn new(items: Vec<Text>) -> Texts {
        let exact: Vec<&String> = items
            .iter()
            .filter_map(|t| match t {
                Text::Exact(e) => Some(e),
                _ => None,
            })
            .collect();
        let exact = (exact.len() >= SET_FROM).then(|| exact.into_iter().cloned().collect());
        Texts { items, exact }
    }
}

/// Applies a numeric or date operator to the ordering of (context value, policy value).
fn compare(base: BaseOperator, ord: Option<std::cmp::Ordering>) -> bool {
    use BaseOperator as B;
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (base, ord) {
        (_, None) => false,
        (B::NumericEquals | B::NumericNotEquals | B::DateEquals | B::DateNotEquals, Some(o)) => {
            o == Equal
        }
        (B::NumericLessThan | B::DateLessThan, Some(o)) => o == Less,
        (B::NumericLessThanEquals | B::DateLessThanEquals, Some(o)) => o != Greater,
        (B::NumericGreaterThan | B::DateGreaterThan, Some(o)) => o == Greater,
        (B::NumericGreaterThanEquals | B::DateGreaterThanEquals, Some(o)) => o != Less,
        _ => false,
    }
}
