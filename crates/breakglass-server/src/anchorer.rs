//! Anchoring the audit chain's head outside the database, on a timer: the loop around the
//! application layer's [`anchor_head`], which does the work (read the head, check the last
//! anchored record is still there with its hash, write the new anchor).
//!
//! A chain found cut short or rewritten since the last anchor is logged at error level on
//! every pass and never anchored over; `breakglass audit verify --anchor-bucket` names the
//! damage.

use std::sync::Arc;

use breakglass_core::app::{Anchoring, anchor_head};
use breakglass_core::audit::Anchor;
use breakglass_core::ports::{AnchorStore, Clock, Store};
use tokio::sync::watch;

/// Anchors a store's chain head every `interval`.
pub struct Anchorer<S> {
    store: S,
    anchors: Arc<dyn AnchorStore>,
    clock: Arc<dyn Clock>,
    interval: std::time::Duration,
    last: Option<Anchor>,
}

impl<S> std::fmt::Debug for Anchorer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchorer")
            .field("anchors", &self.anchors.location())
            .field("interval", &self.interval)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Anchorer<S> {
    /// An anchorer of `store`'s chain into `anchors`, starting from the latest anchor there
    /// (read now, so a chain cut short while the broker was down is caught on the first
    /// pass).
    pub async fn start(
        store: S,
        anchors: Arc<dyn AnchorStore>,
        clock: Arc<dyn Clock>,
        interval: std::time::Duration,
    ) -> Result<Self, String> {
        let last = anchors.latest().await.map_err(|e| {
            format!(
                "cannot read the latest anchor in {}: {e}",
                anchors.location()
            )
        })?;
        Ok(Self {
            store,
            anchors,
            clock,
            interval,
            last,
        })
    }

    /// One pass: anchors the head if it moved.
    pub async fn run_once(&mut self) -> Result<Anchoring, breakglass_core::app::AnchorError> {
        let outcome = anchor_head(
            &self.store,
            self.anchors.as_ref(),
            self.last,
            self.clock.now(),
        )
        .await?;
        match &outcome {
            Anchoring::Anchored(anchor) => {
                tracing::info!(seq = anchor.seq, hash = %anchor.hash, location = %self.anchors.location(), "audit chain anchored");
                self.last = Some(*anchor);
            }
            Anchoring::Unchanged => {}
            Anchoring::Tampered(problem) => {
                tracing::error!(problem = %problem, location = %self.anchors.location(), "the audit chain no longer holds its last anchor: it was tampered with; run `breakglass audit verify --anchor-bucket`");
            }
        }
        Ok(outcome)
    }

    /// Runs passes every interval until `stopped` turns true (a failed pass is logged and
    /// retried on the next).
    pub async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "audit anchoring pass failed; retrying next pass");
            }
            let gone = tokio::select! {
                changed = stopped.changed() => changed.is_err(),
                () = tokio::time::sleep(self.interval) => false,
            };
            if gone || *stopped.borrow() {
                // One last anchor of what this process wrote.
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %e, "audit anchoring at shutdown failed");
                }
                return;
            }
        }
    }
}
