//! Argument checking shared by every export: handles, strings, buffers,
//! out-pointers, timeouts, and the per-endpoint "one call at a time" guard.

use std::cell::UnsafeCell;
use std::ffi::{c_char, CStr};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{ml_result, Failure, ML_ERR_BUFFER_TOO_SMALL, ML_ERR_INVALID_NAME, ML_OK};

/// What every handle points to: a type tag first, then the value. The tag
/// turns a handle of the wrong type (easy to pass from ctypes or P/Invoke,
/// where handles are untyped) into `ML_ERR_INVALID_ARGUMENT`.
#[repr(C)]
pub(crate) struct Tagged<T> {
    tag: u64,
    value: T,
}

/// Tag of a closed handle (best effort: catches many double closes).
const CLOSED: u64 = 0;

/// An opaque handle type of the C API. Each one is a struct with a single
/// field `inner: Tagged<Inner>` at offset 0, so its first 8 bytes are its tag.
pub(crate) trait Handle: Sized {
    type Inner;
    /// This type's tag: 8 ASCII bytes, never 0.
    const TAG: u64;
    /// The C type's name, for messages.
    const WHAT: &'static str;
    fn wrap(inner: Tagged<Self::Inner>) -> Self;
    fn tagged(&self) -> &Tagged<Self::Inner>;
    fn tagged_mut(&mut self) -> &mut Tagged<Self::Inner>;
}

/// Implements [`Handle`] for a struct `$name { inner: Tagged<$inner> }`.
/// (The structs themselves are written out, so that cbindgen sees them.)
macro_rules! impl_handle {
    ($name:ident, $inner:ty, $tag:literal) => {
        const _: () = assert!(std::mem::offset_of!($name, inner) == 0);
        impl $crate::util::Handle for $name {
            type Inner = $inner;
            const TAG: u64 = u64::from_le_bytes(*$tag);
            const WHAT: &'static str = stringify!($name);
            fn wrap(inner: $crate::util::Tagged<$inner>) -> Self {
                $name { inner }
            }
            fn tagged(&self) -> &$crate::util::Tagged<$inner> {
                &self.inner
            }
            fn tagged_mut(&mut self) -> &mut $crate::util::Tagged<$inner> {
                &mut self.inner
            }
        }
    };
}
pub(crate) use impl_handle;

/// Boxes `value` as a new handle for C.
pub(crate) fn into_raw<H: Handle>(value: H::Inner) -> *mut H {
    Box::into_raw(Box::new(H::wrap(Tagged { tag: H::TAG, value })))
}

/// Checks that `p` is a live handle of type `H`.
///
/// # Safety
///
/// `p` must be NULL or point to at least 8 readable bytes, and if it is a
/// handle of type `H`, that handle must stay open for `'a`.
unsafe fn checked<H: Handle>(p: *const H) -> Result<NonNull<H>, Failure> {
    let p = NonNull::new(p.cast_mut()).ok_or_else(|| Failure::null(H::WHAT))?;
    // SAFETY: every handle starts with its `u64` tag (see `Tagged` and the
    // offset assertion in `impl_handle!`), handles are boxed so the tag is
    // aligned, and the caller promises 8 readable bytes.
    let tag = unsafe { p.cast::<u64>().as_ptr().read() };
    if tag != H::TAG {
        return Err(Failure::invalid(format!(
            "the pointer passed as {} is not one (another type of handle, or already closed)",
            H::WHAT
        )));
    }
    Ok(p)
}

/// The value behind handle `p`.
///
/// # Safety
///
/// As for [`checked`]; the value is shared, so only `&self` methods may be
/// used on it.
pub(crate) unsafe fn get<'a, H: Handle + 'a>(p: *const H) -> Result<&'a H::Inner, Failure> {
    // SAFETY: forwarded to the caller.
    let p = unsafe { checked(p)? };
    // SAFETY: `p` is a live, correctly tagged handle made by `into_raw`.
    Ok(&unsafe { p.as_ref() }.tagged().value)
}

