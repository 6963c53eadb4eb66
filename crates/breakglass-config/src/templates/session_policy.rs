//! Session policies: the four built-in templates of the seed (read_only_investigation,
//! containment_actions, forensics_collection, emergency_admin) and the scoped builder
//! (actions + resources + conditions, explicit high-risk denies always appended).
//!
//! A [`SessionPolicy`] only exists once its text fits the STS limit, so whatever holds one
//! can pass it to `AssumeRole` without another check.

use breakglass_iam::size::{self, Limit};
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

/// The most characters STS accepts in an inline session policy (`Policy` of `AssumeRole`):
/// the one definition in `breakglass_core::aws_limits`.
pub use breakglass_core::aws_limits::MAX_SESSION_POLICY_CHARS;

/// Actions the scoped builder always denies, whatever it was asked to allow: creating or
/// deleting principals (the seed's list), closing or leaving the account, and switching off
/// CloudTrail (the last two are ours: an incident session never needs them, an intruder
/// always wants them).
pub const HIGH_RISK_DENIES: &[&str] = &[
    "iam:CreateUser",
    "iam:DeleteUser",
    "iam:CreateRole",
    "iam:DeleteRole",
    "organizations:CloseAccount",
    "organizations:LeaveOrganization",
    "account:CloseAccount",
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
];

/// The quarantine policy the containment and emergency templates may attach when the
/// playbook names none: AWS's own deny-everything policy.
pub const DEFAULT_QUARANTINE_POLICY: &str = "AWSDenyAll";

/// What `emergency_admin` denies outright: the IAM writes by which a session grants itself
/// or another principal more than it has (inline policies, policy versions, trust, groups)
/// or makes a principal or credential that outlives its revocation.
pub const ESCALATION_DENIES: &[&str] = &[
    "iam:CreateUser",
    "iam:CreateRole",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:PutGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:AddUserToGroup",
];

/// The managed-policy attachments a session may make only with a quarantine policy.
pub const ATTACH_ACTIONS: &[&str] = &[
    "iam:AttachUserPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachGroupPolicy",
];

/// Why a session policy cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionPolicyError {
    /// The rendered text is longer than STS accepts.
    #[error(
        "the session policy is {chars} characters, over the {MAX_SESSION_POLICY_CHARS}-character STS limit"
    )]
    TooLong {
        /// The rendered length.
        chars: usize,
    },
    /// The scoped builder was given no action to allow.
    #[error("a scoped session policy needs at least one action")]
    NoActions,
    /// The conditions are not a JSON object of operators.
    #[error("the conditions must be a JSON object such as {{\"StringEquals\": {{...}}}}")]
    BadConditions,
    /// The document is not a JSON object.
    #[error("a session policy must be a JSON object with `Version` and `Statement`")]
    NotAnObject,
}

/// A session policy whose text is known to fit the STS limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    text: String,
}

impl SessionPolicy {
    /// Checks `document`'s compact text against the STS limit.
    pub fn new(document: &Value) -> Result<Self, SessionPolicyError> {
        if !document.is_object() {
            return Err(SessionPolicyError::NotAnObject);
        }
        let text = document.to_string();
        match size::check("the session policy", &text, Limit::SessionPolicy) {
            Ok(_) => Ok(Self { text }),
            Err(too_large) => Err(SessionPolicyError::TooLong {
                chars: too_large.size,
            }),
        }
    }

    /// The compact JSON text passed to STS.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its length in characters, as STS counts them.
    pub fn chars(&self) -> usize {
        self.text.chars().count()
    }
}

/// The built-in session policy templates of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SessionTemplate {
    /// Read-only access for initial investigation (4 h).
    ReadOnlyInvestigation,
    /// Limited write access for containment, region-restricted, with explicit denies (2 h).
    ContainmentActions,
    /// Snapshots, images, SSM and the evidence buckets only (3 h).
    ForensicsCollection,
    /// Everything except account closure and IAM deletions (1 h).
    EmergencyAdmin,
}

/// The names the config uses for the session templates.
pub const SESSION_TEMPLATES: &[&str] = &[
    "read_only_investigation",
    "containment_actions",
    "forensics_collection",
    "emergency_admin",
];

