//! Model check of the channel's protocols with [loom], on the real code
//! where it can be.
//!
//! The channel's lock-free protocols are written against the atomics and
//! futex of `src/channel/sync_prims.rs`, which loom can stand in for; built
//! with `--cfg loom`, the library exports them (`memlink::channel::loom_hooks`)
//! instantiated with loom's atomics. These drivers run **the real code** of:
//!
//! * the ring (`channel/ring.rs`: `quick_room`, `reserve`, `publish` with
//!   its marker and padding, `Consumer::quick_record` and `next_record`
//!   with their validation, `release`), on a ring whose headers are loom
//!   atomics and whose payloads are loom cells;
//! * the lossy broadcast (`channel/broadcast.rs`: `make_room_lossy`,
//!   `overrun`, and the lossy path of `next_record`);
//! * the park protocol (`channel/park.rs`: `park_unless`, `wake_if_parked`,
//!   which `Waiter::wait`, `Sender::publish` and `Receiver::advance` use);
//! * the many-to-one senders' lock (`channel/send_lock.rs`: `lock_word`,
//!   `try_take`, `holder_is_dead`, `take_over`, `unlock`);
//! * the broadcast join and slowest reader (`channel/broadcast.rs`: `join`,
//!   `slowest_head`).
//!
//! What stays the drivers' own: the endpoints around that code (`Sender` and
//! `Receiver` work on a mapped segment; the drivers hold the same cursors
//! and call the same functions in the same order, each naming the method
//! it stands for), the timing loops (spinning, deadlines, liveness probes:
//! the drivers yield or park instead), and the kernel (the futex, the
//! endpoint locks).
//!
//! What is checked:
//!
//! * **One-to-one ring** ([`one_to_one_ring_delivers_every_record_once_in_order`]):
//!   cached indices on both sides, records of different sizes, the padding
//!   record before a wrap, a full ring (the sender parks) and an empty one
//!   (the receiver parks). The ring's words are loom `UnsafeCell`s, so loom
//!   itself fails the run if the receiver reads a record the sender has not
//!   published, or the sender overwrites one the receiver has not released
//!   (no happens-before between the two accesses). The receiver also checks
//!   every record's length, sequence number and payload: no loss, no
//!   duplicate, no reordering, no "corrupt" verdict on a correct ring.
//! * **No lost wake-up**: parking has no timeout in the model (the real wait
//!   re-checks every `LIVENESS_SLICE`, which would hide a lost wake-up as a
//!   40 ms stall), so a wake-up that is lost leaves a thread blocked forever
//!   and loom reports a deadlock.
//! * **Many-to-one lock takeover** ([`sender_lock_takeover_is_exclusive`],
//!   [`a_dead_holders_word_is_taken_over_after_its_slot_is_reused`]):
//!   senders racing for the senders' lock while its holder is dead, and
//!   taking it over even once the dead holder's slot is someone else's.
//! * **Joining a broadcast** ([`a_joining_broadcast_receiver_is_never_overrun`]):
//!   a receiver that attaches while the sender fills the ring for the
//!   receivers it already counts is never overrun, and never judged corrupt.
//!
//! Past bugs are mutations that loom must fail: with `MEMLINK_MUTATION`
//! naming one, the real code re-introduces it (`sync_prims::Mutation`), and
//! [`loom_finds_the_modelled_bugs`] runs the checks above in child
//! processes, once per mutation, requiring each to fail the way it should:
//! `park_without_fence` (the reason for the fence in `park.rs`: a lost
//! wake-up, a deadlock here), `lock_without_generations` (an ABA race in the
//! senders' lock: two senders in), `join_without_token` (a broadcast reader
//! overrun while it joins), `relaxed_header_load` (the receiver loads the
//! in-band header `Relaxed`: it reads records not yet written; version 2's
//! `relaxed_tail_load`), `marker_after_publish` (the marker after a record
//! written after its header: the receiver takes an earlier lap's bytes for
//! the next record) and `relaxed_oldest` (the lossy sender moves `oldest`
//! without Release: a lossy reader takes a torn record).
//!
//! * **Lossy broadcast** ([`a_lossy_reader_takes_only_whole_records_in_order`]):
//!   a reader lapped by the sender takes only whole records, in order.
//!
//! What is left out, on purpose: the spin phase of `Waiter::wait` (it only
//! calls `ready` more often before parking), deadlines and liveness probes
//! (they only end waits early), and the hostile segment checks
//! (covered by `tests/hostile.rs`).
//!
//! # SeqCst in loom
//!
//! loom treats `SeqCst` loads and stores as `AcqRel` (tokio-rs/loom#180);
//! the loom words of `sync_prims` put a `SeqCst` fence before every `SeqCst`
//! load, which restores the C++20 order of a `SeqCst` store followed by a
//! `SeqCst` load in one thread and strengthens nothing else (see there).
//! The models below follow the same rule.
//!
//! Run (about a minute in release on two cores):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --release -p memlink --test loom_ring
//! ```
//!
//! [loom]: https://docs.rs/loom
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use memlink::channel::loom_hooks::{self as real, Attempt, ModelFutex, SendLock};

