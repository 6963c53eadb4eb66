//! The Teams channel's cards against the Adaptive Card 1.5 JSON Schema
//! (`tests/specs/adaptive-card-1.5.0.json`): one card for every notification kind the broker
//! emits, each built from what the broker writes (the transition's or the use case's audit
//! events, sealed into the chain as the store seals them, and the notifications
//! `outbox::notifications` maps them to), and broken cards the check must refuse.

use std::collections::{BTreeMap, BTreeSet};

use breakglass_core::audit::events::{
    AccountChange, AccountChanged, ActionRefused, AuditChainTampered, DrillAlertSent,
    DrillCompleted, GameDayFinished, GameDayStarted, LocalSignIn, RevocationFailed,
    RoleSessionsRevoked, SecondFactorLockedOut, SsoSignInRefused, TotpEnrolled,
};
use breakglass_core::audit::{Actor, AuditEntry, AuditEvent, ChainHead, seal};
use breakglass_core::delivery::{self, DEAD_LETTER_KIND};
use breakglass_core::model::{
    AccountId, GrantId, IncidentId, PlaybookId, RequestId, RoleArn, RoleName,
};
use breakglass_core::outbox::{OutboxMessage, notifications};
use breakglass_core::ports::Commit;
use breakglass_core::reminders;
use breakglass_core::request::{
    AccessRequest, Command, Env, NewRequest, ReviewOutcome, Settings, Transition,
    activate_break_glass, apply, submit,
};
use breakglass_core::rules::{Action, Rules};
use breakglass_testkit::teams::{check_body, check_card};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::support::{T0, catalog, rules, user};

const CONSOLE: &str = "https://breakglass.example.com";

/// What a requester might type to dress a link up as the broker's own.
const HOSTILE_JUSTIFICATION: &str = "GuardDuty: credential exfiltration. [Approve here](https://evil.example/approve) **urgent**\n- <https://evil.example>";

/// The outbox as the store fills it: each commit's entries sealed onto the chain, each
/// notification an outbox row carrying the canonical body of the record it announces.
struct Outbox {
    head: ChainHead,
    messages: Vec<OutboxMessage>,
}

impl Outbox {
    fn new() -> Self {
        Self {
            head: ChainHead::GENESIS,
            messages: Vec::new(),
        }
    }

    fn commit(&mut self, commit: Commit) {
        let sealed: Vec<_> = commit
            .audit
            .into_iter()
            .map(|entry| {
                let s = seal(&self.head, entry, None).unwrap();
                self.head = s.head();
                s
            })
            .collect();
        for n in commit.outbox {
            let record = &sealed[n.audit_index];
            self.messages.push(OutboxMessage {
                id: i64::try_from(self.messages.len()).unwrap() + 1,
                audit_seq: record.record.seq,
                created_at: record.record.at,
                notification: n,
                event_body: record.body.clone(),
                attempts: 0,
                done_channels: vec![],
                last_error: None,
            });
        }
    }

    /// A request transition, committed as the broker commits it.
    fn transition(&mut self, t: &Transition, version: u64, now: OffsetDateTime) {
        self.commit(Commit {
            write: None,
            audit: t
                .events
                .iter()
                .map(|event| AuditEntry {
                    at: now,
                    actor: t.actor.clone(),
                    request_version: Some(version),
                    event: event.clone(),
                })
                .collect(),
            outbox: notifications(Some(&t.request), &t.events),
            step_up: None,
        });
    }

    /// An event outside any request (sign-ins, accounts, revocation upkeep, the audit
    /// chain), committed as its use case commits it.
    fn event(&mut self, actor: Actor, event: AuditEvent, now: OffsetDateTime) {
        self.commit(Commit {
            write: None,
            outbox: notifications(None, std::slice::from_ref(&event)),
            audit: vec![AuditEntry {
                at: now,
                actor,
                request_version: None,
                event,
            }],
            step_up: None,
        });
    }
}

/// Drives requests through the pure state machine, committing every transition.
struct World {
    rules: Rules,
    settings: Settings,
    now: OffsetDateTime,
    outbox: Outbox,
    versions: BTreeMap<RequestId, u64>,
}

