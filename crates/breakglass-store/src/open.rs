//! Opening a store: choosing the backend from the URL, connecting with the settings each
//! backend needs (SQLite: WAL, full sync, busy timeout, foreign keys, statement journals in
//! memory), and bringing the schema to this build's version with the backend's embedded
//! migrations, or, for tools that must not change anything, checking that it already is.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, Row as _};

use crate::read::Readers;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (or in-memory database).
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

/// How to open a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Create a missing SQLite file.
    pub create: bool,
    /// Apply pending migrations (otherwise, require the schema to be current).
    pub migrate: bool,
    /// The most connections open at once: PostgreSQL's pool; on SQLite, the readers, at most
    /// two per core (the writer has its own connection besides).
    pub max_connections: u32,
    /// How long a writer waits for another process's write lock (SQLite) or a connection.
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            create: true,
            migrate: true,
            max_connections: 8,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a store could not be opened. URLs in messages have their password removed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no supported backend or is malformed.
    #[error("invalid store URL `{url}`: {problem}")]
    InvalidUrl { url: String, problem: String },
    /// There is no SQLite file at the path (and creating one was not asked for).
    #[error("no SQLite store at `{path}`")]
    NotFound { path: String },
    /// The database could not be reached or opened.
    #[error("cannot open {backend} store `{url}`: {detail}")]
    Connect {
        backend: Backend,
        url: String,
        detail: String,
    },
    /// Applying migrations failed.
    #[error("cannot migrate {backend} store `{url}`: {detail}")]
    Migrate {
        backend: Backend,
        url: String,
        detail: String,
    },
    /// The database holds no breakglass schema.
    #[error(
        "`{url}` holds no breakglass store (its schema is missing); start the broker on it once to create it"
    )]
    NoSchema { url: String },
    /// The schema is at another version than this build's.
    #[error(
        "the store at `{url}` has schema version {found}, this breakglass expects {expected}; {advice}"
    )]
    SchemaVersion {
        url: String,
        found: i64,
        expected: i64,
        advice: &'static str,
    },
}

/// The most useful line of a driver error: the database's own message when there is one.
fn detail(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// `url` with its secrets replaced by `***`, for errors and logs: the password of its user
/// information (`postgres://user:***@host/db`) and the value of every query parameter whose
/// name says it holds one (`?password=***`, `sslpassword`, `token`, `secret`, `key`, ...;
/// PostgreSQL takes its password either way).
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let head = match head.split_once("://") {
        // Everything up to the last `@` is user information, even with a stray `/` in it.
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => head.to_owned(),
            },
            None => head.to_owned(),
        },
        None => head.to_owned(),
    };
    let Some(query) = query else {
        return head;
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if secret_parameter(name) => format!("{name}=***"),
            _ => param.to_owned(),
        })
        .collect();
    let fragment = fragment.map_or_else(String::new, |f| format!("#{f}"));
    format!("{head}?{}{fragment}", params.join("&"))
}

/// Whether a query parameter named `name` holds a secret.
fn secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "credential",
    ]
    .iter()
    .any(|w| name.contains(w))
}

/// Which backend `url` names.
pub(crate) fn backend(url: &str) -> Result<Backend, OpenError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if lower.starts_with("sqlite:") || !lower.contains("://") {
        if url.trim().is_empty() {
            return Err(OpenError::InvalidUrl {
                url: url.to_owned(),
                problem: "it is empty".to_owned(),
            });
        }
        Ok(Backend::Sqlite)
    } else {
        Err(OpenError::InvalidUrl {
            url: redact_url(url),
            problem: "expected `sqlite://PATH`, a file path, or `postgres://...`".to_owned(),
        })
    }
}

