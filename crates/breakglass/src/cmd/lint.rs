//! `breakglass lint`: least-privilege findings on a whole config.

use std::io::Write;

use breakglass_config::lint::{Finding, Level, lint};
use serde_json::json;

use super::config::ConfigFile;
use crate::exit::Outcome;

/// Report least-privilege findings on the config: roles without a permissions boundary,
/// sessions longer than any playbook needs, break-glass roles no alarm watches, responders
/// without a break-glass user, approval rules one person can satisfy. Exits 1 when there is
/// an error-level finding.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigFile,
    /// Output format: `text` (one finding per line, `file:line:col: level[code] field: message`)
    /// or `json` (one JSON object per line).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// An IAM action catalog directory (the per-service JSON of the Service Authorization
    /// Reference, e.g. `iam-data/data`): also flags unknown services and actions, wildcards
    /// matching nothing and condition keys used with the wrong operator type.
    #[arg(long, value_name = "DIR")]
    catalog: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let config = args.config.load()?;
    let catalog = args
        .catalog
        .as_deref()
        .map(super::policy::load_catalog)
        .transpose()?;
    let findings = lint(&config, catalog.as_ref());
    let mut out = crate::exit::stdout();
    for finding in &findings {
        let at = config.locate(&finding.path);
        let (line, column) = at.map_or((1, 1), |a| (a.line, a.column));
        match args.format {
            Format::Text => writeln!(
                out,
                "{}:{line}:{column}: {}[{}] {}: {}",
                config.file, finding.level, finding.code, finding.path, finding.message
            )?,
            Format::Json => writeln!(out, "{}", json_line(&config.file, line, column, finding))?,
        }
    }
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    if let Format::Text = args.format {
        writeln!(
            out,
            "{} finding(s): {errors} error(s), {} warning(s)",
            findings.len(),
            findings
                .iter()
                .filter(|f| f.level == Level::Warning)
                .count()
        )?;
    }
    Ok(if errors > 0 {
        Outcome::Problems
    } else {
        Outcome::Success
    })
}

fn json_line(file: &str, line: usize, column: usize, f: &Finding) -> serde_json::Value {
    json!({
        "file": file,
        "line": line,
        "column": column,
        "level": f.level.to_string(),
        "code": f.code,
        "field": f.path.to_string(),
        "message": f.message,
    })
}
