//! Result codes, the thread-local last error, and the wrapper that every
//! export runs in (panics become `ML_ERR_PANIC`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{self, AssertUnwindSafe};

use memlink_core::{Error, ErrorCode};

use crate::util;

/// The result of a call: `ML_OK` (0) or one of the `ML_ERR_*` codes.
pub type ml_result = i32;

/// Success.
pub const ML_OK: ml_result = 0;
/// The name is not a valid memlink name (or not UTF-8).
pub const ML_ERR_INVALID_NAME: ml_result = 1;
/// An argument other than a name is out of its domain (a bad enumeration
/// value, a negative timeout other than `ML_TIMEOUT_INFINITE`, a handle of
/// the wrong type, a zero length...).
pub const ML_ERR_INVALID_ARGUMENT: ml_result = 2;
/// `create` found the name already in use.
pub const ML_ERR_ALREADY_EXISTS: ml_result = 3;
/// `open` found no live object of that name.
pub const ML_ERR_NOT_FOUND: ml_result = 4;
/// The operating system refused the access.
pub const ML_ERR_PERMISSION_DENIED: ml_result = 5;
/// The object belongs to another user and that was not allowed.
pub const ML_ERR_FOREIGN_OWNER: ml_result = 6;
/// A size of zero where it cannot mean anything (`ERROR_FILE_INVALID`).
pub const ML_ERR_ZERO_SIZE: ml_result = 7;
/// The system cannot back the requested size.
pub const ML_ERR_NO_SPACE: ml_result = 8;
/// The access asked for is not possible (read-write view of a read-only
/// mapping, read-write mapping of a read-only file).
pub const ML_ERR_ACCESS_MISMATCH: ml_result = 9;
/// An offset or length falls outside a mapping, view, loan or message.
pub const ML_ERR_OUT_OF_RANGE: ml_result = 10;
/// The name is another kind of object (`ERROR_INVALID_HANDLE`).
pub const ML_ERR_WRONG_KIND: ml_result = 11;
/// The name stayed busy (being created or removed by another process).
pub const ML_ERR_BUSY: ml_result = 12;
/// The backing file could not be used.
pub const ML_ERR_FILE: ml_result = 13;
/// Not available on this platform or for this kind of object.
pub const ML_ERR_UNSUPPORTED: ml_result = 14;
/// Any other operating-system failure.
pub const ML_ERR_OS: ml_result = 15;
/// A shared segment holds something no correct peer would write.
pub const ML_ERR_CORRUPT: ml_result = 16;
/// The other side of the channel is gone and nothing is left to receive.
pub const ML_ERR_DISCONNECTED: ml_result = 17;
/// A bounded wait reached its deadline.
pub const ML_ERR_TIMEOUT: ml_result = 18;
/// A message is larger than the channel allows.
pub const ML_ERR_MESSAGE_TOO_LARGE: ml_result = 19;
/// Every endpoint slot of that role is taken.
pub const ML_ERR_NO_FREE_SLOT: ml_result = 20;
/// A robust mutex's protected state was never marked consistent.
pub const ML_ERR_NOT_RECOVERABLE: ml_result = 21;

/// A pointer that must not be NULL was NULL.
pub const ML_ERR_NULL: ml_result = 100;
/// memlink panicked inside the call; the panic was stopped at the boundary.
/// The handle involved should be closed.
pub const ML_ERR_PANIC: ml_result = 101;
/// The call is not allowed in the handle's current state: a loan or borrow
/// is outstanding (or is not), or another thread is inside a call on the
/// same endpoint.
pub const ML_ERR_STATE: ml_result = 102;
/// `try_send` / `try_loan`: no room in the channel right now.
pub const ML_ERR_FULL: ml_result = 103;
/// `try_recv` / `try_borrow`: no message right now.
pub const ML_ERR_EMPTY: ml_result = 104;
/// The caller's buffer is too small; the length needed was stored where the
/// call said. A received message that did not fit is kept for the next call.
pub const ML_ERR_BUFFER_TOO_SMALL: ml_result = 105;

