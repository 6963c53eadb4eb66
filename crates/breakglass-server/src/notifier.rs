//! The notification worker: delivers outbox messages to webhooks, Slack, Teams, SNS and
//! email.
//!
//! Each pass claims due messages under a lease (so replicas never send the same message at
//! the same time), sends each to every channel its audience reaches that has not taken it
//! yet, and settles it: delivered, retried later with exponential backoff, or dead-lettered
//! with an audit record and an alert. Delivery is at-least-once; every message carries its
//! idempotency key (`Idempotency-Key` header, `id` field, SNS attribute, email footer).
//!
//! Each pass also commits the reminders that only time triggers (a grant ending within 10
//! minutes, an overdue break-glass review), once each.
//!
//! What to send and when to retry is decided in `breakglass_core::delivery`; this module
//! only talks to the network. Errors name the channel, never its URL (Slack and Teams
//! webhook URLs are secrets) nor any credential.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use breakglass_config::ResponderConfig;
use breakglass_core::cloud::Secret;
use breakglass_core::delivery::{
    self, AfterFailure, Channel, Channels, RetryPolicy, SIGNATURE_HEADER,
};
use breakglass_core::outbox::OutboxMessage;
use breakglass_core::ports::{
    Clock, OutboxSettle, Store, StoreError, TopicMessage, TopicPublisher,
};
use breakglass_core::reminders;
use breakglass_core::session::RequestFilter;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::Duration;
use tracing::Instrument as _;

/// A chat app the worker hands notifications to (the Slack app: `crate::chat::slack`),
/// which posts or updates the messages about each request. A trait object, so the worker
/// needs no knowledge of the application it reads requests from.
pub trait ChatChannel: Send + Sync + std::fmt::Debug {
    /// Posts or updates what `message` calls for; an error (no secrets) retries the message.
    fn deliver<'a>(
        &'a self,
        message: &'a OutboxMessage,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// Requests one reminder pass reads at most, per kind.
const REMINDER_BATCH: u32 = 1_000;

/// A generic webhook and the key its bodies are signed with.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The URL (https in production).
    pub url: String,
    /// The HMAC key.
    pub secret: Secret,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text: only for a relay on the same host.
    None,
    /// STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where email goes out.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// The relay's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// The sender address.
    pub from: String,
    /// User name and password, if the relay wants them.
    pub credentials: Option<(String, Secret)>,
}

/// Everything the worker needs to know about its channels.
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// The console's base URL, linked from every message.
    pub console_url: String,
    /// Generic webhooks.
    pub webhooks: Vec<WebhookTarget>,
    /// A Slack-compatible incoming webhook URL (a secret).
    pub slack_url: Option<Secret>,
    /// A Microsoft Teams Workflows incoming-webhook URL (a secret: it carries its own
    /// signature).
    pub teams_url: Option<Secret>,
    /// The SNS topic publisher (built by breakglass-aws: `sns::SnsPublisher::shared`).
    pub sns: Option<Arc<dyn TopicPublisher>>,
    /// The Slack app, when `[slack]` is configured.
    pub chat: Option<Arc<dyn ChatChannel>>,
    /// The SMTP relay.
    pub smtp: Option<SmtpSettings>,
    /// Where security-team email goes.
    pub security_team_emails: Vec<String>,
    /// Retries and dead-lettering.
    pub retry: RetryPolicy,
    /// How long one HTTP or SMTP exchange may take.
    pub send_timeout: StdDuration,
    /// How long a claim holds.
    pub lease: Duration,
    /// Messages per pass.
    pub batch: u32,
    /// How long after a break-glass grant ends its review is overdue.
    pub review_due: Duration,
}

impl NotifierSettings {
    /// Settings with no channel, default retries, a 10-second send timeout, a 2-minute
    /// lease and batches of 50.
    pub fn new(console_url: impl Into<String>) -> Self {
        Self {
            console_url: console_url.into(),
            webhooks: Vec::new(),
            slack_url: None,
            teams_url: None,
            sns: None,
            chat: None,
            smtp: None,
            security_team_emails: Vec::new(),
            retry: RetryPolicy::default(),
            send_timeout: StdDuration::from_secs(10),
            lease: Duration::minutes(2),
            batch: 50,
            review_due: Duration::hours(24),
        }
    }

    fn channels(&self) -> Channels {
        Channels {
            webhooks: self.webhooks.len(),
            slack: self.slack_url.is_some(),
            teams: self.teams_url.is_some(),
            slack_app: self.chat.is_some(),
            sns: self.sns.is_some(),
            email: self.smtp.is_some(),
            security_team_emails: self.security_team_emails.clone(),
        }
    }
}

