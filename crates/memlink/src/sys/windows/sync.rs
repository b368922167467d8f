//! Waiting on shared words on Windows.
//!
//! # Waiting across processes
//!
//! `WaitOnAddress` wakes only threads of the calling process, so a word in a
//! shared mapping needs kernel objects. No API change is needed for that:
//! every shared view is registered (base address → object and offset, in
//! the registry at the end of this file, filled by `map.rs`), so `wait_on(word)` finds the object `NAME` and the
//! word's offset `OFF` in it, and sleeps on the named semaphore
//! `NAME/w<OFF>` (hex), which every process computes alike whatever address
//! it mapped the object at.
//!
//! A futex compares and sleeps atomically; here the comparison and the
//! sleep are two steps, and a count of sleepers closes the gap. Each object
//! has a small table, the section `NAME/wait`, of per-word sleeper counts:
//!
//! * **wait**: add one to the word's count (SeqCst), load the word (SeqCst):
//!   if it is no longer `expected`, take the one back and return; otherwise
//!   sleep on the semaphore, then take the one back.
//! * **wake**: (the caller has changed the word) a SeqCst fence, then load
//!   the count: zero means nobody can be sleeping, and nothing is done;
//!   otherwise release the semaphore once (`wake_one`) or once per counted
//!   sleeper (`wake_all`).
//!
//! Either the waker sees the count (and releases), or the waiter sees the
//! new word (and does not sleep): the two SeqCst accesses on each side
//! cannot both miss. What a futex does better: a thread that starts to
//! wait *after* a release may take it instead of the thread it was meant
//! for, if it reaches the semaphore first; and a sleeper killed while
//! counted leaves a release for nobody, which later gives one waiter a
//! spurious wake-up (the semaphore is capped at [`SEMAPHORE_MAX`]). Callers
//! re-check their words in loops, and every sleep here is cut into slices of
//! at most [`SHARED_SLICE`], so neither can leave a thread blocked: the worst
//! case is one slice of delay.
//!
//! Words outside shared views (a process's own memory, copy-on-write views)
//! use `WaitOnAddress`. If a table or semaphore cannot be had (a full table,
//! or a name taken by a hostile program), waiters poll every millisecond.
//!
//! A thread that sleeps on shared words and must also be woken from inside
//! its process (the async reactor, by each new registration) uses a
//! [`LocalBell`]: an auto-reset event in the same `WaitForMultipleObjects`
//! set, so it sleeps until something happens instead of polling.
#![allow(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::os::windows::io::OwnedHandle;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Foundation::WAIT_OBJECT_0;
use windows_sys::Win32::System::Memory::PAGE_READWRITE;
use windows_sys::Win32::System::Threading::{
    CreateEventW, CreateSemaphoreW, ReleaseSemaphore, SetEvent, WaitForMultipleObjects,
    WaitForSingleObject, WaitOnAddress, WakeByAddressAll, WakeByAddressSingle, INFINITE,
};

use super::handle::{companion, owned, raw};
use super::section::{create_section, AllAtomic, SharedView};
use super::security::{Grant, Security};

/// The longest a waiter sleeps on a semaphore before it looks at its word
/// again (see the module docs: a stolen or lost release costs at most this).
pub(super) const SHARED_SLICE: Duration = Duration::from_millis(50);
/// The most releases a word's semaphore accumulates.
const SEMAPHORE_MAX: i32 = 1024;
/// How often a waiter without a table or semaphore looks at its word.
const POLL: Duration = Duration::from_millis(1);

/// Slots in an object's wait table.
const WAIT_SLOTS: usize = 256;

/// One word's sleeper count.
#[repr(C)]
struct WaitSlot {
    /// The word's offset in the object plus one; 0: free.
    key: AtomicU64,
    waiters: AtomicU32,
    _reserved: AtomicU32,
}

