//! `Sender`, `Receiver`, `Loan`, `Borrow` and `ChannelKind`.
//!
//! In Rust a `Loan` and a `Message` borrow their endpoint mutably. Here, as
//! in the C ABI, they are states of the endpoint: each endpoint owns its
//! `Sender` / `Receiver` through a raw pointer (from `Box::leak`) and keeps
//! at most one outstanding `Loan<'static>` / `Message<'static>` made from
//! it; every other call first checks that none is outstanding, so the
//! endpoint is never used while a loan or borrow holds it. The Python `Loan`
//! and `Borrow` objects name their lease by id and share a [`Lease`] with
//! the endpoint, which counts the buffers exported from them.
//!
//! An endpoint serves one call at a time: its state sits behind a mutex that
//! is only ever tried (a blocking call holds it without the GIL, and a
//! thread that waited for it with the GIL could deadlock with that call's
//! signal checks), so a concurrent call raises `StateError`.

use std::ffi::c_int;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use memlink_core::channel::{
    ChannelOptions, Kind, Loan, Message, Receiver, Sender, TryRecvError, TrySendError, WaitStrategy,
};
use memlink_core::Error;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PyTuple, PyWeakrefReference};

use crate::buffer::{fill, Exports, Input};
use crate::errors::{self, to_py};
use crate::{blocking, deadline, index, Deadline};

/// What a channel connects.
#[pyclass(eq, eq_int, frozen, module = "memlink", name = "ChannelKind")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyKind {
    /// One sender, one receiver.
    #[pyo3(name = "ONE_TO_ONE")]
    OneToOne = 1,
    /// Many senders, one receiver.
    #[pyo3(name = "MANY_TO_ONE")]
    ManyToOne = 2,
    /// One sender; every receiver gets every message.
    #[pyo3(name = "BROADCAST")]
    Broadcast = 3,
}

impl From<Kind> for PyKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::OneToOne => PyKind::OneToOne,
            Kind::ManyToOne => PyKind::ManyToOne,
            _ => PyKind::Broadcast,
        }
    }
}

fn kind_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Kind> {
    let Some(obj) = obj else {
        return Ok(Kind::OneToOne);
    };
    if let Ok(k) = obj.extract::<PyKind>() {
        return Ok(match k {
            PyKind::OneToOne => Kind::OneToOne,
            PyKind::ManyToOne => Kind::ManyToOne,
            PyKind::Broadcast => Kind::Broadcast,
        });
    }
    match obj.extract::<String>().as_deref() {
        Ok("one_to_one" | "one-to-one") => Ok(Kind::OneToOne),
        Ok("many_to_one" | "many-to-one") => Ok(Kind::ManyToOne),
        Ok("broadcast") => Ok(Kind::Broadcast),
        _ => Err(errors::invalid(format!(
            "kind must be a memlink.ChannelKind or \"one_to_one\" / \"many_to_one\" / \
             \"broadcast\", not {}",
            obj.repr()?
        ))),
    }
}

