//! The ID-token checks and the subject mapping, on tokens signed with a test key whose JWKS
//! the test hands the client as discovery would. Every forged token is made by the
//! `openidconnect` crate's own signer (or, for `alg: none`, is unsigned by definition).

use std::sync::Arc;

use breakglass_config::{OidcConfig, OidcSubject};
use breakglass_core::model::{Catalog, Username};
use breakglass_core::ports::ManualClock;
use breakglass_testkit::oidc::{OTHER_SIGNING_KEY_PEM, TEST_SIGNING_KEY_PEM};
use openidconnect::core::{
    CoreJwsSigningAlgorithm, CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
};
use openidconnect::{
    Audience, AuthUrl, EndUserEmail, IssuerUrl, JsonWebKeyId, JsonWebKeySet, JsonWebKeySetUrl,
    Nonce, PrivateSigningKey as _, ResponseTypes, StandardClaims, SubjectIdentifier,
};
use time::{Duration, OffsetDateTime};

use super::{DeviceEndpoint, ExtraClaims, IdToken, IdTokenClaims, Metadata, Oidc, OidcError};

const ISSUER: &str = "https://idp.example.test";
const CLIENT: &str = "breakglass";

fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn chrono_at(t: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap()
}

fn signing_key(pem: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new("test-key".to_owned()))).unwrap()
}

fn config(subject: OidcSubject, groups_claim: Option<&str>) -> OidcConfig {
    OidcConfig {
        issuer: ISSUER.to_owned(),
        client_id: CLIENT.to_owned(),
        client_secret_env: "UNUSED".to_owned(),
        scopes: vec!["openid".to_owned(), "email".to_owned()],
        groups_claim: groups_claim.map(str::to_owned),
        subject,
        redirect_url: "https://breakglass.example.test/console/oidc/callback".to_owned(),
    }
}

/// The client as discovery would build it, trusting the test key only.
fn oidc_with(subject: OidcSubject, groups_claim: Option<&str>) -> (Oidc, Arc<ManualClock>) {
    let metadata = Metadata::new(
        IssuerUrl::new(ISSUER.to_owned()).unwrap(),
        AuthUrl::new(format!("{ISSUER}/auth")).unwrap(),
        JsonWebKeySetUrl::new(format!("{ISSUER}/jwks")).unwrap(),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        DeviceEndpoint::default(),
    )
    .set_jwks(JsonWebKeySet::new(vec![
        signing_key(TEST_SIGNING_KEY_PEM).as_verification_key(),
    ]));
    let catalog: Catalog = serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let oidc = Oidc::new(
        metadata,
        config(subject, groups_claim),
        "client-secret".to_owned(),
        catalog.responders,
        clock.clone(),
        super::http_client().unwrap(),
    )
    .unwrap();
    (oidc, clock)
}

fn oidc() -> Oidc {
    oidc_with(OidcSubject::Email, Some("groups")).0
}

/// What a token says; each test changes one thing from the good default.
struct Claims {
    issuer: &'static str,
    audience: &'static str,
    issued: OffsetDateTime,
    expires: OffsetDateTime,
    nonce: Option<&'static str>,
    email: &'static str,
    groups: serde_json::Value,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            issuer: ISSUER,
            audience: CLIENT,
            issued: start() - Duration::minutes(1),
            expires: start() + Duration::minutes(59),
            nonce: Some("nonce-1"),
            email: "alice@example.com",
            groups: serde_json::json!(["responders", "everyone"]),
        }
    }
}

