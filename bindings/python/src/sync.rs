//! `NamedEvent`, `EventKind`, `RobustMutex` (with `MutexGuard`) and
//! `SeqLock` (byte snapshots).
//!
//! A robust mutex and a seqlock live inside a View: the Python objects keep
//! their View alive and pinned (its export count, so `View.close()` refuses
//! while they exist), which is what makes the `'static` references to their
//! shared memory below sound.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use memlink_core::{Error, Event, EventKind, MutexGuard, NamedEvent, RobustMutex, SeqLock};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::buffer::Input;
use crate::errors::{self, to_py};
use crate::mapping::PyView;
use crate::{blocking, deadline, index, SLICE};

/// How an event behaves once set (Windows CreateEvent).
#[pyclass(eq, eq_int, frozen, module = "memlink", name = "EventKind")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyEventKind {
    /// set() releases one waiter and the event resets itself.
    #[pyo3(name = "AUTO_RESET")]
    AutoReset = 1,
    /// set() releases every waiter and the event stays set until reset().
    #[pyo3(name = "MANUAL_RESET")]
    ManualReset = 2,
}

/// Waits on `event` in slices without the GIL, checking for signals.
fn wait_event(py: Python<'_>, event: &Event, timeout: Option<f64>) -> PyResult<bool> {
    let d = deadline(timeout)?;
    loop {
        let slice = match d.at {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        if py.allow_threads(|| event.wait_timeout(slice)) {
            return Ok(true);
        }
        py.check_signals()?;
        if d.at.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
    }
}

/// A named event, an object of its own in the mappings' namespace: the
/// article's "data is ready" signal between processes.
#[pyclass(frozen, module = "memlink", name = "NamedEvent")]
pub(crate) struct PyNamedEvent {
    inner: RwLock<Option<Arc<NamedEvent>>>,
}

fn kind_of(kind: PyEventKind) -> EventKind {
    match kind {
        PyEventKind::AutoReset => EventKind::AutoReset,
        PyEventKind::ManualReset => EventKind::ManualReset,
    }
}

impl PyNamedEvent {
    fn wrap(e: NamedEvent) -> PyNamedEvent {
        PyNamedEvent {
            inner: RwLock::new(Some(Arc::new(e))),
        }
    }

    /// The event (a clone of the handle: a wait goes on if another thread
    /// closes this object meanwhile).
    pub(crate) fn get(&self) -> PyResult<Arc<NamedEvent>> {
        match self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(e) => Ok(Arc::clone(e)),
            None => Err(errors::closed("NamedEvent")),
        }
    }
}

#[pymethods]
impl PyNamedEvent {
    /// Creates a named event, not set (AlreadyExistsError if the name is
    /// taken by any object).
    #[staticmethod]
    #[pyo3(signature = (name, kind=PyEventKind::AutoReset))]
    fn create(name: &str, kind: PyEventKind) -> PyResult<PyNamedEvent> {
        NamedEvent::create(name, kind_of(kind))
            .map(PyNamedEvent::wrap)
            .map_err(to_py)
    }

    /// Opens an existing named event (WrongKindError if the name is
    /// something else).
    #[staticmethod]
    fn open(name: &str) -> PyResult<PyNamedEvent> {
        NamedEvent::open(name)
            .map(PyNamedEvent::wrap)
            .map_err(to_py)
    }

    /// Opens the event or creates it; returns (event, created).
    #[staticmethod]
    #[pyo3(signature = (name, kind=PyEventKind::AutoReset))]
    fn open_or_create(name: &str, kind: PyEventKind) -> PyResult<(PyNamedEvent, bool)> {
        let (e, d) = NamedEvent::open_or_create(name, kind_of(kind)).map_err(to_py)?;
        Ok((
            PyNamedEvent::wrap(e),
            d == memlink_core::Disposition::Created,
        ))
    }

    /// Sets the event (SetEvent).
    fn set(&self) -> PyResult<()> {
        self.get()?.set();
        Ok(())
    }

    /// Resets a manual-reset event.
    fn reset(&self) -> PyResult<()> {
        self.get()?.reset();
        Ok(())
    }

    /// Whether the event is set now.
    fn is_set(&self) -> PyResult<bool> {
        Ok(self.get()?.is_set())
    }

    /// Releases one waiting thread, if any, without setting the event.
    fn notify_one(&self) -> PyResult<()> {
        self.get()?.notify_one();
        Ok(())
    }

    /// Releases every waiting thread without setting the event.
    fn notify_all(&self) -> PyResult<()> {
        self.get()?.notify_all();
        Ok(())
    }

