//! Views on Unix: `mmap` of any byte range, flush with `msync`, `munmap` on
//! drop.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

use rustix::mm::{madvise, mlock, mmap, msync, munmap, Advice, MapFlags, MsyncFlags, ProtFlags};

use crate::types::Access;

/// Extra work done when a view is mapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MapHints {
    /// Fault every page in now rather than on first touch.
    pub populate: bool,
    /// Keep the pages in RAM (`mlock`).
    pub lock: bool,
    /// Ask for transparent huge pages where the OS has them.
    pub huge_pages: bool,
}

/// The granularity that view offsets are rounded down to.
pub(crate) fn allocation_granularity() -> usize {
    rustix::param::page_size()
}

/// A mapped range of an object. The OS mapping starts `delta` bytes before
/// the range the caller asked for, at a page boundary.
#[derive(Debug)]
pub(crate) struct MappedRegion {
    base: NonNull<c_void>,
    map_len: usize,
    delta: usize,
}

// SAFETY: a `MappedRegion` is an address range owned by this value; nothing
// in it is tied to the thread that created it, and `munmap` may run on any
// thread.
unsafe impl Send for MappedRegion {}
// SAFETY: shared references only read the address and length; the bytes
// themselves are reached through raw pointers under the view's contract.
unsafe impl Sync for MappedRegion {}

impl MappedRegion {
    /// Maps `len` bytes of `fd` starting at `offset`. The caller has checked
    /// that the range lies inside the object and that `len` is not zero.
    pub(crate) fn map(
        fd: BorrowedFd<'_>,
        offset: u64,
        len: usize,
        access: Access,
        hints: MapHints,
    ) -> io::Result<MappedRegion> {
        let granularity = allocation_granularity() as u64;
        let aligned = offset - offset % granularity;
        let delta = usize::try_from(offset - aligned).map_err(|_| io::ErrorKind::InvalidInput)?;
        let map_len = len.checked_add(delta).ok_or(io::ErrorKind::InvalidInput)?;
        // Storage first, while a failure is still an error and not a signal.
        #[cfg(target_os = "linux")]
        let unbacked = backing::reserve(fd, aligned, map_len as u64, access, hints.huge_pages)?;
        let (prot, flags) = match access {
            Access::ReadOnly => (ProtFlags::READ, MapFlags::SHARED),
            Access::ReadWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            Access::CopyOnWrite => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        #[cfg(target_os = "linux")]
        let flags = if hints.populate {
            flags | MapFlags::POPULATE
        } else {
            flags
        };
        // SAFETY: a new mapping at an address the kernel chooses cannot alias
        // any Rust object; `fd` is open for the duration of the call.
        let base = unsafe { mmap(std::ptr::null_mut(), map_len, prot, flags, fd, aligned) }?;
        let region = MappedRegion {
            base: NonNull::new(base).ok_or(io::ErrorKind::Other)?,
            map_len,
            delta,
        };
        #[cfg(target_os = "linux")]
        if hints.huge_pages {
            // SAFETY: the range is exactly the mapping made above; advice
            // does not change its contents. A kernel without THP for shared
            // memory declines the hint, which is not an error for us.
            let _ = unsafe { madvise(base, map_len, Advice::LinuxHugepage) };
        }
        // After the huge-page hint: pages faulted in now follow it.
        #[cfg(target_os = "linux")]
        if let Some(hole) = unbacked {
            // Dropping `region` on failure unmaps it.
            backing::populate(&region, hole - aligned, access)?;
        }
        // macOS has no MAP_POPULATE (ask for the pages instead) and no huge
        // pages for shared memory (the hint is ignored).
        #[cfg(not(target_os = "linux"))]
        if hints.populate {
            // SAFETY: as above: advice on our own mapping.
            let _ = unsafe { madvise(base, map_len, Advice::WillNeed) };
        }
        if hints.lock {
            // SAFETY: locking pages of our own mapping has no effect on
            // memory safety; it fails cleanly over RLIMIT_MEMLOCK.
            unsafe { mlock(base, map_len)? };
        }
        Ok(region)
    }

    /// The first byte of the range that was asked for.
    pub(crate) fn ptr(&self) -> *mut u8 {
        // SAFETY: `delta < page size <= map_len`, so the result stays inside
        // the mapping.
        unsafe { self.base.as_ptr().cast::<u8>().add(self.delta) }
    }

    /// Writes back `len` bytes from `offset` (relative to `ptr`) to the
    /// object's backing store; with `sync`, waits until it is done.
    pub(crate) fn flush(&self, offset: usize, len: usize, sync: bool) -> io::Result<()> {
        let start = self.delta + offset;
        let aligned = start - start % allocation_granularity();
        let end = start + len;
        let flags = if sync {
            MsyncFlags::SYNC
        } else {
            MsyncFlags::ASYNC
        };
        // SAFETY: `aligned..end` lies inside this mapping (the caller checked
        // `offset + len` against the view) and starts on a page boundary.
        unsafe {
            msync(
                self.base.as_ptr().cast::<u8>().add(aligned).cast(),
                end - aligned,
                flags,
            )
        }
        .map_err(io::Error::from)
    }
}

impl Drop for MappedRegion {
    fn drop(&mut self) {
        // SAFETY: the range is this value's own mapping, unmapped once; no
        // reference into it outlives the view that owns this region.
        let _ = unsafe { munmap(self.base.as_ptr(), self.map_len) };
    }
}

/// Linux: every page a view covers gets storage before anything touches it.
///
/// A page of a shared mapping whose storage cannot be allocated (a full
/// tmpfs or disk under a sparse object or file: another program's
/// `ftruncate`, Python's `shared_memory`, a sparse backing file) raises
/// SIGBUS on first touch, which no caller can handle. memlink's own objects
/// are allocated when created; for anything else, holes are filled here:
/// `fallocate` where the view may write (fails with `ENOSPC`), otherwise
/// `MADV_POPULATE_READ`/`WRITE` (Linux 5.14+; fails with `EFAULT` where a
/// touch would raise SIGBUS). Older kernels refuse the advice with `EINVAL`:
/// there a read-only view of a sparse object on a full file system can
/// still fault, as it does for every other program.
#[cfg(target_os = "linux")]
mod backing {
    use std::io;
    use std::os::fd::BorrowedFd;

