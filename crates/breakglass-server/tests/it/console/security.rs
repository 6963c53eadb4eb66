//! Sessions and the console's defences: cookie attributes, security headers, CSRF tokens,
//! cross-origin posts, escaping, secrets shown once.

use super::*;

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_session_cookie() {
    let s = server(ConsoleSettings::default()).await;
    let seed = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let form = b.get("/console/login").await;
    let pre = form.set_cookies();
    assert!(
        pre.iter()
            .any(|c| c.starts_with("bg_csrf=") && c.contains("HttpOnly")),
        "{pre:?}"
    );
    let csrf = form.csrf();

    // A wrong code: the form again with an alert, and no session.
    let wrong = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("role=\"alert\" class=\"error\""),
        "{}",
        wrong.body
    );
    assert!(!b.cookies.contains_key("bg_session"));
    // Enrolled users must give a code.
    let none = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(!b.cookies.contains_key("bg_session"));

    let code = s.code(&seed);
    let ok = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", &code),
                ("next", "/console/approvals"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/console/approvals");
    let cookie = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("bg_session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(cookie.contains("bg_session=bgt_"));
    let dash = b.get("/console").await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("id=\"my-requests\""));

    // Signing out revokes the token: the old cookie no longer opens the console.
    let token = b.cookies["bg_session"].clone();
    let out = b.post("/console/logout", &[("csrf", &dash.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    b.cookies.insert("bg_session".into(), token);
    let after = b.get("/console").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().starts_with("/console/login"));

    // An open redirect through `next` is not followed.
    let mut b2 = Browser::new(&s.base);
    let csrf = b2.get("/console/login").await.csrf();
    let code = s.code(&seed);
    let r = b2
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", &code),
                ("next", "//evil.example/console"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/console");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_tls() {
    let s = server(ConsoleSettings {
        public_url: Some("https://breakglass.example.com".into()),
        ..ConsoleSettings::default()
    })
    .await;
    let seed = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let form = b.get("/console/login").await;
    assert!(form.set_cookies().iter().all(|c| c.contains("; Secure")));
    let code = s.code(&seed);
    let ok = b
        .post(
            "/console/login",
            &[
                ("csrf", &form.csrf()),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", &code),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let cookie = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("bg_session="))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn every_console_response_carries_the_security_headers() {
    let s = server(ConsoleSettings::default()).await;
    let seed = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let mut pages = vec![b.get("/console/login").await, b.get("/console").await];
    let code = s.code(&seed);
    let csrf = b.sign_in("carol", &code).await;
    let id = submit(&mut b, &csrf, "checking headers").await;
    for path in [
        "/console".to_owned(),
        "/console/requests/new".to_owned(),
        format!("/console/requests/{id}"),
        "/console/requests/r-nope".to_owned(),
        "/console/approvals".to_owned(),
        "/console/sessions".to_owned(),
        "/console/break-glass".to_owned(),
        "/console/audit".to_owned(),
        "/console/reviews".to_owned(),
        "/console/account".to_owned(),
        "/console/admin/users".to_owned(),
        "/console/notifications".to_owned(),
        "/console/deliveries".to_owned(),
        "/console/no-such-page".to_owned(),
        "/console/static/app.css".to_owned(),
        "/console/static/app.js".to_owned(),
    ] {
        pages.push(b.get(&path).await);
    }
    pages.push(b.post(&format!("/console/requests/{id}/cancel"), &[]).await);
    for p in &pages {
        let h = |n: &str| p.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            h("content-security-policy").as_deref(),
            Some(CSP),
            "{}",
            p.body
        );
        assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(h("referrer-policy").as_deref(), Some("same-origin"));
        assert_eq!(h("cache-control").as_deref(), Some("no-store"));
    }
    assert!(CSP.contains("script-src 'self'") && CSP.contains("frame-ancestors 'none'"));
    // No inline script or style anywhere (the CSP would block it).
    for p in &pages {
        assert!(
            !p.body.contains("<script>") && !p.body.contains("style="),
            "{}",
            p.body
        );
    }
    // An unknown console path is a readable page, not the API's JSON.
    let unknown = b.get("/console/no/such/page").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown
            .headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        unknown.headers
    );
    assert!(
        unknown
            .body
            .contains("There is no such page in the console."),
        "{}",
        unknown.body
    );
    assert!(
        unknown.body.contains("Back to the dashboard"),
        "{}",
        unknown.body
    );
    // The root goes to the console.
    let root = b.get("/").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.location(), "/console");
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut requester = Browser::new(&s.base);
    let carol_csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &carol_csrf, "csrf check").await;
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let page = approver.get(&format!("/console/requests/{id}")).await;
    assert!(page.body.contains("id=\"approve-form\""), "{}", page.body);
    let digest = field_value(&page.body, "digest").unwrap();
    let path = format!("/console/requests/{id}/approve");

    let code = s.code(&bob);
    let without = approver
        .post(&path, &[("digest", &digest), ("totp", &code)])
        .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.body);
    // Another session's token (carol's) is not bob's.
    let wrong = approver
        .post(
            &path,
            &[("csrf", &carol_csrf), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let garbage = approver
        .post(
            &path,
            &[("csrf", "00ff"), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(garbage.status, StatusCode::FORBIDDEN);
    // The refusal is shown to bob signed in: his navigation, with the session's own token in
    // the sign-out form (not the refused one), and no "Sign in" link.
    for refused in [&without, &wrong, &garbage] {
        assert!(
            refused.body.contains("action=\"/console/logout\""),
            "{}",
            refused.body
        );
        assert!(refused.body.contains(&bob_csrf), "{}", refused.body);
        assert!(!refused.body.contains(&carol_csrf), "{}", refused.body);
        assert!(
            !refused.body.contains("href=\"/console/login\""),
            "{}",
            refused.body
        );
    }
    assert_eq!(s.status(&id).await, "pending");
    assert_eq!(
        support::audit_count(&s.store, "approval_recorded", Some(&id)).await,
        0
    );
    // The refused posts did not even spend the TOTP code: it still works with the token.
    let ok = approver
        .post(
            &path,
            &[("csrf", &bob_csrf), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(s.status(&id).await, "approved");

    // Signing out needs the token too.
    let out = approver.post("/console/logout", &[]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    assert!(approver.get("/console").await.status == StatusCode::OK);
    // And the sign-in form needs its pre-session token.
    let mut fresh = Browser::new(&s.base);
    let r = fresh
        .post(
            "/console/login",
            &[("username", "bob"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!fresh.cookies.contains_key("bg_session"));
}

#[tokio::test]
async fn a_cross_origin_post_cannot_approve() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &csrf, "cross-site check").await;
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let page = approver.get(&format!("/console/requests/{id}")).await;
    let digest = field_value(&page.body, "digest").unwrap();
    let path = format!("/console/requests/{id}/approve");
    let code = s.code(&bob);
    let fields = [
        ("csrf", bob_csrf.as_str()),
        ("digest", &digest),
        ("totp", &code),
    ];
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("referer", "https://evil.example/page")],
    ] {
        let r = approver.post_with(&path, &fields, &headers).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}: {}", r.body);
        assert!(r.body.contains("cross-origin"));
        assert_eq!(r.headers.get("content-security-policy").unwrap(), CSP);
        // bob's session is valid: the refusal page has his signed-in navigation.
        assert!(r.body.contains("action=\"/console/logout\""), "{}", r.body);
        assert!(!r.body.contains("href=\"/console/login\""), "{}", r.body);
    }
    // Without a session, the same refusal has the signed-out navigation.
    let mut stranger = Browser::new(&s.base);
    let r = stranger
        .post_with(&path, &fields, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("href=\"/console/login\""), "{}", r.body);
    assert!(!r.body.contains("action=\"/console/logout\""), "{}", r.body);
    assert_eq!(s.status(&id).await, "pending");
    assert_eq!(
        support::audit_count(&s.store, "totp_verified", None).await,
        2
    );
    // The same post from this origin is accepted.
    let ok = approver.post(&path, &fields).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(s.status(&id).await, "approved");
}

#[tokio::test]
async fn a_justification_is_rendered_as_text() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    let evil = "<script>alert(\"x\")</script><img src=x onerror=alert(1)>";
    let id = submit(&mut b, &csrf, evil).await;
    let mut approver = Browser::new(&s.base);
    approver.sign_in("bob", &s.code(&bob)).await;
    for page in [
        b.get(&format!("/console/requests/{id}")).await,
        approver.get("/console/approvals").await,
    ] {
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("<script>alert"));
        assert!(!page.body.contains("<img src=x"));
    }
}

#[tokio::test]
async fn a_new_token_is_shown_once() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    // A console session cannot mint a token that outlives it (an hour into its 12).
    s.clock.advance(Duration::hours(1));
    let r = b
        .post(
            "/console/account/tokens",
            &[("csrf", &csrf), ("name", "laptop"), ("ttl_hours", "12")],
        )
        .await;
    assert!(r.body.contains("cannot outlive"), "{}", r.body);
    assert!(r.text_of("new-token").is_none());
    let r = b
        .post(
            "/console/account/tokens",
            &[("csrf", &csrf), ("name", "laptop"), ("ttl_hours", "8")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = r.text_of("new-token").expect("the new token");
    assert!(secret.starts_with("bgt_"), "{secret}");
    assert_eq!(r.body.matches(&secret).count(), 1);
    // It is a real token.
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", s.base))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Never shown again.
    let later = b.get("/console/account").await;
    assert_eq!(later.status, StatusCode::OK);
    assert!(later.body.contains("laptop"));
    assert!(!later.body.contains(&secret));
    assert!(later.text_of("new-token").is_none());
    // Nor is the session's own token ever in a page.
    let session = b.cookies["bg_session"].clone();
    assert!(!later.body.contains(&session));
    assert!(!r.body.contains(&session));

    // A token that outlives this session needs a fresh sign-in (password and code); a wrong
    // password mints nothing, and no token lives beyond 12 hours.
    let wrong = b
        .post(
            "/console/account/tokens",
            &[
                ("csrf", &csrf),
                ("name", "ci"),
                ("ttl_hours", "12"),
                ("password", "nope"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert!(wrong.text_of("new-token").is_none());
    let too_long = b
        .post(
            "/console/account/tokens",
            &[
                ("csrf", &csrf),
                ("name", "ci"),
                ("ttl_hours", "720"),
                ("password", PASSWORD),
                ("totp", &s.code(&carol)),
            ],
        )
        .await;
    assert_eq!(
        too_long.status,
        StatusCode::BAD_REQUEST,
        "{}",
        too_long.body
    );
    assert!(too_long.body.contains("12 hours"), "{}", too_long.body);
    let password_only = b
        .post(
            "/console/account/tokens",
            &[
                ("csrf", &csrf),
                ("name", "ci"),
                ("ttl_hours", "12"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        password_only.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        password_only.body
    );
    assert!(password_only.text_of("new-token").is_none());
    let long = b
        .post(
            "/console/account/tokens",
            &[
                ("csrf", &csrf),
                ("name", "ci"),
                ("ttl_hours", "12"),
                ("password", PASSWORD),
                ("totp", &s.code(&carol)),
            ],
        )
        .await;
    assert_eq!(long.status, StatusCode::OK, "{}", long.body);
    assert!(long.text_of("new-token").unwrap().starts_with("bgt_"));
    let tokens = s.auth.tokens(&support::user("carol")).await.unwrap();
    let ci = tokens.iter().find(|t| t.name == "ci").unwrap();
    assert_eq!(ci.expires_at - ci.created_at, Duration::hours(12));
    assert!(ci.second_factor);
}

#[tokio::test]
async fn a_request_is_seen_only_by_those_it_concerns() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let erin = s.user("erin", false).await;
    let bob = s.user("bob", false).await;
    let mut asker = Browser::new(&s.base);
    let csrf = asker.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut asker, &csrf, "only for those it concerns").await;
    let page = format!("/console/requests/{id}");
    assert_eq!(asker.get(&page).await.status, StatusCode::OK);
    // Bob may approve it; Erin (a responder, not a lead) may not, and does not see it.
    let mut approver = Browser::new(&s.base);
    approver.sign_in("bob", &s.code(&bob)).await;
    assert_eq!(approver.get(&page).await.status, StatusCode::OK);
    let mut other = Browser::new(&s.base);
    other.sign_in("erin", &s.code(&erin)).await;
    let r = other.get(&page).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(!r.body.contains("only for those it concerns"));
}

/// A justification holding a right-to-left override (and other hidden characters) reads on
/// the approver's screen as it was typed, the hidden characters shown as visible escapes:
/// on the request page, in the approvals list and in the audit log.
#[tokio::test]
async fn hidden_characters_in_a_justification_are_shown_escaped() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", true).await;
    let mut c = Browser::new(&s.base);
    let csrf = c.sign_in("carol", &s.code(&carol)).await;
    // Renders as "routine check, approve" with the tail reversed by the override.
    let id = submit(
        &mut c,
        &csrf,
        "routine check \u{202E}evorppa\u{202C} \u{200B}x\u{1b}[2J",
    )
    .await;
    let mut b = Browser::new(&s.base);
    b.sign_in("bob", &s.code(&bob)).await;
    for path in [
        format!("/console/requests/{id}"),
        "/console/approvals".to_owned(),
        "/console/audit".to_owned(),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        for raw in ['\u{202E}', '\u{202C}', '\u{200B}', '\u{1b}'] {
            assert!(!page.body.contains(raw), "{path} shows {raw:?} raw");
        }
        assert!(page.body.contains("[U+202E]"), "{path}: {}", page.body);
    }
}
