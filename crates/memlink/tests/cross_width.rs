//! 32-bit and 64-bit processes share channels and synchronisation
//! primitives: the layouts use fixed-width fields only, and the endpoint
//! locks reach their bytes from either width.
//!
//! The parent (this test binary) talks to a peer built from this same file
//! for the other word size, named by `MEMLINK_PEER_TEST_BIN`;
//! `.ci/i686.sh` builds both and runs this test in each direction. Without
//! the variable the tests say so and check nothing.
#![cfg(target_os = "linux")]

mod hardening;
mod support;

use std::path::PathBuf;

use hardening::{decode, encode, HEADER};
use memlink::channel::{ChannelOptions, Receiver, Sender};
use memlink::{Event, EventKind, Mapping, RobustMutex, SeqLock};
use support::{role, unique_name, Child, Cleanup, DEADLINE};

/// Messages each way.
const MESSAGES: u64 = 100_000;
/// Lock rounds in each process.
const ROUNDS: u64 = 20_000;
/// Seqlock snapshots the writer publishes.
const SNAPSHOTS: u64 = 20_000;

const MUTEX_AT: usize = 0;
const SEQLOCK_AT: usize = 128;
const EVENT_AT: usize = 256;
const COUNTER_AT: usize = 512;

fn peer() -> Option<PathBuf> {
    let exe = std::env::var_os("MEMLINK_PEER_TEST_BIN").map(PathBuf::from);
    if exe.is_none() {
        eprintln!("skipped: MEMLINK_PEER_TEST_BIN names no peer of the other word size");
    }
    exe
}

fn width() -> String {
    format!("{}-bit", usize::BITS)
}

fn options() -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.capacity(1 << 16).max_message(1000);
    o
}

fn length(seq: u64) -> usize {
    HEADER + (seq as usize * 37) % 900
}

fn send_all(tx: &mut Sender) {
    let mut buf = Vec::new();
    for seq in 0..MESSAGES {
        encode(&mut buf, 1, seq, length(seq));
        tx.send(&buf).unwrap();
    }
}

/// Receives every message, checking each one whole and in order; the sum
/// of their lengths.
fn receive_all(rx: &mut Receiver) -> u64 {
    let mut buf = Vec::new();
    let mut bytes = 0u64;
    for expected in 0..MESSAGES {
        rx.recv_timeout(&mut buf, DEADLINE).unwrap();
        let (id, seq) = decode(&buf).unwrap();
        assert_eq!((id, seq), (1, expected), "out of order or torn");
        assert_eq!(buf.len(), length(seq));
        bytes += buf.len() as u64;
    }
    bytes
}

fn counter(view: &memlink::View) -> u64 {
    let mut b = [0u8; 8];
    view.read_at(COUNTER_AT, &mut b).unwrap();
    u64::from_ne_bytes(b)
}

/// `ROUNDS` increments of the counter, each under the mutex.
fn count_under_the_mutex(view: &memlink::View) {
    let mutex = RobustMutex::attach(view, MUTEX_AT).unwrap();
    for _ in 0..ROUNDS {
        let guard = mutex.lock().unwrap();
        assert!(!guard.owner_died());
        let next = counter(view) + 1;
        view.write_at(COUNTER_AT, &next.to_ne_bytes()).unwrap();
        drop(guard);
    }
}

fn play(role: &str, arg: &str) {
    match role {
        "recv" => {
            let mut rx = Receiver::open(arg).unwrap();
            support::tell_parent("ready");
            let bytes = receive_all(&mut rx);
            support::tell_parent(&format!("{} received {bytes}", width()));
        }
        "send" => {
            let mut tx = Sender::open(arg).unwrap();
            send_all(&mut tx);
            tx.wait_drained(DEADLINE).unwrap();
            support::tell_parent("sent");
            support::wait_for_parent();
        }
        "sync" => {
            let mapping = Mapping::open(arg).unwrap();
            let view = mapping.view_all().unwrap();
            support::tell_parent("ready");
            count_under_the_mutex(&view);
            let seqlock = SeqLock::<[u64; 4]>::attach(&view, SEQLOCK_AT).unwrap();
            for i in 1..=SNAPSHOTS {
                seqlock.write(&[i, i * 3, i * 5, i * 7]);
            }
            Event::attach(&view, EVENT_AT).unwrap().set();
            support::tell_parent("done");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_peer_of_the_other_word_size_receives_every_message() {
    const TEST: &str = "a_peer_of_the_other_word_size_receives_every_message";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let Some(exe) = peer() else { return };
    let name = unique_name("width-tx");
    let _c = Cleanup(name.clone());
    let mut tx = options().create_sender(&name).unwrap();
    let mut child = Child::spawn_binary(&exe, TEST, "recv", &name, None);
    child.expect("ready");
    send_all(&mut tx);
    let expected: u64 = (0..MESSAGES).map(|s| length(s) as u64).sum();
    let answer = child.recv();
    assert!(
        answer.ends_with(&format!("received {expected}")),
        "{answer}"
    );
    assert_ne!(
        answer,
        format!("{} received {expected}", width()),
        "same width"
    );
    child.finish();
}

#[test]
fn a_peer_of_the_other_word_size_sends_every_message() {
    const TEST: &str = "a_peer_of_the_other_word_size_sends_every_message";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let Some(exe) = peer() else { return };
    let name = unique_name("width-rx");
    let _c = Cleanup(name.clone());
    let mut rx = options().create_receiver(&name).unwrap();
    let child = Child::spawn_binary(&exe, TEST, "send", &name, None);
    receive_all(&mut rx);
    let mut child = child;
    child.expect("sent");
    child.finish();
}

#[test]
fn mutex_seqlock_and_event_work_across_word_sizes() {
    const TEST: &str = "mutex_seqlock_and_event_work_across_word_sizes";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let Some(exe) = peer() else { return };
    let name = unique_name("width-sync");
    let _c = Cleanup(name.clone());
    let mapping = Mapping::create(&name, 4096).unwrap();
    let view = mapping.view_all().unwrap();
    RobustMutex::init_in(&view, MUTEX_AT).unwrap();
    let seqlock = SeqLock::<[u64; 4]>::init_in(&view, SEQLOCK_AT, &[0; 4]).unwrap();
    let event = Event::init_in(&view, EVENT_AT, EventKind::ManualReset).unwrap();
    let mut child = Child::spawn_binary(&exe, TEST, "sync", &name, None);
    child.expect("ready");
    count_under_the_mutex(&view);
    // Every snapshot read while the other process writes is one it wrote.
    let mut last = 0;
    while !event.is_set() {
        let [a, b, c, d] = seqlock.read();
        assert_eq!([b, c, d], [a * 3, a * 5, a * 7], "torn snapshot");
        assert!(a >= last, "snapshots went backwards");
        last = a;
    }
    assert!(event.wait_timeout(DEADLINE));
    assert_eq!(
        seqlock.read(),
        [SNAPSHOTS, SNAPSHOTS * 3, SNAPSHOTS * 5, SNAPSHOTS * 7]
    );
    child.expect("done");
    assert_eq!(counter(&view), 2 * ROUNDS, "an increment was lost");
    child.finish();
}
