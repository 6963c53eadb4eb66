//! `breakglass policy generate`: the session policy a session's real API calls needed, from
//! CloudTrail files. The session's events are found with the trail crate's linker (by
//! session name, source identity or access key, plus the sessions it chained into), each
//! event becomes a [`UsedCall`], and [`report`] — the seam a grant's stored activity goes
//! through too — generates, prints the policy on stdout and the summary on stderr.

use std::collections::{BTreeSet, HashSet};
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use breakglass_iam::Catalog;
use breakglass_iam::generate::{self, Generated, UsedCall};
use breakglass_trail::event::Event;
use breakglass_trail::read::{Limits, ReadStats, read_records};
use breakglass_trail::session::{Linker, SessionSummary, TimelineFilter};

use crate::cmd::scan::{Input, discover, open};
use crate::exit::Outcome;

/// Generate a least-privilege session policy from what a session really did.
///
/// Reads CloudTrail files (any form `breakglass scan` reads: S3 objects, plain or gzipped,
/// arrays, NDJSON, EventBridge and CloudWatch Logs envelopes; directories are walked), finds
/// the session's events (by role session name — a broker grant's id —, source identity or
/// access key id, and the sessions it assumed from there), maps each call to its IAM
/// actions through the action catalog and the documented exceptions, and prints the policy
/// on stdout; the summary (actions used, N of M the playbook allowed, calls left out and
/// why, size) goes to stderr.
///
/// With a playbook (`--config` and `--playbook`, or `--playbook-policy`), the policy never
/// allows more than the playbook's session policy: its conditions and denies are kept, and
/// an action it does not allow is reported, not added.
///
/// Exits 0 when the policy fits the 2,048-character session-policy limit and lint finds no
/// error, 1 when it does not (the policy is still printed), 2 when the input is unusable or
/// no event of the session is found.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CloudTrail files or directories.
    #[arg(
        long = "from-trail",
        value_name = "PATH",
        num_args = 1..,
        required_unless_present = "grant",
        conflicts_with = "grant"
    )]
    pub from_trail: Vec<PathBuf>,
    /// A broker grant (or its request) instead of trail files: the calls the broker saw it
    /// make in CloudTrail (`breakglass status ID --activity`), bounded by the session policy
    /// it was issued with. Needs a signed-in session with the broker.
    #[arg(long, value_name = "ID", conflicts_with_all = ["session", "user", "config", "playbook", "playbook_policy"])]
    pub grant: Option<String>,
    /// The session: its role session name (a broker grant's id), its source identity (the
    /// responder), or one of its access key ids.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present_any = ["user", "grant"],
        conflicts_with = "user"
    )]
    pub session: Option<String>,
    /// An IAM user instead of a role session: every call made with the user's own
    /// credentials; the result is an identity policy (a customer managed policy, 6,144
    /// characters).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The action catalog: iam-data's `data` directory (see `breakglass policy lint --help`).
    #[arg(long, value_name = "DIR")]
    pub catalog: PathBuf,
    /// The broker's config file, to take the playbook's session policy from.
    #[arg(long, value_name = "FILE", requires = "playbook")]
    pub config: Option<PathBuf>,
    /// The playbook (in `--config`) whose session policy bounds the result.
    #[arg(long, value_name = "NAME", requires = "config")]
    pub playbook: Option<String>,
    /// A session policy (JSON) to bound the result, instead of a playbook from a config.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub playbook_policy: Option<PathBuf>,
    /// How the trail files are read (`--since`/`--until`, limits; `s3://bucket/prefix`
    /// reads the trail's bucket as `breakglass scan` does).
    #[command(flatten)]
    pub read: crate::cmd::scan::ReadArgs,
    /// Print the whole result as JSON on stdout (the policy, the actions used, what was
    /// left out and why, the exceptions applied, size, lint findings) instead of the policy.
    #[arg(long)]
    pub json: bool,
}

/// Whose calls to collect from the trail.
enum Who {
    /// Role sessions: by access key, or by (role ARN, session name).
    Sessions {
        keys: HashSet<String>,
        tuples: HashSet<(String, String)>,
    },
    User(String),
}

/// The principal ARN a session acts as, as the `issued_by` of the sessions it assumes.
fn session_arn(s: &SessionSummary) -> Option<String> {
    let role = s.role_arn.as_deref()?;
    let name = s.role_session_name.as_deref()?;
    let (prefix, role_path) = role.split_once(":role/")?;
    let role_name = role_path.rsplit('/').next()?;
    let account_part = prefix.strip_prefix("arn:")?;
    let (partition, rest) = account_part.split_once(":iam::")?;
    Some(format!(
        "arn:{partition}:sts::{rest}:assumed-role/{role_name}/{name}"
    ))
}