fn sign(claims: Claims, pem: &str) -> String {
    let mut extra = ExtraClaims::default();
    extra.other.insert("groups".to_owned(), claims.groups);
    let claims = IdTokenClaims::new(
        IssuerUrl::new(claims.issuer.to_owned()).unwrap(),
        vec![Audience::new(claims.audience.to_owned())],
        chrono_at(claims.expires),
        chrono_at(claims.issued),
        StandardClaims::new(SubjectIdentifier::new("00u-alice".to_owned()))
            .set_email(Some(EndUserEmail::new(claims.email.to_owned())))
            .set_email_verified(Some(true)),
        extra,
    )
    .set_nonce(claims.nonce.map(|n| Nonce::new(n.to_owned())));
    let token = IdToken::new(
        claims,
        &signing_key(pem),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .unwrap();
    token.to_string()
}

fn good(claims: Claims) -> String {
    sign(claims, TEST_SIGNING_KEY_PEM)
}

fn nonce() -> Nonce {
    Nonce::new("nonce-1".to_owned())
}

fn refused(result: Result<super::Identity, OidcError>, says: &str) {
    match result {
        Err(OidcError::BadIdToken(why)) => {
            assert!(
                why.to_lowercase().contains(says),
                "refused, but for `{why}`, not `{says}`"
            );
        }
        other => panic!("expected the token refused for `{says}`, got {other:?}"),
    }
}

#[test]
fn a_good_token_names_its_subject_email_and_groups() {
    let identity = oidc()
        .verify_text(&good(Claims::default()), Some(&nonce()))
        .unwrap();
    assert_eq!(identity.issuer, ISSUER);
    assert_eq!(identity.subject, "00u-alice");
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(
        identity.groups,
        Some(vec!["responders".to_owned(), "everyone".to_owned()])
    );
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    let token = good(Claims {
        issuer: "https://evil.example.test",
        ..Claims::default()
    });
    refused(oidc().verify_text(&token, Some(&nonce())), "issuer");
}

#[test]
fn a_token_for_another_client_is_refused() {
    let token = good(Claims {
        audience: "some-other-app",
        ..Claims::default()
    });
    refused(oidc().verify_text(&token, Some(&nonce())), "audience");
}

#[test]
fn an_expired_token_is_refused() {
    let (oidc, clock) = oidc_with(OidcSubject::Email, None);
    let token = good(Claims::default());
    clock.advance(Duration::hours(1));
    refused(oidc.verify_text(&token, Some(&nonce())), "expired");
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    let token = sign(Claims::default(), OTHER_SIGNING_KEY_PEM);
    refused(oidc().verify_text(&token, Some(&nonce())), "signature");
}

#[test]
fn a_token_whose_payload_was_altered_is_refused() {
    let token = good(Claims::default());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let forged = good(Claims {
        email: "carol@example.com",
        ..Claims::default()
    });
    // Carol's claims under Alice's signature.
    parts[1] = forged.split('.').nth(1).unwrap().to_owned();
    refused(
        oidc().verify_text(&parts.join("."), Some(&nonce())),
        "signature",
    );
}

#[test]
fn an_unsigned_alg_none_token_is_refused() {
    // base64url of `{"alg":"none","typ":"JWT"}`, over a good token's claims, no signature.
    const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let signed = good(Claims::default());
    let payload = signed.split('.').nth(1).unwrap();
    let token = format!("{NONE_HEADER}.{payload}.");
    let result = oidc().verify_text(&token, Some(&nonce()));
    // The library refuses it for want of a signature ("No signature found").
    refused(result, "no signature");
}

#[test]
fn a_token_with_another_sign_ins_nonce_is_refused() {
    let token = good(Claims {
        nonce: Some("nonce-of-an-earlier-sign-in"),
        ..Claims::default()
    });
    refused(oidc().verify_text(&token, Some(&nonce())), "nonce");
    let without = good(Claims {
        nonce: None,
        ..Claims::default()
    });
    refused(oidc().verify_text(&without, Some(&nonce())), "nonce");
}

#[test]
fn a_replayed_nonce_is_refused_the_second_time() {
    let oidc = oidc();
    let token = good(Claims::default());
    oidc.verify_text(&token, Some(&nonce())).unwrap();
    let again = oidc.verify_text(&token, Some(&nonce()));
    assert!(matches!(again, Err(OidcError::Replayed)), "{again:?}");
}

#[test]
fn a_responder_is_found_by_email_without_case() {
    let oidc = oidc();
    let identity = oidc
        .verify_text(
            &good(Claims {
                email: "Alice@Example.com",
                ..Claims::default()
            }),
            Some(&nonce()),
        )
        .unwrap();
    assert_eq!(
        oidc.map(&identity).unwrap(),
        Username::new("alice").unwrap()
    );
}

#[test]
fn an_unknown_email_is_refused_with_what_to_do() {
    let oidc = oidc();
    let identity = oidc
        .verify_text(
            &good(Claims {
                email: "stranger@elsewhere.example",
                ..Claims::default()
            }),
            Some(&nonce()),
        )
        .unwrap();
    let refusal = oidc.map(&identity).unwrap_err();
    assert_eq!(refusal.username, None);
    assert!(
        refusal
            .reason
            .contains("`stranger@elsewhere.example` is not the email of any responder")
            && refusal.reason.contains("ask a broker administrator"),
        "{}",
        refusal.reason
    );
}

#[test]
fn a_responder_in_none_of_their_groups_at_the_provider_is_refused() {
    let oidc = oidc();
    let identity = oidc
        .verify_text(
            &good(Claims {
                groups: serde_json::json!(["marketing"]),
                ..Claims::default()
            }),
            Some(&nonce()),
        )
        .unwrap();
    let refusal = oidc.map(&identity).unwrap_err();
    assert_eq!(refusal.username, Some(Username::new("alice").unwrap()));
    assert!(
        refusal.reason.contains("`responders`"),
        "{}",
        refusal.reason
    );
}

#[test]
fn a_token_without_the_groups_claim_is_refused_when_one_is_configured() {
    let oidc = oidc();
    let mut identity = oidc
        .verify_text(&good(Claims::default()), Some(&nonce()))
        .unwrap();
    identity.groups = None;
    let refusal = oidc.map(&identity).unwrap_err();
    assert!(
        refusal.reason.contains("no `groups` claim"),
        "{}",
        refusal.reason
    );
}

#[test]
fn an_unverified_email_names_no_one() {
    let oidc = oidc();
    let mut identity = oidc
        .verify_text(&good(Claims::default()), Some(&nonce()))
        .unwrap();
    identity.email_verified = Some(false);
    assert!(oidc.map(&identity).is_err());
}

#[test]
fn by_sub_the_subject_is_the_username() {
    let (oidc, _) = oidc_with(OidcSubject::Sub, None);
    let mut identity = oidc
        .verify_text(&good(Claims::default()), Some(&nonce()))
        .unwrap();
    assert!(oidc.map(&identity).is_err(), "`00u-alice` is no username");
    identity.subject = "carol".to_owned();
    assert_eq!(
        oidc.map(&identity).unwrap(),
        Username::new("carol").unwrap()
    );
}
