//! The broker as the end-to-end tests run it, written once: moto, the example config applied
//! to it, local users added with the real `breakglass user add`, a real `breakglass serve`,
//! the client commands, and TOTP codes as an authenticator app computes them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use breakglass_server::auth::totp;
use breakglass_testkit::moto::{Moto, venv_tool};
use breakglass_testkit::workspace_root;

pub const BIN: &str = env!("CARGO_BIN_EXE_breakglass");
pub const KEY: &str = "4f1c2a7e9b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
/// The S3 bucket (Object Lock on) the emulator brokers anchor their audit chain in.
pub const ANCHOR_BUCKET: &str = "breakglass-audit-anchors";
pub const PASSWORD: &str = "correct horse battery staple";
/// moto's default account: the broker's own credentials live there, and so must the roles
/// whose IAM policies it writes.
pub const ACCOUNT: &str = "123456789012";

/// A child process killed and reaped on drop.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn aws_env(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// Runs the binary with `args`, reads the first line of its standard output and then closes
/// it, as `breakglass ... | head -1` does; returns that line and how the command ended.
pub fn first_line_then_close(args: &[&std::ffi::OsStr]) -> (String, Output) {
    use std::io::BufRead as _;
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone: its end of the pipe closed when dropped above.
    (first, child.wait_with_output().unwrap())
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A client command run as the user whose API session is in `session`.
pub fn client(session: &Path, args: &[&str]) -> Output {
    run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", session)
        .args(args))
}

/// The trimmed stdout of a command that must succeed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

/// A command refused with exit code 2 and the error `code`.
pub fn refused(out: &Output, code: &str) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(code),
        "want `{code}` in: {}",
        text(&out.stderr)
    );
}

fn unix_now() -> i64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "an authenticator app reads the wall clock"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(now).unwrap()
}

/// An authenticator for one user that never hands out a code the broker already took.
///
/// The broker accepts each time step once per user, and only steps later than the last one
/// it took, within one step of drift either way. A person waits for the next code; a test
/// takes the current step, else the next one, so a user can sign in and then step up without
/// waiting 30 s, and waits only when both are spent. (Never the previous step: a code typed
/// just before a step boundary would be two steps old when the broker checks it.)
pub struct Authenticator {
    seed: Vec<u8>,
    last: Option<i64>,
}

impl Authenticator {
    pub fn new(base32_seed: &str) -> Self {
        Self {
            seed: totp::base32_decode(base32_seed).unwrap(),
            last: None,
        }
    }

    /// The authenticator of `user`, which knows the step their enrolment's confirmation
    /// took.
    pub fn of(user: &User) -> Self {
        Self {
            seed: totp::base32_decode(&user.seed).unwrap(),
            last: Some(user.enrolled_step),
        }
    }

    /// The last step handed out.
    pub fn last(&self) -> Option<i64> {
        self.last
    }

    fn earliest_unused(&self) -> (i64, i64) {
        let now = totp::step_of(unix_now());
        let earliest = now.max(self.last.map_or(i64::MIN, |l| l + 1));
        (earliest, now)
    }

