//! Fifty tasks race to approve, deny and cancel the same requests. Every request must end
//! in exactly one terminal state, every successful command must have exactly its audit
//! records, and the chain must verify.

use std::collections::BTreeMap;
use std::sync::Arc;

use breakglass_core::audit::{AuditRecord, ChainVerifier};
use breakglass_core::broker::BrokerError;
use breakglass_core::model::RequestId;
use breakglass_core::ports::Store;

use crate::support::{TestStore, all_rows, broker, clock, new_request, on_both_backends, user};

on_both_backends!(fifty_tasks_race_to_decide_the_same_requests);

const TASKS: u64 = 50;
const REQUESTS: usize = 10;
const LEADS: [&str; 3] = ["bob", "carol", "dave"];

/// A small deterministic generator, so a failing run can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Approve,
    Deny,
    Cancel,
}

async fn fifty_tasks_race_to_decide_the_same_requests(t: TestStore) {
    let broker = Arc::new(broker(&t.store, &clock()));
    let mut requests = Vec::new();
    for i in 0..REQUESTS {
        let who = if i % 2 == 0 { "alice" } else { "erin" };
        let out = broker
            .submit(new_request(
                who,
                "investigate",
                "111111111111",
                60,
                "INC-RACE",
            ))
            .await
            .unwrap();
        requests.push((out.request.id.clone(), out.request.digest, who));
    }
    let requests = Arc::new(requests);

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let broker = Arc::clone(&broker);
        let requests = Arc::clone(&requests);
        tasks.push(tokio::spawn(async move {
            let mut rng =
                XorShift(0x9E37_79B9_7F4A_7C15 ^ (task + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let mut won: Vec<(RequestId, Op)> = Vec::new();
            // Each task takes one shot at every request, in its own order.
            let mut order: Vec<usize> = (0..REQUESTS).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
            }
            for i in order {
                let (id, digest, requester) = &requests[i];
                let roll = rng.next() % 10;
                let lead = user(LEADS[(rng.next() % 3) as usize]);
                let (op, result) = match roll {
                    0..=6 => (Op::Approve, broker.approve(id, lead, *digest, "").await),
                    7 | 8 => (Op::Deny, broker.deny(id, lead, "not needed").await),
                    _ => (
                        Op::Cancel,
                        broker.cancel(id, user(requester), "resolved").await,
                    ),
                };
                match result {
                    Ok(_) => won.push((id.clone(), op)),
                    Err(BrokerError::Refused(_)) => {}
                    Err(e) => panic!("task {task}: {op:?} on {id} failed: {e}"),
                }
            }
            won
        }));
    }
    let mut successes: BTreeMap<RequestId, Vec<Op>> = BTreeMap::new();
    for task in tasks {
        for (id, op) in task.await.unwrap() {
            successes.entry(id).or_default().push(op);
        }
    }

    // The chain verifies, and gives us every record.
    let mut verifier = ChainVerifier::new(None);
    let mut records: Vec<AuditRecord> = Vec::new();
    for row in all_rows(&t.store).await {
        records.push(verifier.push(&row).unwrap());
    }
    verifier
        .finish(t.store.audit_head().await.unwrap())
        .unwrap();

    for (id, _, _) in requests.iter() {
        let stored = t.store.get(id).await.unwrap().unwrap();
        let status = stored.value.status.name();
        let wins = successes.get(id).cloned().unwrap_or_default();
        let decisive: Vec<&Op> = wins.iter().filter(|o| **o != Op::Approve).collect();
        let approvals = wins.iter().filter(|o| **o == Op::Approve).count();
        let mine: Vec<&AuditRecord> = records
            .iter()
            .filter(|r| r.event.request() == Some(id) && r.event.kind() != "action_refused")
            .collect();
        let kinds: Vec<&str> = mine.iter().map(|r| r.event.kind()).collect();
        let terminal = kinds
            .iter()
            .filter(|k| {
                matches!(
                    **k,
                    "request_approved" | "request_denied" | "request_cancelled"
                )
            })
            .count();
        assert_eq!(
            terminal, 1,
            "{id} ({status}) reached {terminal} terminal states: {kinds:?}"
        );
        match status {
            "approved" => {
                assert!(
                    decisive.is_empty(),
                    "{id}: approved but {decisive:?} also won"
                );
                assert_eq!(
                    approvals, 2,
                    "{id}: approved with {approvals} winning approvals"
                );
            }
            "denied" => assert_eq!(decisive, [&Op::Deny], "{id}"),
            "cancelled" => assert_eq!(decisive, [&Op::Cancel], "{id}"),
            other => panic!("{id} ended {other}, not in a terminal state"),
        }
        assert_eq!(stored.value.current_approvers().len(), approvals, "{id}");
        // No audit record is missing: one per successful command (plus the submission),
        // numbered by the request versions 1..=n without a gap.
        assert_eq!(stored.version as usize, wins.len() + 1, "{id}: {wins:?}");
        let mut versions: Vec<u64> = mine.iter().filter_map(|r| r.request_version).collect();
        versions.dedup();
        assert_eq!(versions, (1..=stored.version).collect::<Vec<_>>(), "{id}");
        assert_eq!(
            kinds.iter().filter(|k| **k == "approval_recorded").count(),
            approvals,
            "{id}"
        );
    }
}
