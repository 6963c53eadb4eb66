//! The account and admin pages: a TOTP enrolment shown once, dead letters and user
//! management for admins only.

use super::*;

#[tokio::test]
async fn admins_see_dead_letters_and_manage_users_others_are_refused() {
    use breakglass_core::ports::OutboxSettle;
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let alice = s.user("alice", true).await;
    let mut responder = Browser::new(&s.base);
    let csrf = responder.sign_in("carol", &s.code(&carol)).await;
    submit(&mut responder, &csrf, "dead letter").await;
    // The notification worker gives up on the request's announcement.
    let now = s.clock.now();
    let claimed = s
        .store
        .outbox_claim(now, "test", now + Duration::minutes(1), 10)
        .await
        .unwrap();
    let message = claimed.first().expect("an outbox message");
    let error = "webhook#0: HTTP 500 from https://hooks.example.com/breakglass";
    let commit = breakglass_core::delivery::dead_letter_commit(
        message,
        vec!["webhook#0".into()],
        error,
        now,
    );
    let settled = s
        .store
        .outbox_settle(
            message.id,
            "test",
            OutboxSettle::DeadLetter {
                done_channels: vec!["email".into()],
                error: error.into(),
                at: now,
                commit: Box::new(commit),
            },
        )
        .await
        .unwrap();
    assert!(settled);

    for path in ["/console/notifications", "/console/admin/users"] {
        let r = responder.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let added = responder
        .post(
            "/console/admin/users",
            &[
                ("csrf", &csrf),
                ("username", "mallory"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::FORBIDDEN);

    let mut admin = Browser::new(&s.base);
    let admin_csrf = admin.sign_in("alice", &s.code(&alice)).await;
    let page = admin.get("/console/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"dead-letters\""));
    assert!(
        page.body.contains(&message.notification.kind),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<td data-label=\"Failed channel\">webhook#0</td>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("HTTP 500 from https://hooks.example.com/breakglass")
    );

    let added = admin
        .post(
            "/console/admin/users",
            &[
                ("csrf", &admin_csrf),
                ("username", "dave"),
                ("admin", "yes"),
                ("totp", &s.code(&alice)),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(added.body.contains("User <code>dave</code> invited."));
    let users = s.auth.users().await.unwrap();
    assert!(users.iter().any(|u| u.username == "dave" && u.admin));
    assert!(!users.iter().any(|u| u.username == "mallory"));
    // The one-time link is shown once; the administrator never chose a password.
    let link = added
        .text_of("invitation-link")
        .expect("the invitation link");
    let path = &link[link.find("/console/invitations/").unwrap()..];
    assert!(!admin.get("/console/admin/users").await.body.contains(path));
    let mut dave = Browser::new(&s.base);
    let form = dave.get(path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("dave"));
    let differ = dave
        .post(
            path,
            &[
                ("password", PASSWORD),
                ("repeat", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST, "{}", differ.body);
    let set = dave
        .post(path, &[("password", PASSWORD), ("repeat", PASSWORD)])
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    assert!(set.location().starts_with("/console/login"));
    // Used up: the link is dead, and dave signs in with the password he chose, to enrol.
    assert_eq!(dave.get(path).await.status, StatusCode::NOT_FOUND);
    dave.sign_in("dave", "").await;
    assert_eq!(dave.get("/console").await.location(), "/console/account");
    // A duplicate is refused with the reason.
    let again = admin
        .post(
            "/console/admin/users",
            &[
                ("csrf", &admin_csrf),
                ("username", "dave"),
                ("totp", &s.code(&alice)),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("already exists"));
}

#[tokio::test]
async fn a_totp_enrolment_shows_its_qr_code_and_seed_once() {
    let s = server(ConsoleSettings::default()).await;
    s.auth
        .add_user("carol", PASSWORD, false, None)
        .await
        .unwrap();
    let mut b = Browser::new(&s.base);
    // Not enrolled yet: password only, and then nothing but the account page.
    let csrf = b.sign_in("carol", "").await;
    let account = b.get("/console/account").await;
    assert!(account.body.contains("No authenticator is enrolled"));
    for page in ["/console", "/console/requests/new", "/console/audit"] {
        let r = b.get(page).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(r.location(), "/console/account", "{page}");
    }
    let r = b
        .post(
            "/console/requests",
            &[("csrf", &csrf), ("playbook", "investigate")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("enrol"), "{}", r.body);
    // A session token alone cannot enrol: the password is asked for again.
    let refused = b.post("/console/account/totp", &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.text_of("totp-secret").is_none());
    let r = b
        .post(
            "/console/account/totp",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seed = r.text_of("totp-secret").unwrap();
    let uri = r.text_of("otpauth-uri").unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(r.body.contains("<svg") && r.body.contains("class=\"qr\""));
    // Not enrolled until a code from it is confirmed; a wrong code changes nothing.
    let later = b.get("/console/account").await;
    assert!(!later.body.contains(&seed));
    assert!(!later.body.contains("<svg"));
    assert!(later.body.contains("No authenticator is enrolled"));
    let wrong = b
        .post(
            "/console/account/totp/confirm",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    let confirmed = b
        .post(
            "/console/account/totp/confirm",
            &[("csrf", &csrf), ("code", &s.code(&seed))],
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    // The session goes on, on a token that passed the second factor: the dashboard opens.
    let dash = b.get("/console").await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
    let csrf = dash.csrf();
    let later = b.get("/console/account").await;
    assert!(later.body.contains("A TOTP authenticator is enrolled"));
    // Replacing it needs a current code from it.
    let refused = b
        .post(
            "/console/account/totp",
            &[
                ("csrf", &csrf),
                ("password", PASSWORD),
                ("current_code", "000000"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.text_of("totp-secret").is_none());
    // The seed works for the next sign-in, which now needs it.
    let mut again = Browser::new(&s.base);
    again.sign_in("carol", &s.code(&seed)).await;
}

#[tokio::test]
async fn an_administrator_disables_a_user_whose_console_session_stops_at_once() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let alice = s.user("alice", true).await;
    let mut victim = Browser::new(&s.base);
    victim.sign_in("carol", &s.code(&carol)).await;
    let mut admin = Browser::new(&s.base);
    let csrf = admin.sign_in("alice", &s.code(&alice)).await;
    let users = admin.get("/console/admin/users").await;
    assert!(
        users.body.contains("action=\"/console/admin/users/carol\""),
        "{}",
        users.body
    );
    // Without the administrator's code nothing changes.
    let refused = admin
        .post(
            "/console/admin/users/carol",
            &[("csrf", &csrf), ("action", "disable"), ("totp", "")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(victim.get("/console").await.status, StatusCode::OK);
    let done = admin
        .post(
            "/console/admin/users/carol",
            &[
                ("csrf", &csrf),
                ("action", "disable"),
                ("totp", &s.code(&alice)),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("disabled"), "{}", done.body);
    // Her open console session is gone on the next click.
    let after = victim.get("/console").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().starts_with("/console/login"));
    // And she cannot sign in again.
    let mut again = Browser::new(&s.base);
    let form = again.get("/console/login").await;
    let csrf_login = form.csrf();
    let r = again
        .post(
            "/console/login",
            &[
                ("csrf", &csrf_login),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", &s.code(&carol)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(r.body.contains("disabled"), "{}", r.body);
}

/// The console half of linking a Slack account: opening the link shows which Slack account
/// it is for and links nothing; the confirming post links it, once; a used or foreign code
/// links nothing; a GET never links.
#[tokio::test]
async fn a_slack_link_is_made_only_by_its_confirming_post_once() {
    use breakglass_core::chat::{ChatOrigin, ChatPlatform};
    let s = server(ConsoleSettings::default()).await;
    let bob = s.user("bob", false).await;
    let origin = ChatOrigin {
        platform: ChatPlatform::Slack,
        team: "T0TEST".into(),
        user: "U0BOB".into(),
    };
    let code = s.auth.chat_link_code(&origin).await.unwrap();
    let mut b = Browser::new(&s.base);
    b.sign_in("bob", &s.code(&bob)).await;
    let page = b.get(&format!("/console/chat/link/{code}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("U0BOB") && page.body.contains("T0TEST"));
    assert!(
        s.auth
            .chat_links(ChatPlatform::Slack)
            .await
            .unwrap()
            .is_empty()
    );
    // Without the session's CSRF token: refused, nothing linked.
    let r = b
        .post(&format!("/console/chat/link/{code}"), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        s.auth
            .chat_links(ChatPlatform::Slack)
            .await
            .unwrap()
            .is_empty()
    );
    // Without the second factor: refused, nothing linked.
    let r = b
        .post(
            &format!("/console/chat/link/{code}"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        s.auth
            .chat_links(ChatPlatform::Slack)
            .await
            .unwrap()
            .is_empty()
    );
    let totp = s.code(&bob);
    let r = b
        .post(
            &format!("/console/chat/link/{code}"),
            &[("csrf", &page.csrf()), ("totp", &totp)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let links = s.auth.chat_links(ChatPlatform::Slack).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].username.as_str(), links[0].chat_user.as_str()),
        ("bob", "U0BOB")
    );
    // The code worked once.
    let again = b.get(&format!("/console/chat/link/{code}")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    let unknown = b.get("/console/chat/link/0123456789abcdef").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
