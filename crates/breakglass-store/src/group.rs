//! Group commit for SQLite: one writer task runs this process's write transactions, several
//! to one SQLite transaction, so one `COMMIT` (one fsync under `synchronous = FULL`) makes a
//! whole batch durable.
//!
//! SQLite has one writer at a time, and with full sync every commit waits for the disk: with
//! many concurrent writers, one transaction per write makes them queue for one fsync each.
//! Here a write is a job sent to the writer. The writer takes every job waiting (up to
//! [`MAX_BATCH`]), opens one `BEGIN IMMEDIATE` transaction and runs the jobs one after
//! another, each inside its own savepoint: a job that fails is rolled back to its savepoint
//! alone and gets its own error, the others keep their writes. Then one `COMMIT`. No caller
//! hears "committed" before that `COMMIT` has returned, so an acknowledged write is exactly as
//! durable as with one transaction per write; if the `COMMIT` (or the transaction) fails,
//! every job of the batch gets the error and nothing of the batch is stored.
//!
//! Jobs run in order on one connection, so each sees the writes of the jobs before it: the
//! audit chain head moves on from job to job, and a request's version check sees the update
//! an earlier job of the batch made. A rolled-back job's audit rows and head update vanish
//! with its savepoint, so the chain stays linear. When idle, the writer commits a single job
//! at once: batching adds no delay, it only happens while a commit is already in progress.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use breakglass_core::ports::StoreError;
use sqlx::{ConnectOptions as _, Connection as _, Sqlite, SqliteConnection, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::plan::TxState;
use crate::read::{Reader, Readers};

/// A future borrowing the writer's connection.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The most jobs one SQLite transaction carries.
pub(crate) const MAX_BATCH: usize = 64;

/// Jobs waiting for the writer before senders wait too.
const QUEUE: usize = 1_024;

/// A write job with its reply channel, its result type erased.
trait Job: Send {
    /// Runs the job on the writer's connection (inside its savepoint), with the batch's
    /// chain head.
    fn run<'c>(
        self: Box<Self>,
        conn: &'c mut SqliteConnection,
        tx_state: &'c mut TxState,
    ) -> BoxFuture<'c, Ran>;
    /// Answers the caller without running the job (the batch failed before it).
    fn fail(self: Box<Self>, error: String);
    /// Whether the job opens its own savepoint, with its first statements (see
    /// [`Writer::write_steps`]).
    fn opens_savepoint(&self) -> bool;
}

/// What a job left behind: whether its savepoint is kept, and how to answer its caller once
/// the batch's fate is known (`Some(error)`: the batch was not committed).
struct Ran {
    ok: bool,
    answer: Answer,
}

/// Answers a job's caller: `Some(error)` if its batch was not committed.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

struct Typed<T, F> {
    job: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
    opens_savepoint: bool,
}

fn not_committed(error: &str) -> StoreError {
    StoreError::Unavailable(format!("the write was not committed: {error}"))
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(
            &'c mut SqliteConnection,
            &'c mut TxState,
        ) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + 'static,
{
    fn run<'c>(
        self: Box<Self>,
        conn: &'c mut SqliteConnection,
        tx_state: &'c mut TxState,
    ) -> BoxFuture<'c, Ran> {
        let Typed { job, reply, .. } = *self;
        Box::pin(async move {
            let result = job(conn, tx_state).await;
            Ran {
                ok: result.is_ok(),
                answer: Box::new(move |batch_error: Option<&str>| {
                    let answer = match (result, batch_error) {
                        (Err(e), _) => Err(e),
                        (Ok(_), Some(error)) => Err(not_committed(error)),
                        (Ok(v), None) => Ok(v),
                    };
                    // The caller may have gone away; the write stands all the same.
                    let _ = reply.send(answer);
                }),
            }
        })
    }

    fn fail(self: Box<Self>, error: String) {
        let _ = self.reply.send(Err(not_committed(&error)));
    }

    fn opens_savepoint(&self) -> bool {
        self.opens_savepoint
    }
}

/// How much the group commit batched: SQLite transactions committed and the jobs they
/// carried (failed jobs included), since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed.
    pub batches: u64,
    /// Jobs run in those transactions.
    pub jobs: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    jobs: AtomicU64,
}

