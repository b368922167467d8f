//! Soak: sender processes stream numbered, self-checking messages of varied
//! sizes through a small ring (so it wraps and fills all the time); the
//! receiving process checks that every message arrives whole, exactly once
//! and in each sender's order, and that nothing is missing when the senders
//! are done. Prints throughput.
//!
//! The `*_short` versions run in CI (10^6 messages). The full ones send
//! 10^8 and are opt-in:
//!
//! ```text
//! cargo test --release -p memlink --test soak -- --ignored soak
//! ```
//!
//! `MEMLINK_SOAK_MESSAGES` overrides the count of any of them.

mod hardening;
mod support;

use std::time::Instant;

use hardening::{assert_gone, decode, fill, Rng, HEADER};
use memlink::channel::{ChannelOptions, Kind, Receiver, Sender};
use memlink::Error;
use support::{role, unique_name, Child};

fn options(kind: Kind) -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.kind(kind).capacity(64 * 1024).max_message(512);
    if kind == Kind::ManyToOne {
        o.max_senders(4);
    }
    o
}

/// The test that child processes run (whatever test spawned them).
const CHILD_ENTRY: &str = "soak_one_to_one_short";

fn count(default: u64) -> u64 {
    std::env::var("MEMLINK_SOAK_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A message length: mostly small (the hot case), one in 64 up to the
/// maximum.
fn length(rng: &mut Rng, max: usize) -> usize {
    if rng.below(64) == 0 {
        HEADER + rng.below((max - HEADER + 1) as u64) as usize
    } else {
        HEADER + rng.below(40) as usize
    }
}

/// Child: sends messages `0..count` as sender `id`, half of them through
/// loans (written in place), then leaves.
fn send_all(name: &str, id: u32, count: u64) {
    let mut tx: Sender = ChannelOptions::new().open_sender(name).unwrap();
    let max = tx.max_message();
    let mut rng = Rng::new(u64::from(id) + 1);
    let mut buf = vec![0u8; max];
    support::tell_parent("ready");
    for seq in 0..count {
        let len = length(&mut rng, max);
        if seq % 2 == 0 {
            fill(&mut buf[..len], id, seq);
            tx.send(&buf[..len]).unwrap();
        } else {
            let mut loan = tx.loan(len).unwrap();
            fill(&mut buf[..len], id, seq);
            loan.write_at(0, &buf[..len]).unwrap();
            loan.commit();
        }
    }
}

/// Receives until every sender has left; checks each message and each
/// sender's order; returns how many arrived from each.
fn receive_all(rx: &mut Receiver, senders: usize) -> Vec<u64> {
    let mut next = vec![0u64; senders];
    let mut buf = vec![0u8; rx.max_message()];
    let mut vec = Vec::new();
    let mut n = 0u64;
    loop {
        // Copies and zero-copy borrows, alternately.
        let m: &[u8] = if n.is_multiple_of(2) {
            match rx.recv_timeout(&mut vec, support::DEADLINE) {
                Ok(_) => &vec,
                Err(Error::Disconnected { .. }) => break,
                Err(e) => panic!("soak receive: {e}"),
            }
        } else {
            match rx.recv_borrow_timeout(support::DEADLINE) {
                Ok(message) => {
                    let len = message.len();
                    message.read_at(0, &mut buf[..len]).unwrap();
                    &buf[..len]
                }
                Err(Error::Disconnected { .. }) => break,
                Err(e) => panic!("soak receive: {e}"),
            }
        };
        let (id, seq) = decode(m).unwrap_or_else(|what| panic!("message {n}: {what}"));
        let id = id as usize;
        assert!(id < senders, "message from unknown sender {id}");
        assert_eq!(seq, next[id], "sender {id}: lost, repeated or reordered");
        next[id] += 1;
        n += 1;
    }
    next
}

fn soak(test: &str, kind: Kind, senders: u32, total: u64) {
    if let Some((r, arg)) = role() {
        assert_eq!(r, "sender");
        let mut it = arg.split(' ');
        let name = it.next().unwrap();
        let id = it.next().unwrap().parse().unwrap();
        let count = it.next().unwrap().parse().unwrap();
        return send_all(name, id, count);
    }
    let name = unique_name("soak");
    let mut rx = options(kind).create_receiver(&name).unwrap();
    let per_sender = total / u64::from(senders);
    let mut children: Vec<Child> = (0..senders)
        // Children run a test that is never ignored: a child started on an
        // ignored test would run nothing.
        .map(|id| Child::spawn(CHILD_ENTRY, "sender", &format!("{name} {id} {per_sender}")))
        .collect();
    for child in &mut children {
        child.expect("ready");
    }
    let started = Instant::now();
    let got = receive_all(&mut rx, senders as usize);
    let elapsed = started.elapsed();
    for child in children {
        child.finish();
    }
    assert_eq!(got, vec![per_sender; senders as usize], "messages missing");
    let n = per_sender * u64::from(senders);
    eprintln!(
        "{test}: {n} messages from {senders} sender process(es) in {elapsed:.2?}: {:.2} M messages/s",
        n as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6
    );
    drop(rx);
    assert_gone(&name);
}

#[test]
fn soak_one_to_one_short() {
    soak("soak_one_to_one_short", Kind::OneToOne, 1, count(1_000_000));
}

#[test]
fn soak_many_to_one_short() {
    soak("soak_many_to_one_short", Kind::ManyToOne, 3, count(600_000));
}

#[test]
#[ignore = "long: 10^8 messages; run with --release -- --ignored soak"]
fn soak_one_to_one() {
    soak("soak_one_to_one", Kind::OneToOne, 1, count(100_000_000));
}

#[test]
#[ignore = "long: 10^8 messages; run with --release -- --ignored soak"]
fn soak_many_to_one() {
    soak("soak_many_to_one", Kind::ManyToOne, 3, count(100_000_002));
}
