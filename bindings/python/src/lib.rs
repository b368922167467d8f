//! The native Python module `memlink`: named shared memory, events, a robust
//! mutex, a seqlock and zero-copy channels between processes, over the
//! `memlink` Rust crate (not the C ABI).
//!
//! * Views, loans and borrows implement the buffer protocol: `memoryview`,
//!   `numpy.frombuffer` and slicing reach the shared bytes without a copy.
//!   An object whose memory is exported cannot be closed, committed or
//!   released until every export is gone (`BufferError`), so no
//!   memoryview ever outlives the memory it shows.
//! * Blocking calls release the GIL and wait in slices of at most
//!   [`SLICE`], checking for signals between them: Ctrl-C raises
//!   `KeyboardInterrupt` during a `recv`.
//! * Every failure is a `memlink.Error`; each kind is also the matching
//!   built-in exception (see [`errors`]).

mod aio;
mod buffer;
mod channel;
mod errors;
mod mapping;
mod sync;

use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// The longest a blocking call waits without the GIL before it looks for
/// signals (Ctrl-C): `KeyboardInterrupt` comes within this, plus the time
/// the handler takes.
///
/// It must be longer than the channels' liveness slice (40 ms): a wait
/// looks at its peer's liveness only after parking that long, and a wait
/// whose deadline comes first times out without looking, so with shorter
/// slices a dead peer would never be reported (`DisconnectedError`).
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// When a blocking call gives up, and the time it was allowed (for
/// messages).
#[derive(Clone, Copy)]
pub(crate) struct Deadline {
    /// `None`: never.
    pub(crate) at: Option<Instant>,
    pub(crate) after: Duration,
}

/// A deadline from a Python timeout in seconds: `None` (or a timeout too long
/// to reach, `inf` included) waits forever; negative and NaN are refused.
pub(crate) fn deadline(timeout: Option<f64>) -> PyResult<Deadline> {
    let Some(seconds) = timeout else {
        return Ok(Deadline {
            at: None,
            after: Duration::MAX,
        });
    };
    if seconds.is_nan() || seconds < 0.0 {
        return Err(errors::invalid(format!(
            "timeout must be None or a number of seconds >= 0, not {seconds}"
        )));
    }
    let after = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
    Ok(Deadline {
        at: Instant::now().checked_add(after),
        after,
    })
}

/// Runs `attempt` without the GIL in slices of at most [`SLICE`] until it
/// gives something other than a timeout, or `deadline` passes (`Ok(None)`).
/// Between slices it checks for signals, so that a `KeyboardInterrupt`
/// raised by a handler ends the wait.
pub(crate) fn blocking<T, F>(
    py: Python<'_>,
    deadline: Option<Instant>,
    mut attempt: F,
) -> PyResult<Option<T>>
where
    F: FnMut(Duration) -> memlink_core::Result<T> + Send,
    T: Send,
{
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        match py.allow_threads(|| attempt(slice)) {
            Ok(value) => return Ok(Some(value)),
            Err(memlink_core::Error::Timeout { .. }) => {
                py.check_signals()?;
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(errors::to_py(e)),
        }
    }
}

/// What `__exit__` returns for `result`, the outcome of ending the object:
/// when the block is leaving with an exception, a failure to end it (a
/// buffer still in use) is not raised over that exception (PyO3 would not
/// chain them): the object stays open and ends when it is collected.
pub(crate) fn exit(exc: &Bound<'_, pyo3::types::PyTuple>, result: PyResult<()>) -> PyResult<()> {
    let leaving_with_exception = exc.get_item(0).is_ok_and(|t| !t.is_none());
    match result {
        Err(_) if leaving_with_exception => Ok(()),
        other => other,
    }
}

/// A non-negative integer argument as `u64`, or a `ValueError` that names it.
pub(crate) fn unsigned(value: i64, what: &str) -> PyResult<u64> {
    u64::try_from(value).map_err(|_| errors::invalid(format!("{what} must be >= 0, not {value}")))
}

/// A non-negative integer argument as `usize`.
pub(crate) fn index(value: i64, what: &str) -> PyResult<usize> {
    usize::try_from(unsigned(value, what)?)
        .map_err(|_| errors::invalid(format!("{what} {value} does not fit in memory")))
}

/// memlink: named shared memory and zero-copy messaging between processes.
///
/// Mapping / View (the article's CreateFileMapping / MapViewOfFile, views
/// with the buffer protocol), Sender / Receiver (channels: one-to-one,
/// many-to-one, broadcast; loans and borrows lend ring memory without a
/// copy), NamedEvent, RobustMutex, SeqLock, list / inspect / gc. Timeouts
/// are seconds (float); None waits forever. Every failure raises a subclass
/// of memlink.Error that is also the matching built-in exception.
#[pymodule]
fn memlink(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    mapping::register(m)?;
    channel::register(m)?;
    sync::register(m)?;
    aio::register(m)?;
    Ok(())
}
