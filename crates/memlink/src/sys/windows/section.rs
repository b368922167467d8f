//! Sections by name: creating (or opening) one, opening one, asking its
//! size; and small sections mapped whole as a typed view of atomics (the
//! record, the wait table).
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::ptr::{null, null_mut, NonNull};

use windows_sys::Win32::Foundation::{
    GetLastError, SetLastError, ERROR_ALREADY_EXISTS, HANDLE, INVALID_HANDLE_VALUE, NTSTATUS,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, FILE_MAP_READ,
    FILE_MAP_WRITE, MEMORY_MAPPED_VIEW_ADDRESS, PAGE_PROTECTION_FLAGS,
};

use super::handle::{owned, raw};
use super::security::Security;

/// `SECTION_QUERY`: needed to ask a section for its size.
pub(super) const SECTION_QUERY: u32 = 0x0001;

windows_link::link!("ntdll.dll" "system" fn NtQuerySection(
    section: HANDLE,
    class: u32,
    information: *mut c_void,
    length: usize,
    returned: *mut usize
) -> NTSTATUS);

/// Types made only of atomics (and so valid for any bytes that another
/// process may write), which may be placed over a shared section.
///
/// # Safety
///
/// Implementors must be `#[repr(C)]`, contain only atomics (or arrays of
/// them), and need no alignment beyond 8 bytes.
pub(super) unsafe trait AllAtomic {}

/// A small section mapped whole, seen as a `T`.
pub(super) struct SharedView<T: AllAtomic> {
    base: NonNull<T>,
    writable: bool,
    _section: OwnedHandle,
}

// SAFETY: the view is a plain address range owned by this value; `T` is made
// of atomics, which may be used from any thread.
unsafe impl<T: AllAtomic> Send for SharedView<T> {}
// SAFETY: as above: shared access only goes through atomics.
unsafe impl<T: AllAtomic> Sync for SharedView<T> {}

impl<T: AllAtomic> SharedView<T> {
    /// Maps all of `section` (which is at least `size_of::<T>()` bytes).
    pub(super) fn map(section: OwnedHandle, writable: bool) -> io::Result<SharedView<T>> {
        let access = if writable {
            FILE_MAP_READ | FILE_MAP_WRITE
        } else {
            FILE_MAP_READ
        };
        // SAFETY: `section` is an open section handle; a new view at an
        // address Windows chooses aliases no Rust object.
        let view = unsafe { MapViewOfFile(raw(&section), access, 0, 0, size_of::<T>()) };
        let base = NonNull::new(view.Value.cast::<T>()).ok_or_else(io::Error::last_os_error)?;
        Ok(SharedView {
            base,
            writable,
            _section: section,
        })
    }

    /// The mapped `T`, for loads. Stores through it are allowed only when
    /// the view is writable: see [`SharedView::writable`].
    pub(super) fn get(&self) -> &T {
        // SAFETY: the view maps at least `size_of::<T>()` bytes, page-aligned,
        // for as long as `self` lives; `T` is valid for any bytes.
        unsafe { self.base.as_ref() }
    }

    /// The mapped `T`, if this view may be written.
    pub(super) fn writable(&self) -> Option<&T> {
        self.writable.then(|| self.get())
    }
}

impl<T: AllAtomic> Drop for SharedView<T> {
    fn drop(&mut self) {
        // SAFETY: the view is this value's own, unmapped once; the
        // references handed out borrow `self`, so none is left.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                Value: self.base.as_ptr().cast(),
            })
        };
    }
}

/// Creates (or, if the name exists, opens) a section; says whether it
/// existed. `file`: `None` for memory (the paging file).
pub(super) fn create_section(
    name: &[u16],
    file: Option<&File>,
    security: Option<&Security>,
    size: u64,
    protect: PAGE_PROTECTION_FLAGS,
) -> io::Result<(OwnedHandle, bool)> {
    let attributes = security.map(Security::attributes);
    let file_handle = file.map_or(INVALID_HANDLE_VALUE, |f| f.as_raw_handle());
    // SAFETY: `name` is NUL-terminated; `attributes` (if any) points to a
    // valid descriptor that outlives the call; `file_handle` is open or the
    // paging-file marker.
    let (handle, error) = unsafe {
        SetLastError(0);
        let handle = CreateFileMappingW(
            file_handle,
            attributes.as_ref().map_or(null(), |a| a as *const _),
            protect,
            (size >> 32) as u32,
            size as u32,
            name.as_ptr(),
        );
        (handle, GetLastError())
    };
    match owned(handle) {
        Some(section) => Ok((section, error == ERROR_ALREADY_EXISTS)),
        None => Err(io::Error::from_raw_os_error(error as i32)),
    }
}

/// Opens an existing section with `access`.
pub(super) fn open_section(name: &[u16], access: u32) -> io::Result<OwnedHandle> {
    // SAFETY: `name` is NUL-terminated.
    let handle = unsafe { OpenFileMappingW(access, 0, name.as_ptr()) };
    owned(handle).ok_or_else(io::Error::last_os_error)
}

/// The size Windows reports for a section (page-rounded for memory-backed
/// ones); `None` if it will not say.
pub(super) fn section_size(section: &OwnedHandle) -> Option<u64> {
    #[repr(C)]
    struct SectionBasicInformation {
        base: *mut c_void,
        attributes: u32,
        size: i64,
    }
    let mut info = MaybeUninit::<SectionBasicInformation>::zeroed();
    // SAFETY: an open section handle (with SECTION_QUERY) and a writable
    // buffer of the size given.
    let status = unsafe {
        NtQuerySection(
            raw(section),
            0,
            info.as_mut_ptr().cast(),
            size_of::<SectionBasicInformation>(),
            null_mut(),
        )
    };
    // SAFETY: zero-initialised, filled in on success.
    (status >= 0).then(|| unsafe { info.assume_init() }.size.max(0) as u64)
}
