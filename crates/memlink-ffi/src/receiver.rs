//! The receiving end: `ml_receiver` and its receiving calls (see `sender`
//! for how a borrow is a state of the handle).

use std::ptr::NonNull;

use memlink_core::channel::{Message, Receiver, TryRecvError};
use memlink_core::ErrorCode;

use crate::args::{self, How, Out, RawBuf, Wait};
use crate::boundary::call;
use crate::codes::{ml_result, ML_ERR_BUFFER_TOO_SMALL, ML_ERR_DISCONNECTED, ML_ERR_EMPTY};
use crate::failure::{Failure, Outcome};
use crate::guard::{Endpoint, Entered};
use crate::handle::{self, impl_handle, Tagged};

/// The receiving end of a channel. Opaque; close with `ml_receiver_close`.
/// One call at a time, as for `ml_sender`.
pub struct ml_receiver {
    inner: Tagged<Endpoint<ReceiverState>>,
}
impl_handle!(ml_receiver, Endpoint<ReceiverState>, b"mlRECVER");

/// A receiver, its outstanding borrow, and a message that did not fit the
/// caller's buffer.
pub(crate) struct ReceiverState {
    borrow: Option<Borrowed>,
    /// Received but not delivered (the caller's buffer was too small).
    pending: Option<Vec<u8>>,
    /// Lossy broadcast channels lend nothing; learned on first receive.
    lossy: bool,
    /// Reused buffer for receiving from lossy channels.
    stage: Vec<u8>,
    /// Owned (`Box::into_raw`); only used through `borrow` while one exists.
    receiver: NonNull<Receiver>,
    max_message: usize,
    name: String,
}

/// What a borrow lends; held only for its `Drop` (which releases the
/// message's space in the ring).
#[allow(dead_code)]
enum Borrowed {
    Ring(Message<'static>),
    Pending(Vec<u8>),
}

impl ReceiverState {
    pub(crate) fn new(receiver: Receiver) -> ReceiverState {
        ReceiverState {
            borrow: None,
            pending: None,
            lossy: false,
            stage: Vec::new(),
            max_message: receiver.max_message(),
            name: receiver.name().to_owned(),
            receiver: NonNull::from(Box::leak(Box::new(receiver))),
        }
    }

    fn check_no_borrow(&self) -> Outcome {
        if self.borrow.is_some() {
            return Err(Failure::state(
                "a borrowed message is outstanding on this receiver: call ml_receiver_release \
                 first",
            ));
        }
        Ok(())
    }

    /// For `ml_waitset_wait`: the receiver, shared, and whether a message
    /// that did not fit the caller's buffer is waiting here (then it is
    /// readable whatever the ring says). Refused while a borrow holds it.
    pub(crate) fn for_waitset(&mut self) -> Result<(&Receiver, bool), Failure> {
        let pending = self.pending.is_some();
        Ok((&*self.receiver()?, pending))
    }

    /// The receiver, when no borrow holds it.
    fn receiver(&mut self) -> Result<&mut Receiver, Failure> {
        self.check_no_borrow()?;
        // SAFETY: no borrow refers to the receiver; `&mut self` is the only
        // way to it (the endpoint was entered).
        Ok(unsafe { self.receiver.as_mut() })
    }

    /// The receiver, for a borrow that `self` may keep.
    fn receiver_for_borrow(&mut self) -> Result<&'static mut Receiver, Failure> {
        self.receiver()?;
        // SAFETY: as in `receiver`; the borrow made from this reference is
        // either dropped before this call returns or stored in
        // `self.borrow`, which is dropped before the receiver, and no other
        // reference is made while it exists.
        Ok(unsafe { &mut *self.receiver.as_ptr() })
    }
}

impl Drop for ReceiverState {
    fn drop(&mut self) {
        self.borrow = None;
        // SAFETY: made by `Box::leak` in `new`, freed only here, and the
        // borrow that referred to it is gone.
        drop(unsafe { Box::from_raw(self.receiver.as_ptr()) });
    }
}

fn empty() -> Failure {
    Failure::new(ML_ERR_EMPTY, "the channel is empty")
}

fn try_recv_failure(e: TryRecvError, name: &str) -> Failure {
    match e {
        TryRecvError::Empty => empty(),
        TryRecvError::Disconnected => Failure::new(
            ML_ERR_DISCONNECTED,
            format!("channel {name} is disconnected: no sender is attached any more"),
        ),
        TryRecvError::Failed(e) => e.into(),
    }
}

fn too_small(needed: usize, given: usize) -> Failure {
    Failure::new(
        ML_ERR_BUFFER_TOO_SMALL,
        format!(
            "the message is {needed} bytes but the buffer holds {given}; it is kept for the \
             next receive"
        ),
    )
}