impl World {
    fn new() -> Self {
        Self {
            rules: rules(catalog()),
            settings: Settings::default(),
            now: T0,
            outbox: Outbox::new(),
            versions: BTreeMap::new(),
        }
    }

    fn env(&self) -> Env<'_> {
        Env {
            rules: &self.rules,
            settings: &self.settings,
            now: self.now,
        }
    }

    fn record(&mut self, t: &Transition) -> AccessRequest {
        let v = self.versions.entry(t.request.id.clone()).or_insert(0);
        *v += 1;
        let version = *v;
        self.outbox.transition(t, version, self.now);
        t.request.clone()
    }

    fn submit(&mut self, id: &str, who: &str, incident: &str) -> AccessRequest {
        let t = submit(
            RequestId::new(id).unwrap(),
            new_request(who, "investigate", "SecurityAnalyst", incident),
            &self.env(),
        )
        .unwrap();
        self.record(&t)
    }

    fn break_glass(&mut self, id: &str, grant: &str, who: &str) -> AccessRequest {
        let t = activate_break_glass(
            RequestId::new(id).unwrap(),
            GrantId::new(grant).unwrap(),
            new_request(who, "contain", "SecurityBreakGlass", "INC-9"),
            true,
            &self.env(),
        )
        .unwrap();
        self.record(&t)
    }

    fn apply(&mut self, r: &AccessRequest, command: Command) -> AccessRequest {
        let t = apply(r, command, &self.env()).unwrap_or_else(|e| panic!("{}: {e}", r.id));
        self.record(&t)
    }

    fn remind(&mut self, r: &AccessRequest) {
        let due = reminders::due(std::slice::from_ref(r), self.now, Duration::hours(24));
        assert!(
            !due.is_empty(),
            "no reminder due for {} at {}",
            r.id,
            self.now
        );
        for reminder in due {
            self.outbox.commit(reminder.commit);
        }
    }
}

fn new_request(who: &str, playbook: &str, role: &str, incident: &str) -> NewRequest {
    NewRequest {
        requester: user(who),
        playbook: PlaybookId::new(playbook).unwrap(),
        role: RoleName::new(role).unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: if playbook == "contain" {
            Duration::hours(1)
        } else {
            Duration::minutes(90)
        },
        incident: IncidentId::new(incident).unwrap(),
        justification: HOSTILE_JUSTIFICATION.to_owned(),
    }
}

