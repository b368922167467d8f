//! One module per group of commands. Each command takes its parsed arguments
//! and a writer for standard output, and returns a [`Failure`](crate::error::Failure)
//! instead of printing errors itself, so `main` alone decides how failures look.

pub mod bridge;
pub mod channel;
pub mod create;
pub mod inspect;
pub mod io;
pub mod receive;
pub mod remove;
pub mod send;
pub mod trust;
pub mod watch;
