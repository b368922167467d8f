//! The sending end of a channel. Safe code: its zero-copy loans are in
//! `loan.rs`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::broadcast;
use super::fault::Fault;
use super::layout::{Geometry, Kind, WakeLine, FLAG_LOSSY, RECORD_HEADER};
use super::loan::Loan;
use super::ring;
use super::send_lock::{self, Attempt, SendLock};
use super::shared::{Channel, Intent, AHEAD_MAX_MESSAGE};
use super::sync_prims::KernelFutex;
use super::wait::{allowed, Deadline, Interrupted, WaitStrategy, Waiter};
use super::TrySendError;
use crate::error::{Error, Result};
use crate::sys::{Backoff, EndpointLock, Limits};

/// CPU pauses before each look for room while the ring is full (a few
/// hundred nanoseconds here). Each look loads the receivers' head lines, and
/// a receiver's next head store must then fetch its line back: a sender
/// polling a full ring at full speed slows down the receiver it waits for.
/// Streams are receiver-bound (in the bench's 64 B streams the receiver
/// found the ring empty for under 0.3 % of messages; the sender found it
/// full for about 22 % of copies and 45 % of loans). Measured, 64 B, two
/// processes: copy 4.9-7.5 -> 8.1-9.4 M msg/s, zero-copy 2.7-3.6 -> 5.7-7.0
/// M. A ping-pong never fills the ring, so latency does not change.
const ROOM_POLL_PAUSES: u32 = 128;

/// Cache lines past the tail that a sender of small messages asks the CPU
/// to fetch for writing after each publication (with the receiver's
/// `READ_AHEAD_LINES` and the batches below, measured on 64 B streams, two
/// processes: copy 26 -> 33 M msg/s, zero-copy 17.5 -> 47 M; 6 lines
/// gained nothing over 3).
const WRITE_AHEAD_LINES: u64 = 3;

/// A sender that found the ring full waits, while it would spin anyway, for
/// this share of the ring (1/4) to be free beyond its record before it
/// writes again (`ring::leaves_free`): it then writes a batch without
/// looking at the receiver's head, on lines the receiver left long ago,
/// instead of one record at a time right behind it.
const ROOM_BATCH_SHARE: u64 = 4;
/// Batches are for small records: a batch holds at least this many (with
/// a few large records per ring, one look per record costs nothing).
const ROOM_BATCH_MIN_RECORDS: u64 = 16;
/// How long a sender waits for that batch at most; it takes whatever room
/// there is sooner when a look finds the head where the last one did (a
/// receiver that is not streaming), and at once with `WaitStrategy::Park`.
const ROOM_BATCH_WAIT: Duration = Duration::from_micros(20);

/// How long a many-to-one sender waits on another sender's lock before it
/// checks whether that sender is still alive.
const LOCK_PROBE_AFTER: Duration = Duration::from_millis(20);
/// Taking the senders' lock: 127 rounds spin, the next 64 yield, then the
/// sender sleeps on the lock word (yields on, with `WaitStrategy::Spin`).
const LOCK_BACKOFF: Limits = Limits {
    spins: 127,
    yields: 64,
};
/// How long `try_send` waits for another sender to finish its message.
const TRY_LOCK_WAIT: Duration = Duration::from_millis(1);

