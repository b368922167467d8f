//! [`RobustMutex`]: a lock in shared memory that survives its owner's death.
//!
//! # The state word
//!
//! | bits    | name           | meaning                                                        |
//! |---------|----------------|----------------------------------------------------------------|
//! | 0..=28  | pid            | the owning process; 0: unlocked; all ones: not recoverable      |
//! | 29      | `FOREIGN`      | the owner is outside the mutex's pid namespace: never judged   |
//! | 30      | `WAITERS`      | a thread sleeps (or is about to) on the word                   |
//! | 31      | `INCONSISTENT` | the protected state may be broken: the owner took over from a dead owner (or, unlocked, the last owner panicked) |
//!
//! * **lock**: CAS `0 → pid` (keeping `WAITERS` when it has slept, as a woken
//!   thread cannot know whether others still sleep). Contended: spin a little,
//!   then set `WAITERS` and sleep on the word in slices (10 ms doubling to
//!   100 ms); after each slice that ends without a wake-up, judge the owner.
//! * **judge**: the owner is dead if its pid is gone, is a zombie, or now
//!   belongs to a process with another start time than the one the owner
//!   published in the `owner` word. Then CAS the observed word (so nobody else
//!   took it meanwhile) to `me | INCONSISTENT`: the locker gets the lock with
//!   [`MutexGuard::owner_died`].
//! * **unlock**: clear the `owner` word, then CAS (only while the pid is
//!   still ours) to `0`, or to `INCONSISTENT` if the guard is dropped while
//!   panicking, or to *not recoverable* if the owner died before and nobody
//!   called [`MutexGuard::mark_consistent`]; wake one sleeper (all of them
//!   for not recoverable) if `WAITERS` was set.
//!
//! Orderings: unlock's Release CAS pairs with lock's Acquire CAS (plain or
//! takeover), so the next owner sees everything the previous owner wrote
//! under the lock. A judge loads the state with Acquire, which (through the
//! release sequence of the last unlock, continued by the lockers' RMWs) also
//! makes the `owner` word it reads next no older than the last unlock's
//! clearing of it: a stale identity of an earlier owner is never taken for
//! the current one.
//!
//! # Limitations
//!
//! * Ownership is per process, as with a process-shared pthread mutex: any
//!   thread of the owning process may unlock, and the mutex is not
//!   reentrant: a thread that locks it twice waits for itself until its
//!   deadline (or forever with [`RobustMutex::lock`]).
//! * Only a dead *process* is detected. A guard that is leaked
//!   (`mem::forget`) or a thread that exits abnormally without unwinding
//!   keeps the lock for as long as its process lives.
//! * Liveness is judged through `/proc` and `kill(pid, 0)`, in the pid
//!   namespace of the mutex's creator. A locker in another pid namespace, or
//!   an owner in one, is never judged (its pid means something else there);
//!   if such an owner dies, the others wait until their deadlines. Without
//!   `/proc`, no owner is judged at all.
//! * A dead owner is noticed after one sleep slice (at most 100 ms) plus the
//!   time to read `/proc`, not at once as with kernel robust futexes.
//! * Each lock makes one `getpid` system call.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use super::wait::{self, SPIN_THEN_PARK};
use crate::error::{Error, Result};
use crate::layout::{self, RobustMutex, TAG_MUTEX};
use crate::mapping::View;
use crate::sys::{self, Backoff, ProcessIdentity};

const PID_MASK: u32 = (1 << 29) - 1;
const FOREIGN: u32 = 1 << 29;
const WAITERS: u32 = 1 << 30;
const INCONSISTENT: u32 = 1 << 31;
/// The pid value of a mutex that can no longer be locked.
const NOT_RECOVERABLE: u32 = PID_MASK;

const FIRST_SLICE: Duration = Duration::from_millis(10);
const MAX_SLICE: Duration = Duration::from_millis(100);

/// How a guard leaves the mutex when dropped.
fn release_target(owner_died: bool, consistent: bool, panicking: bool) -> u32 {
    if owner_died && !consistent {
        NOT_RECOVERABLE
    } else if panicking {
        INCONSISTENT
    } else {
        0
    }
}

fn identity_word(me: &ProcessIdentity) -> u64 {
    (u64::from(me.pid) << 32) | (me.start & 0xFFFF_FFFF)
}

impl RobustMutex {
    /// The size of a robust mutex in shared memory, in bytes.
    pub const SIZE: usize = layout::LINE;
    /// The alignment a robust mutex needs in memory, in bytes.
    pub const ALIGN: usize = layout::LINE;

