//! Authentication: local users with argon2id passwords, TOTP step-up, personal API tokens,
//! login rate limiting. Every event (login succeeded or failed, token created or revoked,
//! TOTP enrolled, verified or refused) is appended to the audit chain in the same
//! transaction as the change it describes; a refusal is audited before it is returned.
//!
//! Sign-in failures slow down the next attempt ([`limit`], in memory); a sign-in held back
//! only by the per-user or per-address limit is let through by a valid second factor, which
//! is checked before the password ([`Auth::login_with_totp`]). Wrong second-factor codes
//! back off per user in the store, across restarts and replicas ([`second_factor`]).
//! Password hashing and verification (argon2, tens of milliseconds of CPU each) run on the
//! blocking pool at most one per CPU at a time: a flood of sign-ins queues instead of
//! taking every blocking thread.
//!
//! A TOTP step-up that authorises a broker change (an approval, a break-glass activation)
//! is checked here ([`Auth::check_totp`]) and spent by the broker in the change's own commit,
//! with its `totp_verified` record: one write transaction, and a refused change leaves the
//! code unspent. [`Auth::verify_totp`] spends a code on its own (replacing an authenticator).

mod chat;
mod lifecycle;
pub use lifecycle::{INVITATION_TTL, Invitation};
pub mod passkey;
pub use passkey::{Answer, Challenge, RelyingParty};
pub mod limit;
pub mod oidc;
pub mod password;
pub mod seal;
pub mod second_factor;
mod sso;
pub mod totp;

use std::sync::Arc;

use breakglass_config::LocalAccounts;
use breakglass_core::accounts::{AuthWrite, SECOND_FACTOR_FREE_FAILURES, TokenRecord, UserRecord};
use breakglass_core::app::Caller;
use breakglass_core::audit::events::{
    LocalSignIn, LoginFailed, LoginSucceeded, TokenCreated, TokenRevoked, TotpFailed, UserCreated,
};
use breakglass_core::audit::{Actor, AuditEntry, AuditEvent};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::cloud::Secret;
use breakglass_core::model::Username;
use breakglass_core::ports::{AuthStore, Clock, StepUp, StoreError};
use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;

use crate::random::random_hex;
use limit::{Limited, Limits, RateLimiter};
use seal::SealKey;
use second_factor::Turns;

/// The longest lifetime of an API token: a password sign-in lasts a working shift at most,
/// and a token made from another never outlives it.
pub const MAX_TOKEN_TTL: Duration = Duration::hours(12);
/// The lifetime of the token `login` issues when none is asked for.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::hours(12);
/// The prefix of every API token (so leaked tokens are easy to grep for).
pub const TOKEN_PREFIX: &str = "bgt_";

