//! Authentication over a real SQLite store: passwords, tokens, TOTP, rate limiting, audit.

use std::sync::Arc;

use breakglass_core::model::Username;
use breakglass_core::ports::{AuthStore, Clock, ManualClock, Store};
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::seal::SealKey;
use breakglass_server::auth::{Auth, AuthError, totp};
use breakglass_store::SqlStore;
use time::{Duration, macros::datetime};

pub struct Fixture {
    pub auth: breakglass_server::app::AuthService,
    pub store: SqlStore,
    pub clock: Arc<ManualClock>,
    key: String,
    _dir: tempfile::TempDir,
    _schema: Option<breakglass_testkit::postgres::TestSchema>,
}

impl Fixture {
    /// Authentication as a restarted process would have it: over the same store, clock and
    /// sealing key, with nothing kept in memory.
    pub fn restart(&self) -> breakglass_server::app::AuthService {
        let c: Arc<dyn Clock> = self.clock.clone();
        let key = SealKey::from_hex(&self.key).unwrap();
        Auth::new(self.store.clone(), c, key, Limits::default())
    }
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bg.db").display());
    with_store(SqlStore::open(&url).await.unwrap(), dir, None)
}

/// The fixture on a throwaway PostgreSQL schema, when `BREAKGLASS_TEST_POSTGRES_URL` is set.
pub async fn postgres_fixture() -> Option<Fixture> {
    let server = breakglass_testkit::postgres::server_url()?;
    let schema = breakglass_testkit::postgres::TestSchema::create(&server)
        .await
        .unwrap();
    let store = SqlStore::open(schema.url()).await.unwrap();
    Some(with_store(
        store,
        tempfile::tempdir().unwrap(),
        Some(schema),
    ))
}

fn with_store(
    store: SqlStore,
    dir: tempfile::TempDir,
    schema: Option<breakglass_testkit::postgres::TestSchema>,
) -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2024-03-01 12:00:00 UTC)));
    let key_hex = SealKey::generate_hex();
    let key = SealKey::from_hex(&key_hex).unwrap();
    let c: Arc<dyn Clock> = clock.clone();
    let auth = Auth::new(store.clone(), c, key, Limits::default());
    Fixture {
        auth,
        store,
        clock,
        key: key_hex,
        _dir: dir,
        _schema: schema,
    }
}

async fn audit_kinds(store: &SqlStore) -> Vec<String> {
    store
        .audit_rows(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

/// An enrolled authenticator: its seed (base32, as the app holds it) and the token the
/// confirmation minted (it passed the second factor).
pub struct Enrolled {
    pub secret: breakglass_core::cloud::Secret,
    pub token: breakglass_server::auth::NewToken,
}

/// Enrols a TOTP authenticator for `name` (password `correct horse battery`) the way a
/// user does: sign in with the password, start the enrolment with it again, confirm with a
/// code from the new authenticator. The clock then moves to the next time step, so the
/// confirming code is not the next one asked for.
pub async fn enrol(f: &Fixture, name: &str) -> Enrolled {
    let (secret, token) = crate::support::enrol(&f.auth, &f.clock, name).await;
    Enrolled { secret, token }
}

/// The current code of `who`, read by decrypting the seed the way an authenticator app
/// would hold it (from the enrolment secret).
pub fn code(secret: &str, unix: i64) -> String {
    let seed = totp::base32_decode(secret).unwrap();
    totp::code_at(&seed, totp::step_of(unix), totp::DIGITS)
}

#[tokio::test]
async fn login_issues_a_token_that_authenticates_until_it_expires() {
    let f = fixture().await;
    f.auth
        .add_user("alice", "correct horse battery", true, None)
        .await
        .unwrap();
    let tok = f
        .auth
        .login_with_totp(
            "alice",
            "correct horse battery",
            None,
            "127.0.0.1",
            "cli",
            None,
        )
        .await
        .unwrap();
    let secret = tok.secret.expose().to_owned();
    assert!(secret.starts_with("bgt_"));
    // Only the hash is stored.
    let stored = f.store.tokens("alice").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].sha256, secret);
    assert!(!stored[0].sha256.contains(&secret));

    let p = f.auth.authenticate(&secret).await.unwrap();
    assert_eq!(p.username.as_str(), "alice");
    assert!(p.admin);

    f.clock.advance(Duration::hours(13));
    let err = f.auth.authenticate(&secret).await.unwrap_err();
    assert!(matches!(err, AuthError::TokenExpired(_)), "{err}");
    assert!(err.to_string().contains("breakglass login"), "{err}");

    let kinds = audit_kinds(&f.store).await;
    assert_eq!(kinds, ["user_created", "login_succeeded", "token_created"]);
}

