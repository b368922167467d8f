//! Counted, logged drops: every message a bridge does not deliver is
//! counted under a reason and logged to stderr, at most once a second per
//! reason (with the count since the last line), so a flood cannot drown the
//! log and nothing is lost silently.

use std::time::{Duration, Instant};

/// How often one reason may log.
const EVERY: Duration = Duration::from_secs(1);

/// The drops of one route for one reason.
#[derive(Debug)]
pub struct Tally {
    what: String,
    total: u64,
    unlogged: u64,
    logged_at: Option<Instant>,
    last_detail: String,
}

impl Tally {
    /// A tally named, in the log, by `what` (route and reason).
    pub fn new(what: String) -> Tally {
        Tally {
            what,
            total: 0,
            unlogged: 0,
            logged_at: None,
            last_detail: String::new(),
        }
    }

    /// Counts `n` drops; `detail` says what happened to the last one.
    pub fn add(&mut self, n: u64, detail: impl Into<String>) {
        if n == 0 {
            return;
        }
        self.total += n;
        self.unlogged += n;
        self.last_detail = detail.into();
        let now = Instant::now();
        if self
            .logged_at
            .is_none_or(|at| now.duration_since(at) >= EVERY)
        {
            self.flush_at(now);
        }
    }

    /// Logs what was counted since the last line, if anything.
    pub fn flush(&mut self) {
        self.flush_at(Instant::now());
    }

    fn flush_at(&mut self, now: Instant) {
        if self.unlogged == 0 {
            return;
        }
        crate::log(format_args!(
            "{}: {} dropped ({} in all): {}",
            self.what, self.unlogged, self.total, self.last_detail
        ));
        self.unlogged = 0;
        self.logged_at = Some(now);
    }

    /// How many were dropped in all.
    pub fn total(&self) -> u64 {
        self.total
    }
}