/// Why an export failed: a code and a message for `ml_last_error_message`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: ml_result,
    pub(crate) message: Cow<'static, str>,
}

impl Failure {
    pub(crate) fn new(code: ml_result, message: impl Into<Cow<'static, str>>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &'static str) -> Failure {
        Failure::new(ML_ERR_NULL, format!("{what} is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Failure {
        Failure::new(ML_ERR_INVALID_ARGUMENT, message)
    }

    pub(crate) fn state(message: impl Into<Cow<'static, str>>) -> Failure {
        Failure::new(ML_ERR_STATE, message)
    }

    /// Whether this is memlink's own error with `code`.
    pub(crate) fn is(&self, code: ErrorCode) -> bool {
        self.code == code as ml_result
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            // `ErrorCode` is `#[repr(i32)]` with stable values: the cast is
            // the mapping, including codes added after this crate was written.
            code: e.code() as ml_result,
            message: e.to_string().into(),
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

struct LastError {
    code: ml_result,
    message: Cow<'static, str>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError { code: ML_OK, message: Cow::Borrowed("") })
    };
}

fn set_last_error(code: ml_result, message: Cow<'static, str>) {
    // `try_with`: during thread teardown the slot may be gone; losing the
    // message then is better than panicking.
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = LastError { code, message };
        }
    });
}

/// Runs the body of export `name`: its error becomes a code and the thread's
/// last error, and a panic is stopped here and becomes `ML_ERR_PANIC`.
pub(crate) fn call(name: &'static str, body: impl FnOnce() -> Outcome) -> ml_result {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ML_OK,
        Ok(Err(failure)) => {
            set_last_error(failure.code, failure.message);
            failure.code
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string panic payload".to_owned());
            // Drop the payload here, inside a guard: its destructor is
            // foreign code too.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
            set_last_error(
                ML_ERR_PANIC,
                format!("memlink panicked in {name}: {what}").into(),
            );
            ML_ERR_PANIC
        }
    }
}

/// The code of the last call on this thread that failed, or `ML_OK` if none
/// has.
#[no_mangle]
pub extern "C" fn ml_last_error_code() -> ml_result {
    LAST_ERROR
        .try_with(|last| last.try_borrow().map(|l| l.code).unwrap_or(ML_OK))
        .unwrap_or(ML_OK)
}

/// Copies the message of the last call on this thread that failed into
/// `buf` (at most `len` bytes, always NUL-terminated when `len > 0`), and
/// stores the message's full length (without the NUL) in `*out_len` if
/// `out_len` is not NULL.
///
/// Returns `ML_OK`, or `ML_ERR_BUFFER_TOO_SMALL` when the message was cut
/// short (call again with `*out_len + 1` bytes), or `ML_ERR_NULL` when `buf`
/// is NULL and `len > 0`. This call never changes the last error itself.
///
/// # Safety
///
/// `buf` must be valid for writing `len` bytes (or NULL with `len == 0`);
/// `out_len` must be NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ml_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> ml_result {
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller promises `buf` is valid for `len` bytes;
        // `bytes_mut` rejects NULL with a non-zero length.
        let mut buf = match unsafe { util::bytes_mut(buf.cast::<u8>(), len, "buf") } {
            Ok(buf) => buf,
            Err(f) => return f.code,
        };
        LAST_ERROR
            .try_with(|last| match last.try_borrow() {
                // SAFETY: the caller promises `out_len` is NULL or writable.
                Ok(last) => unsafe { util::copy_str_out(&last.message, &mut buf, out_len) },
                Err(_) => ML_ERR_STATE,
            })
            .unwrap_or(ML_ERR_STATE)
    }));
    result.unwrap_or(ML_ERR_PANIC)
}

