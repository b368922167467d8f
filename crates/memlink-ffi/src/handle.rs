//! Handles: the type tag every handle starts with, `impl_handle!`, and
//! making, reaching and freeing the value behind a handle.

use std::ptr::NonNull;

use crate::boundary::call;
use crate::codes::ml_result;
use crate::failure::{Failure, Outcome};

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
        impl $crate::handle::Handle for $name {
            type Inner = $inner;
            const TAG: u64 = u64::from_le_bytes(*$tag);
            const WHAT: &'static str = stringify!($name);
            fn wrap(inner: $crate::handle::Tagged<$inner>) -> Self {
                $name { inner }
            }
            fn tagged(&self) -> &$crate::handle::Tagged<$inner> {
                &self.inner
            }
            fn tagged_mut(&mut self) -> &mut $crate::handle::Tagged<$inner> {
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
    set: impl FnOnce(&mut H::Inner) -> Outcome,
) -> ml_result {
    call(export, || {
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