/// The section `NAME/wait`: sleeper counts, by open addressing on the
/// offset. Slots are never freed: an object has few words that threads
/// sleep on.
#[repr(C)]
struct WaitTable {
    slots: [WaitSlot; WAIT_SLOTS],
}

const _: () = assert!(std::mem::size_of::<WaitTable>() == 4096);

// SAFETY: `#[repr(C)]`, atomics only, 8-byte aligned.
unsafe impl AllAtomic for WaitTable {}

/// The waiting side of one held object, shared by all its views in this
/// process.
pub(crate) struct WaitDomain {
    /// `Local\NAME` or `Global\NAME`.
    object: String,
    /// The mapping's mode, for the objects made here; `None`: the default
    /// security (a mapping made by another program).
    mode: Option<u32>,
    table: OnceLock<Option<SharedView<WaitTable>>>,
    semaphores: Mutex<HashMap<u64, Option<Arc<OwnedHandle>>>>,
}

impl std::fmt::Debug for WaitDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitDomain")
            .field("object", &self.object)
            .finish()
    }
}

impl WaitDomain {
    pub(super) fn new(object: String, mode: Option<u32>) -> Arc<WaitDomain> {
        Arc::new(WaitDomain {
            object,
            mode,
            table: OnceLock::new(),
            semaphores: Mutex::new(HashMap::new()),
        })
    }

    fn security(&self) -> Option<Security> {
        self.mode
            .and_then(|mode| Security::for_mode(mode, Grant::Sync).ok())
    }

    fn table(&self) -> Option<&WaitTable> {
        self.table
            .get_or_init(|| {
                let security = self.security();
                let (section, _) = create_section(
                    &companion(&self.object, "wait"),
                    None,
                    security.as_ref(),
                    std::mem::size_of::<WaitTable>() as u64,
                    PAGE_READWRITE,
                )
                .ok()?;
                SharedView::map(section, true).ok()
            })
            .as_ref()
            .map(SharedView::get)
    }

