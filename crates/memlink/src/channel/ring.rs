//! The ring: records of `{len: u32, seq: u32}` headers and payloads, 8-byte
//! aligned, published **in band**: a consumer polls the header at its own
//! head, never the producer's tail.
//!
//! ```text
//! producer (Sender)                        consumer (Receiver)
//!   reserve: room below the slowest head      next_record: header at the head
//!            (Acquire) for the record and         (Acquire): UNPUBLISHED? wait;
//!            the 8 bytes after it                 else validate it (never
//!   prepare: UNPUBLISHED at the record's          trusted), skip padding
//!            end (Relaxed)                    payload read by the caller
//!   payload written by the caller, its        release: head (SeqCst)
//!            first cache line last            then wake parked producers
//!   publish: the header (SeqCst), then the
//!            tail (Release), then wake
//!            parked consumers (`park`)
//! ```
//!
//! # Why the marker
//!
//! The ring is reused lap after lap, so the 8 bytes at a position that is
//! not yet published hold whatever an earlier lap left there: an old
//! header, or the middle of an old payload, which may well look like a
//! valid header (even with the expected sequence number, after 2^32
//! records). So before it publishes a record, the producer writes the
//! marker [`UNPUBLISHED`] where the *next* record's header will go
//! ([`prepare`], before the payload), and only then stores the record's
//! header with Release (in SeqCst). A
//! consumer reaches a position only through the publication of the record
//! (or padding) before it, which its Acquire load of that header saw; the
//! marker was written before that publication, so the consumer sees the
//! marker or something written later: the next publication. Room for a
//! record therefore includes the 8 bytes of the marker after it
//! ([`Room::needs`]). A fresh ring starts with the marker at position 0
//! (`shared::write_header`).
//!
//! A record never wraps; `len == PAD` marks the unused end of the ring
//! before a wrap. Padding is written by `publish` together with the record
//! after it: the record's header first (Relaxed), then the padding header
//! (the publication): a consumer that sees the padding sees the record.
//!
//! The header store is `SeqCst` so that it is ordered before the `parked`
//! load of the wake-up (Dekker, see `park`). The tail is stored after it
//! with Release, for the producer side only: the next holder of the
//! many-to-one lock, a sender that takes over, a joining broadcast reader
//! (`broadcast::join`), `inspect`. A producer that died between the header
//! and the tail store left a record published that the tail does not
//! cover: [`recover_tail`] moves the tail past it.
//!
//! The head's Release (in SeqCst) pairs with the producer's Acquire: the
//! consumer is done with everything before it. The payload copies and the
//! lossy overrun are the callers' (`shared.rs`, `broadcast.rs`).
//!
//! Generic over the record memory ([`Records`]) and the atomics
//! ([`super::sync_prims`]), so that loom runs this very code
//! (`tests/loom_ring.rs`).

use std::sync::atomic::Ordering;

use super::fault::Fault;
use super::layout::{Geometry, PAD, RECORD_HEADER, UNPUBLISHED};
use super::sync_prims::{mutated, Mutation, Word64};

/// The record headers of a ring: 8-byte atomic words at 8-aligned
/// positions.
pub trait Records {
    /// The ring's size in bytes (a power of two).
    fn capacity(&self) -> u64;
    /// Loads the header at position `pos` (8-aligned): `(len, seq)`.
    /// Untrusted.
    fn load_header(&self, pos: u64, order: Ordering) -> (u32, u32);
    /// Stores the header at position `pos` (8-aligned).
    fn store_header(&self, pos: u64, len: u32, seq: u32, order: Ordering);
}

/// A record found in the ring: where, how long, its sequence number.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Its position (of its header).
    pub pos: u64,
    /// Its payload's length.
    pub len: usize,
    /// Its sequence number.
    pub seq: u32,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record at {} ({} bytes)", self.pos, self.len)
    }
}

