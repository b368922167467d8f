//! The record `NAME/meta`: memlink's own facts about a mapping (state,
//! logical size, mode, backing path, holders), in a small section beside
//! it. See "Publishing" in `object.rs` for how it guards a name.
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE};
use windows_sys::Win32::System::Memory::{FILE_MAP_READ, FILE_MAP_WRITE};
use windows_sys::Win32::System::Threading::GetCurrentThreadId;

use super::error::{is_not_found, open_error, os_error};
use super::handle::companion;
use super::process::{current_process, process_alive};
use std::os::windows::io::OwnedHandle;

use super::section::{open_section, AllAtomic, SharedView, SECTION_QUERY};
use super::security::effective_uid;
use crate::error::{Error, Result};
use crate::name::Name;
use crate::sys::ProcessIdentity;
use crate::types::{Access, Backing};

/// First word of a record: `"mlmeta"`, a NUL and a format byte.
const META_MAGIC: u64 = u64::from_le_bytes(*b"mlmeta\0\x01");
/// Layout version of [`Meta`].
const META_VERSION: u32 = 1;
/// How many holders a record can list (for `ls`); more holders work, they
/// are just not all listed.
const HOLDER_SLOTS: usize = 64;
/// The longest backing-file path a record holds, in UTF-16 units.
pub(super) const PATH_UNITS: usize = 4000;

/// Record states.
mod state {
    // 0: the record is still being written (its magic is 0 too).
    /// Written; the creator is initialising the mapping.
    pub const INITIALISING: u32 = 1;
    /// Published: `open` may use it.
    pub const READY: u32 = 2;
    /// The creator gave up before publishing.
    pub const ABANDONED: u32 = 3;
    /// `remove` was called: gone for memlink, until the holders let go.
    pub const REMOVED: u32 = 4;
}

/// `flags` bit: the mapping is backed by the file at `path`.
const FLAG_FILE: u32 = 1;

/// memlink's record of a mapping, in the section `NAME/meta`.
///
/// Anyone who may write the mapping may write the record, so every field is
/// an atomic (valid for any bit pattern) and read once, then checked. The
/// creator writes every field before `magic` (Release) and `state`.
#[repr(C)]
pub(super) struct Meta {
    magic: AtomicU64,
    version: AtomicU32,
    state: AtomicU32,
    /// The logical size in bytes.
    size: AtomicU64,
    /// The creator: [`identity_word`].
    creator: AtomicU64,
    /// The creator's thread (another thread of its process may wait for it).
    creator_thread: AtomicU32,
    mode: AtomicU32,
    /// The creator's RID, for display.
    owner: AtomicU32,
    flags: AtomicU32,
    /// Length of `path`, in UTF-16 units.
    path_len: AtomicU32,
    _reserved: AtomicU32,
    /// Holders, as [`identity_word`]s; 0 is a free slot.
    holders: [AtomicU64; HOLDER_SLOTS],
    /// The backing file's path (UTF-16, not terminated).
    path: [AtomicU16; PATH_UNITS],
}

const _: () = assert!(size_of::<Meta>() == 56 + 8 * HOLDER_SLOTS + 2 * PATH_UNITS);

// SAFETY: `#[repr(C)]`, atomics and arrays of atomics only, 8-byte aligned.
unsafe impl AllAtomic for Meta {}

impl Meta {
    /// Publishes the record: `open` may use the mapping from now on.
    pub(super) fn mark_ready(&self) {
        // Release: pairs with the Acquire load of `state` in
        // `read_record`: the initialised contents are published with it.
        self.state.store(state::READY, Ordering::Release);
    }

    /// Marks a record whose creator gave up.
    pub(super) fn abandon(&self) {
        // Relaxed: waiters only need to see the state change at all.
        self.state.store(state::ABANDONED, Ordering::Relaxed);
    }

