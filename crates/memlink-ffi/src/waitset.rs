//! `ml_waitset_*`: one wait on many receivers, senders, deadlines,
//! intervals, named events and peer deaths (memlink's `channel::WaitSet`),
//! for event loops in C, C++, C# and any language with an FFI.

use std::time::{Duration, Instant};

use memlink_core::channel::{EndpointInfo, Readiness, WaitSet};

use crate::args::{self, handle_out, Out, Wait};
use crate::boundary::call;
use crate::codes::{ml_result, ML_ERR_TIMEOUT};
use crate::event::ml_event;
use crate::failure::Failure;
use crate::guard::{Endpoint, Entered};
use crate::handle::{self, impl_handle, Tagged};
use crate::receiver::{enter_receiver, ml_receiver, ReceiverState};
use crate::sender::{enter_sender, ml_sender, SenderState};

/// Why a source of an `ml_waitset` is ready (`ML_READY_*`).
pub type ml_readiness = i32;
/// A receiver has a message: its next receive does not wait.
pub const ML_READY_READABLE: ml_readiness = 1;
/// A sender has room for the size it was added with.
pub const ML_READY_WRITABLE: ml_readiness = 2;
/// The endpoint's peers are gone (for a receiver, after everything they
/// sent): its next call returns `ML_ERR_DISCONNECTED`. A peer killed with
/// kill -9 is seen within about 40 ms.
pub const ML_READY_DISCONNECTED: ml_readiness = 3;
/// A deadline passed.
pub const ML_READY_DEADLINE: ml_readiness = 4;
/// An event was set (or notified). Reporting it took the signal of an
/// auto-reset event, as `WaitForMultipleObjects` does.
pub const ML_READY_SIGNALED: ml_readiness = 5;
/// An interval's period came round (periods missed while nobody waited
/// are reported once).
pub const ML_READY_TICK: ml_readiness = 6;
/// A peer of an endpoint added with `ml_waitset_add_peer_death` went away:
/// it closed, or it died (kill -9 included, seen within about 40 ms).
pub const ML_READY_PEER_DIED: ml_readiness = 7;

/// One ready source: the token its `ml_waitset_add_*` returned, and why.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ml_ready {
    /// The source's token: 0 for the first one added, 1 for the next...
    pub token: usize,
    /// `ML_READY_*`.
    pub readiness: ml_readiness,
}

enum Source {
    Receiver(*const ml_receiver),
    Sender(*const ml_sender, usize),
    Deadline(Instant),
    /// Due at `next`; each tick moves it on by `period`.
    Interval {
        period: Duration,
        next: Instant,
    },
    Event(*const ml_event),
    /// A receiver's senders, as last looked at.
    ReceiverPeers(*const ml_receiver, Vec<EndpointInfo>),
    /// A sender's receivers, as last looked at.
    SenderPeers(*const ml_sender, Vec<EndpointInfo>),
}

/// How often a wait with peer watches looks at the watched peers (as the
/// library's own liveness looks: a peer killed with kill -9 moves no word).
const PEER_LOOK: Duration = Duration::from_millis(40);

/// Whether a peer left a slot between the look that gave `before` and the
/// one that gave `now`: the occupant seen then is gone (the slot is dead,
/// or another endpoint claimed it since), or one that claimed it after the
/// first look is gone already (the generation moved and the slot is dead).
/// A look that lands between a new peer's claim of its slot and its bump of
/// the generation (a few instructions) makes its arrival look like a
/// departure at the next look; both counts are the processes' own writes,
/// so a hostile one can fake departures, never hide its own death.
fn departed(before: &[EndpointInfo], now: &[EndpointInfo]) -> bool {
    before.iter().zip(now).any(|(b, n)| {
        let claimed_since = n.generation != b.generation;
        (b.alive && (!n.alive || claimed_since)) || (claimed_since && !n.alive)
    })
}

/// The sources of a wait set.
pub(crate) struct WaitSetState {
    sources: Vec<Source>,
}

