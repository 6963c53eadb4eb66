//! What each page says first and how it confirms (issue 19): the approver's dashboard
//! leads with the request waiting for them, every action ends on a confirmation banner,
//! labels say what happened ("Revoked by bob", "break-glass: no approval needed"),
//! break-glass grants are flagged wherever they are listed and an incident-response lead
//! sees a colleague's, a review's outcome is chosen explicitly, the notifications page
//! shows what is still being retried, the request form offers only what the chosen
//! playbook grants, and messages read as people write (no backticks, no seconds).

use breakglass_core::ports::OutboxSettle;

use super::*;

/// The text of `body` from the element with `id` on (for "this comes before that").
fn position(body: &str, id: &str) -> usize {
    body.find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"))
}

/// The values of the `<option>`s of the select with `id`.
fn options(body: &str, id: &str) -> Vec<String> {
    let at = position(body, id);
    let rest = &body[at..];
    let select = &rest[..rest.find("</select>").unwrap()];
    select
        .split("<option value=\"")
        .skip(1)
        .map(|o| o[..o.find('"').unwrap()].to_owned())
        .collect()
}

/// Approves request `id` as the signed-in `b` (TOTP `code`); returns the redirect.
async fn approve(b: &mut Browser, csrf: &str, id: &str, code: &str) -> Page {
    let view = b.get(&format!("/console/requests/{id}")).await;
    let digest = field_value(&view.body, "digest").unwrap();
    b.post(
        &format!("/console/requests/{id}/approve"),
        &[("csrf", csrf), ("digest", &digest), ("totp", code)],
    )
    .await
}

/// Follows the 303 of an action and returns the page it leads to, checking it carries
/// the confirmation `done` and shows `banner`.
async fn confirmed(b: &mut Browser, r: &Page, done: &str, banner: &str) -> Page {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location();
    assert!(to.ends_with(&format!("?done={done}")), "{to}");
    let page = b.get(&to).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.text_of("flash").as_deref(),
        Some(banner),
        "{}",
        page.body
    );
    assert!(
        position(&page.body, "flash") < position(&page.body, "request-status"),
        "the banner comes first"
    );
    page
}

#[tokio::test]
async fn an_approvers_dashboard_leads_with_the_request_waiting_for_them() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &csrf, "odd logins").await;

    let mut approver = Browser::new(&s.base);
    approver.sign_in("bob", &s.code(&bob)).await;
    let dash = approver.get("/console").await;
    assert!(
        dash.body
            .contains("id=\"waiting-summary\"><strong>1 request waits for your approval.</strong>"),
        "{}",
        dash.body
    );
    let waiting = position(&dash.body, "waiting-for-you");
    assert!(
        waiting < position(&dash.body, "my-grants")
            && waiting < position(&dash.body, "my-requests"),
        "the waiting request comes before bob's own grants and requests"
    );
    let row = &dash.body[waiting..position(&dash.body, "my-grants")];
    for want in [
        format!("data-request=\"{id}\""),
        format!("aria-label=\"Review {id}\""),
        "SecurityAnalyst".to_owned(),
        "production (222222222222)".to_owned(),
        "INC-2024-007".to_owned(),
    ] {
        assert!(row.contains(&want), "want `{want}` in {row}");
    }
    // The requester is not asked to approve their own request.
    let own = requester.get("/console").await;
    assert_eq!(
        own.text_of("waiting-summary").as_deref(),
        Some("Nothing waits for your approval.")
    );
    assert!(!own.body.contains("id=\"waiting-for-you\""));
    // Once bob approved it, it no longer waits for him.
    let bob_csrf = csrf_of(&mut approver).await;
    let r = approve(&mut approver, &bob_csrf, &id, &s.code(&bob)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let dash = approver.get("/console").await;
    assert!(
        !dash.body.contains("id=\"waiting-for-you\""),
        "{}",
        dash.body
    );
}

/// The CSRF token of the signed-in `b`'s dashboard.
async fn csrf_of(b: &mut Browser) -> String {
    b.get("/console").await.csrf()
}

