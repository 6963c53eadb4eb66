//! Stores, brokers and an in-memory `Cloud` double for the server tests.

use std::sync::Arc;

use breakglass_core::app::{App, Caller};
use breakglass_core::broker::Broker;
use breakglass_core::model::{AccountId, Catalog, IncidentId, PlaybookId, RoleName, Username};
use breakglass_core::ports::{Clock, ManualClock, SequentialIds};
use breakglass_core::request::{NewRequest, Settings};
use breakglass_core::rules::Rules;
use breakglass_server::SystemClock;
use breakglass_store::SqlStore;
use breakglass_testkit::postgres::{TestSchema, server_url};
use time::Duration;

pub type TestBroker = Broker<SqlStore, Arc<ManualClock>, SequentialIds>;

/// A store and what keeps its database alive.
pub struct TestStore {
    pub store: SqlStore,
    pub url: String,
    pub _dir: Option<tempfile::TempDir>,
    pub _schema: Option<TestSchema>,
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("breakglass.db").display());
    TestStore {
        store: SqlStore::open(&url).await.unwrap(),
        url,
        _dir: Some(dir),
        _schema: None,
    }
}

pub async fn postgres() -> Option<TestStore> {
    let server = server_url()?;
    let schema = TestSchema::create(&server).await.unwrap();
    let url = schema.url().to_owned();
    Some(TestStore {
        store: SqlStore::open(&url).await.unwrap(),
        url,
        _dir: None,
        _schema: Some(schema),
    })
}

pub fn catalog() -> Catalog {
    serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap()
}

/// A manual clock starting at the real time (STS, even emulated, stamps real times).
pub fn clock() -> Arc<ManualClock> {
    // Whole seconds, so durations computed from it are exact in assertions.
    Arc::new(ManualClock::new(
        SystemClock.now().replace_nanosecond(0).unwrap(),
    ))
}

pub fn broker(store: &SqlStore, clock: &Arc<ManualClock>, prefix: &str) -> TestBroker {
    Broker::new(
        store.clone(),
        Arc::clone(clock),
        SequentialIds::new(prefix).unwrap(),
        Rules::new(catalog(), &[]).unwrap(),
        Settings::default(),
    )
}

pub fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

/// `who` asks for the `investigate` playbook (SecurityAnalyst in 111111111111, two
/// approvals from ir-leads).
pub fn investigate(who: &str, minutes: i64) -> NewRequest {
    NewRequest {
        requester: user(who),
        playbook: PlaybookId::new("investigate").unwrap(),
        role: RoleName::new("SecurityAnalyst").unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: Duration::minutes(minutes),
        incident: IncidentId::new("INC-2024-001").unwrap(),
        justification: "investigating GuardDuty finding".to_owned(),
    }
}

/// Submits, gets two approvals, activates; returns the request id.
pub async fn active_grant(
    b: &TestBroker,
    who: &str,
    minutes: i64,
) -> breakglass_core::model::RequestId {
    let r = b.submit(investigate(who, minutes)).await.unwrap().request;
    b.approve(&r.id, user("bob"), r.digest, "ok").await.unwrap();
    b.approve(&r.id, user("carol"), r.digest, "ok")
        .await
        .unwrap();
    b.activate(&r.id, user(who)).await.unwrap();
    r.id
}

pub use breakglass_testkit::cloud::{FAKE_ROLE_ID, FakeCloud};

/// The ARN of the `investigate` playbook's role.
pub const ANALYST: &str = "arn:aws:iam::111111111111:role/incident-response/SecurityAnalyst";

/// `name` as a caller of the use cases (not an administrator).
pub fn caller(name: &str) -> Caller {
    Caller {
        username: user(name),
        admin: false,
        break_glass_only: false,
        via: None,
    }
}

/// `name` as an administrator.
pub fn admin(name: &str) -> Caller {
    Caller {
        username: user(name),
        admin: true,
        break_glass_only: false,
        via: None,
    }
}

