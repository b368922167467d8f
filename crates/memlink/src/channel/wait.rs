//! Spin-then-park waiting, with deadlines and peer liveness.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::layout::WakeLine;
use super::shared::Channel;

/// How a blocked call waits for its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Busy-poll without ever sleeping: the lowest latency, one core kept
    /// busy while waiting.
    Spin,
    /// Poll for `spin` first, then sleep in the kernel until woken (the
    /// default, with 50 µs of spinning): as fast as spinning while the peer
    /// keeps up, no CPU burnt while it is idle.
    SpinThenPark {
        /// How long to poll before sleeping.
        spin: Duration,
    },
    /// Sleep in the kernel at once: no CPU used while waiting, every wake-up
    /// a system call.
    Park,
}

impl Default for WaitStrategy {
    fn default() -> Self {
        WaitStrategy::SpinThenPark {
            spin: Duration::from_micros(50),
        }
    }
}

/// How long a send, loan or receive may wait: the one parameter that tells
/// the variants of each apart (`send` / `send_timeout` / `try_send`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// As long as it takes.
    Never,
    /// Until this instant.
    At(Instant),
    /// Not at all: only what can be done now.
    Now,
}

impl Deadline {
    /// At most `timeout` from now (as long as it takes if that is beyond
    /// what the clock can say).
    pub(crate) fn after(timeout: Duration) -> Deadline {
        Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Never, Deadline::At)
    }
}

/// How long a parked waiter sleeps before looking at its peers' liveness:
/// a peer killed with `kill -9` cannot wake anyone, so this bounds how late
/// a waiter learns that it is alone.
pub(crate) const LIVENESS_SLICE: Duration = Duration::from_millis(40);

/// The time a wait that started at `started` was allowed, for messages.
pub(crate) fn allowed(started: Instant, deadline: Option<Instant>) -> Duration {
    deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(started))
}

/// Why a wait ended without its condition.
pub(crate) enum Interrupted {
    /// The deadline passed.
    Timeout,
    /// No peer is alive (and one had attached before).
    Disconnected,
}

/// What a waiter needs to know about its side of the channel.
pub(crate) struct Waiter<'a> {
    pub channel: &'a Channel,
    /// The line this side parks on.
    pub line: &'a WakeLine,
    pub strategy: WaitStrategy,
    /// Slots of the peers whose liveness matters.
    pub peers: (u32, u32),
    /// Whether this side has itself seen a peer attached, kept in its own
    /// memory: `peer_ever_attached` lives in the segment, where any process
    /// with write access can clear it. The shared word can only add a
    /// disconnect (a peer that came and went before we attached), never take
    /// away one we saw ourselves.
    pub seen: Cell<bool>,
}

impl Waiter<'_> {
    /// Calls `ready` until it returns `Some`, spinning then parking per the
    /// strategy, until `deadline`. Before reporting `Disconnected`, `ready`
    /// is tried once more, so whatever a departed peer left is still
    /// delivered.
    pub(crate) fn wait<T>(
        &self,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> Option<T>,
    ) -> Result<T, Interrupted> {
        if let Some(value) = ready() {
            return Ok(value);
        }
        let start = Instant::now();
        let spin_for = match self.strategy {
            WaitStrategy::Spin => None,
            WaitStrategy::SpinThenPark { spin } => Some(spin),
            WaitStrategy::Park => Some(Duration::ZERO),
        };
        // Spinning: pure loads, no system calls. The clock is read every 64
        // rounds only. `Park` goes to sleep at once.
        let mut last_probe = start;
        let mut rounds = 0u32;
        while spin_for != Some(Duration::ZERO) {
            if let Some(value) = ready() {
                return Ok(value);
            }
            rounds = rounds.wrapping_add(1);
            std::hint::spin_loop();
            if !rounds.is_multiple_of(64) {
                continue;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Interrupted::Timeout);
            }
            if spin_for.is_some_and(|s| now.duration_since(start) >= s) {
                break;
            }
            if now.duration_since(last_probe) >= LIVENESS_SLICE {
                last_probe = now;
                if self.disconnected() {
                    return ready().ok_or(Interrupted::Disconnected);
                }
            }
        }
        // Parking.
        loop {
            if let Some(value) = self.park_unless(deadline, &mut ready) {
                return Ok(value);
            }
            if let Some(value) = ready() {
                return Ok(value);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Interrupted::Timeout);
            }
            if self.disconnected() {
                return ready().ok_or(Interrupted::Disconnected);
            }
        }
    }

    /// Counts this waiter parked, checks `ready` once more, and sleeps until
    /// woken or the liveness slice (or `deadline`) ends, unless `ready` had
    /// something.
    fn park_unless<T>(
        &self,
        deadline: Option<Instant>,
        ready: &mut impl FnMut() -> Option<T>,
    ) -> Option<T> {
        // The protocol, and why a wake-up is never lost: `park`.
        let mut slice = LIVENESS_SLICE;
        if let Some(d) = deadline {
            slice = slice.min(d.saturating_duration_since(Instant::now()));
        }
        self.channel.park_unless(self.line, slice, ready)
    }

    /// Waits until a peer is attached (one that is attached now counts) or
    /// `also` holds, parking between looks: attaching endpoints wake this
    /// line, and so does every publication.
    pub(crate) fn wait_for_peer(
        &self,
        deadline: Option<Instant>,
        also: impl Fn() -> bool,
    ) -> Result<(), Interrupted> {
        let mut attached =
            || (also() || self.channel.any_alive(self.peers.0, self.peers.1)).then_some(());
        loop {
            if self.park_unless(deadline, &mut attached).is_some() {
                return Ok(());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Interrupted::Timeout);
            }
        }
    }

    /// No peer is attached, and one was before.
    ///
    /// Whether a peer ever attached is read before the liveness check: a
    /// peer sets the flag only once it holds its slot, so a flag seen here
    /// means the check sees that peer, unless it has left since. Read after
    /// the check, the flag of a peer that attached while the check ran
    /// (slow under Wine: a system call per slot) made it look gone.
    pub(crate) fn disconnected(&self) -> bool {
        let ever = self.seen.get() || self.line.peer_ever_attached.load(Ordering::Acquire) != 0;
        if self.channel.any_alive(self.peers.0, self.peers.1) {
            self.seen.set(true);
            return false;
        }
        ever
    }
}
