//! Checked arguments: out-pointers, names and paths, buffers, timeouts and
//! flags.

use std::ffi::{c_char, CStr};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use crate::codes::{ml_result, ML_ERR_BUFFER_TOO_SMALL, ML_ERR_INVALID_NAME, ML_OK};
use crate::failure::Failure;

/// Pass as a timeout to wait for as long as it takes.
pub const ML_TIMEOUT_INFINITE: i64 = -1;

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

/// Clears `*out` first, so that it is NULL whenever the call fails.
pub(crate) fn handle_out<H>(out: *mut *mut H) -> Result<Out<*mut H>, Failure> {
    let out = Out::new(out, "out")?;
    // SAFETY: every export's contract: `out` is valid for writing a pointer.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(out)
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
        ML_TIMEOUT_INFINITE => Ok(Wait::Forever),
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

/// How a receive or send waits.
#[derive(Clone, Copy)]
pub(crate) enum How {
    Wait(Wait),
    Try,
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
            crate::codes::ML_ERR_INVALID_ARGUMENT
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
        assert_eq!(e.code, crate::codes::ML_ERR_NULL);
        let x = 0u8;
        // SAFETY: the call rejects the length before making a slice.
        let e = unsafe { bytes(&x, usize::MAX, "b") }.unwrap_err();
        assert_eq!(e.code, crate::codes::ML_ERR_INVALID_ARGUMENT);
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
