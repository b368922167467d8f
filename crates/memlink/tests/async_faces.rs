//! The async faces with real processes: `recv_async` / `send_async` under
//! tokio against an echoing child, a `kill -9` of a sender ending a pending
//! receive, cancelled receives that lose no message of a streaming child,
//! and `NamedEvent::wait_async` and `recv_async` under pollster (an
//! executor with no reactor of its own), which shows the futures need no
//! particular runtime.
#![cfg(not(loom))]

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Receiver, Sender};
use memlink::{Error, EventKind, NamedEvent};
use support::{role, unique_name, Child, Cleanup, DEADLINE};

fn options() -> ChannelOptions {
    let mut o = ChannelOptions::new();
    o.capacity(4096).max_message(256);
    o
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

fn play(role: &str, arg: &str) {
    match role {
        // `arg` is "IN,OUT": echoes every message from IN to OUT until an
        // empty one. On "hold" (not echoed) it says "holding" and reads
        // nothing more until the parent says "go".
        "echo" => {
            let (input, output) = arg.split_once(',').unwrap();
            let mut rx = Receiver::open(input).unwrap();
            let mut tx = Sender::open(output).unwrap();
            support::tell_parent("attached");
            loop {
                let message = rx.recv_timeout_vec();
                if message.is_empty() {
                    break;
                }
                if message == b"hold" {
                    support::tell_parent("holding");
                    assert_eq!(support::wait_for_parent(), "go");
                    continue;
                }
                tx.send(&message).unwrap();
            }
        }
        "hold-sender" => support::roles::hold_sender(arg),
        // Sends 2000 numbered messages in bursts of ten, a short pause
        // (pacing, not synchronisation) after each burst, so that the
        // receiver often finds the ring empty.
        "stream" => {
            let mut tx = Sender::open(arg).unwrap();
            support::tell_parent("attached");
            for i in 0..2000u32 {
                tx.send_timeout(&i.to_le_bytes(), DEADLINE).unwrap();
                if i % 10 == 9 {
                    let resume = Instant::now() + Duration::from_micros(300);
                    while Instant::now() < resume {
                        std::hint::spin_loop();
                    }
                }
            }
            support::tell_parent("sent");
            support::wait_for_parent();
        }
        "send-when-told" => support::roles::send_when_told(arg, b"late"),
        "set-when-told" => support::roles::set_when_told(arg),
        other => panic!("unknown role {other}"),
    }
}

trait RecvVec {
    fn recv_timeout_vec(&mut self) -> Vec<u8>;
}

impl RecvVec for Receiver {
    fn recv_timeout_vec(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.recv_timeout(&mut buf, DEADLINE).unwrap();
        buf
    }
}

#[test]
fn tokio_sends_to_and_receives_from_an_echoing_process() {
    const TEST: &str = "tokio_sends_to_and_receives_from_an_echoing_process";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let (there, back) = (unique_name("async-there"), unique_name("async-back"));
    let _c = (Cleanup(there.clone()), Cleanup(back.clone()));
    let mut tx = options().create_sender(&there).unwrap();
    let mut rx = options().create_receiver(&back).unwrap();
    let mut child = Child::spawn(TEST, "echo", &format!("{there},{back}"));
    child.expect("attached");
    runtime().block_on(async {
        for i in 0..200u32 {
            let message = i.to_le_bytes().repeat(1 + (i as usize % 50));
            tx.send_async(&message).await.unwrap();
            // Mostly pending at first: the echo comes from another process.
            let echoed = tokio::time::timeout(DEADLINE, rx.recv_async())
                .await
                .expect("the echo came")
                .unwrap();
            assert_eq!(echoed, message);
        }
        // A full ring: `send_async` waits until the child reads. The child
        // holds still while the ring fills (were it echoing meanwhile, its
        // echoes could fill "back", which is read only afterwards, and
        // both sides would wait on each other).
        tx.send_async(b"hold").await.unwrap();
        child.expect("holding");
        let big = [9u8; 256];
        let mut sent = 0;
        while tx.try_send(&big).is_ok() {
            sent += 1;
        }
        let room = tx.send_async(&big);
        tokio::pin!(room);
        tokio::select! {
            biased;
            _ = &mut room => panic!("room in a full ring that nobody reads"),
            _ = std::future::ready(()) => {}
        }
        child.send("go");
        tokio::time::timeout(DEADLINE, room)
            .await
            .expect("room came")
            .unwrap();
        for _ in 0..=sent {
            let echoed = tokio::time::timeout(DEADLINE, rx.recv_async())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(echoed, big);
        }
        tx.send_async(&[]).await.unwrap();
    });
    child.finish();
}

#[test]
fn a_pending_recv_async_ends_when_the_sender_is_killed() {
    const TEST: &str = "a_pending_recv_async_ends_when_the_sender_is_killed";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let name = unique_name("async-kill");
    let _c = Cleanup(name.clone());
    let mut rx = options().create_receiver(&name).unwrap();
    let child = {
        let mut child = Child::spawn(TEST, "hold-sender", &name);
        child.expect("attached");
        child
    };
    rx.wait_for_sender(DEADLINE).unwrap();
    let rt = runtime();
    let (result, seen_after) = rt.block_on(async move {
        let pending = tokio::spawn(async move {
            let result = tokio::time::timeout(DEADLINE, rx.recv_async()).await;
            (result, Instant::now())
        });
        // The kill lands whether or not the task has polled yet: either
        // way its receive must end with Disconnected.
        tokio::task::yield_now().await;
        let killing = Instant::now();
        child.kill9();
        let (result, ended) = pending.await.unwrap();
        (result, ended.saturating_duration_since(killing))
    });
    eprintln!("the kill -9 ended the pending receive after {seen_after:?}");
    assert!(
        matches!(result, Ok(Err(Error::Disconnected { .. }))),
        "{result:?}"
    );
}

#[test]
fn cancelled_receives_lose_no_message() {
    const TEST: &str = "cancelled_receives_lose_no_message";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let name = unique_name("async-cancel");
    let _c = Cleanup(name.clone());
    // A small ring: the child blocks often, so receives are often pending.
    let mut o = options();
    o.capacity(256).max_message(16);
    let mut rx = o.create_receiver(&name).unwrap();
    let mut child = Child::spawn(TEST, "stream", &name);
    child.expect("attached");
    let cancelled = runtime().block_on(async {
        let mut cancelled = 0u32;
        let mut next = 0u32;
        let give_up = Instant::now() + DEADLINE;
        while next < 2000 {
            assert!(Instant::now() < give_up, "stuck at message {next}");
            // Race each receive against a timer that is due at once or
            // soon: the receive is polled first, and when it is pending the
            // timer's win drops it, armed with the reactor.
            let timer = tokio::time::sleep(Duration::from_micros(u64::from(next % 2) * 50));
            tokio::select! {
                biased;
                got = rx.recv_async() => {
                    let got = got.unwrap();
                    assert_eq!(got, next.to_le_bytes(), "message {next}");
                    next += 1;
                }
                () = timer => cancelled += 1,
            }
        }
        cancelled
    });
    eprintln!("2000 messages in order through {cancelled} cancelled receives");
    assert!(
        cancelled > 0,
        "no receive was cancelled: the test tested nothing"
    );
    child.expect("sent");
    child.finish();
}

/// A waker that counts its wake-ups, for polling by hand.
struct Counting(AtomicUsize, std::thread::Thread);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.unpark();
    }
}

