//! Stores, brokers and an in-memory `Cloud` double for the server tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use breakglass_core::broker::Broker;
use breakglass_core::cloud::{Cloud, CloudError, IssueRequest, IssuedCredentials, Secret};
use breakglass_core::model::{
    AccountId, Catalog, IncidentId, PlaybookId, RoleArn, RoleName, Username,
};
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

pub const FAKE_ROLE_ID: &str = "AROAFAKEROLEID0000001";

/// The ARN of the `investigate` playbook's role.
pub const ANALYST: &str = "arn:aws:iam::111111111111:role/incident-response/SecurityAnalyst";

/// An in-memory cloud: sessions are minted with the clock's time, inline policies kept in
/// a map keyed by (role ARN, policy name), every call counted.
#[derive(Debug)]
pub struct FakeCloud {
    pub clock: Arc<ManualClock>,
    pub policies: Mutex<BTreeMap<(String, String), String>>,
    pub minted: Mutex<u32>,
    pub last: Mutex<Option<IssueRequest>>,
}

impl FakeCloud {
    pub fn new(clock: &Arc<ManualClock>) -> Self {
        Self {
            clock: Arc::clone(clock),
            policies: Mutex::new(BTreeMap::new()),
            minted: Mutex::new(0),
            last: Mutex::new(None),
        }
    }

    /// The policy `name` of role `role` (an ARN).
    pub fn policy(&self, role: &str, name: &str) -> Option<String> {
        self.policies
            .lock()
            .unwrap()
            .get(&(role.to_owned(), name.to_owned()))
            .cloned()
    }
}

impl Cloud for FakeCloud {
    async fn issue(&self, r: &IssueRequest) -> Result<IssuedCredentials, CloudError> {
        *self.last.lock().unwrap() = Some(r.clone());
        let mut n = self.minted.lock().unwrap();
        *n += 1;
        Ok(IssuedCredentials {
            access_key_id: format!("ASIAFAKE{:012}", *n),
            secret_access_key: Secret::new("secret"),
            session_token: Secret::new(format!("token-{n}")),
            expiration: self.clock.now() + r.duration,
            assumed_role_arn: format!(
                "arn:aws:sts::111111111111:assumed-role/SecurityAnalyst/{}",
                r.grant
            ),
            assumed_role_id: format!("{FAKE_ROLE_ID}:{}", r.grant),
        })
    }

    async fn role_id(&self, _role: &RoleArn) -> Result<String, CloudError> {
        Ok(FAKE_ROLE_ID.to_owned())
    }

    async fn inline_policy_names(&self, role: &RoleArn) -> Result<Vec<String>, CloudError> {
        Ok(self
            .policies
            .lock()
            .unwrap()
            .keys()
            .filter(|(r, _)| r == role.as_str())
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn inline_policy(
        &self,
        role: &RoleArn,
        name: &str,
    ) -> Result<Option<String>, CloudError> {
        Ok(self.policy(role.as_str(), name))
    }

    async fn put_inline_policy(
        &self,
        role: &RoleArn,
        name: &str,
        doc: &str,
    ) -> Result<(), CloudError> {
        self.policies
            .lock()
            .unwrap()
            .insert((role.to_string(), name.to_owned()), doc.to_owned());
        Ok(())
    }

    async fn delete_inline_policy(&self, role: &RoleArn, name: &str) -> Result<(), CloudError> {
        self.policies
            .lock()
            .unwrap()
            .remove(&(role.to_string(), name.to_owned()));
        Ok(())
    }

    async fn console_url(
        &self,
        _c: &IssuedCredentials,
        _d: Duration,
        _dest: &str,
    ) -> Result<Secret, CloudError> {
        Ok(Secret::new(format!(
            "https://signin.example/?SessionDuration={}&Destination={_dest}",
            _d.whole_seconds()
        )))
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