/// Why the worker could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for webhooks: {0}")]
    Http(String),
    /// The SMTP settings are unusable.
    #[error("SMTP relay `{host}`: {detail}")]
    Smtp {
        /// The relay.
        host: String,
        /// What is wrong.
        detail: String,
    },
    /// The sender address does not parse.
    #[error("the notification sender address `{0}` is not a valid email address")]
    From(String),
    /// A secret the config names is not in the environment.
    #[error(
        "{what} is read from the environment variable `{var}`, which is not set: set it before starting the broker"
    )]
    MissingSecret {
        /// The variable.
        var: String,
        /// What it holds.
        what: &'static str,
    },
    /// SNS is configured but no AWS configuration was given.
    #[error("notifications go to SNS topic `{0}`, but the broker has no AWS configuration")]
    NoAws(String),
    /// The SNS publisher given is for another topic than the config names.
    #[error(
        "notifications go to SNS topic `{configured}`, but the publisher given publishes to `{given}`"
    )]
    OtherTopic {
        /// The config's `notifications.sns_topic_arn`.
        configured: String,
        /// The publisher's topic.
        given: String,
    },
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Messages every channel took.
    pub delivered: usize,
    /// Messages to be tried again.
    pub retried: usize,
    /// Messages given up on.
    pub dead_lettered: usize,
    /// Messages whose claim another worker took over (lease expired mid-send).
    pub lost_claims: usize,
}

