//! Narrowing: a requester may ask for less than a playbook's session policy for one request
//! (fewer actions, named resources, fewer regions), never more.
//!
//! A narrowed policy is accepted only when it is proven no wider than the playbook's, in
//! two independent ways that must both hold:
//! - the policy engine (`breakglass-iam`) sweeps the action catalog under each policy on
//!   every resource, and every catalog action the narrowed policy allows must be one the
//!   playbook's allows (this names the first widening action by its catalog name);
//! - a proof over the statements: each `Allow` of the narrowed policy, for each of its
//!   action and resource patterns, lies inside one `Allow` of the playbook's (pattern
//!   inclusion, wildcards and policy variables included) whose conditions it implies (the
//!   same operator and key with fewer values, more for a negated operator, equal for an
//!   ordering), and every `Deny` of the playbook's is kept as it is.
//!
//! Whatever cannot be proven is refused: `NotAction`/`NotResource` in an `Allow`, a
//! wildcard that reaches beyond the playbook's patterns (even when today's catalog has no
//! such action), a dropped or loosened condition. A narrowed policy's own `Deny`
//! statements only take away, so any are accepted. Sizes are checked against the
//! `AssumeRole` session-policy limit, and a policy with an error-level lint finding is
//! refused.

use std::collections::BTreeSet;

use breakglass_iam::lint::{Severity, lint};
use breakglass_iam::size::{Limit, check};
use breakglass_iam::{
    BaseOperator, Catalog, ConditionBlock, Effect, Policy, PolicySet, PolicyType, Statement, parse,
};

/// Why a narrowed session policy was refused. Each says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NarrowError {
    /// The broker has no action catalog to check narrowing with.
    #[error(
        "this broker cannot check a narrowed session policy: it was started without an action catalog (`serve --catalog DIR`); submit without a session policy to get the playbook's"
    )]
    NoCatalog,
    /// Not a valid session policy.
    #[error("the session policy is not a valid IAM policy: {0}")]
    Invalid(String),
    /// Over the `AssumeRole` limit.
    #[error("{0}; remove statements or actions to make it shorter")]
    TooLarge(String),
    /// An error-level lint finding.
    #[error("the session policy has an error: {0}")]
    Lint(String),
    /// A construct the proof cannot check.
    #[error("{what} at `{at}` cannot be proven narrower than the playbook's policy; {fix}")]
    Unsupported {
        what: String,
        at: String,
        fix: &'static str,
    },
    /// It would allow something the playbook's policy does not.
    #[error(
        "the session policy is wider than playbook `{playbook}`'s: {what}; a request may only narrow its playbook's policy, so remove it (or submit without a session policy to get the playbook's)"
    )]
    Widens { playbook: String, what: String },
}

impl NarrowError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCatalog => "narrowing_unavailable",
            Self::Widens { .. } => "session_policy_widens",
            _ => "invalid_session_policy",
        }
    }
}

/// Checks `text`, a requester's narrowed session policy for playbook `playbook` whose own
/// session policy is `playbook_policy`, against the action catalog `actions`, and returns
/// it in compact form (what STS is given). See the module documentation.
pub fn narrow(
    playbook: &str,
    playbook_policy: &str,
    text: &str,
    actions: Option<&Catalog>,
) -> Result<String, NarrowError> {
    let actions = actions.ok_or(NarrowError::NoCatalog)?;
    let narrowed =
        parse(text, PolicyType::Session).map_err(|e| NarrowError::Invalid(e.to_string()))?;
    supported(&narrowed)?;
    let compact = narrowed.to_compact_string();
    check("the session policy", &compact, Limit::SessionPolicy)
        .map_err(|e| NarrowError::TooLarge(e.to_string()))?;
    if let Some(f) = lint(&narrowed, PolicyType::Session, Some(actions))
        .into_iter()
        .find(|f| f.severity == Severity::Error)
    {
        return Err(NarrowError::Lint(f.to_string()));
    }
    let wide = parse(playbook_policy, PolicyType::Session).map_err(|e| {
        NarrowError::Invalid(format!(
            "playbook `{playbook}`'s own policy does not parse: {e}"
        ))
    })?;
    let widens = |what: String| NarrowError::Widens {
        playbook: playbook.to_owned(),
        what,
    };
    if let Some(action) = engine_widening(&wide, &narrowed, actions) {
        return Err(widens(format!(
            "it allows `{action}`, which the playbook's does not"
        )));
    }
    if let Some(what) = proof_gap(&wide, &narrowed) {
        return Err(widens(what));
    }
    Ok(compact)
}

