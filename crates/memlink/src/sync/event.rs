//! [`Event`]: a Windows-style event in shared memory, parked on a futex.
//!
//! # The state word
//!
//! | bits    | name       | meaning                                                        |
//! |---------|------------|----------------------------------------------------------------|
//! | 0       | `SIGNALED` | the event is set                                               |
//! | 1       | `PULSE`    | a `notify_one` is pending for one registered waiter            |
//! | 2..=15  | waiters    | threads registered as waiting (in any process), saturating     |
//! | 16..=31 | epoch      | bumped by `notify_all` and by a manual `set` that finds waiters |
//!
//! * **wait**: consumes `SIGNALED` (auto-reset, CAS) or just sees it
//!   (manual-reset); otherwise registers (waiters + 1, remembering the epoch)
//!   and sleeps on the word with the exact value it registered. It is released
//!   by `SIGNALED`, by taking the `PULSE`, or by an epoch different from the
//!   one it registered under; it unregisters in the same CAS. A deadline ends
//!   it with `false`, after one last look at the word.
//! * **set**: `SIGNALED` with a Release RMW; a futex wake (one for auto-reset,
//!   all for manual-reset) only if waiters are registered and the event was
//!   not already set. A manual `set` that finds waiters also bumps the epoch,
//!   so every thread waiting at that moment is released even if `reset`
//!   follows at once (as on Windows).
//! * **notify_one** / **notify_all**: release waiting threads without leaving
//!   the event set (Windows `PulseEvent`): a `PULSE` token for one registered
//!   waiter, or an epoch bump for all of them. No-ops when nobody waits.
//! * **reset**: clears `SIGNALED`.
//!
//! Lost wake-ups cannot happen: a waiter sleeps only if the word still holds
//! the value under which it registered, and every release changes the word
//! before waking (the kernel compares and sleeps atomically).
//!
//! Orderings: the setter's Release RMW pairs with the waiter's Acquire load or
//! CAS that observes the release, so whatever the setter wrote before `set`
//! (or `notify_*`) is visible to the thread that returns `true` because of
//! it. Registration and reset need no ordering of other memory (Relaxed):
//! they only coordinate through this one word, whose modification order every
//! process agrees on.
//!
//! A waiter killed while registered leaves the count one too high: setters
//! then make a wake system call that wakes nobody, and a `PULSE` may later
//! release a thread that started waiting after the `notify_one`. Nothing
//! blocks because of it.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use super::wait::{self, SPIN_THEN_PARK};
use crate::error::Result;
use crate::layout::{self, Event, TAG_EVENT_AUTO, TAG_EVENT_MANUAL};
use crate::mapping::View;
use crate::sys::{self, Backoff};

const SIGNALED: u32 = 1;
const PULSE: u32 = 1 << 1;
const WAITER: u32 = 1 << 2;
const WAITERS_MAX: u32 = 0x3FFF;
const WAITERS_MASK: u32 = WAITERS_MAX << 2;
const EPOCH: u32 = 1 << 16;
const EPOCH_MASK: u32 = 0xFFFF << 16;

/// How long an unregistered waiter (the count is saturated) naps between
/// looks at the word.
const POLL: Duration = Duration::from_millis(2);

fn waiters(state: u32) -> u32 {
    (state & WAITERS_MASK) >> 2
}

/// `state` with one waiter fewer (never below zero, whatever a peer wrote);
/// a pending pulse goes when the last waiter does, so that it cannot release
/// a thread that starts waiting later.
fn unregister(state: u32) -> u32 {
    if waiters(state) == 0 {
        return state & !PULSE;
    }
    let next = state - WAITER;
    if waiters(next) == 0 {
        next & !PULSE
    } else {
        next
    }
}

/// How an [`Event`] behaves once set, as with Windows' `CreateEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `set` releases exactly one waiting thread, or the next thread to
    /// wait if none waits, and the event resets itself as it does.
    AutoReset,
    /// `set` releases every waiting thread, and the event stays set (every
    /// wait returns at once) until `reset`.
    ManualReset,
}

impl EventKind {
    fn tag(self) -> u32 {
        match self {
            EventKind::AutoReset => TAG_EVENT_AUTO,
            EventKind::ManualReset => TAG_EVENT_MANUAL,
        }
    }
}

