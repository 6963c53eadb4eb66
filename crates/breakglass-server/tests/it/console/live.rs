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
