//! `Mapping`, `View`, `Access`, `MappingInfo`, `ObjectKind` and `list` /
//! `inspect` / `identify` / `gc`.

use std::ffi::c_int;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::Duration;

use memlink_core::{Backing, MappingOptions, Namespace};
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySlice, PyTuple};

use crate::buffer::{fill, Exports, Input};
use crate::errors::{self, to_py};
use crate::{index, unsigned};

/// How a mapping or view may be used: the article's PAGE_READONLY,
/// PAGE_READWRITE and PAGE_WRITECOPY. Arguments also take the strings
/// "r", "rw" and "cow".
#[pyclass(eq, eq_int, frozen, module = "memlink", name = "Access")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyAccess {
    /// Read only: views are read-only buffers.
    #[pyo3(name = "READ_ONLY")]
    ReadOnly = 1,
    /// Read and write; writes are seen by every process.
    #[pyo3(name = "READ_WRITE")]
    ReadWrite = 2,
    /// Private writes: they stay in this process.
    #[pyo3(name = "COPY_ON_WRITE")]
    CopyOnWrite = 3,
}

impl From<memlink_core::Access> for PyAccess {
    fn from(a: memlink_core::Access) -> Self {
        match a {
            memlink_core::Access::ReadOnly => PyAccess::ReadOnly,
            memlink_core::Access::ReadWrite => PyAccess::ReadWrite,
            memlink_core::Access::CopyOnWrite => PyAccess::CopyOnWrite,
        }
    }
}

/// An `Access` argument: the enum, or "r" / "rw" / "cow".
pub(crate) fn access_arg(obj: &Bound<'_, PyAny>) -> PyResult<memlink_core::Access> {
    if let Ok(a) = obj.extract::<PyAccess>() {
        return Ok(match a {
            PyAccess::ReadOnly => memlink_core::Access::ReadOnly,
            PyAccess::ReadWrite => memlink_core::Access::ReadWrite,
            PyAccess::CopyOnWrite => memlink_core::Access::CopyOnWrite,
        });
    }
    match obj.extract::<String>().as_deref() {
        Ok("r" | "read-only" | "read_only") => Ok(memlink_core::Access::ReadOnly),
        Ok("rw" | "read-write" | "read_write") => Ok(memlink_core::Access::ReadWrite),
        Ok("cow" | "copy-on-write" | "copy_on_write") => Ok(memlink_core::Access::CopyOnWrite),
        Ok(other) => Err(errors::invalid(format!(
            "access {other:?} is none of \"r\", \"rw\", \"cow\" (or memlink.Access)"
        ))),
        Err(_) => Err(PyTypeError::new_err(format!(
            "access must be a memlink.Access or \"r\" / \"rw\" / \"cow\", not {}",
            obj.get_type().name()?
        ))),
    }
}

/// What a named mapping holds, as `identify` says (the values are the C
/// ABI's `ML_OBJECT_*`).
#[pyclass(eq, eq_int, frozen, module = "memlink", name = "ObjectKind")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyObjectKind {
    /// A channel (Sender / Receiver).
    #[pyo3(name = "CHANNEL")]
    Channel = 1,
    /// A NamedEvent.
    #[pyo3(name = "EVENT")]
    Event = 2,
    /// A wait set's doorbell: the named word a wait set sleeps on.
    #[pyo3(name = "DOORBELL")]
    Doorbell = 3,
    /// A memlink object of a kind newer than this module.
    #[pyo3(name = "UNKNOWN")]
    Unknown = 4,
    /// Plain bytes without a memlink header (a Mapping, or another
    /// program's shared memory).
    #[pyo3(name = "MAPPING")]
    Mapping = 5,
}

impl From<memlink_core::ObjectKind> for PyObjectKind {
    fn from(kind: memlink_core::ObjectKind) -> Self {
        match kind {
            memlink_core::ObjectKind::Channel => PyObjectKind::Channel,
            memlink_core::ObjectKind::Event => PyObjectKind::Event,
            memlink_core::ObjectKind::Doorbell => PyObjectKind::Doorbell,
            memlink_core::ObjectKind::Mapping => PyObjectKind::Mapping,
            // Non-exhaustive: a kind added to the library after this
            // module is a memlink object it cannot name.
            _ => PyObjectKind::Unknown,
        }
    }
}

