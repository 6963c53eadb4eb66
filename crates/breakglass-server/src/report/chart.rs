//! Charts rendered on the server as SVG by `plotters` (its SVG backend, no fonts loaded:
//! text is left to the viewer's), inlined into the HTML: nothing is fetched to draw them.

use std::collections::BTreeMap;

use breakglass_core::report::TimelinePoint;
use plotters::prelude::*;

/// Grants started per playbook per day, one line per playbook; `None` with no data (or if
/// drawing failed, which leaves the table below it to say the same).
pub fn timeline_svg(points: &[TimelinePoint]) -> Option<String> {
    let points: Vec<(&str, &str, u64)> = points
        .iter()
        .map(|p| (p.day.as_str(), p.playbook.as_str(), p.grants))
        .collect();
    lines_svg(&points, "grants")
}

/// `MM-DD HH:MM` of `t`, an axis label.
fn day_and_minute(t: time::OffsetDateTime) -> String {
    format!(
        "{:02}-{:02} {:02}:{:02}",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The time to access of each playbook across drill runs (oldest first): for each run and
/// playbook, its slowest path, in milliseconds; `None` when no run reached access.
pub fn drill_times_svg(runs: &[breakglass_core::drill::DrillRun]) -> Option<String> {
    let labels: Vec<String> = runs.iter().map(|r| day_and_minute(r.finished_at)).collect();
    let mut points: Vec<(&str, &str, u64)> = Vec::new();
    for (run, label) in runs.iter().zip(&labels) {
        let mut slowest: BTreeMap<&str, u64> = BTreeMap::new();
        for p in &run.paths {
            if let Some(ms) = p.time_to_access_ms {
                let e = slowest.entry(p.target.playbook.as_str()).or_default();
                *e = (*e).max(ms);
            }
        }
        points.extend(slowest.into_iter().map(|(pb, ms)| (label.as_str(), pb, ms)));
    }
    lines_svg(&points, "time to access (ms)")
}

/// A grant's calls over time: events counted in up to 40 equal buckets across their span
/// (at least a minute each), one line for all calls and one for failed ones; `None` with no
/// events.
pub fn calls_svg(events: &[&breakglass_core::activity::StoredEvent]) -> Option<String> {
    let first = events.iter().map(|e| e.event.at).min()?;
    let last = events.iter().map(|e| e.event.at).max()?;
    let span = (last - first).whole_seconds().max(1);
    let bucket = ((span + 39) / 40).max(60);
    let buckets = usize::try_from(span / bucket + 1).unwrap_or(1);
    // (calls, failed) per bucket.
    let mut counts = vec![(0u64, 0u64); buckets];
    for e in events {
        let i = usize::try_from((e.event.at - first).whole_seconds() / bucket).unwrap_or(0);
        if let Some(c) = counts.get_mut(i.min(buckets - 1)) {
            c.0 += 1;
            c.1 += u64::from(e.event.error.is_some());
        }
    }
    let days = span > 86_400;
    let labels: Vec<String> = (0..buckets)
        .map(|i| {
            let t = first + time::Duration::seconds(bucket * i as i64);
            if days {
                day_and_minute(t)
            } else {
                format!("{:02}:{:02}", t.hour(), t.minute())
            }
        })
        .collect();
    let mut points: Vec<(&str, &str, u64)> = Vec::new();
    for (label, (calls, failed)) in labels.iter().zip(&counts) {
        points.push((label.as_str(), "calls", *calls));
        points.push((label.as_str(), "failed", *failed));
    }
    lines_svg(&points, "calls")
}

/// One line per series over the x labels in the order given (x label, series, y).
fn lines_svg(points: &[(&str, &str, u64)], y_desc: &str) -> Option<String> {
    if points.is_empty() {
        return None;
    }
    let mut days: Vec<&str> = Vec::new();
    for (x, _, _) in points {
        if !days.contains(x) {
            days.push(x);
        }
    }
    let mut series: BTreeMap<&str, Vec<(i32, i32)>> = BTreeMap::new();
    for (x, name, y) in points {
        let x = days.iter().position(|d| d == x)?;
        series.entry(name).or_default().push((
            i32::try_from(x).ok()?,
            i32::try_from(*y).unwrap_or(i32::MAX),
        ));
    }
    let max = points.iter().map(|p| p.2).max().unwrap_or(1);
    let y_max = i32::try_from(max).unwrap_or(i32::MAX).saturating_add(1);
    let x_max = i32::try_from(days.len()).ok()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 320)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(40)
            .build_cartesian_2d(-1..x_max, 0..y_max)
            .ok()?;
        chart
            .configure_mesh()
            .x_labels((days.len() + 2).min(12))
            .x_label_formatter(&|x| {
                usize::try_from(*x)
                    .ok()
                    .and_then(|i| days.get(i))
                    .map_or_else(String::new, |d| (*d).to_owned())
            })
            .y_desc(y_desc)
            .draw()
            .ok()?;
        for (i, (playbook, mut pts)) in series.into_iter().enumerate() {
            pts.sort_unstable();
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .ok()?
                .label(playbook)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .ok()?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    // Scale with its container (plotters gives the viewBox; the aspect is kept).
    Some(svg.replacen("<svg ", "<svg preserveAspectRatio=\"xMidYMid meet\" ", 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_core::drill::{DrillPath, DrillRun, DrillTarget, Trigger};
    use breakglass_core::model::{AccountId, IncidentId, PlaybookId, RoleName};
    use time::macros::datetime;

    fn run(minute: u8, ms: &[(&str, Option<u64>)]) -> DrillRun {
        let at = datetime!(2026-12-06 10:00 UTC) + time::Duration::minutes(i64::from(minute));
        DrillRun {
            id: format!("dr-{minute}"),
            trigger: Trigger::Scheduled,
            incident: IncidentId::new("DRILL-x").unwrap(),
            started_at: at,
            finished_at: at,
            preflight: Vec::new(),
            paths: ms
                .iter()
                .map(|(playbook, ms)| DrillPath {
                    target: DrillTarget {
                        playbook: PlaybookId::new(*playbook).unwrap(),
                        role: RoleName::new("SecurityAnalyst").unwrap(),
                        account: AccountId::new("222222222222").unwrap(),
                    },
                    request: None,
                    steps: Vec::new(),
                    time_to_access_ms: *ms,
                    time_to_revoke_ms: None,
                })
                .collect(),
            checks: Vec::new(),
        }
    }

    #[test]
    fn drill_times_chart_one_line_per_playbook_or_nothing() {
        assert_eq!(drill_times_svg(&[]), None);
        assert_eq!(drill_times_svg(&[run(0, &[("investigate", None)])]), None);
        let svg = drill_times_svg(&[
            run(0, &[("investigate", Some(120)), ("investigate", Some(300))]),
            run(5, &[("investigate", Some(90)), ("emergency", Some(40))]),
        ])
        .unwrap();
        assert_eq!(svg.matches("viewBox=").count(), 1, "{svg}");
        for text in [
            "time to access (ms)",
            "investigate",
            "emergency",
            "12-06 10:05",
        ] {
            assert!(svg.contains(text), "{text}: {svg}");
        }
    }
}