    /// Makes the [`RobustMutex::SIZE`] bytes at `offset` of `view` a new,
    /// unlocked mutex and returns it.
    ///
    /// The mutex records this process's pid namespace: owners are judged
    /// dead or alive only by lockers in that namespace. Initialise once,
    /// before other processes attach.
    ///
    /// ```
    /// use memlink::{Mapping, RobustMutex};
    /// # let name = format!("doc-mutex-init-{}", std::process::id());
    /// let mapping = Mapping::create(&name, 4096)?;
    /// let view = mapping.view_all()?;
    /// let mutex = RobustMutex::init_in(&view, 0)?;
    ///
    /// let mut guard = mutex.lock()?;
    /// if guard.owner_died() {
    ///     // Repair the protected data, then:
    ///     guard.mark_consistent();
    /// }
    /// view.write_at(128, b"protected")?;
    /// drop(guard);
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn init_in(view: &View, offset: usize) -> Result<&RobustMutex> {
        let mutex = layout::place::<RobustMutex>(view, offset, "robust mutex")?;
        mutex.state.store(0, Relaxed);
        mutex.owner.store(0, Relaxed);
        mutex.home_ns.store(sys::current_process().pid_ns, Relaxed);
        // Release: pairs with the Acquire load of the tag in `attach`.
        mutex.tag.store(TAG_MUTEX, Release);
        Ok(mutex)
    }

    /// The mutex that [`RobustMutex::init_in`] made at `offset` of `view`
    /// (usually in another process).
    ///
    /// Fails with [`Error::WrongKind`] if the bytes there are not an
    /// initialised robust mutex.
    pub fn attach(view: &View, offset: usize) -> Result<&RobustMutex> {
        wait::attach(
            view,
            offset,
            "robust mutex",
            // Acquire: pairs with the Release store in `init_in`.
            |m: &RobustMutex| m.tag.load(Acquire),
            |tag| tag == TAG_MUTEX,
        )
    }

