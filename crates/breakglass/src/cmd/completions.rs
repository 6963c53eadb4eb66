//! `breakglass completions SHELL`: shell completion scripts generated from the CLI definition.

use std::io::Write;

use clap::CommandFactory;

use crate::exit::Outcome;

/// Print a completion script for SHELL on stdout (e.g. `breakglass completions bash > /etc/bash_completion.d/breakglass`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let mut command = crate::Cli::command();
    let mut out = crate::exit::stdout();
    clap_complete::generate(args.shell, &mut command, "breakglass", &mut out);
    out.flush()?;
    Ok(Outcome::Success)
}
