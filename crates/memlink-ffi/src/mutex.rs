//! Robust mutexes: `ml_mutex_*`, the article's "others must not read while
//! one writes" for raw shared state, surviving its owner's `kill -9`.

use std::sync::Mutex as ThreadMutex;
use std::time::Duration;

use memlink_core::{Access, MutexGuard, RobustMutex, View};

use crate::args::{self, handle_out, Out, Wait};
use crate::boundary::call;
use crate::codes::{ml_result, ML_ERR_TIMEOUT};
use crate::failure::{Failure, Outcome};
use crate::handle::{self, impl_handle, Tagged};
use crate::mapping::ml_mapping;

/// The bytes a robust mutex takes in a mapping (128).
pub const ML_MUTEX_SIZE: usize = 128;
/// The alignment a robust mutex needs: its offset in the mapping must be a
/// multiple of this (128).
pub const ML_MUTEX_ALIGN: usize = 128;

// Literals above, so that cbindgen writes them into the header; checked here.
const _: () = assert!(ML_MUTEX_SIZE == RobustMutex::SIZE && ML_MUTEX_ALIGN == RobustMutex::ALIGN);

/// What an `ml_mutex` holds: its own view of the mutex's bytes, and the
/// guard while this handle holds the lock.
pub(crate) struct MutexState {
    // Declared first so that it drops first: the guard refers to memory
    // that `view` keeps mapped.
    guard: ThreadMutex<Option<MutexGuard<'static>>>,
    view: View,
}

impl Drop for MutexState {
    fn drop(&mut self) {
        // Closing a handle that still holds the lock unlocks it, as dropping
        // a Rust guard does (the protected state stays as its owner left it).
        if let Ok(mut slot) = self.guard.lock() {
            slot.take();
        }
    }
}

impl MutexState {
    fn mutex(&self) -> Result<&RobustMutex, Failure> {
        Ok(RobustMutex::attach(&self.view, 0)?)
    }
}

/// A robust, process-shared mutex that lives in a mapping
/// (`ML_MUTEX_SIZE` bytes at an `ML_MUTEX_ALIGN`-aligned offset). If the
/// process that holds it dies, the next locker gets it with `owner_died`
/// set, repairs the protected data and calls `ml_mutex_mark_consistent`;
/// unlocking without that makes the mutex not recoverable
/// (`ML_ERR_NOT_RECOVERABLE` for every later lock), as with POSIX robust
/// mutexes.
///
/// The lock belongs to the process, not the thread: a thread that locks it
/// twice waits for itself until its timeout. Opaque; close with
/// `ml_mutex_close` (which unlocks, if this handle holds the lock). Usable
/// from any thread.
pub struct ml_mutex {
    inner: Tagged<MutexState>,
}
impl_handle!(ml_mutex, MutexState, b"mlMUTEX_");

/// # Safety
///
/// `mapping` must be an open `ml_mapping`; `out` writable.
unsafe fn make(
    mapping: *const ml_mapping,
    offset: u64,
    init: bool,
    out: *mut *mut ml_mutex,
) -> Outcome {
    let out = handle_out(out)?;
    // SAFETY: per the caller's contract.
    let mapping = unsafe { handle::get(mapping)? };
    let view = mapping.view_with(offset, ML_MUTEX_SIZE as u64, Access::ReadWrite)?;
    if init {
        RobustMutex::init_in(&view, 0)?;
    } else {
        RobustMutex::attach(&view, 0)?;
    }
    let state = MutexState {
        guard: ThreadMutex::new(None),
        view,
    };
    // SAFETY: checked non-NULL; writable per the contract.
    unsafe { out.write(handle::into_raw::<ml_mutex>(state)) };
    Ok(())
}

/// Makes the `ML_MUTEX_SIZE` bytes at `offset` of a read-write `mapping` a
/// new, unlocked robust mutex. Do it once, before other processes open it
/// (typically right after creating the mapping); making it again over a
/// mutex in use breaks it. `ML_ERR_INVALID_ARGUMENT` for an offset that is
/// not a multiple of `ML_MUTEX_ALIGN`, `ML_ERR_OUT_OF_RANGE` past the end.
///
/// # Safety
///
/// `mapping` must be an open `ml_mapping`; `out` valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_mutex_init(
    mapping: *const ml_mapping,
    offset: u64,
    out: *mut *mut ml_mutex,
) -> ml_result {
    call("ml_mutex_init", || {
        // SAFETY: per the contract.
        unsafe { make(mapping, offset, true, out) }
    })
}

/// Opens the robust mutex that `ml_mutex_init` made at `offset` of
/// `mapping` (usually in another process). `ML_ERR_WRONG_KIND` if the bytes
/// there are no mutex; the mapping must be read-write.
///
/// # Safety
///
/// As for `ml_mutex_init`.
#[no_mangle]
pub unsafe extern "C" fn ml_mutex_open(
    mapping: *const ml_mapping,
    offset: u64,
    out: *mut *mut ml_mutex,
) -> ml_result {
    call("ml_mutex_open", || {
        // SAFETY: per the contract.
        unsafe { make(mapping, offset, false, out) }
    })
}

