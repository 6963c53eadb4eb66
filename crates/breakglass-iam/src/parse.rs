//! Parsing and validating a policy document: JSON text in, a [`Policy`] or every problem
//! found (each with a JSON pointer) out.
//!
//! Validation follows what IAM and Organizations accept: known elements only, no duplicate
//! keys, `Effect` exactly `Allow`/`Deny`, actions as `service:action`, resources as ARNs,
//! principals as account ids or IAM ARNs (a wildcard only as the whole value), condition
//! values that parse for their operator, and the per-type rules of [`PolicyType`].

use crate::date;
use crate::error::{ErrorKind, PolicyError, PolicyErrors};
use crate::json::{Node, Pointer};
use crate::operator::{Family, Operator, OperatorError};
use crate::pattern::Template;
use crate::policy::{
    Block, ConditionBlock, ConditionEntry, ConditionValue, Effect, Policy, Principal,
    PrincipalBlock, PrincipalKind, Statement, StringList, Version,
};
use crate::policy_type::PolicyType;
use crate::request::is_account_id;
use crate::values::{Cidr, decode_base64, parse_bool, parse_number};

/// The most policy text breakglass reads. The largest AWS policy (a role's inline policies
/// together) is 10,240 characters without whitespace; anything this big is a mistake.
pub const MAX_POLICY_BYTES: usize = 128 * 1024;

/// Parses and validates a policy of type `ty` from JSON text.
pub fn parse(text: &str, ty: PolicyType) -> Result<Policy, PolicyErrors> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyErrors(vec![PolicyError::new(
            Pointer::root(),
            ErrorKind::InputTooLarge {
                size: text.len(),
                limit: MAX_POLICY_BYTES,
            },
        )]));
    }
    let node: Node = serde_json::from_str(text).map_err(|e| {
        PolicyErrors(vec![PolicyError::new(
            Pointer::root(),
            ErrorKind::Json {
                line: e.line(),
                column: e.column(),
                message: json_message(&e),
            },
        )])
    })?;
    validate(&node, ty)
}

/// Parses and validates a policy of type `ty` that is already JSON (e.g. embedded in a
/// conformance case). Duplicate keys cannot be detected here: `serde_json` kept the last.
pub fn parse_value(value: &serde_json::Value, ty: PolicyType) -> Result<Policy, PolicyErrors> {
    validate(&Node::from_value(value), ty)
}

/// serde_json's message without its trailing " at line L column C" (we report those apart).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

fn validate(node: &Node, ty: PolicyType) -> Result<Policy, PolicyErrors> {
    let mut v = Validator {
        ty,
        errors: Vec::new(),
        variables: true,
    };
    let policy = v.policy(node);
    if ty.is_iam_stored() {
        v.characters(node, &Pointer::root());
    }
    match policy {
        Some(p) if v.errors.is_empty() => Ok(p),
        _ => Err(PolicyErrors(v.errors)),
    }
}

struct Validator {
    ty: PolicyType,
    errors: Vec<PolicyError>,
    /// Whether `${...}` is a variable (language `2012-10-17`).
    variables: bool,
}

