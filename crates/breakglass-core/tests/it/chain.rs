//! The audit hash chain: sealing, verification of every kind of tampering at the row level,
//! and the export formats.

use breakglass_core::audit::events::{ActionRefused, RequestCancelled};
use breakglass_core::audit::{
    Actor, Anchor, AuditEntry, AuditEvent, ChainHead, ChainKey, ChainProblem, ChainVerifier,
    ProblemKind, StoredAuditRow, jsonl_line, ocsf_event, seal,
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
        let sealed = seal(&head, entry(i), None).unwrap();
        head = sealed.head();
        rows.push(StoredAuditRow::from_sealed(&sealed));
    }
    (rows, head)
}

fn verify(
    rows: &[StoredAuditRow],
    head: Option<ChainHead>,
) -> Result<u64, (Option<i64>, ProblemKind)> {
    let mut v = ChainVerifier::new(None);
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
    let forged = StoredAuditRow::from_sealed(&seal(&forged_head, entry(9), None).unwrap());
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
    let sealed = seal(&head, entry(5), None).unwrap();
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
    let mut v = ChainVerifier::new(None);
    v.push(&rows[0]).unwrap();
    let p = v.push(&rows[1]).unwrap_err();
    assert_eq!(
        p.to_string(),
        "record #2: its hash does not match its contents (edited)"
    );
    let (rows, _) = chain(3);
    let mut v = ChainVerifier::new(None);
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
    let mut v = ChainVerifier::new(None);
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
    let mut v = ChainVerifier::new(None);
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

const KEY: ChainKey = ChainKey::new([7; 32]);

/// `unkeyed` records sealed without a key, then `keyed` with [`KEY`] (a chain that was
/// keyed on upgrade), and its head.
fn keyed_chain(unkeyed: u64, keyed: u64) -> (Vec<StoredAuditRow>, ChainHead) {
    let mut head = ChainHead::GENESIS;
    let mut rows = Vec::new();
    for i in 1..=unkeyed + keyed {
        let key = (i > unkeyed).then_some(&KEY);
        let sealed = seal(&head, entry(i), key).unwrap();
        head = sealed.head();
        rows.push(StoredAuditRow::from_sealed(&sealed));
    }
    (rows, head)
}

fn verify_with(
    key: Option<ChainKey>,
    anchors: &[Anchor],
    rows: &[StoredAuditRow],
    head: Option<ChainHead>,
) -> Result<(u64, u64), (Option<i64>, ProblemKind)> {
    let mut v = ChainVerifier::new(key).with_anchors(anchors.iter().copied());
    for row in rows {
        v.push(row).map_err(|p| (p.seq, p.kind))?;
    }
    v.finish(head)
        .map(|c| (c.records, c.unkeyed))
        .map_err(|p| (p.seq, p.kind))
}

#[test]
fn a_keyed_chain_verifies_with_its_key_and_keeps_its_unkeyed_past() {
    let (rows, head) = keyed_chain(3, 4);
    assert!(!rows[2].body.contains("hmac-sha256"));
    assert!(rows[3].body.contains(r#""seal":"hmac-sha256""#));
    // The keyed hash is not the plain SHA-256 of the body.
    assert_ne!(
        rows[3].hash,
        Sha256Digest::of(rows[3].body.as_bytes()).to_hex()
    );
    let upgraded = KEY.keyed_after(3);
    assert_eq!(
        verify_with(Some(upgraded.clone()), &[], &rows, Some(head)),
        Ok((7, 3))
    );
    // Without naming where the unkeyed beginning ends, an unkeyed record is refused.
    assert_eq!(
        verify_with(Some(KEY), &[], &rows, Some(head)),
        Err((Some(1), ProblemKind::UnkeyedAfterKeyed))
    );
    // Without the key, the first keyed record is where verification must stop.
    assert_eq!(
        verify_with(None, &[], &rows, Some(head)),
        Err((Some(4), ProblemKind::KeyRequired))
    );
    // Another key is not this chain's key: said as such at the first keyed record, since
    // nothing proves the key yet.
    let wrong = verify_with(
        Some(ChainKey::new([8; 32]).keyed_after(3)),
        &[],
        &rows,
        Some(head),
    );
    assert_eq!(wrong, Err((Some(4), ProblemKind::KeyMismatch)));
    let text = ChainProblem {
        seq: Some(4),
        kind: ProblemKind::KeyMismatch,
    }
    .to_string();
    assert!(text.contains("audit key given is not the one"), "{text}");
    // With the right key, an edit after a keyed record matched is an edit.
    let mut edited = rows.clone();
    edited[5].body = edited[5].body.replace("reason 6", "reason X");
    assert_eq!(
        verify_with(Some(upgraded), &[], &edited, Some(head)),
        Err((Some(6), ProblemKind::HashMismatch))
    );
}

#[test]
fn a_keyed_chain_rewritten_whole_as_unkeyed_records_is_refused() {
    // Someone without the key drops the seal from every record and rehashes the chain with
    // plain SHA-256: every link and the head agree, but the key says records must be keyed.
    let (rows, _) = keyed_chain(0, 5);
    let mut head = ChainHead::GENESIS;
    let mut forged = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let _ = row;
        let sealed = seal(&head, entry(i as u64 + 1), None).unwrap();
        head = sealed.head();
        forged.push(StoredAuditRow::from_sealed(&sealed));
    }
    assert_eq!(
        verify_with(Some(KEY), &[], &forged, Some(head)),
        Err((Some(1), ProblemKind::UnkeyedAfterKeyed))
    );
    // Claiming a longer unkeyed beginning is the verifier's choice, not the database's.
    assert_eq!(
        verify_with(Some(KEY.keyed_after(5)), &[], &forged, Some(head)),
        Ok((5, 5))
    );
}

#[test]
fn an_anchor_mac_is_bound_to_the_key_and_the_anchor() {
    let a = Anchor {
        seq: 4,
        hash: Sha256Digest::of(b"four"),
    };
    let b = Anchor { seq: 5, ..a };
    assert_eq!(KEY.anchor_mac(&a), KEY.anchor_mac(&a));
    assert_ne!(KEY.anchor_mac(&a), KEY.anchor_mac(&b));
    assert_ne!(KEY.anchor_mac(&a), ChainKey::new([8; 32]).anchor_mac(&a));
    let hex = KEY.expose_hex();
    assert_eq!(
        ChainKey::from_hex(&hex).unwrap().anchor_mac(&a),
        KEY.anchor_mac(&a)
    );
    assert!(
        ChainKey::from_hex("abc")
            .unwrap_err()
            .contains("64 hex digits")
    );
    assert_eq!(format!("{KEY:?}"), "ChainKey([redacted])");
}

#[test]
fn someone_without_the_key_cannot_edit_or_rebuild_a_keyed_chain() {
    // An edited record rehashed with plain SHA-256 after dropping the seal marker.
    let (mut rows, head) = keyed_chain(0, 5);
    let body = rows[2].body.replace(r#","seal":"hmac-sha256""#, "");
    rows[2].body = body.replace("bob", "eve");
    rows[2].hash = Sha256Digest::of(rows[2].body.as_bytes()).to_hex();
    let first = verify_with(Some(KEY), &[], &rows, Some(head));
    assert!(
        matches!(
            first,
            Err((
                Some(3),
                ProblemKind::UnkeyedAfterKeyed | ProblemKind::NotCanonical
            ))
        ),
        "{first:?}"
    );
    // The whole tail after a deletion, resealed without the key onto the last good record.
    let (rows, _) = keyed_chain(0, 6);
    let mut forged = rows[..2].to_vec();
    let mut head = ChainHead {
        seq: 2,
        hash: Sha256Digest::from_hex(&rows[1].hash).unwrap(),
    };
    for i in 4..=6 {
        let sealed = seal(&head, entry(i), None).unwrap();
        head = sealed.head();
        forged.push(StoredAuditRow::from_sealed(&sealed));
    }
    assert_eq!(
        verify_with(Some(KEY), &[], &forged, Some(head)),
        Err((Some(3), ProblemKind::UnkeyedAfterKeyed))
    );
    // Resealed with a key of the attacker's choosing: the hash is not the chain key's.
    let (rows, _) = keyed_chain(0, 6);
    let mut forged = rows[..2].to_vec();
    let stolen = ChainKey::new([9; 32]);
    let mut head = ChainHead {
        seq: 2,
        hash: Sha256Digest::from_hex(&rows[1].hash).unwrap(),
    };
    for i in 4..=6 {
        let sealed = seal(&head, entry(i), Some(&stolen)).unwrap();
        head = sealed.head();
        forged.push(StoredAuditRow::from_sealed(&sealed));
    }
    assert_eq!(
        verify_with(Some(KEY), &[], &forged, Some(head)),
        Err((Some(3), ProblemKind::HashMismatch))
    );
}

#[test]
fn an_anchor_stays_valid_as_the_chain_grows_and_catches_a_truncation() {
    let (rows, head) = keyed_chain(2, 8);
    let key = KEY.keyed_after(2);
    let anchor = Anchor {
        seq: 6,
        hash: Sha256Digest::from_hex(&rows[5].hash).unwrap(),
    };
    let text = anchor.to_string();
    assert_eq!(text.parse::<Anchor>().unwrap(), anchor);
    // The chain has grown four records past the anchor: still valid.
    assert_eq!(
        verify_with(Some(key.clone()), &[anchor], &rows, Some(head)),
        Ok((10, 2))
    );
    // Truncation: records #5.. deleted and the head moved back to #4. Every link and the
    // head agree; only the anchor knows.
    let cut = &rows[..4];
    let cut_head = ChainHead {
        seq: 4,
        hash: Sha256Digest::from_hex(&rows[3].hash).unwrap(),
    };
    assert_eq!(
        verify_with(Some(key.clone()), &[], cut, Some(cut_head)),
        Ok((4, 2))
    );
    let found = verify_with(Some(key.clone()), &[anchor], cut, Some(cut_head));
    assert_eq!(
        found,
        Err((
            None,
            ProblemKind::Truncated {
                anchor_seq: 6,
                last_seq: 4
            }
        ))
    );
    // A wrong anchored hash (the record was rewritten by someone holding the key).
    let wrong = Anchor {
        seq: 6,
        hash: Sha256Digest::from_hex(&rows[4].hash).unwrap(),
    };
    assert!(matches!(
        verify_with(Some(key.clone()), &[wrong], &rows, Some(head)),
        Err((Some(6), ProblemKind::AnchorMismatch { .. }))
    ));
}

#[test]
fn anchor_text_errors_name_the_problem() {
    for (text, want) in [
        ("12", "no colon"),
        ("x:00", "not a record number"),
        ("0:00", "numbered from 1"),
        ("3:abc", "`abc`"),
    ] {
        let e = text.parse::<Anchor>().unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
        assert!(e.contains("SEQ:HASH"), "{e}");
    }
}

proptest::proptest! {
    /// Any text is an anchor or a named error, never a panic; every anchor reads back from
    /// the text `verify` prints for it.
    #[test]
    fn anchor_text_parses_or_errs_and_round_trips(text in ".{0,80}", seq in 1u64.., bytes in proptest::array::uniform32(0u8..)) {
        let _ = text.parse::<Anchor>();
        let anchor = Anchor { seq, hash: Sha256Digest::from_bytes(bytes) };
        proptest::prop_assert_eq!(anchor.to_string().parse::<Anchor>(), Ok(anchor));
    }
}
