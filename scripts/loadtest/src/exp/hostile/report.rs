//! The benchmark's output: CSV files and the latency chart in --out, a
//! table and the verdict on the targets on stdout.

use super::attack::Tally;
use super::{Phase, Row};
use crate::csv::{num, write_file, Table};
use anyhow::Result;
use luge_report::chart::{BarChart, Bars, Labels, Scale};
use std::fmt::Write as _;
use std::path::Path;

/// Writes hostile.csv (a row per policy and phase), hostile-statuses.csv
/// (every outcome of every tenant's route, one per row),
/// hostile-functions.csv (`functions`: A's functions called alone) and
/// hostile-latency.svg.
pub fn write(out: &Path, rows: &[Row], functions: &Table, target_p99_ms: f64) -> Result<()> {
    summary(rows).write(&out.join("hostile.csv"))?;
    statuses(rows).write(&out.join("hostile-statuses.csv"))?;
    functions.write(&out.join("hostile-functions.csv"))?;
    let svg = chart(rows, target_p99_ms)?;
    write_file(&out.join("hostile-latency.svg"), svg.as_bytes())
}

fn summary(rows: &[Row]) -> Table {
    let mut t = Table::new(&[
        "policy",
        "phase",
        "workers",
        "b_solo_max_rps",
        "offered_rps",
        "duration_s",
        "scheduled",
        "ok",
        "answered_rps",
        "not_ok",
        "b_outcomes",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "a_requests",
        "a_outcomes",
        "server_peak_rss_mib",
        "note",
    ]);
    for r in rows {
        let b = r.b.as_ref();
        let latency = |f: fn(&crate::stats::Summary) -> f64| {
            b.filter(|b| b.latency.count > 0)
                .map_or(String::new(), |b| num(f(&b.latency), 3))
        };
        t.row(vec![
            r.policy.name().into(),
            r.phase.name().into(),
            r.workers.to_string(),
            r.solo_max.map_or(String::new(), |m| num(m, 0)),
            num(r.offered, 0),
            num(r.duration, 2),
            b.map_or(String::new(), |b| b.scheduled.to_string()),
            b.map_or(String::new(), |b| b.outcomes.count(200).to_string()),
            num(r.answered_rate(), 1),
            b.map_or(String::new(), |b| b.outcomes.not_ok().to_string()),
            b.map_or(String::new(), |b| b.outcomes.describe()),
            latency(|s| s.p50),
            latency(|s| s.p99),
            latency(|s| s.max),
            r.a.iter().map(|(_, t)| t.total()).sum::<u64>().to_string(),
            a_outcomes(r),
            num(r.peak_rss_mib, 1),
            r.note.clone(),
        ]);
    }
    t
}

