//! What a name holds: `ml_object_kind` and `ml_identify`.

use std::ffi::c_char;

use memlink_core::ObjectKind;

use crate::args::{self, Out};
use crate::boundary::call;
use crate::codes::ml_result;

/// What a named mapping holds (`ML_OBJECT_*`), as `ml_identify` says;
/// passed as an integer. The values are stable; 0 is none of them (what
/// `ml_identify` leaves in its out-parameter when it fails).
pub type ml_object_kind = i32;
/// A channel (made by `ml_sender_create` / `ml_receiver_create`).
pub const ML_OBJECT_CHANNEL: ml_object_kind = 1;
/// A named event (`ml_event_create`).
pub const ML_OBJECT_EVENT: ml_object_kind = 2;
/// A wait set's doorbell: the named word a wait set sleeps on, removed
/// with it.
pub const ML_OBJECT_DOORBELL: ml_object_kind = 3;
/// A named memlink object of a kind this version of the library does not
/// know (made by a newer memlink).
pub const ML_OBJECT_UNKNOWN: ml_object_kind = 4;
/// A mapping without a memlink header: plain bytes (`ml_mapping_create`, or
/// another program's shared memory).
pub const ML_OBJECT_MAPPING: ml_object_kind = 5;

fn kind_code(kind: ObjectKind) -> ml_object_kind {
    match kind {
        ObjectKind::Channel => ML_OBJECT_CHANNEL,
        ObjectKind::Event => ML_OBJECT_EVENT,
        ObjectKind::Doorbell => ML_OBJECT_DOORBELL,
        ObjectKind::Mapping => ML_OBJECT_MAPPING,
        // `ObjectKind` is non-exhaustive: a kind added to the library
        // after this ABI is a memlink object the ABI cannot name.
        _ => ML_OBJECT_UNKNOWN,
    }
}

/// Tells what the mapping `name` holds, from its first bytes, and stores it
/// in `*out` (`ML_OBJECT_*`). The mapping is opened read-only for a moment
/// (another user's too) without counting as one of its holders: looking
/// never keeps an object alive. A mapping smaller than a memlink header is
/// `ML_OBJECT_MAPPING`. Fails with `ML_ERR_NOT_FOUND` if there is no such
/// name, `ML_ERR_INVALID_NAME` for a name that is not one (or not UTF-8),
/// `ML_ERR_NULL` for a NULL `name` or `out`; on failure `*out` is 0.
///
/// # Safety
///
/// `name` must be a NUL-terminated string; `out` must be valid for writing
/// an `ml_object_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_identify(name: *const c_char, out: *mut ml_object_kind) -> ml_result {
    call("ml_identify", || {
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(0) };
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { args::name(name)? };
        let kind = memlink_core::identify(name)?;
        // SAFETY: as above.
        unsafe { out.write(kind_code(kind)) };
        Ok(())
    })
}
