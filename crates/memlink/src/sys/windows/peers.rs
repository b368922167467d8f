//! Peer liveness on Windows, for channel endpoints.
//!
//! Endpoint slot `i` of a mapping `NAME` is the named mutex `NAME/ep<i>`.
//! An endpoint owns its slot's mutex; when its process dies, Windows marks
//! the mutex abandoned, which frees it, `kill` included. Whether a peer is
//! alive is read with `NtQueryMutant` (is the mutex owned?), which never
//! takes the mutex and so never makes a concurrent claim fail.
//!
//! Mutexes are owned by *threads*, and are abandoned when the owning thread
//! exits; channel endpoints may move between threads and outlive the thread
//! that made them. So every endpoint mutex of a process is taken and
//! released by one keeper thread, started on first use, that lives as long
//! as the process. A mutex is recursive for its owning thread, so the keeper
//! also refuses a slot that this process already holds.
#![allow(unsafe_code)]

use std::collections::hash_map::{Entry, HashMap};
use std::ffi::c_void;
use std::io;
use std::os::windows::io::OwnedHandle;
use std::sync::mpsc;
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_FILE_NOT_FOUND, ERROR_INVALID_HANDLE, ERROR_PATH_NOT_FOUND, HANDLE,
    NTSTATUS, WAIT_ABANDONED, WAIT_OBJECT_0,
};
use windows_sys::Win32::System::Threading::{
    CreateMutexW, OpenMutexW, ReleaseMutex, WaitForSingleObject,
};

use super::handle::{companion, owned, raw};
use super::object::Object;
use super::security::{Grant, Security};

/// `MUTANT_QUERY_STATE`: enough to ask who owns a mutex.
const MUTANT_QUERY_STATE: u32 = 0x0001;

windows_link::link!("ntdll.dll" "system" fn NtQueryMutant(
    mutant: HANDLE,
    class: u32,
    information: *mut c_void,
    length: u32,
    returned: *mut u32
) -> NTSTATUS);

/// `MUTANT_BASIC_INFORMATION`.
#[repr(C)]
struct MutantInformation {
    /// 1 when free, 0 or less while owned.
    current_count: i32,
    owned_by_caller: u8,
    abandoned: u8,
}

/// A held claim on endpoint slot `index` of an object. Dropping it (or the
/// process dying) releases the slot.
#[derive(Debug)]
pub(crate) struct EndpointLock {
    name: Vec<u16>,
    index: u32,
}

impl EndpointLock {
    /// Claims slot `index`, or returns `None` when a live endpoint holds it.
    pub(crate) fn try_acquire(object: &Object, index: u32) -> io::Result<Option<EndpointLock>> {
        let name = slot_name(object, index);
        let (reply, answer) = mpsc::sync_channel(1);
        keeper()?
            .send(Request::Acquire {
                name: name.clone(),
                mode: object.companion_mode(),
                reply,
            })
            .map_err(|_| keeper_gone())?;
        let acquired = answer.recv().map_err(|_| keeper_gone())??;
        // Not `then_some`: an `EndpointLock` built for nothing would release
        // the slot's mutex on drop.
        if acquired {
            Ok(Some(EndpointLock { name, index }))
        } else {
            Ok(None)
        }
    }

    /// The slot this lock claims.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }
}

impl Drop for EndpointLock {
    fn drop(&mut self) {
        if let Ok(keeper) = keeper() {
            let (done, released) = mpsc::sync_channel(1);
            let request = Request::Release {
                name: std::mem::take(&mut self.name),
                done,
            };
            if keeper.send(request).is_ok() {
                // Wait for it: whoever looks next must find the slot free.
                // Bounded: a keeper ended by process exit never answers.
                let _ = released.recv_timeout(std::time::Duration::from_secs(1));
            }
        }
    }
}

