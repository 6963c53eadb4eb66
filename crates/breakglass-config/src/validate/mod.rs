//! The second stage of loading: the raw file checked field by field into a [`Config`].
//!
//! Every check records a problem against the field's path and carries on, so one run reports
//! everything wrong with the file; the problems are located (file, line, column) at the end.

mod activity;
mod notifications;
mod oidc;
mod playbooks;
mod roles;

use std::collections::{BTreeMap, BTreeSet};

use breakglass_core::model::{AccountId, GroupName, IdError, PlaybookId, RoleName, Username};
use time::Duration;

use super::error::Problems;
use super::raw::{RawAccount, RawConfig};
use super::spans::{FieldPath, SpanIndex};
use super::{
    AccountConfig, AlertingConfig, AuthConfig, BrokerConfig, CONFIG_VERSION, Config, DeployConfig,
    DrillsConfig, OrganizationConfig, ResponderConfig, parse_duration,
};
use breakglass_trail::rules::builtin;

use super::resources::AlarmRule;
use crate::templates::monitoring::builtin_params;
use crate::templates::revoker::DEFAULT_REVOKER_ROLE;
use crate::templates::users::break_glass_user_name;
use crate::templates::{DEFAULT_PATH, TemplateContext};
use breakglass_core::aws_limits;

/// IAM's limits that the config can break.
const MIN_ROLE_SESSION: Duration = Duration::hours(1);
const MAX_SESSION: Duration = aws_limits::MAX_ASSUME_ROLE_DURATION;
const MIN_GRANT: Duration = Duration::minutes(15);
const MAX_TAGS: usize = aws_limits::MAX_SESSION_TAGS;

pub(super) fn load(text: &str, file: &str) -> Result<Config, super::ConfigErrors> {
    let index = SpanIndex::new(text);
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            return Err(Problems::from_parser(
                file,
                &index,
                err.message(),
                err.span().map(|s| s.start),
            ));
        }
    };
    let mut v = Validator::default();
    let config = v.config(raw, text, file);
    match config {
        Some(config) if v.problems.is_empty() => Ok(config),
        _ => Err(v.problems.locate(file, &index)),
    }
}

#[derive(Default)]
struct Validator {
    problems: Problems,
    /// Accounts and roles that are declared but invalid. Their problems are already
    /// reported, so references to them are not reported again as missing.
    broken_accounts: BTreeSet<String>,
    broken_roles: BTreeSet<String>,
}

fn root() -> FieldPath {
    FieldPath::root()
}

/// `[\w+=,.@-]`: IAM names (roles, users, policies).
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

fn is_short_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `arn:<partition>:iam::<account>:<kind>/<path/>name`, checking the partition and kind.
fn check_iam_arn(arn: &str, partition: &str, kinds: &[&str]) -> Result<(), String> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(p), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(format!(
            "`{arn}` is not an IAM ARN (`arn:{partition}:iam::<account>:{}/<name>`)",
            kinds.join("|")
        ));
    };
    if p != partition {
        return Err(format!(
            "`{arn}` is in partition `{p}`, but the config's partition is `{partition}`"
        ));
    }
    let aws_owned = account == "aws" && kinds.contains(&"policy");
    if !aws_owned {
        AccountId::new(account).map_err(|e| format!("`{arn}`: {e}"))?;
    }
    let Some((kind, rest)) = resource.split_once('/') else {
        return Err(format!("`{arn}` has no `{}/` part", kinds.join("|")));
    };
    if !kinds.contains(&kind) {
        return Err(format!(
            "`{arn}` names a `{kind}`, expected a {}",
            kinds.join(" or ")
        ));
    }
    let name = rest.rsplit('/').next().unwrap_or(rest);
    if name.is_empty() || !name.chars().all(is_iam_name_char) {
        return Err(format!("`{arn}` has an invalid name `{name}`"));
    }
    Ok(())
}

impl Validator {
    fn push(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.problems.push(path, message);
    }