/// The handle on the writer task: cloned by every clone of the store. The task ends when
/// the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    counters: Arc<Counters>,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the writer on a thread of its own, with its own single-threaded runtime: a
    /// batch makes a few round trips to SQLite per job, and on a runtime busy with requests
    /// each of them would wait for a worker behind other tasks, which holds up every write
    /// of the batch. The thread ends when the last handle is dropped.
    pub(crate) fn spawn(readers: Readers) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let task = run(readers, queue, Arc::clone(&counters));
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || runtime.block_on(task))?;
        Ok(Self { jobs, counters })
    }

    /// The batching so far.
    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
        }
    }

    /// Runs `job` in the next batch and returns its result once the batch is committed.
    /// The job must only use the connection it is given (no other I/O): the whole batch
    /// waits for it.
    pub(crate) async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
                &'c mut TxState,
            ) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.send(job, false).await
    }

    /// As [`Writer::write`], for a job that writes only through `run_steps`: the job's
    /// savepoint is opened by its first statements, in the same round trip, rather than by
    /// one of its own. Such a job may read before, but must not write otherwise.
    pub(crate) async fn write_steps<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
                &'c mut TxState,
            ) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.send(job, true).await
    }

    async fn send<T, F>(&self, job: F, opens_savepoint: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
                &'c mut TxState,
            ) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(Typed {
                job,
                reply,
                opens_savepoint,
            }))
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".to_owned()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable(
                "the SQLite writer failed while running this write; it was not committed"
                    .to_owned(),
            )
        })?
    }
}

/// The writer's connection: its own, besides the readers, for a database file; the only
/// reader, taken for one batch at a time, for an in-memory database (reads need it between
/// batches, and another connection would open another database).
enum WriterConn {
    Own(SqliteConnection),
    Shared(Reader),
}

impl WriterConn {
    async fn open(readers: &Readers) -> Result<Self, String> {
        match readers.connect_options() {
            Some(connect) => Ok(Self::Own(
                connect.connect().await.map_err(|e| e.to_string())?,
            )),
            None => Ok(Self::Shared(
                readers.acquire().await.map_err(|e| e.to_string())?,
            )),
        }
    }

    fn conn(&mut self) -> &mut SqliteConnection {
        match self {
            Self::Own(conn) => conn,
            Self::Shared(conn) => conn,
        }
    }
}

async fn run(readers: Readers, mut queue: mpsc::Receiver<Box<dyn Job>>, counters: Arc<Counters>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The writer keeps its own connection from batch to batch (its prepared statements stay
    // warm, it never waits behind reads, and closing the store does not wait for it), and
    // opens a fresh one after a batch that failed.
    let mut held: Option<WriterConn> = None;
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        let mut conn = match held.take() {
            Some(conn) => conn,
            None => match WriterConn::open(&readers).await {
                Ok(conn) => conn,
                Err(error) => {
                    for job in jobs {
                        job.fail(error.clone());
                    }
                    continue;
                }
            },
        };
        // Each batch is its own task: should a job panic, only its batch is lost (its
        // callers hear that nothing was committed, and the connection goes) and the writer
        // goes on.
        let counters = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            let committed = commit_batch(conn.conn(), jobs, &counters).await;
            (conn, committed)
        });
        if let Ok((conn @ WriterConn::Own(_), true)) = task.await {
            held = Some(conn);
        }
    }
}