/// Refuses the constructs the proof cannot reason about in an `Allow`.
fn supported(narrowed: &Policy) -> Result<(), NarrowError> {
    for s in narrowed
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        let at = s.pointer.as_str().to_owned();
        if s.action.negated {
            return Err(NarrowError::Unsupported {
                what: "`NotAction` in an `Allow`".to_owned(),
                at,
                fix: "list the actions with `Action`",
            });
        }
        if s.resource.as_ref().is_some_and(|r| r.negated) {
            return Err(NarrowError::Unsupported {
                what: "`NotResource` in an `Allow`".to_owned(),
                at,
                fix: "list the resources with `Resource`",
            });
        }
        if s.principal.is_some() {
            return Err(NarrowError::Unsupported {
                what: "`Principal` in a session policy".to_owned(),
                at,
                fix: "remove it",
            });
        }
    }
    Ok(())
}

/// The first catalog action (in catalog order) the policy engine finds allowed, on any
/// resource, under `narrowed` but not under `wide`, each as the only policy besides an
/// identity policy allowing everything.
fn engine_widening(wide: &Policy, narrowed: &Policy, actions: &Catalog) -> Option<String> {
    let everything = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyType::Identity,
    )
    .ok()?;
    let sweep = |session: &Policy| {
        PolicySet::builder()
            .identity(&everything)
            .session(session)
            .build()
            .sweep(actions, "*")
    };
    let allowed: BTreeSet<String> = sweep(wide)
        .actions()
        .map(|a| a.action.to_ascii_lowercase())
        .collect();
    sweep(narrowed)
        .actions()
        .find(|a| !allowed.contains(&a.action.to_ascii_lowercase()))
        .map(|a| a.action.clone())
}

/// What the statement proof could not show, if anything (see the module documentation).
fn proof_gap(wide: &Policy, narrowed: &Policy) -> Option<String> {
    let allows: Vec<&Statement> = wide
        .statements
        .iter()
        .filter(|t| {
            t.effect == Effect::Allow
                && !t.action.negated
                && t.principal.is_none()
                && !t.resource.as_ref().is_some_and(|r| r.negated)
        })
        .collect();
    for s in narrowed
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        let named = resources(s);
        for action in &s.action.values.values {
            let by_action: Vec<&&Statement> = allows
                .iter()
                .filter(|t| {
                    t.action
                        .values
                        .values
                        .iter()
                        .any(|p| within(action, p, true))
                })
                .collect();
            if by_action.is_empty() {
                return Some(format!(
                    "action `{action}` (at `{}`) is not inside any action the playbook's policy allows",
                    s.action_pointer().as_str()
                ));
            }
            for resource in &named {
                let by_resource: Vec<&&Statement> = by_action
                    .iter()
                    .copied()
                    .filter(|t| resources(t).iter().any(|p| within(resource, p, false)))
                    .collect();
                if by_resource.is_empty() {
                    return Some(format!(
                        "resource `{resource}` for `{action}` is not inside any resource the playbook's policy allows it on"
                    ));
                }
                let mut first_gap = None;
                let covered = by_resource.iter().any(|t| match condition_gap(t, s) {
                    None => true,
                    Some(gap) => {
                        first_gap.get_or_insert(gap);
                        false
                    }
                });
                if !covered {
                    return Some(format!(
                        "`{action}` on `{resource}` {}",
                        first_gap.unwrap_or_default()
                    ));
                }
            }
        }
    }
    for d in wide.statements.iter().filter(|d| d.effect == Effect::Deny) {
        let kept = narrowed
            .statements
            .iter()
            .any(|n| n.effect == Effect::Deny && same_statement(n, d));
        if !kept {
            return Some(format!(
                "it drops the playbook's `Deny` at `{}` ({}); copy that statement unchanged",
                d.pointer.as_str(),
                d.to_json()
            ));
        }
    }
    None
}

/// A statement's resource patterns (`*` when it names none).
fn resources(s: &Statement) -> Vec<String> {
    s.resource
        .as_ref()
        .map_or_else(|| vec!["*".to_owned()], |r| r.values.values.clone())
}

/// Whether two statements say the same, whatever their `Sid` and position.
fn same_statement(a: &Statement, b: &Statement) -> bool {
    let strip = |s: &Statement| {
        let mut v = s.to_json();
        if let Some(m) = v.as_object_mut() {
            m.remove("Sid");
        }
        v
    };
    strip(a) == strip(b)
}