/// Receivers, senders, deadlines, intervals, events and peer watches to
/// wait on together. Opaque; free with `ml_waitset_free`. It only refers
/// to its endpoints and events: keep them open while they are in the set (`ml_waitset_clear` or free the set before closing
/// one). One call at a time, like an endpoint: a call while another thread
/// is inside one gets `ML_ERR_STATE`.
pub struct ml_waitset {
    inner: Tagged<Endpoint<WaitSetState>>,
}
impl_handle!(ml_waitset, Endpoint<WaitSetState>, b"mlWAITST");

/// # Safety
///
/// `p` must be NULL or a live handle.
unsafe fn enter<'a>(p: *const ml_waitset) -> Result<Entered<'a, WaitSetState>, Failure> {
    // SAFETY: per the caller's contract.
    unsafe { handle::get(p)? }.enter("ml_waitset")
}

/// Makes an empty wait set in `*out`.
///
/// # Safety
///
/// `out` must be writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_new(out: *mut *mut ml_waitset) -> ml_result {
    call("ml_waitset_new", || {
        let out = handle_out(out)?;
        let handle = handle::into_raw::<ml_waitset>(Endpoint::new(WaitSetState {
            sources: Vec::new(),
        }));
        // SAFETY: checked non-NULL by `handle_out`; writable per the contract.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Frees the set (not its endpoints). NULL is fine.
///
/// # Safety
///
/// `set` must be NULL or an open `ml_waitset` that no other thread uses.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_free(set: *mut ml_waitset) {
    let _ = call("ml_waitset_free", || {
        // SAFETY: per the contract.
        unsafe { handle::destroy(set) }
    });
}

/// Adds `source` and stores its token (its place in the set) in `*token`
/// (NULL: not wanted).
///
/// # Safety
///
/// `set` must be an open `ml_waitset`; `token` NULL or writable.
unsafe fn add(
    export: &'static str,
    set: *const ml_waitset,
    source: Source,
    token: *mut usize,
) -> ml_result {
    call(export, || {
        // SAFETY: per the contract.
        let mut state = unsafe { enter(set)? };
        let same = |s: &Source| match (s, &source) {
            (Source::Receiver(a), Source::Receiver(b)) => a == b,
            (Source::Sender(a, _), Source::Sender(b, _)) => a == b,
            (Source::ReceiverPeers(a, _), Source::ReceiverPeers(b, _)) => a == b,
            (Source::SenderPeers(a, _), Source::SenderPeers(b, _)) => a == b,
            (Source::Event(a), Source::Event(b)) => a == b,
            _ => false,
        };
        if state.sources.iter().any(same) {
            return Err(Failure::invalid(
                "this source is in the set already: add each endpoint, event or peer watch once",
            ));
        }
        state.sources.push(source);
        if let Some(out) = Out::optional(token) {
            // SAFETY: non-NULL; writable per the contract.
            unsafe { out.write(state.sources.len() - 1) };
        }
        Ok(())
    })
}

/// Adds `receiver`: ready (`ML_READY_READABLE`) when a message is waiting,
/// `ML_READY_DISCONNECTED` when its senders are gone and nothing is left.
/// `ML_ERR_INVALID_ARGUMENT` if it is in the set already.
///
/// # Safety
///
/// `set` must be an open `ml_waitset`; `receiver` an open `ml_receiver`
/// that stays open while it is in the set; `token` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_add_receiver(
    set: *const ml_waitset,
    receiver: *const ml_receiver,
    token: *mut usize,
) -> ml_result {
    // Checked now, so a bad handle fails here rather than at the wait.
    // SAFETY: per the contract.
    if let Err(f) = unsafe { handle::get(receiver) } {
        return call("ml_waitset_add_receiver", || Err(f));
    }
    // SAFETY: per the contract.
    unsafe {
        add(
            "ml_waitset_add_receiver",
            set,
            Source::Receiver(receiver),
            token,
        )
    }
}

