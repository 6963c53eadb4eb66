//! Headless Chromium for the console tests: chromedriver on a port it picks (stopped with
//! the browsers it started when dropped, or when the test process dies), one WebDriver
//! session per person, and screenshots numbered in visiting order.
//!
//! Chromium missing means skip (with a printed reason), unless `BREAKGLASS_REQUIRE_BROWSER=1`
//! (set by `scripts/test` once it installed Debian's `chromium` and `chromium-driver`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use super::page::{Browser, DESKTOP, PATIENCE};

/// Whether the run demands the browser (`BREAKGLASS_REQUIRE_BROWSER=1`).
pub fn browser_required() -> bool {
    std::env::var("BREAKGLASS_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// Says why the browser test cannot run: a skip, or a failure when the browser is required.
pub fn unavailable(reason: &str) {
    assert!(
        !browser_required(),
        "BREAKGLASS_REQUIRE_BROWSER=1 but {reason}"
    );
    #[expect(
        clippy::print_stderr,
        reason = "a skipped test says why on the test output"
    )]
    {
        eprintln!("skipped: {reason}");
    }
}

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// `sh -c WATCHDOG sh PARENT CHROMEDRIVER ARGS...`: chromedriver in a process group of its
/// own (led by this shell), killed with every browser it started as soon as the test process
/// is gone, so a killed test run leaves no Chromium behind.
const WATCHDOG: &str = r#"parent=$1; shift
"$@" &
driver=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$driver" 2>/dev/null; do
  sleep 0.5
done
kill -KILL -$$"#;

/// A running chromedriver (under [`WATCHDOG`]); dropping it stops the browsers it started
/// too, even when a failed test never closed its sessions.
pub struct Chromedriver {
    child: Child,
    url: String,
    chromium: PathBuf,
    log: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver on a free port; `None` (after printing why) when Chromium or its
    /// driver is not installed.
    pub fn start() -> Option<Self> {
        let Some(chromium) = on_path(&["chromium", "chromium-browser", "google-chrome"]) else {
            unavailable("no `chromium` on PATH (scripts/test installs Debian's chromium)");
            return None;
        };
        let Some(driver) = on_path(&["chromedriver"]) else {
            unavailable(
                "no `chromedriver` on PATH (scripts/test installs Debian's chromium-driver)",
            );
            return None;
        };
        // chromedriver picks a free port itself (`--port=0`) and prints it: no window in
        // which another test or process could take a port chosen for it.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let log = std::env::temp_dir().join(format!(
            "breakglass-chromedriver-{}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(&driver)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                unavailable(&format!("cannot start `{}`: {e}", driver.display()));
                return None;
            }
        };
        // Read its stdout to the end on a thread of its own (so it never blocks on a full
        // pipe), passing on the port from "… started successfully on port N.".
        let stdout = child.stdout.take().unwrap();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(port) = line
                    .split_once("started successfully on port ")
                    .and_then(|(_, rest)| rest.trim_end_matches('.').parse::<u16>().ok())
                {
                    let _ = port_tx.send(port);
                }
            }
        });
        let mut driver = Self {
            child,
            url: String::new(),
            chromium,
            log,
        };
        match port_rx.recv_timeout(PATIENCE) {
            Ok(port) => {
                driver.url = format!("http://127.0.0.1:{port}/");
                Some(driver)
            }
            Err(_) => {
                unavailable(&format!(
                    "chromedriver did not say which port it listens on within {PATIENCE:?}; its log:\n{}",
                    driver.log_text()
                ));
                None
            }
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A new browser (a new profile: its own cookies) for `who`; `None` (after printing why)
    /// when Chromium does not start.
    pub async fn browser<'s>(&self, who: &str, shots: &'s Shots) -> Option<Browser<'s>> {
        self.open(who, shots, true).await
    }

    /// A new browser whose pages run no JavaScript of their own (the test's WebDriver
    /// scripts still run), for the console's plain-form fallbacks.
    pub async fn browser_without_js<'s>(&self, who: &str, shots: &'s Shots) -> Option<Browser<'s>> {
        self.open(who, shots, false).await
    }

    async fn open<'s>(&self, who: &str, shots: &'s Shots, js: bool) -> Option<Browser<'s>> {
        let mut caps = serde_json::Map::new();
        let mut options = json!({
            "binary": self.chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            ],
        });
        if !js {
            options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        caps.insert("goog:chromeOptions".into(), options);
        // Every message the page logs, so a script error or a CSP violation fails the test.
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await;
        match client {
            Ok(client) => Some(Browser {
                client,
                who: who.to_owned(),
                shots,
            }),
            Err(e) => {
                unavailable(&format!(
                    "chromium did not start through chromedriver: {e}; chromedriver log:\n{}",
                    self.log_text()
                ));
                None
            }
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: the watchdog, chromedriver and every Chromium it launched (their
        // crash reporters leave by themselves once Chromium is gone).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Where screenshots go (`<target>/test-output/screenshots`), numbered in visiting order.
pub struct Shots {
    dir: PathBuf,
    next: AtomicUsize,
    written: std::sync::Mutex<Vec<PathBuf>>,
}

/// The cargo target directory the test binary was built into (the one holding cargo's
/// `CACHEDIR.TAG`), or `<workspace>/target`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|d| d.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| breakglass_testkit::workspace_root().join("target"))
}

impl Shots {
    /// The screenshot directory `test-output/<name>` under the target directory, emptied of
    /// an earlier run's pictures.
    pub fn new(name: &str) -> Self {
        let dir = target_dir().join("test-output").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "png") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        Self {
            dir,
            next: AtomicUsize::new(1),
            written: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub(super) fn save(&self, name: &str, png: &[u8]) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let path = self.dir.join(format!("{n:02}-{name}.png"));
        std::fs::write(&path, png).unwrap();
        #[expect(
            clippy::print_stdout,
            reason = "the test output lists the screenshots written"
        )]
        {
            println!("screenshot: {}", path.display());
        }
        self.written.lock().unwrap().push(path.clone());
        path
    }

    /// Every screenshot written, in order.
    pub fn written(&self) -> Vec<PathBuf> {
        self.written.lock().unwrap().clone()
    }
}
