//! Every structure that lives in shared memory, in one place.
//!
//! Rules (see STYLE.md): `#[repr(C)]`, fixed-width fields, no pointers,
//! magic or tag words so that a wrong or uninitialised region is recognised,
//! one padding size ([`LINE`], 128 bytes on every target: two 64-byte cache
//! lines, which also defeats the adjacent-line prefetcher and matches the
//! 128-byte lines of some ARM cores), and `const` asserts on sizes and
//! offsets, so that a change to a layout is a compile error here rather than
//! a silent incompatibility between two builds.
//!
//! Every field is an atomic (or, for a seqlock's value, bytes that are only
//! ever copied with atomic loads and stores). Every bit pattern is therefore a
//! valid value: a hostile or corrupted peer can make these objects behave
//! wrongly, never make this process read uninitialised memory, tear a Rust
//! value or race non-atomically.
//!
//! Placing a structure over a view is [`place`], which checks access, bounds
//! and alignment and ties the reference to the view's lifetime.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::{align_of, offset_of, size_of};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8};

use bytemuck::Pod;

use crate::bytes::{load_shared, store_shared};
use crate::error::{Error, Result};
use crate::mapping::View;
use crate::types::Access;

/// The padding and alignment unit of shared structures, in bytes.
pub(crate) const LINE: usize = 128;

/// Bytes nobody reads, made of atomics so that a peer writing them anyway
/// does not break the rules of shared references.
#[repr(C)]
pub(crate) struct Pad<const N: usize>([AtomicU8; N]);

/// Types that may be placed over bytes of a view that other processes share.
///
/// # Safety
///
/// An implementor must be `#[repr(C)]`; every field must be an atomic, a
/// [`Pad`], or an `UnsafeCell` of a [`Pod`] type whose bytes are only ever
/// read and written with [`load_shared`] / [`store_shared`]. So every bit
/// pattern is a valid value, concurrent access from other processes is never
/// a data race, and the type has no drop glue. It must also be `Sync`.
pub(crate) unsafe trait Shared: Sync {}

/// Checks that `view` can hold a `T` at `offset` (relative to the view) and
/// returns it. `what` names the object in errors ("event", ...).
///
/// The view must be read-write: every shared primitive writes its state, and
/// a private (copy-on-write) view would silently stop sharing.
pub(crate) fn place<'v, T: Shared>(
    view: &'v View,
    offset: usize,
    what: &'static str,
) -> Result<&'v T> {
    if view.access() != Access::ReadWrite {
        return Err(Error::AccessMismatch {
            name: format!("{} (for the {what})", view.name()),
            what: "view",
            requested: Access::ReadWrite,
            granted: view.access(),
        });
    }
    let size = size_of::<T>();
    match offset.checked_add(size) {
        Some(end) if end <= view.len() => {}
        _ => {
            return Err(Error::OutOfRange {
                name: format!("{} ({what} of {size} bytes)", view.name()),
                offset: offset as u64,
                len: size as u64,
                size: view.len() as u64,
            })
        }
    }
    // In bounds (checked above), so this stays inside the view.
    let addr = (view.as_ptr() as usize).wrapping_add(offset);
    if !addr.is_multiple_of(align_of::<T>()) {
        return Err(Error::invalid_argument(format!(
            "offset {offset} in a view of {} is not {}-byte aligned, as the {what} must be",
            view.name(),
            align_of::<T>()
        )));
    }
    // SAFETY: `offset + size_of::<T>()` lies inside the view (checked above),
    // which stays mapped, readable and writable for as long as `view` is
    // borrowed, which bounds the returned reference; the address is aligned
    // for `T`; and `T: Shared` is valid for every bit pattern and tolerates
    // concurrent writes from other processes, since all of its bytes are
    // atomics or only copied atomically.
    Ok(unsafe { &*(view.as_ptr().add(offset) as *const T) })
}