/// The notification worker.
pub struct Notifier<S, C> {
    store: S,
    clock: C,
    settings: NotifierSettings,
    channels: Channels,
    responders: Vec<ResponderConfig>,
    holder: String,
    http: reqwest::Client,
    mailer: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl<S: Store, C: Clock> Notifier<S, C> {
    /// A worker named `holder` (unique per process: it owns its claims) over `store`.
    /// `responders` resolves approver groups and users to email addresses.
    pub fn new(
        store: S,
        clock: C,
        settings: NotifierSettings,
        responders: Vec<ResponderConfig>,
        holder: impl Into<String>,
    ) -> Result<Self, NotifierError> {
        let http = reqwest::Client::builder()
            .timeout(settings.send_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("breakglass/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifierError::Http(e.without_url().to_string()))?;
        let mailer = settings
            .smtp
            .as_ref()
            .map(|smtp| mailer(smtp, settings.send_timeout))
            .transpose()?;
        Ok(Self {
            channels: settings.channels(),
            store,
            clock,
            settings,
            responders,
            holder: holder.into(),
            http,
            mailer,
        })
    }

    /// The store the worker reads.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Claims and delivers one batch of due messages.
    pub async fn run_once(&self) -> Result<PassReport, StoreError> {
        let now = self.clock.now();
        let claimed = self
            .store
            .outbox_claim(
                now,
                &self.holder,
                now + self.settings.lease,
                self.settings.batch,
            )
            .await?;
        let mut report = PassReport::default();
        for message in claimed {
            let settle = self.deliver(&message).await;
            let kind = match &settle {
                OutboxSettle::Delivered { .. } => &mut report.delivered,
                OutboxSettle::Retry { .. } => &mut report.retried,
                OutboxSettle::DeadLetter { .. } => &mut report.dead_lettered,
            };
            if self
                .store
                .outbox_settle(message.id, &self.holder, settle)
                .await?
            {
                *kind += 1;
            } else {
                tracing::warn!(
                    outbox_id = message.id,
                    "claim taken over by another worker while sending"
                );
                report.lost_claims += 1;
            }
        }
        Ok(report)
    }

    /// Commits the reminders due now (grants ending within 10 minutes, overdue reviews),
    /// each once however often this runs and on however many replicas. Returns how many
    /// were new.
    pub async fn remind(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        // Grants ending within the warning window come from the deadline index (a grant's
        // deadline is its end), not from a scan of every active request.
        let mut requests = Vec::new();
        for id in self
            .store
            .due(now + reminders::EXPIRY_WARNING, REMINDER_BATCH)
            .await?
        {
            if let Some(r) = self.store.get(&id).await? {
                requests.push(r.value);
            }
        }
        let reviews = RequestFilter {
            review_outstanding: true,
            limit: Some(REMINDER_BATCH),
            ..RequestFilter::default()
        };
        requests.extend(
            self.store
                .requests(&reviews)
                .await?
                .into_iter()
                .map(|v| v.value),
        );
        let mut sent = 0;
        for r in reminders::due(&requests, now, self.settings.review_due) {
            if self.store.commit_once(&r.key, r.commit).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Runs passes every `interval` until `shutdown` turns true. A store error is reported
    /// on `errors` and the next pass tries again.
    pub async fn run(
        &self,
        interval: StdDuration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        errors: impl Fn(&StoreError),
    ) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.remind().await {
                errors(&e);
            }
            match self.run_once().await {
                // A full batch: there may be more waiting, go again at once.
                Ok(r)
                    if r.delivered + r.retried + r.dead_lettered + r.lost_claims
                        >= self.settings.batch as usize => {}
                Ok(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    errors(&e);
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
    }

    /// Sends `message` to each channel that has not taken it and decides what comes next.
    async fn deliver(&self, message: &OutboxMessage) -> OutboxSettle {
        let targets =
            delivery::route_message(&message.notification, &self.channels, &self.responders);
        let mut done: BTreeSet<String> = message.done_channels.iter().cloned().collect();
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        for channel in &targets {
            let name = channel.name();
            if done.contains(&name) {
                continue;
            }
            // One span per attempt on one channel; never the body nor any channel secret.
            let span = tracing::info_span!(
                "delivery",
                outbox_id = message.id,
                channel = %name,
                kind = channel_kind(channel),
                attempt = message.attempts.saturating_add(1),
            );
            let sent = self.send(channel, message).instrument(span.clone()).await;
            let _entered = span.enter();
            match sent {
                Ok(()) => {
                    tracing::info!(notification = %message.notification.kind, "delivered");
                    done.insert(name);
                }
                Err(e) => {
                    tracing::warn!(notification = %message.notification.kind, error = %e, "delivery failed");
                    errors.push(format!("{name}: {e}"));
                    failed.push(name);
                }
            }
        }
        let now = self.clock.now();
        let done_channels: Vec<String> = done.into_iter().collect();
        if errors.is_empty() {
            return OutboxSettle::Delivered {
                at: now,
                done_channels,
            };
        }
        let error = errors.join("; ");
        let attempts = message.attempts.saturating_add(1);
        match self
            .settings
            .retry
            .after_failure(attempts, now, jitter(message.id))
        {
            AfterFailure::RetryAt(retry_at) => {
                tracing::info!(outbox_id = message.id, attempts, %retry_at, "delivery will be retried");
                OutboxSettle::Retry {
                    done_channels,
                    error,
                    retry_at,
                }
            }
            AfterFailure::DeadLetter => {
                tracing::error!(outbox_id = message.id, attempts, failed = ?failed, "delivery given up: dead-lettered");
                OutboxSettle::DeadLetter {
                    commit: Box::new(delivery::dead_letter_commit(message, failed, &error, now)),
                    done_channels,
                    error,
                    at: now,
                }
            }
        }
    }

    async fn send(&self, channel: &Channel, message: &OutboxMessage) -> Result<(), String> {
        let console = &self.settings.console_url;
        match channel {
            Channel::Webhook { n } => {
                let target = self
                    .settings
                    .webhooks
                    .get(*n)
                    .ok_or_else(|| "not configured".to_owned())?;
                let body = delivery::webhook_body(message, console);
                let signature = delivery::sign(
                    target.secret.expose().as_bytes(),
                    self.clock.now().unix_timestamp(),
                    &body,
                );
                self.post(
                    self.json(&target.url, message, body)
                        .header(SIGNATURE_HEADER, signature),
                )
                .await
            }
            Channel::Slack => {
                let url = self
                    .settings
                    .slack_url
                    .as_ref()
                    .ok_or_else(|| "not configured".to_owned())?;
                self.post(self.json(
                    url.expose(),
                    message,
                    delivery::slack_body(message, console),
                ))
                .await
            }
            // A Workflows webhook answers 202 Accepted once it has queued the flow run: any
            // 2xx is taken, anything else is retried like every other channel.
            Channel::Teams => {
                let url = self
                    .settings
                    .teams_url
                    .as_ref()
                    .ok_or_else(|| "not configured".to_owned())?;
                self.post(self.json(
                    url.expose(),
                    message,
                    delivery::teams_body(message, console),
                ))
                .await
            }
            Channel::SlackApp => {
                let chat = self
                    .settings
                    .chat
                    .as_ref()
                    .ok_or_else(|| "not configured".to_owned())?;
                chat.deliver(message).await
            }
            Channel::Sns => {
                let sns = self
                    .settings
                    .sns
                    .as_ref()
                    .ok_or_else(|| "not configured".to_owned())?;
                let (subject, _) = delivery::email(message, console);
                let body = delivery::webhook_body(message, console);
                let key = delivery::idempotency_key(message);
                sns.publish(TopicMessage {
                    subject: &subject,
                    body: &body,
                    idempotency_key: &key,
                    kind: &message.notification.kind,
                })
                .await
                .map(|_| ())
            }
            Channel::Email { to } => {
                let (mailer, from) = self
                    .mailer
                    .as_ref()
                    .ok_or_else(|| "not configured".to_owned())?;
                let to: Mailbox = to
                    .parse()
                    .map_err(|e| format!("recipient `{to}` is not an address: {e}"))?;
                let (subject, body) = delivery::email(message, console);
                let email = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body)
                    .map_err(|e| format!("cannot build the email: {e}"))?;
                mailer
                    .send(email)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("SMTP: {e}"))
            }
        }
    }

    /// A POST of JSON `body` about `message` to `url`, with its idempotency key.
    fn json(&self, url: &str, message: &OutboxMessage, body: String) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", delivery::idempotency_key(message))
            .body(body)
    }

    async fn post(&self, request: reqwest::RequestBuilder) -> Result<(), String> {
        let response = request
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered HTTP {}", status.as_u16()))
        }
    }
}

fn mailer(
    smtp: &SmtpSettings,
    timeout: StdDuration,
) -> Result<(AsyncSmtpTransport<Tokio1Executor>, Mailbox), NotifierError> {
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|_| NotifierError::From(smtp.from.clone()))?;
    let bad = |e: lettre::transport::smtp::Error| NotifierError::Smtp {
        host: smtp.host.clone(),
        detail: e.to_string(),
    };
    let mut builder = match smtp.security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        SmtpSecurity::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(bad)?
        }
        SmtpSecurity::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(bad)?
        }
    }
    .port(smtp.port)
    .timeout(Some(timeout));
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    Ok((builder.build(), from))
}