/// Every notification kind the broker emits, each from the events that raise it.
fn every_notification() -> Vec<OutboxMessage> {
    let mut w = World::new();
    let approve = |who: &str, r: &AccessRequest| Command::Approve {
        approver: user(who),
        digest: r.digest,
        comment: "looks right".into(),
    };

    // A standard request: approval needed, approved, activated, extended, ending, revoked.
    let r = w.submit("r-1", "alice", "INC-7");
    let r = w.apply(&r, approve("bob", &r));
    let r = w.apply(&r, approve("carol", &r));
    let r = w.apply(
        &r,
        Command::Activate {
            by: user("alice"),
            grant: GrantId::new("g-1").unwrap(),
        },
    );
    let r = w.apply(
        &r,
        Command::RequestExtension {
            by: user("alice"),
            add: Duration::minutes(30),
            justification: "containment is not finished".into(),
        },
    );
    let digest = r
        .grant
        .as_ref()
        .and_then(|g| g.pending_extension.as_ref())
        .map(|p| p.digest)
        .expect("the extension waits for approvers");
    let extend = |who: &str| Command::ApproveExtension {
        approver: user(who),
        digest,
        comment: "ok".into(),
    };
    let r = w.apply(&r, extend("bob"));
    let r = w.apply(&r, extend("carol"));
    let end = r.grant.as_ref().unwrap().end;
    w.now = end - Duration::minutes(5);
    w.remind(&r);
    w.apply(
        &r,
        Command::Revoke {
            by: user("bob"),
            reason: "contained".into(),
            by_admin: false,
        },
    );

    // Denied, and timed out.
    let denied = w.submit("r-2", "erin", "INC-8");
    w.apply(
        &denied,
        Command::Deny {
            approver: user("dave"),
            reason: "use the read-only playbook".into(),
        },
    );
    let waiting = w.submit("r-3", "erin", "INC-8");
    w.now += w.settings.pending_timeout + Duration::seconds(1);
    w.apply(&waiting, Command::TimeOut);

    // Break glass: activated, ended (review required), review overdue, found inappropriate.
    let bg = w.break_glass("r-4", "g-4", "alice");
    w.now += Duration::hours(2);
    let bg = w.apply(&bg, Command::Expire);
    w.now += Duration::hours(25);
    w.remind(&bg);
    w.apply(
        &bg,
        Command::Review {
            by: user("bob"),
            outcome: ReviewOutcome::Inappropriate,
            notes: "no incident justified [this](https://evil.example)".into(),
        },
    );
    let bg = w.break_glass("r-5", "g-5", "alice");
    w.apply(
        &bg,
        Command::Revoke {
            by: user("carol"),
            reason: "done".into(),
            by_admin: false,
        },
    );

    // Outside any request.
    let role = RoleArn::new("arn:aws:iam::111111111111:role/incident-response/SecurityBreakGlass")
        .unwrap();
    let alice = Actor::User(user("alice"));
    let events: Vec<(Actor, AuditEvent)> = vec![
        (
            Actor::User(user("mallory")),
            ActionRefused {
                action: Action::ActivateBreakGlass,
                request: None,
                playbook: Some(PlaybookId::new("contain").unwrap()),
                break_glass: true,
                reason: "`mallory` is not eligible for break-glass through `contain`".into(),
            }
            .into(),
        ),
        (
            Actor::System,
            RevocationFailed {
                role_arn: role.clone(),
                request: Some(RequestId::new("r-1").unwrap()),
                attempt: 1,
                problem: "AccessDenied: iam:PutRolePolicy".into(),
            }
            .into(),
        ),
        (
            Actor::User(user("bob")),
            RoleSessionsRevoked {
                role_arn: role,
                cutoff: w.now,
                by: user("bob"),
                reason: "token theft suspected".into(),
            }
            .into(),
        ),
        (
            alice.clone(),
            TotpEnrolled {
                username: user("alice"),
            }
            .into(),
        ),
        (
            Actor::User(user("bob")),
            AccountChanged {
                username: user("erin"),
                change: AccountChange::Disabled,
            }
            .into(),
        ),
        (
            Actor::System,
            breakglass_core::audit::events::UnbrokeredUseDetected {
                finding: "uf-0a1b2c3d4e5f6071".into(),
                kind: breakglass_core::activity::FindingKind::UnbrokeredAssumeRole,
                summary: "AssumeRole outside the broker of arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst by arn:aws:sts::222222222222:assumed-role/ci/ci (session `mallory`)".into(),
                role: Some("arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst".into()),
                actor: "arn:aws:sts::222222222222:assumed-role/ci/ci".into(),
                session: Some("mallory".into()),
                account: Some("222222222222".into()),
                event_id: "6deb168c-5255-4ffb-a480-cddcad47f63b".into(),
                event_time: time::macros::datetime!(2024-03-01 12:00:00 UTC),
                source_ip: Some("198.51.100.7".into()),
                record: None,
                in_the_hour: 1,
            }
            .into(),
        ),
        (
            Actor::System,
            DrillAlertSent {
                run: "dr-0a1b2c".into(),
                what: "scheduled drill".into(),
            }
            .into(),
        ),
        (
            Actor::System,
            DrillCompleted {
                run: "dr-0a1b2c".into(),
                passed: false,
                steps: 30,
                failed: 1,
                findings: vec![
                    "trust policy of SecurityAnalyst in 222222222222 does not allow sts:SetSourceIdentity".into(),
                ],
                alerted: true,
            }
            .into(),
        ),
        (
            Actor::User(user("bob")),
            GameDayStarted {
                incident: IncidentId::new("GAMEDAY-7K3Q").unwrap(),
                scenario: "Ransomware in production, IdP down".into(),
                by: user("bob"),
            }
            .into(),
        ),
        (
            Actor::User(user("bob")),
            GameDayFinished {
                incident: IncidentId::new("GAMEDAY-7K3Q").unwrap(),
                by: user("bob"),
                requests: 4,
                failed: 1,
            }
            .into(),
        ),
        (
            Actor::System,
            AuditChainTampered {
                location: "s3://breakglass-anchors/audit/".into(),
                problem: "record #12 does not match its anchor".into(),
            }
            .into(),
        ),
        (
            alice.clone(),
            LocalSignIn {
                username: user("alice"),
                address: "203.0.113.7".into(),
                break_glass_only: true,
            }
            .into(),
        ),
        (
            Actor::System,
            SsoSignInRefused {
                username: None,
                issuer: "https://idp.example.com".into(),
                subject: "[admin](https://evil.example)".into(),
                email: Some("intruder@elsewhere.example".into()),
                flow: "console".into(),
                address: "198.51.100.4".into(),
                reason: "no responder has this email".into(),
            }
            .into(),
        ),
        (
            Actor::System,
            SecondFactorLockedOut {
                username: user("dave"),
                failures: 5,
                lockouts: breakglass_core::accounts::LOCKOUTS_ALERT,
                until: w.now + Duration::minutes(15),
            }
            .into(),
        ),
    ];
    for (actor, event) in events {
        w.outbox.event(actor, event, w.now);
    }

    // A dead letter, and the alert it raises.
    let first = w.outbox.messages[0].clone();
    w.outbox.commit(delivery::dead_letter_commit(
        &first,
        vec!["teams".into()],
        "teams: answered HTTP 503",
        w.now,
    ));
    w.outbox.messages
}

