//! asyncio: `await rx.recv_async()`, `await tx.send_async(data)` and
//! `await event.wait_async()`.
//!
//! One background thread per process (the reactor) waits for every pending
//! async call at once on a memlink `WaitSet`: each call's endpoint or named
//! event, its deadline, and the receiving end of a private channel that wakes the
//! reactor when a call is added or cancelled. No polling: the thread sleeps
//! in the WaitSet until something is ready. When an endpoint is ready the
//! reactor lets go of it and resolves the call's future on its event loop
//! (`call_soon_threadsafe`); the coroutine, back on the loop's thread, then
//! makes the non-blocking call (`try_recv` / `try_send`) itself, so a
//! message is never taken for a call that was cancelled meanwhile.
//!
//! An event is different: the WaitSet takes an auto-reset event's signal
//! when it reports it, so the reactor records that it took one for the
//! wait (`Watch::taken`) before resolving the future; the coroutine then
//! returns True without waiting again, and a wait cancelled after the
//! signal was taken gives it back (sets the event again).
//!
//! While a call is pending the reactor holds its endpoint's state during
//! its waits: another call on that endpoint raises `memlink.StateError`, as
//! for any call already inside. Cancelling waits (GIL released) until the
//! reactor has let go, so the endpoint is free again once `cancel` returns.
//!
//! At interpreter exit the reactor must not ask for the GIL: a thread that
//! does once finalisation has begun is ended by CPython with
//! `pthread_exit`, whose forced unwinding cannot cross Rust's frames, and
//! the process aborts (SIGABRT, seen in about 1 of 30 runs of the README's
//! example under load). So the reactor takes the GIL only through
//! [`EXIT_GATE`], and an `atexit` hook (run before finalisation) closes the
//! gate, waiting with the GIL released for a round that holds it.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use memlink_core::channel::{ChannelOptions, Readiness, Receiver, Sender, WaitSet};
use memlink_core::{EventKind, NamedEvent};
use pyo3::prelude::*;
use pyo3::types::PyModule;

use crate::channel::{PyReceiver, PySender, WatchedReceiver, WatchedSender};
use crate::sync::PyNamedEvent;

/// The coroutines, in Python: they loop on the non-blocking call and await
/// a future that the reactor resolves when the endpoint is ready.
const COROUTINES: &str = r#"
import asyncio

def resolve(fut):
    if not fut.done():
        fut.set_result(None)

async def recv_async(rx, timeout, watch):
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        message = rx.try_recv()
        if message is not None:
            return message
        left = None
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                return rx.recv(timeout=0.0)  # the message, or memlink.TimeoutError
        fut = loop.create_future()
        handle = watch(rx, fut, loop, left, 0)
        try:
            await fut
        finally:
            handle.cancel()

async def event_wait_async(ev, timeout, watch):
    if ev.wait(timeout=0.0):
        return True
    if timeout is not None and timeout <= 0:
        return False
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    handle = watch(ev, fut, loop, timeout, 0)
    try:
        await fut
    except BaseException:
        handle.finish(False)  # gives back a signal taken for us meanwhile
        raise
    return handle.finish(True)  # True: signaled; False: timed out

async def send_async(tx, data, timeout, watch):
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    size = memoryview(data).nbytes
    while True:
        if tx.try_send(data):
            return None
        left = None
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                return tx.send(data, timeout=0.0)  # sent, or memlink.TimeoutError
        fut = loop.create_future()
        handle = watch(tx, fut, loop, left, size)
        try:
            await fut
        finally:
            handle.cancel()
"#;

/// What a pending call waits for.
enum Target {
    Receiver(Py<PyReceiver>),
    Sender(Py<PySender>, usize),
    /// Shared, not entered: an event serves many waiters at once.
    Event(Arc<NamedEvent>),
}

