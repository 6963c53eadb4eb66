//! Exit codes and the one place errors reach the terminal.

use std::process::ExitCode;

/// How a command ended, mapped to the documented exit codes.
#[derive(Debug)]
pub enum Outcome {
    /// Everything checked out (exit 0).
    Success,
    /// The command ran and found a problem it already reported (exit 1).
    Problems,
}

/// An error that decides its own exit code; anything else is bad input (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct DependencyFailed(pub anyhow::Error);

/// Prints an error chain with `{:#}` and turns the outcome into an exit code.
pub fn report(outcome: anyhow::Result<Outcome>) -> ExitCode {
    match outcome {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(err) => {
            #[expect(clippy::print_stderr, reason = "the CLI reports errors on stderr")]
            {
                eprintln!("error: {err:#}");
            }
            if err.downcast_ref::<DependencyFailed>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
