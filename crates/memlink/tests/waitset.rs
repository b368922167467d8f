//! Waiting on many channels at once, with real processes: the busy one among
//! many idle ones wakes the set, a killed peer is seen through it, a full
//! sender becomes writable when a reader in another process drains it, and
//! deadlines end a wait.

mod support;

use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Readiness, Ready, Receiver, Sender, Token, WaitSet};
use support::{role, unique_name, Child, Cleanup, DEADLINE};

fn options() -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.capacity(4096).max_message(100);
    o
}

fn play(role: &str, arg: &str) {
    match role {
        // Attaches a sender to `arg`, sends one message when told, holds.
        "send-when-told" => {
            let mut tx = Sender::open(arg).unwrap();
            support::tell_parent("attached");
            support::wait_for_parent();
            tx.send(b"wake").unwrap();
            support::tell_parent("sent");
            support::wait_for_parent();
        }
        // Attaches a sender and holds it until killed.
        "hold-sender" => {
            let _tx = Sender::open(arg).unwrap();
            support::tell_parent("attached");
            support::wait_for_parent();
        }
        // Attaches a receiver, reads one message when told, holds.
        "read-when-told" => {
            let mut rx = Receiver::open(arg).unwrap();
            support::tell_parent("attached");
            support::wait_for_parent();
            rx.recv_timeout(&mut Vec::new(), DEADLINE).unwrap();
            support::tell_parent("read");
            support::wait_for_parent();
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn the_one_busy_channel_among_many_idle_ones_wakes_the_set() {
    const TEST: &str = "the_one_busy_channel_among_many_idle_ones_wakes_the_set";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let names: Vec<String> = (0..16).map(|i| unique_name(&format!("ws-{i}"))).collect();
    let _cleanup: Vec<Cleanup> = names.iter().cloned().map(Cleanup).collect();
    let receivers: Vec<Receiver> = names
        .iter()
        .map(|n| options().create_receiver(n).unwrap())
        .collect();
    let busy = 11;
    let mut child = Child::spawn(TEST, "send-when-told", &names[busy]);
    child.expect("attached");
    let mut set = WaitSet::new();
    for rx in &receivers {
        set.add_receiver(rx);
    }
    assert!(
        set.wait(Some(Duration::ZERO)).is_empty(),
        "nothing sent yet"
    );
    let waiter = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| set.wait(Some(DEADLINE)));
        child.send("go");
        waiting.join().unwrap()
    });
    assert_eq!(
        waiter,
        vec![Ready {
            token: Token(busy),
            readiness: Readiness::Readable
        }]
    );
    child.expect("sent");
    child.finish();
}

#[test]
fn a_sender_killed_with_kill_9_is_seen_through_the_set() {
    const TEST: &str = "a_sender_killed_with_kill_9_is_seen_through_the_set";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (a, b) = (unique_name("ws-kill-a"), unique_name("ws-kill-b"));
    let _c = (Cleanup(a.clone()), Cleanup(b.clone()));
    let rx_a = options().create_receiver(&a).unwrap();
    let rx_b = options().create_receiver(&b).unwrap();
    let child = {
        let mut child = Child::spawn(TEST, "hold-sender", &b);
        child.expect("attached");
        child
    };
    rx_b.wait_for_sender(DEADLINE).unwrap();
    let mut set = WaitSet::new();
    set.add_receiver(&rx_a);
    let on_b = set.add_receiver(&rx_b);
    // Killed while the set sleeps: the dead sender wakes nobody, the set's
    // liveness slice finds it.
    let (ready, killed) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| set.wait(Some(DEADLINE)));
        child.kill9();
        let killed = Instant::now();
        (waiting.join().unwrap(), killed)
    });
    eprintln!("the kill was seen after {:?}", killed.elapsed());
    assert_eq!(
        ready,
        vec![Ready {
            token: on_b,
            readiness: Readiness::Disconnected
        }]
    );
}

#[test]
fn a_full_sender_becomes_writable_when_another_process_reads() {
    const TEST: &str = "a_full_sender_becomes_writable_when_another_process_reads";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let name = unique_name("ws-room");
    let _c = Cleanup(name.clone());
    let mut tx = options().create_sender(&name).unwrap();
    let mut child = Child::spawn(TEST, "read-when-told", &name);
    child.expect("attached");
    while tx.try_send(&[1; 100]).is_ok() {}
    let ready = {
        let mut set = WaitSet::new();
        let room = set.add_sender(&tx, 100);
        assert!(
            set.wait(Some(Duration::ZERO)).is_empty(),
            "the ring is full"
        );
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| set.wait(Some(DEADLINE)));
            child.send("go");
            (room, waiting.join().unwrap())
        })
    };
    assert_eq!(
        ready.1,
        vec![Ready {
            token: ready.0,
            readiness: Readiness::Writable
        }]
    );
    tx.try_send(&[2; 100]).expect("room, as the set said");
    child.expect("read");
    child.finish();
}

#[test]
fn deadlines_and_timeouts_end_a_wait() {
    let name = unique_name("ws-deadline");
    let _c = Cleanup(name.clone());
    let _tx = options().create_sender(&name).unwrap();
    let rx = Receiver::open(&name).unwrap();
    let mut set = WaitSet::new();
    set.add_receiver(&rx);
    let at = Instant::now() + Duration::from_millis(30);
    let deadline = set.add_deadline(at);
    let ready = set.wait(Some(DEADLINE));
    assert!(Instant::now() >= at);
    assert_eq!(
        ready,
        vec![Ready {
            token: deadline,
            readiness: Readiness::Deadline
        }]
    );
    let mut idle = WaitSet::new();
    idle.add_receiver(&rx);
    let started = Instant::now();
    assert!(idle.wait(Some(Duration::from_millis(20))).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert!(
        WaitSet::new().wait(None).is_empty(),
        "an empty set does not wait"
    );
}
