//! A step-up is good for exactly the change it was checked for. An approver who holds a
//! valid, unspent code checked for one thing (another request, the extension rather than
//! the request, break-glass) or someone else's step-up cannot spend it on another approval:
//! the application layer refuses before anything is committed, and the code stays unspent
//! for the change it was meant for.

use std::sync::Arc;

use breakglass_core::app::{Approving, Error};
use breakglass_core::ports::{Clock, StepUp};
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::seal::SealKey;
use breakglass_server::auth::{Auth, totp};

use crate::support::{self, TestApp, TestStore, caller, clock, investigate, user};

/// A checked (unspent) step-up of `who` for `purpose`.
async fn step_up(
    auth: &Auth<breakglass_store::SqlStore>,
    seed: &str,
    who: &str,
    purpose: &str,
    now: i64,
) -> StepUp {
    let seed = totp::base32_decode(seed).unwrap();
    let code = totp::code_at(&seed, totp::step_of(now), totp::DIGITS);
    auth.check_totp(&user(who), &code, purpose).await.unwrap()
}

#[tokio::test]
async fn a_step_up_checked_for_one_change_cannot_approve_another() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = TestApp::new(&store, &clock, "s");
    let c: Arc<dyn Clock> = clock.clone();
    let key = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
    let auth = Auth::new(store.clone(), c, key, Limits::default());
    let mut seeds = Vec::new();
    for who in ["bob", "carol"] {
        auth.add_user(who, "correct horse battery", false, None)
            .await
            .unwrap();
        let (secret, _) = support::enrol(&auth, &clock, who).await;
        seeds.push(secret.expose().to_owned());
    }
    let r = a
        .broker()
        .submit(investigate("alice", 60))
        .await
        .unwrap()
        .request;
    let other = a
        .broker()
        .submit(investigate("erin", 60))
        .await
        .unwrap()
        .request;
    let now = clock.now().unix_timestamp();
    let bob = caller("bob");

    let refused = [
        // Carol's step-up, in Bob's hands.
        step_up(
            &auth,
            &seeds[1],
            "carol",
            &Approving::Request.purpose(&r.id),
            now,
        )
        .await,
        // Bob's, checked for the extension of this request.
        step_up(
            &auth,
            &seeds[0],
            "bob",
            &Approving::Extension.purpose(&r.id),
            now,
        )
        .await,
        // Bob's, checked for another request.
        step_up(
            &auth,
            &seeds[0],
            "bob",
            &Approving::Request.purpose(&other.id),
            now,
        )
        .await,
        // Bob's, checked for break-glass.
        step_up(&auth, &seeds[0], "bob", "break-glass", now).await,
    ];
    for s in refused {
        let purpose = s.purpose.clone();
        let err = a
            .approve(&bob, &r.id, Approving::Request, r.digest, String::new(), s)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{purpose}: {err}");
    }
    let now_r = a.broker().get(&r.id).await.unwrap().value;
    assert!(now_r.approvals.is_empty(), "nothing was approved");
    assert_eq!(support::audit_count(&store, "totp_verified", None).await, 0);

    // The step-up checked for this very approval works, once: nothing above spent it.
    let s = step_up(
        &auth,
        &seeds[0],
        "bob",
        &Approving::Request.purpose(&r.id),
        now,
    )
    .await;
    let o = a
        .approve(&bob, &r.id, Approving::Request, r.digest, "ok".into(), s)
        .await
        .unwrap();
    assert_eq!(o.request.approvals.len(), 1);
    assert_eq!(support::audit_count(&store, "totp_verified", None).await, 1);
}

/// A passkey answer found already spent when its change commits (a concurrent step-up took
/// its ceremony first) is audited as a refused passkey answer, not as a TOTP failure, and
/// the caller is told a passkey answer was already used; nothing is approved.
#[tokio::test]
async fn a_passkey_answer_spent_first_elsewhere_is_audited_as_a_passkey_replay() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = TestApp::new(&store, &clock, "s");
    let r = a
        .broker()
        .submit(investigate("alice", 60))
        .await
        .unwrap()
        .request;
    let purpose = Approving::Request.purpose(&r.id);
    // Checked when its ceremony still existed; the ceremony is gone by the commit.
    let spent = StepUp {
        username: user("bob"),
        purpose: purpose.clone(),
        proof: breakglass_core::ports::Proof::Passkey {
            ceremony: "c-taken-by-another-step-up".to_owned(),
            credential_id: "cred-bob".to_owned(),
            credential: "{}".to_owned(),
        },
    };
    let err = a
        .approve(
            &caller("bob"),
            &r.id,
            Approving::Request,
            r.digest,
            String::new(),
            spent,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StepUpReplayed), "{err}");
    assert!(err.to_string().contains("passkey answer"), "{err}");
    assert_eq!(
        support::audit_count(&store, "passkey_failed", None).await,
        1
    );
    assert_eq!(support::audit_count(&store, "totp_failed", None).await, 0);
    let now = a.broker().get(&r.id).await.unwrap().value;
    assert!(now.approvals.is_empty(), "approved by a spent answer");
}
