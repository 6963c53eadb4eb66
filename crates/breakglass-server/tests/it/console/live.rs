//! Live updates: `/console/events` announces changes made here and by another replica.

use super::*;

#[tokio::test]
async fn the_event_stream_announces_an_approval() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut b, &csrf, "live updates").await;

    // Signed-in users only.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console/events", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    let mut events = reqwest::Client::new()
        .get(format!("{}/console/events", s.base))
        .header("cookie", format!("bg_session={}", b.cookies["bg_session"]))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The first chunk is the stream's greeting: the subscription is live from here.
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("retry:"));

    // Approve through the JSON API, as the CLI would.
    let token = s
        .auth
        .login_with_totp(
            "bob",
            PASSWORD,
            Some(&s.code(&bob)),
            "127.0.0.1",
            "cli",
            None,
        )
        .await
        .unwrap();
    let digest = s
        .store
        .get(&RequestId::new(id.clone()).unwrap())
        .await
        .unwrap()
        .unwrap()
        .value
        .digest
        .to_hex();
    let code = s.code(&bob);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/requests/{id}/approve", s.base))
        .bearer_auth(token.secret.expose())
        .header("content-type", "application/json")
        .body(serde_json::json!({"digest": digest, "totp": code}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let wanted = format!("data: {{\"id\":\"{id}\",\"status\":\"approved\"}}");
    let mut seen = String::new();
    let found = tokio::time::timeout(StdDuration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: request") && seen.contains(&wanted) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "stream so far: {seen}");
}

#[tokio::test]
async fn the_event_stream_hears_of_changes_made_by_another_replica() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut b, &csrf, "replica check").await;
    let mut events = reqwest::Client::new()
        .get(format!("{}/console/events", s.base))
        .header("cookie", format!("bg_session={}", b.cookies["bg_session"]))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    // Another broker on the same database: this server's handlers never see the change.
    let replica = support::broker(&s.store, &s.clock, "x");
    replica
        .cancel(
            &RequestId::new(id.clone()).unwrap(),
            support::user("carol"),
            "from elsewhere",
        )
        .await
        .unwrap();
    let wanted = format!("data: {{\"id\":\"{id}\",\"status\":\"cancelled\"}}");
    let mut seen = String::new();
    let found = tokio::time::timeout(StdDuration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&wanted) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "stream so far: {seen}");
}

/// Reads `events` until `wanted` appears (true) or the stream ends (false), within 10 s.
async fn read_until(events: &mut reqwest::Response, wanted: &str, seen: &mut String) -> bool {
    tokio::time::timeout(StdDuration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(wanted) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

async fn open_stream(s: &Server, session: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/console/events", s.base))
        .header("cookie", format!("bg_session={session}"))
        .send()
        .await
        .unwrap()
}

/// A subscriber hears of the requests they may read and of nothing else: Carol's stream
/// never names Alice's request (Carol may neither approve, revoke nor review it), though
/// it hears of her own, submitted after it.
#[tokio::test]
async fn the_event_stream_names_only_requests_the_subscriber_may_read() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let alice = s.user("alice", false).await;
    let mut c = Browser::new(&s.base);
    let c_csrf = c.sign_in("carol", &s.code(&carol)).await;
    let mut a = Browser::new(&s.base);
    let a_csrf = a.sign_in("alice", &s.code(&alice)).await;
    let mut events = open_stream(&s, &c.cookies["bg_session"]).await;
    assert_eq!(events.status(), StatusCode::OK);
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("retry:"));

    let hidden = submit(&mut a, &a_csrf, "not for carol").await;
    let own = submit(&mut c, &c_csrf, "carol's own").await;
    let mut seen = String::new();
    let wanted = format!("data: {{\"id\":\"{own}\",\"status\":\"pending\"}}");
    assert!(
        read_until(&mut events, &wanted, &mut seen).await,
        "stream so far: {seen}"
    );
    assert!(
        !seen.contains(&hidden),
        "carol heard of alice's request {hidden}: {seen}"
    );
}

/// A stream re-checks its subscriber: once the session's token is revoked (signing out),
/// the next change ends the stream instead of being sent.
#[tokio::test]
async fn a_revoked_session_hears_nothing_more() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut c = Browser::new(&s.base);
    let csrf = c.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut c, &csrf, "then signed out").await;
    let session = c.cookies["bg_session"].clone();
    let mut events = open_stream(&s, &session).await;
    assert_eq!(events.status(), StatusCode::OK);
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("retry:"));

    let out = c.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    // A change Carol could read, made by another replica after she signed out.
    let replica = support::broker(&s.store, &s.clock, "x");
    replica
        .cancel(
            &RequestId::new(id.clone()).unwrap(),
            support::user("carol"),
            "after sign-out",
        )
        .await
        .unwrap();
    let mut seen = String::new();
    let heard = read_until(&mut events, &id, &mut seen).await;
    assert!(!heard, "a signed-out session heard: {seen}");
}

/// One user cannot take every live-update stream: past their own cap they are refused,
/// while someone else still gets one.
#[tokio::test]
async fn one_user_cannot_hold_every_event_stream() {
    use breakglass_server::app::live::MAX_PER_USER;
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut c = Browser::new(&s.base);
    c.sign_in("carol", &s.code(&carol)).await;
    let mut b = Browser::new(&s.base);
    b.sign_in("bob", &s.code(&bob)).await;
    let mut held = Vec::new();
    for _ in 0..MAX_PER_USER {
        let r = open_stream(&s, &c.cookies["bg_session"]).await;
        assert_eq!(r.status(), StatusCode::OK);
        held.push(r);
    }
    let refused = open_stream(&s, &c.cookies["bg_session"]).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let other = open_stream(&s, &b.cookies["bg_session"]).await;
    assert_eq!(other.status(), StatusCode::OK);
    // Closing one gives it back.
    drop(held.pop());
    let again = tokio::time::timeout(StdDuration::from_secs(10), async {
        loop {
            let r = open_stream(&s, &c.cookies["bg_session"]).await;
            if r.status() == StatusCode::OK {
                return r;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    })
    .await;
    assert!(again.is_ok(), "a closed stream was not given back");
}