/// Adds `sender`: ready (`ML_READY_WRITABLE`) when a message of `len` bytes
/// fits now, `ML_READY_DISCONNECTED` when its receivers are gone.
/// `ML_ERR_INVALID_ARGUMENT` if it is in the set already.
///
/// # Safety
///
/// As for `ml_waitset_add_receiver`, with an `ml_sender`.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_add_sender(
    set: *const ml_waitset,
    sender: *const ml_sender,
    len: usize,
    token: *mut usize,
) -> ml_result {
    // SAFETY: per the contract.
    if let Err(f) = unsafe { handle::get(sender) } {
        return call("ml_waitset_add_sender", || Err(f));
    }
    // SAFETY: per the contract.
    unsafe {
        add(
            "ml_waitset_add_sender",
            set,
            Source::Sender(sender, len),
            token,
        )
    }
}

/// Adds a deadline `after_ms` milliseconds from now (0 or more):
/// `ML_READY_DEADLINE` from then on.
///
/// # Safety
///
/// `set` must be an open `ml_waitset`; `token` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_add_deadline(
    set: *const ml_waitset,
    after_ms: i64,
    token: *mut usize,
) -> ml_result {
    let at = match args::timeout(after_ms) {
        Ok(Wait::For(d)) => Instant::now().checked_add(d),
        _ => None,
    };
    let Some(at) = at else {
        return call("ml_waitset_add_deadline", || {
            Err(Failure::invalid(format!(
                "deadline {after_ms} ms from now: use 0 or more milliseconds"
            )))
        });
    };
    // SAFETY: per the contract.
    unsafe { add("ml_waitset_add_deadline", set, Source::Deadline(at), token) }
}

/// Adds an interval of `period_ms` milliseconds (1 or more):
/// `ML_READY_TICK` one period from now and every period after. Each tick
/// reported moves it on by a period, or, when the set was not waited on
/// for longer than that, to one period after the report. 0 or less is
/// `ML_ERR_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `set` must be an open `ml_waitset`; `token` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_add_interval(
    set: *const ml_waitset,
    period_ms: i64,
    token: *mut usize,
) -> ml_result {
    let interval = u64::try_from(period_ms)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
        .and_then(|period| Some((period, Instant::now().checked_add(period)?)));
    let Some((period, next)) = interval else {
        return call("ml_waitset_add_interval", || {
            Err(Failure::invalid(format!(
                "interval of {period_ms} ms: use a period of 1 ms or more"
            )))
        });
    };
    // SAFETY: per the contract.
    unsafe {
        add(
            "ml_waitset_add_interval",
            set,
            Source::Interval { period, next },
            token,
        )
    }
}

/// Adds the named event `event`: `ML_READY_SIGNALED` when it is set (or
/// notified). Reporting it takes the signal of an auto-reset event, as
/// `WaitForMultipleObjects` does: the next wait on it (in this set or
/// elsewhere) waits for the next `ml_event_set`. A manual-reset event is
/// reported at every wait until it is reset. `ML_ERR_INVALID_ARGUMENT` if
/// it is in the set already.
///
/// # Safety
///
/// `set` must be an open `ml_waitset`; `event` an open `ml_event` that
/// stays open while it is in the set; `token` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_add_event(
    set: *const ml_waitset,
    event: *const ml_event,
    token: *mut usize,
) -> ml_result {
    // SAFETY: per the contract.
    if let Err(f) = unsafe { handle::get(event) } {
        return call("ml_waitset_add_event", || Err(f));
    }
    // SAFETY: per the contract.
    unsafe { add("ml_waitset_add_event", set, Source::Event(event), token) }
}