    /// A code the broker will accept once (taking it: the next call gives a later one).
    pub fn code(&mut self) -> String {
        loop {
            let (step, now) = self.earliest_unused();
            if step <= now + totp::DRIFT_STEPS {
                self.last = Some(step);
                return totp::code_at(&self.seed, step, totp::DIGITS);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A code the broker would accept now, without taking it: what an attacker who saw
    /// the screen could type, for tests that a valid code alone is not enough.
    pub fn peek(&self) -> String {
        let (step, now) = self.earliest_unused();
        totp::code_at(&self.seed, step.min(now + totp::DRIFT_STEPS), totp::DIGITS)
    }

    /// A well-formed code that is not the right one for any accepted step.
    pub fn wrong(&self) -> String {
        let now = totp::step_of(unix_now());
        let valid: Vec<String> = (now - 2..=now + 2)
            .map(|s| totp::code_at(&self.seed, s, totp::DIGITS))
            .collect();
        (0..1000)
            .map(|n| format!("{:06}", n * 1001 % 1_000_000))
            .find(|c| !valid.contains(c))
            .unwrap()
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A user of the running broker: their CLI session file and their authenticator's seed.
/// Adds local user `name` (with [`PASSWORD`]) to `store` on the command line.
pub fn add_user(store: &str, name: &str, admin: bool) {
    let mut args = vec!["user", "add", name, "--store", store];
    if admin {
        args.push("--admin");
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .env("BREAKGLASS_TOTP_KEY", KEY)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success(), "user add {name}");
}

/// The webhook signing key `serve` gets from its environment.
pub const WEBHOOK_SECRET: &str = "e2e-webhook-signing-key";

/// Starts `breakglass serve --listen 127.0.0.1:PORT ARGS...` and waits until it answers.
pub fn serve(port: u16, args: &[&str]) -> Server {
    serve_logged(port, args, &[], None)
}

/// [`serve`] with `env` added to its environment (e.g. `RUST_LOG`) and its log (stderr)
/// written to `log` (discarded when `None`).
pub fn serve_logged(port: u16, args: &[&str], env: &[(&str, &str)], log: Option<&Path>) -> Server {
    let listen = format!("127.0.0.1:{port}");
    let stderr = log.map_or_else(Stdio::null, |path| {
        Stdio::from(std::fs::File::create(path).unwrap())
    });
    let server = Server(
        aws_env(&mut Command::new(BIN))
            .args(["serve", "--listen", &listen])
            .args(args)
            .env("BREAKGLASS_TOTP_KEY", KEY)
            // The example's [notifications] sign webhooks with a key from the environment.
            .env("BREAKGLASS_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed().as_secs() < 30,
            "breakglass serve did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// Signs `user` in to the broker at `url` on the command line, keeping the session in
/// `session`.
pub fn login(session: &Path, url: &str, user: &str) {
    ok(&run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", session)
        .env("BREAKGLASS_PASSWORD", PASSWORD)
        .args(["login", "--url", url, "--username", user])));
}

pub struct User {
    pub name: String,
    pub session: PathBuf,
    pub seed: String,
    /// The TOTP step the enrolment's confirmation spent.
    pub enrolled_step: i64,
}

/// Asks for `investigate` (SecurityAnalyst in [`ACCOUNT`], 90 minutes) as `user` on the
/// command line, for `incident`; the request id.
pub fn ask_investigate(user: &User, incident: &str) -> String {
    ok(&client(
        &user.session,
        &[
            "request",
            "-p",
            "investigate",
            "-r",
            "SecurityAnalyst",
            "-a",
            ACCOUNT,
            "-i",
            incident,
            "-j",
            "Impossible-travel logins on the payments deploy user",
            "-d",
            "90m",
        ],
    ))
}

/// Signs `user` in to the broker at `url` with a code from `totp` as well (once enrolled,
/// a password alone is refused).
pub fn login_with_code(session: &Path, url: &str, user: &str, totp: &mut Authenticator) {
    ok(&run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", session)
        .env("BREAKGLASS_PASSWORD", PASSWORD)
        .args([
            "login",
            "--url",
            url,
            "--username",
            user,
            "--totp",
            &totp.code(),
        ])));
}

/// Signs `user` in on the command line and enrols a TOTP authenticator as a person does:
/// `login` (password only), `totp enroll` (the password again), `totp confirm CODE`.
/// Returns the seed and the authenticator, which knows the step the confirmation took.
pub fn enrol(session: &Path, url: &str, user: &str) -> (String, Authenticator) {
    login(session, url, user);
    let answer: serde_json::Value = serde_json::from_str(&ok(&run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", session)
        .env("BREAKGLASS_PASSWORD", PASSWORD)
        .args(["totp", "enroll"]))))
    .unwrap();
    let seed = answer["secret"].as_str().unwrap().to_owned();
    let mut totp = Authenticator::new(&seed);
    ok(&client(session, &["totp", "confirm", &totp.code()]));
    (seed, totp)
}

/// The broker running against moto with the example config: `url` serves the API (and the
/// console), users are signed in on the command line and have TOTP enrolled.
pub struct Broker {
    pub url: String,
    pub endpoint: String,
    pub aws: PathBuf,
    pub dir: tempfile::TempDir,
    pub users: Vec<User>,
    /// The config file `serve` runs with.
    pub config: String,
    /// The store URL.
    pub store: String,
    /// Where `serve`'s log (its stderr) goes.
    pub log: PathBuf,
    _server: Server,
    _moto: Moto,
}

/// Who to create: name and whether they are an administrator.
pub type UserSpec<'a> = (&'a str, bool);

impl Broker {
    /// Starts moto, applies the example config (plus `extra_config`, appended), adds `users`
    /// to the store, starts `breakglass serve`, signs each user in on the command line and
    /// enrols their TOTP. `None` (after printing why) when the emulator is not installed.
    pub fn start(extra_config: &str, users: &[UserSpec<'_>]) -> Option<Self> {
        Self::start_with_env(extra_config, users, &[])
    }

    /// [`Broker::start`] with `env` added to the environment of `serve` (e.g. `RUST_LOG`).
    pub fn start_with_env(
        extra_config: &str,
        users: &[UserSpec<'_>],
        env: &[(&str, &str)],
    ) -> Option<Self> {
        Self::start_at(free_port(), extra_config, users, env)
    }

    /// [`Broker::start_with_env`] listening on `port` (for a test that must name the broker's
    /// URL before it starts, such as an identity provider's redirect URI).
    pub fn start_at(
        port: u16,
        extra_config: &str,
        users: &[UserSpec<'_>],
        env: &[(&str, &str)],
    ) -> Option<Self> {
        Self::start_edited(port, &|text| text, extra_config, users, env)
    }

    /// [`Broker::start_at`] with the example config's text passed through `edit` first (to
    /// change a line inside one of its sections).
    pub fn start_edited(
        port: u16,
        edit: &dyn Fn(String) -> String,
        extra_config: &str,
        users: &[UserSpec<'_>],
        env: &[(&str, &str)],
    ) -> Option<Self> {
        let moto = Moto::start()?;
        let aws = venv_tool("aws")?;
        let dir = tempfile::tempdir().unwrap();
        let endpoint = moto.endpoint();
        let url = format!("http://127.0.0.1:{port}");

        // The example config, with the production account in moto's default account and
        // the console links pointing at this server.
        let example =
            std::fs::read_to_string(workspace_root().join("examples/breakglass.toml")).unwrap();
        let config = dir.path().join("breakglass.toml");
        let text = edit(
            example
                .replace("222222222222", ACCOUNT)
                .replace("http://127.0.0.1:8080", &url),
        );
        std::fs::write(&config, format!("{text}\n{extra_config}")).unwrap();
        let config = config.to_str().unwrap().to_owned();

        ok(&run(aws_env(&mut Command::new(&aws)).args([
            "--endpoint-url",
            &endpoint,
            "logs",
            "create-log-group",
            "--log-group-name",
            "aws-cloudtrail-logs",
        ])));
        // The bucket the broker anchors its audit chain in, Object Lock on.
        ok(&run(aws_env(&mut Command::new(&aws)).args([
            "--endpoint-url",
            &endpoint,
            "s3api",
            "create-bucket",
            "--bucket",
            ANCHOR_BUCKET,
            "--object-lock-enabled-for-bucket",
        ])));
        ok(&run(aws_env(&mut Command::new(BIN)).args([
            "apply",
            "-c",
            &config,
            "--account",
            "production",
            "--endpoint-url",
            &endpoint,
        ])));

        let store = format!("sqlite://{}", dir.path().join("bg.db").display());
        for (user, admin) in users {
            add_user(&store, user, *admin);
        }

        let log = dir.path().join("serve.log");
        let server = serve_logged(
            port,
            &[
                "-c",
                &config,
                "--store",
                &store,
                "--endpoint-url",
                &endpoint,
                "--anchor-bucket",
                ANCHOR_BUCKET,
                "--anchor-interval",
                "1s",
            ],
            env,
            Some(&log),
        );

        let mut enrolled = Vec::new();
        for (user, _) in users {
            let session = dir.path().join(format!("{user}.json"));
            let (seed, totp) = enrol(&session, &url, user);
            enrolled.push(User {
                name: (*user).to_owned(),
                session,
                seed,
                enrolled_step: totp.last().unwrap(),
            });
        }
        Some(Self {
            url,
            endpoint,
            aws,
            dir,
            users: enrolled,
            config,
            store,
            log,
            _server: server,
            _moto: moto,
        })
    }

    pub fn user(&self, name: &str) -> &User {
        self.users.iter().find(|u| u.name == name).unwrap()
    }
}
