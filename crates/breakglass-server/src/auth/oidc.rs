//! Sign-in through the organisation's OpenID Connect identity provider (`[auth.oidc]`).
//!
//! The broker is a confidential client of the provider. Everything the protocol checks is
//! done by the `openidconnect` crate, never by hand: discovery, the JWKS, and each ID token's
//! signature, issuer, audience, expiry and nonce ([`Oidc::verify`]). What is the broker's
//! own is what comes after: which responder the token names ([`Oidc::map`]: by `email` or by
//! `sub`, and, with `groups_claim`, only if the provider puts the person in one of the
//! responder's groups), and the broker token minted for them (`Auth::sso_sign_in`).
//!
//! Two flows, both ending in the same checks:
//! - the console's authorization code flow with PKCE, state and nonce ([`Oidc::start`],
//!   [`Oidc::finish`]): what the flow must remember between the redirect and the callback
//!   (state, nonce, PKCE verifier) travels sealed (encrypted and authenticated with the
//!   broker's key) in a short-lived cookie, and a nonce is accepted once;
//! - the CLI's device authorization grant, RFC 8628 ([`Oidc::device_start`],
//!   [`Oidc::device_poll`]), proxied by the broker so the client secret never leaves it: the
//!   CLI holds only a sealed handle around the provider's device code.
//!
//! The provider's client secret, codes and tokens are never logged nor put in an error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use breakglass_config::{OidcConfig, OidcSubject};
use breakglass_core::model::{Responder, Username};
use breakglass_core::ports::Clock;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreDeviceAuthorizationResponse, CoreErrorResponseType, CoreGenderClaim,
    CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreSubjectIdentifierType,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode, Client, ClientId,
    ClientSecret, CsrfToken, DeviceAuthorizationUrl, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::seal::SealKey;

/// How long a console sign-in may take between the redirect to the provider and its return.
pub const CONSOLE_FLOW_TTL: Duration = Duration::minutes(10);
/// The associated data the console's flow cookie is sealed under.
const CONSOLE_PURPOSE: &str = "oidc console sign-in v1";
/// The associated data the device flow's handle is sealed under.
const DEVICE_PURPOSE: &str = "oidc device sign-in v1";
/// The longest a call to the provider may take.
const PROVIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// Nonces remembered as spent at once: a console sign-in lives [`CONSOLE_FLOW_TTL`], so this
/// many sign-ins in ten minutes before the oldest is forgotten early.
const SPENT_NONCES: usize = 10_000;

/// The ID token's claims beyond the standard ones, kept by name: the groups claim is read
/// from here under the name the config gives.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    /// Every claim the standard set does not name.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

/// The discovery document's `device_authorization_endpoint` (RFC 8628), which the core
/// metadata does not name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceEndpoint {
    /// Where device authorization requests go, if the provider supports the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
}

impl AdditionalProviderMetadata for DeviceEndpoint {}

/// A provider's discovery document.
pub type Metadata = ProviderMetadata<
    DeviceEndpoint,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// An ID token with the broker's extra claims.
pub type IdToken = openidconnect::IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The claims of an [`IdToken`].
pub type IdTokenClaims = openidconnect::IdTokenClaims<ExtraClaims, CoreGenderClaim>;

type IdTokenFields = openidconnect::IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type TokenResponse = StandardTokenResponse<IdTokenFields, CoreTokenType>;

type OidcClient<HasDevice = EndpointNotSet> = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    HasDevice,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Which door a sign-in came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The web console's authorization code flow.
    Console,
    /// The CLI's device authorization grant.
    Device,
}

impl Flow {
    /// `console` or `device`, as audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Device => "device",
        }
    }
}

/// What a verified ID token says about the person. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider (`iss`).
    pub issuer: String,
    /// The person at the provider (`sub`).
    pub subject: String,
    /// Their `email`, if the token has one.
    pub email: Option<String>,
    /// The token's `email_verified`, if it says.
    pub email_verified: Option<bool>,
    /// The groups claim's values, when the config names a groups claim and the token has it.
    pub groups: Option<Vec<String>>,
}

