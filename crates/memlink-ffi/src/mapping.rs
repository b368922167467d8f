//! Named mappings: `ml_access` and `ml_mapping_*` (views are made here and
//! live in `view`).

use std::ffi::c_char;

use memlink_core::{Access, Disposition, Mapping, MappingOptions};

use crate::args::{self, handle_out, Out};
use crate::boundary::call;
use crate::codes::ml_result;
use crate::failure::{Failure, Outcome};
use crate::handle::{self, impl_handle, Tagged};
use crate::view::ml_view;

/// An access mode (`ML_ACCESS_*`), passed as an integer.
pub type ml_access = i32;
/// Read only (`PAGE_READONLY`).
pub const ML_ACCESS_READ_ONLY: ml_access = 1;
/// Read and write, shared with every process (`PAGE_READWRITE`).
pub const ML_ACCESS_READ_WRITE: ml_access = 2;
/// Read, and write privately: writes stay in this process (`PAGE_WRITECOPY`).
pub const ML_ACCESS_COPY_ON_WRITE: ml_access = 3;

/// A checked `ml_access`.
pub(crate) struct AccessArg(pub(crate) Access);

impl TryFrom<ml_access> for AccessArg {
    type Error = Failure;
    fn try_from(v: ml_access) -> Result<Self, Failure> {
        match v {
            ML_ACCESS_READ_ONLY => Ok(AccessArg(Access::ReadOnly)),
            ML_ACCESS_READ_WRITE => Ok(AccessArg(Access::ReadWrite)),
            ML_ACCESS_COPY_ON_WRITE => Ok(AccessArg(Access::CopyOnWrite)),
            v => Err(Failure::invalid(format!(
                "access {v} is none of ML_ACCESS_READ_ONLY (1), ML_ACCESS_READ_WRITE (2), \
                 ML_ACCESS_COPY_ON_WRITE (3)"
            ))),
        }
    }
}

pub(crate) fn access_code(a: Access) -> ml_access {
    match a {
        Access::ReadOnly => ML_ACCESS_READ_ONLY,
        Access::ReadWrite => ML_ACCESS_READ_WRITE,
        Access::CopyOnWrite => ML_ACCESS_COPY_ON_WRITE,
    }
}

/// A named mapping held by this process (the article's file-mapping
/// handle). Opaque; close with `ml_mapping_close`. Usable from any thread.
pub struct ml_mapping {
    inner: Tagged<Mapping>,
}
impl_handle!(ml_mapping, Mapping, b"mlMAPPNG");

pub(crate) fn store_mapping(out: Out<*mut ml_mapping>, mapping: Mapping) {
    // SAFETY: checked non-NULL by `handle_out`; writable per the contract.
    unsafe { out.write(handle::into_raw::<ml_mapping>(mapping)) };
}

pub(crate) fn store_created(created: *mut i32, d: Disposition) {
    if let Some(out) = Out::optional(created) {
        // SAFETY: the contract says `created` is NULL or writable.
        unsafe { out.write(i32::from(d == Disposition::Created)) };
    }
}

/// Creates a named, memory-backed, read-write, owner-only mapping of `size`
/// bytes, filled with zeros, gone when its last holder goes
/// (`CreateFileMapping(INVALID_HANDLE_VALUE, ..., size, name)`).
///
/// Names are `Local\NAME` (per user, the default) or `Global\NAME`
/// (machine-wide; on Linux the POSIX object `/NAME`). Fails with
/// `ML_ERR_ALREADY_EXISTS` if the name is taken, `ML_ERR_ZERO_SIZE` for size
/// 0. On success `*out` is the new handle; on failure it is NULL.
///
/// # Safety
///
/// `name` must be a NUL-terminated string; `out` must be valid for writing
/// a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_create(
    name: *const c_char,
    size: u64,
    out: *mut *mut ml_mapping,
) -> ml_result {
    call("ml_mapping_create", || {
        let out = handle_out(out)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        store_mapping(out, Mapping::create(name, size)?);
        Ok(())
    })
}

