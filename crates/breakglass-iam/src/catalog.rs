//! The action catalog: which services, actions and condition keys exist, each action's
//! access level, and each key's type.
//!
//! It is built from the per-service JSON of the Service Authorization Reference as
//! published in `iam-data` (`actions/<service>.json`, `conditionKeys/<service>.json`). The
//! caller reads the files; this module only parses their text.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::compile::CompiledPolicy;
use crate::keys::{KeyType, global_key_type};
use crate::pattern::Glob;
use crate::policy::{Effect, Policy};

/// An access level of the Service Authorization Reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    PermissionsManagement,
    Tagging,
}

impl AccessLevel {
    /// The name as the reference writes it.
    pub fn name(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::PermissionsManagement => "Permissions management",
            AccessLevel::Tagging => "Tagging",
        }
    }

    fn bit(self) -> u8 {
        match self {
            AccessLevel::List => 1,
            AccessLevel::Read => 2,
            AccessLevel::Write => 4,
            AccessLevel::PermissionsManagement => 8,
            AccessLevel::Tagging => 16,
        }
    }
}

/// The access levels of one action (some have several, e.g. "Permissions management, Write").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AccessLevels(u8);

impl AccessLevels {
    fn parse(text: &str) -> AccessLevels {
        let mut bits = 0;
        for part in text.split(',') {
            let level = match part.trim() {
                "List" => Some(AccessLevel::List),
                "Read" => Some(AccessLevel::Read),
                "Write" => Some(AccessLevel::Write),
                "Permissions management" => Some(AccessLevel::PermissionsManagement),
                "Tagging" => Some(AccessLevel::Tagging),
                _ => None,
            };
            if let Some(level) = level {
                bits |= level.bit();
            }
        }
        AccessLevels(bits)
    }

    /// Whether the action has `level`.
    pub fn contains(self, level: AccessLevel) -> bool {
        self.0 & level.bit() != 0
    }

    /// Whether the action changes something (Write or Permissions management).
    pub fn is_write(self) -> bool {
        self.contains(AccessLevel::Write) || self.contains(AccessLevel::PermissionsManagement)
    }

    /// The one level an action is counted under: the most specific it has
    /// ("Permissions management, Write" is permissions management, "Tagging, Write" is
    /// tagging); `None` for an action the catalog gives no level.
    pub fn primary(self) -> Option<AccessLevel> {
        [
            AccessLevel::PermissionsManagement,
            AccessLevel::Tagging,
            AccessLevel::Write,
            AccessLevel::Read,
            AccessLevel::List,
        ]
        .into_iter()
        .find(|l| self.contains(*l))
    }
}

/// One action of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionInfo {
    /// The action's name in its canonical case (`GetObject`).
    pub name: String,
    /// Its access levels.
    pub access: AccessLevels,
    /// The resource types it acts on (empty: only `*`).
    pub resource_types: Vec<String>,
    /// The service-specific and global condition keys it supports.
    pub condition_keys: Vec<String>,
}

/// One service: its actions (sorted by lower-cased name) and condition key types.
#[derive(Debug, Clone, Default)]
pub struct Service {
    actions: Vec<ActionInfo>,
    /// `service:action`, lower-cased, parallel to `actions`: what action patterns match.
    pub(crate) lower_names: Vec<String>,
    condition_keys: HashMap<String, KeyType>,
    /// Resource type (lower-cased) → its ARN format (`arn:${Partition}:s3:::${BucketName}`).
    arn_formats: HashMap<String, String>,
}

impl Service {
    /// The service's actions.
    pub fn actions(&self) -> &[ActionInfo] {
        &self.actions
    }

    /// The ARN format of one of the service's resource types (any case), when the catalog
    /// was given its `resourceTypes/<prefix>.json`.
    pub fn arn_format(&self, resource_type: &str) -> Option<&str> {
        self.arn_formats
            .get(&resource_type.to_lowercase())
            .map(String::as_str)
    }
}

/// An action with its service prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionRef<'a> {
    pub service: &'a str,
    pub info: &'a ActionInfo,
}

impl ActionRef<'_> {
    /// `service:Action`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.service, self.info.name)
    }
}

/// A catalog file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("catalog data for service `{service}` is not valid {what} JSON: {message}")]
pub struct CatalogError {
    pub service: String,
    pub what: &'static str,
    pub message: String,
}