fn wait_arg(wait: &str, spin_us: u64) -> PyResult<WaitStrategy> {
    match wait {
        "spin" => Ok(WaitStrategy::Spin),
        "spin_then_park" | "spin-then-park" => Ok(WaitStrategy::SpinThenPark {
            spin: Duration::from_micros(spin_us),
        }),
        "park" => Ok(WaitStrategy::Park),
        other => Err(errors::invalid(format!(
            "wait {other:?} is none of \"spin\", \"spin_then_park\", \"park\""
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn channel_options(
    kind: Option<&Bound<'_, PyAny>>,
    capacity: u64,
    max_message: u32,
    max_senders: u32,
    max_receivers: u32,
    lossy: bool,
    wait: &str,
    spin_us: u64,
    mode: u32,
    persistent: bool,
    allow_foreign_owner: bool,
) -> PyResult<ChannelOptions> {
    let mut o = ChannelOptions::new();
    o.kind(kind_arg(kind)?)
        .capacity(capacity)
        .max_message(max_message)
        .max_senders(max_senders)
        .max_receivers(max_receivers)
        .lossy(lossy)
        .wait(wait_arg(wait, spin_us)?)
        .mode(mode)
        .persistent(persistent)
        .allow_foreign_owner(allow_foreign_owner);
    Ok(o)
}

/// What an endpoint and its Python `Loan` / `Borrow` share about one lease.
pub(crate) struct Lease {
    id: u64,
    exports: Exports,
    live: AtomicBool,
    /// Why it is no longer outstanding (for messages).
    ended: Mutex<&'static str>,
    /// A weak reference to the memoryview `.buffer` handed out, released
    /// when the lease ends.
    view: Mutex<Option<Py<PyAny>>>,
}

impl Lease {
    fn new(id: u64) -> Arc<Lease> {
        Arc::new(Lease {
            id,
            exports: Exports::default(),
            live: AtomicBool::new(true),
            ended: Mutex::new(""),
            view: Mutex::new(None),
        })
    }

    /// Releases the memoryview we handed out and checks that no other
    /// buffer of the lease is left: then its memory may go.
    fn let_go(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        let weak = self.view.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(weak) = weak {
            let view = weak.bind(py).call0()?;
            if !view.is_none() {
                if let Err(e) = view.call_method0("release") {
                    *self.view.lock().unwrap_or_else(|e| e.into_inner()) = Some(weak);
                    let err = errors::in_use(format!(
                        "the {what}'s memoryview is still used by another buffer (a numpy \
                         array?): delete that first"
                    ));
                    err.set_cause(py, Some(e));
                    return Err(err);
                }
            }
        }
        let n = self.exports.count();
        if n > 0 {
            return Err(errors::in_use(format!(
                "{n} buffer(s) (memoryview, numpy array) still use the {what}'s memory: \
                 delete or release them first"
            )));
        }
        Ok(())
    }

    fn end(&self, how: &'static str) {
        *self.ended.lock().unwrap_or_else(|e| e.into_inner()) = how;
        self.live.store(false, Ordering::SeqCst);
    }

    fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    fn how(&self) -> &'static str {
        *self.ended.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `.buffer` memoryview: the one handed out before, if alive.
    fn buffer(&self, owner: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = owner.py();
        let mut slot = self.view.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(weak) = slot.as_ref() {
            let view = weak.bind(py).call0()?;
            if !view.is_none() {
                return Ok(view.unbind());
            }
        }
        let view = PyMemoryView::from(owner)?;
        *slot = Some(PyWeakrefReference::new(&view)?.into_any().unbind());
        Ok(view.into_any().unbind())
    }
}

/// Locks an endpoint's state without waiting.
fn try_enter<'a, T>(
    state: &'a Mutex<Option<T>>,
    what: &str,
) -> PyResult<MutexGuard<'a, Option<T>>> {
    let g = match state.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => {
            return Err(errors::state(format!(
                "another thread is inside a call on this {what}; an endpoint serves one call \
                 at a time"
            )))
        }
    };
    if g.is_none() {
        return Err(errors::closed(what));
    }
    Ok(g)
}

fn timed_out(name: &str, operation: &'static str, d: Deadline) -> PyErr {
    to_py(Error::Timeout {
        name: name.to_owned(),
        operation,
        after: d.after,
    })
}

fn disconnected(name: &str, peer: &'static str) -> PyErr {
    to_py(Error::Disconnected {
        name: name.to_owned(),
        peer,
    })
}

/// The memory a Python `Loan` or `Borrow` lends: its lease and the bytes's
/// address and length. What the two share, written once.
struct LentMemory {
    lease: Arc<Lease>,
    addr: usize,
    len: usize,
}

/// What holds a lease in an endpoint's state (`Lent` or `Borrowed`).
trait Leased {
    fn lease_id(&self) -> u64;
}

impl LentMemory {
    /// `Ok` while outstanding, else ClosedError ("the loan was committed").
    fn check(&self, what: &str) -> PyResult<()> {
        if !self.lease.is_live() {
            return Err(errors::ended(format!(
                "the {what} was {}",
                self.lease.how()
            )));
        }
        Ok(())
    }

    /// The `.buffer` memoryview of `owner` (the Loan / Borrow).
    fn buffer(&self, owner: &Bound<'_, PyAny>, what: &str) -> PyResult<Py<PyAny>> {
        self.check(what)?;
        self.lease.buffer(owner)
    }

    fn repr(&self, class: &str) -> String {
        if self.lease.is_live() {
            format!("<memlink.{class} of {} bytes>", self.len)
        } else {
            format!("<memlink.{class} {}>", self.lease.how())
        }
    }

    /// `__getbuffer__` of `owner`.
    ///
    /// # Safety
    ///
    /// `view` is the `Py_buffer` Python passed to `__getbuffer__`.
    unsafe fn get_buffer(
        &self,
        owner: &Bound<'_, PyAny>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
        what: &str,
        writable: bool,
    ) -> PyResult<()> {
        self.check(what)?;
        // SAFETY: the lent bytes stay reserved and mapped until the lease
        // ends, which `Lease::let_go` refuses while `exports` is non-zero;
        // `view` per the caller's contract.
        unsafe {
            fill(
                view,
                flags,
                owner,
                self.addr as *mut u8,
                self.len,
                writable,
                &self.lease.exports,
            )
        }
    }

    /// The Loan's / Borrow's `Drop`: no buffer is left (each holds a
    /// reference to it). Ends the lease now if the endpoint is free (`slot`
    /// is where its state keeps it), else leaves it to the endpoint's next
    /// call through `orphan`.
    fn drop_lease<S, L: Leased>(
        &self,
        state: &Mutex<Option<S>>,
        orphan: &AtomicU64,
        how: &'static str,
        slot: impl FnOnce(&mut S) -> &mut Option<L>,
    ) {
        if !self.lease.is_live() {
            return;
        }
        match state.try_lock() {
            Ok(mut g) => {
                if let Some(st) = g.as_mut() {
                    let held = slot(st);
                    if held.as_ref().is_some_and(|l| l.lease_id() == self.lease.id) {
                        *held = None;
                        self.lease.end(how);
                    }
                }
            }
            Err(_) => orphan.store(self.lease.id, Ordering::SeqCst),
        }
    }
}

// ---------------------------------------------------------------------------
// Sender

struct Lent {
    lease: Arc<Lease>,
    loan: Loan<'static>,
}

impl Leased for Lent {
    fn lease_id(&self) -> u64 {
        self.lease.id
    }
}

/// A sender and its outstanding loan, if any.
struct SenderState {
    /// Made from `*sender`; dropped before it.
    loan: Option<Lent>,
    /// Owned (`Box::leak`); only used through `loan` while one exists.
    sender: NonNull<Sender>,
}

// SAFETY: a `Sender` is `Send` (and so is a `Loan`, a `&mut Sender`); the
// pointer is owned by the state and only used through it, under the
// endpoint's mutex.
unsafe impl Send for SenderState {}

impl SenderState {
    fn new(sender: Sender) -> SenderState {
        SenderState {
            loan: None,
            sender: NonNull::from(Box::leak(Box::new(sender))),
        }
    }

    fn check_no_loan(&self) -> PyResult<()> {
        if self.loan.is_some() {
            return Err(errors::state(
                "a loan is outstanding on this Sender: commit() or abandon() it (or leave its \
                 with block) first"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The sender, when no loan holds it.
    fn sender(&mut self) -> PyResult<&mut Sender> {
        self.check_no_loan()?;
        // SAFETY: no loan refers to the sender, and `&mut self` (under the
        // endpoint's mutex) is the only way to it.
        Ok(unsafe { self.sender.as_mut() })
    }

    /// The sender, for a loan that `self.loan` will keep.
    ///
    /// # Safety
    ///
    /// The returned reference (and anything made from it) must be dropped
    /// before `self` or stored in `self.loan`, and no other reference to the
    /// sender may be made while it lives.
    unsafe fn sender_for_loan(&mut self) -> PyResult<&'static mut Sender> {
        self.check_no_loan()?;
        // SAFETY: as the caller promises; no loan exists (checked).
        Ok(unsafe { &mut *self.sender.as_ptr() })
    }
}

impl Drop for SenderState {
    fn drop(&mut self) {
        // An uncommitted loan publishes nothing.
        if let Some(lent) = self.loan.take() {
            lent.lease.end("abandoned when its Sender was closed");
        }
        // SAFETY: made by `Box::leak` in `new`, freed only here, and the
        // loan that referred to it is gone.
        drop(unsafe { Box::from_raw(self.sender.as_ptr()) });
    }
}

/// The sending end of a channel. Create the channel with Sender.create (or
/// Receiver.create) and open the other end by name, usually in another
/// process. send() copies; loan() lends room in the ring (zero-copy).
/// One call at a time: a call while another thread is inside one raises
/// StateError.
#[pyclass(frozen, module = "memlink", name = "Sender")]
pub(crate) struct PySender {
    state: Mutex<Option<SenderState>>,
    name: String,
    next_lease: AtomicU64,
    /// A loan whose Python object went while the state was busy: the next
    /// call abandons it.
    orphan: AtomicU64,
}

/// A sender held for the async reactor's wait (see `aio`): its state
/// locked, with no loan outstanding.
pub(crate) struct WatchedSender<'a>(MutexGuard<'a, Option<SenderState>>);

impl WatchedSender<'_> {
    /// The sender, shared for the wait.
    pub(crate) fn sender(&self) -> &Sender {
        let st = self.0.as_ref().expect("checked open by PySender::watch");
        // SAFETY: no loan refers to the sender (checked by `watch`), and the
        // state's mutex is held for as long as this reference lives.
        unsafe { st.sender.as_ref() }
    }
}

impl PySender {
    /// Locks the state for the async reactor's wait, without waiting: None
    /// when busy, closed or a loan is outstanding (the coroutine's next
    /// call then reports why).
    pub(crate) fn watch(&self) -> Option<WatchedSender<'_>> {
        let g = self.state.try_lock().ok()?;
        match g.as_ref() {
            Some(st) if st.loan.is_none() => Some(WatchedSender(g)),
            _ => None,
        }
    }

    fn wrap(s: Sender) -> PySender {
        PySender {
            name: s.name().to_owned(),
            state: Mutex::new(Some(SenderState::new(s))),
            next_lease: AtomicU64::new(1),
            orphan: AtomicU64::new(0),
        }
    }

    fn enter(&self) -> PyResult<MutexGuard<'_, Option<SenderState>>> {
        let mut g = try_enter(&self.state, "Sender")?;
        // A plain load first: the swap (a read-modify-write) only when a
        // lease was orphaned, off the per-call path.
        let orphan = match self.orphan.load(Ordering::SeqCst) {
            0 => 0,
            _ => self.orphan.swap(0, Ordering::SeqCst),
        };
        if let Some(st) = g.as_mut() {
            if st.loan.as_ref().is_some_and(|l| l.lease.id == orphan) {
                if let Some(lent) = st.loan.take() {
                    lent.lease.end("abandoned when it was dropped");
                }
            }
        }
        Ok(g)
    }

    fn with<T>(&self, f: impl FnOnce(&mut SenderState) -> PyResult<T>) -> PyResult<T> {
        let mut g = self.enter()?;
        match g.as_mut() {
            Some(st) => f(st),
            None => Err(errors::closed("Sender")),
        }
    }

    fn lend(
        slf: &Bound<'_, Self>,
        length: i64,
        timeout: Option<f64>,
        only_try: bool,
    ) -> PyResult<Option<PyLoan>> {
        let py = slf.py();
        let this = slf.get();
        let len = index(length, "length")?;
        let d = deadline(timeout)?;
        let mut g = this.enter()?;
        let Some(st) = g.as_mut() else {
            return Err(errors::closed("Sender"));
        };
        let loan = {
            // SAFETY: the loan made from it is stored in `st.loan` below or
            // dropped before this block ends; nothing else uses the sender
            // meanwhile (we hold the state).
            let sender = unsafe { st.sender_for_loan()? };
            match sender.try_loan(len) {
                Ok(loan) => loan,
                Err(TrySendError::Full) if only_try => return Ok(None),
                Err(TrySendError::Full) => {
                    let ptr = SendPtr(st.sender);
                    let got = blocking(py, d.at, move |slice| {
                        // SAFETY: as above: a fresh reference for each
                        // attempt, the previous one's loan (none: it timed
                        // out) gone; only this thread uses the sender.
                        let sender = unsafe { &mut *ptr.get() };
                        sender.loan_timeout(len, slice)
                    })?;
                    match got {
                        Some(loan) => loan,
                        None => return Err(timed_out(&this.name, "loan", d)),
                    }
                }
                Err(TrySendError::Disconnected) => {
                    return Err(disconnected(&this.name, "receiver"))
                }
                Err(TrySendError::Failed(e)) => return Err(to_py(e)),
            }
        };
        let mut loan = loan;
        // SAFETY: the loan reserved `len` bytes of the ring for us; only the
        // pointer and length are taken here.
        let bytes = unsafe { loan.as_mut_slice() };
        let (addr, n) = (bytes.as_mut_ptr() as usize, bytes.len());
        let lease = Lease::new(this.next_lease.fetch_add(1, Ordering::Relaxed));
        st.loan = Some(Lent {
            lease: Arc::clone(&lease),
            loan,
        });
        Ok(Some(PyLoan {
            sender: slf.clone().unbind(),
            mem: LentMemory {
                lease,
                addr,
                len: n,
            },
        }))
    }
}

/// A raw endpoint pointer that crosses into `allow_threads`.
struct SendPtr<T>(NonNull<T>);

impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SendPtr<T> {}

// SAFETY: only made from an endpoint's own pointer while its state is
// locked by the thread that uses it; `T` (Sender, Receiver) is Send.
unsafe impl<T: Send> Send for SendPtr<T> {}

impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0.as_ptr()
    }
}

