//! Crash robustness: peers killed with a real `kill -9` at random points,
//! hundreds of times (`MEMLINK_CRASH_ROUNDS`, default 200 in all; a run
//! prints its `MEMLINK_CRASH_SEED`, which replays it).
//!
//! A child is killed after a random number of messages has gone through,
//! never after a sleep, so it dies wherever it happens to be: writing a
//! payload, holding a loan or the senders' lock, publishing, parked on a full
//! or empty ring, attaching. Every test then checks what the survivors see:
//!
//! * every delivered message is whole (each one proves its own integrity,
//!   see `hardening/mod.rs`) and each sender's sequence continues exactly,
//!   with no gap, repeat or reordering;
//! * every blocked call returns within its bound: `Disconnected`, or the
//!   survivors go on, never a hang ([`hardening::BOUND`]; the measured times
//!   are printed);
//! * the channel's name is gone from `/dev/shm` once the survivors let go.

mod hardening;
mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hardening::{assert_gone, decode, encode, Notices, Rng, BOUND};
use memlink::channel::{ChannelOptions, Kind, Receiver, Sender, TryRecvError, TrySendError};
use memlink::{Error, Mapping, View};
use support::{role, unique_name, Child};

/// Offset of the many-to-one senders' lock word (`ProducerLine::send_lock`,
/// see `channel/layout.rs`).
const SEND_LOCK: usize = 128 + 16;
/// Bytes of one receiver's record in a progress mapping.
const PROGRESS_SLOT: usize = 64;

fn options(kind: Kind) -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.kind(kind).capacity(8192).max_message(1000);
    if kind == Kind::ManyToOne {
        o.max_senders(4);
    }
    if kind == Kind::Broadcast {
        o.max_receivers(4);
    }
    o
}

// ---------------------------------------------------------------------------
// Children

/// What a child is told: `name start id seed [extra]`.
struct Args {
    name: String,
    start: u64,
    id: u32,
    seed: u64,
    extra: String,
}

impl Args {
    fn parse(arg: &str) -> Args {
        let mut it = arg.split(' ');
        let mut next = || it.next().unwrap_or_default().to_owned();
        Args {
            name: next(),
            start: next().parse().unwrap_or(0),
            id: next().parse().unwrap_or(0),
            seed: next().parse().unwrap_or(1),
            extra: next(),
        }
    }
}

fn args(name: &str, start: u64, id: u32, seed: u64, extra: &str) -> String {
    format!("{name} {start} {id} {seed} {extra}")
}

fn play(role: &str, arg: &str) {
    let a = Args::parse(arg);
    let mut rng = Rng::new(a.seed);
    match role {
        // Streams messages `start..` of sender `id` until killed, by every
        // means a sender has: copies, loans written in pieces (some dropped
        // uncommitted and redone), and non-blocking tries.
        "sender" => {
            let tx = ChannelOptions::new().open_sender(&a.name).unwrap();
            support::tell_parent("ready");
            stream(tx, a.id, a.start, &mut rng);
        }
        // Sends `start` messages, then dies holding a loan (and so, in a
        // many-to-one channel, the senders' lock).
        "loan-holder" => {
            let mut tx = ChannelOptions::new().open_sender(&a.name).unwrap();
            let mut buf = Vec::new();
            for seq in 0..a.start {
                encode(&mut buf, a.id, seq, rng.len(tx.max_message()));
                tx.send(&buf).unwrap();
            }
            let mut loan = tx.loan(600).unwrap();
            encode(&mut buf, a.id, a.start, 600);
            loan.write_at(0, &buf[..300]).unwrap();
            support::tell_parent("holding");
            support::wait_for_parent();
            unreachable!("killed while holding the loan");
        }
        // Receives and checks every message, recording its progress in the
        // mapping `extra` (slot `id`) so the parent can judge after the kill.
        "receiver" => {
            let progress = Mapping::open(&a.extra).unwrap().view_all().unwrap();
            let rx = ChannelOptions::new().open_receiver(&a.name).unwrap();
            support::tell_parent("ready");
            let lossy = a.start == 1;
            consume(
                rx,
                &progress,
                a.id as usize * PROGRESS_SLOT,
                lossy,
                &mut rng,
            );
            support::tell_parent("done");
        }
        other => panic!("unknown role {other}"),
    }
}

