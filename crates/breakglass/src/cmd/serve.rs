//! `breakglass serve` (the broker) and `breakglass user add` (bootstrap of the first admin
//! straight into the store).

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use breakglass_aws::cloud::{AccountRoles, AwsCloud, FederationOptions};
use breakglass_aws::sdk::{self, AwsOptions};
use breakglass_aws::sns::SnsPublisher;
use breakglass_core::app::{self, App};
use breakglass_core::audit::ChainKey;
use breakglass_core::broker::Broker;
use breakglass_core::cloud::SharedCloud;
use breakglass_core::ports::{Clock, IdSource};
use breakglass_core::request::Settings;
use breakglass_core::rules::Rules;
use breakglass_server::anchorer::Anchorer;
use breakglass_server::app::{TrustedProxies, TrustedProxy};
use breakglass_server::auth::Auth;
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::oidc::OidcProvider;
use breakglass_server::auth::seal::SealKey;
use breakglass_server::chat::SlackApp;
use breakglass_server::console::ConsoleSettings;
use breakglass_server::notifier::{Notifier, NotifierSettings};
use breakglass_server::slack::deliver::SlackChannel;
use breakglass_server::worker::WorkerConfig;
use breakglass_server::{RandomIds, SystemClock};
use breakglass_store::SqlStore;
use time::Duration;

use super::config::ConfigFile;
use super::duration_arg;
use super::logging::{self, LogFormat};
use crate::exit::{DependencyFailed, Outcome};

/// Where the TOTP sealing key comes from.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// A file holding the 64-hex-digit key that encrypts TOTP seeds at rest (make one with
    /// `openssl rand -hex 32 > totp.key; chmod 600 totp.key`).
    #[arg(long, value_name = "FILE")]
    totp_key_file: Option<PathBuf>,
    /// The environment variable holding that key, when no file is given.
    #[arg(long, value_name = "NAME", default_value = "BREAKGLASS_TOTP_KEY")]
    totp_key_env: String,
    /// For an audit chain begun before it was keyed: its last unkeyed record. Every later
    /// record must be keyed (0, the default: every record), so nobody without the key can
    /// rewrite the chain as unkeyed records.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    audit_keyed_after: u64,
}

impl KeyArgs {
    /// The last record of the chain's unkeyed beginning (`--audit-keyed-after`).
    pub fn audit_keyed_after(&self) -> u64 {
        self.audit_keyed_after
    }

    /// The audit chain's key, derived from `key`, with the chain's unkeyed beginning.
    pub fn chain_key(&self, key: &SealKey) -> ChainKey {
        key.chain_key().keyed_after(self.audit_keyed_after)
    }

    /// The key, if a file is named or the variable is set (tools that can run without it).
    pub fn load_optional(&self) -> anyhow::Result<Option<SealKey>> {
        if self.totp_key_file.is_none() && std::env::var_os(&self.totp_key_env).is_none() {
            return Ok(None);
        }
        self.load().map(Some)
    }

    fn load(&self) -> anyhow::Result<SealKey> {
        let text = match &self.totp_key_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the TOTP key file `{}`", path.display()))?,
            None => std::env::var(&self.totp_key_env).with_context(|| {
                format!(
                    "no TOTP key: set `{}` or pass `--totp-key-file` (make one with `openssl rand -hex 32`)",
                    self.totp_key_env
                )
            })?,
        };
        Ok(SealKey::from_hex(&text)?)
    }
}