// ---------------------------------------------------------------------------
// Geometry (layout.rs): a ring of 32 bytes, records 8-aligned, at most half
// the ring each.

const CAP: u64 = 32;
const MASK: u64 = CAP - 1;
const WORDS: usize = (CAP / 8) as usize;
const RECORD_HEADER: u64 = 8;
const MAX_MESSAGE: u32 = 8;

/// The messages the sender sends: their lengths. With a 32-byte ring:
/// 0..16, 16..24, then a padding record at 24..32 and a wrap to 32..48, then
/// 48..64: the sender fills the ring and waits for the receiver twice.
const LENGTHS: [u32; 4] = [8, 0, 8, 8];

/// `layout::UNPUBLISHED`, the marker's length.
const UNPUBLISHED: u32 = u32::MAX - 1;

/// The payload of a message of 8 bytes: a function of its sequence number.
fn payload(seq: u32) -> u64 {
    0x5eed_0000_0000_0000 | u64::from(seq)
}

// ---------------------------------------------------------------------------
// The futex (sys::wait_on / sys::wake_all): "sleep while the word equals
// `seen`", checked atomically with going to sleep, as the kernel does under
// its hash-bucket lock.

struct Futex {
    word: AtomicU32,
    lock: Mutex<()>,
    sleepers: Condvar,
}

impl Futex {
    fn new() -> Futex {
        Futex {
            word: AtomicU32::new(0),
            lock: Mutex::new(()),
            sleepers: Condvar::new(),
        }
    }

    /// `sys::wait_on(word, seen, deadline)`, without the deadline.
    fn wait(&self, seen: u32) {
        let guard = self.lock.lock().unwrap();
        if self.word.load(Ordering::SeqCst) != seen {
            return;
        }
        drop(self.sleepers.wait(guard).unwrap());
    }

    /// `sys::wake_all(word)`.
    fn wake_all(&self) {
        let _guard = self.lock.lock().unwrap();
        self.sleepers.notify_all();
    }
}

/// `layout::WakeLine` (the fields the protocol uses), and the futex its
/// sleepers sleep in.
struct WakeLine {
    parked: AtomicU32,
    futex: AtomicU32,
    kernel: ModelFutex,
}

impl WakeLine {
    fn new() -> WakeLine {
        WakeLine {
            parked: AtomicU32::new(0),
            futex: AtomicU32::new(0),
            kernel: ModelFutex::new(),
        }
    }

    /// `Channel::wake_if_parked`: the real `park::wake_if_parked`.
    fn wake_if_parked(&self) {
        real::wake_if_parked(&self.kernel, &self.parked, &self.futex);
    }
}

/// `Waiter::wait` (wait.rs), parking phase: the real `park::park_unless` in
/// a loop, without deadline or liveness checks (the model's futex has no
/// timeout: a lost wake-up is a deadlock). Calls `ready` until it returns
/// `Some`.
fn wait<T>(line: &WakeLine, mut ready: impl FnMut() -> Option<T>) -> T {
    if let Some(value) = ready() {
        return value;
    }
    loop {
        let found = real::park_unless(
            &line.kernel,
            &line.parked,
            &line.futex,
            Some(std::time::Instant::now()),
            &mut ready,
        );
        if let Some(value) = found.or_else(&mut ready) {
            return value;
        }
    }
}

// ---------------------------------------------------------------------------
// The channel's shared state (layout.rs: ProducerLine, ReceiverSlot,
// Control.data / Control.space, the ring).

struct Shared {
    /// `ProducerLine::tail`.
    tail: AtomicU64,
    /// `ReceiverSlot::head` (slot 0).
    head: AtomicU64,
    /// Receivers park here for data.
    data: WakeLine,
    /// Senders park here for space.
    space: WakeLine,
    /// The ring, in 8-byte words, as payload: plain memory as far as loom
    /// is concerned, so that any access not ordered by the protocol is an
    /// error.
    ring: [UnsafeCell<u64>; WORDS],
    /// The same words as record headers: the atomic words `Channel` loads
    /// and stores headers with. A payload write also stores here (Relaxed),
    /// so a header load at a position not yet published may see an
    /// earlier lap's payload bytes, as in the real ring.
    headers: [AtomicU64; WORDS],
}