    /// Locks, waiting as long as it takes. A dead owner does not make this
    /// wait forever: its lock is taken over, and the guard says
    /// [`owner_died`](MutexGuard::owner_died).
    ///
    /// Fails with [`Error::NotRecoverable`] if an earlier owner died and its
    /// successor released the lock without marking the state consistent.
    ///
    /// # Limits of owner-death detection
    ///
    /// * Only a dead *process* is detected. A leaked guard
    ///   (`mem::forget`) keeps the lock as long as its process lives; a
    ///   guard dropped while panicking is reported like a death.
    /// * The lock belongs to the process: any of its threads may drop the
    ///   guard, and a thread that locks twice waits for itself (until its
    ///   deadline, or forever here).
    /// * Liveness is read from `/proc` and `kill(pid, 0)` in the pid
    ///   namespace where the mutex was initialised. Owners and lockers in
    ///   other pid namespaces (containers sharing `/dev/shm`) are never
    ///   judged, since their pids mean something else: if such an owner dies,
    ///   lockers wait until their deadlines. Without `/proc`, nobody is
    ///   judged.
    /// * A death is noticed after one sleep slice (10 ms, growing to 100 ms)
    ///   plus a read of `/proc`, not instantly.
    pub fn lock(&self) -> Result<MutexGuard<'_>> {
        loop {
            if let Some(guard) = self.lock_deadline(None, false)? {
                return Ok(guard);
            }
        }
    }

    /// Locks if that is possible without waiting: `Ok(None)` if a live
    /// process holds the lock. A dead owner's lock is taken over (which
    /// reads `/proc`, so this is not free when the lock is held).
    pub fn try_lock(&self) -> Result<Option<MutexGuard<'_>>> {
        self.lock_deadline(Some(Instant::now()), true)
    }

    /// Locks, waiting at most `timeout`: `Ok(None)` if a live process still
    /// held the lock by then.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<MutexGuard<'_>>> {
        self.lock_deadline(wait::deadline_after(timeout), false)
    }

    /// Locks, waiting until `deadline` at the latest: `Ok(None)` if a live
    /// process still held the lock by then.
    pub fn lock_until(&self, deadline: Instant) -> Result<Option<MutexGuard<'_>>> {
        self.lock_deadline(Some(deadline), false)
    }

    /// A snapshot of the owning process's pid, if the mutex is locked. For
    /// diagnostics; it can be stale at once.
    pub fn owner_pid(&self) -> Option<u32> {
        match self.state.load(Relaxed) & PID_MASK {
            0 | NOT_RECOVERABLE => None,
            pid => Some(pid),
        }
    }

    fn lock_deadline(
        &self,
        deadline: Option<Instant>,
        try_only: bool,
    ) -> Result<Option<MutexGuard<'_>>> {
        let me = sys::current_process();
        if me.pid == 0 || me.pid >= NOT_RECOVERABLE {
            return Err(Error::Unsupported {
                what: format!("process id {} does not fit a robust mutex", me.pid),
            });
        }
        let judge_allowed = me.pid_ns != 0 && self.home_ns.load(Relaxed) == me.pid_ns;
        let mine = me.pid | if judge_allowed { 0 } else { FOREIGN };
        let mut slept = false;
        let mut judge = true;
        // A pid already found dead: a failed takeover CAS (flags changed
        // under us) retries without reading `/proc` again.
        let mut dead_pid = None;
        let mut backoff = Backoff::new(SPIN_THEN_PARK);
        let mut slice = FIRST_SLICE;
        // Acquire on every load: see "Orderings" in the module docs.
        let mut state = self.state.load(Acquire);
        loop {
            let pid = state & PID_MASK;
            if pid == NOT_RECOVERABLE {
                return Err(Error::NotRecoverable);
            }
            if pid == 0 {
                let keep = if slept { WAITERS } else { state & WAITERS };
                let next = mine | keep | (state & INCONSISTENT);
                // Acquire: pairs with the Release CAS of the last unlock.
                match self
                    .state
                    .compare_exchange_weak(state, next, Acquire, Acquire)
                {
                    Ok(_) => return Ok(Some(self.acquired(&me, state & INCONSISTENT != 0))),
                    Err(now) => {
                        state = now;
                        continue;
                    }
                }
            }
            if !try_only && backoff.snooze() {
                state = self.state.load(Acquire);
                continue;
            }
            let known_dead = dead_pid == Some(pid);
            if known_dead
                || (std::mem::take(&mut judge) && judge_allowed && self.owner_is_dead(state, &me))
            {
                dead_pid = Some(pid);
                let keep = if slept { WAITERS } else { state & WAITERS };
                let next = mine | keep | INCONSISTENT;
                // Acquire: the dead owner released nothing; this pairs with
                // the Release CAS of whichever unlock came before it.
                match self.state.compare_exchange(state, next, Acquire, Acquire) {
                    Ok(_) => return Ok(Some(self.acquired(&me, true))),
                    Err(now) => {
                        state = now;
                        continue;
                    }
                }
            }
            if try_only || wait::expired(deadline) {
                return Ok(None);
            }
            if state & WAITERS == 0 {
                if let Err(now) =
                    self.state
                        .compare_exchange_weak(state, state | WAITERS, Relaxed, Acquire)
                {
                    state = now;
                    continue;
                }
                state |= WAITERS;
            }
            slept = true;
            let slice_end = wait::slice_deadline(deadline, slice);
            let woken = sys::wait_on(&self.state, state, slice_end);
            dead_pid = None;
            // A slice that ran out with nobody waking us: time to look at the
            // owner again.
            judge = !woken || slice_end.is_some_and(|end| Instant::now() >= end);
            if judge {
                slice = (slice * 2).min(MAX_SLICE);
            }
            state = self.state.load(Acquire);
        }
    }

    /// Whether the owner recorded in `state` is certainly dead.
    fn owner_is_dead(&self, state: u32, me: &ProcessIdentity) -> bool {
        let pid = state & PID_MASK;
        if state & FOREIGN != 0 || pid == me.pid {
            return false;
        }
        let published = self.owner.load(Relaxed);
        let start = ((published >> 32) as u32 == pid).then_some(published as u32);
        !sys::process_alive(pid, start)
    }

    fn acquired(&self, me: &ProcessIdentity, owner_died: bool) -> MutexGuard<'_> {
        // Relaxed: read only by judges, after their Acquire load of a state
        // word that names this process (see "Orderings").
        self.owner.store(identity_word(me), Relaxed);
        MutexGuard {
            mutex: self,
            pid: me.pid,
            owner_died,
            consistent: !owner_died,
        }
    }
}

