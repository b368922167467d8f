//! Result codes: `ml_result`, `ML_OK`, the `ML_ERR_*` constants and
//! `ml_result_name`.

use std::ffi::c_char;

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
    use memlink_core::ErrorCode;

    use super::*;

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
    fn unknown_codes_have_a_name() {
        // SAFETY: static NUL-terminated strings.
        let name = unsafe { std::ffi::CStr::from_ptr(ml_result_name(12345)) };
        assert_eq!(name.to_str().unwrap(), "ML_ERR_UNKNOWN");
        // SAFETY: as above.
        let ok = unsafe { std::ffi::CStr::from_ptr(ml_result_name(ML_OK)) };
        assert_eq!(ok.to_str().unwrap(), "ML_OK");
    }
}