#[tokio::test]
async fn every_action_ends_on_a_confirmation_and_honest_labels() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;

    // Submitted, approved, activated, extension asked for and turned down, revoked.
    let r = requester
        .post(
            "/console/requests",
            &[
                ("csrf", &csrf),
                ("incident_id", "INC-19"),
                ("playbook", "investigate"),
                ("role", "SecurityAnalyst"),
                ("account", "222222222222"),
                ("duration_minutes", "1h30m"),
                ("justification", "phone-first"),
            ],
        )
        .await;
    let page = confirmed(
        &mut requester,
        &r,
        "submitted",
        "Request submitted: the approvers have been notified.",
    )
    .await;
    let id = request_id(&r.location());
    assert!(page.body.contains("for 1h30m"), "{}", page.body);
    assert!(page.body.contains("Waiting for approval: 0 of 1 so far."));

    let r = approve(&mut approver, &bob_csrf, &id, &s.code(&bob)).await;
    let page = confirmed(&mut approver, &r, "approved", "You approved this request.").await;
    assert!(page.body.contains("waiting for carol to activate it"));

    let approved = requester.get(&format!("/console/requests/{id}")).await;
    // Activate is the page's first action: before the facts, the policy and Revoke.
    let activate = position(&approved.body, "activate-form");
    for later in ["session-policy", "revoke-form"] {
        assert!(activate < position(&approved.body, later), "{later}");
    }
    let r = requester
        .post(
            &format!("/console/requests/{id}/activate"),
            &[("csrf", &csrf)],
        )
        .await;
    let page = confirmed(
        &mut requester,
        &r,
        "activated",
        "Grant activated: your access has started.",
    )
    .await;
    assert_eq!(page.text_of("time-left").as_deref(), Some("1h30m"));
    // A link carrying a code the request does not bear out shows no banner: a forged
    // "You revoked this grant" on a live grant, or another's approval claimed by carol.
    for forged in [
        "revoked",
        "approved",
        "denied",
        "reviewed",
        "extension-approved",
    ] {
        let page = requester
            .get(&format!("/console/requests/{id}?done={forged}"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.text_of("flash"), None, "?done={forged}: {}", page.body);
    }
    let left = position(&page.body, "time-left");
    for later in ["session-policy", "revoke-form", "extend-form"] {
        assert!(left < position(&page.body, later), "{later}");
    }

    // An extension, asked for on the console in the config's units.
    let r = requester
        .post(
            &format!("/console/requests/{id}/extend"),
            &[
                ("csrf", &csrf),
                ("add", "45m"),
                ("justification", "still collecting logs"),
            ],
        )
        .await;
    let page = confirmed(
        &mut requester,
        &r,
        "extension-requested",
        "Extension asked for: the approvers have been notified.",
    )
    .await;
    assert!(page.body.contains("45m more"), "{}", page.body);
    assert!(!page.body.contains("id=\"extend-form\""), "one at a time");
    let r = approver
        .post(
            &format!("/console/requests/{id}/extension/deny"),
            &[("csrf", &bob_csrf), ("reason", "open a new request")],
        )
        .await;
    confirmed(
        &mut approver,
        &r,
        "extension-denied",
        "You turned the extension down.",
    )
    .await;

    let r = approver
        .post(
            &format!("/console/requests/{id}/revoke"),
            &[("csrf", &bob_csrf), ("reason", "done")],
        )
        .await;
    let page = confirmed(
        &mut approver,
        &r,
        "revoked",
        "You revoked this grant: its sessions are cut off.",
    )
    .await;
    let decided = page.body[position(&page.body, "decided")..].to_owned();
    assert!(
        decided.contains("<strong>Revoked by bob</strong>") && decided.contains(": done"),
        "{decided}"
    );
    assert!(!page.body.contains("Decided"));
    // Nor does "Grant activated" show on a grant that is over.
    let over = requester
        .get(&format!("/console/requests/{id}?done=activated"))
        .await;
    assert_eq!(over.text_of("flash"), None, "{}", over.body);
    assert_eq!(
        page.text_of("approvals").as_deref(),
        Some("1 of 1 needed (from ir-leads)")
    );

    // Denied and withdrawn say who did it.
    let denied = submit(&mut requester, &csrf, "to deny").await;
    let r = approver
        .post(
            &format!("/console/requests/{denied}/deny"),
            &[("csrf", &bob_csrf), ("reason", "not needed")],
        )
        .await;
    let page = confirmed(&mut approver, &r, "denied", "You denied this request.").await;
    assert!(page.body.contains("<strong>Denied by bob</strong>"));
    let withdrawn = submit(&mut requester, &csrf, "to withdraw").await;
    let r = requester
        .post(
            &format!("/console/requests/{withdrawn}/cancel"),
            &[("csrf", &csrf), ("reason", "")],
        )
        .await;
    let page = confirmed(
        &mut requester,
        &r,
        "cancelled",
        "You withdrew this request.",
    )
    .await;
    assert!(page.body.contains("<strong>Withdrawn by carol</strong>"));

    // A `done` the console did not write shows nothing, and echoes nothing.
    let forged = requester
        .get(&format!(
            "/console/requests/{withdrawn}?done=%3Cb%3Eyou%20won%3C%2Fb%3E"
        ))
        .await;
    assert!(forged.text_of("flash").is_none());
    assert!(!forged.body.contains("you won"));
}

