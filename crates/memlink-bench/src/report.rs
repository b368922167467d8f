//! The results: ratios to the baselines of the same run, the targets of the
//! benchmark issue, the text table with a latency histogram, and JSON.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::budget::Budget;
use crate::pin::Placement;
use crate::stats::{fmt_ns, fmt_rate, Latency, Throughput};
use crate::watchcost::WatchCost;

/// The table sections, in print order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Section {
    Latency,
    Throughput,
    Setup,
    WhyLatency,
    WhyCopy,
    WhyStream,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Latency,
        Section::Throughput,
        Section::Setup,
        Section::WhyLatency,
        Section::WhyCopy,
        Section::WhyStream,
    ];

    /// The section's heading in the table.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Latency => "LATENCY  one-way = round trip / 2, two processes",
            Section::Throughput => "THROUGHPUT  one way, two processes (memcpy: one process)",
            Section::Setup => "SETUP  create / open / map, one process",
            Section::WhyLatency => {
                "WHAT BOUNDS IT  hand-built 64 B messages over shared memory, two processes"
            }
            Section::WhyCopy => "WHAT BOUNDS IT  copy loops and the channel's code, one process",
            Section::WhyStream => {
                "WHAT BOUNDS IT  1 MiB messages through shared memory, no channel, two processes"
            }
        }
    }
}

/// The case whose latency histogram is printed.
const HEADLINE: &str = "lat.memlink.spin.64B";

/// What one case measured (the median of its repetitions).
///
/// Serialised with its variant in `kind`: every variant must be a struct or
/// a newtype of one (an internally tagged newtype of a string cannot be
/// written, and would make the whole report fail to serialise).
#[derive(Debug, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Outcome {
    Latency(Latency),
    Throughput(Throughput),
    /// A cost measured in paired rounds (the watch cost).
    Cost(WatchCost),
    /// The case could not be measured: why.
    Error {
        message: String,
    },
}

/// One row.
#[derive(Debug, serde::Serialize)]
pub(crate) struct CaseResult {
    pub key: String,
    pub title: String,
    pub section: Section,
    /// Key of the row it is compared with.
    pub compare: Option<String>,
    /// Latency: p50 / the other's p50 (lower is better). Throughput:
    /// messages per second / the other's (higher is better; every
    /// comparison is between equal message sizes). The median of `ratios`;
    /// for a cost, the watched share of the throughput at the worst the
    /// run's noise allows (`1 - (cost + noise)`).
    pub ratio: Option<f64>,
    /// The ratio of each repetition to its paired baseline run, measured
    /// right before it.
    pub ratios: Vec<f64>,
    /// The primary figure of each repetition (p50 ns or messages/s).
    pub runs: Vec<f64>,
    pub outcome: Outcome,
}

impl CaseResult {
    fn latency(&self) -> Option<&Latency> {
        match &self.outcome {
            Outcome::Latency(l) => Some(l),
            _ => None,
        }
    }

    fn throughput(&self) -> Option<&Throughput> {
        match &self.outcome {
            Outcome::Throughput(t) => Some(t),
            _ => None,
        }
    }
}

/// A target of the benchmark issue, checked against this run.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Target {
    pub what: &'static str,
    /// The measured ratio, if both sides were measured.
    pub ratio: Option<f64>,
    /// `"<="` or `">="`.
    pub comparison: &'static str,
    pub limit: f64,
    /// `PASS`, `FAIL`, or `SKIP` (a side was filtered out or failed).
    pub status: &'static str,
}

/// The machine, as far as it matters for the figures.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub kernel: String,
    /// 1-minute load average before and after the run: above ~0.1 per core
    /// before a run, other work (compilers) was competing with it.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
}

/// Everything a run produced.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Report {
    /// UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    pub machine: Machine,
    pub budget: Budget,
    pub placement: Placement,
    pub results: Vec<CaseResult>,
    pub targets: Vec<Target>,
}

impl Report {
    /// The keys of the cases that failed.
    pub fn failed(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Error { .. }))
            .map(|r| r.key.as_str())
            .collect()
    }

    /// Computes the ratios and targets of `results`.
    pub fn new(
        budget: Budget,
        placement: Placement,
        results: Vec<CaseResult>,
        load_before: Option<f64>,
    ) -> Report {
        let ratios: HashMap<String, f64> = results
            .iter()
            .filter_map(|r| Some((r.key.clone(), r.ratio?)))
            .collect();
        let targets = targets(&ratios);
        Report {
            date: utc_date(),
            machine: Machine {
                cpu: cpu_model(),
                cpus: placement.cpus,
                kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default(),
                load_before,
                load_after: load_average(),
            },
            budget,
            placement,
            results,
            targets,
        }
    }
}