impl Shared {
    fn new() -> Shared {
        Shared {
            tail: AtomicU64::new(0),
            head: AtomicU64::new(0),
            data: WakeLine::new(),
            space: WakeLine::new(),
            ring: std::array::from_fn(|_| UnsafeCell::new(0)),
            // `shared::write_header`: the marker at position 0; the rest of
            // a fresh ring is zeros.
            headers: std::array::from_fn(|i| {
                AtomicU64::new(if i == 0 { u64::from(UNPUBLISHED) } else { 0 })
            }),
        }
    }

    fn word(&self, pos: u64) -> &UnsafeCell<u64> {
        &self.ring[((pos & MASK) / 8) as usize]
    }

    /// `Channel::write_payload` (an 8-byte payload: one word).
    fn write_payload(&self, pos: u64, value: u64) {
        // SAFETY: loom checks that no other thread accesses the word
        // concurrently; that is the property under test.
        self.word(pos + RECORD_HEADER)
            .with_mut(|p| unsafe { *p = value });
        self.headers[(((pos + RECORD_HEADER) & MASK) / 8) as usize].store(value, Ordering::Relaxed);
    }

    /// `Channel::read_payload`.
    fn read_payload(&self, pos: u64) -> u64 {
        // SAFETY: as above.
        self.word(pos + RECORD_HEADER).with(|p| unsafe { *p })
    }
}

/// The record headers as `Channel` gives them to `ring`, on loom cells.
impl real::Records for Shared {
    fn capacity(&self) -> u64 {
        CAP
    }

    fn load_header(&self, pos: u64, order: Ordering) -> (u32, u32) {
        let word = self.headers[((pos & MASK) / 8) as usize].load(order);
        (word as u32, (word >> 32) as u32)
    }

    fn store_header(&self, pos: u64, len: u32, seq: u32, order: Ordering) {
        let word = u64::from(len) | (u64::from(seq) << 32);
        self.headers[((pos & MASK) / 8) as usize].store(word, order);
    }
}

// ---------------------------------------------------------------------------
// The sender (sender.rs), one-to-one, on the real `ring::reserve` and
// `ring::publish`.

struct SenderModel {
    sh: Arc<Shared>,
    tail: u64,
    cached_head: u64,
    seq: u32,
}

impl SenderModel {
    /// `Sender::send`: reserve, write the payload, publish.
    fn send(&mut self, len: u32) {
        let pos = self.wait_for_room(len);
        // `Sender::place`: the marker after the record, before its payload.
        real::prepare(&*self.sh, real::end_of(pos, len as usize), self.seq + 1);
        if len == 8 {
            self.sh.write_payload(pos, payload(self.seq));
        }
        self.publish(pos, len);
    }

    /// `Sender::wait_for_room`: `find_room`, parking on the space line.
    fn wait_for_room(&mut self, len: u32) -> u64 {
        let sh = Arc::clone(&self.sh);
        wait(&sh.space, || self.find_room(len))
    }

    /// `Sender::place`: the real `ring::quick_room` (`Sender::quick_room`),
    /// then `Sender::find_room` (not lossy): the real `ring::reserve`.
    fn find_room(&mut self, len: u32) -> Option<u64> {
        if let Some(pos) = real::quick_room(self.tail, self.cached_head, CAP, len as usize) {
            return Some(pos);
        }
        let sh = &*self.sh;
        let tail = self.tail;
        real::ring_reserve(sh, tail, &mut self.cached_head, len as usize, || {
            // `Sender::slowest_head` (one-to-one): Acquire pairs with the
            // receiver's SeqCst head store in `ring::release`.
            let head = sh.head.load(Ordering::Acquire);
            assert!(
                head <= tail && tail - head <= CAP,
                "the sender judged a correct ring corrupt: head {head}, tail {tail}"
            );
            head
        })
        .unwrap_or_else(|fault| panic!("the sender judged a correct ring corrupt: {fault}"))
        .map(|room| room.pos)
    }

    /// `Sender::publish`: the real `ring::publish`, then the wake-up.
    fn publish(&mut self, pos: u64, len: u32) {
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        let end = real::end_of(pos, len as usize);
        self.tail = real::publish(
            &*self.sh,
            &self.sh.tail,
            self.tail,
            end,
            pos,
            len as usize,
            seq,
        );
        self.sh.data.wake_if_parked();
    }
}