enum Held<'a> {
    Receiver(WatchedReceiver<'a>),
    Sender(WatchedSender<'a>, usize),
    Event(&'a NamedEvent),
}

impl Target {
    fn hold(&self) -> Option<Held<'_>> {
        match self {
            Target::Receiver(r) => r.get().watch().map(Held::Receiver),
            Target::Sender(s, len) => s.get().watch().map(|w| Held::Sender(w, *len)),
            Target::Event(e) => Some(Held::Event(e)),
        }
    }
}

/// One pending call.
struct Watch {
    id: u64,
    target: Target,
    future: Py<PyAny>,
    event_loop: Py<PyAny>,
    deadline: Option<Instant>,
    /// An event wait: the reactor took the event's signal for it.
    taken: AtomicBool,
}

struct Reactor {
    watches: Mutex<Vec<Arc<Watch>>>,
    /// Wakes the reactor's wait (one byte; a full ring is a wake too).
    wake: Mutex<Sender>,
    /// Rounds of the reactor's loop finished, each with every endpoint let
    /// go of; `cancel` waits for the next one.
    rounds: Mutex<u64>,
    round_done: Condvar,
    next_id: AtomicU64,
}

static REACTOR: OnceLock<Result<&'static Reactor, String>> = OnceLock::new();
/// `true` once the interpreter is exiting: from then on the reactor never
/// takes the GIL (it resolves nothing more and ends). Held by the reactor
/// for as long as it holds or waits for the GIL.
static EXIT_GATE: Mutex<bool> = Mutex::new(false);
/// `resolve`, `recv_async`, `send_async`, `event_wait_async`.
type Helpers = (Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>);
static HELPERS: OnceLock<Helpers> = OnceLock::new();

fn reactor() -> PyResult<&'static Reactor> {
    REACTOR
        .get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .copied()
        .map_err(|e| crate::errors::state(format!("the asyncio reactor could not start: {e}")))
}

/// Makes the private wake channel and starts the reactor thread.
fn start() -> Result<&'static Reactor, memlink_core::Error> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("memlink-py-wake-{}-{nanos:x}", std::process::id());
    let mut options = ChannelOptions::new();
    options.capacity(4096).max_message(1);
    let tx = options.create_sender(&name)?;
    let rx = options.open_receiver(&name)?;
    // The endpoints keep the channel; without its name nothing is left
    // behind when the process ends (Windows removes names with their last
    // handle anyway, and may refuse: then that is what happens).
    let _ = memlink_core::Mapping::remove(&name);
    let reactor: &'static Reactor = Box::leak(Box::new(Reactor {
        watches: Mutex::new(Vec::new()),
        wake: Mutex::new(tx),
        rounds: Mutex::new(0),
        round_done: Condvar::new(),
        next_id: AtomicU64::new(1),
    }));
    std::thread::Builder::new()
        .name("memlink asyncio".into())
        .spawn(move || reactor.run(rx))
        .map_err(|e| memlink_core::Error::Os {
            operation: "start the asyncio thread",
            name: name.clone(),
            source: e,
        })?;
    Ok(reactor)
}

impl Reactor {
    fn wake(&self) {
        let mut tx = self.wake.lock().unwrap_or_else(|p| p.into_inner());
        // Full: a wake is pending already. Disconnected cannot happen (the
        // reactor holds the receiver for ever).
        let _ = tx.try_send(&[1]);
    }

