//! Passkeys (WebAuthn, FIDO2): the phishing-resistant second factor, through `webauthn-rs`.
//!
//! Every ceremony has two halves. The broker starts one (a challenge for the browser) and
//! keeps its state in the store ([`CeremonyRecord`]) under a random id, bound to one user and
//! one purpose (`enrol a passkey`, `sign in`, `approve r-…`), for [`CEREMONY_TTL`]. The
//! browser answers with the id; the answer is checked against that state only for the same
//! user and purpose, and the write that acts on it deletes the ceremony in the same
//! transaction, so an answer is accepted once. The browser signs the origin it talked to, and
//! the library refuses any other than the configured one: a look-alike site cannot relay an
//! answer.
//!
//! A passkey answers a step-up ([`Auth::check_step_up_for`]) wherever a TOTP code does;
//! a playbook with `step_up = "passkey"` takes nothing else for its approvals, its
//! break-glass activation and its first-mint step-up (the domain decides that, from the
//! step-up's [`Factor`](breakglass_core::model::Factor)).

use breakglass_api::PasskeyAnswer;
use breakglass_config::PasskeySettings;
use breakglass_core::accounts::{AuthWrite, CeremonyRecord, PasskeyRecord};
use breakglass_core::audit::Actor;
use breakglass_core::audit::events::{
    AccountChange, AccountChanged, LoginFailed, PasskeyChallenged, PasskeyEnrolled, PasskeyFailed,
    PasskeyRemoved,
};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::model::Username;
use breakglass_core::ports::{AuthStore, Proof, StepUp, StoreError};
use time::Duration;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use super::{Auth, AuthError, NewToken, Principal, username};
use crate::random::random_hex;

/// How long a ceremony can be answered.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// The purpose of an enrolment ceremony.
pub const ENROL_PURPOSE: &str = "enrol a passkey";
/// The purpose of a sign-in ceremony (started once the password was right).
pub const SIGN_IN_PURPOSE: &str = "sign in";

/// The purpose of the step-up that adding a passkey takes from a user who already has a
/// second factor (distinct from [`ENROL_PURPOSE`], the creation ceremony itself).
pub const ADD_PURPOSE: &str = "add a passkey";
/// The most passkeys one user may enrol.
pub const MAX_PASSKEYS: usize = 10;

/// The relying party: the configured origin and its id.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// The relying party for `settings` (`[auth.passkeys]`).
    pub fn new(settings: &PasskeySettings) -> Result<Self, AuthError> {
        let origin = Url::parse(&settings.origin).map_err(|e| {
            AuthError::Invalid(format!(
                "[auth.passkeys] origin `{}` is not a URL: {e}",
                settings.origin
            ))
        })?;
        let rp_id = settings
            .rp_id
            .clone()
            .or_else(|| origin.host_str().map(str::to_owned))
            .ok_or_else(|| {
                AuthError::Invalid(format!(
                    "[auth.passkeys] origin `{}` has no host",
                    settings.origin
                ))
            })?;
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name("breakglass").build())
            .map_err(|e| {
                AuthError::Invalid(format!(
                    "[auth.passkeys]: origin `{}` with relying-party id `{rp_id}` is refused: {e}",
                    settings.origin
                ))
            })?;
        Ok(Self { webauthn })
    }
}

/// A challenge for the browser: `options` goes to `navigator.credentials.create()` (an
/// enrolment) or `.get()` (a sign-in or step-up), and the answer comes back with `ceremony`.
#[derive(Debug)]
pub struct Challenge {
    /// The ceremony id.
    pub ceremony: String,
    /// The `publicKey` options, with binary fields in base64url.
    pub options: serde_json::Value,
}

/// How a caller answers a step-up: a TOTP code or a passkey.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// A code from the TOTP authenticator.
    Totp(&'a str),
    /// A passkey's answer to a ceremony started for the step-up.
    Passkey(&'a PasskeyAnswer),
}

impl<'a> Answer<'a> {
    /// The answer a body carries: its passkey answer when it has one, else its code.
    pub fn of(totp: &'a str, passkey: Option<&'a PasskeyAnswer>) -> Self {
        passkey.map_or(Self::Totp(totp), Self::Passkey)
    }

    /// Whether nothing was given (an empty code and no passkey).
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Totp(code) if code.trim().is_empty())
    }
}

