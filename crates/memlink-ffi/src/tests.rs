//! Tests of the C ABI itself, called as C would call it: NULLs, bad enums,
//! wrong handles, state misuse, error codes and texts.

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::*;

fn unique(what: &str) -> CString {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    CString::new(format!("mltest-ffi-{what}-{}-{n}", std::process::id())).unwrap()
}

fn last_message() -> String {
    let mut len = 0usize;
    // SAFETY: asking for the length only.
    unsafe { ml_last_error_message(null_mut(), 0, &mut len) };
    let mut buf = vec![0 as c_char; len + 1];
    // SAFETY: `buf` holds `len + 1` bytes.
    let r = unsafe { ml_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len) };
    assert_eq!(r, ML_OK);
    // SAFETY: NUL-terminated by the call.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Asserts that `r` is `code` and that the thread's last error says so,
/// with `text` in its message.
#[track_caller]
fn expect_err(r: ml_result, code: ml_result, text: &str) {
    assert_eq!(r, code, "unexpected result; last error: {}", last_message());
    assert_eq!(ml_last_error_code(), code);
    let message = last_message();
    assert!(message.contains(text), "{message:?} lacks {text:?}");
}

#[track_caller]
fn ok(r: ml_result) {
    assert_eq!(r, ML_OK, "{}", last_message());
}

fn mapping(name: &CStr, size: u64) -> *mut ml_mapping {
    let mut m = null_mut();
    // SAFETY: valid name and out-pointer.
    ok(unsafe { ml_mapping_create(name.as_ptr(), size, &mut m) });
    m
}

fn channel(name: &CStr, options: *const ml_channel_options) -> (*mut ml_sender, *mut ml_receiver) {
    let (mut tx, mut rx) = (null_mut(), null_mut());
    // SAFETY: valid names, options and out-pointers.
    unsafe {
        ok(ml_sender_create(name.as_ptr(), options, &mut tx));
        ok(ml_receiver_open(name.as_ptr(), null(), &mut rx));
    }
    (tx, rx)
}

