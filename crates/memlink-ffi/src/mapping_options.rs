//! Mapping options: `ml_mapping_options_*`.

use std::ffi::c_char;
use std::time::Duration;

use memlink_core::MappingOptions;

use crate::args::{self, handle_out};
use crate::boundary::call;
use crate::codes::ml_result;
use crate::failure::Failure;
use crate::handle::{self, impl_handle, Tagged};
use crate::mapping::{ml_access, ml_mapping, store_created, store_mapping, AccessArg};

/// Options for creating and opening mappings (size, access, mode, lifetime,
/// backing file). Opaque; free with `ml_mapping_options_free`. Use from one
/// thread at a time.
pub struct ml_mapping_options {
    inner: Tagged<MappingOptions>,
}
impl_handle!(ml_mapping_options, MappingOptions, b"mlMAPOPT");

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
        unsafe { out.write(handle::into_raw::<ml_mapping_options>(MappingOptions::new())) };
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
        unsafe { handle::destroy(options) }
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
        handle::update("ml_mapping_options_set_size", options, |o| {
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
        handle::update("ml_mapping_options_set_access", options, |o| {
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
        handle::update("ml_mapping_options_set_mode", options, |o| {
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
        handle::update("ml_mapping_options_set_persistent", options, |o| {
            o.persistent(args::flag(persistent));
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
        handle::update("ml_mapping_options_set_allow_foreign_owner", options, |o| {
            o.allow_foreign_owner(args::flag(allow));
            Ok(())
        })
    }
}

/// How long open waits for a name that another process is removing at that
/// moment, or holds locked, before it fails with `ML_ERR_BUSY`: `ms`
/// milliseconds (default 2000). 0: never wait, `ML_ERR_BUSY` at once. A
/// lock held longer than a removal takes (250 ms) is somebody else's, and
/// open then goes ahead without it; with a shorter timeout it says
/// `ML_ERR_BUSY` instead. The wait is always bounded: a negative value
/// (`ML_TIMEOUT_INFINITE` included) is `ML_ERR_INVALID_ARGUMENT`. Unix
/// only: on Windows a name is never busy for open.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_busy_timeout(
    options: *mut ml_mapping_options,
    ms: i64,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_mapping_options_set_busy_timeout", options, |o| {
            let ms = u64::try_from(ms).map_err(|_| {
                Failure::invalid(format!(
                    "busy timeout {ms} ms: use 0 (never wait) or more milliseconds; \
                     the wait for a busy name is always bounded"
                ))
            })?;
            o.busy_timeout(Duration::from_millis(ms));
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
        handle::update("ml_mapping_options_set_populate", options, |o| {
            o.populate(args::flag(populate));
            Ok(())
        })
    }
}

/// Nonzero: lock the pages of every view in RAM (`mlock`, subject to
/// `RLIMIT_MEMLOCK`; the article's large-page / `SEC_COMMIT` territory). A
/// view that cannot be locked fails to map.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_lock_in_memory(
    options: *mut ml_mapping_options,
    lock: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_mapping_options_set_lock_in_memory", options, |o| {
            o.lock_in_memory(args::flag(lock));
            Ok(())
        })
    }
}

/// Nonzero: huge pages. On Linux, create backs a memory mapping with
/// transparent huge pages, which needs `/dev/shm` mounted with
/// `huge=advise` (or `always`, `within_size`, or `shmem_enabled=force`);
/// elsewhere, and for file-backed mappings, create fails with
/// `ML_ERR_UNSUPPORTED` rather than silently giving small pages. For open
/// it is a hint for this process's views.
///
/// # Safety
///
/// As for `ml_mapping_options_set_size`.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_options_set_huge_pages(
    options: *mut ml_mapping_options,
    huge: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_mapping_options_set_huge_pages", options, |o| {
            o.huge_pages(args::flag(huge));
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
        o.file(unsafe { args::path(path)? });
        Ok(())
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { handle::update("ml_mapping_options_set_file", options, set) }
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
        let (options, name) = unsafe { (options_or_default(options)?, args::name(name)?) };
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
        let (options, name) = unsafe { (options_or_default(options)?, args::name(name)?) };
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
        let (options, name) = unsafe { (options_or_default(options)?, args::name(name)?) };
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
    Ok(unsafe { handle::get(options)? }.clone())
}
