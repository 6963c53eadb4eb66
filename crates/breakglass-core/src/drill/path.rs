//! One drill run's shape: the end-to-end paths it walked (one per playbook, role and
//! account), the checks around them, the times it measured, and the proof that a revoked
//! drill session is denied.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Finding, Outcome, Step};
use crate::model::{AccountId, IncidentId, PlaybookId, RequestId, RoleArn, RoleName};

/// What started a drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `breakglass drill` on the command line.
    Cli,
    /// The `[drills]` schedule of `serve`.
    Scheduled,
}

impl Trigger {
    /// How people call it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Cli => "drill from the command line",
            Self::Scheduled => "scheduled drill",
        }
    }
}

/// One role copy a playbook grants: what one end-to-end path exercises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrillTarget {
    /// The playbook.
    pub playbook: PlaybookId,
    /// The role.
    pub role: RoleName,
    /// The account.
    pub account: AccountId,
}

/// One end-to-end path: its steps and the times it measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrillPath {
    /// What it exercised.
    pub target: DrillTarget,
    /// The drill request it made, once submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestId>,
    /// Its steps, in order; a failed step ends the path (later ones are skipped).
    pub steps: Vec<Step>,
    /// From submitting the request to the first successful call with its credentials, in
    /// milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_access_ms: Option<u64>,
    /// From asking to revoke to the deny policy written, read back and proven, in
    /// milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_revoke_ms: Option<u64>,
}

impl DrillPath {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.outcome == Outcome::Passed)
    }
}

/// A whole drill: preflight checks, end-to-end paths, and the checks of the alert channels
/// and the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrillRun {
    /// `dr-…`, unique.
    pub id: String,
    /// What started it.
    pub trigger: Trigger,
    /// The incident id its requests were filed under.
    pub incident: IncidentId,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub started_at: OffsetDateTime,
    /// When it finished.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub finished_at: OffsetDateTime,
    /// The checks that need no grant (roles, monitoring, break-glass users), when run.
    #[serde(default)]
    pub preflight: Vec<Step>,
    /// The end-to-end paths.
    #[serde(default)]
    pub paths: Vec<DrillPath>,
    /// The checks after the paths: every alert channel delivered, the audit chain verifies.
    #[serde(default)]
    pub checks: Vec<Step>,
}

impl DrillRun {
    /// Every step, preflight first.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.preflight
            .iter()
            .chain(self.paths.iter().flat_map(|p| p.steps.iter()))
            .chain(self.checks.iter())
    }

    /// Whether every step that ran passed.
    pub fn passed(&self) -> bool {
        self.steps().all(|s| s.outcome != Outcome::Failed)
    }

    /// Every finding of a failed step, in step order (a skipped step's note on why it was
    /// skipped is no failure).
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.steps()
            .filter(|s| s.outcome == Outcome::Failed)
            .flat_map(|s| s.findings.iter())
    }
}

/// Whether the `BreakglassRevocations` document read back from `role` (`None`: there is
/// none) denies the revoked session `userid` (`ROLEID:SESSION`, carrying `source_identity`)
/// a harmless read of the role, decided by the policy engine with the session otherwise
/// allowed everything. Returns the findings (empty: proven).
pub fn proves_cut_off(
    document: Option<&str>,
    role: &RoleArn,
    session_arn: &str,
    userid: &str,
    source_identity: &str,
) -> Vec<Finding> {
    use breakglass_iam::{ContextValue, Decision, PolicySet, PolicyType, Request};
    let located = |check: &str, message: String| {
        Finding::new(check, role.name().as_str(), message).in_account(role.account().as_str())
    };
    let Some(document) = document else {
        return vec![located(
            "revocation_policy_missing",
            format!(
                "{} in {} has no {} policy after the revocation",
                role.name(),
                role.account(),
                crate::revocation::REVOCATIONS_POLICY
            ),
        )];
    };
    let deny = match breakglass_iam::parse(document, PolicyType::Identity) {
        Ok(p) => p,
        Err(e) => {
            return vec![located(
                "revocation_policy_unreadable",
                format!(
                    "the {} policy read back from {} in {} is not a policy: {e}",
                    crate::revocation::REVOCATIONS_POLICY,
                    role.name(),
                    role.account()
                ),
            )];
        }
    };
    let everything = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let Ok(allow_all) = breakglass_iam::parse_value(&everything, PolicyType::Identity) else {
        return vec![located(
            "internal",
            "the allow-all policy did not parse".to_owned(),
        )];
    };
    let caller = match breakglass_iam::parse_caller(session_arn, None) {
        Ok(c) => c,
        Err(e) => {
            return vec![located(
                "session_arn_unreadable",
                format!("the drill session's ARN `{session_arn}` is not an ARN: {e}"),
            )];
        }
    };
    let mut request = Request::new(caller, "iam:GetRole", role.as_str())
        .with_resource_account(role.account().as_str());
    request.insert_context("aws:userid", ContextValue::one(userid));
    request.insert_context("aws:SourceIdentity", ContextValue::one(source_identity));
    request.derive_principal_keys();
    let decision = PolicySet::builder()
        .identity(&allow_all)
        .identity(&deny)
        .build()
        .evaluate(&request)
        .decision;
    if decision == Decision::ExplicitDeny {
        Vec::new()
    } else {
        vec![located(
            "revocation_not_denied",
            format!(
                "the {} policy of {} in {} does not deny the revoked drill session {userid}",
                crate::revocation::REVOCATIONS_POLICY,
                role.name(),
                role.account()
            ),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GrantId;
    use crate::revocation::{RevocationEntry, deny_document};
    use time::macros::datetime;

    fn role() -> RoleArn {
        RoleArn::new("arn:aws:iam::222222222222:role/breakglass/SecurityAnalyst").unwrap()
    }

    #[test]
    fn the_written_deny_is_proven_and_another_sessions_is_not() {
        let entry = RevocationEntry {
            role_arn: role(),
            role_id: "AROAEXAMPLEROLEID01".to_owned(),
            grant: GrantId::new("g-drill1").unwrap(),
            session_end: datetime!(2030-01-01 0:00 UTC),
        };
        let doc = deny_document(&role(), &[entry]).unwrap().unwrap();
        let arn = "arn:aws:sts::222222222222:assumed-role/SecurityAnalyst/g-drill1";
        assert!(
            proves_cut_off(
                Some(&doc),
                &role(),
                arn,
                "AROAEXAMPLEROLEID01:g-drill1",
                "breakglass-drill"
            )
            .is_empty()
        );
        let other = proves_cut_off(
            Some(&doc),
            &role(),
            arn,
            "AROAEXAMPLEROLEID01:g-other",
            "breakglass-drill",
        );
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].check, "revocation_not_denied");
        assert!(other[0].message.contains("222222222222"), "{}", other[0]);
        let missing = proves_cut_off(None, &role(), arn, "x", "breakglass-drill");
        assert_eq!(missing[0].check, "revocation_policy_missing");
        assert_eq!(missing[0].account.as_deref(), Some("222222222222"));
    }
}
