//! Waiting on many channels and events at once.
//!
//! A [`WaitSet`] borrows receivers (ready when a message is waiting, or
//! when every sender is gone), senders (ready when a message of a given size
//! fits, or when the receivers are gone), events (ready when set),
//! endpoints whose peers it watches (ready when one of them dies), and
//! holds deadlines and intervals; one [`WaitSet::wait`] returns which are
//! ready. It only borrows, so the endpoints are free for `try_recv` /
//! `try_send` as soon as it is dropped; a set may also be kept and waited
//! on again and again (intervals and peer watches keep their state in it).
//!
//! # How it waits
//!
//! While something is ready, `wait` makes no system call: readiness is read
//! from the segments (and the clock, which Linux reads without one). This
//! is counted: [`WaitSet::stats`] says how often the set slept in the
//! kernel and asked it about peers. Otherwise it sleeps until a source
//! may have become ready, in one of two ways per channel:
//!
//! * **By doorbell** (Linux and macOS, on channels that only its own user
//!   may write): the set's thread has a doorbell, a tiny named object with
//!   one word (`channel/doorbell.rs`). The set announces it in a slot of
//!   each channel's wake line, checks every source once more, and sleeps on
//!   that one word; a publication or release that finds a doorbell
//!   announced rings it (the protocol, model-checked with loom:
//!   `channel/bell.rs`). One word whatever the number of channels: a plain
//!   `futex_wait` (or `__ulock_wait` on macOS) when nothing else is
//!   waited on, and no per-channel setup in the kernel.
//! * **On the channel's own word**, as a blocked `recv` or `send` does
//!   (counted parked on the wake line, so every publication or release
//!   that would wake one of them wakes it): on Windows, for channels others
//!   may write (whose wakers could not open a doorbell of this user), and
//!   when a line's doorbell slots are all taken.
//!
//! Events register as one of their waiters, and peer watches add their
//! line's word. All the words are slept on at once: one `futex_waitv` on
//! Linux 5.16+, `WaitForMultipleObjects` on Windows; on macOS (whose
//! `__ulock` waits on one address) and older Linux it sleeps on the first
//! word and looks at the others every millisecond. `futex_waitv` costs its
//! setup per word (on a 2-vCPU VM about 0.3 µs to look each shared word
//! up, and as much again to queue and unqueue each word before the one
//! found changed): the doorbell goes first, and without one the set puts
//! first the wake word of the channel its thread's last wait reported
//! ready, so that the kernel sees it at the first word instead of the last.
//! A peer killed with `kill -9` wakes
//! nobody, so every 40 ms (the liveness slice of blocked calls) it asks the
//! kernel which peers are alive: a dead peer is reported within about that.
//!
//! # Events
//!
//! An event is ready when it is set, and the set takes the signal as
//! Windows' `WaitForMultipleObjects` does: an auto-reset event reported as
//! [`Readiness::Signaled`] has been reset by the report (one `set`, one
//! release, whoever waits), a manual-reset one stays set. A `notify_one` or
//! `notify_all` that comes while the set sleeps releases it as it would a
//! thread blocked in [`Event::wait`].

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::bell;
use super::doorbell::{self, Doorbell};
use super::layout::WakeLine;
use super::shared::Channel;
use super::wait::LIVENESS_SLICE;
use super::{Receiver, Sender};
use crate::sync::{Event, Registration};
use crate::sys;

/// Names one source of a [`WaitSet`], in the order they were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub usize);

/// Why a source is ready. More reasons may come: match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    /// An event was set (or notified); an auto-reset one was reset by
    /// this report.
    Signaled,
    /// An interval's period came round. Periods missed while nobody waited
    /// are reported once, not one by one.
    Tick,
    /// A peer of a watched endpoint (one added with
    /// [`WaitSet::add_peer_death`]) went away: it closed, or it died.
    PeerDied,
}

/// One ready source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// Which source.
    pub token: Token,
    /// Why it is ready.
    pub readiness: Readiness,
}

/// What a set has done in the kernel: for checking that waiting on
/// something ready costs no system call, and for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// How often the set went to sleep in the kernel.
    pub sleeps: u64,
    /// How often it asked the kernel whether peers are alive.
    pub liveness_probes: u64,
}

