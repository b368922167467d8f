//! Channels: `ml_channel_options_*`, `ml_sender_*`, `ml_receiver_*`.
//!
//! In Rust a `Loan` and a `Message` borrow their endpoint mutably. Over the
//! C ABI they are states of the endpoint handle instead: `ml_sender_loan`
//! then `ml_sender_commit` / `ml_sender_abandon`; `ml_receiver_borrow` then
//! `ml_receiver_release`. Each endpoint owns its `Sender` / `Receiver`
//! through a raw pointer and keeps at most one outstanding `Loan<'static>` /
//! `Message<'static>` made from it; every other operation first checks that
//! none is outstanding (else `ML_ERR_STATE`), so the endpoint is never used
//! while the loan or borrow holds it.

use std::ffi::c_char;
use std::ptr::NonNull;
use std::time::Duration;

use memlink_core::channel::{
    ChannelOptions, Kind, Loan, Message, Receiver, Sender, TryRecvError, TrySendError, WaitStrategy,
};
use memlink_core::ErrorCode;

use crate::error::{
    call, ml_result, Failure, Outcome, ML_ERR_BUFFER_TOO_SMALL, ML_ERR_DISCONNECTED, ML_ERR_EMPTY,
    ML_ERR_FULL, ML_ERR_OUT_OF_RANGE,
};
use crate::util::{self, impl_handle, Endpoint, Entered, Out, RawBuf, Tagged, Wait};

// Endpoints may be moved between threads by C callers; mappings, views and
// events may be shared between them.
const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<Sender>();
    send::<Receiver>();
    send_sync::<memlink_core::Mapping>();
    send_sync::<memlink_core::View>();
    send_sync::<memlink_core::NamedEvent>();
};

/// What a channel connects (`ML_CHANNEL_*`), passed as an integer.
pub type ml_channel_kind = i32;
/// One sender, one receiver.
pub const ML_CHANNEL_ONE_TO_ONE: ml_channel_kind = 1;
/// Many senders, one receiver.
pub const ML_CHANNEL_MANY_TO_ONE: ml_channel_kind = 2;
/// One sender; every receiver gets every message.
pub const ML_CHANNEL_BROADCAST: ml_channel_kind = 3;

/// How blocked calls wait (`ML_WAIT_*`), passed as an integer.
pub type ml_wait_strategy = i32;
/// Busy-poll, never sleep: lowest latency, one core busy while waiting.
pub const ML_WAIT_SPIN: ml_wait_strategy = 1;
/// Poll for a while, then sleep in the kernel (the default).
pub const ML_WAIT_SPIN_THEN_PARK: ml_wait_strategy = 2;
/// Sleep in the kernel at once.
pub const ML_WAIT_PARK: ml_wait_strategy = 3;

/// A checked `ml_channel_kind`.
pub(crate) struct KindArg(pub(crate) Kind);

impl TryFrom<ml_channel_kind> for KindArg {
    type Error = Failure;
    fn try_from(v: ml_channel_kind) -> Result<Self, Failure> {
        match v {
            ML_CHANNEL_ONE_TO_ONE => Ok(KindArg(Kind::OneToOne)),
            ML_CHANNEL_MANY_TO_ONE => Ok(KindArg(Kind::ManyToOne)),
            ML_CHANNEL_BROADCAST => Ok(KindArg(Kind::Broadcast)),
            v => Err(Failure::invalid(format!(
                "channel kind {v} is none of ML_CHANNEL_ONE_TO_ONE (1), \
                 ML_CHANNEL_MANY_TO_ONE (2), ML_CHANNEL_BROADCAST (3)"
            ))),
        }
    }
}

/// A checked `ml_wait_strategy` with its spin time.
pub(crate) struct WaitArg(pub(crate) WaitStrategy);

impl TryFrom<(ml_wait_strategy, u32)> for WaitArg {
    type Error = Failure;
    fn try_from((v, spin_us): (ml_wait_strategy, u32)) -> Result<Self, Failure> {
        match v {
            ML_WAIT_SPIN => Ok(WaitArg(WaitStrategy::Spin)),
            ML_WAIT_SPIN_THEN_PARK => Ok(WaitArg(WaitStrategy::SpinThenPark {
                spin: Duration::from_micros(u64::from(spin_us)),
            })),
            ML_WAIT_PARK => Ok(WaitArg(WaitStrategy::Park)),
            v => Err(Failure::invalid(format!(
                "wait strategy {v} is none of ML_WAIT_SPIN (1), ML_WAIT_SPIN_THEN_PARK (2), \
                 ML_WAIT_PARK (3)"
            ))),
        }
    }
}

