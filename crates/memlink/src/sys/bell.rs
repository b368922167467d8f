//! A process-local bell that one thread sleeps on together with shared
//! words: the reactor's doorbell (`crate::reactor`), rung by every new
//! registration so that a sleeping reactor looks at its new set of words.
//!
//! The contract, on every OS: [`LocalBell::mark`] before looking at what
//! the bell guards; [`LocalBell::wait`] with that mark returns at once if
//! the bell rang since the mark (a ring is never lost), and otherwise
//! sleeps until it rings, a word moves from its expected value, or the
//! deadline. A ring before the mark may cost one spurious return: callers
//! look again anyway.
//!
//! Here (Linux, macOS) the bell is one more word in the set: a counter that
//! [`LocalBell::ring`] bumps and wakes, waited on with the others in one
//! [`super::wait_on_any`] (one `futex_waitv` on Linux). Windows has its own
//! (`windows/sync.rs`): its shared-word waits sleep on named semaphores,
//! which a process-local word has none of, so its bell is an auto-reset
//! event in the same `WaitForMultipleObjects` set.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// What a sleeper saw of the bell before it looked at what the bell
/// guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BellMark(u32);

/// A bell one thread of this process sleeps on (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct LocalBell {
    /// Bumped by every ring.
    word: AtomicU32,
}

impl LocalBell {
    /// A bell that has not rung.
    pub(crate) fn new() -> LocalBell {
        LocalBell::default()
    }

    /// The bell now, taken before looking at what it guards.
    pub(crate) fn mark(&self) -> BellMark {
        // Acquire: pairs with the Release bump in `ring`, so whoever sees a
        // ring also sees what the ringer wrote before it.
        BellMark(self.word.load(Ordering::Acquire))
    }

    /// Rings: the sleeper (or its next wait) returns.
    pub(crate) fn ring(&self) {
        // Release: pairs with the Acquire load in `mark`.
        self.word.fetch_add(1, Ordering::Release);
        super::wake_all(&self.word);
    }

    /// Sleeps until the bell rang since `mark`, a word of `words` no longer
    /// holds its expected value, or `deadline`; `false` when the deadline
    /// had passed. The caller looks again in any case.
    pub(crate) fn wait(
        &self,
        mark: BellMark,
        words: &[(&AtomicU32, u32)],
        deadline: Option<Instant>,
    ) -> bool {
        if words.is_empty() {
            return super::wait_on(&self.word, mark.0, deadline);
        }
        let all: Vec<(&AtomicU32, u32)> = std::iter::once((&self.word, mark.0))
            .chain(words.iter().copied())
            .collect();
        super::wait_on_any(&all, deadline)
    }
}
