//! Doorbells: the one word a [`WaitSet`](super::WaitSet) sleeps on, in a
//! tiny named object of its own, and the wakers' side that rings it.
//!
//! `futex_waitv` costs its setup per word (see `waitset.rs`): over 65
//! channels it made a set's wake-up 1.5 to 1.7 times as slow as a single
//! parked receiver's. With a doorbell the set announces itself in each
//! channel's wake line (`bell.rs`: the protocol) and sleeps on one word;
//! a waker that finds it announced opens the doorbell by name (once: the
//! mapping is cached), bumps its word and wakes it.
//!
//! # One doorbell per thread
//!
//! A wait set is cheap to build and is often built per wait (the benchmark
//! does), so the doorbell is not the set's but its thread's: made on the
//! thread's first wait that can use one, kept until the thread ends. Its
//! identity is the process id (high 32 bits) and a serial number that
//! starts at a random value in every process (low 32 bits, never 0): a
//! waker that cached the doorbell of a dead process whose pid was reused is
//! very unlikely to take the new one's for it, and if it did, it would find
//! the old owner dead at its next look (below) and let go of it.
//!
//! # What a waker trusts
//!
//! An identity read from a wake line is untrusted: any process that may
//! write the channel may have put anything there. A waker derives one name
//! from it, `memlink-bell-<pid>-<serial>`, in its own user's `Local\`
//! namespace, so it never opens anything but a doorbell of its own user;
//! and it accepts the object only with a doorbell's header (magic, kind,
//! version, size) and the identity it was looking for inside. Anything
//! else is remembered as unreachable for a liveness slice (so that a
//! hostile identity costs one failed open per slice, not per message), and
//! the waker falls back on the line's own word. Wait sets use doorbells
//! only on channels whose wakers can all reach them: owned by their user
//! and writable by nobody else (`sys::doorbell_reaches`).
//!
//! # A dead owner
//!
//! The owner holds an endpoint lock on its doorbell (slot 0), which the
//! kernel drops when the owner dies, `kill -9` included. A waker looks at
//! it when it first opens a doorbell and then at most once a liveness slice
//! while ringing it: a dead owner's announcement is cleared from the line
//! (the bounded cost of a killed wait set: its rings until then, one each
//! slice), the cached mapping dropped, and the name opened once more, which
//! removes a transient object that nobody holds (wakers never count as its
//! holders). So a killed wait set leaves no doorbell behind once a waker
//! has rung it again; and if none does, `memlink gc` sweeps it as any other
//! mapping of a dead process.

use std::cell::OnceCell;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::park;
use super::sync_prims::KernelFutex;
use super::wait::LIVENESS_SLICE;
use crate::error::{Error, Result};
use crate::layout::{
    self, kind, Anchored, DoorbellLayout, ObjectHeader, DOORBELL_VERSION, OBJECT_MAGIC,
};
use crate::mapping::{Mapping, MappingOptions, View};
use crate::sys;

/// The size of a doorbell's mapping.
const SIZE: usize = std::mem::size_of::<DoorbellLayout>();
const WHAT: &str = "wait-set doorbell";
/// Doorbells a process keeps open for ringing at once.
const CACHE_MAX: usize = 16;

/// The name of the doorbell with identity `id`: the only names a waker
/// ever opens for a doorbell.
pub(crate) fn name(id: u64) -> String {
    format!("memlink-bell-{}-{:08x}", id >> 32, id as u32)
}

/// A thread's own doorbell.
pub(crate) struct Doorbell {
    id: u64,
    bell: Anchored<DoorbellLayout>,
    /// Held while the owner lives: what wakers look at to tell a dead
    /// owner.
    _alive: sys::EndpointLock,
}

impl std::fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doorbell").field("id", &self.id).finish()
    }
}

impl Doorbell {
    /// Creates a doorbell with a fresh identity.
    fn create() -> Result<Doorbell> {
        // A name taken (by a dead process's doorbell not yet swept, with
        // the same pid and serial): take the next.
        let mut attempt = 0;
        let (id, mapping) = loop {
            let id = next_id();
            match MappingOptions::new()
                .size(SIZE as u64)
                .create_initialized(&name(id), |view| initialise(view, id))
            {
                Ok(mapping) => break (id, mapping),
                Err(Error::AlreadyExists { .. }) if attempt < 4 => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        let alive = sys::EndpointLock::try_acquire(mapping.object(), 0)
            .ok()
            .flatten()
            .ok_or_else(|| Error::Busy { name: name(id) })?;
        let bell = Anchored::new(mapping.view(0, SIZE as u64)?, 0, WHAT)?;
        Ok(Doorbell {
            id,
            bell,
            _alive: alive,
        })
    }

    /// The identity wait sets announce.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The word to sleep on.
    pub(crate) fn word(&self) -> &AtomicU32 {
        &self.bell.bell.word
    }
}

std::thread_local! {
    /// This thread's doorbell, made on first use (`None`: it could not be).
    static OWN: OnceCell<Option<Doorbell>> = const { OnceCell::new() };
}

/// Runs `f` with this thread's doorbell, made on first use (`None` if it
/// cannot be made, or the thread is ending).
pub(crate) fn with_own<T>(f: impl FnOnce(Option<&Doorbell>) -> T) -> T {
    let mut f = Some(f);
    let done = OWN.try_with(|own| {
        let bell = own.get_or_init(|| Doorbell::create().ok()).as_ref();
        f.take().map(|f| f(bell))
    });
    match (done, f) {
        (Ok(Some(value)), _) => value,
        (_, Some(f)) => f(None),
        (_, None) => unreachable!("the closure is taken only when it is called"),
    }
}

/// A fresh identity: this process's id and the next serial number, which
/// starts at a random value (see the module docs).
fn next_id() -> u64 {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish() as u32
    });
    loop {
        // Relaxed: a counter; uniqueness is all it gives.
        let serial = start.wrapping_add(SERIAL.fetch_add(1, Relaxed));
        if serial != 0 {
            return (u64::from(std::process::id()) << 32) | u64::from(serial);
        }
    }
}