/// The notification kinds `outbox::notifications` can emit, read from its source, and the
/// dead-letter alert: a kind added there without a card case here fails the test below.
fn kinds_in_source() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/outbox.rs");
    let src = std::fs::read_to_string(path).unwrap();
    let mut kinds = BTreeSet::new();
    let mut rest = src.as_str();
    while let Some(at) = rest.find("push(") {
        rest = &rest[at + "push(".len()..];
        let Some(literal) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some(end) = literal.find('"') {
            kinds.insert(literal[..end].to_owned());
        }
    }
    kinds.insert(DEAD_LETTER_KIND.to_owned());
    kinds
}

fn card_of(m: &OutboxMessage) -> Value {
    let body = delivery::teams_body(m, CONSOLE);
    check_body(body.as_bytes()).unwrap_or_else(|problems| {
        panic!(
            "the `{}` card is not a valid Teams Adaptive Card:\n{}\n{body}",
            m.notification.kind,
            problems.join("\n")
        )
    })
}

#[test]
fn every_notification_kind_makes_a_card_the_schema_accepts() {
    let messages = every_notification();
    // Changes only a chat message about the request shows never reach Teams
    // (`delivery::route_message`).
    let made: BTreeSet<String> = messages
        .iter()
        .map(|m| m.notification.kind.clone())
        .filter(|k| k != breakglass_core::outbox::CHAT_UPDATE_KIND)
        .collect();
    let emitted = kinds_in_source();
    assert!(emitted.len() >= 20, "{emitted:?}");
    assert_eq!(
        made, emitted,
        "cover every notification kind `outbox::notifications` emits"
    );
    for m in &messages {
        let card = card_of(m);
        assert_eq!(card["version"], delivery::TEAMS_CARD_VERSION);
        // The card carries no markdown link, whatever the event's text said.
        let text = card.to_string();
        assert!(!text.contains("]("), "{}: {text}", m.notification.kind);
        assert!(!text.contains("<https"), "{}: {text}", m.notification.kind);
    }
}

