//! `breakglass policy`: the IAM policy engine offline — run conformance cases, lint a
//! policy, measure it against AWS size limits, list the actions it allows, generate the
//! least-privilege session policy a session's CloudTrail calls needed.

mod generate;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use breakglass_iam::catalog::{Access, Catalog};
use breakglass_iam::conformance::{self, CaseOutcome};
use breakglass_iam::lint::{self, Severity};
use breakglass_iam::size::{self, Limit};
use breakglass_iam::{Policy, PolicyErrors, PolicyType};

use super::{read_capped, read_policy};
use crate::exit::Outcome;

/// Work with IAM policies offline: evaluate, lint, size.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run conformance cases (DESIGN §4.1 format) and report each decision.
    ///
    /// Every case gets its own line: its decision, or why it cannot be read or evaluated
    /// (the other cases of its file still run). Exits 0 when every case evaluates and every
    /// `expected` outcome matches, 1 when a case does not match or cannot be evaluated, 2
    /// when a file cannot be read as case files (not JSON, not cases).
    Eval(EvalArgs),
    /// Check a policy for errors and risky constructs.
    ///
    /// Exits 0 when there is no error-level finding, 1 when there is, 2 when the policy is
    /// not valid JSON or not a valid policy of the given type.
    Lint(LintArgs),
    /// Measure policies against the AWS size limit for their type.
    ///
    /// Several files are measured together (a role's inline policies share one limit).
    /// Exits 0 within the limit, 1 over it, 2 when a policy is invalid.
    Size(SizeArgs),
    /// List the catalog actions a policy allows.
    Actions(ActionsArgs),
    /// Generate the least-privilege session policy a session's real API calls needed, from
    /// CloudTrail files.
    Generate(Box<generate::Args>),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EvalFormat {
    /// One line per case and a summary.
    Table,
    /// One JSON object (one case) or an array of them.
    Json,
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// A case file, or a directory whose `*.json` files are case files.
    #[arg(long = "case", value_name = "FILE|DIR")]
    case: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: EvalFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LintFormat {
    /// One line per finding.
    Text,
    /// A JSON array of findings.
    Json,
}

#[derive(Debug, clap::Args)]
struct LintArgs {
    /// The policy document (JSON).
    file: PathBuf,
    /// Where the policy is used: identity, trust, session, boundary, scp, rcp or resource.
    #[arg(long = "type", value_name = "TYPE")]
    policy_type: PolicyType,
    /// An action catalog: the `data` directory of iam-data (holding `actions/` and
    /// `conditionKeys/`) or an `actions/` directory of per-service JSON files.
    #[arg(long, value_name = "DIR")]
    catalog: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: LintFormat,
}

#[derive(Debug, clap::Args)]
struct SizeArgs {
    /// The policy documents (JSON); several are counted together.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where the policies are used: identity, trust, session, boundary, scp, rcp or resource.
    #[arg(long = "type", value_name = "TYPE")]
    policy_type: PolicyType,
    /// The limit to check instead of the type's default: session, managed, role-inline,
    /// user-inline, group-inline, trust, scp or rcp.
    #[arg(long, value_name = "LIMIT")]
    limit: Option<Limit>,
}

#[derive(Debug, clap::Args)]
struct ActionsArgs {
    /// The policy document (JSON).
    file: PathBuf,
    /// Where the policy is used (default: session).
    #[arg(long = "type", value_name = "TYPE", default_value = "session")]
    policy_type: PolicyType,
    /// The action catalog (see `breakglass policy lint --help`).
    #[arg(long, value_name = "DIR")]
    catalog: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    match &args.command {
        Command::Eval(a) => eval(a),
        Command::Lint(a) => lint_cmd(a),
        Command::Size(a) => size_cmd(a),
        Command::Actions(a) => actions(a),
        Command::Generate(a) => generate_cmd(a),
    }
}

fn generate_cmd(args: &generate::Args) -> anyhow::Result<Outcome> {
    let catalog = load_catalog(&args.catalog)?;
    if let Some(id) = &args.grant {
        let (calls, described, policy) = generate::calls_from_grant(id)?;
        return generate::report(
            &catalog,
            &calls,
            Some(("the grant's session policy", policy.as_str())),
            breakglass_iam::generate::Options::default(),
            &described,
            args.json,
        );
    }
    let playbook = match (&args.config, &args.playbook, &args.playbook_policy) {
        (Some(config), Some(name), _) => {
            let config = crate::cmd::config::load(config)?;
            let Some(p) = config.playbooks.iter().find(|p| p.id.as_str() == name) else {
                let known: Vec<&str> = config.playbooks.iter().map(|p| p.id.as_str()).collect();
                bail!(
                    "the config has no playbook `{name}`; its playbooks: {}",
                    known.join(", ")
                );
            };
            Some((format!("`{name}`"), p.session_policy.as_str().to_owned()))
        }
        (_, _, Some(path)) => {
            let text = read_policy(path)?;
            parse_policy(path, &text, PolicyType::Session)?;
            Some((format!("`{}`", path.display()), text))
        }
        _ => None,
    };
    let (calls, described) = generate::calls_from_trail(args)?;
    let options = if args.user.is_some() {
        breakglass_iam::generate::Options::identity()
    } else {
        breakglass_iam::generate::Options::default()
    };
    generate::report(
        &catalog,
        &calls,
        playbook.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        options,
        &described,
        args.json,
    )
}

/// The most a case file may hold; the corpus files are a few dozen kilobytes.
const MAX_CASE_FILE: u64 = 16 * 1024 * 1024;

fn parse_policy(path: &Path, text: &str, ty: PolicyType) -> anyhow::Result<Policy> {
    breakglass_iam::parse(text, ty).map_err(|errors| invalid_policy(path, ty, &errors))
}

fn invalid_policy(path: &Path, ty: PolicyType, errors: &PolicyErrors) -> anyhow::Error {
    let mut msg = format!("`{}` is not a valid {ty} policy:", path.display());
    for e in errors {
        let at = if e.pointer.is_root() {
            "/"
        } else {
            e.pointer.as_str()
        };
        msg.push_str(&format!(
            "\n  [{}] {at}: {} (hint: {})",
            e.kind.code(),
            e.kind,
            e.kind.hint()
        ));
    }
    anyhow!(msg)
}

fn case_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list `{}`", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("`{}` holds no `*.json` case files", path.display());
    }
    Ok(files)
}

