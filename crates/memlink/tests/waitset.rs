//! Waiting on many channels at once, with real processes: the busy one among
//! many idle ones wakes the set, a killed peer is seen through it, a full
//! sender becomes writable when a reader in another process drains it, and
//! deadlines end a wait, events set in another process and intervals wake
//! it, the death of one peer among several is reported as such, and a set
//! with something ready never enters the kernel.

mod support;

use std::time::{Duration, Instant};

use memlink::channel::{
    ChannelOptions, Kind, Readiness, Ready, Receiver, Sender, Token, WaitSet, WaitStats,
};
use memlink::{EventKind, NamedEvent};
use support::{role, unique_name, unique_names, Child, Cleanup, DEADLINE};

fn options() -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.capacity(4096).max_message(100);
    o
}

fn play(role: &str, arg: &str) {
    match role {
        "send-when-told" => support::roles::send_when_told(arg, b"wake"),
        "hold-sender" => support::roles::hold_sender(arg),
        // Attaches a receiver, reads one message when told, holds.
        "read-when-told" => {
            let mut rx = Receiver::open(arg).unwrap();
            support::tell_parent("attached");
            support::wait_for_parent();
            // Two messages: the sender's next record needs the padding to
            // the end of the ring and the 8-byte marker after it (layout
            // v3), more than one 112-byte record frees.
            for _ in 0..2 {
                rx.recv_timeout(&mut Vec::new(), DEADLINE).unwrap();
            }
            support::tell_parent("read");
            support::wait_for_parent();
        }
        "set-when-told" => support::roles::set_when_told(arg),
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn the_one_busy_channel_among_many_idle_ones_wakes_the_set() {
    const TEST: &str = "the_one_busy_channel_among_many_idle_ones_wakes_the_set";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (names, _cleanup) = unique_names("ws", 16);
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

#[test]
fn an_event_set_in_another_process_wakes_the_set_and_is_taken() {
    const TEST: &str = "an_event_set_in_another_process_wakes_the_set_and_is_taken";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (name, idle) = (unique_name("ws-event"), unique_name("ws-event-idle"));
    let _c = (Cleanup(name.clone()), Cleanup(idle.clone()));
    let event = NamedEvent::create(&name, EventKind::AutoReset).unwrap();
    let _tx = options().create_sender(&idle).unwrap();
    let rx = Receiver::open(&idle).unwrap();
    let mut child = Child::spawn(TEST, "set-when-told", &name);
    child.expect("opened");
    let mut set = WaitSet::new();
    set.add_receiver(&rx);
    let on_event = set.add_event(&event);
    assert!(set.wait(Some(Duration::ZERO)).is_empty(), "not set yet");
    let ready = std::thread::scope(|scope| {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let set = &set;
        let waiting = scope.spawn(move || {
            tid_tx.send(thread_id()).unwrap();
            set.wait(Some(DEADLINE))
        });
        let tid = tid_rx.recv().unwrap();
        // The set registers as one of the event's waiters, looks at its
        // sources once more, then sleeps; the child sets the event only
        // once the set is asleep (where the OS says so), so this is the
        // wake-up path and not the last look.
        let asleep = Instant::now() + DEADLINE;
        while event.waiters() == 0 || !is_asleep(tid) {
            assert!(Instant::now() < asleep, "the set never went to sleep");
            std::thread::yield_now();
        }
        child.send("go");
        waiting.join().unwrap()
    });
    assert_eq!(
        ready,
        vec![Ready {
            token: on_event,
            readiness: Readiness::Signaled
        }]
    );
    assert!(
        !event.is_set(),
        "an auto-reset event is taken by the report"
    );
    assert_eq!(event.waiters(), 0, "the set unregistered");
    if cfg!(target_os = "linux") {
        assert!(set.stats().sleeps >= 1, "it slept: {:?}", set.stats());
    }
    child.expect("set");
    child.finish();

    // A manual-reset event stays set, and keeps the set ready.
    let manual_name = unique_name("ws-event-manual");
    let _m = Cleanup(manual_name.clone());
    let manual = NamedEvent::create(&manual_name, EventKind::ManualReset).unwrap();
    manual.set();
    let mut set = WaitSet::new();
    let on_manual = set.add_event(&manual);
    for _ in 0..2 {
        assert_eq!(
            set.wait(Some(DEADLINE)),
            vec![Ready {
                token: on_manual,
                readiness: Readiness::Signaled
            }]
        );
    }
    assert!(manual.is_set());
}

#[test]
fn an_interval_ticks_every_period_and_never_early() {
    let period = Duration::from_millis(15);
    let mut set = WaitSet::new();
    let deadline = set.add_deadline(Instant::now() + DEADLINE);
    let tick = set.add_interval(period);
    let started = Instant::now();
    for n in 1..=4u32 {
        let ready = set.wait(Some(DEADLINE));
        assert_eq!(
            ready,
            vec![Ready {
                token: tick,
                readiness: Readiness::Tick
            }]
        );
        assert!(started.elapsed() >= period * n, "tick {n} came early");
    }
    assert_ne!(tick, deadline);
    // A set left alone for several periods reports one tick, not a burst.
    let mut lagging = WaitSet::new();
    let tick = lagging.add_interval(Duration::from_millis(50));
    let mut pause = WaitSet::new();
    pause.add_deadline(Instant::now() + Duration::from_millis(200));
    pause.wait(None);
    assert_eq!(lagging.wait(Some(Duration::ZERO)).len(), 1);
    assert!(
        lagging.wait(Some(Duration::ZERO)).is_empty(),
        "missed periods are not reported one by one"
    );
    let next = lagging.wait(Some(DEADLINE));
    assert_eq!(next[0].token, tick);
}

#[test]
fn one_sender_killed_among_two_is_reported_as_a_peer_death() {
    const TEST: &str = "one_sender_killed_among_two_is_reported_as_a_peer_death";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let name = unique_name("ws-peer-death");
    let _c = Cleanup(name.clone());
    let mut o = options();
    o.kind(Kind::ManyToOne);
    let rx = o.create_receiver(&name).unwrap();
    let mut victim = Child::spawn(TEST, "hold-sender", &name);
    victim.expect("attached");
    let mut survivor = Child::spawn(TEST, "hold-sender", &name);
    survivor.expect("attached");
    let mut set = WaitSet::new();
    let on_rx = set.add_receiver(&rx);
    let on_death = set.add_peer_death(&rx);
    assert!(
        set.wait(Some(Duration::from_millis(50))).is_empty(),
        "both senders alive"
    );
    let (ready, seen_after) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            let ready = set.wait(Some(DEADLINE));
            (ready, Instant::now())
        });
        let killing = Instant::now();
        victim.kill9();
        let (ready, woke) = waiting.join().unwrap();
        (ready, woke.saturating_duration_since(killing))
    });
    eprintln!("the kill -9 was seen through the set after {seen_after:?}");
    // Only the death: the receiver still has a live sender, so it is not
    // disconnected.
    assert_eq!(
        ready,
        vec![Ready {
            token: on_death,
            readiness: Readiness::PeerDied
        }]
    );
    assert!(
        seen_after < DEADLINE / 4,
        "seen by a liveness look, not at the deadline"
    );
    assert!(rx.is_connected());
    assert_ne!(on_rx, on_death);
    // Reported once; the survivor's orderly exit is the next one, seen
    // through its departure (a wake-up, not a liveness slice).
    assert!(set.wait(Some(Duration::from_millis(50))).is_empty());
    let ready = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| set.wait(Some(DEADLINE)));
        survivor.finish();
        waiting.join().unwrap()
    });
    assert!(
        ready.contains(&Ready {
            token: on_death,
            readiness: Readiness::PeerDied
        }),
        "{ready:?}"
    );
}