    use rustix::fs::{fallocate, seek, FallocateFlags, SeekFrom};
    use rustix::io::Errno;
    use rustix::mm::{madvise, Advice};

    use super::MappedRegion;
    use crate::types::Access;

    /// Backs `offset..offset + len` of `fd` (page-aligned `offset`) as far
    /// as a system call can before the mapping exists. Returns the first
    /// hole still left, which [`populate`] fills through the mapping.
    /// With `huge_pages`, holes are left to [`populate`], which faults
    /// them in through the mapping and so honours its huge-page hint
    /// (`fallocate` would allocate small pages).
    pub(super) fn reserve(
        fd: BorrowedFd<'_>,
        offset: u64,
        len: u64,
        access: Access,
        huge_pages: bool,
    ) -> io::Result<Option<u64>> {
        let end = offset.saturating_add(len);
        if fully_allocated_tmpfs(fd) {
            return Ok(None);
        }
        // The first hole at or after `offset`; the end of the file when
        // there is none. Files that cannot say (or a range past the end,
        // left by a writer that shrank the object) are taken as they are.
        let hole = match seek(fd, SeekFrom::Hole(offset)) {
            Ok(hole) if hole < end => hole,
            _ => return Ok(None),
        };
        if access != Access::ReadWrite || huge_pages {
            // No write access to the file: only faulting pages in can fill
            // the holes (tmpfs allocates on a read fault, too).
            return Ok(Some(hole));
        }
        match fallocate(fd, FallocateFlags::KEEP_SIZE, hole, end - hole) {
            Ok(()) => Ok(None),
            Err(Errno::NOSPC | Errno::DQUOT | Errno::FBIG) => Err(no_space()),
            // A file system without fallocate: fault the pages in instead.
            Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::BADF | Errno::PERM) => Ok(Some(hole)),
            Err(e) => Err(e.into()),
        }
    }

    /// Faults in the pages of `region` from byte `from` of the mapping
    /// (page-aligned down here) with `MADV_POPULATE_*`, so that a page the
    /// file system cannot back is an error now rather than SIGBUS later.
    pub(super) fn populate(region: &MappedRegion, from: u64, access: Access) -> io::Result<()> {
        let page = super::allocation_granularity();
        let from = usize::try_from(from).unwrap_or(region.map_len);
        let from = (from - from % page).min(region.map_len);
        let advice = match access {
            Access::ReadWrite => Advice::LinuxPopulateWrite,
            // Private pages: reading is enough to make the file system back
            // them; writing would copy every page.
            Access::ReadOnly | Access::CopyOnWrite => Advice::LinuxPopulateRead,
        };
        loop {
            // SAFETY: `from..map_len` lies inside the region's own mapping;
            // populating page tables does not change what the bytes hold.
            let result = unsafe {
                madvise(
                    region.base.as_ptr().cast::<u8>().add(from).cast(),
                    region.map_len - from,
                    advice,
                )
            };
            return match result {
                Ok(()) => Ok(()),
                // A signal arrived meanwhile: the pages done so far stay.
                Err(Errno::INTR | Errno::AGAIN) => continue,
                // A touch would have raised SIGBUS.
                Err(Errno::FAULT) => Err(no_space()),
                // A kernel before 5.14: no way to ask without touching.
                Err(Errno::INVAL) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
    }

    /// Whether `fd` is a tmpfs object whose every page is allocated (what
    /// memlink's own objects are from creation). tmpfs counts allocated
    /// pages exactly in `st_blocks`, while `SEEK_HOLE` takes allocated but
    /// never written pages for holes: without this, every view of a new
    /// object would allocate again (and, as `fallocate` by a non-root
    /// process does, clear the entry's set-user-id bit).
    // `st_blocks` and `f_type` are signed on some targets, unsigned on
    // others: the conversions are no-ops on some.
    #[allow(clippy::useless_conversion)]
    fn fully_allocated_tmpfs(fd: BorrowedFd<'_>) -> bool {
        const TMPFS_MAGIC: u64 = 0x0102_1994;
        let (Ok(fs), Ok(stat)) = (rustix::fs::fstatfs(fd), rustix::fs::fstat(fd)) else {
            return false;
        };
        let page = super::allocation_granularity() as u64;
        let size = u64::try_from(stat.st_size).unwrap_or(u64::MAX);
        let allocated = u64::try_from(stat.st_blocks)
            .unwrap_or(0)
            .saturating_mul(512);
        u64::try_from(fs.f_type).ok() == Some(TMPFS_MAGIC)
            && allocated >= size.div_ceil(page).saturating_mul(page)
    }

    fn no_space() -> io::Error {
        io::Error::new(
            io::ErrorKind::StorageFull,
            "the file system has no room for the pages of this view \
             (touching them would raise SIGBUS)",
        )
    }
}
