//! The shared-memory layout of a channel, and its validation.
//!
//! ```text
//! offset 0     Header         magic, version, kind, geometry (read-only after creation)
//!        128   ProducerLine   tail, oldest, send lock: written by the sender(s)
//!        256   WakeLine       receivers parked / data futex / epoch / doorbells
//!        384   WakeLine       senders parked / space futex / epoch / doorbells
//!        512   SenderSlot     x max_senders     (128 bytes each)
//!        ...   ReceiverSlot   x max_receivers   (128 bytes each; a broadcast reader's cursor)
//!        ...   ring           capacity bytes (a power of two), 128-aligned
//! ```
//!
//! Every field is an atomic of fixed width, so any bit pattern is a valid
//! value: a corrupt or hostile segment can make the channel report errors,
//! never cause undefined behaviour. Each block is padded to 128 bytes on every
//! target, so the producer's and the consumers' hot words never share a cache
//! line (nor an adjacent-line prefetch pair).
//!
//! Records in the ring are 8-byte aligned: a header `{len: u32, seq: u32}`
//! (one 8-byte atomic word) followed by `len` payload bytes. The header is
//! the publication (version 3): receivers poll the header at their head,
//! and `len == UNPUBLISHED` there means "nothing yet". `len == PAD` marks
//! the unused end of the ring before a wrap. A record never wraps, so a
//! message is always one contiguous slice (what zero-copy needs).
//!
//! ```text
//! ring   ... | len seq | payload (len bytes, padded to 8) | UNPUBLISHED . | stale bytes ...
//!            ^ head (a receiver polls this word)           ^ tail (where the next header goes)
//! ```
//!
//! The producer writes the `UNPUBLISHED` marker after a record before it
//! publishes the record's header, so what a receiver finds at its head is
//! never an earlier lap's stale bytes (see `ring`). The tail is kept for the
//! sender side (many-to-one, takeover, broadcast join, `inspect`).
//!
//! Version history: 2 published with the tail (receivers polled
//! `ProducerLine::tail`, headers had no marker); 3 publishes in band.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{Error, Result};

/// `"MLCHAN01"` as a little-endian integer: what every channel starts with.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"MLCHAN01");
/// The layout version this code reads and writes.
pub(crate) const VERSION: u32 = 3;
/// Size of the fixed padding unit of every shared block.
pub(crate) const LINE: usize = 128;
/// Size of a record header.
pub(crate) const RECORD_HEADER: usize = 8;
/// The `len` of a padding record.
pub(crate) const PAD: u32 = u32::MAX;
/// The `len` of the marker where the next record's header will go: not
/// published yet.
pub(crate) const UNPUBLISHED: u32 = u32::MAX - 1;
/// Header flag: broadcast readers that fall behind lose the oldest messages
/// instead of holding the sender back.
pub(crate) const FLAG_LOSSY: u32 = 1;

/// Bounds that keep a geometry sane (and its arithmetic far from overflow).
pub(crate) const MIN_CAPACITY: u64 = 256;
pub(crate) const MAX_CAPACITY: u64 = 1 << 40;
pub(crate) const MAX_ENDPOINTS: u32 = 1024;

/// What a channel connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One sender, one receiver.
    OneToOne,
    /// Many senders, one receiver.
    ManyToOne,
    /// One sender; every receiver gets every message.
    Broadcast,
}

impl Kind {
    pub(crate) fn code(self) -> u32 {
        match self {
            Kind::OneToOne => 1,
            Kind::ManyToOne => 2,
            Kind::Broadcast => 3,
        }
    }

    fn from_code(code: u32) -> Option<Kind> {
        match code {
            1 => Some(Kind::OneToOne),
            2 => Some(Kind::ManyToOne),
            3 => Some(Kind::Broadcast),
            _ => None,
        }
    }
}

/// The channel header: written once by the creator before the name exists,
/// read and validated by everyone who opens it.
#[repr(C, align(128))]
pub(crate) struct Header {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub kind: AtomicU32,
    pub flags: AtomicU32,
    pub max_message: AtomicU32,
    pub capacity: AtomicU64,
    pub max_senders: AtomicU32,
    pub max_receivers: AtomicU32,
    pub ring_offset: AtomicU64,
    pub total_size: AtomicU64,
}

