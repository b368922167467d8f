//! Wait sets asleep on their doorbells (`channel/doorbell.rs`), with real
//! processes: a set over 64 channels is woken through its doorbell by a
//! sender in another process; a sender killed with `kill -9` is seen through
//! such a set; and a set killed with `kill -9` while asleep leaves senders
//! that keep working, clear its announcements, and remove its doorbell.
//!
//! Each test waits until the set has announced itself on the channels
//! (`ChannelInfo::doorbells`, read from the segments) before acting, so that
//! the doorbell path is the one taken; nothing sleeps to synchronise.
//!
//! Unix only: on Windows a wait set waits with `WaitForMultipleObjects` and
//! makes no doorbell (`tests/waitset.rs` covers it there).
#![cfg(unix)]

mod support;

use std::time::{Duration, Instant};

use memlink::channel::{
    doorbell_stats, inspect, ChannelOptions, Readiness, Ready, Receiver, Sender, WaitSet,
};
use memlink::{Mapping, Namespace};
use support::{role, unique_name, unique_names, Child, Cleanup, DEADLINE};

fn options() -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.capacity(4096).max_message(100);
    o
}

fn play(role: &str, arg: &str) {
    match role {
        // Sends one message when told, then says how many doorbells this
        // process rang.
        "send-and-count" => {
            let mut tx = Sender::open(arg).unwrap();
            support::tell_parent("attached");
            support::wait_for_parent();
            tx.send(b"ring").unwrap();
            support::tell_parent(&format!("rings {}", doorbell_stats().rings));
            support::wait_for_parent();
        }
        "hold-sender" => support::roles::hold_sender(arg),
        // Opens a receiver on each channel and waits on them all, for ever:
        // the parent kills it while it sleeps.
        "wait-on-all" => {
            let receivers: Vec<Receiver> =
                arg.split(',').map(|n| Receiver::open(n).unwrap()).collect();
            let mut set = WaitSet::new();
            for rx in &receivers {
                set.add_receiver(rx);
            }
            support::tell_parent("waiting");
            let ready = set.wait(None);
            panic!("nothing was sent, yet the set woke for {ready:?}");
        }
        other => panic!("unknown role {other}"),
    }
}

/// Waits (bounded) until `done` holds, looking at shared state: a
/// condition, not a duration.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::yield_now();
    }
}

/// Wait sets asleep on `name` by doorbell.
fn doorbells(name: &str) -> u32 {
    inspect(name).unwrap().doorbells
}

/// Whether a doorbell of process `pid` exists in this user's namespace.
fn has_doorbell_of(pid: u32) -> bool {
    let prefix = format!("memlink-bell-{pid}-");
    Mapping::list(Namespace::Local)
        .unwrap()
        .iter()
        .any(|info| info.name.to_string().contains(&prefix))
}

#[test]
fn a_set_over_64_channels_is_woken_through_its_doorbell_by_another_process() {
    const TEST: &str = "a_set_over_64_channels_is_woken_through_its_doorbell_by_another_process";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (names, _cleanup) = unique_names("bell", 64);
    let receivers: Vec<Receiver> = names
        .iter()
        .map(|n| options().create_receiver(n).unwrap())
        .collect();
    let busy = 41;
    let mut child = Child::spawn(TEST, "send-and-count", &names[busy]);
    child.expect("attached");
    let mut set = WaitSet::new();
    let tokens: Vec<_> = receivers.iter().map(|rx| set.add_receiver(rx)).collect();
    let ready = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| set.wait(Some(DEADLINE)));
        until("the set announced itself on every channel", || {
            names.iter().all(|n| doorbells(n) == 1)
        });
        child.send("go");
        waiting.join().unwrap()
    });
    assert_eq!(
        ready,
        vec![Ready {
            token: tokens[busy],
            readiness: Readiness::Readable
        }]
    );
    let rings = child.recv();
    assert_eq!(rings, "rings 1", "the sender rang the set's doorbell once");
    assert_eq!(set.stats().sleeps, 1);
    // Woken, the set withdrew everywhere.
    assert!(names.iter().all(|n| doorbells(n) == 0));
    child.finish();
}