fn eval(args: &EvalArgs) -> anyhow::Result<Outcome> {
    let mut outcomes: Vec<(PathBuf, CaseOutcome)> = Vec::new();
    for file in case_files(&args.case)? {
        let text = read_capped(&file, MAX_CASE_FILE)?;
        let results = conformance::run_file(&text)
            .with_context(|| format!("`{}` is not a valid case file", file.display()))?;
        outcomes.extend(results.into_iter().map(|o| (file.clone(), o)));
    }
    let mut out = crate::exit::stdout();
    match args.format {
        EvalFormat::Json => {
            let values: Vec<&CaseOutcome> = outcomes.iter().map(|(_, o)| o).collect();
            let text = match values.as_slice() {
                [one] => serde_json::to_string_pretty(one)?,
                many => serde_json::to_string_pretty(many)?,
            };
            writeln!(out, "{text}")?;
        }
        EvalFormat::Jsonl => {
            for (_, o) in &outcomes {
                writeln!(out, "{}", serde_json::to_string(o)?)?;
            }
        }
        EvalFormat::Table => {
            for (file, o) in &outcomes {
                let status = match (o.passed, &o.error) {
                    (Some(true), _) => "PASS",
                    (Some(false), _) => "FAIL",
                    (None, Some(_)) => "ERROR",
                    (None, None) => "-",
                };
                let decision = o.decision.map_or("-", |d| d.as_str());
                let by: Vec<&str> = o.decided_by.iter().map(|r| r.pointer.as_str()).collect();
                writeln!(
                    out,
                    "{status:5} {decision:12} {} [{}] {}",
                    o.name,
                    file.display(),
                    by.join(", ")
                )?;
                if let Some(m) = &o.mismatch {
                    writeln!(out, "      {m}")?;
                }
                if let Some(e) = o.error.as_ref().filter(|_| o.passed != Some(true)) {
                    writeln!(out, "      {e}")?;
                }
            }
            let failed = outcomes
                .iter()
                .filter(|(_, o)| o.passed == Some(false))
                .count();
            let passed = outcomes
                .iter()
                .filter(|(_, o)| o.passed == Some(true))
                .count();
            let errors = outcomes
                .iter()
                .filter(|(_, o)| o.passed.is_none() && o.error.is_some())
                .count();
            let errors = if errors > 0 {
                format!(", {errors} could not be evaluated")
            } else {
                String::new()
            };
            writeln!(
                out,
                "{} cases: {passed} passed, {failed} failed{errors}",
                outcomes.len()
            )?;
        }
    }
    out.flush()?;
    let broken =
        |o: &CaseOutcome| o.passed == Some(false) || (o.passed.is_none() && o.error.is_some());
    Ok(if outcomes.iter().any(|(_, o)| broken(o)) {
        Outcome::Problems
    } else {
        Outcome::Success
    })
}

