//! Drill runs and game days in the store: each is written with its audit record in one
//! transaction (a commit the chain refuses stores neither), runs are listed last stored
//! first whatever their times, and a game day is updated in place when it finishes.

use breakglass_core::audit::events::{DrillCompleted, GameDayStarted};
use breakglass_core::audit::{Actor, AuditEntry, AuditEvent};
use breakglass_core::drill::{DrillRun, Trigger};
use breakglass_core::game_day::GameDay;
use breakglass_core::model::IncidentId;
use breakglass_core::ports::{Commit, Store};

use crate::support::{T0, TestStore, on_both_backends, user, verify_chain};

on_both_backends!(
    drill_runs_are_stored_with_their_record_and_listed_last_first,
    a_game_day_is_stored_then_finished_in_place,
);

fn commit(event: impl Into<AuditEvent>) -> Commit {
    Commit {
        write: None,
        audit: vec![AuditEntry {
            at: T0,
            actor: Actor::System,
            request_version: None,
            event: event.into(),
        }],
        outbox: Vec::new(),
        step_up: None,
    }
}

fn run(id: &str) -> DrillRun {
    DrillRun {
        id: id.to_owned(),
        trigger: Trigger::Cli,
        incident: IncidentId::new(format!("DRILL-{id}")).unwrap(),
        // The same times: the listing must not depend on them.
        started_at: T0,
        finished_at: T0,
        preflight: Vec::new(),
        paths: Vec::new(),
        checks: Vec::new(),
    }
}

fn completed(id: &str) -> DrillCompleted {
    DrillCompleted {
        run: id.to_owned(),
        passed: true,
        steps: 0,
        failed: 0,
        findings: Vec::new(),
        alerted: false,
    }
}

async fn drill_runs_are_stored_with_their_record_and_listed_last_first(t: TestStore) {
    for id in ["dr-b", "dr-a", "dr-c"] {
        t.store
            .commit_drill(&run(id), commit(completed(id)))
            .await
            .unwrap();
    }
    let ids: Vec<String> = t
        .store
        .drill_runs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["dr-c", "dr-a", "dr-b"]);
    assert_eq!(t.store.drill_runs(1).await.unwrap()[0], run("dr-c"));
    // A run stored twice is refused whole: no second row, no second record.
    let again = t
        .store
        .commit_drill(&run("dr-a"), commit(completed("dr-a")))
        .await;
    assert!(again.is_err());
    assert_eq!(t.store.drill_runs(10).await.unwrap().len(), 3);
    // A commit without an audit record stores no run.
    let mut empty = commit(completed("dr-d"));
    empty.audit.clear();
    assert!(t.store.commit_drill(&run("dr-d"), empty).await.is_err());
    assert_eq!(t.store.drill_runs(10).await.unwrap().len(), 3);
    assert_eq!(verify_chain(&t.store).await.unwrap().records, 3);
}

async fn a_game_day_is_stored_then_finished_in_place(t: TestStore) {
    let incident = IncidentId::new("GAMEDAY-ABC").unwrap();
    assert_eq!(t.store.game_day(&incident).await.unwrap(), None);
    let mut day = GameDay {
        incident: incident.clone(),
        scenario: "ransomware".to_owned(),
        started_by: user("root"),
        started_at: T0,
        ends_at: T0 + time::Duration::hours(24),
        finished_at: None,
    };
    let started = GameDayStarted {
        incident: incident.clone(),
        scenario: day.scenario.clone(),
        by: user("root"),
    };
    t.store
        .commit_game_day(&day, commit(started.clone()))
        .await
        .unwrap();
    assert_eq!(
        t.store.game_day(&incident).await.unwrap(),
        Some(day.clone())
    );
    day.finished_at = Some(T0 + time::Duration::hours(2));
    t.store
        .commit_game_day(&day, commit(started))
        .await
        .unwrap();
    assert_eq!(t.store.game_day(&incident).await.unwrap(), Some(day));
    assert_eq!(verify_chain(&t.store).await.unwrap().records, 2);
}
