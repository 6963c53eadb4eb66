//! Cutting off live STS sessions: the inline deny policies the broker writes on a role.
//!
//! STS credentials cannot be recalled, but IAM evaluates the role's policies on every call,
//! so a deny added to the role reaches sessions already issued (DESIGN §3). Two policies:
//!
//! - [`REVOCATIONS_POLICY`] (`BreakglassRevocations`): one consolidated policy per role that
//!   denies everything to the sessions of revoked grants, matched on `aws:userid`
//!   (`ROLEID:GRANTID`, the grant id being the role session name). Another grant's session on
//!   the same role, or the same responder's other grants, are untouched. Entries are pruned
//!   once their sessions have ended, so the role's 10,240-character inline quota is not
//!   reached by old revocations.
//! - [`REVOKE_OLDER_SESSIONS_POLICY`] (`AWSRevokeOlderSessions`): the console's "revoke active
//!   sessions", denying every session issued before a cutoff. The cutoff is passed in and
//!   must be read at revocation time, after everything that could mint a session for the
//!   revoked access; reading it earlier leaves a window where fresh sessions survive.
//!
//! Both names are runtime-managed: `breakglass apply` and `plan` leave them alone
//! ([`RUNTIME_MANAGED_POLICIES`]), since deleting them would resurrect revoked sessions.
//!
//! A role's deny reaches only that role's sessions. A session that assumed another role
//! (role chaining) has another `aws:userid`, and escapes it. The broker stamps every session
//! with the responder's username as `SourceIdentity`, which "persists when a role is used to
//! assume another role" and "cannot be changed during the role session" (IAM User Guide,
//! "Monitor and control actions taken with assumed roles"). So the optional organisation
//! Service Control Policy [`ORGANIZATION_POLICY`] denies everything, in every member
//! account, to any session whose `aws:SourceIdentity` is a revoked responder's
//! ([`organization_deny_document`]): the same deny as the role's, keyed on who instead of
//! which session. An SCP does not bind the management account's own principals, and IAM
//! users or access keys a session created carry no source identity: those are kept from
//! being created by the session policies and guardrails, not by this policy.

use breakglass_iam::size::{self, Limit, Size, TooLarge};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::model::{GrantId, RoleArn};

/// The consolidated per-role deny policy of revoked grants.
pub const REVOCATIONS_POLICY: &str = "BreakglassRevocations";

/// The "revoke every older session" policy, named as the AWS console names it.
pub const REVOKE_OLDER_SESSIONS_POLICY: &str = "AWSRevokeOlderSessions";

/// The organisation Service Control Policy denying revoked responders by `aws:SourceIdentity`.
pub const ORGANIZATION_POLICY: &str = "BreakglassRevokedResponders";

/// The value the organisation policy lists when no responder is revoked: a policy must name
/// at least one value, and this one can never be a source identity (`:` is outside the
/// `SourceIdentity` charset `[\w+=,.@-]`), so it matches no session.
pub const NO_REVOKED_RESPONDER: &str = "breakglass:none";

/// Inline role policies the broker writes at run time, which provisioning must never
/// create, change or delete.
pub const RUNTIME_MANAGED_POLICIES: &[&str] = &[REVOCATIONS_POLICY, REVOKE_OLDER_SESSIONS_POLICY];

/// One revoked grant whose sessions may still be live.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RevocationEntry {
    /// The role the sessions belong to.
    pub role_arn: RoleArn,
    /// The role's unique id (`AROA…`), the first half of `aws:userid`.
    pub role_id: String,
    /// The revoked grant (the role session name).
    pub grant: GrantId,
    /// When the last session the grant could have minted ends; after this the entry is no
    /// longer needed.
    #[serde(with = "time::serde::rfc3339")]
    pub session_end: OffsetDateTime,
}

impl RevocationEntry {
    /// The `aws:userid` of the grant's sessions: `ROLEID:GRANTID`.
    pub fn userid(&self) -> String {
        format!("{}:{}", self.role_id, self.grant)
    }
}

