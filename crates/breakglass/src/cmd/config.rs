//! `breakglass config validate|schema`: check a config file, or print its JSON Schema.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use breakglass_config::Config;

use crate::exit::Outcome;

/// The config file argument every access-as-code command takes.
#[derive(Debug, clap::Args)]
pub struct ConfigFile {
    /// The breakglass config file (TOML).
    #[arg(
        long,
        short = 'c',
        env = "BREAKGLASS_CONFIG",
        default_value = "breakglass.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
}

impl ConfigFile {
    /// Reads and validates the config; every problem is reported with file, line and field.
    pub fn load(&self) -> anyhow::Result<Config> {
        load(&self.config)
    }
}

/// Reads and validates the config at `path`.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config `{}`", path.display()))?;
    let config = Config::load(&text, &path.display().to_string())?;
    Ok(config)
}

/// Check a config file, or print the JSON Schema of the config format.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Validate a config file: every problem is reported with its file, line and field
    /// (exit 2 if there is any).
    Validate(ConfigFile),
    /// Print the JSON Schema of the config file format (generated from the types, every
    /// field described), e.g. for editor completion.
    Schema,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let mut out = crate::exit::stdout();
    match &args.command {
        Command::Validate(file) => {
            let config = file.load()?;
            writeln!(
                out,
                "{}: ok ({} accounts, {} roles, {} playbooks, {} responders)",
                config.file,
                config.accounts.len(),
                config.roles.len(),
                config.playbooks.len(),
                config.responders.len()
            )?;
        }
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&Config::schema())?;
            writeln!(out, "{schema}")?;
        }
    }
    Ok(Outcome::Success)
}
