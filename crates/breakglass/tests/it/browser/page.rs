//! One person's browser on the console: navigation, forms, page scripts, the browser's log,
//! and the checks every page gets (labels, headings, a 375 px phone viewport, nothing logged
//! as an error by the page) before its screenshots are taken.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::driver::Shots;

/// The desktop window every page is first looked at in.
pub(super) const DESKTOP: (u32, u32) = (1280, 900);
/// The phone every page must also be usable on.
pub const PHONE: (u32, u32) = (375, 812);
/// How long a page may take to load or to change after an action.
pub(super) const PATIENCE: Duration = Duration::from_secs(20);

const A11Y_JS: &str = include_str!("a11y.js");
const PHONE_JS: &str = include_str!("phone.js");

/// A WebDriver command chromedriver has beyond the standard: `body` POSTed to
/// `/session/{id}/{path}`.
#[derive(Debug)]
struct Extension {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Extension {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (hyper::Method, Option<String>) {
        (hyper::Method::POST, Some(self.body.to_string()))
    }
}

/// A `GET /session/{id}/{path}` WebDriver command.
#[derive(Debug)]
struct Get {
    path: String,
}

impl WebDriverCompatibleCommand for Get {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (hyper::Method, Option<String>) {
        (hyper::Method::GET, None)
    }
}

/// One person's browser.
pub struct Browser<'s> {
    pub(super) client: Client,
    pub(super) who: String,
    pub(super) shots: &'s Shots,
}