#[pymethods]
impl PySender {
    /// Creates the channel `name` and attaches as its sender.
    /// kind: ChannelKind (ONE_TO_ONE default, MANY_TO_ONE, BROADCAST);
    /// capacity: ring bytes (a power of two); max_message: the largest
    /// message; max_senders / max_receivers: for many-to-one / broadcast;
    /// lossy: broadcast readers that fall behind skip messages instead of
    /// holding the sender; wait: "spin_then_park" (default, spinning
    /// spin_us µs), "spin" or "park"; mode, persistent, allow_foreign_owner
    /// as for Mapping.
    #[staticmethod]
    #[pyo3(signature = (name, *, kind=None, capacity=65536, max_message=4096, max_senders=16,
                        max_receivers=8, lossy=false, wait="spin_then_park", spin_us=50,
                        mode=0o600, persistent=false, allow_foreign_owner=false))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        name: &str,
        kind: Option<&Bound<'_, PyAny>>,
        capacity: u64,
        max_message: u32,
        max_senders: u32,
        max_receivers: u32,
        lossy: bool,
        wait: &str,
        spin_us: u64,
        mode: u32,
        persistent: bool,
        allow_foreign_owner: bool,
    ) -> PyResult<PySender> {
        let o = channel_options(
            kind,
            capacity,
            max_message,
            max_senders,
            max_receivers,
            lossy,
            wait,
            spin_us,
            mode,
            persistent,
            allow_foreign_owner,
        )?;
        let s = py.allow_threads(|| o.create_sender(name)).map_err(to_py)?;
        Ok(PySender::wrap(s))
    }

    /// Opens the existing channel `name` as a sender (NotFoundError if
    /// there is none, NoFreeSlotError if every sender slot is taken).
    #[staticmethod]
    #[pyo3(signature = (name, *, wait="spin_then_park", spin_us=50, allow_foreign_owner=false))]
    fn open(
        py: Python<'_>,
        name: &str,
        wait: &str,
        spin_us: u64,
        allow_foreign_owner: bool,
    ) -> PyResult<PySender> {
        let mut o = ChannelOptions::new();
        o.wait(wait_arg(wait, spin_us)?)
            .allow_foreign_owner(allow_foreign_owner);
        let s = py.allow_threads(|| o.open_sender(name)).map_err(to_py)?;
        Ok(PySender::wrap(s))
    }

    /// Sends `data` (bytes-like or str), waiting for room at most `timeout`
    /// seconds (None: as long as it takes). Raises TimeoutError,
    /// DisconnectedError (no receiver any more), MessageTooLargeError.
    #[pyo3(signature = (data, timeout=None))]
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let input = Input::new(data)?;
        let bytes = input.as_bytes()?;
        let d = deadline(timeout)?;
        self.with(|st| {
            let sender = st.sender()?;
            match sender.try_send(bytes) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full) => {}
                Err(TrySendError::Disconnected) => {
                    return Err(disconnected(&self.name, "receiver"))
                }
                Err(TrySendError::Failed(e)) => return Err(to_py(e)),
            }
            match blocking(py, d.at, |slice| sender.send_timeout(bytes, slice))? {
                Some(()) => Ok(()),
                None => Err(timed_out(&self.name, "send", d)),
            }
        })
    }

    /// `await tx.send_async(data, timeout=None)`: sends without blocking the
    /// event loop, waiting (on the same WaitSet thread as `recv_async`) for
    /// room. Raises TimeoutError and DisconnectedError as `send` does.
    #[pyo3(signature = (data, timeout=None))]
    fn send_async(
        slf: Py<Self>,
        py: Python<'_>,
        data: Py<PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        deadline(timeout)?;
        crate::aio::send_async(py, slf, data, timeout)
    }

    /// Sends `data` if there is room now: True if sent, False if full.
    fn try_send(&self, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let input = Input::new(data)?;
        let bytes = input.as_bytes()?;
        self.with(|st| match st.sender()?.try_send(bytes) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full) => Ok(false),
            Err(TrySendError::Disconnected) => Err(disconnected(&self.name, "receiver")),
            Err(TrySendError::Failed(e)) => Err(to_py(e)),
        })
    }

    /// Zero-copy send: lends `length` bytes of the ring as a Loan (a
    /// writable buffer). Fill it, then loan.commit(); leaving its with block
    /// uncommitted publishes nothing. The Sender refuses other calls
    /// (StateError) while the loan is outstanding. Not on lossy channels.
    #[pyo3(signature = (length, timeout=None))]
    fn loan(slf: &Bound<'_, Self>, length: i64, timeout: Option<f64>) -> PyResult<PyLoan> {
        match PySender::lend(slf, length, timeout, false)? {
            Some(loan) => Ok(loan),
            None => Err(timed_out(
                &slf.get().name,
                "loan",
                Deadline {
                    at: None,
                    after: Duration::MAX,
                },
            )),
        }
    }

    /// Like loan(), if there is room now; None if the channel is full.
    fn try_loan(slf: &Bound<'_, Self>, length: i64) -> PyResult<Option<PyLoan>> {
        PySender::lend(slf, length, None, true)
    }

    /// Waits until a receiver is attached (TimeoutError after `timeout`).
    #[pyo3(signature = (timeout=None))]
    fn wait_for_receiver(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let d = deadline(timeout)?;
        self.with(|st| {
            let sender = st.sender()?;
            match blocking(py, d.at, |slice| sender.wait_for_receiver(slice))? {
                Some(()) => Ok(()),
                None => Err(timed_out(&self.name, "wait for a receiver", d)),
            }
        })
    }

    /// Waits until the receivers took every message sent so far (call it
    /// before exiting, so a transient channel outlives its last message).
    #[pyo3(signature = (timeout=None))]
    fn wait_drained(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let d = deadline(timeout)?;
        self.with(|st| {
            let sender = st.sender()?;
            match blocking(py, d.at, |slice| sender.wait_drained(slice))? {
                Some(()) => Ok(()),
                None => Err(timed_out(&self.name, "wait for the receivers to drain", d)),
            }
        })
    }

    /// Whether a receiver is attached now.
    #[getter]
    fn connected(&self) -> PyResult<bool> {
        self.with(|st| Ok(st.sender()?.is_connected()))
    }

    /// The largest message the channel carries.
    #[getter]
    fn max_message(&self) -> PyResult<usize> {
        self.with(|st| Ok(st.sender()?.max_message()))
    }

    /// The ring's size in bytes.
    #[getter]
    fn capacity(&self) -> PyResult<u64> {
        self.with(|st| Ok(st.sender()?.capacity()))
    }

    /// What the channel connects (ChannelKind).
    #[getter]
    fn kind(&self) -> PyResult<PyKind> {
        self.with(|st| Ok(st.sender()?.kind().into()))
    }

    /// Whether this is a lossy broadcast channel.
    #[getter]
    fn lossy(&self) -> PyResult<bool> {
        self.with(|st| Ok(st.sender()?.is_lossy()))
    }

    /// The user id that owns the channel (its creator): what to check after
    /// opening with allow_foreign_owner=True to trust one user only.
    #[getter]
    fn owner(&self) -> PyResult<u32> {
        self.with(|st| Ok(st.sender()?.owner()))
    }

    /// The channel's name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// Whether close() was called.
    #[getter]
    fn closed(&self) -> bool {
        matches!(self.state.try_lock(), Ok(g) if g.is_none())
    }

    /// Detaches from the channel. An outstanding loan is abandoned (its
    /// Loan raises ClosedError afterwards), unless a buffer still uses its
    /// memory (BufferInUseError; the Sender stays open). Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let mut g = match self.state.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(errors::state(
                    "Sender not closed: another thread is inside a call on it".into(),
                ))
            }
        };
        if let Some(lent) = g.as_ref().and_then(|st| st.loan.as_ref()) {
            lent.lease.let_go(py, "loan")?;
        }
        let taken = g.take();
        drop(g);
        drop(taken);
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*exc))]
    fn __exit__(&self, py: Python<'_>, exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        crate::exit(exc, self.close(py))
    }

    fn __repr__(&self) -> String {
        format!("<memlink.Sender {}>", self.name)
    }
}