impl Record {
    /// The position just past it.
    #[inline]
    pub fn end(&self) -> u64 {
        self.pos
            .saturating_add(Geometry::record_size(self.len) as u64)
    }
}

/// Where a record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Its position: the tail, or past the padding at the end of the ring
    /// when it does not fit before it.
    pub pos: u64,
    /// The end of the record (padding included before it).
    pub end: u64,
}

impl Room {
    /// The end of the bytes it needs free: the record and the marker after
    /// it.
    #[inline]
    pub fn needs(&self) -> u64 {
        self.end.saturating_add(RECORD_HEADER as u64)
    }
}

/// Where a record of `len` payload bytes goes when the tail is at `tail`.
#[inline]
pub fn room(tail: u64, capacity: u64, len: usize) -> Room {
    let record = Geometry::record_size(len) as u64;
    let contiguous = capacity - (tail & (capacity - 1));
    // Positions come from shared memory (many-to-one): never overflow.
    if record <= contiguous {
        Room {
            pos: tail,
            end: tail.saturating_add(record),
        }
    } else {
        Room {
            pos: tail.saturating_add(contiguous),
            end: tail.saturating_add(contiguous + record),
        }
    }
}

/// Producer, the common case in a few instructions: where a record of
/// `len` bytes goes if it fits before the end of the ring and below
/// `cached_head` (the marker after it included). `None`: take [`reserve`]
/// (which pads, and looks at the heads again).
#[inline(always)]
pub fn quick_room(tail: u64, cached_head: u64, capacity: u64, len: usize) -> Option<u64> {
    let record = Geometry::record_size(len) as u64;
    let room_before_wrap = capacity - (tail & (capacity - 1));
    let used = tail.wrapping_sub(cached_head);
    let needs = record + RECORD_HEADER as u64;
    (record <= room_before_wrap && used <= capacity.saturating_sub(needs)).then_some(tail)
}

/// Producer: room for a record of `len` bytes (and the marker after it)
/// below the slowest head. `cached_head` is a lower bound of the slowest
/// head, refreshed with `slowest_head` (which loads the heads with Acquire)
/// only when it is not enough. `Ok(None)`: full for now. Writes nothing:
/// padding is part of [`publish`].
#[inline]
pub(crate) fn reserve<R: Records>(
    ring: &R,
    tail: u64,
    cached_head: &mut u64,
    len: usize,
    slowest_head: impl FnOnce() -> Result<u64, Fault>,
) -> Result<Option<Room>, Fault> {
    let cap = ring.capacity();
    let room = room(tail, cap, len);
    if room.needs().saturating_sub(*cached_head) > cap {
        *cached_head = slowest_head()?;
        if room.needs().saturating_sub(*cached_head) > cap {
            return Ok(None);
        }
    }
    Ok(Some(room))
}

/// Producer waiting on a full ring: whether `room`, found for a record when
/// the tail was at `tail` and the slowest head at `head`, also leaves
/// `batch` bytes free after the record (or, for a record so large that even
/// an empty ring would not, as many as an empty ring would). A producer
/// that writes again as soon as one record fits works right behind the
/// consumer, on the cache lines the consumer is reading, and looks at the
/// consumer's head line once per record; one that waits for a batch
/// writes that batch without looking, on lines the consumer left long ago.
#[inline]
pub fn leaves_free(room: Room, tail: u64, head: u64, capacity: u64, batch: u64) -> bool {
    let needs = room.needs();
    let free_after = head.saturating_add(capacity).saturating_sub(needs);
    let most = capacity.saturating_sub(needs.saturating_sub(tail));
    free_after >= batch.min(most)
}

/// The end of a record of `len` payload bytes at `pos`: where the marker
/// goes.
#[inline(always)]
pub fn end_of(pos: u64, len: usize) -> u64 {
    pos.saturating_add(Geometry::record_size(len) as u64)
}

