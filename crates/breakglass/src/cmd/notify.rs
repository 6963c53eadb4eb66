//! `breakglass notify status`: what the notification outbox holds, and every dead letter;
//! `breakglass notify webhook-key URL`: the signing key to give the webhook receiver at URL.

use std::io::Write as _;

use anyhow::Context as _;
use breakglass_core::outbox::OutboxMessage;
use breakglass_core::ports::Store;
use breakglass_store::redact_url;
use time::macros::datetime;

use crate::exit::{DependencyFailed, Outcome};

/// Inspect notification delivery.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: NotifyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NotifyCommand {
    /// Count undelivered notifications and list dead letters (deliveries given up after
    /// every retry). Exit 0 when nothing is dead-lettered, 1 otherwise.
    Status(StatusArgs),
    /// Print the key the webhook receiver at URL verifies its messages with. Each receiver
    /// has its own, derived from the broker's webhook key: give each only its own.
    WebhookKey(WebhookKeyArgs),
}

#[derive(Debug, clap::Args)]
struct WebhookKeyArgs {
    /// The receiver's URL, exactly as `alerting.webhook_urls` lists it.
    url: String,
    /// The variable holding the broker's webhook key (`notifications.webhook_secret_env`).
    #[arg(long, default_value = "BREAKGLASS_WEBHOOK_SECRET", value_name = "VAR")]
    secret_env: String,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The broker's store: `sqlite://PATH`, a file path, or `postgres://USER@HOST/DB`.
    #[arg(long, env = "BREAKGLASS_STORE", value_name = "URL")]
    store: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// List at most this many dead letters.
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let NotifyCommand::WebhookKey(a) = &args.command {
        return webhook_key(a);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match &args.command {
            NotifyCommand::Status(a) => status(a).await,
            NotifyCommand::WebhookKey(a) => webhook_key(a),
        }
    })
}

fn webhook_key(args: &WebhookKeyArgs) -> anyhow::Result<Outcome> {
    let master = std::env::var(&args.secret_env)
        .ok()
        .filter(|v| !v.is_empty())
        .with_context(|| {
            format!(
                "the webhook key is not in `{}`: set it to the broker's webhook key",
                args.secret_env
            )
        })?;
    let key = breakglass_core::delivery::receiver_key(master.as_bytes(), &args.url);
    writeln!(crate::exit::stdout(), "{key}")?;
    Ok(Outcome::Success)
}

async fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let store = super::audit::open(&args.store).await?;
    let failed = |e| {
        anyhow::Error::from(DependencyFailed(anyhow::Error::new(e).context(format!(
            "reading the outbox of `{}`",
            redact_url(&args.store)
        ))))
    };
    // Every undelivered message, whenever its next attempt is.
    let pending = store
        .outbox_due(datetime!(9999-12-31 0:00 UTC), 100_000)
        .await
        .map_err(failed)?;
    let dead = store
        .outbox_dead_letters(args.limit)
        .await
        .map_err(failed)?;
    store.close().await;

    let mut out = crate::exit::stdout();
    if args.json {
        let item = |m: &OutboxMessage| {
            serde_json::json!({
                "id": m.id,
                "kind": m.notification.kind,
                "subject": m.notification.subject,
                "audit_seq": m.audit_seq,
                "attempts": m.attempts,
                "delivered_to": m.done_channels,
                "last_error": m.last_error,
            })
        };
        let doc = serde_json::json!({
            "pending": pending.len(),
            "retrying": pending.iter().filter(|m| m.attempts > 0).count(),
            "dead_letters": dead.iter().map(item).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        let retrying = pending.iter().filter(|m| m.attempts > 0).count();
        writeln!(
            out,
            "{} notification(s) waiting for delivery, {retrying} of them after a failed attempt",
            pending.len()
        )?;
        for m in pending.iter().filter(|m| m.attempts > 0) {
            writeln!(
                out,
                "  retrying #{} {} (audit #{}, {} attempt(s)): {}",
                m.id,
                m.notification.kind,
                m.audit_seq,
                m.attempts,
                m.last_error.as_deref().unwrap_or("")
            )?;
        }
        if dead.is_empty() {
            writeln!(out, "no dead letters")?;
        } else {
            writeln!(
                out,
                "{} DEAD LETTER(S): never delivered to some channels",
                dead.len()
            )?;
            for m in &dead {
                writeln!(
                    out,
                    "  #{} {} (audit #{}): {}\n    after {} attempt(s): {}\n    delivered to: {}",
                    m.id,
                    m.notification.kind,
                    m.audit_seq,
                    m.notification.subject,
                    m.attempts,
                    m.last_error.as_deref().unwrap_or(""),
                    if m.done_channels.is_empty() {
                        "none".to_owned()
                    } else {
                        m.done_channels.join(", ")
                    }
                )?;
            }
        }
    }
    Ok(if dead.is_empty() {
        Outcome::Success
    } else {
        Outcome::Problems
    })
}
