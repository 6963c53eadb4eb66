//! A narrowed request end to end against the real `breakglass serve` (with the shared
//! action catalog, `BREAKGLASS_CATALOG`) on moto: `breakglass request --session-policy`
//! refuses a widening with the action it adds named, accepts a narrowing, and the approver's
//! request page in headless Chromium shows what the request allows and what the narrowing
//! removed, fitting 1280 and 375 px with the approve form on the first screen (screenshots
//! in `<target>/test-output/screenshots/narrowing/`). `breakglass amend` then changes the
//! narrowed policy, and the approval of the digest shown before is refused.

use super::driver::{Chromedriver, Shots};
use super::pages::fits;
use super::steps::{api_status, sign_in, submit};
use crate::support::{ACCOUNT, Authenticator, Broker, client, ok, text};

const NARROWED: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"ec2:StopInstances",
   "Resource":"arn:aws:ec2:us-east-1:ACCOUNT:instance/i-0123456789abcdef0",
   "Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
  {"Effect":"Deny","Action":["iam:CreateUser","iam:DeleteUser","iam:CreateRole","iam:DeleteRole","organizations:*"],"Resource":"*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_request_is_shown_to_its_approver_and_a_widening_one_is_refused() {
    let Some(catalog) = breakglass_testkit::shared_data("iam-data/data") else {
        eprintln!("skipped: the shared iam-data catalog is absent");
        return;
    };
    let Some(driver) = Chromedriver::start() else {
        return;
    };
    let users = [("alice", false), ("bob", false)];
    let catalog = catalog.to_str().unwrap().to_owned();
    let Some(broker) =
        Broker::start_with_env("", &users, &[("BREAKGLASS_CATALOG", catalog.as_str())])
    else {
        return;
    };
    let (alice, bob) = (broker.user("alice"), broker.user("bob"));
    let mut bob_totp = Authenticator::of(bob);
    let narrowed = NARROWED.replace("ACCOUNT", ACCOUNT);
    let file = broker.dir.path().join("one-instance.json");
    std::fs::write(&file, &narrowed).unwrap();
    let wide = broker.dir.path().join("wider.json");
    std::fs::write(
        &wide,
        narrowed.replace("\"us-east-1\"}", "[\"us-east-1\",\"eu-west-3\"]}"),
    )
    .unwrap();
    let ask = |policy: &std::path::Path| {
        client(
            &alice.session,
            &[
                "request",
                "-p",
                "contain",
                "-r",
                "SecurityBreakGlass",
                "-a",
                ACCOUNT,
                "-i",
                "INC-2042",
                "-j",
                "Crypto miner on the build host",
                "-d",
                "1h",
                "--session-policy",
                policy.to_str().unwrap(),
            ],
        )
    };

    // Widening: refused, the added region named, what to do said.
    let refused = ask(&wide);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("eu-west-3") && why.contains("a request may only narrow"),
        "{why}"
    );

    let id = ok(&ask(&file));
    let shots = Shots::new("screenshots/narrowing");
    let Some(b) = driver.browser("bob", &shots).await else {
        return;
    };
    sign_in(&b, &broker.url, "bob", &bob_totp.code()).await;
    b.goto(&format!("{}/console/requests/{id}", broker.url))
        .await;
    fits(
        &b,
        "request-narrowed",
        &["#request-status", &submit("#approve-form")],
    )
    .await;
    assert!(
        b.text("#narrowed")
            .await
            .contains("Narrowed by the requester")
    );
    let summary = b.text("#permissions-summary").await;
    assert!(summary.contains("allows 1 action"), "{summary}");
    let removed = b.text("#permissions-removed").await;
    assert!(removed.contains("ec2:TerminateInstances"), "{removed}");

    // The requester changes the narrowed policy while bob has the page open; his approval
    // of what he saw is refused, and nothing is approved. (The console reloads a request's
    // page when it changes, so the form is given back the digest bob saw, as a page that
    // had not reloaded yet would send it.)
    let seen = b
        .js(
            "return document.querySelector('#approve-form [name=digest]').value;",
            vec![],
        )
        .await;
    std::fs::write(
        &file,
        narrowed.replace(
            "\"ec2:StopInstances\"",
            "[\"ec2:StopInstances\",\"ec2:TerminateInstances\"]",
        ),
    )
    .unwrap();
    ok(&client(
        &alice.session,
        &["amend", &id, "--session-policy", file.to_str().unwrap()],
    ));
    std::thread::sleep(std::time::Duration::from_secs(2));
    b.js(
        "document.querySelector('#approve-form [name=digest]').value = arguments[0];",
        vec![seen],
    )
    .await;
    b.fill("#approve-form [name=totp]", &bob_totp.code()).await;
    b.click_and_wait(&submit("#approve-form")).await;
    let alert = b.text("[role=alert]").await;
    assert!(alert.contains("review it again"), "{alert}");
    b.shot("request-narrowed-stale-approval-refused").await;
    assert_eq!(api_status(bob, &id), "pending");
    b.close().await;
}