    /// Waits until the event releases this thread: True, or False once
    /// `timeout` seconds passed (None: forever). Releases the GIL; Ctrl-C
    /// interrupts it.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let event = self.get()?;
        wait_event(py, &event, timeout)
    }

    /// `await event.wait_async(timeout=None)`: waits on the running asyncio
    /// loop without blocking it: True when the event released this wait
    /// (an auto-reset event's signal taken, as `wait` takes it), False once
    /// `timeout` seconds passed (None: forever). The process's one
    /// background thread waits for it, with every pending `recv_async` and
    /// `send_async`, on one WaitSet (no polling). A cancelled wait takes no
    /// signal: one the thread took for it meanwhile is given back (the
    /// event is set again).
    #[pyo3(signature = (timeout=None))]
    fn wait_async(slf: Py<Self>, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        crate::aio::event_wait_async(py, slf, timeout)
    }

    /// How many threads wait on it now (for diagnostics).
    #[getter]
    fn waiters(&self) -> PyResult<u32> {
        Ok(self.get()?.waiters())
    }

    /// AUTO_RESET or MANUAL_RESET.
    #[getter]
    fn kind(&self) -> PyResult<PyEventKind> {
        Ok(match self.get()?.kind() {
            EventKind::ManualReset => PyEventKind::ManualReset,
            _ => PyEventKind::AutoReset,
        })
    }

    /// The event's name.
    #[getter]
    fn name(&self) -> PyResult<String> {
        Ok(self.get()?.name().to_string())
    }

    /// Lets go of the event. Idempotent.
    fn close(&self) {
        let taken = self.inner.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) {
        self.close();
    }
}

/// An event inside a View (128 bytes, 128-aligned), for mappings of your own
/// layout: Event.init_in(view, offset, kind) makes one, Event.attach(view,
/// offset) finds it in another process. Same methods as NamedEvent.
#[pyclass(frozen, module = "memlink", name = "Event")]
pub(crate) struct PyEvent {
    event: &'static Event,
    _pin: Pin,
}

impl PyEvent {
    fn place(
        view: &Bound<'_, PyView>,
        offset: i64,
        kind: Option<PyEventKind>,
    ) -> PyResult<PyEvent> {
        let offset = index(offset, "offset")?;
        let pin = Pin::new(view);
        let g = view.get().get()?;
        let Some(v) = g.as_ref() else {
            return Err(errors::closed("View"));
        };
        let e = match kind {
            Some(k) => Event::init_in(v, offset, kind_of(k)),
            None => Event::attach(v, offset),
        }
        .map_err(to_py)?;
        // SAFETY: `e` lies in `v`'s memory, which `pin` (kept in the
        // result) keeps mapped.
        let event = unsafe { pinned(e) };
        drop(g);
        Ok(PyEvent { event, _pin: pin })
    }
}

#[pymethods]
impl PyEvent {
    /// Makes the 128 bytes at `offset` of `view` a new event, not set.
    #[staticmethod]
    #[pyo3(signature = (view, offset, kind=PyEventKind::AutoReset))]
    fn init_in(view: &Bound<'_, PyView>, offset: i64, kind: PyEventKind) -> PyResult<PyEvent> {
        PyEvent::place(view, offset, Some(kind))
    }

    /// The event that init_in made at `offset` of `view` (WrongKindError if
    /// there is none).
    #[staticmethod]
    fn attach(view: &Bound<'_, PyView>, offset: i64) -> PyResult<PyEvent> {
        PyEvent::place(view, offset, None)
    }

    /// Sets the event.
    fn set(&self) {
        self.event.set();
    }

    /// Resets a manual-reset event.
    fn reset(&self) {
        self.event.reset();
    }

    /// Whether the event is set now.
    fn is_set(&self) -> bool {
        self.event.is_set()
    }

    /// Releases one waiting thread, if any, without setting the event.
    fn notify_one(&self) {
        self.event.notify_one();
    }

    /// Releases every waiting thread without setting the event.
    fn notify_all(&self) {
        self.event.notify_all();
    }

    /// Waits until released (True) or `timeout` passed (False); releases
    /// the GIL, Ctrl-C interrupts it.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        wait_event(py, self.event, timeout)
    }

    /// How many threads wait on it now.
    #[getter]
    fn waiters(&self) -> u32 {
        self.event.waiters()
    }

    /// AUTO_RESET or MANUAL_RESET.
    #[getter]
    fn kind(&self) -> PyEventKind {
        match self.event.kind() {
            EventKind::ManualReset => PyEventKind::ManualReset,
            _ => PyEventKind::AutoReset,
        }
    }
}

