//! The documented, reasoned exceptions to the IAM linter for the built-in templates.
//!
//! Every built-in policy passes `breakglass policy lint` or is listed here with why the
//! finding is accepted. `breakglass lint` reports an accepted finding as `info` with its
//! reason, and only while the config uses the template unchanged (same document, same
//! permissions boundary, same managed policies). Trust-policy exceptions are keyed by the
//! statement's `Sid`.

/// One accepted finding: on policy `policy` of template `template`, lint code `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintException {
    /// The role template name, `session` for session templates, `break-glass-user` for the
    /// break-glass user policies.
    pub template: &'static str,
    /// The inline policy name, or the session template's name.
    pub policy: &'static str,
    /// The linter's finding code.
    pub code: &'static str,
    /// Why it is accepted.
    pub reason: &'static str,
}

/// A session policy only ever narrows the role it is passed with: the session can do no more
/// than the role allows, whatever the session policy says.
const SESSION_NARROWS: &str = "a session policy only narrows the role it scopes, so these actions on `*` grant nothing the role does not already allow; the seed's action list is kept verbatim";

/// Every accepted finding.
pub const LINT_EXCEPTIONS: &[LintException] = &[
    LintException {
        template: "trust",
        policy: "BrokerWithSourceIdentity",
        code: "trust-without-mfa",
        reason: "the broker is a role, and `aws:MultiFactorAuthPresent` is never true for a role session: requiring it would lock the broker out. Responders prove MFA to the broker, and the statement requires the SourceIdentity the broker stamps on every session",
    },
    LintException {
        template: "trust",
        policy: super::revoker::REVOKER_TRUST_SID,
        code: "trust-without-mfa",
        reason: "the broker is a role and cannot present MFA; only its principal may assume the revoker role, which can do nothing but read the brokered roles and write their inline policies",
    },
    LintException {
        template: "trust",
        policy: super::activity::READER_TRUST_SID,
        code: "trust-without-mfa",
        reason: "the broker is a role and cannot present MFA; only its principal may assume the trail reader role, which can only read the trail's objects, queue and log group",
    },
    LintException {
        template: "trust",
        policy: "Deployers",
        code: "trust-without-mfa",
        reason: "the deploy principals are normally a pipeline's role, which cannot present MFA; a person among them should be reached through a role that requires MFA itself",
    },
    LintException {
        template: "session",
        policy: "read_only_investigation",
        code: "write-on-all-resources",
        reason: SESSION_NARROWS,
    },
    LintException {
        template: "session",
        policy: "containment_actions",
        code: "write-on-all-resources",
        reason: SESSION_NARROWS,
    },
    LintException {
        template: "session",
        policy: "containment_actions",
        code: "privilege-escalation",
        reason: "containment attaches a deny-all policy to a compromised user (the seed's quarantine step), which needs `iam:AttachUserPolicy` on users not known in advance; the `iam:PolicyARN` condition allows only the quarantine policy, and the session policy only narrows the role",
    },
    LintException {
        template: "session",
        policy: "forensics_collection",
        code: "write-on-all-resources",
        reason: SESSION_NARROWS,
    },
    LintException {
        template: "session",
        policy: "emergency_admin",
        code: "full-admin",
        reason: "emergency administration is full access by design; it explicitly denies account closure and IAM deletions, and belongs on a break-glass role (alarmed, MFA for direct use, one hour)",
    },
    LintException {
        template: "SecurityAnalyst",
        policy: "SecurityAnalysis",
        code: "write-on-all-resources",
        reason: "starting and stopping CloudWatch Logs Insights and Athena queries is how analysis runs; these actions change no resource, and the queries' targets are not known in advance",
    },
    LintException {
        template: "SecurityAdmin",
        policy: "SecurityToolingAdmin",
        code: "write-on-all-resources",
        reason: "administering the security tooling is this role's purpose; the same policy denies every action that switches logging or detection off, and the PowerUserAccess boundary keeps IAM out",
    },
    LintException {
        template: "security_investigator",
        policy: "SecurityInvestigationPolicy",
        code: "write-on-all-resources",
        reason: "the seed's template, verbatim: investigators archive findings and manage Detective and Security Hub resources that are not known in advance; the PowerUserAccess boundary keeps IAM out",
    },
    LintException {
        template: "incident_responder",
        policy: "IncidentResponsePolicy",
        code: "write-on-all-resources",
        reason: "the seed's template, verbatim: containment acts on whatever instance or key is compromised. Its PowerUserAccess boundary allows no IAM or Organizations action, so only the EC2 grants take effect",
    },
    LintException {
        template: "incident_responder",
        policy: "IncidentResponsePolicy",
        code: "privilege-escalation",
        reason: "the seed's template, verbatim: `iam:AttachUserPolicy` is inert under the template's PowerUserAccess boundary, which allows no IAM action; the exception lapses if the boundary is changed",
    },
    LintException {
        template: "forensics_analyst",
        policy: "ForensicsPolicy",
        code: "write-on-all-resources",
        reason: "the seed's template, verbatim: snapshots and images are taken of whatever instance is under investigation, which is not known in advance",
    },
];

/// The reason a finding is accepted, if it is.
pub fn exception(template: &str, policy: &str, code: &str) -> Option<&'static str> {
    LINT_EXCEPTIONS
        .iter()
        .find(|e| e.template == template && e.policy == policy && e.code == code)
        .map(|e| e.reason)
}
