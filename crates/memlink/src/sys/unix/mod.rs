//! What Linux and macOS share, written once: views (`mmap`, in [`map`]),
//! opening the file a file-backed mapping names ([`file`]), and the user id
//! that owners are compared with.

pub(super) mod file;
pub(super) mod map;

/// The effective user id of this process.
pub(crate) fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}
