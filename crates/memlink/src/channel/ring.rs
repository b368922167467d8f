//! The ring: records of `{len: u32, seq: u32}` headers and payloads, 8-byte
//! aligned, between the producer's tail and the consumers' heads.
//!
//! ```text
//! producer (Sender)                       consumer (Receiver)
//!   reserve: room below the slowest head     next_record: tail (Acquire) past
//!            (Acquire), padding at the           the head? validate the header
//!            end of the ring if needed           (never trusted), skip padding
//!   payload written by the caller            payload read by the caller
//!   publish: header, tail (SeqCst)           release: head (SeqCst)
//!   then wake parked consumers (`park`)      then wake parked producers
//! ```
//!
//! The tail's Release (in SeqCst) pairs with the consumer's Acquire: the
//! bytes of a record before its position. The head's Release pairs with the
//! producer's Acquire: the consumer is done with everything before it. A
//! record never wraps; `len == PAD` marks the unused end of the ring before
//! a wrap. The payload copies and the lossy overrun are the callers'
//! (`shared.rs`, `broadcast.rs`).
//!
//! Generic over the record memory ([`Records`]) and the atomics
//! ([`super::sync_prims`]), so that loom runs this very code
//! (`tests/loom_ring.rs`).

use std::sync::atomic::Ordering;

use super::fault::Fault;
use super::layout::{Geometry, PAD};
use super::sync_prims::{mutated, Mutation, Word64};

/// The record headers of a ring.
pub trait Records {
    /// The ring's size in bytes (a power of two).
    fn capacity(&self) -> u64;
    /// The header at position `pos` (8-aligned): `(len, seq)`. Untrusted.
    fn read_header(&self, pos: u64) -> (u32, u32);
    /// Writes the header at position `pos` (8-aligned).
    fn write_header(&self, pos: u64, len: u32, seq: u32);
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
    /// The end of the bytes it needs (padding included).
    pub end: u64,
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

/// Producer: room for a record of `len` bytes below the slowest head, the
/// padding before it written (numbered `seq`). `cached_head` is a lower
/// bound of the slowest head, refreshed with `slowest_head` (which loads the
/// heads with Acquire) only when it is not enough. `Ok(None)`: full for now.
#[inline]
pub(crate) fn reserve<R: Records>(
    ring: &R,
    tail: u64,
    cached_head: &mut u64,
    len: usize,
    seq: u32,
    slowest_head: impl FnOnce() -> Result<u64, Fault>,
) -> Result<Option<Room>, Fault> {
    let cap = ring.capacity();
    let room = room(tail, cap, len);
    if room.end.saturating_sub(*cached_head) > cap {
        *cached_head = slowest_head()?;
        if room.end.saturating_sub(*cached_head) > cap {
            return Ok(None);
        }
    }
    pad(ring, tail, &room, seq);
    Ok(Some(room))
}

/// Writes the padding record that `room` (found at `tail`) needs, if any.
#[inline]
pub fn pad<R: Records>(ring: &R, tail: u64, room: &Room, seq: u32) {
    if room.pos != tail {
        ring.write_header(tail, PAD, seq);
    }
}

/// Producer: publishes the record at `pos` with `len` payload bytes and
/// number `seq`, its payload written: its header, then the tail. Returns
/// the new tail. The caller then wakes parked consumers
/// (`park::wake_if_parked`, after this `SeqCst` store).
#[inline]
pub fn publish<R: Records, W: Word64>(ring: &R, tail: &W, pos: u64, len: usize, seq: u32) -> u64 {
    ring.write_header(pos, len as u32, seq);
    let new_tail = pos.saturating_add(Geometry::record_size(len) as u64);
    // Release (as part of SeqCst) pairs with the consumers' Acquire of the
    // tail: the record's bytes are visible before its position is. SeqCst
    // also orders it before the `parked` load that follows (Dekker, see
    // `park`).
    tail.store(new_tail, Ordering::SeqCst);
    new_tail
}

/// A consumer's cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumer {
    /// Position of the next record to read.
    pub head: u64,
    /// A lower bound of the producer's tail: records up to here are
    /// published.
    pub cached_tail: u64,
}

impl Consumer {
    /// Cursors starting at `head`.
    pub fn new(head: u64) -> Consumer {
        Consumer {
            head,
            cached_tail: head,
        }
    }

