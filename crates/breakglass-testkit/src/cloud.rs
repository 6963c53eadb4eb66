//! One in-memory double of the `Cloud` port (STS and IAM), for every crate's tests and
//! benchmarks: the server's tests, the load test and the binary's tests use this one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use breakglass_core::cloud::{Cloud, CloudError, IssueRequest, IssuedCredentials, Secret};
use breakglass_core::model::RoleArn;
use breakglass_core::ports::Clock;
use time::Duration;

/// The role id every role has in the fake cloud.
pub const FAKE_ROLE_ID: &str = "AROAFAKEROLEID0000001";

/// An in-memory cloud: sessions are minted with the clock's time, inline policies kept in
/// a map keyed by (role ARN, policy name), every call counted. An unreachable one
/// ([`FakeCloud::unreachable`]) fails every call, for tests and benchmarks in which any
/// call to the cloud is a bug.
pub struct FakeCloud {
    /// The clock credentials are minted by.
    pub clock: Arc<dyn Clock>,
    /// Inline policies by (role ARN, policy name).
    pub policies: Mutex<BTreeMap<(String, String), String>>,
    /// How many credentials were minted.
    pub minted: Mutex<u32>,
    /// The last `AssumeRole` asked for.
    pub last: Mutex<Option<IssueRequest>>,
    /// Every call fails with `Unavailable`.
    unreachable: bool,
    /// Roles (ARNs) on which writes of inline policies are refused as IAM refuses a
    /// principal without the permission, while reads still work: a revoker that lost its
    /// rights there.
    pub denied_roles: Mutex<std::collections::BTreeSet<String>>,
    /// While set, writes of inline policies are accepted but not kept: a write that does not
    /// hold (what a read-back must catch).
    pub drop_writes: std::sync::atomic::AtomicBool,
    /// When set, the next inline-policy write stops at this gate (see [`PutGate`]).
    pub put_gate: Mutex<Option<Arc<PutGate>>>,
    /// While set, writes of the organisation policy are refused as Organizations refuses a
    /// principal without the permission.
    pub organization_denied: std::sync::atomic::AtomicBool,
    /// While set, the console sign-in endpoint cannot be reached.
    pub sign_in_unreachable: std::sync::atomic::AtomicBool,
    /// The organisation's revoked-responders policy, when the broker keeps one
    /// ([`FakeCloud::with_organization_policy`]).
    pub organization: Mutex<Option<String>>,
}

/// A gate one inline-policy write stops at, so a test can interleave two writers
/// deterministically: the write has read what it writes; it signals `arrived` and waits for
/// `release` before writing.
#[derive(Debug, Default)]
pub struct PutGate {
    /// Signalled when the write reaches the gate.
    pub arrived: tokio::sync::Notify,
    /// Signalled by the test to let the write through.
    pub release: tokio::sync::Notify,
}

impl std::fmt::Debug for FakeCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCloud")
            .field("minted", &*Self::lock(&self.minted))
            .field("unreachable", &self.unreachable)
            .finish_non_exhaustive()
    }
}

