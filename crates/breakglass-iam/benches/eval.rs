//! Benchmarks the engine on a realistic incident-response role: three identity policies
//! (26 statements, one of them the consolidated revocation policy), a permissions boundary,
//! and a session policy with conditions.
//!
//! `compile` measures parsing and compiling the set; `evaluate/compiled` measures decisions
//! on the compiled set; `evaluate/naive` runs the same requests through a deliberately naive
//! evaluator in this file that walks the raw JSON on every call, lower-casing and matching
//! wildcards as it goes. Both report elements (evaluations) per second, so their ratio is
//! the speed-up compilation buys. The naive evaluator covers only the constructs this role
//! uses, and setup checks that it agrees with the engine on every request.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "benchmark setup fails loudly and says what it measures"
)]

use std::hint::black_box;

use breakglass_iam::{
    ContextValue, Decision, Policy, PolicySet, PolicyType, Request, parse, parse_caller,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

const ROLE_ID: &str = "AROAEXAMPLEROLEID1234";

const INCIDENT_RESPONSE: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Describe","Effect":"Allow","Action":["ec2:Describe*","elasticloadbalancing:Describe*","autoscaling:Describe*"],"Resource":"*"},
 {"Sid":"Contain","Effect":"Allow","Action":["ec2:StopInstances","ec2:ModifyInstanceAttribute","ec2:RevokeSecurityGroupIngress","ec2:RevokeSecurityGroupEgress","ec2:CreateSnapshot"],
  "Resource":"arn:aws:ec2:*:111122223333:*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]}}},
 {"Sid":"Isolate","Effect":"Allow","Action":["ec2:CreateSecurityGroup","ec2:AuthorizeSecurityGroupEgress"],"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"ir"}}},
 {"Sid":"Evidence","Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::forensic-evidence-*/${aws:PrincipalTag/IncidentId}/*"},
 {"Sid":"EvidenceList","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::forensic-evidence-*","Condition":{"StringLike":{"s3:prefix":["${aws:PrincipalTag/IncidentId}/*"]}}},
 {"Sid":"Logs","Effect":"Allow","Action":["logs:FilterLogEvents","logs:GetLogEvents","logs:StartQuery","logs:GetQueryResults"],"Resource":"arn:aws:logs:*:111122223333:log-group:*"},
 {"Sid":"Trail","Effect":"Allow","Action":["cloudtrail:LookupEvents","guardduty:Get*","guardduty:List*","securityhub:Get*"],"Resource":"*"},
 {"Sid":"Keys","Effect":"Allow","Action":["iam:UpdateAccessKey","iam:ListAccessKeys"],"Resource":"arn:aws:iam::111122223333:user/*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},
 {"Sid":"Ssm","Effect":"Allow","Action":["ssm:SendCommand","ssm:GetCommandInvocation"],"Resource":"*","Condition":{"StringEqualsIfExists":{"aws:ResourceTag/quarantine":"true"}}},
 {"Sid":"NoIdentityChanges","Effect":"Deny","Action":["iam:CreateUser","iam:DeleteUser","iam:CreateRole","iam:DeleteRole","iam:Put*Policy","iam:Attach*Policy"],"Resource":"*"},
 {"Sid":"NoOrg","Effect":"Deny","Action":"organizations:*","Resource":"*"}
]}"#;

const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["iam:Get*","iam:List*","iam:GenerateCredentialReport"],"Resource":"*"},
 {"Effect":"Allow","Action":["cloudwatch:Get*","cloudwatch:List*","cloudwatch:Describe*"],"Resource":"*"},
 {"Effect":"Allow","Action":["logs:Describe*","logs:Get*","logs:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["kms:Describe*","kms:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["config:Get*","config:Describe*","config:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["lambda:Get*","lambda:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["rds:Describe*","dynamodb:Describe*","dynamodb:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["sns:Get*","sns:List*","sqs:Get*","sqs:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["cloudformation:Describe*","cloudformation:List*","cloudformation:Get*"],"Resource":"*"},
 {"Effect":"Allow","Action":["ecr:Describe*","ecr:List*","ecs:Describe*","ecs:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["tag:Get*"],"Resource":"*"},
 {"Effect":"Deny","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::payroll-*/*"}
]}"#;

fn revocations() -> String {
    let ids: Vec<String> = (0..20).map(|i| format!("\"{ROLE_ID}:g-{i:02}\"")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
 {{"Sid":"BreakglassRevocations","Effect":"Deny","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"aws:userid":[{}]}}}}}},
 {{"Sid":"AWSRevokeOlderSessions","Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"2024-05-01T00:00:00Z"}}}}}}
]}}"#,
        ids.join(",")
    )
}

const BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["ec2:*","s3:*","logs:*","cloudtrail:*","guardduty:*","securityhub:*","ssm:*","cloudwatch:*","kms:Describe*","kms:List*"],"Resource":"*"},
 {"Effect":"Allow","Action":["iam:Get*","iam:List*","iam:UpdateAccessKey","iam:GenerateCredentialReport"],"Resource":"*"},
 {"Effect":"Deny","Action":["iam:*PermissionsBoundary*","iam:DeletePolicy*"],"Resource":"*"}
]}"#;

const SESSION: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["ec2:Describe*","ec2:StopInstances","ec2:CreateSnapshot","ec2:RevokeSecurityGroupIngress","logs:*","s3:GetObject","s3:PutObject","s3:ListBucket","iam:Get*","iam:List*","cloudtrail:LookupEvents"],
  "Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]},"DateLessThan":{"aws:CurrentTime":"2024-05-01T16:00:00Z"}}},
 {"Effect":"Deny","Action":["iam:CreateUser","iam:DeleteUser","iam:CreateRole","iam:DeleteRole","organizations:CloseAccount","account:CloseAccount"],"Resource":"*"}
]}"#;