/// A `busy_timeout` argument: seconds (0 never waits), or None for the
/// library's default (2 s). Never unbounded: negative, NaN, infinite and
/// too large are refused.
fn busy_timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    let refused = || {
        errors::invalid(format!(
            "busy_timeout must be None (the default, 2 s) or a finite number of seconds >= 0, \
             not {seconds}: the wait for a busy name is always bounded"
        ))
    };
    if seconds.is_nan() || seconds < 0.0 {
        return Err(refused());
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|_| refused())
}

/// The options every create / open call takes.
#[allow(clippy::too_many_arguments)]
fn options(
    size: i64,
    file: Option<PathBuf>,
    access: Option<&Bound<'_, PyAny>>,
    mode: u32,
    persistent: bool,
    allow_foreign_owner: bool,
    populate: bool,
    lock: bool,
    huge_pages: bool,
    busy: Option<f64>,
) -> PyResult<MappingOptions> {
    let mut o = MappingOptions::new();
    o.size(unsigned(size, "size")?)
        .mode(mode)
        .persistent(persistent)
        .allow_foreign_owner(allow_foreign_owner)
        .populate(populate)
        .lock_in_memory(lock)
        .huge_pages(huge_pages);
    if let Some(path) = file {
        o.file(path);
    }
    if let Some(a) = access {
        o.access(access_arg(a)?);
    }
    if let Some(t) = busy_timeout(busy)? {
        o.busy_timeout(t);
    }
    Ok(o)
}

/// A named mapping (the article's file-mapping object), memory- or
/// file-backed. It lives while some process holds it (a Mapping or a View)
/// and goes when the last holder closes it or dies, unless persistent.
/// `Global\NAME` is machine-wide and is the POSIX object /NAME, which
/// multiprocessing.shared_memory.SharedMemory("NAME") opens too.
#[pyclass(frozen, module = "memlink", name = "Mapping")]
pub(crate) struct PyMapping {
    inner: RwLock<Option<memlink_core::Mapping>>,
}

impl PyMapping {
    fn get(&self) -> PyResult<RwLockReadGuard<'_, Option<memlink_core::Mapping>>> {
        let g = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            return Err(errors::closed("Mapping"));
        }
        Ok(g)
    }

    fn with<T>(&self, f: impl FnOnce(&memlink_core::Mapping) -> T) -> PyResult<T> {
        let g = self.get()?;
        match g.as_ref() {
            Some(m) => Ok(f(m)),
            None => Err(errors::closed("Mapping")),
        }
    }

    fn wrap(m: memlink_core::Mapping) -> PyMapping {
        PyMapping {
            inner: RwLock::new(Some(m)),
        }
    }
}

