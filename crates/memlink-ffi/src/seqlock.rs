//! Seqlocks of bytes: `ml_seqlock_*`, one writer publishing snapshots that
//! readers copy whole, never torn.
//!
//! The layout and the protocol are those of memlink's `SeqLock<[u8; N]>`
//! (a Rust program attaches to the same bytes with that type): a sequence
//! word at 0 (even: stable, odd: a write in progress), the tag `"SeqL"` at 8,
//! the value's size at 12 and the value from 16, all rounded up to a
//! multiple of 128 bytes. The core's type is generic over a value type fixed
//! at compile time; C passes the size at run time, so the same protocol is
//! written here over the view's atomics (`tests.rs` checks both against each
//! other).
//!
//! * **write**: `seq := s | 1` (Relaxed), Release fence, the value in 8-byte
//!   words with relaxed atomic stores, `seq := (s | 1) + 1` (Release).
//! * **read**: `s1 := seq` (Acquire); odd → retry; the words with relaxed
//!   atomic loads; Acquire fence; `s2 := seq` (Relaxed); a snapshot iff
//!   `s1 == s2`.
//!
//! Orderings as in the core: the reader's Acquire load of `s1` pairs with
//! the writer's closing Release store; a copy that read any word of a later
//! write sees (through the writer's Release fence and the reader's Acquire
//! fence) `s2` odd or newer, and is refused.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicU64};
use std::time::Instant;

use memlink_core::{Access, View};

use crate::args::{self, Out, Wait};
use crate::boundary::call;
use crate::codes::{ml_result, ML_ERR_CORRUPT, ML_ERR_EMPTY, ML_ERR_TIMEOUT, ML_ERR_WRONG_KIND};
use crate::failure::{Failure, Outcome};
use crate::handle::{self, impl_handle, Tagged};
use crate::mapping::ml_mapping;

/// The alignment a seqlock needs: its offset in the mapping must be a
/// multiple of this (128).
pub const ML_SEQLOCK_ALIGN: usize = 128;

const LINE: usize = ML_SEQLOCK_ALIGN;
const HEADER: usize = 16;
const SEQ: usize = 0;
const TAG: usize = 8;
const VALUE_SIZE: usize = 12;
/// `"SeqL"`, as memlink's `SeqLock` writes it.
const TAG_SEQLOCK: u32 = u32::from_le_bytes(*b"SeqL");
/// Reads retried this often spin; then they yield to let a descheduled
/// writer finish (as the core's reader does).
const SPINS_BEFORE_YIELD: u32 = 100;

/// What an `ml_seqlock` holds: its own view of the seqlock's bytes.
pub(crate) struct SeqLockState {
    view: View,
    len: usize,
}

/// The bytes a seqlock holding `value_len`-byte values takes, if it fits.
fn footprint(value_len: usize) -> Option<usize> {
    HEADER
        .checked_add(value_len)?
        .checked_next_multiple_of(LINE)
}

impl SeqLockState {
    fn seq(&self) -> Result<&AtomicU64, Failure> {
        Ok(self.view.atomic_u64(SEQ)?)
    }

    fn words(&self) -> usize {
        self.len.div_ceil(8)
    }

    fn store_value(&self, value: &[u8]) -> Outcome {
        for (i, chunk) in value.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.view
                .atomic_u64(HEADER + 8 * i)?
                .store(u64::from_ne_bytes(word), Relaxed);
        }
        Ok(())
    }

    fn load_value(&self, out: &mut [u8]) -> Outcome {
        for (i, chunk) in out.chunks_mut(8).enumerate().take(self.words()) {
            let word = self.view.load_u64(HEADER + 8 * i, Relaxed)?.to_ne_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }

    fn write(&self, value: &[u8]) -> Outcome {
        let seq = self.seq()?;
        // Relaxed: only the (single) writer changes `seq`. An odd value left
        // by a writer that died mid-write is completed, not reopened.
        let begin = seq.load(Relaxed) | 1;
        seq.store(begin, Relaxed);
        // Release fence: pairs with the Acquire fence in `try_read`.
        fence(Release);
        self.store_value(value)?;
        // Release: pairs with the Acquire load of `s1` in `try_read`.
        seq.store(begin.wrapping_add(1), Release);
        Ok(())
    }

    /// One attempt: whether `out` now holds a snapshot.
    fn try_read(&self, out: &mut [u8]) -> Result<bool, Failure> {
        // Acquire: pairs with the closing Release store in `write`.
        let s1 = self.view.load_u64(SEQ, Acquire)?;
        if s1 & 1 != 0 {
            return Ok(false);
        }
        self.load_value(out)?;
        // Acquire fence: pairs with the Release fence in `write`.
        fence(Acquire);
        // Relaxed: ordered after the copy by the fence above.
        let s2 = self.view.load_u64(SEQ, Relaxed)?;
        Ok(s1 == s2)
    }
}