    fn id<T>(&mut self, path: &FieldPath, parsed: Result<T, IdError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(err) => {
                self.push(path, err.to_string());
                None
            }
        }
    }

    fn duration(&mut self, path: &FieldPath, text: &str, min: Duration) -> Option<Duration> {
        let d = match parse_duration(text) {
            Ok(d) => d,
            Err(err) => {
                self.push(path, err);
                return None;
            }
        };
        if d > MAX_SESSION {
            self.push(
                path,
                format!("duration `{text}` is above the 12h maximum AWS allows"),
            );
            return None;
        }
        if d < min {
            self.push(
                path,
                format!(
                    "duration `{text}` is below the {} minimum",
                    super::format_duration(min)
                ),
            );
            return None;
        }
        Some(d)
    }

    fn groups(&mut self, path: &FieldPath, groups: &[String]) -> Vec<GroupName> {
        groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| self.id(&path.index(i), GroupName::new(g.as_str())))
            .collect()
    }

    fn config(&mut self, raw: RawConfig, text: &str, file: &str) -> Option<Config> {
        if raw.version != CONFIG_VERSION {
            self.push(
                &root().key("version"),
                format!(
                    "unsupported config version `{}`: this breakglass reads version {CONFIG_VERSION}",
                    raw.version
                ),
            );
        }
        let partition = raw.partition.clone().unwrap_or_else(|| "aws".to_owned());
        if !matches!(partition.as_str(), "aws" | "aws-cn" | "aws-us-gov") {
            self.push(
                &root().key("partition"),
                format!(
                    "unknown partition `{partition}`: expected `aws`, `aws-cn` or `aws-us-gov`"
                ),
            );
        }
        let accounts = self.accounts(&raw);
        let security_account = accounts
            .iter()
            .find(|a| a.name == raw.security_account)
            .map(|a| a.id.clone());
        if security_account.is_none() {
            let known: Vec<String> = raw.accounts.keys().map(|n| format!("`{n}`")).collect();
            self.push(
                &root().key("security_account"),
                format!(
                    "security account `{}` is not one of the accounts ({})",
                    raw.security_account,
                    known.join(", ")
                ),
            );
        }
        let broker = self.broker(&raw, &partition);
        let deploy = self.deploy(&raw, &partition);
        let responders = self.responders(&raw);
        let alerting = self.alerting(&raw);
        let notifications = self.notifications(&raw);
        let notifications_set = raw.notifications.is_some();
        let oidc = self.oidc(&raw, notifications.as_ref());
        let local = self.local_accounts(&raw);
        let passkeys = self.passkeys(&raw);
        let auth = AuthConfig {
            oidc,
            local,
            passkeys,
        };
        let ctx = TemplateContext {
            partition: partition.clone(),
            path: DEFAULT_PATH.to_owned(),
            sns_topic: alerting.sns_topic.clone(),
        };
        let roles = self.roles(&raw, &ctx, &accounts, security_account.as_ref());
        let activity = self.activity(&raw, &accounts);
        // Playbooks and principal policies need the whole config; without a security account
        // or deploy role (already reported) they cannot be checked.
        let mut config = Config {
            file: file.to_owned(),
            partition,
            path: DEFAULT_PATH.to_owned(),
            security_account: security_account?,
            accounts,
            broker: broker?,
            deploy: deploy?,
            responders,
            roles,
            playbooks: Vec::new(),
            alerting,
            notifications,
            auth,
            organization: self.organization(&raw),
            slack: self.slack(&raw, notifications_set),
            drills: self.drills(&raw),
            activity: None,
            text: text.to_owned(),
        };
        config.activity = activity;
        self.revoker(&config);
        config.playbooks = self.playbooks(&raw, &config);
        self.principal_policies(&config);
        Some(config)
    }

    fn accounts(&mut self, raw: &RawConfig) -> Vec<AccountConfig> {
        let base = root().key("accounts");
        if raw.accounts.is_empty() {
            self.push(&base, "at least one account is required");
        }
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut out = Vec::new();
        for (name, account) in &raw.accounts {
            let path = base.key(name);
            if !is_short_name(name) {
                self.push(
                    &path,
                    format!("account name `{name}`: allowed characters are lowercase letters, digits, `-` and `_`"),
                );
            } else if name.len() == 12 && name.chars().all(|c| c.is_ascii_digit()) {
                // Accounts are named by name or id wherever one is asked for: a name that
                // reads as an id could stand for another account than the id it reads as.
                self.push(
                    &path,
                    format!("account name `{name}` is 12 digits, so it reads as an account id: name the account with a word (e.g. `production`)"),
                );
            }
            let Some(config) =
                self.account(&path, name, account, &raw.alerting.cloudtrail_log_group)
            else {
                self.broken_accounts.insert(name.clone());
                continue;
            };
            if let Some(other) = seen.insert(config.id.to_string(), name.clone()) {
                self.push(
                    &path.key("id"),
                    format!(
                        "account id `{}` is also used by account `{other}`",
                        config.id
                    ),
                );
            }
            out.push(config);
        }
        out
    }

    fn account(
        &mut self,
        path: &FieldPath,
        name: &str,
        raw: &RawAccount,
        default_log_group: &str,
    ) -> Option<AccountConfig> {
        let id = self.id(&path.key("id"), AccountId::new(raw.id.as_str()));
        if raw.regions.is_empty() {
            self.push(&path.key("regions"), "at least one region is required");
        }
        let mut seen = BTreeSet::new();
        for (i, region) in raw.regions.iter().enumerate() {
            if !is_region(region) {
                self.push(
                    &path.key("regions").index(i),
                    format!("`{region}` is not an AWS region name (e.g. `us-east-1`)"),
                );
            }
            if !seen.insert(region) {
                self.push(
                    &path.key("regions").index(i),
                    format!("region `{region}` is listed twice"),
                );
            }
        }
        let log_group = raw
            .cloudtrail_log_group
            .clone()
            .unwrap_or_else(|| default_log_group.to_owned());
        if raw.cloudtrail_log_group.is_some() {
            self.log_group(&path.key("cloudtrail_log_group"), &log_group);
        }
        Some(AccountConfig {
            name: name.to_owned(),
            id: id?,
            regions: raw.regions.clone(),
            cloudtrail_log_group: log_group,
        })
    }

    fn log_group(&mut self, path: &FieldPath, name: &str) {
        let ok = !name.is_empty()
            && name.len() <= 512
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
        if !ok {
            self.push(
                path,
                format!("`{name}` is not a CloudWatch Logs group name (1–512 of `A-Za-z0-9._-/#`)"),
            );
        }
    }

    fn broker(&mut self, raw: &RawConfig, partition: &str) -> Option<BrokerConfig> {
        let path = root().key("broker");
        if let Err(msg) = check_iam_arn(&raw.broker.principal, partition, &["role", "user"]) {
            self.push(&path.key("principal"), msg);
        }
        let url = &raw.broker.store_url;
        if !["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            self.push(
                &path.key("store_url"),
                format!("store URL `{url}` must start with `sqlite://`, `postgres://` or `postgresql://`"),
            );
        }
        let revoker = raw
            .broker
            .revoker_role
            .clone()
            .unwrap_or_else(|| DEFAULT_REVOKER_ROLE.to_owned());
        let revoker_role = self.id(&path.key("revoker_role"), RoleName::new(revoker));
        Some(BrokerConfig {
            principal: raw.broker.principal.clone(),
            store_url: url.clone(),
            revoker_role: revoker_role?,
        })
    }

    /// The broker runs in the security account, so the revoker role is deployed to every
    /// other account; its name must not collide with a role of the config (IAM role names
    /// are unique per account, whatever the path) nor look like a break-glass role (every
    /// revocation would alarm).
    fn revoker(&mut self, config: &Config) {
        let path = root().key("broker");
        let account = config
            .broker
            .principal
            .split(':')
            .nth(4)
            .unwrap_or_default();
        if AccountId::new(account).is_ok() && account != config.security_account.as_str() {
            self.push(
                &path.key("principal"),
                format!(
                    "the broker's principal `{}` is in account {account}, but the broker runs in the security account ({}): name a principal of that account",
                    config.broker.principal, config.security_account
                ),
            );
        }
        let name = &config.broker.revoker_role;
        if name == &config.deploy.role {
            self.push(
                &path.key("revoker_role"),
                format!("revoker role `{name}` is also the deploy role: give it its own name"),
            );
        } else if config.roles.iter().any(|r| &r.name == name) {
            self.push(
                &path.key("revoker_role"),
                format!(
                    "revoker role `{name}` is also defined under [roles]: IAM role names are unique per account, give it another name"
                ),
            );
        }
        // Only a usable pattern (one the alarms were built from) is checked against.
        if !config.alerting.alarm_rules.is_empty()
            && super::lint::glob_matches(&config.alerting.role_name_pattern, name.as_str())
        {
            self.push(
                &path.key("revoker_role"),
                format!(
                    "revoker role `{name}` matches the break-glass role-name pattern `{}`: every revocation would raise the break-glass alarms",
                    config.alerting.role_name_pattern
                ),
            );
        }
    }

    fn drills(&mut self, raw: &RawConfig) -> DrillsConfig {
        let mut out = DrillsConfig::default();
        let Some(d) = raw.drills.as_ref() else {
            return out;
        };
        let path = root().key("drills");
        let long = |this: &mut Self, key: &str, text: &str, min: Duration| {
            let field = path.key(key);
            match parse_duration(text) {
                Ok(v) if v < min => {
                    this.push(
                        &field,
                        format!(
                            "duration `{text}` is below the {} minimum",
                            super::format_duration(min)
                        ),
                    );
                    None
                }
                Ok(v) => Some(v),
                Err(e) => {
                    this.push(&field, e);
                    None
                }
            }
        };
        if let Some(every) = &d.every {
            out.every = long(self, "every", every, Duration::minutes(15));
        }
        if let Some(t) = &d.alert_timeout {
            out.alert_timeout =
                long(self, "alert_timeout", t, Duration::seconds(5)).unwrap_or(out.alert_timeout);
        }
        if let Some(t) = &d.password_max_age {
            out.password_max_age = long(self, "password_max_age", t, Duration::hours(24))
                .unwrap_or(out.password_max_age);
        }
        for (i, p) in d.playbooks.iter().enumerate() {
            let field = path.key("playbooks").index(i);
            if !raw.playbooks.contains_key(p) {
                let known: Vec<&str> = raw.playbooks.keys().map(String::as_str).collect();
                self.push(
                    &field,
                    format!(
                        "playbook `{p}` is not defined (playbooks: {})",
                        known.join(", ")
                    ),
                );
            } else if let Some(id) = self.id(&field, PlaybookId::new(p.as_str())) {
                out.playbooks.push(id);
            }
        }
        out
    }

    fn organization(&mut self, raw: &RawConfig) -> Option<OrganizationConfig> {
        let raw = raw.organization.as_ref()?;
        let path = root().key("organization");
        let account = self.id(
            &path.key("management_account"),
            AccountId::new(raw.management_account.as_str()),
        );
        for (i, target) in raw.targets.iter().enumerate() {
            if !is_organization_target(target) {
                self.push(
                    &path.key("targets").index(i),
                    format!(
                        "`{target}` is not a root (`r-` then 4 to 32 lowercase letters or digits), an organizational unit (`ou-…-…`) or a 12-digit account id"
                    ),
                );
            }
        }
        Some(OrganizationConfig {
            management_account: account?,
            targets: raw.targets.clone(),
        })
    }

    fn deploy(&mut self, raw: &RawConfig, partition: &str) -> Option<DeployConfig> {
        let path = root().key("deploy");
        let role_name = raw
            .deploy
            .role
            .clone()
            .unwrap_or_else(|| "SecurityDeploy".to_owned());
        let role = self.id(&path.key("role"), RoleName::new(role_name));
        for (i, principal) in raw.deploy.principals.iter().enumerate() {
            if let Err(msg) = check_iam_arn(principal, partition, &["role", "user"]) {
                self.push(&path.key("principals").index(i), msg);
            }
        }
        Some(DeployConfig {
            role: role?,
            principals: raw.deploy.principals.clone(),
        })
    }

    fn responders(&mut self, raw: &RawConfig) -> Vec<ResponderConfig> {
        let base = root().key("responders");
        let mut out = Vec::new();
        for (username, r) in &raw.responders {
            let path = base.key(username);
            let Some(user) = self.id(&path, Username::new(username.as_str())) else {
                continue;
            };
            if breakglass_core::drill::is_drill_identity(username) {
                self.push(
                    &path,
                    format!(
                        "username `{username}` starts with `{}`, which is reserved for the broker's drill identities: choose another",
                        breakglass_core::drill::IDENTITY_PREFIX
                    ),
                );
            }
            if r.name.trim().is_empty() {
                self.push(&path.key("name"), "the name must not be empty");
            }
            let email_ok = r.email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !r.email.contains(char::is_whitespace)
            });
            if !email_ok {
                self.push(
                    &path.key("email"),
                    format!("`{}` is not an email address", r.email),
                );
            }
            let groups = self.groups(&path.key("groups"), &r.groups);
            let config = ResponderConfig {
                username: user,
                name: r.name.clone(),
                email: r.email.clone(),
                emergency_contact: r.emergency_contact.clone(),
                groups,
                break_glass_user: r.break_glass_user,
            };
            let user_name = break_glass_user_name(&config.username);
            if r.break_glass_user && user_name.chars().count() > 64 {
                self.push(
                    &path.key("break_glass_user"),
                    format!(
                        "the break-glass user name `{}` is longer than IAM's 64 characters: shorten the username",
                        user_name
                    ),
                );
            }
            out.push(config);
        }
        out
    }

    fn alerting(&mut self, raw: &RawConfig) -> AlertingConfig {
        let path = root().key("alerting");
        let a = &raw.alerting;
        // CloudWatch Logs filter patterns, which the scanner and the metric filters use,
        // only know `*` at the start and/or end of a value.
        let core = a
            .role_name_pattern
            .strip_prefix('*')
            .unwrap_or(&a.role_name_pattern);
        let core = core.strip_suffix('*').unwrap_or(core);
        let pattern_ok = !core.is_empty()
            && a.role_name_pattern.len() <= 64
            && core.chars().all(is_iam_name_char);
        if !pattern_ok {
            self.push(
                &path.key("role_name_pattern"),
                format!(
                    "role-name pattern `{}` must be role-name characters (letters, digits, _+=,.@-) with at most one `*` at the start and one at the end",
                    a.role_name_pattern
                ),
            );
        }
        let topic_ok = !a.sns_topic.is_empty()
            && a.sns_topic.len() <= 256
            && a.sns_topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !topic_ok {
            self.push(
                &path.key("sns_topic"),
                format!(
                    "`{}` is not an SNS topic name (1–256 of `A-Za-z0-9_-`)",
                    a.sns_topic
                ),
            );
        }
        for (i, url) in a.webhook_urls.iter().enumerate() {
            let ok = url
                .strip_prefix("https://")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if !ok {
                self.push(
                    &path.key("webhook_urls").index(i),
                    format!("webhook `{url}` must be an `https://` URL"),
                );
            }
        }
        self.log_group(&path.key("cloudtrail_log_group"), &a.cloudtrail_log_group);
        let ns_ok = !a.metric_namespace.is_empty()
            && a.metric_namespace.len() <= 255
            && !a.metric_namespace.starts_with("AWS/")
            && !a.metric_namespace.contains(char::is_control);
        if !ns_ok {
            self.push(
                &path.key("metric_namespace"),
                format!("`{}` is not a usable CloudWatch namespace (1–255 characters, not under `AWS/`)", a.metric_namespace),
            );
        }
        let alarm_rules = if pattern_ok {
            self.alarm_rules(&path.key("role_name_pattern"), &a.role_name_pattern)
        } else {
            Vec::new()
        };
        AlertingConfig {
            alarm_rules,
            role_name_pattern: a.role_name_pattern.clone(),
            sns_topic: a.sns_topic.clone(),
            webhook_urls: a.webhook_urls.clone(),
            metric_namespace: a.metric_namespace.clone(),
        }
    }

    /// The scanner's built-in rules with an alarm, for the config's role-name pattern.
    fn alarm_rules(&mut self, path: &FieldPath, role_name_pattern: &str) -> Vec<AlarmRule> {
        let params = builtin_params(role_name_pattern, DEFAULT_PATH);
        match builtin::rules(&params) {
            Ok(rules) => rules
                .into_iter()
                .filter_map(|rule| {
                    let alarm = rule.alarm?;
                    Some(AlarmRule {
                        description: rule.title,
                        pattern: rule.pattern.deployable().into_owned(),
                        threshold: alarm.threshold,
                        period: alarm.period,
                        id: rule.id,
                    })
                })
                .collect(),
            Err(err) => {
                self.push(
                    path,
                    format!("the scanner's rules cannot use this pattern: {err}"),
                );
                Vec::new()
            }
        }
    }

    fn account_refs(
        &mut self,
        path: &FieldPath,
        names: &[String],
        accounts: &[AccountConfig],
    ) -> Vec<AccountId> {
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match accounts.iter().find(|a| &a.name == name) {
                Some(a) => out.push(a.id.clone()),
                None if self.broken_accounts.contains(name) => {}
                None => self.push(
                    &path.index(i),
                    format!("account `{name}` is not defined under [accounts]"),
                ),
            }
        }
        out
    }
}