#[pymethods]
impl PyMapping {
    /// Creates a mapping of `size` bytes (zeros); fails with
    /// AlreadyExistsError if the name is taken. With `file`, the mapping is
    /// backed by that file (created if missing): size 0 means the file's
    /// size, a larger size grows it, an empty file with size 0 is a
    /// ZeroSizeError. `mode` is the permission bits (owner-only by default);
    /// `persistent` keeps it after its last holder until Mapping.remove;
    /// `populate` faults every page in, `lock` locks them in RAM,
    /// `huge_pages` asks for huge pages. `busy_timeout` is how long, in
    /// seconds, an open waits for a name that another process is removing
    /// or holds locked before BusyError (None: the default, 2 s; 0: never
    /// wait; unlike the wait timeouts, never unbounded).
    #[staticmethod]
    #[pyo3(signature = (name, size=0, *, file=None, access=None, mode=0o600, persistent=false,
                        allow_foreign_owner=false, populate=false, lock=false, huge_pages=false,
                        busy_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        name: &str,
        size: i64,
        file: Option<PathBuf>,
        access: Option<&Bound<'_, PyAny>>,
        mode: u32,
        persistent: bool,
        allow_foreign_owner: bool,
        populate: bool,
        lock: bool,
        huge_pages: bool,
        busy_timeout: Option<f64>,
    ) -> PyResult<PyMapping> {
        let o = options(
            size,
            file,
            access,
            mode,
            persistent,
            allow_foreign_owner,
            populate,
            lock,
            huge_pages,
            busy_timeout,
        )?;
        let m = py.allow_threads(|| o.create(name)).map_err(to_py)?;
        Ok(PyMapping::wrap(m))
    }

    /// Opens an existing mapping by name (NotFoundError if none), for
    /// `access` ("rw" by default; "r" for read-only, "cow" for private
    /// writes). Another user's mapping is refused (ForeignOwnerError) unless
    /// `allow_foreign_owner`. `busy_timeout`: as for `create`.
    #[staticmethod]
    #[pyo3(signature = (name, access=None, *, allow_foreign_owner=false, populate=false,
                        lock=false, huge_pages=false, busy_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        name: &str,
        access: Option<&Bound<'_, PyAny>>,
        allow_foreign_owner: bool,
        populate: bool,
        lock: bool,
        huge_pages: bool,
        busy_timeout: Option<f64>,
    ) -> PyResult<PyMapping> {
        let o = options(
            0,
            None,
            access,
            0o600,
            false,
            allow_foreign_owner,
            populate,
            lock,
            huge_pages,
            busy_timeout,
        )?;
        let m = py.allow_threads(|| o.open(name)).map_err(to_py)?;
        Ok(PyMapping::wrap(m))
    }

    /// Opens the mapping if it exists, else creates it as `create` would;
    /// returns (mapping, created). An opened mapping keeps its own size (the
    /// article's ERROR_ALREADY_EXISTS case). `busy_timeout`: as for
    /// `create`.
    #[staticmethod]
    #[pyo3(signature = (name, size=0, *, file=None, access=None, mode=0o600, persistent=false,
                        allow_foreign_owner=false, populate=false, lock=false, huge_pages=false,
                        busy_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn open_or_create(
        py: Python<'_>,
        name: &str,
        size: i64,
        file: Option<PathBuf>,
        access: Option<&Bound<'_, PyAny>>,
        mode: u32,
        persistent: bool,
        allow_foreign_owner: bool,
        populate: bool,
        lock: bool,
        huge_pages: bool,
        busy_timeout: Option<f64>,
    ) -> PyResult<(PyMapping, bool)> {
        let o = options(
            size,
            file,
            access,
            mode,
            persistent,
            allow_foreign_owner,
            populate,
            lock,
            huge_pages,
            busy_timeout,
        )?;
        let (m, d) = py.allow_threads(|| o.open_or_create(name)).map_err(to_py)?;
        Ok((PyMapping::wrap(m), d == memlink_core::Disposition::Created))
    }

    /// Removes a name now (persistent or not); holders keep their memory.
    #[staticmethod]
    fn remove(name: &str) -> PyResult<()> {
        memlink_core::Mapping::remove(name).map_err(to_py)
    }

    /// Describes a mapping without holding it (a MappingInfo).
    #[staticmethod]
    fn inspect(name: &str) -> PyResult<MappingInfo> {
        memlink_core::Mapping::inspect(name)
            .map(MappingInfo::from)
            .map_err(to_py)
    }

    /// A view of `length` bytes from `offset` (default: to the end), with
    /// the mapping's access unless `access` says otherwise ("cow" works on
    /// any mapping; "rw" needs a read-write one). Offsets need no alignment.
    #[pyo3(signature = (offset=0, length=None, access=None))]
    fn view(
        &self,
        offset: i64,
        length: Option<i64>,
        access: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyView> {
        let offset = unsigned(offset, "offset")?;
        let g = self.get()?;
        let Some(m) = g.as_ref() else {
            return Err(errors::closed("Mapping"));
        };
        let length = match length {
            Some(l) => unsigned(l, "length")?,
            None => m.size().saturating_sub(offset).max(1),
        };
        let access = match access {
            Some(a) => access_arg(a)?,
            None => m.access(),
        };
        let v = m.view_with(offset, length, access).map_err(to_py)?;
        Ok(PyView::wrap(v))
    }

    /// The name, as `Local\NAME` or `Global\NAME`.
    #[getter]
    fn name(&self) -> PyResult<String> {
        self.with(|m| m.name().to_string())
    }

    /// The size in bytes, exactly as created.
    #[getter]
    fn size(&self) -> PyResult<u64> {
        self.with(|m| m.size())
    }

    /// The access this handle was opened with.
    #[getter]
    fn access(&self) -> PyResult<PyAccess> {
        self.with(|m| m.access().into())
    }

    /// The backing file's path, or None for a memory-backed mapping.
    #[getter]
    fn file(&self) -> PyResult<Option<PathBuf>> {
        self.with(|m| match m.backing() {
            Backing::Memory | Backing::Unknown => None,
            Backing::File(p) => Some(p.clone()),
        })
    }

    /// Whether it stays after its last holder goes.
    #[getter]
    fn persistent(&self) -> PyResult<bool> {
        self.with(|m| m.is_persistent())
    }

    /// The owning user id.
    #[getter]
    fn owner(&self) -> PyResult<u32> {
        self.with(|m| m.owner())
    }

    /// The permission bits of the name.
    #[getter]
    fn mode(&self) -> PyResult<u32> {
        self.with(|m| m.mode())
    }

    /// The operating system's name for it (/NAME for Global\NAME on POSIX).
    #[getter]
    fn os_name(&self) -> PyResult<String> {
        self.with(|m| m.os_name().to_owned())
    }

    /// Whether close() was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Lets go of the mapping (views made from it keep it alive). Idempotent.
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

    fn __repr__(&self) -> String {
        match self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(m) => format!(
                "<memlink.Mapping {} size={} access={}>",
                m.name(),
                m.size(),
                m.access()
            ),
            None => "<memlink.Mapping closed>".into(),
        }
    }
}

