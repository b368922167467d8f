//! Making and closing endpoints: `ml_sender_create` / `_open` / `_close`
//! and the same for `ml_receiver`. One file for both ends, because they
//! share their argument checks and the close protocol, and because the
//! header lists these six together.

use std::ffi::c_char;

use memlink_core::channel::{ChannelOptions, Receiver, Sender};

use crate::args::{self, handle_out, Out};
use crate::boundary::call;
use crate::channel_options::ml_channel_options;
use crate::codes::ml_result;
use crate::failure::{Failure, Outcome};
use crate::guard::Endpoint;
use crate::handle;
use crate::receiver::{ml_receiver, ReceiverState};
use crate::sender::{ml_sender, SenderState};

/// # Safety
///
/// `options` must be NULL or an open `ml_channel_options`; `name` a
/// NUL-terminated string.
unsafe fn endpoint_args<'a>(
    options: *const ml_channel_options,
    name: *const c_char,
) -> Result<(ChannelOptions, &'a str), Failure> {
    let options = if options.is_null() {
        ChannelOptions::new()
    } else {
        // SAFETY: per the caller's contract.
        unsafe { handle::get(options)? }.clone()
    };
    // SAFETY: per the caller's contract.
    Ok((options, unsafe { args::name(name)? }))
}

fn store_sender(out: Out<*mut ml_sender>, sender: Sender) {
    let handle = handle::into_raw::<ml_sender>(Endpoint::new(SenderState::new(sender)));
    // SAFETY: checked non-NULL by `handle_out`; writable per the contract.
    unsafe { out.write(handle) };
}

fn store_receiver(out: Out<*mut ml_receiver>, receiver: Receiver) {
    let handle = handle::into_raw::<ml_receiver>(Endpoint::new(ReceiverState::new(receiver)));
    // SAFETY: checked non-NULL by `handle_out`; writable per the contract.
    unsafe { out.write(handle) };
}

/// Creates the channel `name` and attaches as its sender. `options` may be
/// NULL for the defaults. `ML_ERR_ALREADY_EXISTS` if the name is taken.
///
/// # Safety
///
/// `options` must be NULL or an `ml_channel_options` not used by another
/// thread meanwhile; `name` a NUL-terminated string; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_create(
    name: *const c_char,
    options: *const ml_channel_options,
    out: *mut *mut ml_sender,
) -> ml_result {
    call("ml_sender_create", || {
        let out = handle_out(out)?;
        // SAFETY: per the contract.
        let (options, name) = unsafe { endpoint_args(options, name)? };
        store_sender(out, options.create_sender(name)?);
        Ok(())
    })
}

/// Opens the existing channel `name` as a sender. Only the wait strategy of
/// `options` (NULL: the defaults) and its trust settings matter here: the
/// geometry is the channel's own. `ML_ERR_NOT_FOUND` if there is none,
/// `ML_ERR_NO_FREE_SLOT` if every sender slot is taken.
///
/// # Safety
///
/// As for `ml_sender_create`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_open(
    name: *const c_char,
    options: *const ml_channel_options,
    out: *mut *mut ml_sender,
) -> ml_result {
    call("ml_sender_open", || {
        let out = handle_out(out)?;
        // SAFETY: per the contract.
        let (options, name) = unsafe { endpoint_args(options, name)? };
        store_sender(out, options.open_sender(name)?);
        Ok(())
    })
}

/// Creates the channel `name` and attaches as its receiver.
///
/// # Safety
///
/// As for `ml_sender_create`.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_create(
    name: *const c_char,
    options: *const ml_channel_options,
    out: *mut *mut ml_receiver,
) -> ml_result {
    call("ml_receiver_create", || {
        let out = handle_out(out)?;
        // SAFETY: per the contract.
        let (options, name) = unsafe { endpoint_args(options, name)? };
        store_receiver(out, options.create_receiver(name)?);
        Ok(())
    })
}

/// Opens the existing channel `name` as a receiver (see `ml_sender_open`).
///
/// # Safety
///
/// As for `ml_sender_create`.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_open(
    name: *const c_char,
    options: *const ml_channel_options,
    out: *mut *mut ml_receiver,
) -> ml_result {
    call("ml_receiver_open", || {
        let out = handle_out(out)?;
        // SAFETY: per the contract.
        let (options, name) = unsafe { endpoint_args(options, name)? };
        store_receiver(out, options.open_receiver(name)?);
        Ok(())
    })
}

/// # Safety
///
/// `p` must be NULL or an open handle of type `H` that is not closed twice.
unsafe fn close_endpoint<H, S>(p: *mut H) -> Outcome
where
    H: handle::Handle<Inner = Endpoint<S>>,
{
    if p.is_null() {
        return Ok(());
    }
    // SAFETY: per the caller's contract.
    let endpoint = unsafe { handle::get(p.cast_const())? };
    // Refuse to free an endpoint that another thread is inside (a blocked
    // receive, say): it would be freed under that call's feet.
    let entered = endpoint.enter(H::WHAT).map_err(|_| {
        Failure::state(format!(
            "{} not closed: another thread is inside a call on it",
            H::WHAT
        ))
    })?;
    // The guard's memory goes with the handle: do not let it touch it.
    std::mem::forget(entered);
    // SAFETY: per the caller's contract; no call is inside it.
    unsafe { handle::destroy(p) }
}

/// Detaches the sender and frees it; an outstanding loan is abandoned
/// (nothing of it is published). A blocked receiver then sees
/// `ML_ERR_DISCONNECTED` once it has received everything sent. NULL is fine.
///
/// Returns `ML_OK`, or `ML_ERR_STATE` when another thread is inside a call on
/// this sender: then nothing happened, and the sender stays open (close it
/// again once that call has returned).
///
/// # Safety
///
/// `sender` must be NULL or an open `ml_sender`, not used again after a
/// close that returned `ML_OK`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_close(sender: *mut ml_sender) -> ml_result {
    call("ml_sender_close", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { close_endpoint(sender) }
    })
}

/// Detaches the receiver and frees it; an outstanding borrow is released.
/// NULL is fine. Returns as `ml_sender_close` does: `ML_ERR_STATE`, and the
/// receiver stays open, when another thread is inside a call on it.
///
/// # Safety
///
/// `receiver` must be NULL or an open `ml_receiver`, not used again after a
/// close that returned `ML_OK`.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_close(receiver: *mut ml_receiver) -> ml_result {
    call("ml_receiver_close", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { close_endpoint(receiver) }
    })
}
