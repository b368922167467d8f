//! A validated channel in a mapping: typed access to its control blocks and
//! bounds-enforced access to its ring. The only place in `channel` that
//! turns the mapping's address into references.
//!
//! # Payload copies and peers that break the protocol
//!
//! Payload copies are the bulk of the work, and `memcpy` runs at the memory
//! system's speed where word-wise atomic copies (`crate::bytes`) do not. The
//! protocol makes a payload the sole business of one side at a time (the
//! sender until it publishes, the receiver until it releases), so a peer that
//! keeps the protocol never writes bytes we copy. A peer that breaks it (a
//! hostile or buggy process with write access to the segment) can write them
//! while we copy: the copy then yields a mix of old and new bytes, which we
//! never read twice or interpret (lengths and positions come from the
//! separately checked headers). In the terms of Rust's memory model that
//! peer has made a data race, which we accept for `memcpy` speed, as every
//! shared-memory transport with a `memcpy` path does; lossy rings, where
//! overwrites while copying are part of the protocol, copy word-wise instead.
#![allow(unsafe_code)]

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::layout::{
    Control, Geometry, ReceiverSlot, SenderSlot, WakeLine, RECORD_HEADER, UNPUBLISHED,
};
use super::sync_prims::KernelFutex;
use super::{bell, doorbell, park};
use crate::bytes::{load_shared_words, store_shared_words};
use crate::error::{Error, Result};
use crate::mapping::{Mapping, View};
use crate::sys;

/// Writes the header of a new channel into `view` (the whole, unpublished
/// mapping).
pub(crate) fn write_header(view: &View, geometry: &Geometry) -> Result<()> {
    if (view.len() as u64) < geometry.total_size() {
        return Err(Error::invalid_argument(format!(
            "channel {} needs {} bytes, the mapping has {}",
            view.name(),
            geometry.total_size(),
            view.len()
        )));
    }
    // SAFETY: the view is page-aligned and longer than `Control`; every field
    // of `Header` is an atomic, valid for any bit pattern.
    let control = unsafe { &*view.as_ptr().cast::<Control>() };
    // The marker at position 0 (see `ring`): the fresh ring's zeros would
    // read as a published empty record. Relaxed: the name is published
    // after this, as for the header.
    // SAFETY: the ring starts 128-aligned inside the view (its length was
    // checked against `total_size` above); an atomic, any bit pattern.
    let first = unsafe {
        &*view
            .as_ptr()
            .add(geometry.ring_offset())
            .cast::<AtomicU64>()
    };
    first.store(header_word(UNPUBLISHED, 0), Ordering::Relaxed);
    geometry.write(&control.header);
    Ok(())
}

/// The ring's record headers, for `ring`.
impl super::ring::Records for Channel {
    #[inline]
    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    #[inline(always)]
    fn load_header(&self, pos: u64, order: Ordering) -> (u32, u32) {
        let word = self.header_word(pos).load(order);
        (word as u32, (word >> 32) as u32)
    }

    #[inline(always)]
    fn store_header(&self, pos: u64, len: u32, seq: u32, order: Ordering) {
        self.header_word(pos).store(header_word(len, seq), order);
    }
}

/// A record header as the 8-byte word it is stored as: `len` in the low
/// half, `seq` in the high half.
#[inline(always)]
fn header_word(len: u32, seq: u32) -> u64 {
    u64::from(len) | (u64::from(seq) << 32)
}

/// The largest message after which the endpoints fetch the next lines
/// ahead (`Intent`): past it a record spans many lines, the CPU's own
/// prefetcher follows the copies, and the lines after a loan are often
/// never touched (measured: zero-copy 1 MiB 8.4 -> 6.0 M msg/s with
/// read-ahead on every record).
pub(crate) const AHEAD_MAX_MESSAGE: usize = 512;

/// The cache line size the prefetch hints assume (x86-64 and most AArch64
/// cores; on Apple silicon's 128-byte lines every other hint is redundant).
const CACHE_LINE: u64 = 64;

/// The lines (numbers: position / `CACHE_LINE`) within `lines` lines past
/// `to` that were not within them past `from`, the last `lines` of them at
/// most (see `Channel::prefetch_ahead`).
#[inline(always)]
fn lines_ahead(from: u64, to: u64, lines: u64) -> std::ops::RangeInclusive<u64> {
    let ahead = lines.saturating_mul(CACHE_LINE);
    let last = to.saturating_add(ahead) / CACHE_LINE;
    let first = (from.saturating_add(ahead) / CACHE_LINE + 1).max(last.saturating_sub(lines) + 1);
    first..=last
}

