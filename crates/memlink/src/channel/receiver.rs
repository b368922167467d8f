//! The receiving end of a channel. Safe code: its zero-copy borrows are in
//! `loan.rs`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::broadcast;
use super::fault::Fault;
use super::layout::{receiver_token, Kind, WakeLine, FLAG_LOSSY, UNPUBLISHED};
use super::loan::Message;
use super::ring::{self, Consumer, Record, Records};
use super::shared::{Channel, Intent, AHEAD_MAX_MESSAGE};
use super::wait::{allowed, Deadline, Interrupted, WaitStrategy, Waiter};
use super::TryRecvError;
use crate::error::{Error, Result};
use crate::sys::{Backoff, EndpointLock, Limits};

/// A blocked receive looks for a message 256 times, with a CPU pause in
/// between, before it sets up a full wait (a few hundred nanoseconds).
const QUICK_SPINS: Limits = Limits {
    spins: 256,
    yields: 0,
};

/// How many overrun copies `try_recv` drops before it says "empty for now".
const TORN_RETRIES: usize = 64;

/// How often an idle `try_recv` asks the kernel whether a sender is alive.
const IDLE_PROBE: Duration = Duration::from_millis(10);
/// How far past the expected sequence number a record of a ring that never
/// drops may be: each sender killed between numbering a record and
/// publishing it skips one number. Far more than that is a forged record.
const SEQUENCE_SLACK: u32 = 1 << 10;
/// Cache lines past a small record that a receiver asks the CPU to fetch
/// when the record after it is already out (a stream): each line the
/// sender wrote is a cross-core transfer, and a receiver that asks for
/// one line at a time pays them one after the other (measured, 64 B
/// streams: 3 lines 37 M msg/s, 5-6 lines 45-47 M, 8 no more).
const READ_AHEAD_LINES: u64 = 6;

/// The receiving end of a channel.
///
/// Messages arrive whole and in order. `recv` copies a message out;
/// `recv_borrow` lends it in place (zero-copy) until the borrow is dropped.
///
/// ```
/// use memlink::channel::{ChannelOptions, Sender};
/// use std::time::Duration;
/// # let name = format!("doc-receiver-{}", std::process::id());
///
/// let mut rx = ChannelOptions::new().create_receiver(&name)?;
/// let mut tx = Sender::open(&name)?;
/// tx.send(b"one")?;
/// tx.send(b"two")?;
/// let mut buf = Vec::new();
/// rx.recv_into(&mut buf)?;
/// assert_eq!(buf, b"one");
/// let message = rx.recv_borrow_timeout(Duration::from_secs(1))?;
/// assert_eq!(message.to_vec(), b"two");
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug)]
pub struct Receiver {
    pub(super) channel: Arc<Channel>,
    lock: Option<EndpointLock>,
    /// Our receiver slot (0 except in broadcast channels).
    slot: u32,
    /// Where we read, and how far the sender is known to have published.
    cursor: Consumer,
    lossy: bool,
    /// The sequence number we expect next, once known. Non-lossy rings
    /// check every record against it; lossy ones count what they missed.
    next_seq: Option<u32>,
    /// Lossy: where the last record we took ended. Records are at least 8
    /// bytes, so the bytes from here to the next one we take bound how many
    /// we can have missed, whatever a sequence number claims.
    taken_end: u64,
    missed: u64,
    strategy: WaitStrategy,
    departures: u32,
    last_probe: Instant,
    /// Whether this receiver has seen a sender attached (or a record it
    /// sent), kept in our own memory: liveness never trusts a shared word a
    /// peer could rewrite.
    saw_sender: AtomicBool,
    /// Our head at attach: having read past it proves a sender existed.
    first_head: u64,
}