    fn run(&self, mut wake_rx: Receiver) {
        let mut drain = Vec::new();
        loop {
            let snapshot: Vec<Arc<Watch>> = self
                .watches
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let mut fire: Vec<u64> = Vec::new();
            let mut woken = false;
            {
                let mut held = Vec::with_capacity(snapshot.len());
                for w in &snapshot {
                    match w.target.hold() {
                        Some(h) => held.push((w, h)),
                        // Busy, closed, or a loan / borrow outstanding: the
                        // coroutine's own call says which.
                        None => fire.push(w.id),
                    }
                }
                if fire.is_empty() {
                    let mut set = WaitSet::with_capacity(1 + 2 * held.len());
                    let wake_token = set.add_receiver(&wake_rx);
                    let mut owner = Vec::with_capacity(2 * held.len());
                    for (w, h) in &held {
                        let token = match h {
                            Held::Receiver(r) => set.add_receiver(r.receiver()),
                            Held::Sender(s, len) => set.add_sender(s.sender(), *len),
                            Held::Event(e) => set.add_event(e),
                        };
                        owner.push((token, w.id));
                        if let Some(at) = w.deadline {
                            owner.push((set.add_deadline(at), w.id));
                        }
                    }
                    for ready in set.wait(None) {
                        if ready.token == wake_token {
                            woken = true;
                        } else if let Some((_, id)) = owner.iter().find(|(t, _)| *t == ready.token)
                        {
                            if ready.readiness == Readiness::Signaled {
                                // The report took the signal: it is this
                                // wait's now (given back if it is cancelled).
                                if let Some((w, _)) = held.iter().find(|(w, _)| w.id == *id) {
                                    w.taken.store(true, Ordering::Release);
                                }
                            }
                            fire.push(*id);
                        }
                    }
                }
            }
            // Every endpoint is let go of here.
            if woken {
                while wake_rx.try_recv(&mut drain).is_ok() {}
            }
            let fired: Vec<Arc<Watch>> = {
                let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
                let (fired, kept) = watches.drain(..).partition(|w| fire.contains(&w.id));
                *watches = kept;
                fired
            };
            {
                let mut rounds = self.rounds.lock().unwrap_or_else(|p| p.into_inner());
                *rounds += 1;
                self.round_done.notify_all();
            }
            if !fired.is_empty() {
                let exiting = EXIT_GATE.lock().unwrap_or_else(|p| p.into_inner());
                if *exiting {
                    // The interpreter is going: nobody awaits these any
                    // more, and the GIL must not be asked for.
                    std::mem::forget(fired);
                    return;
                }
                Python::with_gil(|py| {
                    let Some((resolve, _, _, _)) = HELPERS.get() else {
                        return;
                    };
                    for w in fired {
                        // A closed loop cannot be told; its future is gone
                        // with it.
                        let _ = w.event_loop.call_method1(
                            py,
                            "call_soon_threadsafe",
                            (resolve.clone_ref(py), w.future.clone_ref(py)),
                        );
                    }
                });
                drop(exiting);
            }
        }
    }
}

/// The `atexit` hook: closes [`EXIT_GATE`]. With the GIL released, so that
/// a reactor round waiting for the GIL inside the gate can finish first.
#[pyfunction]
fn close_exit_gate(py: Python<'_>) {
    py.allow_threads(|| *EXIT_GATE.lock().unwrap_or_else(|p| p.into_inner()) = true);
}

/// The handle of one pending wait (`cancel` it when the coroutine leaves).
#[pyclass(frozen, module = "memlink")]
pub(crate) struct AsyncWatch {
    id: u64,
    watch: Arc<Watch>,
}

#[pymethods]
impl AsyncWatch {
    /// Ends the wait if it is still pending, and returns once the reactor
    /// has let go of the endpoint.
    fn cancel(&self, py: Python<'_>) -> PyResult<()> {
        self.end(py)
    }

    /// For an event wait: ends it (as `cancel`) and says whether the
    /// reactor took the event's signal for it. Not `delivered` (the
    /// coroutine was cancelled): a signal taken is given back, so that a
    /// cancelled wait takes none.
    fn finish(&self, py: Python<'_>, delivered: bool) -> PyResult<bool> {
        self.end(py)?;
        let taken = self.watch.taken.load(Ordering::Acquire);
        if taken && !delivered {
            if let Target::Event(e) = &self.watch.target {
                // A manual-reset event's report took nothing.
                if e.kind() == EventKind::AutoReset {
                    e.set();
                }
            }
        }
        Ok(taken)
    }
}

impl AsyncWatch {
    fn end(&self, py: Python<'_>) -> PyResult<()> {
        let reactor = reactor()?;
        let removed = {
            let mut watches = reactor.watches.lock().unwrap_or_else(|p| p.into_inner());
            let before = watches.len();
            watches.retain(|w| w.id != self.id);
            watches.len() != before
        };
        if !removed {
            return Ok(());
        }
        py.allow_threads(|| {
            let mut rounds = reactor.rounds.lock().unwrap_or_else(|p| p.into_inner());
            let seen = *rounds;
            reactor.wake();
            while *rounds == seen {
                rounds = reactor
                    .round_done
                    .wait(rounds)
                    .unwrap_or_else(|p| p.into_inner());
            }
        });
        Ok(())
    }
}