/// Options for creating and opening channels. Opaque; free with
/// `ml_channel_options_free`. Use from one thread at a time.
pub struct ml_channel_options {
    inner: Tagged<ChannelOptions>,
}
impl_handle!(ml_channel_options, ChannelOptions, b"mlCHNOPT");

/// The sending end of a channel. Opaque; close with `ml_sender_close`.
/// One call at a time: a call made while another thread is inside one on
/// the same sender fails with `ML_ERR_STATE`.
pub struct ml_sender {
    inner: Tagged<Endpoint<SenderState>>,
}
impl_handle!(ml_sender, Endpoint<SenderState>, b"mlSENDER");

/// The receiving end of a channel. Opaque; close with `ml_receiver_close`.
/// One call at a time, as for `ml_sender`.
pub struct ml_receiver {
    inner: Tagged<Endpoint<ReceiverState>>,
}
impl_handle!(ml_receiver, Endpoint<ReceiverState>, b"mlRECVER");

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
    fn new(sender: Sender) -> SenderState {
        SenderState {
            loan: None,
            max_message: sender.max_message(),
            name: sender.name().to_owned(),
            sender: NonNull::from(Box::leak(Box::new(sender))),
        }
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
    fn new(receiver: Receiver) -> ReceiverState {
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

/// How a receive or send waits.
#[derive(Clone, Copy)]
enum How {
    Wait(Wait),
    Try,
}

fn full() -> Failure {
    // Static text: `try_send` in a polling loop must not allocate.
    Failure::new(ML_ERR_FULL, "the channel is full")
}

fn empty() -> Failure {
    Failure::new(ML_ERR_EMPTY, "the channel is empty")
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

// ---------------------------------------------------------------------------
// Options

/// Creates channel options with the defaults: one-to-one, a 64 KiB ring,
/// messages up to 4 KiB, 16 senders (many-to-one) / 8 receivers
/// (broadcast), not lossy, spin-then-park, mode 0600, transient.
///
/// # Safety
///
/// `out` must be valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_new(out: *mut *mut ml_channel_options) -> ml_result {
    call("ml_channel_options_new", || {
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(util::into_raw::<ml_channel_options>(ChannelOptions::new())) };
        Ok(())
    })
}

/// Frees channel options. NULL is fine.
///
/// # Safety
///
/// `options` must be NULL or an `ml_channel_options` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_free(options: *mut ml_channel_options) {
    let _ = call("ml_channel_options_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { util::destroy(options) }
    });
}

/// What the channel connects (`ML_CHANNEL_*`).
///
/// # Safety
///
/// `options` must be an `ml_channel_options` used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_kind(
    options: *mut ml_channel_options,
    kind: ml_channel_kind,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_kind", options, |o| {
            let KindArg(kind) = kind.try_into()?;
            o.kind(kind);
            Ok(())
        })
    }
}

/// Ring size in bytes: a power of two, at least twice the largest record
/// (message + 8 bytes, rounded up to 8). Checked when the channel is made.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_capacity(
    options: *mut ml_channel_options,
    bytes: u64,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_capacity", options, |o| {
            o.capacity(bytes);
            Ok(())
        })
    }
}

/// The largest message, in bytes.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_max_message(
    options: *mut ml_channel_options,
    bytes: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_max_message", options, |o| {
            o.max_message(bytes);
            Ok(())
        })
    }
}

/// Many-to-one: how many senders may be attached at once.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_max_senders(
    options: *mut ml_channel_options,
    n: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_max_senders", options, |o| {
            o.max_senders(n);
            Ok(())
        })
    }
}

/// Broadcast: how many receivers may be attached at once.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_max_receivers(
    options: *mut ml_channel_options,
    n: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_max_receivers", options, |o| {
            o.max_receivers(n);
            Ok(())
        })
    }
}

/// Broadcast, nonzero: slow receivers lose the oldest messages (see
/// `ml_receiver_take_missed`) instead of making the sender wait. Lossy
/// channels cannot lend messages (`ml_receiver_borrow` fails with
/// `ML_ERR_UNSUPPORTED`); `ml_receiver_recv` works.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_lossy(
    options: *mut ml_channel_options,
    lossy: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_lossy", options, |o| {
            o.lossy(util::flag(lossy));
            Ok(())
        })
    }
}

