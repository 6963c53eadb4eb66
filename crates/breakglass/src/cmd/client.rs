//! The broker's client commands: `login`, `playbooks`, `request`, `approve`, `deny`,
//! `cancel`, `status`, `activate`, `extend`, `extension`, `revoke`, `break-glass`, `review`,
//! `totp`, `creds`, `exec`, `console`.
//!
//! They speak the JSON API over HTTPS (or plain HTTP to a broker on this machine). `login` stores the broker URL and an API token in
//! `$XDG_CONFIG_HOME/breakglass/session.json` (else `~/.config/...`), readable by the user only.
//! Bodies and answers are breakglass-api's types, the server's own: a command that prints
//! the broker's JSON prints it as it came, once it has checked it is the documented type.
//!
//! Output: a command whose result is a value a script takes (a request or grant id, a
//! grant's end, a link, credentials) prints that value on stdout and one line for people
//! on stderr; any other command prints its one line on stdout. `--json` prints the broker's
//! answer instead, as the API documents it.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use breakglass_api::{
    AccountChangedView, AddUserBody, AmendBody, ApproveBody, ConfirmBody, ConsoleBody, ConsoleUrl,
    CreateBody, Credentials, CredentialsBody, EnrollBody, ErrorBody, ExtendBody, ListQuery,
    LoginBody, Me, NewToken, NewUser, PasswordBody, PlaybookList, ReasonBody, RequestList,
    RequestView, ReviewBody, RevokeAllBody, Revoked, RevokedAll, SsoDeviceBody, SsoDeviceStart,
    SsoTokenBody, SsoTokenReply, StepUpBody, TotpEnrolment,
};
use breakglass_config::format_duration;
use breakglass_core::request::{ReviewOutcome, Status};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use crate::exit::{DependencyFailed, Outcome};

/// Where the session file lives.
fn session_path() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("BREAKGLASS_SESSION_FILE") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var("XDG_CONFIG_HOME") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            PathBuf::from(std::env::var("HOME").context("neither XDG_CONFIG_HOME nor HOME is set")?)
                .join(".config")
        }
    };
    Ok(base.join("breakglass").join("session.json"))
}

#[derive(Debug, Serialize, Deserialize)]
struct Session {
    url: String,
    username: String,
    token: String,
    expires_at: String,
}

fn load_session() -> anyhow::Result<Session> {
    let path = session_path()?;
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "not logged in (no `{}`); run `breakglass login --url URL --username NAME`",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is corrupt; run `breakglass login` again",
            path.display()
        )
    })
}

fn save_session(s: &Session) -> anyhow::Result<PathBuf> {
    let path = session_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(s)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(&path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    Ok(path)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// An error the broker returned, with its stable code.
#[derive(Debug, thiserror::Error)]
#[error("{message} ({code}, HTTP {status})")]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// One API call. Broker errors come back as [`ApiError`]; an unreachable broker as
/// [`DependencyFailed`].
/// Refuses a broker URL that would send the API token across a network in clear text:
/// `https://` anywhere, `http://` only to this machine (a broker on loopback, or a tunnel).
fn check_broker_url(url: &str) -> anyhow::Result<()> {
    let uri: hyper::Uri = url
        .parse()
        .with_context(|| format!("the broker URL `{url}` is not a URL"))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => bail!(
            "the broker URL `{url}` is plain http to `{host}`: the API token would cross the network in clear text; use `https://` (TLS in front of `breakglass serve`), or `http://127.0.0.1:PORT` through a tunnel"
        ),
        _ => bail!(
            "the broker URL `{url}` must start with `https://` (or `http://127.0.0.1` for a local broker)"
        ),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A request body, as the broker reads it.
fn body<B: Serialize>(b: &B) -> anyhow::Result<Option<String>> {
    Ok(Some(
        serde_json::to_string(b).context("cannot encode the request body")?,
    ))
}

fn call(
    url: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<String>,
) -> anyhow::Result<Value> {
    check_broker_url(url)?;
    let uri = format!("{}{path}", url.trim_end_matches('/'));
    runtime()?.block_on(async {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .context("cannot load the system's TLS root certificates")?
            .https_or_http()
            .enable_http1()
            .build();
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(&uri)
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .with_context(|| format!("bad URL `{uri}`"))?;
        let resp = tokio::time::timeout(Duration::from_secs(60), client.request(req))
            .await
            .map_err(|_| {
                DependencyFailed(anyhow::anyhow!(
                    "the broker at {url} did not answer within 60 s"
                ))
            })?
            .map_err(|e| {
                DependencyFailed(anyhow::anyhow!(
                    "cannot reach the broker at {url}: {e}; is `breakglass serve` running?"
                ))
            })?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| DependencyFailed(anyhow::anyhow!("reading the broker's answer: {e}")))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let err = match serde_json::from_value::<ErrorBody>(value.clone()) {
            Ok(ErrorBody { error }) => ApiError {
                status,
                code: error.code,
                message: error.message,
            },
            Err(_) => ApiError {
                status,
                code: "unknown".to_owned(),
                message: value.to_string(),
            },
        };
        if status >= 500 {
            return Err(DependencyFailed(anyhow::Error::new(err)).into());
        }
        Err(err.into())
    })
}

/// The broker's answer as the documented type `T`; an answer that is not one is the
/// broker's fault (a different version, or not a breakglass broker).
fn decode<T: DeserializeOwned>(v: Value) -> anyhow::Result<T> {
    serde_json::from_value(v).map_err(|e| {
        DependencyFailed(anyhow::anyhow!(
            "the broker's answer is not a {}: {e}; is it the same version as this client?",
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or_default()
        ))
        .into()
    })
}

/// One call with the saved session, answering the raw JSON.
fn api_raw(method: &str, path: &str, body: Option<String>) -> anyhow::Result<Value> {
    let s = load_session()?;
    call(&s.url, Some(&s.token), method, path, body)
}

/// Where to read request `id`, or the request holding grant `id` (`g-…`).
fn read_path(id: &str) -> String {
    if id.starts_with("g-") {
        format!("/api/v1/grants/{id}")
    } else {
        format!("/api/v1/requests/{id}")
    }
}

/// The API path of request `id` followed by `rest`. A grant id (`g-…`) stands for the
/// request holding it: the broker says which (`GET /api/v1/grants/{id}`).
fn request_path(id: &str, rest: &str) -> anyhow::Result<String> {
    let id = if id.starts_with("g-") {
        let v: RequestView = api("GET", &read_path(id), None)?;
        v.request.id.to_string()
    } else {
        id.to_owned()
    };
    Ok(format!("/api/v1/requests/{id}{rest}"))
}

/// One call with the saved session, answering `T`.
fn api<T: DeserializeOwned>(method: &str, path: &str, body: Option<String>) -> anyhow::Result<T> {
    decode(api_raw(method, path, body)?)
}

/// One call whose answer is printed as JSON: checked to be a `T`, printed as it came.
fn api_checked<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<String>,
) -> anyhow::Result<Value> {
    let v = api_raw(method, path, body)?;
    decode::<T>(v.clone())?;
    Ok(v)
}

/// One call with the saved session, answering both `T` and the JSON it was decoded from
/// (for `--json`, which prints the broker's answer as it came).
fn api_both<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<String>,
) -> anyhow::Result<(T, Value)> {
    let v = api_raw(method, path, body)?;
    Ok((decode::<T>(v.clone())?, v))
}

