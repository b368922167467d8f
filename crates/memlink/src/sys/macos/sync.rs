//! Waiting and process identity on macOS.
//!
//! # Waiting
//!
//! `__ulock_wait` / `__ulock_wake` with `UL_COMPARE_AND_WAIT_SHARED`: the
//! kernel keys the wait by the shared memory object and offset, so waiters
//! and wakers in different processes meet whatever address each mapped the
//! object at, and the compare-and-sleep is atomic, as with a Linux shared
//! futex. These calls are private to libSystem but stable since macOS 10.12
//! (Rust's standard library and libc++ rely on them too); the public
//! `os_sync_wait_on_address` needs macOS 14.4, so it is not used. Process-
//! shared condition variables, unreliable on macOS, are never used.
//!
//! If the kernel refuses (an unexpected error), the waiter naps for a
//! millisecond and lets its caller poll, which every caller does in a loop.
//!
//! # Process identity
//!
//! A process is its pid and its start time (`proc_pidinfo`,
//! `PROC_PIDTBSDINFO`), since pids are reused; macOS has no pid namespaces,
//! so the namespace is one constant.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::atomic::AtomicU32;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::Pid;

use crate::sys::ProcessIdentity;

/// `UL_COMPARE_AND_WAIT_SHARED` from xnu's `sys/ulock.h`.
const UL_COMPARE_AND_WAIT_SHARED: u32 = 3;
/// `ULF_WAKE_ALL`.
const ULF_WAKE_ALL: u32 = 0x0000_0100;
/// `ULF_NO_ERRNO`: return `-errno` instead of setting `errno`.
const ULF_NO_ERRNO: u32 = 0x0100_0000;
/// The "pid namespace" of every macOS process.
/// (ASCII "Darwin\0\x01": never the inode of a Linux pid namespace.)
pub(crate) const PID_NAMESPACE: u64 = u64::from_be_bytes(*b"Darwin\0\x01");

extern "C" {
    fn __ulock_wait(operation: u32, address: *mut c_void, value: u64, timeout_us: u32) -> i32;
    fn __ulock_wake(operation: u32, address: *mut c_void, wake_value: u64) -> i32;
}

/// Waits until `word` may have changed from `expected`, someone wakes it, or
/// `deadline` passes (`None`: no deadline). Returns `false` when the deadline
/// had passed, `true` otherwise; either way the caller re-checks its word.
pub(crate) fn wait_on(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
    let timeout_us = match deadline {
        // 0 means "no timeout" to the kernel.
        None => 0,
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let us = (deadline - now).as_micros().clamp(1, u128::from(u32::MAX));
            us as u32
        }
    };
    // SAFETY: `word` is a valid, aligned 4-byte location for the duration of
    // the call; the kernel only reads it.
    let rc = unsafe {
        __ulock_wait(
            UL_COMPARE_AND_WAIT_SHARED | ULF_NO_ERRNO,
            word.as_ptr().cast(),
            u64::from(expected),
            timeout_us,
        )
    };
    if rc >= 0 {
        return true;
    }
    match Errno::from_raw_os_error(-rc) {
        Errno::INTR | Errno::FAULT => true,
        Errno::TIMEDOUT => deadline.is_none_or(|d| Instant::now() < d),
        _ => {
            let nap = Duration::from_millis(1);
            match deadline {
                Some(deadline) => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()).min(nap));
                    Instant::now() < deadline
                }
                None => {
                    std::thread::sleep(nap);
                    true
                }
            }
        }
    }
}

fn wake(word: &AtomicU32, flags: u32) {
    loop {
        // SAFETY: `word` is a valid address; the kernel uses it as a key.
        let rc = unsafe {
            __ulock_wake(
                UL_COMPARE_AND_WAIT_SHARED | ULF_NO_ERRNO | flags,
                word.as_ptr().cast(),
                0,
            )
        };
        // ENOENT: nobody waits; anything else but EINTR leaves waiters to
        // their deadlines, which every wait has.
        if rc != -Errno::INTR.raw_os_error() {
            return;
        }
    }
}

/// Wakes every thread, in any process, waiting on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    wake(word, ULF_WAKE_ALL);
}

/// Wakes at most one thread, in any process, waiting on `word`.
pub(crate) fn wake_one(word: &AtomicU32) {
    wake(word, 0);
}

/// The identity of the calling process, cached per pid (a child made by
/// `fork` recomputes it).
pub(crate) fn current_process() -> ProcessIdentity {
    static CACHED: OnceLock<(u32, u64)> = OnceLock::new();
    let pid = std::process::id();
    let (cached_pid, start) = *CACHED.get_or_init(|| (pid, start_time(pid).map_or(0, |i| i.1)));
    let start = if cached_pid == pid {
        start
    } else {
        start_time(pid).map_or(0, |i| i.1)
    };
    ProcessIdentity {
        pid,
        start,
        pid_ns: PID_NAMESPACE,
    }
}

/// A process's status (`SZOMB` and so on) and start time in microseconds.
fn start_time(pid: u32) -> Option<(u32, u64)> {
    let pid = i32::try_from(pid).ok()?;
    // SAFETY: all-zero is a valid `proc_bsdinfo` (integers and arrays).
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as i32;
    // SAFETY: `info` is writable for `size` bytes.
    let got = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            (&mut info as *mut libc::proc_bsdinfo).cast(),
            size,
        )
    };
    (got == size).then(|| {
        (
            info.pbi_status,
            info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec,
        )
    })
}

/// Whether process `pid` may still be alive: `false` only when it is
/// certainly gone (no such process, a zombie, or another start time than
/// `start`, the low 32 bits of the start time, when given).
pub(crate) fn process_alive(pid: u32, start: Option<u32>) -> bool {
    let Some(raw) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    if let Err(Errno::SRCH) = rustix::process::test_kill_process(raw) {
        return false;
    }
    match start_time(pid) {
        Some((status, _)) if status == libc::SZOMB => false,
        Some((_, started)) => start.is_none_or(|start| started as u32 == start),
        // Not ours to look at, or gone between the two calls: alive is the
        // safe answer.
        None => true,
    }
}