/// A `T` placed in a view that this value owns: an owning handle, for named
/// objects that carry their own mapping.
pub(crate) struct Anchored<T: Shared> {
    view: View,
    ptr: NonNull<T>,
    _marker: PhantomData<T>,
}

impl<T: Shared> Anchored<T> {
    /// Places a `T` at `offset` of `view` (see [`place`]) and keeps the view.
    pub(crate) fn new(view: View, offset: usize, what: &'static str) -> Result<Self> {
        let ptr = NonNull::from(place::<T>(&view, offset, what)?);
        Ok(Anchored {
            view,
            ptr,
            _marker: PhantomData,
        })
    }

    /// The view that holds the object.
    pub(crate) fn view(&self) -> &View {
        &self.view
    }
}

impl<T: Shared> Deref for Anchored<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `ptr` was checked by `place` against `self.view`, which this
        // value owns: the mapping stays at the same address until the view is
        // dropped with `self`, and `T: Shared` is valid for any contents.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Shared> std::fmt::Debug for Anchored<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchored")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

// SAFETY: the pointer is into a mapping owned by the `View` (which is `Send`),
// and `T: Shared` is `Sync`, so handing the pair to another thread hands over
// nothing thread-bound.
unsafe impl<T: Shared> Send for Anchored<T> {}
// SAFETY: shared access only produces `&T`, and `T: Sync`.
unsafe impl<T: Shared> Sync for Anchored<T> {}

// ---------------------------------------------------------------------------
// Tags: the first words that say what an initialised region holds.

/// Tag of an auto-reset [`Event`](crate::Event): `"EvtA"`.
pub(crate) const TAG_EVENT_AUTO: u32 = u32::from_le_bytes(*b"EvtA");
/// Tag of a manual-reset [`Event`](crate::Event): `"EvtM"`.
pub(crate) const TAG_EVENT_MANUAL: u32 = u32::from_le_bytes(*b"EvtM");
/// Tag of a [`RobustMutex`](crate::RobustMutex): `"RMtx"`.
pub(crate) const TAG_MUTEX: u32 = u32::from_le_bytes(*b"RMtx");
/// Tag of a [`SeqLock`](crate::SeqLock): `"SeqL"`.
pub(crate) const TAG_SEQLOCK: u32 = u32::from_le_bytes(*b"SeqL");

/// What an unknown tag word most likely is, for error messages.
pub(crate) fn describe_tag(tag: u32) -> &'static str {
    match tag {
        0 => "uninitialised memory",
        TAG_EVENT_AUTO | TAG_EVENT_MANUAL => "event",
        TAG_MUTEX => "robust mutex",
        TAG_SEQLOCK => "seqlock",
        _ => "unrecognised bytes",
    }
}

// ---------------------------------------------------------------------------
// Event

/// An event that lives in shared memory: threads of any process wait on it,
/// and [`set`](Event::set), [`notify_one`](Event::notify_one) or
/// [`notify_all`](Event::notify_all) release them, with the auto-reset or
/// manual-reset behaviour of a Windows event ([`EventKind`](crate::EventKind)).
///
/// Made with [`Event::init_in`] in a read-write view and found again with
/// [`Event::attach`] (see [`crate::sync`]); [`NamedEvent`](crate::NamedEvent)
/// is an event with a name of its own. Waiting parks the thread on a shared
/// futex after a short spin; `set` makes no system call when nobody waits.
/// Spurious wake-ups are handled inside: a wait returns `true` only when the
/// event released it.
///
/// ```
/// use memlink::{Event, EventKind, Mapping};
/// use std::time::Duration;
/// # let name = format!("doc-event-{}", std::process::id());
///
/// let mapping = Mapping::create(&name, 4096)?;
/// let view = mapping.view_all()?;
/// let event = Event::init_in(&view, 0, EventKind::AutoReset)?;
///
/// std::thread::scope(|s| {
///     // A waiter, here a thread; normally another process that opened the
///     // mapping and called `Event::attach`.
///     let waiter = s.spawn(|| event.wait_timeout(Duration::from_secs(5)));
///     event.set();
///     assert!(waiter.join().unwrap());
/// });
/// # Ok::<(), memlink::Error>(())
/// ```
#[repr(C, align(128))]
pub struct Event {
    /// The state word (the futex): signalled bit, pulse bit, waiter count,
    /// notify epoch.
    pub(crate) state: AtomicU32,
    /// [`TAG_EVENT_AUTO`] or [`TAG_EVENT_MANUAL`], written last by `init_in`.
    pub(crate) tag: AtomicU32,
    _pad: Pad<{ LINE - 8 }>,
}

