//! What to ask STS for when a grant's credentials are fetched: the [`IssueRequest`] for a
//! live grant at a given time.
//!
//! The domain decides the role session name (the grant id), the `SourceIdentity` (the
//! responder), the session tags and the duration (the grant's remaining time, less an
//! allowance for clock skew so the session never outlives the grant); the AWS adapter then
//! checks STS's limits (`crate::aws_limits`, as the domain does) and clamps the duration to the role's maximum.

use time::{Duration, OffsetDateTime};

use crate::aws_limits::{self, sanitize_tag_value};
use crate::cloud::IssueRequest;
use crate::model::RequestId;
use crate::request::{AccessRequest, Status};

/// Session tag carrying the incident id.
pub const TAG_INCIDENT: &str = "IncidentId";
/// Session tag carrying the grant id.
pub const TAG_GRANT: &str = "GrantId";
/// Session tag carrying the requester's username.
pub const TAG_REQUESTER: &str = "Requester";

/// The shortest session STS issues ([`aws_limits::MIN_ASSUME_ROLE_DURATION`]).
pub const MIN_SESSION: Duration = aws_limits::MIN_ASSUME_ROLE_DURATION;

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
        "the grant of request `{request}` has {remaining} left, less than the {}-second minimum STS session (plus a {allowance} clock allowance); ask for an extension or a new request",
        aws_limits::MIN_ASSUME_ROLE_SECONDS
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

/// The console hosts a sign-in URL may land on: the AWS console of the commercial, GovCloud
/// and China partitions, and their regional hosts (`us-east-1.console.aws.amazon.com`).
/// The federation endpoint's `Destination` is "the URL for the desired AWS console page"
/// (IAM User Guide, "Enable custom identity broker access to the AWS console"); anything
/// else would make the broker's sign-in URL an open redirect carrying a live session.
const CONSOLE_HOSTS: [&str; 3] = [
    "console.aws.amazon.com",
    "console.amazonaws-us-gov.com",
    "console.amazonaws.cn",
];

/// Checks a console sign-in destination: an `https://` URL (no user name or password in it)
/// whose host is an AWS console host ([`CONSOLE_HOSTS`]) or a subdomain of one. Returns
/// what is wrong, naming the destination.
pub fn console_destination(destination: &str) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "invalid console destination `{destination}`: {why}"
        ))
    };
    let Ok(url) = url::Url::parse(destination) else {
        return refuse("not a URL");
    };
    if url.scheme() != "https" {
        return refuse("it must be an https:// URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("it must not carry a user name or password");
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return refuse("its host must be an AWS console host, not an address");
    };
    let host = host.to_ascii_lowercase();
    let ok = CONSOLE_HOSTS.iter().any(|c| {
        host == *c
            || host
                .strip_suffix(c)
                .is_some_and(|prefix| prefix.ends_with('.'))
    });
    if !ok {
        return refuse(&format!(
            "its host must be an AWS console host ({})",
            CONSOLE_HOSTS.join(", ")
        ));
    }
    Ok(())
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
    use crate::aws_limits::is_valid_tag_value;

    #[test]
    fn tag_values_are_sanitized_and_capped() {
        assert_eq!(sanitize_tag_value("INC-2024/001 é"), "INC-2024/001 é");
        assert_eq!(sanitize_tag_value("a;b<c>\"d\"\n"), "a_b_c__d__");
        assert_eq!(sanitize_tag_value(&"x".repeat(300)).chars().count(), 256);
        assert!(is_valid_tag_value(&sanitize_tag_value("a\u{0301}\u{7}b")));
        assert!(!is_valid_tag_value("a;b"));
    }
}
