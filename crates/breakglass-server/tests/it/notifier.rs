//! The notification worker against local receivers: a webhook receiver, a Slack-compatible
//! receiver, an SMTP sink, and SNS on the emulator (which posts to an HTTP subscription);
//! `team_channels` has the Teams and Slack webhooks going down and coming back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use breakglass_config::ResponderConfig;
use breakglass_core::broker::Broker;
use breakglass_core::cloud::Secret;
use breakglass_core::delivery::{self, DEAD_LETTER_KIND, RetryPolicy, SIGNATURE_HEADER};
use breakglass_core::model::{
    AccountId, Catalog, IncidentId, PlaybookId, RequestId, RoleName, Username,
};
use breakglass_core::ports::{ManualClock, SequentialIds, Store};
use breakglass_core::request::{NewRequest, Settings};
use breakglass_core::rules::Rules;
use breakglass_server::notifier::{
    Notifier, NotifierSettings, PassReport, SmtpSecurity, SmtpSettings, WebhookTarget,
};
use breakglass_store::SqlStore;
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::receivers::{HttpReceiver, SmtpSink};

mod team_channels;

const T0: OffsetDateTime = datetime!(2026-11-21 09:00 UTC);
const SECRET: &str = "whsec-test-key";

type TestBroker = Broker<SqlStore, Arc<ManualClock>, SequentialIds>;

struct World {
    store: SqlStore,
    clock: Arc<ManualClock>,
    broker: TestBroker,
    responders: Vec<ResponderConfig>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bg.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let catalog: Catalog = serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap();
    let responders = catalog
        .responders
        .iter()
        .map(|r| ResponderConfig {
            username: r.username.clone(),
            name: r.name.clone(),
            email: r.email.clone(),
            emergency_contact: r.emergency_contact.clone(),
            groups: r.groups.clone(),
            break_glass_user: r.break_glass_user,
        })
        .collect();
    let broker = Broker::new(
        store.clone(),
        Arc::clone(&clock),
        SequentialIds::new("n").unwrap(),
        Rules::new(catalog, &[]).unwrap(),
        Settings::default(),
    );
    World {
        store,
        clock,
        broker,
        responders,
        _dir: dir,
    }
}

fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

fn new_request(who: &str, playbook: &str, incident: &str) -> NewRequest {
    let role = if playbook == "contain" {
        "SecurityBreakGlass"
    } else {
        "SecurityAnalyst"
    };
    NewRequest {
        requester: user(who),
        playbook: PlaybookId::new(playbook).unwrap(),
        role: RoleName::new(role).unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: Duration::minutes(60),
        incident: IncidentId::new(incident).unwrap(),
        justification: "GuardDuty: credential exfiltration".to_owned(),
    }
}

fn settings(webhooks: &[&HttpReceiver]) -> NotifierSettings {
    let mut s = NotifierSettings::new("https://breakglass.example.com");
    s.webhooks = webhooks
        .iter()
        .map(|r| WebhookTarget {
            url: r.url.clone(),
            secret: Secret::new(SECRET),
        })
        .collect();
    s.send_timeout = std::time::Duration::from_secs(5);
    s
}

fn notifier(w: &World, settings: NotifierSettings) -> Notifier<SqlStore, Arc<ManualClock>> {
    Notifier::new(
        w.store.clone(),
        Arc::clone(&w.clock),
        settings,
        w.responders.clone(),
        "test-worker",
    )
    .unwrap()
}

/// Runs passes until one finds nothing to do; returns the sum.
async fn drain(n: &Notifier<SqlStore, Arc<ManualClock>>) -> PassReport {
    let mut total = PassReport::default();
    for _ in 0..10 {
        let r = n.run_once().await.unwrap();
        if r == PassReport::default() {
            return total;
        }
        total.delivered += r.delivered;
        total.retried += r.retried;
        total.dead_lettered += r.dead_lettered;
        total.lost_claims += r.lost_claims;
    }
    total
}