/// The name of a result code as a static NUL-terminated string, such as
/// `"ML_ERR_NOT_FOUND"`; `"ML_ERR_UNKNOWN"` for a number that is no code.
/// Never free it.
#[no_mangle]
pub extern "C" fn ml_result_name(code: ml_result) -> *const c_char {
    let name: &'static str = match code {
        ML_OK => "ML_OK\0",
        ML_ERR_INVALID_NAME => "ML_ERR_INVALID_NAME\0",
        ML_ERR_INVALID_ARGUMENT => "ML_ERR_INVALID_ARGUMENT\0",
        ML_ERR_ALREADY_EXISTS => "ML_ERR_ALREADY_EXISTS\0",
        ML_ERR_NOT_FOUND => "ML_ERR_NOT_FOUND\0",
        ML_ERR_PERMISSION_DENIED => "ML_ERR_PERMISSION_DENIED\0",
        ML_ERR_FOREIGN_OWNER => "ML_ERR_FOREIGN_OWNER\0",
        ML_ERR_ZERO_SIZE => "ML_ERR_ZERO_SIZE\0",
        ML_ERR_NO_SPACE => "ML_ERR_NO_SPACE\0",
        ML_ERR_ACCESS_MISMATCH => "ML_ERR_ACCESS_MISMATCH\0",
        ML_ERR_OUT_OF_RANGE => "ML_ERR_OUT_OF_RANGE\0",
        ML_ERR_WRONG_KIND => "ML_ERR_WRONG_KIND\0",
        ML_ERR_BUSY => "ML_ERR_BUSY\0",
        ML_ERR_FILE => "ML_ERR_FILE\0",
        ML_ERR_UNSUPPORTED => "ML_ERR_UNSUPPORTED\0",
        ML_ERR_OS => "ML_ERR_OS\0",
        ML_ERR_CORRUPT => "ML_ERR_CORRUPT\0",
        ML_ERR_DISCONNECTED => "ML_ERR_DISCONNECTED\0",
        ML_ERR_TIMEOUT => "ML_ERR_TIMEOUT\0",
        ML_ERR_MESSAGE_TOO_LARGE => "ML_ERR_MESSAGE_TOO_LARGE\0",
        ML_ERR_NO_FREE_SLOT => "ML_ERR_NO_FREE_SLOT\0",
        ML_ERR_NOT_RECOVERABLE => "ML_ERR_NOT_RECOVERABLE\0",
        ML_ERR_NULL => "ML_ERR_NULL\0",
        ML_ERR_PANIC => "ML_ERR_PANIC\0",
        ML_ERR_STATE => "ML_ERR_STATE\0",
        ML_ERR_FULL => "ML_ERR_FULL\0",
        ML_ERR_EMPTY => "ML_ERR_EMPTY\0",
        ML_ERR_BUFFER_TOO_SMALL => "ML_ERR_BUFFER_TOO_SMALL\0",
        _ => "ML_ERR_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn last_message() -> String {
        let mut buf = vec![0 as c_char; 4096];
        let mut len = 0usize;
        // SAFETY: `buf` is writable for its length; `len` is a valid out.
        let r = unsafe { ml_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(r, ML_OK);
        let bytes: Vec<u8> = buf[..len].iter().map(|&c| c as u8).collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn codes_mirror_the_library() {
        let pairs = [
            (ML_ERR_INVALID_NAME, ErrorCode::InvalidName),
            (ML_ERR_INVALID_ARGUMENT, ErrorCode::InvalidArgument),
            (ML_ERR_ALREADY_EXISTS, ErrorCode::AlreadyExists),
            (ML_ERR_NOT_FOUND, ErrorCode::NotFound),
            (ML_ERR_PERMISSION_DENIED, ErrorCode::PermissionDenied),
            (ML_ERR_FOREIGN_OWNER, ErrorCode::ForeignOwner),
            (ML_ERR_ZERO_SIZE, ErrorCode::ZeroSize),
            (ML_ERR_NO_SPACE, ErrorCode::NoSpace),
            (ML_ERR_ACCESS_MISMATCH, ErrorCode::AccessMismatch),
            (ML_ERR_OUT_OF_RANGE, ErrorCode::OutOfRange),
            (ML_ERR_WRONG_KIND, ErrorCode::WrongKind),
            (ML_ERR_BUSY, ErrorCode::Busy),
            (ML_ERR_FILE, ErrorCode::File),
            (ML_ERR_UNSUPPORTED, ErrorCode::Unsupported),
            (ML_ERR_OS, ErrorCode::Os),
            (ML_ERR_CORRUPT, ErrorCode::Corrupt),
            (ML_ERR_DISCONNECTED, ErrorCode::Disconnected),
            (ML_ERR_TIMEOUT, ErrorCode::Timeout),
            (ML_ERR_MESSAGE_TOO_LARGE, ErrorCode::MessageTooLarge),
            (ML_ERR_NO_FREE_SLOT, ErrorCode::NoFreeSlot),
            (ML_ERR_NOT_RECOVERABLE, ErrorCode::NotRecoverable),
        ];
        for (ours, theirs) in pairs {
            assert_eq!(ours, theirs as i32, "{theirs:?}");
            // SAFETY: `ml_result_name` returns a static NUL-terminated string.
            let name = unsafe { std::ffi::CStr::from_ptr(ml_result_name(ours)) };
            assert_ne!(name.to_str().unwrap(), "ML_ERR_UNKNOWN", "{theirs:?}");
        }
    }

    #[test]
    fn panics_are_contained_and_reported() {
        let r = call("ml_test_panic", || panic!("boom {}", 42));
        assert_eq!(r, ML_ERR_PANIC);
        assert_eq!(ml_last_error_code(), ML_ERR_PANIC);
        let text = last_message();
        assert!(
            text.contains("ml_test_panic") && text.contains("boom 42"),
            "{text}"
        );

        let r = call("ml_test_panic_str", || std::panic::panic_any(7u32));
        assert_eq!(r, ML_ERR_PANIC);
        assert!(last_message().contains("non-string"));
    }

    #[test]
    fn last_error_message_truncates_and_reports_the_length() {
        let r = call("t", || Err(Failure::invalid("0123456789")));
        assert_eq!(r, ML_ERR_INVALID_ARGUMENT);
        let mut buf = [0x7f as c_char; 5];
        let mut len = 0usize;
        // SAFETY: `buf` is writable for 5 bytes.
        let r = unsafe { ml_last_error_message(buf.as_mut_ptr(), 5, &mut len) };
        assert_eq!(r, ML_ERR_BUFFER_TOO_SMALL);
        assert_eq!(len, 10);
        assert_eq!(buf.map(|c| c as u8), *b"0123\0");
        // Asking for the length only.
        // SAFETY: NULL with length 0 is allowed.
        let r = unsafe { ml_last_error_message(std::ptr::null_mut(), 0, &mut len) };
        assert_eq!((r, len), (ML_ERR_BUFFER_TOO_SMALL, 10));
        // NULL with a length is refused, and does not replace the message.
        // SAFETY: the call checks for NULL.
        let r = unsafe { ml_last_error_message(std::ptr::null_mut(), 3, &mut len) };
        assert_eq!(r, ML_ERR_NULL);
        assert_eq!(last_message(), "0123456789");
    }

    #[test]
    fn last_error_is_per_thread_and_success_keeps_it() {
        let _ = call("t", || Err(Failure::state("mine")));
        assert_eq!(call("t", || Ok(())), ML_OK);
        assert_eq!(ml_last_error_code(), ML_ERR_STATE);
        std::thread::spawn(|| assert_eq!(ml_last_error_code(), ML_OK))
            .join()
            .unwrap();
        assert_eq!(last_message(), "mine");
    }

    #[test]
    fn unknown_codes_have_a_name() {
        // SAFETY: static NUL-terminated strings.
        let name = unsafe { std::ffi::CStr::from_ptr(ml_result_name(12345)) };
        assert_eq!(name.to_str().unwrap(), "ML_ERR_UNKNOWN");
        // SAFETY: as above.
        let ok = unsafe { std::ffi::CStr::from_ptr(ml_result_name(ML_OK)) };
        assert_eq!(ok.to_str().unwrap(), "ML_OK");
    }
}
