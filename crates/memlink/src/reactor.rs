//! The reactor behind the async faces (`Receiver::recv_async`,
//! `Sender::send_async`, `NamedEvent::wait_async`): one thread per process,
//! started by the first future that has to wait, that sleeps on the shared
//! words of every pending future at once and wakes each future's [`Waker`]
//! when its word moves. Runtime-agnostic: any executor's waker works, and
//! nothing here spawns tasks or needs a runtime.
//!
//! # Protocol
//!
//! A future that finds nothing to do *arms*: it makes itself known to the
//! wakers of its word (a channel's line: counted as parked; an event:
//! registered as a waiter), reads the word, looks once more, and only then
//! hands `(word, value seen, waker)` to the reactor ([`register`]). The
//! reactor sleeps while every word holds the value its future saw (the
//! kernel compares and sleeps atomically: one `futex_waitv` on Linux, one
//! `WaitForMultipleObjects` over the words' semaphores on Windows), so a
//! wake-up after the arming cannot be lost: it changes the word first. The
//! reactor's own doorbell, a [`sys::LocalBell`], is in the same sleep (one
//! more word on Unix, an auto-reset event on Windows), so a new
//! registration interrupts it.
//!
//! A peer killed with `kill -9` moves no word: every liveness slice (40
//! ms) the reactor asks each pending watch whether it lost its peers, and
//! wakes the futures that did, whose next poll reports the disconnection.
//!
//! When nothing is pending the thread sleeps on the doorbell alone, with no
//! timeout: an idle reactor costs no CPU. While futures are pending it
//! sleeps until a word moves, the doorbell rings, or the next liveness
//! slice. Where the OS cannot sleep on several words at once (macOS, Linux
//! before 5.16; on Windows, more than 63 pending futures or a word outside
//! a shared view) it looks at the words every millisecond while futures
//! are pending (see `sys::wait_on_any_by_polling`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::sys;

/// How often pending watches are asked whether their peers died.
const LIVENESS_SLICE: Duration = Duration::from_millis(40);

/// A shared word a future waits on, kept alive (with its mapping) for as
/// long as the reactor may sleep on it.
pub(crate) trait Watch: Send + Sync {
    /// The word whose change means "look again".
    fn word(&self) -> &AtomicU32;
    /// Whether the peers that would move the word are gone (asked once a
    /// liveness slice; may make system calls).
    fn peers_lost(&self) -> bool {
        false
    }
}

/// Names one registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Id(u64);

struct Entry {
    watch: Arc<dyn Watch>,
    seen: u32,
    waker: Waker,
}

#[derive(Default)]
struct Pending {
    entries: HashMap<Id, Entry>,
    next: u64,
}

struct Reactor {
    pending: Mutex<Pending>,
    /// Rung by every registration.
    doorbell: sys::LocalBell,
}

impl Reactor {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // The reactor's state stays consistent across a panic (entries are
        // inserted and removed whole): go on with it.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ring(&self) {
        // After the entry is in: a reactor that took its mark before this
        // ring returns from its wait and takes a new snapshot with it.
        self.doorbell.ring();
    }

    /// The reactor thread.
    fn run(&self) {
        let mut snapshot: Vec<(Id, Arc<dyn Watch>, u32)> = Vec::new();
        let mut wake: Vec<Waker> = Vec::new();
        // When pending watches are next asked about their peers: kept across
        // wake-ups, so that a stream of registrations (each rings the
        // doorbell) cannot put the liveness looks off for ever.
        let mut next_look = Instant::now() + LIVENESS_SLICE;
        loop {
            let mark = self.doorbell.mark();
            snapshot.clear();
            snapshot.extend(
                self.lock()
                    .entries
                    .iter()
                    .map(|(id, e)| (*id, Arc::clone(&e.watch), e.seen)),
            );
            let words: Vec<(&AtomicU32, u32)> = snapshot
                .iter()
                .map(|(_, w, seen)| (w.word(), *seen))
                .collect();
            if snapshot.is_empty() {
                self.doorbell.wait(mark, &[], None);
                next_look = Instant::now() + LIVENESS_SLICE;
            } else {
                self.doorbell.wait(mark, &words, Some(next_look));
            }
            drop(words);
            let now = Instant::now();
            let slice_passed = now >= next_look;
            if slice_passed {
                next_look = now + LIVENESS_SLICE;
            }
            // Liveness looks make system calls: outside the lock, so that
            // registering never waits for them.
            snapshot.retain(|(_, watch, seen)| {
                // Acquire: pairs with the wakers' Release bump of the word;
                // the future re-checks its condition anyway.
                watch.word().load(Ordering::Acquire) != *seen
                    || (slice_passed && watch.peers_lost())
            });
            if !snapshot.is_empty() {
                let mut pending = self.lock();
                for (id, _, _) in &snapshot {
                    if let Some(entry) = pending.entries.remove(id) {
                        wake.push(entry.waker);
                    }
                }
            }
            // Outside the lock: a waker may poll its future at once.
            for waker in wake.drain(..) {
                waker.wake();
            }
        }
    }
}