/// The base64url credential id of `passkey`.
fn credential_id(passkey: &Passkey) -> String {
    serde_json::to_value(passkey.cred_id())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The WebAuthn user handle of `who`: stable, and not the name itself.
fn user_handle(who: &Username) -> Uuid {
    let digest = Sha256Digest::of(format!("breakglass user handle\0{who}").as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest.as_bytes()[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn options_json(value: impl serde::Serialize) -> Result<serde_json::Value, AuthError> {
    let v = serde_json::to_value(value)
        .map_err(|e| AuthError::Invalid(format!("passkey challenge: {e}")))?;
    Ok(v.get("publicKey").cloned().unwrap_or(v))
}

impl<S: AuthStore> Auth<S> {
    fn relying_party(&self) -> Result<&RelyingParty, AuthError> {
        self.passkeys.as_ref().ok_or(AuthError::PasskeysOff)
    }

    /// Whether passkeys are configured (`[auth.passkeys]`).
    pub fn passkeys_on(&self) -> bool {
        self.passkeys.is_some()
    }

    /// The passkeys of `who`.
    pub async fn passkeys(&self, who: &Username) -> Result<Vec<PasskeyRecord>, AuthError> {
        Ok(self.store.passkeys(who.as_str()).await?)
    }

    fn stored(records: &[PasskeyRecord]) -> Vec<(String, Passkey)> {
        records
            .iter()
            .filter_map(|r| {
                serde_json::from_str::<Passkey>(&r.credential)
                    .ok()
                    .map(|p| (r.id.clone(), p))
            })
            .collect()
    }

    /// Stores a ceremony of `who` for `purpose` with library state `state`.
    async fn begin(
        &self,
        who: &Username,
        purpose: &str,
        state: impl serde::Serialize,
        options: serde_json::Value,
        spent: Option<&StepUp>,
    ) -> Result<Challenge, AuthError> {
        let now = self.now();
        let record = CeremonyRecord {
            id: random_hex(24),
            username: who.to_string(),
            purpose: purpose.to_owned(),
            state: serde_json::to_string(&state)
                .map_err(|e| AuthError::Invalid(format!("passkey ceremony: {e}")))?,
            expires_at: now + CEREMONY_TTL,
        };
        let id = record.id.clone();
        let entry = self.entry(
            Actor::User(who.clone()),
            PasskeyChallenged {
                username: who.clone(),
                purpose: purpose.to_owned(),
            },
        );
        let mut writes = vec![AuthWrite::InsertCeremony {
            ceremony: record,
            now,
        }];
        let mut audit = vec![entry];
        if let Some(step_up) = spent {
            self.spend(step_up, &mut writes, &mut audit);
        }
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => {}
            Err(StoreError::StepUpUsed(_)) if let Some(step_up) = spent => {
                return Err(self.replayed_step_up(step_up).await);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Challenge {
            ceremony: id,
            options,
        })
    }

    /// The unexpired ceremony `id` of `who` for `purpose`; anything else is refused (and
    /// audited) as an answer to nothing.
    async fn ceremony_of(
        &self,
        who: &Username,
        id: &str,
        purpose: &str,
    ) -> Result<CeremonyRecord, AuthError> {
        let found = if id.len() <= 64 {
            self.store.ceremony(id).await?
        } else {
            None
        };
        match found {
            Some(c)
                if c.username == who.as_str()
                    && c.purpose == purpose
                    && c.expires_at > self.now() =>
            {
                Ok(c)
            }
            Some(c) if c.username == who.as_str() && c.purpose != purpose => Err(self
                .passkey_refused(
                    who,
                    purpose,
                    &format!("the passkey answered a challenge for `{}`", c.purpose),
                )
                .await),
            _ => Err(self
                .passkey_refused(who, purpose, "no such challenge, or it expired or was used")
                .await),
        }
    }

    /// Audits a refused passkey answer and returns the error to show.
    async fn passkey_refused(&self, who: &Username, purpose: &str, reason: &str) -> AuthError {
        let event = PasskeyFailed {
            username: who.clone(),
            purpose: purpose.to_owned(),
            reason: reason.to_owned(),
        };
        match self
            .audit_only(self.entry(Actor::User(who.clone()), event))
            .await
        {
            Ok(()) => AuthError::BadPasskey(reason.to_owned()),
            Err(e) => e,
        }
    }

    /// Starts enrolling a passkey for the caller. The password is needed again (a token
    /// alone must not be enough to give its owner a factor the thief holds); a user who has
    /// a second factor already also needs a token that passed it and a step-up from that
    /// factor (`current`, for [`ADD_PURPOSE`]), spent with the ceremony's start, as replacing
    /// the TOTP authenticator does: a stolen session and a phished password must not be
    /// enough to add the thief's passkey.
    pub async fn start_passkey_enrolment(
        &self,
        caller: &Principal,
        password_text: &str,
        current: Option<Answer<'_>>,
        address: &str,
    ) -> Result<Challenge, AuthError> {
        let rp = self.relying_party()?;
        let who = &caller.username;
        if password_text.is_empty() {
            return Err(AuthError::Invalid(format!(
                "enrolling a passkey of `{who}` needs the password again (field `password`)"
            )));
        }
        let records = self.store.passkeys(who.as_str()).await?;
        if records.len() >= MAX_PASSKEYS {
            return Err(AuthError::Invalid(format!(
                "`{who}` has {MAX_PASSKEYS} passkeys already: remove one first"
            )));
        }
        let has_factor = caller.has_totp() || !records.is_empty();
        if has_factor {
            caller.require_second_factor()?;
        }
        self.check_password(who.as_str(), password_text, address)
            .await?;
        let step_up = if has_factor {
            let Some(answer) = current.filter(|a| !a.is_empty()) else {
                return Err(AuthError::Invalid(format!(
                    "`{who}` already has a second factor: give a current code from the TOTP authenticator (field `current_code`) or answer with a passkey (field `passkey`, a ceremony for `{ADD_PURPOSE}`)"
                )));
            };
            Some(self.check_step_up_for(caller, answer, ADD_PURPOSE).await?)
        } else {
            None
        };
        let exclude: Vec<_> = Self::stored(&records)
            .iter()
            .map(|(_, p)| p.cred_id().clone())
            .collect();
        let (ccr, state): (CreationChallengeResponse, PasskeyRegistration) = rp
            .webauthn
            .start_passkey_registration(user_handle(who), who.as_str(), who.as_str(), Some(exclude))
            .map_err(|e| AuthError::Invalid(format!("cannot start a passkey enrolment: {e}")))?;
        self.begin(
            who,
            ENROL_PURPOSE,
            state,
            options_json(ccr)?,
            step_up.as_ref(),
        )
        .await
    }

    /// Finishes the caller's passkey enrolment with the browser's `credential` (a
    /// `PublicKeyCredential` from `navigator.credentials.create()`), labelled `name`. The
    /// security team is told. A first second factor ends every other session of the user and
    /// returns a token (no longer-lived than the caller's) that passed it.
    pub async fn finish_passkey_enrolment(
        &self,
        caller: &Principal,
        ceremony: &str,
        name: &str,
        credential: &serde_json::Value,
    ) -> Result<(PasskeyRecord, Option<NewToken>), AuthError> {
        let rp = self.relying_party()?;
        let who = &caller.username;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::Invalid(
                "a passkey name must be 1 to 100 characters (field `name`)".to_owned(),
            ));
        }
        let record = self.ceremony_of(who, ceremony, ENROL_PURPOSE).await?;
        let state: PasskeyRegistration = serde_json::from_str(&record.state)
            .map_err(|e| AuthError::Invalid(format!("stored passkey ceremony: {e}")))?;
        let reply: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|e| {
                AuthError::Invalid(format!(
                    "`credential` is not a WebAuthn registration response: {e}"
                ))
            })?;
        let passkey = match rp.webauthn.finish_passkey_registration(&reply, &state) {
            Ok(p) => p,
            Err(e) => {
                return Err(self
                    .passkey_refused(who, ENROL_PURPOSE, &format!("registration refused: {e}"))
                    .await);
            }
        };
        let now = self.now();
        let stored = PasskeyRecord {
            id: credential_id(&passkey),
            username: who.to_string(),
            name: name.to_owned(),
            credential: serde_json::to_string(&passkey)
                .map_err(|e| AuthError::Invalid(format!("passkey: {e}")))?,
            created_at: now,
            last_used_at: None,
        };
        let actor = Actor::User(who.clone());
        let mut writes = vec![
            AuthWrite::TakeCeremony {
                ceremony: record.id.clone(),
                username: who.to_string(),
                purpose: ENROL_PURPOSE.to_owned(),
                at: now,
            },
            AuthWrite::InsertPasskey(stored.clone()),
        ];
        let mut audit = vec![self.entry(
            actor.clone(),
            PasskeyEnrolled {
                username: who.clone(),
                credential: stored.id.clone(),
                name: stored.name.clone(),
            },
        )];
        // A first second factor: every session minted without one ends, and the caller gets
        // a token that passed it.
        let token = if caller.second_factor {
            None
        } else {
            let left = caller.expires_at - now;
            let (write, token, created) = self.new_token(
                who,
                "passkey enrolment",
                Some(super::DEFAULT_TOKEN_TTL.min(left).max(Duration::minutes(1))),
                true,
                caller.break_glass_only,
            )?;
            writes.push(AuthWrite::RevokeTokens {
                username: who.to_string(),
                except: None,
                at: now,
            });
            writes.push(write);
            audit.push(self.entry(
                actor.clone(),
                AccountChanged {
                    username: who.clone(),
                    change: AccountChange::TokensRevoked,
                },
            ));
            audit.push(self.entry(actor, created));
            Some(token)
        };
        match self.store.auth_commit(writes, audit).await {
            Ok(_) => Ok((stored, token)),
            Err(StoreError::StepUpUsed(_)) => Err(self
                .passkey_refused(who, ENROL_PURPOSE, "the challenge was answered already")
                .await),
            Err(StoreError::Duplicate(_)) => Err(AuthError::Exists(
                "that passkey is enrolled already".to_owned(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the caller's passkey `id`, authorised by `step_up` (checked for `remove
    /// passkey <id>`, spent in the same transaction). The last second factor cannot be
    /// removed: enrol another first.
    pub async fn remove_passkey(
        &self,
        caller: &Principal,
        id: &str,
        answer: Answer<'_>,
    ) -> Result<(), AuthError> {
        caller.require_second_factor()?;
        let who = &caller.username;
        let records = self.store.passkeys(who.as_str()).await?;
        if !records.iter().any(|r| r.id == id) {
            return Err(AuthError::NotFound(format!(
                "`{who}` has no passkey `{id}`"
            )));
        }
        if records.len() == 1 && caller.totp.sealed.is_none() {
            return Err(AuthError::Invalid(format!(
                "`{id}` is the last second factor of `{who}`: enrol another passkey or a TOTP authenticator before removing it"
            )));
        }
        let purpose = remove_purpose(id);
        let step_up = self.check_step_up_for(caller, answer, &purpose).await?;
        let mut writes = Vec::new();
        let mut audit = vec![self.entry(
            Actor::User(who.clone()),
            PasskeyRemoved {
                username: who.clone(),
                credential: id.to_owned(),
            },
        )];
        self.spend(&step_up, &mut writes, &mut audit);
        writes.push(AuthWrite::DeletePasskeys {
            username: who.to_string(),
            id: Some(id.to_owned()),
        });
        self.commit(who, &purpose, writes, audit).await
    }

    /// Starts a passkey step-up of the caller for `purpose` (what the answer will authorise,
    /// e.g. `approve r-…`; an answer checked for anything else is refused).
    pub async fn start_passkey_step_up(
        &self,
        caller: &Principal,
        purpose: &str,
    ) -> Result<Challenge, AuthError> {
        let purpose = purpose.trim();
        if purpose.is_empty() || purpose.len() > 300 {
            return Err(AuthError::Invalid(
                "`purpose` must name the action the passkey will authorise (1 to 300 characters)"
                    .to_owned(),
            ));
        }
        // Those two ceremonies start only behind their own checks (the password again): a
        // token holder must not get one here and skip them.
        if purpose == ENROL_PURPOSE || purpose == SIGN_IN_PURPOSE {
            return Err(AuthError::Invalid(format!(
                "a `{purpose}` challenge is not a step-up: start it with its own route"
            )));
        }
        self.start_assertion(&caller.username, purpose).await
    }

    async fn start_assertion(&self, who: &Username, purpose: &str) -> Result<Challenge, AuthError> {
        let rp = self.relying_party()?;
        let records = self.store.passkeys(who.as_str()).await?;
        let keys: Vec<Passkey> = Self::stored(&records).into_iter().map(|(_, p)| p).collect();
        if keys.is_empty() {
            return Err(AuthError::NoPasskey(who.to_string()));
        }
        let (rcr, state): (RequestChallengeResponse, PasskeyAuthentication) = rp
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| AuthError::Invalid(format!("cannot start a passkey challenge: {e}")))?;
        self.begin(who, purpose, state, options_json(rcr)?, None)
            .await
    }

    /// Checks `answer` as a passkey step-up of `who` for `purpose` without spending it: the
    /// [`StepUp`] carries the ceremony (deleted when it is spent) and the passkey with its
    /// advanced counter. Refusals are audited.
    pub(crate) async fn check_passkey(
        &self,
        who: &Username,
        answer: &PasskeyAnswer,
        purpose: &str,
    ) -> Result<StepUp, AuthError> {
        let rp = self.relying_party()?;
        let record = self.ceremony_of(who, &answer.ceremony, purpose).await?;
        let state: PasskeyAuthentication = serde_json::from_str(&record.state)
            .map_err(|e| AuthError::Invalid(format!("stored passkey ceremony: {e}")))?;
        let reply: PublicKeyCredential = serde_json::from_value(answer.credential.clone())
            .map_err(|e| {
                AuthError::Invalid(format!(
                    "`passkey.credential` is not a WebAuthn assertion: {e}"
                ))
            })?;
        let result = match rp.webauthn.finish_passkey_authentication(&reply, &state) {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .passkey_refused(who, purpose, &format!("assertion refused: {e}"))
                    .await);
            }
        };
        let records = self.store.passkeys(who.as_str()).await?;
        let Some((id, mut passkey)) = Self::stored(&records)
            .into_iter()
            .find(|(_, p)| p.cred_id() == result.cred_id())
        else {
            return Err(self
                .passkey_refused(who, purpose, "the passkey was removed meanwhile")
                .await);
        };
        passkey.update_credential(&result);
        Ok(StepUp {
            username: who.clone(),
            purpose: purpose.to_owned(),
            proof: Proof::Passkey {
                ceremony: record.id,
                credential_id: id,
                credential: serde_json::to_string(&passkey)
                    .map_err(|e| AuthError::Invalid(format!("passkey: {e}")))?,
            },
        })
    }

    /// Checks `answer` (a TOTP code or a passkey) as a step-up of the caller for `purpose`,
    /// without spending it.
    pub async fn check_step_up_for(
        &self,
        caller: &Principal,
        answer: Answer<'_>,
        purpose: &str,
    ) -> Result<StepUp, AuthError> {
        match answer {
            Answer::Totp(code) => self.check_totp_for(caller, code, purpose).await,
            Answer::Passkey(p) => self.check_passkey(&caller.username, p, purpose).await,
        }
    }

    /// Signing in with a passkey, first half: the password is checked (rate-limited and
    /// audited as any sign-in), then a challenge for the user's passkeys is returned.
    pub async fn start_passkey_sign_in(
        &self,
        name: &str,
        password_text: &str,
        address: &str,
    ) -> Result<Challenge, AuthError> {
        self.relying_party()?;
        let user = self.first_factor(name, password_text, address).await?;
        let who = username(&user.username)?;
        self.start_assertion(&who, SIGN_IN_PURPOSE).await
    }

    /// Signing in with a passkey, second half: the answer to the sign-in ceremony (started
    /// only once the password was right) mints a token that passed a second factor.
    pub async fn finish_passkey_sign_in(
        &self,
        answer: &PasskeyAnswer,
        address: &str,
        token_name: &str,
        ttl: Option<Duration>,
    ) -> Result<NewToken, AuthError> {
        let found = if answer.ceremony.len() <= 64 {
            self.store.ceremony(&answer.ceremony).await?
        } else {
            None
        };
        let record = match found {
            Some(r) if r.purpose == SIGN_IN_PURPOSE => r,
            _ => {
                let event = LoginFailed {
                    username: String::new(),
                    address: address.to_owned(),
                    reason: "passkey sign-in: no such challenge, or it expired or was used"
                        .to_owned(),
                };
                self.audit_only(self.entry(Actor::System, event)).await?;
                return Err(AuthError::BadPasskey(
                    "the sign-in challenge expired or was used: sign in again".to_owned(),
                ));
            }
        };
        let who = username(&record.username)?;
        let step_up = self.check_passkey(&who, answer, SIGN_IN_PURPOSE).await?;
        let mut writes = Vec::new();
        let mut audit = Vec::new();
        self.spend(&step_up, &mut writes, &mut audit);
        self.issue_login_token_with(who, address, token_name, ttl, true, writes, audit)
            .await
    }
}

/// What a passkey removal's step-up is checked for.
pub fn remove_purpose(id: &str) -> String {
    format!("remove passkey {id}")
}
