//! The park protocol of a wake line (`layout::WakeLine`): how a waiter goes
//! to sleep without missing the publication that should wake it.
//!
//! ```text
//! waiter (park_unless)                   waker (after a SeqCst publication)
//!   parked += 1            (SeqCst)        header or head = new (SeqCst)
//!   fence                  (SeqCst)        if parked != 0      (SeqCst)
//!   seen = futex           (Acquire)           futex += 1      (Release)
//!   look at the ring once more                 wake every sleeper on futex
//!   sleep while futex == seen
//!   parked -= 1            (SeqCst)
//! ```
//!
//! Of the waiter's count and the waker's publication, at least one sees the
//! other: either the waker sees `parked != 0` and wakes, or the waiter's
//! last look sees the publication and does not sleep. The last look loads
//! with Acquire, which is not in the `SeqCst` order: the fence keeps it
//! after the count (without it, a lost wake-up: the mutation
//! `park_without_fence`, which `tests/loom_ring.rs` requires loom to catch).
//! A wake between the look and the sleep is not lost either: it moved
//! `futex` past `seen`, and the futex sleeps only while the word is `seen`.
//!
//! Generic over the atomics and the futex ([`super::sync_prims`]), so that
//! loom runs this very code.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::sync_prims::{mutated, Futex, Mutation, Word32};

/// Wakes every waiter sleeping on a line's `futex` word.
#[inline]
pub fn wake<W: Word32, F: Futex<W>>(futex_impl: &F, futex: &W) {
    // Release: a waiter that sees the new word also sees what we did
    // before (its own look at the ring does not rely on it).
    futex.fetch_add(1, Ordering::Release);
    futex_impl.wake_all(futex);
}

/// The waker's side, right after a `SeqCst` publication: wakes the line's
/// waiters if any counted itself parked. One load when nobody waits.
#[inline]
pub fn wake_if_parked<W: Word32, F: Futex<W>>(futex_impl: &F, parked: &W, futex: &W) {
    // SeqCst: after the publication in the single total order (see the
    // module docs).
    if parked.load(Ordering::SeqCst) != 0 {
        wake(futex_impl, futex);
    }
}

/// The waiter's side: counts itself parked on the line, looks once more
/// with `ready`, and unless that found something sleeps until woken or
/// `sleep_until` (`None`: look only, do not sleep). Returns what `ready`
/// found.
#[inline]
pub fn park_unless<W: Word32, F: Futex<W>, T>(
    futex_impl: &F,
    parked: &W,
    futex: &W,
    sleep_until: Option<Instant>,
    ready: impl FnOnce() -> Option<T>,
) -> Option<T> {
    parked.fetch_add(1, Ordering::SeqCst);
    if !mutated(Mutation::ParkWithoutFence) {
        W::fence(Ordering::SeqCst);
    }
    let seen = futex.load(Ordering::Acquire);
    let value = ready();
    if value.is_none() {
        if let Some(until) = sleep_until {
            futex_impl.wait_while(futex, seen, Some(until));
        }
    }
    parked.fetch_sub(1, Ordering::SeqCst);
    value
}
