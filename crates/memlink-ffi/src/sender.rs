//! The sending end: `ml_sender` and its sending calls.
//!
//! In Rust a `Loan` and a `Message` borrow their endpoint mutably. Over the
//! C ABI they are states of the endpoint handle instead: `ml_sender_loan`
//! then `ml_sender_commit` / `ml_sender_abandon`; `ml_receiver_borrow` then
//! `ml_receiver_release`. Each endpoint owns its `Sender` / `Receiver`
//! through a raw pointer and keeps at most one outstanding `Loan<'static>` /
//! `Message<'static>` made from it; every other operation first checks that
//! none is outstanding (else `ML_ERR_STATE`), so the endpoint is never used
//! while the loan or borrow holds it.

use std::ptr::NonNull;

use memlink_core::channel::{Loan, Sender, TrySendError};

use crate::args::{self, How, Out, Wait};
use crate::boundary::call;
use crate::codes::{ml_result, ML_ERR_DISCONNECTED, ML_ERR_FULL, ML_ERR_OUT_OF_RANGE};
use crate::failure::{Failure, Outcome};
use crate::guard::{Endpoint, Entered};
use crate::handle::{self, impl_handle, Tagged};

/// The sending end of a channel. Opaque; close with `ml_sender_close`.
/// One call at a time: a call made while another thread is inside one on
/// the same sender fails with `ML_ERR_STATE`.
pub struct ml_sender {
    inner: Tagged<Endpoint<SenderState>>,
}
impl_handle!(ml_sender, Endpoint<SenderState>, b"mlSENDER");

/// A sender and its outstanding loan, if any.
pub(crate) struct SenderState {
    /// Made from `*sender`; dropped before it.
    loan: Option<Lent>,
    /// Owned (`Box::into_raw`); only used through `loan` while one exists.
    sender: NonNull<Sender>,
    max_message: usize,
    name: String,
}

struct Lent {
    loan: Loan<'static>,
    len: usize,
}

impl SenderState {
    pub(crate) fn new(sender: Sender) -> SenderState {
        SenderState {
            loan: None,
            max_message: sender.max_message(),
            name: sender.name().to_owned(),
            sender: NonNull::from(Box::leak(Box::new(sender))),
        }
    }

    /// For `ml_waitset_wait`: the sender, shared. Refused while a loan
    /// holds it.
    pub(crate) fn for_waitset(&mut self) -> Result<&Sender, Failure> {
        Ok(&*self.sender()?)
    }

    /// The sender, when no loan holds it.
    fn sender(&mut self) -> Result<&mut Sender, Failure> {
        if self.loan.is_some() {
            return Err(Failure::state(
                "a loan is outstanding on this sender: call ml_sender_commit or \
                 ml_sender_abandon first",
            ));
        }
        // SAFETY: no loan refers to the sender, and `&mut self` is the only
        // way to it (the endpoint was entered).
        Ok(unsafe { self.sender.as_mut() })
    }

    /// The sender, for making a loan that `self` will keep.
    fn sender_for_loan(&mut self) -> Result<&'static mut Sender, Failure> {
        self.sender()?;
        // SAFETY: as in `sender`. The reference outlives this borrow of
        // `self` only inside the `Loan` stored in `self.loan`, which is
        // dropped before the sender (see `Drop`), and while it exists no
        // other reference to the sender is made (`sender` checks).
        Ok(unsafe { &mut *self.sender.as_ptr() })
    }
}

impl Drop for SenderState {
    fn drop(&mut self) {
        // An uncommitted loan publishes nothing.
        self.loan = None;
        // SAFETY: made by `Box::leak` in `new`, freed only here, and the
        // loan that referred to it is gone.
        drop(unsafe { Box::from_raw(self.sender.as_ptr()) });
    }
}

fn full() -> Failure {
    // Static text: `try_send` in a polling loop must not allocate.
    Failure::new(ML_ERR_FULL, "the channel is full")
}

fn try_send_failure(e: TrySendError, name: &str) -> Failure {
    match e {
        TrySendError::Full => full(),
        TrySendError::Disconnected => Failure::new(
            ML_ERR_DISCONNECTED,
            format!("channel {name} is disconnected: no receiver is attached any more"),
        ),
        TrySendError::Failed(e) => e.into(),
    }
}

/// Enters the sender behind `p`.
///
/// # Safety
///
/// `p` must be NULL or an open handle, not closed while the result lives.
pub(crate) unsafe fn enter_sender<'a>(
    p: *const ml_sender,
) -> Result<Entered<'a, SenderState>, Failure> {
    // SAFETY: per the caller's contract.
    unsafe { handle::get(p)? }.enter("ml_sender")
}

fn send(state: &mut SenderState, data: &[u8], how: How) -> Outcome {
    let sender = state.sender()?;
    match how {
        How::Wait(Wait::Forever) => sender.send(data)?,
        How::Wait(Wait::For(d)) => sender.send_timeout(data, d)?,
        How::Try => sender
            .try_send(data)
            .map_err(|e| try_send_failure(e, sender.name()))?,
    }
    Ok(())
}

/// Sends the `len` bytes at `data` as one message, waiting for room as long
/// as it takes. `ML_ERR_DISCONNECTED` if the receiver went away,
/// `ML_ERR_MESSAGE_TOO_LARGE` beyond the channel's maximum.
///
/// # Safety
///
/// `sender` must be an open `ml_sender`; `data` valid for reading `len`
/// bytes (or NULL with `len == 0`).
#[no_mangle]
pub unsafe extern "C" fn ml_sender_send(
    sender: *const ml_sender,
    data: *const u8,
    len: usize,
) -> ml_result {
    call("ml_sender_send", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        // SAFETY: `data` is readable for `len` bytes per the contract.
        let data = unsafe { args::bytes(data, len, "data")? };
        send(s, data, How::Wait(Wait::Forever))
    })
}

