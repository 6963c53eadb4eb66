//! `breakglass plan`: render the config for IaC tools (CloudFormation, Terraform JSON, raw
//! IAM JSON) into a directory, without touching AWS.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use breakglass_config::render::render_all;
use breakglass_config::resources::DesiredState;

use super::config::ConfigFile;
use crate::exit::Outcome;

/// Render the config as CloudFormation (one template per account, deployed in each of its
/// regions, plus `stackset.yaml` for a service-managed StackSet), Terraform JSON (one
/// `.tf.json` per account) and raw IAM JSON, into a directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigFile,
    /// The directory to write into (created if missing; files breakglass renders are
    /// overwritten, other files are left alone).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let config = args.config.load()?;
    let state = DesiredState::build(&config);
    let files = render_all(&config, &state);
    let mut stdout = crate::exit::stdout();
    for file in &files {
        let path = file
            .path
            .split('/')
            .fold(args.out.clone(), |dir, part| dir.join(part));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create directory `{}`", parent.display()))?;
        }
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        writeln!(stdout, "{}", path.display())?;
    }
    Ok(Outcome::Success)
}
