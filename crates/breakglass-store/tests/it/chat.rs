//! Chat: links between chat accounts and users (made only by consuming an unexpired
//! one-time code, only for an enabled user, one per account and per user, each with its
//! audit record), replay markers, and the messages posted about a request.

use breakglass_core::audit::events::{ChatLinkStarted, ChatLinked, UserCreated};
use breakglass_core::audit::{Actor, AuditEntry, AuditEvent};
use breakglass_core::chat::{ChatLinkCode, ChatMessageRef, LinkOf};
use breakglass_core::model::RequestId;
use breakglass_core::ports::{AuthStore, Store, StoreError};
use breakglass_store::AuthWrite;
use time::Duration;

use crate::support::{T0, TestStore, on_both_backends, user};

on_both_backends!(
    a_link_takes_an_unexpired_code_once_for_an_enabled_user,
    a_delivery_is_remembered_once_until_it_expires,
    posted_messages_are_kept_once_per_conversation,
);

fn entry(event: impl Into<AuditEvent>) -> AuditEntry {
    AuditEntry {
        at: T0,
        actor: Actor::System,
        request_version: None,
        event: event.into(),
    }
}

async fn add_user(t: &TestStore, name: &str) {
    t.store
        .auth_commit(
            vec![AuthWrite::InsertUser {
                username: name.to_owned(),
                password_hash: "$argon2id$test".to_owned(),
                admin: false,
                created_at: T0,
            }],
            vec![entry(UserCreated {
                username: user(name),
                admin: false,
            })],
        )
        .await
        .unwrap();
}

async fn offer(t: &TestStore, sha256: &str, chat_user: &str, ttl: Duration) {
    let code = ChatLinkCode {
        sha256: sha256.to_owned(),
        platform: "slack".to_owned(),
        team: "T1".to_owned(),
        chat_user: chat_user.to_owned(),
        expires_at: T0 + ttl,
    };
    t.store
        .auth_commit(
            vec![AuthWrite::InsertChatLinkCode { code, now: T0 }],
            vec![entry(ChatLinkStarted {
                platform: "slack".to_owned(),
                team: "T1".to_owned(),
                chat_user: chat_user.to_owned(),
            })],
        )
        .await
        .unwrap();
}

async fn link(t: &TestStore, sha256: &str, name: &str, chat_user: &str) -> Result<(), StoreError> {
    t.store
        .auth_commit(
            vec![AuthWrite::LinkChat {
                sha256: sha256.to_owned(),
                username: name.to_owned(),
                at: T0 + Duration::minutes(1),
            }],
            vec![entry(ChatLinked {
                username: user(name),
                platform: "slack".to_owned(),
                team: "T1".to_owned(),
                chat_user: chat_user.to_owned(),
            })],
        )
        .await
        .map(|_| ())
}

async fn a_link_takes_an_unexpired_code_once_for_an_enabled_user(t: TestStore) {
    add_user(&t, "bob").await;
    add_user(&t, "carol").await;
    offer(&t, "aa", "U1", Duration::minutes(10)).await;
    assert_eq!(
        t.store
            .chat_link_code("aa")
            .await
            .unwrap()
            .unwrap()
            .chat_user,
        "U1"
    );
    link(&t, "aa", "bob", "U1").await.unwrap();
    let links = t.store.chat_links("slack").await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].username.as_str(), links[0].chat_user.as_str()),
        ("bob", "U1")
    );
    let of_account = LinkOf::Account {
        team: "T1",
        chat_user: "U1",
    };
    let by_account = t
        .store
        .chat_link("slack", of_account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_account.username, "bob");
    let by_user = t
        .store
        .chat_link("slack", LinkOf::User("bob"))
        .await
        .unwrap();
    assert_eq!(by_user, Some(by_account));
    assert_eq!(
        t.store
            .chat_link("slack", LinkOf::User("carol"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(t.store.chat_link("teams", of_account).await.unwrap(), None);
    // The code is gone: a second use links nothing, and writes no audit record.
    let before = t.store.audit_head().await.unwrap();
    assert!(matches!(
        link(&t, "aa", "carol", "U1").await,
        Err(StoreError::InvalidCommit(_))
    ));
    assert_eq!(t.store.audit_head().await.unwrap(), before);
    // An expired code links nothing.
    offer(&t, "bb", "U2", Duration::seconds(30)).await;
    assert!(matches!(
        link(&t, "bb", "carol", "U2").await,
        Err(StoreError::InvalidCommit(_))
    ));
    // A user who does not exist (or is disabled) is never linked.
    offer(&t, "cc", "U3", Duration::minutes(10)).await;
    assert!(matches!(
        link(&t, "cc", "mallory", "U3").await,
        Err(StoreError::InvalidCommit(_))
    ));
    // A link is never replaced: U1 stays bob's, and bob gets no second Slack account.
    offer(&t, "dd", "U1", Duration::minutes(10)).await;
    assert!(matches!(
        link(&t, "dd", "carol", "U1").await,
        Err(StoreError::InvalidCommit(_))
    ));
    offer(&t, "ee", "U4", Duration::minutes(10)).await;
    assert!(matches!(
        link(&t, "ee", "bob", "U4").await,
        Err(StoreError::InvalidCommit(_))
    ));
    let links = t.store.chat_links("slack").await.unwrap();
    assert_eq!(links.len(), 1);
    assert!(links[0].enabled);
    // Ending every session of bob (a password change, a disabling) ends the link too.
    t.store
        .auth_commit(
            vec![AuthWrite::RevokeTokens {
                username: "bob".to_owned(),
                except: None,
                at: T0 + Duration::minutes(2),
            }],
            vec![entry(UserCreated {
                username: user("bob"),
                admin: false,
            })],
        )
        .await
        .unwrap();
    assert!(t.store.chat_links("slack").await.unwrap().is_empty());
}

async fn a_delivery_is_remembered_once_until_it_expires(t: TestStore) {
    let later = T0 + Duration::minutes(10);
    assert!(
        t.store
            .remember_chat_delivery("k1", later, T0)
            .await
            .unwrap()
    );
    assert!(
        !t.store
            .remember_chat_delivery("k1", later, T0)
            .await
            .unwrap()
    );
    assert!(
        t.store
            .remember_chat_delivery("k2", later, T0)
            .await
            .unwrap()
    );
    // Once expired it is forgotten (a delivery that old is refused as stale anyway).
    let much_later = later + Duration::seconds(1);
    assert!(
        t.store
            .remember_chat_delivery("k1", much_later + Duration::minutes(10), much_later)
            .await
            .unwrap()
    );
}

async fn posted_messages_are_kept_once_per_conversation(t: TestStore) {
    let id = RequestId::new("r-1").unwrap();
    let m = |channel: &str, ts: &str| ChatMessageRef {
        channel: channel.to_owned(),
        conversation: format!("D-{channel}"),
        ts: ts.to_owned(),
    };
    assert!(t.store.chat_messages(&id).await.unwrap().is_empty());
    t.store
        .put_chat_message(&id, &m("C1", "1.0"))
        .await
        .unwrap();
    t.store
        .put_chat_message(&id, &m("U1", "2.0"))
        .await
        .unwrap();
    // A second post to the same conversation keeps the first message.
    t.store
        .put_chat_message(&id, &m("C1", "3.0"))
        .await
        .unwrap();
    assert_eq!(
        t.store.chat_messages(&id).await.unwrap(),
        vec![m("C1", "1.0"), m("U1", "2.0")]
    );
    let other = RequestId::new("r-2").unwrap();
    assert!(t.store.chat_messages(&other).await.unwrap().is_empty());
}
