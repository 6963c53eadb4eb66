//! The reports as auditors get them: a store filled through the broker (a request approved,
//! activated and revoked; a break-glass use revoked and reviewed), every report written by
//! `breakglass report` as HTML and opened in headless Chromium at 1280 and 375 px (no
//! horizontal overflow, screenshots in `screenshots/reports/`), and every JSON form valid
//! against the schema `breakglass report schema` prints.

use std::process::Command;
use std::sync::Arc;

use breakglass_core::broker::Broker;
use breakglass_core::model::{AccountId, IncidentId, PlaybookId, RoleName, Username};
use breakglass_core::ports::{ManualClock, SequentialIds};
use breakglass_core::request::{NewRequest, ReviewOutcome, Settings};
use breakglass_core::rules::Rules;
use breakglass_server::SystemClock;
use breakglass_store::SqlStore;
use breakglass_testkit::workspace_root;

use super::driver::{Chromedriver, Shots};
use super::page::{Browser, DESKTOP, PHONE, assert_no_problems};
use crate::support::{BIN, text};

const EXAMPLE: &str = "examples/breakglass.toml";
const FIRST_SCREEN_JS: &str = include_str!("first_screen.js");

/// Report `name` as shown in `b`: nothing logged as an error, and at 1280 and at 375 px no
/// horizontal overflow and its title on the first screen, with a screenshot of each.
async fn fits(b: &Browser<'_>, name: &str) {
    let url = b.url().await;
    b.assert_clean_log(name, None).await;
    for (size, label) in [(DESKTOP, "1280"), (PHONE, "375")] {
        b.resize(size).await;
        let found = b.js(FIRST_SCREEN_JS, vec![serde_json::json!(["h1"])]).await;
        b.shot(&format!("{name}-{label}")).await;
        assert_no_problems(&b.who, name, &url, "first screen", &found["problems"]);
    }
    b.resize(DESKTOP).await;
}

fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

fn ask(who: &str, playbook: &str, role: &str, incident: &str, minutes: i64) -> NewRequest {
    NewRequest {
        requester: user(who),
        playbook: PlaybookId::new(playbook).unwrap(),
        role: RoleName::new(role).unwrap(),
        account: AccountId::new("222222222222").unwrap(),
        duration: time::Duration::minutes(minutes),
        incident: IncidentId::new(incident).unwrap(),
        justification: "Impossible-travel logins on the payments deploy user".to_owned(),
    }
}

/// The store at `url`, filled as responders fill it.
async fn fill(url: &str) {
    use breakglass_core::ports::Clock as _;
    let config = breakglass_config::Config::load(
        &std::fs::read_to_string(workspace_root().join(EXAMPLE)).unwrap(),
        EXAMPLE,
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(
        SystemClock.now() - time::Duration::days(3),
    ));
    let broker = Broker::new(
        SqlStore::open(url).await.unwrap(),
        Arc::clone(&clock),
        SequentialIds::new("rep").unwrap(),
        Rules::new(config.catalog(), &[]).unwrap(),
        Settings::default(),
    );
    let r = broker
        .submit(ask(
            "alice",
            "investigate",
            "SecurityAnalyst",
            "INC-2026-042",
            120,
        ))
        .await
        .unwrap()
        .request;
    broker
        .approve(&r.id, user("bob"), r.digest, "ok")
        .await
        .unwrap();
    broker.activate(&r.id, user("alice")).await.unwrap();
    clock.advance(time::Duration::minutes(40));
    broker.revoke(&r.id, user("alice"), "done").await.unwrap();
    clock.advance(time::Duration::days(1));
    let bg = broker
        .activate_break_glass(
            ask("bob", "emergency", "SecurityBreakGlass", "INC-2026-043", 60),
            true,
        )
        .await
        .unwrap()
        .request;
    clock.advance(time::Duration::minutes(12));
    broker
        .revoke(&bg.id, user("bob"), "contained")
        .await
        .unwrap();
    clock.advance(time::Duration::hours(3));
    broker
        .review(
            &bg.id,
            user("alice"),
            ReviewOutcome::Appropriate,
            "justified: IdP down",
        )
        .await
        .unwrap();
}

fn report(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(workspace_root())
        .arg("report")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_reports_fit_a_desktop_and_a_phone_and_the_json_fits_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("bg.db").display());
    fill(&store).await;
    let reports: [(&str, &[&str]); 4] = [
        ("access-review", &["--store", &store, "-c", EXAMPLE]),
        ("break-glass-log", &["--store", &store]),
        ("sessions", &["--store", &store]),
        ("ir-docs", &["-c", EXAMPLE]),
    ];

    // The JSON of each, valid against the schema the command prints.
    for (name, args) in &reports {
        let json = report(&[&[*name][..], args, &["--format", "json"]].concat());
        assert!(
            json.status.code().is_some_and(|c| c <= 1),
            "{name}: {}",
            text(&json.stderr)
        );
        let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let schema = report(&["schema", name]);
        assert!(schema.status.success(), "{}", text(&schema.stderr));
        let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let problems: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }

    let Some(driver) = Chromedriver::start() else {
        return;
    };
    let shots = Shots::new("reports");
    let Some(b) = driver.browser("auditor", &shots).await else {
        return;
    };
    for (name, args) in &reports {
        let file = dir.path().join(format!("{name}.html"));
        let out = report(
            &[
                &[*name][..],
                args,
                &["--format", "html", "--out", file.to_str().unwrap()],
            ]
            .concat(),
        );
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{name}: {}",
            text(&out.stderr)
        );
        let html = std::fs::read_to_string(&file).unwrap();
        assert!(
            !html.contains("<script") && !html.contains("<link"),
            "{name}: self-contained, no script or remote stylesheet"
        );
        b.goto(&format!("file://{}", file.display())).await;
        fits(&b, name).await;
        let body = b.body_text().await;
        match *name {
            "break-glass-log" => {
                assert!(
                    body.contains("bob") && body.contains("INC-2026-043"),
                    "{body}"
                );
                assert!(body.contains("appropriate by alice"), "{body}");
                assert!(body.contains("break_glass_activated"), "{body}");
            }
            "sessions" => assert!(body.contains("INC-2026-042"), "{body}"),
            "access-review" => assert!(body.contains("investigate") && body.contains("alice")),
            _ => assert!(body.contains("SecurityBreakGlass"), "{body}"),
        }
    }
    b.close().await;
    assert_eq!(shots.written().len(), 2 * reports.len());
}
