//! Every report laid out as titled tables of text, the one layout the terminal text, the
//! CSV and the HTML renderings read, so they cannot disagree on what a report says.

use super::{
    AccessReview, BreakGlassLog, IrDocumentation, Period, ReportKind, RoleAllowance, SessionReport,
    TimelinePoint, day, rfc3339,
};

/// A titled table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// A stable id (`responders`), for CSV sections and HTML anchors.
    pub id: &'static str,
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// A report as the renderers see it.
pub trait Tabular {
    /// Which report it is.
    fn kind(&self) -> ReportKind;
    /// Lines said before the tables (the period, the totals).
    fn facts(&self) -> Vec<String>;
    /// The tables, in reading order.
    fn tables(&self) -> Vec<Table>;
    /// Grants per playbook per day, for the reports that chart them.
    fn timeline(&self) -> &[TimelinePoint] {
        &[]
    }
}

fn when(t: Option<time::OffsetDateTime>) -> String {
    t.map_or_else(|| "never".to_owned(), rfc3339)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "—".to_owned()
    } else {
        v.join(", ")
    }
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn period(p: &Period) -> String {
    format!("Period: {} to {}", rfc3339(p.from), rfc3339(p.to))
}

fn duration(seconds: i64) -> String {
    let (h, m) = (seconds / 3600, (seconds % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

fn allowance_rows(playbook: &str, allows: &[RoleAllowance], out: &mut Vec<Vec<String>>) {
    for a in allows {
        let top: Vec<String> = a
            .services
            .iter()
            .take(8)
            .map(|s| format!("{} {}", s.service, s.total()))
            .collect();
        let notable: Vec<String> = a
            .notable
            .iter()
            .map(|n| {
                if n.restricted {
                    format!("{} (restricted)", n.action)
                } else {
                    n.action.clone()
                }
            })
            .collect();
        out.push(vec![
            playbook.to_owned(),
            a.role.clone(),
            a.total.to_string(),
            a.services
                .iter()
                .map(|s| s.permissions_management)
                .sum::<u32>()
                .to_string(),
            list(&top),
            list(&notable),
            if a.assumed_allow_all.is_empty() {
                "exact".to_owned()
            } else {
                format!(
                    "upper bound (assumed to allow all: {})",
                    a.assumed_allow_all.join(", ")
                )
            },
        ]);
    }
}

const ALLOWS_COLUMNS: [&str; 7] = [
    "Playbook",
    "Role",
    "Actions allowed",
    "Permissions mgmt",
    "Top services",
    "Permissions-management and high-risk actions",
    "Bound",
];

impl Tabular for AccessReview {
    fn kind(&self) -> ReportKind {
        ReportKind::AccessReview
    }

    fn facts(&self) -> Vec<String> {
        let mut v = vec![
            period(&self.period),
            format!(
                "{} responder(s), {} playbook(s), {} finding(s)",
                self.responders.len(),
                self.playbooks.len(),
                self.findings.len()
            ),
        ];
        if !self.iam_users_read {
            v.push(
                "Break-glass IAM users: not read (pass what IAM reports to include them)"
                    .to_owned(),
            );
        }
        if self.playbooks.iter().all(|p| p.allows.is_none()) {
            v.push(
                "What each playbook really allows: not computed (needs the action catalog)"
                    .to_owned(),
            );
        }
        if self.truncated {
            v.push("Only the newest sessions were read: older last uses may be missing".to_owned());
        }
        v
    }

    fn tables(&self) -> Vec<Table> {
        let mut allows = Vec::new();
        for p in &self.playbooks {
            if let Some(a) = &p.allows {
                allowance_rows(&p.id, a, &mut allows);
            }
        }
        let mut tables = vec![
            Table {
                id: "findings",
                title: "Findings".to_owned(),
                columns: vec!["Check", "Subject", "Account", "Finding"],
                rows: self
                    .findings
                    .iter()
                    .map(|f| {
                        vec![
                            f.check.clone(),
                            f.resource.clone(),
                            f.account.clone().unwrap_or_default(),
                            f.message.clone(),
                        ]
                    })
                    .collect(),
            },
            Table {
                id: "responders",
                title: "Responders".to_owned(),
                columns: vec![
                    "Responder",
                    "Name",
                    "Groups",
                    "May request",
                    "May break glass",
                    "May approve",
                    "Grants in period",
                    "Last use",
                    "Break-glass user",
                ],
                rows: self
                    .responders
                    .iter()
                    .map(|r| {
                        vec![
                            r.username.clone(),
                            r.name.clone(),
                            list(&r.groups),
                            list(&r.may_request),
                            list(&r.may_break_glass),
                            list(&r.may_approve),
                            r.grants_in_period.to_string(),
                            when(r.last_use),
                            r.break_glass_user.summary(),
                        ]
                    })
                    .collect(),
            },
            Table {
                id: "playbooks",
                title: "Playbooks".to_owned(),
                columns: vec![
                    "Playbook",
                    "Roles (account)",
                    "Approvals",
                    "Approvers",
                    "Break glass",
                    "Step-up",
                    "Longest grant",
                    "Grants in period",
                    "Last used",
                ],
                rows: self
                    .playbooks
                    .iter()
                    .map(|p| {
                        let roles: Vec<String> = p
                            .roles
                            .iter()
                            .map(|r| {
                                format!(
                                    "{} ({})",
                                    r.role,
                                    r.account_name.as_deref().unwrap_or(&r.account)
                                )
                            })
                            .collect();
                        vec![
                            p.id.clone(),
                            list(&roles),
                            format!("{} of {}", p.approvals_required, list(&p.approver_groups)),
                            list(&p.approvers),
                            yes(p.break_glass),
                            format!(
                                "{}{}",
                                match p.step_up {
                                    crate::model::StepUpFactor::Any => "TOTP or passkey",
                                    crate::model::StepUpFactor::Passkey => "passkey",
                                },
                                if p.mint_step_up {
                                    ", again at first mint"
                                } else {
                                    ""
                                }
                            ),
                            duration(p.max_duration_seconds),
                            p.grants_in_period.to_string(),
                            when(p.last_used),
                        ]
                    })
                    .collect(),
            },
        ];
        if !allows.is_empty() {
            tables.push(Table {
                id: "allows",
                title: "What each playbook really allows".to_owned(),
                columns: ALLOWS_COLUMNS.to_vec(),
                rows: allows,
            });
        }
        tables
    }
}

impl Tabular for BreakGlassLog {
    fn kind(&self) -> ReportKind {
        ReportKind::BreakGlassLog
    }

    fn facts(&self) -> Vec<String> {
        vec![
            period(&self.period),
            format!(
                "{} activation(s): {} reviewed ({} inappropriate), {} review(s) outstanding",
                self.total, self.reviewed, self.inappropriate, self.review_outstanding
            ),
        ]
    }

    fn tables(&self) -> Vec<Table> {
        let mut alerts = Vec::new();
        for u in &self.uses {
            for a in &u.alerts {
                alerts.push(vec![
                    u.request.clone(),
                    a.kind.clone(),
                    rfc3339(a.written_at),
                    list(&a.channels),
                    match (a.delivered_at, a.dead_lettered_at) {
                        (Some(t), _) => format!("delivered {}", rfc3339(t)),
                        (None, Some(t)) => format!("dead-lettered {}", rfc3339(t)),
                        (None, None) if a.attempts > 0 => {
                            format!("retrying after {} attempt(s)", a.attempts)
                        }
                        (None, None) => "pending".to_owned(),
                    },
                ]);
            }
        }
        vec![
            Table {
                id: "uses",
                title: "Break-glass activations".to_owned(),
                columns: vec![
                    "Request",
                    "Who",
                    "Activated",
                    "Playbook",
                    "Role (account)",
                    "Incident",
                    "Justification",
                    "Duration",
                    "Ended",
                    "Review",
                ],
                rows: self
                    .uses
                    .iter()
                    .map(|u| {
                        vec![
                            u.request.clone(),
                            u.requester.clone(),
                            rfc3339(u.activated_at),
                            u.playbook.clone(),
                            format!("{} ({})", u.role, u.account),
                            u.incident.clone(),
                            u.justification.clone(),
                            duration(u.duration_seconds),
                            match &u.revoked_by {
                                Some(by) => format!("revoked by {by} {}", rfc3339(u.ended_at)),
                                None => format!("{} {}", u.status.as_str(), rfc3339(u.ended_at)),
                            },
                            match (&u.review.reviewer, u.review.at, u.review.outcome) {
                                (Some(who), Some(at), Some(outcome)) => format!(
                                    "{} by {who} {}",
                                    match outcome {
                                        crate::request::ReviewOutcome::Appropriate => "appropriate",
                                        crate::request::ReviewOutcome::Inappropriate =>
                                            "INAPPROPRIATE",
                                    },
                                    rfc3339(at)
                                ),
                                _ => "OUTSTANDING".to_owned(),
                            },
                        ]
                    })
                    .collect(),
            },
            Table {
                id: "alerts",
                title: "Alerts sent".to_owned(),
                columns: vec!["Request", "Alert", "Written", "Channels", "Delivery"],
                rows: alerts,
            },
        ]
    }
}

impl Tabular for SessionReport {
    fn kind(&self) -> ReportKind {
        ReportKind::Sessions
    }

    fn timeline(&self) -> &[TimelinePoint] {
        &self.timeline
    }

    fn facts(&self) -> Vec<String> {
        let s = &self.summary;
        let mut v = vec![period(&self.period)];
        if let Some(i) = &self.incident {
            v.push(format!("Incident: {i}"));
        }
        v.push(format!(
            "{} session(s): {} active, {} revoked, {} expired",
            s.total, s.active, s.revoked, s.expired
        ));
        if self.truncated {
            v.push("Only the newest sessions are listed (the counts cover all)".to_owned());
        }
        v
    }

    fn tables(&self) -> Vec<Table> {
        let s = &self.summary;
        let mut counts = Vec::new();
        for (by, map) in [
            ("playbook", &s.by_playbook),
            ("kind", &s.by_kind),
            ("requester", &s.by_requester),
            ("incident", &s.by_incident),
        ] {
            for (k, n) in map {
                counts.push(vec![by.to_owned(), k.clone(), n.to_string()]);
            }
        }
        vec![
            Table {
                id: "counts",
                title: "Sessions by playbook, kind, requester and incident".to_owned(),
                columns: vec!["By", "Value", "Sessions"],
                rows: counts,
            },
            Table {
                id: "timeline",
                title: "Grants per playbook per day".to_owned(),
                columns: vec!["Day", "Playbook", "Grants"],
                rows: self
                    .timeline
                    .iter()
                    .map(|t| vec![t.day.clone(), t.playbook.clone(), t.grants.to_string()])
                    .collect(),
            },
            Table {
                id: "sessions",
                title: "Sessions".to_owned(),
                columns: vec![
                    "Grant",
                    "Kind",
                    "Requester",
                    "Playbook",
                    "Role (account)",
                    "Incident",
                    "Start",
                    "End",
                    "Status",
                ],
                rows: self
                    .sessions
                    .iter()
                    .map(|x| {
                        vec![
                            x.grant.to_string(),
                            x.kind.as_str().to_owned(),
                            x.requester.to_string(),
                            x.playbook.to_string(),
                            format!("{} ({})", x.role, x.account),
                            x.incident.to_string(),
                            rfc3339(x.start),
                            rfc3339(x.end),
                            x.status.as_str().to_owned(),
                        ]
                    })
                    .collect(),
            },
        ]
    }
}

impl Tabular for IrDocumentation {
    fn kind(&self) -> ReportKind {
        ReportKind::IrDocs
    }

    fn facts(&self) -> Vec<String> {
        let mut v = vec![
            format!(
                "Generated from {} on {}",
                self.config_file,
                day(self.generated_at)
            ),
            format!("Security account: {}", self.security_account),
        ];
        if let Some(u) = &self.console_url {
            v.push(format!("Broker console: {u}"));
        }
        v
    }

    fn tables(&self) -> Vec<Table> {
        let steps = |id, title: &str, v: &[String]| Table {
            id,
            title: title.to_owned(),
            columns: vec!["Step", "What to do"],
            rows: v
                .iter()
                .enumerate()
                .map(|(i, s)| vec![(i + 1).to_string(), s.clone()])
                .collect(),
        };
        let mut allows = Vec::new();
        for p in &self.playbooks {
            if let Some(a) = &p.allows {
                allowance_rows(&p.id, a, &mut allows);
            }
        }
        let mut tables = vec![
            Table {
                id: "roles",
                title: "Roles".to_owned(),
                columns: vec![
                    "Role",
                    "Purpose",
                    "Accounts",
                    "Managed policies",
                    "Inline policies",
                    "Boundary",
                    "Longest session",
                    "Break glass",
                ],
                rows: self
                    .roles
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            r.description.clone(),
                            list(&r.accounts),
                            list(&r.managed_policies),
                            list(&r.inline_policies),
                            r.permissions_boundary
                                .clone()
                                .unwrap_or_else(|| "—".to_owned()),
                            duration(r.max_session_seconds),
                            yes(r.break_glass),
                        ]
                    })
                    .collect(),
            },
            Table {
                id: "playbooks",
                title: "Playbooks: who may request and approve".to_owned(),
                columns: vec![
                    "Playbook",
                    "Purpose",
                    "Roles",
                    "Longest grant",
                    "Who may request",
                    "Approval",
                    "Break glass",
                    "Step-up",
                    "Session policy",
                ],
                rows: self
                    .playbooks
                    .iter()
                    .map(|p| {
                        vec![
                            p.id.clone(),
                            p.title.clone(),
                            list(&p.roles),
                            duration(p.max_duration_seconds),
                            format!("{} ({})", list(&p.eligible_groups), list(&p.requesters)),
                            if p.approvals_required == 0 {
                                "none".to_owned()
                            } else {
                                format!(
                                    "{} of {} ({})",
                                    p.approvals_required,
                                    list(&p.approver_groups),
                                    list(&p.approvers)
                                )
                            },
                            yes(p.break_glass),
                            p.step_up.clone(),
                            p.session_policy_source.clone(),
                        ]
                    })
                    .collect(),
            },
        ];
        if !allows.is_empty() {
            tables.push(Table {
                id: "allows",
                title: "What each playbook really allows".to_owned(),
                columns: ALLOWS_COLUMNS.to_vec(),
                rows: allows,
            });
        }
        tables.push(steps(
            "break-glass",
            "Break-glass procedure (broker)",
            &self.break_glass_procedure,
        ));
        tables.push(steps(
            "iam-user",
            "When the broker or the identity provider is down: the break-glass IAM user",
            &self.iam_user_procedure,
        ));
        tables.push(Table {
            id: "users",
            title: "Break-glass IAM users".to_owned(),
            columns: vec![
                "Responder",
                "IAM user",
                "Account",
                "Sign in at",
                "Password secret",
                "May assume",
            ],
            rows: self
                .break_glass_users
                .iter()
                .map(|u| {
                    vec![
                        u.responder.clone(),
                        u.user.clone(),
                        u.account.clone(),
                        u.sign_in_url.clone(),
                        u.password_secret.clone(),
                        list(&u.may_assume),
                    ]
                })
                .collect(),
        });
        tables.push(Table {
            id: "monitoring",
            title: "Monitoring per account and region".to_owned(),
            columns: vec![
                "Account",
                "Region",
                "Alarms",
                "EventBridge rules",
                "SNS topic",
            ],
            rows: self
                .monitoring
                .iter()
                .map(|m| {
                    vec![
                        format!("{} ({})", m.account, m.account_id),
                        m.region.clone(),
                        list(&m.alarms),
                        list(&m.event_rules),
                        m.topic.clone().unwrap_or_else(|| "—".to_owned()),
                    ]
                })
                .collect(),
        });
        tables
    }
}