    /// The count of `offset`'s word; with `claim`, made if missing.
    fn slot(&self, offset: u64, claim: bool) -> Option<&WaitSlot> {
        let table = self.table()?;
        let key = offset.wrapping_add(1);
        let start = ((offset >> 2).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
        for i in 0..WAIT_SLOTS {
            let slot = &table.slots[(start + i) % WAIT_SLOTS];
            // Relaxed: the key only names the slot; the counts are ordered by
            // the SeqCst accesses in `wait` and `wake`.
            match slot.key.load(Ordering::Relaxed) {
                k if k == key => return Some(slot),
                0 if !claim => return None,
                0 => match slot
                    .key
                    .compare_exchange(0, key, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => return Some(slot),
                    Err(k) if k == key => return Some(slot),
                    Err(_) => {}
                },
                _ => {}
            }
        }
        None
    }

    fn semaphore(&self, offset: u64) -> Option<Arc<OwnedHandle>> {
        let mut semaphores = self.semaphores.lock().unwrap_or_else(|e| e.into_inner());
        semaphores
            .entry(offset)
            .or_insert_with(|| {
                let name = companion(&self.object, &format!("w{offset:x}"));
                let security = self.security();
                let attributes = security.as_ref().map(Security::attributes);
                // SAFETY: `name` is NUL-terminated; the attributes (if any)
                // point to a descriptor that outlives the call.
                let handle = unsafe {
                    CreateSemaphoreW(
                        attributes
                            .as_ref()
                            .map_or(std::ptr::null(), |a| a as *const _),
                        0,
                        SEMAPHORE_MAX,
                        name.as_ptr(),
                    )
                };
                owned(handle).map(Arc::new)
            })
            .clone()
    }

    fn wait(
        &self,
        word: &AtomicU32,
        offset: u64,
        expected: u32,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> bool {
        let slice = timeout.map_or(SHARED_SLICE, |t| t.min(SHARED_SLICE));
        let (Some(slot), Some(semaphore)) = (self.slot(offset, true), self.semaphore(offset))
        else {
            std::thread::sleep(slice.min(POLL));
            return before(deadline);
        };
        // SeqCst: pairs with the fence and count load in `wake` (see the
        // module docs).
        slot.waiters.fetch_add(1, Ordering::SeqCst);
        let woken = if word.load(Ordering::SeqCst) != expected {
            true
        } else {
            // SAFETY: an open semaphore handle.
            unsafe { WaitForSingleObject(raw(&semaphore), millis(slice)) == WAIT_OBJECT_0 }
        };
        // Never below zero, whatever a peer wrote.
        let _ = slot
            .waiters
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        woken || before(deadline)
    }

    fn wake(&self, offset: u64, all: bool) {
        // SeqCst: orders the caller's change of the word before the count
        // load (see the module docs).
        fence(Ordering::SeqCst);
        let Some(slot) = self.slot(offset, false) else {
            return;
        };
        let waiters = slot.waiters.load(Ordering::SeqCst);
        if waiters == 0 {
            return;
        }
        let Some(semaphore) = self.semaphore(offset) else {
            return;
        };
        let count = if all {
            i32::try_from(waiters)
                .unwrap_or(SEMAPHORE_MAX)
                .min(SEMAPHORE_MAX)
        } else {
            1
        };
        // Failure (the semaphore is at its maximum) means sleepers will wake
        // anyway.
        // SAFETY: an open semaphore handle; no previous count is asked for.
        unsafe { ReleaseSemaphore(raw(&semaphore), count, std::ptr::null_mut()) };
    }
}

/// Whether `deadline` has not passed yet.
fn before(deadline: Option<Instant>) -> bool {
    deadline.is_none_or(|d| Instant::now() < d)
}

/// The time left until `deadline`: `Some(None)` without a deadline, `None`
/// once it has passed.
fn remaining(deadline: Option<Instant>) -> Option<Option<Duration>> {
    match deadline {
        None => Some(None),
        Some(deadline) => {
            let now = Instant::now();
            (now < deadline).then(|| Some(deadline - now))
        }
    }
}

/// A duration in whole milliseconds, rounded up, below `INFINITE`.
fn millis(d: Duration) -> u32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).unwrap_or(INFINITE - 1).min(INFINITE - 1)
}

/// Waits until `word` may have changed from `expected`, someone wakes it, or
/// `deadline` passes (`None`: no deadline). Returns `false` when the deadline
/// had passed, `true` otherwise; either way the caller re-checks its word.
pub(crate) fn wait_on(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
    let Some(timeout) = remaining(deadline) else {
        return false;
    };
    let address = word as *const AtomicU32 as usize;
    if let Some((domain, offset)) = lookup(address) {
        return domain.wait(word, offset, expected, deadline, timeout);
    }
    // SAFETY: `word` and `expected` are valid 4-byte locations for the
    // duration of the call.
    let woken = unsafe {
        WaitOnAddress(
            word.as_ptr().cast(),
            (&expected as *const u32).cast(),
            4,
            timeout.map_or(INFINITE, millis),
        )
    } != 0;
    woken || before(deadline)
}

/// Waits until any of `words` may have changed from its expected value,
/// someone wakes one, or `deadline` passes: one `WaitForMultipleObjects`
/// over the words' semaphores, each word's sleeper count raised first
/// exactly as [`wait_on`] raises one (so every waker of any of the words
/// releases a semaphore this thread waits on). Returns `false` when the
/// deadline had passed. More words than the call takes (64), or a word
/// outside a shared view (`WaitOnAddress` cannot be mixed with handles),
/// fall back to [`crate::sys::wait_on_any_by_polling`].
pub(crate) fn wait_on_any(words: &[(&AtomicU32, u32)], deadline: Option<Instant>) -> bool {
    wait_on_words_and(None, words, deadline)
}

