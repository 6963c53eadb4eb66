//! The audit hash chain: sealing, verification of every kind of tampering at the row level,
//! and the export formats.

use breakglass_core::audit::events::{ActionRefused, RequestCancelled};
use breakglass_core::audit::{
    Actor, AuditEntry, AuditEvent, ChainHead, ChainVerifier, ProblemKind, StoredAuditRow,
    jsonl_line, ocsf_event, seal,
};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::rules::Action;
use time::Duration;

use crate::support::{T0, user};

fn entry(i: u64) -> AuditEntry {
    let event = if i.is_multiple_of(2) {
        AuditEvent::from(RequestCancelled {
            request: format!("r-{i}").parse().unwrap(),
            by: user("alice"),
            reason: format!("reason {i}"),
        })
    } else {
        AuditEvent::from(ActionRefused {
            action: Action::Approve,
            request: None,
            playbook: None,
            break_glass: false,
            reason: "no".to_owned(),
        })
    };
    AuditEntry {
        at: T0 + Duration::seconds(i as i64),
        actor: if i.is_multiple_of(3) {
            Actor::System
        } else {
            Actor::User(user("bob"))
        },
        request_version: Some(i),
        event,
    }
}

/// A chain of `n` stored rows and its head.
fn chain(n: u64) -> (Vec<StoredAuditRow>, ChainHead) {
    let mut head = ChainHead::GENESIS;
    let mut rows = Vec::new();
    for i in 1..=n {
        let sealed = seal(&head, entry(i)).unwrap();
        head = sealed.head();
        rows.push(StoredAuditRow::from_sealed(&sealed));
    }
    (rows, head)
}

fn verify(
    rows: &[StoredAuditRow],
    head: Option<ChainHead>,
) -> Result<u64, (Option<i64>, ProblemKind)> {
    let mut v = ChainVerifier::new();
    for row in rows {
        v.push(row).map_err(|p| (p.seq, p.kind))?;
    }
    v.finish(head)
        .map(|c| c.records)
        .map_err(|p| (p.seq, p.kind))
}

#[test]
fn an_untouched_chain_verifies() {
    let (rows, head) = chain(6);
    assert_eq!(verify(&rows, Some(head)), Ok(6));
    assert_eq!(verify(&[], None), Ok(0));
    assert_eq!(rows[0].prev_hash, Sha256Digest::ZERO.to_hex());
    assert_eq!(rows[1].prev_hash, rows[0].hash);
}

#[test]
fn an_edited_body_is_named() {
    let (mut rows, head) = chain(6);
    rows[3].body = rows[3].body.replace("reason 4", "reason X");
    assert_eq!(
        verify(&rows, Some(head)),
        Err((Some(4), ProblemKind::HashMismatch))
    );
}

#[test]
fn an_edited_and_rehashed_record_breaks_the_next_link() {
    let (mut rows, head) = chain(6);
    rows[3].body = rows[3].body.replace("reason 4", "reason X");
    rows[3].hash = Sha256Digest::of(rows[3].body.as_bytes()).to_hex();
    assert_eq!(
        verify(&rows, Some(head)),
        Err((Some(5), ProblemKind::BrokenLink))
    );
}

#[test]
fn a_reformatted_body_is_not_canonical() {
    let (mut rows, head) = chain(3);
    rows[1].body = rows[1].body.replacen(',', ", ", 1);
    assert_eq!(
        verify(&rows, Some(head)),
        Err((Some(2), ProblemKind::NotCanonical))
    );
}

#[test]
fn a_deleted_record_is_named() {
    let (mut rows, head) = chain(6);
    rows.remove(2);
    assert_eq!(
        verify(&rows, Some(head)),
        Err((Some(4), ProblemKind::OutOfSequence { expected: 3 }))
    );
}

#[test]
fn deleting_the_newest_record_is_caught_by_the_head() {
    let (mut rows, head) = chain(6);
    rows.pop();
    assert_eq!(
        verify(&rows, Some(head)),
        Err((
            None,
            ProblemKind::HeadMismatch {
                head_seq: 6,
                last_seq: 5
            }
        ))
    );
    assert_eq!(verify(&rows, None), Err((None, ProblemKind::HeadMissing)));
}

#[test]
fn reordered_records_are_named() {
    let (mut rows, head) = chain(6);
    // Swap the contents of rows 2 and 3 but keep the sequence column in order.
    let (a, b) = (rows[1].clone(), rows[2].clone());
    rows[1] = StoredAuditRow { seq: 2, ..b };
    rows[2] = StoredAuditRow { seq: 3, ..a };
    assert_eq!(
        verify(&rows, Some(head)),
        Err((Some(2), ProblemKind::SeqMismatch { body: 3 }))
    );
}

