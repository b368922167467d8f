//! The two directions of the buffer protocol: taking bytes from any Python
//! object that has a buffer ([`Input`]), and exporting shared memory as one
//! ([`Exports`], [`fill`]).

use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// Bytes borrowed from a Python object for the length of a call: `bytes`
/// and `str` (as UTF-8) directly, anything else through a contiguous
/// buffer (`bytearray`, `memoryview`, numpy arrays of any dtype...).
pub(crate) enum Input<'py> {
    Bytes(Bound<'py, PyBytes>),
    Str(Bound<'py, PyString>),
    Buffer(Box<ffi::Py_buffer>),
}

impl<'py> Input<'py> {
    /// The bytes of `obj`, or a `TypeError` naming what it got.
    pub(crate) fn new(obj: &Bound<'py, PyAny>) -> PyResult<Input<'py>> {
        if let Ok(b) = obj.downcast::<PyBytes>() {
            return Ok(Input::Bytes(b.clone()));
        }
        if let Ok(s) = obj.downcast::<PyString>() {
            return Ok(Input::Str(s.clone()));
        }
        Input::buffer(obj, ffi::PyBUF_SIMPLE, "bytes, str or a contiguous buffer")
    }

    /// A writable contiguous buffer of `obj` (bytearray, memoryview, numpy
    /// array), or a `TypeError`.
    pub(crate) fn writable(obj: &Bound<'py, PyAny>) -> PyResult<Input<'py>> {
        Input::buffer(obj, ffi::PyBUF_WRITABLE, "a writable contiguous buffer")
    }

    /// The address and length of a writable buffer made by `writable`.
    pub(crate) fn target(&self) -> Option<(*mut u8, usize)> {
        match self {
            Input::Buffer(view) if view.readonly == 0 => {
                Some((view.buf.cast(), usize::try_from(view.len).unwrap_or(0)))
            }
            _ => None,
        }
    }

    fn buffer(obj: &Bound<'py, PyAny>, flags: c_int, what: &str) -> PyResult<Input<'py>> {
        let mut view: Box<ffi::Py_buffer> = Box::new(
            // SAFETY: Py_buffer is a plain C struct for which all-zero is the
            // "not filled" state that PyObject_GetBuffer expects.
            unsafe { std::mem::zeroed() },
        );
        // SAFETY: `obj` is a live object (we hold the GIL and a reference);
        // `view` is writable and outlives the call. PyBUF_SIMPLE asks for
        // contiguous bytes (PyBUF_WRITABLE: writable ones), refusing
        // strided arrays with a BufferError.
        let r = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) };
        if r != 0 {
            let py = obj.py();
            let cause = PyErr::take(py);
            let e = pyo3::exceptions::PyTypeError::new_err(format!(
                "expected {what} (bytearray, memoryview, numpy array), not {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ));
            e.set_cause(py, cause);
            return Err(e);
        }
        Ok(Input::Buffer(view))
    }

    /// The bytes.
    pub(crate) fn as_bytes(&self) -> PyResult<&[u8]> {
        match self {
            Input::Bytes(b) => Ok(b.as_bytes()),
            Input::Str(s) => Ok(s.to_str()?.as_bytes()),
            Input::Buffer(view) => {
                let len = usize::try_from(view.len).unwrap_or(0);
                if len == 0 || view.buf.is_null() {
                    return Ok(&[]);
                }
                // SAFETY: a filled PyBUF_SIMPLE buffer is `len` contiguous
                // readable bytes at `buf`, valid until PyBuffer_Release
                // (in Drop, after every borrow of `self` has ended).
                Ok(unsafe { std::slice::from_raw_parts(view.buf as *const u8, len) })
            }
        }
    }
}

impl Drop for Input<'_> {
    fn drop(&mut self) {
        if let Input::Buffer(view) = self {
            // SAFETY: filled by PyObject_GetBuffer and released only here;
            // an `Input` is only made and dropped while the GIL is held (it
            // carries the 'py lifetime, and is never moved into
            // `allow_threads` by value).
            unsafe { ffi::PyBuffer_Release(&mut **view) };
        }
    }
}

/// How many buffers an object has exported and not yet had released. While
/// it is above zero the memory must stay as it is: close, commit, abandon
/// and release refuse.
#[derive(Default)]
pub(crate) struct Exports(AtomicUsize);

impl Exports {
    pub(crate) fn count(&self) -> usize {
        // SeqCst: exports change and are checked with the GIL held; the
        // ordering only matters for the count itself.
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn remove(&self) {
        // Never below zero, even if Python called us more often than it
        // should.
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

/// Fills `view` with `len` bytes at `ptr`, owned by `owner` (which the
/// buffer keeps alive), read-only unless `writable`, and counts the export.
///
/// # Safety
///
/// `view` must be the pointer Python passed to `__getbuffer__`; `ptr..ptr +
/// len` must stay mapped (and writable, if `writable`) until the matching
/// `__releasebuffer__`, which must call `exports.remove()`.
pub(crate) unsafe fn fill(
    view: *mut ffi::Py_buffer,
    flags: c_int,
    owner: &Bound<'_, PyAny>,
    ptr: *mut u8,
    len: usize,
    writable: bool,
    exports: &Exports,
) -> PyResult<()> {
    let len = ffi::Py_ssize_t::try_from(len).map_err(|_| {
        pyo3::exceptions::PyBufferError::new_err("the region is too large for a buffer")
    })?;
    // PyBuffer_FillInfo checks the flags (a writable request of a read-only
    // region fails with BufferError), takes a reference to `owner` and sets
    // a one-dimensional unsigned-byte layout.
    // SAFETY: as the caller promises; `owner` is a live object.
    let r = unsafe {
        ffi::PyBuffer_FillInfo(
            view,
            owner.as_ptr(),
            ptr.cast(),
            len,
            c_int::from(!writable),
            flags,
        )
    };
    if r != 0 {
        return Err(PyErr::fetch(owner.py()));
    }
    exports.add();
    Ok(())
}