/// Whether any endpoint slot in `first..first + count` is claimed by a live
/// endpoint (of any process, this one included).
pub(crate) fn any_endpoint_alive(object: &Object, first: u32, count: u32) -> io::Result<bool> {
    for index in first..first.saturating_add(count.max(1)) {
        let name = slot_name(object, index);
        // SAFETY: `name` is NUL-terminated.
        let handle = unsafe { OpenMutexW(MUTANT_QUERY_STATE, 0, name.as_ptr()) };
        let Some(mutex) = owned(handle) else {
            // SAFETY: no arguments.
            match unsafe { GetLastError() } {
                // Nobody has ever held it, or every holder is gone.
                ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND => continue,
                // Something else has the name: not an endpoint.
                ERROR_INVALID_HANDLE => continue,
                // Cannot look: count it as alive (a false "alive" only waits).
                _ => return Ok(true),
            }
        };
        let mut info = MutantInformation {
            current_count: 1,
            owned_by_caller: 0,
            abandoned: 0,
        };
        // SAFETY: an open mutex handle with query access; `info` is a
        // writable MUTANT_BASIC_INFORMATION.
        let status = unsafe {
            NtQueryMutant(
                raw(&mutex),
                0,
                (&mut info as *mut MutantInformation).cast(),
                std::mem::size_of::<MutantInformation>() as u32,
                std::ptr::null_mut(),
            )
        };
        if status < 0 || info.current_count <= 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn slot_name(object: &Object, index: u32) -> Vec<u16> {
    companion(object.os_name(), &format!("ep{index}"))
}

enum Request {
    Acquire {
        name: Vec<u16>,
        mode: Option<u32>,
        reply: mpsc::SyncSender<io::Result<bool>>,
    },
    Release {
        name: Vec<u16>,
        /// Answered once the mutex is released: the slot is free when
        /// `EndpointLock::drop` returns, as on the other systems.
        done: mpsc::SyncSender<()>,
    },
}

fn keeper_gone() -> io::Error {
    io::Error::other("the endpoint keeper thread is gone")
}

/// The keeper thread's queue, started on first use.
fn keeper() -> io::Result<&'static mpsc::Sender<Request>> {
    static KEEPER: OnceLock<Option<mpsc::Sender<Request>>> = OnceLock::new();
    KEEPER
        .get_or_init(|| {
            let (send, requests) = mpsc::channel();
            std::thread::Builder::new()
                .name("memlink-endpoints".into())
                .spawn(move || keep(requests))
                .ok()?;
            Some(send)
        })
        .as_ref()
        .ok_or_else(|| io::Error::other("cannot start the endpoint keeper thread"))
}

/// The keeper: owns every endpoint mutex this process holds.
fn keep(requests: mpsc::Receiver<Request>) {
    let mut held: HashMap<Vec<u16>, OwnedHandle> = HashMap::new();
    for request in requests {
        match request {
            Request::Acquire { name, mode, reply } => {
                let answer = match held.entry(name) {
                    Entry::Occupied(_) => Ok(false),
                    Entry::Vacant(slot) => acquire(slot.key(), mode)
                        .map(|mutex| mutex.map(|mutex| slot.insert(mutex)).is_some()),
                };
                let _ = reply.send(answer);
            }
            Request::Release { name, done } => {
                if let Some(mutex) = held.remove(&name) {
                    // SAFETY: this thread owns the mutex (it took it).
                    unsafe { ReleaseMutex(raw(&mutex)) };
                }
                let _ = done.send(());
            }
        }
    }
}

/// Creates or opens the mutex `name` and takes it without waiting; `None`
/// when a live owner has it.
fn acquire(name: &[u16], mode: Option<u32>) -> io::Result<Option<OwnedHandle>> {
    let security = mode.and_then(|mode| Security::for_mode(mode, Grant::Sync).ok());
    let attributes = security.as_ref().map(Security::attributes);
    // SAFETY: `name` is NUL-terminated; the attributes (if any) point to a
    // descriptor that outlives the call.
    let handle = unsafe {
        CreateMutexW(
            attributes
                .as_ref()
                .map_or(std::ptr::null(), |a| a as *const _),
            0,
            name.as_ptr(),
        )
    };
    let mutex = owned(handle).ok_or_else(io::Error::last_os_error)?;
    // SAFETY: an open mutex handle.
    match unsafe { WaitForSingleObject(raw(&mutex), 0) } {
        // Free, or freed by the death of its owner: ours now.
        WAIT_OBJECT_0 | WAIT_ABANDONED => Ok(Some(mutex)),
        _ => Ok(None),
    }
}
