//! The policy document as data: what the parser produces and the printer writes back.
//!
//! Values keep whether they were written as a scalar or an array, so printing a parsed
//! policy gives back the same shape and JSON pointers computed from the tree match the text.

use serde_json::{Map, Value};

use crate::json::Pointer;
use crate::operator::Operator;

/// The policy language version (`Version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: the current language, with policy variables.
    V2012_10_17,
    /// `2008-10-17`: the original language; `${...}` is literal text.
    V2008_10_17,
}

impl Version {
    /// The version string as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2012_10_17 => "2012-10-17",
            Version::V2008_10_17 => "2008-10-17",
        }
    }
}

/// A parsed and validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `Version`, if present. Without it AWS uses `2008-10-17`.
    pub version: Option<Version>,
    /// `Id`, if present.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
    /// Whether `Statement` was written as an array (`[...]`) rather than a single object.
    pub statement_is_array: bool,
}

impl Policy {
    /// Whether policy variables (`${aws:username}`) are substituted: only from `2012-10-17`.
    pub fn uses_variables(&self) -> bool {
        self.version == Some(Version::V2012_10_17)
    }

    /// The policy as a JSON value, elements in the conventional order.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(v) = self.version {
            map.insert("Version".into(), Value::String(v.as_str().into()));
        }
        if let Some(id) = &self.id {
            map.insert("Id".into(), Value::String(id.clone()));
        }
        let statements: Vec<Value> = self.statements.iter().map(Statement::to_json).collect();
        let statement = match (self.statement_is_array, statements.as_slice()) {
            (false, [only]) => only.clone(),
            _ => Value::Array(statements),
        };
        map.insert("Statement".into(), statement);
        Value::Object(map)
    }

    /// The policy as compact JSON: what AWS counts for sizes that ignore whitespace, and
    /// what the broker passes to STS.
    pub fn to_compact_string(&self) -> String {
        self.to_json().to_string()
    }

    /// The policy as indented JSON for people.
    pub fn to_pretty_string(&self) -> String {
        serde_json::to_string_pretty(&self.to_json()).unwrap_or_else(|_| self.to_compact_string())
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    /// The effect as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`, if present.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` or `NotPrincipal`, if present.
    pub principal: Option<PrincipalBlock>,
    /// `Action` or `NotAction`.
    pub action: Block,
    /// `Resource` or `NotResource`, if present.
    pub resource: Option<Block>,
    /// `Condition`: one entry per operator, in document order.
    pub conditions: Vec<ConditionBlock>,
    /// Where the statement is in its document (`/Statement/3`, or `/Statement`).
    pub pointer: Pointer,
}

impl Statement {
    /// The statement as a JSON value.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(sid) = &self.sid {
            map.insert("Sid".into(), Value::String(sid.clone()));
        }
        map.insert("Effect".into(), Value::String(self.effect.as_str().into()));
        if let Some(p) = &self.principal {
            let name = if p.negated {
                "NotPrincipal"
            } else {
                "Principal"
            };
            map.insert(name.into(), p.principal.to_json());
        }
        let name = if self.action.negated {
            "NotAction"
        } else {
            "Action"
        };
        map.insert(name.into(), self.action.values.to_json());
        if let Some(r) = &self.resource {
            let name = if r.negated { "NotResource" } else { "Resource" };
            map.insert(name.into(), r.values.to_json());
        }
        if !self.conditions.is_empty() {
            let mut cond = Map::new();
            for block in &self.conditions {
                let mut keys = Map::new();
                for entry in &block.entries {
                    keys.insert(entry.key.clone(), entry.values_json());
                }
                cond.insert(block.operator_text.clone(), Value::Object(keys));
            }
            map.insert("Condition".into(), Value::Object(cond));
        }
        Value::Object(map)
    }

    /// The pointer of the element holding actions (`Action` or `NotAction`).
    pub fn action_pointer(&self) -> Pointer {
        self.pointer.key(if self.action.negated {
            "NotAction"
        } else {
            "Action"
        })
    }

    /// The pointer of the element holding resources, if the statement has one.
    pub fn resource_pointer(&self) -> Option<Pointer> {
        self.resource.as_ref().map(|r| {
            self.pointer
                .key(if r.negated { "NotResource" } else { "Resource" })
        })
    }
}

/// A list of strings written either as one string or as an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringList {
    /// The values, in document order.
    pub values: Vec<String>,
    /// Whether it was written as an array.
    pub is_array: bool,
}

impl StringList {
    fn to_json(&self) -> Value {
        match (self.is_array, self.values.as_slice()) {
            (false, [only]) => Value::String(only.clone()),
            _ => Value::Array(self.values.iter().cloned().map(Value::String).collect()),
        }
    }

    /// The pointer of value `i` below the element at `at`.
    pub fn pointer(&self, at: &Pointer, i: usize) -> Pointer {
        if self.is_array {
            at.index(i)
        } else {
            at.clone()
        }
    }
}

/// `Action`/`NotAction` or `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `NotAction`/`NotResource`.
    pub negated: bool,
    /// The patterns.
    pub values: StringList,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalBlock {
    /// `NotPrincipal`.
    pub negated: bool,
    /// Who.
    pub principal: Principal,
}

/// The value of `Principal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`: everyone, including anonymous callers.
    Any,
    /// `{"AWS": ..., "Service": ...}`, in document order.
    Map(Vec<(PrincipalKind, StringList)>),
}

impl Principal {
    fn to_json(&self) -> Value {
        match self {
            Principal::Any => Value::String("*".into()),
            Principal::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(kind, list)| (kind.as_str().to_owned(), list.to_json()))
                    .collect(),
            ),
        }
    }
}

/// The key of a principal map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

impl PrincipalKind {
    /// The key as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Aws => "AWS",
            PrincipalKind::Service => "Service",
            PrincipalKind::Federated => "Federated",
            PrincipalKind::CanonicalUser => "CanonicalUser",
        }
    }
}

/// One operator of a `Condition` with its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionBlock {
    /// The parsed operator.
    pub operator: Operator,
    /// The operator exactly as written.
    pub operator_text: String,
    /// Its keys, in document order.
    pub entries: Vec<ConditionEntry>,
}

/// One condition key and the values it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionEntry {
    /// The key as written (keys compare case-insensitively).
    pub key: String,
    /// The values (ORed; NORed for negated operators).
    pub values: Vec<ConditionValue>,
    /// Whether the values were written as an array.
    pub is_array: bool,
}

impl ConditionEntry {
    fn values_json(&self) -> Value {
        let items: Vec<Value> = self.values.iter().map(ConditionValue::to_json).collect();
        match (self.is_array, items.as_slice()) {
            (false, [only]) => only.clone(),
            _ => Value::Array(items),
        }
    }
}

/// A condition value: IAM accepts strings, booleans and numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionValue {
    String(String),
    Bool(bool),
    Number(serde_json::Number),
}

impl ConditionValue {
    /// The value as the string IAM compares.
    pub fn as_text(&self) -> String {
        match self {
            ConditionValue::String(s) => s.clone(),
            ConditionValue::Bool(b) => b.to_string(),
            ConditionValue::Number(n) => n.to_string(),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            ConditionValue::String(s) => Value::String(s.clone()),
            ConditionValue::Bool(b) => Value::Bool(*b),
            ConditionValue::Number(n) => Value::Number(n.clone()),
        }
    }
}
