//! Drills as use cases: the drill identity walks one playbook's path end to end (request,
//! drill approvals, activation, `AssumeRole`, one call, revocation, the deny read back and
//! proven), one alert proves the security team's channels, the chain is verified, and the
//! run is recorded with its audit record in one transaction.
//!
//! Nothing here fails a drill by returning an error: each problem becomes a step's
//! finding, so a drill always ends with a result to store and show. Errors are kept for
//! the store failing to record that result.

use time::{Duration, OffsetDateTime};

use super::{App, Caller, Error};
use crate::audit::{Actor, AuditEvent};
use crate::cloud::Cloud;
use crate::drill::{
    self, DrillPath, DrillRun, DrillTarget, Finding, Outcome, Step, proves_cut_off,
};
use crate::game_day::{self, GameDay, GameDayReport};
use crate::model::{IncidentId, PlaybookId};
use crate::ports::{AccessStore, Clock, IdSource, Store};
use crate::request::NewRequest;
use crate::revocation::REVOCATIONS_POLICY;
use crate::session::RequestFilter;

/// The most findings a `drill_completed` record quotes (the stored run has them all).
const QUOTED_FINDINGS: usize = 10;

/// Where the drill's own alert is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertState {
    /// Every channel took it.
    Delivered,
    /// Not yet: the channels that took it so far and the last error.
    Waiting {
        done: Vec<String>,
        last_error: Option<String>,
    },
    /// The notifier gave up on it.
    DeadLettered { error: Option<String> },
}

/// Milliseconds between two instants of the broker's clock (0 if the clock went back).
fn millis(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

/// A step of `path` named `name`, started at `started`, ended now with `findings`.
struct Walker<'p> {
    path: &'p mut DrillPath,
}

