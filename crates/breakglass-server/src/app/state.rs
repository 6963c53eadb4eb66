//! What every handler shares: the use cases, authentication, metrics and the console's hub.
//! The concrete adapters are named here once; handlers see only these aliases.

use std::sync::Arc;

use breakglass_core::app::App;
use breakglass_core::cloud::SharedCloud;
use breakglass_core::ports::{Clock, IdSource};
use breakglass_store::SqlStore;

use super::{Console, ConsoleSettings, Metrics};
use crate::auth::Auth;
use crate::auth::oidc::OidcProvider;

/// The use cases as the server runs them: over the SQL store and any cloud adapter.
pub type AppService = App<SqlStore, SharedCloud, Arc<dyn Clock>, Arc<dyn IdSource>>;

/// Authentication as the server runs it: over the SQL store.
pub type AuthService = Auth<SqlStore>;

/// Everything a handler needs.
pub struct AppState {
    /// The use cases: requests, grants, credentials, revocation, the audit log.
    pub app: Arc<AppService>,
    /// Users, tokens and TOTP.
    pub auth: Arc<AuthService>,
    /// Request counters for `/metrics`.
    pub metrics: Metrics,
    /// The web console's settings, CSRF key and live-update hub.
    pub console: Console,
    /// Sign-in through the OpenID Connect identity provider, when `[auth.oidc]` is set.
    pub oidc: Option<Arc<OidcProvider>>,
    /// The Slack app, when `[slack]` is set.
    pub slack: Option<Arc<crate::chat::SlackApp>>,
}

impl AppState {
    /// The state over `app` and `auth`, with fresh metrics and the console set up with
    /// `console`.
    pub fn new(app: Arc<AppService>, auth: Arc<AuthService>, console: ConsoleSettings) -> Self {
        let console = Console::new(&auth, console);
        Self {
            app,
            auth,
            metrics: Metrics::default(),
            console,
            oidc: None,
            slack: None,
        }
    }

    /// The state with SSO sign-in through `oidc`.
    #[must_use]
    pub fn with_oidc(mut self, oidc: Option<Arc<OidcProvider>>) -> Self {
        self.oidc = oidc;
        self
    }

    /// The state with the Slack app's endpoints answering for `slack`.
    #[must_use]
    pub fn with_slack(mut self, slack: Option<Arc<crate::chat::SlackApp>>) -> Self {
        self.slack = slack;
        self
    }
}
