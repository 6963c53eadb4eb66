//! Test plumbing shared by the breakglass crates, written once: where the shared datasets
//! are, how to start the AWS emulator and the OpenID provider, how to get a throwaway
//! PostgreSQL schema, the in-memory double of the `Cloud` port, Slack (a Web API checked
//! against Slack's published specification, and signed interaction payloads), and a
//! Microsoft Teams webhook that checks the Adaptive Cards it is sent.
//!
//! Only ever a dev-dependency: nothing here ships in the binary.

use std::path::PathBuf;

pub mod cloud;
pub mod postgres;
pub mod teams;

/// A catalog (accounts, roles, playbooks, responders) for tests, as the JSON form of
/// `breakglass_core::model::Catalog`: three playbooks (`investigate`: 2 approvers from
/// `ir-leads`; `contain`: break-glass, 1 approver; `self-service`: no approver) and six
/// responders (`alice`, `erin`: responders; `bob`: responder and lead; `carol`, `dave`:
/// leads; `mallory`: in no group).
pub const CATALOG_JSON: &str = include_str!("../fixtures/catalog.json");
pub mod moto;
pub mod oidc;
pub mod slack;

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}

/// The directory of shared test data: `$BREAKGLASS_SHARED_DIR/data` if set, else
/// `<workspace>/../shared/data`. `None` when it does not exist, so callers can skip.
pub fn shared_data_dir() -> Option<PathBuf> {
    let base = std::env::var_os("BREAKGLASS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"));
    let data = base.join("data");
    data.is_dir().then_some(data)
}

/// A path under the shared data directory, or `None` (after printing why) when it is absent.
///
/// Tests call it as `let Some(dir) = shared_data("cloudtrail/invictus-aws-dataset") else { return };`
/// so a checkout without `../shared` skips them with a reason instead of failing.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = shared_data_dir().map(|d| d.join(relative));
    match path {
        Some(p) if p.exists() => Some(p),
        _ => {
            #[expect(
                clippy::print_stderr,
                reason = "a skipped test says why on the test output"
            )]
            {
                eprintln!(
                    "skipped: shared test data `{relative}` is absent (looked under ../shared/data or $BREAKGLASS_SHARED_DIR/data)"
                );
            }
            None
        }
    }
}