#[test]
fn a_sender_killed_with_kill_9_is_seen_through_a_set_asleep_on_its_doorbell() {
    const TEST: &str = "a_sender_killed_with_kill_9_is_seen_through_a_set_asleep_on_its_doorbell";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (names, _cleanup) = unique_names("bell-kill", 64);
    let receivers: Vec<Receiver> = names
        .iter()
        .map(|n| options().create_receiver(n).unwrap())
        .collect();
    let victim = 7;
    let child = {
        let mut child = Child::spawn(TEST, "hold-sender", &names[victim]);
        child.expect("attached");
        child
    };
    receivers[victim].wait_for_sender(DEADLINE).unwrap();
    let mut set = WaitSet::new();
    let tokens: Vec<_> = receivers.iter().map(|rx| set.add_receiver(rx)).collect();
    let watch = set.add_peer_death(&receivers[victim]);
    let (ready, killed) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            // Until both reports came (they may come in two wake-ups).
            let mut all = Vec::new();
            while all.len() < 2 {
                let ready = set.wait(Some(DEADLINE));
                assert!(!ready.is_empty(), "timed out");
                all.extend(ready);
            }
            all.sort_by_key(|r| r.token);
            all
        });
        until("the set announced itself", || {
            doorbells(&names[victim]) == 1
        });
        child.kill9();
        let killed = Instant::now();
        (waiting.join().unwrap(), killed)
    });
    eprintln!("the kill was seen after {:?}", killed.elapsed());
    assert_eq!(
        ready,
        vec![
            Ready {
                token: tokens[victim],
                readiness: Readiness::Disconnected
            },
            Ready {
                token: watch,
                readiness: Readiness::PeerDied
            }
        ]
    );
}

#[test]
fn a_set_killed_while_asleep_leaves_working_senders_and_no_doorbell() {
    const TEST: &str = "a_set_killed_while_asleep_leaves_working_senders_and_no_doorbell";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (names, _cleanup) = unique_names("bell-dead", 8);
    let mut senders: Vec<Sender> = names
        .iter()
        .map(|n| options().create_sender(n).unwrap())
        .collect();
    let mut child = Child::spawn(TEST, "wait-on-all", &names.join(","));
    let pid = child.pid();
    child.expect("waiting");
    until("the set announced itself on every channel", || {
        names.iter().all(|n| doorbells(n) == 1)
    });
    assert!(has_doorbell_of(pid), "the set made no doorbell");
    child.kill9();
    let before = doorbell_stats();
    // The senders keep working, for a new receiver on each channel, and
    // the first publication on each clears the dead set's announcement.
    let mut receivers: Vec<Receiver> = names.iter().map(|n| Receiver::open(n).unwrap()).collect();
    let mut buf = Vec::new();
    let started = Instant::now();
    for round in 0u32..3 {
        for (tx, rx) in senders.iter_mut().zip(&mut receivers) {
            tx.send(&round.to_le_bytes()).unwrap();
            assert_eq!(rx.recv_timeout(&mut buf, DEADLINE).unwrap(), 4);
            assert_eq!(buf, round.to_le_bytes());
        }
    }
    eprintln!("24 messages after the kill in {:?}", started.elapsed());
    assert!(
        names.iter().all(|n| doorbells(n) == 0),
        "announcements of the dead set are left"
    );
    let after = doorbell_stats();
    assert_eq!(after.cleared - before.cleared, 8, "one clear per channel");
    assert!(!has_doorbell_of(pid), "the dead set's doorbell is left");
    // Later publications find nothing to ring.
    let rings = doorbell_stats().rings;
    senders[0].send(b"x").unwrap();
    receivers[0]
        .recv_timeout(&mut buf, Duration::from_secs(1))
        .unwrap();
    assert_eq!(doorbell_stats().rings, rings);
}

/// A channel that other users may write (mode 0o660) gets no doorbell: its
/// wakers could not open one in this user's namespace. The set parks on
/// the channel's own word there, and is woken all the same.
#[test]
fn a_channel_others_may_write_is_waited_on_without_a_doorbell() {
    const TEST: &str = "a_channel_others_may_write_is_waited_on_without_a_doorbell";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (shared, own) = (unique_name("bell-660"), unique_name("bell-600"));
    let _c = (Cleanup(shared.clone()), Cleanup(own.clone()));
    let rx_shared = options().mode(0o660).create_receiver(&shared).unwrap();
    let rx_own = options().create_receiver(&own).unwrap();
    let mut child = Child::spawn(TEST, "send-and-count", &shared);
    child.expect("attached");
    let mut set = WaitSet::new();
    let on_shared = set.add_receiver(&rx_shared);
    set.add_receiver(&rx_own);
    let ready = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| set.wait(Some(DEADLINE)));
        // The set announces its doorbell on the channel it may (and so has
        // begun to park) before anything is sent.
        until("the set announced itself", || doorbells(&own) == 1);
        assert_eq!(doorbells(&shared), 0, "a doorbell on a shared channel");
        child.send("go");
        waiting.join().unwrap()
    });
    assert_eq!(
        ready,
        vec![Ready {
            token: on_shared,
            readiness: Readiness::Readable
        }]
    );
    assert_eq!(child.recv(), "rings 0", "the sender rang a doorbell");
    child.finish();
}