fn stream(mut tx: Sender, id: u32, start: u64, rng: &mut Rng) -> ! {
    let max = tx.max_message();
    let mut buf = Vec::new();
    let mut seq = start;
    loop {
        let len = rng.len(max);
        encode(&mut buf, id, seq, len);
        match rng.below(10) {
            0..=5 => tx.send(&buf).unwrap(),
            // Lossy broadcast lends nothing (readers may be copying the same
            // bytes): there, the last arm sends instead.
            6 | 7 if !tx.is_lossy() => {
                let mut loan = tx.loan(len).unwrap();
                let half = len / 2;
                loan.write_at(0, &buf[..half]).unwrap();
                if rng.below(8) == 0 {
                    // Abandoned: publishes nothing, and `seq` is redone.
                    continue;
                }
                loan.write_at(half, &buf[half..]).unwrap();
                loan.commit();
            }
            _ => match tx.try_send(&buf) {
                Ok(()) => {}
                Err(TrySendError::Full) => tx.send(&buf).unwrap(),
                Err(e) => panic!("try_send: {e}"),
            },
        }
        seq += 1;
    }
}

/// Words of a receiver's progress record.
struct Progress<'a> {
    /// The sequence number after the last message checked.
    next: &'a std::sync::atomic::AtomicU64,
    /// The first sequence number received, plus one (0: none yet).
    first: &'a std::sync::atomic::AtomicU64,
    /// Nonzero when the receiver saw something wrong.
    error: &'a std::sync::atomic::AtomicU64,
    /// 1 once the receiver got `Disconnected` after the last message.
    done: &'a std::sync::atomic::AtomicU64,
}

impl Progress<'_> {
    fn at(view: &View, at: usize) -> Progress<'_> {
        Progress {
            next: view.atomic_u64(at).unwrap(),
            first: view.atomic_u64(at + 8).unwrap(),
            error: view.atomic_u64(at + 16).unwrap(),
            done: view.atomic_u64(at + 24).unwrap(),
        }
    }

    fn reset(&self) {
        for word in [self.next, self.first, self.error, self.done] {
            word.store(0, Ordering::SeqCst);
        }
    }
}

