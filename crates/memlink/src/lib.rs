//! # memlink
//!
//! Named shared memory and zero-copy messaging between processes: the Windows
//! file-mapping model (`CreateFileMapping`, `OpenFileMapping`,
//! `MapViewOfFile`, `FlushViewOfFile`) made safe, crash-robust and portable.
//!
//! * [`Mapping`]: a named mapping, memory- or file-backed, created, opened or
//!   opened-or-created by name, in the `Local\` (per-user) or `Global\`
//!   (machine-wide) namespace; see [`Name`].
//! * [`View`]: a mapped range of any offset and length, read and written by
//!   copy or through atomics, flushed on demand.
//! * [`sync`]: primitives that live inside a mapping and work across
//!   processes: [`Event`] and [`NamedEvent`] (wait / set / notify),
//!   [`RobustMutex`] (survives its owner's `kill -9`), [`SeqLock`] (torn-free
//!   snapshots of plain data).
//! * [`Error`]: one error type whose variants say which name, size, offset or
//!   access was involved, with stable [`ErrorCode`]s.
//!
//! ```
//! use memlink::{Access, Mapping, MappingOptions};
//! # let name = format!("doc-lib-{}", std::process::id());
//!
//! let server = Mapping::create(&name, 4096)?;
//! server.view_all()?.write_at(0, b"hello from the server")?;
//!
//! let client = MappingOptions::new().access(Access::ReadOnly).open(&name)?;
//! let mut text = [0u8; 21];
//! client.view_all()?.read_at(0, &mut text)?;
//! assert_eq!(&text, b"hello from the server");
//! # Ok::<(), memlink::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod bytes;
pub mod channel;
mod error;
mod layout;
mod mapping;
mod name;
mod object;
mod reactor;
pub mod sync;
mod sys;
mod types;

pub use error::{Error, ErrorCode, Result};
pub use mapping::{Disposition, Mapping, MappingOptions, View};
pub use name::{Name, Namespace};
pub use object::{identify, ObjectKind};
pub use sync::{Event, EventKind, MutexGuard, NamedEvent, RobustMutex, SeqLock};
pub use types::{Access, Backing, MappingInfo};
