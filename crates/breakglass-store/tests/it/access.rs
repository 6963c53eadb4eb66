//! Revocation entries and job leases, on both backends: entries are upserted (the later
//! session end wins), listed per role or all, removed only while their end is the one read;
//! a lease has one holder at a time, and racing replicas cannot both take it.

use std::sync::Arc;

use breakglass_core::model::{GrantId, RoleArn};
use breakglass_core::ports::AccessStore;
use breakglass_core::revocation::RevocationEntry;
use time::Duration;

use crate::support::{T0, TestStore, on_both_backends};

fn entry(role: &str, grant: &str, end_minutes: i64) -> RevocationEntry {
    RevocationEntry {
        role_arn: RoleArn::new(format!(
            "arn:aws:iam::111111111111:role/incident-response/{role}"
        ))
        .unwrap(),
        role_id: "AROAEXAMPLEROLEID0001".to_owned(),
        grant: GrantId::new(grant).unwrap(),
        session_end: T0 + Duration::minutes(end_minutes),
    }
}

async fn revocation_entries_round_trip(t: TestStore) {
    let s = &t.store;
    s.add_revocation(&entry("IR", "g-2", 30)).await.unwrap();
    s.add_revocation(&entry("IR", "g-1", 10)).await.unwrap();
    s.add_revocation(&entry("Other", "g-3", 10)).await.unwrap();
    // Adding again keeps the later end.
    s.add_revocation(&entry("IR", "g-1", 60)).await.unwrap();
    s.add_revocation(&entry("IR", "g-1", 5)).await.unwrap();
    let ir = entry("IR", "g-1", 0).role_arn;
    let got = s.revocations(Some(&ir)).await.unwrap();
    assert_eq!(got, vec![entry("IR", "g-1", 60), entry("IR", "g-2", 30)]);
    assert_eq!(s.revocations(None).await.unwrap().len(), 3);

    // Removing with a stale end (the entry was renewed since it was read) keeps it.
    s.remove_revocations(&[entry("IR", "g-1", 10), entry("IR", "g-2", 30)])
        .await
        .unwrap();
    assert_eq!(
        s.revocations(Some(&ir)).await.unwrap(),
        vec![entry("IR", "g-1", 60)]
    );
}

async fn racing_replicas_cannot_both_take_a_lease(t: TestStore) {
    let store = Arc::new(t.store);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            s.take_lease(
                "sweep",
                &format!("replica-{i}"),
                T0,
                T0 + Duration::minutes(1),
            )
            .await
            .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

on_both_backends!(
    revocation_entries_round_trip,
    racing_replicas_cannot_both_take_a_lease
);