/// The sessions `wanted` names and the ones they chained into (an `AssumeRole` made by a
/// selected session).
fn select<'a>(sessions: &'a [SessionSummary], wanted: &str) -> Vec<&'a SessionSummary> {
    let mut selected: Vec<&SessionSummary> = sessions
        .iter()
        .filter(|s| {
            s.role_session_name.as_deref() == Some(wanted)
                || s.source_identity.as_deref() == Some(wanted)
                || s.access_key_ids.iter().any(|k| k == wanted)
        })
        .collect();
    loop {
        let callers: BTreeSet<String> = selected.iter().filter_map(|s| session_arn(s)).collect();
        let before = selected.len();
        for s in sessions {
            let chained = s
                .assume_role
                .as_ref()
                .is_some_and(|i| callers.contains(&i.issued_by));
            if chained && !selected.iter().any(|t| std::ptr::eq(*t, s)) {
                selected.push(s);
            }
        }
        if selected.len() == before {
            return selected;
        }
    }
}

fn read_all(
    inputs: &[Input],
    limits: &Limits,
    mut on: impl FnMut(&Event<'_>, &[u8]),
) -> anyhow::Result<()> {
    for input in inputs {
        let reader = open(input).with_context(|| format!("cannot open `{}`", input.name()))?;
        let mut stats = ReadStats::default();
        read_records(reader, limits, &mut stats, |record| {
            if let Ok(record) = record {
                on(&record.event(), record.raw());
            }
        })
        .with_context(|| format!("cannot read `{}` as CloudTrail", input.name()))?;
    }
    Ok(())
}

/// Whether the event was made by `who`.
fn made_by(event: &Event<'_>, who: &Who) -> bool {
    match who {
        Who::User(name) => {
            event.str(&["userIdentity", "type"]).as_deref() == Some("IAMUser")
                && event.str(&["userIdentity", "userName"]).as_deref() == Some(name.as_str())
        }
        Who::Sessions { keys, tuples } => {
            if event
                .str(&["userIdentity", "accessKeyId"])
                .is_some_and(|k| keys.contains(&*k))
            {
                return true;
            }
            let issuer = event.str(&["userIdentity", "sessionContext", "sessionIssuer", "arn"]);
            let name = event
                .str(&["userIdentity", "principalId"])
                .and_then(|p| p.split_once(':').map(|(_, n)| n.to_owned()));
            match (issuer, name) {
                (Some(issuer), Some(name)) => {
                    event.str(&["userIdentity", "type"]).as_deref() == Some("AssumedRole")
                        && tuples.contains(&(issuer.to_lowercase(), name))
                }
                _ => false,
            }
        }
    }
}

/// The calls the broker recorded for grant (or request) `id`, and the session policy it was
/// issued with.
pub fn calls_from_grant(id: &str) -> anyhow::Result<(Vec<UsedCall>, String, String)> {
    let (request, activity) = crate::cmd::client::grant_activity(id)?;
    let calls: Vec<UsedCall> = activity
        .events
        .iter()
        .map(|e| {
            let ev = &e.event;
            UsedCall {
                event_source: ev.service.clone(),
                event_name: ev.action.clone(),
                resources: ev
                    .resource
                    .iter()
                    .filter(|r| r.starts_with("arn:"))
                    .cloned()
                    .collect(),
                region: ev.region.clone(),
                error_code: ev.error.clone(),
            }
        })
        .collect();
    if calls.is_empty() {
        bail!(
            "the broker has seen no call of request {}'s grant in CloudTrail yet (`breakglass status {id} --activity` shows what it has)",
            request.id
        );
    }
    let described = format!(
        "grant of request {} ({} calls seen by the broker)",
        request.id,
        calls.len()
    );
    Ok((calls, described, request.spec.session_policy.clone()))
}

/// The calls of the session (or user) `args` names, from the trail files.
pub fn calls_from_trail(args: &Args) -> anyhow::Result<(Vec<UsedCall>, String)> {
    let inputs = discover(&args.from_trail, &args.read)?;
    if inputs.contains(&Input::Stdin) {
        bail!("`--from-trail -` is not supported: the files are read twice; give file paths");
    }
    let limits = Limits::default();
    let (who, described) = match (&args.session, &args.user) {
        (_, Some(user)) => (Who::User(user.clone()), format!("IAM user `{user}`")),
        (Some(wanted), None) => {
            let mut linker = Linker::new(TimelineFilter::default());
            read_all(&inputs, &limits, |event, _| linker.observe(event))?;
            let report = linker.finish();
            let selected = select(&report.sessions, wanted);
            if selected.is_empty() {
                bail!(
                    "no role session named `{wanted}` (by session name, source identity or access key id) in the trail files; `breakglass scan sessions PATH` lists the sessions they hold"
                );
            }
            let mut keys = HashSet::new();
            let mut tuples = HashSet::new();
            for s in &selected {
                keys.extend(s.access_key_ids.iter().cloned());
                if let (Some(role), Some(name)) = (&s.role_arn, &s.role_session_name) {
                    tuples.insert((role.to_lowercase(), name.clone()));
                }
            }
            let described = format!(
                "{} session(s) for `{wanted}` ({})",
                selected.len(),
                selected
                    .iter()
                    .map(|s| s.role_session_name.as_deref().unwrap_or("?"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (Who::Sessions { keys, tuples }, described)
        }
        (None, None) => bail!("give `--session NAME` or `--user NAME`"),
    };
    let mut calls = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    read_all(&inputs, &limits, |event, raw| {
        if !made_by(event, &who) {
            return;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(raw) else {
            return;
        };
        if let Some(id) = value.get("eventID").and_then(|v| v.as_str())
            && !seen.insert(id.to_owned())
        {
            return;
        }
        calls.extend(UsedCall::from_cloudtrail(&value));
    })?;
    if calls.is_empty() {
        bail!("{described}: no API call of it is in the trail files");
    }
    Ok((calls, described))
}

/// The seam every source of calls goes through (the trail files here, a grant's stored
/// activity elsewhere): generates the policy for `calls` within `playbook` (a session
/// policy's JSON text), prints it on stdout (or the whole result with `json`) and the
/// summary on stderr, and says whether it is usable.
pub fn report(
    catalog: &Catalog,
    calls: &[UsedCall],
    playbook: Option<(&str, &str)>,
    options: generate::Options,
    described: &str,
    json: bool,
) -> anyhow::Result<Outcome> {
    let generated =
        generate::generate_with(catalog, calls, playbook.map(|(_, text)| text), options)?;
    let mut out = crate::exit::stdout();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&generated)?)?;
    } else {
        writeln!(out, "{}", generated.pretty())?;
    }
    out.flush()?;
    let summary = summary(catalog, &generated, calls.len(), playbook, described);
    let mut err = std::io::stderr().lock();
    err.write_all(summary.as_bytes())?;
    Ok(if generated.fits() && !generated.has_lint_errors() {
        Outcome::Success
    } else {
        Outcome::Problems
    })
}

/// The summary printed on stderr.
pub fn summary(
    catalog: &Catalog,
    g: &Generated,
    calls: usize,
    playbook: Option<(&str, &str)>,
    described: &str,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{described}: {calls} call(s), {} action(s) used",
        g.used.len()
    );
    for a in &g.used {
        let on = if a.resources.is_empty() {
            String::new()
        } else {
            format!(" on {}", a.resources.join(", "))
        };
        let _ = writeln!(s, "  {:>5}  {}{on}", a.calls, a.action);
    }
    if let Some((name, text)) = playbook
        && let Ok(policy) = breakglass_iam::parse(text, breakglass_iam::PolicyType::Session)
    {
        let allowed = generate::playbook_actions(catalog, &policy);
        let n = g.used_of_allowed(allowed.iter().map(String::as_str));
        let _ = writeln!(
            s,
            "used {} of the {} actions playbook {name} allows",
            n.used, n.allowed
        );
    }
    for o in &g.outside_playbook {
        let _ = writeln!(s, "not added: {} on {}: {}", o.action, o.resource, o.reason);
    }
    for (what, list) in [
        ("no action needed", &g.no_action),
        ("unmapped", &g.unmapped),
        ("denied", &g.denied),
    ] {
        for l in list {
            let _ = writeln!(
                s,
                "{what}: {}:{} ({} call(s)): {}",
                l.event_source, l.event_name, l.calls, l.reason
            );
        }
    }
    for e in &g.exceptions {
        let _ = writeln!(
            s,
            "exception: {} {} -> {} ({})",
            e.event_source, e.event_name, e.rule, e.source
        );
    }
    for c in &g.coarsened {
        let _ = writeln!(s, "coarsened to fit: {c}");
    }
    if !g.beyond_use.is_empty() {
        let _ = writeln!(
            s,
            "allowed beyond use ({}): {}",
            g.beyond_use.len(),
            g.beyond_use.join(", ")
        );
    }
    for f in &g.findings {
        let _ = writeln!(s, "lint: {f}");
    }
    match &g.size {
        Ok(size) => {
            let _ = writeln!(s, "size: {size}, within the {}", size.limit.description());
        }
        Err(e) => {
            let _ = writeln!(s, "size: {e}");
        }
    }
    s
}
