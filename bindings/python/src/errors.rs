//! The exception hierarchy: `memlink.Error`, one subclass per error code,
//! each also the matching built-in (`NotFoundError` is a `FileNotFoundError`,
//! `TimeoutError` a builtin `TimeoutError`, ...), plus the binding's own
//! `ClosedError` (a `ValueError`, as for closed files), `StateError` and
//! `BufferInUseError` (a `BufferError`).
//!
//! The classes are made at import with `type(name, bases, namespace)`: PyO3's
//! `create_exception!` takes a single base, and these need two.

use memlink_core::{Error, ErrorCode};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The classes, made once per interpreter by [`register`].
struct Classes {
    base: Py<PyType>,
    /// Indexed by `ErrorCode as usize - 1`.
    by_code: Vec<Py<PyType>>,
    closed: Py<PyType>,
    state: Py<PyType>,
    buffer: Py<PyType>,
}

static CLASSES: GILOnceCell<Classes> = GILOnceCell::new();

/// (class name, error code, built-in bases, doc) for each code, in code
/// order; a base named `PermissionDeniedError` is that class of ours.
const KINDS: [(&str, ErrorCode, &[&str], &str); 21] = [
    (
        "InvalidNameError",
        ErrorCode::InvalidName,
        &["ValueError"],
        "The name is not a valid memlink name.",
    ),
    (
        "InvalidArgumentError",
        ErrorCode::InvalidArgument,
        &["ValueError"],
        "An argument is out of its domain (a negative offset, a bad mode, ...).",
    ),
    (
        "AlreadyExistsError",
        ErrorCode::AlreadyExists,
        &["FileExistsError"],
        "create found the name already in use.",
    ),
    (
        "NotFoundError",
        ErrorCode::NotFound,
        &["FileNotFoundError"],
        "open found no live object of that name.",
    ),
    (
        "PermissionDeniedError",
        ErrorCode::PermissionDenied,
        &["PermissionError"],
        "The operating system refused the access.",
    ),
    (
        "ForeignOwnerError",
        ErrorCode::ForeignOwner,
        &["PermissionDeniedError"],
        "The object belongs to another user and allow_foreign_owner was not given.",
    ),
    (
        "ZeroSizeError",
        ErrorCode::ZeroSize,
        &["ValueError"],
        "A size of 0 where it means nothing (a memory mapping, an empty file with size 0).",
    ),
    (
        "NoSpaceError",
        ErrorCode::NoSpace,
        &["OSError"],
        "The system cannot back the requested size.",
    ),
    (
        "AccessMismatchError",
        ErrorCode::AccessMismatch,
        &["PermissionDeniedError"],
        "The access asked for is wider than what the file, mapping or view allows.",
    ),
    (
        "OutOfRangeError",
        ErrorCode::OutOfRange,
        &["IndexError"],
        "An offset or length falls outside the mapping, view, loan or message.",
    ),
    (
        "WrongKindError",
        ErrorCode::WrongKind,
        &[],
        "The name is another kind of object than the one asked for.",
    ),
    (
        "BusyError",
        ErrorCode::Busy,
        &[],
        "The name stayed in transition (being created or removed) too long.",
    ),
    (
        "FileError",
        ErrorCode::File,
        &["OSError"],
        "The backing file could not be used.",
    ),
    (
        "UnsupportedError",
        ErrorCode::Unsupported,
        &[],
        "Not available on this platform or for this kind of object.",
    ),
    (
        "OsError",
        ErrorCode::Os,
        &["OSError"],
        "Any other operating-system failure.",
    ),
    (
        "CorruptError",
        ErrorCode::Corrupt,
        &[],
        "A shared segment holds something no correct peer writes.",
    ),
    (
        "DisconnectedError",
        ErrorCode::Disconnected,
        &["ConnectionError"],
        "The other side of the channel is gone and nothing is left to receive.",
    ),
    (
        "TimeoutError",
        ErrorCode::Timeout,
        &["TimeoutError"],
        "A blocking call reached its deadline (also a builtin TimeoutError).",
    ),
    (
        "MessageTooLargeError",
        ErrorCode::MessageTooLarge,
        &["ValueError"],
        "A message is larger than the channel's max_message.",
    ),
    (
        "NoFreeSlotError",
        ErrorCode::NoFreeSlot,
        &[],
        "Every endpoint slot of that role is taken by a live endpoint.",
    ),
    (
        "NotRecoverableError",
        ErrorCode::NotRecoverable,
        &[],
        "A robust mutex whose dead owner's state was never marked consistent.",
    ),
];

