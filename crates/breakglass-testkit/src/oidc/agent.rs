//! A browser without JavaScript for the SSO tests: keeps cookies, follows no redirect by
//! itself, and goes through the test provider's pages as a person would (typing a login
//! name on its sign-in page, agreeing on its consent and device pages).
//!
//! One cookie jar serves the broker and the provider alike: both listen on 127.0.0.1, and
//! cookies ignore the port, as in a browser.

use std::collections::BTreeMap;

/// A cookie-keeping HTTP client that follows nothing.
#[derive(Debug)]
pub struct Agent {
    client: reqwest::Client,
    /// The cookies held, by name.
    pub cookies: BTreeMap<String, String>,
}

/// One answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: reqwest::StatusCode,
    /// The `Location` header, made absolute.
    pub location: Option<String>,
    /// The `Set-Cookie` headers as sent.
    pub set_cookies: Vec<String>,
    /// The body.
    pub body: String,
}

impl Default for Agent {
    fn default() -> Self {
        Self::new()
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Agent {
    /// An agent with no cookies.
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let jar = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header("cookie", jar)
            .send()
            .await
            .map_err(|e| fail("request", e))?;
        let status = response.status();
        let url = response.url().clone();
        let location = match response.headers().get("location") {
            Some(l) => Some(
                url.join(l.to_str().map_err(|e| fail("location", e))?)
                    .map_err(|e| fail("location", e))?
                    .to_string(),
            ),
            None => None,
        };
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let gone = value.is_empty()
                || c.contains("Max-Age=0")
                || c.contains("expires=Thu, 01 Jan 1970");
            if gone {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.map_err(|e| fail("body", e))?;
        Ok(Answer {
            status,
            location,
            set_cookies,
            body,
        })
    }

    /// `GET url`.
    pub async fn get(&mut self, url: &str) -> Result<Answer, String> {
        let request = self.client.get(url);
        self.send(request).await
    }

    /// `POST url` with `fields` as a form.
    pub async fn post_form(
        &mut self,
        url: &str,
        fields: &[(String, String)],
    ) -> Result<Answer, String> {
        let request = self.client.post(url).form(fields);
        self.send(request).await
    }

    /// `POST url` with a JSON body.
    pub async fn post_json(
        &mut self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<Answer, String> {
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    /// Goes through the provider's pages from `url` as `login` would, until the provider
    /// sends the browser to a URL starting with `stop_at` (returned) or shows a page with no
    /// form (its body is returned).
    pub async fn through_the_provider(
        &mut self,
        url: &str,
        login: &str,
        stop_at: &str,
    ) -> Result<String, String> {
        let mut next = self.get(url).await?;
        let mut at = reqwest::Url::parse(url).map_err(|e| fail("url", e))?;
        for _ in 0..20 {
            if let Some(location) = next.location.clone() {
                if location.starts_with(stop_at) {
                    return Ok(location);
                }
                at = reqwest::Url::parse(&location).map_err(|e| fail("location", e))?;
                next = self.get(&location).await?;
                continue;
            }
            if !next.status.is_success() {
                return Err(format!("{} at {at}: {}", next.status, next.body));
            }
            let Some((action, mut fields)) = form(&next.body) else {
                return Ok(next.body);
            };
            for (name, value) in &mut fields {
                match name.as_str() {
                    "login" => login.clone_into(value),
                    "password" => "any password".clone_into(value),
                    _ => {}
                }
            }
            let action = at.join(&action).map_err(|e| fail("form action", e))?;
            next = self.post_form(action.as_str(), &fields).await?;
        }
        Err("the provider's pages did not end after 20 steps".to_owned())
    }
}

/// The first form of `html` that names an action: the action and its inputs' names and
/// values.
pub fn form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let form = regex::Regex::new(r#"(?s)<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>"#).ok()?;
    let input = regex::Regex::new(r"<input([^>]*)>").ok()?;
    let name = regex::Regex::new(r#"\bname="([^"]*)""#).ok()?;
    let value = regex::Regex::new(r#"\bvalue="([^"]*)""#).ok()?;
    let caps = form.captures(html)?;
    let fields = input
        .captures_iter(caps.get(2)?.as_str())
        .filter_map(|i| {
            let attrs = i.get(1)?.as_str();
            let n = name.captures(attrs)?.get(1)?.as_str().to_owned();
            let v = value
                .captures(attrs)
                .and_then(|v| v.get(1))
                .map_or_else(String::new, |v| v.as_str().to_owned());
            Some((n, v))
        })
        .collect();
    Some((caps.get(1)?.as_str().replace("&amp;", "&"), fields))
}

/// Approves a device sign-in as `login` on the provider's page `verification_uri_complete`
/// (for tests without an async runtime, such as the CLI's). Fails unless the provider ends
/// on its success page.
pub fn approve_device(verification_uri_complete: &str, login: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail("runtime", e))?;
    runtime.block_on(async {
        let end = Agent::new()
            .through_the_provider(verification_uri_complete, login, "http://never.example")
            .await?;
        if end.contains("Sign-in Success") {
            Ok(())
        } else {
            Err(format!(
                "the provider did not confirm the device sign-in: {end}"
            ))
        }
    })
}