const _: () = {
    assert!(size_of::<Event>() == LINE);
    assert!(align_of::<Event>() == LINE);
    assert!(offset_of!(Event, state) == 0);
    assert!(offset_of!(Event, tag) == 4);
};

// SAFETY: `repr(C)`, atomics and padding only.
unsafe impl Shared for Event {}

// ---------------------------------------------------------------------------
// Robust mutex

/// A mutex in shared memory that survives the death of its owner.
///
/// When the owning process dies (even by `kill -9`) while holding the lock,
/// the next locker gets the lock within about 100 ms with
/// [`MutexGuard::owner_died`](crate::MutexGuard::owner_died) set. It repairs
/// the protected state and calls
/// [`mark_consistent`](crate::MutexGuard::mark_consistent); if it drops the
/// guard without doing so, the mutex becomes permanently unusable
/// ([`Error::NotRecoverable`](crate::Error::NotRecoverable)), as with POSIX
/// robust mutexes. Every lock can have a deadline, and no process's death
/// leaves a locker blocked.
///
/// It guards no data of its own: the protected state is whatever the
/// processes agree on, usually other bytes of the same mapping. It is not a
/// `pthread_mutex_t`: its words are plain atomics, so a corrupted segment can
/// make it misbehave but never hang or crash this process inside libc.
/// Ownership is per process and the lock is not reentrant; the limits of
/// owner-death detection (pid namespaces, `/proc`) are listed under
/// [`RobustMutex::lock`].
///
/// ```
/// use memlink::{Mapping, RobustMutex};
/// use std::time::Duration;
/// # let name = format!("doc-mutex-{}", std::process::id());
///
/// let mapping = Mapping::create(&name, 4096)?;
/// let view = mapping.view_all()?;
/// let mutex = RobustMutex::init_in(&view, 0)?; // other processes: attach
///
/// match mutex.lock_timeout(Duration::from_secs(1))? {
///     Some(mut guard) => {
///         if guard.owner_died() {
///             view.write_at(128, &[0; 8])?; // repair: back to a known state
///             guard.mark_consistent();
///         }
///         view.write_at(128, &42u64.to_ne_bytes())?;
///     }
///     None => println!("someone alive holds it"),
/// }
/// # Ok::<(), memlink::Error>(())
/// ```
#[repr(C, align(128))]
pub struct RobustMutex {
    /// The state word (the futex): owner pid and flag bits.
    pub(crate) state: AtomicU32,
    /// [`TAG_MUTEX`], written last by `init_in`.
    pub(crate) tag: AtomicU32,
    /// The owner's identity, `pid << 32 | low 32 bits of its start time`,
    /// published by the owner after it acquires and cleared before it
    /// releases; 0 when nobody has published.
    pub(crate) owner: AtomicU64,
    /// The pid namespace (inode) in which owners' pids are meaningful, set by
    /// `init_in`; 0 when it could not be determined.
    pub(crate) home_ns: AtomicU64,
    _pad: Pad<{ LINE - 24 }>,
}

const _: () = {
    assert!(size_of::<RobustMutex>() == LINE);
    assert!(align_of::<RobustMutex>() == LINE);
    assert!(offset_of!(RobustMutex, state) == 0);
    assert!(offset_of!(RobustMutex, tag) == 4);
    assert!(offset_of!(RobustMutex, owner) == 8);
    assert!(offset_of!(RobustMutex, home_ns) == 16);
};