#[test]
fn version_is_the_crate_version() {
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(ml_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn null_arguments_are_errors_not_crashes() {
    let name = unique("null");
    let mut m = null_mut();
    let mut size = 0u64;
    // SAFETY: every call below checks its pointers.
    unsafe {
        expect_err(
            ml_mapping_create(null(), 1, &mut m),
            ML_ERR_NULL,
            "name is NULL",
        );
        expect_err(
            ml_mapping_create(name.as_ptr(), 1, null_mut()),
            ML_ERR_NULL,
            "out",
        );
        expect_err(
            ml_mapping_size(null(), &mut size),
            ML_ERR_NULL,
            "ml_mapping is NULL",
        );
        expect_err(
            ml_view_read(null(), 0, null_mut(), 0),
            ML_ERR_NULL,
            "ml_view",
        );
        expect_err(ml_event_set(null()), ML_ERR_NULL, "ml_event");
        expect_err(ml_sender_send(null(), null(), 0), ML_ERR_NULL, "ml_sender");
        expect_err(ml_receiver_release(null()), ML_ERR_NULL, "ml_receiver");
        // Closing NULL is fine and says nothing.
        ml_mapping_close(null_mut());
        ml_view_close(null_mut());
        ml_event_close(null_mut());
        ok(ml_sender_close(null_mut()));
        ok(ml_receiver_close(null_mut()));
        ml_mapping_options_free(null_mut());
        ml_channel_options_free(null_mut());
    }
    let m = mapping(&name, 64);
    let mut v = null_mut();
    // SAFETY: `m` is open; the buffers are checked.
    unsafe {
        ok(ml_mapping_view(m, 0, 0, &mut v));
        expect_err(ml_view_write(v, 0, null(), 4), ML_ERR_NULL, "data is NULL");
        expect_err(
            ml_view_read(v, 0, null_mut(), 4),
            ML_ERR_NULL,
            "buf is NULL",
        );
        // NULL with length 0 is an empty buffer.
        ok(ml_view_write(v, 0, null(), 0));
        ml_view_close(v);
        ml_mapping_close(m);
    }
}

#[test]
fn bad_enumerations_and_timeouts_are_invalid_arguments() {
    let name = unique("enum");
    let mut m = null_mut();
    let mut e = null_mut();
    let mut opts = null_mut();
    // SAFETY: valid pointers throughout.
    unsafe {
        expect_err(
            ml_mapping_open(name.as_ptr(), 0, &mut m),
            ML_ERR_INVALID_ARGUMENT,
            "access 0",
        );
        expect_err(
            ml_event_create(name.as_ptr(), 3, &mut e),
            ML_ERR_INVALID_ARGUMENT,
            "kind 3",
        );
        ok(ml_channel_options_new(&mut opts));
        expect_err(
            ml_channel_options_set_kind(opts, 9),
            ML_ERR_INVALID_ARGUMENT,
            "kind 9",
        );
        expect_err(
            ml_channel_options_set_wait(opts, -1, 0),
            ML_ERR_INVALID_ARGUMENT,
            "strategy",
        );
        ml_channel_options_free(opts);

        let ev = {
            ok(ml_event_create(name.as_ptr(), ML_EVENT_AUTO_RESET, &mut e));
            e
        };
        expect_err(ml_event_wait(ev, -2), ML_ERR_INVALID_ARGUMENT, "timeout -2");
        expect_err(
            ml_event_wait(ev, i64::MIN),
            ML_ERR_INVALID_ARGUMENT,
            "ML_TIMEOUT_INFINITE",
        );
        ml_event_close(ev);
    }
}

#[test]
fn names_must_be_valid_utf8() {
    let bad = [0xffu8, 0xfe, 0];
    let mut m = null_mut();
    // SAFETY: a NUL-terminated byte string.
    let r = unsafe { ml_mapping_create(bad.as_ptr().cast(), 1, &mut m) };
    expect_err(r, ML_ERR_INVALID_NAME, "UTF-8");
    let slash = CString::new("a/b").unwrap();
    // SAFETY: as above.
    let r = unsafe { ml_mapping_create(slash.as_ptr(), 1, &mut m) };
    expect_err(r, ML_ERR_INVALID_NAME, "a/b");
    assert!(m.is_null());
}

#[test]
fn handles_of_the_wrong_type_are_refused() {
    let name = unique("tag");
    let m = mapping(&name, 64);
    let mut v = null_mut();
    let mut len = 0usize;
    let mut size = 0u64;
    // SAFETY: live handles, passed as the wrong type on purpose: the tag
    // check reads only their first 8 bytes.
    unsafe {
        ok(ml_mapping_view(m, 0, 0, &mut v));
        expect_err(
            ml_mapping_size(v.cast(), &mut size),
            ML_ERR_INVALID_ARGUMENT,
            "not one",
        );
        expect_err(
            ml_view_len(m.cast(), &mut len),
            ML_ERR_INVALID_ARGUMENT,
            "ml_view",
        );
        // Closing with the wrong function frees nothing and says why.
        ml_view_close(m.cast());
        assert_eq!(ml_last_error_code(), ML_ERR_INVALID_ARGUMENT);
        ok(ml_view_len(v, &mut len));
        assert_eq!(len, 64);
        ml_view_close(v);
        ml_mapping_close(m);
    }
}

#[test]
fn mappings_views_and_their_errors() {
    let name = unique("map");
    let m = mapping(&name, 4096);
    // SAFETY: valid handles and buffers throughout.
    unsafe {
        let mut again = null_mut();
        expect_err(
            ml_mapping_create(name.as_ptr(), 4096, &mut again),
            ML_ERR_ALREADY_EXISTS,
            name.to_str().unwrap(),
        );
        assert!(again.is_null());

        let mut created = -1;
        ok(ml_mapping_open_or_create(
            name.as_ptr(),
            1,
            &mut again,
            &mut created,
        ));
        assert_eq!(created, 0);
        let mut size = 0;
        ok(ml_mapping_size(again, &mut size));
        assert_eq!(size, 4096);
        ml_mapping_close(again);

        // len 0 = to the end, as MapViewOfFile.
        let mut v = null_mut();
        ok(ml_mapping_view(m, 4000, 0, &mut v));
        let mut len = 0;
        ok(ml_view_len(v, &mut len));
        assert_eq!(len, 96);
        ok(ml_view_write(v, 90, b"abcdef".as_ptr(), 6));
        expect_err(
            ml_view_write(v, 91, b"abcdef".as_ptr(), 6),
            ML_ERR_OUT_OF_RANGE,
            "91",
        );
        let mut buf = [0u8; 6];
        ok(ml_view_read(v, 90, buf.as_mut_ptr(), 6));
        assert_eq!(&buf, b"abcdef");
        ok(ml_view_store_u32(v, 0, 77));
        let mut word = 0;
        ok(ml_view_load_u32(v, 0, &mut word));
        assert_eq!(word, 77);
        ok(ml_view_flush(v));
        ml_view_close(v);
        expect_err(
            ml_mapping_view(m, 5000, 0, &mut v),
            ML_ERR_OUT_OF_RANGE,
            "5000",
        );

        // A read-only opener cannot write.
        let mut ro = null_mut();
        ok(ml_mapping_open(name.as_ptr(), ML_ACCESS_READ_ONLY, &mut ro));
        let mut access = 0;
        ok(ml_mapping_access(ro, &mut access));
        assert_eq!(access, ML_ACCESS_READ_ONLY);
        ok(ml_mapping_view(ro, 0, 0, &mut v));
        expect_err(
            ml_view_write(v, 0, b"x".as_ptr(), 1),
            ML_ERR_ACCESS_MISMATCH,
            "read-only",
        );
        ok(ml_view_read(v, 4090, buf.as_mut_ptr(), 6));
        assert_eq!(&buf, b"abcdef");
        ml_view_close(v);
        ml_mapping_close(ro);

        // Names, with the buffer protocol.
        let mut text = [0 as c_char; 128];
        let mut n = 0;
        ok(ml_mapping_name(m, text.as_mut_ptr(), text.len(), &mut n));
        let shown = CStr::from_ptr(text.as_ptr()).to_str().unwrap();
        assert!(shown.ends_with(name.to_str().unwrap()), "{shown}");
        assert_eq!(n, shown.len());
        expect_err(
            ml_mapping_os_name(m, text.as_mut_ptr(), 3, &mut n),
            ML_ERR_BUFFER_TOO_SMALL,
            "the buffer holds 3",
        );
        assert!(n > 3);

        ml_mapping_close(m);
        let mut gone = null_mut();
        expect_err(
            ml_mapping_open(name.as_ptr(), ML_ACCESS_READ_WRITE, &mut gone),
            ML_ERR_NOT_FOUND,
            "does not exist",
        );
    }
}

#[test]
fn mapping_options_persistent_and_remove() {
    let name = unique("opts");
    let mut opts = null_mut();
    let mut m = null_mut();
    let mut created = 0;
    // SAFETY: valid handles and pointers throughout.
    unsafe {
        ok(ml_mapping_options_new(&mut opts));
        // The defaults have no size.
        expect_err(
            ml_mapping_options_create(opts, name.as_ptr(), &mut m),
            ML_ERR_ZERO_SIZE,
            "size",
        );
        ok(ml_mapping_options_set_size(opts, 8192));
        ok(ml_mapping_options_set_persistent(opts, 1));
        ok(ml_mapping_options_set_mode(opts, 0o640));
        ok(ml_mapping_options_open_or_create(
            opts,
            name.as_ptr(),
            &mut m,
            &mut created,
        ));
        assert_eq!(created, 1);
        ml_mapping_close(m);
        // Persistent: still there with nobody holding it.
        ok(ml_mapping_options_open(null(), name.as_ptr(), &mut m));
        ml_mapping_close(m);
        ok(ml_mapping_remove(name.as_ptr()));
        expect_err(ml_mapping_remove(name.as_ptr()), ML_ERR_NOT_FOUND, "");
        ok(ml_mapping_options_set_mode(opts, 0o7777));
        expect_err(
            ml_mapping_options_create(opts, name.as_ptr(), &mut m),
            ML_ERR_INVALID_ARGUMENT,
            "mode",
        );
        ml_mapping_options_free(opts);
    }
}

#[test]
fn events_wait_set_and_kinds() {
    let name = unique("event");
    let (mut a, mut b) = (null_mut(), null_mut());
    let mut created = -1;
    let mut is_set = -1;
    // SAFETY: valid handles and pointers throughout.
    unsafe {
        ok(ml_event_create(
            name.as_ptr(),
            ML_EVENT_MANUAL_RESET,
            &mut a,
        ));
        ok(ml_event_open_or_create(
            name.as_ptr(),
            ML_EVENT_AUTO_RESET,
            &mut b,
            &mut created,
        ));
        assert_eq!(created, 0);
        expect_err(ml_event_wait(b, 0), ML_ERR_TIMEOUT, name.to_str().unwrap());
        ok(ml_event_set(a));
        ok(ml_event_wait(b, 1000));
        ok(ml_event_wait(b, ML_TIMEOUT_INFINITE)); // manual-reset: still set
        ok(ml_event_is_set(b, &mut is_set));
        assert_eq!(is_set, 1);
        ok(ml_event_reset(b));
        ok(ml_event_notify_all(a));
        expect_err(ml_event_wait(a, 10), ML_ERR_TIMEOUT, "timed out");
        ml_event_close(a);
        ml_event_close(b);

        // A plain mapping is not an event.
        let m = mapping(&name, 4096);
        expect_err(
            ml_event_open(name.as_ptr(), &mut a),
            ML_ERR_WRONG_KIND,
            "not a event",
        );
        ml_mapping_close(m);
    }
}

#[test]
fn channel_copying_send_and_receive() {
    let name = unique("chan");
    let (tx, rx) = channel(&name, null());
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    // SAFETY: valid handles and buffers throughout.
    unsafe {
        expect_err(
            ml_receiver_try_recv(rx, buf.as_mut_ptr(), buf.len(), &mut len),
            ML_ERR_EMPTY,
            "empty",
        );
        expect_err(
            ml_receiver_recv_timeout(rx, buf.as_mut_ptr(), buf.len(), &mut len, 5),
            ML_ERR_TIMEOUT,
            "timed out",
        );
        ok(ml_sender_send(tx, b"hello".as_ptr(), 5));
        ok(ml_sender_send_timeout(
            tx,
            b"second message".as_ptr(),
            14,
            100,
        ));
        ok(ml_sender_try_send(tx, null(), 0));
        ok(ml_receiver_recv(rx, buf.as_mut_ptr(), buf.len(), &mut len));
        assert_eq!(&buf[..len], b"hello");

        // Too small: the length needed, and the message is kept.
        expect_err(
            ml_receiver_recv(rx, buf.as_mut_ptr(), 4, &mut len),
            ML_ERR_BUFFER_TOO_SMALL,
            "14 bytes",
        );
        assert_eq!(len, 14);
        expect_err(
            ml_receiver_recv(rx, null_mut(), 0, &mut len),
            ML_ERR_BUFFER_TOO_SMALL,
            "14 bytes",
        );
        assert_eq!(len, 14);
        ok(ml_receiver_try_recv(
            rx,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        ));
        assert_eq!(&buf[..len], b"second message");
        ok(ml_receiver_recv_timeout(
            rx,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
            100,
        ));
        assert_eq!(len, 0);

        let mut max = 0;
        ok(ml_receiver_max_message(rx, &mut max));
        assert_eq!(max, 4096);
        let big = vec![1u8; 5000];
        expect_err(
            ml_sender_send(tx, big.as_ptr(), big.len()),
            ML_ERR_MESSAGE_TOO_LARGE,
            "5000",
        );
        let mut connected = 0;
        ok(ml_sender_is_connected(tx, &mut connected));
        assert_eq!(connected, 1);

        ml_sender_close(tx);
        expect_err(
            ml_receiver_recv(rx, buf.as_mut_ptr(), buf.len(), &mut len),
            ML_ERR_DISCONNECTED,
            "no sender",
        );
        ml_receiver_close(rx);
    }
}

#[test]
fn a_full_channel_says_full() {
    let name = unique("full");
    let mut opts = null_mut();
    // SAFETY: valid handles and buffers throughout.
    unsafe {
        ok(ml_channel_options_new(&mut opts));
        ok(ml_channel_options_set_capacity(opts, 1024));
        ok(ml_channel_options_set_max_message(opts, 256));
        let (tx, rx) = channel(&name, opts);
        ml_channel_options_free(opts);
        let message = [7u8; 200];
        let mut sent = 0;
        let r = loop {
            let r = ml_sender_try_send(tx, message.as_ptr(), message.len());
            if r != ML_OK {
                break r;
            }
            sent += 1;
            assert!(sent < 100, "a 1 KiB ring took 100 messages of 200 bytes");
        };
        expect_err(r, ML_ERR_FULL, "full");
        let mut p = null_mut();
        expect_err(ml_sender_try_loan(tx, 200, &mut p), ML_ERR_FULL, "full");
        expect_err(
            ml_sender_send_timeout(tx, message.as_ptr(), message.len(), 1),
            ML_ERR_TIMEOUT,
            "timed out",
        );
        ml_receiver_close(rx);
        ml_sender_close(tx);
    }
}

#[test]
fn loans_commit_abandon_and_state_checks() {
    let name = unique("loan");
    let (tx, rx) = channel(&name, null());
    let mut p: *mut u8 = null_mut();
    let mut q: *const u8 = null();
    let mut len = 0usize;
    // SAFETY: valid handles; writes through loans stay within their length.
    unsafe {
        expect_err(ml_sender_commit(tx, 0), ML_ERR_STATE, "no loan");
        expect_err(ml_sender_abandon(tx), ML_ERR_STATE, "no loan");

        ok(ml_sender_loan(tx, 32, ML_TIMEOUT_INFINITE, &mut p));
        assert!(!p.is_null());
        expect_err(
            ml_sender_send(tx, b"x".as_ptr(), 1),
            ML_ERR_STATE,
            "loan is outstanding",
        );
        let mut again = null_mut();
        expect_err(ml_sender_loan(tx, 8, 0, &mut again), ML_ERR_STATE, "commit");
        assert!(again.is_null());
        let mut connected = 0;
        expect_err(
            ml_sender_is_connected(tx, &mut connected),
            ML_ERR_STATE,
            "loan",
        );
        std::ptr::copy_nonoverlapping(b"zero-copy".as_ptr(), p, 9);
        expect_err(ml_sender_commit(tx, 33), ML_ERR_OUT_OF_RANGE, "33");
        ok(ml_sender_commit(tx, 9)); // the loan survived the bad commit

        ok(ml_sender_try_loan(tx, 4, &mut p));
        ok(ml_sender_abandon(tx)); // publishes nothing
        ok(ml_sender_loan(tx, 3, 100, &mut p));
        std::ptr::copy_nonoverlapping(b"end".as_ptr(), p, 3);
        ok(ml_sender_commit(tx, 3));

        // Borrow in place.
        ok(ml_receiver_borrow(rx, 1000, &mut q, &mut len));
        assert_eq!(std::slice::from_raw_parts(q, len), b"zero-copy");
        let mut buf = [0u8; 16];
        expect_err(
            ml_receiver_recv(rx, buf.as_mut_ptr(), 16, &mut len),
            ML_ERR_STATE,
            "ml_receiver_release",
        );
        let mut q2 = null();
        expect_err(
            ml_receiver_try_borrow(rx, &mut q2, &mut len),
            ML_ERR_STATE,
            "release",
        );
        ok(ml_receiver_release(rx));
        expect_err(ml_receiver_release(rx), ML_ERR_STATE, "no borrowed");

        // A message kept because the buffer was too small can be borrowed.
        expect_err(
            ml_receiver_recv(rx, buf.as_mut_ptr(), 2, &mut len),
            ML_ERR_BUFFER_TOO_SMALL,
            "3 bytes",
        );
        ok(ml_receiver_try_borrow(rx, &mut q, &mut len));
        assert_eq!(std::slice::from_raw_parts(q, len), b"end");
        ok(ml_receiver_release(rx));
        expect_err(
            ml_receiver_try_borrow(rx, &mut q, &mut len),
            ML_ERR_EMPTY,
            "empty",
        );
        assert!(q.is_null());

        // Closing with a loan or a borrow outstanding is fine.
        ok(ml_sender_loan(tx, 5, 0, &mut p));
        ml_sender_close(tx);
        ml_receiver_close(rx);
    }
}

#[test]
fn lossy_broadcast_receives_by_copy_and_refuses_to_lend() {
    let name = unique("lossy");
    let mut opts = null_mut();
    // SAFETY: valid handles and buffers throughout.
    unsafe {
        ok(ml_channel_options_new(&mut opts));
        ok(ml_channel_options_set_kind(opts, ML_CHANNEL_BROADCAST));
        ok(ml_channel_options_set_lossy(opts, 1));
        ok(ml_channel_options_set_wait(opts, ML_WAIT_PARK, 0));
        let (tx, rx) = channel(&name, opts);
        ml_channel_options_free(opts);
        ok(ml_sender_send(tx, b"one".as_ptr(), 3));
        ok(ml_sender_send(tx, b"two!".as_ptr(), 4));
        let mut buf = [0u8; 8];
        let mut len = 0;
        ok(ml_receiver_recv(rx, buf.as_mut_ptr(), 8, &mut len));
        assert_eq!(&buf[..len], b"one");
        expect_err(
            ml_receiver_recv(rx, buf.as_mut_ptr(), 1, &mut len),
            ML_ERR_BUFFER_TOO_SMALL,
            "4 bytes",
        );
        ok(ml_receiver_try_recv(rx, buf.as_mut_ptr(), 8, &mut len));
        assert_eq!(&buf[..len], b"two!");
        let mut p = null();
        expect_err(
            ml_receiver_try_borrow(rx, &mut p, &mut len),
            ML_ERR_UNSUPPORTED,
            "lossy",
        );
        let mut missed = 99;
        ok(ml_receiver_take_missed(rx, &mut missed));
        assert_eq!(missed, 0);
        ml_sender_close(tx);
        ml_receiver_close(rx);
    }
}

/// Raw handle pointers, moved into another thread as C would.
struct SendPtr<T>(*mut T);
// SAFETY: the endpoint guard makes concurrent calls safe; that is what is
// tested.
unsafe impl<T> Send for SendPtr<T> {}

#[test]
fn an_endpoint_serves_one_call_at_a_time_and_is_not_closed_under_a_call() {
    let name = unique("busy");
    let (tx, rx) = channel(&name, null());
    let shared = SendPtr(rx);
    let blocked = std::thread::spawn(move || {
        let shared = shared;
        let mut buf = [0u8; 8];
        let mut len = 0;
        // The main thread's polls hold the endpoint for a moment each: a call
        // that lands in one of those moments is refused (ML_ERR_STATE), and
        // is simply made again.
        let r = loop {
            // SAFETY: the receiver stays open until this thread is joined.
            let r = unsafe {
                ml_receiver_recv_timeout(shared.0, buf.as_mut_ptr(), 8, &mut len, 10_000)
            };
            if r != ML_ERR_STATE {
                break r;
            }
            std::thread::yield_now();
        };
        (r, buf[..len].to_vec())
    });
    // Wait (bounded) until the other thread is inside its call.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 8];
    let mut len = 0;
    loop {
        // SAFETY: valid handle and buffers.
        let r = unsafe { ml_receiver_try_recv(rx, buf.as_mut_ptr(), 8, &mut len) };
        if r == ML_ERR_STATE {
            assert!(last_message().contains("another thread"));
            break;
        }
        assert_eq!(r, ML_ERR_EMPTY, "{}", last_message());
        assert!(
            std::time::Instant::now() < deadline,
            "the thread never entered"
        );
        std::thread::yield_now();
    }
    // SAFETY: closing is refused while the call runs: nothing is freed.
    expect_err(unsafe { ml_receiver_close(rx) }, ML_ERR_STATE, "not closed");
    // SAFETY: valid handle and data.
    ok(unsafe { ml_sender_send(tx, b"wake".as_ptr(), 4) });
    let (r, got) = blocked.join().unwrap();
    assert_eq!((r, got.as_slice()), (ML_OK, &b"wake"[..]));
    // SAFETY: no call is inside any more.
    unsafe {
        ok(ml_receiver_close(rx));
        ok(ml_sender_close(tx));
    }
}

/// The C seqlock and Rust's `SeqLock<[u8; N]>` are one layout and one
/// protocol: each reads what the other wrote.
#[test]
fn c_seqlock_and_rust_seqlock_share_bytes() {
    use memlink_core::{Mapping, SeqLock};
    let name = unique("seqlock-rust");
    let rust_side = Mapping::create(name.to_str().unwrap(), 4096).unwrap();
    let view = rust_side.view_all().unwrap();
    let mut m = null_mut();
    // SAFETY: valid name and out-pointer.
    ok(unsafe { ml_mapping_open(name.as_ptr(), ML_ACCESS_READ_WRITE, &mut m) });

    // Rust makes it, C reads and writes it, Rust reads it.
    let lock = SeqLock::<[u8; 37]>::init_in(&view, 128, &[7; 37]).unwrap();
    let mut c = null_mut();
    // SAFETY: valid handle and out-pointer.
    ok(unsafe { ml_seqlock_open(m, 128, 37, &mut c) });
    let mut got = [0u8; 37];
    // SAFETY: `got` is writable for 37 bytes.
    ok(unsafe { ml_seqlock_read(c, got.as_mut_ptr(), 37, 1000) });
    assert_eq!(got, [7; 37]);
    let value: [u8; 37] = std::array::from_fn(|i| i as u8 * 3);
    // SAFETY: `value` is readable for 37 bytes.
    ok(unsafe { ml_seqlock_write(c, value.as_ptr(), 37) });
    assert_eq!(lock.read(), value);
    assert_eq!(lock.version(), 1);
    lock.write(&[1; 37]);
    let mut version = 0;
    // SAFETY: valid handle and out-pointers.
    unsafe {
        ok(ml_seqlock_version(c, &mut version));
        ok(ml_seqlock_read(c, got.as_mut_ptr(), 37, 0));
    }
    assert_eq!((version, got), (2, [1; 37]));

    // C makes one, Rust attaches with the same size and refuses another.
    let mut made = null_mut();
    let initial = [9u8; 200];
    // SAFETY: `initial` is readable for 200 bytes.
    ok(unsafe { ml_seqlock_init(m, 512, initial.as_ptr(), 200, &mut made) });
    assert_eq!(
        SeqLock::<[u8; 200]>::attach(&view, 512).unwrap().read(),
        [9; 200]
    );
    assert!(SeqLock::<[u8; 199]>::attach(&view, 512).is_err());
    // SAFETY: handles made above, closed once.
    unsafe {
        ml_seqlock_close(made);
        ml_seqlock_close(c);
        ml_mapping_close(m);
    }
}

/// A mutex handle passed where a seqlock is expected is refused, and a
/// handle closed while it holds the lock unlocks it.
#[test]
fn mutex_handles_are_checked_and_unlock_on_close() {
    let name = unique("mutex-close");
    let m = mapping(&name, 4096);
    let (mut a, mut b) = (null_mut(), null_mut());
    let mut died = 7;
    // SAFETY: valid handles and out-pointers; each handle closed once.
    unsafe {
        ok(ml_mutex_init(m, 0, &mut a));
        ok(ml_mutex_open(m, 0, &mut b));
        ok(ml_mutex_lock(a, 0, &mut died));
        assert_eq!(died, 0);
        expect_err(ml_mutex_lock(b, 0, null_mut()), ML_ERR_TIMEOUT, "held");
        let mut version = 0;
        expect_err(
            ml_seqlock_version(a.cast(), &mut version),
            ML_ERR_INVALID_ARGUMENT,
            "ml_seqlock",
        );
        expect_err(
            ml_mutex_lock(a, -5, null_mut()),
            ML_ERR_INVALID_ARGUMENT,
            "timeout",
        );
        ml_mutex_close(a);
        ok(ml_mutex_lock(b, 0, &mut died));
        assert_eq!(died, 0);
        ok(ml_mutex_unlock(b));
        ml_mutex_close(b);
        ml_mapping_close(m);
    }
}

/// `ml_identify` on each kind it names, and its argument errors.
#[test]
fn identify_tells_what_a_name_holds() {
    fn kind_of(name: &CStr) -> ml_object_kind {
        let mut kind = -7;
        // SAFETY: a valid name and out-pointer.
        ok(unsafe { ml_identify(name.as_ptr(), &mut kind) });
        kind
    }
    let (plain, tiny, event, chan) = (
        unique("id-map"),
        unique("id-tiny"),
        unique("id-ev"),
        unique("id-ch"),
    );
    let m = mapping(&plain, 4096);
    let t = mapping(&tiny, 8);
    let mut e = null_mut();
    // SAFETY: valid name and out-pointer.
    ok(unsafe { ml_event_create(event.as_ptr(), ML_EVENT_MANUAL_RESET, &mut e) });
    let (tx, rx) = channel(&chan, null());
    assert_eq!(kind_of(&plain), ML_OBJECT_MAPPING);
    assert_eq!(kind_of(&tiny), ML_OBJECT_MAPPING);
    assert_eq!(kind_of(&event), ML_OBJECT_EVENT);
    assert_eq!(kind_of(&chan), ML_OBJECT_CHANNEL);
    // Looking does not hold: the closed mapping's name is gone.
    // SAFETY: handles made above, closed once.
    unsafe {
        ml_mapping_close(m);
        ml_mapping_close(t);
        ml_event_close(e);
        ok(ml_receiver_close(rx));
        ok(ml_sender_close(tx));
    }
    let mut kind = -7;
    // SAFETY: valid pointers; the calls check the rest.
    unsafe {
        expect_err(
            ml_identify(plain.as_ptr(), &mut kind),
            ML_ERR_NOT_FOUND,
            "id-map",
        );
        assert_eq!(kind, 0, "a failed call leaves 0");
        expect_err(ml_identify(null(), &mut kind), ML_ERR_NULL, "name is NULL");
        expect_err(
            ml_identify(plain.as_ptr(), null_mut()),
            ML_ERR_NULL,
            "out is NULL",
        );
        let bad = [0xffu8, 0xfe, 0];
        expect_err(
            ml_identify(bad.as_ptr().cast(), &mut kind),
            ML_ERR_INVALID_NAME,
            "UTF-8",
        );
        let slash = CString::new("a/b").unwrap();
        expect_err(
            ml_identify(slash.as_ptr(), &mut kind),
            ML_ERR_INVALID_NAME,
            "a/b",
        );
    }
}

/// A wait set that sleeps on a receiver makes this thread's doorbell, a
/// named object that `ml_identify` tells from a mapping.
#[test]
fn identify_tells_a_wait_sets_doorbell() {
    std::thread::spawn(|| {
        let chan = unique("id-bell");
        let (tx, rx) = channel(&chan, null());
        let mut set = null_mut();
        let (mut token, mut count) = (0usize, 0usize);
        let mut ready = [ml_ready {
            token: 0,
            readiness: 0,
        }; 2];
        // SAFETY: valid handles, out-pointers and a ready buffer of 2.
        unsafe {
            ok(ml_waitset_new(&mut set));
            ok(ml_waitset_add_receiver(set, rx, &mut token));
            ok(ml_waitset_add_deadline(set, 30, &mut token));
            ok(ml_waitset_wait(
                set,
                5000,
                ready.as_mut_ptr(),
                2,
                &mut count,
            ));
        }
        assert_eq!((count, ready[0].readiness), (1, ML_READY_DEADLINE));
        let prefix = format!("memlink-bell-{}-", std::process::id());
        let bells: Vec<String> = [
            memlink_core::Namespace::Local,
            memlink_core::Namespace::Global,
        ]
        .into_iter()
        .flat_map(|ns| memlink_core::Mapping::list(ns).unwrap())
        .map(|info| info.name.to_string())
        .filter(|name| name.contains(&prefix))
        .collect();
        // Another test thread's doorbell may go between the listing and
        // the look; this thread's stays while its set lives.
        let mut seen = 0;
        for bell in bells {
            let name = CString::new(bell.clone()).unwrap();
            let mut kind = 0;
            // SAFETY: a valid name and out-pointer.
            let r = unsafe { ml_identify(name.as_ptr(), &mut kind) };
            if r == ML_ERR_NOT_FOUND {
                continue;
            }
            ok(r);
            assert_eq!(kind, ML_OBJECT_DOORBELL, "{bell}");
            seen += 1;
        }
        assert!(seen > 0, "no doorbell named {prefix}*");
        // SAFETY: made above, freed once, the set before its receiver.
        unsafe {
            ml_waitset_free(set);
            ok(ml_receiver_close(rx));
            ok(ml_sender_close(tx));
        }
    })
    .join()
    .unwrap();
}

/// `ml_mapping_options_set_busy_timeout`: negative values are refused, 0
/// and more are taken, and an open with one works.
#[test]
fn busy_timeout_option() {
    let name = unique("busy");
    let m = mapping(&name, 4096);
    let mut opts = null_mut();
    let mut again = null_mut();
    let mut size = 0u64;
    // SAFETY: valid pointers throughout; handles closed once.
    unsafe {
        ok(ml_mapping_options_new(&mut opts));
        for bad in [-1, -2, i64::MIN] {
            expect_err(
                ml_mapping_options_set_busy_timeout(opts, bad),
                ML_ERR_INVALID_ARGUMENT,
                &format!("busy timeout {bad} ms"),
            );
        }
        ok(ml_mapping_options_set_busy_timeout(opts, 0));
        ok(ml_mapping_options_set_busy_timeout(opts, i64::MAX));
        ok(ml_mapping_options_set_busy_timeout(opts, 500));
        ok(ml_mapping_options_open(opts, name.as_ptr(), &mut again));
        ok(ml_mapping_size(again, &mut size));
        assert_eq!(size, 4096);
        ml_mapping_close(again);
        expect_err(
            ml_mapping_options_set_busy_timeout(null_mut(), 5),
            ML_ERR_NULL,
            "NULL",
        );
        ml_mapping_options_free(opts);
        ml_mapping_close(m);
    }
}