/// Why a revocation policy cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// The role's inline policies would exceed the role quota.
    #[error(
        "cannot write `{policy}` on role `{role}`: {source}; revoke every session of the role instead (`AWSRevokeOlderSessions`) or remove other inline policies"
    )]
    TooLarge {
        /// The policy being written.
        policy: &'static str,
        /// The role's name.
        role: String,
        /// The size problem, naming the 10,240-character limit.
        source: TooLarge,
    },
    /// The organisation policy would exceed the SCP size limit.
    #[error(
        "cannot write the organisation policy `{ORGANIZATION_POLICY}` for {responders} revoked responder(s): {source}"
    )]
    OrganizationTooLarge {
        /// How many responders it would list.
        responders: usize,
        /// The size problem, naming the 5,120-character limit.
        source: TooLarge,
    },
    /// An entry has a role id that cannot be part of `aws:userid`.
    #[error(
        "role id `{0}` of a revocation entry is not an IAM role id (`AROA` then upper-case letters and digits)"
    )]
    BadRoleId(String),
    /// An entry belongs to another role than the policy being written.
    #[error("revocation entry for grant `{grant}` belongs to `{entry_role}`, not `{role}`")]
    WrongRole {
        /// The grant.
        grant: GrantId,
        /// The entry's role.
        entry_role: String,
        /// The role being written.
        role: String,
    },
}

/// Whether `id` looks like an IAM role's unique id.
fn is_role_id(id: &str) -> bool {
    id.len() >= 16
        && id.len() <= 128
        && id.starts_with("AROA")
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Splits `entries` into those still needed at `now` and those whose sessions have ended.
pub fn prune(
    entries: Vec<RevocationEntry>,
    now: OffsetDateTime,
) -> (Vec<RevocationEntry>, Vec<RevocationEntry>) {
    entries.into_iter().partition(|e| e.session_end > now)
}

/// The `BreakglassRevocations` document for `role`'s `entries`, or `None` when no entry is
/// left (the policy should then be deleted). Values are sorted and deduplicated so the same
/// set of entries always gives the same text.
pub fn deny_document(
    role: &RoleArn,
    entries: &[RevocationEntry],
) -> Result<Option<String>, RevocationError> {
    let mut userids = Vec::with_capacity(entries.len());
    for e in entries {
        if &e.role_arn != role {
            return Err(RevocationError::WrongRole {
                grant: e.grant.clone(),
                entry_role: e.role_arn.to_string(),
                role: role.to_string(),
            });
        }
        if !is_role_id(&e.role_id) {
            return Err(RevocationError::BadRoleId(e.role_id.clone()));
        }
        userids.push(e.userid());
    }
    userids.sort();
    userids.dedup();
    if userids.is_empty() {
        return Ok(None);
    }
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "BreakglassRevokedGrants",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": { "StringLike": { "aws:userid": userids } }
        }]
    });
    Ok(Some(doc.to_string()))
}

/// The organisation Service Control Policy ([`ORGANIZATION_POLICY`]) that denies every action,
/// in every member account, to the sessions whose `aws:SourceIdentity` is one of
/// `source_identities` (the revoked responders), chained role sessions included: the same
/// deny as `BreakglassRevocations` (`*` on `*`, no other condition), keyed on the source
/// identity instead of `aws:userid`. Values are sorted and deduplicated; with none, the
/// policy lists [`NO_REVOKED_RESPONDER`], which matches nothing, so it can stay attached.
/// Refused when it would exceed the SCP limit (5,120 characters, every one counted).
pub fn organization_deny_document<'a>(
    source_identities: impl IntoIterator<Item = &'a str>,
) -> Result<String, RevocationError> {
    let mut ids: Vec<&str> = source_identities.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let responders = ids.len();
    if ids.is_empty() {
        ids.push(NO_REVOKED_RESPONDER);
    }
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "BreakglassRevokedResponders",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:SourceIdentity": ids } }
        }]
    })
    .to_string();
    size::check_total(
        &format!("the organisation policy `{ORGANIZATION_POLICY}`"),
        std::iter::once(doc.as_str()),
        Limit::Scp,
    )
    .map_err(|source| RevocationError::OrganizationTooLarge { responders, source })?;
    Ok(doc)
}

/// Checks that writing `document` as `policy` on role `role_name` keeps the role's inline
/// policies within the 10,240-character quota. `others` are the texts of the role's other
/// inline policies (not the one being replaced).
pub fn check_role_quota<'a>(
    policy: &'static str,
    role_name: &str,
    document: &'a str,
    others: impl IntoIterator<Item = &'a str>,
) -> Result<Size, RevocationError> {
    let texts = std::iter::once(document).chain(others);
    let what = format!("the inline policies of role `{role_name}` with `{policy}`");
    size::check_total(&what, texts, Limit::RoleInline).map_err(|source| RevocationError::TooLarge {
        policy,
        role: role_name.to_owned(),
        source,
    })
}