/// A seqlock that lives in a mapping: one writer publishes fixed-size byte
/// snapshots (`ml_seqlock_write` never blocks), any number of readers in any
/// process copy them whole (`ml_seqlock_read` retries while a write
/// overlaps and never returns a torn value). Compatible with Rust's
/// `memlink::SeqLock<[u8; N]>`. Opaque; close with `ml_seqlock_close`.
/// Usable from any thread, with one writer at a time.
pub struct ml_seqlock {
    inner: Tagged<SeqLockState>,
}
impl_handle!(ml_seqlock, SeqLockState, b"mlSEQLCK");

/// Stores in `*out` how many bytes a seqlock for `value_len`-byte values
/// takes in a mapping: 16 plus `value_len`, rounded up to 128.
///
/// # Safety
///
/// `out` must be valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ml_seqlock_size(value_len: usize, out: *mut usize) -> ml_result {
    call("ml_seqlock_size", || {
        let out = Out::new(out, "out")?;
        let size = checked_len(value_len)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(size) };
        Ok(())
    })
}

fn checked_len(value_len: usize) -> Result<usize, Failure> {
    if value_len == 0 || u32::try_from(value_len).is_err() {
        return Err(Failure::invalid(format!(
            "a seqlock value of {value_len} bytes: use 1 to 4294967295 bytes"
        )));
    }
    footprint(value_len).ok_or_else(|| Failure::invalid("the seqlock value is too large"))
}

/// # Safety
///
/// `mapping` must be an open `ml_mapping`.
unsafe fn view_for(
    mapping: *const ml_mapping,
    offset: u64,
    value_len: usize,
    access: Option<Access>,
) -> Result<View, Failure> {
    let size = checked_len(value_len)?;
    // SAFETY: per the caller's contract.
    let mapping = unsafe { handle::get(mapping)? };
    let view = mapping.view_with(offset, size as u64, access.unwrap_or(mapping.access()))?;
    if !(view.as_ptr() as usize).is_multiple_of(ML_SEQLOCK_ALIGN) {
        return Err(Failure::invalid(format!(
            "offset {offset} in {} is not a multiple of ML_SEQLOCK_ALIGN (128), as a seqlock's \
             must be",
            mapping.name()
        )));
    }
    Ok(view)
}

/// Makes the bytes at `offset` of a read-write `mapping` a seqlock holding
/// `value_len`-byte snapshots, the first one `initial` (`value_len` bytes),
/// and opens it for writing. Do it once, before readers open it.
///
/// # Safety
///
/// `mapping` must be an open `ml_mapping`; `initial` valid for reading
/// `value_len` bytes; `out` valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn ml_seqlock_init(
    mapping: *const ml_mapping,
    offset: u64,
    initial: *const u8,
    value_len: usize,
    out: *mut *mut ml_seqlock,
) -> ml_result {
    call("ml_seqlock_init", || {
        let out = args::handle_out(out)?;
        // SAFETY: per the contract.
        let initial = unsafe { args::bytes(initial, value_len, "initial")? };
        // SAFETY: per the contract.
        let view = unsafe { view_for(mapping, offset, value_len, Some(Access::ReadWrite))? };
        let state = SeqLockState {
            view,
            len: value_len,
        };
        state.seq()?.store(0, Relaxed);
        state.store_value(initial)?;
        state
            .view
            .atomic_u32(VALUE_SIZE)?
            .store(value_len as u32, Relaxed);
        // Release: pairs with the Acquire load of the tag in `ml_seqlock_open`,
        // which then sees the initial value and sequence.
        state.view.atomic_u32(TAG)?.store(TAG_SEQLOCK, Release);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(handle::into_raw::<ml_seqlock>(state)) };
        Ok(())
    })
}

/// Opens the seqlock that `ml_seqlock_init` (or Rust's `SeqLock::init_in`)
/// made at `offset` of `mapping`, for `value_len`-byte values. A read-only
/// mapping gives a handle that reads only. `ML_ERR_WRONG_KIND` if there is
/// no seqlock there, `ML_ERR_CORRUPT` if it holds values of another size.
///
/// # Safety
///
/// As for `ml_seqlock_init`.
#[no_mangle]
pub unsafe extern "C" fn ml_seqlock_open(
    mapping: *const ml_mapping,
    offset: u64,
    value_len: usize,
    out: *mut *mut ml_seqlock,
) -> ml_result {
    call("ml_seqlock_open", || {
        let out = args::handle_out(out)?;
        // SAFETY: per the contract.
        let view = unsafe { view_for(mapping, offset, value_len, None)? };
        // Acquire: pairs with the Release store of the tag in `init`.
        let tag = view.load_u32(TAG, Acquire)?;
        if tag != TAG_SEQLOCK {
            return Err(Failure::new(
                ML_ERR_WRONG_KIND,
                format!("{} at offset {offset} is no seqlock", view.name()),
            ));
        }
        let found = view.load_u32(VALUE_SIZE, Relaxed)?;
        if found as usize != value_len {
            return Err(Failure::new(
                ML_ERR_CORRUPT,
                format!(
                    "the seqlock at offset {offset} of {} holds {found}-byte values, not \
                     {value_len}-byte ones as asked",
                    view.name()
                ),
            ));
        }
        let state = SeqLockState {
            view,
            len: value_len,
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(handle::into_raw::<ml_seqlock>(state)) };
        Ok(())
    })
}