#[tokio::test]
async fn wrong_passwords_are_refused_audited_and_rate_limited() {
    let f = fixture().await;
    f.auth
        .add_user("bob", "a long enough password", false, None)
        .await
        .unwrap();
    for _ in 0..5 {
        let err = f
            .auth
            .login_with_totp("bob", "wrong password!!", None, "10.0.0.1", "cli", None)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::BadCredentials), "{err}");
    }
    // Even the right password is refused from that address while the limit holds.
    let err = f
        .auth
        .login_with_totp(
            "bob",
            "a long enough password",
            None,
            "10.0.0.1",
            "cli",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::RateLimited(_)), "{err}");
    // The guesser did not lock bob out of his own address.
    f.auth
        .login_with_totp(
            "bob",
            "a long enough password",
            None,
            "10.0.0.2",
            "cli",
            None,
        )
        .await
        .unwrap();
    f.clock.advance(Duration::minutes(16));
    f.auth
        .login_with_totp(
            "bob",
            "a long enough password",
            None,
            "10.0.0.1",
            "cli",
            None,
        )
        .await
        .unwrap();
    // Unknown users fail the same way.
    let err = f
        .auth
        .login_with_totp(
            "mallory",
            "whatever password",
            None,
            "10.0.0.3",
            "cli",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadCredentials));
    let kinds = audit_kinds(&f.store).await;
    assert_eq!(kinds.iter().filter(|k| *k == "login_failed").count(), 7);
    assert_eq!(kinds.iter().filter(|k| *k == "login_succeeded").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit() {
    let f = fixture().await;
    f.auth
        .add_user("bob", "a long enough password", false, None)
        .await
        .unwrap();
    // Every guess is in flight before any has been checked (argon2 takes a while).
    let wrong: Vec<String> = (0..20).map(|i| format!("wrong password {i}")).collect();
    let guesses = wrong.iter().map(|p| {
        f.auth
            .login_with_totp("bob", p, None, "10.0.0.1", "cli", None)
    });
    let results = futures_join_all(guesses).await;
    let checked = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::BadCredentials)))
        .count();
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::RateLimited(_))))
        .count();
    let free = Limits::default().per_user_and_address as usize;
    assert_eq!((checked, limited), (free, 20 - free));
}