struct Req {
    action: &'static str,
    resource: &'static str,
    session: &'static str,
    region: &'static str,
    now: &'static str,
    issued: &'static str,
}

const REQUESTS: &[Req] = &[
    Req {
        action: "ec2:StopInstances",
        resource: "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
        session: "g-50",
        region: "us-east-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "ec2:DescribeInstances",
        resource: "*",
        session: "g-50",
        region: "us-west-2",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "s3:PutObject",
        resource: "arn:aws:s3:::forensic-evidence-prod/INC-42/mem.raw",
        session: "g-50",
        region: "us-east-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "s3:PutObject",
        resource: "arn:aws:s3:::forensic-evidence-prod/INC-41/mem.raw",
        session: "g-50",
        region: "us-east-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "iam:CreateUser",
        resource: "arn:aws:iam::111122223333:user/x",
        session: "g-50",
        region: "us-east-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "ec2:StopInstances",
        resource: "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc",
        session: "g-50",
        region: "eu-west-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "ec2:StopInstances",
        resource: "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
        session: "g-07",
        region: "us-east-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "logs:FilterLogEvents",
        resource: "arn:aws:logs:us-east-1:111122223333:log-group:/aws/ec2/app",
        session: "g-50",
        region: "us-east-1",
        now: "2024-05-01T17:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "s3:GetObject",
        resource: "arn:aws:s3:::payroll-2024/jan.csv",
        session: "g-50",
        region: "us-east-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-05-01T11:00:00Z",
    },
    Req {
        action: "kms:Decrypt",
        resource: "arn:aws:kms:us-east-1:111122223333:key/k-1",
        session: "g-50",
        region: "us-east-1",
        now: "2024-05-01T12:00:00Z",
        issued: "2024-04-30T11:00:00Z",
    },
];

fn context(r: &Req) -> Vec<(&'static str, String)> {
    vec![
        ("aws:RequestedRegion", r.region.to_owned()),
        ("aws:CurrentTime", r.now.to_owned()),
        ("aws:TokenIssueTime", r.issued.to_owned()),
        ("aws:userid", format!("{ROLE_ID}:{}", r.session)),
        ("aws:PrincipalTag/team", "ir".to_owned()),
        ("aws:PrincipalTag/IncidentId", "INC-42".to_owned()),
        ("aws:MultiFactorAuthPresent", "true".to_owned()),
        ("aws:SourceIdentity", "alice".to_owned()),
    ]
}

fn request(r: &Req) -> Request {
    let caller = parse_caller(
        &format!("arn:aws:sts::111122223333:assumed-role/IR/{}", r.session),
        None,
    )
    .unwrap();
    let mut req = Request::new(caller, r.action, r.resource);
    for (k, v) in context(r) {
        req.insert_context(k, ContextValue::one(v));
    }
    req.derive_principal_keys();
    req
}

struct Texts {
    identity: [String; 3],
    boundary: String,
    session: String,
}

fn texts() -> Texts {
    Texts {
        identity: [
            INCIDENT_RESPONSE.to_owned(),
            READ_ONLY.to_owned(),
            revocations(),
        ],
        boundary: BOUNDARY.to_owned(),
        session: SESSION.to_owned(),
    }
}

fn compile(t: &Texts) -> PolicySet {
    let identity: Vec<Policy> = t
        .identity
        .iter()
        .map(|p| parse(p, PolicyType::Identity).unwrap())
        .collect();
    let mut b = PolicySet::builder();
    for p in &identity {
        b = b.identity(p);
    }
    b.boundary(&parse(&t.boundary, PolicyType::Boundary).unwrap())
        .session(&parse(&t.session, PolicyType::Session).unwrap())
        .build()
}

// ---- The naive reference: raw JSON, everything recomputed on every call. ----

struct Naive {
    identity: Vec<Value>,
    boundary: Value,
    session: Value,
}

fn list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn wildcard(p: &[char], s: &[char]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some('*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some('?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}

fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = text.chars().collect();
    wildcard(&p, &s)
}