/// The store URL, with the same default as the other store commands.
#[derive(Debug, clap::Args)]
pub struct StoreArg {
    /// The store: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "BREAKGLASS_STORE",
        default_value = "sqlite://breakglass.db",
        value_name = "URL"
    )]
    store: String,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigFile,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    key: KeyArgs,
    /// The address to listen on (keep it on loopback behind a TLS proxy).
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// A proxy in front of the broker whose `X-Forwarded-For` names the client: an address
    /// or a CIDR block (`127.0.0.1/32`, `10.0.0.0/8`, `::1`); repeat for several. The login
    /// limits key on the client so named; without this flag the TCP peer is the client and
    /// `X-Forwarded-For` is ignored (behind a proxy, every client would then share its
    /// address).
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<TrustedProxy>,
    #[command(flatten)]
    aws: AwsArgs,
    /// How long a request may wait for approvers before it times out (`1h`, `30m`, `90s`).
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = duration_arg)]
    pending_timeout: Duration,
    /// How long an approved request may wait to be activated before it lapses.
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = duration_arg)]
    activation_window: Duration,
    /// How long the TOTP step-up that activated a break-glass grant also covers its first
    /// credentials or console sign-in; later, that first mint asks for a code of its own.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = duration_arg)]
    step_up_window: Duration,
    /// How often the expiry worker ends grants, times out requests and prunes revocations.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = duration_arg)]
    worker_interval: Duration,
    /// The log on stderr: `text` for people, `json` (one object a line) for log collectors.
    /// Levels come from `RUST_LOG` (default `info`; e.g. `RUST_LOG=breakglass_server=debug`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    log_format: LogFormat,
    #[command(flatten)]
    anchor: AnchorArgs,
    #[command(flatten)]
    permissions: PermissionArgs,
}

/// What the broker computes what a request allows from, and checks a narrowed session
/// policy with.
#[derive(Debug, Clone, clap::Args)]
pub struct PermissionArgs {
    /// The action catalog (iam-data's `data` directory, the Service Authorization
    /// Reference as JSON): with it, requesters may narrow a playbook's session policy and
    /// approvers see what a request really allows; without it, narrowing is refused.
    #[arg(long, value_name = "DIR", env = "BREAKGLASS_CATALOG")]
    catalog: Option<PathBuf>,
    /// A directory of AWS managed policy documents (`<PolicyName>.json`) the roles use; a
    /// managed policy without one (but AdministratorAccess) is taken to allow everything.
    #[arg(long, value_name = "DIR", requires = "catalog")]
    managed_policies: Option<PathBuf>,
}

impl PermissionArgs {
    /// The permission model `config`'s roles and the catalog make, if a catalog was given.
    pub fn model(
        &self,
        config: &breakglass_config::Config,
    ) -> anyhow::Result<Option<Arc<breakglass_core::model::PermissionModel>>> {
        let Some(dir) = &self.catalog else {
            return Ok(None);
        };
        let actions = super::policy::load_catalog(dir)?;
        let managed = super::policy::load_managed(self.managed_policies.as_deref())?;
        let roles = breakglass_config::report::role_policies(config, &managed);
        Ok(Some(Arc::new(
            breakglass_core::model::PermissionModel::new(Arc::new(actions), roles),
        )))
    }
}

/// The S3 bucket and prefix of the audit anchors (`serve` writes them, `audit verify`
/// reads the latest).
#[derive(Debug, clap::Args)]
pub struct AnchorBucket {
    /// The S3 bucket of the audit chain's anchors (it must have Object Lock enabled): each
    /// anchor is locked in compliance mode, so whoever can write the database cannot cut
    /// the chain short unnoticed.
    #[arg(long, env = "BREAKGLASS_AUDIT_ANCHOR_BUCKET", value_name = "BUCKET")]
    pub anchor_bucket: Option<String>,
    /// The key prefix of the anchors in that bucket.
    #[arg(
        long,
        default_value = "breakglass/audit-anchors/",
        value_name = "PREFIX"
    )]
    pub anchor_prefix: String,
}