/// Producer, once it has room: writes the marker at `end` (the end of the
/// record it is about to write, [`end_of`]), before the payload, so that
/// the payload and the header, which share the record's first cache line,
/// are stored back to back at publication, without a store to another line
/// in between that a polling consumer could steal the first line during.
/// `next_seq` is the number of the record after it (for debugging only).
/// [`publish`] writes it again where a loan was truncated.
#[inline(always)]
pub fn prepare<R: Records>(ring: &R, end: u64, next_seq: u32) {
    if !mutated(Mutation::MarkerAfterPublish) {
        // Relaxed: ordered before the consumers' loads by the Release of
        // the header store in `publish` (see the module docs).
        ring.store_header(end, UNPUBLISHED, next_seq, Ordering::Relaxed);
    }
}

/// Producer: publishes the record at `pos` with `len` payload bytes and
/// number `seq`, its payload written, the tail being `tail` (before the
/// padding, if `pos` is past it) and the marker written at `prepared` by
/// [`prepare`]: the marker again if the record ends elsewhere (a truncated
/// loan), the record's header (and the padding's, if any), then the tail.
/// Returns the new tail. The caller then wakes parked consumers
/// (`park::wake_if_parked`, after the `SeqCst` header store).
#[inline]
pub fn publish<R: Records, W: Word64>(
    ring: &R,
    tail_word: &W,
    tail: u64,
    prepared: u64,
    pos: u64,
    len: usize,
    seq: u32,
) -> u64 {
    let end = end_of(pos, len);
    let next = seq.wrapping_add(1);
    let late_marker = mutated(Mutation::MarkerAfterPublish);
    if !late_marker && end != prepared {
        prepare(ring, end, next);
    }
    // Release (in SeqCst) pairs with the consumer's Acquire of the header
    // in `next_record` / `quick_record`: the payload, the marker after it
    // (and the record after the padding) are visible before the header is.
    // SeqCst also orders it before the `parked` load that follows (Dekker,
    // see `park`).
    if pos != tail {
        ring.store_header(pos, len as u32, seq, Ordering::Relaxed);
        ring.store_header(tail, PAD, seq, Ordering::SeqCst);
    } else {
        ring.store_header(pos, len as u32, seq, Ordering::SeqCst);
    }
    if late_marker {
        ring.store_header(end, UNPUBLISHED, next, Ordering::Relaxed);
    }
    // Release: the producer side's record of the same (the next
    // many-to-one holder, a sender taking over, a joining reader); no
    // consumer waits on it.
    tail_word.store(end, Ordering::Release);
    end
}

/// Producer taking over from one that may have died: the tail it left,
/// moved past a record (with the padding before it) that it published in
/// band but died before covering with the tail. Nothing moves unless the
/// header at the tail is a well-formed publication.
pub fn recover_tail<R: Records>(ring: &R, tail: u64, max_message: u32) -> u64 {
    let cap = ring.capacity();
    if !tail.is_multiple_of(8) {
        return tail;
    }
    // Acquire pairs with the dead producer's header store.
    let (mut len, mut pos) = (ring.load_header(tail, Ordering::Acquire).0, tail);
    let contiguous = cap - (tail & (cap - 1));
    if len == PAD && contiguous != cap {
        pos = tail.saturating_add(contiguous);
        len = ring.load_header(pos, Ordering::Acquire).0;
    }
    if len > max_message || Geometry::record_span(len) > cap - (pos & (cap - 1)) {
        return tail;
    }
    pos.saturating_add(Geometry::record_span(len))
}

/// A consumer's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumer {
    /// Position of the next record to read.
    pub head: u64,
}

impl Consumer {
    /// A cursor starting at `head`.
    pub fn new(head: u64) -> Consumer {
        Consumer { head }
    }

