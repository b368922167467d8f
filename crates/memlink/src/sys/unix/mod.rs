//! What Linux and macOS share, written once: the entry protocol (holder
//! locks, reclaiming dead entries, kind and owner checks, errno mapping:
//! [`entry`]), views (`mmap`, in [`map`]), backing files ([`file`](mod@file)), and the
//! user id that owners are compared with.

pub(super) mod entry;
pub(super) mod file;
pub(super) mod map;

/// The effective user id of this process.
pub(crate) fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}
