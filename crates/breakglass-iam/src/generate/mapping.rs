//! CloudTrail event → IAM action: the service prefix of `eventSource` and the `eventName`,
//! looked up in the action catalog, except where the documented exceptions table
//! (`exceptions.toml`, each entry citing its AWS page) says otherwise.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::call::UsedCall;
use crate::catalog::Catalog;

/// The exceptions table, as shipped.
const EXCEPTIONS: &str = include_str!("exceptions.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[serde(default)]
    service: Vec<ServiceEntry>,
    #[serde(default)]
    event: Vec<EventEntry>,
}

/// An event source whose IAM prefix differs from its host name, or whose event names carry
/// the API version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    pub event_source: String,
    pub prefix: String,
    #[serde(default)]
    pub strip_api_version: bool,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// One event and the actions it needs (none, with a reason, for an event that needs no IAM
/// permission of the caller).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventEntry {
    pub event_source: String,
    pub event_name: String,
    pub actions: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    // The table is compiled in and its tests check that it reads: a broken table is a build
    // defect (caught there), not an input error.
    TABLE.get_or_init(|| toml::from_str(EXCEPTIONS).unwrap_or_else(|_| Table::default()))
}

/// The service entries of the exceptions table.
pub fn service_exceptions() -> &'static [ServiceEntry] {
    &table().service
}

/// The event entries of the exceptions table.
pub fn event_exceptions() -> &'static [EventEntry] {
    &table().event
}

/// An exception that decided a call's mapping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedException {
    pub event_source: String,
    /// The event name, or `*` for a service entry (every event of the source).
    pub event_name: String,
    /// What the exception says: the actions, the prefix, or why no action is needed.
    pub rule: String,
    /// The AWS page the exception comes from.
    pub source: String,
}

/// What a call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// These catalog actions (`service:Action` as the catalog spells them).
    Actions {
        actions: Vec<String>,
        exception: Option<AppliedException>,
    },
    /// No IAM action of the caller: a sign-in, a service event, a call that needs none.
    NoAction {
        reason: String,
        exception: AppliedException,
    },
    /// Nothing in the catalog: the reason says what was looked up.
    Unknown { reason: String },
}

/// Lambda's versioned event names: `GetFunction20150331v2` → `GetFunction`.
pub fn strip_api_version(name: &str) -> &str {
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let base = match name.rfind('v') {
        Some(i) if digits(name.get(i + 1..)) => name.get(..i).unwrap_or(name),
        _ => name,
    };
    match base.len().checked_sub(8) {
        Some(cut) if cut > 0 && digits(base.get(cut..)) => base.get(..cut).unwrap_or(name),
        _ => name,
    }
}

/// The mapping of one call.
pub fn map(catalog: &Catalog, call: &UsedCall) -> Mapping {
    let source = call.event_source.as_str();
    let name = call.event_name.as_str();
    if let Some(entry) = event_exceptions().iter().find(|e| {
        e.event_source.eq_ignore_ascii_case(source) && e.event_name.eq_ignore_ascii_case(name)
    }) {
        let exception = |rule: String| AppliedException {
            event_source: entry.event_source.clone(),
            event_name: entry.event_name.clone(),
            rule,
            source: entry.source.clone(),
        };
        if entry.actions.is_empty() {
            let reason = entry
                .reason
                .clone()
                .unwrap_or_else(|| "needs no IAM action".to_owned());
            return Mapping::NoAction {
                exception: exception(format!("no action: {reason}")),
                reason,
            };
        }
        let mut actions = Vec::new();
        for a in &entry.actions {
            match catalog.action(a) {
                Some(found) => actions.push(found.full_name()),
                None => {
                    return Mapping::Unknown {
                        reason: format!(
                            "the exceptions table maps it to `{a}`, which the action catalog does not have (update the catalog)"
                        ),
                    };
                }
            }
        }
        return Mapping::Actions {
            exception: Some(exception(actions.join(", "))),
            actions,
        };
    }
    let service_entry = service_exceptions()
        .iter()
        .find(|e| e.event_source.eq_ignore_ascii_case(source));
    let (prefix, name, exception) = match service_entry {
        Some(e) => {
            let stripped = if e.strip_api_version {
                strip_api_version(name)
            } else {
                name
            };
            let rule = if stripped == name {
                format!("prefix {}", e.prefix)
            } else {
                format!("prefix {}, API version dropped: {stripped}", e.prefix)
            };
            let applied = AppliedException {
                event_source: e.event_source.clone(),
                event_name: "*".to_owned(),
                rule,
                source: e.source.clone(),
            };
            (e.prefix.as_str(), stripped, Some(applied))
        }
        None => match source.strip_suffix(".amazonaws.com") {
            Some(prefix) if !prefix.is_empty() && !prefix.contains('.') => (prefix, name, None),
            _ => {
                return Mapping::Unknown {
                    reason: format!(
                        "`{source}` is not an AWS service's event source (`<service>.amazonaws.com`)"
                    ),
                };
            }
        },
    };
    if name.is_empty() {
        return Mapping::Unknown {
            reason: "the event has no eventName".to_owned(),
        };
    }
    match catalog.action(&format!("{prefix}:{name}")) {
        Some(found) => Mapping::Actions {
            actions: vec![found.full_name()],
            exception,
        },
        None if catalog.service(prefix).is_none() => Mapping::Unknown {
            reason: format!(
                "the action catalog has no service `{prefix}` (an event source the exceptions table does not know, or an outdated catalog)"
            ),
        },
        None => Mapping::Unknown {
            reason: format!(
                "the action catalog has no action `{prefix}:{name}` (an internal or console-only call, or one the exceptions table lacks)"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_and_every_entry_cites_an_aws_page() {
        assert!(!service_exceptions().is_empty());
        assert!(!event_exceptions().is_empty());
        for e in service_exceptions() {
            assert!(
                e.source.starts_with("https://docs.aws.amazon.com/"),
                "{e:?}"
            );
        }
        for e in event_exceptions() {
            assert!(
                e.source.starts_with("https://docs.aws.amazon.com/"),
                "{e:?}"
            );
            assert!(
                !e.actions.is_empty() || e.reason.is_some(),
                "an event that needs no action says why: {e:?}"
            );
        }
    }

    #[test]
    fn lambda_api_versions_are_dropped() {
        // https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html
        assert_eq!(strip_api_version("ListFunctions20150331"), "ListFunctions");
        assert_eq!(strip_api_version("GetFunction20150331v2"), "GetFunction");
        assert_eq!(
            strip_api_version("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(
            strip_api_version("GetFunctionCodeSigningConfig"),
            "GetFunctionCodeSigningConfig"
        );
        assert_eq!(strip_api_version("20150331"), "20150331");
        assert_eq!(strip_api_version("Getv2"), "Getv2");
    }
}
