//! The browser-facing state every handler can reach: how the broker is reached (its public
//! URL, the proxies in front of it), the key that signs the console's CSRF tokens, and the
//! live-update hub. It lives here, beside `AppState`, so that the state does not depend on
//! the console's pages.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};
use ring::hmac;

use super::client::TrustedProxies;
use super::live::Events;

/// How the console (and the API beside it) is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The console's public URL (`[notifications] console_url`), e.g.
    /// `https://breakglass.example.com`. When it is https, cookies are `Secure`; its origin
    /// is accepted for form posts and API calls besides the request's own `Host`.
    pub public_url: Option<String>,
    /// The proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: TrustedProxies,
}

impl ConsoleSettings {
    /// `scheme://host[:port]` of the public URL.
    fn public_origin(&self) -> Option<String> {
        let url = self.public_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split('/').next()?;
        Some(format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        ))
    }

    /// Whether the public URL is https.
    fn https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
    }
}

/// The console's per-process state.
pub struct Console {
    settings: ConsoleSettings,
    /// The key the console signs its CSRF tokens with.
    pub csrf_key: hmac::Key,
    /// The live-update hub.
    pub events: Events,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// The console with `settings`, signing CSRF tokens with a key derived from `auth`'s
    /// sealing key (so every replica accepts every replica's forms).
    pub fn new(auth: &super::AuthService, settings: ConsoleSettings) -> Self {
        Self {
            settings,
            csrf_key: auth.derive_key("console csrf"),
            events: Events::new(),
        }
    }

    /// Whether cookies must be `Secure` for this request: the public URL is https, or a
    /// TLS-terminating proxy says the browser spoke https.
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        self.settings.https()
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    /// The broker's URL as the browser reaches it (for the `credential_process` line): the
    /// request's own host, else the public URL.
    pub fn server_url(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')
                    })
            });
        match (host, &self.settings.public_url) {
            (Some(host), _) => {
                let scheme = if self.secure(headers) {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{host}")
            }
            (None, Some(url)) => url.trim_end_matches('/').to_owned(),
            (None, None) => "http://127.0.0.1:8470".to_owned(),
        }
    }

    /// The client's address for a connection from `peer` with these headers (see
    /// `app::client`).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.settings.trusted_proxies.client(peer, headers)
    }

    /// Whether `origin` (an `Origin` header's value) is the broker's own: the public URL's
    /// origin or the request's own host.
    pub fn own_origin(&self, origin: &str, headers: &HeaderMap) -> bool {
        let origin = origin.to_ascii_lowercase();
        if self.settings.public_origin().as_deref() == Some(origin.as_str()) {
            return true;
        }
        let Some(host) = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
        else {
            return false;
        };
        origin == format!("http://{host}") || origin == format!("https://{host}")
    }

    /// Whether a post with these headers comes from this site: `Origin` (or, absent,
    /// `Referer`) absent, or naming the public URL's origin or the request's own host.
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        let origin = match headers.get(header::ORIGIN) {
            Some(v) => v.to_str().ok().map(str::to_owned),
            None => match headers.get(header::REFERER) {
                Some(v) => v.to_str().ok().map(|r| {
                    let (scheme, rest) = r.split_once("://").unwrap_or(("", r));
                    format!(
                        "{scheme}://{}",
                        rest.split(['/', '?', '#']).next().unwrap_or("")
                    )
                }),
                None => return true,
            },
        };
        origin.is_some_and(|o| self.own_origin(&o, headers))
    }
}
