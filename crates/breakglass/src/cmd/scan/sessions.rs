//! `breakglass scan sessions`: role sessions, who opened them, and what they did.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use breakglass_core::present::printable;
use breakglass_trail::dedupe::{EventKey, SeenIds};
use breakglass_trail::read::{ReadBuffers, ReadStats, read_records_with};
use breakglass_trail::session::{Linker, SessionReport, SessionSummary, TimelineFilter};
use breakglass_trail::time::TimeField;
use serde::Serialize;

use super::{
    Format, Input, OUT_OF_WINDOW, Out, ReadArgs, SharedSeen, SharedWindow, discover, open,
    parallel, progress, say, time_note,
};
use crate::exit::Outcome;

/// Print role sessions: who opened each (source identity, issuing principal), which role,
/// when it started and was last used, from where, and its API calls with error counts.
/// With a filter, the selected sessions also get a timeline of every call.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CloudTrail files or directories (as for `breakglass scan`).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Only sessions with this role session name (a broker grant's id).
    #[arg(long, value_name = "NAME")]
    session_name: Option<String>,

    /// Only sessions with this source identity (the responder).
    #[arg(long, value_name = "IDENTITY")]
    source_identity: Option<String>,

    /// Only the session using this access key id (`ASIA…`).
    #[arg(long, value_name = "KEY")]
    access_key: Option<String>,

    #[command(flatten)]
    read: ReadArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

struct Worker<'a> {
    linker: Linker,
    buffers: ReadBuffers,
    seen: SharedSeen<'a>,
    failed: u64,
    /// Records with neither a usable `eventTime` nor a usable `@timestamp`.
    without_time: u64,
    /// Records timed by `@timestamp`.
    from_timestamp: u64,
}

/// The sessions for people. Every text field comes from CloudTrail, chosen by whoever made
/// the call or wrote the file: each is shown [`printable`] (one line, nothing a terminal acts
/// on).
fn table(report: &SessionReport, out: &mut String) {
    let p = |s: &str| printable(s).into_owned();
    let all = |v: &[String], sep: &str| v.iter().map(|s| p(s)).collect::<Vec<_>>().join(sep);
    for s in &report.sessions {
        let role = p(s.role_arn.as_deref().unwrap_or("?"));
        let name = p(s.role_session_name.as_deref().unwrap_or("?"));
        let _ = writeln!(out, "session {name} on {role}");
        match &s.assume_role {
            Some(i) => {
                let _ = writeln!(
                    out,
                    "  opened    {} by {} ({}, event {})",
                    p(&i.event_time),
                    p(&i.issued_by),
                    p(&i.event_name),
                    p(i.event_id.as_deref().unwrap_or("-"))
                );
            }
            None => {
                let _ = writeln!(out, "  opened    ? (its AssumeRole is not in the input)");
            }
        }
        if let Some(c) = &s.console_switch {
            let _ = writeln!(
                out,
                "  console   switched at {} from {}",
                p(&c.event_time),
                p(c.switch_from.as_deref().unwrap_or("?"))
            );
        }
        let _ = writeln!(
            out,
            "  who       {}",
            p(s.source_identity
                .as_deref()
                .unwrap_or("(no source identity)"))
        );
        let _ = writeln!(out, "  keys      {}", all(&s.access_key_ids, ", "));
        let _ = writeln!(
            out,
            "  used      {} events ({} errors), {} to {}",
            s.events,
            s.errors,
            p(s.first_used.as_deref().unwrap_or("-")),
            p(s.last_used.as_deref().unwrap_or("-"))
        );
        if !s.source_ip_addresses.is_empty() {
            let _ = writeln!(out, "  from      {}", all(&s.source_ip_addresses, ", "));
        }
        if !s.user_agents.is_empty() {
            let _ = writeln!(out, "  agents    {}", all(&s.user_agents, " | "));
        }
        for (call, c) in &s.calls {
            let _ = writeln!(out, "    {:>6}  {}{}", c.count, p(call), errors(c.errors));
        }
        for t in &s.timeline {
            let object = match (&t.bucket_name, &t.key) {
                (Some(b), Some(k)) => format!("  s3://{}/{}", p(b), p(k)),
                (Some(b), None) => format!("  s3://{}", p(b)),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "    {}  {}:{}{}  {}{object}",
                if t.event_time.is_empty() {
                    "-".to_owned()
                } else {
                    p(&t.event_time)
                },
                p(&t.event_source),
                p(&t.event_name),
                t.error_code
                    .as_deref()
                    .map(|e| format!(" [{}]", p(e)))
                    .unwrap_or_default(),
                p(t.source_ip_address.as_deref().unwrap_or("-"))
            );
        }
        out.push('\n');
    }
    let st = &report.stats;
    let _ = writeln!(
        out,
        "{} sessions; {} role-session events: {} linked by access key, {} by (role, session name, time), {} by source identity, {} unlinked; {} AssumeRole, {} denied",
        report.sessions.len(),
        st.role_session_events,
        st.linked_by_access_key,
        st.linked_by_tuple,
        st.linked_by_source_identity,
        st.unlinked,
        st.assume_role_events,
        st.denied_assume_role_events
    );
}