/// Pins `view` (so it cannot be closed) for an object placed inside it.
struct Pin {
    view: Py<PyView>,
}

impl Pin {
    fn new(view: &Bound<'_, PyView>) -> Pin {
        view.get().exports.add();
        Pin {
            view: view.clone().unbind(),
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.view.get().exports.remove();
    }
}

/// Makes a `'static` reference to something placed in a pinned view.
///
/// # Safety
///
/// `r` must point into the mapped memory of a view that a [`Pin`] held by
/// the same owner keeps mapped for as long as the result is used.
unsafe fn pinned<T: ?Sized>(r: &T) -> &'static T {
    // SAFETY: as the caller promises, the memory stays mapped (and the
    // object valid: every bit pattern is) while the pin lives.
    unsafe { &*(r as *const T) }
}

/// A lock in shared memory whose next locker learns that its owner died
/// (kill -9) while holding it. RobustMutex.init_in(view, offset) makes one
/// (128 bytes, 128-aligned), RobustMutex.attach(view, offset) finds it in
/// another process. `with mutex as guard:` locks; guard.owner_died says the
/// previous owner died: repair the data, then guard.mark_consistent().
#[pyclass(frozen, module = "memlink", name = "RobustMutex")]
pub(crate) struct PyRobustMutex {
    mutex: &'static RobustMutex,
    /// The guard `__enter__` took, for `__exit__`.
    entered: Mutex<Vec<Py<PyMutexGuard>>>,
    _pin: Pin,
}

/// A held RobustMutex (from lock(), try_lock() or `with mutex`).
#[pyclass(frozen, module = "memlink", name = "MutexGuard")]
pub(crate) struct PyMutexGuard {
    guard: Mutex<Option<MutexGuard<'static>>>,
    owner_died: bool,
    /// Keeps the mutex's view pinned while the guard lives.
    _mutex: Py<PyRobustMutex>,
}

impl PyRobustMutex {
    fn place(view: &Bound<'_, PyView>, offset: i64, init: bool) -> PyResult<PyRobustMutex> {
        let offset = index(offset, "offset")?;
        let pin = Pin::new(view);
        let g = view.get().get()?;
        let Some(v) = g.as_ref() else {
            return Err(errors::closed("View"));
        };
        let m = if init {
            RobustMutex::init_in(v, offset)
        } else {
            RobustMutex::attach(v, offset)
        }
        .map_err(to_py)?;
        // SAFETY: `m` lies in `v`'s memory, which `pin` (kept in the
        // result) keeps mapped.
        let mutex = unsafe { pinned(m) };
        drop(g);
        Ok(PyRobustMutex {
            mutex,
            entered: Mutex::new(Vec::new()),
            _pin: pin,
        })
    }

    fn guard(slf: &Bound<'_, Self>, g: MutexGuard<'static>) -> PyMutexGuard {
        PyMutexGuard {
            owner_died: g.owner_died(),
            guard: Mutex::new(Some(g)),
            _mutex: slf.clone().unbind(),
        }
    }
}

#[pymethods]
impl PyRobustMutex {
    /// Makes the 128 bytes at `offset` of `view` a new, unlocked mutex.
    #[staticmethod]
    fn init_in(view: &Bound<'_, PyView>, offset: i64) -> PyResult<PyRobustMutex> {
        PyRobustMutex::place(view, offset, true)
    }

    /// The mutex that init_in made at `offset` of `view` (WrongKindError if
    /// there is none).
    #[staticmethod]
    fn attach(view: &Bound<'_, PyView>, offset: i64) -> PyResult<PyRobustMutex> {
        PyRobustMutex::place(view, offset, false)
    }

