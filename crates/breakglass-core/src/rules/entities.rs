//! The Cedar entities of a catalog: users in their groups, accounts, roles (children of
//! their account) and playbooks, with the attributes the schema declares.

use std::collections::{HashMap, HashSet};

use cedar_policy::{Entities, Entity, EntityUid, RestrictedExpression, Schema};

use super::{long, uid};
use crate::model::Catalog;

pub(super) fn build(catalog: &Catalog, schema: &Schema) -> Result<Entities, String> {
    let mut entities = Vec::new();
    let mut groups = HashSet::new();
    for responder in &catalog.responders {
        let parents: HashSet<EntityUid> = responder
            .groups
            .iter()
            .map(|g| uid("Group", g.as_str()))
            .collect::<Result<_, _>>()?;
        groups.extend(parents.iter().cloned());
        let attrs = HashMap::from([
            (
                "name".to_owned(),
                RestrictedExpression::new_string(responder.name.clone()),
            ),
            (
                "break_glass_user".to_owned(),
                RestrictedExpression::new_bool(responder.break_glass_user),
            ),
        ]);
        let user = Entity::new(uid("User", responder.username.as_str())?, attrs, parents)
            .map_err(|e| format!("responder `{}`: {e}", responder.username))?;
        entities.push(user);
    }
    for playbook in &catalog.playbooks {
        for g in playbook
            .eligible_groups
            .iter()
            .chain(&playbook.approval.from_groups)
        {
            groups.insert(uid("Group", g.as_str())?);
        }
    }
    entities.extend(
        groups
            .into_iter()
            .map(|g| Entity::new_no_attrs(g, HashSet::new())),
    );
    let mut accounts: HashMap<String, String> = catalog
        .accounts
        .iter()
        .map(|a| (a.id.to_string(), a.name.clone()))
        .collect();
    for role in &catalog.roles {
        accounts
            .entry(role.account.to_string())
            .or_insert_with(|| role.account.to_string());
    }
    if let Some(security) = &catalog.security_account {
        accounts
            .entry(security.to_string())
            .or_insert_with(|| "security".to_owned());
    }
    for (id, name) in &accounts {
        let attrs = HashMap::from([(
            "name".to_owned(),
            RestrictedExpression::new_string(name.clone()),
        )]);
        entities.push(
            Entity::new(uid("Account", id)?, attrs, HashSet::new())
                .map_err(|e| format!("account `{id}`: {e}"))?,
        );
    }
    for role in &catalog.roles {
        let account = uid("Account", role.account.as_str())?;
        let attrs = HashMap::from([
            (
                "name".to_owned(),
                RestrictedExpression::new_string(role.name.to_string()),
            ),
            (
                "account".to_owned(),
                RestrictedExpression::new_entity_uid(account.clone()),
            ),
            (
                "break_glass".to_owned(),
                RestrictedExpression::new_bool(role.break_glass),
            ),
            (
                "max_session_seconds".to_owned(),
                long(role.max_session.whole_seconds()),
            ),
        ]);
        entities.push(
            Entity::new(
                uid("Role", role.arn.as_str())?,
                attrs,
                HashSet::from([account]),
            )
            .map_err(|e| format!("role `{}`: {e}", role.arn))?,
        );
    }
    for playbook in &catalog.playbooks {
        let attrs = HashMap::from([
            (
                "title".to_owned(),
                RestrictedExpression::new_string(playbook.title.clone()),
            ),
            (
                "break_glass".to_owned(),
                RestrictedExpression::new_bool(playbook.break_glass),
            ),
            (
                "max_duration_seconds".to_owned(),
                long(playbook.max_duration.whole_seconds()),
            ),
            (
                "required_approvals".to_owned(),
                long(i64::from(playbook.approval.required)),
            ),
        ]);
        entities.push(
            Entity::new(
                uid("Playbook", playbook.id.as_str())?,
                attrs,
                HashSet::new(),
            )
            .map_err(|e| format!("playbook `{}`: {e}", playbook.id))?,
        );
    }
    Entities::from_entities(entities, Some(schema)).map_err(|e| e.to_string())
}
