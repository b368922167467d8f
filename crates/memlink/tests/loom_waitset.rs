//! Model check (loom) of the [`WaitSet`] park protocol, on the real code:
//! `channel/bell.rs`'s `park_lines` (what `WaitSet::park` calls: announce
//! the doorbell on every line that allows it, count itself parked on the
//! others, fence, read the words, look once more, sleep, withdraw) against
//! the wakers' side that `Channel::wake_if_parked` runs after a `SeqCst`
//! publication (`park::wake_if_parked`, then `bell::ring_bells`, ringing
//! with `park::wake`), and `bell::clear`, with which a waker undoes the
//! announcement of a wait set found dead.
//!
//! What stays the driver's own: the sources (a tail per line, looked at
//! with `Acquire` as `Receiver::has_published` does), opening the doorbell
//! by name (the driver rings the one word it stands for), and the kernel:
//! `futex_waitv` (and `futex_wait` on the doorbell alone) checks every word
//! and goes to sleep atomically under the buckets' locks, which the model
//! does under one lock. Parking has no deadline in the model, so a lost
//! wake-up leaves the waiter blocked for ever and loom reports a deadlock.
//!
//! Checked: one waiter on two lines and one publisher, on either line,
//! with the doorbell on both lines, on one (the other parked on, as when
//! the channel's wakers cannot reach the doorbell), on neither (the
//! protocol without doorbells), and with the one slot of a line taken by
//! a dead wait set's announcement that the publisher clears meanwhile
//! (the counts must come out even).
//!
//! The async futures (`channel/future.rs`) arm with `park.rs`'s steps on
//! one line, checked by `tests/loom_ring.rs`. Events and peer watches in a
//! set need no model of their own: a set registers on an event by a CAS on
//! the event's state word and sleeps on the value it registered under, so
//! any `set` or `notify_*` after the registration changes the word the
//! kernel compares (`sync/event.rs`); departures bump their line's word
//! unconditionally.
//!
//! Mutations that loom must fail ([`loom_finds_the_modelled_bugs`]):
//! `bell_look_before_announce` (the last look before the announcements)
//! and `park_without_fence` (no fence between them and the look).
//!
//! Run with:
//! RUSTFLAGS="--cfg loom" cargo test --release -p memlink --test loom_waitset
//!
//! [`WaitSet`]: memlink::channel::WaitSet
#![cfg(loom)]

use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use memlink::channel::loom_hooks::{self as real, Futex, Line};

/// The doorbell's identity in the model.
const ID: u64 = 0x1234_0000_0001;
/// A dead wait set's identity.
const DEAD: u64 = 0x9999_0000_0001;
/// Slots per line in the model (the real line has 8: fewer states here).
const SLOTS: usize = 2;

/// The kernel: sleeping until any of several words changes, checked
/// atomically with going to sleep; waking every sleeper.
struct Kernel {
    lock: Mutex<()>,
    sleepers: Condvar,
}

impl Kernel {
    /// `sys::wait_on_any(words)` (or `sys::wait_on` for one), without a
    /// deadline.
    fn wait_any(&self, words: &[(&AtomicU32, u32)]) {
        let guard = self.lock.lock().unwrap();
        if words
            .iter()
            .any(|(w, seen)| w.load(Ordering::SeqCst) != *seen)
        {
            return;
        }
        drop(self.sleepers.wait(guard).unwrap());
    }
}

impl Futex<AtomicU32> for Kernel {
    fn wait_while(&self, word: &AtomicU32, value: u32, _until: Option<std::time::Instant>) {
        self.wait_any(&[(word, value)]);
    }
    fn wake_all(&self, _word: &AtomicU32) {
        let _guard = self.lock.lock().unwrap();
        self.sleepers.notify_all();
    }
}

/// One channel's wake line and its ring's tail.
struct Channel {
    tail: AtomicU64,
    parked: AtomicU32,
    futex: AtomicU32,
    belled: AtomicU32,
    bells: [AtomicU64; SLOTS],
    /// Whether its wakers can reach the doorbell (`Channel::doorbells`).
    doorbell: bool,
}

impl Channel {
    fn new(doorbell: bool) -> Channel {
        Channel {
            tail: AtomicU64::new(0),
            parked: AtomicU32::new(0),
            futex: AtomicU32::new(0),
            belled: AtomicU32::new(0),
            bells: [AtomicU64::new(0), AtomicU64::new(0)],
            doorbell,
        }
    }

    fn line(&self) -> Line<'_, AtomicU32, AtomicU64> {
        Line {
            parked: &self.parked,
            futex: &self.futex,
            belled: &self.belled,
            bells: &self.bells[..],
            doorbell: self.doorbell,
        }
    }
}

struct World {
    channels: [Channel; 2],
    /// The doorbell's word.
    bell: AtomicU32,
    kernel: Kernel,
}

impl World {
    fn new(doorbells: [bool; 2]) -> World {
        World {
            channels: [Channel::new(doorbells[0]), Channel::new(doorbells[1])],
            bell: AtomicU32::new(0),
            kernel: Kernel {
                lock: Mutex::new(()),
                sleepers: Condvar::new(),
            },
        }
    }