    /// The header at the head, loaded with Acquire: pairs with the
    /// producer's SeqCst header store in `publish` (the record is fully
    /// written before its header says so).
    #[inline]
    fn header<R: Records>(&self, ring: &R) -> (u32, u32) {
        let order = if mutated(Mutation::RelaxedHeaderLoad) {
            Ordering::Relaxed
        } else {
            Ordering::Acquire
        };
        ring.load_header(self.head, order)
    }

    /// The record at the head if the common case holds: published, 8-aligned,
    /// not padding, not over `max_message`, before the end of the ring,
    /// `seq` as `in_sequence` expects and, with `check_end`, followed by
    /// what a producer leaves after a record (see [`follows`]). `None`: take
    /// [`Consumer::next_record`], which also reports what is wrong.
    ///
    /// `check_end` is for copies, which read the record's last line anyway.
    /// A borrow that reads only part of a message would load one more line
    /// per message for it, often the one the producer is about to write
    /// the next record into (measured, one process: loan + recv_borrow 64 B
    /// 42 M msg/s with the check, 46 M without; two processes within the
    /// noise, 7.5-9.4 M against 7.3-7.9 M). A borrowed record's length is
    /// still checked against the ring and `max_message`, so a forged one
    /// lends ring bytes, never bytes outside it; the slow path
    /// (`next_record`) checks the end for every caller. (A receiver of
    /// small messages loads that word anyway, to decide whether to fetch
    /// the next lines ahead: [`is_published`].)
    #[inline]
    pub fn quick_record<R: Records>(
        &mut self,
        ring: &R,
        max_message: u32,
        check_end: bool,
        in_sequence: impl FnOnce(u32) -> bool,
    ) -> Option<Record> {
        if !self.head.is_multiple_of(8) {
            return None;
        }
        let (len, seq) = self.header(ring);
        let cap = ring.capacity();
        let room_before_wrap = cap - (self.head & (cap - 1));
        let record = Geometry::record_span(len);
        // The marker and padding lengths are above any maximum: they go the
        // full way.
        if len > max_message
            || record > room_before_wrap
            || !in_sequence(seq)
            || (check_end && !follows(ring, self.head.saturating_add(record), seq))
        {
            return None;
        }
        Some(Record {
            pos: self.head,
            len: len as usize,
            seq,
        })
    }

    /// The next published record, if any, validated against the geometry.
    /// Never trusts the ring: a length or position that no correct producer
    /// writes is a [`Fault`]. Padding is skipped with `release` (which moves
    /// the head and gives the bytes back). `overrun`, for lossy readers
    /// (`broadcast::overrun`), moves the cursor past what the producer
    /// overwrote and says whether it did; it is asked after every header
    /// load, since on a lossy ring any header may be a newer lap's bytes.
    /// Lossy readers take records out of sequence (they count what they
    /// missed), others ask `out_of_sequence`, which returns the number it
    /// expected instead of `seq`, if it did.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn next_record<R: Records>(
        &mut self,
        ring: &R,
        max_message: u32,
        lossy: bool,
        mut overrun: impl FnMut(&mut Consumer) -> bool,
        out_of_sequence: impl Fn(u32) -> Option<u32>,
        mut release: impl FnMut(&mut Consumer, u64),
    ) -> Result<Option<Record>, Fault> {
        let cap = ring.capacity();
        loop {
            if !self.head.is_multiple_of(8) {
                return Err(Fault::Misaligned { pos: self.head });
            }
            let (len, seq) = self.header(ring);
            if lossy && overrun(self) {
                continue;
            }
            if len == UNPUBLISHED {
                return Ok(None);
            }
            let offset = self.head & (cap - 1);
            let contiguous = cap - offset;
            if len == PAD {
                if offset == 0 {
                    return Err(Fault::BadPadding { offset });
                }
                release(self, self.head.saturating_add(contiguous));
                continue;
            }
            let record = Geometry::record_span(len);
            let bad_record = Fault::BadRecord {
                len,
                pos: self.head,
                max: max_message,
            };
            if len > max_message || record > contiguous {
                return Err(bad_record);
            }
            if !lossy {
                if let Some(expected) = out_of_sequence(seq) {
                    return Err(Fault::BadSequence {
                        seq,
                        expected,
                        pos: self.head,
                    });
                }
                if !follows(ring, self.head.saturating_add(record), seq) {
                    return Err(bad_record);
                }
            }
            return Ok(Some(Record {
                pos: self.head,
                len: len as usize,
                seq,
            }));
        }
    }
}

