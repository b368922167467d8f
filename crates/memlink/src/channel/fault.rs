//! What the hot path's validation finds wrong in a segment.
//!
//! A [`Fault`] is a few words, cheap to return from the functions that run
//! for every message; it becomes an [`Error::Corrupt`] with a sentence only
//! when it actually happens.

use crate::error::Error;

/// Something no correct peer writes into a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A receiver's position is outside the ring's window ending at the
    /// sender's.
    HeadOutOfWindow { head: u64, tail: u64 },
    /// Lossy broadcast: the oldest intact record is not within one ring's
    /// length behind the sender's position.
    OldestOutOfWindow { oldest: u64, tail: u64 },
    /// A record position that is not 8-aligned (records always are).
    Misaligned { pos: u64 },
    /// A padding record where none can be.
    BadPadding { offset: u64 },
    /// A record whose length is over the limit, runs past the end of the
    /// ring, or runs past what was published (the header after it is not
    /// one a producer leaves, see `ring::follows`).
    BadRecord { len: u32, pos: u64, max: u32 },
    /// A record whose sequence number is not the next one (or a few past
    /// it): not sent after the one before, in a ring that never drops.
    BadSequence { seq: u32, expected: u32, pos: u64 },
}

impl Fault {
    /// The error to report for this fault in channel `name`.
    #[cold]
    #[inline(never)]
    pub(crate) fn into_error(self, name: &str) -> Error {
        let what = match self {
            Fault::HeadOutOfWindow { head, tail } => format!(
                "a receiver's position {head} is outside the ring's window ending at {tail}"
            ),
            Fault::OldestOutOfWindow { oldest, tail } => format!(
                "the oldest record's position {oldest} is not within a ring's length behind the tail {tail}"
            ),
            Fault::Misaligned { pos } => format!("record position {pos} is not 8-aligned"),
            Fault::BadPadding { offset } => format!("padding record at ring offset {offset}"),
            Fault::BadRecord { len, pos, max } => format!(
                "record of {len} bytes at position {pos} (maximum {max}) runs past the end of \
                 the ring or of what was published"
            ),
            Fault::BadSequence { seq, expected, pos } => format!(
                "record at position {pos} has sequence number {seq}, expected {expected}: \
                 it was never sent after the one before"
            ),
        };
        Error::Corrupt {
            name: name.to_owned(),
            what,
        }
    }
}