impl Receiver {
    pub(super) fn attach(channel: Arc<Channel>, strategy: WaitStrategy) -> Result<Receiver> {
        let g = *channel.geometry();
        let lock = channel
            .claim(g.max_senders, g.max_receivers)?
            .ok_or_else(|| Error::NoFreeSlot {
                name: channel.name().to_owned(),
                role: "receiver",
                max: g.max_receivers,
            })?;
        let slot = lock.index() - g.max_senders;
        let control = channel.control();
        let receiver_slot = channel.receiver_slot(slot);
        receiver_slot
            .pid
            .store(std::process::id(), Ordering::Relaxed);
        let token = receiver_token(
            receiver_slot
                .generation
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_add(1),
        );
        let head = if g.kind == Kind::Broadcast {
            // A broadcast reader starts with the next message sent.
            broadcast::join(
                &control.producer.tail,
                &receiver_slot.head,
                &receiver_slot.active,
                token,
            )
        } else {
            // Take over where the previous receiver stopped.
            receiver_slot.active.store(token | 1, Ordering::SeqCst);
            receiver_slot.head.load(Ordering::Acquire)
        };
        control.space.peer_ever_attached.store(1, Ordering::Release);
        let saw_sender = channel.any_alive(0, g.max_senders)
            || control.producer.tail.load(Ordering::Acquire) != head;
        // Senders waiting for a receiver to attach look again.
        channel.wake(&control.space);
        Ok(Receiver {
            departures: control.data.departures.load(Ordering::Acquire),
            channel,
            lock: Some(lock),
            slot,
            cursor: Consumer::new(head),
            lossy: g.flags & FLAG_LOSSY != 0,
            next_seq: None,
            taken_end: head,
            missed: 0,
            strategy,
            last_probe: Instant::now(),
            saw_sender: AtomicBool::new(saw_sender),
            first_head: head,
        })
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.channel.name()
    }

    /// The largest message this channel carries.
    pub fn max_message(&self) -> usize {
        self.channel.geometry().max_message as usize
    }

    /// The channel, to keep alive while an async wait is pending.
    pub(super) fn shared(&self) -> &Arc<Channel> {
        &self.channel
    }

    /// The line this receiver's waits park on, and its channel (for a
    /// [`WaitSet`](super::WaitSet)).
    pub(super) fn wait_line(&self) -> (&Channel, &WakeLine) {
        (&self.channel, &self.channel.control().data)
    }

    /// Whether a record is published at our head (a message, or the
    /// padding before one; or bytes a receive would report as corrupt): a
    /// receive would not wait. No system call.
    pub(super) fn has_published(&self) -> bool {
        // Acquire, as in `ring::Consumer::next_record`.
        let (len, _) = self
            .channel
            .load_header(self.cursor.head, Ordering::Acquire);
        len != UNPUBLISHED
    }

    /// Whether every sender is gone after one was attached, with nothing
    /// left to read: a receive would say `Disconnected`. Asks the kernel.
    pub(super) fn is_abandoned(&self) -> bool {
        let saw = self.saw_sender()
            || self
                .channel
                .control()
                .data
                .peer_ever_attached
                .load(Ordering::Acquire)
                != 0;
        saw && !self.is_connected() && !self.has_published()
    }

    /// Whether a sender is attached now.
    pub fn is_connected(&self) -> bool {
        self.channel
            .any_alive(0, self.channel.geometry().max_senders)
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

    /// Whether this is a lossy broadcast channel (messages may be missed,
    /// see [`Receiver::take_missed`]; no borrows).
    pub fn is_lossy(&self) -> bool {
        self.lossy
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> u64 {
        self.channel.geometry().capacity
    }

    /// Waits until a sender is attached, or a message is waiting (one that a
    /// sender left before it went), at most `timeout`.
    pub fn wait_for_sender(&self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let deadline = started.checked_add(timeout);
        let waiter = Waiter {
            channel: &self.channel,
            line: &self.channel.control().data,
            strategy: self.strategy,
            peers: (0, self.channel.geometry().max_senders),
            seen: Cell::new(self.saw_sender()),
        };
        let attached = waiter.wait_for_peer(deadline, || self.has_published());
        if attached.is_ok() {
            // A sender attached, or left a message: either way there was one.
            self.saw_sender.store(true, Ordering::Relaxed);
        }
        attached.map_err(|_| Error::Timeout {
            name: self.name().to_owned(),
            operation: "wait for a sender",
            after: allowed(started, deadline),
        })
    }

    /// Lossy broadcast: how many messages were overwritten before this
    /// receiver could read them, since the last call. Always 0 otherwise.
    pub fn take_missed(&mut self) -> u64 {
        std::mem::take(&mut self.missed)
    }

    /// Receives the next message into a new vector, waiting as long as it
    /// takes.
    pub fn recv(&mut self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf)?;
        Ok(buf)
    }

    /// Receives the next message into `buf` (replacing its contents, reusing
    /// its allocation), waiting as long as it takes. Returns its length.
    #[inline]
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.receive(buf, Deadline::Never)
            .map_err(|e| self.blocking_error(e))
    }

