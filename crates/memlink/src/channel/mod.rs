//! Channels: the article's server and client, done properly.
//!
//! A channel is a named mapping holding a validated header and a ring of
//! variable-length messages. A sender writes a message; a blocked receiver
//! wakes. Three kinds ([`Kind`]): one-to-one, many-to-one, and broadcast (one
//! sender, every receiver gets every message, with either back-pressure or
//! "lossy" readers that skip what they missed and are told how much).
//!
//! * Messages are published whole: a receiver never sees a partial or torn
//!   message, even if the sender is killed mid-write.
//! * Waiting spins first and then sleeps in the kernel ([`WaitStrategy`]);
//!   while the peer keeps up, neither side makes a system call.
//! * When the peer goes away (closed, or killed with `kill -9`), blocked
//!   calls return [`Error::Disconnected`] within
//!   100 ms, after everything it sent has been received.
//! * Zero-copy: [`Sender::loan`] lends the message's place in the ring,
//!   [`Receiver::recv_borrow`] lends a received message in place.
//! * A channel never trusts its segment: a corrupt header or ring gives
//!   [`Error::Corrupt`] or
//!   [`Error::WrongKind`], never a panic or an
//!   out-of-bounds access.
//!
//! ```
//! use memlink::channel::{ChannelOptions, Kind, Receiver};
//! # let name = format!("doc-channel-{}", std::process::id());
//!
//! // The server creates the channel and sends; a client opens it and reads.
//! let mut server = ChannelOptions::new()
//!     .kind(Kind::OneToOne)
//!     .capacity(64 * 1024)
//!     .max_message(1024)
//!     .create_sender(&name)?;
//! let mut client = Receiver::open(&name)?;
//! server.send(b"data ready")?;
//! assert_eq!(client.recv()?, b"data ready");
//! # Ok::<(), memlink::Error>(())
//! ```

mod bell;
mod broadcast;
mod doorbell;
mod fault;
mod future;
mod inspect;
mod layout;
mod loan;
mod park;
mod receiver;
mod ring;
mod send_lock;
mod sender;
mod shared;
mod sync_prims;
mod wait;
mod waitset;

use std::sync::Arc;

