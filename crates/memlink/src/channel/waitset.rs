//! Waiting on many channels at once.
//!
//! A [`WaitSet`] borrows receivers (ready when a message is waiting, or
//! when every sender is gone), senders (ready when a message of a given size
//! fits, or when the receivers are gone) and deadlines, and one
//! [`WaitSet::wait`] returns which are ready. Build one per wait: it only
//! borrows, so the endpoints are free for `try_recv` / `try_send` as soon as
//! it is dropped.
//!
//! # How it waits
//!
//! While something is ready, `wait` makes no system call: readiness is read
//! from the segments. Otherwise it registers on each endpoint's wake line as
//! a parked waiter (the same counted protocol a blocked `recv` or `send`
//! uses, so every publication or release that would wake one of them wakes
//! it), checks once more, and sleeps on all the lines' futex words at once:
//! one `futex_waitv` on Linux 5.16+. Elsewhere (macOS, Windows, older Linux)
//! it sleeps on the first source and looks at the others every millisecond.
//! A peer killed with `kill -9` wakes nobody, so every 40 ms (the liveness
//! slice of blocked calls) it asks the kernel which peers are alive: a dead
//! peer is reported as [`Readiness::Disconnected`] within about that.

use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::layout::WakeLine;
use super::shared::Channel;
use super::wait::LIVENESS_SLICE;
use super::{Receiver, Sender};
use crate::sys;

/// Names one source of a [`WaitSet`], in the order they were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub usize);

/// Why a source is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Readiness {
    /// A receiver has a message (`try_recv` will not say empty).
    Readable,
    /// A sender has room for the size it was added with.
    Writable,
    /// The endpoint's peers are gone (after everything they sent, for a
    /// receiver): its next call says `Disconnected`.
    Disconnected,
    /// A deadline passed.
    Deadline,
}

/// One ready source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// Which source.
    pub token: Token,
    /// Why it is ready.
    pub readiness: Readiness,
}

enum Source<'a> {
    Receiver(&'a Receiver),
    Sender(&'a Sender, usize),
    Deadline(Instant),
}

/// Receivers, senders and deadlines to wait on together (see the module
/// docs).
///
/// ```
/// use std::time::{Duration, Instant};
/// use memlink::channel::{ChannelOptions, Readiness, Receiver, WaitSet};
/// # let (a, b) = (format!("doc-ws-a-{}", std::process::id()), format!("doc-ws-b-{}", std::process::id()));
/// let mut tx = ChannelOptions::new().create_sender(&a)?;
/// let mut first = Receiver::open(&a)?;
/// let _other_tx = ChannelOptions::new().create_sender(&b)?;
/// let second = Receiver::open(&b)?;
/// tx.send(b"hello")?;
///
/// let mut set = WaitSet::new();
/// let on_first = set.add_receiver(&first);
/// let _on_second = set.add_receiver(&second);
/// set.add_deadline(Instant::now() + Duration::from_secs(1));
/// let ready = set.wait(None);
/// assert_eq!((ready[0].token, ready[0].readiness), (on_first, Readiness::Readable));
/// drop(set);
/// assert_eq!(first.try_recv(&mut Vec::new())?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct WaitSet<'a> {
    sources: Vec<Source<'a>>,
}

impl std::fmt::Debug for WaitSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitSet")
            .field("sources", &self.sources.len())
            .finish()
    }
}

