//! The reports use cases: the access review, the break-glass usage log and the session
//! summary, read from the store through its port and built by the pure `report` module.
//!
//! The free functions take the store itself, so the command line (`breakglass report`,
//! which opens the store directly as `audit verify|export` do) and the console (through
//! the administrator-only [`App`] methods) build each report one way.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{App, Caller, Error};
use crate::cloud::Cloud;
use crate::drill::IamUserFacts;
use crate::model::{IncidentId, PlaybookId};
use crate::ports::{AccessStore, Clock, IdSource, Store, StoreError};
use crate::report::{
    AccessReview, BreakGlassLog, Period, ReviewInput, RoleAllowance, SessionReport,
};
use crate::request::{Env, RequestKind, Settings};
use crate::rules::Rules;
use crate::session::{RequestFilter, SessionQuery};

/// The most rows one store listing returns (the store's cap): a listing this long may have
/// been cut.
pub const LISTING_CAP: u32 = 1_000;

/// What the access review needs besides the store: the inputs a caller may have read
/// elsewhere.
#[derive(Debug, Clone, Default)]
pub struct ReviewOptions {
    /// The period reviewed.
    pub period: Option<Period>,
    /// The break-glass IAM users as IAM reported them (`None`: not read).
    pub iam_users: Option<Vec<IamUserFacts>>,
    /// What each playbook really allows (`None`: not computed).
    pub allows: Option<BTreeMap<PlaybookId, Vec<RoleAllowance>>>,
    /// Days without a grant after which a playbook or role is reported unused.
    pub unused_days: u32,
}

/// The access review over `store` under `rules` at `now`.
pub async fn access_review<S: Store>(
    store: &S,
    rules: &Rules,
    settings: &Settings,
    now: OffsetDateTime,
    period: Period,
    options: &ReviewOptions,
) -> Result<AccessReview, StoreError> {
    let sessions = store
        .sessions(
            &SessionQuery {
                limit: Some(LISTING_CAP),
                ..SessionQuery::default()
            },
            now,
        )
        .await?;
    let expired: Vec<_> = store
        .requests(&RequestFilter {
            statuses: vec!["expired".to_owned()],
            limit: Some(LISTING_CAP),
            ..RequestFilter::default()
        })
        .await?
        .into_iter()
        .map(|v| v.value)
        .collect();
    Ok(crate::report::access_review(&ReviewInput {
        env: Env {
            rules,
            settings,
            now,
        },
        period,
        truncated: sessions.len() >= LISTING_CAP as usize,
        sessions: &sessions,
        expired: &expired,
        iam_users: options.iam_users.as_deref(),
        allows: options.allows.as_ref(),
        unused_days: options.unused_days,
    }))
}

/// The break-glass usage log of `period` over `store` at `now`.
pub async fn break_glass_log<S: Store>(
    store: &S,
    now: OffsetDateTime,
    period: Period,
) -> Result<BreakGlassLog, StoreError> {
    let sessions = store
        .sessions(
            &SessionQuery {
                from: Some(period.from),
                to: Some(period.to),
                kind: Some(RequestKind::BreakGlass),
                limit: Some(LISTING_CAP),
                ..SessionQuery::default()
            },
            now,
        )
        .await?;
    let mut uses = Vec::with_capacity(sessions.len());
    for s in &sessions {
        let Some(request) = store.get(&s.request).await? else {
            continue;
        };
        let sent = store.request_notifications(&s.request).await?;
        uses.push((request.value, sent));
    }
    Ok(crate::report::break_glass_log(
        period,
        now,
        &uses,
        sessions.len() >= LISTING_CAP as usize,
    ))
}

/// The session summary of `period` (optionally one incident) over `store` at `now`.
pub async fn session_report<S: Store>(
    store: &S,
    now: OffsetDateTime,
    period: Period,
    incident: Option<&IncidentId>,
) -> Result<SessionReport, StoreError> {
    let query = SessionQuery {
        from: Some(period.from),
        to: Some(period.to),
        incident: incident.cloned(),
        limit: Some(LISTING_CAP),
        ..SessionQuery::default()
    };
    let summary = store.session_summary(&query, now).await?;
    let sessions = store.sessions(&query, now).await?;
    let truncated = sessions.len() >= LISTING_CAP as usize;
    Ok(crate::report::session_report(
        period,
        incident.map(ToString::to_string),
        now,
        summary,
        sessions,
        truncated,
    ))
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// The period `period`, or the 30 days up to now.
    fn period_or_default(&self, period: Option<Period>) -> Period {
        let now = self.now();
        period.unwrap_or(Period {
            from: now - time::Duration::days(30),
            to: now,
        })
    }

    /// The access review (administrators only: it lists everyone's access).
    pub async fn access_review(
        &self,
        caller: &Caller,
        options: &ReviewOptions,
    ) -> Result<AccessReview, Error> {
        caller.require_admin()?;
        let rules = self.rules();
        let period = self.period_or_default(options.period);
        Ok(access_review(
            self.store(),
            &rules,
            self.broker.settings(),
            self.now(),
            period,
            options,
        )
        .await?)
    }

    /// The break-glass usage log (administrators only).
    pub async fn break_glass_log(
        &self,
        caller: &Caller,
        period: Option<Period>,
    ) -> Result<BreakGlassLog, Error> {
        caller.require_admin()?;
        let period = self.period_or_default(period);
        Ok(break_glass_log(self.store(), self.now(), period).await?)
    }

    /// The session summary (administrators only).
    pub async fn session_report(
        &self,
        caller: &Caller,
        period: Option<Period>,
        incident: Option<&IncidentId>,
    ) -> Result<SessionReport, Error> {
        caller.require_admin()?;
        let period = self.period_or_default(period);
        Ok(session_report(self.store(), self.now(), period, incident).await?)
    }
}
