//! Slack, played for the broker's tests: a local Web API ([`SlackApi`]) that checks every
//! call against Slack's own published specification, and the requests Slack sends to an app
//! (button clicks, modal submissions, slash commands), built and signed as Slack builds and
//! signs them.
//!
//! The receiver is strict on purpose. Slack's OpenAPI document (a verbatim subset of it is
//! kept in `tests/specs/slack_web_api_subset.json`, with the commit it came from) says which
//! methods, arguments, types and body encodings each method takes; the Block Kit reference
//! pages say how big and of what shape blocks and modals may be. A call that breaks either
//! is answered with Slack's error *and* recorded in [`SlackApi::violations`], so a test that
//! ends with `assert!(slack.violations().is_empty())` fails on a request real Slack would
//! have refused, or only grudgingly accepted, instead of passing against a lenient double.
//!
//! The signing helpers follow "Verifying requests from Slack"
//! (<https://api.slack.com/authentication/verifying-requests-from-slack>), and their unit
//! test reproduces the worked example on that page.

mod blockkit;
mod payloads;
mod receiver;
mod signing;
mod spec;

pub use payloads::{
    BlockAction, PayloadError, SlashCommand, ViewSubmission, block_actions, block_actions_from,
    slash_command, view_from, view_submission,
};
pub use receiver::{SlackApi, SlackCall, SlackMessage};
pub use signing::{sign, signed_headers};

/// The workspace (team) every call and payload of the testkit belongs to.
pub const TEAM_ID: &str = "T0BRKGLS1";
/// The workspace's domain, as payloads name it next to [`TEAM_ID`].
pub const TEAM_DOMAIN: &str = "breakglass-test";
/// The Slack app the broker is, as `api_app_id` names it.
pub const APP_ID: &str = "A0BRKGLS1";
/// The app's bot user, as messages it posts name it.
pub const BOT_ID: &str = "B0BRKGLS1";
/// The deprecated verification token Slack still puts in every payload (`token`). A broker
/// must verify the signature instead and ignore this.
pub const VERIFICATION_TOKEN: &str = "vErIfIcAtIoNtOkEn0000000";