/// An endpoint, for [`WaitSet::add_peer_death`]: `&Receiver` or `&Sender`
/// convert into one.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint<'a> {
    /// Watch the receiver's senders.
    Receiver(&'a Receiver),
    /// Watch the sender's receivers.
    Sender(&'a Sender),
}

impl<'a> From<&'a Receiver> for Endpoint<'a> {
    fn from(rx: &'a Receiver) -> Self {
        Endpoint::Receiver(rx)
    }
}

impl<'a> From<&'a Sender> for Endpoint<'a> {
    fn from(tx: &'a Sender) -> Self {
        Endpoint::Sender(tx)
    }
}

/// The peers of one watched endpoint, as last seen.
struct PeerWatch<'a> {
    channel: &'a Channel,
    /// The line the peers' departures wake (every departure bumps it).
    line: &'a WakeLine,
    /// The peers' slots.
    first: u32,
    seen: Mutex<PeerState>,
}

struct PeerState {
    /// Which peer slots were alive at the last look.
    alive: Vec<bool>,
    /// The line's departure count at the last look.
    departures: u32,
    /// A death seen by a look and not reported yet.
    pending: bool,
}

impl PeerWatch<'_> {
    /// Asks the kernel which peers are alive now; a slot alive at the last
    /// look and dead now is a death, reported at the next `take`.
    fn look(&self) {
        let departures = self.line.departures.load(Ordering::Acquire);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *seen;
        state.departures = departures;
        for (slot, was) in (self.first..).zip(state.alive.iter_mut()) {
            let now = self.channel.any_alive(slot, 1);
            if *was && !now {
                state.pending = true;
            }
            *was = now;
        }
    }

    /// Whether a departure happened since the last look: the cheap hint,
    /// one load, that a look would find something.
    fn departed(&self) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.line.departures.load(Ordering::Acquire) != seen.departures
    }

    /// Takes a pending death, if any.
    fn take(&self) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut seen.pending)
    }
}

enum Source<'a> {
    Receiver(&'a Receiver),
    Sender(&'a Sender, usize),
    Deadline(Instant),
    /// Due at `origin + next` nanoseconds; moved on by each report.
    Interval {
        period: Duration,
        next: AtomicU64,
    },
    Event(&'a Event),
    Peers(PeerWatch<'a>),
}

/// Receivers, senders, events, deadlines, intervals and peers to wait on
/// together (see the module docs).
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
pub struct WaitSet<'a> {
    sources: Vec<Source<'a>>,
    /// What intervals count from.
    origin: Instant,
    sleeps: AtomicU64,
    probes: AtomicU64,
}

impl Default for WaitSet<'_> {
    fn default() -> Self {
        WaitSet::with_capacity(0)
    }
}

impl std::fmt::Debug for WaitSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitSet")
            .field("sources", &self.sources.len())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A word to sleep on, and what it held when we last looked.
type Word<'w> = (&'w AtomicU32, u32);