/// The sending end of a channel.
///
/// `send` copies a message in; `loan` hands out the message's place in the
/// ring to fill directly (zero-copy). Messages are published whole: a
/// receiver never sees part of one.
///
/// ```
/// use memlink::channel::{ChannelOptions, Receiver};
/// # let name = format!("doc-sender-{}", std::process::id());
///
/// let mut tx = ChannelOptions::new().create_sender(&name)?;
/// let mut rx = Receiver::open(&name)?;
/// tx.send(b"data ready")?;
/// assert_eq!(rx.recv()?, b"data ready");
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug)]
pub struct Sender {
    pub(super) channel: Arc<Channel>,
    /// Our endpoint claim; `None` only while dropping.
    lock: Option<EndpointLock>,
    /// Our sender slot (0 except in many-to-one channels).
    slot: u32,
    /// Where the next record goes (one-to-one and broadcast: only we write
    /// the tail, so this is authoritative; many-to-one: refreshed under the
    /// send lock).
    tail: u64,
    /// A lower bound of the slowest receiver's head: space up to
    /// `cached_head + capacity` is free without looking again.
    cached_head: u64,
    /// Lossy broadcast: our copy of `oldest` (only we write it).
    oldest: u64,
    /// Where `place` wrote the marker for the record being written
    /// (`ring::prepare`).
    prepared: u64,
    seq: u32,
    /// Many-to-one: what we store in the senders' lock while we hold it.
    lock_word: u32,
    /// One-to-one or back-pressure broadcast: `send` may take the fast path.
    simple: bool,
    /// One-to-one: `send` checks for a departed receiver.
    watch_departures: bool,
    max_message: usize,
    capacity: u64,
    strategy: WaitStrategy,
    last_prune: Option<Instant>,
    /// The receivers' departure count when we last looked.
    departures: u32,
    /// Whether this sender has seen a receiver attached, kept in our own
    /// memory: liveness never rests on a shared word a peer could clear.
    saw_receiver: AtomicBool,
    /// Our tail at attach: a receiver head past it proves a receiver existed.
    first_tail: u64,
}

impl Sender {
    pub(super) fn attach(channel: Arc<Channel>, strategy: WaitStrategy) -> Result<Sender> {
        let g = *channel.geometry();
        let lock = channel
            .claim(0, g.max_senders)?
            .ok_or_else(|| Error::NoFreeSlot {
                name: channel.name().to_owned(),
                role: "sender",
                max: g.max_senders,
            })?;
        let slot = lock.index();
        let control = channel.control();
        let sender_slot = channel.sender_slot(slot);
        sender_slot.pid.store(std::process::id(), Ordering::Relaxed);
        let generation = sender_slot
            .generation
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        let lock_word = send_lock::lock_word(slot, generation);
        // Acquire pairs with the previous sender's SeqCst tail store: we
        // continue exactly after the last published record.
        let tail = control.producer.tail.load(Ordering::Acquire);
        // A sender that died between publishing a record and moving the
        // tail left the record delivered but uncovered.
        let tail = ring::recover_tail(&*channel, tail, g.max_message);
        let oldest = control.producer.oldest.load(Ordering::Acquire);
        control.data.peer_ever_attached.store(1, Ordering::Release);
        // Receivers waiting for a sender to attach look again.
        channel.wake(&control.data);
        let departures = control.space.departures.load(Ordering::Acquire);
        let seq = control.producer.next_seq.load(Ordering::Acquire);
        let saw_receiver = channel.any_alive(g.max_senders, g.max_receivers);
        let mut sender = Sender {
            channel,
            lock: Some(lock),
            slot,
            tail,
            cached_head: tail,
            oldest,
            prepared: tail,
            seq,
            lock_word,
            simple: g.kind != Kind::ManyToOne && g.flags & FLAG_LOSSY == 0,
            watch_departures: g.kind == Kind::OneToOne,
            max_message: g.max_message as usize,
            capacity: g.capacity,
            strategy,
            last_prune: None,
            departures,
            saw_receiver: AtomicBool::new(saw_receiver),
            first_tail: tail,
        };
        match g.kind {
            // We are the only writer of the tail: the head can be checked
            // against it now.
            Kind::OneToOne => {
                sender.cached_head = sender
                    .slowest_head()
                    .map_err(|fault| fault.into_error(sender.name()))?;
            }
            // Other senders move the tail while we are not holding their
            // lock, so the receiver may already be past the tail we read.
            // A ring's length behind it is a safe lower bound; the first
            // send refreshes it under the lock.
            // A broadcast sender that takes over (after another left) must
            // not assume its readers are caught up either.
            Kind::ManyToOne | Kind::Broadcast => {
                sender.cached_head = tail.saturating_sub(g.capacity);
            }
        }
        Ok(sender)
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.channel.name()
    }

    /// The largest message this channel carries.
    pub fn max_message(&self) -> usize {
        self.channel.geometry().max_message as usize
    }

    /// Whether a receiver is attached now. (A receiver that never attached
    /// yet is not a disconnection: `send` buffers for it.)
    pub fn is_connected(&self) -> bool {
        let g = self.channel.geometry();
        self.channel.any_alive(g.max_senders, g.max_receivers)
    }

