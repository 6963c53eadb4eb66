//! The broker's client commands: `login`, `request`, `approve`, `deny`, `status`,
//! `activate`, `revoke`, `break-glass`, `review`, `totp`, `creds`, `exec`, `console`.
//!
//! They speak the JSON API over HTTPS (or plain HTTP to a broker on this machine). `login` stores the broker URL and an API token in
//! `$XDG_CONFIG_HOME/breakglass/session.json` (else `~/.config/...`), readable by the user only.

#![allow(
    clippy::indexing_slicing,
    reason = "indexing a serde_json `Value` by key yields `Null` when absent; it never panics"
)]

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

fn call(
    url: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
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
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req
            .body(Full::new(Bytes::from(body)))
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
        let err = ApiError {
            status,
            code: value["error"]["code"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned(),
            message: value["error"]["message"]
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned),
        };
        if status >= 500 {
            return Err(DependencyFailed(anyhow::Error::new(err)).into());
        }
        Err(err.into())
    })
}

fn api(method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
    let s = load_session()?;
    call(&s.url, Some(&s.token), method, path, body)
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
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

fn summary(r: &Value) -> String {
    format!(
        "{}  {}  {} {} in {}  by {}  incident {}{}",
        r["id"].as_str().unwrap_or("?"),
        r["status_name"].as_str().unwrap_or("?"),
        r["spec"]["playbook"].as_str().unwrap_or("?"),
        r["spec"]["role"].as_str().unwrap_or("?"),
        r["spec"]["account"].as_str().unwrap_or("?"),
        r["spec"]["requester"].as_str().unwrap_or("?"),
        r["spec"]["incident"].as_str().unwrap_or("?"),
        r["grant"]["id"]
            .as_str()
            .map(|g| format!("  grant {g}"))
            .unwrap_or_default(),
    )
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The broker's URL.
    #[arg(long, env = "BREAKGLASS_URL", default_value = "http://127.0.0.1:8470")]
    url: String,
    /// Your username.
    #[arg(long, short = 'u', env = "BREAKGLASS_USER")]
    username: String,
    /// Token lifetime in hours (at most 2160).
    #[arg(long, default_value_t = 12)]
    ttl_hours: i64,
}

/// `breakglass login`: the password is read from `BREAKGLASS_PASSWORD` or one line of stdin.
pub fn login(args: &LoginArgs) -> anyhow::Result<Outcome> {
    let password = match std::env::var("BREAKGLASS_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            say(&format!("password for {}:", args.username));
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "cli".to_owned());
    let v = call(
        &args.url,
        None,
        "POST",
        "/api/v1/login",
        Some(
            json!({"username": args.username, "password": password, "token_name": format!("cli@{host}"), "ttl_hours": args.ttl_hours}),
        ),
    )?;
    let session = Session {
        url: args.url.clone(),
        username: args.username.clone(),
        token: v["token"]
            .as_str()
            .context("the broker returned no token")?
            .to_owned(),
        expires_at: v["expires_at"].as_str().unwrap_or_default().to_owned(),
    };
    let path = save_session(&session)?;
    say(&format!(
        "logged in as {} until {}; token saved to {}",
        session.username,
        session.expires_at,
        path.display()
    ));
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct TotpArgs {
    #[command(subcommand)]
    command: TotpCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TotpCommand {
    /// Enrol an authenticator app; prints the seed and the otpauth:// URI once. Replacing
    /// an enrolled authenticator needs a current code from it.
    Enroll {
        /// A current code of the authenticator being replaced.
        #[arg(long, value_name = "CODE")]
        current_code: Option<String>,
    },
}

pub fn totp(args: &TotpArgs) -> anyhow::Result<Outcome> {
    let TotpCommand::Enroll { current_code } = &args.command;
    let body = current_code
        .as_ref()
        .map(|code| json!({ "current_code": code }));
    let v = api("POST", "/api/v1/totp/enroll", body)?;
    print_json(&v)?;
    say(
        "add the secret (or the otpauth URI as a QR code) to your authenticator app; it is not shown again",
    );
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
    fn body(&self) -> anyhow::Result<Value> {
        Ok(json!({
            "playbook": self.playbook, "role": self.role, "account": self.account,
            "duration_seconds": parse_duration(&self.duration)?, "incident": self.incident,
            "justification": self.justification,
        }))
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
    let v = api("POST", "/api/v1/requests", Some(args.ask.body()?))?;
    let id = v["id"].as_str().unwrap_or_default().to_owned();
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
        let v = api("GET", &format!("/api/v1/requests/{id}"), None)?;
        match v["status_name"].as_str().unwrap_or_default() {
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
    writeln!(std::io::stdout().lock(), "{id}")?;
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
    let r = api("GET", &format!("/api/v1/requests/{}", args.id), None)?;
    say(&format!("approving: {}", summary(&r)));
    let digest = r["digest"].as_str().context("the request has no digest")?;
    let v = api(
        "POST",
        &format!("/api/v1/requests/{}/approve", args.id),
        Some(json!({"digest": digest, "totp": args.totp, "comment": args.comment})),
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

pub fn deny(args: &ReasonArgs) -> anyhow::Result<Outcome> {
    let v = api(
        "POST",
        &format!("/api/v1/requests/{}/deny", args.id),
        Some(json!({"reason": args.reason})),
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
    let v = api(
        "POST",
        &format!("/api/v1/requests/{}/activate", args.id),
        None,
    )?;
    let grant = v["grant"]["id"].as_str().unwrap_or_default();
    println_id(grant)?;
    say(&format!(
        "grant {grant} is active until {}; next: breakglass creds --grant {grant}",
        v["grant"]["end"].as_str().unwrap_or("?")
    ));
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
        let v = api("GET", &format!("/api/v1/requests/{id}"), None)?;
        if args.json {
            print_json(&v)?;
        } else {
            writeln!(std::io::stdout().lock(), "{}", summary(&v))?;
        }
        return Ok(Outcome::Success);
    }
    let path = match &args.status {
        Some(s) => format!("/api/v1/requests?status={s}"),
        None => "/api/v1/requests".to_owned(),
    };
    let v = api("GET", &path, None)?;
    if args.json {
        print_json(&v)?;
    } else {
        let mut out = std::io::stdout().lock();
        for r in v["requests"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
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
    /// Revoke every session of this role ARN (administrators only).
    #[arg(long)]
    role: Option<String>,
    /// Why.
    #[arg(long, default_value = "revoked from the CLI")]
    reason: String,
}

pub fn revoke(args: &RevokeArgs) -> anyhow::Result<Outcome> {
    let v = match (&args.grant, &args.role) {
        (Some(g), _) => api(
            "POST",
            &format!("/api/v1/grants/{g}/revoke"),
            Some(json!({"reason": args.reason})),
        )?,
        (None, Some(role)) => api(
            "POST",
            "/api/v1/roles/revoke-all",
            Some(json!({"role_arn": role, "reason": args.reason})),
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
    let mut body = args.ask.body()?;
    if let Some(o) = body.as_object_mut() {
        o.insert("totp".into(), json!(args.totp));
    }
    let v = api("POST", "/api/v1/break-glass", Some(body))?;
    let grant = v["grant"]["id"].as_str().unwrap_or_default();
    println_id(grant)?;
    say(&format!(
        "EMERGENCY ACCESS ACTIVE: {}; every channel has been alerted and a review is required. Next: breakglass creds --grant {grant}",
        summary(&v)
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
}

pub fn review(args: &ReviewArgs) -> anyhow::Result<Outcome> {
    let v = api(
        "POST",
        &format!("/api/v1/requests/{}/review", args.id),
        Some(json!({"outcome": args.outcome, "notes": args.notes})),
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
    let v = api(
        "POST",
        &format!("/api/v1/grants/{}/credentials", args.grant),
        None,
    )?;
    let mut out = std::io::stdout().lock();
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
    let v = api(
        "POST",
        &format!("/api/v1/grants/{}/credentials", args.grant),
        None,
    )?;
    let Some((program, rest)) = args.command.split_first() else {
        bail!(
            "give the command after `--`, e.g. `breakglass exec --grant g-1 -- aws sts get-caller-identity`"
        );
    };
    let field = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .with_context(|| format!("the broker's answer lacks `{k}`"))
    };
    let status = std::process::Command::new(program)
        .args(rest)
        .env("AWS_ACCESS_KEY_ID", field("AccessKeyId")?)
        .env("AWS_SECRET_ACCESS_KEY", field("SecretAccessKey")?)
        .env("AWS_SESSION_TOKEN", field("SessionToken")?)
        .env("AWS_CREDENTIAL_EXPIRATION", field("Expiration")?)
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
    let v = api(
        "POST",
        &format!("/api/v1/grants/{}/console", args.grant),
        None,
    )?;
    writeln!(
        std::io::stdout().lock(),
        "{}",
        v["url"].as_str().unwrap_or_default()
    )?;
    say(
        "open the URL in a browser within 15 minutes; it signs you in to the console as the grant's role",
    );
    Ok(Outcome::Success)
}