#[test]
fn waiting_on_what_is_ready_never_enters_the_kernel() {
    let (names, _cleanup) = unique_names("ws-nosys", 65);
    let mut senders: Vec<Sender> = names
        .iter()
        .map(|n| options().create_sender(n).unwrap())
        .collect();
    let receivers: Vec<Receiver> = names.iter().map(|n| Receiver::open(n).unwrap()).collect();
    let event = NamedEvent::create(&unique_name("ws-nosys-ev"), EventKind::ManualReset).unwrap();
    senders[64].send(b"ready").unwrap();
    let mut set = WaitSet::new();
    for rx in &receivers {
        set.add_receiver(rx);
    }
    set.add_sender(&senders[0], 10);
    set.add_event(&event);
    set.add_deadline(Instant::now() + DEADLINE);
    set.add_interval(DEADLINE);
    set.add_peer_death(&receivers[3]);
    let before = set.stats();
    for _ in 0..1000 {
        assert_eq!(set.wait(None).len(), 2, "the message and the room");
    }
    assert_eq!(
        set.stats(),
        before,
        "neither a sleep nor a liveness look while something is ready"
    );
    // The counter does count: with nothing ready, the set sleeps, and asks
    // about peers once a liveness slice (40 ms) has passed.
    let mut idle = WaitSet::new();
    idle.add_receiver(&receivers[5]);
    assert!(idle.wait(Some(Duration::from_millis(60))).is_empty());
    let stats = idle.stats();
    assert!(stats.sleeps >= 1 && stats.liveness_probes >= 1, "{stats:?}");
    assert_eq!(WaitSet::new().stats(), WaitStats::default());
}

#[test]
fn a_zero_timeout_still_reports_a_sender_killed_on_an_empty_ring() {
    const TEST: &str = "a_zero_timeout_still_reports_a_sender_killed_on_an_empty_ring";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let name = unique_name("ws-zero");
    let _c = Cleanup(name.clone());
    let rx = options().create_receiver(&name).unwrap();
    let mut child = Child::spawn(TEST, "hold-sender", &name);
    child.expect("attached");
    rx.wait_for_sender(DEADLINE).unwrap();
    let mut set = WaitSet::new();
    let on_rx = set.add_receiver(&rx);
    assert!(
        set.wait(Some(Duration::ZERO)).is_empty(),
        "alive, nothing sent"
    );
    let probes = set.stats().liveness_probes;
    assert!(probes >= 1, "an empty zero-timeout wait asked about peers");
    // Killed and reaped: its endpoint lock is gone, and nothing woke us.
    child.kill9();
    assert_eq!(
        set.wait(Some(Duration::ZERO)),
        vec![Ready {
            token: on_rx,
            readiness: Readiness::Disconnected
        }]
    );
    assert_eq!(set.stats().sleeps, 0, "a zero timeout never sleeps");
}

/// The calling thread's id, for [`is_asleep`] (Linux; 0 elsewhere).
fn thread_id() -> u32 {
    #[cfg(target_os = "linux")]
    {
        rustix::thread::gettid().as_raw_nonzero().get() as u32
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Whether thread `tid` of this process is asleep in the kernel (state
/// `S`). Linux only: elsewhere it says yes, and callers assert nothing that
/// depends on it.
fn is_asleep(tid: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which ends with the last ')'.
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|state| state == "S")
        })
        .unwrap_or(true)
}
