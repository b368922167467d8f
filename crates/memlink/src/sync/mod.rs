//! Synchronisation primitives that live inside a mapping and work across
//! processes.
//!
//! * [`Event`]: wait / set / reset / notify, auto- or manual-reset like a
//!   Windows event, parked on a shared futex; no system call on `set` when
//!   nobody waits.
//! * [`NamedEvent`]: an event that is a named object of its own (a small
//!   mapping with a validated header): the article's "data is ready" message.
//! * [`RobustMutex`]: a lock whose next locker learns that the previous
//!   owner died (kill -9) while holding it, and can repair the state or give
//!   up; a dead owner never leaves anyone blocked.
//! * [`SeqLock`]: a snapshot of plain data that one writer publishes without
//!   ever blocking, and readers copy without ever seeing a torn value.
//!
//! # Placing a primitive in a mapping
//!
//! Each primitive is a `#[repr(C)]` structure of atomics, 128 bytes (or a
//! multiple) in size and 128-byte aligned, so two primitives never share a
//! cache line. One process initialises it in a read-write [`View`] with
//! `init_in(&view, offset, ..)`; the others `attach(&view, offset)`, which
//! checks the tag that `init_in` wrote. Both check bounds, alignment and
//! access and return a reference that lives as long as the view. Offsets are
//! relative to the view; a view made at a mapping offset that is a multiple
//! of 128 (0, for instance) keeps mapping offsets and alignment in step.
//!
//! ```
//! use memlink::{Event, EventKind, Mapping, RobustMutex};
//! # let name = format!("doc-sync-{}", std::process::id());
//!
//! let mapping = Mapping::create(&name, 4096)?;
//! let view = mapping.view_all()?;
//! let ready = Event::init_in(&view, 0, EventKind::AutoReset)?;
//! let lock = RobustMutex::init_in(&view, 128)?;
//!
//! // In another process: open the mapping by name, then attach.
//! let other = Mapping::open(&name)?.view_all()?;
//! let ready2 = Event::attach(&other, 0)?;
//! let lock2 = RobustMutex::attach(&other, 128)?;
//!
//! {
//!     let _guard = lock2.lock()?;
//!     other.write_at(256, b"payload")?;
//! }
//! ready2.set();
//! assert!(ready.wait_timeout(std::time::Duration::from_secs(1)));
//! let _guard = lock.lock()?;
//! # Ok::<(), memlink::Error>(())
//! ```
//!
//! # Trust
//!
//! Any process that can write the mapping can write these structures. Every
//! bit pattern is a valid value, so a hostile or buggy peer can make a
//! primitive misbehave (wake nobody, report a lock as held, publish garbage
//! through a seqlock) but never cause undefined behaviour, a panic or an
//! out-of-bounds access in this process. Waits with a deadline always end.
//!
//! [`View`]: crate::View

mod event;
mod future;
mod mutex;
mod named;
mod seqlock;
mod wait;

pub use event::EventKind;
pub(crate) use event::Registration;
pub use future::WaitFuture;
pub use mutex::MutexGuard;
pub use named::NamedEvent;

pub use crate::layout::{Event, RobustMutex, SeqLock};