/// `/spin 504:8; /trap 500:200`: A's outcomes per route, `-` when alone.
fn a_outcomes(r: &Row) -> String {
    if r.a.is_empty() {
        return "-".into();
    }
    r.a.iter()
        .map(|(kind, t)| format!("{} {}", kind.route(), t.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn statuses(rows: &[Row]) -> Table {
    let mut t = Table::new(&["policy", "phase", "tenant", "route", "outcome", "count"]);
    for r in rows {
        let b = r.b.iter().map(|b| ("b", "/hello", &b.outcomes));
        let a = r.a.iter().map(|(kind, t)| ("a", kind.route(), t));
        for (tenant, route, tally) in b.chain(a) {
            for (outcome, count) in outcomes(tally) {
                t.row(vec![
                    r.policy.name().into(),
                    r.phase.name().into(),
                    tenant.into(),
                    route.into(),
                    outcome,
                    count.to_string(),
                ]);
            }
        }
    }
    t
}

/// Each outcome that occurred and its count: statuses, then `errors` and
/// `unanswered`.
fn outcomes(t: &Tally) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = t
        .statuses
        .iter()
        .map(|(s, n)| (s.to_string(), *n))
        .collect();
    for (what, n) in [("errors", t.errors), ("unanswered", t.unanswered)] {
        if n > 0 {
            v.push((what.into(), n));
        }
    }
    v
}

/// B's p50 and p99 per policy, alone and attacked: a log scale, as an
/// attack can move them by orders of magnitude. A phase in which B got no
/// 200 at all shows as a × on the baseline.
fn chart(rows: &[Row], target_p99_ms: f64) -> Result<String> {
    let mut policies: Vec<_> = rows.iter().map(|r| r.policy).collect();
    policies.dedup();
    let bars = |name: &str, phase: Phase, stat: fn(&crate::stats::Summary) -> f64| Bars {
        name: name.into(),
        color: None,
        values: policies
            .iter()
            .map(|&p| {
                rows.iter()
                    .find(|r| r.policy == p && r.phase == phase)
                    .and_then(|r| r.b.as_ref())
                    .filter(|b| b.latency.count > 0)
                    .map(|b| stat(&b.latency))
            })
            .collect(),
    };
    let chart = BarChart {
        labels: Labels {
            title: format!(
                "Tenant B (hello) alone and under tenant A's attack (target: p99 <= {target_p99_ms} ms)"
            ),
            x: "scheduling policy".into(),
            y: "latency from intended send (ms, log)".into(),
        },
        scale: Scale::Log10,
        groups: policies.iter().map(|p| p.name().to_owned()).collect(),
        bars: vec![
            bars("p50 alone", Phase::Alone, |s| s.p50),
            bars("p50 attacked", Phase::Attacked, |s| s.p50),
            bars("p99 alone", Phase::Alone, |s| s.p99),
            bars("p99 attacked", Phase::Attacked, |s| s.p99),
        ],
        reference: None,
    };
    Ok(chart.svg()?)
}

/// The results as a text table: a line per policy and phase, and under an
/// attacked one what tenant A was answered.
pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<12} {:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  B not answered 200\n",
        "policy", "phase", "offered/s", "200/s", "p50 ms", "p99 ms", "max ms", "RSS MiB"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    for r in rows {
        let b = r.b.as_ref().filter(|b| b.latency.count > 0);
        let not_ok = match &r.b {
            Some(b) if b.outcomes.not_ok() == 0 => "none".to_owned(),
            Some(b) => {
                let mut t = b.outcomes.clone();
                t.statuses.remove(&200);
                t.describe()
            }
            None => "not measured".to_owned(),
        };
        let _ = writeln!(
            s,
            "{:<12} {:<9} {:>9.0} {:>9.0} {:>9} {:>9} {:>9} {:>8.0}  {not_ok}",
            r.policy.name(),
            r.phase.name(),
            r.offered,
            r.answered_rate(),
            ms(b.map(|b| b.latency.p50)),
            ms(b.map(|b| b.latency.p99)),
            ms(b.map(|b| b.latency.max)),
            r.peak_rss_mib,
        );
        if !r.a.is_empty() {
            let _ = writeln!(s, "{:<12} tenant A: {}", "", a_outcomes(r));
        }
        if !r.note.is_empty() {
            let _ = writeln!(s, "{:<12} note: {}", "", r.note);
        }
    }
    s
}

/// Whether each target holds, one line each, saying where it fails.
pub fn verdicts(rows: &[Row], target_p99_ms: f64) -> Vec<String> {
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.all_answered())
        .map(|r| {
            let what = match &r.b {
                Some(b) => format!(
                    "{} of {} answered 200 ({})",
                    b.outcomes.count(200),
                    b.scheduled,
                    b.outcomes.describe()
                ),
                None => "not measured".into(),
            };
            format!("{} {}: {what}", r.policy.name(), r.phase.name())
        })
        .collect();
    let answered = if failed.is_empty() {
        "HOLDS".to_owned()
    } else {
        format!("FAILS: {}", failed.join("; "))
    };
    let attacked: Vec<&Row> = rows.iter().filter(|r| r.phase == Phase::Attacked).collect();
    let p99s: Vec<String> = attacked
        .iter()
        .map(|r| {
            let (value, ok) = match r.p99() {
                Some(p) => (format!("{p:.2} ms"), p <= target_p99_ms),
                None => ("no answer".into(), false),
            };
            let mark = if ok { "ok" } else { "over" };
            format!("{} {value} ({mark})", r.policy.name())
        })
        .collect();
    let p99_holds = !attacked.is_empty()
        && attacked
            .iter()
            .all(|r| r.p99().is_some_and(|p| p <= target_p99_ms));
    vec![
        format!("target: every B request answered 200 at the offered rate: {answered}"),
        format!(
            "target: B's p99 <= {target_p99_ms} ms under attack in every policy: {}: {}",
            if p99_holds { "HOLDS" } else { "FAILS" },
            p99s.join(", ")
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::attack::Kind;
    use super::super::config::Policy;
    use super::super::BLoad;
    use super::*;
    use crate::stats::Summary;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn row(policy: Policy, phase: Phase, statuses: &[(u16, u64)], p99_ms: u64) -> Row {
        let latencies: Vec<Duration> = (1..=100)
            .map(|i| Duration::from_millis(if i == 100 { p99_ms + 1 } else { p99_ms.min(i) }))
            .collect();
        let outcomes = Tally {
            statuses: BTreeMap::from_iter(statuses.iter().copied()),
            ..Tally::default()
        };
        Row {
            policy,
            phase,
            workers: 2,
            solo_max: Some(2000.0),
            offered: 100.0,
            duration: 1.0,
            b: Some(BLoad {
                scheduled: 100,
                outcomes,
                latency: Summary::of(&latencies),
            }),
            a: if phase == Phase::Attacked {
                vec![(Kind::Spin, Tally::default())]
            } else {
                Vec::new()
            },
            peak_rss_mib: 10.0,
            note: String::new(),
        }
    }

    #[test]
    fn targets_hold_only_when_every_request_is_answered_in_time() {
        let good = [
            row(Policy::Fifo, Phase::Alone, &[(200, 100)], 1),
            row(Policy::Fifo, Phase::Attacked, &[(200, 100)], 9),
        ];
        let v = verdicts(&good, 10.0);
        assert!(v[0].ends_with("HOLDS"), "{}", v[0]);
        assert!(v[1].contains("HOLDS: fifo 9.00 ms (ok)"), "{}", v[1]);

        let bad = [
            row(Policy::Edf, Phase::Alone, &[(200, 100)], 1),
            row(Policy::Edf, Phase::Attacked, &[(200, 97), (504, 3)], 40),
        ];
        let v = verdicts(&bad, 10.0);
        assert!(
            v[0].contains("FAILS: edf attacked: 97 of 100 answered 200 (200:97 504:3)"),
            "{}",
            v[0]
        );
        assert!(v[1].contains("FAILS: edf 40.00 ms (over)"), "{}", v[1]);
    }

    #[test]
    fn a_phase_without_answers_fails_both_targets() {
        let mut r = row(Policy::Fifo, Phase::Attacked, &[], 1);
        r.b.as_mut().unwrap().latency = Summary::default();
        let v = verdicts(&[r], 10.0);
        assert!(v[0].contains("FAILS"), "{}", v[0]);
        assert!(v[1].contains("FAILS: fifo no answer"), "{}", v[1]);
    }

    #[test]
    fn csv_rows_and_the_chart_cover_every_phase() {
        let rows = [
            row(Policy::Fifo, Phase::Alone, &[(200, 100)], 1),
            row(Policy::Fifo, Phase::Attacked, &[(200, 99), (429, 1)], 20),
        ];
        let text = summary(&rows).text().to_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[2].starts_with("fifo,attacked,2,2000,100,1.00,100,99,99.0,1,200:99 429:1,"));
        assert!(lines[2].contains(",/spin -,"), "{}", lines[2]);
        let statuses = statuses(&rows).text().to_owned();
        assert!(statuses.contains("fifo,attacked,b,/hello,429,1\n"));
        let svg = chart(&rows, 10.0).unwrap();
        assert!(svg.contains("p99 attacked") && svg.contains("fifo"));
        assert!(table(&rows).contains("429:1"));
    }
}
