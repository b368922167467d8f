//! Views on Windows: `MapViewOfFile` of any byte range (offsets rounded
//! down to the 64 KiB allocation granularity inside), `FlushViewOfFile` plus
//! `FlushFileBuffers` for a synchronous flush, `UnmapViewOfFile` on drop.
//!
//! Every shared view is also entered in a process-wide registry (base
//! address → object and offset), so that `wait_on(word)` can tell which
//! object and offset a word belongs to: the registry is in `sync.rs`.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::windows::io::AsRawHandle;
use std::ptr::NonNull;
use std::sync::{Arc, OnceLock};

use windows_sys::Win32::Storage::FileSystem::FlushFileBuffers;
use windows_sys::Win32::System::Memory::{
    FlushViewOfFile, MapViewOfFile, UnmapViewOfFile, VirtualLock, FILE_MAP_COPY, FILE_MAP_READ,
    FILE_MAP_WRITE, MEMORY_MAPPED_VIEW_ADDRESS,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

use super::object::ObjectRef;
use super::sync::{register, unregister};
use crate::types::Access;

/// Extra work done when a view is mapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MapHints {
    /// Fault every page in now rather than on first touch.
    pub populate: bool,
    /// Keep the pages in RAM (`VirtualLock`, within the working-set quota).
    pub lock: bool,
    /// Ignored on Windows: large pages must be asked for when the section is
    /// created (`SEC_LARGE_PAGES`) and need `SeLockMemoryPrivilege`.
    pub huge_pages: bool,
}

struct SystemFacts {
    granularity: usize,
    page: usize,
}

fn system() -> &'static SystemFacts {
    static FACTS: OnceLock<SystemFacts> = OnceLock::new();
    FACTS.get_or_init(|| {
        // SAFETY: all-zero is a valid SYSTEM_INFO (integers and pointers).
        let mut info: SYSTEM_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid out-pointer.
        unsafe { GetSystemInfo(&mut info) };
        SystemFacts {
            granularity: (info.dwAllocationGranularity as usize).max(4096),
            page: (info.dwPageSize as usize).max(4096),
        }
    })
}

/// The granularity that view offsets are rounded down to (64 KiB).
pub(crate) fn allocation_granularity() -> usize {
    system().granularity
}

/// A mapped range of an object. The view starts `delta` bytes before the
/// range the caller asked for, at an allocation-granularity boundary.
#[derive(Debug)]
pub(crate) struct MappedRegion {
    base: NonNull<c_void>,
    delta: usize,
    /// The backing file, flushed by a synchronous flush of a writable view.
    file: Option<Arc<std::fs::File>>,
    registered: bool,
}

// SAFETY: a `MappedRegion` is an address range owned by this value; nothing
// in it is tied to the thread that created it, and `UnmapViewOfFile` may run
// on any thread.
unsafe impl Send for MappedRegion {}
// SAFETY: shared references only read the address and length; the bytes
// themselves are reached through raw pointers under the view's contract.
unsafe impl Sync for MappedRegion {}

impl MappedRegion {
    /// Maps `len` bytes of `object` starting at `offset`. The caller has
    /// checked that the range lies inside the object and that `len` is not
    /// zero.
    pub(crate) fn map(
        object: ObjectRef<'_>,
        offset: u64,
        len: usize,
        access: Access,
        hints: MapHints,
    ) -> io::Result<MappedRegion> {
        let granularity = allocation_granularity() as u64;
        let aligned = offset - offset % granularity;
        let delta = usize::try_from(offset - aligned).map_err(|_| io::ErrorKind::InvalidInput)?;
        let map_len = len.checked_add(delta).ok_or(io::ErrorKind::InvalidInput)?;
        let desired = match access {
            Access::ReadOnly => FILE_MAP_READ,
            Access::ReadWrite => FILE_MAP_READ | FILE_MAP_WRITE,
            Access::CopyOnWrite => FILE_MAP_COPY,
        };
        // SAFETY: the section handle is open for the duration of the call; a
        // new view at an address Windows chooses aliases no Rust object.
        let view = unsafe {
            MapViewOfFile(
                object.section.as_raw_handle(),
                desired,
                (aligned >> 32) as u32,
                aligned as u32,
                map_len,
            )
        };
        let base = NonNull::new(view.Value).ok_or_else(io::Error::last_os_error)?;
        // Copy-on-write views are private memory: waits on them stay in this
        // process.
        let registered = access != Access::CopyOnWrite;
        let region = MappedRegion {
            base,
            delta,
            file: (access == Access::ReadWrite)
                .then(|| object.file.cloned())
                .flatten(),
            registered,
        };
        if registered {
            register(
                base.as_ptr() as usize,
                map_len,
                aligned,
                Arc::clone(object.domain),
            );
        }
        if hints.populate {
            let page = system().page;
            let start = base.as_ptr().cast::<u8>();
            for at in (0..map_len).step_by(page) {
                // SAFETY: `at < map_len`: inside the view just mapped. A
                // volatile read of one byte faults the page in; its value
                // does not matter.
                let _ = unsafe { start.add(at).read_volatile() };
            }
        }
        if hints.lock {
            // SAFETY: locking pages of our own view has no effect on memory
            // safety; it fails cleanly over the working-set quota.
            if unsafe { VirtualLock(base.as_ptr(), map_len) } == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(region)
    }

    /// The first byte of the range that was asked for.
    pub(crate) fn ptr(&self) -> *mut u8 {
        // SAFETY: the view is `delta + len` bytes long, so the result stays
        // inside it.
        unsafe { self.base.as_ptr().cast::<u8>().add(self.delta) }
    }

    /// Writes back `len` bytes from `offset` (relative to `ptr`) to the
    /// object's backing store; with `sync`, also waits until the file's
    /// buffers have reached the disk.
    pub(crate) fn flush(&self, offset: usize, len: usize, sync: bool) -> io::Result<()> {
        let start = self.delta + offset;
        // SAFETY: `start..start + len` lies inside this view (the caller
        // checked `offset + len` against it).
        let ok = unsafe { FlushViewOfFile(self.base.as_ptr().cast::<u8>().add(start).cast(), len) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        if let (true, Some(file)) = (sync, &self.file) {
            // SAFETY: an open file handle, owned by `file`.
            if unsafe { FlushFileBuffers(file.as_raw_handle()) } == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

impl Drop for MappedRegion {
    fn drop(&mut self) {
        if self.registered {
            unregister(self.base.as_ptr() as usize);
        }
        // SAFETY: the view is this value's own, unmapped once; no reference
        // into it outlives the view that owns this region.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                Value: self.base.as_ptr(),
            })
        };
    }
}