/// `--json`: the broker's answer as JSON instead of lines for people.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct JsonArg {
    /// Print the broker's answer as JSON (the type `/openapi.json` documents) instead of a
    /// line for people.
    #[arg(long)]
    pub json: bool,
}

/// A result line for people on stdout (commands whose result is no value for scripts).
fn line(text: &str) -> anyhow::Result<()> {
    writeln!(crate::exit::stdout(), "{text}")?;
    Ok(())
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    let mut out = crate::exit::stdout();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn say(line: &str) {
    #[expect(clippy::print_stderr, reason = "progress and hints go to stderr")]
    {
        eprintln!("{line}");
    }
}

/// How a duration is shown to people: as it is written on the command line (`1h30m`).
fn human(d: time::Duration) -> String {
    format_duration(d)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn summary(v: &RequestView<'_>) -> String {
    let (r, spec) = (&v.request, &v.request.spec);
    format!(
        "{}  {}  {} {} in {}  by {}  incident {}{}",
        r.id,
        v.status_name,
        spec.playbook,
        spec.role,
        spec.account,
        spec.requester,
        spec.incident,
        r.grant
            .as_ref()
            .map(|g| format!("  grant {}", g.id))
            .unwrap_or_default(),
    )
}

/// The request's grant, which an answer to a grant's command must have.
fn grant_of<'a>(v: &'a RequestView<'_>) -> anyhow::Result<&'a breakglass_core::request::Grant> {
    v.request.grant.as_ref().ok_or_else(|| {
        DependencyFailed(anyhow::anyhow!(
            "the broker's answer for request {} has no grant",
            v.request.id
        ))
        .into()
    })
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The broker's URL.
    #[arg(long, env = "BREAKGLASS_URL", default_value = "http://127.0.0.1:8470")]
    url: String,
    /// Your username (for a password sign-in).
    #[arg(
        long,
        short = 'u',
        env = "BREAKGLASS_USER",
        required_unless_present = "sso"
    )]
    username: Option<String>,
    /// Sign in through the organisation's identity provider instead of a password: prints a
    /// web address and a code to enter there (from any device), then waits until you have
    /// (the OAuth device authorization grant, brokered so no client secret reaches this
    /// machine). The token lasts 12 hours; approvals still ask for your broker TOTP code.
    /// `--username`, `--totp` and `--ttl` do not apply to it (and their variables, if
    /// set, are ignored).
    #[arg(long)]
    sso: bool,
    /// How long the token lasts, in whole hours (`8h`; at most `12h`).
    #[arg(long, default_value = "12h", value_name = "DURATION", value_parser = super::duration_arg)]
    ttl: time::Duration,
    /// The former `--ttl` in hours (`--ttl-hours 8` is `--ttl 8h`).
    #[arg(long, hide = true, conflicts_with = "ttl", value_name = "HOURS")]
    ttl_hours: Option<i64>,
    /// A current code from your TOTP authenticator (required once one is enrolled).
    #[arg(long, env = "BREAKGLASS_TOTP", value_name = "CODE")]
    totp: Option<String>,
}

/// A secret from environment variable `var`, or else one line of stdin (after saying
/// `prompt` on stderr). Never from an argument, which other users can see.
fn secret_input(var: &str, prompt: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    say(prompt);
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read {prompt} from stdin"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Saves `token` as the session of `username` at `url` and says so.
fn save_token(url: &str, username: &str, token: NewToken) -> anyhow::Result<()> {
    let session = Session {
        url: url.to_owned(),
        username: username.to_owned(),
        token: token.token,
        expires_at: token.expires_at,
    };
    let path = save_session(&session)?;
    say(&format!(
        "logged in as {} until {}; token saved to {}",
        session.username,
        session.expires_at,
        path.display()
    ));
    Ok(())
}

/// `breakglass login`: the password is read from `BREAKGLASS_PASSWORD` or one line of stdin;
/// with `--sso`, the identity provider's device sign-in.
pub fn login(args: &LoginArgs) -> anyhow::Result<Outcome> {
    let username = match (&args.username, args.sso) {
        (_, true) => return login_sso(&args.url),
        (Some(u), false) => u.clone(),
        (None, false) => {
            anyhow::bail!("give your username (`--username`), or sign in with `--sso`")
        }
    };
    let ttl_hours = match args.ttl_hours {
        Some(hours) => hours,
        None if args.ttl.whole_seconds() % 3600 == 0 => args.ttl.whole_hours(),
        None => bail!(
            "invalid value `{}` for `--ttl`: a token lasts whole hours, e.g. `8h` or `12h`",
            human(args.ttl)
        ),
    };
    let password = secret_input("BREAKGLASS_PASSWORD", &format!("password for {username}:"))?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "cli".to_owned());
    let token: NewToken = decode(call(
        &args.url,
        None,
        "POST",
        "/api/v1/login",
        body(&LoginBody {
            username: username.clone(),
            password,
            totp: args.totp.clone(),
            token_name: Some(format!("cli@{host}")),
            ttl_hours: Some(ttl_hours),
        })?,
    )?)?;
    save_token(&args.url, &username, token)?;
    Ok(Outcome::Success)
}

