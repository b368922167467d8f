//! Process identity and liveness on Windows.
//!
//! A process is its pid plus its creation time (`GetProcessTimes`, in
//! 100 ns units), since pids are reused. Pids are machine-wide on Windows,
//! so the "pid namespace" is one constant for every process.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_INVALID_PARAMETER, FILETIME, WAIT_OBJECT_0,
};
use windows_sys::Win32::Storage::FileSystem::SYNCHRONIZE;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetCurrentProcessId, GetExitCodeProcess, GetProcessTimes, OpenProcess,
    WaitForSingleObject, PROCESS_QUERY_LIMITED_INFORMATION,
};

use super::handle::{owned, raw};
use crate::sys::ProcessIdentity;

/// The "pid namespace" of every Windows process: pids are machine-wide.
/// (ASCII "Windows\x01": never the inode of a Linux pid namespace.)
pub(crate) const PID_NAMESPACE: u64 = u64::from_be_bytes(*b"Windows\x01");

/// The identity of the calling process (computed once: Windows has no
/// `fork`).
pub(crate) fn current_process() -> ProcessIdentity {
    static ME: OnceLock<ProcessIdentity> = OnceLock::new();
    *ME.get_or_init(|| ProcessIdentity {
        // SAFETY: no arguments.
        pid: unsafe { GetCurrentProcessId() },
        // SAFETY: the pseudo-handle of this process is always valid.
        start: creation_time(unsafe { GetCurrentProcess() }).unwrap_or(0),
        pid_ns: PID_NAMESPACE,
    })
}

fn creation_time(process: windows_sys::Win32::Foundation::HANDLE) -> Option<u64> {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: a process handle with query access; valid out-pointers.
    let ok = unsafe { GetProcessTimes(process, &mut created, &mut exited, &mut kernel, &mut user) };
    (ok != 0).then(|| (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

/// Whether process `pid` may still be alive.
///
/// Returns `false` only when it is certainly gone: no such process, a
/// process that has exited (even if a handle keeps its object around), or
/// one whose creation time differs from `start` (the pid was reused), when
/// `start` is given as the low 32 bits of the creation time. A process this
/// user may not look at counts as alive.
pub(crate) fn process_alive(pid: u32, start: Option<u32>) -> bool {
    if pid == 0 {
        return false;
    }
    let open = |access| {
        // SAFETY: plain call; the handle is owned by the caller.
        owned(unsafe { OpenProcess(access, 0, pid) })
    };
    let (process, can_wait) = match open(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE) {
        Some(process) => (process, true),
        None => match open(PROCESS_QUERY_LIMITED_INFORMATION) {
            Some(process) => (process, false),
            // SAFETY: no arguments.
            None => return unsafe { GetLastError() } != ERROR_INVALID_PARAMETER,
        },
    };
    let mut code = 0u32;
    // SAFETY: an open process handle with query access; valid out-pointer.
    if unsafe { GetExitCodeProcess(raw(&process), &mut code) } != 0 && code != STILL_ACTIVE {
        return false;
    }
    // "Still active", or a process that exited with the code 259 itself:
    // ask without waiting.
    // SAFETY: an open process handle with SYNCHRONIZE access.
    if can_wait && unsafe { WaitForSingleObject(raw(&process), 0) } == WAIT_OBJECT_0 {
        return false;
    }
    match (start, creation_time(raw(&process))) {
        (Some(start), Some(created)) => created as u32 == start,
        _ => true,
    }
}

/// `GetExitCodeProcess`'s answer for a running process.
const STILL_ACTIVE: u32 = 259;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_identified() {
        let me = current_process();
        assert_eq!(me.pid, std::process::id());
        assert_ne!(me.start, 0);
        assert_eq!(me.pid_ns, PID_NAMESPACE);
        assert!(process_alive(me.pid, Some(me.start as u32)));
        assert!(process_alive(me.pid, None));
        assert!(!process_alive(me.pid, Some(me.start as u32 ^ 1)));
        assert!(!process_alive(0, None));
    }

    #[test]
    fn an_exited_child_is_dead_even_while_its_handle_is_open() {
        let exe = std::env::current_exe().unwrap();
        let mut child = std::process::Command::new(exe)
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // `child` keeps the process handle (and so the pid) until dropped.
        child.wait().unwrap();
        assert!(!process_alive(pid, None));
    }
}