/// Why the broker refuses a person the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The responder the subject mapped to, if it mapped to one.
    pub username: Option<Username>,
    /// What is wrong and what to do, safe to show the person.
    pub reason: String,
}

/// Why an SSO sign-in failed before the broker could look at who it is. Messages say what
/// to do next and never contain a secret, a code or a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, or answered with something that is not OpenID
    /// Connect.
    #[error(
        "the identity provider could not be reached or answered unexpectedly ({0}); sign in with a local account if it is down"
    )]
    Unreachable(String),
    /// The provider answered the token request with an OAuth error.
    #[error("the identity provider refused the sign-in: {0}; start a new sign-in")]
    Provider(String),
    /// The ID token failed a check.
    #[error(
        "the identity provider's ID token was refused ({0}); start a new sign-in, and tell a broker administrator if this keeps happening"
    )]
    BadIdToken(String),
    /// The nonce was already spent: the same sign-in presented twice.
    #[error("this sign-in was already completed once; start a new sign-in")]
    Replayed,
    /// The flow's cookie or handle is missing, forged, from another sign-in, or too old.
    #[error("{0}; start a new sign-in")]
    BadState(String),
    /// The provider has no device authorization endpoint.
    #[error(
        "the identity provider does not offer the device authorization grant: sign in through the web console's \"Sign in with SSO\" instead"
    )]
    NoDeviceFlow,
}

/// The start of a console sign-in: where to send the browser, and the sealed cookie value
/// that must come back with it.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization URL with state, nonce and PKCE challenge.
    pub url: String,
    /// The sealed flow state (for the `bg_oidc` cookie).
    pub cookie: String,
}

/// What a console flow remembers between redirect and callback (sealed, never shown).
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    expires: i64,
}

/// What the CLI holds between starting and finishing a device sign-in (sealed).
#[derive(Serialize, Deserialize)]
struct DeviceState {
    details: CoreDeviceAuthorizationResponse,
    expires: i64,
    /// What the caller wants the resulting broker token called.
    token_name: String,
}

/// A started device sign-in, as the CLI shows it.
#[derive(Debug)]
pub struct DeviceStarted {
    /// The code the person types on the provider's page.
    pub user_code: String,
    /// The provider's page.
    pub verification_uri: String,
    /// The page with the code filled in, if the provider gives one.
    pub verification_uri_complete: Option<String>,
    /// Seconds to wait between polls.
    pub interval_secs: u64,
    /// Seconds until the code expires.
    pub expires_in_secs: u64,
    /// The sealed handle to poll with (holds the provider's device code, encrypted).
    pub handle: String,
}

/// One poll of a device sign-in.
#[derive(Debug)]
pub enum DevicePoll {
    /// The person has not finished on the provider's page yet; poll again after
    /// `interval_secs` (`slow_down`: the provider asked for slower polling).
    Pending {
        /// Seconds to wait before the next poll.
        interval_secs: u64,
        /// Whether the provider said `slow_down`.
        slow_down: bool,
    },
    /// Signed in at the provider; the ID token passed its checks.
    Done {
        /// Who.
        identity: Identity,
        /// The token name given when the sign-in started.
        token_name: String,
    },
}

/// The OpenID Connect client of the broker, built from the provider's discovery document.
pub struct Oidc {
    client: OidcClient,
    device_url: Option<DeviceAuthorizationUrl>,
    http: reqwest::Client,
    config: OidcConfig,
    responders: Vec<Responder>,
    clock: Arc<dyn Clock>,
    /// Shared with the client that replaces this one at the next discovery, so a nonce stays
    /// spent across it.
    spent_nonces: Arc<Mutex<BTreeMap<String, OffsetDateTime>>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

/// The HTTP client for the provider: no redirects followed (discovery and token requests
/// must be answered by the URLs configured and discovered, nowhere else), bounded in time.
pub fn http_client() -> Result<reqwest::Client, OidcError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(|e| OidcError::Unreachable(format!("cannot build an HTTP client: {e}")))
}

