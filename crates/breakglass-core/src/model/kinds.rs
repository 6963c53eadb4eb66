//! What kind of request it is and how its review ended: vocabulary that the audit events
//! record and the request state machine decides, kept here below both so neither depends on
//! the other for it.

use serde::{Deserialize, Serialize};

/// Whether access waited for approvers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Requested, approved N of M, then activated.
    Standard,
    /// Activated at once in an emergency; reviewed afterwards.
    BreakGlass,
    /// A drill: the broker's own drill identity walks the real path (approved by drill
    /// approvers only, under a session policy that allows only harmless reads) to prove it
    /// works. See [`crate::drill`].
    Drill,
}

impl RequestKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::BreakGlass => "break_glass",
            Self::Drill => "drill",
        }
    }
}

/// The verdict of a post-incident review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The emergency use was justified and proportionate.
    Appropriate,
    /// It was not: follow-up needed.
    Inappropriate,
}