/// Room for one message in the ring, from Sender.loan(): a writable buffer
/// (memoryview(loan), loan.buffer, numpy.frombuffer(loan, ...)) or
/// loan.write(). commit() publishes it; abandon(), or leaving the with
/// block uncommitted, publishes nothing. Afterwards it raises ClosedError.
/// Buffers of it must be gone by then (BufferInUseError): loan.buffer is
/// released for you, a numpy array made from it must be deleted first.
#[pyclass(frozen, module = "memlink", name = "Loan")]
pub(crate) struct PyLoan {
    sender: Py<PySender>,
    mem: LentMemory,
}

impl PyLoan {
    fn check(&self) -> PyResult<()> {
        self.mem.check("loan")
    }

    /// Ends the loan: `commit` publishes `len` bytes, else it is abandoned.
    fn end(&self, py: Python<'_>, commit: Option<usize>) -> PyResult<()> {
        let sender = self.sender.get();
        let mut g = sender.enter()?;
        let Some(st) = g.as_mut() else {
            return Err(errors::closed("Sender"));
        };
        match st.loan.as_ref() {
            Some(lent) if lent.lease.id == self.mem.lease.id => {}
            _ => {
                return Err(errors::ended(format!(
                    "the loan was {}",
                    self.mem.lease.how()
                )))
            }
        }
        self.mem.lease.let_go(py, "loan")?;
        if let Some(lent) = st.loan.take() {
            let mut loan = lent.loan;
            match commit {
                Some(n) => {
                    loan.truncate(n);
                    loan.commit();
                    self.mem.lease.end("committed");
                }
                None => {
                    drop(loan);
                    self.mem.lease.end("abandoned");
                }
            }
        }
        Ok(())
    }
}