#[test]
fn an_inserted_record_is_named() {
    let (mut rows, head) = chain(4);
    // A well-formed record sealed onto record 2, slipped in before record 3 with the
    // following rows renumbered.
    let forged_head = ChainHead {
        seq: 2,
        hash: Sha256Digest::from_hex(&rows[1].hash).unwrap(),
    };
    let forged = StoredAuditRow::from_sealed(&seal(&forged_head, entry(9)).unwrap());
    rows.insert(2, forged);
    for (i, row) in rows.iter_mut().enumerate().skip(3) {
        row.seq = i as i64 + 1;
    }
    assert_eq!(
        verify(&rows, Some(head)),
        Err((Some(4), ProblemKind::SeqMismatch { body: 3 }))
    );
    // Appended at the end instead, it passes every link but not the stored head.
    let (mut rows, head) = chain(4);
    let sealed = seal(&head, entry(5)).unwrap();
    rows.push(StoredAuditRow::from_sealed(&sealed));
    assert_eq!(
        verify(&rows, Some(head)),
        Err((
            None,
            ProblemKind::HeadMismatch {
                head_seq: 4,
                last_seq: 5
            }
        ))
    );
}

#[test]
fn an_edited_column_is_named() {
    for column in ["at", "kind", "request_id", "actor"] {
        let (mut rows, head) = chain(4);
        match column {
            "at" => rows[1].at_micros += 1,
            "kind" => rows[1].kind = "request_approved".to_owned(),
            "request_id" => rows[1].request = Some("r-999".to_owned()),
            _ => rows[1].actor = Some("mallory".to_owned()),
        }
        assert_eq!(
            verify(&rows, Some(head)),
            Err((Some(2), ProblemKind::ColumnMismatch { column })),
            "{column}"
        );
    }
}

#[test]
fn problems_read_as_sentences() {
    let (mut rows, head) = chain(3);
    rows[1].body = rows[1].body.replace("bob", "eve");
    let mut v = ChainVerifier::new();
    v.push(&rows[0]).unwrap();
    let p = v.push(&rows[1]).unwrap_err();
    assert_eq!(
        p.to_string(),
        "record #2: its hash does not match its contents (edited)"
    );
    let (rows, _) = chain(3);
    let mut v = ChainVerifier::new();
    for r in &rows[..2] {
        v.push(r).unwrap();
    }
    let p = v.finish(Some(head)).unwrap_err();
    assert_eq!(
        p.to_string(),
        "chain head: the stored head names record #3 but the last record is #2 (records deleted from or appended to the end)"
    );
}

#[test]
fn jsonl_export_is_the_hashed_record_plus_its_hash() {
    let (rows, _) = chain(2);
    let mut v = ChainVerifier::new();
    let record = v.push(&rows[0]).unwrap();
    let hash = Sha256Digest::from_hex(&rows[0].hash).unwrap();
    let line = jsonl_line(&record, &hash).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["hash"], rows[0].hash);
    value.as_object_mut().unwrap().remove("hash");
    assert_eq!(
        breakglass_core::canonical::canonicalize(&value).unwrap(),
        rows[0].body
    );
}

#[test]
fn ocsf_export_maps_to_user_access_management() {
    let (rows, _) = chain(2);
    let mut v = ChainVerifier::new();
    let first = v.push(&rows[0]).unwrap();
    let second = v.push(&rows[1]).unwrap();
    let hash = Sha256Digest::from_hex(&rows[1].hash).unwrap();
    let refused = ocsf_event(&first, &hash).unwrap();
    assert_eq!(refused["class_uid"], 3005);
    assert_eq!(refused["category_uid"], 3);
    assert_eq!(refused["activity_id"], 99);
    assert_eq!(refused["activity_name"], "action_refused");
    assert_eq!(refused["type_uid"], 300599);
    assert_eq!(refused["status"], "Failure");
    assert_eq!(
        refused["time"],
        (T0 + Duration::seconds(1)).unix_timestamp() * 1000
    );
    let cancelled = ocsf_event(&second, &hash).unwrap();
    assert_eq!(cancelled["metadata"]["uid"], rows[1].hash);
    assert_eq!(cancelled["metadata"]["sequence"], 2);
    assert_eq!(
        cancelled["unmapped"]["breakglass"]["event"]["type"],
        "request_cancelled"
    );
}