/// Watches the peers of an endpoint, the senders of `receiver` or the
/// receivers of `sender` (exactly one of the two non-NULL):
/// `ML_READY_PEER_DIED` when one goes away, by closing or by dying (kill -9
/// included: seen within about 40 ms). It covers every peer attached from
/// the moment the watch is added, also one that attaches during a wait,
/// and one that attaches and leaves while no wait runs (the next wait
/// reports it): the watch remembers each peer slot's liveness and
/// generation (bumped by every endpoint that claims the slot) from its last
/// look, and looks again when a wait starts, every 40 ms while it sleeps,
/// and when a departure wakes it. Departures between two looks are
/// reported once, together. The endpoint may be in the set as a receiver
/// or sender too. Adding takes the first look, so it enters the endpoint:
/// `ML_ERR_STATE` if another thread is inside a call on it.
/// `ML_ERR_NULL` if both are NULL, `ML_ERR_INVALID_ARGUMENT` if both are
/// given or this endpoint is watched already.
///
/// # Safety
///
/// `set` must be an open `ml_waitset`; `receiver` and `sender` NULL or
/// open endpoints that stay open while they are in the set; `token` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_add_peer_death(
    set: *const ml_waitset,
    receiver: *const ml_receiver,
    sender: *const ml_sender,
    token: *mut usize,
) -> ml_result {
    const EXPORT: &str = "ml_waitset_add_peer_death";
    let source = match (receiver.is_null(), sender.is_null()) {
        (true, true) => {
            return call(EXPORT, || Err(Failure::null("receiver and sender")));
        }
        (false, false) => {
            return call(EXPORT, || {
                Err(Failure::invalid(
                    "both a receiver and a sender: watch one endpoint per call",
                ))
            });
        }
        (false, true) => {
            // SAFETY: NULL or an open handle, per the contract.
            unsafe { enter_receiver(receiver) }.and_then(|mut r| {
                let peers = r.for_waitset()?.0.peers();
                Ok(Source::ReceiverPeers(receiver, peers))
            })
        }
        (true, false) => {
            // SAFETY: NULL or an open handle, per the contract.
            unsafe { enter_sender(sender) }.and_then(|mut s| {
                let peers = s.for_waitset()?.peers();
                Ok(Source::SenderPeers(sender, peers))
            })
        }
    };
    match source {
        Err(f) => call(EXPORT, || Err(f)),
        // SAFETY: per the contract.
        Ok(source) => unsafe { add(EXPORT, set, source, token) },
    }
}

/// Removes every source; tokens start again from 0.
///
/// # Safety
///
/// `set` must be an open `ml_waitset`.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_clear(set: *const ml_waitset) -> ml_result {
    call("ml_waitset_clear", || {
        // SAFETY: per the contract.
        unsafe { enter(set)? }.sources.clear();
        Ok(())
    })
}

/// Stores the number of sources in `*out`.
///
/// # Safety
///
/// `set` must be an open `ml_waitset`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_len(set: *const ml_waitset, out: *mut usize) -> ml_result {
    call("ml_waitset_len", || {
        let out = Out::new(out, "out")?;
        // SAFETY: per the contract.
        let n = unsafe { enter(set)? }.sources.len();
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(n) };
        Ok(())
    })
}

