//! Throwaway PostgreSQL schemas, one per test.
//!
//! Tests that run against PostgreSQL (when `BREAKGLASS_TEST_POSTGRES_URL` is set) each get a
//! fresh schema with a unique name and a connection URL whose `search_path` points at it, so
//! parallel tests, and other engineers' test runs on the same server, never see each
//! other's tables. The schema is dropped when the [`TestSchema`] is dropped.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The environment variable naming the test server.
pub const ENV: &str = "BREAKGLASS_TEST_POSTGRES_URL";

/// The test server's URL, or `None` (after printing why) when the variable is unset.
pub fn server_url() -> Option<String> {
    match std::env::var(ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            #[expect(
                clippy::print_stderr,
                reason = "a skipped test says why on the test output"
            )]
            {
                eprintln!(
                    "skipped: PostgreSQL tests need {ENV} (scripts/test sets it when a server answers on 127.0.0.1:5432)"
                );
            }
            None
        }
    }
}

/// A schema that exists for one test.
#[derive(Debug)]
pub struct TestSchema {
    server: String,
    name: String,
    url: String,
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded per process, so two processes with the same pid (containers)
    // still pick different names.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!(
        "bgtest_{}_{}_{:012x}",
        std::process::id(),
        COUNTER.load(Ordering::Relaxed),
        h.finish() & 0xffff_ffff_ffff
    )
}

/// `url` with `search_path` set to `schema` through the connection's startup options.
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

impl TestSchema {
    /// Creates a fresh schema on the server at `server`.
    pub async fn create(server: &str) -> Result<Self, sqlx::Error> {
        let name = unique_name();
        let mut conn = PgConnection::connect(server).await?;
        sqlx::query(&format!("CREATE SCHEMA \"{name}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(Self {
            url: url_with_search_path(server, &name),
            server: server.to_owned(),
            name,
        })
    }

    /// The URL to connect to; every connection made with it works inside the schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop may run inside an async runtime, which cannot be blocked on; a short-lived
        // thread with its own runtime does the cleanup. A failure leaves a uniquely named
        // schema behind, which harms no other test.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&server).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}