/// Drives one of each event that notifies: a request needing approval, its approval,
/// a denial, a break-glass activation, a revocation.
async fn every_event(w: &World) {
    let b = &w.broker;
    let out = b
        .submit(new_request("alice", "investigate", "INC-7"))
        .await
        .unwrap();
    let id: RequestId = out.request.id.clone();
    let digest = out.request.digest;
    b.approve(&id, user("bob"), digest, "ok").await.unwrap();
    b.approve(&id, user("carol"), digest, "ok").await.unwrap();
    b.activate(&id, user("alice")).await.unwrap();
    b.revoke(&id, user("bob"), "contained").await.unwrap();
    let denied = b
        .submit(new_request("erin", "investigate", "INC-8"))
        .await
        .unwrap();
    b.deny(&denied.request.id, user("dave"), "not needed")
        .await
        .unwrap();
    b.activate_break_glass(new_request("alice", "contain", "INC-9"), true)
        .await
        .unwrap();
}

fn kinds(received: &[crate::receivers::Received]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in received {
        let v: Value = serde_json::from_str(&r.body).unwrap();
        let kind = v["kind"]
            .as_str()
            .or_else(|| v["text"].as_str())
            .unwrap_or("?")
            .to_owned();
        *out.entry(kind).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn every_event_reaches_every_channel_with_its_content() {
    let w = world().await;
    let hook = HttpReceiver::start(0).await;
    let slack = HttpReceiver::start(0).await;
    let smtp = SmtpSink::start().await;
    let mut s = settings(&[&hook]);
    s.slack_url = Some(Secret::new(slack.url.clone()));
    s.smtp = Some(SmtpSettings {
        host: "127.0.0.1".into(),
        port: smtp.port,
        security: SmtpSecurity::None,
        from: "breakglass@example.com".into(),
        credentials: None,
    });
    s.security_team_emails = vec!["soc@example.com".into()];
    let n = notifier(&w, s);
    every_event(&w).await;

    let report = drain(&n).await;
    assert_eq!(report.retried + report.dead_lettered, 0, "{report:?}");
    assert!(report.delivered >= 6, "{report:?}");

    // The webhook: every kind, signed, each idempotency key once.
    let got = hook.accepted();
    let k = kinds(&got);
    assert_eq!(k.get("approval_needed"), Some(&2), "{k:?}");
    for want in [
        "request_approved",
        "access_revoked",
        "request_denied",
        "break_glass_activated",
    ] {
        assert_eq!(k.get(want), Some(&1), "{want} in {k:?}");
    }
    let mut keys = BTreeSet::new();
    for r in &got {
        let sig = r
            .headers
            .get(&SIGNATURE_HEADER.to_ascii_lowercase())
            .unwrap();
        delivery::verify(SECRET.as_bytes(), sig, &r.body, T0, Duration::minutes(5)).unwrap();
        assert!(delivery::verify(b"wrong", sig, &r.body, T0, Duration::minutes(5)).is_err());
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            r.headers.get("idempotency-key").unwrap(),
            v["id"].as_str().unwrap()
        );
        assert!(
            keys.insert(v["id"].as_str().unwrap().to_owned()),
            "duplicate {}",
            v["id"]
        );
        assert_eq!(v["console_url"], "https://breakglass.example.com");
    }
    let bg = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|v| v["kind"] == "break_glass_activated")
        .unwrap();
    assert_eq!(bg["severity"], "critical");
    assert_eq!(bg["event"]["requester"], "alice");
    assert_eq!(bg["event"]["incident"], "INC-9");

    // Slack: a readable message with a button to the console, one per event.
    let slack_got = slack.accepted();
    assert_eq!(slack_got.len(), got.len());
    let bg = slack_got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|v| v["text"].as_str().unwrap().contains("BREAK-GLASS"))
        .unwrap();
    assert!(bg["text"].as_str().unwrap().contains("INC-9"));
    assert_eq!(
        bg["blocks"][2]["elements"][0]["url"],
        "https://breakglass.example.com"
    );

    // Email: to the people each event concerns.
    let mails = smtp.all();
    let to_of = |needle: &str| -> BTreeSet<String> {
        mails
            .iter()
            .filter(|m| m.data.contains(needle))
            .flat_map(|m| m.to.clone())
            .collect()
    };
    let set = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    // approval_needed for INC-7 and INC-8 went to the ir-leads (bob, carol, dave).
    assert_eq!(
        to_of("Kind: approval_needed"),
        set(&["bob@example.com", "carol@example.com", "dave@example.com"])
    );
    assert_eq!(to_of("Kind: request_approved"), set(&["alice@example.com"]));
    assert_eq!(to_of("Kind: request_denied"), set(&["erin@example.com"]));
    assert_eq!(
        to_of("Kind: access_revoked"),
        set(&["alice@example.com", "soc@example.com"])
    );
    let bg_to = to_of("Kind: break_glass_activated");
    assert!(bg_to.contains("soc@example.com") && bg_to.contains("carol@example.com"));
    assert!(mails.iter().all(|m| m.from == "breakglass@example.com"));
    assert!(
        mails
            .iter()
            .any(|m| m.data.contains("Subject: [breakglass ALERT] BREAK-GLASS"))
    );
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_everything_once_it_is_back() {
    let w = world().await;
    let healthy = HttpReceiver::start(0).await;
    let flaky = HttpReceiver::start(4).await;
    let mut s = settings(&[&healthy, &flaky]);
    s.retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::seconds(10),
        max_delay: Duration::minutes(5),
    };
    let n = notifier(&w, s);
    every_event(&w).await;

    let first = drain(&n).await;
    // Six notifications for the receivers, and three changes only a chat message shows (an
    // approval so far, the activation, the break-glass one's), which no channel here takes.
    assert_eq!(first.delivered + first.retried, 6 + 3, "{first:?}");
    assert!(
        first.retried >= 4,
        "the first four posts to the flaky receiver fail"
    );
    // Nothing is due again before its backoff.
    assert_eq!(n.run_once().await.unwrap(), PassReport::default());
    w.clock.advance(Duration::minutes(1));
    let second = drain(&n).await;
    assert_eq!(second.retried + second.dead_lettered, 0, "{second:?}");

    // Both receivers hold every message; the healthy one got each exactly once (a retry
    // never resends to a channel that took it), the flaky one once successfully.
    let ids = |r: &HttpReceiver| -> Vec<String> {
        let mut v: Vec<String> = r
            .accepted()
            .iter()
            .map(|x| x.headers["idempotency-key"].clone())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&healthy).len(), 6);
    assert_eq!(ids(&healthy), ids(&flaky));
    assert_eq!(healthy.all().len(), 6);
    assert_eq!(flaky.all().len(), 6 + 4);
    assert!(w.store.outbox_dead_letters(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_receiver_down_for_good_is_dead_lettered_visibly_and_alerted() {
    let w = world().await;
    let healthy = HttpReceiver::start(0).await;
    let dead = HttpReceiver::start(u32::MAX).await;
    let mut s = settings(&[&healthy, &dead]);
    s.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::seconds(10),
        max_delay: Duration::seconds(10),
    };
    let n = notifier(&w, s);
    w.broker
        .activate_break_glass(new_request("alice", "contain", "INC-9"), true)
        .await
        .unwrap();

    let mut total = PassReport::default();
    for _ in 0..6 {
        let r = drain(&n).await;
        total.delivered += r.delivered;
        total.retried += r.retried;
        total.dead_lettered += r.dead_lettered;
        w.clock.advance(Duration::seconds(20));
    }
    // The activation and then the alert about its dead letter each die on the dead
    // receiver after 3 attempts; the alert about the alert is not raised (no loop).
    assert_eq!(total.dead_lettered, 2, "{total:?}");
    let dead_letters = w.store.outbox_dead_letters(10).await.unwrap();
    assert_eq!(dead_letters.len(), 2);
    assert!(dead_letters.iter().all(|m| m.attempts == 3));
    assert!(dead_letters.iter().all(|m| {
        m.last_error
            .as_deref()
            .unwrap()
            .contains("webhook#1: answered HTTP 503")
    }));
    assert!(
        dead_letters
            .iter()
            .all(|m| m.done_channels == vec!["webhook#0".to_owned()])
    );
    assert_eq!(dead.all().len(), 6);

    // The healthy channel carried the activation once and the dead-letter alert once.
    let k = kinds(&healthy.accepted());
    assert_eq!(k.get("break_glass_activated"), Some(&1));
    assert_eq!(k.get(DEAD_LETTER_KIND), Some(&1), "{k:?}");
    let alert: Value = healthy
        .accepted()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|v| v["kind"] == DEAD_LETTER_KIND)
        .unwrap();
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["event"]["type"], "notification_dead_lettered");
    assert_eq!(alert["event"]["failed_channels"][0], "webhook#1");

    // Dead-lettering is in the audit chain.
    let rows = w.store.audit_rows(0, 1000).await.unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r.kind == "notification_dead_lettered")
            .count(),
        2
    );
}