fn make_class<'py>(
    py: Python<'py>,
    name: &str,
    bases: Vec<Bound<'py, PyAny>>,
    doc: &str,
) -> PyResult<Bound<'py, PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "memlink")?;
    namespace.set_item("__doc__", doc)?;
    let class = py
        .get_type::<PyType>()
        .call1((name, PyTuple::new(py, bases)?, namespace))?;
    Ok(class.downcast_into::<PyType>()?)
}

/// Makes the classes and adds them to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let builtins = py.import("builtins")?;
    let base = make_class(
        py,
        "Error",
        vec![builtins.getattr("Exception")?],
        "Every failure of memlink. `code` is memlink's stable error code (an int, as in the \
         C ABI) or None for the binding's own errors (ClosedError, StateError, \
         BufferInUseError).",
    )?;
    base.setattr("code", py.None())?;
    m.add("Error", &base)?;
    let mut by_code: Vec<Bound<'_, PyType>> = Vec::new();
    for (name, code, builtin_bases, doc) in KINDS {
        let mut bases = Vec::new();
        for b in builtin_bases {
            if *b == "PermissionDeniedError" {
                bases.push(m.getattr(*b)?);
            } else {
                bases.push(builtins.getattr(*b)?);
            }
        }
        // Ours first: `except memlink.Error` and the builtin both catch it,
        // and a subclass of PermissionDeniedError is an Error through it.
        if !builtin_bases.contains(&"PermissionDeniedError") {
            bases.insert(0, base.clone().into_any());
        }
        let class = make_class(py, name, bases, doc)?;
        class.setattr("code", code as i32)?;
        m.add(name, &class)?;
        by_code.push(class);
    }
    let closed = make_class(
        py,
        "ClosedError",
        vec![base.clone().into_any(), builtins.getattr("ValueError")?],
        "The object was closed (or its loan or borrow ended).",
    )?;
    let state = make_class(
        py,
        "StateError",
        vec![base.clone().into_any(), builtins.getattr("RuntimeError")?],
        "The call is refused in the object's state: a loan or borrow is outstanding, or \
         another thread is inside a call on the same endpoint.",
    )?;
    let buffer = make_class(
        py,
        "BufferInUseError",
        vec![base.clone().into_any(), builtins.getattr("BufferError")?],
        "A memoryview or numpy array still uses the memory that would go away: release it \
         (del it, or memoryview.release()) first.",
    )?;
    m.add("ClosedError", &closed)?;
    m.add("StateError", &state)?;
    m.add("BufferInUseError", &buffer)?;
    let classes = Classes {
        base: base.unbind(),
        by_code: by_code.into_iter().map(Bound::unbind).collect(),
        closed: closed.unbind(),
        state: state.unbind(),
        buffer: buffer.unbind(),
    };
    // A second import in the same interpreter (importlib.reload) keeps the
    // first classes, so that exceptions already caught stay comparable.
    let _ = CLASSES.set(py, classes);
    Ok(())
}

fn raise(class: &Py<PyType>, message: String, code: Option<i32>) -> PyErr {
    Python::with_gil(|py| {
        let made = class.bind(py).call1((message,)).and_then(|e| {
            if let Some(code) = code {
                e.setattr("code", code)?;
            }
            Ok(e)
        });
        match made {
            Ok(e) => PyErr::from_value(e),
            Err(e) => e,
        }
    })
}

fn classes<F>(f: F) -> PyErr
where
    F: FnOnce(&Classes) -> PyErr,
{
    Python::with_gil(|py| match CLASSES.get(py) {
        Some(c) => f(c),
        None => PyRuntimeError::new_err("memlink's exception classes are missing"),
    })
}

/// The Python exception for a memlink error, with its message and code.
pub(crate) fn to_py(e: Error) -> PyErr {
    let code = e.code();
    classes(|c| {
        let class = c.by_code.get((code as i32 - 1) as usize).unwrap_or(&c.base);
        raise(class, e.to_string(), Some(code as i32))
    })
}

/// A `memlink.InvalidArgumentError` (a `ValueError`).
pub(crate) fn invalid(message: String) -> PyErr {
    to_py(Error::InvalidArgument { what: message })
}

/// A `memlink.ClosedError` (a `ValueError`) saying what is closed.
pub(crate) fn closed(what: &str) -> PyErr {
    classes(|c| raise(&c.closed, format!("{what} is closed"), None))
}

/// A `memlink.ClosedError` with a message of its own.
pub(crate) fn ended(message: String) -> PyErr {
    classes(|c| raise(&c.closed, message, None))
}

/// A `memlink.StateError` (a `RuntimeError`).
pub(crate) fn state(message: String) -> PyErr {
    classes(|c| raise(&c.state, message, None))
}

/// A `memlink.BufferInUseError` (a `BufferError`).
pub(crate) fn in_use(message: String) -> PyErr {
    classes(|c| raise(&c.buffer, message, None))
}
