//! Validation of the `[auth.oidc]` section: the issuer and redirect URLs, the secret's
//! variable name, the scopes, the groups claim and how a subject maps to a responder.

use std::collections::BTreeMap;

use super::super::raw::{RawConfig, RawLocalAccounts};
use super::super::{
    LocalAccounts, NotificationsConfig, OIDC_CALLBACK_PATH, OidcConfig, OidcSubject,
    PasskeySettings,
};
use super::{Validator, root};

/// Whether `url` is `https://HOST...`, or `http://` to this machine (a provider or broker on
/// 127.0.0.1 for a trial or a test).
fn secure_url(url: &str) -> bool {
    let host_ok = |rest: &str| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.contains(char::is_whitespace)
            && !rest.contains(['?', '#'])
    };
    url.strip_prefix("https://").is_some_and(host_ok)
        || url.strip_prefix("http://").is_some_and(|rest| {
            host_ok(rest)
                && ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
                    rest.strip_prefix(h)
                        .is_some_and(|after| after.is_empty() || after.starts_with([':', '/']))
                })
        })
}

impl Validator {
    /// What local accounts may do; limiting them needs an identity provider (else nobody,
    /// or only break-glass, could sign in).
    pub(super) fn local_accounts(&mut self, raw: &RawConfig) -> LocalAccounts {
        let local = match raw.auth.local {
            None | Some(RawLocalAccounts::All) => return LocalAccounts::All,
            Some(RawLocalAccounts::BreakGlassOnly) => LocalAccounts::BreakGlassOnly,
            Some(RawLocalAccounts::Off) => LocalAccounts::Off,
        };
        if raw.auth.oidc.is_none() {
            self.push(
                &root().key("auth").key("local"),
                "local accounts can be limited only when people sign in another way: configure `[auth.oidc]` or set `local = \"all\"`",
            );
        }
        local
    }

    pub(super) fn passkeys(&mut self, raw: &RawConfig) -> Option<PasskeySettings> {
        let p = raw.auth.passkeys.as_ref()?;
        let path = root().key("auth").key("passkeys");
        let origin = p.origin.trim_end_matches('/');
        let (scheme, authority) = origin.split_once("://").unwrap_or(("", ""));
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority, |(h, _)| h);
        let valid = !host.is_empty()
            && !authority.contains(['/', '?', '#', '@'])
            && (scheme == "https" || (scheme == "http" && host == "localhost"));
        if !valid {
            self.push(
                &path.key("origin"),
                format!(
                    "origin `{}` must be the console's `https://HOST[:PORT]` with no path (`http://` only for `localhost`; browsers refuse passkeys elsewhere, and on IP addresses)",
                    p.origin
                ),
            );
            return None;
        }
        if let Some(rp_id) = &p.rp_id
            && !(host == rp_id || host.ends_with(&format!(".{rp_id}")))
        {
            self.push(
                &path.key("rp_id"),
                format!("relying-party id `{rp_id}` must be the origin's host `{host}` or a parent domain of it"),
            );
            return None;
        }
        Some(PasskeySettings {
            origin: origin.to_owned(),
            rp_id: p.rp_id.clone(),
        })
    }

    pub(super) fn oidc(
        &mut self,
        raw: &RawConfig,
        notifications: Option<&NotificationsConfig>,
    ) -> Option<OidcConfig> {
        let o = raw.auth.oidc.as_ref()?;
        let path = root().key("auth").key("oidc");
        if !secure_url(&o.issuer) {
            self.push(
                &path.key("issuer"),
                format!(
                    "issuer `{}` must be `https://HOST...` (`http://` only for 127.0.0.1 or localhost), exactly as the provider's ID tokens carry it in `iss`",
                    o.issuer
                ),
            );
        }
        if o.client_id.trim().is_empty() {
            self.push(
                &path.key("client_id"),
                "the client id is empty: give the id the identity provider assigned the broker",
            );
        }
        self.env_name(&path.key("client_secret_env"), &o.client_secret_env);
        for (i, scope) in o.scopes.iter().enumerate() {
            if scope.is_empty() || scope.contains(|c: char| c.is_whitespace() || c == '"') {
                self.push(
                    &path.key("scopes").index(i),
                    format!("`{scope}` is not a scope (one word, no spaces)"),
                );
            }
        }
        if !o.scopes.iter().any(|s| s == "openid") {
            self.push(
                &path.key("scopes"),
                "the scopes must include `openid`: without it the provider issues no ID token",
            );
        }
        if let Some(claim) = &o.groups_claim
            && (claim.is_empty() || claim.contains(char::is_whitespace))
        {
            self.push(
                &path.key("groups_claim"),
                format!("`{claim}` is not a claim name (often `groups`)"),
            );
        }
        let subject = match o.subject.as_str() {
            "email" => OidcSubject::Email,
            "sub" => OidcSubject::Sub,
            other => {
                self.push(
                    &path.key("subject"),
                    format!(
                        "`{other}` is not one of `email` (match the responder's `email`) or `sub` (the responder's username)"
                    ),
                );
                OidcSubject::Email
            }
        };
        if subject == OidcSubject::Email {
            self.unique_emails(raw);
        }
        let redirect_url = match (&o.redirect_url, notifications) {
            (Some(url), _) => {
                let ok = secure_url(url)
                    && url
                        .split_once("://")
                        .and_then(|(_, rest)| rest.split_once('/'))
                        .is_some_and(|(_, p)| format!("/{p}") == OIDC_CALLBACK_PATH);
                if !ok {
                    self.push(
                        &path.key("redirect_url"),
                        format!(
                            "redirect URL `{url}` must be `https://HOST{OIDC_CALLBACK_PATH}` (`http://` only for 127.0.0.1 or localhost): the console's callback, registered with the provider"
                        ),
                    );
                }
                url.clone()
            }
            (None, Some(n)) => format!("{}{OIDC_CALLBACK_PATH}", n.console_url),
            (None, None) => {
                self.push(
                    &path,
                    format!(
                        "no redirect URL: set `redirect_url = \"https://HOST{OIDC_CALLBACK_PATH}\"` here, or `notifications.console_url`"
                    ),
                );
                String::new()
            }
        };
        Some(OidcConfig {
            issuer: o.issuer.clone(),
            client_id: o.client_id.trim().to_owned(),
            client_secret_env: o.client_secret_env.clone(),
            scopes: o.scopes.clone(),
            groups_claim: o.groups_claim.clone(),
            subject,
            redirect_url,
        })
    }

    /// With `subject = "email"` an address must name one responder.
    fn unique_emails(&mut self, raw: &RawConfig) {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (name, responder) in &raw.responders {
            let email = responder.email.to_lowercase();
            if let Some(first) = seen.get(&email) {
                self.push(
                    &root().key("responders").key(name).key("email"),
                    format!(
                        "`{}` is also the email of `{first}`: with `auth.oidc.subject = \"email\"` each responder needs an address of their own",
                        responder.email
                    ),
                );
            } else {
                seen.insert(email, name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::secure_url;

    #[test]
    fn secure_urls_are_https_or_loopback_http() {
        assert!(secure_url("https://login.example.com/oauth2/default"));
        assert!(secure_url("http://127.0.0.1:8080"));
        assert!(secure_url("http://localhost/x"));
        assert!(!secure_url("http://idp.example.com"));
        assert!(!secure_url("http://127.0.0.1.evil.example"));
        assert!(!secure_url("https://"));
        assert!(!secure_url("ftp://idp.example.com"));
    }
}