/// Enters the receiver behind `p`.
///
/// # Safety
///
/// `p` must be NULL or an open handle, not closed while the result lives.
pub(crate) unsafe fn enter_receiver<'a>(
    p: *const ml_receiver,
) -> Result<Entered<'a, ReceiverState>, Failure> {
    // SAFETY: per the caller's contract.
    unsafe { handle::get(p)? }.enter("ml_receiver")
}

fn borrow_message(
    receiver: &'static mut Receiver,
    how: How,
    name: &str,
) -> Result<Message<'static>, Failure> {
    match how {
        How::Wait(Wait::Forever) => Ok(receiver.recv_borrow()?),
        How::Wait(Wait::For(d)) => Ok(receiver.recv_borrow_timeout(d)?),
        How::Try => receiver
            .try_recv_borrow()
            .map_err(|e| try_recv_failure(e, name)),
    }
}

/// Copies `message` to the caller's buffer, or keeps it pending.
fn deliver(
    state: &mut ReceiverState,
    message: Vec<u8>,
    buf: &mut RawBuf,
    out_len: &Out<usize>,
) -> Outcome {
    // SAFETY: writable per the contract.
    unsafe { out_len.write(message.len()) };
    if message.len() > buf.len() {
        let given = buf.len();
        let needed = message.len();
        state.pending = Some(message);
        return Err(too_small(needed, given));
    }
    buf.prefix(message.len()).copy_from_slice(&message);
    // Keep the allocation for the next lossy receive.
    state.stage = message;
    Ok(())
}

fn receive(
    state: &mut ReceiverState,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    how: How,
) -> Outcome {
    let out_len = Out::new(out_len, "out_len")?;
    // SAFETY: writable per the contract.
    unsafe { out_len.write(0) };
    // SAFETY: per the contract.
    let mut buf = unsafe { args::bytes_mut(buf, cap, "buf")? };
    state.check_no_borrow()?;
    if let Some(message) = state.pending.take() {
        return deliver(state, message, &mut buf, &out_len);
    }
    if !state.lossy {
        match borrow_message(state.receiver_for_borrow()?, how, &state.name) {
            Ok(message) => {
                let n = message.len();
                // SAFETY: writable per the contract.
                unsafe { out_len.write(n) };
                if n > buf.len() {
                    state.pending = Some(message.to_vec());
                    return Err(too_small(n, buf.len()));
                }
                message.read_at(0, buf.prefix(n))?;
                return Ok(());
            }
            Err(f) if f.is(ErrorCode::Unsupported) => state.lossy = true,
            Err(f) => return Err(f),
        }
    }
    let mut stage = std::mem::take(&mut state.stage);
    let receiver = state.receiver()?;
    let received = match how {
        How::Wait(Wait::Forever) => receiver.recv_into(&mut stage).map_err(TryRecvError::Failed),
        How::Wait(Wait::For(d)) => receiver
            .recv_timeout(&mut stage, d)
            .map_err(TryRecvError::Failed),
        How::Try => receiver.try_recv(&mut stage),
    };
    if let Err(e) = received {
        state.stage = stage;
        return Err(try_recv_failure(e, &state.name));
    }
    deliver(state, stage, &mut buf, &out_len)
}

/// Receives the next message into `buf` (capacity `cap` bytes), waiting as
/// long as it takes, and stores its length in `*out_len`.
///
/// If the message is longer than `cap`, the call fails with
/// `ML_ERR_BUFFER_TOO_SMALL`, `*out_len` is the length needed, and the
/// message is kept: the next receive (or borrow) returns it. So
/// `ml_receiver_recv(rx, NULL, 0, &len)` asks for the next message's length.
/// `ML_ERR_DISCONNECTED` once the sender is gone and everything it sent was
/// received.
///
/// # Safety
///
/// `receiver` must be an open `ml_receiver`; `buf` valid for writing `cap`
/// bytes (or NULL with `cap == 0`); `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_recv(
    receiver: *const ml_receiver,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> ml_result {
    call("ml_receiver_recv", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        receive(r, buf, cap, out_len, How::Wait(Wait::Forever))
    })
}

/// Like `ml_receiver_recv`, waiting at most `timeout_ms` milliseconds
/// (`ML_ERR_TIMEOUT`); `ML_TIMEOUT_INFINITE` waits forever.
///
/// # Safety
///
/// As for `ml_receiver_recv`.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_recv_timeout(
    receiver: *const ml_receiver,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    timeout_ms: i64,
) -> ml_result {
    call("ml_receiver_recv_timeout", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        let wait = args::timeout(timeout_ms)?;
        receive(r, buf, cap, out_len, How::Wait(wait))
    })
}