/// A mapped range of a Mapping (MapViewOfFile). It supports the buffer
/// protocol: memoryview(view), numpy.frombuffer(view) and view[a:b] reach
/// the shared bytes with no copy (writable unless the access is read-only).
/// Other processes may write those bytes at any time. While a buffer of it
/// is exported (or a RobustMutex / SeqLock lives in it), close() raises
/// BufferInUseError.
#[pyclass(frozen, module = "memlink", name = "View")]
pub(crate) struct PyView {
    inner: RwLock<Option<memlink_core::View>>,
    addr: usize,
    len: usize,
    access: memlink_core::Access,
    /// Buffers exported and objects (mutexes, seqlocks) placed in the view.
    pub(crate) exports: Exports,
}

impl PyView {
    fn wrap(v: memlink_core::View) -> PyView {
        PyView {
            addr: v.as_ptr() as usize,
            len: v.len(),
            access: v.access(),
            inner: RwLock::new(Some(v)),
            exports: Exports::default(),
        }
    }

    /// The view, or ClosedError.
    pub(crate) fn get(&self) -> PyResult<RwLockReadGuard<'_, Option<memlink_core::View>>> {
        let g = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            return Err(errors::closed("View"));
        }
        Ok(g)
    }

    fn with<T>(&self, f: impl FnOnce(&memlink_core::View) -> PyResult<T>) -> PyResult<T> {
        let g = self.get()?;
        match g.as_ref() {
            Some(v) => f(v),
            None => Err(errors::closed("View")),
        }
    }

    fn read_range(&self, py: Python<'_>, offset: usize, len: usize) -> PyResult<Py<PyBytes>> {
        self.with(|v| {
            let b = PyBytes::new_with(py, len, |buf| v.read_at(offset, buf).map_err(to_py))?;
            Ok(b.unbind())
        })
    }

    /// `start..stop` of a slice with step 1, or an error for other steps.
    fn span(&self, slice: &Bound<'_, PySlice>) -> PyResult<(usize, usize)> {
        let len = ffi::Py_ssize_t::try_from(self.len).unwrap_or(ffi::Py_ssize_t::MAX);
        let i = slice.indices(len)?;
        if i.step != 1 {
            return Err(errors::invalid(
                "a View slice needs step 1; use memoryview(view)[...] for strides".into(),
            ));
        }
        let start = usize::try_from(i.start).unwrap_or(0);
        let n = i.slicelength;
        Ok((start, n))
    }

    fn position(&self, i: isize) -> PyResult<usize> {
        let len = isize::try_from(self.len).unwrap_or(isize::MAX);
        let at = if i < 0 { i + len } else { i };
        if at < 0 || at >= len {
            return Err(to_py(memlink_core::Error::OutOfRange {
                name: "view".into(),
                offset: i as u64,
                len: 1,
                size: self.len as u64,
            }));
        }
        Ok(at as usize)
    }
}