    /// The user id that owns the channel (its creator): what to check
    /// after opening with
    /// [`ChannelOptions::allow_foreign_owner`](super::ChannelOptions::allow_foreign_owner)
    /// to trust one user only.
    pub fn owner(&self) -> u32 {
        self.channel.owner()
    }

    /// What the channel connects.
    pub fn kind(&self) -> Kind {
        self.channel.geometry().kind
    }

    /// Whether this is a lossy broadcast channel (slow readers lose the
    /// oldest messages; no loans).
    pub fn is_lossy(&self) -> bool {
        self.channel.geometry().flags & FLAG_LOSSY != 0
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> u64 {
        self.channel.geometry().capacity
    }

    /// Waits until a receiver is attached, at most `timeout`.
    pub fn wait_for_receiver(&self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let deadline = started.checked_add(timeout);
        let g = self.channel.geometry();
        let waiter = Waiter {
            channel: &self.channel,
            line: &self.channel.control().space,
            strategy: self.strategy,
            peers: (g.max_senders, g.max_receivers),
            seen: Cell::new(self.saw_receiver()),
        };
        let attached = waiter.wait_for_peer(deadline, || false);
        if attached.is_ok() {
            self.saw_receiver.store(true, Ordering::Relaxed);
        }
        attached.map_err(|_| Error::Timeout {
            name: self.name().to_owned(),
            operation: "wait for a receiver",
            after: allowed(started, deadline),
        })
    }

    /// Whether we know, from our own memory, that a receiver was attached:
    /// we saw one alive, or a receiver has read past where we started.
    fn saw_receiver(&self) -> bool {
        self.saw_receiver.load(Ordering::Relaxed) || self.cached_head > self.first_tail
    }

    /// Keeps what a wait learnt: a receiver it saw alive was attached.
    fn remember(&self, waiter: &Waiter<'_>) {
        if waiter.seen.get() {
            self.saw_receiver.store(true, Ordering::Relaxed);
        }
    }

    /// Waits until the receivers have taken every message sent so far (the
    /// slowest one, in a broadcast channel), at most `timeout`. A sender that
    /// is about to exit calls this so that a transient channel outlives its
    /// last message. Lossy broadcast channels never wait for readers: there
    /// it returns at once.
    pub fn wait_drained(&mut self, timeout: Duration) -> Result<()> {
        let g = *self.channel.geometry();
        if g.flags & FLAG_LOSSY != 0 {
            return Ok(());
        }
        let started = Instant::now();
        let deadline = started.checked_add(timeout);
        let channel = Arc::clone(&self.channel);
        let waiter = Waiter {
            channel: &channel,
            line: &channel.control().space,
            strategy: self.strategy,
            peers: (g.max_senders, g.max_receivers),
            seen: Cell::new(self.saw_receiver()),
        };
        let drained = || match self.slowest_head() {
            Ok(head) if head == self.tail => Some(Ok(())),
            Ok(_) => None,
            Err(fault) => Some(Err(fault.into_error(channel.name()))),
        };
        let result = waiter.wait(deadline, drained);
        self.remember(&waiter);
        match result {
            Ok(result) => result,
            Err(Interrupted::Timeout) => Err(Error::Timeout {
                name: channel.name().to_owned(),
                operation: "wait for the receivers to drain",
                after: allowed(started, deadline),
            }),
            Err(Interrupted::Disconnected) => Err(Error::Disconnected {
                name: channel.name().to_owned(),
                peer: "receiver",
            }),
        }
    }

    /// Sends `message`, waiting for space as long as it takes.
    #[inline]
    pub fn send(&mut self, message: &[u8]) -> Result<()> {
        self.send_within(message, Deadline::Never)
            .map_err(|e| self.blocking_error(e))
    }

    /// Sends `message`, waiting for space at most `timeout`.
    pub fn send_timeout(&mut self, message: &[u8], timeout: Duration) -> Result<()> {
        self.send_within(message, Deadline::after(timeout))
            .map_err(|e| self.blocking_error(e))
    }

    /// Sends `message` if there is space now.
    #[inline]
    pub fn try_send(&mut self, message: &[u8]) -> Result<(), TrySendError> {
        self.send_within(message, Deadline::Now)
    }

    /// Every send: room (`place`), the copy, the publication. Inlined into
    /// each variant, so that the common case (`quick_room`) is a few
    /// instructions with no call and no error value on the way.
    #[inline(always)]
    fn send_within(&mut self, message: &[u8], deadline: Deadline) -> Result<(), TrySendError> {
        let pos = self.place(message.len(), deadline, false)?;
        self.channel.write_payload(pos, 0, message);
        self.publish(pos, message.len());
        Ok(())
    }

    /// The core of every send and loan: room for a record of `len` bytes,
    /// waiting per `deadline`. The common case first (`quick_room`), then
    /// the full path (`place_slowly`), which also reports what is wrong. On
    /// success a many-to-one sender holds the senders' lock until it
    /// publishes (or abandons).
    #[inline(always)]
    fn place(&mut self, len: usize, deadline: Deadline, loan: bool) -> Result<u64, TrySendError> {
        // `quick_room` never lends on lossy channels (they are not simple).
        let pos = match self.quick_room(len) {
            Some(pos) => pos,
            None => self.place_slowly(len, deadline, loan)?,
        };
        // The marker after the record, before its payload (`ring::prepare`).
        self.prepared = ring::end_of(pos, len);
        ring::prepare(&*self.channel, self.prepared, self.seq.wrapping_add(1));
        Ok(pos)
    }

    /// `place` past its common case.
    #[inline(never)]
    fn place_slowly(
        &mut self,
        len: usize,
        deadline: Deadline,
        loan: bool,
    ) -> Result<u64, TrySendError> {
        if loan {
            self.check_loanable()?;
        }
        match deadline {
            Deadline::Now => self.try_reserve(len),
            Deadline::Never => Ok(self.reserve(len, None)?),
            Deadline::At(at) => Ok(self.reserve(len, Some(at))?),
        }
    }

    /// A blocking call's error from `place`'s (which only says `Full` or
    /// `Disconnected` for `Deadline::Now`; mapped all the same).
    fn blocking_error(&self, e: TrySendError) -> Error {
        match e {
            TrySendError::Failed(e) => e,
            TrySendError::Disconnected => Error::Disconnected {
                name: self.name().to_owned(),
                peer: "receiver",
            },
            TrySendError::Full => Error::Timeout {
                name: self.name().to_owned(),
                operation: "send",
                after: Duration::ZERO,
            },
        }
    }

    /// The common case in a few instructions: a one-to-one or back-pressure
    /// broadcast channel, no receiver departed, and room for the record
    /// before the end of the ring and below what the receivers are known to
    /// have freed. Anything else (`None`) takes the full path, which also
    /// reports what is wrong.
    #[inline]
    fn quick_room(&self, len: usize) -> Option<u64> {
        if !self.simple || len > self.max_message || !self.tail.is_multiple_of(8) {
            return None;
        }
        // One-to-one: a receiver that left must be noticed (`begin`).
        if self.watch_departures {
            let departures = self
                .channel
                .control()
                .space
                .departures
                .load(Ordering::Acquire);
            if departures != self.departures {
                return None;
            }
        }
        ring::quick_room(self.tail, self.cached_head, self.capacity, len)
    }

    /// Reserves room for a message of `len` bytes, waiting as long as it
    /// takes, to be filled in place and committed.
    #[inline]
    pub fn loan(&mut self, len: usize) -> Result<Loan<'_>> {
        let pos = self
            .place(len, Deadline::Never, true)
            .map_err(|e| self.blocking_error(e))?;
        Ok(Loan::new(self, pos, len))
    }