/// The parameters a session template may take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionParams {
    /// `containment_actions`: the regions the actions are allowed in.
    pub regions: Vec<String>,
    /// `forensics_collection`: the evidence bucket names (wildcards allowed).
    pub evidence_buckets: Vec<String>,
    /// `containment_actions`, `emergency_admin`: the ARNs of the managed policies a session
    /// may attach to a principal (empty: AWS's `AWSDenyAll`).
    pub quarantine_policies: Vec<String>,
    /// `emergency_admin`: the role ARNs a session may pass to a service (empty: none).
    pub pass_roles: Vec<String>,
    /// The AWS partition, for resource ARNs.
    pub partition: String,
}

impl SessionTemplate {
    /// The template called `name` in the config.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "read_only_investigation" => Some(Self::ReadOnlyInvestigation),
            "containment_actions" => Some(Self::ContainmentActions),
            "forensics_collection" => Some(Self::ForensicsCollection),
            "emergency_admin" => Some(Self::EmergencyAdmin),
            _ => None,
        }
    }

    /// The name the config uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadOnlyInvestigation => "read_only_investigation",
            Self::ContainmentActions => "containment_actions",
            Self::ForensicsCollection => "forensics_collection",
            Self::EmergencyAdmin => "emergency_admin",
        }
    }

    /// The seed's description.
    pub fn description(self) -> &'static str {
        match self {
            Self::ReadOnlyInvestigation => "Read-only access for initial incident investigation",
            Self::ContainmentActions => "Limited write access for incident containment",
            Self::ForensicsCollection => "Access for forensic evidence collection",
            Self::EmergencyAdmin => "Emergency administrative access for critical incidents",
        }
    }

    /// The longest session the seed allows with this policy.
    pub fn max_duration(self) -> Duration {
        match self {
            Self::ReadOnlyInvestigation => Duration::hours(4),
            Self::ContainmentActions => Duration::hours(2),
            Self::ForensicsCollection => Duration::hours(3),
            Self::EmergencyAdmin => Duration::hours(1),
        }
    }

    /// Whether the template takes `param` (`regions`, `evidence_buckets`,
    /// `quarantine_policies`, `pass_roles`).
    pub fn takes(self, param: &str) -> bool {
        matches!(
            (self, param),
            (Self::ContainmentActions, "regions")
                | (Self::ForensicsCollection, "evidence_buckets")
                | (
                    Self::ContainmentActions | Self::EmergencyAdmin,
                    "quarantine_policies"
                )
                | (Self::EmergencyAdmin, "pass_roles")
        )
    }

    /// The policy document, with the seed's action lists verbatim except where they opened
    /// an escalation path: `containment_actions` attaches only a quarantine policy (the seed
    /// allowed `iam:AttachUserPolicy` of any policy, AdministratorAccess included), and
    /// `emergency_admin` denies [`ESCALATION_DENIES`], passing roles outside `pass_roles` and
    /// attaching anything but a quarantine policy. Where a parameter list is empty the seed's
    /// default is used (`us-east-1`, `us-west-2`; `forensic-evidence-*`).
    pub fn document(self, params: &SessionParams) -> Value {
        let quarantine = if params.quarantine_policies.is_empty() {
            vec![format!(
                "arn:{}:iam::aws:policy/{DEFAULT_QUARANTINE_POLICY}",
                params.partition
            )]
        } else {
            params.quarantine_policies.clone()
        };
        match self {
            Self::ReadOnlyInvestigation => json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "cloudtrail:LookupEvents",
                            "logs:FilterLogEvents",
                            "logs:GetLogEvents",
                            "guardduty:GetFindings",
                            "guardduty:ListFindings",
                            "detective:*",
                            "securityhub:GetFindings",
                            "config:GetComplianceDetailsByConfigRule",
                            "config:GetResourceConfigHistory"
                        ],
                        "Resource": "*"
                    },
                    {
                        "Effect": "Allow",
                        "Action": [
                            "ec2:Describe*",
                            "iam:Get*",
                            "iam:List*",
                            "s3:GetBucketLocation",
                            "s3:GetBucketLogging",
                            "s3:GetBucketPolicy",
                            "s3:ListBucket"
                        ],
                        "Resource": "*"
                    }
                ]
            }),
            Self::ContainmentActions => {
                let regions = if params.regions.is_empty() {
                    vec!["us-east-1".to_owned(), "us-west-2".to_owned()]
                } else {
                    params.regions.clone()
                };
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "ec2:StopInstances",
                                "ec2:TerminateInstances",
                                "ec2:ModifyInstanceAttribute",
                                "ec2:AuthorizeSecurityGroupIngress",
                                "ec2:RevokeSecurityGroupIngress",
                                "ec2:AuthorizeSecurityGroupEgress",
                                "ec2:RevokeSecurityGroupEgress",
                                "iam:UpdateAccessKey",
                                "iam:DeleteAccessKey",
                                "iam:DetachUserPolicy"
                            ],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": { "aws:RequestedRegion": regions }
                            }
                        },
                        {
                            "Sid": "QuarantineOnly",
                            "Effect": "Allow",
                            "Action": "iam:AttachUserPolicy",
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": { "aws:RequestedRegion": regions },
                                "ArnEquals": { "iam:PolicyARN": quarantine }
                            }
                        },
                        {
                            "Effect": "Deny",
                            "Action": [
                                "iam:CreateUser",
                                "iam:DeleteUser",
                                "iam:CreateRole",
                                "iam:DeleteRole",
                                "organizations:*"
                            ],
                            "Resource": "*"
                        }
                    ]
                })
            }
            Self::ForensicsCollection => {
                let buckets = if params.evidence_buckets.is_empty() {
                    vec!["forensic-evidence-*".to_owned()]
                } else {
                    params.evidence_buckets.clone()
                };
                let p = &params.partition;
                let resources: Vec<String> = buckets
                    .iter()
                    .flat_map(|b| [format!("arn:{p}:s3:::{b}"), format!("arn:{p}:s3:::{b}/*")])
                    .collect();
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "ec2:CreateSnapshot",
                                "ec2:CopySnapshot",
                                "ec2:DescribeSnapshots",
                                "ec2:CreateImage",
                                "ec2:CopyImage",
                                "ec2:DescribeImages",
                                "ssm:SendCommand",
                                "ssm:GetCommandInvocation",
                                "ssm:DescribeInstanceInformation"
                            ],
                            "Resource": "*"
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                            "Resource": resources
                        }
                    ]
                })
            }
            Self::EmergencyAdmin => {
                let pass_role = if params.pass_roles.is_empty() {
                    json!({ "Sid": "NoPassRole", "Effect": "Deny", "Action": "iam:PassRole", "Resource": "*" })
                } else {
                    json!({ "Sid": "NoPassRole", "Effect": "Deny", "Action": "iam:PassRole", "NotResource": params.pass_roles })
                };
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        { "Effect": "Allow", "Action": "*", "Resource": "*" },
                        {
                            "Effect": "Deny",
                            "Action": [
                                "organizations:CloseAccount",
                                "account:CloseAccount",
                                "iam:DeleteRole",
                                "iam:DeleteUser"
                            ],
                            "Resource": "*"
                        },
                        { "Sid": "NoEscalation", "Effect": "Deny", "Action": ESCALATION_DENIES, "Resource": "*" },
                        pass_role,
                        {
                            "Sid": "QuarantineOnly",
                            "Effect": "Deny",
                            "Action": ATTACH_ACTIONS,
                            "Resource": "*",
                            "Condition": { "ArnNotEquals": { "iam:PolicyARN": quarantine } }
                        }
                    ]
                })
            }
        }
    }
}

