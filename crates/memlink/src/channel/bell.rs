//! The doorbell protocol of a wake line (`layout::WakeLine::bells`): how a
//! [`WaitSet`](super::WaitSet) sleeps on one word of its own, its doorbell,
//! instead of on every channel's word, without missing a publication.
//!
//! ```text
//! wait set (park_lines), per line           waker (after a SeqCst publication)
//!   belled += 1                  (SeqCst)     header or head = new     (SeqCst)
//!   claim a free slot: 0 -> id   (SeqCst)     [parked: park::wake_if_parked]
//!   (no slot free: parked += 1, and sleep     if belled != 0           (SeqCst)
//!    on the line's own word, as a blocked         for each slot: id    (SeqCst)
//!    call does)                                       if id != 0: ring id
//! fence                          (SeqCst)   ring: bell word += 1 (Release), wake
//! seen = bell word               (Acquire)
//! look at every source once more
//! sleep while bell word == seen (and the unbelled lines' words)
//! per line: slot id -> 0, then belled -= 1
//! ```
//!
//! Why no wake-up is lost: the waker's slot load and the wait set's claim
//! are `SeqCst` accesses of one word. If the load comes first in the total
//! order, the claim, the fence and the last look come after the
//! publication, and the fence makes the look see it; otherwise the load
//! sees the claim and the waker rings. `belled` only spares wakers the scan
//! when no wait set is announced: a waker that reads it 0 precedes the
//! count, hence the claim and the look, in the same order. A ring between
//! the look and the sleep moved the bell word past `seen`. The mutation
//! `bell_look_before_announce` takes the last look first; loom must find
//! the lost wake-up (`tests/loom_waitset.rs`).
//!
//! A slot is freed by whoever swaps its id back to 0 (the wait set after
//! its sleep, or a waker that found the doorbell's owner dead), and only
//! that one takes the count down: a dead wait set's registration is undone
//! once, never twice.
//!
//! Generic over the atomics and the futex ([`super::sync_prims`]), so that
//! loom runs this very code.

use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};

use super::sync_prims::{mutated, Mutation, Word32, Word64};

/// The words of one wake line that a wait set registers on.
#[derive(Debug)]
pub struct Line<'l, W, D> {
    /// `WakeLine::parked`.
    pub parked: &'l W,
    /// `WakeLine::futex`.
    pub futex: &'l W,
    /// `WakeLine::belled`.
    pub belled: &'l W,
    /// `WakeLine::bells`.
    pub bells: &'l [D],
    /// Whether every waker of the line can ring our doorbell (else the wait
    /// set parks on the line's own word).
    pub doorbell: bool,
}

/// How a wait set registered on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Its doorbell's identity is in this slot of `bells`.
    Bell(usize),
    /// Counted in `parked`, as a blocked call.
    Parked,
}

/// Announces doorbell `id` on `line` (or, without one or a free slot,
/// counts the caller parked there).
pub fn announce<W: Word32, D: Word64>(line: &Line<'_, W, D>, id: Option<u64>) -> Registration {
    if let (Some(id), true) = (id, line.doorbell) {
        // SeqCst: before the claim in the total order (see the module docs).
        line.belled.fetch_add(1, SeqCst);
        for (i, slot) in line.bells.iter().enumerate() {
            // SeqCst: pairs with the wakers' SeqCst slot loads (Dekker).
            if slot.compare_exchange(0, id, SeqCst, Relaxed).is_ok() {
                return Registration::Bell(i);
            }
        }
        line.belled.fetch_sub(1, SeqCst);
    }
    // SeqCst: the park protocol's count (see `park`).
    line.parked.fetch_add(1, SeqCst);
    Registration::Parked
}

/// Undoes [`announce`] after the sleep.
pub fn withdraw<W: Word32, D: Word64>(line: &Line<'_, W, D>, registration: Registration, id: u64) {
    match registration {
        Registration::Bell(slot) => {
            clear(line.belled, line.bells, slot, id);
        }
        Registration::Parked => {
            line.parked.fetch_sub(1, SeqCst);
        }
    }
}

/// Frees slot `slot` of `bells` if it still holds `id`, and then takes
/// `belled` down; says whether it did. For the wait set after its sleep,
/// and for a waker that found the doorbell's owner gone.
pub fn clear<W: Word32, D: Word64>(belled: &W, bells: &[D], slot: usize, id: u64) -> bool {
    let Some(word) = bells.get(slot) else {
        return false;
    };
    // SeqCst, like every access of the slots (no cheaper RMW on x86 anyway).
    if word.compare_exchange(id, 0, SeqCst, Relaxed).is_err() {
        return false;
    }
    belled.fetch_sub(1, SeqCst);
    true
}

/// The waker's side, right after a `SeqCst` publication: calls `ring(slot,
/// id)` for every doorbell announced on the line. One load when none is.
#[inline]
pub fn ring_bells<W: Word32, D: Word64>(belled: &W, bells: &[D], ring: impl FnMut(usize, u64)) {
    // SeqCst: after the publication in the total order (module docs).
    if belled.load(SeqCst) != 0 {
        ring_announced(bells, ring);
    }
}

#[cold]
#[inline(never)]
fn ring_announced<D: Word64>(bells: &[D], mut ring: impl FnMut(usize, u64)) {
    for (slot, word) in bells.iter().enumerate() {
        // SeqCst: pairs with the claim in `announce` (module docs).
        let id = word.load(SeqCst);
        if id != 0 {
            ring(slot, id);
        }
    }
}

/// The wait set's side over all its lines: announces `bell` (its word and
/// identity) on every line that allows it and counts itself parked on the
/// others, fences, reads the words to sleep on into `words` (the bell's
/// first, then the lines' it parked on, after what the caller put there),
/// takes one last look with `look`, and unless that found something calls
/// `sleep(words)`; then withdraws everywhere. Returns what `look` found.
pub fn park_lines<'w, W: Word32, D: Word64, T>(
    lines: &[Line<'w, W, D>],
    bell: Option<(&'w W, u64)>,
    words: &mut Vec<(&'w W, u32)>,
    look: impl FnOnce() -> Option<T>,
    sleep: impl FnOnce(&mut [(&'w W, u32)]),
) -> Option<T> {
    let id = bell.map(|(_, id)| id);
    // The mutation looks before announcing: a publication in between is
    // missed by the look and rings nobody.
    let mut look = Some(look);
    let early = if mutated(Mutation::BellLookBeforeAnnounce) {
        look.take().and_then(|look| look())
    } else {
        None
    };
    let mut registrations = Vec::with_capacity(lines.len());
    for line in lines {
        registrations.push(announce(line, id));
    }
    // Orders the claims and counts above before the loads below (which are
    // weaker than SeqCst), as `park::park_unless` does (whose mutation
    // `park_without_fence` takes this fence away too).
    if !mutated(Mutation::ParkWithoutFence) {
        W::fence(SeqCst);
    }
    if let Some((word, _)) = bell {
        words.insert(0, (word, word.load(Acquire)));
    }
    for (line, registration) in lines.iter().zip(&registrations) {
        if *registration == Registration::Parked {
            words.push((line.futex, line.futex.load(Acquire)));
        }
    }
    let value = match look {
        Some(look) => look(),
        None => early,
    };
    if value.is_none() {
        sleep(words);
    }
    for (line, registration) in lines.iter().zip(registrations) {
        withdraw(line, registration, id.unwrap_or(0));
    }
    value
}
