//! `Failure`: why an export failed, on its way to becoming a code and the
//! thread's last error.

use std::borrow::Cow;

use memlink_core::{Error, ErrorCode};

use crate::codes::{ml_result, ML_ERR_INVALID_ARGUMENT, ML_ERR_NULL, ML_ERR_STATE};

/// Why an export failed: a code and a message for `ml_last_error_message`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: ml_result,
    pub(crate) message: Cow<'static, str>,
}

impl Failure {
    pub(crate) fn new(code: ml_result, message: impl Into<Cow<'static, str>>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &'static str) -> Failure {
        Failure::new(ML_ERR_NULL, format!("{what} is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Failure {
        Failure::new(ML_ERR_INVALID_ARGUMENT, message)
    }

    pub(crate) fn state(message: impl Into<Cow<'static, str>>) -> Failure {
        Failure::new(ML_ERR_STATE, message)
    }

    /// Whether this is memlink's own error with `code`.
    pub(crate) fn is(&self, code: ErrorCode) -> bool {
        self.code == code as ml_result
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            // `ErrorCode` is `#[repr(i32)]` with stable values: the cast is
            // the mapping, including codes added after this crate was written.
            code: e.code() as ml_result,
            message: e.to_string().into(),
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;
