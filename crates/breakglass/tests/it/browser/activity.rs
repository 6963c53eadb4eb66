//! Watching every session end to end, against the real `breakglass serve` on the emulator
//! with an `[activity]` section: a grant is issued (a real STS key from the emulator);
//! CloudTrail-shaped events for its session, built from real events of the shared dataset
//! with the issuance's key, session name and source identity, land in the trail bucket
//! exactly as CloudTrail writes them (gzipped, in the organisation key layout, beside a
//! digest file, one event delivered twice), together with events of another grant on the
//! same role; the broker ingests them and the API, `breakglass status --activity` and the
//! console's timeline (in headless Chromium, screenshots) show exactly the grant's events.
//! Then unbrokered use lands in the EventBridge queue: an `AssumeRole` of the brokered role
//! under a name that is no grant (twice), a break-glass IAM user's `ConsoleLogin` and
//! `SwitchRole`, and an `AssumeRole` by the broker's own principal: one critical finding and
//! one alert each, and a retroactive break-glass record that needs a review. The time from
//! the queue to the alert reaching the Teams receiver is printed.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use breakglass_testkit::teams::TeamsReceiver;
use serde_json::{Value, json};

use super::driver::{Chromedriver, Shots};
use super::page::{DESKTOP, PHONE};
use super::steps::sign_in;
use crate::support::{
    ACCOUNT, Authenticator, Broker, ask_investigate, aws_env, client, ok, run, text,
};

const BUCKET: &str = "org-trail";
const ORG: &str = "o-a1b2c3d4e5";
const QUEUE: &str = "breakglass-activity";
const ANALYST: &str = "arn:aws:iam::123456789012:role/incident-response/SecurityAnalyst";

/// dana: an administrator (the unbrokered-use page).
const DANA: &str = "[responders.dana]\nname = \"Dana Okafor\"\nemail = \"dana@example.com\"\ngroups = [\"ir-leads\"]\n";

fn activity_config() -> String {
    format!(
        "\n[activity]\nbucket = \"{BUCKET}\"\naccount = \"production\"\nqueue = \"{QUEUE}\"\nevery = \"10s\"\nretention = \"30d\"\n"
    )
}

/// Real events of the shared dataset by name (the first of each), or `None` (after saying
/// why) when the dataset is absent.
fn templates() -> Option<std::collections::HashMap<String, Value>> {
    let dir = breakglass_testkit::shared_data("cloudtrail/invictus-aws-dataset/CloudTrail")?;
    let entries = std::fs::read_dir(&dir).unwrap();
    let mut out = std::collections::HashMap::new();
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for r in v["Records"].as_array().unwrap() {
            let name = r["eventName"].as_str().unwrap().to_owned();
            out.entry(name).or_insert_with(|| r.clone());
        }
    }
    Some(out)
}

fn now_text() -> String {
    breakglass_core::ports::Clock::now(&breakglass_server::SystemClock)
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// `template` as made by the session `name` of `role` with `key`, source identity `who`.
fn as_session(
    template: &Value,
    id: &str,
    role: &str,
    name: &str,
    key: &str,
    who: Option<&str>,
) -> Value {
    let mut e = template.clone();
    let role_name = role.rsplit('/').next().unwrap();
    let account = role.split(':').nth(4).unwrap();
    e["eventID"] = json!(id);
    e["eventTime"] = json!(now_text());
    e["recipientAccountId"] = json!(account);
    let mut context = json!({
        "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role, "accountId": account, "userName": role_name},
        "attributes": {"creationDate": now_text(), "mfaAuthenticated": "false"}
    });
    if let Some(who) = who {
        context["sourceIdentity"] = json!(who);
    }
    e["userIdentity"] = json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLE:{name}"),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role_name}/{name}"),
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": context,
    });
    e
}