impl std::fmt::Debug for RobustMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load(Relaxed);
        f.debug_struct("RobustMutex")
            .field("owner_pid", &self.owner_pid())
            .field("not_recoverable", &(state & PID_MASK == NOT_RECOVERABLE))
            .field("inconsistent", &(state & INCONSISTENT != 0))
            .finish()
    }
}

/// Proof that this process holds a [`RobustMutex`]; unlocks on drop.
///
/// If [`owner_died`](MutexGuard::owner_died) is true, the previous owner died
/// (or panicked) while holding the lock, and the state it protects may be
/// half-updated. Repair it and call
/// [`mark_consistent`](MutexGuard::mark_consistent) before dropping the
/// guard; otherwise the mutex becomes permanently unusable
/// ([`Error::NotRecoverable`]) for everyone, as with POSIX robust mutexes.
///
/// A guard dropped while its thread panics leaves the mutex unlocked but
/// marked inconsistent: the next locker sees `owner_died`.
#[must_use = "the mutex unlocks when the guard is dropped"]
pub struct MutexGuard<'a> {
    mutex: &'a RobustMutex,
    pid: u32,
    owner_died: bool,
    consistent: bool,
}

impl MutexGuard<'_> {
    /// Whether the lock was taken over from an owner that died (or
    /// panicked) while holding it.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// Declares the protected state repaired after
    /// [`owner_died`](MutexGuard::owner_died); without it, dropping the guard
    /// makes the mutex not recoverable. Does nothing otherwise.
    pub fn mark_consistent(&mut self) {
        if !self.consistent {
            self.consistent = true;
            // Relaxed: the flag is informative for observers; the guard's own
            // field decides what unlock does.
            self.mutex.state.fetch_and(!INCONSISTENT, Relaxed);
        }
    }
}