/// The value behind handle `p`, mutably (for single-threaded builders).
///
/// # Safety
///
/// As for [`checked`], and no other thread may use the handle meanwhile.
pub(crate) unsafe fn get_mut<'a, H: Handle + 'a>(p: *mut H) -> Result<&'a mut H::Inner, Failure> {
    // SAFETY: forwarded to the caller.
    let mut p = unsafe { checked(p)? };
    // SAFETY: a live handle made by `into_raw`; exclusivity is the caller's
    // promise.
    Ok(&mut unsafe { p.as_mut() }.tagged_mut().value)
}

/// The body of every options setter: `set` applied to the value behind
/// `handle`, inside `call` (so a panic or a bad handle becomes an error code).
///
/// # Safety
///
/// As for [`get_mut`]: `handle` must be NULL or a live `H` that no other
/// thread uses during the call.
pub(crate) unsafe fn update<H: Handle>(
    export: &'static str,
    handle: *mut H,
    set: impl FnOnce(&mut H::Inner) -> crate::error::Outcome,
) -> ml_result {
    crate::error::call(export, || {
        // SAFETY: forwarded from this function's contract.
        let inner = unsafe { get_mut(handle)? };
        set(inner)
    })
}

/// Frees handle `p`; NULL is fine. A pointer that is not a live `H` is left
/// alone and reported through the last error.
///
/// # Safety
///
/// `p` must be NULL or a pointer that `into_raw::<H>` returned (or another
/// handle), not freed yet, which no other thread uses.
pub(crate) unsafe fn destroy<H: Handle>(p: *mut H) -> Result<(), Failure> {
    if p.is_null() {
        return Ok(());
    }
    // SAFETY: forwarded to the caller.
    let mut p = unsafe { checked(p.cast_const())? };
    // SAFETY: a live handle of ours; nobody else uses it (caller's promise).
    unsafe { p.as_mut() }.tagged_mut().tag = CLOSED;
    // SAFETY: made by `Box::into_raw` in `into_raw`, freed only here.
    drop(unsafe { Box::from_raw(p.as_ptr()) });
    Ok(())
}

/// A place the caller gave us to store a result in.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// `p`, which must not be NULL.
    pub(crate) fn new(p: *mut T, what: &'static str) -> Result<Out<T>, Failure> {
        NonNull::new(p).map(Out).ok_or_else(|| Failure::null(what))
    }

    /// `p`, or nothing when it is NULL (optional outputs).
    pub(crate) fn optional(p: *mut T) -> Option<Out<T>> {
        NonNull::new(p).map(Out)
    }

    /// Stores `value`.
    ///
    /// # Safety
    ///
    /// The pointer must be valid for writing a `T` (it may be uninitialised).
    pub(crate) unsafe fn write(&self, value: T) {
        // SAFETY: the caller promises the pointer is writable; `write` does
        // not read or drop the old contents.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// A NUL-terminated UTF-8 name argument.
///
/// # Safety
///
/// `p` must be NULL or point to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn name<'a>(p: *const c_char) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null("name"));
    }
    // SAFETY: non-NULL and NUL-terminated (caller's promise).
    let bytes = unsafe { CStr::from_ptr(p) };
    bytes.to_str().map_err(|_| {
        Failure::new(
            ML_ERR_INVALID_NAME,
            format!("invalid name {bytes:?}: names are UTF-8"),
        )
    })
}

/// A NUL-terminated file-system path argument: any bytes on Unix, UTF-8
/// elsewhere.
///
/// # Safety
///
/// As for [`name`].
pub(crate) unsafe fn path<'a>(p: *const c_char) -> Result<&'a Path, Failure> {
    if p.is_null() {
        return Err(Failure::null("path"));
    }
    // SAFETY: non-NULL and NUL-terminated (caller's promise).
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(Path::new(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(Path::new)
            .map_err(|_| Failure::invalid("the path is not UTF-8"))
    }
}

fn check_len(len: usize, what: &'static str) -> Result<(), Failure> {
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "{what}: length {len} is larger than any buffer can be"
        )));
    }
    Ok(())
}

/// A read-only buffer argument; NULL is allowed when `len` is 0.
///
/// # Safety
///
/// `p` must be NULL or valid for reading `len` bytes for `'a`, and no one may
/// write them meanwhile.
pub(crate) unsafe fn bytes<'a>(
    p: *const u8,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    check_len(len, what)?;
    // SAFETY: non-NULL, `len` readable bytes (caller's promise), `len` fits
    // in `isize`; u8 has no alignment.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A writable buffer that the caller lent: checked, but not yet a slice,
