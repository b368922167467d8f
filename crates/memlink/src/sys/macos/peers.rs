//! Peer liveness on macOS, for channel endpoints.
//!
//! Endpoint slot `i` is the file `ep-<hash>-<i>` in the work directory,
//! locked exclusively with `flock` (per open file, released by the kernel
//! on close or death). Liveness is probed with a non-blocking shared lock;
//! a claim that meets a probe at that instant retries a few times.

use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{flock, openat, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::object::{mode_bits, Object};

/// A held claim on endpoint slot `index` of an object.
#[derive(Debug)]
pub(crate) struct EndpointLock {
    /// The endpoint's lock file, locked exclusively.
    file: OwnedFd,
    index: u32,
}

impl EndpointLock {
    /// Claims slot `index`, or returns `None` when a live endpoint holds it.
    pub(crate) fn try_acquire(object: &Object, index: u32) -> io::Result<Option<EndpointLock>> {
        let file = openat(
            &object.work,
            endpoint_file(object, index).as_str(),
            OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            mode_bits(0o600 | (object.mode & 0o066)),
        )?;
        // A liveness probe holds a shared lock for an instant: retry a little
        // before calling the slot taken.
        for attempt in 0..4 {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Some(EndpointLock { file, index })),
                Err(Errno::WOULDBLOCK) if attempt < 3 => std::thread::yield_now(),
                Err(Errno::WOULDBLOCK) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// The slot this lock claims.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }
}

impl Drop for EndpointLock {
    fn drop(&mut self) {
        // As on Linux: a child being spawned shares the open file description
        // until its exec, so unlock rather than rely on the close.
        let _ = flock(&self.file, FlockOperation::Unlock);
    }
}

/// Whether any endpoint slot in `first..first + count` is claimed by a live
/// endpoint (of any process, this one included).
pub(crate) fn any_endpoint_alive(object: &Object, first: u32, count: u32) -> io::Result<bool> {
    for index in first..first.saturating_add(count.max(1)) {
        let file = match openat(
            &object.work,
            endpoint_file(object, index).as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(file) => file,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        match flock(&file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

fn endpoint_file(object: &Object, index: u32) -> String {
    format!("ep-{:016x}-{index}", object.key)
}