/// Where and how often the audit chain's head is anchored outside the database.
#[derive(Debug, clap::Args)]
pub struct AnchorArgs {
    /// Anchor the head in this bucket (`breakglass audit verify --anchor-bucket` checks the
    /// chain against the latest anchor).
    #[command(flatten)]
    pub bucket: AnchorBucket,
    /// How often the head is anchored (when it moved): records written since the last
    /// anchor are what a truncation could remove unnoticed.
    #[arg(long, default_value = "1m", value_name = "DURATION", value_parser = duration_arg)]
    pub anchor_interval: Duration,
    /// How long each anchor stays locked (compliance mode: not even the account's root user
    /// can delete it sooner).
    #[arg(long, default_value_t = 400, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub anchor_retention_days: u32,
}

impl AnchorArgs {
    /// The bucket's anchors, made with `key`, if a bucket is named.
    pub fn anchors(
        &self,
        sdk: &breakglass_aws::sdk::SdkConfig,
        key: ChainKey,
    ) -> Option<breakglass_aws::anchor::S3Anchors> {
        let retention = Duration::days(i64::from(self.anchor_retention_days));
        self.bucket.anchor_bucket.as_ref().map(|bucket| {
            breakglass_aws::anchor::S3Anchors::new(
                sdk,
                bucket,
                &self.bucket.anchor_prefix,
                retention,
                key,
            )
        })
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The AWS endpoint, region and federation endpoint the broker talks to.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// Send every AWS call to this endpoint instead of AWS (e.g. the moto emulator).
    #[arg(long, env = "BREAKGLASS_AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The region for STS calls; defaults to the security account's home region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The console federation endpoint.
    #[arg(
        long,
        default_value = "https://signin.aws.amazon.com/federation",
        value_name = "URL"
    )]
    pub federation_endpoint: String,
}

/// The broker's parts, opened from the config and the flags: what `serve` runs and what a
/// drill from the command line walks.
pub struct Opened {
    pub clock: Arc<dyn Clock>,
    pub app: Arc<breakglass_server::app::AppService>,
    pub auth: Arc<breakglass_server::app::AuthService>,
    pub slack: Option<Arc<SlackApp>>,
    pub notifier: Option<Notifier<SqlStore, Arc<dyn Clock>>>,
    pub sdk: breakglass_aws::sdk::SdkConfig,
    pub chain_key: ChainKey,
    pub holder: String,
}

