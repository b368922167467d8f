//! The one spin / back-off policy of the crate.
//!
//! A waiter that expects its condition soon first spins (a CPU pause per
//! round, no system call), then yields its time slice, and then either
//! parks in the kernel (the caller's own futex or event: [`Backoff::snooze`]
//! says when) or, for the short moments in which another process holds a
//! name, sleeps a little longer each round ([`Backoff::wait`]). How many
//! rounds of each a caller allows is its [`Limits`], named where they are
//! chosen.
//!
//! A round costs a compare and an add: no clock read, no call, so it may
//! stand on a hot path.

use std::time::Duration;

/// How many rounds a [`Backoff`] spins and then yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Rounds with a CPU pause (`spin_loop`).
    pub spins: u32,
    /// Rounds after those that yield the CPU; [`UNLIMITED`]: yield forever.
    pub yields: u32,
}

/// Yield for ever (the caller has no kernel object to park on).
pub(crate) const UNLIMITED: u32 = u32::MAX;

impl Limits {
    /// For waits on another process's short, exclusive moments (a name
    /// being removed or initialised): no spinning, a few yields, then
    /// [`Backoff::wait`] sleeps from 1.6 ms, doubling up to 51.2 ms.
    pub(crate) const SETTLING: Limits = Limits {
        spins: 0,
        yields: 4,
    };
}

/// The rounds of one wait: create one per wait, call it once per failed
/// attempt.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    limits: Limits,
    /// Rounds taken so far (saturating).
    step: u32,
}

impl Default for Backoff {
    /// [`Limits::SETTLING`].
    fn default() -> Backoff {
        Backoff::new(Limits::SETTLING)
    }
}

impl Backoff {
    /// A fresh wait under `limits`.
    #[inline]
    pub(crate) const fn new(limits: Limits) -> Backoff {
        Backoff { limits, step: 0 }
    }

    /// Rounds taken so far.
    #[inline]
    pub(crate) fn rounds(&self) -> u32 {
        self.step
    }

    /// One round: a CPU pause while within `spins`, then a yield while
    /// within `yields`. Returns `false`, doing nothing, once both are used
    /// up: time for the caller to park.
    #[inline]
    pub(crate) fn snooze(&mut self) -> bool {
        let step = self.step;
        self.step = step.saturating_add(1);
        if step < self.limits.spins {
            std::hint::spin_loop();
            true
        } else if step - self.limits.spins < self.limits.yields {
            std::thread::yield_now();
            true
        } else {
            false
        }
    }

    /// One round that always waits: [`snooze`](Backoff::snooze), and once
    /// that is used up a sleep of 100 µs << round (at most 51.2 ms), for
    /// waits that have no kernel object to park on and are off hot paths.
    // macOS's `open` still polls a busy name every millisecond instead.
    #[cfg_attr(target_os = "macos", allow(dead_code))]
    pub(crate) fn wait(&mut self) {
        let step = self.step;
        if !self.snooze() {
            std::thread::sleep(Duration::from_micros(100 << step.min(9)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_spin_then_yield_then_give_up() {
        let mut backoff = Backoff::new(Limits {
            spins: 3,
            yields: 2,
        });
        let taken: Vec<bool> = (0..7).map(|_| backoff.snooze()).collect();
        assert_eq!(taken, [true, true, true, true, true, false, false]);
        assert_eq!(backoff.rounds(), 7);
    }

    #[test]
    fn unlimited_yields_never_give_up_and_rounds_saturate() {
        let mut backoff = Backoff::new(Limits {
            spins: 1,
            yields: UNLIMITED,
        });
        backoff.step = u32::MAX - 1;
        assert!(backoff.snooze());
        assert!(backoff.snooze());
        assert_eq!(backoff.rounds(), u32::MAX);
    }

    #[test]
    fn settling_waits_yield_four_times_then_sleep_longer_each_round() {
        let mut backoff = Backoff::default();
        for _ in 0..4 {
            assert!(backoff.snooze());
        }
        assert!(!backoff.snooze());
        // Round 5 (index 5) sleeps 100 µs << 5 = 3.2 ms.
        let start = std::time::Instant::now();
        backoff.wait();
        assert!(start.elapsed() >= Duration::from_micros(3200));
    }
}