/// An error and its causes on one line (the library's errors nest the useful part).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A token-endpoint failure as the person sees it. The provider's error code and description
/// are shown; its body never is (it could echo a code).
fn token_error<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse + 'static>(
    e: &RequestTokenError<RE, T>,
) -> OidcError {
    match e {
        RequestTokenError::ServerResponse(response) => OidcError::Provider(response.to_string()),
        RequestTokenError::Request(inner) => OidcError::Unreachable(chain(inner)),
        RequestTokenError::Parse(inner, _) => {
            OidcError::Unreachable(format!("an unreadable token response: {inner}"))
        }
        RequestTokenError::Other(text) => OidcError::Unreachable(text.clone()),
    }
}

fn digest(text: &str) -> ring::digest::Digest {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
}

impl Oidc {
    /// Reads the provider's discovery document and JWKS (the issuer in the document must be
    /// exactly the configured one) and builds the client with `client_secret`.
    pub async fn discover(
        config: OidcConfig,
        client_secret: String,
        responders: Vec<Responder>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OidcError> {
        let http = http_client()?;
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| {
            OidcError::Unreachable(format!("`{}` is not a URL: {e}", config.issuer))
        })?;
        let metadata = Metadata::discover_async(issuer, &http).await.map_err(|e| {
            OidcError::Unreachable(format!("discovery at `{}`: {}", config.issuer, chain(&e)))
        })?;
        Self::new(metadata, config, client_secret, responders, clock, http)
    }

    /// The client over an already read discovery document (with its JWKS).
    pub fn new(
        metadata: Metadata,
        config: OidcConfig,
        client_secret: String,
        responders: Vec<Responder>,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> Result<Self, OidcError> {
        let device_url = metadata
            .additional_metadata()
            .device_authorization_endpoint
            .clone();
        let redirect = RedirectUrl::new(config.redirect_url.clone()).map_err(|e| {
            OidcError::Unreachable(format!(
                "the redirect URL `{}` is not a URL: {e}",
                config.redirect_url
            ))
        })?;
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(client_secret)),
        )
        .set_redirect_uri(redirect);
        Ok(Self {
            client,
            device_url,
            http,
            config,
            responders,
            clock,
            spent_nonces: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    /// The configured provider.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn now_chrono(&self) -> chrono::DateTime<chrono::Utc> {
        let now = self.now();
        chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond()).unwrap_or_default()
    }

    fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        // The library adds `openid` itself.
        self.config
            .scopes
            .iter()
            .filter(|s| s.as_str() != "openid")
            .map(|s| Scope::new(s.clone()))
    }

    /// Starts a console sign-in: the provider's authorization URL (code flow, PKCE S256,
    /// fresh state and nonce) and the sealed cookie that must come back with the callback.
    pub fn start(&self, key: &SealKey) -> Result<Started, OidcError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(self.scopes())
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            expires: (self.now() + CONSOLE_FLOW_TTL).unix_timestamp(),
        };
        let plain = serde_json::to_vec(&pending)
            .map_err(|e| OidcError::BadState(format!("cannot record the sign-in: {e}")))?;
        Ok(Started {
            url: url.to_string(),
            cookie: key.seal(CONSOLE_PURPOSE, &plain),
        })
    }

    /// Completes a console sign-in: checks `state` against the sealed `cookie`, exchanges
    /// `code` (with the PKCE verifier) at the token endpoint, and verifies the ID token with
    /// the flow's nonce.
    pub async fn finish(
        &self,
        key: &SealKey,
        cookie: &str,
        state: &str,
        code: &str,
    ) -> Result<Identity, OidcError> {
        let plain = key.open(CONSOLE_PURPOSE, cookie).map_err(|_| {
            OidcError::BadState(
                "this sign-in did not start in this browser, or its cookie was altered".to_owned(),
            )
        })?;
        let pending: Pending = serde_json::from_slice(&plain)
            .map_err(|_| OidcError::BadState("the sign-in cookie is unreadable".to_owned()))?;
        if self.now().unix_timestamp() > pending.expires {
            return Err(OidcError::BadState(format!(
                "the sign-in took longer than {} minutes",
                CONSOLE_FLOW_TTL.whole_minutes()
            )));
        }
        if digest(state).as_ref() != digest(&pending.state).as_ref() {
            return Err(OidcError::BadState(
                "the provider's answer belongs to another sign-in (`state` differs)".to_owned(),
            ));
        }
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unreachable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(&e))?;
        let token = response.id_token().ok_or_else(|| {
            OidcError::BadIdToken(
                "the token response has no ID token (is `openid` among the scopes?)".to_owned(),
            )
        })?;
        self.verify(token, Some(&Nonce::new(pending.nonce)))
    }

    /// Verifies an ID token: signature (against the provider's JWKS, with the algorithms it
    /// announces; `none` never), issuer, audience (this client), expiry and issue time
    /// against the broker's clock, and, when `nonce` is given, that the token carries exactly
    /// it and that it was not spent before (a nonce is good for one sign-in).
    pub fn verify(&self, token: &IdToken, nonce: Option<&Nonce>) -> Result<Identity, OidcError> {
        let now = self.now_chrono();
        let verifier = self.client.id_token_verifier().set_time_fn(move || now);
        let claims = match nonce {
            Some(n) => token.claims(&verifier, n),
            // The device grant has no nonce: its token comes straight from the provider's
            // token endpoint to the broker.
            None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(|e| OidcError::BadIdToken(chain(&e)))?;
        if let Some(n) = nonce {
            self.spend_nonce(n.secret())?;
        }
        Ok(self.identity(claims))
    }

    /// Parses `text` as an ID token and [verifies](Self::verify) it.
    pub fn verify_text(&self, text: &str, nonce: Option<&Nonce>) -> Result<Identity, OidcError> {
        let token: IdToken = text
            .parse()
            .map_err(|e| OidcError::BadIdToken(format!("not a JWT: {e}")))?;
        self.verify(&token, nonce)
    }

    fn spend_nonce(&self, nonce: &str) -> Result<(), OidcError> {
        let now = self.now();
        let mut spent = self
            .spent_nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        spent.retain(|_, until| *until > now);
        let key = crate::hex::encode(digest(nonce).as_ref());
        if spent.contains_key(&key) {
            return Err(OidcError::Replayed);
        }
        if spent.len() >= SPENT_NONCES
            && let Some(oldest) = spent
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| k.clone())
        {
            spent.remove(&oldest);
        }
        spent.insert(key, now + CONSOLE_FLOW_TTL);
        Ok(())
    }

    fn identity(&self, claims: &IdTokenClaims) -> Identity {
        let groups = self.config.groups_claim.as_ref().and_then(|name| {
            match claims.additional_claims().other.get(name)? {
                serde_json::Value::Array(items) => Some(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                ),
                serde_json::Value::String(one) => Some(vec![one.clone()]),
                _ => None,
            }
        });
        Identity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified(),
            groups,
        }
    }

    /// The responder `identity` names, or why there is none: with `subject = "email"` the
    /// responder whose `email` equals the token's (without case; a token that says its email
    /// is unverified names no one), with `subject = "sub"` the responder whose username is
    /// the token's `sub`. With a `groups_claim`, the token must also list at least one of
    /// that responder's groups; the config's groups stay the ones the broker acts on.
    pub fn map(&self, identity: &Identity) -> Result<Username, Refusal> {
        let refuse = |username: Option<&Username>, reason: String| Refusal {
            username: username.cloned(),
            reason,
        };
        let responder = match self.config.subject {
            OidcSubject::Email => {
                let Some(email) = identity.email.as_deref() else {
                    return Err(refuse(
                        None,
                        "the identity provider sent no `email` claim: ask a broker administrator to add the `email` scope, or to map people by `sub`".to_owned(),
                    ));
                };
                if identity.email_verified == Some(false) {
                    return Err(refuse(
                        None,
                        format!(
                            "the identity provider has not verified `{email}`: verify the address there first"
                        ),
                    ));
                }
                self.responders
                    .iter()
                    .find(|r| r.email.eq_ignore_ascii_case(email))
                    .ok_or_else(|| {
                        refuse(
                            None,
                            format!(
                                "`{email}` is not the email of any responder of this broker: ask a broker administrator to add you to its config"
                            ),
                        )
                    })?
            }
            OidcSubject::Sub => self
                .responders
                .iter()
                .find(|r| r.username.as_str() == identity.subject)
                .ok_or_else(|| {
                    refuse(
                        None,
                        format!(
                            "`{}` is not the username of any responder of this broker: ask a broker administrator to add you to its config",
                            identity.subject
                        ),
                    )
                })?,
        };
        let who = &responder.username;
        if let Some(claim) = &self.config.groups_claim {
            let Some(groups) = &identity.groups else {
                return Err(refuse(
                    Some(who),
                    format!(
                        "the identity provider's ID token has no `{claim}` claim listing your groups: ask a broker administrator to configure the provider to send it"
                    ),
                ));
            };
            let shared = responder
                .groups
                .iter()
                .any(|g| groups.iter().any(|have| have == g.as_str()));
            if !shared {
                let want: Vec<String> = responder
                    .groups
                    .iter()
                    .map(|g| format!("`{}`", g.as_str()))
                    .collect();
                return Err(refuse(
                    Some(who),
                    if want.is_empty() {
                        format!(
                            "`{who}` is in no group of this broker's config: ask a broker administrator"
                        )
                    } else {
                        format!(
                            "the identity provider does not put you in any of your broker groups ({}): ask your identity provider's administrator to add you",
                            want.join(", ")
                        )
                    },
                ));
            }
        }
        Ok(who.clone())
    }

    /// Starts a device sign-in at the provider's device authorization endpoint; the broker
    /// token it ends in will be called `token_name`.
    pub async fn device_start(
        &self,
        key: &SealKey,
        token_name: &str,
    ) -> Result<DeviceStarted, OidcError> {
        let url = self.device_url.clone().ok_or(OidcError::NoDeviceFlow)?;
        let client = self.client.clone().set_device_authorization_url(url);
        let details: CoreDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scopes(self.scopes())
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(&e))?;
        let expires_in = details.expires_in();
        let state = DeviceState {
            expires: (self.now() + Duration::try_from(expires_in).unwrap_or(Duration::minutes(10)))
                .unix_timestamp(),
            details,
            token_name: token_name.to_owned(),
        };
        let plain = serde_json::to_vec(&state)
            .map_err(|e| OidcError::BadState(format!("cannot record the sign-in: {e}")))?;
        let details = &state.details;
        Ok(DeviceStarted {
            user_code: details.user_code().secret().clone(),
            verification_uri: details.verification_uri().to_string(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|u| u.secret().clone()),
            interval_secs: details.interval().as_secs(),
            expires_in_secs: expires_in.as_secs(),
            handle: key.seal(DEVICE_PURPOSE, &plain),
        })
    }

    /// Polls the provider's token endpoint once for the device sign-in `handle`; when the
    /// person has finished there, verifies the ID token.
    pub async fn device_poll(&self, key: &SealKey, handle: &str) -> Result<DevicePoll, OidcError> {
        let url = self.device_url.clone().ok_or(OidcError::NoDeviceFlow)?;
        let plain = key.open(DEVICE_PURPOSE, handle).map_err(|_| {
            OidcError::BadState(
                "the device sign-in handle is not one this broker issued".to_owned(),
            )
        })?;
        let state: DeviceState = serde_json::from_slice(&plain).map_err(|_| {
            OidcError::BadState("the device sign-in handle is unreadable".to_owned())
        })?;
        if self.now().unix_timestamp() > state.expires {
            return Err(OidcError::BadState(
                "the device code expired before the sign-in was completed".to_owned(),
            ));
        }
        let client = self.client.clone().set_device_authorization_url(url);
        let start_interval = state.details.interval();
        // The library polls in a loop, sleeping between polls through the function it is
        // given. The broker polls once per call of the CLI: the first "sleep" reports the
        // interval the library chose (larger after `slow_down`) and ends the call.
        let asked: Arc<Mutex<Option<std::time::Duration>>> = Arc::new(Mutex::new(None));
        let woken = Arc::new(tokio::sync::Notify::new());
        let (asked_in, woken_in) = (Arc::clone(&asked), Arc::clone(&woken));
        let request = client
            .exchange_device_access_token(&state.details)
            .map_err(|e| OidcError::Unreachable(e.to_string()))?
            .request_async(
                &self.http,
                move |interval| {
                    *asked_in
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(interval);
                    woken_in.notify_one();
                    std::future::pending::<()>()
                },
                None,
            );
        let response = tokio::select! {
            result = request => result.map_err(|e| token_error(&e))?,
            () = woken.notified() => {
                let interval = asked
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .unwrap_or(start_interval);
                return Ok(DevicePoll::Pending {
                    interval_secs: interval.as_secs().max(1),
                    slow_down: interval > start_interval,
                });
            }
        };
        // An access token alone says nothing about who signed in: the ID token is required.
        let token = response.id_token().ok_or_else(|| {
            OidcError::BadIdToken(
                "the token response has no ID token (is `openid` among the scopes?)".to_owned(),
            )
        })?;
        Ok(DevicePoll::Done {
            identity: self.verify(token, None)?,
            token_name: state.token_name,
        })
    }
}