/// Writes a new doorbell into `view` (the whole, still unpublished
/// mapping): the word and identity first, the header's magic last.
fn initialise(view: &View, id: u64) -> Result<()> {
    let bell = layout::place::<DoorbellLayout>(view, 0, WHAT)?;
    bell.bell.word.store(0, Relaxed);
    bell.bell.id.store(id, Relaxed);
    let header = &bell.header;
    header.kind.store(kind::DOORBELL, Relaxed);
    header.version.store(DOORBELL_VERSION, Relaxed);
    header.size.store(SIZE as u64, Relaxed);
    // Release: pairs with the Acquire load of the magic in `validate`.
    header.magic.store(OBJECT_MAGIC, Release);
    Ok(())
}

/// Checks, reading each field once, that `mapping` is the doorbell `id`.
fn validate(header: &ObjectHeader, bell: &DoorbellLayout, id: u64, mapping_size: u64) -> bool {
    // Acquire: pairs with the Release store in `initialise`.
    header.magic.load(Acquire) == OBJECT_MAGIC
        && header.kind.load(Relaxed) == kind::DOORBELL
        && header.version.load(Relaxed) == DOORBELL_VERSION
        && header.size.load(Relaxed) == SIZE as u64
        && mapping_size == SIZE as u64
        && bell.bell.id.load(Relaxed) == id
}

/// Another thread's doorbell, opened for ringing.
struct Remote {
    /// Not counted as a holder (see the module docs).
    mapping: Mapping,
    bell: Anchored<DoorbellLayout>,
}

impl Remote {
    /// Opens the doorbell `id`: `Err(true)` when there is none (its owner
    /// is gone), `Err(false)` when the name holds something else or cannot
    /// be opened.
    fn open(id: u64) -> std::result::Result<Remote, bool> {
        // No waiting on a doorbell its owner is removing right now: this
        // runs inside a send, and an announcement that cannot be reached is
        // tried again at most once per 40 ms anyway.
        let mapping = match MappingOptions::new()
            .busy_timeout(Duration::ZERO)
            .open(&name(id))
        {
            Ok(mapping) => mapping,
            Err(Error::NotFound { .. }) => return Err(true),
            Err(_) => return Err(false),
        };
        // Looking is all we do: our handle must not keep the name alive
        // after its owner (who would then never remove it).
        mapping.stop_holding();
        if mapping.size() != SIZE as u64 {
            return Err(false);
        }
        let view = mapping.view(0, SIZE as u64).map_err(|_| false)?;
        let bell = Anchored::<DoorbellLayout>::new(view, 0, WHAT).map_err(|_| false)?;
        if !validate(&bell.header, &bell, id, mapping.size()) {
            return Err(false);
        }
        Ok(Remote { mapping, bell })
    }

    /// Whether the owner still holds its doorbell (if the kernel cannot
    /// tell: yes, so that a live owner is never cut off).
    fn owner_alive(&self) -> bool {
        sys::any_endpoint_alive(self.mapping.object(), 0, 1).unwrap_or(true)
    }

    fn ring(&self) {
        // Relaxed: a diagnostic count.
        RINGS.fetch_add(1, Relaxed);
        park::wake(&KernelFutex, &self.bell.bell.word);
    }
}

/// A doorbell this process rang, as it found it.
struct Cached {
    id: u64,
    /// `None`: unreachable (not a doorbell of ours), until `checked` is a
    /// liveness slice old.
    remote: Option<Arc<Remote>>,
    /// When the owner's liveness (or the name) was last looked at.
    checked: Instant,
    /// For evicting the least recently rung.
    used: u64,
}

struct Cache {
    entries: Vec<Cached>,
    clock: u64,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    entries: Vec::new(),
    clock: 0,
});

