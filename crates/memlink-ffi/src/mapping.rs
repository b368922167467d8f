//! Named mappings and views: `ml_mapping_*`, `ml_mapping_options_*`,
//! `ml_view_*`.

use std::ffi::c_char;
use std::sync::atomic::Ordering;

use memlink_core::{Access, Disposition, Mapping, MappingOptions, View};

use crate::error::{call, ml_result, Failure, Outcome};
use crate::util::{self, impl_handle, Out, Tagged};

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

fn access_code(a: Access) -> ml_access {
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

/// A mapped range of a mapping (`MapViewOfFile`). Opaque; close with
/// `ml_view_close`. It keeps its mapping alive, even after the
/// `ml_mapping` it came from is closed. Usable from any thread.
pub struct ml_view {
    inner: Tagged<View>,
}
impl_handle!(ml_view, View, b"mlVIEW__");

/// Options for creating and opening mappings (size, access, mode, lifetime,
/// backing file). Opaque; free with `ml_mapping_options_free`. Use from one
/// thread at a time.
pub struct ml_mapping_options {
    inner: Tagged<MappingOptions>,
}
impl_handle!(ml_mapping_options, MappingOptions, b"mlMAPOPT");

/// Clears `*out` first, so that it is NULL whenever the call fails.
fn handle_out<H>(out: *mut *mut H) -> Result<Out<*mut H>, Failure> {
    let out = Out::new(out, "out")?;
    // SAFETY: every export's contract: `out` is valid for writing a pointer.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(out)
}

fn store_mapping(out: Out<*mut ml_mapping>, mapping: Mapping) {
    // SAFETY: checked non-NULL by `handle_out`; writable per the contract.
    unsafe { out.write(util::into_raw::<ml_mapping>(mapping)) };
}

fn store_created(created: *mut i32, d: Disposition) {
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
        let name = unsafe { util::name(name)? };
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
        let name = unsafe { util::name(name)? };
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
        let name = unsafe { util::name(name)? };
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
        let name = unsafe { util::name(name)? };
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
        unsafe { util::destroy(mapping) }
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
        let mapping = unsafe { util::get(mapping)? };
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
        let mapping = unsafe { util::get(mapping)? };
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
        let mapping = unsafe { util::get(mapping)? };
        // SAFETY: per the contract.
        let mut buf = unsafe { util::bytes_mut(buf.cast(), len, "buf")? };
        // SAFETY: per the contract.
        unsafe { util::copy_text_out("name", &mapping.name().to_string(), &mut buf, out_len) }
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
        let mapping = unsafe { util::get(mapping)? };
        // SAFETY: per the contract.
        let mut buf = unsafe { util::bytes_mut(buf.cast(), len, "buf")? };
        // SAFETY: per the contract.
        unsafe { util::copy_text_out("OS name", mapping.os_name(), &mut buf, out_len) }
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
    let mapping = unsafe { util::get(mapping)? };
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
    unsafe { out.write(util::into_raw::<ml_view>(view)) };
    Ok(())
}

/// Creates a mapping options object with the defaults: size 0, read-write,
/// memory-backed, mode 0600, transient, other users' objects refused.
///
/// # Safety
///
/// `out` must be valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_new(out: *mut *mut ml_mapping_options) -> ml_result {
    call("ml_mapping_options_new", || {
        let out = handle_out(out)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(util::into_raw::<ml_mapping_options>(MappingOptions::new())) };
        Ok(())
    })
}

/// Frees an options object. NULL is fine.
///
/// # Safety
///
/// `options` must be NULL or an `ml_mapping_options` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_free(options: *mut ml_mapping_options) {
    let _ = call("ml_mapping_options_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { util::destroy(options) }
    });
}

/// The size in bytes for create. For a file-backed mapping 0 means "the
/// file's size", and a larger size grows the file.
///
/// # Safety
///
/// `options` must be an `ml_mapping_options` used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_size(
    options: *mut ml_mapping_options,
    size: u64,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_mapping_options_set_size", options, |o| {
            o.size(size);
            Ok(())
        })
    }
}

/// The access to open with (`ML_ACCESS_*`), and the default access of views.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_access(
    options: *mut ml_mapping_options,
    access: ml_access,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_mapping_options_set_access", options, |o| {
            let AccessArg(access) = access.try_into()?;
            o.access(access);
            Ok(())
        })
    }
}

/// Permission bits for create (at most `0777`, default `0600`).
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_mode(
    options: *mut ml_mapping_options,
    mode: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_mapping_options_set_mode", options, |o| {
            o.mode(mode);
            Ok(())
        })
    }
}

