//! Backing files on Unix: the access a file was opened with, and opening the
//! file a file-backed mapping names, the same way on Linux and macOS.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{fstat, openat, FileType, Mode, OFlags, CWD};

use super::effective_uid;
use crate::error::{Error, Result};
use crate::types::Access;

/// Opens the backing file at `path` for `access` and checks it can back a
/// mapping of `size` bytes whose entry belongs to `entry_owner` (a file
/// shorter than the mapping would raise SIGBUS on access past its end).
///
/// The path was made absolute and free of symbolic links at creation, so a
/// link found there now is not what the creator mapped: it is not followed.
/// Nor is a FIFO put there waited on. And another user's entry (the caller
/// allowed foreign owners) may only lead to that user's own files, never to
/// one only the caller could open.
pub(crate) fn open_backing_file(
    path: &Path,
    access: Access,
    size: u64,
    entry_owner: u32,
) -> Result<OwnedFd> {
    let file_error = |source| Error::File {
        path: path.to_owned(),
        source,
    };
    let flags = match access {
        Access::ReadWrite => OFlags::RDWR,
        Access::ReadOnly | Access::CopyOnWrite => OFlags::RDONLY,
    };
    let file = openat(
        CWD,
        path,
        flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| file_error(e.into()))?;
    let stat = fstat(&file).map_err(|e| file_error(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(file_error(io::Error::other(
            "not a regular file (the mapping's backing file was replaced)",
        )));
    }
    if entry_owner != effective_uid() && stat.st_uid != entry_owner {
        return Err(file_error(io::Error::other(format!(
            "owned by uid {}, not by the mapping's owner (uid {entry_owner}); refusing to \
             open it on that owner's word",
            stat.st_uid
        ))));
    }
    let len = u64::try_from(stat.st_size).unwrap_or(0);
    if len < size {
        return Err(file_error(io::Error::other(format!(
            "the file is {len} bytes, shorter than the mapping's {size}; it was truncated"
        ))));
    }
    Ok(file)
}

/// The access a file was opened with.
pub(crate) fn file_access(file: &std::fs::File) -> io::Result<Access> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    Ok(if flags.contains(OFlags::RDWR) {
        Access::ReadWrite
    } else if flags.contains(OFlags::WRONLY) {
        // Write-only cannot be mapped at all; report it as the narrowest.
        Access::CopyOnWrite
    } else {
        Access::ReadOnly
    })
}