/// Why authentication failed. Messages say what to do next and never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong username or password (deliberately not saying which).
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failures recently: the next attempt must wait.
    #[error(
        "too many failed sign-ins; try again after {0} (with a TOTP authenticator enrolled, a current code from it lets you in now)"
    )]
    RateLimited(OffsetDateTime),
    /// Too many wrong TOTP codes in a row: codes are refused for a while.
    #[error("too many wrong TOTP codes; the TOTP step-up is locked until {0}")]
    TotpLocked(OffsetDateTime),
    /// No, malformed, unknown or revoked token.
    #[error("missing or invalid API token; run `breakglass login`")]
    BadToken,
    /// The token expired.
    #[error("the API token expired at {0}; run `breakglass login` for a new one")]
    TokenExpired(OffsetDateTime),
    /// The TOTP code was wrong or already used.
    #[error("the TOTP code is wrong or was already used; wait for the next code and retry")]
    BadTotp,
    /// A step-up was asked for with an empty TOTP code field.
    #[error(
        "the TOTP code (field `totp`) is required: enter the current 6-digit code from your authenticator app"
    )]
    TotpMissing,
    /// The user has an authenticator enrolled but gave no code at sign-in.
    #[error(
        "`{0}` has a TOTP authenticator enrolled: sign in with a current code from it as well (field `totp`, `breakglass login --totp CODE`)"
    )]
    TotpRequired(String),
    /// The token was minted without a second factor: it may only enrol one.
    #[error(
        "`{0}` has no second factor yet: enrol a TOTP authenticator (`breakglass totp enroll`, then `breakglass totp confirm CODE`) before doing anything else"
    )]
    EnrolFirst(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Local accounts are off: everyone signs in through the identity provider.
    #[error(
        "local accounts are off on this broker: sign in with SSO (the console's \"Sign in with SSO\", `breakglass login --sso`)"
    )]
    LocalOff,
    /// The identity provider vouched for someone the broker refuses (no such responder, no
    /// shared group); the reason says which.
    #[error("{0}")]
    SsoRefused(String),
    /// Passkeys are not configured on this broker.
    #[error(
        "passkeys are not configured on this broker: an administrator sets `[auth.passkeys] origin` to the console's URL"
    )]
    PasskeysOff,
    /// A passkey answer was refused (the reason says why).
    #[error("the passkey answer was refused: {0}; try again")]
    BadPasskey(String),
    /// The user has no passkey enrolled.
    #[error("`{0}` has no passkey enrolled: add one on the console's account page")]
    NoPasskey(String),
    /// The user's second factor is a passkey, and the password alone was given.
    #[error(
        "`{0}` signs in with a passkey: use the console's sign-in page (it asks for the passkey after the password), or `breakglass login --sso`"
    )]
    PasskeyRequired(String),
    /// The account is disabled.
    #[error("the account `{0}` is disabled; ask a broker administrator")]
    Disabled(String),
    /// A chat account no broker user has linked.
    #[error(
        "this {0} account is not linked to a breakglass user: run `/breakglass link` in {0} and confirm the link in the console"
    )]
    ChatUnlinked(String),
    /// The user has no authenticator enrolled.
    #[error("`{0}` has no TOTP authenticator enrolled; run `breakglass totp enroll` first")]
    NoTotp(String),
    /// Bad input (username, password policy, token lifetime, ...).
    #[error("{0}")]
    Invalid(String),
    /// No such user or token.
    #[error("{0}")]
    NotFound(String),
    /// The name is taken.
    #[error("{0}")]
    Exists(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored seed does not decrypt with the configured key.
    #[error(transparent)]
    Seal(#[from] seal::SealError),
}

/// An authenticated caller. Its `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who.
    pub username: Username,
    /// May manage users.
    pub admin: bool,
    /// The token used.
    pub token: String,
    /// When that token expires.
    pub expires_at: OffsetDateTime,
    /// Whether the token's sign-in passed a second factor; without one the caller may only
    /// enrol an authenticator ([`Principal::require_second_factor`]).
    pub second_factor: bool,
    /// Whether the token came from a local sign-in under `local = "break-glass-only"`.
    pub break_glass_only: bool,
    /// The caller's TOTP authenticator as read with the token, for a step-up in the same
    /// request ([`Auth::check_totp_for`]) without reading the user again.
    pub(crate) totp: TotpOnFile,
    /// Whether the caller has a passkey (read with the token).
    pub passkeys: bool,
    /// The chat account the caller acts through, for a caller a chat platform vouched for
    /// (see `chat`); such a caller holds no token (`token` is empty).
    pub via: Option<breakglass_core::chat::ChatOrigin>,
}

impl Principal {
    /// Whether the caller has a TOTP authenticator.
    pub fn has_totp(&self) -> bool {
        self.totp.sealed.is_some()
    }

    /// Refuses a caller whose token was minted without a second factor.
    pub fn require_second_factor(&self) -> Result<(), AuthError> {
        if self.second_factor {
            Ok(())
        } else {
            Err(AuthError::EnrolFirst(self.username.to_string()))
        }
    }

    /// The caller as the use cases see them.
    pub fn caller(&self) -> Caller {
        Caller {
            username: self.username.clone(),
            admin: self.admin,
            break_glass_only: self.break_glass_only,
            via: self.via.clone(),
        }
    }
}

/// A token lifetime in hours, range-checked before it becomes a `Duration` (which would
/// overflow on absurd values).
pub fn token_ttl(hours: Option<i64>) -> Result<Option<Duration>, AuthError> {
    match hours {
        None => Ok(None),
        Some(h) if (1..=MAX_TOKEN_TTL.whole_hours()).contains(&h) => Ok(Some(Duration::hours(h))),
        Some(h) => Err(AuthError::Invalid(format!(
            "`ttl_hours` is {h}; a token lives 1 to {} hours: sign in again when it expires",
            MAX_TOKEN_TTL.whole_hours(),
        ))),
    }
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("username", &self.username)
            .field("admin", &self.admin)
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("second_factor", &self.second_factor)
            .field("totp", &self.totp)
            .field("passkeys", &self.passkeys)
            .field("via", &self.via)
            .finish()
    }
}

/// A user's TOTP authenticator as stored: the seed sealed by the server, and the last time
/// step accepted. Its `Debug` does not show the sealed seed.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct TotpOnFile {
    sealed: Option<String>,
    last_step: Option<i64>,
}

impl std::fmt::Debug for TotpOnFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpOnFile")
            .field("enrolled", &self.sealed.is_some())
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// A freshly created token: the record and the token itself, shown once.
#[derive(Debug)]
pub struct NewToken {
    /// The stored record.
    pub record: TokenRecord,
    /// The token (`bgt_…`). Give it to the user once; it is not stored.
    pub secret: Secret,
}