/// Written by the sender side.
#[repr(C, align(128))]
pub(crate) struct ProducerLine {
    /// Position just past the last published record. Released by the sender
    /// after it publishes a record (in band, in the record's header); read
    /// by the sender side (the next many-to-one holder, a sender taking
    /// over, a joining broadcast reader) and `inspect`, never by a receiver
    /// waiting for data.
    pub tail: AtomicU64,
    /// Lossy broadcast: position of the oldest record not yet overwritten.
    pub oldest: AtomicU64,
    /// Many-to-one: 0 when free, else the holder's `lock_word`: its slot
    /// generation (high 16 bits) and slot + 1 (low 16 bits). The generation
    /// tells a dead holder from a sender that attached later in the same slot
    /// (unless that slot was claimed a multiple of 65536 times in between).
    pub send_lock: AtomicU32,
    /// The sequence number of the next record (its low 32 bits), so that a
    /// sender that takes over (a restarted one, or the next holder of the
    /// many-to-one lock) continues the numbering that lossy readers count on.
    pub next_seq: AtomicU32,
    /// Many-to-one: senders asleep on `send_lock`, waiting for its holder to
    /// let go. Counted (SeqCst) before they look at the lock a last time;
    /// loaded (SeqCst) by the holder after it lets go, which wakes them. A
    /// sender killed while asleep leaves its count behind: every later
    /// unlock then makes one needless wake-up call (slower, never wrong).
    pub lock_waiters: AtomicU32,
}

/// Parking of one side: waiters count themselves in `parked` and sleep on
/// `futex`; the other side bumps `futex` and wakes them.
///
/// `parked` is stored (SeqCst) by a waiter before it re-checks the ring, and
/// loaded (SeqCst) by the other side after it publishes: of the two, at least
/// one sees the other, so a wake-up is never lost.
#[repr(C, align(128))]
pub(crate) struct WakeLine {
    pub parked: AtomicU32,
    pub futex: AtomicU32,
    /// Set once an endpoint of the *waking* side (the waiters' peer) has
    /// attached: before that, "no peer" means "not yet", not "disconnected".
    pub peer_ever_attached: AtomicU32,
    /// Bumped whenever an endpoint of the waking side detaches, so the other
    /// side notices a departure with one load and only then asks the kernel
    /// who is left.
    pub departures: AtomicU32,
    /// Wait sets announced in `bells` (or about to be): the wakers' one-load
    /// hint that `bells` is worth scanning (see `channel::bell`). A wait set
    /// killed while counted leaves it too high: wakers then scan `bells`
    /// needlessly (a few loads of this line, never wrong).
    pub belled: AtomicU32,
    /// Unused; keeps `bells` explicitly 8-aligned.
    pub reserved: AtomicU32,
    /// Doorbells of wait sets asleep on this line: 0 when free, else a
    /// doorbell's identity (`channel::doorbell`). Stored (SeqCst) by a wait
    /// set before its last look at its sources, loaded (SeqCst) by a waker
    /// after its publication, which then rings it. Untrusted: a waker only
    /// derives a name in its own user's namespace from it.
    pub bells: [AtomicU64; BELL_SLOTS],
}

/// How many wait sets can sleep on one line by doorbell at once; the others
/// park on the line's `futex` word, as a blocked call does.
pub(crate) const BELL_SLOTS: usize = 8;

/// The fixed blocks at the start of every channel.
#[repr(C)]
pub(crate) struct Control {
    pub header: Header,
    pub producer: ProducerLine,
    /// Receivers wait here for data.
    pub data: WakeLine,
    /// Senders wait here for space.
    pub space: WakeLine,
}

/// A sender's slot (its liveness is its endpoint lock, not this memory).
#[repr(C, align(128))]
pub(crate) struct SenderSlot {
    pub pid: AtomicU32,
    /// Bumped by every sender that claims the slot.
    pub generation: AtomicU32,
}