#[pymethods]
impl PyLoan {
    /// Copies `data` into the loan at `offset`.
    #[pyo3(signature = (offset, data))]
    fn write(&self, offset: i64, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let offset = index(offset, "offset")?;
        let input = Input::new(data)?;
        let bytes = input.as_bytes()?;
        self.check()?;
        match offset.checked_add(bytes.len()) {
            Some(end) if end <= self.mem.len => {}
            _ => {
                return Err(to_py(Error::OutOfRange {
                    name: self.sender.get().name.clone(),
                    offset: offset as u64,
                    len: bytes.len() as u64,
                    size: self.mem.len as u64,
                }))
            }
        }
        // SAFETY: the loan is live (checked, and it can only end through
        // calls that need the GIL we hold), so its `len` bytes at `addr`
        // are reserved for us in the mapped ring; the range was checked.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (self.mem.addr as *mut u8).add(offset),
                bytes.len(),
            )
        };
        Ok(())
    }

    /// Publishes the first `length` bytes (all by default).
    #[pyo3(signature = (length=None))]
    fn commit(&self, py: Python<'_>, length: Option<i64>) -> PyResult<()> {
        self.check()?;
        let n = match length {
            Some(l) => index(l, "length")?,
            None => self.mem.len,
        };
        if n > self.mem.len {
            return Err(to_py(Error::OutOfRange {
                name: self.sender.get().name.clone(),
                offset: 0,
                len: n as u64,
                size: self.mem.len as u64,
            }));
        }
        self.end(py, Some(n))
    }

    /// Drops the loan, publishing nothing (nothing to do if it ended).
    fn abandon(&self, py: Python<'_>) -> PyResult<()> {
        if !self.mem.lease.is_live() {
            return Ok(());
        }
        self.end(py, None)
    }

    /// A writable memoryview of the loan, released when the loan ends.
    #[getter]
    fn buffer(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        slf.get().mem.buffer(slf.as_any(), "loan")
    }

    /// True until committed, abandoned or its Sender closed.
    #[getter]
    fn outstanding(&self) -> bool {
        self.mem.lease.is_live()
    }

    fn __len__(&self) -> usize {
        self.mem.len
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*exc))]
    fn __exit__(&self, py: Python<'_>, exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        crate::exit(exc, self.abandon(py))
    }

    fn __repr__(&self) -> String {
        self.mem.repr("Loan")
    }

    /// # Safety
    ///
    /// Called by Python with a `Py_buffer` to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        // SAFETY: forwarded from Python's contract; a loan is writable.
        unsafe {
            slf.get()
                .mem
                .get_buffer(slf.as_any(), view, flags, "loan", true)
        }
    }

    /// # Safety
    ///
    /// Called by Python once per filled buffer.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.mem.lease.exports.remove();
    }
}

impl Drop for PyLoan {
    fn drop(&mut self) {
        let sender = self.sender.get();
        self.mem.drop_lease(
            &sender.state,
            &sender.orphan,
            "abandoned when it was dropped",
            |st| &mut st.loan,
        );
    }
}

// ---------------------------------------------------------------------------
// Receiver

struct Borrowed {
    lease: Arc<Lease>,
    /// Held for its `Drop`, which releases the message's space.
    _message: Message<'static>,
}

impl Leased for Borrowed {
    fn lease_id(&self) -> u64 {
        self.lease.id
    }
}

/// A receiver and its outstanding borrow, if any.
struct ReceiverState {
    borrow: Option<Borrowed>,
    /// Reused for lossy channels, which lend nothing.
    stage: Vec<u8>,
    /// Owned (`Box::leak`); only used through `borrow` while one exists.
    receiver: NonNull<Receiver>,
}

// SAFETY: as for `SenderState`: `Receiver` and `Message` are `Send`, and
// the pointer is only used under the endpoint's mutex.
unsafe impl Send for ReceiverState {}

impl ReceiverState {
    fn new(receiver: Receiver) -> ReceiverState {
        ReceiverState {
            borrow: None,
            stage: Vec::new(),
            receiver: NonNull::from(Box::leak(Box::new(receiver))),
        }
    }

    fn check_no_borrow(&self) -> PyResult<()> {
        if self.borrow.is_some() {
            return Err(errors::state(
                "a borrowed message is outstanding on this Receiver: release() it (or leave \
                 its with block) first"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The receiver, when no borrow holds it.
    fn receiver(&mut self) -> PyResult<&mut Receiver> {
        self.check_no_borrow()?;
        // SAFETY: no borrow refers to the receiver; `&mut self` (under the
        // endpoint's mutex) is the only way to it.
        Ok(unsafe { self.receiver.as_mut() })
    }
}

impl Drop for ReceiverState {
    fn drop(&mut self) {
        if let Some(b) = self.borrow.take() {
            b.lease.end("released when its Receiver was closed");
        }
        // SAFETY: made by `Box::leak` in `new`, freed only here, and the
        // borrow that referred to it is gone.
        drop(unsafe { Box::from_raw(self.receiver.as_ptr()) });
    }
}

/// How a receive waits.
#[derive(Clone, Copy)]
enum How {
    Wait(Deadline),
    Try,
}

/// The next message, lent: `None` if `how` is Try and nothing is waiting,
/// or if the deadline passed.
///
/// # Safety
///
/// The message must be dropped before `st` is used again, or stored in
/// `st.borrow`; `st` must have no borrow outstanding (checked here).
unsafe fn next_message(
    py: Python<'_>,
    st: &mut ReceiverState,
    name: &str,
    how: How,
) -> PyResult<Option<Message<'static>>> {
    st.check_no_borrow()?;
    let ptr = SendPtr(st.receiver);
    // SAFETY: as the caller promises; no borrow exists (checked).
    let receiver = unsafe { &mut *ptr.get() };
    match receiver.try_recv_borrow() {
        Ok(m) => return Ok(Some(m)),
        Err(TryRecvError::Empty) => {}
        Err(TryRecvError::Disconnected) => return Err(disconnected(name, "sender")),
        Err(TryRecvError::Failed(e)) => return Err(to_py(e)),
    }
    let How::Wait(d) = how else {
        return Ok(None);
    };
    blocking(py, d.at, move |slice| {
        // SAFETY: a fresh reference per attempt; the previous attempt made
        // no message (it timed out), and only this thread uses the receiver.
        let receiver = unsafe { &mut *ptr.get() };
        receiver.recv_borrow_timeout(slice)
    })
}

/// A message's bytes: pointer and length inside the ring.
fn message_bytes(m: &Message<'_>) -> (usize, usize) {
    // SAFETY: only the pointer and length are taken; the record stays
    // reserved while `m` lives.
    let s = unsafe { m.as_slice() };
    (s.as_ptr() as usize, s.len())
}

/// The receiving end of a channel. recv() returns bytes (one copy);
/// recv_into() copies into a buffer you own; borrow() lends the message in
/// place (zero-copy). Iterating yields messages until the senders are gone
/// (DisconnectedError ends the loop). One call at a time, as for Sender.
#[pyclass(frozen, module = "memlink", name = "Receiver")]
pub(crate) struct PyReceiver {
    state: Mutex<Option<ReceiverState>>,
    name: String,
    lossy: bool,
    next_lease: AtomicU64,
    orphan: AtomicU64,
}

/// A receiver held for the async reactor's wait (see `aio`): its state
/// locked, with no borrow outstanding.
pub(crate) struct WatchedReceiver<'a>(MutexGuard<'a, Option<ReceiverState>>);

impl WatchedReceiver<'_> {
    /// The receiver, shared for the wait.
    pub(crate) fn receiver(&self) -> &Receiver {
        let st = self.0.as_ref().expect("checked open by PyReceiver::watch");
        // SAFETY: no borrow refers to the receiver (checked by `watch`), and
        // the state's mutex is held for as long as this reference lives.
        unsafe { st.receiver.as_ref() }
    }
}

impl PyReceiver {
    /// Locks the state for the async reactor's wait, as `PySender::watch`.
    pub(crate) fn watch(&self) -> Option<WatchedReceiver<'_>> {
        let g = self.state.try_lock().ok()?;
        match g.as_ref() {
            Some(st) if st.borrow.is_none() => Some(WatchedReceiver(g)),
            _ => None,
        }
    }