/// Nonzero: the mapping stays after its last holder goes, until
/// `ml_mapping_remove`.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_persistent(
    options: *mut ml_mapping_options,
    persistent: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_mapping_options_set_persistent", options, |o| {
            o.persistent(util::flag(persistent));
            Ok(())
        })
    }
}

/// Nonzero: accept a mapping that another user created.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_allow_foreign_owner(
    options: *mut ml_mapping_options,
    allow: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_mapping_options_set_allow_foreign_owner", options, |o| {
            o.allow_foreign_owner(util::flag(allow));
            Ok(())
        })
    }
}

/// Nonzero: fault in every page when a view is mapped.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_populate(
    options: *mut ml_mapping_options,
    populate: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        util::update("ml_mapping_options_set_populate", options, |o| {
            o.populate(util::flag(populate));
            Ok(())
        })
    }
}

/// Back the mapping with the file at `path` (created when missing and the
/// access is read-write), instead of memory.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`; `path` must be a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_file(
    options: *mut ml_mapping_options,
    path: *const c_char,
) -> ml_result {
    let set = |o: &mut MappingOptions| {
        // SAFETY: NUL-terminated per the contract.
        o.file(unsafe { util::path(path)? });
        Ok(())
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { util::update("ml_mapping_options_set_file", options, set) }
}

/// Creates a mapping with `options` (NULL: the defaults, which need a size,
/// so NULL fails with `ML_ERR_ZERO_SIZE`).
///
/// # Safety
///
/// `options` must be NULL or an `ml_mapping_options` not used by another
/// thread meanwhile; `name` a NUL-terminated string; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_create(
    options: *const ml_mapping_options,
    name: *const c_char,
    out: *mut *mut ml_mapping,
) -> ml_result {
    call("ml_mapping_options_create", || {
        let out = handle_out(out)?;
        // SAFETY: per the contract.
        let (options, name) = unsafe { (options_or_default(options)?, util::name(name)?) };
        store_mapping(out, options.create(name)?);
        Ok(())
    })
}

/// Opens an existing mapping with `options` (NULL: the defaults).
///
/// # Safety
///
/// As for `ml_mapping_options_create`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_open(
    options: *const ml_mapping_options,
    name: *const c_char,
    out: *mut *mut ml_mapping,
) -> ml_result {
    call("ml_mapping_options_open", || {
        let out = handle_out(out)?;
        // SAFETY: per the contract.
        let (options, name) = unsafe { (options_or_default(options)?, util::name(name)?) };
        store_mapping(out, options.open(name)?);
        Ok(())
    })
}

/// Opens or creates a mapping with `options` (NULL: the defaults), storing
/// 1 (created) or 0 (opened) in `*created` if not NULL.
///
/// # Safety
///
/// As for `ml_mapping_options_create`; `created` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_open_or_create(
    options: *const ml_mapping_options,
    name: *const c_char,
    out: *mut *mut ml_mapping,
    created: *mut i32,
) -> ml_result {
    call("ml_mapping_options_open_or_create", || {
        let out = handle_out(out)?;
        // SAFETY: per the contract.
        let (options, name) = unsafe { (options_or_default(options)?, util::name(name)?) };
        let (mapping, d) = options.open_or_create(name)?;
        store_mapping(out, mapping);
        store_created(created, d);
        Ok(())
    })
}

/// # Safety
///
/// `options` must be NULL or an open `ml_mapping_options`.
unsafe fn options_or_default(
    options: *const ml_mapping_options,
) -> Result<MappingOptions, Failure> {
    if options.is_null() {
        return Ok(MappingOptions::new());
    }
    // SAFETY: per the caller's contract.
    Ok(unsafe { util::get(options)? }.clone())
}

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
        unsafe { util::destroy(view) }
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
        let view = unsafe { util::get(view)? };
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
        let view = unsafe { util::get(view)? };
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
        let view = unsafe { util::get(view)? };
        // SAFETY: per the contract.
        let mut buf = unsafe { util::bytes_mut(buf, len, "buf")? };
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
        let view = unsafe { util::get(view)? };
        // SAFETY: per the contract.
        let data = unsafe { util::bytes(data, len, "data")? };
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
        unsafe { util::get(view)? }.flush()?;
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
        unsafe { util::get(view)? }.flush_async()?;
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
        unsafe { util::get(view)? }.flush_range(offset, len)?;
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
        let v = unsafe { util::get(view)? }.load_u32(offset, Ordering::Acquire)?;
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
        let view = unsafe { util::get(view)? };
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
        let v = unsafe { util::get(view)? }.load_u64(offset, Ordering::Acquire)?;
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
        let view = unsafe { util::get(view)? };
        view.atomic_u64(offset)?.store(value, Ordering::Release);
        Ok(())
    })
}