/// Opens the store (its chain key checked), and builds the broker, the AWS adapter, the
/// application, authentication, the Slack app and the notifier as `config` says.
pub async fn open(
    config: &breakglass_config::Config,
    store_arg: &StoreArg,
    key_args: &KeyArgs,
    aws: &AwsArgs,
    issuer: String,
    settings: Settings,
    permissions: Option<Arc<breakglass_core::model::PermissionModel>>,
) -> anyhow::Result<Opened> {
    let key = key_args.load()?;
    let chain_key = key_args.chain_key(&key);
    let mut rules =
        Rules::new(config.catalog(), &[]).context("the config's rules do not compile")?;
    if let Some(model) = permissions {
        rules = rules.with_permissions(model);
    }
    let store = SqlStore::open(&store_arg.store)
        .await
        .map_err(|e| DependencyFailed(anyhow::Error::new(e)))?
        .with_chain_key(chain_key.clone());
    app::check_chain_key(&store)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn IdSource> = Arc::new(RandomIds);
    let broker = Arc::new(Broker::new(
        store.clone(),
        Arc::clone(&clock),
        ids,
        rules,
        settings,
    ));
    let options = AwsOptions {
        endpoint_url: aws.endpoint_url.clone(),
        region: aws.region.clone().or_else(|| {
            config
                .account(&config.security_account)
                .map(|a| a.home_region().to_owned())
        }),
        profile: None,
    };
    let sdk = sdk::load(&options).await;
    let cloud = AwsCloud::new(
        &sdk,
        FederationOptions {
            endpoint: aws.federation_endpoint.clone(),
            issuer,
        },
        // Revocations in other accounts go through the narrow revoker role, never the
        // deploy role.
        AccountRoles::revoker(config),
    )
    .with_organization(
        config
            .organization
            .as_ref()
            .map(|o| o.management_account.clone()),
    );
    let holder = format!(
        "serve-{}-{}",
        std::process::id(),
        breakglass_server::random::random_hex(4)
    );
    // Secrets the config names are read from this process's environment.
    let sns = config
        .notifications
        .as_ref()
        .and_then(|n| n.sns_topic_arn.as_deref())
        .map(|topic| SnsPublisher::shared(&sdk, topic));
    let notifier_settings =
        NotifierSettings::from_config(config, sns, |var| std::env::var(var).ok())?;
    let notifier_store = store.clone();
    let cloud: SharedCloud = Arc::new(cloud);
    let app = Arc::new(App::new(broker, cloud));
    let mut auth = Auth::new(store, Arc::clone(&clock), key, Limits::default())
        .with_local_accounts(config.auth.local, config.auth.oidc.is_some());
    if let Some(passkeys) = &config.auth.passkeys {
        let rp = breakglass_server::auth::RelyingParty::new(passkeys)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        auth = auth.with_passkeys(rp);
    }
    let auth = Arc::new(auth);
    let slack = match (&config.slack, &config.notifications) {
        (Some(slack), Some(n)) => Some(Arc::new(SlackApp::new(
            slack.clone(),
            &n.console_url,
            |var| std::env::var(var).ok(),
        )?)),
        _ => None,
    };
    let notifier = notifier_settings
        .map(|mut settings| {
            settings.chat = slack.as_ref().map(|slack| {
                Arc::new(SlackChannel::new(
                    Arc::clone(&app),
                    Arc::clone(&auth),
                    Arc::clone(slack),
                )) as Arc<dyn breakglass_server::notifier::ChatChannel>
            });
            Notifier::new(
                notifier_store,
                Arc::clone(&clock),
                settings,
                config.responders.clone(),
                format!("{holder}-notify"),
            )
        })
        .transpose()?;
    Ok(Opened {
        clock,
        app,
        auth,
        slack,
        notifier,
        sdk,
        chain_key,
        holder,
    })
}