// ---------------------------------------------------------------------------
// The receiver (receiver.rs), one-to-one, on the real
// `ring::Consumer::next_record` and `ring::release`.

struct ReceiverModel {
    sh: Arc<Shared>,
    cursor: real::Consumer,
    next_seq: Option<u32>,
}

impl ReceiverModel {
    /// `Receiver::recv`: wait for a record, copy it out, release it.
    fn recv(&mut self) -> (u32, u32, Option<u64>) {
        let sh = Arc::clone(&self.sh);
        let record = wait(&sh.data, || self.next_record());
        // `Receiver::take`.
        let value = (record.len == 8).then(|| self.sh.read_payload(record.pos));
        self.next_seq = Some(record.seq.wrapping_add(1));
        self.advance(record.end());
        (record.len as u32, record.seq, value)
    }

    /// `Receiver::next_record` (not lossy). The real code returns
    /// `Error::Corrupt` where this panics: a correct sender must never make
    /// it say so.
    fn next_record(&mut self) -> Option<real::Record> {
        let sh = &*self.sh;
        // `Receiver::quick_record` first, as every receive does.
        if let Some(record) =
            real::ring_quick_record(&mut self.cursor, sh, MAX_MESSAGE, self.next_seq)
        {
            return Some(record);
        }
        real::ring_next_record(
            &mut self.cursor,
            sh,
            MAX_MESSAGE,
            self.next_seq,
            |cursor, head| {
                cursor.head = head;
                real::release(&sh.head, head);
                sh.space.wake_if_parked();
            },
        )
        .unwrap_or_else(|fault| panic!("a correct ring judged corrupt: {fault}"))
    }

    /// `Receiver::advance`: the real `ring::release`, then the wake-up.
    fn advance(&mut self, head: u64) {
        self.cursor.head = head;
        real::release(&self.sh.head, head);
        self.sh.space.wake_if_parked();
    }
}

fn one_to_one() {
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&runs);
    loom::model(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        let sh = Arc::new(Shared::new());
        let mut sender = SenderModel {
            sh: Arc::clone(&sh),
            tail: 0,
            cached_head: 0,
            seq: 0,
        };
        let producer = thread::spawn(move || {
            for len in LENGTHS {
                sender.send(len);
            }
        });
        let mut receiver = ReceiverModel {
            sh,
            cursor: real::Consumer::new(0),
            next_seq: None,
        };
        for (expected, len) in LENGTHS.iter().enumerate() {
            let (got_len, seq, value) = receiver.recv();
            assert_eq!(seq, expected as u32, "lost, repeated or reordered");
            assert_eq!(got_len, *len, "message {seq} has the wrong length");
            if got_len == 8 {
                assert_eq!(value, Some(payload(seq)), "message {seq} torn");
            }
        }
        producer.join().unwrap();
    });
    eprintln!(
        "one-to-one: {} executions explored",
        runs.load(Ordering::Relaxed)
    );
}

/// The one-to-one protocol as written: every record delivered once, whole,
/// in order; the sender never overwrites what the receiver has not
/// released; both parked sides are always woken.
#[test]
fn one_to_one_ring_delivers_every_record_once_in_order() {
    one_to_one();
}

// ---------------------------------------------------------------------------
// Many-to-one: the senders' lock and its takeover from a dead holder
// (`Sender::lock_senders` / `unlock_senders`).

const SLOTS: usize = 2;

struct SendersShared {
    /// `ProducerLine::send_lock` and `lock_waiters`.
    lock: AtomicU32,
    lock_waiters: AtomicU32,
    kernel: ModelFutex,
    /// The kernel's endpoint locks (`sys::EndpointLock`): whether a live
    /// process holds sender slot `i`. See [`SendersShared::claim`] and
    /// [`SendersShared::alive`].
    alive: [AtomicBool; SLOTS],
    /// What the lock protects: the shared tail and the ring bytes past it.
    /// Only loom's access tracking reads it: two holders at once fail.
    protected: UnsafeCell<u64>,
    /// `SenderSlot::generation`.
    generation: [AtomicU32; SLOTS],
}

impl SendersShared {
    /// Slot 1's first sender (generation 1) died holding the lock; slot 0's
    /// sender is alive.
    fn with_dead_holder() -> SendersShared {
        SendersShared {
            lock: AtomicU32::new(real::lock_word(1, 1)),
            lock_waiters: AtomicU32::new(0),
            kernel: ModelFutex::new(),
            alive: [AtomicBool::new(true), AtomicBool::new(false)],
            protected: UnsafeCell::new(0),
            generation: [AtomicU32::new(1), AtomicU32::new(1)],
        }
    }