/// The scoped session-policy builder: allow these actions on these resources under these
/// conditions, optionally only until a deadline, and always deny [`HIGH_RISK_DENIES`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopedSessionPolicy {
    /// The actions to allow.
    pub actions: Vec<String>,
    /// The resources they are allowed on (empty: `*`).
    pub resources: Vec<String>,
    /// An IAM `Condition` block (operator → key → values).
    pub conditions: Map<String, Value>,
    /// If set, the allow only holds while `aws:CurrentTime` is before this instant.
    pub not_after: Option<OffsetDateTime>,
}

impl ScopedSessionPolicy {
    /// The policy document.
    pub fn document(&self) -> Result<Value, SessionPolicyError> {
        if self.actions.is_empty() {
            return Err(SessionPolicyError::NoActions);
        }
        let resources: Vec<String> = if self.resources.is_empty() {
            vec!["*".to_owned()]
        } else {
            self.resources.clone()
        };
        let mut conditions = self.conditions.clone();
        if let Some(deadline) = self.not_after {
            let stamp = deadline
                .to_offset(UtcOffset::UTC)
                .replace_nanosecond(0)
                .ok()
                .and_then(|d| d.format(&Rfc3339).ok())
                .ok_or(SessionPolicyError::BadConditions)?;
            let entry = conditions
                .entry("DateLessThan")
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(op) = entry else {
                return Err(SessionPolicyError::BadConditions);
            };
            op.insert("aws:CurrentTime".to_owned(), Value::String(stamp));
        }
        if conditions.values().any(|v| !v.is_object()) {
            return Err(SessionPolicyError::BadConditions);
        }
        let mut allow = json!({
            "Effect": "Allow",
            "Action": self.actions,
            "Resource": resources,
        });
        if !conditions.is_empty()
            && let Value::Object(statement) = &mut allow
        {
            statement.insert("Condition".to_owned(), Value::Object(conditions));
        }
        Ok(json!({
            "Version": "2012-10-17",
            "Statement": [
                allow,
                { "Effect": "Deny", "Action": HIGH_RISK_DENIES, "Resource": "*" }
            ]
        }))
    }

