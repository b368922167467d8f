//! Named objects on Windows: the article's own API. A memlink mapping *is*
//! a file-mapping object (a "section") under its plain name, so a program
//! that calls `CreateFileMappingW` / `OpenFileMappingW` with the same name
//! shares it with memlink in both directions.
//!
//! # Where names live
//!
//! | memlink name  | section name  | object directory                          |
//! |---------------|---------------|-------------------------------------------|
//! | `Global\NAME` | `Global\NAME` | `\BaseNamedObjects`                       |
//! | `Local\NAME`  | `Local\NAME`  | `\Sessions\<session>\BaseNamedObjects`    |
//!
//! `Local\` is Windows' own per-*session* namespace (per user in practice:
//! one interactive user per session), not a per-user one; in session 0
//! (services) it is the same directory as `Global\`. Creating a `Global\`
//! object from a session other than 0 needs `SeCreateGlobalPrivilege`.
//!
//! memlink keeps a few companion objects beside a mapping, all named
//! `NAME/SUFFIX`. A `/` can never be part of a memlink name, so these names
//! cannot collide with anyone's mapping; the object manager treats `/` as an
//! ordinary character.
//!
//! | name          | kind      | what for                                              |
//! |---------------|-----------|-------------------------------------------------------|
//! | `NAME/meta`   | section   | the record: state, logical size, mode, backing path, holders |
//! | `NAME/wait`   | section   | waiter counts of the words that threads sleep on      |
//! | `NAME/w<off>` | semaphore | sleeping place of the word at byte `off`              |
//! | `NAME/ep<i>`  | mutex     | endpoint slot `i` of a channel (abandoned: owner died) |
//!
//! Companion objects are created by whichever process first needs them, in
//! the mapping's namespace. For a `Global\` mapping shared with a process
//! that lacks `SeCreateGlobalPrivilege` (outside session 0, not elevated),
//! that process may fail to create them: its waits then poll every
//! millisecond instead of sleeping, and claiming a channel endpoint fails
//! with an access error. Wine has no such privilege check, so this case is
//! untested.
//!
//! # Owners and permissions
//!
//! The mode bits become the section's DACL: owner bits for the process
//! token's user, group bits for its primary group, other bits for Everyone
//! (read: `GENERIC_READ`, write: `GENERIC_WRITE`; the owner of a writable
//! mapping gets `GENERIC_ALL`, as with any section `CreateFileMappingW`
//! makes, so the article's `OpenFileMappingW(FILE_MAP_ALL_ACCESS, ..)` works). The companion objects
//! grant full access to every principal that has any access to the mapping.
//! An owner is reported as the last sub-authority (the RID) of the owner's
//! SID: `effective_uid` is the RID of the process token's user (1000 and up
//! for local accounts). `open` refuses sections owned by another SID unless
//! foreign owners are allowed; Wine records no owner SID on sections, and
//! there every section counts as this user's.
//!
//! # Files, bottom to top
//!
//! | file          | job                                                           |
//! |---------------|---------------------------------------------------------------|
//! | `handle.rs`   | UTF-16 names, owned handles                                   |
//! | `error.rs`    | Windows error codes as memlink errors                         |
//! | `security.rs` | the token's SIDs, owners of sections, DACLs from modes        |
//! | `section.rs`  | sections by name, their size, small sections mapped as atomics |
//! | `process.rs`  | process identity and liveness                                 |
//! | `record.rs`   | the `NAME/meta` record                                        |
//! | `file.rs`     | backing files                                                 |
//! | `sync.rs`     | waiting on shared words (wait tables, semaphores, the view registry), the local bell (an event) |
//! | `object.rs`   | the object lifecycle: create, publish, open, remove           |
//! | `directory.rs`| `inspect` and `list` from the object-manager directory        |
//! | `map.rs`      | views (`MapViewOfFile`)                                       |
//! | `peers.rs`    | channel endpoints (named mutexes)                             |
//!
//! Each file imports only from files above it in this table.

mod directory;
mod error;
mod file;
mod handle;
mod map;
mod object;
mod peers;
mod process;
mod record;
mod section;
mod security;
mod sync;

pub(crate) use self::directory::{inspect, list};
pub(crate) use self::file::{file_access, file_path, grow_file};
pub(crate) use self::map::{MapHints, MappedRegion};
pub(crate) use self::object::{
    ensure_free, open, prepare, reclaim_stale, remove, Object, NO_PERSISTENCE,
};
pub(crate) use self::peers::{any_endpoint_alive, EndpointLock};
pub(crate) use self::process::{current_process, process_alive};
pub(crate) use self::sync::{wait_on, wait_on_any, wake_all, wake_one, LocalBell};
