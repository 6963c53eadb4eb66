//! What to ask STS for when a grant's credentials are fetched: the [`IssueRequest`] for a
//! live grant at a given time.
//!
//! The domain decides the role session name (the grant id), the `SourceIdentity` (the
//! responder), the session tags and the duration (the grant's remaining time, less an
//! allowance for clock skew so the session never outlives the grant); the AWS adapter then
//! checks STS's limits and clamps the duration to the role's maximum.

use time::{Duration, OffsetDateTime};

use crate::cloud::IssueRequest;
use crate::model::RequestId;
use crate::request::{AccessRequest, Status};

/// Session tag carrying the incident id.
pub const TAG_INCIDENT: &str = "IncidentId";
/// Session tag carrying the grant id.
pub const TAG_GRANT: &str = "GrantId";
/// Session tag carrying the requester's username.
pub const TAG_REQUESTER: &str = "Requester";

/// The longest session tag value STS accepts.
pub const MAX_TAG_VALUE: usize = 256;

/// The shortest session STS issues.
pub const MIN_SESSION: Duration = Duration::seconds(900);

/// How much earlier than the grant's end a session is made to end, so that a clock
/// difference between the broker and STS cannot make it outlive the grant.
pub const SKEW_ALLOWANCE: Duration = Duration::seconds(5);

/// Why no credentials can be issued for a request now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuanceError {
    /// The request has no live grant.
    #[error(
        "request `{request}` is {status}, not active: credentials are issued for active grants only"
    )]
    NotActive {
        /// The request.
        request: RequestId,
        /// Its status name.
        status: &'static str,
    },
    /// The grant has ended (the expiry sweep may not have recorded it yet).
    #[error("the grant of request `{request}` ended at {end}")]
    Ended {
        /// The request.
        request: RequestId,
        /// When it ended.
        end: OffsetDateTime,
    },
    /// Too little time is left for the shortest session STS issues.
    #[error(
        "the grant of request `{request}` has {remaining} left, less than the 900-second minimum STS session (plus a {allowance} clock allowance); ask for an extension or a new request"
    )]
    TooLittleTimeLeft {
        /// The request.
        request: RequestId,
        /// The time left on the grant.
        remaining: Duration,
        /// The clock-skew allowance.
        allowance: Duration,
    },
}

/// Whether `c` is in the session tag charset `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn tag_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
            || matches!(c, ' ' | '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    } else {
        // Letters, numbers and space separators; controls and marks are not allowed.
        (c.is_alphanumeric() || (c.is_whitespace() && !c.is_control())) && !is_mark(c)
    }
}

/// Combining marks (`\p{M}`) in the common blocks; `char::is_alphabetic` includes some.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// `value` made acceptable as a session tag value: characters outside the tag charset
/// become `_`, and it is cut to 256 characters.
pub fn sanitize_tag_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if tag_char(c) { c } else { '_' })
        .take(MAX_TAG_VALUE)
        .collect()
}

/// Whether `value` is already a valid session tag value.
pub fn is_valid_tag_value(value: &str) -> bool {
    value.chars().count() <= MAX_TAG_VALUE && value.chars().all(tag_char)
}

/// The `AssumeRole` call for `request`'s live grant at `now`. The duration is the grant's
/// remaining time less [`SKEW_ALLOWANCE`], in whole seconds; the adapter may shorten it
/// further to the role's maximum, never lengthen it.
pub fn issue_request(
    request: &AccessRequest,
    now: OffsetDateTime,
) -> Result<IssueRequest, IssuanceError> {
    let grant = match (&request.status, &request.grant) {
        (Status::Active, Some(g)) => g,
        (status, _) => {
            return Err(IssuanceError::NotActive {
                request: request.id.clone(),
                status: status.name(),
            });
        }
    };
    if now >= grant.end {
        return Err(IssuanceError::Ended {
            request: request.id.clone(),
            end: grant.end,
        });
    }
    let remaining = grant.end - now;
    let duration = Duration::seconds((remaining - SKEW_ALLOWANCE).whole_seconds());
    if duration < MIN_SESSION {
        return Err(IssuanceError::TooLittleTimeLeft {
            request: request.id.clone(),
            remaining: Duration::seconds(remaining.whole_seconds()),
            allowance: SKEW_ALLOWANCE,
        });
    }
    let spec = &request.spec;
    let session_policy = Some(spec.session_policy.clone()).filter(|p| !p.trim().is_empty());
    Ok(IssueRequest {
        grant: grant.id.clone(),
        role_arn: spec.role_arn.to_string(),
        source_identity: spec.requester.to_string(),
        tags: vec![
            (
                TAG_INCIDENT.to_owned(),
                sanitize_tag_value(spec.incident.as_str()),
            ),
            (TAG_GRANT.to_owned(), sanitize_tag_value(grant.id.as_str())),
            (
                TAG_REQUESTER.to_owned(),
                sanitize_tag_value(spec.requester.as_str()),
            ),
        ],
        session_policy,
        duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values_are_sanitized_and_capped() {
        assert_eq!(sanitize_tag_value("INC-2024/001 é"), "INC-2024/001 é");
        assert_eq!(sanitize_tag_value("a;b<c>\"d\"\n"), "a_b_c__d__");
        assert_eq!(sanitize_tag_value(&"x".repeat(300)).chars().count(), 256);
        assert!(is_valid_tag_value(&sanitize_tag_value("a\u{0301}\u{7}b")));
        assert!(!is_valid_tag_value("a;b"));
    }
}