/// Why `narrow`'s conditions do not imply `wide`'s, if they do not: each condition of
/// `wide` must be in `narrow` with the same operator and key and values that admit no
/// more.
fn condition_gap(wide: &Statement, narrow: &Statement) -> Option<String> {
    for block in &wide.conditions {
        for entry in &block.entries {
            let found = narrow
                .conditions
                .iter()
                .filter(|b| b.operator == block.operator)
                .flat_map(|b| b.entries.iter())
                .find(|e| e.key.eq_ignore_ascii_case(&entry.key));
            let Some(found) = found else {
                return Some(format!(
                    "lacks the playbook's condition `{}` on `{}`; keep it (with the same or fewer values)",
                    block.operator_text, entry.key
                ));
            };
            let wide_values: Vec<String> = entry.values.iter().map(|v| v.as_text()).collect();
            let narrow_values: Vec<String> = found.values.iter().map(|v| v.as_text()).collect();
            if let Some(extra) = values_gap(block, &wide_values, &narrow_values) {
                return Some(format!(
                    "has `{}` `{}` value `{extra}`, which the playbook's condition does not admit (it allows {})",
                    block.operator_text,
                    entry.key,
                    wide_values
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    None
}

/// The value that makes `narrow` admit more than `wide` under `block`'s operator, if any.
fn values_gap(block: &ConditionBlock, wide: &[String], narrow: &[String]) -> Option<String> {
    use BaseOperator as B;
    let op = block.operator;
    let like = matches!(op.base, B::StringLike | B::ArnLike | B::ArnEquals);
    let ignore_case = matches!(op.base, B::StringEqualsIgnoreCase);
    let ordering = matches!(
        op.base,
        B::NumericLessThan
            | B::NumericLessThanEquals
            | B::NumericGreaterThan
            | B::NumericGreaterThanEquals
            | B::DateLessThan
            | B::DateLessThanEquals
            | B::DateGreaterThan
            | B::DateGreaterThanEquals
    );
    let equal = |a: &String, b: &String| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    if ordering || (op.base.is_negated() && op.set.is_some()) {
        // Only the very same values are known to admit no more.
        let same = wide.len() == narrow.len() && wide.iter().all(|w| narrow.iter().any(|n| n == w));
        return (!same).then(|| narrow.join(", "));
    }
    if op.base.is_negated() {
        // A negated operator admits what none of its values match: it must exclude at
        // least what the playbook's excludes.
        return wide
            .iter()
            .find(|w| !narrow.iter().any(|n| n == *w))
            .map(|w| format!("(missing exclusion) {w}"));
    }
    narrow
        .iter()
        .find(|n| {
            !wide.iter().any(|w| {
                if like {
                    within(n, w, false)
                } else {
                    equal(n, w)
                }
            })
        })
        .cloned()
}

/// One line on what a request for `role` under `session_policy` allows, for the approval
/// notification (the request page has the whole of it): the actions, services and
/// permissions-management actions the policy engine finds over the action catalog, and,
/// when `playbook_policy` (the playbook's own, for a narrowed request) is given, how many
/// fewer than under it. `None` without a permission model or when a policy does not parse.
pub(crate) fn allows_line(
    model: Option<&crate::model::PermissionModel>,
    role: &crate::model::RoleName,
    session_policy: &str,
    playbook_policy: Option<&str>,
) -> Option<String> {
    use breakglass_iam::catalog::AccessLevel;
    let model = model?;
    let sweep = |text: &str| {
        let session = parse(text, PolicyType::Session).ok()?;
        let everything = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            PolicyType::Identity,
        )
        .ok()?;
        let mut builder = PolicySet::builder();
        match model.role(role) {
            Some(p) => {
                for policy in &p.identity {
                    builder = builder.identity(policy);
                }
                if let Some(b) = &p.boundary {
                    builder = builder.boundary(b);
                }
            }
            None => builder = builder.identity(&everything),
        }
        Some(
            builder
                .session(&session)
                .build()
                .sweep(model.actions(), "*"),
        )
    };
    let here = sweep(session_policy)?;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut line = format!(
        "allows {} in {} ({} permissions management)",
        plural(here.len(), "action"),
        plural(here.services.len(), "service"),
        here.count(AccessLevel::PermissionsManagement)
    );
    if let Some(wide) = playbook_policy.and_then(sweep) {
        line.push_str(&format!(
            "; narrowed by the requester: {} fewer than the playbook's {}",
            wide.len().saturating_sub(here.len()),
            wide.len()
        ));
    }
    Some(line)
}

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `*`: any run of characters.
    Star,
    /// `?`: one character.
    One,
    /// A policy variable (`${aws:username}`): one value, unknown here.
    Var(String),
    /// A literal character.
    Lit(char),
}

fn tokens(pattern: &str, ignore_case: bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("${")
            && let Some(end) = after.find('}')
        {
            let name = after.get(..end).unwrap_or_default();
            out.push(match name {
                "*" => Token::Lit('*'),
                "?" => Token::Lit('?'),
                "$" => Token::Lit('$'),
                _ => Token::Var(name.to_ascii_lowercase()),
            });
            rest = after.get(end + 1..).unwrap_or_default();
            continue;
        }
        out.push(match c {
            '*' => Token::Star,
            '?' => Token::One,
            c if ignore_case => Token::Lit(c.to_ascii_lowercase()),
            c => Token::Lit(c),
        });
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    out
}

/// Whether everything pattern `narrow` matches, pattern `wide` matches too (sound, not
/// complete: `false` when it cannot tell). `*` and `?` are wildcards in both; a policy
/// variable in `narrow` is matched only by the same variable or a `*` in `wide`.
pub(crate) fn within(narrow: &str, wide: &str, ignore_case: bool) -> bool {
    let n = tokens(narrow, ignore_case);
    let w = tokens(wide, ignore_case);
    // reach[i][j]: the first i tokens of `narrow` are covered by the first j of `wide`.
    let mut reach = vec![vec![false; w.len() + 1]; n.len() + 1];
    if let Some(first) = reach.first_mut().and_then(|r| r.first_mut()) {
        *first = true;
    }
    for i in 0..=n.len() {
        for j in 1..=w.len() {
            let here = match w.get(j - 1) {
                Some(Token::Star) => {
                    // `*` covers nothing more, or one more token of `narrow` (any kind).
                    reach
                        .get(i)
                        .and_then(|r| r.get(j - 1))
                        .copied()
                        .unwrap_or(false)
                        || (i > 0
                            && reach
                                .get(i - 1)
                                .and_then(|r| r.get(j))
                                .copied()
                                .unwrap_or(false))
                }
                Some(wt) if i > 0 => {
                    let prev = reach
                        .get(i - 1)
                        .and_then(|r| r.get(j - 1))
                        .copied()
                        .unwrap_or(false);
                    prev && match (n.get(i - 1), wt) {
                        (Some(Token::Lit(_) | Token::One), Token::One) => true,
                        (Some(Token::Lit(a)), Token::Lit(b)) => a == b,
                        (Some(Token::Var(a)), Token::Var(b)) => a == b,
                        _ => false,
                    }
                }
                _ => false,
            };
            if let Some(cell) = reach.get_mut(i).and_then(|r| r.get_mut(j)) {
                *cell = here;
            }
        }
    }
    reach
        .get(n.len())
        .and_then(|r| r.get(w.len()))
        .copied()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn pattern_inclusion() {
        assert!(within("ec2:StopInstances", "ec2:*", true));
        assert!(within("ec2:stopinstances", "EC2:Stop*", true));
        assert!(within("ec2:Describe*", "ec2:*", true));
        assert!(!within("ec2:*", "ec2:Describe*", true));
        assert!(!within("*", "arn:aws:s3:::b*", false));
        assert!(!within("a*c", "a?c", false));
        assert!(within("a?c", "a*c", false));
        assert!(within("abc", "a?c", false));
        assert!(!within(
            "arn:aws:s3:::${aws:username}",
            "arn:aws:s3:::alice",
            false
        ));
        assert!(within(
            "arn:aws:s3:::${aws:username}",
            "arn:aws:s3:::*",
            false
        ));
        assert!(within("x/${aws:username}", "x/${aws:username}", false));
        assert!(!within("x/${aws:username}", "x/${aws:userid}", false));
        assert!(within("*", "*", false));
        assert!(within("", "*", false));
        assert!(!within("a", "", false));
        assert!(within(
            "arn:aws:s3:::evidence-1/*",
            "arn:aws:s3:::evidence-*/*",
            false
        ));
        assert!(!within(
            "arn:aws:s3:::evidence-1/*",
            "arn:aws:s3:::evidence-*/x*",
            false
        ));
    }
}
