//! Running the broker: the HTTP API on a listener, the expiry worker and (when configured)
//! the notification worker beside it, all stopped cleanly on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use breakglass_core::ports::{Clock, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::anchorer::Anchorer;
use crate::app::ConsoleSettings;
use crate::app::{AppService, AppState, AuthService};
use crate::auth::oidc::OidcProvider;
use crate::notifier::Notifier;
use crate::router;
use crate::worker::{Worker, WorkerConfig};

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// How often the notification worker looks for due messages when it found none.
const NOTIFY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// How often the drill scheduler checks whether a drill is due.
const DRILL_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves the API and the web console on `listener` (with SSO sign-in through `oidc` and
/// the Slack app's endpoints for `slack` when given) and runs the expiry worker, and `notifier` and `anchorer` if given, until a
/// shutdown signal.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one part of the running broker"
)]
pub async fn serve<S, C>(
    listener: TcpListener,
    app: Arc<AppService>,
    auth: Arc<AuthService>,
    console: ConsoleSettings,
    oidc: Option<Arc<OidcProvider>>,
    slack: Option<Arc<crate::chat::SlackApp>>,
    worker: WorkerConfig,
    notifier: Option<Notifier<S, C>>,
    anchorer: Option<Anchorer>,
    drills: Option<crate::drills::Scheduler>,
) -> std::io::Result<()>
where
    S: Store + 'static,
    C: Clock + 'static,
{
    let (stop, stopped) = watch::channel(false);
    let notifier_task = notifier.map(|n| {
        let stopped = stopped.clone();
        tokio::spawn(async move {
            n.run(NOTIFY_INTERVAL, stopped, |e| {
                tracing::error!(error = %e, "notification pass failed");
            })
            .await;
        })
    });
    let anchorer_task = anchorer.map(|a| tokio::spawn(a.run(stopped.clone())));
    let drill_task = drills.map(|d| tokio::spawn(d.run(DRILL_TICK, stopped.clone())));
    let worker = Worker::new(Arc::clone(&app), worker);
    let worker_task = tokio::spawn(async move {
        // Each pass logs its jobs' outcomes in its own span (`worker_pass`).
        if let Err(e) = worker.run(stopped, |_| {}).await {
            tracing::error!(error = %e, "the worker could not release its leases");
        }
    });
    let state = Arc::new(
        AppState::new(app, auth, console)
            .with_oidc(oidc)
            .with_slack(slack),
    );
    let events = state.console.events.clone();
    let router = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Live-update streams never end on their own: end them so shutdown completes.
            events.close();
        })
        .await;
    tracing::info!("shutting down: stopping the workers");
    let _ = stop.send(true);
    let _ = worker_task.await;
    if let Some(task) = notifier_task {
        let _ = task.await;
    }
    if let Some(task) = anchorer_task {
        let _ = task.await;
    }
    if let Some(task) = drill_task {
        let _ = task.await;
    }
    result
}
