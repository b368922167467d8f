//! Views: `ml_view_*`.

use std::sync::atomic::Ordering;

use memlink_core::View;

use crate::args::{self, Out};
use crate::boundary::call;
use crate::codes::ml_result;
use crate::handle::{self, impl_handle, Tagged};
use crate::mapping::{access_code, ml_access};

/// A mapped range of a mapping (`MapViewOfFile`). Opaque; close with
/// `ml_view_close`. It keeps its mapping alive, even after the
/// `ml_mapping` it came from is closed. Usable from any thread.
pub struct ml_view {
    inner: Tagged<View>,
}
impl_handle!(ml_view, View, b"mlVIEW__");

/// Unmaps a view (`UnmapViewOfFile`). NULL is fine. Pointers obtained from
/// `ml_view_ptr` are invalid afterwards.
///
/// # Safety
///
/// `view` must be NULL or an open `ml_view` that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn ml_view_close(view: *mut ml_view) {
    let _ = call("ml_view_close", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { handle::destroy(view) }
    });
}

/// Stores the view's length in bytes in `*out`.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_view_len(view: *const ml_view, out: *mut usize) -> ml_result {
    call("ml_view_len", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(view.len()) };
        Ok(())
    })
}

/// Stores the address of the view's first byte in `*out`, valid until
/// `ml_view_close`.
///
/// Other processes may write these bytes at any time, and a read-only view
/// faults on writes: prefer `ml_view_read` / `ml_view_write`, which copy and
/// check bounds, unless a protocol (a lock, an event, a channel) says who
/// writes when.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_view_ptr(view: *const ml_view, out: *mut *mut u8) -> ml_result {
    call("ml_view_ptr", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(view.as_ptr()) };
        Ok(())
    })
}

/// Copies `len` bytes at `offset` (relative to the view) into `buf`.
/// `ML_ERR_OUT_OF_RANGE` if the range leaves the view.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `buf` valid for writing `len` bytes
/// (or NULL with `len == 0`).
#[no_mangle]
pub unsafe extern "C" fn ml_view_read(
    view: *const ml_view,
    offset: usize,
    buf: *mut u8,
    len: usize,
) -> ml_result {
    call("ml_view_read", || {
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        // SAFETY: per the contract.
        let mut buf = unsafe { args::bytes_mut(buf, len, "buf")? };
        view.read_at(offset, buf.prefix(len))?;
        Ok(())
    })
}

/// Copies `len` bytes from `data` into the view at `offset`.
/// `ML_ERR_ACCESS_MISMATCH` for a read-only view, `ML_ERR_OUT_OF_RANGE` if
/// the range leaves the view.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `data` valid for reading `len` bytes
/// (or NULL with `len == 0`).
#[no_mangle]
pub unsafe extern "C" fn ml_view_write(
    view: *const ml_view,
    offset: usize,
    data: *const u8,
    len: usize,
) -> ml_result {
    call("ml_view_write", || {
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        // SAFETY: per the contract.
        let data = unsafe { args::bytes(data, len, "data")? };
        view.write_at(offset, data)?;
        Ok(())
    })
}

/// Writes the view's changes back to its file and waits
/// (`FlushViewOfFile` + sync). Nothing to do for memory-backed mappings.
///
/// # Safety
///
/// `view` must be an open `ml_view`.
#[no_mangle]
pub unsafe extern "C" fn ml_view_flush(view: *const ml_view) -> ml_result {
    call("ml_view_flush", || {
        // SAFETY: per the contract.
        unsafe { handle::get(view)? }.flush()?;
        Ok(())
    })
}

/// Starts writing the view's changes back without waiting.
///
/// # Safety
///
/// `view` must be an open `ml_view`.
#[no_mangle]
pub unsafe extern "C" fn ml_view_flush_async(view: *const ml_view) -> ml_result {
    call("ml_view_flush_async", || {
        // SAFETY: per the contract.
        unsafe { handle::get(view)? }.flush_async()?;
        Ok(())
    })
}

/// Writes back `len` bytes from `offset` and waits.
///
/// # Safety
///
/// `view` must be an open `ml_view`.
#[no_mangle]
pub unsafe extern "C" fn ml_view_flush_range(
    view: *const ml_view,
    offset: usize,
    len: usize,
) -> ml_result {
    call("ml_view_flush_range", || {
        // SAFETY: per the contract.
        unsafe { handle::get(view)? }.flush_range(offset, len)?;
        Ok(())
    })
}

/// Starts writing back `len` bytes from `offset` without waiting.
///
/// # Safety
///
/// `view` must be an open `ml_view`.
#[no_mangle]
pub unsafe extern "C" fn ml_view_flush_range_async(
    view: *const ml_view,
    offset: usize,
    len: usize,
) -> ml_result {
    call("ml_view_flush_range_async", || {
        // SAFETY: per the contract.
        unsafe { handle::get(view)? }.flush_range_async(offset, len)?;
        Ok(())
    })
}

/// Stores the view's offset in its mapping in `*out`.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_view_offset(view: *const ml_view, out: *mut u64) -> ml_result {
    call("ml_view_offset", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(view.offset()) };
        Ok(())
    })
}

/// Stores the view's access (`ML_ACCESS_*`) in `*out`.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_view_access(view: *const ml_view, out: *mut ml_access) -> ml_result {
    call("ml_view_access", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(access_code(view.access())) };
        Ok(())
    })
}

/// Atomically loads the `uint32_t` at `offset` (4-byte aligned in memory)
/// with acquire ordering: pairs with `ml_view_store_u32` in another process.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_view_load_u32(
    view: *const ml_view,
    offset: usize,
    out: *mut u32,
) -> ml_result {
    call("ml_view_load_u32", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let v = unsafe { handle::get(view)? }.load_u32(offset, Ordering::Acquire)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(v) };
        Ok(())
    })
}

/// Atomically stores `value` at `offset` (4-byte aligned in memory) with
/// release ordering: everything written before is visible to whoever loads
/// this value with `ml_view_load_u32`.
///
/// # Safety
///
/// `view` must be an open `ml_view`.
#[no_mangle]
pub unsafe extern "C" fn ml_view_store_u32(
    view: *const ml_view,
    offset: usize,
    value: u32,
) -> ml_result {
    call("ml_view_store_u32", || {
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        view.atomic_u32(offset)?.store(value, Ordering::Release);
        Ok(())
    })
}

/// Atomically loads the `uint64_t` at `offset` (8-byte aligned in memory)
/// with acquire ordering.
///
/// # Safety
///
/// `view` must be an open `ml_view`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_view_load_u64(
    view: *const ml_view,
    offset: usize,
    out: *mut u64,
) -> ml_result {
    call("ml_view_load_u64", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let v = unsafe { handle::get(view)? }.load_u64(offset, Ordering::Acquire)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(v) };
        Ok(())
    })
}

/// Atomically stores `value` at `offset` (8-byte aligned in memory) with
/// release ordering.
///
/// # Safety
///
/// `view` must be an open `ml_view`.
#[no_mangle]
pub unsafe extern "C" fn ml_view_store_u64(
    view: *const ml_view,
    offset: usize,
    value: u64,
) -> ml_result {
    call("ml_view_store_u64", || {
        // SAFETY: per the contract.
        let view = unsafe { handle::get(view)? };
        view.atomic_u64(offset)?.store(value, Ordering::Release);
        Ok(())
    })
}
