//! The broker's client commands: `login`, `request`, `approve`, `deny`, `status`,
//! `activate`, `extend`, `extension`, `revoke`, `break-glass`, `review`, `totp`, `creds`,
//! `exec`, `console`.
//!
//! They speak the JSON API over HTTPS (or plain HTTP to a broker on this machine). `login` stores the broker URL and an API token in
//! `$XDG_CONFIG_HOME/breakglass/session.json` (else `~/.config/...`), readable by the user only.
//! Bodies and answers are breakglass-api's types, the server's own: a command that prints
//! the broker's JSON prints it as it came, once it has checked it is the documented type.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use breakglass_api::{
    AccountChangedView, AddUserBody, ApproveBody, ConfirmBody, ConsoleBody, ConsoleUrl, CreateBody,
    Credentials, CredentialsBody, EnrollBody, ErrorBody, ExtendBody, ListQuery, LoginBody, Me,
    NewToken, NewUser, PasswordBody, ReasonBody, RequestList, RequestView, ReviewBody,
    RevokeAllBody, Revoked, RevokedAll, SsoDeviceBody, SsoDeviceStart, SsoTokenBody, SsoTokenReply,
    StepUpBody, TotpEnrolment,
};
use breakglass_core::request::ReviewOutcome;
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

fn parse_duration(text: &str) -> anyhow::Result<i64> {
    breakglass_config::parse_duration(text)
        .map(|d| d.whole_seconds())
        .map_err(|e| anyhow::anyhow!("invalid duration `{text}`: {e} (e.g. `90m`, `1h`, `4h`)"))
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
    /// `--username`, `--totp` and `--ttl-hours` do not apply to it (and their variables, if
    /// set, are ignored).
    #[arg(long)]
    sso: bool,
    /// Token lifetime in hours (at most 12).
    #[arg(long, default_value_t = 12)]
    ttl_hours: i64,
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
            ttl_hours: Some(args.ttl_hours),
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
pub fn administer(username: &str, change: &str, totp: &str) -> anyhow::Result<Outcome> {
    let v: AccountChangedView = api(
        "POST",
        &format!("/api/v1/users/{username}/{change}"),
        body(&StepUpBody {
            totp: totp.to_owned(),
            passkey: None,
        })?,
    )?;
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
pub fn invite(username: &str, admin: bool, totp: &str) -> anyhow::Result<Outcome> {
    let v: NewUser = api(
        "POST",
        "/api/v1/users",
        body(&AddUserBody {
            username: username.to_owned(),
            admin,
            totp: totp.to_owned(),
        })?,
    )?;
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
pub fn change_password(totp: &str) -> anyhow::Result<Outcome> {
    let old = secret_input("BREAKGLASS_PASSWORD", "current password:")?;
    let new = secret_input("BREAKGLASS_NEW_PASSWORD", "new password:")?;
    let v: AccountChangedView = api(
        "POST",
        "/api/v1/password",
        body(&PasswordBody {
            old_password: old,
            new_password: new,
            totp: totp.to_owned(),
            passkey: None,
        })?,
    )?;
    say(&format!(
        "password of {} changed; your other sessions and tokens are signed out",
        v.username
    ));
    Ok(Outcome::Success)
}

/// What to ask for.
#[derive(Debug, clap::Args)]
pub struct AskArgs {
    /// The playbook (see the config's `[playbooks]`).
    #[arg(long, short = 'p')]
    playbook: String,
    /// The role the playbook grants.
    #[arg(long, short = 'r')]
    role: String,
    /// The account id.
    #[arg(long, short = 'a')]
    account: String,
    /// For how long (`30m`, `1h`, `4h`); at most the playbook's maximum.
    #[arg(long, short = 'd', default_value = "1h")]
    duration: String,
    /// The incident id.
    #[arg(long, short = 'i')]
    incident: String,
    /// Why you need it.
    #[arg(long, short = 'j')]
    justification: String,
}

impl AskArgs {
    fn body(&self, totp: Option<&str>) -> anyhow::Result<CreateBody> {
        Ok(CreateBody {
            playbook: self.playbook.clone(),
            role: self.role.clone(),
            account: self.account.clone(),
            duration_seconds: parse_duration(&self.duration)?,
            incident: self.incident.clone(),
            justification: self.justification.clone(),
            totp: totp.map(str::to_owned),
            passkey: None,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    ask: AskArgs,
    /// Wait until the request is approved or denied (or times out), then exit 0 if approved.
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this long.
    #[arg(long, default_value = "1h", requires = "wait")]
    wait_timeout: String,
}

pub fn request(args: &RequestArgs) -> anyhow::Result<Outcome> {
    let v: RequestView = api("POST", "/api/v1/requests", body(&args.ask.body(None)?)?)?;
    let id = v.request.id.to_string();
    say(&summary(&v));
    if !args.wait {
        println_id(&id)?;
        say(&format!(
            "an approver runs: breakglass approve {id} --totp CODE"
        ));
        return Ok(Outcome::Success);
    }
    let deadline = std::time::Instant::now()
        + Duration::from_secs(u64::try_from(parse_duration(&args.wait_timeout)?).unwrap_or(3600));
    loop {
        let v: RequestView = api("GET", &format!("/api/v1/requests/{id}"), None)?;
        match &*v.status_name {
            "pending" => {}
            "approved" | "active" => {
                println_id(&id)?;
                say(&format!("approved; next: breakglass activate {id}"));
                return Ok(Outcome::Success);
            }
            other => {
                println_id(&id)?;
                say(&format!("request {id} ended {other}"));
                return Ok(Outcome::Problems);
            }
        }
        if std::time::Instant::now() >= deadline {
            bail!(
                "request {id} is still pending after {}; check later with `breakglass status {id}`",
                args.wait_timeout
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn println_id(id: &str) -> anyhow::Result<()> {
    writeln!(crate::exit::stdout(), "{id}")?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The request id.
    id: String,
    /// The current code of your authenticator app.
    #[arg(long, env = "BREAKGLASS_TOTP")]
    totp: String,
    /// A note for the audit log.
    #[arg(long, default_value = "")]
    comment: String,
}

/// Approves exactly the version shown: the digest of what was read is sent with the approval.
pub fn approve(args: &ApproveArgs) -> anyhow::Result<Outcome> {
    let r: RequestView = api("GET", &format!("/api/v1/requests/{}", args.id), None)?;
    say(&format!("approving: {}", summary(&r)));
    let v: RequestView = api(
        "POST",
        &format!("/api/v1/requests/{}/approve", args.id),
        body(&ApproveBody {
            digest: r.request.digest.to_hex(),
            totp: args.totp.clone(),
            comment: args.comment.clone(),
            passkey: None,
        })?,
    )?;
    say(&summary(&v));
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ReasonArgs {
    /// The request id.
    id: String,
    /// Why.
    #[arg(long, default_value = "")]
    reason: String,
}

impl ReasonArgs {
    fn body(&self) -> anyhow::Result<Option<String>> {
        body(&ReasonBody {
            reason: self.reason.clone(),
        })
    }
}

pub fn deny(args: &ReasonArgs) -> anyhow::Result<Outcome> {
    let v: RequestView = api(
        "POST",
        &format!("/api/v1/requests/{}/deny", args.id),
        args.body()?,
    )?;
    say(&summary(&v));
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The request id.
    id: String,
}

pub fn activate(args: &IdArgs) -> anyhow::Result<Outcome> {
    let v: RequestView = api(
        "POST",
        &format!("/api/v1/requests/{}/activate", args.id),
        None,
    )?;
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
    /// The request whose grant to extend.
    id: String,
    /// How much time to add to the grant's current end (`30m`, `1h`); the grant in total
    /// stays within the playbook's maximum.
    #[arg(long)]
    add: String,
    /// Why you need more time.
    #[arg(long, short = 'j')]
    justification: String,
}

/// `extend`: asks for more time on an active grant; prints the grant's end (the new one if
/// no approval is needed, else the current one while the extension waits for approvers).
pub fn extend(args: &ExtendArgs) -> anyhow::Result<Outcome> {
    let v: RequestView = api(
        "POST",
        &format!("/api/v1/requests/{}/extend", args.id),
        body(&ExtendBody {
            add_seconds: parse_duration(&args.add)?,
            justification: args.justification.clone(),
        })?,
    )?;
    let grant = grant_of(&v)?;
    println_id(&rfc3339(grant.end))?;
    if grant.pending_extension.is_some() {
        say(&format!(
            "extension of {} asked; grant {} still ends {}; an approver runs: breakglass extension approve {} --totp CODE",
            args.add,
            grant.id,
            rfc3339(grant.end),
            v.request.id
        ));
    } else {
        say(&format!(
            "grant {} extended; it now ends {}",
            grant.id,
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
    /// bound to the extension you saw).
    Approve(ApproveArgs),
    /// Deny the extension a grant's requester asked for.
    Deny(ReasonArgs),
}

/// `extension approve|deny`: decides a grant's pending extension.
pub fn extension(args: &ExtensionArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        ExtensionCommand::Approve(a) => approve_extension(a),
        ExtensionCommand::Deny(a) => {
            let v: RequestView = api(
                "POST",
                &format!("/api/v1/requests/{}/extension/deny", a.id),
                a.body()?,
            )?;
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
    let r: RequestView = api("GET", &format!("/api/v1/requests/{}", args.id), None)?;
    let grant = grant_of(&r)?;
    let Some(pending) = &grant.pending_extension else {
        bail!(
            "request {} has no pending extension to approve (its grant ends {})",
            args.id,
            rfc3339(grant.end)
        );
    };
    say(&format!(
        "approving an extension of {} s to grant {} (ends {}) asked {}: {}",
        pending.add.whole_seconds(),
        grant.id,
        rfc3339(grant.end),
        rfc3339(pending.requested_at),
        pending.justification
    ));
    let v: RequestView = api(
        "POST",
        &format!("/api/v1/requests/{}/extension/approve", args.id),
        body(&ApproveBody {
            digest: pending.digest.to_hex(),
            totp: args.totp.clone(),
            comment: args.comment.clone(),
            passkey: None,
        })?,
    )?;
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
    /// One request (all recent ones without it).
    id: Option<String>,
    /// Only these statuses (comma-separated: pending,approved,active,...).
    #[arg(long)]
    status: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    if let Some(id) = &args.id {
        let path = format!("/api/v1/requests/{id}");
        if args.json {
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
    if args.json {
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
    #[arg(long, requires = "totp")]
    role: Option<String>,
    /// Why.
    #[arg(long, default_value = "revoked from the CLI")]
    reason: String,
    /// A current TOTP code (revoking every session of a role is an administrator's
    /// step-up action).
    #[arg(long, value_name = "CODE")]
    totp: Option<String>,
}

pub fn revoke(args: &RevokeArgs) -> anyhow::Result<Outcome> {
    let v = match (&args.grant, &args.role) {
        (Some(g), _) => api_checked::<Revoked>(
            "POST",
            &format!("/api/v1/grants/{g}/revoke"),
            body(&ReasonBody {
                reason: args.reason.clone(),
            })?,
        )?,
        (None, Some(role)) => api_checked::<RevokedAll>(
            "POST",
            "/api/v1/roles/revoke-all",
            body(&RevokeAllBody {
                role_arn: role.clone(),
                reason: args.reason.clone(),
                totp: args.totp.clone().unwrap_or_default(),
                passkey: None,
            })?,
        )?,
        (None, None) => bail!("say what to revoke: `--grant ID` or `--role ARN`"),
    };
    print_json(&v)?;
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct BreakGlassArgs {
    #[command(flatten)]
    ask: AskArgs,
    /// The current code of your authenticator app (MFA step-up).
    #[arg(long, env = "BREAKGLASS_TOTP")]
    totp: String,
}

pub fn break_glass(args: &BreakGlassArgs) -> anyhow::Result<Outcome> {
    let v: RequestView = api(
        "POST",
        "/api/v1/break-glass",
        body(&args.ask.body(Some(&args.totp))?)?,
    )?;
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
    /// The break-glass request id.
    id: String,
    /// `appropriate` or `inappropriate`.
    #[arg(long, value_parser = ["appropriate", "inappropriate"])]
    outcome: String,
    /// Findings.
    #[arg(long, default_value = "")]
    notes: String,
    /// A current TOTP code (signing off is a step-up action).
    #[arg(long, value_name = "CODE")]
    totp: String,
}

pub fn review(args: &ReviewArgs) -> anyhow::Result<Outcome> {
    let outcome = match args.outcome.as_str() {
        "appropriate" => ReviewOutcome::Appropriate,
        "inappropriate" => ReviewOutcome::Inappropriate,
        other => bail!("unknown review outcome `{other}`: `appropriate` or `inappropriate`"),
    };
    let v: RequestView = api(
        "POST",
        &format!("/api/v1/requests/{}/review", args.id),
        body(&ReviewBody {
            outcome,
            notes: args.notes.clone(),
            totp: args.totp.clone(),
            passkey: None,
        })?,
    )?;
    say(&summary(&v));
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