impl Browser<'_> {
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot open {url}: {e}", self.who));
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.who))
    }

    /// Runs `script` whose last argument is a callback to call with the result.
    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: async script failed: {e}\n{script}", self.who))
    }

    /// Whether an element matches `css` now.
    pub async fn has(&self, css: &str) -> bool {
        self.js(
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// The text content of the element `css`, trimmed; fails naming the page when absent.
    pub async fn text(&self, css: &str) -> String {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
                vec![json!(css)],
            )
            .await;
        match v.as_str() {
            Some(t) => t.to_owned(),
            None => panic!(
                "{}: no element `{css}` on {}:\n{}",
                self.who,
                self.url().await,
                self.body_text().await
            ),
        }
    }

    /// The page's visible text, for failure messages.
    pub async fn body_text(&self) -> String {
        self.js(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Types `value` into the field `css` (clearing it first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot type into `{css}`: {e}", self.who));
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!(
                "{}: no element `{css}` on {} ({e}); the page says:\n{}",
                self.who,
                self.url().await,
                self.body_text().await
            ),
        }
    }

    /// Picks the option of the select `css` whose value is `wanted`, or else whose text
    /// contains it; fails listing the options there are.
    pub async fn choose(&self, css: &str, wanted: &str) {
        let options = self
            .js(
                "const s = document.querySelector(arguments[0]);
                 return s ? [...s.options].map(o => [o.value, o.textContent.trim()]) : null;",
                vec![json!(css)],
            )
            .await;
        let Some(options) = options.as_array() else {
            panic!("{}: no select `{css}` on {}", self.who, self.url().await);
        };
        let pairs: Vec<(String, String)> = options
            .iter()
            .map(|o| {
                (
                    o[0].as_str().unwrap_or_default().to_owned(),
                    o[1].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let value = pairs
            .iter()
            .find(|(v, _)| v == wanted)
            .or_else(|| pairs.iter().find(|(_, t)| t.contains(wanted)))
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| panic!("{}: `{css}` has no option `{wanted}`: {pairs:?}", self.who));
        self.find(css)
            .await
            .select_by_value(&value)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot choose `{value}` in `{css}`: {e}", self.who));
    }

    /// Clicks `css` (no page load expected).
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot click `{css}`: {e}", self.who));
    }

    /// The cookie `name` as the browser stored it: `(HttpOnly, Secure, SameSite, Path)`.
    pub async fn cookie(&self, name: &str) -> (bool, bool, String, String) {
        let c = self
            .client
            .get_named_cookie(name)
            .await
            .unwrap_or_else(|e| panic!("{}: no cookie `{name}`: {e}", self.who));
        (
            c.http_only() == Some(true),
            c.secure() == Some(true),
            c.same_site().map(|s| s.to_string()).unwrap_or_default(),
            c.path().unwrap_or_default().to_owned(),
        )
    }

    /// Carries the cookie `name` of `from` (same origin) over to this browser, which must be
    /// showing a page of that origin: the same signed-in session in another browser.
    pub async fn take_cookie(&self, from: &Browser<'_>, name: &str) {
        let cookie = from
            .client
            .get_named_cookie(name)
            .await
            .unwrap_or_else(|e| panic!("{}: no cookie `{name}`: {e}", from.who));
        self.client
            .add_cookie(cookie)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot set cookie `{name}`: {e}", self.who));
    }

    /// Follows the link whose text is `text` and waits for the new page.
    pub async fn follow_link(&self, text: &str) {
        let found = self
            .js(
                "const a = [...document.querySelectorAll('a')].find(a => a.textContent.trim() === arguments[0]);
                 if (a) a.setAttribute('data-test-target', 'link');
                 return !!a;",
                vec![json!(text)],
            )
            .await;
        assert_eq!(
            found,
            json!(true),
            "{}: no link `{text}` on {}",
            self.who,
            self.url().await
        );
        self.click_and_wait("a[data-test-target=link]").await;
    }

    /// Clicks `css` and waits until a new document has loaded (a form post and its redirect).
    /// The console reloads a request page when a live update says the request changed, which
    /// can happen between finding the element and clicking it: a click on an element that
    /// went stale (or not yet back) is tried again, twice, on the reloaded page.
    pub async fn click_and_wait(&self, css: &str) {
        const ATTEMPTS: u32 = 3;
        for attempt in 1..=ATTEMPTS {
            self.js("window.__bgOldPage = true;", vec![]).await;
            let clicked = match self.client.find(Locator::Css(css)).await {
                Ok(target) => target.click().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match clicked {
                Ok(()) => {
                    self.wait_for_new_page(&format!("clicking `{css}`")).await;
                    return;
                }
                Err(e)
                    if attempt < ATTEMPTS
                        && (e.contains("stale element") || e.contains("no such element")) =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!(
                    "{}: cannot click `{css}` on {} ({e}); the page says:\n{}",
                    self.who,
                    self.url().await,
                    self.body_text().await
                ),
            }
        }
    }

    /// Waits until the document marked by [`Self::click_and_wait`] (or a caller setting
    /// `window.__bgOldPage`) has been replaced and the new one has loaded.
    pub async fn wait_for_new_page(&self, after: &str) {
        let started = Instant::now();
        loop {
            let state = self
                .client
                .execute(
                    "return window.__bgOldPage ? 'old' : document.readyState;",
                    vec![],
                )
                .await;
            if matches!(
                state.as_ref().ok().and_then(Value::as_str),
                Some("complete")
            ) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{}: no new page loaded within {PATIENCE:?} after {after} (still on {})",
                self.who,
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The HTTP status of the document shown (Navigation Timing's `responseStatus`).
    pub async fn status(&self) -> u64 {
        self.js(
            "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0;",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// Grants the page a permission (chromedriver's extension command), e.g.
    /// `clipboard-read`.
    pub async fn grant(&self, permission: &str) -> Result<(), String> {
        self.client
            .issue_cmd(Extension {
                path: "permissions",
                body: json!({"descriptor": {"name": permission}, "state": "granted"}),
            })
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Adds a virtual FIDO2 authenticator to this browser (the WebDriver "Add Virtual
    /// Authenticator" command of the WebAuthn specification): a platform authenticator with
    /// resident keys and user verification, which answers every ceremony at once as if the
    /// person had touched it. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(Extension {
                path: "webauthn/authenticator",
                body: json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserConsenting": true,
                    "isUserVerified": true,
                }),
            })
            .await
            .unwrap_or_else(|e| panic!("{}: adding a virtual authenticator: {e}", self.who));
        answer
            .as_str()
            .map_or_else(|| answer.to_string(), str::to_owned)
    }

    /// The credentials the virtual authenticator `id` holds (the WebDriver "Get
    /// Credentials" command).
    pub async fn authenticator_credentials(&self, id: &str) -> Value {
        self.client
            .issue_cmd(Get {
                path: format!("webauthn/authenticator/{id}/credentials"),
            })
            .await
            .unwrap_or_else(|e| panic!("{}: reading the authenticator: {e}", self.who))
    }

    /// What the page logged since the last call: `(level, message)`.
    pub async fn drain_log(&self) -> Vec<(String, String)> {
        let log = self
            .client
            .issue_cmd(Extension {
                path: "se/log",
                body: json!({"type": "browser"}),
            })
            .await
            .unwrap_or_else(|e| panic!("{}: cannot read the browser log: {e}", self.who));
        log.as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or_default().to_owned(),
                    e["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Fails when the page logged an error (a script error, a CSP violation, a resource that
    /// did not load). `refused_status` allows the one failed load of a page the test expects
    /// to be refused (say 403).
    pub async fn assert_clean_log(&self, page: &str, refused_status: Option<u16>) {
        let errors: Vec<String> = self
            .drain_log()
            .await
            .into_iter()
            .filter(|(level, _)| level == "SEVERE")
            .map(|(_, m)| m)
            .filter(|m| {
                !refused_status.is_some_and(|s| {
                    m.contains(&format!("the server responded with a status of {s}"))
                })
            })
            .collect();
        assert!(
            errors.is_empty(),
            "{}: page `{page}` ({}) logged errors:\n{}",
            self.who,
            self.url().await,
            errors.join("\n")
        );
    }

    pub async fn resize(&self, (w, h): (u32, u32)) {
        self.client.set_window_size(w, h).await.unwrap();
        // Chromium applies a new size asynchronously: on a loaded machine the next script
        // can still see the old viewport. Wait (up to 5 s) until the width has arrived.
        for _ in 0..50 {
            let inner = self
                .js("return window.innerWidth;", vec![])
                .await
                .as_u64()
                .unwrap_or(0);
            if inner <= u64::from(w) && inner + 40 >= u64::from(w) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot of the whole page as `NN-name.png` (the window is made as tall as
    /// the page for it, up to 4,000 px, then given its size back).
    pub async fn shot(&self, name: &str) -> PathBuf {
        let (w, h) = self.client.get_window_size().await.unwrap();
        let tall = self
            .js(
                "return Math.max(document.documentElement.scrollHeight, window.innerHeight)
                     + (window.outerHeight - window.innerHeight);",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(h)
            .clamp(h, 4000);
        let (w, h) = (u32::try_from(w).unwrap(), u32::try_from(h).unwrap());
        self.resize((w, u32::try_from(tall).unwrap())).await;
        let png = self.client.screenshot().await;
        self.resize((w, h)).await;
        let png =
            png.unwrap_or_else(|e| panic!("{}: screenshot of `{name}` failed: {e}", self.who));
        self.shots.save(name, &png)
    }

    /// The checks every page gets, then its screenshots (desktop, and `-phone` at 375 px):
    /// labelled controls, one `<h1>`, a `<main>`, nothing logged as an error, and at the
    /// phone's width no horizontal scroll and every element matching each of `actions`
    /// rendered inside the screen (not cut off by a table that scrolls sideways).
    pub async fn page(&self, name: &str, actions: &[&str]) {
        self.page_allowing(name, actions, None).await;
    }

    /// [`Self::page`] for a page the test expects to be a refusal with HTTP `status`.
    pub async fn page_allowing(&self, name: &str, actions: &[&str], status: Option<u16>) {
        let url = self.url().await;
        let problems = self.js(A11Y_JS, vec![]).await;
        assert_no_problems(&self.who, name, &url, "accessibility", &problems);
        self.assert_clean_log(name, status).await;
        self.shot(name).await;

        self.resize(PHONE).await;
        let phone = self.js(PHONE_JS, vec![json!(actions)]).await;
        self.shot(&format!("{name}-phone")).await;
        self.resize(DESKTOP).await;
        assert_no_problems(
            &self.who,
            name,
            &url,
            &format!("a {}x{} screen", PHONE.0, PHONE.1),
            &phone["problems"],
        );
    }

    /// Ends the WebDriver session (closing the browser).
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Fails when the checker script `what` returned problems for `page`.
pub fn assert_no_problems(who: &str, page: &str, url: &str, what: &str, problems: &Value) {
    if let Some(failure) = problems_failure(who, page, url, what, problems) {
        panic!("{failure}");
    }
}

/// The failure message for the problems a checker script returned, naming the page.
pub fn problems_failure(
    who: &str,
    page: &str,
    url: &str,
    what: &str,
    problems: &Value,
) -> Option<String> {
    let list: Vec<&str> = problems
        .as_array()
        .unwrap_or_else(|| panic!("the {what} check returned {problems}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (!list.is_empty()).then(|| {
        format!(
            "{who}: page `{page}` ({url}) fails the {what} check:\n  - {}",
            list.join("\n  - ")
        )
    })
}