/// Closes a mutex handle, unlocking the mutex first if this handle holds
/// it. NULL is fine.
///
/// # Safety
///
/// `mutex` must be NULL or an open `ml_mutex` that no other thread is
/// using.
#[no_mangle]
pub unsafe extern "C" fn ml_mutex_close(mutex: *mut ml_mutex) {
    let _ = call("ml_mutex_close", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { handle::destroy(mutex) }
    });
}

/// Locks the mutex, waiting up to `timeout_ms` (`ML_TIMEOUT_INFINITE`: for
/// as long as it takes; 0: try once). On success stores in `*owner_died`
/// (if not NULL) 1 if the lock was taken over from a process that died (or
/// panicked) holding it: repair the protected data, then call
/// `ml_mutex_mark_consistent` before `ml_mutex_unlock`. 0 otherwise.
///
/// `ML_ERR_TIMEOUT` when the deadline passed, `ML_ERR_NOT_RECOVERABLE` when
/// an earlier taker of a dead owner's lock unlocked without marking it
/// consistent. A dead owner is noticed within about 100 ms.
///
/// # Safety
///
/// `mutex` must be an open `ml_mutex`; `owner_died` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_mutex_lock(
    mutex: *const ml_mutex,
    timeout_ms: i64,
    owner_died: *mut i32,
) -> ml_result {
    call("ml_mutex_lock", || {
        let wait = args::timeout(timeout_ms)?;
        // SAFETY: per the contract.
        let state = unsafe { handle::get(mutex)? };
        let robust = state.mutex()?;
        let guard = match wait {
            Wait::Forever => robust.lock()?,
            Wait::For(d) if d == Duration::ZERO => robust.try_lock()?.ok_or_else(|| {
                Failure::new(ML_ERR_TIMEOUT, "the robust mutex is held by another owner")
            })?,
            Wait::For(d) => robust.lock_timeout(d)?.ok_or_else(|| {
                Failure::new(
                    ML_ERR_TIMEOUT,
                    format!("the robust mutex stayed locked for {} ms", d.as_millis()),
                )
            })?,
        };
        let died = guard.owner_died();
        // SAFETY: the guard refers to the mutex in `state.view`'s mapped
        // memory, which stays mapped (at the same address) for as long as
        // `state` lives; `state` is boxed behind the handle and drops the
        // guard before the view (field order, and `MutexState::drop`).
        let guard: MutexGuard<'static> = unsafe { std::mem::transmute(guard) };
        let mut slot = state
            .guard
            .lock()
            .map_err(|_| Failure::state("the mutex handle was poisoned by a panic"))?;
        if slot.is_some() {
            // Cannot happen: the lock is exclusive per process and only this
            // handle's lock fills the slot. Unlock rather than keep two.
            drop(guard);
            return Err(Failure::state("this handle already holds the lock"));
        }
        *slot = Some(guard);
        if let Some(out) = Out::optional(owner_died) {
            // SAFETY: NULL or writable per the contract.
            unsafe { out.write(i32::from(died)) };
        }
        Ok(())
    })
}

/// Declares the protected data repaired after a lock that reported
/// `owner_died`. `ML_ERR_STATE` if this handle does not hold the lock.
///
/// # Safety
///
/// `mutex` must be an open `ml_mutex`.
#[no_mangle]
pub unsafe extern "C" fn ml_mutex_mark_consistent(mutex: *const ml_mutex) -> ml_result {
    call("ml_mutex_mark_consistent", || {
        // SAFETY: per the contract.
        let state = unsafe { handle::get(mutex)? };
        let mut slot = state
            .guard
            .lock()
            .map_err(|_| Failure::state("the mutex handle was poisoned by a panic"))?;
        match slot.as_mut() {
            Some(guard) => {
                guard.mark_consistent();
                Ok(())
            }
            None => Err(Failure::state("this handle does not hold the lock")),
        }
    })
}

/// Unlocks the mutex. `ML_ERR_STATE` if this handle does not hold the lock.
/// After a lock that reported `owner_died`, unlocking without
/// `ml_mutex_mark_consistent` makes the mutex not recoverable.
///
/// # Safety
///
/// `mutex` must be an open `ml_mutex`.
#[no_mangle]
pub unsafe extern "C" fn ml_mutex_unlock(mutex: *const ml_mutex) -> ml_result {
    call("ml_mutex_unlock", || {
        // SAFETY: per the contract.
        let state = unsafe { handle::get(mutex)? };
        let guard = state
            .guard
            .lock()
            .map_err(|_| Failure::state("the mutex handle was poisoned by a panic"))?
            .take();
        match guard {
            Some(guard) => {
                drop(guard);
                Ok(())
            }
            None => Err(Failure::state("this handle does not hold the lock")),
        }
    })
}

/// Stores the pid of the process that holds the mutex in `*out`, or 0 when
/// it is unlocked (or not recoverable).
///
/// # Safety
///
/// `mutex` must be an open `ml_mutex`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_mutex_owner_pid(mutex: *const ml_mutex, out: *mut u32) -> ml_result {
    call("ml_mutex_owner_pid", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let state = unsafe { handle::get(mutex)? };
        let pid = state.mutex()?.owner_pid().unwrap_or(0);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(pid) };
        Ok(())
    })
}