/// What a prefetched line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    /// To be read: shared with the writer.
    Read,
    /// To be written: taken from the readers.
    Write,
}

/// One process's attachment to a channel, shared by its endpoints.
#[derive(Debug)]
pub(crate) struct Channel {
    mapping: Mapping,
    view: View,
    geometry: Geometry,
    name: String,
    ring: *mut u8,
    mask: u64,
    /// Lossy broadcast: readers may read bytes while the sender overwrites
    /// them, so copies must be made of atomics.
    racy: bool,
    /// Whether every waker can reach a wait set's doorbell.
    doorbells: bool,
}

/// Rings the doorbells announced on `line` (`bell`), clearing the
/// announcements of owners found dead.
#[inline]
fn ring_bells(line: &WakeLine) {
    bell::ring_bells(&line.belled, &line.bells, |slot, id| {
        if doorbell::ring(id) == doorbell::Rung::OwnerGone
            && bell::clear(&line.belled, &line.bells, slot, id)
        {
            // Relaxed: a diagnostic count.
            doorbell::CLEARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
}

// SAFETY: `Channel` holds a view (Send + Sync) and raw pointers into it that
// are only dereferenced through the atomics and bounds-checked copies below.
unsafe impl Send for Channel {}
// SAFETY: as above; shared access goes through atomics or through ring ranges
// that the channel protocol hands to one endpoint at a time.
unsafe impl Sync for Channel {}

impl Channel {
    /// Attaches to the channel in `mapping`, validating its header.
    pub(crate) fn attach(mapping: Mapping) -> Result<Channel> {
        let name = mapping.name().to_string();
        let size = mapping.size();
        if size < std::mem::size_of::<Control>() as u64 {
            return Err(Error::WrongKind {
                name,
                expected: "memlink channel",
                found: "mapping too small for a channel header",
            });
        }
        let header_view = mapping.view(0, std::mem::size_of::<Control>() as u64)?;
        // SAFETY: the view is page-aligned and at least `Control`'s size, and
        // every field of `Header` is an atomic, valid for any bit pattern.
        let header = unsafe { &(*header_view.as_ptr().cast::<Control>()).header };
        let geometry = Geometry::read(header, &name, size)?;
        drop(header_view);
        let view = mapping.view(0, geometry.total_size())?;
        // SAFETY: `ring_offset + capacity == total_size == view.len()`.
        let ring = unsafe { view.as_ptr().add(geometry.ring_offset()) };
        Ok(Channel {
            doorbells: sys::doorbell_reaches(mapping.owner(), mapping.mode()),
            mask: geometry.capacity - 1,
            racy: geometry.flags & super::layout::FLAG_LOSSY != 0,
            mapping,
            view,
            geometry,
            name,
            ring,
        })
    }

    /// The user id that owns the channel.
    pub(crate) fn owner(&self) -> u32 {
        self.mapping.owner()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    pub(crate) fn control(&self) -> &Control {
        // SAFETY: the view starts page-aligned (so 128-aligned), is at least
        // `total_size >= size_of::<Control>()` long and lives as long as
        // `self`; every field is an atomic, valid for any bit pattern.
        unsafe { &*self.view.as_ptr().cast::<Control>() }
    }

    pub(crate) fn sender_slot(&self, i: u32) -> &SenderSlot {
        let i = i.min(self.geometry.max_senders - 1);
        // SAFETY: `i < max_senders`, so the slot lies inside the view (the
        // geometry was validated against its length); 128-aligned; atomics.
        unsafe {
            &*self
                .view
                .as_ptr()
                .add(self.geometry.sender_slot(i))
                .cast::<SenderSlot>()
        }
    }

    pub(crate) fn receiver_slot(&self, i: u32) -> &ReceiverSlot {
        let i = i.min(self.geometry.max_receivers - 1);
        // SAFETY: as for `sender_slot`.
        unsafe {
            &*self
                .view
                .as_ptr()
                .add(self.geometry.receiver_slot(i))
                .cast::<ReceiverSlot>()
        }
    }

    /// The offset in the ring of position `pos`.
    pub(crate) fn offset(&self, pos: u64) -> usize {
        (pos & self.mask) as usize
    }

    /// An endpoint that moved from ring position `from` to `to` asks the
    /// CPU to fetch, for `intent`, the cache lines that are now within
    /// `lines` lines past `to` and were not within them past `from`: each
    /// line once as the window slides over it, at most `lines` at a time.
    /// A hint: it never faults and changes nothing.
    #[inline(always)]
    pub(crate) fn prefetch_ahead(&self, from: u64, to: u64, lines: u64, intent: Intent) {
        for line in lines_ahead(from, to, lines) {
            let ptr = self
                .header_word(line * CACHE_LINE)
                .as_ptr()
                .cast::<u8>()
                .cast_const();
            match intent {
                Intent::Read => crate::sys::prefetch_read(ptr),
                Intent::Write => crate::sys::prefetch_write(ptr),
            }
        }
    }

    /// The record header word at ring position `pos` (8-aligned by
    /// construction; forced so here).
    fn header_word(&self, pos: u64) -> &AtomicU64 {
        let offset = self.offset(pos) & !7;
        // SAFETY: `offset + 8 <= capacity` (capacity is a power of two >= 256
        // and offset is 8-aligned below it); the ring is 128-aligned.
        unsafe { &*self.ring.add(offset).cast::<AtomicU64>() }
    }

    /// Reads (and forgets) the word at ring position `pos`: a waiting
    /// receiver's way of keeping the line the next record will start in.
    #[inline]
    pub(crate) fn touch(&self, pos: u64) {
        std::hint::black_box(self.header_word(pos).load(Ordering::Relaxed));
    }

    /// Clamps a payload range starting at record position `pos` to the ring:
    /// returns the ring offset of the payload and a length that never runs
    /// past the end of the ring, whatever `len` says.
    fn payload_range(&self, pos: u64, len: usize) -> (usize, usize) {
        self.payload_range_at(pos, 0, len)
    }

    fn payload_range_at(&self, pos: u64, at: usize, len: usize) -> (usize, usize) {
        let start = (self.offset(pos) + RECORD_HEADER).saturating_add(at);
        let room = (self.geometry.capacity as usize).saturating_sub(start);
        (start.min(self.geometry.capacity as usize), len.min(room))
    }

    /// Copies `data` into the payload of the record at `pos`, `at` bytes in.
    pub(crate) fn write_payload(&self, pos: u64, at: usize, data: &[u8]) {
        let (start, len) = self.payload_range_at(pos, at, data.len());
        if self.racy {
            // Lossy readers may copy these bytes while we write them: whole
            // 8-byte atomic stores (the only access size used on a lossy
            // ring) keep that from being a data race. `send` writes from the
            // payload's start, which is 8-aligned; the record's size is
            // rounded up to 8, so the last word stays inside it. (Positions
            // are checked to be 8-aligned before any copy; `& !7` keeps even
            // a missed one inside the ring.)
            let len = len.min(self.geometry.capacity as usize - start);
            // SAFETY: `start` is 8-aligned (records are) and
            // `start + round_up(len, 8)` stays inside the record, so inside
            // the ring.
            unsafe { store_shared_words(self.ring.add(start & !7), &data[..len]) };
        } else {
            // The part past the first cache line first: the rest of the
            // first line is then stored right before the header that shares
            // it (`ring::prepare`), so a receiver polling that header does
            // not take the line away in between.
            let first = len.min(64 - (start & 63));
            // SAFETY: both parts are inside the ring (clamped above;
            // `first <= len <= data.len()`), and the protocol gives the
            // sender sole use of this range until it publishes the record
            // (receivers read a payload only once its header is published).
            // The module docs say what a peer that does not can do.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.as_ptr().add(first),
                    self.ring.add(start + first),
                    len - first,
                );
                std::ptr::copy_nonoverlapping(data.as_ptr(), self.ring.add(start), first);
            }
        }
    }

    /// Copies the payload of the record at `pos`, from `at` bytes in, into
    /// `buf`.
    pub(crate) fn read_payload(&self, pos: u64, at: usize, buf: &mut [u8]) {
        let (start, len) = self.payload_range_at(pos, at, buf.len());
        if self.racy {
            // Whole 8-byte atomic loads (see `write_payload`): a concurrent
            // overwrite yields stale bytes that the caller detects, never a
            // data race.
            // SAFETY: as in `write_payload`: 8-aligned, and the rounded-up
            // range stays inside the record.
            unsafe { load_shared_words(self.ring.add(start & !7), &mut buf[..len]) };
        } else {
            // SAFETY: inside the ring (clamped above); the record is published
            // (its header said so) and the sender does not reuse it before this
            // receiver's head moves past it (see the module docs on peers).
            unsafe { std::ptr::copy_nonoverlapping(self.ring.add(start), buf.as_mut_ptr(), len) };
        }
    }

    /// Replaces the contents of `buf` with the `len`-byte payload of the
    /// record at `pos`, without zero-filling it first.
    pub(crate) fn read_payload_to_vec(&self, pos: u64, len: usize, buf: &mut Vec<u8>) {
        buf.clear();
        if self.racy {
            buf.resize(len, 0);
            self.read_payload(pos, 0, buf);
            return;
        }
        let (start, len) = self.payload_range(pos, len);
        buf.reserve(len);
        // SAFETY: the source is inside the ring and stable (as in
        // `read_payload`, and the module docs on peers); the destination
        // has room for `len` bytes, which are all initialised by the copy
        // before `set_len`.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ring.add(start), buf.as_mut_ptr(), len);
            buf.set_len(len);
        }
    }

    /// The payload of the record at `pos` as a raw range: pointer and the
    /// length actually inside the ring (`<= len`).
    pub(crate) fn payload_ptr(&self, pos: u64, len: usize) -> (*mut u8, usize) {
        let (start, len) = self.payload_range(pos, len);
        // SAFETY: `start <= capacity`, inside (or one past) the ring.
        (unsafe { self.ring.add(start) }, len)
    }

    /// Whether any endpoint in slots `first..first + count` is alive.
    pub(crate) fn any_alive(&self, first: u32, count: u32) -> bool {
        // If the kernel cannot tell, assume alive: a false "disconnected"
        // would lose messages, a false "alive" only waits until the deadline.
        sys::any_endpoint_alive(self.mapping.object(), first, count).unwrap_or(true)
    }

    /// Claims an endpoint slot in `first..first + count`; `None` when all are
    /// taken by live endpoints.
    pub(crate) fn claim(&self, first: u32, count: u32) -> Result<Option<sys::EndpointLock>> {
        let mut obstructed = None;
        for i in first..first + count {
            match sys::EndpointLock::try_acquire(self.mapping.object(), i) {
                Ok(Some(lock)) => return Ok(Some(lock)),
                Ok(None) => {}
                // A slot no endpoint holds but a non-endpoint's lock blocks:
                // try the others; say so if none is left.
                Err(source) if source.kind() == io::ErrorKind::ResourceBusy => {
                    obstructed = Some(source);
                }
                Err(source) => {
                    return Err(Error::Os {
                        operation: "claim an endpoint of",
                        name: self.name.clone(),
                        source,
                    })
                }
            }
        }
        match obstructed {
            Some(source) => Err(Error::Os {
                operation: "claim an endpoint of",
                name: self.name.clone(),
                source,
            }),
            None => Ok(None),
        }
    }

    /// Wakes every process parked on `line`, and rings the doorbells
    /// announced there.
    pub(crate) fn wake(&self, line: &WakeLine) {
        park::wake(&KernelFutex, &line.futex);
        ring_bells(line);
    }

    /// Wakes the processes parked on `line`, if any counted itself parked,
    /// and rings the doorbells announced there: what follows a `SeqCst`
    /// publication (see `park` and `bell`). Two loads when nobody waits.
    #[inline]
    pub(crate) fn wake_if_parked(&self, line: &WakeLine) {
        park::wake_if_parked(&KernelFutex, &line.parked, &line.futex);
        ring_bells(line);
    }

    /// Whether wait sets may sleep on their doorbells for this channel
    /// (see `sys::doorbell_reaches`).
    pub(crate) fn doorbells(&self) -> bool {
        self.doorbells
    }

    /// Parks on `line` (see `park`) unless `ready` finds something, until
    /// woken or `timeout` (zero: look only).
    pub(crate) fn park_unless<T>(
        &self,
        line: &WakeLine,
        timeout: Duration,
        ready: impl FnOnce() -> Option<T>,
    ) -> Option<T> {
        let until = (!timeout.is_zero())
            .then(|| Instant::now().checked_add(timeout))
            .flatten();
        park::park_unless(&KernelFutex, &line.parked, &line.futex, until, ready)
    }
}

#[cfg(test)]
mod tests {
    use super::lines_ahead;

    #[test]
    fn each_line_is_fetched_once_as_the_window_slides_over_it() {
        // 72-byte records, 3 lines ahead: every line from the fourth on,
        // once, in order.
        let mut fetched = Vec::new();
        let mut pos = 0;
        while pos < 72 * 40 {
            fetched.extend(lines_ahead(pos, pos + 72, 3));
            pos += 72;
        }
        let expected: Vec<u64> = (4..=(72 * 40 + 192) / 64).collect();
        assert_eq!(fetched, expected);
    }

    #[test]
    fn a_long_jump_fetches_only_the_window() {
        // A record of 4 KiB: the 3 lines past its end, not the 64 in it.
        assert_eq!(lines_ahead(0, 4096, 3), 65..=67);
        // Not moving fetches nothing.
        assert!(lines_ahead(640, 640, 3).is_empty());
    }
}
