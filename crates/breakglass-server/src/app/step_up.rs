//! The calls that need a TOTP step-up, as both surfaces make them: the code is checked by
//! authentication for exactly the change it authorises (`Approving::purpose`, break-glass),
//! then handed to the use case, which spends it in the change's own commit. The API and the
//! console call these instead of each repeating the sequence.

use breakglass_core::app::{Approving, Ask};
use breakglass_core::broker::Outcome;
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::model::RequestId;

use super::{AppError, AppState};
use crate::auth::Principal;

/// Approves request `id` (or its pending extension) as `p`, bound to the digest `p`
/// reviewed, after checking `code` for that approval.
pub async fn approve(
    s: &AppState,
    p: &Principal,
    id: &RequestId,
    subject: Approving,
    digest: &str,
    code: &str,
    comment: String,
) -> Result<Outcome, AppError> {
    let digest = Sha256Digest::from_hex(digest)
        .map_err(|e| AppError::bad_request(format!("invalid digest: {e}")))?;
    let step_up = s.auth.check_totp_for(p, code, &subject.purpose(id)).await?;
    Ok(s.app
        .approve(&p.caller(), id, subject, digest, comment, step_up)
        .await?)
}

/// Activates emergency access for `ask` as `p` after checking `code`; a refused code is
/// still a (refused, alerting) attempt.
pub async fn break_glass(
    s: &AppState,
    p: &Principal,
    ask: &Ask<'_>,
    code: &str,
) -> Result<Outcome, AppError> {
    let step_up = s
        .auth
        .check_totp_for(p, code, s.app.break_glass_purpose())
        .await;
    Ok(s.app.break_glass(&p.caller(), ask, step_up).await?)
}