    /// Marks a record still being initialised as abandoned (its creator
    /// dropped it unpublished).
    pub(super) fn abandon_unpublished(&self) {
        // Relaxed: waiters only need to see the state change at all.
        let _ = self.state.compare_exchange(
            state::INITIALISING,
            state::ABANDONED,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Marks a published record removed; `false` if it was not published.
    pub(super) fn mark_removed(&self) -> bool {
        // Relaxed: `open` only needs to see the state change at all.
        self.state
            .compare_exchange(
                state::READY,
                state::REMOVED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Frees holder slot `slot` if `me` still has it.
    pub(super) fn release_holder(&self, slot: usize, me: u64) {
        let _ = self.holders[slot].compare_exchange(me, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// A process identity as one word: pid in the high half, the low 32 bits of
/// its creation time in the low half.
pub(super) fn identity_word(me: &ProcessIdentity) -> u64 {
    (u64::from(me.pid) << 32) | (me.start & 0xFFFF_FFFF)
}

fn word_alive(word: u64) -> bool {
    process_alive((word >> 32) as u32, Some(word as u32))
}

/// What `open` and `inspect` read from a record, checked.
pub(super) struct Record {
    pub(super) size: u64,
    pub(super) mode: u32,
    pub(super) owner: u32,
    pub(super) backing: Backing,
}

/// Reads a ready record once, checking every field. `Ok(None)`: the record
/// is not ready (the name does not exist, as far as memlink is concerned).
pub(super) fn read_record(meta: &Meta, name: &Name) -> Result<Option<Record>> {
    let corrupt = |what: String| Error::Corrupt {
        name: name.to_string(),
        what,
    };
    // Acquire: pairs with the Release store of `magic` in `write_record`.
    match meta.magic.load(Ordering::Acquire) {
        META_MAGIC => {}
        0 => return Ok(None),
        other => {
            return Err(corrupt(format!(
                "its memlink record ({name}/meta) starts with {other:#018x}, not memlink's magic"
            )))
        }
    }
    let version = meta.version.load(Ordering::Relaxed);
    if version != META_VERSION {
        return Err(corrupt(format!(
            "its memlink record has layout version {version}; this build understands \
             {META_VERSION}"
        )));
    }
    // Acquire: pairs with the Release store of READY in `publish`, so the
    // mapping's initialised contents are visible to whoever opens it.
    if meta.state.load(Ordering::Acquire) != state::READY {
        return Ok(None);
    }
    let size = meta.size.load(Ordering::Relaxed);
    if size == 0 {
        return Err(corrupt("its memlink record says size 0".into()));
    }
    let backing = if meta.flags.load(Ordering::Relaxed) & FLAG_FILE != 0 {
        let len = meta.path_len.load(Ordering::Relaxed) as usize;
        if len == 0 || len > PATH_UNITS {
            return Err(corrupt(format!(
                "its memlink record has a backing path of {len} units"
            )));
        }
        let units: Vec<u16> = meta.path[..len]
            .iter()
            .map(|u| u.load(Ordering::Relaxed))
            .collect();
        let path = PathBuf::from(std::ffi::OsString::from_wide_units(&units));
        if !path.is_absolute() {
            return Err(corrupt(
                "its memlink record has a relative backing path".into(),
            ));
        }
        Backing::File(path)
    } else {
        Backing::Memory
    };
    Ok(Some(Record {
        size,
        mode: meta.mode.load(Ordering::Relaxed) & 0o777,
        owner: meta.owner.load(Ordering::Relaxed),
        backing,
    }))
}

/// `OsString::from_wide`, named so that it reads well above.
trait FromWideUnits {
    fn from_wide_units(units: &[u16]) -> std::ffi::OsString;
}
impl FromWideUnits for std::ffi::OsString {
    fn from_wide_units(units: &[u16]) -> std::ffi::OsString {
        use std::os::windows::ffi::OsStringExt;
        std::ffi::OsString::from_wide(units)
    }
}

/// Writes a new record; `magic` goes last, then `state` says initialising.
pub(super) fn write_record(meta: &Meta, size: u64, mode: u32, path: Option<&[u16]>) {
    meta.version.store(META_VERSION, Ordering::Relaxed);
    meta.size.store(size, Ordering::Relaxed);
    meta.creator
        .store(identity_word(&current_process()), Ordering::Relaxed);
    // SAFETY: no arguments.
    let thread = unsafe { GetCurrentThreadId() };
    meta.creator_thread.store(thread, Ordering::Relaxed);
    meta.mode.store(mode, Ordering::Relaxed);
    meta.owner.store(effective_uid(), Ordering::Relaxed);
    if let Some(path) = path {
        for (slot, unit) in meta.path.iter().zip(path) {
            slot.store(*unit, Ordering::Relaxed);
        }
        meta.path_len.store(path.len() as u32, Ordering::Relaxed);
        meta.flags.store(FLAG_FILE, Ordering::Relaxed);
    }
    meta.state.store(state::INITIALISING, Ordering::Relaxed);
    // Release: pairs with the Acquire load of `magic` in `read_record` and
    // `judge_existing`.
    meta.magic.store(META_MAGIC, Ordering::Release);
}

/// The record of a mapping, as `open_record` found it: `None` when there
/// was none (another program's mapping); `NotFound` when it is not
/// published (the name does not exist yet, as far as memlink is concerned).
pub(super) fn published(meta: Option<&SharedView<Meta>>, name: &Name) -> Result<Option<Record>> {
    let Some(view) = meta else {
        return Ok(None);
    };
    match read_record(view.get(), name)? {
        Some(record) => Ok(Some(record)),
        None => Err(Error::NotFound {
            name: name.to_string(),
        }),
    }
}

/// Takes a holder slot in a record; `None` when all are taken by live
/// holders (the mapping works the same, `ls` just does not list us).
pub(super) fn register_holder(meta: &Meta) -> Option<(usize, u64)> {
    let me = identity_word(&current_process());
    let free = |i: usize, seen: u64| {
        // Relaxed: the slots are informative; nothing else is published
        // through them.
        meta.holders[i]
            .compare_exchange(seen, me, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            .then_some((i, me))
    };
    for i in 0..HOLDER_SLOTS {
        if meta.holders[i].load(Ordering::Relaxed) == 0 {
            if let Some(slot) = free(i, 0) {
                return Some(slot);
            }
        }
    }
    // Full: take over the slot of a holder that died without letting go.
    for i in 0..HOLDER_SLOTS {
        let seen = meta.holders[i].load(Ordering::Relaxed);
        if seen != me && !word_alive(seen) {
            if let Some(slot) = free(i, seen) {
                return Some(slot);
            }
        }
    }
    None
}

/// The live holders listed in a record, one entry per process.
pub(super) fn live_holders(meta: &Meta) -> Vec<u32> {
    let mut pids = Vec::new();
    for slot in &meta.holders {
        let word = slot.load(Ordering::Relaxed);
        let pid = (word >> 32) as u32;
        if word != 0 && !pids.contains(&pid) && word_alive(word) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// Opens the record of `name` (read-write if `writable` and allowed), or
/// `None` when there is none.
pub(super) fn open_record(name: &Name, writable: bool) -> Result<Option<SharedView<Meta>>> {
    let meta_name = companion(&name.to_string(), "meta");
    let read_write = FILE_MAP_READ | FILE_MAP_WRITE;
    let (section, writable) = match open_section(
        &meta_name,
        if writable { read_write } else { FILE_MAP_READ },
    ) {
        Ok(section) => (section, writable),
        // A reader without write access to the record: no holder slot.
        Err(e) if writable && e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => {
            match open_section(&meta_name, FILE_MAP_READ) {
                Ok(section) => (section, false),
                Err(e) => return Err(open_error(e, name, "open", Access::ReadOnly)),
            }
        }
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) if e.raw_os_error() == Some(ERROR_INVALID_HANDLE as i32) => return Ok(None),
        Err(e) => return Err(open_error(e, name, "open", Access::ReadOnly)),
    };
    SharedView::map(section, writable)
        .map(Some)
        .map_err(|e| os_error("map the record of", name, e))
}

/// What an existing record means for a `create` of its name.
pub(super) enum Existing {
    /// A live, published mapping (or something that is not memlink's).
    Taken,
    /// Being initialised by a live process, abandoned, removed, or left by a
    /// dead creator: it resolves by itself shortly.
    Settling,
}

pub(super) fn judge_existing(record: OwnedHandle, section_name: &[u16]) -> Existing {
    let Ok(view) = SharedView::<Meta>::map(record, false) else {
        return Existing::Taken;
    };
    let meta = view.get();
    // Acquire: pairs with the Release store in `write_record`.
    match meta.magic.load(Ordering::Acquire) {
        // Its creator is writing it right now.
        0 => return Existing::Settling,
        META_MAGIC => {}
        _ => return Existing::Taken,
    }
    match meta.state.load(Ordering::Acquire) {
        // Published; unless its section is already gone and the record is
        // about to follow (its last holders are leaving).
        state::READY
            if open_section(section_name, SECTION_QUERY).is_err_and(|e| is_not_found(&e)) =>
        {
            Existing::Settling
        }
        state::READY => Existing::Taken,
        state::INITIALISING => {
            let creator = meta.creator.load(Ordering::Relaxed);
            let thread = meta.creator_thread.load(Ordering::Relaxed);
            // SAFETY: no arguments.
            let me = unsafe { GetCurrentThreadId() };
            if creator == identity_word(&current_process()) && thread == me {
                // This very thread is initialising it: waiting would not help.
                Existing::Taken
            } else {
                Existing::Settling
            }
        }
        _ => Existing::Settling,
    }
}
