//! The lowest layer of the Windows backend: NUL-terminated UTF-16 names
//! and owned handles. It imports nothing from the other files.
#![allow(unsafe_code)]

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::HANDLE;

/// `text` as a NUL-terminated UTF-16 string.
pub(super) fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

/// The NUL-terminated name of a companion object of `object`.
pub(super) fn companion(object: &str, suffix: &str) -> Vec<u16> {
    wide(&format!("{object}/{suffix}"))
}

/// Takes ownership of a handle a Win32 call returned; `None` for null.
pub(super) fn owned(handle: HANDLE) -> Option<OwnedHandle> {
    // SAFETY: a non-null handle that a call just returned is open and ours.
    (!handle.is_null()).then(|| unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// The raw value of a borrowed handle, for calls.
pub(super) fn raw(handle: &OwnedHandle) -> HANDLE {
    handle.as_raw_handle()
}