/// Polls every future concurrently on this task, in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn short_passwords_and_duplicate_users_are_refused() {
    let f = fixture().await;
    let err = f
        .auth
        .add_user("carol", "short", false, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least 12"), "{err}");
    f.auth
        .add_user("carol", "long enough pass", false, None)
        .await
        .unwrap();
    let err = f
        .auth
        .add_user("carol", "long enough pass", false, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Exists(_)), "{err}");
    let err = f
        .auth
        .add_user("aws:x", "long enough pass", false, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn revoked_tokens_stop_working() {
    let f = fixture().await;
    f.auth
        .add_user("alice", "correct horse battery", false, None)
        .await
        .unwrap();
    let alice = Username::new("alice").unwrap();
    let signed_in = f
        .auth
        .login_with_totp(
            "alice",
            "correct horse battery",
            None,
            "10.0.0.1",
            "cli",
            Some(Duration::hours(10)),
        )
        .await
        .unwrap();
    let caller = f
        .auth
        .authenticate(signed_in.secret.expose())
        .await
        .unwrap();
    let tok = f
        .auth
        .create_token(&caller, "laptop", Some(Duration::hours(8)))
        .await
        .unwrap();
    f.auth.authenticate(tok.secret.expose()).await.unwrap();
    // A token cannot mint one that outlives it; without a lifetime it gets the default.
    let short = f.auth.authenticate(tok.secret.expose()).await.unwrap();
    let err = f
        .auth
        .create_token(&short, "longer", Some(Duration::hours(9)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot outlive"), "{err}");
    let default = f.auth.create_token(&short, "default", None).await.unwrap();
    assert_eq!(
        default.record.expires_at - default.record.created_at,
        Duration::hours(8)
    );
    f.auth
        .revoke_token(&alice, &tok.record.id, &alice)
        .await
        .unwrap();
    let err = f.auth.authenticate(tok.secret.expose()).await.unwrap_err();
    assert!(matches!(err, AuthError::BadToken));
    let err = f
        .auth
        .revoke_token(&alice, &tok.record.id, &alice)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::NotFound(_)), "{err}");
    let err = f
        .auth
        .login_with_totp(
            "alice",
            "correct horse battery",
            None,
            "10.0.0.1",
            "forever",
            Some(Duration::days(365)),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("12 hours"), "{err}");
    let kinds = audit_kinds(&f.store).await;
    assert!(kinds.contains(&"token_revoked".to_owned()));
}

#[tokio::test]
async fn totp_codes_verify_once_and_wrong_codes_are_audited() {
    totp_once(fixture().await).await;
}

#[tokio::test]
async fn totp_codes_verify_once_on_postgres() {
    if let Some(f) = postgres_fixture().await {
        totp_once(f).await;
    }
}

async fn totp_once(f: Fixture) {
    f.auth
        .add_user("alice", "correct horse battery", false, None)
        .await
        .unwrap();
    let alice = Username::new("alice").unwrap();
    let err = f
        .auth
        .verify_totp(&alice, "123456", "approve")
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::NoTotp(_)));

    let e = enrol(&f, "alice").await;
    // The seed is stored encrypted: neither its base32 nor hex form appears in the row.
    let row = f.store.user("alice").await.unwrap().unwrap();
    let sealed = row.totp_seed.unwrap();
    let seed = totp::base32_decode(e.secret.expose()).unwrap();
    let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!sealed.contains(&seed_hex));
    assert!(!sealed.to_uppercase().contains(e.secret.expose()));

    let now = f.clock.now().unix_timestamp();
    let good = code(e.secret.expose(), now);
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    let err = f
        .auth
        .verify_totp(&alice, &wrong, "approve")
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadTotp));
    f.auth.verify_totp(&alice, &good, "approve").await.unwrap();
    // A replay of the same code is refused.
    let err = f
        .auth
        .verify_totp(&alice, &good, "approve")
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadTotp));
    // The next step's code works.
    f.clock.advance(Duration::seconds(30));
    let next = code(e.secret.expose(), f.clock.now().unix_timestamp());
    f.auth.verify_totp(&alice, &next, "approve").await.unwrap();

    let kinds = audit_kinds(&f.store).await;
    assert_eq!(
        kinds,
        [
            "user_created",
            "totp_failed",
            "login_succeeded",
            "token_created",
            "account_changed",
            "totp_enrolled",
            "account_changed",
            "token_created",
            "totp_failed",
            "totp_verified",
            "totp_failed",
            "totp_verified"
        ]
    );
}

#[tokio::test]
async fn an_empty_totp_code_is_asked_for_and_not_counted_as_a_wrong_one() {
    let f = fixture().await;
    f.auth
        .add_user("alice", "correct horse battery", false, None)
        .await
        .unwrap();
    let alice = Username::new("alice").unwrap();
    let e = enrol(&f, "alice").await;
    for empty in std::iter::repeat_n(
        ["", "  "],
        breakglass_server::auth::TOTP_FAILURES as usize + 1,
    )
    .flatten()
    {
        let err = f.auth.verify_totp(&alice, empty, "approve").await;
        assert!(matches!(err, Err(AuthError::TotpMissing)), "{err:?}");
        let message = err.unwrap_err().to_string();
        assert!(
            message.contains("`totp`") && message.contains("authenticator app"),
            "{message}"
        );
    }
    // Refused and audited, but the step-up is not locked: the right code still works.
    assert_eq!(
        audit_kinds(&f.store).await.last().map(String::as_str),
        Some("totp_failed")
    );
    let good = code(e.secret.expose(), f.clock.now().unix_timestamp());
    f.auth.verify_totp(&alice, &good, "approve").await.unwrap();
}

