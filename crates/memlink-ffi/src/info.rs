//! Listing, inspecting and reclaiming mappings: `ml_mapping_inspect`,
//! `ml_mapping_list`, `ml_mapping_reclaim_stale` and `ml_info_list_*`.

use std::ffi::{c_char, CString};

use memlink_core::{Backing, Mapping, MappingInfo, Namespace};

use crate::args::{self, handle_out, Out};
use crate::boundary::call;
use crate::codes::{ml_result, ML_ERR_OUT_OF_RANGE};
use crate::failure::Failure;
use crate::handle::{self, impl_handle, Tagged};

/// A namespace (`ML_NAMESPACE_*`), passed as an integer.
pub type ml_namespace = i32;
/// Per user: `Local\NAME`, or a name without a prefix.
pub const ML_NAMESPACE_LOCAL: ml_namespace = 1;
/// Machine-wide: `Global\NAME`.
pub const ML_NAMESPACE_GLOBAL: ml_namespace = 2;

/// Whether some process holds a mapping (`ml_mapping_info.live`).
pub type ml_liveness = i32;
/// Nobody holds it: a dead transient mapping, awaiting
/// `ml_mapping_reclaim_stale` (or a persistent one nobody has open).
pub const ML_LIVE_NO: ml_liveness = 0;
/// Some process holds it.
pub const ML_LIVE_YES: ml_liveness = 1;
/// This user may not look.
pub const ML_LIVE_UNKNOWN: ml_liveness = -1;

/// A description of a named mapping, taken without holding it. The strings
/// and the `holders` array belong to the `ml_info_list` it came from and
/// stay valid until `ml_info_list_free`.
#[repr(C)]
pub struct ml_mapping_info {
    /// The memlink name, such as `Global\demo`.
    pub name: *const c_char,
    /// The name the operating system knows it by (`/demo` on Linux).
    pub os_name: *const c_char,
    /// Where the object sits in the file system.
    pub path: *const c_char,
    /// The backing file, or NULL for a memory-backed mapping (and when the
    /// OS does not say what backs it).
    pub file: *const c_char,
    /// The size in bytes.
    pub size: u64,
    /// The owning user id.
    pub owner: u32,
    /// The permission bits, or `ML_MODE_UNKNOWN` when the OS does not say
    /// (a section another program made, on Windows).
    pub mode: u32,
    /// 1 if it stays after its last holder goes, else 0.
    pub persistent: i32,
    /// `ML_LIVE_*`.
    pub live: ml_liveness,
    /// The processes that hold it, as far as this user can see.
    pub holders: *const u32,
    /// How many entries `holders` has.
    pub holders_len: usize,
}

/// `ml_mapping_info.mode` when the OS does not tell a mapping's mode.
pub const ML_MODE_UNKNOWN: u32 = u32::MAX;

pub(crate) struct Entry {
    name: CString,
    os_name: CString,
    path: CString,
    file: Option<CString>,
    size: u64,
    owner: u32,
    mode: u32,
    persistent: bool,
    live: ml_liveness,
    holders: Vec<u32>,
}

fn c_string(s: String) -> CString {
    // Names and paths hold no NUL on any OS memlink runs on; cut at one
    // rather than fail if one ever did.
    CString::new(s).unwrap_or_else(|e| {
        let at = e.nul_position();
        let mut bytes = e.into_vec();
        bytes.truncate(at);
        CString::new(bytes).unwrap_or_default()
    })
}

impl Entry {
    fn new(info: MappingInfo) -> Entry {
        Entry {
            name: c_string(info.name.to_string()),
            os_name: c_string(info.os_name.clone()),
            path: c_string(info.path.to_string_lossy().into_owned()),
            file: match &info.backing {
                Backing::File(p) => Some(c_string(p.to_string_lossy().into_owned())),
                _ => None,
            },
            size: info.size,
            owner: info.owner,
            mode: info.mode.unwrap_or(ML_MODE_UNKNOWN),
            persistent: info.persistent,
            live: match info.live {
                Some(true) => ML_LIVE_YES,
                Some(false) => ML_LIVE_NO,
                None => ML_LIVE_UNKNOWN,
            },
            holders: info.holders,
        }
    }
}

/// A list of mapping descriptions (`ml_mapping_list`, `ml_mapping_inspect`)
/// or of names (`ml_mapping_reclaim_stale`). Opaque; free with
/// `ml_info_list_free`.
pub struct ml_info_list {
    inner: Tagged<Vec<Entry>>,
}
impl_handle!(ml_info_list, Vec<Entry>, b"mlINFOLS");

