//! Chat identities: which broker user a chat account (a Slack user) acts as.
//!
//! A link is made once, in two halves that each prove one side: the chat platform's signed
//! request vouches for the chat account (`/breakglass link` makes a one-time code, kept as
//! its SHA-256 for ten minutes), and the console vouches for the broker user, who opens
//! the code's page signed in with a second factor and confirms. Never by display name or
//! email. A disabled user's link stops working at once (the user is read with the link),
//! and a chat action that changes anything still asks the user's own second factor.

use breakglass_core::accounts::AuthWrite;
use breakglass_core::audit::Actor;
use breakglass_core::audit::events::{ChatLinkStarted, ChatLinked, ChatUnlinked};
use breakglass_core::chat::{ChatLinkCode, ChatLinkRecord, ChatOrigin, ChatPlatform, LinkOf};
use breakglass_core::ports::{AuthStore, StoreError};
use time::Duration;

use super::{Auth, AuthError, Principal, TotpOnFile, token_hash, username};
use crate::random::random_hex;

/// How long a link code may be confirmed.
pub const LINK_CODE_TTL: Duration = Duration::minutes(10);

impl<S: AuthStore> Auth<S> {
    /// A one-time code that links `origin` to whichever broker user confirms it in the
    /// console within [`LINK_CODE_TTL`]. Only its SHA-256 is stored.
    pub async fn chat_link_code(&self, origin: &ChatOrigin) -> Result<String, AuthError> {
        let code = random_hex(32);
        let now = self.now();
        let write = AuthWrite::InsertChatLinkCode {
            code: ChatLinkCode {
                sha256: token_hash(&code),
                platform: origin.platform.as_str().to_owned(),
                team: origin.team.clone(),
                chat_user: origin.user.clone(),
                expires_at: now + LINK_CODE_TTL,
            },
            now,
        };
        let event = ChatLinkStarted {
            platform: origin.platform.as_str().to_owned(),
            team: origin.team.clone(),
            chat_user: origin.user.clone(),
        };
        self.store
            .auth_commit(vec![write], vec![self.entry(Actor::System, event)])
            .await?;
        Ok(code)
    }

    /// The link waiting for confirmation under `code`: refused when unknown or expired.
    pub async fn chat_link_pending(&self, code: &str) -> Result<ChatLinkCode, AuthError> {
        let pending = self
            .store
            .chat_link_code(&token_hash(code))
            .await?
            .filter(|c| c.expires_at > self.now())
            .ok_or_else(|| {
                AuthError::NotFound(
                    "this link is unknown, used already or expired: run `/breakglass link` again"
                        .to_owned(),
                )
            })?;
        Ok(pending)
    }

    /// The purpose a link's step-up is checked for: exactly that chat account.
    pub fn chat_link_purpose(pending: &ChatLinkCode) -> String {
        format!(
            "link {} account {} in {}",
            pending.platform, pending.chat_user, pending.team
        )
    }