#[test]
fn cards_link_to_the_request_and_ask_approvers_to_approve() {
    let messages = every_notification();
    let card = |kind: &str| {
        card_of(
            messages
                .iter()
                .find(|m| m.notification.kind == kind)
                .unwrap_or_else(|| panic!("no {kind}")),
        )
    };
    let facts = |c: &Value| -> BTreeMap<String, String> {
        c["body"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "FactSet")
            .flat_map(|b| b["facts"].as_array().unwrap().clone())
            .map(|f| {
                (
                    f["title"].as_str().unwrap().to_owned(),
                    f["value"].as_str().unwrap().replace('\u{200B}', ""),
                )
            })
            .collect()
    };

    let asked = card("approval_needed");
    let button = &asked["actions"][0];
    assert_eq!(button["type"], "Action.OpenUrl");
    assert_eq!(button["title"], "Review and approve");
    assert_eq!(button["url"], format!("{CONSOLE}/console/requests/r-1"));
    let f = facts(&asked);
    assert_eq!(f["Request"], "r-1");
    assert_eq!(f["Requester"], "alice");
    assert_eq!(
        f["Role"],
        "arn:aws:iam::111111111111:role/incident-response/SecurityAnalyst"
    );
    assert_eq!(f["Account"], "111111111111");
    assert_eq!(f["Incident"], "INC-7");
    assert_eq!(f["Duration"], "1h30m");
    // The justification reads as typed, on one line, without being a link.
    assert_eq!(f["Justification"], HOSTILE_JUSTIFICATION.replace('\n', " "));

    assert_eq!(
        card("extension_approval_needed")["actions"][0]["title"],
        "Review and approve"
    );
    let bg = card("break_glass_activated");
    assert_eq!(bg["body"][0]["color"], "attention");
    assert_eq!(bg["actions"][0]["title"], "Open in breakglass");
    assert_eq!(
        bg["actions"][0]["url"],
        format!("{CONSOLE}/console/requests/r-4")
    );
    assert_eq!(facts(&bg)["Grant"], "g-4");
    let denied = facts(&card("request_denied"));
    assert_eq!(denied["By"], "dave");
    assert_eq!(denied["Reason"], "use the read-only playbook");
    // No request: the console itself.
    assert_eq!(
        card("local_sign_in")["actions"][0]["url"],
        format!("{CONSOLE}/console")
    );
    let dead = card(DEAD_LETTER_KIND);
    assert_eq!(facts(&dead)["Failed channels"], "teams");
    assert_eq!(dead["body"][0]["color"], "attention");
}

#[test]
fn the_check_refuses_broken_cards() {
    let messages = every_notification();
    let good = card_of(&messages[0]);
    assert!(check_card(&good).is_empty());

    let mut unknown_element = good.clone();
    unknown_element["body"][0]["type"] = json!("Marquee");
    let mut fact_without_value = good.clone();
    fact_without_value["body"][1]["facts"][0]
        .as_object_mut()
        .unwrap()
        .remove("value");
    let mut stray_property = good.clone();
    stray_property["colour"] = json!("red");
    let mut bad_action = good.clone();
    bad_action["actions"][0]["type"] = json!("Action.Launch");
    let mut bad_style = good.clone();
    bad_style["body"][0]["weight"] = json!("heavy");
    let mut too_new = good.clone();
    too_new["version"] = json!("1.6");
    let mut no_version = good.clone();
    no_version.as_object_mut().unwrap().remove("version");
    for (what, card) in [
        ("an unknown element", unknown_element),
        ("a fact without a value", fact_without_value),
        ("a property the schema does not know", stray_property),
        ("an unknown action", bad_action),
        ("a font weight outside the enumeration", bad_style),
        ("a version Teams does not render", too_new),
        ("no version", no_version),
    ] {
        assert!(!check_card(&card).is_empty(), "{what} was accepted: {card}");
    }

    // The envelope around the card.
    let body = |v: Value| check_body(v.to_string().as_bytes());
    let attachment = |card: &Value| {
        json!({
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        })
    };
    assert!(body(json!({ "type": "message", "attachments": [attachment(&good)] })).is_ok());
    assert!(body(json!({ "attachments": [attachment(&good)] })).is_err());
    assert!(body(json!({ "type": "message", "attachments": [] })).is_err());
    assert!(
        body(json!({ "type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.hero", "content": good,
        }] }))
        .is_err()
    );
    assert!(check_body(b"not json").is_err());
}