    /// Locks, waiting at most `timeout` seconds (None: as long as it
    /// takes; TimeoutError after). A dead owner's lock is taken over and
    /// the guard's owner_died is True. Releases the GIL while waiting.
    #[pyo3(signature = (timeout=None))]
    fn lock(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<PyMutexGuard> {
        let py = slf.py();
        let mutex = slf.get().mutex;
        if let Some(g) = mutex.try_lock().map_err(to_py)? {
            return Ok(PyRobustMutex::guard(slf, g));
        }
        let d = deadline(timeout)?;
        let got = blocking(py, d.at, |slice| match mutex.lock_timeout(slice) {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(Error::Timeout {
                name: "robust mutex".into(),
                operation: "lock",
                after: slice,
            }),
            Err(e) => Err(e),
        })?;
        match got {
            Some(g) => Ok(PyRobustMutex::guard(slf, g)),
            None => Err(to_py(Error::Timeout {
                name: "robust mutex".into(),
                operation: "lock",
                after: d.after,
            })),
        }
    }

    /// Locks if no live process holds it: a MutexGuard, or None.
    fn try_lock(slf: &Bound<'_, Self>) -> PyResult<Option<PyMutexGuard>> {
        let mutex = slf.get().mutex;
        Ok(mutex
            .try_lock()
            .map_err(to_py)?
            .map(|g| PyRobustMutex::guard(slf, g)))
    }

    /// The pid holding it now, or None (a snapshot, for diagnostics).
    #[getter]
    fn owner_pid(&self) -> Option<u32> {
        self.mutex.owner_pid()
    }

    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyMutexGuard>> {
        let guard = Py::new(slf.py(), PyRobustMutex::lock(slf, None)?)?;
        slf.get()
            .entered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(guard.clone_ref(slf.py()));
        Ok(guard)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) {
        let guard = self.entered.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(guard) = guard {
            guard.get().unlock();
        }
    }
}

#[pymethods]
impl PyMutexGuard {
    /// Whether the lock was taken over from an owner that died holding it.
    #[getter]
    fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// Declares the protected state repaired after owner_died; without it,
    /// unlocking makes the mutex not recoverable (NotRecoverableError).
    fn mark_consistent(&self) -> PyResult<()> {
        match self
            .guard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(g) => {
                g.mark_consistent();
                Ok(())
            }
            None => Err(errors::ended("the mutex guard was unlocked".into())),
        }
    }

    /// Unlocks (nothing to do if already unlocked).
    fn unlock(&self) {
        let g = self.guard.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(g);
    }

    /// Whether the guard still holds the lock.
    #[getter]
    fn locked(&self) -> bool {
        self.guard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) {
        self.unlock();
    }
}

/// What the binding needs of a `SeqLock<[u8; N]>`, for every supported N.
trait Bytes: Send + Sync {
    fn write(&self, data: &[u8]);
    fn try_read(&self) -> Option<Vec<u8>>;
    fn version(&self) -> u64;
}

impl<const N: usize> Bytes for SeqLock<[u8; N]> {
    fn write(&self, data: &[u8]) {
        let mut value = [0u8; N];
        value.copy_from_slice(data);
        SeqLock::write(self, &value);
    }

    fn try_read(&self) -> Option<Vec<u8>> {
        SeqLock::try_read(self).map(|v| v.to_vec())
    }

    fn version(&self) -> u64 {
        SeqLock::version(self)
    }
}

fn place_seqlock<'v, const N: usize>(
    view: &'v memlink_core::View,
    offset: usize,
    initial: Option<&[u8]>,
) -> memlink_core::Result<&'v (dyn Bytes + 'static)> {
    Ok(match initial {
        Some(data) => {
            let mut value = [0u8; N];
            value.copy_from_slice(data);
            SeqLock::<[u8; N]>::init_in(view, offset, &value)?
        }
        None => SeqLock::<[u8; N]>::attach(view, offset)?,
    })
}

/// `place_seqlock::<size>` for every supported size.
macro_rules! sizes {
    ($($n:literal),* $(,)?) => {
        const SIZES: &[usize] = &[$($n),*];

        fn place_any<'v>(
            size: usize,
            view: &'v memlink_core::View,
            offset: usize,
            initial: Option<&[u8]>,
        ) -> Option<memlink_core::Result<&'v (dyn Bytes + 'static)>> {
            match size {
                $($n => Some(place_seqlock::<$n>(view, offset, initial)),)*
                _ => None,
            }
        }
    };
}

sizes!(
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
    27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 72, 80, 88, 96, 104, 112, 120, 128,
    136, 144, 152, 160, 168, 176, 184, 192, 200, 208, 216, 224, 232, 240, 248, 256, 264, 272, 280,
    288, 296, 304, 312, 320, 328, 336, 344, 352, 360, 368, 376, 384, 392, 400, 408, 416, 424, 432,
    440, 448, 456, 464, 472, 480, 488, 496, 504, 512, 576, 640, 704, 768, 832, 896, 960, 1024,
    1088, 1152, 1216, 1280, 1344, 1408, 1472, 1536, 1600, 1664, 1728, 1792, 1856, 1920, 1984, 2048,
    2112, 2176, 2240, 2304, 2368, 2432, 2496, 2560, 2624, 2688, 2752, 2816, 2880, 2944, 3008, 3072,
    3136, 3200, 3264, 3328, 3392, 3456, 3520, 3584, 3648, 3712, 3776, 3840, 3904, 3968, 4032, 4096,
);