/// The targets, from the paired ratios of the rows (`ratios`: key
/// → ratio to the row's own baseline).
fn targets(ratios: &HashMap<String, f64>) -> Vec<Target> {
    let ratio = |key: &str| ratios.get(key).copied();
    // Zero-copy messages per second relative to 64 B (1.0 by definition):
    // flat means the slowest size is within 2x of the fastest.
    let flatness = match (
        ratio("tput.memlink.zerocopy.4KiB"),
        ratio("tput.memlink.zerocopy.1MiB"),
    ) {
        (Some(a), Some(b)) => {
            let all = [1.0, a, b];
            let max = all.iter().copied().fold(0.0, f64::max);
            let min = all.iter().copied().fold(f64::INFINITY, f64::min);
            Some(min / max)
        }
        _ => None,
    };
    let rows: [(&'static str, Option<f64>, &'static str, f64); 8] = [
        (
            "spin 64 B one-way p50 / raw cache-line ping-pong p50",
            ratio("lat.memlink.spin.64B"),
            "<=",
            1.5,
        ),
        (
            "default (spin-then-park) 64 B p50 / raw ping-pong p50",
            ratio("lat.memlink.default.64B"),
            "<=",
            1.8,
        ),
        (
            "park 64 B p50 / futex ping-pong p50",
            ratio("lat.memlink.park.64B"),
            "<=",
            1.1,
        ),
        (
            "copy 64 B msg/s / unix socket 64 B msg/s",
            ratio("tput.memlink.copy.64B"),
            ">=",
            20.0,
        ),
        (
            "zero-copy 64 B msg/s / copy 64 B msg/s",
            ratio("tput.memlink.zerocopy.64B"),
            ">=",
            1.0,
        ),
        (
            "copy 1 MiB GB/s / memcpy 1 MiB GB/s",
            ratio("tput.memlink.copy.1MiB"),
            ">=",
            0.8,
        ),
        (
            "zero-copy flat: slowest / fastest msg/s over 64 B..1 MiB",
            flatness,
            ">=",
            0.5,
        ),
        (
            "16 busy ch. watched 1 Hz / unwatched msg/s, worst in noise",
            ratio("cost.watch.1hz.16ch"),
            ">=",
            0.98,
        ),
    ];
    #[allow(unused_mut)] // Extended only by optional baselines.
    let mut rows = rows.to_vec();
    // With the iceoryx2 baseline built in: memlink's one-way latency at
    // most half of iceoryx2's (issue 13), as iceoryx2 p50 / memlink p50.
    #[cfg(feature = "iceoryx2")]
    rows.push((
        "iceoryx2 64 B p50 / memlink spin 64 B p50 (busy-poll both)",
        ratio("lat.iceoryx2.64B"),
        ">=",
        2.0,
    ));
    rows.into_iter()
        .map(|(what, ratio, comparison, limit)| {
            let status = match ratio {
                None => "SKIP",
                Some(r)
                    if (comparison == "<=" && r <= limit) || (comparison == ">=" && r >= limit) =>
                {
                    "PASS"
                }
                Some(_) => "FAIL",
            };
            Target {
                what,
                ratio,
                comparison,
                limit,
                status,
            }
        })
        .collect()
}

/// Prints the report as JSON on stdout.
pub(crate) fn print_json(report: &Report) -> crate::error::Result<()> {
    let s = serde_json::to_string_pretty(report)
        .map_err(|e| format!("cannot write the report as JSON: {e}"))?;
    println!("{s}");
    Ok(())
}

/// Prints the report as text tables on stdout.
pub(crate) fn print_table(report: &Report) {
    print!("{}", table(report));
}

fn ratio_text(r: &CaseResult) -> String {
    match (r.ratio, &r.compare) {
        (Some(x), Some(k)) => format!("{x:>6.2}x {}", short_key(k)),
        _ => String::new(),
    }
}

/// `lat.memlink.spin.64B` → `spin 64B`, for the "vs" column.
fn short_key(key: &str) -> String {
    key.trim_start_matches("lat.")
        .trim_start_matches("tput.")
        .trim_start_matches("memlink.")
        .replace('.', " ")
}

