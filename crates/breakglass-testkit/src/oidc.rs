//! The OpenID provider for tests: the certified `oidc-provider` package for Node.js
//! (`crates/breakglass-testkit/oidc/`, installed by `scripts/test` with `npm ci`), on a free
//! port of 127.0.0.1, stopped when the handle is dropped.
//!
//! It knows one confidential client ([`CLIENT_ID`], [`CLIENT_SECRET`]) allowed the
//! authorization code flow (PKCE required) and the device authorization grant, and signs in
//! any login name typed on its own development sign-in page (the password is not checked):
//! `alice` (`alice@example.com`, groups `responders`), `bob` (`responders`, `ir-leads`),
//! `carol` (`ir-leads`), `erin` (`erin@example.com`, group `marketing` only); any other name
//! `x` signs in as `x@elsewhere.example` in no group.
//!
//! When Node.js or the npm packages are missing the caller skips with a printed reason, unless
//! `BREAKGLASS_REQUIRE_OIDC=1` (set by `scripts/test` after installing them), in which case a
//! missing or broken provider fails the test.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::moto::{WATCHDOG, free_port};

pub mod agent;
use crate::workspace_root;

/// The client id the provider knows the broker by.
pub const CLIENT_ID: &str = "breakglass-test";
/// That client's secret (a test value; the broker reads it from an environment variable).
pub const CLIENT_SECRET: &str = "test-client-secret-7d1f0c2a";

/// A running `oidc-provider`, stopped on drop (through the same watchdog as the emulator, so
/// a killed test run leaves no provider behind).
#[derive(Debug)]
pub struct OidcProvider {
    watchdog: Child,
    port: u16,
    log: PathBuf,
    marker: PathBuf,
}

/// How long the provider may take to answer its first connection.
const READY_LIMIT: Duration = Duration::from_secs(120);

/// How waiting for the provider ended.
enum Ready {
    Serving,
    Exited,
    TimedOut,
}

/// Whether the test run demands the provider (`BREAKGLASS_REQUIRE_OIDC=1`).
pub fn provider_required() -> bool {
    std::env::var("BREAKGLASS_REQUIRE_OIDC").is_ok_and(|v| v == "1")
}

fn unavailable(reason: &str) {
    if provider_required() {
        #[expect(
            clippy::panic,
            reason = "BREAKGLASS_REQUIRE_OIDC=1 turns a skip into a test failure"
        )]
        {
            panic!("BREAKGLASS_REQUIRE_OIDC=1 but {reason}");
        }
    }
    #[expect(
        clippy::print_stderr,
        reason = "a skipped test says why on the test output"
    )]
    {
        eprintln!("skipped: {reason}");
    }
}

/// The folder holding `provider.js` and its `node_modules`.
pub fn provider_dir() -> PathBuf {
    workspace_root()
        .join("crates")
        .join("breakglass-testkit")
        .join("oidc")
}

impl OidcProvider {
    /// Starts the provider with `redirect_uris` registered for the client and waits until it
    /// serves its discovery document; `None` (after printing why) when it cannot run here.
    pub fn start(redirect_uris: &[String]) -> Option<Self> {
        let dir = provider_dir();
        if which_node().is_none() {
            unavailable(
                "`node` (Node.js) is not on PATH: the OpenID provider for the SSO tests needs it",
            );
            return None;
        }
        if !dir.join("node_modules").join("oidc-provider").is_dir() {
            unavailable(&format!(
                "the npm package oidc-provider is not installed in `{}` (run scripts/test, or `npm ci` there)",
                dir.display()
            ));
            return None;
        }
        let port = match free_port() {
            Ok(port) => port,
            Err(err) => {
                unavailable(&format!("no free port on 127.0.0.1: {err}"));
                return None;
            }
        };
        let tmp = std::env::temp_dir();
        let log = tmp.join(format!("breakglass-oidc-{port}.log"));
        let marker = tmp.join(format!("breakglass-oidc-{port}.running"));
        if let Err(err) = std::fs::write(&marker, b"") {
            unavailable(&format!("cannot write `{}`: {err}", marker.display()));
            return None;
        }
        let output = std::fs::File::create(&log).map_or_else(|_| Stdio::null(), Stdio::from);
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(&marker)
            .arg("node")
            .arg(dir.join("provider.js"))
            .current_dir(&dir)
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", redirect_uris.join(" "))
            .stdout(Stdio::null())
            .stderr(output)
            .spawn();
        let watchdog = match watchdog {
            Ok(child) => child,
            Err(err) => {
                let _ = std::fs::remove_file(&marker);
                unavailable(&format!("cannot start `sh` for the provider: {err}"));
                return None;
            }
        };
        let mut provider = Self {
            watchdog,
            port,
            log,
            marker,
        };
        // Node loads the package and makes its signing key in about a second on an idle
        // machine, but a loaded CI machine running Chromium and the emulator beside it has
        // been seen to take longer than 30 s: wait longer, and stop waiting as soon as the
        // provider has exited.
        match provider.wait_ready(READY_LIMIT) {
            Ready::Serving => Some(provider),
            Ready::Exited => {
                let output = provider.log();
                unavailable(&format!(
                    "oidc-provider exited before it answered on port {port}; its output:\n{output}"
                ));
                None
            }
            Ready::TimedOut => {
                let output = provider.log();
                unavailable(&format!(
                    "oidc-provider did not answer on port {port} within {}s; its output:\n{output}",
                    READY_LIMIT.as_secs()
                ));
                None
            }
        }
    }

    fn wait_ready(&mut self, limit: Duration) -> Ready {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let step = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while waited < limit {
            if TcpStream::connect_timeout(&addr, step).is_ok() {
                return Ready::Serving;
            }
            // The watchdog ends when the provider does.
            if matches!(self.watchdog.try_wait(), Ok(Some(_))) {
                return Ready::Exited;
            }
            std::thread::sleep(step);
            waited += step;
        }
        Ready::TimedOut
    }

    /// The issuer URL (`http://127.0.0.1:PORT`), as the ID tokens' `iss` claim says it.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the provider wrote to its standard error so far (its warnings and failures).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn which_node() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.marker);
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// An RSA private key (PKCS#1 PEM) made for the ID-token tests alone: tokens signed with it
/// are served through a JWKS the test controls. Never used anywhere else.
pub const TEST_SIGNING_KEY_PEM: &str = include_str!("../fixtures/oidc-test-key.pem");
/// A second test key, for a token signed by someone other than the provider.
pub const OTHER_SIGNING_KEY_PEM: &str = include_str!("../fixtures/oidc-other-key.pem");