    fn send_lock(&self) -> SendLock<'_, AtomicU32> {
        SendLock {
            word: &self.lock,
            waiters: &self.lock_waiters,
        }
    }

    /// `Channel::claim` of slot `slot`. The kernel's byte locks are
    /// linearizable and a system call is a full barrier: a probe that
    /// starts after the claim returned sees it, and nothing the claimer does
    /// afterwards is seen before the claim. SeqCst fences around the claim
    /// and the probe say exactly that.
    fn claim(&self, slot: usize) {
        self.alive[slot].store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // `Sender::attach`: a new generation of the slot.
        self.generation[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// `Channel::any_alive(slot, 1)`: the probe (`F_OFD_GETLK`).
    fn alive(&self, slot: u32) -> bool {
        fence(Ordering::SeqCst);
        self.alive[slot as usize].load(Ordering::SeqCst)
    }

    /// `Sender::lock_senders` for the sender in `slot`, on the real
    /// `send_lock` steps (`LOCK_PROBE_AFTER` taken as already passed: the
    /// model probes at once; it yields where the real sender spins or
    /// sleeps). Returns our lock word.
    fn lock(&self, slot: u32) -> u32 {
        let generation = self.generation[slot as usize].load(Ordering::Relaxed);
        let me = real::lock_word(slot, generation);
        let lock = self.send_lock();
        loop {
            match lock.try_take(me) {
                Attempt::Taken => return me,
                Attempt::Free => {}
                Attempt::Held(holder) => {
                    let dead = real::holder_is_dead(
                        holder,
                        slot,
                        SLOTS as u32,
                        |i| self.generation[i as usize].load(Ordering::Acquire),
                        |i| self.alive(i),
                    );
                    if dead && lock.take_over(holder, me) {
                        return me;
                    }
                }
            }
            thread::yield_now();
        }
    }

    /// One send under the lock, and the real `unlock`.
    fn send(&self, slot: u32) {
        let mine = self.lock(slot);
        // SAFETY: loom checks that no other thread accesses the cell at the
        // same time; that is the property under test.
        self.protected.with_mut(|p| unsafe { *p += 1 });
        self.send_lock().unlock(&self.kernel, mine);
    }
}

/// The sender in slot 1 died holding the lock. A sender in slot 0 wants to
/// send; meanwhile the dead sender's slot is claimed again by a new process
/// (a supervisor restarting it), which sends too. The takeover stays
/// exclusive whatever the interleaving.
///
/// With the mutation `lock_without_generations` (the lock as first
/// written: the word is 0 or the holder's slot + 1, and a word naming our
/// slot is taken as ours): sender A reads the lock word (slot 1 + 1), finds
/// slot 1 dead, and is preempted before its takeover `compare_exchange`. A
/// new process claims slot 1, sees the word naming its own slot and takes
/// the lock by the shortcut, and starts writing. A resumes: the word still
/// names slot 1, so its `compare_exchange(holder, me)` succeeds, and two
/// senders write at the same tail; loom finds the concurrent writes.
#[test]
fn sender_lock_takeover_is_exclusive() {
    loom::model(|| {
        let sh = Arc::new(SendersShared::with_dead_holder());
        let restarted = {
            let sh = Arc::clone(&sh);
            thread::spawn(move || {
                // `Channel::claim`: the new process takes slot 1.
                sh.claim(1);
                sh.send(1);
            })
        };
        sh.send(0);
        restarted.join().unwrap();
        // SAFETY: both threads are done.
        assert_eq!(sh.protected.with(|p| unsafe { *p }), 2);
    });
}

/// The dead holder's slot is claimed again by a sender that does not send
/// (yet): its slot is alive, but the word in the lock is the dead one's, as
/// its generation shows, so the other sender takes the lock over instead of
/// waiting for ever.
#[test]
fn a_dead_holders_word_is_taken_over_after_its_slot_is_reused() {
    loom::model(|| {
        let sh = Arc::new(SendersShared::with_dead_holder());
        let idle = {
            let sh = Arc::clone(&sh);
            thread::spawn(move || sh.claim(1))
        };
        sh.send(0);
        idle.join().unwrap();
        // SAFETY: both threads are done.
        assert_eq!(sh.protected.with(|p| unsafe { *p }), 1);
    });
}

// ---------------------------------------------------------------------------
// Broadcast: a receiver joining while the sender fills the ring for the
// receivers it already counts (`Receiver::attach`, `Sender::slowest_head`).
// Records are one unit each here; the ring holds two.

const JOIN_CAP: u64 = 2;
const JOIN_MESSAGES: u64 = 3;

struct BroadcastShared {
    /// `ProducerLine::tail`.
    tail: AtomicU64,
    /// `ReceiverSlot::head` and `active` of the two receivers.
    heads: [AtomicU64; 2],
    active: [AtomicU32; 2],
    /// The ring: each cell holds the position of the record last written.
    ring: [UnsafeCell<u64>; JOIN_CAP as usize],
    /// Bumped (and woken) when the tail moves / when a receiver moves or
    /// joins: how waiters sleep instead of spinning, which loom cannot
    /// explore.
    data: Futex,
    space: Futex,
}

/// Bumps `futex`'s word and wakes its sleepers (`Channel::wake`).
fn bump(futex: &Futex) {
    futex.word.fetch_add(1, Ordering::SeqCst);
    futex.wake_all();
}

impl BroadcastShared {
    /// `Sender::slowest_head`: the real `broadcast::slowest_head`; panics
    /// where the channel reports `Corrupt`.
    fn slowest_head(&self, tail: u64) -> u64 {
        let readers = [
            (&self.active[0], &self.heads[0]),
            (&self.active[1], &self.heads[1]),
        ];
        real::broadcast_slowest_head(tail, JOIN_CAP, &readers)
            .unwrap_or_else(|fault| panic!("corrupt verdict on a correct ring: {fault}"))
    }

    /// `Sender::send`, waiting for room by looking again (the real sender
    /// parks; the wake-up protocol is the one-to-one model's).
    fn send_all(&self) {
        let mut cached_head = 0;
        for tail in 0..JOIN_MESSAGES {
            while tail - cached_head >= JOIN_CAP {
                let seen = self.space.word.load(Ordering::SeqCst);
                fence(Ordering::SeqCst);
                cached_head = self.slowest_head(tail);
                if tail - cached_head >= JOIN_CAP {
                    self.space.wait(seen);
                }
            }
            // SAFETY: loom checks that no receiver reads the cell meanwhile.
            self.ring[(tail % JOIN_CAP) as usize].with_mut(|c| unsafe { *c = tail });
            self.tail.store(tail + 1, Ordering::SeqCst);
            bump(&self.data);
        }
    }

    /// A receiver reading from `head` to the end.
    fn receive_from(&self, slot: usize, mut head: u64) {
        while head < JOIN_MESSAGES {
            let seen = self.data.word.load(Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if self.tail.load(Ordering::Acquire) <= head {
                self.data.wait(seen);
                continue;
            }
            // SAFETY: loom checks that the sender does not write it meanwhile.
            let record = self.ring[(head % JOIN_CAP) as usize].with(|c| unsafe { *c });
            assert_eq!(record, head, "read an overwritten record");
            head += 1;
            self.heads[slot].store(head, Ordering::SeqCst);
            bump(&self.space);
        }
    }

    /// `Receiver::attach` for a broadcast channel: the real
    /// `broadcast::join`; returns the start.
    fn join(&self, slot: usize) -> u64 {
        // `receiver_token` of the slot's first claim.
        let start = real::broadcast_join(&self.tail, &self.heads[slot], &self.active[slot], 2);
        // A sender held back by the joining receiver looks again.
        bump(&self.space);
        start
    }
}

fn broadcast_join() {
    // Three threads with futexes: with two preemptions the check takes
    // seconds, with three about ten minutes; the bug shows with two.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let sh = Arc::new(BroadcastShared {
            tail: AtomicU64::new(0),
            heads: [AtomicU64::new(0), AtomicU64::new(0)],
            // Receiver 0 is attached from the start; receiver 1 joins.
            active: [AtomicU32::new(1), AtomicU32::new(0)],
            ring: [UnsafeCell::new(u64::MAX), UnsafeCell::new(u64::MAX)],
            data: Futex::new(),
            space: Futex::new(),
        });
        let first = {
            let sh = Arc::clone(&sh);
            thread::spawn(move || sh.receive_from(0, 0))
        };
        let joiner = {
            let sh = Arc::clone(&sh);
            thread::spawn(move || {
                let start = sh.join(1);
                sh.receive_from(1, start);
            })
        };
        sh.send_all();
        first.join().unwrap();
        joiner.join().unwrap();
    });
}