const POLICY_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Validator {
    fn err(&mut self, pointer: Pointer, kind: ErrorKind) {
        self.errors.push(PolicyError::new(pointer, kind));
    }

    fn wrong_type(&mut self, pointer: Pointer, expected: &'static str, found: &Node) {
        self.err(
            pointer,
            ErrorKind::WrongType {
                expected,
                found: found.kind(),
            },
        );
    }

    /// The known elements of an object, reporting unknown and duplicate keys.
    fn fields<'a>(
        &mut self,
        entries: &'a [(String, Node)],
        at: &Pointer,
        known: &[&'static str],
    ) -> Vec<(&'static str, &'a Node)> {
        let mut found: Vec<(&'static str, &'a Node)> = Vec::new();
        for (key, value) in entries {
            match known.iter().find(|k| **k == key.as_str()) {
                Some(k) if found.iter().any(|(f, _)| f == k) => {
                    self.err(at.key(key), ErrorKind::DuplicateKey(key.clone()));
                }
                Some(k) => found.push((k, value)),
                None => {
                    let suggestion = crate::suggest::closest(key, known.iter().copied());
                    self.err(
                        at.key(key),
                        ErrorKind::UnknownElement {
                            element: key.clone(),
                            suggestion,
                        },
                    );
                }
            }
        }
        found
    }

    fn policy(&mut self, node: &Node) -> Option<Policy> {
        let root = Pointer::root();
        let Node::Object(entries) = node else {
            self.wrong_type(root, "a policy object", node);
            return None;
        };
        let fields = self.fields(entries, &root, POLICY_ELEMENTS);
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);

        let version = match get("Version") {
            None => None,
            Some(Node::String(s)) if s == "2012-10-17" => Some(Version::V2012_10_17),
            Some(Node::String(s)) if s == "2008-10-17" => Some(Version::V2008_10_17),
            Some(Node::String(s)) => {
                self.err(root.key("Version"), ErrorKind::BadVersion(s.clone()));
                None
            }
            Some(other) => {
                self.wrong_type(root.key("Version"), "a string", other);
                None
            }
        };
        self.variables = version == Some(Version::V2012_10_17);
        let legacy_or_missing = match get("Version") {
            None => true,
            Some(Node::String(s)) => s == "2008-10-17",
            Some(_) => false,
        };
        if self.ty == PolicyType::Rcp && legacy_or_missing {
            self.err(root.clone(), ErrorKind::VersionRequired("resource control"));
        }

        let id = self.optional_string(get("Id"), root.key("Id"));

        let statement_ptr = root.key("Statement");
        let (statements, statement_is_array) = match get("Statement") {
            None => {
                self.err(root.clone(), ErrorKind::Missing("Statement"));
                (Vec::new(), true)
            }
            Some(one @ Node::Object(_)) => (
                self.statement(one, statement_ptr).into_iter().collect(),
                false,
            ),
            Some(Node::Array(items)) => {
                if items.is_empty() {
                    self.err(statement_ptr.clone(), ErrorKind::EmptyStatements);
                }
                let statements = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.statement(item, statement_ptr.index(i)))
                    .collect();
                (statements, true)
            }
            Some(other) => {
                self.wrong_type(
                    statement_ptr,
                    "a statement object or an array of statements",
                    other,
                );
                (Vec::new(), true)
            }
        };
        Some(Policy {
            version,
            id,
            statements,
            statement_is_array,
        })
    }

    fn statement(&mut self, node: &Node, at: Pointer) -> Option<Statement> {
        let Node::Object(entries) = node else {
            self.wrong_type(at, "a statement object", node);
            return None;
        };
        let errors_before = self.errors.len();
        let fields = self.fields(entries, &at, STATEMENT_ELEMENTS);
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);

        let sid = self.optional_string(get("Sid"), at.key("Sid"));
        let effect = match get("Effect") {
            None => {
                self.err(at.clone(), ErrorKind::Missing("Effect"));
                None
            }
            Some(Node::String(s)) if s == "Allow" => Some(Effect::Allow),
            Some(Node::String(s)) if s == "Deny" => Some(Effect::Deny),
            Some(Node::String(s)) => {
                self.err(at.key("Effect"), ErrorKind::BadEffect(s.clone()));
                None
            }
            Some(other) => {
                self.wrong_type(at.key("Effect"), "`Allow` or `Deny`", other);
                None
            }
        };

        let principal_pair = self.pair(
            get("Principal"),
            get("NotPrincipal"),
            &at,
            ("Principal", "NotPrincipal"),
            false,
        );
        let principal =
            principal_pair.and_then(|(negated, node)| self.principal_block(negated, node, &at));
        let action = self.pair(
            get("Action"),
            get("NotAction"),
            &at,
            ("Action", "NotAction"),
            true,
        );
        let action = action.map(|(negated, node)| {
            (
                negated,
                self.actions(node, &at.key(if negated { "NotAction" } else { "Action" })),
            )
        });
        let resource = self.pair(
            get("Resource"),
            get("NotResource"),
            &at,
            ("Resource", "NotResource"),
            false,
        );
        let resource = resource.map(|(negated, node)| {
            let name = if negated { "NotResource" } else { "Resource" };
            (negated, self.resources(node, &at.key(name)))
        });
        let conditions = match get("Condition") {
            None => Vec::new(),
            Some(node) => self.conditions(node, &at.key("Condition")),
        };

        self.type_rules(
            &at,
            effect,
            principal_pair.map(|(n, _)| n),
            principal.as_ref(),
            action.as_ref().map(|(n, _)| *n),
            resource.as_ref().map(|(n, _)| *n),
            &conditions,
            action.as_ref().and_then(|(_, l)| l.as_ref()),
            resource.as_ref().and_then(|(_, l)| l.as_ref()),
        );

        if self.errors.len() != errors_before {
            return None;
        }
        let (action_negated, action_values) = action?;
        Some(Statement {
            sid,
            effect: effect?,
            principal,
            action: Block {
                negated: action_negated,
                values: action_values?,
            },
            resource: match resource {
                Some((negated, values)) => Some(Block {
                    negated,
                    values: values?,
                }),
                None => None,
            },
            conditions,
            pointer: at,
        })
    }

    /// An optional string element (`Id`, `Sid`).
    fn optional_string(&mut self, node: Option<&Node>, at: Pointer) -> Option<String> {
        match node? {
            Node::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(at, "a string", other);
                None
            }
        }
    }

    /// `X`/`NotX`: at most one; `required` reports a missing pair.
    fn pair<'a>(
        &mut self,
        plain: Option<&'a Node>,
        negated: Option<&'a Node>,
        at: &Pointer,
        names: (&'static str, &'static str),
        required: bool,
    ) -> Option<(bool, &'a Node)> {
        match (plain, negated) {
            (Some(_), Some(_)) => {
                self.err(at.clone(), ErrorKind::Conflict(names.0, names.1));
                None
            }
            (Some(n), None) => Some((false, n)),
            (None, Some(n)) => Some((true, n)),
            (None, None) => {
                if required {
                    self.err(at.clone(), ErrorKind::Missing(names.0));
                }
                None
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one check over the parts of one statement"
    )]
    fn type_rules(
        &mut self,
        at: &Pointer,
        effect: Option<Effect>,
        principal_negated: Option<bool>,
        principal: Option<&PrincipalBlock>,
        action_negated: Option<bool>,
        resource_negated: Option<bool>,
        conditions: &[ConditionBlock],
        actions: Option<&StringList>,
        resources: Option<&StringList>,
    ) {
        let ty = self.ty;
        let type_name = type_label(ty);
        match (ty.requires_principal(), principal_negated) {
            (true, None) => self.err(at.clone(), ErrorKind::Missing("Principal")),
            (false, Some(negated)) => {
                let element = if negated { "NotPrincipal" } else { "Principal" };
                self.err(
                    at.key(element),
                    ErrorKind::NotAllowed {
                        element,
                        policy_type: type_name,
                    },
                );
            }
            _ => {}
        }
        match resource_negated {
            None if ty.requires_resource() => self.err(at.clone(), ErrorKind::Missing("Resource")),
            Some(negated) if !ty.allows_resource() => {
                let element = if negated { "NotResource" } else { "Resource" };
                self.err(
                    at.key(element),
                    ErrorKind::NotAllowed {
                        element,
                        policy_type: type_name,
                    },
                );
            }
            _ => {}
        }
        if ty != PolicyType::Rcp {
            return;
        }
        if principal_negated == Some(true) {
            self.err(
                at.key("NotPrincipal"),
                ErrorKind::NotAllowed {
                    element: "NotPrincipal",
                    policy_type: type_name,
                },
            );
        }
        if action_negated == Some(true) {
            self.err(
                at.key("NotAction"),
                ErrorKind::NotAllowed {
                    element: "NotAction",
                    policy_type: type_name,
                },
            );
        }
        let everyone = principal.is_some_and(|p| !p.negated && is_everyone(&p.principal));
        if principal.is_some_and(|p| !p.negated) && !everyone {
            self.err(
                at.key("Principal"),
                ErrorKind::Rcp("RCPs apply to every principal: write `\"Principal\": \"*\"` and narrow it with conditions"),
            );
        }
        if effect == Some(Effect::Allow) {
            let star =
                |l: Option<&StringList>| l.is_some_and(|l| l.values.iter().all(|v| v == "*"));
            let full_access = everyone
                && action_negated == Some(false)
                && resource_negated == Some(false)
                && star(actions)
                && star(resources)
                && conditions.is_empty();
            if !full_access {
                self.err(
                    at.key("Effect"),
                    ErrorKind::Rcp("RCPs only deny: `Allow` is supported only as `RCPFullAWSAccess` (Allow `*` on `*` for `*`, no conditions)"),
                );
            }
        }
    }

    fn string_list(&mut self, node: &Node, at: &Pointer, what: &'static str) -> Option<StringList> {
        match node {
            Node::String(s) => Some(StringList {
                values: vec![s.clone()],
                is_array: false,
            }),
            Node::Array(items) => {
                if items.is_empty() {
                    self.err(at.clone(), ErrorKind::Empty(what));
                    return None;
                }
                let mut values = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Node::String(s) => values.push(s.clone()),
                        other => {
                            self.wrong_type(at.index(i), "a string", other);
                            ok = false;
                        }
                    }
                }
                ok.then_some(StringList {
                    values,
                    is_array: true,
                })
            }
            other => {
                self.wrong_type(at.clone(), "a string or an array of strings", other);
                None
            }
        }
    }

    fn actions(&mut self, node: &Node, at: &Pointer) -> Option<StringList> {
        let list = self.string_list(node, at, "action list")?;
        let before = self.errors.len();
        for (i, action) in list.values.iter().enumerate() {
            if !valid_action(action) {
                self.err(list.pointer(at, i), ErrorKind::BadAction(action.clone()));
            }
        }
        (self.errors.len() == before).then_some(list)
    }

    fn resources(&mut self, node: &Node, at: &Pointer) -> Option<StringList> {
        let list = self.string_list(node, at, "resource list")?;
        let before = self.errors.len();
        for (i, resource) in list.values.iter().enumerate() {
            let ptr = list.pointer(at, i);
            if !valid_resource(resource) {
                self.err(ptr, ErrorKind::BadResource(resource.clone()));
            } else if crate::arn::ArnPattern::compile(resource, self.variables).is_err() {
                self.err(ptr, ErrorKind::BadVariable(resource.clone()));
            }
        }
        (self.errors.len() == before).then_some(list)
    }

    fn principal_block(
        &mut self,
        negated: bool,
        node: &Node,
        at: &Pointer,
    ) -> Option<PrincipalBlock> {
        let ptr = at.key(if negated { "NotPrincipal" } else { "Principal" });
        let principal = match node {
            Node::String(s) if s == "*" => Principal::Any,
            Node::Object(entries) => {
                if entries.is_empty() {
                    self.err(ptr, ErrorKind::Empty("principal map"));
                    return None;
                }
                let mut map: Vec<(PrincipalKind, StringList)> = Vec::new();
                let before = self.errors.len();
                for (key, value) in entries {
                    let kind = match key.as_str() {
                        "AWS" => PrincipalKind::Aws,
                        "Service" => PrincipalKind::Service,
                        "Federated" => PrincipalKind::Federated,
                        "CanonicalUser" => PrincipalKind::CanonicalUser,
                        _ => {
                            self.err(ptr.key(key), ErrorKind::BadPrincipalType(key.clone()));
                            continue;
                        }
                    };
                    if map.iter().any(|(k, _)| *k == kind) {
                        self.err(ptr.key(key), ErrorKind::DuplicateKey(key.clone()));
                        continue;
                    }
                    let vptr = ptr.key(key);
                    let Some(list) = self.string_list(value, &vptr, "principal list") else {
                        continue;
                    };
                    for (i, v) in list.values.iter().enumerate() {
                        if let Err(reason) = check_principal(kind, v) {
                            self.err(
                                list.pointer(&vptr, i),
                                ErrorKind::BadPrincipal {
                                    value: v.clone(),
                                    reason,
                                },
                            );
                        }
                    }
                    map.push((kind, list));
                }
                if self.errors.len() != before {
                    return None;
                }
                Principal::Map(map)
            }
            other => {
                self.wrong_type(
                    ptr,
                    "`*` or an object such as {\"AWS\": \"111122223333\"}",
                    other,
                );
                return None;
            }
        };
        Some(PrincipalBlock { negated, principal })
    }

    fn conditions(&mut self, node: &Node, at: &Pointer) -> Vec<ConditionBlock> {
        let Node::Object(entries) = node else {
            self.wrong_type(at.clone(), "an object of condition operators", node);
            return Vec::new();
        };
        let mut blocks: Vec<ConditionBlock> = Vec::new();
        for (op_text, body) in entries {
            let ptr = at.key(op_text);
            if blocks.iter().any(|b| b.operator_text == *op_text) {
                self.err(ptr, ErrorKind::DuplicateKey(op_text.clone()));
                continue;
            }
            let operator = match Operator::parse(op_text) {
                Ok(op) => Some(op),
                Err(OperatorError::Unknown { suggestion }) => {
                    self.err(
                        ptr.clone(),
                        ErrorKind::UnknownOperator {
                            operator: op_text.clone(),
                            suggestion,
                        },
                    );
                    None
                }
                Err(OperatorError::NullIfExists) => {
                    self.err(ptr.clone(), ErrorKind::NullIfExists);
                    None
                }
            };
            let Node::Object(keys) = body else {
                self.wrong_type(ptr, "an object of condition keys", body);
                continue;
            };
            if keys.is_empty() {
                self.err(ptr, ErrorKind::Empty("condition block"));
                continue;
            }
            let mut entries_out: Vec<ConditionEntry> = Vec::new();
            for (key, values) in keys {
                let kptr = ptr.key(key);
                if entries_out.iter().any(|e| e.key == *key) {
                    self.err(kptr, ErrorKind::DuplicateKey(key.clone()));
                    continue;
                }
                if key.is_empty() {
                    self.err(kptr, ErrorKind::Empty("condition key"));
                    continue;
                }
                if let Some(entry) = self.condition_values(key, values, &kptr, operator, op_text) {
                    entries_out.push(entry);
                }
            }
            if let Some(operator) = operator {
                blocks.push(ConditionBlock {
                    operator,
                    operator_text: op_text.clone(),
                    entries: entries_out,
                });
            }
        }
        blocks
    }

    fn condition_values(
        &mut self,
        key: &str,
        node: &Node,
        at: &Pointer,
        operator: Option<Operator>,
        op_text: &str,
    ) -> Option<ConditionEntry> {
        let scalar = |n: &Node| match n {
            Node::String(s) => Some(ConditionValue::String(s.clone())),
            Node::Bool(b) => Some(ConditionValue::Bool(*b)),
            Node::Number(x) => Some(ConditionValue::Number(x.clone())),
            _ => None,
        };
        let (values, is_array) = match node {
            Node::Array(items) => {
                if items.is_empty() {
                    self.err(at.clone(), ErrorKind::Empty("condition value list"));
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match scalar(item) {
                        Some(v) => out.push(v),
                        None => self.wrong_type(at.index(i), "a string, number or boolean", item),
                    }
                }
                if out.len() != items.len() {
                    return None;
                }
                (out, true)
            }
            other => match scalar(other) {
                Some(v) => (vec![v], false),
                None => {
                    self.wrong_type(
                        at.clone(),
                        "a string, number, boolean or an array of them",
                        other,
                    );
                    return None;
                }
            },
        };
        let operator = operator?;
        let before = self.errors.len();
        for (i, value) in values.iter().enumerate() {
            let ptr = if is_array { at.index(i) } else { at.clone() };
            let text = value.as_text();
            if let Some(expected) = self.check_condition_value(operator, &text) {
                self.err(
                    ptr,
                    ErrorKind::BadConditionValue {
                        value: text,
                        operator: op_text.to_owned(),
                        expected,
                    },
                );
            } else if operator.base.takes_variables()
                && Template::parse(&text, self.variables, operator.base.takes_wildcards()).is_err()
            {
                self.err(ptr, ErrorKind::BadVariable(text));
            }
        }
        (self.errors.len() == before).then(|| ConditionEntry {
            key: key.to_owned(),
            values,
            is_array,
        })
    }

    /// What the value should have been, when it does not parse for the operator.
    fn check_condition_value(&self, operator: Operator, text: &str) -> Option<&'static str> {
        let variable = self.variables && operator.base.takes_variables() && text.contains("${");
        let ok = match operator.base.family() {
            Family::String | Family::Arn => true,
            Family::Numeric => parse_number(text).is_some(),
            Family::Date => date::parse(text).is_some(),
            Family::Bool => variable || parse_bool(text).is_some(),
            Family::Null => parse_bool(text).is_some(),
            Family::Binary => decode_base64(text).is_some(),
            Family::Ip => Cidr::parse(text).is_some(),
        };
        if ok {
            return None;
        }
        Some(match operator.base.family() {
            Family::Numeric => "a number",
            Family::Date => "an ISO 8601 date (`2024-05-01T12:00:00Z`) or epoch seconds",
            Family::Bool | Family::Null => "`true` or `false`",
            Family::Binary => "base64 text",
            Family::Ip => "an IPv4 or IPv6 address or CIDR range",
            Family::String | Family::Arn => "a string",
        })
    }

    /// IAM accepts tab, LF, CR and U+0020..U+00FF in policy documents.
    fn characters(&mut self, node: &Node, at: &Pointer) {
        let check = |s: &str| {
            s.chars()
                .find(|c| !matches!(*c as u32, 0x09 | 0x0a | 0x0d | 0x20..=0xff))
        };
        match node {
            Node::String(s) => {
                if let Some(c) = check(s) {
                    self.err(at.clone(), ErrorKind::BadCharacter(c as u32));
                }
            }
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.characters(item, &at.index(i));
                }
            }
            Node::Object(entries) => {
                for (key, value) in entries {
                    let ptr = at.key(key);
                    if let Some(c) = check(key) {
                        self.err(ptr.clone(), ErrorKind::BadCharacter(c as u32));
                    }
                    self.characters(value, &ptr);
                }
            }
            Node::Null | Node::Bool(_) | Node::Number(_) => {}
        }
    }
}