    fn wrap(r: Receiver) -> PyReceiver {
        PyReceiver {
            name: r.name().to_owned(),
            lossy: r.is_lossy(),
            state: Mutex::new(Some(ReceiverState::new(r))),
            next_lease: AtomicU64::new(1),
            orphan: AtomicU64::new(0),
        }
    }

    fn enter(&self) -> PyResult<MutexGuard<'_, Option<ReceiverState>>> {
        let mut g = try_enter(&self.state, "Receiver")?;
        // A plain load first: the swap (a read-modify-write) only when a
        // lease was orphaned, off the per-call path.
        let orphan = match self.orphan.load(Ordering::SeqCst) {
            0 => 0,
            _ => self.orphan.swap(0, Ordering::SeqCst),
        };
        if let Some(st) = g.as_mut() {
            if st.borrow.as_ref().is_some_and(|b| b.lease.id == orphan) {
                if let Some(b) = st.borrow.take() {
                    b.lease.end("released when it was dropped");
                }
            }
        }
        Ok(g)
    }

    fn with<T>(&self, f: impl FnOnce(&mut ReceiverState) -> PyResult<T>) -> PyResult<T> {
        let mut g = self.enter()?;
        match g.as_mut() {
            Some(st) => f(st),
            None => Err(errors::closed("Receiver")),
        }
    }

    /// Receives one message and hands its bytes to `take` (with the GIL).
    fn receive<T>(
        &self,
        py: Python<'_>,
        how: How,
        take: impl FnOnce(&[u8]) -> PyResult<T>,
    ) -> PyResult<Option<T>> {
        self.with(|st| {
            if self.lossy {
                st.check_no_borrow()?;
                let mut stage = std::mem::take(&mut st.stage);
                let receiver = st.receiver()?;
                let got = match receiver.try_recv(&mut stage) {
                    Ok(_) => Some(()),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => {
                        st.stage = stage;
                        return Err(disconnected(&self.name, "sender"));
                    }
                    Err(TryRecvError::Failed(e)) => {
                        st.stage = stage;
                        return Err(to_py(e));
                    }
                };
                let got = match (got, how) {
                    (Some(()), _) => Some(()),
                    (None, How::Try) => None,
                    (None, How::Wait(d)) => {
                        let r = blocking(py, d.at, |slice| {
                            receiver.recv_timeout(&mut stage, slice).map(|_| ())
                        });
                        match r {
                            Ok(got) => got,
                            Err(e) => {
                                st.stage = stage;
                                return Err(e);
                            }
                        }
                    }
                };
                let out = match got {
                    Some(()) => take(&stage).map(Some),
                    None => Ok(None),
                };
                st.stage = stage;
                return out;
            }
            // SAFETY: the message is dropped at the end of this block,
            // before `st` is used again.
            let m = unsafe { next_message(py, st, &self.name, how)? };
            match m {
                Some(m) => {
                    let (addr, len) = message_bytes(&m);
                    // SAFETY: the record's bytes stay reserved (the sender
                    // does not reuse them) and mapped until `m` drops.
                    let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
                    let out = take(bytes);
                    drop(m);
                    out.map(Some)
                }
                None => Ok(None),
            }
        })
        .and_then(|got| match (got, how) {
            (None, How::Wait(d)) => Err(timed_out(&self.name, "receive", d)),
            (got, _) => Ok(got),
        })
    }

    fn lend(slf: &Bound<'_, Self>, how: How) -> PyResult<Option<PyBorrow>> {
        let py = slf.py();
        let this = slf.get();
        let mut g = this.enter()?;
        let Some(st) = g.as_mut() else {
            return Err(errors::closed("Receiver"));
        };
        if this.lossy {
            return Err(to_py(Error::Unsupported {
                what: format!(
                    "borrows on lossy broadcast channel {}: the sender may overwrite a message \
                     at any time; use recv",
                    this.name
                ),
            }));
        }
        // SAFETY: the message is stored in `st.borrow` below.
        let m = unsafe { next_message(py, st, &this.name, how)? };
        let Some(m) = m else {
            return match how {
                How::Try => Ok(None),
                How::Wait(d) => Err(timed_out(&this.name, "borrow", d)),
            };
        };
        let (addr, len) = message_bytes(&m);
        let lease = Lease::new(this.next_lease.fetch_add(1, Ordering::Relaxed));
        st.borrow = Some(Borrowed {
            lease: Arc::clone(&lease),
            _message: m,
        });
        Ok(Some(PyBorrow {
            receiver: slf.clone().unbind(),
            mem: LentMemory { lease, addr, len },
        }))
    }
}

