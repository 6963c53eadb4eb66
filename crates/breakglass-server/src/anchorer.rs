//! Anchoring the audit chain's head outside the database, on a timer: the loop around the
//! application layer's `App::anchor_audit`, which does the work (check the last anchored
//! record is still there, verify every record since with the chain key, write the new
//! anchor).
//!
//! A chain found cut short, rewritten or forged since the last anchor is never anchored
//! over: the pass is logged at error level, and each new problem is audited as
//! `audit_chain_tampered` and pages the security team once until an anchor holds again.
//! `breakglass audit verify --anchor-bucket` names the damage.

use std::sync::Arc;

use breakglass_core::app::{AnchorError, Anchoring};
use breakglass_core::audit::Anchor;
use breakglass_core::ports::AnchorStore;
use tokio::sync::watch;

use crate::app::AppService;

/// Anchors the broker's chain head every `interval`.
pub struct Anchorer {
    app: Arc<AppService>,
    anchors: Arc<dyn AnchorStore>,
    interval: std::time::Duration,
    last: Option<Anchor>,
    /// Whether the tampering found since the last anchor was reported: it pages once, not
    /// once per pass (its description changes as records are written over it).
    reported: bool,
}

impl std::fmt::Debug for Anchorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchorer")
            .field("anchors", &self.anchors.location())
            .field("interval", &self.interval)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Anchorer {
    /// An anchorer of `app`'s chain into `anchors`, starting from the latest anchor there
    /// (read now, so a chain cut short while the broker was down is caught on the first
    /// pass).
    pub async fn start(
        app: Arc<AppService>,
        anchors: Arc<dyn AnchorStore>,
        interval: std::time::Duration,
    ) -> Result<Self, String> {
        let found = anchors.latest().await.map_err(|e| {
            format!(
                "cannot read the latest anchor in {}: {e}",
                anchors.location()
            )
        })?;
        for ignored in &found.ignored {
            tracing::error!(location = %anchors.location(), object = %ignored, "passed over an object that is not an anchor of this chain: someone who can write to the anchor bucket put it there");
        }
        let last = found.anchor;
        Ok(Self {
            app,
            anchors,
            interval,
            last,
            reported: false,
        })
    }

    /// One pass: anchors the head if it moved and verifies; reports tampering.
    pub async fn run_once(&mut self) -> Result<Anchoring, AnchorError> {
        let outcome = self
            .app
            .anchor_audit(self.anchors.as_ref(), self.last)
            .await?;
        let location = self.anchors.location();
        match &outcome {
            Anchoring::Anchored(anchor) => {
                tracing::info!(seq = anchor.seq, hash = %anchor.hash, location = %location, "audit chain anchored");
                self.last = Some(*anchor);
                self.reported = false;
            }
            Anchoring::Unchanged => {}
            Anchoring::Tampered(problem) => {
                tracing::error!(problem = %problem, location = %location, "the audit chain was tampered with: nothing anchored; run `breakglass audit verify --anchor-bucket`");
                if !self.reported {
                    match self.app.audit_chain_tampered(&location, problem).await {
                        Ok(()) => self.reported = true,
                        Err(e) => {
                            tracing::error!(error = %e, "could not record the audit chain's tampering; retrying next pass");
                        }
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Runs passes every interval until `stopped` turns true (a failed pass is logged and
    /// retried on the next).
    pub async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %e, "audit anchoring pass failed; retrying next pass");
            }
            let gone = tokio::select! {
                changed = stopped.changed() => changed.is_err(),
                () = tokio::time::sleep(self.interval) => false,
            };
            if gone || *stopped.borrow() {
                // One last anchor of what this process wrote.
                if let Err(e) = self.run_once().await {
                    tracing::error!(error = %e, "audit anchoring at shutdown failed");
                }
                return;
            }
        }
    }
}
