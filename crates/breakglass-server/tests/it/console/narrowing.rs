//! A narrowed request through the console and the API: the approve page shows what the
//! request really allows and what the narrowing removed; a widening submission is refused
//! with a clear error; an approval of what the approver saw before the requester changed
//! the narrowed policy is refused; the credentials carry the narrowed policy to STS; the
//! requester still cannot approve their own request.

use breakglass_core::app::{Amendment, Ask, Caller};
use breakglass_core::model::RequestId;

use super::*;

/// The shared action catalog, or `None` (the test says it skipped) when it is absent.
fn action_catalog() -> Option<breakglass_iam::Catalog> {
    let Some(data) = breakglass_testkit::shared_data("iam-data/data") else {
        eprintln!("skipped: the shared iam-data catalog is absent");
        return None;
    };
    let mut catalog = breakglass_iam::Catalog::new();
    for entry in std::fs::read_dir(data.join("actions")).unwrap() {
        let path = entry.unwrap().path();
        let prefix = path.file_stem().unwrap().to_str().unwrap().to_owned();
        catalog
            .add_service(&prefix, &std::fs::read_to_string(&path).unwrap())
            .unwrap();
        let keys = data.join("conditionKeys").join(format!("{prefix}.json"));
        if keys.is_file() {
            catalog
                .add_condition_keys(&prefix, &std::fs::read_to_string(keys).unwrap())
                .unwrap();
        }
    }
    Some(catalog)
}

/// The example's `contain` playbook narrowed to stopping one instance in one region (its
/// deny kept as it is).
const ONE_INSTANCE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"ec2:StopInstances",
   "Resource":"arn:aws:ec2:us-east-1:222222222222:instance/i-0123456789abcdef0",
   "Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
  {"Effect":"Deny","Action":["iam:CreateUser","iam:DeleteUser","iam:CreateRole","iam:DeleteRole","organizations:*"],"Resource":"*"}]}"#;

/// The same, allowed to terminate it too.
const STOP_AND_TERMINATE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["ec2:StopInstances","ec2:TerminateInstances"],
   "Resource":"arn:aws:ec2:us-east-1:222222222222:instance/i-0123456789abcdef0",
   "Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
  {"Effect":"Deny","Action":["iam:CreateUser","iam:DeleteUser","iam:CreateRole","iam:DeleteRole","organizations:*"],"Resource":"*"}]}"#;

fn caller(name: &str) -> Caller {
    Caller {
        username: breakglass_core::model::Username::new(name).unwrap(),
        admin: false,
        break_glass_only: false,
        via: None,
    }
}

fn ask() -> Ask<'static> {
    Ask {
        playbook: "contain",
        role: "SecurityBreakGlass",
        account: "222222222222",
        duration: Duration::hours(1),
        incident: "INC-2024-042",
        justification: "stop the crypto miner",
    }
}

