//! Validation of the `[notifications]` section: URLs, ARNs, addresses, variable names.

use super::super::raw::RawConfig;
use super::super::spans::FieldPath;
use super::super::{NotificationsConfig, SmtpConfig, SmtpSecurity};
use super::{Validator, root};

impl Validator {
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