/// Alice's break-glass through the console form (`duration` as typed: `30m` or minutes).
async fn break_glass(
    user: &mut Browser,
    csrf: &str,
    code: &str,
    incident: &str,
    duration: &str,
    justification: &str,
) -> Page {
    user.post(
        "/console/break-glass",
        &[
            ("csrf", csrf),
            ("incident_id", incident),
            ("playbook", "emergency"),
            ("role", "SecurityBreakGlass"),
            ("account", "222222222222"),
            ("duration_minutes", duration),
            ("justification", justification),
            ("acknowledge", "yes"),
            ("totp", code),
        ],
    )
    .await
}

#[tokio::test]
async fn break_glass_is_flagged_needs_no_approval_and_a_lead_sees_it() {
    let s = server(ConsoleSettings::default()).await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let mut user = Browser::new(&s.base);
    let csrf = user.sign_in("alice", &s.code(&alice)).await;
    let code = s.code(&alice);
    let r = break_glass(&mut user, &csrf, &code, "INC-911", "30m", "payments down").await;
    let page = confirmed(
        &mut user,
        &r,
        "break-glass",
        "Break-glass access activated: the security team has been paged.",
    )
    .await;
    let id = request_id(&r.location());
    assert_eq!(
        page.text_of("approvals").as_deref(),
        Some("break-glass: no approval needed")
    );
    assert!(!page.body.contains("0 of 2"), "{}", page.body);

    // Flagged on alice's dashboard and sessions page.
    for path in ["/console", "/console/sessions"] {
        let list = user.get(path).await;
        let row = &list.body[list.body.find(&format!("data-request=\"{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("class=\"break-glass\""), "{path}: {row}");
        assert!(row.contains("break-glass-flag"), "{path}: {row}");
    }

    // bob, an incident-response lead, sees alice's live break-glass session, flagged, and
    // may revoke it.
    let mut lead = Browser::new(&s.base);
    lead.sign_in("bob", &s.code(&bob)).await;
    // bob's dashboard leads with it too.
    let dash = lead.get("/console").await;
    let live =
        &dash.body[position(&dash.body, "live-break-glass")..position(&dash.body, "my-grants")];
    assert!(
        live.contains(&format!("data-request=\"{id}\" class=\"break-glass\""))
            && live.contains("break-glass-flag")
            && live.contains("INC-911"),
        "{live}"
    );
    assert!(
        dash.body
            .contains("<strong>1 live break-glass session of colleagues.</strong>")
    );
    let sessions = lead.get("/console/sessions").await;
    assert!(
        sessions
            .body
            .contains(&format!("data-request=\"{id}\" class=\"break-glass\"")),
        "{}",
        sessions.body
    );
    assert!(
        sessions
            .body
            .contains("Revoke alice&#39;s SecurityBreakGlass grant")
            || sessions
                .body
                .contains("Revoke alice's SecurityBreakGlass grant"),
        "{}",
        sessions.body
    );
    assert!(sessions.body.contains("production (222222222222)"));
    assert!(sessions.body.contains("INC-911"));
    assert_eq!(
        sessions.text_of("sessions-summary").as_deref(),
        Some("1 active grant, ")
    );
}

#[tokio::test]
async fn a_review_outcome_is_chosen_explicitly() {
    let s = server(ConsoleSettings::default()).await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let mut user = Browser::new(&s.base);
    let csrf = user.sign_in("alice", &s.code(&alice)).await;
    let code = s.code(&alice);
    let r = break_glass(&mut user, &csrf, &code, "INC-912", "30", "containment").await;
    let id = request_id(&r.location());
    let r = user
        .post(
            &format!("/console/requests/{id}/revoke"),
            &[("csrf", &csrf), ("reason", "contained")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let mut reviewer = Browser::new(&s.base);
    let bob_csrf = reviewer.sign_in("bob", &s.code(&bob)).await;
    let list = reviewer.get("/console/reviews").await;
    let form = &list.body[position(&list.body, &format!("outcome-{id}"))..];
    let form = &form[..form.find("</fieldset>").unwrap()];
    assert_eq!(form.matches("type=\"radio\"").count(), 2, "{form}");
    assert!(
        !form.contains("checked"),
        "an outcome is preselected: {form}"
    );
    assert!(
        !list.body.contains("<select id=\"outcome-"),
        "{}",
        list.body
    );

    // Signing off without an outcome: a clear error, nothing recorded.
    let none = reviewer
        .post(
            &format!("/console/requests/{id}/review"),
            &[
                ("csrf", &bob_csrf),
                ("notes", "looked fine"),
                ("totp", &s.code(&bob)),
            ],
        )
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "{}", none.body);
    assert!(
        none.body
            .contains("choose the review&#39;s outcome: appropriate or inappropriate")
            || none
                .body
                .contains("choose the review's outcome: appropriate or inappropriate"),
        "{}",
        none.body
    );
    assert!(
        none.body.contains(&format!("id=\"outcome-{id}\"")),
        "the form again"
    );
    let still = reviewer.get("/console/reviews").await;
    assert!(still.body.contains(&format!("id=\"review-{id}\"")));

    let done = reviewer
        .post(
            &format!("/console/requests/{id}/review"),
            &[
                ("csrf", &bob_csrf),
                ("outcome", "inappropriate"),
                ("notes", "should have waited"),
                ("totp", &s.code(&bob)),
            ],
        )
        .await;
    let page = confirmed(
        &mut reviewer,
        &done,
        "reviewed",
        "Post-incident review completed.",
    )
    .await;
    assert!(
        page.text_of("review-outcome")
            .unwrap()
            .contains(": inappropriate"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_notifications_page_shows_pending_retrying_and_dead_letters() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let alice = s.user("alice", true).await;
    let mut responder = Browser::new(&s.base);
    let csrf = responder.sign_in("carol", &s.code(&carol)).await;
    let mut admin = Browser::new(&s.base);
    admin.sign_in("alice", &s.code(&alice)).await;
    // What was written before (the enrolments' notices) has been delivered.
    let now = s.clock.now();
    for m in s
        .store
        .outbox_claim(now, "test", now + Duration::minutes(1), 100)
        .await
        .unwrap()
    {
        let delivered = OutboxSettle::Delivered {
            at: now,
            done_channels: vec!["email".into()],
        };
        assert!(
            s.store
                .outbox_settle(m.id, "test", delivered)
                .await
                .unwrap()
        );
    }
    for why in ["first", "second", "third"] {
        submit(&mut responder, &csrf, why).await;
    }
    // The worker tried the first twice (failing), gave up on the second, and has not
    // tried the third yet.
    let now = s.clock.now();
    let claimed = s
        .store
        .outbox_claim(now, "test", now + Duration::minutes(1), 2)
        .await
        .unwrap();
    let [retried, dead] = claimed.as_slice() else {
        panic!("{claimed:?}")
    };
    let error = "webhook#0: HTTP 503 from https://hooks.example.com/breakglass";
    let retry = |at| OutboxSettle::Retry {
        done_channels: vec!["email".into()],
        error: error.into(),
        retry_at: at,
    };
    assert!(
        s.store
            .outbox_settle(retried.id, "test", retry(now))
            .await
            .unwrap()
    );
    s.store
        .outbox_claim(now, "test", now + Duration::minutes(1), 1)
        .await
        .unwrap();
    assert!(
        s.store
            .outbox_settle(retried.id, "test", retry(now + Duration::minutes(4)))
            .await
            .unwrap()
    );
    let commit = breakglass_core::delivery::dead_letter_commit(dead, vec![], "slack: refused", now);
    assert!(
        s.store
            .outbox_settle(
                dead.id,
                "test",
                OutboxSettle::DeadLetter {
                    done_channels: vec![],
                    error: "slack: refused".into(),
                    at: now,
                    commit: Box::new(commit),
                },
            )
            .await
            .unwrap()
    );

    // Not for a responder; the old address leads to the new page.
    assert_eq!(
        responder.get("/console/notifications").await.status,
        StatusCode::FORBIDDEN
    );
    let old = admin.get("/console/deliveries").await;
    assert_eq!(old.status, StatusCode::SEE_OTHER);
    assert_eq!(old.location(), "/console/notifications");
    let page = admin.get("/console/notifications").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let summary = page.body[position(&page.body, "notification-summary")..].to_owned();
    assert!(
        summary.starts_with(
            "id=\"notification-summary\"><strong>2 pending, 1 retrying, 1 dead-lettered.</strong>"
        ),
        "{summary}"
    );
    let row = |id: i64| {
        let at = page
            .body
            .find(&format!("data-outbox=\"{id}\""))
            .unwrap_or_else(|| panic!("no outbox row {id} in {}", page.body));
        let rest = &page.body[at..];
        rest[..rest.find("</tr>").unwrap()].to_owned()
    };
    let retrying = row(retried.id);
    for want in [
        "class=\"retrying\"",
        "<td class=\"attempts\" data-label=\"Attempts\">2</td>",
        "retrying",
        "(in 4m)",
        "email",
        "HTTP 503 from https://hooks.example.com/breakglass",
        "approval_needed",
    ] {
        assert!(retrying.contains(want), "want `{want}` in {retrying}");
    }
    let queued = &page.body
        [position(&page.body, "queued-notifications")..position(&page.body, "dead-letters")];
    // The third request's announcement and the dead letter's alert.
    assert_eq!(queued.matches("class=\"pending\"").count(), 2, "{queued}");
    assert!(queued.contains("<td class=\"attempts\" data-label=\"Attempts\">0</td>"));
    let dead_list = &page.body[position(&page.body, "dead-letters")..];
    assert!(
        dead_list.contains(&format!("data-outbox=\"{}\"", dead.id))
            && dead_list.contains("slack: refused"),
        "{dead_list}"
    );
    assert!(!queued.contains(&format!("data-outbox=\"{}\"", dead.id)));
}

#[tokio::test]
async fn an_unknown_page_is_the_consoles_not_found_page() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    b.sign_in("carol", &s.code(&carol)).await;
    let page = b.get("/console/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("<h1>Not found</h1>"), "{}", page.body);
    assert!(page.body.contains("There is no such page in the console."));
    assert!(page.body.contains("href=\"/console\""));
    let missing = b.get("/console/requests/r-nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}

#[tokio::test]
async fn the_request_form_offers_only_what_the_playbook_grants() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;

    // Without JavaScript: the playbook is chosen first (a GET form), and the page is
    // rendered again with that playbook's roles and accounts.
    let first = b.get("/console/requests/new?playbook=investigate").await;
    assert!(first.body.contains(
        "class=\"stack\" id=\"playbook-form\" method=\"get\" action=\"/console/requests/new\""
    ));
    assert_eq!(options(&first.body, "role"), ["SecurityAnalyst"]);
    let contain = b.get("/console/requests/new?playbook=contain").await;
    assert_eq!(options(&contain.body, "role"), ["SecurityBreakGlass"]);
    assert!(
        contain.body.contains("<option value=\"contain\" selected>"),
        "{}",
        contain.body
    );
    assert!(contain.body.contains("name=\"playbook\" value=\"contain\""));
    let accounts = options(&contain.body, "account");
    assert!(
        accounts.contains(&"222222222222".to_owned()),
        "{accounts:?}"
    );
    assert!(contain.body.contains(">production (222222222222)</option>"));
    for (playbook, refused) in [
        ("investigate", "SecurityBreakGlass"),
        ("contain", "SecurityAnalyst"),
    ] {
        let page = b
            .get(&format!("/console/requests/new?playbook={playbook}"))
            .await;
        assert!(
            !options(&page.body, "role").contains(&refused.to_owned()),
            "{playbook} offers {refused}"
        );
    }

    // What the playbook refuses is refused with a readable message: no backticks, no
    // seconds; the duration takes `90m`, `1h30m` and plain minutes.
    let ask = |role: &'static str, duration: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("incident_id", "INC-5".to_owned()),
            ("playbook", "investigate".to_owned()),
            ("role", role.to_owned()),
            ("account", "222222222222".to_owned()),
            ("duration_minutes", duration.to_owned()),
            ("justification", "why".to_owned()),
        ]
    };
    for (role, duration, want) in [
        ("SecurityAdmin", "60", "<code>SecurityAdmin</code>"),
        ("SecurityAnalyst", "5h", "4h"),
    ] {
        let fields = ask(role, duration);
        let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post("/console/requests", &refs).await;
        assert_ne!(r.status, StatusCode::SEE_OTHER, "{role} {duration}");
        let alert = &r.body[r.body.find("role=\"alert\"").unwrap()..];
        let alert = &alert[..alert.find("</p>").unwrap()];
        assert!(alert.contains(want), "want `{want}` in {alert}");
        assert!(!alert.contains('`'), "{alert}");
        assert!(!alert.contains("seconds"), "{alert}");
    }
    for (duration, minutes) in [("90m", 90), ("1h30m", 90), ("45", 45)] {
        let fields = ask("SecurityAnalyst", duration);
        let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post("/console/requests", &refs).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{duration}: {}", r.body);
        let id = request_id(&r.location());
        let stored = s
            .store
            .get(&RequestId::new(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.value.spec.duration,
            Duration::minutes(minutes),
            "{duration}"
        );
    }
    let bad = ask("SecurityAnalyst", "soon");
    let refs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post("/console/requests", &refs).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("<code>1h30m</code>"), "{}", r.body);
    // The refused form comes back filled in, for the same playbook.
    assert!(r.body.contains("name=\"playbook\" value=\"investigate\""));
}
