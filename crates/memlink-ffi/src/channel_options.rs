//! Channel options: `ml_channel_kind`, `ml_wait_strategy` and
//! `ml_channel_options_*`.

use std::time::Duration;

use memlink_core::channel::{ChannelOptions, Kind, WaitStrategy};

use crate::args::{self, Out};
use crate::boundary::call;
use crate::codes::ml_result;
use crate::failure::Failure;
use crate::handle::{self, impl_handle, Tagged};

/// What a channel connects (`ML_CHANNEL_*`), passed as an integer.
pub type ml_channel_kind = i32;
/// One sender, one receiver.
pub const ML_CHANNEL_ONE_TO_ONE: ml_channel_kind = 1;
/// Many senders, one receiver.
pub const ML_CHANNEL_MANY_TO_ONE: ml_channel_kind = 2;
/// One sender; every receiver gets every message.
pub const ML_CHANNEL_BROADCAST: ml_channel_kind = 3;

/// How blocked calls wait (`ML_WAIT_*`), passed as an integer.
pub type ml_wait_strategy = i32;
/// Busy-poll, never sleep: lowest latency, one core busy while waiting.
pub const ML_WAIT_SPIN: ml_wait_strategy = 1;
/// Poll for a while, then sleep in the kernel (the default).
pub const ML_WAIT_SPIN_THEN_PARK: ml_wait_strategy = 2;
/// Sleep in the kernel at once.
pub const ML_WAIT_PARK: ml_wait_strategy = 3;

/// A checked `ml_channel_kind`.
pub(crate) struct KindArg(pub(crate) Kind);

impl TryFrom<ml_channel_kind> for KindArg {
    type Error = Failure;
    fn try_from(v: ml_channel_kind) -> Result<Self, Failure> {
        match v {
            ML_CHANNEL_ONE_TO_ONE => Ok(KindArg(Kind::OneToOne)),
            ML_CHANNEL_MANY_TO_ONE => Ok(KindArg(Kind::ManyToOne)),
            ML_CHANNEL_BROADCAST => Ok(KindArg(Kind::Broadcast)),
            v => Err(Failure::invalid(format!(
                "channel kind {v} is none of ML_CHANNEL_ONE_TO_ONE (1), \
                 ML_CHANNEL_MANY_TO_ONE (2), ML_CHANNEL_BROADCAST (3)"
            ))),
        }
    }
}

/// A checked `ml_wait_strategy` with its spin time.
pub(crate) struct WaitArg(pub(crate) WaitStrategy);

impl TryFrom<(ml_wait_strategy, u32)> for WaitArg {
    type Error = Failure;
    fn try_from((v, spin_us): (ml_wait_strategy, u32)) -> Result<Self, Failure> {
        match v {
            ML_WAIT_SPIN => Ok(WaitArg(WaitStrategy::Spin)),
            ML_WAIT_SPIN_THEN_PARK => Ok(WaitArg(WaitStrategy::SpinThenPark {
                spin: Duration::from_micros(u64::from(spin_us)),
            })),
            ML_WAIT_PARK => Ok(WaitArg(WaitStrategy::Park)),
            v => Err(Failure::invalid(format!(
                "wait strategy {v} is none of ML_WAIT_SPIN (1), ML_WAIT_SPIN_THEN_PARK (2), \
                 ML_WAIT_PARK (3)"
            ))),
        }
    }
}

/// Options for creating and opening channels. Opaque; free with
/// `ml_channel_options_free`. Use from one thread at a time.
pub struct ml_channel_options {
    inner: Tagged<ChannelOptions>,
}
impl_handle!(ml_channel_options, ChannelOptions, b"mlCHNOPT");