/// An event's place in the whole input: its input's index, then its record index.
fn position(input: usize, record: u64) -> u64 {
    ((input as u64) << 40) | (record & ((1 << 40) - 1))
}

fn errors(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("  ({n} failed)")
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    sessions: Vec<&'a SessionSummary>,
    stats: &'a breakglass_trail::session::LinkStats,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let inputs = discover(&args.paths, &args.read)?;
    if inputs.is_empty() {
        bail!("no CloudTrail files found under the given paths");
    }
    let filter = TimelineFilter {
        session_name: args.session_name.clone(),
        source_identity: args.source_identity.clone(),
        access_key_id: args.access_key.clone(),
    };
    let limits = args.read.limits();
    let (since, until) = (args.read.since, args.read.until);
    let out = Out::default();
    let jobs = args.read.jobs(inputs.len());
    let window = SharedWindow::new(if jobs > 1 { args.read.dedupe_window } else { 0 });
    let bar = progress(&inputs, args.read.no_progress);
    let workers = parallel(
        &inputs,
        jobs,
        bar.as_ref(),
        &out,
        || Worker {
            linker: Linker::new(filter.clone()),
            buffers: ReadBuffers::default(),
            seen: SharedSeen::for_worker(args.read.dedupe_window, jobs, &window),
            failed: 0,
            without_time: 0,
            from_timestamp: 0,
        },
        |w: &mut Worker<'_>, index: usize, input: &Input| {
            let name = input.name();
            let mut stats = ReadStats::default();
            let result = open(input)
                .map_err(|e| format!("cannot open: {e}"))
                .and_then(|r| {
                    let Worker {
                        linker,
                        buffers,
                        seen,
                        without_time,
                        from_timestamp,
                        ..
                    } = w;
                    read_records_with(r, &limits, buffers, &mut stats, |item| match item {
                        Ok(rec) => {
                            let t = match rec.time() {
                                Some((t, field)) => {
                                    if field == TimeField::Timestamp {
                                        *from_timestamp += 1;
                                    }
                                    Some(t)
                                }
                                None => {
                                    *without_time += 1;
                                    None
                                }
                            };
                            if since.is_some() || until.is_some() {
                                let inside = t.is_some_and(|t| {
                                    since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u)
                                });
                                if !inside {
                                    return;
                                }
                            }
                            if let Some(id) = rec.event_id()
                                && !seen.first_sighting(EventKey::of(id))
                            {
                                return;
                            }
                            // Input order, across inputs: timelines break ties by it.
                            linker.observe_at(&rec.event(), position(index, rec.index()));
                        }
                        Err(e) => say(&format!("warning: `{name}`: {e}; skipped")),
                    })
                    .map_err(|e| e.to_string())
                });
            if let Err(e) = result {
                say(&format!("error: `{name}`: {e}"));
                w.failed += 1;
            }
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut failed = 0;
    let (mut without_time, mut from_timestamp) = (0, 0);
    let mut linker = Linker::new(filter.clone());
    for w in workers {
        failed += w.failed;
        without_time += w.without_time;
        from_timestamp += w.from_timestamp;
        linker.merge(w.linker);
    }
    let window = since.is_some() || until.is_some();
    let note = time_note(
        without_time,
        from_timestamp,
        if window {
            OUT_OF_WINDOW
        } else {
            "time order (their timeline entries come last, in input order)"
        },
    );
    let mut report = linker.finish();
    if !filter.is_empty() {
        report.sessions.retain(|s| filter.selects(s));
    }
    match args.format {
        Format::Table => {
            let mut text = String::new();
            table(&report, &mut text);
            out.write(text.as_bytes())?;
        }
        Format::Json => {
            let body = JsonReport {
                sessions: report.sessions.iter().collect(),
                stats: &report.stats,
            };
            let mut text = serde_json::to_string_pretty(&body)?;
            text.push('\n');
            out.write(text.as_bytes())?;
        }
        Format::Jsonl => {
            let mut text = String::new();
            for s in &report.sessions {
                text.push_str(&serde_json::to_string(s)?);
                text.push('\n');
            }
            out.write(text.as_bytes())?;
            say(&format!(
                "{} sessions; {} role-session events, {} unlinked",
                report.sessions.len(),
                report.stats.role_session_events,
                report.stats.unlinked
            ));
        }
    }
    if let Some(note) = note {
        say(&note);
    }
    out.check()?;
    if failed > 0 {
        bail!("{failed} inputs could not be read completely (see the messages above)");
    }
    Ok(Outcome::Success)
}