/// Like `ml_sender_send`, waiting at most `timeout_ms` milliseconds
/// (`ML_ERR_TIMEOUT`); `ML_TIMEOUT_INFINITE` waits forever.
///
/// # Safety
///
/// As for `ml_sender_send`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_send_timeout(
    sender: *const ml_sender,
    data: *const u8,
    len: usize,
    timeout_ms: i64,
) -> ml_result {
    call("ml_sender_send_timeout", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        let wait = args::timeout(timeout_ms)?;
        // SAFETY: `data` is readable for `len` bytes per the contract.
        let data = unsafe { args::bytes(data, len, "data")? };
        send(s, data, How::Wait(wait))
    })
}

/// Sends if there is room now; `ML_ERR_FULL` if not.
///
/// # Safety
///
/// As for `ml_sender_send`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_try_send(
    sender: *const ml_sender,
    data: *const u8,
    len: usize,
) -> ml_result {
    call("ml_sender_try_send", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        // SAFETY: `data` is readable for `len` bytes per the contract.
        let data = unsafe { args::bytes(data, len, "data")? };
        send(s, data, How::Try)
    })
}

fn loan(state: &mut SenderState, len: usize, how: How, out: *mut *mut u8) -> Outcome {
    let out = Out::new(out, "out")?;
    // SAFETY: writable per the contract.
    unsafe { out.write(std::ptr::null_mut()) };
    let sender = state.sender_for_loan()?;
    let mut loan = match how {
        How::Wait(Wait::Forever) => sender.loan(len)?,
        How::Wait(Wait::For(d)) => sender.loan_timeout(len, d)?,
        How::Try => sender
            .try_loan(len)
            .map_err(|e| try_send_failure(e, &state.name))?,
    };
    let ptr = loan.as_mut_ptr();
    state.loan = Some(Lent { loan, len });
    // SAFETY: checked non-NULL; writable per the contract.
    unsafe { out.write(ptr) };
    Ok(())
}

/// Reserves room for a message of `len` bytes in the ring and stores its
/// address in `*out` (zero-copy send): write the message there, then
/// `ml_sender_commit` publishes it or `ml_sender_abandon` drops it. Waits
/// for room up to `timeout_ms` (`ML_TIMEOUT_INFINITE`: forever;
/// `ML_ERR_TIMEOUT`). The address is valid until the commit or abandon;
/// other sender calls fail with `ML_ERR_STATE` meanwhile.
///
/// # Safety
///
/// `sender` must be an open `ml_sender`; `out` writable. Write at most
/// `len` bytes through `*out`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_loan(
    sender: *const ml_sender,
    len: usize,
    timeout_ms: i64,
    out: *mut *mut u8,
) -> ml_result {
    call("ml_sender_loan", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        loan(s, len, How::Wait(args::timeout(timeout_ms)?), out)
    })
}

/// Like `ml_sender_loan` if there is room now; `ML_ERR_FULL` if not.
///
/// # Safety
///
/// As for `ml_sender_loan`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_try_loan(
    sender: *const ml_sender,
    len: usize,
    out: *mut *mut u8,
) -> ml_result {
    call("ml_sender_try_loan", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        loan(s, len, How::Try, out)
    })
}

/// Publishes the outstanding loan as a message of its first `len` bytes
/// (`len` may be less than was loaned). `ML_ERR_STATE` without a loan;
/// `ML_ERR_OUT_OF_RANGE` if `len` exceeds the loan (which stays
/// outstanding).
///
/// # Safety
///
/// `sender` must be an open `ml_sender`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_commit(sender: *const ml_sender, len: usize) -> ml_result {
    call("ml_sender_commit", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        let lent = s
            .loan
            .take()
            .ok_or_else(|| Failure::state("no loan is outstanding on this sender"))?;
        if len > lent.len {
            let loaned = lent.len;
            s.loan = Some(lent);
            return Err(Failure::new(
                ML_ERR_OUT_OF_RANGE,
                format!("cannot commit {len} bytes of a loan of {loaned}"),
            ));
        }
        let mut loan = lent.loan;
        loan.truncate(len);
        loan.commit();
        Ok(())
    })
}

/// Drops the outstanding loan without publishing anything.
/// `ML_ERR_STATE` without a loan.
///
/// # Safety
///
/// `sender` must be an open `ml_sender`.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_abandon(sender: *const ml_sender) -> ml_result {
    call("ml_sender_abandon", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        match s.loan.take() {
            Some(lent) => {
                drop(lent);
                Ok(())
            }
            None => Err(Failure::state("no loan is outstanding on this sender")),
        }
    })
}

/// Stores 1 in `*out` if a receiver is attached now, else 0. (A receiver
/// that never attached yet is not a disconnection: sends buffer for it.)
///
/// # Safety
///
/// `sender` must be an open `ml_sender`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_is_connected(
    sender: *const ml_sender,
    out: *mut i32,
) -> ml_result {
    call("ml_sender_is_connected", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        let out = Out::new(out, "out")?;
        let connected = s.sender()?.is_connected();
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(i32::from(connected)) };
        Ok(())
    })
}

/// Stores the largest message the channel carries in `*out`.
///
/// # Safety
///
/// `sender` must be an open `ml_sender`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_sender_max_message(
    sender: *const ml_sender,
    out: *mut usize,
) -> ml_result {
    call("ml_sender_max_message", || {
        // SAFETY: an open handle per the contract.
        let mut entered = unsafe { enter_sender(sender)? };
        let s = &mut *entered;
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(s.max_message) };
        Ok(())
    })
}
