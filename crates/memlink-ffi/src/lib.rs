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

// The exports, one file per C type. cbindgen writes the header's constants
// and functions in the order it reads them (this file first, then each
// module in the order declared here), so the order below is the header's:
// keep it, or re-bless include/memlink.h.
mod args;

mod channel_options;

mod endpoints;

mod sender;

mod receiver;

mod last_error;

mod codes;

mod event;

mod mapping;

mod mapping_options;

mod view;

mod mutex;

mod seqlock;

mod info;
// ml_waitset_*: one wait on many endpoints, deadlines, intervals, events
// and peer deaths.
mod waitset;
// ml_identify: what a name holds (channel, event, doorbell, plain mapping).
mod object;

// Internal, below the exports: the panic boundary, failures, handles and
// the endpoint guard.
mod boundary;
mod failure;
mod guard;
mod handle;

#[cfg(test)]
mod tests;

pub use args::ML_TIMEOUT_INFINITE;
pub use channel_options::*;
pub use codes::*;
pub use endpoints::*;
pub use event::*;
pub use info::*;
pub use last_error::*;
pub use mapping::*;
pub use mapping_options::*;
pub use mutex::*;
pub use object::*;
pub use receiver::*;
pub use sender::*;
pub use seqlock::*;
pub use view::*;
pub use waitset::*;

use std::ffi::c_char;

// Endpoints may be moved between threads by C callers; mappings, views and
// events may be shared between them.
const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<memlink_core::channel::Sender>();
    send::<memlink_core::channel::Receiver>();
    send_sync::<memlink_core::Mapping>();
    send_sync::<memlink_core::View>();
    send_sync::<memlink_core::NamedEvent>();
    send_sync::<mutex::MutexState>();
    send_sync::<seqlock::SeqLockState>();
};

/// The library's version, as a NUL-terminated string such as `"0.1.0"`.
/// The pointer is static: never free it.
#[no_mangle]
pub extern "C" fn ml_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
