//! Property tests: a Deny never turns a deny into an allow; wildcard matching agrees with a
//! regex oracle; parse → print → parse is stable; no input makes the parser panic, and every
//! error it reports points at a place that exists in the document.

use breakglass_iam::{
    ContextValue, Decision, Policy, PolicySet, PolicyType, Request, ResourcePolicyKind, parse,
    parse_caller, parse_value,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "ec2:StopInstances",
    "iam:PassRole",
];
const ACTION_PATTERNS: &[&str] = &[
    "s3:GetObject",
    "s3:*",
    "s3:Get*",
    "*",
    "ec2:*",
    "iam:PassRole",
    "s3:?utObject",
    "*:*Object",
];
const RESOURCES: &[&str] = &[
    "arn:aws:s3:::a/x",
    "arn:aws:s3:::b/y",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::a/*",
    "arn:aws:s3:::*",
    "arn:aws:ec2:*:*:instance/*",
    "arn:aws:s3:::b/y",
];
const PRINCIPALS: &[&str] = &[
    "arn:aws:sts::111122223333:assumed-role/IR/g-01",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::444455556666:assumed-role/Auditor/a-1",
    "arn:aws:iam::111122223333:root",
];
const POLICY_PRINCIPALS: &[&str] = &[
    "111122223333",
    "444455556666",
    "arn:aws:iam::111122223333:role/IR",
    "arn:aws:sts::111122223333:assumed-role/IR/g-01",
    "arn:aws:iam::111122223333:user/alice",
    "*",
];

fn conditions() -> Vec<Value> {
    vec![
        json!({"StringEquals": {"aws:PrincipalTag/team": "ir"}}),
        json!({"StringNotEquals": {"aws:PrincipalTag/team": ["ir", "sec"]}}),
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}),
        json!({"ForAnyValue:StringLike": {"aws:TagKeys": "b*"}}),
        json!({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),
        json!({"StringEqualsIfExists": {"aws:PrincipalTag/team": "ops"}}),
        json!({"Null": {"aws:TokenIssueTime": "true"}}),
        json!({"DateLessThan": {"aws:TokenIssueTime": "2024-05-01T00:00:00Z"}}),
    ]
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

/// A list value written as a scalar or an array.
fn list(items: Vec<&'static str>, as_array: bool) -> Value {
    match (as_array, items.as_slice()) {
        (false, [one]) => json!(one),
        _ => json!(items),
    }
}

/// A statement; `principal` adds a `Principal`/`NotPrincipal` (resource-based policies).
fn statement(principal: bool) -> impl Strategy<Value = Value> {
    (
        prop::bool::ANY,
        prop::bool::weighted(0.15),
        prop::sample::subsequence(ACTION_PATTERNS, 1..=3),
        prop::bool::weighted(0.15),
        prop::sample::subsequence(RESOURCE_PATTERNS, 1..=2),
        prop::option::weighted(0.4, prop::sample::select(conditions())),
        prop::bool::ANY,
        prop::option::of("[A-Za-z0-9]{1,8}"),
        prop::sample::subsequence(POLICY_PRINCIPALS, 1..=2),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            move |(
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                condition,
                arrays,
                sid,
                principals,
                not_principal,
            )| {
                let mut s = serde_json::Map::new();
                if let Some(sid) = sid {
                    s.insert("Sid".into(), json!(sid));
                }
                s.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                if principal {
                    let p = if principals == ["*"] {
                        json!("*")
                    } else {
                        json!({"AWS": list(principals, arrays)})
                    };
                    s.insert(
                        if not_principal {
                            "NotPrincipal"
                        } else {
                            "Principal"
                        }
                        .into(),
                        p,
                    );
                }
                s.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    list(actions, arrays),
                );
                s.insert(
                    if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    }
                    .into(),
                    list(resources, arrays),
                );
                if let Some(c) = condition {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        )
}

fn policy_with(principal: bool) -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(statement(principal), 1..4),
        prop::bool::ANY,
    )
        .prop_map(|(statements, array)| {
            let statement = if !array && statements.len() == 1 {
                statements[0].clone()
            } else {
                json!(statements)
            };
            json!({"Version": "2012-10-17", "Statement": statement})
        })
}

fn policy() -> impl Strategy<Value = Value> {
    policy_with(false)
}

#[derive(Debug, Clone)]
struct Scenario {
    identity: Vec<Value>,
    boundary: Option<Value>,
    session: Option<Value>,
    resource: Option<Value>,
    scps: Vec<Vec<Value>>,
    action: &'static str,
    resource_arn: &'static str,
    principal: &'static str,
    context: Vec<(&'static str, ContextValue)>,
}

fn context() -> impl Strategy<Value = Vec<(&'static str, ContextValue)>> {
    let entries: Vec<(&'static str, ContextValue)> = vec![
        ("aws:PrincipalTag/team", ContextValue::one("ir")),
        ("aws:PrincipalTag/team", ContextValue::one("ops")),
        ("aws:SecureTransport", ContextValue::one("true")),
        ("aws:SecureTransport", ContextValue::one("false")),
        ("aws:TagKeys", ContextValue::many(["a"])),
        ("aws:TagKeys", ContextValue::many(["a", "b"])),
        ("aws:TagKeys", ContextValue::many(Vec::<String>::new())),
        ("aws:MultiFactorAuthAge", ContextValue::one("100")),
        ("aws:MultiFactorAuthAge", ContextValue::one("7200")),
        (
            "aws:TokenIssueTime",
            ContextValue::one("2024-04-01T00:00:00Z"),
        ),
        (
            "aws:TokenIssueTime",
            ContextValue::one("2024-06-01T00:00:00Z"),
        ),
    ];
    prop::sample::subsequence(entries, 0..=4)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(policy(), 0..3),
        prop::option::weighted(0.3, policy()),
        prop::option::weighted(0.3, policy()),
        prop::option::weighted(0.3, policy_with(true)),
        prop::collection::vec(prop::collection::vec(policy(), 1..3), 0..3),
        pick(ACTIONS),
        pick(RESOURCES),
        pick(PRINCIPALS),
        context(),
    )
        .prop_map(
            |(
                identity,
                boundary,
                session,
                resource,
                scps,
                action,
                resource_arn,
                principal,
                context,
            )| Scenario {
                identity,
                boundary,
                session,
                resource,
                scps,
                action,
                resource_arn,
                principal,
                context,
            },
        )
}

fn parsed(v: &Value, ty: PolicyType) -> Policy {
    parse_value(v, ty).unwrap_or_else(|e| panic!("generated policy is invalid: {e}\n{v}"))
}

fn decide(s: &Scenario) -> Decision {
    let identity: Vec<Policy> = s
        .identity
        .iter()
        .map(|p| parsed(p, PolicyType::Identity))
        .collect();
    let mut b = PolicySet::builder();
    for p in &identity {
        b = b.identity(p);
    }
    if let Some(p) = &s.boundary {
        b = b.boundary(&parsed(p, PolicyType::Boundary));
    }
    if let Some(p) = &s.session {
        b = b.session(&parsed(p, PolicyType::Session));
    }
    if let Some(p) = &s.resource {
        b = b.resource(
            &parsed(p, PolicyType::Resource),
            ResourcePolicyKind::Resource,
        );
    }
    for level in &s.scps {
        let level: Vec<Policy> = level.iter().map(|p| parsed(p, PolicyType::Scp)).collect();
        b = b.scp_level(&level);
    }
    let mut req = Request::new(
        parse_caller(s.principal, None).unwrap(),
        s.action,
        s.resource_arn,
    )
    .with_resource_account("111122223333");
    for (k, v) in &s.context {
        req.insert_context(k, v.clone());
    }
    req.derive_principal_keys();
    b.build().evaluate(&req).decision
}

/// Adds `deny` (a Deny statement) to one of the scenario's policies, chosen by `slot`.
fn with_deny(s: &Scenario, deny: Value, slot: usize) -> Scenario {
    let mut s = s.clone();
    let push = |policy: &mut Value| {
        let statements = policy["Statement"].take();
        let mut all = match statements {
            Value::Array(items) => items,
            one => vec![one],
        };
        all.push(deny.clone());
        policy["Statement"] = Value::Array(all);
    };
    match slot % 5 {
        0 if !s.identity.is_empty() => {
            let i = slot / 5 % s.identity.len();
            push(&mut s.identity[i]);
        }
        1 if s.boundary.is_some() => push(s.boundary.as_mut().unwrap()),
        2 if s.session.is_some() => push(s.session.as_mut().unwrap()),
        3 if !s.scps.is_empty() => {
            let level = slot / 5 % s.scps.len();
            push(&mut s.scps[level][0]);
        }
        _ => s
            .identity
            .push(json!({"Version": "2012-10-17", "Statement": [deny]})),
    }
    s
}

fn deny_statement() -> impl Strategy<Value = Value> {
    statement(false).prop_map(|mut s| {
        s["Effect"] = json!("Deny");
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_deny_never_turns_a_deny_into_an_allow(s in scenario(), deny in deny_statement(), slot in 0usize..100) {
        let before = decide(&s);
        let after = decide(&with_deny(&s, deny, slot));
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
    }

    #[test]
    fn adding_an_allow_never_lifts_an_explicit_deny(s in scenario(), allow in statement(false), slot in 0usize..100) {
        let mut allow = allow;
        allow["Effect"] = json!("Allow");
        if decide(&s) == Decision::ExplicitDeny {
            prop_assert_eq!(decide(&with_deny(&s, allow, slot)), Decision::ExplicitDeny);
        }
    }
}

/// Every way a policy can name `principal`: its own ARN, its role (for a session) and its
/// account, as an id and as a root ARN.
fn names_of(principal: &str) -> Vec<String> {
    let account = principal.split(':').nth(4).unwrap_or_default().to_owned();
    let mut names = vec![
        principal.to_owned(),
        account.clone(),
        format!("arn:aws:iam::{account}:root"),
    ];
    if let Some(rest) = principal.split(":assumed-role/").nth(1) {
        let role = rest.split('/').next().unwrap_or_default();
        names.push(format!("arn:aws:iam::{account}:role/{role}"));
    }
    names
}

/// Adds `allow` with a `NotPrincipal` listing `named` (and `others`) to the scenario's
/// resource policy, creating one when it has none.
fn with_not_principal_allow(s: &Scenario, allow: Value, named: &str, others: &[&str]) -> Scenario {
    let mut s = s.clone();
    let mut allow = allow;
    allow["Effect"] = json!("Allow");
    let mut listed: Vec<&str> = vec![named];
    listed.extend(others.iter().filter(|o| **o != "*"));
    allow["NotPrincipal"] = json!({ "AWS": listed });
    match &mut s.resource {
        Some(policy) => {
            let mut all = match policy["Statement"].take() {
                Value::Array(items) => items,
                one => vec![one],
            };
            all.push(allow);
            policy["Statement"] = Value::Array(all);
        }
        None => s.resource = Some(json!({"Version": "2012-10-17", "Statement": [allow]})),
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// `NotPrincipal` with `Allow` allows everyone except the principals named: naming the
    /// caller, its role, its session or its account leaves the decision as it was.
    #[test]
    fn adding_a_not_principal_allow_never_grants_the_principals_it_names(
        s in scenario(),
        allow in statement(false),
        which in 0usize..4,
        others in prop::sample::subsequence(POLICY_PRINCIPALS, 0..=2),
    ) {
        let names = names_of(s.principal);
        let named = &names[which % names.len()];
        let before = decide(&s);
        let after = decide(&with_not_principal_allow(&s, allow, named, &others));
        prop_assert_eq!(after, before, "naming `{}` changed the decision for `{}`", named, s.principal);
    }
}

/// The regex an IAM glob means: `*` any run, `?` one character, everything else literal.
fn glob_regex(pattern: &str, any: &str, one: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '*' => any.to_owned(),
            '?' => one.to_owned(),
            c => regex::escape(&c.to_string()),
        })
        .collect()
}

fn allowed(policy: Value, action: &str, resource: &str, context: &[(&str, &str)]) -> bool {
    let p = parse_value(&policy, PolicyType::Identity).unwrap();
    let set = PolicySet::builder().identity(&p).build();
    let mut req = Request::new(
        parse_caller("arn:aws:iam::111122223333:user/alice", None).unwrap(),
        action,
        resource,
    );
    for (k, v) in context {
        req.insert_context(k, ContextValue::one(*v));
    }
    set.evaluate(&req).decision == Decision::Allow
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn string_like_agrees_with_a_regex_oracle(pattern in "[ab*?:/.]{0,8}", text in "[ab:/.]{0,8}") {
        let oracle = regex::Regex::new(&format!("(?s)^{}$", glob_regex(&pattern, ".*", "."))).unwrap();
        let policy = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"StringLike": {"aws:PrincipalTag/x": pattern}}}});
        prop_assert_eq!(allowed(policy, "s3:GetObject", "*", &[("aws:PrincipalTag/x", &text)]), oracle.is_match(&text));
    }

    #[test]
    fn action_matching_agrees_with_a_case_insensitive_regex(service in "[abc]{1,3}", pattern in "[abcABC*?]{1,5}", action in "[abcABC]{1,5}") {
        let full = format!("{service}:{pattern}");
        let oracle = regex::Regex::new(&format!("(?i)^{}$", glob_regex(&full, ".*", "."))).unwrap();
        let request = format!("{}:{action}", service.to_uppercase());
        let policy = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": full, "Resource": "*"}});
        prop_assert_eq!(allowed(policy, &request, "*", &[]), oracle.is_match(&request));
    }

    #[test]
    fn resource_matching_agrees_with_a_component_wise_regex(
        head in prop::collection::vec("[ab*?]{0,3}", 4),
        rest in "[ab*?:/]{0,6}",
        text_head in prop::collection::vec("[ab]{0,3}", 4),
        text_rest in "[ab:/]{0,6}",
    ) {
        let pattern = format!("arn:{}:{rest}", head.join(":"));
        let text = format!("arn:{}:{text_rest}", text_head.join(":"));
        // The first five components never span a colon; the resource component may.
        let mut re = String::from("^arn:");
        for h in &head {
            re.push_str(&glob_regex(h, "[^:]*", "[^:]"));
            re.push(':');
        }
        re.push_str(&glob_regex(&rest, ".*", "."));
        re.push('$');
        let oracle = regex::Regex::new(&re).unwrap();
        let policy = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": pattern}});
        prop_assert_eq!(allowed(policy.clone(), "s3:GetObject", &text, &[]), oracle.is_match(&text), "pattern {} text {}", pattern, text);
        // ArnLike compares the same way.
        let arn_like = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"ArnLike": {"aws:SourceArn": pattern}}}});
        prop_assert_eq!(allowed(arn_like, "s3:GetObject", "*", &[("aws:SourceArn", &text)]), oracle.is_match(&text));
    }

    #[test]
    fn parse_print_parse_is_stable((p, ty) in prop_oneof![
        policy_with(false).prop_map(|p| (p, PolicyType::Identity)),
        policy_with(true).prop_map(|p| (p, PolicyType::Resource)),
    ]) {
        let text = p.to_string();
        let first = parse(&text, ty).unwrap();
        let printed = first.to_compact_string();
        let second = parse(&printed, ty).unwrap();
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(printed, second.to_compact_string());
        let pretty = parse(&first.to_pretty_string(), ty).unwrap();
        prop_assert_eq!(first, pretty);
    }

    #[test]
    fn the_parser_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse(&text, PolicyType::Identity);
    }

    #[test]
    fn errors_point_at_places_that_exist(p in policy(), path in prop::collection::vec(0usize..8, 1..4), junk in junk()) {
        let mut doc = p;
        replace_somewhere(&mut doc, &path, junk);
        if let Err(errors) = parse_value(&doc, PolicyType::Identity) {
            for e in &errors {
                prop_assert!(doc.pointer(e.pointer.as_str()).is_some(), "{} does not exist in {}", e.pointer, doc);
            }
        }
    }
}

fn junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[A-Za-z:*${}]{0,10}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"Effect": "Allow"})),
        Just(json!([1, "x", null])),
    ]
}

/// Replaces the node reached by following `path` (indices into objects and arrays).
fn replace_somewhere(doc: &mut Value, path: &[usize], junk: Value) {
    let mut node = doc;
    for (depth, step) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        let next = match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(step % map.len()).unwrap().clone();
                map.get_mut(&key).unwrap()
            }
            Value::Array(items) if !items.is_empty() => {
                let len = items.len();
                &mut items[step % len]
            }
            _ => break,
        };
        if last {
            *next = junk;
            return;
        }
        node = next;
    }
}
