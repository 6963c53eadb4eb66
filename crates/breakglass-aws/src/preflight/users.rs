//! Break-glass IAM user checks: the path used when the broker or the identity provider is
//! down only works if each user exists, has an MFA device (the roles' trust policies demand
//! it), a console password that is not stale and is kept where `apply` put it, and no access
//! key (a key is a standing credential nobody watches).

use aws_sdk_iam::primitives::DateTime;
use breakglass_config::resources::{AccountState, Resource, Secret, User};
use breakglass_core::drill::{Finding, IamUserFacts};
use time::OffsetDateTime;

use super::{Run, Where, account_id, read_failed};
use crate::provision::{Clients, ProvisionError, call_error};

/// The responder a user belongs to, as `apply` tags it.
const RESPONDER_TAG: &str = "breakglass:responder";

fn time_of(t: &DateTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.secs()).ok()
}

/// One step per break-glass user of the (security) account; the facts read of each.
pub(super) async fn check(
    run: &mut Run<'_>,
    c: &Clients,
    state: &AccountState,
) -> Vec<IamUserFacts> {
    let account = account_id(state);
    let mut all = Vec::new();
    for want in state.resources.iter().filter_map(|r| match r {
        Resource::User(u) => Some(u),
        _ => None,
    }) {
        let timer = run.timer();
        let (facts, mut findings) = read_user(c, state, want).await;
        if let Some(facts) = &facts {
            findings.extend(judge(run, secret_of(state, &want.password_secret), facts));
        }
        all.extend(facts);
        run.record(
            timer,
            "preflight: break-glass user",
            Where::account(account),
            findings,
        );
    }
    all
}

/// Reads what IAM and Secrets Manager hold of `want`; `None` when even the user could not be
/// read. Reads that fail become findings and leave their fact at its empty value.
async fn read_user(
    c: &Clients,
    state: &AccountState,
    want: &User,
) -> (Option<IamUserFacts>, Vec<Finding>) {
    let a = c.account.as_str();
    let name = want.name.as_str();
    let what = format!("break-glass user {name}");
    let mut findings = Vec::new();
    let mut facts = IamUserFacts {
        user: name.to_owned(),
        responder: want.tags.get(RESPONDER_TAG).cloned().unwrap_or_default(),
        account: a.to_owned(),
        exists: false,
        mfa_devices: Vec::new(),
        access_keys: Vec::new(),
        login_profile: false,
        password_set_at: None,
        password_last_used: None,
        password_secret: false,
    };
    match c.iam.get_user().user_name(name).send().await {
        Ok(got) => {
            facts.exists = true;
            facts.password_last_used = got
                .user()
                .and_then(|u| u.password_last_used())
                .and_then(time_of);
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) => {}
        Err(e) => {
            let err = call_error(a, "iam:GetUser", name, e);
            return (None, vec![read_failed(a, None, &what, &err)]);
        }
    }
    if facts.exists {
        match c.iam.list_mfa_devices().user_name(name).send().await {
            Ok(got) => {
                facts.mfa_devices = got
                    .mfa_devices()
                    .iter()
                    .map(|d| d.serial_number().to_owned())
                    .collect();
            }
            Err(e) => findings.push(read_failed(
                a,
                None,
                &what,
                &call_error(a, "iam:ListMFADevices", name, e),
            )),
        }
        match c.iam.list_access_keys().user_name(name).send().await {
            Ok(got) => {
                facts.access_keys = got
                    .access_key_metadata()
                    .iter()
                    .filter_map(|k| k.access_key_id().map(str::to_owned))
                    .collect();
            }
            Err(e) => findings.push(read_failed(
                a,
                None,
                &what,
                &call_error(a, "iam:ListAccessKeys", name, e),
            )),
        }
        match c.iam.get_login_profile().user_name(name).send().await {
            Ok(got) => {
                facts.login_profile = true;
                facts.password_set_at = got.login_profile().and_then(|p| time_of(p.create_date()));
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) => {}
            Err(e) => findings.push(read_failed(
                a,
                None,
                &what,
                &call_error(a, "iam:GetLoginProfile", name, e),
            )),
        }
    }
    if let Some(secret) = secret_of(state, &want.password_secret) {
        match read_secret(c, secret).await {
            Ok(exists) => facts.password_secret = exists,
            Err(e) => findings.push(read_failed(
                a,
                Some(&secret.region),
                &format!("secret {}", secret.name),
                &e,
            )),
        }
    }
    (Some(facts), findings)
}

/// Whether the secret exists and is not scheduled for deletion.
async fn read_secret(c: &Clients, secret: &Secret) -> Result<bool, ProvisionError> {
    let sm = &c.region(&secret.region)?.secrets;
    match sm.describe_secret().secret_id(&secret.name).send().await {
        Ok(got) => Ok(got.deleted_date().is_none()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(call_error(
            &c.account,
            "secretsmanager:DescribeSecret",
            &secret.name,
            e,
        )),
    }
}

/// The secret holding `want`'s password, as the desired state places it.
fn secret_of<'a>(state: &'a AccountState, want: &str) -> Option<&'a Secret> {
    state.resources.iter().find_map(|r| match r {
        Resource::Secret(s) if s.name == want => Some(s),
        _ => None,
    })
}

/// What is wrong with a break-glass user, from its facts; `secret` is where its password
/// should be kept.
fn judge(run: &Run<'_>, secret: Option<&Secret>, facts: &IamUserFacts) -> Vec<Finding> {
    let a = facts.account.as_str();
    let user = facts.user.as_str();
    let finding = |check: &str, message: String| Finding::new(check, user, message).in_account(a);
    if !facts.exists {
        return vec![finding(
            "user_missing",
            format!(
                "break-glass user {user} is missing in {a}: run `breakglass apply` to create it"
            ),
        )];
    }
    let mut findings = Vec::new();
    if facts.mfa_devices.is_empty() {
        findings.push(finding(
            "user_no_mfa",
            format!(
                "break-glass user {user} in {a} has no MFA device: enrol one (the roles it may assume demand MFA)"
            ),
        ));
    }
    for key in &facts.access_keys {
        findings.push(finding(
            "user_access_key",
            format!("break-glass user {user} in {a} has an access key ({key}): delete it"),
        ));
    }
    if !facts.login_profile {
        findings.push(finding(
            "user_no_login_profile",
            format!(
                "break-glass user {user} in {a} has no console password (login profile): run `breakglass apply`"
            ),
        ));
    }
    if let Some(secret) = secret
        && !facts.password_secret
    {
        findings.push(
            finding(
                "user_password_secret_missing",
                format!(
                    "the password secret {} of break-glass user {user} is missing in {a} {}: run `breakglass apply` to create it and set a new password",
                    secret.name, secret.region
                ),
            )
            .in_region(&secret.region),
        );
    }
    if let Some(set_at) = facts.password_set_at {
        let age = run.options.now - set_at;
        let max = run.options.password_max_age;
        if age > max {
            findings.push(finding(
                "user_password_old",
                format!(
                    "the console password of break-glass user {user} in {a} is {} days old (at most {} allowed): rotate it",
                    age.whole_days(),
                    max.whole_days()
                ),
            ));
        }
    }
    findings
}