static REACTOR: OnceLock<Option<&'static Reactor>> = OnceLock::new();

/// The reactor, started on first use; `None` if its thread could not be
/// started (the process is out of threads), which every later call reports
/// too.
fn reactor() -> Option<&'static Reactor> {
    *REACTOR.get_or_init(|| {
        let reactor: &'static Reactor = Box::leak(Box::new(Reactor {
            pending: Mutex::new(Pending::default()),
            doorbell: sys::LocalBell::new(),
        }));
        std::thread::Builder::new()
            .name("memlink-reactor".into())
            .spawn(move || reactor.run())
            .ok()
            .map(|_| reactor)
    })
}

/// Asks the reactor to wake `waker` once `watch`'s word no longer holds
/// `seen` (or its peers are lost). The caller armed first (see the module
/// docs). Fails only if the reactor's thread cannot be started.
pub(crate) fn register(watch: Arc<dyn Watch>, seen: u32, waker: Waker) -> std::io::Result<Id> {
    let reactor = reactor().ok_or_else(|| {
        std::io::Error::other("the reactor thread for async waits could not be started")
    })?;
    let id = {
        let mut pending = reactor.lock();
        let id = Id(pending.next);
        pending.next += 1;
        pending.entries.insert(id, Entry { watch, seen, waker });
        id
    };
    reactor.ring();
    Ok(id)
}

/// Forgets a registration (the future was polled again or dropped).
/// Returns whether it was still pending (not woken yet).
pub(crate) fn cancel(id: Id) -> bool {
    REACTOR
        .get()
        .copied()
        .flatten()
        .is_some_and(|r| r.lock().entries.remove(&id).is_some())
}

/// Replaces the waker of a registration still pending; `false` when it has
/// fired (or was cancelled) already.
pub(crate) fn update(id: Id, waker: &Waker) -> bool {
    let Some(reactor) = REACTOR.get().copied().flatten() else {
        return false;
    };
    match reactor.lock().entries.get_mut(&id) {
        Some(entry) => {
            if !entry.waker.will_wake(waker) {
                entry.waker = waker.clone();
            }
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    struct Word(AtomicU32);
    impl Watch for Word {
        fn word(&self) -> &AtomicU32 {
            &self.0
        }
    }

    struct Flag(AtomicBool, std::thread::Thread);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
            self.1.unpark();
        }
    }

    fn woken(flag: &Flag) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !flag.0.load(Ordering::SeqCst) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::park_timeout(Duration::from_millis(50));
        }
        true
    }

    #[test]
    fn a_moved_word_wakes_its_waker_once_and_a_cancelled_one_never() {
        let word = Arc::new(Word(AtomicU32::new(7)));
        let flag = Arc::new(Flag(AtomicBool::new(false), std::thread::current()));
        let id = register(word.clone(), 7, Waker::from(flag.clone())).unwrap();
        assert!(update(id, &Waker::from(flag.clone())));
        word.0.store(8, Ordering::Release);
        sys::wake_all(&word.0);
        assert!(woken(&flag));
        assert!(!cancel(id), "it fired, so it is gone");
        assert!(!update(id, &Waker::from(flag.clone())));

        // Registered with a stale value: fires at once.
        let stale = Arc::new(Flag(AtomicBool::new(false), std::thread::current()));
        let id = register(word.clone(), 7, Waker::from(stale.clone())).unwrap();
        assert!(woken(&stale));
        assert!(!cancel(id));

        let never = Arc::new(Flag(AtomicBool::new(false), std::thread::current()));
        let id = register(word.clone(), 8, Waker::from(never.clone())).unwrap();
        assert!(cancel(id));
        word.0.store(9, Ordering::Release);
        sys::wake_all(&word.0);
        // A later registration on the same word fires; the cancelled one
        // did not.
        let later = Arc::new(Flag(AtomicBool::new(false), std::thread::current()));
        register(word.clone(), 8, Waker::from(later.clone())).unwrap();
        assert!(woken(&later));
        assert!(!never.0.load(Ordering::SeqCst));
    }
}