/// [`wait_on_any`], with `extra` (an event) in the same wait when given:
/// its being signalled also ends the wait. The fallback, with `extra`,
/// looks at the words every millisecond while sleeping on `extra`.
fn wait_on_words_and(
    extra: Option<HANDLE>,
    words: &[(&AtomicU32, u32)],
    deadline: Option<Instant>,
) -> bool {
    /// `MAXIMUM_WAIT_OBJECTS`.
    const MAX: usize = 64;
    let Some(timeout) = remaining(deadline) else {
        return false;
    };
    let room = MAX - usize::from(extra.is_some());
    let fallback = |words: &[(&AtomicU32, u32)]| match extra {
        Some(event) => poll_words_on(event, words, deadline),
        None => crate::sys::wait_on_any_by_polling(words, deadline),
    };
    if words.is_empty() || words.len() > room {
        return fallback(words);
    }
    let mut domains = Vec::with_capacity(words.len());
    for (word, _) in words {
        match lookup(*word as *const AtomicU32 as usize) {
            Some(found) => domains.push(found),
            None => return fallback(words),
        }
    }
    let mut slots = Vec::with_capacity(words.len());
    let mut semaphores = Vec::with_capacity(words.len());
    for (domain, offset) in &domains {
        match (domain.slot(*offset, true), domain.semaphore(*offset)) {
            (Some(slot), Some(semaphore)) => {
                slots.push(slot);
                semaphores.push(semaphore);
            }
            _ => return fallback(words),
        }
    }
    let handles: Vec<HANDLE> = semaphores.iter().map(|s| raw(s)).chain(extra).collect();
    let slice = timeout.map_or(SHARED_SLICE, |t| t.min(SHARED_SLICE));
    for slot in &slots {
        // SeqCst: pairs with the fence and count load in `wake`, as in
        // `WaitDomain::wait`.
        slot.waiters.fetch_add(1, Ordering::SeqCst);
    }
    let changed = words
        .iter()
        .any(|(word, expected)| word.load(Ordering::SeqCst) != *expected);
    let woken = changed || {
        // SAFETY: `handles` holds `handles.len()` (at most 64) open handles:
        // the semaphores, kept open by `semaphores`, and `extra`, kept open
        // by the caller, for the duration of the call.
        let result = unsafe {
            WaitForMultipleObjects(handles.len() as u32, handles.as_ptr(), 0, millis(slice))
        };
        result < WAIT_OBJECT_0 + handles.len() as u32
    };
    for slot in &slots {
        // Never below zero, whatever a peer wrote.
        let _ = slot
            .waiters
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
    woken || before(deadline)
}

/// The fallback of [`wait_on_words_and`] with an event: returns at once if
/// a word moved, else sleeps on `event` for at most [`POLL`], so that a
/// word that moves is seen within a millisecond and the event at once.
fn poll_words_on(event: HANDLE, words: &[(&AtomicU32, u32)], deadline: Option<Instant>) -> bool {
    let Some(timeout) = remaining(deadline) else {
        return false;
    };
    if words
        .iter()
        .any(|(word, expected)| word.load(Ordering::Acquire) != *expected)
    {
        return true;
    }
    let slice = if words.is_empty() {
        // The event alone: nothing to look at meanwhile.
        timeout.map_or(INFINITE, millis)
    } else {
        millis(timeout.map_or(POLL, |t| t.min(POLL)))
    };
    // SAFETY: `event` is an open event handle, kept open by the caller.
    let signalled = unsafe { WaitForSingleObject(event, slice) } == WAIT_OBJECT_0;
    signalled || before(deadline)
}

/// What a sleeper saw of a [`LocalBell`] before it looked at what the bell
/// guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BellMark(u32);

/// A process-local bell slept on together with shared words (the
/// contract is in `sys/bell.rs`, the Unix one). Here it is an auto-reset
/// event in the `WaitForMultipleObjects` set of the words' semaphores:
/// signalled by [`LocalBell::ring`], it stays signalled until the sleeper's
/// wait takes it, so a ring between the mark and the wait is not lost. A
/// process-local word could not be in that set (it has no semaphore, and
/// `WaitOnAddress` cannot be mixed with handles), which made every wait with
/// the bell fall back to polling every millisecond.
///
/// If the event cannot be made (the process is out of handles), the bell
/// is a plain word and waits with it poll every millisecond, as before.
#[derive(Debug)]
pub(crate) struct LocalBell {
    /// Bumped by every ring: the mark, and the whole bell without an event.
    word: AtomicU32,
    event: Option<OwnedHandle>,
}

impl LocalBell {
    /// A bell that has not rung.
    pub(crate) fn new() -> LocalBell {
        // SAFETY: no attributes, no name: a new unnamed auto-reset event
        // (bManualReset = 0), not signalled (bInitialState = 0).
        let event = owned(unsafe { CreateEventW(std::ptr::null(), 0, 0, std::ptr::null()) });
        LocalBell {
            word: AtomicU32::new(0),
            event,
        }
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
        match &self.event {
            // Failure leaves the sleeper to its slice's end; a set event
            // cannot fail short of a closed handle, which `self` prevents.
            // SAFETY: an open event handle.
            Some(event) => unsafe {
                SetEvent(raw(event));
            },
            None => wake_all(&self.word),
        }
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
        let Some(event) = &self.event else {
            if words.is_empty() {
                return wait_on(&self.word, mark.0, deadline);
            }
            let all: Vec<(&AtomicU32, u32)> = std::iter::once((&self.word, mark.0))
                .chain(words.iter().copied())
                .collect();
            return crate::sys::wait_on_any_by_polling(&all, deadline);
        };
        // Acquire: as in `mark`. A ring since the mark also left the event
        // signalled; this only saves the system call.
        if self.word.load(Ordering::Acquire) != mark.0 {
            return true;
        }
        wait_on_words_and(Some(raw(event)), words, deadline)
    }
}

/// Wakes every thread, in any process, waiting on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    match lookup(word as *const AtomicU32 as usize) {
        Some((domain, offset)) => domain.wake(offset, true),
        // SAFETY: any address may be passed; it is only used as a key.
        None => unsafe { WakeByAddressAll(word.as_ptr().cast()) },
    }
}