std::thread_local! {
    /// The address of the wake word of the receiver or sender that this
    /// thread's last wait reported ready (0: none yet): the word its next
    /// sleep puts first (see the module docs). A hint, compared as an
    /// address and never dereferenced.
    static HOT_WORD: Cell<usize> = const { Cell::new(0) };
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
            origin: Instant::now(),
            sleeps: AtomicU64::new(0),
            probes: AtomicU64::new(0),
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

    /// Ready every `period`, the first time one period from now: each
    /// report moves it on by a period (or, when the set was not waited on
    /// for longer than that, to one period after the report). A zero
    /// period is taken as one microsecond.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use memlink::channel::{Readiness, WaitSet};
    /// let mut set = WaitSet::new();
    /// let tick = set.add_interval(Duration::from_millis(5));
    /// let started = Instant::now();
    /// for _ in 0..3 {
    ///     let ready = set.wait(None);
    ///     assert_eq!((ready[0].token, ready[0].readiness), (tick, Readiness::Tick));
    /// }
    /// assert!(started.elapsed() >= Duration::from_millis(15));
    /// ```
    pub fn add_interval(&mut self, period: Duration) -> Token {
        let period = period.max(Duration::from_micros(1));
        let first = self.origin.elapsed().saturating_add(period);
        self.push(Source::Interval {
            period,
            next: AtomicU64::new(nanos(first)),
        })
    }

    /// Ready when `event` is set (or notified). Reporting it takes the
    /// signal of an auto-reset event (see the module docs). A
    /// [`NamedEvent`](crate::NamedEvent) is an event: `add_event(&named)`.
    ///
    /// ```
    /// use memlink::{EventKind, NamedEvent};
    /// use memlink::channel::{Readiness, WaitSet};
    /// # let name = format!("doc-ws-event-{}", std::process::id());
    /// let ready = NamedEvent::create(&name, EventKind::AutoReset)?;
    /// let mut set = WaitSet::new();
    /// let on_event = set.add_event(&ready);
    /// ready.set();
    /// let woke = set.wait(None);
    /// assert_eq!((woke[0].token, woke[0].readiness), (on_event, Readiness::Signaled));
    /// assert!(!ready.is_set(), "the set took the signal");
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn add_event(&mut self, event: &'a Event) -> Token {
        self.push(Source::Event(event))
    }

    /// Ready, as [`Readiness::PeerDied`], when a peer of `endpoint` (a
    /// receiver's senders, a sender's receivers) that was attached goes
    /// away, by closing or by dying (`kill -9` included: seen within about
    /// 40 ms). Each departure is reported once; the peers attached now are
    /// asked about when this is called (a system call per peer slot).
    pub fn add_peer_death(&mut self, endpoint: impl Into<Endpoint<'a>>) -> Token {
        let (channel, line, first, count) = match endpoint.into() {
            Endpoint::Receiver(rx) => {
                let (channel, line) = rx.wait_line();
                (channel, line, 0, channel.geometry().max_senders)
            }
            Endpoint::Sender(tx) => {
                let (channel, line) = tx.wait_line();
                let g = channel.geometry();
                (channel, line, g.max_senders, g.max_receivers)
            }
        };
        // Senders' departures wake the data line, receivers' the space
        // line: the peers' side of the line we would park on.
        let watch = PeerWatch {
            channel,
            line,
            first,
            seen: Mutex::new(PeerState {
                alive: vec![false; count as usize],
                departures: 0,
                pending: false,
            }),
        };
        watch.look();
        self.probes.fetch_add(1, Ordering::Relaxed);
        self.push(Source::Peers(watch))
    }

    fn push(&mut self, source: Source<'a>) -> Token {
        self.sources.push(source);
        Token(self.sources.len() - 1)
    }

    /// What the set has done in the kernel so far.
    pub fn stats(&self) -> WaitStats {
        WaitStats {
            sleeps: self.sleeps.load(Ordering::Relaxed),
            liveness_probes: self.probes.load(Ordering::Relaxed),
        }
    }

    /// What is ready now, without waiting, taking what a report takes
    /// (event signals, interval periods, peer deaths): every result must
    /// reach the caller. No system call unless a peer's liveness must be
    /// asked (`probe_peers`, or a departure was announced).
    fn ready(&self, now: Instant, probe_peers: bool) -> Vec<Ready> {
        let mut ready = Vec::new();
        let mut asked = false;
        for (i, source) in self.sources.iter().enumerate() {
            let readiness = match source {
                Source::Receiver(rx) if rx.has_published() => Some(Readiness::Readable),
                Source::Receiver(rx) if probe_peers => {
                    asked = true;
                    rx.is_abandoned().then_some(Readiness::Disconnected)
                }
                Source::Sender(tx, len) if tx.has_room(*len) => Some(Readiness::Writable),
                Source::Sender(tx, _) if probe_peers => {
                    asked = true;
                    tx.is_abandoned().then_some(Readiness::Disconnected)
                }
                Source::Deadline(at) if now >= *at => Some(Readiness::Deadline),
                Source::Interval { period, next } => {
                    let elapsed = nanos(now.saturating_duration_since(self.origin));
                    let due = next.load(Ordering::Relaxed);
                    (elapsed >= due).then(|| {
                        let step = nanos(*period);
                        let mut following = due.saturating_add(step);
                        if following <= elapsed {
                            following = elapsed.saturating_add(step);
                        }
                        // Relaxed: the set's own bookkeeping, read by the
                        // thread that waits (a shared set's racing waiters
                        // may both report one period, never lose one).
                        next.store(following, Ordering::Relaxed);
                        Readiness::Tick
                    })
                }
                // A zero timeout takes the signal without a system call.
                Source::Event(event) => event
                    .wait_timeout(Duration::ZERO)
                    .then_some(Readiness::Signaled),
                Source::Peers(watch) => {
                    if probe_peers || watch.departed() {
                        asked = true;
                        watch.look();
                    }
                    watch.take().then_some(Readiness::PeerDied)
                }
                _ => None,
            };
            if let Some(readiness) = readiness {
                ready.push(Ready {
                    token: Token(i),
                    readiness,
                });
            }
        }
        if asked {
            self.probes.fetch_add(1, Ordering::Relaxed);
        }
        ready
    }

    /// Waits until at least one source is ready, or `timeout` passes
    /// (`None`: no limit beyond the set's own deadlines and intervals), and
    /// returns every source ready then, in token order. Empty only when the
    /// timeout passed first (or the set is empty and has no timeout to wait
    /// for: then it returns at once).
    pub fn wait(&self, timeout: Option<Duration>) -> Vec<Ready> {
        let started = Instant::now();
        let ready = self.ready(started, false);
        if !ready.is_empty() || (self.sources.is_empty() && timeout.is_none()) {
            return self.reported(ready);
        }
        let deadline = timeout.and_then(|t| started.checked_add(t));
        // Peers are asked only once a slice has passed without a wake-up,
        // as a blocked `recv` does: a graceful departure wakes the line, a
        // killed peer is found by that look (within a slice), and a wait
        // that is woken in time asks the kernel nothing (over 64 channels,
        // asking first cost more than the whole wake-up).
        let mut probe = false;
        // Whether a look of this call asked about peers.
        let mut probed = false;
        // The look above was the first one; park's own look follows.
        let mut looked = true;
        loop {
            let now = Instant::now();
            if !looked {
                probed |= probe;
                let ready = self.ready(now, probe);
                if !ready.is_empty() {
                    return self.reported(ready);
                }
            }
            looked = false;
            if deadline.is_some_and(|d| now >= d) {
                // A wait that ends empty has asked about peers at least
                // once: a zero (or short) timeout must still report a
                // sender killed on an empty ring, whose death woke nobody.
                if !probed {
                    let ready = self.ready(now, true);
                    if !ready.is_empty() {
                        return self.reported(ready);
                    }
                }
                return Vec::new();
            }
            let slice_end = now + LIVENESS_SLICE;
            let until = self
                .due()
                .chain(deadline)
                .fold(slice_end, |until, at| until.min(at));
            let ready = self.park(until);
            if !ready.is_empty() {
                return self.reported(ready);
            }
            // Peers are asked again only once a slice has passed without a
            // wake-up: a killed one cannot wake us.
            probe = Instant::now() >= slice_end;
        }
    }

    /// Remembers, for this thread's next sleep, the wake word of the first
    /// receiver or sender in `ready`; returns `ready`.
    fn reported(&self, ready: Vec<Ready>) -> Vec<Ready> {
        let line = ready
            .iter()
            .find_map(|r| match self.sources.get(r.token.0) {
                Some(Source::Receiver(rx)) => Some(rx.wait_line().1),
                Some(Source::Sender(tx, _)) => Some(tx.wait_line().1),
                _ => None,
            });
        if let Some(line) = line {
            HOT_WORD.set(line.futex.as_ptr() as usize);
        }
        ready
    }

    /// When the deadlines and intervals are next due.
    fn due(&self) -> impl Iterator<Item = Instant> + '_ {
        self.sources.iter().filter_map(|s| match s {
            Source::Deadline(at) => Some(*at),
            Source::Interval { next, .. } => self
                .origin
                .checked_add(Duration::from_nanos(next.load(Ordering::Relaxed))),
            _ => None,
        })
    }

    /// Counts itself parked on every line and registered on every event,
    /// looks once more, and sleeps on all their words until woken or
    /// `until`. Returns what it found ready (what the last look found, or
    /// the events that released it).
    fn park(&self, until: Instant) -> Vec<Ready> {
        // A doorbell only where a line can use one (never on Windows, nor
        // for channels that others may write: `sys::doorbell_reaches`).
        let doorbells = self.sources.iter().any(|s| match s {
            Source::Receiver(rx) => rx.wait_line().0.doorbells(),
            Source::Sender(tx, _) => tx.wait_line().0.doorbells(),
            _ => false,
        });
        if doorbells {
            doorbell::with_own(|bell| self.park_with(bell, until))
        } else {
            self.park_with(None, until)
        }
    }

    /// [`WaitSet::park`] with this thread's doorbell, if it has one.
    fn park_with(&self, bell: Option<&Doorbell>, until: Instant) -> Vec<Ready> {
        let mut lines: Vec<bell::Line<'_, AtomicU32, AtomicU64>> =
            Vec::with_capacity(self.sources.len());
        let mut words: Vec<Word<'_>> = Vec::with_capacity(self.sources.len() + 1);
        let mut events: Vec<(usize, &Event, Registration)> = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            match source {
                Source::Receiver(rx) => lines.push(line_of(rx.wait_line())),
                Source::Sender(tx, _) => lines.push(line_of(tx.wait_line())),
                Source::Event(event) => {
                    let registration = event.enter();
                    words.push((event.word(), registration.word));
                    events.push((i, event, registration));
                }
                // Departures bump the line's word unconditionally: no need
                // to count ourselves parked (which would make every
                // publication wake us).
                Source::Peers(watch) => {
                    words.push((&watch.line.futex, watch.line.futex.load(Ordering::Acquire)));
                }
                Source::Deadline(_) | Source::Interval { .. } => {}
            }
        }
        // Announces the doorbell on every line that allows it (else counts
        // itself parked there, as one blocked call), fences, reads the
        // words, looks once more and sleeps: `bell::park_lines`, the code
        // tests/loom_waitset.rs model-checks. SeqCst pairs with the wakers'
        // SeqCst publish and loads (see `WakeLine` and `bell`).
        let hot = HOT_WORD.get();
        let look = || {
            let ready = self.ready(Instant::now(), false);
            (!ready.is_empty()).then_some(ready)
        };
        let sleep = |words: &mut [Word<'_>]| {
            // The likeliest word goes first: the doorbell when there is
            // one, else the word of the channel that was last ready.
            // `futex_waitv` looks every word up, then queues them in order
            // and stops at the first that changed; the polling fallback
            // sleeps on the first word (and looks at the others each
            // millisecond). The order means nothing else.
            if bell.is_none() {
                if let Some(i) = words.iter().position(|(w, _)| w.as_ptr() as usize == hot) {
                    words.swap(0, i);
                }
            }
            self.sleeps.fetch_add(1, Ordering::Relaxed);
            match words {
                // One word (every line by doorbell, nothing else): the
                // plain futex wait, which has no per-word setup at all.
                [(word, seen)] => {
                    sys::wait_on(word, *seen, Some(until));
                }
                _ => {
                    sys::wait_on_any(words, Some(until));
                }
            }
        };
        let mut ready = bell::park_lines(
            &lines,
            bell.map(|b| (b.word(), b.id())),
            &mut words,
            look,
            sleep,
        )
        .unwrap_or_default();
        for (i, event, registration) in events {
            // Take what released us while registered (a pulse, an epoch, a
            // signal), unless the look above already reported the event.
            let reported = ready.iter().any(|r| r.token == Token(i));
            if event.leave(registration, !reported) && !reported {
                ready.push(Ready {
                    token: Token(i),
                    readiness: Readiness::Signaled,
                });
            }
        }
        ready.sort_by_key(|r| r.token);
        ready
    }
}

/// The words of `line` a set registers on (`bell::park_lines`).
fn line_of<'l>(
    (channel, line): (&'l Channel, &'l WakeLine),
) -> bell::Line<'l, AtomicU32, AtomicU64> {
    bell::Line {
        parked: &line.parked,
        futex: &line.futex,
        belled: &line.belled,
        bells: &line.bells[..],
        doorbell: channel.doorbells(),
    }
}

/// `d` in nanoseconds, saturating (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