/// A snapshot of `size` bytes in shared memory, published by one writer
/// and copied by any number of readers, never torn: SeqLock.init_in(view,
/// offset, initial) writes one (16 bytes of header + the value, rounded up
/// to 128; 128-aligned), SeqLock.attach(view, offset, size) finds it. It is
/// the Rust SeqLock<T> of a T of that size ([f64; 3] is size 24). Sizes:
/// 1 to 64, multiples of 8 to 512, multiples of 64 to 4096.
#[pyclass(frozen, module = "memlink", name = "SeqLock")]
pub(crate) struct PySeqLock {
    lock: &'static dyn Bytes,
    size: usize,
    _pin: Pin,
}

impl PySeqLock {
    fn place(
        view: &Bound<'_, PyView>,
        offset: i64,
        size: usize,
        initial: Option<&[u8]>,
    ) -> PyResult<PySeqLock> {
        let offset = index(offset, "offset")?;
        let pin = Pin::new(view);
        let g = view.get().get()?;
        let Some(v) = g.as_ref() else {
            return Err(errors::closed("View"));
        };
        let placed = place_any(size, v, offset, initial).ok_or_else(|| {
            errors::invalid(format!(
                "a SeqLock of {size} bytes is not supported: sizes are 1 to 64, multiples of 8 \
                 to 512 and multiples of 64 to 4096 (pad the value)"
            ))
        })?;
        let lock = placed.map_err(to_py)?;
        // SAFETY: the seqlock lies in `v`'s memory, which `pin` (kept in
        // the result) keeps mapped.
        let lock = unsafe { pinned(lock) };
        drop(g);
        Ok(PySeqLock {
            lock,
            size,
            _pin: pin,
        })
    }
}

#[pymethods]
impl PySeqLock {
    /// Makes a seqlock at `offset` of `view` holding `initial` (its length
    /// is the value's size).
    #[staticmethod]
    fn init_in(
        view: &Bound<'_, PyView>,
        offset: i64,
        initial: &Bound<'_, PyAny>,
    ) -> PyResult<PySeqLock> {
        let input = Input::new(initial)?;
        let data = input.as_bytes()?;
        PySeqLock::place(view, offset, data.len(), Some(data))
    }

    /// The seqlock at `offset` of `view`, holding `size`-byte values
    /// (CorruptError if it holds another size, WrongKindError if none).
    #[staticmethod]
    fn attach(view: &Bound<'_, PyView>, offset: i64, size: i64) -> PyResult<PySeqLock> {
        let size = index(size, "size")?;
        PySeqLock::place(view, offset, size, None)
    }

    /// Publishes `data` (exactly `size` bytes). One writer at a time.
    fn write(&self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let input = Input::new(data)?;
        let bytes = input.as_bytes()?;
        if bytes.len() != self.size {
            return Err(errors::invalid(format!(
                "this SeqLock holds {} bytes, not {}",
                self.size,
                bytes.len()
            )));
        }
        self.lock.write(bytes);
        Ok(())
    }

    /// One attempt at a snapshot: bytes, or None if a write overlapped.
    fn try_read(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.lock.try_read().map(|v| PyBytes::new(py, &v).unbind())
    }

    /// A consistent snapshot, retrying while writes overlap, at most
    /// `timeout` seconds (None: as long as it takes): TimeoutError after.
    #[pyo3(signature = (timeout=None))]
    fn read(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyBytes>> {
        let d = deadline(timeout)?;
        let lock = self.lock;
        let got = blocking(py, d.at, |slice| {
            let until = Instant::now() + slice;
            loop {
                if let Some(v) = lock.try_read() {
                    return Ok(v);
                }
                if Instant::now() >= until {
                    return Err(Error::Timeout {
                        name: "seqlock".into(),
                        operation: "read",
                        after: slice,
                    });
                }
                std::thread::yield_now();
            }
        })?;
        match got {
            Some(v) => Ok(PyBytes::new(py, &v).unbind()),
            None => Err(to_py(Error::Timeout {
                name: "seqlock".into(),
                operation: "read a snapshot of",
                after: d.after,
            })),
        }
    }

    /// How many writes have completed.
    #[getter]
    fn version(&self) -> u64 {
        self.lock.version()
    }

    /// The value's size in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.size
    }

    /// The sizes a SeqLock can hold.
    #[staticmethod]
    fn sizes() -> Vec<usize> {
        SIZES.to_vec()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEventKind>()?;
    m.add_class::<PyNamedEvent>()?;
    m.add_class::<PyEvent>()?;
    m.add_class::<PyRobustMutex>()?;
    m.add_class::<PyMutexGuard>()?;
    m.add_class::<PySeqLock>()?;
    Ok(())
}
