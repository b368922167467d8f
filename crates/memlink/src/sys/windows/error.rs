//! Windows error codes as memlink's errors.

use std::io;

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_COMMITMENT_LIMIT, ERROR_DISK_FULL,
    ERROR_FILE_INVALID, ERROR_FILE_NOT_FOUND, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER,
    ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY, ERROR_PATH_NOT_FOUND,
};

use crate::error::Error;
use crate::name::{Name, Namespace};
use crate::types::Access;

pub(super) fn is_not_found(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND)
    )
}

/// Maps the failure of a create to memlink's errors.
pub(super) fn create_error(e: io::Error, name: &Name, size: u64, operation: &'static str) -> Error {
    let code = e.raw_os_error().unwrap_or(0) as u32;
    match code {
        ERROR_ALREADY_EXISTS => Error::AlreadyExists {
            name: name.to_string(),
        },
        ERROR_INVALID_HANDLE => wrong_kind(name),
        ERROR_FILE_INVALID => Error::ZeroSize {
            name: name.to_string(),
            reason: "the backing file is empty and size 0 means the file's size",
        },
        ERROR_ACCESS_DENIED if name.namespace() == Namespace::Global => Error::PermissionDenied {
            name: format!(
                "{name} (creating Global\\ objects outside session 0 needs the \
                 SeCreateGlobalPrivilege privilege, or the name is another user's)"
            ),
            operation,
            access: Access::ReadWrite,
        },
        ERROR_ACCESS_DENIED => Error::PermissionDenied {
            name: name.to_string(),
            operation,
            access: Access::ReadWrite,
        },
        ERROR_INVALID_PARAMETER => Error::invalid_argument(format!(
            "Windows refused the parameters for {name} (size {size}): {e}"
        )),
        ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_COMMITMENT_LIMIT | ERROR_DISK_FULL => {
            Error::NoSpace {
                name: name.to_string(),
                size,
                source: e,
            }
        }
        _ => os_error(operation, name, e),
    }
}

/// Maps the failure of an open to memlink's errors.
pub(super) fn open_error(
    e: io::Error,
    name: &Name,
    operation: &'static str,
    access: Access,
) -> Error {
    match e.raw_os_error().unwrap_or(0) as u32 {
        ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND => Error::NotFound {
            name: name.to_string(),
        },
        ERROR_INVALID_HANDLE => wrong_kind(name),
        ERROR_ACCESS_DENIED => Error::PermissionDenied {
            name: name.to_string(),
            operation,
            access,
        },
        _ => os_error(operation, name, e),
    }
}

fn wrong_kind(name: &Name) -> Error {
    Error::WrongKind {
        name: name.to_string(),
        expected: "file mapping",
        found: "named object of another kind (mutex, event, semaphore, ...)",
    }
}

pub(super) fn os_error(operation: &'static str, name: &Name, source: io::Error) -> Error {
    Error::Os {
        operation,
        name: name.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    #[test]
    fn windows_errors_map_to_memlink_errors() {
        let local = name("Local\\x");
        let global = name("Global\\x");
        let e = |code: u32| io::Error::from_raw_os_error(code as i32);
        assert!(matches!(
            create_error(e(ERROR_ALREADY_EXISTS), &local, 1, "create"),
            Error::AlreadyExists { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_INVALID_HANDLE), &local, 1, "create"),
            Error::WrongKind { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_FILE_INVALID), &local, 0, "create"),
            Error::ZeroSize { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_INVALID_PARAMETER), &local, 0, "create"),
            Error::InvalidArgument { .. }
        ));
        assert!(matches!(
            create_error(e(ERROR_COMMITMENT_LIMIT), &local, 9, "create"),
            Error::NoSpace { size: 9, .. }
        ));
        match create_error(e(ERROR_ACCESS_DENIED), &global, 1, "create") {
            err @ Error::PermissionDenied { .. } => {
                assert!(err.to_string().contains("SeCreateGlobalPrivilege"), "{err}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            create_error(e(ERROR_ACCESS_DENIED), &local, 1, "create"),
            Error::PermissionDenied { .. }
        ));
        assert!(matches!(
            open_error(e(ERROR_FILE_NOT_FOUND), &local, "open", Access::ReadOnly),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            open_error(e(ERROR_INVALID_HANDLE), &local, "open", Access::ReadOnly),
            Error::WrongKind { .. }
        ));
    }
}