/// serde_json appends "at line L column C" to its messages; the caller reports them itself.
fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// Whether `target` is an Organizations policy target id, by the patterns of
/// `AttachPolicy`'s `TargetId`: a root `r-[0-9a-z]{4,32}`, an organizational unit
/// `ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}` or a 12-digit account id.
fn is_organization_target(target: &str) -> bool {
    let lower_alnum = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    if let Some(rest) = target.strip_prefix("ou-") {
        return rest
            .split_once('-')
            .is_some_and(|(a, b)| lower_alnum(a, 4, 32) && lower_alnum(b, 8, 32));
    }
    if let Some(rest) = target.strip_prefix("r-") {
        return lower_alnum(rest, 4, 32);
    }
    target.len() == 12 && target.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod organization_tests {
    use super::is_organization_target;

    #[test]
    fn organization_targets_are_roots_units_or_accounts() {
        for ok in ["r-ab12", "ou-ab12-abcdefgh", "123456789012"] {
            assert!(is_organization_target(ok), "{ok}");
        }
        for bad in [
            "r-AB12",
            "r-a",
            "ou-ab12",
            "ou-ab12-abc",
            "12345678901",
            "p-12345678",
            "",
        ] {
            assert!(!is_organization_target(bad), "{bad}");
        }
    }
}