pub(crate) async fn sqlite(url: &str, options: &OpenOptions) -> Result<Readers, OpenError> {
    let base = if url.to_ascii_lowercase().starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).map_err(|e| OpenError::InvalidUrl {
            url: redact_url(url),
            problem: e.to_string(),
        })?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let connect = base
        .create_if_missing(options.create)
        .journal_mode(if in_memory {
            SqliteJournalMode::Memory
        } else {
            SqliteJournalMode::Wal
        })
        .synchronous(SqliteSynchronous::Full)
        // Savepoints (one per job of a group commit) keep their undo pages in a statement
        // journal: in memory rather than a temporary file. Rollback inside a transaction
        // only; durability is the WAL's.
        .pragma("temp_store", "memory")
        .busy_timeout(options.busy_timeout)
        .foreign_keys(true);
    if !options.create && !in_memory && !connect.get_filename().exists() {
        return Err(OpenError::NotFound {
            path: connect.get_filename().display().to_string(),
        });
    }
    if options.create && !in_memory {
        create_private(connect.get_filename()).map_err(|e| OpenError::Connect {
            backend: Backend::Sqlite,
            url: redact_url(url),
            detail: format!("cannot create `{}`: {e}", connect.get_filename().display()),
        })?;
    }
    // One connection first: it applies the migrations and becomes the first reader. An
    // in-memory database lives as long as this one connection. Otherwise: up to two readers
    // per core (the writer has its own connection besides). A reader's thread hands its rows
    // over and waits for the next command, so with one reader per core point reads queue
    // behind listings while cores idle. The load test measured two per core faster than one,
    // in throughput and in latency (more were not measured with these readers).
    let mut first = SqliteConnection::connect_with(&connect)
        .await
        .map_err(|e| OpenError::Connect {
            backend: Backend::Sqlite,
            url: redact_url(url),
            detail: detail(&e),
        })?;
    prepare::<sqlx::Sqlite>(
        &mut first,
        &SQLITE_MIGRATIONS,
        Backend::Sqlite,
        url,
        options,
    )
    .await?;
    if in_memory {
        return Ok(Readers::memory(first, options.busy_timeout));
    }
    let cores = std::thread::available_parallelism()
        .map_or(2, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
    Ok(Readers::file(
        connect,
        first,
        options.max_connections.clamp(1, cores.saturating_mul(2)),
        options.busy_timeout,
    ))
}

/// Creates the database file `path`, readable and writable by its owner only (`0600`), if
/// it does not exist yet: it holds password hashes, sealed seeds and the audit log. SQLite
/// gives its `-wal` and `-shm` files the database file's permissions. An existing file is
/// left as it is.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) async fn postgres(url: &str, options: &OpenOptions) -> Result<PgPool, OpenError> {
    let connect = PgConnectOptions::from_str(url).map_err(|e| OpenError::InvalidUrl {
        url: redact_url(url),
        problem: e.to_string(),
    })?;
    // One direct connection first: a pool only reports "timed out" when the server is
    // unreachable, while a connection attempt says why.
    let probe = PgConnection::connect_with(&connect)
        .await
        .map_err(|e| OpenError::Connect {
            backend: Backend::Postgres,
            url: redact_url(url),
            detail: detail(&e),
        })?;
    let _ = probe.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.busy_timeout)
        .connect_with(connect)
        .await
        .map_err(|e| OpenError::Connect {
            backend: Backend::Postgres,
            url: redact_url(url),
            detail: detail(&e),
        })?;
    let mut conn = pool.acquire().await.map_err(|e| OpenError::Connect {
        backend: Backend::Postgres,
        url: redact_url(url),
        detail: detail(&e),
    })?;
    prepare::<sqlx::Postgres>(
        &mut conn,
        &POSTGRES_MIGRATIONS,
        Backend::Postgres,
        url,
        options,
    )
    .await?;
    drop(conn);
    Ok(pool)
}

/// Migrates, or checks the schema version without changing anything.
async fn prepare<DB>(
    conn: &mut <DB as sqlx::Database>::Connection,
    migrator: &Migrator,
    backend: Backend,
    url: &str,
    options: &OpenOptions,
) -> Result<(), OpenError>
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>
        + sqlx::Acquire<'c, Database = DB, Connection = &'c mut <DB as sqlx::Database>::Connection>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
{
    let url = redact_url(url);
    if options.migrate {
        return migrator
            .run(&mut *conn)
            .await
            .map_err(|e| OpenError::Migrate {
                backend,
                url,
                detail: e.to_string(),
            });
    }
    let expected = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let row = sqlx::query("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
        .map_err(|_| OpenError::NoSchema { url: url.clone() })?;
    let found: Option<i64> = row
        .try_get(0)
        .map_err(|_| OpenError::NoSchema { url: url.clone() })?;
    let Some(found) = found else {
        return Err(OpenError::NoSchema { url });
    };
    if found != expected {
        return Err(OpenError::SchemaVersion {
            url,
            found,
            expected,
            advice: if found < expected {
                "start the broker once to migrate it"
            } else {
                "upgrade breakglass"
            },
        });
    }
    Ok(())
}