#[tokio::test]
async fn a_narrowed_request_shows_its_difference_and_approvals_follow_its_policy() {
    let Some(actions) = action_catalog() else {
        return;
    };
    let s = server_with_permissions(ConsoleSettings::default(), actions).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;

    // Widening is refused with the first widening action named, and nothing is created.
    let wide = ONE_INSTANCE.replace(
        "\"ec2:StopInstances\"",
        "[\"ec2:StopInstances\",\"ec2:RunInstances\"]",
    );
    let err = s
        .app
        .submit_narrowed(&caller("carol"), &ask(), Some(wide.as_str()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("ec2:RunInstances") && text.contains("wider than playbook `contain`"),
        "{text}"
    );

    let id = s
        .app
        .submit_narrowed(&caller("carol"), &ask(), Some(ONE_INSTANCE))
        .await
        .unwrap()
        .request
        .id;
    let path = format!("/console/requests/{id}");

    // The approver's page: narrowed, what it allows, what the playbook would have allowed.
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let page = approver.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"approve-form\""));
    assert!(
        page.body.contains("Narrowed by the requester."),
        "{}",
        page.body
    );
    assert!(page.body.contains("(narrowed by the requester)"));
    let removed = &page.body[page.body.find("id=\"permissions-removed\"").unwrap()..];
    for a in [
        "ec2:TerminateInstances",
        "iam:AttachUserPolicy",
        "iam:DeleteAccessKey",
    ] {
        assert!(removed.contains(a), "{a} is not listed as removed");
    }
    let summary = page.text_of("permissions-summary").unwrap();
    assert!(summary.contains("allows 1 action"), "{summary}");
    assert!(summary.contains("narrowed by the requester"), "{summary}");
    let seen = field_value(&page.body, "digest").unwrap();

    // The requester changes the narrowed policy after bob read the page: bob's approval of
    // what he saw is refused, nothing is approved.
    s.app
        .amend(
            &caller("carol"),
            &RequestId::new(id.as_str()).unwrap(),
            Amendment {
                session_policy: Some(STOP_AND_TERMINATE.to_owned()),
                ..Amendment::default()
            },
        )
        .await
        .unwrap();
    let approve = format!("{path}/approve");
    let code = s.code(&bob);
    let stale = approver
        .post(
            &approve,
            &[("csrf", &bob_csrf), ("digest", &seen), ("totp", &code)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("review it again"), "{}", stale.body);
    assert_eq!(s.status(id.as_str()).await, "pending");

    // The requester cannot approve it either.
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let mine = requester.get(&path).await;
    assert!(!mine.body.contains("id=\"approve-form\""));
    let current = field_value(&page_of(&mut approver, &path).await, "digest").unwrap();
    assert_ne!(current, seen);
    let own = requester
        .post(
            &approve,
            &[
                ("csrf", &csrf),
                ("digest", &current),
                ("totp", &s.code(&carol)),
            ],
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert_eq!(s.status(id.as_str()).await, "pending");

    // Bob approves what is there now; the credentials carry the narrowed policy to STS.
    let code = s.code(&bob);
    let ok = approver
        .post(
            &approve,
            &[("csrf", &bob_csrf), ("digest", &current), ("totp", &code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let act = requester
        .post(&format!("{path}/activate"), &[("csrf", &csrf)])
        .await;
    assert_eq!(act.status, StatusCode::SEE_OTHER, "{}", act.body);
    let live = requester.get(&path).await;
    let line = live.text_of("credential-process").unwrap();
    let grant = line.split_whitespace().nth(5).unwrap().to_owned();
    let creds = requester
        .post(
            &format!("/console/grants/{grant}/credentials"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(creds.status, StatusCode::OK, "{}", creds.body);
    let issued = s.cloud.last.lock().unwrap().clone().unwrap();
    let sent = issued.session_policy.unwrap();
    let expected = breakglass_iam::parse(STOP_AND_TERMINATE, breakglass_iam::PolicyType::Session)
        .unwrap()
        .to_compact_string();
    assert_eq!(sent, expected, "STS got the narrowed policy");
}

async fn page_of(b: &mut Browser, path: &str) -> String {
    b.get(path).await.body
}

#[tokio::test]
async fn without_a_catalog_the_page_says_why_and_narrowing_is_refused() {
    let s = server(ConsoleSettings::default()).await;
    let bob = s.user("bob", false).await;
    let err = s
        .app
        .submit_narrowed(&caller("carol"), &ask(), Some(ONE_INSTANCE))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--catalog"), "{err}");
    let id = s
        .app
        .submit(&caller("carol"), &ask())
        .await
        .unwrap()
        .request
        .id;
    let mut approver = Browser::new(&s.base);
    approver.sign_in("bob", &s.code(&bob)).await;
    let page = approver.get(&format!("/console/requests/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"permissions-unavailable\""));
    assert!(page.body.contains("id=\"approve-form\""));
}
