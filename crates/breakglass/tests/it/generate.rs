//! `breakglass policy generate` on the real invictus CloudTrail dataset: for every role
//! session the linker finds and every IAM user, the generated policy allows every call they
//! made (on the resources they used), allows no action the catalog maps to the dataset's
//! other events, passes lint without error and fits the session-policy limit; and the CLI's
//! output passes `breakglass policy lint`. Skipped with a printed reason when the shared
//! dataset or catalog is absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use breakglass_iam::generate::{Generated, Mapping, Options, UsedCall, generate_with, mapping};
use breakglass_iam::{Catalog, Decision, PolicySet, PolicyType, Request, parse, parse_caller};
use breakglass_trail::read::{Limits, ReadStats, read_records};
use breakglass_trail::session::{Linker, TimelineFilter};
use serde_json::Value;

fn catalog() -> Option<&'static Catalog> {
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let data = breakglass_testkit::shared_data("iam-data/data")?;
            let mut c = Catalog::new();
            for entry in std::fs::read_dir(data.join("actions")).unwrap() {
                let path = entry.unwrap().path();
                let prefix = path.file_stem().unwrap().to_str().unwrap().to_owned();
                c.add_service(&prefix, &std::fs::read_to_string(&path).unwrap())
                    .unwrap();
                for (dir, keys) in [("conditionKeys", true), ("resourceTypes", false)] {
                    let f = data.join(dir).join(format!("{prefix}.json"));
                    if f.is_file() {
                        let text = std::fs::read_to_string(f).unwrap();
                        if keys {
                            c.add_condition_keys(&prefix, &text).unwrap();
                        } else {
                            c.add_resource_types(&prefix, &text).unwrap();
                        }
                    }
                }
            }
            Some(c)
        })
        .as_ref()
}

fn dataset() -> Option<PathBuf> {
    breakglass_testkit::shared_data("cloudtrail/invictus-aws-dataset/CloudTrail")
}

/// Every record of the dataset, and the linker's sessions over them.
fn records(dir: &Path) -> (Vec<Value>, breakglass_trail::session::SessionReport) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut linker = Linker::new(TimelineFilter::default());
    let mut out = Vec::new();
    for f in files {
        let mut stats = ReadStats::default();
        read_records(
            std::fs::File::open(&f).unwrap(),
            &Limits::default(),
            &mut stats,
            |r| {
                let r = r.unwrap();
                linker.observe(&r.event());
                out.push(serde_json::from_slice(r.raw()).unwrap());
            },
        )
        .unwrap();
    }
    (out, linker.finish())
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The principals of the dataset: each role session (by its access keys and its (role,
/// session name)) and each IAM user, with their calls.
fn principals(
    records: &[Value],
    report: &breakglass_trail::session::SessionReport,
) -> BTreeMap<String, Vec<UsedCall>> {
    let mut out: BTreeMap<String, Vec<UsedCall>> = BTreeMap::new();
    for s in &report.sessions {
        let (Some(role), Some(name)) = (&s.role_arn, &s.role_session_name) else {
            continue;
        };
        let calls: Vec<UsedCall> = records
            .iter()
            .filter(|r| {
                let key = text(r, &["userIdentity", "accessKeyId"]);
                let by_key = key.is_some_and(|k| s.access_key_ids.iter().any(|a| a == k));
                let by_tuple = text(r, &["userIdentity", "type"]) == Some("AssumedRole")
                    && text(
                        r,
                        &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
                    )
                    .is_some_and(|a| a.eq_ignore_ascii_case(role))
                    && text(r, &["userIdentity", "principalId"])
                        .and_then(|p| p.split_once(':'))
                        .is_some_and(|(_, n)| n == name);
                by_key || by_tuple
            })
            .filter_map(UsedCall::from_cloudtrail)
            .collect();
        if !calls.is_empty() {
            out.insert(format!("session {role}/{name}"), calls);
        }
    }
    for r in records {
        if text(r, &["userIdentity", "type"]) == Some("IAMUser")
            && let Some(user) = text(r, &["userIdentity", "userName"])
        {
            out.entry(format!("user {user}"))
                .or_default()
                .extend(UsedCall::from_cloudtrail(r));
        }
    }
    out
}

/// The actions a call maps to (none for a call authorization refused).
fn actions(catalog: &Catalog, call: &UsedCall) -> Vec<String> {
    match mapping::map(catalog, call) {
        Mapping::Actions { actions, .. } => actions,
        _ => Vec::new(),
    }
}

fn decide(set: &PolicySet, action: &str, resource: &str) -> Decision {
    let caller = parse_caller("arn:aws:sts::123837392027:assumed-role/IR/g-01", None).unwrap();
    let mut request = Request::new(caller, action, resource);
    request.derive_principal_keys();
    set.evaluate(&request).decision
}

fn check(
    catalog: &Catalog,
    who: &str,
    calls: &[UsedCall],
    all: &BTreeSet<String>,
    g: &Generated,
) -> Vec<String> {
    let mut problems = Vec::new();
    let text = g.compact();
    let session = parse(&text, PolicyType::Session).unwrap();
    let everything = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyType::Identity,
    )
    .unwrap();
    // KMS keys need their key policy to allow: the account's default key policy, which only
    // delegates to the caller's own policies (so the generated policy still decides).
    let key_policy = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123837392027:root"},"Action":"*","Resource":"*"}]}"#,
        PolicyType::Resource,
    )
    .unwrap();
    let set = PolicySet::builder()
        .identity(&everything)
        .session(&session)
        .resource_policy(&key_policy)
        .build();
    let mut made: BTreeSet<String> = BTreeSet::new();
    for call in calls {
        let mapped = actions(catalog, call);
        made.extend(mapped.iter().map(|a| a.to_lowercase()));
        if call.was_denied() {
            continue;
        }
        for action in mapped {
            // (a) allowed on the resources used: `*` when the call named none, else at
            // least one of the ARNs it named (a bucket ARN is not an object's).
            let ok = if call.resources.is_empty() {
                decide(&set, &action, "*") == Decision::Allow
            } else {
                call.resources
                    .iter()
                    .any(|r| decide(&set, &action, r) == Decision::Allow)
            };
            if !ok {
                problems.push(format!(
                    "{who}: {action} on {:?} is not allowed",
                    call.resources
                ));
            }
        }
    }
    // (b) nothing the catalog maps to the dataset's other events, except what coarsening to
    // fit the size limit admitted and reported (`beyond_use`).
    let reported: BTreeSet<String> = g.beyond_use.iter().map(|a| a.to_lowercase()).collect();
    for other in all.difference(&made) {
        if decide(&set, other, "*") == Decision::Allow && !reported.contains(other) {
            problems.push(format!("{who}: {other} is allowed but was never used"));
        }
    }
    // (c) no lint error; (d) within the size limit.
    for f in g
        .findings
        .iter()
        .filter(|f| f.severity == breakglass_iam::lint::Severity::Error)
    {
        problems.push(format!("{who}: lint error {f}"));
    }
    if let Err(e) = &g.size {
        problems.push(format!("{who}: {e}"));
    }
    problems
}