/// because its bytes may be uninitialised.
pub(crate) struct RawBuf {
    ptr: *mut u8,
    len: usize,
}

impl RawBuf {
    /// The buffer's capacity.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first `n` bytes (at most the capacity) as a slice, zeroed first
    /// so that no uninitialised byte is ever behind a reference. Only the
    /// bytes about to be written are touched.
    pub(crate) fn prefix(&mut self, n: usize) -> &mut [u8] {
        let n = n.min(self.len);
        if n == 0 {
            return &mut [];
        }
        // SAFETY: `bytes_mut` checked that `ptr` is non-NULL and `len` fits
        // in `isize`; the caller of `bytes_mut` promised `len` writable
        // bytes, and `n <= len`.
        unsafe {
            std::ptr::write_bytes(self.ptr, 0, n);
            std::slice::from_raw_parts_mut(self.ptr, n)
        }
    }
}

/// A writable buffer argument; NULL is allowed when `len` is 0.
///
/// # Safety
///
/// `p` must be NULL or valid for writing `len` bytes for as long as the
/// returned value is used, and no one else may use them meanwhile.
pub(crate) unsafe fn bytes_mut(
    p: *mut u8,
    len: usize,
    what: &'static str,
) -> Result<RawBuf, Failure> {
    if len == 0 {
        return Ok(RawBuf {
            ptr: std::ptr::null_mut(),
            len: 0,
        });
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    check_len(len, what)?;
    Ok(RawBuf { ptr: p, len })
}

/// Copies `s` into `buf` as a NUL-terminated string, cut short if needed,
/// and stores `s`'s length in `*out_len` (when not NULL).
///
/// # Safety
///
/// `out_len` must be NULL or valid for writing a `usize`.
pub(crate) unsafe fn copy_str_out(s: &str, buf: &mut RawBuf, out_len: *mut usize) -> ml_result {
    if let Some(out) = Out::optional(out_len) {
        // SAFETY: the caller promises `out_len` is writable.
        unsafe { out.write(s.len()) };
    }
    let Some(room) = buf.len().checked_sub(1) else {
        return if s.is_empty() && buf.len() > 0 {
            ML_OK
        } else {
            ML_ERR_BUFFER_TOO_SMALL
        };
    };
    let n = room.min(s.len());
    let buf = buf.prefix(n + 1);
    buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    buf[n] = 0;
    if n < s.len() {
        ML_ERR_BUFFER_TOO_SMALL
    } else {
        ML_OK
    }
}

/// [`copy_str_out`] for an export's result: cut short is a failure that
/// says what `what` needed, so that the last error tells the caller too.
///
/// # Safety
///
/// As for [`copy_str_out`].
pub(crate) unsafe fn copy_text_out(
    what: &str,
    s: &str,
    buf: &mut RawBuf,
    out_len: *mut usize,
) -> Result<(), Failure> {
    let given = buf.len();
    // SAFETY: forwarded from this function's contract.
    match unsafe { copy_str_out(s, buf, out_len) } {
        ML_OK => Ok(()),
        code => Err(Failure::new(
            code,
            format!(
                "the {what} is {} bytes and its NUL needs one more, but the buffer holds {given}",
                s.len()
            ),
        )),
    }
}

/// How long a blocking call may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    Forever,
    For(Duration),
}

/// Converts a timeout in milliseconds: `ML_TIMEOUT_INFINITE` (-1) is
/// forever, 0 and up are bounded, anything else is refused.
pub(crate) fn timeout(ms: i64) -> Result<Wait, Failure> {
    match ms {
        crate::ML_TIMEOUT_INFINITE => Ok(Wait::Forever),
        ms if ms >= 0 => Ok(Wait::For(Duration::from_millis(ms.unsigned_abs()))),
        ms => Err(Failure::invalid(format!(
            "timeout {ms} ms: use 0 or more milliseconds, or ML_TIMEOUT_INFINITE (-1)"
        ))),
    }
}

/// Converts an `int32_t` flag.
pub(crate) fn flag(v: i32) -> bool {
    v != 0
}