impl Event {
    /// The size of an event in shared memory, in bytes.
    pub const SIZE: usize = layout::LINE;
    /// The alignment an event needs in memory, in bytes.
    pub const ALIGN: usize = layout::LINE;

    /// Makes the [`Event::SIZE`] bytes at `offset` of `view` a new event,
    /// not set and with no waiters, and returns it.
    ///
    /// The view must be read-write and the address 128-byte aligned.
    /// Initialise once, before other processes attach; re-initialising an
    /// event that threads are waiting on strands them until their deadlines.
    ///
    /// ```
    /// use memlink::{Event, EventKind, Mapping};
    /// # let name = format!("doc-event-init-{}", std::process::id());
    /// let mapping = Mapping::create(&name, 4096)?;
    /// let view = mapping.view_all()?;
    /// let event = Event::init_in(&view, 0, EventKind::ManualReset)?;
    /// event.set();
    /// assert!(event.wait_timeout(std::time::Duration::ZERO));
    /// assert!(event.is_set()); // manual-reset: stays set
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn init_in(view: &View, offset: usize, kind: EventKind) -> Result<&Event> {
        let event = layout::place::<Event>(view, offset, "event")?;
        event.state.store(0, Relaxed);
        // Release: pairs with the Acquire load of the tag in `attach`, so an
        // attacher sees the reset state word.
        event.tag.store(kind.tag(), Release);
        Ok(event)
    }

    /// The event that [`Event::init_in`] made at `offset` of `view` (usually
    /// in another process).
    ///
    /// Fails with [`Error::WrongKind`](crate::Error::WrongKind) if the bytes
    /// there are not an initialised event.
    pub fn attach(view: &View, offset: usize) -> Result<&Event> {
        wait::attach(
            view,
            offset,
            "event",
            // Acquire: pairs with the Release store in `init_in`.
            |e: &Event| e.tag.load(Acquire),
            |tag| tag == TAG_EVENT_AUTO || tag == TAG_EVENT_MANUAL,
        )
    }

    /// Whether the event is auto- or manual-reset. A tag that a peer
    /// overwrote with anything else reads as auto-reset.
    pub fn kind(&self) -> EventKind {
        if self.tag.load(Relaxed) == TAG_EVENT_MANUAL {
            EventKind::ManualReset
        } else {
            EventKind::AutoReset
        }
    }