/// The preflight checks of `config`, reading the accounts through `sdk` (the caller's own
/// account directly, the others through the deploy role), at `clock`'s time.
pub fn preflight(
    config: Arc<breakglass_config::Config>,
    sdk: breakglass_aws::sdk::SdkConfig,
    clock: Arc<dyn Clock>,
) -> breakglass_server::drills::Preflight {
    Arc::new(move || {
        let config = Arc::clone(&config);
        let sdk = sdk.clone();
        let now = clock.now();
        Box::pin(async move {
            let mut options = breakglass_aws::preflight::PreflightOptions::new(now);
            options.password_max_age = config.drills.password_max_age;
            match breakglass_aws::preflight::preflight(&sdk, &config, &options).await {
                Ok(p) => p.steps,
                Err(e) => vec![breakglass_core::drill::Step::checked(
                    "preflight",
                    now,
                    0,
                    vec![breakglass_core::drill::Finding::new(
                        "accounts_unreachable",
                        "accounts",
                        format!("the preflight checks could not read the accounts: {e}"),
                    )],
                )],
            }
        })
    })
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    logging::init(args.log_format)?;
    let config = args.config.load()?;
    runtime()?.block_on(async {
        let Opened {
            clock,
            app,
            auth,
            slack,
            notifier,
            sdk,
            chain_key,
            holder,
        } = open(
            &config,
            &args.store,
            &args.key,
            &args.aws,
            format!("http://{}", args.listen),
            Settings {
                pending_timeout: args.pending_timeout,
                activation_window: args.activation_window,
                step_up_window: args.step_up_window,
                ..Settings::default()
            },
            args.permissions.model(&config)?,
        )
        .await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))
            .map_err(DependencyFailed)?;
        tracing::info!(
            listen = %args.listen,
            store = %breakglass_store::redact_url(&args.store.store),
            "serving http://{}",
            args.listen
        );
        if notifier.is_none() {
            tracing::warn!(
                "the config has no [notifications] section: notifications wait in the outbox undelivered"
            );
        }
        let console = ConsoleSettings {
            public_url: config.notifications.as_ref().map(|n| n.console_url.clone()),
            trusted_proxies: TrustedProxies::new(args.trusted_proxies.iter().copied()),
        };
        // The identity provider is discovered on first use, so the broker (and its local
        // accounts, the way in when the provider is down) starts without it.
        let oidc = match &config.auth.oidc {
            Some(oidc) => {
                let secret = std::env::var(&oidc.client_secret_env).with_context(|| {
                    format!(
                        "`[auth.oidc]` is configured but the variable {} holding its client secret is not set",
                        oidc.client_secret_env
                    )
                })?;
                tracing::info!(issuer = %oidc.issuer, redirect_url = %oidc.redirect_url, "SSO sign-in through the identity provider");
                Some(Arc::new(OidcProvider::new(
                    oidc.clone(),
                    secret,
                    config.responders.clone(),
                    Arc::clone(&clock),
                )))
            }
            None => None,
        };
        let anchorer = match args.anchor.anchors(&sdk, chain_key) {
            Some(anchors) => {
                anchors.check().await.map_err(|e| DependencyFailed(anyhow::anyhow!(e)))?;
                let interval = args
                    .anchor
                    .anchor_interval
                    .try_into()
                    .context("the anchor interval does not fit")?;
                Some(
                    Anchorer::start(Arc::clone(&app), anchors.shared(), interval)
                        .await
                        .map_err(|e| DependencyFailed(anyhow::anyhow!(e)))?,
                )
            }
            None => {
                tracing::warn!(
                    "no --anchor-bucket: the audit chain is keyed but not anchored outside the database, so cutting records off its end would go unnoticed"
                );
                None
            }
        };
        let mut worker = WorkerConfig::new(holder.clone());
        worker.interval = args
            .worker_interval
            .try_into()
            .context("the worker interval does not fit")?;
        let drills = match config.drills.every {
            Some(every) => Some(breakglass_server::drills::Scheduler::new(
                Arc::clone(&app),
                breakglass_server::drills::DrillOptions {
                    playbooks: config.drills.playbooks.clone(),
                    alert_timeout: config
                        .drills
                        .alert_timeout
                        .try_into()
                        .context("the drill alert timeout does not fit")?,
                    trigger: breakglass_core::drill::Trigger::Scheduled,
                    notifications: notifier.is_some(),
                },
                every.try_into().context("the drill interval does not fit")?,
                preflight(Arc::new(config.clone()), sdk.clone(), Arc::clone(&clock)),
                format!("{holder}-drill"),
            )),
            None => None,
        };
        // CloudTrail, when `[activity]` asks: a reader that cannot start yet (the reader role
        // or the queue missing) is retried; the broker serves meanwhile.
        let (stop_activity, activity_stopped) = tokio::sync::watch::channel(false);
        if config.activity.is_some() {
            let (config, sdk, app) = (config.clone(), sdk.clone(), Arc::clone(&app));
            let holder = format!("{holder}-activity");
            tokio::spawn(async move {
                loop {
                    match crate::activity::watcher(&config, &sdk, Arc::clone(&app), holder.clone()).await {
                        Ok(Some(w)) => {
                            tracing::info!("reading CloudTrail as `[activity]` says");
                            w.run(activity_stopped).await;
                            return;
                        }
                        Ok(None) => return,
                        Err(e) => {
                            tracing::error!(error = format!("{e:#}"), "cannot read CloudTrail yet; retrying in 30 s");
                            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        }
                    }
                }
            });
        }
        let served = breakglass_server::serve::serve(
            listener,
            app,
            auth,
            console,
            oidc,
            slack,
            worker,
            notifier,
            anchorer,
            drills,
        )
            .await;
        let _ = stop_activity.send(true);
        served.context("the server failed").map_err(DependencyFailed)?;
        Ok(Outcome::Success)
    })
}