    /// Like [`Receiver::recv_into`], waiting at most `timeout`.
    pub fn recv_timeout(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize> {
        self.receive(buf, Deadline::after(timeout))
            .map_err(|e| self.blocking_error(e))
    }

    /// Receives a message into `buf` if one is there now.
    #[inline]
    pub fn try_recv(&mut self, buf: &mut Vec<u8>) -> Result<usize, TryRecvError> {
        self.receive(buf, Deadline::Now)
    }

    /// The core of every copying receive: the common case first
    /// (`quick_take`, inlined into each variant: a few instructions with no
    /// call and no error value on the way), then the full path, waiting per
    /// `deadline`.
    #[inline(always)]
    fn receive(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<usize, TryRecvError> {
        match self.quick_take(buf) {
            Some(len) => Ok(len),
            None => self.receive_slowly(buf, deadline),
        }
    }

    /// `receive` past its common case.
    #[inline(never)]
    fn receive_slowly(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Deadline,
    ) -> Result<usize, TryRecvError> {
        match deadline {
            Deadline::Now => self.try_take(buf),
            Deadline::Never => Ok(self.recv_until(buf, None)?),
            Deadline::At(at) => Ok(self.recv_until(buf, Some(at))?),
        }
    }

    /// A blocking call's error from the core's (which only says `Empty` or
    /// `Disconnected` for `Deadline::Now`; mapped all the same).
    fn blocking_error(&self, e: TryRecvError) -> Error {
        match e {
            TryRecvError::Failed(e) => e,
            TryRecvError::Disconnected => Error::Disconnected {
                name: self.name().to_owned(),
                peer: "sender",
            },
            TryRecvError::Empty => Error::Timeout {
                name: self.name().to_owned(),
                operation: "receive",
                after: Duration::ZERO,
            },
        }
    }

    /// The common case in a few instructions: not lossy, a published record
    /// at the head that passes every check, copied out and released.
    /// Anything else (`None`) takes the full path, which also reports what is
    /// wrong.
    #[inline]
    fn quick_take(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        let record = self.quick_record(true)?;
        self.channel
            .read_payload_to_vec(record.pos, record.len, buf);
        self.consume(&record);
        Some(record.len)
    }

    /// The record at the head, if the common case holds (see `quick_take`).
    #[inline]
    fn quick_record(&mut self, check_end: bool) -> Option<Record> {
        if self.lossy {
            return None;
        }
        let channel = &*self.channel;
        let next_seq = self.next_seq;
        let record = self.cursor.quick_record(
            channel,
            channel.geometry().max_message,
            check_end,
            |seq| in_sequence(next_seq, seq),
        )?;
        // A stream: the sender is ahead (the next record is out), so the
        // lines after this record are written; fetching them now overlaps
        // their transfers from the sender's core with this record's use.
        // Not when caught up: those lines are the ones the sender is about
        // to write, and taking them would slow it down.
        let end = record.end();
        if record.len <= AHEAD_MAX_MESSAGE && ring::is_published(channel, end) {
            channel.prefetch_ahead(record.pos, end, READ_AHEAD_LINES, Intent::Read);
        }
        Some(record)
    }

    /// Takes a message into `buf` if one is there now (the full path of
    /// `try_recv`).
    fn try_take(&mut self, buf: &mut Vec<u8>) -> Result<usize, TryRecvError> {
        // Only a lossy reader overrun while copying comes round again; a
        // sender lapping it without end still cannot keep it here forever.
        for _ in 0..TORN_RETRIES {
            match self.try_record()? {
                Some(record) => {
                    if let Some(len) = self.take(record, buf) {
                        return Ok(len);
                    }
                }
                None => break,
            }
        }
        Err(TryRecvError::Empty)
    }

    fn recv_until(&mut self, buf: &mut Vec<u8>, deadline: Option<Instant>) -> Result<usize> {
        let started = Instant::now();
        loop {
            let record = self.wait_for_record(deadline)?;
            if let Some(len) = self.take(record, buf) {
                return Ok(len);
            }
            // A lossy reader overrun while copying: there is always a next
            // record, so a sender that keeps lapping it must not keep it
            // here past its deadline.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout {
                    name: self.name().to_owned(),
                    operation: "receive",
                    after: allowed(started, deadline),
                });
            }
        }
    }

    /// Lends the next message in place, waiting as long as it takes. The
    /// message is released (its space given back) when the borrow drops.
    /// Not available on lossy broadcast channels, whose messages may be
    /// overwritten at any time.
    #[inline]
    pub fn recv_borrow(&mut self) -> Result<Message<'_>> {
        let record = self
            .lend(Deadline::Never)
            .map_err(|e| self.blocking_error(e))?;
        Ok(Message {
            receiver: self,
            record,
        })
    }

    /// Like [`Receiver::recv_borrow`], waiting at most `timeout`.
    pub fn recv_borrow_timeout(&mut self, timeout: Duration) -> Result<Message<'_>> {
        let record = self
            .lend(Deadline::after(timeout))
            .map_err(|e| self.blocking_error(e))?;
        Ok(Message {
            receiver: self,
            record,
        })
    }

    /// Like [`Receiver::recv_borrow`], if a message is there now.
    #[inline]
    pub fn try_recv_borrow(&mut self) -> Result<Message<'_>, TryRecvError> {
        let record = self.lend(Deadline::Now)?;
        Ok(Message {
            receiver: self,
            record,
        })
    }

    /// The core of every borrowing receive: the record to lend, the common
    /// case first (`quick_record`, never on lossy channels; inlined as in
    /// `receive`), waiting per `deadline`.
    #[inline(always)]
    fn lend(&mut self, deadline: Deadline) -> Result<Record, TryRecvError> {
        match self.quick_record(false) {
            Some(record) => Ok(record),
            None => self.lend_slowly(deadline),
        }
    }

    /// `lend` past its common case.
    #[inline(never)]
    fn lend_slowly(&mut self, deadline: Deadline) -> Result<Record, TryRecvError> {
        self.check_borrowable()?;
        match deadline {
            Deadline::Now => self.try_record()?.ok_or(TryRecvError::Empty),
            Deadline::Never => Ok(self.wait_for_record(None)?),
            Deadline::At(at) => Ok(self.wait_for_record(Some(at))?),
        }
    }

    fn check_borrowable(&self) -> Result<()> {
        if self.lossy {
            return Err(Error::Unsupported {
                what: format!(
                    "borrowing from lossy broadcast channel {}: its messages may be \
                     overwritten while borrowed; use recv_into",
                    self.name()
                ),
            });
        }
        Ok(())
    }

    fn try_record(&mut self) -> Result<Option<Record>, TryRecvError> {
        if let Some(record) = self.checked_next_record()? {
            return Ok(Some(record));
        }
        let control = self.channel.control();
        let departures = control.data.departures.load(Ordering::Acquire);
        let now = Instant::now();
        if departures != self.departures || now.duration_since(self.last_probe) >= IDLE_PROBE {
            self.departures = departures;
            self.last_probe = now;
            // Whether a sender ever attached, read *before* asking who is
            // alive: a sender sets the flag only once it holds its slot, so
            // one seen here is seen by the liveness check too, unless it has
            // left since. (The other order reported a sender that attached
            // during a slow liveness check, under Wine, as gone.)
            let saw_one =
                self.saw_sender() || control.data.peer_ever_attached.load(Ordering::Acquire) != 0;
            let alive = self.is_connected();
            if alive {
                self.saw_sender.store(true, Ordering::Relaxed);
            }
            if saw_one && !alive {
                // Anything published before the last sender left is still
                // delivered first.
                return match self.checked_next_record()? {
                    Some(record) => Ok(Some(record)),
                    None => Err(TryRecvError::Disconnected),
                };
            }
        }
        Ok(None)
    }

    fn wait_for_record(&mut self, deadline: Option<Instant>) -> Result<Record> {
        if let Some(record) = self.checked_next_record()? {
            return Ok(record);
        }
        // A peer that keeps up answers within a few hundred nanoseconds:
        // look for its message before paying for the clock and the waiter.
        let spins = match self.strategy {
            WaitStrategy::Park => false,
            WaitStrategy::SpinThenPark { spin } => !spin.is_zero(),
            WaitStrategy::Spin => true,
        };
        if spins {
            let mut backoff = Backoff::new(QUICK_SPINS);
            while backoff.snooze() {
                if let Some(record) = self.waiting_next_record()? {
                    return Ok(record);
                }
            }
        }
        let started = Instant::now();
        let channel = Arc::clone(&self.channel);
        let waiter = Waiter {
            channel: &channel,
            line: &channel.control().data,
            strategy: self.strategy,
            peers: (0, channel.geometry().max_senders),
            seen: Cell::new(self.saw_sender()),
        };
        let result = waiter.wait(deadline, || self.waiting_next_record().transpose());
        if waiter.seen.get() || result.is_ok() {
            // A record, or a sender seen alive: a sender was attached.
            self.saw_sender.store(true, Ordering::Relaxed);
        }
        match result {
            Ok(result) => result,
            Err(Interrupted::Timeout) => Err(Error::Timeout {
                name: channel.name().to_owned(),
                operation: "receive",
                after: allowed(started, deadline),
            }),
            Err(Interrupted::Disconnected) => Err(Error::Disconnected {
                name: channel.name().to_owned(),
                peer: "sender",
            }),
        }
    }

    /// Whether we know, from our own memory, that a sender was attached: we
    /// saw one alive, or we have read records since we attached.
    fn saw_sender(&self) -> bool {
        self.saw_sender.load(Ordering::Relaxed) || self.cursor.head != self.first_head
    }

    /// [`Receiver::next_record`], with a fault turned into an error.
    fn checked_next_record(&mut self) -> Result<Option<Record>> {
        self.next_record()
            .map_err(|fault| fault.into_error(self.channel.name()))
    }

    /// The next published record, if any, validated against the geometry
    /// (`ring::Consumer::next_record`): a length or position that no correct
    /// sender writes is `Error::Corrupt`.
    fn next_record(&mut self) -> Result<Option<Record>, Fault> {
        let channel = &*self.channel;
        let control = channel.control();
        let slot = channel.receiver_slot(self.slot);
        let next_seq = self.next_seq;
        let found = self.cursor.next_record(
            channel,
            channel.geometry().max_message,
            self.lossy,
            |cursor| broadcast::overrun(&control.producer.oldest, cursor),
            |seq| (!in_sequence(next_seq, seq)).then(|| next_seq.unwrap_or(seq)),
            |cursor, head| {
                cursor.head = head;
                ring::release(&slot.head, head);
                channel.wake_if_parked(&control.space);
            },
        );
        found
    }

    /// A look of a receiver that is waiting for a record: also loads the
    /// line after the one the next record starts in (where a record longer
    /// than the rest of that line ends), so that when the sender writes
    /// both, they travel to us at the same time instead of one after the
    /// other (the header we poll keeps the first). Not on the first look
    /// of a wait: a stream's receiver that catches up for a moment would
    /// take that line from the sender just as it writes it.
    fn waiting_next_record(&mut self) -> Result<Option<Record>> {
        let found = self.checked_next_record();
        if let Ok(None) = found {
            self.channel.touch(self.cursor.head + 64);
        }
        found
    }

    /// Lossy broadcast: if the sender has overwritten our position, jump to
    /// the oldest record still intact and say so (`broadcast::overrun`).
    fn overrun(&mut self) -> bool {
        broadcast::overrun(&self.channel.control().producer.oldest, &mut self.cursor)
    }

    /// Copies a record out and releases it. `None`: a lossy reader was
    /// overrun while copying, the copy is dropped and the record skipped.
    fn take(&mut self, record: Record, buf: &mut Vec<u8>) -> Option<usize> {
        self.channel
            .read_payload_to_vec(record.pos, record.len, buf);
        if self.lossy {
            // If our copy saw any byte of an overwrite, `oldest` has moved
            // past the record (the fence is in `overrun`).
            if self.overrun() {
                // Torn (its header too, maybe: its `seq` is not to be
                // trusted): the caller takes the next one, whose sequence
                // number counts what was skipped.
                return None;
            }
            // Intact, `seq` included: only now does it count, and never
            // for more records than the skipped bytes could hold.
            if let Some(expected) = self.next_seq {
                let claimed = u64::from(record.seq.wrapping_sub(expected));
                let room = record.pos.saturating_sub(self.taken_end) / 8;
                self.missed = self.missed.saturating_add(claimed.min(room));
            }
        }
        self.consume(&record);
        self.taken_end = self.cursor.head;
        Some(record.len)
    }

    /// Done with `record`: expect the number after it, and give its bytes
    /// back to the sender.
    #[inline]
    pub(super) fn consume(&mut self, record: &Record) {
        self.next_seq = Some(record.seq.wrapping_add(1));
        self.advance(record.end());
    }

    /// Gives the ring up to `head` back to the sender.
    #[inline]
    fn advance(&mut self, head: u64) {
        self.cursor.head = head;
        let channel = &*self.channel;
        ring::release(&channel.receiver_slot(self.slot).head, head);
        channel.wake_if_parked(&channel.control().space);
    }
}

/// Whether `seq` may follow the records taken so far (the next one being
/// `next`, once known) in a ring that never drops: the next number, or a few
/// past it (a sender killed between numbering a record and publishing it
/// leaves its number unused). Anything else was never sent after the record
/// before.
#[inline]
fn in_sequence(next: Option<u32>, seq: u32) -> bool {
    match next {
        Some(expected) => seq.wrapping_sub(expected) <= SEQUENCE_SLACK,
        None => true,
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let control = self.channel.control();
        self.channel
            .receiver_slot(self.slot)
            .active
            .store(0, Ordering::SeqCst);
        drop(self.lock.take());
        control.space.departures.fetch_add(1, Ordering::Release);
        self.channel.wake(&control.space);
    }
}