/// The channel's lock-free protocols, for `tests/loom_ring.rs` to run under
/// loom (only built with `--cfg loom`): the real `ring`, `park`,
/// `send_lock` and broadcast code, instantiated with loom's atomics.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_hooks {
    pub use super::bell::{announce, clear, park_lines, ring_bells, withdraw, Line, Registration};
    pub use super::park::{park_unless, wake, wake_if_parked};
    pub use super::send_lock::{holder_is_dead, lock_word, Attempt, SendLock};
    pub use super::sync_prims::loom_impl::ModelFutex;
    pub use super::sync_prims::{Futex, Word32, Word64};

    pub use super::ring::{
        end_of, prepare, publish, quick_room, recover_tail, release, room, Consumer, Record,
        Records, Room,
    };

    use loom::sync::atomic::{AtomicU32, AtomicU64};

    /// `ring::reserve`; `Err` where the channel reports `Corrupt`.
    pub fn ring_reserve<R: Records>(
        ring: &R,
        tail: u64,
        cached_head: &mut u64,
        len: usize,
        slowest_head: impl FnOnce() -> u64,
    ) -> Result<Option<Room>, String> {
        super::ring::reserve(ring, tail, cached_head, len, || Ok(slowest_head()))
            .map_err(|fault| format!("{fault:?}"))
    }

    /// `ring::Consumer::next_record` of a ring that never drops, expecting
    /// `expected` next (if known); `Err` where the channel reports
    /// `Corrupt`. `release` gives padding back (see `ring::release`).
    pub fn ring_next_record<R: Records>(
        cursor: &mut Consumer,
        ring: &R,
        max_message: u32,
        expected: Option<u32>,
        release: impl FnMut(&mut Consumer, u64),
    ) -> Result<Option<Record>, String> {
        cursor
            .next_record(
                ring,
                max_message,
                false,
                |_| false,
                |seq| expected.filter(|&e| e != seq),
                release,
            )
            .map_err(|fault| format!("{fault:?}"))
    }

    /// `ring::Consumer::quick_record` of a ring that never drops, expecting
    /// `expected` next (if known).
    pub fn ring_quick_record<R: Records>(
        cursor: &mut Consumer,
        ring: &R,
        max_message: u32,
        expected: Option<u32>,
    ) -> Option<Record> {
        cursor.quick_record(ring, max_message, true, |seq| {
            expected.is_none_or(|e| e == seq)
        })
    }

    /// `ring::Consumer::next_record` of a lossy broadcast reader, whose
    /// `overrun` is the real `broadcast::overrun` on `oldest`; `Err` where
    /// the channel reports `Corrupt`.
    pub fn ring_next_record_lossy<R: Records>(
        cursor: &mut Consumer,
        ring: &R,
        max_message: u32,
        oldest: &AtomicU64,
        release: impl FnMut(&mut Consumer, u64),
    ) -> Result<Option<Record>, String> {
        cursor
            .next_record(
                ring,
                max_message,
                true,
                |cursor| super::broadcast::overrun(oldest, cursor),
                |_| None,
                release,
            )
            .map_err(|fault| format!("{fault:?}"))
    }

    /// `broadcast::make_room_lossy`; `Err` where the channel reports
    /// `Corrupt`.
    pub fn broadcast_make_room_lossy<R: Records>(
        ring: &R,
        oldest_word: &AtomicU64,
        oldest: &mut u64,
        tail: u64,
        end: u64,
        max_message: u32,
    ) -> Result<(), String> {
        super::broadcast::make_room_lossy(ring, oldest_word, oldest, tail, end, max_message)
            .map_err(|fault| format!("{fault:?}"))
    }

    /// `broadcast::overrun`: whether a lossy reader was overrun (and where
    /// it jumps).
    pub fn broadcast_overrun(oldest: &AtomicU64, cursor: &mut Consumer) -> bool {
        super::broadcast::overrun(oldest, cursor)
    }

    /// `Receiver::attach`'s broadcast join (`broadcast::join`).
    pub fn broadcast_join(
        tail: &AtomicU64,
        head: &AtomicU64,
        active: &AtomicU32,
        token: u32,
    ) -> u64 {
        super::broadcast::join(tail, head, active, token)
    }

    /// `Sender::slowest_head` of a broadcast channel
    /// (`broadcast::slowest_head`); `Err` where the channel reports
    /// `Corrupt`.
    pub fn broadcast_slowest_head(
        tail: u64,
        capacity: u64,
        readers: &[(&AtomicU32, &AtomicU64)],
    ) -> Result<u64, String> {
        super::broadcast::slowest_head(tail, capacity, readers.iter().copied())
            .map_err(|fault| format!("{fault:?}"))
    }
}

pub use future::{RecvFuture, SendFuture};
pub use inspect::{inspect, ChannelInfo, EndpointInfo};

/// Whether `magic`, the first word of a mapping, is a channel's
/// (`crate::identify`).
pub(crate) fn is_channel_magic(magic: u64) -> bool {
    magic == layout::MAGIC
}
pub use layout::Kind;
pub use loan::{Loan, Message};
pub use receiver::Receiver;
pub use sender::Sender;
pub use wait::WaitStrategy;
pub use waitset::{Endpoint, Readiness, Ready, Token, WaitSet, WaitStats};

/// What this process has done, as a waker, with the doorbells of
/// [`WaitSet`]s (in any process) asleep on its channels: for diagnostics
/// and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DoorbellStats {
    /// Doorbells rung.
    pub rings: u64,
    /// Announcements of wait sets found dead (killed while asleep) that
    /// were cleared from a channel.
    pub cleared: u64,
}