#[test]
fn pollster_waits_on_an_event_and_a_channel_of_other_processes() {
    const TEST: &str = "pollster_waits_on_an_event_and_a_channel_of_other_processes";
    if let Some((r, arg)) = role() {
        return play(&r, &arg);
    }
    let event_name = unique_name("async-event");
    let channel = unique_name("async-late");
    let _c = (Cleanup(event_name.clone()), Cleanup(channel.clone()));
    let event = NamedEvent::create(&event_name, EventKind::AutoReset).unwrap();
    let mut setter = Child::spawn(TEST, "set-when-told", &event_name);
    setter.expect("opened");

    // By hand first: pending, woken exactly by the set in the child.
    let counting = Arc::new(Counting(AtomicUsize::new(0), std::thread::current()));
    let waker = Waker::from(counting.clone());
    let mut cx = Context::from_waker(&waker);
    {
        let mut wait = pin!(event.wait_async());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(wait.as_mut().poll(&mut cx).is_pending(), "still not set");
        assert_eq!(counting.0.load(Ordering::SeqCst), 0, "no wake-up yet");
        setter.send("go");
        let deadline = Instant::now() + DEADLINE;
        while counting.0.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "never woken");
            std::thread::park_timeout(Duration::from_millis(100));
        }
        assert!(matches!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    }
    assert!(!event.is_set(), "the wait took the auto-reset signal");
    assert_eq!(event.waiters(), 0);

    // A dropped pending wait takes nothing.
    {
        let mut wait = pin!(event.wait_async());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert_eq!(event.waiters(), 1);
    }
    assert_eq!(event.waiters(), 0, "dropping unregistered it");
    event.set();
    pollster::block_on(event.wait_async()).unwrap();
    assert!(!event.is_set());
    setter.finish();

    // A channel under pollster: a receive that waits for another process.
    let mut rx = options().create_receiver(&channel).unwrap();
    let mut sender = Child::spawn(TEST, "send-when-told", &channel);
    sender.expect("attached");
    let got = std::thread::scope(|scope| {
        let receiving = scope.spawn(|| pollster::block_on(rx.recv_async()));
        sender.send("go");
        receiving.join().unwrap()
    });
    assert_eq!(got.unwrap(), b"late");
    sender.finish();
}
