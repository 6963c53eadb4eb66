//! The broker's side of an SSO sign-in, once the identity provider's ID token has passed its
//! checks ([`super::oidc`]): the refusal or the sign-in is audited, the local `users` row is
//! created on first use, and a broker token is minted.
//!
//! The token is marked as having passed a second factor: the identity provider is
//! responsible for the person's MFA. Step-ups (approvals, break-glass) still ask for the
//! broker's own TOTP.

use breakglass_core::accounts::AuthWrite;
use breakglass_core::audit::Actor;
use breakglass_core::audit::events::{SsoSignInRefused, SsoSignedIn, UserCreated};
use breakglass_core::model::Username;
use breakglass_core::ports::{AuthStore, StoreError};

use super::oidc::{Flow, Identity, Refusal};
use super::{Auth, AuthError, DEFAULT_TOKEN_TTL, NewToken, password};

impl<S: AuthStore> Auth<S> {
    /// Signs in the person `identity` names, whom [`super::oidc::Oidc::map`] mapped to
    /// `mapped`: a refusal (no such responder, no shared group) and a disabled account are
    /// audited and refused; otherwise the user is created if this is their first sign-in and
    /// gets a token of [`DEFAULT_TOKEN_TTL`] (12 hours at most), audited in the same commit.
    pub async fn sso_sign_in(
        &self,
        identity: &Identity,
        mapped: Result<Username, Refusal>,
        flow: Flow,
        token_name: Option<&str>,
        address: &str,
    ) -> Result<NewToken, AuthError> {
        let who = match mapped {
            Ok(who) => who,
            Err(refusal) => {
                return Err(self
                    .refuse_sso(identity, refusal.username, flow, address, refusal.reason)
                    .await);
            }
        };
        let existing = self.store.user(who.as_str()).await?;
        if existing.as_ref().is_some_and(|u| u.disabled_at.is_some()) {
            let audited = self
                .refuse_sso(
                    identity,
                    Some(who.clone()),
                    flow,
                    address,
                    "account disabled".to_owned(),
                )
                .await;
            return Err(match audited {
                AuthError::SsoRefused(_) => AuthError::Disabled(who.to_string()),
                failed => failed,
            });
        }
        let mut writes = Vec::new();
        let mut entries = Vec::new();
        if existing.is_none() {
            // `api_tokens` references `users`: an SSO-only person gets a row whose password
            // is a random one nobody ever sees, so the password door stays shut for them.
            let secret = crate::random::random_hex(32);
            // Through the argon2 slots, like every other hash: a burst of first SSO
            // sign-ins queues instead of taking every blocking thread.
            let hash = self
                .argon2(move || password::hash(&secret))
                .await?
                .map_err(|e| AuthError::Invalid(e.to_string()))?;
            writes.push(AuthWrite::InsertUser {
                username: who.to_string(),
                password_hash: hash,
                admin: false,
                created_at: self.now(),
            });
            entries.push(self.entry(
                Actor::System,
                UserCreated {
                    username: who.clone(),
                    admin: false,
                },
            ));
        }
        let name = token_name.map_or_else(|| format!("sso {}", flow.as_str()), str::to_owned);
        let (write, token, created) =
            self.new_token(&who, &name, Some(DEFAULT_TOKEN_TTL), true, false)?;
        writes.push(write);
        entries.push(self.entry(
            Actor::User(who.clone()),
            SsoSignedIn {
                username: who.clone(),
                issuer: identity.issuer.clone(),
                subject: identity.subject.clone(),
                email: identity.email.clone(),
                flow: flow.as_str().to_owned(),
                address: address.to_owned(),
            },
        ));
        entries.push(self.entry(Actor::User(who.clone()), created));
        match self.store.auth_commit(writes, entries).await {
            Ok(_) => Ok(token),
            // Two first sign-ins at once: the other created the row; sign in as an existing user.
            Err(StoreError::Duplicate(_)) if existing.is_none() => {
                Box::pin(self.sso_sign_in(identity, Ok(who), flow, Some(&name), address)).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Audits a refused SSO sign-in and returns the error to answer with (a failing audit
    /// write is the error then).
    async fn refuse_sso(
        &self,
        identity: &Identity,
        username: Option<Username>,
        flow: Flow,
        address: &str,
        reason: String,
    ) -> AuthError {
        let event = SsoSignInRefused {
            username,
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            flow: flow.as_str().to_owned(),
            address: address.to_owned(),
            reason: reason.clone(),
        };
        match self.audit_only(self.entry(Actor::System, event)).await {
            Ok(()) => AuthError::SsoRefused(reason),
            Err(e) => e,
        }
    }
}
