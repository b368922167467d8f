//! How long each case warms up and measures, and how often it repeats.

use std::time::Duration;

/// Time given to each case. Cases run by time, not by count, so that a slow
/// transport (futex wake-ups of tens of µs) and a fast one (cache-line
/// round trips of about 100 ns) both get a stable sample in the same run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Budget {
    /// Name of the budget, as printed.
    pub name: &'static str,
    /// Run before measuring: page faults, cache and branch-predictor warm-up,
    /// CPU frequency ramp.
    #[serde(serialize_with = "as_secs")]
    pub warmup: Duration,
    /// Measured time per repetition.
    #[serde(serialize_with = "as_secs")]
    pub measure: Duration,
    /// Repetitions of each case; the median one is reported.
    pub repeat: u32,
    /// Iterations of each setup-cost measurement (create, open, map).
    pub setup_iterations: u32,
    /// Rounds of the paired watch-cost case (each: unwatched, watched,
    /// unwatched).
    pub watch_rounds: u32,
    /// Measured time of each run of the paired watch-cost case: long
    /// enough for a sampler at 1 Hz to sample twice during it (once a
    /// second, as `memlink watch` does), each sample with room on both
    /// sides for the measure around it; short enough for many rounds.
    #[serde(serialize_with = "as_secs")]
    pub watch_measure: Duration,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Budget {
    /// The default run: a few minutes in all.
    pub fn full() -> Budget {
        Budget {
            name: "full",
            warmup: Duration::from_millis(300),
            measure: Duration::from_secs(1),
            repeat: 3,
            setup_iterations: 300,
            watch_rounds: 9,
            watch_measure: Duration::from_secs(2),
        }
    }

    /// `--quick`: under a minute in all.
    pub fn quick() -> Budget {
        Budget {
            name: "quick",
            warmup: Duration::from_millis(50),
            measure: Duration::from_millis(250),
            repeat: 1,
            setup_iterations: 100,
            watch_rounds: 3,
            watch_measure: Duration::from_secs(2),
        }
    }

    /// `--smoke`: every case runs a handful of iterations; the figures mean
    /// nothing, only that everything works.
    pub fn smoke() -> Budget {
        Budget {
            name: "smoke",
            warmup: Duration::from_millis(1),
            measure: Duration::from_millis(5),
            repeat: 1,
            setup_iterations: 3,
            watch_rounds: 1,
            watch_measure: Duration::from_millis(5),
        }
    }

    /// The same budget with another repetition count.
    pub fn with_repeat(mut self, repeat: u32) -> Budget {
        self.repeat = repeat;
        self
    }
}
