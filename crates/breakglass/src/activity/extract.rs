//! CloudTrail records to the broker's [`Observed`] events: the few fields the linker and
//! the timeline need, read lazily from the raw JSON, for only the events that can matter
//! ([`Known::relevant`]); and the built-in alert rules each kept event matched.

use std::io::Read;

use breakglass_core::activity::{Assumed, Known, Observed, Principal};
use breakglass_trail::Event;
use breakglass_trail::read::{Limits, ReadBuffers, ReadError, ReadStats, read_records_with};
use breakglass_trail::rules::{PrefilterScratch, RuleSet};
use time::OffsetDateTime;

/// Reads CloudTrail inputs into [`Observed`] events, keeping only the relevant ones.
pub struct Extractor {
    rules: RuleSet,
    scratch: PrefilterScratch,
    hits: Vec<usize>,
    buffers: ReadBuffers,
    limits: Limits,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

/// What one input gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Records read.
    pub records: u64,
    /// Records kept.
    pub kept: u64,
    /// Records skipped as broken.
    pub skipped: u64,
    /// Bytes of JSON read (after decompression).
    pub bytes: u64,
}

impl Extractor {
    /// An extractor running `rules` on the kept events.
    pub fn new(rules: RuleSet) -> Self {
        let scratch = rules.scratch();
        Extractor {
            rules,
            scratch,
            hits: Vec::new(),
            buffers: ReadBuffers::default(),
            limits: Limits::default(),
        }
    }

    /// Reads `input` (any format `breakglass scan` reads), appending the events `known`
    /// finds relevant to `out`. A broken record is skipped; an error that ends the input is
    /// returned with what came before it already in `out`.
    pub fn read<R: Read>(
        &mut self,
        input: R,
        known: &Known,
        out: &mut Vec<Observed>,
    ) -> Result<Extracted, ReadError> {
        let mut stats = ReadStats::default();
        let Extractor {
            rules,
            scratch,
            hits,
            buffers,
            limits,
        } = self;
        let mut kept = 0;
        let result = read_records_with(input, limits, buffers, &mut stats, |item| {
            let Ok(record) = item else { return };
            let event = record.event();
            let Some(mut observed) = observe_if(&event, |o| known.relevant(o)) else {
                return;
            };
            rules.matching(&event, scratch, hits);
            observed.rules = hits
                .iter()
                .filter_map(|&i| rules.rules().get(i))
                .map(|r| r.id.clone())
                .collect();
            kept += 1;
            out.push(observed);
        });
        let extracted = Extracted {
            records: stats.records + stats.skipped,
            kept,
            skipped: stats.skipped,
            bytes: stats.bytes,
        };
        result.map(|()| extracted)
    }
}

fn text(event: &Event<'_>, keys: &[&str]) -> Option<String> {
    event
        .str(keys)
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty())
}

/// The broker's view of one CloudTrail event; `None` when it has no `eventID`, time, source
/// or name (it cannot be deduplicated or placed).
#[cfg(test)]
pub fn observe(event: &Event<'_>) -> Option<Observed> {
    observe_if(event, |_| true)
}

/// [`observe`], for an event `keep` keeps: judged on who called and what (the fields
/// [`Known::relevant`] reads) before the rest of the event is read, so the events that do
/// not matter (most of a trail) cost only those few lookups.
pub fn observe_if(event: &Event<'_>, keep: impl FnOnce(&Observed) -> bool) -> Option<Observed> {
    let event_id = text(event, &["eventID"])?;
    let at = OffsetDateTime::from_unix_timestamp(event.time()?).ok()?;
    let service = text(event, &["eventSource"])?;
    let action = text(event, &["eventName"])?;
    let kind = text(event, &["userIdentity", "type"]).unwrap_or_default();
    let principal_id = text(event, &["userIdentity", "principalId"]);
    let session_name = (kind == "AssumedRole")
        .then(|| {
            principal_id
                .as_deref()?
                .split_once(':')
                .map(|(_, s)| s.to_owned())
        })
        .flatten();
    let principal = Principal {
        kind,
        arn: text(event, &["userIdentity", "arn"]),
        access_key_id: text(event, &["userIdentity", "accessKeyId"]),
        session_name,
        role_arn: text(
            event,
            &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
        ),
        source_identity: text(event, &["userIdentity", "sessionContext", "sourceIdentity"])
            .or_else(|| text(event, &["userIdentity", "sourceIdentity"])),
        user_name: text(event, &["userIdentity", "userName"]),
    };
    let error = text(event, &["errorCode"]);
    let assumed =
        (service == "sts.amazonaws.com" && action.starts_with("AssumeRole") && error.is_none())
            .then(|| {
                let role_arn = text(event, &["requestParameters", "roleArn"])?;
                let session_name =
                    text(event, &["requestParameters", "roleSessionName"]).or_else(|| {
                        // AssumeRoleWithSAML / WithWebIdentity name the session in the assumed ARN.
                        text(event, &["responseElements", "assumedRoleUser", "arn"])
                            .and_then(|a| a.rsplit('/').next().map(str::to_owned))
                    })?;
                Some(Assumed {
                    role_arn,
                    session_name,
                    access_key_id: text(event, &["responseElements", "credentials", "accessKeyId"]),
                    source_identity: text(event, &["requestParameters", "sourceIdentity"])
                        .or_else(|| text(event, &["responseElements", "sourceIdentity"])),
                })
            })
            .flatten();
    let switch_from = (action == "SwitchRole")
        .then(|| text(event, &["additionalEventData", "SwitchFrom"]))
        .flatten();
    let console_login = action == "ConsoleLogin"
        && text(event, &["responseElements", "ConsoleLogin"]).as_deref() == Some("Success");
    let mut observed = Observed {
        resource: None,
        event_id,
        at,
        account: None,
        region: None,
        error,
        source_ip: None,
        user_agent: None,
        service,
        action,
        principal,
        assumed,
        switch_from,
        console_login,
        from_console: false,
        rules: Vec::new(),
    };
    if !keep(&observed) {
        return None;
    }
    observed.resource = resource(event, &observed.service, observed.assumed.as_ref());
    observed.account = text(event, &["recipientAccountId"]);
    observed.region = text(event, &["awsRegion"]);
    observed.source_ip = text(event, &["sourceIPAddress"]);
    observed.user_agent = text(event, &["userAgent"]).map(|mut ua| {
        if ua.len() > 256 {
            let mut end = 256;
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua.truncate(end);
        }
        ua
    });
    observed.from_console =
        text(event, &["sessionCredentialFromConsole"]).as_deref() == Some("true");
    Some(observed)
}