    /// Sets the event (Windows `SetEvent`).
    ///
    /// Auto-reset: releases one waiting thread, or the next one to wait;
    /// setting an event that is already set does nothing more. Manual-reset:
    /// releases every waiting thread, and every later wait, until
    /// [`reset`](Event::reset). Makes no system call when nobody waits.
    ///
    /// Everything this thread wrote before `set` is visible to the thread
    /// that it releases.
    pub fn set(&self) {
        let manual = self.kind() == EventKind::ManualReset;
        let mut state = self.state.load(Relaxed);
        loop {
            let mut next = state | SIGNALED;
            let wake = state & SIGNALED == 0 && waiters(state) > 0;
            if manual && wake {
                next = next.wrapping_add(EPOCH);
            }
            // Release: pairs with the Acquire load / CAS in `wait` that sees
            // SIGNALED (or the new epoch). An RMW even when already set, so
            // that the waiter which consumes the signal also sees this
            // setter's writes.
            match self
                .state
                .compare_exchange_weak(state, next, Release, Relaxed)
            {
                Ok(_) => {
                    if wake {
                        if manual {
                            sys::wake_all(&self.state);
                        } else {
                            sys::wake_one(&self.state);
                        }
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }

    /// Resets the event to not set (Windows `ResetEvent`).
    pub fn reset(&self) {
        // Relaxed: resetting publishes nothing; it only races with `set` on
        // this word, whose modification order decides.
        self.state.fetch_and(!SIGNALED, Relaxed);
    }

    /// Whether the event is set right now (a snapshot).
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release in `set`, like a successful wait.
        self.state.load(Acquire) & SIGNALED != 0
    }

    /// Releases one thread that is waiting right now, if any, without setting
    /// the event (Windows `PulseEvent` on an auto-reset event). Does nothing
    /// when nobody waits or when a release is already pending.
    pub fn notify_one(&self) {
        let mut state = self.state.load(Relaxed);
        loop {
            if waiters(state) == 0 || state & (SIGNALED | PULSE) != 0 {
                return;
            }
            // Release: pairs with the Acquire CAS in `wait` that takes PULSE.
            match self
                .state
                .compare_exchange_weak(state, state | PULSE, Release, Relaxed)
            {
                Ok(_) => return sys::wake_one(&self.state),
                Err(now) => state = now,
            }
        }
    }

    /// Releases every thread that is waiting right now, without setting the
    /// event (Windows `PulseEvent` on a manual-reset event). Threads that
    /// start waiting afterwards are not released.
    pub fn notify_all(&self) {
        let mut state = self.state.load(Relaxed);
        loop {
            if waiters(state) == 0 {
                return;
            }
            // Release: pairs with the Acquire load in `wait` that sees the new
            // epoch.
            match self.state.compare_exchange_weak(
                state,
                state.wrapping_add(EPOCH),
                Release,
                Relaxed,
            ) {
                Ok(_) => return sys::wake_all(&self.state),
                Err(now) => state = now,
            }
        }
    }

    /// Waits until the event releases this thread, however long that takes.
    pub fn wait(&self) {
        while !self.wait_deadline(None) {}
    }

    /// Waits until the event releases this thread or `timeout` passes;
    /// returns whether it was released. A zero timeout only checks (and, for
    /// an auto-reset event, consumes) the signal.
    ///
    /// ```
    /// use memlink::{Event, EventKind, Mapping};
    /// use std::time::Duration;
    /// # let name = format!("doc-event-wait-{}", std::process::id());
    /// let mapping = Mapping::create(&name, 4096)?;
    /// let view = mapping.view_all()?;
    /// let event = Event::init_in(&view, 0, EventKind::AutoReset)?;
    ///
    /// assert!(!event.wait_timeout(Duration::from_millis(10))); // times out
    /// event.set();
    /// assert!(event.wait_timeout(Duration::from_secs(1)));     // consumes it
    /// assert!(!event.is_set());                                 // auto-reset
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(wait::deadline_after(timeout))
    }

    /// Waits until the event releases this thread or `deadline` passes;
    /// returns whether it was released.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        self.wait_deadline(Some(deadline))
    }

    /// A snapshot of how many threads (in all processes) are registered as
    /// waiting. For diagnostics and tests; it can be stale at once.
    pub fn waiters(&self) -> u32 {
        waiters(self.state.load(Relaxed))
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> bool {
        let manual = self.kind() == EventKind::ManualReset;
        // Acquire on every load of the word here: pairs with the Release
        // RMWs of `set` / `notify_*`; see the module docs.
        let mut state = self.state.load(Acquire);
        let mut registered = false;
        let mut epoch = state & EPOCH_MASK;
        let mut backoff = Backoff::new(SPIN_THEN_PARK);
        loop {
            // 1. Released?
            let released = state & SIGNALED != 0
                || (registered && (state & PULSE != 0 || state & EPOCH_MASK != epoch));
            if released {
                let mut next = if registered { unregister(state) } else { state };
                if state & SIGNALED != 0 && !manual {
                    next &= !SIGNALED;
                } else if state & SIGNALED == 0 && state & PULSE != 0 && state & EPOCH_MASK == epoch
                {
                    next &= !PULSE;
                }
                if next == state {
                    return true;
                }
                match self.state.compare_exchange(state, next, Acquire, Acquire) {
                    Ok(_) => return true,
                    Err(now) => {
                        state = now;
                        continue;
                    }
                }
            }
            // 2. Out of time?
            if wait::expired(deadline) {
                if !registered {
                    return false;
                }
                match self
                    .state
                    .compare_exchange(state, unregister(state), Relaxed, Acquire)
                {
                    Ok(_) => return false,
                    Err(now) => {
                        state = now;
                        continue;
                    }
                }
            }
            // 3. Not yet registered: spin a little, then register.
            if !registered {
                if backoff.snooze() {
                    state = self.state.load(Acquire);
                    continue;
                }
                if waiters(state) == WAITERS_MAX {
                    // Saturated (or a peer scribbled): poll instead. Only
                    // SIGNALED can release an unregistered waiter.
                    sys::wait_on(&self.state, state, wait::slice_deadline(deadline, POLL));
                    state = self.state.load(Acquire);
                    continue;
                }
                let next = state + WAITER;
                match self.state.compare_exchange(state, next, Relaxed, Acquire) {
                    Ok(_) => {
                        registered = true;
                        epoch = state & EPOCH_MASK;
                        state = next;
                    }
                    Err(now) => state = now,
                }
                continue;
            }
            // 4. Sleep while the word is exactly what we registered under.
            sys::wait_on(&self.state, state, deadline);
            state = self.state.load(Acquire);
        }
    }
}

/// A waiter registered on an [`Event`] by something that sleeps on the
/// event's word among others (a [`WaitSet`](crate::channel::WaitSet), the
/// async reactor): it counts in the waiter bits, so `set` and `notify_*`
/// wake it, and remembers the word it registered under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registration {
    /// The state word right after registering: what to sleep on.
    pub(crate) word: u32,
    /// Whether the waiter bits counted us (not when saturated).
    counted: bool,
}

impl Event {
    /// The state word, for sleeping on it among other words.
    pub(crate) fn word(&self) -> &std::sync::atomic::AtomicU32 {
        &self.state
    }

