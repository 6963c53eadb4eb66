//! The playbooks use case: what the signed-in caller may ask for, per playbook, decided by
//! the admission checks the submit and break-glass paths make (`request::offers`), and the
//! resolution of an account given by name or by id against the catalog, which every path
//! that takes an account from a person (API, console, command line) goes through.

use super::{App, Caller, Error};
use crate::cloud::Cloud;
use crate::model::{AccountId, Catalog};
use crate::ports::{AccessStore, Clock, IdSource, Store};
use crate::request::{Env, Offer};

/// The account `input` names: an account of the catalog by its name (`production`), or an
/// account id (12 digits). Anything else is refused with the catalog's accounts listed.
pub fn resolve_account(catalog: &Catalog, input: &str) -> Result<AccountId, Error> {
    let input = input.trim();
    if let Some(a) = catalog.accounts.iter().find(|a| a.name == input) {
        return Ok(a.id.clone());
    }
    AccountId::new(input.to_owned()).map_err(|_| {
        let known: Vec<String> = catalog
            .accounts
            .iter()
            .map(|a| format!("`{}` ({})", a.name, a.id))
            .collect();
        let known = if known.is_empty() {
            "the catalog lists none".to_owned()
        } else {
            format!("the accounts are {}", known.join(", "))
        };
        Error::Invalid(format!(
            "unknown account `{input}`: give an account's name or 12-digit id; {known}"
        ))
    })
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// What `caller` may ask for now: each playbook with the role copies they may request
    /// for approval or activate as break-glass, and for how long. A caller limited to the
    /// break-glass path (`Caller::break_glass_only`) is offered break-glass only.
    pub fn playbooks(&self, caller: &Caller) -> Vec<Offer> {
        let rules = self.rules();
        let env = Env {
            rules: &rules,
            settings: self.broker.settings(),
            now: self.now(),
        };
        let mut offers = crate::request::offers(&caller.username, &env);
        if caller.break_glass_only {
            for offer in &mut offers {
                for target in &mut offer.targets {
                    target.request = None;
                }
                offer.targets.retain(|t| t.break_glass.is_some());
            }
            offers.retain(|o| !o.targets.is_empty());
        }
        offers
    }
}