fn type_label(ty: PolicyType) -> &'static str {
    match ty {
        PolicyType::Identity => "identity",
        PolicyType::Trust => "role trust",
        PolicyType::Session => "session",
        PolicyType::Boundary => "permissions boundary",
        PolicyType::Scp => "service control",
        PolicyType::Rcp => "resource control",
        PolicyType::Resource => "resource-based",
    }
}

fn is_everyone(p: &Principal) -> bool {
    match p {
        Principal::Any => true,
        Principal::Map(entries) => matches!(
            entries.as_slice(),
            [(PrincipalKind::Aws, list)] if list.values.iter().all(|v| v == "*")
        ),
    }
}

/// Whether IAM stores `action`: `*`, or anything with a service prefix before a colon.
/// Strings that are not [`well_formed_action`]s (`s3:GetObject,PutObject`, `s3:`, blanks
/// inside) are stored too, and match no action.
fn valid_action(action: &str) -> bool {
    action == "*"
        || action
            .split_once(':')
            .is_some_and(|(service, _)| !service.is_empty())
}

/// `*`, or `service:action` where the action may hold wildcards: a string that can match
/// an action.
pub(crate) fn well_formed_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && !name.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'*' | b'?'))
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*' | b'?' | b'.'))
}

/// `*`, or an ARN: six components, or fewer when the last one ends in `*`.
fn valid_resource(resource: &str) -> bool {
    if resource == "*" {
        return true;
    }
    if !resource.starts_with("arn:") {
        return false;
    }
    resource.matches(':').count() >= 5 || resource.ends_with('*')
}