    /// Loads the producer's tail when our cached one is used up; whether a
    /// record (or padding) is published past the head.
    #[inline]
    fn refresh<W: Word64>(&mut self, tail: &W) -> bool {
        if self.head == self.cached_tail {
            // Acquire pairs with the producer's SeqCst tail store in
            // `publish`: the records before it are fully written.
            let order = if mutated(Mutation::RelaxedTailLoad) {
                Ordering::Relaxed
            } else {
                Ordering::Acquire
            };
            self.cached_tail = tail.load(order);
        }
        self.head != self.cached_tail
    }

    /// The record at the head if the common case holds: published, 8-aligned,
    /// within the window, not padding, not over `max_message`, and `seq` as
    /// `in_sequence` expects. `None`: take [`Consumer::next_record`], which
    /// also reports what is wrong.
    #[inline]
    pub fn quick_record<R: Records, W: Word64>(
        &mut self,
        ring: &R,
        tail: &W,
        max_message: u32,
        in_sequence: impl FnOnce(u32) -> bool,
    ) -> Option<Record> {
        self.refresh(tail);
        let cap = ring.capacity();
        let published = self.cached_tail.wrapping_sub(self.head);
        if published == 0 || published > cap || !(self.head | self.cached_tail).is_multiple_of(8) {
            return None;
        }
        let (len, seq) = ring.read_header(self.head);
        let record = Geometry::record_span(len);
        let room_before_wrap = cap - (self.head & (cap - 1));
        // A padding record's length is above any maximum: it goes the full way.
        if len > max_message || record > room_before_wrap || record > published || !in_sequence(seq)
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
    /// (`broadcast::overrun`), moves the cursors past what the producer
    /// overwrote and says whether it did; lossy readers take records out of
    /// sequence (they count what they missed), others ask `out_of_sequence`,
    /// which returns the number it expected instead of `seq`, if it did.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn next_record<R: Records, W: Word64>(
        &mut self,
        ring: &R,
        tail: &W,
        max_message: u32,
        lossy: bool,
        mut overrun: impl FnMut(&mut Consumer) -> bool,
        out_of_sequence: impl Fn(u32) -> Option<u32>,
        mut release: impl FnMut(&mut Consumer, u64),
    ) -> Result<Option<Record>, Fault> {
        let cap = ring.capacity();
        loop {
            if !self.refresh(tail) {
                return Ok(None);
            }
            if lossy && overrun(self) {
                continue;
            }
            if !(self.head | self.cached_tail).is_multiple_of(8) {
                return Err(Fault::Misaligned {
                    pos: if !self.head.is_multiple_of(8) {
                        self.head
                    } else {
                        self.cached_tail
                    },
                });
            }
            if self.cached_tail < self.head || self.cached_tail - self.head > cap {
                return Err(Fault::TailOutOfWindow {
                    tail: self.cached_tail,
                    head: self.head,
                });
            }
            let (len, seq) = ring.read_header(self.head);
            let offset = self.head & (cap - 1);
            let contiguous = cap - offset;
            if len == PAD {
                if offset == 0 || self.head.saturating_add(contiguous) > self.cached_tail {
                    if lossy && overrun(self) {
                        continue;
                    }
                    return Err(Fault::BadPadding { offset });
                }
                release(self, self.head.saturating_add(contiguous));
                continue;
            }
            let record = Geometry::record_span(len);
            if len > max_message
                || record > contiguous
                || self.head.saturating_add(record) > self.cached_tail
            {
                if lossy && overrun(self) {
                    continue;
                }
                return Err(Fault::BadRecord {
                    len,
                    pos: self.head,
                    max: max_message,
                    published: self.cached_tail - self.head,
                });
            }
            if !lossy {
                if let Some(expected) = out_of_sequence(seq) {
                    return Err(Fault::BadSequence {
                        seq,
                        expected,
                        pos: self.head,
                    });
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

/// Consumer: gives the ring up to `head` back to the producer. The caller
/// then wakes parked producers (`park::wake_if_parked`, after this `SeqCst`
/// store).
#[inline]
pub fn release<W: Word64>(head_word: &W, head: u64) {
    // Release (in SeqCst) pairs with the producer's Acquire of the heads
    // (`slowest_head`); SeqCst orders it before the `parked` load (Dekker).
    head_word.store(head, Ordering::SeqCst);
}