/// Doorbells this process rang, and dead owners' announcements it cleared
/// (diagnostics; see [`super::doorbell_stats`]).
pub(crate) static RINGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub(crate) static CLEARED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What ringing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rung {
    /// Rung, or not a doorbell this process can ring (then the announcer
    /// is left to its liveness slice).
    Done,
    /// The doorbell's owner is gone: the announcement may be cleared.
    OwnerGone,
}

/// Rings doorbell `id` (read from a wake line: untrusted), opening it on
/// first use.
pub(crate) fn ring(id: u64) -> Rung {
    let now = Instant::now();
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.clock += 1;
    let clock = cache.clock;
    let found = cache.entries.iter().position(|c| c.id == id);
    if let Some(i) = found {
        let entry = &mut cache.entries[i];
        entry.used = clock;
        let fresh = now.saturating_duration_since(entry.checked) < LIVENESS_SLICE;
        match (&entry.remote, fresh) {
            (Some(remote), true) => {
                let remote = Arc::clone(remote);
                drop(cache);
                remote.ring();
                return Rung::Done;
            }
            (None, true) => return Rung::Done,
            (Some(remote), false) => {
                let remote = Arc::clone(remote);
                entry.checked = now;
                drop(cache);
                remote.ring();
                if remote.owner_alive() {
                    return Rung::Done;
                }
                forget(id);
                drop(remote);
                reclaim(id);
                return Rung::OwnerGone;
            }
            // Unreachable a slice ago: try again below.
            (None, false) => {
                cache.entries.swap_remove(i);
            }
        }
    }
    drop(cache);
    let remote = match Remote::open(id) {
        Ok(remote) => remote,
        Err(true) => return Rung::OwnerGone,
        Err(false) => {
            remember(id, None, now);
            return Rung::Done;
        }
    };
    remote.ring();
    if !remote.owner_alive() {
        drop(remote);
        reclaim(id);
        return Rung::OwnerGone;
    }
    remember(id, Some(Arc::new(remote)), now);
    Rung::Done
}

/// Caches what opening `id` found, evicting the least recently rung entry
/// when full.
fn remember(id: u64, remote: Option<Arc<Remote>>, now: Instant) {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.clock += 1;
    let used = cache.clock;
    cache.entries.retain(|c| c.id != id);
    if cache.entries.len() >= CACHE_MAX {
        if let Some(oldest) = (0..cache.entries.len()).min_by_key(|&i| cache.entries[i].used) {
            cache.entries.swap_remove(oldest);
        }
    }
    cache.entries.push(Cached {
        id,
        remote,
        checked: now,
        used,
    });
}

fn forget(id: u64) {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.entries.retain(|c| c.id != id);
}

/// Removes the doorbell of a dead owner: opening a transient object that
/// nobody holds removes it (see `sys`), and says `NotFound`.
fn reclaim(id: u64) {
    // Some(mapping): a live object by that name after all (a new owner's,
    // or something else); dropping our handle leaves it as it was.
    drop(Mapping::open(&name(id)));
}

/// How many doorbells this process keeps open for ringing (for tests).
#[cfg(test)]
pub(crate) fn cached() -> usize {
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entries
        .iter()
        .filter(|c| c.remote.is_some())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_identities_only() {
        assert_eq!(name(0x0000_1234_0000_00ab), "memlink-bell-4660-000000ab");
        assert_eq!(name(u64::MAX), "memlink-bell-4294967295-ffffffff");
        assert_ne!(next_id(), next_id());
    }

    #[test]
    fn a_doorbell_is_rung_and_its_owner_seen_alive() {
        let own = Doorbell::create().unwrap();
        let before = own.word().load(Acquire);
        assert_eq!(ring(own.id()), Rung::Done);
        assert_eq!(own.word().load(Acquire), before.wrapping_add(1));
        assert!(cached() >= 1);
        // Once closed, the name is gone and a ring says so.
        let id = own.id();
        drop(own);
        forget(id);
        assert_eq!(ring(id), Rung::OwnerGone);
    }

    #[test]
    fn anything_but_a_doorbell_is_not_rung() {
        // A plain mapping under a doorbell's name.
        let id = next_id();
        let plain = Mapping::create(&name(id), 256).unwrap();
        assert_eq!(ring(id), Rung::Done);
        assert!(CACHE
            .lock()
            .unwrap()
            .entries
            .iter()
            .any(|c| c.id == id && c.remote.is_none()));
        // A doorbell whose identity inside is another's.
        let other = next_id();
        let lying = MappingOptions::new()
            .size(SIZE as u64)
            .create_initialized(&name(other), |view| initialise(view, other ^ 1))
            .unwrap();
        assert_eq!(ring(other), Rung::Done);
        let bell = layout::place::<DoorbellLayout>(&lying.view_all().unwrap(), 0, WHAT)
            .map(|b| b.bell.word.load(Acquire))
            .unwrap();
        assert_eq!(bell, 0, "a doorbell with the wrong identity was rung");
        drop(plain);
    }
}