/// `breakglass login --sso`: starts the device sign-in at the broker, shows where to go and
/// the code, and polls the broker (which polls the identity provider) at the interval asked.
fn login_sso(url: &str) -> anyhow::Result<Outcome> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "cli".to_owned());
    let started: SsoDeviceStart = decode(call(
        url,
        None,
        "POST",
        "/api/v1/login/sso/device",
        body(&SsoDeviceBody {
            token_name: Some(format!("sso cli@{host}")),
        })?,
    )?)?;
    say(&format!(
        "to sign in, open {} and enter the code {}",
        started.verification_uri, started.user_code
    ));
    if let Some(complete) = &started.verification_uri_complete {
        say(&format!(
            "(or open {complete}, which has the code filled in)"
        ));
    }
    say("waiting for you to finish there...");
    let deadline = std::time::Instant::now() + Duration::from_secs(started.expires_in.max(1));
    let mut interval = started.interval.max(1);
    loop {
        if std::time::Instant::now() >= deadline {
            anyhow::bail!(
                "the code expired before the sign-in was finished; run `breakglass login --sso` again"
            );
        }
        std::thread::sleep(Duration::from_secs(interval));
        let reply: SsoTokenReply = decode(call(
            url,
            None,
            "POST",
            "/api/v1/login/sso/token",
            body(&SsoTokenBody {
                handle: started.handle.clone(),
            })?,
        )?)?;
        match reply {
            SsoTokenReply::Pending { interval: next, .. } => interval = next.max(1),
            SsoTokenReply::SignedIn { token } => {
                let me: Me = decode(call(url, Some(&token.token), "GET", "/api/v1/me", None)?)?;
                save_token(url, &me.username, token)?;
                return Ok(Outcome::Success);
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct TotpArgs {
    #[command(subcommand)]
    command: TotpCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TotpCommand {
    /// Start enrolling an authenticator app; prints the seed and the otpauth:// URI once.
    /// Needs your password (`BREAKGLASS_PASSWORD` or one line of stdin); replacing an
    /// enrolled authenticator also needs a current code from it. Finish with `breakglass
    /// totp confirm CODE` (every other session of yours then ends).
    Enroll {
        /// A current code of the authenticator being replaced.
        #[arg(long, value_name = "CODE")]
        current_code: Option<String>,
    },
    /// Finish enrolling: a current code from the new authenticator. Your session continues
    /// on a new token that passed it.
    Confirm {
        /// The code the new authenticator shows.
        code: String,
    },
}

pub fn totp(args: &TotpArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        TotpCommand::Enroll { current_code } => {
            let request = EnrollBody {
                password: Some(secret_input("BREAKGLASS_PASSWORD", "your password:")?),
                current_code: current_code.clone(),
                passkey: None,
            };
            let v = api_checked::<TotpEnrolment>("POST", "/api/v1/totp/enroll", body(&request)?)?;
            print_json(&v)?;
            say(
                "add the secret (or the otpauth URI as a QR code) to your authenticator app; it is not shown again; then run: breakglass totp confirm CODE",
            );
        }
        TotpCommand::Confirm { code } => {
            let session = load_session()?;
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "cli".to_owned());
            let token: NewToken = api(
                "POST",
                "/api/v1/totp/confirm",
                body(&ConfirmBody {
                    code: code.clone(),
                    token_name: Some(format!("cli@{host}")),
                })?,
            )?;
            say("authenticator enrolled");
            save_token(&session.url, &session.username, token)?;
        }
    }
    Ok(Outcome::Success)
}

/// What an administrator does to an account (`breakglass user disable NAME --totp CODE`
/// and the like); `change` is the route's last segment.
pub fn administer(username: &str, change: &str, totp: &str, json: bool) -> anyhow::Result<Outcome> {
    let (v, raw): (AccountChangedView, Value) = api_both(
        "POST",
        &format!("/api/v1/users/{username}/{change}"),
        body(&StepUpBody {
            totp: totp.to_owned(),
            passkey: None,
        })?,
    )?;
    if json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    if let Some(link) = &v.invitation_url {
        writeln!(crate::exit::stdout(), "{link}")?;
    }
    let revoked = if v.revoked.is_empty() {
        String::new()
    } else {
        format!("; revoked {}", v.revoked.join(", "))
    };
    let next = if v.invitation_url.is_some() {
        "; give them the link above to set a new password, then they enrol again"
    } else {
        ""
    };
    say(&format!(
        "user {}: {}{revoked}{next}",
        v.username,
        v.change.replace('_', " ")
    ));
    Ok(Outcome::Success)
}

/// `breakglass user invite NAME [--admin] --totp CODE`: prints the one-time link on stdout.
pub fn invite(username: &str, admin: bool, totp: &str, json: bool) -> anyhow::Result<Outcome> {
    let (v, raw): (NewUser, Value) = api_both(
        "POST",
        "/api/v1/users",
        body(&AddUserBody {
            username: username.to_owned(),
            admin,
            totp: totp.to_owned(),
        })?,
    )?;
    if json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    writeln!(crate::exit::stdout(), "{}", v.invitation_url)?;
    say(&format!(
        "user {} invited{}; give them the link above (it works once, until {}): they set their own password, then sign in and enrol a TOTP authenticator",
        v.username,
        if v.admin { " (admin)" } else { "" },
        v.expires_at
    ));
    Ok(Outcome::Success)
}

/// `breakglass user password --totp CODE`: the current password from
/// `BREAKGLASS_PASSWORD` (or stdin), the new one from `BREAKGLASS_NEW_PASSWORD` (or stdin).
pub fn change_password(totp: &str, json: bool) -> anyhow::Result<Outcome> {
    let old = secret_input("BREAKGLASS_PASSWORD", "current password:")?;
    let new = secret_input("BREAKGLASS_NEW_PASSWORD", "new password:")?;
    let (v, raw): (AccountChangedView, Value) = api_both(
        "POST",
        "/api/v1/password",
        body(&PasswordBody {
            old_password: old,
            new_password: new,
            totp: totp.to_owned(),
            passkey: None,
        })?,
    )?;
    if json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    line(&format!(
        "password of {} changed; your other sessions and tokens are signed out",
        v.username
    ))?;
    Ok(Outcome::Success)
}

/// What to ask for.
#[derive(Debug, clap::Args)]
pub struct AskArgs {
    /// The playbook (`breakglass playbooks` lists what you may ask for).
    #[arg(long, short = 'p')]
    playbook: String,
    /// The role the playbook grants.
    #[arg(long, short = 'r')]
    role: String,
    /// The account: its name in the config (`production`) or its 12-digit id.
    #[arg(long, short = 'a')]
    account: String,
    /// For how long (`90m`, `1h30m`, `4h`); at most the playbook's maximum.
    #[arg(long, short = 'd', default_value = "1h", value_name = "DURATION", value_parser = super::duration_arg)]
    duration: time::Duration,
    /// The incident id.
    #[arg(long, short = 'i')]
    incident: String,
    /// Why you need it.
    #[arg(long, short = 'j')]
    justification: String,
}

impl AskArgs {
    fn body(&self, totp: Option<&str>) -> CreateBody {
        CreateBody {
            playbook: self.playbook.clone(),
            role: self.role.clone(),
            account: self.account.clone(),
            duration_seconds: self.duration.whole_seconds(),
            incident: self.incident.clone(),
            justification: self.justification.clone(),
            session_policy: None,
            totp: totp.map(str::to_owned),
            passkey: None,
        }
    }
}

/// Reads a narrowed session policy file (capped at the largest policy text the engine
/// parses).
fn read_session_policy(path: &std::path::Path) -> anyhow::Result<String> {
    super::read_policy(path)
        .with_context(|| format!("cannot read the session policy `{}`", path.display()))
}

#[derive(Debug, clap::Args)]
pub struct PlaybooksArgs {
    #[command(flatten)]
    out: JsonArg,
}

/// `playbooks`: what the signed-in user may ask for, one aligned line per playbook.
pub fn playbooks(args: &PlaybooksArgs) -> anyhow::Result<Outcome> {
    let (list, raw): (PlaybookList, Value) = api_both("GET", "/api/v1/playbooks", None)?;
    if args.out.json {
        print_json(&raw)?;
        return Ok(Outcome::Success);
    }
    if list.playbooks.is_empty() {
        line(
            "you may not ask for anything: no playbook lists you (see the config's responders and playbooks)",
        )?;
        return Ok(Outcome::Success);
    }
    let header = [
        "PLAYBOOK",
        "ROLES",
        "ACCOUNTS",
        "MAX",
        "APPROVALS",
        "BREAK-GLASS",
        "STEP-UP",
    ]
    .map(str::to_owned);
    let mut rows = vec![header.to_vec()];
    for p in &list.playbooks {
        let mut roles: Vec<&str> = Vec::new();
        let mut accounts: Vec<String> = Vec::new();
        for t in &p.targets {
            if !roles.contains(&t.role.as_str()) {
                roles.push(&t.role);
            }
            let account = match &t.account_name {
                Some(name) => format!("{name} ({})", t.account_id),
                None => t.account_id.clone(),
            };
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
        let longest = |f: fn(&breakglass_api::OfferTarget) -> Option<i64>| {
            p.targets.iter().filter_map(f).max()
        };
        let max = match longest(|t| t.request_max_seconds) {
            Some(s) => human(time::Duration::seconds(s)),
            None => "-".to_owned(),
        };
        let approvals = match (longest(|t| t.request_max_seconds), p.required_approvals) {
            (None, _) => "-".to_owned(),
            (Some(_), 0) => "none".to_owned(),
            (Some(_), n) => format!("{n} of {}", p.approver_groups.join(",")),
        };
        let break_glass = match longest(|t| t.break_glass_max_seconds) {
            Some(s) => format!("yes, {}", human(time::Duration::seconds(s))),
            None => "no".to_owned(),
        };
        let step_up = match p.step_up {
            breakglass_core::model::StepUpFactor::Any => "totp or passkey",
            breakglass_core::model::StepUpFactor::Passkey => "passkey",
        };
        rows.push(vec![
            p.id.clone(),
            roles.join(","),
            accounts.join(", "),
            max,
            approvals,
            break_glass,
            step_up.to_owned(),
        ]);
    }
    let mut out = crate::exit::stdout();
    for row in aligned(&rows) {
        writeln!(out, "{row}")?;
    }
    Ok(Outcome::Success)
}

/// `rows` as lines of columns two spaces apart, each column as wide as its widest cell
/// (the last one not padded).
fn aligned(rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let n = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => widths.push(n),
            }
        }
    }
    rows.iter()
        .map(|row| {
            let mut text = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    text.push_str(cell);
                } else {
                    let w = widths.get(i).copied().unwrap_or(0);
                    text.push_str(&format!("{cell:<w$}  "));
                }
            }
            text.trim_end().to_owned()
        })
        .collect()
}