    /// Like [`Sender::loan`], waiting at most `timeout`.
    pub fn loan_timeout(&mut self, len: usize, timeout: Duration) -> Result<Loan<'_>> {
        let pos = self
            .place(len, Deadline::after(timeout), true)
            .map_err(|e| self.blocking_error(e))?;
        Ok(Loan::new(self, pos, len))
    }

    /// Like [`Sender::loan`], if there is room now.
    #[inline]
    pub fn try_loan(&mut self, len: usize) -> Result<Loan<'_>, TrySendError> {
        let pos = self.place(len, Deadline::Now, true)?;
        Ok(Loan::new(self, pos, len))
    }

    /// Loans hand out ring bytes that lossy readers may be reading at the
    /// same moment (they detect it and drop the copy), which only atomic
    /// copies may do: there, `send` is the way.
    fn check_loanable(&self) -> Result<()> {
        if self.channel.geometry().flags & FLAG_LOSSY != 0 {
            return Err(Error::Unsupported {
                what: format!(
                    "loans on lossy broadcast channel {}: readers may be copying the \
                     same bytes; use send",
                    self.name()
                ),
            });
        }
        Ok(())
    }

    fn try_reserve(&mut self, len: usize) -> Result<u64, TrySendError> {
        let as_try = |e: Error| match e {
            Error::Disconnected { .. } => TrySendError::Disconnected,
            // Another sender held the lock for the whole (short) try.
            Error::Timeout { .. } => TrySendError::Full,
            e => TrySendError::Failed(e),
        };
        self.begin(len, Instant::now().checked_add(TRY_LOCK_WAIT))
            .map_err(as_try)?;
        match self.find_room(len) {
            Ok(Some(pos)) => Ok(pos),
            Ok(None) => {
                self.unlock_senders();
                Err(TrySendError::Full)
            }
            Err(fault) => {
                self.unlock_senders();
                Err(TrySendError::Failed(fault.into_error(self.name())))
            }
        }
    }

    /// Finds room for a record of `len` payload bytes and returns its
    /// position, waiting until `deadline` (forever with `None`). On success
    /// a many-to-one sender holds the senders' lock until it publishes.
    fn reserve(&mut self, len: usize, deadline: Option<Instant>) -> Result<u64> {
        self.begin(len, deadline)?;
        let result = self.wait_for_room(len, deadline);
        if result.is_err() {
            self.unlock_senders();
        }
        result
    }

    fn wait_for_room(&mut self, len: usize, deadline: Option<Instant>) -> Result<u64> {
        let before = self.cached_head;
        let found = self
            .find_room(len)
            .map_err(|fault| fault.into_error(self.channel.name()))?;
        let batching = self.strategy != WaitStrategy::Park
            && !self.is_lossy()
            && Geometry::record_size(len) as u64 <= self.capacity / ROOM_BATCH_MIN_RECORDS;
        match found {
            // Room, and either a batch of it or a receiver that had not
            // moved since we last looked (it is not streaming: waiting
            // would gain nothing).
            Some(pos) if !batching || self.cached_head == before || self.leaves_batch(len) => {
                return Ok(pos)
            }
            _ => {}
        }
        let started = Instant::now();
        let channel = Arc::clone(&self.channel);
        let g = *channel.geometry();
        let waiter = Waiter {
            channel: &channel,
            line: &channel.control().space,
            strategy: self.strategy,
            peers: (g.max_senders, g.max_receivers),
            seen: Cell::new(self.saw_receiver()),
        };
        // Batches only while the wait would spin anyway.
        let batch_until = match self.strategy {
            WaitStrategy::Spin => Some(ROOM_BATCH_WAIT),
            WaitStrategy::SpinThenPark { spin } => Some(spin.min(ROOM_BATCH_WAIT)),
            WaitStrategy::Park => None,
        }
        .filter(|_| batching)
        .and_then(|wait| started.checked_add(wait));
        let mut last_head = self.cached_head;
        let room = || {
            for _ in 0..ROOM_POLL_PAUSES {
                std::hint::spin_loop();
            }
            let found = self.find_room(len);
            if let (Ok(Some(_)), Some(until)) = (&found, batch_until) {
                let streaming = self.cached_head != last_head;
                last_head = self.cached_head;
                if streaming && !self.leaves_batch(len) && Instant::now() < until {
                    return None;
                }
            }
            found
                .map_err(|fault| fault.into_error(channel.name()))
                .transpose()
        };
        let result = waiter.wait(deadline, room);
        self.remember(&waiter);
        match result {
            Ok(result) => result,
            // The last looks may have declined room while waiting for a
            // batch: what fits now is taken.
            Err(Interrupted::Timeout) => match self.find_room(len) {
                Ok(Some(pos)) => Ok(pos),
                _ => Err(Error::Timeout {
                    name: channel.name().to_owned(),
                    operation: "send",
                    after: allowed(started, deadline),
                }),
            },
            Err(Interrupted::Disconnected) => Err(Error::Disconnected {
                name: channel.name().to_owned(),
                peer: "receiver",
            }),
        }
    }

    /// Whether the room that `find_room` just found for a record of `len`
    /// bytes leaves a batch free after it (`ROOM_BATCH_SHARE`).
    fn leaves_batch(&self, len: usize) -> bool {
        let capacity = self.channel.geometry().capacity;
        let room = ring::room(self.tail, capacity, len);
        ring::leaves_free(
            room,
            self.tail,
            self.cached_head,
            capacity,
            capacity / ROOM_BATCH_SHARE,
        )
    }

    /// What every send does first: check the size, take the senders' lock
    /// (many-to-one), and notice a receiver that has left.
    fn begin(&mut self, len: usize, deadline: Option<Instant>) -> Result<()> {
        let g = *self.channel.geometry();
        if len > g.max_message as usize {
            return Err(Error::MessageTooLarge {
                name: self.channel.name().to_owned(),
                len,
                max: g.max_message as usize,
            });
        }
        if g.kind == Kind::ManyToOne {
            self.lock_senders(deadline)?;
        }
        if g.kind != Kind::Broadcast && self.receiver_departed() {
            self.unlock_senders();
            return Err(Error::Disconnected {
                name: self.channel.name().to_owned(),
                peer: "receiver",
            });
        }
        Ok(())
    }

    /// The channel, to keep alive while an async wait is pending.
    pub(super) fn shared(&self) -> &Arc<Channel> {
        &self.channel
    }

    /// The line this sender's waits park on, and its channel (for a
    /// [`WaitSet`](super::WaitSet)).
    pub(super) fn wait_line(&self) -> (&Channel, &WakeLine) {
        (&self.channel, &self.channel.control().space)
    }

    /// Whether a message of `len` bytes would fit now without waiting (a
    /// lossy broadcast always has room). No system call; a corrupt cursor
    /// counts as room, so that the send itself reports it.
    pub(super) fn has_room(&self, len: usize) -> bool {
        let g = self.channel.geometry();
        if g.flags & FLAG_LOSSY != 0 {
            return true;
        }
        let tail = match g.kind {
            // Other senders move the shared tail.
            Kind::ManyToOne => self.channel.control().producer.tail.load(Ordering::Acquire),
            _ => self.tail,
        };
        let record = Geometry::record_size(len) as u64;
        let contiguous = g.capacity - self.channel.offset(tail) as u64;
        // The record, the padding before it, the marker after it.
        let need = RECORD_HEADER as u64
            + if record <= contiguous {
                record
            } else {
                contiguous + record
            };
        let head = match self.slowest_head_at(tail) {
            Some(head) => head,
            None => return true,
        };
        tail.saturating_add(need).saturating_sub(head) <= g.capacity
    }

    /// Whether the receivers are gone after one was attached (one-to-one and
    /// many-to-one: a send would say `Disconnected`). Asks the kernel.
    pub(super) fn is_abandoned(&self) -> bool {
        let g = self.channel.geometry();
        if g.kind == Kind::Broadcast {
            return false;
        }
        let saw = self.saw_receiver()
            || self
                .channel
                .control()
                .space
                .peer_ever_attached
                .load(Ordering::Acquire)
                != 0;
        saw && !self.channel.any_alive(g.max_senders, g.max_receivers)
    }

    /// The slowest receiver's head as seen against `tail`, `None` if a
    /// cursor is out of its window (corrupt).
    fn slowest_head_at(&self, tail: u64) -> Option<u64> {
        let g = self.channel.geometry();
        let mut slowest = tail;
        for i in 0..g.max_receivers {
            let slot = self.channel.receiver_slot(i);
            if g.kind == Kind::Broadcast && slot.active.load(Ordering::SeqCst) == 0 {
                continue;
            }
            let head = slot.head.load(Ordering::Acquire);
            if head > tail || tail - head > g.capacity {
                return None;
            }
            slowest = slowest.min(head);
        }
        Some(slowest)
    }

    /// One attempt at finding room. `Ok(None)`: full for now.
    fn find_room(&mut self, len: usize) -> Result<Option<u64>, Fault> {
        let g = *self.channel.geometry();
        // The tail comes from shared memory (at attach, and under the
        // many-to-one lock): records always start 8-aligned.
        if !self.tail.is_multiple_of(8) {
            return Err(Fault::Misaligned { pos: self.tail });
        }
        if g.flags & FLAG_LOSSY != 0 {
            let room = ring::room(self.tail, g.capacity, len);
            self.make_room_lossy(room.needs())?;
            return Ok(Some(room.pos));
        }
        let tail = self.tail;
        let mut cached_head = self.cached_head;
        let found = ring::reserve(&*self.channel, tail, &mut cached_head, len, || {
            self.slowest_head()
        });
        self.cached_head = cached_head;
        match found? {
            Some(room) => Ok(Some(room.pos)),
            None => {
                if g.kind == Kind::Broadcast {
                    self.prune_dead_receivers();
                }
                Ok(None)
            }
        }
    }

    /// Publishes the record at `pos` with `len` payload bytes
    /// (`ring::publish`), lets go of the senders' lock and wakes parked
    /// receivers.
    #[inline]
    pub(super) fn publish(&mut self, pos: u64, len: usize) {
        let channel = &*self.channel;
        let control = channel.control();
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        // Ordered before the header store (Release part of SeqCst): a
        // sender taking over after `ring::recover_tail` continues after it.
        control.producer.next_seq.store(self.seq, Ordering::Relaxed);
        let before = self.tail;
        self.tail = ring::publish(
            channel,
            &control.producer.tail,
            self.tail,
            self.prepared,
            pos,
            len,
            seq,
        );
        unlock_senders(channel, self.lock_word);
        channel.wake_if_parked(&control.data);
        // The lines the next records go to, owned before they are written:
        // the header's SeqCst store waits for every store before it, and a
        // line the receivers read a lap ago is theirs until fetched.
        if len <= AHEAD_MAX_MESSAGE {
            channel.prefetch_ahead(before, self.tail, WRITE_AHEAD_LINES, Intent::Write);
        }
    }

    /// Gives up a reservation without publishing anything.
    pub(super) fn abandon(&mut self) {
        self.unlock_senders();
    }

    /// The head of the slowest receiver that matters, validated.
    fn slowest_head(&self) -> Result<u64, Fault> {
        let g = self.channel.geometry();
        let check = |head: u64| {
            if head > self.tail || self.tail - head > g.capacity {
                Err(Fault::HeadOutOfWindow {
                    head,
                    tail: self.tail,
                })
            } else {
                Ok(head)
            }
        };
        if g.kind != Kind::Broadcast {
            // Acquire pairs with the receiver's SeqCst head store: it is
            // done with everything before `head`.
            return check(self.channel.receiver_slot(0).head.load(Ordering::Acquire));
        }
        let channel = &*self.channel;
        broadcast::slowest_head(
            self.tail,
            g.capacity,
            (0..g.max_receivers).map(|i| {
                let slot = channel.receiver_slot(i);
                (&slot.active, &slot.head)
            }),
        )
    }

    /// Broadcast: forgets receivers that died without detaching, so they do
    /// not hold the sender back forever. At most once per liveness slice.
    fn prune_dead_receivers(&mut self) {
        let now = Instant::now();
        if self
            .last_prune
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(20))
        {
            return;
        }
        self.last_prune = Some(now);
        let g = *self.channel.geometry();
        for i in 0..g.max_receivers {
            let slot = self.channel.receiver_slot(i);
            let active = slot.active.load(Ordering::SeqCst);
            if active != 0 && !self.channel.any_alive(g.max_senders + i, 1) {
                broadcast::prune(&slot.active, active);
            }
        }
    }

    /// One-to-one and many-to-one: the receiver detached (gracefully) and no
    /// other took its place. One load on the fast path; a receiver killed
    /// with `kill -9` is noticed when the ring fills instead.
    fn receiver_departed(&mut self) -> bool {
        let departures = self
            .channel
            .control()
            .space
            .departures
            .load(Ordering::Acquire);
        if departures == self.departures {
            return false;
        }
        let max_senders = self.channel.geometry().max_senders;
        if self.channel.any_alive(max_senders, 1) {
            self.departures = departures;
            return false;
        }
        true
    }

    /// Lossy broadcast: moves `oldest` past every record that the bytes up to
    /// `end` will overwrite, before overwriting them.
    fn make_room_lossy(&mut self, end: u64) -> Result<(), Fault> {
        let channel = &*self.channel;
        broadcast::make_room_lossy(
            channel,
            &channel.control().producer.oldest,
            &mut self.oldest,
            self.tail,
            end,
            channel.geometry().max_message,
        )
    }

    /// Many-to-one: the senders' lock (see `send_lock`).
    fn send_lock(&self) -> SendLock<'_, std::sync::atomic::AtomicU32> {
        let producer = &self.channel.control().producer;
        SendLock {
            word: &producer.send_lock,
            waiters: &producer.lock_waiters,
        }
    }

    /// Many-to-one: takes the senders' lock, taking it over from a sender
    /// that died holding it.
    fn lock_senders(&mut self, deadline: Option<Instant>) -> Result<()> {
        let lock = self.send_lock();
        let me = self.lock_word;
        let start = Instant::now();
        let mut backoff = Backoff::new(LOCK_BACKOFF);
        let mut took_over = false;
        loop {
            // The clock is read every 64 rounds, and every round once
            // spinning and yielding are over.
            let rounds = backoff.rounds();
            let sleeping = rounds > LOCK_BACKOFF.spins + LOCK_BACKOFF.yields;
            if (rounds % 64 == 63 || sleeping) && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout {
                    name: self.channel.name().to_owned(),
                    operation: "send (waiting for another sender)",
                    after: start.elapsed(),
                });
            }
            match lock.try_take(me) {
                Attempt::Taken => break,
                Attempt::Free => {}
                Attempt::Held(holder) => {
                    if start.elapsed() >= LOCK_PROBE_AFTER {
                        let channel = &*self.channel;
                        let dead = send_lock::holder_is_dead(
                            holder,
                            self.slot,
                            channel.geometry().max_senders,
                            |i| channel.sender_slot(i).generation.load(Ordering::Acquire),
                            |i| channel.any_alive(i, 1),
                        );
                        if dead && lock.take_over(holder, me) {
                            took_over = true;
                            break;
                        }
                    }
                }
            }
            if !backoff.snooze() {
                if self.strategy == WaitStrategy::Spin {
                    std::thread::yield_now();
                } else {
                    // Until the lock changes hands, or for a liveness slice
                    // (after which we look for a dead holder), or until the
                    // deadline. Keeps a core free for the receiver that the
                    // holder may be waiting for.
                    let slice = Instant::now() + LOCK_PROBE_AFTER;
                    lock.sleep(&KernelFutex, deadline.map_or(slice, |d| d.min(slice)));
                }
            }
        }
        let producer = &self.channel.control().producer;
        self.tail = producer.tail.load(Ordering::Relaxed);
        if took_over {
            // The dead holder may have published a record without moving
            // the tail past it.
            let max_message = self.channel.geometry().max_message;
            self.tail = ring::recover_tail(&*self.channel, self.tail, max_message);
        }
        self.seq = producer.next_seq.load(Ordering::Relaxed);
        self.cached_head = self.cached_head.min(self.tail);
        Ok(())
    }

    fn unlock_senders(&self) {
        unlock_senders(&self.channel, self.lock_word);
    }
}

/// Many-to-one: lets go of the senders' lock if `lock_word` holds it, and
/// wakes the senders asleep on it.
fn unlock_senders(channel: &Channel, lock_word: u32) {
    if channel.geometry().kind == Kind::ManyToOne {
        let producer = &channel.control().producer;
        SendLock {
            word: &producer.send_lock,
            waiters: &producer.lock_waiters,
        }
        .unlock(&KernelFutex, lock_word);
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.unlock_senders();
        // Let go of the slot before waking the receivers, so that they see
        // us gone when they look.
        drop(self.lock.take());
        let control = self.channel.control();
        control.data.departures.fetch_add(1, Ordering::Release);
        self.channel.wake(&control.data);
    }
}
