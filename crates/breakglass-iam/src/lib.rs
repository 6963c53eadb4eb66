//! The AWS IAM policy language, as a pure library.
//!
//! Everything else in breakglass leans on this crate: session policies are validated and
//! sized before STS sees them, role templates are linted, a responder is shown what a grant
//! lets them do, and a revocation policy is proven to deny the session it targets.
//!
//! The pieces, in the order a caller meets them:
//! - [`parse`] turns JSON text into a [`Policy`] or every problem found, each located by a
//!   JSON pointer ([`PolicyErrors`]);
//! - [`size`] counts characters the way AWS does for each kind of policy;
//! - [`lint`] reports risky or broken constructs, optionally against an action [`Catalog`];
//! - [`PolicySet`] compiles the policies that apply to a principal and resource once, and
//!   [`PolicySet::evaluate`] decides a [`Request`]: `Allow`, `ExplicitDeny` or
//!   `ImplicitDeny`, plus the statements (or missing allows) that decided it;
//! - [`PolicySet::sweep`] lists every catalog action the set allows on a resource, by
//!   service and access level, with the statements that decide each ([`sweep`]);
//! - [`generate`] turns the API calls a session made into the session policy they needed;
//! - [`conformance`] reads and runs the JSON case format of the conformance corpus.
//!
//! Architecture invariant: this crate does no I/O and never reads the clock. Time-dependent
//! condition keys (`aws:CurrentTime`, `aws:TokenIssueTime`) come in through the request
//! context like every other key.

mod arn;
pub mod catalog;
mod compile;
pub mod conformance;
mod context;
mod date;
mod error;
mod eval;
mod fast_hash;
pub mod generate;
mod json;
mod keys;
pub mod lint;
mod operator;
mod owned;
mod parse;
mod pattern;
mod policy;
mod policy_type;
mod request;
pub mod size;
mod suggest;
pub mod sweep;
mod values;

pub use arn::Arn;
pub use catalog::Catalog;
pub use error::{ErrorKind, PolicyError, PolicyErrors};
pub use eval::{
    Decision, Evaluation, Layer, PolicyId, PolicySet, PolicySetBuilder, Reason, ResourcePolicyKind,
};
pub use json::Pointer;
pub use keys::{KeyType, global_key_type};
pub use operator::{BaseOperator, Family, Operator, SetOperator};
pub use parse::{MAX_POLICY_BYTES, parse, parse_value};
pub use policy::{
    Block, ConditionBlock, ConditionEntry, ConditionValue, Effect, Policy, Principal,
    PrincipalBlock, PrincipalKind, Statement, StringList, Version,
};
pub use policy_type::{PolicyType, UnknownPolicyType};
pub use request::{Caller, CallerKind, Context, ContextValue, Request, RequestError, parse_caller};