/// Why a principal value is invalid, if it is.
fn check_principal(kind: PrincipalKind, value: &str) -> Result<(), &'static str> {
    if value == "*" {
        return Ok(());
    }
    if value.is_empty() {
        return Err("it is empty");
    }
    if value.contains('*') || value.contains('?') {
        return Err("a wildcard may only be the whole value `*`");
    }
    if kind != PrincipalKind::Aws {
        return Ok(());
    }
    if is_account_id(value) {
        return Ok(());
    }
    let Some(arn) = crate::arn::Arn::parse(value) else {
        return Err("expected a 12-digit account id or an IAM ARN");
    };
    if !is_account_id(arn.account) {
        return Err("the ARN's account is not a 12-digit account id");
    }
    let r = arn.resource;
    let ok = match arn.service {
        "iam" => r == "root" || r.starts_with("user/") || r.starts_with("role/"),
        "sts" => r.starts_with("assumed-role/") || r.starts_with("federated-user/"),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(
            "expected an account root, IAM user, IAM role, assumed-role session or federated-user ARN",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str, ty: PolicyType) -> Vec<String> {
        match parse(text, ty) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn reports_every_problem_with_its_location() {
        let text = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
            {"Effect":"allow","Action":"s3GetObject","Resource":"*","Condition":{"StringLikee":{"s3:prefix":"a"}}},
            {"Effect":"Deny","Action":"*","Resource":"*","Principal":"*","Foo":1}
        ]}"#;
        let errs = errors(text, PolicyType::Identity);
        assert_eq!(
            errs,
            vec![
                "/Statement/1/Effect: `Effect` must be `Allow` or `Deny`, found `allow`",
                "/Statement/1/Action: invalid action `s3GetObject`: expected `service:action` or `*`",
                "/Statement/1/Condition/StringLikee: unknown condition operator `StringLikee`",
                "/Statement/2/Foo: unknown element `Foo`",
                "/Statement/2/Principal: `Principal` is not allowed in identity policies",
            ]
        );
    }

    #[test]
    fn duplicate_keys_and_empty_statements_are_errors() {
        assert_eq!(
            errors(
                r#"{"Statement":[{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
                PolicyType::Identity
            ),
            vec!["/Statement/0/Effect: duplicate key `Effect`"]
        );
        assert_eq!(
            errors(r#"{"Statement":[]}"#, PolicyType::Identity),
            vec!["/Statement: `Statement` has no statements"]
        );
        assert_eq!(
            errors(r#"{"Statement":[{}]}"#, PolicyType::Identity),
            vec![
                "/Statement/0: missing required element `Effect`",
                "/Statement/0: missing required element `Action`",
                "/Statement/0: missing required element `Resource`",
            ]
        );
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let errs = errors("{\n  \"Statement\": [\n", PolicyType::Identity);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("invalid JSON at line 3"), "{errs:?}");
    }

    #[test]
    fn principals_reject_partial_wildcards() {
        let text = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/*"},"Action":"sts:AssumeRole"}}"#;
        assert_eq!(
            errors(text, PolicyType::Trust),
            vec![
                "/Statement/Principal/AWS: invalid principal `arn:aws:iam::111122223333:role/*`: a wildcard may only be the whole value `*`"
            ]
        );
    }
}
