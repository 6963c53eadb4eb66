//! What the store leaves on disk and in its messages: a SQLite file only its owner can
//! read, and no secret of a store URL in an error.

use breakglass_store::{SqlStore, redact_url};

/// The database holds password hashes, sealed seeds and the audit log: created `0600`,
/// and so are the `-wal` and `-shm` files SQLite makes beside it, whatever the umask.
#[cfg(unix)]
#[tokio::test]
async fn a_new_sqlite_store_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bg.db");
    let store = SqlStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut checked = 0;
    for name in ["bg.db", "bg.db-wal", "bg.db-shm"] {
        let p = dir.path().join(name);
        if let Ok(meta) = std::fs::metadata(&p) {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} is {mode:o}");
            checked += 1;
        }
    }
    assert!(checked >= 1, "no database file was created");
    store.close().await;
    // A plain path (no `sqlite://`) is created the same way.
    let plain = dir.path().join("plain.db");
    let store = SqlStore::open(plain.to_str().unwrap()).await.unwrap();
    let mode = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "plain.db is {mode:o}");
    store.close().await;
}

/// A password is redacted wherever a URL carries it: in the user information, and in a
/// query parameter, as PostgreSQL also accepts it.
#[test]
fn secrets_in_store_urls_are_redacted() {
    for (url, secret, shown) in [
        (
            "postgres://bg:hunter2@db.example/bg",
            "hunter2",
            "postgres://bg:***@db.example/bg",
        ),
        (
            "postgres://bg@db.example/bg?password=hunter2&sslmode=require",
            "hunter2",
            "postgres://bg@db.example/bg?password=***&sslmode=require",
        ),
        (
            "postgresql://db.example/bg?sslmode=verify-full&sslpassword=hunter2#x",
            "hunter2",
            "postgresql://db.example/bg?sslmode=verify-full&sslpassword=***#x",
        ),
        (
            "postgres://bg:hun/ter2@db.example/bg",
            "ter2",
            "postgres://bg:***@db.example/bg",
        ),
        (
            "postgres://bg@db.example/bg?PASSWORD=hunter2",
            "hunter2",
            "postgres://bg@db.example/bg?PASSWORD=***",
        ),
    ] {
        let redacted = redact_url(url);
        assert!(!redacted.contains(secret), "{url} -> {redacted}");
        assert_eq!(redacted, shown);
    }
    // Nothing secret: unchanged.
    for url in [
        "sqlite:///var/lib/bg.db",
        "postgres://bg@db.example/bg?sslmode=require",
    ] {
        assert_eq!(redact_url(url), url);
    }
}

/// An error opening a PostgreSQL store whose password is in the query string does not
/// print it.
#[tokio::test]
async fn a_store_error_does_not_print_a_password_given_in_the_query() {
    // Nothing listens on port 1; the connection is refused at once.
    let url = "postgres://bg@127.0.0.1:1/bg?password=hunter2&connect_timeout=2";
    let err = SqlStore::open(url).await.expect_err("no server on port 1");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
}