/// A receiver's slot: its read cursor.
#[repr(C, align(128))]
pub(crate) struct ReceiverSlot {
    /// Position of the next record to read. Released by the receiver after
    /// it is done with a record; acquired by the sender before reusing the
    /// space.
    pub head: AtomicU64,
    /// 0 when free; else the attach token of the receiver in the slot (see
    /// `receiver_token`): even while it joins a broadcast (its head is only a
    /// lower bound, not yet checked), odd once attached. A token of its own
    /// lets a sender clear a dead receiver's slot with a compare-exchange
    /// that fails if a new receiver has attached there meanwhile.
    pub active: AtomicU32,
    pub pid: AtomicU32,
    /// Bumped by every receiver that claims the slot: makes its token.
    pub generation: AtomicU32,
}

/// The token (joining; `| 1` once attached) of the `generation`-th receiver
/// of a slot: even and never 0.
pub(crate) fn receiver_token(generation: u32) -> u32 {
    ((generation % 0x7fff_ffff) + 1) << 1
}

const _: () = {
    assert!(std::mem::size_of::<Header>() == LINE);
    assert!(std::mem::size_of::<ProducerLine>() == LINE);
    assert!(std::mem::size_of::<WakeLine>() == LINE);
    assert!(std::mem::offset_of!(WakeLine, belled) == 16);
    assert!(std::mem::offset_of!(WakeLine, bells) == 24);
    assert!(std::mem::size_of::<SenderSlot>() == LINE);
    assert!(std::mem::size_of::<ReceiverSlot>() == LINE);
    assert!(std::mem::size_of::<Control>() == 4 * LINE);
    assert!(std::mem::offset_of!(Control, producer) == LINE);
    assert!(std::mem::offset_of!(Control, data) == 2 * LINE);
    assert!(std::mem::offset_of!(Control, space) == 3 * LINE);
    assert!(std::mem::offset_of!(Header, capacity) == 24);
    assert!(std::mem::offset_of!(Header, total_size) == 48);
};

/// A channel's shape, as created or as read back and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub kind: Kind,
    pub flags: u32,
    pub capacity: u64,
    pub max_message: u32,
    pub max_senders: u32,
    pub max_receivers: u32,
}

impl Geometry {
    /// Offset of sender slot `i`.
    pub fn sender_slot(&self, i: u32) -> usize {
        std::mem::size_of::<Control>() + i as usize * LINE
    }

    /// Offset of receiver slot `i`.
    pub fn receiver_slot(&self, i: u32) -> usize {
        self.sender_slot(self.max_senders) + i as usize * LINE
    }

    /// Offset of the ring.
    pub fn ring_offset(&self) -> usize {
        self.receiver_slot(self.max_receivers)
    }

    /// Total bytes the channel occupies.
    pub fn total_size(&self) -> u64 {
        self.ring_offset() as u64 + self.capacity
    }

    /// Ring bytes a record with `len` payload bytes takes.
    pub fn record_size(len: usize) -> usize {
        (RECORD_HEADER + len + 7) & !7
    }

    /// Ring bytes a record whose header says `len` would take, for any `len`
    /// a peer may have written (no overflow, also where `usize` is 32 bits).
    pub fn record_span(len: u32) -> u64 {
        (RECORD_HEADER as u64 + u64::from(len) + 7) & !7
    }