#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    ask: AskArgs,
    /// Narrow the playbook's session policy for this request: a JSON session policy with
    /// fewer actions, named resources or fewer regions. The broker refuses one it cannot
    /// prove no wider than the playbook's, and approvers see the difference.
    #[arg(long, value_name = "FILE")]
    session_policy: Option<PathBuf>,
    /// Wait until the request is decided (or times out), then say who decided and why;
    /// exit 0 if approved, 1 otherwise.
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this long (`90m`, `1h30m`, `4h`).
    #[arg(long, default_value = "1h", requires = "wait", value_name = "DURATION", value_parser = super::duration_arg)]
    wait_timeout: time::Duration,
    #[command(flatten)]
    out: JsonArg,
}

pub fn request(args: &RequestArgs) -> anyhow::Result<Outcome> {
    let mut create = args.ask.body(None);
    create.session_policy = args
        .session_policy
        .as_deref()
        .map(read_session_policy)
        .transpose()?;
    let (v, raw): (RequestView, Value) = api_both("POST", "/api/v1/requests", body(&create)?)?;
    let id = v.request.id.to_string();
    if !args.wait {
        if args.out.json {
            print_json(&raw)?;
        } else {
            println_id(&id)?;
            say(&format!(
                "{}; an approver runs: breakglass approve {id} --totp CODE",
                summary(&v)
            ));
        }
        return Ok(Outcome::Success);
    }
    if !args.out.json {
        say(&format!("{}; waiting for a decision", summary(&v)));
    }
    let wait = std::time::Duration::from_secs(
        u64::try_from(args.wait_timeout.whole_seconds()).unwrap_or(3600),
    );
    let deadline = std::time::Instant::now() + wait;
    loop {
        let (v, raw): (RequestView, Value) =
            api_both("GET", &format!("/api/v1/requests/{id}"), None)?;
        if let Some((approved, text)) = decision(&v) {
            if args.out.json {
                print_json(&raw)?;
            } else {
                println_id(&id)?;
                say(&text);
            }
            return Ok(if approved {
                Outcome::Success
            } else {
                Outcome::Problems
            });
        }
        if std::time::Instant::now() >= deadline {
            bail!(
                "request {id} is still pending after {} (--wait-timeout); check later with `breakglass status {id}`",
                human(args.wait_timeout)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Who approved request `v` (distinct, in order of approval).
fn approvers(v: &RequestView<'_>) -> String {
    let mut names: Vec<&str> = Vec::new();
    for a in &v.request.approvals {
        if !names.contains(&a.approver.as_str()) {
            names.push(a.approver.as_str());
        }
    }
    names.join(", ")
}

/// `"why"`, or a note that no reason was given.
fn quoted(reason: &str) -> String {
    if reason.trim().is_empty() {
        "(no reason given)".to_owned()
    } else {
        format!("{reason:?}")
    }
}

/// A decided request as one line, and whether it was approved; `None` while it is pending.
fn decision(v: &RequestView<'_>) -> Option<(bool, String)> {
    let id = &v.request.id;
    Some(match &v.request.status {
        Status::Pending => return None,
        Status::Approved { activate_by, .. } => {
            let by = match approvers(v) {
                by if by.is_empty() => "without approvers (the playbook needs none)".to_owned(),
                by => format!("by {by}"),
            };
            (
                true,
                format!(
                    "request {id} approved {by}; activate it before {}: breakglass activate {id}",
                    rfc3339(*activate_by)
                ),
            )
        }
        Status::Active => (
            true,
            format!("request {id} approved by {} and active", approvers(v)),
        ),
        Status::Denied { by, reason, .. } => (
            false,
            format!("request {id} denied by {by}: {}", quoted(reason)),
        ),
        Status::Cancelled { by, reason, .. } => (
            false,
            format!("request {id} cancelled by {by}: {}", quoted(reason)),
        ),
        Status::TimedOut { at } => (
            false,
            format!(
                "request {id} timed out at {}: no approver decided in time; ask again, or ask an approver directly",
                rfc3339(*at)
            ),
        ),
        Status::Expired { at } => (false, format!("request {id} expired at {}", rfc3339(*at))),
        Status::Revoked { by, reason, .. } => (
            false,
            format!("request {id} revoked by {by}: {}", quoted(reason)),
        ),
    })
}

fn println_id(id: &str) -> anyhow::Result<()> {
    writeln!(crate::exit::stdout(), "{id}")?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The request id (or its grant's id, `g-…`).
    id: String,
    /// The current code of your authenticator app.
    #[arg(long, env = "BREAKGLASS_TOTP")]
    totp: String,
    /// A note for the audit log.
    #[arg(long, default_value = "")]
    comment: String,
    #[command(flatten)]
    out: JsonArg,
}

/// Approves exactly the version shown: the digest of what was read is sent with the approval.
pub fn approve(args: &ApproveArgs) -> anyhow::Result<Outcome> {
    let r: RequestView = api("GET", &read_path(&args.id), None)?;
    if !args.out.json {
        say(&format!("approving: {}", summary(&r)));
    }
    let (v, raw): (RequestView, Value) = api_both(
        "POST",
        &format!("/api/v1/requests/{}/approve", r.request.id),
        body(&ApproveBody {
            digest: r.request.digest.to_hex(),
            totp: args.totp.clone(),
            comment: args.comment.clone(),
            passkey: None,
        })?,
    )?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    let id = &v.request.id;
    let text = match &v.request.status {
        Status::Pending => format!(
            "approval recorded on {id}: {} of {} approvals so far",
            v.request
                .approvals
                .iter()
                .filter(|a| a.digest == v.request.digest)
                .count(),
            v.request.required_approvals
        ),
        _ => format!(
            "request {id} is {} ({} in {} for {})",
            v.status_name, v.request.spec.role, v.request.spec.account, v.request.spec.requester
        ),
    };
    line(&text)?;
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ReasonArgs {
    /// The request id (or its grant's id, `g-…`).
    id: String,
    /// Why.
    #[arg(long, default_value = "")]
    reason: String,
    #[command(flatten)]
    out: JsonArg,
}

impl ReasonArgs {
    fn body(&self) -> anyhow::Result<Option<String>> {
        body(&ReasonBody {
            reason: self.reason.clone(),
        })
    }
}

pub fn deny(args: &ReasonArgs) -> anyhow::Result<Outcome> {
    let (v, raw): (RequestView, Value) =
        api_both("POST", &request_path(&args.id, "/deny")?, args.body()?)?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    line(&format!(
        "request {} denied: {}",
        v.request.id,
        quoted(&args.reason)
    ))?;
    Ok(Outcome::Success)
}

/// `cancel`: withdraws your own pending request.
pub fn cancel(args: &ReasonArgs) -> anyhow::Result<Outcome> {
    let (v, raw): (RequestView, Value) =
        api_both("POST", &request_path(&args.id, "/cancel")?, args.body()?)?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    line(&format!("request {} cancelled", v.request.id))?;
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct AmendArgs {
    /// The request id.
    id: String,
    /// A new narrowing of the playbook's session policy (a JSON file); `--session-policy
    /// playbook` goes back to the playbook's own.
    #[arg(long, value_name = "FILE")]
    session_policy: Option<PathBuf>,
    /// A new total duration (`90m`, `1h30m`, `4h`).
    #[arg(long, short = 'd', value_name = "DURATION", value_parser = super::duration_arg)]
    duration: Option<time::Duration>,
    /// A new incident id.
    #[arg(long, short = 'i')]
    incident: Option<String>,
    /// A new justification.
    #[arg(long, short = 'j')]
    justification: Option<String>,
    #[command(flatten)]
    out: JsonArg,
}

/// `amend`: change your pending request; approvals given before it stop counting.
pub fn amend(args: &AmendArgs) -> anyhow::Result<Outcome> {
    let session_policy = match args.session_policy.as_deref() {
        Some(p) if p.as_os_str() == "playbook" => Some(String::new()),
        Some(p) => Some(read_session_policy(p)?),
        None => None,
    };
    let change = AmendBody {
        duration_seconds: args.duration.map(time::Duration::whole_seconds),
        incident: args.incident.clone(),
        justification: args.justification.clone(),
        session_policy,
    };
    let (v, raw): (RequestView, Value) =
        api_both("POST", &request_path(&args.id, "/amend")?, body(&change)?)?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    line(&format!(
        "request {} amended; it needs its approvals again (digest {})",
        v.request.id,
        v.request.digest.to_hex()
    ))?;
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The request id (or its grant's id, `g-…`).
    id: String,
    #[command(flatten)]
    out: JsonArg,
}

pub fn activate(args: &IdArgs) -> anyhow::Result<Outcome> {
    let (v, raw): (RequestView, Value) =
        api_both("POST", &request_path(&args.id, "/activate")?, None)?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    let grant = grant_of(&v)?;
    println_id(grant.id.as_str())?;
    say(&format!(
        "grant {} is active until {}; next: breakglass creds --grant {}",
        grant.id,
        rfc3339(grant.end),
        grant.id
    ));
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ExtendArgs {
    /// The request whose grant to extend (or the grant's id, `g-…`).
    id: String,
    /// How much time to add to the grant's current end (`30m`, `1h30m`, `2h`); the grant in
    /// total stays within the playbook's maximum.
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    add: time::Duration,
    /// Why you need more time.
    #[arg(long, short = 'j')]
    justification: String,
    #[command(flatten)]
    out: JsonArg,
}

/// `extend`: asks for more time on an active grant; prints the grant's end on stdout (the
/// new one if no approval is needed, else the current one while the extension waits for
/// approvers) and one line saying which on stderr.
pub fn extend(args: &ExtendArgs) -> anyhow::Result<Outcome> {
    let (v, raw): (RequestView, Value) = api_both(
        "POST",
        &request_path(&args.id, "/extend")?,
        body(&ExtendBody {
            add_seconds: args.add.whole_seconds(),
            justification: args.justification.clone(),
        })?,
    )?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    let grant = grant_of(&v)?;
    println_id(&rfc3339(grant.end))?;
    if grant.pending_extension.is_some() {
        say(&format!(
            "extension of {} asked; grant {} still ends {}; an approver runs: breakglass extension approve {} --totp CODE",
            human(args.add),
            grant.id,
            rfc3339(grant.end),
            v.request.id
        ));
    } else {
        say(&format!(
            "grant {} extended by {}; it now ends {}",
            grant.id,
            human(args.add),
            rfc3339(grant.end)
        ));
    }
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ExtensionArgs {
    #[command(subcommand)]
    command: ExtensionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ExtensionCommand {
    /// Approve the extension a grant's requester asked for (TOTP step-up; the approval is
    /// bound to the extension you saw). Prints the grant's end.
    Approve(ApproveArgs),
    /// Deny the extension a grant's requester asked for. Prints the grant's end.
    Deny(ReasonArgs),
}

/// `extension approve|deny`: decides a grant's pending extension.
pub fn extension(args: &ExtensionArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        ExtensionCommand::Approve(a) => approve_extension(a),
        ExtensionCommand::Deny(a) => {
            let (v, raw): (RequestView, Value) =
                api_both("POST", &request_path(&a.id, "/extension/deny")?, a.body()?)?;
            if a.out.json {
                return print_json(&raw).map(|()| Outcome::Success);
            }
            let grant = grant_of(&v)?;
            say(&format!(
                "extension denied; grant {} still ends {}",
                grant.id,
                rfc3339(grant.end)
            ));
            println_id(&rfc3339(grant.end))?;
            Ok(Outcome::Success)
        }
    }
}

/// Approves exactly the extension shown: its digest, read with the request, is sent with
/// the approval.
fn approve_extension(args: &ApproveArgs) -> anyhow::Result<Outcome> {
    let r: RequestView = api("GET", &read_path(&args.id), None)?;
    let grant = grant_of(&r)?;
    let Some(pending) = &grant.pending_extension else {
        bail!(
            "request {} has no pending extension to approve (its grant ends {})",
            args.id,
            rfc3339(grant.end)
        );
    };
    if !args.out.json {
        say(&format!(
            "approving an extension of {} to grant {} (ends {}) asked {}: {}",
            human(pending.add),
            grant.id,
            rfc3339(grant.end),
            rfc3339(pending.requested_at),
            quoted(&pending.justification)
        ));
    }
    let (v, raw): (RequestView, Value) = api_both(
        "POST",
        &format!("/api/v1/requests/{}/extension/approve", r.request.id),
        body(&ApproveBody {
            digest: pending.digest.to_hex(),
            totp: args.totp.clone(),
            comment: args.comment.clone(),
            passkey: None,
        })?,
    )?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    let grant = grant_of(&v)?;
    if grant.pending_extension.is_some() {
        say(&format!(
            "approval recorded; the extension waits for more approvers; grant {} still ends {}",
            grant.id,
            rfc3339(grant.end)
        ));
    } else {
        say(&format!(
            "grant {} extended; it now ends {}",
            grant.id,
            rfc3339(grant.end)
        ));
    }
    println_id(&rfc3339(grant.end))?;
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// One request, by its id or its grant's (all recent ones without it).
    id: Option<String>,
    /// Only these statuses (comma-separated: pending,approved,active,...).
    #[arg(long)]
    status: Option<String>,
    /// Also print what the grant did, as CloudTrail showed it: each call (time, service,
    /// action, resource, error, source IP, user agent), oldest first, and the alert rules
    /// that matched. Needs a request or grant id.
    #[arg(long, requires = "id")]
    activity: bool,
    #[command(flatten)]
    out: JsonArg,
}

/// Request `id` (or the request holding grant `id`) and what the broker saw its grant do.
pub fn grant_activity(
    id: &str,
) -> anyhow::Result<(
    breakglass_core::request::AccessRequest,
    breakglass_core::app::GrantActivity,
)> {
    let v: RequestView = api("GET", &read_path(id), None)?;
    let a = api("GET", &request_path(id, "/activity")?, None)?;
    Ok((v.request.into_owned(), a))
}

/// `status ID --activity`: the request's grant's calls.
fn activity(id: &str, json: bool) -> anyhow::Result<Outcome> {
    let path = request_path(id, "/activity")?;
    if json {
        print_json(&api_checked::<breakglass_core::app::GrantActivity>(
            "GET", &path, None,
        )?)?;
        return Ok(Outcome::Success);
    }
    let v: RequestView = api("GET", &read_path(id), None)?;
    let a: breakglass_core::app::GrantActivity = api("GET", &path, None)?;
    let mut out = crate::exit::stdout();
    writeln!(out, "{}", summary(&v))?;
    if a.events.is_empty() {
        writeln!(
            out,
            "no call of this grant's credentials in CloudTrail yet (events reach the broker a few minutes after they happen)"
        )?;
        return Ok(Outcome::Success);
    }
    let cell = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned();
    for e in &a.events {
        let ev = &e.event;
        let service = ev
            .service
            .strip_suffix(".amazonaws.com")
            .unwrap_or(&ev.service);
        let agent: String = cell(ev.user_agent.as_deref()).chars().take(40).collect();
        writeln!(
            out,
            "{}  {service:<10} {:<28} {:<40} {:<22} {:<15} {agent}",
            time::OffsetDateTime::format(ev.at, &time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            ev.action,
            cell(ev.resource.as_deref()),
            cell(ev.error.as_deref()),
            cell(ev.source_ip.as_deref()),
        )?;
    }
    let hits: Vec<_> = a.rule_findings().collect();
    writeln!(
        out,
        "{} calls{}; {} matched an alert rule",
        a.events.len(),
        if a.truncated { " (more not shown)" } else { "" },
        hits.len()
    )?;
    for e in hits {
        writeln!(
            out,
            "  {} {}: {}",
            e.event.at,
            e.event.action,
            e.event.rules.join(", ")
        )?;
    }
    Ok(Outcome::Success)
}

/// `breakglass findings`: unbrokered use, newest first.
pub fn findings(args: &JsonArg) -> anyhow::Result<Outcome> {
    let path = "/api/v1/findings";
    if args.json {
        print_json(&api_checked::<Vec<breakglass_core::activity::Finding>>(
            "GET", path, None,
        )?)?;
        return Ok(Outcome::Success);
    }
    let list: Vec<breakglass_core::activity::Finding> = api("GET", path, None)?;
    let mut out = crate::exit::stdout();
    if list.is_empty() {
        writeln!(out, "no unbrokered use has been seen")?;
    }
    for f in &list {
        let record = f
            .record
            .as_ref()
            .map(|r| format!("; retroactive break-glass record {r} needs a review"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} CRITICAL {} ({} events, {}–{}){record}",
            f.id,
            f.summary(),
            f.events,
            f.first_seen,
            f.last_seen
        )?;
    }
    Ok(Outcome::Success)
}

pub fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    if let (Some(id), true) = (&args.id, args.activity) {
        return activity(id, args.out.json);
    }
    if let Some(id) = &args.id {
        let path = read_path(id);
        if args.out.json {
            print_json(&api_checked::<RequestView>("GET", &path, None)?)?;
        } else {
            let v: RequestView = api("GET", &path, None)?;
            writeln!(crate::exit::stdout(), "{}", summary(&v))?;
        }
        return Ok(Outcome::Success);
    }
    let query = ListQuery {
        status: args.status.clone(),
        ..ListQuery::default()
    };
    let query = serde_urlencoded::to_string(&query).context("cannot encode the query")?;
    let path = if query.is_empty() {
        "/api/v1/requests".to_owned()
    } else {
        format!("/api/v1/requests?{query}")
    };
    if args.out.json {
        print_json(&api_checked::<RequestList>("GET", &path, None)?)?;
    } else {
        let list: RequestList = api("GET", &path, None)?;
        let mut out = crate::exit::stdout();
        for r in &list.requests {
            writeln!(out, "{}", summary(r))?;
        }
    }
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The grant to revoke (cuts off its live sessions).
    #[arg(long, conflicts_with = "role")]
    grant: Option<String>,
    /// Revoke every session of this role ARN (administrators only, with `--totp`).
    #[arg(long, requires = "totp", value_name = "ARN")]
    role: Option<String>,
    /// Why.
    #[arg(long, default_value = "revoked from the CLI")]
    reason: String,
    /// A current TOTP code (revoking every session of a role is an administrator's
    /// step-up action).
    #[arg(long, value_name = "CODE")]
    totp: Option<String>,
    #[command(flatten)]
    out: JsonArg,
}

/// `revoke`: one line saying what was cut off (`--json`: the broker's answer).
pub fn revoke(args: &RevokeArgs) -> anyhow::Result<Outcome> {
    match (&args.grant, &args.role) {
        (Some(g), _) => {
            let (v, raw): (Revoked, Value) = api_both(
                "POST",
                &format!("/api/v1/grants/{g}/revoke"),
                body(&ReasonBody {
                    reason: args.reason.clone(),
                })?,
            )?;
            if args.out.json {
                return print_json(&raw).map(|()| Outcome::Success);
            }
            let cut = if v.sessions_denied {
                "its live sessions are cut off (denied by the role's policy)"
            } else {
                "no session of it could still be live"
            };
            line(&format!(
                "grant {g} (request {}) revoked: {cut}",
                v.view.request.id
            ))?;
        }
        (None, Some(role)) => {
            let (v, raw): (RevokedAll, Value) = api_both(
                "POST",
                "/api/v1/roles/revoke-all",
                body(&RevokeAllBody {
                    role_arn: role.clone(),
                    reason: args.reason.clone(),
                    totp: args.totp.clone().unwrap_or_default(),
                    passkey: None,
                })?,
            )?;
            if args.out.json {
                return print_json(&raw).map(|()| Outcome::Success);
            }
            let grants = if v.revoked.is_empty() {
                "no live grant".to_owned()
            } else {
                format!("requests revoked: {}", v.revoked.join(", "))
            };
            line(&format!(
                "every session of {} issued before {} is denied; {grants}",
                v.role_arn, v.cutoff
            ))?;
        }
        (None, None) => bail!("say what to revoke: `--grant ID` or `--role ARN`"),
    }
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct BreakGlassArgs {
    #[command(flatten)]
    ask: AskArgs,
    /// The current code of your authenticator app (MFA step-up).
    #[arg(long, env = "BREAKGLASS_TOTP")]
    totp: String,
    #[command(flatten)]
    out: JsonArg,
}

/// `break-glass`: prints the grant id on stdout and one loud line on stderr.
pub fn break_glass(args: &BreakGlassArgs) -> anyhow::Result<Outcome> {
    let (v, raw): (RequestView, Value) = api_both(
        "POST",
        "/api/v1/break-glass",
        body(&args.ask.body(Some(&args.totp)))?,
    )?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    let grant = grant_of(&v)?;
    println_id(grant.id.as_str())?;
    say(&format!(
        "EMERGENCY ACCESS ACTIVE: {}; every channel has been alerted and a review is required. Next: breakglass creds --grant {}",
        summary(&v),
        grant.id
    ));
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// The break-glass request id (or its grant's id, `g-…`).
    id: String,
    /// `appropriate` or `inappropriate`.
    #[arg(long, value_parser = ["appropriate", "inappropriate"])]
    outcome: String,
    /// What the review found (required: what was done with the access, and why).
    #[arg(long)]
    notes: String,
    /// A current TOTP code (signing off is a step-up action).
    #[arg(long, value_name = "CODE")]
    totp: String,
    #[command(flatten)]
    out: JsonArg,
}

pub fn review(args: &ReviewArgs) -> anyhow::Result<Outcome> {
    let outcome = match args.outcome.as_str() {
        "appropriate" => ReviewOutcome::Appropriate,
        "inappropriate" => ReviewOutcome::Inappropriate,
        other => bail!("unknown review outcome `{other}`: `appropriate` or `inappropriate`"),
    };
    let (v, raw): (RequestView, Value) = api_both(
        "POST",
        &request_path(&args.id, "/review")?,
        body(&ReviewBody {
            outcome,
            notes: args.notes.clone(),
            totp: args.totp.clone(),
            passkey: None,
        })?,
    )?;
    if args.out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    line(&format!(
        "review of break-glass request {} signed off: {}",
        v.request.id, args.outcome
    ))?;
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    /// The grant id (printed by `activate` and `break-glass`).
    #[arg(long)]
    grant: String,
    /// The broker holding the grant (as the web console prints it). It must be the broker
    /// `breakglass login` signed in to; the saved session's is used when omitted.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// A current TOTP code, for the first credentials of a break-glass grant when the
    /// activation's step-up is no longer fresh.
    #[arg(long, value_name = "CODE")]
    totp: Option<String>,
}

/// Refuses a `--server` other than the one the saved session belongs to: its token would
/// be sent to the wrong broker.
fn check_server(server: Option<&str>) -> anyhow::Result<()> {
    let Some(server) = server else { return Ok(()) };
    let session = load_session()?;
    if server.trim_end_matches('/') != session.url.trim_end_matches('/') {
        bail!(
            "the grant is on `{server}` but you are signed in to `{}`; run `breakglass login --url {server}` first",
            session.url
        );
    }
    Ok(())
}

/// `creds`: the `credential_process` JSON on stdout, for `~/.aws/config`:
/// `credential_process = breakglass creds --grant g-… [--server URL]`.
pub fn creds(args: &GrantArgs) -> anyhow::Result<Outcome> {
    check_server(args.server.as_deref())?;
    let v = api_checked::<Credentials>(
        "POST",
        &format!("/api/v1/grants/{}/credentials", args.grant),
        body(&CredentialsBody {
            totp: args.totp.clone(),
            passkey: None,
        })?,
    )?;
    let mut out = crate::exit::stdout();
    serde_json::to_writer(&mut out, &v)?;
    writeln!(out)?;
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The grant id.
    #[arg(long)]
    grant: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// `exec`: runs a command with the grant's credentials in its environment only; exits
/// with the command's status.
pub fn exec(args: &ExecArgs) -> anyhow::Result<Outcome> {
    let c: Credentials = api(
        "POST",
        &format!("/api/v1/grants/{}/credentials", args.grant),
        None,
    )?;
    let Some((program, rest)) = args.command.split_first() else {
        bail!(
            "give the command after `--`, e.g. `breakglass exec --grant g-1 -- aws sts get-caller-identity`"
        );
    };
    let status = std::process::Command::new(program)
        .args(rest)
        .env("AWS_ACCESS_KEY_ID", &c.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &c.secret_access_key)
        .env("AWS_SESSION_TOKEN", &c.session_token)
        .env("AWS_CREDENTIAL_EXPIRATION", &c.expiration)
        .env_remove("AWS_PROFILE")
        .status()
        .with_context(|| format!("cannot run `{program}`"))?;
    match status.code() {
        Some(0) => Ok(Outcome::Success),
        Some(code) => std::process::exit(code),
        None => bail!("`{program}` was killed by a signal"),
    }
}

pub fn console(args: &GrantArgs) -> anyhow::Result<Outcome> {
    check_server(args.server.as_deref())?;
    let v: ConsoleUrl = api(
        "POST",
        &format!("/api/v1/grants/{}/console", args.grant),
        body(&ConsoleBody {
            destination: None,
            totp: args.totp.clone(),
            passkey: None,
        })?,
    )?;
    writeln!(crate::exit::stdout(), "{}", v.url)?;
    say(
        "open the URL in a browser within 15 minutes; it signs you in to the console as the grant's role",
    );
    Ok(Outcome::Success)
}

/// `breakglass drill start`: opens a game day through the broker (administrators).
pub fn game_day_start(scenario: &str, out: JsonArg) -> anyhow::Result<Outcome> {
    let (day, raw): (breakglass_core::game_day::GameDay, Value) = api_both(
        "POST",
        "/api/v1/game-days",
        body(&breakglass_api::body::StartGameDayBody {
            scenario: scenario.to_owned(),
        })?,
    )?;
    if out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    line(&format!(
        "game day {} open: file requests under incident id {} (every message and page flags them as a drill); `breakglass drill finish {}` reports it",
        day.incident, day.incident, day.incident
    ))?;
    Ok(Outcome::Success)
}

/// `breakglass drill finish`: finishes a game day and prints its report.
pub fn game_day_finish(id: &str, out: JsonArg) -> anyhow::Result<Outcome> {
    if !id.starts_with(breakglass_core::game_day::GAME_DAY_PREFIX)
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        bail!(
            "`{id}` is not a game day id: they look like `{}7K3Q…`, as `breakglass drill start` printed",
            breakglass_core::game_day::GAME_DAY_PREFIX
        );
    }
    let path = format!("/api/v1/game-days/{id}/finish");
    let (report, raw): (breakglass_core::game_day::GameDayReport, Value) =
        api_both("POST", &path, None)?;
    if out.json {
        return print_json(&raw).map(|()| Outcome::Success);
    }
    let day = &report.game_day;
    let mut text = format!(
        "game day {} ({}), opened by {} at {}\nparticipants: {}\n",
        day.incident,
        day.scenario,
        day.started_by,
        breakglass_core::present::rfc3339(day.started_at),
        report
            .participants
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let secs = |ms: Option<u64>| {
        ms.map_or_else(
            || "-".to_owned(),
            |ms| format!("{:.1} s", ms as f64 / 1000.0),
        )
    };
    text.push_str(&format!(
        "{:<28} {:<10} {:<18} {:<10} {:>12} {:>12}  {}\n",
        "request", "requester", "playbook", "status", "to approve", "to access", "what failed"
    ));
    for r in &report.requests {
        text.push_str(&format!(
            "{:<28} {:<10} {:<18} {:<10} {:>12} {:>12}  {}\n",
            r.request.as_str(),
            r.requester.as_str(),
            r.playbook.as_str(),
            r.status,
            secs(r.time_to_approve_ms),
            secs(r.time_to_access_ms),
            r.failure.as_deref().unwrap_or("")
        ));
    }
    let failed = report
        .requests
        .iter()
        .filter(|r| r.failure.is_some())
        .count();
    text.push_str(&format!(
        "{} requests, {} did not reach access",
        report.requests.len(),
        failed
    ));
    line(&text)?;
    Ok(if failed == 0 {
        Outcome::Success
    } else {
        Outcome::Problems
    })
}