#[derive(Deserialize)]
struct RawAction {
    name: String,
    #[serde(rename = "accessLevel", default)]
    access_level: String,
    #[serde(rename = "resourceTypes", default)]
    resource_types: Vec<RawResourceType>,
    #[serde(rename = "conditionKeys", default)]
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
struct RawResourceType {
    name: String,
}

#[derive(Deserialize)]
struct RawResourceTypeInfo {
    arn: String,
}

#[derive(Deserialize)]
struct RawConditionKey {
    key: String,
    #[serde(rename = "type")]
    key_type: String,
}

/// Whether and how a policy allows an action (see [`Catalog::allowed_actions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Allowed on every resource, with no condition and no deny that could apply.
    Unconditional,
    /// Allowed only on some resources, under conditions, or unless a conditional deny applies.
    Restricted,
}

/// A catalog action a policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedAction {
    /// `service:Action`.
    pub action: String,
    /// Its access levels.
    pub access_levels: AccessLevels,
    /// How it is allowed.
    pub access: Access,
}

/// The actions and condition keys AWS defines, by service prefix.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    services: BTreeMap<String, Service>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Adds a service from its `actions/<prefix>.json` text. Returns the number of actions.
    pub fn add_service(&mut self, prefix: &str, actions_json: &str) -> Result<usize, CatalogError> {
        let raw: BTreeMap<String, RawAction> =
            serde_json::from_str(actions_json).map_err(|e| CatalogError {
                service: prefix.to_owned(),
                what: "action",
                message: e.to_string(),
            })?;
        let service = self.services.entry(prefix.to_lowercase()).or_default();
        service.actions = raw
            .into_values()
            .map(|a| ActionInfo {
                name: a.name,
                access: AccessLevels::parse(&a.access_level),
                resource_types: a.resource_types.into_iter().map(|r| r.name).collect(),
                condition_keys: a.condition_keys,
            })
            .collect();
        service.actions.sort_by_key(|a| a.name.to_lowercase());
        let lower_prefix = prefix.to_lowercase();
        service.lower_names = service
            .actions
            .iter()
            .map(|a| format!("{lower_prefix}:{}", a.name.to_lowercase()))
            .collect();
        Ok(service.actions.len())
    }

    /// Adds a service's condition key types from its `conditionKeys/<prefix>.json` text.
    pub fn add_condition_keys(&mut self, prefix: &str, json: &str) -> Result<usize, CatalogError> {
        let raw: BTreeMap<String, RawConditionKey> =
            serde_json::from_str(json).map_err(|e| CatalogError {
                service: prefix.to_owned(),
                what: "condition key",
                message: e.to_string(),
            })?;
        let service = self.services.entry(prefix.to_lowercase()).or_default();
        for key in raw.into_values() {
            if let Some(ty) = KeyType::from_catalog(&key.key_type) {
                service.condition_keys.insert(key.key.to_lowercase(), ty);
            }
        }
        Ok(service.condition_keys.len())
    }

    /// Adds a service's resource types and their ARN formats from its
    /// `resourceTypes/<prefix>.json` text. Returns the number of resource types.
    pub fn add_resource_types(&mut self, prefix: &str, json: &str) -> Result<usize, CatalogError> {
        let raw: BTreeMap<String, RawResourceTypeInfo> =
            serde_json::from_str(json).map_err(|e| CatalogError {
                service: prefix.to_owned(),
                what: "resource type",
                message: e.to_string(),
            })?;
        let service = self.services.entry(prefix.to_lowercase()).or_default();
        for (name, info) in raw {
            service.arn_formats.insert(name.to_lowercase(), info.arn);
        }
        Ok(service.arn_formats.len())
    }

    /// Whether the catalog holds no service.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The number of actions across services.
    pub fn action_count(&self) -> usize {
        self.services.values().map(|s| s.actions.len()).sum()
    }

    /// The service prefixes, sorted.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    /// The services with their (lower-case) prefixes, sorted.
    pub(crate) fn services(&self) -> impl Iterator<Item = (&str, &Service)> {
        self.services.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A service by prefix (any case).
    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.services.get(&prefix.to_lowercase())
    }

    /// An action by `service:Action` (any case).
    pub fn action(&self, full_name: &str) -> Option<ActionRef<'_>> {
        let (prefix, name) = full_name.split_once(':')?;
        let (service_name, service) = self.services.get_key_value(&prefix.to_lowercase())?;
        let lower = name.to_lowercase();
        let i = service
            .actions
            .binary_search_by(|a| a.name.to_lowercase().cmp(&lower))
            .ok()?;
        Some(ActionRef {
            service: service_name,
            info: service.actions.get(i)?,
        })
    }

    /// The actions an `Action` pattern (`s3:Get*`, `*`) matches.
    pub fn matching(&self, pattern: &str) -> Vec<ActionRef<'_>> {
        let lower = pattern.to_lowercase();
        let glob = Glob::new(&lower);
        let service_filter = lower
            .split_once(':')
            .map(|(s, _)| s)
            .filter(|s| !s.contains(['*', '?']));
        self.services
            .iter()
            .filter(|(name, _)| service_filter.is_none_or(|s| s == name.as_str()))
            .flat_map(|(name, service)| service.actions.iter().map(move |info| (name, info)))
            .filter(|(name, info)| glob.matches(&format!("{name}:{}", info.name.to_lowercase())))
            .map(|(name, info)| ActionRef {
                service: name,
                info,
            })
            .collect()
    }

    /// The type of a condition key: global keys first, then the service's own keys
    /// (`s3:ResourceTag/${TagKey}`-style templates match any tag key).
    pub fn condition_key_type(&self, key: &str) -> Option<KeyType> {
        if let Some(ty) = global_key_type(key) {
            return Some(ty);
        }
        let lower = key.to_lowercase();
        let (prefix, _) = lower.split_once(':')?;
        let service = self.services.get(prefix)?;
        if let Some(ty) = service.condition_keys.get(&lower) {
            return Some(*ty);
        }
        service.condition_keys.iter().find_map(|(k, ty)| {
            let (head, _) = k.split_once("${")?;
            (lower.starts_with(head) && lower.len() > head.len()).then_some(*ty)
        })
    }

    /// Every catalog action `policy` allows, and whether it allows it outright or only
    /// restricted (to some resources, under conditions, or unless a conditional deny
    /// applies). Actions an unconditional `Deny` covers are left out.
    pub fn allowed_actions(&self, policy: &Policy) -> Vec<AllowedAction> {
        let compiled = CompiledPolicy::new(policy);
        let mut out = Vec::new();
        for (prefix, service) in &self.services {
            for info in &service.actions {
                let lower = format!("{prefix}:{}", info.name.to_lowercase());
                let statements = compiled
                    .statements
                    .iter()
                    .filter(|s| s.action_matches(&lower));
                let (mut allowed, mut everywhere, mut denied, mut maybe_denied) =
                    (false, false, false, false);
                for s in statements {
                    match (s.effect, s.is_unconditional()) {
                        (Effect::Allow, true) => {
                            allowed = true;
                            everywhere = true;
                        }
                        (Effect::Allow, false) => allowed = true,
                        (Effect::Deny, true) => denied = true,
                        (Effect::Deny, false) => maybe_denied = true,
                    }
                }
                if allowed && !denied {
                    out.push(AllowedAction {
                        action: format!("{prefix}:{}", info.name),
                        access_levels: info.access,
                        access: if everywhere && !maybe_denied {
                            Access::Unconditional
                        } else {
                            Access::Restricted
                        },
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3: &str = r#"{
      "getobject": {"name": "GetObject", "accessLevel": "Read", "resourceTypes": [{"name": "object", "required": true}], "conditionKeys": []},
      "putobject": {"name": "PutObject", "accessLevel": "Write", "resourceTypes": [], "conditionKeys": []},
      "putbucketpolicy": {"name": "PutBucketPolicy", "accessLevel": "Permissions management", "resourceTypes": [], "conditionKeys": []}
    }"#;

    fn catalog() -> Catalog {
        let mut c = Catalog::new();
        c.add_service("s3", S3).unwrap();
        c.add_condition_keys("s3", r#"{"s3:prefix": {"key": "s3:prefix", "type": "String"}, "s3:buckettag/${tagkey}": {"key": "s3:BucketTag/${TagKey}", "type": "String"}}"#).unwrap();
        c
    }

    #[test]
    fn looks_up_actions_and_patterns() {
        let c = catalog();
        assert_eq!(
            c.action("S3:getobject").unwrap().full_name(),
            "s3:GetObject"
        );
        assert!(c.action("s3:GetObjekt").is_none());
        assert_eq!(c.matching("s3:Put*").len(), 2);
        assert_eq!(c.matching("*").len(), 3);
        assert!(c.matching("s3:Delete*").is_empty());
        assert_eq!(
            c.condition_key_type("s3:BucketTag/env"),
            Some(KeyType::String)
        );
        assert_eq!(c.condition_key_type("aws:CurrentTime"), Some(KeyType::Date));
    }

    #[test]
    fn expands_what_a_policy_allows() {
        let c = catalog();
        let policy = crate::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:*","Resource":"*"},
                {"Effect":"Deny","Action":"s3:PutBucketPolicy","Resource":"*"},
                {"Effect":"Deny","Action":"s3:PutObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}
            ]}"#,
            crate::PolicyType::Session,
        )
        .unwrap();
        let allowed = c.allowed_actions(&policy);
        let names: Vec<(&str, Access)> = allowed
            .iter()
            .map(|a| (a.action.as_str(), a.access))
            .collect();
        assert_eq!(
            names,
            vec![
                ("s3:GetObject", Access::Unconditional),
                ("s3:PutObject", Access::Restricted)
            ]
        );
    }
}
