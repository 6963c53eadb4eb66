//! The calls that need a step-up (a TOTP code or a passkey), as both surfaces make them: the
//! answer is checked by authentication for exactly the change it authorises (`Approving::purpose`, break-glass,
//! a review sign-off, the first credentials of a break-glass grant),
//! then handed to the use case, which spends it in the change's own commit. The API and the
//! console call these instead of each repeating the sequence.

use breakglass_core::app::{
    Approving, Ask, RevokedAll, credentials_purpose, review_purpose, revoke_all_purpose,
};
use breakglass_core::audit::events::AccountChange;
use breakglass_core::broker::Outcome;
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::cloud::{IssuedCredentials, Secret};
use breakglass_core::model::{RequestId, ReviewOutcome, RoleArn};
use breakglass_core::ports::StepUp;

use super::{AppError, AppState};
use crate::auth::{Answer, Principal};

/// Approves request `id` (or its pending extension) as `p`, bound to the digest `p`
/// reviewed, after checking `answer` for that approval.
pub async fn approve(
    s: &AppState,
    p: &Principal,
    id: &RequestId,
    subject: Approving,
    digest: &str,
    answer: Answer<'_>,
    comment: String,
) -> Result<Outcome, AppError> {
    let digest = Sha256Digest::from_hex(digest)
        .map_err(|e| AppError::bad_request(format!("invalid digest: {e}")))?;
    let step_up = s
        .auth
        .check_step_up_for(p, answer, &subject.purpose(id))
        .await?;
    Ok(s.app
        .approve(&p.caller(), id, subject, digest, comment, step_up)
        .await?)
}

/// Activates emergency access for `ask` as `p` after checking `answer`; a refused one is
/// still a (refused, alerting) attempt.
pub async fn break_glass(
    s: &AppState,
    p: &Principal,
    ask: &Ask<'_>,
    answer: Answer<'_>,
) -> Result<Outcome, AppError> {
    let step_up = s
        .auth
        .check_step_up_for(p, answer, s.app.break_glass_purpose())
        .await;
    Ok(s.app.break_glass(&p.caller(), ask, step_up).await?)
}

/// Signs off the review of break-glass request `id` as `p` after checking `answer` for it.
pub async fn review(
    s: &AppState,
    p: &Principal,
    id: &RequestId,
    outcome: ReviewOutcome,
    notes: &str,
    answer: Answer<'_>,
) -> Result<Outcome, AppError> {
    let step_up = s
        .auth
        .check_step_up_for(p, answer, &review_purpose(id))
        .await?;
    Ok(s.app
        .review(&p.caller(), id, outcome, notes, step_up)
        .await?)
}

/// The step-up for the first credentials of request `id`'s grant, when one is given (the
/// use case decides whether one is needed).
async fn mint_step_up(
    s: &AppState,
    p: &Principal,
    id: &RequestId,
    answer: Answer<'_>,
) -> Result<Option<StepUp>, AppError> {
    if answer.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        s.auth
            .check_step_up_for(p, answer, &credentials_purpose(id))
            .await?,
    ))
}

/// Mints credentials for request `id`'s grant as `p`, with the step-up `answer` gives.
pub async fn credentials(
    s: &AppState,
    p: &Principal,
    id: &RequestId,
    answer: Answer<'_>,
) -> Result<IssuedCredentials, AppError> {
    let step_up = mint_step_up(s, p, id, answer).await?;
    Ok(s.app.credentials(&p.caller(), id, step_up).await?)
}

/// A console sign-in URL for request `id`'s grant as `p`, with the step-up `answer` gives.
pub async fn console_url(
    s: &AppState,
    p: &Principal,
    id: &RequestId,
    destination: &str,
    answer: Answer<'_>,
) -> Result<Secret, AppError> {
    let step_up = mint_step_up(s, p, id, answer).await?;
    Ok(s.app
        .console_url(&p.caller(), id, destination, step_up)
        .await?)
}

/// Revokes every session of `role` as administrator `p` after checking `answer` for it.
pub async fn revoke_all(
    s: &AppState,
    p: &Principal,
    role: &RoleArn,
    reason: &str,
    answer: Answer<'_>,
) -> Result<RevokedAll, AppError> {
    p.caller().require_admin()?;
    let step_up = s
        .auth
        .check_step_up_for(p, answer, &revoke_all_purpose(role))
        .await?;
    Ok(s.app.revoke_all(&p.caller(), role, reason, step_up).await?)
}

/// What an administrator's change to an account did.
#[derive(Debug)]
pub struct Administered {
    /// The invitation through which a user whose second factor was reset sets a new
    /// password (shown once).
    pub invitation: Option<crate::auth::Invitation>,
    /// The requests of a disabled user that were revoked (their AWS sessions cut off).
    pub revoked: Vec<RequestId>,
}

/// Applies administrator `p`'s `change` to the account `user` after checking `answer` for it.
/// Disabling also revokes the user's approved and active requests, cutting off the AWS
/// sessions their broker tokens no longer reach; a grant that cannot be revoked is an
/// error naming it (the account stays disabled: run `revoke --grant` for it).
pub async fn administer(
    s: &AppState,
    p: &Principal,
    user: &str,
    change: AccountChange,
    answer: Answer<'_>,
) -> Result<Administered, AppError> {
    let invitation = s.auth.administer(p, user, change, answer).await?;
    let mut revoked = Vec::new();
    if change == AccountChange::Disabled {
        let who = breakglass_core::model::Username::new(user)
            .map_err(|e| AppError::bad_request(format!("invalid username: {e}")))?;
        let (done, failed) = s
            .app
            .revoke_grants_of(&p.caller(), &who, &format!("account `{user}` disabled"))
            .await?;
        if !failed.is_empty() {
            let detail: Vec<String> = failed.iter().map(|(id, e)| format!("{id}: {e}")).collect();
            let mut e = AppError::internal(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "revoke_incomplete",
                &detail.join("; "),
            );
            let ids: Vec<&str> = failed.iter().map(|(id, _)| id.as_str()).collect();
            e.message = format!(
                "`{user}` is disabled, but {} of their grants could not be revoked ({}); revoke them with `breakglass revoke --grant`; {}",
                ids.len(),
                ids.join(", "),
                e.message
            );
            return Err(e);
        }
        revoked = done;
    }
    Ok(Administered {
        invitation,
        revoked,
    })
}
