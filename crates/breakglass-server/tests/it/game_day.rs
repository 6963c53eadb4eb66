//! Game days: an administrator opens one, real people file real requests under its
//! incident id (flagged as a drill in every notification), and finishing it reports who took
//! part, each request's times and what did not reach access. A game day's id cannot be
//! borrowed by a request outside an open game day, and only administrators open or finish
//! one.

use breakglass_core::app::Ask;
use breakglass_core::game_day::GAME_DAY_PREFIX;
use time::Duration;

use crate::support::{TestApp, admin, audit_count, caller, clock, sqlite, user};

fn ask(incident: &str) -> Ask<'_> {
    Ask {
        playbook: "investigate",
        role: "SecurityAnalyst",
        account: "111111111111",
        duration: Duration::minutes(60),
        incident,
        justification: "game day: ransomware in production",
    }
}

#[tokio::test]
async fn a_game_day_flags_its_requests_and_reports_them() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "gd");

    // Only an administrator opens one, with a scenario.
    assert!(app.start_game_day(&caller("bob"), "x").await.is_err());
    assert!(app.start_game_day(&admin("root"), "  ").await.is_err());
    let day = app
        .start_game_day(&admin("root"), "Ransomware in production")
        .await
        .unwrap();
    let id = day.incident.to_string();
    assert!(id.starts_with(GAME_DAY_PREFIX), "{id}");
    assert_eq!(audit_count(&t.store, "game_day_started", None).await, 1);

    // A real request under it: approved, activated and used as usual.
    let used = app
        .submit(&caller("alice"), &ask(&id))
        .await
        .unwrap()
        .request;
    clock.advance(Duration::seconds(30));
    let b = app.broker();
    b.approve(&used.id, user("bob"), used.digest, "ok")
        .await
        .unwrap();
    clock.advance(Duration::seconds(30));
    b.approve(&used.id, user("carol"), used.digest, "ok")
        .await
        .unwrap();
    b.activate(&used.id, user("alice")).await.unwrap();
    clock.advance(Duration::seconds(15));
    app.credentials(&caller("alice"), &used.id, None)
        .await
        .unwrap();
    // Another, denied.
    let denied = app
        .submit(&caller("erin"), &ask(&id))
        .await
        .unwrap()
        .request;
    b.deny(&denied.id, user("dave"), "not this one")
        .await
        .unwrap();

    // Every message about them says it is a game day.
    let n = app.notifications(&admin("root"), 100).await.unwrap();
    let subjects: Vec<String> = n
        .queued
        .iter()
        .map(|q| q.message.notification.subject.clone())
        .collect();
    let about: Vec<&String> = subjects
        .iter()
        .filter(|s| s.contains(used.id.as_str()) || s.contains("alice requests"))
        .collect();
    assert!(!about.is_empty(), "{subjects:#?}");
    assert!(
        about.iter().all(|s| s.starts_with("[GAME DAY] ")),
        "{about:#?}"
    );

    // One approved but not yet activated when the game day ends: it is never activated.
    let late_start = app
        .submit(&caller("erin"), &ask(&id))
        .await
        .unwrap()
        .request;
    b.approve(&late_start.id, user("bob"), late_start.digest, "ok")
        .await
        .unwrap();
    b.approve(&late_start.id, user("carol"), late_start.digest, "ok")
        .await
        .unwrap();

    // The report: who took part, the times, what failed.
    let report = app.finish_game_day(&admin("root"), &id).await.unwrap();
    let names: Vec<&str> = report.participants.iter().map(|u| u.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave", "erin"]);
    assert_eq!(report.requests.len(), 3);
    let first = &report.requests[0];
    assert_eq!(first.request, used.id);
    assert_eq!(first.time_to_approve_ms, Some(60_000));
    assert_eq!(first.time_to_access_ms, Some(75_000));
    assert_eq!(first.failure, None);
    let second = &report.requests[1];
    assert_eq!(
        second.failure.as_deref(),
        Some("denied by dave: not this one")
    );

    // Finished: no more requests under it; finishing again reports without a new record.
    let late = app.submit(&caller("alice"), &ask(&id)).await.unwrap_err();
    assert!(late.to_string().contains("is over"), "{late}");
    let again = app.finish_game_day(&admin("root"), &id).await.unwrap();
    assert_eq!(again.requests, report.requests);
    assert_eq!(audit_count(&t.store, "game_day_finished", None).await, 1);
    assert!(app.finish_game_day(&caller("bob"), &id).await.is_err());
}

#[tokio::test]
async fn a_game_day_id_cannot_be_borrowed_outside_an_open_game_day() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "gd");
    // A real incident made to look like a drill is refused, before anything is stored.
    for incident in ["GAMEDAY-NOTOPEN", "gameday-notopen", "DRILL-dr-0a1b2c"] {
        let e = app
            .submit(&caller("alice"), &ask(incident))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("reserved for game days"),
            "{incident}: {e}"
        );
    }
    assert_eq!(audit_count(&t.store, "request_submitted", None).await, 0);
    let e = app
        .finish_game_day(&admin("root"), "GAMEDAY-NOTOPEN")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no game day"), "{e}");
}
