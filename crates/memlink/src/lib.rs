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
mod mapping;
mod name;
#[allow(unsafe_code)]
mod sys;
mod types;

pub use error::{Error, ErrorCode, Result};
pub use mapping::{Disposition, Mapping, MappingOptions, View};
pub use name::{Name, Namespace};
pub use types::{Access, Backing, MappingInfo};
