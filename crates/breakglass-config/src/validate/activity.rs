//! Validation of the `[activity]` section: the trail's bucket and prefix, the log-archive
//! account, the reader role's name, the queue and log group names, and the periods.

use time::Duration;

use super::super::raw::RawConfig;
use super::super::{AccountConfig, Activity, parse_duration, parse_long_duration};
use super::{Validator, is_iam_name_char, root};
use crate::templates::activity::DEFAULT_READER_ROLE;

/// The shortest retention: a day, so a grant's timeline outlives the grant.
const MIN_RETENTION: Duration = Duration::days(1);
/// How often `serve` may list the bucket: between 10 seconds and an hour.
const MIN_EVERY: Duration = Duration::seconds(10);
const MAX_EVERY: Duration = Duration::hours(1);

/// S3's bucket naming rules for general purpose buckets: 3–63 lowercase letters, digits, `.`
/// and `-`, starting and ending with a letter or digit, no `..`, not shaped like an IP
/// address, none of the reserved prefixes and suffixes.
fn bucket_problem(name: &str) -> Option<&'static str> {
    let chars_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&name.len()) {
        return Some("3 to 63 characters");
    }
    if !chars_ok {
        return Some("only lowercase letters, digits, `.` and `-`");
    }
    if !ends_ok(name.as_bytes().first()) || !ends_ok(name.as_bytes().last()) {
        return Some("starts and ends with a letter or digit");
    }
    if name.contains("..") {
        return Some("no two adjacent periods");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some("not formatted as an IP address");
    }
    let reserved_prefix = ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p));
    let reserved_suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|s| name.ends_with(s));
    if reserved_prefix || reserved_suffix {
        return Some("none of S3's reserved prefixes and suffixes");
    }
    None
}

