//! The request being authorized: action, resource, who is calling, from which account, and
//! the request context (condition keys, possibly multi-valued).
//!
//! Everything that depends only on the request is worked out once here (the lower-cased
//! action, the caller's account and role), so evaluating many policies stays cheap.

use crate::arn::Arn;
pub use crate::context::{Context, ContextValue};
use crate::fast_hash::Key;

/// Who is making the request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Caller {
    /// No credentials (only `"Principal": "*"` grants reach it).
    Anonymous,
    /// An account's root user (`arn:aws:iam::111122223333:root`).
    Root { account: String, arn: String },
    /// An IAM user.
    User {
        account: String,
        arn: String,
        name: String,
    },
    /// An assumed-role session (`arn:aws:sts::111122223333:assumed-role/Role/session`).
    RoleSession {
        account: String,
        arn: String,
        role_name: String,
        /// The role's path, when known (from `aws:PrincipalArn` in the context).
        role_path: Option<String>,
        session_name: String,
        partition: String,
    },
    /// A federated-user session from `GetFederationToken`.
    FederatedUser { account: String, arn: String },
    /// An AWS service principal (`cloudtrail.amazonaws.com`).
    Service(String),
    /// A web-identity or SAML principal (`cognito-identity.amazonaws.com`, a SAML provider ARN).
    Federated(String),
    /// An S3 canonical user id.
    CanonicalUser(String),
}

impl Caller {
    /// The caller's account, for IAM principals.
    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::Root { account, .. }
            | Caller::User { account, .. }
            | Caller::RoleSession { account, .. }
            | Caller::FederatedUser { account, .. } => Some(account),
            _ => None,
        }
    }

    /// Whether the caller is a session principal (role session or federated user), which
    /// session policies apply to.
    pub fn is_session(&self) -> bool {
        matches!(
            self,
            Caller::RoleSession { .. } | Caller::FederatedUser { .. }
        )
    }

    /// The role ARN of a role session (with its path when known).
    pub(crate) fn role_arn(&self) -> Option<String> {
        match self {
            Caller::RoleSession {
                account,
                role_name,
                role_path,
                partition,
                ..
            } => Some(format!(
                "arn:{partition}:iam::{account}:role{}{role_name}",
                role_path.as_deref().unwrap_or("/")
            )),
            _ => None,
        }
    }
}

/// How to read a principal string that could be several things (`accounts.google.com` is a
/// federated provider, `ec2.amazonaws.com` a service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

/// A principal string that names no caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(
        "invalid principal `{0}`: expected an IAM user, role-session, federated-user or root ARN, an account id, a service principal, or `*` for anonymous"
    )]
    BadPrincipal(String),
    #[error(
        "`{0}` is a role; a role cannot sign requests, its sessions do: write `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`"
    )]
    RoleNotCaller(String),
}

/// Parses a caller from its ARN (or service name, or `*` for anonymous).
pub fn parse_caller(text: &str, kind: Option<CallerKind>) -> Result<Caller, RequestError> {
    let bad = || RequestError::BadPrincipal(text.to_owned());
    match kind {
        Some(CallerKind::Service) => return Ok(Caller::Service(text.to_owned())),
        Some(CallerKind::Federated) => return Ok(Caller::Federated(text.to_owned())),
        Some(CallerKind::CanonicalUser) => return Ok(Caller::CanonicalUser(text.to_owned())),
        Some(CallerKind::Aws) | None => {}
    }
    if text == "*" || text.eq_ignore_ascii_case("anonymous") {
        return Ok(Caller::Anonymous);
    }
    if is_account_id(text) {
        return Ok(Caller::Root {
            account: text.to_owned(),
            arn: format!("arn:aws:iam::{text}:root"),
        });
    }
    if let Some(arn) = Arn::parse(text) {
        if !is_account_id(arn.account) {
            return Err(bad());
        }
        let account = arn.account.to_owned();
        return match (arn.service, arn.resource) {
            ("iam", "root") => Ok(Caller::Root {
                account,
                arn: text.to_owned(),
            }),
            ("iam", r) if r.starts_with("user/") => {
                let name = r
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(bad)?;
                Ok(Caller::User {
                    account,
                    arn: text.to_owned(),
                    name: name.to_owned(),
                })
            }
            ("iam", r) if r.starts_with("role/") => {
                Err(RequestError::RoleNotCaller(text.to_owned()))
            }
            ("sts", r) if r.starts_with("assumed-role/") => {
                let mut parts = r.splitn(3, '/');
                let _ = parts.next();
                let role_name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
                let session_name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
                Ok(Caller::RoleSession {
                    account,
                    arn: text.to_owned(),
                    role_name: role_name.to_owned(),
                    role_path: None,
                    session_name: session_name.to_owned(),
                    partition: arn.partition.to_owned(),
                })
            }
            ("sts", r) if r.starts_with("federated-user/") => Ok(Caller::FederatedUser {
                account,
                arn: text.to_owned(),
            }),
            _ => Err(bad()),
        };
    }
    if text.ends_with(".amazonaws.com") || text.ends_with(".amazonaws.com.cn") {
        return Ok(Caller::Service(text.to_owned()));
    }
    Err(bad())
}