#[pymethods]
impl PyView {
    /// Copies `length` bytes from `offset` (default: to the end) into bytes.
    #[pyo3(signature = (offset=0, length=None))]
    fn read(&self, py: Python<'_>, offset: i64, length: Option<i64>) -> PyResult<Py<PyBytes>> {
        let offset = index(offset, "offset")?;
        let length = match length {
            Some(l) => index(l, "length")?,
            None => self.len.saturating_sub(offset),
        };
        self.read_range(py, offset, length)
    }

    /// Copies `data` (bytes-like or str) into the view at `offset`.
    fn write(&self, offset: i64, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let offset = index(offset, "offset")?;
        let input = Input::new(data)?;
        let bytes = input.as_bytes()?;
        self.with(|v| v.write_at(offset, bytes).map_err(to_py))
    }

    /// The u32 at `offset` (4-byte aligned in memory), with an acquire load.
    fn load_u32(&self, offset: i64) -> PyResult<u32> {
        let offset = index(offset, "offset")?;
        self.with(|v| v.load_u32(offset, Ordering::Acquire).map_err(to_py))
    }

    /// The u64 at `offset` (8-byte aligned in memory), with an acquire load.
    fn load_u64(&self, offset: i64) -> PyResult<u64> {
        let offset = index(offset, "offset")?;
        self.with(|v| v.load_u64(offset, Ordering::Acquire).map_err(to_py))
    }

    /// Stores a u32 at `offset` (4-byte aligned) with a release store.
    fn store_u32(&self, offset: i64, value: u32) -> PyResult<()> {
        let offset = index(offset, "offset")?;
        self.with(|v| {
            v.atomic_u32(offset)
                .map_err(to_py)?
                .store(value, Ordering::Release);
            Ok(())
        })
    }

    /// Stores a u64 at `offset` (8-byte aligned) with a release store.
    fn store_u64(&self, offset: i64, value: u64) -> PyResult<()> {
        let offset = index(offset, "offset")?;
        self.with(|v| {
            v.atomic_u64(offset)
                .map_err(to_py)?
                .store(value, Ordering::Release);
            Ok(())
        })
    }

    /// Writes the view back to its file and waits (FlushViewOfFile); with
    /// `wait=False` only starts it. Nothing to do for memory mappings.
    #[pyo3(signature = (wait=true))]
    fn flush(&self, py: Python<'_>, wait: bool) -> PyResult<()> {
        self.with(|v| {
            py.allow_threads(|| if wait { v.flush() } else { v.flush_async() })
                .map_err(to_py)
        })
    }

    /// Writes back `length` bytes from `offset` (and waits unless
    /// `wait=False`).
    #[pyo3(signature = (offset, length, wait=true))]
    fn flush_range(&self, py: Python<'_>, offset: i64, length: i64, wait: bool) -> PyResult<()> {
        let offset = index(offset, "offset")?;
        let length = index(length, "length")?;
        self.with(|v| {
            py.allow_threads(|| {
                if wait {
                    v.flush_range(offset, length)
                } else {
                    v.flush_range_async(offset, length)
                }
            })
            .map_err(to_py)
        })
    }