/// Opens an existing mapping (`OpenFileMapping`) with `access`
/// (`ML_ACCESS_*`). Fails with `ML_ERR_NOT_FOUND` if there is none and with
/// `ML_ERR_FOREIGN_OWNER` if another user created it.
///
/// # Safety
///
/// As for `ml_mapping_create`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_open(
    name: *const c_char,
    access: ml_access,
    out: *mut *mut ml_mapping,
) -> ml_result {
    call("ml_mapping_open", || {
        let out = handle_out(out)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        let AccessArg(access) = access.try_into()?;
        store_mapping(out, MappingOptions::new().access(access).open(name)?);
        Ok(())
    })
}

/// Opens the mapping if it exists, or creates a memory-backed one of `size`
/// bytes, and stores in `*created` (if not NULL) 1 if it was created, 0 if
/// opened (the article's `ERROR_ALREADY_EXISTS`). An opened mapping keeps
/// the size it was created with.
///
/// # Safety
///
/// As for `ml_mapping_create`; `created` must be NULL or valid for writing
/// an `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_open_or_create(
    name: *const c_char,
    size: u64,
    out: *mut *mut ml_mapping,
    created: *mut i32,
) -> ml_result {
    call("ml_mapping_open_or_create", || {
        let out = handle_out(out)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        let (mapping, d) = Mapping::open_or_create(name, size)?;
        store_mapping(out, mapping);
        store_created(created, d);
        Ok(())
    })
}

/// Removes a name now, whatever its lifetime: processes that hold the
/// mapping keep their memory, but nobody can open it any more.
///
/// # Safety
///
/// `name` must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_remove(name: *const c_char) -> ml_result {
    call("ml_mapping_remove", || {
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        Mapping::remove(name)?;
        Ok(())
    })
}

/// Lets go of a mapping handle (`CloseHandle`). Views made from it stay
/// valid. NULL is fine.
///
/// # Safety
///
/// `mapping` must be NULL or an open `ml_mapping` that no other thread is
/// using; it must not be used again.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_close(mapping: *mut ml_mapping) {
    let _ = call("ml_mapping_close", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { handle::destroy(mapping) }
    });
}

/// Stores the mapping's size in bytes (the size it was created with) in
/// `*out`.
///
/// # Safety
///
/// `mapping` must be an open `ml_mapping`; `out` valid for writing.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_size(mapping: *const ml_mapping, out: *mut u64) -> ml_result {
    call("ml_mapping_size", || {
        let out = Out::new(out, "out")?;
        // SAFETY: an open handle per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(mapping.size()) };
        Ok(())
    })
}

/// Stores the access the mapping was opened with (`ML_ACCESS_*`) in `*out`.
///
/// # Safety
///
/// As for `ml_mapping_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_access(
    mapping: *const ml_mapping,
    out: *mut ml_access,
) -> ml_result {
    call("ml_mapping_access", || {
        let out = Out::new(out, "out")?;
        // SAFETY: an open handle per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(access_code(mapping.access())) };
        Ok(())
    })
}

/// Copies the mapping's memlink name (such as `Local\demo`) into `buf` as a
/// NUL-terminated string and its length (without the NUL) into `*out_len`
/// (if not NULL). `ML_ERR_BUFFER_TOO_SMALL` when cut short.
///
/// # Safety
///
/// `mapping` must be an open `ml_mapping`; `buf` valid for writing `len`
/// bytes (or NULL with `len == 0`); `out_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_name(
    mapping: *const ml_mapping,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> ml_result {
    call("ml_mapping_name", || {
        // SAFETY: per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: per the contract.
        let mut buf = unsafe { args::bytes_mut(buf.cast(), len, "buf")? };
        // SAFETY: per the contract.
        unsafe { args::copy_text_out("name", &mapping.name().to_string(), &mut buf, out_len) }
    })
}

/// Copies the name the operating system knows the mapping by into `buf`, as
/// `ml_mapping_name` does. For `Global\NAME` on Linux that is `/NAME`, the
/// name to give `shm_open` (or Python's `multiprocessing.shared_memory`,
/// without the slash) to share the same memory.
///
/// # Safety
///
/// As for `ml_mapping_name`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_os_name(
    mapping: *const ml_mapping,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> ml_result {
    call("ml_mapping_os_name", || {
        // SAFETY: per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: per the contract.
        let mut buf = unsafe { args::bytes_mut(buf.cast(), len, "buf")? };
        // SAFETY: per the contract.
        unsafe { args::copy_text_out("OS name", mapping.os_name(), &mut buf, out_len) }
    })
}

