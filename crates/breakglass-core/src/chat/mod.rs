//! Chat: approving and requesting where responders are (Slack), with the broker's own second
//! factor and bound to the exact request the approver saw.
//!
//! What is decided here, purely: who a chat action comes from ([`ChatOrigin`], recorded with
//! the change it makes), the vocabulary of the chat store (links between chat accounts and
//! broker users, the messages posted about a request), which messages a notification
//! posts or updates ([`plan`]), and what each Slack message and modal says
//! ([`slack`]). Verifying a platform's signature, calling its API and checking a second
//! factor are the server's.

pub mod slack;

use serde::{Deserialize, Serialize};

pub use crate::accounts::{ChatLinkCode, ChatLinkRecord};

use crate::audit::AuditEvent;
use crate::audit::events::ChatAction;
use crate::model::{RequestId, Username};

/// A chat platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatPlatform {
    /// Slack.
    Slack,
}

impl ChatPlatform {
    /// The name stored and audited (`slack`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
        }
    }
}

impl std::fmt::Display for ChatPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who, on which platform, made a chat action: the platform's workspace and user ids, as its
/// signed request named them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatOrigin {
    /// The platform.
    pub platform: ChatPlatform,
    /// The workspace (Slack: the team id).
    pub team: String,
    /// The user id on the platform.
    pub user: String,
}

impl ChatOrigin {
    /// The record of `action` (`approve`, `deny`, `request`) on `request` made from this
    /// origin, committed with the change itself.
    pub fn action_event(&self, action: &str, request: Option<&RequestId>) -> AuditEvent {
        AuditEvent::ChatAction(ChatAction {
            platform: self.platform.as_str().to_owned(),
            team: self.team.clone(),
            chat_user: self.user.clone(),
            action: action.to_owned(),
            request: request.cloned(),
        })
    }
}

/// A message posted about a request: where, and its platform id (Slack: the channel and the
/// message's `ts`), so later changes update it in place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatMessageRef {
    /// Where it was posted to: a channel id, or a user id for a direct message.
    pub channel: String,
    /// The conversation the platform put it in (a direct message's own id), for updates.
    pub conversation: String,
    /// The message's id in it.
    pub ts: String,
}

/// Where a playbook's approval messages go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatTargets {
    /// A channel (id) to post to.
    pub channel: Option<String>,
    /// Whether each eligible approver with a linked account gets a direct message.
    pub direct_messages: bool,
}

/// What a notification does to the chat messages about its request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatPlan {
    /// Conversations to post a new message about the request to (channel ids, or user ids
    /// for direct messages), those already posted to left out.
    pub post: Vec<String>,
    /// Messages already posted, to update with the request as it now is.
    pub update: Vec<ChatMessageRef>,
}

/// The notification kind that posts an approval request (to its approvers too).
const APPROVAL_NEEDED: &str = "approval_needed";

/// Whether a notification of `kind` may write to approvers directly, so that [`plan`] needs
/// to know who they are (for every other kind, the links need not be read).
pub fn needs_approvers(kind: &str) -> bool {
    kind == APPROVAL_NEEDED
}

/// The chat plan for a notification of `kind` about a request: an approval request posts to
/// `targets` (its channel, and `approvers`' direct conversations when asked), a break-glass
/// activation to the security channel; every notification updates what was posted. A
/// conversation already in `posted` is updated, never posted to twice, so a delivery that
/// failed half-way and is tried again completes without duplicates.
pub fn plan(
    kind: &str,
    targets: &ChatTargets,
    security_channel: Option<&str>,
    approvers: &[String],
    posted: &[ChatMessageRef],
) -> ChatPlan {
    let mut wanted: Vec<String> = Vec::new();
    match kind {
        APPROVAL_NEEDED => {
            wanted.extend(targets.channel.iter().cloned());
            if targets.direct_messages {
                wanted.extend(approvers.iter().cloned());
            }
        }
        "break_glass_activated" => wanted.extend(security_channel.map(str::to_owned)),
        _ => {}
    }
    let mut post = Vec::new();
    for w in wanted {
        if !posted.iter().any(|p| p.channel == w) && !post.contains(&w) {
            post.push(w);
        }
    }
    ChatPlan {
        post,
        update: posted.to_vec(),
    }
}

/// Which one link to read: a chat account's, or a broker user's (each has at most one per
/// platform).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOf<'a> {
    /// The link of chat user `chat_user` of workspace `team`.
    Account {
        /// The workspace.
        team: &'a str,
        /// The chat user id.
        chat_user: &'a str,
    },
    /// The link of broker user `.0`.
    User(&'a str),
}

/// The chat user ids of `users` among `links`, in `users`' order.
pub fn chat_users_of(links: &[ChatLinkRecord], users: &[Username]) -> Vec<String> {
    users
        .iter()
        .filter_map(|u| links.iter().find(|l| l.username == u.as_str()))
        .map(|l| l.chat_user.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(channel: &str) -> ChatMessageRef {
        ChatMessageRef {
            channel: channel.into(),
            conversation: channel.into(),
            ts: "1.0".into(),
        }
    }

    #[test]
    fn an_approval_request_posts_once_to_each_target_and_updates_the_rest() {
        let targets = ChatTargets {
            channel: Some("C1".into()),
            direct_messages: true,
        };
        let approvers = ["U1".to_owned(), "U2".to_owned()];
        let p = plan("approval_needed", &targets, Some("CSEC"), &approvers, &[]);
        assert_eq!(p.post, ["C1", "U1", "U2"]);
        assert!(p.update.is_empty());
        // Tried again after C1 and U1 took it: only U2 is posted to.
        let done = [posted("C1"), posted("U1")];
        let p = plan("approval_needed", &targets, Some("CSEC"), &approvers, &done);
        assert_eq!(p.post, ["U2"]);
        assert_eq!(p.update, done);
        // Without direct messages, approvers are not written to.
        let p = plan(
            "approval_needed",
            &ChatTargets {
                channel: None,
                direct_messages: false,
            },
            None,
            &approvers,
            &[],
        );
        assert!(p.post.is_empty());
    }

    #[test]
    fn break_glass_goes_to_the_security_channel_and_changes_only_update() {
        let t = ChatTargets::default();
        let p = plan("break_glass_activated", &t, Some("CSEC"), &[], &[]);
        assert_eq!(p.post, ["CSEC"]);
        let p = plan("request_approved", &t, Some("CSEC"), &[], &[posted("C1")]);
        assert!(p.post.is_empty());
        assert_eq!(p.update, [posted("C1")]);
    }
}