/// Creates channel options with the defaults: one-to-one, a 64 KiB ring,
/// messages up to 4 KiB, 16 senders (many-to-one) / 8 receivers
/// (broadcast), not lossy, spin-then-park, mode 0600, transient.
///
/// # Safety
///
/// `out` must be valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_new(out: *mut *mut ml_channel_options) -> ml_result {
    call("ml_channel_options_new", || {
        let out = Out::new(out, "out")?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(handle::into_raw::<ml_channel_options>(ChannelOptions::new())) };
        Ok(())
    })
}

/// Frees channel options. NULL is fine.
///
/// # Safety
///
/// `options` must be NULL or an `ml_channel_options` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_free(options: *mut ml_channel_options) {
    let _ = call("ml_channel_options_free", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { handle::destroy(options) }
    });
}

/// What the channel connects (`ML_CHANNEL_*`).
///
/// # Safety
///
/// `options` must be an `ml_channel_options` used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_kind(
    options: *mut ml_channel_options,
    kind: ml_channel_kind,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_kind", options, |o| {
            let KindArg(kind) = kind.try_into()?;
            o.kind(kind);
            Ok(())
        })
    }
}

/// Ring size in bytes: a power of two, at least twice the largest record
/// (message + 8 bytes, rounded up to 8). Checked when the channel is made.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_capacity(
    options: *mut ml_channel_options,
    bytes: u64,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_capacity", options, |o| {
            o.capacity(bytes);
            Ok(())
        })
    }
}

/// The largest message, in bytes.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_max_message(
    options: *mut ml_channel_options,
    bytes: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_max_message", options, |o| {
            o.max_message(bytes);
            Ok(())
        })
    }
}

/// Many-to-one: how many senders may be attached at once.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_max_senders(
    options: *mut ml_channel_options,
    n: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_max_senders", options, |o| {
            o.max_senders(n);
            Ok(())
        })
    }
}

/// Broadcast: how many receivers may be attached at once.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_max_receivers(
    options: *mut ml_channel_options,
    n: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_max_receivers", options, |o| {
            o.max_receivers(n);
            Ok(())
        })
    }
}

/// Broadcast, nonzero: slow receivers lose the oldest messages (see
/// `ml_receiver_take_missed`) instead of making the sender wait. Lossy
/// channels cannot lend messages (`ml_receiver_borrow` fails with
/// `ML_ERR_UNSUPPORTED`); `ml_receiver_recv` works.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_lossy(
    options: *mut ml_channel_options,
    lossy: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_lossy", options, |o| {
            o.lossy(args::flag(lossy));
            Ok(())
        })
    }
}

/// How blocked calls of endpoints made with these options wait
/// (`ML_WAIT_*`); `spin_us` is the polling time of `ML_WAIT_SPIN_THEN_PARK`
/// in microseconds (ignored otherwise; the default is 50).
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_wait(
    options: *mut ml_channel_options,
    strategy: ml_wait_strategy,
    spin_us: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_wait", options, |o| {
            let WaitArg(strategy) = (strategy, spin_us).try_into()?;
            o.wait(strategy);
            Ok(())
        })
    }
}

/// Permission bits of a created channel (default `0600`).
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_mode(
    options: *mut ml_channel_options,
    mode: u32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_mode", options, |o| {
            o.mode(mode);
            Ok(())
        })
    }
}

/// Nonzero: the channel stays after its last endpoint goes, until
/// `ml_mapping_remove`.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_persistent(
    options: *mut ml_channel_options,
    persistent: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_persistent", options, |o| {
            o.persistent(args::flag(persistent));
            Ok(())
        })
    }
}

/// Nonzero: accept a channel that another user created.
///
/// # Safety
///
/// As for `ml_channel_options_set_kind`.
#[no_mangle]
pub unsafe extern "C" fn ml_channel_options_set_allow_foreign_owner(
    options: *mut ml_channel_options,
    allow: i32,
) -> ml_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        handle::update("ml_channel_options_set_allow_foreign_owner", options, |o| {
            o.allow_foreign_owner(args::flag(allow));
            Ok(())
        })
    }
}