/// A broadcast receiver that joins while the sender is filling the ring
/// reads only records the sender will not overwrite before it is done with
/// them, and the sender never takes the newcomer's head for corruption.
///
/// With the mutation `join_without_token` (the join as first written: read
/// the tail, store it as head, then "attached"), a sender that had looked
/// at `active` just before fills the ring over the newcomer's first record,
/// which it then reads (loom finds that interleaving; the receiver's check
/// reports it).
#[test]
fn a_joining_broadcast_receiver_is_never_overrun() {
    broadcast_join();
}

// ---------------------------------------------------------------------------
// Lossy broadcast: the sender overwrites what a slow reader has not read
// (`Sender::find_room` lossy: `ring::room`, `broadcast::make_room_lossy`,
// `ring::publish`), the reader jumps (`ring::Consumer::next_record` lossy,
// `broadcast::overrun`) and drops a copy the sender overwrote while it was
// made (`Receiver::take`). Lossy copies are word-wise atomics
// (`bytes::load_shared_words` / `store_shared_words`), so the ring is all
// atomics here: the check is the reader's, not loom's access tracking.

/// The lengths of the messages the lossy sender sends, in a 32-byte ring:
/// 0..8, 8..24 (marker at 24), then 24..32 (its marker at 0 overwrites the
/// first record) and 32..48: its payload lands on the second record's
/// header, which only this last record's room moves `oldest` past.
const LOSSY_LENGTHS: [u32; 4] = [0, 8, 0, 8];

