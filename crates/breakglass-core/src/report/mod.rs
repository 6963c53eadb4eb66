//! The reports auditors ask for, as typed values: the access review, the break-glass usage
//! log, the session summary and the incident-response access documentation.
//!
//! Each report is built here from what the store and the catalog hold (and, for the access
//! review, what the caller could read of IAM and compute with the policy engine), so every
//! surface (the command line, the console, the HTML documents) shows the same numbers. Each
//! type derives a JSON Schema (`breakglass report schema` prints it); [`Tabular`] lays a
//! report out as titled tables, which the text, CSV and HTML renderings all read.
//!
//! Architecture invariant: pure. The time a report is made and the period it covers are
//! passed in; nothing here reads a clock or a store.

mod access;
mod allows;
mod docs;
mod table;
mod usage;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use access::{
    AccessReview, BreakGlassUserStatus, PlaybookReview, ResponderReview, ReviewInput, RoleCopy,
    access_review,
};
pub use allows::{NotableAction, RoleAllowance, ServiceAllowance, notable_reason, summarise};
pub use docs::{AccountMonitoring, BreakGlassUserDoc, IrDocumentation, PlaybookDoc, RoleDoc};
pub use table::{Table, Tabular, text};
pub use usage::{
    AlertSent, BreakGlassLog, BreakGlassUse, SessionReport, TimelinePoint, UseReview,
    break_glass_log, session_report,
};

/// The reports, by the name the command line and the console give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    /// Who may do what, what each playbook really allows, and what to fix.
    AccessReview,
    /// Every break-glass activation, its alerts and its review.
    BreakGlassLog,
    /// The sessions of a period: totals, by status, playbook, requester and incident.
    Sessions,
    /// The incident-response access documentation, generated from the config.
    IrDocs,
}

impl ReportKind {
    /// Every report.
    pub const ALL: [ReportKind; 4] = [
        Self::AccessReview,
        Self::BreakGlassLog,
        Self::Sessions,
        Self::IrDocs,
    ];

    /// The name used on the command line and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessReview => "access-review",
            Self::BreakGlassLog => "break-glass-log",
            Self::Sessions => "sessions",
            Self::IrDocs => "ir-docs",
        }
    }

    /// The report's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::AccessReview => "Access review",
            Self::BreakGlassLog => "Break-glass usage log",
            Self::Sessions => "Session summary",
            Self::IrDocs => "Incident-response access documentation",
        }
    }

    /// The JSON Schema of the report's JSON form.
    pub fn schema(self) -> serde_json::Value {
        let schema = match self {
            Self::AccessReview => schemars::schema_for!(AccessReview),
            Self::BreakGlassLog => schemars::schema_for!(BreakGlassLog),
            Self::Sessions => schemars::schema_for!(SessionReport),
            Self::IrDocs => schemars::schema_for!(IrDocumentation),
        };
        serde_json::to_value(schema).unwrap_or(serde_json::Value::Null)
    }
}

/// The period a report covers: from `from` (included) to `to` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Period {
    /// The first instant covered.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub from: OffsetDateTime,
    /// The first instant after the period.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub to: OffsetDateTime,
}

impl Period {
    /// The period from `from` to `to`; refused unless `from` is before `to`.
    pub fn new(from: OffsetDateTime, to: OffsetDateTime) -> Result<Self, String> {
        if from < to {
            Ok(Self { from, to })
        } else {
            Err(format!(
                "the period must end after it starts (from {} to {})",
                rfc3339(from),
                rfc3339(to)
            ))
        }
    }

    /// Whether `t` falls in the period.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.from <= t && t < self.to
    }
}

/// `t` in RFC 3339 (UTC as written by the store), or an empty string if it cannot be.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `t`'s calendar day in UTC (`2025-03-01`).
pub fn day(t: OffsetDateTime) -> String {
    let d = t.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `text` as RFC 3339, or as a date (`2025-03-01`) at the start of that day UTC, or, for the
/// `end` of a period, at the end of it (the next day's start): the period flags of the
/// command line and the console's report form.
pub fn parse_time(text: &str, end: bool) -> Result<OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format).map_err(|_| {
        format!("`{text}` is neither RFC 3339 (2025-03-01T09:00:00Z) nor a date (2025-03-01)")
    })?;
    let day = date.midnight().assume_utc();
    Ok(if end {
        day + time::Duration::days(1)
    } else {
        day
    })
}

/// A cell as a spreadsheet should read it from CSV: text a person typed (a justification, a
/// reason) that starts like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return) gets
/// a leading `'`, so opening the report never runs it.
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_plain_text_kept() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for bad in ["+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(csv_cell("alice"), "alice");
        assert_eq!(csv_cell("2026-12-04T20:43:16Z"), "2026-12-04T20:43:16Z");
    }
}
