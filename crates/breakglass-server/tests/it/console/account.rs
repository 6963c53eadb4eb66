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

    for path in ["/console/deliveries", "/console/admin/users"] {
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
    let page = admin.get("/console/deliveries").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"dead-letters\""));
    assert!(
        page.body.contains(&message.notification.kind),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td>webhook#0</td>"), "{}", page.body);
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
                ("password", PASSWORD),
                ("admin", "yes"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(added.body.contains("User `dave` added."));
    let users = s.auth.users().await.unwrap();
    assert!(users.iter().any(|u| u.username == "dave" && u.admin));
    assert!(!users.iter().any(|u| u.username == "mallory"));
    // A duplicate is refused with the reason.
    let again = admin
        .post(
            "/console/admin/users",
            &[
                ("csrf", &admin_csrf),
                ("username", "dave"),
                ("password", PASSWORD),
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
    // Not enrolled yet: password only.
    let csrf = b.sign_in("carol", "").await;
    let account = b.get("/console/account").await;
    assert!(account.body.contains("No authenticator is enrolled"));
    let r = b.post("/console/account/totp", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seed = r.text_of("totp-secret").unwrap();
    let uri = r.text_of("otpauth-uri").unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(r.body.contains("<svg") && r.body.contains("class=\"qr\""));
    let later = b.get("/console/account").await;
    assert!(!later.body.contains(&seed));
    assert!(!later.body.contains("<svg"));
    assert!(later.body.contains("A TOTP authenticator is enrolled"));
    // Replacing it needs a current code from it.
    let refused = b
        .post(
            "/console/account/totp",
            &[("csrf", &csrf), ("current_code", "000000")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.text_of("totp-secret").is_none());
    // The seed works for the next sign-in, which now needs it.
    let mut again = Browser::new(&s.base);
    again.sign_in("carol", &s.code(&seed)).await;
}
