//! Peer liveness on Linux, for channel endpoints.
//!
//! Liveness uses open-file-description byte locks (`F_OFD_SETLK`) on the
//! object's entry: each endpoint of a channel locks "its" byte with a
//! descriptor of its own, and the kernel drops the lock when the endpoint
//! closes or its process dies, `kill -9` included. Asking whether any byte of
//! a range is locked tells, with one system call and no PID games, whether
//! any peer of that role is alive.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::fs::{openat, Mode, OFlags, CWD};
use rustix::io::Errno;

use super::object::Object;

/// Where endpoint locks start: far beyond any real data, so that they never
/// overlap a lock a program takes on the object's bytes.
const ENDPOINT_LOCK_BASE: i64 = 1 << 40;

/// A held claim on endpoint slot `index` of an object. Dropping it (or the
/// process dying) releases the slot.
#[derive(Debug)]
pub(crate) struct EndpointLock {
    /// A descriptor of our own: byte locks belong to the open file
    /// description, and two endpoints of one process must not share one.
    fd: OwnedFd,
    index: u32,
}

impl EndpointLock {
    /// Claims slot `index`, or returns `None` when a live endpoint holds it.
    pub(crate) fn try_acquire(object: &Object, index: u32) -> io::Result<Option<EndpointLock>> {
        let path = format!("/proc/self/fd/{}", object.entry_fd().as_raw_fd());
        let fd = openat(
            CWD,
            &path,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        // Twice: the endpoint that refused us may leave between the two
        // calls, and then its slot is ours.
        for _ in 0..2 {
            match ofd_lock(&fd, libc::F_OFD_SETLK, libc::F_WRLCK, index, 1)? {
                LockAnswer::Granted => return Ok(Some(EndpointLock { fd, index })),
                LockAnswer::Held if any_endpoint_alive(object, index, 1)? => return Ok(None),
                LockAnswer::Held => {}
            }
        }
        // Refused, yet no endpoint holds the byte: a read lock is in the way,
        // which anyone who may read the entry can take. Not an endpoint, and
        // nothing we can break.
        Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "endpoint slot {index} is read-locked by a process that is not an \
                     endpoint (the channel's mode lets others read it without writing)"
            ),
        ))
    }

    /// The slot this lock claims.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }
}

impl Drop for EndpointLock {
    fn drop(&mut self) {
        // Unlock explicitly rather than rely on the close: a child being
        // spawned by another thread shares our open file description (and so
        // the lock) until its exec closes it, and the slot must be free the
        // moment this endpoint is gone. Failure leaves the close to release it.
        let _ = ofd_lock(&self.fd, libc::F_OFD_SETLK, libc::F_UNLCK, self.index, 1);
    }
}

/// Whether any endpoint slot in `first..first + count` is claimed by a live
/// endpoint (of any process, this one included).
///
/// Endpoints hold write locks, which need a descriptor open for writing.
/// The probe asks for a *read* lock, which only write locks refuse: a read
/// lock (anyone who may read the entry can take one) never passes for an
/// endpoint.
pub(crate) fn any_endpoint_alive(object: &Object, first: u32, count: u32) -> io::Result<bool> {
    match ofd_lock(
        object.entry_fd(),
        libc::F_OFD_GETLK,
        libc::F_RDLCK,
        first,
        count,
    )? {
        LockAnswer::Granted => Ok(false),
        LockAnswer::Held => Ok(true),
    }
}

/// The `fcntl` that takes a `flock64`: `fcntl64` where the plain one has
/// 32-bit offsets.
#[cfg(target_pointer_width = "32")]
const FCNTL64: libc::c_long = libc::SYS_fcntl64;
#[cfg(target_pointer_width = "64")]
const FCNTL64: libc::c_long = libc::SYS_fcntl;

enum LockAnswer {
    Granted,
    Held,
}

fn ofd_lock(
    fd: &impl AsRawFd,
    command: libc::c_int,
    kind: libc::c_int,
    first: u32,
    count: u32,
) -> io::Result<LockAnswer> {
    // `flock64` and the 64-bit `fcntl` system call: on 32-bit systems the
    // plain `flock` has 32-bit offsets, which cannot reach the slots'
    // bytes. On 64-bit systems both are the ordinary ones.
    // SAFETY: `flock64` is a plain C struct for which all-zero is valid.
    let mut lock: libc::flock64 = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = ENDPOINT_LOCK_BASE + i64::from(first);
    lock.l_len = i64::from(count.max(1));
    // OFD locks require l_pid == 0 (zeroed above).
    loop {
        // SAFETY: `fd` is an open descriptor and `lock` a valid, exclusively
        // borrowed `flock` for the duration of the call.
        let rc = unsafe {
            libc::syscall(
                FCNTL64,
                fd.as_raw_fd(),
                command,
                &mut lock as *mut libc::flock64,
            )
        };
        if rc == 0 {
            break;
        }
        match Errno::from_io_error(&io::Error::last_os_error()) {
            Some(Errno::INTR) => continue,
            Some(Errno::AGAIN | Errno::ACCESS) if command == libc::F_OFD_SETLK => {
                return Ok(LockAnswer::Held)
            }
            _ => return Err(io::Error::last_os_error()),
        }
    }
    if command == libc::F_OFD_GETLK {
        return Ok(if i32::from(lock.l_type) == libc::F_UNLCK {
            LockAnswer::Granted
        } else {
            LockAnswer::Held
        });
    }
    Ok(LockAnswer::Granted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mapping;

    #[test]
    fn a_slot_is_free_at_drop_even_while_a_spawning_child_shares_the_descriptor() {
        let m =
            Mapping::create(&format!("mltest-peers-spawn-{}", std::process::id()), 4096).unwrap();
        let lock = EndpointLock::try_acquire(m.object(), 0).unwrap().unwrap();
        // What a child between fork and exec holds: the same open file
        // description, under another descriptor.
        let inherited = lock.fd.try_clone().unwrap();
        drop(lock);
        assert!(!any_endpoint_alive(m.object(), 0, 1).unwrap());
        assert!(EndpointLock::try_acquire(m.object(), 0).unwrap().is_some());
        drop(inherited);
    }
}
