//! The extractors the JSON handlers share: who is calling ([`Principal`] from a bearer token,
//! [`Admin`] for an administrator), from where ([`ClientAddr`]), the JSON body ([`Body`]) and
//! typed path ids ([`PathId`]). Each rejection is an [`AppError`] with a stable code, so a
//! handler only ever sees input that is well formed and a caller who is authenticated.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use breakglass_core::model::{GrantId, IdError, RequestId};
use serde::de::DeserializeOwned;

use super::{AppError, AppState, MAX_BODY};
use crate::auth::Principal;

/// The bearer token's holder, whether or not their sign-in passed a second factor: for the
/// few routes a user without one may use (who am I, enrol an authenticator, list and revoke
/// their tokens). Every other route takes a [`Principal`].
#[derive(Debug, Clone)]
pub struct Enrolling(pub Principal);

impl FromRequestParts<Arc<AppState>> for Enrolling {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "missing `Authorization: Bearer` API token; run `breakglass login`",
                )
            })?;
        Ok(Self(state.auth.authenticate(token.trim()).await?))
    }
}

/// The holder of a bearer token whose sign-in passed a second factor; a token minted
/// without one is refused with `second_factor_required` (it may only enrol one).
impl FromRequestParts<Arc<AppState>> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Enrolling(p) = Enrolling::from_request_parts(parts, state).await?;
        p.require_second_factor()?;
        Ok(p)
    }
}

/// An authenticated administrator; anyone else is refused with `forbidden`.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let p = Principal::from_request_parts(parts, state).await?;
        p.caller().require_admin()?;
        Ok(Self(p))
    }
}

/// The client's IP address: the TCP peer, or, when the peer is a trusted proxy, the client it
/// names in `X-Forwarded-For` (see `app::client`). `None` when the connection's address
/// is not known (a router driven without `ConnectInfo`, as in tests); it then shows as
/// `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("unknown"),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(
            |c| state.console.client_address(c.0.ip(), &parts.headers),
        )))
    }
}

/// A JSON body of type `T`. An empty body reads as `{}` (every field defaulted or missing);
/// malformed JSON or an unknown field is `bad_request` naming the problem; a body over
/// [`MAX_BODY`] is `payload_too_large`.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body exceeds {MAX_BODY} bytes"),
            )
        })?;
        let body: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
        serde_json::from_slice(body)
            .map(Self)
            .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// An id that a path segment names, validated.
pub trait Id: Sized {
    /// What the id is called in errors (`request id`).
    const KIND: &'static str;
    /// Parses it.
    fn parse(text: String) -> Result<Self, IdError>;
}

impl Id for RequestId {
    const KIND: &'static str = "request id";
    fn parse(text: String) -> Result<Self, IdError> {
        Self::new(text)
    }
}

impl Id for GrantId {
    const KIND: &'static str = "grant id";
    fn parse(text: String) -> Result<Self, IdError> {
        Self::new(text)
    }
}

/// Parses `text` as an id of type `T`; `bad_request` naming the kind when it is not one.
pub fn parse_id<T: Id>(text: &str) -> Result<T, AppError> {
    T::parse(text.to_owned())
        .map_err(|e| AppError::bad_request(format!("invalid {}: {e}", T::KIND)))
}

/// The `{id}` segment of the path, as a `T`.
#[derive(Debug, Clone)]
pub struct PathId<T>(pub T);

impl<T: Id, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::bad_request(format!("invalid {}: {e}", T::KIND)))?;
        parse_id(&text).map(Self)
    }
}