/// A TOTP enrolment: the seed, shown once.
#[derive(Debug)]
pub struct Enrolment {
    /// The seed in base32, for manual entry.
    pub secret: Secret,
    /// The `otpauth://` URI (holds the seed).
    pub uri: Secret,
}

/// Wrong TOTP codes a user may enter in a row before each further one locks the step-up
/// for a while, doubling (see [`second_factor`]): six digits and three valid steps give a
/// guesser about 3 in 10^6 per try, so a handful of tries keeps the odds negligible.
pub const TOTP_FAILURES: u32 = SECOND_FACTOR_FREE_FAILURES;

/// The authentication service over the accounts port.
pub struct Auth<S> {
    store: S,
    clock: Arc<dyn Clock>,
    key: SealKey,
    limiter: RateLimiter,
    /// One slot per CPU for argon2 work.
    argon2_slots: Arc<Semaphore>,
    /// Second-factor checks of one user, one at a time in this process.
    turns: Turns,
    decoy: String,
    issuer: String,
    /// What local accounts may do.
    local: LocalAccounts,
    /// Whether an identity provider is the way in (every local sign-in then alerts).
    sso: bool,
    /// The WebAuthn relying party, when passkeys are configured.
    passkeys: Option<RelyingParty>,
}

impl<S> std::fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

fn token_hash(token: &str) -> String {
    Sha256Digest::of(token.as_bytes()).to_hex()
}

/// A broker user's name: a valid username that is not one of the drill identities (a person
/// holding one could act on drill requests).
fn username(name: &str) -> Result<Username, AuthError> {
    if breakglass_core::drill::is_drill_identity(name) {
        return Err(AuthError::Invalid(format!(
            "username `{name}` starts with `{}`, which is reserved for the broker's drill identities",
            breakglass_core::drill::IDENTITY_PREFIX
        )));
    }
    Username::new(name).map_err(|e| AuthError::Invalid(e.to_string()))
}

