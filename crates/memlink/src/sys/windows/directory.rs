//! `inspect` and `list`: a namespace's object-manager directory, read with
//! `NtQueryDirectoryObject`, and each mapping described from its section
//! and record without becoming a holder.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::path::PathBuf;
use std::ptr::{null, null_mut};

use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Wdk::Storage::FileSystem::{NtOpenDirectoryObject, NtQueryDirectoryObject};
use windows_sys::Win32::Foundation::{HANDLE, STATUS_NO_MORE_ENTRIES, UNICODE_STRING};
use windows_sys::Win32::Storage::FileSystem::READ_CONTROL;
use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
use windows_sys::Win32::System::Threading::GetCurrentProcessId;

use super::error::open_error;
use super::handle::{owned, raw, wide};
use super::record::{live_holders, open_record, published};
use super::section::{open_section, section_size, SECTION_QUERY};
use super::security::{effective_uid, section_owner};
use crate::error::{Error, Result};
use crate::name::{Name, Namespace};
use crate::types::{Access, Backing, MappingInfo};

/// Describes one named object without becoming a holder.
pub(crate) fn inspect(name: &Name) -> Result<MappingInfo> {
    describe(name, &namespace_directory(name.namespace()))
}

fn describe(name: &Name, directory: &str) -> Result<MappingInfo> {
    let object_name = name.to_string();
    let meta = open_record(name, false)?;
    let record = published(meta.as_ref(), name)?;
    let section = open_section(&wide(&object_name), SECTION_QUERY | READ_CONTROL)
        .map_err(|e| open_error(e, name, "inspect", Access::ReadOnly))?;
    let rid = section_owner(&section).map(|(_, rid)| rid);
    let path = PathBuf::from(format!("{directory}\\{}", name.base()));
    Ok(match (record, meta) {
        (Some(record), Some(view)) => MappingInfo {
            name: name.clone(),
            size: record.size,
            os_name: object_name,
            path,
            backing: record.backing,
            owner: rid.unwrap_or(record.owner),
            mode: Some(record.mode),
            persistent: false,
            live: Some(true),
            holders: live_holders(view.get()),
        },
        _ => MappingInfo {
            name: name.clone(),
            size: section_size(&section).unwrap_or(0),
            os_name: object_name,
            path,
            // Another program's section: Windows says neither what backs it
            // nor a mode (its DACL is not one).
            backing: Backing::Unknown,
            owner: rid.unwrap_or_else(effective_uid),
            mode: None,
            persistent: false,
            live: Some(true),
            holders: Vec::new(),
        },
    })
}

/// Describes every mapping of a namespace that this user can see, by
/// reading the namespace's object directory.
pub(crate) fn list(namespace: Namespace) -> Result<Vec<MappingInfo>> {
    let directory = namespace_directory(namespace);
    let mut entries = Vec::new();
    for (base, kind) in read_directory(&directory).map_err(|source| Error::Os {
        operation: "list the object directory",
        name: directory.clone(),
        source,
    })? {
        // Companion objects have a `/` in their names; plain names only.
        if kind != "Section" || base.contains('/') {
            continue;
        }
        let Ok(name) = Name::parse(&format!("{namespace}\\{base}")) else {
            continue;
        };
        // Gone since we read the directory, not ready, not ours to see, or
        // not readable at all (a record someone planted): one entry that
        // cannot be described must not hide the others.
        if let Ok(info) = describe(&name, &directory) {
            entries.push(info);
        }
    }
    entries.sort_by(|a, b| a.name.base().cmp(b.name.base()));
    Ok(entries)
}

/// The object-manager directory that a namespace's names live in.
fn namespace_directory(namespace: Namespace) -> String {
    let mut session = 0u32;
    // SAFETY: `session` is a valid out-pointer.
    let ok = unsafe { ProcessIdToSessionId(GetCurrentProcessId(), &mut session) } != 0;
    match namespace {
        Namespace::Local if ok && session != 0 => {
            format!("\\Sessions\\{session}\\BaseNamedObjects")
        }
        _ => "\\BaseNamedObjects".to_owned(),
    }
}

/// The (name, type) of every object in an object-manager directory.
fn read_directory(directory: &str) -> io::Result<Vec<(String, String)>> {
    #[repr(C)]
    struct DirectoryInformation {
        name: UNICODE_STRING,
        kind: UNICODE_STRING,
    }
    let path: Vec<u16> = directory.encode_utf16().collect();
    let bytes = u16::try_from(path.len() * 2).map_err(|_| io::ErrorKind::InvalidInput)?;
    let object_name = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: path.as_ptr().cast_mut(),
    };
    let attributes = OBJECT_ATTRIBUTES {
        Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: null_mut(),
        ObjectName: &object_name,
        Attributes: 0,
        SecurityDescriptor: null(),
        SecurityQualityOfService: null(),
    };
    let mut handle: HANDLE = null_mut();
    const DIRECTORY_QUERY: u32 = 0x0001;
    // SAFETY: `attributes` and the string it points to outlive the call;
    // `handle` is a valid out-pointer.
    let status = unsafe { NtOpenDirectoryObject(&mut handle, DIRECTORY_QUERY, &attributes) };
    if status < 0 {
        return Err(io::Error::other(format!(
            "NtOpenDirectoryObject failed with status {status:#010x}"
        )));
    }
    let directory = owned(handle).ok_or(io::ErrorKind::Other)?;
    let mut entries = Vec::new();
    // One entry at a time: Wine implements only that mode. Room for the
    // longest object name there is (32767 UTF-16 units) and its type.
    let mut buf = vec![0u64; 9 * 1024];
    let mut context = 0u32;
    let mut first = true;
    loop {
        // SAFETY: `buf` is writable for the length given; `context` is a valid
        // in/out pointer.
        let status = unsafe {
            NtQueryDirectoryObject(
                raw(&directory),
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                true,
                std::mem::take(&mut first),
                &mut context,
                null_mut(),
            )
        };
        if status == STATUS_NO_MORE_ENTRIES {
            break;
        }
        if status < 0 {
            return Err(io::Error::other(format!(
                "NtQueryDirectoryObject failed with status {status:#010x}"
            )));
        }
        // SAFETY: on success the buffer starts with one entry whose strings
        // point into the same buffer, within the length it reports.
        let (name, kind) = unsafe {
            let entry = &*buf.as_ptr().cast::<DirectoryInformation>();
            (unicode(&entry.name), unicode(&entry.kind))
        };
        entries.push((name, kind));
    }
    Ok(entries)
}

/// # Safety
///
/// `text` must describe `Length` readable bytes (or have a null buffer).
unsafe fn unicode(text: &UNICODE_STRING) -> String {
    if text.Buffer.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    let units = unsafe { std::slice::from_raw_parts(text.Buffer, usize::from(text.Length) / 2) };
    String::from_utf16_lossy(units)
}