struct LossyShared {
    /// `ProducerLine::tail` and `oldest`.
    tail: AtomicU64,
    oldest: AtomicU64,
    /// The reader's `ReceiverSlot::head`.
    head: AtomicU64,
    data: WakeLine,
    words: [AtomicU64; WORDS],
}

impl real::Records for LossyShared {
    fn capacity(&self) -> u64 {
        CAP
    }

    fn load_header(&self, pos: u64, order: Ordering) -> (u32, u32) {
        let word = self.words[((pos & MASK) / 8) as usize].load(order);
        (word as u32, (word >> 32) as u32)
    }

    fn store_header(&self, pos: u64, len: u32, seq: u32, order: Ordering) {
        let word = u64::from(len) | (u64::from(seq) << 32);
        self.words[((pos & MASK) / 8) as usize].store(word, order);
    }
}

impl LossyShared {
    /// The payload word of the record at `pos` (Relaxed, as
    /// `bytes::store_shared_words` / `load_shared_words`).
    fn payload(&self, pos: u64) -> &AtomicU64 {
        &self.words[(((pos + RECORD_HEADER) & MASK) / 8) as usize]
    }

    /// `Sender::send` on a lossy ring: `find_room` (`ring::room`, the real
    /// `broadcast::make_room_lossy`), the marker (`ring::prepare`), the
    /// payload, `publish` and the wake-up.
    fn send_all(&self) {
        let (mut tail, mut oldest) = (0, 0);
        for (seq, len) in (0..).zip(LOSSY_LENGTHS) {
            let room = real::room(tail, CAP, len as usize);
            real::broadcast_make_room_lossy(
                self,
                &self.oldest,
                &mut oldest,
                tail,
                room.needs(),
                MAX_MESSAGE,
            )
            .unwrap_or_else(|fault| panic!("the sender judged a correct ring corrupt: {fault}"));
            // `Sender::place`: the marker, before the payload.
            let prepared = real::end_of(room.pos, len as usize);
            real::prepare(self, prepared, seq + 1);
            if len == 8 {
                self.payload(room.pos)
                    .store(payload(seq), Ordering::Relaxed);
            }
            tail = real::publish(
                self,
                &self.tail,
                tail,
                prepared,
                room.pos,
                len as usize,
                seq,
            );
            self.data.wake_if_parked();
        }
    }

    /// `Receiver::recv_into` on a lossy ring until the last message: every
    /// record it takes is whole, and in order.
    fn receive_all(&self) {
        let mut cursor = real::Consumer::new(0);
        let mut last = None;
        loop {
            let record = wait(&self.data, || {
                real::ring_next_record_lossy(
                    &mut cursor,
                    self,
                    MAX_MESSAGE,
                    &self.oldest,
                    |c, head| {
                        c.head = head;
                        real::release(&self.head, head);
                    },
                )
                .unwrap_or_else(|fault| panic!("a correct lossy ring judged corrupt: {fault}"))
            });
            // `Receiver::take`: copy, then look whether it was overrun.
            let value = self.payload(record.pos).load(Ordering::Relaxed);
            if real::broadcast_overrun(&self.oldest, &mut cursor) {
                continue;
            }
            match record.len {
                0 => {}
                8 => assert_eq!(value, payload(record.seq), "took a torn record"),
                len => panic!("took a torn record: {len} bytes"),
            }
            assert!(
                last.is_none_or(|l| record.seq > l),
                "record {} after {last:?}",
                record.seq
            );
            last = Some(record.seq);
            cursor.head = record.end();
            real::release(&self.head, cursor.head);
            if record.seq == LOSSY_LENGTHS.len() as u32 - 1 {
                return;
            }
        }
    }
}

