//! Audit-chain throughput: verifying stored rows (parse, canonicalize, hash, link and
//! column checks) against the reference of only hashing the same bodies, measured in the
//! same run. The ratio is what the verifier adds on top of SHA-256 itself.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use breakglass_core::audit::events::{ApprovalRecorded, AuditEvent};
use breakglass_core::audit::{Actor, AuditEntry, ChainHead, ChainVerifier, StoredAuditRow, seal};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::model::Username;
use breakglass_core::rules::{Decision, PolicyRef};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use time::{Duration, macros::datetime};

fn rows(n: u64) -> Vec<StoredAuditRow> {
    let mut head = ChainHead::GENESIS;
    let mut out = Vec::new();
    for i in 1..=n {
        let entry = AuditEntry {
            at: datetime!(2024-03-01 12:00:00 UTC) + Duration::seconds(i as i64),
            actor: Actor::User(Username::new("carol").unwrap()),
            request_version: Some(2),
            event: AuditEvent::from(ApprovalRecorded {
                request: format!("r-{i}").parse().unwrap(),
                approver: Username::new("carol").unwrap(),
                digest: Sha256Digest::of(&i.to_le_bytes()),
                comment: "looks right".to_owned(),
                approvals: 1,
                required: 2,
                decision: Decision {
                    allowed: true,
                    policies: vec![PolicyRef {
                        id: "playbook.investigate.approve".to_owned(),
                        description: Some(
                            "members of ir-leads may approve requests for playbook `investigate`"
                                .to_owned(),
                        ),
                    }],
                    errors: Vec::new(),
                },
            }),
        };
        let sealed = seal(&head, entry, None).unwrap();
        head = sealed.head();
        out.push(StoredAuditRow::from_sealed(&sealed));
    }
    out
}

fn chain(c: &mut Criterion) {
    let n = 10_000;
    let rows = rows(n);
    let mut group = c.benchmark_group("audit_chain");
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("reference_sha256_only", n), |b| {
        b.iter(|| {
            for r in &rows {
                std::hint::black_box(Sha256Digest::of(r.body.as_bytes()));
            }
        })
    });
    group.bench_function(BenchmarkId::new("verify", n), |b| {
        b.iter(|| {
            let mut v = ChainVerifier::new(None);
            for r in &rows {
                v.push(r).unwrap();
            }
            v.finish(None).unwrap_err()
        })
    });
    group.finish();
}

criterion_group!(benches, chain);
criterion_main!(benches);
