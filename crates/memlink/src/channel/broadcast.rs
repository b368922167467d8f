//! Broadcast: the slowest reader, joining readers, dead readers.
//!
//! Each reader has a `ReceiverSlot`: its `head` and its `active` word,
//!
//! | `active`        | meaning                                             |
//! |-----------------|-----------------------------------------------------|
//! | `0`             | no reader (never attached, detached, or pruned dead) |
//! | `token` (even)  | joining: `head` is only a lower bound of its start  |
//! | `token \| 1`    | attached: `head` is where it reads next              |
//!
//! where `token` (`layout::receiver_token`) is unique to one claim of the
//! slot, so that pruning a dead reader never clears a later one's word.
//! The sender only overwrites records that every attached reader has
//! passed; a joining reader holds it back to a ring's length behind the
//! tail until it has joined. Lossy readers that fall behind lose the oldest
//! records: the sender moves `oldest` past what it will overwrite
//! (`Sender::make_room_lossy`), a reader behind it jumps ([`overrun`]).
//!
//! Generic over the atomics ([`super::sync_prims`]), so that loom runs this
//! very code.

use std::sync::atomic::Ordering;

use super::fault::Fault;
use super::layout::{Geometry, PAD};
use super::ring::{Consumer, Records};
use super::sync_prims::{mutated, Mutation, Word32, Word64};

/// A reader joins: returns the position it starts reading at.
///
/// A sender that did not count it yet may still fill the ring from where
/// its slowest reader was, so: a lower bound first, then say we are joining
/// (SeqCst), then read the tail again (SeqCst). Either that sender sees us
/// joining, and waits for us, or we see every tail it published before it
/// last looked, and start there, out of reach of what it may still write
/// without counting us.
pub(crate) fn join<W64: Word64, W32: Word32>(
    tail: &W64,
    head: &W64,
    active: &W32,
    token: u32,
) -> u64 {
    let first = tail.load(Ordering::Acquire);
    head.store(first, Ordering::SeqCst);
    if mutated(Mutation::JoinWithoutToken) {
        active.store(token | 1, Ordering::SeqCst);
        return first;
    }
    active.store(token, Ordering::SeqCst);
    let start = tail.load(Ordering::SeqCst);
    head.store(start, Ordering::SeqCst);
    active.store(token | 1, Ordering::SeqCst);
    start
}

/// The head of the slowest of `readers` (`(active, head)` words) that
/// matters against the sender's `tail`, validated: an attached reader's
/// head outside the window `tail - capacity ..= tail` is a fault.
pub(crate) fn slowest_head<'a, W32: Word32 + 'a, W64: Word64 + 'a>(
    tail: u64,
    capacity: u64,
    readers: impl IntoIterator<Item = (&'a W32, &'a W64)>,
) -> Result<u64, Fault> {
    let check = |head: u64| {
        if head > tail || tail - head > capacity {
            Err(Fault::HeadOutOfWindow { head, tail })
        } else {
            Ok(head)
        }
    };
    // SeqCst fence: the tail is stored with Release (`ring::publish`); the
    // fence puts our last tail store before the `active` loads in the
    // single total order, against `join`'s SeqCst `active` store and tail
    // load (Dekker): either we see the reader joining, or it sees our tail.
    W32::fence(Ordering::SeqCst);
    let mut slowest = tail;
    for (active, head) in readers {
        let active = active.load(Ordering::SeqCst);
        if active == 0 {
            continue;
        }
        // Acquire pairs with the reader's SeqCst head store: it is done
        // with everything before `head`.
        let head = head.load(Ordering::Acquire);
        slowest = slowest.min(if active & 1 != 0 {
            check(head)?
        } else {
            // Joining: its head is only a lower bound of where it will
            // start, and may be more than a ring behind. No room until it
            // has joined (or died and is pruned).
            check(head).unwrap_or(tail.saturating_sub(capacity))
        });
    }
    Ok(slowest)
}

/// Forgets a reader judged dead whose `active` word was `seen`: only that
/// reader's token, since a reader that attached to the slot since it was
/// judged dead has another.
#[inline]
pub(crate) fn prune<W32: Word32>(active: &W32, seen: u32) {
    let _ = active.compare_exchange(seen, 0, Ordering::SeqCst, Ordering::SeqCst);
}

/// Lossy broadcast: if the sender has overwritten the reader's position
/// (`oldest` moved past its head), jumps to the oldest record still intact
/// and says so. The caller cannot know how many records were skipped until
/// it reads the next sequence number.
#[inline]
pub(crate) fn overrun<W64: Word64>(oldest: &W64, cursor: &mut Consumer) -> bool {
    // Pairs with the sender's Release fence after it moves `oldest`: if
    // anything read before this call (a record header, a payload) was
    // written after that, we see the new `oldest`.
    W64::fence(Ordering::Acquire);
    let oldest = oldest.load(Ordering::Acquire);
    if cursor.head >= oldest {
        return false;
    }
    cursor.head = oldest;
    true
}

/// Lossy broadcast, the sender: moves `oldest` (our copy, and the shared
/// `oldest_word`) past every record that the bytes up to `end` will
/// overwrite, before they are overwritten. `end` is `ring::Room::needs`:
/// the marker after the record is written over old bytes too.
pub(crate) fn make_room_lossy<R: Records, W64: Word64>(
    ring: &R,
    oldest_word: &W64,
    oldest: &mut u64,
    tail: u64,
    end: u64,
    max_message: u32,
) -> Result<(), Fault> {
    let cap = ring.capacity();
    // Both positions come from shared memory: walking from one to the
    // other must take at most one ring's worth of records.
    if *oldest > tail || tail - *oldest > cap {
        return Err(Fault::OldestOutOfWindow {
            oldest: *oldest,
            tail,
        });
    }
    let before = *oldest;
    while oldest.saturating_add(cap) < end {
        // Relaxed: only we write headers.
        let (len, _) = ring.load_header(*oldest, Ordering::Relaxed);
        let step = if len == PAD {
            cap - (*oldest & (cap - 1))
        } else if len <= max_message {
            Geometry::record_span(len)
        } else {
            return Err(Fault::BadRecord {
                len,
                pos: *oldest,
                max: max_message,
            });
        };
        *oldest = oldest.saturating_add(step).min(tail);
        if *oldest == tail {
            break;
        }
    }
    if *oldest != before {
        // Release pairs with the Acquire load in `overrun`: a reader that
        // jumps to `oldest` sees the record published there.
        let order = if mutated(Mutation::RelaxedOldest) {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        oldest_word.store(*oldest, order);
        // Pairs with the readers' Acquire fence in `overrun`, after their
        // copy: a reader that saw any byte we write next also sees
        // `oldest`.
        if !mutated(Mutation::RelaxedOldest) {
            W64::fence(Ordering::Release);
        }
    }
    Ok(())
}