#[test]
fn every_session_and_user_of_the_dataset_gets_exactly_what_it_used() {
    let (Some(catalog), Some(dir)) = (catalog(), dataset()) else {
        return;
    };
    let (records, report) = records(&dir);
    let principals = principals(&records, &report);
    assert!(
        principals
            .keys()
            .filter(|k| k.starts_with("session "))
            .count()
            >= 5,
        "{:?}",
        principals.keys().collect::<Vec<_>>()
    );
    assert!(
        principals.contains_key("user bert-jan"),
        "{:?}",
        principals.keys()
    );
    let all: BTreeSet<String> = records
        .iter()
        .filter_map(UsedCall::from_cloudtrail)
        .flat_map(|c| actions(catalog, &c))
        .map(|a| a.to_lowercase())
        .collect();
    assert!(all.len() > 150, "{}", all.len());
    let mut problems = Vec::new();
    let mut summary = Vec::new();
    let mut coarsened = Vec::new();
    for (who, calls) in &principals {
        // A role session gets a session policy; an IAM user an identity (managed) policy.
        let options = if who.starts_with("user ") {
            Options::identity()
        } else {
            Options::default()
        };
        let g = generate_with(catalog, calls, None, options).unwrap();
        if !g.coarsened.is_empty() {
            coarsened.push(who.clone());
        }
        summary.push(format!(
            "{who}: {} calls, {} actions, {}, {} unmapped, coarsened {}",
            calls.len(),
            g.used.len(),
            g.size
                .as_ref()
                .map_or_else(|e| e.to_string(), |s| s.to_string()),
            g.unmapped.len(),
            g.coarsened.len()
        ));
        problems.extend(check(catalog, who, calls, &all, &g));
    }
    eprintln!("{}", summary.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Only bert-jan, with 238 distinct actions, needs coarsening; every role session's
    // policy is exact.
    assert_eq!(
        coarsened,
        vec!["user bert-jan".to_owned()],
        "{}",
        summary.join("\n")
    );
}

fn breakglass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_cli_generates_a_policy_that_lints_clean() {
    let (Some(_), Some(dir)) = (catalog(), dataset()) else {
        return;
    };
    let data = breakglass_testkit::shared_data("iam-data/data").unwrap();
    let dir = dir.to_str().unwrap();
    let data = data.to_str().unwrap();
    // The session of the stratus-red-team role on an EC2 instance (its credentials stolen).
    let out = breakglass(&[
        "policy",
        "generate",
        "--from-trail",
        dir,
        "--session",
        "i-0dbc91f429e48eeed",
        "--catalog",
        data,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("ec2:DescribeInstances"), "{stderr}");
    assert!(stderr.contains("ssm:UpdateInstanceInformation"), "{stderr}");
    assert!(
        stderr.contains("within the session policy limit"),
        "{stderr}"
    );
    let policy = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-policy.json");
    std::fs::write(&policy, &out.stdout).unwrap();
    let text: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(text.to_string().contains("ssm:GetDocument"), "{text}");
    let lint = breakglass(&[
        "policy",
        "lint",
        policy.to_str().unwrap(),
        "--type",
        "session",
        "--catalog",
        data,
    ]);
    assert_eq!(
        lint.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );

    // A playbook that allows less: the rest is reported, not added.
    let playbook = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generate-playbook.json");
    std::fs::write(
        &playbook,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#,
    )
    .unwrap();
    let out = breakglass(&[
        "policy",
        "generate",
        "--from-trail",
        dir,
        "--session",
        "i-0dbc91f429e48eeed",
        "--catalog",
        data,
        "--playbook-policy",
        playbook.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not added: ssm:GetDocument"), "{stderr}");
    assert!(stderr.contains("used 1 of the "), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ssm:"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // An unknown session is an error that says where to look.
    let out = breakglass(&[
        "policy",
        "generate",
        "--from-trail",
        dir,
        "--session",
        "g-nobody",
        "--catalog",
        data,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scan sessions"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
