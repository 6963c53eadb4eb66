//! The chat use cases the rest of the application does not already have: what a chat
//! channel should post or update for a notification ([`App::chat_plan`]), the bookkeeping
//! of what was posted, and the audit record of a refused chat action.
//!
//! Approving, denying and requesting from chat are the ordinary use cases
//! ([`App::approve`], [`App::deny`], [`App::submit`]) called with a [`Caller`] whose `via`
//! names the chat account: each records it in the change's own commit.

use super::{App, Caller, Error};
use crate::audit::events::ChatRefused;
use crate::audit::{Actor, AuditEntry, AuditEvent};
use crate::chat::{self, ChatLinkRecord, ChatMessageRef, ChatOrigin, ChatPlan, ChatTargets};
use crate::cloud::Cloud;
use crate::model::{RequestId, Username};
use crate::outbox::OutboxMessage;
use crate::ports::{AccessStore, Clock, Commit, IdSource, Store};
use crate::request::{AccessRequest, RequestKind};
use crate::rules::{Action, PolicyRef};

/// What a chat channel does with one notification about a request.
#[derive(Debug, Clone)]
pub struct ChatWork {
    /// The request as it now is.
    pub request: AccessRequest,
    /// The policies that let its requester ask (the deciding rule the message shows).
    pub allowed_by: Vec<PolicyRef>,
    /// What to post and what to update.
    pub plan: ChatPlan,
}

/// The request a notification's audit record is about, read from its stored body.
pub fn notified_request(message: &OutboxMessage) -> Option<RequestId> {
    let record: serde_json::Value = serde_json::from_str(&message.event_body).ok()?;
    let event: AuditEvent = serde_json::from_value(record.get("event")?.clone()).ok()?;
    event.request().cloned()
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// What a chat channel should do with `message`: `None` when it is about no request;
    /// otherwise the request as it now is, and which conversations to post to (`targets`
    /// for an approval request, with the direct conversations of the eligible approvers
    /// among `links`; `security_channel` for a break-glass activation) and which messages to
    /// update.
    pub async fn chat_plan(
        &self,
        message: &OutboxMessage,
        targets: impl FnOnce(&AccessRequest) -> ChatTargets,
        security_channel: Option<&str>,
        links: &[ChatLinkRecord],
    ) -> Result<Option<ChatWork>, Error> {
        let Some(id) = notified_request(message) else {
            return Ok(None);
        };
        let Some(request) = self.store().get(&id).await?.map(|v| v.value) else {
            return Ok(None);
        };
        let rules = self.rules();
        let approvers: Vec<Username> = links
            .iter()
            .filter(|l| l.enabled)
            .filter_map(|l| Username::new(l.username.clone()).ok())
            .filter(|u| {
                *u != request.spec.requester
                    && request.decision_for(&rules, u, Action::Approve).allowed
            })
            .collect();
        let posted = self.store().chat_messages(&id).await?;
        let plan = chat::plan(
            &message.notification.kind,
            &targets(&request),
            security_channel,
            &chat::chat_users_of(links, &approvers),
            &posted,
        );
        Ok(Some(ChatWork {
            allowed_by: self.allowed_by(&request),
            request,
            plan,
        }))
    }

    /// The policies that let `r`'s requester ask for it (or activate it as break-glass).
    pub fn allowed_by(&self, r: &AccessRequest) -> Vec<PolicyRef> {
        let action = match r.kind {
            RequestKind::BreakGlass => Action::ActivateBreakGlass,
            RequestKind::Standard | RequestKind::Drill => Action::Request,
        };
        r.decision_for(&self.rules(), &r.spec.requester, action)
            .policies
    }

    /// Records that `message` was posted about request `id`.
    pub async fn chat_posted(&self, id: &RequestId, message: &ChatMessageRef) -> Result<(), Error> {
        Ok(self.store().put_chat_message(id, message).await?)
    }

    /// Audits that the chat action `action` from `origin` (by `caller`, when the chat account
    /// is linked) on `request` was refused for `reason`. Fails closed: when the record
    /// cannot be written, the store's error is returned.
    pub async fn chat_refused(
        &self,
        origin: &ChatOrigin,
        caller: Option<&Caller>,
        action: &str,
        request: Option<&RequestId>,
        reason: &str,
    ) -> Result<(), Error> {
        let username = caller.map(|c| c.username.clone());
        self.commit_chat_refusal(ChatRefused {
            platform: origin.platform.as_str().to_owned(),
            team: Some(origin.team.clone()),
            chat_user: Some(origin.user.clone()),
            username,
            action: action.to_owned(),
            request: request.cloned(),
            reason: reason.to_owned(),
        })
        .await
    }

    /// Audits a chat delivery refused before anyone could be named (a bad or stale signature,
    /// a replay): `platform`, and the workspace and user the unverified payload claims when
    /// it could be read.
    pub async fn chat_delivery_refused(
        &self,
        platform: chat::ChatPlatform,
        claimed: Option<(String, String)>,
        reason: &str,
    ) -> Result<(), Error> {
        let (team, chat_user) = claimed.map_or((None, None), |(t, u)| (Some(t), Some(u)));
        self.commit_chat_refusal(ChatRefused {
            platform: platform.as_str().to_owned(),
            team,
            chat_user,
            username: None,
            action: "delivery".to_owned(),
            request: None,
            reason: reason.to_owned(),
        })
        .await
    }

    /// Commits `refused` alone, its reason cut to 1,000 characters, as its user's (or the
    /// broker's, for nobody).
    async fn commit_chat_refusal(&self, mut refused: ChatRefused) -> Result<(), Error> {
        refused.reason = refused.reason.chars().take(1_000).collect();
        let actor = refused.username.clone().map_or(Actor::System, Actor::User);
        self.store()
            .commit(Commit {
                write: None,
                audit: vec![AuditEntry {
                    at: self.now(),
                    actor,
                    request_version: None,
                    event: AuditEvent::ChatRefused(refused),
                }],
                outbox: Vec::new(),
                step_up: None,
            })
            .await?;
        Ok(())
    }
}
