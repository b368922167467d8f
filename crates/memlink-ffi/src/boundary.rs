//! The panic boundary that every export runs in: an error becomes a code
//! and the thread's last error, a panic becomes `ML_ERR_PANIC`.

use std::panic::{self, AssertUnwindSafe};

use crate::codes::{ml_result, ML_ERR_PANIC, ML_OK};
use crate::failure::Outcome;
use crate::last_error::set_last_error;

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

#[cfg(test)]
mod tests {
    use std::ffi::c_char;

    use super::*;
    use crate::codes::{
        ML_ERR_BUFFER_TOO_SMALL, ML_ERR_INVALID_ARGUMENT, ML_ERR_NULL, ML_ERR_STATE,
    };
    use crate::failure::Failure;
    use crate::last_error::{ml_last_error_code, ml_last_error_message};

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
}