/// A twelve-digit AWS account id.
pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A request to authorize.
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) action: String,
    pub(crate) action_lower: String,
    /// The service prefix of the action (`s3` of `s3:GetObject`).
    pub(crate) service: Key,
    pub(crate) resource: String,
    pub(crate) caller: Caller,
    pub(crate) resource_account: Option<String>,
    pub(crate) context: Context,
}

impl Request {
    /// A request by `caller` to perform `action` (`s3:GetObject`) on `resource` (an ARN,
    /// or `*` for actions without a resource).
    pub fn new(caller: Caller, action: &str, resource: &str) -> Request {
        let action_lower = action.to_lowercase();
        Request {
            action: action.to_owned(),
            service: Key::new(
                action_lower
                    .split_once(':')
                    .map_or(action_lower.as_str(), |(s, _)| s),
            ),
            action_lower,
            resource: resource.to_owned(),
            caller,
            resource_account: None,
            context: Context::default(),
        }
    }

    /// The account that owns the resource; when unset, the caller's own account.
    pub fn with_resource_account(mut self, account: &str) -> Request {
        self.resource_account = Some(account.to_owned());
        self
    }

    /// Sets a context key.
    pub fn with_context(mut self, key: &str, value: ContextValue) -> Request {
        self.insert_context(key, value);
        self
    }

    /// Sets a context key in place.
    pub fn insert_context(&mut self, key: &str, value: ContextValue) {
        if key.eq_ignore_ascii_case("aws:PrincipalArn") {
            self.learn_role_path(value.single());
        }
        self.context.insert(key, value);
    }

    /// A role session's path comes from `aws:PrincipalArn` (the session ARN lacks it).
    fn learn_role_path(&mut self, principal_arn: Option<&str>) {
        let Caller::RoleSession {
            role_name,
            role_path,
            ..
        } = &mut self.caller
        else {
            return;
        };
        let Some(arn) = principal_arn.and_then(Arn::parse) else {
            return;
        };
        if let Some(path_and_name) = arn.resource.strip_prefix("role")
            && let Some((path, name)) = path_and_name.rsplit_once('/')
            && name == role_name.as_str()
        {
            *role_path = Some(format!("{path}/"));
        }
    }

    /// Fills the context keys AWS always derives from the caller, unless already set:
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username`
    /// (IAM users), `aws:PrincipalServiceName` (services) and `aws:ResourceAccount`.
    pub fn derive_principal_keys(&mut self) {
        let ctx = &mut self.context;
        let (arn, principal_type) = match &self.caller {
            Caller::Root { arn, .. } => (Some(arn.clone()), "Account"),
            Caller::User { arn, name, .. } => {
                ctx.insert_if_absent("aws:username", name.clone());
                (Some(arn.clone()), "User")
            }
            Caller::RoleSession { .. } => (self.caller.role_arn(), "AssumedRole"),
            Caller::FederatedUser { arn, .. } => (Some(arn.clone()), "FederatedUser"),
            Caller::Service(name) => {
                ctx.insert_if_absent("aws:principalservicename", name.clone());
                (None, "Service")
            }
            Caller::Anonymous => (None, "Anonymous"),
            Caller::Federated(_) | Caller::CanonicalUser(_) => (None, "WebIdentityUser"),
        };
        if let Some(arn) = arn {
            ctx.insert_if_absent("aws:principalarn", arn);
        }
        if let Some(account) = self.caller.account() {
            ctx.insert_if_absent("aws:principalaccount", account.to_owned());
        }
        ctx.insert_if_absent("aws:principaltype", principal_type.to_owned());
        if let Some(account) = self
            .resource_account
            .clone()
            .or_else(|| self.caller.account().map(str::to_owned))
        {
            ctx.insert_if_absent("aws:resourceaccount", account);
        }
    }

    /// The caller.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource as given.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The request context.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Whether caller and resource are in different accounts. Callers without an account
    /// (anonymous, services) are always "outside".
    pub fn is_cross_account(&self) -> bool {
        match (self.caller.account(), &self.resource_account) {
            (Some(mine), Some(theirs)) => mine != theirs,
            (Some(_), None) => false,
            (None, _) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_callers() {
        let s = parse_caller("arn:aws:sts::111122223333:assumed-role/IR/g-01", None).unwrap();
        assert!(s.is_session());
        assert_eq!(s.account(), Some("111122223333"));
        assert_eq!(
            s.role_arn().as_deref(),
            Some("arn:aws:iam::111122223333:role/IR")
        );
        assert!(matches!(
            parse_caller("arn:aws:iam::111122223333:role/IR", None),
            Err(RequestError::RoleNotCaller(_))
        ));
        assert!(matches!(
            parse_caller("ec2.amazonaws.com", None),
            Ok(Caller::Service(_))
        ));
        assert!(parse_caller("bob", None).is_err());
    }

    #[test]
    fn principal_arn_teaches_the_role_path() {
        let caller = parse_caller("arn:aws:sts::111122223333:assumed-role/IR/g-01", None).unwrap();
        let req = Request::new(caller, "s3:GetObject", "*").with_context(
            "aws:PrincipalArn",
            ContextValue::one("arn:aws:iam::111122223333:role/incident/IR"),
        );
        assert_eq!(
            req.caller().role_arn().as_deref(),
            Some("arn:aws:iam::111122223333:role/incident/IR")
        );
    }
}