/// Wakes at most one thread, in any process, waiting on `word`.
pub(crate) fn wake_one(word: &AtomicU32) {
    match lookup(word as *const AtomicU32 as usize) {
        Some((domain, offset)) => domain.wake(offset, false),
        // SAFETY: any address may be passed; it is only used as a key.
        None => unsafe { WakeByAddressSingle(word.as_ptr().cast()) },
    }
}

// ---------------------------------------------------------------------------
// The registry of shared views

struct Registered {
    end: usize,
    /// Offset in the object of the view's first byte.
    object_offset: u64,
    domain: Arc<WaitDomain>,
}

static REGIONS: RwLock<BTreeMap<usize, Registered>> = RwLock::new(BTreeMap::new());

/// Enters a shared view (`map.rs`), so that waits on its words find its object.
pub(super) fn register(base: usize, len: usize, object_offset: u64, domain: Arc<WaitDomain>) {
    let mut regions = REGIONS.write().unwrap_or_else(|e| e.into_inner());
    regions.insert(
        base,
        Registered {
            end: base + len,
            object_offset,
            domain,
        },
    );
}

/// Takes a view out again, before it is unmapped.
pub(super) fn unregister(base: usize) {
    let mut regions = REGIONS.write().unwrap_or_else(|e| e.into_inner());
    regions.remove(&base);
}

