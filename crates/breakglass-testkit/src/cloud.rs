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
        }
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
        Self::lock(&self.policies).insert((role.to_string(), name.to_owned()), doc.to_owned());
        Ok(())
    }

    async fn delete_inline_policy(&self, role: &RoleArn, name: &str) -> Result<(), CloudError> {
        self.reachable()?;
        Self::lock(&self.policies).remove(&(role.to_string(), name.to_owned()));
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
}