/// Audit records of `kind` about request `id`.
pub async fn audit_count(store: &SqlStore, kind: &str, id: Option<&str>) -> usize {
    use breakglass_core::ports::Store as _;
    let mut n = 0;
    let mut after = 0;
    loop {
        let page = store.audit_rows(after, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in &page {
            if row.kind == kind && id.is_none_or(|id| row.request.as_deref() == Some(id)) {
                n += 1;
            }
        }
    }
    n
}

/// The use cases over a SQLite or PostgreSQL store and the fake cloud, as the tests drive them.
pub type TestAppService = App<SqlStore, Arc<FakeCloud>, Arc<ManualClock>, SequentialIds>;

/// The application under test, with handles on its broker (to drive the state machine
/// directly) and its cloud double (to look at what was written to IAM).
pub struct TestApp {
    pub app: Arc<TestAppService>,
    broker: Arc<TestBroker>,
    cloud: Arc<FakeCloud>,
}

impl TestApp {
    pub fn new(store: &SqlStore, clock: &Arc<ManualClock>, prefix: &str) -> Self {
        let broker = Arc::new(broker(store, clock, prefix));
        let cloud = Arc::new(FakeCloud::new(clock));
        Self {
            app: Arc::new(App::new(Arc::clone(&broker), Arc::clone(&cloud))),
            broker,
            cloud,
        }
    }

    /// The application over a cloud whose organisation keeps the revoked-responders SCP,
    /// as `breakglass apply` created it.
    pub fn with_organization(store: &SqlStore, clock: &Arc<ManualClock>, prefix: &str) -> Self {
        let broker = Arc::new(broker(store, clock, prefix));
        let initial = breakglass_core::revocation::organization_deny_document([]).unwrap();
        let cloud = Arc::new(FakeCloud::new(clock).with_organization_policy(initial));
        Self {
            app: Arc::new(App::new(Arc::clone(&broker), Arc::clone(&cloud))),
            broker,
            cloud,
        }
    }

    pub fn broker(&self) -> &TestBroker {
        &self.broker
    }

    pub fn cloud(&self) -> &FakeCloud {
        &self.cloud
    }
}

impl std::ops::Deref for TestApp {
    type Target = TestAppService;
    fn deref(&self) -> &TestAppService {
        &self.app
    }
}

/// Enrols a TOTP authenticator for `name` (password `correct horse battery`) the way a user
/// does: sign in with the password, start the enrolment with it again, confirm with a code
/// from the new authenticator. Returns the seed (base32, as the app holds it) and the token
/// the confirmation minted; the clock then moves to the next time step, so the confirming
/// code is not the next one a test asks for.
pub async fn enrol(
    auth: &breakglass_server::app::AuthService,
    clock: &ManualClock,
    name: &str,
) -> (
    breakglass_core::cloud::Secret,
    breakglass_server::auth::NewToken,
) {
    use breakglass_server::auth::totp;
    let first = auth
        .login_with_totp(
            name,
            "correct horse battery",
            None,
            "127.0.0.1",
            "cli",
            None,
        )
        .await
        .unwrap();
    let p = auth.authenticate(first.secret.expose()).await.unwrap();
    assert!(!p.second_factor, "a password sign-in without a factor");
    let e = auth
        .enroll_totp(&p, Some("correct horse battery"), None, "127.0.0.1")
        .await
        .unwrap();
    let seed = totp::base32_decode(e.secret.expose()).unwrap();
    let code = totp::code_at(
        &seed,
        totp::step_of(clock.now().unix_timestamp()),
        totp::DIGITS,
    );
    let token = auth.confirm_totp(&p, &code, "cli").await.unwrap();
    clock.advance(time::Duration::seconds(30));
    (e.secret, token)
}

/// A checked, unspent step-up of administrator `name` for `purpose`: the user is created
/// and enrolled in `store`'s accounts (as [`enrol`] does) if they are not there yet.
pub async fn step_up_of(
    store: &SqlStore,
    clock: &Arc<ManualClock>,
    name: &str,
    purpose: &str,
) -> breakglass_core::ports::StepUp {
    use breakglass_server::auth::{Auth, limit::Limits, seal::SealKey, totp};
    let c: Arc<dyn Clock> = clock.clone();
    let key = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
    let auth = Auth::new(store.clone(), c, key, Limits::default());
    auth.add_user(name, "correct horse battery", true, None)
        .await
        .unwrap();
    let (secret, _) = enrol(&auth, clock, name).await;
    let seed = totp::base32_decode(secret.expose()).unwrap();
    let code = totp::code_at(
        &seed,
        totp::step_of(clock.now().unix_timestamp()),
        totp::DIGITS,
    );
    auth.check_totp(&user(name), &code, purpose).await.unwrap()
}