impl Drop for MutexGuard<'_> {
    fn drop(&mut self) {
        let target = release_target(self.owner_died, self.consistent, std::thread::panicking());
        let mutex = self.mutex;
        // Relaxed: ordered before the Release CAS below.
        mutex.owner.store(0, Relaxed);
        let mut state = mutex.state.load(Relaxed);
        while state & PID_MASK == self.pid {
            // Release: pairs with the Acquire CAS in `lock_deadline`.
            match mutex
                .state
                .compare_exchange_weak(state, target, Release, Relaxed)
            {
                Ok(_) => {
                    if state & WAITERS != 0 {
                        if target == NOT_RECOVERABLE {
                            sys::wake_all(&mutex.state);
                        } else {
                            sys::wake_one(&mutex.state);
                        }
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
        // The word no longer names this process: a peer overwrote it. There
        // is nothing of ours left to release.
    }
}

impl std::fmt::Debug for MutexGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutexGuard")
            .field("owner_died", &self.owner_died)
            .field("consistent", &self.consistent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::thread;

    use super::*;
    use crate::mapping::Mapping;

    fn mapping(tag: &str) -> Mapping {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "unit-mutex-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Mapping::create(&name, 4096).unwrap()
    }

    #[test]
    fn lock_try_lock_and_timeout() {
        let m = mapping("basic");
        let view = m.view_all().unwrap();
        let mutex = RobustMutex::init_in(&view, 0).unwrap();
        let guard = mutex.lock().unwrap();
        assert!(!guard.owner_died());
        assert_eq!(mutex.owner_pid(), Some(std::process::id()));
        assert!(mutex.try_lock().unwrap().is_none());
        let start = Instant::now();
        assert!(mutex
            .lock_timeout(Duration::from_millis(30))
            .unwrap()
            .is_none());
        assert!(start.elapsed() >= Duration::from_millis(30));
        drop(guard);
        assert_eq!(mutex.owner_pid(), None);
        assert!(mutex.try_lock().unwrap().is_some());
    }

    #[test]
    fn threads_exclude_each_other() {
        let m = mapping("threads");
        let view = Arc::new(m.view_all().unwrap());
        RobustMutex::init_in(&view, 0).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let view = Arc::clone(&view);
                thread::spawn(move || {
                    let mutex = RobustMutex::attach(&view, 0).unwrap();
                    for _ in 0..500 {
                        let _g = mutex
                            .lock_timeout(Duration::from_secs(20))
                            .unwrap()
                            .unwrap();
                        // A non-atomic read-modify-write that only the lock
                        // keeps whole.
                        let mut b = [0u8; 8];
                        view.read_at(128, &mut b).unwrap();
                        let n = u64::from_ne_bytes(b) + 1;
                        view.write_at(128, &n.to_ne_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut b = [0u8; 8];
        view.read_at(128, &mut b).unwrap();
        assert_eq!(u64::from_ne_bytes(b), 2000);
    }

    #[test]
    fn a_dead_owner_is_taken_over_and_must_be_made_consistent() {
        let m = mapping("dead");
        let view = m.view_all().unwrap();
        let mutex = RobustMutex::init_in(&view, 0).unwrap();
        // Forge an owner that has exited: a reaped child's pid. (The child is
        // this test binary listing its tests: it exits at once on any OS.)
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let dead = child.id();
        child.wait().unwrap();
        mutex.state.store(dead, Relaxed);
        mutex.owner.store((u64::from(dead) << 32) | 1, Relaxed);

        let mut guard = mutex.lock_timeout(Duration::from_secs(5)).unwrap().unwrap();
        assert!(guard.owner_died());
        guard.mark_consistent();
        drop(guard);
        let guard = mutex.try_lock().unwrap().unwrap();
        assert!(!guard.owner_died());
        drop(guard);

        // Again, without marking consistent: not recoverable, for good.
        mutex.state.store(dead, Relaxed);
        let guard = mutex.try_lock().unwrap().unwrap();
        assert!(guard.owner_died());
        drop(guard);
        assert!(matches!(mutex.try_lock(), Err(Error::NotRecoverable)));
        assert!(matches!(mutex.lock(), Err(Error::NotRecoverable)));

        // Re-initialising is the way back.
        let mutex = RobustMutex::init_in(&view, 0).unwrap();
        assert!(!mutex.lock().unwrap().owner_died());
    }

    #[test]
    fn a_panic_under_the_lock_is_reported_to_the_next_owner() {
        let m = mapping("panic");
        let view = Arc::new(m.view_all().unwrap());
        RobustMutex::init_in(&view, 0).unwrap();
        let v = Arc::clone(&view);
        let result = thread::spawn(move || {
            let _guard = RobustMutex::attach(&v, 0).unwrap().lock().unwrap();
            panic!("deliberate panic under the lock");
        })
        .join();
        assert!(result.is_err());
        let mutex = RobustMutex::attach(&view, 0).unwrap();
        let mut guard = mutex.lock().unwrap();
        assert!(guard.owner_died());
        guard.mark_consistent();
        drop(guard);
        assert!(!mutex.lock().unwrap().owner_died());
    }

    #[test]
    fn owners_that_cannot_be_judged_are_waited_for() {
        let m = mapping("foreign");
        let view = m.view_all().unwrap();
        let mutex = RobustMutex::init_in(&view, 0).unwrap();
        // A pid that does not exist here, marked as from another namespace.
        mutex.state.store(FOREIGN | (PID_MASK - 1), Relaxed);
        assert!(mutex.try_lock().unwrap().is_none());
        // The same when this process is not in the mutex's namespace.
        mutex.state.store(PID_MASK - 1, Relaxed);
        mutex.home_ns.store(1, Relaxed);
        assert!(mutex.try_lock().unwrap().is_none());
        mutex.home_ns.store(sys::current_process().pid_ns, Relaxed);
        assert!(mutex.try_lock().unwrap().unwrap().owner_died());
    }

    #[test]
    fn scribbled_words_never_hang_or_panic() {
        let m = mapping("scribble");
        let view = m.view_all().unwrap();
        let mutex = RobustMutex::init_in(&view, 0).unwrap();
        for garbage in [
            u32::MAX,
            WAITERS,
            INCONSISTENT,
            1,
            0x1234_5678,
            PID_MASK - 1,
        ] {
            mutex.state.store(garbage, Relaxed);
            mutex.owner.store(u64::MAX, Relaxed);
            let start = Instant::now();
            if let Ok(Some(mut g)) = mutex.lock_timeout(Duration::from_millis(50)) {
                g.mark_consistent();
            }
            assert!(start.elapsed() < Duration::from_secs(5));
        }
    }

    #[test]
    fn attach_checks_the_tag() {
        let m = mapping("tag");
        let view = m.view_all().unwrap();
        assert!(matches!(
            RobustMutex::attach(&view, 0),
            Err(Error::WrongKind { .. })
        ));
        crate::Event::init_in(&view, 0, crate::EventKind::AutoReset).unwrap();
        match RobustMutex::attach(&view, 0) {
            Err(Error::WrongKind { found, .. }) => assert_eq!(found, "event"),
            other => panic!("{other:?}"),
        }
    }
}