/// The report as plain text for a terminal: the title, the facts, then each table with
/// its columns aligned (a cell is cut to 60 characters; the JSON and CSV forms keep all).
pub fn text(report: &dyn Tabular) -> String {
    const CELL: usize = 60;
    let mut out = String::new();
    let title = report.kind().title();
    out.push_str(title);
    out.push('\n');
    out.push_str(&"=".repeat(title.chars().count()));
    out.push('\n');
    for f in report.facts() {
        out.push_str(&f);
        out.push('\n');
    }
    for t in report.tables() {
        out.push('\n');
        out.push_str(&t.title);
        out.push('\n');
        if t.rows.is_empty() {
            out.push_str("  (none)\n");
            continue;
        }
        let cut = |s: &str| -> String {
            let flat = s.replace(['\n', '\r', '\t'], " ");
            if flat.chars().count() > CELL {
                let mut c: String = flat.chars().take(CELL - 1).collect();
                c.push('…');
                c
            } else {
                flat
            }
        };
        let mut widths: Vec<usize> = t.columns.iter().map(|c| c.chars().count()).collect();
        let rows: Vec<Vec<String>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(|c| cut(c)).collect())
            .collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
            let mut s = String::from(" ");
            for (c, w) in cells.zip(&widths) {
                s.push(' ');
                s.push_str(c);
                s.push_str(&" ".repeat(w.saturating_sub(c.chars().count()) + 1));
            }
            s.trim_end().to_owned() + "\n"
        };
        out.push_str(&line(&mut t.columns.iter().copied()));
        for r in &rows {
            out.push_str(&line(&mut r.iter().map(String::as_str)));
        }
    }
    out
}
