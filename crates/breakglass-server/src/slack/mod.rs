//! The Slack app's endpoints (`routes`: `/slack/interactions`, `/slack/commands`) and its
//! notification channel (`deliver`), over the use cases and the app of `crate::chat`.

pub mod deliver;
pub mod routes;
