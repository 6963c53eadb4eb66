//! Role checks: every brokered role exists, trusts the broker with everything a grant needs
//! (`sts:AssumeRole`, `sts:SetSourceIdentity`, `sts:TagSession`) and carries the guardrails
//! the config attaches; the revoker role exists, trusts the broker, and can be assumed; the
//! trail reader role (`[activity]`) exists and trusts the broker.

use breakglass_config::Config;
use breakglass_config::resources::{AccountState, Resource, Role};
use breakglass_config::templates::activity::READER_PATH;
use breakglass_config::templates::revoker::REVOKER_PATH;
use breakglass_core::drill::Finding;
use breakglass_iam::Decision;

use super::{Run, SESSION_NAME, Where, account_id, read_failed, trust};
use crate::provision::{Clients, Provisioner, read_role};
use crate::sdk;

/// What the broker does with a role when it mints a grant, with each one's finding code.
const BROKER_ACTIONS: [(&str, &str); 3] = [
    ("sts:AssumeRole", "role_trust_assume_role"),
    ("sts:SetSourceIdentity", "role_trust_source_identity"),
    ("sts:TagSession", "role_trust_tag_session"),
];

fn desired_roles<'a>(state: &'a AccountState, path: &'a str) -> impl Iterator<Item = &'a Role> {
    state.resources.iter().filter_map(move |r| match r {
        Resource::Role(role) if role.path == path => Some(role),
        _ => None,
    })
}

fn role_arn(c: &Clients, role: &Role) -> String {
    format!(
        "arn:{}:iam::{}:role{}{}",
        c.partition, c.account, role.path, role.name
    )
}

/// The role as IAM holds it, `Ok(None)` when it does not exist.
async fn read(c: &Clients, name: &str) -> Result<Option<Role>, Finding> {
    match read_role(c, name).await {
        Ok(Some(observed)) => match observed.resource {
            Resource::Role(role) => Ok(Some(role)),
            _ => Ok(None),
        },
        Ok(None) => Ok(None),
        Err(e) => Err(read_failed(&c.account, None, &format!("role {name}"), &e)),
    }
}

/// The findings on `actual`'s trust policy for the broker's `actions`, each checked only when
/// the desired trust policy allows it (a role the config does not let the broker assume is
/// not a drift).
fn trust_findings(
    c: &Clients,
    principal: &str,
    want: &Role,
    actual: &Role,
    actions: &[(&str, &str)],
) -> Vec<Finding> {
    let arn = role_arn(c, want);
    let account = c.account.as_str();
    let mut findings = Vec::new();
    for (action, check) in actions {
        let wanted = trust::decide(&want.trust_policy, principal, &arn, account, action);
        if wanted != Ok(Decision::Allow) {
            continue;
        }
        match trust::decide(&actual.trust_policy, principal, &arn, account, action) {
            Ok(Decision::Allow) => {}
            Ok(decision) => findings.push(
                Finding::new(
                    check,
                    &want.name,
                    format!(
                        "trust policy of {} in {account} does not allow {action} for the broker {principal} ({}): run `breakglass apply` to restore it",
                        want.name,
                        match decision {
                            Decision::ExplicitDeny => "explicitly denied",
                            _ => "no statement allows it",
                        }
                    ),
                )
                .in_account(account),
            ),
            Err(problem) => {
                findings.push(
                    Finding::new(
                        "role_trust_unreadable",
                        &want.name,
                        format!(
                            "trust policy of {} in {account} cannot be evaluated: {problem}",
                            want.name
                        ),
                    )
                    .in_account(account),
                );
                break;
            }
        }
    }
    findings
}

fn missing(c: &Clients, role: &Role) -> Finding {
    Finding::new(
        "role_missing",
        &role.name,
        format!(
            "role {} is missing in {}: run `breakglass apply` to create it",
            role.name, c.account
        ),
    )
    .in_account(&c.account)
}

/// The guardrails of `want` (permissions boundary, managed policies) missing from `actual`.
fn guardrail_findings(c: &Clients, want: &Role, actual: &Role) -> Vec<Finding> {
    let account = c.account.as_str();
    let name = &want.name;
    let mut findings = Vec::new();
    if let Some(boundary) = &want.permissions_boundary
        && actual.permissions_boundary.as_ref() != Some(boundary)
    {
        let has = match &actual.permissions_boundary {
            Some(other) => format!("has permissions boundary {other} instead of {boundary}"),
            None => format!("has no permissions boundary (the config sets {boundary})"),
        };
        findings.push(
            Finding::new(
                "role_boundary",
                name,
                format!("role {name} in {account} {has}: run `breakglass apply`"),
            )
            .in_account(account),
        );
    }
    for arn in want.managed_policies.difference(&actual.managed_policies) {
        findings.push(
            Finding::new(
                "role_policy_detached",
                name,
                format!(
                    "policy {arn} is not attached to role {name} in {account}: run `breakglass apply`"
                ),
            )
            .in_account(account),
        );
    }
    findings
}