/// Maps `len` bytes from `offset` (`MapViewOfFile`), with the mapping's own
/// access; `len == 0` means "to the end of the mapping", as on Windows.
/// Offsets need no alignment.
///
/// # Safety
///
/// `mapping` must be an open `ml_mapping`; `out` valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_view(
    mapping: *const ml_mapping,
    offset: u64,
    len: u64,
    out: *mut *mut ml_view,
) -> ml_result {
    call("ml_mapping_view", || {
        // SAFETY: per the contract.
        unsafe { make_view(mapping, offset, len, None, out) }
    })
}

/// Like `ml_mapping_view`, with the view's own access (`ML_ACCESS_*`): a
/// read-only view of a read-write mapping, or a copy-on-write one.
///
/// # Safety
///
/// As for `ml_mapping_view`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_view_with_access(
    mapping: *const ml_mapping,
    offset: u64,
    len: u64,
    access: ml_access,
    out: *mut *mut ml_view,
) -> ml_result {
    call("ml_mapping_view_with_access", || {
        // `*out` is NULL on every failure, a bad access included.
        handle_out(out)?;
        let AccessArg(access) = access.try_into()?;
        // SAFETY: per the contract.
        unsafe { make_view(mapping, offset, len, Some(access), out) }
    })
}

/// # Safety
///
/// As for `ml_mapping_view`.
unsafe fn make_view(
    mapping: *const ml_mapping,
    offset: u64,
    len: u64,
    access: Option<Access>,
    out: *mut *mut ml_view,
) -> Outcome {
    let out = handle_out(out)?;
    // SAFETY: per the caller's contract.
    let mapping = unsafe { handle::get(mapping)? };
    let len = if len == 0 {
        mapping.size().checked_sub(offset).ok_or_else(|| {
            Failure::from(memlink_core::Error::OutOfRange {
                name: mapping.name().to_string(),
                offset,
                len: 0,
                size: mapping.size(),
            })
        })?
    } else {
        len
    };
    let view = mapping.view_with(offset, len, access.unwrap_or(mapping.access()))?;
    // SAFETY: checked non-NULL; writable per the contract.
    unsafe { out.write(handle::into_raw::<ml_view>(view)) };
    Ok(())
}

/// Stores 1 in `*out` if the mapping stays after its last holder goes
/// (made with `ml_mapping_options_set_persistent`), else 0.
///
/// # Safety
///
/// As for `ml_mapping_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_is_persistent(
    mapping: *const ml_mapping,
    out: *mut i32,
) -> ml_result {
    call("ml_mapping_is_persistent", || {
        let out = Out::new(out, "out")?;
        // SAFETY: an open handle per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(i32::from(mapping.is_persistent())) };
        Ok(())
    })
}

/// Stores the user id that owns the mapping in `*out`.
///
/// # Safety
///
/// As for `ml_mapping_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_owner(mapping: *const ml_mapping, out: *mut u32) -> ml_result {
    call("ml_mapping_owner", || {
        let out = Out::new(out, "out")?;
        // SAFETY: an open handle per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(mapping.owner()) };
        Ok(())
    })
}

/// Stores the mapping's permission bits (such as `0600`) in `*out`.
///
/// # Safety
///
/// As for `ml_mapping_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_mode(mapping: *const ml_mapping, out: *mut u32) -> ml_result {
    call("ml_mapping_mode", || {
        let out = Out::new(out, "out")?;
        // SAFETY: an open handle per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(mapping.mode()) };
        Ok(())
    })
}

/// Copies the path of the mapping's backing file into `buf`, as
/// `ml_mapping_name` does; for a memory-backed mapping the path is empty
/// (`*out_len` is 0).
///
/// # Safety
///
/// As for `ml_mapping_name`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_file(
    mapping: *const ml_mapping,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> ml_result {
    call("ml_mapping_file", || {
        // SAFETY: per the contract.
        let mapping = unsafe { handle::get(mapping)? };
        // SAFETY: per the contract.
        let mut buf = unsafe { args::bytes_mut(buf.cast(), len, "buf")? };
        let path = match mapping.backing() {
            memlink_core::Backing::File(path) => path.to_string_lossy().into_owned(),
            _ => String::new(),
        };
        // SAFETY: per the contract.
        unsafe { args::copy_text_out("file path", &path, &mut buf, out_len) }
    })
}
