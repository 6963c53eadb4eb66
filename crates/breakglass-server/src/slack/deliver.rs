//! The Slack app as a notification channel: for each outbox message about a request, post
//! the request's message where the plan says (the playbook's channel, the eligible
//! approvers' direct messages, the security channel for break-glass) and update every
//! message already posted, so each shows the request as it now is. A message about no
//! request that is critical (a dead letter, a local sign-in) goes to the security channel.
//!
//! At-least-once like every channel: each post is recorded as soon as Slack answers, so a
//! delivery retried after a partial failure updates what was posted instead of posting it
//! again; updates are idempotent (they write the whole message).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use breakglass_core::audit::Severity;
use breakglass_core::chat::slack as blocks;
use breakglass_core::chat::{ChatMessageRef, ChatPlatform};
use breakglass_core::outbox::OutboxMessage;
use serde_json::json;

use crate::app::{AppService, AuthService};
use crate::chat::SlackApp;
use crate::notifier::ChatChannel;

/// The Slack app's delivery channel.
pub struct SlackChannel {
    app: Arc<AppService>,
    auth: Arc<AuthService>,
    slack: Arc<SlackApp>,
}

impl std::fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackChannel")
            .field("slack", &self.slack)
            .finish_non_exhaustive()
    }
}

impl SlackChannel {
    /// The channel over the use cases `app`, the links `auth` keeps, and `slack`.
    pub fn new(app: Arc<AppService>, auth: Arc<AuthService>, slack: Arc<SlackApp>) -> Self {
        Self { app, auth, slack }
    }

    async fn deliver_one(&self, message: &OutboxMessage) -> Result<(), String> {
        // Who the approvers are matters only to an approval request's direct messages.
        let links = if breakglass_core::chat::needs_approvers(&message.notification.kind) {
            self.auth
                .chat_links(ChatPlatform::Slack)
                .await
                .map_err(|e| format!("reading the Slack links: {e}"))?
        } else {
            Vec::new()
        };
        let config = &self.slack.config;
        let work = self
            .app
            .chat_plan(
                message,
                |r| config.targets(r.spec.playbook.as_str()),
                Some(&config.security_channel),
                &links,
            )
            .await
            .map_err(|e| format!("planning the Slack messages: {e}"))?;
        let Some(work) = work else {
            if message.notification.severity == Severity::Critical {
                let text = format!(
                    ":rotating_light: <!here> {}",
                    blocks::escape(&message.notification.subject)
                );
                let body = json!({
                    "text": text,
                    "blocks": [ { "type": "section", "text": { "type": "mrkdwn", "text": text } } ],
                });
                self.slack
                    .api
                    .post_message(&config.security_channel, &body)
                    .await?;
            }
            return Ok(());
        };
        let body =
            blocks::request_message(&work.request, &work.allowed_by, &self.slack.console_url);
        let id = &work.request.id;
        // Each conversation on its own: one that fails (a deactivated user) neither stops
        // the others nor loses what was posted; the failures are retried.
        let mut errors = Vec::new();
        for target in &work.plan.post {
            let posted = match self.slack.api.post_message(target, &body).await {
                Ok((conversation, ts)) => ChatMessageRef {
                    channel: target.clone(),
                    conversation,
                    ts,
                },
                Err(e) => {
                    errors.push(format!("{target}: {e}"));
                    continue;
                }
            };
            self.app
                .chat_posted(id, &posted)
                .await
                .map_err(|e| format!("recording the Slack message: {e}"))?;
        }
        for posted in &work.plan.update {
            if let Err(e) = self
                .slack
                .api
                .update(&posted.conversation, &posted.ts, &body)
                .await
            {
                errors.push(format!("{}: {e}", posted.channel));
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok(())
    }
}

impl ChatChannel for SlackChannel {
    fn deliver<'a>(
        &'a self,
        message: &'a OutboxMessage,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(self.deliver_one(message))
    }
}
