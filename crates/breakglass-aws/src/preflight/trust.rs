//! Whether a trust policy lets a principal assume its role, decided by the repository's own
//! policy engine (breakglass-iam) rather than by reading the document's text: a condition, a
//! `NotPrincipal`, a wildcard or an explicit deny changes the answer as it would in AWS.
//!
//! The principal's own identity policies are not what is checked here: the request is
//! evaluated as if they allowed everything, so the answer is the trust policy's alone.

use breakglass_iam::{
    ContextValue, Decision, PolicySet, PolicyType, Request, ResourcePolicyKind, parse_caller,
    parse_value,
};
use serde_json::{Value, json};

/// The session name the principal is taken to use (a role principal calls as a session).
const SESSION: &str = "breakglass-preflight";

/// The source identity set in the request (the broker always sets one; trust policies require it).
const SOURCE_IDENTITY: &str = "breakglass-preflight";

/// The decision of `trust` (the trust policy of `role_arn`, in `account`) on `principal`
/// calling `action` on the role; an error when the trust policy or the principal cannot be
/// read by the engine.
pub(super) fn decide(
    trust: &Value,
    principal: &str,
    role_arn: &str,
    account: &str,
    action: &str,
) -> Result<Decision, String> {
    let trust = parse_value(trust, PolicyType::Trust).map_err(|e| e.to_string())?;
    let everything = parse_value(
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        PolicyType::Identity,
    )
    .map_err(|e| e.to_string())?;
    let caller = parse_caller(&caller_arn(principal), None).map_err(|e| e.to_string())?;
    let mut request = Request::new(caller, action, role_arn).with_resource_account(account);
    request.insert_context("aws:PrincipalArn", ContextValue::one(principal));
    request.insert_context("sts:SourceIdentity", ContextValue::one(SOURCE_IDENTITY));
    request.derive_principal_keys();
    Ok(PolicySet::builder()
        .identity(&everything)
        .resource(&trust, ResourcePolicyKind::Trust)
        .build()
        .evaluate(&request)
        .decision)
}

/// Whether `caller` (as `sts:GetCallerIdentity` names it) is `principal` or a session of it.
pub(super) fn is_principal(caller: &str, principal: &str) -> bool {
    if caller == principal {
        return true;
    }
    let session = caller_arn(principal);
    session
        .strip_suffix(SESSION)
        .is_some_and(|prefix| caller.starts_with(prefix))
}

/// The ARN a principal calls with: a role's session (`assumed-role/<name>/<session>`, the
/// role's path dropped as STS drops it), anything else as it is.
fn caller_arn(principal: &str) -> String {
    match principal.split_once(":role/") {
        Some((head, path_and_name)) => {
            let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
            format!(
                "{}:assumed-role/{name}/{SESSION}",
                head.replacen(":iam::", ":sts::", 1)
            )
        }
        None => principal.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROKER: &str = "arn:aws:iam::111111111111:role/breakglass-broker";
    const ROLE: &str = "arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst";

    fn trust(actions: &[&str], condition: Value) -> Value {
        let mut statement = json!({
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111111111111:root" },
            "Action": actions,
        });
        if condition != json!({}) {
            statement["Condition"] = condition;
        }
        json!({ "Version": "2012-10-17", "Statement": [statement] })
    }

    fn decide_on(doc: &Value, action: &str) -> Decision {
        decide(doc, BROKER, ROLE, "222222222222", action).unwrap()
    }

    #[test]
    fn a_role_principal_calls_as_a_session_without_its_path() {
        assert_eq!(
            caller_arn("arn:aws:iam::111111111111:role/ops/breakglass-broker"),
            "arn:aws:sts::111111111111:assumed-role/breakglass-broker/breakglass-preflight"
        );
        assert_eq!(
            caller_arn("arn:aws:iam::111111111111:user/alice"),
            "arn:aws:iam::111111111111:user/alice"
        );
    }

    #[test]
    fn a_session_of_the_broker_is_the_broker() {
        assert!(is_principal(
            "arn:aws:sts::111111111111:assumed-role/breakglass-broker/i-0abc",
            BROKER
        ));
        assert!(is_principal(BROKER, BROKER));
        assert!(!is_principal(
            "arn:aws:sts::111111111111:assumed-role/breakglass-broker-2/i-0abc",
            BROKER
        ));
        assert!(!is_principal(
            "arn:aws:iam::111111111111:user/breakglass-broker",
            BROKER
        ));
    }

    #[test]
    fn the_broker_statement_allows_each_action_it_names() {
        let doc = trust(
            &["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
            json!({ "ArnEquals": { "aws:PrincipalArn": BROKER }, "Null": { "sts:SourceIdentity": "false" } }),
        );
        for action in ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"] {
            assert_eq!(decide_on(&doc, action), Decision::Allow, "{action}");
        }
    }

    #[test]
    fn a_dropped_action_is_not_allowed() {
        let doc = trust(
            &["sts:AssumeRole", "sts:TagSession"],
            json!({ "ArnEquals": { "aws:PrincipalArn": BROKER } }),
        );
        assert_eq!(decide_on(&doc, "sts:AssumeRole"), Decision::Allow);
        assert_ne!(decide_on(&doc, "sts:SetSourceIdentity"), Decision::Allow);
    }

    #[test]
    fn a_condition_naming_another_principal_is_not_allowed() {
        let doc = trust(
            &["sts:*"],
            json!({ "ArnEquals": { "aws:PrincipalArn": "arn:aws:iam::111111111111:role/someone-else" } }),
        );
        assert_ne!(decide_on(&doc, "sts:AssumeRole"), Decision::Allow);
    }

    #[test]
    fn a_wildcard_action_allows_and_an_explicit_deny_wins() {
        let mut doc = trust(&["sts:*"], json!({}));
        assert_eq!(decide_on(&doc, "sts:SetSourceIdentity"), Decision::Allow);
        doc["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Effect": "Deny", "Principal": "*", "Action": "sts:SetSourceIdentity"}));
        assert_eq!(
            decide_on(&doc, "sts:SetSourceIdentity"),
            Decision::ExplicitDeny
        );
    }
}