/// Manage local users directly in the store (bootstrap; afterwards use the API).
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from stdin (one line), never from arguments.
    ///
    /// Example: `printf '%s\n' "$PASSWORD" | breakglass user add admin --admin`
    Add {
        /// The username (a responder's username in the config, to request or approve).
        username: String,
        /// May manage users and revoke every session of a role.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Invite a user (admins, through the broker): prints a one-time link, valid 72 hours,
    /// through which they set their own password.
    Invite {
        /// The username (a responder's username in the config, to request or approve).
        username: String,
        /// May manage users and revoke every session of a role.
        #[arg(long)]
        admin: bool,
        /// A current code from your own TOTP authenticator.
        #[arg(long, value_name = "CODE")]
        totp: String,
        #[command(flatten)]
        out: super::client::JsonArg,
    },
    /// Disable a user (admins, through the broker): no sign-in, and every token and console
    /// session of theirs stops at once.
    Disable(AdministerArgs),
    /// Enable a disabled user again (admins, through the broker).
    Enable(AdministerArgs),
    /// Revoke every token and console session of a user (admins, through the broker).
    RevokeTokens(AdministerArgs),
    /// Remove a user's authenticator and revoke their tokens; they enrol again (admins,
    /// through the broker).
    ResetSecondFactor(AdministerArgs),
    /// Change your own password through the broker: the current one from
    /// `BREAKGLASS_PASSWORD` (or stdin), the new one from `BREAKGLASS_NEW_PASSWORD` (or
    /// stdin). Your other sessions and tokens are signed out.
    Password {
        /// A current code from your TOTP authenticator.
        #[arg(long, value_name = "CODE")]
        totp: String,
        #[command(flatten)]
        out: super::client::JsonArg,
    },
}

/// Whom to change, and the administrator's step-up.
#[derive(Debug, clap::Args)]
pub struct AdministerArgs {
    /// The user.
    username: String,
    /// A current code from your own TOTP authenticator.
    #[arg(long, value_name = "CODE")]
    totp: String,
    #[command(flatten)]
    out: super::client::JsonArg,
}

pub fn run_user(args: &UserArgs) -> anyhow::Result<Outcome> {
    use super::client::{administer, change_password, invite};
    let (username, admin, store, key) = match &args.command {
        UserCommand::Add {
            username,
            admin,
            store,
            key,
        } => (username, admin, store, key),
        UserCommand::Disable(a) => return administer(&a.username, "disable", &a.totp, a.out.json),
        UserCommand::Enable(a) => return administer(&a.username, "enable", &a.totp, a.out.json),
        UserCommand::RevokeTokens(a) => {
            return administer(&a.username, "revoke-tokens", &a.totp, a.out.json);
        }
        UserCommand::ResetSecondFactor(a) => {
            return administer(&a.username, "reset-second-factor", &a.totp, a.out.json);
        }
        UserCommand::Password { totp, out } => return change_password(totp, out.json),
        UserCommand::Invite {
            username,
            admin,
            totp,
            out,
        } => return invite(username, *admin, totp, out.json),
    };
    let key_args = key;
    let key = key_args.load()?;
    let mut password = String::new();
    std::io::stdin()
        .take(1024)
        .read_to_string(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.lines().next().unwrap_or_default().to_owned();
    runtime()?.block_on(async {
        let store = SqlStore::open(&store.store)
            .await
            .map_err(|e| DependencyFailed(anyhow::Error::new(e)))?
            .with_chain_key(key_args.chain_key(&key));
        app::check_chain_key(&store)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        let auth = Auth::new(store, Arc::new(SystemClock), key, Limits::default());
        auth.add_user(username, &password, *admin, None).await?;
        #[expect(clippy::print_stderr, reason = "the CLI confirms on stderr")]
        {
            eprintln!(
                "created user `{username}`{}",
                if *admin { " (admin)" } else { "" }
            );
        }
        Ok(Outcome::Success)
    })
}