fn consume(mut rx: Receiver, view: &View, at: usize, lossy: bool, rng: &mut Rng) {
    let p = Progress::at(view, at);
    let mut buf = Vec::new();
    let mut expected: Option<u64> = None;
    let fail = |code: u64, what: String| -> ! {
        p.error.store(code, Ordering::SeqCst);
        panic!("receiver: {what}");
    };
    loop {
        // Lossy receivers cannot borrow.
        let how = if lossy {
            rng.below(2) * 2
        } else {
            rng.below(3)
        };
        let got = match how {
            0 => rx.recv_timeout(&mut buf, support::DEADLINE).map(|_| ()),
            1 => rx.recv_borrow_timeout(support::DEADLINE).map(|m| {
                buf = m.to_vec();
                // Released here, before the progress is recorded, as `recv`.
            }),
            _ => match rx.try_recv(&mut buf) {
                Ok(_) => Ok(()),
                Err(TryRecvError::Empty) => continue,
                Err(TryRecvError::Disconnected) => Err(Error::Disconnected {
                    name: rx.name().to_owned(),
                    peer: "sender",
                }),
                Err(TryRecvError::Failed(e)) => Err(e),
            },
        };
        match got {
            Ok(()) => {}
            Err(Error::Disconnected { .. }) => {
                p.done.store(1, Ordering::SeqCst);
                return;
            }
            Err(e) => fail(3, format!("{e}")),
        }
        let seq = match decode(&buf) {
            Ok((_, seq)) => seq,
            Err(what) => fail(1, what),
        };
        let missed = rx.take_missed();
        match expected {
            Some(e) if lossy && (seq < e || seq - e != missed) => fail(
                2,
                format!("expected message {e} or later, got {seq} and {missed} missed"),
            ),
            Some(e) if !lossy && e != seq => fail(2, format!("expected message {e}, got {seq}")),
            Some(_) => {}
            None => p.first.store(seq + 1, Ordering::SeqCst),
        }
        expected = Some(seq + 1);
        p.next.store(seq + 1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// The parent's side

/// Checks each sender's messages: whole, and exactly in sequence.
#[derive(Default)]
struct Streams {
    next: HashMap<u32, u64>,
    total: u64,
}

impl Streams {
    fn check(&mut self, m: &[u8]) {
        let (id, seq) = decode(m).unwrap_or_else(|what| panic!("delivered: {what}"));
        let next = self.next.entry(id).or_insert(0);
        assert_eq!(
            seq, *next,
            "sender {id}: message {seq} delivered out of sequence"
        );
        *next += 1;
        self.total += 1;
    }

    fn next(&self, id: u32) -> u64 {
        self.next.get(&id).copied().unwrap_or(0)
    }
}

/// Receives `count` messages, each within [`BOUND`], by the receiver's
/// every means.
fn receive(rx: &mut Receiver, count: u64, streams: &mut Streams, rng: &mut Rng) {
    let mut buf = Vec::new();
    for _ in 0..count {
        match rng.below(3) {
            0 => {
                rx.recv_timeout(&mut buf, BOUND)
                    .unwrap_or_else(|e| panic!("receive within {BOUND:?}: {e}"));
            }
            1 => {
                let m = rx
                    .recv_borrow_timeout(BOUND)
                    .unwrap_or_else(|e| panic!("receive within {BOUND:?}: {e}"));
                buf = m.to_vec();
            }
            _ => match rx.try_recv(&mut buf) {
                Ok(_) => {}
                Err(TryRecvError::Empty) => {
                    rx.recv_timeout(&mut buf, BOUND)
                        .unwrap_or_else(|e| panic!("receive within {BOUND:?}: {e}"));
                }
                Err(e) => panic!("try_recv: {e}"),
            },
        }
        streams.check(&buf);
    }
}

/// Receives what is left until `Disconnected`, which must come within
/// [`BOUND`] of `since`; returns how long it took.
fn drain(rx: &mut Receiver, streams: &mut Streams, since: Instant) -> Duration {
    let mut buf = Vec::new();
    loop {
        match rx.recv_timeout(&mut buf, BOUND) {
            Ok(_) => streams.check(&buf),
            Err(Error::Disconnected { .. }) => return since.elapsed(),
            Err(e) => panic!("after the kill, expected Disconnected within {BOUND:?}: {e}"),
        }
    }
}

fn progress_mapping(name: &str) -> (String, Mapping, View) {
    let progress = format!("{name}-progress");
    let mapping = Mapping::create(&progress, 4096).unwrap();
    let view = mapping.view_all().unwrap();
    (progress, mapping, view)
}

// ---------------------------------------------------------------------------
// The tests

/// One-to-one, the sender killed: a fresh sender process continues the
/// sequence each round on the same channel; the receiver gets every
/// published message whole and in order, then `Disconnected`.
#[test]
fn a_sender_killed_at_random_points_never_delivers_a_torn_or_repeated_message() {
    const TEST: &str = "a_sender_killed_at_random_points_never_delivers_a_torn_or_repeated_message";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let mut rng = Rng::from_env(TEST);
    let name = unique_name("crash-tx");
    let mut rx = options(Kind::OneToOne).create_receiver(&name).unwrap();
    let mut streams = Streams::default();
    let mut notices = Notices::default();
    let rounds = hardening::rounds(40);
    let started = Instant::now();
    for round in 0..rounds {
        let arg = args(&name, streams.next(0), 0, rng.next(), "");
        let mut child = Child::spawn(TEST, "sender", &arg);
        // One round in eight kills the child as soon as it exists: during
        // start-up or attach, before it has sent anything.
        if round == 0 || rng.below(8) != 0 {
            child.expect("ready");
            let count = rng.below(1500);
            receive(&mut rx, count, &mut streams, &mut rng);
        }
        child.kill9();
        notices.add(drain(&mut rx, &mut streams, Instant::now()));
    }
    eprintln!(
        "{rounds} senders killed, {} messages checked in {:?}",
        streams.total,
        started.elapsed()
    );
    notices.report("receiver");
    drop(rx);
    assert_gone(&name);
}

/// One-to-one, the receiver killed: the blocked sender gets `Disconnected`
/// in time; the next receiver continues where the killed one stopped (at
/// most the one message it took but had not recorded is not seen again), and
/// no receiver ever saw a torn or out-of-sequence message.
#[test]
fn a_receiver_killed_at_random_points_releases_the_sender_and_loses_nothing() {
    const TEST: &str = "a_receiver_killed_at_random_points_releases_the_sender_and_loses_nothing";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let mut rng = Rng::from_env(TEST);
    let name = unique_name("crash-rx");
    let (progress_name, progress_mapping, view) = progress_mapping(&name);
    let p = Progress::at(&view, 0);
    let mut tx = options(Kind::OneToOne).create_sender(&name).unwrap();
    let mut notices = Notices::default();
    let mut sent = 0u64;
    // The sequence number after the last message a receiver recorded.
    let mut recorded = 0u64;
    let mut buf = Vec::new();
    let rounds = hardening::rounds(25);
    for _ in 0..rounds {
        p.reset();
        let arg = args(&name, 0, 0, rng.next(), &progress_name);
        let mut child = Child::spawn(TEST, "receiver", &arg);
        child.expect("ready");
        for _ in 0..rng.below(2000) {
            encode(&mut buf, 0, sent, rng.len(tx.max_message()));
            tx.send_timeout(&buf, BOUND)
                .unwrap_or_else(|e| panic!("send to a live receiver: {e}"));
            sent += 1;
        }
        child.kill9();
        let killed = Instant::now();
        // Keep sending: the ring fills, and the sender must learn that
        // nobody is left to empty it.
        loop {
            encode(&mut buf, 0, sent, rng.len(tx.max_message()));
            match tx.send_timeout(&buf, BOUND) {
                Ok(()) => sent += 1,
                Err(Error::Disconnected { .. }) => break,
                Err(e) => panic!("after the kill, expected Disconnected: {e}"),
            }
        }
        notices.add(killed.elapsed());
        assert_eq!(
            p.error.load(Ordering::SeqCst),
            0,
            "the receiver saw a bad message"
        );
        let first = p.first.load(Ordering::SeqCst);
        if first != 0 {
            let first = first - 1;
            assert!(
                first == recorded || first == recorded + 1,
                "a receiver started at message {first}; the one before it recorded {recorded}"
            );
            recorded = p.next.load(Ordering::SeqCst);
        }
        assert!(recorded <= sent);
    }
    // A last receiver takes everything left, exactly in sequence.
    p.reset();
    let mut child = Child::spawn(
        TEST,
        "receiver",
        &args(&name, 0, 0, rng.next(), &progress_name),
    );
    child.expect("ready");
    drop(tx);
    child.expect("done");
    child.finish();
    assert_eq!(p.error.load(Ordering::SeqCst), 0);
    if sent > recorded + 1 {
        let first = p.first.load(Ordering::SeqCst) - 1;
        assert!(first == recorded || first == recorded + 1);
        assert_eq!(p.next.load(Ordering::SeqCst), sent, "messages lost");
    }
    eprintln!("{rounds} receivers killed, {sent} messages sent");
    notices.report("sender");
    drop(view);
    drop(progress_mapping);
    assert_gone(&name);
    assert_gone(&progress_name);
}

/// Many-to-one: one of several sender processes is killed at a random point
/// (and every third round while it provably holds the senders' lock, in the
/// middle of a loan); the others take the lock over and go on, and every
/// sender's messages arrive whole and exactly in sequence.
#[test]
fn a_killed_sender_of_many_never_blocks_or_corrupts_the_others() {
    const TEST: &str = "a_killed_sender_of_many_never_blocks_or_corrupts_the_others";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let mut rng = Rng::from_env(TEST);
    let name = unique_name("crash-m2o");
    let mut rx = options(Kind::ManyToOne).create_receiver(&name).unwrap();
    let raw = Mapping::open(&name).unwrap().view(0, 4096).unwrap();
    let mut streams = Streams::default();
    let mut next_id = 1u32;
    let spawn = |rng: &mut Rng, next_id: &mut u32| {
        let id = *next_id;
        *next_id += 1;
        let mut child = Child::spawn(TEST, "sender", &args(&name, 0, id, rng.next(), ""));
        child.expect("ready");
        (id, child)
    };
    let mut senders: Vec<(u32, Child)> = (0..3).map(|_| spawn(&mut rng, &mut next_id)).collect();
    let mut holders = Vec::new();
    let rounds = hardening::rounds(20);
    for round in 0..rounds {
        receive(&mut rx, rng.below(400), &mut streams, &mut rng);
        if round % 3 == 2 {
            let id = next_id;
            next_id += 1;
            let before = rng.below(20);
            let mut child = Child::spawn(
                TEST,
                "loan-holder",
                &args(&name, before, id, rng.next(), ""),
            );
            // The ring may be full: keep it moving until the child says it
            // holds its loan.
            let mut buf = Vec::new();
            let deadline = Instant::now() + support::DEADLINE;
            loop {
                match child.recv_timeout(Duration::ZERO) {
                    Some(line) => {
                        assert_eq!(line, "holding");
                        break;
                    }
                    None => assert!(
                        Instant::now() < deadline,
                        "the loan holder never got its loan"
                    ),
                }
                match rx.recv_timeout(&mut buf, Duration::from_millis(1)) {
                    Ok(_) => streams.check(&buf),
                    Err(Error::Timeout { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            assert_ne!(raw.load_u32(SEND_LOCK, Ordering::SeqCst).unwrap(), 0);
            child.kill9();
            holders.push((id, before));
        } else {
            let victim = rng.below(senders.len() as u64) as usize;
            senders.swap_remove(victim).1.kill9();
            senders.push(spawn(&mut rng, &mut next_id));
        }
        // The survivors go on, each message within the bound.
        receive(&mut rx, 50, &mut streams, &mut rng);
    }
    for (_, child) in senders.drain(..) {
        child.kill9();
    }
    let mut notices = Notices::default();
    notices.add(drain(&mut rx, &mut streams, Instant::now()));
    for (id, count) in holders {
        assert_eq!(
            streams.next(id),
            count,
            "lock holder {id}: committed messages lost"
        );
    }
    eprintln!(
        "{rounds} senders of many killed ({} holding the lock), {} messages checked",
        rounds / 3,
        streams.total
    );
    notices.report("receiver");
    drop(raw);
    drop(rx);
    assert_gone(&name);
}

/// Broadcast, receivers killed at random points: the sender is never held
/// back by a dead receiver, the surviving receivers (this process among
/// them) get every message in sequence; at the end the sender is killed
/// and every receiver drains and gets `Disconnected`, having seen the same
/// last message.
#[test]
fn broadcast_survives_killed_receivers_and_a_killed_sender() {
    broadcast(
        false,
        "broadcast_survives_killed_receivers_and_a_killed_sender",
    );
}

/// The same with lossy receivers: sequence numbers only go up, and what a
/// receiver skipped is exactly what it is told it missed.
#[test]
fn lossy_broadcast_survives_killed_receivers_and_a_killed_sender() {
    broadcast(
        true,
        "lossy_broadcast_survives_killed_receivers_and_a_killed_sender",
    );
}

fn broadcast(lossy: bool, test: &str) {
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let mut rng = Rng::from_env(test);
    let name = unique_name(if lossy { "crash-lossy" } else { "crash-bcast" });
    let (progress_name, progress_mapping, view) = progress_mapping(&name);
    let mut rx = options(Kind::Broadcast)
        .lossy(lossy)
        .create_receiver(&name)
        .unwrap();
    // Children are told "lossy" through the start field.
    let role_arg =
        |slot: u32, rng: &mut Rng| args(&name, u64::from(lossy), slot, rng.next(), &progress_name);
    let mut sender = Child::spawn(test, "sender", &args(&name, 0, 0, rng.next(), ""));
    sender.expect("ready");
    let mut receivers: Vec<Child> = (0..2)
        .map(|slot| {
            Progress::at(&view, slot * PROGRESS_SLOT).reset();
            let mut c = Child::spawn(test, "receiver", &role_arg(slot as u32, &mut rng));
            c.expect("ready");
            c
        })
        .collect();
    let mut checker = Ordered::default();
    let mut buf = Vec::new();
    let rounds = hardening::rounds(if lossy { 5 } else { 10 });
    for _ in 0..rounds {
        for _ in 0..rng.below(600) + 1 {
            rx.recv_timeout(&mut buf, BOUND)
                .unwrap_or_else(|e| panic!("receive within {BOUND:?}: {e}"));
            checker.check(&buf, rx.take_missed(), lossy);
        }
        let slot = rng.below(2) as usize;
        let p = Progress::at(&view, slot * PROGRESS_SLOT);
        receivers.remove(slot).kill9();
        assert_eq!(
            p.error.load(Ordering::SeqCst),
            0,
            "a receiver saw a bad message"
        );
        p.reset();
        let mut fresh = Child::spawn(test, "receiver", &role_arg(slot as u32, &mut rng));
        fresh.expect("ready");
        receivers.insert(slot, fresh);
    }
    sender.kill9();
    let killed = Instant::now();
    loop {
        match rx.recv_timeout(&mut buf, BOUND) {
            Ok(_) => checker.check(&buf, rx.take_missed(), lossy),
            Err(Error::Disconnected { .. }) => break,
            Err(e) => panic!("after the sender's kill: {e}"),
        }
    }
    let mut notices = Notices::default();
    notices.add(killed.elapsed());
    for (slot, child) in receivers.into_iter().enumerate() {
        let mut child = child;
        child.expect("done");
        child.finish();
        let p = Progress::at(&view, slot * PROGRESS_SLOT);
        assert_eq!(
            p.error.load(Ordering::SeqCst),
            0,
            "a receiver saw a bad message"
        );
        assert_eq!(p.done.load(Ordering::SeqCst), 1);
        // A receiver that attached after the last message has none.
        if !lossy && p.first.load(Ordering::SeqCst) != 0 {
            assert_eq!(
                p.next.load(Ordering::SeqCst),
                checker.next,
                "receiver {slot} did not get every message"
            );
        }
    }
    eprintln!(
        "broadcast (lossy: {lossy}): {rounds} receivers killed, {} messages checked here, {} missed",
        checker.count, checker.missed
    );
    notices.report("broadcast receiver");
    drop(rx);
    drop(view);
    drop(progress_mapping);
    assert_gone(&name);
    assert_gone(&progress_name);
}

/// Checks one broadcast receiver's stream: whole messages, consecutive
/// (non-lossy) or increasing with the gaps told (lossy).
#[derive(Default)]
struct Ordered {
    next: u64,
    started: bool,
    count: u64,
    missed: u64,
}

impl Ordered {
    fn check(&mut self, m: &[u8], missed: u64, lossy: bool) {
        let (_, seq) = decode(m).unwrap_or_else(|what| panic!("delivered: {what}"));
        if self.started {
            if lossy {
                assert!(seq >= self.next, "message {seq} after {}", self.next - 1);
                assert_eq!(
                    seq - self.next,
                    missed,
                    "skipped {} messages, told {missed}",
                    seq - self.next
                );
            } else {
                assert_eq!(seq, self.next, "message {seq} out of sequence");
            }
        }
        self.missed += missed;
        self.started = true;
        self.next = seq + 1;
        self.count += 1;
    }
}

/// A lossy receiver is told it missed nothing when a sender that left (or
/// was killed) is replaced and nothing was overwritten: record numbers
/// continue across senders (`ProducerLine::next_seq`).
#[test]
fn a_replaced_lossy_sender_does_not_make_receivers_miss_phantom_messages() {
    let name = unique_name("lossy-restart");
    let mut rx = options(Kind::Broadcast)
        .lossy(true)
        .create_receiver(&name)
        .unwrap();
    let mut buf = Vec::new();
    let mut first = Sender::open(&name).unwrap();
    for seq in 0..5 {
        encode(&mut buf, 0, seq, 100);
        first.send(&buf).unwrap();
        rx.recv_timeout(&mut buf, BOUND).unwrap();
    }
    drop(first);
    let mut second = Sender::open(&name).unwrap();
    encode(&mut buf, 0, 5, 100);
    second.send(&buf).unwrap();
    rx.recv_timeout(&mut buf, BOUND).unwrap();
    assert_eq!(decode(&buf).unwrap().1, 5);
    assert_eq!(rx.take_missed(), 0, "nothing was overwritten");
    drop((second, rx));
    assert_gone(&name);
}