fn store(out: Out<*mut ml_info_list>, entries: Vec<Entry>) {
    // SAFETY: checked non-NULL by `handle_out`; writable per the contract.
    unsafe { out.write(handle::into_raw::<ml_info_list>(entries)) };
}

/// Describes the mapping `name` without holding it, as a list of one entry.
/// `ML_ERR_NOT_FOUND` if there is none.
///
/// # Safety
///
/// `name` must be a NUL-terminated string; `out` valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_inspect(
    name: *const c_char,
    out: *mut *mut ml_info_list,
) -> ml_result {
    call("ml_mapping_inspect", || {
        let out = handle_out(out)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        store(out, vec![Entry::new(Mapping::inspect(name)?)]);
        Ok(())
    })
}

/// Describes every mapping of `namespace` (`ML_NAMESPACE_*`) that this
/// user can see (the `memlink ls` command).
///
/// # Safety
///
/// `out` must be valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_list(
    namespace: ml_namespace,
    out: *mut *mut ml_info_list,
) -> ml_result {
    call("ml_mapping_list", || {
        let out = handle_out(out)?;
        let namespace = match namespace {
            ML_NAMESPACE_LOCAL => Namespace::Local,
            ML_NAMESPACE_GLOBAL => Namespace::Global,
            v => {
                return Err(Failure::invalid(format!(
                    "namespace {v} is neither ML_NAMESPACE_LOCAL (1) nor ML_NAMESPACE_GLOBAL (2)"
                )))
            }
        };
        let entries = Mapping::list(namespace)?.into_iter().map(Entry::new);
        store(out, entries.collect());
        Ok(())
    })
}

/// Removes this user's transient mappings, in both namespaces, whose
/// holders all died without letting go (the `memlink gc` command), and
/// stores the list of their names: only the `name` of each entry is set,
/// the other strings are empty and the numbers 0.
///
/// # Safety
///
/// `out` must be valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_mapping_reclaim_stale(out: *mut *mut ml_info_list) -> ml_result {
    call("ml_mapping_reclaim_stale", || {
        let out = handle_out(out)?;
        let names = Mapping::reclaim_stale()?;
        let entries = names.into_iter().map(|name| Entry {
            name: c_string(name.to_string()),
            os_name: CString::default(),
            path: CString::default(),
            file: None,
            size: 0,
            owner: 0,
            mode: 0,
            persistent: false,
            live: ML_LIVE_NO,
            holders: Vec::new(),
        });
        store(out, entries.collect());
        Ok(())
    })
}

/// Stores how many entries the list has in `*out`.
///
/// # Safety
///
/// `list` must be an open `ml_info_list`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_info_list_len(list: *const ml_info_list, out: *mut usize) -> ml_result {
    call("ml_info_list_len", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let list = unsafe { handle::get(list)? };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(list.len()) };
        Ok(())
    })
}

/// Stores entry `index` of the list in `*out`; its pointers stay valid
/// until `ml_info_list_free`. `ML_ERR_OUT_OF_RANGE` past the end.
///
/// # Safety
///
/// `list` must be an open `ml_info_list`; `out` valid for writing an
/// `ml_mapping_info`.
#[no_mangle]
pub unsafe extern "C" fn ml_info_list_get(
    list: *const ml_info_list,
    index: usize,
    out: *mut ml_mapping_info,
) -> ml_result {
    call("ml_info_list_get", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let list = unsafe { handle::get(list)? };
        let entry = list.get(index).ok_or_else(|| {
            Failure::new(
                ML_ERR_OUT_OF_RANGE,
                format!("entry {index} of a list of {}", list.len()),
            )
        })?;
        let c = ml_mapping_info {
            name: entry.name.as_ptr(),
            os_name: entry.os_name.as_ptr(),
            path: entry.path.as_ptr(),
            file: entry.file.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            size: entry.size,
            owner: entry.owner,
            mode: entry.mode,
            persistent: i32::from(entry.persistent),
            live: entry.live,
            holders: entry.holders.as_ptr(),
            holders_len: entry.holders.len(),
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(c) };
        Ok(())
    })
}

/// Frees a list. NULL is fine.
///
/// # Safety
///
/// `list` must be NULL or an open `ml_info_list` that no other thread uses.
#[no_mangle]
pub unsafe extern "C" fn ml_info_list_free(list: *mut ml_info_list) {
    let _ = call("ml_info_list_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { handle::destroy(list) }
    });
}