impl<S: AuthStore> Auth<S> {
    /// The service over `store`, sealing TOTP seeds with `key`.
    pub fn new(store: S, clock: Arc<dyn Clock>, key: SealKey, limits: Limits) -> Self {
        Self {
            store,
            clock,
            key,
            limiter: RateLimiter::new(limits),
            argon2_slots: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            )),
            turns: Turns::default(),
            decoy: password::decoy_hash(),
            issuer: "breakglass".to_owned(),
            local: LocalAccounts::All,
            sso: false,
            passkeys: None,
        }
    }

    /// The service with passkeys accepted for relying party `rp` (`[auth.passkeys]`).
    #[must_use]
    pub fn with_passkeys(mut self, rp: RelyingParty) -> Self {
        self.passkeys = Some(rp);
        self
    }

    /// The service with local accounts limited to `local`; with `sso` (an identity provider
    /// configured), every local sign-in is audited as `local_sign_in` and alerts the security
    /// team, in the transaction that mints its token.
    #[must_use]
    pub fn with_local_accounts(mut self, local: LocalAccounts, sso: bool) -> Self {
        self.local = local;
        self.sso = sso;
        self
    }

    fn now(&self) -> OffsetDateTime {
        self.clock
            .now()
            .to_offset(time::UtcOffset::UTC)
            .truncate_to_microsecond()
    }

    fn entry(&self, actor: Actor, event: impl Into<AuditEvent>) -> AuditEntry {
        AuditEntry {
            at: self.now(),
            actor,
            request_version: None,
            event: event.into(),
        }
    }

    async fn audit_only(&self, entry: AuditEntry) -> Result<(), AuthError> {
        self.store.auth_commit(Vec::new(), vec![entry]).await?;
        Ok(())
    }

    /// Runs argon2 `work` on the blocking pool once one of the per-CPU slots is free. The
    /// slot is held until the work ends, even if the caller stops waiting for it.
    async fn argon2<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let slot = Arc::clone(&self.argon2_slots)
            .acquire_owned()
            .await
            .map_err(|e| AuthError::Invalid(format!("password hashing stopped: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(slot);
            result
        })
        .await
        .map_err(|e| AuthError::Invalid(format!("password hashing stopped: {e}")))
    }

    /// Creates a user. `by` is the admin doing it (`None`: the command line bootstrap).
    pub async fn add_user(
        &self,
        name: &str,
        password: &str,
        admin: bool,
        by: Option<&Username>,
    ) -> Result<UserRecord, AuthError> {
        let user = username(name)?;
        let text = password.to_owned();
        let hash = self
            .argon2(move || password::hash(&text))
            .await?
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let now = self.now();
        let actor = by.map_or(Actor::System, |u| Actor::User(u.clone()));
        let record = UserRecord {
            username: user.to_string(),
            password_hash: hash.clone(),
            admin,
            totp_seed: None,
            totp_last_step: None,
            totp_pending: None,
            created_at: now,
            disabled_at: None,
            passkeys: false,
        };
        let write = AuthWrite::InsertUser {
            username: user.to_string(),
            password_hash: hash,
            admin,
            created_at: now,
        };
        let event = UserCreated {
            username: user.clone(),
            admin,
        };
        match self
            .store
            .auth_commit(vec![write], vec![self.entry(actor, event)])
            .await
        {
            Ok(_) => Ok(record),
            Err(StoreError::Duplicate(_)) => {
                Err(AuthError::Exists(format!("user `{user}` already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every user.
    pub async fn users(&self) -> Result<Vec<UserRecord>, AuthError> {
        Ok(self.store.users().await?)
    }

    /// Checks a password and issues an API token named `token_name` for `ttl` (at most
    /// [`MAX_TOKEN_TTL`]). A user with a TOTP authenticator enrolled must also give a current
    /// code from it: a password alone never yields a token of an enrolled user. The code is
    /// checked, audited and rate-limited as any step-up; no token is issued unless both
    /// factors pass. A user with no authenticator gets a token that may only enrol one.
    /// Failures are counted per user and per `address`, and audited; a disabled account is
    /// refused once its password is right.
    ///
    /// A sign-in held back only by the per-user or per-address limit (a guesser elsewhere,
    /// or a neighbour behind the same proxy) goes ahead when it carries a valid code: the
    /// code is checked and spent first, so a guesser without it learns nothing about the
    /// password, and a wrong one counts against the user's second-factor budget.
    pub async fn login_with_totp(
        &self,
        name: &str,
        password_text: &str,
        code: Option<&str>,
        address: &str,
        token_name: &str,
        ttl: Option<Duration>,
    ) -> Result<NewToken, AuthError> {
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        let typed: String = name.chars().take(64).collect();
        if self.local == LocalAccounts::Off {
            return Err(self.refuse_local_off(typed, address).await);
        }
        // The user as read to check the password: the checks below use the same read.
        let (user, code_spent) = match self.limiter.begin(&typed, address, self.now(), false) {
            Ok(()) => (
                self.verify_password(name, &typed, password_text, address)
                    .await?,
                false,
            ),
            Err(limited) => (
                self.past_the_limit(name, &typed, password_text, code, address, limited)
                    .await?,
                true,
            ),
        };
        let who = username(&user.username)?;
        if user.disabled_at.is_some() {
            let event = LoginFailed {
                username: who.to_string(),
                address: address.to_owned(),
                reason: "account disabled".to_owned(),
            };
            self.audit_only(self.entry(Actor::System, event)).await?;
            return Err(AuthError::Disabled(who.to_string()));
        }
        // Past the limit, the code was checked and spent before the password.
        // A passkey holder who gives no code signs in with the passkey (`PasskeyRequired`
        // starts that), whether or not they also have a TOTP authenticator.
        let totp = user.totp_seed.is_some();
        if (!totp || code.is_none()) && !code_spent && user.passkeys {
            // A passkey is the second factor: the password alone mints nothing.
            let event = LoginFailed {
                username: who.to_string(),
                address: address.to_owned(),
                reason: "right password, no second factor".to_owned(),
            };
            self.audit_only(self.entry(Actor::System, event)).await?;
            return Err(AuthError::PasskeyRequired(who.to_string()));
        }
        let second_factor = totp;
        if second_factor && !code_spent {
            match code {
                Some(code) => self.verify_totp(&who, code, "sign in").await?,
                None => {
                    // The password was right: recorded, so a sprayer who found it is seen.
                    let event = LoginFailed {
                        username: who.to_string(),
                        address: address.to_owned(),
                        reason: "right password, no second factor".to_owned(),
                    };
                    self.audit_only(self.entry(Actor::System, event)).await?;
                    return Err(AuthError::TotpRequired(who.to_string()));
                }
            }
        }
        self.issue_login_token(who, address, token_name, ttl, second_factor)
            .await
    }

    /// A sign-in that `limited` holds back: refused, unless only the per-user or
    /// per-address limit holds it and it carries a right code from the user's authenticator;
    /// then the code is spent and the password checked, counted under every key.
    async fn past_the_limit(
        &self,
        name: &str,
        typed: &str,
        password_text: &str,
        code: Option<&str>,
        address: &str,
        limited: Limited,
    ) -> Result<UserRecord, AuthError> {
        let Some(code) = code.filter(|_| limited.second_factor_passes) else {
            return Err(self
                .refuse_limited(typed, address, limited.until, "rate limited")
                .await);
        };
        let user = match Username::new(name) {
            Ok(u) => self.store.user(u.as_str()).await?,
            Err(_) => None,
        };
        let Some(who) = user
            .filter(|u| u.totp_seed.is_some())
            .and_then(|u| Username::new(&u.username).ok())
        else {
            return Err(self
                .refuse_limited(typed, address, limited.until, "rate limited")
                .await);
        };
        match self
            .verify_totp(&who, code, "sign in past the rate limit")
            .await
        {
            Ok(()) => {}
            Err(e @ (AuthError::Store(_) | AuthError::Seal(_))) => return Err(e),
            Err(AuthError::TotpLocked(until)) => {
                let until = until.max(limited.until);
                return Err(self
                    .refuse_limited(typed, address, until, "rate limited; second factor locked")
                    .await);
            }
            Err(_) => {
                return Err(self
                    .refuse_limited(
                        typed,
                        address,
                        limited.until,
                        "rate limited; wrong second factor",
                    )
                    .await);
            }
        }
        // Only the pair's wait still holds a sign-in with a valid second factor.
        if let Err(pair) = self.limiter.begin(typed, address, self.now(), true) {
            return Err(self
                .refuse_limited(typed, address, pair.until, "rate limited")
                .await);
        }
        self.verify_password(name, typed, password_text, address)
            .await
    }

    /// Audits a sign-in refused by the rate limit and returns the error to show.
    async fn refuse_limited(
        &self,
        typed: &str,
        address: &str,
        until: OffsetDateTime,
        reason: &str,
    ) -> AuthError {
        let event = LoginFailed {
            username: typed.to_owned(),
            address: address.to_owned(),
            reason: reason.to_owned(),
        };
        match self.audit_only(self.entry(Actor::System, event)).await {
            Ok(()) => AuthError::RateLimited(until),
            Err(e) => e,
        }
    }

    /// Audits a local sign-in refused because local accounts are off and returns the error
    /// to show (the store's, if the record cannot be written).
    async fn refuse_local_off(&self, typed: String, address: &str) -> AuthError {
        let event = LoginFailed {
            username: typed,
            address: address.to_owned(),
            reason: "local accounts are off".to_owned(),
        };
        match self.audit_only(self.entry(Actor::System, event)).await {
            Ok(()) => AuthError::LocalOff,
            Err(e) => e,
        }
    }

    /// The first half of a sign-in that will end with a passkey: local accounts must be on,
    /// the attempt within the limits, the password right and the account enabled. Every
    /// refusal is audited.
    async fn first_factor(
        &self,
        name: &str,
        password_text: &str,
        address: &str,
    ) -> Result<UserRecord, AuthError> {
        let typed: String = name.chars().take(64).collect();
        if self.local == LocalAccounts::Off {
            return Err(self.refuse_local_off(typed, address).await);
        }
        if let Err(limited) = self.limiter.begin(&typed, address, self.now(), false) {
            return Err(self
                .refuse_limited(&typed, address, limited.until, "rate limited")
                .await);
        }
        let user = self
            .verify_password(name, &typed, password_text, address)
            .await?;
        if user.disabled_at.is_some() {
            let event = LoginFailed {
                username: user.username.clone(),
                address: address.to_owned(),
                reason: "account disabled".to_owned(),
            };
            self.audit_only(self.entry(Actor::System, event)).await?;
            return Err(AuthError::Disabled(user.username));
        }
        Ok(user)
    }

    /// The user `name` if `password_text` is theirs; failures are rate-limited and audited.
    async fn check_password(
        &self,
        name: &str,
        password_text: &str,
        address: &str,
    ) -> Result<Username, AuthError> {
        let typed: String = name.chars().take(64).collect();
        if let Err(limited) = self.limiter.begin(&typed, address, self.now(), false) {
            return Err(self
                .refuse_limited(&typed, address, limited.until, "rate limited")
                .await);
        }
        let user = self
            .verify_password(name, &typed, password_text, address)
            .await?;
        username(&user.username)
    }

    /// The user `name` (`typed`, as typed and cut) if `password_text` is theirs, as read
    /// for the check, for an attempt the limiter has counted: a success takes the attempt
    /// back, a failure is audited.
    async fn verify_password(
        &self,
        name: &str,
        typed: &str,
        password_text: &str,
        address: &str,
    ) -> Result<UserRecord, AuthError> {
        let user = match Username::new(name) {
            Ok(u) => self.store.user(u.as_str()).await?,
            Err(_) => None,
        };
        // Same work for an unknown name as for a wrong password.
        let (candidate, phc) = (
            password_text.to_owned(),
            user.as_ref()
                .map_or_else(|| self.decoy.clone(), |u| u.password_hash.clone()),
        );
        let matches = self
            .argon2(move || password::verify(&candidate, &phc))
            .await
            .unwrap_or(false);
        let ok = user.is_some() && matches;
        let (Some(user), true) = (user, ok) else {
            let event = LoginFailed {
                username: typed.to_owned(),
                address: address.to_owned(),
                reason: "wrong username or password".to_owned(),
            };
            self.audit_only(self.entry(Actor::System, event)).await?;
            return Err(AuthError::BadCredentials);
        };
        self.limiter.succeeded(typed, address);
        Ok(user)
    }

    async fn issue_login_token(
        &self,
        who: Username,
        address: &str,
        token_name: &str,
        ttl: Option<Duration>,
        second_factor: bool,
    ) -> Result<NewToken, AuthError> {
        self.issue_login_token_with(
            who,
            address,
            token_name,
            ttl,
            second_factor,
            Vec::new(),
            Vec::new(),
        )
        .await
    }

    /// Mints a sign-in's token for `who`, committed with `writes` and `audit` (a passkey
    /// step-up spent, say) in one transaction.
    #[expect(
        clippy::too_many_arguments,
        reason = "one sign-in's parts, each named at the call"
    )]
    async fn issue_login_token_with(
        &self,
        who: Username,
        address: &str,
        token_name: &str,
        ttl: Option<Duration>,
        second_factor: bool,
        mut writes: Vec<AuthWrite>,
        mut audit: Vec<AuditEntry>,
    ) -> Result<NewToken, AuthError> {
        if self.local == LocalAccounts::Off {
            return Err(AuthError::LocalOff);
        }
        let break_glass_only = self.local == LocalAccounts::BreakGlassOnly;
        let (write, token, event) =
            self.new_token(&who, token_name, ttl, second_factor, break_glass_only)?;
        writes.push(write);
        let who_name = who.to_string();
        let login = self.entry(
            Actor::User(who.clone()),
            LoginSucceeded {
                username: who.clone(),
                address: address.to_owned(),
            },
        );
        audit.push(login);
        if self.sso || self.local != LocalAccounts::All {
            audit.push(self.entry(
                Actor::User(who.clone()),
                LocalSignIn {
                    username: who.clone(),
                    address: address.to_owned(),
                    break_glass_only,
                },
            ));
        }
        audit.push(self.entry(Actor::User(who.clone()), event));
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => {}
            // Disabled between the password check and the token (see `INSERT_TOKEN`).
            Err(StoreError::InvalidCommit(_)) => return Err(AuthError::Disabled(who_name)),
            Err(StoreError::StepUpUsed(_)) => {
                return Err(self.replayed_in(&who, passkey::SIGN_IN_PURPOSE, true).await);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(token)
    }

    /// An HMAC-SHA256 key for `purpose` derived from the sealing key, so every replica
    /// agrees on it (the web console signs its CSRF tokens with one).
    pub fn derive_key(&self, purpose: &str) -> ring::hmac::Key {
        self.key.derive(purpose)
    }

    /// The sealing key, for state the broker hands out and must get back unaltered (the
    /// SSO flows' cookie and handle).
    pub(crate) fn seal_key(&self) -> &SealKey {
        &self.key
    }

    /// Whether `who` has a TOTP authenticator enrolled.
    pub async fn totp_enrolled(&self, who: &Username) -> Result<bool, AuthError> {
        Ok(self
            .store
            .user(who.as_str())
            .await?
            .is_some_and(|u| u.totp_seed.is_some()))
    }

    fn new_token(
        &self,
        who: &Username,
        name: &str,
        ttl: Option<Duration>,
        second_factor: bool,
        break_glass_only: bool,
    ) -> Result<(AuthWrite, NewToken, TokenCreated), AuthError> {
        let ttl = ttl.unwrap_or(DEFAULT_TOKEN_TTL);
        if ttl < Duration::minutes(1) || ttl > MAX_TOKEN_TTL {
            return Err(AuthError::Invalid(format!(
                "a token lifetime must be between 1 minute and {} hours, not {ttl}",
                MAX_TOKEN_TTL.whole_hours()
            )));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::Invalid(
                "a token name must be 1 to 100 characters".to_owned(),
            ));
        }
        let now = self.now();
        let secret = format!("{TOKEN_PREFIX}{}", random_hex(32));
        let record = TokenRecord {
            id: format!("tok-{}", random_hex(8)),
            username: who.to_string(),
            name: name.to_owned(),
            sha256: token_hash(&secret),
            created_at: now,
            expires_at: now + ttl,
            revoked_at: None,
            second_factor,
            break_glass_only,
        };
        let event = TokenCreated {
            username: who.clone(),
            token: record.id.clone(),
            name: record.name.clone(),
            expires_at: record.expires_at,
        };
        Ok((
            AuthWrite::InsertToken(record.clone()),
            NewToken {
                record,
                secret: Secret::new(secret),
            },
            event,
        ))
    }

    /// Creates another token for the holder of `caller`'s token. It cannot outlive that
    /// token (without a lifetime it lasts the default or until then, whichever is sooner):
    /// a stolen token must not be able to mint itself a longer life, nor a second factor it
    /// was not minted with. A longer-lived token needs the sign-in again, through
    /// [`Auth::login_with_totp`].
    pub async fn create_token(
        &self,
        caller: &Principal,
        name: &str,
        ttl: Option<Duration>,
    ) -> Result<NewToken, AuthError> {
        let who = &caller.username;
        let left = caller.expires_at - self.now();
        let ttl = match ttl {
            Some(t) if t > left => {
                return Err(AuthError::Invalid(format!(
                    "a token cannot outlive the one that creates it, which expires at {}; sign in again (`breakglass login`) for a longer-lived token",
                    caller
                        .expires_at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                )));
            }
            Some(t) => t,
            None => DEFAULT_TOKEN_TTL.min(left),
        };
        let (write, token, event) = self.new_token(
            who,
            name,
            Some(ttl),
            caller.second_factor,
            caller.break_glass_only,
        )?;
        let entry = self.entry(Actor::User(who.clone()), event);
        match self.store.auth_commit(vec![write], vec![entry]).await {
            Ok(_) => {}
            Err(StoreError::InvalidCommit(_)) => {
                return Err(AuthError::Disabled(who.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(token)
    }

    /// The tokens of `who`.
    pub async fn tokens(&self, who: &Username) -> Result<Vec<TokenRecord>, AuthError> {
        Ok(self.store.tokens(who.as_str()).await?)
    }

    /// Revokes token `id` of `owner`, by `by`.
    pub async fn revoke_token(
        &self,
        owner: &Username,
        id: &str,
        by: &Username,
    ) -> Result<(), AuthError> {
        let write = AuthWrite::RevokeToken {
            id: id.to_owned(),
            username: owner.to_string(),
            at: self.now(),
        };
        let event = TokenRevoked {
            username: owner.clone(),
            token: id.to_owned(),
        };
        match self
            .store
            .auth_commit(
                vec![write],
                vec![self.entry(Actor::User(by.clone()), event)],
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::InvalidCommit(m)) => Err(AuthError::NotFound(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// Who holds bearer token `token`: refused if unknown, revoked or expired, or if its user
    /// is disabled (read with the token, so a disabled user's tokens stop at once).
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(AuthError::BadToken);
        }
        // One read per request: the token and its user's admin flag together.
        let holder = self
            .store
            .token_holder(&token_hash(token))
            .await?
            .ok_or(AuthError::BadToken)?;
        let record = holder.token;
        // First: a disabled account's tokens (also revoked when it was disabled) say why.
        if holder.disabled {
            return Err(AuthError::Disabled(record.username));
        }
        if record.revoked_at.is_some() {
            return Err(AuthError::BadToken);
        }
        if record.expires_at <= self.now() {
            return Err(AuthError::TokenExpired(record.expires_at));
        }
        Ok(Principal {
            username: username(&record.username)?,
            admin: holder.admin,
            token: record.id,
            expires_at: record.expires_at,
            second_factor: record.second_factor,
            break_glass_only: record.break_glass_only,
            totp: TotpOnFile {
                sealed: holder.totp_seed,
                last_step: holder.totp_last_step,
            },
            passkeys: holder.passkeys,
            via: None,
        })
    }

    /// Checks `code` for `who` as a step-up for `purpose` (e.g. `approve r-…`) without
    /// spending it: returns the [`StepUp`] for the broker to spend in the commit of the
    /// change it authorises (which also ends the user's run of wrong codes). Wrong codes
    /// back off per user in the store ([`second_factor`]). Refusals (no authenticator,
    /// locked, no code (not counted as a wrong guess), wrong code, a code already used) are
    /// audited before they are returned. The store makes the final replay check when the
    /// step-up is spent; [`Auth::replayed`] audits a code that lost that race.
    pub async fn check_totp(
        &self,
        who: &Username,
        code: &str,
        purpose: &str,
    ) -> Result<StepUp, AuthError> {
        let user = self
            .store
            .user(who.as_str())
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no user `{who}`")))?;
        let on_file = TotpOnFile {
            sealed: user.totp_seed,
            last_step: user.totp_last_step,
        };
        self.check_totp_on_file(who, &on_file, code, purpose).await
    }

    /// [`Auth::check_totp`] for the authenticated caller `p`, with the authenticator read
    /// together with their token (one read fewer).
    pub async fn check_totp_for(
        &self,
        p: &Principal,
        code: &str,
        purpose: &str,
    ) -> Result<StepUp, AuthError> {
        self.check_totp_on_file(&p.username, &p.totp, code, purpose)
            .await
    }

    async fn check_totp_on_file(
        &self,
        who: &Username,
        on_file: &TotpOnFile,
        code: &str,
        purpose: &str,
    ) -> Result<StepUp, AuthError> {
        let actor = Actor::User(who.clone());
        let failed = |reason: &str| TotpFailed {
            username: who.clone(),
            purpose: purpose.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(sealed) = &on_file.sealed else {
            self.audit_only(self.entry(actor, failed("no authenticator enrolled")))
                .await?;
            return Err(AuthError::NoTotp(who.to_string()));
        };
        let seed = self.key.open(who.as_str(), sealed)?;
        let step = self.matching_step(who, &seed, code, purpose).await?;
        if on_file.last_step.is_some_and(|last| step <= last) {
            return Err(self.replayed(who, purpose).await);
        }
        Ok(StepUp::totp(who.clone(), purpose, step))
    }

    /// The time step `code` is right for under `seed` (`who`'s authenticator, enrolled or
    /// waiting to be), refused while `who`'s run of wrong codes holds the second factor
    /// locked. A wrong code is counted against that run ([`Auth::wrong_code`]); an empty one
    /// is refused (`TotpMissing`) without being counted. Every refusal is audited. One
    /// check of a user at a time, so that parallel guesses each see the run the one before
    /// recorded. Whether the step was used already is the caller's to check.
    pub(crate) async fn matching_step(
        &self,
        who: &Username,
        seed: &[u8],
        code: &str,
        purpose: &str,
    ) -> Result<i64, AuthError> {
        let actor = Actor::User(who.clone());
        let failed = |reason: &str| TotpFailed {
            username: who.clone(),
            purpose: purpose.to_owned(),
            reason: reason.to_owned(),
        };
        let _turn = self.turns.of(who.as_str()).await;
        let now = self.now();
        let run = self.second_factor_run(who).await?;
        if let Some(until) = run.as_ref().and_then(|r| r.locked_at(now)) {
            self.audit_only(self.entry(actor, failed("too many wrong codes")))
                .await?;
            return Err(AuthError::TotpLocked(until));
        }
        if code.trim().is_empty() {
            self.audit_only(self.entry(actor, failed("no code given")))
                .await?;
            return Err(AuthError::TotpMissing);
        }
        match totp::matching_step(seed, code, now.unix_timestamp()) {
            Some(step) => Ok(step),
            None => {
                self.wrong_code(who, purpose, run.as_ref(), now).await?;
                Err(AuthError::BadTotp)
            }
        }
    }

    /// Audits that `who` gave a TOTP code for `purpose` that was already used and returns
    /// the error to show. Fails closed: if the record cannot be written, the store's error
    /// is returned.
    pub async fn replayed(&self, who: &Username, purpose: &str) -> AuthError {
        self.replayed_in(who, purpose, false).await
    }

    /// Audits that `step_up` was already used (the store refused to spend it), as a refused
    /// code or a refused passkey answer, and returns the error to show. Fails closed.
    pub async fn replayed_step_up(&self, step_up: &StepUp) -> AuthError {
        self.replayed_in(&step_up.username, &step_up.purpose, step_up.is_passkey())
            .await
    }

    /// Audits that `who` gave a step-up for `purpose` that was already used: a passkey's
    /// answer if `passkey`, else a TOTP code. Fails closed.
    pub(crate) async fn replayed_in(
        &self,
        who: &Username,
        purpose: &str,
        passkey: bool,
    ) -> AuthError {
        let actor = Actor::User(who.clone());
        match self
            .audit_only(self.entry(
                actor,
                breakglass_core::ports::replayed_event(who, purpose, passkey),
            ))
            .await
        {
            Ok(()) if passkey => {
                AuthError::BadPasskey("that passkey answer was already used".to_owned())
            }
            Ok(()) => AuthError::BadTotp,
            Err(e) => e,
        }
    }

    /// Checks `code` for `who` as a step-up for `purpose` and spends it on its own: for
    /// step-ups that guard no broker change. A code is accepted once; the success or the
    /// failure is audited.
    pub async fn verify_totp(
        &self,
        who: &Username,
        code: &str,
        purpose: &str,
    ) -> Result<(), AuthError> {
        let step_up = self.check_totp(who, code, purpose).await?;
        let (mut writes, mut audit) = (Vec::new(), Vec::new());
        self.spend(&step_up, &mut writes, &mut audit);
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => Ok(()),
            Err(StoreError::StepUpUsed(_)) => Err(self.replayed(who, purpose).await),
            Err(e) => Err(e.into()),
        }
    }
}
