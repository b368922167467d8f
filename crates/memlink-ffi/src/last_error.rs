//! The thread's last error: stored by the boundary (`boundary::call`), read
//! with `ml_last_error_code` / `ml_last_error_message`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{self, AssertUnwindSafe};

use crate::args;
use crate::codes::{ml_result, ML_ERR_PANIC, ML_ERR_STATE, ML_OK};

struct LastError {
    code: ml_result,
    message: Cow<'static, str>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError { code: ML_OK, message: Cow::Borrowed("") })
    };
}

/// Stores the thread's last error (the boundary does, for a failed call).
pub(crate) fn set_last_error(code: ml_result, message: Cow<'static, str>) {
    // `try_with`: during thread teardown the slot may be gone; losing the
    // message then is better than panicking.
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = LastError { code, message };
        }
    });
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
        let mut buf = match unsafe { args::bytes_mut(buf.cast::<u8>(), len, "buf") } {
            Ok(buf) => buf,
            Err(f) => return f.code,
        };
        LAST_ERROR
            .try_with(|last| match last.try_borrow() {
                // SAFETY: the caller promises `out_len` is NULL or writable.
                Ok(last) => unsafe { args::copy_str_out(&last.message, &mut buf, out_len) },
                Err(_) => ML_ERR_STATE,
            })
            .unwrap_or(ML_ERR_STATE)
    }));
    result.unwrap_or(ML_ERR_PANIC)
}