    /// The policy, checked against the STS size limit.
    pub fn build(&self) -> Result<SessionPolicy, SessionPolicyError> {
        SessionPolicy::new(&self.document()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SessionParams {
        SessionParams {
            partition: "aws".to_owned(),
            ..SessionParams::default()
        }
    }

    #[test]
    fn the_limit_is_the_policy_engines() {
        assert_eq!(MAX_SESSION_POLICY_CHARS, Limit::SessionPolicy.max());
    }

    #[test]
    fn every_template_fits_the_sts_limit_with_default_parameters() {
        for name in SESSION_TEMPLATES {
            let t = SessionTemplate::from_name(name).unwrap();
            assert_eq!(t.name(), *name);
            let policy = SessionPolicy::new(&t.document(&params())).unwrap();
            assert!(policy.chars() <= MAX_SESSION_POLICY_CHARS);
        }
    }

    #[test]
    fn containment_is_restricted_to_the_given_regions() {
        let p = SessionParams {
            regions: vec!["eu-west-1".to_owned()],
            ..params()
        };
        let doc = SessionTemplate::ContainmentActions.document(&p);
        assert_eq!(
            doc["Statement"][0]["Condition"]["StringEquals"]["aws:RequestedRegion"],
            json!(["eu-west-1"])
        );
    }

    #[test]
    fn forensics_objects_are_limited_to_the_evidence_buckets() {
        let p = SessionParams {
            evidence_buckets: vec!["ir-evidence".to_owned()],
            ..params()
        };
        let doc = SessionTemplate::ForensicsCollection.document(&p);
        assert_eq!(
            doc["Statement"][1]["Resource"],
            json!(["arn:aws:s3:::ir-evidence", "arn:aws:s3:::ir-evidence/*"])
        );
    }

    #[test]
    fn the_scoped_builder_always_appends_the_high_risk_denies() {
        let mut conditions = Map::new();
        conditions.insert(
            "StringEquals".to_owned(),
            json!({"aws:RequestedRegion": "us-east-1"}),
        );
        let scoped = ScopedSessionPolicy {
            actions: vec!["ec2:StopInstances".to_owned()],
            resources: vec!["arn:aws:ec2:us-east-1:111122223333:instance/i-0abc".to_owned()],
            conditions,
            not_after: Some(time::macros::datetime!(2024-05-01 12:30:00.5 UTC)),
        };
        let doc = scoped.document().unwrap();
        assert_eq!(doc["Statement"][1]["Effect"], "Deny");
        assert_eq!(doc["Statement"][1]["Action"], json!(HIGH_RISK_DENIES));
        assert_eq!(
            doc["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"],
            "2024-05-01T12:30:00Z"
        );
        assert!(scoped.build().is_ok());
    }

    #[test]
    fn an_oversized_policy_is_refused_with_its_length() {
        let scoped = ScopedSessionPolicy {
            actions: (0..120)
                .map(|i| format!("ec2:DescribeThing{i:03}"))
                .collect(),
            ..ScopedSessionPolicy::default()
        };
        let err = scoped.build().unwrap_err();
        let SessionPolicyError::TooLong { chars } = err else {
            panic!("{err:?}")
        };
        assert!(chars > MAX_SESSION_POLICY_CHARS);
        assert!(
            err.to_string().contains("2048-character STS limit"),
            "{err}"
        );
    }

    #[test]
    fn a_scoped_policy_needs_actions_and_object_conditions() {
        assert_eq!(
            ScopedSessionPolicy::default().build(),
            Err(SessionPolicyError::NoActions)
        );
        let mut conditions = Map::new();
        conditions.insert("StringEquals".to_owned(), json!("nope"));
        let bad = ScopedSessionPolicy {
            actions: vec!["s3:GetObject".to_owned()],
            conditions,
            ..ScopedSessionPolicy::default()
        };
        assert_eq!(bad.build(), Err(SessionPolicyError::BadConditions));
    }
}
