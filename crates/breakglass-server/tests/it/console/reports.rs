//! The reports and drills pages: administrators only; a report as a page and as the
//! downloads (a self-contained HTML document, JSON); a bad period is a clear refusal.

use super::*;

#[tokio::test]
async fn reports_and_drills_are_for_administrators_with_their_downloads() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let alice = s.user("alice", true).await;
    let mut responder = Browser::new(&s.base);
    let csrf = responder.sign_in("carol", &s.code(&carol)).await;
    submit(&mut responder, &csrf, "reports").await;
    for path in [
        "/console/reports/sessions",
        "/console/reports/break-glass-log",
        "/console/reports/access-review",
        "/console/drills",
    ] {
        assert_eq!(
            responder.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    let mut admin = Browser::new(&s.base);
    admin.sign_in("alice", &s.code(&alice)).await;
    let index = admin.get("/console/reports").await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(
        index
            .body
            .contains("href=\"/console/reports/access-review\"")
    );
    let page = admin.get("/console/reports/access-review").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<h1>Access review</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("data-label=\"Responder\""),
        "{}",
        page.body
    );
    let html = admin.get("/console/reports/sessions?download=html").await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(
        html.headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("sessions.html")),
        "{:?}",
        html.headers
    );
    assert!(
        html.body.starts_with("<!DOCTYPE html>"),
        "{}",
        &html.body[..80]
    );
    assert!(!html.body.contains("<script"));
    let json = admin
        .get("/console/reports/break-glass-log?download=json")
        .await;
    assert_eq!(json.status, StatusCode::OK);
    let value: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(value["total"], 0);
    let bad = admin
        .get("/console/reports/sessions?from=yesterday&to=2026-01-01")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("neither RFC 3339"), "{}", bad.body);
    assert_eq!(
        admin.get("/console/reports/nope").await.status,
        StatusCode::NOT_FOUND
    );
    let drills = admin.get("/console/drills").await;
    assert_eq!(drills.status, StatusCode::OK);
    assert!(
        drills.body.contains("No drill has run yet"),
        "{}",
        drills.body
    );
}