    /// Checks the internal consistency of a geometry; `what` names the
    /// channel in errors.
    pub fn check(&self, name: &str) -> Result<()> {
        let bad = |what: String| Error::InvalidArgument {
            what: format!("channel {name}: {what}"),
        };
        if !self.capacity.is_power_of_two()
            || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&self.capacity)
        {
            return Err(bad(format!(
                "capacity {} must be a power of two from {MIN_CAPACITY} to {MAX_CAPACITY}",
                self.capacity
            )));
        }
        if self.max_message == 0 || self.max_message >= UNPUBLISHED {
            return Err(bad(format!(
                "max message {} is out of range",
                self.max_message
            )));
        }
        // A record never wraps; half the ring guarantees it always fits once
        // the receivers catch up.
        // `record_span`, not `record_size`: a peer's header may claim any
        // length, and `usize` may be 32 bits.
        let record = Geometry::record_span(self.max_message);
        if record > self.capacity / 2 {
            return Err(bad(format!(
                "max message {} needs a capacity of at least {} bytes, not {}",
                self.max_message,
                (record * 2).next_power_of_two(),
                self.capacity
            )));
        }
        let (senders, receivers) = match self.kind {
            Kind::OneToOne => (1, 1),
            Kind::ManyToOne => (self.max_senders, 1),
            Kind::Broadcast => (1, self.max_receivers),
        };
        if self.max_senders != senders
            || self.max_receivers != receivers
            || !(1..=MAX_ENDPOINTS).contains(&self.max_senders)
            || !(1..=MAX_ENDPOINTS).contains(&self.max_receivers)
        {
            return Err(bad(format!(
                "{:?} cannot have {} senders and {} receivers",
                self.kind, self.max_senders, self.max_receivers
            )));
        }
        if self.flags & !FLAG_LOSSY != 0
            || (self.flags & FLAG_LOSSY != 0 && self.kind != Kind::Broadcast)
        {
            return Err(bad(format!(
                "flags {:#x} are not valid for {:?}",
                self.flags, self.kind
            )));
        }
        Ok(())
    }

    /// Writes the header of a new channel.
    pub fn write(&self, header: &Header) {
        header.version.store(VERSION, Ordering::Relaxed);
        header.kind.store(self.kind.code(), Ordering::Relaxed);
        header.flags.store(self.flags, Ordering::Relaxed);
        header
            .max_message
            .store(self.max_message, Ordering::Relaxed);
        header.capacity.store(self.capacity, Ordering::Relaxed);
        header
            .max_senders
            .store(self.max_senders, Ordering::Relaxed);
        header
            .max_receivers
            .store(self.max_receivers, Ordering::Relaxed);
        header
            .ring_offset
            .store(self.ring_offset() as u64, Ordering::Relaxed);
        header
            .total_size
            .store(self.total_size(), Ordering::Relaxed);
        // The name is published after this (create_initialized), which
        // orders these stores before any opener's loads.
        header.magic.store(MAGIC, Ordering::Release);
    }

    /// Reads a header back, trusting nothing: every field is checked against
    /// the others and against the mapping's real size.
    pub fn read(header: &Header, name: &str, mapping_size: u64) -> Result<Geometry> {
        let corrupt = |what: String| Error::Corrupt {
            name: name.to_owned(),
            what,
        };
        let magic = header.magic.load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(Error::WrongKind {
                name: name.to_owned(),
                expected: "memlink channel",
                found: "mapping without a channel header",
            });
        }
        let version = header.version.load(Ordering::Relaxed);
        if version != VERSION {
            return Err(Error::Unsupported {
                what: format!(
                    "channel {name} has layout version {version}; this memlink reads version {VERSION}"
                ),
            });
        }
        let kind = header.kind.load(Ordering::Relaxed);
        let kind = Kind::from_code(kind).ok_or_else(|| corrupt(format!("unknown kind {kind}")))?;
        let geometry = Geometry {
            kind,
            flags: header.flags.load(Ordering::Relaxed),
            capacity: header.capacity.load(Ordering::Relaxed),
            max_message: header.max_message.load(Ordering::Relaxed),
            max_senders: header.max_senders.load(Ordering::Relaxed),
            max_receivers: header.max_receivers.load(Ordering::Relaxed),
        };
        geometry
            .check(name)
            .map_err(|e| corrupt(format!("bad geometry ({e})")))?;
        let ring_offset = header.ring_offset.load(Ordering::Relaxed);
        let total = header.total_size.load(Ordering::Relaxed);
        if ring_offset != geometry.ring_offset() as u64
            || total != geometry.total_size()
            || total > mapping_size
        {
            return Err(corrupt(format!(
                "ring at {ring_offset} and total size {total} do not match the geometry \
                 (expected {} and {}) or the mapping's {mapping_size} bytes",
                geometry.ring_offset(),
                geometry.total_size()
            )));
        }
        Ok(geometry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry() -> Geometry {
        Geometry {
            kind: Kind::OneToOne,
            flags: 0,
            capacity: 4096,
            max_message: 1000,
            max_senders: 1,
            max_receivers: 1,
        }
    }

    fn header_with(g: &Geometry) -> Box<Header> {
        let header = Box::new(Header {
            magic: AtomicU64::new(0),
            version: AtomicU32::new(0),
            kind: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            max_message: AtomicU32::new(0),
            capacity: AtomicU64::new(0),
            max_senders: AtomicU32::new(0),
            max_receivers: AtomicU32::new(0),
            ring_offset: AtomicU64::new(0),
            total_size: AtomicU64::new(0),
        });
        g.write(&header);
        header
    }

    #[test]
    fn a_written_header_reads_back() {
        let g = geometry();
        let header = header_with(&g);
        assert_eq!(Geometry::read(&header, "c", g.total_size()).unwrap(), g);
    }

    #[test]
    fn every_corrupted_field_is_refused() {
        let g = geometry();
        let size = g.total_size();
        type Corruption = Box<dyn Fn(&Header)>;
        let cases: Vec<(&str, Corruption)> = vec![
            ("magic", Box::new(|h| h.magic.store(1, Ordering::Relaxed))),
            (
                "version",
                Box::new(|h| h.version.store(99, Ordering::Relaxed)),
            ),
            ("kind", Box::new(|h| h.kind.store(7, Ordering::Relaxed))),
            (
                "flags",
                Box::new(|h| h.flags.store(FLAG_LOSSY, Ordering::Relaxed)),
            ),
            (
                "capacity",
                Box::new(|h| h.capacity.store(4095, Ordering::Relaxed)),
            ),
            (
                "huge capacity",
                Box::new(|h| h.capacity.store(1 << 62, Ordering::Relaxed)),
            ),
            (
                "message",
                Box::new(|h| h.max_message.store(4000, Ordering::Relaxed)),
            ),
            (
                "zero message",
                Box::new(|h| h.max_message.store(0, Ordering::Relaxed)),
            ),
            (
                "senders",
                Box::new(|h| h.max_senders.store(0, Ordering::Relaxed)),
            ),
            (
                "receivers",
                Box::new(|h| h.max_receivers.store(u32::MAX, Ordering::Relaxed)),
            ),
            (
                "ring",
                Box::new(|h| h.ring_offset.store(8, Ordering::Relaxed)),
            ),
            (
                "total",
                Box::new(|h| h.total_size.store(u64::MAX, Ordering::Relaxed)),
            ),
        ];
        for (what, corrupt) in cases {
            let header = header_with(&g);
            corrupt(&header);
            assert!(
                Geometry::read(&header, "c", size).is_err(),
                "{what} accepted"
            );
        }
        // A mapping smaller than the header claims is refused too.
        let header = header_with(&g);
        assert!(Geometry::read(&header, "c", size - 1).is_err());
    }

    #[test]
    fn a_version_2_header_is_unsupported_naming_both_versions() {
        let g = geometry();
        let header = header_with(&g);
        header.version.store(2, Ordering::Relaxed);
        match Geometry::read(&header, "old", g.total_size()) {
            Err(Error::Unsupported { what }) => {
                assert!(what.contains("old"), "{what}");
                assert!(what.contains("version 2"), "{what}");
                assert!(what.contains(&format!("version {VERSION}")), "{what}");
                assert_eq!(VERSION, 3);
            }
            other => panic!("a version-2 header gave {other:?}"),
        }
    }

    #[test]
    fn geometry_limits() {
        let mut g = geometry();
        g.max_message = 2048 - 8;
        assert!(g.check("c").is_ok());
        g.max_message += 1;
        assert!(g.check("c").is_err(), "a record must fit in half the ring");
        let mut g = geometry();
        g.kind = Kind::Broadcast;
        g.max_receivers = 8;
        g.flags = FLAG_LOSSY;
        assert!(g.check("c").is_ok());
        g.kind = Kind::ManyToOne;
        assert!(g.check("c").is_err());
        // The marker's and padding's lengths are never a message's.
        let mut g = geometry();
        g.capacity = MAX_CAPACITY;
        for len in [UNPUBLISHED, PAD] {
            g.max_message = len;
            assert!(g.check("c").is_err(), "max message {len:#x}");
        }
        g.max_message = UNPUBLISHED - 1;
        assert!(g.check("c").is_ok());
    }
}