/// The object that the shared view containing `address` belongs to, and
/// the offset of `address` in that object; `None` for any other memory.
fn lookup(address: usize) -> Option<(Arc<WaitDomain>, u64)> {
    let regions = REGIONS.read().unwrap_or_else(|e| e.into_inner());
    let (base, region) = regions.range(..=address).next_back()?;
    (address < region.end).then(|| {
        (
            Arc::clone(&region.domain),
            region.object_offset + (address - base) as u64,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_waits_time_out_and_see_changed_values() {
        let word = AtomicU32::new(5);
        assert!(wait_on(
            &word,
            4,
            Some(Instant::now() + Duration::from_secs(5))
        ));
        assert!(!wait_on(&word, 5, Some(Instant::now())));
        let deadline = Instant::now() + Duration::from_millis(30);
        while wait_on(&word, 5, Some(deadline)) {}
        assert!(Instant::now() >= deadline);
        wake_one(&word);
        wake_all(&word);
    }

    #[test]
    fn shared_words_are_waited_on_together_in_one_call() {
        let name = format!("unit-wait-any-{}", std::process::id());
        let mapping = crate::Mapping::create(&name, 4096).unwrap();
        let view = mapping.view_all().unwrap();
        let (a, b) = (view.atomic_u32(0).unwrap(), view.atomic_u32(128).unwrap());
        // Nothing moves: one sleep of a whole slice in the kernel, not the
        // 1 ms naps of the polling fallback.
        let started = Instant::now();
        assert!(wait_on_any(
            &[(a, 0), (b, 0)],
            Some(started + Duration::from_secs(10))
        ));
        assert!(started.elapsed() >= SHARED_SLICE - Duration::from_millis(5));
        // A changed word returns at once; a passed deadline says so.
        b.store(1, Ordering::SeqCst);
        assert!(wait_on_any(&[(a, 0), (b, 0)], None));
        assert!(!wait_on_any(&[(a, 0), (b, 1)], Some(Instant::now())));
        // A wake of the second word releases a sleeper on both.
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let deadline = Instant::now() + Duration::from_secs(10);
                while b.load(Ordering::SeqCst) == 1 {
                    wait_on_any(&[(a, 0), (b, 1)], Some(deadline));
                    assert!(Instant::now() < deadline, "never woken");
                }
            });
            b.store(2, Ordering::SeqCst);
            wake_all(b);
            waiter.join().unwrap();
        });
        // A word outside any shared view falls back to polling, and works.
        let local = AtomicU32::new(3);
        assert!(wait_on_any(&[(a, 0), (&local, 4)], None));
    }

    #[test]
    fn a_bell_with_shared_words_sleeps_in_the_kernel_until_rung() {
        let name = format!("unit-bell-{}", std::process::id());
        let mapping = crate::Mapping::create(&name, 4096).unwrap();
        let view = mapping.view_all().unwrap();
        let a = view.atomic_u32(0).unwrap();
        let bell = LocalBell::new();
        assert!(bell.event.is_some(), "no event for the bell");
        // Nothing happens: one sleep of a whole slice, not the 1 ms naps of
        // the polling fallback (which a local word in the set forced).
        let started = Instant::now();
        let mark = bell.mark();
        assert!(bell.wait(mark, &[(a, 0)], Some(started + Duration::from_secs(10))));
        assert!(
            started.elapsed() >= SHARED_SLICE - Duration::from_millis(5),
            "woke after {:?}",
            started.elapsed()
        );
        // The bell alone sleeps to its deadline.
        let started = Instant::now();
        assert!(!bell.wait(mark, &[], Some(started + Duration::from_millis(100))));
        assert!(started.elapsed() >= Duration::from_millis(95));
        // A ring from another thread ends a sleep that has no deadline.
        let mark = bell.mark();
        std::thread::scope(|scope| {
            let sleeper = scope.spawn(|| {
                let started = Instant::now();
                while bell.mark() == mark {
                    bell.wait(mark, &[(a, 0)], None);
                    assert!(started.elapsed() < Duration::from_secs(20), "never rung");
                }
            });
            bell.ring();
            sleeper.join().unwrap();
        });
    }

    #[test]
    fn millis_round_up_and_stay_finite() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_nanos(1)), 1);
        assert_eq!(millis(Duration::from_millis(7)), 7);
        assert_eq!(millis(Duration::MAX), INFINITE - 1);
    }
}