/// A lossy reader racing a sender that laps it takes only whole records,
/// in order, ends with the last one, and never judges the ring corrupt;
/// the sender never waits for it. Covers `broadcast::make_room_lossy` (the
/// walk of `oldest` past the record and marker to be overwritten) and the
/// lossy paths of `ring::Consumer::next_record` and `broadcast::overrun`.
///
/// With the mutation `relaxed_oldest` (`oldest` moved Relaxed, no fence
/// before the overwrite), the reader's copy can see the new lap's payload
/// while its look at `oldest` does not see it move: a torn record taken.
#[test]
fn a_lossy_reader_takes_only_whole_records_in_order() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let sh = Arc::new(LossyShared {
            tail: AtomicU64::new(0),
            oldest: AtomicU64::new(0),
            head: AtomicU64::new(0),
            data: WakeLine::new(),
            words: std::array::from_fn(|i| {
                AtomicU64::new(if i == 0 { u64::from(UNPUBLISHED) } else { 0 })
            }),
        });
        let reader = {
            let sh = Arc::clone(&sh);
            thread::spawn(move || sh.receive_all())
        };
        sh.send_all();
        reader.join().unwrap();
    });
}

/// Runs the checks above with each past bug put back into the real code
/// (`MEMLINK_MUTATION`), in child processes,
/// and checks that loom fails each the way it should: a model checker that
/// cannot fail proves nothing. (In a child, because loom aborts the process
/// when a model deadlocks.)
#[test]
fn loom_finds_the_modelled_bugs() {
    let cases: [(&str, &str, &[&str]); 6] = [
        // The reason for the fence in `park::park_unless`: without it, the
        // last look at the ring (an `Acquire` load) is not in the `SeqCst`
        // order, so it may miss the peer's publication while the peer's
        // `parked` load misses our count (store buffering); then nobody
        // wakes the waiter. C++20 allows it; x86 and ARMv8 happen not to
        // produce it. In the channel the stall would last one
        // `LIVENESS_SLICE` (40 ms); here it is a deadlock.
        (
            "one_to_one_ring_delivers_every_record_once_in_order",
            "park_without_fence",
            &["deadlock"],
        ),
        (
            "sender_lock_takeover_is_exclusive",
            "lock_without_generations",
            &["Causality violation"],
        ),
        (
            "a_joining_broadcast_receiver_is_never_overrun",
            "join_without_token",
            &["read an overwritten record"],
        ),
        // The receiver's load of the record header at its head (the
        // in-band publication; version 2 polled the tail: the mutation was
        // `relaxed_tail_load`) made `Relaxed`: nothing orders the sender's
        // writes of a record before the receiver's reads of it: loom sees
        // the payload read race the write, or the receiver sees stale bytes
        // after the record (the marker not yet visible) and judges the
        // ring corrupt, whichever interleaving it explores first.
        (
            "one_to_one_ring_delivers_every_record_once_in_order",
            "relaxed_header_load",
            &["Causality violation", "judged corrupt"],
        ),
        // The marker after a record written after the record's header: a
        // receiver that takes the record goes on to the next position and
        // may find an earlier lap's header there (record 1's, when record 3
        // is expected): a correct ring judged corrupt.
        (
            "one_to_one_ring_delivers_every_record_once_in_order",
            "marker_after_publish",
            &["judged corrupt"],
        ),
        (
            "a_lossy_reader_takes_only_whole_records_in_order",
            "relaxed_oldest",
            &["torn record"],
        ),
    ];
    for (test, mutation, symptoms) in cases {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env("MEMLINK_MUTATION", mutation)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        let what = format!("{test} with {mutation}");
        assert!(!output.status.success(), "loom passed {what}:\n{text}");
        let symptom = symptoms.iter().find(|symptom| text.contains(**symptom));
        let symptom = symptom
            .unwrap_or_else(|| panic!("loom failed {what}, but not with {symptoms:?}:\n{text}"));
        eprintln!("{what}: loom reports {symptom:?}, as it should");
    }
}