/// Closes a seqlock handle. NULL is fine.
///
/// # Safety
///
/// `lock` must be NULL or an open `ml_seqlock` that no other thread uses.
#[no_mangle]
pub unsafe extern "C" fn ml_seqlock_close(lock: *mut ml_seqlock) {
    let _ = call("ml_seqlock_close", || {
        // SAFETY: forwarded from this function's contract.
        unsafe { handle::destroy(lock) }
    });
}

/// Publishes `len` bytes (exactly the seqlock's value size) as the new
/// snapshot. Never blocks. There must be one writer at a time (guard the
/// writes with an `ml_mutex` if several are unavoidable).
/// `ML_ERR_ACCESS_MISMATCH` for a handle opened from a read-only mapping.
///
/// # Safety
///
/// `lock` must be an open `ml_seqlock`; `data` valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ml_seqlock_write(
    lock: *const ml_seqlock,
    data: *const u8,
    len: usize,
) -> ml_result {
    call("ml_seqlock_write", || {
        // SAFETY: per the contract.
        let state = unsafe { handle::get(lock)? };
        // SAFETY: per the contract.
        let data = unsafe { args::bytes(data, len, "data")? };
        check_size(state, len)?;
        state.write(data)
    })
}

fn check_size(state: &SeqLockState, len: usize) -> Outcome {
    if len != state.len {
        return Err(Failure::invalid(format!(
            "the seqlock holds {}-byte values; {len} bytes were given",
            state.len
        )));
    }
    Ok(())
}

/// Copies a consistent snapshot into `buf` (`len` bytes, exactly the value
/// size), retrying while writes overlap for up to `timeout_ms`
/// (`ML_TIMEOUT_INFINITE`: as long as it takes; 0: one attempt, then
/// `ML_ERR_EMPTY`). `ML_ERR_TIMEOUT` if no snapshot could be taken in time
/// (a write stayed in progress: its writer may have died mid-write).
/// `buf` is unspecified after a failure.
///
/// # Safety
///
/// `lock` must be an open `ml_seqlock`; `buf` valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ml_seqlock_read(
    lock: *const ml_seqlock,
    buf: *mut u8,
    len: usize,
    timeout_ms: i64,
) -> ml_result {
    call("ml_seqlock_read", || {
        let wait = args::timeout(timeout_ms)?;
        // SAFETY: per the contract.
        let state = unsafe { handle::get(lock)? };
        // SAFETY: per the contract.
        let mut raw = unsafe { args::bytes_mut(buf, len, "buf")? };
        check_size(state, len)?;
        let out = raw.prefix(len);
        let deadline = match wait {
            Wait::Forever => None,
            Wait::For(d) => Some(Instant::now().checked_add(d)),
        };
        let mut spins = 0u32;
        loop {
            if state.try_read(out)? {
                return Ok(());
            }
            match deadline {
                Some(_) if timeout_ms == 0 => {
                    return Err(Failure::new(
                        ML_ERR_EMPTY,
                        "a write to the seqlock was in progress",
                    ))
                }
                Some(Some(at)) if Instant::now() >= at => {
                    return Err(Failure::new(
                        ML_ERR_TIMEOUT,
                        format!(
                            "no consistent snapshot of the seqlock in {timeout_ms} ms: a write \
                             stayed in progress"
                        ),
                    ))
                }
                _ => {}
            }
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    })
}

/// Stores in `*out` how many writes have completed (a write in progress is
/// not counted): compare versions to learn whether anything changed
/// without copying the value.
///
/// # Safety
///
/// `lock` must be an open `ml_seqlock`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_seqlock_version(lock: *const ml_seqlock, out: *mut u64) -> ml_result {
    call("ml_seqlock_version", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let state = unsafe { handle::get(lock)? };
        // Acquire: pairs with the closing Release store in `write`.
        let seq = state.view.load_u64(SEQ, Acquire)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(seq / 2) };
        Ok(())
    })
}