/// What the call touched: the first ARN CloudTrail lists in `resources`, else a resource
/// named in the request (the role assumed, an S3 bucket and key, an instance, a log group,
/// a function, a secret, a user or role).
fn resource(event: &Event<'_>, service: &str, assumed: Option<&Assumed>) -> Option<String> {
    if let Some(a) = assumed {
        return Some(a.role_arn.clone());
    }
    if let Some(breakglass_trail::Node::Array(raw)) = event.get(&["resources"])
        && let Ok(list) = serde_json::from_slice::<Vec<serde_json::Value>>(raw)
        && let Some(arn) = list
            .iter()
            .find_map(|r| r.get("ARN").and_then(serde_json::Value::as_str))
    {
        return Some(arn.to_owned());
    }
    if service == "s3.amazonaws.com"
        && let Some(bucket) = text(event, &["requestParameters", "bucketName"])
    {
        return Some(match text(event, &["requestParameters", "key"]) {
            Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
            None => format!("arn:aws:s3:::{bucket}"),
        });
    }
    [
        "instanceId",
        "logGroupName",
        "functionName",
        "secretId",
        "userName",
        "roleName",
        "policyArn",
        "name",
    ]
    .iter()
    .find_map(|key| text(event, &["requestParameters", key]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    const ASSUME: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAX:breakglass","arn":"arn:aws:sts::111111111111:assumed-role/breakglass-broker/breakglass","accountId":"111111111111","accessKeyId":"ASIABROKER","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111111111111:role/breakglass-broker"},"attributes":{"creationDate":"2026-12-06T10:00:00Z"}}},"eventTime":"2026-12-06T10:01:02Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.1","userAgent":"aws-sdk-rust","requestParameters":{"roleArn":"arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst","roleSessionName":"g-1","sourceIdentity":"alice"},"responseElements":{"credentials":{"accessKeyId":"ASIAGRANT","expiration":"x"},"sourceIdentity":"alice"},"eventID":"e-1","recipientAccountId":"222222222222"}"#;

    #[test]
    fn an_assume_role_gives_the_session_it_opened() {
        let o = observe(&Event::parse(ASSUME.as_bytes()).unwrap()).unwrap();
        let a = o.assumed.unwrap();
        assert_eq!(a.session_name, "g-1");
        assert_eq!(a.access_key_id.as_deref(), Some("ASIAGRANT"));
        assert_eq!(a.source_identity.as_deref(), Some("alice"));
        assert_eq!(o.principal.session_name.as_deref(), Some("breakglass"));
        assert_eq!(
            o.principal.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/breakglass-broker")
        );
        assert_eq!(o.resource.as_deref(), Some(a.role_arn.as_str()));
        assert_eq!(o.account.as_deref(), Some("222222222222"));
    }

    #[test]
    fn a_failed_assume_role_opened_nothing_and_an_event_without_id_is_dropped() {
        let failed = ASSUME.replace(
            r#""eventID":"e-1""#,
            r#""eventID":"e-2","errorCode":"AccessDenied""#,
        );
        let o = observe(&Event::parse(failed.as_bytes()).unwrap()).unwrap();
        assert!(o.assumed.is_none());
        assert_eq!(o.error.as_deref(), Some("AccessDenied"));
        let no_id = ASSUME.replace(r#","eventID":"e-1""#, "");
        assert!(observe(&Event::parse(no_id.as_bytes()).unwrap()).is_none());
        // An event the filter drops is not read further.
        assert!(observe_if(&Event::parse(ASSUME.as_bytes()).unwrap(), |_| false).is_none());
    }
}