/// How far past `seq + 1` the record after record `seq` may be numbered: a
/// producer killed between numbering a record and publishing it leaves its
/// number unused (the receiver's `SEQUENCE_SLACK`).
pub const FOLLOW_SLACK: u32 = 1 << 10;

/// Whether the header at `end`, just past record `seq`, is what a producer
/// leaves there: the marker, or the next publication (a record or
/// padding, numbered after `seq`). Anything else means the record's length
/// runs past what was published (a forged header). Relaxed: the value is
/// only compared; the record's own Acquire already ordered the marker
/// before this load, so a correct ring never fails it.
#[inline]
fn follows<R: Records>(ring: &R, end: u64, seq: u32) -> bool {
    let (len, next) = ring.load_header(end, Ordering::Relaxed);
    len == UNPUBLISHED || next.wrapping_sub(seq).wrapping_sub(1) <= FOLLOW_SLACK
}

/// Whether a record (or padding) is published at `pos`, not the marker:
/// a hint only (Relaxed; the record is taken with its own Acquire load).
#[inline(always)]
pub fn is_published<R: Records>(ring: &R, pos: u64) -> bool {
    ring.load_header(pos, Ordering::Relaxed).0 != UNPUBLISHED
}

/// Consumer: gives the ring up to `head` back to the producer. The caller
/// then wakes parked producers (`park::wake_if_parked`, after this `SeqCst`
/// store).
#[inline]
pub fn release<W: Word64>(head_word: &W, head: u64) {
    // Release (in SeqCst) pairs with the producer's Acquire of the heads
    // (`slowest_head`); SeqCst orders it before the `parked` load (Dekker).
    head_word.store(head, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: u64 = 1024;

    #[test]
    fn a_batch_is_counted_after_the_record_and_its_marker() {
        // A 64 B record takes 72 bytes, and the marker 8 more.
        let tail = 4096;
        let room = room(tail, CAP, 64);
        assert_eq!(room.needs(), tail + 80);
        // Free after it: head + CAP - needs.
        let head_for = |free_after: u64| room.needs() + free_after - CAP;
        assert!(leaves_free(room, tail, head_for(256), CAP, 256));
        assert!(!leaves_free(room, tail, head_for(255), CAP, 256));
        // An empty ring leaves everything but the record free.
        assert!(leaves_free(room, tail, tail, CAP, 256));
    }

    #[test]
    fn a_record_too_large_for_a_batch_asks_only_for_an_empty_ring() {
        // 1000 bytes of a 1024-byte ring: even an empty ring leaves 24 free.
        let tail = 8192;
        let room = room(tail, CAP, 1000 - 16);
        assert_eq!(room.needs() - tail, 1000);
        assert!(leaves_free(room, tail, tail, CAP, 512));
        assert!(!leaves_free(room, tail, tail - 8, CAP, 512));
    }

    #[test]
    fn padding_before_a_wrapped_record_counts_against_the_batch() {
        // 40 bytes before the end of the ring: a 64 B record goes after it.
        let tail = 3 * CAP - 40;
        let room = room(tail, CAP, 64);
        assert_eq!(room.pos, 3 * CAP);
        assert_eq!(room.needs(), 3 * CAP + 80);
        // 8 bytes unread: 40 + 80 + 8 taken, CAP - 128 free.
        assert!(leaves_free(room, tail, tail - 8, CAP, CAP - 128));
        assert!(!leaves_free(room, tail, tail - 8, CAP, CAP - 127));
    }
}