    /// Links the chat account `code` was made for to `p`, who must be signed in with a
    /// second factor and with full access (not a break-glass-only local sign-in, not a chat
    /// identity), and prove it again with `answer` (a TOTP code or a passkey, checked for
    /// [`Auth::chat_link_purpose`] and spent in the link's own commit), so a link sent to
    /// someone else cannot be confirmed in one click. The code works once; an existing link
    /// of that chat account or of `p` is never replaced (it is removed first). Audited, and
    /// `p` and the security team are told.
    pub async fn chat_link(
        &self,
        p: &Principal,
        code: &str,
        answer: super::Answer<'_>,
    ) -> Result<ChatLinkCode, AuthError> {
        p.require_second_factor()?;
        if p.break_glass_only || p.via.is_some() {
            return Err(AuthError::Forbidden(
                "link a chat account from a console session signed in with SSO (or a full local account)".to_owned(),
            ));
        }
        let pending = self.chat_link_pending(code).await?;
        let step_up = self
            .check_step_up_for(p, answer, &Self::chat_link_purpose(&pending))
            .await?;
        let write = AuthWrite::LinkChat {
            sha256: pending.sha256.clone(),
            username: p.username.to_string(),
            at: self.now(),
        };
        let event = ChatLinked {
            username: p.username.clone(),
            platform: pending.platform.clone(),
            team: pending.team.clone(),
            chat_user: pending.chat_user.clone(),
        };
        let (mut writes, mut audit) = (
            vec![write],
            vec![self.entry(Actor::User(p.username.clone()), event)],
        );
        self.spend(&step_up, &mut writes, &mut audit);
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => Ok(pending),
            Err(StoreError::InvalidCommit(m)) => Err(AuthError::Invalid(m)),
            Err(StoreError::StepUpUsed(_)) => Err(self.replayed_step_up(&step_up).await),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `p`'s link on `platform`. Audited.
    pub async fn chat_unlink(
        &self,
        p: &Principal,
        platform: ChatPlatform,
    ) -> Result<(), AuthError> {
        let link = self
            .linked(platform, LinkOf::User(p.username.as_str()))
            .await?
            .ok_or_else(|| {
                AuthError::NotFound(format!("`{}` has no {platform} account linked", p.username))
            })?;
        let write = AuthWrite::UnlinkChat {
            platform: platform.as_str().to_owned(),
            username: p.username.to_string(),
        };
        let event = ChatUnlinked {
            username: p.username.clone(),
            platform: link.platform,
            team: link.team,
            chat_user: link.chat_user,
        };
        match self
            .store
            .auth_commit(
                vec![write],
                vec![self.entry(Actor::User(p.username.clone()), event)],
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::InvalidCommit(m)) => Err(AuthError::NotFound(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// The one link on `platform` that `of` names, if any.
    pub async fn linked(
        &self,
        platform: ChatPlatform,
        of: LinkOf<'_>,
    ) -> Result<Option<ChatLinkRecord>, AuthError> {
        Ok(self.store.chat_link(platform.as_str(), of).await?)
    }

    /// Every link on `platform`.
    pub async fn chat_links(
        &self,
        platform: ChatPlatform,
    ) -> Result<Vec<ChatLinkRecord>, AuthError> {
        Ok(self.store.chat_links(platform.as_str()).await?)
    }

    /// The broker user `origin` acts as: refused when the chat account is not linked
    /// ([`AuthError::ChatUnlinked`]) or the user is disabled or gone. The principal holds
    /// no token; its TOTP authenticator and passkeys are read with it, for the step-up a
    /// change asks.
    pub async fn chat_principal(&self, origin: &ChatOrigin) -> Result<Principal, AuthError> {
        let link = self
            .linked(
                origin.platform,
                LinkOf::Account {
                    team: &origin.team,
                    chat_user: &origin.user,
                },
            )
            .await?
            .ok_or_else(|| AuthError::ChatUnlinked(origin.platform.to_string()))?;
        let user = self
            .store
            .user(&link.username)
            .await?
            .ok_or_else(|| AuthError::Disabled(link.username.clone()))?;
        if user.disabled_at.is_some() {
            return Err(AuthError::Disabled(user.username));
        }
        Ok(Principal {
            username: username(&user.username)?,
            admin: user.admin,
            token: String::new(),
            expires_at: self.now(),
            second_factor: true,
            break_glass_only: false,
            totp: TotpOnFile {
                sealed: user.totp_seed,
                last_step: user.totp_last_step,
            },
            passkeys: user.passkeys,
            via: Some(origin.clone()),
        })
    }

    /// Whether the signed delivery `key` is new (remembered for `keep`); `false` for a
    /// replay, which the caller refuses and audits.
    pub async fn fresh_chat_delivery(&self, key: &str, keep: Duration) -> Result<bool, AuthError> {
        let now = self.now();
        Ok(self
            .store
            .remember_chat_delivery(key, now + keep, now)
            .await?)
    }
}
