//! Validation of the `[notifications]` section: URLs, ARNs, addresses, variable names.

use super::super::raw::RawConfig;
use super::super::spans::FieldPath;
use super::super::{NotificationsConfig, SlackConfig, SmtpConfig, SmtpSecurity};
use super::{Validator, root};

/// A Slack id of one of `kinds` (its first letter) and upper-case letters and digits.
fn slack_id(id: &str, kinds: &[char]) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| kinds.contains(&c))
        && id.len() >= 3
        && id.len() <= 32
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

impl Validator {
    pub(super) fn slack(&mut self, raw: &RawConfig, notifications: bool) -> Option<SlackConfig> {
        let s = raw.slack.as_ref()?;
        let path = root().key("slack");
        if !notifications {
            self.push(
                &path,
                "the Slack app needs `[notifications]` (its messages link to the console at `console_url`)",
            );
        }
        if !slack_id(&s.team_id, &['T', 'E']) {
            self.push(
                &path.key("team_id"),
                format!("`{}` is not a Slack workspace id (`T` then capitals and digits, e.g. `T0123ABCD`)", s.team_id),
            );
        }
        self.env_name(&path.key("bot_token_env"), &s.bot_token_env);
        self.env_name(&path.key("signing_secret_env"), &s.signing_secret_env);
        let channel = |v: &mut Self, p: &FieldPath, c: &str| {
            if !slack_id(c, &['C', 'G']) {
                v.push(
                    p,
                    format!("`{c}` is not a Slack channel id (`C` then capitals and digits, e.g. `C0123ABCD`; copy it from the channel's details)"),
                );
            }
        };
        if let Some(c) = &s.approvals_channel {
            channel(self, &path.key("approvals_channel"), c);
        }
        channel(self, &path.key("security_channel"), &s.security_channel);
        let mut playbooks = Vec::new();
        for (id, p) in &s.playbooks {
            let pp = path.key("playbooks").key(id);
            if !raw.playbooks.contains_key(id) {
                self.push(&pp, format!("there is no playbook `{id}`"));
            }
            if let Some(c) = &p.channel {
                channel(self, &pp.key("channel"), c);
            }
            playbooks.push((id.clone(), p.channel.clone(), p.direct_messages));
        }
        if !console_url_ok(&s.api_url) {
            self.push(
                &path.key("api_url"),
                format!(
                    "Slack API URL `{}` must be `https://HOST...` (`http://` only for 127.0.0.1 or localhost)",
                    s.api_url
                ),
            );
        }
        Some(SlackConfig {
            team_id: s.team_id.clone(),
            bot_token_env: s.bot_token_env.clone(),
            signing_secret_env: s.signing_secret_env.clone(),
            approvals_channel: s.approvals_channel.clone(),
            security_channel: s.security_channel.clone(),
            direct_messages: s.direct_messages,
            playbooks,
            api_url: s.api_url.trim_end_matches('/').to_owned(),
        })
    }

    pub(super) fn notifications(&mut self, raw: &RawConfig) -> Option<NotificationsConfig> {
        let n = raw.notifications.as_ref()?;
        let path = root().key("notifications");
        if !console_url_ok(&n.console_url) {
            self.push(
                &path.key("console_url"),
                format!(
                    "console URL `{}` must be `https://HOST...` (`http://` only for 127.0.0.1 or localhost)",
                    n.console_url
                ),
            );
        }
        self.env_name(&path.key("webhook_secret_env"), &n.webhook_secret_env);
        if let Some(v) = &n.slack_webhook_url_env {
            self.env_name(&path.key("slack_webhook_url_env"), v);
        }
        if let Some(v) = &n.teams_webhook_url_env {
            self.env_name(&path.key("teams_webhook_url_env"), v);
        }
        if let Some(arn) = &n.sns_topic_arn {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let ok = parts.len() == 6
                && parts.first() == Some(&"arn")
                && parts.get(2) == Some(&"sns")
                && parts
                    .get(4)
                    .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
                && parts.get(5).is_some_and(|t| !t.is_empty());
            if !ok {
                self.push(
                    &path.key("sns_topic_arn"),
                    format!("`{arn}` is not an SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`)"),
                );
            }
        }
        for (i, email) in n.security_team_emails.iter().enumerate() {
            self.email(&path.key("security_team_emails").index(i), email);
        }
        if !(1..=50).contains(&n.max_attempts) {
            self.push(
                &path.key("max_attempts"),
                format!("{} attempts: must be between 1 and 50", n.max_attempts),
            );
        }
        let smtp = n.smtp.as_ref().map(|s| {
            let sp = path.key("smtp");
            if s.host.is_empty() || s.host.contains(char::is_whitespace) {
                self.push(&sp.key("host"), format!("`{}` is not a host name", s.host));
            }
            self.email(&sp.key("from"), &s.from);
            if let Some(v) = &s.password_env {
                self.env_name(&sp.key("password_env"), v);
            }
            let security = match s.security.as_str() {
                "starttls" => SmtpSecurity::StartTls,
                "tls" => SmtpSecurity::Tls,
                "none" => {
                    if !["127.0.0.1", "localhost", "::1"].contains(&s.host.as_str()) {
                        self.push(
                            &sp.key("security"),
                            format!("`none` sends mail in clear text: only allowed for a relay on 127.0.0.1 or localhost, not `{}`", s.host),
                        );
                    }
                    SmtpSecurity::None
                }
                other => {
                    self.push(
                        &sp.key("security"),
                        format!("`{other}` is not one of `starttls`, `tls`, `none`"),
                    );
                    SmtpSecurity::StartTls
                }
            };
            SmtpConfig {
                host: s.host.clone(),
                port: s.port,
                security,
                from: s.from.clone(),
                username: s.username.clone(),
                password_env: s.password_env.clone(),
            }
        });
        Some(NotificationsConfig {
            console_url: n.console_url.trim_end_matches('/').to_owned(),
            webhook_secret_env: n.webhook_secret_env.clone(),
            slack_webhook_url_env: n.slack_webhook_url_env.clone(),
            teams_webhook_url_env: n.teams_webhook_url_env.clone(),
            sns_topic_arn: n.sns_topic_arn.clone(),
            smtp,
            security_team_emails: n.security_team_emails.clone(),
            max_attempts: n.max_attempts,
        })
    }

    pub(super) fn env_name(&mut self, path: &FieldPath, name: &str) {
        let ok = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.push(
                path,
                format!("`{name}` is not an environment variable name (letters, digits, `_`): put the secret in the environment and name the variable here"),
            );
        }
    }

    fn email(&mut self, path: &FieldPath, email: &str) {
        let ok = email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        });
        if !ok {
            self.push(path, format!("`{email}` is not an email address"));
        }
    }
}

/// Whether `url` parses as an `https://` URL with a host, or an `http://` one whose host is
/// this machine (`localhost`, a loopback address): compared by the parsed host, so
/// `http://127.0.0.1.evil.example` is a remote host like any other. No user information.
fn console_url_ok(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    if !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    match (u.scheme(), u.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(d))) => d.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}