// SAFETY: `repr(C)`, atomics and padding only.
unsafe impl Shared for RobustMutex {}

// ---------------------------------------------------------------------------
// SeqLock

/// A snapshot of a plain-data value in shared memory, published by one
/// writer and copied by any number of readers.
///
/// The writer ([`SeqLock::write`]) never blocks; a reader
/// ([`SeqLock::read`], [`SeqLock::try_read`], [`SeqLock::read_timeout`])
/// retries while a write overlaps its copy and never returns a torn value.
/// The value is copied with atomic loads and stores, so overlapping access is
/// never a data race. `T` must be [`bytemuck::Pod`]. Made with
/// [`SeqLock::init_in`], found again with [`SeqLock::attach`]; see
/// [`SeqLock::init_in`] for an example.
///
/// Its size is 16 bytes of header plus the value, rounded up to a multiple of
/// 128; the value starts at offset 16 (or at its own alignment, if larger).
#[repr(C, align(128))]
pub struct SeqLock<T> {
    /// Even: stable; odd: a write is in progress. Bumped twice per write.
    pub(crate) seq: AtomicU64,
    /// [`TAG_SEQLOCK`], written last by `init_in`.
    pub(crate) tag: AtomicU32,
    /// `size_of::<T>()` of the creator, checked by `attach`.
    pub(crate) value_size: AtomicU32,
    /// Only ever copied with [`load_shared`] / [`store_shared`].
    value: UnsafeCell<T>,
}

const _: () = {
    assert!(offset_of!(SeqLock<[u8; 1]>, seq) == 0);
    assert!(offset_of!(SeqLock<[u8; 1]>, tag) == 8);
    assert!(offset_of!(SeqLock<[u8; 1]>, value_size) == 12);
    assert!(offset_of!(SeqLock<[u8; 1]>, value) == 16);
    assert!(size_of::<SeqLock<[u8; 1]>>() == LINE);
    assert!(size_of::<SeqLock<[u64; 14]>>() == LINE);
    assert!(size_of::<SeqLock<[u64; 15]>>() == 2 * LINE);
    assert!(align_of::<SeqLock<u8>>() == LINE);
};

// SAFETY: the value is only reached through `load_value` / `store_value`,
// which copy it with atomic loads and stores; every other field is atomic. A
// `T: Send` value may be copied out in any thread.
unsafe impl<T: Pod + Send> Sync for SeqLock<T> {}
// SAFETY: `repr(C)`; atomics, and a `Pod` value (valid for every bit pattern)
// that is only copied atomically; `Sync` above.
unsafe impl<T: Pod + Send> Shared for SeqLock<T> {}

impl<T: Pod> SeqLock<T> {
    /// Copies the value out, with relaxed atomic loads. The result may be torn
    /// when a write overlaps; the seqlock protocol detects that.
    pub(crate) fn load_value(&self) -> T {
        let mut value = T::zeroed();
        // SAFETY: the value's bytes lie inside `self`, which is placed in a
        // mapped view for as long as `&self` lives; `load_shared` reads them
        // only with atomic loads, and `T: Pod` accepts any bytes.
        unsafe {
            load_shared(
                self.value.get() as *const u8,
                bytemuck::bytes_of_mut(&mut value),
            )
        };
        value
    }

    /// Copies `value` in, with relaxed atomic stores.
    pub(crate) fn store_value(&self, value: &T) {
        // SAFETY: the value's bytes lie inside `self`, which is placed in a
        // writable view (`place` refuses others) mapped for as long as `&self`
        // lives; `store_shared` writes them only with atomic stores.
        unsafe { store_shared(self.value.get() as *mut u8, bytemuck::bytes_of(value)) };
    }
}

// ---------------------------------------------------------------------------
// The header of named memlink objects

/// The first 8 bytes of every named memlink object: `"memlink\0"`.
pub(crate) const OBJECT_MAGIC: u64 = u64::from_ne_bytes(*b"memlink\0");

