//! Channels: ordering, whole messages, zero-copy, all three kinds, blocking
//! and timeouts, disconnection (graceful and `kill -9`), between threads and
//! between real processes.

mod support;

use std::time::{Duration, Instant};

use memlink::channel::{
    ChannelOptions, Kind, Receiver, Sender, TryRecvError, TrySendError, WaitStrategy,
};
use memlink::{Error, Mapping};
use support::{role, unique_name, Child, Cleanup};

/// A message that carries its own check: sequence number, length, and a
/// checksum over a pattern derived from both.
fn message(seq: u64, len: usize) -> Vec<u8> {
    let len = len.max(16);
    let mut m = vec![0u8; len];
    m[..8].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in m[16..].iter_mut().enumerate() {
        *b = (seq as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    let sum: u64 = m[16..].iter().map(|&b| u64::from(b)).sum();
    m[8..16].copy_from_slice(&sum.to_le_bytes());
    m
}

/// Checks a message made by [`message`] and returns its sequence number.
fn check(m: &[u8]) -> u64 {
    assert!(m.len() >= 16, "short message: {} bytes", m.len());
    let seq = u64::from_le_bytes(m[..8].try_into().unwrap());
    let sum: u64 = m[16..].iter().map(|&b| u64::from(b)).sum();
    assert_eq!(
        sum,
        u64::from_le_bytes(m[8..16].try_into().unwrap()),
        "torn message {seq}"
    );
    for (i, &b) in m[16..].iter().enumerate() {
        assert_eq!(b, (seq as usize).wrapping_mul(31).wrapping_add(i) as u8);
    }
    seq
}

fn small() -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.capacity(4096).max_message(1000);
    o
}

#[test]
fn messages_arrive_whole_and_in_order_across_wrap_arounds() {
    let name = unique_name("order");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    let count = 5_000u64;
    let sender = std::thread::spawn(move || {
        for seq in 0..count {
            tx.send(&message(seq, (seq as usize * 37) % 1000)).unwrap();
        }
    });
    let mut buf = Vec::new();
    for expected in 0..count {
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        assert_eq!(check(&buf), expected);
        assert_eq!(buf.len(), ((expected as usize * 37) % 1000).max(16));
    }
    sender.join().unwrap();
}

#[test]
fn empty_messages_are_messages() {
    let name = unique_name("empty");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    tx.send(b"").unwrap();
    tx.send(b"x").unwrap();
    assert_eq!(rx.recv().unwrap(), b"");
    assert_eq!(rx.recv().unwrap(), b"x");
}

#[test]
fn try_send_reports_full_and_try_recv_empty() {
    let name = unique_name("full");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    let mut buf = Vec::new();
    assert!(matches!(rx.try_recv(&mut buf), Err(TryRecvError::Empty)));
    let mut sent = 0;
    loop {
        match tx.try_send(&[7u8; 500]) {
            Ok(()) => sent += 1,
            Err(TrySendError::Full) => break,
            Err(e) => panic!("{e}"),
        }
    }
    // 4096 bytes of ring, 512-byte records, and 8 bytes after the last
    // for the "unpublished" marker where the next one goes (layout v3).
    assert_eq!(sent, 7);
    assert_eq!(rx.try_recv(&mut buf).unwrap(), 500);
    tx.try_send(&[8u8; 500]).unwrap();
    assert!(matches!(tx.try_send(&[9u8; 500]), Err(TrySendError::Full)));
    let started = Instant::now();
    assert!(matches!(
        tx.send_timeout(&[9u8; 500], Duration::from_millis(50)),
        Err(Error::Timeout { .. })
    ));
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[test]
fn oversized_messages_are_refused_without_losing_anything() {
    let name = unique_name("large");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    tx.send(b"before").unwrap();
    match tx.send(&[0u8; 1001]) {
        Err(Error::MessageTooLarge { len, max, .. }) => assert_eq!((len, max), (1001, 1000)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(tx.loan(5000), Err(Error::MessageTooLarge { .. })));
    tx.send(b"after").unwrap();
    assert_eq!(rx.recv().unwrap(), b"before");
    assert_eq!(rx.recv().unwrap(), b"after");
}

#[test]
fn recv_times_out_when_nothing_comes() {
    let name = unique_name("timeout");
    let _c = Cleanup(name.clone());
    let _tx = small().create_sender(&name).unwrap();
    let rx = Receiver::open(&name).unwrap();
    // One-to-one: the receiver slot is taken.
    assert!(matches!(
        Receiver::open(&name),
        Err(Error::NoFreeSlot { .. })
    ));
    drop(rx);
    let mut buf = Vec::new();
    for strategy in [
        WaitStrategy::Spin,
        WaitStrategy::Park,
        WaitStrategy::default(),
    ] {
        let mut rx = small().wait(strategy).open_receiver(&name).unwrap();
        let started = Instant::now();
        match rx.recv_timeout(&mut buf, Duration::from_millis(30)) {
            Err(Error::Timeout { .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}

#[test]
fn loans_publish_on_commit_only() {
    let name = unique_name("loan");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    {
        let mut loan = tx.loan(100).unwrap();
        loan.write_at(0, b"abandoned").unwrap();
        // dropped without commit
    }
    let mut loan = tx.loan(100).unwrap();
    assert!(matches!(
        loan.write_at(95, b"123456"),
        Err(Error::OutOfRange { .. })
    ));
    loan.write_at(0, b"kept").unwrap();
    loan.truncate(4);
    loan.commit();
    let mut buf = Vec::new();
    assert_eq!(rx.try_recv(&mut buf).unwrap(), 4);
    assert_eq!(buf, b"kept");
    assert!(matches!(rx.try_recv(&mut buf), Err(TryRecvError::Empty)));
}

#[test]
fn a_borrowed_message_holds_its_space_until_released() {
    let name = unique_name("borrow");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    // A full ring: 7 records of 512 bytes and the marker after them.
    for i in 0..7u8 {
        tx.send(&[i; 500]).unwrap();
    }
    {
        let message = rx.try_recv_borrow().unwrap();
        assert_eq!(message.len(), 500);
        let mut first = [0u8; 3];
        message.read_at(10, &mut first).unwrap();
        assert_eq!(first, [0, 0, 0]);
        // SAFETY: our own sender is the only writer and it is not sending.
        assert!(unsafe { message.as_slice() }.iter().all(|&b| b == 0));
        // Still borrowed: no room yet.
        assert!(matches!(tx.try_send(&[9; 500]), Err(TrySendError::Full)));
    }
    tx.try_send(&[9; 500]).unwrap();
    for i in 1..7u8 {
        assert_eq!(rx.recv().unwrap(), vec![i; 500]);
    }
    assert_eq!(rx.recv().unwrap(), vec![9; 500]);
}

#[test]
fn a_dropped_sender_disconnects_after_its_messages() {
    let name = unique_name("drop-tx");
    let _c = Cleanup(name.clone());
    let mut rx = small().create_receiver(&name).unwrap();
    let mut buf = Vec::new();
    // No sender yet: that is "not yet", not "disconnected".
    assert!(matches!(rx.try_recv(&mut buf), Err(TryRecvError::Empty)));
    let mut tx = Sender::open(&name).unwrap();
    tx.send(b"last words").unwrap();
    drop(tx);
    assert_eq!(rx.recv().unwrap(), b"last words");
    match rx.recv_timeout(&mut buf, support::DEADLINE) {
        Err(Error::Disconnected { peer, .. }) => assert_eq!(peer, "sender"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        rx.try_recv(&mut buf),
        Err(TryRecvError::Disconnected)
    ));
    // A new sender reconnects the channel.
    let mut tx = Sender::open(&name).unwrap();
    tx.send(b"again").unwrap();
    assert_eq!(rx.recv().unwrap(), b"again");
}

#[test]
fn a_dropped_receiver_disconnects_the_sender() {
    let name = unique_name("drop-rx");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    // Before any receiver, sending buffers.
    tx.send(b"early").unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    assert_eq!(rx.recv().unwrap(), b"early");
    drop(rx);
    assert!(matches!(tx.send(b"x"), Err(Error::Disconnected { .. })));
    assert!(matches!(tx.try_send(b"x"), Err(TrySendError::Disconnected)));
}

#[test]
fn a_blocked_receiver_wakes_when_the_sender_leaves() {
    let name = unique_name("wake-leave");
    let _c = Cleanup(name.clone());
    let mut rx = small()
        .wait(WaitStrategy::Park)
        .create_receiver(&name)
        .unwrap();
    let tx = Sender::open(&name).unwrap();
    let leaver = std::thread::spawn(move || {
        std::thread::yield_now();
        drop(tx);
    });
    let mut buf = Vec::new();
    assert!(matches!(
        rx.recv_timeout(&mut buf, support::DEADLINE),
        Err(Error::Disconnected { .. })
    ));
    leaver.join().unwrap();
}

#[test]
fn many_senders_one_receiver_keep_each_senders_order() {
    let name = unique_name("mpsc");
    let _c = Cleanup(name.clone());
    let mut rx = small()
        .kind(Kind::ManyToOne)
        .max_senders(4)
        .create_receiver(&name)
        .unwrap();
    let per_sender = 2_000u64;
    let senders: Vec<_> = (0..4u64)
        .map(|id| {
            let mut tx = Sender::open(&name).unwrap();
            std::thread::spawn(move || {
                for i in 0..per_sender {
                    tx.send(&message(id << 32 | i, 16 + (i as usize % 200)))
                        .unwrap();
                }
            })
        })
        .collect();
    // A fifth sender finds no slot.
    assert!(matches!(Sender::open(&name), Err(Error::NoFreeSlot { .. })));
    let mut next = [0u64; 4];
    let mut buf = Vec::new();
    for _ in 0..4 * per_sender {
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        let seq = check(&buf);
        let (id, i) = ((seq >> 32) as usize, seq & 0xffff_ffff);
        assert_eq!(i, next[id], "sender {id} out of order");
        next[id] += 1;
    }
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(next, [per_sender; 4]);
}

#[test]
fn broadcast_delivers_every_message_to_every_receiver() {
    let name = unique_name("bcast");
    let _c = Cleanup(name.clone());
    let mut options = small();
    options.kind(Kind::Broadcast).max_receivers(3);
    let mut tx = options.create_sender(&name).unwrap();
    let receivers: Vec<Receiver> = (0..3).map(|_| Receiver::open(&name).unwrap()).collect();
    assert!(matches!(
        Receiver::open(&name),
        Err(Error::NoFreeSlot { .. })
    ));
    let count = 3_000u64;
    let readers: Vec<_> = receivers
        .into_iter()
        .map(|mut rx| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                for expected in 0..count {
                    rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
                    assert_eq!(check(&buf), expected);
                }
            })
        })
        .collect();
    for seq in 0..count {
        tx.send_timeout(&message(seq, seq as usize % 300), support::DEADLINE)
            .unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
}

/// A broadcast sender that takes over from one that left must count the
/// readers' unread messages too: the ring stays full, nothing is overwritten.
#[test]
fn a_restarted_broadcast_sender_keeps_what_readers_have_not_read() {
    let name = unique_name("bcast-restart");
    let _c = Cleanup(name.clone());
    let mut options = small();
    options.kind(Kind::Broadcast).max_receivers(2);
    let mut tx = options.create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    let mut sent = 0u64;
    while tx.try_send(&message(sent, 100)).is_ok() {
        sent += 1;
    }
    assert!(sent > 10, "only {sent} fit");
    drop(tx);
    let mut tx = Sender::open(&name).unwrap();
    assert!(
        matches!(tx.try_send(&message(sent, 100)), Err(TrySendError::Full)),
        "a full ring took another message"
    );
    let mut buf = Vec::new();
    for expected in 0..sent {
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        assert_eq!(check(&buf), expected);
    }
    tx.send_timeout(&message(sent, 100), support::DEADLINE)
        .unwrap();
    rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
    assert_eq!(check(&buf), sent);
}

/// A broadcast receiver caught while joining (its head only a lower bound,
/// maybe more than a ring behind) holds the sender back, but is no
/// corruption; one that died there is forgotten.
#[test]
fn a_broadcast_receiver_that_died_joining_is_no_corruption() {
    // Control, one sender slot, then receiver slot 1: head, then `active`.
    const SLOT_1: usize = 512 + 128 + 128;
    let name = unique_name("bcast-joining");
    let _c = Cleanup(name.clone());
    let mut options = small();
    options.kind(Kind::Broadcast).max_receivers(2);
    let mut tx = options.create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    let mut buf = Vec::new();
    for seq in 0..100 {
        tx.send(&message(seq, 100)).unwrap();
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
    }
    // Slot 1: joining (an even token) at position 0, a few rings behind,
    // and nobody holding the slot.
    let raw = Mapping::open(&name).unwrap().view_all().unwrap();
    raw.write_at(SLOT_1, &0u64.to_ne_bytes()).unwrap();
    raw.write_at(SLOT_1 + 8, &2u32.to_ne_bytes()).unwrap();
    for seq in 100..200 {
        tx.send_timeout(&message(seq, 100), support::DEADLINE)
            .unwrap();
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        assert_eq!(check(&buf), seq);
    }
}

/// Many-to-one: a sender waiting for another to let go of the senders' lock
/// sleeps rather than burning a core the receiver may need, and is woken
/// when the lock is let go.
#[cfg(target_os = "linux")]
#[test]
fn many_to_one_senders_sleep_while_another_holds_the_lock() {
    use rustix::time::{clock_gettime, ClockId};
    let name = unique_name("m2o-sleep");
    let _c = Cleanup(name.clone());
    let mut options = small();
    options.kind(Kind::ManyToOne).max_senders(2);
    let mut holder = options.create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    let mut waiter = Sender::open(&name).unwrap();
    let mut loan = holder.loan(5).unwrap();
    let wait = Duration::from_millis(300);
    let (result, cpu) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let cpu = || {
                    let t = clock_gettime(ClockId::ThreadCPUTime);
                    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
                };
                let before = cpu();
                let result = waiter.send_timeout(b"waiter", wait);
                (result, cpu() - before)
            })
            .join()
            .unwrap()
    });
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(
        cpu < wait / 3,
        "waiting {wait:?} for the lock used {cpu:?} of CPU"
    );
    // Woken when the holder lets go.
    std::thread::scope(|scope| {
        let blocked = scope.spawn(|| waiter.send_timeout(b"waiter", support::DEADLINE));
        loan.write_at(0, b"first").unwrap();
        loan.commit();
        blocked.join().unwrap().unwrap();
    });
    assert_eq!(rx.recv().unwrap(), b"first");
    assert_eq!(rx.recv().unwrap(), b"waiter");
}

/// Many-to-one: a sender that died holding the senders' lock left its word
/// there; once a new sender has claimed the dead one's slot, the word must
/// still be recognised as dead (by its generation), not taken for the new
/// sender's.
#[test]
fn a_dead_senders_lock_is_taken_over_even_after_its_slot_was_reused() {
    const SEND_LOCK: usize = 144;
    let name = unique_name("m2o-stale");
    let _c = Cleanup(name.clone());
    let mut options = small();
    options.kind(Kind::ManyToOne).max_senders(2);
    let first = options.create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    drop(first);
    // The first sender's word: generation 1, slot 0 (+1).
    let stale_word: u32 = (1 << 16) | 1;
    let _reuser = Sender::open(&name).unwrap();
    let mut other = Sender::open(&name).unwrap();
    let raw = Mapping::open(&name).unwrap().view_all().unwrap();
    raw.write_at(SEND_LOCK, &stale_word.to_ne_bytes()).unwrap();
    other
        .send_timeout(b"through", Duration::from_secs(5))
        .expect("the dead holder's lock was not taken over");
    assert_eq!(
        rx.recv_timeout(&mut Vec::new(), support::DEADLINE).unwrap(),
        7
    );
}

#[test]
fn lossy_broadcast_readers_skip_what_they_missed_and_are_told() {
    let name = unique_name("lossy");
    let _c = Cleanup(name.clone());
    let mut options = small();
    options.kind(Kind::Broadcast).lossy(true);
    let mut tx = options.create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    assert!(matches!(
        rx.try_recv_borrow(),
        Err(TryRecvError::Failed(Error::Unsupported { .. }))
    ));
    // The sender never waits: 100 messages of ~200 bytes overrun 4 KiB.
    for seq in 0..100u64 {
        tx.try_send(&message(seq, 200)).unwrap();
    }
    let mut buf = Vec::new();
    let mut received = Vec::new();
    while rx.try_recv(&mut buf).is_ok() {
        received.push(check(&buf));
    }
    assert!(
        !received.is_empty() && received.len() < 100,
        "{}",
        received.len()
    );
    assert_eq!(*received.last().unwrap(), 99, "the newest survive");
    assert!(
        received.windows(2).all(|w| w[1] == w[0] + 1),
        "{received:?}"
    );
    // Missed: those before the first one we got.
    assert_eq!(
        rx.take_missed(),
        0,
        "joined before the first: nothing counted yet"
    );
    // Now overrun a reader that has already read something.
    tx.try_send(&message(100, 200)).unwrap();
    rx.recv().unwrap();
    for seq in 101..200u64 {
        tx.try_send(&message(seq, 200)).unwrap();
    }
    let first = {
        rx.recv().unwrap();
        check(&rx.recv().unwrap())
    };
    assert!(first > 101);
    assert_eq!(rx.take_missed(), first - 1 - 101);
}

#[test]
fn a_plain_mapping_is_not_a_channel() {
    let name = unique_name("notchan");
    let _c = Cleanup(name.clone());
    let _plain = Mapping::create(&name, 65536).unwrap();
    match Receiver::open(&name) {
        Err(Error::WrongKind { expected, .. }) => assert_eq!(expected, "memlink channel"),
        other => panic!("{other:?}"),
    }
    let tiny = unique_name("tiny");
    let _c2 = Cleanup(tiny.clone());
    let _t = Mapping::create(&tiny, 10).unwrap();
    assert!(matches!(Sender::open(&tiny), Err(Error::WrongKind { .. })));
    assert!(matches!(
        Sender::open(&unique_name("nochan")),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn bad_geometry_is_refused_at_creation() {
    let name = unique_name("geom");
    let _c = Cleanup(name.clone());
    for (capacity, max_message) in [(1000, 100), (4096, 2041), (128, 8), (1 << 41, 100)] {
        let mut o = ChannelOptions::new();
        o.capacity(capacity).max_message(max_message);
        assert!(
            matches!(o.create_sender(&name), Err(Error::InvalidArgument { .. })),
            "{capacity} {max_message}"
        );
    }
    assert!(matches!(
        ChannelOptions::new().lossy(true).create_sender(&name),
        Err(Error::InvalidArgument { .. })
    ));
}

// ---------------------------------------------------------------------------
// Between processes

fn play(role: &str, name: &str) {
    match role {
        // Sends numbered, checksummed messages forever (until killed).
        "stream" => {
            let mut tx = Sender::open(name).unwrap();
            support::tell_parent("ready");
            let mut seq = 0u64;
            loop {
                tx.send(&message(seq, 16 + (seq as usize * 13) % 900))
                    .unwrap();
                seq += 1;
            }
        }
        // Answers every message with the same bytes, until disconnected.
        "echo" => {
            let mut rx = ChannelOptions::new()
                .open_receiver(&format!("{name}-req"))
                .unwrap();
            let mut tx = Sender::open(&format!("{name}-rep")).unwrap();
            support::tell_parent("ready");
            let mut buf = Vec::new();
            while rx.recv_into(&mut buf).is_ok() {
                tx.send(&buf).unwrap();
            }
        }
        // Attaches as a receiver and waits to be killed.
        "idle-receiver" => {
            let _rx = Receiver::open(name).unwrap();
            support::tell_parent("ready");
            support::wait_for_parent();
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn request_and_reply_between_processes() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("echo");
    let (req, rep) = (format!("{name}-req"), format!("{name}-rep"));
    let (_c1, _c2) = (Cleanup(req.clone()), Cleanup(rep.clone()));
    let mut tx = small().create_sender(&req).unwrap();
    let mut rx = small()
        .wait(WaitStrategy::Park)
        .create_receiver(&rep)
        .unwrap();
    let mut child = Child::spawn("request_and_reply_between_processes", "echo", &name);
    child.expect("ready");
    let mut buf = Vec::new();
    for seq in 0..500u64 {
        let m = message(seq, seq as usize % 800);
        tx.send(&m).unwrap();
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        assert_eq!(buf, m);
    }
    drop(tx);
    child.finish();
}

#[test]
fn a_sender_killed_mid_stream_leaves_only_whole_messages() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("kill-tx");
    let _c = Cleanup(name.clone());
    let mut rx = small().create_receiver(&name).unwrap();
    let mut child = Child::spawn(
        "a_sender_killed_mid_stream_leaves_only_whole_messages",
        "stream",
        &name,
    );
    child.expect("ready");
    let mut buf = Vec::new();
    for expected in 0..2_000u64 {
        rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
        assert_eq!(check(&buf), expected);
    }
    child.kill9();
    let killed = Instant::now();
    // Whatever was published before the kill arrives whole and in order;
    // then the receiver learns that the sender is gone.
    let mut expected = 2_000u64;
    loop {
        match rx.recv_timeout(&mut buf, support::DEADLINE) {
            Ok(_) => {
                assert_eq!(check(&buf), expected);
                expected += 1;
            }
            Err(Error::Disconnected { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let noticed = killed.elapsed();
    assert!(
        noticed < Duration::from_secs(2),
        "disconnection noticed after {noticed:?}"
    );
    eprintln!("disconnection noticed {noticed:?} after kill -9");
}

#[test]
fn a_sender_blocked_on_a_killed_receiver_is_released() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("kill-rx");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut child = Child::spawn(
        "a_sender_blocked_on_a_killed_receiver_is_released",
        "idle-receiver",
        &name,
    );
    child.expect("ready");
    while tx.try_send(&[1u8; 500]).is_ok() {}
    child.kill9();
    match tx.send_timeout(&[1u8; 500], support::DEADLINE) {
        Err(Error::Disconnected { peer, .. }) => assert_eq!(peer, "receiver"),
        other => panic!("{other:?}"),
    }
}

mod property {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

        /// Whatever the sizes, the ring size and the mix of copy and
        /// zero-copy calls: every message arrives once, whole, in order.
        #[test]
        fn random_sizes_arrive_in_order_without_loss_or_duplication(
            capacity_log2 in 8u32..14,
            sizes in proptest::collection::vec(any::<u16>(), 1..400),
            zero_copy in any::<bool>(),
        ) {
            let capacity = 1u64 << capacity_log2;
            let max_message = (capacity / 2 - 8) as u32;
            let name = unique_name("prop");
            let _c = Cleanup(name.clone());
            let mut options = ChannelOptions::new();
            options.capacity(capacity).max_message(max_message);
            let mut tx = options.create_sender(&name).unwrap();
            let mut rx = Receiver::open(&name).unwrap();
            let lens: Vec<usize> = sizes
                .iter()
                .map(|&s| 16 + usize::from(s) % (max_message as usize - 15))
                .collect();
            let expected = lens.clone();
            let sender = std::thread::spawn(move || {
                for (seq, len) in lens.into_iter().enumerate() {
                    let m = message(seq as u64, len);
                    if zero_copy {
                        let mut loan = tx.loan_timeout(m.len(), support::DEADLINE).unwrap();
                        loan.write_at(0, &m).unwrap();
                        loan.commit();
                    } else {
                        tx.send_timeout(&m, support::DEADLINE).unwrap();
                    }
                }
            });
            let mut buf = Vec::new();
            for (seq, len) in expected.iter().enumerate() {
                if zero_copy {
                    let m = rx.recv_borrow_timeout(support::DEADLINE).unwrap();
                    buf = m.to_vec();
                } else {
                    rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
                }
                prop_assert_eq!(buf.len(), *len);
                prop_assert_eq!(check(&buf), seq as u64);
            }
            sender.join().unwrap();
            // Nothing more: no duplicates.
            prop_assert!(matches!(rx.try_recv(&mut buf), Err(TryRecvError::Empty | TryRecvError::Disconnected)));
        }
    }
}

#[test]
fn each_side_can_wait_for_the_other_to_attach() {
    let name = unique_name("attach");
    let _c = Cleanup(name.clone());
    let tx = small().create_sender(&name).unwrap();
    assert_eq!(tx.kind(), Kind::OneToOne);
    assert_eq!(tx.capacity(), 4096);
    match tx.wait_for_receiver(Duration::from_millis(20)) {
        Err(Error::Timeout { after, .. }) => assert_eq!(after, Duration::from_millis(20)),
        other => panic!("{other:?}"),
    }
    let attacher = {
        let name = name.clone();
        std::thread::spawn(move || Receiver::open(&name).unwrap())
    };
    tx.wait_for_receiver(support::DEADLINE).unwrap();
    let rx = attacher.join().unwrap();
    rx.wait_for_sender(support::DEADLINE).unwrap();
    drop(tx);
    assert!(matches!(
        rx.wait_for_sender(Duration::from_millis(10)),
        Err(Error::Timeout { .. })
    ));
}

#[test]
fn wait_drained_returns_once_everything_was_received() {
    let name = unique_name("drained");
    let _c = Cleanup(name.clone());
    let mut tx = small().create_sender(&name).unwrap();
    let mut rx = Receiver::open(&name).unwrap();
    tx.wait_drained(Duration::ZERO).unwrap();
    for i in 0..5u8 {
        tx.send(&[i; 100]).unwrap();
    }
    assert!(matches!(
        tx.wait_drained(Duration::from_millis(10)),
        Err(Error::Timeout { .. })
    ));
    let reader = std::thread::spawn(move || {
        for i in 0..5u8 {
            assert_eq!(rx.recv().unwrap(), vec![i; 100]);
        }
        rx
    });
    tx.wait_drained(support::DEADLINE).unwrap();
    drop(reader.join().unwrap());
}