/// The whole text report.
pub(crate) fn table(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let load = |l: Option<f64>| l.map_or("?".into(), |l| format!("{l:.2}"));
    let _ = writeln!(
        out,
        "memlink-bench ({} run, {}): {} x {}, Linux {}",
        report.budget.name, report.date, m.cpus, m.cpu, m.kernel
    );
    let _ = writeln!(
        out,
        "{}; load average {} before, {} after{}",
        report.placement.note,
        load(m.load_before),
        load(m.load_after),
        if m.load_before.unwrap_or(0.0) > 0.2 * m.cpus as f64 {
            " (busy machine: figures are noisy)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "warm-up {:?}, measure {:?} per case, median of {} run(s); \"vs\": ratio to the named \
         baseline re-measured right before each run",
        report.budget.warmup, report.budget.measure, report.budget.repeat
    );
    for section in Section::ALL {
        let rows: Vec<&CaseResult> = report
            .results
            .iter()
            .filter(|r| r.section == section)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", section.heading());
        let latency = matches!(
            section,
            Section::Latency | Section::Setup | Section::WhyLatency
        );
        if latency {
            let _ = writeln!(
                out,
                "  {:<46} {:>9} {:>9} {:>9} {:>9}  vs",
                "case", "p50", "p99", "p99.9", "samples"
            );
        } else {
            let _ = writeln!(
                out,
                "  {:<46} {:>9} {:>9} {:>9}  vs",
                "case", "msg/s", "GB/s", "n"
            );
        }
        for r in rows {
            match &r.outcome {
                Outcome::Latency(l) => {
                    let _ = writeln!(
                        out,
                        "  {:<46} {:>9} {:>9} {:>9} {:>9}  {}",
                        r.title,
                        fmt_ns(l.p50),
                        fmt_ns(l.p99),
                        fmt_ns(l.p999),
                        l.samples,
                        ratio_text(r)
                    );
                }
                Outcome::Throughput(t) => {
                    let _ = writeln!(
                        out,
                        "  {:<46} {:>9} {:>9.3} {:>9}  {}",
                        r.title,
                        fmt_rate(t.msgs_per_sec),
                        t.gb_per_sec,
                        t.messages,
                        ratio_text(r)
                    );
                }
                Outcome::Cost(c) => {
                    let _ = writeln!(out, "  {:<46} {}", r.title, cost_text(c));
                }
                Outcome::Error { message } => {
                    let _ = writeln!(out, "  {:<46} FAILED: {message}", r.title);
                }
            }
        }
    }
    if let Some(l) = report
        .results
        .iter()
        .find(|r| r.key == HEADLINE)
        .and_then(CaseResult::latency)
    {
        let _ = writeln!(
            out,
            "\nHISTOGRAM  memlink spin 64 B, one-way (round trip / 2)"
        );
        out.push_str(&histogram_text(l));
    }
    if report
        .results
        .iter()
        .any(|r| r.throughput().is_some() || r.latency().is_some())
    {
        let _ = writeln!(out, "\nTARGETS  (reported, not asserted)");
        for t in &report.targets {
            let measured = t.ratio.map_or("n/a".into(), |r| format!("{r:.2}"));
            let _ = writeln!(
                out,
                "  {:<4}  {:<58} {:>7} {} {}",
                t.status, t.what, measured, t.comparison, t.limit
            );
        }
    }
    out
}

/// The watch cost in words: its median and range over the rounds, the
/// noise the rounds measured, and whether the cost is above it.
fn cost_text(c: &WatchCost) -> String {
    let pct = |x: f64| format!("{:+.2} %", x * 100.0);
    let median_unwatched = {
        let mut u: Vec<f64> = c.rounds.iter().flat_map(|r| [r[0], r[2]]).collect();
        u.sort_by(f64::total_cmp);
        u.get(u.len() / 2).copied().unwrap_or(0.0)
    };
    let paired = format!(
        "paired runs: cost {} (median of {} rounds; middle half {} .. {}, all {} .. {}) at {} \
         msg/s unwatched, noise {:.2} % (median round, unwatched vs unwatched; worst {:.1} %)",
        pct(c.cost),
        c.costs.len(),
        pct(c.cost_q1),
        pct(c.cost_q3),
        pct(c.cost_min),
        pct(c.cost_max),
        fmt_rate(median_unwatched),
        c.noise_bound * 100.0,
        c.noise_max * 100.0,
    );
    let local = match (c.local_cost, c.local_noise) {
        (Some(cost), Some(noise)) => {
            let losses = sorted_copy(&c.sample_losses);
            format!(
                "around each sample (10 ms windows against those beside): cost {} (mean of {} \
                 samples, {} .. {}), noise {:.3} % (90th percentile of {} sample-free times)",
                pct(cost),
                losses.len(),
                pct(losses[0]),
                pct(losses[losses.len() - 1]),
                noise * 100.0,
                c.phantom_losses.len(),
            )
        }
        _ => "around each sample: not measured (no sample inside a run's measured time)".into(),
    };
    let resolved = match (c.local_cost, c.local_noise) {
        (Some(cost), Some(noise)) => cost.abs() > noise,
        _ => !c.below_noise,
    };
    format!(
        "{paired}; {local}; sampler busy {:.4} % of a core; {}",
        c.sampler_share * 100.0,
        if resolved {
            format!("at most {:.3} %", c.upper_bound() * 100.0)
        } else {
            format!(
                "below the noise: not resolved, at most {:.3} %",
                c.upper_bound() * 100.0
            )
        }
    )
}

fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// A small text histogram: one line per bucket up to the 99.9th
/// percentile, the rest summed on a last line.
fn histogram_text(l: &Latency) -> String {
    let mut out = String::new();
    let total: u64 = l.buckets.iter().map(|b| b.1).sum();
    if total == 0 {
        return out;
    }
    let peak = l.buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let mut seen = 0u64;
    let mut lower = 0.0;
    for (i, &(upper, count)) in l.buckets.iter().enumerate() {
        if seen as f64 >= total as f64 * 0.999 && i + 1 < l.buckets.len() {
            let rest = total - seen;
            let _ = writeln!(
                out,
                "  > {:>9}            {:>9}  (up to {})",
                fmt_ns(lower),
                rest,
                fmt_ns(l.max)
            );
            break;
        }
        seen += count;
        let bar = ((count as f64 / peak as f64) * 40.0).round() as usize;
        let _ = writeln!(
            out,
            "  {:>9} .. {:>9} {:>9}  {}",
            fmt_ns(lower),
            fmt_ns(upper),
            count,
            "#".repeat(bar.max(usize::from(count > 0)))
        );
        lower = upper;
    }
    out
}

/// The 1-minute load average.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Today's UTC date (days since the epoch to a civil date, after Howard
/// Hinnant's algorithm), to avoid a date crate for one line.
fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_pass_fail_and_skip() {
        let mut p = HashMap::new();
        p.insert("lat.memlink.spin.64B".to_string(), 1.4);
        p.insert("lat.memlink.default.64B".to_string(), 2.5);
        let t = targets(&p);
        assert_eq!(t[0].status, "PASS");
        assert_eq!(t[1].status, "FAIL");
        assert_eq!(t[2].status, "SKIP");
    }

    fn row(key: &str, outcome: Outcome) -> CaseResult {
        CaseResult {
            key: key.into(),
            title: key.into(),
            section: Section::Latency,
            compare: None,
            ratio: None,
            ratios: Vec::new(),
            runs: Vec::new(),
            outcome,
        }
    }

    fn report_with_a_failure() -> Report {
        let latency = Latency {
            p50: 100.0,
            p99: 200.0,
            p999: 300.0,
            max: 400.0,
            mean: 110.0,
            samples: 10,
            buckets: vec![(100.0, 10)],
        };
        let results = vec![
            row("lat.raw", Outcome::Latency(latency)),
            row(
                "lat.memlink.spin.64B",
                Outcome::Error {
                    message: "the other process stopped answering".into(),
                },
            ),
            row(
                "tput.memcpy.1MiB",
                Outcome::Throughput(Throughput::new(
                    5,
                    1 << 20,
                    std::time::Duration::from_millis(1),
                )),
            ),
        ];
        Report::new(
            Budget::smoke(),
            Placement::unpinned(2, "not pinned (test)".into()),
            results,
            None,
        )
    }

    #[test]
    fn json_keeps_every_case_and_marks_failures() {
        let report = report_with_a_failure();
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&report).expect("serialises"))
                .expect("valid JSON");
        let results = json["results"].as_array().expect("results");
        let kinds: Vec<_> = results
            .iter()
            .map(|r| (r["key"].as_str(), r["outcome"]["kind"].as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Some("lat.raw"), Some("latency")),
                (Some("lat.memlink.spin.64B"), Some("error")),
                (Some("tput.memcpy.1MiB"), Some("throughput")),
            ]
        );
        assert_eq!(
            results[1]["outcome"]["message"],
            "the other process stopped answering"
        );
        assert_eq!(results[0]["outcome"]["p50"], 100.0);
        assert_eq!(report.failed(), ["lat.memlink.spin.64B"]);
    }

    #[test]
    fn table_marks_failures() {
        let text = table(&report_with_a_failure());
        assert!(
            text.contains("lat.memlink.spin.64B")
                && text.contains("FAILED: the other process stopped answering"),
            "{text}"
        );
        assert!(text.contains("lat.raw"), "{text}");
    }

    #[test]
    fn date_is_plausible() {
        let d = utc_date();
        assert_eq!(d.len(), 10);
        assert!(d.as_str() > "2024-01-01", "{d}");
    }
}