#[tokio::test]
async fn sns_on_the_emulator_delivers_to_its_subscribers() {
    let Some(moto) = breakglass_testkit::moto::Moto::start() else {
        return;
    };
    let w = world().await;
    let subscriber = HttpReceiver::start(0).await;
    let config = breakglass_aws::sdk::load(&breakglass_aws::sdk::AwsOptions {
        endpoint_url: Some(moto.endpoint()),
        region: Some("us-east-1".into()),
        profile: None,
    })
    .await
    .to_builder()
    .credentials_provider(
        aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("testing", "testing", None, None, "tests"),
        ),
    )
    .build();
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("breakglass-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&subscriber.url)
        .send()
        .await
        .unwrap();
    let mut s = settings(&[]);
    s.sns = Some(breakglass_aws::sns::SnsPublisher::shared(&config, &topic));
    let n = notifier(&w, s);
    w.broker
        .activate_break_glass(new_request("alice", "contain", "INC-9"), true)
        .await
        .unwrap();
    let r = drain(&n).await;
    assert_eq!(r.delivered, 1, "{r:?}");

    // The subscriber got the SNS envelope carrying our body.
    let notes: Vec<Value> = subscriber
        .all()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .filter(|v| v["Type"] == "Notification")
        .collect();
    assert_eq!(notes.len(), 1, "{:?}", subscriber.all());
    let inner: Value = serde_json::from_str(notes[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["kind"], "break_glass_activated");
    assert!(
        notes[0]["Subject"]
            .as_str()
            .unwrap()
            .starts_with("[breakglass ALERT]")
    );
    // (moto's HTTP envelope leaves out the message attributes that carry the key again.)
    assert_eq!(inner["id"], "breakglass-1");
}

#[test]
fn settings_come_from_the_config_and_secrets_from_the_environment() {
    let path = breakglass_testkit::workspace_root().join("examples/breakglass.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = breakglass_config::Config::load(&text, "breakglass.toml").unwrap();

    let err = NotifierSettings::from_config(&config, None, |_| None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`BREAKGLASS_WEBHOOK_SECRET`") && msg.contains("set it"),
        "{msg}"
    );

    let s = NotifierSettings::from_config(&config, None, |v| {
        (v == "BREAKGLASS_WEBHOOK_SECRET").then(|| "k3y".to_owned())
    })
    .unwrap()
    .unwrap();
    assert_eq!(s.console_url, "http://127.0.0.1:8080");
    assert_eq!(s.webhooks.len(), 1);
    assert_eq!(s.webhooks[0].url, "https://hooks.example.com/breakglass");
    // The receiver's own key, derived from the broker's.
    assert_eq!(
        s.webhooks[0].secret.expose(),
        delivery::receiver_key(b"k3y", "https://hooks.example.com/breakglass")
    );
    assert!(!format!("{s:?}").contains("k3y"), "secrets never print");
    assert_eq!(s.security_team_emails, vec!["soc@example.com".to_owned()]);
    assert!(s.slack_url.is_none() && s.sns.is_none() && s.smtp.is_none());
}

/// Each webhook receiver verifies with its own key: one receiver, holding only its own,
/// cannot forge a message another would accept, and none holds the broker's key.
#[test]
fn each_webhook_receiver_has_its_own_signing_key() {
    let path = breakglass_testkit::workspace_root().join("examples/breakglass.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        r#"webhook_urls = ["https://hooks.example.com/breakglass"]"#,
        r#"webhook_urls = ["https://hooks.example.com/breakglass", "https://pager.example.net/in"]"#,
    );
    let config = breakglass_config::Config::load(&text, "breakglass.toml").unwrap();
    let s = NotifierSettings::from_config(&config, None, |v| {
        (v == "BREAKGLASS_WEBHOOK_SECRET").then(|| "k3y".to_owned())
    })
    .unwrap()
    .unwrap();
    assert_eq!(s.webhooks.len(), 2);
    let (a, b) = (&s.webhooks[0], &s.webhooks[1]);
    assert_ne!(a.secret.expose(), b.secret.expose());
    for w in [a, b] {
        assert_ne!(w.secret.expose(), "k3y");
    }
    // What receiver A could sign with its key, B refuses.
    let body = r#"{"kind":"break_glass_activated"}"#;
    let forged = delivery::sign(a.secret.expose().as_bytes(), T0.unix_timestamp(), body);
    assert!(
        delivery::verify(
            b.secret.expose().as_bytes(),
            &forged,
            body,
            T0,
            Duration::minutes(5)
        )
        .is_err()
    );
    let genuine = delivery::sign(b.secret.expose().as_bytes(), T0.unix_timestamp(), body);
    delivery::verify(
        b.secret.expose().as_bytes(),
        &genuine,
        body,
        T0,
        Duration::minutes(5),
    )
    .unwrap();
}

#[tokio::test]
async fn expiring_grants_and_overdue_reviews_are_announced_once() {
    let w = world().await;
    let hook = HttpReceiver::start(0).await;
    let mut s = settings(&[&hook]);
    s.review_due = Duration::hours(24);
    let n = notifier(&w, s);
    let b = &w.broker;
    // A 60-minute break-glass grant: it warns at 50 minutes and needs a review after.
    b.activate_break_glass(new_request("alice", "contain", "INC-9"), true)
        .await
        .unwrap();
    assert_eq!(n.remind().await.unwrap(), 0, "nothing is due yet");
    w.clock.advance(Duration::minutes(51));
    assert_eq!(n.remind().await.unwrap(), 1);
    assert_eq!(n.remind().await.unwrap(), 0, "each reminder is sent once");
    w.clock.advance(Duration::minutes(10));
    b.sweep(100).await.unwrap();
    w.clock.advance(Duration::hours(23));
    assert_eq!(
        n.remind().await.unwrap(),
        0,
        "the review is not overdue yet"
    );
    w.clock.advance(Duration::hours(2));
    assert_eq!(n.remind().await.unwrap(), 1);
    assert_eq!(n.remind().await.unwrap(), 0);
    drain(&n).await;

    let k = kinds(&hook.accepted());
    assert_eq!(k.get("grant_expiring"), Some(&1), "{k:?}");
    assert_eq!(k.get("review_overdue"), Some(&1), "{k:?}");
    assert_eq!(k.get("review_required"), Some(&1), "{k:?}");
    let overdue: Value = hook
        .accepted()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|v| v["kind"] == "review_overdue")
        .unwrap();
    assert_eq!(overdue["event"]["requester"], "alice");
    assert_eq!(overdue["severity"], "notice");
    let rows = w.store.audit_rows(0, 1000).await.unwrap();
    assert!(rows.iter().any(|r| r.kind == "grant_expiring"));
    assert!(rows.iter().any(|r| r.kind == "review_overdue"));
}
