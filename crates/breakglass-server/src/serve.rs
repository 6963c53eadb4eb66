//! Running the broker: the HTTP API on a listener and the expiry worker beside it, both
//! stopped cleanly on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use breakglass_core::cloud::Cloud;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{AccessService, AppState, Metrics, app};
use crate::auth::Auth;
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

/// Serves the API on `listener` and runs the worker until a shutdown signal.
pub async fn serve<K: Cloud + 'static>(
    listener: TcpListener,
    access: Arc<AccessService<K>>,
    auth: Arc<Auth>,
    worker: WorkerConfig,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let worker = Worker::new(Arc::clone(&access), worker);
    let worker_task = tokio::spawn(async move {
        let _ = worker
            .run(stopped, |pass| {
                if let Err(e) = pass {
                    #[expect(clippy::print_stderr, reason = "the server logs to stderr")]
                    {
                        eprintln!("worker pass failed: {e}");
                    }
                }
            })
            .await;
    });
    let state = Arc::new(AppState {
        access,
        auth,
        metrics: Metrics::default(),
    });
    let router = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    let _ = stop.send(true);
    let _ = worker_task.await;
    result
}
