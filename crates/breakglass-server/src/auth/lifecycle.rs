//! The account lifecycle: enrolling a second factor (two steps: the seed, then a code from
//! it), changing one's password, and what an administrator does about a compromised
//! account (disable and enable it, revoke all of its tokens, reset its second factor).
//!
//! Each change is committed with its audit record, and the administrator's or user's
//! step-up code is spent, in one transaction: if any part fails nothing changes. Account
//! changes reach the security team through the outbox ([`AccountChanged`]).

use breakglass_core::accounts::AuthWrite;
use breakglass_core::audit::Actor;
use breakglass_core::audit::events::{AccountChange, AccountChanged, TotpEnrolled};
use breakglass_core::model::Username;
use breakglass_core::ports::{AuthStore, Proof, StepUp, StoreError};

use super::{
    Answer, Auth, AuthError, DEFAULT_TOKEN_TTL, Enrolment, NewToken, Principal, password, totp,
    username,
};

impl<S: AuthStore> Auth<S> {
    /// Starts enrolling a TOTP authenticator for the caller: a new seed, shown once, waits
    /// until a code from it is confirmed ([`Auth::confirm_totp`]); the current authenticator,
    /// if any, keeps working until then.
    ///
    /// A first enrolment needs the password again (`password`): a token alone, stolen or
    /// left signed in, must not be enough to give its owner a second factor the thief holds.
    /// Replacing an enrolled authenticator needs the password, a current code from it
    /// (`current_code`) and a token that passed the second factor: a stolen session and one
    /// phished code are not enough to swap in the thief's authenticator.
    pub async fn enroll_totp(
        &self,
        caller: &Principal,
        password_text: Option<&str>,
        current: Option<Answer<'_>>,
        address: &str,
    ) -> Result<Enrolment, AuthError> {
        let who = &caller.username;
        let user = self
            .store
            .user(who.as_str())
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no user `{who}`")))?;
        let purpose = "enrol a TOTP authenticator";
        let mut writes = Vec::new();
        let mut audit = Vec::new();
        let Some(text) = password_text.filter(|p| !p.is_empty()) else {
            return Err(AuthError::Invalid(format!(
                "enrolling an authenticator of `{who}` needs the password again (field `password`; `breakglass totp enroll` asks for it)"
            )));
        };
        if user.totp_seed.is_some() || user.passkeys {
            caller.require_second_factor()?;
            let Some(answer) = current.filter(|a| !a.is_empty()) else {
                return Err(AuthError::Invalid(format!(
                    "`{who}` already has a second factor: give a current code from the TOTP authenticator (field `current_code`; `breakglass totp enroll --current-code CODE`) or answer with a passkey (field `passkey`)"
                )));
            };
            self.check_password(who.as_str(), text, address).await?;
            let step_up = self
                .check_step_up_for(caller, answer, "replace the TOTP authenticator")
                .await?;
            self.spend(&step_up, &mut writes, &mut audit);
        } else {
            self.check_password(who.as_str(), text, address).await?;
        }
        let seed = crate::random::random_bytes(totp::SEED_BYTES);
        let sealed = self.key.seal(who.as_str(), &seed);
        writes.push(AuthWrite::SetPendingTotp {
            username: who.to_string(),
            seed: Some(sealed),
        });
        audit.push(self.entry(
            Actor::User(who.clone()),
            AccountChanged {
                username: who.clone(),
                change: AccountChange::EnrolmentStarted,
            },
        ));
        self.commit(who, purpose, writes, audit).await?;
        Ok(Enrolment {
            secret: breakglass_core::cloud::Secret::new(totp::base32(&seed)),
            uri: breakglass_core::cloud::Secret::new(totp::otpauth_uri(
                &self.issuer,
                who.as_str(),
                &seed,
            )),
        })
    }