/// Kinds of named memlink objects (the `kind` word of [`ObjectHeader`]).
pub(crate) mod kind {
    /// A named event ([`crate::NamedEvent`]).
    pub(crate) const EVENT: u32 = 1;
    /// A wait set's doorbell (`channel::doorbell`).
    pub(crate) const DOORBELL: u32 = 2;
}

/// What an object kind is called, for error messages.
pub(crate) fn kind_name(kind: u32) -> &'static str {
    match kind {
        kind::EVENT => "event",
        kind::DOORBELL => "wait-set doorbell",
        _ => "memlink object of an unknown kind",
    }
}

/// The header that starts every named memlink object (not plain mappings):
/// magic, kind, layout version of that kind, and the object's total size.
///
/// The creator writes it before the name is published (see
/// `MappingOptions::create_initialized`), so an opener never sees a partial
/// header; it is validated on every open all the same, since any process
/// with write access could have scribbled over it.
#[repr(C, align(128))]
pub(crate) struct ObjectHeader {
    /// [`OBJECT_MAGIC`], written last.
    pub(crate) magic: AtomicU64,
    /// One of [`kind`].
    pub(crate) kind: AtomicU32,
    /// The layout version of that kind.
    pub(crate) version: AtomicU32,
    /// The size in bytes the object was created with.
    pub(crate) size: AtomicU64,
    _pad: Pad<{ LINE - 24 }>,
}

const _: () = {
    assert!(size_of::<ObjectHeader>() == LINE);
    assert!(offset_of!(ObjectHeader, magic) == 0);
    assert!(offset_of!(ObjectHeader, kind) == 8);
    assert!(offset_of!(ObjectHeader, version) == 12);
    assert!(offset_of!(ObjectHeader, size) == 16);
};

// SAFETY: `repr(C)`, atomics and padding only.
unsafe impl Shared for ObjectHeader {}

/// A named event: the header, then the event in the next line.
#[repr(C)]
pub(crate) struct NamedEventLayout {
    pub(crate) header: ObjectHeader,
    pub(crate) event: Event,
}

/// The layout version of [`NamedEventLayout`].
pub(crate) const NAMED_EVENT_VERSION: u32 = 1;

const _: () = {
    assert!(size_of::<NamedEventLayout>() == 2 * LINE);
    assert!(offset_of!(NamedEventLayout, header) == 0);
    assert!(offset_of!(NamedEventLayout, event) == LINE);
};

// SAFETY: `repr(C)` of two `Shared` structures.
unsafe impl Shared for NamedEventLayout {}

/// The word a wait set's doorbell is rung on, and whose doorbell it is.
#[repr(C, align(128))]
pub(crate) struct BellLine {
    /// Bumped (Release) by every ring, then woken; the wait set sleeps
    /// while it holds the value it read after announcing itself.
    pub(crate) word: AtomicU32,
    /// Unused.
    pub(crate) reserved: AtomicU32,
    /// The doorbell's identity (what wait sets write into wake lines), so
    /// that a waker checks it opened the doorbell it meant.
    pub(crate) id: AtomicU64,
    _pad: Pad<{ LINE - 16 }>,
}

/// A wait set's doorbell: the header, then its word in the next line.
#[repr(C)]
pub(crate) struct DoorbellLayout {
    pub(crate) header: ObjectHeader,
    pub(crate) bell: BellLine,
}

/// The layout version of [`DoorbellLayout`].
pub(crate) const DOORBELL_VERSION: u32 = 1;

const _: () = {
    assert!(size_of::<BellLine>() == LINE);
    assert!(size_of::<DoorbellLayout>() == 2 * LINE);
    assert!(offset_of!(DoorbellLayout, bell) == LINE);
    assert!(offset_of!(BellLine, id) == 8);
};

// SAFETY: `repr(C)`, atomics and padding only.
unsafe impl Shared for BellLine {}
// SAFETY: `repr(C)` of two `Shared` structures.
unsafe impl Shared for DoorbellLayout {}