impl<'a> WaitSet<'a> {
    /// An empty set.
    pub fn new() -> WaitSet<'a> {
        WaitSet::default()
    }

    /// An empty set with room for `sources` sources without reallocating.
    pub fn with_capacity(sources: usize) -> WaitSet<'a> {
        WaitSet {
            sources: Vec::with_capacity(sources),
        }
    }

    /// Ready when `receiver` has a message waiting, or when its senders are
    /// all gone and nothing is left to read.
    pub fn add_receiver(&mut self, receiver: &'a Receiver) -> Token {
        self.push(Source::Receiver(receiver))
    }

    /// Ready when a message of `len` bytes fits in `sender`'s ring now, or
    /// when its receivers are gone (one-to-one and many-to-one).
    pub fn add_sender(&mut self, sender: &'a Sender, len: usize) -> Token {
        self.push(Source::Sender(sender, len))
    }

    /// Ready from `at` on.
    pub fn add_deadline(&mut self, at: Instant) -> Token {
        self.push(Source::Deadline(at))
    }

    fn push(&mut self, source: Source<'a>) -> Token {
        self.sources.push(source);
        Token(self.sources.len() - 1)
    }

    /// What is ready now, without waiting; no system call unless a peer's
    /// liveness must be asked (`probe_peers`).
    fn ready(&self, now: Instant, probe_peers: bool) -> Vec<Ready> {
        let mut ready = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            let readiness = match source {
                Source::Receiver(rx) if rx.has_published() => Some(Readiness::Readable),
                Source::Receiver(rx) if probe_peers && rx.is_abandoned() => {
                    Some(Readiness::Disconnected)
                }
                Source::Sender(tx, len) if tx.has_room(*len) => Some(Readiness::Writable),
                Source::Sender(tx, _) if probe_peers && tx.is_abandoned() => {
                    Some(Readiness::Disconnected)
                }
                Source::Deadline(at) if now >= *at => Some(Readiness::Deadline),
                _ => None,
            };
            if let Some(readiness) = readiness {
                ready.push(Ready {
                    token: Token(i),
                    readiness,
                });
            }
        }
        ready
    }

    /// Waits until at least one source is ready, or `timeout` passes
    /// (`None`: no limit beyond the set's own deadlines), and returns every
    /// source ready then, in token order. Empty only when the timeout
    /// passed first (or the set is empty and has no timeout to wait for:
    /// then it returns at once).
    pub fn wait(&self, timeout: Option<Duration>) -> Vec<Ready> {
        let started = Instant::now();
        let ready = self.ready(started, false);
        if !ready.is_empty() || (self.sources.is_empty() && timeout.is_none()) {
            return ready;
        }
        let deadline = timeout.and_then(|t| started.checked_add(t));
        let nearest = self
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::Deadline(at) => Some(*at),
                _ => None,
            })
            .chain(deadline)
            .min();
        let lines: Vec<(&Channel, &WakeLine)> = self
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::Receiver(rx) => Some(rx.wait_line()),
                Source::Sender(tx, _) => Some(tx.wait_line()),
                Source::Deadline(_) => None,
            })
            .collect();
        // Nothing was ready without asking: now the peers' liveness too.
        let mut probe = true;
        loop {
            let now = Instant::now();
            let ready = self.ready(now, probe);
            if !ready.is_empty() {
                return ready;
            }
            if deadline.is_some_and(|d| now >= d) {
                return ready;
            }
            let slice_end = now + LIVENESS_SLICE;
            let until = nearest.map_or(slice_end, |n| n.min(slice_end));
            self.park(&lines, until);
            // Peers are asked again only once a slice has passed without a
            // wake-up: a killed one cannot wake us.
            probe = Instant::now() >= slice_end;
        }
    }

    /// Counts itself parked on every line, looks once more, and sleeps on
    /// all the lines' words until woken or `until`.
    fn park(&self, lines: &[(&Channel, &WakeLine)], until: Instant) {
        for (_, line) in lines {
            // SeqCst pairs with the wakers' SeqCst publish and `parked`
            // load (see `WakeLine`), exactly as for one blocked call.
            line.parked.fetch_add(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        let words: Vec<(&AtomicU32, u32)> = lines
            .iter()
            .map(|(_, line)| (&line.futex, line.futex.load(Ordering::Acquire)))
            .collect();
        if self.ready(Instant::now(), false).is_empty() {
            sys::wait_on_any(&words, Some(until));
        }
        for (_, line) in lines {
            line.parked.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
