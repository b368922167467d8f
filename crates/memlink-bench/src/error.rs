//! The harness's `Error` and `Result`: at the bottom of the module graph,
//! so that every module may use them and they use nothing.

/// Errors of the harness: a case that fails is reported and the run goes on.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
/// The harness's result type.
pub(crate) type Result<T> = std::result::Result<T, Error>;