#[tokio::test]
async fn wrong_totp_codes_lock_the_step_up_for_a_while() {
    let f = fixture().await;
    f.auth
        .add_user("alice", "correct horse battery", false, None)
        .await
        .unwrap();
    let alice = Username::new("alice").unwrap();
    let e = enrol(&f, "alice").await;
    let good = code(e.secret.expose(), f.clock.now().unix_timestamp());
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..breakglass_server::auth::TOTP_FAILURES {
        let err = f.auth.verify_totp(&alice, &wrong, "approve").await;
        assert!(matches!(err, Err(AuthError::BadTotp)), "{err:?}");
    }
    // Even the right code is refused now, and the refusal is audited.
    let err = f.auth.verify_totp(&alice, &good, "approve").await;
    assert!(matches!(err, Err(AuthError::TotpLocked(_))), "{err:?}");
    assert_eq!(
        audit_kinds(&f.store).await.last().map(String::as_str),
        Some("totp_failed")
    );
    // Once the failures leave the window, a fresh code works again.
    f.clock.advance(Duration::minutes(16));
    let fresh = code(e.secret.expose(), f.clock.now().unix_timestamp());
    f.auth.verify_totp(&alice, &fresh, "approve").await.unwrap();
}

#[tokio::test]
async fn an_enrolled_authenticator_is_replaced_only_with_a_current_code() {
    let f = fixture().await;
    f.auth
        .add_user("alice", "correct horse battery", false, None)
        .await
        .unwrap();
    let alice = Username::new("alice").unwrap();
    let first = enrol(&f, "alice").await;
    let p = f
        .auth
        .authenticate(first.token.secret.expose())
        .await
        .unwrap();
    // A token holder without the authenticator cannot swap in their own, not even with
    // the password.
    let err = f
        .auth
        .enroll_totp(&p, Some("correct horse battery"), None, "10.0.0.1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--current-code"), "{err}");
    let good = code(first.secret.expose(), f.clock.now().unix_timestamp());
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    // Nor with a code but not the password.
    let err = f
        .auth
        .enroll_totp(
            &p,
            None,
            Some(breakglass_server::auth::Answer::Totp(&good)),
            "10.0.0.1",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
    let err = f
        .auth
        .enroll_totp(
            &p,
            Some("correct horse battery"),
            Some(breakglass_server::auth::Answer::Totp(&wrong)),
            "10.0.0.1",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadTotp), "{err:?}");
    let second = f
        .auth
        .enroll_totp(
            &p,
            Some("correct horse battery"),
            Some(breakglass_server::auth::Answer::Totp(&good)),
            "10.0.0.1",
        )
        .await
        .unwrap();
    assert_ne!(second.secret.expose(), first.secret.expose());
    // Until a code from the new authenticator confirms it, the old one stays.
    f.clock.advance(Duration::seconds(30));
    let now = f.clock.now().unix_timestamp();
    f.auth
        .verify_totp(&alice, &code(first.secret.expose(), now), "approve")
        .await
        .unwrap();
    let p = f
        .auth
        .authenticate(first.token.secret.expose())
        .await
        .unwrap();
    let replaced = f
        .auth
        .confirm_totp(&p, &code(second.secret.expose(), now), "cli")
        .await
        .unwrap();
    // Every earlier session ended, and the new one lives no longer than the one that asked.
    assert!(
        f.auth
            .authenticate(first.token.secret.expose())
            .await
            .is_err()
    );
    assert!(replaced.record.expires_at <= first.token.record.expires_at);
    // The new seed is the one that verifies now.
    f.clock.advance(Duration::seconds(30));
    let now = f.clock.now().unix_timestamp();
    assert!(
        f.auth
            .verify_totp(&alice, &code(first.secret.expose(), now), "approve")
            .await
            .is_err()
    );
    f.auth
        .verify_totp(&alice, &code(second.secret.expose(), now), "approve")
        .await
        .unwrap();
}

#[tokio::test]
async fn nobody_may_take_a_drill_identitys_name() {
    let f = fixture().await;
    for name in [
        "breakglass-drill",
        "breakglass-drill-approver-1",
        "BreakGlass-Drill-x",
    ] {
        let e = f
            .auth
            .add_user(name, "correct horse battery", true, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("reserved"), "{name}: {e}");
    }
}