/// Waits until at least one source is ready or `timeout_ms` passes
/// (`ML_TIMEOUT_INFINITE`: no limit but the set's deadlines; 0: only
/// looks). Returns `ML_OK` with the number of ready sources in `*count`
/// and the first `min(count, cap)` of them, in token order, in `ready`;
/// `ML_ERR_TIMEOUT` (and `*count` 0) when the time passed first. Readiness
/// is level-triggered: a source not handled is ready again at the next wait.
///
/// While it waits, the set's endpoints are inside a call: another thread's
/// call on one of them gets `ML_ERR_STATE`, and so does this wait if one of
/// them is busy, or has a loan or borrow outstanding. An empty set with
/// `ML_TIMEOUT_INFINITE` is `ML_ERR_INVALID_ARGUMENT` (it would wait
/// forever). No system call is made while a source is ready.
///
/// # Safety
///
/// `set` must be an open `ml_waitset` whose endpoints are open; `ready`
/// valid for writing `cap` entries (or NULL with `cap == 0`); `count`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ml_waitset_wait(
    set: *const ml_waitset,
    timeout_ms: i64,
    ready: *mut ml_ready,
    cap: usize,
    count: *mut usize,
) -> ml_result {
    call("ml_waitset_wait", || {
        let count = Out::new(count, "count")?;
        // SAFETY: `count` is non-NULL and writable per the contract.
        unsafe { count.write(0) };
        if ready.is_null() && cap > 0 {
            return Err(Failure::null("ready"));
        }
        let timeout = match args::timeout(timeout_ms)? {
            Wait::Forever => None,
            Wait::For(d) => Some(d),
        };
        // SAFETY: per the contract.
        let mut state = unsafe { enter(set)? };
        if state.sources.is_empty() && timeout.is_none() {
            return Err(Failure::invalid(
                "the wait set is empty: with ML_TIMEOUT_INFINITE it would wait forever",
            ));
        }
        // Each endpoint is entered once, however many sources name it (a
        // receiver and a watch on its peers, say).
        let mut receivers: Vec<(*const ml_receiver, Entered<'_, ReceiverState>)> = Vec::new();
        let mut senders: Vec<(*const ml_sender, Entered<'_, SenderState>)> = Vec::new();
        for (i, source) in state.sources.iter().enumerate() {
            let at = |f: Failure| Failure::new(f.code, format!("source {i}: {}", f.message));
            match *source {
                Source::Receiver(p) | Source::ReceiverPeers(p, _) => {
                    if !receivers.iter().any(|(q, _)| *q == p) {
                        // SAFETY: open while in the set, per the contract.
                        let r = unsafe { enter_receiver(p) };
                        receivers.push((p, r.map_err(at)?));
                    }
                }
                Source::Sender(p, _) | Source::SenderPeers(p, _) => {
                    if !senders.iter().any(|(q, _)| *q == p) {
                        // SAFETY: open while in the set, per the contract.
                        let s = unsafe { enter_sender(p) };
                        senders.push((p, s.map_err(at)?));
                    }
                }
                Source::Deadline(_) | Source::Interval { .. } | Source::Event(_) => {}
            }
        }
        // A message kept for the next receive (it did not fit) makes its
        // receiver readable whatever its ring says.
        let mut rx = Vec::with_capacity(receivers.len());
        for (p, r) in receivers.iter_mut() {
            let (receiver, pending) = r.for_waitset()?;
            rx.push((*p, receiver, pending));
        }
        let mut tx = Vec::with_capacity(senders.len());
        for (p, s) in senders.iter_mut() {
            tx.push((*p, s.for_waitset()?));
        }
        let receiver = |p| rx.iter().find(|(q, _, _)| *q == p).expect("entered above");
        let sender = |p| tx.iter().find(|(q, _)| *q == p).expect("entered above").1;
        let mut waitset = WaitSet::with_capacity(state.sources.len());
        let mut kept = Vec::new();
        let mut watched = Vec::new();
        for (i, source) in state.sources.iter().enumerate() {
            match *source {
                Source::Receiver(p) => {
                    let &(_, r, pending) = receiver(p);
                    if pending {
                        kept.push(i);
                    }
                    waitset.add_receiver(r);
                }
                Source::Sender(p, len) => {
                    waitset.add_sender(sender(p), len);
                }
                Source::Deadline(at) | Source::Interval { next: at, .. } => {
                    waitset.add_deadline(at);
                }
                Source::Event(p) => {
                    // SAFETY: open while in the set, per the contract
                    // (checked when it was added; an event is shared, so
                    // it is not entered).
                    let event = unsafe { handle::get(p) }
                        .map_err(|f| Failure::new(f.code, format!("source {i}: {}", f.message)))?;
                    waitset.add_event(event);
                }
                // The library's watch too: its line wakes the wait when a
                // peer leaves gracefully. What it reports is replaced by
                // this set's own looks (below), which also see the peers
                // that attached after the library's watch was made.
                Source::ReceiverPeers(p, _) => {
                    waitset.add_peer_death(receiver(p).1);
                    watched.push(i);
                }
                Source::SenderPeers(p, _) => {
                    waitset.add_peer_death(sender(p));
                    watched.push(i);
                }
            }
        }
        // This set's own looks at its watched peers, each compared with the
        // one before (the watch's memory at first) and remembered.
        let mut memory: Vec<(usize, Vec<EndpointInfo>)> = watched
            .iter()
            .filter_map(|&i| match state.sources.get(i)? {
                Source::ReceiverPeers(_, seen) | Source::SenderPeers(_, seen) => {
                    Some((i, seen.clone()))
                }
                _ => None,
            })
            .collect();
        let mut left: Vec<usize> = Vec::new();
        let mut look = |memory: &mut Vec<(usize, Vec<EndpointInfo>)>| {
            for (i, seen) in memory.iter_mut() {
                let now = match state.sources.get(*i) {
                    Some(Source::ReceiverPeers(p, _)) => receiver(*p).1.peers(),
                    Some(Source::SenderPeers(p, _)) => sender(*p).peers(),
                    _ => continue,
                };
                if departed(seen, &now) && !left.contains(i) {
                    left.push(*i);
                }
                *seen = now;
            }
            !left.is_empty()
        };
        let started = Instant::now();
        let deadline = timeout.and_then(|t| started.checked_add(t));
        // First without sleeping: no system call while a source is ready.
        let mut woke = waitset.wait(Some(Duration::ZERO));
        loop {
            // What the library's watch says is replaced by the look.
            woke.retain(|r| r.readiness != Readiness::PeerDied);
            let ready = !woke.is_empty() || !kept.is_empty();
            if ready || (!memory.is_empty() && look(&mut memory)) {
                break;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            // With peer watches, sleep one look's time at most.
            let mut slice = deadline.map(|d| d - now);
            if !memory.is_empty() {
                slice = Some(slice.map_or(PEER_LOOK, |s| s.min(PEER_LOOK)));
            }
            woke = waitset.wait(slice);
        }
        let mut found: Vec<ml_ready> = woke
            .into_iter()
            .filter_map(|r| {
                let readiness = match r.readiness {
                    Readiness::Readable => ML_READY_READABLE,
                    Readiness::Writable => ML_READY_WRITABLE,
                    Readiness::Disconnected => ML_READY_DISCONNECTED,
                    Readiness::Deadline => ML_READY_DEADLINE,
                    Readiness::Signaled => ML_READY_SIGNALED,
                    Readiness::Tick => ML_READY_TICK,
                    Readiness::PeerDied => ML_READY_PEER_DIED,
                    // `Readiness` is non-exhaustive: a reason the C ABI has
                    // no ML_READY_* for yet is not reported (a new variant
                    // comes with its constant, and the sources the C ABI
                    // can add never report anything else).
                    _ => return None,
                };
                Some(ml_ready {
                    token: r.token.0,
                    readiness,
                })
            })
            .collect();
        drop(waitset);
        drop(rx);
        drop(tx);
        drop(receivers);
        drop(senders);
        // What the last look saw becomes the watches' memory; a departure
        // it found is reported now, once.
        for (i, now) in memory {
            if let Some(Source::ReceiverPeers(_, seen) | Source::SenderPeers(_, seen)) =
                state.sources.get_mut(i)
            {
                *seen = now;
            }
        }
        for i in left {
            found.push(ml_ready {
                token: i,
                readiness: ML_READY_PEER_DIED,
            });
        }
        for i in kept {
            match found.iter_mut().find(|r| r.token == i) {
                Some(r) => r.readiness = ML_READY_READABLE,
                None => found.push(ml_ready {
                    token: i,
                    readiness: ML_READY_READABLE,
                }),
            }
        }
        // An interval's deadline passing is a tick, and moves it on.
        let now = Instant::now();
        for r in &mut found {
            if let Some(Source::Interval { period, next }) = state.sources.get_mut(r.token) {
                r.readiness = ML_READY_TICK;
                *next += *period;
                if *next <= now {
                    *next = now + *period;
                }
            }
        }
        found.sort_by_key(|r| r.token);
        if found.is_empty() {
            return Err(Failure::new(
                ML_ERR_TIMEOUT,
                format!("no source of the wait set was ready within {timeout_ms} ms"),
            ));
        }
        for (i, r) in found.iter().take(cap).enumerate() {
            // SAFETY: `ready` is valid for `cap` entries per the contract,
            // and `i < cap`.
            unsafe { ready.add(i).write(*r) };
        }
        // SAFETY: as above.
        unsafe { count.write(found.len()) };
        Ok(())
    })
}
