//! Cedar policies generated from the catalog's playbooks.
//!
//! A playbook says who may request it, for which roles and accounts, for how long, and who
//! approves; this module writes that down as Cedar so it is evaluated (and explained) by the
//! same engine as any hand-written policy. Each policy carries an `@id` and a human
//! `@description`, which is what a decision's explanation shows.

use std::fmt::Write as _;

use crate::model::{Catalog, GroupName, Playbook};

/// Escapes `text` as the body of a Cedar string literal.
pub(crate) fn cedar_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn entity(kind: &str, id: &str) -> String {
    format!("{kind}::{}", cedar_string(id))
}

fn group_set(groups: &[GroupName]) -> String {
    let items: Vec<String> = groups.iter().map(|g| entity("Group", g.as_str())).collect();
    format!("[{}]", items.join(", "))
}

fn names(groups: &[GroupName]) -> String {
    let items: Vec<&str> = groups.iter().map(GroupName::as_str).collect();
    items.join(", ")
}

/// The role copies a playbook may hand out: each of its roles in each account it allows
/// (every account the role is deployed to when the playbook names none).
fn role_set(catalog: &Catalog, playbook: &Playbook) -> Vec<String> {
    catalog
        .roles
        .iter()
        .filter(|r| playbook.roles.contains(&r.name))
        .filter(|r| playbook.accounts.is_empty() || playbook.accounts.contains(&r.account))
        .map(|r| entity("Role", r.arn.as_str()))
        .collect()
}

/// The Cedar text of every policy the catalog implies.
pub(crate) fn policies(catalog: &Catalog) -> String {
    let mut out = String::new();
    // A responder may always give up access they hold (revoke their own grant or approved
    // request); approvers may revoke too (generated per playbook below).
    out.push_str(
        "@id(\"builtin.revoke-own\")\n\
         @description(\"a requester may revoke their own access\")\n\
         permit(principal, action == Action::\"revoke\", resource)\n\
         when { principal == context.requester };\n\n",
    );
    for playbook in &catalog.playbooks {
        let id = playbook.id.as_str();
        let resource = entity("Playbook", id);
        let max = playbook.max_duration.whole_seconds();
        let roles = role_set(catalog, playbook);
        if !playbook.eligible_groups.is_empty() && !roles.is_empty() {
            let groups = group_set(&playbook.eligible_groups);
            let roles = format!("[{}]", roles.join(", "));
            let _ = write!(
                out,
                "@id({})\n@description({})\n\
                 permit(principal, action == Action::\"request\", resource == {resource})\n\
                 when {{ principal in {groups} && {roles}.contains(context.role) && context.duration_seconds <= {max} }};\n\n",
                cedar_string(&format!("playbook.{id}.request")),
                cedar_string(&format!(
                    "members of {} may request playbook `{id}` for up to {max} seconds",
                    names(&playbook.eligible_groups)
                )),
            );
            if playbook.break_glass {
                let _ = write!(
                    out,
                    "@id({})\n@description({})\n\
                     permit(principal, action == Action::\"activate_break_glass\", resource == {resource})\n\
                     when {{ principal in {groups} && {roles}.contains(context.role) && context.duration_seconds <= {max} && context.mfa }};\n\n",
                    cedar_string(&format!("playbook.{id}.break-glass")),
                    cedar_string(&format!(
                        "members of {} may activate playbook `{id}` as break-glass, with MFA, for up to {max} seconds",
                        names(&playbook.eligible_groups)
                    )),
                );
            }
        }
        let approvers = &playbook.approval.from_groups;
        if !approvers.is_empty() {
            let groups = group_set(approvers);
            for (action, verb) in [
                ("approve", "approve requests for"),
                ("review", "review break-glass use of"),
                ("revoke", "revoke access granted by"),
            ] {
                let _ = write!(
                    out,
                    "@id({})\n@description({})\n\
                     permit(principal, action == Action::\"{action}\", resource == {resource})\n\
                     when {{ principal in {groups} }};\n\n",
                    cedar_string(&format!("playbook.{id}.{action}")),
                    cedar_string(&format!(
                        "members of {} may {verb} playbook `{id}`",
                        names(approvers)
                    )),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_cedar() {
        assert_eq!(cedar_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(cedar_string("\u{1}"), "\"\\u{1}\"");
    }
}