/// This process's [`DoorbellStats`] so far.
///
/// ```
/// use memlink::channel::{doorbell_stats, DoorbellStats};
/// // A process that has woken no wait set has rung no doorbell.
/// assert_eq!(doorbell_stats(), DoorbellStats::default());
/// ```
pub fn doorbell_stats() -> DoorbellStats {
    use std::sync::atomic::Ordering::Relaxed;
    DoorbellStats {
        rings: doorbell::RINGS.load(Relaxed),
        cleared: doorbell::CLEARED.load(Relaxed),
    }
}

use crate::error::{Error, Result};
use crate::mapping::MappingOptions;
use layout::{Geometry, FLAG_LOSSY};
use shared::Channel;

/// Why [`Sender::try_send`] did not send.
#[derive(Debug, thiserror::Error)]
pub enum TrySendError {
    /// The ring has no room for the message now.
    #[error("the channel is full")]
    Full,
    /// No receiver is attached any more.
    #[error("the channel is disconnected")]
    Disconnected,
    /// Something else went wrong (message too large, corrupt segment...).
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Why [`Receiver::try_recv`] did not receive.
#[derive(Debug, thiserror::Error)]
pub enum TryRecvError {
    /// No message is waiting now.
    #[error("the channel is empty")]
    Empty,
    /// No sender is attached any more and every message was received.
    #[error("the channel is disconnected")]
    Disconnected,
    /// Something else went wrong (corrupt segment...).
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Options for creating and opening channels.
///
/// Defaults: one-to-one, a 64 KiB ring, messages up to 4 KiB, owner-only,
/// gone when the last endpoint goes, spin-then-park waiting.
#[derive(Debug, Clone)]
pub struct ChannelOptions {
    kind: Kind,
    capacity: u64,
    max_message: u32,
    max_senders: u32,
    max_receivers: u32,
    lossy: bool,
    wait: WaitStrategy,
    mapping: MappingOptions,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions {
            kind: Kind::OneToOne,
            capacity: 64 * 1024,
            max_message: 4096,
            max_senders: 16,
            max_receivers: 8,
            lossy: false,
            wait: WaitStrategy::default(),
            mapping: MappingOptions::new(),
        }
    }
}

impl ChannelOptions {
    /// The defaults described above.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the channel connects.
    pub fn kind(&mut self, kind: Kind) -> &mut Self {
        self.kind = kind;
        self
    }

    /// Ring size in bytes: a power of two, at least twice the largest record
    /// (message + 8 bytes, rounded up to 8).
    pub fn capacity(&mut self, bytes: u64) -> &mut Self {
        self.capacity = bytes;
        self
    }

    /// The largest message, in bytes.
    pub fn max_message(&mut self, bytes: u32) -> &mut Self {
        self.max_message = bytes;
        self
    }

    /// Many-to-one: how many senders may be attached at once (default 16).
    pub fn max_senders(&mut self, n: u32) -> &mut Self {
        self.max_senders = n;
        self
    }

    /// Broadcast: how many receivers may be attached at once (default 8).
    pub fn max_receivers(&mut self, n: u32) -> &mut Self {
        self.max_receivers = n;
        self
    }

    /// Broadcast: a receiver that falls behind loses the oldest messages
    /// (and is told how many, see [`Receiver::take_missed`]) instead of
    /// making the sender wait.
    pub fn lossy(&mut self, lossy: bool) -> &mut Self {
        self.lossy = lossy;
        self
    }

    /// How blocked calls of endpoints made with these options wait.
    pub fn wait(&mut self, strategy: WaitStrategy) -> &mut Self {
        self.wait = strategy;
        self
    }

    /// Permission bits of a created channel (default `0o600`).
    ///
    /// Every endpoint writes (senders the ring, receivers their cursor), so
    /// a channel has no read-only role: a mode that lets a class read
    /// without writing (`0o644`, `0o640`...) is refused when the channel is
    /// created. Such a reader could only watch the endpoints and, with byte
    /// locks, get in their way. Use `0o600`, `0o660` or `0o666`.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mapping.mode(mode);
        self
    }

