//! Backing files on Windows: the access a handle grants, growing a file,
//! its final path, and opening the file a record names.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::windows::io::AsRawHandle;
use std::path::PathBuf;
use std::ptr::null_mut;

use windows_sys::Wdk::Foundation::{NtQueryObject, ObjectBasicInformation};
use windows_sys::Win32::Storage::FileSystem::{
    GetFileType, GetFinalPathNameByHandleW, FILE_NAME_NORMALIZED, FILE_READ_DATA, FILE_TYPE_DISK,
    FILE_WRITE_DATA, SECURITY_IDENTIFICATION, VOLUME_NAME_DOS,
};

use crate::error::{Error, Result};
use crate::types::Access;

/// Opens the backing file named by a record and checks that it still covers
/// the mapping (Windows refuses to shrink a mapped file, but the check is
/// cheap and keeps the platforms alike).
pub(super) fn open_backing_file(path: &std::path::Path, writable: bool, size: u64) -> Result<File> {
    let file_error = |source| Error::File {
        path: path.to_owned(),
        source,
    };
    use std::os::windows::fs::OpenOptionsExt;
    // The path comes from the mapping's record, which its writers can change:
    // whatever it names must not learn who we are (identification level only,
    // so a named pipe server cannot impersonate us) and must be a file on a
    // disk (not a pipe, a console or a device).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .security_qos_flags(SECURITY_IDENTIFICATION)
        .open(path)
        .map_err(file_error)?;
    // SAFETY: `file` is an open handle.
    if unsafe { GetFileType(file.as_raw_handle()) } != FILE_TYPE_DISK {
        return Err(file_error(io::Error::other(
            "not a file on a disk (the mapping's record names something else)",
        )));
    }
    let len = file.metadata().map_err(file_error)?.len();
    if len < size {
        return Err(file_error(io::Error::other(format!(
            "the file is {len} bytes, shorter than the mapping's {size}; it was truncated"
        ))));
    }
    Ok(file)
}

/// The access a file was opened with (from the handle's granted access).
pub(crate) fn file_access(file: &File) -> io::Result<Access> {
    #[repr(C)]
    struct BasicInformation {
        attributes: u32,
        granted_access: u32,
        handle_count: u32,
        pointer_count: u32,
        reserved: [u32; 10],
    }
    let mut info = MaybeUninit::<BasicInformation>::zeroed();
    // SAFETY: `file` is an open handle and `info` a writable buffer of the
    // size given.
    let status = unsafe {
        NtQueryObject(
            file.as_raw_handle(),
            ObjectBasicInformation,
            info.as_mut_ptr().cast(),
            size_of::<BasicInformation>() as u32,
            null_mut(),
        )
    };
    if status < 0 {
        return Err(io::Error::other(format!(
            "NtQueryObject failed with status {status:#010x}"
        )));
    }
    // SAFETY: zero-initialised and filled in by the call above.
    let granted = unsafe { info.assume_init() }.granted_access;
    let read = granted & FILE_READ_DATA != 0;
    let write = granted & FILE_WRITE_DATA != 0;
    Ok(match (read, write) {
        (true, true) => Access::ReadWrite,
        // Write-only cannot be mapped at all; report it as the narrowest.
        (false, true) => Access::CopyOnWrite,
        _ => Access::ReadOnly,
    })
}

/// Grows a backing file from `from` to `to` bytes. Extending a file on
/// Windows allocates its blocks, so a full disk fails here.
pub(crate) fn grow_file(file: &File, from: u64, to: u64) -> io::Result<()> {
    file.set_len(to).inspect_err(|_| {
        let _ = file.set_len(from);
    })
}

/// The absolute path of an open file (`\\?\C:\...`, the form
/// `std::fs::canonicalize` gives), if it has one.
pub(crate) fn file_path(file: &File) -> Option<PathBuf> {
    let mut buf = vec![0u16; 512];
    loop {
        // SAFETY: `file` is an open handle; `buf` is writable for its length.
        let len = unsafe {
            GetFinalPathNameByHandleW(
                file.as_raw_handle(),
                buf.as_mut_ptr(),
                buf.len() as u32,
                FILE_NAME_NORMALIZED | VOLUME_NAME_DOS,
            )
        } as usize;
        if len == 0 {
            return None;
        }
        if len < buf.len() {
            use std::os::windows::ffi::OsStringExt;
            return Some(PathBuf::from(std::ffi::OsString::from_wide(&buf[..len])));
        }
        buf.resize(len + 1, 0);
    }
}