/// One step per brokered role of the account.
pub(super) async fn check(run: &mut Run<'_>, c: &Clients, config: &Config, state: &AccountState) {
    let account = account_id(state);
    for want in desired_roles(state, &config.path) {
        let timer = run.timer();
        let findings = match read(c, &want.name).await {
            Err(finding) => vec![finding],
            Ok(None) => vec![missing(c, want)],
            Ok(Some(actual)) => {
                let mut findings =
                    trust_findings(c, &config.broker.principal, want, &actual, &BROKER_ACTIONS);
                findings.extend(guardrail_findings(c, want, &actual));
                findings
            }
        };
        run.record(
            timer,
            "preflight: role",
            Where::role(account, &want.name),
            findings,
        );
    }
}

/// The revoker role: present and trusting the broker (one step), and assumable (another,
/// tried only when the caller is the broker, since nobody else may assume it).
pub(super) async fn check_revoker(
    run: &mut Run<'_>,
    provisioner: &Provisioner,
    c: &Clients,
    config: &Config,
    state: &AccountState,
) {
    let account = account_id(state);
    let principal = config.broker.principal.as_str();
    let revokers = desired_roles(state, REVOKER_PATH)
        .filter(|r| r.name == config.broker.revoker_role.as_str());
    for want in revokers {
        let name = want.name.as_str();
        let timer = run.timer();
        let findings = match read(c, name).await {
            Err(finding) => vec![finding],
            Ok(None) => vec![
                Finding::new(
                    "revoker_missing",
                    name,
                    format!(
                        "revoker role {name} is missing in {account}: the broker cannot cut sessions off there; run `breakglass apply`"
                    ),
                )
                .in_account(account),
            ],
            Ok(Some(actual)) => trust_findings(
                c,
                principal,
                want,
                &actual,
                &[("sts:AssumeRole", "revoker_trust")],
            ),
        };
        run.record(
            timer,
            "preflight: revoker role",
            Where::role(account, name),
            findings,
        );

        let timer = run.timer();
        let arn = role_arn(c, want);
        let caller = provisioner.caller_arn();
        if !trust::is_principal(caller, principal) {
            let why = Finding::new(
                "revoker_not_tried",
                name,
                format!(
                    "did not assume revoker role {name} in {account}: the caller {caller} is not the broker {principal}; run preflight as the broker to prove it"
                ),
            )
            .in_account(account);
            run.skip(
                timer,
                "preflight: revoker assumable",
                Where::role(account, name),
                why,
            );
            continue;
        }
        let findings = match sdk::assume_role(provisioner.base(), &arn, SESSION_NAME, account).await
        {
            Ok(_) => Vec::new(),
            Err(e) => vec![
                Finding::new(
                    "revoker_assume_failed",
                    name,
                    format!("the broker cannot assume revoker role {name} in {account}: {e}"),
                )
                .in_account(account),
            ],
        };
        run.record(
            timer,
            "preflight: revoker assumable",
            Where::role(account, name),
            findings,
        );
    }
}

/// The trail reader role of `[activity]`, in the log-archive account: present, and trusting
/// the broker with `sts:AssumeRole`.
pub(super) async fn check_reader(
    run: &mut Run<'_>,
    c: &Clients,
    config: &Config,
    state: &AccountState,
) {
    let Some(activity) = &config.activity else {
        return;
    };
    let account = account_id(state);
    let principal = config.broker.principal.as_str();
    let readers = desired_roles(state, READER_PATH).filter(|r| r.name == activity.reader_role);
    for want in readers {
        let name = want.name.as_str();
        let timer = run.timer();
        let findings = match read(c, name).await {
            Err(finding) => vec![finding],
            Ok(None) => vec![
                Finding::new(
                    "reader_missing",
                    name,
                    format!(
                        "trail reader role {name} is missing in {account}: the broker cannot read the organisation trail in bucket {}; run `breakglass apply`",
                        activity.bucket
                    ),
                )
                .in_account(account),
            ],
            Ok(Some(actual)) => trust_findings(
                c,
                principal,
                want,
                &actual,
                &[("sts:AssumeRole", "reader_trust")],
            ),
        };
        run.record(
            timer,
            "preflight: trail reader role",
            Where::role(account, name),
            findings,
        );
    }
}