    /// The view's length in bytes.
    fn __len__(&self) -> usize {
        self.len
    }

    /// view[i] is the byte at i; view[a:b] copies those bytes out.
    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        if let Ok(slice) = key.downcast::<PySlice>() {
            let (start, n) = self.span(slice)?;
            return Ok(self.read_range(py, start, n)?.into_any());
        }
        let i: isize = key.extract()?;
        let at = self.position(i)?;
        let mut b = [0u8];
        self.with(|v| v.read_at(at, &mut b).map_err(to_py))?;
        Ok(b[0].into_pyobject(py)?.into_any().unbind())
    }

    /// view[i] = byte; view[a:b] = bytes of the same length.
    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(slice) = key.downcast::<PySlice>() {
            let (start, n) = self.span(slice)?;
            let input = Input::new(value)?;
            let bytes = input.as_bytes()?;
            if bytes.len() != n {
                return Err(errors::invalid(format!(
                    "cannot assign {} bytes to a slice of {n}: a View does not resize",
                    bytes.len()
                )));
            }
            return self.with(|v| v.write_at(start, bytes).map_err(to_py));
        }
        let i: isize = key.extract()?;
        let at = self.position(i)?;
        let byte: u8 = value.extract()?;
        self.with(|v| v.write_at(at, &[byte]).map_err(to_py))
    }

    /// Where the view starts in its mapping.
    #[getter]
    fn offset(&self) -> PyResult<u64> {
        self.with(|v| Ok(v.offset()))
    }

    /// The view's access.
    #[getter]
    fn access(&self) -> PyAccess {
        self.access.into()
    }

    /// True when buffers of this view are read-only.
    #[getter]
    fn readonly(&self) -> bool {
        self.access == memlink_core::Access::ReadOnly
    }

    /// The mapping's name.
    #[getter]
    fn name(&self) -> PyResult<String> {
        self.with(|v| Ok(v.name().to_string()))
    }

    /// Whether close() was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Unmaps the view. Raises BufferInUseError (and stays open) while a
    /// memoryview, numpy array, RobustMutex or SeqLock still uses it.
    /// Idempotent.
    fn close(&self) -> PyResult<()> {
        // Tried, never waited for: a thread inside flush() holds the read
        // lock without the GIL and needs the GIL back to let go of it.
        let mut g = match self.inner.try_write() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(errors::state(
                    "View not closed: another thread is inside a call on it (flush)".into(),
                ))
            }
        };
        if g.is_none() {
            return Ok(());
        }
        let n = self.exports.count();
        if n > 0 {
            return Err(errors::in_use(format!(
                "cannot close a View while {n} buffer(s) (memoryview, numpy array, \
                 RobustMutex, SeqLock) still use it"
            )));
        }
        drop(g.take());
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*exc))]
    fn __exit__(&self, exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        crate::exit(exc, self.close())
    }

    fn __repr__(&self) -> String {
        match self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(v) => format!(
                "<memlink.View {} offset={} len={} access={}>",
                v.name(),
                v.offset(),
                v.len(),
                v.access()
            ),
            None => "<memlink.View closed>".into(),
        }
    }

    /// # Safety
    ///
    /// Called by Python with a `Py_buffer` to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        // Holding the read lock while filling: close() (which takes the
        // write lock) cannot slip in between the check and the count.
        let _open = this.get()?;
        // SAFETY: the range is the view's own, mapped until `close`, which
        // refuses while `exports` is non-zero; `__releasebuffer__` removes
        // the export. Writable only for read-write and copy-on-write views.
        unsafe {
            fill(
                view,
                flags,
                slf.as_any(),
                this.addr as *mut u8,
                this.len,
                this.access != memlink_core::Access::ReadOnly,
                &this.exports,
            )
        }
    }

    /// # Safety
    ///
    /// Called by Python once per filled buffer.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.remove();
    }
}