/// The kind of `channel`, as delivery spans name it.
fn channel_kind(channel: &Channel) -> &'static str {
    match channel {
        Channel::Webhook { .. } => "webhook",
        Channel::Slack => "slack",
        Channel::Teams => "teams",
        Channel::SlackApp => "slack-app",
        Channel::Sns => "sns",
        Channel::Email { .. } => "email",
    }
}

/// A fixed spread in `[0, 1)` per message, so retries of a burst do not arrive together.
fn jitter(id: i64) -> f64 {
    let h = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    #[expect(
        clippy::cast_precision_loss,
        reason = "a 24-bit value is exact in an f64"
    )]
    let spread = h as f64 / f64::from(1_u32 << 24);
    spread
}

impl NotifierSettings {
    /// The settings `config` describes, with secrets read through `env` (the process
    /// environment in production) and `sns` the publisher to the config's
    /// `notifications.sns_topic_arn` (built by the caller, e.g. breakglass-aws's
    /// `sns::SnsPublisher::shared`). Webhooks are `alerting.webhook_urls`. `None` when the
    /// config has no `[notifications]` section.
    pub fn from_config(
        config: &breakglass_config::Config,
        sns: Option<Arc<dyn TopicPublisher>>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, NotifierError> {
        use breakglass_config::SmtpSecurity as Security;
        let Some(n) = &config.notifications else {
            return Ok(None);
        };
        let required = |var: &str, what: &'static str| {
            env(var)
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| NotifierError::MissingSecret {
                    var: var.to_owned(),
                    what,
                })
        };
        let mut s = Self::new(n.console_url.clone());
        if !config.alerting.webhook_urls.is_empty() {
            let secret = required(&n.webhook_secret_env, "the webhook signing key")?;
            s.webhooks = config
                .alerting
                .webhook_urls
                .iter()
                .map(|url| WebhookTarget {
                    url: url.clone(),
                    // One key per receiver: none can sign as the broker to another.
                    secret: Secret::new(delivery::receiver_key(secret.expose().as_bytes(), url)),
                })
                .collect();
        }
        if let Some(var) = &n.slack_webhook_url_env {
            s.slack_url = Some(required(var, "the Slack webhook URL")?);
        }
        if let Some(var) = &n.teams_webhook_url_env {
            s.teams_url = Some(required(var, "the Teams webhook URL")?);
        }
        if let Some(arn) = &n.sns_topic_arn {
            let sns = sns.ok_or_else(|| NotifierError::NoAws(arn.clone()))?;
            if sns.topic() != arn {
                return Err(NotifierError::OtherTopic {
                    configured: arn.clone(),
                    given: sns.topic().to_owned(),
                });
            }
            s.sns = Some(sns);
        }
        if let Some(smtp) = &n.smtp {
            let credentials = match (&smtp.username, &smtp.password_env) {
                (Some(user), Some(var)) => {
                    Some((user.clone(), required(var, "the SMTP password")?))
                }
                _ => None,
            };
            s.smtp = Some(SmtpSettings {
                host: smtp.host.clone(),
                port: smtp.port,
                security: match smtp.security {
                    Security::StartTls => SmtpSecurity::StartTls,
                    Security::Tls => SmtpSecurity::Tls,
                    Security::None => SmtpSecurity::None,
                },
                from: smtp.from.clone(),
                credentials,
            });
        }
        s.security_team_emails = n.security_team_emails.clone();
        s.retry.max_attempts = n.max_attempts;
        Ok(Some(s))
    }
}