    /// Keep the channel after its last endpoint goes, until removed with
    /// [`Mapping::remove`](crate::Mapping::remove).
    pub fn persistent(&mut self, persistent: bool) -> &mut Self {
        self.mapping.persistent(persistent);
        self
    }

    /// Accept a channel that another user created.
    pub fn allow_foreign_owner(&mut self, allow: bool) -> &mut Self {
        self.mapping.allow_foreign_owner(allow);
        self
    }

    /// Creates the channel and attaches as its sender.
    pub fn create_sender(&self, name: &str) -> Result<Sender> {
        Sender::attach(self.create(name)?, self.wait)
    }

    /// Creates the channel and attaches as its receiver.
    pub fn create_receiver(&self, name: &str) -> Result<Receiver> {
        Receiver::attach(self.create(name)?, self.wait)
    }

    /// Opens an existing channel as a sender.
    pub fn open_sender(&self, name: &str) -> Result<Sender> {
        Sender::attach(self.open(name)?, self.wait)
    }

    /// Opens an existing channel as a receiver.
    pub fn open_receiver(&self, name: &str) -> Result<Receiver> {
        Receiver::attach(self.open(name)?, self.wait)
    }

    fn geometry(&self) -> Geometry {
        let (max_senders, max_receivers) = match self.kind {
            Kind::OneToOne => (1, 1),
            Kind::ManyToOne => (self.max_senders, 1),
            Kind::Broadcast => (1, self.max_receivers),
        };
        Geometry {
            kind: self.kind,
            flags: if self.lossy { FLAG_LOSSY } else { 0 },
            capacity: self.capacity,
            max_message: self.max_message,
            max_senders,
            max_receivers,
        }
    }

    fn create(&self, name: &str) -> Result<Arc<Channel>> {
        let geometry = self.geometry();
        geometry.check(name)?;
        check_mode(name, self.mapping.mode_bits())?;
        let mut options = self.mapping.clone();
        options
            .size(geometry.total_size())
            .access(crate::Access::ReadWrite);
        // The header is written before the name appears: nobody ever opens a
        // half-made channel, and a creator that dies here leaves nothing.
        let mapping =
            options.create_initialized(name, |view| shared::write_header(view, &geometry))?;
        Ok(Arc::new(Channel::attach(mapping)?))
    }

    fn open(&self, name: &str) -> Result<Arc<Channel>> {
        let mut options = self.mapping.clone();
        options.access(crate::Access::ReadWrite);
        Ok(Arc::new(Channel::attach(options.open(name)?)?))
    }
}

/// Refuses permission bits that grant a class read access without write
/// access (see [`ChannelOptions::mode`]).
fn check_mode(name: &str, mode: u32) -> Result<()> {
    let read_only = [("its owner", 6), ("its group", 3), ("others", 0)]
        .into_iter()
        .filter(|(_, shift)| (mode >> shift) & 0o6 == 0o4)
        .map(|(class, _)| class)
        .collect::<Vec<_>>();
    if read_only.is_empty() {
        return Ok(());
    }
    Err(Error::invalid_argument(format!(
        "mode {mode:#o} for channel {name} lets {} read without writing; every endpoint \
         writes, so a read-only opener could only watch and obstruct the endpoints \
         (use 0o600, 0o660 or 0o666)",
        read_only.join(" and ")
    )))
}

impl Sender {
    /// Opens an existing channel as a sender, with default options.
    pub fn open(name: &str) -> Result<Sender> {
        ChannelOptions::new().open_sender(name)
    }
}

impl Receiver {
    /// Opens an existing channel as a receiver, with default options.
    pub fn open(name: &str) -> Result<Receiver> {
        ChannelOptions::new().open_receiver(name)
    }
}
