//! What `memlink watch` costs the senders of 16 busy channels (issue 15's
//! "< 2 %"), measured so that the run's own noise is measured with it.
//!
//! One round is three runs of [`waitset::watch_cost`] back to back: not
//! watched, watched at 1 Hz (watch's rate), not watched again. The round's
//! cost is `1 - watched / mean(unwatched)`: the two unwatched runs around
//! the watched one cancel a drift that is linear over the round. Its noise
//! is `1 - second unwatched / first unwatched`: the same comparison between
//! two runs that differ in nothing, so a cost smaller than the largest noise
//! of the rounds is not distinguishable from none. The sampler also reports
//! its own busy time, the direct bound: at 1 Hz it takes a few hundred
//! microseconds a second of the core it shares with the receivers.

use std::time::Duration;

use crate::budget::Budget;
use crate::error::Result;
use crate::harness::Ctx;
use crate::waitset;

/// `memlink watch`'s sampling rate.
pub(crate) const WATCH_CLI_HZ: u32 = 1;

/// The paired watch-cost case's result.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct WatchCost {
    /// The sampler's rate.
    pub hz: u32,
    /// Messages per second of each round's runs: unwatched, watched,
    /// unwatched.
    pub rounds: Vec<[f64; 3]>,
    /// Each round's cost (a fraction of the unwatched throughput; negative:
    /// the watched run was faster).
    pub costs: Vec<f64>,
    /// Each round's noise (the same fraction between its two unwatched
    /// runs).
    pub noises: Vec<f64>,
    /// The median cost over the rounds.
    pub cost: f64,
    /// The smallest and largest cost of a round.
    pub cost_min: f64,
    pub cost_max: f64,
    /// The largest |noise| of a round: the smallest cost this run can tell
    /// from none.
    pub noise_bound: f64,
    /// The sampler's busy time over the watched runs' time: the share of
    /// one core it took.
    pub sampler_share: f64,
    /// Samples taken over all watched runs.
    pub samples: u64,
    /// `|cost| <= noise_bound`.
    pub below_noise: bool,
}

impl WatchCost {
    /// The watched throughput as a fraction of the unwatched (the median
    /// cost's complement).
    pub fn kept(&self) -> f64 {
        1.0 - self.cost
    }

    /// The most the cost can be, as far as this run can tell: the median
    /// cost (a negative one counted as none) plus the noise bound. The
    /// target is checked against this, so that a noisy run cannot pass it
    /// by luck.
    pub fn upper_bound(&self) -> f64 {
        self.cost.max(0.0) + self.noise_bound
    }
}

/// Runs `ctx.budget.watch_rounds` rounds of `ctx.budget.watch_measure`
/// each run, the sampler at `hz`.
pub(crate) fn paired(ctx: &Ctx, hz: u32) -> Result<WatchCost> {
    let budget = Budget {
        measure: ctx.budget.watch_measure,
        ..*ctx.budget
    };
    let ctx = Ctx {
        budget: &budget,
        placement: ctx.placement,
    };
    let mut rounds = Vec::new();
    let mut busy = Duration::ZERO;
    let mut watched_time = 0.0;
    let mut samples = 0;
    for _ in 0..budget.watch_rounds.max(1) {
        let (before, _) = waitset::watch_cost(&ctx, None)?;
        let (watched, sampled) = waitset::watch_cost(&ctx, Some(hz))?;
        let (after, _) = waitset::watch_cost(&ctx, None)?;
        let sampled = sampled.ok_or("the watched run has no sampler report")?;
        busy += sampled.busy;
        samples += sampled.samples;
        watched_time += watched.seconds;
        rounds.push([
            before.msgs_per_sec,
            watched.msgs_per_sec,
            after.msgs_per_sec,
        ]);
    }
    Ok(summarise(hz, rounds, busy, watched_time, samples))
}

fn summarise(
    hz: u32,
    rounds: Vec<[f64; 3]>,
    busy: Duration,
    watched_time: f64,
    samples: u64,
) -> WatchCost {
    let costs: Vec<f64> = rounds
        .iter()
        .map(|[a, b, c]| 1.0 - b / ((a + c) / 2.0))
        .collect();
    let noises: Vec<f64> = rounds.iter().map(|[a, _, c]| 1.0 - c / a).collect();
    let mut sorted = costs.clone();
    sorted.sort_by(f64::total_cmp);
    let cost = sorted[sorted.len() / 2];
    let noise_bound = noises.iter().map(|n| n.abs()).fold(0.0, f64::max);
    WatchCost {
        hz,
        cost,
        cost_min: sorted[0],
        cost_max: sorted[sorted.len() - 1],
        noise_bound,
        sampler_share: busy.as_secs_f64() / watched_time.max(1e-9),
        samples,
        below_noise: cost.abs() <= noise_bound,
        rounds,
        costs,
        noises,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cost_inside_the_unwatched_spread_is_below_noise() {
        // Unwatched 100 then 96 (4 % noise); watched 97.02: 1 % cost.
        let c = summarise(1, vec![[100.0, 97.02, 96.0]], Duration::ZERO, 1.0, 1);
        assert!((c.cost - 0.01).abs() < 1e-9, "{c:?}");
        assert!((c.upper_bound() - 0.05).abs() < 1e-9, "{c:?}");
        assert!((c.noise_bound - 0.04).abs() < 1e-9, "{c:?}");
        assert!(c.below_noise);
    }

    #[test]
    fn a_cost_beyond_the_noise_is_reported_as_one() {
        // Unwatched 100 and 100; watched 90: 10 % cost, no noise.
        let c = summarise(
            1,
            vec![
                [100.0, 90.0, 100.0],
                [100.0, 80.0, 101.0],
                [99.0, 95.0, 99.0],
            ],
            Duration::from_millis(3),
            3.0,
            3,
        );
        assert!((c.cost - 0.1).abs() < 1e-9, "{c:?}");
        assert!(c.cost_max > 0.2 && c.cost_min < 0.05, "{c:?}");
        assert!(!c.below_noise);
        assert!((c.sampler_share - 0.001).abs() < 1e-9);
        assert!((c.kept() - 0.9).abs() < 1e-9);
    }
}