/// Loads a catalog directory: iam-data's `data` (with `actions/`, `conditionKeys/` and
/// `resourceTypes/`) or an `actions/` directory alone.
pub(crate) fn load_catalog(dir: &Path) -> anyhow::Result<Catalog> {
    let (actions_dir, keys_dir, types_dir) = if dir.join("actions").is_dir() {
        (
            dir.join("actions"),
            Some(dir.join("conditionKeys")),
            Some(dir.join("resourceTypes")),
        )
    } else {
        (
            dir.to_path_buf(),
            dir.parent().map(|p| p.join("conditionKeys")),
            dir.parent().map(|p| p.join("resourceTypes")),
        )
    };
    let mut catalog = Catalog::new();
    let entries = std::fs::read_dir(&actions_dir)
        .with_context(|| format!("cannot read catalog directory `{}`", actions_dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(prefix) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == "json"))
        else {
            continue;
        };
        let text = read_capped(&path, MAX_CASE_FILE)?;
        catalog
            .add_service(prefix, &text)
            .with_context(|| format!("catalog file `{}`", path.display()))?;
        if let Some(keys) = keys_dir
            .as_ref()
            .map(|d| d.join(format!("{prefix}.json")))
            .filter(|p| p.is_file())
        {
            let text = read_capped(&keys, MAX_CASE_FILE)?;
            catalog
                .add_condition_keys(prefix, &text)
                .with_context(|| format!("catalog file `{}`", keys.display()))?;
        }
        if let Some(types) = types_dir
            .as_ref()
            .map(|d| d.join(format!("{prefix}.json")))
            .filter(|p| p.is_file())
        {
            let text = read_capped(&types, MAX_CASE_FILE)?;
            catalog
                .add_resource_types(prefix, &text)
                .with_context(|| format!("catalog file `{}`", types.display()))?;
        }
    }
    if catalog.is_empty() {
        bail!(
            "`{}` holds no per-service action files (`<service>.json`)",
            actions_dir.display()
        );
    }
    Ok(catalog)
}

fn lint_cmd(args: &LintArgs) -> anyhow::Result<Outcome> {
    let catalog = args.catalog.as_deref().map(load_catalog).transpose()?;
    let text = read_policy(&args.file)?;
    let policy = parse_policy(&args.file, &text, args.policy_type)?;
    let findings = lint::lint(&policy, args.policy_type, catalog.as_ref());
    let mut out = crate::exit::stdout();
    match args.format {
        LintFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?,
        LintFormat::Text => {
            for f in &findings {
                writeln!(out, "{}: {f}", args.file.display())?;
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            writeln!(out, "{} finding(s), {errors} error(s)", findings.len())?;
        }
    }
    out.flush()?;
    Ok(if findings.iter().any(|f| f.severity == Severity::Error) {
        Outcome::Problems
    } else {
        Outcome::Success
    })
}

fn size_cmd(args: &SizeArgs) -> anyhow::Result<Outcome> {
    let limit = match args.limit.or_else(|| Limit::for_type(args.policy_type)) {
        Some(l) => l,
        None => bail!("resource-based policies have per-service limits: pass `--limit`"),
    };
    let mut texts = Vec::new();
    for file in &args.files {
        let text = read_policy(file)?;
        parse_policy(file, &text, args.policy_type)?;
        texts.push(text);
    }
    let name = match args.files.as_slice() {
        [one] => format!("`{}`", one.display()),
        many => format!("{} policies together", many.len()),
    };
    let mut out = crate::exit::stdout();
    match size::check_total(&name, texts.iter().map(String::as_str), limit) {
        Ok(size) => {
            writeln!(out, "{name}: {size}, within the {}", limit.description())?;
            Ok(Outcome::Success)
        }
        Err(e) => {
            writeln!(out, "{e}")?;
            Ok(Outcome::Problems)
        }
    }
}

fn actions(args: &ActionsArgs) -> anyhow::Result<Outcome> {
    let catalog = load_catalog(&args.catalog)?;
    let text = read_policy(&args.file)?;
    let policy = parse_policy(&args.file, &text, args.policy_type)?;
    let mut out = crate::exit::stdout();
    let allowed = catalog.allowed_actions(&policy);
    for a in &allowed {
        let how = match a.access {
            Access::Unconditional => "everywhere",
            Access::Restricted => "restricted",
        };
        writeln!(out, "{how:10} {}", a.action)?;
    }
    writeln!(out, "{} action(s) allowed", allowed.len())?;
    out.flush()?;
    Ok(Outcome::Success)
}

/// The AWS managed policy documents in `dir` (`<PolicyName>.json`), by name; none without
/// a directory.
pub(crate) fn load_managed(
    dir: Option<&std::path::Path>,
) -> anyhow::Result<std::collections::BTreeMap<String, serde_json::Value>> {
    let mut managed = std::collections::BTreeMap::new();
    let Some(dir) = dir else {
        return Ok(managed);
    };
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?
    {
        let path = entry?.path();
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == "json"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let doc = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not JSON", path.display()))?;
        managed.insert(name.to_owned(), doc);
    }
    Ok(managed)
}