impl FakeCloud {
    /// A cloud that mints credentials by `clock`.
    pub fn new<C: Clock + 'static>(clock: &Arc<C>) -> Self {
        let clock: Arc<dyn Clock> = Arc::<C>::clone(clock);
        Self {
            clock,
            policies: Mutex::new(BTreeMap::new()),
            minted: Mutex::new(0),
            last: Mutex::new(None),
            unreachable: false,
            denied_roles: Mutex::new(std::collections::BTreeSet::new()),
            drop_writes: std::sync::atomic::AtomicBool::new(false),
            put_gate: Mutex::new(None),
            organization_denied: std::sync::atomic::AtomicBool::new(false),
            sign_in_unreachable: std::sync::atomic::AtomicBool::new(false),
            organization: Mutex::new(None),
        }
    }

    /// A cloud whose organisation keeps a revoked-responders policy, holding `document`
    /// (what `breakglass apply` created).
    pub fn with_organization_policy(self, document: impl Into<String>) -> Self {
        *Self::lock(&self.organization) = Some(document.into());
        self
    }

    /// A cloud every call to which fails.
    pub fn unreachable<C: Clock + 'static>(clock: &Arc<C>) -> Self {
        Self {
            unreachable: true,
            ..Self::new(clock)
        }
    }

    fn reachable(&self) -> Result<(), CloudError> {
        if self.unreachable {
            Err(CloudError::Unavailable(
                "the fake cloud is unreachable".into(),
            ))
        } else {
            Ok(())
        }
    }

    fn writable(&self, role: &RoleArn) -> Result<(), CloudError> {
        if Self::lock(&self.denied_roles).contains(role.as_str()) {
            Err(CloudError::AccessDenied(
                "AccessDenied: not authorized to perform iam:PutRolePolicy".into(),
            ))
        } else {
            Ok(())
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The policy `name` of role `role` (an ARN).
    pub fn policy(&self, role: &str, name: &str) -> Option<String> {
        Self::lock(&self.policies)
            .get(&(role.to_owned(), name.to_owned()))
            .cloned()
    }
}

impl Cloud for FakeCloud {
    async fn issue(&self, r: &IssueRequest) -> Result<IssuedCredentials, CloudError> {
        self.reachable()?;
        *Self::lock(&self.last) = Some(r.clone());
        let mut n = Self::lock(&self.minted);
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

    async fn caller_identity(&self, c: &IssuedCredentials) -> Result<String, CloudError> {
        self.reachable()?;
        Ok(c.assumed_role_arn.clone())
    }

    async fn role_id(&self, _role: &RoleArn) -> Result<String, CloudError> {
        self.reachable()?;
        Ok(FAKE_ROLE_ID.to_owned())
    }

    async fn inline_policy_names(&self, role: &RoleArn) -> Result<Vec<String>, CloudError> {
        self.reachable()?;
        Ok(Self::lock(&self.policies)
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
        self.reachable()?;
        Ok(self.policy(role.as_str(), name))
    }

    async fn put_inline_policy(
        &self,
        role: &RoleArn,
        name: &str,
        doc: &str,
    ) -> Result<(), CloudError> {
        self.reachable()?;
        let gate = Self::lock(&self.put_gate).take();
        if let Some(gate) = gate {
            gate.arrived.notify_one();
            gate.release.notified().await;
        }
        self.writable(role)?;
        if !self.drop_writes.load(std::sync::atomic::Ordering::SeqCst) {
            Self::lock(&self.policies).insert((role.to_string(), name.to_owned()), doc.to_owned());
        }
        Ok(())
    }

    async fn delete_inline_policy(&self, role: &RoleArn, name: &str) -> Result<(), CloudError> {
        self.reachable()?;
        self.writable(role)?;
        if !self.drop_writes.load(std::sync::atomic::Ordering::SeqCst) {
            Self::lock(&self.policies).remove(&(role.to_string(), name.to_owned()));
        }
        Ok(())
    }

    async fn console_url(
        &self,
        _c: &IssuedCredentials,
        _d: Duration,
        _dest: &str,
    ) -> Result<Secret, CloudError> {
        self.reachable()?;
        Ok(Secret::new(format!(
            "https://signin.example/?SessionDuration={}&Destination={_dest}",
            _d.whole_seconds()
        )))
    }
    async fn console_sign_in_reachable(&self) -> Result<(), CloudError> {
        self.reachable()?;
        if self
            .sign_in_unreachable
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(CloudError::Unavailable(
                "the sign-in endpoint did not answer".into(),
            ));
        }
        Ok(())
    }
    fn keeps_organization_policy(&self) -> bool {
        Self::lock(&self.organization).is_some()
    }
    async fn organization_policy(&self) -> Result<Option<String>, CloudError> {
        self.reachable()?;
        Ok(Self::lock(&self.organization).clone())
    }
    async fn put_organization_policy(&self, document: &str) -> Result<(), CloudError> {
        self.reachable()?;
        if self
            .organization_denied
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(CloudError::AccessDenied(
                "AccessDenied: not authorized to perform organizations:UpdatePolicy".into(),
            ));
        }
        let mut current = Self::lock(&self.organization);
        match current.as_mut() {
            Some(doc) => {
                *doc = document.to_owned();
                Ok(())
            }
            None => Err(CloudError::NotFound("no organisation policy".into())),
        }
    }
}