/// How long after a failed discovery the next sign-in tries again.
const REDISCOVER_AFTER: Duration = Duration::seconds(30);
/// How long a discovery document and its JWKS are used before they are read again, so a
/// provider's new signing keys are picked up without a restart.
pub const REFRESH_AFTER: Duration = Duration::hours(1);

/// A discovered client and when it was discovered.
struct Discovered {
    oidc: Arc<Oidc>,
    at: OffsetDateTime,
}

/// The configured provider, discovered on first use and again every [`REFRESH_AFTER`]: the
/// broker starts (and its local accounts work) while the identity provider is down, SSO
/// sign-in starts working once the provider answers, and rotated signing keys are picked up,
/// all without a restart. While a refresh fails, the last discovered client stays in use.
pub struct OidcProvider {
    config: OidcConfig,
    client_secret: String,
    responders: Vec<Responder>,
    clock: Arc<dyn Clock>,
    discovered: tokio::sync::Mutex<Option<Discovered>>,
    failed_at: Mutex<Option<OffsetDateTime>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// The provider of `config`, with the client secret read from its variable, mapping
    /// subjects to `responders`. Nothing is fetched yet.
    pub fn new(
        config: OidcConfig,
        client_secret: String,
        responders: Vec<Responder>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            client_secret,
            responders,
            clock,
            discovered: tokio::sync::Mutex::new(None),
            failed_at: Mutex::new(None),
        }
    }

    /// The discovered client: the one in hand if it is younger than [`REFRESH_AFTER`], else
    /// discovered again (at most once per 30 seconds while the provider fails;
    /// meanwhile the previous client, if any, is used).
    pub async fn get(&self) -> Result<Arc<Oidc>, OidcError> {
        let mut discovered = self.discovered.lock().await;
        let now = self.clock.now();
        let previous = discovered.as_ref().map(|d| Arc::clone(&d.oidc));
        if let Some(d) = discovered.as_ref()
            && now - d.at < REFRESH_AFTER
        {
            return Ok(Arc::clone(&d.oidc));
        }
        let failed_recently = self
            .failed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| now - at < REDISCOVER_AFTER);
        if failed_recently {
            return previous.ok_or_else(|| {
                OidcError::Unreachable(format!(
                    "discovery at `{}` failed moments ago; try again in a minute",
                    self.config.issuer
                ))
            });
        }
        match Oidc::discover(
            self.config.clone(),
            self.client_secret.clone(),
            self.responders.clone(),
            Arc::clone(&self.clock),
        )
        .await
        {
            Ok(mut oidc) => {
                if let Some(previous) = &previous {
                    oidc.spent_nonces = Arc::clone(&previous.spent_nonces);
                }
                let oidc = Arc::new(oidc);
                *discovered = Some(Discovered {
                    oidc: Arc::clone(&oidc),
                    at: now,
                });
                Ok(oidc)
            }
            Err(e) => {
                *self
                    .failed_at
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(now);
                match previous {
                    Some(previous) => {
                        tracing::warn!(error = %e, "the identity provider's discovery failed; the last one read stays in use");
                        Ok(previous)
                    }
                    None => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