    /// Registers one waiter, as a blocked [`Event::wait`] does before it
    /// sleeps. No system call.
    pub(crate) fn enter(&self) -> Registration {
        let mut state = self.state.load(Acquire);
        loop {
            if waiters(state) == WAITERS_MAX {
                // Saturated: setters wake all the same (the count is not
                // zero); only SIGNALED can release us.
                return Registration {
                    word: state,
                    counted: false,
                };
            }
            let next = state + WAITER;
            // Relaxed: registration publishes nothing (see the module docs).
            match self.state.compare_exchange(state, next, Relaxed, Acquire) {
                Ok(_) => {
                    return Registration {
                        word: next,
                        counted: true,
                    }
                }
                Err(now) => state = now,
            }
        }
    }

    /// Unregisters a waiter that [`Event::enter`] registered. With `take`,
    /// it also takes what released it while it was registered, exactly as
    /// [`Event::wait`] would (consuming an auto-reset signal, or the pending
    /// `notify_one`), and says whether anything did. Without `take` (a
    /// cancelled wait) it takes nothing, like a wait that timed out.
    pub(crate) fn leave(&self, registration: Registration, take: bool) -> bool {
        let manual = self.kind() == EventKind::ManualReset;
        let epoch = registration.word & EPOCH_MASK;
        // Acquire: pairs with the Release RMWs of `set` / `notify_*`.
        let mut state = self.state.load(Acquire);
        loop {
            let mut next = if registration.counted {
                unregister(state)
            } else {
                state
            };
            let mut released = false;
            if take {
                if state & SIGNALED != 0 {
                    released = true;
                    if !manual {
                        next &= !SIGNALED;
                    }
                } else if registration.counted && state & EPOCH_MASK != epoch {
                    released = true;
                } else if registration.counted && state & PULSE != 0 {
                    released = true;
                    next &= !PULSE;
                }
            }
            if next == state {
                return released;
            }
            match self.state.compare_exchange(state, next, Acquire, Acquire) {
                Ok(_) => return released,
                Err(now) => state = now,
            }
        }
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("kind", &self.kind())
            .field("set", &self.is_set())
            .field("waiters", &self.waiters())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::thread;

    use super::*;
    use crate::error::Error;
    use crate::mapping::{Mapping, MappingOptions};
    use crate::types::Access;

    fn mapping(tag: &str) -> Mapping {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "unit-event-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Mapping::create(&name, 4096).unwrap()
    }

    const LONG: Duration = Duration::from_secs(10);

    fn wait_for_waiters(event: &Event, n: u32) {
        let deadline = Instant::now() + LONG;
        while event.waiters() < n {
            assert!(Instant::now() < deadline, "waiters never registered");
            thread::yield_now();
        }
    }

    #[test]
    fn registered_waiters_take_what_released_them_and_only_that() {
        let m = mapping("registered");
        let view = m.view_all().unwrap();
        let e = Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        // Nothing came: released by nothing, unregistered.
        let r = e.enter();
        assert_eq!(e.waiters(), 1);
        assert_eq!(e.word().load(Ordering::Relaxed), r.word);
        assert!(!e.leave(r, true));
        assert_eq!(e.waiters(), 0);
        // A set while registered: taken (auto-reset).
        let r = e.enter();
        e.set();
        assert_ne!(e.word().load(Ordering::Relaxed), r.word);
        assert!(e.leave(r, true));
        assert!(!e.is_set());
        // A pulse for one registered waiter: taken by it, gone after.
        let r = e.enter();
        e.notify_one();
        assert!(e.leave(r, true));
        let r = e.enter();
        assert!(!e.leave(r, true), "the pulse was taken once");
        // notify_all: released.
        let r = e.enter();
        e.notify_all();
        assert!(e.leave(r, true));
        // Cancelled: the signal stays for the next waiter.
        let r = e.enter();
        e.set();
        assert!(!e.leave(r, false));
        assert!(e.is_set());
        assert_eq!(e.waiters(), 0);
    }

    #[test]
    fn auto_reset_is_consumed_by_one_wait() {
        let m = mapping("auto");
        let view = m.view_all().unwrap();
        let e = Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        assert_eq!(e.kind(), EventKind::AutoReset);
        assert!(!e.wait_timeout(Duration::ZERO));
        e.set();
        e.set(); // already set: no effect
        assert!(e.is_set());
        assert!(e.wait_timeout(Duration::ZERO));
        assert!(!e.is_set());
        assert!(!e.wait_timeout(Duration::ZERO));
        e.set();
        e.reset();
        assert!(!e.wait_timeout(Duration::ZERO));
    }

    #[test]
    fn manual_reset_stays_set() {
        let m = mapping("manual");
        let view = m.view_all().unwrap();
        let e = Event::init_in(&view, 128, EventKind::ManualReset).unwrap();
        e.set();
        for _ in 0..3 {
            assert!(e.wait_timeout(Duration::ZERO));
        }
        e.reset();
        assert!(!e.wait_timeout(Duration::from_millis(5)));
    }

    #[test]
    fn wait_times_out_after_the_timeout() {
        let m = mapping("timeout");
        let view = m.view_all().unwrap();
        let e = Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        let start = Instant::now();
        assert!(!e.wait_timeout(Duration::from_millis(50)));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert_eq!(e.waiters(), 0, "a timed-out waiter unregisters");
    }

    #[test]
    fn set_wakes_a_sleeping_thread() {
        let m = mapping("wake");
        let view = Arc::new(m.view_all().unwrap());
        Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        let v = Arc::clone(&view);
        let waiter = thread::spawn(move || Event::attach(&v, 0).unwrap().wait_timeout(LONG));
        let e = Event::attach(&view, 0).unwrap();
        wait_for_waiters(e, 1);
        e.set();
        assert!(waiter.join().unwrap());
        assert_eq!(e.waiters(), 0);
        assert!(!e.is_set());
    }

    #[test]
    fn auto_set_releases_one_thread_per_set() {
        let m = mapping("one");
        let view = Arc::new(m.view_all().unwrap());
        Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        let released = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let v = Arc::clone(&view);
                let r = Arc::clone(&released);
                thread::spawn(move || {
                    if Event::attach(&v, 0).unwrap().wait_timeout(LONG) {
                        r.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        let e = Event::attach(&view, 0).unwrap();
        for n in 1..=3 {
            wait_for_waiters(e, 4 - n);
            e.set();
            let deadline = Instant::now() + LONG;
            while released.load(Ordering::SeqCst) < n {
                assert!(Instant::now() < deadline);
                thread::yield_now();
            }
            assert_eq!(released.load(Ordering::SeqCst), n);
        }
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn every_set_on_an_unset_event_releases_exactly_one_waiter() {
        const SETS: u32 = 2000;
        let m = mapping("stress");
        let view = Arc::new(m.view_all().unwrap());
        Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        let released = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicU32::new(0));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (v, r, stop) = (Arc::clone(&view), Arc::clone(&released), Arc::clone(&stop));
                thread::spawn(move || {
                    let e = Event::attach(&v, 0).unwrap();
                    while stop.load(Ordering::SeqCst) == 0 {
                        if e.wait_timeout(Duration::from_millis(5)) {
                            r.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        let e = Event::attach(&view, 0).unwrap();
        let deadline = Instant::now() + LONG;
        for _ in 0..SETS {
            // Set only an unset event, so that no two sets merge.
            while e.is_set() {
                assert!(Instant::now() < deadline, "a set was never consumed");
                thread::yield_now();
            }
            e.set();
        }
        while released.load(Ordering::SeqCst) < SETS {
            assert!(Instant::now() < deadline, "signals were lost");
            thread::yield_now();
        }
        stop.store(1, Ordering::SeqCst);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(released.load(Ordering::SeqCst), SETS, "a set released two");
        assert_eq!(e.waiters(), 0);
    }

    #[test]
    fn manual_set_releases_everyone_even_if_reset_at_once() {
        let m = mapping("all");
        let view = Arc::new(m.view_all().unwrap());
        Event::init_in(&view, 0, EventKind::ManualReset).unwrap();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let v = Arc::clone(&view);
                thread::spawn(move || Event::attach(&v, 0).unwrap().wait_timeout(LONG))
            })
            .collect();
        let e = Event::attach(&view, 0).unwrap();
        wait_for_waiters(e, 3);
        e.set();
        e.reset();
        for t in threads {
            assert!(t.join().unwrap());
        }
    }

    #[test]
    fn notify_releases_current_waiters_only() {
        let m = mapping("notify");
        let view = Arc::new(m.view_all().unwrap());
        Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        let e = Event::attach(&view, 0).unwrap();
        // Nobody waits: no effect on later waits.
        e.notify_one();
        e.notify_all();
        assert!(!e.wait_timeout(Duration::from_millis(5)));

        let spawn = || {
            let v = Arc::clone(&view);
            thread::spawn(move || Event::attach(&v, 0).unwrap().wait_timeout(LONG))
        };
        let a = spawn();
        wait_for_waiters(e, 1);
        e.notify_one();
        assert!(a.join().unwrap());
        assert!(!e.is_set());

        let (b, c) = (spawn(), spawn());
        wait_for_waiters(e, 2);
        e.notify_all();
        assert!(b.join().unwrap());
        assert!(c.join().unwrap());
        assert!(!e.wait_timeout(Duration::from_millis(5)));
        assert_eq!(e.waiters(), 0);
    }

    #[test]
    fn placement_is_checked() {
        let m = mapping("place");
        let view = m.view_all().unwrap();
        assert!(matches!(
            Event::init_in(&view, 64, EventKind::AutoReset),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            Event::init_in(&view, 4096 - 64, EventKind::AutoReset),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            Event::init_in(&view, usize::MAX, EventKind::AutoReset),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            Event::attach(&view, 0),
            Err(Error::WrongKind {
                found: "uninitialised memory",
                ..
            })
        ));
        let ro = MappingOptions::new()
            .access(Access::ReadOnly)
            .open(&m.name().to_string())
            .unwrap();
        assert!(matches!(
            Event::attach(&ro.view_all().unwrap(), 0),
            Err(Error::AccessMismatch { .. })
        ));
        let cow = m.view_with(0, 4096, Access::CopyOnWrite).unwrap();
        assert!(matches!(
            Event::attach(&cow, 0),
            Err(Error::AccessMismatch { .. })
        ));
    }

    #[test]
    fn scribbled_state_never_hangs_a_timed_wait() {
        let m = mapping("scribble");
        let view = m.view_all().unwrap();
        let e = Event::init_in(&view, 0, EventKind::AutoReset).unwrap();
        for garbage in [
            u32::MAX,
            WAITERS_MASK,
            PULSE,
            EPOCH_MASK | PULSE,
            0xdead_beee,
        ] {
            e.state.store(garbage, Relaxed);
            let start = Instant::now();
            let _ = e.wait_timeout(Duration::from_millis(20));
            assert!(start.elapsed() < Duration::from_secs(5));
            e.set();
            e.notify_one();
            e.notify_all();
            e.reset();
        }
        e.tag.store(12345, Relaxed);
        assert_eq!(e.kind(), EventKind::AutoReset);
    }
}