impl Walker<'_> {
    fn record(
        &mut self,
        name: &str,
        started: OffsetDateTime,
        now: OffsetDateTime,
        findings: Vec<Finding>,
    ) -> bool {
        let target = &self.path.target;
        let mut step = Step::checked(name, started, millis(started, now), findings);
        step.playbook = Some(target.playbook.to_string());
        step.account = Some(target.account.to_string());
        step.role = Some(target.role.to_string());
        let passed = step.outcome == Outcome::Passed;
        self.path.steps.push(step);
        passed
    }
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// The role copies the drill walks: every one `playbooks` grant (every playbook when
    /// none is named), in catalog order.
    pub fn drill_targets(&self, playbooks: &[PlaybookId]) -> Result<Vec<DrillTarget>, Error> {
        let rules = self.rules();
        let catalog = rules.catalog();
        for p in playbooks {
            if catalog.playbook(p).is_none() {
                return Err(Error::Invalid(format!(
                    "playbook `{p}` is not in the config; `breakglass playbooks` lists them"
                )));
            }
        }
        Ok(catalog
            .playbooks
            .iter()
            .filter(|p| playbooks.is_empty() || playbooks.contains(&p.id))
            .flat_map(|p| {
                catalog.grantable(p).map(|r| DrillTarget {
                    playbook: p.id.clone(),
                    role: r.name.clone(),
                    account: r.account.clone(),
                })
            })
            .collect())
    }

    /// Walks `target`'s path end to end as the drill identity, under `incident`. Each step's
    /// problem is a finding; a failed step ends the path (a grant it left live is revoked
    /// before returning, so a drill never leaves access behind).
    pub async fn drill_path(&self, incident: &IncidentId, target: DrillTarget) -> DrillPath {
        let mut path = DrillPath {
            target,
            request: None,
            steps: Vec::new(),
            time_to_access_ms: None,
            time_to_revoke_ms: None,
        };
        let live = self.walk_path(incident, &mut path).await;
        if let Some(request) = live {
            // Only reached when a step after activation failed: end the access anyway.
            let caller = drill_caller();
            let _ = self
                .revoke(
                    &caller,
                    &request,
                    "drill: a step failed; ending the drill's access",
                )
                .await;
        }
        path
    }

    /// The steps of [`App::drill_path`]; returns the request whose grant is still live if
    /// the walk stopped before revoking it.
    async fn walk_path(
        &self,
        incident: &IncidentId,
        path: &mut DrillPath,
    ) -> Option<crate::model::RequestId> {
        let caller = drill_caller();
        let requester = drill::requester();
        let target = path.target.clone();
        let at = |what: &str| {
            format!(
                "{what} of {} ({}) in {}",
                target.role, target.playbook, target.account
            )
        };
        let fail = |check: &str, message: String| {
            Finding::new(check, target.role.as_str(), message).in_account(target.account.as_str())
        };
        let mut w = Walker { path };
        let begin = self.now();

        // 1. The request, as the drill identity.
        let duration = self.drill_duration(&target.playbook);
        let submitted = self
            .broker
            .submit_drill(NewRequest {
                requester: requester.clone(),
                playbook: target.playbook.clone(),
                role: target.role.clone(),
                account: target.account.clone(),
                duration,
                incident: incident.clone(),
                justification: format!(
                    "drill: proving that playbook {} reaches {} in {}",
                    target.playbook, target.role, target.account
                ),
            })
            .await;
        let request = match submitted {
            Ok(o) => o.request,
            Err(e) => {
                w.record(
                    "request",
                    begin,
                    self.now(),
                    vec![fail(
                        "request_refused",
                        format!("{} was refused: {e}", at("the drill request")),
                    )],
                );
                return None;
            }
        };
        let id = request.id.clone();
        w.path.request = Some(id.clone());
        w.record("request", begin, self.now(), Vec::new());

        // 2. As many drill approvals as the playbook needs.
        let started = self.now();
        let mut findings = Vec::new();
        for n in 1..=request.required_approvals {
            if let Err(e) = self
                .broker
                .approve(&id, drill::approver(n), request.digest, "drill approval")
                .await
            {
                findings.push(fail(
                    "approval_refused",
                    format!(
                        "drill approval {n} {} was refused: {e}",
                        at("of the request")
                    ),
                ));
                break;
            }
        }
        if !w.record("approve", started, self.now(), findings) {
            return None;
        }

        // 3. Activation.
        let started = self.now();
        if let Err(e) = self.broker.activate(&id, requester.clone()).await {
            w.record(
                "activate",
                started,
                self.now(),
                vec![fail(
                    "activation_refused",
                    format!("{} was refused: {e}", at("the activation")),
                )],
            );
            return None;
        }
        w.record("activate", started, self.now(), Vec::new());

        // 4. AssumeRole with the real trust policy, SourceIdentity and session tags.
        let started = self.now();
        let creds = match self.credentials(&caller, &id, None).await {
            Ok(c) => c,
            Err(e) => {
                w.record(
                    "assume role",
                    started,
                    self.now(),
                    vec![fail(
                        "assume_role_failed",
                        format!("AssumeRole {} failed: {e}", at("of the drill session")),
                    )],
                );
                return Some(id);
            }
        };
        w.record("assume role", started, self.now(), Vec::new());

        // 5. One call with the credentials.
        let started = self.now();
        let findings = match self.cloud.caller_identity(&creds).await {
            Ok(arn) if arn == creds.assumed_role_arn => Vec::new(),
            Ok(arn) => vec![fail(
                "wrong_identity",
                format!(
                    "the drill credentials {} act as {arn}, not as {}",
                    at("of the session"),
                    creds.assumed_role_arn
                ),
            )],
            Err(e) => vec![fail(
                "call_failed",
                format!(
                    "the first call with the credentials {} failed: {e}",
                    at("of the session")
                ),
            )],
        };
        if !w.record("call", started, self.now(), findings) {
            return Some(id);
        }
        w.path.time_to_access_ms = Some(millis(begin, self.now()));

        // 6. Revocation: the deny written, read back and proven by the policy engine.
        let started = self.now();
        if let Err(e) = self.revoke(&caller, &id, "drill: proving revocation").await {
            w.record(
                "revoke",
                started,
                self.now(),
                vec![fail(
                    "revocation_failed",
                    format!("{} failed: {e}", at("the revocation")),
                )],
            );
            return None;
        }
        let role = &request.spec.role_arn;
        let findings = match self.cloud.inline_policy(role, REVOCATIONS_POLICY).await {
            Ok(doc) => proves_cut_off(
                doc.as_deref(),
                role,
                &creds.assumed_role_arn,
                &creds.assumed_role_id,
                requester.as_str(),
            ),
            Err(e) => vec![fail(
                "revocation_unreadable",
                format!(
                    "the {REVOCATIONS_POLICY} policy {} could not be read back: {e}",
                    at("")
                ),
            )],
        };
        let passed = w.record("revoke", started, self.now(), findings);
        if passed {
            w.path.time_to_revoke_ms = Some(millis(started, self.now()));
        }
        None
    }

    /// The drill grant's length: enough for STS's 15-minute minimum session once the clock
    /// allowance is taken off, within the playbook's maximum and above the broker's minimum.
    fn drill_duration(&self, playbook: &PlaybookId) -> Duration {
        let rules = self.rules();
        let min = self.broker.settings().min_duration.max(
            crate::issuance::MIN_SESSION + crate::issuance::SKEW_ALLOWANCE + Duration::minutes(1),
        );
        rules
            .catalog()
            .playbook(playbook)
            .map_or(min, |p| min.min(p.max_duration))
    }

    /// Sends the drill's own alert (`drill_alert`) to every channel of the security team;
    /// returns its audit sequence number, to follow with [`App::drill_alert_state`].
    pub async fn drill_alert(&self, run: &str, what: &str) -> Result<u64, Error> {
        let event = AuditEvent::from(crate::audit::events::DrillAlertSent {
            run: run.to_owned(),
            what: what.to_owned(),
        });
        let committed = self
            .store()
            .commit(self.one_record(Actor::System, event))
            .await?;
        committed.audit_seqs.first().copied().ok_or_else(|| {
            Error::Store(crate::ports::StoreError::InvalidCommit(
                "the drill alert was committed without a record".to_owned(),
            ))
        })
    }

    /// Where the drill alert recorded at `seq` is: delivered (every notification of that
    /// record taken by every channel), waiting, or dead-lettered. A record with no
    /// notification at all is a failure, never a delivery.
    pub async fn drill_alert_state(&self, seq: u64) -> Result<AlertState, Error> {
        let sent = self.store().record_notifications(seq).await?;
        if sent.is_empty() {
            return Ok(AlertState::DeadLettered {
                error: Some(format!(
                    "audit record #{seq} has no notification to deliver"
                )),
            });
        }
        if let Some(dead) = sent.iter().find(|s| s.dead_at.is_some()) {
            return Ok(AlertState::DeadLettered {
                error: dead.message.last_error.clone(),
            });
        }
        match sent.iter().find(|s| s.delivered_at.is_none()) {
            None => Ok(AlertState::Delivered),
            Some(waiting) => Ok(AlertState::Waiting {
                done: waiting.message.done_channels.clone(),
                last_error: waiting.message.last_error.clone(),
            }),
        }
    }

    /// Verifies the whole audit chain (the drill's records included) as a drill step.
    pub async fn drill_chain_step(&self) -> Step {
        let started = self.now();
        let problem = match self.chain_verification().await {
            Ok(super::AuditVerification::Verified { .. }) => None,
            Ok(super::AuditVerification::Broken { problem }) => Some(problem),
            Err(e) => Some(format!("the store failed: {e}")),
        };
        let findings = problem
            .map(|p| {
                vec![Finding::new(
                    "audit_chain_broken",
                    "audit log",
                    format!("the audit chain does not verify over the drill's records: {p}"),
                )]
            })
            .into_iter()
            .flatten()
            .collect();
        Step::checked(
            "audit chain",
            started,
            millis(started, self.now()),
            findings,
        )
    }

    /// Stores `run` with its `drill_completed` record in one transaction. The security team
    /// is alerted when it failed and the previous run did not fail the same way (once per
    /// failure, not once per run); returns whether it was.
    pub async fn record_drill(&self, run: &DrillRun) -> Result<bool, Error> {
        let previous = self.store().drill_runs(1).await?;
        let findings: Vec<String> = run.findings().map(|f| f.message.clone()).collect();
        let passed = run.passed();
        // The same failure is the same checks failing on the same resources; messages carry
        // values that change every run (session names, request ids, errors).
        let located = |r: &DrillRun| {
            let mut keys: Vec<(String, Option<String>, Option<String>, String)> = r
                .findings()
                .map(|f| {
                    (
                        f.check.clone(),
                        f.account.clone(),
                        f.region.clone(),
                        f.resource.clone(),
                    )
                })
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        let alerted = !passed
            && previous
                .first()
                .is_none_or(|p| p.passed() || located(p) != located(run));
        let steps = u32::try_from(run.steps().count()).unwrap_or(u32::MAX);
        let failed = u32::try_from(run.steps().filter(|s| s.outcome == Outcome::Failed).count())
            .unwrap_or(u32::MAX);
        let event = AuditEvent::from(crate::audit::events::DrillCompleted {
            run: run.id.clone(),
            passed,
            steps,
            failed,
            findings: findings.into_iter().take(QUOTED_FINDINGS).collect(),
            alerted,
        });
        self.store()
            .commit_drill(run, self.one_record(Actor::System, event))
            .await?;
        Ok(alerted)
    }

    /// Opens a game day for `scenario` (an administrator's): a new incident id
    /// (`GAMEDAY-…`) under which real people file real requests, flagged as a drill in every
    /// notification and page. The security team is told.
    pub async fn start_game_day(&self, caller: &Caller, scenario: &str) -> Result<GameDay, Error> {
        caller.require_admin()?;
        caller.require_full_access()?;
        let scenario = scenario.trim();
        if scenario.is_empty() || scenario.chars().count() > self.broker.settings().max_text {
            return Err(Error::Invalid(format!(
                "scenario: must be 1 to {} characters, saying what the exercise is",
                self.broker.settings().max_text
            )));
        }
        let day = GameDay {
            incident: game_day::game_day_id(&self.broker.fresh_request_id()),
            scenario: scenario.to_owned(),
            started_by: caller.username.clone(),
            started_at: self.now(),
            ends_at: self.now() + game_day::GAME_DAY_LENGTH,
            finished_at: None,
        };
        let event = AuditEvent::from(crate::audit::events::GameDayStarted {
            incident: day.incident.clone(),
            scenario: day.scenario.clone(),
            by: caller.username.clone(),
        });
        self.commit_game_day(&day, Actor::User(caller.username.clone()), event)
            .await?;
        Ok(day)
    }

    /// Finishes game day `incident` (an administrator's) and reports it: who took part,
    /// each request's times, what did not reach access. Requests under its id are refused
    /// from then on. Finishing a finished game day reports it again without changing it.
    pub async fn finish_game_day(
        &self,
        caller: &Caller,
        incident: &str,
    ) -> Result<GameDayReport, Error> {
        caller.require_admin()?;
        caller.require_full_access()?;
        let incident = IncidentId::new(incident)
            .map_err(|e| Error::Invalid(format!("invalid game day id: {e}")))?;
        let Some(mut day) = self.store().game_day(&incident).await? else {
            return Err(Error::NotFound(format!(
                "no game day `{incident}`; `breakglass drill start --scenario TEXT` opens one"
            )));
        };
        let requests: Vec<_> = self
            .store()
            .requests(&RequestFilter {
                incident: Some(incident.clone()),
                ..RequestFilter::default()
            })
            .await?
            .into_iter()
            .map(|v| v.value)
            .collect();
        if day.finished_at.is_none() {
            day.finished_at = Some(self.now());
            let report = game_day::report(day.clone(), &requests);
            let event = AuditEvent::from(crate::audit::events::GameDayFinished {
                incident: incident.clone(),
                by: caller.username.clone(),
                requests: u32::try_from(report.requests.len()).unwrap_or(u32::MAX),
                failed: u32::try_from(
                    report
                        .requests
                        .iter()
                        .filter(|r| r.failure.is_some())
                        .count(),
                )
                .unwrap_or(u32::MAX),
            });
            self.commit_game_day(&day, Actor::User(caller.username.clone()), event)
                .await?;
            return Ok(report);
        }
        Ok(game_day::report(day, &requests))
    }

    /// Refuses a request (its submission, activation or extension) under a game day's
    /// incident id (`GAMEDAY-…`) unless that game day is open and not past its end: a real
    /// incident can never pass for a drill, and a finished exercise takes no more access. An
    /// id that merely looks like a drill's (`gameday-…`, `DRILL-…`) is refused too.
    pub(crate) async fn require_open_game_day(&self, incident: &IncidentId) -> Result<(), Error> {
        if !game_day::looks_like_a_drill(incident) {
            return Ok(());
        }
        let day = if game_day::is_game_day(incident) {
            self.store().game_day(incident).await?
        } else {
            None
        };
        match day {
            Some(day) if day.finished_at.is_none() && self.now() < day.ends_at => Ok(()),
            Some(_) => Err(Error::Invalid(format!(
                "game day `{incident}` is over: it takes no more requests, activations or extensions"
            ))),
            None => Err(Error::Invalid(format!(
                "incident ids starting with `{}` or `DRILL-` are reserved for game days and drills, and no game day `{incident}` is open: use your incident's own id",
                game_day::GAME_DAY_PREFIX
            ))),
        }
    }

    async fn commit_game_day(
        &self,
        day: &GameDay,
        actor: Actor,
        event: AuditEvent,
    ) -> Result<(), Error> {
        self.store()
            .commit_game_day(day, self.one_record(actor, event))
            .await?;
        Ok(())
    }

    /// The latest `limit` drill runs, newest first (an administrator's read).
    pub async fn drill_runs(&self, caller: &Caller, limit: u32) -> Result<Vec<DrillRun>, Error> {
        caller.require_admin()?;
        Ok(self.store().drill_runs(limit).await?)
    }
}

/// The drill identity as a caller: no administrator, no chat, full access only to its own
/// drill requests (the drill rule refuses it everything else).
fn drill_caller() -> Caller {
    Caller {
        username: drill::requester(),
        admin: false,
        break_glass_only: false,
        via: None,
    }
}