/// Registers a wait for the reactor: `endpoint` (a Receiver, or a Sender
/// with room for `size` bytes) or `left` seconds, whichever comes first.
#[pyfunction]
fn watch(
    endpoint: &Bound<'_, PyAny>,
    future: Py<PyAny>,
    event_loop: Py<PyAny>,
    left: Option<f64>,
    size: usize,
) -> PyResult<AsyncWatch> {
    let reactor = reactor()?;
    let target = if let Ok(rx) = endpoint.downcast::<PyReceiver>() {
        Target::Receiver(rx.clone().unbind())
    } else if let Ok(ev) = endpoint.downcast::<PyNamedEvent>() {
        Target::Event(ev.get().get()?)
    } else {
        Target::Sender(endpoint.downcast::<PySender>()?.clone().unbind(), size)
    };
    let deadline = match left {
        Some(s) if s.is_finite() && s >= 0.0 => {
            Instant::now().checked_add(Duration::from_secs_f64(s))
        }
        Some(_) => Some(Instant::now()),
        None => None,
    };
    let id = reactor.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut watches = reactor.watches.lock().unwrap_or_else(|p| p.into_inner());
        let same = |w: &Arc<Watch>| match (&w.target, &target) {
            (Target::Receiver(a), Target::Receiver(b)) => a.is(b),
            (Target::Sender(a, _), Target::Sender(b, _)) => a.is(b),
            // Any number of waits on one event.
            _ => false,
        };
        if watches.iter().any(same) {
            return Err(crate::errors::state(
                "an async call is already pending on this endpoint; an endpoint serves one call \
                 at a time"
                    .to_owned(),
            ));
        }
        let watch = Arc::new(Watch {
            id,
            target,
            future,
            event_loop,
            deadline,
            taken: AtomicBool::new(false),
        });
        watches.push(watch.clone());
        reactor.wake();
        Ok(AsyncWatch { id, watch })
    }
}

/// `rx.recv_async(timeout)`: the coroutine object.
pub(crate) fn recv_async(
    py: Python<'_>,
    rx: Py<PyReceiver>,
    timeout: Option<f64>,
) -> PyResult<Py<PyAny>> {
    let (_, recv, _, _) = helpers(py)?;
    let watch = wrap_pyfunction!(watch, py)?;
    recv.call1(py, (rx, timeout, watch))
}

/// `event.wait_async(timeout)`: the coroutine object.
pub(crate) fn event_wait_async(
    py: Python<'_>,
    event: Py<PyNamedEvent>,
    timeout: Option<f64>,
) -> PyResult<Py<PyAny>> {
    let (_, _, _, wait) = helpers(py)?;
    let watch = wrap_pyfunction!(watch, py)?;
    wait.call1(py, (event, timeout, watch))
}

/// `tx.send_async(data, timeout)`: the coroutine object.
pub(crate) fn send_async(
    py: Python<'_>,
    tx: Py<PySender>,
    data: Py<PyAny>,
    timeout: Option<f64>,
) -> PyResult<Py<PyAny>> {
    let (_, _, send, _) = helpers(py)?;
    let watch = wrap_pyfunction!(watch, py)?;
    send.call1(py, (tx, data, timeout, watch))
}

fn helpers(py: Python<'_>) -> PyResult<&'static Helpers> {
    if let Some(h) = HELPERS.get() {
        return Ok(h);
    }
    let code = CString::new(COROUTINES).expect("no NUL in the coroutines' source");
    let module = PyModule::from_code(py, &code, c"memlink_aio.py", c"memlink._aio")?;
    let made = (
        module.getattr("resolve")?.unbind(),
        module.getattr("recv_async")?.unbind(),
        module.getattr("send_async")?.unbind(),
        module.getattr("event_wait_async")?.unbind(),
    );
    Ok(HELPERS.get_or_init(|| made))
}

/// Registers the handle class and the exit hook.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AsyncWatch>()?;
    let hook = wrap_pyfunction!(close_exit_gate, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