/// A description of a named mapping, taken without holding it.
#[pyclass(frozen, get_all, module = "memlink")]
pub(crate) struct MappingInfo {
    /// The memlink name (Local\NAME or Global\NAME).
    name: String,
    /// The size in bytes.
    size: u64,
    /// The operating system's name.
    os_name: String,
    /// Where the object sits in the file system.
    path: PathBuf,
    /// The backing file, or None when memory-backed (or when the OS does
    /// not say: another program's mapping, on Windows).
    file: Option<PathBuf>,
    /// The owning user id.
    owner: u32,
    /// The permission bits; None when the OS does not say (another
    /// program's mapping, on Windows).
    mode: Option<u32>,
    /// Whether it stays after its last holder.
    persistent: bool,
    /// Whether some process holds it (None: this user may not look).
    live: Option<bool>,
    /// The pids holding it, as far as this user can see.
    holders: Vec<u32>,
}

impl From<memlink_core::MappingInfo> for MappingInfo {
    fn from(i: memlink_core::MappingInfo) -> Self {
        MappingInfo {
            name: i.name.to_string(),
            size: i.size,
            os_name: i.os_name,
            path: i.path,
            file: match i.backing {
                Backing::Memory | Backing::Unknown => None,
                Backing::File(p) => Some(p),
            },
            owner: i.owner,
            mode: i.mode,
            persistent: i.persistent,
            live: i.live,
            holders: i.holders,
        }
    }
}

#[pymethods]
impl MappingInfo {
    fn __repr__(&self) -> String {
        format!(
            "<memlink.MappingInfo {} size={} mode={} owner={} persistent={} live={:?} \
             holders={:?}>",
            self.name,
            self.size,
            self.mode
                .map_or_else(|| "unknown".to_owned(), |m| format!("{m:#o}")),
            self.owner,
            self.persistent,
            self.live,
            self.holders
        )
    }
}

/// Every mapping this user can see in `namespace` ("local", "global", or
/// None for both), as MappingInfo (channels and events included).
#[pyfunction]
#[pyo3(signature = (namespace=None))]
fn list(py: Python<'_>, namespace: Option<&str>) -> PyResult<Vec<MappingInfo>> {
    let spaces = match namespace.map(str::to_ascii_lowercase).as_deref() {
        None => vec![Namespace::Local, Namespace::Global],
        Some("local") => vec![Namespace::Local],
        Some("global") => vec![Namespace::Global],
        Some(other) => {
            return Err(errors::invalid(format!(
                "namespace {other:?} is neither \"local\" nor \"global\""
            )))
        }
    };
    let mut all = Vec::new();
    for ns in spaces {
        let found = py
            .allow_threads(|| memlink_core::Mapping::list(ns))
            .map_err(to_py)?;
        all.extend(found.into_iter().map(MappingInfo::from));
    }
    Ok(all)
}

/// Describes the mapping `name` without holding it (MappingInfo).
#[pyfunction]
fn inspect(name: &str) -> PyResult<MappingInfo> {
    PyMapping::inspect(name)
}

/// What the mapping `name` holds (an ObjectKind), told from its first
/// bytes, without holding it: looking never keeps an object alive.
/// NotFoundError if there is no such name.
#[pyfunction]
fn identify(py: Python<'_>, name: &str) -> PyResult<PyObjectKind> {
    py.allow_threads(|| memlink_core::identify(name))
        .map(PyObjectKind::from)
        .map_err(to_py)
}

/// Removes this user's transient mappings whose holders all died (kill -9)
/// and returns their names.
#[pyfunction]
fn gc(py: Python<'_>) -> PyResult<Vec<String>> {
    let names = py
        .allow_threads(memlink_core::Mapping::reclaim_stale)
        .map_err(to_py)?;
    Ok(names.into_iter().map(|n| n.to_string()).collect())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAccess>()?;
    m.add_class::<PyMapping>()?;
    m.add_class::<PyView>()?;
    m.add_class::<MappingInfo>()?;
    m.add_class::<PyObjectKind>()?;
    m.add_function(wrap_pyfunction!(list, m)?)?;
    m.add_function(wrap_pyfunction!(identify, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(gc, m)?)?;
    Ok(())
}
