//! [`View`]: a mapped range of a mapping (the article's `MapViewOfFile`).
//!
//! Other processes may change a view's bytes at any moment, so safe code
//! never gets a `&[u8]` into it. Safe access is copy-in / copy-out
//! ([`View::read_at`], [`View::write_at`]) and atomics; raw pointers and
//! slices are `unsafe`, with the contract spelled out.
//!
//! The copies are made of relaxed atomic loads and stores (see
//! [`crate::bytes`]), so they are defined behaviour even while another thread
//! or process writes the same bytes: the result may then mix old and new
//! bytes, but it is never undefined. Publishing whole values consistently is
//! the job of the `sync` and `channel` layers.
//!
//! A view is only as safe as its object's size: a process with write access
//! that shrinks the object (`ftruncate`) makes every access to the pages it
//! cut off raise `SIGBUS` in every holder. memlink checks the size at open;
//! it cannot stop a trusted writer from shrinking it later.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::Held;
use crate::bytes::{load_shared, store_shared};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::sys::MappedRegion;
use crate::types::Access;

/// A mapped range of a [`Mapping`](super::Mapping). Unmapped on drop; keeps
/// the mapping alive (as a holder) while it exists.
///
/// ```
/// use memlink::Mapping;
/// use std::sync::atomic::Ordering;
/// # let name = format!("doc-view-{}", std::process::id());
///
/// let mapping = Mapping::create(&name, 8192)?;
/// let view = mapping.view(4000, 200)?; // offsets need no alignment
/// view.write_at(0, b"data ready")?;
/// let flag = view.atomic_u32(96)?; // 4000 + 96 is 4-byte aligned
/// flag.store(1, Ordering::Release);
/// view.flush()?;
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug)]
pub struct View {
    region: MappedRegion,
    held: Arc<Held>,
    offset: u64,
    len: usize,
    access: Access,
}

impl View {
    pub(super) fn new(
        region: MappedRegion,
        held: Arc<Held>,
        offset: u64,
        len: usize,
        access: Access,
    ) -> View {
        View {
            region,
            held,
            offset,
            len,
            access,
        }
    }

    /// The view's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: views are at least one byte long.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the view starts in its mapping.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The view's access.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The name of the mapping this view belongs to.
    pub fn name(&self) -> &Name {
        self.held.name()
    }

    /// Copies `buf.len()` bytes starting at `offset` (relative to the view)
    /// into `buf`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        // SAFETY: the range lies inside the mapping (checked above), which
        // stays mapped while `self` lives; `load_shared` only uses atomic
        // loads on it.
        unsafe { load_shared(self.region.ptr().add(offset), buf) };
        Ok(())
    }

    /// Copies `data` into the view at `offset` (relative to the view).
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        self.check_range(offset, data.len())?;
        // SAFETY: the range lies inside a writable mapping (checked above)
        // that stays mapped while `self` lives; `store_shared` only uses
        // atomic stores on it.
        unsafe { store_shared(self.region.ptr().add(offset), data) };
        Ok(())
    }

    /// Loads a `u32` at `offset`, which must be 4-byte aligned in memory.
    /// Works on every view, read-only ones included.
    pub fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32> {
        Ok(self.atomic_at::<AtomicU32>(offset)?.load(order))
    }

    /// Loads a `u64` at `offset`, which must be 8-byte aligned in memory.
    pub fn load_u64(&self, offset: usize, order: Ordering) -> Result<u64> {
        Ok(self.atomic_at::<AtomicU64>(offset)?.load(order))
    }

    /// The `u32` at `offset` as an atomic, for views that can be written.
    /// `offset` must be 4-byte aligned in memory.
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32> {
        self.check_writable()?;
        self.atomic_at(offset)
    }

    /// The `u64` at `offset` as an atomic, for views that can be written.
    /// `offset` must be 8-byte aligned in memory.
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64> {
        self.check_writable()?;
        self.atomic_at(offset)
    }

    /// Writes the view's changes back to the backing store and waits until
    /// they are there (the article's `FlushViewOfFile`, plus the file sync).
    /// For memory-backed mappings there is nothing to write back.
    pub fn flush(&self) -> Result<()> {
        self.flush_range(0, self.len)
    }

    /// Starts writing the view's changes back without waiting.
    pub fn flush_async(&self) -> Result<()> {
        self.flush_range_async(0, self.len)
    }

    /// Writes back `len` bytes from `offset` and waits.
    pub fn flush_range(&self, offset: usize, len: usize) -> Result<()> {
        self.flush_impl(offset, len, true)
    }

    /// Starts writing back `len` bytes from `offset` without waiting.
    pub fn flush_range_async(&self, offset: usize, len: usize) -> Result<()> {
        self.flush_impl(offset, len, false)
    }

    /// The first byte of the view.
    ///
    /// Reading or writing through it is up to the caller: other processes may
    /// write these bytes at any time, and a read-only view faults on writes.
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.ptr()
    }

    /// The view as a byte slice.
    ///
    /// # Safety
    ///
    /// For as long as the slice lives, no thread or process may write the
    /// view's bytes (Rust assumes the contents of a `&[u8]` do not change).
    /// Use it only when a protocol guarantees that, for example under a lock
    /// every writer takes.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the view maps `len` readable bytes for as long as `self`
        // lives; immutability is the caller's promise.
        unsafe { std::slice::from_raw_parts(self.region.ptr(), self.len) }
    }

    /// The view as a mutable byte slice.
    ///
    /// # Safety
    ///
    /// The view must be writable, and for as long as the slice lives no other
    /// thread or process may read or write the view's bytes.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the view maps `len` bytes for as long as `self` lives;
        // exclusivity and writability are the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.region.ptr(), self.len) }
    }

    fn flush_impl(&self, offset: usize, len: usize, sync: bool) -> Result<()> {
        self.check_range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        self.region
            .flush(offset, len, sync)
            .map_err(|source| Error::Os {
                operation: "flush",
                name: self.name().to_string(),
                source,
            })
    }

    fn atomic_at<A: SharedAtomic>(&self, offset: usize) -> Result<&A> {
        self.check_range(offset, std::mem::size_of::<A>())?;
        // SAFETY: in bounds (checked above), so the pointer is inside the
        // mapping.
        let ptr = unsafe { self.region.ptr().add(offset) };
        if !(ptr as usize).is_multiple_of(std::mem::align_of::<A>()) {
            return Err(Error::invalid_argument(format!(
                "offset {offset} in a view of {} is not {}-byte aligned",
                self.name(),
                std::mem::align_of::<A>()
            )));
        }
        // SAFETY: aligned, in bounds, mapped for as long as the returned
        // reference (tied to `&self`) lives; atomics may alias memory that
        // others access atomically.
        Ok(unsafe { &*ptr.cast::<A>() })
    }

    fn check_writable(&self) -> Result<()> {
        if self.access == Access::ReadOnly {
            return Err(Error::AccessMismatch {
                name: self.name().to_string(),
                what: "view",
                requested: Access::ReadWrite,
                granted: self.access,
            });
        }
        Ok(())
    }

    fn check_range(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::OutOfRange {
                name: self.name().to_string(),
                offset: offset as u64,
                len: len as u64,
                size: self.len as u64,
            }),
        }
    }
}

/// Atomic types that may be placed over shared bytes.
trait SharedAtomic {}
impl SharedAtomic for AtomicU32 {}
impl SharedAtomic for AtomicU64 {}