/// The cutoff as written into `AWSRevokeOlderSessions`: rounded *up* to the whole second,
/// since `aws:TokenIssueTime` is compared at second precision and a session issued in the
/// same second as the revocation must not survive it.
pub fn cutoff_text(cutoff: OffsetDateTime) -> String {
    let utc = cutoff.to_offset(time::UtcOffset::UTC);
    let whole = utc.replace_nanosecond(0).unwrap_or(utc);
    let up = if whole < utc {
        whole + time::Duration::SECOND
    } else {
        whole
    };
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    up.format(&format).unwrap_or_default()
}

/// The `AWSRevokeOlderSessions` document: deny everything to sessions whose token was issued
/// before `cutoff` (read the clock at revocation time and pass it here).
pub fn revoke_older_sessions_document(cutoff: OffsetDateTime) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": cutoff_text(cutoff) } }
        }]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_iam::{
        ContextValue, Decision, PolicySet, PolicyType, Request, parse, parse_caller, parse_value,
    };
    use time::macros::datetime;

    fn role() -> RoleArn {
        RoleArn::new("arn:aws:iam::111122223333:role/incident-response/IR").unwrap()
    }

    fn entry(grant: &str, end: OffsetDateTime) -> RevocationEntry {
        RevocationEntry {
            role_arn: role(),
            role_id: "AROAEXAMPLEROLEID01".to_owned(),
            grant: GrantId::new(grant).unwrap(),
            session_end: end,
        }
    }

    #[test]
    fn no_entries_means_no_policy() {
        assert_eq!(deny_document(&role(), &[]).unwrap(), None);
    }

    #[test]
    fn document_lists_userids_sorted_and_once() {
        let t = datetime!(2030-01-01 0:00 UTC);
        let doc = deny_document(
            &role(),
            &[entry("g-2", t), entry("g-1", t), entry("g-2", t)],
        )
        .unwrap()
        .unwrap();
        assert!(
            doc.contains(r#""aws:userid":["AROAEXAMPLEROLEID01:g-1","AROAEXAMPLEROLEID01:g-2"]"#),
            "{doc}"
        );
    }

    #[test]
    fn entries_of_another_role_or_with_a_bad_role_id_are_refused() {
        let t = datetime!(2030-01-01 0:00 UTC);
        let mut other = entry("g-1", t);
        other.role_arn = RoleArn::new("arn:aws:iam::111122223333:role/Other").unwrap();
        assert!(matches!(
            deny_document(&role(), &[other]),
            Err(RevocationError::WrongRole { .. })
        ));
        let mut bad = entry("g-1", t);
        bad.role_id = "AROA*".to_owned();
        assert!(matches!(
            deny_document(&role(), &[bad]),
            Err(RevocationError::BadRoleId(_))
        ));
    }

    #[test]
    fn prune_keeps_only_live_sessions() {
        let now = datetime!(2030-01-01 12:00 UTC);
        let (kept, gone) = prune(
            vec![
                entry("g-1", now - time::Duration::SECOND),
                entry("g-2", now),
                entry("g-3", now + time::Duration::SECOND),
            ],
            now,
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].grant.as_str(), "g-3");
        assert_eq!(gone.len(), 2);
    }

    #[test]
    fn quota_error_names_the_role_limit() {
        let t = datetime!(2030-01-01 0:00 UTC);
        let entries: Vec<_> = (0..100).map(|i| entry(&format!("g-{i:04}"), t)).collect();
        let doc = deny_document(&role(), &entries).unwrap().unwrap();
        let other = format!(r#"{{"Sid":"{}"}}"#, "x".repeat(8_000));
        check_role_quota(REVOCATIONS_POLICY, "IR", &doc, []).unwrap();
        let err = check_role_quota(REVOCATIONS_POLICY, "IR", &doc, [other.as_str()]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("10240"), "{msg}");
        assert!(msg.contains("BreakglassRevocations"), "{msg}");
        assert!(msg.contains("`IR`"), "{msg}");
    }

    #[test]
    fn cutoff_rounds_up_to_the_second() {
        assert_eq!(
            cutoff_text(datetime!(2030-01-01 12:00:00.25 UTC)),
            "2030-01-01T12:00:01Z"
        );
        assert_eq!(
            cutoff_text(datetime!(2030-01-01 12:00:00 UTC)),
            "2030-01-01T12:00:00Z"
        );
        let doc = revoke_older_sessions_document(datetime!(2030-01-01 12:00:00 +2));
        assert!(
            doc.contains(r#""DateLessThan":{"aws:TokenIssueTime":"2030-01-01T10:00:00Z"}"#),
            "{doc}"
        );
    }

    /// What the policy engine decides for a session of `session_arn` carrying
    /// `source_identity`, allowed everything by its own policies, doing `action` under the
    /// organisation's SCPs: `FullAWSAccess` and the revoked-responders policy at the root,
    /// `FullAWSAccess` on the account.
    fn under_scp(scp: &str, session_arn: &str, userid: &str, source_identity: &str) -> Decision {
        let everything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let full = parse_value(&everything, PolicyType::Scp).unwrap();
        let allow_all = parse_value(&everything, PolicyType::Identity).unwrap();
        let scp = parse(scp, PolicyType::Scp).unwrap();
        let caller = parse_caller(session_arn, None).unwrap();
        let mut request = Request::new(caller, "s3:GetObject", "arn:aws:s3:::evidence/x")
            .with_resource_account("222222222222");
        request.insert_context("aws:userid", ContextValue::one(userid));
        request.insert_context("aws:SourceIdentity", ContextValue::one(source_identity));
        request.derive_principal_keys();
        PolicySet::builder()
            .identity(&allow_all)
            .scp_level([&full, &scp])
            .scp_level([&full])
            .build()
            .evaluate(&request)
            .decision
    }

    #[test]
    fn a_chained_session_of_a_revoked_responder_is_denied_by_the_organisation_policy() {
        let scp = organization_deny_document(["mallory", "alice", "mallory"]).unwrap();
        assert!(
            scp.contains(r#""aws:SourceIdentity":["alice","mallory"]"#),
            "{scp}"
        );
        // mallory's grant on IR was revoked; her session had assumed another role in another
        // account first: another role id, another session name, so the role's
        // `BreakglassRevocations` (on `aws:userid`) does not reach it. Her source identity
        // came along.
        let chained = "arn:aws:sts::222222222222:assumed-role/AppAdmin/pivot";
        assert_eq!(
            under_scp(&scp, chained, "AROAAPPADMINROLEID99:pivot", "mallory"),
            Decision::ExplicitDeny
        );
        // The role's own deny misses it: the evidence that the SCP is what stops it.
        let role_deny = deny_document(&role(), &[entry("g-1", datetime!(2030-01-01 0:00 UTC))])
            .unwrap()
            .unwrap();
        let role_deny = parse(&role_deny, PolicyType::Identity).unwrap();
        let caller = parse_caller(chained, None).unwrap();
        let mut request = Request::new(caller, "s3:GetObject", "arn:aws:s3:::evidence/x");
        request.insert_context(
            "aws:userid",
            ContextValue::one("AROAAPPADMINROLEID99:pivot"),
        );
        let allow_all = parse_value(
            &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            PolicyType::Identity,
        )
        .unwrap();
        let escaped = PolicySet::builder()
            .identity(&allow_all)
            .identity(&role_deny)
            .build()
            .evaluate(&request)
            .decision;
        assert_eq!(escaped, Decision::Allow);
        // A responder who was not revoked is untouched, chained or not.
        assert_eq!(
            under_scp(&scp, chained, "AROAAPPADMINROLEID99:work", "bob"),
            Decision::Allow
        );
        assert_eq!(
            under_scp(
                &scp,
                "arn:aws:sts::222222222222:assumed-role/IR/g-7",
                "AROAEXAMPLEROLEID01:g-7",
                "bob"
            ),
            Decision::Allow
        );
    }

    #[test]
    fn with_no_revoked_responder_the_organisation_policy_matches_nobody() {
        let scp = organization_deny_document([]).unwrap();
        assert!(scp.contains(NO_REVOKED_RESPONDER), "{scp}");
        assert!(!crate::aws_limits::is_valid_source_identity(
            NO_REVOKED_RESPONDER
        ));
        assert_eq!(
            under_scp(
                &scp,
                "arn:aws:sts::222222222222:assumed-role/IR/g-1",
                "AROAEXAMPLEROLEID01:g-1",
                "alice"
            ),
            Decision::Allow
        );
    }

    #[test]
    fn the_organisation_policy_stays_within_the_scp_limit() {
        let many: Vec<String> = (0..400).map(|i| format!("responder-{i:04}")).collect();
        let err = organization_deny_document(many.iter().map(String::as_str)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("5120"), "{msg}");
        assert!(msg.contains("400 revoked responder(s)"), "{msg}");
    }
}
