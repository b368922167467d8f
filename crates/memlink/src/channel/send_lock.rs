//! The many-to-one senders' lock: one word of the producer line
//! (`ProducerLine::send_lock`) that a sender holds from finding room for a
//! record until it publishes it, and that a sender killed while holding it
//! can be taken over from.
//!
//! The state word:
//!
//! | `send_lock`               | meaning                                              |
//! |---------------------------|------------------------------------------------------|
//! | `0`                       | free                                                 |
//! | `gen << 16 \| (slot + 1)` | held by the sender that claimed sender slot `slot` when that slot's `SenderSlot::generation` had low 16 bits `gen` |
//! | a slot `>= max_senders`   | corrupt: taken over at once                          |
//!
//! The generation tells a dead holder from a sender that attached later in
//! the same slot (unless that slot was claimed a multiple of 65536 times in
//! between), and a stale look at the word never matches a later holder's:
//! without it, the ABA race that `tests/loom_ring.rs` requires loom to find
//! (the mutation `lock_without_generations`).
//!
//! `lock_waiters` counts the senders asleep on the word: counted (SeqCst)
//! before their last look at it, loaded (SeqCst) by the holder after it lets
//! go, which then wakes them. A sender killed while asleep leaves its count
//! behind: every later unlock makes one needless wake-up call (slower,
//! never wrong).
//!
//! Generic over the atomics and the futex ([`super::sync_prims`]), so that
//! loom runs this very code; the timing (how long to spin, when to look for
//! a dead holder, deadlines) is the caller's (`Sender::lock_senders`).

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::sync_prims::{mutated, Futex, Mutation, Word32};

/// The lock word of the sender in `slot` whose claim made the slot's
/// generation `generation`.
#[inline]
pub fn lock_word(slot: u32, generation: u32) -> u32 {
    if mutated(Mutation::LockWithoutGenerations) {
        return slot + 1;
    }
    ((generation & 0xffff) << 16) | (slot + 1)
}

/// What one attempt at taking the lock found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// We hold it now.
    Taken,
    /// Free, but the attempt failed spuriously: try again.
    Free,
    /// Held: the holder's word.
    Held(u32),
}

/// Whether the lock word `holder` belongs to a sender that cannot be
/// holding it any more, as seen by the sender in `my_slot` (which is not
/// holding it). `generation(i)` loads sender slot `i`'s generation
/// (Acquire); `alive(i)` asks the kernel whether slot `i` is claimed.
///
/// Dead: an impossible slot; our own slot (so a previous owner's word); a
/// slot since claimed by a later sender (its generation moved on); or a
/// slot nobody holds.
#[inline]
pub fn holder_is_dead(
    holder: u32,
    my_slot: u32,
    max_senders: u32,
    generation: impl FnOnce(u32) -> u32,
    alive: impl FnOnce(u32) -> bool,
) -> bool {
    let index = (holder & 0xffff).wrapping_sub(1);
    if mutated(Mutation::LockWithoutGenerations) {
        return index >= max_senders || !alive(index);
    }
    index >= max_senders
        || index == my_slot
        || holder >> 16 != generation(index) & 0xffff
        || !alive(index)
}

/// The senders' lock: its word and its count of sleepers.
pub struct SendLock<'a, W> {
    /// `ProducerLine::send_lock`: the state word (table above).
    pub word: &'a W,
    /// `ProducerLine::lock_waiters`: senders asleep on `word`.
    pub waiters: &'a W,
}

impl<W: Word32> SendLock<'_, W> {
    /// One attempt at taking the free lock with our word `me`.
    #[inline]
    pub fn try_take(&self, me: u32) -> Attempt {
        // Acquire pairs with the previous holder's Release in `unlock`: we
        // see its tail and records. Release (and Acquire on failure) so that
        // whoever reads our word also sees our slot's generation, which
        // tells it we are alive.
        match self
            .word
            .compare_exchange_weak(0, me, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Attempt::Taken,
            Err(0) => Attempt::Free,
            // The shortcut of the first version: a word naming our slot
            // taken as ours.
            Err(holder) if holder == me && mutated(Mutation::LockWithoutGenerations) => {
                Attempt::Taken
            }
            Err(holder) => Attempt::Held(holder),
        }
    }

    /// Takes the lock over from `holder`, judged dead
    /// ([`holder_is_dead`]): its record was never published, so taking
    /// over loses nothing. `false` if the word moved meanwhile.
    #[inline]
    pub fn take_over(&self, holder: u32, me: u32) -> bool {
        self.word
            .compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Sleeps until the lock changes hands, or until `until`.
    pub fn sleep<F: Futex<W>>(&self, futex: &F, until: Instant) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // After counting ourselves (SeqCst): either the holder sees us and
        // wakes us, or we see it let go here and do not sleep.
        let holder = self.word.load(Ordering::SeqCst);
        if holder != 0 {
            futex.wait_while(self.word, holder, Some(until));
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// Lets go of the lock if our word `me` holds it, and wakes the senders
    /// asleep on it.
    #[inline]
    pub fn unlock<F: Futex<W>>(&self, futex: &F, me: u32) {
        // Release pairs with the next holder's Acquire in `try_take`;
        // SeqCst orders it before our look at the sleepers (see `sleep`).
        if self
            .word
            .compare_exchange(me, 0, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
            && self.waiters.load(Ordering::SeqCst) != 0
        {
            futex.wake_all(self.word);
        }
    }
}