/// How blocked calls of endpoints made with these options wait
/// (`ML_WAIT_*`); `spin_us` is the polling time of `ML_WAIT_SPIN_THEN_PARK`
/// in microseconds (ignored otherwise; the default is 50).
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_wait(
    options: *mut ml_channel_options,
    strategy: ml_wait_strategy,
    spin_us: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_wait", options, |o| {
            let WaitArg(strategy) = (strategy, spin_us).try_into()?;
            o.wait(strategy);
            Ok(())
        })
    }
}

/// Permission bits of a created channel (default `0600`).
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_mode(
    options: *mut ml_channel_options,
    mode: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_mode", options, |o| {
            o.mode(mode);
            Ok(())
        })
    }
}

/// Nonzero: the channel stays after its last endpoint goes, until
/// `ml_mapping_remove`.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_persistent(
    options: *mut ml_channel_options,
    persistent: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_persistent", options, |o| {
            o.persistent(util::flag(persistent));
            Ok(())
        })
    }
}

/// Nonzero: accept a channel that another user created.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_allow_foreign_owner(
    options: *mut ml_channel_options,
    allow: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_channel_options_set_allow_foreign_owner", options, |o| {
            o.allow_foreign_owner(util::flag(allow));
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------
// Making and closing endpoints

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
        unsafe { util::get(options)? }.clone()
    };
    // SAFETY: per the caller's contract.
    Ok((options, unsafe { util::name(name)? }))
}

fn endpoint_out<H>(out: *mut *mut H) -> Result<Out<*mut H>, Failure> {
    let out = Out::new(out, "out")?;
    // SAFETY: every export's contract: `out` is valid for writing a pointer.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(out)
}

fn store_sender(out: Out<*mut ml_sender>, sender: Sender) {
    let handle = util::into_raw::<ml_sender>(Endpoint::new(SenderState::new(sender)));
    // SAFETY: checked non-NULL by `endpoint_out`; writable per the contract.
    unsafe { out.write(handle) };
}

fn store_receiver(out: Out<*mut ml_receiver>, receiver: Receiver) {
    let handle = util::into_raw::<ml_receiver>(Endpoint::new(ReceiverState::new(receiver)));
    // SAFETY: checked non-NULL by `endpoint_out`; writable per the contract.
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
        let out = endpoint_out(out)?;
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
        let out = endpoint_out(out)?;
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
        let out = endpoint_out(out)?;
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
        let out = endpoint_out(out)?;
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
    H: util::Handle<Inner = Endpoint<S>>,
{
    if p.is_null() {
        return Ok(());
    }
    // SAFETY: per the caller's contract.
    let endpoint = unsafe { util::get(p.cast_const())? };
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
    unsafe { util::destroy(p) }
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

// ---------------------------------------------------------------------------
// Sending

/// Enters the sender behind `p`.
///
/// # Safety
///
/// `p` must be NULL or an open handle, not closed while the result lives.
unsafe fn enter_sender<'a>(p: *const ml_sender) -> Result<Entered<'a, SenderState>, Failure> {
    // SAFETY: per the caller's contract.
    unsafe { util::get(p)? }.enter("ml_sender")
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
        let data = unsafe { util::bytes(data, len, "data")? };
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
        let wait = util::timeout(timeout_ms)?;
        // SAFETY: `data` is readable for `len` bytes per the contract.
        let data = unsafe { util::bytes(data, len, "data")? };
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
        let data = unsafe { util::bytes(data, len, "data")? };
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
        loan(s, len, How::Wait(util::timeout(timeout_ms)?), out)
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

// ---------------------------------------------------------------------------
// Receiving

/// Enters the receiver behind `p`.
///
/// # Safety
///
/// `p` must be NULL or an open handle, not closed while the result lives.
unsafe fn enter_receiver<'a>(p: *const ml_receiver) -> Result<Entered<'a, ReceiverState>, Failure> {
    // SAFETY: per the caller's contract.
    unsafe { util::get(p)? }.enter("ml_receiver")
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
    let mut buf = unsafe { util::bytes_mut(buf, cap, "buf")? };
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
        let wait = util::timeout(timeout_ms)?;
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
        borrow(r, How::Wait(util::timeout(timeout_ms)?), out_ptr, out_len)
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