#[pymethods]
impl PyReceiver {
    /// Creates the channel `name` and attaches as its receiver (options as
    /// for Sender.create).
    #[staticmethod]
    #[pyo3(signature = (name, *, kind=None, capacity=65536, max_message=4096, max_senders=16,
                        max_receivers=8, lossy=false, wait="spin_then_park", spin_us=50,
                        mode=0o600, persistent=false, allow_foreign_owner=false))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        name: &str,
        kind: Option<&Bound<'_, PyAny>>,
        capacity: u64,
        max_message: u32,
        max_senders: u32,
        max_receivers: u32,
        lossy: bool,
        wait: &str,
        spin_us: u64,
        mode: u32,
        persistent: bool,
        allow_foreign_owner: bool,
    ) -> PyResult<PyReceiver> {
        let o = channel_options(
            kind,
            capacity,
            max_message,
            max_senders,
            max_receivers,
            lossy,
            wait,
            spin_us,
            mode,
            persistent,
            allow_foreign_owner,
        )?;
        let r = py
            .allow_threads(|| o.create_receiver(name))
            .map_err(to_py)?;
        Ok(PyReceiver::wrap(r))
    }

    /// Opens the existing channel `name` as a receiver.
    #[staticmethod]
    #[pyo3(signature = (name, *, wait="spin_then_park", spin_us=50, allow_foreign_owner=false))]
    fn open(
        py: Python<'_>,
        name: &str,
        wait: &str,
        spin_us: u64,
        allow_foreign_owner: bool,
    ) -> PyResult<PyReceiver> {
        let mut o = ChannelOptions::new();
        o.wait(wait_arg(wait, spin_us)?)
            .allow_foreign_owner(allow_foreign_owner);
        let r = py.allow_threads(|| o.open_receiver(name)).map_err(to_py)?;
        Ok(PyReceiver::wrap(r))
    }

    /// The next message as bytes, waiting at most `timeout` seconds (None:
    /// as long as it takes). Raises TimeoutError, or DisconnectedError once
    /// the senders are gone and everything they sent was received.
    #[pyo3(signature = (timeout=None))]
    fn recv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyBytes>> {
        let how = How::Wait(deadline(timeout)?);
        let got = self.receive(py, how, |b| Ok(PyBytes::new(py, b).unbind()))?;
        got.ok_or_else(|| {
            timed_out(
                &self.name,
                "receive",
                Deadline {
                    at: None,
                    after: Duration::MAX,
                },
            )
        })
    }

    /// `await rx.recv_async(timeout=None)`: the next message, without
    /// blocking the event loop (asyncio). One thread of the process waits
    /// for every pending async call at once on a memlink WaitSet; while this
    /// one is pending, other calls on the receiver raise StateError.
    /// Raises TimeoutError and DisconnectedError as `recv` does; cancelling
    /// the task leaves the message for the next receive.
    #[pyo3(signature = (timeout=None))]
    fn recv_async(slf: Py<Self>, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        deadline(timeout)?;
        crate::aio::recv_async(py, slf, timeout)
    }

    /// The next message if one is waiting now, else None.
    fn try_recv(&self, py: Python<'_>) -> PyResult<Option<Py<PyBytes>>> {
        self.receive(py, How::Try, |b| Ok(PyBytes::new(py, b).unbind()))
    }

    /// Copies the next message into `buffer` (any writable contiguous
    /// buffer: bytearray, memoryview, numpy array) and returns its length;
    /// MessageTooLargeError (the message is lost) if it does not fit.
    #[pyo3(signature = (buffer, timeout=None))]
    fn recv_into(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let dest = Input::writable(buffer)?;
        let Some((ptr, room)) = dest.target() else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "recv_into needs a writable buffer",
            ));
        };
        let how = How::Wait(deadline(timeout)?);
        let got = self.receive(py, how, |b| {
            let n = b.len();
            if n > room {
                return Err(to_py(Error::MessageTooLarge {
                    name: self.name.clone(),
                    len: n,
                    max: room,
                }));
            }
            if n > 0 {
                // SAFETY: the destination is a writable contiguous buffer
                // of `room >= n` bytes, held until `dest` drops; the source
                // is the message's bytes (other memory).
                unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), ptr, n) };
            }
            Ok(n)
        })?;
        got.ok_or_else(|| {
            timed_out(
                &self.name,
                "receive",
                Deadline {
                    at: None,
                    after: Duration::MAX,
                },
            )
        })
    }

    /// Zero-copy receive: the next message in place, as a Borrow (a
    /// read-only buffer), waiting at most `timeout`. Its space goes back to
    /// the sender at release() or when its with block ends; the Receiver
    /// refuses other calls (StateError) meanwhile. Not on lossy channels.
    #[pyo3(signature = (timeout=None))]
    fn borrow(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<PyBorrow> {
        let how = How::Wait(deadline(timeout)?);
        match PyReceiver::lend(slf, how)? {
            Some(b) => Ok(b),
            None => Err(timed_out(
                &slf.get().name,
                "borrow",
                Deadline {
                    at: None,
                    after: Duration::MAX,
                },
            )),
        }
    }

    /// Like borrow(), if a message is waiting now; else None.
    fn try_borrow(slf: &Bound<'_, Self>) -> PyResult<Option<PyBorrow>> {
        PyReceiver::lend(slf, How::Try)
    }

    /// Waits until a sender is attached (or left a message).
    #[pyo3(signature = (timeout=None))]
    fn wait_for_sender(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let d = deadline(timeout)?;
        self.with(|st| {
            let receiver = st.receiver()?;
            match blocking(py, d.at, |slice| receiver.wait_for_sender(slice))? {
                Some(()) => Ok(()),
                None => Err(timed_out(&self.name, "wait for a sender", d)),
            }
        })
    }

    /// Lossy broadcast: how many messages were overwritten unread since the
    /// last call (0 on other channels).
    fn take_missed(&self) -> PyResult<u64> {
        self.with(|st| Ok(st.receiver()?.take_missed()))
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next message; StopIteration once the channel is disconnected.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyBytes>>> {
        match self.recv(py, None) {
            Ok(b) => Ok(Some(b)),
            Err(e)
                if e.value(py)
                    .getattr("code")
                    .ok()
                    .and_then(|c| c.extract::<i32>().ok())
                    == Some(memlink_core::ErrorCode::Disconnected as i32) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether a sender is attached now.
    #[getter]
    fn connected(&self) -> PyResult<bool> {
        self.with(|st| Ok(st.receiver()?.is_connected()))
    }

    /// The largest message the channel carries.
    #[getter]
    fn max_message(&self) -> PyResult<usize> {
        self.with(|st| Ok(st.receiver()?.max_message()))
    }

    /// The ring's size in bytes.
    #[getter]
    fn capacity(&self) -> PyResult<u64> {
        self.with(|st| Ok(st.receiver()?.capacity()))
    }

    /// What the channel connects (ChannelKind).
    #[getter]
    fn kind(&self) -> PyResult<PyKind> {
        self.with(|st| Ok(st.receiver()?.kind().into()))
    }

    /// Whether this is a lossy broadcast channel.
    #[getter]
    fn lossy(&self) -> bool {
        self.lossy
    }

    /// The user id that owns the channel (its creator).
    #[getter]
    fn owner(&self) -> PyResult<u32> {
        self.with(|st| Ok(st.receiver()?.owner()))
    }

    /// The channel's name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// Whether close() was called.
    #[getter]
    fn closed(&self) -> bool {
        matches!(self.state.try_lock(), Ok(g) if g.is_none())
    }

    /// Detaches from the channel. An outstanding borrow is released (its
    /// Borrow raises ClosedError afterwards), unless a buffer still uses its
    /// memory (BufferInUseError; the Receiver stays open). Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let mut g = match self.state.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(errors::state(
                    "Receiver not closed: another thread is inside a call on it".into(),
                ))
            }
        };
        if let Some(b) = g.as_ref().and_then(|st| st.borrow.as_ref()) {
            b.lease.let_go(py, "message")?;
        }
        let taken = g.take();
        drop(g);
        drop(taken);
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*exc))]
    fn __exit__(&self, py: Python<'_>, exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        crate::exit(exc, self.close(py))
    }

    fn __repr__(&self) -> String {
        format!("<memlink.Receiver {}>", self.name)
    }
}

