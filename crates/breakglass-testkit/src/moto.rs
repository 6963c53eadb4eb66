//! The AWS emulator for tests: `moto_server` from the repository's `.venv` (installed by
//! `scripts/test` from `scripts/requirements.txt`), on a free port of 127.0.0.1, stopped when
//! the handle is dropped.
//!
//! When the venv is missing the caller skips with a printed reason, unless
//! `BREAKGLASS_REQUIRE_EMULATOR=1` (set by `scripts/test` after installing it), in which case
//! a missing or broken emulator fails the test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::workspace_root;

/// A running `moto_server`, stopped on drop.
///
/// The server runs under a small shell watchdog that stops it as soon as the marker file is
/// removed (on drop) or the test process is gone, so a crashed or killed test run never
/// leaves an emulator behind.
#[derive(Debug)]
pub struct Moto {
    watchdog: Child,
    port: u16,
    log: PathBuf,
    marker: PathBuf,
    recording: PathBuf,
}

/// `sh -c WATCHDOG sh PARENT MARKER SERVER ARGS...`
pub(crate) const WATCHDOG: &str = r#"parent=$1; marker=$2; shift 2
"$@" &
server=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null && [ -e "$marker" ]; do
  sleep 0.2
done
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
exit 0"#;

/// Whether the test run demands the emulator (`BREAKGLASS_REQUIRE_EMULATOR=1`).
pub fn emulator_required() -> bool {
    std::env::var("BREAKGLASS_REQUIRE_EMULATOR").is_ok_and(|v| v == "1")
}

/// A tool of the repository's `.venv`, or `None` after printing why the caller skips.
/// Fails instead when the emulator is required.
pub fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = workspace_root().join(".venv").join("bin").join(name);
    if path.is_file() {
        return Some(path);
    }
    unavailable(&format!(
        "`{}` is missing (run scripts/test, which installs scripts/requirements.txt into .venv)",
        path.display()
    ));
    None
}

fn unavailable(reason: &str) {
    if emulator_required() {
        #[expect(
            clippy::panic,
            reason = "BREAKGLASS_REQUIRE_EMULATOR=1 turns a skip into a test failure"
        )]
        {
            panic!("BREAKGLASS_REQUIRE_EMULATOR=1 but {reason}");
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

pub(crate) fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Moto {
    /// Starts the emulator and waits until it accepts connections; `None` (after printing
    /// why) when it cannot run here.
    pub fn start() -> Option<Self> {
        let server = venv_tool("moto_server")?;
        let port = match free_port() {
            Ok(port) => port,
            Err(err) => {
                unavailable(&format!("no free port on 127.0.0.1: {err}"));
                return None;
            }
        };
        let tmp = std::env::temp_dir();
        let log = tmp.join(format!("breakglass-moto-{port}.log"));
        let marker = tmp.join(format!("breakglass-moto-{port}.running"));
        let recording = tmp.join(format!("breakglass-moto-{port}.recording"));
        if let Err(err) = std::fs::write(&marker, b"") {
            unavailable(&format!("cannot write `{}`: {err}", marker.display()));
            return None;
        }
        let stderr = std::fs::File::create(&log).map_or_else(|_| Stdio::null(), Stdio::from);
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(&marker)
            .arg(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // AWS managed policies (ReadOnlyAccess, SecurityAudit, ...) exist in every real
            // account; moto only has them when asked.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn();
        let watchdog = match watchdog {
            Ok(child) => child,
            Err(err) => {
                let _ = std::fs::remove_file(&marker);
                unavailable(&format!("cannot start `{}`: {err}", server.display()));
                return None;
            }
        };
        let moto = Self {
            watchdog,
            port,
            log,
            marker,
            recording,
        };
        if moto.wait_ready(Duration::from_secs(60)) {
            Some(moto)
        } else {
            let output = std::fs::read_to_string(&moto.log).unwrap_or_default();
            unavailable(&format!(
                "moto_server did not answer on port {port} within 60s; its output:\n{output}"
            ));
            None
        }
    }

    fn wait_ready(&self, limit: Duration) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let step = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while waited < limit {
            if TcpStream::connect_timeout(&addr, step).is_ok() {
                return true;
            }
            std::thread::sleep(step);
            waited += step;
        }
        false
    }

    /// The endpoint URL to point the SDK at.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts recording every request the emulator receives (moto's recorder), so a test can
    /// check what was sent when moto itself drops a parameter.
    pub fn start_recording(&self) -> std::io::Result<()> {
        self.http("POST", "/moto-api/recorder/start-recording")
            .map(drop)
    }

    /// The bodies of the requests recorded since [`Self::start_recording`], decoded to text.
    pub fn recorded_bodies(&self) -> std::io::Result<Vec<String>> {
        let text = self.http("GET", "/moto-api/recorder/download-recording")?;
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|entry| {
                let body = entry.get("body")?.as_str()?.to_owned();
                let encoded = entry
                    .get("body_encoded")
                    .and_then(serde_json::Value::as_bool);
                Some(if encoded == Some(true) {
                    String::from_utf8_lossy(&base64_decode(&body)).into_owned()
                } else {
                    body
                })
            })
            .collect())
    }

    /// A bodiless HTTP/1.1 request to the emulator's own API; the response body.
    fn http(&self, method: &str, path: &str) -> std::io::Result<String> {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            return Err(std::io::Error::other(format!(
                "{method} {path}: {}",
                head.lines().next().unwrap_or_default()
            )));
        }
        Ok(body.to_owned())
    }
}

/// Standard base64 (moto's recorder encodes request bodies with it).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter_map(value) {
        buffer = (buffer << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.extend(u8::try_from((buffer >> bits) & 0xff).ok());
        }
    }
    out
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The watchdog sees the marker gone, stops the server and exits.
        let _ = std::fs::remove_file(&self.marker);
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_file(&self.recording);
    }
}