/// An SQS standard queue name: 1–80 letters, digits, `-` and `_`.
fn queue_ok(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Validator {
    pub(super) fn activity(
        &mut self,
        raw: &RawConfig,
        accounts: &[AccountConfig],
    ) -> Option<Activity> {
        let a = raw.activity.as_ref()?;
        let path = root().key("activity");
        if let Some(problem) = bucket_problem(&a.bucket) {
            self.push(
                &path.key("bucket"),
                format!(
                    "`{}` is not an S3 bucket name ({problem}): give the name of the organisation trail's bucket, as `aws cloudtrail describe-trails` shows it",
                    a.bucket
                ),
            );
        }
        if !accounts.iter().any(|c| c.name == a.account)
            && !self.broken_accounts.contains(&a.account)
        {
            let known: Vec<String> = raw.accounts.keys().map(|n| format!("`{n}`")).collect();
            self.push(
                &path.key("account"),
                format!(
                    "account `{}` is not defined under [accounts] ({}): name the log-archive account that holds the trail's bucket, and add it there if it is missing",
                    a.account,
                    known.join(", ")
                ),
            );
        }
        let prefix_ok = a.prefix.len() <= 200
            && !a.prefix.starts_with('/')
            && !a.prefix.ends_with('/')
            && !a.prefix.contains("//")
            && !a.prefix.contains(char::is_control);
        if !prefix_ok {
            self.push(
                &path.key("prefix"),
                format!(
                    "prefix `{}` must be the trail's S3 key prefix as CloudTrail shows it: at most 200 characters, without a leading or trailing `/` (e.g. `org-trail` for `org-trail/AWSLogs/…`)",
                    a.prefix
                ),
            );
        }
        let reader_role = a
            .reader_role
            .clone()
            .unwrap_or_else(|| DEFAULT_READER_ROLE.to_owned());
        self.reader_role(raw, &reader_role);
        if let Some(queue) = &a.queue {
            if queue.ends_with(".fifo") {
                self.push(
                    &path.key("queue"),
                    format!("queue `{queue}` is a FIFO queue: name a standard queue (drop `.fifo`); the reader dedupes on `eventID` itself"),
                );
            } else if !queue_ok(queue) {
                self.push(
                    &path.key("queue"),
                    format!("`{queue}` is not an SQS queue name (1–80 of `A-Za-z0-9_-`)"),
                );
            }
        }
        if let Some(group) = &a.log_group {
            self.log_group(&path.key("log_group"), group);
        }
        let retention = match &a.retention {
            None => Some(Duration::days(90)),
            Some(text) => match parse_long_duration(text) {
                Ok(d) if d < MIN_RETENTION => {
                    self.push(
                        &path.key("retention"),
                        format!("retention `{text}` is below the 1d minimum: keep timelines at least a day (e.g. `90d`)"),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    self.push(&path.key("retention"), e);
                    None
                }
            },
        };
        let every = match &a.every {
            None => Some(Duration::minutes(1)),
            Some(text) => match parse_duration(text) {
                Ok(d) if d < MIN_EVERY || d > MAX_EVERY => {
                    self.push(
                        &path.key("every"),
                        format!("`every = \"{text}\"` must be between 10s and 1h (CloudTrail delivers about every 5 minutes; e.g. `1m`)"),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    self.push(&path.key("every"), e);
                    None
                }
            },
        };
        Some(Activity {
            bucket: a.bucket.clone(),
            account: a.account.clone(),
            prefix: a.prefix.clone(),
            reader_role,
            queue: a.queue.clone(),
            log_group: a.log_group.clone(),
            retention: retention?,
            every: every?,
        })
    }

    /// The reader role is created in the log-archive account: its name must be an IAM role
    /// name, must not be a role the config already deploys (or the revoker or deploy role:
    /// IAM role names are unique per account whatever the path), and must not match the
    /// break-glass pattern (every read would alarm).
    fn reader_role(&mut self, raw: &RawConfig, name: &str) {
        let field = root().key("activity").key("reader_role");
        if name.is_empty() || name.len() > 64 || !name.chars().all(is_iam_name_char) {
            self.push(
                &field,
                format!("`{name}` is not an IAM role name (1–64 of letters, digits and `_+=,.@-`)"),
            );
            return;
        }
        let revoker = raw
            .broker
            .revoker_role
            .as_deref()
            .unwrap_or(crate::templates::revoker::DEFAULT_REVOKER_ROLE);
        let deploy = raw.deploy.role.as_deref().unwrap_or("SecurityDeploy");
        let clash = if name == revoker {
            Some("the revoker role (`broker.revoker_role`)")
        } else if name == deploy {
            Some("the deploy role (`deploy.role`)")
        } else if raw.roles.contains_key(name) {
            Some("a role under [roles]")
        } else {
            None
        };
        if let Some(what) = clash {
            self.push(
                &field,
                format!("reader role `{name}` is also {what}: IAM role names are unique per account, give it its own name (e.g. `{DEFAULT_READER_ROLE}`)"),
            );
        }
        let pattern = &raw.alerting.role_name_pattern;
        if super::super::lint::glob_matches(pattern, name) {
            self.push(
                &field,
                format!("reader role `{name}` matches the break-glass role-name pattern `{pattern}`: every read of the trail would raise the break-glass alarms"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{bucket_problem, queue_ok};

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for ok in [
            "org-cloudtrail-logs",
            "abc",
            "a.b-c1",
            "aws-controltower-logs-123456789012-us-east-1",
        ] {
            assert_eq!(bucket_problem(ok), None, "{ok}");
        }
        let long = "a".repeat(64);
        for bad in [
            "ab",
            "Org-Trail",
            "org_trail",
            "-trail",
            "trail-",
            "a..b",
            "192.168.1.1",
            "xn--trail",
            "trail-s3alias",
            "s3://org-trail",
            long.as_str(),
        ] {
            assert!(bucket_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn queue_names_follow_sqss_rules() {
        assert!(queue_ok("breakglass-activity"));
        assert!(!queue_ok(""));
        assert!(!queue_ok("a queue"));
        assert!(!queue_ok(&"q".repeat(81)));
    }
}