/// A received message lent in place, from Receiver.borrow(): a read-only
/// buffer (memoryview(msg), msg.buffer, numpy.frombuffer(msg, ...)) or
/// msg.tobytes(). Its space goes back to the sender at release() or when
/// the with block ends; afterwards it raises ClosedError. Buffers of it
/// must be gone by then (BufferInUseError): msg.buffer is released for you,
/// a numpy array made from it must be deleted first.
#[pyclass(frozen, module = "memlink", name = "Borrow")]
pub(crate) struct PyBorrow {
    receiver: Py<PyReceiver>,
    mem: LentMemory,
}

impl PyBorrow {
    fn check(&self) -> PyResult<()> {
        self.mem.check("message")
    }
}

#[pymethods]
impl PyBorrow {
    /// The message copied into bytes.
    fn tobytes(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        self.check()?;
        // SAFETY: the borrow is live (checked; it ends only through calls
        // that need the GIL we hold), so the record is reserved and mapped.
        let bytes = unsafe { std::slice::from_raw_parts(self.mem.addr as *const u8, self.mem.len) };
        Ok(PyBytes::new(py, bytes).unbind())
    }

    /// Gives the message's space back (nothing to do if it ended).
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        if !self.mem.lease.is_live() {
            return Ok(());
        }
        let receiver = self.receiver.get();
        let mut g = receiver.enter()?;
        let Some(st) = g.as_mut() else {
            return Err(errors::closed("Receiver"));
        };
        match st.borrow.as_ref() {
            Some(b) if b.lease.id == self.mem.lease.id => {}
            _ => return Ok(()),
        }
        self.mem.lease.let_go(py, "message")?;
        st.borrow = None;
        self.mem.lease.end("released");
        Ok(())
    }

    /// A read-only memoryview of the message, released when the borrow
    /// ends.
    #[getter]
    fn buffer(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        slf.get().mem.buffer(slf.as_any(), "message")
    }

    /// True until released or its Receiver closed.
    #[getter]
    fn outstanding(&self) -> bool {
        self.mem.lease.is_live()
    }

    fn __len__(&self) -> usize {
        self.mem.len
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*exc))]
    fn __exit__(&self, py: Python<'_>, exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        crate::exit(exc, self.release(py))
    }

    fn __repr__(&self) -> String {
        self.mem.repr("Borrow")
    }

    /// # Safety
    ///
    /// Called by Python with a `Py_buffer` to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        // SAFETY: forwarded from Python's contract; read-only: the bytes
        // are the sender's message.
        unsafe {
            slf.get()
                .mem
                .get_buffer(slf.as_any(), view, flags, "message", false)
        }
    }

    /// # Safety
    ///
    /// Called by Python once per filled buffer.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.mem.lease.exports.remove();
    }
}

impl Drop for PyBorrow {
    fn drop(&mut self) {
        let receiver = self.receiver.get();
        self.mem.drop_lease(
            &receiver.state,
            &receiver.orphan,
            "released when it was dropped",
            |st| &mut st.borrow,
        );
    }
}

/// One endpoint slot of a channel (from inspect_channel).
#[pyclass(frozen, get_all, module = "memlink")]
pub(crate) struct EndpointInfo {
    /// The slot's index.
    slot: u32,
    /// The process that last attached there (0: never): a hint.
    pid: u32,
    /// Whether a live endpoint holds the slot now.
    alive: bool,
}

#[pymethods]
impl EndpointInfo {
    fn __repr__(&self) -> String {
        format!(
            "<memlink.EndpointInfo slot={} pid={} alive={}>",
            self.slot, self.pid, self.alive
        )
    }
}

/// A channel described without attaching to it (from inspect_channel).
#[pyclass(frozen, get_all, module = "memlink")]
pub(crate) struct ChannelInfo {
    /// The channel's full name.
    name: String,
    /// What it connects.
    kind: PyKind,
    /// Lossy broadcast: slow readers lose the oldest messages.
    lossy: bool,
    /// The ring's size in bytes.
    capacity: u64,
    /// The largest message, in bytes.
    max_message: u32,
    /// Ring bytes published and not yet taken by the slowest receiver.
    used: u64,
    /// Messages sent since the channel was made (wraps at 2**32).
    messages: u32,
    /// Ring bytes published since the channel was made.
    bytes: u64,
    /// The sender slots (EndpointInfo).
    senders: Vec<Py<EndpointInfo>>,
    /// The receiver slots (EndpointInfo).
    receivers: Vec<Py<EndpointInfo>>,
}

#[pymethods]
impl ChannelInfo {
    fn __repr__(&self, py: Python<'_>) -> String {
        let alive = |v: &[Py<EndpointInfo>]| v.iter().filter(|e| e.bind(py).get().alive).count();
        format!(
            "<memlink.ChannelInfo {} capacity={} used={} messages={} senders={} receivers={}>",
            self.name,
            self.capacity,
            self.used,
            self.messages,
            alive(&self.senders),
            alive(&self.receivers)
        )
    }
}

/// Describes channel `name` (kind, geometry, fill, counters, endpoints)
/// without attaching an endpoint; WrongKindError for a mapping that is no
/// channel.
#[pyfunction]
#[pyo3(signature = (name, *, allow_foreign_owner=false))]
fn inspect_channel(py: Python<'_>, name: &str, allow_foreign_owner: bool) -> PyResult<ChannelInfo> {
    let mut o = ChannelOptions::new();
    o.allow_foreign_owner(allow_foreign_owner);
    let info = py.allow_threads(|| o.inspect(name)).map_err(to_py)?;
    let endpoints =
        |v: Vec<memlink_core::channel::EndpointInfo>| -> PyResult<Vec<Py<EndpointInfo>>> {
            v.into_iter()
                .map(|e| {
                    Py::new(
                        py,
                        EndpointInfo {
                            slot: e.slot,
                            pid: e.pid,
                            alive: e.alive,
                        },
                    )
                })
                .collect()
        };
    Ok(ChannelInfo {
        name: info.name,
        kind: info.kind.into(),
        lossy: info.lossy,
        capacity: info.capacity,
        max_message: info.max_message,
        used: info.used,
        messages: info.messages,
        bytes: info.bytes,
        senders: endpoints(info.senders)?,
        receivers: endpoints(info.receivers)?,
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<EndpointInfo>()?;
    m.add_class::<ChannelInfo>()?;
    m.add_function(wrap_pyfunction!(inspect_channel, m)?)?;
    m.add_class::<PyKind>()?;
    m.add_class::<PySender>()?;
    m.add_class::<PyReceiver>()?;
    m.add_class::<PyLoan>()?;
    m.add_class::<PyBorrow>()?;
    Ok(())
}
