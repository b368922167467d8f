//! Named events: `ml_event_*`, the article's "data is ready" signal.

use std::ffi::c_char;

use memlink_core::{EventKind, NamedEvent};

use crate::args::{self, handle_out, Out, Wait};
use crate::boundary::call;
use crate::codes::{ml_result, ML_ERR_TIMEOUT};
use crate::failure::Failure;
use crate::handle::{self, impl_handle, Tagged};

/// How an event behaves once set (`ML_EVENT_*`), passed as an integer.
pub type ml_event_kind = i32;
/// `set` releases one waiter (or the next one to wait) and the event resets
/// itself as it does.
pub const ML_EVENT_AUTO_RESET: ml_event_kind = 1;
/// `set` releases every waiter and the event stays set until `reset`.
pub const ML_EVENT_MANUAL_RESET: ml_event_kind = 2;

/// A checked `ml_event_kind`.
pub(crate) struct EventKindArg(pub(crate) EventKind);

impl TryFrom<ml_event_kind> for EventKindArg {
    type Error = Failure;
    fn try_from(v: ml_event_kind) -> Result<Self, Failure> {
        match v {
            ML_EVENT_AUTO_RESET => Ok(EventKindArg(EventKind::AutoReset)),
            ML_EVENT_MANUAL_RESET => Ok(EventKindArg(EventKind::ManualReset)),
            v => Err(Failure::invalid(format!(
                "event kind {v} is neither ML_EVENT_AUTO_RESET (1) nor ML_EVENT_MANUAL_RESET (2)"
            ))),
        }
    }
}

/// A named event (Windows `CreateEvent` with a name). Opaque; close with
/// `ml_event_close`. Usable from any number of threads at once.
pub struct ml_event {
    inner: Tagged<NamedEvent>,
}
impl_handle!(ml_event, NamedEvent, b"mlEVENT_");

fn store(out: Out<*mut ml_event>, event: NamedEvent) {
    // SAFETY: checked non-NULL by `handle_out`; writable per the contract.
    unsafe { out.write(handle::into_raw::<ml_event>(event)) };
}

/// Creates a named event of `kind` (`ML_EVENT_*`), not set. Fails with
/// `ML_ERR_ALREADY_EXISTS` if the name is taken (by an event or a mapping:
/// they share one namespace).
///
/// # Safety
///
/// `name` must be a NUL-terminated string; `out` valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_event_create(
    name: *const c_char,
    kind: ml_event_kind,
    out: *mut *mut ml_event,
) -> ml_result {
    call("ml_event_create", || {
        let out = handle_out(out)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        let EventKindArg(kind) = kind.try_into()?;
        store(out, NamedEvent::create(name, kind)?);
        Ok(())
    })
}

/// Opens an existing named event. `ML_ERR_NOT_FOUND` if there is none,
/// `ML_ERR_WRONG_KIND` if the name is a plain mapping or another object.
///
/// # Safety
///
/// As for `ml_event_create`.
#[no_mangle]
pub unsafe extern "C" fn ml_event_open(name: *const c_char, out: *mut *mut ml_event) -> ml_result {
    call("ml_event_open", || {
        let out = handle_out(out)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        store(out, NamedEvent::open(name)?);
        Ok(())
    })
}

/// Opens the named event, or creates it with `kind`, storing 1 (created) or
/// 0 (opened) in `*created` if not NULL. An opened event keeps its own kind.
///
/// # Safety
///
/// As for `ml_event_create`; `created` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_event_open_or_create(
    name: *const c_char,
    kind: ml_event_kind,
    out: *mut *mut ml_event,
    created: *mut i32,
) -> ml_result {
    call("ml_event_open_or_create", || {
        let out = handle_out(out)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        let EventKindArg(kind) = kind.try_into()?;
        let (event, d) = NamedEvent::open_or_create(name, kind)?;
        store(out, event);
        if let Some(created) = Out::optional(created) {
            // SAFETY: NULL or writable per the contract.
            unsafe { created.write(i32::from(d == memlink_core::Disposition::Created)) };
        }
        Ok(())
    })
}

/// Closes an event handle. NULL is fine.
///
/// # Safety
///
/// `event` must be NULL or an open `ml_event` that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn ml_event_close(event: *mut ml_event) {
    let _ = call("ml_event_close", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { handle::destroy(event) }
    });
}

/// Sets the event (`SetEvent`): auto-reset releases one waiter or the next
/// one to wait; manual-reset releases everyone until `ml_event_reset`.
/// Everything written before is visible to the released thread.
///
/// # Safety
///
/// `event` must be an open `ml_event`.
#[no_mangle]
pub unsafe extern "C" fn ml_event_set(event: *const ml_event) -> ml_result {
    call("ml_event_set", || {
        // SAFETY: an open `ml_event` per the contract.
        let e = unsafe { handle::get(event)? };
        e.set();
        Ok(())
    })
}

/// Resets the event to not set (`ResetEvent`).
///
/// # Safety
///
/// `event` must be an open `ml_event`.
#[no_mangle]
pub unsafe extern "C" fn ml_event_reset(event: *const ml_event) -> ml_result {
    call("ml_event_reset", || {
        // SAFETY: an open `ml_event` per the contract.
        let e = unsafe { handle::get(event)? };
        e.reset();
        Ok(())
    })
}

/// Releases one thread waiting right now, without setting the event.
///
/// # Safety
///
/// `event` must be an open `ml_event`.
#[no_mangle]
pub unsafe extern "C" fn ml_event_notify_one(event: *const ml_event) -> ml_result {
    call("ml_event_notify_one", || {
        // SAFETY: an open `ml_event` per the contract.
        let e = unsafe { handle::get(event)? };
        e.notify_one();
        Ok(())
    })
}

/// Releases every thread waiting right now, without setting the event.
///
/// # Safety
///
/// `event` must be an open `ml_event`.
#[no_mangle]
pub unsafe extern "C" fn ml_event_notify_all(event: *const ml_event) -> ml_result {
    call("ml_event_notify_all", || {
        // SAFETY: an open `ml_event` per the contract.
        let e = unsafe { handle::get(event)? };
        e.notify_all();
        Ok(())
    })
}

/// Stores 1 in `*out` if the event is set right now, else 0 (a snapshot).
///
/// # Safety
///
/// `event` must be an open `ml_event`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_event_is_set(event: *const ml_event, out: *mut i32) -> ml_result {
    call("ml_event_is_set", || {
        // SAFETY: an open `ml_event` per the contract.
        let e = unsafe { handle::get(event)? };
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(i32::from(e.is_set())) };
        Ok(())
    })
}

/// Waits until the event releases this thread (`WaitForSingleObject`):
/// `ML_OK`, or `ML_ERR_TIMEOUT` after `timeout_ms` milliseconds.
/// `ML_TIMEOUT_INFINITE` waits forever; 0 only checks (and, for an
/// auto-reset event, consumes) the signal.
///
/// # Safety
///
/// `event` must be an open `ml_event`.
#[no_mangle]
pub unsafe extern "C" fn ml_event_wait(event: *const ml_event, timeout_ms: i64) -> ml_result {
    call("ml_event_wait", || {
        // SAFETY: an open `ml_event` per the contract.
        let e = unsafe { handle::get(event)? };
        match args::timeout(timeout_ms)? {
            Wait::Forever => {
                e.wait();
                Ok(())
            }
            Wait::For(d) if e.wait_timeout(d) => Ok(()),
            Wait::For(_) => Err(Failure::new(
                ML_ERR_TIMEOUT,
                format!("wait on event {} timed out after {timeout_ms} ms", e.name()),
            )),
        }
    })
}