async fn exec(tx: &mut Transaction<'_, Sqlite>, sql: &'static str) -> Result<(), String> {
    sqlx::query(sql)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Runs and commits one batch on `conn` (counted before any caller hears of it); false if
/// it was not committed.
async fn commit_batch(
    conn: &mut SqliteConnection,
    jobs: Vec<Box<dyn Job>>,
    counters: &Counters,
) -> bool {
    let n = u64::try_from(jobs.len()).unwrap_or(u64::MAX);
    // IMMEDIATE takes the write lock up front (waiting out other processes for the busy
    // timeout), so no job fails half-way when a read would upgrade to a write.
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let error = e.to_string();
            for job in jobs {
                job.fail(error.clone());
            }
            return false;
        }
    };
    let mut answers = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    let mut broken = None;
    // The chain head as the batch moves it: read by the first job that appends audit
    // records, kept in memory from job to job, written back once before the `COMMIT`.
    let mut tx_state = TxState::default();
    for job in jobs.by_ref() {
        let opens_savepoint = job.opens_savepoint();
        if !opens_savepoint && let Err(e) = exec(&mut tx, "SAVEPOINT job").await {
            job.fail(e.clone());
            broken = Some(e);
            break;
        }
        let before = tx_state;
        tx_state.savepoint_pending = opens_savepoint;
        let ran = job.run(&mut tx, &mut tx_state).await;
        // A job that was to open its savepoint and did not has written nothing.
        let savepoint_open = !tx_state.savepoint_pending;
        tx_state.savepoint_pending = false;
        if !ran.ok {
            // The job's audit records go with its savepoint: so does its move of the head.
            tx_state = before;
        }
        answers.push(ran.answer);
        // A job's savepoint is not released: the next job's nests inside it and `COMMIT`
        // releases them all, one round trip to SQLite per job fewer. `ROLLBACK TO` goes back
        // to the most recent savepoint of the name, the failed job's own, so only its writes
        // go. If SQLite already rolled the whole transaction back (some I/O errors do),
        // there is no savepoint left and the batch is lost.
        if !ran.ok
            && savepoint_open
            && let Err(e) = exec(&mut tx, "ROLLBACK TO job").await
        {
            broken = Some(e);
            break;
        }
    }
    if broken.is_none()
        && let Err(e) = crate::SqliteStore::write_head(&mut tx, &tx_state).await
    {
        broken = Some(e.to_string());
    }
    let outcome = match broken {
        Some(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
        None => tx.commit().await.map_err(|e| e.to_string()),
    };
    let error = outcome.err();
    if error.is_none() {
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters.jobs.fetch_add(n, Ordering::Relaxed);
    }
    for job in jobs {
        job.fail(error.clone().unwrap_or_default());
    }
    let committed = error.is_none();
    for answer in answers {
        answer(error.as_deref());
    }
    committed
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests fail loudly"
    )]

    use std::time::Duration;

    use super::*;
    use crate::open::{OpenOptions, sqlite};

    async fn count(readers: &Readers, name: &str) -> i64 {
        let mut reader = readers.acquire().await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM job_leases WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *reader)
            .await
            .unwrap()
    }

    /// The readers and writer of a database file in `dir`.
    async fn on_file(dir: &tempfile::TempDir) -> (Readers, Writer) {
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let readers = sqlite(&url, &OpenOptions::default()).await.unwrap();
        let writer = Writer::spawn(readers.clone()).unwrap();
        (readers, writer)
    }

    /// A job inserting lease row `name`, then failing if `fail` (after its insert).
    fn insert(
        name: &'static str,
        fail: bool,
    ) -> impl for<'c> FnOnce(
        &'c mut SqliteConnection,
        &'c mut TxState,
    ) -> BoxFuture<'c, Result<&'static str, StoreError>>
    + Send
    + 'static {
        move |conn, _state| {
            Box::pin(async move {
                sqlx::query("INSERT INTO job_leases (name, holder, until) VALUES ($1, 'x', 0)")
                    .bind(name)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                if fail {
                    return Err(StoreError::InvalidCommit(format!("{name} fails")));
                }
                Ok(name)
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_in_memory_store_reads_between_writes() {
        // One connection in all: the writer must give it back after each batch.
        let readers = sqlite("sqlite::memory:", &OpenOptions::default())
            .await
            .unwrap();
        assert!(readers.connect_options().is_none());
        let writer = Writer::spawn(readers.clone()).unwrap();
        for name in ["one", "two"] {
            writer.write(insert(name, false)).await.unwrap();
            let read = tokio::time::timeout(Duration::from_secs(5), count(&readers, name));
            assert_eq!(read.await.expect("the read got a connection"), 1);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_closes_while_its_writer_is_idle() {
        let dir = tempfile::tempdir().unwrap();
        let (readers, writer) = on_file(&dir).await;
        writer.write(insert("one", false)).await.unwrap();
        // Closing waits for every reader to come back, not for the writer's connection.
        tokio::time::timeout(Duration::from_secs(5), readers.close())
            .await
            .expect("the store closed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_rolls_back_alone_and_its_batch_commits_once() {
        let dir = tempfile::tempdir().unwrap();
        let (readers, writer) = on_file(&dir).await;

        // The first job holds the writer until the others are queued, so they all land in
        // the second batch.
        let (started, running) = oneshot::channel::<()>();
        let (release, hold) = oneshot::channel::<()>();
        let first = {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .write(move |conn, tx_state| {
                        Box::pin(async move {
                            started.send(()).unwrap();
                            hold.await.unwrap();
                            insert("first", false)(conn, tx_state).await
                        })
                    })
                    .await
            })
        };
        running.await.unwrap();
        let jobs = [
            ("a", false),
            ("b", true),
            ("c", false),
            ("d", true),
            ("e", false),
        ];
        let mut queued = Vec::new();
        for (name, fail) in jobs {
            let writer = writer.clone();
            queued.push(tokio::spawn(async move {
                writer.write(insert(name, fail)).await
            }));
        }
        while writer.jobs.capacity() > QUEUE - jobs.len() {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), "first");
        for (handle, (name, fail)) in queued.into_iter().zip(jobs) {
            match handle.await.unwrap() {
                Ok(n) => assert!(!fail && n == name, "{name} committed"),
                Err(StoreError::InvalidCommit(m)) => {
                    assert!(fail && m.contains(name), "{name}: {m}");
                }
                Err(e) => panic!("{name}: {e}"),
            }
            // A failed job's insert is gone, the others' are stored.
            assert_eq!(count(&readers, name).await, i64::from(!fail), "{name}");
        }
        assert_eq!(count(&readers, "first").await, 1);
        // Two transactions: the first job's, then the five queued jobs' together.
        assert_eq!(
            writer.stats(),
            GroupCommitStats {
                batches: 2,
                jobs: 6
            }
        );
    }
}