    /// Confirms the caller's pending enrolment with a current `code` from the new
    /// authenticator: it becomes their second factor (that code is spent), every token of
    /// the user is revoked (sessions made before, with or without the old authenticator,
    /// end), and the caller gets a new token named `token_name` that passed it. The new
    /// token lives no longer than the caller's when that one had passed a second factor
    /// (replacing an authenticator never extends a session).
    pub async fn confirm_totp(
        &self,
        caller: &Principal,
        code: &str,
        token_name: &str,
    ) -> Result<NewToken, AuthError> {
        let who = &caller.username;
        let purpose = "confirm the TOTP authenticator";
        let user = self
            .store
            .user(who.as_str())
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no user `{who}`")))?;
        let Some(sealed) = user.totp_pending else {
            return Err(AuthError::Invalid(format!(
                "`{who}` has no enrolment waiting for a code; start one with `breakglass totp enroll`"
            )));
        };
        let seed = self.key.open(who.as_str(), &sealed)?;
        let step = match self.matching_step(who, &seed, code, purpose).await {
            Err(AuthError::TotpMissing) => {
                return Err(AuthError::Invalid(
                    "the code (field `code`) is required: enter the 6-digit code the new authenticator shows"
                        .to_owned(),
                ));
            }
            other => other?,
        };
        let now = self.now();
        let actor = Actor::User(who.clone());
        let ttl = if caller.second_factor {
            DEFAULT_TOKEN_TTL.min(caller.expires_at - now)
        } else {
            DEFAULT_TOKEN_TTL
        };
        let (token_write, token, created) =
            self.new_token(who, token_name, Some(ttl), true, caller.break_glass_only)?;
        let writes = vec![
            AuthWrite::ConfirmTotp {
                username: who.to_string(),
                seed: sealed,
                step,
            },
            AuthWrite::RevokeTokens {
                username: who.to_string(),
                except: None,
                at: now,
            },
            token_write,
        ];
        let audit = vec![
            self.entry(
                actor.clone(),
                TotpEnrolled {
                    username: who.clone(),
                },
            ),
            self.entry(
                actor.clone(),
                AccountChanged {
                    username: who.clone(),
                    change: AccountChange::TokensRevoked,
                },
            ),
            self.entry(actor, created),
        ];
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => Ok(token),
            Err(StoreError::InvalidCommit(m)) => Err(AuthError::Invalid(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the caller's password: the old one and a current TOTP code are required,
    /// and every other token of theirs is revoked (whoever else held one is signed out).
    pub async fn change_password(
        &self,
        caller: &Principal,
        old: &str,
        new: &str,
        answer: Answer<'_>,
        address: &str,
    ) -> Result<(), AuthError> {
        caller.require_second_factor()?;
        let who = &caller.username;
        self.check_password(who.as_str(), old, address).await?;
        let step_up = self
            .check_step_up_for(caller, answer, "change password")
            .await?;
        let text = new.to_owned();
        let hash = self
            .argon2(move || password::hash(&text))
            .await?
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let mut writes = vec![
            AuthWrite::SetPassword {
                username: who.to_string(),
                password_hash: hash,
            },
            AuthWrite::RevokeTokens {
                username: who.to_string(),
                except: Some(caller.token.clone()),
                at: self.now(),
            },
        ];
        let mut audit = vec![self.entry(
            Actor::User(who.clone()),
            AccountChanged {
                username: who.clone(),
                change: AccountChange::PasswordChanged,
            },
        )];
        self.spend(&step_up, &mut writes, &mut audit);
        self.commit(who, "change password", writes, audit).await
    }

    /// An administrator's change `change` to the account `target`, authorised by a current
    /// TOTP code of theirs (spent in the same transaction):
    ///
    /// - `Disabled`: the account cannot sign in and every token of it stops at once (and
    ///   stays revoked when the account is enabled again);
    /// - `Enabled`: it may sign in again;
    /// - `TokensRevoked`: every token and console session of it is revoked;
    /// - `SecondFactorReset`: its authenticator is removed, its tokens revoked and its
    ///   password made unusable, and a fresh invitation (returned, shown once) lets the user
    ///   set a password and enrol again: whoever compromised the account, likely with its
    ///   password, cannot enrol first.
    ///
    /// An administrator cannot disable or reset their own account (the last administrator
    /// would lock everyone out).
    pub async fn administer(
        &self,
        admin: &Principal,
        target: &str,
        change: AccountChange,
        answer: Answer<'_>,
    ) -> Result<Option<Invitation>, AuthError> {
        admin.require_second_factor()?;
        if !admin.admin {
            return Err(AuthError::Forbidden(
                "only a broker administrator may change another account".to_owned(),
            ));
        }
        let target = username(target)?;
        if target == admin.username
            && matches!(
                change,
                AccountChange::Disabled | AccountChange::SecondFactorReset
            )
        {
            return Err(AuthError::Invalid(
                "you cannot disable or reset your own account; ask another administrator"
                    .to_owned(),
            ));
        }
        let user = self
            .store
            .user(target.as_str())
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no user `{target}`")))?;
        let verb = match change {
            AccountChange::Disabled => "disable",
            AccountChange::Enabled => "enable",
            AccountChange::TokensRevoked => "revoke the tokens of",
            AccountChange::SecondFactorReset => "reset the second factor of",
            AccountChange::PasswordChanged
            | AccountChange::EnrolmentStarted
            | AccountChange::Invited
            | AccountChange::InvitationAccepted => {
                return Err(AuthError::Invalid(
                    "a password is changed, an authenticator enrolled and an invitation used by the account's owner; an invitation is made with `user invite`"
                        .to_owned(),
                ));
            }
        };
        let purpose = format!("{verb} user {target}");
        let step_up = self.check_step_up_for(admin, answer, &purpose).await?;
        let now = self.now();
        let revoke_all = AuthWrite::RevokeTokens {
            username: target.to_string(),
            except: None,
            at: now,
        };
        let mut reset = None;
        let mut writes = match change {
            AccountChange::Disabled => vec![
                AuthWrite::SetDisabled {
                    username: target.to_string(),
                    at: Some(now),
                },
                revoke_all,
            ],
            AccountChange::Enabled => {
                if user.disabled_at.is_none() {
                    return Err(AuthError::Invalid(format!(
                        "the account `{target}` is not disabled"
                    )));
                }
                vec![AuthWrite::SetDisabled {
                    username: target.to_string(),
                    at: None,
                }]
            }
            AccountChange::TokensRevoked => vec![revoke_all],
            AccountChange::SecondFactorReset => {
                let (write, invitation) = self.new_invitation(&admin.username, &target, user.admin);
                reset = Some(invitation);
                vec![
                    AuthWrite::SetTotp {
                        username: target.to_string(),
                        seed: None,
                    },
                    AuthWrite::DeletePasskeys {
                        username: target.to_string(),
                        id: None,
                    },
                    revoke_all,
                    AuthWrite::SetPassword {
                        username: target.to_string(),
                        password_hash: self.unusable_hash().await?,
                    },
                    write,
                ]
            }
            AccountChange::PasswordChanged
            | AccountChange::EnrolmentStarted
            | AccountChange::Invited
            | AccountChange::InvitationAccepted => Vec::new(),
        };
        let mut audit = vec![self.entry(
            Actor::User(admin.username.clone()),
            AccountChanged {
                username: target.clone(),
                change,
            },
        )];
        self.spend(&step_up, &mut writes, &mut audit);
        self.commit(&admin.username, &purpose, writes, audit)
            .await?;
        Ok(reset)
    }

    /// Adds the spending of `step_up` (and its record) to a change being built: a TOTP
    /// step marked used, or a passkey's ceremony deleted and its counter kept.
    pub(super) fn spend(
        &self,
        step_up: &StepUp,
        writes: &mut Vec<AuthWrite>,
        audit: &mut Vec<breakglass_core::audit::AuditEntry>,
    ) {
        let username = step_up.username.to_string();
        match &step_up.proof {
            Proof::Totp { step } => writes.push(AuthWrite::UseTotpStep {
                username,
                step: *step,
            }),
            Proof::Passkey {
                ceremony,
                credential_id,
                credential,
            } => {
                writes.push(AuthWrite::TakeCeremony {
                    ceremony: ceremony.clone(),
                    username: username.clone(),
                    purpose: step_up.purpose.clone(),
                    at: self.now(),
                });
                writes.push(AuthWrite::UsePasskey {
                    id: credential_id.clone(),
                    username,
                    credential: credential.clone(),
                    at: self.now(),
                });
            }
        }
        audit.push(self.entry(
            Actor::User(step_up.username.clone()),
            step_up.verified_event(),
        ));
    }

    /// Commits a lifecycle change of `who`'s making; a step-up code spent concurrently is
    /// audited as a replay.
    pub(super) async fn commit(
        &self,
        who: &Username,
        purpose: &str,
        writes: Vec<AuthWrite>,
        audit: Vec<breakglass_core::audit::AuditEntry>,
    ) -> Result<(), AuthError> {
        let passkey = used_passkey(&writes);
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => Ok(()),
            Err(StoreError::StepUpUsed(_)) => Err(self.replayed_in(who, purpose, passkey).await),
            Err(StoreError::InvalidCommit(m)) => Err(AuthError::NotFound(m)),
            Err(e) => Err(e.into()),
        }
    }
}

/// How long an invitation works.
pub const INVITATION_TTL: time::Duration = time::Duration::hours(72);

/// The prefix of an invitation's secret.
pub const INVITATION_PREFIX: &str = "bgi_";

/// A fresh invitation: the account and the secret for its link, shown once.
#[derive(Debug)]
pub struct Invitation {
    /// The account it sets up.
    pub username: Username,
    /// Whether it administers the broker.
    pub admin: bool,
    /// When the link stops working.
    pub expires_at: time::OffsetDateTime,
    /// The secret (`bgi_…`) the link carries. Shown once; only its SHA-256 is kept.
    pub secret: breakglass_core::cloud::Secret,
}

impl<S: AuthStore> Auth<S> {
    /// Creates the account `name` without a usable password, with a one-time invitation
    /// (valid [`INVITATION_TTL`]) through which the new user sets their own: the
    /// administrator never knows it. The account cannot sign in until the invitation is
    /// used.
    pub async fn invite(
        &self,
        by: &Principal,
        name: &str,
        admin: bool,
        answer: Answer<'_>,
    ) -> Result<Invitation, AuthError> {
        by.require_second_factor()?;
        if !by.admin {
            return Err(AuthError::Forbidden(
                "only a broker administrator may invite a user".to_owned(),
            ));
        }
        let user = username(name)?;
        let purpose = format!("invite user {user}");
        let step_up = self.check_step_up_for(by, answer, &purpose).await?;
        let hash = self.unusable_hash().await?;
        let now = self.now();
        let (invitation_write, invitation) = self.new_invitation(&by.username, &user, admin);
        let actor = Actor::User(by.username.clone());
        let mut writes = vec![
            AuthWrite::InsertUser {
                username: user.to_string(),
                password_hash: hash,
                admin,
                created_at: now,
            },
            invitation_write,
        ];
        let mut audit = vec![
            self.entry(
                actor.clone(),
                breakglass_core::audit::events::UserCreated {
                    username: user.clone(),
                    admin,
                },
            ),
            self.entry(
                actor,
                AccountChanged {
                    username: user.clone(),
                    change: AccountChange::Invited,
                },
            ),
        ];
        self.spend(&step_up, &mut writes, &mut audit);
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => Ok(invitation),
            Err(StoreError::Duplicate(_)) => {
                Err(AuthError::Exists(format!("user `{user}` already exists")))
            }
            Err(StoreError::StepUpUsed(_)) => Err(self.replayed_step_up(&step_up).await),
            Err(e) => Err(e.into()),
        }
    }

    /// The hash of a random password nobody knows: an account row needs one, and no one can
    /// sign in with it (an invited account, or one whose second factor was reset).
    async fn unusable_hash(&self) -> Result<String, AuthError> {
        let unusable = crate::random::random_hex(32);
        self.argon2(move || password::hash(&unusable))
            .await?
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }

    /// A new invitation of `by` for the account `user`, and its write.
    fn new_invitation(
        &self,
        by: &Username,
        user: &Username,
        admin: bool,
    ) -> (AuthWrite, Invitation) {
        let now = self.now();
        let secret = format!("{INVITATION_PREFIX}{}", crate::random::random_hex(32));
        let record = breakglass_core::accounts::InvitationRecord {
            sha256: super::token_hash(&secret),
            username: user.to_string(),
            created_by: by.to_string(),
            created_at: now,
            expires_at: now + INVITATION_TTL,
            used_at: None,
        };
        (
            AuthWrite::InsertInvitation(record.clone()),
            Invitation {
                username: user.clone(),
                admin,
                expires_at: record.expires_at,
                secret: breakglass_core::cloud::Secret::new(secret),
            },
        )
    }

    /// The account invitation `secret` sets up, if it still works (unused, unexpired).
    pub async fn invitation(&self, secret: &str) -> Result<Username, AuthError> {
        let gone = || {
            AuthError::NotFound(
                "this invitation does not exist, was already used or has expired; ask an administrator for a new one"
                    .to_owned(),
            )
        };
        if !secret.starts_with(INVITATION_PREFIX) || secret.len() > 128 {
            return Err(gone());
        }
        let record = self
            .store
            .invitation(&super::token_hash(secret))
            .await?
            .ok_or_else(gone)?;
        if record.used_at.is_some() || record.expires_at <= self.now() {
            return Err(gone());
        }
        username(&record.username)
    }

    /// Sets the password of the account invitation `secret` sets up, and uses the
    /// invitation up (it works once). The user then signs in and enrols a second factor.
    pub async fn accept_invitation(
        &self,
        secret: &str,
        new_password: &str,
    ) -> Result<Username, AuthError> {
        let who = self.invitation(secret).await?;
        let text = new_password.to_owned();
        let hash = self
            .argon2(move || password::hash(&text))
            .await?
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let writes = vec![
            // Fails the whole change if another use of the link got there first.
            AuthWrite::UseInvitation {
                sha256: super::token_hash(secret),
                username: who.to_string(),
                at: self.now(),
            },
            AuthWrite::SetPassword {
                username: who.to_string(),
                password_hash: hash,
            },
        ];
        let audit = vec![self.entry(
            Actor::User(who.clone()),
            AccountChanged {
                username: who.clone(),
                change: AccountChange::InvitationAccepted,
            },
        )];
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => Ok(who),
            Err(StoreError::InvalidCommit(m)) => Err(AuthError::NotFound(m)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether `writes` spend a passkey's answer (else any step-up they spend is a TOTP code).
fn used_passkey(writes: &[AuthWrite]) -> bool {
    writes
        .iter()
        .any(|w| matches!(w, AuthWrite::UsePasskey { .. }))
}
