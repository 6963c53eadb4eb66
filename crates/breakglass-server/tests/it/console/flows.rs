//! The console's flows: request to revoked grant, break-glass with its step-up, the
//! post-incident review, the audit page.

use super::*;

#[tokio::test]
async fn a_request_goes_from_the_form_to_a_revoked_grant() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let alice = s.user("alice", true).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &csrf, "GuardDuty finding").await;
    let page = requester.get(&format!("/console/requests/{id}")).await;
    assert_eq!(page.text_of("request-status").as_deref(), Some("pending"));
    assert!(
        !page.body.contains("approve-form"),
        "the requester cannot approve"
    );
    assert!(page.body.contains("s3:GetObject") || page.body.contains("Allow"));

    // A wrong code: refused with the reason, nothing approved.
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let pending = approver.get("/console/approvals").await;
    assert!(
        pending.body.contains(&format!("data-request=\"{id}\"")),
        "{}",
        pending.body
    );
    let view = approver.get(&format!("/console/requests/{id}")).await;
    let digest = field_value(&view.body, "digest").unwrap();
    let path = format!("/console/requests/{id}/approve");
    let bad = approver
        .post(
            &path,
            &[("csrf", &bob_csrf), ("digest", &digest), ("totp", "123456")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    assert!(bad.body.contains("role=\"alert\""));
    assert_eq!(s.status(&id).await, "pending");
    let code = s.code(&bob);
    let ok = approver
        .post(
            &path,
            &[("csrf", &bob_csrf), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);

    // The requester activates and gets the credential_process line.
    let act = requester
        .post(
            &format!("/console/requests/{id}/activate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(act.status, StatusCode::SEE_OTHER, "{}", act.body);
    let live = requester.get(&format!("/console/requests/{id}")).await;
    assert_eq!(live.text_of("request-status").as_deref(), Some("active"));
    let line = live.text_of("credential-process").unwrap();
    assert!(
        line.starts_with("credential_process = breakglass creds --grant ")
            && line.ends_with(&format!(" --server {}", s.base)),
        "{line}"
    );
    // In the config's units: `1h`, not seconds.
    assert_eq!(live.text_of("time-left").as_deref(), Some("1h"));
    let grant = line.split_whitespace().nth(5).unwrap().to_owned();
    let console = requester
        .post(
            &format!("/console/grants/{grant}/console"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.body);
    assert!(
        console
            .body
            .contains("id=\"aws-console-link\" href=\"https://signin.example/")
    );

    // Credentials once, for the requester only.
    let creds = requester
        .post(
            &format!("/console/grants/{grant}/credentials"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(creds.status, StatusCode::OK, "{}", creds.body);
    let exports = creds.text_of("credentials").unwrap();
    assert!(
        exports.contains("export AWS_ACCESS_KEY_ID=ASIAFAKE")
            && exports.contains("export AWS_SESSION_TOKEN=token-"),
        "{exports}"
    );
    let token = exports
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_SESSION_TOKEN="))
        .unwrap()
        .to_owned();
    let again = requester.get(&format!("/console/requests/{id}")).await;
    assert!(!again.body.contains(&token));
    let other = approver
        .post(
            &format!("/console/grants/{grant}/credentials"),
            &[("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.body);
    assert!(other.text_of("credentials").is_none());

    // An admin sees it among the sessions and revokes it.
    let mut admin = Browser::new(&s.base);
    let admin_csrf = admin.sign_in("alice", &s.code(&alice)).await;
    let sessions = admin.get("/console/sessions").await;
    assert!(sessions.body.contains(&grant), "{}", sessions.body);
    let r = admin
        .post(
            &format!("/console/requests/{id}/revoke"),
            &[("csrf", &admin_csrf), ("reason", "incident closed")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let done = requester.get(&format!("/console/requests/{id}")).await;
    assert_eq!(done.text_of("request-status").as_deref(), Some("revoked"));
    assert!(done.text_of("credential-process").is_none());
}

#[tokio::test]
async fn break_glass_needs_the_acknowledgement_and_a_valid_totp_step_up() {
    let s = server(ConsoleSettings::default()).await;
    let alice = s.user("alice", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("alice", &s.code(&alice)).await;
    let form = b.get("/console/break-glass").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("id=\"break-glass-warning\""));
    assert!(
        form.body
            .contains("<div class=\"warning\" id=\"break-glass-warning\" role=\"alert\">"),
        "{}",
        form.body
    );
    assert!(form.body.contains("pages the security team"));
    let fields = |ack: bool, totp: &str| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("incident_id", "INC-2024-666".to_owned()),
            ("playbook", "emergency".to_owned()),
            ("role", "SecurityBreakGlass".to_owned()),
            ("account", "222222222222".to_owned()),
            ("duration_minutes", "30".to_owned()),
            ("justification", "ransomware spreading".to_owned()),
            ("totp", totp.to_owned()),
        ];
        if ack {
            f.push(("acknowledge", "yes".to_owned()));
        }
        f
    };
    for (ack, totp, status) in [
        (false, s.code(&alice), StatusCode::BAD_REQUEST),
        (true, "000000".to_owned(), StatusCode::FORBIDDEN),
        (true, String::new(), StatusCode::BAD_REQUEST),
    ] {
        let f = fields(ack, &totp);
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post("/console/break-glass", &refs).await;
        assert_eq!(r.status, status, "{}", r.body);
        if totp.is_empty() {
            // An empty code is asked for by name, not called wrong.
            assert!(
                r.body
                    .contains("TOTP code (field <code>totp</code>) is required")
                    && r.body.contains("authenticator app"),
                "{}",
                r.body
            );
            assert!(!r.body.contains("wrong or was already used"), "{}", r.body);
        }
        assert!(
            r.body.contains("role=\"alert\" class=\"error\""),
            "{}",
            r.body
        );
        // The form comes back filled in.
        assert!(r.body.contains("ransomware spreading"));
    }
    assert_eq!(
        support::audit_count(&s.store, "break_glass_activated", None).await,
        0
    );
    // Each attempt that reached the step-up is recorded as a refused break-glass.
    assert_eq!(
        support::audit_count(&s.store, "action_refused", None).await,
        2
    );

    let code = s.code(&alice);
    let f = fields(true, &code);
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post("/console/break-glass", &refs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = request_id(&r.location());
    assert_eq!(s.status(&id).await, "active");
    let page = b.get(&r.location()).await;
    assert_eq!(page.text_of("request-status").as_deref(), Some("active"));
    assert!(page.body.contains("break-glass"));
    assert!(page.text_of("credential-process").is_some());
    // The Copy button needs JavaScript: it is rendered hidden, and app.js shows it.
    assert!(
        page.body.contains(
            "<button id=\"copy-credential-process\" type=\"button\" data-copy=\"credential-process\" hidden>"
        ),
        "{}",
        page.body
    );
    assert_eq!(
        support::audit_count(&s.store, "break_glass_activated", Some(&id)).await,
        1
    );
}

#[tokio::test]
async fn the_audit_page_says_whether_the_chain_verifies() {
    use sqlx::Connection as _;
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    submit(&mut b, &csrf, "audit check").await;
    // The audit log is for administrators.
    assert_eq!(b.get("/console/audit").await.status, StatusCode::FORBIDDEN);
    let root = s.user("root", true).await;
    let mut b = Browser::new(&s.base);
    b.sign_in("root", &s.code(&root)).await;
    let page = b.get("/console/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    let status = page.text_of("audit-verification").unwrap();
    assert!(status.contains("verified"), "{status}");
    assert!(page.body.contains("request_submitted"));

    // Edit a record behind the broker's back.
    let path = s._dir.path().join("console.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for stmt in [
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
    ] {
        sqlx::query(stmt).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let page = b.get("/console/audit").await;
    let status = page.text_of("audit-verification").unwrap();
    assert!(
        status.contains("BROKEN") && status.contains("#1"),
        "{status}"
    );
}

/// Alice (whose TOTP seed is `seed`) signs in and uses break-glass on the emergency
/// playbook: her browser, its CSRF token and the request id.
async fn break_glass_as_alice(
    s: &Server,
    seed: &str,
    incident: &str,
    justification: &str,
) -> (Browser, String, String) {
    let mut user = Browser::new(&s.base);
    let csrf = user.sign_in("alice", &s.code(seed)).await;
    let code = s.code(seed);
    let r = user
        .post(
            "/console/break-glass",
            &[
                ("csrf", &csrf),
                ("incident_id", incident),
                ("playbook", "emergency"),
                ("role", "SecurityBreakGlass"),
                ("account", "222222222222"),
                ("duration_minutes", "30"),
                ("justification", justification),
                ("acknowledge", "yes"),
                ("totp", &code),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = request_id(&r.location());
    (user, csrf, id)
}

#[tokio::test]
async fn a_break_glass_use_is_reviewed_by_someone_else_after_it_ends() {
    let s = server(ConsoleSettings::default()).await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let (mut user, csrf, id) =
        break_glass_as_alice(&s, &alice, "INC-2024-900", "containment").await;

    let mut reviewer = Browser::new(&s.base);
    let bob_csrf = reviewer.sign_in("bob", &s.code(&bob)).await;
    let list = reviewer.get("/console/reviews").await;
    assert!(
        list.body.contains(&format!("id=\"review-{id}\"")),
        "{}",
        list.body
    );
    assert!(list.body.contains("has not ended yet"));
    // Not while the grant is live.
    let early = reviewer
        .post(
            &format!("/console/requests/{id}/review"),
            &[
                ("csrf", &bob_csrf),
                ("outcome", "appropriate"),
                ("notes", "early"),
                ("totp", &s.code(&bob)),
            ],
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);

    let revoke = user
        .post(
            &format!("/console/requests/{id}/revoke"),
            &[("csrf", &csrf), ("reason", "contained")],
        )
        .await;
    assert_eq!(revoke.status, StatusCode::SEE_OTHER, "{}", revoke.body);
    // The user cannot review their own use; the page offers them no form.
    let own = user.get("/console/reviews").await;
    assert!(
        own.body.contains("You may not review this use."),
        "{}",
        own.body
    );
    let list = reviewer.get("/console/reviews").await;
    assert!(
        list.body.contains(&format!("id=\"outcome-{id}\"")),
        "{}",
        list.body
    );
    // Signing off is a step-up action: not without a code.
    let no_code = reviewer
        .post(
            &format!("/console/requests/{id}/review"),
            &[
                ("csrf", &bob_csrf),
                ("outcome", "appropriate"),
                ("notes", "well handled"),
            ],
        )
        .await;
    assert_eq!(no_code.status, StatusCode::BAD_REQUEST, "{}", no_code.body);
    assert_eq!(
        support::audit_count(&s.store, "review_completed", Some(&id)).await,
        0
    );
    let done = reviewer
        .post(
            &format!("/console/requests/{id}/review"),
            &[
                ("csrf", &bob_csrf),
                ("outcome", "appropriate"),
                ("notes", "well handled"),
                ("totp", &s.code(&bob)),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        support::audit_count(&s.store, "review_completed", Some(&id)).await,
        1
    );
    let list = reviewer.get("/console/reviews").await;
    assert!(list.body.contains("No reviews outstanding."));
}

/// The reviews page lists a break-glass use (requester, incident, justification) only to
/// who may read the request: a reviewer sees it, a signed-in outsider and a responder who
/// may neither approve, revoke nor review it see nothing of it.
#[tokio::test]
async fn the_reviews_page_shows_a_break_glass_use_only_to_who_may_read_it() {
    let s = server(ConsoleSettings::default()).await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let (_, _, id) = break_glass_as_alice(
        &s,
        &alice,
        "INC-2024-931",
        "ransomware note on the file server",
    )
    .await;
    let mut reviewer = Browser::new(&s.base);
    reviewer.sign_in("bob", &s.code(&bob)).await;
    let seen = reviewer.get("/console/reviews").await;
    assert!(
        seen.body.contains(&format!("id=\"review-{id}\"")),
        "{}",
        seen.body
    );
    for outsider in ["mallory", "erin"] {
        let seed = s.user(outsider, false).await;
        let mut b = Browser::new(&s.base);
        b.sign_in(outsider, &s.code(&seed)).await;
        let page = b.get("/console/reviews").await;
        assert_eq!(page.status, StatusCode::OK, "{outsider}: {}", page.body);
        for secret in [id.as_str(), "INC-2024-931", "ransomware note", "Alice"] {
            assert!(
                !page.body.contains(secret),
                "{outsider} sees `{secret}` on the reviews page: {}",
                page.body
            );
        }
        assert!(
            page.body.contains("No reviews outstanding."),
            "{}",
            page.body
        );
    }
}

/// A pending extension shows on the request page with its own Approve (TOTP) and Deny
/// forms, to an approver and not to the requester; approving it moves the grant's end.
#[tokio::test]
async fn an_extension_is_decided_on_the_request_page() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &csrf, "GuardDuty finding").await;
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let view = approver.get(&format!("/console/requests/{id}")).await;
    let digest = field_value(&view.body, "digest").unwrap();
    let ok = approver
        .post(
            &format!("/console/requests/{id}/approve"),
            &[
                ("csrf", &bob_csrf),
                ("digest", &digest),
                ("totp", &s.code(&bob)),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let act = requester
        .post(
            &format!("/console/requests/{id}/activate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(act.status, StatusCode::SEE_OTHER, "{}", act.body);
    let end_before = s.grant_end(&id).await;

    // The requester asks for 30 more minutes through the API with her session's token.
    let token = requester.cookies.get("bg_session").unwrap().clone();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/requests/{id}/extend", s.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"add_seconds": 1800, "justification": "still cleaning up"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mine = requester.get(&format!("/console/requests/{id}")).await;
    assert!(mine.body.contains("pending-extension"), "{}", mine.body);
    assert!(
        !mine.body.contains("approve-extension-form"),
        "the requester cannot approve her own extension"
    );
    let view = approver.get(&format!("/console/requests/{id}")).await;
    assert!(
        view.body.contains("approve-extension-form"),
        "{}",
        view.body
    );
    assert!(view.body.contains("deny-extension-form"));
    assert!(view.body.contains("still cleaning up"));
    // The form carries the extension's digest, not the request's.
    let form_at = view.body.find("approve-extension-form").unwrap();
    let ext_digest = field_value(&view.body[form_at..], "digest").unwrap();
    assert_ne!(ext_digest, digest);
    let path = format!("/console/requests/{id}/extension/approve");
    let bad = approver
        .post(
            &path,
            &[
                ("csrf", &bob_csrf),
                ("digest", &ext_digest),
                ("totp", "123456"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN, "{}", bad.body);
    assert_eq!(
        s.grant_end(&id).await,
        end_before,
        "a wrong code moves nothing"
    );
    let ok = approver
        .post(
            &path,
            &[
                ("csrf", &bob_csrf),
                ("digest", &ext_digest),
                ("totp", &s.code(&bob)),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(s.grant_end(&id).await - end_before, Duration::minutes(30));
    let after = approver.get(&format!("/console/requests/{id}")).await;
    assert!(!after.body.contains("pending-extension"));
}

#[tokio::test]
async fn a_failed_cut_off_shows_on_the_sessions_page_until_it_holds() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let alice = s.user("alice", true).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &csrf, "GuardDuty finding").await;
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let view = approver.get(&format!("/console/requests/{id}")).await;
    let digest = field_value(&view.body, "digest").unwrap();
    let code = s.code(&bob);
    let ok = approver
        .post(
            &format!("/console/requests/{id}/approve"),
            &[("csrf", &bob_csrf), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let act = requester
        .post(
            &format!("/console/requests/{id}/activate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(act.status, StatusCode::SEE_OTHER, "{}", act.body);
    let live = requester.get(&format!("/console/requests/{id}")).await;
    let line = live.text_of("credential-process").unwrap();
    let grant = line.split_whitespace().nth(5).unwrap().to_owned();
    let creds = requester
        .post(
            &format!("/console/grants/{grant}/credentials"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(creds.status, StatusCode::OK, "{}", creds.body);

    // The revoker has lost its rights on the role: the revocation commits, the cut-off fails.
    let role = "arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst";
    s.cloud.denied_roles.lock().unwrap().insert(role.to_owned());
    let mut admin = Browser::new(&s.base);
    let admin_csrf = admin.sign_in("alice", &s.code(&alice)).await;
    let _ = admin
        .post(
            &format!("/console/requests/{id}/revoke"),
            &[("csrf", &admin_csrf), ("reason", "incident closed")],
        )
        .await;
    assert_eq!(s.status(&id).await, "revoked");

    let page = admin.get("/console/sessions").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("cut-off failed — retrying"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"cut-off-failed\""), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("href=\"/console/requests/{id}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("AWS refused the write (access denied)"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<td class=\"cut-off-attempts\" data-label=\"Attempts\">1</td>"),
        "{}",
        page.body
    );
    // AWS's own words stay in the audit log and the log.
    assert!(!page.body.contains("not authorized"), "{}", page.body);
    // The requester may read the request, so sees it too.
    let mine = requester.get("/console/sessions").await;
    assert!(
        mine.body.contains("cut-off failed — retrying"),
        "{}",
        mine.body
    );

    // The revoker's rights come back and the worker's rewrite holds: the badge is gone.
    s.cloud.denied_roles.lock().unwrap().clear();
    let role = breakglass_core::model::RoleArn::new(role).unwrap();
    assert!(!s.app.sync_role(&role).await.unwrap().deferred);
    let page = admin.get("/console/sessions").await;
    assert!(!page.body.contains("cut-off failed"), "{}", page.body);
}
