//! # memlink's C ABI
//!
//! `libmemlink.so` / `libmemlink.a` and the header `include/memlink.h`, which
//! cbindgen generates from these sources (`tests/header.rs` fails when the
//! committed header is out of date; `MEMLINK_BLESS=1` rewrites it).
//!
//! Conventions, in the style of rustls-ffi:
//!
//! * Every function is named `ml_<type>_<verb>` and, unless it only frees or
//!   describes, returns an `ml_result`: `ML_OK` (0) or an error code. Codes
//!   1 to 99 are memlink's own `ErrorCode`s, with the same numbers; codes
//!   from 100 up belong to the ABI (`ML_ERR_NULL`, `ML_ERR_PANIC`,
//!   `ML_ERR_STATE`, `ML_ERR_FULL`, `ML_ERR_EMPTY`, `ML_ERR_BUFFER_TOO_SMALL`).
//! * A failing call also stores a message for its thread, read with
//!   `ml_last_error_message`. Successful calls leave it alone (like `errno`).
//! * No panic crosses the boundary: every export runs under `catch_unwind`
//!   and a panic becomes `ML_ERR_PANIC`.
//! * Pointers and lengths are checked in every build: a NULL where a value is
//!   needed is `ML_ERR_NULL`; a buffer may be NULL only when its length is 0.
//! * Enumerations cross as `int32_t` and are checked; flags are `int32_t`
//!   (zero is false). Timeouts are `int64_t` milliseconds; `ML_TIMEOUT_INFINITE`
//!   (-1) waits forever, 0 does not wait.
//! * Handles are opaque pointers. A handle made by `..._create` / `..._open` is
//!   freed by its `..._close` (or `..._free`), which accepts NULL. A handle
//!   carries a type tag: passing the wrong kind of handle is
//!   `ML_ERR_INVALID_ARGUMENT`, not undefined behaviour.
//! * Threads: mappings, views and events may be used from any number of
//!   threads at once. A sender or receiver may move between threads, but a
//!   call made while another thread is inside a call on the same endpoint
//!   fails with `ML_ERR_STATE` (it never races). Closing a handle while
//!   another thread uses it is the one thing the library cannot catch.

#![allow(non_camel_case_types)]

mod channel;
mod error;
mod event;
mod mapping;
#[cfg(test)]
mod tests;
mod util;

pub use channel::*;
pub use error::*;
pub use event::*;
pub use mapping::*;

use std::ffi::c_char;

/// Pass as a timeout to wait for as long as it takes.
pub const ML_TIMEOUT_INFINITE: i64 = -1;

/// The library's version, as a NUL-terminated string such as `"0.1.0"`.
/// The pointer is static: never free it.
#[no_mangle]
pub extern "C" fn ml_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
