//! Exit codes and the one place errors reach the terminal.

use std::process::ExitCode;

/// How a command ended, mapped to the documented exit codes.
#[derive(Debug)]
pub enum Outcome {
    /// Everything checked out (exit 0).
    Success,
    /// The command ran and found a problem it already reported (exit 1).
    Problems,
    /// A dry run that was asked to say so found changes to make (exit 2, `--exit-code`).
    Changes,
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
        Ok(Outcome::Changes) => ExitCode::from(2),
        Err(err) if stdout_closed(&err) => ExitCode::SUCCESS,
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

/// The reader of standard output went away (`breakglass ... | head -1`): not a failure of
/// the command, which ends quietly with exit 0 as other Unix tools do.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct StdoutClosed;

/// Standard output, locked, whose broken-pipe errors say they are [`StdoutClosed`] (a
/// broken pipe on a network connection stays an error).
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

/// See [`stdout`].
#[derive(Debug)]
pub struct Stdout(std::io::StdoutLock<'static>);

fn closed(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::io::Error::new(std::io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(closed)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(closed)
    }
}

/// Whether `err` is, somewhere in its chain, standard output closed by its reader.
fn stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<StdoutClosed>()
            || cause
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}
