//! The built-in rule pack, parameterised by the names an organisation gives its break-glass
//! roles, break-glass users and incident-response roles.
//!
//! The config engineer fills [`BuiltinParams`] from the config's alerting section and deploys
//! each rule's [`FilterPattern::deployable`](crate::FilterPattern::deployable) text as a
//! CloudWatch Logs metric filter, so the patterns here use only syntax `PutMetricFilter`
//! accepts (a test checks that none has a warning, so the text deployed is the text here). Each rule's
//! examples are re-derived from the parameters and checked whenever the pack is built.

use super::{Rule, RuleFileError, load_toml_with};

const PACK: &str = include_str!("builtin.toml");

/// Values outside any sensible parameter: a parameter matching them is too broad.
const UNRELATED_ROLE: &str = "arn:aws:iam::111122223333:role/zz-unrelated";
const UNRELATED_USER: &str = "zz-unrelated";

/// The names the built-in rules look for, as CloudWatch wildcard values (`*` only at the start
/// and/or end; matching is case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinParams {
    /// Matched against role ARNs (`requestParameters.roleArn`, `sessionIssuer.arn`); its text
    /// between the wildcards is also searched for in `errorMessage` of denied attempts.
    pub break_glass_role: String,
    /// Matched against IAM user names (`userName`).
    pub break_glass_user: String,
    /// Matched against the role ARN behind an incident-response session.
    pub incident_response_role: String,
}

impl Default for BuiltinParams {
    fn default() -> Self {
        BuiltinParams {
            break_glass_role: "*BREAK-GLASS*".to_owned(),
            break_glass_user: "*-BREAK-GLASS".to_owned(),
            incident_response_role: "*:role/incident-response/*".to_owned(),
        }
    }
}

/// A parameter that cannot be used in a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("`{name}` = `{value}`: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Rules(#[from] RuleFileError),
}

/// A wildcard value split into its parts.
struct Wild<'a> {
    leading: bool,
    core: &'a str,
    trailing: bool,
}

impl Wild<'_> {
    fn matches(&self, s: &str) -> bool {
        match (self.leading, self.trailing) {
            (false, false) => s == self.core,
            (true, false) => s.ends_with(self.core),
            (false, true) => s.starts_with(self.core),
            (true, true) => s.contains(self.core),
        }
    }

    /// A value this wildcard matches, built around `before`/`after` where it allows.
    fn example(&self, before: &str, after: &str) -> String {
        let mut s = String::new();
        if self.leading {
            s.push_str(before);
        }
        s.push_str(self.core);
        if self.trailing {
            s.push_str(after);
        }
        s
    }
}

fn check<'a>(name: &'static str, value: &'a str, unrelated: &str) -> Result<Wild<'a>, ParamError> {
    let invalid = |reason| ParamError::Invalid {
        name,
        value: value.to_owned(),
        reason,
    };
    if value.len() > 128 {
        return Err(invalid("longer than 128 characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/*-".contains(&b))
    {
        return Err(invalid(
            "only letters, digits and `_+=,.@:/-` are allowed, with `*` at the start or end",
        ));
    }
    let leading = value.starts_with('*');
    let rest = value.strip_prefix('*').unwrap_or(value);
    let trailing = rest.ends_with('*');
    let core = rest.strip_suffix('*').unwrap_or(rest);
    if core.is_empty() {
        return Err(invalid("needs text besides `*`"));
    }
    if core.contains('*') {
        return Err(invalid(
            "a `*` in the middle is a literal star in CloudWatch patterns, not a wildcard",
        ));
    }
    let wild = Wild {
        leading,
        core,
        trailing,
    };
    if wild.matches(unrelated) {
        return Err(invalid("too broad: it matches unrelated names"));
    }
    Ok(wild)
}

/// The built-in rules for these parameters.
pub fn rules(params: &BuiltinParams) -> Result<Vec<Rule>, ParamError> {
    let role = check("break_glass_role", &params.break_glass_role, UNRELATED_ROLE)?;
    let user = check("break_glass_user", &params.break_glass_user, UNRELATED_USER)?;
    let ir = check(
        "incident_response_role",
        &params.incident_response_role,
        UNRELATED_ROLE,
    )?;
    let example_role_arn = role.example("arn:aws:iam::111122223333:role/", "-EXAMPLE");
    let role_name = example_role_arn
        .rsplit('/')
        .next()
        .unwrap_or(&example_role_arn)
        .to_owned();
    let replacements = [
        ("${break_glass_role}", params.break_glass_role.clone()),
        ("${break_glass_role_core}", role.core.to_owned()),
        ("${break_glass_user}", params.break_glass_user.clone()),
        (
            "${incident_response_role}",
            params.incident_response_role.clone(),
        ),
        ("${example_role_arn}", example_role_arn),
        (
            "${example_assumed_role_arn}",
            format!("arn:aws:sts::111122223333:assumed-role/{role_name}/alice"),
        ),
        ("${example_user}", user.example("alice", "-example")),
        (
            "${example_ir_role_arn}",
            ir.example("arn:aws:iam::111122223333:role/", "-example"),
        ),
    ];
    let expand = |text: &str| {
        replacements
            .iter()
            .fold(text.to_owned(), |acc, (from, to)| acc.replace(from, to))
    };
    Ok(load_toml_with("built-in rules", PACK, &expand)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pack_loads_with_its_examples() {
        let rules = rules(&BuiltinParams::default()).unwrap();
        assert!(rules.len() >= 10);
    }

    #[test]
    fn every_builtin_pattern_deploys_as_written() {
        for rule in rules(&BuiltinParams::default()).unwrap() {
            assert!(
                rule.pattern.warnings().is_empty(),
                "{}: {:?}",
                rule.id,
                rule.pattern.warnings()
            );
            assert_eq!(rule.pattern.deployable(), rule.pattern.source());
        }
    }

    #[test]
    fn other_name_shapes_work_too() {
        let params = BuiltinParams {
            break_glass_role: "arn:aws:iam::111122223333:role/emergency/*".to_owned(),
            break_glass_user: "bg-*".to_owned(),
            incident_response_role: "*IncidentResponder".to_owned(),
        };
        rules(&params).unwrap();
    }

    #[test]
    fn unusable_parameters_are_refused_with_their_name() {
        for (role, why) in [
            ("*", "besides"),
            ("*BREAK*GLASS*", "middle"),
            ("*role*", "too broad"),
            ("*\"x*", "only letters"),
        ] {
            let params = BuiltinParams {
                break_glass_role: role.to_owned(),
                ..BuiltinParams::default()
            };
            let err = rules(&params).unwrap_err().to_string();
            assert!(
                err.contains("break_glass_role") && err.contains(why),
                "{err}"
            );
        }
    }
}
