//! Timing loops and their summaries: round-trip histograms for latency,
//! counted streams for throughput.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::budget::Budget;
use crate::error::Result;

/// Largest round trip the histograms hold (60 s): anything longer is
/// clamped, and would mean the case is broken anyway.
const MAX_NS: u64 = 60_000_000_000;

/// Latency percentiles of one case, one-way (half the round trip), in ns.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Latency {
    /// Median one-way latency.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Round trips measured.
    pub samples: u64,
    /// The one-way distribution, for the text histogram: `(upper bound ns,
    /// count)` per logarithmic bucket.
    #[serde(skip)]
    pub buckets: Vec<(f64, u64)>,
}

impl Latency {
    /// Summarises a histogram of round trips (ns) as one-way figures.
    pub fn from_round_trips(h: &Histogram<u64>) -> Latency {
        let half = |v: u64| v as f64 / 2.0;
        let mut buckets = Vec::new();
        // Buckets of a factor of 1.25 from the smallest sample up: fine
        // enough to show the shape, few enough to print.
        let mut upper = (h.min().max(1) as f64 * 1.25).ceil() as u64;
        let mut below = 0;
        while below < h.len() {
            let upper_clamped = upper.min(h.max());
            let count = h.count_between(0, upper_clamped) - below;
            buckets.push((half(upper_clamped), count));
            below += count;
            if upper_clamped == h.max() {
                break;
            }
            upper = ((upper as f64) * 1.25).ceil() as u64 + 1;
        }
        Latency {
            p50: half(h.value_at_quantile(0.50)),
            p99: half(h.value_at_quantile(0.99)),
            p999: half(h.value_at_quantile(0.999)),
            max: half(h.max()),
            mean: h.mean() / 2.0,
            samples: h.len(),
            buckets,
        }
    }

    /// Summarises plain durations (ns) that are not round trips.
    pub fn from_durations(h: &Histogram<u64>) -> Latency {
        Latency {
            p50: h.value_at_quantile(0.50) as f64,
            p99: h.value_at_quantile(0.99) as f64,
            p999: h.value_at_quantile(0.999) as f64,
            max: h.max() as f64,
            mean: h.mean(),
            samples: h.len(),
            buckets: Vec::new(),
        }
    }
}

/// A histogram for nanosecond values, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("static histogram bounds are valid")
}

/// Runs `round` (one round trip) for the warm-up, then for the measured
/// time, recording each round trip. One clock read per round: the time
/// between consecutive reads is one round trip plus one clock read (about
/// 20 ns with the TSC), the same overhead for every case.
pub(crate) fn round_trips(
    budget: &Budget,
    mut round: impl FnMut() -> Result<()>,
) -> Result<Histogram<u64>> {
    let start = Instant::now();
    while start.elapsed() < budget.warmup {
        round()?;
    }
    let mut h = histogram();
    let mut before = Instant::now();
    let end = before + budget.measure;
    // At least a few rounds even in the smoke budget.
    let mut rounds = 0u64;
    loop {
        round()?;
        let now = Instant::now();
        let ns = now.duration_since(before).as_nanos() as u64;
        h.saturating_record(ns.clamp(1, MAX_NS));
        before = now;
        rounds += 1;
        if now >= end && rounds >= 8 {
            break;
        }
    }
    Ok(h)
}

/// One-way throughput of a case.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Throughput {
    /// Messages per second.
    pub msgs_per_sec: f64,
    /// Payload bytes per second, in GB/s (10^9).
    pub gb_per_sec: f64,
    /// Messages measured.
    pub messages: u64,
    /// Message size in bytes.
    pub size: usize,
    /// Measured time, in seconds.
    pub seconds: f64,
}

impl Throughput {
    pub fn new(messages: u64, size: usize, elapsed: Duration) -> Throughput {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Throughput {
            msgs_per_sec: messages as f64 / secs,
            gb_per_sec: messages as f64 * size as f64 / secs / 1e9,
            messages,
            size,
            seconds: secs,
        }
    }
}

/// Streams messages: `send(seq)` sends message number `seq`, first for the
/// warm-up, then for the measured time. The caller then tells the receiver
/// to stop, waits until it has received everything
/// ([`Streamed::total`] messages) and calls [`Streamed::done`]. Throughput
/// counts the measured messages over the time from the end of the warm-up
/// to the receiver's confirmation, so a receiver that lags behind is charged
/// for it.
pub(crate) fn stream(
    budget: &Budget,
    size: usize,
    mut send: impl FnMut(u64) -> Result<()>,
) -> Result<Streamed> {
    // Look at the clock about every 64 KiB sent, at most every 256
    // messages: often enough to stop on time, rarely enough not to matter.
    let check_every = (65536 / size.max(1)).clamp(1, 256) as u64;
    let mut seq = 0u64;
    let start = Instant::now();
    loop {
        send(seq)?;
        seq += 1;
        if seq.is_multiple_of(check_every) && start.elapsed() >= budget.warmup {
            break;
        }
    }
    let warm = seq;
    let t0 = Instant::now();
    let end = t0 + budget.measure;
    loop {
        send(seq)?;
        seq += 1;
        if seq.is_multiple_of(check_every) && Instant::now() >= end {
            break;
        }
    }
    Ok(Streamed {
        t0,
        total: seq,
        measured: seq - warm,
        size,
    })
}

/// A stream whose sending is over, waiting for the receiver's confirmation.
pub(crate) struct Streamed {
    t0: Instant,
    /// Messages sent in all, warm-up included.
    pub total: u64,
    measured: u64,
    size: usize,
}

impl Streamed {
    /// The throughput, once the receiver confirmed everything.
    pub fn done(self) -> Throughput {
        Throughput::new(self.measured, self.size, self.t0.elapsed())
    }
}

/// Formats nanoseconds with a unit that keeps three or four digits.
pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// Formats a rate with a metric suffix.
pub(crate) fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e9 {
        format!("{:.2} G", per_sec / 1e9)
    } else if per_sec >= 1e6 {
        format!("{:.2} M", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_way_is_half_the_round_trip() {
        let mut h = histogram();
        for v in [100, 200, 300, 400] {
            h.record(v).unwrap();
        }
        let l = Latency::from_round_trips(&h);
        assert!((l.p50 - 100.0).abs() < 1.0, "{}", l.p50);
        assert_eq!(l.samples, 4);
        assert_eq!(l.buckets.iter().map(|b| b.1).sum::<u64>(), 4);
    }

    #[test]
    fn throughput_arithmetic() {
        let t = Throughput::new(1000, 1000, Duration::from_millis(1));
        assert!((t.msgs_per_sec - 1e6).abs() < 1.0);
        assert!((t.gb_per_sec - 1.0).abs() < 1e-6);
    }
}