    /// `WaitSet::ready` over the receivers: `Receiver::has_published`.
    fn ready(&self) -> bool {
        self.channels
            .iter()
            .any(|c| c.tail.load(Ordering::Acquire) != 0)
    }

    /// `Sender::publish` on channel `i` (the `SeqCst` tail store), then
    /// `Channel::wake_if_parked`: the real `park::wake_if_parked` and
    /// `bell::ring_bells`, ringing our doorbell with the real `park::wake`
    /// and clearing a dead set's announcement with the real `bell::clear`
    /// (`doorbell::ring` found its owner gone).
    fn publish(&self, i: usize) {
        let c = &self.channels[i];
        c.tail.store(8, Ordering::SeqCst);
        real::wake_if_parked(&self.kernel, &c.parked, &c.futex);
        real::ring_bells(&c.belled, &c.bells, |slot, id| match id {
            ID => real::wake(&self.kernel, &self.bell),
            DEAD => {
                real::clear(&c.belled, &c.bells, slot, DEAD);
            }
            other => panic!("rang an identity nobody announced: {other:#x}"),
        });
    }

    /// `WaitSet::wait`'s loop around `WaitSet::park`, without deadlines
    /// or liveness slices (so a lost wake-up is a deadlock loom finds).
    fn wait(&self) {
        let lines: Vec<_> = self.channels.iter().map(Channel::line).collect();
        loop {
            if self.ready() {
                return;
            }
            let mut words = Vec::new();
            let found = real::park_lines(
                &lines,
                Some((&self.bell, ID)),
                &mut words,
                || self.ready().then_some(()),
                |words| self.kernel.wait_any(words),
            );
            if found.is_some() {
                return;
            }
        }
    }

    /// Every registration undone: no count or slot left behind.
    fn assert_withdrawn(&self) {
        for (i, c) in self.channels.iter().enumerate() {
            assert_eq!(c.parked.load(Ordering::SeqCst), 0, "parked left on {i}");
            assert_eq!(c.belled.load(Ordering::SeqCst), 0, "belled left on {i}");
            for slot in &c.bells {
                assert_eq!(slot.load(Ordering::SeqCst), 0, "a slot left on {i}");
            }
        }
    }
}

/// One waiter on two lines; one publisher on one of them (both choices).
fn model(doorbells: [bool; 2]) {
    for line in 0..2 {
        loom::model(move || {
            let world = Arc::new(World::new(doorbells));
            let publisher = {
                let world = Arc::clone(&world);
                thread::spawn(move || world.publish(line))
            };
            world.wait();
            publisher.join().unwrap();
            world.assert_withdrawn();
        });
    }
}

#[test]
fn a_set_asleep_on_its_doorbell_is_always_woken_by_either_line() {
    model([true, true]);
}

#[test]
fn a_set_on_its_doorbell_and_on_a_lines_word_is_always_woken() {
    model([true, false]);
}

#[test]
fn a_set_parked_on_every_lines_word_is_always_woken() {
    model([false, false]);
}

/// Line 0's only free slot... is not free: a dead set's announcement holds
/// slot 0 (counted in `belled`), so our set takes slot 1 while the
/// publisher clears the dead one; the counts come out even.
#[test]
fn a_dead_sets_announcement_is_cleared_while_a_live_set_announces() {
    for line in 0..2 {
        loom::model(move || {
            let world = Arc::new(World::new([true, true]));
            world.channels[0].bells[0].store(DEAD, Ordering::SeqCst);
            world.channels[0].belled.store(1, Ordering::SeqCst);
            let publisher = {
                let world = Arc::clone(&world);
                thread::spawn(move || world.publish(line))
            };
            world.wait();
            publisher.join().unwrap();
            if line == 1 {
                // Nobody published on line 0: the dead announcement stays.
                let c = &world.channels[0];
                assert_eq!(c.bells[0].load(Ordering::SeqCst), DEAD);
                assert_eq!(c.belled.load(Ordering::SeqCst), 1);
                c.bells[0].store(0, Ordering::SeqCst);
                c.belled.store(0, Ordering::SeqCst);
            }
            world.assert_withdrawn();
        });
    }
}

/// Runs the checks with each mutation of the real code in a child process
/// (loom aborts on a deadlock) and requires loom to fail them.
#[test]
fn loom_finds_the_modelled_bugs() {
    let cases = [
        // The last look taken before the announcements: a publication in
        // between is missed by the look and finds nobody to ring.
        (
            "a_set_asleep_on_its_doorbell_is_always_woken_by_either_line",
            "bell_look_before_announce",
        ),
        // No fence between the announcements and the last look (an
        // `Acquire` load, outside the `SeqCst` order): store buffering
        // lets the look and the wakers' slot loads miss each other.
        (
            "a_set_asleep_on_its_doorbell_is_always_woken_by_either_line",
            "park_without_fence",
        ),
        (
            "a_set_parked_on_every_lines_word_is_always_woken",
            "park_without_fence",
        ),
    ];
    for (test, mutation) in cases {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env("MEMLINK_MUTATION", mutation)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        let what = format!("{test} with {mutation}");
        assert!(!output.status.success(), "loom passed {what}:\n{text}");
        assert!(
            text.contains("deadlock"),
            "loom failed {what}, but not with a deadlock:\n{text}"
        );
        eprintln!("{what}: loom reports a deadlock, as it should");
    }
}