/// Like `ml_receiver_recv` if a message is there now; `ML_ERR_EMPTY` if
/// not.
///
/// # Safety
///
/// As for `ml_receiver_recv`.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_try_recv(
    receiver: *const ml_receiver,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> ml_result {
    call("ml_receiver_try_recv", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        receive(r, buf, cap, out_len, How::Try)
    })
}

fn borrow(
    state: &mut ReceiverState,
    how: How,
    out_ptr: *mut *const u8,
    out_len: *mut usize,
) -> Outcome {
    let out_ptr = Out::new(out_ptr, "out_ptr")?;
    let out_len = Out::new(out_len, "out_len")?;
    // SAFETY: both writable per the contract.
    unsafe {
        out_ptr.write(std::ptr::null());
        out_len.write(0);
    }
    state.check_no_borrow()?;
    let (ptr, len, borrowed) = match state.pending.take() {
        Some(message) => (message.as_ptr(), message.len(), Borrowed::Pending(message)),
        None => {
            let message = borrow_message(state.receiver_for_borrow()?, how, &state.name)?;
            (message.as_ptr(), message.len(), Borrowed::Ring(message))
        }
    };
    state.borrow = Some(borrowed);
    // SAFETY: both writable per the contract.
    unsafe {
        out_ptr.write(ptr);
        out_len.write(len);
    }
    Ok(())
}

/// Lends the next message in place (zero-copy receive): stores its address
/// in `*out_ptr` and its length in `*out_len`, valid until
/// `ml_receiver_release`, which gives its space back to the sender. Other
/// receiver calls fail with `ML_ERR_STATE` meanwhile. Waits up to
/// `timeout_ms` (`ML_TIMEOUT_INFINITE`: forever; `ML_ERR_TIMEOUT`).
/// Lossy broadcast channels lend nothing (`ML_ERR_UNSUPPORTED`).
///
/// # Safety
///
/// `receiver` must be an open `ml_receiver`; `out_ptr` and `out_len`
/// writable. Only read through `*out_ptr`, at most `*out_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_borrow(
    receiver: *const ml_receiver,
    timeout_ms: i64,
    out_ptr: *mut *const u8,
    out_len: *mut usize,
) -> ml_result {
    call("ml_receiver_borrow", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        borrow(r, How::Wait(args::timeout(timeout_ms)?), out_ptr, out_len)
    })
}

/// Like `ml_receiver_borrow` if a message is there now; `ML_ERR_EMPTY` if
/// not.
///
/// # Safety
///
/// As for `ml_receiver_borrow`.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_try_borrow(
    receiver: *const ml_receiver,
    out_ptr: *mut *const u8,
    out_len: *mut usize,
) -> ml_result {
    call("ml_receiver_try_borrow", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        borrow(r, How::Try, out_ptr, out_len)
    })
}

/// Ends the outstanding borrow and gives the message's space back.
/// `ML_ERR_STATE` without a borrow.
///
/// # Safety
///
/// `receiver` must be an open `ml_receiver`.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_release(receiver: *const ml_receiver) -> ml_result {
    call("ml_receiver_release", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        match r.borrow.take() {
            Some(borrowed) => {
                drop(borrowed);
                Ok(())
            }
            None => Err(Failure::state(
                "no borrowed message is outstanding on this receiver",
            )),
        }
    })
}

/// Stores 1 in `*out` if a sender is attached now, else 0.
///
/// # Safety
///
/// `receiver` must be an open `ml_receiver`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_is_connected(
    receiver: *const ml_receiver,
    out: *mut i32,
) -> ml_result {
    call("ml_receiver_is_connected", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        let out = Out::new(out, "out")?;
        let connected = r.receiver()?.is_connected();
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(i32::from(connected)) };
        Ok(())
    })
}

/// Stores the largest message the channel carries in `*out`: a buffer of
/// that size always fits.
///
/// # Safety
///
/// `receiver` must be an open `ml_receiver`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_max_message(
    receiver: *const ml_receiver,
    out: *mut usize,
) -> ml_result {
    call("ml_receiver_max_message", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(r.max_message) };
        Ok(())
    })
}

/// Lossy broadcast: stores in `*out` how many messages were overwritten
/// before this receiver could read them, since the last call. 0 otherwise.
///
/// # Safety
///
/// `receiver` must be an open `ml_receiver`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_receiver_take_missed(
    receiver: *const ml_receiver,
    out: *mut u64,
) -> ml_result {
    call("ml_receiver_take_missed", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_receiver(receiver)? };
        let r = &mut *entered;
        let out = Out::new(out, "out")?;
        let missed = r.receiver()?.take_missed();
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(missed) };
        Ok(())
    })
}
