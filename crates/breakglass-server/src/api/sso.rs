//! The CLI's sign-in through the identity provider (`breakglass login --sso`): the device
//! authorization grant (RFC 8628) proxied by the broker, so the client secret never leaves
//! it. The CLI starts the grant, shows the person the provider's page and code, and polls
//! the broker, which polls the provider once per call and, when the person is done, checks
//! the ID token, maps them to a responder and mints a broker token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use breakglass_api::{SsoDeviceBody, SsoDeviceStart, SsoTokenBody, SsoTokenReply};

use super::handlers::new_token;
use crate::app::extract::Body;
use crate::app::extract::ClientAddr;
use crate::app::{AppError, AppState};
use crate::auth::oidc::{DevicePoll, Flow, Oidc};

type St = State<Arc<AppState>>;

async fn configured(s: &AppState) -> Result<Arc<Oidc>, AppError> {
    let provider = s.oidc.as_ref().ok_or_else(|| {
        AppError::new(
            StatusCode::NOT_FOUND,
            "sso_not_configured",
            "this broker has no identity provider configured (`[auth.oidc]`): sign in with `breakglass login` and a password",
        )
    })?;
    Ok(provider.get().await?)
}

/// `POST /api/v1/login/sso/device`
pub async fn device_start(
    State(s): St,
    Body(b): Body<SsoDeviceBody>,
) -> Result<Response, AppError> {
    let name = b.token_name.as_deref().map_or("sso device", str::trim);
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::bad_request(
            "a token name must be 1 to 100 characters",
        ));
    }
    let oidc = configured(&s).await?;
    let started = oidc.device_start(s.auth.seal_key(), name).await?;
    Ok(Json(SsoDeviceStart {
        user_code: started.user_code,
        verification_uri: started.verification_uri,
        verification_uri_complete: started.verification_uri_complete,
        interval: started.interval_secs,
        expires_in: started.expires_in_secs,
        handle: started.handle,
    })
    .into_response())
}

/// `POST /api/v1/login/sso/token`
pub async fn device_token(
    State(s): St,
    client: ClientAddr,
    Body(b): Body<SsoTokenBody>,
) -> Result<Response, AppError> {
    let oidc = configured(&s).await?;
    let (identity, token_name) = match oidc.device_poll(s.auth.seal_key(), &b.handle).await? {
        DevicePoll::Pending {
            interval_secs,
            slow_down,
        } => {
            return Ok(Json(SsoTokenReply::Pending {
                interval: interval_secs,
                slow_down,
            })
            .into_response());
        }
        DevicePoll::Done {
            identity,
            token_name,
        } => (identity, token_name),
    };
    let mapped = oidc.map(&identity);
    let token = s
        .auth
        .sso_sign_in(
            &identity,
            mapped,
            Flow::Device,
            Some(&token_name),
            &client.to_string(),
        )
        .await?;
    Ok(Json(SsoTokenReply::SignedIn {
        token: new_token(&token),
    })
    .into_response())
}