/// A successful `AssumeRole` of `role` under `name` by `caller` (a user identity object).
fn assume_role(
    template: &Value,
    id: &str,
    caller: Value,
    role: &str,
    name: &str,
    key: &str,
) -> Value {
    let mut e = template.clone();
    e["eventID"] = json!(id);
    e["eventTime"] = json!(now_text());
    e["eventSource"] = json!("sts.amazonaws.com");
    e["eventName"] = json!("AssumeRole");
    e["recipientAccountId"] = json!(ACCOUNT);
    e["userIdentity"] = caller;
    e.as_object_mut().unwrap().remove("errorCode");
    e.as_object_mut().unwrap().remove("errorMessage");
    e["requestParameters"] =
        json!({"roleArn": role, "roleSessionName": name, "durationSeconds": 3600});
    e["responseElements"] = json!({
        "credentials": {"accessKeyId": key, "sessionToken": "redacted", "expiration": "Jan 1, 2030, 12:00:00 AM"},
        "assumedRoleUser": {"assumedRoleId": format!("AROAEXAMPLE:{name}"), "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/x/{name}")}
    });
    e
}

fn user_identity(name: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "accountId": ACCOUNT, "userName": name})
}

/// The key CloudTrail gives an object delivered now for the account and region.
fn trail_key(region: &str, n: u32) -> String {
    let t = breakglass_core::ports::Clock::now(&breakglass_server::SystemClock);
    format!(
        "AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/{region}/{:04}/{:02}/{:02}/{ACCOUNT}_CloudTrail_{region}_{:04}{:02}{:02}T{:02}{:02}Z_{n:016}.json.gz",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn aws(broker: &Broker, args: &[&str]) -> String {
    ok(&run(aws_env(&mut Command::new(&broker.aws))
        .args(["--endpoint-url", &broker.endpoint, "--region", "us-east-1"])
        .args(args)))
}

/// Writes `records` to the bucket as CloudTrail does: `{"Records":[…]}`, gzipped.
fn deliver(broker: &Broker, dir: &Path, key: &str, records: &[Value]) {
    let file = dir.join(key.replace('/', "_"));
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(json!({"Records": records}).to_string().as_bytes())
        .unwrap();
    gz.finish().unwrap();
    aws(
        broker,
        &[
            "s3",
            "cp",
            file.to_str().unwrap(),
            &format!("s3://{BUCKET}/{key}"),
        ],
    );
}

/// Waits until `check` holds, up to `limit`.
fn wait(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn activity_ids(session: &Path, id: &str) -> Vec<String> {
    let out = client(session, &["status", id, "--activity", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grants_cloudtrail_reaches_its_timeline_and_unbrokered_use_alerts_once() {
    let Some(templates) = templates() else {
        return;
    };
    let teams = TeamsReceiver::start().await.unwrap();
    let edit = |text: String| {
        text.replace(
            r#"webhook_urls = ["https://hooks.example.com/breakglass"]"#,
            "webhook_urls = []",
        )
        .replace(
            "# teams_webhook_url_env = \"BREAKGLASS_TEAMS_WEBHOOK_URL\"",
            "teams_webhook_url_env = \"BREAKGLASS_TEAMS_WEBHOOK_URL\"",
        )
    };
    let users = [("alice", false), ("bob", false), ("dana", true)];
    let extra = format!("{DANA}{}", activity_config());
    let env = [("BREAKGLASS_TEAMS_WEBHOOK_URL", teams.url())];
    let Some(broker) =
        Broker::start_edited(crate::support::free_port(), &edit, &extra, &users, &env)
    else {
        return;
    };
    aws(&broker, &["s3api", "create-bucket", "--bucket", BUCKET]);
    let (alice, bob, dana) = (
        broker.user("alice"),
        broker.user("bob"),
        broker.user("dana"),
    );
    let mut bob_totp = Authenticator::of(bob);
    let mut alice_totp = Authenticator::of(alice);

    // Two grants on the same role: alice's and bob's, each with real credentials.
    let grant_of = |who: &crate::support::User,
                    approver: &crate::support::User,
                    totp: &mut Authenticator,
                    incident: &str| {
        let id = ask_investigate(who, incident);
        ok(&client(
            &approver.session,
            &["approve", &id, "--totp", &totp.code()],
        ));
        let grant = ok(&client(&who.session, &["activate", &id]));
        let creds: Value =
            serde_json::from_str(&ok(&client(&who.session, &["creds", "--grant", &grant])))
                .unwrap();
        (id, grant, creds["AccessKeyId"].as_str().unwrap().to_owned())
    };
    let (mine, my_grant, my_key) = grant_of(alice, bob, &mut bob_totp, "INC-8801");
    let (theirs, their_grant, their_key) = grant_of(bob, alice, &mut alice_totp, "INC-8802");

    // The grants' calls, from real events, delivered as CloudTrail delivers them.
    let mut alice_events = Vec::new();
    for (i, name) in [
        "DescribeInstances",
        "GetPasswordData",
        "ListBuckets",
        "DescribeVpcs",
    ]
    .iter()
    .enumerate()
    {
        let t = templates
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is in the dataset"));
        alice_events.push(as_session(
            t,
            &format!("alice-{i}"),
            ANALYST,
            &my_grant,
            &my_key,
            Some("alice"),
        ));
    }
    let bob_event = as_session(
        &templates["DescribeInstances"],
        "bob-0",
        ANALYST,
        &their_grant,
        &their_key,
        Some("bob"),
    );
    let dir = tempfile::tempdir().unwrap();
    deliver(
        &broker,
        dir.path(),
        &trail_key("us-east-1", 1),
        &[alice_events[0].clone(), alice_events[1].clone(), bob_event],
    );
    // Someone who can write to the bucket puts an object whose key sorts after every
    // delivery to come: it must not become the partition's cursor and hide them.
    deliver(
        &broker,
        dir.path(),
        &format!(
            "AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/us-east-1/9999/12/31/{ACCOUNT}_CloudTrail_us-east-1_99991231T2359Z_late.json.gz"
        ),
        &[],
    );
    // A region of its own for the last event.
    deliver(
        &broker,
        dir.path(),
        &trail_key("us-west-2", 3),
        &[alice_events[3].clone()],
    );
    // A digest file beside them: skipped.
    let digest = format!(
        "AWSLogs/{ORG}/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/12/06/{ACCOUNT}_CloudTrail-Digest_us-east-1_x.json.gz"
    );
    deliver(
        &broker,
        dir.path(),
        &digest,
        &[json!({"digest": "not an event"})],
    );

    wait(
        "alice's first events on her timeline",
        Duration::from_secs(90),
        || activity_ids(&alice.session, &mine).len() >= 3,
    );
    // Delivered after the late-sorting object was read: the same event again (CloudTrail
    // delivers duplicates) and a new one.
    deliver(
        &broker,
        dir.path(),
        &trail_key("us-east-1", 2),
        &[alice_events[1].clone(), alice_events[2].clone()],
    );
    let want: Vec<String> = (0..4).map(|i| format!("alice-{i}")).collect();
    wait(
        "alice's events on her timeline",
        Duration::from_secs(90),
        || activity_ids(&alice.session, &mine).len() >= want.len(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let mut seen = activity_ids(&alice.session, &mine);
    seen.sort();
    assert_eq!(seen, want, "exactly alice's events, once each");
    assert_eq!(activity_ids(&bob.session, &theirs), ["bob-0"]);
    let table = ok(&client(&alice.session, &["status", &mine, "--activity"]));
    assert!(
        table.contains("GetPasswordData") && table.contains("4 calls"),
        "{table}"
    );

    // In the console: alice's timeline, at both sizes.
    if let Some(driver) = Chromedriver::start() {
        let shots = Shots::new("screenshots/activity");
        if let Some(b) = driver.browser("alice", &shots).await {
            sign_in(&b, &broker.url, "alice", &alice_totp.code()).await;
            b.goto(&format!("{}/console/requests/{mine}", broker.url))
                .await;
            let rows = b
                .js(
                    "return [...document.querySelectorAll('#timeline tr[data-event-id]')].map(r => r.dataset.eventId).sort();",
                    vec![],
                )
                .await;
            assert_eq!(rows, json!(want), "the console's timeline");
            assert!(
                b.has("#activity-chart svg").await,
                "a chart of calls over time"
            );
            b.assert_clean_log("request with activity", None).await;
            for (size, label) in [(DESKTOP, "1280"), (PHONE, "375")] {
                b.resize(size).await;
                b.js(
                    "document.querySelector('#activity').scrollIntoView();",
                    vec![],
                )
                .await;
                b.shot(&format!("timeline-{label}")).await;
            }
            b.close().await;
        }
    }

    // Unbrokered use, through the queue EventBridge feeds.
    let queue_url = aws(
        &broker,
        &[
            "sqs",
            "get-queue-url",
            "--queue-name",
            QUEUE,
            "--query",
            "QueueUrl",
            "--output",
            "text",
        ],
    );
    let send = |event: &Value| {
        let envelope = json!({
            "version": "0", "id": format!("eb-{}", event["eventID"].as_str().unwrap()),
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.sts",
            "account": ACCOUNT, "time": now_text(), "region": "us-east-1",
            "resources": [], "detail": event,
        });
        aws(
            &broker,
            &[
                "sqs",
                "send-message",
                "--queue-url",
                &queue_url,
                "--message-body",
                &envelope.to_string(),
            ],
        );
    };
    let alerts = || {
        teams
            .cards()
            .iter()
            .filter(|c| c.to_string().contains("CRITICAL"))
            .count()
    };
    let before = alerts();
    let ci = as_session(
        &templates["DescribeInstances"],
        "x",
        "arn:aws:iam::123456789012:role/ci",
        "ci",
        "ASIACI0000000000",
        None,
    )["userIdentity"]
        .clone();
    let t = &templates["ConsoleLogin"];
    send(&assume_role(
        t,
        "u-1",
        ci.clone(),
        ANALYST,
        "mallory",
        "ASIAMALLORY00001",
    ));
    let landed = Instant::now();
    wait(
        "the unbrokered AssumeRole's alert",
        Duration::from_secs(30),
        || alerts() > before,
    );
    let latency = landed.elapsed();
    send(&assume_role(
        t,
        "u-2",
        ci,
        ANALYST,
        "mallory",
        "ASIAMALLORY00002",
    ));
    let mut login = t.clone();
    login["eventID"] = json!("bg-1");
    login["eventTime"] = json!(now_text());
    login["recipientAccountId"] = json!(ACCOUNT);
    login["userIdentity"] = user_identity("alice-BREAK-GLASS");
    send(&login);
    let mut switch = as_session(
        t,
        "bg-2",
        "arn:aws:iam::123456789012:role/incident-response/SecurityBreakGlass",
        "alice-BREAK-GLASS",
        "ASIASWITCH000001",
        None,
    );
    switch["eventName"] = json!("SwitchRole");
    switch["additionalEventData"] = json!({"SwitchFrom": format!("arn:aws:iam::{ACCOUNT}:user/alice-BREAK-GLASS"), "RedirectTo": "https://console.aws.amazon.com/"});
    send(&switch);
    let broker_principal = as_session(
        &templates["DescribeInstances"],
        "x",
        "arn:aws:iam::111111111111:role/breakglass-broker",
        "breakglass",
        "ASIABROKER000001",
        None,
    )["userIdentity"]
        .clone();
    send(&assume_role(
        t,
        "p-1",
        broker_principal,
        "arn:aws:iam::123456789012:role/app/Admin",
        "side-door",
        "ASIASIDEDOOR0001",
    ));

    let findings = || -> Vec<Value> {
        let out = client(&dana.session, &["findings", "--json"]);
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    wait("three findings", Duration::from_secs(30), || {
        findings().len() >= 3
    });
    wait("three alerts", Duration::from_secs(30), || {
        alerts() >= before + 3
    });
    std::thread::sleep(Duration::from_secs(5));
    let found = findings();
    let kinds: Vec<&str> = found.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(found.len(), 3, "{kinds:?}");
    for k in [
        "unbrokered_assume_role",
        "break_glass_user",
        "broker_principal",
    ] {
        assert_eq!(
            kinds.iter().filter(|x| **x == k).count(),
            1,
            "{k} in {kinds:?}"
        );
    }
    assert_eq!(
        alerts(),
        before + 3,
        "one alert per finding, not one per event"
    );
    let bg = found
        .iter()
        .find(|f| f["kind"] == "break_glass_user")
        .unwrap();
    let record = bg["record"].as_str().unwrap();
    assert_eq!(
        activity_ids(&dana.session, record),
        ["bg-1", "bg-2"],
        "the sign-in and the role switch on the retroactive record's timeline"
    );
    let r: Value =
        serde_json::from_str(&ok(&client(&dana.session, &["status", record, "--json"]))).unwrap();
    assert_eq!(r["kind"], "break_glass");
    assert_eq!(r["review"]["state"], "required");
    println!(
        "alert latency: {latency:?} from the AssumeRole landing in the queue to its alert at the Teams receiver"
    );
}