fn lookup<'a>(ctx: &'a [(&'static str, String)], key: &str) -> Option<&'a str> {
    ctx.iter()
        .find(|(k, _)| k.to_lowercase() == key.to_lowercase())
        .map(|(_, v)| v.as_str())
}

fn substitute(value: &str, ctx: &[(&'static str, String)]) -> Option<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}')? + i;
        out.push_str(lookup(ctx, &rest[i + 2..end])?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`, reparsed on every call.
fn seconds(text: &str) -> i64 {
    let n = |a: usize, b: usize| text[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let days = (y - 1970) * 365
        + (y - 1969) / 4
        + [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][m as usize - 1]
        + if m > 2 && y % 4 == 0 { 1 } else { 0 }
        + d
        - 1;
    days * 86_400 + n(11, 13) * 3_600 + n(14, 16) * 60 + n(17, 19)
}

fn condition_holds(op: &str, key: &str, values: &[String], ctx: &[(&'static str, String)]) -> bool {
    let (base, if_exists) = match op.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (op, false),
    };
    let Some(got) = lookup(ctx, key) else {
        return if_exists || base.contains("Not");
    };
    let any = |f: &dyn Fn(&str) -> bool| {
        values
            .iter()
            .any(|v| substitute(v, ctx).is_some_and(|v| f(&v)))
    };
    match base {
        "StringEquals" => any(&|v| v == got),
        "StringNotEquals" => !any(&|v| v == got),
        "StringLike" => any(&|v| like(v, got)),
        "Bool" => any(&|v| v.eq_ignore_ascii_case(got)),
        "DateLessThan" => any(&|v| seconds(got) < seconds(v)),
        other => panic!("the naive evaluator does not know `{other}`"),
    }
}

fn statement_applies(s: &Value, r: &Req, ctx: &[(&'static str, String)]) -> bool {
    let action = r.action.to_lowercase();
    let actions = list(s.get("Action"));
    if !actions.iter().any(|a| like(&a.to_lowercase(), &action)) {
        return false;
    }
    let resources = list(s.get("Resource"));
    if !resources
        .iter()
        .any(|p| substitute(p, ctx).is_some_and(|p| like(&p, r.resource)))
    {
        return false;
    }
    let Some(Value::Object(cond)) = s.get("Condition") else {
        return true;
    };
    cond.iter().all(|(op, keys)| {
        keys.as_object()
            .unwrap()
            .iter()
            .all(|(key, values)| condition_holds(op, key, &list(Some(values)), ctx))
    })
}

/// (any applicable deny, any applicable allow) over a group of policies.
fn scan(policies: &[&Value], r: &Req, ctx: &[(&'static str, String)]) -> (bool, bool) {
    let (mut deny, mut allow) = (false, false);
    for p in policies {
        let statements = match &p["Statement"] {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            one => vec![one],
        };
        for s in statements {
            if statement_applies(s, r, ctx) {
                match s["Effect"].as_str() {
                    Some("Deny") => deny = true,
                    _ => allow = true,
                }
            }
        }
    }
    (deny, allow)
}

fn naive_decide(n: &Naive, r: &Req) -> Decision {
    let mut ctx = context(r);
    ctx.push((
        "aws:PrincipalArn",
        "arn:aws:iam::111122223333:role/IR".to_owned(),
    ));
    ctx.push(("aws:PrincipalAccount", "111122223333".to_owned()));
    let identity: Vec<&Value> = n.identity.iter().collect();
    let (id_deny, id_allow) = scan(&identity, r, &ctx);
    let (b_deny, b_allow) = scan(&[&n.boundary], r, &ctx);
    let (s_deny, s_allow) = scan(&[&n.session], r, &ctx);
    if id_deny || b_deny || s_deny {
        Decision::ExplicitDeny
    } else if id_allow && b_allow && s_allow {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn bench(c: &mut Criterion) {
    let t = texts();
    let set = compile(&t);
    let requests: Vec<Request> = REQUESTS.iter().map(request).collect();
    let naive = Naive {
        identity: t
            .identity
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect(),
        boundary: serde_json::from_str(&t.boundary).unwrap(),
        session: serde_json::from_str(&t.session).unwrap(),
    };
    // The reference must be a reference: it decides every request as the engine does, and
    // the requests exercise all three decisions.
    let decisions: Vec<Decision> = requests.iter().map(|r| set.evaluate(r).decision).collect();
    for (r, d) in REQUESTS.iter().zip(&decisions) {
        assert_eq!(
            naive_decide(&naive, r),
            *d,
            "naive and compiled disagree on {}",
            r.action
        );
    }
    for want in [
        Decision::Allow,
        Decision::ExplicitDeny,
        Decision::ImplicitDeny,
    ] {
        assert!(decisions.contains(&want), "no request decides {want}");
    }
    let statements = t
        .identity
        .iter()
        .chain([&t.boundary, &t.session])
        .map(|p| p.matches("\"Effect\"").count())
        .sum::<usize>();
    eprintln!(
        "role: 3 identity policies, boundary, session policy; {statements} statements; {} requests",
        requests.len()
    );

    c.bench_function("compile/role", |b| {
        b.iter(|| black_box(compile(black_box(&t))))
    });

    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.bench_function("compiled", |b| {
        b.iter(|| {
            for r in &requests {
                black_box(set.evaluate(black_box(r)));
            }
        })
    });
    group.bench_function("naive", |b| {
        b.iter(|| {
            for r in REQUESTS {
                black_box(naive_decide(black_box(&naive), r));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