/// An endpoint's state with a guard that lets one call in at a time: a
/// second thread calling meanwhile gets `ML_ERR_STATE` instead of a race.
pub(crate) struct Endpoint<S> {
    busy: AtomicBool,
    state: UnsafeCell<S>,
}

impl<S> Endpoint<S> {
    pub(crate) fn new(state: S) -> Self {
        Endpoint {
            busy: AtomicBool::new(false),
            state: UnsafeCell::new(state),
        }
    }

    /// Enters the endpoint, or fails if another call is inside.
    pub(crate) fn enter(&self, what: &'static str) -> Result<Entered<'_, S>, Failure> {
        // Acquire: pairs with the Release in `Entered::drop`, so this call
        // sees everything the previous call (maybe on another thread) did.
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(Failure::state(format!(
                "another thread is inside a call on this {what}; an endpoint serves one call at \
                 a time"
            )));
        }
        Ok(Entered {
            busy: &self.busy,
            // SAFETY: `busy` was false and is now ours: no other reference
            // to the state exists until `Entered` drops.
            state: unsafe { &mut *self.state.get() },
        })
    }
}

/// The state of an entered endpoint; leaving (also by unwinding) lets the
/// next call in.
pub(crate) struct Entered<'a, S> {
    busy: &'a AtomicBool,
    state: &'a mut S,
}

impl<S> Deref for Entered<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        self.state
    }
}

impl<S> DerefMut for Entered<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        self.state
    }
}

impl<S> Drop for Entered<'_, S> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `Endpoint::enter`.
        self.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout(-1).unwrap(), Wait::Forever);
        assert_eq!(timeout(0).unwrap(), Wait::For(Duration::ZERO));
        assert_eq!(
            timeout(1500).unwrap(),
            Wait::For(Duration::from_millis(1500))
        );
        assert_eq!(
            timeout(-2).unwrap_err().code,
            crate::ML_ERR_INVALID_ARGUMENT
        );
        assert!(timeout(i64::MIN).is_err());
    }

    #[test]
    fn buffers() {
        // SAFETY: NULL with length 0 is allowed.
        assert!(unsafe { bytes(std::ptr::null(), 0, "b") }
            .unwrap()
            .is_empty());
        // SAFETY: the call rejects NULL.
        let e = unsafe { bytes(std::ptr::null(), 1, "b") }.unwrap_err();
        assert_eq!(e.code, crate::ML_ERR_NULL);
        let x = 0u8;
        // SAFETY: the call rejects the length before making a slice.
        let e = unsafe { bytes(&x, usize::MAX, "b") }.unwrap_err();
        assert_eq!(e.code, crate::ML_ERR_INVALID_ARGUMENT);
    }

    #[test]
    fn endpoint_admits_one_call_at_a_time() {
        let e = Endpoint::new(5u32);
        let mut first = e.enter("sender").unwrap();
        *first += 1;
        assert!(matches!(e.enter("sender"), Err(f) if f.code == crate::ML_ERR_STATE));
        drop(first);
        assert_eq!(*e.enter("sender").unwrap(), 6);
    }

    #[test]
    fn string_out() {
        let mut buf = [0xffu8; 4];
        // SAFETY: `buf` is writable for its length.
        let mut raw = unsafe { bytes_mut(buf.as_mut_ptr(), 4, "buf") }.unwrap();
        // SAFETY: NULL out_len is allowed.
        let r = unsafe { copy_str_out("ab", &mut raw, std::ptr::null_mut()) };
        assert_eq!(r, ML_OK);
        let mut len = 0;
        // SAFETY: `len` is writable.
        let r = unsafe { copy_str_out("abcdef", &mut raw, &mut len) };
        assert_eq!((r, len, &buf), (ML_ERR_BUFFER_TOO_SMALL, 6, b"abc\0"));
        // SAFETY: NULL with length 0 is allowed.
        let mut empty = unsafe { bytes_mut(std::ptr::null_mut(), 0, "buf") }.unwrap();
        // SAFETY: `len` is writable.
        let r = unsafe { copy_str_out("", &mut empty, &mut len) };
        assert_eq!((r, len), (ML_ERR_BUFFER_TOO_SMALL, 0));
    }
}
