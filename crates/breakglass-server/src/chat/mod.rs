//! Chat: the Slack app as the server holds it (its settings, its signing secret and its Web
//! API client), and the checks of what Slack sends. The endpoints and the notification
//! channel that use it are `crate::slack`.
//!
//! Slack calls the broker at `/slack/interactions` (button clicks and modal submissions)
//! and `/slack/commands` (`/breakglass ...`); both verify Slack's request signature
//! (`v0`, the app's signing secret, a timestamp within five minutes) before reading
//! anything, and refuse a delivery seen before. The chat account is then mapped to the
//! broker user who linked it (`auth::chat`), and the ordinary use cases run with that
//! caller: an approval still asks the approver's own TOTP code (in a modal) and is bound
//! to the digest the message showed. What Slack is told back, and what the broker posts
//! and updates (`crate::slack::deliver`), goes through the Web API client (`api`).

pub mod api;
pub mod verify;

use breakglass_config::SlackConfig;
use breakglass_core::cloud::Secret;

pub use api::SlackApi;

/// The Slack app as the server runs it.
#[derive(Debug)]
pub struct SlackApp {
    /// The settings from `[slack]`.
    pub config: SlackConfig,
    /// The signing secret Slack signs its requests with.
    pub(crate) signing_secret: Secret,
    /// The Web API client (bot token).
    pub api: SlackApi,
    /// The console's base URL, linked from messages.
    pub console_url: String,
    /// How many refused deliveries are audited (anyone can send them).
    pub(crate) refusals: RefusalBudget,
}

/// Refused deliveries audited per minute at most; the rest are counted into the next
/// audited one, so unauthenticated posts cannot flood the audit log.
#[derive(Debug, Default)]
pub(crate) struct RefusalBudget {
    /// The minute (Unix seconds / 60) counted, how many were audited in it, how many folded.
    state: std::sync::Mutex<(i64, u32, u64)>,
}

/// Refused deliveries audited per minute.
const REFUSALS_PER_MINUTE: u32 = 20;

impl RefusalBudget {
    /// Whether a refusal at `now` is audited: `Some(folded)` (how many were not, since the
    /// last audited one) or `None` (counted, not audited).
    pub(crate) fn admit(&self, now: time::OffsetDateTime) -> Option<u64> {
        let minute = now.unix_timestamp().div_euclid(60);
        let mut g = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.0 != minute {
            g.0 = minute;
            g.1 = 0;
        }
        if g.1 < REFUSALS_PER_MINUTE {
            g.1 += 1;
            Some(std::mem::take(&mut g.2))
        } else {
            g.2 = g.2.saturating_add(1);
            None
        }
    }
}

/// Why the Slack app could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SlackSetupError {
    /// A secret the config names is not in the environment.
    #[error(
        "the Slack {what} is read from the environment variable `{var}`, which is not set: set it before starting the broker"
    )]
    MissingSecret {
        /// The variable.
        var: String,
        /// What it holds.
        what: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for Slack: {0}")]
    Http(String),
}

impl SlackApp {
    /// The app from `config`, its secrets read through `env`, linking to `console_url`.
    pub fn new(
        config: SlackConfig,
        console_url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SlackSetupError> {
        let secret = |var: &str, what: &'static str| {
            env(var)
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| SlackSetupError::MissingSecret {
                    var: var.to_owned(),
                    what,
                })
        };
        let token = secret(&config.bot_token_env, "bot token")?;
        let signing_secret = secret(&config.signing_secret_env, "signing secret")?;
        let api = SlackApi::new(&config.api_url, token)?;
        Ok(Self {
            config,
            signing_secret,
            api,
            console_url: console_url.trim_end_matches('/').to_owned(),
            refusals: RefusalBudget::default(),
        })
    }
}
